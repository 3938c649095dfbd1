#!/usr/bin/env bash
# Fault: etcd restored from a backup while the operator runs (issue 14, item 8). Every resourceVersion the
# operator has seen since the backup is now ahead of the API server's: watches from it are answered "Too large
# resource version", and the informers must relist rather than retry that version forever.
#
# Five apps converge; a cold backup of etcd (tests/cluster/etcd-backup.sh save); five more apps converge and the
# first app is deleted; the backup is restored (control plane restarted on it, the operator left running).
# Asserted: the informers noticed and relisted; every app the restored state holds (the five, the deleted one
# back) converges; the five made after the backup are gone with nothing of theirs left (no Deployment, Service
# or Secret: they vanished with the restore, as their SpinApps did, so there is nothing for the garbage collector
# to do either); apps created after the restore converge; the operator's /readyz is green at the end.
# Environment: REPO, BUILD, OPERATOR, KUBECONFIG, CLUSTER_DIR (tests/run.sh faults).
set -uo pipefail
source "$REPO/tests/lib.sh"
source "$REPO/tests/faults/lib/fault.bash"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

FAULT="etcd restored from a backup"
CONVERGE_S=120 # after the restore: the relist, then the reconciles (a few seconds each)
work=$(mktemp -d)
log=$work/operator.log
HEAL_NOTES=$work/healed
pid=""
ns=""

cleanup() {
	if [ -n "$ns" ]; then
		kubectl delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1
		[ -n "$pid" ] && retry 60 absent namespace "$ns" >/dev/null 2>&1
	fi
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	# shellcheck disable=SC2154 # t_failed is tests/lib.sh's
	if [ "$t_failed" = 1 ] && [ -f "$log" ]; then
		local keep=${BUILD:-${TMPDIR:-/tmp}}/test-logs
		mkdir -p "$keep" && cp "$log" "$keep/etcd_restore-operator.log" && echo "# operator log kept in $keep"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

[ -x "$OPERATOR" ] || { t_fail "operator binary $OPERATOR is missing (make build)"; exit 1; }
fault_operator_start flt-etcd "$KUBECONFIG"

create() { # create <name>...
	local a
	for a in "$@"; do app_yaml "$ns" "$a" | kubectl create -f - >/dev/null || return 1; done
}
healed_converged() { heal "$ns"; converged_apps "$ns" "$1"; }

create before-1 before-2 before-3 before-4 before-5
t_check "five apps converge before the backup" retry $CONVERGE_S poll healed_converged 5
t_check "a cold backup of etcd (etcd-backup.sh save)" "$REPO/tests/cluster/etcd-backup.sh" save "$work/backup"
create after-1 after-2 after-3 after-4 after-5
kubectl delete spinapp before-1 -n "$ns" --wait=false >/dev/null
t_check "after the backup: five more apps, one deleted, nine converge" retry $CONVERGE_S poll healed_converged 9
informers=$(grep -o 'informer: [^:]*: listed' "$log" | sort -u | wc -l)
mark=$(wc -l <"$log")

restore() { "$REPO/tests/cluster/etcd-backup.sh" restore "$work/backup" >"$work/restore.log" 2>&1 || { tail -20 "$work/restore.log"; return 1; }; }
t_check "etcd restored from the backup, control plane restarted on it" restore
report "$FAULT" "the control plane is back on the restored state (/readyz)" "${CLUSTER_WAIT_SECS:-60} s" \
	"$(sed -n 's/.*ready in \([0-9.]*\) s.*/\1 s/p' "$work/restore.log")"

# Every informer relists on the restored state: the first to find its version ahead of the server's tells the
# others, whose versions the server's revision may overtake before they look (then a watch from them is
# accepted and the vanished objects would stay in their caches for good).
relisted_after() { tail -n +"$((mark + 1))" "$log" | grep -E "$1" | grep -o 'informer: [^:]*:' | sort -u | wc -l; }
relisted() {
	grep -q 'is ahead of the API server' <(tail -n +"$((mark + 1))" "$log") || { echo "no informer found its version ahead"; return 1; }
	at_least "$informers" relisted_after ': listed [0-9]+ objects'
}
timed_check took "the informers notice the restore (version ahead of the server's) and all $informers relist" \
	retry 90 poll relisted
report "$FAULT" "informers notice the restore (resourceVersion ahead) and all relist" "90 s" "$took s"
timed_check took "every app of the restored state converges (the five, the deleted one back), nothing duplicated" \
	retry $CONVERGE_S poll healed_converged 5
report "$FAULT" "every app present converges, nothing duplicated" "$CONVERGE_S s" "$took s"
orphans() {
	local out
	out=$(kubectl get deployments,services,secrets -n "$ns" -o json | jq -r '.items[] | select(
		(.metadata.labels["'"$APP_LABEL"'"] // "" | startswith("after-")) or (.metadata.name | startswith("after-")))
		| "\(.kind)/\(.metadata.name)"') || return 1
	[ -z "$out" ] || { echo "left of the vanished apps: $out"; return 1; }
	absent spinapp after-1 -n "$ns" >/dev/null || { echo "after-1 is still there"; return 1; }
}
t_check "the apps made after the backup vanished with nothing of theirs left (no orphans)" orphans
report "$FAULT" "nothing orphaned of the apps that vanished" "0 objects" \
	"$(kubectl get deployments,services,secrets -n "$ns" -o name | grep -c '/after-') objects"
create new-1 new-2 new-3
timed_check took "apps created after the restore converge" retry $CONVERGE_S poll healed_converged 8
report "$FAULT" "apps created after the restore converge" "$CONVERGE_S s" "$took s"
t_check "the operator is still running and its /readyz is green" bash -c "kill -0 $pid && $(declare -f op_readyz); op_readyz '$log'"
report "$FAULT" "operator alive, /readyz 200 at the end" "200" "$(op_readyz "$log" >/dev/null && echo 200 || echo not 200)"

kubectl delete namespace "$ns" --wait=false >/dev/null
t_check "the test namespace is deleted (executor finalizer released)" retry 120 poll absent namespace "$ns"
ns=""
[ -f "$HEAL_NOTES" ] && sort -u "$HEAL_NOTES"
exit 0
