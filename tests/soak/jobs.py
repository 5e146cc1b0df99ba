"""The soak's four kinds of job, and how one job's outcome is judged.

- `task`: a one-task playbook;
- `events`: a program (the `binary` kwarg, shipped in the job's project) printing 10,000
  lines: 10,000 events;
- `artifacts`: a program writing 50 MB of incompressible bytes into the job's artifact
  directory, so the worker's closing archive carries them;
- `podman`: the one-task playbook in the test image under podman (AWX's process isolation).

A job's outcome is judged against an undisturbed run of the same kind on a node with the
same worker: `successful` (unit Succeeded, results that validate, status successful,
`process` exit 0, events equal to the reference's, same artifact names, the blob's hash),
`failed` (an explicit failure AWX shows: the unit Failed or Canceled, with receptor's
reason), or `bad` (anything else, e.g. a Succeeded unit whose events differ: the soak fails).
"""

import hashlib
import io
import json
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mesh"))
from test_mesh import INVENTORY, podman_transmit, tree  # noqa: E402
import mesh as meshlib  # noqa: E402

RUNNERWIRE = str(meshlib.RUNNERWIRE)
KINDS = ("task", "events", "artifacts", "podman")
EVENTS = 10_000
BLOB_BYTES = 50 << 20
BLOB_SEED = 28

ONE_TASK = """- hosts: all
  gather_facts: false
  tasks:
    - name: One task
      ansible.builtin.debug:
        msg: "one task on {{ inventory_hostname }}"
"""

EVENTS_PROGRAM = f"""#!/usr/bin/env python3
import sys
w = sys.stdout.write
for i in range({EVENTS}):
    w("soak event %d of a long job\\n" % i)
"""

BLOB_PROGRAM = """#!/usr/bin/env python3
import random
with open(%r, "wb") as f:
    f.write(random.Random(%d).randbytes(%d))
print("wrote %d bytes of artifacts")
"""


def blob_sha256():
    return hashlib.sha256(random.Random(BLOB_SEED).randbytes(BLOB_BYTES)).hexdigest()


def write_pdd(pdd, kind):
    """The job's private data dir on the controller (the program, if any, is in project/)."""
    (pdd / "project").mkdir(parents=True)
    (pdd / "inventory").mkdir()
    (pdd / "inventory/hosts").write_text(INVENTORY)
    (pdd / "project/site.yml").write_text(ONE_TASK)
    if kind == "podman":
        (pdd / "env").mkdir()
        (pdd / "env/settings").write_text('{"suppress_ansible_output": true}')


def transmit_stream(pdd, kind, ident, pdd_on_node):
    """The job stream, from `runnerwire transmit` (the programs run from where the node
    unpacks the project: the job knows its private data dir on the node, as AWX's does)."""
    if kind == "podman":
        # The mesh tests' podman job: AWX's process isolation kwargs on transmit's stream.
        out = io.BytesIO()
        podman_transmit(pdd, ident)(out)
        return out.getvalue()
    args = [RUNNERWIRE, "transmit", str(pdd), "-p", "site.yml", "--ident", ident]
    if kind in ("events", "artifacts"):
        # The artifacts program's blob goes into the job's own artifact directory on the node.
        program = EVENTS_PROGRAM if kind == "events" else BLOB_PROGRAM % (f"{pdd_on_node}/artifacts/{ident}/blob.bin", BLOB_SEED, BLOB_BYTES, BLOB_BYTES)
        (pdd / "project/generate").write_text(program)
        (pdd / "project/generate").chmod(0o755)
        args += ["--binary", f"{pdd_on_node}/project/generate"]
    proc = subprocess.run(args, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"runnerwire transmit: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def stream_counters(path):
    """The event counters of a results stream file, in stream order (the archive skipped)."""
    counters = []
    with open(path, "rb") as f:
        for line in f:
            if not line.startswith(b"{"):
                continue  # the archive's base64 text
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if "counter" in value and "event" in value:
                counters.append(value["counter"])
    return counters


def artifact_names(artifact_dir):
    return sorted(n for n in tree(artifact_dir) if not n.startswith("job_events/"))

