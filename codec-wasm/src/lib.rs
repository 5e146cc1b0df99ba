//! runnerwire's format core: ansible-runner's job and result streams.
//!
//! Everything here is deterministic and does no IO of its own except through the
//! directories it is given: [`decoder`] is a sans-IO frame decoder, [`pyjson`] parses and
//! re-encodes JSON exactly as CPython's `json` module does, [`pack`] and [`unpack`] move
//! directories in and out of zips, and [`process`] and [`transmit`] are the two
//! controller-side stages built on them. Compiled for wasm32-wasip2, `component` exports it
//! all through the WIT interface in `wit/`.

pub mod archive_stream;
pub mod base64;
pub mod bytescan;
pub mod decoder;
pub mod dostime;
pub mod error;
pub mod fsys;
pub mod inspect;
/// The fuzz harnesses: for the cargo-fuzz targets (which build with `--cfg fuzzing`) and
/// the replay tests, compiled into nothing else.
#[cfg(any(fuzzing, test))]
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod pack;
pub mod paths;
pub mod pyjson;
pub mod unpack;
pub mod process;
pub mod resume;
pub mod transmit;
pub mod worker;
pub mod zip_bounds;

#[cfg(target_arch = "wasm32")]
mod component;

#[cfg(all(test, unix))]
mod archive_tests;
#[cfg(all(test, unix))]
mod fuzz_replays;
