#!/usr/bin/env bash
# Smoke test of the local control plane itself (tests/cluster/up.sh): if this suite fails, every other
# integration result is suspect. Checks the pieces the operator relies on: fake Nodes, the stamped
# version, Deployment -> ReplicaSet -> Pods (KCM + scheduler + kwok), garbage collection, TokenRequest
# and RBAC, namespace deletion.
#
# Run by tests/run.sh with KUBECONFIG, PATH (.tools/bin) and REPO set; by hand:
#   KUBECONFIG=$PWD/.cluster/kubeconfig PATH=$PWD/.tools/bin:$PATH REPO=$PWD bash tests/integration/cluster_smoke.sh
# shellcheck disable=SC2317 # the check helpers run indirectly, through t_check and retry
set -euo pipefail

REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$REPO/tests/lib.sh"

EXPECTED_VERSION=v1.36.3
ns=""
tmp=$(mktemp -d)

cleanup() {
	# Backstop for an aborted run; the last check deletes the namespace itself.
	if [ -n "$ns" ]; then
		kubectl delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- helpers (each returns the status of its check; used through t_check) ----------------------------

ready_node_count() {
	kubectl get nodes -o jsonpath='{range .items[*]}{range .status.conditions[?(@.type=="Ready")]}{.status}{"\n"}{end}{end}' |
		grep -c '^True$'
}

two_nodes_ready() {
	local n
	n=$(ready_node_count) || return 1
	[ "$n" = 2 ] || { echo "ready nodes: $n, want 2"; kubectl get nodes -o wide; return 1; }
}

wasm_node_labelled() {
	local n
	n=$(kubectl get nodes -l 'spinkube.dev/wasm=true,kubernetes.io/arch=amd64,kubernetes.io/os=linux' -o name) || return 1
	if [ -z "$n" ] || [ "$(wc -l <<<"$n")" != 1 ]; then
		echo "nodes with the wasm label: '$n'"
		return 1
	fi
}

server_version_is() {
	local v
	v=$(kubectl get --raw /version) || return 1
	[[ $v == *"\"gitVersion\": \"$1\""* || $v == *"\"gitVersion\":\"$1\""* ]] || { echo "$v"; return 1; }
}

# count_of <kind> <selector>: number of objects in $ns; prints nothing (and fails) when kubectl fails,
# so an unreachable apiserver never reads as "0 left".
count_of() {
	local out
	out=$(kubectl -n "$ns" get "$1" -l "$2" -o name) || return 1
	grep -c . <<<"$out" || true
}

replicaset_created() { [ "$(count_of replicasets app=web)" = 1 ]; }
two_pods_exist() { [ "$(count_of pods app=web)" = 2 ]; }

pods_running_ready() {
	kubectl -n "$ns" wait --for=condition=Ready pod -l app=web --timeout=60s || return 1
	local phases
	phases=$(kubectl -n "$ns" get pods -l app=web -o jsonpath='{range .items[*]}{.status.phase} {.spec.nodeName}{"\n"}{end}') || return 1
	echo "$phases"
	[ "$(grep -c '^Running kwok-' <<<"$phases")" = 2 ]
}

garbage_collected() { [ "$(count_of replicasets app=web)" = 0 ] && [ "$(count_of pods app=web)" = 0 ]; }

# api_as_token <token> <method> <path> [body]: prints "<http status>\n<body>" of a raw request made with
# only a bearer token (no client cert), i.e. exactly as a ServiceAccount would call the API.
api_as_token() {
	local server
	server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}') || return 1
	kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' |
		base64 -d >"$tmp/ca.crt" || return 1
	local args=(-s --noproxy '*' --max-time 10 --cacert "$tmp/ca.crt" -H "Authorization: Bearer $1" -X "$2"
		-o "$tmp/body" -w '%{http_code}')
	[ -z "${4:-}" ] || args+=(-H 'Content-Type: application/json' -d "$4")
	curl "${args[@]}" "$server$3" || return 1
	echo
	cat "$tmp/body"
}

token_created() {
	kubectl -n "$ns" create token default --duration=10m >"$tmp/token" || return 1
	# A JWT: three base64url parts.
	[[ $(cat "$tmp/token") =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]]
}

token_authenticates_as_sa() {
	local out
	out=$(api_as_token "$(cat "$tmp/token")" POST /apis/authentication.k8s.io/v1/selfsubjectreviews \
		'{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}') || return 1
	echo "$out"
	[[ $(head -1 <<<"$out") == 201 ]] && [[ $out == *"system:serviceaccount:$ns:default"* ]]
}

token_forbidden_to_list_pods() {
	local out
	out=$(api_as_token "$(cat "$tmp/token")" GET "/api/v1/namespaces/$ns/pods") || return 1
	echo "$out"
	[[ $(head -1 <<<"$out") == 403 ]]
}

# can_i_list_pods <sa> <yes|no>: kubectl auth can-i prints the answer; its exit status alone cannot
# tell "no" from an error.
can_i_list_pods() {
	local out
	out=$(kubectl auth can-i list pods -n "$ns" --as="system:serviceaccount:$ns:$1" 2>&1)
	echo "$out"
	[ "$out" = "$2" ]
}

namespace_gone() {
	kubectl delete namespace "$ns" --timeout=60s || return 1
	! kubectl get namespace "$ns" -o name 2>/dev/null
}

# --- checks ------------------------------------------------------------------------------------------

t_check "two fake nodes are Ready" retry 60 two_nodes_ready
t_check "one node carries spinkube.dev/wasm=true plus arch/os labels" wasm_node_labelled
t_check "/version reports $EXPECTED_VERSION" server_version_is "$EXPECTED_VERSION"

ns=$(t_ns smoke) || { echo "not ok - create a test namespace"; exit 1; }

t_check "create a Deployment with 2 replicas" \
	kubectl -n "$ns" create deployment web --image=registry.k8s.io/pause:3.10 --replicas=2
t_check "the Deployment gets a ReplicaSet" retry 60 replicaset_created
t_check "the ReplicaSet creates 2 Pods" retry 60 two_pods_exist
t_check "the Pods are scheduled onto kwok nodes, Running and Ready" pods_running_ready
t_check "the Deployment becomes Available" \
	kubectl -n "$ns" wait --for=condition=Available deployment/web --timeout=60s
t_check "delete the Deployment" kubectl -n "$ns" delete deployment web --wait=false
t_check "its ReplicaSet and Pods are garbage-collected" retry 60 garbage_collected

t_check "the default ServiceAccount exists in a new namespace" retry 60 kubectl -n "$ns" get serviceaccount default
t_check "kubectl create token default" token_created
t_check "the token authenticates as system:serviceaccount:$ns:default" token_authenticates_as_sa
t_check "RBAC: that token gets 403 listing pods" token_forbidden_to_list_pods

t_check "create ServiceAccount nobody (no bindings)" kubectl -n "$ns" create serviceaccount nobody
t_check "RBAC: nobody may not list pods (auth can-i says no)" can_i_list_pods nobody no
# The positive control shows RBAC is evaluated, not just denying everything.
t_check "RBAC: bind a pod-reader Role to ServiceAccount reader" bash -c "
	kubectl -n '$ns' create serviceaccount reader &&
	kubectl -n '$ns' create role pod-reader --verb=get,list,watch --resource=pods &&
	kubectl -n '$ns' create rolebinding reader --role=pod-reader --serviceaccount='$ns:reader'"
t_check "RBAC: reader may list pods (auth can-i says yes)" retry 10 can_i_list_pods reader yes

t_check "deleting the namespace completes (namespace controller)" namespace_gone
ns=""
exit 0
