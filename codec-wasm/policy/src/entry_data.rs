//! How a regular file's bytes become its archive entry's data, written once: the host
//! runs it natively on all its cores (`native-pack`), the component runs it itself when
//! the host does not offer that, and the archive is the same bytes either way (same code,
//! same deflate, the input fed in the same pieces).
//!
//! Small files are deflated at upstream's level (zlib's 6). Unlike upstream, a larger file
//! whose first block does not shrink is stored: deflating random or already compressed
//! bytes costs most of a transmit's time and saves nothing. Any zip reader (upstream's
//! `zipfile` included) takes both methods.

use std::io::{self, Read, Write};

use flate2::{Compress, Compression, FlushCompress, Status};

/// Upstream's deflate level (Python's `zlib.Z_DEFAULT_COMPRESSION`).
pub const LEVEL: u32 = 6;
/// How much of a file the trial compression reads; smaller files are always deflated.
const TRIAL_BYTES: usize = 16 << 10;
/// A first block that deflates to more than this share of its size is not worth deflating.
const STORE_ABOVE_RATIO: f64 = 0.95;
/// The pieces the input is fed in (part of what makes the output the same everywhere).
const PIECE_BYTES: usize = 256 << 10;

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

/// Encodes files one after another, keeping its buffers and deflate state between them
/// (a fresh 256 KiB buffer and deflate state per file cost more than a small file's
/// deflating).
pub struct Encoder {
    piece: Vec<u8>,
    compressed: Vec<u8>,
    deflate: Compress,
    trial: Compress,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            piece: vec![0; PIECE_BYTES],
            compressed: vec![0; PIECE_BYTES],
            deflate: Compress::new(Compression::new(LEVEL), false),
            trial: Compress::new(Compression::fast(), false),
        }
    }
}

impl Encoder {
    /// Reads `source` to its end and writes its entry data to `out`.
    pub fn encode(&mut self, source: &mut dyn Read, out: &mut dyn Write) -> io::Result<EntryData> {
        let mut filled = read_full(source, &mut self.piece[..TRIAL_BYTES])?;
        let method = if self.worth_deflating(filled)? { Method::Deflated } else { Method::Stored };
        self.deflate.reset();
        let mut crc = crc32fast::Hasher::new();
        let (mut size, mut written) = (0u64, 0u64);
        while filled > 0 {
            crc.update(&self.piece[..filled]);
            size += filled as u64;
            written += match method {
                Method::Deflated => self.deflate_piece(filled, FlushCompress::None, out)?,
                Method::Stored => {
                    out.write_all(&self.piece[..filled])?;
                    filled as u64
                }
            };
            filled = read_full(source, &mut self.piece)?;
        }
        if method == Method::Deflated {
            written += self.deflate_piece(0, FlushCompress::Finish, out)?;
        }
        Ok(EntryData { method, crc32: crc.finalize(), size, compressed_size: written })
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
    fn worth_deflating(&mut self, len: usize) -> io::Result<bool> {
        if len < TRIAL_BYTES {
            return Ok(true);
        }
        self.trial.reset();
        loop {
            let taken = self.trial.total_in() as usize;
            let status = self.trial.compress(&self.piece[taken..len], &mut self.compressed, FlushCompress::Finish).map_err(io::Error::other)?;
            if status == Status::StreamEnd {
                break;
            }
        }
        Ok((self.trial.total_out() as f64) <= len as f64 * STORE_ABOVE_RATIO)
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
}
