#!/usr/bin/env bash
# The CustomResourceDefinitions in crds/ against a real kube-apiserver: they install and become
# Established and discoverable, the stored schema is exactly the committed YAML, every sample in
# config/samples passes server-side validation, CRD defaults are applied, the printer columns and the
# status subresource behave as upstream's, this implementation's additive fields (spec.autoscaler,
# the executor's deploymentConfig.runtimeClass, status observedGeneration/conditions) are accepted,
# stored intact and validated, and every manifest in tests/crds/invalid/ is rejected with the error its
# "# expect:" line names. Runs with no operator and no webhooks registered.
#
# Leaves the CRDs installed (later suites need them); deletes its namespace.
#
# Run by tests/run.sh with KUBECONFIG, PATH (.tools/bin) and REPO set; by hand:
#   KUBECONFIG=$PWD/.cluster/kubeconfig PATH=$PWD/.tools/bin:$PATH REPO=$PWD bash tests/integration/crd_schema.sh
set -euo pipefail

REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$REPO/tests/lib.sh"

SAMPLES=$REPO/config/samples
INVALID=$REPO/tests/crds/invalid
CRDS=(spinapps.core.spinkube.dev spinappexecutors.core.spinkube.dev)
ns=""
tmp=$(mktemp -d)

cleanup() {
	if [ -n "$ns" ]; then
		kubectl delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- helpers (each returns the status of its check and explains a failure on stdout) ---------------

# jsonpath_is <want> <kubectl get args...>
jsonpath_is() {
	local want=$1 got
	shift
	got=$(kubectl get "$@") || return 1
	[ "$got" = "$want" ] || { echo "got '$got', want '$want'"; return 1; }
}

discovery_lists_both() {
	local d
	d=$(kubectl get --raw /apis/core.spinkube.dev/v1alpha1) || return 1
	jq -e '[.resources[] | .name] as $n
		| (["spinapps", "spinapps/status", "spinapps/scale", "spinappexecutors", "spinappexecutors/status"] - $n) == []
		and ([.resources[] | select(.name == "spinapps" or .name == "spinappexecutors") | .namespaced] | all)
		and ([.resources[] | .shortNames // [] | length] | add) == 0
		and ([.resources[] | .categories // [] | length] | add) == 0
		and ($n | index("spinappexecutors/scale") | not)' <<<"$d" >/dev/null || { echo "$d"; return 1; }
}

# crd_names_are <crd> <kind> <listKind> <plural> <singular> <subresources, as a JSON array>
crd_names_are() {
	local got
	got=$(kubectl get crd "$1" -o json | jq -c '[.spec.group, .spec.scope, .spec.names.kind, .spec.names.listKind,
		.spec.names.plural, .spec.names.singular, (.spec.names.shortNames // []), (.spec.names.categories // []),
		[.spec.versions[] | [.name, .served, .storage, (.subresources | keys)]],
		.metadata.annotations["controller-gen.kubebuilder.io/version"]]') || return 1
	local want
	want=$(jq -nc --arg k "$2" --arg l "$3" --arg p "$4" --arg s "$5" --argjson sub "$6" \
		'["core.spinkube.dev", "Namespaced", $k, $l, $p, $s, [], [], [["v1alpha1", true, true, $sub]], "v0.16.5"]')
	[ "$got" = "$want" ] || { echo "got  $got"; echo "want $want"; return 1; }
}

# stored_schema_matches <crd> <file>: the schema the apiserver keeps equals the one in the YAML file
# (catches YAML rendering mistakes and anything the apiserver drops or rewrites).
stored_schema_matches() {
	kubectl get crd "$1" -o json | jq -S '.spec.versions' >"$tmp/stored.json" || return 1
	kubectl create --dry-run=client -o json -f "$2" | jq -S '.spec.versions' >"$tmp/file.json" || return 1
	diff -u "$tmp/file.json" "$tmp/stored.json" | head -30
	cmp -s "$tmp/file.json" "$tmp/stored.json"
}

printer_columns_are() {
	local got
	got=$(kubectl get crd spinapps.core.spinkube.dev -o json |
		jq -c '[.spec.versions[0].additionalPrinterColumns[] | [.name, .type, .jsonPath, (.priority // 0)]]') || return 1
	local want='[["Ready","integer",".status.readyReplicas",0],["Desired","integer",".spec.replicas",0],["Executor","string",".spec.executor",0],["Deployment","string",".status.deploymentName",1],["Service","string",".status.serviceName",1],["Routed","string",".status.conditions[?(@.type==\"Routed\")].status",1]]'
	[ "$got" = "$want" ] || { echo "got  $got"; echo "want $want"; return 1; }
}

# dry_run_sample <file>: server-side dry-run create of every object in the file.
dry_run_sample() {
	kubectl apply --dry-run=server -n "$ns" -f "$1"
}

# keda_sample: without KEDA installed the apiserver knows no ScaledObject, and kubectl says so;
# with KEDA, the sample must validate.
keda_sample() {
	local out
	if kubectl get crd scaledobjects.keda.sh >/dev/null 2>&1; then
		dry_run_sample "$SAMPLES/keda-scaledobject.yaml"
		return
	fi
	if out=$(dry_run_sample "$SAMPLES/keda-scaledobject.yaml" 2>&1); then
		echo "accepted without a ScaledObject CRD: $out"
		return 1
	fi
	grep -q 'no matches for kind "ScaledObject" in version "keda.sh/v1alpha1"' <<<"$out" || { echo "$out"; return 1; }
}

kustomization_lists() {
	local got want
	got=$(kubectl kustomize "$SAMPLES" | awk '/^kind:/ {k=$2} /^  name:/ && k {print k "/" $2; k=""}' | sort | tr '\n' ' ')
	want=$(printf '%s\n' HorizontalPodAutoscaler/spinapp-autoscaler PersistentVolume/pv-volume \
		PersistentVolumeClaim/example-pv-claim SpinApp/annotations-spinapp SpinApp/healthchecks-spinapp \
		SpinApp/hpa-spinapp SpinApp/private-image-spinapp SpinApp/redis-spinapp \
		SpinApp/resource-requirements-spinapp SpinApp/runtime-config SpinApp/simple-spinapp \
		SpinApp/variables-spinapp SpinApp/volume-mount-spinapp SpinAppExecutor/containerd-shim-spin |
		sort | tr '\n' ' ')
	[ "$got" = "$want" ] || { echo "got  $got"; echo "want $want"; return 1; }
}

# header_is <want> <kubectl get args...>: the column header line, blanks squeezed.
header_is() {
	local want=$1 out got
	shift
	out=$(kubectl get "$@") || return 1
	got=$(head -1 <<<"$out" | tr -s ' ' | sed 's/ $//')
	[ "$got" = "$want" ] || { echo "got '$got', want '$want'"; return 1; }
}

row_is() {
	local want=$1 got
	shift
	got=$(kubectl get "$@" --no-headers | tr -s ' ' | sed 's/ $//') || return 1
	[ "$got" = "$want" ] || { echo "got '$got', want '$want'"; return 1; }
}

# rejected_with <file>: creating it fails, and the error holds the file's "# expect:" text.
rejected_with() {
	local f=$1 want out
	want=$(sed -n '1s/^# expect: //p' "$f")
	[ -n "$want" ] || { echo "$f: first line is not '# expect: <text>'"; return 1; }
	if out=$(kubectl create --dry-run=server -n "$ns" -f "$f" 2>&1); then
		echo "accepted: $out"
		return 1
	fi
	grep -qF -- "$want" <<<"$out" || { echo "error lacks '$want':"; echo "$out"; return 1; }
}

status_patch_fails_without_ready_replicas() {
	local out
	if out=$(kubectl -n "$ns" patch spinapp healthchecks-spinapp --subresource=status --type=merge \
		-p '{"status":{"activeScheduler":"containerd-shim-spin"}}' 2>&1); then
		echo "accepted: $out"
		return 1
	fi
	grep -qF 'status.readyReplicas: Required value' <<<"$out" || { echo "$out"; return 1; }
}

hpa_app_has_no_replicas() {
	local out
	out=$(kubectl apply --dry-run=server -n "$ns" -f "$SAMPLES/hpa.yaml" -o json) || return 1
	jq -e '[.items[] | select(.kind == "SpinApp")] | length == 1 and
		(.[0].spec | (has("replicas") | not) and .enableAutoscaling == true)' <<<"$out" >/dev/null || { echo "$out"; return 1; }
}

secret_key_ref_name_defaulted() {
	local out
	out=$(kubectl create --dry-run=server -n "$ns" -o json -f - <<-EOF
		apiVersion: core.spinkube.dev/v1alpha1
		kind: SpinApp
		metadata: {name: defaults}
		spec: {executor: some-executor, image: some-image, replicas: 1, variables: [{name: a, valueFrom: {secretKeyRef: {key: k}}}]}
	EOF
	) || return 1
	jq -e '.spec.variables[0].valueFrom.secretKeyRef == {"key": "k", "name": ""}' <<<"$out" >/dev/null || { echo "$out"; return 1; }
}

namespace_gone() { ! kubectl get namespace "$ns" >/dev/null 2>&1; }

# --- additive fields (this implementation's, not upstream's; see docs/compat.md) ----------------------

AUTOSCALER='{"minReplicas":2,"maxReplicas":5,"targetCPUUtilizationPercentage":60,"targetMemoryUtilizationPercentage":75,
	"behavior":{"scaleDown":{"stabilizationWindowSeconds":120,"selectPolicy":"Min",
	"policies":[{"type":"Pods","value":1,"periodSeconds":60},{"type":"Percent","value":50,"periodSeconds":30}]},
	"scaleUp":{"stabilizationWindowSeconds":0,"policies":[{"type":"Percent","value":100,"periodSeconds":15}]}}}'
RUNTIME_CLASS='{"handler":"spin","nodeSelector":{"spin":"true","kubernetes.io/arch":"amd64"},
	"tolerations":[{"key":"spin","operator":"Exists","effect":"NoSchedule"},
	{"key":"wasm","operator":"Equal","value":"yes","effect":"NoExecute","tolerationSeconds":30}]}'
EXECUTOR_STATUS='{"observedGeneration":1,"conditions":[{"type":"RuntimeClassReady","status":"True",
	"reason":"Created","message":"RuntimeClass wasmtime-spin-v2 is in place","observedGeneration":1,
	"lastTransitionTime":"2025-01-02T03:04:05Z"}]}'

# create_from_json <json>: creates the object in $ns for real.
create_from_json() { kubectl create -n "$ns" -f - <<<"$1"; }

autoscaled_app() {
	jq -n --argjson a "$AUTOSCALER" '{apiVersion: "core.spinkube.dev/v1alpha1", kind: "SpinApp",
		metadata: {name: "autoscaled"},
		spec: {executor: "containerd-shim-spin", image: "ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0",
			enableAutoscaling: true, autoscaler: $a}}'
}

runtimeclass_executor() {
	jq -n --argjson rc "$RUNTIME_CLASS" '{apiVersion: "core.spinkube.dev/v1alpha1", kind: "SpinAppExecutor",
		metadata: {name: "managed-runtimeclass"},
		spec: {createDeployment: true, deploymentConfig: {runtimeClassName: "wasmtime-spin-v2", runtimeClass: $rc}}}'
}

minimal_autoscaler_accepted() {
	kubectl create --dry-run=server -n "$ns" -f - <<-EOF
		apiVersion: core.spinkube.dev/v1alpha1
		kind: SpinApp
		metadata: {name: minimal-autoscaler}
		spec: {executor: containerd-shim-spin, image: some-image, enableAutoscaling: true, autoscaler: {maxReplicas: 1}}
	EOF
}

# field_stored_as <kind/name> <jq path> <want json>: the stored field equals want exactly (nothing
# defaulted into it, nothing pruned).
field_stored_as() {
	local got want
	got=$(kubectl get -n "$ns" "$1" -o json | jq -cS "$2") || return 1
	want=$(jq -cS . <<<"$3")
	[ "$got" = "$want" ] || { echo "got  $got"; echo "want $want"; return 1; }
}

# patch_rejected_with <want> <kind/name> <kubectl patch args...>: the patch fails with an error holding want.
patch_rejected_with() {
	local want=$1 obj=$2 out
	shift 2
	if out=$(kubectl patch -n "$ns" "$obj" "$@" 2>&1); then
		echo "accepted: $out"
		return 1
	fi
	grep -qF -- "$want" <<<"$out" || { echo "error lacks '$want':"; echo "$out"; return 1; }
}

# --- install -----------------------------------------------------------------------------------------

t_check "kubectl apply -f crds/ succeeds" kubectl apply -f "$REPO/crds/"
t_check "both CRDs become Established" \
	kubectl wait --for=condition=Established --timeout=30s "${CRDS[@]/#/crd/}"
t_check "both CRDs accept their names (NamesAccepted)" \
	kubectl wait --for=condition=NamesAccepted --timeout=30s "${CRDS[@]/#/crd/}"
t_check "discovery lists spinapps (+status, +scale) and spinappexecutors (+status, no scale), namespaced, no shortNames/categories" \
	retry 20 discovery_lists_both
t_check "SpinApp CRD: group, scope, names, v1alpha1 served+storage, status and scale subresources" \
	crd_names_are spinapps.core.spinkube.dev SpinApp SpinAppList spinapps spinapp '["scale","status"]'
t_check "SpinApp CRD: scale subresource paths .spec.replicas, .status.replicas, .status.selector" \
	jsonpath_is ".spec.replicas .status.replicas .status.selector" crd spinapps.core.spinkube.dev \
	-o 'jsonpath={.spec.versions[0].subresources.scale.specReplicasPath} {.spec.versions[0].subresources.scale.statusReplicasPath} {.spec.versions[0].subresources.scale.labelSelectorPath}'
t_check "SpinAppExecutor CRD: group, scope, names, v1alpha1 served+storage, status subresource only" \
	crd_names_are spinappexecutors.core.spinkube.dev SpinAppExecutor SpinAppExecutorList spinappexecutors spinappexecutor '["status"]'
t_check "SpinApp CRD: printer columns Ready/Desired/Executor, Deployment/Service/Routed at priority 1" printer_columns_are
t_check "SpinAppExecutor CRD: no printer columns" \
	jsonpath_is "" crd spinappexecutors.core.spinkube.dev -o 'jsonpath={.spec.versions[0].additionalPrinterColumns}'
t_check "stored SpinApp schema equals crds/core.spinkube.dev_spinapps.yaml" \
	stored_schema_matches spinapps.core.spinkube.dev "$REPO/crds/core.spinkube.dev_spinapps.yaml"
t_check "stored SpinAppExecutor schema equals crds/core.spinkube.dev_spinappexecutors.yaml" \
	stored_schema_matches spinappexecutors.core.spinkube.dev "$REPO/crds/core.spinkube.dev_spinappexecutors.yaml"

ns=$(t_ns crd-schema) || {
	t_fail "create a test namespace"
	exit 1
}

# --- samples -----------------------------------------------------------------------------------------

for f in "$SAMPLES"/*.yaml; do
	case "$(basename "$f")" in
	kustomization.yaml) continue ;;
	keda-scaledobject.yaml) t_check "sample keda-scaledobject.yaml: rejected only for the missing KEDA ScaledObject kind" keda_sample ;;
	*) t_check "sample $(basename "$f") passes server-side dry-run" dry_run_sample "$f" ;;
	esac
done
t_check "config/samples/kustomization.yaml builds exactly upstream's sample set" kustomization_lists
t_check "kustomized samples pass server-side dry-run" kubectl apply --dry-run=server -n "$ns" -k "$SAMPLES"

# --- defaults ----------------------------------------------------------------------------------------

t_check "create simple + probes samples" \
	kubectl apply -n "$ns" -f "$SAMPLES/spin-shim-executor.yaml" -f "$SAMPLES/simple.yaml" -f "$SAMPLES/probes.yaml"
t_check "default: enableAutoscaling=false" \
	jsonpath_is false -n "$ns" spinapp simple-spinapp -o 'jsonpath={.spec.enableAutoscaling}'
t_check "replicas kept as given (1), executor as given" \
	jsonpath_is "1 containerd-shim-spin" -n "$ns" spinapp simple-spinapp -o 'jsonpath={.spec.replicas} {.spec.executor}'
t_check "probes sample: enableAutoscaling defaulted too" \
	jsonpath_is false -n "$ns" spinapp healthchecks-spinapp -o 'jsonpath={.spec.enableAutoscaling}'
for p in liveness readiness; do
	t_check "default: $p probe initialDelay/timeout/period/success/failure = 10/1/10/1/3" \
		jsonpath_is "10/1/10/1/3" -n "$ns" spinapp healthchecks-spinapp -o "jsonpath={.spec.checks.$p.initialDelaySeconds}/{.spec.checks.$p.timeoutSeconds}/{.spec.checks.$p.periodSeconds}/{.spec.checks.$p.successThreshold}/{.spec.checks.$p.failureThreshold}"
done
t_check "probe paths kept (/hello, /go-hello)" \
	jsonpath_is "/hello /go-hello" -n "$ns" spinapp healthchecks-spinapp -o 'jsonpath={.spec.checks.liveness.httpGet.path} {.spec.checks.readiness.httpGet.path}'
t_check "no default for replicas (hpa sample, dry-run): field absent" hpa_app_has_no_replicas
t_check "default: valueFrom.secretKeyRef.name defaults to \"\" (dry-run)" secret_key_ref_name_defaulted

# --- printer columns ---------------------------------------------------------------------------------

t_check "kubectl get spinapp: columns NAME READY DESIRED EXECUTOR" \
	header_is "NAME READY DESIRED EXECUTOR" -n "$ns" spinapp
t_check "kubectl get spinapp -o wide: adds DEPLOYMENT SERVICE ROUTED" \
	header_is "NAME READY DESIRED EXECUTOR DEPLOYMENT SERVICE ROUTED" -n "$ns" spinapp -o wide
t_check "kubectl get spinappexecutor: default columns NAME AGE" \
	header_is "NAME AGE" -n "$ns" spinappexecutor

# --- status subresource ------------------------------------------------------------------------------

t_check "status subresource: patch --subresource=status works" \
	kubectl -n "$ns" patch spinapp simple-spinapp --subresource=status --type=merge \
	-p '{"status":{"readyReplicas":2,"activeScheduler":"containerd-shim-spin","deploymentName":"simple-spinapp","serviceName":"simple-spinapp"}}'
t_check "status written through the subresource is stored" \
	jsonpath_is "2 containerd-shim-spin" -n "$ns" spinapp simple-spinapp -o 'jsonpath={.status.readyReplicas} {.status.activeScheduler}'
t_check "columns show status and spec (READY 2, DESIRED 1, -o wide names)" \
	row_is "simple-spinapp 2 1 containerd-shim-spin simple-spinapp simple-spinapp" -n "$ns" spinapp simple-spinapp -o wide
t_check "a write to the main resource changes spec" \
	kubectl -n "$ns" patch spinapp simple-spinapp --type=merge -p '{"spec":{"replicas":3},"status":{"readyReplicas":7}}'
t_check "... but not status (readyReplicas stays 2, replicas now 3)" \
	jsonpath_is "3 2" -n "$ns" spinapp simple-spinapp -o 'jsonpath={.spec.replicas} {.status.readyReplicas}'
t_check "status.readyReplicas is required" status_patch_fails_without_ready_replicas

# --- scale subresource (an addition: docs/compat.md "Scale subresource and scale to zero") -------------

# scale_is <want json>: GET .../spinapps/simple-spinapp/scale as {spec, status}.
scale_is() {
	local got want
	got=$(kubectl get --raw "/apis/core.spinkube.dev/v1alpha1/namespaces/$ns/spinapps/simple-spinapp/scale" |
		jq -cS '{kind, apiVersion, spec, status}') || return 1
	want=$(jq -cS . <<<"$1")
	[ "$got" = "$want" ] || { echo "got  $got"; echo "want $want"; return 1; }
}
t_check "status.replicas and status.selector accepted through the status subresource" \
	kubectl -n "$ns" patch spinapp simple-spinapp --subresource=status --type=merge \
	-p '{"status":{"replicas":2,"selector":"core.spinkube.dev/app-name=simple-spinapp"}}'
t_check "GET /scale: spec.replicas from .spec.replicas, status.replicas and selector from status" \
	scale_is '{"kind":"Scale","apiVersion":"autoscaling/v1","spec":{"replicas":3},
		"status":{"replicas":2,"selector":"core.spinkube.dev/app-name=simple-spinapp"}}'
t_check "kubectl scale spinapp --replicas=0 writes spec.replicas through /scale" \
	kubectl -n "$ns" scale spinapp simple-spinapp --replicas=0
t_check "... spec.replicas is 0 (stored, not dropped)" \
	jsonpath_is "0" -n "$ns" spinapp simple-spinapp -o 'jsonpath={.spec.replicas}'
t_check "a merge patch of /scale sets spec.replicas back to 3" \
	kubectl -n "$ns" patch spinapp simple-spinapp --subresource=scale --type=merge -p '{"spec":{"replicas":3}}'
t_check "... spec.replicas is 3" jsonpath_is "3" -n "$ns" spinapp simple-spinapp -o 'jsonpath={.spec.replicas}'
t_check "spec.replicas -1 refused by the schema (minimum 0)" patch_rejected_with \
	"spec.replicas in body should be greater than or equal to 0" \
	spinapp/simple-spinapp --type=merge -p '{"spec":{"replicas":-1}}'
t_check "a /scale write of -1 refused" patch_rejected_with "greater than or equal to 0" \
	spinapp/simple-spinapp --subresource=scale --type=merge -p '{"spec":{"replicas":-1}}'
t_check "SpinAppExecutor status subresource exists" \
	kubectl -n "$ns" patch spinappexecutor containerd-shim-spin --subresource=status --type=merge -p '{"status":{}}'

# --- additive fields ---------------------------------------------------------------------------------

t_check "SpinApp with a full autoscaler block (incl. HPA behavior) is accepted" create_from_json "$(autoscaled_app)"
t_check "autoscaler block is stored intact (no defaults added, nothing pruned)" \
	field_stored_as spinapp/autoscaled .spec.autoscaler "$AUTOSCALER"
t_check "autoscaler block with only maxReplicas is accepted (dry-run)" minimal_autoscaler_accepted
t_check "update: autoscaler.minReplicas 0 rejected" patch_rejected_with \
	"spec.autoscaler.minReplicas in body should be greater than or equal to 1" \
	spinapp/autoscaled --type=merge -p '{"spec":{"autoscaler":{"minReplicas":0}}}'
t_check "update: autoscaler without maxReplicas rejected" patch_rejected_with \
	"spec.autoscaler.maxReplicas: Required value" \
	spinapp/autoscaled --type=json -p '[{"op":"remove","path":"/spec/autoscaler/maxReplicas"}]'
t_check "update: autoscaler.targetMemoryUtilizationPercentage 0 rejected" patch_rejected_with \
	"spec.autoscaler.targetMemoryUtilizationPercentage in body should be greater than or equal to 1" \
	spinapp/autoscaled --type=merge -p '{"spec":{"autoscaler":{"targetMemoryUtilizationPercentage":0}}}'
t_check "SpinApp status.observedGeneration accepted through the status subresource" \
	kubectl -n "$ns" patch spinapp autoscaled --subresource=status --type=merge \
	-p '{"status":{"readyReplicas":0,"observedGeneration":1}}'
t_check "SpinApp status.observedGeneration is stored" \
	jsonpath_is "1" -n "$ns" spinapp autoscaled -o 'jsonpath={.status.observedGeneration}'

t_check "SpinAppExecutor with runtimeClass {handler, nodeSelector, tolerations} is accepted" \
	create_from_json "$(runtimeclass_executor)"
t_check "runtimeClass block is stored intact" \
	field_stored_as spinappexecutor/managed-runtimeclass .spec.deploymentConfig.runtimeClass "$RUNTIME_CLASS"
t_check "update: runtimeClass without handler rejected" patch_rejected_with \
	"spec.deploymentConfig.runtimeClass.handler: Required value" \
	spinappexecutor/managed-runtimeclass --type=json -p '[{"op":"remove","path":"/spec/deploymentConfig/runtimeClass/handler"}]'
t_check "update: runtimeClass.nodeSelector values must be strings" patch_rejected_with \
	"spec.deploymentConfig.runtimeClass.nodeSelector.spin in body must be of type string" \
	spinappexecutor/managed-runtimeclass --type=merge -p '{"spec":{"deploymentConfig":{"runtimeClass":{"nodeSelector":{"spin":true}}}}}'
t_check "SpinAppExecutor status observedGeneration + conditions accepted through the status subresource" \
	kubectl -n "$ns" patch spinappexecutor managed-runtimeclass --subresource=status --type=merge \
	-p "{\"status\":$EXECUTOR_STATUS}"
t_check "SpinAppExecutor status is stored intact" \
	field_stored_as spinappexecutor/managed-runtimeclass .status "$EXECUTOR_STATUS"
t_check "SpinAppExecutor status: a condition with status Yes is rejected (metav1.Condition schema)" \
	patch_rejected_with 'status.conditions[0].status: Unsupported value: "Yes"' \
	spinappexecutor/managed-runtimeclass --subresource=status --type=merge \
	-p '{"status":{"conditions":[{"type":"Ready","status":"Yes","reason":"R","message":"","lastTransitionTime":"2025-01-02T03:04:05Z"}]}}'
t_check "SpinAppExecutor: status written through the main resource is ignored" \
	kubectl -n "$ns" patch spinappexecutor managed-runtimeclass --type=merge -p '{"status":{"observedGeneration":9}}'
t_check "... status.observedGeneration stays 1" \
	jsonpath_is "1" -n "$ns" spinappexecutor managed-runtimeclass -o 'jsonpath={.status.observedGeneration}'

# --- invalid manifests -------------------------------------------------------------------------------

n_invalid=0
for f in "$INVALID"/*.yaml; do
	[ -f "$f" ] || continue
	n_invalid=$((n_invalid + 1))
	t_check "rejected: tests/crds/invalid/$(basename "$f") ($(sed -n '1s/^# expect: //p' "$f"))" rejected_with "$f"
done
if [ "$n_invalid" -ge 10 ]; then t_ok "tests/crds/invalid holds $n_invalid manifests"; else t_fail "tests/crds/invalid holds only $n_invalid manifests"; fi

# --- cleanup -----------------------------------------------------------------------------------------

t_check "delete the test namespace" kubectl delete namespace "$ns" --timeout=60s
t_check "test namespace is gone" retry 30 namespace_gone
ns=""
t_check "CRDs stay installed for later suites" kubectl get "${CRDS[@]/#/crd/}"
exit 0
