use super::*;
use crate::error::{ErrorKind, Problem};

fn fixture_streams() -> Vec<(String, StreamKind, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&root).expect("fixtures dir") {
        let dir = entry.unwrap().path();
        for (file, kind) in [("job.stream", StreamKind::Job), ("result.stream", StreamKind::Result)] {
            if let Ok(bytes) = std::fs::read(dir.join(file)) {
                let name = format!("{}/{file}", dir.file_name().unwrap().to_string_lossy());
                out.push((name, kind, bytes));
            }
        }
    }
    assert!(out.len() >= 10, "expected the recorded fixtures, found {}", out.len());
    out
}

/// Decodes with the given chunk sizes, merging archive data so chunkings compare equal.
fn decode(kind: StreamKind, limits: Limits, bytes: &[u8], chunks: &mut dyn FnMut() -> usize) -> (Vec<Frame>, Option<StreamError>) {
    let mut d = Decoder::new(kind, limits);
    let mut frames: Vec<Frame> = Vec::new();
    let mut rest = bytes;
    let drain = |d: &mut Decoder, frames: &mut Vec<Frame>| -> Option<StreamError> {
        loop {
            match d.next() {
                Ok(Some(Frame::ArchiveData(data))) => match frames.last_mut() {
                    Some(Frame::ArchiveData(prev)) => prev.extend_from_slice(&data),
                    _ => frames.push(Frame::ArchiveData(data)),
                },
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => return None,
                Err(e) => return Some(e),
            }
        }
    };
    while !rest.is_empty() {
        let n = chunks().clamp(1, rest.len());
        d.push(&rest[..n]);
        rest = &rest[n..];
        if let Some(e) = drain(&mut d, &mut frames) {
            return (frames, Some(e));
        }
    }
    d.finish();
    let err = drain(&mut d, &mut frames);
    (frames, err)
}

/// Frames as text, lines re-encoded with the Python-exact encoder.
fn comparable((frames, err): (Vec<Frame>, Option<StreamError>)) -> (Vec<String>, Option<StreamError>) {
    let text = frames
        .iter()
        .map(|f| match f {
            Frame::Line { offset, kind, value } => {
                let mut json = Vec::new();
                crate::pyjson::encode(value, &mut json);
                format!("@{offset} {kind:?} {}", String::from_utf8_lossy(&json))
            }
            other => format!("{other:?}"),
        })
        .collect();
    (text, err)
}

fn one_shot(kind: StreamKind, bytes: &[u8]) -> (Vec<Frame>, Option<StreamError>) {
    decode(kind, Limits::default(), bytes, &mut || usize::MAX)
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn every_fixture_decodes_completely() {
    for (name, kind, bytes) in fixture_streams() {
        let (frames, err) = one_shot(kind, &bytes);
        assert_eq!(err, None, "{name}");
        match frames.last() {
            Some(Frame::Line { kind: LineKind::Eof, .. }) => {}
            other => panic!("{name}: last frame {other:?}"),
        }
    }
}

#[test]
fn any_chunking_gives_the_same_frames() {
    for (name, kind, bytes) in fixture_streams() {
        // Compared as re-encoded text: NaN != NaN as a value.
        let expected = comparable(one_shot(kind, &bytes));
        for seed in 1..=8u64 {
            let mut rng = XorShift(seed * 0x9e37_79b9_7f4a_7c15);
            let max = [1, 3, 17, 4096][seed as usize % 4];
            let got = comparable(decode(kind, Limits::default(), &bytes, &mut || 1 + (rng.next() % max) as usize));
            if got != expected {
                let i = got.0.iter().zip(&expected.0).position(|(a, b)| a != b).unwrap_or(got.0.len().min(expected.0.len()));
                panic!("{name} seed {seed}: first difference at frame {i} of {}/{}: {:?} vs {:?}; errors {:?} vs {:?}",
                    got.0.len(), expected.0.len(), got.0.get(i), expected.0.get(i), got.1, expected.1);
            }
        }
    }
}

#[test]
fn every_truncation_is_reported_as_truncated_or_malformed_never_complete() {
    let (_, _, bytes) = fixture_streams().into_iter().find(|(n, _, _)| n == "simple/result.stream").unwrap();
    let full = one_shot(StreamKind::Result, &bytes).0;
    // Cutting only the final newline leaves a complete stream (readline semantics).
    for cut in 0..bytes.len() - 1 {
        let (frames, err) = one_shot(StreamKind::Result, &bytes[..cut]);
        let err = err.unwrap_or_else(|| panic!("cut at {cut} decoded without error"));
        assert!(matches!(err.kind, ErrorKind::Truncated | ErrorKind::Malformed), "cut {cut}: {err}");
        assert!(err.offset <= cut as u64, "cut {cut}: offset {} past the end", err.offset);
        assert!(frames.len() <= full.len());
    }
}

#[test]
fn last_line_without_newline_counts_like_readline() {
    let (frames, err) = one_shot(StreamKind::Result, b"{\"status\": \"running\"}\n{\"eof\": true}");
    assert_eq!(err, None);
    assert_eq!(frames.len(), 2);
}

#[test]
fn bytes_after_eof_are_ignored() {
    let (frames, err) = one_shot(StreamKind::Result, b"{\"eof\": true}\nnot json at all\n");
    assert_eq!(err, None);
    assert_eq!(frames.len(), 1);
}

#[test]
fn keepalive_and_events_are_told_apart_like_upstream() {
    let stream = b"{\"event\": \"keepalive\", \"counter\": 0, \"uuid\": 0}\n{\"status\": \"x\", \"event\": \"keepalive\"}\n{\"uuid\": \"u\", \"counter\": 1}\n{\"eof\": true}\n";
    let kinds: Vec<LineKind> = one_shot(StreamKind::Result, stream)
        .0
        .into_iter()
        .map(|f| match f {
            Frame::Line { kind, .. } => kind,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, [LineKind::Keepalive, LineKind::Status, LineKind::Event, LineKind::Eof]);
}

#[test]
fn job_stream_lines_are_classified_with_unknown_ones_kept_as_other() {
    let stream = b"{\"kwargs\": {}}\n{\"something\": 1}\n{\"zipfile\": 0}\n{\"eof\": true}\n";
    let (frames, err) = one_shot(StreamKind::Job, stream);
    assert_eq!(err, None);
    assert!(matches!(frames[0], Frame::Line { kind: LineKind::Kwargs, offset: 0, .. }));
    assert!(matches!(frames[1], Frame::Line { kind: LineKind::Other, offset: 15, .. }));
    assert!(matches!(frames[2], Frame::ArchiveStart { size: 0, offset: 32 }));
    assert!(matches!(frames[3], Frame::ArchiveEnd { offset: 47 }));
}

fn error_of(kind: StreamKind, stream: &[u8]) -> StreamError {
    one_shot(kind, stream).1.expect("an error")
}

#[test]
fn errors_name_the_problem_the_byte_offset_and_the_line() {
    let said = |stream: &[u8]| error_of(StreamKind::Result, stream).to_string();
    assert_eq!(
        said(b"{\"status\": \"running\"}\n\n{\"eof\": true}\n"),
        "foreign-text at byte 22, line 2: a blank line where a JSON frame was expected"
    );
    assert_eq!(
        said(b"{\"status\": \"running\"}\n[1, 2]\n"),
        "foreign-text at byte 22, line 2: JSON that is not a frame (not an object): \"[1, 2]\""
    );
    assert_eq!(said(b"Traceback (most recent call last):\n"), "foreign-text at byte 0, line 1: text that is not JSON: \"Traceback (most recent call last):\"");
    // Bad JSON is judged with the next line, as the inspector judges it: no split line here.
    assert!(said(b"{\"a\": tru}\n{\"eof\": true}\n").starts_with("bad-json at byte 0, line 1: invalid JSON line ("));
    assert!(said(b"{\"a\": tru}\n").starts_with("bad-json at byte 0, line 1: "));
    assert_eq!(
        said(b"{\"status\": \"a\nb\"}\n{\"eof\": true}\n"),
        "split-line at byte 13, line 1: a newline at byte 13 splits one JSON line in two (lines 1 and 2); joined, it is a valid frame"
    );
    assert_eq!(
        said(b"{\"status\": \"running\"}{\"eof\": true}\n"),
        "glued-lines at byte 21, line 1: two JSON frames on one line: the newline before byte 21 is missing"
    );
    assert_eq!(said(b"{\"status\": \"running\"}\n{\"eof\": tr"), "truncated-line at byte 22, line 2: the stream ends inside this line: \"{\\\"eof\\\": tr\"");

    let e = error_of(StreamKind::Result, b"{\"zipfile\": -1}\n");
    assert_eq!((e.problem, e.kind), (Problem::BadArchive, ErrorKind::Malformed));
    assert!(e.message.contains("not a byte count"), "{e}");
    let e = error_of(StreamKind::Result, b"{\"zipfile\": \"12\"}\n");
    assert!(e.message.contains("not a byte count"), "{e}");

    let e = error_of(StreamKind::Result, b"{\"zipfile\": 6}\naGVs*G8h{\"eof\": true}\n");
    assert_eq!((e.problem, e.offset, e.line), (Problem::BadArchive, 19, Some(1)));
    let e = error_of(StreamKind::Result, b"{\"zipfile\": 6}\naGVs{\"eof\": true}\n");
    assert_eq!((e.problem, e.offset, e.line), (Problem::TruncatedArchive, 19, Some(1)));
    assert_eq!(e.message, "the zipfile's base64 stops 4 characters short of its 6 bytes: a frame starts here");

    let e = error_of(StreamKind::Result, b"{\"status\": \"x\"}\n{\"zipfile\": 6}\naGVsbG");
    assert_eq!((e.problem, e.kind, e.offset, e.line), (Problem::TruncatedArchive, ErrorKind::Truncated, 16, Some(2)));
    assert_eq!(e.message, "the stream ends 2 base64 characters short of the 6-byte zipfile");

    let e = error_of(StreamKind::Result, b"{\"status\": \"running\"}\n");
    assert_eq!(e.to_string(), "missing-eof at byte 22, line 2: the stream ends without an eof frame");
    assert_eq!(e.kind, ErrorKind::Truncated);
}

#[test]
fn a_line_that_may_be_split_waits_for_the_next_in_any_chunking() {
    let stream = b"{\"status\": \"a\nb\"}\n{\"eof\": true}\n";
    let whole = one_shot(StreamKind::Result, stream).1.expect("an error");
    for step in 1..stream.len() {
        let (_, err) = decode(StreamKind::Result, Limits::default(), stream, &mut || step);
        assert_eq!(err.as_ref(), Some(&whole), "chunks of {step}");
    }
}

#[test]
fn the_error_quotes_the_start_of_its_line() {
    let line = format!("not json {}\n", "x".repeat(5000));
    let e = error_of(StreamKind::Result, line.as_bytes());
    assert_eq!(e.text.as_deref(), Some(&line.as_bytes()[..crate::error::MAX_ERROR_TEXT]));
}

#[test]
fn errors_are_sticky() {
    let mut d = Decoder::new(StreamKind::Result, Limits::default());
    d.push(b"nope\n{\"eof\": true}\n");
    let first = d.next().unwrap_err();
    assert_eq!(d.next().unwrap_err(), first);
}

#[test]
fn line_limit_is_obeyed_and_enforced() {
    let line = b"{\"status\": \"0123456789\"}\n{\"eof\": true}\n";
    let limits = Limits { max_line_bytes: 25, ..Limits::default() };
    let (_, err) = decode(StreamKind::Result, limits, line, &mut || 3);
    assert_eq!(err, None);
    let limits = Limits { max_line_bytes: 24, ..Limits::default() };
    for step in [1, 7, 100] {
        let (_, err) = decode(StreamKind::Result, limits, line, &mut || step);
        let err = err.expect("limit error");
        assert_eq!((err.problem, err.kind, err.offset, err.line), (Problem::LineTooLong, ErrorKind::Limit, 0, Some(1)), "step {step}");
    }
}

#[test]
fn archive_limit_is_obeyed_and_enforced() {
    let stream = b"{\"zipfile\": 3}\nYWJj{\"eof\": true}\n";
    let ok = Limits { max_archive_bytes: 3, ..Limits::default() };
    assert_eq!(decode(StreamKind::Result, ok, stream, &mut || 5).1, None);
    let tight = Limits { max_archive_bytes: 2, ..Limits::default() };
    let err = decode(StreamKind::Result, tight, stream, &mut || 5).1.unwrap();
    assert_eq!((err.problem, err.kind), (Problem::ArchiveTooLarge, ErrorKind::Limit));
}

#[test]
fn json_depth_limit_is_obeyed_and_enforced() {
    let nested = |depth: usize| format!("{{\"status\": {}{}}}\n{{\"eof\": true}}\n", "[".repeat(depth), "]".repeat(depth));
    let limits = Limits { max_json_depth: 10, ..Limits::default() };
    assert_eq!(decode(StreamKind::Result, limits, nested(9).as_bytes(), &mut || 64).1, None);
    let err = decode(StreamKind::Result, limits, nested(10).as_bytes(), &mut || 64).1.unwrap();
    assert_eq!((err.kind, err.offset), (ErrorKind::Limit, 20));
    assert!(err.message.contains("max JSON depth"), "{err}");
}

#[test]
fn a_line_waiting_for_its_next_is_not_parsed_again_as_bytes_trickle_in() {
    // A long line that starts like a frame and does not parse, then its next line a byte at
    // a time: parsed again on every byte, this took minutes; judged once, milliseconds.
    let mut stream = b"{\"stdout\": \"".to_vec();
    stream.extend(std::iter::repeat_n(b'x', 512 << 10));
    stream.extend_from_slice(b"\n");
    let next = "y".repeat(40_000);
    let started = std::time::Instant::now();
    let mut d = Decoder::new(StreamKind::Result, Limits::default());
    d.push(&stream);
    assert_eq!(d.next(), Ok(None));
    for b in next.bytes() {
        d.push(&[b]);
        assert_eq!(d.next(), Ok(None));
    }
    d.push(b"\"}\n");
    let e = d.next().unwrap_err();
    assert_eq!((e.problem, e.offset), (Problem::SplitLine, (stream.len() - 1) as u64));
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
}
