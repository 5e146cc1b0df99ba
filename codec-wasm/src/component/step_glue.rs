//! The stdin-reading entry points (`process.stepper`, `inspect.inspect-stdin`): for hosts
//! that cross `list<u8>` slowly, the component reads the stream itself.

use std::cell::RefCell;
use std::io::{self, Read, Write};

use super::exports::runnerwire::codec::inspect as wit_inspect;
use super::exports::runnerwire::codec::process as wit_process;
use super::exports::runnerwire::codec::types as wit_types;
use super::{error_to_wit, limits_from, WasiHostFs, ARTIFACTS, SCRATCH};
use crate::error::{ErrorKind, StreamError};
use crate::fsys::{HostFs, Meta};
use crate::inspect::{Inspector, Scratch};
use crate::process::{PendingEvent, ProcessDirs, Processor, Step};
use crate::pyjson;

const READ_SIZE: usize = 256 << 10;

/// [`HostFs`] that writes file contents through WASI: only the path and mode cross the
/// boundary. The file briefly has WASI's default mode before `set-mode`, as upstream's
/// files do between open and chmod.
struct WasiWrites;

impl HostFs for WasiWrites {
    fn lstat(&self, path: &str) -> io::Result<Option<Meta>> {
        WasiHostFs.lstat(path)
    }
    fn set_mode(&self, path: &str, mode: u32) -> io::Result<()> {
        WasiHostFs.set_mode(path, mode)
    }
    fn set_mtime(&self, path: &str, mtime: i64) -> io::Result<()> {
        WasiHostFs.set_mtime(path, mtime)
    }
    fn read_link(&self, path: &str) -> io::Result<String> {
        WasiHostFs.read_link(path)
    }
    fn symlink(&self, target: &str, path: &str) -> io::Result<()> {
        WasiHostFs.symlink(target, path)
    }
    fn utc_offset(&self, unix_seconds: i64) -> i32 {
        WasiHostFs.utc_offset(unix_seconds)
    }
    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> io::Result<()> {
        WasiHostFs.write_at(path, offset, data)
    }
    fn write_file(&self, path: &str, data: &[u8], mode: u32) -> io::Result<()> {
        // Whatever is there (a link included) is replaced, never written through:
        // create_new never follows a final symlink. WASI's own lstat tells the file type
        // without a call out to the host.
        match std::fs::symlink_metadata(path) {
            Ok(m) if !m.is_dir() => std::fs::remove_file(path)?,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
        file.write_all(data)?;
        drop(file);
        self.set_mode(path, mode)
    }
}

pub struct StepperResource(RefCell<Stepper>);

struct Stepper {
    processor: Result<Processor<WasiWrites>, StreamError>,
    pending: Option<PendingEvent>,
    /// Bytes read from stdin so far (where a read error happened).
    read: u64,
    input_ended: bool,
    /// Reused for every read from stdin.
    buf: Vec<u8>,
}

impl Stepper {
    fn next(&mut self) -> Result<wit_process::Step, StreamError> {
        let processor = self.processor.as_mut().map_err(|e| e.clone())?;
        if let Some(event) = self.pending.take() {
            processor.write_event(&event)?;
        }
        loop {
            if let Some(step) = processor.next_step()? {
                return Ok(match step {
                    Step::Status(json) => wit_process::Step::Status(pyjson::ascii_string(json)),
                    Step::Event(event) => {
                        let step = wit_process::EventStep { json: pyjson::ascii_string(event.json.clone()), printed: event.printed.clone() };
                        self.pending = Some(event);
                        wit_process::Step::Event(step)
                    }
                    Step::Artifacts => wit_process::Step::Artifacts,
                });
            }
            if processor.complete() || self.input_ended {
                // Past eof nothing is read (the writer may keep the pipe open); an input
                // that ended early already failed in next_step.
                let o = processor.outcome();
                return Ok(wit_process::Step::End(wit_process::Outcome { status: o.status, rc: o.rc, events_written: o.events_written }));
            }
            let n = io::stdin().read(&mut self.buf).map_err(|e| StreamError::new(ErrorKind::Io, self.read, format!("cannot read stdin: {e}")))?;
            self.read += n as u64;
            if n == 0 {
                self.input_ended = true;
                processor.end_input();
            } else {
                processor.push(&self.buf[..n]);
            }
        }
    }
}

impl StepperResource {
    fn over(processor: Result<Processor<WasiWrites>, StreamError>) -> Self {
        StepperResource(RefCell::new(Stepper { processor, pending: None, read: 0, input_ended: false, buf: vec![0; READ_SIZE] }))
    }
}

fn stepper_processor(limits: wit_types::Limits, quiet: bool) -> Result<Processor<WasiWrites>, StreamError> {
    let dirs = ProcessDirs { artifact_dir: ARTIFACTS.into(), scratch_dir: SCRATCH.into() };
    Processor::new(WasiWrites, dirs, limits_from(limits), quiet)
}

impl wit_process::GuestStepper for StepperResource {
    fn new(limits: wit_types::Limits, quiet: bool) -> Self {
        StepperResource::over(stepper_processor(limits, quiet))
    }
    fn resuming(limits: wit_types::Limits, quiet: bool) -> wit_process::Stepper {
        wit_process::Stepper::new(StepperResource::over(stepper_processor(limits, quiet).and_then(Processor::resuming)))
    }
    fn next(&self) -> Result<wit_process::Step, wit_types::StreamError> {
        self.0.borrow_mut().next().map_err(error_to_wit)
    }
    fn skip_event(&self) {
        self.0.borrow_mut().pending = None;
    }
}

/// `inspect-stdin`: the inspector over stdin, its JSON lines to stdout.
pub fn inspect_stdin(limits: wit_types::Limits, json_lines: bool) -> Result<wit_inspect::Report, String> {
    let scratch = Scratch { path: format!("{SCRATCH}/inspect.zip") };
    let mut inspector = Inspector::new(limits_from(limits), scratch);
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut buf = vec![0; READ_SIZE];
    let mut emit = |lines: Vec<u8>| -> Result<(), String> {
        if json_lines && !lines.is_empty() {
            stdout.write_all(&lines).map_err(|e| format!("cannot write stdout: {e}"))?;
        }
        Ok(())
    };
    loop {
        let n = stdin.read(&mut buf).map_err(|e| format!("cannot read stdin: {e}"))?;
        if n == 0 {
            break;
        }
        emit(inspector.push(&buf[..n]))?;
    }
    emit(inspector.finish())?;
    stdout.flush().map_err(|e| format!("cannot write stdout: {e}"))?;
    Ok(wit_inspect::Report { text: inspector.text_report(), first_problem: super::inspect_glue::first_problem(&inspector) })
}
