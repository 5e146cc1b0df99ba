//! Listing a spooled `zipfile` archive without unpacking it: each entry's name, sizes,
//! mode, link target and whether its data matches its CRC, plus every problem `unpack`
//! would refuse it for (unsafe names and links, duplicates, limits, bad structure).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};

use crate::fsys::{S_IFLNK, S_IFMT};
use crate::limits::Limits;
use crate::paths;
use crate::archive::zip_bounds;

/// One archive entry as listed.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    pub compressed_size: u64,
    /// `st_mode` from the external attributes (0 when the archive gives none).
    pub mode: u32,
    pub link_target: Option<String>,
    pub crc_ok: bool,
}

/// A problem found in the archive: its kind (`bad-archive`, `unsafe-entry` or a limit) and
/// a one-line message naming the entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchiveProblem {
    pub kind: &'static str,
    pub message: String,
}

const RATIO_GRACE: u64 = 1 << 20;
const MAX_LINK_TARGET: usize = 4096;

/// Lists the zip at `path`; problems do not stop the listing where it can go on.
pub fn list(path: &str, limits: &Limits) -> (Vec<Entry>, Vec<ArchiveProblem>) {
    let mut problems = Vec::new();
    let mut problem = |kind: &'static str, message: String| problems.push(ArchiveProblem { kind, message });
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            problem("bad-archive", format!("cannot read the spooled archive: {e}"));
            return (Vec::new(), problems);
        }
    };
    let declared = match zip_bounds::check(&mut file, limits) {
        Ok(d) => d,
        Err(e) => {
            let kind = if e.kind == crate::error::ErrorKind::Limit { "too-many-entries" } else { "bad-archive" };
            problem(kind, e.message);
            return (Vec::new(), problems);
        }
    };
    let mut archive = match zip::ZipArchive::new(io::BufReader::new(file)) {
        Ok(a) => a,
        Err(e) => {
            problem("bad-archive", format!("zipfile is not a valid zip archive: {e}"));
            return (Vec::new(), problems);
        }
    };
    let distinct = archive.len() as u64;
    if let Some(first) = declared.first().filter(|_| !declared.iter().any(|d| d.entries == distinct)) {
        problem("unsafe-entry", format!("archive has duplicate entry names ({} entries, {distinct} distinct names)", first.entries));
    }
    let mut entries = Vec::new();
    let mut paths_seen: HashMap<String, String> = HashMap::new();
    let mut links: Vec<String> = Vec::new();
    for index in 0..archive.len() {
        let mut entry = match archive.by_index(index) {
            Ok(e) => e,
            Err(e) => {
                problem("bad-archive", format!("archive entry #{index}: {e}"));
                continue;
            }
        };
        let name = match entry.name() {
            Ok(n) => n.into_owned(),
            Err(e) => {
                problem("bad-archive", format!("archive entry #{index}: name is not valid: {e}"));
                continue;
            }
        };
        let mode = entry.external_attributes() >> 16;
        let is_link = mode & S_IFMT == S_IFLNK;
        let (size, compressed_size) = (entry.size(), entry.compressed_size());
        match paths::entry_path(&name) {
            Ok((safe, _)) => {
                let normalized = safe.as_str().to_string();
                if let Some(link) = safe.ancestors().find(|a| links.iter().any(|l| l == a)) {
                    problem("unsafe-entry", format!("archive entry {name:?}: lies under the symlink {link:?}, which unpacking would write through"));
                }
                if let Some(earlier) = paths_seen.insert(normalized.clone(), name.clone()) {
                    problem("unsafe-entry", format!("archive entries {earlier:?} and {name:?} land on the same path"));
                }
                if is_link {
                    links.push(normalized);
                }
            }
            Err(e) => problem("unsafe-entry", e.message),
        }
        // Read the data: the zip reader checks the CRC at the end; the ratio is bounded as we go.
        let mut crc_ok = true;
        let mut link_text = Vec::new();
        let mut read = 0u64;
        let mut buf = [0u8; 64 << 10];
        loop {
            match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    read += n as u64;
                    if is_link && link_text.len() < MAX_LINK_TARGET {
                        link_text.extend_from_slice(&buf[..n.min(MAX_LINK_TARGET - link_text.len())]);
                    }
                    if read > RATIO_GRACE && read > compressed_size.max(1).saturating_mul(u64::from(limits.max_compression_ratio)) {
                        problem(
                            "compression-ratio",
                            format!("archive entry {name:?} inflates to over {} times its {compressed_size} compressed bytes", limits.max_compression_ratio),
                        );
                        crc_ok = false;
                        break;
                    }
                }
                Err(e) => {
                    crc_ok = false;
                    problem("bad-archive", format!("archive entry {name:?}: {e}"));
                    break;
                }
            }
        }
        let link_target = is_link.then(|| String::from_utf8_lossy(&link_text).into_owned());
        if let Some(target) = &link_target {
            if escapes(&name, target) {
                problem("unsafe-entry", format!("archive entry {name:?}: symlink points outside the target ({target:?})"));
            }
        }
        entries.push(Entry { name, size, compressed_size, mode, link_target, crc_ok });
    }
    (entries, problems)
}

/// A link target that is absolute or climbs above the archive's root from where it sits.
fn escapes(name: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return true;
    }
    let mut depth: i64 = name.trim_start_matches("./").trim_end_matches('/').matches('/').count() as i64;
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::escapes;

    #[test]
    fn link_targets_outside_the_root_escape() {
        assert!(escapes("evil", "/etc"));
        assert!(escapes("evil", ".."));
        assert!(escapes("a/evil", "../../x"));
        assert!(!escapes("a/link", "../b"));
        assert!(!escapes("./link", "b/c"));
    }
}
