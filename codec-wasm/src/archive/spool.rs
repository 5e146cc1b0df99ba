//! A received archive on its way into a directory. The zip bytes of a `{"zipfile": N}`
//! frame are written to a scratch file as the decoder hands them out (a zip is read from
//! its end, so it has to be whole before anything is unpacked), then unpacked and removed.
//! Memory stays bounded whatever the archive's size; the decoder has already refused one
//! over the archive limit, and the unpacked-bytes limit counts across every archive of the
//! stream, as upstream's one artifact tree would grow.

use std::fs::File;
use std::io::Write;

use super::unpack::{self, Unpacked};
use crate::error::{EntryError, StreamError};
use crate::fsys::HostFs;
use crate::limits::Limits;

pub(crate) struct Spool {
    /// The scratch file each archive is written to in turn.
    path: String,
    /// The archive being received, and where its zipfile line starts in the stream.
    receiving: Option<(File, u64)>,
    /// Bytes unpacked by the stream's earlier archives.
    unpacked_bytes: u64,
}

impl Spool {
    pub(crate) fn new(path: String) -> Self {
        Spool { path, receiving: None, unpacked_bytes: 0 }
    }

    /// True between an archive's start and its unpacking (or discarding).
    pub(crate) fn is_receiving(&self) -> bool {
        self.receiving.is_some()
    }

    /// An archive starts at the zipfile line at `offset`.
    pub(crate) fn start(&mut self, offset: u64) -> Result<(), StreamError> {
        let file = File::create(&self.path).map_err(|e| EntryError::io("cannot create", &self.path, e).at(offset))?;
        self.receiving = Some((file, offset));
        Ok(())
    }

    /// More of the archive's bytes, in order.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), StreamError> {
        let Some((file, offset)) = &mut self.receiving else { return Ok(()) };
        file.write_all(data).map_err(|e| EntryError::io("cannot write", &self.path, e).at(*offset))
    }

    /// Unpacks the archive received whole into `target` and removes the scratch file;
    /// `capture` names a small top-level file whose content is returned (process's `rc`).
    /// `examine` sees the zip first (a resumed process claims the event files it holds).
    /// Errors are placed at the archive's zipfile line. `None` when no archive was started.
    pub(crate) fn unpack_into(
        &mut self,
        target: &str,
        fs: &dyn HostFs,
        limits: &Limits,
        capture: Option<&str>,
        examine: impl FnOnce(&str),
    ) -> Result<Option<Unpacked>, StreamError> {
        let Some((file, offset)) = self.receiving.take() else { return Ok(None) };
        drop(file);
        examine(&self.path);
        let result = unpack::unpack_after(&self.path, target, fs, limits, capture, self.unpacked_bytes);
        let _ = std::fs::remove_file(&self.path);
        let unpacked = result.map_err(|e| e.at(offset))?;
        self.unpacked_bytes = unpacked.bytes_written;
        Ok(Some(unpacked))
    }

    /// Drops an archive the stream failed inside, and its scratch file.
    pub(crate) fn discard(&mut self) {
        if let Some((file, _)) = self.receiving.take() {
            drop(file);
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
