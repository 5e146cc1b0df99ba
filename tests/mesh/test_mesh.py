"""runnerwire as the work command of a real Receptor mesh, driven as AWX drives it.

One mesh on loopback for the whole module (tests/mesh/mesh.py): a controller, two execution
nodes running runnerwire as `ansible-runner` (rw1, rw2) and one running upstream's
ansible-runner 2.4.3 (up). Jobs go in through the controller's control socket with AWX's
client (receptorctl), as awx/main/tasks/receptor.py sends them; their results come back
through `work results` into upstream's process (AWX's own reader) and `runnerwire process`.
Every test ends with nothing of its jobs left running.

Run: `make test-mesh` (needs `make build core-venv receptor`).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mesh as meshlib  # noqa: E402
from mesh import Controller, Mesh, runnerwire_transmit, upstream_transmit, wait_for  # noqa: E402

RUNNERWIRE = str(meshlib.RUNNERWIRE)
MESH = None
CTL = None
ROOT = None
STATUS_AT_START = {}

INVENTORY = "localhost ansible_connection=local ansible_python_interpreter='{{ ansible_playbook_python }}'\n"
PLAYBOOK = """- name: mesh job
  hosts: all
  gather_facts: false
  tasks:
    - name: Say hello
      ansible.builtin.debug:
        msg: "hello from {{ inventory_hostname }}"
    - name: Run a command
      ansible.builtin.command: echo through the mesh
      changed_when: false
    - name: Loop
      ansible.builtin.debug:
        msg: "item {{ item }}"
      loop: [one, two, three]
"""


def sleeper(seconds, after=""):
    """A playbook whose `sleep <seconds>` marks its processes (seconds unique per test)."""
    return (
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n        msg: before\n"
        f"    - ansible.builtin.command: sleep {seconds}\n      changed_when: false\n"
        "    - ansible.builtin.debug:\n        msg: after\n" + after
    )


def setUpModule():
    global MESH, CTL, ROOT
    base = os.environ.get("TEST_TMPDIR") or ("/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    ROOT = Path(tempfile.mkdtemp(prefix="runnerwire-mesh-", dir=base))
    MESH = Mesh(ROOT / "mesh", {"rw1": "runnerwire", "rw2": "runnerwire", "up": "upstream"})
    started = time.monotonic()
    MESH.__enter__()
    print(f"\nmesh up in {time.monotonic() - started:.1f} s at {MESH.root}", file=sys.stderr)
    CTL = Controller(MESH)
    # What the controller knows of the nodes before any fault: after a restart receptor only
    # learns them again from their next periodic advertisement (every 60 s).
    STATUS_AT_START.update(MESH.controller.command("status"))


def tearDownModule():
    if MESH is None:
        return
    left = MESH.stop()
    if os.environ.get("RUNNERWIRE_KEEP_MESH"):
        print(f"mesh kept at {ROOT}", file=sys.stderr)
    else:
        shutil.rmtree(ROOT, ignore_errors=True)
    assert not left, f"processes left after the mesh stopped: {left}"


# --- private data dirs and streams -------------------------------------------------------


def make_pdd(name, playbook=PLAYBOOK, files=()):
    pdd = ROOT / "src" / f"{name}-{uuid.uuid4().hex[:6]}"
    (pdd / "project").mkdir(parents=True)
    (pdd / "inventory").mkdir()
    (pdd / "project/site.yml").write_text(playbook)
    (pdd / "inventory/hosts").write_text(INVENTORY)
    for rel, text in files:
        (pdd / rel).parent.mkdir(parents=True, exist_ok=True)
        (pdd / rel).write_text(text)
    return pdd


def ours_transmit(pdd, ident, *extra):
    return runnerwire_transmit(pdd, "-p", "site.yml", "--ident", ident, *extra)


def theirs_transmit(pdd, ident, **extra):
    return upstream_transmit(pdd, playbook="site.yml", ident=ident, **extra)


def node_pdd(node, n):
    """Where a job's private data dir goes on the node: AWX's awx_<job id>_<random> name."""
    return MESH[node].work / f"awx_{n}_{uuid.uuid4().hex[:8]}"


def stream_lines(data):
    """The JSON lines of a result stream, the archive skipped."""
    out, i = [], 0
    while i < len(data):
        end = data.find(b"\n", i)
        end = len(data) if end < 0 else end
        line = data[i:end]
        i = end + 1
        if not line.strip():
            continue
        value = json.loads(line)
        out.append(value)
        if "zipfile" in value:
            # The base64 text follows; the next line starts right after it.
            i += (value["zipfile"] + 2) // 3 * 4
    return out


def final_status(data):
    return [line for line in stream_lines(data) if "status" in line][-1]["status"]


def validate(data):
    proc = subprocess.run([RUNNERWIRE, "validate"], input=data, capture_output=True)
    return proc.returncode, proc.stderr.decode(errors="replace")


# --- normalization (the patterns of host/src/conformance/normalize.rs, for event files) ----

NORMALIZE = [
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00)?", "<time>"),  # Python drops a zero fraction
    (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+", "<time>"),
    (r"\d+:\d{2}:\d{2}\.\d{6}", "<delta>"),
    (r'"(pid|ansible_pid)": \d+', r'"\1": <pid>'),
    (r'"duration": [0-9.e-]+', '"duration": <duration>'),
    (r"awx_display|runnerwire_display", "<callback>"),
    (r'"(executable|ansible_playbook_python)": "[^"]*"', r'"\1": "<python>"'),
]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalized_events(job_events_dir, literals):
    """The job's event files in counter order, as normalized text."""
    files = sorted(Path(job_events_dir).iterdir(), key=lambda p: int(p.name.split("-", 1)[0]))
    seen = {}
    out = []
    for f in files:
        text = f.read_text()
        for literal, placeholder in literals:
            text = text.replace(str(literal), placeholder)
        text = UUID.sub(lambda m: f"<uuid{seen.setdefault(m.group(0), len(seen))}>", text)
        for pattern, replacement in NORMALIZE:
            text = re.sub(pattern, replacement, text)
        out.append(text)
    return out


def tree(root):
    """{relative path: bytes} of the files under root."""
    root = Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- running jobs -------------------------------------------------------------------------


def pump(src, proc):
    """Copies the results stream into a process's stdin (AWX hands the socket file over)."""
    try:
        while chunk := src.read1(1 << 16):
            proc.stdin.write(chunk)
    finally:
        proc.stdin.close()


def upstream_process(f, pdd, ident):
    import ansible_runner

    return ansible_runner.interface.run(streamer="process", quiet=True, _input=f, private_data_dir=str(pdd), ident=ident)


def run_job(node, transmit, ident, n, timeout=120):
    """Submits a job as AWX does; while it runs, upstream's process and `runnerwire process`
    each read its results from `work results`; then the raw stream is read once more and the
    unit released. Returns a dict of what came back."""
    pdd_on_node = node_pdd(node, n)
    unit = CTL.submit_job(node, transmit, pdd_on_node)
    out = ROOT / "out" / unit
    theirs_pdd, ours_pdd = out / "upstream-process", out / "runnerwire-process"
    try:
        sock, f = CTL.results(unit, timeout)
        out.mkdir(parents=True)
        stderr = open(out / "process.stderr", "w+b")
        proc = subprocess.Popen(
            [RUNNERWIRE, "process", str(ours_pdd), "--ident", ident, "-q"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        feeder = threading.Thread(target=pump, args=(f, proc), daemon=True)
        feeder.start()
        sock2, f2 = CTL.results(unit, timeout)
        try:
            runner = upstream_process(f2, theirs_pdd, ident)
        finally:
            f2.close()
            sock2.close()
        feeder.join(timeout)
        proc.wait(timeout)
        stderr.seek(0)
        ours_err = stderr.read()
        stderr.close()
        f.close()
        sock.close()
        state = CTL.wait_done(unit, timeout)
        raw = CTL.read_results(unit, timeout)
    finally:
        released = CTL.release(unit)
    return {
        "unit": unit,
        "node": node,
        "state": state,
        "released": released,
        "raw": raw,
        "runner_status": runner.status,
        "process_rc": proc.returncode,
        "process_err": ours_err.decode(errors="replace"),
        "theirs": theirs_pdd / "artifacts" / ident,
        "ours": ours_pdd / "artifacts" / ident,
        "pdd_on_node": pdd_on_node,
    }


def in_threads(calls):
    """Runs each (key, function) at once; returns {key: result}, re-raising the first error."""
    results, errors = {}, []

    def one(key, fn):
        try:
            results[key] = fn()
        except BaseException as e:
            errors.append((key, e))

    threads = [threading.Thread(target=one, args=kv) for kv in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    if errors:
        raise AssertionError(f"{errors[0][0]}: {errors[0][1]!r}") from errors[0][1]
    return results


def literals_for(run):
    node = MESH[run["node"]]
    return [(run["pdd_on_node"], "<pdd>"), (node.home, "<home>"), (node.dir / "tmp", "<tmp>")]


def processes_matching(text):
    return [(pid, cmd) for pid, cmd in MESH.leftovers() if text in cmd]


def receptors_only():
    """Nothing but the mesh's receptors carries the mesh marker."""
    receptors = {node.proc.pid for node in MESH.nodes.values() if node.proc is not None}
    return all(pid in receptors for pid, _ in MESH.leftovers())


class MeshTestCase(unittest.TestCase):
    def tearDown(self):
        # Every test ends with its jobs gone: no worker, command runner, ansible or sleep.
        try:
            wait_for("the mesh to be idle", receptors_only, 30, interval=0.25)
        except TimeoutError:
            self.fail(f"processes left running after the test: {MESH.leftovers()}")

    def assert_node_pdd_removed(self, run):
        self.assertFalse(Path(run["pdd_on_node"]).exists(), f"--delete left {run['pdd_on_node']} on {run['node']}")

    def assert_complete(self, run, status="successful"):
        code, err = validate(run["raw"])
        self.assertEqual(code, 0, f"{run['node']} {run['unit']}: runnerwire validate: {err}")
        self.assertEqual(final_status(run["raw"]), status, run["node"])
        self.assertTrue(run["raw"].endswith(b'{"eof": true}\n'))
        self.assertEqual(run["released"], {"released": run["unit"]})


class JobsThroughTheMesh(MeshTestCase):
    def test_jobs_from_both_transmits_give_upstream_nodes_events_and_artifacts(self):
        pdd = make_pdd("a")
        transmits = {"upstream transmit": lambda i: theirs_transmit(pdd, i), "runnerwire transmit": lambda i: ours_transmit(pdd, i)}
        for t, (how, transmit) in enumerate(transmits.items()):
            ident = f"job{t}"
            runs = in_threads([(node, lambda node=node, n=i: run_job(node, transmit(ident), ident, 100 + 10 * t + n)) for i, node in enumerate(["rw1", "rw2", "up"])])
            reference = None
            for node in ["up", "rw1", "rw2"]:
                run = runs[node]
                with self.subTest(transmit=how, node=node):
                    self.assertEqual(run["state"]["StateName"], "Succeeded", run["state"])
                    self.assert_complete(run)
                    self.assertEqual(run["runner_status"], "successful")
                    self.assertEqual(run["process_rc"], 0, run["process_err"])
                    # Both processes wrote the same tree from the same stream, byte for byte.
                    ours, theirs = tree(run["ours"]), tree(run["theirs"])
                    self.assertEqual(sorted(ours), sorted(theirs))
                    self.assertEqual(ours, theirs)
                    self.assertGreater(len([n for n in ours if n.startswith("job_events/")]), 10)
                    self.assertEqual(ours["status"], b"successful")
                    self.assertEqual(ours["rc"], b"0")
                    events = normalized_events(run["ours"] / "job_events", literals_for(run))
                    names = sorted(n for n in ours if not n.startswith("job_events/"))
                    if reference is None:
                        reference = (events, names, ours["stdout"])
                    else:
                        self.assertEqual(names, reference[1])
                        self.assertEqual(ours["stdout"], reference[2], "the stdout artifact")
                        self.assertEqual(len(events), len(reference[0]))
                        for a, b in zip(events, reference[0]):
                            self.assertEqual(a, b)
                    self.assert_node_pdd_removed(run)


class HealthCheckAndCleanup(MeshTestCase):
    def test_execution_nodes_advertise_ansible_runner_as_awx_looks_for_it(self):
        # AWX's find_node_in_mesh and get_conn_type read the controller's status.
        adverts = {a["NodeID"]: a for a in STATUS_AT_START["Advertisements"]}
        for node in ["rw1", "rw2", "up"]:
            self.assertEqual(adverts[node]["WorkCommands"], [{"WorkType": "ansible-runner", "Secure": True}], node)
            self.assertEqual(adverts[node]["ConnType"], 1, "STREAM: AWX then submits without a TLS client")

    def test_unsigned_work_is_refused_by_nodes_that_verify_signatures(self):
        ctl = MESH.controller.ctl()
        try:
            with self.assertRaises(RuntimeError) as refused:
                ctl.submit_work(worktype="ansible-runner", payload="", node="rw1", params={"params": "--worker-info"})
        finally:
            ctl.close()
        self.assertIn("signature", str(refused.exception).lower())
        # The controller keeps the refused unit, Failed, until it is released (AWX's
        # administrative reaper would).
        refused_units = {u: w for u, w in CTL.work_list().items() if w.get("ExtraData", {}).get("SignWork") is False}
        self.assertEqual(len(refused_units), 1, refused_units)
        (unit, work), = refused_units.items()
        self.assertEqual(work["StateName"], "Failed", work)
        self.assertEqual(CTL.release(unit), {"released": unit})

    def test_worker_info_health_check_reports_what_upstream_reports(self):
        import yaml

        reports = {}
        for node in ["rw1", "rw2", "up"]:
            state, detail, stdout = CTL.run_until_complete(node, {"params": "--worker-info"}, ttl="20s")
            self.assertEqual(state, "Succeeded", detail)
            report = yaml.safe_load(stdout.strip())
            self.assertIsInstance(report, dict, stdout)
            reports[node] = report
            # The same node answers with the same uuid next time.
            again = yaml.safe_load(CTL.run_until_complete(node, {"params": "--worker-info"})[2])
            self.assertEqual(again["uuid"], report["uuid"])
        for node in ["rw1", "rw2"]:
            with self.subTest(node=node):
                self.assertEqual(sorted(reports[node]), sorted(reports["up"]))
                self.assertEqual(reports[node]["errors"], [])
                for key in ("cpu_count", "mem_in_bytes", "runner_version"):
                    self.assertEqual(reports[node][key], reports["up"][key], key)
                uuid.UUID(reports[node]["uuid"])
        self.assertEqual(len({r["uuid"] for r in reports.values()}), 3, "each node keeps its own uuid")
        # AWX's administrative reaper finds nothing of these: each unit was released.
        self.assertEqual({u: w for u, w in CTL.work_list().items() if w.get("StateName") not in meshlib.ACTIVE_STATES}, {})

    def test_cleanup_as_awx_sends_it_does_what_upstreams_does(self):
        hours_ago = time.time() - 3 * 3600
        results = {}
        for node in ["rw1", "rw2", "up"]:
            work = MESH[node].work
            for name in ["awx_31_aaaa", "awx_32_bbbb", "awx_33_cccc", "other_34", "awx_35_dddd"]:
                (work / name / "artifacts").mkdir(parents=True, exist_ok=True)
                (work / name / "artifacts/x").write_text("x")
                os.utime(work / name, (hours_ago, hours_ago))
            os.utime(work / "awx_35_dddd", None)  # inside the grace period
            pattern = os.path.join(work, "awx_%s_" % "*") + "*"
            # AWX's _convert_args_to_cli with one running job on the node (awx_32_), then two:
            # AWX joins exclude strings with a space after one `=`, which upstream's argparse
            # refuses (exit 2, nothing removed); runnerwire must do the same.
            one = f"cleanup --exclude-strings=awx_32_ --file-pattern={pattern} --grace-period=60"
            two = f"cleanup --exclude-strings=awx_32_ awx_33_ --file-pattern={pattern} --grace-period=60"
            refused = CTL.run_until_complete(node, {"params": two}, timeout=30)
            left_after_refused = sorted(os.listdir(work))
            done = CTL.run_until_complete(node, {"params": one}, timeout=30)
            left = sorted(os.listdir(work))
            rerun = CTL.run_until_complete(node, {"params": one}, timeout=30)
            results[node] = (refused[0], left_after_refused, done[0], done[2].strip().splitlines()[-1], left, rerun[2].strip().splitlines()[-1])
            for name in os.listdir(work):
                shutil.rmtree(work / name)
        self.assertEqual(results["up"][0], "Failed")
        self.assertEqual(results["up"][2:], ("Succeeded", "(changed: True)", ["awx_32_bbbb", "awx_35_dddd", "other_34"], "(changed: False)"))
        for node in ["rw1", "rw2"]:
            self.assertEqual(results[node], results["up"], node)


TEST_IMAGE = os.environ.get("RUNNERWIRE_TEST_IMAGE", "localhost/runnerwire-test-ee:1")


def podman(*args):
    return subprocess.run(["podman", *args], capture_output=True, text=True, env={**os.environ, "CONTAINERS_CONF": meshlib.CONTAINERS_CONF})


def podman_names():
    return podman("ps", "-a", "--format", "{{.Names}}").stdout.split()


def require_image(test):
    """Fails (not skips) without podman or the image: `make test` builds the image."""
    has_image = shutil.which("podman") and podman("image", "exists", TEST_IMAGE).returncode == 0
    test.assertTrue(has_image, f"podman and the test image {TEST_IMAGE} are needed: run `make test-image`")


def podman_transmit(pdd, ident):
    """runnerwire transmit's job stream with AWX's process isolation settings added."""
    extra = ["--container-image", TEST_IMAGE, "--container-option=--network=none", "--container-option=--pull=never"]

    def write(f):
        proc = subprocess.run([RUNNERWIRE, "transmit", str(pdd), "-p", "site.yml", "--ident", ident, *extra], capture_output=True, check=True)
        first, rest = proc.stdout.split(b"\n", 1)
        line = json.loads(first)
        line["kwargs"].update({"process_isolation": True, "process_isolation_executable": "podman"})
        f.write(json.dumps(line).encode() + b"\n" + rest)

    return write


def any_process_matching(text):
    """Processes whose command line holds `text`, mesh marker or not (a container's are not
    this mesh's children)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd:
                found.append((int(entry), cmd))
    return found


class ContainerJob(MeshTestCase):
    def test_podman_job_through_the_mesh(self):
        require_image(self)
        pdd = make_pdd("c", files=[("env/settings", '{"suppress_output_file": true, "suppress_ansible_output": true, "job_timeout": 0}')])
        # One ident per node: both nodes share this machine's podman, and the container is
        # named after the ident.
        idents = {"rw1": "ctr_rw", "up": "ctr_up"}
        runs = in_threads([(node, lambda node=node, n=i: run_job(node, podman_transmit(pdd, idents[node]), idents[node], 300 + n)) for i, node in enumerate(idents)])
        for node, run in runs.items():
            with self.subTest(node=node):
                self.assert_complete(run)
                starting = [l for l in stream_lines(run["raw"]) if l.get("status") == "starting"][0]
                self.assertEqual(starting["command"][:2], ["podman", "run"])
                # The playbook ran from the container's mount of the private data dir.
                self.assertTrue(b'"task_path": "/runner/project/site.yml:' in run["raw"], "the job did not run in the container")
                self.assertEqual(tree(run["ours"]), tree(run["theirs"]))
                self.assert_node_pdd_removed(run)
        self.assertEqual(
            normalized_events(runs["rw1"]["ours"] / "job_events", literals_for(runs["rw1"]) + [(idents["rw1"], "<ident>")]),
            normalized_events(runs["up"]["ours"] / "job_events", literals_for(runs["up"]) + [(idents["up"], "<ident>")]),
        )
        # podman removes a --rm container in its own cleanup process, a moment after the run.
        wait_for("the job's container to be removed", lambda: "ansible_runner_ctr_rw" not in podman_names(), 15, interval=0.25)


class CancelAndFaults(MeshTestCase):
    def wait_for_sleep(self, marker, timeout=60):
        return wait_for(f"`sleep {marker}` to start", lambda: processes_matching(f"sleep {marker}"), timeout, interval=0.1)

    def test_work_cancel_mid_job_ends_it_canceled_with_artifacts_and_kills_everything(self):
        marker = "97.31"
        pdd = make_pdd("d", playbook=sleeper(marker))
        pdd_on_node = node_pdd("rw1", 41)
        unit = CTL.submit_job("rw1", ours_transmit(pdd, "cancel"), pdd_on_node)
        try:
            self.wait_for_sleep(marker)
            started = time.monotonic()
            CTL.cancel(unit)
            state = CTL.wait_done(unit, 30)
            took = time.monotonic() - started
            # What the worker wrote after receptor's SIGINT reached the controller too.
            raw = CTL.read_results(unit, timeout=30, size=state["StdoutSize"])
        finally:
            CTL.release(unit)
        self.assertEqual(state["StateName"], "Canceled", state)
        code, err = validate(raw)
        self.assertEqual(code, 0, err)
        self.assertEqual(final_status(raw), "canceled")
        self.assertIn(b'{"zipfile": ', raw)
        self.assertTrue(raw.endswith(b'{"eof": true}\n'))
        # The worker ended on receptor's SIGINT, before the SIGKILL 10 s later.
        self.assertLess(took, 10, "the worker did not end on SIGINT")
        wait_for("the job's processes to end", lambda: not processes_matching(f"sleep {marker}") and not processes_matching("ansible-playbook"), 15)
        self.assertFalse(pdd_on_node.exists(), "--delete holds for a canceled job too")
        # The canceled run still processes like any other.
        out = ROOT / "out" / f"cancel-{unit}"
        proc = subprocess.run([RUNNERWIRE, "process", str(out), "--ident", "cancel", "-q"], input=raw, capture_output=True)
        self.assertEqual((out / "artifacts/cancel/status").read_text(), "canceled")
        # process exits with the job's rc (ansible-playbook's, after the worker's SIGINT).
        self.assertEqual(proc.returncode, int((out / "artifacts/cancel/rc").read_text()), proc.stderr)

    def test_work_cancel_of_a_podman_job_removes_its_container(self):
        require_image(self)
        marker = "97.41"
        pdd = make_pdd("d2", playbook=sleeper(marker))
        unit = CTL.submit_job("rw2", podman_transmit(pdd, "ctr_cancel"), node_pdd("rw2", 42))
        try:
            # The sleep runs inside the container: look for it among all processes.
            wait_for("the container's sleep", lambda: any_process_matching(f"sleep {marker}"), 60)
            self.assertIn("ansible_runner_ctr_cancel", podman_names())
            CTL.cancel(unit)
            state = CTL.wait_done(unit, 30)
            raw = CTL.read_results(unit, timeout=30, size=state["StdoutSize"])
        finally:
            CTL.release(unit)
        self.assertEqual(state["StateName"], "Canceled", state)
        self.assertEqual(validate(raw), (0, ""))
        self.assertEqual(final_status(raw), "canceled")
        wait_for("the job's container to be removed", lambda: "ansible_runner_ctr_cancel" not in podman_names(), 15, interval=0.25)
        wait_for("the container's sleep to end", lambda: not any_process_matching(f"sleep {marker}"), 15)

    def undisturbed_then_submitted(self, node, marker, ident, n):
        """The sleeper job run once undisturbed (the reference), then submitted again for the
        fault: (reference run, the second job's private data dir on the node, its unit)."""
        pdd = make_pdd(ident, playbook=sleeper(marker))
        reference = run_job(node, ours_transmit(pdd, ident), ident, n)
        pdd_on_node = node_pdd(node, n + 1)
        return reference, pdd_on_node, CTL.submit_job(node, ours_transmit(pdd, ident), pdd_on_node)

    def assert_same_outcome(self, raw, run, ident, pdd_on_node):
        code, err = validate(raw)
        self.assertEqual(code, 0, err)
        self.assertEqual(final_status(raw), final_status(run["raw"]))
        out = ROOT / "out" / f"fault-{uuid.uuid4().hex[:6]}"
        proc = subprocess.run([RUNNERWIRE, "process", str(out), "--ident", ident, "-q"], input=raw, capture_output=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        node = run["node"]
        self.assertEqual(
            normalized_events(out / "artifacts" / ident / "job_events", [(pdd_on_node, "<pdd>"), (MESH[node].home, "<home>")]),
            normalized_events(run["ours"] / "job_events", literals_for(run)),
        )
        self.assertEqual(
            sorted(n for n in tree(out / "artifacts" / ident) if not n.startswith("job_events/")),
            sorted(n for n in tree(run["ours"]) if not n.startswith("job_events/")),
        )

    def test_execution_nodes_receptor_killed_and_restarted_mid_job(self):
        marker = "4.113"
        reference, pdd_on_node, unit = self.undisturbed_then_submitted("rw1", marker, "fault1", 51)
        try:
            self.wait_for_sleep(marker)
            MESH["rw1"].kill()
            # The job goes on without its node's receptor: receptor runs it detached.
            self.assertTrue(processes_matching(f"sleep {marker}"))
            MESH.restart("rw1")
            raw = CTL.read_results(unit, timeout=90)
            state = CTL.wait_done(unit, 60)
        finally:
            CTL.release(unit)
        self.assertEqual(state["StateName"], "Succeeded", state)
        self.assert_same_outcome(raw, reference, "fault1", pdd_on_node)
        self.assertFalse(pdd_on_node.exists())

    def test_controllers_receptor_killed_and_restarted_while_results_are_read(self):
        marker = "4.127"
        reference, pdd_on_node, unit = self.undisturbed_then_submitted("rw2", marker, "fault2", 61)
        try:
            sock, f = CTL.results(unit, timeout=60)
            first = f.readline()
            self.assertTrue(first.startswith(b"{"), first)
            self.wait_for_sleep(marker)
            MESH.controller.kill()
            try:
                rest = f.read()  # the connection ends with the controller
            except OSError:
                rest = b""
            f.close()
            sock.close()
            self.assertNotEqual(validate(first + rest)[0], 0, "the cut stream must be incomplete")
            MESH.restart("controller")
            raw = CTL.read_results(unit, timeout=90)
            state = CTL.wait_done(unit, 60)
        finally:
            CTL.release(unit)
        self.assertEqual(state["StateName"], "Succeeded", state)
        self.assert_same_outcome(raw, reference, "fault2", pdd_on_node)


class WorkerDeathOnANode(MeshTestCase):
    """The worker killed under Receptor (what the OOM killer and Receptor's own SIGKILL ten
    seconds after its SIGINT do), and its command runner killed alone."""

    def worker_of(self, pdd_on_node):
        """The worker process of the job whose private data dir is `pdd_on_node`."""
        return wait_for(
            "the job's worker",
            lambda: [pid for pid, cmd in processes_matching(f"worker --private-data-dir={pdd_on_node}") if "--command-runner" not in cmd],
            30,
        )[0]

    def test_a_killed_worker_leaves_nothing_running_where_upstreams_leaves_the_job(self):
        marker = {"rw1": "5.131", "up": "5.137"}
        units, pdds = {}, {}
        for n, node in enumerate(marker):
            pdds[node] = node_pdd(node, 91 + n)
            units[node] = CTL.submit_job(node, ours_transmit(make_pdd(f"k{n}", playbook=sleeper(marker[node])), f"kill{n}"), pdds[node])
        try:
            for node in marker:
                wait_for(f"`sleep {marker[node]}` on {node}", lambda node=node: processes_matching(f"sleep {marker[node]}"), 60)
                os.kill(self.worker_of(pdds[node]), 9)
            states = {node: CTL.wait_done(unit, 30) for node, unit in units.items()}
            # runnerwire's keeper ends the job and removes the private data dir (--delete).
            wait_for("rw1's job to end", lambda: not processes_matching(f"sleep {marker['rw1']}") and not processes_matching(str(pdds["rw1"])), 15)
            self.assertFalse(pdds["rw1"].exists(), "the keeper did not remove the private data dir")
            # Upstream's worker leaves ansible-playbook and the task running (known defect);
            # this test then ends them itself, so the mesh is idle again.
            time.sleep(2)
            orphans = processes_matching(f"sleep {marker['up']}")
            self.assertTrue(orphans, "upstream's worker no longer leaves its job running: update this test")
            for pid, _ in processes_matching(str(pdds["up"])) + orphans:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
        finally:
            for unit in units.values():
                CTL.release(unit)
        for node, state in states.items():
            self.assertEqual(state["StateName"], "Failed", f"{node}: {state}")

    def test_a_command_runner_killed_alone_lets_the_job_finish_with_complete_results(self):
        marker = "3.149"
        pdd_on_node = node_pdd("rw2", 95)
        unit = CTL.submit_job("rw2", ours_transmit(make_pdd("cr", playbook=sleeper(marker)), "runner"), pdd_on_node)
        try:
            wait_for(f"`sleep {marker}`", lambda: processes_matching(f"sleep {marker}"), 60)
            # The node's own unit: the controller's unit is a remote unit with another id.
            remote = CTL.status(unit)["ExtraData"]["RemoteUnitID"]
            runner = [pid for pid, cmd in processes_matching("--command-runner") if f"unitdir={MESH['rw2'].datadir}" in cmd and remote in cmd]
            self.assertEqual(len(runner), 1, processes_matching("--command-runner"))
            os.kill(runner[0], 9)
            # The worker finishes the job on its own and exits; nothing of it is left.
            wait_for("the job to end", lambda: not processes_matching(str(pdd_on_node)), 60)
            stdout = MESH["rw2"].datadir / "rw2" / remote / "stdout"
            raw = stdout.read_bytes()
            self.assertEqual(validate(raw), (0, ""))
            self.assertEqual(final_status(raw), "successful")
            self.assertFalse(pdd_on_node.exists())
            # Receptor learns a unit's end only from its command runner's status file.
            self.assertEqual(CTL.status(unit)["StateName"], "Running")
        finally:
            CTL.release(unit)


class ResumeAfterACutConnection(MeshTestCase):
    def test_process_resume_after_the_results_connection_is_cut_part_way(self):
        pdd = make_pdd("r")
        unit = CTL.submit_job("rw1", ours_transmit(pdd, "resume"), node_pdd("rw1", 81))
        out = ROOT / "out" / f"resume-{unit}"
        cut_at = 6000
        try:
            # The connection drops after `cut_at` bytes, in the middle of a line.
            sock, f = CTL.results(unit, timeout=60)
            proc = subprocess.Popen([RUNNERWIRE, "process", str(out / "cut"), "--ident", "r", "-q"], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            sent = 0
            while sent < cut_at and (chunk := f.read1(cut_at - sent)):
                proc.stdin.write(chunk)
                sent += len(chunk)
            sock.shutdown(socket.SHUT_RDWR)
            f.close()
            sock.close()
            proc.stdin.close()
            proc.wait(30)
            cut_err = proc.stderr.read().decode(errors="replace")
            proc.stderr.close()
            CTL.wait_done(unit, 60)
            full = CTL.read_results(unit, timeout=60)
        finally:
            CTL.release(unit)
        self.assertEqual(sent, cut_at)
        self.assertGreater(len(full), 2 * cut_at)
        self.assertNotEqual(proc.returncode, 0, "a cut stream must not end like a whole one")
        written = len(list((out / "cut/artifacts/r/job_events").iterdir()))
        self.assertGreater(written, 0, cut_err)
        # The rerun on the whole results continues the broken run...
        resumed = subprocess.run([RUNNERWIRE, "process", str(out / "cut"), "--ident", "r", "-q", "--resume"], input=full, capture_output=True)
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        # ...and leaves the tree an unbroken run leaves.
        whole = subprocess.run([RUNNERWIRE, "process", str(out / "whole"), "--ident", "r", "-q"], input=full, capture_output=True)
        self.assertEqual(whole.returncode, 0, whole.stderr)
        self.assertEqual(tree(out / "cut/artifacts/r"), tree(out / "whole/artifacts/r"))
        self.assertGreater(len(tree(out / "whole/artifacts/r/job_events")), written)


class ManyJobsAtOnce(MeshTestCase):
    def test_eight_jobs_at_once_over_two_runnerwire_nodes(self):
        pdd = make_pdd("f")
        started = time.monotonic()
        calls = [(f"job{i}", lambda i=i: run_job(["rw1", "rw2"][i % 2], ours_transmit(pdd, f"many{i}"), f"many{i}", 700 + i)) for i in range(8)]
        runs = in_threads(calls)
        took = time.monotonic() - started
        self.assertEqual(len(runs), 8)
        for key, run in sorted(runs.items()):
            with self.subTest(job=key):
                self.assert_complete(run)
                self.assertEqual(run["state"]["StateName"], "Succeeded")
                self.assertEqual((run["ours"] / "status").read_text(), "successful")
                self.assertEqual(tree(run["ours"]), tree(run["theirs"]))
                self.assert_node_pdd_removed(run)
        print(f"\n8 jobs over rw1+rw2 in {took:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
