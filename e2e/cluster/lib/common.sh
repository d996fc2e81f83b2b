# Shared by e2e/cluster/{build,up,down,test,kubectl}. Sourced, never run.
# shellcheck shell=bash

CLUSTER_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(cd "$CLUSTER_SRC/../.." && pwd)"
# `--name NAME` first (up, down, test, kubectl): a second, independent control
# plane in .slipway/cluster-NAME, on its own ports (derived from that folder),
# with kwok nodes only (one real node per machine: it owns containerd and the
# kubelet's ports) and no metrics-server. Consumed here, so each script sees
# only its own arguments.
CLUSTER_NAME=""
if [[ "${1:-}" == --name ]]; then
	[[ "${2:-}" =~ ^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$ ]] ||
		{ echo "--name needs a DNS label (a-z, 0-9, -), got '${2:-}'" >&2; exit 2; }
	CLUSTER_NAME="$2"
	shift 2
fi
if [[ -n "$CLUSTER_NAME" ]]; then
	CLUSTER_DIR="${SLIPWAY_CLUSTER_DIR:-$REPO_ROOT/.slipway/cluster-$CLUSTER_NAME}"
else
	CLUSTER_DIR="${SLIPWAY_CLUSTER_DIR:-$REPO_ROOT/.slipway/cluster}"
fi
[[ "$CLUSTER_DIR" == /* ]] || CLUSTER_DIR="$PWD/$CLUSTER_DIR"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/slipway/cluster-bin"

# The binaries, in build order (small ones first, so progress shows early).
BINARIES=(etcd kwok kube-apiserver kube-controller-manager kube-scheduler kubectl)

# The version a build module pins, read from its go.mod (the only place pins live).
pinned() { # $1 = module dir under build/, $2 = module path
	awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$CLUSTER_SRC/build/$1/go.mod"
}

# Start of the whole command; exported so the build's progress lines continue
# the same clock.
export T0="${T0:-$(date +%s)}"

elapsed() { # seconds since T0 as 1m05s
	local s=$(($(date +%s) - T0))
	if ((s >= 60)); then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

say() { printf '[cluster %7s] %s\n' "$(elapsed)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# The cache key: everything that decides what the binaries are (the pins, the
# build script and the Go toolchain), so they are rebuilt only when one changes.
cache_key() {
	{
		cat "$CLUSTER_SRC"/build/*/go.mod "$CLUSTER_SRC"/build/*/go.sum "$CLUSTER_SRC/lib/build.sh"
		go env GOVERSION GOOS GOARCH
	} | sha256sum | cut -c1-16
}

bin_dir() { echo "$CACHE_ROOT/$(cache_key)"; }

bins_complete() { # $1 = dir
	local b
	[[ -f "$1/.complete" ]] || return 1
	for b in "${BINARIES[@]}"; do [[ -x "$1/$b" ]] || return 1; done
	[[ -f "$1/kwok-stages.yaml" ]]
}

# --- the real node's binaries (lib/node-build.sh) ----------------------------
# Their own cache and key: the node pins sit in build/node/*/ (one level below
# what cache_key globs), so they never change the control plane's key.
NODE_CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/slipway/node-bin"
NODE_BINARIES=(kubelet kube-proxy containerd ctr containerd-shim-runc-v2 runc coredns
	cni/bridge cni/host-local cni/loopback cni/portmap)

node_cache_key() { # runc links libseccomp, so its version is part of the key too
	{
		cat "$CLUSTER_SRC"/build/node/*/go.mod "$CLUSTER_SRC"/build/node/*/go.sum "$CLUSTER_SRC/lib/node-build.sh"
		go env GOVERSION GOOS GOARCH
		pkg-config --modversion libseccomp 2>/dev/null || true
	} | sha256sum | cut -c1-16
}

node_bins_complete() { # $1 = dir
	local b
	[[ -f "$1/.complete" ]] || return 1
	for b in "${NODE_BINARIES[@]}"; do [[ -x "$1/$b" ]] || return 1; done
}

# --- state: ports and pids -------------------------------------------------

PID_DIR="$CLUSTER_DIR/pids"
LOG_DIR="$CLUSTER_DIR/logs"
PKI_DIR="$CLUSTER_DIR/pki"
STATE_FILE="$CLUSTER_DIR/state.env"
KUBECONFIG_FILE="$CLUSTER_DIR/kubeconfig"

# Processes in start order; stopped in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok metrics-server)

pid_of() { # prints the recorded pid when that process is alive and is ours
	local f="$PID_DIR/$1.pid" pid
	[[ -f "$f" ]] || return 1
	pid="$(<"$f")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# Guard against pid reuse: the process must run a binary of that name
	# (its file may since have been replaced: "… (deleted)").
	local exe
	exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
	[[ "$exe" == */"$1" || "$exe" == */"$1 (deleted)" ]] || return 1
	echo "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# take_lock: one up/down at a time per state folder (make run and make test may
# race). The holder writes its pid next to the lock. flock's lock lives as long
# as any process holds the open file, so when the recorded holder is gone the
# lock is a leftover (a daemon started by an older up inherited the
# descriptor) and is ignored.
take_lock() {
	local lock="$CLUSTER_DIR/.lock" owner=""
	exec 8>>"$lock"
	if ! flock -w 5 8; then
		owner="$(cat "$lock.owner" 2>/dev/null || true)"
		if [[ "$owner" =~ ^[0-9]+$ ]] && kill -0 "$owner" 2>/dev/null &&
			tr '\0' ' ' <"/proc/$owner/cmdline" 2>/dev/null | grep -Eq '(^|[ /])(up|down)( |$)'; then
			say "another up/down (pid $owner) is working on $CLUSTER_DIR; waiting for it"
			flock 8
		else
			say "ignoring a stale lock on $lock"
		fi
	fi
	echo "$$" >"$lock.owner"
}
