"""Drop-ins for ``ansible_runner.streaming``: the same class names, constructors and
``run()``. ``Transmitter`` sends the caller's kwargs and the private data dir archived by the
native host; ``Worker`` runs the job as ``runnerwire worker`` (the binary the wheel carries);
``Processor`` reads a result stream in the native host (see ``runnerwire``)."""

import json
import os
import sys
import uuid

from . import EXIT, Processor, _native, _raise
from ._source import chunks

__all__ = ["Transmitter", "Worker", "Processor"]


class _UUIDEncoder(json.JSONEncoder):
    """UUIDs in kwargs go as their hex, as upstream sends them."""

    def default(self, o):
        if isinstance(o, uuid.UUID):
            return o.hex
        return json.JSONEncoder.default(self, o)


class Transmitter:
    """A drop-in for ``ansible_runner.streaming.Transmitter``: the kwargs line is the
    caller's kwargs as upstream writes them; the archive of ``private_data_dir`` and the
    eof line come from the component, packed on every core."""

    def __init__(self, _output=None, **kwargs):
        self._output = _output if _output is not None else sys.stdout.buffer
        self.private_data_dir = os.path.abspath(kwargs.pop("private_data_dir"))
        self.only_transmit_kwargs = kwargs.pop("only_transmit_kwargs", False)
        # A worker-only argument that older workers would not understand.
        kwargs.pop("keepalive_seconds", None)
        self.kwargs = kwargs
        self.status = "unstarted"
        self.rc = None

    def run(self):
        self._output.write(json.dumps({"kwargs": self.kwargs}, cls=_UUIDEncoder).encode("utf-8"))
        self._output.write(b"\n")
        self._output.flush()
        if self.only_transmit_kwargs:
            self._output.write(b'{"eof": true}\n')
        else:
            problem = _native.transmit_archive(self.private_data_dir, self._output.write, fd=_fileno(self._output))
            if problem is not None:
                _raise(problem)
        self._output.flush()
        return self.status, self.rc



def _fileno(output):
    """The descriptor under a binary file object that has one (a file, a socket's file),
    which the archive is then written to directly; None for anything else (BytesIO)."""
    try:
        return output.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _cli():
    """The runnerwire binary the wheel carries (``_bin/runnerwire``), else RUNNERWIRE_BIN,
    else one on PATH: the worker runs its job under it (see ``Worker``)."""
    import shutil

    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bin", "runnerwire")
    for candidate in (os.environ.get("RUNNERWIRE_BIN"), here, shutil.which("runnerwire")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("no runnerwire binary for the worker: the wheel carries one; else set RUNNERWIRE_BIN")


class Worker:
    """A drop-in for ``ansible_runner.streaming.Worker``: reads a job stream from ``_input``
    and writes the results to ``_output``. The job runs exactly as ``runnerwire worker`` runs
    it (pty, containers, keepalives, cancel, the job keeper), because it is that program:
    the keeper that outlives nothing must re-execute a real binary, which a Python process
    is not, so the worker is the binary the wheel carries, fed and read by this object.

    ``delete=True`` (the CLI's ``--delete``) removes the private data dir before and after.
    Cancel as the CLI is canceled (SIGTERM: the job is ended and its results say
    ``canceled``): call ``cancel()`` from another thread, or pass ``cancel_callback``, polled
    every 0.2 s while the job runs, as upstream's runner polls it.
    ``run()`` returns ``(status, rc)``: ``successful``/``failed`` and the worker's exit code
    (the job's rc), ``canceled``, or ``error`` when the job stream was refused. A job whose
    process isolation this node cannot give (no such container engine) ends, after its
    error status and eof are written, in ``SystemExit(1)``, as upstream's worker exits.
    ``keepalive_seconds``: any positive number (at least 0.1 s is used); None: the
    ``ANSIBLE_RUNNER_KEEPALIVE_SECONDS`` variable, as upstream."""

    def __init__(self, _input=None, _output=None, keepalive_seconds=None, cancel_callback=None, **kwargs):
        self._input = _input if _input is not None else sys.stdin.buffer
        self._output = _output if _output is not None else sys.stdout.buffer
        self.keepalive_seconds = keepalive_seconds
        self.kwargs = kwargs
        self.private_data_dir = kwargs.get("private_data_dir")
        self.delete = bool(kwargs.get("delete"))
        self.cancel_callback = cancel_callback
        self.status = "unstarted"
        self.rc = None
        self._proc = None
        self._canceled = False

    def cancel(self):
        """Ends the job as SIGTERM ends ``runnerwire worker``'s; its results still stream."""
        import signal

        self._canceled = True
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)

    def run(self):
        import subprocess
        import threading

        argv = [_cli(), "worker"]
        if self.private_data_dir is not None:
            argv += ["--private-data-dir", os.fspath(self.private_data_dir)]
        if self.delete:
            argv.append("--delete")
        if self.keepalive_seconds is not None:
            argv += ["--keepalive-seconds", repr(max(float(self.keepalive_seconds), 0.0))]
        proc = self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if self._canceled:
            self.cancel()
        if self.cancel_callback is not None:
            def watch():
                while proc.poll() is None:
                    if self.cancel_callback():
                        self.cancel()
                        return
                    threading.Event().wait(0.2)
            threading.Thread(target=watch, name="runnerwire-worker-cancel", daemon=True).start()

        def feed():
            # What the input has, as it arrives: the binary stops reading at the eof frame,
            # whether or not the input's writer closes it.
            try:
                for chunk in chunks(self._input):
                    proc.stdin.write(chunk)
                    proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError, TypeError):
                pass
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        errors = []
        feeder = threading.Thread(target=feed, name="runnerwire-worker-input", daemon=True)
        drain = threading.Thread(target=lambda: errors.append(proc.stderr.read()), name="runnerwire-worker-stderr", daemon=True)
        feeder.start()
        drain.start()
        while True:
            chunk = proc.stdout.read1(1 << 16)
            if not chunk:
                break
            self._output.write(chunk)
            self._output.flush()
        code = proc.wait()
        drain.join()
        feeder.join(1)
        proc.stdout.close()
        proc.stderr.close()
        self.rc = code
        self.stderr = b"".join(errors).decode("utf-8", "replace")
        if self._canceled:
            self.status = "canceled"
        else:
            refused = (EXIT.USAGE, EXIT.BAD_STREAM, EXIT.ISOLATION_UNAVAILABLE, EXIT.INTERNAL, EXIT.IO_ERROR)
            self.status = "successful" if code == 0 else ("error" if code in refused else "failed")
        if code == EXIT.ISOLATION_UNAVAILABLE and not self._canceled:
            raise SystemExit(1)
        return self.status, self.rc
