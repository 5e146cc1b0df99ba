//! The jobs AWX really sends, through upstream's worker and ours: AWX's env/settings
//! (no stdout/stderr artifacts), `args`-file inventory updates, json_mode, and jobs in a
//! podman container (the test image from `tests/container/build-image.sh`), including
//! cancel, timeouts, registry credentials and isolation requests the node cannot honour.
//! Result streams must be equal after the usual normalization; artifacts are compared by
//! name and, where both workers write the same bytes, by content.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::workers::{artifacts, first_difference, run_both_raw, WorkerRun};
use crate::common::*;
use crate::common::processes;
use serde_json::{json, Value};

/// The container engine configuration for this machine (why: the header of
/// tests/container/containers.conf; the container tests' setup: docs/testing.md).
fn containers_conf() -> String {
    std::env::var("CONTAINERS_CONF").unwrap_or_else(|_| repo_root().join("tests/container/containers.conf").display().to_string())
}

fn test_image() -> String {
    std::env::var("RUNNERWIRE_TEST_IMAGE").unwrap_or_else(|_| "localhost/runnerwire-test-ee:1".into())
}

/// Fails (not skips) when podman or the image is missing: `make test` builds the image.
fn require_image() {
    let status = std::process::Command::new("podman")
        .args(["image", "exists", &test_image()])
        .env("CONTAINERS_CONF", containers_conf())
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "podman and the test image {} are needed: run `make test-image` (tests/container/build-image.sh)",
        test_image()
    );
}

/// A job stream for the `simple` fixture's private data dir (plus `files`), with `kwargs`
/// merged into what transmit sends, as AWX's transmit call adds its own.
fn job(ident: &str, kwargs: Value, files: &[(&str, &str)]) -> Vec<u8> {
    let fixture = fixtures().into_iter().find(|f| f.name == "simple").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    fixture.extract_pdd(tmp.path());
    for (rel, text) in files {
        let path = tmp.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut cmd = runnerwire();
    cmd.arg("transmit").arg(tmp.path()).args(["-p", "site.yml", "--ident", ident]);
    let out = run_with_input(cmd, b"");
    assert!(out.status.success(), "transmit: {}", String::from_utf8_lossy(&out.stderr));
    let newline = out.stdout.iter().position(|&b| b == b'\n').unwrap();
    let mut first: Value = serde_json::from_slice(&out.stdout[..newline]).unwrap();
    for (k, v) in kwargs.as_object().unwrap() {
        if v.is_null() {
            first["kwargs"].as_object_mut().unwrap().remove(k);
        } else {
            first["kwargs"][k] = v.clone();
        }
    }
    let mut stream = first.to_string().into_bytes();
    stream.extend_from_slice(&out.stdout[newline..]);
    stream
}

fn in_podman(extra: Value) -> Value {
    let mut kwargs = json!({
        "process_isolation": true,
        "process_isolation_executable": "podman",
        "container_image": test_image(),
        "container_options": ["--network=none", "--pull=never"],
    });
    for (k, v) in extra.as_object().unwrap() {
        kwargs[k] = v.clone();
    }
    kwargs
}

const AWX_SETTINGS: (&str, &str) = ("env/settings", r#"{"suppress_output_file": true, "suppress_ansible_output": true, "job_timeout": 0}"#);

fn engine_env() -> Vec<(&'static str, String)> {
    vec![("CONTAINERS_CONF", containers_conf())]
}

fn both(job: &[u8]) -> (WorkerRun, WorkerRun) {
    let env = engine_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_both_raw(job, &[], &env)
}

fn assert_same_lines(what: &str, ours: &[String], theirs: &[String]) {
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(a == b, "{what}: line {i} differs: {}", first_difference(a, b));
    }
    assert_eq!(ours.len(), theirs.len(), "{what}: {} lines, upstream {}\nours: {ours:#?}\nupstream: {theirs:#?}", ours.len(), theirs.len());
}

/// Artifact names, with each worker's callback plugin files set aside.
fn artifact_names(stream: &[u8]) -> Vec<String> {
    artifacts(stream).into_keys().filter(|n| !n.starts_with("callback/")).collect()
}

fn final_status(stream: &[u8]) -> Value {
    stream_lines(stream).into_iter().filter(|l| l.get("status").is_some()).last().expect("a status line")
}

#[test]
fn awx_settings_leave_no_stdout_or_stderr_artifacts_like_upstream() {
    let stream = job("awxset", json!({}), &[AWX_SETTINGS]);
    let (ours, theirs) = both(&stream);
    assert_same_lines("AWX settings", &ours.normalized, &theirs.normalized);
    let names = artifact_names(&ours.stream);
    assert_eq!(names, artifact_names(&theirs.stream));
    assert!(!names.iter().any(|n| n == "stdout" || n == "stderr"), "{names:?}");
    // Without the settings both write them.
    let (ours, theirs) = both(&job("plain", json!({}), &[]));
    let names = artifact_names(&ours.stream);
    assert_eq!(names, artifact_names(&theirs.stream));
    assert!(names.iter().any(|n| n == "stdout") && names.iter().any(|n| n == "stderr"), "{names:?}");
}

#[test]
fn stdout_artifact_holds_what_upstreams_holds_in_text_and_json_mode() {
    for json_mode in [false, true] {
        let stream = job("mode", json!({"json_mode": json_mode}), &[]);
        let (ours, theirs) = both(&stream);
        assert_same_lines("json mode stream", &ours.normalized, &theirs.normalized);
        let text = |run: &WorkerRun| {
            let stdout = artifacts(&run.stream).remove("stdout").expect("a stdout artifact");
            let mut n = common::normalize::Normalizer::new(vec![(run.pdd.display().to_string(), "<pdd>")]);
            String::from_utf8_lossy(&stdout).split('\n').map(|l| n.line(l)).collect::<Vec<_>>()
        };
        assert_same_lines(&format!("stdout artifact (json_mode {json_mode})"), &text(&ours), &text(&theirs));
    }
}

#[test]
fn args_file_inventory_update_runs_like_upstream() {
    // The job starts in the project dir, as upstream's does.
    let args = "ansible-inventory -i ../inventory/hosts --list --output ../artifacts/inv/output.json";
    let stream = job("inv", json!({"playbook": null}), &[("args", args)]);
    let (ours, theirs) = both(&stream);
    assert_same_lines("inventory update", &ours.normalized, &theirs.normalized);
    assert_eq!(final_status(&ours.stream)["status"], "successful");
    let (ours_files, theirs_files) = (artifacts(&ours.stream), artifacts(&theirs.stream));
    let output = ours_files.get("output.json").expect("output.json in the artifacts");
    assert_eq!(Some(output), theirs_files.get("output.json"));
    assert!(String::from_utf8_lossy(output).contains("localhost"));
}

#[test]
fn podman_job_streams_what_upstreams_worker_streams() {
    require_image();
    let stream = job("ctr1", in_podman(json!({"envvars": {"FROM_KWARGS": "1"}})), &[AWX_SETTINGS]);
    let (ours, theirs) = both(&stream);
    assert_same_lines("podman job", &ours.normalized, &theirs.normalized);
    let starting = stream_lines(&ours.stream).into_iter().find(|l| l["status"] == "starting").unwrap();
    let command: Vec<&str> = starting["command"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(&command[..5], ["podman", "run", "--rm", "--tty", "--interactive"]);
    assert!(command.contains(&"ansible_runner_ctr1") && command.contains(&"/runner/inventory"), "{command:?}");
    assert_eq!(starting["cwd"], "/runner/project");
    // The job really ran inside the image: the python facts are the image's.
    let facts = String::from_utf8_lossy(&ours.stream).into_owned();
    assert!(facts.contains("\"executable\": \"/usr/bin/python3\""), "the job did not run in the container");
    assert_eq!(final_status(&ours.stream)["status"], "successful");
    let (ours_files, theirs_files) = (artifacts(&ours.stream), artifacts(&theirs.stream));
    assert_eq!(artifact_names(&ours.stream), artifact_names(&theirs.stream));
    assert!(ours_files.contains_key("callback/runnerwire_display.py"), "the plugin travels in the artifacts, as upstream's");
    let env_list = |files: &std::collections::BTreeMap<String, Vec<u8>>| String::from_utf8_lossy(&files["env.list"]).replace("awx_display", "runnerwire_display");
    assert_eq!(env_list(&ours_files), env_list(&theirs_files));
    assert!(env_list(&ours_files).contains("FROM_KWARGS=1\n"));
}

#[test]
fn podman_inventory_update_with_an_args_file() {
    require_image();
    let args = "ansible-inventory -i /runner/inventory/hosts --list --output /runner/artifacts/ctr2/output.json";
    let stream = job("ctr2", in_podman(json!({"playbook": null})), &[("args", args)]);
    let (ours, theirs) = both(&stream);
    assert_same_lines("podman inventory update", &ours.normalized, &theirs.normalized);
    assert_eq!(artifacts(&ours.stream).get("output.json"), artifacts(&theirs.stream).get("output.json"));
    assert!(artifacts(&ours.stream).contains_key("output.json"));
}

#[test]
fn podman_job_gets_its_ssh_key_through_the_fifo_and_keeps_none() {
    require_image();
    let keys = tempfile::tempdir().unwrap();
    let key_path = keys.path().join("id");
    let made = std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key_path).status().unwrap();
    assert!(made.success());
    let key = std::fs::read_to_string(&key_path).unwrap();
    let playbook = "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: ssh-add -l\n";
    let stream = job("ctr3", in_podman(json!({"playbook": "agent.yml"})), &[("env/ssh_key", &key), ("project/agent.yml", playbook)]);
    let (ours, theirs) = both(&stream);
    assert_same_lines("podman ssh key", &ours.normalized, &theirs.normalized);
    let fingerprint = String::from_utf8(std::process::Command::new("ssh-keygen").arg("-lf").arg(&key_path).output().unwrap().stdout).unwrap();
    let sha = fingerprint.split_whitespace().nth(1).unwrap();
    assert!(String::from_utf8_lossy(&ours.stream).contains(sha), "the agent in the container does not hold the key");
    for run in [&ours] {
        let left: Vec<_> = walk_files(&run.pdd).into_iter().filter(|p| p.contains("ssh_key")).collect();
        assert!(left.is_empty(), "key material left on disk: {left:?}");
    }
}

fn walk_files(dir: &Path) -> Vec<String> {
    tree_from_dir(dir).into_keys().collect()
}

/// Our worker alone, with the engine's configuration; returns (exit code, stdout, pdd dir).
fn our_worker(stream: &[u8], path: &str) -> (i32, Vec<u8>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = runnerwire();
    cmd.env_clear()
        .env("HOME", tmp.path())
        .env("LANG", "C.UTF-8")
        .env("PATH", path)
        .env("CONTAINERS_CONF", containers_conf())
        .arg("worker")
        .arg("--private-data-dir")
        .arg(tmp.path().join("pdd"));
    let out = run_with_input(cmd, stream);
    (out.status.code().unwrap_or(-1), out.stdout, tmp)
}

fn container_exists(name: &str) -> bool {
    let out = std::process::Command::new("podman")
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .env("CONTAINERS_CONF", containers_conf())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().any(|l| l == name)
}

/// The container is killed when the job ends; podman removes a `--rm` container in its own
/// cleanup process, a moment after `podman run` returns: wait for that, within reason.
fn container_gone_soon(name: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while container_exists(name) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    true
}

const SLEEPER: (&str, &str) = ("project/sleep.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep 60\n");

#[test]
fn podman_job_timeout_kills_the_container() {
    require_image();
    let settings = ("env/settings", r#"{"job_timeout": 3}"#);
    let stream = job("ctr4", in_podman(json!({"playbook": "sleep.yml"})), &[SLEEPER, settings]);
    let started = Instant::now();
    let (code, stdout, _tmp) = our_worker(&stream, "/usr/local/bin:/usr/bin:/bin");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert_eq!(final_status(&stdout)["status"], "timeout");
    assert_eq!(String::from_utf8_lossy(&artifacts(&stdout)["rc"]), "254");
    assert_eq!(code, 254);
    assert!(stdout.ends_with(b"{\"eof\": true}\n"));
    assert!(container_gone_soon("ansible_runner_ctr4"), "the container outlived the job");
}

/// Our worker on a podman sleeper job named `ident`, its stdout piped, returned once the
/// job's container has been running for a moment.
fn worker_with_a_running_container(ident: &str, tmp: &Path) -> std::process::Child {
    use std::io::Write;
    let stream = job(ident, in_podman(json!({"playbook": "sleep.yml"})), &[SLEEPER]);
    let mut cmd = runnerwire();
    cmd.env_clear()
        .env("HOME", tmp)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("CONTAINERS_CONF", containers_conf())
        .args(["worker", "--private-data-dir"])
        .arg(tmp.join("pdd"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    let name = format!("ansible_runner_{ident}");
    assert!(processes::eventually(Duration::from_secs(60), || container_exists(&name)), "the container never started");
    std::thread::sleep(Duration::from_secs(2));
    child
}

#[test]
fn sigterm_cancels_a_podman_job_and_kills_the_container() {
    require_image();
    let tmp = tempfile::tempdir().unwrap();
    let child = worker_with_a_running_container("ctr5", tmp.path());
    processes::signal(child.id() as i32, processes::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert_eq!(final_status(&out.stdout)["status"], "canceled");
    assert!(out.stdout.ends_with(b"{\"eof\": true}\n"));
    assert!(container_gone_soon("ansible_runner_ctr5"), "the container outlived the cancel");
}

#[test]
fn a_killed_worker_leaves_no_container_and_no_engine_process() {
    require_image();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = worker_with_a_running_container("ctr7", tmp.path());
    processes::signal(child.id() as i32, processes::SIGKILL);
    child.wait().unwrap();
    // podman's client, conmon and the container's own processes all name the container.
    let name = "ansible_runner_ctr7";
    assert!(container_gone_soon(name), "the container outlived the worker");
    let left = || processes::processes_mentioning(name);
    assert!(processes::eventually(Duration::from_secs(15), || left().is_empty()), "still running: {:#?}", left());
}

#[test]
fn a_missing_engine_fails_the_job_instead_of_running_it_on_the_node() {
    let stream = job("noengine", in_podman(json!({"process_isolation_executable": "docker"})), &[]);
    // A PATH with ansible but no docker: upstream prints a line and exits 1 mid-stream.
    let path = format!("{}:/nonexistent", venv_bin().display());
    let (code, stdout, tmp) = our_worker(&stream, &path);
    let lines = stream_lines(&stdout);
    assert_eq!(lines.len(), 2, "{}", String::from_utf8_lossy(&stdout));
    assert_eq!(lines[0], json!({"status": "error", "job_explanation": "Unable to find process isolation executable: docker"}));
    assert_eq!(lines[1], json!({"eof": true}));
    assert_eq!(code, 69);
    assert!(!tmp.path().join("pdd/artifacts/noengine/job_events").exists(), "nothing may start");

    let mut cmd = upstream(tmp.path());
    cmd.env("PATH", &path).args(["worker", "--private-data-dir"]).arg(tmp.path().join("theirs"));
    let theirs = run_with_input(cmd, &stream);
    assert!(String::from_utf8_lossy(&theirs.stdout).contains("Unable to find process isolation executable: docker"));
    assert!(!theirs.stdout.ends_with(b"{\"eof\": true}\n"), "upstream's stream has no eof here");
}

#[test]
fn a_missing_image_with_pull_never_fails_before_anything_runs() {
    let stream = job("noimage", in_podman(json!({"container_image": "localhost/runnerwire-absent:0"})), &[]);
    let (code, stdout, _tmp) = our_worker(&stream, "/usr/local/bin:/usr/bin:/bin");
    let lines = stream_lines(&stdout);
    assert_eq!(lines.len(), 2, "{}", String::from_utf8_lossy(&stdout));
    assert_eq!(lines[0]["status"], "error");
    let why = lines[0]["job_explanation"].as_str().unwrap();
    assert!(why.contains("localhost/runnerwire-absent:0") && why.contains("never"), "{why}");
    assert_eq!(code, 69);
}

#[test]
fn an_image_the_engine_cannot_pull_ends_in_status_error_with_the_reason() {
    // Nothing listens on loopback port 1: the pull fails at once and podman exits 125.
    let kwargs = in_podman(json!({"container_image": "127.0.0.1:1/runnerwire/absent:0", "container_options": ["--network=none", "--pull=missing"]}));
    let stream = job("nopull", kwargs, &[]);
    let (_code, stdout, _tmp) = our_worker(&stream, "/usr/local/bin:/usr/bin:/bin");
    let status = final_status(&stdout);
    assert_eq!(status["status"], "error", "{}", String::from_utf8_lossy(&stdout));
    let why = status["job_explanation"].as_str().unwrap();
    assert!(why.starts_with("podman could not run the job's container (image 127.0.0.1:1/runnerwire/absent:0, exit 125)"), "{why}");
    assert_eq!(String::from_utf8_lossy(&artifacts(&stdout)["rc"]), "125");
    assert!(stdout.ends_with(b"{\"eof\": true}\n"));
}

#[test]
fn registry_credentials_reach_the_engine_and_never_stay() {
    require_image();
    let auth = json!({"host": "registry.example:5000", "username": "u", "password": "secret", "verify_ssl": false});
    let stream = job("ctr6", in_podman(json!({"container_auth_data": auth})), &[]);
    let (code, stdout, tmp) = our_worker(&stream, &format!("{}:/usr/local/bin:/usr/bin:/bin", venv_bin().display()));
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&stdout));
    let starting = stream_lines(&stdout).into_iter().find(|l| l["status"] == "starting").unwrap();
    let authfile = starting["command"].as_array().unwrap().iter().find_map(|a| a.as_str().unwrap().strip_prefix("--authfile=").map(str::to_string));
    let authfile = authfile.expect("--authfile in the engine's command");
    assert!(!Path::new(&authfile).exists(), "the auth file outlived the job");
    assert!(starting["env"]["CONTAINERS_REGISTRIES_CONF"].as_str().is_some_and(|p| p.ends_with("/registries.conf")));
    assert!(!String::from_utf8_lossy(&stdout).contains("dTpzZWNyZXQ="), "credentials leaked into the stream");
    drop(tmp);
}

#[test]
fn a_job_that_cannot_be_configured_gets_upstreams_error_text_and_eof() {
    let stream = job("noimg", json!({"process_isolation": true, "container_image": null}), &[]);
    let (code, stdout, tmp) = our_worker(&stream, "/usr/local/bin:/usr/bin:/bin");
    let lines = stream_lines(&stdout);
    assert_eq!(
        lines,
        [json!({"status": "error", "job_explanation": "container_image required when specifying process_isolation_executable=podman"}), json!({"eof": true})]
    );
    assert_eq!(code, 1);
    assert!(!tmp.path().join("pdd/artifacts/noimg/job_events").exists(), "nothing may start");
}
