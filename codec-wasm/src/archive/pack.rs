//! Packing a directory into a zip the way upstream's `stream_dir` does: deflated files with
//! `st_mode << 16` attributes, every directory as its own `name/` entry (empty ones kept),
//! symlinks stored with their target text (never followed), FIFOs skipped, times clamped
//! into the zip range. Entries are sorted, so the same tree gives the same archive.
//!
//! Unlike upstream, a file whose first block does not compress is stored, not deflated:
//! deflating random or already compressed bytes costs most of transmit's time and saves
//! nothing. Any zip reader (upstream's `zipfile` included) takes both methods.
//!
//! Deflating is most of the rest, so large files can be packed apart into "part" zips in
//! scratch, one per instance of the component on other cores ([`plan_parts`],
//! [`PartPacker`]); [`pack`] then copies their entries in as they are. A part's entry is the
//! one this packer would have written, so the archive is the same bytes either way.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::archive::dostime;
use crate::error::{EntryError, ErrorKind};
use crate::fsys::{HostFileWriter, HostFs, Meta, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG};

/// MS-DOS directory attribute, which Python also sets on directory entries.
const DOS_DIRECTORY: u32 = 0x10;
/// Zip64 is needed for entries of 4 GiB and more.
const ZIP64_THRESHOLD: u64 = 0xffff_ffff;
/// How much of a file the trial compression reads; smaller files are always deflated.
const TRIAL_BYTES: usize = 16 << 10;
/// Files from this size on are worth packing apart (a part costs a few file operations).
const PART_MIN_BYTES: u64 = 64 << 10;
/// A first block that deflates to more than this share of its size is not worth deflating.
const STORE_ABOVE_RATIO: f64 = 0.95;

/// A file that is not on disk but must be in the archive (see transmit's `env/cmdline`).
#[derive(Clone, Debug)]
pub struct ExtraFile {
    pub name: String,
    pub mode: u32,
    pub mtime: i64,
    pub content: Vec<u8>,
}

/// Writes the zip of `source` (and `extra` files) to `zip_path`; returns the zip's size.
/// Parts in `parts_dir` (see [`pack_part`]) are copied in where they match.
pub fn pack(source: &str, zip_path: &str, fs: &dyn HostFs, extra: &[ExtraFile], parts_dir: Option<&str>) -> Result<u64, EntryError> {
    let out = HostFileWriter::create(fs, zip_path).map_err(|e| EntryError::io("cannot create scratch archive", zip_path, e))?;
    let parts = parts_dir.map(open_parts).unwrap_or_default();
    let mut packer = Packer { fs, zip: ZipWriter::new(out), parts };
    walk(fs, source, "", &mut |entry| match entry {
        Entry::Directory { name, meta } => packer.directory(&name, meta.mode, meta.mtime),
        Entry::Other { name, path, meta } => packer.non_directory(&name, &path, &meta),
    })?;
    for file in extra {
        if let Some((dir, _)) = file.name.rsplit_once('/') {
            if fs.lstat(&format!("{source}/{dir}")).map_err(|e| EntryError::io("cannot stat", dir, e))?.is_none() {
                packer.directory(&format!("{dir}/"), S_IFDIR | 0o700, file.mtime)?;
            }
        }
        packer.start(&file.name, S_IFREG | file.mode, file.mtime, file.content.len() as u64, CompressionMethod::Deflated)?;
        packer.zip.write_all(&file.content).map_err(|e| EntryError::io("cannot write archive entry", &file.name, e))?;
    }
    let mut writer = packer.zip.finish().map_err(|e| EntryError::new(ErrorKind::Io, format!("cannot finish archive: {e}")))?;
    writer.flush().map_err(|e| EntryError::io("cannot write", zip_path, e))?;
    Ok(writer.len())
}

/// A file worth packing apart: where it is and its name in the archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartJob {
    pub path: String,
    pub name: String,
    pub size: u64,
}

/// The regular files of `source` worth packing apart, largest first (the order that keeps
/// several packers busy to the end).
pub fn plan_parts(source: &str, fs: &dyn HostFs) -> Result<Vec<PartJob>, EntryError> {
    let mut jobs = Vec::new();
    walk(fs, source, "", &mut |entry| {
        if let Entry::Other { name, path, meta } = entry {
            if meta.file_type() == S_IFREG && meta.size >= PART_MIN_BYTES {
                jobs.push(PartJob { path, name, size: meta.size });
            }
        }
        Ok(())
    })?;
    jobs.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.name.cmp(&b.name)));
    Ok(jobs)
}

/// Packs files into one part zip in `parts_dir`, the entries [`pack`] would write for them.
pub struct PartPacker<'a> {
    packer: Packer<'a>,
    /// Written aside and renamed when finished: a part that exists is whole.
    unfinished: String,
    path: String,
}

impl<'a> PartPacker<'a> {
    pub fn start(parts_dir: &str, index: u32, fs: &'a dyn HostFs) -> Result<Self, EntryError> {
        std::fs::create_dir_all(parts_dir).map_err(|e| EntryError::io("cannot create", parts_dir, e))?;
        let path = format!("{parts_dir}/{index}.zip");
        let unfinished = format!("{path}.partial");
        let out = HostFileWriter::create(fs, &unfinished).map_err(|e| EntryError::io("cannot create", &unfinished, e))?;
        let packer = Packer { fs, zip: ZipWriter::new(out), parts: Vec::new() };
        Ok(PartPacker { packer, unfinished, path })
    }

    /// Packs one planned file (gone or no longer a file: nothing to pack).
    pub fn add(&mut self, job: &PartJob) -> Result<(), EntryError> {
        let meta = self.packer.fs.lstat(&job.path).map_err(|e| EntryError::io("cannot stat", &job.path, e))?;
        match meta.filter(|m| m.file_type() == S_IFREG) {
            Some(meta) => self.packer.regular_file(&job.name, &job.path, &meta),
            None => Ok(()),
        }
    }

    pub fn finish(self) -> Result<(), EntryError> {
        let mut writer = self.packer.zip.finish().map_err(|e| EntryError::new(ErrorKind::Io, format!("cannot finish part {}: {e}", self.unfinished)))?;
        writer.flush().map_err(|e| EntryError::io("cannot write", &self.unfinished, e))?;
        drop(writer);
        std::fs::rename(&self.unfinished, &self.path).map_err(|e| EntryError::io("cannot rename", &self.unfinished, e))
    }
}

/// The finished parts in `parts_dir` (none when there is no such directory).
fn open_parts(parts_dir: &str) -> Vec<zip::ZipArchive<BufReader<File>>> {
    let Ok(entries) = std::fs::read_dir(parts_dir) else { return Vec::new() };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "zip")).collect();
    paths.sort();
    // Large reads: each is a call out of the sandbox.
    paths.into_iter().filter_map(|p| zip::ZipArchive::new(BufReader::with_capacity(64 << 10, File::open(p).ok()?)).ok()).collect()
}

/// What the walk finds, in archive order.
enum Entry {
    Directory { name: String, meta: Meta },
    /// A file, link or anything else that is not a directory.
    Other { name: String, path: String, meta: Meta },
}

/// One directory level: its files and links, then its directories, then into each of them —
/// upstream's `os.walk` order, with names sorted.
fn walk(fs: &dyn HostFs, dir: &str, prefix: &str, visit: &mut dyn FnMut(Entry) -> Result<(), EntryError>) -> Result<(), EntryError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| EntryError::io("cannot list", dir, e))? {
        let entry = entry.map_err(|e| EntryError::io("cannot list", dir, e))?;
        let name = entry.file_name().into_string().map_err(|raw| {
            EntryError::new(ErrorKind::Malformed, format!("file name {raw:?} in {dir:?} is not UTF-8"))
        })?;
        let path = format!("{dir}/{name}");
        let meta = fs.lstat(&path).map_err(|e| EntryError::io("cannot stat", &path, e))?;
        if let Some(meta) = meta {
            names.push((name, path, meta));
        }
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    let (dirs, others): (Vec<_>, Vec<_>) = names.into_iter().partition(|(_, _, m)| m.is_dir());
    for (name, path, meta) in others {
        visit(Entry::Other { name: format!("{prefix}{name}"), path, meta })?;
    }
    for (name, _, meta) in &dirs {
        visit(Entry::Directory { name: format!("{prefix}{name}/"), meta: *meta })?;
    }
    for (name, path, _) in &dirs {
        walk(fs, path, &format!("{prefix}{name}/"), visit)?;
    }
    Ok(())
}

struct Packer<'a> {
    fs: &'a dyn HostFs,
    zip: ZipWriter<HostFileWriter<'a>>,
    /// Parts packed elsewhere, to copy entries from.
    parts: Vec<zip::ZipArchive<BufReader<File>>>,
}

impl Packer<'_> {
    fn non_directory(&mut self, name: &str, path: &str, meta: &Meta) -> Result<(), EntryError> {
        match meta.file_type() {
            S_IFLNK => {
                let target = self.fs.read_link(path).map_err(|e| EntryError::io("cannot read symlink", path, e))?;
                // Upstream names a link by its walk directory joined to its name, so a
                // top-level link is `./name` (files and deeper links are not).
                let top_level;
                let name = if name.contains('/') {
                    name
                } else {
                    top_level = format!("./{name}");
                    top_level.as_str()
                };
                // Upstream's exact attributes for links: 0o120777, stored, target text as data.
                self.start(name, S_IFLNK | 0o777, meta.mtime, target.len() as u64, CompressionMethod::Stored)?;
                self.zip.write_all(target.as_bytes()).map_err(|e| EntryError::io("cannot write archive entry", name, e))
            }
            // Reading a FIFO would block forever (upstream skips them too), as would sockets
            // and devices.
            S_IFIFO => Ok(()),
            S_IFREG if self.copy_part(name, meta)? => Ok(()),
            S_IFREG => self.regular_file(name, path, meta),
            _ => Ok(()),
        }
    }

    fn regular_file(&mut self, name: &str, path: &str, meta: &Meta) -> Result<(), EntryError> {
        let mut src = BufReader::with_capacity(256 << 10, File::open(path).map_err(|e| EntryError::io("cannot read", path, e))?);
        let mut first = Vec::with_capacity(TRIAL_BYTES);
        (&mut src).take(TRIAL_BYTES as u64).read_to_end(&mut first).map_err(|e| EntryError::io("cannot read", path, e))?;
        let method = if compresses(&first) { CompressionMethod::Deflated } else { CompressionMethod::Stored };
        self.start(name, meta.mode, meta.mtime, meta.size, method)?;
        self.zip.write_all(&first).map_err(|e| EntryError::io("cannot pack", path, e))?;
        io::copy(&mut src, &mut self.zip).map_err(|e| EntryError::io("cannot pack", path, e))?;
        Ok(())
    }

    /// Copies in the entry packed elsewhere for `name`, if one was made from the file as it
    /// is now (same size, mode and time); false to pack it here.
    fn copy_part(&mut self, name: &str, meta: &Meta) -> Result<bool, EntryError> {
        if meta.size < PART_MIN_BYTES {
            return Ok(false);
        }
        let time = self.zip_time(meta.mtime);
        for part in &mut self.parts {
            let Some(index) = part.index_for_name(name) else { continue };
            let Ok(entry) = part.by_index_raw(index) else { continue };
            let same_file = entry.size() == meta.size && entry.unix_mode() == Some(meta.mode) && entry.last_modified() == Some(time);
            if !same_file {
                continue;
            }
            self.zip.raw_copy_file(entry).map_err(|e| EntryError::new(ErrorKind::Io, format!("cannot add {name:?} to archive: {e}")))?;
            return Ok(true);
        }
        Ok(false)
    }

    fn directory(&mut self, name: &str, mode: u32, mtime: i64) -> Result<(), EntryError> {
        let options = self.options(mode, mtime, 0, CompressionMethod::Stored).external_attributes((mode << 16) | DOS_DIRECTORY);
        self.zip.add_directory(name, options).map_err(|e| EntryError::new(ErrorKind::Io, format!("cannot add {name:?} to archive: {e}")))
    }

    fn start(&mut self, name: &str, mode: u32, mtime: i64, size: u64, method: CompressionMethod) -> Result<(), EntryError> {
        let options = self.options(mode, mtime, size, method);
        self.zip.start_file(name, options).map_err(|e| EntryError::new(ErrorKind::Io, format!("cannot add {name:?} to archive: {e}")))
    }

    /// A file time as the archive holds it: local time, clamped into the zip range.
    fn zip_time(&self, mtime: i64) -> DateTime {
        let t = dostime::to_zip_time(mtime, self.fs.utc_offset(mtime));
        DateTime::from_date_and_time(t.year, t.month, t.day, t.hour, t.minute, t.second).unwrap_or_default()
    }

    fn options(&self, mode: u32, mtime: i64, size: u64, method: CompressionMethod) -> SimpleFileOptions {
        let time = self.zip_time(mtime);
        let level = if method == CompressionMethod::Deflated { Some(6) } else { None };
        SimpleFileOptions::default()
            .compression_method(method)
            .compression_level(level)
            .system(zip::System::Unix)
            .external_attributes(mode << 16)
            .last_modified_time(time)
            .large_file(size >= ZIP64_THRESHOLD)
    }
}

/// Whether a file starting with `first` is worth deflating: small files always are (as
/// upstream does it), larger ones when their first block shrinks.
fn compresses(first: &[u8]) -> bool {
    if first.len() < TRIAL_BYTES {
        return true;
    }
    let mut trial = flate2::write::DeflateEncoder::new(io::sink(), flate2::Compression::fast());
    let sized = trial.write_all(first).and_then(|_| trial.try_finish()).map(|_| trial.total_out());
    match sized {
        Ok(out) => (out as f64) <= first.len() as f64 * STORE_ABOVE_RATIO,
        Err(_) => true,
    }
}
