"""The worker inside an execution environment, as AWX's container groups run it: the image's
command is `ansible-runner worker --private-data-dir=/runner`, the job stream goes to its
stdin and the results come from its stdout (AWX on Kubernetes; here podman run -i).

Two images built on the test image by tests/dist/build-ee-images.sh: one with upstream's
ansible-runner 2.4.3, one with the same plus the runnerwire wheel from target/dist, made to
answer as `ansible-runner` by `python3 -m runnerwire.alias`. Each job comes from upstream's
transmit; both images' results go through upstream's process, and what it leaves must be the
same: events (normalized: times, uuids, pids), artifact names, status and rc. A canceled job
(`podman stop`, which is what deleting the pod does) must leave complete results and nothing
running.

Run: `make test-dist` (needs root for podman, `make dist test-image venv`).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "mesh"))
from test_mesh import PLAYBOOK, final_status, normalized_events, stream_lines  # noqa: E402

VENV = Path(os.environ.get("RUNNERWIRE_VENV", ROOT / ".venv"))
UPSTREAM_IMAGE = "localhost/runnerwire-upstream-ee:1"
OUR_IMAGE = "localhost/runnerwire-ee:dist"
INVENTORY = "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"
AGENT = "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: ssh-add -l\n"
SLEEPER = "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Sleep\n      command: sleep 60\n"
TIME_LIMIT = 180
COMMAND = ["ansible-runner", "worker", "--private-data-dir=/runner"]


def podman(*args, **kwargs):
    return subprocess.run(["podman", *args], capture_output=True, timeout=TIME_LIMIT, **kwargs)


def make_pdd(parent, files):
    pdd = Path(parent) / "pdd"
    for name, text in {"inventory/hosts": INVENTORY, **files}.items():
        (pdd / name).parent.mkdir(parents=True, exist_ok=True)
        (pdd / name).write_text(text)
    return pdd


def upstream_transmit(pdd, ident, playbook):
    run = subprocess.run([VENV / "bin" / "ansible-runner", "transmit", pdd, "-p", playbook, "--ident", ident],
                         capture_output=True, timeout=TIME_LIMIT)
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    return run.stdout


def upstream_process(results, ident, parent):
    out = Path(parent) / "processed"
    run = subprocess.run([VENV / "bin" / "ansible-runner", "process", out, "--ident", ident],
                         input=results, capture_output=True, timeout=TIME_LIMIT)
    return run, out / "artifacts" / ident


def validate(results):
    runnerwire = ROOT / "target" / "release" / "runnerwire"
    return subprocess.run([runnerwire, "validate"], input=results, capture_output=True, timeout=TIME_LIMIT)


def leftovers(name):
    """Containers by this name, and host processes naming it (podman, conmon)."""
    containers = podman("ps", "-a", "--filter", f"name=^{name}$", "--format", "{{.Names}}").stdout.split()
    procs = subprocess.run(["pgrep", "-af", name], capture_output=True, text=True).stdout.splitlines()
    return containers + [p for p in procs if "pgrep" not in p]


class ExecutionEnvironment(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for image in (UPSTREAM_IMAGE, OUR_IMAGE):
            if podman("image", "exists", image).returncode != 0:
                raise AssertionError(f"image {image} is missing: tests/dist/build-ee-images.sh builds it (make test-dist)")

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="runnerwire-ee-")
        self.addCleanup(self.tmp.cleanup)

    def run_in(self, image, job, name):
        run = podman("run", "-i", "--rm", "--name", name, image, *COMMAND, input=job)
        return run.returncode, run.stdout, run.stderr.decode(errors="replace")

    def both(self, files, playbook, ident):
        pdd = make_pdd(self.tmp.name, files)
        job = upstream_transmit(pdd, ident, playbook)
        out = {}
        for who, image in (("ours", OUR_IMAGE), ("upstream", UPSTREAM_IMAGE)):
            code, results, err = self.run_in(image, job, f"runnerwire-ee-{who}-{ident}")
            self.assertEqual(code, 0, f"{who}: {err[-2000:]}")
            run, artifacts = upstream_process(results, ident, Path(self.tmp.name) / who)
            self.assertEqual(run.returncode, 0, f"upstream process on {who}'s results: {run.stderr[-2000:]}")
            out[who] = (results, artifacts)
        return out

    def assert_same_outcome(self, out):
        (ours, our_dir), (theirs, their_dir) = out["ours"], out["upstream"]
        literals = [("/runner", "<pdd>")]
        self.assertEqual(normalized_events(our_dir / "job_events", literals),
                         normalized_events(their_dir / "job_events", literals))
        self.assertEqual(sorted(p.name for p in our_dir.iterdir()), sorted(p.name for p in their_dir.iterdir()))
        for name in ("status", "rc"):
            self.assertEqual((our_dir / name).read_text(), (their_dir / name).read_text(), name)
        self.assertEqual(validate(ours).returncode, 0, validate(ours).stderr)

    def test_ansible_builder_takes_the_documented_definition(self):
        """packaging/ee/execution-environment.yml, as docs/execution-environments.md tells
        users to build it: ansible-builder writes a build context whose final stage installs
        the wheel it was given and links `ansible-runner` (building it needs the base image
        from its registry, which this machine does not reach)."""
        work = Path(self.tmp.name)
        shutil.copy(ROOT / "packaging" / "ee" / "execution-environment.yml", work)
        wheel = next((ROOT / "target" / "dist").glob(f"runnerwire-*-manylinux_*_{os.uname().machine}.whl"))
        shutil.copy(wheel, work)
        builder = ROOT / "target" / "packaging-venv" / "bin" / "ansible-builder"
        run = subprocess.run([builder, "create", "-f", "execution-environment.yml", "--output-filename", "Containerfile"],
                             cwd=work, capture_output=True, text=True, timeout=TIME_LIMIT)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        containerfile = (work / "context" / "Containerfile").read_text()
        final = containerfile[containerfile.rindex("FROM base AS final"):]
        self.assertIn("-m pip install --no-index --no-deps /tmp/runnerwire/*.whl", final)
        self.assertIn("-m runnerwire.alias", final)
        self.assertTrue((work / "context" / "_build" / "runnerwire" / wheel.name).is_file())
        self.assertIn("package_pip: ansible-runner==", (work / "execution-environment.yml").read_text())

    def test_the_image_answers_as_ansible_runner_with_upstreams_package_still_installed(self):
        run = podman("run", "--rm", OUR_IMAGE, "sh", "-c",
                     "command -v ansible-runner; readlink -f \"$(command -v ansible-runner)\"; "
                     "ansible-runner --version; python3 -c 'import ansible_runner, sys; print(ansible_runner.__file__)'")
        lines = run.stdout.decode().splitlines()
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(lines[0], "/usr/local/sbin/ansible-runner")
        self.assertTrue(lines[1].endswith("/runnerwire/_bin/runnerwire"), lines)
        self.assertTrue(lines[2].startswith("runnerwire "), lines)
        self.assertIn("/ansible_runner/__init__.py", lines[3])

    def test_a_job_gives_upstreams_events_and_artifacts(self):
        out = self.both({"project/site.yml": PLAYBOOK}, "site.yml", "ee-job")
        self.assert_same_outcome(out)
        self.assertEqual((out["ours"][1] / "status").read_text(), "successful")
        self.assertGreaterEqual(len(list((out["ours"][1] / "job_events").iterdir())), 10)

    def test_a_job_with_an_ssh_key_has_it_in_the_agent(self):
        keys = Path(self.tmp.name) / "keys"
        keys.mkdir()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keys / "id"], check=True)
        fingerprint = subprocess.run(["ssh-keygen", "-lf", keys / "id"], capture_output=True, text=True).stdout.split()[1]
        out = self.both({"project/agent.yml": AGENT, "env/ssh_key": (keys / "id").read_text()}, "agent.yml", "ee-key")
        self.assert_same_outcome(out)
        for who in ("ours", "upstream"):
            self.assertIn(fingerprint.encode(), out[who][0], f"{who}: the agent did not hold the key")

    def cancel_in(self, image, job, name):
        """Runs the sleeper, stops the container once the sleep task has started; the results."""
        with tempfile.TemporaryFile() as err, subprocess.Popen(
                ["podman", "run", "-i", "--rm", "--name", name, image, *COMMAND],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err) as proc:
            feeder = threading.Thread(target=lambda: (proc.stdin.write(job), proc.stdin.close()))
            feeder.start()
            results = bytearray()
            started = time.monotonic()
            while b'"runner_on_start"' not in results:
                chunk = proc.stdout.read1(1 << 16)
                if not chunk or time.monotonic() - started > 60:
                    proc.kill()
                    err.seek(0)
                    raise AssertionError(f"{name}: the sleep task never started: {bytes(results[-500:])} {err.read()[-2000:]}")
                results += chunk
            stopped = time.monotonic()
            podman("stop", "-t", "10", name)
            results += proc.stdout.read()
            proc.wait(timeout=60)
            feeder.join()
        return bytes(results), time.monotonic() - stopped

    def test_a_canceled_job_ends_with_complete_results_and_nothing_running(self):
        pdd = make_pdd(self.tmp.name, {"project/sleep.yml": SLEEPER})
        job = upstream_transmit(pdd, "ee-cancel", "sleep.yml")
        results, took = self.cancel_in(OUR_IMAGE, job, "runnerwire-ee-cancel-ours")
        self.assertLess(took, 9, "the worker did not end on SIGTERM; podman had to kill it")
        check = validate(results)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertEqual(final_status(results), "canceled")
        self.assertEqual(stream_lines(results)[-1], {"eof": True})
        run, artifacts = upstream_process(results, "ee-cancel", Path(self.tmp.name) / "ours")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual((artifacts / "status").read_text(), "canceled")
        self.assertEqual(leftovers("runnerwire-ee-cancel-ours"), [])
        # Upstream's worker, run the same way, for the record (docs/execution-environments.md).
        theirs, their_took = self.cancel_in(UPSTREAM_IMAGE, job, "runnerwire-ee-cancel-upstream")
        their_check = validate(theirs)
        their_status = final_status(theirs) if their_check.returncode == 0 else their_check.stderr.decode().strip()
        print(f"\ncancel: ours ended {took:.1f}s after podman stop with status canceled; upstream's "
              f"{their_took:.1f}s after, with {their_status}", file=sys.stderr)
        self.assertEqual(their_status, "canceled", "upstream's worker under dumb-init ends canceled too")
        self.assertEqual(leftovers("runnerwire-ee-cancel-upstream"), [])


if __name__ == "__main__":
    unittest.main()
