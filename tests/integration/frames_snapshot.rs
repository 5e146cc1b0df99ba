//! Snapshots of every fixture stream as the component decodes it, through the WIT
//! `frames` interface, with run-specific values (uuids, times, pids, temp paths) redacted.

use runnerwire::sandbox::{wit_frames, wit_types, Budget, Runtime};

fn decode(runtime: &Runtime, kind: wit_types::StreamKind, stream: &[u8]) -> String {
    let mut instance = runtime.instantiate(&[], Budget::default()).unwrap();
    let frames = instance.codec.runnerwire_codec_frames().decoder();
    let types = instance.codec.runnerwire_codec_types();
    let limits = instance.store.call(|store| types.call_default_limits(store)).unwrap();
    let decoder = instance.store.call(|store| frames.call_constructor(store, kind, limits)).unwrap();
    instance.store.call(|store| frames.call_push(store, decoder, stream)).unwrap();
    instance.store.call(|store| frames.call_finish(store, decoder)).unwrap();
    let mut out = String::new();
    let mut archive_bytes = 0usize;
    loop {
        match instance.store.call(|store| frames.call_next(store, decoder)).unwrap() {
            Ok(Some(wit_frames::Frame::Line(line))) => {
                out.push_str(&format!("@{} {} {}\n", line.offset, format!("{:?}", line.kind).trim_start_matches("LineKind::").to_lowercase(), line.json));
            }
            Ok(Some(wit_frames::Frame::ArchiveStart((offset, size)))) => {
                out.push_str(&format!("@{offset} archive-start size={size}\n"));
                archive_bytes = 0;
            }
            Ok(Some(wit_frames::Frame::ArchiveData(data))) => archive_bytes += data.len(),
            Ok(Some(wit_frames::Frame::ArchiveEnd(offset))) => {
                out.push_str(&format!("@{offset} archive-end decoded={archive_bytes}\n"));
            }
            Ok(None) => break,
            Err(e) => {
                // Errors go into the snapshot instead of failing the test.
                out.push_str(&format!("error {:?} at {}: {}\n", e.kind, e.offset, e.message));
                break;
            }
        }
    }
    out
}

#[test]
fn every_fixture_stream_decodes_to_its_snapshot() {
    let runtime = Runtime::new().unwrap();
    let mut settings = insta::Settings::clone_current();
    // Values that change every recording; the patterns only match values of that shape.
    for (pattern, replacement) in [
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[uuid]"),
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+", "[timestamp]"),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+", "[datetime]"),
        (r#""(pid|ansible_pid)": \d+"#, r#""$1": [pid]"#),
        (r#""(duration|delta)": "?[0-9.:]+"?"#, r#""$1": [duration]"#),
        (r"/tmp/[A-Za-z0-9._/-]+", "[tmp]"),
        (r"\d+\.\d+ seconds", "[n] seconds"),
        (r"\d+:\d{2}:\d{2}\.\d{6}", "[delta]"),
    ] {
        settings.add_filter(pattern, replacement);
    }
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::glob!("../../fixtures", "*/{job,result}.stream", |path| {
            let kind = if path.file_name().unwrap() == "job.stream" {
                wit_types::StreamKind::JobStream
            } else {
                wit_types::StreamKind::ResultStream
            };
            let stream = std::fs::read(path).unwrap();
            insta::assert_snapshot!(decode(&runtime, kind, &stream));
        });
    });
}
