//! Paths as upstream's Python makes them.

use std::path::{Component, Path, PathBuf};

/// `path` made absolute against `cwd` and normalized lexically, like Python's `abspath`.
pub fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    let joined = cwd.join(path);
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}
