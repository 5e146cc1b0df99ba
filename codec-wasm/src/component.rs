//! The wasm component: WIT bindings over the format core. Only glue lives here.

use std::cell::RefCell;
use std::io;

use crate::decoder::{self, Decoder, Frame, LineKind};
use crate::error::{ErrorKind, StreamError};
use crate::fsys::{HostFs, Meta};
use crate::limits::Limits;
use crate::process::{ProcessDirs, Processor};
use crate::transmit::{TransmitRequest, Transmitter};
use crate::{paths, pyjson};

wit_bindgen::generate!({ path: "wit", world: "codec" });

use exports::runnerwire::codec::frames as wit_frames;
use exports::runnerwire::codec::process as wit_process;
use exports::runnerwire::codec::transmit as wit_transmit;
use exports::runnerwire::codec::types as wit_types;
use runnerwire::codec::host_fs;

/// Guest paths of the directories the host grants.
const ARTIFACTS: &str = "/artifacts";
const SCRATCH: &str = "/scratch";
const PDD: &str = "/pdd";

struct Component;

/// [`HostFs`] through the host's `host-fs` import.
struct WasiHostFs;

fn host_err(message: String) -> io::Error {
    io::Error::other(message)
}

impl HostFs for WasiHostFs {
    fn lstat(&self, path: &str) -> io::Result<Option<Meta>> {
        let meta = host_fs::lstat(path).map_err(host_err)?;
        Ok(meta.map(|m| Meta { mode: m.mode, size: m.size, mtime: m.mtime }))
    }
    fn set_mode(&self, path: &str, mode: u32) -> io::Result<()> {
        host_fs::set_mode(path, mode).map_err(host_err)
    }
    fn set_mtime(&self, path: &str, mtime: i64) -> io::Result<()> {
        host_fs::set_mtime(path, mtime).map_err(host_err)
    }
    fn read_link(&self, path: &str) -> io::Result<String> {
        host_fs::read_link(path).map_err(host_err)
    }
    fn symlink(&self, target: &str, path: &str) -> io::Result<()> {
        host_fs::make_symlink(target, path).map_err(host_err)
    }
    fn utc_offset(&self, unix_seconds: i64) -> i32 {
        host_fs::utc_offset(unix_seconds)
    }
    fn write_file(&self, path: &str, data: &[u8], mode: u32) -> io::Result<()> {
        host_fs::write_file(path, data, mode).map_err(host_err)
    }
}

pub(crate) fn limits_from(l: wit_types::Limits) -> Limits {
    Limits {
        max_line_bytes: l.max_line_bytes,
        max_archive_bytes: l.max_archive_bytes,
        max_entries: l.max_entries,
        max_unpacked_bytes: l.max_unpacked_bytes,
        max_compression_ratio: l.max_compression_ratio,
        max_json_depth: l.max_json_depth,
    }
}

pub(crate) fn error_to_wit(e: StreamError) -> wit_types::StreamError {
    let kind = match e.kind {
        ErrorKind::Malformed => wit_types::ErrorKind::Malformed,
        ErrorKind::Truncated => wit_types::ErrorKind::Truncated,
        ErrorKind::Unsafe => wit_types::ErrorKind::Unsafe,
        ErrorKind::Limit => wit_types::ErrorKind::Limit,
        ErrorKind::Io => wit_types::ErrorKind::Io,
    };
    wit_types::StreamError { kind, offset: e.offset, message: e.message }
}

impl wit_types::Guest for Component {
    fn default_limits() -> wit_types::Limits {
        let l = Limits::default();
        wit_types::Limits {
            max_line_bytes: l.max_line_bytes,
            max_archive_bytes: l.max_archive_bytes,
            max_entries: l.max_entries,
            max_unpacked_bytes: l.max_unpacked_bytes,
            max_compression_ratio: l.max_compression_ratio,
            max_json_depth: l.max_json_depth,
        }
    }
}

struct DecoderResource(RefCell<Decoder>);

impl wit_frames::Guest for Component {
    type Decoder = DecoderResource;
}

impl wit_frames::GuestDecoder for DecoderResource {
    fn new(kind: wit_types::StreamKind, limits: wit_types::Limits) -> Self {
        let kind = match kind {
            wit_types::StreamKind::JobStream => decoder::StreamKind::Job,
            wit_types::StreamKind::ResultStream => decoder::StreamKind::Result,
        };
        DecoderResource(RefCell::new(Decoder::new(kind, limits_from(limits))))
    }
    fn push(&self, bytes: Vec<u8>) {
        self.0.borrow_mut().push(&bytes);
    }
    fn finish(&self) {
        self.0.borrow_mut().finish();
    }
    fn next(&self) -> Result<Option<wit_frames::Frame>, wit_types::StreamError> {
        let frame = self.0.borrow_mut().next().map_err(error_to_wit)?;
        Ok(frame.map(|f| match f {
            Frame::Line { offset, kind, value } => {
                let mut json = Vec::new();
                pyjson::encode(&value, &mut json);
                let kind = match kind {
                    LineKind::Kwargs => wit_frames::LineKind::Kwargs,
                    LineKind::Status => wit_frames::LineKind::Status,
                    LineKind::Event => wit_frames::LineKind::Event,
                    LineKind::Keepalive => wit_frames::LineKind::Keepalive,
                    LineKind::Eof => wit_frames::LineKind::Eof,
                    LineKind::Other => wit_frames::LineKind::Other,
                };
                // ensure_ascii output is ASCII, so this never loses anything.
                let json = String::from_utf8_lossy(&json).into_owned();
                wit_frames::Frame::Line(wit_frames::JsonLine { offset, kind, json })
            }
            Frame::ArchiveStart { offset, size } => wit_frames::Frame::ArchiveStart((offset, size)),
            Frame::ArchiveData(data) => wit_frames::Frame::ArchiveData(data),
            Frame::ArchiveEnd { offset } => wit_frames::Frame::ArchiveEnd(offset),
        }))
    }
}

struct ProcessorResource(RefCell<Result<Processor<WasiHostFs>, StreamError>>);

impl wit_process::Guest for Component {
    type Processor = ProcessorResource;

    fn artifact_dir(cwd: String, private_data_dir: String, ident: Option<String>, artifact_dir: Option<String>) -> String {
        paths::process_artifact_dir(&cwd, &private_data_dir, ident.as_deref(), artifact_dir.as_deref())
    }
}

impl wit_process::GuestProcessor for ProcessorResource {
    fn new(limits: wit_types::Limits, quiet: bool) -> Self {
        let dirs = ProcessDirs { artifact_dir: ARTIFACTS.into(), scratch_dir: SCRATCH.into() };
        // A constructor cannot fail in WIT: the error surfaces on the first call.
        ProcessorResource(RefCell::new(Processor::new(WasiHostFs, dirs, limits_from(limits), quiet)))
    }
    fn feed(&self, bytes: Vec<u8>) -> Result<Vec<u8>, wit_process::Fault> {
        let mut cell = self.0.borrow_mut();
        let processor = cell.as_mut().map_err(|e| fault(Vec::new(), e.clone()))?;
        let mut stdout = Vec::new();
        match processor.feed(&bytes, &mut stdout) {
            Ok(()) => Ok(stdout),
            Err(e) => Err(fault(stdout, e)),
        }
    }
    fn complete(&self) -> bool {
        self.0.borrow().as_ref().is_ok_and(|p| p.complete())
    }
    fn finish(&self) -> Result<(Vec<u8>, wit_process::Outcome), wit_process::Fault> {
        let mut cell = self.0.borrow_mut();
        let processor = cell.as_mut().map_err(|e| fault(Vec::new(), e.clone()))?;
        let mut stdout = Vec::new();
        match processor.finish(&mut stdout) {
            Ok(o) => Ok((stdout, wit_process::Outcome { status: o.status, rc: o.rc, events_written: o.events_written })),
            Err(e) => Err(fault(stdout, e)),
        }
    }
}

/// The output of the events before a fault still gets printed: it is valid and kept.
fn fault(printed: Vec<u8>, error: StreamError) -> wit_process::Fault {
    wit_process::Fault { printed, error: error_to_wit(error) }
}

struct TransmitterResource(RefCell<Transmitter>);

impl wit_transmit::Guest for Component {
    type Transmitter = TransmitterResource;
}

impl wit_transmit::GuestTransmitter for TransmitterResource {
    fn start(r: wit_transmit::TransmitRequest) -> Result<wit_transmit::Transmitter, wit_types::StreamError> {
        let request = TransmitRequest {
            private_data_dir: r.private_data_dir,
            ident: r.ident,
            binary: r.binary,
            playbook: r.playbook,
            module: r.module,
            module_args: r.module_args,
            host_pattern: r.host_pattern,
            verbosity: r.verbosity,
            quiet: r.quiet,
            rotate_artifacts: r.rotate_artifacts,
            json_mode: r.json_mode,
            omit_event_data: r.omit_event_data,
            only_failed_event_data: r.only_failed_event_data,
            inventory: r.inventory,
            forks: r.forks,
            project_dir: r.project_dir,
            artifact_dir: r.artifact_dir,
            roles_path: r.roles_path,
            container_image: r.container_image,
            container_volume_mounts: r.container_volume_mounts,
            container_options: r.container_options,
            cmdline: r.cmdline,
            limit: r.limit,
            suppress_env_files: r.suppress_env_files,
            role: r.role,
            role_vars: r.role_vars,
            role_skip_facts: r.role_skip_facts,
            generated_name: r.generated_name,
            only_transmit_kwargs: r.only_transmit_kwargs,
            now: r.now,
        };
        let transmitter = Transmitter::start(&request, PDD, SCRATCH, &WasiHostFs).map_err(|e| error_to_wit(e.at(0)))?;
        Ok(wit_transmit::Transmitter::new(TransmitterResource(RefCell::new(transmitter))))
    }
    fn next_chunk(&self) -> Result<Option<Vec<u8>>, wit_types::StreamError> {
        self.0.borrow_mut().next_chunk().map_err(|e| error_to_wit(e.at(0)))
    }
}

export!(Component);

mod inspect_glue {
    use std::cell::RefCell;

    use super::exports::runnerwire::codec::inspect as wit;
    use super::exports::runnerwire::codec::types as wit_types;
    use super::{limits_from, Component, SCRATCH};
    use crate::inspect::{Inspector, Scratch};

    pub struct InspectorResource(RefCell<Inspector>);

    impl wit::GuestInspector for InspectorResource {
        fn new(limits: wit_types::Limits) -> Self {
            let scratch = Scratch { path: format!("{SCRATCH}/inspect.zip") };
            InspectorResource(RefCell::new(Inspector::new(limits_from(limits), scratch)))
        }
        fn push(&self, bytes: Vec<u8>) -> Vec<u8> {
            self.0.borrow_mut().push(&bytes)
        }
        fn finish(&self) -> Vec<u8> {
            self.0.borrow_mut().finish()
        }
        fn text_report(&self) -> String {
            self.0.borrow().text_report()
        }
        fn first_problem(&self) -> Option<String> {
            let inspector = self.0.borrow();
            let summary = inspector.summary();
            summary.problem_list.first().map(|p| format!("{} at byte {}, line {}: {}", p.kind, p.offset, p.line, p.message))
        }
    }

    impl wit::Guest for Component {
        type Inspector = InspectorResource;
    }
}

mod worker_glue {
    use std::cell::RefCell;
    use std::io::Write;

    use super::exports::runnerwire::codec::types as wit_types;
    use super::exports::runnerwire::codec::worker as wit;
    use super::{error_to_wit, limits_from, Component, WasiHostFs, ARTIFACTS, PDD, SCRATCH};
    use crate::archive_stream::ArchiveStream;
    use crate::error::EntryError;
    use crate::pyjson::{self, PyStr, Value};
    use crate::worker::job::{JobDirs, JobInput, JobReader};
    use crate::worker::container::{ContainerRun, PrivateFile};
    use crate::worker::output::{Emitted, OutputFilter, StdoutArtifact};
    use crate::worker::prompts::Prompts;
    use crate::worker::{artifacts, plan};

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
            JobInput::Ready(kwargs) => {
                let mut json = Vec::new();
                pyjson::encode(&kwargs, &mut json);
                wit::JobInput::Ready(String::from_utf8_lossy(&json).into_owned())
            }
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
            let stream = ArchiveStream::pack(ARTIFACTS, &format!("{SCRATCH}/artifacts.zip"), &WasiHostFs, &[])
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

        fn make_plan(kwargs: String, host: wit::JobHost) -> Result<wit::Plan, String> {
            let kwargs = pyjson::parse(kwargs.as_bytes(), 1000).map_err(|e| e.message)?;
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
            plan::plan(&kwargs, &host, &files).map(to_wit)
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
}
