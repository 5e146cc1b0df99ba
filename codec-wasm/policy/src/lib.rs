//! What runnerwire's runs are called and how they end, written once: exit codes, the words
//! of each error kind and each kind of stream damage, upstream's words for a broken stream, the exit code of a `process` outcome, the command-line grammar of
//! the stages every runtime runs (inspect, validate, process), upstream's rule for an
//! `--inventory` value, and what is made in the private data dir before a stage runs. The native host links this
//! crate; the component exports it (`types.exit-code`, `types.describe`, `cli.parse`), so
//! the Node and Python packages ask instead of keeping copies.

pub mod args;
pub mod entry_data;
pub mod errors;
pub mod exit;
pub mod explain;
pub mod inventory;
pub mod paths;
pub mod prepare;
pub mod problems;

pub use errors::ErrorKind;
pub use problems::{describe_problem, Problem};
