# Shared parts of the real test node: tests/cluster/node-{up,down,import}.sh (sourced after lib.sh).
#
# The real node is a kubelet + containerd (+ runc, the Debian CNI plugins, kube-proxy) on this host, joined
# to the local control plane of CLUSTER_DIR. Its processes are ordinary cluster components (pids/, logs/,
# cmdline/ as in lib.sh, named node-containerd, node-kubelet, node-kube-proxy); its configuration and
# certificates live in CLUSTER_DIR/node and CLUSTER_DIR/pki.
#
# Unlike the control plane, a node is host-global: kube-proxy writes iptables rules for the Service range,
# the bridge plugin creates a bridge, the kubelet makes cgroups /kubepods and sets kernel sysctls. So there
# is at most ONE real node per host, and its runtime state lives at fixed host paths:
#   /run/spin-test-node        owner (the CLUSTER_DIR and the PID of the node-up.sh that claimed it),
#                              host-state (what teardown restores), containerd state + socket, runc state,
#                              pod network namespaces
#   /var/lib/spin-test-node    containerd root (images, snapshots), kubelet root, pod logs, IPAM leases
#   /run/lock/spin-test-node.lock  flock(1) around claiming and tearing down (an empty file, kept)
# (Short fixed paths also keep the unix sockets below the kubelet root under the 108-byte limit, whatever
# the length of CLUSTER_DIR.)

NODE_NAME=spin-real-node
# Tests select the node with this label and must tolerate the taint of the same key; everything else
# (the kwok-scheduled workloads of other tests) stays off it.
NODE_LABEL_KEY=spin-test/real-node
NODE_RUN=/run/spin-test-node
NODE_VAR=/var/lib/spin-test-node
NODE_LOCK=/run/lock/spin-test-node.lock
NODE_SOCK=$NODE_RUN/containerd.sock
NODE_BRIDGE=spin-cni0
# Pod IPs of the real node: must not overlap the Service range (10.96.0.0/16) or kwok's (10.244.0.0/16).
NODE_POD_CIDR=10.88.0.0/16
NODE_PAUSE_NAME=spin-test-pause
NODE_PAUSE_IMAGE=localhost/$NODE_PAUSE_NAME:latest
NODE_COMPONENTS=(node-containerd node-kubelet node-kube-proxy)
# How the programs inside the node's images (tests/node/*.c) are compiled: static, so an image needs
# nothing but the one file; the project's language level and warnings.
NODE_STATIC_CC=(gcc -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror -Wshadow
	-static -s)

# Sysctls the kubelet (setupKernelTunables) and the bridge plugin change; saved at claim, restored at
# teardown.
NODE_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
	kernel.keys.root_maxbytes net.ipv4.ip_forward)
# Paths the kubelet, containerd or libcni create whatever their configuration says (hard-coded defaults);
# teardown deletes those that did not exist before the node was started.
NODE_HOST_PATHS=(/var/lib/kubelet /var/lib/cni /run/containerd /var/log/pods /var/log/containers
	/run/netns /etc/cni /opt/cni /opt/containerd /etc/cdi /run/cdi /run/nri /etc/kubernetes /run/mount)

node_log() { echo "node: $*" >&2; }

ctr_node() { "$TOOLS_BIN/ctr" --address "$NODE_SOCK" --timeout 30s -n k8s.io "$@"; }

# node_owner_alive <cluster dir> <claimer pid> <claimer start>: the node of that cluster is still in use:
# one of its components runs, or the node-up.sh that claimed it is still starting it.
node_owner_alive() {
	local dir=$1 pid=$2 start=$3 c
	if [[ $pid =~ ^[0-9]+$ ]] && [ "$(proc_start "$pid" 2>/dev/null)" = "$start" ]; then
		return 0
	fi
	for c in "${NODE_COMPONENTS[@]}"; do
		(CLUSTER_DIR=$dir pid_of "$c" >/dev/null) && return 0
	done
	return 1
}

# node_taken_by_other <cluster dir>: true (printing the owner's CLUSTER_DIR) when the host's real node is in
# use by another cluster. A quick check without the lock, for failing early; claiming re-checks under it.
node_taken_by_other() {
	node_read_owner
	[ -n "$OWNER_DIR" ] && [ "$OWNER_DIR" != "$1" ] && node_owner_alive "$OWNER_DIR" "$OWNER_PID" "$OWNER_START" &&
		echo "$OWNER_DIR"
}

# node_read_owner: sets OWNER_DIR OWNER_PID OWNER_START from $NODE_RUN/owner (empty when unclaimed).
node_read_owner() {
	OWNER_DIR="" OWNER_PID="" OWNER_START=""
	[ -f "$NODE_RUN/owner" ] || return 0
	{ read -r OWNER_DIR; read -r OWNER_PID; read -r OWNER_START; } <"$NODE_RUN/owner" || true
}

# node_save_host_state: the sysctl values and which NODE_HOST_PATHS exist, before anything changes them.
node_save_host_state() {
	local s p v
	{
		for s in "${NODE_SYSCTLS[@]}"; do
			if v=$(cat "/proc/sys/${s//.//}" 2>/dev/null); then echo "sysctl $s $v"; fi
		done
		for p in "${NODE_HOST_PATHS[@]}"; do
			if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo "absent $p"; fi
		done
	} >"$NODE_RUN/host-state.tmp"
	mv "$NODE_RUN/host-state.tmp" "$NODE_RUN/host-state"
}

# node_cgroup_pids: PIDs of the processes in the kubelet's /kubepods cgroups (of any hierarchy).
node_cgroup_pids() {
	local f
	for f in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
		[ -d "$f" ] || continue
		find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -un
}

# node_shim_pids: containerd shims started for our node, recognised by their exact -address argument
# (the socket under $NODE_RUN), never by name.
node_shim_pids() {
	local d cmd
	for d in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline") || continue
		[[ $cmd == *"-address $NODE_SOCK "* ]] && echo "${d#/proc/}"
	done
	return 0
}

# node_kill_leftovers: SIGKILL the pod processes (in /kubepods cgroups) and the shims of our node.
node_kill_leftovers() {
	local i pids
	for ((i = 0; i < 50; i++)); do
		pids=$( (node_cgroup_pids; node_shim_pids) | sort -un | tr '\n' ' ')
		[ -n "${pids// /}" ] || return 0
		# shellcheck disable=SC2086 # a list of PIDs
		kill -KILL $pids 2>/dev/null || true
		sleep 0.1
	done
	node_log "WARNING: processes still alive after SIGKILL: $pids"
}

# node_umount_below <dir>: unmounts every mount point at or below dir, deepest first.
node_umount_below() {
	local dir=$1 m
	[ -e "$dir" ] || return 0
	# /proc/self/mountinfo field 5 is the mount point (octal escapes for spaces; ours have none).
	while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || node_log "WARNING: cannot unmount $m"
	done < <(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print length($5), $5 }' /proc/self/mountinfo |
		sort -rn | cut -d' ' -f2)
}

# node_iptables_cleanup: removes the chains kube-proxy and the kubelet create (KUBE-*) and those of the CNI
# plugins (CNI-*), with the rules in built-in chains that jump to them, from every table, IPv4 and IPv6.
# Rules of anyone else are left untouched.
node_iptables_cleanup() {
	local cmd table rules line chain
	for cmd in iptables ip6tables; do
		command -v "$cmd-save" >/dev/null || continue
		for table in filter nat mangle raw; do
			rules=$("$cmd-save" -t "$table" 2>/dev/null) || continue
			grep -qE '^:(KUBE|CNI)-' <<<"$rules" || continue
			while read -r line; do
				local -a args
				eval "args=(${line#-A })"
				"$cmd" -w 5 -t "$table" -D "${args[@]}" 2>/dev/null || true
			done < <(grep -E '^-A [A-Z]+ .*-j (KUBE|CNI)-' <<<"$rules" | grep -vE '^-A (KUBE|CNI)-')
			for chain in $(grep -oE '^:(KUBE|CNI)-[^ ]+' <<<"$rules" | cut -c2-); do
				"$cmd" -w 5 -t "$table" -F "$chain" 2>/dev/null || true
			done
			for chain in $(grep -oE '^:(KUBE|CNI)-[^ ]+' <<<"$rules" | cut -c2-); do
				"$cmd" -w 5 -t "$table" -X "$chain" 2>/dev/null || true
			done
		done
	done
}

# node_cgroups_cleanup: removes the kubelet's /kubepods cgroup trees (empty by now), deepest first.
node_cgroups_cleanup() {
	local f
	for f in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
		[ -d "$f" ] || continue
		find "$f" -depth -type d -exec rmdir {} + 2>/dev/null ||
			find "$f" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		[ -d "$f" ] && node_log "WARNING: could not remove cgroup $f"
	done
	return 0
}

# node_teardown_host: stops a node whatever state it is in (running, half started, its owner's
# CLUSTER_DIR gone) and undoes everything it changed on the host. Runs under the lock.
# Uses the components recorded in $1 (the owner's CLUSTER_DIR) when given.
node_teardown_host() {
	local dir=${1:-} c kind a b task
	if [ -n "$dir" ]; then
		(CLUSTER_DIR=$dir stop_component node-kube-proxy)
		(CLUSTER_DIR=$dir stop_component node-kubelet)
		# With containerd still up, end every task (pause and app containers) the proper way: the shims
		# exit once their tasks are deleted.
		if (CLUSTER_DIR=$dir pid_of node-containerd >/dev/null) && [ -x "$TOOLS_BIN/ctr" ]; then
			for task in $(ctr_node tasks ls -q 2>/dev/null); do
				ctr_node tasks kill -a -s SIGKILL "$task" >/dev/null 2>&1 || true
			done
			for task in $(ctr_node tasks ls -q 2>/dev/null); do
				ctr_node tasks delete -f "$task" >/dev/null 2>&1 || true
			done
		fi
		(CLUSTER_DIR=$dir stop_component node-containerd)
	fi
	node_kill_leftovers
	node_umount_below "$NODE_RUN"
	node_umount_below "$NODE_VAR"
	if [ -f "$NODE_RUN/host-state" ]; then
		while read -r kind a; do
			[ "$kind" = absent ] && node_umount_below "$a"
		done <"$NODE_RUN/host-state"
	fi
	node_iptables_cleanup
	# Veths die with their network namespaces; the bridge stays unless deleted.
	for c in $(ip -o link show master "$NODE_BRIDGE" 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
		ip link delete "$c" 2>/dev/null || true
	done
	ip link delete "$NODE_BRIDGE" 2>/dev/null || true
	node_cgroups_cleanup
	if [ -f "$NODE_RUN/host-state" ]; then
		while read -r kind a b; do
			case "$kind" in
			sysctl) echo "$b" >"/proc/sys/${a//.//}" 2>/dev/null || node_log "WARNING: cannot restore $a=$b" ;;
			absent) [ -e "$a" ] || [ -L "$a" ] && rm -rf --one-file-system -- "$a" ;;
			esac
		done <"$NODE_RUN/host-state"
	fi
	rm -rf --one-file-system -- "$NODE_VAR" "$NODE_RUN"
}
