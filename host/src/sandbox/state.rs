//! What one store holds (WASI, the grants, the write queue, the limits), and the
//! `host-fs` and `fast-writes` imports implemented on it.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::StoreLimits;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::runnerwire::codec::fast_writes::{self, QueueError, WriteError, WriteFailure};
use super::bindings::runnerwire::codec::host_fs::{Host, Meta};
use super::bindings::runnerwire::codec::native_pack::{self, DirEntry, EncodeError, Encoded, FileToEncode, ListError};
use super::host_fs::Grants;
use super::write_queue::WriteQueue;

/// State of one store: WASI, the host-fs grants and the limits.
pub struct HostState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limits: StoreLimits,
    pub(super) grants: Arc<Grants>,
    /// `queue-write`'s writer, on the same grants.
    pub(super) writes: WriteQueue,
    /// Epoch ticks one call into the component may run.
    pub(super) call_ticks: u64,
    /// Whether the `fast-writes` import is offered (else the component writes via WASI).
    pub(super) fast_writes: bool,
    /// Whether `native-pack` is offered (else the component encodes files itself).
    pub(super) native_pack: bool,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// The import, on this store's grants.
impl Host for HostState {
    fn lstat(&mut self, path: String) -> Result<Option<Meta>, String> {
        self.grants.lstat(path)
    }
    fn set_mode(&mut self, path: String, mode: u32) -> Result<(), String> {
        self.grants.set_mode(path, mode)
    }
    fn set_mtime(&mut self, path: String, mtime: i64) -> Result<(), String> {
        self.grants.set_mtime(path, mtime)
    }
    fn read_link(&mut self, path: String) -> Result<String, String> {
        self.grants.read_link(path)
    }
    fn make_symlink(&mut self, target: String, path: String) -> Result<(), String> {
        self.grants.make_symlink(target, path)
    }
    fn utc_offset(&mut self, unix_seconds: i64) -> i32 {
        use chrono::{Local, Offset, TimeZone};
        match Local.timestamp_opt(unix_seconds, 0) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.offset().fix().local_minus_utc(),
            chrono::LocalResult::None => 0,
        }
    }
}

/// The optional import: offered unless the runtime was made without it (the tests of the
/// component's WASI fallback), then every call answers `unsupported`.
impl fast_writes::Host for HostState {
    fn write_file(&mut self, path: String, data: Vec<u8>, mode: u32) -> Result<(), WriteError> {
        if !self.fast_writes {
            return Err(WriteError::Unsupported);
        }
        self.grants.write_file(&path, &data, mode).map(|_new| ()).map_err(WriteError::Failed)
    }
    fn write_at(&mut self, path: String, offset: u64, data: Vec<u8>) -> Result<(), WriteError> {
        if !self.fast_writes {
            return Err(WriteError::Unsupported);
        }
        self.grants.write_at(&path, offset, &data).map_err(WriteError::Failed)
    }
    fn queue_write(&mut self, path: String, data: Vec<u8>, mode: u32, tag: u64) -> Result<(), QueueError> {
        if !self.fast_writes {
            return Err(QueueError::Unsupported);
        }
        self.writes.push(path, data, mode, tag).map_err(QueueError::Failed)
    }
    fn flush_writes(&mut self, before: Option<u64>) -> Result<(), WriteFailure> {
        self.writes.flush(before)
    }
}

/// Offered unless the runtime was made without it (the tests of the component's own
/// encoding), then `unsupported`.
impl native_pack::Host for HostState {
    fn list_dir(&mut self, path: String) -> Result<Vec<DirEntry>, ListError> {
        if !self.native_pack {
            return Err(ListError::Unsupported);
        }
        self.grants.list_dir(&path).map_err(|e| ListError::Failed(e.to_string()))
    }
    fn encode_files(&mut self, files: Vec<FileToEncode>, out_prefix: String) -> Result<Vec<Encoded>, EncodeError> {
        if !self.native_pack {
            return Err(EncodeError::Unsupported);
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.grants.encode_files(&files, &out_prefix, cores)
    }
}
