//! Entry data for the regular files of an archive: encoded by the host natively, on all
//! its cores, when it offers that; else here, one file at a time, by the same shared code
//! (`runnerwire_policy::entry_data`), so the bytes are the same either way.

use std::fs::File;

use runnerwire_policy::entry_data;

use crate::error::EntryError;
use crate::fsys::{Encoded, HostFileWriter, HostFs};

/// The entry data of each of `paths`, written to output files `{out_prefix}.N`.
pub fn encode_files(fs: &dyn HostFs, paths: &[String], out_prefix: &str) -> Result<Vec<Encoded>, EntryError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    match fs.encode_files_natively(paths, out_prefix) {
        Ok(Some(encoded)) if encoded.len() == paths.len() => Ok(encoded),
        Ok(Some(_)) => Err(EntryError::new(crate::error::ErrorKind::Io, "the host encoded a different number of files than asked".to_string())),
        Ok(None) => encode_files_here(fs, paths, out_prefix),
        Err(e) => Err(EntryError::new(crate::error::ErrorKind::Io, e.to_string())),
    }
}

/// The fallback: every file into `{out_prefix}.0`, in order.
fn encode_files_here(fs: &dyn HostFs, paths: &[String], out_prefix: &str) -> Result<Vec<Encoded>, EntryError> {
    let out_path = output_path(out_prefix, 0);
    let mut out = HostFileWriter::create(fs, &out_path).map_err(|e| EntryError::io("cannot create", &out_path, e))?;
    let mut encoded = Vec::with_capacity(paths.len());
    let mut encoder = entry_data::Encoder::default();
    for path in paths {
        let offset = out.position();
        let mut file = File::open(path).map_err(|e| EntryError::io("cannot read", path, e))?;
        let data = encoder.encode(&mut file, &mut out).map_err(|e| EntryError::io("cannot read", path, e))?;
        encoded.push(Encoded { data, output: 0, offset });
    }
    std::io::Write::flush(&mut out).map_err(|e| EntryError::io("cannot write", &out_path, e))?;
    Ok(encoded)
}

pub fn output_path(out_prefix: &str, output: u32) -> String {
    format!("{out_prefix}.{output}")
}
