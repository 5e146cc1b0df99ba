#!/usr/bin/env bash
# The machines test_platforms.py installs the release artifacts on: Debian bullseye roots
# (glibc 2.31, Python 3.9; the oldest Debian the mirror still serves) for amd64 and for
# arm64, the arm64 one run by qemu-user through binfmt_misc, which this registers when it is
# missing (as root; qemu-user-static from tests/setup-system.sh). Made once under OUT, then
# kept: a root is complete when its .complete file exists.
#
# `--background OUT` starts it detached and returns at once (`make test` does so first: the
# arm64 root is slow to configure under qemu, and is made while the builds run); a later
# run without it waits for that one to finish (flock on OUT/.lock), then checks or retries.
set -euo pipefail
if [ "${1:-}" = "--background" ]; then
    out=${2:?usage: setup-roots.sh [--background] OUT}
    mkdir -p "$out"
    nohup setsid bash "$0" "$out" > "$out/background.log" 2>&1 < /dev/null &
    echo "roots: being made in the background ($out/background.log)"
    exit 0
fi
out=${1:?usage: setup-roots.sh [--background] OUT}
mkdir -p "$out"
exec 9> "$out/.lock"
flock 9

binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/register" ]; then
    mount -t binfmt_misc binfmt_misc "$binfmt"
fi
if [ ! -e "$binfmt/qemu-aarch64" ]; then
    # Debian's registration, with the F flag: the interpreter is opened now, so it also
    # runs arm64 programs inside a chroot that has no qemu of its own.
    grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf > "$binfmt/register"
fi

for arch in amd64 arm64; do
    root=$out/bullseye-$arch
    [ -e "$root/.complete" ] && { echo "root $root: present"; continue; }
    rm -rf "$root" && mkdir -p "$root"
    echo "root $root: debootstrap bullseye ($arch)"
    debootstrap --arch="$arch" --variant=minbase --include=python3-venv \
        bullseye "$root" http://deb.debian.org/debian > "$root.log" 2>&1 \
        || { tail -20 "$root.log" >&2; exit 1; }
    chroot "$root" sh -c 'apt-get clean; rm -rf /var/lib/apt/lists/*'
    touch "$root/.complete"
done
