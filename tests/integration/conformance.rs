//! `runnerwire conformance`, the kit other implementations run: runnerwire's stages and
//! upstream 2.4.3's pass it; implementations that lose one event or one file fail it,
//! naming the case; with `--safety`, upstream's recorded defects are reported as such.


use std::path::Path;

use crate::common::*;

fn bin() -> String {
    env!("CARGO_BIN_EXE_runnerwire").to_string()
}

/// Runs the kit; returns (exit code, stdout lines).
fn kit(args: &[&str]) -> (i32, Vec<String>) {
    let mut cmd = runnerwire();
    // The worker stage runs ansible: the venv's bin first on PATH.
    let path = format!("{}:{}", venv_bin().display(), std::env::var("PATH").unwrap_or_default());
    cmd.env("PATH", path).arg("conformance").args(args);
    let out = run_with_input(cmd, b"");
    let lines = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    (out.status.code().unwrap_or(-1), lines)
}

fn summary(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or("")
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\nset -e\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[test]
fn runnerwires_own_stages_pass_every_case_and_the_safety_level() {
    let b = bin();
    let (transmit, worker, process) = (format!("{b} transmit"), format!("{b} worker"), format!("{b} process"));
    let (code, lines) = kit(&["--safety", "--transmit", &transmit, "--worker", &worker, "--process", &process]);
    let failures: Vec<&String> = lines.iter().filter(|l| !l.starts_with("PASS ")).collect();
    assert_eq!(code, 0, "{failures:#?}");
    let passed = lines.iter().filter(|l| l.starts_with("PASS ")).count();
    assert_eq!(summary(&lines), format!("{passed} passed, 0 failed"));
    for stage in ["transmit/", "worker/", "process/", "safety/process/", "safety/worker/"] {
        assert!(lines.iter().any(|l| l.starts_with(&format!("PASS {stage}"))), "no {stage} case ran");
    }
    assert!(passed >= 100, "{passed} cases");
}

#[test]
fn upstreams_stages_pass_the_compatibility_level() {
    let u = venv_bin().join("ansible-runner").display().to_string();
    let (transmit, worker, process) = (format!("{u} transmit"), format!("{u} worker"), format!("{u} process"));
    let (code, lines) = kit(&["--transmit", &transmit, "--worker", &worker, "--process", &process]);
    let failures: Vec<&String> = lines.iter().filter(|l| !l.starts_with("PASS ")).collect();
    assert_eq!(code, 0, "{failures:#?}");
    assert!(summary(&lines).ends_with(" passed, 0 failed"), "{}", summary(&lines));
}

#[test]
fn upstreams_known_defects_fail_the_safety_level_and_say_so() {
    let process = format!("{} process", venv_bin().join("ansible-runner").display());
    let (code, lines) = kit(&["--safety", "--process", &process]);
    assert_ne!(code, 0);
    let line = |case: &str| lines.iter().find(|l| l.contains(&format!(" safety/process/{case}"))).cloned().unwrap_or_default();
    // ansible-runner#1548: a link planted by one entry, written through by the next.
    assert!(line("link-then-file").starts_with("FAIL ") && line("link-then-file").contains("wrote outside the target: victim/pwned (as upstream 2.4.3)"), "{}", line("link-then-file"));
    assert!(line("empty").contains("exit 0 on a stream it should refuse (as upstream 2.4.3)"), "{}", line("empty"));
    assert!(line("zipfile-over-limit").contains("did not finish within 30 s (as upstream 2.4.3)"), "{}", line("zipfile-over-limit"));
    // What upstream accepts safely still passes.
    assert!(line("wrapped-base64").starts_with("PASS "), "{}", line("wrapped-base64"));
    assert!(lines.iter().all(|l| !l.starts_with("FAIL process/")), "the compatibility cases pass: {lines:#?}");
}

#[test]
fn a_process_that_drops_one_event_fails_and_the_case_is_named() {
    // Line 5 of every recorded result stream is an event.
    let process = format!("sed 5d | {} process", bin());
    let (code, lines) = kit(&["--process", &process]);
    assert_ne!(code, 0);
    let failed: Vec<&String> = lines.iter().filter(|l| l.starts_with("FAIL process/")).collect();
    assert!(!failed.is_empty(), "{lines:#?}");
    assert!(failed.iter().any(|l| l.starts_with("FAIL process/simple: ")), "{failed:#?}");
    assert!(summary(&lines).ends_with(&format!("{} failed", failed.len())));
}

#[test]
fn a_worker_whose_stream_loses_one_event_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let worker = script(tmp.path(), "lossy-worker", &format!("{} worker \"$@\" | sed 4d", bin()));
    let (code, lines) = kit(&["--worker", &worker]);
    assert_ne!(code, 0);
    assert!(lines.iter().any(|l| l.starts_with("FAIL worker/simple: ")), "{lines:#?}");
}

/// A machine whose Python warns when ansible starts (as a newer `cryptography` does): the
/// warning reaches the result stream as verbose events the recording lacks. Upstream's
/// worker still passes every case, with the added lines named; a worker that loses an event
/// in that environment still fails.
#[test]
fn a_warning_printing_environment_still_passes_upstreams_worker_and_fails_a_lossy_one() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("sitecustomize.py"),
        "import warnings\n\nclass CryptographyDeprecationWarning(UserWarning):\n    pass\n\nwarnings.warn(\"Python 3.9 is no longer supported by the Python core team\", CryptographyDeprecationWarning)\n",
    )
    .unwrap();
    let env = format!("export PYTHONPATH={}", site.display());
    let upstream_worker = venv_bin().join("ansible-runner").display().to_string();
    let warning_worker = script(tmp.path(), "warning-worker", &format!("{env}\nexec {upstream_worker} worker \"$@\""));
    let (code, lines) = kit(&["--worker", &warning_worker]);
    let workers: Vec<&String> = lines.iter().filter(|l| l.contains(" worker/")).collect();
    assert_eq!(code, 0, "{lines:#?}");
    assert!(workers.len() >= 7, "{lines:#?}");
    for line in &workers {
        assert!(line.starts_with("PASS ") && line.contains("the environment added 2 verbose lines") && line.contains("CryptographyDeprecationWarning"), "{line}");
    }
    let lossy = script(tmp.path(), "lossy-warning-worker", &format!("{env}\n{upstream_worker} worker \"$@\" | sed 6d"));
    let (code, lines) = kit(&["--worker", &lossy]);
    assert_ne!(code, 0);
    assert!(lines.iter().any(|l| l.starts_with("FAIL worker/simple: ")), "{lines:#?}");
}

#[test]
fn a_transmit_whose_archive_loses_a_file_fails() {
    let tmp = tempfile::tempdir().unwrap();
    // Sends a copy of the private data dir without its inventory.
    let body = format!(
        "src=\"$1\"; shift\ncopy=$(mktemp -d)\ncp -a \"$src\"/. \"$copy\"/\nrm -f \"$copy\"/inventory/hosts\nexec {} transmit \"$copy\" \"$@\"",
        bin()
    );
    let transmit = script(tmp.path(), "lossy-transmit", &body);
    let (code, lines) = kit(&["--transmit", &transmit]);
    assert_ne!(code, 0);
    let simple = lines.iter().find(|l| l.contains(" transmit/simple")).cloned().unwrap_or_default();
    assert!(simple.starts_with("FAIL transmit/simple: ") && simple.contains("inventory/hosts"), "{simple}");
}

#[test]
fn the_kit_needs_a_stage() {
    let (code, lines) = kit(&[]);
    assert_eq!(code, 2);
    assert!(lines.is_empty());
}
