//! The `inspect` interface over the inspector.

use std::cell::RefCell;
use std::io::{self, Read, Write};

use super::exports::runnerwire::codec::inspect as wit;
use super::exports::runnerwire::codec::types as wit_types;
use super::{limits_from, Component, SCRATCH, STDIN_READ_SIZE};
use crate::stages::inspect::{Inspector, Scratch};

pub struct InspectorResource(RefCell<Inspector>);

impl wit::GuestInspector for InspectorResource {
    fn new(limits: wit_types::Limits) -> Self {
        InspectorResource(RefCell::new(Inspector::new(limits_from(limits), scratch())))
    }
    fn validator(limits: wit_types::Limits) -> wit::Inspector {
        wit::Inspector::new(InspectorResource(RefCell::new(Inspector::without_json_lines(limits_from(limits), scratch()))))
    }
    fn push(&self, bytes: Vec<u8>) -> Vec<u8> {
        self.0.borrow_mut().push(&bytes)
    }
    fn finish(&self) -> Vec<u8> {
        self.0.borrow_mut().finish()
    }
    fn text_report(&self) -> String {
        self.0.borrow().text_report()
    }
    fn first_problem(&self) -> Option<String> {
        first_problem(&self.0.borrow())
    }
}

fn scratch() -> Scratch {
    Scratch { path: format!("{SCRATCH}/inspect.zip") }
}

/// `<kind> at byte N, line L: message`, the line `validate` prints.
fn first_problem(inspector: &Inspector) -> Option<String> {
    let summary = inspector.summary();
    summary.problem_list.first().map(|p| runnerwire_policy::describe_problem(p.kind, p.offset, Some(p.line), &p.message))
}

impl wit::Guest for Component {
    type Inspector = InspectorResource;

    /// The inspector over stdin, its JSON lines to stdout.
    fn inspect_stdin(limits: wit_types::Limits, json_lines: bool) -> Result<wit::Report, String> {
        let mut inspector = Inspector::new(limits_from(limits), scratch());
        let mut stdin = io::stdin().lock();
        let mut stdout = io::stdout().lock();
        let mut buf = vec![0; STDIN_READ_SIZE];
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
        Ok(wit::Report { text: inspector.text_report(), first_problem: first_problem(&inspector) })
    }
}
