//! Exit codes, in one place (sysexits.h names where one fits).

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
