//! Diagnosing a stream instead of refusing it: the inspector reads any job or result
//! stream line by line, reports every frame, and where the stream is damaged names the
//! damage and the byte where it starts, then resynchronizes at the next line, so one bad
//! line does not hide the rest. Sans-IO like the decoder: bytes are pushed in any chunking,
//! and what it found comes back as JSON lines (`inspect --json`, documented in
//! docs/inspect-json.md) plus a summary and a text report. Memory is bounded by the stream
//! limits: a line is held whole only up to `max_line_bytes`, archives are spooled to a
//! scratch file.

mod archive;
mod report;
mod tally;

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;

use crate::wire::base64;
use crate::bytescan;
use crate::limits::Limits;
use crate::pyjson::{self, PyStr, Value};
use crate::wire::classify::{classify, Classified, LineKind, Members, StreamKind};
use crate::wire::diagnose::{self, excerpt, excerpt_text, LineCheck, MAX_EXCERPT};
use crate::error::Problem as Kind;

pub use report::Summary;

/// Where the inspector may spool one archive at a time.
pub struct Scratch {
    pub path: String,
}

/// One finding, as the JSON line `{"problem": {...}}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub kind: Kind,
    pub offset: u64,
    pub line: u64,
    pub message: String,
    /// The first bytes of the line the problem is in, when it is in one.
    pub excerpt: Option<String>,
}

enum Mode {
    Lines,
    /// Inside a `zipfile`'s base64: characters still expected, and the spool.
    Archive { remaining_chars: u64, decoder: base64::Decoder, spool: Option<File>, archive: Box<report::Archive>, bad: bool },
    /// A line longer than the limit: skipped to its newline.
    Skipping,
}

/// A line that failed to parse, kept one line longer: joined with the next it may parse
/// (a split line).
struct Broken {
    bytes: Vec<u8>,
    offset: u64,
    line: u64,
    error: String,
}

pub struct Inspector {
    limits: Limits,
    scratch: Scratch,
    mode: Mode,
    buf: Vec<u8>,
    /// Offset of `buf[0]` in the stream.
    buf_offset: u64,
    /// Line number of the line in `buf` (1-based).
    line: u64,
    broken: Option<Broken>,
    after_eof: bool,
    finished: bool,
    /// The start of the line being diagnosed, attached to the problems found in it.
    excerpt: Option<String>,
    out: Vec<u8>,
    summary: Summary,
    /// Off only in the test that holds the fast path to the full parse's results.
    canonical_fast_path: bool,
    /// Off for `validate`: frames and problems are counted, not written out.
    json_lines: bool,
    /// The canonical scanner's buffers, kept from line to line.
    scan_space: pyjson::canonical::ScanSpace,
}

/// The members of a canonical line that classify it and that an event's frame reports.
const EVENT_MEMBERS: [&[&[u8]]; 8] =
    [&[b"kwargs"], &[b"status"], &[b"zipfile"], &[b"eof"], &[b"event"], &[b"counter"], &[b"uuid"], &[b"event_data", b"host"]];

/// Problems and statuses kept for the summary (the JSON lines have them all).
const MAX_LISTED_PROBLEMS: usize = 1000;
/// Archives kept for the summary (the JSON lines have a frame for each).
const MAX_LISTED_ARCHIVES: usize = 100;
/// Entries of one archive kept for the summary.
const MAX_LISTED_ENTRIES: usize = 10_000;

impl Inspector {
    pub fn new(limits: Limits, scratch: Scratch) -> Self {
        Inspector {
            limits,
            scratch,
            mode: Mode::Lines,
            buf: Vec::new(),
            buf_offset: 0,
            line: 1,
            broken: None,
            after_eof: false,
            finished: false,
            excerpt: None,
            out: Vec::new(),
            summary: Summary::default(),
            canonical_fast_path: true,
            json_lines: true,
            scan_space: Default::default(),
        }
    }

    /// An inspector that writes no frame or problem lines (only the summary line): what
    /// `validate` needs, for less work per frame.
    pub fn without_json_lines(limits: Limits, scratch: Scratch) -> Self {
        Inspector { json_lines: false, ..Inspector::new(limits, scratch) }
    }

    /// Feeds stream bytes; returns the JSON lines of what they completed.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<u8> {
        self.summary.bytes += bytes.len() as u64;
        while !bytes.is_empty() {
            let used = match self.mode {
                Mode::Archive { .. } => self.archive_bytes(bytes),
                Mode::Skipping => match bytescan::find_byte(b'\n', bytes) {
                    Some(i) => {
                        self.buf_offset += self.buf.len() as u64 + i as u64 + 1;
                        self.buf.clear();
                        self.line += 1;
                        self.mode = Mode::Lines;
                        i + 1
                    }
                    None => {
                        self.buf_offset += bytes.len() as u64;
                        bytes.len()
                    }
                },
                Mode::Lines => self.line_bytes(bytes),
            };
            bytes = &bytes[used..];
        }
        std::mem::take(&mut self.out)
    }

    /// Ends the input; returns the last JSON lines and the summary line.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.finished {
            return Vec::new();
        }
        self.finished = true;
        let end = self.buf_offset + self.buf.len() as u64;
        self.summary.lines = self.line - 1 + u64::from(!self.buf.is_empty() || matches!(self.mode, Mode::Archive { .. }));
        match std::mem::replace(&mut self.mode, Mode::Lines) {
            Mode::Archive { remaining_chars, archive, .. } => {
                let (size, offset, line) = (archive.size, archive.offset, archive.line);
                self.problem(Kind::TruncatedArchive, offset, line, diagnose::stream_ends_in_archive(remaining_chars, size));
                self.close_archive(*archive, false);
            }
            Mode::Skipping => {}
            Mode::Lines => {
                if !self.buf.is_empty() {
                    let line = std::mem::take(&mut self.buf);
                    self.take_line(&line, self.buf_offset, false);
                }
            }
        }
        self.flush_broken();
        let line = self.line;
        if !self.after_eof {
            self.problem(Kind::MissingEof, end, line, diagnose::MISSING_EOF.into());
        }
        if self.summary.stream_kind == "result" && self.summary.status_count == 0 {
            self.problem(Kind::MissingStatus, end, line, "a result stream without any status line".into());
        }
        self.summary.complete = self.after_eof && self.summary.problems == 0;
        let mut summary = Vec::new();
        pyjson::encode(&Value::Object(vec![(s("summary"), self.summary.to_value())]), &mut summary);
        self.out.extend_from_slice(&summary);
        self.out.push(b'\n');
        std::mem::take(&mut self.out)
    }

    /// The summary so far (complete after `finish`).
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The report a person reads (after `finish`).
    pub fn text_report(&self) -> String {
        self.summary.text()
    }

    /// Takes bytes of lines: complete lines are diagnosed; returns how many were used.
    fn line_bytes(&mut self, bytes: &[u8]) -> usize {
        if let Some(used) = self.canonical_event_line(bytes) {
            return used;
        }
        match bytescan::find_byte(b'\n', bytes) {
            Some(i) => {
                let offset = self.buf_offset;
                if self.buf.len() + i + 1 > self.limits.max_line_bytes as usize {
                    let start = if self.buf.is_empty() { bytes[..i].to_vec() } else { self.buf[..self.buf.len().min(MAX_EXCERPT)].to_vec() };
                    self.too_long(offset, &start);
                    self.buf_offset = offset + self.buf.len() as u64 + i as u64 + 1;
                    self.buf.clear();
                    self.line += 1;
                    return i + 1;
                }
                if self.buf.is_empty() {
                    // The whole line is in this chunk (the usual case): no copy.
                    self.buf_offset = offset + i as u64 + 1;
                    self.take_line(&bytes[..i], offset, true);
                } else {
                    let mut line = std::mem::take(&mut self.buf);
                    line.extend_from_slice(&bytes[..i]);
                    self.buf_offset = offset + line.len() as u64 + 1;
                    self.take_line(&line, offset, true);
                    // Keep the buffer for the next split line, unless a long line grew it.
                    if line.capacity() <= 1 << 20 {
                        line.clear();
                        self.buf = line;
                    }
                }
                self.line += 1;
                i + 1
            }
            None => {
                if self.buf.len() + bytes.len() >= self.limits.max_line_bytes as usize {
                    let offset = self.buf_offset;
                    let start = if self.buf.is_empty() { bytes[..bytes.len().min(MAX_EXCERPT)].to_vec() } else { self.buf[..self.buf.len().min(MAX_EXCERPT)].to_vec() };
                    self.too_long(offset, &start);
                    self.buf_offset += (self.buf.len() + bytes.len()) as u64;
                    self.buf.clear();
                    self.mode = Mode::Skipping;
                } else {
                    self.buf.extend_from_slice(bytes);
                }
                bytes.len()
            }
        }
    }

    fn too_long(&mut self, offset: u64, start: &[u8]) {
        self.flush_broken();
        let outer = self.excerpt.replace(excerpt_text(start));
        self.problem(Kind::LineTooLong, offset, self.line, diagnose::line_too_long(self.limits.max_line_bytes));
        self.excerpt = outer;
    }

    /// One line (without its newline), diagnosed.
    fn take_line(&mut self, line: &[u8], offset: u64, terminated: bool) {
        if self.canonical_fast_path && !self.after_eof && self.broken.is_none() && self.canonical_event(line, offset, self.line) {
            return;
        }
        let outer = self.excerpt.replace(excerpt_text(line));
        self.diagnose_line(line, offset, terminated);
        self.excerpt = outer;
    }

    fn diagnose_line(&mut self, line: &[u8], offset: u64, terminated: bool) {
        let line_no = self.line;
        if self.after_eof {
            if !line.iter().all(u8::is_ascii_whitespace) && self.summary.data_after_eof == 0 {
                self.problem(Kind::DataAfterEof, offset, line_no, format!("bytes after the eof frame: {}", excerpt(line)));
            }
            self.summary.data_after_eof += line.len() as u64 + u64::from(terminated);
            return;
        }
        let depth = self.limits.max_json_depth as usize;
        if let Some(broken) = self.broken.take() {
            match diagnose::judge_broken(&broken.bytes, broken.offset, broken.line, &broken.error, Some((line, line_no)), depth) {
                Ok((value, split)) => {
                    let mut joined = broken.bytes.clone();
                    joined.extend_from_slice(line);
                    self.excerpt = Some(excerpt_text(&joined));
                    self.found(split, broken.line);
                    self.frame(value, broken.offset, broken.line);
                    return;
                }
                Err(bad_json) => self.report_broken(&broken, bad_json),
            }
        }
        match diagnose::check_line(line, offset, terminated, depth) {
            LineCheck::Frame(value) => self.frame(value, offset, line_no),
            LineCheck::Problem(diagnosis) => self.found(diagnosis, line_no),
            LineCheck::Glued { split, diagnosis } => {
                let at = diagnosis.offset;
                self.found(diagnosis, line_no);
                if let Ok(value) = pyjson::parse(&line[..split], depth) {
                    self.frame(value, offset, line_no);
                }
                // The rest may be one frame or more glued ones.
                self.take_line(&line[split..], at, terminated);
            }
            LineCheck::Broken { error } => self.broken = Some(Broken { bytes: line.to_vec(), offset, line: line_no, error }),
        }
    }

    /// A problem the classifier named, reported on line `line`.
    fn found(&mut self, diagnosis: diagnose::Diagnosis, line: u64) {
        self.problem(diagnosis.problem, diagnosis.offset, line, diagnosis.message);
    }

    fn flush_broken(&mut self) {
        if let Some(broken) = self.broken.take() {
            let depth = self.limits.max_json_depth as usize;
            if let Err(bad_json) = diagnose::judge_broken(&broken.bytes, broken.offset, broken.line, &broken.error, None, depth) {
                self.report_broken(&broken, bad_json);
            }
        }
    }

    fn report_broken(&mut self, broken: &Broken, bad_json: diagnose::Diagnosis) {
        let outer = self.excerpt.replace(excerpt_text(&broken.bytes));
        self.found(bad_json, broken.line);
        self.excerpt = outer;
    }

    /// An event line already in canonical form (as upstream's worker writes every one):
    /// its frame from the few members it needs, without building the rest. False when the
    /// line is anything else, for the full parse to judge.
    fn canonical_event(&mut self, line: &[u8], offset: u64, line_no: u64) -> bool {
        let depth = self.limits.max_json_depth as usize;
        let Some(members) = pyjson::canonical::scan_paths_in(&mut self.scan_space, line, depth, EVENT_MEMBERS) else {
            return false;
        };
        let Some(fields) = self.event_fields(line, members) else { return false };
        self.event(fields, offset, line_no, Some(line));
        true
    }

    /// [`Inspector::canonical_event`] for a line at the start of `bytes` (a chunk), before
    /// its newline is found: the scan finds it (see [`pyjson::canonical::scan_line_in`]).
    /// The bytes taken, newline included; `None`, with nothing changed, for the usual path.
    fn canonical_event_line(&mut self, bytes: &[u8]) -> Option<usize> {
        if !self.canonical_fast_path || self.after_eof || self.broken.is_some() || !self.buf.is_empty() {
            return None;
        }
        let depth = self.limits.max_json_depth as usize;
        let (len, members) = pyjson::canonical::scan_line_in(&mut self.scan_space, bytes, depth, EVENT_MEMBERS)?;
        if len as u64 + 1 > self.limits.max_line_bytes {
            return None;
        }
        let line = &bytes[..len];
        let fields = self.event_fields(line, members)?;
        // As the usual path does for a whole line in one chunk.
        let (offset, line_no) = (self.buf_offset, self.line);
        self.buf_offset = offset + len as u64 + 1;
        self.event(fields, offset, line_no, Some(line));
        self.line += 1;
        Some(len + 1)
    }

    /// What the inspector reads of a canonical line, if the line is an event.
    fn event_fields<'a>(&self, line: &'a [u8], members: pyjson::canonical::Members<8>) -> Option<EventFields<'a>> {
        let depth = self.limits.max_json_depth as usize;
        let [kwargs, status, zipfile, eof, event, counter, uuid, host] = members.values;
        let json = |range: &Option<std::ops::Range<usize>>| range.clone().map(|r| &line[r]);
        let (event, counter, uuid, host) = (json(&event), json(&counter), json(&uuid), json(&host));
        let keepalive = event == Some(b"\"keepalive\"");
        let members = Members { kwargs: kwargs.is_some(), status: status.is_some(), zipfile: zipfile.is_some(), eof: eof.is_some(), keepalive };
        if classify(self.stream_so_far(), members) != Classified::Line(LineKind::Event) {
            return None;
        }
        Some(EventFields {
            event: event.map(|e| canonical_str(e, depth).unwrap_or_else(|| Cow::Owned(python_str_of(e, depth)))).unwrap_or_default(),
            counter: counter.map(Cow::Borrowed),
            uuid: uuid.map(Cow::Borrowed),
            host: host.and_then(|h| canonical_str(h, depth)),
        })
    }

    /// Which stream this is, once a frame has said so: it decides how lines are classified.
    fn stream_so_far(&self) -> Option<StreamKind> {
        match self.summary.stream_kind {
            "job" => Some(StreamKind::Job),
            "result" => Some(StreamKind::Result),
            _ => None,
        }
    }

    /// A parsed frame: classified, checked, reported.
    fn frame(&mut self, value: Value, offset: u64, line: u64) {
        let kind = match classify(self.stream_so_far(), Members::of(&value)) {
            Classified::ArchiveStart => "archive",
            Classified::Line(kind) => kind.name(),
        };
        if kind == "event" {
            let encoded = |v: &Value| {
                let mut json = Vec::new();
                pyjson::encode(v, &mut json);
                Cow::Owned(json)
            };
            let fields = EventFields {
                event: value.get("event").map(pyjson::python_str).unwrap_or_default().into(),
                counter: value.get("counter").map(encoded),
                uuid: value.get("uuid").map(encoded),
                host: value.get("event_data").and_then(|d| d.get("host")).and_then(Value::as_str).map(Cow::Borrowed),
            };
            // The excerpt is already the line's (or the joined line's).
            return self.event(fields, offset, line, None);
        }
        let mut record = frame_record(offset, line, kind);
        match kind {
            "kwargs" => {
                if let Some(why) = value.get("kwargs").and_then(diagnose::job_kwargs_problem) {
                    self.problem(Kind::BadKwargs, offset, line, why);
                }
                let masked = report::mask(value.get("kwargs").cloned().unwrap_or(Value::Null));
                record.push((s("kwargs"), masked.clone()));
                self.summary.kwargs = Some(masked);
            }
            "status" => {
                let status = value.get("status").map(pyjson::python_str).unwrap_or_default();
                let explanation = value.get("job_explanation").filter(|v| !v.is_null()).map(pyjson::python_str);
                record.push((s("status"), Value::Str(s(&status))));
                if let Some(why) = &explanation {
                    record.push((s("job_explanation"), Value::Str(s(why))));
                }
                if self.summary.statuses.len() < MAX_LISTED_PROBLEMS {
                    self.summary.statuses.push(report::Status { status, explanation, offset });
                }
                self.summary.status_count += 1;
            }
            "keepalive" => self.summary.keepalives += 1,
            "archive" => {
                let size = match diagnose::archive_size(&value) {
                    Ok(size) => size,
                    Err(why) => return self.problem(Kind::BadArchive, offset, line, why),
                };
                record.push((s("size"), int(size)));
                let record = report::Archive { offset, line, size, entry_count: 0, entries: Vec::new() };
                if let Some(why) = diagnose::archive_too_large(size, self.limits.max_archive_bytes) {
                    // Its base64 is skipped.
                    self.problem(Kind::ArchiveTooLarge, offset, line, why);
                }
                let mut spool = None;
                if size <= self.limits.max_archive_bytes {
                    // Without a spool the archive cannot be listed: say so, never list it empty.
                    match File::create(&self.scratch.path) {
                        Ok(file) => spool = Some(file),
                        Err(e) => self.problem(Kind::Io, offset, line, format!("cannot spool the archive to list it: {e}")),
                    }
                }
                self.mode = Mode::Archive {
                    remaining_chars: base64::encoded_len(size),
                    decoder: base64::Decoder::new(size),
                    spool,
                    archive: Box::new(record),
                    bad: false,
                };
            }
            "eof" => {
                // The worker reads any stream as a job stream: one with neither kwargs nor a
                // result frame before its eof is a job stream without its kwargs.
                if self.summary.stream_kind == "unknown" {
                    self.problem(Kind::BadKwargs, offset, line, diagnose::NO_KWARGS.into());
                }
                self.after_eof = true;
            }
            _ => {}
        }
        self.report_frame(kind, record);
    }

    /// Counts a frame and writes its JSON line.
    fn report_frame(&mut self, kind: &'static str, record: Vec<(PyStr, Value)>) {
        self.count_frame(kind);
        if self.json_lines {
            pyjson::encode(&Value::Object(record), &mut self.out);
            self.out.push(b'\n');
        }
    }

    fn count_frame(&mut self, kind: &'static str) {
        if self.summary.stream_kind == "unknown" {
            match kind {
                "kwargs" => self.summary.stream_kind = "job",
                "status" | "event" | "keepalive" => self.summary.stream_kind = "result",
                _ => {}
            }
        }
        self.summary.frames.count(kind);
    }

    /// An event: its counter checked against the last one, counted, and its JSON line
    /// written as `frame_record` plus `event`, `counter`, `uuid`, `host` would encode
    /// (straight to the output: events are most lines). `text` is the line, when the
    /// excerpt for a problem still has to be made from it.
    fn event(&mut self, fields: EventFields, offset: u64, line: u64, text: Option<&[u8]>) {
        // The counter as upstream's int, when it is one.
        let counter = fields.counter.as_deref().and_then(decimal_u64);
        self.check_counter(counter, offset, line, text);
        if let (Some(counter), Some(uuid)) = (&fields.counter, &fields.uuid) {
            if let Some((kind, message)) = diagnose::event_file_problem(counter, uuid, self.limits.max_json_depth as usize) {
                let outer = text.map(|text| self.excerpt.replace(excerpt_text(text)));
                self.problem(kind, offset, line, message);
                if let Some(outer) = outer {
                    self.excerpt = outer;
                }
            }
        }
        self.summary.count_event(&fields.event, fields.host.as_deref());
        self.count_frame("event");
        if !self.json_lines {
            return;
        }
        let out = &mut self.out;
        out.extend_from_slice(format!("{{\"offset\": {offset}, \"line\": {line}, \"frame\": \"event\", \"event\": ").as_bytes());
        pyjson::encode_str(&fields.event, out);
        for (key, json) in [(&b", \"counter\": "[..], &fields.counter), (b", \"uuid\": ", &fields.uuid)] {
            if let Some(json) = json {
                out.extend_from_slice(key);
                out.extend_from_slice(json);
            }
        }
        if let Some(host) = &fields.host {
            out.extend_from_slice(b", \"host\": ");
            pyjson::encode_str(host, out);
        }
        out.extend_from_slice(b"}\n");
    }

    /// Upstream's counters go 1, 2, 3...: a jump or a step back is reported.
    /// `text`: the event's line, when the excerpt for a problem still has to be made from it
    /// (made only then: most events have none).
    fn check_counter(&mut self, counter: Option<u64>, offset: u64, line: u64, text: Option<&[u8]>) {
        if let Some(counter) = counter.filter(|&c| c > 0) {
            if let Some((kind, message)) = diagnose::check_counter(self.summary.last_counter, counter) {
                let outer = text.map(|text| self.excerpt.replace(excerpt_text(text)));
                self.problem(kind, offset, line, message);
                if let Some(outer) = outer {
                    self.excerpt = outer;
                }
            }
            self.summary.last_counter = Some(counter);
            let (lo, hi) = self.summary.counters.get_or_insert((counter, counter));
            *lo = (*lo).min(counter);
            *hi = (*hi).max(counter);
        }
    }

    /// Takes base64 of the current archive; returns how many bytes were used.
    fn archive_bytes(&mut self, bytes: &[u8]) -> usize {
        let Mode::Archive { remaining_chars, decoder, spool, archive, bad } = &mut self.mode else { return 0 };
        let (offset, line, size) = (archive.offset, archive.line, archive.size);
        // The base64 ends at the first byte that can be neither base64 nor the whitespace
        // upstream skips: a frame that starts early means the archive was cut short.
        let stop = bytes.iter().position(|&b| diagnose::ends_base64(b)).unwrap_or(bytes.len());
        let mut data = Vec::new();
        let mut found: Option<(Kind, u64, String)> = None;
        let used = if *bad {
            // After a bad byte, count characters only, to find where the archive ends.
            let mut used = 0;
            for &b in &bytes[..stop] {
                if *remaining_chars == 0 {
                    break;
                }
                used += 1;
                if !b.is_ascii_whitespace() {
                    *remaining_chars -= 1;
                }
            }
            used
        } else {
            match decoder.decode(&bytes[..stop], &mut data) {
                Ok(used) => {
                    *remaining_chars -= bytes[..used].iter().filter(|b| !b.is_ascii_whitespace()).count() as u64;
                    used
                }
                Err(bad_byte) => {
                    *bad = true;
                    *remaining_chars -= bytes[..bad_byte.index].iter().filter(|b| !b.is_ascii_whitespace()).count() as u64;
                    let at = self.buf_offset + bad_byte.index as u64;
                    found = Some((Kind::BadArchive, at, diagnose::bad_base64(&bad_byte.message)));
                    bad_byte.index
                }
            }
        };
        if let Some(file) = spool {
            if let Err(e) = file.write_all(&data) {
                *spool = None;
                found = Some((Kind::Io, offset, format!("cannot spool the archive to list it: {e}")));
            }
        }
        let (done, remaining, listable) = (*remaining_chars == 0, *remaining_chars, spool.is_some() && !*bad);
        let cut_short = !done && used == stop && stop < bytes.len() && found.is_none();
        if let Some((kind, at, message)) = found {
            self.problem(kind, at, line, message);
        }
        self.buf_offset += used as u64;
        if done || cut_short {
            let Mode::Archive { archive, .. } = std::mem::replace(&mut self.mode, Mode::Lines) else { return used };
            if cut_short {
                self.problem(Kind::TruncatedArchive, self.buf_offset, line, diagnose::base64_cut_short(remaining, size));
            }
            self.close_archive(*archive, done && listable);
        }
        used
    }

    /// The archive is over: list it if it was spooled whole, keep its record (the first
    /// [`MAX_LISTED_ARCHIVES`]), drop the spool.
    fn close_archive(&mut self, mut archive: report::Archive, list: bool) {
        if list {
            let (entries, problems) = archive::list(&self.scratch.path, &self.limits);
            for p in problems {
                self.problem(p.kind, archive.offset, archive.line, p.message);
            }
            archive.entry_count = entries.len() as u64;
            archive.entries = entries;
            archive.entries.truncate(MAX_LISTED_ENTRIES);
        }
        let _ = std::fs::remove_file(&self.scratch.path);
        if self.summary.archives.len() < MAX_LISTED_ARCHIVES {
            self.summary.archives.push(archive);
        }
    }

    fn problem(&mut self, kind: Kind, offset: u64, line: u64, message: String) {
        let excerpt = self.excerpt.clone();
        let record = Value::Object(vec![(
            s("problem"),
            Value::Object(vec![
                (s("kind"), Value::Str(s(kind.name()))),
                (s("offset"), int(offset)),
                (s("line"), int(line)),
                (s("message"), Value::Str(s(&message))),
                (s("excerpt"), excerpt.as_deref().map_or(Value::Null, |e| Value::Str(s(e)))),
            ]),
        )]);
        if self.json_lines {
            pyjson::encode(&record, &mut self.out);
            self.out.push(b'\n');
        }
        self.summary.problems += 1;
        // The JSON lines carry every problem; the summary keeps the first ones for the report.
        if self.summary.problem_list.len() < MAX_LISTED_PROBLEMS {
            self.summary.problem_list.push(Problem { kind, offset, line, message, excerpt });
        }
        *self.summary.problem_kinds.entry(kind.name()).or_default() += 1;
    }
}

/// What the inspector reads of an event: the members it reports and checks, borrowed
/// from the line where it can be.
struct EventFields<'a> {
    /// `str()` of the `event` member ("" without one).
    event: Cow<'a, str>,
    /// `counter` and `uuid` as JSON, as `json.dumps` writes them.
    counter: Option<Cow<'a, [u8]>>,
    uuid: Option<Cow<'a, [u8]>>,
    /// `event_data.host`, when it is a string.
    host: Option<Cow<'a, str>>,
}

/// The text of a canonical JSON string: borrowed when it holds no escape, else decoded;
/// none when `json` is not a string.
#[allow(clippy::manual_contains)] // see below: the loop is the faster one here
fn canonical_str(json: &[u8], depth: usize) -> Option<Cow<'_, str>> {
    let inner = json.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    // A loop, not `contains`: that is a call to memchr, slow for names this short.
    if !inner.iter().any(|&b| b == b'\\') {
        // Canonical strings without escapes are printable ASCII.
        return std::str::from_utf8(inner).ok().map(Cow::Borrowed);
    }
    match pyjson::parse(json, depth).ok()? {
        Value::Str(text) => text.as_str().map(|t| Cow::Owned(t.to_string())),
        _ => None,
    }
}

/// The value of a nonempty run of ASCII digits, if it fits a u64 (without a `&str` to
/// parse: that costs a UTF-8 check per event).
fn decimal_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| if d.is_ascii_digit() { n.checked_mul(10)?.checked_add(u64::from(d - b'0')) } else { None })
}

/// Python's `str()` of the value `json` parses to (canonical JSON always parses).
fn python_str_of(json: &[u8], depth: usize) -> String {
    pyjson::parse(json, depth).map(|v| pyjson::python_str(&v)).unwrap_or_default()
}

/// The members every frame's JSON line starts with.
fn frame_record(offset: u64, line: u64, kind: &'static str) -> Vec<(PyStr, Value)> {
    vec![(s("offset"), int(offset)), (s("line"), int(line)), (s("frame"), Value::Str(s(kind)))]
}

fn s(text: &str) -> PyStr {
    PyStr::from_str(text)
}

fn int(n: u64) -> Value {
    Value::Int(n.to_string().into())
}

#[cfg(test)]
mod tests;
