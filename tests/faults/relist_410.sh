#!/usr/bin/env bash
# Fault: the server's history is gone (etcd compacted: 410 Gone) or not there yet (a resourceVersion the API
# server has not reached, as every informer holds after an etcd restore). The C client's cases for these, moved
# here unchanged from the integration category: tests/integration/test_kube_client.c's group "faults"
# (TEST_KUBE_CLIENT_GROUP=faults), one case at a time so that each is timed.
#   watch_from_expired_rv                 etcd compacted: a watch from resourceVersion 1 is answered 410
#   informer_relists_after_gone           an informer resumed from it relists exactly once, every object back
#   informer_relists_after_too_large_rv   an informer resumed from a resourceVersion ahead of the server's
#                                         relists exactly once, every object back
# Each case's "[ OK ]" / "[ FAILED ]" line becomes an ok / not ok line. Environment: REPO, BUILD, KUBECONFIG,
# CLUSTER_DIR (tests/run.sh faults).
set -uo pipefail
source "$REPO/tests/lib.sh"
source "$REPO/tests/faults/lib/fault.bash"

BIN=$BUILD/tests/integration/test_kube_client
[ -x "$BIN" ] || { t_fail "$BIN is missing (make test-bins)"; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# case <name> <fault> <what was asserted> <bound>
case_() {
	local name=$1 t0 took
	t0=$(date +%s%N)
	TEST_KUBE_CLIENT_GROUP=faults TEST_KUBE_CLIENT_FILTER=$name "$BIN" >"$out" 2>&1
	took=$((($(date +%s%N) - t0 + 500000000) / 1000000000))
	if grep -q "^\[       OK \] $name\$" "$out"; then
		t_ok "test_kube_client: $name"
	else
		t_fail "test_kube_client: $name"
		sed 's/^/    /' "$out" | tail -20
	fi
	report "$2" "$3" "$4" "$took s (the whole case)"
}

case_ watch_from_expired_rv "410 Gone (etcd compacted)" "a watch from a compacted resourceVersion is answered 410" "the case's 5 s watch"
case_ informer_relists_after_gone "410 Gone (etcd compacted)" "informer relists exactly once, all 4 objects back" "30 s"
case_ informer_relists_after_too_large_rv "resourceVersion ahead of the server" "informer relists exactly once, all 3 objects back" "30 s"
exit 0
