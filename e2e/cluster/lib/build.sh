#!/usr/bin/env bash
# Builds etcd, kwok, kube-apiserver, kube-controller-manager, kube-scheduler and
# kubectl from the Go modules pinned under e2e/cluster/build/ into
#   ${XDG_CACHE_HOME:-~/.cache}/slipway/cluster-bin/<key>/
# where <key> hashes the pins, this script and the Go toolchain. Does nothing
# when that folder is complete. Prints the folder on stdout; progress on stderr.
#
# The build goes to a temporary folder renamed into place at the end, under a
# lock, so an interrupted or concurrent build never leaves a half cache.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Version stamps, as Kubernetes' hack/lib/version.sh sets them. The build date
# is the release's publication time from the module proxy, so that two builds
# of the same pins are identical.
kube_ldflags() {
	local v="${KUBE_VERSION#v}" major minor date
	major="${v%%.*}"
	minor="${v#*.}"
	minor="${minor%%.*}"
	date="$(cd "$CLUSTER_SRC/build/kubernetes" && go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes 2>/dev/null || true)"
	date="${date:-1970-01-01T00:00:00Z}"
	local pkg flags=""
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
		flags+=" -X $pkg.gitCommit=module-$KUBE_VERSION -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
	done
	echo "$flags"
}

cleanup() {
	heartbeat_stop
	rm -rf "$TMP"
}

# heartbeat LABEL: prints "still LABEL" every 30 s until heartbeat_stop.
heartbeat() {
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

# build NAME MODULE_DIR PACKAGE [extra ldflags]
build_one() {
	local name="$1" dir="$2" pkg="$3" ldx="${4:-}" t_start log="$TMP/.build-$1.log"
	t_start=$(date +%s)
	say "building $name ($pkg) …"
	heartbeat "building $name"
	if ! (cd "$CLUSTER_SRC/build/$dir" &&
		GOWORK=off CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" \
			go build -trimpath -ldflags "-s -w$ldx" -o "$TMP/$name" "$pkg") >"$log" 2>&1; then
		heartbeat_stop
		tail -n 40 "$log" >&2
		die "building $name failed"
	fi
	heartbeat_stop
	say "built $name in $(($(date +%s) - t_start))s ($(du -h "$TMP/$name" | cut -f1))"
}

# The whole flow is one function, so that bash has read all of it before it
# runs: editing this file during a build cannot derail that build.
main() {
	command -v go >/dev/null || die "go is not installed (Go 1.26 or newer builds the control plane)"

	KEY="$(cache_key)"
	OUT="$CACHE_ROOT/$KEY"
	if bins_complete "$OUT"; then
		echo "$OUT"
		exit 0
	fi

	mkdir -p "$CACHE_ROOT"
	exec 9>"$CACHE_ROOT/.lock-$KEY"
	if ! flock -n 9; then
		say "another build of the control plane is running; waiting for it"
		flock 9
	fi
	if bins_complete "$OUT"; then # the other build finished it
		echo "$OUT"
		exit 0
	fi

	KUBE_VERSION="$(pinned kubernetes k8s.io/kubernetes)"
	ETCD_VERSION="$(pinned etcd go.etcd.io/etcd/server/v3)"
	KWOK_VERSION="$(pinned kwok sigs.k8s.io/kwok)"
	[[ -n "$KUBE_VERSION" && -n "$ETCD_VERSION" && -n "$KWOK_VERSION" ]] || die "cannot read the pins from $CLUSTER_SRC/build/*/go.mod"

	BUILD_T0=$(date +%s)
	TMP="$(mktemp -d "$CACHE_ROOT/.tmp-$KEY.XXXXXX")"
	HEARTBEAT=""
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	say "building the local control plane (Kubernetes $KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"
	say "built once per set of pins (a while on a small machine); later runs reuse $OUT"

	say "downloading Go modules (from the Go module proxy, or its local cache) …"
	heartbeat "downloading Go modules"
	for d in etcd kwok kubernetes; do
		(cd "$CLUSTER_SRC/build/$d" && GOWORK=off GOFLAGS=-mod=readonly go mod download) >&2 ||
			die "go mod download failed in build/$d"
	done
	heartbeat_stop

	# kwok's binary has no stages of its own (kwokctl normally passes them). Take
	# the default ones kwokctl uses for a binary cluster from the pinned module:
	# nodes become Ready and keep a lease, pods become Ready, Job pods complete,
	# deleted pods go away.
	KWOK_DIR="$(cd "$CLUSTER_SRC/build/kwok" && GOWORK=off go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
	{
		for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
			pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
			echo "---"
			cat "$KWOK_DIR/kustomize/stage/$f.yaml" || die "kwok $KWOK_VERSION has no stage $f"
		done
	} >"$TMP/kwok-stages.yaml"

	KUBE_LDFLAGS="$(kube_ldflags)"
	build_one etcd etcd go.etcd.io/etcd/server/v3
	build_one kwok kwok sigs.k8s.io/kwok/cmd/kwok " -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION#v}"
	for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
		build_one "$b" kubernetes "k8s.io/kubernetes/cmd/$b" "$KUBE_LDFLAGS"
	done

	rm -f "$TMP"/.build-*.log
	cat >"$TMP/VERSIONS" <<-EOF
	kubernetes $KUBE_VERSION
	etcd $ETCD_VERSION
	kwok $KWOK_VERSION
	go $(go env GOVERSION)
	built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(($(date +%s) - BUILD_T0))s
	EOF
	touch "$TMP/.complete"
	chmod 755 "$TMP" # mktemp made it private
	rm -rf "$OUT" # an incomplete leftover (cannot be complete: checked above under the lock)
	mv "$TMP" "$OUT"
	say "control plane binaries ready in $OUT (build took $(($(date +%s) - BUILD_T0))s)"
	echo "$OUT"
}

main "$@"
exit
