#!/usr/bin/env bash
# Builds a Go program pinned by a module folder of this repository (a go.mod
# with a `tool` line and its go.sum) into
#   ${XDG_CACHE_HOME:-~/.cache}/slipway/<cache>/<key>/<name>
# and prints that folder. The key covers the pins, this script and the Go
# toolchain, so clones reuse the build and a change of any of them rebuilds.
# The build goes to a temporary folder renamed under a lock, so an interrupted
# or concurrent build never leaves half a cache. Used by e2e/lint/build/build.sh
# (kube-score), e2e/dex/build.sh (Dex) and e2e/oidc-op/build.sh (a second
# OpenID Connect provider, zitadel/oidc's example OP).
#
#   build-go-tool.sh NAME CACHE MODULE_DIR PACKAGE "WHAT (for progress lines)"
set -euo pipefail
name="$1" cache="$2" module_dir="$3" package="$4" what="$5"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/slipway/$cache"
say() { printf '[%s] %s\n' "$name" "$*" >&2; }

command -v go >/dev/null || { say "error: go is not installed (Go 1.26 builds $what)"; exit 1; }
# A module folder may hold its own Go files (a small main around a library):
# they are part of the key too.
key="$({ cat "$module_dir/go.mod" "$module_dir/go.sum" "${BASH_SOURCE[0]}"; cat "$module_dir"/*.go 2>/dev/null; go env GOVERSION GOOS GOARCH; } | sha256sum | cut -c1-16)"
out="$cache_root/$key"
[[ -x "$out/$name" ]] && { echo "$out"; exit 0; }

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock-$key"
flock 9
[[ -x "$out/$name" ]] && { echo "$out"; exit 0; }
module="${package%%/cmd/*}"
version="$(awk -v m="$module" '$1 == m { print $2; exit }' "$module_dir/go.mod")"
tmp="$(mktemp -d "$cache_root/.build-XXXXXX")"
ticker=""
trap '[[ -n "$ticker" ]] && kill "$ticker" 2>/dev/null; rm -rf "$tmp"' EXIT
say "building $what $version from the Go module proxy (once; cached after) …"
t0=$(date +%s)
(while sleep 30; do say "… still building $what ($(($(date +%s) - t0))s so far)"; done) &
ticker=$!
if ! (cd "$module_dir" && GOWORK=off CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" \
	go build -trimpath -ldflags "-s -w" -o "$tmp/$name" "$package") >"$tmp/build.log" 2>&1; then
	tail -n 30 "$tmp/build.log" >&2
	say "error: building $what failed"
	exit 1
fi
echo "$what $version" >"$tmp/VERSIONS"
rm -f "$tmp/build.log"
chmod 755 "$tmp"
mv "$tmp" "$out"
say "built $what in $(($(date +%s) - t0))s"
echo "$out"
