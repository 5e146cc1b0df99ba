"""``process(resume=True)``, ``Processor(resume=True)`` and ``--resume``: a run cut part way,
fed the whole stream again, ends with an unbroken run's files and output; another stream's
files on disk are refused."""

import io
import os
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

import runnerwire

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def stream(name):
    with open(os.path.join(ROOT, "fixtures", name, "result.stream"), "rb") as f:
        return f.read()


def event_files(pdd):
    """Each event file's content and change time (a rewrite or chmod changes ctime)."""
    directory = os.path.join(pdd, "artifacts", "job", "job_events")
    out = {}
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        with open(path, "rb") as f:
            out[name] = (f.read(), os.lstat(path).st_ctime_ns)
    return out


def cut_inside_line(data, line):
    """Past the start of line ``line``, in its middle."""
    at = 0
    for _ in range(line):
        at = data.index(b"\n", at) + 1
    return at + 30


class Resume(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="runnerwire-resume-")
        self.addCleanup(self.dir.cleanup)

    def pdd(self, name):
        return os.path.join(self.dir.name, name)

    def run_process(self, data, pdd, **options):
        out = io.BytesIO()
        try:
            outcome = runnerwire.process(data, pdd, ident="job", output=out, **options)
        except runnerwire.StreamError as e:
            return e, out.getvalue()
        return outcome, out.getvalue()

    def test_process_resumes_a_cut_run_as_an_unbroken_one(self):
        data = stream("multi")
        unbroken, unbroken_out = self.run_process(data, self.pdd("unbroken"))
        pdd = self.pdd("cut")
        error, first_out = self.run_process(data[:cut_inside_line(data, 40)], pdd)
        self.assertIsInstance(error, runnerwire.StreamError)
        written = event_files(pdd)
        self.assertGreater(len(written), 5)

        outcome, second_out = self.run_process(data, pdd, resume=True)
        self.assertIsInstance(outcome, runnerwire.Outcome, str(outcome))
        self.assertEqual(outcome.exit_code, unbroken.exit_code)
        self.assertEqual(first_out + second_out, unbroken_out)
        after = event_files(pdd)
        for name, file in written.items():
            self.assertEqual(after[name], file, f"{name} was written again")
        want = {name: content for name, (content, _) in event_files(self.pdd("unbroken")).items()}
        self.assertEqual({name: content for name, (content, _) in after.items()}, want)

    def test_another_streams_files_are_refused_and_nothing_written(self):
        pdd = self.pdd("pdd")
        self.run_process(stream("simple"), pdd)
        before = event_files(pdd)
        error, out = self.run_process(stream("multi"), pdd, resume=True)
        self.assertIsInstance(error, runnerwire.StreamError)
        self.assertEqual(error.exit_code, runnerwire.EXIT.BAD_STREAM)
        self.assertRegex(str(error), r"^cannot-resume at byte \d+, line \d+: cannot resume: job_events/1-\S+\.json is on disk for counter 1")
        self.assertEqual(out, b"")
        self.assertEqual(event_files(pdd), before)

    def test_processor_resume_skips_the_events_already_written(self):
        data = stream("multi")
        pdd = self.pdd("pdd")
        self.run_process(data[:cut_inside_line(data, 40)], pdd)
        written = event_files(pdd)
        seen = []
        processor = runnerwire.Processor(_input=io.BytesIO(data), private_data_dir=pdd, ident="job", resume=True,
                                         event_handler=lambda e: seen.append(e["counter"]) or True)
        with redirect_stdout(io.StringIO()):
            status, _ = processor.run()
        self.assertEqual(status, "successful")
        # The handler gets only the events that were not on disk yet.
        total = len(event_files(self.pdd("pdd")))
        self.assertEqual(len(seen), total - len(written))
        self.assertFalse(set(seen) & {int(name.split("-")[0]) for name in written})
        after = event_files(pdd)
        for name, file in written.items():
            self.assertEqual(after[name], file, f"{name} was written again")

    def test_cli_resume(self):
        data = stream("simple")
        pdd = self.pdd("pdd")
        cmd = [sys.executable, "-m", "runnerwire", "process", pdd, "--ident", "job"]
        whole = subprocess.run([sys.executable, "-m", "runnerwire", "process", self.pdd("unbroken"), "--ident", "job"],
                               input=data, capture_output=True)
        cut = data.index(b'{"zipfile"') + 100
        first = subprocess.run(cmd, input=data[:cut], capture_output=True)
        self.assertEqual(first.returncode, 65)
        second = subprocess.run(cmd + ["--resume"], input=data, capture_output=True)
        self.assertEqual(second.returncode, whole.returncode, second.stderr)
        self.assertEqual(first.stdout + second.stdout, whole.stdout)
        other = subprocess.run(cmd + ["--resume"], input=stream("multi"), capture_output=True)
        self.assertEqual(other.returncode, 65)
        self.assertRegex(other.stderr.decode(), r"^runnerwire: cannot-resume at byte \d+, line \d+: cannot resume: .+\n$")


if __name__ == "__main__":
    unittest.main()
