//! The `transmit` stage: job kwargs and a private data dir in, a job stream out.
//!
//! The kwargs line carries the same keys, in the same order and with the same JSON types, as
//! upstream's CLI sends, so upstream workers run it unchanged. Where upstream's transmit
//! writes `env/cmdline` into the user's private data dir, we add that file to the archive
//! only: the same job reaches the worker and the source tree is left untouched.

use crate::archive::stream::ArchiveStream;
use crate::error::EntryError;
use crate::fsys::HostFs;
use crate::archive::pack::ExtraFile;
use crate::paths;
use crate::pyjson::{self, PyStr, Value};

/// What the user asked for on the transmit command line (upstream's option names).
#[derive(Clone, Debug, Default)]
pub struct TransmitRequest {
    /// Absolute host path of the private data dir (for upstream's path rules).
    pub private_data_dir: String,
    pub ident: String,
    pub binary: Option<String>,
    pub playbook: Option<String>,
    pub module: Option<String>,
    pub module_args: Option<String>,
    pub host_pattern: Option<String>,
    pub verbosity: Option<u32>,
    pub quiet: bool,
    pub rotate_artifacts: i64,
    pub json_mode: bool,
    pub omit_event_data: bool,
    pub only_failed_event_data: bool,
    /// Absolute when given (the host resolved it as upstream's `valid_inventory` does).
    pub inventory: Option<String>,
    pub forks: Option<String>,
    pub project_dir: Option<String>,
    pub artifact_dir: Option<String>,
    pub roles_path: Option<String>,
    pub container_image: Option<String>,
    pub container_volume_mounts: Option<Vec<String>>,
    pub container_options: Option<Vec<String>>,
    pub cmdline: Option<String>,
    pub limit: Option<String>,
    pub suppress_env_files: bool,
    /// Upstream's `-r`: a role run through a generated playbook in `project/`.
    pub role: Option<String>,
    pub role_vars: Option<String>,
    pub role_skip_facts: bool,
    /// File name for the generated playbook (upstream uses a fresh `uuid4().hex`).
    pub generated_name: String,
    /// Send only the kwargs line and eof (the API's `only_transmit_kwargs`).
    pub only_transmit_kwargs: bool,
    /// Seconds since the epoch, for files transmit adds (kept out of the core: no clocks).
    pub now: i64,
}

fn text(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::Null, |s| Value::Str(PyStr::from_str(s)))
}

fn texts(list: &Option<Vec<String>>) -> Value {
    list.as_ref()
        .map_or(Value::Null, |l| Value::Array(l.iter().map(|s| Value::Str(PyStr::from_str(s))).collect()))
}

/// The kwargs object, with `cmdline` left out when it travels as `env/cmdline` instead.
pub fn job_kwargs(req: &TransmitRequest, cmdline_as_file: bool) -> Value {
    let pdd = paths::normpath(&req.private_data_dir);
    let project = paths::join(&pdd, "project");
    let playbook = match &req.role {
        Some(_) => Some(req.generated_name.clone()),
        None => req.playbook.as_ref().map(|p| paths::relative_if_under(p, &project)),
    };
    let inventory = req.inventory.as_ref().map(|p| paths::relative_if_under(p, &pdd));
    let int = |n: i64| Value::Int(n.to_string().into());
    let mut fields: Vec<(&str, Value)> = vec![
        ("ident", Value::Str(PyStr::from_str(&req.ident))),
        ("binary", text(&req.binary)),
        ("playbook", text(&playbook)),
        ("module", text(&req.module)),
        ("module_args", text(&req.module_args)),
        ("host_pattern", text(&req.host_pattern)),
        ("verbosity", req.verbosity.map_or(Value::Null, |v| int(i64::from(v)))),
        ("quiet", Value::Bool(req.quiet)),
        ("rotate_artifacts", int(req.rotate_artifacts)),
        ("json_mode", Value::Bool(req.json_mode)),
        ("omit_event_data", Value::Bool(req.omit_event_data)),
        ("only_failed_event_data", Value::Bool(req.only_failed_event_data)),
        ("inventory", text(&inventory)),
        ("forks", text(&req.forks)),
        ("project_dir", text(&req.project_dir)),
        ("artifact_dir", text(&req.artifact_dir)),
        ("roles_path", req.roles_path.as_ref().map_or(Value::Null, |r| texts(&Some(vec![r.clone()])))),
        // Upstream's transmit has no isolation options, so these are always null.
        ("process_isolation", Value::Null),
        ("process_isolation_executable", Value::Null),
        ("process_isolation_path", Value::Null),
        ("process_isolation_hide_paths", Value::Null),
        ("process_isolation_show_paths", Value::Null),
        ("process_isolation_ro_paths", Value::Null),
        ("container_image", text(&req.container_image)),
        ("container_volume_mounts", texts(&req.container_volume_mounts)),
        ("container_options", texts(&req.container_options)),
        ("directory_isolation_base_path", Value::Null),
        ("cmdline", text(&req.cmdline)),
        ("limit", text(&req.limit)),
        ("suppress_env_files", Value::Bool(req.suppress_env_files)),
    ];
    if cmdline_as_file {
        fields.retain(|(k, _)| *k != "cmdline");
    }
    Value::Object(fields.into_iter().map(|(k, v)| (PyStr::from_str(k), v)).collect())
}

/// Pulls a job stream out in chunks: the kwargs line, the archive, `eof`.
pub struct Transmitter {
    header: Option<Vec<u8>>,
    archive: Option<ArchiveStream>,
    eof_sent: bool,
}

impl Transmitter {
    /// Builds the kwargs and, unless only kwargs are sent, packs `source` into `scratch_dir`.
    pub fn start(req: &TransmitRequest, source: &str, scratch_dir: &str, fs: &dyn HostFs) -> Result<Self, EntryError> {
        let cmdline_file = match &req.cmdline {
            Some(c) if !c.is_empty() && !req.suppress_env_files => {
                let existing = format!("{source}/env/cmdline");
                let exists = fs.lstat(&existing).map_err(|e| EntryError::io("cannot stat", &existing, e))?.is_some();
                (!exists).then(|| ExtraFile { name: "env/cmdline".into(), mode: 0o600, mtime: req.now, content: c.as_bytes().to_vec() })
            }
            _ => None,
        };
        let role_playbook = req.role.as_ref().map(|role| ExtraFile {
            name: format!("project/{}", req.generated_name),
            mode: 0o600,
            mtime: req.now,
            content: role_play(role, req.role_vars.as_deref(), req.role_skip_facts, req.host_pattern.as_deref()),
        });
        let mut header = b"{\"kwargs\": ".to_vec();
        pyjson::encode(&job_kwargs(req, cmdline_file.is_some()), &mut header);
        header.extend_from_slice(b"}\n");
        let archive = if req.only_transmit_kwargs {
            None
        } else {
            let extra: Vec<ExtraFile> = role_playbook.into_iter().chain(cmdline_file).collect();
            Some(ArchiveStream::pack(source, scratch_dir, fs, &extra)?)
        };
        Ok(Transmitter { header: Some(header), archive, eof_sent: false })
    }

    /// The next piece of the stream, `None` once `eof` has been handed out.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, EntryError> {
        if let Some(header) = self.header.take() {
            return Ok(Some(header));
        }
        if let Some(archive) = &mut self.archive {
            if let Some(chunk) = archive.next_chunk()? {
                return Ok(Some(chunk));
            }
            self.archive = None;
        }
        if self.eof_sent {
            return Ok(None);
        }
        self.eof_sent = true;
        Ok(Some(b"{\"eof\": true}\n".to_vec()))
    }
}

/// The play upstream's `role_manager` writes for `-r`: JSON of
/// `[{"hosts": ..., "gather_facts": ..., "roles": [{"name": ..., "vars": {...}}]}]`.
fn role_play(role: &str, role_vars: Option<&str>, skip_facts: bool, hosts: Option<&str>) -> Vec<u8> {
    let s = |t: &str| PyStr::from_str(t);
    let mut role_entry = vec![(s("name"), Value::Str(s(role)))];
    if let Some(vars) = role_vars.filter(|v| !v.is_empty()) {
        let members = vars
            .split_whitespace()
            .filter_map(|item| item.split_once('='))
            .map(|(k, v)| (s(k), python_literal(v)))
            .collect();
        role_entry.push((s("vars"), Value::Object(members)));
    }
    let play = Value::Array(vec![Value::Object(vec![
        (s("hosts"), Value::Str(s(hosts.unwrap_or("all")))),
        (s("gather_facts"), Value::Bool(!skip_facts)),
        (s("roles"), Value::Array(vec![Value::Object(role_entry)])),
    ])]);
    let mut out = Vec::new();
    pyjson::encode(&play, &mut out);
    out
}

/// The scalar subset of Python's `ast.literal_eval` that role variables use; anything else
/// stays a string, as upstream falls back to.
fn python_literal(text: &str) -> Value {
    match text {
        "True" => return Value::Bool(true),
        "False" => return Value::Bool(false),
        "None" => return Value::Null,
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && (digits == "0" || !digits.starts_with('0')) {
        let normalized = text.trim_start_matches('+');
        let normalized = if normalized.trim_start_matches('-').trim_start_matches('0').is_empty() { "0" } else { normalized };
        return Value::Int(normalized.into());
    }
    if digits.bytes().any(|b| b.is_ascii_digit()) && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'e' || b == b'E' || b == b'-' || b == b'+') {
        if let Ok(f) = text.parse::<f64>() {
            return Value::Float(f);
        }
    }
    for quote in ['\'', '"'] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            if !inner.contains(quote) && !inner.contains('\\') {
                return Value::Str(PyStr::from_str(inner));
            }
        }
    }
    Value::Str(PyStr::from_str(text))
}
