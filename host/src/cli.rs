//! Command-line interface, mirroring upstream's `ansible-runner transmit|process` options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use runnerwire_policy::args::{parse_portable, InspectArgs, LimitArgs, PortableCommand, ProcessArgs, SandboxArgs, ValidateArgs};

#[derive(Parser, Debug)]
#[command(name = "runnerwire", version, about = "ansible-runner's remote job streams, sandboxed in WebAssembly")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a job stream (kwargs + private data dir) to stdout, like `ansible-runner transmit`.
    Transmit(TransmitArgs),
    /// Run a job stream from stdin and stream the results to stdout, like `ansible-runner worker`.
    Worker(WorkerArgs),
    /// process, inspect and validate: their grammar is shared with the Node and Python CLIs.
    #[command(flatten)]
    Portable(PortableCommand),
    /// Run upstream 2.4.3's recorded scenarios through any implementation's stages: one
    /// PASS or FAIL line per case, then the totals (exit 0 only when all pass).
    Conformance(ConformanceArgs),
    /// Open a stream in the page (a job output view) in the browser: serve the page and
    /// that one file on 127.0.0.1 until interrupted.
    View(ViewArgs),
}

#[derive(Args, Debug)]
pub struct ViewArgs {
    /// The job or result stream to show.
    pub file: PathBuf,
    /// Port to listen on (default: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Only print the URL; do not start a browser.
    #[arg(long)]
    pub no_open: bool,
    /// The page's directory (default: RUNNERWIRE_WEB, else the install's
    /// share/runnerwire/web, else the checkout's web/).
    #[arg(long, value_name = "DIR")]
    pub web: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ConformanceArgs {
    /// Shell command line of the transmit stage; the kit appends the private data dir,
    /// `--ident` and the scenario's options, e.g. "ansible-runner transmit".
    #[arg(long, value_name = "CMD")]
    pub transmit: Option<String>,
    /// Shell command line of the worker stage; the kit appends `--private-data-dir DIR`
    /// and feeds the job stream, e.g. "ansible-runner worker".
    #[arg(long, value_name = "CMD")]
    pub worker: Option<String>,
    /// Shell command line of the process stage; the kit appends the private data dir and
    /// `--ident` and feeds the result stream, e.g. "ansible-runner process".
    #[arg(long, value_name = "CMD")]
    pub process: Option<String>,
    /// Also run the hostile corpus through worker and process: nothing written outside
    /// the target, bounded memory, a non-zero exit on a bad stream.
    #[arg(long)]
    pub safety: bool,
}

#[derive(Args, Debug, Default)]
pub struct TransmitArgs {
    /// Base directory holding project, inventory, env, ...
    pub private_data_dir: PathBuf,
    /// Playbook to run, relative to <private_data_dir>/project.
    #[arg(short = 'p', long, conflicts_with_all = ["module", "role"], required_unless_present_any = ["module", "role"])]
    pub playbook: Option<String>,
    /// Module to run ad hoc.
    #[arg(short = 'm', long, conflicts_with = "role")]
    pub module: Option<String>,
    /// Role to run (a one-play playbook is generated into <private_data_dir>/project).
    #[arg(short = 'r', long)]
    pub role: Option<String>,
    /// Role variables, `key1=value1 key2=value2`.
    #[arg(long, requires = "role")]
    pub role_vars: Option<String>,
    /// Do not gather facts when running the role.
    #[arg(long, requires = "role")]
    pub role_skip_facts: bool,
    /// Module arguments.
    #[arg(short = 'a', long = "args", value_name = "MODULE_ARGS", requires = "module")]
    pub module_args: Option<String>,
    /// Host pattern for a module or role run.
    #[arg(long = "hosts", value_name = "PATTERN")]
    pub host_pattern: Option<String>,
    /// Identifier of this run (default: a random UUID's hex).
    #[arg(short = 'i', long)]
    pub ident: Option<String>,
    /// Full path of the Ansible binaries on the worker.
    #[arg(short = 'b', long)]
    pub binary: Option<String>,
    /// Inventory file or directory (absolute, relative, or under <private_data_dir>/inventory).
    #[arg(long)]
    pub inventory: Option<PathBuf>,
    /// Further limit the selected host/group patterns.
    #[arg(long)]
    pub limit: Option<String>,
    /// Number of parallel processes.
    #[arg(long)]
    pub forks: Option<String>,
    /// Increase ansible verbosity (repeatable).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Command-line options passed to ansible-playbook at execution time.
    #[arg(long, allow_hyphen_values = true)]
    pub cmdline: Option<String>,
    /// Path used to locate roles.
    #[arg(long)]
    pub roles_path: Option<String>,
    /// Where the worker writes artifacts.
    #[arg(long)]
    pub artifact_dir: Option<String>,
    /// Project directory on the worker.
    #[arg(long)]
    pub project_dir: Option<String>,
    /// Keep only this many artifact directories on the worker (0: all).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub rotate_artifacts: i64,
    /// Ask the worker for JSON event output.
    #[arg(short = 'j', long = "json")]
    pub json_mode: bool,
    /// Ask the worker to be quiet.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Omit extra event data.
    #[arg(long)]
    pub omit_event_data: bool,
    /// Only keep event data of failed tasks.
    #[arg(long)]
    pub only_failed_event_data: bool,
    /// Do not write env files (cmdline then travels in the kwargs).
    #[arg(long = "omit-env-files")]
    pub suppress_env_files: bool,
    /// Container image for the worker.
    #[arg(long)]
    pub container_image: Option<String>,
    /// Container volume mount (repeatable).
    #[arg(long = "container-volume-mount")]
    pub container_volume_mounts: Vec<String>,
    /// Container engine option (repeatable).
    #[arg(long = "container-option", allow_hyphen_values = true)]
    pub container_options: Vec<String>,
    /// Send only the kwargs line and eof, no private data dir (the API's only_transmit_kwargs).
    #[arg(long)]
    pub only_transmit_kwargs: bool,
    /// Accepted for compatibility; ignored.
    #[arg(long, hide = true)]
    pub debug: bool,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct WorkerArgs {
    #[command(subcommand)]
    pub action: Option<WorkerAction>,
    /// Where to unpack the job (default: a temp dir, removed afterwards).
    #[arg(long)]
    pub private_data_dir: Option<PathBuf>,
    /// Remove the private data dir before the job and after it.
    #[arg(long = "delete")]
    pub delete: bool,
    /// Send a keepalive event after this many idle seconds, fractions allowed, 0.1 at
    /// least (default: the ANSIBLE_RUNNER_KEEPALIVE_SECONDS variable, else none; 0: none).
    #[arg(long, value_parser = seconds)]
    pub keepalive_seconds: Option<f64>,
    /// Print this node's capacity (cpu, memory, node uuid) as upstream does, and exit.
    #[arg(long)]
    pub worker_info: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Subcommand, Debug)]
pub enum WorkerAction {
    /// Remove private data dirs of finished jobs (and container images), like upstream's.
    Cleanup(CleanupArgs),
}

#[derive(Args, Debug)]
pub struct CleanupArgs {
    /// A glob matching private data dirs to remove.
    #[arg(long)]
    pub file_pattern: Option<String>,
    /// Comma-separated words: matching paths are kept.
    #[arg(long, num_args = 1..)]
    pub exclude_strings: Vec<String>,
    /// Comma-separated image tags to remove.
    #[arg(long, num_args = 1..)]
    pub remove_images: Vec<String>,
    /// Minutes since a dir's last change before it may be removed.
    #[arg(long, default_value_t = 60)]
    pub grace_period: u64,
    /// Also prune dangling images.
    #[arg(long)]
    pub image_prune: bool,
    /// Container runtime for image cleanup.
    #[arg(long, default_value = "podman")]
    pub process_isolation_executable: String,
}

/// A number of seconds: a finite, non-negative decimal (upstream's CLI takes whole seconds,
/// its Python API any float).
fn seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
        _ => Err(format!("{text:?} is not a number of seconds")),
    }
}
