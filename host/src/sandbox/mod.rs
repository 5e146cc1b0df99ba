//! The sandbox the codec component runs in: the wasmtime embedding (`runtime`, whose
//! `TimedStore::call` is the one way into the component, each call under a fresh time
//! budget), the bindings generated from the component's WIT (`bindings`), the directories
//! a run is granted and the `host-fs` import on them (`host_fs`, `write_queue`, `state`),
//! the `native-pack` import that encodes archives' files on every core (`native_pack`),
//! and the stream limits handed to the component (`limits`). Nothing here imports the CLI.

mod bindings;
mod host_fs;
#[cfg(test)]
mod host_fs_escapes;
mod limits;
mod native_pack;
mod runtime;
mod state;
mod write_queue;

pub use bindings::{wit_frames, wit_process, wit_transmit, wit_types, wit_worker};
pub use host_fs::Grant;
pub use limits::{budget, wit_limits};
pub use runnerwire_policy::args::LimitArgs;
pub use runtime::{engine_config, engine_config_for, precompile, BUILD_TARGET, Budget, Instance, Runtime, TimedStore, Trapped, COMPONENT};
pub use state::HostState;

/// The wasmtime this host is built on, for crates that embed the host (the Python module).
pub use wasmtime;
