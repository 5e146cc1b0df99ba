"""``interface.run(streamer="transmit")`` against upstream's, as AWX's controller calls it
(tests/transmit_calls.py run once with each package, on the same absolute private data dir):
the kwargs line byte for byte, the archive's entries (name, mode, content), the files
written into the private data dir; then the stages crossed: upstream's worker runs our job
stream and both processes read its results with the same handler calls, and upstream's
process reads the results of our worker (the CLI's, target/release/runnerwire, and
``interface.run(streamer="worker")``'s)."""

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

import test_runnerwire
from test_runnerwire import ROOT, UPSTREAM_VENV

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(ROOT, "demo", "private_data_dir")
NATIVE = os.path.join(ROOT, "target", "release", "runnerwire")
UPSTREAM_PYTHON = os.path.join(UPSTREAM_VENV, "bin", "python")


def split(stream):
    """The kwargs line, the archive's entries {name: (mode, bytes)} (None without one), the
    last line."""
    lines = stream.split(b"\n")
    if not lines[1].startswith(b'{"zipfile"'):
        return lines[0], None, lines[1]
    size = json.loads(lines[1])["zipfile"]
    rest = stream[len(lines[0]) + len(lines[1]) + 2:]
    # The base64 runs up to the eof line, with no newline between.
    end = rest.index(b'{"eof"')
    data = base64.b64decode(rest[:end])
    assert len(data) == size, (len(data), size)
    archive = zipfile.ZipFile(io.BytesIO(data))
    entries = {i.filename: (i.external_attr >> 16, archive.read(i)) for i in archive.infolist()}
    return lines[0], entries, rest[end:].rstrip(b"\n")


class TransmitAgainstUpstream(unittest.TestCase):
    run_both = test_runnerwire.ProcessorAgainstUpstream.run_both
    assert_same = test_runnerwire.ProcessorAgainstUpstream.assert_same

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="runnerwire-transmit-")
        self.addCleanup(shutil.rmtree, self.work, True)

    def transmit(self, which, case):
        """The stream and the private data dir's files after the call; the dir is the same
        absolute path for both packages."""
        pdd = os.path.join(self.work, "pdd")
        shutil.rmtree(pdd, ignore_errors=True)
        shutil.copytree(DEMO, pdd)
        out = os.path.join(self.work, f"{which}.stream")
        python = UPSTREAM_PYTHON if which == "upstream" else sys.executable
        run = subprocess.run([python, os.path.join(HERE, "transmit_calls.py"), which, pdd, out, case], capture_output=True)
        self.assertEqual(run.returncode, 0, run.stderr.decode()[-2000:])
        self.assertEqual(run.stdout.strip(), b"unstarted None")
        files = sorted(os.path.relpath(os.path.join(d, f), pdd) for d, _, fs in os.walk(pdd) for f in fs)
        with open(out, "rb") as f:
            return f.read(), files

    def test_the_stream_is_upstreams_for_each_call(self):
        for case in ["awx", "awx-key", "podman", "role", "kwargs-only"]:
            with self.subTest(case):
                up, up_files = self.transmit("upstream", case)
                ours, our_files = self.transmit("runnerwire", case)
                (up_kwargs, up_entries, up_end), (our_kwargs, our_entries, our_end) = split(up), split(ours)
                self.assertEqual(our_kwargs, up_kwargs)
                self.assertEqual(our_entries, up_entries)
                self.assertEqual((our_end, up_end), (b'{"eof": true}', b'{"eof": true}'))
                self.assertEqual(our_files, up_files)
                if case == "awx-key":
                    self.assertIn(b'"fact_cache_type": "jsonfile"', our_kwargs)
                    self.assertIn("env/envvars", our_entries)
                    self.assertIn("env/ssh_key", our_entries)

    def test_a_file_object_without_a_descriptor_gets_the_same_stream(self):
        # A real file is written through its descriptor, a BytesIO through its write().
        import runnerwire
        import transmit_calls

        # The same fresh private data dir for each (transmit writes env files into it).
        pdd = os.path.join(self.work, "pdd")
        path = os.path.join(self.work, "to-file.stream")
        shutil.copytree(DEMO, pdd)
        with open(path, "wb") as f:
            runnerwire.interface.run(streamer="transmit", _output=f, **transmit_calls.job_kwargs("awx-key", pdd))
        shutil.rmtree(pdd)
        shutil.copytree(DEMO, pdd)
        memory = io.BytesIO()
        runnerwire.interface.run(streamer="transmit", _output=memory, **transmit_calls.job_kwargs("awx-key", pdd))
        with open(path, "rb") as f:
            written = f.read()
        self.assertGreater(len(written), 1000)
        # Names, modes and contents (the env files' times are when each call wrote them).
        self.assertEqual(split(memory.getvalue()), split(written))

    def test_upstreams_worker_runs_our_job_and_upstreams_process_reads_our_workers_results(self):
        stream, _ = self.transmit("runnerwire", "awx")
        env = dict(os.environ, PATH=os.path.join(UPSTREAM_VENV, "bin") + ":" + os.environ.get("PATH", ""))
        self.assertTrue(os.path.exists(NATIVE), f"{NATIVE} is missing: run `make build`")
        workers = {"upstream-worker": os.path.join(UPSTREAM_VENV, "bin", "ansible-runner"), "our-worker": NATIVE}
        for name, worker in workers.items():
            with self.subTest(worker=name):
                results = subprocess.run([worker, "worker"], input=stream, capture_output=True, env=env, check=True).stdout
                path = os.path.join(self.work, f"{name}.results")
                with open(path, "wb") as f:
                    f.write(results)
                calls = self.run_both(path, "--awx")
                self.assert_same(calls)
                self.assertEqual(calls["upstream"][0]["result"][0], "successful")

    def test_our_python_worker_runs_the_job_as_the_cli_does_and_upstreams_process_reads_it(self):
        import runnerwire

        stream, _ = self.transmit("runnerwire", "awx")
        path = os.environ.get("PATH", "")
        os.environ["PATH"] = os.path.join(UPSTREAM_VENV, "bin") + ":" + path
        try:
            pdd = os.path.join(self.work, "worker-pdd")
            results = os.path.join(self.work, "python-worker.results")
            with open(results, "wb") as out:
                r = runnerwire.interface.run(streamer="worker", _input=io.BytesIO(stream), _output=out, private_data_dir=pdd,
                                             delete=True)
        finally:
            os.environ["PATH"] = path
        self.assertEqual((r.status, r.rc), ("successful", 0), getattr(r, "stderr", ""))
        self.assertFalse(os.path.exists(pdd), "delete=True left the private data dir")
        both = self.run_both(results, "--awx")
        self.assert_same(both)
        self.assertEqual(both["upstream"][0]["result"][0], "successful")
        self.assertTrue(any(c[0] == "event" for c in both["upstream"][0]["calls"]))

    def test_our_python_worker_runs_a_containerized_job_and_upstreams_process_reads_it(self):
        import runnerwire

        conf = os.environ.get("CONTAINERS_CONF") or os.path.join(ROOT, "tests", "container", "containers.conf")
        image = os.environ.get("RUNNERWIRE_TEST_IMAGE", "localhost/runnerwire-test-ee:1")
        present = subprocess.run(["podman", "image", "exists", image], env=dict(os.environ, CONTAINERS_CONF=conf), capture_output=True)
        self.assertEqual(present.returncode, 0, f"podman and {image} are needed: run `make test-image`")
        stream, _ = self.transmit("runnerwire", "podman")
        saved = os.environ.get("CONTAINERS_CONF")
        os.environ["CONTAINERS_CONF"] = conf
        try:
            results = os.path.join(self.work, "podman.results")
            with open(results, "wb") as out:
                r = runnerwire.interface.run(streamer="worker", _input=io.BytesIO(stream), _output=out)
        finally:
            if saved is None:
                del os.environ["CONTAINERS_CONF"]
            else:
                os.environ["CONTAINERS_CONF"] = saved
        self.assertEqual((r.status, r.rc), ("successful", 0), getattr(r, "stderr", ""))
        both = self.run_both(results, "--awx")
        self.assert_same(both)
        starting = [c[1] for c in both["upstream"][0]["calls"] if c[0] == "status" and c[1]["status"] == "starting"]
        self.assertEqual(starting[0]["command"][0], "podman")
        self.assertEqual(both["upstream"][0]["result"][0], "successful")

    def test_our_python_worker_is_canceled_by_its_cancel_callback(self):
        import threading
        import time

        import runnerwire

        pdd = os.path.join(self.work, "slow")
        os.makedirs(os.path.join(pdd, "project"))
        with open(os.path.join(pdd, "project", "slow.yml"), "w") as f:
            f.write("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - command: sleep 60\n")
        job = io.BytesIO()
        runnerwire.run(streamer="transmit", _output=job, private_data_dir=pdd, playbook="slow.yml",
                       inventory="localhost ansible_connection=local ansible_python_interpreter='{{ ansible_playbook_python }}'")
        started = time.monotonic()
        asked = threading.Event()
        threading.Timer(3.0, asked.set).start()
        path = os.environ.get("PATH", "")
        os.environ["PATH"] = os.path.join(UPSTREAM_VENV, "bin") + ":" + path
        try:
            results = os.path.join(self.work, "canceled.results")
            with open(results, "wb") as out:
                r = runnerwire.interface.run(streamer="worker", _input=io.BytesIO(job.getvalue()), _output=out,
                                             cancel_callback=asked.is_set)
        finally:
            os.environ["PATH"] = path
        self.assertLess(time.monotonic() - started, 30, "the job was not canceled")
        self.assertEqual(r.status, "canceled")
        statuses = []
        p = runnerwire.interface.run(streamer="process", _input=open(results, "rb"), private_data_dir=os.path.join(self.work, "canceled-out"),
                                     quiet=True, status_handler=lambda d, runner_config: statuses.append(d["status"]))
        p._input.close()
        self.assertEqual(statuses[-1], "canceled")


if __name__ == "__main__":
    unittest.main()
