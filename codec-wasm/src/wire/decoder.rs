//! Sans-IO pull decoder for both stream kinds.
//!
//! Bytes go in with [`Decoder::push`] in any chunking; [`Decoder::next`] hands out frames,
//! `Ok(None)` meaning "push more bytes". [`Decoder::finish`] says the input has ended, after
//! which `next` drains what is left and reports a truncated stream. Errors are sticky.

use super::base64;
use super::classify::{classify, Classified, Members};
use super::diagnose::{self, LineCheck};
use crate::bytescan;
use crate::error::{Problem, StreamError};
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
    Archive(Archive),
    /// After `eof`: upstream stops reading, so the rest is ignored.
    Done,
}

/// The archive whose base64 is being read, and where its `zipfile` frame was.
#[derive(Debug)]
struct Archive {
    base64: base64::Decoder,
    offset: u64,
    line: u64,
    size: u64,
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
    /// The stream line the next line read is (1-based; an archive's base64 and the frame
    /// right after it share a line, as the inspector counts them).
    line: u64,
    /// The line of the last frame handed out.
    frame_line: u64,
    /// A line at `start` that starts like a frame but did not parse, waiting for the line
    /// after it: its length (newline included) and the parser's complaint. Kept so that
    /// bytes arriving later are not made to parse it again.
    broken: Option<(usize, String)>,
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
            line: 1,
            frame_line: 0,
            broken: None,
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

    /// The stream line (1-based) of the last frame handed out: an archive's pieces and end
    /// are on its `zipfile` frame's line.
    pub fn frame_line(&self) -> u64 {
        self.frame_line
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
        if let Some((len, error)) = self.broken.take() {
            return self.broken_line(self.start, self.start + len, error);
        }
        let line_start = self.start;
        let offset = self.base + line_start as u64;
        let (end, terminated) = match bytescan::find_byte(b'\n', &self.buf[self.scan..]) {
            Some(i) => (self.scan + i + 1, true),
            None => {
                self.scan = self.buf.len();
                let pending = (self.buf.len() - line_start) as u64;
                if pending > self.limits.max_line_bytes {
                    return Err(self.line_too_long(offset, line_start));
                }
                if !self.input_ended {
                    return Ok(None);
                }
                if pending == 0 {
                    return Err(StreamError::problem(Problem::MissingEof, offset, diagnose::MISSING_EOF).on_line(self.line));
                }
                // Like Python's readline(), a last line without a newline still counts.
                (self.buf.len(), false)
            }
        };
        if (end - line_start) as u64 > self.limits.max_line_bytes {
            return Err(self.line_too_long(offset, line_start));
        }
        let line = &self.buf[line_start..end];
        if self.raw_events {
            if let Some(event) = raw_event(&mut self.scan_space, &self.limits, line, offset) {
                self.consume_line(end);
                return Ok(Some(Frame::RawEvent(event)));
            }
        }
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let depth = self.limits.max_json_depth as usize;
        let value = match diagnose::check_line(body, offset, terminated, depth) {
            LineCheck::Frame(value) => value,
            LineCheck::Glued { diagnosis, .. } | LineCheck::Problem(diagnosis) => return Err(diagnosis.error(self.line, body)),
            LineCheck::Broken { error } => {
                self.scan = end;
                return self.broken_line(line_start, end, error);
            }
        };
        let frame = classified(self.kind, &self.limits, value, offset).map_err(|e| e.on_line(self.line).quoting(body))?;
        match &frame {
            Frame::ArchiveStart { size, .. } => {
                let archive = Archive { base64: base64::Decoder::new(*size), offset, line: self.line, size: *size };
                // The base64 starts the next line; the archive's pieces stay on this one.
                self.consume_line(end);
                self.state = State::Archive(archive);
            }
            Frame::Line { kind: LineKind::Eof, .. } => {
                self.consume_line(end);
                // Nothing after eof is read, as upstream; drop what is buffered.
                self.base += self.buf.len() as u64;
                self.buf = Vec::new();
                self.start = 0;
                self.scan = 0;
                self.state = State::Done;
            }
            _ => self.consume_line(end),
        }
        Ok(Some(frame))
    }

    /// Takes the line that ends at `end`, and counts it.
    fn consume_line(&mut self, end: usize) {
        self.start = end;
        self.scan = end;
        self.frame_line = self.line;
        self.line += 1;
    }

    /// A line that starts like a frame but does not parse (`buf[start..end]`): judged with
    /// the line after it, as the inspector judges it (a split line, else bad JSON). Waits for
    /// that line unless the stream ended.
    /// `self.scan` is where the search for the next line's newline resumes (at or past `end`).
    fn broken_line(&mut self, start: usize, end: usize, error: String) -> Result<Option<Frame>, StreamError> {
        let depth = self.limits.max_json_depth as usize;
        let offset = self.base + start as u64;
        let next = match bytescan::find_byte(b'\n', &self.buf[self.scan..]) {
            Some(i) => Some(&self.buf[end..self.scan + i]),
            // A long next line is judged without it, as the inspector skips a line over the limit.
            None if (self.buf.len() - end) as u64 > self.limits.max_line_bytes => None,
            None if self.input_ended => Some(&self.buf[end..]).filter(|rest| !rest.is_empty()),
            None => {
                // Judged when more bytes come, without parsing the broken line again.
                self.scan = self.buf.len();
                self.broken = Some((end - start, error));
                return Ok(None);
            }
        };
        let broken = &self.buf[start..end - 1];
        let judged = diagnose::judge_broken(broken, offset, self.line, &error, next.map(|n| (n, self.line + 1)), depth);
        let (Ok((_, diagnosis)) | Err(diagnosis)) = judged;
        Err(diagnosis.error(self.line, broken))
    }

    fn line_too_long(&self, offset: u64, start: usize) -> StreamError {
        let text = &self.buf[start..self.buf.len().min(start + crate::error::MAX_ERROR_TEXT)];
        StreamError::problem(Problem::LineTooLong, offset, diagnose::line_too_long(self.limits.max_line_bytes))
            .on_line(self.line)
            .quoting(text)
    }

    fn next_archive_piece(&mut self) -> Result<Option<Frame>, StreamError> {
        let State::Archive(archive) = &mut self.state else { return Ok(None) };
        let mut out = Vec::new();
        let input = &self.buf[self.start..];
        let used = match archive.base64.decode(input, &mut out) {
            Ok(used) => used,
            // Hand out the data before the bad byte first: then the frames do not depend on
            // how the input was chunked, and the next call stops at that byte again.
            Err(bad) if !out.is_empty() => bad.index,
            Err(bad) => {
                let offset = self.base + (self.start + bad.index) as u64;
                let error = if diagnose::ends_base64(input[bad.index]) {
                    let remaining = archive.base64.remaining_chars();
                    StreamError::problem(Problem::TruncatedArchive, offset, diagnose::base64_cut_short(remaining, archive.size))
                } else {
                    StreamError::problem(Problem::BadArchive, offset, diagnose::bad_base64(&bad.message))
                };
                return Err(error.on_line(archive.line));
            }
        };
        self.start += used;
        self.scan = self.start;
        if !out.is_empty() {
            return Ok(Some(Frame::ArchiveData(out)));
        }
        if archive.base64.is_done() {
            self.state = State::Lines;
            return Ok(Some(Frame::ArchiveEnd { offset: self.position() }));
        }
        if self.input_ended {
            let message = diagnose::stream_ends_in_archive(archive.base64.remaining_chars(), archive.size);
            return Err(StreamError::problem(Problem::TruncatedArchive, archive.offset, message).on_line(archive.line));
        }
        Ok(None)
    }
}

/// A canonical line that the classifier makes a result stream's event; anything else goes
/// to [`classified`].
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

/// The frame a parsed line is (see [`classify`]).
fn classified(kind: StreamKind, limits: &Limits, value: Value, offset: u64) -> Result<Frame, StreamError> {
    match classify(Some(kind), Members::of(&value)) {
        Classified::ArchiveStart => {
            let size = diagnose::archive_size(&value).map_err(|why| StreamError::problem(Problem::BadArchive, offset, why))?;
            if let Some(why) = diagnose::archive_too_large(size, limits.max_archive_bytes) {
                return Err(StreamError::problem(Problem::ArchiveTooLarge, offset, why));
            }
            Ok(Frame::ArchiveStart { offset, size })
        }
        Classified::Line(line_kind) => Ok(Frame::Line { offset, kind: line_kind, value }),
    }
}

#[cfg(test)]
mod tests;
