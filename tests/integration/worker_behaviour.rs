//! `runnerwire worker` behaviour around the job: bad job streams, --delete, keepalives,
//! timeouts, cancellation, --worker-info, and pipelines mixing upstream and runnerwire.


use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::common::processes;

/// A worker command with the venv's ansible on PATH and a clean environment.
fn worker(home: &Path) -> Command {
    let mut cmd = runnerwire();
    cmd.env_clear()
        .env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", venv_bin().display()))
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .env("ANSIBLE_NOCOLOR", "1")
        .arg("worker");
    cmd
}

/// A job stream made by our transmit from a private data dir holding `playbook`.
fn job_for(dir: &Path, playbook: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let pdd = dir.join("source");
    std::fs::create_dir_all(pdd.join("project")).unwrap();
    std::fs::create_dir_all(pdd.join("inventory")).unwrap();
    std::fs::write(pdd.join("project/site.yml"), playbook).unwrap();
    std::fs::write(
        pdd.join("inventory/hosts"),
        "localhost ansible_connection=local ansible_python_interpreter='{{ ansible_playbook_python }}'\n",
    )
    .unwrap();
    for (name, content) in extra {
        let path = pdd.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let mut cmd = runnerwire();
    cmd.arg("transmit").arg(&pdd).args(["-p", "site.yml", "--ident", "job"]);
    let out = run_with_input(cmd, b"");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

const SLEEPY: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep 30\n";

fn final_status(stream: &[u8]) -> String {
    stream_lines(stream).iter().rev().find_map(|l| l.get("status").and_then(|s| s.as_str()).map(String::from)).unwrap_or_default()
}

#[test]
fn bad_job_streams_get_upstreams_error_status_and_eof_and_exit_65() {
    let tmp = tempfile::tempdir().unwrap();
    let parse_failed = "Failed to JSON parse a line from transmit stream.";
    let cases: &[(&[u8], &str)] = &[
        (b"", parse_failed),
        (b"not json\n", parse_failed),
        (b"{\"kwargs\": {\"playbook\": \"x.yml\"}}\n", parse_failed),
        // Upstream's test_garbage_private_dir_worker.
        (b"{\"kwargs\": {\"playbook\": \"debug.yml\"}}\n{\"zipfile\": 5}\n\x01\x02\x03\x04\x05{\"eof\": true}\n", "Failed to extract private data directory on worker."),
        (b"{\"kwargs\": {\"playbook\": \"x.yml\"}}\n{\"zipfile\": 4}\nAAAAAA=={\"eof\": true}\n", "Failed to extract private data directory on worker."),
    ];
    for (input, explanation) in cases {
        let out = run_with_input(worker(tmp.path()), input);
        let lines = stream_lines(&out.stdout);
        assert_eq!(lines.len(), 2, "{:?}: {}", String::from_utf8_lossy(input), String::from_utf8_lossy(&out.stdout));
        assert_eq!(lines[0]["status"], "error");
        assert_eq!(lines[0]["job_explanation"], *explanation, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(lines[1], serde_json::json!({"eof": true}));
        assert_bad_stream_exit(&out);
    }
    // Crashes upstream: eof before kwargs, and a list-valued inventory.
    for input in [&b"{\"eof\": true}\n"[..], b"{\"kwargs\": {\"playbook\": \"x.yml\", \"inventory\": [\"a\", \"b\"]}}\n{\"eof\": true}\n"] {
        let out = run_with_input(worker(tmp.path()), input);
        let lines = stream_lines(&out.stdout);
        assert_eq!(lines[0]["status"], "error", "{}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(lines.last().unwrap(), &serde_json::json!({"eof": true}));
        assert_bad_stream_exit(&out);
    }
}

/// Unlike upstream (exit 0), a refused job exits 65 with one line naming the fault's offset.
fn assert_bad_stream_exit(out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(" at byte "), "{stderr}");
}

#[test]
fn delete_removes_the_private_data_dir_before_and_after() {
    let tmp = tempfile::tempdir().unwrap();
    let job = job_for(tmp.path(), "- hosts: all\n  gather_facts: false\n  tasks: []\n", &[]);
    let dir = tmp.path().join("worker");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("stale.txt"), "old").unwrap();
    let mut cmd = worker(tmp.path());
    cmd.arg("--private-data-dir").arg(&dir).arg("--delete");
    let out = run_with_input(cmd, &job);
    assert_eq!(final_status(&out.stdout), "successful", "{}", String::from_utf8_lossy(&out.stdout));
    assert!(!dir.exists(), "--delete leaves nothing behind");

    // Without --delete the directory and what was in it stay.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("stale.txt"), "old").unwrap();
    let mut cmd = worker(tmp.path());
    cmd.arg("--private-data-dir").arg(&dir);
    run_with_input(cmd, &job);
    assert!(dir.join("stale.txt").exists() && dir.join("project/site.yml").exists());
}

#[test]
fn keepalives_come_while_the_job_is_quiet_and_never_after_eof() {
    let tmp = tempfile::tempdir().unwrap();
    let job = job_for(tmp.path(), "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep 3\n", &[]);
    let mut cmd = worker(tmp.path());
    cmd.args(["--keepalive-seconds", "1"]);
    let out = run_with_input(cmd, &job);
    let lines = stream_lines(&out.stdout);
    let keepalives = lines.iter().filter(|l| l.get("event").and_then(|e| e.as_str()) == Some("keepalive")).count();
    assert!(keepalives >= 1, "no keepalive in {} lines", lines.len());
    assert_eq!(lines.last().unwrap(), &serde_json::json!({"eof": true}));
    assert_eq!(final_status(&out.stdout), "successful");

    // Keepalives also flow while the controller is still sending the job.
    let mut cmd = worker(tmp.path());
    cmd.args(["--keepalive-seconds", "1"]);
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    std::io::Write::write_all(&mut stdin, &job).unwrap();
    drop(stdin);
    let early = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&early.stdout);
    assert!(text.starts_with("{\"event\": \"keepalive\""), "{}", &text[..text.len().min(200)]);
    assert_eq!(final_status(&early.stdout), "successful");

    // The environment variable works too.
    let mut cmd = worker(tmp.path());
    cmd.env("ANSIBLE_RUNNER_KEEPALIVE_SECONDS", "1");
    let out = run_with_input(cmd, &job);
    assert!(String::from_utf8_lossy(&out.stdout).contains("{\"event\": \"keepalive\", \"counter\": 0, \"uuid\": 0}"));
}

#[test]
fn job_timeout_ends_the_job_with_status_timeout_and_rc_254() {
    let tmp = tempfile::tempdir().unwrap();
    let job = job_for(tmp.path(), SLEEPY, &[("env/settings", "job_timeout: 2\n")]);
    let dir = tmp.path().join("worker");
    let started = Instant::now();
    let mut cmd = worker(tmp.path());
    cmd.arg("--private-data-dir").arg(&dir);
    let out = run_with_input(cmd, &job);
    assert!(started.elapsed() < Duration::from_secs(25), "took {:?}", started.elapsed());
    assert_eq!(final_status(&out.stdout), "timeout");
    assert_eq!(out.status.code(), Some(254));
    assert_eq!(std::fs::read_to_string(dir.join("artifacts/job/rc")).unwrap(), "254");
    assert!(out.stdout.ends_with(b"{\"eof\": true}\n"));
}

#[test]
fn idle_timeout_ends_a_silent_job() {
    let tmp = tempfile::tempdir().unwrap();
    let job = job_for(tmp.path(), SLEEPY, &[("env/settings", "{\"idle_timeout\": 3}")]);
    let started = Instant::now();
    let out = run_with_input(worker(tmp.path()), &job);
    assert!(started.elapsed() < Duration::from_secs(25), "took {:?}", started.elapsed());
    assert_eq!(final_status(&out.stdout), "timeout");
    assert_eq!(out.status.code(), Some(254));
}

#[test]
fn rotate_artifacts_keeps_the_newest_artifact_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let pdd = tmp.path().join("src");
    std::fs::create_dir_all(pdd.join("project")).unwrap();
    std::fs::write(pdd.join("project/site.yml"), "- hosts: localhost\n  gather_facts: false\n  tasks: []\n").unwrap();
    let dir = tmp.path().join("worker");
    for old in ["a", "b", "c"] {
        std::fs::create_dir_all(dir.join("artifacts").join(old)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut cmd = runnerwire();
    cmd.arg("transmit").arg(&pdd).args(["-p", "site.yml", "--ident", "new", "--rotate-artifacts", "2"]);
    let job = run_with_input(cmd, b"").stdout;
    let mut cmd = worker(tmp.path());
    cmd.arg("--private-data-dir").arg(&dir);
    let out = run_with_input(cmd, &job);
    assert!(out.stdout.ends_with(b"{\"eof\": true}\n"));
    let mut left: Vec<String> =
        std::fs::read_dir(dir.join("artifacts")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    left.sort();
    assert_eq!(left, ["c", "new"]);
}

#[test]
fn sigterm_cancels_the_job_and_still_streams_artifacts_and_eof() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let job = job_for(tmp.path(), SLEEPY, &[]);
    let mut cmd = worker(tmp.path());
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(&job).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    processes::signal(child.id() as i32, processes::SIGTERM);
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(final_status(&out.stdout), "canceled", "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(254));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("{\"zipfile\": "), "artifacts are streamed");
    assert!(text.ends_with("{\"eof\": true}\n"));
}

#[test]
fn worker_info_has_upstreams_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = worker(tmp.path());
    cmd.arg("--worker-info");
    let ours = run_with_input(cmd, b"");
    let mut cmd = upstream(tmp.path());
    cmd.args(["worker", "--worker-info"]);
    let theirs = run_with_input(cmd, b"");
    // Same node uuid file, same machine: the same report.
    assert_eq!(String::from_utf8_lossy(&ours.stdout), String::from_utf8_lossy(&theirs.stdout));
}

#[test]
fn any_mix_of_stages_works() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = fixtures().into_iter().find(|f| f.name == "simple").unwrap();
    // upstream transmit (recorded) | runnerwire worker | upstream process
    let result = run_with_input(worker(tmp.path()), &fixture.read("job.stream"));
    assert_eq!(final_status(&result.stdout), "successful");
    let mut cmd = upstream(tmp.path());
    cmd.arg("process").arg(tmp.path().join("p1")).args(["--ident", "simple"]);
    let processed = run_with_input(cmd, &result.stdout);
    assert!(processed.status.success(), "{}", String::from_utf8_lossy(&processed.stderr));
    assert_eq!(std::fs::read_to_string(tmp.path().join("p1/artifacts/simple/status")).unwrap(), "successful");
    let events = std::fs::read_dir(tmp.path().join("p1/artifacts/simple/job_events")).unwrap().count();
    assert!(events >= 10, "{events} events");
    assert!(String::from_utf8_lossy(&processed.stdout).contains("hello from localhost"));

    // runnerwire transmit | runnerwire worker | runnerwire process
    let source = tmp.path().join("src");
    fixture.extract_pdd(&source);
    let mut cmd = runnerwire();
    cmd.arg("transmit").arg(&source).args(["-p", "site.yml", "--ident", "mine"]);
    let job = run_with_input(cmd, b"").stdout;
    let result = run_with_input(worker(tmp.path()), &job);
    let mut cmd = runnerwire();
    cmd.arg("process").arg(tmp.path().join("p2")).args(["--ident", "mine"]);
    let processed = run_with_input(cmd, &result.stdout);
    assert_eq!(processed.status.code(), Some(0), "{}", String::from_utf8_lossy(&processed.stderr));
    assert!(String::from_utf8_lossy(&processed.stdout).contains("hello from localhost"));
    assert_eq!(std::fs::read_to_string(tmp.path().join("p2/artifacts/mine/rc")).unwrap(), "0");
}

#[test]
fn worker_needs_only_ansible_core() {
    let core = std::env::var_os("RUNNERWIRE_CORE_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-core"));
    let bin = core.join("bin");
    assert!(bin.join("ansible-playbook").exists(), "no ansible-core venv at {}: run `make core-venv`", core.display());
    let no_runner = Command::new(bin.join("python")).args(["-c", "import ansible_runner"]).output().unwrap();
    assert!(!no_runner.status.success(), "the core venv must not have ansible-runner");

    let tmp = tempfile::tempdir().unwrap();
    let fixture = fixtures().into_iter().find(|f| f.name == "simple").unwrap();
    let mut cmd = runnerwire();
    cmd.env_clear().env("PATH", format!("{}:/usr/bin:/bin", bin.display())).env("HOME", tmp.path()).env("LANG", "C.UTF-8");
    cmd.arg("worker");
    let out = run_with_input(cmd, &fixture.read("job.stream"));
    assert_eq!(final_status(&out.stdout), "successful", "{}", String::from_utf8_lossy(&out.stdout));
    let events = stream_lines(&out.stdout).iter().filter(|l| l.get("event").is_some()).count();
    assert!(events >= 10, "{events} events");
}

#[test]
fn password_prompts_are_answered_through_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let playbook = "- hosts: all\n  gather_facts: false\n  tasks:\n    - pause:\n        prompt: Enter the secret\n      register: typed\n    - debug:\n        msg: \"typed={{ typed.user_input }}\"\n";
    // idle_timeout: an unanswered prompt fails the test instead of hanging it.
    let job = job_for(
        tmp.path(),
        playbook,
        &[("env/passwords", "\"Enter the secret\": hunter2\n"), ("env/settings", "idle_timeout: 20\n")],
    );
    // The answer must survive the terminal flush ansible's pause does right after its prompt.
    for _ in 0..5 {
        let out = run_with_input(worker(tmp.path()), &job);
        assert_eq!(final_status(&out.stdout), "successful", "{}", String::from_utf8_lossy(&out.stdout));
        assert!(String::from_utf8_lossy(&out.stdout).contains("typed=hunter2"));
    }
}

#[test]
fn ssh_key_goes_to_ssh_agent_and_never_stays_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let key_path = tmp.path().join("id");
    let status = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "runnerwire-test-key", "-f"]).arg(&key_path).status().unwrap();
    assert!(status.success());
    let key = std::fs::read_to_string(&key_path).unwrap();
    let playbook = "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: ssh-add -l\n      register: keys\n    - debug:\n        msg: \"{{ keys.stdout }}\"\n";
    let job = job_for(tmp.path(), playbook, &[("env/ssh_key", &key)]);
    let dir = tmp.path().join("worker");
    let mut cmd = worker(tmp.path());
    cmd.arg("--private-data-dir").arg(&dir);
    let out = run_with_input(cmd, &job);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(final_status(&out.stdout), "successful", "{text}");
    assert!(text.contains("runnerwire-test-key"), "the agent holds the key");
    assert!(!text.contains("PRIVATE KEY"), "the key itself never enters the stream");
    assert!(!dir.join("env/ssh_key").exists(), "no key file left in the private data dir");
    assert!(!dir.join("artifacts/job/ssh_key_data").exists(), "no FIFO left in the artifacts");
}

#[test]
fn cleanup_removes_old_private_data_dirs_like_upstream() {
    let tmp = tempfile::tempdir().unwrap();
    let setup = |root: &Path| {
        for (name, hours_old) in [("awx_1_old", 2), ("awx_2_old_keepme", 2), ("awx_3_new", 0), ("other_4_old", 2)] {
            let dir = root.join(name);
            std::fs::create_dir_all(dir.join("artifacts/x")).unwrap();
            let t = std::time::SystemTime::now() - Duration::from_secs(hours_old * 3600);
            std::fs::File::open(&dir).unwrap().set_modified(t).unwrap();
        }
    };
    let listing = |root: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        names.sort();
        names
    };
    let (ours_root, theirs_root) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    setup(&ours_root);
    setup(&theirs_root);
    let mut cmd = worker(tmp.path());
    cmd.args(["cleanup", "--file-pattern", &format!("{}/awx_*", ours_root.display()), "--exclude-strings", "keepme"]);
    let ours = run_with_input(cmd, b"");
    let mut cmd = upstream(tmp.path());
    cmd.args(["worker", "cleanup", "--file-pattern", &format!("{}/awx_*", theirs_root.display()), "--exclude-strings", "keepme"]);
    let theirs = run_with_input(cmd, b"");
    assert_eq!(listing(&ours_root), ["awx_2_old_keepme", "awx_3_new", "other_4_old"]);
    assert_eq!(listing(&ours_root), listing(&theirs_root));
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).replace(&theirs_root.display().to_string(), "<root>").replace(&ours_root.display().to_string(), "<root>");
    assert_eq!(text(&ours), text(&theirs));

    // A pattern reaching a system directory is refused, as upstream refuses it.
    let mut cmd = worker(tmp.path());
    cmd.args(["cleanup", "--file-pattern", "/usr"]);
    let refused = run_with_input(cmd, b"");
    assert_ne!(refused.status.code(), Some(0));
    assert!(Path::new("/usr/bin").exists());
}

#[test]
fn job_streams_upstream_accepts_run_the_same_under_both_workers() {
    // Hostile-looking but valid: base64 wrapped at 76 columns, a line of unknown keys
    // (skipped), and bytes after eof (never read).
    let stream = fixtures().into_iter().find(|f| f.name == "simple").unwrap().read("job.stream");
    let zip_line = find(&stream, b"{\"zipfile\"").unwrap();
    let data_start = zip_line + stream[zip_line..].iter().position(|&b| b == b'\n').unwrap() + 1;
    let eof = find(&stream, b"{\"eof\": true}").unwrap();
    let mut job = stream[..zip_line].to_vec();
    job.extend_from_slice(b"{\"unknown\": [1, 2, 3]}\n");
    job.extend_from_slice(&stream[zip_line..data_start]);
    for (i, chunk) in stream[data_start..eof].chunks(76).enumerate() {
        job.extend_from_slice(if i > 0 { b"\n" } else { b"" });
        job.extend_from_slice(chunk);
    }
    // As upstream writes it, eof follows the base64 directly (a newline there would be a
    // blank line, which both workers refuse).
    job.extend_from_slice(b"{\"eof\": true}\nnever read \xff\n");

    let tmp = tempfile::tempdir().unwrap();
    let ours = run_with_input(worker(tmp.path()), &job);
    assert_eq!(ours.status.code(), Some(0), "{}", String::from_utf8_lossy(&ours.stderr));
    let mut cmd = upstream(tmp.path());
    cmd.arg("worker");
    let theirs = run_with_input(cmd, &job);
    assert!(theirs.status.success(), "{}", String::from_utf8_lossy(&theirs.stderr));
    let events = |out: &[u8]| stream_lines(out).iter().filter(|l| l.get("event").is_some()).count();
    assert_eq!(final_status(&ours.stdout), "successful");
    assert_eq!(final_status(&theirs.stdout), "successful");
    assert_eq!(events(&ours.stdout), events(&theirs.stdout));
}

/// How the worker dies in the no-orphans tests.
#[derive(Clone, Copy, Debug)]
enum Death {
    /// SIGKILL to the worker alone: `kill -9`, the OOM killer, Receptor's SIGKILL ten
    /// seconds after its SIGINT.
    Killed,
    /// SIGKILL to the worker's whole process group: its supervisor (Receptor's command
    /// runner, whose group the worker shares) killed with everything in it.
    GroupKilled,
}

/// Starts the worker on `job` in its own process group, waits for `marker` to show up in a
/// running process, kills the worker as `death` says, and asserts that nothing of the job
/// is left: no process naming the marker or the private data dir (ansible-playbook, the
/// task, ssh-agent, the job keeper), and the private data dir gone as `--delete` asks.
fn kill_mid_job_and_expect_nothing_left(tmp: &Path, job: &[u8], marker: &str, death: Death) {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let pdd = tmp.join("worker");
    let mut cmd = worker(tmp);
    cmd.arg("--private-data-dir").arg(&pdd).arg("--delete");
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create(tmp.join("results")).unwrap())
        .stderr(std::process::Stdio::null())
        .process_group(0);
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(job).unwrap();
    assert!(
        processes::eventually(Duration::from_secs(60), || !processes::processes_mentioning(marker).is_empty()),
        "{death:?}: the job's task never started"
    );
    let pid = child.id() as i32;
    match death {
        Death::Killed => processes::signal(pid, processes::SIGKILL),
        Death::GroupKilled => processes::signal(-pid, processes::SIGKILL),
    }
    child.wait().unwrap();
    let pdd_text = pdd.display().to_string();
    let left = || {
        let mut left = processes::processes_mentioning(marker);
        left.extend(processes::processes_mentioning(&pdd_text));
        left
    };
    assert!(processes::eventually(Duration::from_secs(15), || left().is_empty()), "{death:?}: still running: {:#?}", left());
    assert!(processes::eventually(Duration::from_secs(5), || !pdd.exists()), "{death:?}: the private data dir was left");
}

#[test]
fn a_killed_worker_leaves_no_process_of_its_job() {
    for (n, death) in [Death::Killed, Death::GroupKilled].into_iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        // A sleep no other test runs: the marker that finds the task's process.
        let marker = format!("7{n}01.{}", std::process::id());
        let playbook = format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep {marker}\n");
        let job = job_for(tmp.path(), &playbook, &[]);
        kill_mid_job_and_expect_nothing_left(tmp.path(), &job, &marker, death);
    }
}

#[test]
fn a_killed_worker_leaves_no_ssh_agent_and_no_key() {
    let tmp = tempfile::tempdir().unwrap();
    let key_path = tmp.path().join("id");
    let status = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key_path).status().unwrap();
    assert!(status.success());
    let key = std::fs::read_to_string(&key_path).unwrap();
    let marker = format!("7301.{}", std::process::id());
    let playbook = format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - command: ssh-add -l\n    - command: sleep {marker}\n");
    let job = job_for(tmp.path(), &playbook, &[("env/ssh_key", &key)]);
    // The agent's command line names the key's FIFO in the private data dir, so the
    // helper's check covers it.
    kill_mid_job_and_expect_nothing_left(tmp.path(), &job, &marker, Death::Killed);
}
