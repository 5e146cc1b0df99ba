"""The Python package against upstream ansible-runner (its Processor, run from the pinned
venv named by RUNNERWIRE_VENV) and against the recorded fixtures."""

import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

import runnerwire

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "fixtures")
HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM_VENV = os.environ.get("RUNNERWIRE_VENV", os.path.join(ROOT, ".venv"))


def recorded(name):
    return os.path.join(FIXTURES, name, "result.stream")


def tree(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                out[rel] = ("dir", oct(st.st_mode & 0o7777))
            else:
                with open(path, "rb") as f:
                    out[rel] = ("file", oct(st.st_mode & 0o7777), f.read())
    return out


class ProcessorAgainstUpstream(unittest.TestCase):
    def run_both(self, stream, *extra):
        results = {}
        for which, python in [("upstream", os.path.join(UPSTREAM_VENV, "bin", "python")), ("runnerwire", sys.executable)]:
            pdd = tempfile.mkdtemp(prefix=f"runnerwire-{which}-")
            run = subprocess.run([python, os.path.join(HERE, "processor_calls.py"), which, stream, pdd, *extra],
                                 capture_output=True, check=True)
            calls = json.loads(run.stderr.decode().strip().splitlines()[-1])
            results[which] = (calls, run.stdout, tree(os.path.join(pdd, "artifacts")), pdd)
        return results

    def assert_same(self, results):
        (up_calls, up_out, up_tree, up_pdd), (our_calls, our_out, our_tree, our_pdd) = results["upstream"], results["runnerwire"]
        # Handler calls name the artifact dir: the same relative to each private data dir.
        for calls, pdd in [(up_calls, up_pdd), (our_calls, our_pdd)]:
            for call in calls["calls"]:
                if call[0] == "artifacts":
                    call[1] = os.path.relpath(call[1], pdd)
        self.assertEqual(our_calls, up_calls)
        self.assertEqual(our_out, up_out)
        self.assertEqual(sorted(our_tree), sorted(up_tree))
        for path, node in up_tree.items():
            if node[0] == "file" and path.startswith("job_events/"):
                self.assertEqual(our_tree[path], node, path)

    def test_handlers_see_what_upstreams_see_for_each_recorded_job(self):
        for name in ["simple", "failing", "multi"]:
            with self.subTest(name):
                self.assert_same(self.run_both(recorded(name)))

    def test_an_event_handler_returning_false_keeps_the_file_from_being_written(self):
        results = self.run_both(recorded("multi"), "--skip-every", "3", "--quiet")
        self.assert_same(results)
        events = [p for p in results["runnerwire"][2] if p.startswith("job/job_events/")]
        skipped = [c for c in results["runnerwire"][0]["calls"] if c[0] == "event" and not c[4]]
        self.assertTrue(skipped)
        self.assertFalse(any(f"/{c[1]}-{c[2]}.json" in " ".join(events) for c in skipped))

    def test_a_bad_stream_ends_the_run_with_an_error_status_naming_the_offset(self):
        with open(recorded("simple"), "rb") as f:
            data = f.read()
        line_end = data.index(b"\n", 3000) + 1
        cut = data[:line_end] + b"not json\n"
        statuses = []
        processor = runnerwire.Processor(_input=io.BytesIO(cut), status_handler=lambda d, runner_config: statuses.append(d),
                                         private_data_dir=tempfile.mkdtemp(), quiet=True)
        self.assertEqual(processor.run(), ("error", None))
        self.assertEqual(statuses[-1]["status"], "error")
        self.assertEqual(statuses[-1]["job_explanation"],
                         "Failed to JSON parse a line from worker stream. Line with invalid JSON data: b'not json' "
                         f"(runnerwire: foreign-text at byte {line_end}, line 7: text that is not JSON: \"not json\")")


class EventDicts(unittest.TestCase):
    """The extension builds each event's dict itself (not with json.loads): it must be the
    very value json.loads gives, types, key order and oddities included."""

    LINES = [
        '{"uuid": "u1", "counter": 1, "stdout": "plain", "a": NaN, "b": Infinity, "c": -Infinity, "d": -0.0}',
        '{"uuid": "u2", "counter": 2, "big": 1180591620717411303424, "neg": -1180591620717411303424, "i64": 9223372036854775807,'
        ' "floats": [0.1, 1e-07, 1e+22, 2.5e-308, 1.7976931348623157e+308, 3.0, -1.5], "bools": [true, false, null, 0, 1]}',
        '{"uuid": "u3", "counter": 3, "stdout": "\\u001b[0;32mok: [web1]\\u001b[0m\\r\\n\\ttab \\"q\\" \\\\ \\/ \\b\\f",'
        ' "text": "caf\\u00e9 \\u4e2d \\ud83d\\ude00", "raw": "caf\u00e9 \U0001f600"}',
        '{"uuid": "u4", "counter": 4, "lone": "a\\ud800b", "deep": {"x": [[], {}, [{"y": {"z": [1, [2, [3]]]}}]]}}',
        '{"uuid": "u5", "counter": 5, "dup": 1, "k": "first", "dup": 2}',
        '{"uuid":"u6","counter":6,"event_data":{"host":"db1","res":{"msg":"spaced \\u0000 nul"}},"x" : [ 1 , 2 ] }',
    ]

    def test_each_event_dict_is_what_json_loads_gives(self):
        lines = ['{"status": "starting", "runner_ident": "job"}', *self.LINES, '{"eof": true}']
        stream = ("\n".join(lines) + "\n").encode("utf-8")
        seen = []
        processor = runnerwire.Processor(_input=io.BytesIO(stream), private_data_dir=tempfile.mkdtemp(), quiet=True,
                                         event_handler=lambda event: seen.append(event) or False)
        self.assertEqual(processor.run()[0], "starting")
        self.assertEqual(len(seen), len(self.LINES))
        for line, event in zip(self.LINES, seen):
            expected = json.loads(line)
            # repr tells NaN, -0.0, int from float and bool from int, and shows key order.
            self.assertEqual(repr(event), repr(expected), line)
            self.assertEqual([type(v) for v in event.values()], [type(v) for v in expected.values()], line)
        self.assertEqual(seen[1]["big"], 2**70)
        self.assertEqual(seen[3]["lone"], "a\ud800b")


class InterfaceRunProcess(unittest.TestCase):
    """``interface.run(streamer="process", ...)`` as AWX's controller calls it."""

    run_both = ProcessorAgainstUpstream.run_both
    assert_same = ProcessorAgainstUpstream.assert_same

    def test_awx_handlers_get_the_same_calls_with_the_same_dicts_and_no_event_file_is_written(self):
        for name in ["simple", "failing", "multi"]:
            with self.subTest(name):
                results = self.run_both(recorded(name), "--awx")
                self.assert_same(results)
                calls = results["runnerwire"][0]["calls"]
                self.assertTrue(any(c[0] == "event" for c in calls))
                self.assertFalse([p for p in results["runnerwire"][2] if "job_events/" in p])

    def test_run_and_run_async_return_the_processor_with_status_and_rc(self):
        finished = []
        with open(recorded("failing"), "rb") as f:
            r = runnerwire.run(streamer="process", _input=f, private_data_dir=tempfile.mkdtemp(), quiet=True,
                               finished_callback=finished.append)
        self.assertIsInstance(r, runnerwire.streaming.Processor)
        self.assertEqual((r.status, r.rc, finished), ("failed", None, [r]))
        with open(recorded("simple"), "rb") as f:
            thread, r = runnerwire.interface.run_async(streamer="process", _input=f, private_data_dir=tempfile.mkdtemp(), quiet=True)
            thread.join(60)
        self.assertEqual(r.status, "successful")

    def test_a_bad_stream_through_run_ends_with_an_error_status_naming_the_offset(self):
        statuses = []
        r = runnerwire.interface.run(streamer="process", _input=io.BytesIO(b'{"status": "running"}\n[1]\n'),
                                     private_data_dir=tempfile.mkdtemp(), quiet=True,
                                     status_handler=lambda d, runner_config: statuses.append(d))
        self.assertEqual((r.status, r.rc), ("error", None))
        self.assertEqual(statuses[-1]["job_explanation"],
                         "Failed to JSON parse a line from worker stream. Line with invalid JSON data: b'[1]' "
                         "(runnerwire: foreign-text at byte 22, line 2: JSON that is not a frame (not an object): \"[1]\")")

    def test_a_streamer_that_is_not_a_stage_is_refused(self):
        with self.assertRaisesRegex(NotImplementedError, "streaming stages only"):
            runnerwire.interface.run(streamer="bogus", private_data_dir=tempfile.mkdtemp())


class InspectAndValidate(unittest.TestCase):
    def test_each_damaged_case_is_found_where_the_fixtures_say(self):
        with open(os.path.join(FIXTURES, "damaged", "cases.json")) as f:
            cases = json.load(f)
        for case in cases:
            with self.subTest(case["name"]):
                path = os.path.join(FIXTURES, "damaged", case["name"] + ".stream")
                result = runnerwire.inspect(path, limits=case.get("limits"))
                problems = [json.loads(l)["problem"] for l in result.json_lines.splitlines() if b'"problem"' in l[:12]]
                self.assertTrue(any(p["kind"] == case["kind"] and p["offset"] == case["offset"] and p["line"] == case["line"] for p in problems), problems)
                self.assertEqual(result.summary["problems"], len(problems))
                self.assertRegex(runnerwire.validate(path, limits=case.get("limits")), r"^[a-z-]+ at byte \d+, line \d+: ")

    def test_sources_bytes_paths_and_file_objects_agree(self):
        path = recorded("multi")
        with open(path, "rb") as f:
            data = f.read()
        by_path = runnerwire.inspect(path)
        self.assertIsNone(by_path.first_problem)
        self.assertEqual(runnerwire.inspect(data).json_lines, by_path.json_lines)
        self.assertEqual(runnerwire.inspect(io.BytesIO(data)).json_lines, by_path.json_lines)
        self.assertEqual(by_path.summary["events"]["total"], sum(1 for l in data.splitlines() if b'"uuid"' in l and b'"counter"' in l))

    def test_the_memory_budget_is_enforced(self):
        with self.assertRaises(runnerwire.CodecError) as caught:
            runnerwire.inspect(recorded("simple"), sandbox={"max_memory_bytes": 1 << 20})
        self.assertIn("memory", str(caught.exception))


class NativeHost(unittest.TestCase):
    """The extension module is the CLI's host crate: the same component, sandbox and errors."""

    def test_a_stream_error_names_its_kind_and_byte_offset(self):
        with tempfile.TemporaryDirectory() as pdd:
            with self.assertRaises(runnerwire.StreamError) as caught:
                runnerwire.process(b"{\"status\": \"running\"}\n[1]\n", pdd, ident="job")
            error = caught.exception
            self.assertEqual((error.kind, error.problem, error.offset, error.line, error.exit_code), ("malformed", "foreign-text", 22, 2, 65))
            self.assertEqual(str(error), 'foreign-text at byte 22, line 2: JSON that is not a frame (not an object): "[1]"')

    def test_the_package_carries_no_component_file_and_no_wasmtime_py(self):
        here = os.path.dirname(runnerwire.__file__)
        self.assertFalse([n for n in os.listdir(here) if n.endswith((".wasm", ".cwasm"))])
        import importlib.util
        self.assertIsNone(importlib.util.find_spec("wasmtime"))

    def test_host_fs_results_lower_as_the_guest_expects(self):
        # A stream whose archive holds a link (kept as data): make-symlink, read-link and
        # set-mtime all cross; the link must land with its text and the run succeed.
        stream = os.path.join(FIXTURES, "hostile", "result", "link-outside-kept-as-data.stream")
        with tempfile.TemporaryDirectory() as pdd:
            outcome = runnerwire.process(stream, pdd, ident="job")
            links = {p: os.readlink(os.path.join(dirpath, p)) for dirpath, _, files in os.walk(pdd) for p in files
                     if os.path.islink(os.path.join(dirpath, p))}
            self.assertTrue(links, "no link was made")
            self.assertIsNotNone(outcome.status)


if __name__ == "__main__":
    unittest.main()
