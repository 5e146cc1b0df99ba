//! Entry data for the regular files of an archive: encoded by the host natively, on all
//! its cores, when it offers that; else here, one file at a time, by the same shared code
//! (`runnerwire_policy::entry_data`), so the bytes are the same either way.

use std::fs::File;

use runnerwire_policy::entry_data;

use crate::error::EntryError;
use crate::fsys::{DataPiece, Encoded, HostFileWriter, HostFs, ToEncode};

/// The entry data of each of `files`, written to output files `{out_prefix}.N`.
pub fn encode_files(fs: &dyn HostFs, files: &[ToEncode], out_prefix: &str) -> Result<Vec<Encoded>, EntryError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    match fs.encode_files_natively(files, out_prefix) {
        Ok(Some(encoded)) if encoded.len() == files.len() => Ok(encoded),
        Ok(Some(_)) => Err(EntryError::new(crate::error::ErrorKind::Io, "the host encoded a different number of files than asked".to_string())),
        Ok(None) => encode_files_here(fs, files, out_prefix),
        Err(e) => Err(EntryError::new(crate::error::ErrorKind::Io, e.to_string())),
    }
}

/// The fallback: every file into `{out_prefix}.0`, in order, each read through once.
fn encode_files_here(fs: &dyn HostFs, files: &[ToEncode], out_prefix: &str) -> Result<Vec<Encoded>, EntryError> {
    let out_path = output_path(out_prefix, 0);
    let mut out = HostFileWriter::create(fs, &out_path).map_err(|e| EntryError::io("cannot create", &out_path, e))?;
    let mut encoded = Vec::with_capacity(files.len());
    let mut encoder = entry_data::Encoder::default();
    for file in files {
        let offset = out.position();
        let mut source = File::open(&file.path).map_err(|e| EntryError::io("cannot read", &file.path, e))?;
        let data = encoder.encode(&mut source, &mut out).map_err(|e| EntryError::io("cannot read", &file.path, e))?;
        encoded.push(Encoded { data, pieces: vec![DataPiece { output: 0, offset, length: data.compressed_size }] });
    }
    std::io::Write::flush(&mut out).map_err(|e| EntryError::io("cannot write", &out_path, e))?;
    Ok(encoded)
}

pub fn output_path(out_prefix: &str, output: u32) -> String {
    format!("{out_prefix}.{output}")
}
