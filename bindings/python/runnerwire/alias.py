"""``python3 -m runnerwire.alias [--dir DIR] [--remove]``: makes ``ansible-runner`` run the
runnerwire CLI this wheel carries, without removing upstream's ansible-runner package.

Receptor runs its work command ``ansible-runner`` by name on an execution node, and AWX's
container groups run ``ansible-runner worker --private-data-dir=/runner`` in the
execution-environment image: both find it on PATH. This puts a link named
``ansible-runner`` to the wheel's ``_bin/runnerwire`` into DIR, by default the first
directory on PATH, so it is found before upstream's script, which stays where pip put it
(and ``python3 -m ansible_runner`` still runs upstream). A pip upgrade of either package
leaves the link alone. ``--remove`` takes the link away: upstream answers again.

It never replaces a file that is not its own link (upstream's script, say): it names the
file and asks for a directory earlier on PATH. Afterwards it checks that ``ansible-runner``
on PATH is runnerwire, and says which one it now comes before. Exit 0 when done, 1 when
refused (one line saying why), 2 on a usage error."""

import argparse
import os
import shutil
import sys

NAME = "ansible-runner"


def _wheel_binary():
    binary = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bin", "runnerwire")
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"runnerwire.alias: {binary} is missing: this package was not installed from runnerwire's wheel")
    return os.path.realpath(binary)


def _ours(path, binary):
    return os.path.islink(path) and os.path.realpath(path) == os.path.realpath(binary)


def _path_dirs():
    return [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]


def link(directory, binary):
    """Links DIRECTORY/ansible-runner to BINARY; returns what the user should be told."""
    path = os.path.join(directory, NAME)
    if _ours(path, binary):
        told = f"{path} already runs runnerwire ({binary})"
    else:
        if os.path.lexists(path):
            raise SystemExit(f"runnerwire.alias: {path} exists and is not runnerwire's link; "
                             "choose a directory that comes before it on PATH with --dir")
        os.makedirs(directory, exist_ok=True)
        os.symlink(binary, path)
        told = f"{path} -> {binary}"
    found = shutil.which(NAME)
    if found is None or not _ours(found, binary):
        raise SystemExit(f"runnerwire.alias: linked {path}, but `{NAME}` on PATH is {found or 'not found'}: "
                         f"put {directory} before it on PATH")
    # The one it shadows: the next ansible-runner on PATH after ours, if any.
    dirs = _path_dirs()
    later = [os.path.join(d, NAME) for d in dirs[dirs.index(directory) + 1:]] if directory in dirs else []
    shadowed = next((p for p in later if os.access(p, os.X_OK) and not _ours(p, binary)), None)
    return told + (f"; upstream's {shadowed} stays, after it on PATH" if shadowed else "")


def unlink(directory, binary):
    path = os.path.join(directory, NAME)
    if not os.path.lexists(path):
        return f"{path}: no link to remove"
    if not _ours(path, binary):
        raise SystemExit(f"runnerwire.alias: {path} is not runnerwire's link; left alone")
    os.unlink(path)
    return f"{path} removed; `{NAME}` on PATH is now {shutil.which(NAME) or 'not found'}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m runnerwire.alias",
                                     description="Make `ansible-runner` on PATH run runnerwire, upstream's package left installed.")
    parser.add_argument("--dir", help="where the link goes (default: the first directory on PATH)")
    parser.add_argument("--remove", action="store_true", help="remove the link instead")
    args = parser.parse_args(argv)
    directory = args.dir or next(iter(_path_dirs()), None)
    if directory is None:
        parser.error("PATH is empty: name the directory with --dir")
    directory = os.path.abspath(directory)
    binary = _wheel_binary()
    try:
        print(unlink(directory, binary) if args.remove else link(directory, binary))
    except OSError as e:
        raise SystemExit(f"runnerwire.alias: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
