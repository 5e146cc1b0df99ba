//! The `native-pack` import: a tree listed a directory per call, and an archive's files
//! read and encoded here, on every core, by the same shared code the component falls back
//! to (`runnerwire_policy::entry_data`), so the archive is the same bytes, sooner. The work
//! is every file's chunks (one for most files), so a few large files keep every core busy
//! too. Paths are opened beneath their grant with no symlink followed anywhere on the path;
//! outputs are created in a writable grant.

use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use runnerwire_policy::entry_data::{self, chunk_count, join_chunks, ChunkData, Method};

use super::bindings::runnerwire::codec::host_fs::Meta;
use super::bindings::runnerwire::codec::native_pack::{DataPiece, DirEntry, EncodeError, Encoded, EntryMethod, FileToEncode};
use super::host_fs::Grants;

/// Output files are written through a buffer this large.
const OUTPUT_BUFFER: usize = 256 << 10;

impl Grants {
    /// The entries of the directory at `path` with their lstat: one `getdents` pass and an
    /// `fstatat` of one name each, relative to the directory opened once.
    pub fn list_dir(&self, path: &str) -> io::Result<Vec<DirEntry>> {
        use rustix::fs::{statat, AtFlags};
        let dir = self.open_dir_no_follow(path)?;
        let mut entries = Vec::new();
        for entry in rustix::fs::Dir::read_from(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            match statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => entries.push(DirEntry {
                    name: name.to_bytes().to_vec(),
                    meta: Meta { mode: st.st_mode, size: st.st_size as u64, mtime: st.st_mtime },
                }),
                Err(rustix::io::Errno::NOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(entries)
    }

    /// Encodes `files` on up to `workers` threads; worker `w` writes `{out_prefix}.{w}`,
    /// created when it takes its first chunk, and takes the next chunk not yet taken, so
    /// each output holds its pieces in the order of the chunks.
    pub fn encode_files(&self, files: &[FileToEncode], out_prefix: &str, workers: usize) -> Result<Vec<Encoded>, EncodeError> {
        let chunks: Vec<Chunk> = files
            .iter()
            .enumerate()
            .flat_map(|(file, f)| {
                let count = chunk_count(f.size);
                (0..count).map(move |index| Chunk { file, index, count })
            })
            .collect();
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let done: Mutex<Vec<Option<(ChunkData, DataPiece)>>> = Mutex::new(vec![None; chunks.len()]);
        let first_error: Mutex<Option<String>> = Mutex::new(None);
        let work = |worker: u32| {
            let share = Share { files, chunks: &chunks, next: &next, failed: &failed, done: &done };
            if let Err(message) = self.encode_share(&share, out_prefix, worker) {
                failed.store(true, Ordering::Relaxed);
                first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(message);
            }
        };
        let workers = workers.clamp(1, chunks.len().max(1));
        std::thread::scope(|threads| {
            for worker in 1..workers {
                let work = &work;
                // A thread the system refuses is one worker fewer, not a failure.
                let _ = std::thread::Builder::new().name(format!("encode-{worker}")).spawn_scoped(threads, move || work(worker as u32));
            }
            work(0);
        });
        if let Some(message) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(EncodeError::Failed(message));
        }
        let done = done.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut done = done.into_iter();
        files.iter().map(|f| join_file(f, done.by_ref().take(chunk_count(f.size) as usize))).collect()
    }

    /// One worker's share: chunks taken in turn until none is left or another worker failed.
    fn encode_share(&self, share: &Share, out_prefix: &str, worker: u32) -> Result<(), String> {
        let out_path = format!("{out_prefix}.{worker}");
        let mut out: Option<Counting> = None;
        let mut encoder = entry_data::Encoder::default();
        while !share.failed.load(Ordering::Relaxed) {
            let at = share.next.fetch_add(1, Ordering::Relaxed);
            let Some(chunk) = share.chunks.get(at) else { break };
            let path = &share.files[chunk.file].path;
            let mut file = self.open_no_follow(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            if out.is_none() {
                let file = self.create_output(&out_path).map_err(|e| format!("cannot create {out_path}: {e}"))?;
                out = Some(Counting { inner: BufWriter::with_capacity(OUTPUT_BUFFER, file), written: 0 });
            }
            let Some(out) = out.as_mut() else { break };
            let offset = out.written;
            let encoded = encoder.encode_chunk(&mut file, chunk.index, chunk.count, out).map_err(|e| format!("cannot encode {path}: {e}"))?;
            let piece = DataPiece { output: worker, offset, length: encoded.compressed_size };
            share.done.lock().unwrap_or_else(|p| p.into_inner())[at] = Some((encoded, piece));
        }
        if let Some(mut out) = out {
            out.flush().map_err(|e| format!("cannot write {out_path}: {e}"))?;
        }
        Ok(())
    }
}

/// A unit of work: chunk `index` of the `count` chunks of file `file`.
struct Chunk {
    file: usize,
    index: u64,
    count: u64,
}

/// What the workers share.
struct Share<'a> {
    files: &'a [FileToEncode],
    chunks: &'a [Chunk],
    next: &'a AtomicUsize,
    failed: &'a AtomicBool,
    done: &'a Mutex<Vec<Option<(ChunkData, DataPiece)>>>,
}

/// A file's entry from its chunks, in order, or the failure that names it.
fn join_file(file: &FileToEncode, chunks: impl Iterator<Item = Option<(ChunkData, DataPiece)>>) -> Result<Encoded, EncodeError> {
    let failed = |why: &str| EncodeError::Failed(format!("cannot encode {}: {why}", file.path));
    let (chunks, pieces): (Vec<ChunkData>, Vec<DataPiece>) = chunks.collect::<Option<Vec<_>>>().ok_or_else(|| failed("a chunk was left unencoded"))?.into_iter().unzip();
    let data = join_chunks(chunks).ok_or_else(|| failed("it changed while it was read"))?;
    let method = match data.method {
        Method::Stored => EntryMethod::Stored,
        Method::Deflated => EntryMethod::Deflated,
    };
    Ok(Encoded { method, crc32: data.crc32, size: data.size, compressed_size: data.compressed_size, pieces })
}

struct Counting {
    inner: BufWriter<std::fs::File>,
    written: u64,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
