"""Network namespaces joined by veth pairs, and the faults the soak puts on their links.

Each node of the soak's mesh lives in a namespace of its own (`ip netns`), and each link
of the topology is one veth pair with a /30 of its own. Processes enter a namespace with
`nsenter --net` (only the network: `ip netns exec` would also give them a mount namespace
of their own, and podman's mounts would then be invisible to the rest of the machine).

Faults, all reverted by the same object that made them:
- packet loss: an nftables table in a namespace, `numgen random mod 100 < N drop` on input;
- a rate limit: a `tc tbf` qdisc on one end of a link;
- a link down: `ip link set ... down`, then up again (its address and route come back).

Everything is named with one prefix (`rws<pid>`), so `leftovers()` finds what a run left
behind and `teardown()` removes it; deleting a namespace also deletes its veth ends.
"""

import ctypes
import os
import subprocess
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def run(*argv, check=True):
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc


def namespaces():
    return [line.split()[0] for line in run("ip", "netns", "list").stdout.splitlines() if line.strip()]


class Link:
    """One veth pair between two namespaces: `a` end in `ns_a` (address .1), `b` end in
    `ns_b` (address .2) of 10.231.<index>.0/30."""

    def __init__(self, net, index, ns_a, ns_b):
        self.net, self.index, self.ns_a, self.ns_b = net, index, ns_a, ns_b
        self.dev_a, self.dev_b = f"{net.prefix}a{index}", f"{net.prefix}b{index}"
        self.addr_a, self.addr_b = f"10.231.{index}.1", f"10.231.{index}.2"

    def create(self):
        run("ip", "link", "add", self.dev_a, "type", "veth", "peer", "name", self.dev_b)
        for dev, ns, addr in ((self.dev_a, self.ns_a, self.addr_a), (self.dev_b, self.ns_b, self.addr_b)):
            run("ip", "link", "set", dev, "netns", ns)
            run("ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")

    def end(self, ns):
        """The device of this link inside namespace `ns`."""
        return self.dev_a if ns == self.ns_a else self.dev_b

    def set_up(self, up):
        for dev, ns in ((self.dev_a, self.ns_a), (self.dev_b, self.ns_b)):
            run("ip", "-n", ns, "link", "set", dev, "up" if up else "down")

    def limit_rate(self, ns, rate):
        """tbf on this link's end in `ns` (its egress): e.g. rate "8mbit"."""
        run("tc", "-n", ns, "qdisc", "replace", "dev", self.end(ns), "root", "tbf", "rate", rate, "burst", "32kbit", "latency", "400ms")

    def unlimit(self, ns):
        run("tc", "-n", ns, "qdisc", "del", "dev", self.end(ns), "root", check=False)


class Network:
    """The namespaces and links of one run, all under one name prefix."""

    def __init__(self, prefix=None):
        self.prefix = prefix or f"rws{os.getpid() % 100000}"
        self.names = []
        self.links = []

    def ns(self, node):
        return f"{self.prefix}-{node}"

    def add_namespace(self, node):
        name = self.ns(node)
        run("ip", "netns", "add", name)
        self.names.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def add_link(self, node_a, node_b):
        link = Link(self, len(self.links) + 1, self.ns(node_a), self.ns(node_b))
        link.create()
        self.links.append(link)
        return link

    def enter(self, node):
        """The argv prefix that runs a command in `node`'s namespace."""
        return ["nsenter", f"--net=/run/netns/{self.ns(node)}", "--"]

    def drop_packets(self, node, percent):
        """Drops `percent` % of the packets `node` receives, at random (nftables)."""
        rules = (
            f"table inet {self.prefix} {{\n chain input {{\n  type filter hook input priority 0; policy accept;\n"
            f"  iifname != \"lo\" numgen random mod 100 < {int(percent)} drop\n }}\n}}\n"
        )
        proc = subprocess.run([*self.enter(node), "nft", "-f", "-"], input=rules, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"nft in {node}: {proc.stderr.strip()}")

    def stop_dropping(self, node):
        run(*self.enter(node), "nft", "delete", "table", "inet", self.prefix, check=False)

    def in_namespace(self, node, fn):
        """fn() called on a thread of this process that has entered `node`'s namespace (for
        sockets there, e.g. Toxiproxy's API); the thread ends with the call."""
        out, err = [], []

        def call():
            try:
                fd = os.open(f"/run/netns/{self.ns(node)}", os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), f"setns into {self.ns(node)}")
                finally:
                    os.close(fd)
                out.append(fn())
            except BaseException as e:
                err.append(e)

        thread = threading.Thread(target=call)
        thread.start()
        thread.join()
        if err:
            raise err[0]
        return out[0]

    def leftovers(self):
        """Namespaces and interfaces of this prefix still present."""
        found = [n for n in namespaces() if n.startswith(self.prefix + "-")]
        found += [line.split(":")[1].strip().split("@")[0] for line in run("ip", "-o", "link").stdout.splitlines() if f" {self.prefix}" in line]
        return found

    def teardown(self):
        for name in self.names + [n for n in namespaces() if n.startswith(self.prefix + "-")]:
            run("ip", "netns", "del", name, check=False)
        self.names = []
        return self.leftovers()
