"""What upstream's ``interface.run`` does to the caller's arguments before ``transmit``:
objects passed in place of files (a play, an inventory, envvars, extravars, passwords,
settings, ssh_key, cmdline) are written into the private data dir, where the worker reads
them, and dropped from the kwargs or replaced by the file's path. The same files, names,
modes and kwargs as upstream 2.4.3, so the job stream is the same."""

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, MutableMapping


def _write(text, directory, name):
    """Writes ``text`` to ``directory/name`` (0600; the directory made 0700) unless it already
    holds exactly that; returns the path. Like upstream, writers are serialized by a lock
    file, ``.artifact_write_lock``, removed afterwards."""
    if not os.path.exists(directory):
        os.makedirs(directory, mode=0o700)
    path = os.path.join(directory, name)
    if os.path.exists(path):
        with open(path) as f:
            if hashlib.sha1(f.read().encode("utf-8")).digest() == hashlib.sha1(text.encode("utf-8")).digest():
                return path
    lock_path = os.path.join(directory, ".artifact_write_lock")
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.lockf(lock, fcntl.LOCK_EX)
    try:
        with open(path, "w") as f:
            os.chmod(path, 0o600)
            f.write(str(text))
    finally:
        fcntl.lockf(lock, fcntl.LOCK_UN)
        os.close(lock)
        os.remove(lock_path)
    return path


def _is_play_list(value):
    return isinstance(value, Iterable) and not isinstance(value, (str, MutableMapping))


def dump(kwargs):
    """Rewrites ``kwargs`` in place as upstream's ``init_runner`` does for a transmit."""
    pdd = kwargs.get("private_data_dir")
    if not pdd:
        pdd = kwargs["private_data_dir"] = tempfile.mkdtemp()
    if not os.path.exists(pdd):
        raise ValueError("private_data_dir path is either invalid or does not exist")

    if "role" in kwargs:
        role = {"name": kwargs.pop("role")}
        if "role_vars" in kwargs:
            role["vars"] = kwargs.pop("role_vars")
        play = {"hosts": kwargs.pop("hosts", "all"), "roles": [role]}
        if kwargs.pop("role_skip_facts", False):
            play["gather_facts"] = False
        kwargs["playbook"] = [play]
        kwargs.setdefault("envvars", {})
        roles_path = kwargs.pop("roles_path", None)
        own = os.path.join(pdd, "roles")
        kwargs["envvars"]["ANSIBLE_ROLES_PATH"] = f"{roles_path}:{own}" if roles_path else own

    playbook = kwargs.get("playbook")
    if playbook:
        if isinstance(playbook, MutableMapping):
            playbook = [playbook]
        if _is_play_list(playbook):
            kwargs["playbook"] = _write(json.dumps(playbook), os.path.join(pdd, "project"), "main.json")

    inventory = kwargs.get("inventory")
    if inventory and isinstance(inventory, (MutableMapping, str)):
        directory = os.path.join(pdd, "inventory")
        if isinstance(inventory, MutableMapping):
            kwargs["inventory"] = _write(json.dumps(inventory), directory, "hosts.json")
        elif not os.path.exists(os.path.join(directory, inventory)):
            kwargs["inventory"] = _write(inventory, directory, "hosts")
        elif not os.path.isabs(inventory):
            kwargs["inventory"] = os.path.join(directory, inventory)

    if not kwargs.get("suppress_env_files", False):
        env = os.path.join(pdd, "env")
        for key, as_text in [("envvars", json.dumps), ("extravars", json.dumps), ("passwords", json.dumps), ("settings", json.dumps),
                             ("ssh_key", str), ("cmdline", str)]:
            value = kwargs.get(key)
            if value and not os.path.exists(os.path.join(env, key)):
                _write(as_text(value), env, key)
                kwargs.pop(key)


def relative_paths(kwargs):
    """Paths inside the private data dir sent relative to it, as upstream sends them."""
    pdd = kwargs["private_data_dir"]
    project = os.path.join(pdd, "project")
    playbook = kwargs.get("playbook") or ""
    if os.path.isabs(playbook) and playbook.startswith(project):
        kwargs["playbook"] = os.path.relpath(playbook, project)
    inventory = kwargs.get("inventory") or ""
    if os.path.isabs(inventory) and inventory.startswith(pdd):
        kwargs["inventory"] = os.path.relpath(inventory, pdd)
    roles_path = kwargs.get("envvars", {}).get("ANSIBLE_ROLES_PATH") or ""
    if os.path.isabs(roles_path) and roles_path.startswith(pdd):
        kwargs["envvars"]["ANSIBLE_ROLES_PATH"] = os.path.relpath(roles_path, pdd)
