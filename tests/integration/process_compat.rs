//! Upstream result streams through `runnerwire process` leave exactly the files and print
//! exactly the stdout that upstream's own `ansible-runner process` left and printed.


use crate::common::*;

#[test]
fn every_recorded_result_stream_processes_to_upstreams_tree_and_stdout() {
    let mut checked = 0;
    for fixture in fixtures() {
        if !fixture.has("result.stream") {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let pdd = tmp.path().join("pdd");
        let mut cmd = runnerwire();
        cmd.arg("process").arg(&pdd).args(fixture.stage_args("process").unwrap());
        let out = run_with_input(cmd, &fixture.read("result.stream"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{}: stderr: {stderr}", fixture.name);
        assert!(out.stdout == fixture.read("process.stdout"), "{}: stdout differs from upstream's", fixture.name);

        let expected = tree_from_tar(&fixture.file("process.tar"));
        let actual = tree_from_dir(&pdd);
        // Unpacked artifact files carry the zip's times; files process writes itself do not.
        let from_zip = |path: &str, node: &Node| matches!(node.kind, Kind::File(_)) && !path.contains("/job_events/") && path != "daemon.log";
        let diffs = tree_diff(&expected, &actual, Some(0), &from_zip);
        assert!(diffs.is_empty(), "{}: tree differs from upstream's:\n{}", fixture.name, diffs.join("\n"));

        // Exit code: 0 for success, else the job's rc.
        let lines = stream_lines(&fixture.read("result.stream"));
        let status = lines.iter().rev().find_map(|l| l.get("status")).and_then(|s| s.as_str()).unwrap().to_string();
        let ident = &fixture.stage_args("process").unwrap()[1];
        let rc: i32 = std::fs::read_to_string(pdd.join("artifacts").join(ident).join("rc")).unwrap().trim().parse().unwrap();
        let expected_code = if status == "successful" { 0 } else { rc };
        assert_eq!(out.status.code(), Some(expected_code), "{}: status {status}, rc {rc}", fixture.name);
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} result streams checked");
}

#[test]
fn quiet_prints_nothing_but_writes_the_same_files() {
    let fixture = fixtures().into_iter().find(|f| f.name == "multi").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = runnerwire();
    cmd.arg("process").arg(tmp.path()).args(["--ident", "multi", "--quiet"]);
    let out = run_with_input(cmd, &fixture.read("result.stream"));
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let events = std::fs::read_dir(tmp.path().join("artifacts/multi/job_events")).unwrap().count();
    let expected = tree_from_tar(&fixture.file("process.tar")).keys().filter(|p| p.contains("/job_events/")).count();
    assert_eq!(events, expected);
}

#[test]
fn artifact_dir_option_and_no_ident_follow_upstreams_rules() {
    let fixture = fixtures().into_iter().find(|f| f.name == "simple").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // No --ident: artifacts go straight into <pdd>/artifacts.
    let mut cmd = runnerwire();
    cmd.arg("process").arg(tmp.path().join("a"));
    let out = run_with_input(cmd, &fixture.read("result.stream"));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(tmp.path().join("a/artifacts/job_events").is_dir());
    assert!(tmp.path().join("a/artifacts/rc").is_file());
    // --artifact-dir wins over the private data dir and the ident.
    let mut cmd = runnerwire();
    cmd.current_dir(tmp.path()).arg("process").arg("b").args(["--ident", "x", "--artifact-dir", "elsewhere/../out"]);
    let out = run_with_input(cmd, &fixture.read("result.stream"));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(tmp.path().join("out/job_events").is_dir());
    assert!(tmp.path().join("b/daemon.log").is_file());
    assert!(!tmp.path().join("b/artifacts").exists());
}

#[test]
fn process_stops_at_eof_even_if_the_writer_keeps_the_pipe_open() {
    use std::io::Write;
    let fixture = fixtures().into_iter().find(|f| f.name == "simple").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = runnerwire();
    cmd.arg("process").arg(tmp.path()).args(["--ident", "simple", "--quiet"]);
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&fixture.read("result.stream")).unwrap();
    stdin.flush().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "process still waiting for input after eof");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    drop(stdin);
    assert_eq!(status.code(), Some(0));
    assert!(tmp.path().join("artifacts/simple/rc").is_file());
}
