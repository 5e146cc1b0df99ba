//! The stages that feed one stream through the codec: `transmit`, `process`, and `inspect`
//! (with `validate`); the chunked reading they share (`chunks`), and the path and ident
//! helpers the worker uses too (`paths`), stdio pipes widened for them (`pipes`), the scratch dirs they spool into (`scratch`); and `view`, which serves one stream to the page.

pub mod chunks;
pub mod inspect;
pub mod paths;
pub mod pipes;
pub mod process;
pub mod scratch;
pub mod transmit;
pub mod view;
