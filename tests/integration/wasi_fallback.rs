//! The component's WASI fallback for hosts without the `fast-writes` import: a runtime that
//! answers `unsupported` to every fast write still leaves upstream's files and stream bytes,
//! and still replaces a link where a file goes instead of writing through it.

use clap::Parser;

use crate::common::*;
use runnerwire::cli::{Cli, Command, PortableCommand, TransmitArgs};
use runnerwire::sandbox::{Budget, Runtime};

fn process_args(ident: &str) -> runnerwire::cli::ProcessArgs {
    let cli = Cli::try_parse_from(["runnerwire", "process", "pdd", "--ident", ident]).unwrap();
    let Command::Portable(PortableCommand::Process(args)) = cli.command else { unreachable!() };
    args
}

#[test]
fn process_without_fast_writes_leaves_upstreams_tree_and_stdout() {
    let runtime = Runtime::new().unwrap().without_fast_writes();
    let mut checked = 0;
    for fixture in fixtures().into_iter().filter(|f| f.has("result.stream") && f.has("process.tar")) {
        let ident = fixture.stage_args("process").unwrap()[1].clone();
        let tmp = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        let code = runnerwire::stages::process::process(&runtime, &process_args(&ident), tmp.path(), &mut &fixture.read("result.stream")[..], &mut out)
            .unwrap_or_else(|f| panic!("{}: {}", fixture.name, f.message));
        assert!(out == fixture.read("process.stdout"), "{}: stdout differs from upstream's", fixture.name);
        let expected = tree_from_tar(&fixture.file("process.tar"));
        let from_zip = |path: &str, node: &Node| matches!(node.kind, Kind::File(_)) && !path.contains("/job_events/") && path != "daemon.log";
        let diffs = tree_diff(&expected, &tree_from_dir(&tmp.path().join("pdd")), Some(0), &from_zip);
        assert!(diffs.is_empty(), "{} (exit {code}): tree differs from upstream's:\n{}", fixture.name, diffs.join("\n"));
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} result streams checked");
}

#[test]
fn without_fast_writes_a_link_where_an_event_file_goes_is_replaced_not_written_through() {
    let fixture = fixtures().into_iter().find(|f| f.name == "simple").unwrap();
    let stream = fixture.read("result.stream");
    let first = stream_lines(&stream).into_iter().find(|l| l.get("counter").is_some()).unwrap();
    let name = format!("{}-{}.json", first["counter"], first["uuid"].as_str().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "secret").unwrap();
    let events = tmp.path().join("pdd/artifacts/job/job_events");
    std::fs::create_dir_all(&events).unwrap();
    std::os::unix::fs::symlink(&victim, events.join(&name)).unwrap();

    let runtime = Runtime::new().unwrap().without_fast_writes();
    runnerwire::stages::process::process(&runtime, &process_args("job"), tmp.path(), &mut &stream[..], &mut Vec::new()).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret", "written through the link");
    let meta = std::fs::symlink_metadata(events.join(&name)).unwrap();
    assert!(meta.is_file(), "the link was not replaced by the event file");
    assert!(std::fs::read_to_string(events.join(&name)).unwrap().contains(first["uuid"].as_str().unwrap()));
}

#[test]
fn transmit_without_fast_writes_sends_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let pdd = tmp.path().join("pdd");
    std::fs::create_dir_all(pdd.join("project/roles/r")).unwrap();
    std::fs::write(pdd.join("project/site.yml"), "- hosts: all\n  tasks: []\n").unwrap();
    // Large enough to be packed in parts (written into scratch with write-at).
    let big: Vec<u8> = (0..6_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(pdd.join("project/blob.bin"), &big).unwrap();
    std::fs::write(pdd.join("project/roles/r/big.txt"), "line of text\n".repeat(400_000)).unwrap();
    std::os::unix::fs::symlink("site.yml", pdd.join("project/link.yml")).unwrap();
    let args = TransmitArgs { private_data_dir: pdd.clone(), playbook: Some("site.yml".into()), ident: Some("same".into()), ..Default::default() };
    let (pdd, request) = runnerwire::stages::transmit::request_for(args, tmp.path()).unwrap();

    let mut fast = Vec::new();
    runnerwire::stages::transmit::transmit(&Runtime::new().unwrap(), &pdd, &request, Budget::default(), &mut fast).unwrap();
    let mut wasi = Vec::new();
    runnerwire::stages::transmit::transmit(&Runtime::new().unwrap().without_fast_writes(), &pdd, &request, Budget::default(), &mut wasi).unwrap();
    assert!(fast.len() > 1000 && fast == wasi, "the streams differ ({} and {} bytes)", fast.len(), wasi.len());
}

/// Without `native-pack` the component encodes every file itself (wasm, one core, WASI
/// reads), as in Node and the browser: the stream must be the very bytes the native
/// encoding on every core sends, with and without `fast-writes` too.
#[test]
fn transmit_without_native_pack_sends_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let pdd = tmp.path().join("pdd");
    std::fs::create_dir_all(pdd.join("project/empty")).unwrap();
    std::fs::write(pdd.join("project/site.yml"), "- hosts: all\n  tasks: []\n").unwrap();
    let noise: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(pdd.join("project/noise.bin"), &noise).unwrap();
    std::fs::write(pdd.join("project/big.txt"), "a line of text, and then some\n".repeat(200_000)).unwrap();
    for i in 0..300 {
        let dir = pdd.join(format!("project/collections/c{}", i % 7));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("m\u{fc}d-{i:03}.py")), format!("# module {i}\nx = {i}\n").repeat(i % 40 + 1)).unwrap();
    }
    std::fs::write(pdd.join("project/zero.txt"), "").unwrap();
    std::os::unix::fs::symlink("site.yml", pdd.join("project/link.yml")).unwrap();
    let args = TransmitArgs { private_data_dir: pdd.clone(), playbook: Some("site.yml".into()), ident: Some("same".into()), ..Default::default() };
    let (pdd, request) = runnerwire::stages::transmit::request_for(args, tmp.path()).unwrap();
    let send = |runtime: Runtime| {
        let mut out = Vec::new();
        runnerwire::stages::transmit::transmit(&runtime, &pdd, &request, Budget::default(), &mut out).unwrap();
        out
    };
    let native = send(Runtime::new().unwrap());
    let own = send(Runtime::new().unwrap().without_native_pack());
    let wasi_only = send(Runtime::new().unwrap().without_native_pack().without_fast_writes());
    assert!(native.len() > 1000 && native == own, "the streams differ ({} and {} bytes)", native.len(), own.len());
    assert!(native == wasi_only, "the stream through WASI alone differs");
}
