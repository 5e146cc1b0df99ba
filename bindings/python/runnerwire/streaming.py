"""Drop-ins for ``ansible_runner.streaming``: the same class names, constructors and
``run()``. ``Transmitter`` sends the caller's kwargs and the private data dir archived by the
native host; ``Processor`` reads a result stream in the native host (see ``runnerwire``)."""

import json
import os
import sys
import uuid

from . import Processor, _native, _raise

__all__ = ["Transmitter", "Processor"]


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
            problem = _native.transmit_archive(self.private_data_dir, self._output.write)
            if problem is not None:
                _raise(problem)
        self._output.flush()
        return self.status, self.rc

