//! What an archive's entries may do to one another, and the words for each refusal: the
//! unpacker (so `process` and `worker`) stops at the first entry that breaks a rule; the
//! inspector's lister reports every one. Both take the rules and the words from here, so
//! `validate` names the entry `process` refuses, as `process` names it.

use std::collections::{HashMap, HashSet};

use crate::archive::zip_bounds::Declared;
use crate::error::{EntryError, ErrorKind, Problem};
use crate::paths::SafePath;

/// Longest symlink target accepted (Linux PATH_MAX).
pub const MAX_LINK_TARGET: u64 = 4096;
/// Inflated size below which an entry's compression ratio is not checked: small files of
/// repeated bytes are normal.
pub const RATIO_GRACE: u64 = 1 << 20;

/// The entries of one archive seen so far.
#[derive(Default)]
pub struct EntryRules {
    /// Each entry's normalized path and original name: two entries may not land on one path.
    claimed: HashMap<String, String>,
    /// Directories an earlier entry needs (its ancestors, or a directory entry).
    needed_dirs: HashSet<String>,
    /// Paths of the symlinks earlier entries make: nothing may be unpacked through them.
    links: HashSet<String>,
}

impl EntryRules {
    /// Takes entry `name` (at `path`): refused when it lands where an earlier entry did
    /// (`a//b` and `a/b` are one path), when it is a file where an earlier entry needed a
    /// directory, or when it lies under a symlink an earlier entry made.
    pub fn claim(&mut self, name: &str, path: &SafePath, is_dir: bool, is_link: bool) -> Result<(), EntryError> {
        if let Some(earlier) = self.claimed.insert(path.as_str().to_string(), name.to_string()) {
            return Err(EntryError::problem(
                Problem::UnsafeEntry,
                format!("archive entry {name:?} lands on {:?} like the earlier entry {earlier:?}", path.as_str()),
            ));
        }
        if !is_dir && self.needed_dirs.contains(path.as_str()) {
            return Err(EntryError::problem(
                Problem::UnsafeEntry,
                format!("archive entry {name:?} would replace the directory {:?} an earlier entry needed", path.as_str()),
            ));
        }
        if let Some(link) = path.ancestors().find(|a| self.links.contains(*a)) {
            return Err(through_link(name, link));
        }
        self.needed_dirs.extend(path.ancestors().map(str::to_string));
        if is_dir {
            self.needed_dirs.insert(path.as_str().to_string());
        }
        if is_link {
            self.links.insert(path.as_str().to_string());
        }
        Ok(())
    }
}

/// An entry under a symlink: unpacking it would write wherever the link points.
pub fn through_link(name: &str, link: &str) -> EntryError {
    EntryError::problem(Problem::UnsafeEntry, format!("archive entry {name:?} goes through the symlink {link:?}"))
}

/// A symlink entry whose target text is over [`MAX_LINK_TARGET`] bytes.
pub fn link_target_too_long(name: &str) -> EntryError {
    EntryError::problem(Problem::UnpackedTooLarge, format!("archive entry {name:?}: symlink target longer than {MAX_LINK_TARGET} bytes"))
}

/// A symlink entry whose target text is not UTF-8.
pub fn link_target_not_utf8(name: &str) -> EntryError {
    EntryError::problem(Problem::BadArchive, format!("archive entry {name:?}: symlink target is not UTF-8"))
}

/// Whether `inflated` bytes from `compressed` are past `max_ratio` (after the grace).
pub fn over_ratio(inflated: u64, compressed: u64, max_ratio: u32) -> bool {
    inflated > RATIO_GRACE && inflated > compressed.max(1).saturating_mul(u64::from(max_ratio))
}

/// An entry that inflates past the ratio limit: a zip bomb.
pub fn ratio_exceeded(name: &str, max_ratio: u32, compressed: u64) -> EntryError {
    EntryError::problem(
        Problem::CompressionRatio,
        format!("archive entry {name:?}: inflates to over {max_ratio} times its {compressed} compressed bytes (max compression ratio)"),
    )
}

/// An entry's data that cannot be read (a CRC mismatch, broken deflate).
pub fn unreadable(name: &str, error: impl std::fmt::Display) -> EntryError {
    EntryError::new(ErrorKind::Malformed, format!("archive entry {name:?}: {error}"))
}

/// Names repeated in the archive (the zip reader keys entries by name, so a repeated name
/// shows only as fewer entries than an end record declares), if there are any.
pub fn duplicate_names(declared: &[Declared], distinct: u64) -> Option<EntryError> {
    if declared.iter().any(|d| d.entries == distinct) {
        return None;
    }
    let entries = declared.first().map_or(0, |d| d.entries);
    let message = format!("archive has duplicate entry names ({entries} entries, {distinct} distinct names)");
    Some(EntryError::problem(Problem::UnsafeEntry, message))
}

/// An entry the zip reader cannot give at all.
pub fn missing_entry(index: usize, error: impl std::fmt::Display) -> EntryError {
    EntryError::new(ErrorKind::Malformed, format!("archive entry #{index}: {error}"))
}

/// An entry name the zip reader cannot give.
pub fn bad_name(index: usize, error: impl std::fmt::Display) -> EntryError {
    EntryError::new(ErrorKind::Malformed, format!("archive entry #{index}: name is not valid: {error}"))
}
