//! Running a job in a container, as upstream 2.4.3's RunnerConfig wraps it: the private
//! data dir mounted at `/runner`, the job's environment passed through an env file, the
//! registry credentials in a private auth file. Upstream's worker always uses execution
//! mode NONE here: no extra artifact mount, no automounts.

use crate::paths;
use crate::pyjson::{self, PyStr, Value};
use crate::stages::worker::options::{ContainerOptions, RegistryAuth};

/// Where the private data dir appears inside the container.
pub const RUNNER_ROOT: &str = "/runner";

/// A file the host writes before the job starts (and removes after it), mode 0600.
#[derive(Clone, Debug, PartialEq)]
pub struct PrivateFile {
    pub path: String,
    pub text: String,
}

/// The container side of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerRun {
    pub engine: String,
    /// `ansible_runner_<ident>`, sanitized: what cancel and timeouts kill.
    pub name: String,
    pub image: String,
    /// Host path of `env.list` in the artifact dir.
    pub env_file: String,
    /// `env.list`'s text: the job's environment, set by the caller once it is final.
    pub env_file_text: String,
    /// `--pull=never` (or `--pull never`) is among the options.
    pub pull_never: bool,
    /// Registry credentials (auth file, and registries.conf for an insecure registry).
    pub auth_files: Vec<PrivateFile>,
}

/// `ansible_runner_` + the ident with every character outside `[a-zA-Z0-9_-]` as `_`.
pub fn container_name(ident: &str) -> String {
    let safe: String = ident.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    format!("ansible_runner_{safe}")
}

/// Upstream's `_ensure_path_safe_to_mount`: `/`, `/home` and `/usr` are never mounted. The
/// path is normalized first, so `//usr/./` is refused too (upstream compares the text).
pub fn check_mount_source(path: &str) -> Result<(), String> {
    let collapsed = match path.strip_prefix('/') {
        Some(rest) => format!("/{}", rest.trim_start_matches('/')),
        None => path.to_string(),
    };
    if matches!(paths::normpath(&collapsed).as_str(), "/" | "/home" | "/usr") {
        return Err("When using containerized execution, cannot mount '/' or '/home' or '/usr'".into());
    }
    Ok(())
}

/// The container path of a file in the artifact dir.
pub fn artifact_path(ident: &str, name: &str) -> String {
    paths::join(&paths::join(&paths::join(RUNNER_ROOT, "artifacts"), ident), name)
}

/// Wraps `command` (already holding container paths) in the engine's `run`. `env` is the
/// job's environment: registry settings are added to it here, as upstream does.
pub struct Wrap<'a> {
    pub options: &'a ContainerOptions,
    pub ident: &'a str,
    pub pdd: &'a str,
    pub artifact_dir: &'a str,
    /// The host's private temp dir for registry credentials.
    pub auth_dir: &'a str,
    /// For docker's `--user`.
    pub uid: u32,
}

impl Wrap<'_> {
    /// The engine's argv, the container workdir, and the run's extras.
    pub fn wrap(&self, command: Vec<String>, env: &mut Vec<(String, String)>) -> Result<(Vec<String>, String, ContainerRun), String> {
        let o = self.options;
        let engine = o.engine.as_str();
        let mut argv: Vec<String> = vec![engine.into(), "run".into(), "--rm".into(), "--tty".into(), "--interactive".into()];
        let workdir = o.workdir.clone().unwrap_or_else(|| paths::join(RUNNER_ROOT, "project"));
        argv.extend(["--workdir".into(), workdir.clone()]);
        check_mount_source(self.pdd)?;
        argv.extend(["-v".into(), format!("{}/:{RUNNER_ROOT}/:Z", self.pdd.trim_end_matches('/'))]);
        let mut auth_files = Vec::new();
        if let Some(auth) = &o.auth {
            let (files, flag_path, registries_conf) = self.auth_files(auth);
            if engine == "podman" {
                argv.push(format!("--authfile={flag_path}"));
            } else {
                argv.insert(1, format!("--config={flag_path}"));
            }
            if let Some(conf) = registries_conf {
                set(env, "CONTAINERS_REGISTRIES_CONF", &conf);
                set(env, "REGISTRIES_CONFIG_PATH", &conf);
            }
            auth_files = files;
        }
        for mapping in &o.volume_mounts {
            let source = mapping.split(':').next().unwrap_or_default();
            check_mount_source(source)?;
            argv.extend(["-v".into(), mapping.clone()]);
        }
        let env_file = paths::join(self.artifact_dir, "env.list");
        argv.extend(["--env-file".into(), env_file.clone()]);
        if engine == "podman" {
            argv.push("--quiet".into());
        } else {
            argv.push(format!("--user={}", self.uid));
        }
        let name = container_name(self.ident);
        argv.extend(["--name".into(), name.clone()]);
        argv.extend(o.options.iter().cloned());
        argv.push(o.image.clone());
        argv.extend(command);
        let pull_never = o.options.iter().zip(o.options.iter().skip(1).map(Some).chain([None])).any(|(opt, next)| {
            opt == "--pull=never" || (opt == "--pull" && next.is_some_and(|n| n == "never"))
        });
        let run = ContainerRun { engine: engine.into(), name, image: o.image.clone(), env_file, env_file_text: String::new(), pull_never, auth_files };
        Ok((argv, workdir, run))
    }

    /// Upstream's `_generate_container_auth_dir`: podman gets the auth file's path, docker
    /// the directory holding `config.json`.
    fn auth_files(&self, auth: &RegistryAuth) -> (Vec<PrivateFile>, String, Option<String>) {
        let file_name = if self.options.engine == "docker" { "config.json" } else { "auth.json" };
        let auth_path = paths::join(self.auth_dir, file_name);
        let mut token = Vec::new();
        crate::wire::base64::encode(auth.credentials.as_bytes(), &mut token);
        let token = String::from_utf8_lossy(&token).into_owned();
        let host_key = match &auth.host {
            Value::Str(s) => pyjson::encode_to_string(&Value::Str(s.clone())),
            Value::Null => "\"null\"".into(),
            Value::Bool(b) => format!("\"{b}\""),
            other => pyjson::encode_to_string(&Value::Str(PyStr::from_str(&pyjson::python_str(other)))),
        };
        // json.dumps(..., indent=4)
        let text = format!("{{\n    \"auths\": {{\n        {host_key}: {{\n            \"auth\": \"{token}\"\n        }}\n    }}\n}}");
        let mut files = vec![PrivateFile { path: auth_path.clone(), text }];
        let mut conf_path = None;
        if auth.insecure {
            let path = paths::join(self.auth_dir, "registries.conf");
            let host = pyjson::python_str(&auth.host);
            files.push(PrivateFile { path: path.clone(), text: format!("[[registry]]\nlocation = \"{host}\"\ninsecure = true") });
            conf_path = Some(path);
        }
        let flag_path = if self.options.engine == "docker" { self.auth_dir.to_string() } else { auth_path };
        (files, flag_path, conf_path)
    }
}

/// `env[key] = value`, keeping the key's place if it is already there (a Python dict).
pub fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value.to_string(),
        None => env.push((key.to_string(), value.to_string())),
    }
}

/// `env.list` as upstream's runner writes it: `KEY=value` lines joined by newlines.
pub fn env_file_text(env: &[(String, String)]) -> String {
    env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_only_what_engines_accept() {
        assert_eq!(container_name("job-1_a"), "ansible_runner_job-1_a");
        assert_eq!(container_name("a.b/c é"), "ansible_runner_a_b_c__");
    }

    #[test]
    fn root_home_and_usr_are_never_mounted() {
        for bad in ["/", "/home", "/home/", "/usr", "/usr/", "//usr/./", "/usr/lib/..", "///"] {
            assert!(check_mount_source(bad).is_err(), "{bad}");
        }
        for good in ["/home/user", "/usr/share", "/etc/pki/ca-trust", "/runner"] {
            assert!(check_mount_source(good).is_ok(), "{good}");
        }
    }
}
