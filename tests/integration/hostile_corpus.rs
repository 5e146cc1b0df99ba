//! The hostile corpus (`fixtures/hostile/`, built by its `build.py`): every case through the
//! stage it targets, with the outcome `cases.json` gives. Refused cases must exit 65 with one
//! line naming what and where; accepted ones must leave what upstream leaves; none may change
//! anything outside the target.


use crate::common::sandbox::Sandbox;
use crate::common::*;
use serde_json::Value;

struct Case {
    name: String,
    stage: String,
    stream: Vec<u8>,
    args: Vec<String>,
    exit: i32,
    needles: Vec<String>,
    spec: Value,
}

fn cases() -> Vec<Case> {
    let dir = repo_root().join("fixtures/hostile");
    let index: Value = serde_json::from_slice(&std::fs::read(dir.join("cases.json")).unwrap()).unwrap();
    let strings = |v: &Value| v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect::<Vec<_>>();
    index["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().into(),
            stage: c["stage"].as_str().unwrap().into(),
            stream: std::fs::read(dir.join(c["stream"].as_str().unwrap())).unwrap(),
            args: strings(&c["args"]),
            exit: c["exit"].as_i64().unwrap() as i32,
            needles: strings(&c["stderr"]),
            spec: c.clone(),
        })
        .collect()
}

fn run(case: &Case, sandbox: &Sandbox) -> std::process::Output {
    let mut cmd = runnerwire();
    match case.stage.as_str() {
        "process" => cmd.arg("process").arg(sandbox.work()).args(["--ident", "job"]),
        _ => cmd.arg("worker").arg("--private-data-dir").arg(sandbox.target()),
    };
    cmd.args(&case.args).current_dir(sandbox.root.path());
    run_with_input(cmd, &case.stream)
}

fn check_refusal(case: &Case, out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{}: stderr must be one line: {stderr}", case.name);
    assert!(stderr.starts_with("runnerwire: ") && stderr.contains(" at byte "), "{}: {stderr}", case.name);
    for needle in &case.needles {
        assert!(stderr.contains(needle.as_str()), "{}: stderr {stderr:?} lacks {needle:?}", case.name);
    }
    if case.stage == "worker" {
        // The controller still gets upstream's error status and eof.
        let lines = stream_lines(&out.stdout);
        assert!(lines.len() >= 2, "{}: stdout {}", case.name, String::from_utf8_lossy(&out.stdout));
        assert_eq!(lines[lines.len() - 2]["status"], "error", "{}", case.name);
        assert_eq!(lines[lines.len() - 1], serde_json::json!({"eof": true}), "{}", case.name);
        // Where upstream's worker said why, the controller reads the same words from ours.
        if let Some(theirs) = case.spec["upstream"]["job_explanation"].as_str() {
            assert_eq!(lines[lines.len() - 2]["job_explanation"], theirs, "{}: upstream's explanation", case.name);
        }
    }
}

#[test]
fn every_hostile_case_gets_its_outcome_and_nothing_outside_changes() {
    let cases = cases();
    assert!(cases.len() >= 80, "corpus has only {} cases", cases.len());
    for case in &cases {
        let sandbox = Sandbox::new();
        let out = run(case, &sandbox);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", case.name);
        assert_eq!(out.status.code(), Some(case.exit), "{}: {stderr}", case.name);
        if case.exit != 0 {
            check_refusal(case, &out);
        }
        sandbox.assert_outside_untouched(&case.name);
        // A name an attack aims to create never exists anywhere.
        for (path, _) in tree_from_dir(sandbox.root.path()) {
            assert!(!path.ends_with("pwned") && !path.ends_with("escape.txt"), "{}: {path} exists", case.name);
        }
        if let Some(links) = case.spec.get("links").and_then(Value::as_object) {
            for (name, text) in links {
                let found = std::fs::read_link(sandbox.target().join(name)).unwrap();
                assert_eq!(found.to_str(), text.as_str(), "{}: link {name}", case.name);
            }
        }
    }
}

#[test]
fn refused_archives_keep_what_came_before_and_leave_no_partial_file() {
    // A valid event, then an archive whose second entry is refused: the event file and the
    // first entry stay, the refused entry leaves nothing.
    let case = cases().into_iter().find(|c| c.name == "result/bomb-total-bytes").unwrap();
    let event = b"{\"uuid\": \"u1\", \"counter\": 1, \"stdout\": \"before\"}\n";
    let first_line = case.stream.iter().position(|&b| b == b'\n').unwrap() + 1;
    let stream = [&case.stream[..first_line], &event[..], &case.stream[first_line..]].concat();
    let sandbox = Sandbox::new();
    let out = run(&Case { stream, ..case }, &sandbox);
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(out.stdout, b"before\n");
    let target = sandbox.target();
    assert!(target.join("job_events/1-u1.json").is_file());
    assert_eq!(std::fs::read(target.join("a")).unwrap(), vec![b'a'; 3000]);
    assert!(!target.join("b").exists(), "the entry over the limit is removed, not left half-written");
}

#[test]
fn accepted_hostile_looking_streams_leave_what_upstream_leaves() {
    let mut compared = 0;
    for case in cases().iter().filter(|c| c.spec.get("same_as_upstream").is_some()) {
        let ours = Sandbox::new();
        let out = run(case, &ours);
        assert_eq!(out.status.code(), Some(0), "{}: {}", case.name, String::from_utf8_lossy(&out.stderr));

        let theirs = Sandbox::new();
        let mut cmd = upstream(theirs.root.path());
        cmd.arg("process").arg(theirs.work()).args(["--ident", "job"]).current_dir(theirs.root.path());
        let up = run_with_input(cmd, &case.stream);
        assert!(up.status.success(), "{}: upstream failed: {}", case.name, String::from_utf8_lossy(&up.stderr));

        assert_eq!(String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&up.stdout), "{}: stdout", case.name);
        let from_zip = |path: &str, node: &Node| matches!(node.kind, Kind::File(_)) && !path.starts_with("job_events/");
        let diffs = tree_diff(&tree_from_dir(&theirs.target()), &tree_from_dir(&ours.target()), Some(0), &from_zip);
        assert!(diffs.is_empty(), "{}: tree differs from upstream's:\n{}", case.name, diffs.join("\n"));
        compared += 1;
    }
    assert!(compared >= 7, "only {compared} accepted cases compared");
}

#[test]
fn upstream_still_writes_outside_where_the_corpus_says_it_does() {
    // The corpus's "upstream" column is a recording; re-check the escapes it claims, so
    // the defects SECURITY.md says we close are real.
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.spec["upstream"].get("wrote_outside").is_some()) {
        let sandbox = Sandbox::new();
        let home = tempfile::tempdir().unwrap();
        let mut cmd = upstream(home.path());
        match case.stage.as_str() {
            "process" => cmd.arg("process").arg(sandbox.work()).args(["--ident", "job"]),
            _ => cmd.arg("worker").arg("--private-data-dir").arg(sandbox.target()),
        };
        cmd.current_dir(sandbox.root.path());
        run_with_input(cmd, &case.stream);
        assert!(sandbox.root.path().join("victim/pwned").exists(), "{}: upstream no longer escapes", case.name);
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} upstream escapes re-checked");
}
