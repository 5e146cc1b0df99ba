#!/usr/bin/env python3
"""Speed and memory of runnerwire next to upstream ansible-runner, in one run: `make bench`.

What it measures, for each stage, upstream `ansible-runner` (from a venv) and `runnerwire`
on the same input, and prints as one Markdown table (the one docs/benchmarks.md quotes):

  * wall time: best of N runs (--runs, default 3), each run in a fresh empty directory;
  * the speed-up, upstream time / runnerwire time;
  * user CPU: the least over the runs (as wait4 reports it), and the ratio;
  * peak RSS: the largest ru_maxrss over the runs, as reported by os.wait4() for that one
    process (no /usr/bin/time needed). Each command is forked from a tiny launcher
    interpreter rather than from this script, because ru_maxrss also counts the address space
    a process had before exec; the launcher's small floor (~5 MB) is printed with the table.

`process` and `transmit` depend on the filesystem (one file per event; the scratch archive),
so they run twice: in a tmpfs directory (--tmpfs-dir, default /dev/shm) and in a disk-backed
one (--disk-dir, default the temp dir when it is not tmpfs); the table says which is which.

Stages:

  start     `process` of a two-line result stream (a status line, eof) with an empty
            environment (no HOME, as a service or a container runs it): start-up and exit.
  process   `ansible-runner process <dir> --ident bench < stream` against
            `runnerwire process <dir> --ident bench < stream`, stdout to /dev/null. The result
            stream is synthetic but built from the real recording fixtures/multi/result.stream:
            its starting/running status lines, then its event lines repeated cyclically with
            fresh counters 1..N and fresh (seeded) uuid4s (--events, default 20000), then its
            final status line, zipfile line + base64 archive and eof line, unchanged.
            Afterwards both artifacts/bench/job_events trees must hold the same file names and
            byte-identical contents for a sample of 50 files, or the script exits 1.
  transmit  `ansible-runner transmit <pdd> -p site.yml --ident bench` against
            `runnerwire transmit <pdd> -p site.yml --ident bench`, stdout to a file, on a
            generated private data dir of about --transmit-mb MB (default 50): half compressible
            text files of ~100 KB, half a few large files of random bytes (fixed seeds). Both
            outputs must start with a `{"kwargs": ` line, hold a `{"zipfile": ` line and end
            with `{"eof": true}\\n`, or the script exits 1. On tmpfs also on three other trees
            (--transmit-shapes): 600 text files with 6 random 4 MiB blobs, 8 large text files,
            and 5,000 small files of 1-5 KB (a project with collections).
  worker    `ansible-runner worker --private-data-dir <dir>` against
            `runnerwire worker --private-data-dir <dir>`, each reading the same job stream on
            stdin (made once by upstream's `transmit` from a private data dir whose
            project/site.yml is one play on localhost with --tasks quick `debug` tasks, default
            500), stdout to a file, each run in a fresh private data dir. Environment: PATH with
            the venv's bin first (both workers run `ansible-playbook` from PATH), HOME (one temp
            dir for the stage: ansible's ~/.ansible lives under it), LANG=C.UTF-8, ANSIBLE_NOCOLOR=1 (and TMPDIR if set), nothing else. Most of the time
            is ansible's, so the speed-up is small by nature. RSS here is the worker process's
            own (its VmHWM, sampled every few ms): wait4's ru_maxrss would be the largest of the
            worker and every descendant it reaped, i.e. usually an ansible-playbook process. The
            stage also reports bytes written by the whole process tree (worker + ansible), from
            /proc/self/io of the launcher before and after reaping it (Linux adds a reaped
            child's I/O counters to its parent's): write_bytes, the bytes the tree dirtied in the
            page cache of disk-backed files, and cancelled_write_bytes, the part of them deleted
            or truncated before writeback; if write_bytes is 0 for both (tmpfs, or no accounting),
            wchar minus the stdout size instead. Both result streams must end with
            `{"eof": true}\\n`, have `{"status": "successful"` as their last status line and
            hold one `runner_on_ok` event per task, or the script exits 1.
  runtimes  The Node and Python packages' CLIs (`node bindings/js/cli.mjs process`,
            `python -m runnerwire process`) on the process stream, each alternated with
            upstream's `ansible-runner process`; and the Python package's Processor.run()
            in-process next to upstream's (bench/processor_api.py), with AWX's handler (every
            event_handler call returns False) and with every event file kept: wall time only,
            and both sides must see the same handler calls and files, or the script exits 1.
            Needs `make bindings` (skipped without it).
  mesh      Jobs through a real Receptor mesh on loopback (tests/mesh/mesh.py: a controller
            and two execution nodes, one running runnerwire as `ansible-runner`, one upstream's
            ansible-runner, AWX's work-command block, signed work), submitted and read as AWX
            does. One job: a one-task playbook (made once by runnerwire transmit), from
            submit_work until `work results` has ended, best of --runs (at least 3) per node, next to the
            same job stream through the same tool's worker run locally (the node's PATH and
            environment): the difference is the mesh's per-job overhead. Jobs at once:
            --mesh-jobs (default 8) of them submitted together to one node, wall time until all
            results are read; jobs per minute. Every result must end with eof and status
            successful, or the script exits 1. CPU and RSS are the nodes' (not this process's
            children), so those columns say n/a. Needs `make receptor` (skipped without it).
  decoder   `runnerwire validate` and `runnerwire inspect --json` on a stream built like the
            process stream with --decoder-events events (default 100,000, ~106 MB), and
            `validate` on a rich stream of 3/4 as many events (~97 MB) built the same way from
            the recorded AWX-shaped job fixtures/awx/result.stream (coloured output, many event
            shapes), each event enriched as a richer job's would be and written as upstream's
            callback writes it: a float duration in every event's event_data, and in each
            result's res nested facts with NaN, Infinity, -Infinity, 2**70, floats of every
            length and non-ASCII text (accented, CJK, an emoji); MB/s, start-up included.
            Upstream has no such commands (its reading of a stream is the process row), so
            that column says n/a.

Before timing, each tool runs once, untimed, on the small recorded fixture stream (worker: on
a one-task job), so the OS page cache is warm for
both; before each timed run, os.sync() (untimed) flushes what earlier runs left to write. Per
run the script also prints user and system CPU time (as wait4 reports it: the process and every
descendant it reaped, so for `worker` the whole tree): `process` writes one file per event, so
on a slow disk kernel time dominates both tools' wall time; the tmpfs rows take the disk out
of it (for `worker`, TMPDIR=/dev/shm takes it out of the bytes-written figures too).

Run it with `make bench` (builds runnerwire and the pinned venv first), or directly:

    python3 bench/bench.py [--runs N] [--events N] [--decoder-events N] [--transmit-mb N] [--tasks N]
                           [--mesh-jobs N] [--venv-bin DIR] [--runnerwire PATH] [--tmpfs-dir DIR]
                           [--disk-dir DIR] [--only start|process|transmit|worker|decoder|mesh]

--venv-bin defaults to $RUNNERWIRE_VENV/bin if that is set, else .venv/bin under the repo
root; --runnerwire defaults to target/release/runnerwire under the repo root. Sizes are in
MB = 10^6 bytes. Standard library only, except the mesh stage (receptorctl and cryptography,
which `make receptor` and `make venv` put in the venv `make bench` runs this with); temporary
files are removed at the end.
"""

import argparse
import base64
import binascii
import io
import json
import os
import random
import shlex
import subprocess
import sys
import shutil
import tempfile
import time
import uuid
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_STREAM = os.path.join(REPO, "fixtures", "multi", "result.stream")
IDENT = "bench"
SAMPLE_FILES = 50

PLAYBOOK = """\
- name: Benchmark play
  hosts: all
  gather_facts: false
  tasks:
    - name: Say hello
      ansible.builtin.debug:
        msg: hello
"""
INVENTORY = "localhost ansible_connection=local\n"
WORKER_INVENTORY = "localhost ansible_connection=local ansible_python_interpreter='{{ ansible_playbook_python }}'\n"
HWM_POLL = 0.005  # seconds between VmHWM samples of the worker process


STAGES = ("start", "process", "transmit", "worker", "decoder", "runtimes", "mesh")
# Stages whose figures depend on the filesystem: run on tmpfs and on disk.
BY_FILESYSTEM = ("process", "transmit")
# Stages that write thousands of files but are not worth both places: tmpfs only, where the
# disk's writeback does not swamp the difference between runtimes.
ON_TMPFS = ("runtimes",)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Running and measuring one command


class Result:
    """One run. maxrss_kib is wait4's ru_maxrss: the largest of the process and every descendant
    it reaped. hwm_kib is the process's own VmHWM (only when sampled, else None). io is the
    launcher's /proc/self/io delta over the run, i.e. the whole reaped process tree's counters
    (dict of write_bytes, cancelled_write_bytes, wchar), or None if /proc/self/io is unreadable."""

    def __init__(self, seconds, maxrss_kib, user, system, hwm_kib=None, io=None):
        self.seconds = seconds
        self.maxrss_kib = maxrss_kib
        self.user = user
        self.system = system
        self.hwm_kib = hwm_kib
        self.io = io


# Why a launcher: a child's ru_maxrss also counts the memory of the process it was forked from
# (at exec the kernel folds the old address space's high-water mark into it), so a command
# spawned straight from this script would "peak" at least at this script's own peak (tens of
# MB after building the inputs). This small interpreter forks the command, times it, reaps it
# with os.wait4 and writes "exit-code seconds maxrss-KiB user system hwm-KiB write_bytes
# cancelled_write_bytes wchar" to the fd in argv[1] (-1 for what it could not measure).
# What remains is the launcher's own small footprint, printed as the "RSS floor".
#
# ru_maxrss from wait4 is getrusage(RUSAGE_BOTH) of the child: the largest of the child and of
# every descendant it reaped. For a command that runs others (the worker runs ansible-playbook),
# that is not the command's own peak; with argv[2] > 0 the launcher instead samples the child's
# VmHWM (its own high-water mark, reset at exec) every argv[2] seconds until it exits; growth in
# the last interval before exit can be missed. It starts sampling once the exec succeeded (a
# close-on-exec pipe reaches EOF), so the launcher's own pre-exec copy is not counted.
#
# /proc/self/io, read before the fork and after the reap: when a parent reaps a child, Linux
# adds the child's I/O counters (and those of the child's own reaped descendants) to the
# parent's, so the delta covers the whole tree (processes orphaned to init are not counted).
# The launcher itself does no I/O in between.
LAUNCHER = r"""
import os, sys, time
fd = int(sys.argv[1])
poll = float(sys.argv[2])
argv = sys.argv[3:]
def io():
    try:
        with open("/proc/self/io", "rb") as f:
            fields = dict(line.split(b":", 1) for line in f.read().splitlines() if b":" in line)
        return [int(fields[k]) for k in (b"write_bytes", b"cancelled_write_bytes", b"wchar")]
    except (OSError, KeyError, ValueError):
        return None
io0 = io()
if poll > 0:
    er, ew = os.pipe()
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.close(fd)
        if poll > 0:
            os.close(er)
        os.execv(argv[0], argv)
    except BaseException as e:
        os.write(2, ("cannot run %s: %s\n" % (argv[0], e)).encode())
    os._exit(127)
hwm = -1
if poll > 0:
    os.close(ew)
    os.read(er, 1)
    os.close(er)
    status_path = "/proc/%d/status" % pid
    while True:
        done, status, rusage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        try:
            with open(status_path, "rb") as f:
                for line in f:
                    if line.startswith(b"VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]))
                        break
        except (OSError, ValueError):
            pass
        time.sleep(poll)
else:
    _, status, rusage = os.wait4(pid, 0)
elapsed = time.perf_counter() - start
io1 = io()
delta = [b - a for a, b in zip(io0, io1)] if io0 and io1 else [-1, -1, -1]
os.write(fd, b"%d %.6f %d %.6f %.6f %d %d %d %d" % (
    os.waitstatus_to_exitcode(status), elapsed, rusage.ru_maxrss, rusage.ru_utime, rusage.ru_stime,
    hwm, *delta))
"""


def run_measured(argv, stdin_path, stdout_path, cwd, env, stderr_path, poll=0.0, check=True):
    """Runs argv once; returns Result (its exit code in .code). Raises BenchError if it exits
    non-zero, unless check is False.

    Dirty pages left by earlier runs are flushed first (untimed), so their writeback does not
    land in this run's time. With poll > 0 the command's own VmHWM is sampled every poll seconds.
    """
    os.sync()
    rfd, wfd = os.pipe()
    try:
        with open(stdin_path, "rb") as fin, open(stdout_path, "wb") as fout, \
                open(stderr_path, "wb") as ferr:
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, str(wfd), repr(poll), *argv],
                                    stdin=fin, stdout=fout, stderr=ferr, cwd=cwd, env=env,
                                    pass_fds=(wfd,))
            os.close(wfd)
            wfd = -1
            report = b""
            while chunk := os.read(rfd, 256):
                report += chunk
            proc.wait()
    finally:
        os.close(rfd)
        if wfd >= 0:
            os.close(wfd)
    hwm, io = None, None
    try:
        code, seconds, maxrss, user, system, hwm, wb, cwb, wchar = report.split()
        code, maxrss, hwm = int(code), int(maxrss), int(hwm)  # ru_maxrss, VmHWM: KiB on Linux
        seconds, user, system = float(seconds), float(user), float(system)
        hwm = hwm if hwm >= 0 else None
        if int(wb) >= 0:
            io = {"write_bytes": int(wb), "cancelled_write_bytes": int(cwb), "wchar": int(wchar)}
    except ValueError:
        code, seconds, maxrss, user, system = None, 0.0, 0, 0.0, 0.0
    if check and (code != 0 or proc.returncode != 0):
        with open(stderr_path, "rb") as f:
            err = f.read().decode("utf-8", "replace")
        tail = "\n".join(err.rstrip().splitlines()[-25:])
        shown = code if code is not None else f"unknown (launcher exit code {proc.returncode})"
        raise BenchError(
            f"command failed with exit code {shown}:\n  {describe(argv, stdin_path, stdout_path)}\n"
            f"  (cwd {cwd})\n  stderr (last lines):\n" + indent(tail or "(empty)", "    ")
        )
    result = Result(seconds, maxrss, user, system, hwm, io)
    result.code = code
    return result


def rss_floor(tmp, env):
    """Peak RSS the method reports for a command that does nothing (/bin/true)."""
    true = "/bin/true" if os.access("/bin/true", os.X_OK) else "/usr/bin/true"
    return run_measured([true], os.devnull, os.devnull, tmp, env, os.path.join(tmp, "stderr-true")).maxrss_kib


def describe(argv, stdin_path, stdout_path):
    text = shlex.join(argv)
    if stdin_path != os.devnull:
        text += " < " + shlex.quote(stdin_path)
    text += " > " + shlex.quote(stdout_path)
    return text


def indent(text, prefix):
    return "\n".join(prefix + line for line in text.splitlines())


# ---------------------------------------------------------------------------------------------
# The synthetic result stream


def parse_stream(data):
    """Splits a result stream into (kind, raw line bytes, parsed) items.

    A `{"zipfile": N}` line is followed by the base64 of an N-byte archive, 4*ceil(N/3)
    bytes with no trailing newline; it is kept as the raw bytes of the zipfile line plus
    the base64 (kind "zipfile").
    """
    items = []
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            raise BenchError(f"{FIXTURE_STREAM}: unterminated line at byte {pos}")
        line = data[pos:nl + 1]
        pos = nl + 1
        obj = json.loads(line)
        if "zipfile" in obj:
            b64_len = 4 * ((obj["zipfile"] + 2) // 3)
            b64 = data[pos:pos + b64_len]
            if len(b64) != b64_len:
                raise BenchError(f"{FIXTURE_STREAM}: archive cut short")
            pos += b64_len
            items.append(("zipfile", line + b64, obj))
        elif "status" in obj:
            items.append(("status", line, obj))
        elif "eof" in obj:
            items.append(("eof", line, obj))
        elif "uuid" in obj and "counter" in obj:
            items.append(("event", line, obj))
        else:
            items.append(("other", line, obj))
    return items


def build_stream(path, events, fixture=FIXTURE_STREAM, enrich=None):
    """`events` events cloned cyclically from `fixture`'s, renumbered (counter 1..N, fresh
    seeded uuid4s), between its status lines and before its archive and eof; `enrich(event,
    rng)`, if given, may change each clone first."""
    with open(fixture, "rb") as f:
        items = parse_stream(f.read())
    statuses = [it for it in items if it[0] == "status"]
    templates = [it[2] for it in items if it[0] == "event"]
    zips = [it for it in items if it[0] == "zipfile"]
    eofs = [it for it in items if it[0] == "eof"]
    head = [it for it in statuses if it[2]["status"] in ("starting", "running")]
    final = [it for it in statuses if it[2]["status"] not in ("starting", "running")]
    if not (templates and len(head) == 2 and len(final) == 1 and len(zips) == 1 and len(eofs) == 1):
        raise BenchError(f"{fixture}: not the expected shape (status/events/zipfile/eof)")

    rng = random.Random(20240101)
    with open(path, "wb") as out:
        for _, raw, _ in head:
            out.write(raw)
        for i in range(events):
            event = dict(templates[i % len(templates)])
            if enrich is not None:
                enrich(event, rng)
            event["counter"] = i + 1
            event["uuid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            out.write(json.dumps(event).encode("utf-8") + b"\n")
        out.write(final[0][1])
        out.write(zips[0][1])
        out.write(eofs[0][1])
    return os.path.getsize(path)


RICH_FIXTURE_STREAM = os.path.join(REPO, "fixtures", "awx", "result.stream")


def enrich_event(event, rng):
    """What richer jobs than the recorded one put in events, as upstream's callback writes
    them (json.dumps: NaN and Infinity bare, big ints in full, non-ASCII as \\u escapes, floats
    in repr's shortest form): a float duration in every event's event_data, and in each
    result's `res` nested facts with NaN, +-Infinity, 2**70, assorted floats and non-ASCII
    text (accented, CJK, an emoji: a surrogate pair)."""
    data = dict(event.get("event_data") or {})
    # A fresh duration per event, as measured: six decimals (time's microseconds), now and
    # then a float whose repr needs all 17 digits.
    data["duration"] = round(rng.uniform(0.001, 3.0), 6) if rng.random() < 0.8 else rng.uniform(0.001, 3.0)
    if "res" in data:
        res = dict(data["res"])
        res["facts"] = {
            "load": [rng.random(), round(rng.uniform(0, 8), 2), 0.1 + 0.2, 1e-07, 6.02e+23],
            "ratio": float("nan"),
            "ceiling": float("inf"),
            "floor": float("-inf"),
            "inode_total": 2 ** 70,
            "owner": "Zoë Müller-Ståhl",
            "motd": "déployé ✓ — 完了しました 🚀",
            "mounts": [{"mount": "/srv/données", "size_total": 2 ** 40 + rng.randrange(2 ** 20), "free_pct": round(rng.uniform(0, 100), 1)}],
        }
        data["res"] = res
        if event.get("stdout"):
            event["stdout"] = event["stdout"] + "\r\n\u001b[0;32m  motd: déployé ✓ — 完了しました 🚀\u001b[0m"
    event["event_data"] = data


def list_files(root):
    found = set()
    for dirpath, _, files in os.walk(root):
        for name in files:
            found.add(os.path.relpath(os.path.join(dirpath, name), root))
    return found


def compare_process_outputs(up_dir, ours_dir, events):
    up_events = os.path.join(up_dir, "artifacts", IDENT, "job_events")
    our_events = os.path.join(ours_dir, "artifacts", IDENT, "job_events")
    for d in (up_events, our_events):
        if not os.path.isdir(d):
            raise BenchError(f"process check: {d} does not exist")
    up_names = set(os.listdir(up_events))
    our_names = set(os.listdir(our_events))
    if up_names != our_names:
        only_up = sorted(up_names - our_names)
        only_ours = sorted(our_names - up_names)
        raise BenchError(
            "process check: job_events file names differ: "
            f"{len(only_up)} only upstream (e.g. {only_up[:3]}), "
            f"{len(only_ours)} only runnerwire (e.g. {only_ours[:3]})"
        )
    sample = random.Random(7).sample(sorted(up_names), min(SAMPLE_FILES, len(up_names)))
    for name in sample:
        with open(os.path.join(up_events, name), "rb") as a, open(os.path.join(our_events, name), "rb") as b:
            x, y = a.read(), b.read()
        if x != y:
            at = next((i for i in range(min(len(x), len(y))) if x[i] != y[i]), min(len(x), len(y)))
            raise BenchError(
                f"process check: job_events/{name} differs at byte {at}:\n"
                f"  upstream:   {x[max(0, at - 60):at + 60]!r}\n"
                f"  runnerwire: {y[max(0, at - 60):at + 60]!r}"
            )
    lines = [
        f"process check: OK: job_events hold the same {len(up_names)} file names "
        f"({events} events streamed); {len(sample)} sampled files byte-identical"
    ]
    up_all = list_files(os.path.join(up_dir, "artifacts", IDENT))
    our_all = list_files(os.path.join(ours_dir, "artifacts", IDENT))
    if up_all != our_all:
        lines.append(
            "process note: other artifact files differ: only upstream "
            f"{sorted(up_all - our_all)[:5]}, only runnerwire {sorted(our_all - up_all)[:5]}"
        )
    if len(up_names) != events:
        lines.append(f"process note: {len(up_names)} job_events files for {events} events")
    return lines


# ---------------------------------------------------------------------------------------------
# The generated private data dir


def pdd_skeleton(root):
    """The demo playbook and inventory, in a new private data dir."""
    os.makedirs(os.path.join(root, "project"))
    os.makedirs(os.path.join(root, "inventory"))
    with open(os.path.join(root, "project", "site.yml"), "w") as f:
        f.write(PLAYBOOK)
    with open(os.path.join(root, "inventory", "hosts"), "w") as f:
        f.write(INVENTORY)


def vocabulary(rng):
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(3000)]


def build_pdd(root, total_mb):
    total = int(total_mb * 1_000_000)
    pdd_skeleton(root)
    os.makedirs(os.path.join(root, "data", "text"))
    os.makedirs(os.path.join(root, "data", "bin"))

    # Half text: ~100 KB files of pseudo-random words (compressible).
    rng = random.Random(1234)
    vocab = vocabulary(rng)
    text_budget = total // 2
    file_size = 100_000
    n = 0
    while text_budget > 0:
        size = min(file_size, text_budget)
        blob = text_blob(rng, vocab, size)
        with open(os.path.join(root, "data", "text", f"doc-{n:04d}.txt"), "wb") as f:
            f.write(blob)
        text_budget -= len(blob)
        n += 1

    # Half binary: a few large files of random bytes (incompressible).
    bin_budget = total - total // 2
    parts = 4
    for i in range(parts):
        size = bin_budget // parts + (1 if i < bin_budget % parts else 0)
        with open(os.path.join(root, "data", "bin", f"blob-{i}.bin"), "wb") as f:
            f.write(random.Random(5678 + i).randbytes(size))

    return tree_size(root)


def check_transmit_output(path, who):
    """Checks the shape of a job stream; returns (size, zip size, member names or None)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        data = f.read()
    first = data.split(b"\n", 1)[0]
    problems = []
    if not data.startswith(b'{"kwargs": '):
        problems.append(f"does not start with a {{\"kwargs\": line (starts {data[:40]!r})")
    if not (data.startswith(b'{"zipfile": ') or b'\n{"zipfile": ' in data):
        problems.append("holds no {\"zipfile\": line")
    if not data.endswith(b'{"eof": true}\n'):
        problems.append(f"does not end with {{\"eof\": true}}\\n (ends {data[-40:]!r})")
    if problems:
        raise BenchError(f"transmit check: {who} output {path}: " + "; ".join(problems))
    # Informational: decode the archive and list its members.
    zip_size, members = None, None
    try:
        zpos = data.index(b'\n{"zipfile": ') + 1
        znl = data.index(b"\n", zpos)
        zip_size = json.loads(data[zpos:znl])["zipfile"]
        b64 = data[znl + 1:znl + 1 + 4 * ((zip_size + 2) // 3)]
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(b64, validate=True)))
        members = set(archive.namelist())
    except (ValueError, KeyError, binascii.Error, zipfile.BadZipFile):
        pass
    del data
    json.loads(first)  # the kwargs line is JSON
    return size, zip_size, members


# ---------------------------------------------------------------------------------------------
# Stages


def process_runner(tmp, stream, env, commands, name, argv_of, last):
    """interleave()'s run function for `process` of `stream`: each run in a fresh directory
    (the first run's command recorded); `last[name]` keeps only the latest tree, since each
    holds 20000+ files."""
    def run(i):
        d = os.path.join(tmp, f"process-{name}-{i}")
        os.mkdir(d)
        if i == 0:
            commands.append(describe(argv_of(d), stream, os.devnull))
        r = run_measured(argv_of(d), stream, os.devnull, tmp, env, os.path.join(tmp, f"stderr-{name}"))
        if name in last:
            subprocess.run(["rm", "-rf", last[name]], check=True)
        last[name] = d
        return r
    return run


def bench_process(args, tmp, place, env, commands, checks):
    stream = os.path.join(tmp, "result.stream")
    print(f"process: building a {args.events}-event stream from {os.path.relpath(FIXTURE_STREAM, REPO)} ...",
          flush=True)
    stream_size = build_stream(stream, args.events)
    up_argv = lambda d: [args.upstream, "process", d, "--ident", IDENT]
    our_argv = lambda d: [args.runnerwire, "process", d, "--ident", IDENT]

    # Untimed warm-up on the small recorded stream.
    for name, argv in (("upstream", up_argv), ("runnerwire", our_argv)):
        d = os.path.join(tmp, f"process-warmup-{name}")
        os.mkdir(d)
        run_measured(argv(d), FIXTURE_STREAM, os.devnull, tmp, env, os.path.join(tmp, "stderr"))

    last = {}
    runner = lambda name, argv_of: process_runner(tmp, stream, env, commands, name, argv_of, last)
    up, ours = interleave(
        args.runs, ("upstream", runner("upstream", up_argv)), ("runnerwire", runner("runnerwire", our_argv)))
    checks.extend(compare_process_outputs(last["upstream"], last["runnerwire"], args.events))
    return Row("process", place, f"{args.events} events ({mb(stream_size)})", up, ours)


def bench_transmit(args, tmp, place, env, commands, checks):
    """The README's tree on every filesystem; the issue's three shapes on the first (tmpfs)."""
    shapes = [("mixed", lambda root: build_pdd(root, args.transmit_mb))]
    if place == places(args)[0][0]:
        shapes += [(name, build) for name, build in TRANSMIT_SHAPES.items() if name in args.transmit_shapes]
    rows = []
    for name, build in shapes:
        pdd = os.path.join(tmp, f"pdd-{name}")
        print(f"transmit: generating the {name} private data dir ...", flush=True)
        pdd_size, pdd_files = build(pdd)
        rows.append(transmit_row(args, tmp, place, env, commands, checks, pdd,
                                 f"{name}: {mb(pdd_size)} pdd ({pdd_files} files)"))
        subprocess.run(["rm", "-rf", pdd], check=False)
    return rows


def transmit_row(args, tmp, place, env, commands, checks, pdd, what):
    outs = {"upstream": os.path.join(tmp, "transmit-upstream.out"),
            "runnerwire": os.path.join(tmp, "transmit-runnerwire.out")}
    argvs = {"upstream": [args.upstream, "transmit", pdd, "-p", "site.yml", "--ident", IDENT],
             "runnerwire": [args.runnerwire, "transmit", pdd, "-p", "site.yml", "--ident", IDENT]}

    def runner(name):
        def run(i):
            if i == 0:
                commands.append(describe(argvs[name], os.devnull, outs[name]))
            return run_measured(argvs[name], os.devnull, outs[name], tmp, env,
                                os.path.join(tmp, f"stderr-{name}"))
        return run

    up, ours = interleave(
        args.runs, ("upstream", runner("upstream")), ("runnerwire", runner("runnerwire")))
    up_size, up_zip, up_members = check_transmit_output(outs["upstream"], "upstream")
    our_size, our_zip, our_members = check_transmit_output(outs["runnerwire"], "runnerwire")
    checks.append(
        f"transmit check: OK: both outputs are kwargs line, zipfile line, archive, eof line; "
        f"upstream {up_size:,} bytes (archive {fmt_int(up_zip)}), "
        f"runnerwire {our_size:,} bytes (archive {fmt_int(our_zip)})"
    )
    if up_members is None or our_members is None:
        checks.append("transmit note: could not decode the archive of "
                      + ("upstream" if up_members is None else "runnerwire"))
    elif up_members != our_members:
        checks.append(
            "transmit note: archive member names differ: only upstream "
            f"{sorted(up_members - our_members)[:5]}, only runnerwire {sorted(our_members - up_members)[:5]}"
        )
    else:
        checks.append(f"transmit check ({what}): both archives list the same {len(up_members)} entries")
    return Row("transmit", place, what, up, ours)



def tree_size(root):
    size = count = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            size += os.path.getsize(os.path.join(dirpath, name))
            count += 1
    return size, count


def text_blob(rng, vocab, size):
    words = rng.choices(vocab, k=size // 6 + 16)
    lines = [" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
    return "\n".join(lines).encode("ascii")[:size - 1] + b"\n"


def shape_pdd(root, files):
    """A private data dir with the demo playbook and inventory, plus `files(rng, vocab)`'s
    (relative path, bytes) pairs under data/."""
    pdd_skeleton(root)
    rng = random.Random(4321)
    vocab = vocabulary(rng)
    for rel, data in files(rng, vocab):
        path = os.path.join(root, "data", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return tree_size(root)


# Issue 18's three shapes: text with a few incompressible blobs, a few large text files, and
# a project of many small files (collections).
TRANSMIT_SHAPES = {
    "text+blobs": lambda root: shape_pdd(root, lambda rng, vocab: [
        *((f"text/{i // 50:02d}/doc-{i:03d}.txt", text_blob(rng, vocab, 28_000 + rng.randint(0, 1_000))) for i in range(600)),
        *((f"bin/blob-{i}.bin", random.Random(99 + i).randbytes(4 << 20)) for i in range(6)),
    ]),
    "large-text": lambda root: shape_pdd(root, lambda rng, vocab: [
        (f"text/big-{i}.txt", text_blob(rng, vocab, 4_900_000)) for i in range(8)
    ]),
    "small-files": lambda root: shape_pdd(root, lambda rng, vocab: [
        (f"collections/ns{i % 7}/col{i % 41}/plugins/mod_{i:04d}.py", text_blob(rng, vocab, rng.randint(1_000, 5_000)))
        for i in range(5000)
    ]),
}


def build_worker_pdd(root, tasks):
    os.makedirs(os.path.join(root, "project"))
    os.makedirs(os.path.join(root, "inventory"))
    lines = ["- name: Benchmark play", "  hosts: localhost", "  gather_facts: false", "  tasks:"]
    for n in range(1, tasks + 1):
        lines += [f"    - name: Task {n}", "      ansible.builtin.debug:", f'        msg: "task {n}"']
    with open(os.path.join(root, "project", "site.yml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(root, "inventory", "hosts"), "w") as f:
        f.write(WORKER_INVENTORY)


def check_worker_output(path, who, tasks):
    """Checks a worker's result stream; returns the number of runner_on_ok events."""
    with open(path, "rb") as f:
        data = f.read()
    problems = []
    if not data.endswith(b'{"eof": true}\n'):
        problems.append(f"does not end with {{\"eof\": true}}\\n (ends {data[-40:]!r})")
    lines = data.split(b"\n")
    statuses = [line for line in lines if line.startswith(b'{"status": ')]
    if not statuses:
        problems.append("holds no {\"status\": line")
    elif not statuses[-1].startswith(b'{"status": "successful"'):
        problems.append(f"last status line is not successful: {statuses[-1][:120]!r}")
    ok = sum(1 for line in lines if b'"event": "runner_on_ok"' in line)
    if problems:
        raise BenchError(f"worker check: {who} result stream {path}: " + "; ".join(problems))
    return ok


def count_job_event_files(pdd):
    """Files in any job_events dir under pdd (the worker's artifacts/<ident>/job_events)."""
    count, dirs = 0, 0
    for dirpath, _, files in os.walk(pdd):
        if os.path.basename(dirpath) == "job_events":
            dirs += 1
            count += len(files)
    return count, dirs


def bench_worker(args, tmp, place, _env, commands, checks, after):
    tasks = args.tasks
    # One HOME for the whole stage, shared by the warm-ups and the timed runs of both tools:
    # ansible keeps its ~/.ansible there; the warm-ups fill it.
    home = os.path.join(tmp, "home")
    os.mkdir(home)
    env = {"PATH": args.venv_bin_dir + os.pathsep + os.environ.get("PATH", os.defpath),
           "HOME": home, "LANG": "C.UTF-8", "ANSIBLE_NOCOLOR": "1"}
    if os.environ.get("TMPDIR"):
        env["TMPDIR"] = os.environ["TMPDIR"]

    print(f"worker: making a {tasks}-task job stream with upstream transmit ...", flush=True)
    streams = {}
    for name, n in (("job", tasks), ("warmup", 1)):
        pdd = os.path.join(tmp, f"{name}-pdd")
        build_worker_pdd(pdd, n)
        streams[name] = os.path.join(tmp, f"{name}.stream")
        argv = [args.upstream, "transmit", pdd, "-p", "site.yml", "--ident", IDENT]
        run_measured(argv, os.devnull, streams[name], tmp, env, os.path.join(tmp, "stderr-transmit"))
        if name == "job":
            commands.append(describe(argv, os.devnull, streams[name]) + "   (once, to make the job stream)")
    stream = streams["job"]

    tools = {"upstream": args.upstream, "runnerwire": args.runnerwire}
    argv = lambda name, pdd: [tools[name], "worker", "--private-data-dir", pdd]

    def fresh(label):
        d = os.path.join(tmp, label)
        os.mkdir(d)
        os.mkdir(os.path.join(d, "pdd"))
        return d

    # Untimed warm-up on a one-task job.
    for name in tools:
        d = fresh(f"warmup-{name}")
        run_measured(argv(name, os.path.join(d, "pdd")), streams["warmup"], os.path.join(d, "stdout"), d,
                     env, os.path.join(tmp, f"stderr-{name}"), poll=HWM_POLL)
        check_worker_output(os.path.join(d, "stdout"), f"{name} (warm-up)", 1)

    last = {}

    def runner(name):
        def run(i):
            d = fresh(f"run-{name}-{i}")
            pdd, out = os.path.join(d, "pdd"), os.path.join(d, "stdout")
            if i == 0:
                commands.append(describe(argv(name, pdd), stream, out) + f"   (cwd {d}, HOME={home})")
            r = run_measured(argv(name, pdd), stream, out, d, env,
                             os.path.join(tmp, f"stderr-{name}"), poll=HWM_POLL)
            if r.hwm_kib is None:
                raise BenchError(f"could not sample the VmHWM of the {name} worker process")
            r.stdout_size = os.path.getsize(out)
            r.pdd = pdd
            if name in last:
                subprocess.run(["rm", "-rf", last[name][0]], check=True)
            last[name] = (d, r)
            return r
        return run

    def extra(r):
        if r.io is None:
            return ", /proc/self/io unavailable"
        return (f", tree peak RSS {mb(r.maxrss_kib * 1024)}, write_bytes {r.io['write_bytes']:,}"
                f" (cancelled {r.io['cancelled_write_bytes']:,}), wchar {r.io['wchar']:,}")

    up, ours = interleave(
        args.runs, ("upstream", runner("upstream")), ("runnerwire", runner("runnerwire")),
        rss=lambda r: r.hwm_kib, extra=extra)

    up_d, up_r = last["upstream"]
    our_d, our_r = last["runnerwire"]
    up_ok = check_worker_output(os.path.join(up_d, "stdout"), "upstream", tasks)
    our_ok = check_worker_output(os.path.join(our_d, "stdout"), "runnerwire", tasks)
    if up_ok != our_ok or up_ok != tasks:
        raise BenchError(
            f"worker check: runner_on_ok events: upstream {up_ok}, runnerwire {our_ok}, expected {tasks} each")
    checks.append(
        f"worker check: OK: both result streams end with the eof line, last status successful, "
        f"{tasks} runner_on_ok events each; stdout upstream {up_r.stdout_size:,} bytes, "
        f"runnerwire {our_r.stdout_size:,} bytes")
    up_left, up_dirs = count_job_event_files(up_r.pdd)
    our_left, our_dirs = count_job_event_files(our_r.pdd)
    checks.append(
        f"worker note: RSS in the table is the worker process's own peak (VmHWM, sampled every "
        f"{HWM_POLL * 1000:g} ms), not ansible-playbook's nor the tree's; the largest single process "
        f"in the tree (wait4's ru_maxrss) peaked at {mb(up_r.maxrss_kib * 1024)} under upstream and "
        f"{mb(our_r.maxrss_kib * 1024)} under runnerwire (last run)")

    # Bytes written by the whole tree, last run of each.
    io_up, io_ours = up_r.io, our_r.io
    if io_up is None or io_ours is None:
        after.append("worker bytes written: /proc/self/io is not readable here; not measured")
    elif io_up["write_bytes"] == 0 and io_ours["write_bytes"] == 0:
        up_w = io_up["wchar"] - up_r.stdout_size
        our_w = io_ours["wchar"] - our_r.stdout_size
        after.append(
            f"worker bytes written (whole tree, last run): write_bytes is 0 for both (the temp dir "
            f"is on a filesystem without writeback accounting, e.g. tmpfs, or accounting is off), so "
            f"instead wchar minus stdout size, which also counts writes to pipes and ptys "
            f"(ansible's output to the worker, its internal queues): upstream {up_w:,} bytes, "
            f"runnerwire {our_w:,} bytes{ratio_text(up_w, our_w)}")
    else:
        up_wb, our_wb = io_up["write_bytes"], io_ours["write_bytes"]
        up_c, our_c = io_up["cancelled_write_bytes"], io_ours["cancelled_write_bytes"]
        after.append(
            f"worker disk bytes written (write_bytes of worker + ansible, last run): upstream "
            f"{up_wb:,} ({mb(up_wb)}), runnerwire {our_wb:,} ({mb(our_wb)}){ratio_text(up_wb, our_wb)}; "
            f"of these, deleted or truncated before writeback (cancelled_write_bytes): upstream "
            f"{up_c:,}, runnerwire {our_c:,}, so net of that upstream {up_wb - up_c:,}, runnerwire "
            f"{our_wb - our_c:,}; the result stream on stdout (a file in the same temp dir, "
            f"counted too) is {up_r.stdout_size:,} / {our_r.stdout_size:,} bytes")
    after.append(
        f"worker files left in the private data dir's job_events: upstream {up_left}, runnerwire "
        f"{our_left} (upstream's callback writes a <uuid>-partial.json per event and its worker "
        f"deletes each once read; runnerwire's carries events inline in ansible's output and writes none)"
        + ("" if up_dirs and our_dirs else
           f" [job_events dirs found: upstream {up_dirs}, runnerwire {our_dirs}]"))
    return Row("worker", place, f"{tasks} tasks", up, ours, "RSS: the worker's own")


# A result stream of two lines: what start-up costs, and nothing else.
START_STREAM = b'{"status": "successful", "runner_ident": "bench"}\n{"eof": true}\n'


def bench_start(args, tmp, place, _env, commands, checks):
    """`process` of a two-line stream with an empty environment (no HOME, as a service or a
    container may run it): start-up and exit, nothing more."""
    stream = os.path.join(tmp, "start.stream")
    with open(stream, "wb") as f:
        f.write(START_STREAM)
    env = {}
    argv = lambda tool, d: [tool, "process", d, "--ident", IDENT]

    def runner(name, tool):
        def run(i):
            d = os.path.join(tmp, f"start-{name}-{i}")
            os.mkdir(d)
            if i == 0:
                commands.append("env -i " + describe(argv(tool, d), stream, os.devnull))
            return run_measured(argv(tool, d), stream, os.devnull, tmp, env, os.path.join(tmp, f"stderr-{name}"))
        return run

    runs = max(args.runs, 5)
    up, ours = interleave(runs, ("upstream", runner("upstream", args.upstream)), ("runnerwire", runner("runnerwire", args.runnerwire)))
    return Row("start", place, "2-line stream, env -i", up, ours)


def bench_decoder(args, tmp, place, env, commands, checks):
    """`validate` and `inspect --json` on the process stage's stream, and `validate` on a
    richer one (events from fixtures/awx, enriched: enrich_event): MB/s, start included.
    Upstream has no such commands; its reading of the same stream is the process row."""
    stream = os.path.join(tmp, "result.stream")
    print(f"decoder: building a {args.decoder_events}-event stream ...", flush=True)
    size = build_stream(stream, args.decoder_events)
    rich = os.path.join(tmp, "rich.stream")
    rich_events = args.decoder_events * 3 // 4
    print(f"decoder: building a {rich_events}-event rich stream ...", flush=True)
    rich_size = build_stream(rich, rich_events, RICH_FIXTURE_STREAM, enrich_event)
    rows = []
    for label, extra_args, path, nbytes, what in (
        ("validate", [], stream, size, f"{args.decoder_events} events ({mb(size)})"),
        ("inspect --json", ["--json"], stream, size, f"{args.decoder_events} events ({mb(size)})"),
        ("validate", [], rich, rich_size, f"{rich_events} rich events ({mb(rich_size)})"),
    ):
        sub = "validate" if label == "validate" else "inspect"
        argv = [args.runnerwire, sub, *extra_args]
        commands.append(describe(argv, path, os.devnull))
        results = []
        for i in range(max(args.runs, 5)):
            r = run_measured(argv, path, os.devnull, tmp, env, os.path.join(tmp, "stderr-decoder"))
            results.append(r)
            print(f"  runnerwire {label} ({what}) run {i + 1}: {r.seconds:7.3f} s ({nbytes / r.seconds / 1e6:.0f} MB/s), "
                  f"peak RSS {mb(r.maxrss_kib * 1024)}", flush=True)
        ours = Measured(results, lambda r: r.maxrss_kib)
        base = None
        if args.baseline:
            # Another runnerwire build (--baseline) has these commands too: timed the same way.
            base_argv = [args.upstream, sub, *extra_args]
            base = Measured([run_measured(base_argv, path, os.devnull, tmp, env, os.path.join(tmp, "stderr-decoder"))
                             for _ in range(max(args.runs, 5))], lambda r: r.maxrss_kib)
        rows.append(Row(f"decoder: {label}", place, what, base, ours,
                        f"{nbytes / ours.best / 1e6:.0f} MB/s"))
    return rows


MESH_PLAYBOOK = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n        msg: one task\n"


class Timed:
    """A run measured by wall time only (the mesh's work runs under the nodes' receptors)."""

    def __init__(self, seconds):
        self.seconds, self.user, self.system, self.maxrss_kib = seconds, None, None, None


class WallOnly:
    """A Measured for Timed runs: best wall time; no CPU or RSS."""

    def __init__(self, seconds):
        self.best, self.user, self.rss = min(seconds), None, None


def bench_runtimes(args, tmp, place, env, commands, checks):
    """The other runtimes next to upstream: the Node and Python packages' CLIs running
    `process` on the process stage's stream, and the Python package's Processor.run()
    in-process (AWX's handler; every event file kept) next to upstream's Processor."""
    import processor_api  # the sibling script: both Processors in a child interpreter each

    node_cli = os.path.join(REPO, "bindings", "js", "cli.mjs")
    python = os.path.join(REPO, "bindings", "python", ".venv", "bin", "python")
    if not (os.path.exists(os.path.join(REPO, "bindings", "js", "gen", "runnerwire_codec.js")) and os.access(python, os.X_OK)):
        print("runtimes: skipped (the packages are not built: run `make bindings`)", flush=True)
        return []
    stream = os.path.join(tmp, "result.stream")
    size = build_stream(stream, args.events)
    rows = []
    last = {}
    runner = lambda name, argv_of: process_runner(tmp, stream, env, commands, name, argv_of, last)
    for label, cli in (("Node", [shutil.which("node") or "node", node_cli]), ("Python", [python, "-m", "runnerwire"])):
        upstream = runner(f"upstream-{label}", lambda d: [args.upstream, "process", d, "--ident", IDENT])
        up, ours = interleave(args.runs, ("upstream", upstream),
                              (label, runner(label, lambda d, cli=cli: cli + ["process", d, "--ident", IDENT])))
        rows.append(Row(f"process ({label} CLI)", place, f"{args.events} events ({mb(size)})", up, ours))
    py = processor_api.pythons(args.venv_bin)
    for mode, what in (("awx", "AWX's handler"), ("files", "every file kept")):
        up_times, our_times = [], []
        for _ in range(args.runs):  # alternating: both sides see the same load
            t, up_seen = processor_api.measure("upstream", py["upstream"], stream, mode, tmp, 1)
            up_times.append(t)
            t, our_seen = processor_api.measure("runnerwire", py["runnerwire"], stream, mode, tmp, 1)
            our_times.append(t)
            print(f"  Processor.run() ({what}): upstream {up_times[-1]:.2f} s, runnerwire {our_times[-1]:.2f} s", flush=True)
        if up_seen != our_seen:
            raise BenchError(f"Processor.run() ({what}): upstream saw {up_seen}, runnerwire {our_seen}")
        rows.append(Row("Python Processor.run()", place, f"{args.events} events, {what}", WallOnly(up_times), WallOnly(our_times)))
    return rows


def bench_mesh(args, tmp, place, env, commands, checks):
    """Jobs through a real Receptor mesh, runnerwire's node next to upstream's."""
    receptor = os.path.join(REPO, "target", "receptor", "receptor")
    if not os.access(receptor, os.X_OK):
        print("mesh: skipped (no receptor: run `make receptor`)", flush=True)
        return []
    os.environ["RUNNERWIRE_BIN"] = args.runnerwire
    os.environ.setdefault("RUNNERWIRE_VENV", os.path.dirname(args.venv_bin_dir))
    sys.path.insert(0, os.path.join(REPO, "tests", "mesh"))
    try:
        import mesh as meshlib
    except ImportError as e:
        raise BenchError(f"the mesh harness needs receptorctl and cryptography ({e}): run `make receptor`")
    pdd = os.path.join(tmp, "pdd")
    os.makedirs(os.path.join(pdd, "project"))
    os.makedirs(os.path.join(pdd, "inventory"))
    with open(os.path.join(pdd, "project", "site.yml"), "w") as f:
        f.write(MESH_PLAYBOOK)
    with open(os.path.join(pdd, "inventory", "hosts"), "w") as f:
        f.write("localhost ansible_connection=local ansible_python_interpreter='{{ ansible_playbook_python }}'\n")
    job = subprocess.run([args.runnerwire, "transmit", pdd, "-p", "site.yml", "--ident", IDENT], capture_output=True, check=True).stdout

    def check(data, who):
        status = [obj for kind, _, obj in parse_stream(data) if kind == "status"]
        if not data.endswith(b'{"eof": true}\n') or not status or status[-1]["status"] != "successful":
            raise BenchError(f"{who}: the job's results did not end successfully: {data[-300:]!r}")

    rows = []
    with meshlib.Mesh(os.path.join(tmp, "mesh"), {"ours": "runnerwire", "theirs": "upstream"}) as mesh:
        ctl = meshlib.Controller(mesh)
        counter = iter(range(1, 1_000_000))

        def through_mesh(node):
            started = time.monotonic()
            unit = ctl.submit_job(node, meshlib.bytes_transmit(job), os.path.join(mesh[node].work, f"awx_{next(counter)}_bench"))
            try:
                data = ctl.read_results(unit, timeout=300)
            finally:
                ctl.release(unit)
            seconds = time.monotonic() - started
            check(data, f"mesh node {node}")
            return seconds

        def local(node):
            n = mesh[node]
            argv = ["ansible-runner", "worker", "--private-data-dir", os.path.join(n.work, f"local_{next(counter)}"), "--delete"]
            started = time.monotonic()
            out = subprocess.run(argv, input=job, capture_output=True, env=n.env(), cwd=n.dir)
            seconds = time.monotonic() - started
            check(out.stdout, f"local worker of node {node}")
            return seconds

        commands.append(f"mesh: work submit ansible-runner to node ours|theirs, params "
                        f"'--private-data-dir=<dir> --delete', payload: runnerwire transmit {pdd} -p site.yml --ident {IDENT}")
        runs = max(args.runs, 3)
        times = {(node, how): [] for node in ("theirs", "ours") for how in ("mesh", "local")}
        for i in range(runs):
            for node in ("theirs", "ours"):
                for how, fn in (("mesh", through_mesh), ("local", local)):
                    t = fn(node)
                    times[(node, how)].append(t)
                    label = "upstream" if node == "theirs" else "runnerwire"
                    print(f"  {label:<10} {how:<5} run {i + 1}/{runs}: {t:7.2f} s", flush=True)
        overhead = {node: min(times[(node, "mesh")]) - min(times[(node, "local")]) for node in ("theirs", "ours")}
        rows.append(Row("mesh: one job", place, "1-task job, submit to results read", WallOnly(times[("theirs", "mesh")]),
                        WallOnly(times[("ours", "mesh")]),
                        f"over a local worker run: {overhead['theirs']:+.2f} / {overhead['ours']:+.2f} s"))

        def at_once(node):
            started = time.monotonic()
            errors = []

            def one():
                try:
                    through_mesh(node)
                except BaseException as e:
                    errors.append(e)

            import threading
            threads = [threading.Thread(target=one) for _ in range(args.mesh_jobs)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if errors:
                raise errors[0]
            return time.monotonic() - started

        walls = {}
        for node in ("theirs", "ours"):
            walls[node] = at_once(node)
            label = "upstream" if node == "theirs" else "runnerwire"
            print(f"  {label:<10} {args.mesh_jobs} jobs at once: {walls[node]:7.2f} s "
                  f"({60 * args.mesh_jobs / walls[node]:.0f} jobs/min)", flush=True)
        rows.append(Row(f"mesh: {args.mesh_jobs} jobs at once", place, f"{args.mesh_jobs} 1-task jobs on one node",
                        WallOnly([walls["theirs"]]), WallOnly([walls["ours"]]),
                        f"{60 * args.mesh_jobs / walls['theirs']:.0f} / {60 * args.mesh_jobs / walls['ours']:.0f} jobs/min"))
        checks.append(f"mesh: every job's results ended with status successful and eof; "
                      f"{len(mesh.leftovers())} mesh processes before stopping (the receptors)")
    left = mesh.left_at_stop
    if left:
        raise BenchError(f"processes left after the mesh stopped: {left}")
    return rows


def ratio_text(up, ours):
    """ " (N.Nx less for runnerwire)" or " (N.Nx more ...)"; empty if either is not positive."""
    if up <= 0 or ours <= 0:
        return ""
    if up >= ours:
        return f" ({up / ours:.1f}x less for runnerwire)"
    return f" ({ours / up:.1f}x more for runnerwire)"


class Measured:
    """One tool's runs of one stage: best wall time, least user CPU, peak RSS (KiB)."""

    def __init__(self, results, rss):
        self.best = min(r.seconds for r in results)
        self.user = min(r.user for r in results)
        self.rss = max(rss(r) for r in results)


class Row:
    """A line of the table. upstream is None where upstream has no such command."""

    def __init__(self, stage, place, inp, upstream, ours, note=""):
        self.stage, self.place, self.inp = stage, place, inp
        self.upstream, self.ours, self.note = upstream, ours, note


def interleave(runs, up, ours, rss=lambda r: r.maxrss_kib, extra=None):
    """Alternates upstream and runnerwire runs; returns a Measured for each.

    extra(r), if given, returns more text for the per-run line."""
    up_res, our_res = [], []
    for i in range(runs):
        for (label, run), res in ((up, up_res), (ours, our_res)):
            r = run(i)
            res.append(r)
            print(f"  {label:<10} run {i + 1}/{runs}: {r.seconds:7.2f} s "
                  f"(cpu {r.user:.2f} s user, {r.system:.2f} s sys), peak RSS {mb(rss(r) * 1024)}"
                  + (extra(r) if extra else ""),
                  flush=True)
    return Measured(up_res, rss), Measured(our_res, rss)


# ---------------------------------------------------------------------------------------------


def mb(n):
    return f"{n / 1_000_000:.1f} MB"


def fmt_int(n):
    return "?" if n is None else f"{n:,}"


def resolve(path, default_rel):
    """A path given on the command line is relative to the cwd; the default, to the repo root."""
    if path is None:
        return os.path.join(REPO, default_rel)
    return os.path.abspath(path)


def filesystem_type(path):
    """The type of the filesystem `path` is on, from /proc/mounts (longest mount prefix)."""
    path = os.path.realpath(path)
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3:
                    mount = fields[1].replace("\\040", " ")
                    inside = path == mount or path.startswith(mount.rstrip("/") + "/")
                    if inside and len(mount) > len(best):
                        best, kind = mount, fields[2]
    except OSError:
        pass
    return kind


def places(args):
    """(label, directory) to run the filesystem-bound stages in: tmpfs and disk."""
    found = []
    if args.tmpfs_dir and filesystem_type(args.tmpfs_dir) == "tmpfs":
        found.append(("tmpfs", args.tmpfs_dir))
    disk = args.disk_dir or tempfile.gettempdir()
    if filesystem_type(disk) != "tmpfs":
        found.append((filesystem_type(disk), disk))
    if not found:
        found.append((filesystem_type(disk), disk))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per tool and stage; the best counts (default 3)")
    ap.add_argument("--events", type=int, default=20000, help="events in the process stream (default 20000)")
    ap.add_argument("--decoder-events", type=int, default=100000,
                    help="events in the decoder's stream (default 100000, ~106 MB: start-up is a small part)")
    ap.add_argument("--transmit-mb", type=float, default=50, help="size of the transmitted private data dir, MB (default 50)")
    ap.add_argument("--transmit-shapes", nargs="*", default=list(TRANSMIT_SHAPES), choices=list(TRANSMIT_SHAPES),
                    help="the other private data dir shapes transmit is timed on, on tmpfs (default: all)")
    ap.add_argument("--tasks", type=int, default=500, help="debug tasks in the worker playbook (default 500)")
    ap.add_argument("--mesh-jobs", type=int, default=8, help="jobs submitted at once to one mesh node (default 8)")
    ap.add_argument("--venv-bin", help="bin dir of the venv with upstream ansible-runner "
                    "(default $RUNNERWIRE_VENV/bin, else .venv/bin under the repo root)")
    ap.add_argument("--runnerwire", help="the runnerwire binary (default target/release/runnerwire under the repo root)")
    ap.add_argument("--only", nargs="+", choices=STAGES, help="run these stages only")
    ap.add_argument("--baseline", help="time this runnerwire binary in upstream's column instead of upstream's "
                    "ansible-runner (runnerwire takes upstream's command lines): one build against another, "
                    "e.g. `make bench-portable`'s native build against the portable one")
    ap.add_argument("--tmpfs-dir", default="/dev/shm", help="a tmpfs directory for the tmpfs rows (default /dev/shm)")
    ap.add_argument("--disk-dir", help="a disk-backed directory for the disk rows (default the temp dir, "
                    "when it is not tmpfs)")
    args = ap.parse_args()
    if args.runs < 1 or args.events < 1 or args.decoder_events < 1 or args.transmit_mb <= 0 or args.tasks < 1 or args.mesh_jobs < 1:
        ap.error("--runs, --events, --decoder-events, --transmit-mb, --tasks and --mesh-jobs must be positive")

    if args.venv_bin is None and os.environ.get("RUNNERWIRE_VENV"):
        args.venv_bin = os.path.join(os.environ["RUNNERWIRE_VENV"], "bin")
    venv_bin = resolve(args.venv_bin, os.path.join(".venv", "bin"))
    args.venv_bin_dir = venv_bin
    args.upstream = resolve(args.baseline, "") if args.baseline else os.path.join(venv_bin, "ansible-runner")
    if args.baseline and set(stages_of(args)) & {"runtimes", "mesh"}:
        ap.error("--baseline times CLI binaries: choose among start, process, transmit, worker and decoder with --only")
    args.runnerwire = resolve(args.runnerwire, os.path.join("target", "release", "runnerwire"))
    for what, path in (("upstream ansible-runner", args.upstream), ("runnerwire", args.runnerwire)):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench: {what} not found at {path} (run `make venv build`, or see --help)")

    env = dict(os.environ)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env.setdefault("LANG", "C.UTF-8")

    stages = stages_of(args)
    runs_in = places(args)
    default_place = runs_in[-1]

    def identity(path):
        st = os.stat(path)
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    binaries = {path: identity(path) for path in (args.upstream, args.runnerwire)}
    benches = {"start": bench_start, "process": bench_process, "transmit": bench_transmit, "decoder": bench_decoder,
               "runtimes": bench_runtimes, "mesh": bench_mesh}
    rows, commands, checks, failures, after = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="runnerwire-bench-") as tmp:
        floor = rss_floor(tmp, env)
        for stage in stages:
            for label, root in (runs_in if stage in BY_FILESYSTEM else runs_in[:1] if stage in ON_TMPFS else [default_place]):
                print(f"== {stage} ({label}: {root})", flush=True)
                work = tempfile.mkdtemp(prefix=f"runnerwire-bench-{stage}-", dir=root)
                try:
                    if stage == "worker":
                        found = bench_worker(args, work, label, env, commands, checks, after)
                    else:
                        found = benches[stage](args, work, label, env, commands, checks)
                    rows.extend(found if isinstance(found, list) else [found])
                except BenchError as e:
                    failures.append(f"{stage} ({label}): {e}")
                    print(f"{stage}: FAILED", flush=True)
                finally:
                    subprocess.run(["rm", "-rf", work], check=False)

    print()
    print("commands (as of the first run; each process and worker run gets a fresh empty directory):")
    for c in commands:
        print("  " + c)
    print()
    for c in checks:
        print(c)
    print()
    print(table(rows, args.runs, floor, ("baseline", "runnerwire") if args.baseline else ("upstream", "runnerwire")))
    for line in after:
        print(line)
    for path, ident in binaries.items():
        if os.path.exists(path) and identity(path) != ident:
            print(f"WARNING: {path} changed while the benchmark ran (rebuilt?); "
                  "its first run after the change may include one-time setup, re-run for clean numbers",
                  file=sys.stderr)
    if failures:
        print(file=sys.stderr)
        for f in failures:
            print("FAILED " + f, file=sys.stderr)
        sys.exit(1)


def stages_of(args):
    return [s for s in STAGES if not args.only or s in args.only]


def table(rows, runs, floor, names):
    """The Markdown table docs/benchmarks.md quotes; `names`: its two columns' tools."""
    header = ("stage", "on", "input", names[0], names[1], "speed-up", "user CPU up / ours",
              "peak RSS up / ours")
    lines = [header]
    for r in rows:
        up, ours = r.upstream, r.ours
        if up is None:
            lines.append((r.stage, r.place, r.inp, "n/a", f"{ours.best:.3f} s ({r.note})", "", "",
                          f"n/a / {mb(ours.rss * 1024)}"))
            continue
        if ours.user is None:  # wall time only (the mesh rows)
            lines.append((r.stage, r.place, r.inp, f"{up.best:.3f} s", f"{ours.best:.3f} s",
                          f"{up.best / ours.best:.1f}x", "n/a", f"n/a ({r.note})" if r.note else "n/a"))
            continue
        places = 3 if ours.user < 0.1 else 2
        user = f"{up.user:.{places}f} / {ours.user:.{places}f} s" + (f" ({up.user / ours.user:.0f}x)" if ours.user > 0 else "")
        rss = f"{mb(up.rss * 1024)} / {mb(ours.rss * 1024)}" + (f" ({r.note})" if r.note else "")
        lines.append((r.stage, r.place, r.inp, f"{up.best:.3f} s", f"{ours.best:.3f} s",
                      f"{up.best / ours.best:.1f}x", user, rss))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [f"best of {runs} run(s) (start and decoder: of at least 5; mesh: of at least 3); user CPU: the least over the runs; "
           f"peak RSS: the largest (the method's floor, /bin/true: {mb(floor * 1024)})", ""]
    for i, line in enumerate(lines):
        out.append("| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths)) + " |")
        if i == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


if __name__ == "__main__":
    main()
