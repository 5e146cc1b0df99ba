#!/usr/bin/env python3
"""The component in each runtime next to upstream ansible-runner, in one run: `make bench-bindings`.

Inputs are bench.py's: its 20,000-event result stream (fixtures/multi's events with fresh
counters and uuids, then its final status, archive and eof), and a two-line stream
(`successful`, `eof`) for start-up. Each command runs --runs times through bench.py's launcher
(wall time, peak RSS of the process as wait4 reports it); the best time and the largest RSS
are printed. Every run gets a fresh directory on /dev/shm (tmpfs) when there is one.

  start     `process` of the two-line stream with an empty environment (no HOME): the
            native CLI, `node bindings/js/cli.mjs`, `python -m runnerwire`, and upstream's
            `ansible-runner process`
  process   `process` of the large stream by the same four
  inspect   `inspect --json` of the large stream by the three runtimes (upstream has none);
            their outputs must be byte-identical, or the script exits 1
  decode    the Node package's `frames()` over the stream in memory (no process start)
  Python API  `runnerwire.streaming.Processor(...).run()` in-process next to upstream's,
            with AWX's handler (event_handler returns False) and with every file kept
            (bench/processor_api.py; the handler calls must agree, or the script exits 1);
            and transmit and worker through `interface.run` next to the CLI and upstream's
            package (bench/python_stages.py)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the sibling script: stream builder and measured runs)
import processor_api  # noqa: E402  (Processor.run() in-process, next to upstream's)
import python_stages  # noqa: E402  (transmit and worker through the Python API)

ROOT = bench.REPO


def measure(argv, stdin, work, name, runs, env):
    """Best seconds and largest peak RSS (MB) over `runs`, each in a fresh `work/name-N`."""
    best, rss = None, 0
    for i in range(runs):
        cwd = os.path.join(work, f"{name}-{i}")
        os.makedirs(cwd)
        args = [a.replace("{dir}", os.path.join(cwd, "out")) for a in argv]
        result = bench.run_measured(args, stdin, os.path.join(cwd, "stdout"), cwd, env, os.path.join(cwd, "stderr"))
        best = result.seconds if best is None else min(best, result.seconds)
        rss = max(rss, result.maxrss_kib)
        shutil.rmtree(os.path.join(cwd, "out"), ignore_errors=True)
    return best, rss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--venv-bin", default=os.path.join(ROOT, ".venv", "bin"), help="bin dir of upstream ansible-runner's venv")
    parser.add_argument("--transmit-mb", type=float, default=50, help="size of the private data dir the Python transmit rows send")
    parser.add_argument("--tasks", type=int, default=50, help="tasks of the job the Python worker rows run")
    args = parser.parse_args()

    native = [os.path.join(ROOT, "target/release/runnerwire")]
    node = [shutil.which("node") or "node", os.path.join(ROOT, "bindings/js/cli.mjs")]
    python = [os.path.join(ROOT, "bindings/python/.venv/bin/python"), "-m", "runnerwire"]
    upstream = [os.path.join(args.venv_bin, "ansible-runner")]
    tools = [("native", native), ("node", node), ("python", python), ("upstream", upstream)]
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="runnerwire-bench-bindings-", dir=shm)
    try:
        stream = os.path.join(work, "result.stream")
        size = bench.build_stream(stream, args.events)
        tiny = os.path.join(work, "tiny.stream")
        with open(tiny, "wb") as f:
            f.write(b'{"status": "successful"}\n{"eof": true}\n')
        mb = size / 1e6
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        print(f"stream: {mb:.1f} MB, {args.events} events; best of {args.runs}; tmpfs: {bool(shm)}")
        print("| what | native | Node | Python | upstream |")
        print("| --- | --- | --- | --- | --- |")

        cells = []
        for name, cli in tools:
            seconds, rss = measure(cli + ["process", "{dir}", "--ident", "s"], tiny, work, f"start-{name}", args.runs, {})
            cells.append(f"{seconds * 1000:.0f} ms, {rss:.0f} MB")
        print(f"| start (two-line stream, empty environment) | {' | '.join(cells)} |")

        cells = []
        for name, cli in tools:
            seconds, rss = measure(cli + ["process", "{dir}", "--ident", "b"], stream, work, f"process-{name}", args.runs, env)
            cells.append(f"{seconds:.2f} s ({mb / seconds:.0f} MB/s), {rss:.0f} MB")
        print(f"| process | {' | '.join(cells)} |")

        cells, outputs = [], {}
        for name, cli in tools[:3]:
            seconds, rss = measure(cli + ["inspect", "--json", stream], "/dev/null", work, f"inspect-{name}", args.runs, env)
            with open(os.path.join(work, f"inspect-{name}-0", "stdout"), "rb") as f:
                outputs[name] = f.read()
            cells.append(f"{seconds:.2f} s ({mb / seconds:.0f} MB/s), {rss:.0f} MB")
        print(f"| inspect --json | {' | '.join(cells)} | - |")

        script = ("import { frames } from %s; import { readFileSync } from 'node:fs';"
                  "const data = readFileSync(%s); const t = performance.now(); let n = 0;"
                  "for await (const f of frames(data)) n++; console.log((performance.now() - t) / 1000);"
                  ) % (json.dumps(os.path.join(ROOT, "bindings/js/index.mjs")), json.dumps(stream))
        decode = min(float(subprocess.run(node[:1] + ["--input-type=module", "-e", script], capture_output=True, check=True, text=True).stdout)
                     for _ in range(args.runs))
        print(f"| decode (`frames()`, in memory) | - | {mb / decode:.0f} MB/s | - | - |")

        if not outputs["native"] or any(out != outputs["native"] for out in outputs.values()):
            print("inspect --json outputs differ between runtimes", file=sys.stderr)
            return 1

        # The Python API in-process with AWX's handlers, next to upstream's Processor.
        print()
        print("| Python API | runnerwire | upstream | speed-up |")
        print("| --- | --- | --- | --- |")
        lines, agree = processor_api.rows(args.venv_bin, stream, args.events, work, args.runs)
        print("\n".join(lines))
        print()
        print("\n".join(python_stages.HEADER))
        stage_lines, stages_ok = python_stages.rows(args.venv_bin, work, args.runs, args.transmit_mb, args.tasks)
        print("\n".join(stage_lines))
        return 0 if agree and stages_ok else 1
    except bench.BenchError as e:
        print(e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
