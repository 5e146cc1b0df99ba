//! The Rust side of the component's WIT world: what `bindgen!` generates (the exports the
//! stages call, the `host-fs` import the store implements) and short names for the
//! exported interfaces.

wasmtime::component::bindgen!({ path: "../codec-wasm/wit", world: "codec" });

pub use exports::runnerwire::codec::{
    frames as wit_frames, process as wit_process, transmit as wit_transmit, types as wit_types, worker as wit_worker,
};
