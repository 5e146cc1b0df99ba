//! The `process` stage: a result stream in, upstream's artifact tree out.
//!
//! Per frame, as upstream's Processor: a status line sets the status; an event with a truthy
//! `counter` and `uuid` has its `stdout` printed and is written to
//! `job_events/<counter>-<uuid>.json` (mode 0600) exactly as Python's `json.dump` writes it;
//! keepalives and events without counter/uuid are dropped; a `zipfile` is spooled to scratch
//! and unpacked into the artifact dir; `eof` ends the stream. A resuming processor (see
//! [`crate::stages::resume`]) neither writes nor prints the events a broken run already wrote.

use std::collections::VecDeque;

use crate::wire::decoder::{Decoder, Frame, LineKind, RawEvent};
use crate::wire::diagnose;
use crate::error::{EntryError, ErrorKind, Problem, StreamError};
use crate::fsys::{HostFs, WriteFailure};
use crate::limits::Limits;
use crate::paths;
use crate::pyjson::{self, Value};
use crate::stages::resume::{Resume, Verdict};
use crate::archive::spool::Spool;

/// Where a processor writes; both are paths in the granted namespace.
#[derive(Clone, Debug)]
pub struct ProcessDirs {
    /// The artifact directory (created by the host; `job_events/` is made here).
    pub artifact_dir: String,
    /// A private directory for spooling archives.
    pub scratch_dir: String,
}

/// How a complete stream ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The last status line's `status`, as Python's `str()` prints it.
    pub status: Option<String>,
    /// The job's return code, from the artifacts' `rc` file.
    pub rc: Option<i32>,
    pub events_written: u64,
}

/// What one step of the stream did (see [`Processor::next_step`]).
#[derive(Debug)]
pub enum Step {
    /// A status line, re-encoded as Python's `json.dumps` writes it.
    Status(Vec<u8>),
    /// An event upstream would write; not written yet.
    Event(PendingEvent),
    /// An archive was unpacked into the artifact dir.
    Artifacts,
}

/// An event's file, waiting for the host's decision.
#[derive(Debug)]
pub struct PendingEvent {
    /// Where it goes: `<artifact dir>/job_events/<counter>-<uuid>.json`.
    pub path: String,
    /// Its content, as Python's `json.dump` writes it.
    pub json: Vec<u8>,
    /// Its `stdout` and a newline, as `process` prints it (none when quiet or absent).
    pub printed: Option<String>,
    /// Where its line starts in the stream.
    pub offset: u64,
    /// Its stream line (1-based).
    pub line: u64,
}

pub struct Processor<F: HostFs> {
    fs: F,
    dirs: ProcessDirs,
    limits: Limits,
    quiet: bool,
    decoder: Decoder,
    /// The archive being received, and the unpacked bytes of earlier ones.
    spool: Spool,
    status: Option<String>,
    rc: Option<i32>,
    events_written: u64,
    error: Option<StreamError>,
    /// Text of events whose files may not be written yet.
    unsettled: Unsettled,
    /// Set when resuming a broken run: what `job_events/` held at the start.
    resume: Option<Resume>,
    /// The last event's positive integer counter: counters go 1, 2, 3...
    last_counter: Option<u64>,
    /// (offset, line) of the events whose files may still be being written, to place a
    /// failed write on its line.
    in_flight: VecDeque<(u64, u64)>,
}

/// Printed text of events, and where each event's text ends in it.
#[derive(Debug, Default)]
struct Unsettled {
    text: Vec<u8>,
    /// (the event's stream offset, the text's length once its text is in)
    ends: Vec<(u64, usize)>,
}

impl Unsettled {
    fn push(&mut self, offset: u64, text: &[u8]) {
        self.text.extend_from_slice(text);
        self.ends.push((offset, self.text.len()));
    }

    fn append(&mut self, later: Unsettled) {
        let base = self.text.len();
        self.text.extend_from_slice(&later.text);
        self.ends.extend(later.ends.into_iter().map(|(offset, end)| (offset, base + end)));
    }

    /// The text up to and including the last event at or before `offset`.
    fn through(&self, offset: u64) -> &[u8] {
        let end = self.ends.iter().take_while(|(at, _)| *at <= offset).last().map_or(0, |&(_, end)| end);
        &self.text[..end]
    }
}

impl<F: HostFs> Processor<F> {
    /// Prepares `job_events/` (0700) like upstream does before reading anything.
    pub fn new(fs: F, dirs: ProcessDirs, limits: Limits, quiet: bool) -> Result<Self, StreamError> {
        let events_dir = format!("{}/job_events", dirs.artifact_dir);
        let at_start = |e: EntryError| e.at(0);
        match fs.lstat(&events_dir).map_err(|e| at_start(EntryError::io("cannot stat", &events_dir, e)))? {
            Some(m) if m.is_dir() => {}
            Some(_) => {
                return Err(StreamError::new(ErrorKind::Unsafe, 0, format!("{events_dir:?} exists and is not a directory")));
            }
            None => {
                std::fs::create_dir(&events_dir).map_err(|e| at_start(EntryError::io("cannot create", &events_dir, e)))?;
                fs.set_mode(&events_dir, 0o700).map_err(|e| at_start(EntryError::io("cannot set mode of", &events_dir, e)))?;
            }
        }
        let spool = Spool::new(format!("{}/archive.zip", dirs.scratch_dir));
        Ok(Processor {
            fs,
            dirs,
            limits,
            quiet,
            decoder: Decoder::with_raw_events(limits),
            spool,
            status: None,
            rc: None,
            events_written: 0,
            error: None,
            unsettled: Unsettled::default(),
            resume: None,
            last_counter: None,
            in_flight: VecDeque::new(),
        })
    }

    /// Makes this a resumed run: the events whose files are already in `job_events/` (from
    /// a run that broke part way) are checked against the stream, not written or printed
    /// again; files of another stream are refused (see [`crate::stages::resume`]).
    pub fn resuming(mut self) -> Result<Self, StreamError> {
        let events_dir = format!("{}/job_events", self.dirs.artifact_dir);
        self.resume = Some(Resume::snapshot(&events_dir).map_err(|e| e.at(0))?);
        Ok(self)
    }

    /// Feeds stream bytes; event `stdout` text to print is appended to `stdout`. An event's
    /// text is handed out once its file is written, so it may come with a later call (at
    /// the latest with `finish`); every event printed has its file.
    pub fn feed(&mut self, bytes: &[u8], stdout: &mut Vec<u8>) -> Result<(), StreamError> {
        self.push(bytes);
        self.drain_and_settle(stdout, false)
    }

    /// True once the `eof` frame has been read; later input is ignored.
    pub fn complete(&self) -> bool {
        self.decoder.saw_eof()
    }

    /// Ends the input: the stream must have been complete.
    pub fn finish(&mut self, stdout: &mut Vec<u8>) -> Result<Outcome, StreamError> {
        self.end_input();
        self.drain_and_settle(stdout, true)?;
        Ok(self.outcome())
    }

    /// Buffers stream bytes for [`Processor::next_step`].
    pub fn push(&mut self, bytes: &[u8]) {
        self.decoder.push(bytes);
    }

    /// Marks the end of input for [`Processor::next_step`].
    pub fn end_input(&mut self) {
        self.decoder.finish();
    }

    pub fn outcome(&self) -> Outcome {
        Outcome { status: self.status.clone(), rc: self.rc, events_written: self.events_written }
    }

    /// The next thing the stream did, for hosts that act per frame (upstream's Processor
    /// handlers): none means "push more" (or, after `end_input`, the stream is complete).
    /// An event's file is written only when the host passes it to [`Processor::queue_event`].
    pub fn next_step(&mut self) -> Result<Option<Step>, StreamError> {
        self.sticky(|p| p.step())
    }

    /// Queues the file of an event that [`Processor::next_step`] returned (the host may
    /// write it while the next steps are read); [`Processor::settle_writes`] waits for it.
    /// A failed write is reported by a later call, at its event's offset.
    pub fn queue_event(&mut self, event: &PendingEvent) -> Result<(), StreamError> {
        self.sticky(|p| {
            // A host that writes later holds at most a few MiB of files; one that is asked
            // to settle only at the end (the stepper) must not make this grow with the stream.
            if p.in_flight.len() == MAX_IN_FLIGHT {
                p.in_flight.pop_front();
            }
            p.in_flight.push_back((event.offset, event.line));
            p.fs.queue_write(&event.path, &event.json, 0o600, event.offset).map_err(|f| p.write_failed(f))?;
            p.events_written += 1;
            Ok(())
        })
    }

    /// Waits for every queued event file: the first failure, if any, fails the stream.
    pub fn settle_writes(&mut self) -> Result<(), StreamError> {
        self.sticky(|p| p.flush(None))
    }

    /// Waits for the queued writes tagged below `before` (all when none); a failed one is
    /// an error at its event.
    fn flush(&mut self, before: Option<u64>) -> Result<(), StreamError> {
        self.fs.flush_writes(before).map_err(|f| self.write_failed(f))?;
        match before {
            Some(before) => {
                while self.in_flight.front().is_some_and(|&(offset, _)| offset < before) {
                    self.in_flight.pop_front();
                }
            }
            None => self.in_flight.clear(),
        }
        Ok(())
    }

    /// A failed event write, at the event whose file it was.
    fn write_failed(&self, failure: WriteFailure) -> StreamError {
        let error = EntryError::new(ErrorKind::Io, format!("cannot write {:?}: {}", failure.path, failure.message)).at(failure.tag);
        let at = self.in_flight.partition_point(|&(offset, _)| offset < failure.tag);
        match self.in_flight.get(at) {
            Some(&(offset, line)) if offset == failure.tag => error.on_line(line),
            _ => error,
        }
    }

    /// Waits for the queued event files of a stream that already failed (nothing is
    /// left being written when the host reports the failure).
    pub fn abandon_writes(&mut self) {
        let _ = self.fs.flush_writes(None);
    }

    fn sticky<T>(&mut self, work: impl FnOnce(&mut Self) -> Result<T, StreamError>) -> Result<T, StreamError> {
        if let Some(err) = &self.error {
            return Err(err.clone());
        }
        let result = work(self);
        if let Err(err) = &result {
            self.error = Some(err.clone());
            self.drop_spool();
        }
        result
    }

    /// Steps through what is buffered, queueing the event files, then waits for the files of
    /// the previous call's events (of all events when `all`): the host writes this call's
    /// while the next input is read, and their text waits in `self.unsettled` meanwhile. On
    /// an error, `stdout` ends with the text of the last event upstream would have printed:
    /// a failed write stops the stream at its event, as it stops upstream, even when it is
    /// reported some events later.
    fn drain_and_settle(&mut self, stdout: &mut Vec<u8>, all: bool) -> Result<(), StreamError> {
        let batch_start = self.decoder.position();
        let mut batch = Unsettled::default();
        let drained = self.drain(&mut batch);
        let before = if all || drained.is_err() { None } else { Some(batch_start) };
        let mut flushed = self.flush(before);
        if flushed.is_err() && before.is_some() {
            // Stopping here: every queued write must be over (and undone past the failure).
            if let Err(earlier) = self.flush(None) {
                flushed = flushed.map_err(|later| std::cmp::min_by_key(earlier, later, |e| e.offset));
            }
        }
        let previous = std::mem::replace(&mut self.unsettled, batch);
        let error = match (drained, flushed) {
            (Ok(()), Ok(())) => {
                stdout.extend_from_slice(&previous.text);
                if all {
                    stdout.extend_from_slice(&std::mem::take(&mut self.unsettled).text);
                }
                return Ok(());
            }
            // The earlier of the two is where upstream would have stopped.
            (Err(drained), Err(flushed)) => std::cmp::min_by_key(flushed, drained, |e| e.offset),
            (Err(error), Ok(())) | (Ok(()), Err(error)) => error,
        };
        let mut text = previous;
        text.append(std::mem::take(&mut self.unsettled));
        stdout.extend_from_slice(text.through(error.offset));
        self.error = Some(error.clone());
        self.drop_spool();
        Err(error)
    }

    /// Queues the file of each event; its text goes to `batch`.
    fn drain(&mut self, batch: &mut Unsettled) -> Result<(), StreamError> {
        while let Some(step) = self.next_step()? {
            if let Step::Event(event) = step {
                batch.push(event.offset, event.printed.as_deref().unwrap_or("").as_bytes());
                self.queue_event(&event)?;
            }
        }
        Ok(())
    }

    /// The next step; an error is placed on the line of the frame it was found in.
    fn step(&mut self) -> Result<Option<Step>, StreamError> {
        self.frame_step().map_err(|e| e.on_line(self.decoder.frame_line()))
    }

    fn frame_step(&mut self) -> Result<Option<Step>, StreamError> {
        while let Some(frame) = self.decoder.next()? {
            match frame {
                Frame::Line { kind: LineKind::Status, value, .. } => {
                    self.status = value.get("status").map(pyjson::python_str);
                    let mut json = Vec::with_capacity(256);
                    pyjson::encode(&value, &mut json);
                    return Ok(Some(Step::Status(json)));
                }
                Frame::Line { kind: LineKind::Event, value, offset } => {
                    if let Some(event) = self.event(&value, offset)? {
                        return Ok(Some(Step::Event(event)));
                    }
                }
                Frame::RawEvent(raw) => {
                    if let Some(event) = self.raw_event(raw)? {
                        return Ok(Some(Step::Event(event)));
                    }
                }
                Frame::Line { kind: LineKind::Eof, offset, .. } => {
                    if let Some(resume) = &self.resume {
                        resume.check_leftovers().map_err(|e| e.at(offset))?;
                    }
                }
                Frame::Line { .. } => {} // keepalive
                Frame::ArchiveStart { offset, .. } => self.spool.start(offset)?,
                Frame::ArchiveData(data) => self.spool.write(&data)?,
                Frame::ArchiveEnd { .. } => {
                    // The archive may hold files where events went: queued writes first.
                    self.flush(None)?;
                    self.unpack_spool()?;
                    return Ok(Some(Step::Artifacts));
                }
            }
        }
        Ok(None)
    }

    /// An event upstream would write: its file name, JSON and printed text.
    fn event(&mut self, event: &Value, offset: u64) -> Result<Option<PendingEvent>, StreamError> {
        let mut json = Vec::with_capacity(1024);
        pyjson::encode(event, &mut json);
        self.pending(event.get("counter"), event.get("uuid"), event.get("stdout"), json, offset)
    }

    /// The same for a line already in canonical form: only the three members it needs are
    /// parsed, and the line itself is the file's content.
    fn raw_event(&mut self, raw: RawEvent) -> Result<Option<PendingEvent>, StreamError> {
        let member = |range: &Option<std::ops::Range<usize>>| -> Result<Option<Value>, StreamError> {
            let Some(range) = range else { return Ok(None) };
            pyjson::parse(&raw.json[range.clone()], self.limits.max_json_depth as usize)
                .map(Some)
                .map_err(|e| StreamError::problem(Problem::BadJson, raw.offset, format!("invalid JSON line: {}", e.message)))
        };
        let (counter, uuid, stdout) = (member(&raw.counter)?, member(&raw.uuid)?, member(&raw.stdout)?);
        self.pending(counter.as_ref(), uuid.as_ref(), stdout.as_ref(), raw.json, raw.offset)
    }

    /// Upstream's rule: only an event with a truthy `counter` and `uuid` gets a file. A
    /// resumed run also passes over the events whose files are already complete. Counters
    /// must go 1, 2, 3...: a repeat (a worker restarted mid-stream) or a gap (lost lines)
    /// is refused where `validate` names it, before anything of the event is written.
    fn pending(&mut self, counter: Option<&Value>, uuid: Option<&Value>, stdout: Option<&Value>, json: Vec<u8>, offset: u64) -> Result<Option<PendingEvent>, StreamError> {
        if let Some(n) = counter.and_then(positive_int) {
            if let Some((problem, message)) = diagnose::check_counter(self.last_counter, n) {
                return Err(StreamError::problem(problem, offset, message).quoting(&json));
            }
            self.last_counter = Some(n);
        }
        let line = self.decoder.frame_line();
        let (Some(counter), Some(uuid)) = (counter, uuid) else { return Ok(None) };
        if !counter.is_truthy() || !uuid.is_truthy() {
            return Ok(None);
        }
        let counter = pyjson::python_str(counter);
        let at = |e: EntryError| e.at(offset).quoting(&json);
        let name = paths::event_file_name(&counter, &pyjson::python_str(uuid)).map_err(at)?;
        if let Some(resume) = &mut self.resume {
            if resume.check(&self.fs, &name, &counter, &json).map_err(at)? == Verdict::AlreadyWritten {
                return Ok(None);
            }
        }
        let printed = match stdout {
            Some(text) if !self.quiet => Some(format!("{}\n", pyjson::python_str(text))),
            _ => None,
        };
        let path = format!("{}/job_events/{name}", self.dirs.artifact_dir);
        Ok(Some(PendingEvent { path, json, printed, offset, line }))
    }

    fn unpack_spool(&mut self) -> Result<(), StreamError> {
        let resume = &mut self.resume;
        let claim = |zip: &str| {
            if let Some(resume) = resume {
                resume.claim_archive(zip);
            }
        };
        let unpacked = self.spool.unpack_into(&self.dirs.artifact_dir, &self.fs, &self.limits, Some("rc"), claim)?;
        if let Some(rc) = unpacked.and_then(|u| u.captured) {
            self.rc = std::str::from_utf8(&rc).ok().and_then(|s| s.trim().parse().ok());
        }
        Ok(())
    }

    fn drop_spool(&mut self) {
        self.spool.discard();
    }
}

/// Events whose line a failed write can still be placed on (16 bytes each): more than a
/// host's write queue holds. A failure further back is reported without its line.
const MAX_IN_FLIGHT: usize = 1 << 18;

/// A counter as upstream's positive int, when it is one.
fn positive_int(counter: &Value) -> Option<u64> {
    match counter {
        Value::Int(text) => text.parse().ok().filter(|&n| n > 0),
        _ => None,
    }
}
