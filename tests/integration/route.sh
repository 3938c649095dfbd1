#!/usr/bin/env bash
# spec.route (issue 15 §3) on the real control plane, the operator running with config/rbac's permissions:
#   1. without the Gateway API: a SpinApp with spec.route gets Routed=False/GatewayAPINotInstalled and a Warning
#      event naming the missing API, its Deployment and Service are made as usual, the operator keeps running;
#   2. the Gateway API CRDs installed (standard channel of the pinned sigs.k8s.io/gateway-api module,
#      .tools/bin/gateway-api-crds.yaml from tests/tools/build.sh, never committed) while the operator runs: it
#      notices without a restart and makes the HTTPRoute (owned by the app, backend the Service on port 80);
#   3. the suite stands in for a gateway controller, writing status.parents with kubectl --subresource=status:
#      Accepted+ResolvedRefs True → Routed=True (and the ROUTED column of -o wide), Accepted False → Routed=False;
#   4. removing spec.route deletes the HTTPRoute and the condition; adding it back makes it again.
#
# Cleans up what it created (namespace, RBAC variant, the Gateway API CRDs); leaves the SpinKube CRDs.
# Run by tests/run.sh (KUBECONFIG, PATH with .tools/bin, REPO, OPERATOR, CLUSTER_DIR).
set -uo pipefail
source "$REPO/tests/lib.sh"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

G=core.spinkube.dev
GW=gateway.networking.k8s.io
IMG=ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0
CRDS=$REPO/.tools/bin/gateway-api-crds.yaml
A=routed
work=$(mktemp -d)
log=$work/operator.log
opkc=$work/operator.kubeconfig
overlay=$work/rbac-variant
pid="" ns="" vns=""

cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	# Waited for: an operator of a later suite watching every namespace would otherwise reconcile this app
	# while its namespace terminates.
	[ -n "$ns" ] && kubectl delete namespace "$ns" --ignore-not-found --timeout=60s >/dev/null 2>&1
	[ -f "$CRDS" ] && kubectl delete -f "$CRDS" --ignore-not-found --wait=false >/dev/null 2>&1
	if [ -n "$vns" ]; then
		kubectl delete -k "$overlay" --ignore-not-found --wait=false >/dev/null 2>&1
		kubectl delete namespace "$vns" --ignore-not-found --wait=false >/dev/null 2>&1
	fi
	# shellcheck disable=SC2154 # t_failed is tests/lib.sh's
	if [ "$t_failed" = 1 ] && [ -f "$log" ]; then
		local keep=${BUILD:-${TMPDIR:-/tmp}}/test-logs
		mkdir -p "$keep" && cp "$log" "$keep/route-operator.log"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# routed <status> <reason>: the app's Routed condition (the values reach jq through its environment).
routed() {
	S=$1 R=$2 q '(.status.conditions // []) | map(select(.type == "Routed")) | .[0] |
		.status == env.S and .reason == env.R' spinapp "$A" -n "$ns"
}

# wide_routed <value>: the ROUTED column of kubectl get spinapp -o wide.
wide_routed() {
	local got
	got=$(kubectl get spinapp "$A" -n "$ns" -o wide --no-headers | awk '{ print $NF }')
	[ "$got" = "$1" ] || { echo "ROUTED column: got '$got', want '$1'"; return 1; }
}

# parents_status <accepted status> <reason>: writes the HTTPRoute's status.parents as a gateway controller would.
parents_status() {
	local now
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	kubectl patch httproute "$A" -n "$ns" --subresource=status --type=merge -p "$(jq -nc --arg s "$1" --arg r "$2" \
		--arg now "$now" '{status: {parents: [{parentRef: {name: "gw", namespace: "infra"},
			controllerName: "example.com/gateway-controller", conditions: [
			{type: "Accepted", status: $s, reason: $r, message: "listener says \($r)", lastTransitionTime: $now,
			 observedGeneration: 1},
			{type: "ResolvedRefs", status: "True", reason: "ResolvedRefs", message: "", lastTransitionTime: $now,
			 observedGeneration: 1}]}]}}')" >/dev/null
}

[ -f "$CRDS" ] || { t_fail "the Gateway API CRDs are in $CRDS (tests/tools/build.sh gateway-api, part of make tools)"; exit 1; }
# A run that died before its cleanup may have left them: the first half needs a cluster without them.
if kubectl get crd "httproutes.$GW" >/dev/null 2>&1; then
	kubectl delete -f "$CRDS" --ignore-not-found >/dev/null 2>&1
fi
t_check "the cluster serves no Gateway API to start with" retry 60 sh -c "! kubectl get --raw /apis/$GW/v1 >/dev/null 2>&1"

ns=$(t_ns route) || { t_fail "create a test namespace"; exit 1; }
kubectl apply -n "$ns" -f - >/dev/null <<-YAML
	apiVersion: $G/v1alpha1
	kind: SpinAppExecutor
	metadata: {name: shim}
	spec: {createDeployment: true, deploymentConfig: {runtimeClassName: wasmtime-spin-v2}}
YAML
vns=$(t_ns route-rbac) || { t_fail "create the RBAC namespace"; exit 1; }
t_check "config/rbac as variant $vns, and a kubeconfig with its ServiceAccount's token" \
	t_rbac_kubeconfig "$vns" "$overlay" "$opkc"
op_flags=(--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 --metrics-secure=false)
grep -q -- --webhook-bind-address <<<"$("$OPERATOR" --help 2>/dev/null)" && op_flags+=(--webhook-bind-address 0)
"$OPERATOR" --kubeconfig "$opkc" --namespace "$ns" "${op_flags[@]}" >"$log" 2>&1 &
pid=$!
if ! retry 60 grep -qs "caches synced" "$log"; then
	t_fail "the operator starts and its caches sync"
	tail -20 "$log" | sed 's/^/    /'
	exit 1
fi
t_check "discovery at start: the operator logs that the Gateway API is not served" \
	grep -q "Gateway API (gateway.networking.k8s.io/v1 httproutes) is not served" "$log"

# ---- 1. without the Gateway API ---------------------------------------------------------------------------

kubectl apply -n "$ns" -f - >/dev/null <<-YAML
	apiVersion: $G/v1alpha1
	kind: SpinApp
	metadata: {name: $A}
	spec:
	  image: "$IMG"
	  executor: shim
	  replicas: 1
	  route:
	    parentRefs: [{name: gw, namespace: infra}]
	    hostnames: [hello.example.com]
	    pathPrefixes: [/hello, /go-hello]
YAML
t_check "1. no Gateway API: Routed=False, reason GatewayAPINotInstalled" retry 60 routed False GatewayAPINotInstalled
t_check "1. ... its message names the missing API" q '.status.conditions[] | select(.type == "Routed") |
	.message == "the Gateway API (gateway.networking.k8s.io/v1 httproutes) is not installed in the cluster"' \
	spinapp "$A" -n "$ns"
t_check "1. ... a Warning event GatewayAPINotInstalled naming gateway.networking.k8s.io/v1 httproutes" retry 30 q \
	'[.items[] | select(.type == "Warning" and .reason == "GatewayAPINotInstalled"
		and (.message | contains("gateway.networking.k8s.io/v1 httproutes")))] | length >= 1' \
	events -n "$ns" --field-selector "involvedObject.name=$A"
t_check "1. ... the Deployment and the Service are made as usual" retry 30 sh -c \
	"kubectl get deployment $A -n $ns >/dev/null && kubectl get service $A -n $ns >/dev/null"
t_check "1. ... the status says so too (deploymentName, serviceName, observedGeneration)" retry 30 q \
	'.status.deploymentName == "routed" and .status.serviceName == "routed" and .status.observedGeneration == 1' \
	spinapp "$A" -n "$ns"
t_check "1. ... kubectl get spinapp -o wide: ROUTED False" wide_routed False
t_check "1. ... the operator is still running, with no error about httproutes" sh -c \
	"kill -0 $pid && ! grep -q 'httproutes.*\\(forbidden\\|not found\\)' '$log'"

# ---- 2. the Gateway API installed while the operator runs -------------------------------------------------

t_check "2. install the Gateway API CRDs (standard channel, from the pinned module)" \
	kubectl apply --server-side -f "$CRDS"
t_check "2. ... established" kubectl wait --for condition=Established --timeout=60s "crd/httproutes.$GW"
start=$SECONDS
t_check "2. the operator notices (discovery within 30 s of the last) and makes the HTTPRoute" \
	retry 120 kubectl get "httproutes.$GW" "$A" -n "$ns"
echo "# HTTPRoute made $((SECONDS - start)) s after the CRDs were established"
t_check "2. ... logs that it follows HTTPRoutes now" grep -q "is served: following HTTPRoutes" "$log"
uid=$(kubectl get spinapp "$A" -n "$ns" -o jsonpath='{.metadata.uid}')
t_check "2. ... owned by the app (controller reference), labelled with its name" q \
		"(.metadata.ownerReferences == [{\"apiVersion\": \"$G/v1alpha1\", \"kind\": \"SpinApp\", \"name\": \"$A\",
		\"uid\": \"$uid\", \"controller\": true, \"blockOwnerDeletion\": true}])
		and .metadata.labels[\"$G/app-name\"] == \"$A\"" "httproutes.$GW" "$A" -n "$ns"
t_check "2. ... parentRefs, hostnames, a PathPrefix match per prefix, backend the Service on port 80" q \
	'(.spec.parentRefs | map({name, namespace})) == [{"name": "gw", "namespace": "infra"}]
	and .spec.hostnames == ["hello.example.com"]
	and (.spec.rules | length) == 1
	and (.spec.rules[0].matches | map(.path)) == [{"type": "PathPrefix", "value": "/hello"},
		{"type": "PathPrefix", "value": "/go-hello"}]
	and (.spec.rules[0].backendRefs | map({name, port})) == [{"name": "routed", "port": 80}]' \
	"httproutes.$GW" "$A" -n "$ns"
t_check "2. ... Routed=Unknown (Pending) until a gateway answers" retry 30 routed Unknown Pending

# ---- 3. a gateway controller's verdict, mirrored ----------------------------------------------------------

t_check "3. status.parents written through the status subresource: Accepted and ResolvedRefs True" \
	parents_status True Accepted
t_check "3. ... Routed=True, reason Accepted" retry 30 routed True Accepted
t_check "3. ... kubectl get spinapp -o wide: ROUTED True" wide_routed True
t_check "3. the gateway refuses it (Accepted False, NotAllowedByListeners)" parents_status False NotAllowedByListeners
t_check "3. ... Routed=False, reason NotAccepted" retry 30 routed False NotAccepted
t_check "3. ... its message names the parent and copies the gateway's reason and message" q \
	'.status.conditions[] | select(.type == "Routed") | .message ==
	"HTTPRoute routed: parent infra/gw: Accepted False: NotAllowedByListeners: listener says NotAllowedByListeners"' \
	spinapp "$A" -n "$ns"
t_check "3. ... kubectl get spinapp -o wide: ROUTED False" wide_routed False

# ---- 4. the block removed, then added back ----------------------------------------------------------------

t_check "4. remove spec.route" kubectl patch spinapp "$A" -n "$ns" --type=json -p '[{"op": "remove", "path": "/spec/route"}]'
t_check "4. ... the HTTPRoute is deleted" retry 60 sh -c "! kubectl get httproutes.$GW $A -n $ns >/dev/null 2>&1"
t_check "4. ... the Routed condition goes" retry 30 q '[(.status.conditions // [])[] | select(.type == "Routed")] == []' \
	spinapp "$A" -n "$ns"
t_check "4. ... the Deployment and Service stay" sh -c "kubectl get deployment $A -n $ns >/dev/null && kubectl get service $A -n $ns >/dev/null"
t_check "4. add it back (one parent, default prefix)" kubectl patch spinapp "$A" -n "$ns" --type=merge \
	-p '{"spec": {"route": {"parentRefs": [{"name": "gw", "namespace": "infra"}]}}}'
t_check "4. ... the HTTPRoute is made again, matching every path" retry 60 q \
	'(.spec.rules[0].matches | map(.path)) == [{"type": "PathPrefix", "value": "/"}] and (.spec.hostnames // []) == []' \
	"httproutes.$GW" "$A" -n "$ns"
t_check "4. the operator is still running" kill -0 "$pid"
exit 0
