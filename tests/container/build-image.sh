#!/usr/bin/env bash
# Builds the execution-environment image the container tests run jobs in:
# Debian bookworm (minbase) with python3, ssh-agent and ansible-core (pinned, as in
# fixtures/requirements-core.txt), imported into podman as localhost/runnerwire-test-ee.
# No container registry is needed: the root file system comes from Debian's packages and
# ansible-core from the Python package index. Skips the work when the image exists.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Bump the tag when this script or fixtures/requirements-core.txt changes (tests/awx_jobs.rs
# names the same default).
image=${RUNNERWIRE_TEST_IMAGE:-localhost/runnerwire-test-ee:1}
if podman image exists "$image"; then
    echo "test image $image: present"
    exit 0
fi
for tool in debootstrap podman; do
    command -v "$tool" >/dev/null || { echo "build-image.sh: $tool is not installed" >&2; exit 1; }
done
root=$(mktemp -d "${TMPDIR:-/tmp}/runnerwire-ee-XXXXXX")
trap 'rm -rf "$root" "$root.log"' EXIT

echo "test image $image: debootstrap bookworm into $root"
debootstrap --variant=minbase --include=python3,python3-pip,openssh-client \
    bookworm "$root" > "$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
# Wheels come through this machine's pip (bookworm's python3 is 3.11, as here); the image
# installs them offline.
mkdir -p "$root/wheels"
cp fixtures/requirements-core.txt "$root/wheels/requirements.txt"
python3 -m pip download --quiet --only-binary=:all: -d "$root/wheels" -r "$root/wheels/requirements.txt"
chroot "$root" python3 -m pip install --quiet --no-index --find-links /wheels \
    --break-system-packages --disable-pip-version-check -r /wheels/requirements.txt
chroot "$root" sh -c 'apt-get clean; rm -rf /var/lib/apt/lists/* /root/.cache /wheels'
tar -C "$root" -c . | podman import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'WORKDIR /runner' \
    --change 'CMD ["/bin/sh"]' - "$image" >/dev/null
echo "test image $image: built"
