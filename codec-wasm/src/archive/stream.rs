//! A directory as a stream's `{"zipfile": N}` frame: packed to a scratch file first (the
//! size must precede the data), then handed out as base64 in chunks.

use std::fs::File;
use std::io::Read;

use crate::wire::base64;
use crate::error::EntryError;
use crate::fsys::HostFs;
use crate::archive::pack::{self, ExtraFile};

/// Raw bytes per base64 chunk (a multiple of 3, so chunks concatenate cleanly).
const CHUNK_RAW: usize = 768 << 10;

pub struct ArchiveStream {
    header: Option<Vec<u8>>,
    file: Option<(File, String, u64)>,
}

impl ArchiveStream {
    /// Packs `source` (plus `extra` files, and the parts in `parts_dir`) into `zip_path`.
    pub fn pack(source: &str, zip_path: &str, fs: &dyn HostFs, extra: &[ExtraFile], parts_dir: Option<&str>) -> Result<Self, EntryError> {
        let size = pack::pack(source, zip_path, fs, extra, parts_dir)?;
        let file = File::open(zip_path).map_err(|e| EntryError::io("cannot read", zip_path, e))?;
        Ok(ArchiveStream { header: Some(format!("{{\"zipfile\": {size}}}\n").into_bytes()), file: Some((file, zip_path.to_string(), size)) })
    }

    /// The header line, then base64 chunks; `None` when done (the scratch zip is removed).
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, EntryError> {
        if let Some(header) = self.header.take() {
            return Ok(Some(header));
        }
        let Some((file, path, remaining)) = &mut self.file else { return Ok(None) };
        if *remaining == 0 {
            if let Some((file, path, _)) = self.file.take() {
                drop(file);
                std::fs::remove_file(&path).map_err(|e| EntryError::io("cannot remove", &path, e))?;
            }
            return Ok(None);
        }
        let want = CHUNK_RAW.min(*remaining as usize);
        let mut raw = vec![0u8; want];
        file.read_exact(&mut raw).map_err(|e| EntryError::io("cannot read", path, e))?;
        *remaining -= want as u64;
        let mut out = Vec::with_capacity(base64::encoded_len(want as u64) as usize);
        base64::encode(&raw, &mut out);
        Ok(Some(out))
    }
}
