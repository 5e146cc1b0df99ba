//! The kinds of error a run ends with, and the exit code of each. Which damage an error is
//! (the word every tool prints) is [`crate::problems`]'s.

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

    /// The exit code a run that fails this way ends with.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Io => exit::IO_ERROR,
            _ => exit::BAD_STREAM,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_has_its_own_exit_code() {
        assert_eq!(ErrorKind::Io.exit_code(), exit::IO_ERROR);
        assert_eq!(ErrorKind::Unsafe.exit_code(), exit::BAD_STREAM);
    }
}
