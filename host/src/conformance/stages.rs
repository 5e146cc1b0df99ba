//! The compatibility checks: each recorded scenario through an implementation's stage,
//! compared with what upstream 2.4.3 produced for it.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::corpus::Scenario;
use super::exec;
use super::normalize::{per_host, Normalizer};
use super::tree::{self, Kind, Node};
use crate::sandbox::{wit_worker, Grant, Runtime};

/// How long one stage may take (a worker runs a real playbook).
const STAGE_TIMEOUT: Duration = Duration::from_secs(300);

/// The environment the recordings were made in, with the caller's PATH (to find ansible).
pub fn stage_env(home: &Path) -> Vec<(String, String)> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    [("PATH", path), ("HOME", home.display().to_string()), ("LANG", "C.UTF-8".into()), ("LC_ALL", "C.UTF-8".into()), ("TZ", "UTC".into()), ("ANSIBLE_NOCOLOR", "1".into())]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

fn failed(what: String) -> anyhow::Result<Result<(), String>> {
    Ok(Err(what))
}

/// Runs a stage in `work` with a fresh HOME; Err when it did not finish in time.
fn run_stage(cmd: &str, args: &[String], stdin: &[u8], work: &Path) -> anyhow::Result<Result<exec::Run, String>> {
    let home = work.join("home");
    std::fs::create_dir_all(&home)?;
    let run = exec::run(cmd, args, stdin, &stage_env(&home), work, STAGE_TIMEOUT)?;
    Ok(if run.timed_out { Err(format!("did not finish within {} s", STAGE_TIMEOUT.as_secs())) } else { Ok(run) })
}

fn first_line(stream: &[u8]) -> &[u8] {
    &stream[..stream.iter().position(|&b| b == b'\n').unwrap_or(stream.len())]
}

/// `process`: the same stdout and the same tree as upstream's process left.
pub fn process(cmd: &str, scenario: &Scenario, work: &Path) -> anyhow::Result<Result<(), String>> {
    let pdd = work.join("pdd");
    let mut args = vec![pdd.display().to_string()];
    args.extend(scenario.stage_args("process").unwrap_or_default());
    let run = match run_stage(cmd, &args, &scenario.read("result.stream")?, work)? {
        Ok(run) => run,
        Err(why) => return failed(why),
    };
    if run.stdout != scenario.read("process.stdout")? {
        return failed(format!("stdout differs from upstream's ({} bytes, upstream {})", run.stdout.len(), scenario.read("process.stdout")?.len()));
    }
    if !pdd.is_dir() {
        return failed(format!("left no private data dir (exit {:?})", run.code));
    }
    let expected = tree::from_tar(std::fs::File::open(scenario.file("process.tar"))?)?;
    let actual = tree::from_dir(&pdd)?;
    // Unpacked artifact files carry the zip's times; files process writes itself do not.
    let from_zip = |path: &str, node: &Node| matches!(node.kind, Kind::File(_)) && !path.contains("/job_events/") && path != "daemon.log";
    let diffs = tree::diff(&expected, &actual, Some(0), &from_zip);
    if !diffs.is_empty() {
        return failed(format!("tree differs from upstream's: {}", summarize(&diffs)));
    }
    Ok(Ok(()))
}

/// `worker`: the recorded job stream gives upstream's result stream, after normalization
/// (and without the verbose lines the machine added, see `environment`); the note names
/// those.
pub fn worker(cmd: &str, scenario: &Scenario, work: &Path) -> anyhow::Result<Result<Option<String>, String>> {
    let dir = work.join("worker");
    let mut args = vec!["--private-data-dir".to_string(), dir.display().to_string()];
    args.extend(scenario.stage_args("worker").unwrap_or_default());
    let run = match run_stage(cmd, &args, &scenario.read("job.stream")?, work)? {
        Ok(run) => run,
        Err(why) => return Ok(Err(why)),
    };
    if !run.stdout.ends_with(b"{\"eof\": true}\n") {
        let last = String::from_utf8_lossy(&run.stderr).lines().last().unwrap_or("").to_string();
        return Ok(Err(format!("the result stream does not end with eof (exit {:?}){}", run.code, if last.is_empty() { String::new() } else { format!(": {last}") })));
    }
    // The run's own paths read like the recording's temp paths, which normalize alike.
    let work_text = work.display().to_string();
    let local = |line: &str| line.replace(&work_text, "/tmp/kit");
    let normalize = |lines: Vec<String>| -> Vec<String> {
        let mut n = Normalizer::new(Vec::new());
        lines
            .into_iter()
            .filter(|l| !l.starts_with("{\"event\": \"keepalive\""))
            .map(|l| if l.starts_with("{\"zipfile\"") { "<archive>".to_string() } else { n.line(&local(&l)) })
            .collect()
    };
    let recorded = super::lines::raw_lines(&scenario.read("result.stream")?);
    let (our_lines, added) = super::environment::without_added_lines(super::lines::raw_lines(&run.stdout), &recorded, &local);
    let note = super::environment::note(&added);
    let ours = normalize(our_lines);
    let theirs = normalize(recorded);
    let compare = |label: &str, ours: &[String], theirs: &[String]| -> Result<(), String> {
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            if a != b {
                return Err(format!("{label}line {} differs from upstream's: {}", i + 1, first_difference(a, b)));
            }
        }
        if ours.len() != theirs.len() {
            return Err(format!("{label}{} lines, upstream {}", ours.len(), theirs.len()));
        }
        Ok(())
    };
    let hosts = per_host(&theirs);
    let compared = if hosts.len() > 2 { compare_hosts(&ours, &theirs, compare) } else { compare("", &ours, &theirs) };
    Ok(compared.map(|()| note))
}

/// Several hosts: with several forks, ansible orders the hosts' events differently from run
/// to run, and the first host to fail a task gets the long error display. So: each host's
/// events must come in upstream's order of types, and all lines, with host names masked
/// and maps compared as values, must be the same multiset.
fn compare_hosts(ours: &[String], theirs: &[String], compare: impl Fn(&str, &[String], &[String]) -> Result<(), String>) -> Result<(), String> {
    let (our_hosts, their_hosts) = (per_host(ours), per_host(theirs));
    if our_hosts.keys().ne(their_hosts.keys()) {
        return Err(format!("hosts {:?}, upstream {:?}", our_hosts.keys().collect::<Vec<_>>(), their_hosts.keys().collect::<Vec<_>>()));
    }
    let event = regex::Regex::new(r#""event": "([^"]*)""#).expect("a valid pattern");
    let types = |lines: &[String]| -> Vec<String> { lines.iter().map(|l| event.captures(l).map(|c| c[1].to_string()).unwrap_or_default()).collect() };
    for (host, lines) in &our_hosts {
        compare(&format!("host {host:?}: event "), &types(lines), &types(&their_hosts[host]))?;
    }
    let names: Vec<&String> = their_hosts.keys().filter(|h| !h.is_empty()).collect();
    // Counters, line numbers and uuid numbering follow the interleaving: per_host drops them.
    let masked = |groups: &std::collections::BTreeMap<String, Vec<String>>| -> Vec<String> {
        let mut out: Vec<String> = groups
            .values()
            .flatten()
            .map(|l| {
                // Placeholders for numbers are bare words: quote them to parse the line.
                let mut text = l.replace("NaN", "null").replace("Infinity", "null");
                for p in ["<pid>", "<duration>", "<stat>"] {
                    text = text.replace(p, &format!("\"{p}\""));
                }
                // Keys sorted first (maps keyed by host keep each host's value), then masked.
                let text = serde_json::from_str::<serde_json::Value>(&text).map_or(text, |v| v.to_string());
                names.iter().fold(text, |t, h| t.replace(h.as_str(), "<host>"))
            })
            .collect();
        out.sort();
        out
    };
    compare("all hosts, in any order: ", &masked(&our_hosts), &masked(&their_hosts))
}

/// Where two lines part, with a little context.
fn first_difference(ours: &str, theirs: &str) -> String {
    let at = ours.bytes().zip(theirs.bytes()).position(|(a, b)| a != b).unwrap_or(ours.len().min(theirs.len()));
    let from = at.saturating_sub(40);
    let window = |s: &str| String::from_utf8_lossy(&s.as_bytes()[from.min(s.len())..(at + 60).min(s.len())]).into_owned();
    format!("at byte {at}: {:?} vs {:?}", window(ours), window(theirs))
}

/// `transmit`: upstream's kwargs line, upstream's archive listing, and an archive that
/// unpacks to the source tree.
pub fn transmit(cmd: &str, scenario: &Scenario, work: &Path, runtime: &Runtime) -> anyhow::Result<Result<(), String>> {
    let Some(recorded_args) = scenario.stage_args("transmit") else { return Ok(Ok(())) };
    let src = work.join("src");
    std::fs::create_dir_all(&src)?;
    tree::extract_tar(std::fs::File::open(scenario.file("pdd.tar"))?, &src).context("cannot unpack the scenario's private data dir")?;
    let source_tree = tree::from_dir(&src)?;
    let mut args = vec![src.display().to_string(), "--ident".to_string(), scenario.name.clone()];
    args.extend(recorded_args);
    let run = match run_stage(cmd, &args, b"", work)? {
        Ok(run) => run,
        Err(why) => return failed(why),
    };
    let recorded = scenario.read("job.stream")?;
    if first_line(&run.stdout) != first_line(&recorded) {
        return failed(format!("kwargs line differs from upstream's: {}", first_difference(&String::from_utf8_lossy(first_line(&run.stdout)), &String::from_utf8_lossy(first_line(&recorded)))));
    }
    let listing = |stream: &[u8]| -> anyhow::Result<Vec<(String, String, u64, String)>> {
        let summary = super::inspect_summary(runtime, stream)?;
        let mut entries: Vec<(String, String, u64, String)> = summary["archives"]
            .get(0)
            .and_then(|a| a["entries"].as_array())
            .map(|list| {
                list.iter()
                    .map(|e| {
                        let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                        (text("name"), text("mode"), e["size"].as_u64().unwrap_or(0), text("link"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        entries.sort();
        Ok(entries)
    };
    let (ours, theirs) = (listing(&run.stdout)?, listing(&recorded)?);
    if ours != theirs {
        let missing: Vec<&String> = theirs.iter().filter(|t| !ours.iter().any(|o| o.0 == t.0)).map(|t| &t.0).collect();
        let extra: Vec<&String> = ours.iter().filter(|o| !theirs.iter().any(|t| t.0 == o.0)).map(|o| &o.0).collect();
        let changed: Vec<&String> = ours.iter().filter(|o| theirs.iter().any(|t| t.0 == o.0 && *t != **o)).map(|o| &o.0).collect();
        return failed(format!("archive differs from upstream's: missing {missing:?}, unexpected {extra:?}, changed {changed:?}"));
    }
    let unpacked = work.join("unpacked");
    if let Err(why) = unpack_job(runtime, &run.stdout, &unpacked)? {
        return failed(format!("the job stream does not unpack: {why}"));
    }
    // FIFOs are not sent; modes, contents and links must survive, times within the zip's
    // 2 s. Files transmit adds (env/cmdline for --cmdline) are in upstream's archive too.
    let expected: tree::Tree = source_tree.into_iter().filter(|(_, n)| n.kind != Kind::Fifo).collect();
    let added = |path: &str| theirs.iter().any(|t| t.0.trim_start_matches("./").trim_end_matches('/') == path);
    let diffs: Vec<String> = tree::diff(&expected, &tree::from_dir(&unpacked)?, Some(2), &|_, n| matches!(n.kind, Kind::File(_)))
        .into_iter()
        .filter(|d| !d.strip_prefix("unexpected: ").is_some_and(added))
        .collect();
    if !diffs.is_empty() {
        return failed(format!("the archive unpacks to a different tree: {}", summarize(&diffs)));
    }
    Ok(Ok(()))
}

/// Unpacks a job stream with the worker's own job reader (the component).
fn unpack_job(runtime: &Runtime, stream: &[u8], into: &Path) -> anyhow::Result<Result<(), String>> {
    std::fs::create_dir_all(into)?;
    let scratch = tempfile::tempdir()?;
    let mut instance = runtime.instantiate(&Grant::with_scratch(into, "/pdd", true, scratch.path()), Default::default())?;
    let api = instance.codec.runnerwire_codec_worker().job_reader();
    let types = instance.codec.runnerwire_codec_types();
    let limits = instance.store.call(|store| types.call_default_limits(store)).map_err(super::wasm_error)?;
    let reader = instance.store.call(|store| api.call_constructor(store, limits, &into.display().to_string())).map_err(super::wasm_error)?;
    let mut state = instance.store.call(|store| api.call_feed(store, reader, stream)).map_err(super::wasm_error)?;
    if matches!(state, wit_worker::JobInput::NeedMore) {
        state = instance.store.call(|store| api.call_finish(store, reader)).map_err(super::wasm_error)?;
    }
    Ok(match state {
        wit_worker::JobInput::Ready(_) => Ok(()),
        wit_worker::JobInput::Refused((_, error)) => Err(crate::failure::describe(&error)),
        wit_worker::JobInput::NeedMore => Err("the stream ended early".into()),
    })
}

fn summarize(diffs: &[String]) -> String {
    let shown: Vec<&str> = diffs.iter().take(3).map(String::as_str).collect();
    let more = if diffs.len() > 3 { format!(" (+{} more)", diffs.len() - 3) } else { String::new() };
    format!("{}{more}", shown.join("; "))
}
