//! The same component in three runtimes: every recorded, damaged and hostile stream gives
//! byte-identical `inspect --json` output (and exit code) from the native CLI, the Node
//! package's CLI and the Python package's, `process` leaves the same tree, prints the same
//! stdout and exits the same, and `transmit` sends the same bytes from Node as natively.
//! Needs `make bindings`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{repo_root, run_with_input, runnerwire};

fn node_cli() -> Command {
    let cli = repo_root().join("bindings/js/cli.mjs");
    assert!(repo_root().join("bindings/js/gen/runnerwire_codec.js").exists(), "the Node package is not built: run `make bindings`");
    let mut cmd = Command::new("node");
    cmd.arg(cli);
    cmd
}

fn python_cli() -> Command {
    let python = repo_root().join("bindings/python/.venv/bin/python");
    assert!(python.exists(), "the Python package is not installed: run `make bindings`");
    let mut cmd = Command::new(python);
    cmd.args(["-m", "runnerwire"]);
    cmd
}

fn runtimes() -> [(&'static str, fn() -> Command); 3] {
    [("native", runnerwire), ("node", node_cli), ("python", python_cli)]
}

/// Every stream in the fixtures: recorded job and result streams, damaged and hostile ones,
/// with the limits each case is meant to be read with.
fn streams() -> Vec<(String, PathBuf, Vec<String>, bool)> {
    let root = repo_root().join("fixtures");
    let mut out = Vec::new();
    for fixture in common::fixtures() {
        for (name, result) in [("job.stream", false), ("result.stream", true)] {
            if fixture.has(name) {
                out.push((format!("{}/{name}", fixture.name), fixture.file(name), Vec::new(), result));
            }
        }
    }
    let damaged: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join("damaged/cases.json")).unwrap()).unwrap();
    for case in damaged.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let mut args = Vec::new();
        for (key, value) in case["limits"].as_object().into_iter().flatten() {
            args.push(format!("--{}", key.replace('_', "-")));
            args.push(value.to_string());
        }
        out.push((format!("damaged/{name}"), root.join(format!("damaged/{name}.stream")), args, !name.contains("job")));
    }
    let hostile: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join("hostile/cases.json")).unwrap()).unwrap();
    for case in hostile["cases"].as_array().unwrap() {
        let args: Vec<String> = case["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
        let result = case["stage"] == "process";
        out.push((format!("hostile/{}", case["name"].as_str().unwrap()), root.join("hostile").join(case["stream"].as_str().unwrap()), args, result));
    }
    assert!(out.len() >= 100, "{} streams", out.len());
    out
}

fn show(output: &Output) -> String {
    format!("exit {:?}, stderr {:?}", output.status.code(), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn inspect_json_is_byte_identical_in_every_runtime() {
    let mut checked = 0;
    for (name, path, args, _) in streams() {
        let mut outputs = Vec::new();
        for (runtime, command) in runtimes() {
            let mut cmd = command();
            cmd.arg("inspect").arg("--json").arg(&path).args(&args);
            outputs.push((runtime, cmd.output().unwrap()));
        }
        let (_, native) = &outputs[0];
        assert!(!native.stdout.is_empty(), "{name}: native printed nothing ({})", show(native));
        for (runtime, output) in &outputs[1..] {
            assert_eq!(output.status.code(), native.status.code(), "{name}: {runtime} {} vs native {}", show(output), show(native));
            if output.stdout != native.stdout {
                let at = output.stdout.iter().zip(&native.stdout).position(|(a, b)| a != b).unwrap_or(output.stdout.len().min(native.stdout.len()));
                panic!("{name}: {runtime}'s inspect --json differs from native's at byte {at}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 100);
}

#[test]
fn validate_and_the_text_report_agree_in_every_runtime() {
    // A sample: a clean stream, a damaged one, a hostile one, stdin and a file.
    let root = repo_root().join("fixtures");
    for path in [root.join("multi/result.stream"), root.join("damaged/split-line.stream"), root.join("hostile/result/dotdot.stream")] {
        let input = std::fs::read(&path).unwrap();
        let mut seen: Vec<(&str, Output, Output)> = Vec::new();
        for (runtime, command) in runtimes() {
            let mut report = command();
            report.arg("inspect").arg(&path);
            let mut validate = command();
            validate.args(["validate", "-"]);
            seen.push((runtime, report.output().unwrap(), run_with_input(validate, &input)));
        }
        let (_, native_report, native_validate) = &seen[0];
        for (runtime, report, validate) in &seen[1..] {
            assert_eq!(report.stdout, native_report.stdout, "{}: {runtime}'s report", path.display());
            assert_eq!(report.status.code(), native_report.status.code());
            assert_eq!(validate.status.code(), native_validate.status.code(), "{}: {runtime} {}", path.display(), show(validate));
            assert_eq!(validate.stderr, native_validate.stderr, "{}: {runtime}'s validate message", path.display());
        }
    }
}

/// What process left, with what the clock decides left out: a time from before the test
/// began came from an archive and must match; a later one is when the entry was written.
fn tree(dir: &Path, began: i64) -> Vec<String> {
    let tree = common::tree_from_dir(dir);
    tree.into_iter()
        .map(|(path, node)| {
            let mtime = if node.mtime < began { node.mtime.to_string() } else { "-".into() };
            let kind = match &node.kind {
                common::Kind::File(data) => format!("file {} bytes {:016x}", data.len(), fnv1a(data)),
                other => format!("{other:?}"),
            };
            format!("{path} {kind} {:o} {mtime}", node.mode)
        })
        .collect()
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

#[test]
fn process_leaves_the_same_tree_and_prints_the_same_in_every_runtime() {
    let began = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 - 2;
    let mut checked = 0;
    for (name, path, args, result) in streams() {
        if !result {
            continue;
        }
        let input = std::fs::read(&path).unwrap();
        let mut runs = Vec::new();
        for (runtime, command) in runtimes() {
            let dir = tempfile::tempdir().unwrap();
            let mut cmd = command();
            cmd.arg("process").arg(dir.path().join("pdd")).args(["--ident", "job"]).args(&args);
            let output = run_with_input(cmd, &input);
            let left = tree(dir.path(), began);
            runs.push((runtime, output, left));
        }
        let (_, native, native_tree) = &runs[0];
        for (runtime, output, left) in &runs[1..] {
            assert_eq!(output.status.code(), native.status.code(), "{name}: {runtime} {} vs native {}", show(output), show(native));
            assert_eq!(output.stdout, native.stdout, "{name}: {runtime}'s printed output");
            let differ: Vec<(&String, &String)> = left.iter().zip(native_tree).filter(|(a, b)| a != b).collect();
            assert!(left.len() == native_tree.len() && differ.is_empty(), "{name}: {runtime}'s tree differs: {differ:#?} ({} vs {} entries)", left.len(), native_tree.len());
            if native.status.code() == Some(65) {
                // Same failure, same place: the message names the same byte offset.
                assert_eq!(output.stderr, native.stderr, "{name}: {runtime}'s error line");
            }
        }
        checked += 1;
    }
    assert!(checked >= 50, "{checked}");
}

/// `transmit` in Node (one instance, the archive written through Node's `write-at`) and
/// natively (large files packed on every core): the same job stream, byte for byte, for
/// every recorded private data dir and for one with large text and random files.
#[test]
fn transmit_streams_are_byte_identical_in_node_and_native() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big");
    common::pdd_with_large_files(&big, 6, 40_000);
    // Over two chunks: native encodes its chunks apart, Node reads it through.
    let words: Vec<String> = (0..400_000u32).map(|i| format!("w{}", i.wrapping_mul(2_654_435_761) % 997)).collect();
    std::fs::write(big.join("project/files/chunked.txt"), words.join(" ")).unwrap();
    let mut dirs = vec![big];
    for fixture in common::fixtures().into_iter().filter(|f| f.has("pdd.tar")) {
        let dir = tmp.path().join(&fixture.name);
        fixture.extract_pdd(&dir);
        dirs.push(dir);
    }
    let script = "const { transmit } = await import(process.argv[1]); \
        for await (const chunk of transmit(process.argv[2], { playbook: 'site.yml', ident: 'same' })) process.stdout.write(chunk);";
    for dir in &dirs {
        let mut native = runnerwire();
        native.arg("transmit").arg(dir).args(["-p", "site.yml", "--ident", "same"]);
        let ours = run_with_input(native, b"");
        let mut node = Command::new("node");
        node.args(["--input-type=module", "-e", script, repo_root().join("bindings/js/index.mjs").to_str().unwrap()]).arg(dir);
        let theirs = run_with_input(node, b"");
        assert!(ours.status.success() && theirs.status.success(), "{}: {}{}", dir.display(), String::from_utf8_lossy(&ours.stderr), String::from_utf8_lossy(&theirs.stderr));
        assert!(ours.stdout == theirs.stdout, "{}: native and Node job streams differ", dir.display());
    }
    assert!(dirs.len() >= 4, "only {} private data dirs", dirs.len());
}

/// One grammar: the Node and Python CLIs parse with the definition the native CLI is built
/// from, so help, the version and every usage error read and exit the same.
#[test]
fn usage_errors_help_and_version_are_the_same_in_every_runtime() {
    let cases: &[&[&str]] = &[
        &["process"],
        &["process", "pdd", "--ident"],
        &["inspect", "--no-such-flag"],
        &["inspect", "--max-line-bytes", "lots"],
        &["validate", "--step-timeout", "0"],
        &["validate", "a", "b"],
        &["frobnicate"],
        &["process", "--help"],
        &["inspect", "-h"],
        &["help", "validate"],
        &["--version"],
    ];
    for args in cases {
        let native = runnerwire().args(*args).output().unwrap();
        assert!(matches!(native.status.code(), Some(0 | 2)), "{args:?}: native {}", show(&native));
        assert!(!native.stdout.is_empty() || !native.stderr.is_empty(), "{args:?}: native printed nothing");
        for (runtime, command) in &runtimes()[1..] {
            let output = command().args(*args).output().unwrap();
            assert_eq!(output.status.code(), native.status.code(), "{args:?}: {runtime} {}", show(&output));
            assert_eq!(String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&native.stdout), "{args:?}: {runtime}'s stdout");
            assert_eq!(String::from_utf8_lossy(&output.stderr), String::from_utf8_lossy(&native.stderr), "{args:?}: {runtime}'s stderr");
        }
    }
}
