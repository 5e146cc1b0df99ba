"""Loading the component in wasmtime-py: compiled once per process (or deserialized from
the precompiled file `make bindings` puts beside it), instantiated once per call with only
that call's directories, memory limit and time budget."""

import os
import threading

import wasmtime
from wasmtime import component as wc

from . import _hostfs

HERE = os.path.dirname(os.path.abspath(__file__))
WASM = os.path.join(HERE, "runnerwire_codec.wasm")
PRECOMPILED = os.path.join(HERE, "runnerwire_codec.cwasm")

DEFAULT_MAX_MEMORY = 256 << 20
DEFAULT_STEP_TIMEOUT = 600.0
# The epoch ticks every 100 ms: the time budget's resolution, as in the native host.
TICK = 0.1


def _config():
    config = wasmtime.Config()
    config.epoch_interruption = True
    return config


_engine = wasmtime.Engine(_config())
_lock = threading.Lock()
_component = None
_ticker = None


def engine():
    return _engine


def component():
    global _component
    with _lock:
        if _component is None:
            try:
                _component = wc.Component.deserialize_file(_engine, PRECOMPILED)
            except (wasmtime.WasmtimeError, OSError):
                # Missing, or made by another wasmtime: compile the component itself.
                _component = wc.Component.from_file(_engine, WASM)
        return _component


def _start_ticker():
    global _ticker
    with _lock:
        if _ticker is None:
            def tick():
                while True:
                    threading.Event().wait(TICK)
                    _engine.increment_epoch()
            _ticker = threading.Thread(target=tick, name="runnerwire-epoch", daemon=True)
            _ticker.start()


class Instance:
    """One instance of the component in its own store."""

    def __init__(self, grants=(), stdin=None, stdout=None, max_memory=DEFAULT_MAX_MEMORY, step_timeout=DEFAULT_STEP_TIMEOUT):
        """``grants``: (guest path, host path, writable). ``stdin``: a path the component
        reads as its stdin. ``stdout``: a callable taking bytes, or None for no stdout."""
        _start_ticker()
        self.component = component()
        self.store = wasmtime.Store(_engine)
        self.store.set_limits(memory_size=max_memory)
        self.step_ticks = max(1, int(round(step_timeout / TICK)))
        wasi = wasmtime.WasiConfig()
        wasi.argv = ["runnerwire"]
        for guest, host, writable in grants:
            wasi.preopen_dir(host, guest, fs_mutable=writable)
        if stdin is not None:
            wasi.stdin_file = stdin
        if stdout is not None:
            wasi.stdout_custom = stdout
        wasi.inherit_stderr()
        self.store.set_wasi(wasi)
        self.grants = _hostfs.Grants(grants)
        linker = wc.Linker(_engine)
        linker.add_wasip2()
        _hostfs.define(linker, lambda: self.grants)
        self.store.set_epoch_deadline(self.step_ticks)
        self.instance = linker.instantiate(self.store, self.component)
        self.funcs = {}

    def func(self, interface, name):
        key = (interface, name)
        if key not in self.funcs:
            iface = self.component.get_export_index(f"runnerwire:codec/{interface}@0.1.0")
            index = self.component.get_export_index(name, iface)
            if index is None:
                raise LookupError(f"the component exports no {interface}.{name}")
            self.funcs[key] = self.instance.get_func(self.store, index)
        return self.funcs[key]

    def call(self, interface, name, *args):
        """Calls an export; the time budget restarts for each call."""
        self.store.set_epoch_deadline(self.step_ticks)
        return self.func(interface, name)(self.store, *args)
