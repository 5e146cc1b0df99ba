//! `runnerwire worker` against upstream's `ansible-runner worker` on the same job streams:
//! the result streams must be equal after normalizing (see `host/src/conformance/normalize.rs`).


use crate::common::normalize::per_host;
use crate::common::workers::{first_difference, run_both};
use crate::common::*;

/// What the snapshot keeps of a normalized stream: frame kinds, statuses, event types,
/// counters, line numbers and stdout; machine-specific event_data stays out.
fn skeleton(lines: &[String]) -> String {
    let field = |line: &str, re: &str| regex::Regex::new(re).unwrap().captures(line).map(|c| c[1].to_string());
    let mut out = String::new();
    for line in lines {
        if let Some(status) = field(line, r#""status": ?"([^"]+)""#) {
            out.push_str(&format!("status {status}\n"));
        } else if let Some(event) = field(line, r#""event": "([^"]+)""#) {
            let num = |key: &str| field(line, &format!(r#""{key}": (\d+)"#)).unwrap_or_default();
            let stdout = field(line, r#""stdout": "((?:[^"\\]|\\.)*)""#).unwrap_or_default();
            out.push_str(&format!(
                "#{} {event} lines {}-{}: {stdout}\n",
                num("counter"),
                num("start_line"),
                num("end_line")
            ));
        } else {
            out.push_str(&format!("{line}\n"));
        }
    }
    out
}

/// Fixtures with several hosts: compared per host (see `compare`), and no skeleton snapshot.
const MULTI_HOST: &[&str] = &["multi", "awx"];

/// Runs upstream's worker and ours on `job` and asserts the normalized streams are equal.
/// With several hosts, ansible's results thread can order events differently run to run
/// (upstream against itself shows it too), so that case gets three tries.
fn assert_same_as_upstream(name: &str, job: &[u8], worker_args: &[String]) -> Vec<String> {
    let tries = if MULTI_HOST.contains(&name) { 3 } else { 1 };
    let mut last = String::new();
    for _ in 0..tries {
        let (ours, theirs) = run_both(job, worker_args, &[]);
        match compare(name, &ours, &theirs) {
            Ok(()) => return ours,
            Err(why) => last = why,
        }
    }
    panic!("{last}");
}

/// Line by line; for several hosts (`multi`), per host in order, since even one fork lets
/// the results thread report one host's item results after the next host's start.
fn compare(name: &str, ours: &[String], theirs: &[String]) -> Result<(), String> {
    let same = |label: String, ours: &[String], theirs: &[String]| -> Result<(), String> {
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            if a != b {
                return Err(format!("{label}, line {i} differs: {}", first_difference(a, b)));
            }
        }
        if ours.len() != theirs.len() {
            return Err(format!("{label}: {} lines, upstream {}", ours.len(), theirs.len()));
        }
        Ok(())
    };
    if !MULTI_HOST.contains(&name) {
        return same(name.to_string(), ours, theirs);
    }
    let (ours, theirs) = (per_host(ours), per_host(theirs));
    if ours.keys().ne(theirs.keys()) {
        return Err(format!(
            "{name}: hosts {:?}, upstream {:?}",
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>()
        ));
    }
    for (host, lines) in &ours {
        same(format!("{name}: host {host:?}"), lines, &theirs[host])?;
    }
    Ok(())
}

#[test]
fn every_fixture_job_runs_like_upstreams_worker() {
    for fixture in fixtures() {
        if !fixture.has("result.stream") {
            continue;
        }
        // One fork: with more, hosts interleave differently on every run (of upstream too),
        // and so do the texts and dict orders that depend on which host finishes first.
        let job = String::from_utf8_lossy(&fixture.read("job.stream"))
            .replacen("\"forks\": \"2\"", "\"forks\": \"1\"", 1);
        // The AWX-shaped job leaves forks to ansible's default: one here too.
        let job = if job.contains("\"forks\"") { job } else { job.replacen("{\"kwargs\": {", "{\"kwargs\": {\"forks\": 1, ", 1) }.into_bytes();
        let ours = assert_same_as_upstream(&fixture.name, &job, &fixture.stage_args("worker").unwrap());
        if !MULTI_HOST.contains(&fixture.name.as_str()) {
            let mut settings = insta::Settings::clone_current();
            settings.set_snapshot_suffix(fixture.name.clone());
            settings.bind(|| insta::assert_snapshot!("worker_skeleton", skeleton(&ours)));
        }
    }
}

#[test]
fn event_data_options_match_upstreams_worker() {
    let fixture = fixtures().into_iter().find(|f| f.name == "failing").unwrap();
    for option in ["--omit-event-data", "--only-failed-event-data"] {
        let tmp = tempfile::tempdir().unwrap();
        fixture.extract_pdd(tmp.path());
        let mut cmd = runnerwire();
        cmd.arg("transmit")
            .arg(tmp.path())
            .args(["-p", "site.yml", "--ident", "opts", option]);
        let job = run_with_input(cmd, b"").stdout;
        assert_same_as_upstream(option, &job, &[]);
    }
}
