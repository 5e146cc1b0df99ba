//! The one place that decides what may differ between two workers' result streams for the
//! same job: run-specific values (uuids, times, pids, durations, inode numbers and change
//! times of the unpacked files), the private data dir and
//! temp paths, the callback plugin's name and directory, and the worker's own environment
//! (only the variables the runner sets are compared). Lines are compared as text, so key
//! order and number formatting count. Everything else — frames, their order, event types,
//! counters, stdout text, start/end lines, event_data — must be equal.

use std::collections::HashMap;

use regex::Regex;

pub struct Normalizer {
    uuids: HashMap<String, usize>,
    literals: Vec<(String, &'static str)>,
    uuid: Regex,
    patterns: Vec<(Regex, &'static str)>,
}

impl Normalizer {
    /// `literals`: (text, placeholder) pairs replaced first, e.g. the worker's pdd.
    pub fn new(literals: Vec<(String, &'static str)>) -> Self {
        // The patterns are constant and valid: a failure here is a bug caught by every test.
        let patterns = [
            // Python's isoformat leaves the fraction out when it is zero (one event in a million).
            (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00)?", "<time>"),
            (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+", "<time>"),
            (r"\d+:\d{2}:\d{2}\.\d{6}", "<delta>"),
            (r#""(pid|ansible_pid)": \d+"#, r#""$1": <pid>"#),
            (r#""duration": [0-9.e-]+"#, r#""duration": <duration>"#),
            // Two unpacked copies of one file differ only in identity, device and change time.
            (r#""(inode|ctime|dev)": [0-9.e+]+"#, r#""$1": <stat>"#),
            // Inode version and extended attributes belong to the file system (ext4 has
            // "extents", tmpfs none), as do its block counts.
            (
                r#""version": (null|"\d+"), "attributes": \[[^\]]*\], "attr_flags": "[^"]*""#,
                r#""version": <stat>, "attributes": <stat>, "attr_flags": <stat>"#,
            ),
            (r#""(blocks|block_size)": \d+"#, r#""$1": <stat>"#),
            (r"/tmp/[A-Za-z0-9._/-]+", "<tmp>"),
            (r"awx_display|runnerwire_display", "<callback>"),
            // Where the node's python lives is the node's business.
            (r#""(executable|ansible_playbook_python)": "[^"]*""#, r#""$1": "<python>""#),
        ]
        .into_iter()
        .map(|(p, r)| (Regex::new(p).expect("a valid pattern"), r))
        .collect();
        let uuid = Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").expect("a valid pattern");
        Normalizer {
            uuids: HashMap::new(),
            literals,
            uuid,
            patterns,
        }
    }

    /// One JSON line of a result stream, normalized.
    pub fn line(&mut self, line: &str) -> String {
        let line = if line.starts_with("{\"status\": \"starting\"") {
            self.starting(line)
        } else {
            line.to_string()
        };
        let mut s = line;
        for (literal, placeholder) in &self.literals {
            s = s.replace(literal.as_str(), placeholder);
        }
        // Uuids by order of first appearance, so parent links still have to match.
        let mut out = String::new();
        let mut last = 0;
        for m in self.uuid.find_iter(&s) {
            let next = self.uuids.len();
            let n = *self.uuids.entry(m.as_str().to_string()).or_insert(next);
            out.push_str(&s[last..m.start()]);
            out.push_str(&format!("<uuid{n}>"));
            last = m.end();
        }
        out.push_str(&s[last..]);
        for (re, replacement) in &self.patterns {
            out = re.replace_all(&out, *replacement).into_owned();
        }
        out
    }

    /// The starting status carries the worker's whole environment; keep what the runner sets.
    fn starting(&self, line: &str) -> String {
        let Ok(mut value) = serde_json::from_str::<serde_json::Value>(line) else { return line.to_string() };
        if let Some(env) = value.get_mut("env").and_then(|e| e.as_object_mut()) {
            env.retain(|k, _| {
                k.starts_with("ANSIBLE_")
                    || k.starts_with("RUNNER_")
                    || k.starts_with("AWX_")
                    || k == "AD_HOC_COMMAND_ID"
            });
            // Each worker ships its own callback plugin, from its own directory.
            if let Some(dir) = env.get_mut("ANSIBLE_CALLBACK_PLUGINS") {
                *dir = serde_json::Value::from("<callback-dir>");
            }
        }
        value.to_string()
    }
}

/// Lines grouped by `"host"` (none for play-level lines), order kept within a group, with
/// what depends on the interleaving (counters, line numbers, uuid numbering) removed: with
/// several hosts, ansible's results thread orders events differently from run to run.
pub fn per_host(lines: &[String]) -> std::collections::BTreeMap<String, Vec<String>> {
    let host = Regex::new(r#""host": "([^"]*)""#).expect("a valid pattern");
    let positions = Regex::new(r#""(counter|start_line|end_line)": \d+, "#).expect("a valid pattern");
    let uuids = Regex::new(r"<uuid\d+>").expect("a valid pattern");
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for line in lines {
        let key = host.captures(line).map(|c| c[1].to_string()).unwrap_or_default();
        let line = uuids.replace_all(&positions.replace_all(line, ""), "<uuid>").into_owned();
        groups.entry(key).or_default().push(line);
    }
    groups
}
