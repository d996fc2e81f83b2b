#!/usr/bin/env bash
# Builds the linters `e2e/lint/test` runs, from their pinned Go modules, into
#   ${XDG_CACHE_HOME:-~/.cache}/slipway/lint-bin/<key>/
# and prints that folder. The key covers the pins, this script and the Go
# toolchain, so a clone reuses the build and a change of any of them rebuilds.
# Built into a temporary folder and renamed under a lock, so an interrupted or
# concurrent build never leaves half a cache.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/slipway/lint-bin"
say() { printf '[lint] %s\n' "$*" >&2; }

command -v go >/dev/null || { say "error: go is not installed (Go 1.26 builds the linters)"; exit 1; }
key="$({ cat "$here"/kube-score/go.mod "$here"/kube-score/go.sum "$here/build.sh"; go env GOVERSION GOOS GOARCH; } | sha256sum | cut -c1-16)"
out="$cache_root/$key"
[[ -x "$out/kube-score" ]] && { echo "$out"; exit 0; }

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock-$key"
flock 9
[[ -x "$out/kube-score" ]] && { echo "$out"; exit 0; }
version="$(awk '$1 == "github.com/zegl/kube-score" { print $2; exit }' "$here/kube-score/go.mod")"
tmp="$(mktemp -d "$cache_root/.build-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
say "building kube-score $version from the Go module proxy (about a minute, once) …"
t0=$(date +%s)
if ! (cd "$here/kube-score" && GOWORK=off CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" \
	go build -trimpath -ldflags "-s -w -X main.version=${version#v}" -o "$tmp/kube-score" github.com/zegl/kube-score/cmd/kube-score) \
	>"$tmp/build.log" 2>&1; then
	tail -n 30 "$tmp/build.log" >&2
	say "error: building kube-score failed"
	exit 1
fi
echo "kube-score $version" >"$tmp/VERSIONS"
rm -f "$tmp/build.log"
chmod 755 "$tmp"
mv "$tmp" "$out"
trap - EXIT
say "built kube-score $version in $(($(date +%s) - t0))s"
echo "$out"
