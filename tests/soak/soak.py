"""The soak: mixed jobs through the namespace mesh while faults hit it, every event counted.

    python tests/soak/soak.py [--jobs 200] [--minutes 10] [--min-faults 30] [--short]
                              [--worker standard|upstream] [--no-faults] [--figures F.json]

Jobs (tests/soak/jobs.py) go to n1-n4 in turn, several at once, each submitted and read as
AWX does: `work submit` with the signed job stream, `work results` read while the unit runs
into `runnerwire process`, `work release`. Two fault threads run meanwhile (faults.py): one
for the network (delay and jitter, packet loss, rate limits, links down), one for processes
(receptors killed and restarted, workers SIGKILLed, the results reader cut). Every job is
judged against an undisturbed run of its kind (jobs.py). The last line is

    soak: J jobs, F faults, S successful, E explicit failures, L lost, D duplicated, O orphans

and the exit status is 0 only when every job ended successful or as an explicit failure,
no event was lost, duplicated, reordered or changed, nothing was left running, every
node's memory stayed bounded and flat, and the run made its minimum of jobs and faults in
its time.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import jobs as jobkinds  # noqa: E402
from faults import KINDS as FAULT_KINDS, Faults  # noqa: E402
from memory import MemorySampler  # noqa: E402
from netmesh import NetMesh  # noqa: E402
from mesh import Controller, bytes_transmit, wait_for  # noqa: E402
from test_mesh import normalized_events  # noqa: E402

RUNNERWIRE = jobkinds.RUNNERWIRE
# A results stream silent this long is checked against the unit's status: if the
# controller holds more of the results than came through, or the unit has ended, the
# reader reconnects from its offset (as AWX would, to results that stopped).
SILENCE = 30
IDLE_TIMEOUT = 300  # seconds of silence in all before the job is judged lost
MIX = {"task": 0.55, "events": 0.2, "artifacts": 0.1, "podman": 0.15}
EXEC_NODES = ("n1", "n2", "n3", "n4")


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Job:
    def __init__(self, index, kind, node):
        self.index, self.kind, self.node = index, kind, node
        self.ident = f"soak{index:04d}"
        self.unit = None
        self.sock = None
        self.proc = None  # its `runnerwire process`
        self.offset = 0
        self.cut = None  # "reader" | "process", set by a fault
        self.reconnects = 0
        self.stall_reconnects = 0  # reconnects to results that had stopped coming
        self.outcome = None  # "successful" | "failed" | "bad"
        self.reason = ""
        self.lost = self.duplicated = self.reordered = self.changed = 0
        self.seconds = None
        self.faults_during = 0
        self.pdd_on_node = None
        self.worker_killed = False


class Soak:
    def __init__(self, args):
        self.args = args
        base = os.environ.get("TEST_TMPDIR") or ("/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
        self.root = Path(tempfile.mkdtemp(prefix="runnerwire-soak-", dir=base))
        self.mesh = NetMesh(self.root / "mesh", worker=args.worker)
        self.ctl = None
        self.lock = threading.Lock()
        self.active = {}  # ident -> Job
        self.done = []
        self.references = {}
        self.blob_sha = jobkinds.blob_sha256()
        self.faults = None
        self.memory = None
        self.stop_faults = threading.Event()

    # --- one job ------------------------------------------------------------------------

    def worker_kind(self, node):
        return self.mesh[node].kind

    def literals(self, job):
        node = self.mesh[job.node]
        return [(job.pdd_on_node, "<pdd>"), (job.ident, "<ident>"), (node.home, "<home>"), (node.dir / "tmp", "<tmp>")]

    def run_job(self, job):
        node = self.mesh[job.node]
        out = self.root / "out" / job.ident
        src = self.root / "src" / job.ident
        jobkinds.write_pdd(src, job.kind)
        job.pdd_on_node = node.work / f"awx_{job.index}_{uuid.uuid4().hex[:8]}"
        stream = jobkinds.transmit_stream(src, job.kind, job.ident, job.pdd_on_node)
        out.mkdir(parents=True)
        started = time.monotonic()
        try:
            job.unit = self.ctl.submit_job(job.node, bytes_transmit(stream), job.pdd_on_node)
        except Exception as e:  # AWX shows a failed submission as the job's error
            job.outcome, job.reason = "failed", f"work submit: {e}"
            return
        with self.lock:
            self.active[job.ident] = job
        try:
            state, rc, err = self.read_results(job, out)
            job.seconds = time.monotonic() - started
        except Exception as e:
            job.outcome, job.reason = "bad", f"{type(e).__name__}: {e}"
            reference = self.references.get((job.kind, self.worker_kind(job.node)))
            job.lost = len(reference["counters"]) if reference else 0  # none of its events arrived whole
            return
        finally:
            with self.lock:
                self.active.pop(job.ident, None)
            try:
                self.ctl.release(job.unit)
            except Exception:
                pass
        self.judge(job, state, rc, err, out)
        if job.outcome != "bad" and not self.args.keep:
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(src, ignore_errors=True)

    def start_process(self, job, out, resume):
        args = [RUNNERWIRE, "process", str(out / "pdd"), "--ident", job.ident, "-q"] + (["--resume"] if resume else [])
        return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=open(out / "process.stderr", "ab"))

    def read_results(self, job, out):
        """`work results` into `runnerwire process` while the unit runs. A cut reader
        reconnects from its last offset into the same process; a cut that also killed
        the process (a controller restart) reads again from the start into `process
        --resume`. Returns (unit status, process exit code, its stderr)."""
        spool = open(out / "results.stream", "wb")
        job.proc = self.start_process(job, out, resume=False)
        silent_since = None
        try:
            while True:
                sock, f = self.ctl.results(job.unit, timeout=SILENCE, startpos=job.offset)
                job.sock = sock
                stalled = False
                try:
                    while chunk := f.read1(1 << 16):
                        job.proc.stdin.write(chunk)
                        spool.write(chunk)
                        job.offset += len(chunk)
                        silent_since = None
                except (OSError, ValueError) as e:
                    if isinstance(e, socket.timeout):
                        stalled = True
                    elif not job.cut:
                        raise
                finally:
                    job.sock = None
                    f.close()
                    sock.close()
                if stalled:
                    silent_since = silent_since or time.monotonic() - SILENCE
                    status = self.ctl.status(job.unit)
                    behind = (status.get("StdoutSize") or 0) > job.offset or status.get("StateName") not in ("Pending", "Running")
                    if time.monotonic() - silent_since > IDLE_TIMEOUT:
                        raise TimeoutError(f"results silent for {IDLE_TIMEOUT} s at byte {job.offset}; unit {status.get('StateName')}, "
                                           f"{status.get('StdoutSize')} bytes on the controller, detail {status.get('Detail', '')!r}")
                    if behind:
                        job.stall_reconnects += 1
                    job.reconnects += 1
                    continue
                cut, job.cut = job.cut, None
                if not cut:
                    break
                job.reconnects += 1
                if cut == "process":
                    job.proc.wait(30)
                    job.offset = 0
                    spool.seek(0)
                    spool.truncate()
                    job.proc = self.start_process(job, out, resume=True)
            job.proc.stdin.close()
            rc = job.proc.wait(120)
        finally:
            spool.close()
            if job.proc.poll() is None:
                job.proc.kill()
                job.proc.wait()
        state = self.ctl.wait_done(job.unit, 120)
        return state, rc, (out / "process.stderr").read_text(errors="replace")

    def reference(self, kind, worker):
        return self.references[(kind, worker)]

    def judge(self, job, state, rc, err, out):
        name = state.get("StateName")
        if name in ("Failed", "Canceled"):
            job.outcome, job.reason = "failed", f"unit {name}: {state.get('Detail', '').strip()}"
            return
        problems = []
        if name != "Succeeded":
            problems.append(f"unit {name}")
        spool = out / "results.stream"
        check = subprocess.run([RUNNERWIRE, "validate", str(spool)], capture_output=True, text=True)
        if check.returncode != 0:
            problems.append(f"validate: {check.stderr.strip()}")
        if rc != 0:
            problems.append(f"process exit {rc}: {err.strip()}")
        artifacts = out / "pdd/artifacts" / job.ident
        status = (artifacts / "status").read_text() if (artifacts / "status").exists() else None
        if status != "successful":
            problems.append(f"status {status}")
        ref = self.reference(job.kind, self.worker_kind(job.node))
        counters = jobkinds.stream_counters(spool)
        seen = set(counters)
        job.duplicated = len(counters) - len(seen)
        job.lost = len(set(ref["counters"]) - seen)
        order = {c: i for i, c in enumerate(ref["counters"])}
        ranks = [order[c] for c in dict.fromkeys(counters) if c in order]
        job.reordered = sum(1 for a, b in zip(ranks, ranks[1:]) if b < a)
        if (artifacts / "job_events").is_dir():
            events = normalized_events(artifacts / "job_events", self.literals(job))
            differing = [i for i, (a, b) in enumerate(zip(events, ref["events"])) if a != b]
            job.changed = len(differing)
            if differing:
                i = differing[0]
                problems.append(f"event {i + 1} differs from the reference's: {events[i][:400]!r} against {ref['events'][i][:400]!r}")
            if len(events) != len(ref["events"]):
                problems.append(f"{len(events)} event files, the reference has {len(ref['events'])}")
        else:
            problems.append("no job_events")
        if job.lost or job.duplicated or job.reordered or job.changed:
            problems.append(f"events: {job.lost} lost, {job.duplicated} duplicated, {job.reordered} reordered, {job.changed} changed")
        if artifacts.is_dir() and jobkinds.artifact_names(artifacts) != ref["names"]:
            problems.append(f"artifacts {jobkinds.artifact_names(artifacts)} != {ref['names']}")
        if job.kind == "artifacts":
            blob = artifacts / "blob.bin"
            got = hashlib.sha256(blob.read_bytes()).hexdigest() if blob.exists() else None
            if got != self.blob_sha:
                problems.append("blob.bin differs from the job's 50 MB")
        job.outcome = "bad" if problems else "successful"
        job.reason = "; ".join(problems)
        if problems and name == "Succeeded":
            job.lost = job.lost or len(ref["counters"])  # nothing of a wrong job counts as delivered

    def record_reference(self, kind, node):
        """An undisturbed run of `kind` on `node` before any fault: what every later job of
        that kind on a node with the same worker must give."""
        job = Job(9000 + len(self.references), kind, node)
        job.ident = f"ref{len(self.references):02d}"
        self.references[(kind, self.worker_kind(node))] = {"counters": [], "events": [], "names": []}
        self.run_job_keep(job)  # judged against the empty placeholder: only its status counts
        out = self.root / "out" / job.ident
        artifacts = out / "pdd/artifacts" / job.ident
        status = (artifacts / "status").read_text() if (artifacts / "status").exists() else None
        if status != "successful":
            raise RuntimeError(f"reference {kind} on {node}: status {status}: {job.reason}")
        self.references[(kind, self.worker_kind(node))] = {
            "counters": jobkinds.stream_counters(out / "results.stream"),
            "events": normalized_events(artifacts / "job_events", self.literals(job)),
            "names": jobkinds.artifact_names(artifacts),
        }
        shutil.rmtree(out, ignore_errors=True)
        return job

    def run_job_keep(self, job):
        keep, self.args.keep = self.args.keep, True
        try:
            self.run_job(job)
        finally:
            self.args.keep = keep

    # --- the run ------------------------------------------------------------------------

    def plan(self):
        rng = random.Random(self.args.seed)
        kinds = []
        for kind, share in self.args.mix.items():
            kinds += [kind] * max(1, round(share * self.args.jobs))
        kinds = kinds[: self.args.jobs] + ["task"] * (self.args.jobs - len(kinds))
        rng.shuffle(kinds)
        return [Job(i, kind, EXEC_NODES[i % len(EXEC_NODES)]) for i, kind in enumerate(kinds)]

    def orphans(self):
        """Processes of the mesh other than its receptors and Toxiproxy, and the jobs'
        containers, once everything has ended."""
        keep = {n.proc.pid for n in self.mesh.nodes.values() if n.proc is not None}
        if self.mesh.toxiproxy is not None and self.mesh.toxiproxy.proc is not None:
            keep.add(self.mesh.toxiproxy.proc.pid)
        procs = [(pid, cmd) for pid, cmd in self.mesh.leftovers() if pid not in keep]
        names = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True,
                               env={**os.environ, "CONTAINERS_CONF": jobkinds.meshlib.CONTAINERS_CONF}).stdout.split()
        return procs + [(None, f"container {n}") for n in names if n.startswith("ansible_runner_soak")]

    def run(self):
        args = self.args
        started = time.monotonic()
        self.mesh.start()
        self.ctl = Controller(self.mesh)
        print(f"soak: mesh of 6 namespaces up in {time.monotonic() - started:.1f} s at {self.mesh.root} (workers: {args.worker})", flush=True)
        for kind in jobkinds.KINDS:
            for node in ("n3", "n4") if args.worker == "standard" else ("n4",):
                self.record_reference(kind, node)
        print(f"soak: {len(self.references)} references recorded undisturbed", flush=True)

        planned = self.plan()
        queue = list(planned)
        self.memory = MemorySampler(self.mesh, lambda: len(self.done) >= len(planned) / 2)
        self.memory.start()
        self.faults = Faults(self, short=args.short)
        fault_threads = [] if args.no_faults else self.faults.start(self.stop_faults)
        t0 = time.monotonic()

        def worker():
            while True:
                with self.lock:
                    if not queue:
                        return
                    job = queue.pop(0)
                faults_before = self.faults.count()
                self.run_job(job)
                job.faults_during = self.faults.count() - faults_before + self.faults.active_count()
                with self.lock:
                    self.done.append(job)
                    n = len(self.done)
                if n % 20 == 0 or job.outcome == "bad":
                    print(f"soak: {n}/{len(planned)} jobs, {self.faults.count()} faults, {time.monotonic() - t0:.0f} s"
                          + (f"; {job.ident} ({job.kind} on {job.node}) BAD: {job.reason}" if job.outcome == "bad" else ""), flush=True)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        self.stop_faults.set()
        for t in fault_threads:
            t.join(120)
        self.faults.revert_all()
        self.memory.stop()
        try:
            wait_for("the mesh to be idle", lambda: not self.orphans(), 60, interval=0.5)
        except TimeoutError:
            pass
        orphans = self.orphans()
        return self.report(planned, elapsed, orphans)

    def report(self, planned, elapsed, orphans):
        args = self.args
        ok = [j for j in planned if j.outcome == "successful"]
        failed = [j for j in planned if j.outcome == "failed"]
        bad = [j for j in planned if j.outcome not in ("successful", "failed")]
        lost = sum(j.lost for j in planned if j.outcome != "failed")
        duplicated = sum(j.duplicated for j in planned if j.outcome != "failed")
        reordered = sum(j.reordered for j in ok + bad)
        changed = sum(j.changed for j in ok + bad)
        faults = self.faults.count()
        by_type = self.faults.by_type()
        for at, kind, what in self.faults.log:
            print(f"soak: fault at {at:.0f} s: {kind}: {what}")
        print(f"soak: faults by kind: {json.dumps(by_type)}")
        for j in failed:
            print(f"soak: explicit failure {j.ident} ({j.kind} on {j.node}): {j.reason}")
        for j in bad:
            print(f"soak: BAD {j.ident} ({j.kind} on {j.node}): {j.reason}")
        for pid, cmd in orphans:
            print(f"soak: orphan {pid}: {cmd}")
        times = {kind: [j.seconds for j in ok if j.kind == kind] for kind in jobkinds.KINDS}
        quiet = [j.seconds for j in ok if j.faults_during == 0]
        disturbed = [j.seconds for j in ok if j.faults_during > 0]
        figures = {
            "worker": args.worker,
            "faults_enabled": not args.no_faults,
            "jobs": len(planned),
            "minutes": round(elapsed / 60, 2),
            "jobs_per_minute": round(len(planned) / (elapsed / 60), 1),
            "p50_s": percentile([j.seconds for j in ok], 50),
            "p99_s": percentile([j.seconds for j in ok], 99),
            "p50_s_without_faults": percentile(quiet, 50),
            "p99_s_without_faults": percentile(quiet, 99),
            "p50_s_with_faults": percentile(disturbed, 50),
            "p99_s_with_faults": percentile(disturbed, 99),
            "by_kind_p50_s": {k: percentile(v, 50) for k, v in times.items()},
            "by_kind_p99_s": {k: percentile(v, 99) for k, v in times.items()},
            "faults": faults,
            "faults_by_kind": by_type,
            "successful": len(ok),
            "explicit_failures": len(failed),
            "bad": len(bad),
            "reconnects": sum(j.reconnects for j in planned),
            "reconnects_to_stopped_results": sum(j.stall_reconnects for j in planned),
            "memory": self.memory.summary(),
            "cpu_seconds": self.memory.cpu_summary(),
        }
        figures = rounded(figures)
        for line in self.memory.lines():
            print(f"soak: {line}")
        print(f"soak: {figures['jobs_per_minute']} jobs/min; job time p50 {fmt(figures['p50_s'])} s, p99 {fmt(figures['p99_s'])} s; "
              f"without faults p50 {fmt(figures['p50_s_without_faults'])} s, p99 {fmt(figures['p99_s_without_faults'])} s "
              f"({len(quiet)} jobs); with faults p50 {fmt(figures['p50_s_with_faults'])} s, p99 {fmt(figures['p99_s_with_faults'])} s ({len(disturbed)} jobs)")
        if args.figures:
            Path(args.figures).write_text(json.dumps(figures, indent=2) + "\n")
        failures = []
        if bad:
            failures.append(f"{len(bad)} jobs neither successful nor an explicit failure")
        if lost or duplicated or reordered or changed:
            failures.append(f"events: {lost} lost, {duplicated} duplicated, {reordered} reordered, {changed} changed")
        if orphans:
            failures.append(f"{len(orphans)} orphans")
        if not args.no_faults and faults < args.min_faults:
            failures.append(f"{faults} faults, fewer than {args.min_faults}")
        missing = [k for k in FAULT_KINDS if k not in by_type]
        if not args.no_faults and missing:
            failures.append(f"no {', '.join(missing)} fault in the run")
        if elapsed > args.minutes * 60:
            failures.append(f"{elapsed / 60:.1f} minutes, more than {args.minutes}")
        failures += self.memory.problems()
        failures += [f"fault not made: {f}" for f in self.faults.failures]
        if args.worker == "upstream":
            failures = [f for f in failures if "orphans" not in f]  # upstream's own defect; reported above
        for f in failures:
            print(f"soak: FAILED: {f}")
        last = (f"soak: {len(planned)} jobs, {faults} faults, {len(ok)} successful, {len(failed)} explicit failures, "
                f"{lost} lost, {duplicated} duplicated, {len(orphans)} orphans")
        return (1 if failures else 0), last

    def close(self):
        left, net_left = self.mesh.stop()
        if not self.args.keep:
            shutil.rmtree(self.root, ignore_errors=True)
        return left, net_left


def rounded(value):
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def parse_mix(text):
    mix = {}
    for part in text.split(","):
        kind, _, share = part.partition("=")
        if kind not in jobkinds.KINDS:
            raise argparse.ArgumentTypeError(f"{kind!r} is not a job kind ({', '.join(jobkinds.KINDS)})")
        mix[kind] = float(share)
    return mix


def fmt(value):
    return "-" if value is None else f"{value:.1f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=10, help="the run's time limit")
    parser.add_argument("--min-faults", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=6, help="jobs at once")
    parser.add_argument("--short", action="store_true", help="links down 5-15 s instead of 5-60 s, faults more often")
    parser.add_argument("--worker", choices=("standard", "upstream"), default="standard",
                        help="standard: n1-n3 runnerwire, n4 upstream; upstream: every node upstream's")
    parser.add_argument("--no-faults", action="store_true", help="the same jobs on an undisturbed mesh")
    parser.add_argument("--seed", type=int, default=28)
    parser.add_argument("--mix", type=parse_mix, default=MIX, help=f"shares of the job kinds, e.g. task=0.5,events=0.5 (default {','.join(f'{k}={v}' for k, v in MIX.items())})")
    parser.add_argument("--figures", help="write the run's figures to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the soak's directory")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("soak: needs root (network namespaces, veth, nftables, tc)", file=sys.stderr)
        return 2
    soak = Soak(args)
    code, last = 1, None
    try:
        code, last = soak.run()
    finally:
        # The mesh comes down before the last line: what its teardown finds counts too.
        left, net_left = soak.close()
        if left or net_left:
            print(f"soak: FAILED: left after teardown: {left} {net_left}", flush=True)
            code = 1
    if last:
        print(last, flush=True)
    return code


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
