#!/usr/bin/env bash
# `make dist`: the release artifacts in target/dist, after `make build bindings`.
#   runnerwire-VERSION-ARCH-unknown-linux-gnu.tar.gz  the CLI as a prefix (bin/, share/), x86_64 and aarch64
#   runnerwire-VERSION-cp39-abi3-manylinux_2_28_ARCH.whl  the Python package, x86_64 and aarch64
#   runnerwire-VERSION.tgz                             the npm package (the component runs in any JS engine)
#   SHA256SUMS                                         the checksums of the five
# Every binary needs glibc 2.28 at most (packaging/zig/cc) and embeds the component compiled
# for its own architecture: this machine's precompiler compiles it for the other one too
# (cranelift's two backends; host/Cargo.toml), so no emulator is needed to build.
set -euo pipefail
cd "$(dirname "$0")/.."

glibc=${RUNNERWIRE_GLIBC:?the glibc floor: run this through make dist}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
build_arch=$(uname -m)
dist=$PWD/target/dist
wasm=$PWD/target/wasm32-wasip2/release
maturin=$PWD/bindings/python/.venv/bin/maturin
bundled=bindings/python/runnerwire/_bin/runnerwire

rm -rf "$dist" && mkdir -p "$dist"
# The wheel takes the CLI from the package's _bin/; put this machine's back whatever happens,
# since the package installed for the tests (maturin develop) runs it from there.
trap 'cp target/release/runnerwire "$bundled"' EXIT

for arch in x86_64 aarch64; do
    triple=$arch-unknown-linux-gnu
    if [ "$arch" = "$build_arch" ]; then
        cli=target/release/runnerwire
        cwasm=$wasm/runnerwire_codec.cwasm
        cross=()
        build_env=()
    else
        # Built in target/cross (packaging/cross-build.sh; `make test` starts it early).
        cli=target/cross/$triple/release/runnerwire
        cwasm=$wasm/runnerwire_codec.$triple.cwasm
        cross=(--target "$triple")
        bash packaging/cross-build.sh "$triple"
        # maturin's build reuses the crates built there; the component stays in target/.
        build_env=(CARGO_TARGET_DIR=$PWD/target/cross RUNNERWIRE_COMPONENT=$wasm/runnerwire_codec.wasm)
    fi

    echo "dist: the CLI tarball for $arch"
    tree=target/dist-cli/$arch
    rm -rf "$tree" && mkdir -p "$tree/bin" "$tree/share/runnerwire/web"
    cp "$cli" "$tree/bin/runnerwire"
    cp web/*.html web/*.mjs web/*.css web/*.svg "$tree/share/runnerwire/web/"
    cp -r web/dist "$tree/share/runnerwire/web/dist"
    tar --sort=name --owner=0 --group=0 --numeric-owner -czf "$dist/runnerwire-$version-$triple.tar.gz" -C "$tree" bin share

    echo "dist: the wheel for $arch"
    cp "$cli" "$bundled"
    (cd bindings/python && env "${build_env[@]}" VIRTUAL_ENV=$PWD/.venv RUNNERWIRE_PRECOMPILED=$cwasm \
        "$maturin" build --release --quiet "${cross[@]}" --compatibility "manylinux_${glibc/./_}" \
        --auditwheel check --out "$dist")
done

echo "dist: the npm package"
(cd bindings/js && npm pack --silent --pack-destination "$dist" >/dev/null)
(cd "$dist" && sha256sum -- *.tar.gz *.whl *.tgz > SHA256SUMS)
ls -l "$dist"
