"""Version skew: runnerwire's stages beside the ansible-runner releases still met on
controllers and execution nodes, 2.2, 2.3 and 2.4 (the last patch release of each, with
the ansible-core of its day; pinned in tests/version_skew/requirements-*.txt, 2.4.3 is the
project's own .venv). For each release R, the same private data dir goes:

  our transmit   -> R's worker    (R's worker runs what we send)
  R's transmit   -> our worker    (we run what R sends, with R's ansible-core)
  R's worker     -> our process   (we leave what R's process leaves)
  our worker     -> R's process   (R reads what we send back)
  an unknown kwarg -> both workers (what happens with a kwarg one side does not know)

compared with R's own pipeline (R's transmit -> R's worker). The matrix it prints is the
one in docs/differences.md ("Version skew"). Run: `make test-version-skew` (it prepares the
venvs under target/version-skew first).
"""

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("RUNNERWIRE_BIN", ROOT / "target" / "release" / "runnerwire"))
SKEW = Path(os.environ.get("RUNNERWIRE_VERSION_SKEW", ROOT / "target" / "version-skew"))
RELEASES = {
    "2.2.2": SKEW / "2.2.2",
    "2.3.8": SKEW / "2.3.8",
    "2.4.3": Path(os.environ.get("RUNNERWIRE_VENV", ROOT / ".venv")),
}
TIME_LIMIT = 120
MATRIX = []


def run(argv, stdin=b"", env_bin=None, cwd=None):
    env = {"PATH": f"{env_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": str(HOME), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "ANSIBLE_NOCOLOR": "1", "TZ": "UTC"}
    return subprocess.run([str(a) for a in argv], input=stdin, capture_output=True, env=env, cwd=cwd, timeout=TIME_LIMIT)


HOME = Path(tempfile.mkdtemp(prefix="runnerwire-version-skew-home-"))


def frames(stream):
    out = []
    for line in stream.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue  # the archive's base64 and the eof glued to it
        if isinstance(value, dict):
            out.append(value)
    return out


def skeleton(stream):
    """What the job did, as any release's events say it: (event, host, task) in order."""
    return [(f.get("event"), f.get("event_data", {}).get("host"), f.get("event_data", {}).get("task"))
            for f in frames(stream) if f.get("counter")]


def final_status(stream):
    statuses = [f["status"] for f in frames(stream) if "status" in f]
    return statuses[-1] if statuses else None


def tree(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = (oct(os.lstat(path).st_mode), f.read())
    return out


class Release:
    """One release's stages, and runnerwire's, on the simple fixture's private data dir."""

    def __init__(self, version, venv):
        self.version, self.bin = version, venv / "bin"
        self.work = Path(tempfile.mkdtemp(prefix=f"runnerwire-skew-{version}-"))
        with tarfile.open(ROOT / "fixtures" / "simple" / "pdd.tar") as t:
            t.extractall(self.work / "source", filter="fully_trusted")

    def transmit(self, ours):
        program = [BINARY] if ours else [self.bin / "ansible-runner"]
        done = run([*program, "transmit", self.work / "source", "-p", "site.yml", "--ident", "skew"], env_bin=self.bin)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout

    def worker(self, job, ours, name):
        program = [BINARY] if ours else [self.bin / "ansible-runner"]
        pdd = self.work / name
        return run([*program, "worker", "--private-data-dir", pdd], stdin=job, env_bin=self.bin)

    def process(self, stream, ours, name):
        program = [BINARY] if ours else [self.bin / "ansible-runner"]
        pdd = self.work / name
        done = run([*program, "process", pdd, "--ident", "skew"], stdin=stream, env_bin=self.bin)
        return done, pdd / "artifacts" / "skew"


def make_test(version, venv):
    def test(self):
        if not (venv / "bin" / "ansible-runner").exists():
            self.fail(f"ansible-runner {version} is not installed at {venv}: run `make version-skew`")
        r = Release(version, venv)
        row = {"release": version}
        reference = r.worker(r.transmit(ours=False), ours=False, name="reference")
        self.assertEqual(final_status(reference.stdout), "successful", reference.stderr.decode()[-2000:])

        theirs_runs_ours = r.worker(r.transmit(ours=True), ours=False, name="their-worker")
        self.assertTrue(theirs_runs_ours.stdout.endswith(b'{"eof": true}\n'), theirs_runs_ours.stderr.decode()[-2000:])
        self.assertEqual(final_status(theirs_runs_ours.stdout), "successful")
        self.assertEqual(skeleton(theirs_runs_ours.stdout), skeleton(reference.stdout))
        row["our transmit -> its worker"] = "runs, same events"

        ours_runs_theirs = r.worker(r.transmit(ours=False), ours=True, name="our-worker")
        self.assertEqual(ours_runs_theirs.returncode, 0, ours_runs_theirs.stderr.decode())
        self.assertEqual(final_status(ours_runs_theirs.stdout), "successful")
        self.assertEqual(skeleton(ours_runs_theirs.stdout), skeleton(reference.stdout))
        row["its transmit -> our worker"] = "runs, same events"

        (their_done, their_tree), (our_done, our_tree) = r.process(reference.stdout, False, "their-process"), r.process(reference.stdout, True, "our-process")
        self.assertEqual((their_done.returncode, our_done.returncode), (0, 0), our_done.stderr.decode())
        self.assertEqual(our_done.stdout, their_done.stdout)
        self.assertEqual(tree(our_tree), tree(their_tree))
        row["its worker -> our process"] = "the same files and output"

        done, artifacts = r.process(ours_runs_theirs.stdout, False, "their-process-of-ours")
        self.assertEqual(done.returncode, 0, done.stderr.decode())
        self.assertEqual((artifacts / "status").read_text(), "successful")
        self.assertEqual(len(os.listdir(artifacts / "job_events")), len(skeleton(ours_runs_theirs.stdout)))
        row["our worker -> its process"] = "reads it, successful"

        job = r.transmit(ours=True)
        kwargs_line, rest = job.split(b"\n", 1)
        kwargs = json.loads(kwargs_line)
        kwargs["kwargs"]["no_such_option"] = 1
        unknown = json.dumps(kwargs).encode() + b"\n" + rest
        theirs = r.worker(unknown, ours=False, name="their-unknown")
        self.assertNotEqual(theirs.returncode, 0)
        self.assertIn(b"unexpected keyword argument 'no_such_option'", theirs.stderr)
        self.assertNotIn(b'{"eof": true}', theirs.stdout, "upstream sends neither status nor eof")
        ours = r.worker(unknown, ours=True, name="our-unknown")
        self.assertEqual(ours.returncode, 65)
        self.assertEqual(frames(ours.stdout), [
            {"status": "error", "job_explanation": "Job kwargs that ansible-runner 2.4.3 does not take: no_such_option."},
            {"eof": True},
        ])
        row["unknown kwarg"] = "its worker: TypeError, no status, no eof; ours: error status + eof, exit 65"

        # Keepalives, as a worker sends them when asked (recorded from 2.4.3's; ours are the
        # same line): 2.2's process has no rule for them and writes one as an event file.
        keepalives = (ROOT / "fixtures" / "keepalive" / "result.stream").read_bytes()
        done, artifacts = r.process(keepalives, False, "their-keepalives")
        self.assertEqual(done.returncode, 0, done.stderr.decode())
        kept = "0-0.json" in os.listdir(artifacts / "job_events")
        self.assertEqual(kept, version == "2.2.2")
        row["keepalives -> its process"] = "written as job_events/0-0.json" if kept else "ignored"
        MATRIX.append(row)
        shutil.rmtree(r.work, ignore_errors=True)

    return test


class VersionSkew(unittest.TestCase):
    @classmethod
    def tearDownClass(cls):
        print("\nversion skew matrix:")
        for row in MATRIX:
            print("  " + "; ".join(f"{k}: {v}" for k, v in row.items()))


for _version, _venv in RELEASES.items():
    setattr(VersionSkew, "test_ansible_runner_" + _version.replace(".", "_"), make_test(_version, _venv))


if __name__ == "__main__":
    unittest.main(verbosity=2)
