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
