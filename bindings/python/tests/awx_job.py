"""One job the way AWX runs it, all three stages through the Python API, each stage from the
package named for it: the controller sends the job (``interface.run(streamer="transmit")``
to a file), the execution node runs it (``streamer="worker"``), the controller reads the
results back (``streamer="process"``, quiet, AWX's handlers: the event handler keeps each
event and returns False, so no event file is written).

usage: awx_job.py CASE WORK --transmit PKG --worker PKG --process PKG
PKG: ``upstream`` (``import ansible_runner``) or ``runnerwire`` (``import runnerwire``).
CASE: as transmit_calls.py (``awx``: an AWX-shaped job; ``podman``: containerized).

Prints one JSON object: the kwargs line, the archive's entries, what the handlers saw
(reduced to what does not change from run to run: no uuids, times or pids), the
processor's status and rc, and whether an event file was written.
"""

import hashlib
import io
import json
import os
import shutil
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transmit_calls  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def package(name):
    if name == "upstream":
        import ansible_runner

        return ansible_runner
    import runnerwire

    return runnerwire


def archive_entries(stream):
    """{name: [mode, sha256]} of the job stream's archive."""
    lines = stream.split(b"\n", 2)
    if not lines[1].startswith(b'{"zipfile"'):
        return None
    rest = lines[2]
    import base64

    data = base64.b64decode(rest[: rest.index(b'{"eof"')])
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {i.filename: [i.external_attr >> 16, hashlib.sha256(archive.read(i)).hexdigest()] for i in archive.infolist()}


def main():
    case, work = sys.argv[1:3]
    stage = {name: sys.argv[sys.argv.index(f"--{name}") + 1] for name in ("transmit", "worker", "process")}
    controller_pdd = os.path.join(work, "controller")  # AWX's private data dir: absolute
    shutil.copytree(os.path.join(ROOT, "demo", "private_data_dir"), controller_pdd)
    job, results = os.path.join(work, "job.stream"), os.path.join(work, "results.stream")

    with open(job, "wb") as out:
        sent = package(stage["transmit"]).interface.run(streamer="transmit", _output=out, **transmit_calls.job_kwargs(case, controller_pdd))
    with open(job, "rb") as job_in, open(results, "wb") as out:
        worked = package(stage["worker"]).interface.run(streamer="worker", _input=job_in, _output=out,
                                                        private_data_dir=os.path.join(work, "node"))

    seen = {"status": [], "events": [], "artifacts": 0, "finished": None}

    def status_handler(data, runner_config):
        # What the job ran: the program of the starting status's command.
        program = os.path.basename(runner_config.command[0]) if data["status"] == "starting" and runner_config.command else None
        seen["status"].append([data["status"], program])

    def event_handler(event):
        data = event.get("event_data", {})
        seen["events"].append([event.get("counter"), event.get("event"), data.get("task"), data.get("host"), event.get("stdout"),
                               sorted(event)])
        return False

    def artifacts_handler(artifact_dir):
        seen["artifacts"] += 1
        seen["artifact_files"] = sorted(os.listdir(artifact_dir))

    def finished_callback(runner):
        seen["finished"] = runner.status

    with open(results, "rb") as results_in:
        processed = package(stage["process"]).interface.run(
            streamer="process", _input=results_in, private_data_dir=controller_pdd, ident="awx-42", quiet=True,
            status_handler=status_handler, event_handler=event_handler, artifacts_handler=artifacts_handler,
            finished_callback=finished_callback)

    with open(job, "rb") as f:
        stream = f.read()
    events_dir = os.path.join(controller_pdd, "artifacts", "awx-42", "job_events")
    print(json.dumps({
        "kwargs": stream.split(b"\n", 1)[0].decode(),
        "entries": archive_entries(stream),
        "transmit": [sent.status, sent.rc],
        "worker": worked.status,
        "seen": seen,
        "process": [processed.status, processed.rc],
        "event_files": sorted(os.listdir(events_dir)) if os.path.isdir(events_dir) else [],
    }))


if __name__ == "__main__":
    main()
