# Cluster add-ons started by e2e/cluster/up after the nodes: metrics-server,
# pinned in build/addons/metrics-server/go.mod and built into
# ~/.cache/slipway/metrics-bin/<key>/ (e2e/lib/build-go-tool.sh; its own cache
# and key, so it never rebuilds the control plane). Sourced, never run.
# shellcheck shell=bash

METRICS_MODULE="$CLUSTER_SRC/build/addons/metrics-server"
KWOK_NODES=(kwok-node-1 kwok-node-2 kwok-node-3)

metrics_bin_dir() {
	"$REPO_ROOT/e2e/lib/build-go-tool.sh" metrics-server metrics-bin "$METRICS_MODULE" \
		sigs.k8s.io/metrics-server/cmd/metrics-server "metrics-server"
}

# What metrics-server needs from the API server: its rights (read nodes and
# pods, read the kubelets' /metrics/resource, delegate authentication and
# authorization), and the aggregated API metrics.k8s.io, served through a
# Service of type ExternalName that names 127.0.0.1 (the API server resolves
# it to that address and checks the serving certificate against the CA, under
# the name metrics-server.kube-system.svc). Kubelets are dialled by Hostname
# first, like the API server does (the real node listens on 127.0.0.1 only;
# the fake nodes have only an InternalIP: kwok, 127.0.0.1).
metrics_objects() {
	cat <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: slipway:metrics-server
rules:
- apiGroups: [""]
  resources: [nodes/metrics]
  verbs: [get]
- apiGroups: [""]
  resources: [pods, nodes]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: slipway:metrics-server
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "slipway:metrics-server"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "slipway:metrics-server"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: slipway:metrics-server:auth-delegator
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:auth-delegator"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "slipway:metrics-server"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: slipway:metrics-server:auth-reader
  namespace: kube-system
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "slipway:metrics-server"}
---
apiVersion: v1
kind: Service
metadata:
  name: metrics-server
  namespace: kube-system
spec:
  type: ExternalName
  externalName: 127.0.0.1
  ports:
  - {name: https, port: $METRICS_SERVER_PORT, protocol: TCP}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  caBundle: $(base64 -w0 <"$PKI_DIR/ca.crt")
  service: {name: metrics-server, namespace: kube-system, port: $METRICS_SERVER_PORT}
EOF
}

# The fake nodes as metrics-server finds them: kwok's address (127.0.0.1), its
# port as the kubelet port, and the per-node path of kwok's Metric.
metrics_node_endpoints() {
	local n
	for n in "${KWOK_NODES[@]}"; do
		"${KUBECTL[@]}" annotate node "$n" --overwrite \
			"metrics.k8s.io/resource-metrics-path=/metrics/nodes/$n/metrics/resource" >/dev/null || return 1
		"${KUBECTL[@]}" patch node "$n" --subresource=status --type=merge \
			-p "{\"status\":{\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":$KWOK_PORT}}}}" >/dev/null || return 1
	done
}

metrics_api_available() {
	[[ "$("${KUBECTL[@]}" get apiservice v1beta1.metrics.k8s.io \
		-o 'jsonpath={.status.conditions[?(@.type=="Available")].status}')" == True ]]
}

metrics_up() {
	local dir out
	dir="$(metrics_bin_dir)" || die "could not build metrics-server"
	metrics_node_endpoints || fail "could not point the fake nodes' kubelet endpoint at kwok" kwok kube-apiserver
	if ! out="$(metrics_objects | "${KUBECTL[@]}" apply -f - 2>&1)"; then
		echo "$out" >&2
		fail "could not create metrics-server's RBAC, Service and APIService" kube-apiserver
	fi
	START_BIN_DIR="$dir" start metrics-server \
		--kubeconfig="$CLUSTER_DIR/run/metrics-server.kubeconfig" \
		--authentication-kubeconfig="$CLUSTER_DIR/run/metrics-server.kubeconfig" \
		--authorization-kubeconfig="$CLUSTER_DIR/run/metrics-server.kubeconfig" \
		--bind-address=127.0.0.1 \
		--secure-port="$METRICS_SERVER_PORT" \
		--tls-cert-file="$PKI_DIR/metrics-server.crt" \
		--tls-private-key-file="$PKI_DIR/metrics-server.key" \
		--kubelet-preferred-address-types=Hostname,InternalIP \
		--kubelet-use-node-status-port \
		--kubelet-certificate-authority="$PKI_DIR/ca.crt" \
		--metric-resolution=15s
	wait_for "metrics-server /livez" 60 metrics-server https_path_ok "$METRICS_SERVER_PORT" /livez
	wait_for "the metrics.k8s.io API to be available" 120 metrics-server metrics_api_available
	say "metrics: kubectl top works; e2e/cluster/load sets a service's emulated load"
}
