//! The `worker` interface: job reader, plan, event filter, artifacts.

use std::cell::RefCell;
use std::io::Write;

use super::exports::runnerwire::codec::types as wit_types;
use super::exports::runnerwire::codec::worker as wit;
use super::{error_to_wit, limits_from, Component, WasiHostFs, ARTIFACTS, PDD, SCRATCH};
use crate::archive::stream::ArchiveStream;
use crate::error::EntryError;
use crate::pyjson::{self, PyStr, Value};
use crate::stages::worker::job::{JobDirs, JobInput, JobReader};
use crate::stages::worker::container::{ContainerRun, PrivateFile};
use crate::stages::worker::output::{Emitted, OutputFilter, StdoutArtifact};
use crate::stages::worker::prompts::Prompts;
use crate::stages::worker::{artifacts, plan};

fn to_wit(p: plan::Plan) -> wit::Plan {
    wit::Plan {
        ident: p.ident,
        command: p.command,
        cwd: p.cwd,
        env: p.env,
        artifact_dir: p.artifact_dir,
        job_timeout: p.job_timeout,
        idle_timeout: p.idle_timeout,
        passwords: p.passwords,
        rotate_artifacts: p.rotate_artifacts,
        ssh_key: p.ssh_key,
        ssh_key_fifo: p.ssh_key_fifo,
        process_env: p.process_env,
        process_cwd: p.process_cwd,
        callback_dir: p.callback_dir,
        suppress_output_file: p.suppress_output_file,
        json_mode: p.json_mode,
        container: p.container.map(|c| wit::ContainerRun {
            engine: c.engine,
            name: c.name,
            image: c.image,
            env_file: c.env_file,
            env_file_text: c.env_file_text,
            pull_never: c.pull_never,
            auth_files: c.auth_files.into_iter().map(|f| wit::PrivateFile { path: f.path, text: f.text }).collect(),
        }),
    }
}

fn from_wit(p: &wit::Plan) -> plan::Plan {
    plan::Plan {
        ident: p.ident.clone(),
        command: p.command.clone(),
        cwd: p.cwd.clone(),
        env: p.env.clone(),
        artifact_dir: p.artifact_dir.clone(),
        job_timeout: p.job_timeout,
        idle_timeout: p.idle_timeout,
        passwords: p.passwords.clone(),
        rotate_artifacts: p.rotate_artifacts,
        ssh_key: p.ssh_key.clone(),
        ssh_key_fifo: p.ssh_key_fifo.clone(),
        process_env: p.process_env.clone(),
        process_cwd: p.process_cwd.clone(),
        callback_dir: p.callback_dir.clone(),
        suppress_output_file: p.suppress_output_file,
        json_mode: p.json_mode,
        container: p.container.as_ref().map(|c| ContainerRun {
            engine: c.engine.clone(),
            name: c.name.clone(),
            image: c.image.clone(),
            env_file: c.env_file.clone(),
            env_file_text: c.env_file_text.clone(),
            pull_never: c.pull_never,
            auth_files: c.auth_files.iter().map(|f| PrivateFile { path: f.path.clone(), text: f.text.clone() }).collect(),
        }),
    }
}

fn input_to_wit(input: JobInput) -> wit::JobInput {
    match input {
        JobInput::NeedMore => wit::JobInput::NeedMore,
        JobInput::Ready(kwargs) => wit::JobInput::Ready(pyjson::encode_to_string(&kwargs)),
        JobInput::Refused { stream, error } => wit::JobInput::Refused((stream, error_to_wit(error))),
    }
}

pub struct JobReaderResource(RefCell<JobReader<WasiHostFs>>);

impl wit::GuestJobReader for JobReaderResource {
    fn new(limits: wit_types::Limits, pdd_host: String) -> Self {
        let dirs = JobDirs { pdd_guest: PDD.into(), pdd_host, scratch_dir: SCRATCH.into() };
        JobReaderResource(RefCell::new(JobReader::new(WasiHostFs, dirs, limits_from(limits))))
    }
    fn feed(&self, bytes: Vec<u8>) -> wit::JobInput {
        input_to_wit(self.0.borrow_mut().feed(&bytes))
    }
    fn finish(&self) -> wit::JobInput {
        input_to_wit(self.0.borrow_mut().finish())
    }
}

pub struct FilterResource {
    filter: RefCell<OutputFilter>,
    prompts: RefCell<Prompts>,
    reply: RefCell<Option<String>>,
}

impl FilterResource {
    fn flush(out: Emitted) -> Result<Vec<u8>, wit_types::StreamError> {
        if !out.stdout.is_empty() {
            let path = format!("{ARTIFACTS}/stdout");
            let append = std::fs::OpenOptions::new().create(true).append(true).open(&path).and_then(|mut f| f.write_all(&out.stdout));
            append.map_err(|e| error_to_wit(EntryError::io("cannot write", &path, e).at(0)))?;
        }
        Ok(out.events)
    }
}

impl wit::GuestEventFilter for FilterResource {
    fn new(ident: String, uuid_seed: u64, max_line_bytes: u64, passwords: Vec<(String, String)>, stdout: wit::StdoutArtifact) -> Self {
        let stdout = match stdout {
            wit::StdoutArtifact::Text => StdoutArtifact::Text,
            wit::StdoutArtifact::Json => StdoutArtifact::Json,
            wit::StdoutArtifact::None => StdoutArtifact::None,
        };
        if stdout != StdoutArtifact::None {
            // The stdout artifact is private (0600) from its creation, as upstream's.
            let _ = crate::fsys::HostFs::write_file(&WasiHostFs, &format!("{ARTIFACTS}/stdout"), b"", 0o600);
        }
        FilterResource {
            filter: RefCell::new(OutputFilter::new(&ident, uuid_seed, max_line_bytes as usize, stdout)),
            prompts: RefCell::new(Prompts::new(&passwords)),
            reply: RefCell::new(None),
        }
    }
    fn feed(&self, output: Vec<u8>, now: String) -> Result<Vec<u8>, wit_types::StreamError> {
        if let Some(answer) = self.prompts.borrow_mut().observe(&String::from_utf8_lossy(&output)) {
            *self.reply.borrow_mut() = Some(answer);
        }
        let mut out = Emitted::default();
        self.filter.borrow_mut().feed(&output, &now, &mut out);
        Self::flush(out)
    }
    fn take_reply(&self) -> Option<String> {
        self.reply.borrow_mut().take()
    }
    fn finish(&self, now: String) -> Result<Vec<u8>, wit_types::StreamError> {
        let mut out = Emitted::default();
        self.filter.borrow_mut().finish(&now, &mut out);
        Self::flush(out)
    }
}

pub struct ArtifactStreamResource(RefCell<ArchiveStream>);

impl wit::GuestArtifactStream for ArtifactStreamResource {
    fn start() -> Result<wit::ArtifactStream, wit_types::StreamError> {
        let stream = ArchiveStream::pack(ARTIFACTS, SCRATCH, &WasiHostFs, &[])
            .map_err(|e| error_to_wit(e.at(0)))?;
        Ok(wit::ArtifactStream::new(ArtifactStreamResource(RefCell::new(stream))))
    }
    fn next_chunk(&self) -> Result<Option<Vec<u8>>, wit_types::StreamError> {
        self.0.borrow_mut().next_chunk().map_err(|e| error_to_wit(e.at(0)))
    }
}

impl wit::Guest for Component {
    type JobReader = JobReaderResource;
    type EventFilter = FilterResource;
    type ArtifactStream = ArtifactStreamResource;

    fn make_plan(kwargs: String, host: wit::JobHost) -> Result<wit::Plan, wit::Refusal> {
        let refused = |r: plan::Refusal| wit::Refusal { explanation: r.explanation, isolation: r.isolation };
        let kwargs = pyjson::parse(kwargs.as_bytes(), 1000).map_err(|e| refused(e.message.into()))?;
        // Opening a FIFO (a stale one from an earlier run, say) would wait for a writer for
        // good; a socket or device is no settings file either. Refused, with its name.
        for rel in plan::PDD_FILES {
            if std::fs::metadata(format!("{PDD}/{rel}")).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
                return Err(refused(format!("{rel} in the private data dir is not a regular file (a FIFO, socket or device): the job is refused rather than wait on it").into()));
            }
        }
        let read = |rel: &str| std::fs::read_to_string(format!("{PDD}/{rel}")).ok();
        let is_file = |rel: &str| std::fs::metadata(format!("{PDD}/{rel}")).is_ok_and(|m| m.is_file());
        let is_dir = |rel: &str| std::fs::metadata(format!("{PDD}/{rel}")).is_ok_and(|m| m.is_dir());
        // A string `extravars` names a file; only one inside the private data dir is seen.
        let named_files = match kwargs.get("extravars").and_then(Value::as_str) {
            Some(name) => {
                let rel = crate::paths::relative_if_under(&crate::paths::abspath(&host.pdd, name), &host.pdd);
                (!rel.starts_with('/') && !rel.starts_with("..") && is_file(&rel)).then(|| name.to_string()).into_iter().collect()
            }
            None => Vec::new(),
        };
        let files = plan::PddFiles {
            args: is_file("args").then(|| read("args")).flatten(),
            cmdline: read("env/cmdline"),
            envvars: read("env/envvars"),
            settings: read("env/settings"),
            passwords: read("env/passwords"),
            ssh_key: read("env/ssh_key"),
            has_extravars: is_file("env/extravars"),
            has_inventory_dir: std::fs::metadata(format!("{PDD}/inventory")).is_ok(),
            has_project_dir: is_dir("project"),
            named_files,
        };
        let host = plan::JobHost {
            pdd: host.pdd,
            inherited_env: host.inherited_env,
            callback_dir: host.callback_dir,
            fallback_ident: host.fallback_ident,
            auth_dir: host.auth_dir,
            uid: host.uid,
        };
        plan::plan(&kwargs, &host, &files).map(to_wit).map_err(refused)
    }

    fn isolation_executable(kwargs: String) -> Option<String> {
        let kwargs = pyjson::parse(kwargs.as_bytes(), 1000).ok()?;
        crate::stages::worker::options::isolation_executable(&kwargs)
    }

    fn error_status_line(plan: wit::Plan, explanation: String) -> Vec<u8> {
        plan::error_status_line(&from_wit(&plan), &explanation)
    }

    fn status_line(status: String, plan: wit::Plan, with_command: bool) -> Vec<u8> {
        plan::status_line(&status, &from_wit(&plan), with_command)
    }

    fn error_stream(explanation: String) -> Vec<u8> {
        let s = PyStr::from_str;
        let mut out = Vec::new();
        pyjson::encode(&Value::Object(vec![(s("status"), Value::Str(s("error"))), (s("job_explanation"), Value::Str(s(&explanation)))]), &mut out);
        out.extend_from_slice(b"\n{\"eof\": true}\n");
        out
    }

    fn write_artifacts(plan: wit::Plan, rc: i32, status: String) -> Result<(), wit_types::StreamError> {
        let command = plan::command_artifact(&from_wit(&plan));
        artifacts::write_final(&WasiHostFs, ARTIFACTS, &command, rc, &status, !plan.suppress_output_file).map_err(|e| error_to_wit(e.at(0)))
    }
}
