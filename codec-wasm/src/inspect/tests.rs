use super::*;

fn inspect_chunked(stream: &[u8], chunk: usize, limits: Limits) -> (Vec<u8>, Summary) {
    let dir = std::env::temp_dir().join(format!("rw-inspect-{}-{chunk}", std::process::id()));
    let mut inspector = Inspector::new(limits, Scratch { path: dir.display().to_string() });
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
