//! Turning the job's terminal output into events, as upstream's `OutputEventFilter` does.
//!
//! The callback plugin wraps each event's display text in markers: `\x1b[K`, then base64 of
//! the event's JSON in chunks each followed by `\x1b[<n>D`, then `\x1b[K`; an end marker
//! carries `{}`. Text between a begin marker and the next marker is that event's `stdout`;
//! text outside markers becomes one `verbose` event per line. Each event gets a `counter`,
//! `start_line`/`end_line` (newlines seen so far) and `runner_ident`; the marker's JSON is
//! merged last, in its own key order, as upstream merges its partial-event files.

use crate::pyjson::{self, PyStr, Value};

const MARK: &[u8] = b"\x1b[K";

/// Source of fresh event uuids (uuid4 format), seeded by the host: the core keeps no
/// randomness of its own, so runs are reproducible in tests.
pub struct UuidSource(u64);

impl UuidSource {
    pub fn new(seed: u64) -> Self {
        UuidSource(seed | 1)
    }
    fn next_u64(&mut self) -> u64 {
        // xorshift64*: plenty for unique ids in one job.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn uuid4(&mut self) -> String {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
    }
}

/// What one call produced: result-stream lines and the text for the `stdout` artifact.
#[derive(Default, Debug)]
pub struct Emitted {
    /// Event lines, each `json + "\n"`, in order.
    pub events: Vec<u8>,
    /// Display text as upstream's runner writes it to `artifacts/<ident>/stdout`.
    pub stdout: Vec<u8>,
    pub count: u64,
}

/// What upstream's runner writes to `artifacts/<ident>/stdout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdoutArtifact {
    /// Each event's display text.
    Text,
    /// Each event's JSON (json_mode); verbose lines stay text, as upstream writes them.
    Json,
    /// Nothing (suppress_output_file).
    None,
}

pub struct OutputFilter {
    ident: String,
    stdout_artifact: StdoutArtifact,
    uuids: UuidSource,
    buf: Vec<u8>,
    counter: u64,
    start_line: u64,
    /// The marker dict of the event whose text is being collected.
    current: Option<Value>,
    max_line_bytes: usize,
    /// Where the next marker search starts: bytes before it hold no marker start, so each
    /// byte of a long event text is scanned once, not once per read.
    scan_from: usize,
}

impl OutputFilter {
    pub fn new(ident: &str, uuid_seed: u64, max_line_bytes: usize, stdout_artifact: StdoutArtifact) -> Self {
        OutputFilter {
            ident: ident.to_string(),
            stdout_artifact,
            uuids: UuidSource::new(uuid_seed),
            buf: Vec::new(),
            counter: 0,
            start_line: 0,
            current: None,
            max_line_bytes,
            scan_from: 0,
        }
    }

    /// Feeds terminal output; `now` is the ISO time for events that carry none.
    pub fn feed(&mut self, data: &[u8], now: &str, out: &mut Emitted) {
        self.buf.extend_from_slice(data);
        // Without a new newline or a marker taken out, no new complete line can exist: skip
        // the search, which would otherwise rescan a long unfinished line on every read.
        let mut lines_may_end = data.contains(&b'\n');
        loop {
            match find_marker(&self.buf, self.scan_from) {
                Scan::Found { start, end, payload } => {
                    let before = self.buf[..start].to_vec();
                    let marker = decode_marker(&payload);
                    self.buf.drain(..end);
                    self.scan_from = 0;
                    lines_may_end = true;
                    self.emit(&before, marker, now, out);
                }
                Scan::ResumeAt(at) => {
                    self.scan_from = at;
                    break;
                }
            }
        }
        if self.current.is_none() && lines_may_end {
            // Complete lines outside any event are verbose output, one event per line.
            let (complete, _) = split_complete_lines(&self.buf);
            if complete > 0 {
                let lines: Vec<u8> = self.buf.drain(..complete).collect();
                self.scan_from = self.scan_from.saturating_sub(complete);
                self.emit(&lines, None, now, out);
            }
        }
        if self.buf.len() > self.max_line_bytes {
            // An event's text, a line or a marker that never ends is bounded like a line:
            // what is held so far is emitted as text.
            let text = std::mem::take(&mut self.buf);
            self.scan_from = 0;
            self.emit(&text, None, now, out);
        }
    }

    /// The output has ended: whatever is buffered becomes the last event(s). As upstream's
    /// `close()`, an event whose end marker never came is only emitted with some text.
    pub fn finish(&mut self, now: &str, out: &mut Emitted) {
        let rest = std::mem::take(&mut self.buf);
        self.scan_from = 0;
        if !rest.is_empty() {
            // Upstream's close() emits these events but no longer writes the stdout artifact.
            let written = out.stdout.len();
            self.emit(&rest, None, now, out);
            out.stdout.truncate(written);
        }
    }

    /// Upstream's `_emit_event`: the text goes to the current event, or becomes verbose
    /// lines; then `next` (a begin marker) becomes the current event.
    fn emit(&mut self, text: &[u8], next: Option<Value>, now: &str, out: &mut Emitted) {
        let text = String::from_utf8_lossy(text);
        if let Some(marker) = self.current.take() {
            self.write_event(&text, Some(&marker), now, out);
        } else if !text.is_empty() {
            for line in python_splitlines(&text) {
                self.write_event(line, None, now, out);
            }
        }
        self.current = next.filter(|m| m.get("uuid").is_some_and(Value::is_truthy));
    }

    fn write_event(&mut self, chunk: &str, marker: Option<&Value>, now: &str, out: &mut Emitted) {
        self.counter += 1;
        let n_lines = chunk.matches('\n').count() as u64;
        let stdout = chunk.trim_end_matches(['\n', '\r']);
        let s = PyStr::from_str;
        let int = |n: u64| Value::Int(n.to_string().into());
        let mut event: Vec<(PyStr, Value)> = Vec::with_capacity(12);
        match marker {
            Some(m) => event.push((s("uuid"), m.get("uuid").cloned().unwrap_or(Value::Null))),
            None => {
                event.push((s("event"), Value::Str(s("verbose"))));
                event.push((s("uuid"), Value::Str(s(&self.uuids.uuid4()))));
            }
        }
        event.push((s("counter"), int(self.counter)));
        event.push((s("stdout"), Value::Str(s(stdout))));
        event.push((s("start_line"), int(self.start_line)));
        event.push((s("end_line"), int(self.start_line + n_lines)));
        event.push((s("runner_ident"), Value::Str(s(&self.ident))));
        self.start_line += n_lines;
        if let Some(Value::Object(members)) = marker {
            // dict.update: existing keys keep their place, new ones are appended.
            for (k, v) in members {
                match event.iter_mut().find(|(ek, _)| ek == k) {
                    Some(slot) => slot.1 = v.clone(),
                    None => event.push((k.clone(), v.clone())),
                }
            }
        }
        if !event.iter().any(|(k, _)| k.as_wtf8() == b"created") {
            event.push((s("created"), Value::Str(s(now))));
        }
        let line_start = out.events.len();
        pyjson::encode(&Value::Object(event), &mut out.events);
        out.events.push(b'\n');
        out.count += 1;
        // Upstream writes a line of verbose output as it came (line ending included), and an
        // event's text, or in json_mode its JSON, with a newline when there is any.
        match (self.stdout_artifact, marker) {
            (StdoutArtifact::None, _) => {}
            (_, None) => out.stdout.extend_from_slice(chunk.as_bytes()),
            (StdoutArtifact::Text, Some(_)) => {
                if !stdout.is_empty() && stdout != "{}" {
                    out.stdout.extend_from_slice(stdout.as_bytes());
                    out.stdout.push(b'\n');
                }
            }
            (StdoutArtifact::Json, Some(_)) => {
                let json = out.events[line_start..].to_vec();
                out.stdout.extend_from_slice(&json);
            }
        }
    }
}

enum Scan {
    /// A complete marker: where it starts and ends, and its base64 without the `\x1b[<n>D`s.
    Found { start: usize, end: usize, payload: Vec<u8> },
    /// No complete marker; none can start before this index (a marker still arriving starts
    /// here, or the buffer's tail might begin one).
    ResumeAt(usize),
}

fn find_marker(buf: &[u8], from: usize) -> Scan {
    let mut from = from.min(buf.len());
    while let Some(i) = find(&buf[from..], MARK) {
        let start = from + i;
        match parse_marker_body(buf, start + MARK.len()) {
            Body::Complete { end, payload } => return Scan::Found { start, end, payload },
            Body::Incomplete => return Scan::ResumeAt(start),
            Body::NotAMarker => from = start + 1,
        }
    }
    // The last bytes may be the first of a MARK.
    Scan::ResumeAt(buf.len().saturating_sub(MARK.len() - 1).max(from))
}

enum Body {
    Complete { end: usize, payload: Vec<u8> },
    /// The buffer ends inside what may still become a marker.
    Incomplete,
    NotAMarker,
}

/// `((?:[A-Za-z0-9+/=]+\x1b\[\d+D)+)\x1b\[K` at `at`.
fn parse_marker_body(buf: &[u8], mut at: usize) -> Body {
    let mut payload = Vec::new();
    let mut chunks = 0;
    loop {
        let run = buf[at..].iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')).count();
        if at + run == buf.len() {
            return Body::Incomplete;
        }
        if run == 0 {
            break;
        }
        let tail = &buf[at + run..];
        if b"\x1b[".starts_with(&tail[..tail.len().min(2)]) && tail.len() < 2 {
            return Body::Incomplete;
        }
        let Some(after_csi) = tail.strip_prefix(b"\x1b[") else { return Body::NotAMarker };
        let digits = after_csi.iter().take_while(|b| b.is_ascii_digit()).count();
        match after_csi.get(digits) {
            None => return Body::Incomplete,
            Some(b'D') if digits > 0 => {}
            Some(_) => return Body::NotAMarker,
        }
        payload.extend_from_slice(&buf[at..at + run]);
        at += run + 2 + digits + 1;
        chunks += 1;
    }
    let rest = &buf[at..];
    if chunks > 0 && rest.starts_with(MARK) {
        Body::Complete { end: at + MARK.len(), payload }
    } else if chunks > 0 && MARK.starts_with(rest) {
        Body::Incomplete
    } else {
        Body::NotAMarker
    }
}

fn decode_marker(payload: &[u8]) -> Option<Value> {
    // Upstream: a marker that does not decode counts as `{}`.
    if payload.len() % 4 != 0 {
        return None;
    }
    let pads = payload.iter().rev().take_while(|&&b| b == b'=').count();
    let size = (payload.len() / 4 * 3).checked_sub(pads)?;
    let mut decoder = crate::wire::base64::Decoder::new(size as u64);
    let mut json = Vec::with_capacity(size);
    decoder.decode(payload, &mut json).ok()?;
    pyjson::parse(&json, 512).ok()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Bytes of `buf` up to the end of its last complete line, as upstream decides it.
fn split_complete_lines(buf: &[u8]) -> (usize, usize) {
    match buf.iter().rposition(|&b| b == b'\n') {
        Some(i) => (i + 1, buf.len() - i - 1),
        None => (0, buf.len()),
    }
}

/// Python's `str.splitlines(keepends=True)`.
pub fn python_splitlines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = match c {
            '\r' => match chars.peek() {
                Some(&(j, '\n')) => {
                    chars.next();
                    j + 1
                }
                _ => i + 1,
            },
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}' => i + c.len_utf8(),
            _ => continue,
        };
        lines.push(&text[start..end]);
        start = end;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(json: &str) -> Vec<u8> {
        let mut b64 = Vec::new();
        crate::wire::base64::encode(json.as_bytes(), &mut b64);
        let mut out = MARK.to_vec();
        for chunk in b64.chunks(78) {
            out.extend_from_slice(chunk);
            out.extend_from_slice(format!("\x1b[{}D", chunk.len()).as_bytes());
        }
        out.extend_from_slice(MARK);
        out
    }

    fn run(pieces: &[Vec<u8>], step: usize) -> Vec<String> {
        let all: Vec<u8> = pieces.concat();
        let mut f = OutputFilter::new("job", 7, 1 << 20, StdoutArtifact::Text);
        let mut out = Emitted::default();
        for chunk in all.chunks(step) {
            f.feed(chunk, "T", &mut out);
        }
        f.finish("T", &mut out);
        String::from_utf8(out.events).unwrap().lines().map(String::from).collect()
    }

    #[test]
    fn events_and_verbose_lines_in_upstreams_shape() {
        let pieces = vec![
            b"No config file found\r\n".to_vec(),
            marker(r#"{"uuid": "u1", "event": "playbook_on_start", "pid": 5, "created": "C", "event_data": {"playbook": "site.yml"}}"#),
            b"\r\nPLAY [x] ***\r\n".to_vec(),
            marker("{}"),
            b"stray\r\n".to_vec(),
        ];
        for step in [1, 3, 1000] {
            let lines = run(&pieces, step);
            assert_eq!(lines.len(), 3, "step {step}: {lines:?}");
            assert!(lines[0].starts_with(r#"{"event": "verbose", "uuid": ""#), "{}", lines[0]);
            assert!(lines[0].ends_with(r#"", "counter": 1, "stdout": "No config file found", "start_line": 0, "end_line": 1, "runner_ident": "job", "created": "T"}"#), "{}", lines[0]);
            assert_eq!(
                lines[1],
                r#"{"uuid": "u1", "counter": 2, "stdout": "\r\nPLAY [x] ***", "start_line": 1, "end_line": 3, "runner_ident": "job", "event": "playbook_on_start", "pid": 5, "created": "C", "event_data": {"playbook": "site.yml"}}"#
            );
            assert!(lines[2].contains(r#""counter": 3, "stdout": "stray", "start_line": 3, "end_line": 4"#), "{}", lines[2]);
        }
    }

    #[test]
    fn an_event_cut_off_before_its_text_is_dropped_like_upstream() {
        let pieces = vec![marker(r#"{"uuid": "u1", "event": "runner_on_start"}"#)];
        assert!(run(&pieces, 1000).is_empty());
        let pieces = vec![marker(r#"{"uuid": "u1", "event": "runner_on_start"}"#), b"partial".to_vec()];
        let lines = run(&pieces, 1000);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains(r#""stdout": "partial""#), "{}", lines[0]);
    }

    #[test]
    fn output_that_never_ends_a_line_or_marker_is_bounded() {
        let mut f = OutputFilter::new("job", 7, 64, StdoutArtifact::Text);
        let mut out = Emitted::default();
        f.feed(b"\x1b[KAAAA", "T", &mut out);
        for _ in 0..10 {
            f.feed(b"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", "T", &mut out);
        }
        assert!(f.buf.len() <= 64 + 48, "buffer grew to {}", f.buf.len());
        assert!(out.count > 0);
    }

    #[test]
    fn any_chunking_gives_the_same_events() {
        let mut pieces = vec![b"verbose one\nverbose ".to_vec(), b"two\n".to_vec()];
        pieces.push(marker(r#"{"uuid": "u1", "event": "runner_on_ok"}"#));
        pieces.push(b"ok: [host]\n".to_vec());
        pieces.push(marker("{}"));
        pieces.push(b"\x1b[Knot a marker\n".to_vec());
        let whole = run(&pieces, 100_000);
        assert_eq!(whole.len(), 4, "{whole:?}");
        for step in [1, 2, 3, 5, 7, 64] {
            assert_eq!(run(&pieces, step), whole, "step {step}");
        }
    }

    #[test]
    fn a_long_verbose_line_is_scanned_once() {
        let mut f = OutputFilter::new("job", 7, 16 << 20, StdoutArtifact::Text);
        let mut out = Emitted::default();
        let started = std::time::Instant::now();
        for _ in 0..2048 {
            f.feed(&[b'v'; 4096], "T", &mut out);
        }
        f.feed(b"\n", "T", &mut out);
        assert_eq!(out.count, 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
    }

    #[test]
    fn a_long_event_text_is_scanned_once() {
        // 8 MiB of text inside one event, fed 4 KiB at a time: quadratic rescanning would
        // take minutes; one pass takes milliseconds.
        let mut f = OutputFilter::new("job", 7, 16 << 20, StdoutArtifact::Text);
        let mut out = Emitted::default();
        f.feed(&marker(r#"{"uuid": "u1", "event": "runner_on_ok"}"#), "T", &mut out);
        let started = std::time::Instant::now();
        let chunk = vec![b'x'; 4096];
        for _ in 0..2048 {
            f.feed(&chunk, "T", &mut out);
        }
        f.feed(&marker("{}"), "T", &mut out);
        assert_eq!(out.count, 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
    }

    #[test]
    fn splitlines_matches_python() {
        assert_eq!(python_splitlines("a\r\nb\rc\nd\x0be\u{2028}f"), ["a\r\n", "b\r", "c\n", "d\x0b", "e\u{2028}", "f"]);
        assert_eq!(python_splitlines(""), Vec::<&str>::new());
    }

    #[test]
    fn uuids_are_version_4_and_distinct() {
        let mut u = UuidSource::new(1);
        let (a, b) = (u.uuid4(), u.uuid4());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }
}
