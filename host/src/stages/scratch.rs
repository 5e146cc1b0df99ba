//! The scratch directory a stage spools an archive into, under the system's temp dir.
//!
//! A stage that is SIGKILLed (a controller restarted, the OOM killer) cannot remove its
//! scratch directory, and an archive spool can be as large as the job's artifacts. So each
//! name carries its process id (`runnerwire-process-<pid>-XXXXXX`), and every stage first
//! removes the scratch directories of its own kind whose process is gone.

use std::path::Path;

use anyhow::Context;
use tempfile::TempDir;

use crate::failure::Failure;

pub fn scratch_dir(stage: &str) -> Result<TempDir, Failure> {
    let prefix = format!("runnerwire-{stage}-");
    let temp = std::env::temp_dir();
    remove_abandoned(&temp, &prefix);
    tempfile::Builder::new()
        .prefix(&format!("{prefix}{}-", std::process::id()))
        .tempdir_in(&temp)
        .context("cannot create a scratch dir")
        .map_err(Failure::io)
}

/// Removes `<prefix><pid>-*` directories in `temp` whose process no longer runs. Best
/// effort: whatever cannot be read or removed stays, and a reused pid keeps its directory
/// until that process ends too.
fn remove_abandoned(temp: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(temp) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(prefix)).and_then(|rest| rest.split_once('-')).and_then(|(pid, _)| pid.parse::<i32>().ok()) else {
            continue;
        };
        if pid > 0 && !process_exists(pid) && entry.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn process_exists(pid: i32) -> bool {
    // Signal 0 checks only; EPERM means it runs as another user.
    // SAFETY: kill with signal 0 sends nothing.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_processes_scratch_dir_is_removed_and_a_live_ones_kept() {
        let temp = tempfile::tempdir().unwrap();
        // A child that has exited and been reaped: its pid is free.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let abandoned = temp.path().join(format!("runnerwire-process-{dead}-abc123"));
        let live = temp.path().join(format!("runnerwire-process-{}-def456", std::process::id()));
        let other_stage = temp.path().join(format!("runnerwire-transmit-{dead}-ghi789"));
        let old_style = temp.path().join("runnerwire-process-Xy12Ab");
        for dir in [&abandoned, &live, &other_stage, &old_style] {
            std::fs::create_dir(dir).unwrap();
            std::fs::write(dir.join("archive.zip"), b"spool").unwrap();
        }
        remove_abandoned(temp.path(), "runnerwire-process-");
        assert!(!abandoned.exists());
        assert!(live.exists());
        assert!(other_stage.exists());
        assert!(old_style.exists());
    }
}
