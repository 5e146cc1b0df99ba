//! Errors: what was wrong, what kind of wrong, and where (byte offset in the stream).

use std::fmt;

/// What kind of problem an error is; its words and exit code are the shared policy's.
pub use runnerwire_policy::ErrorKind;

/// One error, with the byte offset in the stream where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamError {
    pub kind: ErrorKind,
    /// Byte offset in the whole input stream (0-based).
    pub offset: u64,
    /// One line, naming what was found and, for archive entries, the entry.
    pub message: String,
}

impl StreamError {
    pub fn new(kind: ErrorKind, offset: u64, message: impl Into<String>) -> Self {
        StreamError { kind, offset, message: message.into() }
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&runnerwire_policy::describe(self.kind, self.offset, &self.message))
    }
}

impl std::error::Error for StreamError {}

/// An error from work on one archive entry or file, before the stream offset is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryError {
    pub kind: ErrorKind,
    pub message: String,
}

impl EntryError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        EntryError { kind, message: message.into() }
    }
    pub fn io(what: &str, path: &str, err: std::io::Error) -> Self {
        EntryError::new(ErrorKind::Io, format!("{what} {path:?}: {err}"))
    }
    /// Place the error in the stream.
    pub fn at(self, offset: u64) -> StreamError {
        StreamError::new(self.kind, offset, self.message)
    }
}
