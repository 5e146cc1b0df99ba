#!/usr/bin/env bash
# The two execution-environment images test_ee.py runs AWX's container-group command in
# (`ansible-runner worker --private-data-dir=/runner`, the job on stdin), both built on the
# test image (tests/container/build-image.sh: Debian, ansible-core, ssh-agent) with podman
# and no registry:
#   localhost/runnerwire-upstream-ee:1  + upstream ansible-runner 2.4.3 (fixtures/requirements.txt)
#   localhost/runnerwire-ee:dist        + the runnerwire wheel from target/dist, made to answer
#                                         as `ansible-runner` by `python3 -m runnerwire.alias`,
#                                         upstream's package left installed
# Both are laid out as ansible-builder lays out an execution environment: PATH is UBI's
# (/usr/local/sbin first), the command runs under dumb-init as uid 1000 (group 0) in /runner.
# The upstream image is built once (bump its tag when fixtures/requirements.txt changes);
# runnerwire's is rebuilt from each `make dist`.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${RUNNERWIRE_TEST_IMAGE:-localhost/runnerwire-test-ee:1}
upstream=localhost/runnerwire-upstream-ee:1
ours=localhost/runnerwire-ee:dist
arch=$(uname -m)
wheel=$(ls target/dist/runnerwire-*-manylinux_*_"$arch".whl)
ctx=$(mktemp -d "${TMPDIR:-/tmp}/runnerwire-ee-ctx-XXXXXX")
trap 'rm -rf "$ctx"' EXIT

if ! podman image exists "$upstream"; then
    mkdir -p "$ctx/wheels"
    cp fixtures/requirements.txt "$ctx/wheels/requirements.txt"
    echo "dumb-init==1.2.5" >> "$ctx/wheels/requirements.txt"
    python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: -d "$ctx/wheels" -r "$ctx/wheels/requirements.txt"
    cat > "$ctx/Containerfile" <<CONTAINERFILE
FROM $base
COPY wheels /tmp/wheels
RUN python3 -m pip install --quiet --no-index --find-links /tmp/wheels --break-system-packages --root-user-action=ignore \
        --disable-pip-version-check -r /tmp/wheels/requirements.txt && rm -rf /tmp/wheels /root/.cache
RUN /usr/sbin/useradd --uid 1000 --gid 0 --home-dir /home/runner --create-home runner \
    && mkdir -p /runner && chgrp 0 /runner && chmod -R ug+rwx /runner
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/runner
WORKDIR /runner
USER 1000
ENTRYPOINT ["dumb-init"]
CMD ["bash"]
CONTAINERFILE
    podman build --quiet -t "$upstream" "$ctx" >/dev/null
    rm -rf "$ctx"/*
    echo "image $upstream: built"
fi

cp "$wheel" "$ctx/"
cat > "$ctx/Containerfile" <<CONTAINERFILE
FROM $upstream
USER root
COPY $(basename "$wheel") /tmp/
RUN python3 -m pip install --quiet --no-index --break-system-packages --root-user-action=ignore --no-cache-dir --disable-pip-version-check /tmp/*.whl \
    && rm -f /tmp/*.whl && python3 -m runnerwire.alias
USER 1000
CONTAINERFILE
previous=$(podman image inspect --format '{{.Id}}' "$ours" 2>/dev/null || true)
podman build --quiet -t "$ours" "$ctx" >/dev/null
echo "image $ours: built from $(basename "$wheel")"
# The image this one replaced (an earlier dist's) would stay behind untagged.
if [ -n "$previous" ] && [ "$previous" != "$(podman image inspect --format '{{.Id}}' "$ours")" ]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
fi
