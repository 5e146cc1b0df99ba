"""runnerwire for Python: ansible-runner's streams diagnosed and processed by the runnerwire
WebAssembly component, in the same native wasmtime host as the CLI (the ``_native``
extension module, built with PyO3 from the host crate).

``inspect`` and ``validate`` diagnose any stream with byte offsets; ``Processor`` is shaped
like ansible-runner's ``streaming.Processor`` (same handlers, same ``run()``), so code that
drives upstream's processor can swap it in.
"""

import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Optional

from . import _native
from ._source import stdin_path, stream_source

__all__ = ["inspect", "validate", "process", "Processor", "run", "run_async", "StreamError", "CodecError", "Inspection", "Outcome", "EXIT"]


# The exit codes every runtime's CLI ends with, from the policy the native CLI is built on.
EXIT = type("EXIT", (), {"__doc__": "Exit codes by name (EXIT.SUCCESS, EXIT.BAD_STREAM, ...).", **dict(_native.exit_codes())})


class StreamError(Exception):
    """A bad stream (or I/O on the granted directories), at a byte offset: ``str()`` is the
    line the CLI prints (``glued-lines at byte 4131, line 7: ...``); ``kind`` the kind of
    error (``malformed``, ``truncated``, ``unsafe``, ``limit``, ``io``); ``problem`` the damage
    as ``inspect`` and ``validate`` name it; ``offset``; ``line``, the stream line (or None);
    ``reason``, the message; ``exit_code``, the code the CLI ends with; and
    ``job_explanation``, what upstream's Processor tells its status handler for it (its
    words first, then this line)."""

    def __init__(self, kind, problem, offset, line, message, printed, exit_code, job_explanation):
        super().__init__(printed)
        self.kind, self.problem, self.offset, self.line, self.reason, self.exit_code = kind, problem, offset, line, message, exit_code
        self.job_explanation = job_explanation


class CodecError(Exception):
    """The sandboxed codec failed (out of its memory or time budget, a host-side I/O error)."""

    exit_code = EXIT.INTERNAL


@dataclass
class Inspection:
    report: str
    first_problem: Optional[str]
    json_lines: bytes = b""
    summary: dict = field(default_factory=dict)


@dataclass
class Outcome:
    status: Optional[str]
    rc: Optional[int]
    events_written: int
    artifact_dir: str
    #: What the CLI ends with: 0 when successful, else the job's nonzero rc, else 1.
    exit_code: int = 1


def _limits(overrides):
    return {name: int(value) for name, value in (overrides or {}).items() if value is not None}


def _sandbox(sandbox):
    sandbox = sandbox or {}
    memory, timeout = sandbox.get("max_memory_bytes"), sandbox.get("step_timeout")
    return {"max_memory_bytes": None if memory is None else int(memory), "step_timeout": None if timeout is None else float(timeout)}


def _raise(problem):
    """A problem tuple from the extension as the exception it stands for."""
    if problem[0] == "stream":
        raise StreamError(*problem[1:])
    if problem[0] == "codec":
        raise CodecError(problem[1])
    code, message = problem[1], problem[2]
    if code == EXIT.IO_ERROR:
        raise OSError(message)
    raise CodecError(message)


def inspect(source, *, limits=None, json_lines=None, sandbox=None):
    """Diagnoses a stream (path, bytes or binary file object). ``json_lines``: a callable
    that gets the ``inspect --json`` output as it comes; else it is collected."""
    collected = []
    sink = json_lines if json_lines is not None else collected.append
    summary_line = []

    def lines(data):
        summary_line[:] = [data]
        sink(data)

    with stdin_path(source) as path:
        result = _native.inspect(path, json_lines=True, on_lines=lines, limits=_limits(limits), **_sandbox(sandbox))
    if result[0] != "report":
        _raise(result)
    summary = {}
    if summary_line:
        summary = json.loads(summary_line[0].rstrip(b"\n").rsplit(b"\n", 1)[-1]).get("summary", {})
    return Inspection(report=result[1], first_problem=result[2], json_lines=b"".join(collected), summary=summary)


def validate(source, *, limits=None, sandbox=None):
    """The first problem as ``validate`` prints it, or None for a complete, valid stream."""
    with stdin_path(source) as path:
        result = _native.inspect(path, json_lines=False, limits=_limits(limits), **_sandbox(sandbox))
    if result[0] != "report":
        _raise(result)
    return result[2]


def _artifact_dir(private_data_dir, ident, artifact_dir):
    return _native.artifact_dir(os.getcwd(), os.path.abspath(private_data_dir),
                                None if ident is None else str(ident), None if artifact_dir is None else os.fspath(artifact_dir))


def _steps(source, artifact_dir, quiet, limits, sandbox, resume=False, **handlers):
    """The component's stepper over one stream (a ``_source.Source``), the handlers called
    per step (see ``_native.process_steps``); the Outcome, or the stream's error raised. A
    stream that stopped because the caller's object raised gets that exception."""
    with tempfile.TemporaryDirectory(prefix="runnerwire-process-") as scratch:
        result = _native.process_steps(source.path, artifact_dir, scratch, quiet=bool(quiet), resume=bool(resume),
                                       limits=_limits(limits), **_sandbox(sandbox), **handlers)
    if result[0] != "end":
        if source.error is not None:
            raise source.error
        _raise(result)
    return Outcome(result[1], result[2], result[3], artifact_dir, result[4])


def process(source, private_data_dir, *, ident=None, artifact_dir=None, quiet=False, limits=None, output=None, sandbox=None,
            resume=False):
    """The ``process`` stage, as the native CLI runs it. ``output``: a binary file the event
    stdout goes to (default: none). A bad stream raises StreamError after writing the
    output of the events before it. ``resume``: continue a run that broke part way, fed the
    same stream from its start (the CLI's ``--resume``): events already written are neither
    written nor output again; another stream's files on disk raise StreamError."""
    pdd = os.path.abspath(private_data_dir)
    # What the CLI's process does first (the dir 0700, an empty daemon.log): the host's step.
    _native.prepare_private_data_dir(pdd)
    directory = _artifact_dir(pdd, ident, artifact_dir)
    os.makedirs(directory, exist_ok=True)
    printed = None if output is None else (lambda text: output.write(text.encode()))
    with stream_source(source) as src:
        return _steps(src, directory, quiet or output is None, limits, sandbox, resume, on_printed=printed)


class _Config:
    """What upstream's handlers get as ``runner_config`` (its MockConfig)."""

    def __init__(self, settings):
        self.settings = settings
        self.command = None
        self.cwd = None
        self.env = None


def _load_settings(private_data_dir):
    path = os.path.join(private_data_dir, "env", "settings")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return {}
    try:
        import yaml  # upstream reads env/settings as YAML (JSON is YAML too)

        value = yaml.safe_load(text)
    except ImportError:
        try:
            value = json.loads(text)
        except ValueError:
            return {}
    except Exception:
        return {}
    return value if isinstance(value, dict) else {}


class Processor:
    """A drop-in for ``ansible_runner.streaming.Processor``: the same constructor, handlers
    and ``run()``; the stream is decoded and the files written by the component.

    ``event_handler(event)`` returning False keeps that event's file from being written.
    ``resume=True`` (ours, not upstream's) continues a run that broke part way: the events
    whose files are already written are passed over (no output, no handler call).
    A bad stream ends the run like upstream's: ``status_handler`` gets
    ``{"status": "error", "job_explanation": ...}``, upstream's words first, then ours with
    the damage, byte offset and line; ``run()`` returns normally. So does an ``OSError``
    the input raises ("Failed to read from worker stream. Error: ..."). Reading stops at the
    eof frame: an input whose writer stays open (a socket, in AWX's flow) is not waited on.
    The input may be any object with ``read1``, ``read`` or, like upstream's, ``readline``.
    """

    def __init__(self, _input=None, status_handler=None, event_handler=None, artifacts_handler=None,
                 cancel_callback=None, finished_callback=None, **kwargs):
        self._input = _input if _input is not None else sys.stdin.buffer
        self.quiet = kwargs.get("quiet")
        private_data_dir = kwargs.get("private_data_dir")
        if private_data_dir is None:
            private_data_dir = tempfile.mkdtemp()
        self.private_data_dir = private_data_dir
        settings = kwargs.get("settings")
        if settings is None:
            settings = _load_settings(private_data_dir)
        self.config = _Config(settings)
        self.artifact_dir = _artifact_dir(private_data_dir, kwargs.get("ident") or None, kwargs.get("artifact_dir") or None)
        self.status_handler = status_handler
        self.event_handler = event_handler
        self.artifacts_handler = artifacts_handler
        self.cancel_callback = cancel_callback  # unused, as upstream's
        self.finished_callback = finished_callback
        self.status = "unstarted"
        # Upstream's processor never sets rc; the artifacts' rc is in `outcome` when complete.
        self.rc = None
        self.outcome = None
        self.limits = kwargs.get("limits")
        self.sandbox = kwargs.get("sandbox")
        self.resume = bool(kwargs.get("resume"))

    def status_callback(self, status_data):
        self.status = status_data["status"]
        if self.status == "starting":
            self.config.command = status_data.get("command")
            self.config.env = status_data.get("env")
            self.config.cwd = status_data.get("cwd")
        if self.status_handler is not None:
            self.status_handler(status_data, runner_config=self.config)

    def run(self):
        os.makedirs(self.artifact_dir, exist_ok=True)
        artifacts = None
        if self.artifacts_handler is not None:
            artifacts = lambda: self.artifacts_handler(self.artifact_dir)  # noqa: E731
        try:
            with stream_source(self._input) as src:
                self.outcome = _steps(src, self.artifact_dir, self.quiet, self.limits, self.sandbox, self.resume,
                                      on_status=self.status_callback, on_event=self.event_handler,
                                      on_printed=None if self.quiet else sys.stdout.write, on_artifacts=artifacts)
        except StreamError as e:
            self.status_callback({"status": "error", "job_explanation": e.job_explanation})
        except CodecError as e:
            self.status_callback({"status": "error", "job_explanation": f"runnerwire: {e}"})
        except OSError as e:
            self.status_callback({"status": "error", "job_explanation": _native.read_error_explanation(str(e))})
        if self.finished_callback is not None:
            self.finished_callback(self)
        return self.status, self.rc


# Upstream's top-level names (``ansible_runner.run``), last: they import the Processor above.
from .interface import run, run_async  # noqa: E402
