//! What a run hands the component from the command line: the user's stream limits over the
//! codec's defaults, and the sandbox budget. The arguments themselves are the shared
//! grammar's (`runnerwire_policy::args`).

use runnerwire_policy::args::{LimitArgs, SandboxArgs};

use super::bindings::wit_types;
use super::runtime::Budget;

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

/// The sandbox budget the user asked for.
pub fn budget(sandbox: &SandboxArgs) -> Budget {
    Budget {
        max_memory_bytes: sandbox.max_memory_bytes,
        call_timeout: std::time::Duration::from_secs_f64(sandbox.step_timeout),
    }
}
