"""Stream sources as a path the native host opens and the component reads as its stdin:
a file object over a regular file is read from where it stands, anything else through a
pipe a thread feeds, so the stream never crosses into Python bytes.

The thread reads the way the caller's object can give bytes without waiting for more than
it has (so a socket whose writer stays open after the eof frame, as in AWX's flow, is never
waited on): ``read1`` of a buffered binary file, ``read`` of a raw one, and ``readline`` of
any other object, which is how upstream's Processor reads its input. What the reader
raises is kept (``Source.error``): a stream that stops there is reported as upstream
reports it, "Failed to read from worker stream. Error: ...".
"""

import contextlib
import io
import os
import stat
import tempfile
import threading

CHUNK = 1 << 18


class Source:
    """A stream given to the native host: ``path`` to open, and ``error``, the exception the
    caller's object raised while it was read (None while it reads fine)."""

    def __init__(self, path):
        self.path = path
        self.error = None


@contextlib.contextmanager
def stream_source(source):
    """``source``: a path, bytes, or a binary file object (read from where it is). A file
    object over a regular file gives ``/proc/self/fd/N#OFFSET``: the extension opens it and
    starts at OFFSET (no copy, no thread); any other is pumped through a pipe by a thread."""
    if isinstance(source, (str, os.PathLike)):
        yield Source(os.fspath(source))
    elif isinstance(source, (bytes, bytearray, memoryview)):
        with tempfile.NamedTemporaryFile(prefix="runnerwire-stream-") as f:
            f.write(source)
            f.flush()
            yield Source(f.name)
    elif _regular_file_at(source) is not None:
        # A file on disk read from where it is: opened anew, and the host seeks there.
        yield Source(f"/proc/self/fd/{source.fileno()}#{_regular_file_at(source)}")
    elif any(hasattr(source, name) for name in ("read1", "read", "readline")):
        with _pumped(source) as pumped:
            yield pumped
    else:
        raise TypeError("a stream source is a path, bytes or a binary file object")


@contextlib.contextmanager
def stdin_path(source):
    """The path of ``stream_source`` alone, for callers that need no read error."""
    with stream_source(source) as src:
        yield src.path


def chunks(reader):
    """What ``reader`` gives, piece by piece as it arrives, until it ends (see the module doc)."""
    if isinstance(reader, io.TextIOBase) and hasattr(reader, "buffer"):
        reader = reader.buffer
    if isinstance(reader, io.IOBase):
        read = reader.read1 if hasattr(reader, "read1") else reader.read
        while True:
            chunk = read(CHUNK)
            if chunk is None:  # a non-blocking raw file with nothing yet
                threading.Event().wait(0.01)
                continue
            if not chunk:
                return
            yield _as_bytes(chunk, "read")
    else:
        while True:
            line = reader.readline()
            if not line:
                return
            yield _as_bytes(line, "readline")


def _as_bytes(piece, method):
    if isinstance(piece, str):
        return piece.encode("utf-8")
    if not isinstance(piece, (bytes, bytearray, memoryview)):
        raise TypeError(f"the stream's {method}() gave {type(piece).__name__}, not bytes")
    return piece


def _regular_file_at(source):
    """The logical position of a file object over a regular file, else None."""
    try:
        if stat.S_ISREG(os.fstat(source.fileno()).st_mode) and source.seekable():
            return source.tell()
    except (AttributeError, OSError, ValueError, TypeError):
        pass
    return None


@contextlib.contextmanager
def _pumped(reader):
    """A pipe fed by a thread from any file object (its own buffering respected). The
    thread stops when the reader ends or fails, or when the host has closed the pipe."""
    read_end, write_end = os.pipe()
    source = Source(f"/proc/self/fd/{read_end}")

    def pump():
        try:
            for chunk in chunks(reader):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(write_end, view):]
        except BrokenPipeError:
            pass  # the host stopped reading (at the eof frame, or at a fault)
        except Exception as e:  # noqa: BLE001 - whatever the caller's object raises is the stream's error
            source.error = e
        finally:
            os.close(write_end)

    # A daemon: a socket whose writer stays open may keep it in a read after the host has
    # stopped; it ends when the socket is closed.
    thread = threading.Thread(target=pump, name="runnerwire-pump", daemon=True)
    thread.start()
    try:
        yield source
    finally:
        os.close(read_end)
