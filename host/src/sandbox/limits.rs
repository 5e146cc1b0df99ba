//! The stream limits a run hands the component: the user's bounds (one clap argument group,
//! flattened into each subcommand that reads a stream) over the codec's defaults.

use clap::Args;

use super::bindings::wit_types;

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

/// The user's limits over the codec's defaults, as the WIT interface takes them.
pub fn wit_limits(l: &LimitArgs, defaults: wit_types::Limits) -> wit_types::Limits {
    wit_types::Limits {
        max_line_bytes: l.max_line_bytes.unwrap_or(defaults.max_line_bytes),
        max_archive_bytes: l.max_archive_bytes.unwrap_or(defaults.max_archive_bytes),
        max_entries: l.max_entries.unwrap_or(defaults.max_entries),
        max_unpacked_bytes: l.max_unpacked_bytes.unwrap_or(defaults.max_unpacked_bytes),
        max_compression_ratio: l.max_compression_ratio.unwrap_or(defaults.max_compression_ratio),
        max_json_depth: l.max_json_depth.unwrap_or(defaults.max_json_depth),
    }
}
