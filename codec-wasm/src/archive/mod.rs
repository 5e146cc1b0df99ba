//! Directories as zips, the way upstream's `stream_dir` and `unstream_dir` move them:
//! packing (with DOS timestamps), the zipfile frame that carries a packed directory, and
//! unpacking a received one behind bounds checks that never write outside the target.

pub mod dostime;
pub mod pack;
pub mod stream;
pub mod unpack;
pub mod zip_bounds;

#[cfg(all(test, unix))]
mod tests;
