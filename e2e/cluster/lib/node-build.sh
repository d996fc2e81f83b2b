#!/usr/bin/env bash
# Builds the real node's binaries from the Go modules pinned under
# e2e/cluster/build/node/ into
#   ${XDG_CACHE_HOME:-~/.cache}/slipway/node-bin/<key>/
# where <key> hashes those pins, this script and the Go toolchain. Does nothing
# when that folder is complete. Prints the folder on stdout; progress on stderr.
#
#   kubelet, kube-proxy            k8s.io/kubernetes (same pin as the control plane: checked)
#   containerd, ctr,
#   containerd-shim-runc-v2        github.com/containerd/containerd/v2
#   runc                           github.com/opencontainers/runc, CGO + -tags seccomp
#   cni/{bridge,host-local,loopback,portmap}   github.com/containernetworking/plugins
#   coredns                        github.com/coredns/coredns (cluster DNS)
#
# The node modules live one folder deeper than build/*/go.mod on purpose: the
# control plane's cache key (cache_key in common.sh) globs build/*/go.mod, so
# adding or moving a node pin never rebuilds the control plane, and this script
# is separate from lib/build.sh (also hashed into that key) for the same reason.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

NODE_SRC="$CLUSTER_SRC/build/node"

# The kubelet must be the control plane's version: compare the pin and every
# replace line of the two kubernetes modules.
check_kube_pins() {
	local cp node
	cp="$(pinned kubernetes k8s.io/kubernetes)"
	node="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$NODE_SRC/kubernetes/go.mod")"
	[[ -n "$cp" && "$cp" == "$node" ]] ||
		die "build/node/kubernetes pins k8s.io/kubernetes '$node' but the control plane (build/kubernetes) pins '$cp'; they must be equal"
	if ! diff <(grep '=>' "$CLUSTER_SRC/build/kubernetes/go.mod") <(grep '=>' "$NODE_SRC/kubernetes/go.mod") >/dev/null; then
		die "the replace lines of build/node/kubernetes/go.mod differ from build/kubernetes/go.mod; copy them over"
	fi
	echo "$cp"
}

node_version() { # $1 = module dir under build/node, $2 = module path
	awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$NODE_SRC/$1/go.mod"
}

# A copy of lib/build.sh's progress line (that file is hashed into the control
# plane's cache key, so it is not edited to share it).
heartbeat() { # LABEL: prints "still LABEL" every 30 s until heartbeat_stop
	local label="$1" t_start
	t_start=$(date +%s)
	(
		trap 'kill "$s" 2>/dev/null; exit 0' TERM
		while :; do
			sleep 30 &
			s=$!
			wait "$s"
			printf '[cluster %7s]   … still %s (%ds so far)\n' "$(elapsed)" "$label" $(($(date +%s) - t_start)) >&2
		done
	) &
	HEARTBEAT=$!
}
heartbeat_stop() {
	[[ -n "$HEARTBEAT" ]] || return 0
	kill "$HEARTBEAT" 2>/dev/null || true
	wait "$HEARTBEAT" 2>/dev/null || true
	HEARTBEAT=""
}

cleanup() {
	heartbeat_stop
	rm -rf "$TMP"
}

# build_one OUT MODULE_DIR PACKAGE CGO TAGS LDFLAGS
build_one() {
	local out="$1" dir="$2" pkg="$3" cgo="$4" tags="$5" ldx="$6" t_start log
	log="$TMP/.build-${out//\//-}.log"
	t_start=$(date +%s)
	say "building $out ($pkg) …"
	heartbeat "building $out"
	mkdir -p "$(dirname "$TMP/$out")"
	if ! (cd "$NODE_SRC/$dir" &&
		GOWORK=off CGO_ENABLED="$cgo" GOFLAGS="-buildvcs=false -mod=readonly" \
			go build -trimpath -tags "$tags" -ldflags "-s -w $ldx" -o "$TMP/$out" "$pkg") >"$log" 2>&1; then
		heartbeat_stop
		tail -n 40 "$log" >&2
		die "building $out failed"
	fi
	heartbeat_stop
	say "built $out in $(($(date +%s) - t_start))s ($(du -h "$TMP/$out" | cut -f1))"
}

# Version stamps as Kubernetes' hack/lib/version.sh sets them (as lib/build.sh
# does for the control plane, so both report the same version).
kube_ldflags() { # $1 = version
	local v="${1#v}" major minor date pkg flags=""
	major="${v%%.*}"
	minor="${v#*.}"
	minor="${minor%%.*}"
	date="$(cd "$NODE_SRC/kubernetes" && GOWORK=off go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes 2>/dev/null || true)"
	date="${date:-1970-01-01T00:00:00Z}"
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $pkg.gitVersion=$1 -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
		flags+=" -X $pkg.gitCommit=module-$1 -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
	done
	echo "$flags"
}

# runc's seccomp support needs cgo, a C compiler and libseccomp's headers
# (scripts/ensure-deps installs libseccomp-dev and pkg-config).
check_cgo_deps() {
	command -v gcc >/dev/null || die "gcc is missing: runc is built with cgo (apt-get install gcc)"
	pkg-config --exists libseccomp 2>/dev/null ||
		die "libseccomp-dev (and pkg-config) are missing: runc needs -tags seccomp (run scripts/ensure-deps)"
}

# The whole flow is one function, so that bash has read all of it before it
# runs: editing this file during a build cannot derail that build.
main() {
	command -v go >/dev/null || die "go is not installed"
	local KUBE_VERSION CTRD_VERSION RUNC_VERSION CNI_VERSION DNS_VERSION KEY OUT BUILD_T0 d p
	KUBE_VERSION="$(check_kube_pins)"

	KEY="$(node_cache_key)"
	OUT="$NODE_CACHE_ROOT/$KEY"
	if node_bins_complete "$OUT"; then
		echo "$OUT"
		exit 0
	fi
	mkdir -p "$NODE_CACHE_ROOT"
	exec 9>"$NODE_CACHE_ROOT/.lock-$KEY"
	if ! flock -n 9; then
		say "another build of the node binaries is running; waiting for it"
		flock 9
	fi
	if node_bins_complete "$OUT"; then
		echo "$OUT"
		exit 0
	fi
	check_cgo_deps

	CTRD_VERSION="$(node_version containerd github.com/containerd/containerd/v2)"
	RUNC_VERSION="$(node_version runc github.com/opencontainers/runc)"
	CNI_VERSION="$(node_version cni github.com/containernetworking/plugins)"
	DNS_VERSION="$(node_version coredns github.com/coredns/coredns)"
	[[ -n "$CTRD_VERSION" && -n "$RUNC_VERSION" && -n "$CNI_VERSION" && -n "$DNS_VERSION" ]] ||
		die "cannot read the pins from $NODE_SRC/*/go.mod"

	BUILD_T0=$(date +%s)
	TMP="$(mktemp -d "$NODE_CACHE_ROOT/.tmp-$KEY.XXXXXX")"
	HEARTBEAT=""
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	say "building the real node (kubelet/kube-proxy $KUBE_VERSION, containerd $CTRD_VERSION, runc $RUNC_VERSION, CNI plugins $CNI_VERSION, CoreDNS $DNS_VERSION)"
	say "built once per set of pins; later runs reuse $OUT"
	say "downloading Go modules (from the Go module proxy, or its local cache) …"
	heartbeat "downloading Go modules"
	for d in cni runc containerd coredns kubernetes; do
		(cd "$NODE_SRC/$d" && GOWORK=off GOFLAGS=-mod=readonly go mod download) >&2 ||
			die "go mod download failed in build/node/$d"
	done
	heartbeat_stop

	local cni="github.com/containernetworking/plugins"
	for p in main/loopback main/bridge ipam/host-local meta/portmap; do
		build_one "cni/${p#*/}" cni "$cni/plugins/$p" 0 "" "-X $cni/pkg/utils/buildversion.BuildVersion=$CNI_VERSION"
	done
	build_one runc runc github.com/opencontainers/runc 1 seccomp "-X main.version=${RUNC_VERSION#v} -X main.gitCommit=module-$RUNC_VERSION"
	local ctrd="github.com/containerd/containerd/v2"
	for p in containerd-shim-runc-v2 ctr containerd; do
		build_one "$p" containerd "$ctrd/cmd/$p" 0 "" "-X $ctrd/version.Version=${CTRD_VERSION#v} -X $ctrd/version.Revision=module-$CTRD_VERSION"
	done
	build_one coredns coredns github.com/coredns/coredns 0 "" "-X github.com/coredns/coredns/coremain.GitCommit=module-$DNS_VERSION"
	local kflags
	kflags="$(kube_ldflags "$KUBE_VERSION")"
	build_one kubelet kubernetes k8s.io/kubernetes/cmd/kubelet 0 "" "$kflags"
	build_one kube-proxy kubernetes k8s.io/kubernetes/cmd/kube-proxy 0 "" "$kflags"

	rm -f "$TMP"/.build-*.log
	cat >"$TMP/VERSIONS" <<-EOF
	kubernetes $KUBE_VERSION
	containerd $CTRD_VERSION
	runc $RUNC_VERSION (seccomp)
	cni-plugins $CNI_VERSION
	coredns $DNS_VERSION
	go $(go env GOVERSION)
	built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(($(date +%s) - BUILD_T0))s
	EOF
	touch "$TMP/.complete"
	chmod 755 "$TMP"
	rm -rf "$OUT"
	mv "$TMP" "$OUT"
	say "node binaries ready in $OUT (build took $(($(date +%s) - BUILD_T0))s)"
	echo "$OUT"
}

main "$@"
exit
