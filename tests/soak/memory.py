"""Every node's memory and CPU through the soak, sampled from /proc.

A node is its receptor and every process that carries its marker (RUNNERWIRE_SOAK_NODE,
which receptor passes to its command runners, the workers, ansible and podman's CLI).
Sampled every half second: the node's total resident memory, its receptor's, and its
largest worker's, each as a peak over the soak's first half of jobs and its second. The
soak requires every peak bounded and the second half's no higher than the first's plus a
margin: memory that grows with the number of jobs shows up there. The node's total is only
bounded: it follows which jobs happen to share the node at a moment.
"""

import os
import threading

from netmesh import NODE_MARKER

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
MB = 1 << 20
# Bounds: a node (receptor, up to `concurrency` jobs' workers, ansible-playbook and podman)
# and a receptor alone.
NODE_BOUND_MB = 3072
RECEPTOR_BOUND_MB = 512
GROWTH_MARGIN_MB = 64
GROWTH_FACTOR = 1.25


def read(path):
    with open(path, "rb") as f:
        return f.read()


class MemorySampler:
    def __init__(self, mesh, second_half):
        self.mesh = mesh
        self.second_half = second_half  # () -> bool
        self.peaks = {}  # (node, what, half) -> bytes
        self.cpu = {}  # pid -> (node, is_receptor, cpu seconds since the first sample)
        self.cpu_base = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def start(self):
        self.machine_cpu_at_start = self.machine_cpu()
        self.thread.start()

    @staticmethod
    def machine_cpu():
        """CPU seconds the whole machine has spent busy (user, nice, system, irq, softirq)."""
        fields = read("/proc/stat").split(b"\n", 1)[0].split()[1:]
        return sum(int(fields[i]) for i in (0, 1, 2, 5, 6)) / TICK

    def stop(self):
        self.stopped.set()
        self.thread.join(10)
        self.machine_cpu_used = self.machine_cpu() - self.machine_cpu_at_start

    def loop(self):
        while not self.stopped.wait(0.5):
            self.sample()

    def sample(self):
        half = 1 if self.second_half() else 0
        receptors = {n.proc.pid: name for name, n in self.mesh.nodes.items() if n.proc is not None}
        totals, workers = {}, {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                node = receptors.get(pid)
                if node is None:
                    env = read(f"/proc/{pid}/environ").split(b"\0")
                    marks = [e for e in env if e.startswith(NODE_MARKER.encode() + b"=")]
                    if not marks:
                        continue
                    node = marks[0].split(b"=", 1)[1].decode()
                rss = int(read(f"/proc/{pid}/statm").split()[1]) * PAGE
                stat = read(f"/proc/{pid}/stat").rsplit(b")", 1)[1].split()
                cmd = read(f"/proc/{pid}/cmdline")
            except (OSError, IndexError, ValueError):
                continue
            seconds = (int(stat[11]) + int(stat[12])) / TICK
            # From the first sample on: the soak's jobs, not the references before them.
            self.cpu_base.setdefault(pid, seconds)
            self.cpu[pid] = (node, pid in receptors, seconds - self.cpu_base[pid])
            totals[node] = totals.get(node, 0) + rss
            if pid in receptors:
                self.peak(node, "receptor", half, rss)
            elif b"worker\0--private-data-dir" in cmd:
                workers[node] = max(workers.get(node, 0), rss)
        for node, total in totals.items():
            self.peak(node, "node", half, total)
        for node, rss in workers.items():
            self.peak(node, "worker", half, rss)

    def peak(self, node, what, half, value):
        key = (node, what, half)
        self.peaks[key] = max(self.peaks.get(key, 0), value)

    def summary(self):
        out = {}
        for (node, what, half), value in sorted(self.peaks.items()):
            out.setdefault(node, {}).setdefault(what, [0, 0])[half] = round(value / MB, 1)
        return out

    def cpu_summary(self):
        """CPU seconds of each node's receptor (as last sampled: it lives through the soak,
        but a restart starts its count again) and the whole machine's over the soak."""
        receptors = {}
        for node, is_receptor, seconds in self.cpu.values():
            if is_receptor:
                receptors[node] = receptors.get(node, 0.0) + seconds
        return {"receptors": {n: round(v, 1) for n, v in sorted(receptors.items())}, "machine": round(self.machine_cpu_used, 1)}

    def lines(self):
        lines = []
        for node, whats in self.summary().items():
            parts = [f"{what} {first:.0f} MB then {second:.0f} MB" for what, (first, second) in sorted(whats.items())]
            lines.append(f"peak RSS {node}: " + ", ".join(parts) + " (first half of the jobs, then the second)")
        cpu = self.cpu_summary()
        receptors = sum(cpu["receptors"].values())
        lines.append(f"cpu: the machine {cpu['machine']:.0f} s, receptors {receptors:.0f} s ("
                     + ", ".join(f"{n} {s:.0f}" for n, s in cpu["receptors"].items()) + ")")
        return lines

    def problems(self):
        problems = []
        for node, whats in self.summary().items():
            for what, (first, second) in whats.items():
                bound = RECEPTOR_BOUND_MB if what == "receptor" else NODE_BOUND_MB
                if max(first, second) > bound:
                    problems.append(f"{node}'s {what} peaked at {max(first, second):.0f} MB, over {bound} MB")
                # A node's total follows which jobs happen to run on it at once (three
                # podman jobs weigh more than three one-task jobs): bounded, not compared.
                if what != "node" and first and second > first * GROWTH_FACTOR + GROWTH_MARGIN_MB:
                    problems.append(f"{node}'s {what} grew from {first:.0f} MB to {second:.0f} MB between the soak's halves")
        return problems
