#!/usr/bin/env bash
# Starts the real test node beside the kwok nodes of a running local cluster (CLUSTER_DIR, started by
# `REAL_NODE=1 tests/cluster/up.sh`, which runs this script itself at its end):
#   containerd (CRI; runc; CNI bridge spin-cni0 on 10.88.0.0/16) -> kubelet -> Node spin-real-node Ready
#   -> kube-proxy (iptables mode) serving the cluster's Services on this host.
#
# The Node carries the label spin-test/real-node=true and the taint spin-test/real-node=true:NoSchedule:
# a pod runs on it only when it asks to (nodeSelector + toleration), so kwok-scheduled workloads never land
# there by accident. No image can be pulled: import local image tars with tests/cluster/node-import.sh and
# use imagePullPolicy: Never (or IfNotPresent). There is no cluster DNS: pass IPs, not Service names.
#
# One real node per host (see node-lib.sh): a second one, for another CLUSTER_DIR, is refused while the
# first one runs; the state of a dead one is cleaned up first. Idempotent: a healthy node of this cluster is
# left alone. Stop it with tests/cluster/node-down.sh (down.sh does it too).
# The last line on stdout is "node: <name> ready in <s> s".
# shellcheck disable=SC2317 # functions run indirectly (traps, wait_for arguments)
set -euo pipefail

# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/cluster/pki.sh
. "$(dirname "$0")/pki.sh"
# shellcheck source=tests/cluster/node-lib.sh
. "$(dirname "$0")/node-lib.sh"

WAIT_SECS=${CLUSTER_WAIT_SECS:-60}
NODE_DIR="" PKI="" KCFG_DIR="" KUBELET_PORT="" KUBELET_HEALTHZ_PORT="" PROXY_HEALTHZ_PORT="" PROXY_METRICS_PORT=""
claimed=0
succeeded=0
T0=0

fail() {
	node_log "FAILED: $1: $2"
	log_tail "$1" 30
	exit 1
}

on_exit() {
	local rc=$?
	[ "$succeeded" = 1 ] && return 0
	if [ "$claimed" = 1 ]; then
		node_log "stopping what was started; logs kept in $CLUSTER_DIR/logs"
		CLUSTER_DIR=$CLUSTER_DIR "$CLUSTER_LIB_DIR/node-down.sh" >/dev/null 2>&1 || true
	fi
	exit $((rc == 0 ? 1 : rc))
}

step() { node_log "$(fmt_secs $(($(now_ms) - T0))) s: $*"; }

kc() { "$TOOLS_BIN/kubectl" --kubeconfig "$CLUSTER_DIR/kubeconfig" --request-timeout=5s "$@"; }

require() {
	local b missing=()
	for b in containerd containerd-shim-runc-v2 ctr kubelet kube-proxy kubectl; do
		[ -x "$TOOLS_BIN/$b" ] || missing+=("$b")
	done
	[ ${#missing[@]} -eq 0 ] || { node_log "missing in $TOOLS_BIN: ${missing[*]} (run: make tools)"; exit 1; }
	for b in runc iptables ip umoci gcc flock; do
		command -v "$b" >/dev/null || { node_log "need $b: run make deps"; exit 1; }
	done
	[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] ||
		{ node_log "need the CNI plugins in /usr/lib/cni: run make deps"; exit 1; }
	[ "$(id -u)" = 0 ] || { node_log "the real node needs root (cgroups, mounts, iptables)"; exit 1; }
}

# node_healthy: this cluster's node processes all run and the Node is Ready.
node_healthy() {
	local c
	for c in "${NODE_COMPONENTS[@]}"; do
		pid_of "$c" >/dev/null || return 1
	done
	[ "$(kc get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# claim: takes the host's one real-node slot for this cluster, or explains who has it.
claim() {
	exec 9>"$NODE_LOCK"
	flock -w 120 9 || { node_log "timed out waiting for $NODE_LOCK"; exit 1; }
	node_read_owner
	if [ -n "$OWNER_DIR" ] && [ "$OWNER_DIR" != "$CLUSTER_DIR" ] &&
		node_owner_alive "$OWNER_DIR" "$OWNER_PID" "$OWNER_START"; then
		node_log "a real node already runs on this host, for the cluster in $OWNER_DIR: there can be only one" \
			"(one kube-proxy, one /kubepods per host). Stop it first: CLUSTER_DIR=$OWNER_DIR tests/cluster/node-down.sh"
		exit 1
	fi
	if [ -e "$NODE_RUN" ] || [ -e "$NODE_VAR" ]; then
		node_log "cleaning up the state of a previous node${OWNER_DIR:+ (of $OWNER_DIR)}"
		node_teardown_host "$OWNER_DIR"
	fi
	mkdir -p "$NODE_RUN" "$NODE_VAR"
	chmod 700 "$NODE_RUN" "$NODE_VAR"
	node_save_host_state
	printf '%s\n%s\n%s\n' "$CLUSTER_DIR" "$$" "$(proc_start $$)" >"$NODE_RUN/owner"
	claimed=1
	exec 9>&-
}

gen_node_pki() {
	local san="DNS:$NODE_NAME,DNS:localhost,IP:127.0.0.1,IP:$ADVERTISE_ADDRESS"
	issue kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
	issue kubelet-serving "/CN=$NODE_NAME" serverAuth "$san"
	issue kube-proxy "/CN=system:kube-proxy" clientAuth
	chmod 600 "$PKI"/*.key
	write_kubeconfig "$KCFG_DIR/kubelet.kubeconfig" kubelet
	write_kubeconfig "$KCFG_DIR/kube-proxy.kubeconfig" kube-proxy
}

# build_pause_image: the pinned sandbox image, from tests/node/pause.c (no pause image can be pulled).
build_pause_image() {
	mkdir -p "$NODE_DIR/images"
	"${NODE_STATIC_CC[@]}" -o "$NODE_DIR/images/pause" "$REPO/tests/node/pause.c"
	"$REPO/tests/node/image.sh" "$NODE_DIR/images/pause.tar" /pause "$NODE_DIR/images/pause:/pause" >/dev/null
}

write_configs() {
	mkdir -p "$NODE_DIR/cni"
	# ipMasq off: pod traffic leaves with its own source address; kube-proxy masquerades what needs it.
	# The IPAM leases live under NODE_VAR, so teardown removes them with it.
	cat >"$NODE_DIR/cni/10-spin-test-node.conflist" <<-EOF
		{
		  "cniVersion": "1.0.0",
		  "name": "spin-test-node",
		  "plugins": [
		    {
		      "type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
		      "ipam": {
		        "type": "host-local", "dataDir": "$NODE_VAR/cni-ipam",
		        "ranges": [[{"subnet": "$NODE_POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]
		      }
		    }
		  ]
		}
	EOF
	# restrict_oom_score_adj: without CAP_SYS_RESOURCE, runc cannot lower oom_score_adj to the -998 the
	# CRI asks for sandboxes, and every sandbox fails. Plugins with fixed host paths (opt: /opt/containerd,
	# NRI: /run/nri, CDI: /etc/cdi) are off; netns mounts go under the state dir, not /run/netns.
	cat >"$NODE_DIR/containerd.toml" <<-EOF
		version = 3
		root = "$NODE_VAR/containerd"
		state = "$NODE_RUN/containerd"
		disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.nri.v1.nri",
		  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
		  "io.containerd.image-verifier.v1.bindir"]
		[grpc]
		  address = "$NODE_SOCK"
		[plugins.'io.containerd.cri.v1.images']
		  snapshotter = "overlayfs"
		  [plugins.'io.containerd.cri.v1.images'.pinned_images]
		    sandbox = "$NODE_PAUSE_IMAGE"
		[plugins.'io.containerd.cri.v1.runtime']
		  restrict_oom_score_adj = true
		  enable_cdi = false
		  netns_mounts_under_state_dir = true
		  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
		    BinaryName = "$(command -v runc)"
		    Root = "$NODE_RUN/runc"
		  [plugins.'io.containerd.cri.v1.runtime'.cni]
		    bin_dirs = ["/usr/lib/cni"]
		    conf_dir = "$NODE_DIR/cni"
		    max_conf_num = 1
	EOF
	# failCgroupV1: this host has cgroup v1 hierarchies. Image GC off (thresholds at 100 %): imported images
	# cannot be pulled again. Eviction thresholds low: a shared test machine, not a production node.
	cat >"$NODE_DIR/kubelet.yaml" <<-EOF
		apiVersion: kubelet.config.k8s.io/v1beta1
		kind: KubeletConfiguration
		address: $ADVERTISE_ADDRESS
		port: $KUBELET_PORT
		readOnlyPort: 0
		healthzBindAddress: 127.0.0.1
		healthzPort: $KUBELET_HEALTHZ_PORT
		tlsCertFile: $PKI/kubelet-serving.crt
		tlsPrivateKeyFile: $PKI/kubelet-serving.key
		authentication:
		  anonymous: {enabled: false}
		  webhook: {enabled: true}
		  x509: {clientCAFile: $PKI/ca.crt}
		authorization: {mode: Webhook}
		containerRuntimeEndpoint: unix://$NODE_SOCK
		cgroupDriver: cgroupfs
		failCgroupV1: false
		failSwapOn: false
		podLogsDir: $NODE_VAR/pod-logs
		imageGCHighThresholdPercent: 100
		imageGCLowThresholdPercent: 99
		evictionHard: {memory.available: 50Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
		registerWithTaints:
		- {key: $NODE_LABEL_KEY, value: "true", effect: NoSchedule}
		rotateCertificates: false
		serverTLSBootstrap: false
		maxPods: 30
	EOF
	# conntrack 0: leave the host's conntrack sysctls alone. localhostNodePorts off: no route_localnet.
	cat >"$NODE_DIR/kube-proxy.yaml" <<-EOF
		apiVersion: kubeproxy.config.k8s.io/v1alpha1
		kind: KubeProxyConfiguration
		clientConnection: {kubeconfig: $KCFG_DIR/kube-proxy.kubeconfig}
		hostnameOverride: $NODE_NAME
		mode: iptables
		clusterCIDR: $NODE_POD_CIDR
		healthzBindAddress: 127.0.0.1:$PROXY_HEALTHZ_PORT
		metricsBindAddress: 127.0.0.1:$PROXY_METRICS_PORT
		nodePortAddresses: [$ADVERTISE_ADDRESS/32]
		conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
		oomScoreAdj: 0
		iptables: {localhostNodePorts: false, minSyncPeriod: 0s, syncPeriod: 30s}
	EOF
}

containerd_ready() { ctr_node version 2>&1; }
kubelet_healthy() { curl_ok "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz" ok; }
node_ready() {
	[ "$(kc get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
# kube-proxy's /healthz answers 200 once it has programmed the rules at least once.
proxy_healthy() {
	[ "$(curl -s --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}' \
		"http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz")" = 200 ]
}

main() {
	require
	load_env || { node_log "no cluster in $CLUSTER_DIR (start one with: REAL_NODE=1 tests/cluster/up.sh)"; exit 1; }
	if [ "${REAL_NODE:-0}" != 1 ]; then
		node_log "the cluster in $CLUSTER_DIR was started without REAL_NODE=1, so its apiserver cannot reach" \
			"a kubelet nor be reached from pods; restart it with: REAL_NODE=1 tests/cluster/up.sh"
		exit 1
	fi
	apiserver_ready || { node_log "the apiserver of $CLUSTER_DIR is not ready"; exit 1; }
	CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
	NODE_DIR=$CLUSTER_DIR/node PKI=$CLUSTER_DIR/pki KCFG_DIR=$CLUSTER_DIR/kubeconfigs
	if node_healthy; then
		echo "node: $NODE_NAME already running for $CLUSTER_DIR"
		exit 0
	fi

	T0=$(now_ms)
	trap on_exit EXIT
	trap 'exit 130' INT TERM HUP
	claim
	# Leftovers of this cluster's own earlier node (its processes were handled by claim's teardown).
	local c
	for c in "${NODE_COMPONENTS[@]}"; do stop_component "$c"; done
	rm -rf -- "$NODE_DIR"
	mkdir -p "$NODE_DIR" "$CLUSTER_DIR/logs"

	step "certificates, configuration, pause image"
	pick_port; KUBELET_PORT=$PORT
	pick_port; KUBELET_HEALTHZ_PORT=$PORT
	pick_port; PROXY_HEALTHZ_PORT=$PORT
	pick_port; PROXY_METRICS_PORT=$PORT
	gen_node_pki
	write_configs
	build_pause_image

	step "starting containerd"
	local bindir
	bindir=$(dirname "$(readlink -f "$TOOLS_BIN/containerd")")
	# The shim is found on PATH, beside containerd.
	launch node-containerd env PATH="$bindir:$PATH" "$bindir/containerd" --config "$NODE_DIR/containerd.toml"
	wait_for node-containerd "$WAIT_SECS" "its socket" containerd_ready || fail node-containerd "$WAIT_ERROR"
	CLUSTER_DIR=$CLUSTER_DIR "$CLUSTER_LIB_DIR/node-import.sh" "$NODE_DIR/images/pause.tar" "$NODE_PAUSE_NAME" >/dev/null ||
		fail node-containerd "could not import the pause image"

	step "starting kubelet"
	mkdir -p "$NODE_VAR/kubelet"
	launch node-kubelet "$(readlink -f "$TOOLS_BIN/kubelet")" \
		--config="$NODE_DIR/kubelet.yaml" --kubeconfig="$KCFG_DIR/kubelet.kubeconfig" \
		--root-dir="$NODE_VAR/kubelet" --cert-dir="$NODE_VAR/kubelet/pki" \
		--hostname-override="$NODE_NAME" --node-ip="$ADVERTISE_ADDRESS" \
		--node-labels="$NODE_LABEL_KEY=true"
	wait_for node-kubelet "$WAIT_SECS" "its health check" kubelet_healthy || fail node-kubelet "$WAIT_ERROR"
	wait_for node-kubelet "$WAIT_SECS" "Node $NODE_NAME Ready" node_ready || fail node-kubelet "$WAIT_ERROR"

	step "starting kube-proxy"
	launch node-kube-proxy "$(readlink -f "$TOOLS_BIN/kube-proxy")" --config="$NODE_DIR/kube-proxy.yaml"
	wait_for node-kube-proxy "$WAIT_SECS" "its health check" proxy_healthy || fail node-kube-proxy "$WAIT_ERROR"

	succeeded=1
	echo "node: $NODE_NAME ready in $(fmt_secs $(($(now_ms) - T0))) s (label $NODE_LABEL_KEY=true, taint $NODE_LABEL_KEY=true:NoSchedule)"
}

main "$@"; exit $?
