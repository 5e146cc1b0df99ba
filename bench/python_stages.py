#!/usr/bin/env python3
"""Transmit and worker through the Python API next to the native CLI and upstream's Python
API, in one run: rows of `make bench-bindings`.

Each measurement is a fresh process. The CLI is timed whole, from outside (bench.py's
launcher: wall time, peak RSS); the packages are timed in-process, `interface.run()` alone,
as a controller that has long imported its package sees them (the import is printed apart):
  transmit  `interface.run(streamer="transmit", playbook="site.yml")` of bench.py's
            generated private data dir (--transmit-mb MB) to a file: runnerwire's package,
            `runnerwire transmit`, and upstream's package; the three streams must carry
            the same archive entries, or the script exits 1
  worker    `interface.run(streamer="worker")` of a --tasks-task job (made once by the
            CLI's transmit): runnerwire's package, `runnerwire worker`, upstream's package;
            every result stream must end successful with one runner_on_ok per task
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

ROOT = bench.REPO
CLI = os.path.join(ROOT, "target/release/runnerwire")
OUR_PYTHON = os.path.join(ROOT, "bindings/python/.venv/bin/python")

# Each prints the seconds of its import and of its run() on its last line.
TRANSMIT = """
import sys, time
t = time.perf_counter()
from {package} import interface
imported = time.perf_counter()
with open(sys.argv[2], "wb") as out:
    interface.run(streamer="transmit", _output=out, private_data_dir=sys.argv[1], playbook="site.yml", ident="bench")
print(imported - t, time.perf_counter() - imported)
"""

WORKER = """
import sys, time
t = time.perf_counter()
from {package} import interface
imported = time.perf_counter()
with open(sys.argv[1], "rb") as job, open(sys.argv[2], "wb") as out:
    r = interface.run(streamer="worker", _input=job, _output=out, private_data_dir=sys.argv[3])
print(imported - t, time.perf_counter() - imported)
sys.exit(0 if r.status == "successful" else 1)
"""


def best(argv, stdin, work, name, runs, env):
    """Best seconds over `runs`: the run() the child prints, else the whole process; the
    largest peak RSS (MB), the import's seconds (or None) and the last run's directory."""
    seconds, rss, imported = None, 0, None
    for i in range(runs):
        cwd = os.path.join(work, f"{name}-{i}")
        os.makedirs(cwd)
        args = [a.replace("{dir}", cwd) for a in argv]
        out = os.path.join(cwd, "out")
        result = bench.run_measured(args, stdin, out, cwd, env, os.path.join(cwd, "stderr"))
        took = result.seconds
        if argv[0] != CLI:
            with open(out) as f:
                imported, took = (float(x) for x in f.read().split("\n")[-2].split())
        seconds = took if seconds is None else min(seconds, took)
        rss = max(rss, result.maxrss_kib)
    return seconds, rss / 1024, imported, os.path.join(work, f"{name}-{runs - 1}")


def rows(venv_bin, work, runs, transmit_mb, tasks):
    """The Markdown rows, and whether every output checked out."""
    upstream_python = os.path.join(venv_bin, "python")
    env = {"PATH": venv_bin + os.pathsep + os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", "HOME": work, "ANSIBLE_NOCOLOR": "1"}
    lines, ok = [], True

    pdd = os.path.join(work, "transmit-pdd")
    size, files = bench.build_pdd(pdd, transmit_mb)
    commands = {
        "python": [OUR_PYTHON, "-c", TRANSMIT.format(package="runnerwire"), pdd, "{dir}/out.stream"],
        "cli": [CLI, "transmit", pdd, "-p", "site.yml", "--ident", "bench"],
        "upstream": [upstream_python, "-c", TRANSMIT.format(package="ansible_runner"), pdd, "{dir}/out.stream"],
    }
    cells, members = {}, {}
    for name, argv in commands.items():
        seconds, rss, imported, cwd = best(argv, os.devnull, work, f"transmit-{name}", runs, env)
        stream = os.path.join(cwd, "out" if name == "cli" else "out.stream")
        members[name] = bench.check_transmit_output(stream, name)[2]
        cells[name] = (seconds, rss, imported)
    if not (sorted(members["python"] or []) == sorted(members["cli"] or []) == sorted(members["upstream"] or []) != []):
        print("transmit: the archives' entries differ between the three", file=sys.stderr)
        ok = False
    lines.append(row(f"interface.run(streamer=\"transmit\"), {size / 1e6:.0f} MB tree ({files} files)", cells))

    job_pdd = os.path.join(work, "worker-pdd")
    bench.build_worker_pdd(job_pdd, tasks)
    job = os.path.join(work, "job.stream")
    bench.run_measured([CLI, "transmit", job_pdd, "-p", "site.yml", "--ident", "bench"], os.devnull, job, work, env,
                       os.path.join(work, "transmit.stderr"))
    commands = {
        "python": [OUR_PYTHON, "-c", WORKER.format(package="runnerwire"), job, "{dir}/out.stream", "{dir}/pdd"],
        "cli": [CLI, "worker", "--private-data-dir", "{dir}/pdd"],
        "upstream": [upstream_python, "-c", WORKER.format(package="ansible_runner"), job, "{dir}/out.stream", "{dir}/pdd"],
    }
    cells = {}
    for name, argv in commands.items():
        seconds, rss, imported, cwd = best(argv, os.devnull if name != "cli" else job, work, f"worker-{name}", runs, env)
        results = os.path.join(cwd, "out" if name == "cli" else "out.stream")
        if bench.check_worker_output(results, name, tasks) != tasks:
            print(f"worker: {name}'s results do not hold {tasks} runner_on_ok events", file=sys.stderr)
            ok = False
        cells[name] = (seconds, rss, imported)
    lines.append(row(f"interface.run(streamer=\"worker\"), {tasks}-task job", cells))
    return lines, ok


def row(what, cells):
    (py, py_rss, py_import), (cli, cli_rss, _), (up, up_rss, up_import) = cells["python"], cells["cli"], cells["upstream"]
    return (f"| {what} | {py:.2f} s (import {py_import * 1000:.0f} ms), {py_rss:.0f} MB | {cli:.2f} s, {cli_rss:.0f} MB "
            f"| {up:.2f} s (import {up_import * 1000:.0f} ms), {up_rss:.0f} MB | {cli / py:.2f}x | {up / py:.1f}x |")


HEADER = ["| Python API | runnerwire package: run() | runnerwire CLI: whole process | upstream package: run() "
          "| CLI / package | upstream / package |",
          "| --- | --- | --- | --- | --- | --- |"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--transmit-mb", type=float, default=50)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--venv-bin", default=os.path.join(ROOT, ".venv", "bin"), help="bin dir of upstream ansible-runner's venv")
    args = parser.parse_args()
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="runnerwire-bench-python-stages-", dir=shm)
    try:
        print(f"best of {args.runs}; tmpfs: {bool(shm)}")
        print("\n".join(HEADER))
        lines, ok = rows(args.venv_bin, work, args.runs, args.transmit_mb, args.tasks)
        print("\n".join(lines))
        return 0 if ok else 1
    except bench.BenchError as e:
        print(e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
