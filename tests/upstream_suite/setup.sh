#!/usr/bin/env bash
# Prepares upstream ansible-runner 2.4.3's own test suite in DIR (default
# target/upstream-suite): a venv with upstream ansible-runner, ansible-core and pytest
# (pinned in fixtures/requirements.txt and tests/upstream_suite/requirements.txt), and the
# suite's test/ tree and pytest.ini from the release's source package, fetched with pip and
# checked against its hash (tests/upstream_suite/sdist.txt). Nothing of it is committed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="${1:-$root/target/upstream-suite}"
python="${PYTHON:-python3}"

rm -rf "$dir/venv" "$dir/src" "$dir/sdist"
mkdir -p "$dir/sdist" "$dir/src"
"$python" -m venv "$dir/venv"
"$dir/venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/fixtures/requirements.txt" -r "$here/requirements.txt"
"$dir/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --no-binary :all: --require-hashes \
    -r "$here/sdist.txt" -d "$dir/sdist"
tar -xzf "$dir"/sdist/ansible_runner-2.4.3.tar.gz -C "$dir/src" --strip-components=1 \
    ansible_runner-2.4.3/test ansible_runner-2.4.3/pytest.ini
touch "$dir/.installed"
