"""One AWX-like script (awx_job.py: transmit, worker and process through
``interface.run``) run with upstream's package for every stage, with runnerwire's for every
stage, and mixed: the kwargs line, the archive, the handler calls and the files left must
be the same whichever package ran which stage, for an AWX-shaped job and a containerized
one."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from test_runnerwire import ROOT, UPSTREAM_VENV

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM_PYTHON = os.path.join(UPSTREAM_VENV, "bin", "python")
# ansible-core alone: what an execution node running runnerwire's worker needs.
CORE_VENV = os.environ.get("RUNNERWIRE_CORE_VENV", os.path.join(ROOT, ".venv-core"))
CONTAINERS_CONF = os.environ.get("CONTAINERS_CONF") or os.path.join(ROOT, "tests", "container", "containers.conf")
IMAGE = os.environ.get("RUNNERWIRE_TEST_IMAGE", "localhost/runnerwire-test-ee:1")

UPSTREAM, OURS = "upstream", "runnerwire"


class AwxJobWithEitherPackage(unittest.TestCase):
    def run_job(self, case, transmit, worker, process):
        work = tempfile.mkdtemp(prefix=f"runnerwire-awx-{case}-")
        self.addCleanup(shutil.rmtree, work, True)
        env = dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF)
        if (transmit, worker, process) == (OURS, OURS, OURS):
            # runnerwire alone: its own venv (no ansible_runner in it) and ansible-core's.
            python = sys.executable
            env["PATH"] = os.path.join(CORE_VENV, "bin") + ":" + env.get("PATH", "")
        else:
            # Both packages in one process: upstream's venv, and this package's directory.
            python = UPSTREAM_PYTHON
            env["PATH"] = os.path.join(UPSTREAM_VENV, "bin") + ":" + env.get("PATH", "")
            env["PYTHONPATH"] = os.path.dirname(HERE)
        run = subprocess.run([python, os.path.join(HERE, "awx_job.py"), case, work,
                              "--transmit", transmit, "--worker", worker, "--process", process],
                             capture_output=True, env=env, timeout=300)
        self.assertEqual(run.returncode, 0, run.stderr.decode()[-3000:])
        return json.loads(run.stdout.decode().strip().splitlines()[-1])

    def assert_mixes_match(self, case):
        reference = self.run_job(case, UPSTREAM, UPSTREAM, UPSTREAM)
        self.assertEqual(reference["worker"], "successful")
        self.assertEqual(reference["process"][0], "successful")
        self.assertGreater(len(reference["seen"]["events"]), 5)
        self.assertEqual(reference["event_files"], [], "AWX's event handler returns False: no event file")
        program = "podman" if case == "podman" else "ansible-playbook"
        self.assertEqual(reference["seen"]["status"][0], ["starting", program])
        for mix in [(OURS, OURS, OURS), (OURS, UPSTREAM, OURS), (UPSTREAM, OURS, UPSTREAM)]:
            with self.subTest(transmit=mix[0], worker=mix[1], process=mix[2]):
                got = self.run_job(case, *mix)
                for key in reference:
                    self.assertEqual(got[key], reference[key], key)

    def test_only_runnerwire_is_importable_in_its_own_venv(self):
        run = subprocess.run([sys.executable, "-c", "import ansible_runner"], capture_output=True)
        self.assertNotEqual(run.returncode, 0, "the runnerwire-only run would not prove anything")

    def test_an_awx_shaped_job(self):
        self.assert_mixes_match("awx")

    def test_a_containerized_job(self):
        present = subprocess.run(["podman", "image", "exists", IMAGE], env=dict(os.environ, CONTAINERS_CONF=CONTAINERS_CONF),
                                 capture_output=True)
        self.assertEqual(present.returncode, 0, f"podman and {IMAGE} are needed: run `make test-image`")
        self.assert_mixes_match("podman")


if __name__ == "__main__":
    unittest.main()
