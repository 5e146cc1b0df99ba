"""`make test-dist`: each artifact of `make dist` installed fresh, away from the checkout,
then a job run through it.

- the wheel, into a new venv with nothing else (pip --no-index: it needs no other
  package): `runnerwire.interface.run(streamer="process")` and `python -m runnerwire process`
  read a recorded job's results and write what upstream wrote, and the demo job runs through
  `run(streamer="transmit")`, `"worker"` and `"process"`;
- the npm tarball, into an empty npm project: `import("runnerwire")` and its CLI process the
  same results;
- the CLI tarball, unpacked: `transmit | worker | process` runs the demo job (ansible-core
  from RUNNERWIRE_CORE_VENV), and the wheel's Processor reads that worker's results too;
  `bin/runnerwire view` serves the page the tarball carries in share/runnerwire/web.

RUNNERWIRE_DIST names the directory (default target/dist).
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DIST = os.environ.get("RUNNERWIRE_DIST", os.path.join(ROOT, "target", "dist"))
CORE_VENV = os.environ.get("RUNNERWIRE_CORE_VENV", os.path.join(ROOT, ".venv-core"))
SIMPLE = os.path.join(ROOT, "fixtures", "simple")
ARCH = os.uname().machine
# The newest glibc any binary may need (the Makefile's GLIBC_FLOOR): RHEL 8's.
GLIBC_FLOOR = tuple(int(n) for n in os.environ.get("RUNNERWIRE_GLIBC", "2.28").split("."))
PACKAGING_VENV = os.environ.get("RUNNERWIRE_PACKAGING_VENV", os.path.join(ROOT, "target", "packaging-venv"))
ELF_MACHINES = {62: "x86_64", 183: "aarch64"}


def one(pattern):
    found = glob.glob(os.path.join(DIST, pattern))
    if len(found) != 1:
        raise AssertionError(f"expected one {pattern} in {DIST}, found {found}")
    return found[0]


def upstream_event_files():
    """The event files upstream's process wrote for fixtures/simple (name -> bytes)."""
    with tarfile.open(os.path.join(SIMPLE, "process.tar")) as t:
        return {os.path.basename(m.name): t.extractfile(m).read() for m in t.getmembers()
                if m.isfile() and "/job_events/" in "/" + m.name}


def event_files(artifact_dir):
    d = os.path.join(artifact_dir, "job_events")
    out = {}
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = f.read()
    return out


def elf_machine(data):
    """The architecture an ELF file is built for (its header's e_machine)."""
    assert data[:4] == b"\x7fELF", "not an ELF file"
    return ELF_MACHINES.get(int.from_bytes(data[18:20], "little"), "unknown")


def glibc_versions(path):
    """The GLIBC_x.y symbol versions an ELF file needs, by `objdump -T`."""
    dump = subprocess.run(["objdump", "-T", path], capture_output=True, text=True, check=True).stdout
    return sorted({tuple(int(n) for n in v.split(".")) for v in re.findall(r"\(GLIBC_([0-9.]+)\)", dump)})


class Artifacts(unittest.TestCase):
    """What `make dist` writes, before anything is installed: two CLI tarballs and two wheels,
    one per architecture, the npm tarball and SHA256SUMS; every binary of the architecture its
    name says, needing glibc 2.28 at most; each wheel accepted by auditwheel."""

    def test_dist_holds_the_six_artifacts(self):
        names = sorted(os.listdir(DIST))
        expected = [r"runnerwire-\d+\.\d+\.\d+-aarch64-unknown-linux-gnu\.tar\.gz",
                    r"runnerwire-\d+\.\d+\.\d+-cp39-abi3-manylinux_2_28_aarch64\.whl",
                    r"runnerwire-\d+\.\d+\.\d+-cp39-abi3-manylinux_2_28_x86_64\.whl",
                    r"runnerwire-\d+\.\d+\.\d+-x86_64-unknown-linux-gnu\.tar\.gz",
                    r"runnerwire-\d+\.\d+\.\d+\.tgz", r"SHA256SUMS"]
        self.assertEqual(len(names), 6, names)
        for pattern in expected:
            self.assertEqual(len([n for n in names if re.fullmatch(pattern, n)]), 1, (pattern, names))
        sums = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=DIST, capture_output=True, text=True)
        self.assertEqual(sums.returncode, 0, sums.stdout + sums.stderr)
        self.assertEqual(sums.stdout.count(": OK"), 5, sums.stdout)

    def binaries(self):
        """(artifact, member, arch the artifact's name says, bytes) of every ELF file shipped."""
        out = []
        for arch in ELF_MACHINES.values():
            with tarfile.open(one(f"runnerwire-*-{arch}-unknown-linux-gnu.tar.gz")) as t:
                out.append(("tarball", "bin/runnerwire", arch, t.extractfile("bin/runnerwire").read()))
            with zipfile.ZipFile(one(f"runnerwire-*-manylinux_*_{arch}.whl")) as z:
                for member in ("runnerwire/_native.abi3.so", "runnerwire/_bin/runnerwire"):
                    out.append(("wheel", member, arch, z.read(member)))
        return out

    def test_every_binary_is_of_its_architecture_and_needs_glibc_2_28_at_most(self):
        binaries = self.binaries()
        self.assertEqual(len(binaries), 6)
        with tempfile.TemporaryDirectory() as tmp:
            for kind, member, arch, data in binaries:
                what = f"{arch} {kind} {member}"
                self.assertEqual(elf_machine(data), arch, what)
                path = os.path.join(tmp, "elf")
                with open(path, "wb") as f:
                    f.write(data)
                versions = glibc_versions(path)
                self.assertTrue(versions, f"{what}: no GLIBC symbol versions found: is it dynamic?")
                self.assertLessEqual(versions[-1], GLIBC_FLOOR, f"{what} needs GLIBC_{'.'.join(map(str, versions[-1]))}")

    def test_the_glibc_check_refuses_a_binary_built_against_this_machines_glibc(self):
        # The check itself can fail: this machine's python3 is linked against its own glibc.
        self.assertGreater(glibc_versions(os.path.realpath(sys.executable))[-1], GLIBC_FLOOR)

    def test_auditwheel_accepts_each_wheel_for_its_tag(self):
        for arch in ELF_MACHINES.values():
            wheel = one(f"runnerwire-*-manylinux_*_{arch}.whl")
            show = subprocess.run([os.path.join(PACKAGING_VENV, "bin", "auditwheel"), "show", wheel], capture_output=True, text=True)
            self.assertEqual(show.returncode, 0, show.stderr)
            text = " ".join(show.stdout.split())
            self.assertIn(f'is consistent with the following platform tag: "manylinux_2_28_{arch}"', text)

    def test_the_wheel_carries_the_runnerwire_command(self):
        for arch in ELF_MACHINES.values():
            with zipfile.ZipFile(one(f"runnerwire-*-manylinux_*_{arch}.whl")) as z:
                entry_points = next(n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt"))
                self.assertRegex(z.read(entry_points).decode(), r"(?m)^runnerwire ?= ?runnerwire\._cli:main$")
                mode = z.getinfo("runnerwire/_bin/runnerwire").external_attr >> 16
                self.assertTrue(mode & 0o111, oct(mode))


class Dist(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="runnerwire-dist-")
        # Nothing from the checkout on the way: a clean environment, cwd outside it.
        cls.env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": cls.work, "LANG": "C.UTF-8"}
        for name in ("npm_config_cache",):
            if name in os.environ:
                cls.env[name] = os.environ[name]
        cls.env.setdefault("npm_config_cache", os.path.join(os.path.expanduser("~"), ".npm"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def run_in(self, argv, cwd, stdin=None, env=None):
        run = subprocess.run(argv, cwd=cwd, env=env or self.env, stdin=stdin, capture_output=True)
        self.assertEqual(run.returncode, 0, f"{argv[:3]}: {run.stderr.decode(errors='replace')[-3000:]}")
        return run

    def fresh_wheel_venv(self):
        venv = os.path.join(self.work, "wheel-venv")
        if not os.path.isdir(venv):
            self.run_in([sys.executable, "-m", "venv", venv], self.work)
            self.run_in([os.path.join(venv, "bin", "pip"), "install", "--quiet", "--no-index", "--disable-pip-version-check",
                         one(f"runnerwire-*-manylinux_*_{ARCH}.whl")], self.work)
        return os.path.join(venv, "bin", "python")

    def test_the_wheel_installs_alone_and_processes_a_job(self):
        python = self.fresh_wheel_venv()
        listed = json.loads(self.run_in([python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"], self.work).stdout)
        self.assertEqual(sorted(p["name"] for p in listed if p["name"] not in ("pip", "setuptools")), ["runnerwire"])
        pdd = os.path.join(self.work, "wheel-pdd")
        script = ("import json, sys, runnerwire\n"
                  "events = []\n"
                  "with open(sys.argv[1], 'rb') as f:\n"
                  "    r = runnerwire.interface.run(streamer='process', _input=f, private_data_dir=sys.argv[2], ident='job', quiet=True,\n"
                  "                                 event_handler=lambda e: events.append(e['uuid']) or True)\n"
                  "print(json.dumps([r.status, len(events), runnerwire.__file__]))\n")
        out = json.loads(self.run_in([python, "-c", script, os.path.join(SIMPLE, "result.stream"), pdd], self.work).stdout)
        self.assertEqual(out[0], "successful")
        self.assertFalse(out[2].startswith(ROOT), out[2])
        self.assertEqual(event_files(os.path.join(pdd, "artifacts", "job")), upstream_event_files())
        # The module's CLI prints what upstream's process printed.
        with open(os.path.join(SIMPLE, "result.stream"), "rb") as f:
            cli = self.run_in([python, "-m", "runnerwire", "process", os.path.join(self.work, "wheel-cli"), "--ident", "job"], self.work, stdin=f)
        with open(os.path.join(SIMPLE, "process.stdout"), "rb") as f:
            self.assertEqual(cli.stdout, f.read())

    def test_the_wheels_commands_answer_as_runnerwire_and_as_ansible_runner(self):
        python = self.fresh_wheel_venv()
        venv_bin = os.path.dirname(python)
        version = self.run_in([os.path.join(venv_bin, "runnerwire"), "--version"], self.work).stdout.decode()
        self.assertRegex(version, r"^runnerwire \d+\.\d+\.\d+")
        # An upstream-like ansible-runner later on PATH; the alias goes into a directory before it.
        first, upstream = os.path.join(self.work, "alias-first"), os.path.join(self.work, "alias-upstream")
        os.makedirs(upstream)
        with open(os.path.join(upstream, "ansible-runner"), "w") as f:
            f.write("#!/bin/sh\necho upstream\n")
        os.chmod(os.path.join(upstream, "ansible-runner"), 0o755)
        env = dict(self.env, PATH=f"{first}:{upstream}:{self.env['PATH']}")
        told = self.run_in([python, "-m", "runnerwire.alias"], self.work, env=env).stdout.decode()
        self.assertIn(f"upstream's {upstream}/ansible-runner stays", told)
        answered = self.run_in(["ansible-runner", "--version"], self.work, env=env).stdout.decode()
        self.assertEqual(answered, version)
        self.run_in([python, "-m", "runnerwire.alias"], self.work, env=env)  # again: nothing to do
        # It never replaces a file that is not its own link, and says so in one line.
        refused = subprocess.run([python, "-m", "runnerwire.alias", "--dir", upstream], cwd=self.work, env=env, capture_output=True, text=True)
        self.assertEqual((refused.returncode, refused.stderr.count("\n")), (1, 1), refused.stderr)
        self.assertIn("is not runnerwire's link", refused.stderr)
        self.run_in([python, "-m", "runnerwire.alias", "--remove"], self.work, env=env)
        self.assertEqual(self.run_in(["ansible-runner"], self.work, env=env).stdout, b"upstream\n")

    def test_the_wheel_runs_a_whole_job_transmit_worker_process(self):
        python = self.fresh_wheel_venv()
        env = dict(self.env, PATH=os.path.join(CORE_VENV, "bin") + ":" + self.env["PATH"])
        pdd = os.path.join(self.work, "wheel-job")
        shutil.copytree(os.path.join(ROOT, "demo", "private_data_dir"), pdd)
        script = ("import io, json, sys, runnerwire\n"
                  "job, results = io.BytesIO(), io.BytesIO()\n"
                  "runnerwire.run(streamer='transmit', _output=job, private_data_dir=sys.argv[1], playbook='site.yml', ident='w',\n"
                  "               envvars={'GREETING': 'hi'})\n"
                  "w = runnerwire.run(streamer='worker', _input=io.BytesIO(job.getvalue()), _output=results)\n"
                  "events = []\n"
                  "p = runnerwire.run(streamer='process', _input=io.BytesIO(results.getvalue()), private_data_dir=sys.argv[2], ident='w',\n"
                  "                   quiet=True, event_handler=lambda e: events.append(e['event']) or False)\n"
                  "print(json.dumps([w.status, w.rc, p.status, events]))\n")
        out = json.loads(self.run_in([python, "-c", script, pdd, os.path.join(self.work, "wheel-job-out")], self.work, env=env).stdout)
        self.assertEqual(out[:3], ["successful", 0, "successful"])
        self.assertEqual((out[3][0], out[3][-1]), ("playbook_on_start", "playbook_on_stats"))

    def npm_project(self, name):
        """An empty npm project with the tarball installed into it."""
        project = os.path.join(self.work, name)
        os.makedirs(project)
        with open(os.path.join(project, "package.json"), "w") as f:
            json.dump({"name": "empty", "version": "1.0.0", "private": True}, f)
        self.run_in(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", one("runnerwire-*.tgz")], project)
        return project

    def test_the_npm_tarball_installs_into_an_empty_project_and_processes_a_job(self):
        project = self.npm_project("npm-project")
        imported = self.run_in(["node", "--input-type=module", "-e", "const m = await import('runnerwire'); console.log(typeof m.process)"], project)
        self.assertEqual(imported.stdout.strip(), b"function")
        with open(os.path.join(SIMPLE, "result.stream"), "rb") as f:
            cli = self.run_in([os.path.join(project, "node_modules", ".bin", "runnerwire"), "process", os.path.join(project, "out"), "--ident", "job"],
                              project, stdin=f)
        with open(os.path.join(SIMPLE, "process.stdout"), "rb") as f:
            self.assertEqual(cli.stdout, f.read())
        self.assertEqual(event_files(os.path.join(project, "out", "artifacts", "job")), upstream_event_files())

    def test_the_npm_tarballs_view_command_serves_the_page_and_the_stream(self):
        import urllib.request

        project = self.npm_project("npm-view")
        stream = os.path.join(SIMPLE, "result.stream")
        view = subprocess.Popen([os.path.join(project, "node_modules", ".bin", "runnerwire-view"), stream, "--no-open"],
                                cwd=project, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = view.stdout.readline().decode()
            self.assertRegex(first, r"^Serving .* on http://127\.0\.0\.1:\d+/#src=stream", view.stderr.read1().decode() if view.poll() is not None else first)
            origin = first.split(" on ", 1)[1].split("/#", 1)[0]
            with urllib.request.urlopen(origin + "/") as page:
                html = page.read().decode()
                self.assertIn("default-src 'none'", page.headers["content-security-policy"])
            self.assertIn("runnerwire", html)
            # The page's own code and the component come from the package, not a checkout.
            for path in ["/app.mjs", "/worker.mjs", "/dist/codec/runnerwire_codec.js", "/dist/shim/browser/index.js"]:
                with urllib.request.urlopen(origin + path) as r:
                    self.assertEqual(r.status, 200, path)
            with urllib.request.urlopen(origin + "/stream") as r, open(stream, "rb") as f:
                self.assertEqual(r.read(), f.read())
            with self.assertRaises(urllib.error.HTTPError):
                urllib.request.urlopen(origin + "/../../package.json")
        finally:
            view.kill()
            view.wait()
            view.stdout.close()
            view.stderr.close()
        self.assertTrue(os.path.isfile(os.path.join(project, "node_modules", "runnerwire", "web", "index.html")))

    def unpacked_cli(self):
        """The CLI tarball unpacked as a prefix: bin/runnerwire, share/runnerwire/web."""
        unpacked = os.path.join(self.work, "cli")
        if not os.path.isdir(unpacked):
            with tarfile.open(one(f"runnerwire-*-{ARCH}-unknown-linux-gnu.tar.gz")) as t:
                t.extractall(unpacked, filter="data")
        return unpacked

    def test_the_cli_tarballs_view_serves_its_own_page_and_the_stream(self):
        import urllib.error
        import urllib.request

        unpacked = self.unpacked_cli()
        web = os.path.join(unpacked, "share", "runnerwire", "web")
        for path in ["index.html", "app.mjs", "worker.mjs", "model.mjs", "codec.mjs", "style.css", "dist/codec/runnerwire_codec.js"]:
            self.assertTrue(os.path.isfile(os.path.join(web, path)), path)
        stream = os.path.join(SIMPLE, "result.stream")
        view = subprocess.Popen([os.path.join(unpacked, "bin", "runnerwire"), "view", stream, "--no-open"],
                                cwd=self.work, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = view.stdout.readline().decode()
            self.assertRegex(first, r"^Serving .* on http://127\.0\.0\.1:\d+/#src=stream&name=result\.stream$",
                             view.stderr.read().decode() if view.poll() is not None else first)
            origin = first.split(" on ", 1)[1].split("/#", 1)[0]
            with urllib.request.urlopen(origin + "/") as page:
                self.assertIn("default-src 'none'", page.headers["content-security-policy"])
                with open(os.path.join(web, "index.html"), "rb") as f:
                    self.assertEqual(page.read(), f.read())
            wasm = sorted(glob.glob(os.path.join(web, "dist", "codec", "*.wasm")))
            self.assertTrue(wasm)
            with urllib.request.urlopen(origin + "/dist/codec/" + os.path.basename(wasm[0])) as r:
                self.assertEqual(r.headers["content-type"], "application/wasm")
            with urllib.request.urlopen(origin + "/stream") as r, open(stream, "rb") as f:
                self.assertEqual(r.read(), f.read())
            for path in ["/../../bin/runnerwire", "/%2e%2e/%2e%2e/bin/runnerwire"]:
                with self.assertRaises(urllib.error.HTTPError, msg=path) as refused:
                    urllib.request.urlopen(origin + path)
                self.assertEqual(refused.exception.code, 404, path)
        finally:
            view.kill()
            view.wait()
            view.stdout.close()
            view.stderr.close()

    def test_the_cli_tarball_runs_the_demo_job_and_the_wheel_reads_its_results(self):
        binary = os.path.join(self.unpacked_cli(), "bin", "runnerwire")
        env = dict(self.env, PATH=os.path.join(CORE_VENV, "bin") + ":" + self.env["PATH"])
        job = self.run_in([binary, "transmit", os.path.join(ROOT, "demo", "private_data_dir"), "-p", "site.yml", "--ident", "demo"], self.work, env=env).stdout
        results = subprocess.run([binary, "worker"], input=job, env=env, cwd=self.work, capture_output=True, check=True).stdout
        processed = subprocess.run([binary, "process", os.path.join(self.work, "cli-out"), "--ident", "demo"], input=results, env=env,
                                   cwd=self.work, capture_output=True)
        self.assertEqual(processed.returncode, 0, processed.stderr)
        with open(os.path.join(self.work, "cli-out", "artifacts", "demo", "status")) as f:
            self.assertEqual(f.read(), "successful")
        python = self.fresh_wheel_venv()
        script = ("import sys, runnerwire\n"
                  "r = runnerwire.streaming.Processor(_input=sys.stdin.buffer, private_data_dir=sys.argv[1], ident='demo', quiet=True)\n"
                  "print(r.run()[0])\n")
        out = subprocess.run([python, "-c", script, os.path.join(self.work, "wheel-out")], input=results, env=self.env, cwd=self.work,
                             capture_output=True, check=True)
        self.assertEqual(out.stdout.strip(), b"successful")
        self.assertEqual(event_files(os.path.join(self.work, "wheel-out", "artifacts", "demo")),
                         event_files(os.path.join(self.work, "cli-out", "artifacts", "demo")))


if __name__ == "__main__":
    unittest.main()
