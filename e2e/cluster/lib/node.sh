# The real worker node beside the kwok ones: containerd + runc, CNI bridge,
# kubelet, kube-proxy (iptables) and CoreDNS as host processes. Sourced by
# e2e/cluster/up (node_up, after the control plane is ready) and
# e2e/cluster/down (node_down); never run. See README.md, "The real node".
#
# Outcome contract: $CLUSTER_DIR/real-node.env holds exactly one of
#   SLIPWAY_REAL_NODE=<node name>
#   SLIPWAY_REAL_NODE_UNAVAILABLE=<why, one line>
# shellcheck shell=bash

NODE_DIR="$CLUSTER_DIR/node"
NODE_ENV="$CLUSTER_DIR/real-node.env"
NODE_COMPONENTS=(containerd coredns kube-proxy kubelet)
NODE_LABEL_KEY="slipway.dev/node"
NODE_LABEL_VALUE="real"
NODE_BRIDGE="slipway0"
NODE_NET_NAME="slipway"
# Outside kwok's 10.244.0.0/16 (kwok hands out fake pod IPs from it), so a
# Service can never mix a fake pod IP with a real one.
NODE_POD_SUBNET="10.245.0.0/24"
NODE_GATEWAY="10.245.0.1"
DNS_SERVICE_IP="10.96.0.10"
NODE_SANDBOX_IMAGE="localhost/slipway/pause:1"
CTR_SOCK="$NODE_DIR/containerd/containerd.sock"
# The kubelet's port, the bridge, iptables and cgroups are machine-wide: one
# checkout at a time may run the real node; this file names it.
NODE_OWNER_FILE="/run/slipway-real-node.owner"
NODE_SYSCTLS=(net/ipv4/ip_forward net/ipv4/conf/all/route_localnet)

node_name() { hostname | tr '[:upper:]' '[:lower:]'; }

# The address the node reports as InternalIP: the source of the default route.
node_ip() {
	local ip
	ip="$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n1)"
	[[ -n "$ip" ]] || ip="$(ip -4 -o addr show scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1)"
	echo "${ip:-127.0.0.1}"
}

node_record() { # KEY VALUE: the one line of real-node.env, written atomically
	printf '%s=%s\n' "$1" "$2" >"$NODE_ENV.tmp"
	mv "$NODE_ENV.tmp" "$NODE_ENV"
}

has_cap_sys_resource() { # bit 24 of the effective capabilities
	local cap
	cap="$(awk '/^CapEff:/ {print $2}' /proc/self/status)"
	(((0x$cap >> 24) & 1))
}

cgroup_writable() { # $1 = a cgroup folder: can we make and remove a child?
	local probe="$1/slipway-probe-$$"
	mkdir "$probe" 2>/dev/null || return 1
	rmdir "$probe" 2>/dev/null
	return 0
}

# The reason the real node cannot run here, on stdout; nothing when it can.
# Cheap (no process started), so the fast path of up can ask it too.
node_unavailable_reason() {
	local c owner name
	case "${SLIPWAY_REAL_NODE:-auto}" in
	off | 0 | false | no) echo "disabled by SLIPWAY_REAL_NODE=${SLIPWAY_REAL_NODE}"; return ;;
	esac
	[[ "$(uname -s)" == Linux ]] || { echo "not Linux ($(uname -s)): the kubelet, containerd and runc need Linux"; return; }
	(($(id -u) == 0)) || { echo "not root (uid $(id -u)): containerd, runc, the CNI bridge and iptables need root"; return; }
	for c in iptables iptables-save iptables-restore ip mount umount; do
		command -v "$c" >/dev/null || { echo "$c is missing (apt-get install iptables iproute2)"; return; }
	done
	iptables -t nat -S >/dev/null 2>&1 || { echo "iptables does not work here: $(iptables -t nat -S 2>&1 | head -n1)"; return; }
	if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
		cgroup_writable /sys/fs/cgroup || { echo "the cgroup v2 hierarchy /sys/fs/cgroup is not writable"; return; }
	else
		for c in cpu cpuacct cpuset memory pids; do
			[[ -d "/sys/fs/cgroup/$c" ]] || { echo "cgroup v1 controller $c is not mounted at /sys/fs/cgroup/$c"; return; }
			cgroup_writable "/sys/fs/cgroup/$c" || { echo "cgroup v1 controller $c (/sys/fs/cgroup/$c) is not writable"; return; }
		done
	fi
	# The kubelet's OOM watcher reads the kernel log and the kubelet exits without it.
	[[ -r /dev/kmsg ]] || { echo "/dev/kmsg is missing or unreadable (the kubelet's OOM watcher reads it; a container needs it passed in)"; return; }
	grep -qw overlay /proc/filesystems || { echo "the kernel has no overlay filesystem (containerd's overlayfs snapshotter needs it)"; return; }
	name="$(node_name)"
	getent hosts "$name" >/dev/null || { echo "the host name '$name' does not resolve (the API server reaches the kubelet by it; add it to /etc/hosts)"; return; }
	owner="$(cat "$NODE_OWNER_FILE" 2>/dev/null || true)"
	if [[ -n "$owner" && "$owner" != "$CLUSTER_DIR" && -d "$owner/node" ]] &&
		[[ -f "$owner/pids/kubelet.pid" ]] && kill -0 "$(cat "$owner/pids/kubelet.pid")" 2>/dev/null; then
		echo "the real node of another checkout ($owner) runs on this machine; only one can (kubelet port, bridge, iptables are machine-wide)"
		return
	fi
	if ! pid_of kubelet >/dev/null && port_busy 10250; then
		echo "port 10250 (the kubelet's) is held by another program"
		return
	fi
}

node_all_running() {
	local c
	for c in "${NODE_COMPONENTS[@]}"; do pid_of "$c" >/dev/null || return 1; done
}

# --- certificates and kubeconfigs ---------------------------------------------

node_pki() { # $1 = node name, $2 = node IP
	# The kubelet's identity for the Node authorizer and NodeRestriction.
	new_cert kubelet-client ca "/O=system:nodes/CN=system:node:$1" clientAuth
	# Its serving certificate, checked by the API server (--kubelet-certificate-authority):
	# the API server dials the node by its Hostname address.
	new_cert kubelet-serving ca "/O=system:nodes/CN=system:node:$1" serverAuth "DNS:$1,DNS:localhost,IP:127.0.0.1,IP:$2"
	# system:kube-proxy is bound to system:node-proxier by Kubernetes' default RBAC.
	new_cert kube-proxy ca /CN=system:kube-proxy clientAuth
	# CoreDNS's kubernetes plugin; node_api_objects binds it to a read-only role.
	new_cert coredns ca /CN=system:slipway:coredns clientAuth
	write_kubeconfig "$NODE_DIR/kubelet.kubeconfig" "system:node:$1" kubelet-client
	write_kubeconfig "$NODE_DIR/kube-proxy.kubeconfig" system:kube-proxy kube-proxy
	write_kubeconfig "$NODE_DIR/coredns.kubeconfig" system:slipway:coredns coredns
}

# --- host state -----------------------------------------------------------------

# Remember the sysctls the node changes (once), so that down can put them back.
node_save_sysctls() {
	local f="$NODE_DIR/host-sysctls.orig" s
	[[ -f "$f" ]] && return 0
	for s in "${NODE_SYSCTLS[@]}"; do echo "$s=$(cat "/proc/sys/$s")"; done >"$f.tmp"
	mv "$f.tmp" "$f"
}

# The bridge exists before the first pod (the CNI bridge plugin would make it
# only then) so that CoreDNS can listen on its gateway address at once.
node_bridge() {
	if ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
		ip link add "$NODE_BRIDGE" type bridge
	fi
	ip addr show dev "$NODE_BRIDGE" | grep -q "inet $NODE_GATEWAY/" ||
		ip addr add "$NODE_GATEWAY/${NODE_POD_SUBNET#*/}" dev "$NODE_BRIDGE"
	ip link set "$NODE_BRIDGE" up
	# Pods reach the world through the host (the bridge plugin also sets it).
	echo 1 >/proc/sys/net/ipv4/ip_forward
}

# --- configuration files ----------------------------------------------------------

# put_config FILE COMPONENT < content: writes FILE only when its content
# changes (kube-proxy exits when its file is touched at all), and then stops
# COMPONENT if it runs on the old one, so that up starts it again.
put_config() {
	local file="$1" comp="$2" pid
	cat >"$file.tmp"
	if cmp -s "$file.tmp" "$file"; then
		rm -f "$file.tmp"
		return 0
	fi
	mv "$file.tmp" "$file"
	if [[ "$comp" != - ]] && pid="$(pid_of "$comp")"; then
		say "$(basename "$file") changed: restarting $comp (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		local i
		for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	return 0
}

node_containerd_config() {
	local d="$NODE_DIR/containerd" restrict=false
	# Lowering oom_score_adj below containerd's own needs CAP_SYS_RESOURCE; without
	# it every sandbox fails in runc init ("failed to update /proc/self/oom_score_adj").
	has_cap_sys_resource || restrict=true
	mkdir -p "$d/root" "$d/state" "$d/opt" "$NODE_DIR/runc" "$NODE_DIR/cni/net.d"
	put_config "$d/config.toml" containerd <<EOF
# written by e2e/cluster/up
version = 3
root = "$d/root"
state = "$d/state"

[grpc]
  address = "$CTR_SOCK"

[ttrpc]
  address = "$CTR_SOCK.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"

# No NRI plugins here; its socket would be machine-wide (/var/run/nri).
[plugins."io.containerd.nri.v1.nri"]
  disable = true

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    # No registry: the sandbox image is imported from e2e/images/build.
    sandbox = "$NODE_SANDBOX_IMAGE"

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = $restrict
  # The pods' network namespaces under state/, not in the machine-wide /run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "$NODE_BIN/runc"
        Root = "$NODE_DIR/runc"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["$NODE_BIN/cni"]
    conf_dir = "$NODE_DIR/cni/net.d"
    max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri"]
  # exec/attach/port-forward streams, proxied by the kubelet: loopback only
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
EOF
	put_config "$NODE_DIR/cni/net.d/10-$NODE_NET_NAME.conflist" - <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NODE_NET_NAME",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$NODE_DIR/cni/ipam",
        "ranges": [[{"subnet": "$NODE_POD_SUBNET", "gateway": "$NODE_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

# Whether cAdvisor (inside the kubelet) can tell the filesystem of folder $1:
# it looks the folder's device number up among the mounts of the types it
# knows. A kubelet whose root folder is elsewhere (a 9p, virtiofs or FUSE
# mount, as a checkout in a sandbox can be) exits at start with "failed to get
# rootfs info: … could not find device with major: 0, minor: N in cached
# partitions map", unless it is told not to account local storage.
cadvisor_knows_fs() {
	local dev
	dev="$(stat -c '%Hd:%Ld' "$1" 2>/dev/null)" || return 1
	awk -v dev="$dev" '
		{ for (i = 7; i <= NF; i++) if ($i == "-") { fs = $(i + 1); break } }
		$3 == dev && (fs ~ /^(ext|nfs)/ || fs ~ /^(btrfs|overlay|tmpfs|xfs|zfs)$/) { found = 1 }
		END { exit !found }' /proc/self/mountinfo
}

# A kubelet that does not account local storage reports no ephemeral-storage
# capacity, and the scheduler then fits no pod that requests some (every pod
# Slipway renders does). Give the node the size of its kubelet folder's
# filesystem instead: pods schedule as on any node, but nothing measures or
# enforces their disk use here. The kubelet keeps a capacity it does not
# compute itself, so one patch lasts.
node_storage_capacity() { # $1 = node name
	local have size
	have="$("${KUBECTL[@]}" get node "$1" -o jsonpath='{.status.capacity.ephemeral-storage}')" || return 1
	[[ -n "$have" ]] && return 0
	size="$(df -B1 --output=size "$NODE_DIR/kubelet" | tail -n 1 | tr -d ' ')"
	[[ "$size" =~ ^[0-9]+$ ]] || return 1
	"${KUBECTL[@]}" patch node "$1" --subresource=status --type=merge \
		-p "{\"status\":{\"capacity\":{\"ephemeral-storage\":\"$size\"},\"allocatable\":{\"ephemeral-storage\":\"$size\"}}}" >/dev/null || return 1
	say "node $1 reports no ephemeral-storage (local storage is not accounted): gave it its filesystem's $((size / 1024 / 1024 / 1024)) GiB"
}

node_kubelet_config() { # $1 = node name
	local cg_v1=false storage=true
	[[ -f /sys/fs/cgroup/cgroup.controllers ]] || cg_v1=true
	mkdir -p "$NODE_DIR/kubelet"
	if [[ "${SLIPWAY_NODE_STORAGE_ACCOUNTING:-auto}" == off ]]; then
		storage=false
		say "SLIPWAY_NODE_STORAGE_ACCOUNTING=off: local storage is not accounted on the real node"
	elif ! cadvisor_knows_fs "$NODE_DIR/kubelet"; then
		storage=false
		say "the kubelet's folder $NODE_DIR/kubelet is on a filesystem cAdvisor cannot measure ($(stat -f -c %T "$NODE_DIR/kubelet" 2>/dev/null)): local storage is not accounted on the real node"
	fi
	put_config "$NODE_DIR/kubelet-config.yaml" kubelet <<EOF
# written by e2e/cluster/up
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 is deprecated; without this the kubelet refuses to start on it.
failCgroupV1: $([[ $cg_v1 == true ]] && echo false || echo true)
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CTR_SOCK
imageServiceEndpoint: unix://$CTR_SOCK
# Only the API server talks to the kubelet, and it dials the node's host name,
# which resolves to 127.0.0.1 here: loopback is enough.
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI_DIR/kubelet-serving.crt
tlsPrivateKeyFile: $PKI_DIR/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI_DIR/ca.crt}
authorization:
  mode: Webhook
registerNode: true
registerWithTaints:
- {key: $NODE_LABEL_KEY, value: $NODE_LABEL_VALUE, effect: NoSchedule}
clusterDomain: cluster.local
clusterDNS: [$DNS_SERVICE_IP]
resolvConf: /etc/resolv.conf
failSwapOn: false
# false only where cAdvisor cannot measure the kubelet's folder (cadvisor_knows_fs):
# then pods' ephemeral-storage is neither measured nor enforced on this node.
localStorageCapacityIsolation: $storage
cgroupsPerQOS: true
serializeImagePulls: false
seccompDefault: false
rotateCertificates: false
serverTLSBootstrap: false
# The disk is shared with everything else on the machine: evict late, never GC images
# (they cannot be pulled again: there is no registry).
evictionHard: {memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2%}
imageGCHighThresholdPercent: 100
maxPods: 50
shutdownGracePeriod: 0s
EOF
}

node_kube_proxy_config() { # $1 = node name
	put_config "$NODE_DIR/kube-proxy-config.yaml" kube-proxy <<EOF
# written by e2e/cluster/up
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: $NODE_DIR/kube-proxy.kubeconfig}
hostnameOverride: $1
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$NODE_PROXY_HEALTH_PORT
metricsBindAddress: 127.0.0.1:$NODE_PROXY_METRICS_PORT
# NodePorts answer on loopback only (127.0.0.1:<nodePort>), not on the LAN.
nodePortAddresses: [127.0.0.0/8]
# Pod traffic is what comes from the bridge (the pod subnet is not a cluster CIDR).
detectLocalMode: BridgeInterface
detectLocal: {bridgeInterface: $NODE_BRIDGE}
# Leave the machine's conntrack sysctls and our oom score as they are
# (setting them needs CAP_SYS_RESOURCE / CAP_NET_ADMIN in the init namespace).
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
oomScoreAdj: 0
iptables: {syncPeriod: 30s, minSyncPeriod: 1s}
EOF
}

node_corefile() {
	put_config "$NODE_DIR/Corefile" coredns <<EOF
# written by e2e/cluster/up
.:53 {
    # Pods must reach it: the bridge's gateway address, not loopback (and
    # not 0.0.0.0: port 53 of the machine's other addresses is not ours).
    bind $NODE_GATEWAY
    errors
    health 127.0.0.1:$NODE_DNS_HEALTH_PORT
    ready 127.0.0.1:$NODE_DNS_READY_PORT
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $NODE_DIR/coredns.kubeconfig
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    forward . /etc/resolv.conf
    cache 5
}
EOF
}

# --- cluster objects -------------------------------------------------------------

# kube-dns: the usual ClusterIP, backed by CoreDNS on the host's bridge address
# (an EndpointSlice by hand: CoreDNS is no pod, and loopback is refused as an
# endpoint address); CoreDNS's read-only role; the API server's kubelet access.
node_api_objects() {
	"${KUBECTL[@]}" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  clusterIP: $DNS_SERVICE_IP
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels:
    kubernetes.io/service-name: kube-dns
    endpointslice.kubernetes.io/managed-by: cluster-up.slipway.dev
addressType: IPv4
endpoints:
- addresses: [$NODE_GATEWAY]
  conditions: {ready: true}
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: slipway:coredns}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: slipway:coredns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: slipway:coredns}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: system:slipway:coredns}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: slipway:apiserver-kubelet-client}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:kubelet-api-admin}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: kube-apiserver-kubelet-client}]
EOF
}

# --- images ------------------------------------------------------------------------

ctr_() { "$NODE_BIN/ctr" --address "$CTR_SOCK" -n k8s.io "$@"; }

archive_digest() { # ARCHIVE REF: the manifest digest the archive holds for REF
	tar -xOf "$1" index.json | python3 -c '
import json, sys
ref = sys.argv[1]
for m in json.load(sys.stdin).get("manifests", []):
    if m.get("annotations", {}).get("io.containerd.image.name") == ref:
        print(m["digest"])
        break' "$2"
}

# Imports every image e2e/images/build lists, unless containerd already has that
# ref at the same digest.
node_images() {
	local list ref archive want have n=0 skipped=0
	list="$("$REPO_ROOT/e2e/images/build" --print)" || return 1
	while read -r ref archive; do
		[[ -n "$ref" && -f "$archive" ]] || continue
		want="$(archive_digest "$archive" "$ref")"
		have="$(ctr_ images ls 2>/dev/null | awk -v r="$ref" '$1 == r {print $3}')"
		if [[ -n "$want" && "$want" == "$have" ]]; then
			skipped=$((skipped + 1))
			continue
		fi
		say "importing image $ref ($(du -h "$archive" | cut -f1)) …"
		# ctr warns about cgroup v1 on every call: show its output only on failure.
		if ! ctr_ images import --snapshotter overlayfs "$archive" >"$NODE_DIR/ctr-import.log" 2>&1; then
			cat "$NODE_DIR/ctr-import.log" >&2
			return 1
		fi
		n=$((n + 1))
	done <<<"$list"
	say "images: $n imported, $skipped already there"
}

# --- readiness checks ----------------------------------------------------------------

ctrd_ok() { ctr_ version >/dev/null 2>&1; }
dns_ready_ok() { curl -fsS --max-time 2 "http://127.0.0.1:$NODE_DNS_READY_PORT/ready" >/dev/null 2>&1; }
proxy_ok() { curl -fsS --max-time 2 "http://127.0.0.1:$NODE_PROXY_HEALTH_PORT/healthz" >/dev/null 2>&1; }
kubelet_ok() { curl -fsS --max-time 2 "http://127.0.0.1:10248/healthz" >/dev/null 2>&1; }
# Ready as reported by this kubelet: a node object left by an earlier run still
# says Ready until its lease runs out, so the heartbeat must be newer than $2.
node_ready() { # $1 = node name, $2 = epoch seconds the kubelet was started
	local out beat
	out="$("${KUBECTL[@]}" get node "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}' 2>/dev/null)" || return 1
	[[ "${out%% *}" == True ]] || return 1
	beat="$(date -d "${out#* }" +%s 2>/dev/null)" || return 1
	((beat >= $2))
}
# Through the kube-dns ClusterIP: proves CoreDNS, its API watch and kube-proxy's rules.
dns_answers() {
	busybox nslookup kubernetes.default.svc.cluster.local "$DNS_SERVICE_IP" 2>/dev/null | grep -q "10.96.0.1$"
}

# The last error a component logged before it exited, as one short line: klog's
# fatal ("F1202 …") or the kubelet's final `"command failed" err="…"`, else the
# last E line. It goes into real-node.env so that a test run that only shows
# the tests' output (CI) still says why, not just "see the log".
last_error_line() { # $1 = component
	local f="$LOG_DIR/$1.log" line
	[[ -f "$f" ]] || return 0
	line="$(grep -E '"command failed"|^F[0-9]{4} ' "$f" | tail -n 1)"
	[[ -n "$line" ]] || line="$(grep -E '^E[0-9]{4} |level=(error|fatal)' "$f" | tail -n 1)"
	[[ -n "$line" ]] || return 0
	# drop klog's header (severity, date, time, pid, file:line]) and cap the length
	line="$(sed -E 's/^[EFWI][0-9]{4} [0-9:.]+ +[0-9]+ [^]]*\] //' <<<"$line" | tr -d '\r\n')"
	printf '%s' "${line:0:400}"
}

# node_wait DESCRIPTION TIMEOUT COMPONENT COMMAND…: like up's wait_for, but
# returns 1 with NODE_FAILURE set instead of ending up.
node_wait() {
	local what="$1" timeout="$2" comp="$3" deadline
	shift 3
	deadline=$(($(date +%s) + timeout))
	until "$@" >/dev/null 2>&1; do
		if [[ "$comp" != - ]] && ! pid_of "$comp" >/dev/null; then
			local why
			why="$(last_error_line "$comp")"
			NODE_FAILURE="$comp exited while waiting for $what${why:+: $why} (see $LOG_DIR/$comp.log)"
			NODE_FAILED_COMP="$comp"
			return 1
		fi
		if (($(date +%s) >= deadline)); then
			NODE_FAILURE="timed out after ${timeout}s waiting for $what (see $LOG_DIR/${comp/#-/up}.log)"
			NODE_FAILED_COMP="$comp"
			return 1
		fi
		sleep 0.5
	done
}

# The real node could not start: record why, show the log, carry on with kwok
# (or end up when SLIPWAY_REAL_NODE=require).
node_give_up() { # $1 = reason, $2 = component whose log matters (or -)
	node_record SLIPWAY_REAL_NODE_UNAVAILABLE "$1"
	say "real node unavailable: $1"
	[[ "${2:--}" != - ]] && log_tail "$2"
	if [[ "${SLIPWAY_REAL_NODE:-auto}" == require ]]; then
		fail "SLIPWAY_REAL_NODE=require and the real node did not start"
	fi
	say "continuing with the kwok nodes only; the real-node tests will fail with this reason"
	return 0
}

# --- up -------------------------------------------------------------------------------

node_up() {
	local reason name ip t0
	reason="$(node_unavailable_reason)"
	if [[ -n "$reason" ]]; then
		node_give_up "$reason" -
		return 0
	fi
	t0=$(date +%s)
	name="$(node_name)"
	ip="$(node_ip)"
	NODE_BIN="$("$CLUSTER_SRC/lib/node-build.sh")" || { node_give_up "building the node binaries failed (output above)" -; return 0; }
	mkdir -p "$NODE_DIR"
	echo "$CLUSTER_DIR" >"$NODE_OWNER_FILE"
	say "real node $name ($ip): binaries $NODE_BIN"

	node_pki "$name" "$ip"
	node_save_sysctls
	node_bridge || { node_give_up "could not create the bridge $NODE_BRIDGE" -; return 0; }
	node_containerd_config
	node_kubelet_config "$name"
	node_kube_proxy_config "$name"
	node_corefile

	# containerd finds its shim on PATH; the CNI plugins and kube-proxy need iptables and ip.
	local path="$NODE_BIN:/usr/local/sbin:/usr/sbin:/sbin:$PATH"
	PATH="$path" START_BIN_DIR="$NODE_BIN" start containerd --config "$NODE_DIR/containerd/config.toml"
	node_wait "containerd to answer on $CTR_SOCK" 60 containerd ctrd_ok || { node_give_up "$NODE_FAILURE" containerd; return 0; }
	node_images || { node_give_up "importing the images of e2e/images/build failed (output above)" containerd; return 0; }

	node_api_objects || { node_give_up "could not create kube-dns, its EndpointSlice and the RBAC objects" -; return 0; }
	START_BIN_DIR="$NODE_BIN" start coredns -conf "$NODE_DIR/Corefile"
	# A kubelet that already runs reports status only on change (every 5 min
	# otherwise): then its Ready condition is trusted as it is.
	local kubelet_t0=0
	pid_of kubelet >/dev/null || kubelet_t0=$(($(date +%s) - 1)) # heartbeat times have whole seconds
	local attempt
	for attempt in 1 2; do
		PATH="$path" START_BIN_DIR="$NODE_BIN" start kubelet \
			--config="$NODE_DIR/kubelet-config.yaml" \
			--kubeconfig="$NODE_DIR/kubelet.kubeconfig" \
			--root-dir="$NODE_DIR/kubelet" \
			--hostname-override="$name" \
			--node-ip="$ip" \
			--node-labels="$NODE_LABEL_KEY=$NODE_LABEL_VALUE,type=real"
		node_wait "kubelet /healthz" 60 kubelet kubelet_ok && break
		# One more start for a kubelet that exited at once (a race with a
		# component still settling under load); its first log stays as kubelet.log.1.
		if ((attempt == 1)) && ! pid_of kubelet >/dev/null; then
			say "$NODE_FAILURE; starting the kubelet once more"
			log_tail kubelet
			continue
		fi
		node_give_up "$NODE_FAILURE" kubelet
		return 0
	done
	node_wait "node $name to be Ready" "$READY_TIMEOUT" kubelet node_ready "$name" "$kubelet_t0" || { node_give_up "$NODE_FAILURE" kubelet; return 0; }
	# Labels and taints from the kubelet apply only when it registers the node:
	# keep them right on a node object that already existed (and uncordon it, in
	# case someone drained it by hand: up means "run pods here").
	"${KUBECTL[@]}" label node "$name" --overwrite "$NODE_LABEL_KEY=$NODE_LABEL_VALUE" type=real >/dev/null &&
		"${KUBECTL[@]}" taint node "$name" --overwrite "$NODE_LABEL_KEY=$NODE_LABEL_VALUE:NoSchedule" >/dev/null &&
		"${KUBECTL[@]}" uncordon "$name" >/dev/null ||
		{ node_give_up "could not label, taint or uncordon node $name" -; return 0; }
	node_storage_capacity "$name" || { node_give_up "could not give node $name an ephemeral-storage capacity" -; return 0; }
	# After the node exists: kube-proxy reads its addresses from the Node object.
	PATH="$path" START_BIN_DIR="$NODE_BIN" start kube-proxy --config="$NODE_DIR/kube-proxy-config.yaml"
	node_wait "CoreDNS to be ready" 60 coredns dns_ready_ok || { node_give_up "$NODE_FAILURE" coredns; return 0; }
	node_wait "kube-proxy /healthz" 60 kube-proxy proxy_ok || { node_give_up "$NODE_FAILURE" kube-proxy; return 0; }
	node_wait "DNS to answer on $DNS_SERVICE_IP (kube-dns ClusterIP)" 60 coredns dns_answers || { node_give_up "$NODE_FAILURE" coredns; return 0; }
	node_record SLIPWAY_REAL_NODE "$name"
	say "real node $name is Ready (label $NODE_LABEL_KEY=$NODE_LABEL_VALUE, taint $NODE_LABEL_KEY=$NODE_LABEL_VALUE:NoSchedule), DNS on $DNS_SERVICE_IP ($(($(date +%s) - t0))s)"
}

# --- down ---------------------------------------------------------------------------

node_bin_dir() { # the folder of the running (or last) node binaries
	local pid
	if pid="$(pid_of containerd)"; then dirname "$(readlink "/proc/$pid/exe" | sed 's/ (deleted)$//')"; return; fi
	NODE_BIN_GUESS="$(sed -n 's/^ *BinaryName = "\(.*\)\/runc"$/\1/p' "$NODE_DIR/containerd/config.toml" 2>/dev/null)"
	echo "$NODE_BIN_GUESS"
}

# Every container of the node is killed and removed while containerd still
# runs, so its shims exit and it unmounts the root filesystems itself. The pod
# objects stay in the API; the next up's kubelet creates their sandboxes anew.
node_stop_containers() {
	local ids id i
	NODE_BIN="$(node_bin_dir)"
	[[ -x "$NODE_BIN/ctr" ]] && ctrd_ok || return 0
	ids="$(ctr_ tasks ls -q 2>/dev/null || true)"
	for id in $ids; do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
	for ((i = 0; i < 50; i++)); do
		[[ -z "$(ctr_ tasks ls 2>/dev/null | awk 'NR > 1 && $3 != "STOPPED"')" ]] && break
		sleep 0.2
	done
	for id in $ids; do ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true; done
	ids="$(ctr_ containers ls -q 2>/dev/null || true)"
	for id in $ids; do ctr_ containers delete "$id" >/dev/null 2>&1 || true; done
	[[ -z "$ids" ]] || say "removed $(wc -w <<<"$ids") container(s) of the real node"
}

# Shims are their own sessions and outlive containerd: stop ours, found by
# the exact path of our shim binary (never by name alone).
node_stop_shims() {
	local p exe shim="$NODE_BIN/containerd-shim-runc-v2"
	[[ -n "$NODE_BIN" ]] || return 0
	for p in /proc/[0-9]*; do
		exe="$(readlink "$p/exe" 2>/dev/null)" || continue
		[[ "$exe" == "$shim" || "$exe" == "$shim (deleted)" ]] || continue
		kill -KILL "${p#/proc/}" 2>/dev/null && say "stopped a leftover shim (pid ${p#/proc/})"
	done
}

# What still runs in the pods' cgroups (containerd died before it could stop
# them, or a shim was killed): found by cgroup membership, never by name.
node_kill_pod_processes() {
	local f pid n=0
	for f in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/k8s.io /sys/fs/cgroup/kubepods /sys/fs/cgroup/k8s.io; do
		[[ -d "$f" ]] || continue
		while read -r pid; do
			[[ -n "$pid" ]] || continue
			kill -KILL "$pid" 2>/dev/null && n=$((n + 1))
		done < <(find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)
	done
	((n == 0)) || say "killed $n leftover process(es) of the real node's pods"
	return 0
}

# Drops every KUBE-* and CNI-* chain (kubelet, kube-proxy, CNI bridge/portmap)
# and the rules that jump to them, in one iptables-restore per table.
iptables_sweep() { # $1 = iptables or ip6tables
	local t save script
	command -v "$1-save" >/dev/null || return 0
	for t in filter nat mangle raw; do
		save="$("$1-save" -t "$t" 2>/dev/null)" || continue
		script="$(awk '
			/^:(KUBE-|CNI-)/ { split($1, a, ":"); ours[++n] = a[2]; next }
			/^-A / && $2 !~ /^(KUBE-|CNI-)/ && / -[jg] (KUBE-|CNI-)/ { sub(/^-A /, "-D "); dels[++m] = $0 }
			END {
				for (i = 1; i <= m; i++) print dels[i]
				for (i = 1; i <= n; i++) print "-F " ours[i]
				for (i = 1; i <= n; i++) print "-X " ours[i]
			}' <<<"$save")"
		[[ -n "$script" ]] || continue
		printf '*%s\n%s\nCOMMIT\n' "$t" "$script" | "$1-restore" --noflush ||
			say "warning: could not remove the $1 $t chains of the real node"
	done
}

node_unmount_all() { # every mount under the node folder and the CRI's netns, deepest first
	local m
	while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "warning: could not unmount $m"
	done < <(findmnt -rn -o TARGET | awk -v d="$NODE_DIR/" 'index($0, d) == 1 || $0 == substr(d, 1, length(d) - 1) || $0 ~ /^\/run\/netns\/cni-/' | sort -r)
	rm -f /run/netns/cni-* 2>/dev/null || true
	rmdir /run/netns 2>/dev/null || true
}

node_rm_cgroups() { # kubepods/ (kubelet) and k8s.io/ (containerd) in every hierarchy
	local d i
	for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/k8s.io /sys/fs/cgroup/kubepods /sys/fs/cgroup/k8s.io; do
		[[ -d "$d" ]] || continue
		for ((i = 0; i < 10; i++)); do
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
			[[ -d "$d" ]] || break
			sleep 0.3
		done
		[[ -d "$d" ]] && say "warning: cgroup $d is still in use"
	done
	return 0
}

node_restore_sysctls() {
	local f="$NODE_DIR/host-sysctls.orig" line
	[[ -f "$f" ]] || return 0
	while IFS= read -r line; do
		echo "${line#*=}" >"/proc/sys/${line%%=*}" 2>/dev/null || true
	done <"$f"
	rm -f "$f"
}

other_containerd_runs() { # a containerd that is not ours (then /run/containerd is its too)
	local p exe
	for p in /proc/[0-9]*; do
		exe="$(readlink "$p/exe" 2>/dev/null)" || continue
		[[ "${exe##*/}" == containerd* ]] || continue
		return 0
	done
	return 1
}

# Undoes the host state of the real node; safe to run when nothing is left.
node_host_cleanup() {
	node_unmount_all
	ip link del "$NODE_BRIDGE" 2>/dev/null || true
	iptables_sweep iptables
	iptables_sweep ip6tables
	node_rm_cgroups
	rm -rf "$NODE_DIR/cni/ipam" /var/lib/cni/networks/"$NODE_NET_NAME" /var/lib/cni/results/"$NODE_NET_NAME"-*
	if ! other_containerd_runs; then
		# containerd's own loopback network caches its results there too
		rm -f /var/lib/cni/results/cni-loopback-*
		rm -rf /run/containerd
	fi
	rmdir /var/lib/cni/networks /var/lib/cni/results /var/lib/cni 2>/dev/null || true
	node_restore_sysctls
	[[ "$(cat "$NODE_OWNER_FILE" 2>/dev/null)" == "$CLUSTER_DIR" ]] && rm -f "$NODE_OWNER_FILE"
	rm -f "$NODE_ENV"
}

node_down() { # stop_group comes from down
	[[ -d "$NODE_DIR" ]] || { rm -f "$NODE_ENV"; return 0; }
	NODE_BIN="$(node_bin_dir)"
	# The kubelet first, so it does not restart what is stopped next.
	stop_group kubelet
	stop_group kube-proxy coredns
	node_stop_containers
	stop_group containerd
	node_stop_shims
	node_kill_pod_processes
	node_host_cleanup
}
