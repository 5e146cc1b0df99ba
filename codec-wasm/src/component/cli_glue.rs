//! `cli.parse`: the shared command-line grammar (`runnerwire_policy::args`) for runtimes
//! that only have the component, with limits filled in over the defaults.

use runnerwire_policy::args::{parse_portable, LimitArgs, PortableCommand, SandboxArgs};

use super::exports::runnerwire::codec::cli as wit_cli;
use super::{wit_types, Component};
use crate::limits::Limits;

impl wit_cli::Guest for Component {
    fn parse(args: Vec<String>) -> Result<wit_cli::Command, wit_cli::EarlyExit> {
        let command = parse_portable(args).map_err(|e| wit_cli::EarlyExit { text: e.text, exit_code: e.exit_code, to_stdout: e.to_stdout })?;
        let text = |path: std::path::PathBuf| path.to_string_lossy().into_owned();
        Ok(match command {
            PortableCommand::Process(a) => wit_cli::Command::Process(wit_cli::ProcessArgs {
                private_data_dir: text(a.private_data_dir),
                ident: a.ident,
                artifact_dir: a.artifact_dir.map(text),
                quiet: a.quiet,
                resume: a.resume,
                limits: limits(&a.limits),
                budget: budget(&a.sandbox),
            }),
            PortableCommand::Inspect(a) => wit_cli::Command::Inspect(wit_cli::InspectArgs {
                file: a.file.map(text),
                json: a.json,
                limits: limits(&a.limits),
                budget: budget(&a.sandbox),
            }),
            PortableCommand::Validate(a) => wit_cli::Command::Validate(wit_cli::ValidateArgs {
                file: a.file.map(text),
                limits: limits(&a.limits),
                budget: budget(&a.sandbox),
            }),
        })
    }
}

fn limits(l: &LimitArgs) -> wit_types::Limits {
    let d = Limits::default();
    wit_types::Limits {
        max_line_bytes: l.max_line_bytes.unwrap_or(d.max_line_bytes),
        max_archive_bytes: l.max_archive_bytes.unwrap_or(d.max_archive_bytes),
        max_entries: l.max_entries.unwrap_or(d.max_entries),
        max_unpacked_bytes: l.max_unpacked_bytes.unwrap_or(d.max_unpacked_bytes),
        max_compression_ratio: l.max_compression_ratio.unwrap_or(d.max_compression_ratio),
        max_json_depth: l.max_json_depth.unwrap_or(d.max_json_depth),
    }
}

fn budget(s: &SandboxArgs) -> wit_cli::Budget {
    wit_cli::Budget { max_memory_bytes: s.max_memory_bytes as u64, step_timeout_seconds: s.step_timeout }
}
