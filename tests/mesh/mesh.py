"""A real Receptor mesh on loopback, driven over its control socket as AWX drives it.

`Mesh` starts one receptor process per node (its own datadir, node id, control socket and
log file), execution nodes listening on free 127.0.0.1 ports and the controller peering to
them (AWX's controller writes one `tcp-peer` per execution node). Execution nodes carry
AWX's work-command block unchanged: worktype ansible-runner, command ansible-runner,
params worker, runtime params allowed, signed work verified. A "runnerwire" node finds
`ansible-runner` as a link to target/release/runnerwire next to ansible-core (.venv-core);
an "upstream" node finds upstream's ansible-runner in .venv.

`Controller` is AWX's side (awx/main/tasks/receptor.py): submit_work with a job stream fed
through a socketpair while transmit writes it, `--private-data-dir=<dir> --delete`, results
read from `work results` while the unit runs, `work release`, and run_until_complete for
the `--worker-info` health check and `cleanup ...` (empty payload, TTL 20s).

Every process the mesh starts carries RUNNERWIRE_MESH=<root> in its environment and
passes it on, so `leftovers()` finds anything still running that came from this mesh.
"""

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RECEPTOR = Path(os.environ.get("RUNNERWIRE_RECEPTOR") or REPO / "target/receptor/receptor")
RUNNERWIRE = Path(os.environ.get("RUNNERWIRE_BIN") or REPO / "target/release/runnerwire")
VENV_BIN = Path(os.environ.get("RUNNERWIRE_VENV") or REPO / ".venv") / "bin"
CORE_VENV_BIN = Path(os.environ.get("RUNNERWIRE_CORE_VENV") or REPO / ".venv-core") / "bin"
CONTAINERS_CONF = os.environ.get("CONTAINERS_CONF") or str(REPO / "tests/container/containers.conf")
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
MARKER = "RUNNERWIRE_MESH"

# AWX's work-command block for execution nodes (receptor.conf written by its installer).
WORK_COMMAND = {
    "worktype": "ansible-runner",
    "command": "ansible-runner",
    "params": "worker",
    "allowruntimeparams": True,
    "verifysignature": True,
}
ACTIVE_STATES = ("Pending", "Running")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, condition, timeout, interval=0.1):
    """Polls `condition` until it returns a true value; raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(interval)


def yaml_scalar(value):
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))  # a JSON string is a YAML string


def receptor_yaml(entries):
    """Receptor's config: a YAML list of one-key maps (written by hand: no PyYAML needed)."""
    lines = ["---"]
    for name, body in entries:
        if isinstance(body, dict):
            lines.append(f"- {name}:")
            lines.extend(f"    {k}: {yaml_scalar(v)}" for k, v in body.items())
        else:
            lines.append(f"- {name}: {yaml_scalar(body)}")
    return "\n".join(lines) + "\n"


class Node:
    """One receptor process. kind: "controller", "runnerwire" or "upstream"."""

    def __init__(self, mesh, name, kind):
        self.mesh, self.name, self.kind = mesh, name, kind
        self.dir = mesh.root / name
        self.datadir = self.dir / "data"
        self.socket = self.dir / "receptor.sock"
        self.log = self.dir / "receptor.log"
        self.config = self.dir / "receptor.conf"
        self.home = self.dir / "home"
        self.work = self.dir / "work"  # where this node's private data dirs go
        self.port = None if kind == "controller" else free_port()
        self.proc = None
        self.logfile = None

    def path(self):
        if self.kind == "runnerwire":
            bin_dir = self.dir / "bin"
            bin_dir.mkdir(parents=True, exist_ok=True)
            link = bin_dir / "ansible-runner"
            if not link.is_symlink():
                link.symlink_to(RUNNERWIRE.resolve())
            return f"{bin_dir}:{CORE_VENV_BIN}:{SYSTEM_PATH}"
        if self.kind == "upstream":
            return f"{VENV_BIN}:{SYSTEM_PATH}"
        return SYSTEM_PATH

    def env(self):
        return {
            "PATH": self.path(),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TZ": "UTC",
            "TMPDIR": str(self.dir / "tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "CONTAINERS_CONF": CONTAINERS_CONF,
            MARKER: str(self.mesh.root),
        }

    def base_config(self):
        """The node's directories, and the entries every node's config starts with."""
        for d in (self.datadir, self.home, self.work, self.dir / "tmp"):
            d.mkdir(parents=True, exist_ok=True)
        return [
            ("node", {"id": self.name, "datadir": str(self.datadir)}),
            ("log-level", self.mesh.log_level),
            ("control-service", {"service": "control", "filename": str(self.socket), "permissions": "0600"}),
        ]

    def write_config(self):
        entries = self.base_config()
        if self.kind == "controller":
            entries.append(("work-signing", {"privatekey": str(self.mesh.private_key), "tokenexpiration": "1m"}))
            for peer in self.mesh.executors():
                entries.append(("tcp-peer", {"address": f"127.0.0.1:{peer.port}", "redial": True}))
        else:
            entries.append(("tcp-listener", {"port": self.port, "bindaddr": "127.0.0.1"}))
            entries.append(("work-verification", {"publickey": str(self.mesh.public_key)}))
            entries.append(("work-command", WORK_COMMAND))
        self.config.write_text(receptor_yaml(entries))

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        if self.socket.exists():
            self.socket.unlink()  # a killed receptor leaves its socket behind
        self.logfile = open(self.log, "ab")
        self.proc = subprocess.Popen(
            self.argv(),
            env=self.env(),
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=self.logfile,
            stderr=subprocess.STDOUT,
        )

    def argv(self):
        # Receptor starts its command runners as os.Args[0]: give it an absolute path.
        return [str(RECEPTOR.resolve()), "--config", str(self.config)]

    def ctl(self):
        from receptorctl.socket_interface import ReceptorControl

        return ReceptorControl(str(self.socket))

    def command(self, text):
        ctl = self.ctl()
        try:
            return ctl.simple_command(text)
        finally:
            ctl.close()

    def answers(self):
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"receptor {self.name} exited ({self.proc and self.proc.returncode}); log:\n{self.log_tail()}")
        if not self.socket.exists():
            return None
        try:
            return self.command("status")
        except (OSError, RuntimeError, ValueError):
            return None

    def stop(self, timeout=10):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.logfile.close()
        self.proc = None

    def kill(self):
        """SIGKILL, as a crash: nothing of receptor's own shutdown runs."""
        self.proc.kill()
        self.proc.wait(10)
        self.logfile.close()
        self.proc = None

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Mesh:
    """A controller and execution nodes. `executors`: {name: "runnerwire" | "upstream"}."""

    def __init__(self, root, executors, log_level="info"):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_level = log_level
        self.private_key = self.root / "work-private-key.pem"
        self.public_key = self.root / "work-public-key.pem"
        self.left_at_stop = []
        self.controller = Node(self, "controller", "controller")
        self.nodes = {"controller": self.controller}
        for name, kind in executors.items():
            assert kind in ("runnerwire", "upstream"), kind
            self.nodes[name] = Node(self, name, kind)

    def executors(self):
        return [n for n in self.nodes.values() if n.kind != "controller"]

    def __getitem__(self, name):
        return self.nodes[name]

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.left_at_stop = self.stop()

    def check_tools(self):
        for tool, hint in ((RECEPTOR, "make receptor"), (RUNNERWIRE, "make build")):
            if not tool.exists():
                raise RuntimeError(f"{tool} is missing: run `{hint}`")
        for tool, hint in ((CORE_VENV_BIN / "ansible-playbook", "make core-venv"), (VENV_BIN / "ansible-runner", "make venv")):
            if not tool.exists():
                raise RuntimeError(f"{tool} is missing: run `{hint}`")

    def write_keys(self):
        """An RSA key pair for work signing, as AWX's controller signs every submission."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_key.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        self.private_key.chmod(0o600)
        self.public_key.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

    def start(self, timeout=30):
        self.check_tools()
        self.write_keys()
        for node in self.nodes.values():
            node.write_config()
        for node in self.executors():
            node.start()
        # Listeners first: a controller that dials too early waits out receptor's redial delay.
        wait_for("the execution nodes' control sockets", lambda: all(n.answers() for n in self.executors()), timeout)
        self.controller.start()
        self.wait_converged(timeout)

    def converged(self, adverts=True):
        """Every node answers on its socket, the controller has a route to every execution
        node and each of them one back; with `adverts`, the controller has also seen each
        execution node advertise the ansible-runner work type (what AWX's
        find_node_in_mesh looks for). A restarted controller sees those only at the nodes'
        next periodic advertisement, which work submission does not need."""
        status = {name: node.answers() for name, node in self.nodes.items()}
        if not all(status.values()):
            return False
        ctl = status["controller"]
        routes = ctl.get("RoutingTable") or {}
        seen = {a.get("NodeID"): a for a in ctl.get("Advertisements") or []}
        for node in self.executors():
            if node.name not in routes or "controller" not in (status[node.name].get("RoutingTable") or {}):
                return False
            if not adverts:
                continue
            if node.name not in seen:
                return False
            worktypes = [w.get("WorkType") for w in seen[node.name].get("WorkCommands") or []]
            if "ansible-runner" not in worktypes:
                return False
        return True

    def wait_converged(self, timeout=30, adverts=True):
        try:
            wait_for("mesh convergence", lambda: self.converged(adverts), timeout, interval=0.2)
        except TimeoutError:
            logs = "\n".join(f"--- {n.name}\n{n.log_tail(10)}" for n in self.nodes.values())
            raise TimeoutError(f"the mesh did not converge within {timeout} s\n{logs}") from None

    def restart(self, name, timeout=30):
        """Starts a stopped or killed node again: same config, same datadir."""
        node = self.nodes[name]
        node.start()
        self.wait_converged(timeout, adverts=False)

    def stop(self):
        """Stops every node; returns the processes of this mesh that were still running
        after that (and had to be killed)."""
        # The controller first (it holds the results connections), then the executors.
        for node in [self.controller] + self.executors():
            node.stop()
        # Command runners outlive a receptor by design (they run detached); once every
        # receptor is down nothing will collect them: end what is left of this mesh.
        left = self.leftovers()
        self.kill_leftovers()
        return left

    def leftovers(self):
        """(pid, command line) of every process still carrying this mesh's marker."""
        mark = f"{MARKER}={self.root}".encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    env = f.read().split(b"\0")
                if mark not in env:
                    continue
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                with open(f"/proc/{entry}/stat", "rb") as f:
                    if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                        continue  # a zombie holds nothing and its parent will reap it
            except OSError:
                continue
            found.append((int(entry), cmd))
        return found

    def kill_leftovers(self):
        for pid, _ in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        wait_for("this mesh's processes to die", lambda: not self.leftovers(), 10)


class Controller:
    """What AWX's controller does over its receptor's control socket."""

    def __init__(self, mesh):
        self.mesh = mesh
        self.node = mesh.controller

    def submit(self, node, transmit, params, ttl=None):
        """Submits a job to `node`: `transmit(f)` writes the job stream to the binary file
        `f` while receptor reads the other end of a socketpair (AWX's _run_internal).
        Returns the unit id."""
        sockin, sockout = socket.socketpair()
        failure = []

        def writer():
            try:
                with sockin.makefile("wb") as f:
                    transmit(f)
            except BaseException as e:  # reported after submit returns
                failure.append(e)
            finally:
                try:
                    sockin.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        ctl = self.node.ctl()
        payload = sockout.makefile("rb")
        try:
            result = ctl.submit_work(
                worktype="ansible-runner",
                payload=payload,
                node=node,
                ttl=ttl,
                signwork=True,
                params=params,
            )
        finally:
            ctl.close()
            thread.join(60)
            payload.close()
            sockin.close()
            sockout.close()
        if failure:
            raise failure[0]
        return result["unitid"]

    def submit_job(self, node, transmit, node_pdd, delete=True):
        """A job as AWX submits it to an execution node."""
        params = f"--private-data-dir={node_pdd}" + (" --delete" if delete else "")
        return self.submit(node, transmit, {"params": params})

    def results(self, unit_id, timeout=120, startpos=0):
        """The open results stream (AWX reads it while the job runs): (socket, file).
        Reads time out after `timeout` seconds of silence."""
        ctl = self.node.ctl()
        sock, f = ctl.get_work_results(unit_id, startpos=startpos, return_socket=True, return_sockfile=True)
        sock.settimeout(timeout)
        return sock, f

    def read_results(self, unit_id, timeout=120, startpos=0, size=None):
        """The unit's results from `startpos` to the end of the stream, or `size` bytes:
        receptor never ends the results stream of a canceled unit, so read those up to the
        StdoutSize its status reports."""
        sock, f = self.results(unit_id, timeout, startpos)
        try:
            if size is None:
                return f.read()
            data = b""
            while len(data) < size - startpos and (chunk := f.read1(size - startpos - len(data))):
                data += chunk
            return data
        finally:
            f.close()
            sock.close()

    def status(self, unit_id):
        return self.node.command(f"work status {unit_id}")

    def wait_done(self, unit_id, timeout=120):
        return wait_for(
            f"unit {unit_id} to finish",
            lambda: (s := self.status(unit_id)).get("StateName") not in ACTIVE_STATES and s,
            timeout,
            interval=0.25,
        )

    def cancel(self, unit_id):
        return self.node.command(f"work cancel {unit_id}")

    def release(self, unit_id):
        return self.node.command(f"work release {unit_id}")

    def work_list(self):
        return self.node.command("work list")

    def run_until_complete(self, node, params, ttl="20s", timeout=60):
        """AWX's run_until_complete: empty payload, a TTL, the unit's stdout as text once
        it is no longer active, released afterwards. Returns (state, detail, stdout)."""
        unit_id = self.submit(node, lambda f: None, params, ttl=ttl)
        try:
            sock, f = self.results(unit_id, timeout)
            try:
                status = self.wait_done(unit_id, timeout)
                stdout = f.read().decode()
            finally:
                f.close()
                sock.close()
        finally:
            released = self.release(unit_id)
            assert released == {"released": unit_id}, released
        return status.get("StateName"), status.get("Detail", ""), stdout


def upstream_transmit(pdd, **kwargs):
    """A transmit callable: upstream's Python API (AWX's transmit)."""
    import ansible_runner

    def transmit(f):
        ansible_runner.interface.run(streamer="transmit", _output=f, private_data_dir=str(pdd), **kwargs)

    return transmit


def runnerwire_transmit(pdd, *args):
    """A transmit callable: `runnerwire transmit <pdd> <args>` writing into the socket."""

    def transmit(f):
        with subprocess.Popen([str(RUNNERWIRE), "transmit", str(pdd), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            while chunk := proc.stdout.read(1 << 16):
                f.write(chunk)
            f.flush()
            err = proc.stderr.read()
        if proc.returncode != 0:
            raise RuntimeError(f"runnerwire transmit failed: {err.decode(errors='replace')}")

    return transmit


def bytes_transmit(data):
    def transmit(f):
        f.write(data)
        f.flush()

    return transmit
