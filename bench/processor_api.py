#!/usr/bin/env python3
"""Upstream's `streaming.Processor` and runnerwire's, in-process, in one run: the rows
`make bench-bindings` prints for the Python API.

Each measurement is one fresh Python process (upstream's venv for `ansible_runner`, the
bindings' venv for `runnerwire`) that imports the package, then times only
`Processor(...).run()` on bench.py's 20,000-event result stream (upstream's and ours
alternating, best of --runs each), quiet, with the handlers
AWX uses: `awx` returns False from `event_handler` (AWX stores events itself, so no event
file is written); `files` returns True (every event file kept). Both also count the calls
of a status and an artifacts handler; the counts must agree, or the script exits 1.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the sibling script: the stream builder)

ROOT = bench.REPO

CHILD = r"""
import json, sys, time
which, stream, pdd, mode = sys.argv[1:5]
if which == "upstream":
    from ansible_runner.streaming import Processor
else:
    from runnerwire.streaming import Processor
counts = {"events": 0, "status": [], "artifacts": 0}
keep = mode == "files"
def event_handler(event):
    counts["events"] += 1
    return keep
def status_handler(data, runner_config=None):
    counts["status"].append(data["status"])
def artifacts_handler(path):
    counts["artifacts"] += 1
with open(stream, "rb") as f:
    p = Processor(_input=f, private_data_dir=pdd, ident="bench", quiet=True, event_handler=event_handler,
                  status_handler=status_handler, artifacts_handler=artifacts_handler)
    t = time.perf_counter()
    status, rc = p.run()
    seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "status": status, "counts": counts}))
"""


def pythons(venv_bin):
    return {"upstream": os.path.join(venv_bin, "python"), "runnerwire": os.path.join(ROOT, "bindings/python/.venv/bin/python")}


def measure(which, python, stream, mode, work, runs):
    """Best seconds over `runs` (each in a fresh private data dir), and what the run saw."""
    best, seen = None, None
    for i in range(runs):
        pdd = os.path.join(work, f"{which}-{mode}-{i}")
        out = subprocess.run([python, "-c", CHILD, which, stream, pdd, mode], capture_output=True, check=True, text=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        files = len(os.listdir(os.path.join(pdd, "artifacts", "bench", "job_events")))
        shutil.rmtree(pdd, ignore_errors=True)
        best = result["seconds"] if best is None else min(best, result["seconds"])
        seen = (result["status"], result["counts"], files)
    return best, seen


def rows(venv_bin, stream, events, work, runs):
    """The Markdown rows, and whether both sides saw the same calls and wrote the same files."""
    lines, agree = [], True
    py = pythons(venv_bin)
    for mode, what in [("awx", "event_handler returns False (AWX)"), ("files", "every event file kept")]:
        # Alternating single runs: on a shared machine both sides see the same load.
        up = ours = None
        for _ in range(runs):
            t, up_seen = measure("upstream", py["upstream"], stream, mode, work, 1)
            up = t if up is None else min(up, t)
            t, our_seen = measure("runnerwire", py["runnerwire"], stream, mode, work, 1)
            ours = t if ours is None else min(ours, t)
        if up_seen != our_seen:
            print(f"Processor ({mode}): upstream saw {up_seen}, runnerwire {our_seen}", file=sys.stderr)
            agree = False
        lines.append(f"| Processor.run() in-process, {events} events, {what} | {ours:.2f} s | {up:.2f} s | {up / ours:.1f}x |")
    return lines, agree


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--venv-bin", default=os.path.join(ROOT, ".venv", "bin"), help="bin dir of upstream ansible-runner's venv")
    args = parser.parse_args()
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="runnerwire-bench-processor-", dir=shm)
    try:
        stream = os.path.join(work, "result.stream")
        bench.build_stream(stream, args.events)
        print(f"best of {args.runs}; tmpfs: {bool(shm)}")
        print("| what | runnerwire | upstream | speed-up |")
        print("| --- | --- | --- | --- |")
        lines, agree = rows(args.venv_bin, stream, args.events, work, args.runs)
        print("\n".join(lines))
        return 0 if agree else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
