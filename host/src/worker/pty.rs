//! Running the job under a pseudo-terminal, as upstream does through pexpect: ansible then
//! prints what it prints to a terminal (80 columns, `\r\n` line ends).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// pexpect's default window size.
const ROWS: u16 = 24;
const COLUMNS: u16 = 80;

/// A new pseudo-terminal: the job gets the slave side as its stdin, stdout, stderr and
/// controlling terminal (see `keeper`); its output is read on the master side.
pub struct Terminal {
    pub master: File,
    pub slave: OwnedFd,
}

/// Opens a pty of pexpect's size with echo off, both sides close-on-exec.
pub fn open() -> io::Result<Terminal> {
    let mut master_fd = -1;
    let mut slave_fd = -1;
    let mut size = libc::winsize { ws_row: ROWS, ws_col: COLUMNS, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: openpty writes two descriptors into the given ints; null name and termios are allowed.
    let rc = unsafe { libc::openpty(&mut master_fd, &mut slave_fd, std::ptr::null_mut(), std::ptr::null(), &mut size) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master_fd), OwnedFd::from_raw_fd(slave_fd)) };
    set_cloexec(&master)?;
    set_cloexec(&slave)?;
    disable_echo(&slave)?;
    Ok(Terminal { master: File::from(master), slave })
}

/// pexpect spawns with `echo=False`: what is typed (password answers) is not echoed back.
fn disable_echo(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: termios is plain data; tcgetattr fills it for a valid terminal descriptor.
    let mut attrs: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut attrs) } != 0 {
        return Err(io::Error::last_os_error());
    }
    attrs.c_lflag &= !libc::ECHO;
    if unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &attrs) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_cloexec(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: plain fcntl on a valid descriptor.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    if flags < 0 || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits up to `timeout_ms` (negative: forever) for input on `fd`; false on timeout.
pub fn wait_readable(fd: &impl AsRawFd, timeout_ms: i32) -> io::Result<bool> {
    Ok(wait_readable_any(&[fd.as_raw_fd()], timeout_ms)?[0])
}

/// Waits up to `timeout_ms` (negative: forever) for input (or hang-up) on any of `fds`;
/// which are ready, all false on timeout.
pub fn wait_readable_any<const N: usize>(fds: &[RawFd; N], timeout_ms: i32) -> io::Result<[bool; N]> {
    let mut pfds = fds.map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 });
    loop {
        // SAFETY: N valid pollfds.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), N as libc::nfds_t, timeout_ms) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        return Ok(pfds.map(|p| p.revents != 0));
    }
}
