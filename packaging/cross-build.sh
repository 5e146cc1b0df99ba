#!/usr/bin/env bash
# The CLI for the other architecture (aarch64 on x86_64) into target/cross, with the
# component precompiled for it: `make dist` runs this (packaging/dist.sh), and `make test`
# starts it early in the background at the lowest priority (`cross-background`), so the
# compile overlaps the suites and dist finds it done.
# Its own target dir: cargo holds a lock on a target dir for a whole build, and the suites'
# cargo test works in target/ meanwhile. One run at a time (flock): a second waits for the
# first, then finds everything built.
set -euo pipefail
cd "$(dirname "$0")/.."

triple=${1:?usage: cross-build.sh TRIPLE}
wasm=$PWD/target/wasm32-wasip2/release
cwasm=$wasm/runnerwire_codec.$triple.cwasm
mkdir -p target/cross
exec 9>target/cross/.lock
flock 9

rustup target list --installed 2>/dev/null | grep -qx "$triple" || rustup target add "$triple"
echo "cross-build: the component precompiled for $triple"
target/release/runnerwire-precompile --target "$triple" "$cwasm.new"
# Replaced only when it changed: cargo rebuilds the CLI when the embedded file is newer.
if cmp -s "$cwasm.new" "$cwasm"; then rm -f "$cwasm.new"; else mv -f "$cwasm.new" "$cwasm"; fi
echo "cross-build: the CLI for $triple"
# The component is in target/, not target/cross: the build script is told where.
RUNNERWIRE_COMPONENT=$wasm/runnerwire_codec.wasm RUNNERWIRE_PRECOMPILED=$cwasm CARGO_TARGET_DIR=$PWD/target/cross cargo build --locked --release --target "$triple" -p runnerwire
