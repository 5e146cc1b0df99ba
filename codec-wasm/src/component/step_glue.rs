//! The stdin-reading entry point `process.stepper`: for hosts that cross `list<u8>`
//! slowly, the component reads the stream itself (as `inspect.inspect-stdin` does).

use std::cell::RefCell;
use std::io::{self, Read};

use super::exports::runnerwire::codec::process as wit_process;
use super::exports::runnerwire::codec::types as wit_types;
use super::{error_to_wit, limits_from, WasiHostFs, ARTIFACTS, SCRATCH, STDIN_READ_SIZE};
use crate::error::{ErrorKind, StreamError};
use crate::stages::process::{PendingEvent, ProcessDirs, Processor, Step};
use crate::pyjson;

pub struct StepperResource(RefCell<Stepper>);

struct Stepper {
    processor: Result<Processor<WasiHostFs>, StreamError>,
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
            processor.queue_event(&event)?;
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
                    // Unpacking waited for the queued event files.
                    Step::Artifacts => wit_process::Step::Artifacts,
                });
            }
            if processor.complete() || self.input_ended {
                // Past eof nothing is read (the writer may keep the pipe open); an input
                // that ended early already failed in next_step.
                processor.settle_writes()?;
                let o = processor.outcome();
                return Ok(wit_process::Step::End(super::outcome_to_wit(o)));
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
    fn over(processor: Result<Processor<WasiHostFs>, StreamError>) -> Self {
        StepperResource(RefCell::new(Stepper { processor, pending: None, read: 0, input_ended: false, buf: vec![0; STDIN_READ_SIZE] }))
    }
}

fn stepper_processor(limits: wit_types::Limits, quiet: bool) -> Result<Processor<WasiHostFs>, StreamError> {
    let dirs = ProcessDirs { artifact_dir: ARTIFACTS.into(), scratch_dir: SCRATCH.into() };
    Processor::new(WasiHostFs, dirs, limits_from(limits), quiet)
}

impl wit_process::GuestStepper for StepperResource {
    fn new(limits: wit_types::Limits, quiet: bool) -> Self {
        StepperResource::over(stepper_processor(limits, quiet))
    }
    fn resuming(limits: wit_types::Limits, quiet: bool) -> wit_process::Stepper {
        wit_process::Stepper::new(StepperResource::over(stepper_processor(limits, quiet).and_then(Processor::resuming)))
    }
    fn next(&self) -> Result<wit_process::Step, wit_types::StreamError> {
        let mut stepper = self.0.borrow_mut();
        let step = stepper.next();
        if step.is_err() {
            if let Ok(processor) = &mut stepper.processor {
                processor.abandon_writes();
            }
        }
        step.map_err(error_to_wit)
    }
    fn skip_event(&self) {
        self.0.borrow_mut().pending = None;
    }
}
