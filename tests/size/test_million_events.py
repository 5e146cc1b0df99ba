"""A job of 1,000,000 events through `worker` -> `process` (the CLI) and through the
Python package's Processor as AWX drives it (an event handler that takes each event and
keeps no file). The job is generated: its program (upstream's `binary` kwarg) prints one
line per event to the job's terminal, so every line is a verbose event, as a chatty task's
output is.

Held: every stage ends successfully with every event accounted for; peak memory (the
kernel's figure for each process, from wait4 or getrusage) is bounded and does not grow
with the event count (the same job at 100,000 events is the yardstick); and the time per
event stays the same from start to end (each tenth of the events takes about as long as
any other). The figures it prints are the ones in docs/benchmarks.md ("A million events").

The streams go under target/; the million event files (4 GB of 4 KiB blocks) go to
/dev/shm when it has room for them, else beside the streams. Run: `make test-size` (after
`make bindings`).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from big_job import GENERATOR, count_files, remove_tree  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("RUNNERWIRE_BIN", ROOT / "target" / "release" / "runnerwire"))
PYTHON = Path(os.environ.get("RUNNERWIRE_PY", ROOT / "bindings" / "python" / ".venv" / "bin" / "python"))
EVENTS = int(os.environ.get("RUNNERWIRE_SIZE_EVENTS", "1000000"))
YARDSTICK = EVENTS // 10
# Memory: what the stage may hold at most, whatever the count, and how much more the full
# job may take than a tenth of it (`process` may queue up to 8 MiB of event files for its
# writer threads when the file system falls behind); growth with the count would be many
# times that. Peaks are the stages' own: this process never holds a directory listing,
# which Linux would carry through fork and exec into the next stage's figure.
BOUND_MB = 64
GROWTH_MB = 8
# Time: no tenth of the events may take more than this many times the median tenth (the
# machine is shared; a steady leak makes the last tenths many times slower).
SPREAD = 3.0

# The Processor in its own process, so its peak memory is its own: an AWX-like handler
# that counts events and times each tenth of them, and keeps no file.
PROCESSOR = """
import json, resource, sys, tempfile, time
import runnerwire
stream, events = sys.argv[1], int(sys.argv[2])
seen, marks, start = [0], [], time.monotonic()
def handler(event):
    seen[0] += 1
    if seen[0] % (events // 10) == 0:
        marks.append(time.monotonic() - start)
    return False
statuses = []
with open(stream, "rb") as f:
    r = runnerwire.interface.run(streamer="process", _input=f, private_data_dir=tempfile.mkdtemp(), ident="big", quiet=True,
                                 event_handler=handler, status_handler=lambda d, runner_config: statuses.append(d["status"]))
print(json.dumps({"status": r.status, "events": seen[0], "marks": marks,
                  "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def timed_run(argv, stdin_path, stdout_path=None, count_lines=None):
    """Runs argv with stdin from a file; returns (exit code, peak RSS in KiB, seconds at each
    tenth of `count_lines` output lines)."""
    with open(stdin_path, "rb") as stdin:
        out = open(stdout_path, "wb") if stdout_path else subprocess.PIPE
        proc = subprocess.Popen([str(a) for a in argv], stdin=stdin, stdout=out, stderr=subprocess.PIPE, env=ENV)
        marks, start = [], time.monotonic()
        if count_lines:
            step, seen = count_lines // 10, 0
            for _ in proc.stdout:
                seen += 1
                if seen % step == 0:
                    marks.append(time.monotonic() - start)
            proc.stdout.close()
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if stdout_path:
            out.close()
    return proc.returncode, usage.ru_maxrss, marks, stderr.decode(errors="replace")


ENV = dict(os.environ, LANG="C.UTF-8")


def tenths(marks):
    """How long each tenth took."""
    return [b - a for a, b in zip([0.0] + marks[:-1], marks)]


class MillionEvents(unittest.TestCase):
    figures = {}

    @classmethod
    def setUpClass(cls):
        cls.work = Path(tempfile.mkdtemp(prefix="size-", dir=ROOT / "target"))
        # The event files go to a tmpfs with room for them when there is one: the time per
        # event is the stages', not the disk's writeback stalls.
        shm = Path("/dev/shm")
        roomy = shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > EVENTS * 4096 * 3 // 2
        cls.files = Path(tempfile.mkdtemp(prefix="runnerwire-size-", dir=shm if roomy else cls.work))
        (cls.work / "pdd" / "project").mkdir(parents=True)
        (cls.work / "pdd" / "project" / "site.yml").write_text("- hosts: localhost\n")
        (cls.work / "processor.py").write_text(PROCESSOR)

    @classmethod
    def tearDownClass(cls):
        print("\nfigures:", json.dumps(cls.figures))
        remove_tree(cls.files)
        remove_tree(cls.work)

    def job(self, events):
        """The result stream of a generated job of `events` events, from our worker."""
        result = self.work / f"result-{events}.stream"
        if result.exists():
            return result
        generator = self.work / f"generate-{events}"
        generator.write_text(GENERATOR % events)
        generator.chmod(0o755)
        transmit = subprocess.run([str(BINARY), "transmit", str(self.work / "pdd"), "-p", "site.yml", "--ident", "big",
                                   "--binary", str(generator)], capture_output=True, check=True)
        job = self.work / f"job-{events}.stream"
        job.write_bytes(transmit.stdout)
        code, peak_kb, _, stderr = timed_run([BINARY, "worker", "--private-data-dir", self.work / f"worker-{events}"], job, result)
        self.assertEqual(code, 0, stderr)
        self.figures.setdefault(f"worker, {events} events", {})["peak_rss_mb"] = round(peak_kb / 1024, 1)
        return result

    def test_worker_and_process_cli(self):
        peaks = {}
        for events in (YARDSTICK, EVENTS):
            result = self.job(events)
            pdd = self.files / f"process-{events}"
            code, peak_kb, marks, stderr = timed_run([BINARY, "process", pdd, "--ident", "big"], result, count_lines=events)
            self.assertEqual(code, 0, stderr)
            self.assertEqual(count_files(pdd / "artifacts" / "big" / "job_events"), events)
            self.assertEqual((pdd / "artifacts" / "big" / "status").read_text(), "successful")
            peaks[events] = peak_kb / 1024
            self.figures[f"process (CLI), {events} events"] = {"peak_rss_mb": round(peak_kb / 1024, 1), "tenths_s": [round(t, 2) for t in tenths(marks)]}
            self.assert_steady(tenths(marks), f"process of {events} events")
            remove_tree(pdd)
        worker_peaks = {e: self.figures[f"worker, {e} events"]["peak_rss_mb"] for e in (YARDSTICK, EVENTS)}
        for stage, by_count in (("process", peaks), ("worker", worker_peaks)):
            self.assertLess(by_count[EVENTS], BOUND_MB, f"{stage}: {by_count}")
            self.assertLess(by_count[EVENTS], by_count[YARDSTICK] + GROWTH_MB, f"{stage} grows with the event count: {by_count}")

    def test_python_processor_as_awx_drives_it(self):
        peaks = {}
        for events in (YARDSTICK, EVENTS):
            done = subprocess.run([str(PYTHON), str(self.work / "processor.py"), str(self.job(events)), str(events)],
                                  capture_output=True, text=True, env=ENV)
            self.assertEqual(done.returncode, 0, done.stderr)
            report = json.loads(done.stdout.strip().splitlines()[-1])
            self.assertEqual((report["status"], report["events"]), ("successful", events))
            peaks[events] = report["peak_kb"] / 1024
            self.figures[f"Processor.run() (Python), {events} events"] = {"peak_rss_mb": round(peaks[events], 1),
                                                                        "tenths_s": [round(t, 2) for t in tenths(report["marks"])]}
            self.assert_steady(tenths(report["marks"]), f"the Processor on {events} events")
        self.assertLess(peaks[EVENTS], peaks[YARDSTICK] + GROWTH_MB, f"the Processor grows with the event count: {peaks}")

    def assert_steady(self, spans, what):
        self.assertEqual(len(spans), 10, what)
        median = sorted(spans)[5]
        self.assertLess(max(spans), SPREAD * median, f"{what}: a tenth of the events took {max(spans):.2f} s, the median {median:.2f} s: {spans}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
