#!/usr/bin/env bash
# Builds Dex from its pinned Go module (build/dex/go.mod) into
#   ${XDG_CACHE_HOME:-~/.cache}/slipway/dex-bin/<key>/dex
# and prints that folder. The key covers the pins, this script and the Go
# toolchain; the build goes to a temporary folder renamed under a lock, so an
# interrupted or concurrent build never leaves half a cache.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/slipway/dex-bin"
say() { printf '[dex] %s\n' "$*" >&2; }

command -v go >/dev/null || { say "error: go is not installed (Go 1.26 builds Dex)"; exit 1; }
key="$({ cat "$here"/build/dex/go.mod "$here"/build/dex/go.sum "$here/build.sh"; go env GOVERSION GOOS GOARCH; } | sha256sum | cut -c1-16)"
out="$cache_root/$key"
[[ -x "$out/dex" ]] && { echo "$out"; exit 0; }

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock-$key"
flock 9
[[ -x "$out/dex" ]] && { echo "$out"; exit 0; }
version="$(awk '$1 == "github.com/dexidp/dex" { print $2; exit }' "$here/build/dex/go.mod")"
tmp="$(mktemp -d "$cache_root/.build-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
say "building Dex $version from the Go module proxy (a few minutes, once) …"
t0=$(date +%s)
( while sleep 30; do say "… still building Dex ($(($(date +%s) - t0))s so far)"; done ) &
ticker=$!
if ! (cd "$here/build/dex" && GOWORK=off CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" \
	go build -trimpath -ldflags "-s -w" -o "$tmp/dex" github.com/dexidp/dex/cmd/dex) \
	>"$tmp/build.log" 2>&1; then
	kill "$ticker" 2>/dev/null || true
	tail -n 30 "$tmp/build.log" >&2
	say "error: building Dex failed"
	exit 1
fi
kill "$ticker" 2>/dev/null || true
echo "dex $version (tag v2.45.1)" >"$tmp/VERSIONS"
rm -f "$tmp/build.log"
chmod 755 "$tmp"
mv "$tmp" "$out"
trap - EXIT
say "built Dex in $(($(date +%s) - t0))s"
echo "$out"
