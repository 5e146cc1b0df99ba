//! The failures AWX and Receptor users have reported, each a test against the CLI's stages
//! (bindings/python/tests/test_field_failures.py and bindings/js/test/field-failures.test.mjs
//! take the same cases to the Python and Node runtimes). Where upstream's behaviour is right,
//! ours is upstream's; elsewhere: never a hang, never `successful` for a damaged stream, an
//! error naming its kind, byte offset and line (the very line `validate` prints), and no
//! partial file left as if it were complete. Every run here has a time limit.
//!
//! Needs the upstream venv (`make venv`) for the cases that compare with upstream.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::feeding::{bytewise, cycling, feed, whole, Fed};
use crate::common::workers::{normalized, run_both};
use crate::common::*;

const PROCESS_LIMIT: Duration = Duration::from_secs(30);
const WORKER_LIMIT: Duration = Duration::from_secs(120);

fn stream_of(name: &str) -> Vec<u8> {
    fixtures().into_iter().find(|f| f.name == name).unwrap().read("result.stream")
}

fn job_of(name: &str) -> Vec<u8> {
    fixtures().into_iter().find(|f| f.name == name).unwrap().read("job.stream")
}

fn process_cmd(pdd: &Path) -> Command {
    let mut cmd = runnerwire();
    cmd.arg("process").arg(pdd).args(["--ident", "job"]);
    cmd
}

/// A worker with the venv's ansible and a clean environment.
fn worker_cmd(pdd: &Path, home: &Path) -> Command {
    let mut cmd = runnerwire();
    cmd.env_clear()
        .env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", venv_bin().display()))
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .env("ANSIBLE_NOCOLOR", "1")
        .arg("worker")
        .arg("--private-data-dir")
        .arg(pdd);
    cmd
}

/// What `validate` prints for `stream` (stderr, one line), the line every tool must print.
fn validate_line(stream: &[u8]) -> String {
    let mut cmd = runnerwire();
    cmd.args(["validate", "-"]);
    let out = run_with_input(cmd, stream);
    assert_eq!(out.status.code(), Some(65), "validate accepted a damaged stream");
    String::from_utf8(out.stderr).unwrap()
}

/// The lines of a stream with their start offsets.
fn lines_at(stream: &[u8]) -> Vec<(usize, &[u8])> {
    let mut at = 0;
    stream
        .split_inclusive(|&b| b == b'\n')
        .map(|line| {
            let start = at;
            at += line.len();
            (start, line)
        })
        .collect()
}

/// An event line `process` writes a file for (a counter and a uuid string).
fn is_event_line(line: &[u8]) -> bool {
    find(line, b"\"uuid\": \"").is_some() && find(line, b"\"counter\": ").is_some() && !line.starts_with(b"{\"status\"")
}

fn event_files(pdd: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let dir = pdd.join("artifacts/job/job_events");
    std::fs::read_dir(&dir)
        .map(|entries| entries.map(|e| e.unwrap()).map(|e| (e.file_name().into_string().unwrap(), std::fs::read(e.path()).unwrap())).collect())
        .unwrap_or_default()
}

/// Every event file is a whole event: exactly the line of the stream it came from.
fn assert_event_files_whole(pdd: &Path, stream: &[u8]) {
    let lines: std::collections::HashSet<&[u8]> = lines_at(stream).into_iter().map(|(_, l)| l.strip_suffix(b"\n").unwrap_or(l)).collect();
    for (name, content) in event_files(pdd) {
        assert!(lines.contains(&content[..]), "{name} is not a whole event of the stream");
    }
}

fn assert_refused_like_validate(fed: &Fed, stream: &[u8], what: &str) -> String {
    let stderr = String::from_utf8_lossy(&fed.out.stderr).into_owned();
    assert!(!fed.hung, "{what}: hung");
    assert_eq!(fed.out.status.code(), Some(65), "{what}: {stderr}");
    assert_eq!(stderr, validate_line(stream), "{what}: process and validate word it differently");
    stderr
}

// ---------------------------------------------------------------- short reads

#[test]
fn process_gives_the_same_files_and_output_whatever_the_reads() {
    let stream = stream_of("multi");
    let tmp = tempfile::tempdir().unwrap();
    let reference = feed(process_cmd(&tmp.path().join("whole")), &stream, whole(), false, PROCESS_LIMIT);
    assert_eq!(reference.out.status.code(), Some(0));
    let expected = tree_from_dir(&tmp.path().join("whole"));
    let bytewise_run = feed(process_cmd(&tmp.path().join("bytewise")), &stream, bytewise(), false, PROCESS_LIMIT);
    let odd_run = feed(process_cmd(&tmp.path().join("odd")), &stream, cycling(&[7, 4093, 1, 65537, 13]), false, PROCESS_LIMIT);
    for (name, run) in [("bytewise", bytewise_run), ("odd", odd_run)] {
        assert!(!run.hung, "{name}: hung");
        assert_eq!(run.out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&run.out.stderr));
        assert!(run.out.stdout == reference.out.stdout, "{name}: stdout differs");
        let diffs = tree_diff(&expected, &tree_from_dir(&tmp.path().join(name)), Some(0), &|_, _| false);
        assert!(diffs.is_empty(), "{name}: {diffs:?}");
    }
}

#[test]
fn worker_runs_a_job_fed_a_byte_at_a_time_like_one_fed_at_once() {
    let job = job_of("simple");
    let tmp = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for (name, pieces) in [("whole", Box::new(whole()) as Box<dyn FnMut() -> usize + Send>), ("bytewise", Box::new(bytewise()))] {
        let pdd = tmp.path().join(name);
        let fed = feed(worker_cmd(&pdd, tmp.path()), &job, pieces, false, WORKER_LIMIT);
        assert!(!fed.hung, "{name}: hung");
        assert_eq!(fed.out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&fed.out.stderr));
        runs.push(normalized(&fed.out.stdout, &pdd, tmp.path()));
    }
    assert_eq!(runs[0], runs[1]);
}

#[test]
fn transmit_read_a_byte_at_a_time_sends_the_same_bytes() {
    let fixture = fixtures().into_iter().find(|f| f.name == "tree").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    fixture.extract_pdd(&tmp.path().join("pdd"));
    let transmit = || {
        let mut cmd = runnerwire();
        cmd.arg("transmit").arg(tmp.path().join("pdd")).args(["-p", "site.yml", "--ident", "tree"]);
        cmd.stdout(std::process::Stdio::piped());
        cmd
    };
    let once = transmit().output().unwrap().stdout;
    // A reader that takes one byte per read, as a slow pipe does.
    let mut child = transmit().spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut slow = Vec::new();
    let mut byte = [0u8; 1];
    while std::io::Read::read(&mut out, &mut byte).unwrap() == 1 {
        slow.push(byte[0]);
    }
    assert!(child.wait().unwrap().success());
    assert!(slow == once, "{} bytes read slowly, {} at once", slow.len(), once.len());
}

// ---------------------------------------------------------------- inputs left open

#[test]
fn process_stops_at_the_eof_frame_when_its_input_stays_open() {
    let stream = stream_of("simple");
    let tmp = tempfile::tempdir().unwrap();
    for (name, pieces) in [("whole", Box::new(whole()) as Box<dyn FnMut() -> usize + Send>), ("odd", Box::new(cycling(&[3, 1000])))] {
        let fed = feed(process_cmd(&tmp.path().join(name)), &stream, pieces, true, PROCESS_LIMIT);
        assert!(!fed.hung, "{name}: process waited for its input to close");
        assert_eq!(fed.out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&fed.out.stderr));
        assert!(fed.elapsed < Duration::from_secs(10), "{name}: {:?}", fed.elapsed);
    }
}

#[test]
fn worker_stops_reading_at_the_eof_frame_when_its_input_stays_open() {
    let tmp = tempfile::tempdir().unwrap();
    let pdd = tmp.path().join("pdd");
    let fed = feed(worker_cmd(&pdd, tmp.path()), &job_of("simple"), whole(), true, WORKER_LIMIT);
    assert!(!fed.hung, "the worker waited for its input to close");
    assert_eq!(fed.out.status.code(), Some(0), "{}", String::from_utf8_lossy(&fed.out.stderr));
    assert!(fed.out.stdout.ends_with(b"{\"eof\": true}\n"));
}

// ---------------------------------------------------------------- cut off with no eof

/// The multi-host recording's events repeated until the stream passes `bytes`, each with a
/// fresh counter (following the events before them) and uuid, as a long job's stream.
fn long_stream(bytes: usize) -> Vec<u8> {
    let stream = stream_of("multi");
    let lines: Vec<&[u8]> = stream.split_inclusive(|&b| b == b'\n').collect();
    let is_event = |l: &[u8]| l.starts_with(b"{\"uuid\": \"");
    let first = lines.iter().position(|l| is_event(l)).unwrap();
    let last = lines.iter().rposition(|l| is_event(l)).unwrap();
    let before = lines[..first].iter().filter(|l| find(l, b"\"counter\": ").is_some()).count();
    let mut out: Vec<u8> = lines[..first].concat();
    let mut i = 0;
    while out.len() < bytes {
        let line = std::str::from_utf8(lines[first + i % (last + 1 - first)]).unwrap();
        let rest = &line[line.find("\"counter\": ").unwrap()..];
        let rest = &rest[rest.find(", ").unwrap()..];
        out.extend(format!("{{\"uuid\": \"{i:08x}-0000-4000-8000-{i:012x}\", \"counter\": {}{rest}", before + i + 1).bytes());
        i += 1;
    }
    out.extend(lines[last + 1..].concat());
    out
}

/// A Kubernetes log rotation stops a result stream at exactly 10 MiB: mid-line, or at the
/// end of the line before. Refused as `validate` names it; every event file left is a whole
/// event, and the cut one has none.
#[test]
fn a_stream_cut_at_ten_mebibytes_is_refused_and_leaves_only_whole_event_files() {
    const CUT: usize = 10 << 20;
    let stream = long_stream(CUT + (1 << 20));
    let (line_start, _) = lines_at(&stream).into_iter().rfind(|(at, _)| *at <= CUT).unwrap();
    assert!(line_start < CUT, "the cut must fall inside a line");
    for (cut, problem) in [(CUT, "truncated-line"), (line_start, "missing-eof")] {
        let tmp = tempfile::tempdir().unwrap();
        let pdd = tmp.path().join("pdd");
        let fed = feed(process_cmd(&pdd), &stream[..cut], cycling(&[65536, 4093]), false, PROCESS_LIMIT);
        let stderr = assert_refused_like_validate(&fed, &stream[..cut], &format!("cut at {cut}"));
        let line = stream[..line_start].iter().filter(|&&b| b == b'\n').count() + 1;
        assert!(stderr.starts_with(&format!("runnerwire: {problem} at byte ")) && stderr.contains(&format!(", line {line}: ")), "{stderr}");
        assert_event_files_whole(&pdd, &stream);
        let complete_events = lines_at(&stream[..line_start]).into_iter().filter(|(_, l)| is_event_line(l)).count();
        assert_eq!(event_files(&pdd).len(), complete_events, "cut at {cut}: one file per whole event line, none for the cut one");
        assert!(!pdd.join("artifacts/job/status").exists(), "no status artifact from a cut stream");
    }
}

// ---------------------------------------------------------------- glued and split lines

/// An event line longer than a container runtime's 16 KiB log line, and the stream around it.
fn stream_with_a_long_event() -> (Vec<u8>, usize) {
    let stream = stream_of("simple");
    let lines = lines_at(&stream);
    let (at, line) = lines.iter().copied().find(|(_, l)| l.starts_with(b"{\"uuid\"") && find(l, b"\"stdout\": \"").is_some()).unwrap();
    let text = std::str::from_utf8(line).unwrap();
    let long = text.replacen("\"stdout\": \"", &format!("\"stdout\": \"{}", "x".repeat(40_000)), 1);
    let mut out = stream[..at].to_vec();
    out.extend_from_slice(long.as_bytes());
    out.extend_from_slice(&stream[at + line.len()..]);
    (out, at)
}

/// The runtime splits the line at 16 KiB and joins it back without the newline of the line
/// before: two events glued on one line.
#[test]
fn two_events_glued_on_one_line_are_refused_where_validate_names_them() {
    let (stream, long_at) = stream_with_a_long_event();
    let mut glued = stream[..long_at - 1].to_vec();
    glued.extend_from_slice(&stream[long_at..]);
    let tmp = tempfile::tempdir().unwrap();
    let pdd = tmp.path().join("pdd");
    let fed = feed(process_cmd(&pdd), &glued, cycling(&[16384, 7]), false, PROCESS_LIMIT);
    let stderr = assert_refused_like_validate(&fed, &glued, "glued");
    let second = long_at - 1;
    assert!(stderr.starts_with(&format!("runnerwire: glued-lines at byte {second}, line ")), "{stderr}");
    assert!(stderr.contains(&format!("the newline before byte {second} is missing")), "{stderr}");
    assert_event_files_whole(&pdd, &stream);
}

/// The runtime's split kept as a newline inside the event: one line in two.
#[test]
fn an_event_split_at_sixteen_kibibytes_is_refused_where_validate_names_it() {
    let (stream, long_at) = stream_with_a_long_event();
    let split = long_at + 16 * 1024;
    let mut broken = stream[..split].to_vec();
    broken.push(b'\n');
    broken.extend_from_slice(&stream[split..]);
    let tmp = tempfile::tempdir().unwrap();
    let pdd = tmp.path().join("pdd");
    let fed = feed(process_cmd(&pdd), &broken, cycling(&[16384]), false, PROCESS_LIMIT);
    let stderr = assert_refused_like_validate(&fed, &broken, "split");
    assert!(stderr.starts_with(&format!("runnerwire: split-line at byte {split}, line ")), "{stderr}");
    assert_event_files_whole(&pdd, &stream);
}

// ---------------------------------------------------------------- a worker restarted mid-stream

/// Receptor on Kubernetes has restarted a worker and sent both runs' output on one stream:
/// the first run broken off after some events, then a whole second run. Upstream's process
/// accepts it and writes artifacts of both runs; ours stops at the second run's first event
/// with the byte offset, having written only the first run's events.
#[test]
fn a_worker_restarted_mid_stream_is_refused_at_the_second_runs_first_event() {
    let stream = stream_of("simple");
    let lines = lines_at(&stream);
    let events: Vec<usize> = lines.iter().enumerate().filter(|(_, (_, l))| is_event_line(l)).map(|(i, _)| i).collect();
    let broken_after = events[3];
    let first_run_end = lines[broken_after + 1].0;
    let mut restarted = stream[..first_run_end].to_vec();
    restarted.extend_from_slice(&stream);
    let tmp = tempfile::tempdir().unwrap();
    let pdd = tmp.path().join("pdd");
    let fed = feed(process_cmd(&pdd), &restarted, whole(), false, PROCESS_LIMIT);
    let stderr = assert_refused_like_validate(&fed, &restarted, "restarted");
    let second_first_event = first_run_end + lines[events[0]].0;
    let line = broken_after + 2 + events[0];
    assert_eq!(
        stderr,
        format!("runnerwire: counter-repeat at byte {second_first_event}, line {line}: event counter 1 again after 4: a repeated or reordered event\n")
    );
    assert_eq!(event_files(&pdd).len(), 4, "only the first run's events");
    assert!(!pdd.join("artifacts/job/status").exists());

    // Upstream takes the same stream as a successful job.
    let theirs = tmp.path().join("upstream");
    let mut cmd = upstream(tmp.path());
    cmd.arg("process").arg(&theirs).args(["--ident", "job"]);
    let out = run_with_input(cmd, &restarted);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(theirs.join("artifacts/job/status")).unwrap(), "successful");
}

// ---------------------------------------------------------------- text that is not JSON

/// A traceback, or a warning the worker's environment printed to stdout, inside a result
/// stream: the error quotes the text, as validate does.
#[test]
fn text_that_is_not_json_is_quoted_in_the_error() {
    let stream = stream_of("simple");
    let at = lines_at(&stream)[4].0;
    for text in [
        "Traceback (most recent call last):\n  File \"worker.py\", line 1, in <module>\nValueError: boom\n",
        "/usr/lib/python3/dist-packages/paramiko/transport.py:32: CryptographyDeprecationWarning: Blowfish has been deprecated\n",
    ] {
        let mut damaged = stream[..at].to_vec();
        damaged.extend_from_slice(text.as_bytes());
        damaged.extend_from_slice(&stream[at..]);
        let tmp = tempfile::tempdir().unwrap();
        let fed = feed(process_cmd(&tmp.path().join("pdd")), &damaged, whole(), false, PROCESS_LIMIT);
        let stderr = assert_refused_like_validate(&fed, &damaged, text);
        let first_line = text.lines().next().unwrap();
        let quoted = format!("{:?}", &first_line[..first_line.len().min(80)]);
        assert!(stderr.starts_with(&format!("runnerwire: foreign-text at byte {at}, line 5: text that is not JSON: {}", &quoted[..quoted.len() - 1])), "{stderr}");
    }
}

// ---------------------------------------------------------------- FIFOs where files go

/// A stale `env/ssh_key` FIFO in a reused private data dir and a job that sends no key:
/// upstream 2.4.3's worker opens the FIFO and waits for a writer for good; ours refuses the
/// job with an error status naming the file, at once.
#[test]
fn a_stale_ssh_key_fifo_never_blocks_the_worker() {
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("ours");
    let theirs = tmp.path().join("theirs");
    for pdd in [&ours, &theirs] {
        std::fs::create_dir_all(pdd.join("env")).unwrap();
        mkfifo(&pdd.join("env/ssh_key"));
    }
    let job = job_of("simple");
    let fed = feed(worker_cmd(&ours, tmp.path()), &job, whole(), false, WORKER_LIMIT);
    assert!(!fed.hung && fed.elapsed < Duration::from_secs(20), "our worker waited on the FIFO");
    let lines = stream_lines(&fed.out.stdout);
    assert_eq!(lines.len(), 2, "{}", String::from_utf8_lossy(&fed.out.stdout));
    assert_eq!(lines[0]["status"], "error");
    assert!(lines[0]["job_explanation"].as_str().unwrap().starts_with("env/ssh_key in the private data dir is not a regular file"), "{}", lines[0]);
    assert_eq!(lines[1], serde_json::json!({"eof": true}));

    let mut cmd = upstream(tmp.path());
    cmd.arg("worker").arg("--private-data-dir").arg(&theirs);
    let upstream_run = feed(cmd, &job, whole(), false, Duration::from_secs(8));
    assert!(upstream_run.hung, "upstream's worker no longer blocks on a stale FIFO: update docs/differences.md");
}

/// The job's archive carries `env/ssh_key` where a stale FIFO is, and a stale
/// `ssh_key_data` FIFO sits in the artifact dir: both are replaced, the job runs.
#[test]
fn fifos_where_the_worker_writes_are_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    fixtures().into_iter().find(|f| f.name == "simple").unwrap().extract_pdd(&source);
    std::fs::create_dir_all(source.join("env")).unwrap();
    let key = std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(tmp.path().join("key")).status().unwrap();
    assert!(key.success());
    std::fs::copy(tmp.path().join("key"), source.join("env/ssh_key")).unwrap();
    let mut cmd = runnerwire();
    cmd.arg("transmit").arg(&source).args(["-p", "site.yml", "--ident", "job"]);
    let job = run_with_input(cmd, b"").stdout;
    let pdd = tmp.path().join("pdd");
    std::fs::create_dir_all(pdd.join("env")).unwrap();
    std::fs::create_dir_all(pdd.join("artifacts/job")).unwrap();
    mkfifo(&pdd.join("env/ssh_key"));
    mkfifo(&pdd.join("artifacts/job/ssh_key_data"));
    mkfifo(&pdd.join("artifacts/job/rc"));
    let fed = feed(worker_cmd(&pdd, tmp.path()), &job, whole(), false, WORKER_LIMIT);
    assert!(!fed.hung, "the worker waited on a FIFO");
    let lines = stream_lines(&fed.out.stdout);
    let status = lines.iter().rev().find_map(|l| l.get("status")).unwrap();
    assert_eq!(status, "successful", "{}", String::from_utf8_lossy(&fed.out.stdout));
    assert!(std::fs::symlink_metadata(pdd.join("artifacts/job/rc")).unwrap().is_file());
}

/// `process` finds a FIFO where an event file and an artifact go: replaced, never opened.
/// (Upstream removes the FIFO and drops the artifact; upstream's own streams never carry one.)
#[test]
fn fifos_where_process_writes_are_replaced() {
    let stream = stream_of("simple");
    let tmp = tempfile::tempdir().unwrap();
    let pdd = tmp.path().join("pdd");
    let events = pdd.join("artifacts/job/job_events");
    std::fs::create_dir_all(&events).unwrap();
    let first = stream_lines(&stream).into_iter().find(|l| l.get("counter").is_some()).unwrap();
    let name = format!("{}-{}.json", first["counter"], first["uuid"].as_str().unwrap());
    mkfifo(&events.join(&name));
    mkfifo(&pdd.join("artifacts/job/rc"));
    let fed = feed(process_cmd(&pdd), &stream, whole(), false, PROCESS_LIMIT);
    assert!(!fed.hung, "process waited on a FIFO");
    assert_eq!(fed.out.status.code(), Some(0), "{}", String::from_utf8_lossy(&fed.out.stderr));
    assert!(std::fs::symlink_metadata(events.join(&name)).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(pdd.join("artifacts/job/rc")).unwrap(), "0");
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

// ---------------------------------------------------------------- what works today, held

/// Symlink loops, a link to itself, dangling links and linked directories in the private
/// data dir go into the archive as upstream's transmit puts them (links as links, linked
/// directories not walked into), and upstream's worker unpacks them.
#[test]
fn symlink_loops_dangling_links_and_linked_dirs_are_sent_as_upstream_sends_them() {
    let tmp = tempfile::tempdir().unwrap();
    let pdd = tmp.path().join("pdd");
    fixtures().into_iter().find(|f| f.name == "simple").unwrap().extract_pdd(&pdd);
    let project = pdd.join("project");
    std::os::unix::fs::symlink("loop-b", project.join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", project.join("loop-b")).unwrap();
    std::os::unix::fs::symlink("itself", project.join("itself")).unwrap();
    std::os::unix::fs::symlink("../nowhere/at/all", project.join("dangling")).unwrap();
    std::fs::create_dir_all(pdd.join("data/sub")).unwrap();
    std::fs::write(pdd.join("data/sub/file.txt"), "data\n").unwrap();
    std::os::unix::fs::symlink("../data", project.join("linked-dir")).unwrap();
    std::os::unix::fs::symlink(&pdd, project.join("up-to-the-top")).unwrap();
    let (ours, theirs) = transmit_both(&pdd, tmp.path());
    assert_eq!(archive_listing(true, &ours), archive_listing(true, &theirs));
    let unpacked = tmp.path().join("unpacked");
    let mut cmd = upstream(tmp.path());
    cmd.arg("worker").arg("--private-data-dir").arg(&unpacked);
    let out = feed(cmd, &ours, whole(), false, WORKER_LIMIT);
    assert!(!out.hung && out.out.stdout.ends_with(b"{\"eof\": true}\n"), "{}", String::from_utf8_lossy(&out.out.stderr));
    assert_eq!(std::fs::read_link(unpacked.join("project/loop-a")).unwrap(), Path::new("loop-b"));
    assert_eq!(std::fs::read_link(unpacked.join("project/itself")).unwrap(), Path::new("itself"));
}

/// Files dated before 1980 and after 2107, which a zip cannot say: clamped as upstream's
/// transmit clamps them.
#[test]
fn mtimes_outside_the_zip_range_are_clamped_as_upstream_clamps_them() {
    let tmp = tempfile::tempdir().unwrap();
    let pdd = tmp.path().join("pdd");
    fixtures().into_iter().find(|f| f.name == "simple").unwrap().extract_pdd(&pdd);
    for (name, seconds) in [("epoch.txt", 0i64), ("1970s.txt", 300_000_000), ("2200.txt", 7_258_118_400)] {
        let path = pdd.join("project").join(name);
        std::fs::write(&path, name).unwrap();
        let when = std::time::UNIX_EPOCH + Duration::from_secs(seconds as u64);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(when).unwrap();
    }
    let (ours, theirs) = transmit_both(&pdd, tmp.path());
    assert_eq!(archive_listing(true, &ours), archive_listing(true, &theirs));
}

/// Output with invalid UTF-8, and multibyte characters the terminal hands over split
/// across reads: the same events as upstream's worker gives. The job's program is a script
/// (upstream's `binary` kwarg), so its bytes reach the terminal as they are, outside any
/// event: text both workers turn into verbose events.
#[test]
fn invalid_utf8_split_across_reads_gives_upstreams_events() {
    let tmp = tempfile::tempdir().unwrap();
    let pdd = tmp.path().join("pdd");
    std::fs::create_dir_all(pdd.join("project")).unwrap();
    std::fs::write(pdd.join("project/site.yml"), "- hosts: localhost\n").unwrap();
    // 40,000 two-byte characters on one line (the terminal hands them over in pieces cut
    // anywhere), then bytes that are not UTF-8 at all.
    let script = tmp.path().join("print-bytes");
    std::fs::write(
        &script,
        "#!/usr/bin/env python3\nimport sys\nw = sys.stdout.buffer.write\nw(('\\u00e9' * 40000).encode() + b'\\n')\nw(b'bad \\xff\\xfe \\xc3 end\\n' * 50)\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut cmd = runnerwire();
    cmd.arg("transmit").arg(&pdd).args(["-p", "site.yml", "--ident", "job", "--binary"]).arg(&script);
    let job = run_with_input(cmd, b"").stdout;
    let (ours, theirs) = run_both(&job, &[], &[]);
    assert!(ours.iter().any(|l| l.contains("\\u00e9\\u00e9\\u00e9")), "no multibyte text reached the stream: {ours:?}");
    assert!(ours.iter().any(|l| l.contains("bad \\ufffd\\ufffd \\ufffd end")), "no replaced bytes in the stream: {ours:?}");
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert!(a == b, "{}", crate::common::workers::first_difference(a, b));
    }
}

/// Long stretches of keepalives between events (a quiet job behind a slow link) change
/// nothing `process` leaves, as upstream's process ignores them.
#[test]
fn keepalive_only_stretches_leave_what_upstream_leaves() {
    let stream = stream_of("simple");
    let keepalive = b"{\"event\": \"keepalive\", \"counter\": 0, \"uuid\": 0}\n";
    let mut quiet = Vec::new();
    let mut after_zipfile = false;
    for (i, (_, line)) in lines_at(&stream).into_iter().enumerate() {
        // Never inside an archive: a worker sends none between a zipfile frame and its data.
        if i % 3 == 1 && !after_zipfile {
            for _ in 0..2000 {
                quiet.extend_from_slice(keepalive);
            }
        }
        quiet.extend_from_slice(line);
        after_zipfile = line.starts_with(b"{\"zipfile\"");
    }
    let tmp = tempfile::tempdir().unwrap();
    let fed = feed(process_cmd(&tmp.path().join("ours")), &quiet, cycling(&[49, 4096]), false, PROCESS_LIMIT);
    assert_eq!(fed.out.status.code(), Some(0), "{}", String::from_utf8_lossy(&fed.out.stderr));
    let mut cmd = upstream(tmp.path());
    cmd.arg("process").arg(tmp.path().join("theirs")).args(["--ident", "job"]);
    let theirs = run_with_input(cmd, &quiet);
    assert!(theirs.status.success());
    assert!(fed.out.stdout == theirs.stdout);
    let restored = |path: &str, node: &Node| path.starts_with("artifacts/") && !path.contains("job_events") && matches!(node.kind, Kind::File(_));
    let diffs = tree_diff(&tree_from_dir(&tmp.path().join("theirs")), &tree_from_dir(&tmp.path().join("ours")), Some(0), &restored);
    assert!(diffs.is_empty(), "{diffs:?}");
}

/// Our transmit and upstream's of one private data dir: (ours, theirs).
fn transmit_both(pdd: &Path, home: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut cmd = runnerwire();
    cmd.arg("transmit").arg(pdd).args(["-p", "site.yml", "--ident", "job"]);
    let ours = run_with_input(cmd, b"");
    assert!(ours.status.success(), "{}", String::from_utf8_lossy(&ours.stderr));
    let mut cmd = upstream(home);
    cmd.arg("transmit").arg(pdd).args(["-p", "site.yml", "--ident", "job"]);
    let theirs = run_with_input(cmd, b"");
    assert!(theirs.status.success(), "{}", String::from_utf8_lossy(&theirs.stderr));
    (ours.stdout, theirs.stdout)
}
