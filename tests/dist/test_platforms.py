"""The release artifacts where AWX runs, older and other than this machine: Debian bullseye
roots (glibc 2.31, Python 3.9) for amd64 and arm64, made by tests/dist/setup-roots.sh; the
arm64 one runs under qemu-user. In each root, from target/dist:

- the CLI tarball of the root's architecture, unpacked: `transmit` of the demo's private data
  dir, and `process` of every recorded result stream in fixtures/; the aarch64 CLI's output,
  byte for byte, must be the x86_64 CLI's (stdout and every file written);
- the wheel of the root's architecture, installed with pip into a new venv (nothing else
  installed): `interface.run(streamer="process")` on fixtures/simple's result stream writes
  the event files upstream's process wrote.

Each command runs in its own mount namespace (unshare) with the root's /proc and /dev, so
nothing stays mounted. Needs root. Run: `make test-dist`.
"""

import os
import shutil
import subprocess
import tarfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("RUNNERWIRE_DIST", ROOT / "target" / "dist"))
ROOTS = Path(os.environ.get("RUNNERWIRE_ROOTS", ROOT / "target" / "roots"))
FIXTURES = ROOT / "fixtures"
ARCHES = {"amd64": "x86_64", "arm64": "aarch64"}
TIME_LIMIT = 600
# The recorded scenarios whose result streams every CLI processes.
SCENARIOS = sorted(p.parent.name for p in FIXTURES.glob("*/result.stream") if (p.parent / "args.json").exists())

IN_ROOT = r"""
set -eu
cd /opt/rw
out=/opt/rw/out && rm -rf "$out" && mkdir -p "$out"
cli/bin/runnerwire transmit demo -p site.yml --ident demo > "$out/transmit.stream"
for s in $SCENARIOS; do
    mkdir -p "$out/$s"
    code=0
    cli/bin/runnerwire process "$out/$s/tree" --ident "$s" < "fixtures/$s/result.stream" > "$out/$s/stdout" || code=$?
    echo "$code" > "$out/$s/exit"
done
python3 -m venv /opt/rw/venv
/opt/rw/venv/bin/pip install --quiet --no-index --disable-pip-version-check /opt/rw/*.whl
/opt/rw/venv/bin/python - <<'PY'
import platform, sys
from runnerwire import interface
with open("/opt/rw/fixtures/simple/result.stream", "rb") as f:
    r = interface.run(streamer="process", _input=f, private_data_dir="/opt/rw/out/wheel", ident="simple", quiet=True)
print(platform.machine(), platform.python_version(), platform.libc_ver()[1], r.status)
PY
"""


def in_root(root, script, **env):
    """Runs a shell script in the root, its own mounts; returns the completed process."""
    variables = " ".join(f"{k}='{v}'" for k, v in env.items())
    mount = (f"mount -t proc proc {root}/proc && mount --rbind /dev {root}/dev && "
             f"exec chroot {root} /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 {variables} /bin/sh -c \"$0\"")
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, script],
                          capture_output=True, text=True, timeout=TIME_LIMIT)


def one(pattern):
    found = sorted(DIST.glob(pattern))
    if len(found) != 1:
        raise AssertionError(f"expected one {pattern} in {DIST}, found {found}")
    return found[0]


def tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()}


def upstream_event_files():
    with tarfile.open(FIXTURES / "simple" / "process.tar") as t:
        return {os.path.basename(m.name): t.extractfile(m).read() for m in t.getmembers()
                if m.isfile() and "/job_events/" in "/" + m.name}


class Platforms(unittest.TestCase):
    """One run per root (installing and running under qemu is the slow part); the tests
    then compare what each left."""

    runs = {}

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise AssertionError("the platform tests chroot into Debian roots: run them as root")
        for debian, arch in ARCHES.items():
            root = ROOTS / f"bullseye-{debian}"
            if not (root / ".complete").exists():
                raise AssertionError(f"{root} is missing: tests/dist/setup-roots.sh makes it (make test-dist)")
            work = root / "opt" / "rw"
            shutil.rmtree(work, ignore_errors=True)
            (work / "cli").mkdir(parents=True)
            with tarfile.open(one(f"runnerwire-*-{arch}-unknown-linux-gnu.tar.gz")) as t:
                t.extractall(work / "cli")
            shutil.copy(one(f"runnerwire-*-manylinux_*_{arch}.whl"), work)
            # copytree keeps the files' times: both CLIs' transmit see the same demo.
            shutil.copytree(ROOT / "demo" / "private_data_dir", work / "demo")
            for s in SCENARIOS:
                (work / "fixtures" / s).mkdir(parents=True)
                shutil.copy(FIXTURES / s / "result.stream", work / "fixtures" / s)
            run = in_root(root, IN_ROOT, SCENARIOS=" ".join(SCENARIOS))
            cls.runs[arch] = (run, work / "out")

    def outcome(self, arch):
        run, out = self.runs[arch]
        self.assertEqual(run.returncode, 0, f"{arch}: {run.stderr[-3000:]}")
        return run.stdout, out

    def test_the_roots_are_the_old_platforms_they_claim(self):
        for arch in ARCHES.values():
            stdout, _ = self.outcome(arch)
            machine, python, glibc, status = stdout.split()[-4:]
            self.assertEqual((machine, python[:4], glibc, status), (arch, "3.9.", "2.31", "successful"), stdout)

    def test_the_aarch64_cli_writes_what_the_x86_64_cli_writes(self):
        _, x86 = self.outcome("x86_64")
        _, arm = self.outcome("aarch64")
        ours, theirs = tree(arm), tree(x86)
        self.assertEqual(sorted(ours), sorted(theirs))
        different = [name for name in theirs if ours[name] != theirs[name]]
        self.assertEqual(different, [])
        # Not vacuous: the demo's job went out, and every scenario was processed.
        self.assertGreater(len(theirs["transmit.stream"]), 1000)
        for s in SCENARIOS:
            self.assertTrue(any(name.startswith(f"{s}/tree/") for name in theirs), s)
        self.assertEqual(theirs["simple/exit"], b"0\n")

    def test_the_cli_in_each_root_writes_upstreams_event_files(self):
        for arch in ARCHES.values():
            _, out = self.outcome(arch)
            events = {p.name: p.read_bytes() for p in (out / "simple" / "tree" / "artifacts" / "simple" / "job_events").iterdir()}
            self.assertEqual(events, upstream_event_files(), arch)

    def test_the_wheel_in_each_root_processes_like_upstream(self):
        for arch in ARCHES.values():
            _, out = self.outcome(arch)
            events = {p.name: p.read_bytes() for p in (out / "wheel" / "artifacts" / "simple" / "job_events").iterdir()}
            self.assertEqual(events, upstream_event_files(), arch)


if __name__ == "__main__":
    unittest.main()
