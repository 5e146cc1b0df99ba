"""What upstream ansible-runner's RunnerConfig makes of one job, as its worker builds it.

Reads {"pdd": ..., "kwargs": {...}} on stdin (kwargs as the worker has them after
update_paths), prepares a RunnerConfig exactly as `ansible-runner worker` does (the job's
kwargs plus quiet and suppress_ansible_output) and prints, as JSON, what the job would run
with: command, cwd, env, the env.list text, the registry files, the container name and the
options that change what the worker writes. A ConfigurationError is printed as
{"error": message}. Run with the venv holding upstream ansible-runner (tests/integration/plan_compat.rs).
"""

import json
import os
import sys

from ansible_runner.config.runner import RunnerConfig
from ansible_runner.exceptions import ConfigurationError


def main():
    request = json.load(sys.stdin)
    pdd = request["pdd"]
    kwargs = dict(request["kwargs"])
    kwargs.update(quiet=True, suppress_ansible_output=True, private_data_dir=pdd)
    try:
        config = RunnerConfig(**kwargs)
        config.prepare()
    except ConfigurationError as e:
        print(json.dumps({"error": str(e)}))
        return
    ssh_fifo = getattr(config, "ssh_key_path", None)
    if config.ssh_key_data and ssh_fifo and os.path.exists(ssh_fifo):
        # Upstream's writer thread blocks until the FIFO is read.
        with open(ssh_fifo, "rb") as fifo:
            fifo.read()
    result = {
        "command": config.command,
        "cwd": config.cwd,
        "env": list(config.env.items()),
        "artifact_dir": config.artifact_dir,
        "suppress_output_file": bool(config.suppress_output_file),
        "json_mode": bool(config.json_mode),
        "job_timeout": config.job_timeout,
        "idle_timeout": config.idle_timeout,
        "containerized": bool(config.containerized),
        "container_name": config.container_name,
    }
    if config.containerized:
        # Runner.run writes this file right before starting the engine.
        result["env_list"] = "\n".join(f"{k}={v}" for k, v in config.env.items())
        files = {}
        auth_path = getattr(config, "registry_auth_path", None)
        if auth_path:
            auth_dir = auth_path if os.path.isdir(auth_path) else os.path.dirname(auth_path)
            for name in sorted(os.listdir(auth_dir)):
                path = os.path.join(auth_dir, name)
                with open(path) as f:
                    files[name] = {"text": f.read(), "mode": oct(os.stat(path).st_mode & 0o777)}
            result["auth_dir"] = auth_dir
        result["auth_files"] = files
    print(json.dumps(result))


if __name__ == "__main__":
    main()
