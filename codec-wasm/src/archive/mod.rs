//! Directories as zips, the way upstream's `stream_dir` and `unstream_dir` move them:
//! packing (with DOS timestamps), the zipfile frame that carries a packed directory, and
//! unpacking a received one behind bounds checks that never write outside the target.

pub(crate) mod dostime;
pub(crate) mod encode;
pub(crate) mod entry_rules;
pub(crate) mod pack;
pub(crate) mod spool;
pub(crate) mod stream;
pub(crate) mod unpack;
pub(crate) mod zip_bounds;
pub(crate) mod zip_layout;

#[cfg(all(test, unix))]
mod tests;
