//! The wasmtime embedding: one engine, the component precompiled at build time and
//! embedded, and a fresh store per stage run with memory and time limits and only the
//! directories that run is granted.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{AsContextMut, Config, Engine, Store, StoreContextMut, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::bindings::{runnerwire, Codec};
use super::host_fs::{Grant, Grants};
use super::state::HostState;
use super::write_queue::WriteQueue;

/// The component, embedded at build time.
pub static COMPONENT: &[u8] = include_bytes!(env!("RUNNERWIRE_COMPONENT_PATH"));

/// The component compiled to native code for [`engine_config`] by `runnerwire-precompile`
/// at build time (`make build`); empty in the first stage of that build.
static PRECOMPILED: &[u8] = include_bytes!(env!("RUNNERWIRE_PRECOMPILED_PATH"));

/// The target this binary was built for: the one its embedded code is compiled for.
pub const BUILD_TARGET: &str = env!("RUNNERWIRE_TARGET");

/// The engine configuration, the same when precompiling and when running (the precompiled
/// code is only accepted by an engine configured alike).
pub fn engine_config() -> Result<Config> {
    engine_config_for(BUILD_TARGET)
}

/// [`engine_config`] for another target triple: what a build for that target will run with.
pub fn engine_config_for(target: &str) -> Result<Config> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    // The target's baseline features, not this machine's: the embedded code then runs on
    // any CPU of the architecture the binary is copied to.
    config.target(target).map_err(|e| anyhow!("cannot target {target}: {e}"))?;
    // The map from native code back to wasm offsets only serves debugging and profiling; it
    // is a fifth of the compiled code, and every start would read it.
    config.generate_address_map(false);
    Ok(config)
}

/// Compiles the embedded component for [`engine_config_for`] `target` (what `make build`
/// embeds for this machine, and `make dist` for the other architecture).
pub fn precompile(target: &str) -> Result<Vec<u8>> {
    let engine = Engine::new(&engine_config_for(target)?).map_err(|e| anyhow!("cannot create the wasm engine: {e}"))?;
    engine.precompile_component(COMPONENT).map_err(|e| anyhow!("cannot compile the component: {e}"))
}

/// Epoch ticks per second (the time budget's resolution).
const TICKS_PER_SECOND: u64 = 10;

/// Sandbox budget for one store.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Most linear memory the component may grow to.
    pub max_memory_bytes: usize,
    /// Longest one call into the component may run.
    pub call_timeout: Duration,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { max_memory_bytes: 256 << 20, call_timeout: Duration::from_secs(600) }
    }
}

/// The loaded component, ready to instantiate.
pub struct Runtime {
    engine: Engine,
    component: Component,
    linker: Linker<HostState>,
    /// Offer the `fast-writes` import (always, but for tests of the component's fallback).
    fast_writes: bool,
    /// Offer the `native-pack` import (always, but for tests of the component's own).
    native_pack: bool,
}

/// A running instance: the bindings, and the store they call into. Two fields, so a
/// binding borrowed from `codec` can be called while `store` is borrowed mutably.
pub struct Instance {
    pub codec: Codec,
    pub store: TimedStore,
}

/// An instance's store, lent out only through [`TimedStore::call`]: every call into the
/// component then runs under a fresh time budget, never one a previous call left.
pub struct TimedStore(Store<HostState>);

impl TimedStore {
    /// Makes one call into the component under a fresh time budget: `call` gets the store
    /// to hand to a binding's `call_*` (or a resource's `resource_drop`, which runs the
    /// component's destructor). A trap comes back as [`Trapped`].
    pub fn call<R>(&mut self, call: impl FnOnce(StoreContextMut<'_, HostState>) -> wasmtime::Result<R>) -> Result<R, Trapped> {
        arm(&mut self.0);
        call(self.0.as_context_mut()).map_err(Trapped)
    }
}

/// A call into the component trapped: out of time or memory, a host import failed, or a
/// bug. A type of its own (not `wasmtime::Error`, which is `anyhow::Error`) so that `?`
/// can turn exactly these into a stage's failure and nothing else.
#[derive(Debug)]
pub struct Trapped(wasmtime::Error);

impl Trapped {
    /// What wasmtime reported (a `wasmtime::Trap` code, when it was one).
    pub fn into_error(self) -> wasmtime::Error {
        self.0
    }
}

/// Transparent: says what wasmtime said.
impl std::fmt::Display for Trapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Trapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Re-arms the time budget. Private to this file: a call made anywhere else is made
/// through [`TimedStore::call`], which cannot forget it.
fn arm(store: &mut Store<HostState>) {
    let ticks = store.data().call_ticks;
    store.set_epoch_deadline(ticks);
}

impl Runtime {
    /// The same runtime answering `unsupported` to every `fast-writes` call, as a host
    /// without that import would: the component then writes through WASI. For tests.
    pub fn without_fast_writes(mut self) -> Self {
        self.fast_writes = false;
        self
    }

    /// The same runtime answering `unsupported` to `native-pack`, as a host without it
    /// would: the component then encodes files itself. For tests.
    pub fn without_native_pack(mut self) -> Self {
        self.native_pack = false;
        self
    }

    pub fn new() -> Result<Self> {
        let (engine, component) = loaded()?;
        let (engine, component) = (engine.clone(), component.clone());
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow!("cannot link WASI: {e}"))?;
        runnerwire::codec::host_fs::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| anyhow!("cannot link host-fs: {e}"))?;
        runnerwire::codec::fast_writes::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| anyhow!("cannot link fast-writes: {e}"))?;
        runnerwire::codec::native_pack::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| anyhow!("cannot link native-pack: {e}"))?;
        Ok(Runtime { engine, component, linker, fast_writes: true, native_pack: true })
    }

    /// A fresh store that sees only `grants`, under `budget`.
    pub fn instantiate(&self, grants: &[Grant], budget: Budget) -> Result<Instance> {
        self.instantiate_with(grants, budget, |_| {})
    }

    /// As [`Runtime::instantiate`], the component's stdin reading `stdin` (the stepper reads
    /// the result stream there, so the stream never crosses the boundary as `list<u8>`).
    pub fn instantiate_reading(&self, grants: &[Grant], budget: Budget, stdin: std::fs::File) -> Result<Instance> {
        self.instantiate_with(grants, budget, |b| {
            b.stdin(wasmtime_wasi::cli::InputFile::new(stdin));
        })
    }

    fn instantiate_with(&self, grants: &[Grant], budget: Budget, extra: impl FnOnce(&mut WasiCtxBuilder)) -> Result<Instance> {
        let mut store = self.sandboxed_store(grants, budget, extra)?;
        let codec = Codec::instantiate(&mut store, &self.component, &self.linker)
            .map_err(|e| anyhow!("cannot instantiate the component: {e}"))?;
        Ok(Instance { codec, store: TimedStore(store) })
    }

    /// Runs any WASI command component in exactly the sandbox a codec run gets (grants,
    /// memory, time); returns whether it exited successfully and its stdout. The tests use it
    /// to attack the sandbox from inside.
    pub fn run_command(&self, wasm: &[u8], grants: &[Grant], budget: Budget, env: &[(&str, &str)]) -> Result<(bool, Vec<u8>)> {
        let stdout = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(1 << 20);
        let mut store = self.sandboxed_store(grants, budget, |b| {
            b.stdout(stdout.clone());
            for (k, v) in env {
                b.env(k, v);
            }
        })?;
        let component = Component::new(&self.engine, wasm).map_err(|e| anyhow!("cannot compile the command: {e}"))?;
        let mut linker = Linker::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow!("cannot link WASI: {e}"))?;
        let command = wasmtime_wasi::p2::bindings::sync::Command::instantiate(&mut store, &component, &linker)
            .map_err(|e| anyhow!("cannot instantiate the command: {e}"))?;
        let ok = command.wasi_cli_run().call_run(&mut store).map_err(|e| anyhow!("the command trapped: {e}"))?.is_ok();
        drop(store);
        Ok((ok, stdout.contents().to_vec()))
    }

    /// The one place a store is made: WASI with only `grants` preopened (no environment,
    /// no network, no inherited stdio), host-fs on the same grants, memory and time limits.
    fn sandboxed_store(&self, grants: &[Grant], budget: Budget, extra: impl FnOnce(&mut WasiCtxBuilder)) -> Result<Store<HostState>> {
        let mut builder = WasiCtxBuilder::new();
        // Must precede the preopens: each preopen captures it. Keeps file IO inline (fast)
        // instead of hopping to a blocking thread pool.
        builder.allow_blocking_current_thread(true);
        let mut host_grants = Grants::default();
        for grant in grants {
            let perms = if grant.writable { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
            builder
                .preopened_dir(&grant.host_path, grant.guest_path, perms)
                .map_err(|e| anyhow!("cannot grant {}: {e}", grant.host_path.display()))?;
            host_grants.add(grant)?;
        }
        extra(&mut builder);
        let limits = StoreLimitsBuilder::new()
            .memory_size(budget.max_memory_bytes)
            .instances(4)
            .tables(16)
            .memories(4)
            .trap_on_grow_failure(true)
            .build();
        let call_ticks = (budget.call_timeout.as_millis() as u64 * TICKS_PER_SECOND / 1000).max(1);
        let grants = Arc::new(host_grants);
        let writes = WriteQueue::new(grants.clone());
        let state = HostState { wasi: builder.build(), table: ResourceTable::new(), limits, grants, writes, call_ticks, fast_writes: self.fast_writes, native_pack: self.native_pack };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        arm(&mut store);
        Ok(store)
    }
}

/// The process's one engine and component, loaded at its first runtime and never dropped,
/// with the epoch ticker that drives every store's time budget. Never dropped on purpose:
/// dropping a component deregisters its unwind information, and under LLVM's libunwind (the
/// unwinder zig links into every build, packaging/zig/cc) wasmtime does that one function at
/// a time, each a scan of all the others: 12 ms, about half of a short run, at every exit.
/// Loading once also spares a process's later runtimes (the tests', the kit's) the loading.
fn loaded() -> Result<&'static (Engine, Component)> {
    static LOADED: OnceLock<Result<(Engine, Component), String>> = OnceLock::new();
    LOADED.get_or_init(|| load().map_err(|e| format!("{e:#}"))).as_ref().map_err(|e| anyhow!("{e}"))
}

fn load() -> Result<(Engine, Component)> {
    let engine = Engine::new(&engine_config()?).map_err(|e| anyhow!("cannot create the wasm engine: {e}"))?;
    let component = load_component(&engine)?;
    let ticking = engine.clone();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(1000 / TICKS_PER_SECOND));
            ticking.increment_epoch();
        })
        .context("cannot start the epoch ticker")?;
    Ok((engine, component))
}

/// The embedded precompiled component; nothing is read from or written to disk. Only
/// the first stage of `make build` (which makes it) has none and compiles the component.
fn load_component(engine: &Engine) -> Result<Component> {
    if PRECOMPILED.is_empty() {
        return Component::new(engine, COMPONENT).map_err(|e| anyhow!("cannot compile the component: {e}"));
    }
    // SAFETY: these bytes were made at build time by `precompile()` from this binary's own
    // COMPONENT and engine configuration; wasmtime checks its version and configuration hash
    // before using them.
    let component = unsafe { Component::deserialize(engine, PRECOMPILED) }.map_err(|e| {
        anyhow!("the embedded precompiled component does not fit this engine ({e:#}); rebuild with `make build`")
    })?;
    release_pages(PRECOMPILED);
    Ok(component)
}

/// `deserialize` copied the embedded code into wasmtime's own executable memory, so the
/// binary's pages of it (6 MB, read whole) need not stay resident: a quarter of a run's
/// start-up RSS. Only a hint, and harmless: they are read-only pages of the binary's file,
/// read back from it if anything touches them again.
fn release_pages(bytes: &'static [u8]) {
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096).max(1);
    let start = (bytes.as_ptr() as usize).next_multiple_of(page);
    let end = (bytes.as_ptr() as usize + bytes.len()) / page * page;
    if end > start {
        // SAFETY: whole pages inside a static, private, read-only mapping of the binary;
        // MADV_DONTNEED only drops them from memory, their content stays the file's.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_component_loads_without_compiling_and_a_mismatch_says_so() {
        assert!(!PRECOMPILED.is_empty(), "built without the precompiled component: use `make build`");
        let engine = Engine::new(&engine_config().unwrap()).unwrap();
        assert!(load_component(&engine).is_ok());
        // An engine configured otherwise must refuse the code, with a message saying what to do.
        let mut other = engine_config().unwrap();
        other.epoch_interruption(false);
        let error = load_component(&Engine::new(&other).unwrap()).err().expect("a mismatched engine accepted the code");
        let text = format!("{error:#}");
        assert!(text.starts_with("the embedded precompiled component does not fit this engine"), "{text}");
        assert!(text.ends_with("rebuild with `make build`"), "{text}");
    }
}
