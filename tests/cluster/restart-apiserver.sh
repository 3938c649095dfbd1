#!/usr/bin/env bash
# Restarts the kube-apiserver of CLUSTER_DIR (default <repo>/.cluster) with exactly the command line
# up.sh recorded (same port, certificates and etcd, so clients reconnect to the same URL), then waits
# for /readyz. Integration tests use it to check that watches resume after the server goes away.
#
# Optional: RESTART_DOWNTIME=<seconds> keeps the apiserver down that long before starting it again.
set -euo pipefail

# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"

WAIT_SECS=${CLUSTER_WAIT_SECS:-60}

main() {
	load_env || { log "no cluster in $CLUSTER_DIR (run tests/cluster/up.sh)"; exit 1; }
	[ -f "$CLUSTER_DIR/cmdline/kube-apiserver" ] || { log "no recorded kube-apiserver command line"; exit 1; }
	pid_of etcd >/dev/null || { log "etcd of $CLUSTER_DIR is not running; restart the cluster"; exit 1; }

	local t0 pid
	t0=$(now_ms)
	if pid=$(pid_of kube-apiserver); then
		log "stopping kube-apiserver (pid $pid)"
	fi
	stop_component kube-apiserver
	if [ "${RESTART_DOWNTIME:-0}" != 0 ]; then
		sleep "$RESTART_DOWNTIME"
	fi

	# The old socket is closed once the process is gone (Go listeners set SO_REUSEADDR, so lingering
	# TIME_WAIT connections do not block the bind), hence the same port can be taken again at once.
	relaunch kube-apiserver
	WAIT_ERROR=""
	if ! wait_for kube-apiserver "$WAIT_SECS" "/readyz" apiserver_ready; then
		log "FAILED: kube-apiserver: $WAIT_ERROR"
		log_tail kube-apiserver 30
		exit 1
	fi
	echo "cluster: kube-apiserver restarted (pid $(pid_of kube-apiserver)) and ready in $(fmt_secs $(($(now_ms) - t0))) s"
}

# "exit" on the same line: bash has read it before main runs, so editing this file cannot derail a running copy.
main "$@"; exit $?
