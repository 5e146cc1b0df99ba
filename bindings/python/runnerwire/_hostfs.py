"""The ``host-fs`` import in Python: Unix metadata on the directories a call was granted
and nowhere else. Inside a grant, links in the middle of a path are followed only while
they stay inside (as the native host's cap-std does); the last component never is.

wasmtime-py hands results back untagged when Python types tell the cases apart, and lowers
a returned value by trying the cases in order. So ``set-mode`` returns ``None`` or the error
text, ``read-link`` returns a tagged ``Variant`` (both cases are strings), and ``lstat``
cannot return ``err`` at all (a string matches ``option<meta>``'s ``object`` case): its
rare failures raise, which the guest sees as a trap and the caller as an I/O error.
"""

import os
import stat
import time

from wasmtime.component import Record, Variant

MAX_LINKS = 40


class HostFsError(Exception):
    pass


class Grants:
    def __init__(self, grants):
        # (guest path, real host root, writable)
        self.grants = [(guest, os.path.realpath(host), writable) for guest, host, writable in grants]

    def resolve(self, path, write):
        for guest, root, writable in self.grants:
            if path == guest:
                rest = ""
            elif path.startswith(guest + "/"):
                rest = path[len(guest) + 1:]
            else:
                continue
            if write and not writable:
                raise HostFsError("directory is granted read-only")
            return self._inside(root, rest)
        raise HostFsError(f"{path!r} is outside the granted directories")

    @staticmethod
    def _inside(root, rest):
        pending = [s for s in rest.split("/") if s not in ("", ".")]
        stack = []
        links = 0
        while pending:
            segment = pending.pop(0)
            if segment == "..":
                if not stack:
                    raise HostFsError("path escapes the granted directory")
                stack.pop()
                continue
            if not pending:
                stack.append(segment)
                break
            candidate = os.path.join(root, *stack, segment)
            try:
                st = os.lstat(candidate)
            except FileNotFoundError:
                # Nothing further exists: no link can redirect the rest (unless it climbs out).
                if ".." in pending:
                    raise HostFsError("no such directory")
                stack.append(segment)
                stack.extend(pending)
                break
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_LINKS:
                    raise HostFsError("too many levels of symbolic links")
                target = os.readlink(candidate)
                if os.path.isabs(target):
                    raise HostFsError("path escapes the granted directory")
                pending[:0] = [s for s in target.split("/") if s not in ("", ".")]
                continue
            stack.append(segment)
        return os.path.join(root, *stack)


def _text(e):
    if isinstance(e, OSError):
        return e.strerror or str(e)
    return str(e)


def define(linker, grants_for_store):
    """Defines ``runnerwire:codec/host-fs`` in ``linker``; ``grants_for_store()`` gives
    the grants of the call in progress."""
    fs = linker.root().add_instance("runnerwire:codec/host-fs@0.1.0")

    def lstat(_store, path):
        try:
            st = os.lstat(grants_for_store().resolve(path, False))
        except FileNotFoundError:
            return None
        except (OSError, HostFsError) as e:
            raise HostFsError(f"lstat {path}: {_text(e)}") from e
        meta = Record()
        meta.mode = st.st_mode
        meta.size = st.st_size
        meta.mtime = st.st_mtime_ns // 1_000_000_000
        return meta

    def set_mode(_store, path, mode):
        try:
            host = grants_for_store().resolve(path, True)
            if stat.S_ISLNK(os.lstat(host).st_mode):
                return "is a symbolic link"
            os.chmod(host, mode & 0o7777)
            return None
        except (OSError, HostFsError) as e:
            return _text(e)

    def set_mtime(_store, path, mtime):
        try:
            os.utime(grants_for_store().resolve(path, True), (mtime, mtime), follow_symlinks=False)
            return None
        except (OSError, HostFsError) as e:
            return _text(e)

    def read_link(_store, path):
        try:
            return Variant("ok", os.readlink(grants_for_store().resolve(path, False)))
        except (OSError, HostFsError) as e:
            return Variant("err", _text(e))

    def make_symlink(_store, target, path):
        # The link's text is data: it may point anywhere, and nothing here follows it.
        try:
            os.symlink(target, grants_for_store().resolve(path, True))
            return None
        except (OSError, HostFsError) as e:
            return _text(e)

    def write_file(_store, path, data, mode):
        # Not on the stepper's path (it writes through WASI): bytes cross slowly here.
        try:
            host = grants_for_store().resolve(path, True)
            try:
                if stat.S_ISLNK(os.lstat(host).st_mode):
                    os.unlink(host)
            except FileNotFoundError:
                pass
            fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, mode & 0o777)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            return None
        except (OSError, HostFsError) as e:
            return _text(e)

    def queue_write(store, path, data, mode, tag):
        # Written at once: the failure, if any, is this write's, with its tag.
        message = write_file(store, path, data, mode)
        if message is None:
            return None
        failure = Record()
        failure.path, failure.tag, failure.message = path, tag, message
        return failure

    def flush_writes(_store, _before):
        return None

    def write_at(_store, path, offset, data):
        try:
            fd = os.open(grants_for_store().resolve(path, True), os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                view = memoryview(bytes(data))
                while view:
                    written = os.pwrite(fd, view, offset)
                    view, offset = view[written:], offset + written
            finally:
                os.close(fd)
            return None
        except (OSError, HostFsError) as e:
            return _text(e)

    def utc_offset(_store, unix_seconds):
        return time.localtime(unix_seconds).tm_gmtoff

    for name, fn in [
        ("lstat", lstat),
        ("set-mode", set_mode),
        ("set-mtime", set_mtime),
        ("read-link", read_link),
        ("make-symlink", make_symlink),
        ("write-file", write_file),
        ("queue-write", queue_write),
        ("flush-writes", flush_writes),
        ("write-at", write_at),
        ("utc-offset", utc_offset),
    ]:
        fs.add_func(name, fn)
