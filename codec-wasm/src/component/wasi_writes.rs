//! The writes of `fast-writes` done through WASI, for a host that answers `unsupported`.
//! WASI confines every path to its grant; what these add is the contract's: a link at the
//! final path is replaced, never written through, and a file never holds data under a
//! wider mode than asked.

use std::fs::{self, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};

use super::host_fs;

/// Creates or replaces the regular file at `path`: whatever entry is there (a file or a
/// link, never followed) is removed, the file is created anew (an exclusive create follows
/// no link), narrowed to `mode` while still empty, then filled.
pub fn write_file(path: &str, data: &[u8], mode: u32) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    host_fs::set_mode(path, mode).map_err(io::Error::other)?;
    file.write_all(data)
}

/// Writes `data` at `offset` of the existing regular file at `path`.
pub fn write_at(path: &str, offset: u64, data: &[u8]) -> io::Result<()> {
    // A link here would be followed by the open below (inside the grant, WASI sees to that).
    match host_fs::lstat(path).map_err(io::Error::other)? {
        Some(meta) if meta.mode & 0o170000 == 0o100000 => {}
        Some(_) => return Err(io::Error::other(format!("{path}: not a regular file"))),
        None => return Err(io::Error::new(io::ErrorKind::NotFound, format!("{path}: no such file"))),
    }
    let mut file = OpenOptions::new().write(true).open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(data)
}
