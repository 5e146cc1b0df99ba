//! How a stage fails: an exit code and one line for stderr.

use crate::exit;
use crate::sandbox::wit_types::{ErrorKind, StreamError};

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
    pub fn trap(e: wasmtime::Error) -> Self {
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
    /// A bad stream, or IO on the granted directories.
    pub fn stream(e: StreamError) -> Self {
        let (code, kind) = match e.kind {
            ErrorKind::Malformed => (exit::BAD_STREAM, "malformed stream"),
            ErrorKind::Truncated => (exit::BAD_STREAM, "truncated stream"),
            ErrorKind::Unsafe => (exit::BAD_STREAM, "unsafe stream"),
            ErrorKind::Limit => (exit::BAD_STREAM, "stream over a limit"),
            ErrorKind::Io => (exit::IO_ERROR, "I/O error"),
        };
        Failure { code, message: format!("{kind} at byte {}: {}", e.offset, e.message) }
    }
    /// Writing stdout failed; a closed pipe (the reader is gone) ends quietly.
    pub fn write(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure { code: exit::SUCCESS, message: String::new() };
        }
        Failure { code: exit::IO_ERROR, message: format!("cannot write stdout: {e}") }
    }
}
