//! `runnerwire worker`: read a job stream, run the job under a pty, stream the results.
//! The format work (job stream, command plan, events, artifacts) is the component's; this
//! module moves bytes and runs the process. Beside it: the pty, signals, the job keeper,
//! the container engine's side (`isolation`), `--worker-info` (`info`), `worker cleanup`
//! (`cleanup`), and the Ansible callback plugin the job runs with (`callback/`).

pub mod cleanup;
pub mod info;
pub mod isolation;
pub mod keeper;
pub mod pty;
pub mod signals;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::WorkerArgs;
use crate::failure::{Failure, StageResult};
use crate::sandbox::{wit_limits, wit_types, wit_worker, Grant, Instance, Runtime};
use keeper::Aftercare;

/// The callback plugin that marks events in ansible's output; written to a private temp
/// dir at run time.
const CALLBACK_PLUGIN: &str = include_str!("callback/runnerwire_display.py");
const READ_CHUNK: usize = 1 << 20;
const KEEPALIVE: &[u8] = b"{\"event\": \"keepalive\", \"counter\": 0, \"uuid\": 0}\n";
/// The shortest keepalive interval (seconds).
const MIN_KEEPALIVE: f64 = 0.1;
/// How often the loop looks at signals, timeouts and keepalives while the job is quiet.
const TICK_MS: i32 = 200;
/// How long the job's output must be quiet before a prompt's answer is typed.
const ANSWER_DELAY: Duration = Duration::from_millis(500);
/// Between SIGTERM and SIGKILL when a job is canceled or times out.
const TERMINATE_GRACE: Duration = Duration::from_secs(5);
/// After the job's own process has ended, how long its terminal may stay quiet before the
/// worker stops reading: a process it left behind may hold the terminal open for good.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);

/// Why the worker ended the job itself.
#[derive(Clone, Copy)]
enum Ending {
    Canceled,
    TimedOut,
}

pub fn run(args: WorkerArgs) -> StageResult {
    if let Some(crate::cli::WorkerAction::Cleanup(cleanup)) = args.action {
        return cleanup::run(cleanup);
    }
    if args.worker_info {
        return info::print();
    }
    let keepalive = keepalive_seconds(args.keepalive_seconds);
    signals::install();
    let (pdd, _temp_pdd) = private_data_dir(&args)?;
    let runtime = Runtime::new().map_err(Failure::internal)?;
    let budget = crate::sandbox::budget(&args.sandbox);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();

    // 1. The job stream: kwargs and the private data dir, unpacked in the sandbox.
    let scratch = tempdir("runnerwire-worker-")?;
    let mut reader = runtime
        .instantiate(&Grant::with_scratch(&pdd, "/pdd", true, scratch.path()), budget)
        .map_err(Failure::internal)?;
    let pdd_text = pdd.to_string_lossy().into_owned();
    let kwargs = match read_job(&mut reader, &pdd_text, &args.limits, keepalive, &mut out)? {
        Ok(kwargs) => kwargs,
        Err((refusal, error)) => {
            // The controller still gets upstream's error status and eof; this process says
            // what was wrong and exits like `process` does on a bad stream.
            out.write_all(&refusal).map_err(Failure::write)?;
            out.flush().map_err(Failure::write)?;
            return Err(Failure::stream(error));
        }
    };
    let callback_dir = tempdir("runnerwire-callback-")?;
    let auth_dir = tempdir("runnerwire-registry-")?;
    let worker_api = reader.codec.runnerwire_codec_worker();
    let host = wit_worker::JobHost {
        pdd: pdd_text.clone(),
        inherited_env: std::env::vars().collect(),
        callback_dir: callback_dir.path().to_string_lossy().into_owned(),
        fallback_ident: crate::stages::paths::random_hex_ident(),
        auth_dir: auth_dir.path().to_string_lossy().into_owned(),
        // SAFETY: getuid cannot fail.
        uid: unsafe { libc::getuid() },
    };
    // Upstream's first check, before the job's settings are read: the plan is made only
    // for a job that passes it.
    let executable = reader.store.call(|store| worker_api.call_isolation_executable(store, &kwargs))?;
    let installed = executable.as_ref().is_none_or(|e| isolation::installed(e));
    let plan = if installed { Some(reader.store.call(|store| worker_api.call_make_plan(store, &kwargs, &host))?) } else { None };
    // A job that cannot run as asked gets upstream's error status and eof, and never runs
    // anywhere else (a container request is never run on the node itself).
    let mut refuse = |why: &str, code: u8| -> StageResult {
        let stream = reader.store.call(|store| worker_api.call_error_stream(store, why))?;
        out.write_all(&stream).map_err(Failure::write)?;
        out.flush().map_err(Failure::write)?;
        Ok(code)
    };
    let plan = match plan {
        None => {
            let executable = executable.as_deref().unwrap_or_default();
            return refuse(&format!("Unable to find process isolation executable: {executable}"), crate::exit::ISOLATION_UNAVAILABLE);
        }
        Some(Ok(plan)) => plan,
        // Upstream's configuration errors fail the job; isolation it cannot give is 69.
        Some(Err(why)) => return refuse(&why.explanation, if why.isolation { crate::exit::ISOLATION_UNAVAILABLE } else { crate::exit::JOB_FAILED }),
    };
    if let Some(why) = plan.container.as_ref().and_then(|run| isolation::unavailable(run, &plan.process_env, executable.as_deref())) {
        return refuse(&why, crate::exit::ISOLATION_UNAVAILABLE);
    }
    drop(reader);

    // 2. Run it, streaming events.
    let artifact_dir = PathBuf::from(&plan.artifact_dir);
    make_private_dir(&artifact_dir.join("job_events")).map_err(Failure::io)?;
    rotate_artifacts(&artifact_dir, plan.rotate_artifacts);
    write_callback_plugin(Path::new(&plan.callback_dir)).map_err(Failure::io)?;
    if let Some(run) = &plan.container {
        isolation::write_files(run).map_err(Failure::io)?;
    }
    // The key is in the plan now and goes to ssh-agent through a FIFO: off the disk before
    // the job starts, so no end of the worker can leave it there.
    let _ = std::fs::remove_file(pdd.join("env/ssh_key"));
    let mut runner = runtime
        .instantiate(&Grant::with_scratch(&artifact_dir, "/artifacts", true, scratch.path()), budget)
        .map_err(Failure::internal)?;
    let api = runner.codec.runnerwire_codec_worker();
    let send = |out: &mut std::io::StdoutLock, bytes: &[u8]| -> Result<(), Failure> {
        out.write_all(bytes).map_err(Failure::write)?;
        out.flush().map_err(Failure::write)
    };
    let line = runner.store.call(|store| api.call_status_line(store, "starting", &plan, true))?;
    send(&mut out, &line)?;
    let line = runner.store.call(|store| api.call_status_line(store, "running", &plan, false))?;
    send(&mut out, &line)?;

    let defaults = runner.store.call(|store| runner.codec.runnerwire_codec_types().call_default_limits(store))?;
    let limits = wit_limits(&args.limits, defaults);
    let filter_api = api.event_filter();
    let stdout_artifact = match (plan.suppress_output_file, plan.json_mode) {
        (true, _) => wit_worker::StdoutArtifact::None,
        (false, true) => wit_worker::StdoutArtifact::Json,
        (false, false) => wit_worker::StdoutArtifact::Text,
    };
    let filter = runner
        .store
        .call(|store| filter_api.call_constructor(store, &plan.ident, seed(), limits.max_line_bytes, &plan.passwords, stdout_artifact))?;
    let mut last_line = isolation::LastLine::default();
    let started = Instant::now();
    let mut last_output = Instant::now();
    let mut last_sent = Instant::now();
    let mut ended: Option<Ending> = None;
    if let (Some(key), Some(fifo)) = (&plan.ssh_key, &plan.ssh_key_fifo) {
        ssh_key_fifo(Path::new(fifo), key.clone()).map_err(Failure::io)?;
    }
    let own_cwd = std::env::current_dir().map(|d| d.to_string_lossy().into_owned()).unwrap_or_else(|_| "/".into());
    // What the job keeper removes if this process dies before the job ends: what the end of
    // this function and the temp dirs' drops would have removed.
    let mut leftovers = vec![callback_dir.path().to_path_buf(), auth_dir.path().to_path_buf(), scratch.path().to_path_buf()];
    leftovers.extend(plan.ssh_key_fifo.as_ref().map(PathBuf::from));
    leftovers.extend(plan.container.iter().flat_map(|run| run.auth_files.iter().map(|f| PathBuf::from(&f.path))));
    if args.delete || _temp_pdd.is_some() {
        leftovers.push(pdd.clone());
    }
    let aftercare = Aftercare {
        container: plan.container.as_ref().map(|run| (run.engine.as_str(), run.name.as_str())),
        remove: leftovers,
    };
    let cwd = plan.process_cwd.as_deref().unwrap_or(&own_cwd);
    let (rc, status) = match keeper::spawn(&plan.command, &plan.process_env, cwd, &aftercare) {
        Ok(mut job) => {
            let mut exited: Option<(std::process::ExitStatus, Instant)> = None;
            let mut buf = vec![0u8; READ_CHUNK];
            let mut kill_at: Option<Instant> = None;
            let mut pending_answer: Option<String> = None;
            loop {
                if ended.is_none() {
                    ended = if signals::cancel_requested() {
                        Some(Ending::Canceled)
                    } else if plan.job_timeout.is_some_and(|t| started.elapsed() > Duration::from_secs(t))
                        || plan.idle_timeout.is_some_and(|t| last_output.elapsed() > Duration::from_secs(t))
                    {
                        Some(Ending::TimedOut)
                    } else {
                        None
                    };
                    if ended.is_some() {
                        // Upstream's kill_container first: the engine's client may not pass
                        // signals on to the container.
                        if let Some(run) = &plan.container {
                            isolation::kill(run, &plan.process_env);
                        }
                        signals::terminate_group(job.pid, libc::SIGTERM);
                        kill_at = Some(Instant::now() + TERMINATE_GRACE);
                    }
                }
                if kill_at.is_some_and(|at| Instant::now() >= at) {
                    signals::terminate_group(job.pid, libc::SIGKILL);
                    kill_at = None;
                }
                if keepalive.is_some_and(|k| last_sent.elapsed().as_secs_f64() >= k) {
                    send(&mut out, KEEPALIVE)?;
                    last_sent = Instant::now();
                }
                // Type a prompt's answer once the job has been quiet for a moment: prompts such
                // as ansible's pause flush the terminal's input right after printing, so an
                // answer typed at once can be lost (upstream's pexpect loop has that race).
                if pending_answer.is_some() && last_output.elapsed() >= ANSWER_DELAY {
                    if let Some(answer) = pending_answer.take() {
                        job.master.write_all(answer.as_bytes()).context("cannot answer a prompt").map_err(Failure::io)?;
                        // Typing counts as activity, as upstream's idle timer sees it.
                        last_output = Instant::now();
                    }
                }
                if exited.is_some_and(|(_, at)| last_output.max(at).elapsed() >= DRAIN_AFTER_EXIT) {
                    break;
                }
                let wait = if pending_answer.is_some() { ANSWER_DELAY.as_millis() as i32 } else { TICK_MS };
                let fds = [job.master.as_raw_fd(), job.reports().as_raw_fd()];
                let [output, report] = pty::wait_readable_any(&fds, wait).map_err(|e| Failure::io(e.into()))?;
                if report && exited.is_none() {
                    let status = job.exit().context("cannot hear from the job keeper").map_err(Failure::io)?;
                    exited = status.map(|status| (status, Instant::now()));
                }
                if !output {
                    continue;
                }
                let n = match job.master.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    // EIO: every holder of the terminal has closed it.
                    Err(_) => break,
                };
                last_output = Instant::now();
                last_line.push(&buf[..n]);
                let events = runner
                    .store
                    .call(|store| filter_api.call_feed(store, filter, &buf[..n], &now_iso()))?
                    .map_err(Failure::stream)?;
                if !events.is_empty() {
                    send(&mut out, &events)?;
                    last_sent = Instant::now();
                }
                if let Some(answer) = runner.store.call(|store| filter_api.call_take_reply(store, filter))? {
                    pending_answer = Some(answer);
                }
            }
            let exit = match exited {
                Some((status, _)) => status,
                None => job.wait().context("cannot wait for the job").map_err(Failure::io)?,
            };
            job.finish();
            match ended {
                // Upstream reports 254 for a job it ended.
                Some(Ending::Canceled) => (254, "canceled"),
                Some(Ending::TimedOut) => (254, "timeout"),
                None => {
                    let rc = exit_code(exit);
                    (rc, if rc == 0 { "successful" } else { "failed" })
                }
            }
        }
        Err(e) => {
            // Like upstream when the command cannot start: the error as output, rc 127.
            let text = format!("{}: {e}\r\n", plan.command.first().map(String::as_str).unwrap_or(""));
            let events = runner
                .store
                .call(|store| filter_api.call_feed(store, filter, text.as_bytes(), &now_iso()))?
                .map_err(Failure::stream)?;
            send(&mut out, &events)?;
            (127, "failed")
        }
    };
    let events = runner.store.call(|store| filter_api.call_finish(store, filter, &now_iso()))?.map_err(Failure::stream)?;
    send(&mut out, &events)?;

    // 3. Final status, artifacts, eof.
    if let Some(fifo) = &plan.ssh_key_fifo {
        let _ = std::fs::remove_file(fifo);
    }
    if let Some(run) = &plan.container {
        for file in &run.auth_files {
            let _ = std::fs::remove_file(&file.path);
        }
    }
    // The engine never ran the job's container: that is the node failing the isolation
    // request, said as upstream says a job it cannot run failed.
    let engine_failed = plan.container.as_ref().filter(|_| ended.is_none() && rc == isolation::ENGINE_FAILED);
    let status = if engine_failed.is_some() { "error" } else { status };
    runner.store.call(|store| api.call_write_artifacts(store, &plan, rc, status))?.map_err(Failure::stream)?;
    let line = match engine_failed {
        Some(run) => {
            let failure = isolation::engine_failure(run, &last_line.get());
            runner.store.call(|store| api.call_error_status_line(store, &plan, &failure))?
        }
        None => runner.store.call(|store| api.call_status_line(store, status, &plan, false))?,
    };
    send(&mut out, &line)?;
    stream_artifacts(&mut runner, &mut out)?;
    send(&mut out, b"{\"eof\": true}\n")?;
    if args.delete {
        let _ = std::fs::remove_dir_all(&pdd);
    }
    Ok(u8::try_from(rc).unwrap_or(crate::exit::JOB_FAILED))
}

/// The callback plugin, in a fresh directory (a container job's is in its artifact dir,
/// where a rerun with the same ident may have left one).
fn write_callback_plugin(dir: &Path) -> anyhow::Result<()> {
    if dir.symlink_metadata().is_ok() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot replace {}", dir.display()))?;
    }
    make_private_dir(dir)?;
    std::fs::write(dir.join("runnerwire_display.py"), CALLBACK_PLUGIN).context("cannot write the callback plugin")
}

/// Upstream's `open_fifo_write`: the key only ever passes through a FIFO (0600) that
/// ssh-add reads; a thread blocks on it until then.
fn ssh_key_fifo(path: &Path, key: String) -> anyhow::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).context("FIFO path has a NUL byte")?;
    // A FIFO (or anything else) left there by a run that died is replaced.
    if path.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
        std::fs::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("cannot create {}", path.display()));
    }
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        if let Ok(mut fifo) = std::fs::OpenOptions::new().write(true).open(&path) {
            let _ = fifo.write_all(key.as_bytes());
        }
    });
    Ok(())
}

/// Upstream's `cleanup_artifact_dir`: keep the `keep` most recently changed artifact dirs.
fn rotate_artifacts(artifact_dir: &Path, keep: u32) {
    let Some(parent) = artifact_dir.parent().filter(|_| keep > 0) else { return };
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    let mut dirs: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    dirs.sort();
    let excess = dirs.len().saturating_sub(keep as usize);
    for (_, dir) in dirs.into_iter().take(excess) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Feeds stdin to the job reader; keepalives go out while the controller is slow to send.
fn read_job(
    reader: &mut Instance,
    pdd: &str,
    limits: &crate::sandbox::LimitArgs,
    keepalive: Option<f64>,
    out: &mut std::io::StdoutLock,
) -> Result<Result<String, (Vec<u8>, wit_types::StreamError)>, Failure> {
    let api = reader.codec.runnerwire_codec_worker().job_reader();
    let defaults = reader.store.call(|store| reader.codec.runnerwire_codec_types().call_default_limits(store))?;
    let job = reader.store.call(|store| api.call_constructor(store, wit_limits(limits, defaults), pdd))?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        if let Some(seconds) = keepalive {
            if !pty::wait_readable(&stdin, (seconds * 1000.0) as i32).unwrap_or(true) {
                out.write_all(KEEPALIVE).and_then(|_| out.flush()).map_err(Failure::write)?;
                continue;
            }
        }
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => 0, // upstream treats a read error like the end of the stream
        };
        let state = reader.store.call(|store| if n == 0 { api.call_finish(store, job) } else { api.call_feed(store, job, &buf[..n]) })?;
        match state {
            wit_worker::JobInput::NeedMore if n > 0 => continue,
            // `finish` always decides; anything else is a codec bug, reported as one.
            wit_worker::JobInput::NeedMore => {
                return Err(Failure::internal(anyhow::anyhow!("the job reader asked for input after the end of stdin")));
            }
            wit_worker::JobInput::Ready(kwargs) => return Ok(Ok(kwargs)),
            wit_worker::JobInput::Refused((stream, error)) => return Ok(Err((stream, error))),
        }
    }
}

fn stream_artifacts(runner: &mut Instance, out: &mut std::io::StdoutLock) -> Result<(), Failure> {
    let api = runner.codec.runnerwire_codec_worker().artifact_stream();
    let stream = runner.store.call(|store| api.call_start(store))?.map_err(Failure::stream)?;
    while let Some(chunk) = runner.store.call(|store| api.call_next_chunk(store, stream))?.map_err(Failure::stream)? {
        out.write_all(&chunk).map_err(Failure::write)?;
    }
    out.flush().map_err(Failure::write)
}

/// `--keepalive-seconds`, else `ANSIBLE_RUNNER_KEEPALIVE_SECONDS`; 0 or bad: none. A
/// shorter interval than [`MIN_KEEPALIVE`] is taken as that: keepalives keep an idle
/// connection open, and more of them only fill the stream (upstream's API sends one per
/// loop at 1e-9 s).
fn keepalive_seconds(arg: Option<f64>) -> Option<f64> {
    let seconds = match arg {
        Some(s) => s,
        None => std::env::var("ANSIBLE_RUNNER_KEEPALIVE_SECONDS").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0.0),
    };
    (seconds.is_finite() && seconds > 0.0).then_some(seconds.max(MIN_KEEPALIVE))
}

/// The private data dir: as given (emptied first with --delete), else a temp dir removed
/// at the end.
fn private_data_dir(args: &WorkerArgs) -> Result<(PathBuf, Option<tempfile::TempDir>), Failure> {
    match &args.private_data_dir {
        Some(dir) => {
            let cwd = std::env::current_dir().context("cannot read the current directory").map_err(Failure::io)?;
            let dir = crate::stages::paths::absolute(&cwd, dir);
            if args.delete {
                let _ = std::fs::remove_dir_all(&dir);
            }
            make_private_dir(&dir).map_err(Failure::io)?;
            Ok((dir, None))
        }
        None => {
            let temp = tempdir("runnerwire-pdd-")?;
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}

fn make_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn tempdir(prefix: &str) -> Result<tempfile::TempDir, Failure> {
    tempfile::Builder::new().prefix(prefix).tempdir().context("cannot create a temp dir").map_err(Failure::io)
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| -status.signal().unwrap_or(1))
}

fn seed() -> u64 {
    let hex = crate::stages::paths::random_hex_ident();
    u64::from_str_radix(&hex[..16], 16).unwrap_or(0x9e37_79b9_7f4a_7c15)
}

/// Upstream's `datetime.now(timezone.utc).isoformat()`.
fn now_iso() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}
