#!/usr/bin/env bash
# The SpinApp scale subresource and scale to zero (issue 15 §1, docs/compat.md "Scale subresource and scale to
# zero") on the real control plane: kube-controller-manager runs the Deployment, ReplicaSet and
# HorizontalPodAutoscaler controllers, kwok makes the Pods Running/Ready. The operator runs with config/rbac's
# permissions (a variant, as in reconcile.sh), without its webhook (webhook.sh covers admission of replicas: 0).
#
#   kubectl scale spinapp → spec.replicas → the Deployment; status.replicas and status.selector, read back
#   through GET /scale, match the Deployment and select exactly the app's pods;
#   a merge patch of /scale (kubectl patch --subresource=scale) reaches the Deployment;
#   an autoscaling/v2 HPA whose scaleTargetRef is the SpinApp reads its scale (AbleToScale/SucceededGetScale),
#   writes it (below minReplicas it scales the app up through /scale), and reports currentReplicas; with no
#   metrics server its ScalingActive is False/FailedGetResourceMetric — not InvalidSelector, so the selector was
#   taken — and at zero replicas False/ScalingDisabled;
#   0 → 2 → 0: the Deployment scales to zero and back, the Service stays, and the app's Available condition
#   says ScaledToZero at zero and the Deployment's own reason (MinimumReplicasAvailable) when it runs;
#   spin-operator render of the stored app at zero gives replicas 0 as the cluster has it.
#
# Cleans up what it created (namespaces, RBAC variant, RuntimeClass if it made it); leaves the CRDs.
# Run by tests/run.sh (KUBECONFIG, PATH with .tools/bin, REPO, OPERATOR, CLUSTER_DIR).
set -uo pipefail
source "$REPO/tests/lib.sh"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

G=core.spinkube.dev
SAMPLES=$REPO/config/samples
work=$(mktemp -d)
log=$work/operator.log
opkc=$work/operator.kubeconfig
overlay=$work/rbac-variant
pid="" ns="" vns="" our_rc=""

cleanup() {
	[ -n "$ns" ] && kubectl delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1
	# the executor's finalizer needs the operator: give it a moment, then drop it by hand
	[ -n "$ns" ] && [ -n "$pid" ] && retry 30 bash -c "! kubectl get namespace '$ns' >/dev/null 2>&1" >/dev/null 2>&1
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	if [ -n "$ns" ]; then
		kubectl get spinappexecutors -n "$ns" -o name 2>/dev/null | while read -r e; do
			kubectl patch -n "$ns" "$e" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
		done
	fi
	[ -n "$our_rc" ] && kubectl delete runtimeclass "$our_rc" --ignore-not-found >/dev/null 2>&1
	if [ -n "$vns" ]; then
		kubectl delete -k "$overlay" --ignore-not-found --wait=false >/dev/null 2>&1
		kubectl delete namespace "$vns" --ignore-not-found --wait=false >/dev/null 2>&1
	fi
	# shellcheck disable=SC2154 # t_failed is tests/lib.sh's
	if [ "$t_failed" = 1 ] && [ -f "$log" ]; then
		local keep=${BUILD:-${TMPDIR:-/tmp}}/test-logs
		mkdir -p "$keep" && cp "$log" "$keep/scale-operator.log"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# scale_is <jq filter>: GET .../spinapps/$A/scale (an autoscaling/v1 Scale) satisfies the filter.
scale_is() {
	local out
	out=$(kubectl get --raw "/apis/$G/v1alpha1/namespaces/$ns/spinapps/$A/scale" 2>&1) || { echo "$out"; return 1; }
	jq -e "$1" <<<"$out" >/dev/null 2>&1 || { echo "$out"; return 1; }
}

# settled <n>: spec.replicas n on the app and its Deployment, n pods ready, and the app's status agrees
# (replicas, readyReplicas, the selector) with the Deployment's.
settled() {
	local n=$1 d a
	d=$(kubectl get deployment "$A" -n "$ns" -o json) || return 1
	a=$(kubectl get spinapp "$A" -n "$ns" -o json) || return 1
	jq -e --argjson d "$d" --argjson n "$n" --arg sel "$SEL" '.spec.replicas == $n and $d.spec.replicas == $n
		and ($d.status.replicas // 0) == $n and ($d.status.readyReplicas // 0) == $n
		and .status.replicas == $n and .status.readyReplicas == $n and .status.selector == $sel
		and .status.observedGeneration == .metadata.generation' <<<"$a" >/dev/null ||
		{ jq -c '{spec: .spec.replicas, status}' <<<"$a"; jq -c '{spec: .spec.replicas, status}' <<<"$d"; return 1; }
}

# available_reason <status> <reason>: the app's Available condition.
available_reason() {
	q '[.status.conditions[]? | select(.type == "Available") | {status, reason}] == [{status: "'"$1"'", reason: "'"$2"'"}]' \
		spinapp "$A" -n "$ns"
}

# pods_selected <n>: the app's status.selector selects exactly n pods, all the app's (none terminating).
pods_selected() {
	local got
	got=$(kubectl get pods -n "$ns" -l "$SEL" -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length')
	[ "$got" = "$1" ] || { echo "$got pods match $SEL, want $1"; return 1; }
}

hpa_has() { q "$1" hpa "$A-hpa" -n "$ns"; }

# ---- setup: RBAC variant, RuntimeClass, executor, operator ------------------------------------------------------

vns=$(t_ns scale-rbac) || { t_fail "create the RBAC namespace"; exit 1; }
t_check "config/rbac as variant $vns, and a kubeconfig with its ServiceAccount's token" \
	t_rbac_kubeconfig "$vns" "$overlay" "$opkc"
if ! kubectl get runtimeclass wasmtime-spin-v2 >/dev/null 2>&1; then
	kubectl apply -f "$SAMPLES/spin-runtime-class.yaml" >/dev/null && our_rc=wasmtime-spin-v2
fi
ns=$(t_ns scale) || { t_fail "create a test namespace"; exit 1; }
kubectl apply -n "$ns" -f "$SAMPLES/spin-shim-executor.yaml" >/dev/null
op_flags=(--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 --metrics-secure=false)
grep -q -- --webhook-bind-address <<<"$("$OPERATOR" --help 2>/dev/null)" && op_flags+=(--webhook-bind-address 0)
"$OPERATOR" --kubeconfig "$opkc" --namespace "$ns" "${op_flags[@]}" >"$log" 2>&1 &
pid=$!
if ! retry 60 grep -qs "caches synced" "$log"; then
	t_fail "the operator starts and its caches sync"
	tail -20 "$log" | sed 's/^/    /'
	exit 1
fi

# ---- the scale subresource: kubectl scale, GET /scale, a /scale patch ---------------------------------------------

A=scale-app
SEL="$G/app-name=$A,$G/app.$A.status=ready"
kubectl apply -n "$ns" -f - >/dev/null <<-YAML
	apiVersion: $G/v1alpha1
	kind: SpinApp
	metadata: {name: $A}
	spec: {image: "ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0", executor: containerd-shim-spin, replicas: 1}
YAML
t_check "an app with replicas 1 settles: status.replicas 1, status.selector the Deployment's matchLabels" retry 90 settled 1
t_check "status.selector is the Deployment's spec.selector.matchLabels as a selector string" \
	q '.spec.selector.matchLabels == {"'$G'/app-name": "'$A'", "'$G'/app.'$A'.status": "ready"}' deployment "$A" -n "$ns"
t_check "GET /scale: autoscaling/v1 Scale with spec.replicas 1, status.replicas 1 and the selector" \
	scale_is '.kind == "Scale" and .apiVersion == "autoscaling/v1" and .spec.replicas == 1 and .status.replicas == 1
		and .status.selector == "'"$SEL"'"'
t_check "kubectl scale spinapp/$A --replicas=3" kubectl scale -n "$ns" "spinapp/$A" --replicas=3
t_check "... reaches the Deployment: 3 pods ready, the app's status.replicas and readyReplicas 3" retry 90 settled 3
t_check "... GET /scale shows 3 and 3" scale_is '.spec.replicas == 3 and .status.replicas == 3'
t_check "... status.selector selects exactly the app's 3 pods" retry 30 pods_selected 3
t_check "a merge patch of /scale (spec.replicas 2)" \
	kubectl patch -n "$ns" spinapp "$A" --subresource=scale --type=merge -p '{"spec":{"replicas":2}}'
t_check "... reaches the Deployment: 2 pods ready, status.replicas 2" retry 90 settled 2
t_check "... and the selector selects 2 pods" retry 60 pods_selected 2
t_check "the app is Available with the Deployment's reason (MinimumReplicasAvailable)" \
	retry 30 available_reason True MinimumReplicasAvailable

# ---- an autoscaling/v2 HPA whose target is the SpinApp --------------------------------------------------------------

# minReplicas 3 above the app's 2: the HPA controller must read the SpinApp's scale, then write it up to 3.
kubectl apply -n "$ns" -f - >/dev/null <<-YAML
	apiVersion: autoscaling/v2
	kind: HorizontalPodAutoscaler
	metadata: {name: $A-hpa}
	spec:
	  scaleTargetRef: {apiVersion: $G/v1alpha1, kind: SpinApp, name: $A}
	  minReplicas: 3
	  maxReplicas: 4
	  metrics:
	  - type: Resource
	    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
YAML
t_check "the HPA reads the SpinApp's scale: AbleToScale True/SucceededGetScale" \
	retry 60 hpa_has '[.status.conditions[]? | select(.type == "AbleToScale") | {status, reason}]
		== [{status: "True", reason: "SucceededGetScale"}]'
t_check "the HPA writes it (2 is below minReplicas 3): the SpinApp's spec.replicas becomes 3 and the Deployment follows" \
	retry 90 settled 3
# Without a metrics server the HPA cannot read CPU: it says so, after taking the scale's selector (a missing or bad
# one would be InvalidSelector), and reports the replicas it found through the scale subresource.
t_check "the HPA status shows currentReplicas 3, ScalingActive False/FailedGetResourceMetric (no metrics server)" \
	retry 90 hpa_has '.status.currentReplicas == 3 and
		([.status.conditions[]? | select(.type == "ScalingActive") | {status, reason}]
		== [{status: "False", reason: "FailedGetResourceMetric"}])'
t_check "kubectl scale spinapp/$A --replicas=0 under the HPA" kubectl scale -n "$ns" "spinapp/$A" --replicas=0
t_check "... the Deployment scales to zero" retry 90 q '.spec.replicas == 0 and (.status.replicas // 0) == 0' deployment "$A" -n "$ns"
t_check "... the HPA sees zero and stays off (ScalingActive False/ScalingDisabled, currentReplicas 0)" \
	retry 90 hpa_has '(.status.currentReplicas // 0) == 0 and
		([.status.conditions[]? | select(.type == "ScalingActive") | {status, reason}]
		== [{status: "False", reason: "ScalingDisabled"}])'
t_check "... and leaves the app at 0" q '.spec.replicas == 0' spinapp "$A" -n "$ns"
kubectl delete hpa "$A-hpa" -n "$ns" >/dev/null

# ---- 0 → 2 → 0 -----------------------------------------------------------------------------------------------

t_check "at 0: no pods, status.replicas 0, readyReplicas 0" retry 90 settled 0
t_check "at 0: Available True/ScaledToZero (not MinimumReplicasAvailable, not a failure)" \
	retry 30 available_reason True ScaledToZero
t_check "at 0: the Service stays" q '.spec.selector == {"'$G'/app.'$A'.status": "ready"}' service "$A" -n "$ns"
t_check "at 0: kubectl get spinapp shows READY 0, DESIRED 0" \
	bash -c "kubectl get spinapp '$A' -n '$ns' --no-headers | awk '{exit !(\$2 == 0 && \$3 == 0)}'"
# (autoscaling/v1 leaves out a zero spec.replicas and HPA v2 a zero currentReplicas: omitempty)
t_check "at 0: GET /scale shows 0 and 0" scale_is '(.spec.replicas // 0) == 0 and .status.replicas == 0'

render_zero() { # spin-operator render of the stored app: a Deployment with replicas 0, as the cluster's
	kubectl get spinapp "$A" -n "$ns" -o json | jq '{apiVersion, kind, metadata: {name: .metadata.name,
		namespace: .metadata.namespace}, spec}' >"$work/app.json" &&
		kubectl get spinappexecutor containerd-shim-spin -n "$ns" -o json >"$work/exec.json" &&
		"$OPERATOR" render -f "$work/app.json" -f "$work/exec.json" -o json >"$work/render.json" || return 1
	jq -e '[.items[] | select(.kind == "Deployment") | .spec.replicas] == [0]' "$work/render.json" >/dev/null ||
		{ jq -c '[.items[] | {kind, replicas: .spec.replicas}]' "$work/render.json"; return 1; }
}
t_check "at 0: spin-operator render of the stored app gives a Deployment with replicas 0" render_zero

t_check "kubectl scale 0 → 2" kubectl scale -n "$ns" "spinapp/$A" --replicas=2
t_check "at 2: 2 pods ready, status.replicas 2" retry 90 settled 2
t_check "at 2: Available True/MinimumReplicasAvailable (the Deployment's reason again)" \
	retry 30 available_reason True MinimumReplicasAvailable
t_check "kubectl scale 2 → 0" kubectl scale -n "$ns" "spinapp/$A" --replicas=0
t_check "at 0 again: no pods, status.replicas 0" retry 90 settled 0
t_check "at 0 again: Available True/ScaledToZero" retry 30 available_reason True ScaledToZero
t_check "at 0 again: the Service stays" q '.metadata.name == "'$A'"' service "$A" -n "$ns"

[ "$t_failed" = 0 ] || exit 1
exit 0
