//! Reading a job stream on the worker: the kwargs, the private data dir (unpacked into the
//! granted directory as it arrives) and eof. Bad streams end in the status line upstream's
//! worker sends for them, so controllers see the same error either way.

use crate::wire::decoder::{Decoder, Frame, LineKind, StreamKind};
use crate::wire::diagnose;
use crate::error::{Problem, StreamError};
use crate::fsys::HostFs;
use crate::limits::Limits;
use crate::paths;
use crate::pyjson::{self, PyStr, Value};
use crate::archive::spool::Spool;

/// Where the job's private data dir is, inside the sandbox and on the host.
#[derive(Clone, Debug)]
pub struct JobDirs {
    pub pdd_guest: String,
    pub pdd_host: String,
    pub scratch_dir: String,
}

/// How reading a job stream ended.
#[derive(Clone, Debug, PartialEq)]
pub enum JobInput {
    /// Keep feeding.
    NeedMore,
    /// The kwargs, with upstream's worker-side path rules applied.
    Ready(Value),
    /// The stream to send back instead of running anything (error status + eof), and why.
    Refused { stream: Vec<u8>, error: StreamError },
}

pub struct JobReader<F: HostFs> {
    fs: F,
    dirs: JobDirs,
    limits: Limits,
    decoder: Decoder,
    /// The archive being received, and the unpacked bytes of earlier ones.
    spool: Spool,
    /// The kwargs value, and the offset and number of its line.
    kwargs: Option<(Value, u64, u64)>,
    outcome: Option<JobInput>,
}

const PARSE_FAILED: &str = "Failed to JSON parse a line from transmit stream.";
const EXTRACT_FAILED: &str = "Failed to extract private data directory on worker.";

impl<F: HostFs> JobReader<F> {
    pub fn new(fs: F, dirs: JobDirs, limits: Limits) -> Self {
        let spool = Spool::new(format!("{}/job.zip", dirs.scratch_dir));
        JobReader { fs, dirs, limits, decoder: Decoder::new(StreamKind::Job, limits), spool, kwargs: None, outcome: None }
    }

    pub fn feed(&mut self, bytes: &[u8]) -> JobInput {
        if let Some(done) = &self.outcome {
            return done.clone();
        }
        self.decoder.push(bytes);
        self.drain()
    }

    pub fn finish(&mut self) -> JobInput {
        if let Some(done) = &self.outcome {
            return done.clone();
        }
        self.decoder.finish();
        match self.drain() {
            JobInput::NeedMore => {
                let error = StreamError::problem(Problem::MissingEof, self.decoder.position(), diagnose::MISSING_EOF);
                self.refuse(PARSE_FAILED, None, error)
            }
            other => other,
        }
    }

    fn drain(&mut self) -> JobInput {
        loop {
            let frame = match self.decoder.next() {
                Ok(Some(frame)) => frame,
                Ok(None) => return JobInput::NeedMore,
                Err(e) => {
                    let e = e.on_line(self.decoder.frame_line());
                    // A `zipfile` frame upstream's worker cannot take fails its extraction too.
                    let in_archive = self.spool.is_receiving() || matches!(e.problem, Problem::BadArchive | Problem::ArchiveTooLarge | Problem::TruncatedArchive);
                    self.drop_spool();
                    return if in_archive {
                        self.refuse(EXTRACT_FAILED, Some(&e.to_string()), e)
                    } else {
                        self.refuse(PARSE_FAILED, None, e)
                    };
                }
            };
            match frame {
                Frame::Line { kind: LineKind::Kwargs, value, offset } => {
                    let line = self.decoder.frame_line();
                    self.kwargs = value.get("kwargs").cloned().map(|kwargs| (kwargs, offset, line));
                }
                Frame::Line { kind: LineKind::Eof, offset, .. } => {
                    let eof_line = self.decoder.frame_line();
                    let outcome = match self.kwargs.take() {
                        Some((kwargs, at, line)) => match diagnose::job_kwargs_problem(&kwargs) {
                            None => JobInput::Ready(update_paths(kwargs, &self.dirs.pdd_host)),
                            Some(why) => {
                                let error = StreamError::problem(Problem::BadKwargs, at, why.clone()).on_line(line);
                                // Upstream's worker crashes on a bad inventory; its parse error covers the rest.
                                let explanation = if matches!(kwargs, Value::Object(_)) { why } else { PARSE_FAILED.to_string() };
                                self.refuse(&explanation, None, error)
                            }
                        },
                        None => {
                            let error = StreamError::problem(Problem::BadKwargs, offset, diagnose::NO_KWARGS).on_line(eof_line);
                            self.refuse(PARSE_FAILED, None, error)
                        }
                    };
                    self.outcome = Some(outcome.clone());
                    return outcome;
                }
                Frame::Line { .. } => {} // upstream skips lines it does not know
                Frame::ArchiveStart { .. } | Frame::ArchiveData(_) | Frame::ArchiveEnd { .. } => {
                    if let Err(error) = self.receive_archive(frame) {
                        let error = error.on_line(self.decoder.frame_line());
                        return self.refuse(EXTRACT_FAILED, Some(&error.to_string()), error);
                    }
                }
                // Only result-stream decoders made `with_raw_events` give these.
                Frame::RawEvent(_) => {}
            }
        }
    }

    /// A piece of the private data dir's archive: spooled, and unpacked into the granted
    /// directory once whole.
    fn receive_archive(&mut self, frame: Frame) -> Result<(), StreamError> {
        match frame {
            Frame::ArchiveStart { offset, .. } => self.spool.start(offset),
            Frame::ArchiveData(data) => self.spool.write(&data),
            Frame::ArchiveEnd { .. } => self.spool.unpack_into(&self.dirs.pdd_guest, &self.fs, &self.limits, None, |_| {}).map(drop),
            _ => Ok(()),
        }
    }

    fn drop_spool(&mut self) {
        self.spool.discard();
    }

    /// Upstream's error status line (no runner_ident: it has none yet) and eof.
    fn refuse(&mut self, explanation: &str, traceback: Option<&str>, error: StreamError) -> JobInput {
        let s = PyStr::from_str;
        let mut status = vec![(s("status"), Value::Str(s("error"))), (s("job_explanation"), Value::Str(s(explanation)))];
        if let Some(tb) = traceback {
            status.push((s("result_traceback"), Value::Str(s(tb))));
        }
        let mut stream = Vec::new();
        pyjson::encode(&Value::Object(status), &mut stream);
        stream.extend_from_slice(b"\n{\"eof\": true}\n");
        let outcome = JobInput::Refused { stream, error };
        self.outcome = Some(outcome.clone());
        outcome
    }
}

/// Upstream's `Worker.update_paths` on kwargs [`diagnose::job_kwargs_problem`] passed:
/// `inventory` is joined to the private data dir and `envvars.ANSIBLE_ROLES_PATH` to its
/// `roles/`.
fn update_paths(mut kwargs: Value, pdd: &str) -> Value {
    let Value::Object(members) = &mut kwargs else { return kwargs };
    for (key, value) in members.iter_mut() {
        match (key.as_wtf8(), &mut *value) {
            (b"inventory", v) if v.is_truthy() => {
                if let Some(inv) = v.as_str() {
                    *v = Value::Str(PyStr::from_str(&paths::join(pdd, inv)));
                }
            }
            (b"envvars", Value::Object(vars)) => {
                for (name, v) in vars.iter_mut() {
                    if name.as_wtf8() == b"ANSIBLE_ROLES_PATH" {
                        if let Some(roles) = v.as_str() {
                            *v = Value::Str(PyStr::from_str(&paths::join(&paths::join(pdd, "roles"), roles)));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    kwargs
}
