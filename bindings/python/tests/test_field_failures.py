"""The failures AWX and Receptor users have reported, taken to the Python package as AWX's
controller code calls it (``Processor``/``interface.run(streamer=...)`` with upstream's
handlers, a socket or a file object as the input). The CLI's side of each is
tests/integration/field_failures.rs. Every run here has a time limit: a hang fails.

What each must do: stop at the eof frame whatever the input does after it; read any
chunking; and end a damaged stream with ``status: error`` and upstream's explanation first,
then the damage as ``validate`` names it, never ``successful``, with every event file left a
whole event.
"""

import io
import json
import os
import socket
import subprocess
import tempfile
import threading
import unittest

import runnerwire

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "fixtures")
RUNNERWIRE_BIN = os.path.join(ROOT, "bindings", "python", "runnerwire", "_bin", "runnerwire")
UPSTREAM_VENV = os.environ.get("RUNNERWIRE_VENV", os.path.join(ROOT, ".venv"))
TIME_LIMIT = 60


def fixture(name, stream="result.stream"):
    with open(os.path.join(FIXTURES, name, stream), "rb") as f:
        return f.read()


def lines_at(data):
    """(offset, line) of each line, newline kept."""
    out, at = [], 0
    for line in data.splitlines(keepends=True):
        out.append((at, line))
        at += len(line)
    return out


def is_event(line):
    return b'"uuid": "' in line and b'"counter": ' in line and not line.startswith(b'{"status"')


def validate_line(data):
    """What the CLI's validate prints for `data`, without the program name."""
    run = subprocess.run([RUNNERWIRE_BIN, "validate", "-"], input=data, capture_output=True, timeout=TIME_LIMIT)
    assert run.returncode == 65, run
    return run.stderr.decode().strip().removeprefix("runnerwire: ")


def within_limit(test, target):
    """Runs `target()` in a thread; fails the test if it is still running at the limit."""
    result = {}

    def call():
        try:
            result["value"] = target()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            result["error"] = e

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(TIME_LIMIT)
    test.assertFalse(thread.is_alive(), f"still running after {TIME_LIMIT} s: a hang")
    if "error" in result:
        raise result["error"]
    return result.get("value")


class Processed:
    """One Processor run over `source`, as AWX runs it: statuses and events seen."""

    def __init__(self, test, source):
        self.pdd = tempfile.mkdtemp(prefix="runnerwire-field-")
        self.statuses, self.events = [], []
        r = within_limit(test, lambda: runnerwire.interface.run(
            streamer="process", _input=source, private_data_dir=self.pdd, ident="job", quiet=True,
            status_handler=lambda data, runner_config: self.statuses.append(data),
            event_handler=lambda event: self.events.append(event) or True))
        self.status = r.status

    @property
    def explanation(self):
        return self.statuses[-1].get("job_explanation", "")

    def event_files(self):
        directory = os.path.join(self.pdd, "artifacts", "job", "job_events")
        out = {}
        for name in os.listdir(directory):
            with open(os.path.join(directory, name), "rb") as f:
                out[name] = f.read()
        return out


class ShortReads(unittest.TestCase):
    def test_a_socket_that_hands_over_a_byte_at_a_time_gives_what_one_read_gives(self):
        data = fixture("multi")
        whole = Processed(self, io.BytesIO(data))
        writer, reader = socket.socketpair()

        def trickle():
            for i in range(len(data)):
                writer.send(data[i:i + 1])
            writer.shutdown(socket.SHUT_WR)

        threading.Thread(target=trickle, daemon=True).start()
        slow = Processed(self, reader.makefile("rb"))
        writer.close()
        reader.close()
        self.assertEqual((slow.status, whole.status), ("successful", "successful"))
        self.assertEqual(slow.event_files(), whole.event_files())
        self.assertEqual(slow.statuses, whole.statuses)

    def test_a_raw_file_object_with_odd_reads_gives_what_one_read_gives(self):
        data = fixture("multi")

        class OddReads(io.RawIOBase):
            sizes, position, calls = (1, 7, 4093, 13), 0, 0

            def readable(self):
                return True

            def readinto(self, buffer):
                n = min(len(buffer), self.sizes[self.calls % len(self.sizes)], len(data) - self.position)
                buffer[:n] = data[self.position:self.position + n]
                self.position += n
                self.calls += 1
                return n

        odd = Processed(self, OddReads())
        self.assertEqual(odd.status, "successful")
        self.assertEqual(odd.event_files(), Processed(self, io.BytesIO(data)).event_files())


class InputLeftOpen(unittest.TestCase):
    """AWX's flow: the results come through a socket whose writer does not shut down."""

    def test_the_processor_stops_at_the_eof_frame(self):
        writer, reader = socket.socketpair()
        writer.sendall(fixture("simple"))
        done = Processed(self, reader.makefile("rb"))
        self.assertEqual(done.status, "successful")
        writer.close()
        reader.close()

    def test_the_worker_stops_reading_at_the_eof_frame(self):
        job_writer, job_reader = socket.socketpair()
        job_writer.sendall(fixture("simple", "job.stream"))
        out = io.BytesIO()
        env_path = os.environ.get("PATH", "")
        os.environ["PATH"] = os.path.join(UPSTREAM_VENV, "bin") + os.pathsep + env_path
        try:
            worker = runnerwire.streaming.Worker(_input=job_reader.makefile("rb"), _output=out,
                                                 private_data_dir=tempfile.mkdtemp(prefix="runnerwire-field-worker-"))
            status, rc = within_limit(self, worker.run)
        finally:
            os.environ["PATH"] = env_path
            job_writer.close()
            job_reader.close()
        self.assertEqual((status, rc), ("successful", 0), worker.stderr)
        self.assertTrue(out.getvalue().endswith(b'{"eof": true}\n'))


def long_stream(size):
    """The multi-host recording's events repeated past `size` bytes, counters renumbered."""
    lines = fixture("multi").splitlines(keepends=True)
    first = next(i for i, l in enumerate(lines) if l.startswith(b'{"uuid": "'))
    last = max(i for i, l in enumerate(lines) if l.startswith(b'{"uuid": "'))
    before = sum(1 for l in lines[:first] if b'"counter": ' in l)
    out = bytearray(b"".join(lines[:first]))
    i = 0
    while len(out) < size:
        event = json.loads(lines[first + i % (last + 1 - first)])
        event["uuid"] = f"{i:08x}-0000-4000-8000-{i:012x}"
        event["counter"] = before + i + 1
        out += json.dumps(event).encode() + b"\n"
        i += 1
    out += b"".join(lines[last + 1:])
    return bytes(out)


class DamagedStreams(unittest.TestCase):
    def assert_refused(self, run, data, upstream_words):
        self.assertEqual(run.status, "error")
        self.assertEqual(run.statuses[-1]["status"], "error")
        self.assertTrue(run.explanation.startswith(upstream_words), run.explanation)
        self.assertTrue(run.explanation.endswith(f"(runnerwire: {validate_line(data)})"), run.explanation)
        self.assertLess(len(run.explanation), 2000)
        whole_events = {l.rstrip(b"\n") for _, l in lines_at(data) if is_event(l)}
        for name, content in run.event_files().items():
            self.assertIn(content, whole_events, f"{name} is not a whole event")

    def test_a_stream_cut_at_ten_mebibytes(self):
        cut = 10 << 20
        data = long_stream(cut + (1 << 20))
        line_start = max(at for at, _ in lines_at(data) if at <= cut)
        mid_line = Processed(self, io.BytesIO(data[:cut]))
        self.assert_refused(mid_line, data[:cut], "Failed to JSON parse a line from worker stream.")
        self.assertIn("truncated-line at byte", mid_line.explanation)
        at_line = Processed(self, io.BytesIO(data[:line_start]))
        self.assert_refused(at_line, data[:line_start], "Unexpected empty line encountered during worker stream.")
        self.assertIn(f"missing-eof at byte {line_start}", at_line.explanation)
        events_before = sum(1 for _, l in lines_at(data[:line_start]) if is_event(l))
        self.assertEqual(len(at_line.event_files()), events_before)

    def test_two_events_glued_on_one_line(self):
        data = fixture("simple")
        at = [a for a, l in lines_at(data) if is_event(l)][2]
        glued = data[:at - 1] + data[at:]
        run = Processed(self, io.BytesIO(glued))
        self.assert_refused(run, glued, "Failed to JSON parse a line from worker stream.")
        self.assertIn(f"glued-lines at byte {at - 1}", run.explanation)

    def test_a_worker_restarted_mid_stream(self):
        data = fixture("simple")
        lines = lines_at(data)
        events = [i for i, (_, l) in enumerate(lines) if is_event(l)]
        first_run = data[:lines[events[3] + 1][0]]
        restarted = first_run + data
        run = Processed(self, io.BytesIO(restarted))
        self.assert_refused(run, restarted, "Refused a damaged worker stream")
        self.assertIn(f"counter-repeat at byte {len(first_run) + lines[events[0]][0]}", run.explanation)
        self.assertEqual(len(run.event_files()), 4)

    def test_text_that_is_not_json_is_quoted(self):
        data = fixture("simple")
        at = lines_at(data)[4][0]
        damaged = data[:at] + b"Traceback (most recent call last):\n  File \"worker.py\", line 1\n" + data[at:]
        run = Processed(self, io.BytesIO(damaged))
        self.assert_refused(run, damaged, "Failed to JSON parse a line from worker stream. Line with invalid JSON data: b'Traceback")
        self.assertIn('foreign-text at byte %d, line 5: text that is not JSON: "Traceback (most recent call last):"' % at, run.explanation)

    def test_a_reader_that_fails_part_way(self):
        data = fixture("simple")

        class Failing(io.RawIOBase):
            position = 0

            def readable(self):
                return True

            def readinto(self, buffer):
                if self.position >= 3000:
                    raise OSError("Connection reset by peer")
                n = min(len(buffer), 1000)
                buffer[:n] = data[self.position:self.position + n]
                self.position += n
                return n

        run = Processed(self, Failing())
        self.assertEqual(run.status, "error")
        self.assertEqual(run.explanation, "Failed to read from worker stream. Error: Connection reset by peer")


if __name__ == "__main__":
    unittest.main()
