//! Sans-IO pull decoder for both stream kinds.
//!
//! Bytes go in with [`Decoder::push`] in any chunking; [`Decoder::next`] hands out frames,
//! `Ok(None)` meaning "push more bytes". [`Decoder::finish`] says the input has ended, after
//! which `next` drains what is left and reports a truncated stream. Errors are sticky.

use super::base64;
use super::classify::{classify, Classified, Members};
use crate::bytescan;
use crate::error::{ErrorKind, StreamError};
use crate::limits::Limits;
use crate::pyjson::{self, Value};

// Part of the decoder's API: what `new` takes and what a `Frame::Line` is.
pub use super::classify::{LineKind, StreamKind};

/// One decoded piece of a stream.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// A JSON line; `offset` is where the line starts.
    Line { offset: u64, kind: LineKind, value: Value },
    /// `{"zipfile": size}`: `size` bytes of zip follow as base64.
    ArchiveStart { offset: u64, size: u64 },
    /// Decoded zip bytes, in order.
    ArchiveData(Vec<u8>),
    /// The archive's last base64 character has been read; `offset` is just past it.
    ArchiveEnd { offset: u64 },
    /// An event line already exactly as Python's `json.dumps` writes it (only from a decoder
    /// made with [`Decoder::with_raw_events`]): what a full parse and re-encode would give,
    /// without either.
    RawEvent(RawEvent),
}

/// An event line in canonical form: its bytes and where some member values are in them.
#[derive(Clone, Debug, PartialEq)]
pub struct RawEvent {
    pub offset: u64,
    /// The line without its newline.
    pub json: Vec<u8>,
    pub counter: Option<std::ops::Range<usize>>,
    pub uuid: Option<std::ops::Range<usize>>,
    pub stdout: Option<std::ops::Range<usize>>,
}

#[derive(Debug)]
enum State {
    Lines,
    Archive(base64::Decoder),
    /// After `eof`: upstream stops reading, so the rest is ignored.
    Done,
}

/// The pull decoder. See the module docs.
#[derive(Debug)]
pub struct Decoder {
    kind: StreamKind,
    limits: Limits,
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    start: usize,
    /// Where the newline search resumes, so no byte is scanned twice.
    scan: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    state: State,
    input_ended: bool,
    error: Option<StreamError>,
    raw_events: bool,
    /// The canonical scanner's buffers, kept from line to line.
    scan_space: pyjson::canonical::ScanSpace,
}

impl Decoder {
    pub fn new(kind: StreamKind, limits: Limits) -> Self {
        Decoder {
            kind,
            limits,
            buf: Vec::new(),
            start: 0,
            scan: 0,
            base: 0,
            state: State::Lines,
            input_ended: false,
            error: None,
            raw_events: false,
            scan_space: Default::default(),
        }
    }

    /// A result-stream decoder that hands canonical event lines over as
    /// [`Frame::RawEvent`] (for `process`, which writes them as they are).
    pub fn with_raw_events(limits: Limits) -> Self {
        Decoder { raw_events: true, ..Decoder::new(StreamKind::Result, limits) }
    }

    /// Buffers more input. Cheap: all work happens in [`Decoder::next`].
    pub fn push(&mut self, bytes: &[u8]) {
        if matches!(self.state, State::Done) || self.error.is_some() {
            self.base += bytes.len() as u64;
            return;
        }
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.scan -= self.start;
            self.start = 0;
        }
        self.reserve_for_long_line(bytes.len());
        self.buf.extend_from_slice(bytes);
    }

    /// A line past 1 MiB is either refused at the line limit or kept whole, so the buffer
    /// grows once, to the limit, instead of doubling: every doubling copies, and the old
    /// copy's pages stay resident in linear memory (3x the line at the end). Reserving
    /// costs address space only; pages count once touched.
    fn reserve_for_long_line(&mut self, incoming: usize) {
        const ONE_STEP_FROM: usize = 1 << 20;
        const ONE_STEP_AT_MOST: usize = 64 << 20;
        let needed = self.buf.len() + incoming;
        if !matches!(self.state, State::Lines) || needed <= self.buf.capacity() || needed <= ONE_STEP_FROM {
            return;
        }
        let limit = usize::try_from(self.limits.max_line_bytes).unwrap_or(usize::MAX);
        let want = (self.start + limit).saturating_add(incoming);
        if want > needed && want - self.start <= ONE_STEP_AT_MOST {
            self.buf.reserve_exact(want - self.buf.len());
        }
    }

    /// Marks the end of input; `next` then drains the rest.
    pub fn finish(&mut self) {
        self.input_ended = true;
    }

    /// True once the `eof` frame has been decoded.
    pub fn saw_eof(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Stream offset of the first byte not yet consumed.
    pub fn position(&self) -> u64 {
        self.base + self.start as u64
    }

    /// The next frame, `Ok(None)` if more input is needed (or the stream is complete).
    pub fn next(&mut self) -> Result<Option<Frame>, StreamError> {
        if let Some(err) = &self.error {
            return Err(err.clone());
        }
        let result = self.step();
        if let Err(err) = &result {
            self.error = Some(err.clone());
        }
        result
    }

    fn step(&mut self) -> Result<Option<Frame>, StreamError> {
        match &mut self.state {
            State::Done => Ok(None),
            State::Lines => self.next_line(),
            State::Archive(_) => self.next_archive_piece(),
        }
    }

    fn next_line(&mut self) -> Result<Option<Frame>, StreamError> {
        let line_start = self.start;
        let offset = self.base + line_start as u64;
        let end = match bytescan::find_byte(b'\n', &self.buf[self.scan..]) {
            Some(i) => self.scan + i + 1,
            None => {
                self.scan = self.buf.len();
                let pending = (self.buf.len() - line_start) as u64;
                if pending > self.limits.max_line_bytes {
                    return Err(self.line_too_long(offset));
                }
                if !self.input_ended {
                    return Ok(None);
                }
                if pending == 0 {
                    return Err(StreamError::new(
                        ErrorKind::Truncated,
                        offset,
                        "stream ended before its eof frame",
                    ));
                }
                // Like Python's readline(), a last line without a newline still counts.
                self.buf.len()
            }
        };
        if (end - line_start) as u64 > self.limits.max_line_bytes {
            return Err(self.line_too_long(offset));
        }
        self.start = end;
        self.scan = end;
        let line = &self.buf[line_start..end];
        if self.raw_events {
            if let Some(event) = raw_event(&mut self.scan_space, &self.limits, line, offset) {
                return Ok(Some(Frame::RawEvent(event)));
            }
        }
        let frame = parse_and_classify(self.kind, &self.limits, line, offset).map_err(|mut e| {
            // Most likely cut short, but junk without a newline reads the same: say both.
            if e.kind == ErrorKind::Malformed && line.last() != Some(&b'\n') {
                e.message.push_str(" (the stream ended inside this line)");
            }
            e
        })?;
        match &frame {
            Frame::ArchiveStart { size, .. } => self.state = State::Archive(base64::Decoder::new(*size)),
            Frame::Line { kind: LineKind::Eof, .. } => {
                // Nothing after eof is read, as upstream; drop what is buffered.
                self.base += self.buf.len() as u64;
                self.buf = Vec::new();
                self.start = 0;
                self.scan = 0;
                self.state = State::Done;
            }
            _ => {}
        }
        Ok(Some(frame))
    }

    fn line_too_long(&self, offset: u64) -> StreamError {
        StreamError::new(
            ErrorKind::Limit,
            offset,
            format!("line longer than the {}-byte limit (max line bytes)", self.limits.max_line_bytes),
        )
    }

    fn next_archive_piece(&mut self) -> Result<Option<Frame>, StreamError> {
        let State::Archive(decoder) = &mut self.state else { return Ok(None) };
        let mut out = Vec::new();
        let input = &self.buf[self.start..];
        let used = match decoder.decode(input, &mut out) {
            Ok(used) => used,
            // Hand out the data before the bad byte first: then the frames do not depend on
            // how the input was chunked, and the next call stops at that byte again.
            Err(bad) if !out.is_empty() => bad.index,
            Err(bad) => {
                let offset = self.base + (self.start + bad.index) as u64;
                return Err(StreamError::new(ErrorKind::Malformed, offset, bad.message));
            }
        };
        self.start += used;
        self.scan = self.start;
        if !out.is_empty() {
            return Ok(Some(Frame::ArchiveData(out)));
        }
        if decoder.is_done() {
            self.state = State::Lines;
            return Ok(Some(Frame::ArchiveEnd { offset: self.position() }));
        }
        if self.input_ended {
            return Err(StreamError::new(
                ErrorKind::Truncated,
                self.position(),
                "stream ended inside a zipfile's base64 data",
            ));
        }
        Ok(None)
    }
}

/// A canonical line that the classifier makes a result stream's event; anything else goes
/// to [`parse_and_classify`].
fn raw_event(space: &mut pyjson::canonical::ScanSpace, limits: &Limits, line: &[u8], offset: u64) -> Option<RawEvent> {
    let members = pyjson::canonical::scan_in(
        space,
        line,
        limits.max_json_depth as usize,
        [b"kwargs".as_slice(), b"status", b"zipfile", b"eof", b"event", b"counter", b"uuid", b"stdout"],
    )?;
    let [kwargs, status, zipfile, eof, event, counter, uuid, stdout] = members.values;
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    let keepalive = event.is_some_and(|r| &body[r] == b"\"keepalive\"");
    let members = Members { kwargs: kwargs.is_some(), status: status.is_some(), zipfile: zipfile.is_some(), eof: eof.is_some(), keepalive };
    if classify(Some(StreamKind::Result), members) != Classified::Line(LineKind::Event) {
        return None;
    }
    Some(RawEvent { offset, json: body.to_vec(), counter, uuid, stdout })
}

/// Parses one line and decides its kind (see [`classify`]).
fn parse_and_classify(kind: StreamKind, limits: &Limits, line: &[u8], offset: u64) -> Result<Frame, StreamError> {
    let value = pyjson::parse(line, limits.max_json_depth as usize).map_err(|e| {
        if e.too_deep {
            StreamError::new(ErrorKind::Limit, offset + e.offset as u64, e.message)
        } else if line.iter().all(|b| b" \t\r\n".contains(b)) {
            StreamError::new(ErrorKind::Malformed, offset, "blank line where a JSON frame was expected")
        } else {
            StreamError::new(ErrorKind::Malformed, offset + e.offset as u64, format!("invalid JSON line: {}", e.message))
        }
    })?;
    if !matches!(value, Value::Object(_)) {
        return Err(StreamError::new(
            ErrorKind::Malformed,
            offset,
            format!("a frame must be a JSON object, found {}", type_name(&value)),
        ));
    }
    match classify(Some(kind), Members::of(&value)) {
        Classified::ArchiveStart => archive_start(&value, limits, offset),
        Classified::Line(line_kind) => Ok(Frame::Line { offset, kind: line_kind, value }),
    }
}

fn archive_start(value: &Value, limits: &Limits, offset: u64) -> Result<Frame, StreamError> {
    let size = match value.get("zipfile") {
        Some(Value::Int(text)) => text.parse::<u64>().ok(),
        _ => None,
    };
    let Some(size) = size else {
        let found = value.get("zipfile").map(type_name).unwrap_or("nothing");
        return Err(StreamError::new(
            ErrorKind::Malformed,
            offset,
            format!("zipfile size must be a non-negative integer, found {found}"),
        ));
    };
    if size > limits.max_archive_bytes {
        return Err(StreamError::new(
            ErrorKind::Limit,
            offset,
            format!("zipfile of {size} bytes exceeds the {}-byte limit (max archive bytes)", limits.max_archive_bytes),
        ));
    }
    Ok(Frame::ArchiveStart { offset, size })
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Int(t) if t.starts_with('-') => "a negative integer",
        Value::Int(_) => "an integer too large",
        Value::Float(_) => "a float",
        Value::Str(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
