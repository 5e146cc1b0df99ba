//! Resource limits, fixed when a decoder, processor or unpacker is created.

/// Bounds on what one stream may make us hold or write. Every limit is checked before the
/// resource is spent, and breaking one is an [`ErrorKind::Limit`](crate::error::ErrorKind) error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest JSON line, in bytes, newline included. Default 16 MiB: an ansible event with
    /// a large module result is a few MiB; a line is held whole in memory while parsed.
    pub max_line_bytes: u64,
    /// Largest `{"zipfile": N}` archive, in bytes of zip. Default 4 GiB. Archives are spooled
    /// to a scratch file, never held in memory.
    pub max_archive_bytes: u64,
    /// Most entries in one archive. Default 100,000.
    pub max_entries: u64,
    /// Most bytes written by unpacking the archives of one stream, counted as they are
    /// inflated (the sizes an archive declares are not trusted). Default 8 GiB.
    pub max_unpacked_bytes: u64,
    /// Most bytes an archive entry may inflate to per byte of its compressed data, checked
    /// once the entry passes 1 MiB. Default 250: text rarely compresses past 20:1, while a
    /// zip bomb of zeros reaches deflate's ~1030:1.
    pub max_compression_ratio: u32,
    /// Deepest nesting of JSON arrays and objects. Default 1,000: CPython's json module gives
    /// up near there (RecursionError), so nothing upstream accepts is refused.
    pub max_json_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: 16 << 20,
            max_archive_bytes: 4 << 30,
            max_entries: 100_000,
            max_unpacked_bytes: 8 << 30,
            max_compression_ratio: 250,
            max_json_depth: 1000,
        }
    }
}
