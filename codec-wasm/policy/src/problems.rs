//! The kinds of stream damage, by the words every tool prints: `inspect`, `validate`,
//! `process`, `worker` and every runtime name a problem the same way (docs/inspect-json.md
//! lists them with the failures they were seen in). Each kind belongs to one
//! [`ErrorKind`], which decides the exit code.

use crate::errors::ErrorKind;

/// One kind of damage or refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Problem {
    /// Two frames on one line: a newline was lost.
    GluedLines,
    /// One frame broken in two by an inserted newline.
    SplitLine,
    /// Event counters skip: events were lost.
    CounterGap,
    /// An event counter repeats or goes back (a worker restarted mid-stream).
    CounterRepeat,
    /// Text that is not JSON (a traceback, a warning), a blank line, or JSON that is not an object.
    ForeignText,
    /// A line that starts like a frame but is not valid JSON.
    BadJson,
    /// The stream ends inside a line.
    TruncatedLine,
    /// The base64 of an archive stops before its declared size.
    TruncatedArchive,
    /// An archive that cannot be read: bad base64, broken zip, CRC mismatch, bad size.
    BadArchive,
    /// An archive entry or event file that would land outside the target.
    UnsafeEntry,
    /// A result stream without any status line.
    MissingStatus,
    /// The stream ends without its eof frame.
    MissingEof,
    /// Bytes after the eof frame.
    DataAfterEof,
    /// A line over `max-line-bytes`.
    LineTooLong,
    /// An archive over `max-archive-bytes`.
    ArchiveTooLarge,
    /// An archive with more entries than `max-entries`.
    TooManyEntries,
    /// An entry that inflates past `max-compression-ratio`.
    CompressionRatio,
    /// Unpacked archives past `max-unpacked-bytes`.
    UnpackedTooLarge,
    /// JSON nested deeper than `max-json-depth`.
    JsonTooDeep,
    /// A job stream's kwargs missing before eof, or not usable (not an object, a bad inventory).
    BadKwargs,
    /// `process --resume` on files another stream wrote.
    CannotResume,
    /// A private data dir to transmit holds what cannot be sent (a name that is not UTF-8).
    BadSource,
    /// Reading the input or the granted directories, or writing them, failed.
    Io,
}

impl Problem {
    /// Every kind, in the order docs/inspect-json.md lists them.
    pub const ALL: [Problem; 23] = [
        Problem::GluedLines,
        Problem::SplitLine,
        Problem::CounterGap,
        Problem::CounterRepeat,
        Problem::ForeignText,
        Problem::BadJson,
        Problem::TruncatedLine,
        Problem::TruncatedArchive,
        Problem::BadArchive,
        Problem::UnsafeEntry,
        Problem::MissingStatus,
        Problem::MissingEof,
        Problem::DataAfterEof,
        Problem::LineTooLong,
        Problem::ArchiveTooLarge,
        Problem::TooManyEntries,
        Problem::CompressionRatio,
        Problem::UnpackedTooLarge,
        Problem::JsonTooDeep,
        Problem::BadKwargs,
        Problem::CannotResume,
        Problem::BadSource,
        Problem::Io,
    ];

    /// The word every tool prints (`inspect --json`'s `kind`).
    pub fn name(self) -> &'static str {
        match self {
            Problem::GluedLines => "glued-lines",
            Problem::SplitLine => "split-line",
            Problem::CounterGap => "counter-gap",
            Problem::CounterRepeat => "counter-repeat",
            Problem::ForeignText => "foreign-text",
            Problem::BadJson => "bad-json",
            Problem::TruncatedLine => "truncated-line",
            Problem::TruncatedArchive => "truncated-archive",
            Problem::BadArchive => "bad-archive",
            Problem::UnsafeEntry => "unsafe-entry",
            Problem::MissingStatus => "missing-status",
            Problem::MissingEof => "missing-eof",
            Problem::DataAfterEof => "data-after-eof",
            Problem::LineTooLong => "line-too-long",
            Problem::ArchiveTooLarge => "archive-too-large",
            Problem::TooManyEntries => "too-many-entries",
            Problem::CompressionRatio => "compression-ratio",
            Problem::UnpackedTooLarge => "unpacked-too-large",
            Problem::JsonTooDeep => "json-too-deep",
            Problem::BadKwargs => "bad-kwargs",
            Problem::CannotResume => "cannot-resume",
            Problem::BadSource => "bad-source",
            Problem::Io => "io",
        }
    }

    /// The kind named `word`, if there is one.
    pub fn from_name(word: &str) -> Option<Problem> {
        Problem::ALL.into_iter().find(|p| p.name() == word)
    }

    /// The kind an error of `kind` names `word` (as an error crosses a WIT boundary): that
    /// word's, or the kind's usual one for a word this build does not know.
    pub fn named(word: &str, kind: ErrorKind) -> Problem {
        Problem::from_name(word).unwrap_or(Problem::default_for(kind))
    }

    /// Which error a run that stops at this problem fails with (and so its exit code).
    pub fn error_kind(self) -> ErrorKind {
        match self {
            Problem::TruncatedLine | Problem::TruncatedArchive | Problem::MissingEof => ErrorKind::Truncated,
            Problem::UnsafeEntry => ErrorKind::Unsafe,
            Problem::LineTooLong
            | Problem::ArchiveTooLarge
            | Problem::TooManyEntries
            | Problem::CompressionRatio
            | Problem::UnpackedTooLarge
            | Problem::JsonTooDeep => ErrorKind::Limit,
            Problem::Io => ErrorKind::Io,
            _ => ErrorKind::Malformed,
        }
    }

    /// The kind an error of `kind` is when its site names none: an archive's (most errors
    /// are found unpacking one), a refusal, a limit or I/O.
    pub fn default_for(kind: ErrorKind) -> Problem {
        match kind {
            ErrorKind::Malformed => Problem::BadArchive,
            ErrorKind::Truncated => Problem::MissingEof,
            ErrorKind::Unsafe => Problem::UnsafeEntry,
            ErrorKind::Limit => Problem::LineTooLong,
            ErrorKind::Io => Problem::Io,
        }
    }
}

/// The one line every tool prints for a problem: `<kind> at byte N, line L: message`
/// (`, line L` when the line is known).
pub fn describe_problem(problem: Problem, offset: u64, line: Option<u64>, message: &str) -> String {
    match line {
        Some(line) => format!("{} at byte {offset}, line {line}: {message}", problem.name()),
        None => format!("{} at byte {offset}: {message}", problem.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_distinct_word_that_names_it_back() {
        let mut words: Vec<_> = Problem::ALL.iter().map(|p| p.name()).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), Problem::ALL.len());
        for p in Problem::ALL {
            assert_eq!(Problem::from_name(p.name()), Some(p));
        }
    }

    #[test]
    fn one_line_with_kind_offset_and_line() {
        assert_eq!(
            describe_problem(Problem::GluedLines, 4131, Some(7), "two JSON frames on one line"),
            "glued-lines at byte 4131, line 7: two JSON frames on one line"
        );
        assert_eq!(describe_problem(Problem::Io, 0, None, "cannot write"), "io at byte 0: cannot write");
        assert_eq!(Problem::CounterRepeat.error_kind().exit_code(), crate::exit::BAD_STREAM);
        assert_eq!(Problem::Io.error_kind().exit_code(), crate::exit::IO_ERROR);
    }
}
