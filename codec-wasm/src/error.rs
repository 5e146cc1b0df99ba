//! Errors: what was wrong, what kind of wrong, and where (byte offset and line in the stream).

use std::fmt;

/// What kind of problem an error is; its words and exit code are the shared policy's.
pub use runnerwire_policy::ErrorKind;
/// Which damage it is, by the word every tool prints.
pub use runnerwire_policy::Problem;

/// The most of the offending line an error keeps: what upstream quotes of it.
pub const MAX_ERROR_TEXT: usize = 1000;

/// One error, with the byte offset in the stream where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamError {
    pub kind: ErrorKind,
    /// The damage, as `inspect` and `validate` name it.
    pub problem: Problem,
    /// Byte offset in the whole input stream (0-based).
    pub offset: u64,
    /// The stream line it is in (1-based), when known.
    pub line: Option<u64>,
    /// One line, naming what was found and, for archive entries, the entry.
    pub message: String,
    /// The first bytes (at most [`MAX_ERROR_TEXT`]) of the line it is in, for problems of a line.
    pub text: Option<Vec<u8>>,
}

impl StreamError {
    /// An error whose site names no [`Problem`]: the kind's usual one.
    pub fn new(kind: ErrorKind, offset: u64, message: impl Into<String>) -> Self {
        StreamError { kind, problem: Problem::default_for(kind), offset, line: None, message: message.into(), text: None }
    }

    /// An error that is `problem` (its error kind follows from it).
    pub fn problem(problem: Problem, offset: u64, message: impl Into<String>) -> Self {
        StreamError { kind: problem.error_kind(), problem, offset, line: None, message: message.into(), text: None }
    }

    /// The same error, placed on stream line `line` (unless already placed).
    pub fn on_line(mut self, line: u64) -> Self {
        self.line.get_or_insert(line);
        self
    }

    /// The same error, quoting the line it is in.
    pub fn quoting(mut self, line: &[u8]) -> Self {
        self.text = Some(line[..line.len().min(MAX_ERROR_TEXT)].to_vec());
        self
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&runnerwire_policy::describe_problem(self.problem, self.offset, self.line, &self.message))
    }
}

impl std::error::Error for StreamError {}

/// An error from work on one archive entry or file, before the stream offset is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryError {
    pub kind: ErrorKind,
    pub problem: Problem,
    pub message: String,
}

impl EntryError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        EntryError { kind, problem: Problem::default_for(kind), message: message.into() }
    }
    /// An error that is `problem` (its error kind follows from it).
    pub fn problem(problem: Problem, message: impl Into<String>) -> Self {
        EntryError { kind: problem.error_kind(), problem, message: message.into() }
    }
    pub fn io(what: &str, path: &str, err: std::io::Error) -> Self {
        EntryError::new(ErrorKind::Io, format!("{what} {path:?}: {err}"))
    }
    /// Place the error in the stream.
    pub fn at(self, offset: u64) -> StreamError {
        StreamError { kind: self.kind, problem: self.problem, offset, line: None, message: self.message, text: None }
    }
}
