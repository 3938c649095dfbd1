#!/usr/bin/env bash
# Stops the local control plane of CLUSTER_DIR (default <repo>/.cluster) and removes its state.
#
# Processes are stopped only through the PIDs recorded by up.sh (checked against their recorded start
# time, so a reused PID is never hit), never by name: other clusters and unrelated etcds live on.
# Order is the reverse of the start: kwok, scheduler, controller-manager, apiserver, etcd; SIGTERM
# first, SIGKILL after 10 s. Then the known state entries and the /dev/shm etcd data are deleted.
# Idempotent: with no cluster it does nothing and exits 0.
set -euo pipefail

# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"

main() {
	if [ ! -f "$CLUSTER_DIR/$MARKER" ] && [ ! -f "$CLUSTER_DIR/env" ] && [ ! -d "$CLUSTER_DIR/pids" ]; then
		echo "cluster: nothing to stop in $CLUSTER_DIR"
		return 0
	fi
	local c pid i
	# The real node first (tests/cluster/node-down.sh): it needs the apiserver and undoes host state.
	if compgen -G "$CLUSTER_DIR/pids/node-*" >/dev/null || [ -e "$CLUSTER_DIR/node" ]; then
		CLUSTER_DIR=$CLUSTER_DIR "$CLUSTER_LIB_DIR/node-down.sh" >&2
	fi
	for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
		c=${COMPONENTS[$i]}
		if pid=$(pid_of "$c"); then
			echo "cluster: stopping $c (pid $pid)" >&2
		fi
		stop_component "$c"
	done
	remove_state 0
	echo "cluster: stopped, state removed from $CLUSTER_DIR"
}

# "exit" on the same line: bash has read it before main runs, so editing this file cannot derail a running copy.
main "$@"; exit $?
