//! runnerwire's format core: ansible-runner's job and result streams.
//!
//! Everything here is deterministic and does no IO of its own except through the
//! directories it is given: [`wire`] turns stream bytes into frames (sans-IO), [`pyjson`]
//! parses and re-encodes JSON exactly as CPython's `json` module does, [`archive`] moves
//! directories in and out of zips, and [`stages`] are transmit, worker, process and inspect
//! built on them. Compiled for wasm32-wasip2, `component` exports it all through the WIT
//! interface in `wit/`.

pub mod archive;
pub mod bytescan;
pub mod error;
pub mod fsys;
/// The fuzz harnesses: for the cargo-fuzz targets (which build with `--cfg fuzzing`) and
/// the replay tests, compiled into nothing else.
#[cfg(any(fuzzing, test))]
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod paths;
pub mod pyjson;
pub mod stages;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod component;

#[cfg(all(test, unix))]
mod fuzz_replays;
