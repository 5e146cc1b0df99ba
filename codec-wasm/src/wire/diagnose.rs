//! What is wrong with a line, a counter or an archive's base64: the one classifier of
//! damage. The decoder (so `process` and `worker`) stops at the first problem it names;
//! the inspector (`inspect`, `validate`) reports each and reads on. Both take the kind,
//! the place and the words from here, so every tool says the same thing about one stream.

use crate::error::{Problem, StreamError};
use crate::pyjson::{self, Value};

/// How much of a line a message quotes.
pub const MAX_EXCERPT: usize = 80;

/// A problem found, before it is placed on a stream line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    pub problem: Problem,
    /// Byte offset in the stream.
    pub offset: u64,
    pub message: String,
}

impl Diagnosis {
    fn new(problem: Problem, offset: u64, message: String) -> Self {
        Diagnosis { problem, offset, message }
    }

    /// As an error on stream line `line`, quoting `text` (the line it is in).
    pub fn error(self, line: u64, text: &[u8]) -> StreamError {
        StreamError::problem(self.problem, self.offset, self.message).on_line(line).quoting(text)
    }
}

/// What a line (without its newline) is.
#[derive(Debug)]
pub enum LineCheck {
    /// A JSON object: a frame.
    Frame(Value),
    /// Starts like a frame but does not parse: the first half of a split line, or bad JSON.
    /// Only the next line tells ([`judge_broken`]).
    Broken { error: String },
    /// Two or more frames on one line: the newline before byte `split` of the line is missing.
    Glued { split: usize, diagnosis: Diagnosis },
    /// Anything else that is wrong with it.
    Problem(Diagnosis),
}

/// Checks one line that starts at stream byte `offset`; `terminated`: a newline ended it
/// (else the stream ended inside it).
pub fn check_line(line: &[u8], offset: u64, terminated: bool, max_depth: usize) -> LineCheck {
    if line.iter().all(u8::is_ascii_whitespace) {
        return LineCheck::Problem(Diagnosis::new(Problem::ForeignText, offset, "a blank line where a JSON frame was expected".into()));
    }
    match pyjson::parse(line, max_depth) {
        Ok(value @ Value::Object(_)) => LineCheck::Frame(value),
        Ok(_) => LineCheck::Problem(Diagnosis::new(
            Problem::ForeignText,
            offset,
            format!("JSON that is not a frame (not an object): {}", excerpt(line)),
        )),
        Err(e) if e.too_deep => LineCheck::Problem(Diagnosis::new(Problem::JsonTooDeep, offset + e.offset as u64, e.message)),
        Err(e) => {
            if let Some(split) = glued_at(line, max_depth) {
                let at = offset + split as u64;
                let message = format!("two JSON frames on one line: the newline before byte {at} is missing");
                LineCheck::Glued { split, diagnosis: Diagnosis::new(Problem::GluedLines, at, message) }
            } else if !terminated {
                LineCheck::Problem(Diagnosis::new(Problem::TruncatedLine, offset, format!("the stream ends inside this line: {}", excerpt(line))))
            } else if line.trim_ascii_start().starts_with(b"{") {
                LineCheck::Broken { error: e.to_string() }
            } else {
                LineCheck::Problem(Diagnosis::new(Problem::ForeignText, offset, format!("text that is not JSON: {}", excerpt(line))))
            }
        }
    }
}

/// A [`LineCheck::Broken`] line (`broken`, on stream line `broken_line` at `broken_offset`)
/// judged with the line after it (`next`, on line `next_line`): one frame split in two
/// when they parse joined (the frame and the split-line problem), else bad JSON.
pub fn judge_broken(
    broken: &[u8],
    broken_offset: u64,
    broken_line: u64,
    error: &str,
    next: Option<(&[u8], u64)>,
    max_depth: usize,
) -> Result<(Value, Diagnosis), Diagnosis> {
    if let Some((next, next_line)) = next {
        let mut joined = Vec::with_capacity(broken.len() + next.len());
        joined.extend_from_slice(broken);
        joined.extend_from_slice(next);
        if let Ok(value @ Value::Object(_)) = pyjson::parse(&joined, max_depth) {
            let at = broken_offset + broken.len() as u64;
            let message = format!(
                "a newline at byte {at} splits one JSON line in two (lines {broken_line} and {next_line}); joined, it is a valid frame"
            );
            return Ok((value, Diagnosis::new(Problem::SplitLine, at, message)));
        }
    }
    Err(Diagnosis::new(Problem::BadJson, broken_offset, format!("invalid JSON line ({error}): {}", excerpt(broken))))
}

/// Upstream's counters go 1, 2, 3...: a jump or a step back is a problem.
pub fn check_counter(last: Option<u64>, counter: u64) -> Option<(Problem, String)> {
    let last = last?;
    if counter > last + 1 {
        Some((Problem::CounterGap, format!("event counter jumps from {last} to {counter}: {} events missing before this one", counter - last - 1)))
    } else if counter <= last {
        Some((Problem::CounterRepeat, format!("event counter {counter} again after {last}: a repeated or reordered event")))
    } else {
        None
    }
}

/// The problem with the file name `process` would give an event whose `counter` and `uuid`
/// are these JSON texts (as the stream has them), if it would write one: a name that is not
/// one plain file name (upstream writes wherever a `/` in the uuid points).
pub fn event_file_problem(counter: &[u8], uuid: &[u8], max_depth: usize) -> Option<(Problem, String)> {
    // Canonical counters and uuids are short and hold no '/' or escape: most events stop here.
    let suspicious = |json: &[u8]| json.iter().any(|&b| b == b'/' || b == b'\\');
    if counter.len() + uuid.len() < 200 && !suspicious(counter) && !suspicious(uuid) {
        return None;
    }
    let (counter, uuid) = (pyjson::parse(counter, max_depth).ok()?, pyjson::parse(uuid, max_depth).ok()?);
    if !counter.is_truthy() || !uuid.is_truthy() {
        return None;
    }
    let refused = crate::paths::event_file_name(&pyjson::python_str(&counter), &pyjson::python_str(&uuid)).err()?;
    Some((refused.problem, refused.message))
}

/// The kwargs ansible-runner 2.4.3's worker takes: its `RunnerConfig` and `BaseConfig`
/// parameters, and the logging options its `init_runner` removes first. It crashes on any
/// other (a `TypeError`, no status, no eof).
pub const KNOWN_KWARGS: [&str; 51] = [
    "artifact_dir", "binary", "check_job_event_data", "cmdline", "container_auth_data", "container_image",
    "container_options", "container_volume_mounts", "container_workdir", "debug", "directory_isolation_base_path",
    "envvars", "extravars", "fact_cache", "fact_cache_type", "forks", "host_cwd", "host_pattern", "ident",
    "ignore_logging", "inventory", "json_mode", "keepalive_seconds", "limit", "logfile", "module", "module_args",
    "omit_event_data", "only_failed_event_data", "passwords", "playbook", "private_data_dir", "process_isolation",
    "process_isolation_executable", "process_isolation_hide_paths", "process_isolation_path",
    "process_isolation_ro_paths", "process_isolation_show_paths", "project_dir", "quiet", "roles_path",
    "rotate_artifacts", "settings", "skip_tags", "ssh_key", "suppress_ansible_output", "suppress_env_files",
    "suppress_output_file", "tags", "timeout", "verbosity",
];

/// Why a job stream's kwargs cannot be run, if they cannot: upstream's worker fails to parse
/// anything but an object, crashes on an inventory that is not a string path, and crashes
/// on a kwarg it does not know (from a newer controller, say). A job is never run with part
/// of what it asked for left out.
pub fn job_kwargs_problem(kwargs: &Value) -> Option<String> {
    let Value::Object(members) = kwargs else { return Some("job kwargs must be a JSON object".into()) };
    let unknown: Vec<String> = members
        .iter()
        .map(|(key, _)| key.to_string_lossy())
        .filter(|key| !KNOWN_KWARGS.contains(&key.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Some(format!("Job kwargs that ansible-runner 2.4.3 does not take: {}.", unknown.join(", ")));
    }
    match kwargs.get("inventory") {
        Some(v) if v.is_truthy() && v.as_str().is_none() => Some("Job kwargs 'inventory' must be a string path.".into()),
        _ => None,
    }
}

/// A job stream that reaches its eof frame without kwargs.
pub const NO_KWARGS: &str = "job stream has no kwargs before its eof frame";

/// The byte count a `zipfile` frame announces, or why it is not one.
pub fn archive_size(frame: &Value) -> Result<u64, String> {
    match frame.get("zipfile") {
        Some(Value::Int(text)) if text.parse::<u64>().is_ok() => Ok(text.parse().unwrap_or_default()),
        _ => {
            let mut json = Vec::new();
            pyjson::encode(frame, &mut json);
            Err(format!("zipfile size is not a byte count: {}", excerpt(&json)))
        }
    }
}

/// The problem with a `zipfile` of `size` bytes under a `max`-byte limit, if any.
pub fn archive_too_large(size: u64, max: u64) -> Option<String> {
    (size > max).then(|| format!("zipfile of {size} bytes is over the {max}-byte limit (max archive bytes)"))
}

/// A line over the limit.
pub fn line_too_long(max: u64) -> String {
    format!("line longer than the {max}-byte limit (max line bytes)")
}

/// Whether a frame starts at `byte` inside an archive's base64: the text stopped early (cut
/// short), which is told apart from a bad character in it.
pub fn ends_base64(byte: u8) -> bool {
    byte == b'{'
}

/// The base64 stopped at a frame, `remaining` characters short of a `size`-byte zipfile.
pub fn base64_cut_short(remaining: u64, size: u64) -> String {
    format!("the zipfile's base64 stops {remaining} characters short of its {size} bytes: a frame starts here")
}

/// The stream ended `remaining` characters into a `size`-byte zipfile's base64.
pub fn stream_ends_in_archive(remaining: u64, size: u64) -> String {
    format!("the stream ends {remaining} base64 characters short of the {size}-byte zipfile")
}

/// A byte that is not base64 inside the archive's text.
pub fn bad_base64(why: &str) -> String {
    format!("invalid base64 in the zipfile data: {why}")
}

/// The stream ended where a frame should start.
pub const MISSING_EOF: &str = "the stream ends without an eof frame";

/// Where a second JSON object starts on a line whose two halves both parse.
pub fn glued_at(line: &[u8], max_depth: usize) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = line[from..].windows(2).position(|w| w == b"}{") {
        let split = from + i + 1;
        if matches!(pyjson::parse(&line[..split], max_depth), Ok(Value::Object(_)))
            && (pyjson::parse(&line[split..], max_depth).is_ok() || glued_at(&line[split..], max_depth).is_some())
        {
            return Some(split);
        }
        from = split;
    }
    None
}

/// The first bytes of a line as text (lossy), for the `excerpt` of a problem.
pub fn excerpt_text(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(&line[..line.len().min(MAX_EXCERPT)]).into_owned();
    if line.len() > MAX_EXCERPT {
        text + "…"
    } else {
        text
    }
}

/// The first bytes of a line, quoted, for a message.
pub fn excerpt(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(&line[..line.len().min(MAX_EXCERPT)]);
    let more = if line.len() > MAX_EXCERPT { "…" } else { "" };
    format!("{:?}{more}", text.as_ref())
}
