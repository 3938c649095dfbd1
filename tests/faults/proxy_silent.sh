#!/usr/bin/env bash
# Fault: a proxy between the operator and the API server that stops forwarding (issue 14, item 9). The operator
# reaches the API server through stallproxy (tests/support/cmd/stallproxy.c, built by make test-bins), which on
# SIGUSR1 stops moving bytes on every open connection and holds new ones open and silent, without closing or
# resetting anything: only the operator's own deadlines can notice (a watch with no byte for 150 s ends, a LIST
# gives up after 60 s, a connection with its TLS handshake after 10 s). The API server itself stays healthy.
# Once the silence is detected the proxy forwards again (SIGUSR2), for new connections only: the stalled ones
# stay silent for good, so recovery needs the operator to have dropped them.
# Asserted: every informer's watch ends within the idle bound of the stall; after forwarding resumes, a new
# SpinApp gets its Deployment and Service within 120 s (one capped backoff, 60 s, plus a LIST deadline, 60 s)
# and both apps are Available, nothing duplicated, and /readyz is green again within 300 s of the resume
# (RECOVER_S: what the client's idle bound, LIST deadline and backoff guarantee).
# Environment: REPO, BUILD, OPERATOR, KUBECONFIG, CLUSTER_DIR (tests/run.sh faults).
set -uo pipefail
source "$REPO/tests/lib.sh"
source "$REPO/tests/faults/lib/fault.bash"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

FAULT="proxy stops forwarding"
IDLE_S=150
OBJECTS_S=120
AVAILABLE_S=180
# After the resume: a watch (re)opened on a connection that then stayed silent is only given up at the stream
# idle bound (150 s), then a LIST deadline (60 s) and a capped backoff (up to 60 s, cut by the 3 s /version
# probe) may follow: 300 s. Seen in CI: 66 s, and 187 s once (readiness and the Deployment cache came back
# together, when that watch ended). Cutting such a watch early when /version answers is left for later.
RECOVER_S=300
READY_S=$RECOVER_S
PROXY=$BUILD/tests/stallproxy
work=$(mktemp -d)
log=$work/operator.log
opkc=$work/operator.kubeconfig
HEAL_NOTES=$work/healed
pid=""
ppid_=""
ns=""

cleanup() {
	if [ -n "$ns" ]; then
		kubectl delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1
		[ -n "$pid" ] && [ -n "$ppid_" ] && kill -USR2 "$ppid_" 2>/dev/null && retry 60 absent namespace "$ns" >/dev/null 2>&1
	fi
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$ppid_" ] && kill -TERM "$ppid_" 2>/dev/null && wait "$ppid_" 2>/dev/null
	# shellcheck disable=SC2154 # t_failed is tests/lib.sh's
	if [ "$t_failed" = 1 ] && [ -f "$log" ]; then
		local keep=${BUILD:-${TMPDIR:-/tmp}}/test-logs
		mkdir -p "$keep" && cp "$log" "$keep/proxy_silent-operator.log" && cp "$work/proxy.log" "$keep/proxy_silent-proxy.log" &&
			echo "# operator and proxy logs kept in $keep"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

[ -x "$OPERATOR" ] || { t_fail "operator binary $OPERATOR is missing (make build)"; exit 1; }
[ -x "$PROXY" ] || { t_fail "$PROXY is missing (make test-bins)"; exit 1; }
# shellcheck disable=SC1091
port=$(. "$CLUSTER_DIR/env" && echo "$APISERVER_PORT")
"$PROXY" "$work/proxy.port" "$port" 2>"$work/proxy.log" &
ppid_=$!
retry 10 test -s "$work/proxy.port" || { t_fail "stallproxy listens"; cat "$work/proxy.log"; exit 1; }
# The admin kubeconfig, pointed at the proxy (the serving certificate names 127.0.0.1, so TLS still verifies).
sed "s#server: https://127.0.0.1:$port#server: https://127.0.0.1:$(cat "$work/proxy.port")#" "$KUBECONFIG" >"$opkc"
chmod 600 "$opkc"
t_check "the operator's kubeconfig goes through the proxy" bash -c "! cmp -s '$KUBECONFIG' '$opkc' && kubectl --kubeconfig '$opkc' get --raw /readyz"

fault_operator_start flt-proxy "$opkc"
healed_converged() { heal "$ns"; converged_apps "$ns" "$1"; }
app_yaml "$ns" before | kubectl create -f - >/dev/null
t_check "an app converges through the proxy" retry $AVAILABLE_S poll healed_converged 1

# The informers: one watch each ("watching from resourceVersion" lines at start-up).
informers=$(grep -o 'informer: [^:]*: watching from' "$log" | sort -u | wc -l)
watch_ends() { grep 'watch failed\|watch closed\|watch ended' "$log" | grep -o 'informer: [^:]*:' | sort -u | wc -l; }
mark=$(wc -l <"$log")
kill -USR1 "$ppid_"
stalled_at=$(date +%s)
all_ended() { [ "$(tail -n +"$((mark + 1))" "$log" | grep 'watch failed\|watch closed\|watch ended' | grep -o 'informer: [^:]*:' | sort -u | wc -l)" -ge "$informers" ]; }
timed_check took "every informer's watch ($informers) ends on its own within the ${IDLE_S} s idle bound of the stall (+30 s margin)" \
	retry $((IDLE_S + 30)) poll all_ended
report "$FAULT" "silence detected: every watch ends (idle bound)" "$IDLE_S s (+30 s margin)" "$took s after the stall"
sleep 5 # a LIST or two against the silent proxy (they give up by the connect or LIST deadline)
kill -USR2 "$ppid_"
resumed_at=$(date +%s)
t_check "the operator lived through it" kill -0 "$pid"

app_yaml "$ns" after | kubectl create -f - >/dev/null
objects() { kubectl get deployment after -n "$ns" >/dev/null 2>&1 && kubectl get service after -n "$ns" >/dev/null 2>&1; }
timed_check took "recovered through new connections: a new SpinApp gets its Deployment and Service" retry $OBJECTS_S poll objects
report "$FAULT" "new SpinApp's Deployment+Service after forwarding resumes" "$OBJECTS_S s" "$(($(date +%s) - resumed_at)) s"
timed_check took "... and both apps are Available, nothing duplicated" retry $RECOVER_S poll healed_converged 2
report "$FAULT" "new SpinApp Available, nothing duplicated" "$RECOVER_S s" "$(($(date +%s) - resumed_at)) s after resuming"
# Readiness returns when every informer has heard from the API server again. One whose request was opened on a
# held connection during the stall gives up by that request's deadline (the LIST page's 60 s at most), then
# retries within the 3 s /version probe; see RECOVER_S.
ready_left=$((READY_S - ($(date +%s) - resumed_at)))
ready_in_bound() { op_readyz "$log" && [ $(($(date +%s) - resumed_at)) -le "$READY_S" ]; }
timed_check took "the operator's /readyz is green again within $READY_S s of resuming" retry $((ready_left > 1 ? ready_left : 1)) ready_in_bound
report "$FAULT" "/readyz green again (every informer in contact)" "$READY_S s" "$(($(date +%s) - resumed_at)) s after resuming"
echo "# stalled for $((resumed_at - stalled_at)) s; proxy: $(grep -c stalled "$work/proxy.log") stall(s)"

kubectl delete namespace "$ns" --wait=false >/dev/null
t_check "the test namespace is deleted (executor finalizer released)" retry 120 poll absent namespace "$ns"
ns=""
[ -f "$HEAL_NOTES" ] && sort -u "$HEAL_NOTES"
exit 0
