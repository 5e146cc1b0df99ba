//! `runnerwire worker --worker-info`: the capacity report AWX asks execution nodes for, with
//! upstream's keys and YAML flow style.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use crate::failure::{Failure, StageResult};

/// The ansible-runner release whose stream format and CLI this implements.
pub const RUNNER_VERSION: &str = "2.4.3";

pub fn print() -> StageResult {
    let mut errors = Vec::new();
    let mem = match mem_in_bytes() {
        Some(bytes) => bytes.to_string(),
        None => {
            errors.push("The /proc/meminfo file could not found, memory capacity undiscoverable.".to_string());
            "null".into()
        }
    };
    let uuid = match node_uuid() {
        Ok(uuid) => uuid,
        Err(e) => {
            errors.push(format!("Could not find or create the node uuid file: {e}"));
            "null".into()
        }
    };
    let errors = if errors.is_empty() { "[]".to_string() } else { format!("[{}]", errors.iter().map(|e| format!("'{}'", e.replace('\'', "''"))).collect::<Vec<_>>().join(", ")) };
    // SAFETY: sysconf has no preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1);
    let text = format!("{{cpu_count: {cpus}, errors: {errors}, mem_in_bytes: {mem}, runner_version: {RUNNER_VERSION}, uuid: {uuid}}}\n\n");
    std::io::stdout().write_all(text.as_bytes()).map_err(Failure::write)?;
    Ok(crate::exit::SUCCESS)
}

fn mem_in_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `~/.ansible_runner_uuid`, shared with upstream so a node keeps one identity; created
/// (0600) with a fresh uuid4 when missing.
fn node_uuid() -> std::io::Result<String> {
    let home = std::env::var_os("HOME").map(PathBuf::from).ok_or_else(|| std::io::Error::other("HOME is not set"))?;
    let path = home.join(".ansible_runner_uuid");
    if let Ok(saved) = std::fs::read_to_string(&path) {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        return Ok(saved.trim().to_string());
    }
    let hex = crate::stages::paths::random_hex_ident();
    let uuid = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path)?;
    file.write_all(uuid.as_bytes())?;
    Ok(uuid)
}
