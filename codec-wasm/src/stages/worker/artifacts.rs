//! The files upstream's runner leaves in `artifacts/<ident>`, with its modes.

use crate::error::EntryError;
use crate::fsys::HostFs;

/// Writes `command`, `rc`, `status` (0600) and, with `output_files`, an empty `stderr`
/// (0644; under a pty everything arrives on stdout). `stdout` is appended as events arrive.
pub fn write_final(fs: &dyn HostFs, dir: &str, command_json: &[u8], rc: i32, status: &str, output_files: bool) -> Result<(), EntryError> {
    let rc = rc.to_string();
    let files: [(&str, &[u8], u32); 4] = [
        ("command", command_json, 0o600),
        ("rc", rc.as_bytes(), 0o600),
        ("status", status.as_bytes(), 0o600),
        ("stderr", b"", 0o644),
    ];
    for (name, data, mode) in files.into_iter().filter(|(name, _, _)| output_files || *name != "stderr") {
        let path = format!("{dir}/{name}");
        fs.write_file(&path, data, mode).map_err(|e| EntryError::io("cannot write", &path, e))?;
    }
    Ok(())
}
