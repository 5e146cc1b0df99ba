//! Path rules: which archive entry names are safe, where `process` writes, and how
//! transmit relativizes paths the way upstream does. Pure string functions.

use crate::error::{EntryError, ErrorKind};

/// A checked relative path: components joined by `/`, none empty, `.` or `..`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SafePath(String);

impl SafePath {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Every proper ancestor, shortest first (`a`, `a/b` for `a/b/c`).
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        self.0.match_indices('/').map(move |(i, _)| &self.0[..i])
    }
}

/// Checks a zip entry name and normalizes it the way Python's zipfile extracts it
/// (`./x` and `a//b` are harmless and accepted). Anything that could leave the target
/// directory is refused: absolute names, `..`, backslashes, drive letters, NUL bytes.
/// Returns the path and whether the name marks a directory (trailing `/`).
pub fn entry_path(name: &str) -> Result<(SafePath, bool), EntryError> {
    let unsafe_entry = |why: &str| EntryError::new(ErrorKind::Unsafe, format!("archive entry {name:?}: {why}"));
    if name.contains('\0') {
        return Err(unsafe_entry("name contains a NUL byte"));
    }
    if name.contains('\\') {
        return Err(unsafe_entry("name contains a backslash"));
    }
    if name.starts_with('/') {
        return Err(unsafe_entry("absolute name"));
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
        return Err(unsafe_entry("name starts with a drive letter"));
    }
    let is_dir = name.ends_with('/');
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_entry("name contains '..'")),
            _ if part.len() > 255 => return Err(unsafe_entry("a path component is longer than 255 bytes")),
            _ => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(unsafe_entry("name has no path components"));
    }
    Ok((SafePath(parts.join("/")), is_dir))
}

/// `job_events/<counter>-<uuid>.json` file name, from `str()` of the two values as upstream
/// builds it; refused when it is not one plain file name (upstream would write wherever a
/// `/` or `..` in the uuid points).
pub fn event_file_name(counter: &str, uuid: &str) -> Result<String, EntryError> {
    let name = format!("{counter}-{uuid}.json");
    if name.contains('/') || name.contains('\0') || name.contains('\\') || name.len() > 255 {
        return Err(EntryError::new(ErrorKind::Unsafe, format!("event file name {name:?} is not a plain file name")));
    }
    Ok(name)
}

/// The directory `process` writes to, as upstream's Processor picks it: `--artifact-dir` as
/// given; else `<pdd>/artifacts/<ident>` when an ident is set; else `<pdd>/artifacts`.
/// Both inputs are host paths; the result is made absolute against `cwd` like `abspath`.
pub fn process_artifact_dir(cwd: &str, private_data_dir: &str, ident: Option<&str>, artifact_dir: Option<&str>) -> String {
    if let Some(dir) = artifact_dir.filter(|d| !d.is_empty()) {
        return abspath(cwd, dir);
    }
    let artifacts = abspath(cwd, &join(private_data_dir, "artifacts"));
    match ident.filter(|i| !i.is_empty()) {
        Some(ident) => join(&artifacts, ident),
        None => artifacts,
    }
}

/// Python's `os.path.join` for two POSIX paths.
pub fn join(a: &str, b: &str) -> String {
    if b.starts_with('/') || a.is_empty() {
        b.to_string()
    } else if a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// Python's `os.path.abspath`: join with cwd, then `normpath`.
pub fn abspath(cwd: &str, path: &str) -> String {
    normpath(&join(cwd, path))
}

/// Python's `os.path.normpath` for POSIX paths.
pub fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let initial = if path.starts_with("//") && !path.starts_with("///") {
        "//"
    } else if path.starts_with('/') {
        "/"
    } else {
        ""
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if !parts.is_empty() && parts.last() != Some(&"..") => {
                parts.pop();
            }
            ".." if !initial.is_empty() => {}
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    let result = format!("{initial}{joined}");
    if result.is_empty() {
        ".".into()
    } else {
        result
    }
}

/// Python's `os.path.relpath(path, start)` for absolute, normalized POSIX paths.
pub fn relpath(path: &str, start: &str) -> String {
    let p: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let s: Vec<&str> = start.split('/').filter(|s| !s.is_empty()).collect();
    let common = p.iter().zip(&s).take_while(|(a, b)| a == b).count();
    let mut out: Vec<&str> = std::iter::repeat_n("..", s.len() - common).collect();
    out.extend(&p[common..]);
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}

/// Upstream's streamer rule: an absolute `path` that starts (as a string) with `base` is sent
/// relative to `base`; anything else is sent as is.
pub fn relative_if_under(path: &str, base: &str) -> String {
    if path.starts_with('/') && path.starts_with(base) {
        relpath(&normpath(path), &normpath(base))
    } else {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_normalized_like_zipfile_extract() {
        assert_eq!(entry_path("./top-link").unwrap(), (SafePath("top-link".into()), false));
        assert_eq!(entry_path("a//b/./c/").unwrap(), (SafePath("a/b/c".into()), true));
        assert_eq!(entry_path("ünï/日本.txt").unwrap().0.as_str(), "ünï/日本.txt");
    }

    #[test]
    fn escaping_entry_names_are_refused() {
        for bad in ["../x", "a/../../x", "/etc/passwd", "a\\..\\b", "C:/x", "c:x", "a\0b", "", "./", "//"] {
            let err = entry_path(bad).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Unsafe, "{bad:?}");
            assert!(err.message.contains("archive entry"), "{}", err.message);
        }
    }

    #[test]
    fn ancestors_are_listed_shortest_first() {
        let (p, _) = entry_path("a/b/c").unwrap();
        assert_eq!(p.ancestors().collect::<Vec<_>>(), ["a", "a/b"]);
    }

    #[test]
    fn event_file_names_must_stay_in_job_events() {
        assert_eq!(event_file_name("3", "abc").unwrap(), "3-abc.json");
        assert_eq!(event_file_name("1", "../../x").unwrap_err().kind, ErrorKind::Unsafe);
    }

    #[test]
    fn artifact_dir_rules_match_upstream() {
        assert_eq!(process_artifact_dir("/w", "pdd", None, None), "/w/pdd/artifacts");
        assert_eq!(process_artifact_dir("/w", "pdd", Some("j1"), None), "/w/pdd/artifacts/j1");
        assert_eq!(process_artifact_dir("/w", "/p", Some("j1"), Some("out/../a")), "/w/a");
        assert_eq!(process_artifact_dir("/w", "/p/", Some(""), None), "/p/artifacts");
    }

    #[test]
    fn python_path_helpers() {
        assert_eq!(normpath("/a/./b/../c/"), "/a/c");
        assert_eq!(normpath("/../a"), "/a");
        assert_eq!(normpath("a/../.."), "..");
        assert_eq!(relpath("/a/b/c", "/a/d"), "../b/c");
        assert_eq!(relative_if_under("/pdd/project/site.yml", "/pdd/project"), "site.yml");
        assert_eq!(relative_if_under("/pdd2/x", "/pdd"), "../pdd2/x");
        assert_eq!(relative_if_under("site.yml", "/pdd"), "site.yml");
    }
}
