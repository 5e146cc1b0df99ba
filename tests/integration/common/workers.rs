//! Running upstream's worker and ours on the same job stream, and comparing the results.

use super::normalize::Normalizer;
use super::*;

/// Runs a worker command on `job` in `dir`; returns its stdout.
pub fn run_worker(mut cmd: std::process::Command, job: &[u8]) -> Vec<u8> {
    cmd.env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", venv_bin().display()));
    let out = run_with_input(cmd, job);
    assert!(
        out.stdout.ends_with(b"{\"eof\": true}\n"),
        "worker did not finish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Normalized lines, keepalives dropped (their number depends on timing), the archive
/// replaced by a marker.
pub fn normalized(stream: &[u8], pdd: &std::path::Path, home: &std::path::Path) -> Vec<String> {
    let mut n = Normalizer::new(vec![
        (pdd.display().to_string(), "<pdd>"),
        (home.display().to_string(), "<home>"),
    ]);
    raw_lines(stream)
        .into_iter()
        .filter(|l| !l.starts_with("{\"event\": \"keepalive\""))
        .map(|l| {
            if l.starts_with("{\"zipfile\"") {
                "<archive>".to_string()
            } else {
                n.line(&l)
            }
        })
        .collect()
}

/// Where two lines part, with some context from each.
pub fn first_difference(ours: &str, theirs: &str) -> String {
    let at = ours
        .bytes()
        .zip(theirs.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let from = at.saturating_sub(120);
    let window =
        |s: &str| String::from_utf8_lossy(&s.as_bytes()[from.min(s.len())..(at + 200).min(s.len())]).into_owned();
    format!(
        "at byte {at}\n  ours:     …{}\n  upstream: …{}",
        window(ours),
        window(theirs)
    )
}

/// Both workers' normalized result streams for one job: (ours, upstream's).
pub fn run_both(job: &[u8], worker_args: &[String], env: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
    let (ours, theirs) = run_both_raw(job, worker_args, env);
    (ours.normalized, theirs.normalized)
}

/// One worker's run: its stream, normalized lines and private data dir (kept until drop).
pub struct WorkerRun {
    pub stream: Vec<u8>,
    pub normalized: Vec<String>,
    pub pdd: std::path::PathBuf,
    pub tmp: std::sync::Arc<tempfile::TempDir>,
}

/// Both workers on `job` with `env` added to their clean environment: (ours, upstream's).
pub fn run_both_raw(job: &[u8], worker_args: &[String], env: &[(&str, &str)]) -> (WorkerRun, WorkerRun) {
    let tmp = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let (theirs_dir, ours_dir) = (tmp.path().join("theirs"), tmp.path().join("ours"));
    let mut cmd = upstream(tmp.path());
    cmd.arg("worker")
        .arg("--private-data-dir")
        .arg(&theirs_dir)
        .args(worker_args)
        .envs(env.iter().copied());
    let stream = run_worker(cmd, job);
    let theirs = WorkerRun { normalized: normalized(&stream, &theirs_dir, tmp.path()), stream, pdd: theirs_dir, tmp: tmp.clone() };
    let mut cmd = runnerwire();
    cmd.env_clear()
        .env("HOME", tmp.path())
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .env("TZ", "UTC")
        .env("ANSIBLE_NOCOLOR", "1");
    cmd.arg("worker")
        .arg("--private-data-dir")
        .arg(&ours_dir)
        .args(worker_args)
        .envs(env.iter().copied());
    let stream = run_worker(cmd, job);
    let ours = WorkerRun { normalized: normalized(&stream, &ours_dir, tmp.path()), stream, pdd: ours_dir, tmp };
    (ours, theirs)
}


/// The files of the artifacts archive in a result stream, by name (links as their target).
pub fn artifacts(stream: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    use base64::Engine;
    use std::io::Read;
    let Some(at) = find(stream, b"{\"zipfile\": ") else { return Default::default() };
    let line_end = at + stream[at..].iter().position(|&b| b == b'\n').unwrap();
    let size: usize = std::str::from_utf8(&stream[at + 12..line_end - 1]).unwrap().trim().parse().unwrap();
    let encoded_len = size.div_ceil(3) * 4;
    let zip_bytes = base64::engine::general_purpose::STANDARD.decode(&stream[line_end + 1..line_end + 1 + encoded_len]).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let mut files = std::collections::BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        files.insert(entry.name().unwrap().to_string(), data);
    }
    files
}
