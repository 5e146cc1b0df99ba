//! Running an implementation's stage: a shell command line with the stage's arguments
//! appended, fed a stream, bounded in time, with its exit code, output and peak memory.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How one run ended.
pub struct Run {
    /// None: killed by a signal or at the deadline.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
    /// Peak resident memory of the largest process of the run, in bytes.
    pub max_rss: u64,
}

/// Runs `sh -c '<command_line> "$@"'` with `args`, `stdin` on its standard input.
pub fn run(command_line: &str, args: &[String], stdin: &[u8], env: &[(String, String)], cwd: &std::path::Path, timeout: Duration) -> anyhow::Result<Run> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{command_line} \"$@\""))
        .arg("conformance")
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout ends the whole pipeline.
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| anyhow::anyhow!("cannot run sh: {e}"))?;
    let pid = child.id() as libc::pid_t;
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: plain wait4 on our own child with valid out-pointers.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if done == pid {
            break (status, usage);
        }
        if done < 0 {
            anyhow::bail!("cannot wait for the stage: {}", std::io::Error::last_os_error());
        }
        if !timed_out && Instant::now() >= deadline {
            timed_out = true;
            // SAFETY: signalling the process group we created.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Whatever the shell left running in its group ends with it.
    // SAFETY: as above.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let _ = writer.join();
    let stdout = reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    // Linux reports the larger of the shell's own peak and its waited-for descendants'.
    let max_rss = (usage.ru_maxrss.max(0) as u64) * 1024;
    Ok(Run { code, stdout, stderr, timed_out, max_rss })
}
