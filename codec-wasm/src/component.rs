//! The wasm component: WIT bindings over the format core. Only glue lives here.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::wire::decoder::{self, Decoder, Frame, LineKind};
use crate::error::{ErrorKind, StreamError};
use crate::fsys::{DataPiece, Encoded, HostFs, Meta, ToEncode, WriteFailure};
use crate::limits::Limits;
use crate::stages::process::{ProcessDirs, Processor};
use crate::stages::transmit::{TransmitRequest, Transmitter};
use crate::{paths, pyjson};

wit_bindgen::generate!({ path: "wit", world: "codec" });

use exports::runnerwire::codec::frames as wit_frames;
use exports::runnerwire::codec::process as wit_process;
use exports::runnerwire::codec::transmit as wit_transmit;
use exports::runnerwire::codec::types as wit_types;
use runnerwire::codec::{fast_writes, host_fs, native_pack};

/// Guest paths of the directories the host grants.
const ARTIFACTS: &str = "/artifacts";
const SCRATCH: &str = "/scratch";
const PDD: &str = "/pdd";

/// Bytes read from stdin at a time by the entry points that read the stream themselves
/// (`process.stepper`, `inspect.inspect-stdin`).
const STDIN_READ_SIZE: usize = 256 << 10;

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
        fast_write(|| fast_writes::write_file(path, data, mode)).unwrap_or_else(|| wasi_writes::write_file(path, data, mode))
    }
    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> io::Result<()> {
        fast_write(|| fast_writes::write_at(path, offset, data)).unwrap_or_else(|| wasi_writes::write_at(path, offset, data))
    }
    fn queue_write(&self, path: &str, data: &[u8], mode: u32, tag: u64) -> Result<(), WriteFailure> {
        if !FAST_WRITES_UNSUPPORTED.load(Ordering::Relaxed) {
            match fast_writes::queue_write(path, data, mode, tag) {
                Ok(()) => return Ok(()),
                Err(fast_writes::QueueError::Failed(f)) => return Err(write_failure(f)),
                Err(fast_writes::QueueError::Unsupported) => FAST_WRITES_UNSUPPORTED.store(true, Ordering::Relaxed),
            }
        }
        // Written at once: the failure, if any, is this write's.
        wasi_writes::write_file(path, data, mode).map_err(|e| WriteFailure { path: path.to_string(), tag, message: e.to_string() })
    }
    fn flush_writes(&self, before: Option<u64>) -> Result<(), WriteFailure> {
        if FAST_WRITES_UNSUPPORTED.load(Ordering::Relaxed) {
            return Ok(());
        }
        fast_writes::flush_writes(before).map_err(write_failure)
    }
    fn list_dir_natively(&self, dir: &str) -> io::Result<Option<crate::fsys::Listing>> {
        match native_pack::list_dir(dir) {
            Ok(entries) => Ok(Some(
                entries.into_iter().map(|e| (e.name, Meta { mode: e.meta.mode, size: e.meta.size, mtime: e.meta.mtime })).collect(),
            )),
            Err(native_pack::ListError::Unsupported) => Ok(None),
            Err(native_pack::ListError::Failed(message)) => Err(host_err(message)),
        }
    }
    fn encode_files_natively(&self, files: &[ToEncode], out_prefix: &str) -> io::Result<Option<Vec<Encoded>>> {
        use runnerwire_policy::entry_data::{EntryData, Method};
        let files: Vec<native_pack::FileToEncode> = files.iter().map(|f| native_pack::FileToEncode { path: f.path.clone(), size: f.size }).collect();
        match native_pack::encode_files(&files, out_prefix) {
            Ok(encoded) => Ok(Some(
                encoded
                    .into_iter()
                    .map(|e| Encoded {
                        data: EntryData {
                            method: match e.method {
                                native_pack::EntryMethod::Stored => Method::Stored,
                                native_pack::EntryMethod::Deflated => Method::Deflated,
                            },
                            crc32: e.crc32,
                            size: e.size,
                            compressed_size: e.compressed_size,
                        },
                        pieces: e.pieces.into_iter().map(|p| DataPiece { output: p.output, offset: p.offset, length: p.length }).collect(),
                    })
                    .collect(),
            )),
            Err(native_pack::EncodeError::Unsupported) => Ok(None),
            Err(native_pack::EncodeError::Failed(message)) => Err(host_err(message)),
        }
    }
}

/// A `fast-writes` call's result, or none when the host has no such import (then WASI
/// does the write).
fn fast_write(call: impl FnOnce() -> Result<(), fast_writes::WriteError>) -> Option<io::Result<()>> {
    if FAST_WRITES_UNSUPPORTED.load(Ordering::Relaxed) {
        return None;
    }
    match call() {
        Ok(()) => Some(Ok(())),
        Err(fast_writes::WriteError::Failed(message)) => Some(Err(host_err(message))),
        Err(fast_writes::WriteError::Unsupported) => {
            FAST_WRITES_UNSUPPORTED.store(true, Ordering::Relaxed);
            None
        }
    }
}

/// Set once a host answers `unsupported`: a host offers `fast-writes` or not, so the
/// component stops asking and writes through WASI from then on.
static FAST_WRITES_UNSUPPORTED: AtomicBool = AtomicBool::new(false);

fn write_failure(f: fast_writes::WriteFailure) -> WriteFailure {
    WriteFailure { path: f.path, tag: f.tag, message: f.message }
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
    wit_types::StreamError { kind, problem: e.problem.name().to_string(), offset: e.offset, line: e.line, message: e.message, text: e.text }
}

/// A WIT error back as the codec's (an unknown problem word is the kind's usual one).
fn error_from_wit(e: wit_types::StreamError) -> StreamError {
    let kind = kind_from_wit(e.kind);
    let problem = runnerwire_policy::Problem::named(&e.problem, kind);
    StreamError { kind, problem, offset: e.offset, line: e.line, message: e.message, text: e.text }
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
    fn exit_code(status: wit_types::ExitStatus) -> u8 {
        use runnerwire_policy::exit;
        match status {
            wit_types::ExitStatus::Success => exit::SUCCESS,
            wit_types::ExitStatus::JobFailed => exit::JOB_FAILED,
            wit_types::ExitStatus::Usage => exit::USAGE,
            wit_types::ExitStatus::BadStream => exit::BAD_STREAM,
            wit_types::ExitStatus::IsolationUnavailable => exit::ISOLATION_UNAVAILABLE,
            wit_types::ExitStatus::Internal => exit::INTERNAL,
            wit_types::ExitStatus::IoError => exit::IO_ERROR,
        }
    }
    fn error_exit_code(kind: wit_types::ErrorKind) -> u8 {
        kind_from_wit(kind).exit_code()
    }
    fn describe(error: wit_types::StreamError) -> String {
        error_from_wit(error).to_string()
    }
    fn job_explanation(error: wit_types::StreamError) -> String {
        let error = error_from_wit(error);
        runnerwire_policy::explain::job_explanation(error.problem, &error.to_string(), error.text.as_deref())
    }
    fn read_error_explanation(error: String) -> String {
        runnerwire_policy::explain::read_error_explanation(&error)
    }
}

fn kind_from_wit(kind: wit_types::ErrorKind) -> ErrorKind {
    match kind {
        wit_types::ErrorKind::Malformed => ErrorKind::Malformed,
        wit_types::ErrorKind::Truncated => ErrorKind::Truncated,
        wit_types::ErrorKind::Unsafe => ErrorKind::Unsafe,
        wit_types::ErrorKind::Limit => ErrorKind::Limit,
        wit_types::ErrorKind::Io => ErrorKind::Io,
    }
}

/// The outcome a finished `process` run reports, with the exit code the policy gives it.
pub(crate) fn outcome_to_wit(o: crate::stages::process::Outcome) -> wit_process::Outcome {
    let exit_code = runnerwire_policy::exit::for_outcome(o.status.as_deref(), o.rc);
    wit_process::Outcome { status: o.status, rc: o.rc, events_written: o.events_written, exit_code }
}

struct DecoderResource(RefCell<Decoder>);

impl wit_frames::Guest for Component {
    type Decoder = DecoderResource;
}

impl wit_frames::GuestDecoder for DecoderResource {
    fn new(kind: wit_types::StreamKind, limits: wit_types::Limits) -> Self {
        let decoder = match kind {
            wit_types::StreamKind::JobStream => Decoder::new(decoder::StreamKind::Job, limits_from(limits)),
            // Canonical event lines need no parse and re-encode: most of a result stream.
            wit_types::StreamKind::ResultStream => Decoder::with_raw_events(limits_from(limits)),
        };
        DecoderResource(RefCell::new(decoder))
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
                let kind = match kind {
                    LineKind::Kwargs => wit_frames::LineKind::Kwargs,
                    LineKind::Status => wit_frames::LineKind::Status,
                    LineKind::Event => wit_frames::LineKind::Event,
                    LineKind::Keepalive => wit_frames::LineKind::Keepalive,
                    LineKind::Eof => wit_frames::LineKind::Eof,
                    LineKind::Other => wit_frames::LineKind::Other,
                };
                wit_frames::Frame::Line(wit_frames::JsonLine { offset, kind, json: pyjson::encode_to_string(&value) })
            }
            Frame::ArchiveStart { offset, size } => wit_frames::Frame::ArchiveStart((offset, size)),
            Frame::ArchiveData(data) => wit_frames::Frame::ArchiveData(data),
            Frame::ArchiveEnd { offset } => wit_frames::Frame::ArchiveEnd(offset),
            // Canonical already: the line itself is its re-encoding.
            Frame::RawEvent(event) => wit_frames::Frame::Line(wit_frames::JsonLine {
                offset: event.offset,
                kind: wit_frames::LineKind::Event,
                json: pyjson::ascii_string(event.json),
            }),
        }))
    }
}

struct ProcessorResource(RefCell<Result<Processor<WasiHostFs>, StreamError>>);

impl wit_process::Guest for Component {
    type Processor = ProcessorResource;
    type Stepper = step_glue::StepperResource;

    fn artifact_dir(cwd: String, private_data_dir: String, ident: Option<String>, artifact_dir: Option<String>) -> String {
        paths::process_artifact_dir(&cwd, &private_data_dir, ident.as_deref(), artifact_dir.as_deref())
    }
    fn prepare_steps(private_data_dir: String) -> Vec<wit_types::PrepareStep> {
        steps_to_wit(runnerwire_policy::prepare::for_process(std::path::Path::new(&private_data_dir)))
    }
}

/// The policy's preparation steps as the WIT carries them.
fn steps_to_wit(steps: Vec<runnerwire_policy::prepare::Step>) -> Vec<wit_types::PrepareStep> {
    use runnerwire_policy::prepare::Step;
    let text = |p: std::path::PathBuf| p.to_string_lossy().into_owned();
    steps
        .into_iter()
        .map(|step| match step {
            Step::Dir { path, mode } => wit_types::PrepareStep::MakeDir(wit_types::PathMode { path: text(path), mode }),
            Step::EmptyFile { path, mode } => wit_types::PrepareStep::MakeEmptyFile(wit_types::PathMode { path: text(path), mode }),
        })
        .collect()
}

impl wit_process::GuestProcessor for ProcessorResource {
    fn new(limits: wit_types::Limits, quiet: bool) -> Self {
        let dirs = ProcessDirs { artifact_dir: ARTIFACTS.into(), scratch_dir: SCRATCH.into() };
        // A constructor cannot fail in WIT: the error surfaces on the first call.
        ProcessorResource(RefCell::new(Processor::new(WasiHostFs, dirs, limits_from(limits), quiet)))
    }
    fn resuming(limits: wit_types::Limits, quiet: bool) -> wit_process::Processor {
        let dirs = ProcessDirs { artifact_dir: ARTIFACTS.into(), scratch_dir: SCRATCH.into() };
        let processor = Processor::new(WasiHostFs, dirs, limits_from(limits), quiet).and_then(Processor::resuming);
        wit_process::Processor::new(ProcessorResource(RefCell::new(processor)))
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
            Ok(o) => Ok((stdout, outcome_to_wit(o))),
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

    fn inventory_candidates(cwd: String, private_data_dir: String, inventory: String) -> wit_transmit::InventoryLookup {
        use runnerwire_policy::inventory;
        use std::path::Path;
        let candidates = inventory::candidates(Path::new(&cwd), Path::new(&private_data_dir), Path::new(&inventory));
        wit_transmit::InventoryLookup {
            candidates: candidates.into_iter().map(|p| p.to_string_lossy().into_owned()).collect(),
            not_found: inventory::not_found(&inventory),
        }
    }

    fn prepare_steps(private_data_dir: String) -> Vec<wit_types::PrepareStep> {
        steps_to_wit(runnerwire_policy::prepare::for_transmit(std::path::Path::new(&private_data_dir)))
    }
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

mod cli_glue;
mod wasi_writes;
mod inspect_glue;

mod worker_glue;

mod step_glue;
