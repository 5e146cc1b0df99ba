//! The job keeper: a small process between the worker and the job, so that nothing the job
//! started outlives the worker, whatever ends the worker (SIGKILL, the OOM killer,
//! Receptor's SIGKILL ten seconds after its SIGINT, a write to a reader that is gone).
//!
//! Receptor starts work commands in a session of their own, so when the worker dies nothing
//! above it cleans up, and the job (in a session of its own, on its pty) would run on. The
//! keeper is the worker's own binary, re-executed: it is a child subreaper (every process
//! the job leaves behind, double-forked daemons such as ssh-agent or podman's conmon
//! included, becomes its child when its parent dies), it leads a process group of its own
//! (a kill of the worker's group misses it), and it holds the read end of a lifeline pipe
//! whose only write end is the worker's. The kernel closes that end when the worker dies
//! however it dies, and the keeper then removes the job's container through the engine,
//! kills every process below it, and removes what the worker would have removed.
//!
//! The worker's side is [`spawn`] and [`KeptJob`]; the keeper's is [`main`].

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::pty;

/// The keeper is the worker's binary started under this name (never a subcommand: it is
/// no part of the command line users see).
pub const ARGV0: &str = "runnerwire-job-keeper";
/// Where the keeper finds its pipes.
const LIFELINE_FD: RawFd = 3;
const REPORT_FD: RawFd = 4;
/// The byte the worker writes before closing the lifeline when it has seen the job end.
const ORDERLY: u8 = b'.';
/// How long one container engine command may take while cleaning up.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the keeper keeps killing what is left before it gives up.
const KILL_ROUNDS_FOR: Duration = Duration::from_secs(10);

/// What the keeper must clean up if the worker dies before the job ends.
#[derive(Default)]
pub struct Aftercare<'a> {
    /// The job's container (engine, name): removed through the engine.
    pub container: Option<(&'a str, &'a str)>,
    /// Directories and files the worker would have removed (the private data dir with
    /// `--delete`, the callback and credential temp dirs).
    pub remove: Vec<PathBuf>,
}

/// A job running under a keeper, seen from the worker.
pub struct KeptJob {
    /// The job's terminal: its output is read here.
    pub master: File,
    /// The job's pid; it leads its own session and process group.
    pub pid: u32,
    keeper: std::process::Child,
    lifeline: Option<File>,
    reports: File,
    pending: Vec<u8>,
}

/// Starts `argv` under a keeper, on a new pty, with the given environment and directory.
/// Fails as `Command::spawn` would when the job cannot start (for example no such program).
pub fn spawn(argv: &[String], env: &[(String, String)], cwd: &str, aftercare: &Aftercare) -> io::Result<KeptJob> {
    if argv.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    }
    let terminal = pty::open()?;
    let (lifeline_read, lifeline_write) = pipe()?;
    let (report_read, report_write) = pipe()?;
    // Above the numbers the keeper expects, so moving them there cannot clobber one another.
    let lifeline_read = dup_above(&lifeline_read, 10)?;
    let report_write = dup_above(&report_write, 10)?;
    let mut keeper = Command::new("/proc/self/exe");
    keeper.arg0(ARGV0);
    if let Some((engine, name)) = aftercare.container {
        keeper.arg("--engine").arg(engine).arg("--container").arg(name);
    }
    for path in &aftercare.remove {
        keeper.arg("--remove").arg(path);
    }
    keeper
        .arg("--")
        .args(argv)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::from(terminal.slave.try_clone()?))
        .stdout(Stdio::from(terminal.slave.try_clone()?))
        .stderr(Stdio::from(terminal.slave));
    let (lifeline_fd, report_fd) = (lifeline_read.as_raw_fd(), report_write.as_raw_fd());
    // SAFETY: only dup2, which is async-signal-safe, between fork and exec.
    unsafe {
        keeper.pre_exec(move || {
            if libc::dup2(lifeline_fd, LIFELINE_FD) < 0 || libc::dup2(report_fd, REPORT_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let keeper = keeper.spawn()?;
    drop((lifeline_read, report_write));
    let mut job = KeptJob {
        master: terminal.master,
        pid: 0,
        keeper,
        lifeline: Some(File::from(lifeline_write)),
        reports: File::from(report_read),
        pending: Vec::new(),
    };
    // The keeper's first report says whether the job started.
    match job.next_report(true)? {
        Some(Report::Started(pid)) => {
            job.pid = pid;
            Ok(job)
        }
        Some(Report::SpawnError(errno)) => {
            job.finish();
            Err(io::Error::from_raw_os_error(errno))
        }
        _ => {
            job.finish();
            Err(io::Error::other("the job keeper ended before starting the job"))
        }
    }
}

enum Report {
    Started(u32),
    SpawnError(i32),
    Exited(i32),
}

impl KeptJob {
    /// The pipe on which the keeper reports the job's end: readable means [`Self::exit`]
    /// has news.
    pub fn reports(&self) -> &File {
        &self.reports
    }

    /// The job's exit status once the keeper has reported it (never blocks).
    pub fn exit(&mut self) -> io::Result<Option<ExitStatus>> {
        loop {
            match self.next_report(false)? {
                Some(Report::Exited(status)) => return Ok(Some(ExitStatus::from_raw(status))),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }

    /// Waits until the job has ended and returns its status.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            match self.next_report(true)? {
                Some(Report::Exited(status)) => return Ok(ExitStatus::from_raw(status)),
                Some(_) => continue,
                // The pipe closed with no exit report: the keeper itself was killed.
                None => return Err(io::Error::other("the job keeper died before the job ended")),
            }
        }
    }

    /// Tells the keeper the worker saw the job end, and waits for the keeper to exit.
    pub fn finish(mut self) {
        if let Some(mut lifeline) = self.lifeline.take() {
            let _ = lifeline.write_all(&[ORDERLY]);
        }
        let _ = self.keeper.wait();
    }

    /// The next complete report line, reading what is there (or blocking, when asked).
    fn next_report(&mut self, block: bool) -> io::Result<Option<Report>> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                return Ok(parse_report(&line[..end]));
            }
            if !block && !pty::wait_readable(&self.reports, 0)? {
                return Ok(None);
            }
            let mut buf = [0u8; 64];
            let n = match self.reports.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(None);
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

fn parse_report(line: &[u8]) -> Option<Report> {
    let text = std::str::from_utf8(line).ok()?;
    let (word, value) = text.split_once(' ')?;
    match word {
        "started" => value.parse().ok().map(Report::Started),
        "spawn-error" => value.parse().ok().map(Report::SpawnError),
        "exited" => value.parse().ok().map(Report::Exited),
        _ => None,
    }
}

/// Whether this process was started as the keeper.
pub fn invoked() -> bool {
    std::env::args_os().next().is_some_and(|arg0| Path::new(&arg0).file_name() == Some(OsStr::new(ARGV0)))
}

/// The keeper process: start the job, report on it, and clean up after the worker.
pub fn main() -> ExitCode {
    let Some(request) = KeeperRequest::parse(std::env::args_os().skip(1)) else {
        return ExitCode::from(crate::exit::USAGE);
    };
    // SAFETY: descriptors 3 and 4 were placed by the worker; nothing else owns them.
    let (lifeline, reports) = unsafe { (File::from_raw_fd(LIFELINE_FD), File::from_raw_fd(REPORT_FD)) };
    let _ = set_cloexec(&lifeline).and_then(|_| set_cloexec(&reports));
    // SAFETY: plain prctl/setpgid/signal calls on this process.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::setpgid(0, 0);
        // Terminal and pipe signals are the worker's business; the keeper must outlive it.
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let mut keeper = Keeper { lifeline, reports, job: 0, status: None };
    match start_job(&request.argv) {
        Ok(pid) => {
            keeper.job = pid;
            keeper.report(&format!("started {pid}"));
        }
        Err(e) => {
            keeper.report(&format!("spawn-error {}", e.raw_os_error().unwrap_or(libc::ENOENT)));
            return ExitCode::SUCCESS;
        }
    }
    // The job has the terminal now; the keeper lets go of it, so the worker reads EIO once
    // the job and its descendants close it.
    detach_stdio();
    let orderly = keeper.watch();
    if !orderly {
        keeper.clean_up_after_the_worker(&request);
    }
    ExitCode::SUCCESS
}

struct KeeperRequest {
    engine: Option<OsString>,
    container: Option<OsString>,
    remove: Vec<PathBuf>,
    argv: Vec<OsString>,
}

impl KeeperRequest {
    fn parse(mut args: impl Iterator<Item = OsString>) -> Option<Self> {
        let mut request = KeeperRequest { engine: None, container: None, remove: Vec::new(), argv: Vec::new() };
        while let Some(arg) = args.next() {
            match arg.as_bytes() {
                b"--engine" => request.engine = Some(args.next()?),
                b"--container" => request.container = Some(args.next()?),
                b"--remove" => request.remove.push(args.next()?.into()),
                b"--" => {
                    request.argv = args.collect();
                    return (!request.argv.is_empty()).then_some(request);
                }
                _ => return None,
            }
        }
        None
    }
}

struct Keeper {
    lifeline: File,
    reports: File,
    job: u32,
    /// The job's wait status, once reaped.
    status: Option<i32>,
}

impl Keeper {
    fn report(&mut self, line: &str) {
        // The worker may be gone; then nobody needs the report.
        let _ = self.reports.write_all(format!("{line}\n").as_bytes());
    }

    /// Reaps the job and any orphan adopted meanwhile until the lifeline closes; true when
    /// the worker closed it after seeing the job end.
    fn watch(&mut self) -> bool {
        let job_fd = pidfd_open(self.job);
        let mut orderly = false;
        loop {
            self.reap();
            let mut fds = vec![libc::pollfd { fd: self.lifeline.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
            if let (Some(fd), None) = (&job_fd, self.status) {
                fds.push(libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 });
            }
            // With a pidfd the job's end wakes the poll; without one, look often.
            let timeout = if job_fd.is_some() || self.status.is_some() { 1000 } else { 50 };
            // SAFETY: a valid array of pollfds.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if ready <= 0 || fds[0].revents == 0 {
                continue;
            }
            let mut buf = [0u8; 16];
            match self.lifeline.read(&mut buf) {
                Ok(0) => return orderly,
                Ok(n) => orderly |= buf[..n].contains(&ORDERLY),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return orderly,
            }
        }
    }

    /// Collects every child that has ended; the job's status is reported at once.
    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: waitpid with a valid status pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                return;
            }
            if pid as u32 == self.job && self.status.is_none() {
                self.status = Some(status);
                self.report(&format!("exited {status}"));
            }
        }
    }

    /// The worker is gone before the job ended: the container goes through its engine
    /// (killing the engine's client would leave it running), then every process below the
    /// keeper is killed, then the worker's leftovers are removed.
    fn clean_up_after_the_worker(&mut self, request: &KeeperRequest) {
        if self.status.is_none() {
            if let (Some(engine), Some(name)) = (&request.engine, &request.container) {
                run_bounded(Command::new(engine).arg("kill").arg(name));
                run_bounded(Command::new(engine).args(["rm", "--force"]).arg(name));
            }
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(-(self.job as libc::pid_t), libc::SIGKILL) };
        }
        kill_descendants();
        for path in &request.remove {
            let _ = match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
                Ok(_) => std::fs::remove_file(path),
                Err(_) => Ok(()),
            };
        }
    }
}

/// Starts the job in a session of its own with the keeper's terminal as its controlling
/// terminal, with default signal handling (the keeper's ignored signals would be inherited).
fn start_job(argv: &[OsString]) -> io::Result<u32> {
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            for signal in [libc::SIGINT, libc::SIGHUP, libc::SIGPIPE, libc::SIGTERM] {
                libc::signal(signal, libc::SIG_DFL);
            }
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(command.spawn()?.id())
}

/// Every process below the keeper, killed until none is left (or time runs out): orphans
/// come to the keeper as their parents die, so each round reaps and looks again.
fn kill_descendants() {
    let me = std::process::id();
    let deadline = Instant::now() + KILL_ROUNDS_FOR;
    while Instant::now() < deadline {
        let below = descendants(me);
        for pid in &below {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
        }
        let mut status = 0;
        loop {
            // SAFETY: waitpid with a valid status pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid > 0 {
                continue;
            }
            if pid < 0 && below.is_empty() {
                return; // ECHILD: no child left, and nothing below
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pids below `root`, from each process's parent in /proc.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if let Some(ppid) = parent_of(pid) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, ppid)| *ppid == parent).map(|(pid, _)| *pid));
        i += 1;
    }
    found.remove(0);
    found
}

/// The parent pid from /proc/PID/stat (the fourth field, after the command in parentheses).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.iter().rposition(|&b| b == b')')? + 1;
    let rest = std::str::from_utf8(&stat[after_name..]).ok()?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Runs an engine command quietly, killing it if it takes longer than [`ENGINE_TIMEOUT`].
fn run_bounded(command: &mut Command) {
    let Ok(mut child) = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn() else { return };
    let deadline = Instant::now() + ENGINE_TIMEOUT;
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn detach_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: the pidfd_open system call takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: a descriptor the kernel just created.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A close-on-exec copy of `fd` numbered at least `min`.
fn dup_above(fd: &OwnedFd, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a valid descriptor returns a new one.
    let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just created.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

fn set_cloexec(file: &File) -> io::Result<()> {
    // SAFETY: plain fcntl on a valid descriptor.
    let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFD) };
    if flags < 0 || unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
