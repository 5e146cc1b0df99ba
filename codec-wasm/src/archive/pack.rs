//! Packing a directory into a zip the way upstream's `stream_dir` does: files with
//! `st_mode << 16` attributes, every directory as its own `name/` entry (empty ones kept),
//! symlinks stored with their target text (never followed), FIFOs skipped, times clamped
//! into the zip range. Entries are sorted, so the same tree gives the same archive.
//!
//! The tree is walked first and its files' data encoded all at once (`encode`: by the
//! host on all its cores when it offers that), then the archive is laid out around that
//! data ([`Packed`]): its size is known before its first byte, and its bytes are read out
//! in order without ever being written whole to disk.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

use runnerwire_policy::entry_data::{self, EntryData, Method};

use super::encode::{encode_files, output_path};
use super::zip_layout::{end_records, end_records_len, ZipEntry};
use crate::archive::dostime::{self, ZipTime};
use crate::error::{EntryError, ErrorKind, Problem};
use crate::fsys::{DataPiece, HostFs, Meta, ToEncode, S_IFDIR, S_IFLNK, S_IFREG};

/// A file that is not on disk but must be in the archive (see transmit's `env/cmdline`).
#[derive(Clone, Debug)]
pub struct ExtraFile {
    pub name: String,
    pub mode: u32,
    pub mtime: i64,
    pub content: Vec<u8>,
}

/// Where an entry's data is.
enum Data {
    /// Directories.
    Empty,
    /// Link targets and extra files.
    Inline(Vec<u8>),
    /// A file's, in runs of the encoding's output files.
    Encoded { pieces: Vec<DataPiece> },
}

/// An archive laid out: each entry's headers, where its data is, and where it starts.
pub struct Packed {
    entries: Vec<(ZipEntry, Data)>,
    /// Where each entry's local header starts.
    offsets: Vec<u64>,
    directory_offset: u64,
    directory_len: u64,
    outputs_prefix: String,
}

/// Lays out the zip of `source` (and `extra` files); the files' data is encoded into
/// `scratch_dir`.
pub fn plan(source: &str, scratch_dir: &str, fs: &dyn HostFs, extra: &[ExtraFile]) -> Result<Packed, EntryError> {
    let zip_time = |mtime: i64| dostime::to_zip_time(mtime, fs.utc_offset(mtime));
    let mut entries = Vec::new();
    // The regular files: where their entries are, and what to encode, all at once.
    let (mut files, mut to_encode) = (Vec::new(), Vec::new());
    walk(fs, source, "", &mut |entry| {
        match entry {
            Entry::Directory { name, meta } => entries.push((blank(name, meta.mode, zip_time(meta.mtime)), Data::Empty)),
            Entry::Other { name, path, meta } => match meta.file_type() {
                S_IFLNK => {
                    let target = fs.read_link(&path).map_err(|e| EntryError::io("cannot read symlink", &path, e))?;
                    // Upstream names a link by its walk directory joined to its name, so a
                    // top-level link is `./name` (files and deeper links are not).
                    let name = if name.contains('/') { name } else { format!("./{name}") };
                    // Upstream's exact attributes for links: 0o120777, stored, target text as
                    // data, and no time of their own (its ZipInfo's default, 1980-01-01).
                    let data = EntryData { method: Method::Stored, crc32: crc32fast::hash(target.as_bytes()), size: target.len() as u64, compressed_size: target.len() as u64 };
                    entries.push((with_data(blank(name, S_IFLNK | 0o777, dostime::EARLIEST), data), Data::Inline(target.into_bytes())));
                }
                S_IFREG => {
                    files.push(entries.len());
                    to_encode.push(ToEncode { path, size: meta.size });
                    entries.push((blank(name, meta.mode, zip_time(meta.mtime)), Data::Empty));
                }
                // Reading a FIFO would block forever (upstream skips them too), as would
                // sockets and devices.
                _ => {}
            },
        }
        Ok(())
    })?;
    let outputs_prefix = format!("{scratch_dir}/entries");
    for ((index, encoded), file) in files.into_iter().zip(encode_files(fs, &to_encode, &outputs_prefix)?).zip(&to_encode) {
        let (entry, data) = &mut entries[index];
        if encoded.pieces.iter().map(|p| p.length).sum::<u64>() != encoded.data.compressed_size {
            return Err(EntryError::new(ErrorKind::Io, format!("the encoded pieces of {} do not add up to its size", file.path)));
        }
        set_data(entry, encoded.data);
        *data = Data::Encoded { pieces: encoded.pieces };
    }
    let mut encoder = entry_data::Encoder::default();
    for file in extra {
        if let Some((dir, _)) = file.name.rsplit_once('/') {
            if fs.lstat(&format!("{source}/{dir}")).map_err(|e| EntryError::io("cannot stat", dir, e))?.is_none() {
                entries.push((blank(format!("{dir}/"), S_IFDIR | 0o700, zip_time(file.mtime)), Data::Empty));
            }
        }
        let mut content = Vec::new();
        let data = encoder.encode(&mut &file.content[..], &mut content).map_err(|e| EntryError::io("cannot encode", &file.name, e))?;
        entries.push((with_data(blank(file.name.clone(), S_IFREG | file.mode, zip_time(file.mtime)), data), Data::Inline(content)));
    }
    Ok(Packed::lay_out(entries, outputs_prefix))
}

/// An entry with no data yet (a directory keeps it so).
fn blank(name: String, mode: u32, time: ZipTime) -> ZipEntry {
    ZipEntry { name, mode, time, method: Method::Stored, crc32: 0, size: 0, compressed_size: 0 }
}

fn with_data(mut entry: ZipEntry, data: EntryData) -> ZipEntry {
    set_data(&mut entry, data);
    entry
}

fn set_data(entry: &mut ZipEntry, data: EntryData) {
    (entry.method, entry.crc32, entry.size, entry.compressed_size) = (data.method, data.crc32, data.size, data.compressed_size);
}

impl Packed {
    fn lay_out(entries: Vec<(ZipEntry, Data)>, outputs_prefix: String) -> Packed {
        let mut offsets = Vec::with_capacity(entries.len());
        let mut at = 0u64;
        for (entry, _) in &entries {
            offsets.push(at);
            at += entry.local_header_len() + entry.compressed_size;
        }
        let directory_len = entries.iter().zip(&offsets).map(|((e, _), offset)| e.central_header_len(*offset)).sum();
        Packed { entries, offsets, directory_offset: at, directory_len, outputs_prefix }
    }

    /// The archive's size in bytes.
    pub fn size(&self) -> u64 {
        self.directory_offset + self.directory_len + end_records_len(self.entries.len(), self.directory_offset, self.directory_len)
    }

    /// The archive's bytes, in order.
    pub fn into_reader(self) -> PackedReader {
        PackedReader { packed: self, step: Step::Local(0), pending: Vec::new(), pending_at: 0, data_entry: usize::MAX, data_piece: 0, data_left: 0, outputs: Vec::new(), current: 0 }
    }

}

enum Step {
    Local(usize),
    Central(usize),
    End,
    Done,
}

/// Central headers gathered per read: many small records, few copies.
const CENTRAL_BATCH: usize = 64 << 10;
/// Each output file is read front to back through a buffer this large: small entries' data
/// in few reads, while the read-out's larger reads go straight into its own buffer.
const OUTPUT_BUFFER: usize = 128 << 10;

/// Reads a [`Packed`] archive out: headers made as they are reached, data copied from the
/// encoding's output files (each read front to back: see `native-pack.encode-files`).
pub struct PackedReader {
    packed: Packed,
    step: Step,
    /// Header bytes (or inline data) not yet handed out.
    pending: Vec<u8>,
    pending_at: usize,
    /// The entry whose data is being handed out (none yet: `usize::MAX`), and its next piece.
    data_entry: usize,
    data_piece: usize,
    /// Bytes of the current piece not yet handed out.
    data_left: u64,
    /// Each output file and where it is read up to.
    outputs: Vec<Option<(BufReader<File>, u64)>>,
    current: usize,
}

impl PackedReader {
    /// Removes the encoding's output files (once the archive has been read out).
    pub fn remove_outputs(&mut self) {
        self.outputs.clear();
        let mut used: Vec<u32> = self.packed.entries.iter().flat_map(|(_, d)| match d {
            Data::Encoded { pieces } => pieces.as_slice(),
            _ => &[],
        }).map(|p| p.output).collect();
        used.sort_unstable();
        used.dedup();
        for output in used {
            let _ = std::fs::remove_file(output_path(&self.packed.outputs_prefix, output));
        }
    }

    /// Queues the next headers; false when the archive is done.
    fn advance(&mut self) -> io::Result<bool> {
        self.pending.clear();
        self.pending_at = 0;
        match self.step {
            Step::Local(i) if i < self.packed.entries.len() => {
                let (entry, data) = &self.packed.entries[i];
                entry.local_header(&mut self.pending);
                if let Data::Inline(bytes) = data {
                    self.pending.extend_from_slice(bytes);
                }
                (self.data_entry, self.data_piece) = (i, 0);
                self.step = Step::Local(i + 1);
            }
            Step::Local(_) => self.step = Step::Central(0),
            Step::Central(mut i) => {
                while i < self.packed.entries.len() && self.pending.len() < CENTRAL_BATCH {
                    self.packed.entries[i].0.central_header(self.packed.offsets[i], &mut self.pending);
                    i += 1;
                }
                self.step = if i < self.packed.entries.len() { Step::Central(i) } else { Step::End };
            }
            Step::End => {
                let p = &self.packed;
                end_records(p.entries.len(), p.directory_offset, p.directory_len, &mut self.pending);
                self.step = Step::Done;
            }
            Step::Done => return Ok(false),
        }
        Ok(true)
    }

    /// Places the reader at the current entry's next piece of data; false when none is left.
    fn next_data_piece(&mut self) -> io::Result<bool> {
        let Some((_, Data::Encoded { pieces })) = self.packed.entries.get(self.data_entry) else { return Ok(false) };
        let Some(piece) = pieces.get(self.data_piece).copied() else { return Ok(false) };
        self.data_piece += 1;
        self.seek_output(piece.output as usize, piece.offset)?;
        self.current = piece.output as usize;
        self.data_left = piece.length;
        Ok(true)
    }

    /// Places output `output`'s reader at `offset` (where it already is, in the usual case).
    fn seek_output(&mut self, output: usize, offset: u64) -> io::Result<()> {
        if self.outputs.len() <= output {
            self.outputs.resize_with(output + 1, || None);
        }
        let slot = &mut self.outputs[output];
        if slot.is_none() {
            let path = output_path(&self.packed.outputs_prefix, output as u32);
            let file = File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("cannot read {path}: {e}")))?;
            *slot = Some((BufReader::with_capacity(OUTPUT_BUFFER, file), 0));
        }
        if let Some((reader, at)) = slot {
            if *at != offset {
                reader.seek(SeekFrom::Start(offset))?;
                *at = offset;
            }
        }
        Ok(())
    }
}

impl Read for PackedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pending_at < self.pending.len() {
                let n = buf.len().min(self.pending.len() - self.pending_at);
                buf[..n].copy_from_slice(&self.pending[self.pending_at..self.pending_at + n]);
                self.pending_at += n;
                return Ok(n);
            }
            if self.data_left > 0 {
                let want = buf.len().min(usize::try_from(self.data_left).unwrap_or(usize::MAX));
                let Some((reader, at)) = self.outputs.get_mut(self.current).and_then(Option::as_mut) else {
                    return Err(io::Error::other("an entry's output file is not open"));
                };
                let n = reader.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "an entry's encoded data ended early"));
                }
                *at += n as u64;
                self.data_left -= n as u64;
                return Ok(n);
            }
            if self.next_data_piece()? {
                continue;
            }
            if !self.advance()? {
                return Ok(0);
            }
        }
    }
}

/// Writes the zip of `source` (and `extra` files) to `zip_path`; returns the zip's size.
/// (The stages stream the archive instead: [`crate::archive::stream::ArchiveStream`].)
#[cfg(test)]
pub fn pack(source: &str, zip_path: &str, scratch_dir: &str, fs: &dyn HostFs, extra: &[ExtraFile]) -> Result<u64, EntryError> {
    use crate::fsys::HostFileWriter;
    use std::io::Write;
    let packed = plan(source, scratch_dir, fs, extra)?;
    let size = packed.size();
    let mut reader = packed.into_reader();
    let mut out = HostFileWriter::create(fs, zip_path).map_err(|e| EntryError::io("cannot create scratch archive", zip_path, e))?;
    let copied = io::copy(&mut reader, &mut out).and_then(|n| out.flush().map(|_| n));
    reader.remove_outputs();
    let copied = copied.map_err(|e| EntryError::io("cannot write", zip_path, e))?;
    if copied != size {
        return Err(EntryError::new(ErrorKind::Io, format!("the archive of {source} came out {copied} bytes, not the {size} laid out")));
    }
    Ok(size)
}

/// The entries of `dir`: name, path, lstat. In one host call when the host lists natively,
/// else through WASI and a `lstat` per entry.
fn list(fs: &dyn HostFs, dir: &str) -> Result<Vec<(String, String, Meta)>, EntryError> {
    let not_utf8 = |raw: &dyn std::fmt::Debug| EntryError::problem(Problem::BadSource, format!("file name {raw:?} in {dir:?} is not UTF-8"));
    let mut names = Vec::new();
    if let Some(listed) = fs.list_dir_natively(dir).map_err(|e| EntryError::io("cannot list", dir, e))? {
        for (raw, meta) in listed {
            let name = String::from_utf8(raw).map_err(|e| not_utf8(&String::from_utf8_lossy(e.as_bytes())))?;
            let path = format!("{dir}/{name}");
            names.push((name, path, meta));
        }
        return Ok(names);
    }
    for entry in std::fs::read_dir(dir).map_err(|e| EntryError::io("cannot list", dir, e))? {
        let entry = entry.map_err(|e| EntryError::io("cannot list", dir, e))?;
        let name = entry.file_name().into_string().map_err(|raw| not_utf8(&raw.to_string_lossy()))?;
        let path = format!("{dir}/{name}");
        let meta = fs.lstat(&path).map_err(|e| EntryError::io("cannot stat", &path, e))?;
        if let Some(meta) = meta {
            names.push((name, path, meta));
        }
    }
    Ok(names)
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
    let mut names = list(fs, dir)?;
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
