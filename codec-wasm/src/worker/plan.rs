//! What to run for a job: upstream's RunnerConfig rules, from the kwargs and the files in
//! the private data dir, as plain data for the host to execute.

use crate::paths;
use crate::pyjson::{self, PyStr, Value};
use crate::worker::{envfile, shlex};

/// A job ready to start. Paths are host paths.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub ident: String,
    pub command: Vec<String>,
    pub cwd: String,
    /// The child's whole environment, in upstream's order (inherited, env/envvars, runner's).
    pub env: Vec<(String, String)>,
    /// Host path of `artifacts/<ident>`.
    pub artifact_dir: String,
    /// `env/settings` `job_timeout`: seconds before the job is ended with status `timeout`.
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
}

/// Files of the private data dir the plan depends on (read by the caller from the grant).
#[derive(Clone, Debug, Default)]
pub struct PddFiles {
    pub cmdline: Option<String>,
    pub envvars: Option<String>,
    pub settings: Option<String>,
    pub passwords: Option<String>,
    pub ssh_key: Option<String>,
    pub has_extravars: bool,
    pub has_inventory_dir: bool,
    pub has_project_dir: bool,
}

fn text(kwargs: &Value, key: &str) -> Option<String> {
    match kwargs.get(key)? {
        Value::Null => None,
        Value::Str(s) => Some(s.to_string_lossy()),
        other => Some(pyjson::python_str(other)),
    }
}

/// Builds the plan, or says why the job cannot run.
pub fn plan(
    kwargs: &Value,
    pdd: &str,
    files: &PddFiles,
    inherited_env: &[(String, String)],
    callback_dir: &str,
    fallback_ident: &str,
) -> Result<Plan, String> {
    let ident = text(kwargs, "ident").unwrap_or_else(|| fallback_ident.to_string());
    let artifacts_base = text(kwargs, "artifact_dir").unwrap_or_else(|| paths::join(pdd, "artifacts"));
    let artifact_dir = paths::join(&artifacts_base, &ident);
    let module = text(kwargs, "module");
    let playbook = text(kwargs, "playbook");
    if module.is_some() && playbook.is_some() {
        return Err("Only one of playbook and module options are allowed".into());
    }
    let base = text(kwargs, "binary").unwrap_or_else(|| if module.is_some() { "ansible".into() } else { "ansible-playbook".into() });
    let mut command = vec![base];
    let cmdline = text(kwargs, "cmdline").or_else(|| files.cmdline.clone());
    if let Some(cmdline) = cmdline {
        command.extend(shlex::split(&cmdline).ok_or("env/cmdline has an unclosed quote or trailing backslash")?);
    }
    let inventory = text(kwargs, "inventory").or_else(|| files.has_inventory_dir.then(|| paths::join(pdd, "inventory")));
    if let Some(inv) = inventory {
        command.extend(["-i".into(), inv]);
    }
    if let Some(limit) = text(kwargs, "limit") {
        command.extend(["--limit".into(), limit]);
    }
    if files.has_extravars {
        command.extend(["-e".into(), format!("@{}", paths::join(pdd, "env/extravars"))]);
    }
    if let Some(Value::Object(vars)) = kwargs.get("extravars") {
        if !vars.is_empty() {
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
    }
    if let Some(Value::Int(v)) = kwargs.get("verbosity") {
        if let Ok(n) = v.parse::<usize>() {
            if n > 0 {
                command.push(format!("-{}", "v".repeat(n.min(10))));
            }
        }
    }
    for (key, flag) in [("tags", "--tags"), ("skip_tags", "--skip-tags")] {
        if let Some(v) = text(kwargs, key) {
            command.extend([flag.into(), v]);
        }
    }
    if let Some(forks) = kwargs.get("forks").filter(|f| f.is_truthy()) {
        command.extend(["--forks".into(), pyjson::python_str(forks)]);
    }
    match (&module, &playbook) {
        (Some(module), _) => {
            command.extend(["-m".into(), module.clone()]);
            if let Some(args) = text(kwargs, "module_args") {
                command.extend(["-a".into(), args]);
            }
            if let Some(pattern) = text(kwargs, "host_pattern") {
                command.push(pattern);
            }
        }
        (None, Some(playbook)) => command.push(playbook.clone()),
        (None, None) => return Err("Runner playbook required when running ansible-playbook".into()),
    }

    let mut env: Vec<(String, String)> = inherited_env.to_vec();
    let mut set = |k: &str, v: String| match env.iter_mut().find(|(ek, _)| ek == k) {
        Some(slot) => slot.1 = v,
        None => env.push((k.to_string(), v)),
    };
    if let Some(envvars) = &files.envvars {
        for (k, v) in envfile::mapping(envvars, "env/envvars")? {
            set(&k, pyjson::python_str(&v));
        }
    }
    if let Some(Value::Object(vars)) = kwargs.get("envvars") {
        for (k, v) in vars {
            set(&k.to_string_lossy(), pyjson::python_str(v));
        }
    }
    set("ANSIBLE_CALLBACK_PLUGINS", callback_dir.to_string());
    if module.is_some() {
        set("ANSIBLE_LOAD_CALLBACK_PLUGINS", "1".into());
        set("AD_HOC_COMMAND_ID", "1".into());
    }
    set("ANSIBLE_STDOUT_CALLBACK", "runnerwire_display".into());
    set("ANSIBLE_RETRY_FILES_ENABLED", "False".into());
    set("ANSIBLE_HOST_KEY_CHECKING", "False".into());
    set("AWX_ISOLATED_DATA_DIR", artifact_dir.clone());
    set("ANSIBLE_CACHE_PLUGIN", "jsonfile".into());
    set("ANSIBLE_CACHE_PLUGIN_CONNECTION", paths::join(&artifact_dir, "fact_cache"));
    match kwargs.get("roles_path") {
        Some(Value::Array(list)) => set("ANSIBLE_ROLES_PATH", list.iter().map(pyjson::python_str).collect::<Vec<_>>().join(":")),
        Some(Value::Str(s)) => set("ANSIBLE_ROLES_PATH", s.to_string_lossy()),
        _ => {}
    }
    let flag = |key: &str| if kwargs.get(key).is_some_and(Value::is_truthy) { "True" } else { "False" };
    set("RUNNER_OMIT_EVENTS", flag("omit_event_data").into());
    set("RUNNER_ONLY_FAILED_EVENTS", flag("only_failed_event_data").into());

    let project_dir = text(kwargs, "project_dir").unwrap_or_else(|| paths::join(pdd, "project"));
    let cwd = if module.is_some() || !files.has_project_dir { pdd.to_string() } else { project_dir };
    let settings = match &files.settings {
        Some(text) => envfile::mapping(text, "env/settings")?,
        None => Vec::new(),
    };
    let seconds = |key: &str| {
        let from_kwargs = kwargs.get(key).filter(|v| !v.is_null());
        let value = from_kwargs.or_else(|| settings.iter().find(|(k, _)| k == key).map(|(_, v)| v))?;
        match value {
            Value::Int(t) => t.parse::<u64>().ok().filter(|&n| n > 0),
            Value::Float(f) if *f > 0.0 => Some(f.ceil() as u64),
            _ => None,
        }
    };
    let (job_timeout, idle_timeout) = (seconds("job_timeout"), seconds("idle_timeout"));
    let mut passwords: Vec<(String, String)> = match &files.passwords {
        Some(text) => envfile::mapping(text, "env/passwords")?.into_iter().map(|(k, v)| (k, pyjson::python_str(&v))).collect(),
        None => Vec::new(),
    };
    if let Some(Value::Object(extra)) = kwargs.get("passwords") {
        passwords.extend(extra.iter().map(|(k, v)| (k.to_string_lossy(), pyjson::python_str(v))));
    }
    let ssh_key = text(kwargs, "ssh_key").or_else(|| files.ssh_key.clone()).filter(|k| !k.is_empty());
    let ssh_key_fifo = ssh_key.as_ref().map(|_| paths::join(&artifact_dir, "ssh_key_data"));
    if let Some(fifo) = &ssh_key_fifo {
        // Upstream's wrap_args_with_ssh_agent: the agent reads the key from the FIFO, which
        // is removed right after (and on exit, should ssh-add fail).
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
    let rotate_artifacts = match kwargs.get("rotate_artifacts") {
        Some(Value::Int(n)) => n.parse().unwrap_or(0),
        _ => 0,
    };
    Ok(Plan { ident, command, cwd, env, artifact_dir, job_timeout, idle_timeout, passwords, rotate_artifacts, ssh_key, ssh_key_fifo })
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
