//! A directory as a stream's `{"zipfile": N}` frame: laid out first (the size must precede
//! the data), then read out and handed on as base64 in chunks.

use std::io::Read;

use crate::archive::pack::{self, ExtraFile, PackedReader};
use crate::error::EntryError;
use crate::fsys::HostFs;
use crate::wire::base64;

/// Raw bytes per base64 chunk (a multiple of 3, so chunks concatenate cleanly).
const CHUNK_RAW: usize = 768 << 10;

pub struct ArchiveStream {
    header: Option<Vec<u8>>,
    reader: Option<(PackedReader, u64)>,
    /// The raw bytes of one chunk, kept from chunk to chunk.
    raw: Vec<u8>,
}

impl ArchiveStream {
    /// Lays out the archive of `source` (plus `extra` files), its files' data encoded into
    /// `scratch_dir`.
    pub fn pack(source: &str, scratch_dir: &str, fs: &dyn HostFs, extra: &[ExtraFile]) -> Result<Self, EntryError> {
        let packed = pack::plan(source, scratch_dir, fs, extra)?;
        let size = packed.size();
        Ok(ArchiveStream { header: Some(format!("{{\"zipfile\": {size}}}\n").into_bytes()), reader: Some((packed.into_reader(), size)), raw: Vec::new() })
    }

    /// The header line, then base64 chunks; `None` when done (the scratch files are removed).
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, EntryError> {
        if let Some(header) = self.header.take() {
            return Ok(Some(header));
        }
        let Some((reader, remaining)) = &mut self.reader else { return Ok(None) };
        if *remaining == 0 {
            if let Some((mut reader, _)) = self.reader.take() {
                reader.remove_outputs();
            }
            return Ok(None);
        }
        let want = CHUNK_RAW.min(usize::try_from(*remaining).unwrap_or(CHUNK_RAW));
        self.raw.resize(want, 0);
        let raw = &mut self.raw[..want];
        reader.read_exact(raw).map_err(|e| EntryError::new(crate::error::ErrorKind::Io, format!("cannot read the archive being sent: {e}")))?;
        *remaining -= want as u64;
        let mut out = Vec::with_capacity(base64::encoded_len(want as u64) as usize);
        base64::encode(raw, &mut out);
        Ok(Some(out))
    }
}
