#!/usr/bin/env bash
# Stops the real test node of CLUSTER_DIR (tests/cluster/node-up.sh) and undoes what it changed on the host:
# pod processes and shims, mounts below its state and root dirs, the KUBE-*/CNI-* iptables chains (IPv4 and
# IPv6), the bridge spin-cni0, the /kubepods cgroups, the sysctls the kubelet and the bridge plugin set, and
# the host paths they create whatever their configuration (details in node-lib.sh). The Node object is
# deleted when the apiserver still answers, so its pods are garbage-collected.
#
# Also cleans up after a node whose CLUSTER_DIR is gone (a crashed run): the host state is found through
# /run/spin-test-node. Processes are signalled only through recorded PIDs, the cgroup.procs of /kubepods and
# shims started with our node's containerd socket, never by name. Idempotent: without a node it does nothing.
set -euo pipefail

# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/cluster/node-lib.sh
. "$(dirname "$0")/node-lib.sh"

main() {
	local dir="" c ours=0
	[ -d "$CLUSTER_DIR" ] && dir=$(cd "$CLUSTER_DIR" && pwd)
	for c in "${NODE_COMPONENTS[@]}"; do
		[ -n "$dir" ] && [ -f "$dir/pids/$c.pid" ] && ours=1
	done
	if [ "$ours" = 0 ] && [ ! -e "$NODE_RUN" ] && [ ! -e "$NODE_VAR" ]; then
		echo "node: nothing to stop"
		return 0
	fi
	exec 9>"$NODE_LOCK"
	flock -w 120 9 || { node_log "timed out waiting for $NODE_LOCK"; exit 1; }
	node_read_owner
	if [ -n "$OWNER_DIR" ] && [ "$OWNER_DIR" != "$dir" ] && node_owner_alive "$OWNER_DIR" "$OWNER_PID" "$OWNER_START"; then
		# The host's node belongs to another, live cluster: only this cluster's own leftovers go.
		node_log "the real node on this host belongs to $OWNER_DIR; leaving it alone"
		for c in "${NODE_COMPONENTS[@]}"; do [ -n "$dir" ] && stop_component "$c"; done
	else
		# A node of this cluster not recorded as the owner (claim never finished): its processes too.
		if [ -n "$dir" ] && [ "$OWNER_DIR" != "$dir" ]; then
			for c in "${NODE_COMPONENTS[@]}"; do (CLUSTER_DIR=$dir stop_component "$c"); done
		fi
		node_teardown_host "${OWNER_DIR:-$dir}"
		# After the kubelet is gone (it would register the Node again): the pod garbage collector then
		# deletes the pods bound to it.
		if [ -n "$dir" ] && load_env 2>/dev/null && apiserver_ready; then
			"$TOOLS_BIN/kubectl" --kubeconfig "$dir/kubeconfig" --request-timeout=5s \
				delete node "$NODE_NAME" --ignore-not-found --wait=false >/dev/null 2>&1 || true
		fi
	fi
	[ -z "$dir" ] || rm -rf -- "$dir/node"
	echo "node: stopped, host state restored"
}

main "$@"; exit $?
