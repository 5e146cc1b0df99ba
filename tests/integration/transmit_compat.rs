//! `runnerwire transmit` is a drop-in for upstream's: the same kwargs line, and upstream's
//! own worker unpacks our archive into a tree equal to the source and runs the same job.


use crate::common::*;

/// Our transmit of a fixture's private data dir with its recorded arguments.
fn our_transmit(fixture: &Fixture, pdd: &std::path::Path) -> Vec<u8> {
    let args = fixture.stage_args("transmit").unwrap_or_else(|| {
        // The kwargs-only fixture was recorded through the API.
        vec!["--only-transmit-kwargs".into(), "-p".into(), "site.yml".into()]
    });
    let mut cmd = runnerwire();
    cmd.arg("transmit").arg(pdd).args(["--ident", &fixture.name]).args(&args);
    let out = run_with_input(cmd, b"");
    assert_eq!(out.status.code(), Some(0), "{}: {}", fixture.name, String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}: stderr {}", fixture.name, String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn first_line(stream: &[u8]) -> &[u8] {
    &stream[..stream.iter().position(|&b| b == b'\n').unwrap() + 1]
}

#[test]
fn kwargs_line_is_byte_identical_to_upstreams() {
    for fixture in fixtures() {
        if fixture.stage_args("transmit").is_none() {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        fixture.extract_pdd(tmp.path());
        let ours = our_transmit(&fixture, tmp.path());
        let theirs = fixture.read("job.stream");
        assert_eq!(
            String::from_utf8_lossy(first_line(&ours)),
            String::from_utf8_lossy(first_line(&theirs)),
            "{}: kwargs line differs",
            fixture.name
        );
        // Upstream writes env/cmdline into the source dir; we only put it in the archive.
        assert!(!tmp.path().join("env/cmdline").exists(), "{}: transmit changed the source dir", fixture.name);
    }
}

#[test]
fn kwargs_only_stream_has_no_archive() {
    let fixture = fixtures().into_iter().find(|f| f.name == "kwargs-only").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    fixture.extract_pdd(tmp.path());
    let ours = stream_lines(&our_transmit(&fixture, tmp.path()));
    let theirs = stream_lines(&fixture.read("job.stream"));
    assert_eq!(ours.len(), 2);
    assert_eq!(theirs.len(), 2);
    assert_eq!(ours[0]["kwargs"]["ident"], theirs[0]["kwargs"]["ident"]);
    assert_eq!(ours[0]["kwargs"]["playbook"], theirs[0]["kwargs"]["playbook"]);
    assert_eq!(ours[1], serde_json::json!({"eof": true}));
}

/// Event names in order, per host, plus the final status: what "the same job" means when
/// forks let hosts interleave differently from run to run.
fn job_summary(stream: &[u8]) -> (String, Vec<(String, String)>) {
    let lines = stream_lines(stream);
    let status = lines.iter().rev().find_map(|l| l.get("status")).and_then(|s| s.as_str()).unwrap_or("none").to_string();
    let mut events: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l.get("counter").is_some() && l.get("event").is_some_and(|e| e != "keepalive"))
        .map(|l| {
            let host = l["event_data"].get("host").and_then(|h| h.as_str()).unwrap_or("").to_string();
            (host, l["event"].as_str().unwrap().to_string())
        })
        .collect();
    events.sort();
    (status, events)
}

#[test]
fn upstream_worker_runs_our_job_streams_like_its_own() {
    for fixture in fixtures() {
        if fixture.stage_args("transmit").is_none() || !fixture.has("result.stream") {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let source = tmp.path().join("source");
        fixture.extract_pdd(&source);
        let job = our_transmit(&fixture, &source);
        let worker_dir = tmp.path().join("worker");
        let mut cmd = upstream(tmp.path());
        cmd.arg("worker").arg("--private-data-dir").arg(&worker_dir).args(fixture.stage_args("worker").unwrap());
        let out = run_with_input(cmd, &job);
        // The worker exits with the job's rc; what matters is the stream it wrote.
        assert!(out.stdout.ends_with(b"{\"eof\": true}\n"), "{}: upstream worker did not finish: {}", fixture.name, String::from_utf8_lossy(&out.stderr));

        let (our_status, our_events) = job_summary(&out.stdout);
        let (their_status, their_events) = job_summary(&fixture.read("result.stream"));
        assert_eq!(our_status, their_status, "{}: final status", fixture.name);
        assert_eq!(our_events, their_events, "{}: events per host", fixture.name);

        // The tree upstream unpacked equals the source: modes, links, empty dirs, file times.
        let mut unpacked = tree_from_dir(&worker_dir);
        unpacked.retain(|path, _| path != "artifacts" && !path.starts_with("artifacts/"));
        let mut expected = tree_from_dir(&source);
        expected.retain(|_, node| node.kind != Kind::Fifo); // FIFOs are skipped, as upstream does
        if let Some(cmdline) = fixture.stage_args("transmit").unwrap().iter().position(|a| a == "--cmdline") {
            let text = fixture.stage_args("transmit").unwrap()[cmdline + 1].clone();
            expected.insert("env".into(), Node { kind: Kind::Dir, mode: 0o700, mtime: 0 });
            expected.insert("env/cmdline".into(), Node { kind: Kind::File(text.into_bytes()), mode: 0o600, mtime: 0 });
        }
        let files_only = |path: &str, node: &Node| matches!(node.kind, Kind::File(_)) && !path.starts_with("env/");
        let diffs = tree_diff(&expected, &unpacked, Some(2), &files_only);
        assert!(diffs.is_empty(), "{}: unpacked tree differs from the source:\n{}", fixture.name, diffs.join("\n"));
    }
}

#[test]
fn missing_inventory_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = runnerwire();
    cmd.arg("transmit").arg(tmp.path()).args(["-p", "x.yml", "--inventory", "nope"]);
    let out = run_with_input(cmd, b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--inventory"));
    assert!(out.stdout.is_empty());
}

#[test]
fn absolute_paths_inside_the_private_data_dir_are_sent_relative() {
    let tmp = tempfile::tempdir().unwrap();
    let pdd = tmp.path().canonicalize().unwrap();
    std::fs::create_dir_all(pdd.join("inventory")).unwrap();
    std::fs::write(pdd.join("inventory/hosts"), "localhost\n").unwrap();
    let mut cmd = runnerwire();
    cmd.arg("transmit")
        .arg(&pdd)
        .arg("-p")
        .arg(pdd.join("project/site.yml"))
        .arg("--inventory")
        .arg(pdd.join("inventory/hosts"))
        .arg("--only-transmit-kwargs");
    let out = run_with_input(cmd, b"");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = stream_lines(&out.stdout);
    assert_eq!(lines[0]["kwargs"]["playbook"], "site.yml");
    assert_eq!(lines[0]["kwargs"]["inventory"], "inventory/hosts");
    assert_eq!(lines[0]["kwargs"]["ident"].as_str().unwrap().len(), 32);
}

#[test]
fn large_incompressible_private_data_dir_survives_upstreams_reader() {
    // Upstream's test_large_private_data_dir_by_sockets: 8 MiB that deflate cannot shrink.
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    std::fs::create_dir_all(source.join("project")).unwrap();
    std::fs::write(source.join("project/site.yml"), "- hosts: localhost\n  gather_facts: false\n  tasks: []\n").unwrap();
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    let payload: Vec<u8> = (0..8 << 20).map(|_| next() as u8).collect();
    std::fs::write(source.join("big.bin"), &payload).unwrap();
    let mut cmd = runnerwire();
    cmd.arg("transmit").arg(&source).args(["-p", "site.yml", "--ident", "big"]);
    let out = run_with_input(cmd, b"");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let worker_dir = tmp.path().join("worker");
    let mut cmd = upstream(tmp.path());
    cmd.arg("worker").arg("--private-data-dir").arg(&worker_dir);
    let result = run_with_input(cmd, &out.stdout);
    assert!(result.stdout.ends_with(b"{\"eof\": true}\n"), "{}", String::from_utf8_lossy(&result.stderr));
    assert!(std::fs::read(worker_dir.join("big.bin")).unwrap() == payload, "payload differs after upstream's unpack");
}

#[test]
fn every_transmit_option_gives_upstreams_kwargs_and_archive() {
    let combos: &[&[&str]] = &[
        &["-p", "site.yml"],
        &["-p", "site.yml", "-v", "-v", "-v", "--forks", "7", "--limit", "web:!db", "-q", "-j"],
        &["-p", "site.yml", "--cmdline", "-e a=1 --tags x", "--inventory", "hosts"],
        &["-p", "site.yml", "--cmdline", "-e a=1", "--omit-env-files"],
        &["-m", "command", "-a", "echo 'hi there'", "--hosts", "all", "-b", "/opt/ansible/bin"],
        &["-p", "site.yml", "--roles-path", "/etc/roles", "--project-dir", "/srv/p", "--artifact-dir", "/srv/a"],
        &["-p", "site.yml", "--rotate-artifacts", "3", "--omit-event-data", "--only-failed-event-data"],
        &["-p", "site.yml", "--container-image", "quay.io/x/ee:1", "--container-volume-mount", "/a:/b:Z", "--container-volume-mount", "/c:/d", "--container-option=--net=host"],
        &["-p", "Grüße ünïcode.yml", "--limit", "日本"],
        &["-r", "myrole", "--hosts", "web", "--role-vars", "a=1 b=x c=True d=-2.5 e='q' f=None", "--role-skip-facts"],
        &["-r", "myrole"],
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (i, args) in combos.iter().enumerate() {
        let make_pdd = |name: &str| {
            let pdd = tmp.path().join(format!("{name}{i}"));
            std::fs::create_dir_all(pdd.join("project")).unwrap();
            std::fs::create_dir_all(pdd.join("inventory")).unwrap();
            std::fs::write(pdd.join("project/site.yml"), "- hosts: all\n").unwrap();
            std::fs::write(pdd.join("inventory/hosts"), "localhost\n").unwrap();
            pdd
        };
        let theirs_pdd = make_pdd("theirs");
        let mut cmd = upstream(tmp.path());
        cmd.arg("transmit").arg(&theirs_pdd).args(["--ident", "combo"]).args(*args);
        let theirs = run_with_input(cmd, b"");
        assert!(theirs.status.success(), "upstream transmit {args:?}: {}", String::from_utf8_lossy(&theirs.stderr));

        let ours_pdd = make_pdd("ours");
        let mut cmd = runnerwire();
        cmd.arg("transmit").arg(&ours_pdd).args(["--ident", "combo"]).args(*args);
        let ours = run_with_input(cmd, b"");
        assert_eq!(ours.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&ours.stderr));

        // Absolute paths of the two private data dirs differ only by name, and a role's
        // generated playbook has a fresh random name on each side.
        let hex = |text: String| {
            let mut out = String::new();
            let mut rest = text.as_str();
            while let Some(i) = rest.find(|c: char| c.is_ascii_hexdigit()) {
                out.push_str(&rest[..i]);
                let run = rest[i..].find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(rest.len() - i);
                out.push_str(if run == 32 { "[generated]" } else { &rest[i..i + run] });
                rest = &rest[i + run..];
            }
            out + rest
        };
        let ours_kwargs = String::from_utf8_lossy(first_line(&ours.stdout)).replace(&format!("ours{i}"), &format!("theirs{i}"));
        assert_eq!(hex(ours_kwargs), hex(String::from_utf8_lossy(first_line(&theirs.stdout)).into()), "kwargs for {args:?}");
        assert_eq!(hex(archive_listing(false, &ours.stdout)), hex(archive_listing(false, &theirs.stdout)), "archive for {args:?}");
    }
}

/// transmit encodes files, and large files' chunks, on every core (the host's
/// `native-pack`). The stream must be the very bytes encoding on one core gives (taskset
/// pins that run to one CPU, so one worker encodes everything), the same from run to run,
/// and upstream's worker must unpack it to the source.
#[test]
fn packing_on_every_core_gives_the_bytes_one_core_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    pdd_with_large_files(&source, 12, 30_000);
    // Larger than two chunks: its chunks are encoded apart, and must still make one stream.
    let words: Vec<String> = (0..400_000u32).map(|i| format!("w{}", i.wrapping_mul(2_654_435_761) % 997)).collect();
    std::fs::write(source.join("project/files/chunked.txt"), words.join(" ")).unwrap();
    let transmit = |pin: bool| {
        let mut cmd = if pin { std::process::Command::new("taskset") } else { runnerwire() };
        if pin {
            cmd.args(["-c", "0"]).arg(env!("CARGO_BIN_EXE_runnerwire"));
        }
        cmd.arg("transmit").arg(&source).args(["-p", "site.yml", "--ident", "cores"]);
        let out = run_with_input(cmd, b"");
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let (parallel, again, one_core) = (transmit(false), transmit(false), transmit(true));
    assert!(parallel == again, "two runs differ");
    assert!(parallel == one_core, "packing on every core changed the stream");
    let worker_dir = tmp.path().join("worker");
    let mut cmd = upstream(tmp.path());
    cmd.arg("worker").arg("--private-data-dir").arg(&worker_dir);
    let result = run_with_input(cmd, &parallel);
    assert!(result.stdout.ends_with(b"{\"eof\": true}\n"), "{}", String::from_utf8_lossy(&result.stderr));
    for name in ["doc-00.txt", "doc-11.txt", "noise.bin", "small.txt", "chunked.txt"] {
        let path = format!("project/files/{name}");
        assert!(std::fs::read(worker_dir.join(&path)).unwrap() == std::fs::read(source.join(&path)).unwrap(), "{path} differs after upstream's unpack");
    }
}

/// A pipe on transmit's stdout is widened to 1 MiB (the size of the chunks it writes), so
/// a reader is not woken sixteen times a chunk; the stream through it is whole.
#[test]
fn transmit_widens_a_pipe_on_its_stdout_to_a_mebibyte() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    pdd_with_large_files(&source, 2, 1_000);
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let before = rustix::pipe::fcntl_getpipe_size(&reader).unwrap();
    assert!(before < 1 << 20, "the pipe starts at {before} bytes already");
    let mut child = runnerwire()
        .arg("transmit")
        .arg(&source)
        .args(["-p", "site.yml", "--ident", "pipe"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(writer))
        .spawn()
        .unwrap();
    let mut stream = Vec::new();
    std::io::Read::read_to_end(&mut std::fs::File::from(reader.try_clone().unwrap()), &mut stream).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(rustix::pipe::fcntl_getpipe_size(&reader).unwrap(), 1 << 20);
    assert!(stream.ends_with(b"{\"eof\": true}\n"), "the stream through the pipe is cut short");
}

/// The archive's base64 (the component encodes it six bytes a step, then a group at a
/// time, then the padding) is standard padded base64 at every length: archives of 48
/// lengths in a row, each decoded strictly and encoded again by an independent encoder.
#[test]
fn the_archive_base64_is_standard_at_every_length() {
    use base64::Engine as _;
    use runnerwire::cli::TransmitArgs;
    use runnerwire::sandbox::{Budget, Runtime};
    let tmp = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap();
    let pdd = tmp.path().join("pdd");
    std::fs::create_dir_all(pdd.join("project")).unwrap();
    std::fs::write(pdd.join("project/site.yml"), "- hosts: all\n  tasks: []\n").unwrap();
    let mut tails = std::collections::BTreeSet::new();
    for len in 0..48 {
        // A stored file of `len` bytes moves the archive's length one byte at a time.
        std::fs::write(pdd.join("project/data.bin"), (0..len).map(|i: u32| (i * 37 + len) as u8).collect::<Vec<u8>>()).unwrap();
        let args = TransmitArgs { private_data_dir: pdd.clone(), playbook: Some("site.yml".into()), ident: Some("b64".into()), ..Default::default() };
        let (pdd, request) = runnerwire::stages::transmit::request_for(args, tmp.path()).unwrap();
        let mut out = Vec::new();
        runnerwire::stages::transmit::transmit(&runtime, &pdd, &request, Budget::default(), &mut out).unwrap();
        let header_end = out.windows(2).position(|w| w == b"}\n").unwrap() + 2;
        let zip_line_end = header_end + out[header_end..].iter().position(|&b| b == b'\n').unwrap() + 1;
        let size: usize = String::from_utf8_lossy(&out[header_end..zip_line_end]).trim().trim_start_matches("{\"zipfile\": ").trim_end_matches('}').parse().unwrap();
        let text = &out[zip_line_end..zip_line_end + size.div_ceil(3) * 4];
        assert_eq!(&out[zip_line_end + text.len()..], b"{\"eof\": true}\n");
        let zip = base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_else(|e| panic!("archive of {size} bytes: {e}"));
        assert_eq!(zip.len(), size);
        assert!(base64::engine::general_purpose::STANDARD.encode(&zip).as_bytes() == text, "archive of {size} bytes: not the standard encoding");
        tails.insert(size % 12);
    }
    assert_eq!(tails.len(), 12, "every remainder of a 12-byte step was met");
}
