#!/usr/bin/env bash
# Builds Toxiproxy's server (a fault-injecting TCP proxy; the soak adds delay and jitter to
# one Receptor link with it: this kernel has no netem qdisc) from its Go module at a pinned
# version into target/toxiproxy/toxiproxy-server. Go's caches stay under target/go, as for
# receptor (tests/mesh/build-receptor.sh). The module and its dependencies are checked
# against the Go checksum database as usual; the pin below is checked as well.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=v2.5.0
sum='h1:i4LPT+qrSlKNtQf5QliVjdP08GyAH8+BUIc9gT0eahc='
module=github.com/Shopify/toxiproxy/v2
out=target/toxiproxy
go_dir=$PWD/target/go

command -v go >/dev/null || { echo "build-toxiproxy.sh: go is not installed" >&2; exit 1; }
mkdir -p "$out" "$go_dir"
export GOPATH=$go_dir/path GOMODCACHE=$go_dir/mod GOCACHE=$go_dir/cache
export GOFLAGS=-modcacherw GOTOOLCHAIN=local CGO_ENABLED=0

info=$(go mod download -json "$module@$version")
got=$(printf '%s' "$info" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("Sum", ""))')
if [ "$got" != "$sum" ]; then
    echo "build-toxiproxy.sh: $module@$version has hash '$got', the pin is '$sum': refusing to build it" >&2
    exit 1
fi

GOBIN=$PWD/$out go install -p 1 -trimpath -ldflags "-s -w" "$module/cmd/server@$version"
mv -f "$out/server" "$out/toxiproxy-server"
"$out/toxiproxy-server" -version
echo "toxiproxy $version: $out/toxiproxy-server"
