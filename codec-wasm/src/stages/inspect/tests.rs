use super::*;

fn inspect_chunked(stream: &[u8], chunk: usize, limits: Limits) -> (Vec<u8>, Summary) {
    inspect_with(stream, chunk, limits, true)
}

fn inspect_with(stream: &[u8], chunk: usize, limits: Limits, fast_path: bool) -> (Vec<u8>, Summary) {
    inspect_as(stream, chunk, limits, fast_path, true)
}

fn inspect_as(stream: &[u8], chunk: usize, limits: Limits, fast_path: bool, json_lines: bool) -> (Vec<u8>, Summary) {
    let dir = std::env::temp_dir().join(format!("rw-inspect-{}-{chunk}-{fast_path}-{json_lines}", std::process::id()));
    let scratch = Scratch { path: dir.display().to_string() };
    let mut inspector = if json_lines { Inspector::new(limits, scratch) } else { Inspector::without_json_lines(limits, scratch) };
    inspector.canonical_fast_path = fast_path;
    let mut out = Vec::new();
    for piece in stream.chunks(chunk.max(1)) {
        out.extend(inspector.push(piece));
    }
    out.extend(inspector.finish());
    (out, inspector.summary().clone())
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn a_recorded_stream_is_complete_whatever_the_chunking() {
    for name in ["simple/result.stream", "multi/result.stream", "simple/job.stream", "keepalive/result.stream"] {
        let stream = fixture(name);
        let (whole, summary) = inspect_chunked(&stream, stream.len(), Limits::default());
        assert!(summary.complete, "{name}: {:?}", summary.problem_list);
        assert_eq!(summary.bytes, stream.len() as u64);
        for chunk in [1, 7, 4096] {
            assert_eq!(inspect_chunked(&stream, chunk, Limits::default()).0, whole, "{name} in {chunk}-byte pieces");
        }
    }
}

#[test]
fn kwargs_secrets_are_masked() {
    let kwargs = crate::pyjson::parse(br#"{"passwords": {"p": "x"}, "envvars": {"API_TOKEN": "t", "HOME": "/h"}, "ssh_key": "K"}"#, 10).unwrap();
    let masked = crate::pyjson::encode_to_string(&report::mask(kwargs));
    assert_eq!(masked, r#"{"passwords": {"p": "********"}, "envvars": {"API_TOKEN": "********", "HOME": "/h"}, "ssh_key": "********"}"#);
}

#[test]
fn the_summary_stays_bounded_however_many_hosts_statuses_and_problems() {
    let mut stream = Vec::new();
    for i in 1..=12_000u32 {
        stream.extend(format!("{{\"status\": \"running\", \"runner_ident\": \"x\"}}\n{{\"uuid\": \"u{i}\", \"counter\": {i}, \"event\": \"e{i}\", \"event_data\": {{\"host\": \"h{i}\"}}}}\njunk\n").bytes());
    }
    stream.extend(b"{\"eof\": true}\n");
    let (lines, summary) = inspect_chunked(&stream, 1 << 16, Limits::default());
    assert_eq!(summary.events_by_host.len(), 10_001);
    assert_eq!(summary.events_by_host["(others)"], 2_000);
    assert_eq!(summary.events_by_type.len(), 10_001);
    assert_eq!((summary.statuses.len(), summary.status_count), (1000, 12_000));
    assert_eq!((summary.problem_list.len(), summary.problems), (1000, 12_000));
    // The JSON lines still report every problem.
    let problems = lines.split(|&b| b == b'\n').filter(|l| l.starts_with(b"{\"problem\"")).count();
    assert_eq!(problems, 12_000);
}

/// Canonical event lines skip the full parse; every stream we have, recorded, damaged and
/// hostile, and the same with its event lines respaced or reordered so the fast path turns
/// them down, must read the same either way.
#[test]
fn the_canonical_fast_path_reports_what_the_full_parse_reports() {
    let root = format!("{}/../fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut streams = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        for file in std::fs::read_dir(&dir).into_iter().flatten() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "stream") {
                streams.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    assert!(streams.len() >= 20, "fixture streams: {}", streams.len());
    let mut fast_lines = 0;
    for (name, stream) in streams.clone() {
        // Respaced: `{"a":1}` is valid but not what json.dumps writes.
        let respaced: Vec<u8> = stream.iter().copied().flat_map(|b| if b == b' ' { vec![] } else { vec![b] }).collect();
        streams.push((format!("{name} (no spaces)"), respaced));
    }
    for (name, stream) in &streams {
        let (full, full_summary) = inspect_with(stream, 1 << 16, Limits::default(), false);
        // In any chunking: the fast path finds a line's end itself when the chunk holds it.
        for chunk in [1 << 16, 4096, 7] {
            let (fast, fast_summary) = inspect_with(stream, chunk, Limits::default(), true);
            assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&full), "{name} in {chunk}-byte chunks");
            assert_eq!(fast_summary.text(), full_summary.text(), "{name} in {chunk}-byte chunks");
        }
        // And at a line limit some canonical lines are over.
        let limits = Limits { max_line_bytes: 600, ..Limits::default() };
        assert_eq!(inspect_with(stream, 1 << 16, limits, true).0, inspect_with(stream, 1 << 16, limits, false).0, "{name} at a 600-byte line limit");
        // validate's inspector: the same diagnosis, and no lines but the summary.
        let (quiet, quiet_summary) = inspect_as(stream, 1 << 16, Limits::default(), true, false);
        assert_eq!(quiet_summary.text(), full_summary.text(), "{name}");
        assert_eq!(quiet_summary.problem_list, full_summary.problem_list, "{name}");
        assert!(quiet.starts_with(b"{\"summary\": ") && quiet.iter().filter(|&&b| b == b'\n').count() == 1, "{name}");
        fast_lines += stream.split(|&b| b == b'\n').filter(|l| crate::pyjson::canonical::scan(l, 100, [b"event".as_slice()]).is_some()).count();
    }
    assert!(fast_lines > 100, "the fast path was hardly taken: {fast_lines} canonical lines");
}

/// Lines are read as upstream's reader of the stream reads them (wire::classify): a kwargs
/// line in a result stream is one more event to its processor, a status line in a job
/// stream is skipped by its worker.
#[test]
fn a_line_is_classified_by_the_stream_it_is_in() {
    let frames = |stream: &[u8]| -> Vec<String> {
        let out = inspect_chunked(stream, stream.len(), Limits::default()).0;
        let text = String::from_utf8(out).unwrap();
        text.lines().filter_map(|l| l.split("\"frame\": \"").nth(1)?.split('"').next().map(str::to_string)).collect()
    };
    let result = b"{\"status\": \"running\"}\n{\"kwargs\": {}}\n{\"hello\": 1}\n{\"status\": \"successful\"}\n{\"eof\": true}\n";
    assert_eq!(frames(result), ["status", "event", "event", "status", "eof"]);
    let job = b"{\"kwargs\": {}}\n{\"status\": \"running\"}\n{\"event\": \"e\", \"counter\": 1}\n{\"eof\": true}\n";
    assert_eq!(frames(job), ["kwargs", "other", "other", "eof"]);
    let (_, summary) = inspect_chunked(result, result.len(), Limits::default());
    assert_eq!(summary.kwargs, None, "a result stream's kwargs member is not the job's kwargs");
}

/// Not a check: how fast `validate`'s inspector and `process`'s decoder read a stream, natively,
/// and how many of its lines take the canonical fast path (a profiling aid, under `perf`):
///   RUNNERWIRE_SPEED_FILE=big.stream cargo test --release -p runnerwire-codec -- --ignored --nocapture reading_speed
#[test]
#[ignore]
fn reading_speed() {
    let Ok(path) = std::env::var("RUNNERWIRE_SPEED_FILE") else { return };
    let stream = std::fs::read(&path).unwrap();
    let canonical = stream.split(|&b| b == b'\n').filter(|l| crate::pyjson::canonical::scan(l, 100, [b"event".as_slice()]).is_some()).count();
    let lines = stream.split(|&b| b == b'\n').count();
    println!("{path}: {lines} lines, {canonical} canonical");
    let mb = stream.len() as f64 / 1e6;
    for round in 0..3 {
        let started = std::time::Instant::now();
        let (_, summary) = inspect_as(&stream, 1 << 16, Limits::default(), true, false);
        let inspect = started.elapsed().as_secs_f64();
        let started = std::time::Instant::now();
        let mut decoder = crate::wire::decoder::Decoder::with_raw_events(Limits::default());
        let mut frames = 0;
        for piece in stream.chunks(1 << 16) {
            decoder.push(piece);
            while let Ok(Some(_)) = decoder.next() {
                frames += 1;
            }
        }
        let decode = started.elapsed().as_secs_f64();
        println!("round {round}: inspector {:.0} MB/s ({} problems), decoder {:.0} MB/s ({frames} frames)", mb / inspect, summary.problems, mb / decode);
    }
}

/// The counter's value, read without `str::parse`, as `str::parse` would read it.
#[test]
fn counters_read_as_str_parse_reads_them() {
    let by_parse = |c: &[u8]| Some(c).filter(|c| c.iter().all(u8::is_ascii_digit)).and_then(|c| std::str::from_utf8(c).ok()?.parse::<u64>().ok());
    for text in [&b""[..], b"0", b"7", b"007", b"12345", b"18446744073709551615", b"18446744073709551616", b"99999999999999999999", b"-1", b"+1", b"1.0", b"1e3", b"\"1\"", b"12a"] {
        assert_eq!(decimal_u64(text), by_parse(text), "{}", String::from_utf8_lossy(text));
    }
}
