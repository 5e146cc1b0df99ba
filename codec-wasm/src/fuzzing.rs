//! Fuzz harnesses, shared by the cargo-fuzz targets in `fuzz/` and the replay test in
//! `src/fuzz_replays.rs` (the unit tests). Each one panics only when a property of the codec is broken.
// Native only: the unpack harness needs the real filesystem, and none of this belongs in
// the component.
#![cfg(all(unix, not(target_arch = "wasm32")))]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::wire::decoder::{Decoder, Frame, StreamKind};
use crate::error::StreamError;
use crate::fsys::NativeFs;
use crate::limits::Limits;
use crate::pyjson::{self, Value};

/// A frame reduced to what chunking must not change: values as their encoding (so NaN
/// compares equal), archive data merged (chunking decides where it is split).
#[derive(Debug, PartialEq)]
enum Event {
    Line(u64, &'static str, Vec<u8>),
    Start(u64, u64),
    Data(Vec<u8>),
    End(u64),
}

/// Decoding is chunking-invariant: one push and many small pushes give the same frames and
/// the same (sticky) error. Byte 0 picks the stream kind and, with byte 1, the chunk sizes.
pub fn frame_decoder(data: &[u8]) {
    let [b0, b1, stream @ ..] = data else { return };
    let kind = if b0 & 1 == 0 { StreamKind::Job } else { StreamKind::Result };
    // Small limits, so the fuzzer reaches the limit paths.
    let limits = Limits { max_line_bytes: 4096, max_archive_bytes: 1 << 20, max_json_depth: 64, ..Limits::default() };

    let whole = decode(kind, limits, stream, &mut std::iter::once(stream.len()), false);
    let mut seed = u32::from(*b0 >> 1) | 1;
    let mut sizes = std::iter::from_fn(|| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        Some(1 + seed as usize % (usize::from(*b1) + 1)) // b1 == 0: one byte at a time
    });
    let chunked = decode(kind, limits, stream, &mut sizes, false);
    assert_eq!(whole, chunked, "chunking changed the decoded frames");
    if kind == StreamKind::Result {
        // The fast path for canonical event lines changes nothing but the work done.
        let raw = decode(kind, limits, stream, &mut std::iter::once(stream.len()), true);
        assert_eq!(whole, raw, "raw events differ from parsed and re-encoded ones");
    }
}

fn decode(
    kind: StreamKind,
    limits: Limits,
    stream: &[u8],
    sizes: &mut dyn Iterator<Item = usize>,
    raw_events: bool,
) -> (Vec<Event>, Option<StreamError>) {
    let len = stream.len() as u64;
    // Every frame but ArchiveEnd consumes input, and each ArchiveEnd follows a Start.
    let max_frames = 2 * stream.len() + 2;
    let mut decoder = if raw_events { Decoder::with_raw_events(limits) } else { Decoder::new(kind, limits) };
    let mut events = Vec::new();
    let mut frames = 0;
    let mut archive_left = None;
    let mut rest = stream;
    let mut error = None;
    while error.is_none() {
        let ended = rest.is_empty();
        if ended {
            decoder.finish();
        } else {
            let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
            decoder.push(&rest[..n]);
            rest = &rest[n..];
        }
        loop {
            let done = decoder.saw_eof();
            let frame = match decoder.next() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    assert!(e.offset <= len, "error offset {} past the input's {len} bytes: {e}", e.offset);
                    assert_eq!(decoder.next().err().as_ref(), Some(&e), "errors are sticky");
                    error = Some(e);
                    break;
                }
            };
            frames += 1;
            assert!(frames <= max_frames, "more frames than the input can hold");
            assert!(!done, "a frame after eof: {frame:?}");
            match frame {
                Frame::Line { offset, kind, value } => {
                    assert!(offset < len && archive_left.is_none());
                    let mut json = Vec::new();
                    pyjson::encode(&value, &mut json);
                    events.push(Event::Line(offset, kind.name(), json));
                }
                Frame::RawEvent(event) => {
                    assert!(event.offset < len && archive_left.is_none());
                    events.push(Event::Line(event.offset, "event", event.json));
                }
                Frame::ArchiveStart { offset, size } => {
                    assert!(offset < len && size <= limits.max_archive_bytes && archive_left.is_none());
                    archive_left = Some(size);
                    events.push(Event::Start(offset, size));
                }
                Frame::ArchiveData(bytes) => {
                    let left = archive_left.as_mut().expect("archive data outside an archive");
                    assert!(!bytes.is_empty() && bytes.len() as u64 <= *left, "more archive data than announced");
                    *left -= bytes.len() as u64;
                    match events.last_mut() {
                        Some(Event::Data(all)) => all.extend_from_slice(&bytes),
                        _ => events.push(Event::Data(bytes)),
                    }
                }
                Frame::ArchiveEnd { offset } => {
                    assert_eq!(archive_left.take(), Some(0), "archive ended before its announced size");
                    assert!(offset <= len);
                    events.push(Event::End(offset));
                }
            }
        }
        if ended {
            break;
        }
    }
    // Once the input has ended, "no frame" can only mean the stream is complete.
    assert!(error.is_some() || decoder.saw_eof(), "input ended without eof, yet no error");
    (events, error)
}

/// Re-encoding is idempotent: what `encode`/`encode_unicode` write parses back and
/// encodes to the same bytes.
pub fn json_reencode(data: &[u8]) {
    const DEPTH: usize = 200;
    let Ok(value) = pyjson::parse(data, DEPTH) else { return };
    let encoders: [(&str, fn(&Value, &mut Vec<u8>)); 2] =
        [("encode", pyjson::encode), ("encode_unicode", pyjson::encode_unicode)];
    for (name, encode) in encoders {
        let once = run(encode, &value);
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let reparsed = pyjson::parse(&once, DEPTH)
            .unwrap_or_else(|e| panic!("{name} wrote JSON that does not parse ({e}): {:?}", text(&once)));
        let twice = run(encode, &reparsed);
        // `\udXXX` escapes of a high then low surrogate (two code points) read back as one
        // code point, as in Python, which may also merge keys; stable after that one step.
        if name == "encode" && has_surrogate_pair(&value) {
            let thrice = run(encode, &pyjson::parse(&twice, DEPTH).expect("re-encoded JSON parses"));
            assert_eq!(twice, thrice, "{name} is not stable after a round trip");
        } else {
            assert!(once == twice, "{name} differs after a round trip:\n{:?}\n{:?}", text(&once), text(&twice));
        }
    }
}

fn run(encode: fn(&Value, &mut Vec<u8>), value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(value, &mut out);
    out
}

fn has_surrogate_pair(value: &Value) -> bool {
    let pair = |s: &pyjson::PyStr| {
        let mut prev = 0;
        s.code_points().any(|c| std::mem::replace(&mut prev, c) & 0xFC00 == 0xD800 && c & 0xFC00 == 0xDC00)
    };
    match value {
        Value::Str(s) => pair(s),
        Value::Array(items) => items.iter().any(has_surrogate_pair),
        Value::Object(members) => members.iter().any(|(k, v)| pair(k) || has_surrogate_pair(v)),
        _ => false,
    }
}

/// Unpacking never touches anything outside its target, whatever the zip. `outer` is an
/// empty directory; it holds `root/` (the zip and `root/target/`) and a `victim/` sibling,
/// and is left empty again.
pub fn unpack(data: &[u8], outer: &Path) {
    let root = outer.join("root");
    let target = root.join("target");
    let victim = outer.join("victim");
    let zip = root.join("in.zip");
    fs::create_dir(&root).unwrap();
    fs::create_dir(&target).unwrap();
    fs::create_dir(&victim).unwrap();
    fs::write(victim.join("file"), b"precious").unwrap();
    fs::write(&zip, data).unwrap();
    let before = [snapshot(outer), snapshot(&root), snapshot(&victim)];

    let limits = Limits { max_entries: 64, max_unpacked_bytes: 1 << 20, ..Limits::default() };
    let fs_ = NativeFs { utc_offset: 0 };
    let result = crate::archive::unpack::unpack(zip.to_str().unwrap(), target.to_str().unwrap(), &fs_, &limits, Some("rc"));

    if let Ok(done) = &result {
        assert!(done.entries <= limits.max_entries && done.bytes_written <= limits.max_unpacked_bytes, "{done:?}");
        assert!(done.captured.as_ref().is_none_or(|c| c.len() <= 64));
    }
    let after = [snapshot(outer), snapshot(&root), snapshot(&victim)];
    assert_eq!(before, after, "unpack changed something outside its target (result: {result:?})");
    assert_eq!(fs::read(&zip).unwrap(), data, "unpack changed the zip");
    assert!(fs::symlink_metadata(&target).unwrap().is_dir(), "the target is no longer a directory");

    // A zip may make directories unreadable; restore access so they can be removed.
    open_up(&target);
    fs::remove_dir_all(&root).unwrap();
    fs::remove_dir_all(&victim).unwrap();
}

/// The directory's own metadata and every child's (not followed, not descended into, except
/// plain-file contents): enough to see anything created, removed, replaced or written.
type Snapshot = (u32, i64, i64, Vec<(String, u32, u64, i64, i64, Vec<u8>)>);

fn snapshot(dir: &Path) -> Snapshot {
    let m = fs::symlink_metadata(dir).unwrap();
    let mut children: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let c = fs::symlink_metadata(&path).unwrap();
            // The target's content is the unpacker's business; everything else is compared.
            let content = if c.is_file() { fs::read(&path).unwrap() } else { Vec::new() };
            let times = if path.ends_with("target") { (0, 0) } else { (c.mtime(), c.mtime_nsec()) };
            (path.file_name().unwrap().to_string_lossy().into_owned(), c.mode(), c.ino(), times.0, times.1, content)
        })
        .collect();
    children.sort();
    (m.mode(), m.mtime(), m.mtime_nsec(), children)
}

fn open_up(dir: &Path) {
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            open_up(&e.path());
        }
    }
}
