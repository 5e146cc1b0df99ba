#!/usr/bin/env python3
"""Peak memory of `process` on hostile result streams, runnerwire next to upstream:
`make bench-hostile`.

Streams (built in a temp dir, each a valid status line, the payload, and eof):

  line      one 256 MiB event line (a `stdout` string of 256 MiB of "A"), newline-ended;
  bomb      a zipfile whose single entry inflates to 512 MiB of zeros (~0.5 MB deflated).

Each runs through upstream `ansible-runner process` and `runnerwire process` with default
limits, and runnerwire again with the limit in question raised (`--max-line-bytes 1 GiB`,
`--max-compression-ratio 2000`) to show what the sandbox's own memory cap does. Reported
per run: exit code, wall time, peak RSS (wait4's ru_maxrss through the same launcher as
bench.py, so the launching interpreter is not counted), bytes left in the target directory.
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "hostile"))
import bench  # noqa: E402  (the launcher and measuring code)
import build as hostile  # noqa: E402  (the corpus's zip writer and stream framing)

LINE_MIB = 256
BOMB_MIB = 512


def write_line_stream(path):
    with open(path, "wb") as out:
        out.write(b'{"status": "successful", "runner_ident": "job"}\n')
        out.write(b'{"uuid": "u1", "counter": 1, "event": "verbose", "stdout": "')
        block = b"A" * (1 << 20)
        for _ in range(LINE_MIB):
            out.write(block)
        out.write(b'"}\n{"eof": true}\n')


def write_bomb_stream(path):
    # The hostile corpus's own zip writer and framing (fixtures/hostile/build.py).
    data = hostile.zip_bytes([hostile.f("zeros", bytes(BOMB_MIB << 20), deflate=True)])
    with open(path, "wb") as out:
        out.write(hostile.result_stream(data))


def tree_bytes(root):
    total = 0
    for base, _, files in os.walk(root):
        for name in files:
            total += os.lstat(os.path.join(base, name)).st_size
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv-bin", default=os.path.join(bench.REPO, ".venv", "bin"))
    ap.add_argument("--runnerwire", default=os.path.join(bench.REPO, "target", "release", "runnerwire"))
    args = ap.parse_args()
    upstream = os.path.join(os.path.abspath(args.venv_bin), "ansible-runner")
    ours = os.path.abspath(args.runnerwire)
    env = dict(os.environ, LANG="C.UTF-8")
    rows = []
    with tempfile.TemporaryDirectory(prefix="runnerwire-hostile-") as tmp:
        floor = bench.rss_floor(tmp, env)
        streams = {"line": os.path.join(tmp, "line.stream"), "bomb": os.path.join(tmp, "bomb.stream")}
        print("building a %d MiB line and a %d MiB zip bomb ..." % (LINE_MIB, BOMB_MIB), flush=True)
        write_line_stream(streams["line"])
        write_bomb_stream(streams["bomb"])
        # Untimed warm-up: runnerwire compiles and caches its component on first use.
        warm = os.path.join(tmp, "warm")
        bench.run_measured([ours, "process", warm], os.path.join(bench.REPO, "fixtures", "simple", "result.stream"),
                           os.devnull, tmp, env, os.path.join(tmp, "stderr-warm"), check=False)
        runs = [
            ("line", "upstream", [upstream, "process"]),
            ("line", "runnerwire", [ours, "process"]),
            ("line", "runnerwire --max-line-bytes 1GiB", [ours, "process", "--max-line-bytes", str(1 << 30)]),
            ("bomb", "upstream", [upstream, "process"]),
            ("bomb", "runnerwire", [ours, "process"]),
            ("bomb", "runnerwire --max-compression-ratio 2000", [ours, "process", "--max-compression-ratio", "2000"]),
        ]
        for i, (stream, who, argv) in enumerate(runs):
            work = os.path.join(tmp, "work-%d" % i)
            os.mkdir(work)
            err = os.path.join(tmp, "stderr-%d" % i)
            r = bench.run_measured(argv + [work, "--ident", "job"], streams[stream], os.devnull, tmp, env, err, check=False)
            with open(err, "rb") as f:
                last = (f.read().decode("utf-8", "replace").strip().splitlines() or [""])[-1]
            rows.append((stream, who, str(r.code), "%.2f s" % r.seconds, bench.mb(r.maxrss_kib * 1024),
                         bench.mb(tree_bytes(work)), last[:110]))
            print("  ".join(rows[-1]), flush=True)
            subprocess.run(["rm", "-rf", work], check=False)
    print()
    print("peak RSS = wait4's ru_maxrss (method floor, /bin/true: %s)" % bench.mb(floor * 1024))
    header = ("stream", "tool", "exit", "time", "peak RSS", "left on disk", "stderr (last line)")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


if __name__ == "__main__":
    main()
