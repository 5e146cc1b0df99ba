//! `queue-write` on writer threads: `process` writes one file per event, and creating a file
//! costs the kernel more than the component spends reading the event, so files are written
//! while the component reads on, by two writers (file creation in one directory scales to
//! about two threads here). A path always goes to the same writer, so writes to one path
//! keep their order. Memory is bounded (a caller waits while more than
//! [`MAX_QUEUED_BYTES`] are queued for a writer). A failed write stops the stream at its
//! event, as it stops upstream: writes queued after it are dropped, the files another
//! writer had already created for later events are removed at the flush, and the earliest
//! failure is reported. (A later event's file that replaced an existing one stays: the old
//! content is gone either way.)

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::bindings::runnerwire::codec::fast_writes::WriteFailure;
use super::host_fs::Grants;

/// Bytes of file content queued for one writer at most.
const MAX_QUEUED_BYTES: usize = 4 << 20;
/// An idle writer is woken once this many jobs wait for it (or at a flush): a wake-up is
/// a syscall and a context switch, too dear to pay per event file.
const WAKE_AT_JOBS: usize = 16;
/// Writer threads.
const WRITERS: usize = 2;

struct Job {
    path: String,
    data: Vec<u8>,
    mode: u32,
    tag: u64,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    queued_bytes: usize,
    /// The tag of the job the writer took off the queue and is writing.
    writing: Option<u64>,
    /// The writer sleeps until `work` is signalled.
    writer_idle: bool,
    /// The caller sleeps until `done` is signalled.
    caller_waiting: bool,
    closing: bool,
    /// Files this writer created since the last flush, by tag: undone past a failure.
    created: Vec<(u64, String)>,
}

/// One writer's queue.
#[derive(Default)]
struct Lane {
    state: Mutex<State>,
    /// Jobs arrived, or closing.
    work: Condvar,
    /// A job is done.
    done: Condvar,
}

/// What all writers share: the earliest failure and where the stream stops.
struct Outcome {
    /// The failure with the lowest tag so far, and whether the caller has had it.
    failure: Mutex<Option<(WriteFailure, bool)>>,
    /// Jobs tagged after this are not written (u64::MAX: no failure yet).
    stop_after: AtomicU64,
}

fn relock<'a>(result: Result<MutexGuard<'a, State>, std::sync::PoisonError<MutexGuard<'a, State>>>) -> MutexGuard<'a, State> {
    // The locks guard plain data; a panicked holder leaves it consistent.
    result.unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Lane {
    fn lock(&self) -> MutexGuard<'_, State> {
        relock(self.state.lock())
    }

    fn wake_writer(&self, state: &mut State) {
        state.writer_idle = false;
        self.work.notify_one();
    }

    /// The caller's wait for the writer to make progress (woken first if it sleeps).
    fn wait_for_writer<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        if state.writer_idle {
            self.wake_writer(&mut state);
        }
        state.caller_waiting = true;
        let mut state = relock(self.done.wait(state));
        state.caller_waiting = false;
        state
    }
}

/// The queue; the writer threads start with the first write.
pub struct WriteQueue {
    grants: Arc<Grants>,
    lanes: Vec<Arc<Lane>>,
    outcome: Arc<Outcome>,
    writers: Vec<JoinHandle<()>>,
}

impl WriteQueue {
    pub fn new(grants: Arc<Grants>) -> Self {
        WriteQueue {
            grants,
            lanes: (0..WRITERS).map(|_| Arc::default()).collect(),
            outcome: Arc::new(Outcome { failure: Mutex::new(None), stop_after: AtomicU64::new(u64::MAX) }),
            writers: Vec::new(),
        }
    }

    /// Queues a write; the error is an earlier write's, reported once.
    pub fn push(&mut self, path: String, data: Vec<u8>, mode: u32, tag: u64) -> Result<(), WriteFailure> {
        self.start_writers();
        self.take_failure()?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        path.hash(&mut hasher);
        let lane = &self.lanes[hasher.finish() as usize % self.lanes.len()];
        let mut state = lane.lock();
        while state.queued_bytes + data.len() > MAX_QUEUED_BYTES && !state.jobs.is_empty() {
            state = lane.wait_for_writer(state);
        }
        state.queued_bytes += data.len();
        state.jobs.push_back(Job { path, data, mode, tag });
        if state.writer_idle && state.jobs.len() >= WAKE_AT_JOBS {
            lane.wake_writer(&mut state);
        }
        Ok(())
    }

    /// Waits until no write tagged below `before` (none at all, when `None`) is queued or
    /// being written; the failure not yet reported.
    pub fn flush(&mut self, before: Option<u64>) -> Result<(), WriteFailure> {
        let limit = before.unwrap_or(u64::MAX);
        // Lanes run in tag order, so the writes below the limit are the front of each.
        let pending = |state: &State| state.writing.is_some_and(|t| t < limit) || state.jobs.front().is_some_and(|j| j.tag < limit);
        for lane in &self.lanes {
            let mut state = lane.lock();
            while pending(&state) {
                state = lane.wait_for_writer(state);
            }
        }
        // Only now is the earliest failure below the limit known: any writer may have had it.
        let stop_after = self.outcome.stop_after.load(Ordering::Acquire);
        for lane in &self.lanes {
            let created = std::mem::take(&mut lane.lock().created);
            let (past_failure, kept): (Vec<_>, Vec<_>) = created.into_iter().partition(|(tag, _)| *tag > stop_after);
            if before.is_none() {
                for (_, path) in past_failure {
                    let _ = self.grants.remove_file(&path);
                }
            } else {
                // Files below the limit with no failure before them stay for good; the rest
                // wait for the flush that settles them.
                let mut still_open: Vec<_> = kept.into_iter().filter(|(tag, _)| *tag >= limit).collect();
                still_open.extend(past_failure);
                lane.lock().created.extend(still_open);
            }
        }
        self.take_failure()
    }

    /// The earliest failure, if the caller has not had it yet.
    fn take_failure(&self) -> Result<(), WriteFailure> {
        let mut failure = self.outcome.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match failure.as_mut() {
            Some((first, reported @ false)) => {
                *reported = true;
                Err(first.clone())
            }
            _ => Ok(()),
        }
    }

    fn start_writers(&mut self) {
        if !self.writers.is_empty() {
            return;
        }
        for lane in &self.lanes {
            let (grants, lane, outcome) = (self.grants.clone(), lane.clone(), self.outcome.clone());
            self.writers.push(std::thread::spawn(move || write_jobs(&grants, &lane, &outcome)));
        }
    }
}

impl Drop for WriteQueue {
    /// What was queued before the component stopped (a trap included) is still written.
    fn drop(&mut self) {
        for lane in &self.lanes {
            let mut state = lane.lock();
            state.closing = true;
            lane.wake_writer(&mut state);
        }
        for writer in self.writers.drain(..) {
            let _ = writer.join();
        }
    }
}

fn write_jobs(grants: &Grants, lane: &Lane, outcome: &Outcome) {
    let mut state = lane.lock();
    loop {
        let Some(job) = state.jobs.pop_front() else {
            if state.closing {
                return;
            }
            state.writer_idle = true;
            while state.writer_idle && !state.closing {
                state = relock(lane.work.wait(state));
            }
            continue;
        };
        state.writing = Some(job.tag);
        drop(state);
        // After a failure the stream has stopped: later events get no file.
        let result = if job.tag > outcome.stop_after.load(Ordering::Acquire) { Ok(false) } else { grants.write_file(&job.path, &job.data, job.mode) };
        state = lane.lock();
        match result {
            Ok(true) => state.created.push((job.tag, job.path)),
            Ok(false) => {}
            Err(message) => record_failure(outcome, WriteFailure { path: job.path, tag: job.tag, message }),
        }
        state.writing = None;
        state.queued_bytes -= job.data.len();
        if state.caller_waiting {
            lane.done.notify_one();
        }
    }
}

/// Keeps the earliest failure: another writer may fail later on an earlier event.
fn record_failure(outcome: &Outcome, failure: WriteFailure) {
    outcome.stop_after.fetch_min(failure.tag, Ordering::AcqRel);
    let mut first = outcome.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if first.as_ref().is_none_or(|(known, _)| failure.tag < known.tag) {
        *first = Some((failure, false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::host_fs::Grant;

    fn queue_on(dir: &std::path::Path) -> WriteQueue {
        let mut grants = Grants::default();
        grants.add(&Grant { host_path: dir.to_path_buf(), guest_path: "/artifacts", writable: true }).unwrap();
        WriteQueue::new(Arc::new(grants))
    }

    /// Writes to one path land in the order queued, whichever writer takes them, and a
    /// flush returns only when every file is there.
    #[test]
    fn writes_to_one_path_keep_their_order_and_flush_waits_for_all() {
        let tmp = tempfile::tempdir().unwrap();
        let mut queue = queue_on(tmp.path());
        for i in 0..2000u64 {
            queue.push(format!("/artifacts/f{}", i % 7), format!("{i}").into_bytes(), 0o600, i).unwrap();
        }
        queue.flush(None).unwrap();
        for k in 0..7 {
            let last = (0..2000).filter(|i| i % 7 == k).max().unwrap();
            assert_eq!(std::fs::read_to_string(tmp.path().join(format!("f{k}"))).unwrap(), last.to_string());
        }
    }

    /// A flush below a tag returns once every write below it is done, while later ones
    /// may still be going on; a full flush then finishes them.
    #[test]
    fn a_flush_below_a_tag_waits_for_the_writes_before_it() {
        let tmp = tempfile::tempdir().unwrap();
        let mut queue = queue_on(tmp.path());
        for i in 0..1000u64 {
            queue.push(format!("/artifacts/f{i}"), vec![b'x'; 4096], 0o600, i).unwrap();
        }
        queue.flush(Some(500)).unwrap();
        assert!((0..500).all(|i| tmp.path().join(format!("f{i}")).exists()));
        queue.flush(None).unwrap();
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1000);
    }

    /// After a failed write, files queued later are not left behind and the failure is
    /// reported once, with the tag it was queued with.
    #[test]
    fn a_failure_stops_the_writes_tagged_after_it() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("f500")).unwrap();
        let mut queue = queue_on(tmp.path());
        let mut reported = Vec::new();
        for i in 0..1000u64 {
            if let Err(failure) = queue.push(format!("/artifacts/f{i}"), b"x".to_vec(), 0o600, i) {
                reported.push(failure);
            }
        }
        if let Err(failure) = queue.flush(None) {
            reported.push(failure);
        }
        assert_eq!(reported.len(), 1, "{reported:?}");
        assert_eq!((reported[0].tag, reported[0].path.as_str()), (500, "/artifacts/f500"));
        let mut left: Vec<u64> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy()[1..].parse().unwrap()).collect();
        left.sort();
        assert_eq!(left, (0..=500).collect::<Vec<_>>());
        assert!(queue.flush(None).is_ok(), "reported once");
    }
}
