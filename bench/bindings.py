#!/usr/bin/env python3
"""The component in each runtime, side by side, in one run: `make bench-bindings`.

On one synthetic result stream (fixtures/multi/result.stream's events repeated with fresh
counters and uuids up to --mb MB, then its final status, archive and eof), best of --runs:

  inspect   `inspect --json` to /dev/null by the native CLI, `node bindings/js/cli.mjs` and
            `python -m runnerwire` (the Python CLI reads the stream from the component's stdin)
  decode    the Node package's `frames()` over the bytes in memory (no process start)
  process   `process` into a fresh directory on /dev/shm (tmpfs) by each CLI

MB/s is stream bytes over wall time, start-up included for the CLIs. The outputs of the
three `inspect --json` runs must be byte-identical, or the script exits 1.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def make_stream(path, megabytes):
    with open(os.path.join(ROOT, "fixtures/multi/result.stream"), "rb") as f:
        lines = f.read().split(b"\n")
    head = [l for l in lines[:2]]
    events = [json.loads(l) for l in lines if l.startswith(b"{") and b'"uuid"' in l and b'"counter"' in l]
    tail_from = next(i for i, l in enumerate(lines) if l.startswith(b'{"zipfile"')) - 1
    rng = uuid.UUID(int=0)
    out = list(head)
    size, n = 0, 0
    while size < megabytes << 20:
        for event in events:
            n += 1
            event = dict(event, counter=n, uuid=str(uuid.UUID(int=(rng.int + n) << 64 | n, version=4)))
            line = json.dumps(event).encode()
            out.append(line)
            size += len(line) + 1
    out += lines[tail_from:]
    with open(path, "wb") as f:
        f.write(b"\n".join(out))
    return n


def best(runs, fn):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    native = os.path.join(ROOT, "target/release/runnerwire")
    node = ["node", os.path.join(ROOT, "bindings/js/cli.mjs")]
    python = [os.path.join(ROOT, "bindings/python/.venv/bin/python"), "-m", "runnerwire"]
    clis = [("native", [native]), ("node", node), ("python", python)]
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    work = tempfile.mkdtemp(prefix="runnerwire-bench-", dir=shm)
    try:
        stream = os.path.join(work, "result.stream")
        events = make_stream(stream, args.mb)
        mb = os.path.getsize(stream) / 1e6
        print(f"stream: {mb:.1f} MB, {events} events; best of {args.runs}; tmpfs: {bool(shm)}")
        print(f"| what | {' | '.join(name for name, _ in clis)} |")
        print("| --- | --- | --- | --- |")

        outputs = {}
        cells = []
        for name, cli in clis:
            out_path = os.path.join(work, f"inspect-{name}.jsonl")

            def run(cli=cli, out_path=out_path):
                with open(out_path, "wb") as out:
                    subprocess.run(cli + ["inspect", "--json", stream], stdout=out, check=True)

            seconds = best(args.runs, run)
            with open(out_path, "rb") as f:
                outputs[name] = f.read()
            cells.append(f"{mb / seconds:.0f} MB/s ({seconds:.2f} s)")
        print(f"| inspect --json | {' | '.join(cells)} |")

        script = ("import { frames } from %s; import { readFileSync } from 'node:fs';"
                  "const data = readFileSync(%s); const t = performance.now(); let n = 0;"
                  "for await (const f of frames(data)) n++; console.log((performance.now() - t) / 1000);"
                  ) % (json.dumps(os.path.join(ROOT, "bindings/js/index.mjs")), json.dumps(stream))
        decode = min(float(subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, check=True, text=True).stdout)
                     for _ in range(args.runs))
        print(f"| decode (frames, in memory) | - | {mb / decode:.0f} MB/s ({decode:.2f} s) | - |")

        cells = []
        for name, cli in clis:
            def run(cli=cli, name=name):
                target = os.path.join(work, f"process-{name}")
                shutil.rmtree(target, ignore_errors=True)
                with open(stream, "rb") as stdin:
                    subprocess.run(cli + ["process", target, "--ident", "bench"], stdin=stdin, stdout=subprocess.DEVNULL, check=True)

            seconds = best(args.runs, run)
            cells.append(f"{mb / seconds:.0f} MB/s ({seconds:.2f} s)")
        print(f"| process (tmpfs) | {' | '.join(cells)} |")

        if not outputs["native"] or any(out != outputs["native"] for out in outputs.values()):
            print("inspect --json outputs differ between runtimes", file=sys.stderr)
            return 1
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
