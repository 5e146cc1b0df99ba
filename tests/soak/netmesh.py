"""A Receptor mesh of network namespaces: a controller, a hop (relay) node and four
execution nodes, each in its own namespace, joined by veth pairs.

    controller --(Toxiproxy)-- hop --- n1
         |                      \\--- n2
         |--(TLS)-- n3
         \\-------- n4

- controller - hop runs through Toxiproxy in the controller's namespace (the delay and
  jitter faults); n1 and n2 dial the hop, as execution nodes behind a hop do in AWX's mesh,
  so their work crosses the relay;
- controller - n3 runs over TLS with certificates made by receptor's own `--cert-*`
  commands for this run (node ids in the certificates, client certificates required);
- n1, n2 and n3 run runnerwire as `ansible-runner`, n4 upstream's ansible-runner (or every
  node upstream's, for the side-by-side figures).

The nodes are tests/mesh/mesh.py's, started through `nsenter --net`; their control sockets
are files, so the controller's is driven from this process as AWX drives it.
"""

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mesh"))
import mesh as meshlib  # noqa: E402
from mesh import WORK_COMMAND, Mesh, Node, receptor_yaml, wait_for  # noqa: E402
from netns import Network  # noqa: E402
from toxiproxy import Toxiproxy  # noqa: E402

REPO = meshlib.REPO
PORT = 27199
PROXY_PORT = 27100
NODE_MARKER = "RUNNERWIRE_SOAK_NODE"

# (node, kind in the standard run, the node it links to, how)
TOPOLOGY = [
    ("hop", "hop", "controller", "proxied"),
    ("n1", "runnerwire", "hop", "dials"),
    ("n2", "runnerwire", "hop", "dials"),
    ("n3", "runnerwire", "controller", "tls"),
    ("n4", "upstream", "controller", "tcp"),
]


class NetNode(Node):
    def __init__(self, mesh, name, kind):
        super().__init__(mesh, name, kind)
        self.port = PORT
        self.peers = []  # (address, tls config name or None)
        self.listens = kind != "controller"
        self.tls = {}  # receptor tls-server / tls-client blocks
        self.listener_tls = None

    def env(self):
        return {**super().env(), NODE_MARKER: self.name}

    def write_config(self):
        entries = self.base_config() + list(self.tls.items())
        if self.listens:
            listener = {"port": self.port}
            if self.listener_tls:
                listener["tls"] = self.listener_tls
            entries.append(("tcp-listener", listener))
        for address, tls in self.peers:
            peer = {"address": address, "redial": True}
            if tls:
                peer["tls"] = tls
            entries.append(("tcp-peer", peer))
        if self.kind == "controller":
            entries.append(("work-signing", {"privatekey": str(self.mesh.private_key), "tokenexpiration": "1m"}))
        elif self.kind != "hop":
            entries.append(("work-verification", {"publickey": str(self.mesh.public_key)}))
            entries.append(("work-command", WORK_COMMAND))
        self.config.write_text(receptor_yaml(entries))

    def argv(self):
        return [*self.mesh.net.enter(self.name), *super().argv()]


class NetMesh(Mesh):
    """`worker`: "standard" (n1-n3 runnerwire, n4 upstream) or "upstream" (all upstream)."""

    def __init__(self, root, worker="standard", log_level="info"):
        self.net = Network()
        self.toxiproxy = None
        kinds = {name: ("upstream" if worker == "upstream" and kind == "runnerwire" else kind) for name, kind, _, _ in TOPOLOGY}
        super().__init__(root, {}, log_level)
        self.controller = NetNode(self, "controller", "controller")
        self.nodes = {"controller": self.controller}
        for name, kind in kinds.items():
            self.nodes[name] = NetNode(self, name, kind)
        self.links = {}

    def executors(self):
        return [n for n in self.nodes.values() if n.kind in ("runnerwire", "upstream")]

    # --- the network -------------------------------------------------------------------

    def build_network(self):
        for name in self.nodes:
            self.net.add_namespace(name)
        for name, _, other, how in TOPOLOGY:
            link = self.net.add_link(other, name)  # a end: the controller or the hop
            self.links[name] = link
            node, near = self.nodes[name], self.nodes[other]
            if how == "proxied":
                near.peers.append((f"127.0.0.1:{PROXY_PORT}", None))
            elif how == "dials":
                node.peers.append((f"{link.addr_a}:{PORT}", None))
            elif how == "tls":
                near.peers.append((f"{link.addr_b}:{PORT}", "client"))
                node.listener_tls = "server"
            else:
                near.peers.append((f"{link.addr_b}:{PORT}", None))
        self.controller.listens = False

    def make_certificates(self):
        """A CA, a server certificate for n3 (its node id and address) and a client
        certificate for the controller, by receptor's own certificate commands."""
        pki = self.root / "pki"
        pki.mkdir(exist_ok=True)
        receptor = str(meshlib.RECEPTOR.resolve())

        def cert(*args):
            subprocess.run([receptor, *args], check=True, capture_output=True)

        cert("--cert-init", "commonname=runnerwire soak CA", "bits=2048", f"outcert={pki}/ca.crt", f"outkey={pki}/ca.key")
        for name, extra in (("n3", [f"ipaddress={self.links['n3'].addr_b}"]), ("controller", [])):
            cert("--cert-makereq", "bits=2048", f"commonname={name}", f"nodeid={name}", *extra, f"outreq={pki}/{name}.csr", f"outkey={pki}/{name}.key")
            cert("--cert-signreq", f"req={pki}/{name}.csr", f"cacert={pki}/ca.crt", f"cakey={pki}/ca.key", f"outcert={pki}/{name}.crt", "verify=yes")
        self.nodes["n3"].tls["tls-server"] = {
            "name": "server", "cert": f"{pki}/n3.crt", "key": f"{pki}/n3.key",
            "requireclientcert": True, "clientcas": f"{pki}/ca.crt",
        }
        self.controller.tls["tls-client"] = {"name": "client", "cert": f"{pki}/controller.crt", "key": f"{pki}/controller.key", "rootcas": f"{pki}/ca.crt"}

    # --- Toxiproxy on controller - hop ---------------------------------------------------

    def start_toxiproxy(self):
        self.toxiproxy = Toxiproxy(self.net, "controller", self.root / "toxiproxy.log", marker={meshlib.MARKER: str(self.root)})
        self.toxiproxy.start()
        self.toxiproxy.proxy("hop", f"127.0.0.1:{PROXY_PORT}", f"{self.links['hop'].addr_b}:{PORT}")

    def add_latency(self, latency_ms, jitter_ms):
        self.toxiproxy.add_latency("hop", latency_ms, jitter_ms)

    def remove_latency(self):
        self.toxiproxy.remove_latency("hop")

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, timeout=60):
        self.check_tools()
        self.write_keys()
        self.build_network()
        self.make_certificates()
        for node in self.nodes.values():
            node.write_config()
        self.start_toxiproxy()
        # Listeners first, then the controller, then the nodes behind the hop: a node
        # advertises its work types when it joins, and floods them only as far as the mesh
        # reaches then (the next advertisement is 60 s later).
        for name in ("hop", "n3", "n4"):
            self.nodes[name].start()
        wait_for("the listeners' control sockets", lambda: all(self.nodes[n].answers() for n in ("hop", "n3", "n4")), timeout)
        self.controller.start()
        wait_for("a route from the controller to the hop", lambda: "hop" in ((self.controller.answers() or {}).get("RoutingTable") or {}), timeout)
        for name in ("n1", "n2"):
            self.nodes[name].start()
        self.wait_converged(timeout)

    def stop(self):
        """Stops every receptor and Toxiproxy, ends what is left of the mesh and removes the
        namespaces. Returns the processes that were still running after the receptors
        stopped, and the namespaces or interfaces still present afterwards."""
        if self.toxiproxy is not None:
            self.toxiproxy.stop()
        for node in self.nodes.values():
            node.stop()
        left = self.leftovers()
        self.kill_leftovers()
        net_left = self.net.teardown()
        return left, net_left
