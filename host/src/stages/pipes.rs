//! A stream stage's stdin and stdout, when they are pipes, widened to 1 MiB (Linux's
//! default ceiling for an unprivileged process). The codec hands out 1 MiB chunks; through
//! a 64 KiB pipe each one is sixteen sleeps and wake-ups of writer and reader, which cost
//! a transmit of 50 MB about as much time as base64 and the zip together.

/// What the stages ask for: one of the codec's chunks.
const PIPE_BYTES: usize = 1 << 20;

/// Best effort: a pipe left at its size (not a pipe, an older kernel, the user's pipe
/// quota spent) only costs speed.
#[cfg(target_os = "linux")]
pub fn widen_stdio() {
    use std::os::fd::AsFd;
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    for fd in [stdin.as_fd(), stdout.as_fd()] {
        let is_pipe = rustix::fs::fstat(fd).is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo);
        if is_pipe && rustix::pipe::fcntl_getpipe_size(fd).is_ok_and(|size| size < PIPE_BYTES) {
            let _ = rustix::pipe::fcntl_setpipe_size(fd, PIPE_BYTES);
        }
    }
}

/// Pipes keep their size elsewhere.
#[cfg(not(target_os = "linux"))]
pub fn widen_stdio() {}
