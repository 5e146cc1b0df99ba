//! Exit codes, in one place (sysexits.h names where one fits). The native CLI links these;
//! the component hands them to every other runtime (`types.exit-code`).

/// A complete stream whose job succeeded (or a transmit that finished).
pub const SUCCESS: u8 = 0;
/// The job failed, was canceled or timed out and reported no nonzero rc; or no status.
pub const JOB_FAILED: u8 = 1;
/// Bad command line (clap's own code).
pub const USAGE: u8 = 2;
/// EX_DATAERR: the stream is malformed, truncated, unsafe or over a limit.
pub const BAD_STREAM: u8 = 65;
/// EX_UNAVAILABLE: the job asked for process isolation this node cannot give (no such
/// container engine, or an image it may not pull); the job was not run.
pub const ISOLATION_UNAVAILABLE: u8 = 69;
/// EX_SOFTWARE: the component trapped, ran out of its memory or time budget.
pub const INTERNAL: u8 = 70;
/// EX_IOERR: reading input or writing the target failed.
pub const IO_ERROR: u8 = 74;

/// Every exit code by its name, for runtimes that hand them on (the Python package's `EXIT`).
pub const NAMED: [(&str, u8); 7] = [
    ("SUCCESS", SUCCESS),
    ("JOB_FAILED", JOB_FAILED),
    ("USAGE", USAGE),
    ("BAD_STREAM", BAD_STREAM),
    ("ISOLATION_UNAVAILABLE", ISOLATION_UNAVAILABLE),
    ("INTERNAL", INTERNAL),
    ("IO_ERROR", IO_ERROR),
];

/// The exit code a `process` run ends with, from the stream's last status and the job's rc:
/// 0 for "successful", else the job's nonzero rc when it fits a byte, else 1. Upstream's
/// process exits 0 whatever the job did; a pipeline wants to know.
pub fn for_outcome(status: Option<&str>, rc: Option<i32>) -> u8 {
    match (status, rc) {
        (Some("successful"), _) => SUCCESS,
        (_, Some(rc)) if rc != 0 => u8::try_from(rc).unwrap_or(JOB_FAILED),
        _ => JOB_FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_codes() {
        assert_eq!(for_outcome(Some("successful"), Some(0)), SUCCESS);
        assert_eq!(for_outcome(Some("successful"), None), SUCCESS);
        assert_eq!(for_outcome(Some("failed"), Some(2)), 2);
        assert_eq!(for_outcome(Some("failed"), Some(0)), JOB_FAILED);
        assert_eq!(for_outcome(Some("failed"), Some(-9)), JOB_FAILED);
        assert_eq!(for_outcome(Some("failed"), Some(300)), JOB_FAILED);
        assert_eq!(for_outcome(None, None), JOB_FAILED);
    }
}
