//! SIGTERM/SIGINT: the worker cancels the job (status `canceled`) instead of dying, so the
//! controller still gets the artifacts and eof.

use std::sync::atomic::{AtomicBool, Ordering};

static CANCEL: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    CANCEL.store(true, Ordering::SeqCst);
}

pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
        // A hang-up is the terminal or session going away, not a request to stop: the job
        // runs on and its results still reach the stream's file or pipe.
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
}

pub fn cancel_requested() -> bool {
    CANCEL.load(Ordering::SeqCst)
}

/// Signals the job's whole process group (the child leads its own session).
pub fn terminate_group(pid: u32, signal: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(-(pid as libc::pid_t), signal);
    }
}
