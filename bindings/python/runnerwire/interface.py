"""A drop-in for ``ansible_runner.interface.run(streamer=...)``, ``init_runner`` and
``run_async``: upstream 2.4.3's parameter names and behaviour for the streaming stages.

``streamer="transmit"`` writes objects given in place of files into the private data dir
as upstream does and runs ``runnerwire.streaming.Transmitter`` (the same kwargs line).
``streamer="process"`` runs ``runnerwire.streaming.Processor`` (upstream's handlers,
``finished_callback``, ``.status``/``.rc``; a bad stream ends with status ``error`` and a
``job_explanation`` naming the byte offset). ``streamer="worker"`` runs
``runnerwire.streaming.Worker`` (the job as ``runnerwire worker`` runs it).
"""

import subprocess
import threading

from . import _artifacts
from .streaming import Processor, Transmitter, Worker

__all__ = ["run", "run_async", "init_runner", "check_isolation_executable_installed"]


def check_isolation_executable_installed(isolation_executable):
    """Upstream's check: whether ``<isolation_executable> --version`` runs and succeeds.
    runnerwire's worker makes the same check itself, in the binary, before it runs a
    containerized job (a job it cannot isolate ends in an error status, and ``Worker.run``
    raises ``SystemExit(1)`` as upstream's does); this is here for callers of upstream's."""
    try:
        done = subprocess.run([isolation_executable, "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def init_runner(**kwargs):
    """The stage object ``run`` would run (upstream's ``init_runner`` for a streamer)."""
    # Upstream's logging options; runnerwire logs nothing of its own here.
    for name in ("debug", "logfile", "ignore_logging"):
        kwargs.pop(name, None)
    streamer = kwargs.get("streamer")
    if streamer not in ("transmit", "worker", "process"):
        raise NotImplementedError(f"runnerwire.interface.run runs the streaming stages only (streamer='transmit', 'worker' or 'process'), not streamer={streamer!r}")
    if streamer == "transmit":
        _artifacts.dump(kwargs)
    # As upstream: a streamer needs private_data_dir (it raises KeyError without one), except
    # that our worker, like the CLI's, takes a temp dir (removed afterwards) without one.
    if streamer != "worker" or "private_data_dir" in kwargs:
        _artifacts.relative_paths(kwargs)
    handlers = {name: kwargs.pop(name, None) for name in
                ("event_handler", "status_handler", "artifacts_handler", "cancel_callback", "finished_callback")}
    kwargs.pop("streamer")
    if streamer == "transmit":
        return Transmitter(**kwargs)
    if streamer == "worker":
        return Worker(cancel_callback=handlers["cancel_callback"], **kwargs)
    return Processor(**handlers, **kwargs)


def run(**kwargs):
    """Runs the stage in the foreground and returns its object when done."""
    r = init_runner(**kwargs)
    r.run()
    return r


def run_async(**kwargs):
    """Runs the stage in a thread, started at once; returns the thread and the stage object."""
    r = init_runner(**kwargs)
    thread = threading.Thread(target=r.run)
    thread.start()
    return thread, r
