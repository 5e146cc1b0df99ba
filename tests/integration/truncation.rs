//! Every fixture stream cut short, fed to the stage that reads it: never a panic or a trap,
//! always exit 65 with one line naming the offset, nothing outside the target touched.
//! `process` runs in-process (one engine, every cut of every result stream up to 16 KiB, a
//! dense sample of larger ones). The worker's job reader runs in-process through the WIT
//! API the worker uses, on the same cuts of every job stream, and `worker` itself runs as
//! the binary on a sample of them.


use clap::Parser;
use crate::common::sandbox::Sandbox;
use crate::common::*;
use runnerwire::cli::{Cli, Command, PortableCommand};
use runnerwire::sandbox::{wit_worker, Grant, Runtime};

/// Streams up to this size are cut at every offset.
const EVERY_OFFSET_UP_TO: usize = 16 << 10;

/// Where to cut `stream`: every offset when it is small; else every offset near a line
/// start or end (where framing decisions happen), the first and last `edge` bytes, and
/// `budget` cuts at an even stride through the rest.
fn cuts(stream: &[u8], every_up_to: usize, edge: usize, budget: usize) -> Vec<usize> {
    let len = stream.len();
    if len <= every_up_to {
        return (0..len).collect();
    }
    let mut cuts = std::collections::BTreeSet::new();
    cuts.extend((0..edge.min(len)).chain(len.saturating_sub(edge)..len));
    for (i, &b) in stream.iter().enumerate() {
        if b == b'\n' {
            cuts.extend(i.saturating_sub(2)..(i + 3).min(len));
        }
    }
    let stride = (len / budget.max(1)).max(1);
    cuts.extend((0..len).step_by(stride));
    cuts.into_iter().filter(|&c| c < len).collect()
}

/// A cut that keeps the whole eof line but its newline is a complete stream.
fn complete_from(stream: &[u8]) -> usize {
    stream.len() - 1
}

#[test]
fn every_cut_of_every_result_stream_is_refused_by_process() {
    let runtime = Runtime::new().unwrap();
    let mut checked = 0;
    for fixture in fixtures().into_iter().filter(|f| f.has("result.stream")) {
        let stream = fixture.read("result.stream");
        for cut in cuts(&stream, EVERY_OFFSET_UP_TO, 1024, 3000) {
            if cut >= complete_from(&stream) {
                continue;
            }
            let sandbox = Sandbox::new();
            let cli = Cli::try_parse_from(["runnerwire", "process", "work", "--ident", "job"]).unwrap();
            let Command::Portable(PortableCommand::Process(args)) = cli.command else { unreachable!() };
            let mut out = Vec::new();
            let result = runnerwire::stages::process::process(&runtime, &args, sandbox.root.path(), &mut &stream[..cut], &mut out);
            let what = format!("{} cut at {cut}", fixture.name);
            let failure = result.expect_err(&what);
            assert_eq!(failure.code, 65, "{what}: {}", failure.message);
            let offset: u64 = failure.message.split(" at byte ").nth(1).and_then(|r| r.split([',', ':']).next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{what}: no offset in {:?}", failure.message));
            assert!(offset <= cut as u64, "{what}: offset {offset} past the cut: {}", failure.message);
            assert!(!failure.message.contains('\n'), "{what}: {}", failure.message);
            sandbox.assert_outside_untouched(&what);
            checked += 1;
        }
    }
    assert!(checked > 40_000, "only {checked} cuts");
}

#[test]
fn every_cut_of_every_job_stream_is_refused_by_the_job_reader() {
    let runtime = Runtime::new().unwrap();
    let mut checked = 0;
    for fixture in fixtures() {
        let stream = fixture.read("job.stream");
        for cut in cuts(&stream, EVERY_OFFSET_UP_TO, 1024, 3000) {
            if cut >= complete_from(&stream) {
                continue;
            }
            let sandbox = Sandbox::new();
            let scratch = tempfile::tempdir().unwrap();
            let what = format!("{} cut at {cut}", fixture.name);
            let grants = Grant::with_scratch(&sandbox.target(), "/pdd", true, scratch.path());
            let mut instance = runtime.instantiate(&grants, Default::default()).unwrap();
            let codec = &instance.codec;
            let api = codec.runnerwire_codec_worker().job_reader();
            let defaults = instance.store.call(|store| codec.runnerwire_codec_types().call_default_limits(store)).unwrap();
            let pdd = sandbox.target().to_string_lossy().into_owned();
            let reader = instance.store.call(|store| api.call_constructor(store, defaults, &pdd)).unwrap();
            let mut state = instance.store.call(|store| api.call_feed(store, reader, &stream[..cut])).expect(&what);
            if matches!(state, wit_worker::JobInput::NeedMore) {
                state = instance.store.call(|store| api.call_finish(store, reader)).expect(&what);
            }
            let wit_worker::JobInput::Refused((reply, error)) = state else { panic!("{what}: not refused") };
            assert!(error.offset <= cut as u64, "{what}: offset {} past the cut: {}", error.offset, error.message);
            assert!(!matches!(error.kind, runnerwire::sandbox::wit_types::ErrorKind::Io), "{what}: {}", error.message);
            assert!(reply.ends_with(b"{\"eof\": true}\n"), "{what}");
            drop(instance);
            sandbox.assert_outside_untouched(&what);
            checked += 1;
        }
    }
    assert!(checked > 12_000, "only {checked} cuts");
}

#[test]
fn sampled_cuts_of_every_job_stream_are_refused_by_worker() {
    let mut checked = 0;
    for fixture in fixtures() {
        let stream = fixture.read("job.stream");
        for cut in cuts(&stream, 0, 48, 60) {
            if cut >= complete_from(&stream) {
                continue;
            }
            let sandbox = Sandbox::new();
            let mut cmd = runnerwire();
            cmd.arg("worker").arg("--private-data-dir").arg(sandbox.target());
            let out = run_with_input(cmd, &stream[..cut]);
            let what = format!("{} cut at {cut}", fixture.name);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(65), "{what}: {stderr}");
            assert!(stderr.lines().count() == 1 && stderr.contains(" at byte "), "{what}: {stderr}");
            let lines = stream_lines(&out.stdout);
            assert_eq!(lines.first().and_then(|l| l["status"].as_str()), Some("error"), "{what}");
            sandbox.assert_outside_untouched(&what);
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} cuts");
}
