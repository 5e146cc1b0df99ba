//! The command-line grammar of the stages every runtime runs: `inspect`, `validate` and
//! `process`, with the stream limits and the sandbox budget. The native CLI flattens
//! [`PortableCommand`] into its own subcommands; the Node and Python CLIs parse with
//! [`parse_portable`] (through the component, or linked), so usage, help and error texts
//! are the same everywhere.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The subcommands every runtime's CLI runs.
#[derive(Subcommand, Debug)]
pub enum PortableCommand {
    /// Read a result stream on stdin and write its artifacts, like `ansible-runner process`.
    Process(ProcessArgs),
    /// Report on any job or result stream: frames, statuses, events, archive, and every
    /// problem with its byte offset (exit 65 when there is one).
    Inspect(InspectArgs),
    /// Check a stream: exit 0 when it is complete and valid, else 65 and one line on stderr
    /// naming the first problem.
    Validate(ValidateArgs),
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The stream to read; `-` or none: stdin.
    pub file: Option<PathBuf>,
    /// JSON lines: one object per frame, one per problem, then the summary (see
    /// docs/inspect-json.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The stream to read; `-` or none: stdin.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Args, Debug)]
pub struct ProcessArgs {
    /// Private data dir to write artifacts under (created if missing).
    pub private_data_dir: PathBuf,
    /// Subdirectory of <private_data_dir>/artifacts to write to (match transmit's --ident).
    #[arg(short = 'i', long)]
    pub ident: Option<String>,
    /// Write artifacts here instead.
    #[arg(long)]
    pub artifact_dir: Option<PathBuf>,
    /// Print no event output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Continue a run that broke part way, fed the same stream from its start: events whose
    /// files are already written are neither written nor printed again; a different stream
    /// than the one on disk is refused (exit 65).
    #[arg(long)]
    pub resume: bool,
    /// Accepted for compatibility; upstream's process ignores it too.
    #[arg(short = 'j', long = "json")]
    pub json_mode: bool,
    /// Accepted for compatibility; ignored.
    #[arg(long, hide = true)]
    pub debug: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// Bounds on what a stream may make runnerwire hold or write. Unset ones take the codec's
/// documented defaults (see docs/cli.md, "Limits and sandbox options").
#[derive(Args, Debug, Clone, Default)]
pub struct LimitArgs {
    /// Longest JSON line accepted, in bytes [default: 16 MiB].
    #[arg(long, value_name = "BYTES")]
    pub max_line_bytes: Option<u64>,
    /// Largest zipfile archive accepted, in bytes [default: 4 GiB].
    #[arg(long, value_name = "BYTES")]
    pub max_archive_bytes: Option<u64>,
    /// Most entries in one archive [default: 100000].
    #[arg(long, value_name = "N")]
    pub max_entries: Option<u64>,
    /// Most bytes unpacked from the archives of one stream [default: 8 GiB].
    #[arg(long, value_name = "BYTES")]
    pub max_unpacked_bytes: Option<u64>,
    /// Most bytes an archive entry may inflate to per compressed byte, checked once it passes
    /// 1 MiB [default: 250].
    #[arg(long, value_name = "RATIO")]
    pub max_compression_ratio: Option<u32>,
    /// Deepest JSON nesting accepted [default: 1000].
    #[arg(long, value_name = "N")]
    pub max_json_depth: Option<u32>,
}

/// The sandbox the codec component runs in.
#[derive(Args, Debug, Clone)]
pub struct SandboxArgs {
    /// Most memory the sandboxed component may use, in bytes.
    #[arg(long, default_value_t = SandboxArgs::DEFAULT.max_memory_bytes, value_name = "BYTES")]
    pub max_memory_bytes: usize,
    /// Longest one step of the sandboxed component may run, in seconds (resolution 0.1 s).
    #[arg(long, default_value_t = SandboxArgs::DEFAULT.step_timeout, value_name = "SECONDS", value_parser = positive_seconds)]
    pub step_timeout: f64,
}

impl SandboxArgs {
    pub const DEFAULT: SandboxArgs = SandboxArgs { max_memory_bytes: 256 << 20, step_timeout: 600.0 };
}

impl Default for SandboxArgs {
    fn default() -> Self {
        SandboxArgs::DEFAULT
    }
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 1e9 => Ok(s),
        _ => Err(format!("{text:?} is not a number of seconds between 0 and 1e9")),
    }
}

/// The portable CLI: the native CLI's name, version and texts, its portable subcommands only.
#[derive(Parser, Debug)]
#[command(name = "runnerwire", version, about = "ansible-runner's remote job streams, sandboxed in WebAssembly")]
struct PortableCli {
    #[command(subcommand)]
    command: PortableCommand,
}

/// Where parsing stops short of a command: help, the version, or a usage error, each
/// rendered as the native CLI prints it.
#[derive(Debug, PartialEq, Eq)]
pub struct EarlyExit {
    pub text: String,
    pub exit_code: u8,
    /// Help and the version go to stdout; usage errors to stderr.
    pub to_stdout: bool,
}

/// Parses `args` (without the program name) as the native CLI parses these subcommands.
pub fn parse_portable<I, T>(args: I) -> Result<PortableCommand, EarlyExit>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let argv = std::iter::once(std::ffi::OsString::from("runnerwire")).chain(args.into_iter().map(Into::into));
    PortableCli::try_parse_from(argv).map(|cli| cli.command).map_err(|e| EarlyExit {
        text: e.render().to_string(),
        exit_code: u8::try_from(e.exit_code()).unwrap_or(crate::exit::USAGE),
        to_stdout: !e.use_stderr(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_native_cli_parses() {
        let Ok(PortableCommand::Process(p)) = parse_portable(["process", "-q", "--max-line-bytes=10", "pdd", "-i", "x"]) else {
            panic!("process did not parse")
        };
        assert_eq!((p.private_data_dir, p.ident.as_deref(), p.quiet, p.limits.max_line_bytes), (PathBuf::from("pdd"), Some("x"), true, Some(10)));
        assert_eq!(p.sandbox.max_memory_bytes, 256 << 20);
    }

    #[test]
    fn usage_errors_and_help_exit_as_clap_does() {
        let e = parse_portable(["process", "--nope", "pdd"]).unwrap_err();
        assert_eq!((e.exit_code, e.to_stdout), (2, false));
        assert!(e.text.starts_with("error: unexpected argument '--nope' found"), "{}", e.text);
        let e = parse_portable(["inspect", "--step-timeout", "0"]).unwrap_err();
        assert!(e.text.contains("between 0 and 1e9"), "{}", e.text);
        let help = parse_portable(["--help"]).unwrap_err();
        assert_eq!((help.exit_code, help.to_stdout), (0, true));
        assert!(help.text.contains("Usage: runnerwire"), "{}", help.text);
    }
}
