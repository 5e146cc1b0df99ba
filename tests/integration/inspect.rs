//! `runnerwire inspect` and `validate` on recorded upstream streams (complete and valid:
//! exit 0, frame counts as the recording has them) and on fixtures/damaged/ (each damage
//! named by its kind at the byte and line `fixtures/damaged/build.py` computed, exit 65).


use crate::common::*;
use serde_json::Value;

fn inspect_json(file: &std::path::Path, extra: &[String]) -> (i32, Vec<Value>) {
    let mut cmd = runnerwire();
    cmd.arg("inspect").arg("--json").arg(file).args(extra);
    let out = run_with_input(cmd, b"");
    let records = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    (out.status.code().unwrap(), records)
}

fn summary(records: &[Value]) -> &Value {
    let last = records.last().expect("a summary line");
    &last["summary"]
}

#[test]
fn every_recorded_stream_is_complete_and_valid() {
    for fixture in fixtures() {
        for name in ["job.stream", "result.stream"] {
            if !fixture.has(name) {
                continue;
            }
            let path = fixture.file(name);
            let what = format!("{}/{name}", fixture.name);
            let (code, records) = inspect_json(&path, &[]);
            let summary = summary(&records);
            assert_eq!(code, 0, "{what}: {summary}");
            assert_eq!(summary["complete"], true, "{what}");
            assert_eq!(summary["problems"], 0, "{what}");
            assert_eq!(summary["bytes"], std::fs::metadata(&path).unwrap().len(), "{what}");
            // Frames as the recording has them, counted here from its lines.
            let lines = stream_lines(&fixture.read(name));
            let events = lines.iter().filter(|l| l.get("event").is_some_and(|e| e != "keepalive")).count();
            let statuses: Vec<&Value> = lines.iter().filter_map(|l| l.get("status")).collect();
            assert_eq!(summary["events"]["total"], events, "{what}");
            let ours: Vec<&Value> = summary["statuses"].as_array().unwrap().iter().map(|s| &s["status"]).collect();
            assert_eq!(ours, statuses, "{what}");
            let frames = records.iter().filter(|r| r.get("frame").is_some()).count();
            assert_eq!(frames, lines.len(), "{what}: one record per frame");
            if name == "result.stream" {
                let archive = &summary["archives"][0];
                assert!(archive["entries"].as_array().unwrap().iter().any(|e| e["name"] == "rc" && e["crc_ok"] == true), "{what}: {archive}");
            }
            let mut cmd = runnerwire();
            cmd.arg("validate").arg(&path);
            let out = run_with_input(cmd, b"");
            assert_eq!(out.status.code(), Some(0), "{what}: {}", String::from_utf8_lossy(&out.stderr));
            assert!(out.stderr.is_empty());
        }
    }
}

#[test]
fn every_damaged_stream_is_diagnosed_where_the_damage_starts() {
    let dir = repo_root().join("fixtures/damaged");
    let cases: Vec<Value> = serde_json::from_slice(&std::fs::read(dir.join("cases.json")).unwrap()).unwrap();
    assert!(cases.len() >= 15);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let path = dir.join(format!("{name}.stream"));
        let mut extra = Vec::new();
        if let Some(limit) = case["limits"]["max_line_bytes"].as_u64() {
            extra.extend(["--max-line-bytes".to_string(), limit.to_string()]);
        }
        let (code, records) = inspect_json(&path, &extra);
        assert_eq!(code, 65, "{name}");
        let first = records.iter().find_map(|r| r.get("problem")).unwrap_or_else(|| panic!("{name}: no problem reported"));
        assert_eq!(
            (&first["kind"], &first["offset"], &first["line"]),
            (&case["kind"], &case["offset"], &case["line"]),
            "{name}: first problem {first}"
        );
        assert!(!first["message"].as_str().unwrap().is_empty());
        // Problems in a line quote its start; those of an archive or the end have none.
        let in_a_line = !matches!(case["kind"].as_str().unwrap(), "bad-archive" | "unsafe-entry" | "truncated-archive" | "missing-status" | "missing-eof");
        assert_eq!(first["excerpt"].is_string(), in_a_line, "{name}: {first}");
        assert_eq!(summary(&records)["complete"], false, "{name}");
        // It goes on after the damage: the eof frame is still found where there is one.
        if !matches!(name, "missing-eof" | "truncated-line") {
            assert!(records.iter().any(|r| r["frame"] == "eof"), "{name}: did not resynchronize");
        }
        let mut cmd = runnerwire();
        cmd.arg("validate").arg(&path).args(&extra);
        let out = run_with_input(cmd, b"");
        assert_eq!(out.status.code(), Some(65), "{name}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let expected = format!("runnerwire: {} at byte {}, line {}: ", case["kind"].as_str().unwrap(), case["offset"], case["line"]);
        assert!(stderr.starts_with(&expected) && stderr.lines().count() == 1, "{name}: {stderr}");
    }
}

#[test]
fn split_lines_are_rejoined_and_glued_lines_separated() {
    let dir = repo_root().join("fixtures/damaged");
    let clean = inspect_json(&repo_root().join("fixtures/multi/result.stream"), &[]).1;
    for name in ["split-line", "glued-lines"] {
        let records = inspect_json(&dir.join(format!("{name}.stream")), &[]).1;
        // Every event of the recording is still counted: nothing was lost, only moved.
        assert_eq!(summary(&records)["events"], summary(&clean)["events"], "{name}");
        assert_eq!(summary(&records)["problems"], 1, "{name}");
    }
}

#[test]
fn stdin_and_a_file_give_the_same_report_and_secrets_are_masked() {
    let path = repo_root().join("fixtures/multi/job.stream");
    let mut cmd = runnerwire();
    cmd.arg("inspect");
    let from_stdin = run_with_input(cmd, &std::fs::read(&path).unwrap());
    let mut cmd = runnerwire();
    cmd.arg("inspect").arg(&path);
    let from_file = run_with_input(cmd, b"");
    assert_eq!(from_stdin.stdout, from_file.stdout);
    let report = String::from_utf8(from_file.stdout).unwrap();
    assert!(report.starts_with("job stream, "), "{report}");
    assert!(report.contains("kwargs (secrets masked):"));

    let tmp = tempfile::tempdir().unwrap();
    let job = tmp.path().join("secret.stream");
    std::fs::write(&job, b"{\"kwargs\": {\"ident\": \"s\", \"ssh_key\": \"PRIVATE\", \"envvars\": {\"MY_TOKEN\": \"abc\", \"X\": \"shown\"}}}\n{\"eof\": true}\n").unwrap();
    let (code, records) = inspect_json(&job, &[]);
    assert_eq!(code, 0);
    let text = serde_json::to_string(&records).unwrap();
    assert!(!text.contains("PRIVATE") && !text.contains("abc") && text.contains("shown"), "{text}");
}

#[test]
fn text_report_of_a_damaged_stream() {
    let path = repo_root().join("fixtures/damaged/foreign-text.stream");
    let mut cmd = runnerwire();
    cmd.arg("inspect").arg(&path);
    let out = run_with_input(cmd, b"");
    assert_eq!(out.status.code(), Some(65));
    let report = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!("inspect_foreign_text", report);
}

#[test]
fn a_line_over_the_limit_is_skipped_not_held() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("huge.stream");
    let mut stream = b"{\"status\": \"running\", \"runner_ident\": \"h\"}\n{\"stdout\": \"".to_vec();
    stream.resize(stream.len() + (40 << 20), b'x');
    stream.extend_from_slice(b"\"}\n{\"status\": \"successful\", \"runner_ident\": \"h\"}\n{\"eof\": true}\n");
    std::fs::write(&path, &stream).unwrap();
    // A memory budget below the line's size: past the line limit it is skipped, never held.
    let args = ["--max-memory-bytes".into(), (24u64 << 20).to_string(), "--max-line-bytes".into(), (1u64 << 20).to_string()];
    let (code, records) = inspect_json(&path, &args);
    assert_eq!(code, 65);
    let problems: Vec<&Value> = records.iter().filter_map(|r| r.get("problem")).collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!((&problems[0]["kind"], &problems[0]["offset"], &problems[0]["line"]), (&"line-too-long".into(), &43.into(), &2.into()));
    let statuses: Vec<&Value> = summary(&records)["statuses"].as_array().unwrap().iter().map(|s| &s["status"]).collect();
    assert_eq!(statuses, ["running", "successful"]);
}

#[test]
fn hostile_archives_and_limits_are_named_by_kind() {
    let dir = repo_root().join("fixtures/hostile");
    for (stream, args, kind) in [
        ("result/link-then-file.stream", vec![], "unsafe-entry"),
        ("result/dotdot.stream", vec![], "unsafe-entry"),
        ("result/duplicate-entries.stream", vec![], "unsafe-entry"),
        ("result/bomb-ratio.stream", vec![], "compression-ratio"),
        ("result/too-many-entries.stream", vec!["--max-entries", "10"], "too-many-entries"),
        ("result/zipfile-over-limit.stream", vec![], "archive-too-large"),
        ("result/deep-json.stream", vec![], "json-too-deep"),
        ("result/not-a-zip.stream", vec![], "bad-archive"),
        ("result/non-json-line.stream", vec![], "foreign-text"),
        ("result/garbage-after-eof.stream", vec![], "data-after-eof"),
    ] {
        let args: Vec<String> = args.into_iter().map(str::to_string).collect();
        let (code, records) = inspect_json(&dir.join(stream), &args);
        assert_eq!(code, 65, "{stream}");
        let kinds: Vec<&Value> = records.iter().filter_map(|r| r.get("problem")).map(|p| &p["kind"]).collect();
        assert!(kinds.iter().any(|k| *k == kind), "{stream}: {kinds:?}");
    }
    // What upstream accepts safely is valid.
    for stream in ["result/wrapped-base64.stream", "result/keepalives.stream", "result/nan-infinity.stream", "result/lone-surrogates.stream"] {
        let (code, records) = inspect_json(&dir.join(stream), &[]);
        assert_eq!(code, 0, "{stream}: {:?}", records.iter().filter_map(|r| r.get("problem")).collect::<Vec<_>>());
    }
}
