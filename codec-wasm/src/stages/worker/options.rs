//! The job's options as upstream's RunnerConfig resolves them: a kwarg, overridden by the
//! same key in `env/settings` where upstream lets settings win, with upstream's defaults.
//! Keys upstream does not read are ignored, as it ignores them.

use crate::pyjson::{self, Value};

/// One job's resolved options (everything but the command itself).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobOptions {
    /// `process_isolation` with `docker` or `podman` (upstream's `containerized`).
    pub container: Option<ContainerOptions>,
    /// `process_isolation` with any other executable (upstream's bwrap `sandboxed`).
    pub sandbox_executable: Option<String>,
    /// settings `suppress_output_file`: no `stdout`/`stderr` artifacts (ansible-runner#723).
    pub suppress_output_file: bool,
    /// kwarg `json_mode`: the `stdout` artifact holds each event's JSON instead of its text.
    pub json_mode: bool,
    /// kwarg `timeout`, else settings `job_timeout`.
    pub job_timeout: Option<u64>,
    /// settings `idle_timeout`.
    pub idle_timeout: Option<u64>,
    /// kwarg `fact_cache_type` is `jsonfile` (the default): ansible's jsonfile fact cache.
    pub fact_cache_jsonfile: bool,
    /// The fact cache directory's name under the artifact dir: kwarg `fact_cache`, or
    /// settings `fact_cache` when settings `fact_cache_type` is absent or `jsonfile`.
    pub fact_cache: String,
}

/// What a containerized job asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerOptions {
    /// `docker` or `podman`.
    pub engine: String,
    pub image: String,
    pub volume_mounts: Vec<String>,
    pub options: Vec<String>,
    pub workdir: Option<String>,
    pub auth: Option<RegistryAuth>,
}

/// `container_auth_data`.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryAuth {
    /// The registry host as a JSON key (upstream's `json.dumps` of a dict key).
    pub host: Value,
    /// `f"{username}:{password}"`.
    pub credentials: String,
    /// `verify_ssl` is exactly `false`: the registry is written as insecure.
    pub insecure: bool,
}

/// Settings read from `env/settings`, in file order.
pub type Settings = [(String, Value)];

fn setting<'a>(settings: &'a Settings, key: &str) -> Option<&'a Value> {
    settings.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// `settings.get(key, kwargs.get(key))`: settings win even with a null.
fn overridden<'a>(kwargs: &'a Value, settings: &'a Settings, key: &str) -> Option<&'a Value> {
    setting(settings, key).or_else(|| kwargs.get(key)).filter(|v| !v.is_null())
}

/// Whole seconds of a positive number; anything else means "no limit".
fn seconds(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Int(t) => t.parse::<u64>().ok().filter(|&n| n > 0),
        Value::Float(f) if *f > 0.0 && f.is_finite() => Some(f.ceil() as u64),
        _ => None,
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().map(pyjson::python_str).collect(),
        Some(Value::Str(s)) => vec![s.to_string_lossy()],
        _ => Vec::new(),
    }
}

/// The process isolation executable a job's kwargs ask for, as upstream's `init_runner`
/// reads them before anything else: `process_isolation_executable` (else podman) when
/// `process_isolation` is set. Upstream exits when it is not installed.
pub fn isolation_executable(kwargs: &Value) -> Option<String> {
    kwargs.get("process_isolation").filter(|v| v.is_truthy())?;
    Some(kwargs.get("process_isolation_executable").filter(|v| v.is_truthy()).map_or_else(|| "podman".into(), pyjson::python_str))
}

/// Resolves the options; an error is upstream's ConfigurationError text.
pub fn resolve(kwargs: &Value, settings: &Settings) -> Result<JobOptions, String> {
    let truthy = |v: Option<&Value>| v.is_some_and(Value::is_truthy);
    let isolation = truthy(setting(settings, "process_isolation").or_else(|| kwargs.get("process_isolation")));
    // `process_isolation_executable or "podman"`, then settings win, even with a falsy value.
    let executable = match setting(settings, "process_isolation_executable") {
        Some(v) => v.is_truthy().then(|| pyjson::python_str(v)),
        None => Some(kwargs.get("process_isolation_executable").filter(|v| v.is_truthy()).map_or_else(|| "podman".into(), pyjson::python_str)),
    };
    let (mut container, mut sandbox_executable) = (None, None);
    if let (true, Some(executable)) = (isolation, executable.clone().filter(|e| matches!(e.as_str(), "docker" | "podman"))) {
        let image = overridden(kwargs, settings, "container_image").filter(|v| v.is_truthy());
        let Some(image) = image else {
            return Err(format!("container_image required when specifying process_isolation_executable={executable}"));
        };
        let auth = overridden(kwargs, settings, "container_auth_data").filter(|v| v.is_truthy()).map(registry_auth);
        container = Some(ContainerOptions {
            engine: executable,
            image: pyjson::python_str(image),
            volume_mounts: strings(overridden(kwargs, settings, "container_volume_mounts")),
            options: strings(overridden(kwargs, settings, "container_options")),
            workdir: kwargs.get("container_workdir").filter(|v| v.is_truthy()).map(pyjson::python_str),
            auth,
        });
    } else if isolation {
        sandbox_executable = Some(executable.unwrap_or_else(|| "bwrap".into()));
    }
    let fact_cache_jsonfile = kwargs.get("fact_cache_type").filter(|v| !v.is_null()).is_none_or(|v| v.as_str() == Some("jsonfile"));
    let mut fact_cache = kwargs.get("fact_cache").filter(|v| v.is_truthy()).map(pyjson::python_str).unwrap_or_else(|| "fact_cache".into());
    if let Some(name) = setting(settings, "fact_cache") {
        if setting(settings, "fact_cache_type").is_none_or(|t| t.as_str() == Some("jsonfile")) {
            fact_cache = pyjson::python_str(name);
        }
    }
    let timeout = kwargs.get("timeout").filter(|v| v.is_truthy());
    Ok(JobOptions {
        container,
        sandbox_executable,
        suppress_output_file: truthy(setting(settings, "suppress_output_file")),
        json_mode: truthy(kwargs.get("json_mode")),
        job_timeout: if timeout.is_some() { seconds(timeout) } else { seconds(setting(settings, "job_timeout")) },
        idle_timeout: seconds(setting(settings, "idle_timeout")),
        fact_cache_jsonfile,
        fact_cache,
    })
}

fn registry_auth(data: &Value) -> RegistryAuth {
    let field = |key: &str| data.get(key).map(pyjson::python_str).unwrap_or_else(|| "None".into());
    RegistryAuth {
        host: data.get("host").cloned().unwrap_or(Value::Null),
        credentials: format!("{}:{}", field("username"), field("password")),
        insecure: data.get("verify_ssl") == Some(&Value::Bool(false)),
    }
}
