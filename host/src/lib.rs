//! runnerwire's native host: loads the codec component into wasmtime with only the
//! directories each stage needs, and runs the `transmit` and `process` stages.
//!
//! `sandbox/` is the embedding the rest stands on; `stages/` and `worker/` are the
//! subcommands, `conformance/` the kit; `cli` only parses, and [`run`] dispatches.

pub mod cli;
pub mod conformance;
pub mod failure;
pub mod sandbox;
pub mod stages;
pub mod worker;

pub use runnerwire_policy::exit;

use failure::StageResult;

/// Runs one parsed command; the exit code, or the failure to report.
pub fn run(cli: cli::Cli) -> StageResult {
    if matches!(cli.command, cli::Command::Transmit(_) | cli::Command::Worker(_) | cli::Command::Portable(_)) {
        stages::pipes::widen_stdio();
    }
    match cli.command {
        cli::Command::Transmit(args) => stages::transmit::run(args),
        cli::Command::Worker(args) => worker::run(args),
        cli::Command::Portable(cli::PortableCommand::Process(args)) => stages::process::run(args),
        cli::Command::Portable(cli::PortableCommand::Inspect(args)) => stages::inspect::inspect(args),
        cli::Command::Portable(cli::PortableCommand::Validate(args)) => stages::inspect::validate(args),
        cli::Command::Conformance(args) => conformance::run(args),
        cli::Command::View(args) => stages::view::run(args),
    }
}
