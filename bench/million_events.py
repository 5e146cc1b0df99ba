#!/usr/bin/env python3
"""A job of a million events, upstream ansible-runner 2.4.3 and runnerwire side by side in
one run (`make bench-million`; standard library only).

The job is generated: its program (upstream's `binary` kwarg) prints one line per event to
the job's terminal, so each becomes a verbose event, as a chatty task's output does. Rows,
each one run per tool (a million events take minutes), upstream first:

- `worker` of the job (each tool's transmit sends it; the workers' result streams are
  checked to carry the same number of events);
- `process` of runnerwire's worker's result stream, event files to --files-dir (a tmpfs by
  default: a million files are 4 GB of 4 KiB blocks);
- `Processor.run()` in-process on the same stream with AWX's handler (takes each event,
  keeps no file), each package in its own Python process.

Per row: wall time, the ratio, and peak RSS (wait4's ru_maxrss for the CLIs, the child's own
getrusage for the Processor), printed as a Markdown table.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "size"))
from big_job import GENERATOR, count_files, remove_tree  # noqa: E402

PROCESSOR = r"""
import json, resource, sys, tempfile, time
which, stream = sys.argv[1:3]
if which == "upstream":
    from ansible_runner import interface
else:
    from runnerwire import interface
seen = [0]
def handler(event):
    seen[0] += 1
    return False
with open(stream, "rb") as f:
    t = time.perf_counter()
    r = interface.run(streamer="process", _input=f, private_data_dir=tempfile.mkdtemp(), ident="big", quiet=True,
                      event_handler=handler)
    seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "status": r.status, "events": seen[0],
                  "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def timed(argv, stdin_path, stdout_path, env):
    """(seconds, peak RSS in KiB, exit code) of one run, stdout to a file."""
    with open(stdin_path, "rb") as stdin, open(stdout_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        return time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def events_in(stream):
    """The verbose events of a result stream (the generated job makes no other)."""
    with open(stream, "rb") as f:
        return sum(1 for line in f if line.startswith(b'{"event": "verbose"'))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--venv-bin", default=os.path.join(REPO, ".venv", "bin"), help="bin dir of upstream's venv")
    ap.add_argument("--runnerwire", default=os.path.join(REPO, "target", "release", "runnerwire"))
    ap.add_argument("--python", default=os.path.join(REPO, "bindings", "python", ".venv", "bin", "python"),
                    help="a Python with the runnerwire package")
    ap.add_argument("--files-dir", default="/dev/shm", help="where process writes its event files")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="runnerwire-million-", dir=os.path.join(REPO, "target"))
    env = dict(os.environ, PATH=f"{args.venv_bin}:{os.environ.get('PATH', '')}", LANG="C.UTF-8")
    upstream = os.path.join(args.venv_bin, "ansible-runner")
    try:
        pdd = os.path.join(work, "pdd")
        os.makedirs(os.path.join(pdd, "project"))
        with open(os.path.join(pdd, "project", "site.yml"), "w") as f:
            f.write("- hosts: localhost\n")
        generator = os.path.join(work, "generate")
        with open(generator, "w") as f:
            f.write(GENERATOR % args.events)
        os.chmod(generator, 0o755)
        rows = []
        streams = {}
        for who, program in (("upstream", upstream), ("runnerwire", args.runnerwire)):
            job = os.path.join(work, f"job-{who}")
            with open(job, "wb") as out:
                subprocess.run([program, "transmit", pdd, "-p", "site.yml", "--ident", "big", "--binary", generator],
                               stdout=out, check=True, env=env)
            stream = os.path.join(work, f"result-{who}")
            seconds, peak, code = timed([program, "worker", "--private-data-dir", os.path.join(work, f"worker-{who}")], job, stream, env)
            if code != 0:
                sys.exit(f"{who}'s worker exited {code}")
            streams[who] = stream
            rows.append(("worker", who, seconds, peak))
        counts = {who: events_in(s) for who, s in streams.items()}
        if set(counts.values()) != {args.events}:
            sys.exit(f"the workers' streams differ in events: {counts}")
        stream = streams["runnerwire"]
        for who, program in (("upstream", upstream), ("runnerwire", args.runnerwire)):
            target = tempfile.mkdtemp(prefix="runnerwire-million-process-", dir=args.files_dir)
            try:
                seconds, peak, code = timed([program, "process", target, "--ident", "big"], stream, os.devnull, env)
                written = count_files(os.path.join(target, "artifacts", "big", "job_events"))
            finally:
                remove_tree(target)
            if code not in (0, 1) or written != args.events:
                sys.exit(f"{who}'s process exited {code} with {written} event files")
            rows.append(("process", who, seconds, peak))
        script = os.path.join(work, "processor.py")
        with open(script, "w") as f:
            f.write(PROCESSOR)
        for who, python in (("upstream", os.path.join(args.venv_bin, "python")), ("runnerwire", args.python)):
            done = subprocess.run([python, script, who, stream], capture_output=True, text=True, env=env, check=True)
            report = json.loads(done.stdout.strip().splitlines()[-1])
            if (report["status"], report["events"]) != ("successful", args.events):
                sys.exit(f"{who}'s Processor: {report}")
            rows.append(("Processor.run(), AWX's handler", who, report["seconds"], report["peak_kb"]))
    finally:
        remove_tree(work)

    print(f"\n{args.events:,} generated events, one run per tool, upstream first\n")
    print("| stage | upstream | runnerwire | speed-up | peak RSS up / ours |")
    print("| --- | --- | --- | --- | --- |")
    for stage in dict.fromkeys(r[0] for r in rows):
        (_, _, up_s, up_kb), (_, _, rw_s, rw_kb) = [r for r in rows if r[0] == stage]
        print(f"| {stage} | {up_s:.1f} s | {rw_s:.1f} s | {up_s / rw_s:.1f}x | {up_kb / 1024:.1f} MB / {rw_kb / 1024:.1f} MB |")


if __name__ == "__main__":
    main()
