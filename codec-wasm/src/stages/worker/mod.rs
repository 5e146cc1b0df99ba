//! The worker stage's format logic: reading the job stream, planning the command as
//! upstream's RunnerConfig does, turning the job's terminal output into events, and the
//! artifact files. Running the process is the host's part.

pub mod artifacts;
pub mod container;
pub mod envfile;
pub mod job;
pub mod options;
pub mod output;
pub mod plan;
pub mod prompts;
pub mod shlex;
