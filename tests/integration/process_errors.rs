//! Bad result streams: a distinct exit code, one line on stderr naming what and where, and
//! everything valid before the fault kept. Cases from upstream's own tests of the stage
//! (empty stream, unparseable line) and from its known defects.


use crate::common::*;

struct Run {
    code: Option<i32>,
    stderr: String,
    dir: tempfile::TempDir,
}

fn process(stream: &[u8]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = runnerwire();
    cmd.arg("process").arg(dir.path().join("pdd")).args(["--ident", "job"]);
    let out = run_with_input(cmd, stream);
    Run { code: out.status.code(), stderr: String::from_utf8_lossy(&out.stderr).into_owned(), dir }
}

fn assert_one_line(run: &Run, needles: &[&str]) {
    assert_eq!(run.stderr.lines().count(), 1, "stderr: {:?}", run.stderr);
    for needle in needles {
        assert!(run.stderr.contains(needle), "stderr {:?} lacks {needle:?}", run.stderr);
    }
}

fn simple_stream() -> Vec<u8> {
    fixtures().into_iter().find(|f| f.name == "simple").unwrap().read("result.stream")
}

#[test]
fn empty_stream_is_truncated() {
    let run = process(b"");
    assert_eq!(run.code, Some(65));
    assert_one_line(&run, &["missing-eof at byte 0, line 1", "eof"]);
}

#[test]
fn unparseable_line_names_its_offset_and_keeps_what_came_before() {
    let stream = simple_stream();
    let second_line = stream.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut bad = stream[..second_line].to_vec();
    bad.extend_from_slice(b"{\"uuid\": \"x\", \"counter\": 1, oops}\n");
    bad.extend_from_slice(&stream[second_line..]);
    let run = process(&bad);
    assert_eq!(run.code, Some(65));
    assert_one_line(&run, &[&format!("bad-json at byte {second_line}, line 2: invalid JSON line"), "oops"]);
    // The events after the fault are not written; job_events exists and is empty.
    let events = run.dir.path().join("pdd/artifacts/job/job_events");
    assert_eq!(std::fs::read_dir(events).unwrap().count(), 0);
}

#[test]
fn truncated_inside_the_artifacts_zip_writes_no_partial_artifacts() {
    let stream = simple_stream();
    let zip_line = find(&stream, b"{\"zipfile\"").unwrap();
    let cut = zip_line + 200;
    let run = process(&stream[..cut]);
    assert_eq!(run.code, Some(65));
    assert_one_line(&run, &["truncated-archive", "base64 characters short"]);
    let artifacts = run.dir.path().join("pdd/artifacts/job");
    let names: Vec<String> = std::fs::read_dir(&artifacts).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    assert_eq!(names, ["job_events"], "only the events written before the cut remain");
    assert!(std::fs::read_dir(artifacts.join("job_events")).unwrap().count() > 5);
}

#[test]
fn a_zip_that_is_not_a_zip_is_malformed_not_a_crash() {
    let run = process(b"{\"zipfile\": 6}\naGVsbG8h{\"eof\": true}\n");
    assert_eq!(run.code, Some(65));
    assert_one_line(&run, &["bad-archive at byte 0, line 1", "not a valid zip"]);
}

#[test]
fn event_uuid_that_would_leave_job_events_is_refused() {
    let run = process(b"{\"uuid\": \"../../../escaped\", \"counter\": 1, \"stdout\": \"\"}\n{\"eof\": true}\n");
    assert_eq!(run.code, Some(65));
    assert_one_line(&run, &["unsafe-entry at byte 0, line 1", "escaped"]);
    assert!(!run.dir.path().join("escaped.json").exists());
    assert!(!run.dir.path().join("1-../../../escaped.json").exists());
}

#[test]
fn upstream_symlink_escape_1548_is_refused() {
    // A symlink entry `evil -> <outside>` followed by `evil/x`: upstream writes <outside>/x.
    let outside = tempfile::tempdir().unwrap();
    let zip = zip_with(&[("evil", Some(outside.path().to_str().unwrap()), 0o120777), ("evil/x", None, 0o100644)]);
    let run = process(&archive_stream(&zip));
    assert_eq!(run.code, Some(65));
    assert_one_line(&run, &["unsafe-entry at byte 0, line 1", "goes through the symlink \"evil\""]);
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "nothing written outside");
}

#[test]
fn entry_names_with_dot_dot_are_refused() {
    let zip = zip_with(&[("../outside.txt", None, 0o100644)]);
    let run = process(&archive_stream(&zip));
    assert_eq!(run.code, Some(65));
    assert_one_line(&run, &["unsafe-entry", "'..'"]);
    assert!(!run.dir.path().join("pdd/artifacts/outside.txt").exists());
}

/// One wording for every stream problem: every damaged and hostile result stream `process`
/// refuses is named by `process` with the very line `validate` prints (kind, offset, line,
/// message), and the three `validate` reports but `process` does not read or need
/// (bytes after eof, no status line) are said to be so.
#[test]
fn every_stream_process_refuses_is_named_as_validate_names_it() {
    let root = repo_root().join("fixtures");
    let mut streams: Vec<std::path::PathBuf> = Vec::new();
    for dir in ["damaged", "hostile/result"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "stream") && !path.ends_with("truncated-job-archive.stream") {
                streams.push(path);
            }
        }
    }
    streams.sort();
    let mut refused = 0;
    for path in &streams {
        let stream = std::fs::read(path).unwrap();
        let run = process(&stream);
        let mut cmd = runnerwire();
        cmd.args(["validate", "-"]);
        let validated = run_with_input(cmd, &stream);
        let said = String::from_utf8_lossy(&validated.stderr).into_owned();
        let name = path.file_name().unwrap().to_string_lossy();
        if run.code == Some(65) || run.code == Some(74) {
            refused += 1;
            assert_eq!(run.stderr, said, "{name}: process and validate word it differently");
        } else {
            let only_validate = ["data-after-eof", "missing-status"];
            assert!(said.is_empty() || only_validate.iter().any(|k| said.starts_with(&format!("runnerwire: {k} at byte "))), "{name}: process accepted what validate refuses: {said}");
        }
    }
    assert!(refused >= 50, "only {refused} of {} streams refused", streams.len());
}

#[test]
fn limits_are_configurable_from_the_cli() {
    let stream = simple_stream();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = runnerwire();
    cmd.arg("process").arg(dir.path()).args(["--max-line-bytes", "100"]);
    let out = run_with_input(cmd, &stream);
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max line bytes"));
}

#[test]
fn status_decides_the_exit_code() {
    let failed = process(b"{\"status\": \"failed\", \"runner_ident\": \"j\"}\n{\"eof\": true}\n");
    assert_eq!((failed.code, failed.stderr.as_str()), (Some(1), ""));
    let ok = process(b"{\"status\": \"successful\", \"runner_ident\": \"j\"}\n{\"eof\": true}\n");
    assert_eq!(ok.code, Some(0));
}

/// A zip built by Python's zipfile (as upstream builds them): (name, symlink target, mode).
fn zip_with(entries: &[(&str, Option<&str>, u32)]) -> Vec<u8> {
    let spec: Vec<serde_json::Value> =
        entries.iter().map(|(n, t, m)| serde_json::json!({"name": n, "target": t, "mode": m})).collect();
    let script = r#"
import io, json, sys, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    for e in json.loads(sys.argv[1]):
        info = zipfile.ZipInfo(e["name"])
        info.create_system = 3
        info.external_attr = e["mode"] << 16
        z.writestr(info, e["target"] or "data")
sys.stdout.buffer.write(buf.getvalue())
"#;
    let out = std::process::Command::new("python3").args(["-c", script, &serde_json::to_string(&spec).unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A result stream holding just this archive and eof.
fn archive_stream(zip: &[u8]) -> Vec<u8> {
    let mut stream = format!("{{\"zipfile\": {}}}\n", zip.len()).into_bytes();
    stream.extend_from_slice(&b64(zip));
    stream.extend_from_slice(b"{\"eof\": true}\n");
    stream
}

fn b64(data: &[u8]) -> Vec<u8> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import base64,sys; sys.stdout.buffer.write(base64.b64encode(sys.stdin.buffer.read()))"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    run_py(out, data)
}

fn run_py(mut child: std::process::Child, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap().stdout
}

#[test]
fn unparsable_really_big_line_gets_a_short_message() {
    // Upstream's test_unparsable_really_big_line_processor: no newline, 10,000 bytes of junk.
    let mut stream = b"not-json-data with extra garbage:".to_vec();
    stream.extend(std::iter::repeat_n(b'f', 10_000));
    let run = process(&stream);
    assert_eq!(run.code, Some(65));
    assert_one_line(&run, &["truncated-line at byte 0, line 1", "not-json-data with extra garbage:fff"]);
    assert!(run.stderr.len() < 2000, "message of {} bytes", run.stderr.len());
}

#[test]
fn unreadable_input_is_an_io_error() {
    // Upstream's test_error_on_os_error_processor: reading the stream fails.
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = runnerwire();
    cmd.arg("process").arg(dir.path().join("pdd")).stdin(std::fs::File::open(dir.path()).unwrap());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(74));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot read the stream"), "{stderr}");
}

/// The multi-host recording with its events repeated to `events`, each with a fresh counter
/// and uuid (the lines stay exactly as upstream's worker writes them).
fn scaled_multi_stream(events: usize) -> Vec<u8> {
    let stream = fixtures().into_iter().find(|f| f.name == "multi").unwrap().read("result.stream");
    let lines: Vec<&[u8]> = stream.split_inclusive(|&b| b == b'\n').collect();
    let is_event = |l: &[u8]| l.starts_with(b"{\"uuid\": \"");
    let first = lines.iter().position(|l| is_event(l)).unwrap();
    let last = lines.iter().rposition(|l| is_event(l)).unwrap();
    let templates = &lines[first..=last];
    // Counters go on from the events before the first one copied (a verbose line).
    let before = lines[..first].iter().filter(|l| l.windows(11).any(|w| w == b"\"counter\": ")).count();
    let mut out: Vec<u8> = lines[..first].concat();
    for i in 0..events {
        let line = std::str::from_utf8(templates[i % templates.len()]).unwrap();
        let rest = &line[line.find("\"counter\": ").unwrap()..];
        let rest = &rest[rest.find(", ").unwrap()..];
        out.extend(format!("{{\"uuid\": \"{i:08x}-0000-4000-8000-{i:012x}\", \"counter\": {}{rest}", before + i + 1).bytes());
    }
    out.extend(lines[last + 1..].concat());
    out
}

/// Where the `n`th event line led by its uuid and counter starts (as upstream's worker
/// writes them), and the name of its file.
fn nth_event(stream: &[u8], n: usize) -> (usize, String) {
    let mut offset = 0;
    let mut seen = 0;
    for line in stream.split_inclusive(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        if let Some(rest) = text.strip_prefix("{\"uuid\": \"") {
            seen += 1;
            if seen == n {
                let (uuid, rest) = rest.split_once('"').unwrap();
                let counter = rest.strip_prefix(", \"counter\": ").unwrap().split(',').next().unwrap();
                return (offset, format!("{counter}-{uuid}.json"));
            }
        }
        offset += line.len();
    }
    panic!("fewer than {n} events");
}

/// A file that cannot be written (here a directory squats where an event's file goes) stops
/// `process` at that event, as it stops upstream's: the same stdout up to and including that
/// event, the same event files, and one line naming the file and the event's byte offset.
/// runnerwire writes event files on other threads and learns of the failure some events
/// later; this holds it to upstream's outcome anyway, in the recorded stream and in one of
/// 5,000 events, where many writes are in flight when the failure comes.
#[test]
fn an_event_file_that_cannot_be_written_stops_process_at_that_event_as_upstream() {
    let recorded = fixtures().into_iter().find(|f| f.name == "multi").unwrap().read("result.stream");
    for (stream, nth) in [(recorded, 50), (scaled_multi_stream(5000), 3777)] {
        let (offset, name) = nth_event(&stream, nth);
        let tmp = tempfile::tempdir().unwrap();
        let run = |who: &str, mut cmd: std::process::Command| {
            let pdd = tmp.path().join(who);
            let events = pdd.join("artifacts/job/job_events");
            std::fs::create_dir_all(events.join(&name)).unwrap();
            cmd.arg("process").arg(&pdd).args(["--ident", "job"]);
            let out = run_with_input(cmd, &stream);
            let mut files: Vec<String> = std::fs::read_dir(&events).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            files.sort();
            (out, files)
        };
        let (theirs, their_files) = run("upstream", upstream(tmp.path()));
        let (ours, our_files) = run("runnerwire", runnerwire());
        assert_ne!(theirs.status.code(), Some(0), "upstream did not fail");
        assert!(ours.stdout == theirs.stdout, "event {nth}: stdout differs from upstream's");
        let (_, next) = nth_event(&stream, nth + 1);
        assert!(our_files.contains(&name) && !our_files.contains(&next), "event {nth}: no file for the next event");
        assert_eq!(our_files, their_files, "event {nth}: event files differ from upstream's");
        let stderr = String::from_utf8_lossy(&ours.stderr);
        assert_eq!(ours.status.code(), Some(74), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        let line = stream[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
        assert!(stderr.contains(&format!("io at byte {offset}, line {line}: cannot write")) && stderr.contains(&name), "{stderr}");
    }
}
