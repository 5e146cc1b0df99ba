#!/usr/bin/env bash
# What the full test suite needs from the system, beyond Rust, Go, Python 3.11 and Node 20:
# podman (and runc, debootstrap to build its test image), an ssh client (jobs with ssh
# keys), Chromium (the page's tests), qemu-user-static and binutils (the aarch64 artifacts
# run under qemu; objdump checks every binary's glibc floor), iproute2, nftables and
# util-linux (the soak's network namespaces, packet loss, rate limits and nsenter) and the en_US.UTF-8 locale (upstream's own test suite
# runs every command with LANG=en_US.UTF-8). `make test` and `.ci/run` both run this first.
# As root it installs what is missing with apt-get; otherwise it names the missing
# packages and the command that installs them, and fails.
set -euo pipefail

packages=(podman runc debootstrap openssh-client chromium locales qemu-user-static binutils iproute2 nftables util-linux)

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
has_locale() { locale -a 2>/dev/null | grep -qix 'en_us.utf8'; }
[ ${#missing[@]} -eq 0 ] && has_locale && exit 0

if ! command -v apt-get >/dev/null; then
    echo "setup-system: missing ${missing[*]:-the en_US.UTF-8 locale}, and this is not a Debian-like system: install them by hand" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    [ ${#missing[@]} -gt 0 ] && echo "setup-system: missing ${missing[*]}; install them as root:" >&2 \
        && echo "  sudo apt-get install -y ${missing[*]}" >&2
    has_locale || echo "setup-system: missing the en_US.UTF-8 locale; as root: sed -i 's/^# *en_US.UTF-8/en_US.UTF-8/' /etc/locale.gen && locale-gen" >&2
    echo "(or run \`make check\`, the quick tier, which needs none of them)" >&2
    exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup-system: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! has_locale; then
    echo "setup-system: generating the en_US.UTF-8 locale"
    sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen
    grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >> /etc/locale.gen
    locale-gen >/dev/null
fi
