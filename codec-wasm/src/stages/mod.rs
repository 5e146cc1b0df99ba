//! ansible-runner's streaming stages, each built on the wire decoder and the archive code:
//! `transmit` writes a job stream, `worker` reads one and runs the job's format side,
//! `process` turns a result stream into upstream's artifact tree (`resume` continues a
//! broken run), and `inspect` diagnoses either stream instead of refusing it.

pub(crate) mod inspect;
pub(crate) mod process;
pub(crate) mod resume;
pub(crate) mod transmit;
pub(crate) mod worker;
