//! `process --resume`: a run that broke part way continues when fed the stream again from
//! the start. An event's text is printed only once its file is written, so the files in
//! `job_events/` say how far the broken run got; their events are neither written nor
//! printed again.
//!
//! The rules, checked per event before anything of it is written:
//! - a file with exactly the bytes the stream gives is kept (its mode set to 0600, in case
//!   the break came between writing it and setting the mode);
//! - a file holding a strict prefix of those bytes (a write the break tore) is written again;
//! - any other file under that name, or a file for the same counter under another uuid, is
//!   another stream's: refused, so a different stream is never mixed in. Two runs differ
//!   at their first event (its uuid), so such a stream is refused before it writes anything;
//! - at the eof frame, files that were on disk at the start and that no event (nor the
//!   stream's artifacts archive) accounts for are refused too: the stream is a different,
//!   shorter one. This can only be known at its end, after its new events were written.
//!
//! Limits: the snapshot is taken once at the start; a stream that repeats an event file name
//! with different contents, or repeats a counter under another uuid, may be refused when it
//! resumes (streams from ansible-runner do neither).

use std::collections::BTreeMap;
use std::io::Read;

use crate::error::{EntryError, Problem};
use crate::fsys::{HostFs, S_IFREG};

/// What to do with an event whose file may already be on disk.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Its file is there, complete: neither write nor print it.
    AlreadyWritten,
    /// Write and print it as in an unbroken run.
    Write,
}

/// The `job_events/` entries found at the start, and which the stream has accounted for.
#[derive(Debug)]
pub struct Resume {
    events_dir: String,
    /// File name -> claimed by an event of this stream (or its archive).
    on_disk: BTreeMap<String, bool>,
}

impl Resume {
    /// Lists `events_dir` as the broken run left it.
    pub fn snapshot(events_dir: &str) -> Result<Self, EntryError> {
        let entries = std::fs::read_dir(events_dir).map_err(|e| EntryError::io("cannot list", events_dir, e))?;
        let mut on_disk = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|e| EntryError::io("cannot list", events_dir, e))?;
            on_disk.insert(entry.file_name().to_string_lossy().into_owned(), false);
        }
        Ok(Resume { events_dir: events_dir.to_string(), on_disk })
    }

    /// Decides for the event written to `job_events/<name>`, whose `counter` prints as
    /// `counter` and whose file content is `json`.
    pub fn check(&mut self, fs: &dyn HostFs, name: &str, counter: &str, json: &[u8]) -> Result<Verdict, EntryError> {
        match self.on_disk.get_mut(name) {
            // This stream already had an event with this name: write it again, as an
            // unbroken run does.
            Some(true) => Ok(Verdict::Write),
            Some(claimed) => {
                *claimed = true;
                self.compare(fs, name, json)
            }
            None => match self.other_file_for(counter, name) {
                Some(other) => Err(mismatch(format!(
                    "job_events/{other} is on disk for counter {counter}, but the stream's event is job_events/{name}"
                ))),
                None => Ok(Verdict::Write),
            },
        }
    }

    /// An unclaimed file on disk for the same counter under another name.
    fn other_file_for(&self, counter: &str, name: &str) -> Option<&str> {
        let prefix = format!("{counter}-");
        self.on_disk
            .range(prefix.clone()..)
            .take_while(|(other, _)| other.starts_with(&prefix))
            .find(|(other, claimed)| !**claimed && *other != name && other.ends_with(".json"))
            .map(|(other, _)| other.as_str())
    }

    fn compare(&self, fs: &dyn HostFs, name: &str, json: &[u8]) -> Result<Verdict, EntryError> {
        let path = format!("{}/{name}", self.events_dir);
        let meta = fs.lstat(&path).map_err(|e| EntryError::io("cannot stat", &path, e))?;
        let Some(meta) = meta.filter(|m| m.file_type() == S_IFREG) else {
            return Err(mismatch(format!("job_events/{name} is not a regular file")));
        };
        if meta.size > json.len() as u64 {
            return Err(differs(name));
        }
        let mut content = Vec::with_capacity(meta.size as usize);
        let file = std::fs::File::open(&path).map_err(|e| EntryError::io("cannot open", &path, e))?;
        // One byte past the expected length tells a file that grew since the lstat.
        file.take(json.len() as u64 + 1).read_to_end(&mut content).map_err(|e| EntryError::io("cannot read", &path, e))?;
        if content == json {
            if meta.mode & 0o7777 != 0o600 {
                fs.set_mode(&path, 0o600).map_err(|e| EntryError::io("cannot set mode of", &path, e))?;
            }
            Ok(Verdict::AlreadyWritten)
        } else if json.starts_with(&content) {
            Ok(Verdict::Write)
        } else {
            Err(differs(name))
        }
    }

    /// Files the stream's artifacts archive puts in `job_events/` are the stream's own.
    pub fn claim_archive(&mut self, zip_path: &str) {
        let Ok(file) = std::fs::File::open(zip_path) else { return };
        // A broken archive is reported by the unpack that follows.
        let Ok(archive) = zip::ZipArchive::new(std::io::BufReader::new(file)) else { return };
        for name in archive.file_names().filter_map(Result::ok) {
            if let Some(claimed) = name.strip_prefix("job_events/").and_then(|n| self.on_disk.get_mut(n)) {
                *claimed = true;
            }
        }
    }

    /// At the eof frame: every file that was on disk must belong to the stream.
    pub fn check_leftovers(&self) -> Result<(), EntryError> {
        let mut left = self.on_disk.iter().filter(|(_, claimed)| !**claimed).map(|(name, _)| name);
        let Some(first) = left.next() else { return Ok(()) };
        let more = match left.count() {
            0 => String::new(),
            1 => " (and 1 other file)".to_string(),
            n => format!(" (and {n} other files)"),
        };
        Err(mismatch(format!("job_events/{first} is on disk but not in the stream{more}")))
    }
}

fn differs(name: &str) -> EntryError {
    mismatch(format!("job_events/{name} on disk differs from the stream's event"))
}

fn mismatch(what: String) -> EntryError {
    EntryError::problem(Problem::CannotResume, format!("cannot resume: {what}"))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::fsys::NativeFs;
    use std::os::unix::fs::PermissionsExt;

    const FS: NativeFs = NativeFs { utc_offset: 0 };
    const EVENT: &[u8] = b"{\"uuid\": \"a\", \"counter\": 1}";

    /// A `job_events/` holding `files`, and its snapshot.
    fn on_disk(files: &[(&str, &[u8])]) -> (tempfile::TempDir, Resume) {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
            std::fs::set_permissions(dir.path().join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let resume = Resume::snapshot(dir.path().to_str().unwrap()).unwrap();
        (dir, resume)
    }

    #[test]
    fn a_complete_file_is_kept_and_a_torn_one_rewritten() {
        let (_dir, mut resume) = on_disk(&[("1-a.json", EVENT), ("2-b.json", &EVENT[..10]), ("3-c.json", b"")]);
        assert_eq!(resume.check(&FS, "1-a.json", "1", EVENT).unwrap(), Verdict::AlreadyWritten);
        assert_eq!(resume.check(&FS, "2-b.json", "2", EVENT).unwrap(), Verdict::Write);
        assert_eq!(resume.check(&FS, "3-c.json", "3", EVENT).unwrap(), Verdict::Write);
        assert_eq!(resume.check(&FS, "4-d.json", "4", EVENT).unwrap(), Verdict::Write, "not on disk yet");
        resume.check_leftovers().unwrap();
    }

    #[test]
    fn a_kept_file_gets_the_mode_an_unbroken_run_gives_it() {
        let (dir, mut resume) = on_disk(&[("1-a.json", EVENT)]);
        let path = dir.path().join("1-a.json");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(resume.check(&FS, "1-a.json", "1", EVENT).unwrap(), Verdict::AlreadyWritten);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o600);
    }

    #[test]
    fn another_streams_files_are_refused() {
        let longer = [EVENT, b" "].concat();
        let (_dir, mut resume) = on_disk(&[("1-a.json", b"{\"uuid\": \"a\", \"counter\": 2}"), ("2-b.json", &longer), ("3-x.json", EVENT)]);
        let other = resume.check(&FS, "1-a.json", "1", EVENT).unwrap_err();
        assert_eq!(other.message, "cannot resume: job_events/1-a.json on disk differs from the stream's event");
        assert!(resume.check(&FS, "2-b.json", "2", EVENT).is_err(), "longer than the stream's event");
        let uuid = resume.check(&FS, "3-c.json", "3", EVENT).unwrap_err();
        assert_eq!(uuid.message, "cannot resume: job_events/3-x.json is on disk for counter 3, but the stream's event is job_events/3-c.json");
        // Counter 3's prefix is not counter 30's.
        assert_eq!(resume.check(&FS, "30-c.json", "30", EVENT).unwrap(), Verdict::Write);
    }

    #[test]
    fn files_the_stream_lacks_are_named_at_its_end() {
        let (_dir, mut resume) = on_disk(&[("1-a.json", EVENT), ("7-g.json", EVENT), ("8-h.json", EVENT)]);
        resume.check(&FS, "1-a.json", "1", EVENT).unwrap();
        let left = resume.check_leftovers().unwrap_err();
        assert_eq!(left.message, "cannot resume: job_events/7-g.json is on disk but not in the stream (and 1 other file)");
    }

    #[test]
    fn a_name_the_stream_repeats_is_written_again_as_in_an_unbroken_run() {
        let (_dir, mut resume) = on_disk(&[("1-a.json", EVENT)]);
        assert_eq!(resume.check(&FS, "1-a.json", "1", EVENT).unwrap(), Verdict::AlreadyWritten);
        assert_eq!(resume.check(&FS, "1-a.json", "1", b"other").unwrap(), Verdict::Write);
    }
}
