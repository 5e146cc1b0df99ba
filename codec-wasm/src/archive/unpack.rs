//! Unpacking a spooled zip into a target directory, as upstream's `unstream_dir` does, but
//! never writing outside the target: names are checked ([`paths::entry_path`]), no symlink is
//! ever followed (an existing one at an entry's path is replaced, one on the way is refused),
//! and sizes are counted as bytes are inflated.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};

use crate::archive::dostime::{self, ZipTime};
use crate::archive::entry_rules::{self, EntryRules, MAX_LINK_TARGET};
use crate::error::{EntryError, ErrorKind, Problem};
use crate::fsys::{HostFs, Meta, S_IFLNK, S_IFMT};
use crate::limits::Limits;
use crate::paths::{self, SafePath};
use crate::archive::zip_bounds;

/// Largest file captured with [`Unpacked::captured`].
const MAX_CAPTURE: u64 = 64;

/// What an unpack did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unpacked {
    pub entries: u64,
    pub bytes_written: u64,
    /// Content of the top-level file named by `capture`, if present and small (e.g. `rc`).
    pub captured: Option<Vec<u8>>,
}

/// Unpacks the zip at `zip_path` into `target` (both paths in the granted namespace).
/// The stages unpack with [`unpack_after`], which counts across a stream's archives; this
/// one-archive form is for the tests and the fuzz harness.
#[cfg(any(test, fuzzing))]
pub fn unpack(
    zip_path: &str,
    target: &str,
    fs: &dyn HostFs,
    limits: &Limits,
    capture: Option<&str>,
) -> Result<Unpacked, EntryError> {
    unpack_after(zip_path, target, fs, limits, capture, 0)
}

/// Unpacking for a later archive of the same stream: `written_before` bytes of the
/// stream's unpacked-bytes limit are spent already. The report counts from there.
pub fn unpack_after(
    zip_path: &str,
    target: &str,
    fs: &dyn HostFs,
    limits: &Limits,
    capture: Option<&str>,
    written_before: u64,
) -> Result<Unpacked, EntryError> {
    let mut file = File::open(zip_path).map_err(|e| EntryError::io("cannot open spooled archive", zip_path, e))?;
    let declared = zip_bounds::check(&mut file, limits)?;
    let archive_len = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    let mut archive = zip::ZipArchive::new(io::BufReader::with_capacity(64 << 10, file)).map_err(zip_bounds::malformed)?;
    if let Some(duplicates) = entry_rules::duplicate_names(&declared, archive.len() as u64) {
        return Err(duplicates);
    }
    let mut job = Unpacker {
        target,
        fs,
        limits,
        archive_len,
        checked_dirs: HashSet::new(),
        rules: EntryRules::default(),
        deferred_dirs: Vec::new(),
        report: Unpacked { bytes_written: written_before, ..Unpacked::default() },
    };
    for index in 0..archive.len() {
        let entry = archive
            .by_index(index)
            .map_err(|e| entry_rules::missing_entry(index, e))?;
        job.entry(index, entry, capture)?;
    }
    job.finish_dirs()?;
    Ok(job.report)
}

struct Unpacker<'a> {
    target: &'a str,
    fs: &'a dyn HostFs,
    limits: &'a Limits,
    /// Size of the spooled zip: no entry's compressed data can be larger.
    archive_len: u64,
    /// Ancestors already known to be real directories (not symlinks).
    checked_dirs: HashSet<String>,
    /// What earlier entries claimed: two may not land on one path, nothing goes under their links.
    rules: EntryRules,
    /// Directory modes and times, applied last so a read-only directory can still be filled.
    deferred_dirs: Vec<(String, u32, ZipTime)>,
    report: Unpacked,
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, index: usize, mut entry: zip::read::ZipFile<'_, R>, capture: Option<&str>) -> Result<(), EntryError> {
        let name = entry.name().map_err(|e| entry_rules::bad_name(index, e))?.into_owned();
        let (path, is_dir) = paths::entry_path(&name)?;
        let mode = entry.external_attributes() >> 16;
        let is_symlink = mode & S_IFMT == S_IFLNK;
        let dt = entry.last_modified().unwrap_or_default();
        let time = ZipTime {
            year: dt.year(),
            month: dt.month(),
            day: dt.day(),
            hour: dt.hour(),
            minute: dt.minute(),
            second: dt.second(),
        };
        self.report.entries += 1;
        self.rules.claim(&name, &path, is_dir, is_symlink)?;
        self.ensure_parents(&name, &path)?;
        let full = format!("{}/{}", self.target, path.as_str());
        match self.lstat(&full)? {
            Some(m) if m.is_dir() => {
                if is_symlink {
                    return Err(EntryError::new(
                        ErrorKind::Unsafe,
                        format!("archive entry {name:?}: a symlink would replace the directory {:?}", path.as_str()),
                    ));
                }
                // Upstream leaves an existing directory as it is, whatever the entry.
                return Ok(());
            }
            // Never write through an existing file or link: replace it. A FIFO too (opening
            // one waits for a reader): upstream removes it and drops the entry, losing the
            // file the stream sent; here the entry takes its place.
            Some(_) => std::fs::remove_file(&full).map_err(|e| EntryError::io("cannot replace", &full, e))?,
            None => {}
        }
        if is_dir {
            std::fs::create_dir(&full).map_err(|e| EntryError::io("cannot create directory", &full, e))?;
            self.checked_dirs.insert(path.as_str().to_string());
            self.deferred_dirs.push((full, mode & 0o777, time));
        } else if is_symlink {
            let link = self.read_small(&mut entry, &name, MAX_LINK_TARGET)?;
            let link = String::from_utf8(link).map_err(|_| entry_rules::link_target_not_utf8(&name))?;
            self.fs.symlink(&link, &full).map_err(|e| EntryError::io("cannot create symlink", &full, e))?;
        } else {
            let compressed = entry.compressed_size().min(self.archive_len);
            let captured = self.write_file(&mut entry, &name, &full, compressed)?;
            if capture == Some(path.as_str()) {
                self.report.captured = captured;
            }
            // Permission bits only: a set-uid bit from a remote node is never honoured.
            self.fs.set_mode(&full, mode & 0o777).map_err(|e| EntryError::io("cannot set mode of", &full, e))?;
            self.set_time(&full, time)?;
        }
        Ok(())
    }

    /// Every ancestor must be a real directory inside the target: created when missing,
    /// refused when it is a symlink (a link planted by an earlier entry is never followed).
    fn ensure_parents(&mut self, name: &str, path: &SafePath) -> Result<(), EntryError> {
        for ancestor in path.ancestors() {
            if self.checked_dirs.contains(ancestor) {
                continue;
            }
            let full = format!("{}/{ancestor}", self.target);
            match self.lstat(&full)? {
                None => std::fs::create_dir(&full).map_err(|e| EntryError::io("cannot create directory", &full, e))?,
                Some(m) if m.is_dir() => {}
                Some(m) if m.is_symlink() => return Err(entry_rules::through_link(name, ancestor)),
                Some(_) => {
                    return Err(EntryError::new(
                        ErrorKind::Malformed,
                        format!("archive entry {name:?}: {ancestor:?} is not a directory"),
                    ));
                }
            }
            self.checked_dirs.insert(ancestor.to_string());
        }
        Ok(())
    }

    fn lstat(&self, full: &str) -> Result<Option<Meta>, EntryError> {
        self.fs.lstat(full).map_err(|e| EntryError::io("cannot stat", full, e))
    }

    fn read_small(&mut self, entry: &mut impl Read, name: &str, max: u64) -> Result<Vec<u8>, EntryError> {
        let mut data = Vec::new();
        entry.take(max + 1).read_to_end(&mut data).map_err(|e| entry_rules::unreadable(name, e))?;
        if data.len() as u64 > max {
            return Err(entry_rules::link_target_too_long(name));
        }
        self.count(data.len() as u64, name)?;
        Ok(data)
    }

    fn count(&mut self, n: u64, name: &str) -> Result<(), EntryError> {
        self.report.bytes_written += n;
        if self.report.bytes_written > self.limits.max_unpacked_bytes {
            return Err(EntryError::problem(
                Problem::UnpackedTooLarge,
                format!(
                    "archive entry {name:?}: unpacked data exceeds the {}-byte limit (max unpacked bytes)",
                    self.limits.max_unpacked_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Streams one file out; a file that fails half way is removed. Returns its content
    /// when it is small enough to capture.
    fn write_file(&mut self, entry: &mut impl Read, name: &str, full: &str, compressed: u64) -> Result<Option<Vec<u8>>, EntryError> {
        let mut out = File::create(full).map_err(|e| EntryError::io("cannot create", full, e))?;
        let mut buf = vec![0u8; 64 << 10];
        let mut small = Some(Vec::new());
        let mut inflated = 0u64;
        let result = (|| {
            loop {
                let n = match entry.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(entry_rules::unreadable(name, e)),
                };
                self.count(n as u64, name)?;
                inflated += n as u64;
                self.check_ratio(inflated, compressed, name)?;
                if let Some(s) = &mut small {
                    if (s.len() + n) as u64 <= MAX_CAPTURE {
                        s.extend_from_slice(&buf[..n]);
                    } else {
                        small = None;
                    }
                }
                out.write_all(&buf[..n]).map_err(|e| EntryError::io("cannot write", full, e))?;
            }
        })();
        drop(out);
        if let Err(e) = result {
            let _ = std::fs::remove_file(full);
            return Err(e);
        }
        Ok(small)
    }

    fn check_ratio(&self, inflated: u64, compressed: u64, name: &str) -> Result<(), EntryError> {
        let ratio = self.limits.max_compression_ratio;
        if entry_rules::over_ratio(inflated, compressed, ratio) {
            return Err(entry_rules::ratio_exceeded(name, ratio, compressed));
        }
        Ok(())
    }

    fn set_time(&self, full: &str, time: ZipTime) -> Result<(), EntryError> {
        let offset = self.fs.utc_offset(dostime::naive_seconds(time));
        self.fs
            .set_mtime(full, dostime::from_zip_time(time, offset))
            .map_err(|e| EntryError::io("cannot set mtime of", full, e))
    }

    fn finish_dirs(&mut self) -> Result<(), EntryError> {
        for (full, mode, time) in std::mem::take(&mut self.deferred_dirs).into_iter().rev() {
            self.set_time(&full, time)?;
            self.fs.set_mode(&full, mode).map_err(|e| EntryError::io("cannot set mode of", &full, e))?;
        }
        Ok(())
    }
}
