//! How a stage fails: an exit code and one line for stderr.

use crate::exit;
use crate::sandbox::wit_types::{ErrorKind, StreamError};
use crate::sandbox::Trapped;

#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    /// Printed once by `main`, prefixed with the program name; empty prints nothing.
    pub message: String,
}

pub type StageResult = Result<u8, Failure>;

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure { code: exit::USAGE, message: message.into() }
    }
    pub fn io(e: anyhow::Error) -> Self {
        Failure { code: exit::IO_ERROR, message: format!("{e:#}") }
    }
    pub fn internal(e: anyhow::Error) -> Self {
        Failure { code: exit::INTERNAL, message: format!("{e:#}") }
    }
    /// A trap inside the component: out of time, out of memory, or a bug.
    /// Reached through `From<Trapped>`: only what a call into the component returned.
    fn trap(e: wasmtime::Error) -> Self {
        let message = match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => "the sandboxed codec ran past its time budget (--step-timeout)".to_string(),
            Some(wasmtime::Trap::AllocationTooLarge) => "the sandboxed codec ran out of its memory budget (--max-memory-bytes)".to_string(),
            _ => {
                let text = format!("{e:#}");
                if text.contains("memory") && text.contains("grow") {
                    "the sandboxed codec ran out of its memory budget (--max-memory-bytes)".to_string()
                } else {
                    format!("the sandboxed codec failed: {}", text.lines().next().unwrap_or("trap"))
                }
            }
        };
        Failure { code: exit::INTERNAL, message }
    }
    /// A bad stream, or IO on the granted directories: the words and exit code are the
    /// shared policy's (the component gives other runtimes the same).
    pub fn stream(e: StreamError) -> Self {
        Failure { code: policy_kind(e.kind).exit_code(), message: describe(&e) }
    }
    /// Writing stdout failed; a closed pipe (the reader is gone) ends quietly.
    pub fn write(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure { code: exit::SUCCESS, message: String::new() };
        }
        Failure { code: exit::IO_ERROR, message: format!("cannot write stdout: {e}") }
    }
}

/// `?` on a call into the component makes its trap a stage's failure.
impl From<Trapped> for Failure {
    fn from(trapped: Trapped) -> Self {
        Failure::trap(trapped.into_error())
    }
}

/// The one line every tool prints for a stream error: `<problem> at byte N, line L: message`.
pub fn describe(e: &StreamError) -> String {
    runnerwire_policy::describe_problem(problem(e), e.offset, e.line, &e.message)
}

/// The damage a WIT error names (its kind's usual one if the word is unknown).
pub fn problem(e: &StreamError) -> runnerwire_policy::Problem {
    runnerwire_policy::Problem::named(&e.problem, policy_kind(e.kind))
}

/// What upstream's Processor tells its status handler for a result stream that stopped at
/// `e`, then runnerwire's line for it.
pub fn job_explanation(e: &StreamError) -> String {
    runnerwire_policy::explain::job_explanation(problem(e), &describe(e), e.text.as_deref())
}

/// What upstream's Processor tells its status handler when reading the stream raised
/// `error` (the caller's reader, in the Python package).
pub fn read_error_explanation(error: &str) -> String {
    runnerwire_policy::explain::read_error_explanation(error)
}

/// The WIT's error kind as the policy crate names it (the same five, one to one).
pub fn policy_kind(kind: ErrorKind) -> runnerwire_policy::ErrorKind {
    use runnerwire_policy::ErrorKind as Policy;
    match kind {
        ErrorKind::Malformed => Policy::Malformed,
        ErrorKind::Truncated => Policy::Truncated,
        ErrorKind::Unsafe => Policy::Unsafe,
        ErrorKind::Limit => Policy::Limit,
        ErrorKind::Io => Policy::Io,
    }
}
