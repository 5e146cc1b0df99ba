//! Finding a job's processes by what their command lines hold, for the tests that kill a
//! worker and then look for anything it left running.

use std::time::{Duration, Instant};

/// Every live process (zombies aside) whose command line contains `marker`, as
/// (pid, command line with spaces for NULs).
pub fn processes_mentioning(marker: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return found };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
            .unwrap_or(true);
        if text.contains(marker) && !zombie {
            found.push((pid, text));
        }
    }
    found
}

/// Polls `check` until it holds or `limit` passes; whether it held.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `signal` to `pid` (negative: a process group).
pub fn signal(pid: i32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    let rc = unsafe { libc_kill(pid, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;
