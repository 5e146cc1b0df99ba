//! What the inspector gathered: the `{"summary": ...}` JSON and the text report, and the
//! masking of secrets in kwargs.

use std::collections::BTreeMap;

use super::archive::Entry;
use super::tally::Tally;
use super::Problem;
use crate::pyjson::{self, PyStr, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub status: String,
    pub explanation: Option<String>,
    pub offset: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Archive {
    pub offset: u64,
    pub line: u64,
    pub size: u64,
    /// Entries in the archive (the listing keeps the first 10,000).
    pub entry_count: u64,
    pub entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// `job`, `result` or `unknown`.
    pub stream_kind: &'static str,
    pub bytes: u64,
    pub lines: u64,
    pub frames: Tally,
    pub kwargs: Option<Value>,
    pub statuses: Vec<Status>,
    pub status_count: u64,
    pub events_by_type: Tally,
    pub events_by_host: Tally,
    pub counters: Option<(u64, u64)>,
    pub last_counter: Option<u64>,
    pub keepalives: u64,
    pub archives: Vec<Archive>,
    pub data_after_eof: u64,
    pub problems: u64,
    pub problem_list: Vec<Problem>,
    pub problem_kinds: BTreeMap<&'static str, u64>,
    /// An eof frame was read and nothing was wrong.
    pub complete: bool,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            stream_kind: "unknown",
            bytes: 0,
            lines: 0,
            frames: Tally::default(),
            kwargs: None,
            statuses: Vec::new(),
            status_count: 0,
            events_by_type: Tally::default(),
            events_by_host: Tally::default(),
            counters: None,
            last_counter: None,
            keepalives: 0,
            archives: Vec::new(),
            data_after_eof: 0,
            problems: 0,
            problem_list: Vec::new(),
            problem_kinds: BTreeMap::new(),
            complete: false,
        }
    }
}

fn s(text: &str) -> PyStr {
    PyStr::from_str(text)
}

fn int(n: u64) -> Value {
    Value::Int(n.to_string().into())
}

fn counts<K: AsRef<str>>(map: impl IntoIterator<Item = (K, u64)>) -> Value {
    Value::Object(map.into_iter().map(|(k, n)| (s(k.as_ref()), int(n))).collect())
}

impl Summary {
    pub fn count_event(&mut self, event: &str, host: Option<&str>) {
        self.events_by_type.count(event);
        if let Some(host) = host {
            self.events_by_host.count(host);
        }
    }

    fn events(&self) -> u64 {
        self.events_by_type.total()
    }

    /// The `summary` object of `inspect --json` (key order is part of the format).
    pub fn to_value(&self) -> Value {
        let statuses = self
            .statuses
            .iter()
            .map(|st| {
                let mut m = vec![(s("offset"), int(st.offset)), (s("status"), Value::Str(s(&st.status)))];
                if let Some(why) = &st.explanation {
                    m.push((s("job_explanation"), Value::Str(s(why))));
                }
                Value::Object(m)
            })
            .collect();
        let archives = self
            .archives
            .iter()
            .map(|a| {
                let entries = a
                    .entries
                    .iter()
                    .map(|e| {
                        Value::Object(vec![
                            (s("name"), Value::Str(s(&e.name))),
                            (s("size"), int(e.size)),
                            (s("compressed_size"), int(e.compressed_size)),
                            (s("mode"), Value::Str(s(&format!("{:o}", e.mode)))),
                            (s("link"), e.link_target.as_deref().map_or(Value::Null, |t| Value::Str(s(t)))),
                            (s("crc_ok"), Value::Bool(e.crc_ok)),
                        ])
                    })
                    .collect();
                Value::Object(vec![(s("offset"), int(a.offset)), (s("size"), int(a.size)), (s("entry_count"), int(a.entry_count)), (s("entries"), Value::Array(entries))])
            })
            .collect();
        let counters = match self.counters {
            Some((lo, hi)) => Value::Array(vec![int(lo), int(hi)]),
            None => Value::Null,
        };
        Value::Object(vec![
            (s("stream"), Value::Str(s(self.stream_kind))),
            (s("bytes"), int(self.bytes)),
            (s("lines"), int(self.lines)),
            (s("complete"), Value::Bool(self.complete)),
            (s("frames"), counts(self.frames.sorted())),
            (s("kwargs"), self.kwargs.clone().unwrap_or(Value::Null)),
            (s("statuses"), Value::Array(statuses)),
            (
                s("events"),
                Value::Object(vec![
                    (s("total"), int(self.events())),
                    (s("counters"), counters),
                    (s("by_type"), counts(self.events_by_type.sorted())),
                    (s("by_host"), counts(self.events_by_host.sorted())),
                ]),
            ),
            (s("keepalives"), int(self.keepalives)),
            (s("archives"), Value::Array(archives)),
            (s("problems"), int(self.problems)),
            (s("problem_kinds"), counts(self.problem_kinds.iter().map(|(k, n)| (k, *n)))),
        ])
    }

    /// The report `inspect` prints for a person.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let verdict = if self.complete { "complete and valid".to_string() } else { format!("{} problem(s)", self.problems) };
        out.push_str(&format!("{} stream, {} bytes, {} lines: {verdict}\n", self.stream_kind, self.bytes, self.lines));
        if let Some(kwargs) = &self.kwargs {
            out.push_str("\nkwargs (secrets masked):\n");
            pretty(kwargs, 1, &mut out);
            out.push('\n');
        }
        if !self.statuses.is_empty() {
            out.push_str("\nstatuses:\n");
            for st in &self.statuses {
                match &st.explanation {
                    Some(why) => out.push_str(&format!("  byte {:>10}  {}: {why}\n", st.offset, st.status)),
                    None => out.push_str(&format!("  byte {:>10}  {}\n", st.offset, st.status)),
                }
            }
        }
        if self.events() > 0 {
            let range = self.counters.map(|(lo, hi)| format!(", counters {lo}-{hi}")).unwrap_or_default();
            out.push_str(&format!("\nevents: {}{range}\n", self.events()));
            for (label, map) in [("by type", &self.events_by_type), ("by host", &self.events_by_host)] {
                if !map.is_empty() {
                    out.push_str(&format!("  {label}:\n"));
                    for (k, n) in map.sorted() {
                        out.push_str(&format!("    {n:>7}  {k}\n"));
                    }
                }
            }
        }
        if self.keepalives > 0 {
            out.push_str(&format!("\nkeepalives: {}\n", self.keepalives));
        }
        for a in &self.archives {
            out.push_str(&format!("\narchive at byte {}: {} bytes of zip, {} entries\n", a.offset, a.size, a.entry_count));
            if !a.entries.is_empty() {
                out.push_str("  mode          size  compressed  crc  name\n");
                for e in &a.entries {
                    let link = e.link_target.as_deref().map(|t| format!(" -> {t}")).unwrap_or_default();
                    let crc = if e.crc_ok { "ok " } else { "BAD" };
                    out.push_str(&format!("  {:<8} {:>9} {:>11}  {crc}  {}{link}\n", format!("{:o}", e.mode), e.size, e.compressed_size, e.name));
                }
            }
        }
        if !self.problem_list.is_empty() {
            out.push_str("\nproblems:\n");
            if self.problems > self.problem_list.len() as u64 {
                out.push_str(&format!("  (the first {} of {}; --json lists them all)\n", self.problem_list.len(), self.problems));
            }
            for p in &self.problem_list {
                out.push_str(&format!("  byte {}, line {}: {}: {}\n", p.offset, p.line, p.kind.name(), p.message));
                if let Some(excerpt) = &p.excerpt {
                    out.push_str(&format!("      at: {excerpt:?}\n"));
                }
            }
        }
        out
    }
}

/// kwargs with secrets replaced: `passwords`, `ssh_key` and `container_auth_data` values,
/// and any value under a key whose name says key, token, password or secret.
pub fn mask(value: Value) -> Value {
    mask_under(value, false)
}

fn secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["key", "token", "password", "passwd", "secret"].iter().any(|w| lower.contains(w))
}

fn mask_under(value: Value, secret: bool) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(k, v)| {
                    let name = k.to_string_lossy();
                    let whole = matches!(name.as_str(), "passwords" | "ssh_key" | "container_auth_data");
                    let v = mask_under(v, secret || whole || secret_name(&name));
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| mask_under(v, secret)).collect()),
        Value::Null => Value::Null,
        _ if secret => Value::Str(s("********")),
        other => other,
    }
}

/// JSON with two-space indents, for the text report.
fn pretty(value: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    match value {
        Value::Object(members) if !members.is_empty() => {
            out.push_str("{\n");
            for (i, (k, v)) in members.iter().enumerate() {
                out.push_str(&format!("{pad}  {}: ", pyjson::encode_to_string(&Value::Str(k.clone()))));
                pretty(v, depth + 1, out);
                out.push_str(if i + 1 < members.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{pad}}}"));
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                out.push_str(&format!("{pad}  "));
                pretty(v, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{pad}]"));
        }
        other => out.push_str(&pyjson::encode_to_string(other)),
    }
}
