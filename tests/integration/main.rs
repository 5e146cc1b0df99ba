//! The integration tests: one binary, so wasmtime and the host are linked once, with a
//! module per area. `make check` runs the modules that need no upstream venv, no podman,
//! no browser and no network (see the Makefile's QUICK_TESTS); `make test` runs them all.
//! Each module says what it needs in its own doc comment.

mod common;

mod awx_jobs;
mod bindings_differential;
mod conformance;
mod field_failures;
mod frames_snapshot;
mod hostile_corpus;
mod inspect;
mod limits;
mod plan_compat;
mod process_compat;
mod process_errors;
mod process_resume;
mod sandbox_escape;
mod transmit_compat;
mod truncation;
mod view;
mod wasi_fallback;
mod worker_behaviour;
mod worker_compat;
