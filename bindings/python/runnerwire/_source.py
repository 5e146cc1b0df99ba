"""Stream sources as a path the native host opens and the component reads as its stdin:
a file object over a regular file is read from where it stands, anything else through a
pipe a thread feeds, so the stream never crosses into Python bytes."""

import contextlib
import os
import tempfile
import threading


@contextlib.contextmanager
def stdin_path(source):
    """``source``: a path, bytes, or a binary file object (read from where it is). A file
    object over a regular file gives ``/proc/self/fd/N#OFFSET``: the extension opens it and
    starts at OFFSET (no copy, no thread); any other is pumped through a pipe by a thread."""
    if isinstance(source, (str, os.PathLike)):
        yield os.fspath(source)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        with tempfile.NamedTemporaryFile(prefix="runnerwire-stream-") as f:
            f.write(source)
            f.flush()
            yield f.name
    elif _regular_file_at(source) is not None:
        # A file on disk read from where it is: opened anew, and the host seeks there.
        yield f"/proc/self/fd/{source.fileno()}#{_regular_file_at(source)}"
    elif hasattr(source, "read"):
        with _pumped(source) as path:
            yield path
    else:
        raise TypeError("a stream source is a path, bytes or a binary file object")


def _regular_file_at(source):
    """The logical position of a file object over a regular file, else None."""
    try:
        import stat

        if stat.S_ISREG(os.fstat(source.fileno()).st_mode) and source.seekable():
            return source.tell()
    except (AttributeError, OSError, ValueError, TypeError):
        pass
    return None


@contextlib.contextmanager
def _pumped(reader):
    """A pipe fed by a thread from any file object (its own buffering respected)."""
    read_end, write_end = os.pipe()
    done = threading.Event()

    def pump():
        try:
            while not done.is_set():
                chunk = reader.read(1 << 18)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    view = view[os.write(write_end, view):]
        except (BrokenPipeError, OSError, ValueError):
            pass
        finally:
            os.close(write_end)

    thread = threading.Thread(target=pump, name="runnerwire-pump", daemon=True)
    thread.start()
    try:
        yield f"/proc/self/fd/{read_end}"
    finally:
        done.set()
        os.close(read_end)
