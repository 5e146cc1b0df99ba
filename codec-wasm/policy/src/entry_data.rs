//! How a regular file's bytes become its archive entry's data, written once: the host
//! runs it natively on all its cores (`native-pack`), the component runs it itself when
//! the host does not offer that, and the archive is the same bytes either way (same code,
//! same deflate, the input fed in the same pieces).
//!
//! Small files are deflated at upstream's level (zlib's 6). Unlike upstream, a larger file
//! whose first block does not shrink is stored: deflating random or already compressed
//! bytes costs most of a transmit's time and saves nothing. Any zip reader (upstream's
//! `zipfile` included) takes both methods.
//!
//! A file is encoded in chunks of [`CHUNK_BYTES`], pigz's way: each chunk's deflate starts
//! afresh, primed with the 32 KiB before it, and all but the last end on a byte boundary
//! (a sync flush), so chunks encoded apart, on different cores, join into one deflate
//! stream; a file read front to back here gives the same bytes. Matches still reach 32 KiB
//! back across every boundary, so the output is within a few bytes a chunk of one run.

use std::io::{self, Read, Seek, SeekFrom, Write};

use flate2::{Compress, Compression, FlushCompress, Status};

/// Upstream's deflate level (Python's `zlib.Z_DEFAULT_COMPRESSION`).
pub const LEVEL: u32 = 6;
/// How much of a file the trial compression reads; smaller files are always deflated.
const TRIAL_BYTES: usize = 16 << 10;
/// A first block that deflates to more than this share of its size is not worth deflating.
const STORE_ABOVE_RATIO: f64 = 0.95;
/// The pieces the input is fed in (part of what makes the output the same everywhere).
const PIECE_BYTES: usize = 256 << 10;
/// The unit of work a large file is split into: big enough that priming and flushing cost
/// well under 1%, small enough that two cores finish a few large files together.
pub const CHUNK_BYTES: u64 = 1 << 20;
/// How far back deflate looks: the priming before each chunk.
const DICTIONARY_BYTES: usize = 32 << 10;

// Chunks start on piece boundaries, so every way of encoding a file feeds the same pieces.
const _: () = assert!(CHUNK_BYTES.is_multiple_of(PIECE_BYTES as u64) && DICTIONARY_BYTES <= PIECE_BYTES && TRIAL_BYTES <= PIECE_BYTES);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Stored,
    Deflated,
}

/// What the zip headers need to know of an entry's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryData {
    pub method: Method,
    pub crc32: u32,
    /// Bytes read from the file.
    pub size: u64,
    /// Bytes written to `out`.
    pub compressed_size: u64,
}

/// One chunk (or a file's run of chunks to its end), encoded: what it read and wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkData {
    pub method: Method,
    pub crc32: u32,
    /// Bytes read.
    pub size: u64,
    /// Bytes written.
    pub compressed_size: u64,
    /// The CRC-32 of the last [`DICTIONARY_BYTES`] of a full chunk (of nothing otherwise):
    /// what the next chunk must have been primed with, had the file not changed meanwhile.
    pub tail_crc32: u32,
    /// The CRC-32 of the priming this chunk was given (none for a file's first chunk).
    pub primed_crc32: Option<u32>,
}

/// How many chunks a file of `size` bytes is encoded in (at least one).
pub fn chunk_count(size: u64) -> u64 {
    size.div_ceil(CHUNK_BYTES).max(1)
}

/// A file's entry data from its chunks' (in order), or `None` when they do not join into
/// one stream: every chunk but the last must have read a whole chunk, each must have been
/// primed with the end of the one before it, all by one method. Anything else means the
/// file changed between the chunks' reads.
pub fn join_chunks(chunks: impl IntoIterator<Item = ChunkData>) -> Option<EntryData> {
    let mut joined: Option<(EntryData, ChunkData)> = None;
    let mut crc = crc32fast::Hasher::new();
    for chunk in chunks {
        let data = match joined {
            None => EntryData { method: chunk.method, crc32: 0, size: 0, compressed_size: 0 },
            Some((data, before)) => {
                if chunk.method != data.method || before.size != CHUNK_BYTES || chunk.primed_crc32 != Some(before.tail_crc32) {
                    return None;
                }
                data
            }
        };
        crc.combine(&crc32fast::Hasher::new_with_initial_len(chunk.crc32, chunk.size));
        let data = EntryData { size: data.size + chunk.size, compressed_size: data.compressed_size + chunk.compressed_size, ..data };
        joined = Some((data, chunk));
    }
    joined.map(|(data, _)| EntryData { crc32: crc.finalize(), ..data })
}

/// Encodes files one after another, keeping its buffers and deflate state between them
/// (a fresh 256 KiB buffer and deflate state per file cost more than a small file's
/// deflating).
pub struct Encoder {
    piece: Vec<u8>,
    compressed: Vec<u8>,
    /// The last [`DICTIONARY_BYTES`] of the chunk just finished.
    dictionary: Vec<u8>,
    /// The [`DICTIONARY_BYTES`] before a chunk encoded on its own.
    priming: Vec<u8>,
    deflate: Compress,
    trial: Compress,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            piece: vec![0; PIECE_BYTES],
            compressed: vec![0; PIECE_BYTES],
            dictionary: Vec::with_capacity(DICTIONARY_BYTES),
            priming: vec![0; DICTIONARY_BYTES],
            deflate: Compress::new(Compression::new(LEVEL), false),
            trial: Compress::new(Compression::fast(), false),
        }
    }
}

impl Encoder {
    /// Reads `source` to its end and writes its entry data to `out`.
    pub fn encode(&mut self, source: &mut dyn Read, out: &mut dyn Write) -> io::Result<EntryData> {
        let filled = read_full(source, &mut self.piece)?;
        let method = self.method_for(filled.min(TRIAL_BYTES))?;
        let chunk = self.encode_from(method, &[], source, filled, None, out)?;
        Ok(EntryData { method, crc32: chunk.crc32, size: chunk.size, compressed_size: chunk.compressed_size })
    }

    /// Encodes chunk `index` of the `count` chunks of the file `source` (see
    /// [`chunk_count`]), as the native host does on several cores. A file's only chunk is
    /// the file read through from where `source` stands (freshly opened: its start), as
    /// [`Encoder::encode`] does it. Otherwise it seeks to what it needs: the file's first
    /// bytes for the method, the [`DICTIONARY_BYTES`] before the chunk for its priming, then
    /// the chunk, or for the last one the rest of the file.
    pub fn encode_chunk<S: Read + Seek>(&mut self, source: &mut S, index: u64, count: u64, out: &mut dyn Write) -> io::Result<ChunkData> {
        if count == 1 {
            let data = self.encode(source, out)?;
            return Ok(ChunkData { method: data.method, crc32: data.crc32, size: data.size, compressed_size: data.compressed_size, tail_crc32: 0, primed_crc32: None });
        }
        source.seek(SeekFrom::Start(0))?;
        let first = read_full(source, &mut self.piece[..TRIAL_BYTES])?;
        let method = self.method_for(first)?;
        let start = index * CHUNK_BYTES;
        // Taken out for the call below, which borrows the encoder whole.
        let mut priming = std::mem::take(&mut self.priming);
        let primed = if index > 0 {
            source.seek(SeekFrom::Start(start - DICTIONARY_BYTES as u64))?;
            read_full(source, &mut priming)?
        } else {
            0
        };
        let encoded = source.seek(SeekFrom::Start(start)).and_then(|_| read_full(source, &mut self.piece)).and_then(|filled| {
            self.encode_from(method, &priming[..primed], source, filled, (index + 1 < count).then_some(CHUNK_BYTES), out)
        });
        let primed_crc32 = (index > 0).then(|| crc32fast::hash(&priming[..primed]));
        self.priming = priming;
        Ok(ChunkData { primed_crc32, ..encoded? })
    }

    /// The loop behind both: `piece[..filled]` already read from `source`; `limit` bytes at
    /// most, or on to the end with a chunk boundary every [`CHUNK_BYTES`].
    fn encode_from(&mut self, method: Method, dictionary: &[u8], source: &mut dyn Read, mut filled: usize, limit: Option<u64>, out: &mut dyn Write) -> io::Result<ChunkData> {
        self.start_chunk(method, dictionary)?;
        let mut crc = crc32fast::Hasher::new();
        let (mut size, mut written, mut in_chunk) = (0u64, 0u64, 0u64);
        let mut tail = crc32fast::Hasher::new();
        while filled > 0 {
            if in_chunk == CHUNK_BYTES {
                // More follows a full chunk: end it on a byte boundary, start the next
                // primed with this one's end.
                written += self.finish_chunk(method, FlushCompress::Sync, out)?;
                let dictionary = std::mem::take(&mut self.dictionary);
                self.start_chunk(method, &dictionary)?;
                self.dictionary = dictionary;
                in_chunk = 0;
            }
            let piece = &self.piece[..filled];
            crc.update(piece);
            size += filled as u64;
            in_chunk += filled as u64;
            if in_chunk == CHUNK_BYTES {
                // A full chunk's last piece: keep its end for priming and the change check.
                let end = &piece[filled.saturating_sub(DICTIONARY_BYTES)..];
                self.dictionary.clear();
                self.dictionary.extend_from_slice(end);
                tail = crc32fast::Hasher::new();
                tail.update(end);
            }
            written += match method {
                Method::Deflated => self.deflate_piece(filled, FlushCompress::None, out)?,
                Method::Stored => {
                    out.write_all(piece)?;
                    filled as u64
                }
            };
            if limit.is_some_and(|limit| size >= limit) {
                written += self.finish_chunk(method, FlushCompress::Sync, out)?;
                return Ok(ChunkData { method, crc32: crc.finalize(), size, compressed_size: written, tail_crc32: tail.finalize(), primed_crc32: None });
            }
            filled = read_full(source, &mut self.piece)?;
        }
        written += match limit {
            // A middle chunk the file ended in: still only a byte boundary, so the chunks
            // after it (which will find nothing) end the stream.
            Some(_) => self.finish_chunk(method, FlushCompress::Sync, out)?,
            None => self.finish_chunk(method, FlushCompress::Finish, out)?,
        };
        Ok(ChunkData { method, crc32: crc.finalize(), size, compressed_size: written, tail_crc32: tail.finalize(), primed_crc32: None })
    }

    fn start_chunk(&mut self, method: Method, dictionary: &[u8]) -> io::Result<()> {
        if method == Method::Deflated {
            self.deflate.reset();
            if !dictionary.is_empty() {
                self.deflate.set_dictionary(dictionary).map_err(io::Error::other)?;
            }
        }
        Ok(())
    }

    fn finish_chunk(&mut self, method: Method, flush: FlushCompress, out: &mut dyn Write) -> io::Result<u64> {
        match method {
            Method::Deflated => self.deflate_piece(0, flush, out),
            Method::Stored => Ok(0),
        }
    }

    /// Deflates `piece[..len]` into `out`; the bytes written.
    fn deflate_piece(&mut self, len: usize, flush: FlushCompress, out: &mut dyn Write) -> io::Result<u64> {
        let (mut at, mut written) = (0, 0u64);
        loop {
            let (before_in, before_out) = (self.deflate.total_in(), self.deflate.total_out());
            let status = self.deflate.compress(&self.piece[at..len], &mut self.compressed, flush).map_err(io::Error::other)?;
            at += (self.deflate.total_in() - before_in) as usize;
            let produced = (self.deflate.total_out() - before_out) as usize;
            out.write_all(&self.compressed[..produced])?;
            written += produced as u64;
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                // All input taken and room left over: nothing more is pending.
                _ => at == len && produced < self.compressed.len(),
            };
            if done {
                return Ok(written);
            }
        }
    }

    /// Whether a file starting with `piece[..len]` is worth deflating: small files always
    /// are (as upstream does it), larger ones when their first block shrinks.
    fn method_for(&mut self, len: usize) -> io::Result<Method> {
        if len < TRIAL_BYTES {
            return Ok(Method::Deflated);
        }
        self.trial.reset();
        loop {
            let taken = self.trial.total_in() as usize;
            let status = self.trial.compress(&self.piece[taken..len], &mut self.compressed, FlushCompress::Finish).map_err(io::Error::other)?;
            if status == Status::StreamEnd {
                break;
            }
        }
        let worth = (self.trial.total_out() as f64) <= len as f64 * STORE_ABOVE_RATIO;
        Ok(if worth { Method::Deflated } else { Method::Stored })
    }
}

/// Fills `buf` unless the source ends first; the bytes read.
fn read_full(source: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(data).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn text_is_deflated_and_inflates_back_with_its_crc() {
        let text: Vec<u8> = (0..200_000u32).map(|i| b"abcdefgh \n"[(i % 10) as usize]).collect();
        let mut out = Vec::new();
        let data = Encoder::default().encode(&mut &text[..], &mut out).unwrap();
        assert_eq!(data.method, Method::Deflated);
        assert_eq!((data.size, data.compressed_size), (text.len() as u64, out.len() as u64));
        assert!(out.len() < text.len() / 10);
        assert_eq!(inflate(&out), text);
        assert_eq!(data.crc32, crc32fast::hash(&text));
    }

    #[test]
    fn incompressible_bytes_are_stored_as_they_are() {
        let mut x = 0x2545F491u32;
        let noise: Vec<u8> = (0..100_000).map(|_| { x ^= x << 13; x ^= x >> 17; x ^= x << 5; x as u8 }).collect();
        let mut out = Vec::new();
        let data = Encoder::default().encode(&mut &noise[..], &mut out).unwrap();
        assert_eq!(data.method, Method::Stored);
        assert_eq!(out, noise);
        assert_eq!(data.crc32, crc32fast::hash(&noise));
    }

    #[test]
    fn small_and_empty_files_are_deflated_as_upstream_does() {
        for input in [&b""[..], b"x", b"short text\n"] {
            let mut out = Vec::new();
            let data = Encoder::default().encode(&mut &input[..], &mut out).unwrap();
            assert_eq!(data.method, Method::Deflated);
            assert_eq!(inflate(&out), input);
        }
    }

    /// A reader handing out odd-sized pieces gives the same bytes as one handing out all.
    #[test]
    fn the_output_does_not_depend_on_how_the_source_is_read() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(4093);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text: Vec<u8> = (0..700_000u32).map(|i| (i.wrapping_mul(2654435761) >> 27) as u8 + b'a').collect();
        let (mut whole, mut trickled) = (Vec::new(), Vec::new());
        let mut encoder = Encoder::default();
        encoder.encode(&mut &text[..], &mut whole).unwrap();
        encoder.encode(&mut Trickle(&text), &mut trickled).unwrap();
        assert_eq!(whole, trickled);
        // Nor on what the encoder did before: a fresh one gives the same bytes.
        let mut fresh = Vec::new();
        Encoder::default().encode(&mut &text[..], &mut fresh).unwrap();
        assert_eq!(whole, fresh);
    }

    fn words(len: usize) -> Vec<u8> {
        let mut x = 0x9E3779B9u32;
        let vocabulary = [&b"alpha "[..], b"beta ", b"gamma\n", b"delta ", b"epsilon ", b"zeta ", b"eta\n", b"theta "];
        let mut text = Vec::with_capacity(len + 16);
        while text.len() < len {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            text.extend_from_slice(vocabulary[(x % 8) as usize]);
        }
        text.truncate(len);
        text
    }

    /// Each chunk encoded on its own (as the native host does on several cores) joins into
    /// exactly the bytes of one encoder reading the file through, with the file's CRC; each
    /// full chunk's tail CRC is the next one's priming's.
    fn chunks_join_into_the_whole(file: &[u8], expected_method: Method) {
        let mut whole = Vec::new();
        let data = Encoder::default().encode(&mut &file[..], &mut whole).unwrap();
        assert_eq!(data.method, expected_method);
        assert_eq!(inflate_or_copy(data.method, &whole), file);
        let count = chunk_count(file.len() as u64);
        let (mut joined, mut chunks) = (Vec::new(), Vec::new());
        let mut encoder = Encoder::default();
        for k in 0..count {
            let start = (k * CHUNK_BYTES) as usize;
            let chunk = encoder.encode_chunk(&mut io::Cursor::new(file), k, count, &mut joined).unwrap();
            let priming = &file[start.saturating_sub(DICTIONARY_BYTES)..start];
            assert_eq!(chunk.primed_crc32, (k > 0).then(|| crc32fast::hash(priming)), "chunk {k}'s priming");
            chunks.push(chunk);
        }
        assert_eq!(join_chunks(chunks), Some(data));
        assert!(joined == whole, "the chunks joined differ from the file encoded whole");
    }

    /// Chunks that do not follow on from each other (the file changed between their reads)
    /// do not join.
    #[test]
    fn chunks_of_a_changed_file_do_not_join() {
        let (before, after) = (words(3 * CHUNK_BYTES as usize), words(3 * CHUNK_BYTES as usize + 1).split_off(1));
        let mut encoder = Encoder::default();
        let mut chunk = |file: &[u8], k| encoder.encode_chunk(&mut io::Cursor::new(file), k, 3, &mut io::sink()).unwrap();
        let same = [chunk(&before, 0), chunk(&before, 1), chunk(&before, 2)];
        assert!(join_chunks(same).is_some());
        assert_eq!(join_chunks([chunk(&before, 0), chunk(&after, 1), chunk(&before, 2)]), None, "primed with other bytes");
        let shrunk = &before[..CHUNK_BYTES as usize + 10];
        assert_eq!(join_chunks([chunk(shrunk, 0), chunk(shrunk, 1), chunk(shrunk, 2)]), None, "a middle chunk came up short");
        let noise: Vec<u8> = (0..3 * CHUNK_BYTES as usize).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0]).collect();
        assert_eq!(join_chunks([chunk(&before, 0), chunk(&noise, 1), chunk(&before, 2)]), None, "a chunk of other bytes, by another method");
    }

    fn inflate_or_copy(method: Method, data: &[u8]) -> Vec<u8> {
        match method {
            Method::Deflated => inflate(data),
            Method::Stored => data.to_vec(),
        }
    }

    #[test]
    fn a_large_file_in_chunks_is_the_same_bytes_as_read_through() {
        for len in [CHUNK_BYTES as usize * 3 + 12_345, CHUNK_BYTES as usize * 2, CHUNK_BYTES as usize + 1, CHUNK_BYTES as usize - 1, 40_000, 10] {
            chunks_join_into_the_whole(&words(len), Method::Deflated);
        }
        let mut x = 0x2545F491u32;
        let noise: Vec<u8> = (0..CHUNK_BYTES as usize * 2 + 777).map(|_| { x ^= x << 13; x ^= x >> 17; x ^= x << 5; x as u8 }).collect();
        chunks_join_into_the_whole(&noise, Method::Stored);
    }

    /// Chunks cost next to nothing in size: priming keeps every match in reach.
    #[test]
    fn chunking_costs_under_a_tenth_of_a_percent() {
        let text = words(CHUNK_BYTES as usize * 4);
        let mut chunked = Vec::new();
        Encoder::default().encode(&mut &text[..], &mut chunked).unwrap();
        let mut one_stream = Compress::new(Compression::new(LEVEL), false);
        let mut whole = Vec::with_capacity(text.len());
        one_stream.compress_vec(&text, &mut whole, FlushCompress::Finish).unwrap();
        assert!((chunked.len() as f64) < whole.len() as f64 * 1.001, "{} against {}", chunked.len(), whole.len());
    }

    #[test]
    fn chunk_counts() {
        assert_eq!([0, 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES].map(chunk_count), [1, 1, 1, 2, 3]);
    }
}
