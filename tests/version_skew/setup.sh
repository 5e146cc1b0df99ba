#!/usr/bin/env bash
# The older ansible-runner releases tests/version_skew runs beside runnerwire, each in its
# own venv under DIR (default target/version-skew), pinned with the ansible-core of its day
# in tests/version_skew/requirements-<release>.txt. 2.4.3 is the project's own .venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="${1:-$root/target/version-skew}"
python="${PYTHON:-python3}"
mkdir -p "$dir"
for requirements in "$here"/requirements-*.txt; do
    release="$(basename "$requirements" .txt)"
    release="${release#requirements-}"
    rm -rf "$dir/$release"
    "$python" -m venv "$dir/$release"
    "$dir/$release/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
done
touch "$dir/.installed"
