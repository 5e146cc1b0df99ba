//! The container engine's side of a containerized job: checking the node can honour the
//! request before anything runs, the files the engine reads, and killing the container.
//! What to run is the component's plan; this only runs the engine.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::sandbox::wit_worker::{ContainerRun, PrivateFile};

/// Upstream's `check_isolation_executable_installed`, in the worker's own environment:
/// `<executable> --version` runs and succeeds.
pub fn installed(executable: &str) -> bool {
    Command::new(executable)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why the job cannot run in the container it asked for, as the `job_explanation` the
/// controller sees. `None`: the engine is there and so is the image (or it may be pulled).
/// `verified`: the executable [`installed`] already answered for (the settings may name
/// another, which is checked here).
pub fn unavailable(run: &ContainerRun, env: &[(String, String)], verified: Option<&str>) -> Option<String> {
    // Upstream's check_isolation_executable_installed: `<engine> --version` must succeed.
    if verified != Some(run.engine.as_str()) {
        let version = engine(run, env).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
        if !version.is_ok_and(|s| s.success()) {
            return Some(format!("Unable to find process isolation executable: {}", run.engine));
        }
    }
    let present = engine(run, env)
        .args(image_exists_args(&run.engine))
        .arg(&run.image)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!present && run.pull_never).then(|| {
        format!("Container image {} is not present on this node and the job's pull policy is never", run.image)
    })
}

fn image_exists_args(engine: &str) -> &'static [&'static str] {
    if engine == "docker" {
        &["image", "inspect", "--format", "{{.Id}}"]
    } else {
        &["image", "exists"]
    }
}

fn engine(run: &ContainerRun, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(&run.engine);
    cmd.env_clear().envs(env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
    cmd
}

/// Upstream's `kill_container`: `<engine> kill <name>`, output discarded (the container may
/// already be gone).
pub fn kill(run: &ContainerRun, env: &[(String, String)]) {
    let _ = engine(run, env).args(["kill", &run.name]).stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Podman and docker exit 125 when the engine itself failed: the container never ran the
/// job (image not pulled, bad option, name in use).
pub const ENGINE_FAILED: i32 = 125;

/// The job's explanation for an engine failure, from the last line the engine printed.
pub fn engine_failure(run: &ContainerRun, last_line: &str) -> String {
    let detail = last_line.trim();
    if detail.is_empty() {
        format!("{} could not run the job's container (image {}, exit {ENGINE_FAILED})", run.engine, run.image)
    } else {
        format!("{} could not run the job's container (image {}, exit {ENGINE_FAILED}): {detail}", run.engine, run.image)
    }
}

/// Writes `env.list` and the registry credentials, each created 0600 (never wider).
pub fn write_files(run: &ContainerRun) -> anyhow::Result<()> {
    let env_file = PrivateFile { path: run.env_file.clone(), text: run.env_file_text.clone() };
    for file in std::iter::once(&env_file).chain(&run.auth_files) {
        let path = Path::new(&file.path);
        let _ = std::fs::remove_file(path);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
        f.write_all(file.text.as_bytes()).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Keeps the last line of the job's terminal output, for an engine failure's explanation.
#[derive(Default)]
pub struct LastLine {
    line: Vec<u8>,
    done: Vec<u8>,
}

impl LastLine {
    const MAX: usize = 400;

    pub fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' | b'\r' => {
                    if !self.line.iter().all(u8::is_ascii_whitespace) {
                        self.done = std::mem::take(&mut self.line);
                    }
                    self.line.clear();
                }
                _ if self.line.len() < Self::MAX => self.line.push(b),
                _ => {}
            }
        }
    }

    pub fn get(&self) -> String {
        let line = if self.line.iter().all(u8::is_ascii_whitespace) { &self.done } else { &self.line };
        String::from_utf8_lossy(line).into_owned()
    }
}
