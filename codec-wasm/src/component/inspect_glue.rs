//! The `inspect` interface over the inspector.

use std::cell::RefCell;

use super::exports::runnerwire::codec::inspect as wit;
use super::exports::runnerwire::codec::types as wit_types;
use super::{limits_from, Component, SCRATCH};
use crate::inspect::{Inspector, Scratch};

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
pub fn first_problem(inspector: &Inspector) -> Option<String> {
    let summary = inspector.summary();
    summary.problem_list.first().map(|p| format!("{} at byte {}, line {}: {}", p.kind, p.offset, p.line, p.message))
}

impl wit::Guest for Component {
    type Inspector = InspectorResource;

    fn inspect_stdin(limits: wit_types::Limits, json_lines: bool) -> Result<wit::Report, String> {
        super::step_glue::inspect_stdin(limits, json_lines)
    }
}
