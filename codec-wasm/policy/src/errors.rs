//! The kinds of bad stream: the word each has in the one-line message every runtime prints,
//! and the exit code it ends a run with.

use crate::exit;

/// What kind of problem an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The stream breaks the format: bad JSON, bad base64, a bad zip, a bad frame.
    Malformed,
    /// The stream ended before its `eof` frame, or inside a line or an archive.
    Truncated,
    /// An archive entry or file name would land outside the target directory.
    Unsafe,
    /// A configured limit was exceeded.
    Limit,
    /// Reading or writing the granted directories failed.
    Io,
}

impl ErrorKind {
    /// Stable lower-case name, as the WIT interface spells the kind.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Malformed => "malformed",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Unsafe => "unsafe",
            ErrorKind::Limit => "limit",
            ErrorKind::Io => "io",
        }
    }

    /// How a message names the kind: "malformed stream at byte 12: ...".
    pub fn words(self) -> &'static str {
        match self {
            ErrorKind::Malformed => "malformed stream",
            ErrorKind::Truncated => "truncated stream",
            ErrorKind::Unsafe => "unsafe stream",
            ErrorKind::Limit => "stream over a limit",
            ErrorKind::Io => "I/O error",
        }
    }

    /// The exit code a run that fails this way ends with.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Io => exit::IO_ERROR,
            _ => exit::BAD_STREAM,
        }
    }
}

/// The one line a runtime prints for an error at `offset` of the stream.
pub fn describe(kind: ErrorKind, offset: u64, message: &str) -> String {
    format!("{} at byte {offset}: {message}", kind.words())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_with_kind_and_offset() {
        assert_eq!(describe(ErrorKind::Truncated, 42, "no eof frame"), "truncated stream at byte 42: no eof frame");
        assert_eq!(ErrorKind::Io.exit_code(), exit::IO_ERROR);
        assert_eq!(ErrorKind::Unsafe.exit_code(), exit::BAD_STREAM);
    }
}
