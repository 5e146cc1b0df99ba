"""The short soak, and proof that the soak's faults are real.

`FaultsAreReal`: two namespaces and a veth pair (tests/soak/netns.py) and Toxiproxy, with no
Receptor: each fault primitive the soak uses is measured doing what it says (added delay,
dropped packets, a limited rate, a link that is down and comes back), and teardown leaves
no namespace, interface or process. `ShortSoak`: tests/soak/soak.py at two minutes of jobs,
its last line and exit status checked. Needs root (`make test-soak`).

Run: `make test-soak` (needs `make build core-venv venv receptor toxiproxy test-image`).
"""

import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "mesh"))
from netns import Network, namespaces  # noqa: E402
from toxiproxy import Toxiproxy  # noqa: E402

LAST_LINE = re.compile(r"^soak: (\d+) jobs, (\d+) faults, (\d+) successful, (\d+) explicit failures, (\d+) lost, (\d+) duplicated, (\d+) orphans$")
SHORT = ["--jobs", "36", "--minutes", "2.5", "--min-faults", "8", "--short"]


def serve_tcp(net, node, port, handler):
    """A listening socket made in `node`'s namespace (a socket keeps the namespace it was
    made in), served by `handler(conn)` on a thread of this process."""
    def make():
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen()
        return s

    server = net.in_namespace(node, make)

    def loop():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return server


def echo(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def sink(conn):
    with conn:
        while conn.recv(1 << 20):
            pass
        conn.sendall(b"done")


@unittest.skipUnless(os.geteuid() == 0, "needs root")
class FaultsAreReal(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = Network()
        cls.net.add_namespace("a")
        cls.net.add_namespace("b")
        cls.link = cls.net.add_link("a", "b")
        cls.echo = serve_tcp(cls.net, "b", 7000, echo)
        cls.sink = serve_tcp(cls.net, "b", 7001, sink)

    @classmethod
    def tearDownClass(cls):
        cls.echo.close()
        cls.sink.close()
        left = cls.net.teardown()
        assert not left, f"left after teardown: {left}"

    def connect(self, address, timeout=5):
        return self.net.in_namespace("a", lambda: socket.create_connection(address, timeout=timeout))

    def round_trip(self, sock):
        started = time.monotonic()
        sock.sendall(b"ping")
        self.assertEqual(sock.recv(16), b"ping")
        return time.monotonic() - started

    def test_the_link_joins_the_two_namespaces_and_nothing_else(self):
        with self.connect((self.link.addr_b, 7000)) as s:
            self.assertLess(self.round_trip(s), 0.05)
        # The link's addresses are on no interface of this machine's own namespace.
        here = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True).stdout
        self.assertNotIn(self.link.addr_b, here)
        there = subprocess.run(["ip", "-n", self.net.ns("b"), "-o", "addr"], capture_output=True, text=True, check=True).stdout
        self.assertIn(self.link.addr_b, there)

    def test_toxiproxy_adds_the_delay_and_jitter_it_is_given(self):
        proxy = Toxiproxy(self.net, "a", os.devnull)
        proxy.start()
        try:
            proxy.proxy("link", "127.0.0.1:27100", f"{self.link.addr_b}:7000")
            with self.connect(("127.0.0.1", 27100)) as s:
                quick = self.round_trip(s)
                proxy.add_latency("link", 150, 100)
                trips = [self.round_trip(s) for _ in range(8)]
                proxy.remove_latency("link")
                after = self.round_trip(s)
        finally:
            proxy.stop()
        # Each direction waits 50-250 ms: a round trip 100-500 ms, and not all alike.
        self.assertLess(quick, 0.05)
        self.assertTrue(all(0.09 < t < 0.6 for t in trips), trips)
        self.assertGreater(max(trips) - min(trips), 0.02, trips)
        self.assertLess(after, 0.05)

    def test_nftables_drops_the_share_of_packets_it_is_given(self):
        def receiver():
            r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            # Room for every datagram (SO_RCVBUFFORCE, as root): only the rule may drop.
            r.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)
            r.bind(("0.0.0.0", 7002))
            r.settimeout(0.5)
            return r

        r = self.net.in_namespace("b", receiver)
        s = self.net.in_namespace("a", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        self.net.drop_packets("b", 20)
        try:
            for i in range(2000):
                s.sendto(b"x", (self.link.addr_b, 7002))
            got = 0
            try:
                while r.recv(16):
                    got += 1
            except socket.timeout:
                pass
        finally:
            self.net.stop_dropping("b")
            s.close()
            r.close()
        # 20 % of 2000 dropped: 400 expected, binomial sd about 18.
        self.assertTrue(1450 < got < 1750, got)

    def test_tbf_limits_the_rate_of_a_link(self):
        def send(n):
            with self.connect((self.link.addr_b, 7001), timeout=30) as s:
                started = time.monotonic()
                s.sendall(b"\0" * n)
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(s.recv(16), b"done")
                return time.monotonic() - started

        free = send(1 << 20)
        self.link.limit_rate(self.link.ns_a, "4mbit")
        try:
            limited = send(1 << 20)
        finally:
            self.link.unlimit(self.link.ns_a)
        # 8 Mbit at 4 Mbit/s: about 2 s.
        self.assertLess(free, 0.5)
        self.assertGreater(limited, 1.6)
        self.assertLess(limited, 4)

    def test_a_link_down_carries_nothing_and_comes_back(self):
        with self.connect((self.link.addr_b, 7000)) as s:
            self.link.set_up(False)
            try:
                s.settimeout(1)
                s.sendall(b"ping")
                with self.assertRaises(socket.timeout):
                    s.recv(16)
                with self.assertRaises(OSError):
                    self.connect((self.link.addr_b, 7000), timeout=1)
            finally:
                self.link.set_up(True)
            # TCP retransmits what it held: the same connection answers again.
            s.settimeout(10)
            self.assertEqual(s.recv(16), b"ping")


@unittest.skipUnless(os.geteuid() == 0, "needs root")
class ShortSoak(unittest.TestCase):
    def test_two_minutes_of_jobs_under_faults_lose_nothing_and_leave_nothing(self):
        before = namespaces()
        proc = subprocess.run([sys.executable, str(HERE / "soak.py"), *SHORT], capture_output=True, text=True, timeout=600)
        lines = [l for l in proc.stdout.splitlines() if l.startswith("soak: ")]
        print("\n" + "\n".join(lines), file=sys.stderr)
        self.assertTrue(lines, proc.stderr[-3000:])
        match = LAST_LINE.match(lines[-1])
        self.assertTrue(match, lines[-1])
        jobs, faults, ok, failed, lost, duplicated, orphans = map(int, match.groups())
        self.assertEqual(proc.returncode, 0, "\n".join(l for l in lines if "FAILED" in l or "BAD" in l) or proc.stderr[-3000:])
        self.assertEqual(jobs, 36)
        self.assertEqual(ok + failed, jobs)
        self.assertGreaterEqual(faults, 8)
        self.assertEqual((lost, duplicated, orphans), (0, 0, 0))
        # Most jobs come through the faults whole; the failures are the killed workers'.
        self.assertGreater(ok, jobs * 0.75)
        # The soak's own teardown check passed (exit 0); and no namespace of it is left.
        self.assertEqual([n for n in namespaces() if n.startswith("rws") and n not in before], [])


if __name__ == "__main__":
    unittest.main()
