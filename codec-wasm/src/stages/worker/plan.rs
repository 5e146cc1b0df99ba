//! What to run for a job: upstream's RunnerConfig rules, from the kwargs and the files in
//! the private data dir, as plain data for the host to execute.

use crate::paths;
use crate::pyjson::{self, PyStr, Value};
use crate::stages::worker::container::{self, ContainerRun};
use crate::stages::worker::options::{self, JobOptions};
use crate::stages::worker::{envfile, shlex};

/// A job ready to start. Paths are host paths, except inside a container's command.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub ident: String,
    pub command: Vec<String>,
    /// The job's working directory as upstream reports it (a container path when containerized).
    pub cwd: String,
    /// The job's environment, in upstream's order, as reported in the `starting` status and
    /// the `command` artifact (a container's own environment when containerized).
    pub env: Vec<(String, String)>,
    /// Host path of `artifacts/<ident>`.
    pub artifact_dir: String,
    /// `timeout` kwarg or `env/settings` `job_timeout`: seconds before status `timeout`.
    pub job_timeout: Option<u64>,
    /// `env/settings` `idle_timeout`: seconds without output before the same.
    pub idle_timeout: Option<u64>,
    /// `env/passwords`: prompt regex -> answer.
    pub passwords: Vec<(String, String)>,
    /// `rotate_artifacts`: keep only this many artifact dirs (0: all).
    pub rotate_artifacts: u32,
    /// `env/ssh_key`: handed to ssh-agent through a FIFO at `ssh_key_fifo`, never a file.
    pub ssh_key: Option<String>,
    pub ssh_key_fifo: Option<String>,
    /// What the spawned process gets: `env` itself, or for a container engine the worker's
    /// environment with `env` over it (the engine needs PATH, auth, storage settings).
    pub process_env: Vec<(String, String)>,
    /// Where the process starts; `None`: the worker's own directory (a container engine).
    pub process_cwd: Option<String>,
    /// Host directory the callback plugin goes in (replaced if it exists).
    pub callback_dir: String,
    /// No `stdout`/`stderr` artifacts (env/settings `suppress_output_file`).
    pub suppress_output_file: bool,
    /// The `stdout` artifact holds events as JSON (kwarg `json_mode`).
    pub json_mode: bool,
    /// Set when the job runs in a container.
    pub container: Option<ContainerRun>,
}

/// What the host knows that the plan needs.
#[derive(Clone, Debug)]
pub struct JobHost {
    /// Host path of the private data dir.
    pub pdd: String,
    /// The worker's own environment.
    pub inherited_env: Vec<(String, String)>,
    /// A private temp dir for the callback plugin (used when not containerized).
    pub callback_dir: String,
    /// An ident for jobs that bring none.
    pub fallback_ident: String,
    /// A private temp dir for registry credentials (used when the job brings some).
    pub auth_dir: String,
    /// The worker's uid (docker's `--user`).
    pub uid: u32,
}

/// The files of the private data dir a plan reads, relative to it.
pub const PDD_FILES: [&str; 7] = ["args", "env/cmdline", "env/envvars", "env/settings", "env/passwords", "env/ssh_key", "env/extravars"];

/// Files of the private data dir the plan depends on (read by the caller from the grant).
#[derive(Clone, Debug, Default)]
pub struct PddFiles {
    /// `args`: a whole command line (upstream's RAW mode, as AWX's inventory updates use).
    pub args: Option<String>,
    pub cmdline: Option<String>,
    pub envvars: Option<String>,
    pub settings: Option<String>,
    pub passwords: Option<String>,
    pub ssh_key: Option<String>,
    pub has_extravars: bool,
    pub has_inventory_dir: bool,
    pub has_project_dir: bool,
    /// Regular files of the private data dir, by path relative to it, that the kwargs name
    /// (a string `extravars` is a file to pass with `-e @`).
    pub named_files: Vec<String>,
}

fn text(kwargs: &Value, key: &str) -> Option<String> {
    match kwargs.get(key)? {
        Value::Null => None,
        Value::Str(s) => Some(s.to_string_lossy()),
        other => Some(pyjson::python_str(other)),
    }
}

/// What runs: upstream's execution modes.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Playbook,
    AdHoc,
    /// `args` file or `binary`: the command as given.
    Raw,
}

/// Why a job cannot run: upstream's ConfigurationError text, and whether the job asked for
/// process isolation this node cannot give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub explanation: String,
    pub isolation: bool,
}

impl From<String> for Refusal {
    fn from(explanation: String) -> Self {
        Refusal { explanation, isolation: false }
    }
}

impl From<&str> for Refusal {
    fn from(explanation: &str) -> Self {
        Refusal::from(explanation.to_string())
    }
}

/// Builds the plan, or says why the job cannot run.
pub fn plan(kwargs: &Value, host: &JobHost, files: &PddFiles) -> Result<Plan, Refusal> {
    let pdd = host.pdd.as_str();
    let ident = text(kwargs, "ident").unwrap_or_else(|| host.fallback_ident.clone());
    let artifacts_base = text(kwargs, "artifact_dir").unwrap_or_else(|| paths::join(pdd, "artifacts"));
    let artifact_dir = paths::join(&artifacts_base, &ident);
    let module = text(kwargs, "module");
    let playbook = text(kwargs, "playbook");
    if module.is_some() && playbook.is_some() {
        return Err("Only one of playbook and module options are allowed".into());
    }
    let settings = match &files.settings {
        Some(text) => envfile::mapping(text, "env/settings")?,
        None => Vec::new(),
    };
    let options = options::resolve(kwargs, &settings)?;
    if let Some(executable) = &options.sandbox_executable {
        let explanation = format!("process_isolation with {executable} (a bubblewrap sandbox) is not supported by runnerwire; use podman or docker");
        return Err(Refusal { explanation, isolation: true });
    }
    let container = options.container.as_ref();
    if container.is_some() && kwargs.get("host_cwd").is_some_and(Value::is_truthy) {
        return Err("host_cwd with containerized execution is not supported by runnerwire".into());
    }
    let in_container = |host_path: String, container_path: &str| if container.is_some() { container_path.to_string() } else { host_path };
    let adhoc = kwargs.get("binary").is_none_or(Value::is_null) && module.is_some();

    let env = job_env(kwargs, host, files, &options, &ident, &artifact_dir, adhoc)?;
    let (mut command, mode) = match &files.args {
        Some(args) => (shlex::split(args).ok_or("args has an unclosed quote or trailing backslash")?, Mode::Raw),
        None => ansible_command(kwargs, pdd, files, container.is_some(), &module, &playbook)?,
    };
    if mode == Mode::Playbook && playbook.is_none() {
        return Err("Runner playbook required when running ansible-playbook".into());
    }
    if command.is_empty() {
        return Err("No executable for runner to run".into());
    }

    let project_dir = text(kwargs, "project_dir").unwrap_or_else(|| paths::join(pdd, "project"));
    let has_adhoc_id = env.iter().any(|(k, _)| k == "AD_HOC_COMMAND_ID");
    let mut cwd = if has_adhoc_id || !files.has_project_dir { pdd.to_string() } else { project_dir };
    let mut passwords: Vec<(String, String)> = match &files.passwords {
        Some(text) => envfile::mapping(text, "env/passwords")?.into_iter().map(|(k, v)| (k, pyjson::python_str(&v))).collect(),
        None => Vec::new(),
    };
    if let Some(Value::Object(extra)) = kwargs.get("passwords") {
        passwords.extend(extra.iter().map(|(k, v)| (k.to_string_lossy(), pyjson::python_str(v))));
    }
    let ssh_key = text(kwargs, "ssh_key").or_else(|| files.ssh_key.clone()).filter(|k| !k.is_empty());
    let ssh_key_fifo = ssh_key.as_ref().map(|_| paths::join(&artifact_dir, "ssh_key_data"));
    if ssh_key_fifo.is_some() {
        // Upstream's wrap_args_with_ssh_agent: the agent reads the key from the FIFO, which
        // is removed right after (and on exit, should ssh-add fail). In a container the
        // agent runs inside it and finds the FIFO under /runner.
        let fifo = in_container(paths::join(&artifact_dir, "ssh_key_data"), &container::artifact_path(&ident, "ssh_key_data"));
        let cleanup = format!("rm -f {fifo}");
        let script = [
            shlex::join(&["trap".into(), cleanup.clone(), "EXIT".into()]),
            shlex::join(&["ssh-add".into(), fifo.clone()]),
            cleanup,
            shlex::join(&command),
        ]
        .join(" && ");
        command = vec!["ssh-agent".into(), "sh".into(), "-c".into(), script];
    }
    let mut env = env;
    let (process_env, process_cwd, run, callback_dir);
    if let Some(options) = container {
        let wrap = container::Wrap { options, ident: &ident, pdd, artifact_dir: &artifact_dir, auth_dir: &host.auth_dir, uid: host.uid };
        let (argv, workdir, mut container_run) = wrap.wrap(command, &mut env)?;
        container_run.env_file_text = container::env_file_text(&env);
        command = argv;
        cwd = workdir;
        process_cwd = None;
        run = Some(container_run);
        callback_dir = paths::join(&artifact_dir, "callback");
        let mut merged = host.inherited_env.clone();
        for (k, v) in &env {
            container::set(&mut merged, k, v);
        }
        process_env = merged;
    } else {
        process_env = env.clone();
        process_cwd = Some(cwd.clone());
        run = None;
        callback_dir = host.callback_dir.clone();
    }
    let rotate_artifacts = match kwargs.get("rotate_artifacts") {
        Some(Value::Int(n)) => n.parse().unwrap_or(0),
        _ => 0,
    };
    Ok(Plan {
        ident,
        command,
        cwd,
        env,
        artifact_dir,
        job_timeout: options.job_timeout,
        idle_timeout: options.idle_timeout,
        passwords,
        rotate_artifacts,
        ssh_key,
        ssh_key_fifo,
        process_env,
        process_cwd,
        callback_dir,
        suppress_output_file: options.suppress_output_file,
        json_mode: options.json_mode,
        container: run,
    })
}

/// Upstream's `generate_ansible_command`: `ansible-playbook`, `ansible` or `binary`, with
/// the options it derives from the kwargs and the private data dir.
fn ansible_command(
    kwargs: &Value,
    pdd: &str,
    files: &PddFiles,
    containerized: bool,
    module: &Option<String>,
    playbook: &Option<String>,
) -> Result<(Vec<String>, Mode), String> {
    let (base, mode) = match (text(kwargs, "binary"), module) {
        (Some(binary), _) => (binary, Mode::Raw),
        (None, Some(_)) => ("ansible".to_string(), Mode::AdHoc),
        (None, None) => ("ansible-playbook".to_string(), Mode::Playbook),
    };
    let mut command = vec![base];
    let cmdline = kwargs.get("cmdline").filter(|v| v.is_truthy()).map(pyjson::python_str).or_else(|| files.cmdline.clone());
    if let Some(cmdline) = cmdline {
        command.extend(shlex::split(&cmdline).ok_or("env/cmdline has an unclosed quote or trailing backslash")?);
    }
    let inventory: Vec<String> = if containerized {
        vec![paths::join(container::RUNNER_ROOT, "inventory")]
    } else {
        match kwargs.get("inventory") {
            Some(Value::Array(list)) => list.iter().map(pyjson::python_str).collect(),
            Some(Value::Null) | None => files.has_inventory_dir.then(|| paths::join(pdd, "inventory")).into_iter().collect(),
            Some(other) => vec![pyjson::python_str(other)],
        }
    };
    for inv in inventory {
        command.extend(["-i".into(), inv]);
    }
    if let Some(limit) = text(kwargs, "limit") {
        command.extend(["--limit".into(), limit]);
    }
    if files.has_extravars {
        let path = if containerized { paths::join(container::RUNNER_ROOT, "env/extravars") } else { paths::join(pdd, "env/extravars") };
        command.extend(["-e".into(), format!("@{path}")]);
    }
    match kwargs.get("extravars") {
        Some(Value::Object(vars)) if !vars.is_empty() => {
            let items: Vec<String> = vars
                .iter()
                .map(|(k, v)| {
                    let mut json = Vec::new();
                    pyjson::encode(v, &mut json);
                    format!("\"{}\":{}", k.to_string_lossy(), String::from_utf8_lossy(&json))
                })
                .collect();
            command.extend(["-e".into(), format!("{{{}}}", items.join(","))]);
        }
        Some(Value::Str(name)) if files.named_files.contains(&name.to_string_lossy()) => {
            command.extend(["-e".into(), format!("@{}", paths::abspath(pdd, &name.to_string_lossy()))]);
        }
        _ => {}
    }
    if let Some(Value::Int(v)) = kwargs.get("verbosity") {
        if let Ok(n) = v.parse::<usize>() {
            if n > 0 {
                command.push(format!("-{}", "v".repeat(n.min(64))));
            }
        }
    }
    for (key, flag) in [("tags", "--tags"), ("skip_tags", "--skip-tags")] {
        if let Some(v) = kwargs.get(key).filter(|v| v.is_truthy()) {
            command.extend([flag.into(), pyjson::python_str(v)]);
        }
    }
    if let Some(forks) = kwargs.get("forks").filter(|f| f.is_truthy()) {
        command.extend(["--forks".into(), pyjson::python_str(forks)]);
    }
    match mode {
        Mode::Playbook => command.extend(playbook.clone()),
        Mode::AdHoc => {
            command.extend(["-m".into(), module.clone().unwrap_or_default()]);
            if let Some(args) = text(kwargs, "module_args") {
                command.extend(["-a".into(), args]);
            }
            if let Some(pattern) = text(kwargs, "host_pattern") {
                command.push(pattern);
            }
        }
        Mode::Raw => {}
    }
    Ok((command, mode))
}

/// Upstream's `prepare_env`: the job's environment in its order. Not containerized, it
/// starts from the worker's own; in a container, from nothing but upstream's keys.
fn job_env(
    kwargs: &Value,
    host: &JobHost,
    files: &PddFiles,
    options: &JobOptions,
    ident: &str,
    artifact_dir: &str,
    adhoc: bool,
) -> Result<Vec<(String, String)>, String> {
    let containerized = options.container.as_ref();
    let mut env: Vec<(String, String)> = Vec::new();
    let set = container::set;
    match containerized {
        Some(c) => {
            if c.engine == "podman" {
                // Modules fall back to unsafe writes where overlay file systems refuse xattrs.
                set(&mut env, "ANSIBLE_UNSAFE_WRITES", "1");
            }
            set(&mut env, "AWX_ISOLATED_DATA_DIR", &paths::join("/runner/artifacts", ident));
            if options.fact_cache_jsonfile {
                set(&mut env, "ANSIBLE_CACHE_PLUGIN_CONNECTION", &container::artifact_path(ident, "fact_cache"));
            }
        }
        None => env = host.inherited_env.clone(),
    }
    if let Some(Value::Object(vars)) = kwargs.get("envvars") {
        for (k, v) in vars {
            set(&mut env, &k.to_string_lossy(), &pyjson::python_str(v));
        }
    }
    if let Some(envvars) = &files.envvars {
        for (k, v) in envfile::mapping(envvars, "env/envvars")? {
            set(&mut env, &k, &pyjson::python_str(&v));
        }
    }
    let plugin_dir = match containerized {
        Some(_) => container::artifact_path(ident, "callback"),
        None => host.callback_dir.clone(),
    };
    let plugins = match env.iter().find(|(k, _)| k == "ANSIBLE_CALLBACK_PLUGINS").map(|(_, v)| v.clone()).filter(|v| !v.is_empty()) {
        Some(existing) => format!("{existing}:{plugin_dir}"),
        None => plugin_dir,
    };
    set(&mut env, "ANSIBLE_CALLBACK_PLUGINS", &plugins);
    if let Some(original) = env.iter().find(|(k, _)| k == "ANSIBLE_STDOUT_CALLBACK").map(|(_, v)| v.clone()).filter(|v| !v.is_empty()) {
        set(&mut env, "ORIGINAL_STDOUT_CALLBACK", &original);
    }
    if adhoc {
        set(&mut env, "ANSIBLE_LOAD_CALLBACK_PLUGINS", "1");
        if !env.iter().any(|(k, _)| k == "AD_HOC_COMMAND_ID") {
            set(&mut env, "AD_HOC_COMMAND_ID", "1");
        }
    }
    set(&mut env, "ANSIBLE_STDOUT_CALLBACK", "runnerwire_display");
    set(&mut env, "ANSIBLE_RETRY_FILES_ENABLED", "False");
    if !env.iter().any(|(k, _)| k == "ANSIBLE_HOST_KEY_CHECKING") {
        set(&mut env, "ANSIBLE_HOST_KEY_CHECKING", "False");
    }
    if containerized.is_none() {
        set(&mut env, "AWX_ISOLATED_DATA_DIR", artifact_dir);
    }
    if options.fact_cache_jsonfile {
        set(&mut env, "ANSIBLE_CACHE_PLUGIN", "jsonfile");
        if containerized.is_none() {
            set(&mut env, "ANSIBLE_CACHE_PLUGIN_CONNECTION", &paths::join(artifact_dir, &options.fact_cache));
        }
    }
    match kwargs.get("roles_path") {
        Some(Value::Array(list)) if !list.is_empty() => {
            set(&mut env, "ANSIBLE_ROLES_PATH", &list.iter().map(pyjson::python_str).collect::<Vec<_>>().join(":"))
        }
        Some(v) if v.is_truthy() => set(&mut env, "ANSIBLE_ROLES_PATH", &pyjson::python_str(v)),
        _ => {}
    }
    let flag = |key: &str| if kwargs.get(key).is_some_and(Value::is_truthy) { "True" } else { "False" };
    set(&mut env, "RUNNER_OMIT_EVENTS", flag("omit_event_data"));
    set(&mut env, "RUNNER_ONLY_FAILED_EVENTS", flag("only_failed_event_data"));
    Ok(env)
}

/// `{"status": ..., "runner_ident": ...}` plus, for `starting`, the command, env and cwd.
pub fn status_line(status: &str, plan: &Plan, with_command: bool) -> Vec<u8> {
    let s = PyStr::from_str;
    let mut members = vec![(s("status"), Value::Str(s(status))), (s("runner_ident"), Value::Str(s(&plan.ident)))];
    if with_command {
        members.push((s("command"), Value::Array(plan.command.iter().map(|c| Value::Str(s(c))).collect())));
        members.push((s("env"), Value::Object(plan.env.iter().map(|(k, v)| (s(k), Value::Str(s(v)))).collect())));
        members.push((s("cwd"), Value::Str(s(&plan.cwd))));
    }
    let mut out = Vec::new();
    pyjson::encode(&Value::Object(members), &mut out);
    out.push(b'\n');
    out
}

/// The final status of a job whose isolation could not be honoured: upstream's `error`
/// status with a `job_explanation`, as for a job stream it refuses.
pub fn error_status_line(plan: &Plan, explanation: &str) -> Vec<u8> {
    let s = PyStr::from_str;
    let members = vec![
        (s("status"), Value::Str(s("error"))),
        (s("runner_ident"), Value::Str(s(&plan.ident))),
        (s("job_explanation"), Value::Str(s(explanation))),
    ];
    let mut out = Vec::new();
    pyjson::encode(&Value::Object(members), &mut out);
    out.push(b'\n');
    out
}

/// The `command` artifact: upstream's `json.dumps({"command": ..., "cwd": ..., "env": ...})`.
pub fn command_artifact(plan: &Plan) -> Vec<u8> {
    let s = PyStr::from_str;
    let value = Value::Object(vec![
        (s("command"), Value::Array(plan.command.iter().map(|c| Value::Str(s(c))).collect())),
        (s("cwd"), Value::Str(s(&plan.cwd))),
        (s("env"), Value::Object(plan.env.iter().map(|(k, v)| (s(k), Value::Str(s(v)))).collect())),
    ]);
    let mut out = Vec::new();
    pyjson::encode_unicode(&value, &mut out);
    out
}
