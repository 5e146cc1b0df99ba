//! The safety level: the hostile corpus through an implementation's `process` and
//! `worker`, each in a scratch root whose `victim/` the attacks aim at. An implementation
//! must write nothing outside its target, stay within a memory bound, finish, and exit
//! non-zero on a stream it should refuse. Where upstream 2.4.3 was recorded failing the
//! same way, the failure says so.

use std::path::Path;
use std::time::Duration;

use super::exec;
use super::stages::stage_env;
use super::tree;

/// Peak memory one stage may use on a hostile stream.
pub const MAX_RSS: u64 = 512 << 20;
const CASE_TIMEOUT: Duration = Duration::from_secs(30);
const SECRET: &[u8] = b"secret\n";

pub struct Case {
    pub name: String,
    /// `process` or `worker`.
    pub stage: String,
    pub stream: Vec<u8>,
    /// The case is a bad stream a safe implementation refuses (needs no option of ours).
    pub must_refuse: bool,
    /// What upstream 2.4.3 did, as recorded.
    pub upstream: serde_json::Value,
}

pub fn cases(root: &Path) -> anyhow::Result<Vec<Case>> {
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join("hostile/cases.json"))?)?;
    let mut out = Vec::new();
    for c in index["cases"].as_array().into_iter().flatten() {
        let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
        let needs_options = c["args"].as_array().is_some_and(|a| !a.is_empty());
        out.push(Case {
            name: text("name"),
            stage: text("stage"),
            stream: std::fs::read(root.join("hostile").join(text("stream")))?,
            must_refuse: c["exit"].as_i64() != Some(0) && !needs_options,
            upstream: c["upstream"].clone(),
        });
    }
    Ok(out)
}

/// Runs one case; Err names every requirement broken.
pub fn check(cmd: &str, case: &Case, work: &Path) -> anyhow::Result<Result<(), String>> {
    std::fs::create_dir_all(work.join("victim"))?;
    std::fs::write(work.join("victim/secret"), SECRET)?;
    std::fs::create_dir_all(work.join("work/artifacts/job"))?;
    let home = work.join("home");
    std::fs::create_dir_all(&home)?;
    let outside_before = outside(work)?;
    let target = work.join("work");
    let args: Vec<String> = match case.stage.as_str() {
        "process" => vec![target.display().to_string(), "--ident".into(), "job".into()],
        _ => vec!["--private-data-dir".into(), target.join("artifacts/job").display().to_string()],
    };
    let run = exec::run(cmd, &args, &case.stream, &stage_env(&home), work, CASE_TIMEOUT)?;
    let mut broken = Vec::new();
    let upstream_exit = case.upstream.get("exit").and_then(|e| e.as_i64());
    let as_upstream = |same: bool| if same { " (as upstream 2.4.3)" } else { "" };
    let changed = changed_outside(&outside_before, &outside(work)?);
    let secret_intact = std::fs::read(work.join("victim/secret")).is_ok_and(|s| s == SECRET);
    if !changed.is_empty() || !secret_intact {
        let upstream_wrote = case.upstream.get("wrote_outside").is_some();
        broken.push(format!("wrote outside the target: {}{}", changed.join(", "), as_upstream(upstream_wrote)));
    }
    if run.timed_out {
        broken.push(format!("did not finish within {} s{}", CASE_TIMEOUT.as_secs(), as_upstream(upstream_exit.is_none())));
    } else if case.must_refuse && run.code == Some(0) {
        broken.push(format!("exit 0 on a stream it should refuse{}", as_upstream(upstream_exit == Some(0))));
    }
    if run.max_rss > MAX_RSS {
        broken.push(format!("peak memory {} MiB over {} MiB", run.max_rss >> 20, MAX_RSS >> 20));
    }
    Ok(if broken.is_empty() { Ok(()) } else { Err(broken.join("; ")) })
}

/// Everything in the scratch root except the target, `work/`, and the stage's HOME.
fn outside(root: &Path) -> anyhow::Result<tree::Tree> {
    Ok(tree::from_dir(root)?.into_iter().filter(|(p, _)| p != "work" && !p.starts_with("work/") && p != "home" && !p.starts_with("home/")).collect())
}

fn changed_outside(before: &tree::Tree, after: &tree::Tree) -> Vec<String> {
    let mut changed: Vec<String> = after.iter().filter(|(p, n)| !unchanged(before.get(*p), n)).map(|(p, _)| p.clone()).collect();
    changed.extend(before.keys().filter(|p| !after.contains_key(*p)).map(|p| format!("{p} (removed)")));
    changed
}

/// A directory's mtime moves whenever an entry is added under it, and whether that shows
/// depends on whether the second ticked over since the case began; the entry itself is
/// what counts, so directories compare without their mtime.
fn unchanged(before: Option<&tree::Node>, after: &tree::Node) -> bool {
    match before {
        Some(b) if b.kind == tree::Kind::Dir && after.kind == tree::Kind::Dir => b.mode == after.mode,
        Some(b) => b == after,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: tree::Kind, mtime: i64) -> tree::Node {
        tree::Node { kind, mode: 0o755, mtime }
    }

    #[test]
    fn a_file_added_under_a_directory_is_named_and_the_directory_is_not() {
        let before = tree::Tree::from([("victim".to_string(), node(tree::Kind::Dir, 1))]);
        let mut after = tree::Tree::from([("victim".to_string(), node(tree::Kind::Dir, 2))]);
        after.insert("victim/pwned".into(), node(tree::Kind::File(b"x".to_vec()), 2));
        assert_eq!(changed_outside(&before, &after), ["victim/pwned"]);
    }

    #[test]
    fn a_rewritten_file_or_a_removed_one_is_named() {
        let before = tree::Tree::from([
            ("a".to_string(), node(tree::Kind::File(b"x".to_vec()), 1)),
            ("b".to_string(), node(tree::Kind::File(b"y".to_vec()), 1)),
        ]);
        let after = tree::Tree::from([("a".to_string(), node(tree::Kind::File(b"x".to_vec()), 5))]);
        assert_eq!(changed_outside(&before, &after), ["a", "b (removed)"]);
    }
}
