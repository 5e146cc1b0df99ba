//! What a stream line is: the one rule the decoder and the inspector both use.
//!
//! ansible-runner 2.4.3 has no frame type on the wire; each reader looks for keys, first
//! match wins, and the two readers look for different ones. Its worker reads a job stream
//! (`kwargs`, then `zipfile`, then `eof`; any other line is skipped). Its processor reads
//! a result stream (`status`, then `zipfile`, then `eof`, then an `event` equal to
//! `"keepalive"`; any other object is handed to the event callback, which writes only
//! events with a truthy `counter` and `uuid`). So a `kwargs` member means something only in
//! a job stream, and a `status` member only in a result stream.
//!
//! The inspector may not know yet which stream it is reading. The first line of a job
//! stream is its `kwargs` line (upstream's transmitter writes it first), so until the
//! stream's kind is known a `kwargs` line is taken as that, and anything else is read as a
//! result stream's line.

use crate::pyjson::Value;

/// Which of the two streams is being read; it decides how lines are classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    /// transmit -> worker: `kwargs`, `zipfile`, `eof`.
    Job,
    /// worker -> process: `status`, events, keepalives, `zipfile`, `eof`.
    Result,
}

/// What a JSON line other than a `zipfile` line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    Kwargs,
    Status,
    Event,
    Keepalive,
    Eof,
    /// A job-stream line with none of the known keys: upstream's worker skips it.
    Other,
}

impl LineKind {
    pub fn name(self) -> &'static str {
        match self {
            LineKind::Kwargs => "kwargs",
            LineKind::Status => "status",
            LineKind::Event => "event",
            LineKind::Keepalive => "keepalive",
            LineKind::Eof => "eof",
            LineKind::Other => "other",
        }
    }
}

/// What a line is: a `zipfile` line starts an archive, any other is a [`LineKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Classified {
    Line(LineKind),
    ArchiveStart,
}

/// The top-level members of a JSON object that decide what it is, found either in a parsed
/// value ([`Members::of`]) or by a scan of its canonical text.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Members {
    pub kwargs: bool,
    pub status: bool,
    pub zipfile: bool,
    pub eof: bool,
    /// `event` is the string `"keepalive"`.
    pub keepalive: bool,
}

impl Members {
    pub(crate) fn of(object: &Value) -> Self {
        let has = |key: &str| object.get(key).is_some();
        Members {
            kwargs: has("kwargs"),
            status: has("status"),
            zipfile: has("zipfile"),
            eof: has("eof"),
            keepalive: object.get("event").and_then(Value::as_py_str).is_some_and(|s| s.as_wtf8() == b"keepalive"),
        }
    }
}

/// Classifies a JSON object in upstream's order of checks for `stream` (see the module
/// docs); `None` while the reader does not know which stream it is.
pub(crate) fn classify(stream: Option<StreamKind>, line: Members) -> Classified {
    let job_rules = stream != Some(StreamKind::Result);
    let result_rules = stream != Some(StreamKind::Job);
    let kind = if job_rules && line.kwargs {
        LineKind::Kwargs
    } else if result_rules && line.status {
        LineKind::Status
    } else if line.zipfile {
        return Classified::ArchiveStart;
    } else if line.eof {
        LineKind::Eof
    } else if !result_rules {
        LineKind::Other
    } else if line.keepalive {
        LineKind::Keepalive
    } else {
        LineKind::Event
    };
    Classified::Line(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(stream: Option<StreamKind>, json: &str) -> Classified {
        let value = crate::pyjson::parse(json.as_bytes(), 10).unwrap();
        classify(stream, Members::of(&value))
    }

    #[test]
    fn each_stream_knows_only_its_own_reader_s_keys() {
        use Classified::{ArchiveStart, Line};
        use LineKind::*;
        let (job, result, unknown) = (Some(StreamKind::Job), Some(StreamKind::Result), None);
        for (line, in_job, in_result, before_known) in [
            (r#"{"kwargs": {}}"#, Line(Kwargs), Line(Event), Line(Kwargs)),
            (r#"{"kwargs": {}, "status": "x"}"#, Line(Kwargs), Line(Status), Line(Kwargs)),
            (r#"{"status": "running"}"#, Line(Other), Line(Status), Line(Status)),
            (r#"{"zipfile": 3, "eof": true}"#, ArchiveStart, ArchiveStart, ArchiveStart),
            (r#"{"eof": true, "event": "keepalive"}"#, Line(Eof), Line(Eof), Line(Eof)),
            (r#"{"event": "keepalive", "counter": 0}"#, Line(Other), Line(Keepalive), Line(Keepalive)),
            (r#"{"event": "runner_on_ok", "counter": 1}"#, Line(Other), Line(Event), Line(Event)),
            (r#"{"hello": 1}"#, Line(Other), Line(Event), Line(Event)),
        ] {
            assert_eq!(kind_of(job, line), in_job, "{line} in a job stream");
            assert_eq!(kind_of(result, line), in_result, "{line} in a result stream");
            assert_eq!(kind_of(unknown, line), before_known, "{line} before the stream is known");
        }
    }
}
