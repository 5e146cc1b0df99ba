//! Errors: what was wrong, what kind of wrong, and where (byte offset in the stream).

use std::fmt;

/// What kind of problem an error is; the host maps kinds to exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The stream breaks the format: bad JSON, bad base64, a bad zip, a bad frame.
    Malformed,
    /// The stream ended before its `eof` frame, or inside a line or an archive.
    Truncated,
    /// An archive entry or file name would land outside the target directory.
    Unsafe,
    /// A configured [`Limits`](crate::limits::Limits) value was exceeded.
    Limit,
    /// Reading or writing the granted directories failed.
    Io,
}

impl ErrorKind {
    /// Stable lower-case name, as used in the WIT interface and messages.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Malformed => "malformed",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Unsafe => "unsafe",
            ErrorKind::Limit => "limit",
            ErrorKind::Io => "io",
        }
    }
}

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
        write!(f, "{} at byte {}: {}", self.kind.name(), self.offset, self.message)
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
