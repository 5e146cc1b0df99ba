"""Sends a job as AWX's controller does, ``interface.run(streamer="transmit", ...)``, with
upstream's ``ansible_runner`` (in the upstream venv) or ``runnerwire``, to a file.

usage: transmit_calls.py upstream|runnerwire PRIVATE_DATA_DIR OUTPUT CASE
CASE: ``awx`` (absolute private data dir, envvars, settings, extravars, passwords,
cmdline, fact cache, a dict inventory, container options), ``awx-key`` (the same and an ssh
key), ``podman`` (process isolation in the test image), ``role``, ``kwargs-only``.
"""

import os
import sys
import uuid


def job_kwargs(case, pdd):
    """AWX's ``interface.run`` keyword arguments for CASE, sending PDD."""
    common = {"private_data_dir": pdd, "ident": "awx-42", "quiet": True}
    if case in ("awx", "awx-key"):
        call = dict(common, playbook="site.yml", inventory={"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                                             "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}},
                    envvars={"ANSIBLE_FORCE_COLOR": "False", "JOB_ID": "42", "AWX_HOST": "https://awx.example"},
                    settings={"job_timeout": 0, "suppress_ansible_output": True, "suppress_output_file": True},
                    extravars={"greeting": "héllo", "n": 3, "colors": ["red", "blue"]}, passwords={"^SSH [pP]assword:$": ""},
                    cmdline="--diff", limit="localhost", forks=5,
                    json_mode=False, omit_event_data=False, suppress_env_files=False,
                    fact_cache_type="jsonfile", timeout=3600, process_isolation=False, container_image="quay.io/ansible/ee:latest",
                    container_options=["--network=slirp4netns"], container_volume_mounts=["/tmp:/tmp:Z"])
        if case == "awx-key":
            # For the stream only: the worker would fail on this key, and upstream's worker
            # lets text through unframed at verbosity 1 ("No config file found") and with
            # only_failed_event_data (the play's banner).
            call["ssh_key"] = "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"
            call["verbosity"] = 1
            call["only_failed_event_data"] = True
    elif case == "podman":
        call = dict(common, playbook="site.yml", process_isolation=True, process_isolation_executable="podman",
                    container_image=os.environ.get("RUNNERWIRE_TEST_IMAGE", "localhost/runnerwire-test-ee:1"),
                    container_options=["--network=none", "--pull=never"], envvars={"JOB_ID": "7"},
                    settings={"job_timeout": 0, "suppress_ansible_output": True, "suppress_output_file": True})
    elif case == "role":
        call = dict(common, role="greet", role_vars={"who": "world"}, roles_path="/opt/roles", role_skip_facts=True, hosts="localhost")
    else:
        # A UUID goes as its hex (upstream's encoder); only the kwargs travel.
        call = dict(common, playbook="site.yml", only_transmit_kwargs=True, keepalive_seconds=30, job_uuid=uuid.UUID(int=42))
    return call


def main():
    which, pdd, output, case = sys.argv[1:5]
    if which == "upstream":
        import ansible_runner as api
    else:
        import runnerwire as api
    call = job_kwargs(case, pdd)
    with open(output, "wb") as f:
        r = api.run(streamer="transmit", _output=f, **call)
    print(r.status, r.rc)


if __name__ == "__main__":
    main()
