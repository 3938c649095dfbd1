#!/usr/bin/env bash
# Fault: a silent API server (issue 14, item 9). The kube-apiserver is frozen with SIGSTOP for STOP_S (default
# 180 s) and resumed with SIGCONT: every connection to it stays open and says nothing, and new ones are accepted
# by the kernel and never answered. The operator's bounds: a watch that brings no byte (event or bookmark) for
# 150 s ends, a LIST gives up after 60 s, a connection (TLS included) after 10 s, and informers retry with a
# backoff capped at 30 s (+ up to 100 % jitter).
# Asserted: the silence is detected within the idle bound (a watch ends on its own while the server is stopped),
# the operator is alive through it, and after SIGCONT a new SpinApp gets its Deployment and Service within
# 120 s (one capped backoff, 60 s, plus a LIST deadline, 60 s) and is Available, nothing duplicated, within 180 s.
# Environment: REPO, BUILD, OPERATOR, KUBECONFIG, CLUSTER_DIR (tests/run.sh faults).
set -uo pipefail
source "$REPO/tests/lib.sh"
source "$REPO/tests/faults/lib/fault.bash"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

FAULT="apiserver SIGSTOP ${STOP_S:-180} s"
STOP_S=${STOP_S:-180}
IDLE_S=150
OBJECTS_S=120
AVAILABLE_S=180
work=$(mktemp -d)
log=$work/operator.log
HEAL_NOTES=$work/healed
pid=""
ns=""
apid=""

cleanup() {
	[ -n "$apid" ] && kill -CONT "$apid" 2>/dev/null # never leave the category's apiserver frozen
	if [ -n "$ns" ]; then
		kubectl delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1
		[ -n "$pid" ] && retry 60 absent namespace "$ns" >/dev/null 2>&1
	fi
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	# shellcheck disable=SC2154 # t_failed is tests/lib.sh's
	if [ "$t_failed" = 1 ] && [ -f "$log" ]; then
		local keep=${BUILD:-${TMPDIR:-/tmp}}/test-logs
		mkdir -p "$keep" && cp "$log" "$keep/apiserver_sigstop-operator.log" && echo "# operator log kept in $keep"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

[ -x "$OPERATOR" ] || { t_fail "operator binary $OPERATOR is missing (make build)"; exit 1; }
fault_operator_start flt-stop "$KUBECONFIG"
healed_converged() { heal "$ns"; converged_apps "$ns" "$1"; }
app_yaml "$ns" before | kubectl create -f - >/dev/null
t_check "an app converges before the fault" retry $AVAILABLE_S poll healed_converged 1

apid=$(cat "$CLUSTER_DIR/pids/kube-apiserver.pid")
watch_ends() { grep -c 'watch failed\|watch closed\|watch ended' "$log"; }
ends_before=$(watch_ends)
kill -STOP "$apid"
stopped_at=$(date +%s)
# When the first watch ends on its own while the server is frozen (the idle bound at work).
first_end=""
while [ $(($(date +%s) - stopped_at)) -lt "$STOP_S" ]; do
	if [ -z "$first_end" ] && [ "$(watch_ends)" -gt "$ends_before" ]; then first_end=$(($(date +%s) - stopped_at)); fi
	sleep 1
done
kill -CONT "$apid"
apid=""
resumed_at=$(date +%s)
t_check "the API server frozen for $STOP_S s and resumed (SIGSTOP, SIGCONT)" retry 60 apiserver_ready
detected() { [ -n "$first_end" ] && [ "$first_end" -le $((IDLE_S + 30)) ] || { echo "first watch end: ${first_end:-none} s after SIGSTOP"; return 1; }; }
t_check "the silence is detected: a watch ended within the ${IDLE_S} s idle bound (+30 s margin) while the server was stopped" detected
report "$FAULT" "silence detected (a watch ends, no byte for the idle bound)" "$IDLE_S s (+30 s margin)" "${first_end:-never} s after SIGSTOP"
t_check "the operator lived through it" kill -0 "$pid"

app_yaml "$ns" after | kubectl create -f - >/dev/null
objects() { kubectl get deployment after -n "$ns" >/dev/null 2>&1 && kubectl get service after -n "$ns" >/dev/null 2>&1; }
timed_check took "informers reconnected: a new SpinApp gets its Deployment and Service" retry $OBJECTS_S poll objects
report "$FAULT" "new SpinApp's Deployment+Service after SIGCONT" "$OBJECTS_S s" "$(($(date +%s) - resumed_at)) s"
timed_check took "... and both apps are Available, nothing duplicated" retry $AVAILABLE_S poll healed_converged 2
report "$FAULT" "new SpinApp Available, nothing duplicated" "$AVAILABLE_S s" "$(($(date +%s) - resumed_at)) s after SIGCONT"
t_check "the operator's /readyz is green" retry 30 op_readyz "$log"

kubectl delete namespace "$ns" --wait=false >/dev/null
t_check "the test namespace is deleted (executor finalizer released)" retry 120 poll absent namespace "$ns"
ns=""
[ -f "$HEAL_NOTES" ] && sort -u "$HEAL_NOTES"
exit 0
