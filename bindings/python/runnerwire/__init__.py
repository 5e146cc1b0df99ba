"""runnerwire for Python: ansible-runner's result streams diagnosed and processed by the
runnerwire WebAssembly component, in wasmtime.

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

from wasmtime.component import Variant

from . import _component
from ._source import stdin_path

__all__ = ["inspect", "validate", "process", "Processor", "StreamError", "CodecError", "Inspection", "Outcome", "EXIT"]


class EXIT:
    SUCCESS = 0
    JOB_FAILED = 1
    USAGE = 2
    BAD_STREAM = 65
    INTERNAL = 70
    IO_ERROR = 74


_KINDS = {
    "malformed": ("malformed stream", EXIT.BAD_STREAM),
    "truncated": ("truncated stream", EXIT.BAD_STREAM),
    "unsafe": ("unsafe stream", EXIT.BAD_STREAM),
    "limit": ("stream over a limit", EXIT.BAD_STREAM),
    "io": ("I/O error", EXIT.IO_ERROR),
}


class StreamError(Exception):
    """A bad stream (or I/O on the granted directories), at a byte offset."""

    def __init__(self, kind, offset, message):
        what, self.exit_code = _KINDS.get(kind, ("stream error", EXIT.BAD_STREAM))
        super().__init__(f"{what} at byte {offset}: {message}")
        self.kind, self.offset, self.reason = kind, offset, message


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

    @property
    def exit_code(self):
        if self.status == "successful":
            return EXIT.SUCCESS
        if self.rc not in (None, 0):
            return self.rc if 0 <= self.rc <= 255 else EXIT.JOB_FAILED
        return EXIT.JOB_FAILED


def _enum(value):
    # Enums come back as their case name (a string), or a tagged Variant.
    return value.tag if isinstance(value, Variant) else value


def _stream_error(record):
    return StreamError(_enum(record.kind), record.offset, record.message)


def _limits(instance, overrides):
    limits = instance.call("types", "default-limits")
    for name, value in (overrides or {}).items():
        if value is not None:
            setattr(limits, name.replace("_", "-"), int(value))
    return limits


def _sandbox(sandbox):
    sandbox = sandbox or {}
    return {
        "max_memory": int(sandbox.get("max_memory_bytes") or _component.DEFAULT_MAX_MEMORY),
        "step_timeout": float(sandbox.get("step_timeout") or _component.DEFAULT_STEP_TIMEOUT),
    }


def _trap(e):
    text = str(e)
    if "interrupt" in text:
        return CodecError("the sandboxed codec ran past its time budget (--step-timeout)")
    if "memory" in text and ("grow" in text or "limit" in text):
        return CodecError("the sandboxed codec ran out of its memory budget (--max-memory-bytes)")
    return CodecError(f"the sandboxed codec failed: {text.splitlines()[0] if text else 'trap'}")


def inspect(source, *, limits=None, json_lines=None, sandbox=None):
    """Diagnoses a stream (path, bytes or binary file object). ``json_lines``: a callable
    that gets the ``inspect --json`` output as it comes; else it is collected."""
    import wasmtime

    collected = []
    sink = json_lines if json_lines is not None else collected.append
    with tempfile.TemporaryDirectory(prefix="runnerwire-inspect-") as scratch, stdin_path(source) as path:
        try:
            instance = _component.Instance([("/scratch", scratch, True)], stdin=path, stdout=sink, **_sandbox(sandbox))
            result = instance.call("inspect", "inspect-stdin", _limits(instance, limits), True)
        except wasmtime.WasmtimeError as e:
            raise _trap(e) from e
    if isinstance(result, str):
        raise CodecError(result)
    lines = b"".join(collected)
    summary = {}
    if lines:
        summary = json.loads(lines.rstrip(b"\n").rsplit(b"\n", 1)[-1]).get("summary", {})
    return Inspection(report=result.text, first_problem=getattr(result, "first-problem"), json_lines=lines, summary=summary)


def validate(source, *, limits=None, sandbox=None):
    """The first problem as ``validate`` prints it, or None for a complete, valid stream."""
    return inspect(source, limits=limits, json_lines=lambda _: None, sandbox=sandbox).first_problem


def _artifact_dir(private_data_dir, ident, artifact_dir):
    probe = _component.Instance()
    return probe.call("process", "artifact-dir", os.getcwd(), os.path.abspath(private_data_dir),
                      None if ident is None else str(ident), None if artifact_dir is None else os.fspath(artifact_dir))


def _prepare_private_data_dir(pdd):
    """What upstream's CLI does before processing: the dir (0700) and an empty daemon.log."""
    if not os.path.isdir(pdd):
        os.makedirs(pdd, mode=0o700)
    log = os.path.join(pdd, "daemon.log")
    if not os.path.lexists(log):
        os.close(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class _Steps:
    """The component's stepper over one stream."""

    def __init__(self, source_path, artifact_dir, scratch, quiet, limits, sandbox, resume=False):
        self.instance = _component.Instance(
            [("/artifacts", artifact_dir, True), ("/scratch", scratch, True)], stdin=source_path, **_sandbox(sandbox))
        lim = _limits(self.instance, limits)
        # Resuming, the component checks the event files already on disk against the stream.
        make = "[static]stepper.resuming" if resume else "[constructor]stepper"
        self.stepper = self.instance.call("process", make, lim, bool(quiet))

    def next(self):
        result = self.instance.call("process", "[method]stepper.next", self.stepper)
        # result<step, stream-error> comes back untagged: a step is a tagged Variant (its
        # event and end cases are both records), an error a Record.
        if not isinstance(result, Variant):
            raise _stream_error(result)
        return result

    def skip_event(self):
        self.instance.call("process", "[method]stepper.skip-event", self.stepper)

    def close(self):
        self.stepper.drop(self.instance.store)


def process(source, private_data_dir, *, ident=None, artifact_dir=None, quiet=False, limits=None, output=None, sandbox=None,
            resume=False):
    """The ``process`` stage, as the native CLI runs it. ``output``: a binary file the event
    stdout goes to (default: none). A bad stream raises StreamError after writing the
    output of the events before it. ``resume``: continue a run that broke part way, fed the
    same stream from its start (the CLI's ``--resume``): events already written are neither
    written nor output again; another stream's files on disk raise StreamError."""
    import wasmtime

    pdd = os.path.abspath(private_data_dir)
    _prepare_private_data_dir(pdd)
    directory = _artifact_dir(pdd, ident, artifact_dir)
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="runnerwire-process-") as scratch, stdin_path(source) as path:
        try:
            steps = _Steps(path, directory, scratch, quiet, limits, sandbox, resume)
            try:
                while True:
                    step = steps.next()
                    if step.tag == "event":
                        if output is not None and step.payload.printed is not None:
                            output.write(step.payload.printed.encode())
                    elif step.tag == "end":
                        o = step.payload
                        return Outcome(o.status, o.rc, getattr(o, "events-written"), directory)
            finally:
                steps.close()
        except wasmtime.WasmtimeError as e:
            raise _trap(e) from e


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
    ``{"status": "error", "job_explanation": ...}`` (ours names the byte offset).
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
        import wasmtime

        os.makedirs(self.artifact_dir, exist_ok=True)
        try:
            with tempfile.TemporaryDirectory(prefix="runnerwire-process-") as scratch, stdin_path(self._input) as path:
                steps = _Steps(path, self.artifact_dir, scratch, self.quiet, self.limits, self.sandbox, self.resume)
                try:
                    self._drive(steps)
                finally:
                    steps.close()
        except (StreamError, CodecError) as e:
            self.status_callback({"status": "error", "job_explanation": str(e)})
        except wasmtime.WasmtimeError as e:
            self.status_callback({"status": "error", "job_explanation": str(_trap(e))})
        if self.finished_callback is not None:
            self.finished_callback(self)
        return self.status, self.rc

    def _drive(self, steps):
        while True:
            step = steps.next()
            if step.tag == "status":
                self.status_callback(json.loads(step.payload))
            elif step.tag == "event":
                # The event's file is written when the next step is asked for, unless skipped.
                event = json.loads(step.payload.json)
                if step.payload.printed is not None:
                    sys.stdout.write(step.payload.printed)
                should_write = self.event_handler(event) if self.event_handler is not None else True
                if not should_write:
                    steps.skip_event()
            elif step.tag == "artifacts":
                if self.artifacts_handler is not None:
                    self.artifacts_handler(self.artifact_dir)
            elif step.tag == "end":
                o = step.payload
                self.outcome = Outcome(o.status, o.rc, getattr(o, "events-written"), self.artifact_dir)
                return
