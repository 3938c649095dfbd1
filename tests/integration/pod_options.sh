#!/usr/bin/env bash
# SpinApp pod options (issue 15 §2) on the real control plane: a SpinApp with every new field (env with the
# downward API, imagePullPolicy, nodeSelector, tolerations, affinity, topologySpreadConstraints,
# priorityClassName) reconciled by the operator (config/rbac's permissions), the Deployment's pod template checked
# field by field; then the API server's RuntimeClass admission plugin: a Pod made from that template (kubectl
# create, as a ReplicaSet would) gets the union of the app's and the RuntimeClass's scheduling.nodeSelector and
# tolerations, and an app whose nodeSelector sets a RuntimeClass key to another value gets its Pods refused with
# the API server's own message (for our Pod, and as the ReplicaSet's FailedCreate event, since this control plane
# runs kube-controller-manager). The suite first checks from the apiserver's log that the RuntimeClass plugin is
# on, and fails (rather than pretend) when it is not.
#
# Cleans up what it created (namespace, RBAC variant, RuntimeClass, PriorityClass); leaves the CRDs.
# Run by tests/run.sh (KUBECONFIG, PATH with .tools/bin, REPO, OPERATOR, CLUSTER_DIR).
set -uo pipefail
source "$REPO/tests/lib.sh"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

G=core.spinkube.dev
IMG=ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0
rand=$RANDOM$RANDOM
RC=pod-opts-$rand             # RuntimeClass with scheduling
PC=pod-opts-$rand             # PriorityClass
KEY=pod-opts.spinkube.dev/runtime # the node label the RuntimeClass selects
TAINT=pod-opts.spinkube.dev/wasm
work=$(mktemp -d)
log=$work/operator.log
opkc=$work/operator.kubeconfig
overlay=$work/rbac-variant
pid="" ns="" vns=""

cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$ns" ] && kubectl delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1
	kubectl delete runtimeclass "$RC" --ignore-not-found >/dev/null 2>&1
	kubectl delete priorityclass "$PC" --ignore-not-found >/dev/null 2>&1
	if [ -n "$vns" ]; then
		kubectl delete -k "$overlay" --ignore-not-found --wait=false >/dev/null 2>&1
		kubectl delete namespace "$vns" --ignore-not-found --wait=false >/dev/null 2>&1
	fi
	# shellcheck disable=SC2154 # t_failed is tests/lib.sh's
	if [ "$t_failed" = 1 ] && [ -f "$log" ]; then
		local keep=${BUILD:-${TMPDIR:-/tmp}}/test-logs
		mkdir -p "$keep" && cp "$log" "$keep/pod_options-operator.log"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# pod_from_template <app> <pod name>: the Pod the app's Deployment template describes, as JSON, with labels that
# no ReplicaSet selects (so none adopts it).
pod_from_template() {
	kubectl get deployment "$1" -n "$ns" -o json |
		jq --arg n "$2" '{apiVersion: "v1", kind: "Pod", metadata: {name: $n, labels: {"pod-opts-test": $n}},
			spec: .spec.template.spec}'
}

# ---- the control plane: the RuntimeClass admission plugin must be on ------------------------------------------

apiserver_log=$CLUSTER_DIR/logs/kube-apiserver.log
plugins() { grep -o "Loaded [0-9]* $1 admission controller(s) successfully in the following order: [^\"]*" "$apiserver_log" | tail -1; }
if plugins mutating | grep -qw RuntimeClass && plugins validating | grep -qw RuntimeClass; then
	t_ok "the API server runs the RuntimeClass admission plugin (mutating and validating, from its log)"
else
	t_fail "the API server does not run the RuntimeClass admission plugin (or its log $apiserver_log does not say):" \
		"the union and conflict checks below cannot hold"
	plugins mutating | sed 's/^/    /'
fi

# ---- setup: RuntimeClass with scheduling, PriorityClass, executor, operator ----------------------------------

kubectl apply -f - >/dev/null <<-YAML
	apiVersion: node.k8s.io/v1
	kind: RuntimeClass
	metadata: {name: $RC}
	handler: spin
	scheduling:
	  nodeSelector: {"$KEY": "yes"}
	  tolerations: [{key: "$TAINT", operator: Exists, effect: NoSchedule}]
	---
	apiVersion: scheduling.k8s.io/v1
	kind: PriorityClass
	metadata: {name: $PC}
	value: 1000
YAML
ns=$(t_ns pod-opts) || { t_fail "create a test namespace"; exit 1; }
kubectl apply -n "$ns" -f - >/dev/null <<-YAML
	apiVersion: $G/v1alpha1
	kind: SpinAppExecutor
	metadata: {name: shim}
	spec: {createDeployment: true, deploymentConfig: {runtimeClassName: $RC}}
YAML

vns=$(t_ns pod-opts-rbac) || { t_fail "create the RBAC namespace"; exit 1; }
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

# ---- a SpinApp with every field: the Deployment's pod template --------------------------------------------------

A=opts-app
kubectl apply -n "$ns" -f - >/dev/null <<-YAML
	apiVersion: $G/v1alpha1
	kind: SpinApp
	metadata: {name: $A}
	spec:
	  image: "$IMG"
	  executor: shim
	  replicas: 1
	  imagePullPolicy: Never
	  env:
	  - name: NODE_IP
	    valueFrom: {fieldRef: {fieldPath: status.hostIP}}
	  - {name: MODE, value: fast}
	  nodeSelector: {disk: ssd}
	  tolerations: [{key: dedicated, operator: Equal, value: spin, effect: NoSchedule}]
	  affinity:
	    nodeAffinity:
	      preferredDuringSchedulingIgnoredDuringExecution:
	      - weight: 10
	        preference: {matchExpressions: [{key: zone, operator: In, values: [a]}]}
	  topologySpreadConstraints:
	  - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway,
	     labelSelector: {matchLabels: {$G/app-name: $A}}}
	  priorityClassName: $PC
YAML
t_check "the Deployment's pod template has the app's nodeSelector, tolerations, affinity, topologySpreadConstraints, priorityClassName and the executor's runtimeClassName" \
	retry 60 q '.spec.template.spec as $p
		| $p.nodeSelector == {"disk": "ssd"}
		and $p.tolerations == [{"key": "dedicated", "operator": "Equal", "value": "spin", "effect": "NoSchedule"}]
		and $p.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution == [{"weight": 10,
			"preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}]
		and $p.topologySpreadConstraints == [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
			"whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"'$G'/app-name": "'$A'"}}}]
		and $p.priorityClassName == "'$PC'" and $p.runtimeClassName == "'$RC'"' deployment "$A" -n "$ns"
t_check "the app container: imagePullPolicy Never; env SPIN_HTTP_LISTEN_ADDR, then NODE_IP from status.hostIP, then MODE" \
	q '.spec.template.spec.containers[0] as $c | $c.imagePullPolicy == "Never"
		and ($c.env | map(.name)) == ["SPIN_HTTP_LISTEN_ADDR", "NODE_IP", "MODE"]
		and $c.env[1].valueFrom.fieldRef.fieldPath == "status.hostIP" and $c.env[2].value == "fast"' \
	deployment "$A" -n "$ns"

# spin-operator render makes the same pod options from the same manifest, with no cluster.
render_matches() {
	local picks='.spec.template.spec | {nodeSelector, tolerations, affinity, topologySpreadConstraints,
		priorityClassName, runtimeClassName, pull: .containers[0].imagePullPolicy,
		env: [.containers[0].env[] | {name, value, path: .valueFrom.fieldRef.fieldPath}]}'
	kubectl get spinapp "$A" -n "$ns" -o json | jq '{apiVersion, kind, metadata: {name: .metadata.name,
		namespace: .metadata.namespace}, spec}' >"$work/app.json" &&
		kubectl get spinappexecutor shim -n "$ns" -o json >"$work/exec.json" &&
		"$OPERATOR" render -f "$work/app.json" -f "$work/exec.json" -o json >"$work/render.json" || return 1
	diff <(jq -S '.items[] | select(.kind == "Deployment") | '"$picks" "$work/render.json") \
		<(kubectl get deployment "$A" -n "$ns" -o json | jq -S "$picks")
}
t_check "spin-operator render of the stored SpinApp gives the same pod options as the applied Deployment" render_matches

# No write loop: with the app settled, a reconcile (forced by an annotation) finds the applied Deployment, whose
# pod options the API server stored as sent (plus defaults), already as desired, and skips the apply.
metrics_port() { sed -n 's/.*metrics listening on .* (port \([0-9]*\)).*/\1/p' "$log" | tail -1; }
scrape() { curl -sf --max-time 5 "http://127.0.0.1:$(metrics_port)/metrics"; }
writes() { scrape | awk '$1 == "spin_operator_api_writes_total" { print $2 }'; }
reconciles() { scrape | awk '$1 ~ /^controller_runtime_reconcile_total[{]controller="spinapp"/ { s += $2 } END { print s + 0 }'; }
quiet_for() { # quiet_for <seconds>: the write counter does not move over that many seconds
	local a b
	a=$(writes) && [ -n "$a" ] || return 1
	sleep "$1"
	b=$(writes) && [ -n "$b" ] || return 1
	[ "$a" = "$b" ] || { echo "spin_operator_api_writes_total went from $a to $b in $1 s"; return 1; }
}
more_than() { local v; v=$("$2"); [ "${v:-0}" -gt "$1" ] || { echo "$2 = $v"; return 1; }; }
no_write_on_reconcile() {
	local w0 r0 w1
	retry 60 quiet_for 3 >/dev/null || { echo "the operator never stops writing"; return 1; }
	w0=$(writes) r0=$(reconciles)
	kubectl annotate spinapp "$A" -n "$ns" pod-opts.spinkube.dev/poke="$RANDOM" --overwrite >/dev/null || return 1
	retry 30 more_than "$r0" reconciles >/dev/null || { echo "no reconcile after the annotation"; return 1; }
	sleep 1
	w1=$(writes)
	[ "$w0" = "$w1" ] || { echo "spin_operator_api_writes_total went from $w0 to $w1 on a reconcile with nothing to do"; return 1; }
}
t_check "a reconcile of the settled app writes nothing (the apply of the Deployment with every pod option is skipped)" \
	no_write_on_reconcile

# ---- the RuntimeClass's scheduling joins the app's when a Pod is created ----------------------------------------

P=opts-pod-$rand
if pod_from_template "$A" "$P" >"$work/pod.json" && kubectl create -n "$ns" -f "$work/pod.json" >"$work/create.out" 2>&1; then
	t_ok "a Pod from the template is admitted"
else
	t_fail "a Pod from the template is admitted"
	sed 's/^/    /' "$work/create.out"
fi
union='.spec.nodeSelector == {"disk": "ssd", "'$KEY'": "yes"}
	and ([.spec.tolerations[] | select(.key == "dedicated" and .operator == "Equal" and .value == "spin"
		and .effect == "NoSchedule")] | length == 1)
	and ([.spec.tolerations[] | select(.key == "'$TAINT'" and .operator == "Exists" and .effect == "NoSchedule")]
		| length == 1)'
t_check "RuntimeClass admission: the Pod has the union of both nodeSelectors and of both tolerations" \
	q "$union" pod "$P" -n "$ns"
# kube-controller-manager's ReplicaSet went through the same admission for the Deployment's own Pod.
t_check "the Deployment's own Pod (made by its ReplicaSet) has the same union" \
	retry 60 q '[.items[] | select(.metadata.labels["'$G'/app-name"] == "'$A'")] | length >= 1 and all(.[];
		'"$union"')' pods -n "$ns"

# ---- a nodeSelector key the RuntimeClass sets to another value: the API server refuses the Pod -------------------

B=opts-conflict
kubectl apply -n "$ns" -f - >/dev/null <<-YAML
	apiVersion: $G/v1alpha1
	kind: SpinApp
	metadata: {name: $B}
	spec: {image: "$IMG", executor: shim, replicas: 1, nodeSelector: {"$KEY": "no"}}
YAML
t_check "the conflicting app's Deployment carries its nodeSelector as given (the operator does not merge)" \
	retry 60 q '.spec.template.spec.nodeSelector == {"'$KEY'": "no"}' deployment "$B" -n "$ns"
want="conflict: runtimeClass.scheduling.nodeSelector[$KEY] = yes; pod.spec.nodeSelector[$KEY] = no"
conflict_refused() {
	local out
	pod_from_template "$B" "$P-conflict" >"$work/conflict.json" || return 1
	if out=$(kubectl create -n "$ns" -f "$work/conflict.json" 2>&1); then
		echo "admitted: $out"
		return 1
	fi
	grep -qF "pods \"$P-conflict\" is forbidden: $want" <<<"$out" || { echo "$out"; return 1; }
}
t_check "a Pod from its template is refused: pods \"…\" is forbidden: $want" conflict_refused
rs_failed_create() {
	kubectl get events -n "$ns" --field-selector reason=FailedCreate,involvedObject.kind=ReplicaSet -o json |
		jq -e --arg m "$want" '[.items[] | select(.involvedObject.name | startswith("'$B'-")) |
			select(.message | contains($m))] | length > 0' >/dev/null
}
t_check "its ReplicaSet reports the same refusal (FailedCreate event)" retry 60 rs_failed_create

# ---- fields removed from the SpinApp leave the Deployment (server-side apply releases them) ----------------------

kubectl patch spinapp "$A" -n "$ns" --type json -p '[{"op": "remove", "path": "/spec/nodeSelector"},
	{"op": "remove", "path": "/spec/tolerations"}, {"op": "remove", "path": "/spec/affinity"},
	{"op": "remove", "path": "/spec/topologySpreadConstraints"}, {"op": "remove", "path": "/spec/priorityClassName"},
	{"op": "remove", "path": "/spec/env"}, {"op": "remove", "path": "/spec/imagePullPolicy"}]' >/dev/null
t_check "without the fields, the Deployment's pod template has none of them (imagePullPolicy back to the API server's default)" \
	retry 60 q '.spec.template.spec as $p | ($p | has("nodeSelector") or has("tolerations") or has("affinity")
		or has("topologySpreadConstraints") or has("priorityClassName") | not)
		and ($p.containers[0].env | map(.name)) == ["SPIN_HTTP_LISTEN_ADDR"]
		and $p.containers[0].imagePullPolicy == "IfNotPresent"' deployment "$A" -n "$ns"

[ "$t_failed" = 0 ] || exit 1
exit 0
