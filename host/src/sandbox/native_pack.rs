//! The `native-pack` import: a tree listed a directory per call, and an archive's files
//! read and encoded here, on every core, by the same shared code the component falls back
//! to (`runnerwire_policy::entry_data`), so the archive is the same bytes, sooner. The work
//! is every file's chunks (one for most files), so a few large files keep every core busy
//! too. Paths are opened beneath their grant with no symlink followed anywhere on the path;
//! outputs are created in a writable grant.

use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use runnerwire_policy::entry_data::{self, chunk_count, ChunkData, Method, CHUNK_BYTES, DICTIONARY_BYTES, TRIAL_BYTES};

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
                (0..count).map(move |index| Chunk { file, index, last: index + 1 == count, single: count == 1 })
            })
            .collect();
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let done: Mutex<Vec<Option<ChunkDone>>> = Mutex::new(vec![None; chunks.len()]);
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
        files.iter().map(|f| join_chunks(f, done.by_ref().take(chunk_count(f.size) as usize))).collect()
    }

    /// One worker's share: chunks taken in turn until none is left or another worker failed.
    fn encode_share(&self, share: &Share, out_prefix: &str, worker: u32) -> Result<(), String> {
        let out_path = format!("{out_prefix}.{worker}");
        let mut out: Option<Counting> = None;
        let mut encoder = entry_data::Encoder::default();
        let mut dictionary = vec![0; DICTIONARY_BYTES];
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
            let encoded = encode_chunk(&mut encoder, &mut file, chunk, &mut dictionary, out).map_err(|e| format!("cannot encode {path}: {e}"))?;
            let piece = DataPiece { output: worker, offset, length: encoded.data.compressed_size };
            share.done.lock().unwrap_or_else(|p| p.into_inner())[at] = Some(ChunkDone { piece, ..encoded });
        }
        if let Some(mut out) = out {
            out.flush().map_err(|e| format!("cannot write {out_path}: {e}"))?;
        }
        Ok(())
    }
}

/// A unit of work: chunk `index` of file `file`.
struct Chunk {
    file: usize,
    index: u64,
    /// The file's last chunk: it reads on to the end.
    last: bool,
    /// The file's only chunk: read through, the method chosen on the way.
    single: bool,
}

/// What the workers share.
struct Share<'a> {
    files: &'a [FileToEncode],
    chunks: &'a [Chunk],
    next: &'a AtomicUsize,
    failed: &'a AtomicBool,
    done: &'a Mutex<Vec<Option<ChunkDone>>>,
}

/// A chunk encoded: its method, what it read and wrote, where, and the CRC of the priming
/// it was given (checked against what the chunk before it read).
#[derive(Clone, Copy)]
struct ChunkDone {
    method: Method,
    data: ChunkData,
    primed_crc32: Option<u32>,
    piece: DataPiece,
}

/// Encodes one chunk of `file` into `out`; `dictionary` is scratch for the priming.
fn encode_chunk(encoder: &mut entry_data::Encoder, file: &mut std::fs::File, chunk: &Chunk, dictionary: &mut [u8], out: &mut dyn Write) -> io::Result<ChunkDone> {
    let unplaced = DataPiece { output: 0, offset: 0, length: 0 };
    if chunk.single {
        let data = encoder.encode(file, out)?;
        let chunk = ChunkData { crc32: data.crc32, size: data.size, compressed_size: data.compressed_size, tail_crc32: 0 };
        return Ok(ChunkDone { method: data.method, data: chunk, primed_crc32: None, piece: unplaced });
    }
    let first = read_at_most(file, &mut dictionary[..TRIAL_BYTES], 0)?;
    let method = encoder.method_of(&dictionary[..first])?;
    let start = chunk.index * CHUNK_BYTES;
    let primed = if chunk.index > 0 {
        let len = read_at_most(file, dictionary, start - DICTIONARY_BYTES as u64)?;
        Some(&dictionary[..len])
    } else {
        None
    };
    let primed_crc32 = primed.map(crc32fast::hash);
    file.seek(SeekFrom::Start(start))?;
    let data = encoder.encode_chunk(method, primed.unwrap_or(&[]), file, chunk.last, out)?;
    Ok(ChunkDone { method, data, primed_crc32, piece: unplaced })
}

/// Fills `buf` from `offset` on unless the file ends first; the bytes read.
fn read_at_most(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A file's entry from its chunks, in order. Every chunk but the last must have read a
/// whole chunk, and each must have been primed with what the one before it read, all by
/// one method: else the file changed between the reads, and its pieces would not make one
/// stream.
fn join_chunks(file: &FileToEncode, chunks: impl Iterator<Item = Option<ChunkDone>>) -> Result<Encoded, EncodeError> {
    let changed = || EncodeError::Failed(format!("cannot encode {}: it changed while it was read", file.path));
    let mut chunks = chunks.peekable();
    let Some(Some(first)) = chunks.peek().copied() else {
        return Err(EncodeError::Failed(format!("cannot encode {}: a chunk was left unencoded", file.path)));
    };
    let (mut crc, mut size, mut compressed_size) = (crc32fast::Hasher::new(), 0, 0);
    let mut pieces = Vec::new();
    let mut before: Option<ChunkDone> = None;
    for chunk in chunks {
        let chunk = chunk.ok_or_else(|| EncodeError::Failed(format!("cannot encode {}: a chunk was left unencoded", file.path)))?;
        if chunk.method != first.method {
            return Err(changed());
        }
        if let Some(before) = before {
            if before.data.size != CHUNK_BYTES || chunk.primed_crc32 != Some(before.data.tail_crc32) {
                return Err(changed());
            }
        }
        crc.combine(&crc32fast::Hasher::new_with_initial_len(chunk.data.crc32, chunk.data.size));
        size += chunk.data.size;
        compressed_size += chunk.data.compressed_size;
        pieces.push(chunk.piece);
        before = Some(chunk);
    }
    let method = match first.method {
        Method::Stored => EntryMethod::Stored,
        Method::Deflated => EntryMethod::Deflated,
    };
    Ok(Encoded { method, crc32: crc.finalize(), size, compressed_size, pieces })
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
