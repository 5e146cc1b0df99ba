"""Runs a Processor over a stream with recording handlers and prints what they saw, as
JSON: the same script drives upstream's ``ansible_runner.streaming.Processor`` (in the
upstream venv) and ours, so the two can be compared call for call.

usage: processor_calls.py upstream|runnerwire STREAM PRIVATE_DATA_DIR [--skip-every N] [--quiet] [--awx]

``--awx``: as AWX's controller reads a job back: ``interface.run(streamer="process", ...)``
(upstream's ``ansible_runner.interface.run`` or ``runnerwire.interface.run``), quiet, an
event handler that records each whole event dict and returns False.
"""

import json
import sys


def main():
    which, stream, pdd = sys.argv[1:4]
    skip_every = int(sys.argv[sys.argv.index("--skip-every") + 1]) if "--skip-every" in sys.argv else 0
    quiet = "--quiet" in sys.argv
    if which == "upstream":
        from ansible_runner.streaming import Processor
    else:
        from runnerwire import Processor
    calls = []

    def status_handler(data, runner_config):
        calls.append(["status", data, runner_config.command is not None])

    def event_handler(event):
        keep = not (skip_every and event["counter"] % skip_every == 0)
        calls.append(["event", event["counter"], event["uuid"], event.get("event"), keep])
        return keep

    def artifacts_handler(artifact_dir):
        calls.append(["artifacts", artifact_dir])

    def finished_callback(processor):
        calls.append(["finished", processor.status])

    if "--awx" in sys.argv:
        if which == "upstream":
            from ansible_runner import interface
        else:
            from runnerwire import interface

        def awx_event_handler(event):
            calls.append(["event", event])
            return False

        with open(stream, "rb") as f:
            r = interface.run(streamer="process", _input=f, private_data_dir=pdd, ident="job", quiet=True,
                              status_handler=status_handler, event_handler=awx_event_handler,
                              artifacts_handler=artifacts_handler, finished_callback=finished_callback)
        sys.stdout.flush()
        print(json.dumps({"calls": calls, "result": [r.status, r.rc]}), file=sys.stderr)
        return

    with open(stream, "rb") as f:
        processor = Processor(_input=f, status_handler=status_handler, event_handler=event_handler,
                              artifacts_handler=artifacts_handler, finished_callback=finished_callback,
                              private_data_dir=pdd, ident="job", quiet=quiet)
        # What run() prints goes to stdout; the calls go to stderr's last line.
        result = processor.run()
    sys.stdout.flush()
    print(json.dumps({"calls": calls, "result": list(result)}), file=sys.stderr)


if __name__ == "__main__":
    main()
