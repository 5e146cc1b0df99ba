//! Listing a spooled `zipfile` archive without unpacking it: each entry's name, sizes,
//! mode, link target and whether its data matches its CRC, plus every problem `unpack`
//! would refuse it for (unsafe names and links, duplicates, limits, bad structure).

use std::fs::File;
use std::io::{self, Read};

use crate::error::Problem as Kind;
use crate::fsys::{S_IFLNK, S_IFMT};
use crate::limits::Limits;
use crate::paths;
use crate::archive::entry_rules::{self, EntryRules, MAX_LINK_TARGET};
use crate::archive::zip_bounds;
use crate::error::EntryError;

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
    pub kind: Kind,
    pub message: String,
}


/// Lists the zip at `path`; problems do not stop the listing where it can go on. Each is
/// found by the rules and worded as the unpacker words it ([`entry_rules`]), in the order
/// the unpacker checks an entry, so its first problem is the one `process` stops at.
pub fn list(path: &str, limits: &Limits) -> (Vec<Entry>, Vec<ArchiveProblem>) {
    let mut problems = Vec::new();
    let mut refused = |e: EntryError| problems.push(ArchiveProblem { kind: e.problem, message: e.message });
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            refused(EntryError::problem(Kind::BadArchive, format!("cannot read the spooled archive: {e}")));
            return (Vec::new(), problems);
        }
    };
    let archive_len = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    let declared = match zip_bounds::check(&mut file, limits) {
        Ok(d) => d,
        Err(e) => {
            refused(e);
            return (Vec::new(), problems);
        }
    };
    let mut archive = match zip::ZipArchive::new(io::BufReader::new(file)) {
        Ok(a) => a,
        Err(e) => {
            refused(zip_bounds::malformed(e));
            return (Vec::new(), problems);
        }
    };
    if let Some(duplicates) = entry_rules::duplicate_names(&declared, archive.len() as u64) {
        refused(duplicates);
    }
    let mut entries = Vec::new();
    let mut rules = EntryRules::default();
    for index in 0..archive.len() {
        let mut entry = match archive.by_index(index) {
            Ok(e) => e,
            Err(e) => {
                refused(entry_rules::missing_entry(index, e));
                continue;
            }
        };
        let name = match entry.name() {
            Ok(n) => n.into_owned(),
            Err(e) => {
                refused(entry_rules::bad_name(index, e));
                continue;
            }
        };
        let mode = entry.external_attributes() >> 16;
        let is_link = mode & S_IFMT == S_IFLNK;
        let (size, compressed_size) = (entry.size(), entry.compressed_size());
        match paths::entry_path(&name) {
            Ok((safe, is_dir)) => {
                if let Err(e) = rules.claim(&name, &safe, is_dir, is_link) {
                    refused(e);
                }
            }
            Err(e) => refused(e),
        }
        // Read the data: the zip reader checks the CRC at the end; a link's text is bounded,
        // a file's ratio checked as it inflates.
        let compressed = compressed_size.min(archive_len);
        let mut crc_ok = true;
        let mut link_text = Vec::new();
        let mut read = 0u64;
        let mut buf = [0u8; 64 << 10];
        loop {
            match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    read += n as u64;
                    if is_link {
                        link_text.extend_from_slice(&buf[..n]);
                        if read > MAX_LINK_TARGET {
                            refused(entry_rules::link_target_too_long(&name));
                            crc_ok = false;
                            break;
                        }
                    } else if entry_rules::over_ratio(read, compressed, limits.max_compression_ratio) {
                        refused(entry_rules::ratio_exceeded(&name, limits.max_compression_ratio, compressed));
                        crc_ok = false;
                        break;
                    }
                }
                Err(e) => {
                    crc_ok = false;
                    refused(entry_rules::unreadable(&name, e));
                    break;
                }
            }
        }
        let link_target = is_link.then(|| String::from_utf8_lossy(&link_text).into_owned());
        if is_link && crc_ok && std::str::from_utf8(&link_text).is_err() {
            refused(entry_rules::link_target_not_utf8(&name));
        }
        entries.push(Entry { name, size, compressed_size, mode, link_target, crc_ok });
    }
    (entries, problems)
}

