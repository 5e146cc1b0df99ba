//! The worker stage's format logic: reading the job stream, planning the command as
//! upstream's RunnerConfig does, turning the job's terminal output into events, and the
//! artifact files. Running the process is the host's part.

pub(crate) mod artifacts;
pub(crate) mod container;
pub(crate) mod envfile;
pub(crate) mod job;
pub(crate) mod options;
pub(crate) mod output;
pub(crate) mod plan;
pub(crate) mod prompts;
pub(crate) mod shlex;
