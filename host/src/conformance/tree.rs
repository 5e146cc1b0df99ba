//! Directory trees as comparable values: what a stage left (from disk) against what
//! upstream left (from the recorded tar), with contents, modes, link targets and times.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Fifo,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits.
    pub mode: u32,
    pub mtime: i64,
}

/// A directory tree by relative path.
pub type Tree = BTreeMap<String, Node>;

pub fn from_dir(root: &Path) -> io::Result<Tree> {
    let mut tree = Tree::new();
    walk(root, root, &mut tree)?;
    Ok(tree)
}

fn walk(root: &Path, dir: &Path, tree: &mut Tree) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let meta = std::fs::symlink_metadata(&path)?;
        let rel = path.strip_prefix(root).map_err(io::Error::other)?.to_string_lossy().into_owned();
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            Kind::Symlink(std::fs::read_link(&path)?.to_string_lossy().into_owned())
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File(std::fs::read(&path)?)
        } else {
            Kind::Fifo
        };
        let is_dir = kind == Kind::Dir;
        tree.insert(rel, Node { kind, mode: meta.mode() & 0o7777, mtime: meta.mtime() });
        if is_dir {
            walk(root, &path, tree)?;
        }
    }
    Ok(())
}

pub fn from_tar(reader: impl Read) -> io::Result<Tree> {
    let mut tree = Tree::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let header = entry.header().clone();
        let rel = entry.path()?.to_string_lossy().trim_end_matches('/').to_string();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(entry.link_name()?.unwrap_or_default().to_string_lossy().into_owned()),
            tar::EntryType::Fifo => Kind::Fifo,
            _ => {
                let mut data = Vec::new();
                entry.read_to_end(&mut data)?;
                Kind::File(data)
            }
        };
        tree.insert(rel, Node { kind, mode: header.mode()? & 0o7777, mtime: header.mtime()? as i64 });
    }
    Ok(tree)
}

/// Differences between two trees, one line each; `mtime_slack` None ignores mtimes,
/// and `check_mtime` picks the entries whose mtime matters.
pub fn diff(expected: &Tree, actual: &Tree, mtime_slack: Option<i64>, check_mtime: &dyn Fn(&str, &Node) -> bool) -> Vec<String> {
    let mut diffs = Vec::new();
    for (path, want) in expected {
        match actual.get(path) {
            None => diffs.push(format!("missing: {path}")),
            Some(got) => {
                if got.kind != want.kind {
                    let show = |k: &Kind| match k {
                        Kind::File(d) => format!("file of {} bytes", d.len()),
                        other => format!("{other:?}"),
                    };
                    diffs.push(format!("{path}: expected {}, found {}", show(&want.kind), show(&got.kind)));
                }
                // Symlink permission bits are meaningless on Linux.
                if got.mode != want.mode && !matches!(want.kind, Kind::Symlink(_)) {
                    diffs.push(format!("{path}: mode {:o}, expected {:o}", got.mode, want.mode));
                }
                if let Some(slack) = mtime_slack {
                    if check_mtime(path, want) && (got.mtime - want.mtime).abs() > slack {
                        diffs.push(format!("{path}: mtime {} expected {} (±{slack}s)", got.mtime, want.mtime));
                    }
                }
            }
        }
    }
    for path in actual.keys() {
        if !expected.contains_key(path) {
            diffs.push(format!("unexpected: {path}"));
        }
    }
    diffs
}

/// Unpacks a tar into `into` with modes, times, links and FIFOs (which the tar crate
/// would write as empty files).
pub fn extract_tar(reader: impl Read, into: &Path) -> io::Result<()> {
    std::fs::create_dir_all(into)?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    let mut dir_times = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let header = entry.header().clone();
        let rel = entry.path()?.into_owned();
        if header.entry_type() == tar::EntryType::Fifo {
            use std::os::unix::ffi::OsStrExt;
            let path = into.join(&rel);
            let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
            // SAFETY: a valid NUL-terminated path.
            if unsafe { libc::mkfifo(c_path.as_ptr(), header.mode()? & 0o7777) } != 0 {
                return Err(io::Error::last_os_error());
            }
            continue;
        }
        if header.entry_type() == tar::EntryType::Directory {
            dir_times.push((into.join(&rel), header.mtime()?));
        }
        entry.unpack_in(into)?;
    }
    // A directory's time changes as its entries are written: set them last, deepest first.
    for (dir, mtime) in dir_times.into_iter().rev() {
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime);
        let _ = std::fs::File::open(&dir).and_then(|f| f.set_modified(time));
    }
    Ok(())
}
