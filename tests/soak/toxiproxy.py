"""Toxiproxy (a fault-injecting TCP proxy) in one namespace of a Network, driven over its
HTTP API from a thread that has entered that namespace. The soak puts one proxy on the
controller - hop link and adds delay and jitter to it: this kernel has no netem qdisc."""

import json
import subprocess
import urllib.request

import mesh as meshlib
from mesh import wait_for

TOXIPROXY = meshlib.REPO / "target/toxiproxy/toxiproxy-server"


class Toxiproxy:
    def __init__(self, net, node, log_path, api_port=8474, marker=None):
        self.net, self.node, self.log_path, self.api_port = net, node, log_path, api_port
        self.env = {"PATH": meshlib.SYSTEM_PATH, **(marker or {})}
        self.proc = None

    def start(self):
        if not TOXIPROXY.exists():
            raise RuntimeError(f"{TOXIPROXY} is missing: run `make toxiproxy`")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*self.net.enter(self.node), str(TOXIPROXY), "-host", "127.0.0.1", "-port", str(self.api_port)],
                env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        wait_for("Toxiproxy's API", self.answers, 15)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()

        def request():
            req = urllib.request.Request(f"http://127.0.0.1:{self.api_port}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                text = resp.read()
            try:
                return json.loads(text)
            except ValueError:
                return text.decode(errors="replace")  # /version answers in plain text

        return self.net.in_namespace(self.node, request)

    def answers(self):
        try:
            self.call("GET", "/version")
            return True
        except (OSError, ValueError):
            return False

    def proxy(self, name, listen, upstream):
        self.call("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream, "enabled": True})

    def add_latency(self, name, latency_ms, jitter_ms):
        """Each direction of `name` waits latency +- jitter ms."""
        for stream in ("upstream", "downstream"):
            self.call("POST", f"/proxies/{name}/toxics", {"name": f"latency_{stream}", "type": "latency", "stream": stream,
                                                          "attributes": {"latency": latency_ms, "jitter": jitter_ms}})

    def remove_latency(self, name):
        for stream in ("upstream", "downstream"):
            try:
                self.call("DELETE", f"/proxies/{name}/toxics/latency_{stream}")
            except OSError:
                pass  # not there
