#!/usr/bin/env bash
# The SpinApp and SpinAppExecutor reconcilers end to end on the real control plane: kube-controller-manager
# makes ReplicaSets and Pods and garbage-collects, kwok makes the Pods Running/Ready on its fake nodes, and the
# RuntimeClass admission plugin rejects Pods naming a RuntimeClass that does not exist.
#
# The operator runs with the RBAC of config/rbac, not as admin: the suite applies a variant of config/rbac
# (namespace and name prefix rec-rbac-<n>), mints a token for its ServiceAccount and gives the daemon a
# kubeconfig with only that token. Each check waits generously (retry) and never asserts on speed.
#
# Covers: generated objects (contract §2.6-§2.13), status, image/replica/executor/runtime-config changes, the
# operator-owned HPA and RuntimeClass, createDeployment: false, MissingExecutor, one CA Secret for apps that
# start together, a runtime config waiting for a referenced Secret, blocked executor deletion, garbage
# collection, over-long names and zero writes in steady state. Bursts across an apiserver restart and a SIGKILL
# of the operator (formerly sections n and o) are in the fault suite: tests/faults/burst_restart_sigkill.sh.
#
# Cleans up what it created (namespaces, RBAC variant, RuntimeClasses); leaves the CRDs.
# Run by tests/run.sh (KUBECONFIG, PATH with .tools/bin, REPO, OPERATOR, CLUSTER_DIR); by hand see
# docs/development.md.
set -uo pipefail
source "$REPO/tests/lib.sh"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

G=core.spinkube.dev
APP_LABEL=$G/app-name
IMG=ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0
IMG2=ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.22.0
SAMPLES=$REPO/config/samples
rand=$RANDOM$RANDOM
suite_start=$SECONDS

work=$(mktemp -d)
log=$work/operator.log
opkc=$work/operator.kubeconfig
pid=""
namespaces=()   # every test namespace (deleted at the end)
our_rcs=()      # cluster-scoped RuntimeClasses this suite created itself
vns=""          # namespace of the RBAC variant
overlay=$work/rbac-variant
token=""

cleanup() {
	local n
	# Namespaces go first, while the operator still runs: it releases the executors' finalizers.
	for n in "${namespaces[@]}"; do
		kubectl delete namespace "$n" --ignore-not-found --wait=false >/dev/null 2>&1
	done
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		for n in "${namespaces[@]}"; do
			retry 60 absent namespace "$n" >/dev/null 2>&1
		done
	fi
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	# Whatever is still terminating (the operator died early): drop the executor finalizers by hand.
	for n in "${namespaces[@]}"; do
		kubectl get spinappexecutors -n "$n" -o name 2>/dev/null | while read -r e; do
			kubectl patch -n "$n" "$e" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
		done
	done
	for n in "${our_rcs[@]}"; do
		kubectl delete runtimeclass "$n" --ignore-not-found >/dev/null 2>&1
	done
	# RuntimeClasses the operator made for us and could not remove (it died first).
	kubectl delete runtimeclass "owned-rc-$rand" --ignore-not-found >/dev/null 2>&1
	if [ -n "$vns" ]; then
		kubectl delete -k "$overlay" --ignore-not-found --wait=false >/dev/null 2>&1
		kubectl delete namespace "$vns" --ignore-not-found --wait=false >/dev/null 2>&1
	fi
	# shellcheck disable=SC2154 # t_failed is tests/lib.sh's
	if [ "$t_failed" = 1 ] && [ -f "$log" ]; then # keep the operator's log for the post-mortem
		local keep=${BUILD:-${TMPDIR:-/tmp}}/test-logs
		mkdir -p "$keep" && cp "$log" "$keep/reconcile-operator.log" && echo "# operator log kept in $keep/reconcile-operator.log"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# ---- helpers ------------------------------------------------------------------------------------------

# absent <kubectl get args>: the object does not exist (NotFound, not merely an error reaching the server).
absent() {
	local out
	out=$(kubectl get "$@" -o name 2>&1) && { echo "still there: $out"; return 1; }
	[[ $out == *NotFound* || $out == *"not found"* ]] || { echo "$out"; return 1; }
}

# poll cmd...: cmd, pausing a second after a failure (for retry loops around expensive checks).
poll() { "$@" || { sleep 1; return 1; }; }

# event <ns> <kind> <name> <type> <reason> <message> [exact|contains]: such an Event was recorded.
event() {
	local how=${7:-exact}
	kubectl get events -n "$1" --field-selector "involvedObject.kind=$2,involvedObject.name=$3,type=$4,reason=$5" \
		-o json 2>/dev/null | jq -e --arg m "$6" --arg how "$how" \
		'[.items[] | select(if $how == "exact" then .message == $m else (.message | contains($m)) end)] | length > 0' \
		>/dev/null || {
		echo "no $4 $5 event on $2 $1/$3 with message ($how) '$6'; events:"
		kubectl get events -n "$1" --field-selector "involvedObject.name=$3" -o json 2>/dev/null |
			jq -r '.items[] | "  \(.type) \(.reason): \(.message)"' | tail -5
		return 1
	}
}

app_yaml() { # app_yaml <ns> <name> [executor] [extra flow-mapping entries for spec]
	cat <<-YAML
		apiVersion: $G/v1alpha1
		kind: SpinApp
		metadata: {name: $2, namespace: $1}
		spec: {image: "$IMG", executor: ${3:-containerd-shim-spin}, replicas: 1${4:+, $4}}
	YAML
}

executor_yaml() { # executor_yaml <ns> <name> <createDeployment> [deploymentConfig as a flow mapping]
	cat <<-YAML
		apiVersion: $G/v1alpha1
		kind: SpinAppExecutor
		metadata: {name: $2, namespace: $1}
		spec: {createDeployment: $3${4:+, deploymentConfig: $4}}
	YAML
}

apply() { kubectl apply -f - >/dev/null; }

synced_count() { grep -c "caches synced" "$log" 2>/dev/null; }

# at_least <n> cmd...: cmd prints a number >= n (evaluated on every try, for retry).
at_least() {
	local n=$1 v
	shift
	v=$("$@")
	[ "${v:-0}" -ge "$n" ] || { echo "$* = ${v:-nothing}, want >= $n"; return 1; }
}

# The webhook server (when this build has one) is not under test here: off, so no port or certificate is needed.
op_flags=(--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 --metrics-secure=false --log-level debug)
grep -q -- --webhook-bind-address <<<"$("$OPERATOR" --help 2>/dev/null)" && op_flags+=(--webhook-bind-address 0)

start_operator() {
	local before
	before=$(synced_count)
	"$OPERATOR" --kubeconfig "$opkc" "${op_flags[@]}" >>"$log" 2>&1 &
	pid=$!
	retry 60 at_least "$((before + 1))" synced_count >/dev/null
}

metrics_port() { sed -n 's/.*metrics listening on .* (port \([0-9]*\)).*/\1/p' "$log" | tail -1; }
scrape() { curl -sf --max-time 5 "http://127.0.0.1:$(metrics_port)/metrics"; }
writes() { scrape | awk '$1 == "spin_operator_api_writes_total" { print $2 }'; }

# available <ns> <app> [seconds]: kubectl wait for the SpinApp's Available condition.
available() { kubectl wait --for=condition=Available "spinapp/$2" -n "$1" --timeout="${3:-120}s" >/dev/null; }

# rs_count <ns> <app>: how many ReplicaSets the app's Deployment has.
rs_count() { kubectl get rs -n "$1" -l "$APP_LABEL=$2" -o name | wc -l; }

# runtime_secret <ns> <app>: the runtime-config Secret the app's Deployment mounts.
runtime_secret() {
	kubectl get deployment "$2" -n "$1" -o json |
		jq -r '.spec.template.spec.volumes[] | select(.name == "spin-runtime-config") | .secret.secretName'
}

# ---- the operator's identity: config/rbac, a token, a kubeconfig with nothing but that token -----------

if [ ! -x "$OPERATOR" ]; then
	t_fail "operator binary $OPERATOR is missing (make build)"
	exit 1
fi
vns=$(t_ns rec-rbac) || { t_fail "create the RBAC namespace"; exit 1; }
sa=$vns-controller-manager
t_check "apply config/rbac as variant $vns (ServiceAccount $sa) and write a kubeconfig with its token" \
	t_rbac_kubeconfig "$vns" "$overlay" "$opkc"
[ -s "$opkc" ] || exit 1
# the log must never show the token or the CA (p.)
token=$(sed -n 's/.*{token: "\(.*\)"}.*/\1/p' "$opkc")
cadata=$(sed -n 's/.*certificate-authority-data: "\(.*\)"}.*/\1/p' "$opkc")
[ -n "$token" ] && [ -n "$cadata" ] || { t_fail "read the token and CA back from $opkc"; exit 1; }
t_check "the operator's kubeconfig authenticates as the ServiceAccount" \
	bash -c "kubectl --kubeconfig '$opkc' auth whoami -o jsonpath='{.status.userInfo.username}' | grep -qx 'system:serviceaccount:$vns:$sa'"
t_check "the operator's kubeconfig is not admin (cannot create clusterrolebindings or list pods)" \
	bash -c "[ \"\$(kubectl --kubeconfig '$opkc' auth can-i create clusterrolebindings 2>/dev/null)\" = no ] &&
		[ \"\$(kubectl --kubeconfig '$opkc' auth can-i list pods -A 2>/dev/null)\" = no ]"

# The samples' RuntimeClass (the shim executor names it).
if ! kubectl get runtimeclass wasmtime-spin-v2 >/dev/null 2>&1; then
	kubectl apply -f "$SAMPLES/spin-runtime-class.yaml" >/dev/null && our_rcs+=(wasmtime-spin-v2)
fi

ns=$(t_ns rec) || { t_fail "create a test namespace"; exit 1; }
namespaces+=("$ns")

if start_operator; then
	t_ok "the operator starts with the config/rbac token and its caches sync"
else
	t_fail "the operator starts with the config/rbac token and its caches sync"
	tail -20 "$log" | sed 's/^/    /'
	exit 1
fi

# ---- a. the samples: simple app + shim executor --------------------------------------------------------

A=simple-spinapp
kubectl apply -n "$ns" -f "$SAMPLES/spin-shim-executor.yaml" -f "$SAMPLES/simple.yaml" >/dev/null
uid=$(kubectl get spinapp "$A" -n "$ns" -o jsonpath='{.metadata.uid}')
t_check "a. runtime-config Secret $A-760b133c with a non-controller ownerReference to the SpinApp" \
	retry 60 q '.data["runtime-config.toml"] and .metadata.labels == {"'$APP_LABEL'": "'$A'"}
		and ([.metadata.ownerReferences[] | select(.kind == "SpinApp" and .name == "'$A'" and .uid == "'"$uid"'"
			and (.controller // false) == false)] | length == 1)' secret "$A-760b133c" -n "$ns"
t_check "a. Deployment $A: labels, selector, template labels, http-app port 80, image, runtime-config volume" \
	retry 60 q '.metadata.labels == {"'$APP_LABEL'": "'$A'"}
		and .spec.selector.matchLabels == {"'$APP_LABEL'": "'$A'", "'$G'/app.'$A'.status": "ready"}
		and (.spec.template.metadata.labels | .["'$APP_LABEL'"] == "'$A'" and .["'$G'/app.'$A'.status"] == "ready")
		and .spec.replicas == 1
		and .spec.template.spec.runtimeClassName == "wasmtime-spin-v2"
		and (.spec.template.spec.containers | length == 1)
		and .spec.template.spec.containers[0].name == "'$A'"
		and .spec.template.spec.containers[0].image == "'$IMG'"
		and ([.spec.template.spec.containers[0].ports[] | {name, containerPort}] == [{name: "http-app", containerPort: 80}])
		and ([.spec.template.spec.volumes[] | select(.name == "spin-runtime-config") | .secret.secretName] == ["'$A'-760b133c"])
		and ([.spec.template.spec.volumes[] | select(.name == "spin-ca") | .secret.secretName] == ["spin-ca"])' \
	deployment "$A" -n "$ns"
t_check "a. the Deployment has a controller ownerReference to the SpinApp and managedFields manager spin-operator" \
	q '([.metadata.ownerReferences[] | select(.kind == "SpinApp" and .name == "'$A'" and .uid == "'"$uid"'"
			and .controller == true and .blockOwnerDeletion == true)] | length == 1)
		and ([.metadata.managedFields[] | select(.manager == "spin-operator" and .operation == "Apply")] | length == 1)' \
	deployment "$A" -n "$ns" --show-managed-fields
t_check "a. Service $A: ClusterIP, port 80 → http-app (no port name), selector on the ready label, controller ownerReference" \
	retry 60 q '.metadata.labels == {"'$APP_LABEL'": "'$A'"} and .spec.type == "ClusterIP"
		and ([.spec.ports[] | {protocol, port, targetPort, name}] == [{protocol: "TCP", port: 80, targetPort: "http-app", name: null}])
		and .spec.selector == {"'$G'/app.'$A'.status": "ready"}
		and ([.metadata.ownerReferences[] | select(.uid == "'"$uid"'" and .controller == true)] | length == 1)
		and ([.metadata.managedFields[] | select(.manager == "spin-operator")] | length >= 1)' \
	service "$A" -n "$ns" --show-managed-fields
t_check "a. the sample executor has installDefaultCACerts: true and no caCertSecret" \
	q '.spec.deploymentConfig.installDefaultCACerts == true and .spec.deploymentConfig.caCertSecret == null' \
	spinappexecutor containerd-shim-spin -n "$ns"
t_check "a. installDefaultCACerts: CA Secret spin-ca with ca-certificates.crt, no ownerReference" \
	retry 60 q '(.data["ca-certificates.crt"] | length > 1000) and (.metadata.ownerReferences == null)
		and .metadata.annotations["app.kubernetes.io/managed-by"] == "spin-operator.spinkube.dev"' secret spin-ca -n "$ns"

# ---- b. pods Ready, SpinApp Available, status --------------------------------------------------------------

t_check "b. kubectl wait --for=condition=Available spinapp/$A succeeds" available "$ns" "$A"
status_ok() { # status_ok <ns> <app> [executor]: status agrees with the spec and the Deployment
	local d a
	d=$(kubectl get deployment "$2" -n "$1" -o json) || return 1
	a=$(kubectl get spinapp "$2" -n "$1" -o json) || return 1
	jq -e --argjson d "$d" '.status.readyReplicas == .spec.replicas and .status.readyReplicas == $d.status.readyReplicas
		and .status.deploymentName == "'$2'" and .status.serviceName == "'$2'"
		and .status.activeScheduler == "'"${3:-containerd-shim-spin}"'"
		and .status.observedGeneration == .metadata.generation
		and ([.status.conditions[] | select(.type == "Available" or .type == "Progressing") | {type, status, reason, message}] | sort_by(.type))
			== ([$d.status.conditions[] | select(.type == "Available" or .type == "Progressing") | {type, status, reason, message}] | sort_by(.type))' \
		<<<"$a" >/dev/null || { jq -c '.status' <<<"$a"; jq -c '.status' <<<"$d"; return 1; }
}
t_check "b. status: readyReplicas = spec.replicas, deploymentName, serviceName, observedGeneration, Available/Progressing copied from the Deployment" \
	retry 60 status_ok "$ns" "$A"

# ---- c. image change and scaling ---------------------------------------------------------------------------

kubectl patch spinapp "$A" -n "$ns" --type merge -p "{\"spec\":{\"image\":\"$IMG2\"}}" >/dev/null
t_check "c. an image change reaches the Deployment's template" \
	retry 60 q '.spec.template.spec.containers[0].image == "'$IMG2'"' deployment "$A" -n "$ns"
t_check "c. ... and a new ReplicaSet appears" retry 60 at_least 2 rs_count "$ns" "$A"
t_check "c. ... and the rollout to the new image completes" \
	retry 90 q '.status.observedGeneration == .metadata.generation and .status.updatedReplicas == 1
		and .status.readyReplicas == 1 and .status.replicas == 1' deployment "$A" -n "$ns"
t_check "c. ... and the app is Available" available "$ns" "$A"
kubectl patch spinapp "$A" -n "$ns" --type merge -p '{"spec":{"replicas":3}}' >/dev/null
t_check "c. replicas 1 → 3: the Deployment and the SpinApp report 3 ready" \
	retry 90 q '.spec.replicas == 3 and .status.readyReplicas == 3' spinapp "$A" -n "$ns"
t_check "c. ... with status matching the Deployment" retry 60 status_ok "$ns" "$A"

# ---- d. an executor edit reaches existing apps --------------------------------------------------------------

gen=$(kubectl get spinapp "$A" -n "$ns" -o jsonpath='{.metadata.generation}')
kubectl patch spinappexecutor containerd-shim-spin -n "$ns" --type merge \
	-p '{"spec":{"deploymentConfig":{"otel":{"exporter_otlp_endpoint":"http://otel-collector:4318"}}}}' >/dev/null
t_check "d. executor otel.exporter_otlp_endpoint → OTEL_EXPORTER_OTLP_ENDPOINT in the Deployment, app untouched" \
	retry 60 q '[.spec.template.spec.containers[0].env[] | select(.name == "OTEL_EXPORTER_OTLP_ENDPOINT")
		| .value] == ["http://otel-collector:4318"]' deployment "$A" -n "$ns"
t_check "d. ... the SpinApp's generation did not change" \
	test "$(kubectl get spinapp "$A" -n "$ns" -o jsonpath='{.metadata.generation}')" = "$gen"

# ---- e. the operator-owned HPA -------------------------------------------------------------------------------

# replicas must be unset with enableAutoscaling (the webhook's rule), so it goes in the same merge patch.
kubectl patch spinapp "$A" -n "$ns" --type merge -p '{"spec":{"enableAutoscaling":true,"replicas":null,
	"autoscaler":{"minReplicas":1,"maxReplicas":4,"targetCPUUtilizationPercentage":60}}}' >/dev/null
t_check "e. enableAutoscaling + spec.autoscaler → autoscaling/v2 HPA $A targeting the Deployment, owned by the app" \
	retry 60 q '.spec.scaleTargetRef == {apiVersion: "apps/v1", kind: "Deployment", name: "'$A'"}
		and .spec.minReplicas == 1 and .spec.maxReplicas == 4
		and ([.spec.metrics[] | select(.type == "Resource" and .resource.name == "cpu")
			| .resource.target] == [{type: "Utilization", averageUtilization: 60}])
		and ([.metadata.ownerReferences[] | select(.uid == "'"$uid"'" and .controller == true)] | length == 1)' \
	horizontalpodautoscalers.v2.autoscaling "$A" -n "$ns"
t_check "e. ... and spin-operator no longer sets the Deployment's replicas" \
	retry 60 q '[.metadata.managedFields[] | select(.manager == "spin-operator") | .fieldsV1["f:spec"] | has("f:replicas")] | any | not' \
	deployment "$A" -n "$ns" --show-managed-fields
kubectl patch spinapp "$A" -n "$ns" --type merge -p '{"spec":{"autoscaler":null}}' >/dev/null
t_check "e. removing spec.autoscaler deletes the HPA" retry 60 absent horizontalpodautoscalers.v2.autoscaling "$A" -n "$ns"

# ---- f. createDeployment: false ---------------------------------------------------------------------------

executor_yaml "$ns" external false | apply
app_yaml "$ns" ext-app external | apply
t_check "f. createDeployment: false: the app gets a Service" retry 60 q '.spec.selector == {"'$G'/app.ext-app.status": "ready"}' service ext-app -n "$ns"
t_check "f. ... status.activeScheduler = external, readyReplicas 0" \
	retry 60 q '.status.activeScheduler == "external" and .status.readyReplicas == 0' spinapp ext-app -n "$ns"
t_check "f. ... and no Deployment" absent deployment ext-app -n "$ns"
app_yaml "$ns" switch-app | apply
t_check "f. an app of the shim executor gets its Deployment" retry 60 kubectl get deployment switch-app -n "$ns"
kubectl patch spinapp switch-app -n "$ns" --type merge -p '{"spec":{"executor":"external"}}' >/dev/null
t_check "f. ... switched to the createDeployment: false executor, its Deployment is deleted" \
	retry 60 absent deployment switch-app -n "$ns"

# ---- g. missing executor ---------------------------------------------------------------------------------

app_yaml "$ns" orphan-app later-exec | apply
t_check "g. an app naming a missing executor gets Warning MissingExecutor 'Could not find SpinAppExecutor $ns/later-exec'" \
	retry 60 event "$ns" SpinApp orphan-app Warning MissingExecutor "Could not find SpinAppExecutor $ns/later-exec"
t_check "g. ... and no Deployment meanwhile" absent deployment orphan-app -n "$ns"
executor_yaml "$ns" later-exec true '{runtimeClassName: wasmtime-spin-v2}' | apply
t_check "g. creating the executor makes the app converge: its Deployment appears" \
	retry 60 kubectl get deployment orphan-app -n "$ns"
t_check "g. ... and it becomes Available" available "$ns" orphan-app

# ---- g2. apps that start together make the CA Secret once --------------------------------------------------
# Sixteen apps wait for a missing executor; creating it (installDefaultCACerts) requeues them all at once.

cns=$(t_ns rec-ca) && namespaces+=("$cns")
for i in $(seq -w 1 16); do echo ---; app_yaml "$cns" "ca-app-$i" ca-exec; done | apply
t_check "g2. sixteen apps wait for their missing executor" \
	retry 60 at_least 16 sh -c "kubectl get events -n $cns --field-selector reason=MissingExecutor -o name | wc -l"
executor_yaml "$cns" ca-exec true '{runtimeClassName: wasmtime-spin-v2, installDefaultCACerts: true}' | apply
t_check "g2. creating it makes all sixteen Deployments" \
	retry 60 at_least 16 sh -c "kubectl get deployments -n $cns -o name | wc -l"
t_check "g2. ... and the CA Secret spin-ca was created once, not once per worker" \
	test "$(grep -c " $cns/ca-app-[0-9]*: default CA Secret spin-ca created" "$log")" = 1

# ---- h. executor deletion blocked by dependants ----------------------------------------------------------

t_check "h. live executors carry the finalizer $G/finalizer" \
	retry 60 q '[.items[] | .metadata.finalizers // [] | index("'$G'/finalizer") != null] | (length >= 3 and all)' \
	spinappexecutors -n "$ns"
kubectl delete spinappexecutor later-exec -n "$ns" --wait=false >/dev/null
t_check "h. deleting an executor in use: Warning DeletionBlocked 'Cannot delete SpinAppExecutor with dependent SpinApps'" \
	retry 60 event "$ns" SpinAppExecutor later-exec Warning DeletionBlocked "Cannot delete SpinAppExecutor with dependent SpinApps"
t_check "h. ... the executor stays, with a deletionTimestamp and the finalizer" \
	q '.metadata.deletionTimestamp != null and (.metadata.finalizers | index("'$G'/finalizer") != null)' \
	spinappexecutor later-exec -n "$ns"
kubectl delete spinapp orphan-app -n "$ns" --wait=false >/dev/null
t_check "h. deleting the last app using it lets the executor go" retry 60 absent spinappexecutor later-exec -n "$ns"

# ---- i. SpinApp deletion garbage-collects its objects ----------------------------------------------------

kubectl delete spinapp "$A" -n "$ns" --wait=false >/dev/null
all_absent() { # all_absent <ns> <kind/name>...
	local n=$1 o
	shift
	for o in "$@"; do absent "$o" -n "$n" || return 1; done
}
t_check "i. deleting the SpinApp garbage-collects Deployment, Service and runtime-config Secret" \
	retry 60 poll all_absent "$ns" deployment/"$A" service/"$A" secret/"$A-760b133c"
t_check "i. ... the CA Secret spin-ca stays" kubectl get secret spin-ca -n "$ns"

# ---- j. RuntimeClass checks and wiring ---------------------------------------------------------------------

missing=missing-rc-$rand
executor_yaml "$ns" rc-exec true "{runtimeClassName: $missing}" | apply
app_yaml "$ns" rc-app rc-exec | apply
t_check "j. executor naming a missing RuntimeClass: condition RuntimeClassReady False/NotFound" \
	retry 60 q '[.status.conditions[]? | select(.type == "RuntimeClassReady") | {status, reason}] == [{status: "False", reason: "NotFound"}]
		and .status.observedGeneration == .metadata.generation' spinappexecutor rc-exec -n "$ns"
t_check "j. ... and its app gets Warning RuntimeClassNotFound" \
	retry 60 event "$ns" SpinApp rc-app Warning RuntimeClassNotFound "\"$missing\"" contains
kubectl create -f - >/dev/null <<EOF && our_rcs+=("$missing")
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: $missing}
handler: spin
EOF
t_check "j. creating the RuntimeClass turns the condition True" \
	retry 60 q '[.status.conditions[]? | select(.type == "RuntimeClassReady") | .status] == ["True"]' spinappexecutor rc-exec -n "$ns"
t_check "j. ... and the app becomes Available" available "$ns" rc-app 150
owned=owned-rc-$rand
executor_yaml "$ns" owned-rc-exec true \
	"{runtimeClassName: $owned, runtimeClass: {handler: spin, nodeSelector: {spinkube.dev/wasm: \"true\"}}}" | apply
t_check "j. deploymentConfig.runtimeClass: the operator creates RuntimeClass $owned (managed-by label, handler, nodeSelector)" \
	retry 60 q '.metadata.labels["app.kubernetes.io/managed-by"] == "spin-operator" and .handler == "spin"
		and .scheduling.nodeSelector == {"spinkube.dev/wasm": "true"}' runtimeclass "$owned"
t_check "j. ... its executor reports RuntimeClassReady True" \
	retry 60 q '[.status.conditions[]? | select(.type == "RuntimeClassReady") | .status] == ["True"]' spinappexecutor owned-rc-exec -n "$ns"
kubectl delete spinappexecutor owned-rc-exec -n "$ns" --wait=false >/dev/null
t_check "j. deleting that executor (no apps) lets it go" retry 60 absent spinappexecutor owned-rc-exec -n "$ns"
t_check "j. ... and deletes the RuntimeClass" retry 60 absent runtimeclass "$owned"

# ---- k. a name too long for the ready label --------------------------------------------------------------

long=long-name-$rand
while [ ${#long} -lt 53 ]; do long+=x; done
app_yaml "$ns" "$long" | apply
t_check "k. a ${#long}-character app name: Warning ReconcileFailed mentioning the 63-character limit" \
	retry 60 event "$ns" SpinApp "$long" Warning ReconcileFailed "63-character" contains
t_check "k. ... and no Deployment" absent deployment "$long" -n "$ns"

# mounted_config <ns> <app> <url>: the Deployment mounts a generated <app>-<hash> Secret holding that url.
mounted_config() {
	local s
	s=$(runtime_secret "$1" "$2") && [[ $s =~ ^$2-[0-9a-f]+$ ]] && [ "$s" != "$2-760b133c" ] || { echo "mounted: '$s'"; return 1; }
	kubectl get secret "$s" -n "$1" -o jsonpath='{.data.runtime-config\.toml}' | base64 -d | grep -qxF "url = '$3'" ||
		{ echo "$s does not hold url $3"; return 1; }
}

# ---- k2. a runtime config waiting for a Secret it references ----------------------------------------------

# The Service goes out at the start of a new app's reconcile (the apiserver makes Services one at a time), so
# it exists while the Deployment waits for the Secret (docs/compat.md, "Order of writes in a burst").
ref=kv-ref-$rand
app_yaml "$ns" ref-app containerd-shim-spin "runtimeConfig: {keyValueStores: [{name: default, type: redis, options: [{name: url, valueFrom: {secretKeyRef: {name: $ref, key: url}}}]}]}" | apply
t_check "k2. a runtimeConfig option naming a missing Secret: Warning ReconcileFailed 'secrets \"$ref\" not found'" \
	retry 60 event "$ns" SpinApp ref-app Warning ReconcileFailed "secrets \"$ref\" not found" contains
t_check "k2. ... no Deployment meanwhile" absent deployment ref-app -n "$ns"
t_check "k2. ... but the app's Service already exists" retry 30 kubectl get service ref-app -n "$ns"
kubectl create secret generic "$ref" -n "$ns" --from-literal=url=redis://c >/dev/null
t_check "k2. creating the Secret: the Deployment appears, mounting a runtime config with its url" \
	retry 90 mounted_config "$ns" ref-app redis://c

# ---- k3. a runtime config option from a ConfigMap; a Service of the app's name made before the app ----------

kubectl create configmap kv-cm -n "$ns" --from-literal=url=redis://cm >/dev/null
app_yaml "$ns" cm-app containerd-shim-spin "runtimeConfig: {keyValueStores: [{name: default, type: redis, options: [{name: url, valueFrom: {configMapKeyRef: {name: kv-cm, key: url}}}]}]}" | apply
t_check "k3. a runtimeConfig option from a ConfigMap: the mounted runtime config holds its url" \
	retry 90 mounted_config "$ns" cm-app redis://cm
# Taking the Service over changes its ownerReferences: with OwnerReferencesPermissionEnforcement (rbac_audit.sh)
# that needs delete on services and update on spinapps/finalizers.
kubectl create service clusterip taken-app -n "$ns" --tcp=80:80 >/dev/null
app_yaml "$ns" taken-app | apply
uid=$(kubectl get spinapp taken-app -n "$ns" -o jsonpath='{.metadata.uid}')
t_check "k3. a Service of the app's name that existed before the app is taken over (controller ownerReference, port 80 → http-app)" \
	retry 60 q '([.metadata.ownerReferences[]? | select(.uid == "'"$uid"'" and .controller == true and .blockOwnerDeletion == true)] | length == 1)
		and ([.spec.ports[] | {port, targetPort}] == [{port: 80, targetPort: "http-app"}])' service taken-app -n "$ns"
t_check "k3. ... and that app becomes Available" available "$ns" taken-app

# ---- l. runtime config changes and superseded Secrets ------------------------------------------------------

app_yaml "$ns" kv-app containerd-shim-spin "runtimeConfig: {keyValueStores: [{name: default, type: redis, options: [{name: url, value: \"redis://a\"}]}]}" | apply
t_check "l. runtimeConfig → a generated Secret kv-app-<hash1> mounted by the Deployment" \
	retry 60 mounted_config "$ns" kv-app redis://a
t_check "l. ... and the app is Available" available "$ns" kv-app
old=$(runtime_secret "$ns" kv-app)
kubectl patch spinapp kv-app -n "$ns" --type merge \
	-p '{"spec":{"runtimeConfig":{"keyValueStores":[{"name":"default","type":"redis","options":[{"name":"url","value":"redis://b"}]}]}}}' >/dev/null
t_check "l. changing the url: a new Secret kv-app-<hash2> mounted by the Deployment" \
	retry 60 mounted_config "$ns" kv-app redis://b
new=$(runtime_secret "$ns" kv-app)
t_check "l. ... the rollout completes" \
	retry 90 q '.status.observedGeneration == .metadata.generation and .status.updatedReplicas == 1 and .status.readyReplicas == 1
		and .status.replicas == 1' deployment kv-app -n "$ns"
t_check "l. ... the app is Available with the new generation observed" \
	retry 60 q '.status.observedGeneration == .metadata.generation and
		([.status.conditions[] | select(.type == "Available") | .status] == ["True"])' spinapp kv-app -n "$ns"
old_rs() { # ReplicaSets of kv-app whose template mounts the old Secret
	kubectl get rs -n "$ns" -l "$APP_LABEL=kv-app" -o json |
		jq -r --arg s "$old" '.items[] | select([.spec.template.spec.volumes[]?.secret.secretName] | index($s)) | .metadata.name'
}
old_kept() {
	local rs
	rs=$(old_rs)
	[ -n "$rs" ] || { echo "no ReplicaSet mounts $old"; return 1; }
	kubectl get secret "$old" -n "$ns" -o name
}
t_check "l. the old Secret $old still exists while an old ReplicaSet references it" old_kept
for rs in $(old_rs); do kubectl delete rs "$rs" -n "$ns" --wait=false >/dev/null; done
t_check "l. deleting the old ReplicaSet(s) deletes the old Secret" retry 60 absent secret "$old" -n "$ns"
t_check "l. ... the current Secret $new stays" kubectl get secret "$new" -n "$ns"
t_check "l. ... and it is still the one mounted" test "$(runtime_secret "$ns" kv-app)" = "$new"

# ---- m. zero writes in steady state ------------------------------------------------------------------------

metrics_ok() {
	local m
	m=$(scrape) || { echo "no /metrics on port $(metrics_port)"; return 1; }
	grep -q '^controller_runtime_reconcile_total{' <<<"$m" && grep -q '^spin_operator_api_writes_total [0-9]' <<<"$m" ||
		{ head -20 <<<"$m"; return 1; }
}
t_check "m. /metrics exposes controller_runtime_reconcile_total and spin_operator_api_writes_total" metrics_ok
t_check "m. every app in $ns that can converge is Available" \
	kubectl wait --for=condition=Available spinapp/rc-app spinapp/kv-app -n "$ns" --timeout=120s
quiet_for() { # quiet_for <seconds>: the write counter does not move over that many seconds
	local a b
	a=$(writes) && [ -n "$a" ] || return 1
	sleep "$1"
	b=$(writes) && [ -n "$b" ] || return 1
	[ "$a" = "$b" ] || { echo "spin_operator_api_writes_total went from $a to $b in $1 s"; return 1; }
}
retry 60 quiet_for 3 >/dev/null # let anything still settling (GC, rollouts) finish
t_check "m. steady state: spin_operator_api_writes_total is unchanged over 15 s" quiet_for 15

# ---- n., o. bursts across an apiserver restart and a SIGKILL of the operator: tests/faults/burst_restart_sigkill.sh

# ---- p. the log, and the operator is alive ---------------------------------------------------------------

t_check "the operator is still running" kill -0 "$pid"
leaks() {
	local bad=0
	grep -n 'Bearer' "$log" | head -3 && bad=1
	grep -n 'BEGIN' "$log" | head -3 && bad=1
	grep -qF -- "$token" "$log" && { echo "the token is in the log"; bad=1; }
	grep -qF -- "${token%%.*}" "$log" && { echo "the token's header is in the log"; bad=1; }
	grep -qF -- "${cadata:0:40}" "$log" && { echo "the CA data is in the log"; bad=1; }
	return $bad
}
t_check "p. the operator's log holds no 'Bearer', no token, no 'BEGIN'" leaks
# A write refused because its namespace is being deleted says nothing about config/rbac (the apiserver's
# message, and the controller's retry line for it); any other Forbidden does. (No apiserver restart here: the restart's cold-cache window is tests/faults/burst_restart_sigkill.sh's.)
never_forbidden() {
	local bad
	bad=$(grep -i forbidden "$log" | grep -v -e 'because it is being terminated' -e 'Forbidden (namespace terminating)' | head -3)
	[ -z "$bad" ] || { echo "$bad"; return 1; }
}
t_check "the operator was never Forbidden (config/rbac grants what it uses)" never_forbidden

# ---- cleanup, checked: namespaces go while the operator runs (it releases executor finalizers) -------------

for n in "${namespaces[@]}"; do kubectl delete namespace "$n" --wait=false >/dev/null; done
namespaces_gone() {
	local n
	for n in "${namespaces[@]}"; do absent namespace "$n" || return 1; done
}
t_check "the test namespaces are deleted (executor finalizers released)" retry 120 poll namespaces_gone
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=""
for n in "${our_rcs[@]}"; do kubectl delete runtimeclass "$n" >/dev/null; done
rcs_gone() {
	local n
	for n in "${our_rcs[@]}" "$owned"; do absent runtimeclass "$n" || return 1; done
}
t_check "the RuntimeClasses this suite created are gone" rcs_gone
our_rcs=()
rbac_gone() {
	kubectl delete -k "$overlay" --ignore-not-found --timeout=60s >/dev/null || return 1
	all_absent "$vns" clusterrole/"$vns-manager-role" clusterrolebinding/"$vns-manager-rolebinding" serviceaccount/"$sa" &&
		kubectl delete namespace "$vns" --wait=false >/dev/null
}
t_check "the RBAC variant is deleted (ClusterRole, ClusterRoleBinding, ServiceAccount, namespace)" rbac_gone
echo "# reconcile.sh: $((SECONDS - suite_start)) s"
exit 0
