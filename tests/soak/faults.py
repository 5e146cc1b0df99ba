"""The faults the soak injects while its jobs run, each logged and reverted.

Network (one thread, one fault at a time, each held a while, then reverted):
- `latency`: 50-300 ms of delay and jitter on controller - hop, by Toxiproxy;
- `loss`: 1-5 % of a node's incoming packets dropped, by nftables;
- `rate`: a link's results direction limited by `tc tbf`;
- `link-down`: a link down for 5-60 s (5-15 s in the short soak), then up.

Processes (another thread, one every few seconds):
- `relay-kill`: the hop's receptor SIGKILLed, restarted a moment later;
- `exec-kill`: an execution node's receptor SIGKILLed and restarted;
- `worker-kill`: a running job's worker SIGKILLed (on runnerwire's nodes: upstream's worker
  leaves its job running when killed, a known defect tests/mesh/test_mesh.py pins);
- `reader-cut`: the controller's `work results` connection of a running job shut, then
  read again from its last offset into the same `runnerwire process`;
- `process-restart`: that, with `runnerwire process` killed too (the controller restarted):
  the results are read again from the start into `runnerwire process --resume`.
"""

import os
import random
import signal
import threading
import time

from mesh import wait_for

NET_KINDS = ("latency", "loss", "rate", "link-down")
PROC_KINDS = ("relay-kill", "exec-kill", "worker-kill", "reader-cut", "process-restart")
KINDS = NET_KINDS + PROC_KINDS


class Faults:
    def __init__(self, soak, short=False, seed=28):
        self.soak = soak
        self.mesh = soak.mesh
        self.short = short
        self.rng = random.Random(seed)
        self.log = []  # (seconds since start, kind, what)
        self.failures = []  # faults that could not be made or reverted: the soak fails
        self.active = 0
        self.lock = threading.Lock()
        self.t0 = time.monotonic()

    # --- bookkeeping --------------------------------------------------------------------

    def record(self, kind, what):
        with self.lock:
            self.log.append((round(time.monotonic() - self.t0, 1), kind, what))

    def count(self):
        with self.lock:
            return len(self.log)

    def active_count(self):
        with self.lock:
            return self.active

    def by_type(self):
        with self.lock:
            counts = {}
            for _, kind, _ in self.log:
                counts[kind] = counts.get(kind, 0) + 1
            return counts

    def hold(self, stop, seconds):
        """Sleeps `seconds` unless the soak ends first."""
        stop.wait(seconds)

    # --- the network ----------------------------------------------------------------------

    def network_fault(self, kind, stop):
        rng, mesh = self.rng, self.mesh
        held = rng.uniform(5, 12) if self.short else rng.uniform(10, 30)
        link_name = rng.choice(sorted(mesh.links))
        link = mesh.links[link_name]
        with self.lock:
            self.active += 1
        try:
            if kind == "latency":
                latency = rng.randint(100, 200)
                jitter = rng.randint(50, min(100, latency - 50))
                mesh.add_latency(latency, jitter)
                self.record(kind, f"controller-hop {latency}+-{jitter} ms for {held:.0f} s")
                self.hold(stop, held)
                mesh.remove_latency()
            elif kind == "loss":
                node = rng.choice(sorted(mesh.nodes))
                percent = rng.randint(1, 5)
                mesh.net.drop_packets(node, percent)
                self.record(kind, f"{percent} % of {node}'s packets for {held:.0f} s")
                self.hold(stop, held)
                mesh.net.stop_dropping(node)
            elif kind == "rate":
                rate = rng.choice(("16mbit", "32mbit", "64mbit"))
                link.limit_rate(link.ns_b, rate)  # b: the node's end, which sends the results
                self.record(kind, f"{link_name}'s link at {rate} for {held:.0f} s")
                self.hold(stop, held)
                link.unlimit(link.ns_b)
            elif kind == "link-down":
                down = rng.uniform(5, 15) if self.short else rng.choice((rng.uniform(5, 20), rng.uniform(20, 60)))
                link.set_up(False)
                self.record(kind, f"{link_name}'s link down for {down:.0f} s")
                self.hold(stop, down)
                link.set_up(True)
        finally:
            with self.lock:
                self.active -= 1

    def network_loop(self, stop):
        while not stop.is_set():
            kinds = list(NET_KINDS)
            self.rng.shuffle(kinds)
            for kind in kinds:
                if stop.is_set():
                    return
                try:
                    self.network_fault(kind, stop)
                except Exception as e:
                    self.failed(kind, e)
                stop.wait(self.rng.uniform(1, 3))

    # --- processes ------------------------------------------------------------------------

    def restart(self, name, after):
        node = self.mesh[name]
        if node.proc is not None:
            node.kill()
        time.sleep(after)
        node.start()
        wait_for(f"{name}'s receptor to answer", node.answers, 20)

    def running_jobs(self, where=None):
        with self.soak.lock:
            jobs = [j for j in self.soak.active.values() if j.sock is not None and j.offset > 0 and not j.cut]
        return [j for j in jobs if where is None or where(j)]

    def worker_pid(self, job):
        mark = f"worker --private-data-dir={job.pdd_on_node}"
        pids = [pid for pid, cmd in self.mesh.leftovers() if mark in cmd and "--command-runner" not in cmd]
        return pids[0] if pids else None

    def process_fault(self, kind):
        rng = self.rng
        if kind == "relay-kill":
            after = rng.uniform(1, 4)
            self.restart("hop", after)
            self.record(kind, f"hop's receptor killed, restarted after {after:.1f} s")
            return True
        if kind == "exec-kill":
            name, after = rng.choice(("n1", "n2", "n3", "n4")), rng.uniform(1, 4)
            self.restart(name, after)
            self.record(kind, f"{name}'s receptor killed, restarted after {after:.1f} s")
            return True
        if kind == "worker-kill":
            upstream_everywhere = self.soak.args.worker == "upstream"
            for job in self.running_jobs(lambda j: upstream_everywhere or self.mesh[j.node].kind == "runnerwire"):
                pid = self.worker_pid(job)
                if pid:
                    os.kill(pid, signal.SIGKILL)
                    job.worker_killed = True
                    self.record(kind, f"{job.ident}'s worker on {job.node} (pid {pid})")
                    return True
            return False
        if kind in ("reader-cut", "process-restart"):
            jobs = self.running_jobs()
            if not jobs:
                return False
            job = rng.choice(jobs)
            job.cut = "process" if kind == "process-restart" else "reader"
            at = job.offset
            if kind == "process-restart":
                job.proc.kill()
            sock = job.sock
            try:
                sock.shutdown(2)
            except (OSError, AttributeError):
                pass
            self.record(kind, f"{job.ident} ({job.kind} on {job.node}) at byte {at}")
            return True
        raise ValueError(kind)

    def process_loop(self, stop):
        """Every kind once a round, in a shuffled order. A kind that needs a running job
        (worker-kill, the cuts) waits for one rather than giving its turn away."""
        interval = (5, 8) if self.short else (8, 12)
        while True:
            kinds = list(PROC_KINDS)
            self.rng.shuffle(kinds)
            for kind in kinds:
                if stop.wait(self.rng.uniform(*interval)):
                    return
                try:
                    while not self.process_fault(kind):
                        if stop.wait(0.25):
                            return
                except Exception as e:
                    self.failed(kind, e)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self, stop):
        threads = [threading.Thread(target=loop, args=(stop,), daemon=True) for loop in (self.network_loop, self.process_loop)]
        for t in threads:
            t.start()
        return threads

    def revert_all(self):
        """Every link up, unlimited and lossless, no delay, every receptor running."""
        mesh = self.mesh
        mesh.remove_latency()
        for name, link in mesh.links.items():
            link.set_up(True)
            link.unlimit(link.ns_b)
        for name in mesh.nodes:
            mesh.net.stop_dropping(name)
            node = mesh[name]
            if node.proc is None or node.proc.poll() is not None:
                node.start()
        mesh.wait_converged(60, adverts=False)

    def failed(self, kind, error):
        with self.lock:
            self.failures.append(f"{kind} at {time.monotonic() - self.t0:.0f} s: {type(error).__name__}: {error}")
