//! runnerwire's native host: loads the codec component into wasmtime with only the
//! directories each stage needs, and runs the `transmit` and `process` stages.

pub mod chunks;
pub mod cli;
pub mod conformance;
pub mod exit;
pub mod failure;
pub mod isolation;
pub mod keeper;
pub mod paths_host;
pub mod pty;
pub mod sandbox;
pub mod signals;
pub mod stage_inspect;
pub mod stage_process;
pub mod stage_transmit;
pub mod stage_worker;
pub mod worker_cleanup;
pub mod worker_info;

use failure::StageResult;

/// Runs one parsed command; the exit code, or the failure to report.
pub fn run(cli: cli::Cli) -> StageResult {
    match cli.command {
        cli::Command::Transmit(args) => stage_transmit::run(args),
        cli::Command::Process(args) => stage_process::run(args),
        cli::Command::Worker(args) => stage_worker::run(args),
        cli::Command::Inspect(args) => stage_inspect::inspect(args),
        cli::Command::Validate(args) => stage_inspect::validate(args),
        cli::Command::Conformance(args) => conformance::run(args),
    }
}
