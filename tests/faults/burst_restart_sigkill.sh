#!/usr/bin/env bash
# Bursts of SpinApps across two faults (moved here unchanged from reconcile.sh, sections n and o):
#   n. the kube-apiserver restarted (tests/cluster/restart-apiserver.sh) a third of the way into a burst;
#   o. the operator killed with SIGKILL a third of the way into a second burst, started again at two thirds.
# Asserted: nothing lost (every app created through the fault), nothing duplicated and nothing orphaned (exactly
# one Deployment, Service and runtime-config Secret per app, nothing else labelled), every app Available within
# 180 s, and the first burst still exactly right after the second fault.
#
# The operator runs with config/rbac's permissions (a variant in namespace rec-rbac-<n>, as reconcile.sh's:
# tests/integration/rbac_audit.sh runs this suite audited too and reads its "# restart window (UTC)" line).
# Environment: REPO, BUILD, OPERATOR, KUBECONFIG, CLUSTER_DIR (tests/run.sh faults). RECONCILE_BURST sets the
# burst size (default 40).
set -uo pipefail
source "$REPO/tests/lib.sh"
source "$REPO/tests/faults/lib/fault.bash"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

BURST=${RECONCILE_BURST:-40}
CONVERGE_S=180
work=$(mktemp -d)
log=$work/operator.log
opkc=$work/operator.kubeconfig
overlay=$work/rbac-variant
HEAL_NOTES=$work/healed
pid=""
vns=""
namespaces=()

cleanup() {
	local n
	for n in "${namespaces[@]}"; do kubectl delete namespace "$n" --ignore-not-found --wait=false >/dev/null 2>&1; done
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		for n in "${namespaces[@]}"; do retry 60 absent namespace "$n" >/dev/null 2>&1; done
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	for n in "${namespaces[@]}"; do
		kubectl get spinappexecutors -n "$n" -o name 2>/dev/null | while read -r e; do
			kubectl patch -n "$n" "$e" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
		done
	done
	if [ -n "$vns" ]; then
		kubectl delete -k "$overlay" --ignore-not-found --wait=false >/dev/null 2>&1
		kubectl delete namespace "$vns" --ignore-not-found --wait=false >/dev/null 2>&1
	fi
	# shellcheck disable=SC2154 # t_failed is tests/lib.sh's
	if [ "$t_failed" = 1 ] && [ -f "$log" ]; then
		local keep=${BUILD:-${TMPDIR:-/tmp}}/test-logs
		mkdir -p "$keep" && cp "$log" "$keep/burst_restart_sigkill-operator.log" && echo "# operator log kept in $keep"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

synced_count() { grep -c "caches synced" "$log" 2>/dev/null; }
op_flags=(--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 --metrics-secure=false --log-level debug)
grep -q -- --webhook-bind-address <<<"$("$OPERATOR" --help 2>/dev/null)" && op_flags+=(--webhook-bind-address 0)
start_operator() {
	local before
	before=$(synced_count)
	"$OPERATOR" --kubeconfig "$opkc" "${op_flags[@]}" >>"$log" 2>&1 &
	pid=$!
	retry 60 at_least "$((before + 1))" synced_count >/dev/null
}

[ -x "$OPERATOR" ] || { t_fail "operator binary $OPERATOR is missing (make build)"; exit 1; }
vns=$(t_ns rec-rbac) || { t_fail "create the RBAC namespace"; exit 1; }
t_rbac_kubeconfig "$vns" "$overlay" "$opkc" >/dev/null || { t_fail "apply config/rbac as variant $vns"; exit 1; }
fault_runtimeclass
start_operator || { t_fail "the operator starts with the config/rbac token"; tail -20 "$log"; exit 1; }

# burst <ns> <prefix> <progress file>: creates $BURST apps one by one, retrying each through API outages.
burst() {
	local i out deadline
	for ((i = 1; i <= BURST; i++)); do
		deadline=$((SECONDS + 90))
		until out=$(app_yaml "$1" "$2-$i" | kubectl create -f - 2>&1) || [[ $out == *AlreadyExists* || $out == *"already exists"* ]]; do
			[ $SECONDS -lt $deadline ] || { echo "burst: could not create $2-$i: $out" >&2; return 1; }
			sleep 0.3
		done
		echo "$i" >"$3"
	done
}
progress() { cat "$1" 2>/dev/null || echo 0; }
converged() { converged_apps "$1" "$BURST"; }
healed_converged() { heal "$1"; converged "$1"; }

# ---- n. a burst of apps across an apiserver restart -------------------------------------------------------

bns=$(t_ns rec-burst) && namespaces+=("$bns")
kubectl apply -n "$bns" -f "$SAMPLES/spin-shim-executor.yaml" >/dev/null
burst "$bns" app "$work/burst1" 2>"$work/burst1.err" &
bpid=$!
retry 60 at_least $((BURST / 3)) progress "$work/burst1" >/dev/null
restart_apiserver() { "$REPO/tests/cluster/restart-apiserver.sh" >"$work/restart.log" 2>&1 || { tail -20 "$work/restart.log"; return 1; }; }
restart_from=$(date -u -d '-1 sec' +%Y-%m-%dT%H:%M:%S)
t_check "n. restart-apiserver.sh in the middle of the burst" restart_apiserver
restart_to=$(date -u -d '+30 sec' +%Y-%m-%dT%H:%M:%S)
echo "# restart window (UTC): $restart_from $restart_to" # read by tests/integration/rbac_audit.sh
report "apiserver restart mid-burst" "the apiserver is back (/readyz)" "${CLUSTER_WAIT_SECS:-60} s" \
	"$(sed -n 's/.*ready in \([0-9.]*\) s.*/\1 s/p' "$work/restart.log")"
wait "$bpid"
t_check "n. all $BURST apps were created (through the restart)" test "$(progress "$work/burst1")" = "$BURST"
report "apiserver restart mid-burst" "nothing lost: every app created" "$BURST apps" "$(progress "$work/burst1") apps"
timed_check took "n. every app converges: one Deployment, one Service, one runtime-config Secret each, all Available" \
	retry $CONVERGE_S poll healed_converged "$bns"
report "apiserver restart mid-burst" "nothing duplicated or orphaned, all Available" "$CONVERGE_S s" "$took s after the burst"

# ---- o. a burst across a SIGKILL of the operator ----------------------------------------------------------

ons=$(t_ns rec-kill) && namespaces+=("$ons")
kubectl apply -n "$ons" -f "$SAMPLES/spin-shim-executor.yaml" >/dev/null
burst "$ons" app "$work/burst2" 2>"$work/burst2.err" &
bpid=$!
retry 60 at_least $((BURST / 3)) progress "$work/burst2" >/dev/null
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=""
retry 60 at_least $((2 * BURST / 3)) progress "$work/burst2" >/dev/null
t0=$SECONDS
if start_operator; then
	t_ok "o. operator killed with SIGKILL mid-burst, started again, caches synced"
else
	t_fail "o. operator killed with SIGKILL mid-burst, started again, caches synced"
	tail -20 "$log" | sed 's/^/    /'
fi
report "operator SIGKILL mid-burst" "restarted, caches synced" "60 s" "$((SECONDS - t0)) s"
wait "$bpid"
t_check "o. all $BURST apps were created" test "$(progress "$work/burst2")" = "$BURST"
report "operator SIGKILL mid-burst" "nothing lost: every app created" "$BURST apps" "$(progress "$work/burst2") apps"
timed_check took "o. every app converges: one Deployment, one Service, one runtime-config Secret each, all Available" \
	retry $CONVERGE_S poll healed_converged "$ons"
report "operator SIGKILL mid-burst" "nothing duplicated or orphaned, all Available" "$CONVERGE_S s" "$took s after the burst"
timed_check took "o. ... and the earlier burst is still exactly right" retry 60 poll healed_converged "$bns"
report "operator SIGKILL mid-burst" "the earlier burst still exactly right" "60 s" "$took s"

t_check "the operator is still running" kill -0 "$pid"
for n in "${namespaces[@]}"; do kubectl delete namespace "$n" --wait=false >/dev/null; done
namespaces_gone() {
	local n
	for n in "${namespaces[@]}"; do absent namespace "$n" || return 1; done
}
t_check "the test namespaces are deleted (executor finalizers released)" retry 120 poll namespaces_gone
namespaces=()
[ -f "$HEAL_NOTES" ] && sort -u "$HEAL_NOTES"
exit 0
