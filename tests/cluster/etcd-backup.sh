#!/usr/bin/env bash
# A cold backup of the etcd of CLUSTER_DIR (default <repo>/.cluster), and its restore (tests/faults/
# etcd_restore.sh): the cluster's state, resourceVersions included, goes back to the moment of the backup.
#
#   etcd-backup.sh save <dir>      stops etcd (the apiserver rides out the second or two), copies its data
#                                  directory to <dir>, starts etcd again with the recorded command line
#   etcd-backup.sh restore <dir>   stops the control plane, replaces etcd's data with <dir>'s, starts it all
#                                  again (same ports, certificates, command lines) and waits for /readyz. As
#                                  Kubernetes' restore procedure says, the controller-manager, the scheduler and
#                                  the (fake) kubelets restart too so none acts on state newer than the backup;
#                                  clients outside the control plane (the operator) are not touched
#
# A copy of a stopped member's data directory is one of etcd's documented backups (the other, `etcdctl snapshot
# save` + `etcdutl snapshot restore`, needs tools this cluster does not build); either way etcd comes back at the
# backup's revision, which is what an operator sees of a restore.
set -euo pipefail

# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"

WAIT_SECS=${CLUSTER_WAIT_SECS:-60}

start_etcd_again() {
	relaunch etcd
	WAIT_ERROR=""
	wait_for etcd "$WAIT_SECS" "/health" curl_ok "$ETCD_URL/health" '"health":"true"' ||
		{ log "FAILED: etcd: $WAIT_ERROR"; log_tail etcd 30; exit 1; }
}

main() {
	local mode=${1:-} dir=${2:-} t0
	[ -n "$dir" ] && { [ "$mode" = save ] || [ "$mode" = restore ]; } ||
		{ log "usage: etcd-backup.sh save|restore <dir>"; exit 2; }
	load_env || { log "no cluster in $CLUSTER_DIR (run tests/cluster/up.sh)"; exit 1; }
	[ -n "${ETCD_DATA_DIR:-}" ] && [ -d "$ETCD_DATA_DIR/member" ] || { log "no etcd data directory"; exit 1; }
	pid_of etcd >/dev/null || { log "etcd of $CLUSTER_DIR is not running"; exit 1; }
	t0=$(now_ms)
	if [ "$mode" = save ]; then
		stop_component etcd
		rm -rf "$dir" && mkdir -p "$dir" && cp -a "$ETCD_DATA_DIR/member" "$dir/member"
		start_etcd_again
		echo "cluster: etcd backed up to $dir in $(fmt_secs $(($(now_ms) - t0))) s"
		return 0
	fi
	[ -d "$dir/member" ] || { log "no backup in $dir"; exit 1; }
	local c
	stop_all
	rm -rf "$ETCD_DATA_DIR/member" && cp -a "$dir/member" "$ETCD_DATA_DIR/member"
	start_etcd_again
	relaunch kube-apiserver
	WAIT_ERROR=""
	wait_for kube-apiserver "$WAIT_SECS" "/readyz" apiserver_ready ||
		{ log "FAILED: kube-apiserver: $WAIT_ERROR"; log_tail kube-apiserver 30; exit 1; }
	for c in "${COMPONENTS[@]:2}"; do
		[ -f "$CLUSTER_DIR/cmdline/$c" ] && relaunch "$c"
	done
	echo "cluster: etcd restored from $dir, kube-apiserver ready in $(fmt_secs $(($(now_ms) - t0))) s"
}

# "exit" on the same line: bash has read it before main runs, so editing this file cannot derail a running copy.
main "$@"; exit $?
