//! Feeding a stage as the field feeds it: in short writes, with the input left open after
//! the stream, under a time limit that turns a hang into a failure instead of a stuck run.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How a fed run ended.
pub struct Fed {
    pub out: Output,
    /// From the first byte written to the exit.
    pub elapsed: Duration,
    /// Killed at the time limit.
    pub hung: bool,
}

/// Runs `cmd` with `input` written `piece()` bytes per write (each write flushed to the pipe
/// before the next, so a reader waiting on it gets them one write at a time). With
/// `keep_open`, stdin stays open after the input, as a socket whose writer never shuts
/// down. Past `limit` the process group is killed and the run reported `hung`.
pub fn feed(mut cmd: Command, input: &[u8], mut piece: impl FnMut() -> usize + Send + 'static, keep_open: bool, limit: Duration) -> Fed {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let (release, released) = mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        let mut rest = &data[..];
        while !rest.is_empty() {
            let n = piece().clamp(1, rest.len());
            if stdin.write_all(&rest[..n]).and_then(|_| stdin.flush()).is_err() {
                return;
            }
            rest = &rest[n..];
        }
        if keep_open {
            // Held until the run is over: the stage must not wait for it to close.
            let _ = released.recv();
        }
    });
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let mut hung = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            hung = true;
            // SAFETY: signalling the child's own process group.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let _ = release.send(());
    writer.join().unwrap();
    let out = Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() };
    Fed { out, elapsed, hung }
}

/// One byte per write.
pub fn bytewise() -> impl FnMut() -> usize + Send + 'static {
    || 1
}

/// The same sizes over and over: odd ones, so reads end anywhere in a line.
pub fn cycling(sizes: &'static [usize]) -> impl FnMut() -> usize + Send + 'static {
    let mut i = 0;
    move || {
        i += 1;
        sizes[(i - 1) % sizes.len()]
    }
}

/// Everything in one write.
pub fn whole() -> impl FnMut() -> usize + Send + 'static {
    || usize::MAX
}
