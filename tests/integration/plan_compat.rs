//! The worker's plan against upstream's RunnerConfig, job by job: for the jobs AWX sends
//! (containers with podman or docker, registry credentials, `args` inventory updates, its
//! env/settings) and every option that shapes the command, our component's `make-plan` and
//! upstream 2.4.3's `RunnerConfig.prepare()` (run by `tests/upstream_plan.py`) must give the
//! same command, cwd, environment (in order), env.list, registry files and options, or the
//! same ConfigurationError. Only the callback plugin's name and directory and the temp dir
//! for registry credentials may differ.


use std::path::Path;

use crate::common::*;
use runnerwire::sandbox::{wit_worker, Grant, Runtime};
use serde_json::{json, Value};

/// One job: kwargs as the worker has them, files to put in the private data dir.
struct Job {
    name: &'static str,
    kwargs: Value,
    files: Vec<(&'static str, &'static str)>,
}

fn job(name: &'static str, kwargs: Value, files: &[(&'static str, &'static str)]) -> Job {
    Job { name, kwargs, files: files.to_vec() }
}

const PLAYBOOK: (&str, &str) = ("project/site.yml", "- hosts: all\n  tasks: []\n");
const INVENTORY: (&str, &str) = ("inventory/hosts", "localhost ansible_connection=local\n");

/// What AWX's `build_execution_environment_params` adds to a job outside container groups.
fn awx_container(engine: &str) -> Value {
    json!({
        "process_isolation": true,
        "process_isolation_executable": engine,
        "container_image": "quay.io/ansible/awx-ee:latest",
        "container_options": ["--network", "slirp4netns:enable_ipv6=true", "--pull=missing"],
        "container_volume_mounts": ["/etc/pki/ca-trust:/etc/pki/ca-trust:O", "/usr/share/pki:/usr/share/pki:O"],
    })
}

fn merged(base: Value, extra: Value) -> Value {
    let mut base = base;
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn jobs() -> Vec<Job> {
    let awx_settings = ("env/settings", r#"{"suppress_output_file": true, "suppress_ansible_output": true, "job_timeout": 0}"#);
    vec![
        job("playbook", json!({"ident": "1", "playbook": "site.yml"}), &[PLAYBOOK, INVENTORY]),
        job(
            "every command option",
            json!({"ident": "opts", "playbook": "site.yml", "limit": "web", "forks": 3, "verbosity": 2, "tags": "a,b",
                   "skip_tags": "c", "cmdline": "--diff -e 'x=1 2'", "roles_path": ["/r1", "/r2"],
                   "extravars": {"n": 1, "s": "é", "l": [1, null]}}),
            &[PLAYBOOK, INVENTORY, ("env/extravars", "{\"k\": 1}\n"), ("env/cmdline", "--check")],
        ),
        job("cmdline from env/cmdline", json!({"ident": "c", "playbook": "site.yml"}), &[PLAYBOOK, ("env/cmdline", "--check -e 'a b'")]),
        job("extravars file", json!({"ident": "x", "playbook": "site.yml", "extravars": "vars.json"}), &[PLAYBOOK, ("vars.json", "{}")]),
        job("ad hoc", json!({"ident": "2", "module": "ping", "module_args": "data=x", "host_pattern": "all"}), &[INVENTORY]),
        job("binary (raw mode: no playbook appended)", json!({"ident": "3", "binary": "ansible-doc", "playbook": "site.yml"}), &[PLAYBOOK]),
        job(
            "args file (inventory update)",
            json!({"ident": "4", "envvars": {"ANSIBLE_INVENTORY_ENABLED": "auto"}}),
            &[("args", "ansible-inventory -i inventory/hosts --list --export --output 'out put.json' -vvv"), INVENTORY],
        ),
        job("args file wins over playbook", json!({"ident": "5", "playbook": "site.yml"}), &[PLAYBOOK, ("args", "echo hi")]),
        job(
            "environment precedence",
            json!({"ident": "6", "playbook": "site.yml",
                   "envvars": {"A": "kwarg", "B": 2, "ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_STDOUT_CALLBACK": "yaml",
                               "ANSIBLE_CALLBACK_PLUGINS": "/mine"}}),
            &[PLAYBOOK, ("env/envvars", "{\"A\": \"file\", \"C\": true}")],
        ),
        job("ad hoc id from envvars", json!({"ident": "7", "playbook": "site.yml", "envvars": {"AD_HOC_COMMAND_ID": "9"}}), &[PLAYBOOK]),
        job("fact cache type", json!({"ident": "8", "playbook": "site.yml", "fact_cache_type": "redis"}), &[PLAYBOOK]),
        job("fact cache from settings", json!({"ident": "9", "playbook": "site.yml"}), &[PLAYBOOK, ("env/settings", "{\"fact_cache\": \"facts\"}")]),
        job(
            "fact cache settings with another type",
            json!({"ident": "10", "playbook": "site.yml", "fact_cache": "mine"}),
            &[PLAYBOOK, ("env/settings", "{\"fact_cache\": \"facts\", \"fact_cache_type\": \"redis\"}")],
        ),
        job("AWX settings", json!({"ident": "11", "playbook": "site.yml"}), &[PLAYBOOK, awx_settings]),
        job(
            "timeouts",
            json!({"ident": "12", "playbook": "site.yml", "timeout": 30}),
            &[PLAYBOOK, ("env/settings", "{\"job_timeout\": 5, \"idle_timeout\": 7, \"pexpect_timeout\": 1, \"pexpect_use_poll\": false, \"unknown\": 1}")],
        ),
        job("json mode", json!({"ident": "13", "playbook": "site.yml", "json_mode": true}), &[PLAYBOOK]),
        job("both module and playbook", json!({"ident": "14", "playbook": "site.yml", "module": "ping"}), &[PLAYBOOK]),
        job("no playbook", json!({"ident": "15"}), &[]),
        job(
            "AWX job in podman",
            merged(
                awx_container("podman"),
                json!({"ident": "16", "playbook": "site.yml", "fact_cache_type": "jsonfile",
                       "envvars": {"JOB_ID": "16", "ANSIBLE_FORCE_COLOR": "True"}, "extravars": {"awx_job_id": 16}}),
            ),
            &[PLAYBOOK, INVENTORY, awx_settings, ("env/extravars", "{}"), ("env/envvars", "{\"FROM_FILE\": \"1\"}")],
        ),
        job(
            "AWX inventory update in podman",
            merged(awx_container("podman"), json!({"ident": "17"})),
            &[("args", "ansible-inventory -i /runner/inventory/hosts --list --output /runner/artifacts/17/output.json"), INVENTORY],
        ),
        job("AWX ad hoc in podman", merged(awx_container("podman"), json!({"ident": "18", "module": "ping", "host_pattern": "all"})), &[INVENTORY]),
        job(
            "docker with insecure registry credentials",
            merged(
                awx_container("docker"),
                json!({"ident": "19 odd.name", "playbook": "site.yml",
                       "container_auth_data": {"host": "registry.example:5000", "username": "u", "password": "p:w", "verify_ssl": false}}),
            ),
            &[PLAYBOOK],
        ),
        job(
            "podman with registry credentials",
            merged(awx_container("podman"), json!({"ident": "20", "playbook": "site.yml",
                "container_auth_data": {"host": "registry.example", "username": "u", "password": "p", "verify_ssl": true}})),
            &[PLAYBOOK],
        ),
        job(
            "container settings in env/settings",
            json!({"ident": "21", "playbook": "site.yml", "process_isolation": false}),
            &[PLAYBOOK, ("env/settings", r#"{"process_isolation": true, "container_image": "img:1", "container_options": ["--pull=never"], "container_volume_mounts": ["/srv:/srv:z"]}"#)],
        ),
        job(
            "settings turn isolation off",
            merged(awx_container("podman"), json!({"ident": "22", "playbook": "site.yml"})),
            &[PLAYBOOK, ("env/settings", "{\"process_isolation\": false}")],
        ),
        job("container workdir", merged(awx_container("podman"), json!({"ident": "23", "playbook": "site.yml", "container_workdir": "/work"})), &[PLAYBOOK]),
        job("container with ssh key", merged(awx_container("podman"), json!({"ident": "24", "playbook": "site.yml"})), &[PLAYBOOK, ("env/ssh_key", "KEY\n")]),
        job("ssh key on the node", json!({"ident": "25", "playbook": "site.yml"}), &[PLAYBOOK, ("env/ssh_key", "KEY\n")]),
        job("container without image", json!({"ident": "26", "playbook": "site.yml", "process_isolation": true}), &[PLAYBOOK]),
        job(
            "mounting /usr is refused",
            merged(awx_container("podman"), json!({"ident": "27", "playbook": "site.yml", "container_volume_mounts": ["/usr:/usr"]})),
            &[PLAYBOOK],
        ),
        job(
            "mounting /home/ is refused",
            merged(awx_container("podman"), json!({"ident": "28", "playbook": "site.yml", "container_volume_mounts": ["/home/:/h:ro"]})),
            &[PLAYBOOK],
        ),
        job(
            "roles path through envvars",
            json!({"ident": "29", "playbook": "site.yml", "roles_path": "/roles", "omit_event_data": true, "only_failed_event_data": true}),
            &[PLAYBOOK],
        ),
    ]
}

fn write_pdd(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (rel, text) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// The worker's environment in both runs (sorted: the order a child's `os.environ` has).
fn inherited(home: &Path) -> Vec<(String, String)> {
    [("HOME", home.display().to_string()), ("LANG", "C.UTF-8".into()), ("LC_ALL", "C.UTF-8".into()), ("PATH", "/usr/local/bin:/usr/bin:/bin".to_string())]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

fn upstream_plan(pdd: &Path, kwargs: &Value, env: &[(String, String)]) -> Value {
    let mut cmd = std::process::Command::new(venv_bin().join("python"));
    cmd.arg(repo_root().join("tests/upstream_plan.py")).env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    let out = run_with_input(cmd, json!({"pdd": pdd, "kwargs": kwargs}).to_string().as_bytes());
    assert!(out.status.success(), "upstream_plan.py: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn our_plan(runtime: &Runtime, pdd: &Path, kwargs: &Value, env: &[(String, String)], scratch: &Path) -> Result<wit_worker::Plan, String> {
    let mut instance = runtime.instantiate(&Grant::with_scratch(pdd, "/pdd", true, scratch), Default::default()).unwrap();
    let host = wit_worker::JobHost {
        pdd: pdd.display().to_string(),
        inherited_env: env.to_vec(),
        callback_dir: "/tmp/ours-callback".into(),
        fallback_ident: "fallback".into(),
        auth_dir: "/tmp/ours-auth".into(),
        uid: std::fs::metadata(pdd).map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap(),
    };
    let api = instance.codec.runnerwire_codec_worker();
    instance.store.call(|store| api.call_make_plan(store, &kwargs.to_string(), &host)).unwrap().map_err(|refusal| refusal.explanation)
}

fn pairs(list: &[(String, String)]) -> Value {
    Value::Array(list.iter().map(|(k, v)| json!([k, v])).collect())
}

/// Our plan in the upstream harness's shape, with our temp paths and plugin name replaced
/// by upstream's.
fn as_upstream(plan: &wit_worker::Plan, theirs: &Value) -> Value {
    let their_callback = theirs["env"]
        .as_array()
        .and_then(|env| env.iter().find(|p| p[0] == "ANSIBLE_CALLBACK_PLUGINS"))
        .map(|p| p[1].as_str().unwrap().to_string())
        .unwrap_or_default();
    let their_auth = theirs["auth_dir"].as_str().unwrap_or("/tmp/ours-auth").to_string();
    let fix = |s: &str| {
        s.replace("runnerwire_display", "awx_display")
            .replace("/tmp/ours-auth", &their_auth)
            .replace("/tmp/ours-callback", their_callback.rsplit(':').next().unwrap())
    };
    let fixed_pairs = |list: &[(String, String)]| -> Vec<(String, String)> { list.iter().map(|(k, v)| (k.clone(), fix(v))).collect() };
    let mut value = json!({
        "command": plan.command.iter().map(|c| fix(c)).collect::<Vec<_>>(),
        "cwd": plan.cwd,
        "env": pairs(&fixed_pairs(&plan.env)),
        "artifact_dir": plan.artifact_dir,
        "suppress_output_file": plan.suppress_output_file,
        "json_mode": plan.json_mode,
        "job_timeout": plan.job_timeout,
        "idle_timeout": plan.idle_timeout,
        "containerized": plan.container.is_some(),
        "container_name": plan.container.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
    });
    if let Some(run) = &plan.container {
        value["env_list"] = json!(fix(&run.env_file_text));
        let files: serde_json::Map<String, Value> = run
            .auth_files
            .iter()
            .map(|f| (Path::new(&f.path).file_name().unwrap().to_string_lossy().into_owned(), json!({"text": f.text, "mode": "0o600"})))
            .collect();
        if !files.is_empty() {
            value["auth_dir"] = json!(their_auth);
        }
        value["auth_files"] = Value::Object(files);
    }
    value
}

/// Upstream's result with what may differ set aside: a falsy timeout is no timeout.
fn comparable(mut theirs: Value) -> Value {
    for key in ["job_timeout", "idle_timeout"] {
        if theirs.get(key).is_none() {
            continue;
        }
        let none = match &theirs[key] {
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::Null => true,
            _ => false,
        };
        if none {
            theirs[key] = Value::Null;
        }
    }
    theirs
}

#[test]
fn plans_match_upstreams_runner_config() {
    let runtime = Runtime::new().unwrap();
    let mut failures = Vec::new();
    for job in jobs() {
        let tmp = tempfile::tempdir().unwrap();
        let (theirs_pdd, ours_pdd) = (tmp.path().join("theirs/pdd"), tmp.path().join("ours/pdd"));
        write_pdd(&theirs_pdd, &job.files);
        write_pdd(&ours_pdd, &job.files);
        let scratch = tempfile::tempdir().unwrap();
        let their_env = inherited(tmp.path());
        let theirs = upstream_plan(&theirs_pdd, &job.kwargs, &their_env);
        let ours = our_plan(&runtime, &ours_pdd, &job.kwargs, &their_env, scratch.path());
        let theirs_text = theirs.to_string().replace(&theirs_pdd.display().to_string(), "<pdd>");
        let theirs: Value = serde_json::from_str(&theirs_text).unwrap();
        let ours = match ours {
            Ok(plan) => as_upstream(&plan, &theirs),
            Err(message) => json!({"error": message}),
        };
        let ours: Value = serde_json::from_str(&ours.to_string().replace(&ours_pdd.display().to_string(), "<pdd>")).unwrap();
        let theirs = comparable(theirs);
        if ours != theirs {
            failures.push(format!("{}:\n  ours:     {ours}\n  upstream: {theirs}", job.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} plans differ from upstream's:\n{}", failures.len(), jobs().len(), failures.join("\n"));
}

#[test]
fn a_bubblewrap_sandbox_is_refused_rather_than_run_unsandboxed() {
    let runtime = Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    write_pdd(tmp.path(), &[PLAYBOOK]);
    let scratch = tempfile::tempdir().unwrap();
    let kwargs = json!({"ident": "b", "playbook": "site.yml", "process_isolation": true, "process_isolation_executable": "bwrap"});
    let err = our_plan(&runtime, tmp.path(), &kwargs, &inherited(tmp.path()), scratch.path()).unwrap_err();
    assert!(err.contains("bwrap") && err.contains("not supported"), "{err}");
}
