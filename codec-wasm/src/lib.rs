//! runnerwire's format core: ansible-runner's job and result streams.
//!
//! Everything here is deterministic and does no IO of its own except through the
//! directories it is given: `wire` turns stream bytes into frames (sans-IO), `pyjson`
//! parses and re-encodes JSON exactly as CPython's `json` module does, `archive` moves
//! directories in and out of zips, and `stages` are transmit, worker, process and inspect
//! built on them. Compiled for wasm32-wasip2, `component` exports it all through the WIT
//! interface in `wit/`; that is how the host and every binding use it.
//!
//! Natively the crate is built for its tests and the fuzz targets, so its public surface is
//! the sans-IO decoder and what its frames hold; the rest is private to the crate.

// Whether code is dead is judged by the component build, where the WIT exports use every
// stage; a native build reaches only what the tests and fuzz harnesses call.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod archive;
mod bytescan;
mod error;
mod fsys;
mod limits;
mod paths;
mod pyjson;
mod stages;
mod wire;

pub use error::{ErrorKind, StreamError};
pub use limits::Limits;
pub use pyjson::{PyStr, Value};
pub use wire::classify::{LineKind, StreamKind};
pub use wire::decoder::{Decoder, Frame, RawEvent};

/// The fuzz harnesses: for the cargo-fuzz targets (which build with `--cfg fuzzing`) and
/// the replay tests, compiled into nothing else.
#[cfg(any(fuzzing, test))]
#[doc(hidden)]
pub mod fuzzing;

#[cfg(target_arch = "wasm32")]
mod component;

#[cfg(all(test, unix))]
mod fuzz_replays;
