#!/usr/bin/env bash
# The operator as users run it (issue 12 §3): its image on the real test node, installed with Helm from an OCI
# registry with nothing but chart values, called by the API server through its webhook Service.
#
#   1. `make image`'s tar imported into the node; the chart packaged, pushed to a local registry and installed
#      from oci:// (self-managed certificates, CRDs, RuntimeClass and a shim executor from the chart), the
#      operator pinned to the real node, in a namespace that enforces the restricted Pod Security Standard;
#   2. the pod is Ready once its caches are synced and its certificate loaded; it runs as 65532 on a
#      read-only root filesystem and uses its in-cluster configuration and the chart's RBAC;
#   3. the API server calls the webhooks through the Service: an invalid SpinApp is refused with upstream's
#      message, one without an executor is defaulted; with verifyImages values a cosign-signed image is
#      admitted and pinned, an unsigned one refused, and the operator's own image verifies with
#      `spin-operator verify`;
#   4. a SpinApp reconciles to Available (its pods on kwok nodes); `kubectl logs` of the operator works;
#   5. `helm upgrade` to a second image tag rolls the operator; with two replicas, deleting the leader's pod while
#      a client creates and updates SpinApps loses nothing, the PodDisruptionBudget keeps one replica, and a
#      rollout fails no admission call (issue 13); `helm uninstall` removes it (CRDs kept);
#   6. upstream v0.6.1's own values file (its args: --leader-elect --enable-webhooks --metrics-bind-address)
#      installs and serves too.
#
# Run by tests/run.sh (e2e) against a cluster with a real node (REAL_NODE=1 tests/cluster/up.sh).
# shellcheck disable=SC2317 # check helpers run through t_check and retry
set -uo pipefail

REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$REPO/tests/lib.sh"
export CLUSTER_DIR=${CLUSTER_DIR:-$REPO/.cluster}
. "$REPO/tests/cluster/lib.sh"
. "$REPO/tests/cluster/node-lib.sh"

NODE=${REAL_NODE_NAME:-spin-real-node}
OPNS=spin-operator
REL=spin-operator
VERSION=$(tr -d ' \n' <"$REPO/VERSION")
TAG=v$VERSION
TAG2=$TAG-e2e-next
IMAGE=localhost/spin-operator-c
APP_IMAGE=ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0
work=$(mktemp -d)
appns="" chart_reg=$work/chart-registry img_reg=$work/image-registry

helm() { "$REPO/.tools/bin/helm" --kubeconfig "$KUBECONFIG" "$@"; }

cleanup() {
	helm uninstall "$REL" -n "$OPNS" --wait --timeout 60s >/dev/null 2>&1
	kubectl delete namespace "$OPNS" ${appns:+"$appns"} --wait=false --ignore-not-found >/dev/null 2>&1
	REGISTRY_DIR=$chart_reg "$REPO/tests/registry/down.sh" >/dev/null 2>&1
	REGISTRY_DIR=$img_reg "$REPO/tests/registry/down.sh" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

# ---- helpers ------------------------------------------------------------------------------------------------

op_pod() { kubectl -n "$OPNS" get pods -l control-plane=controller-manager -o jsonpath='{.items[0].metadata.name}'; }
op_ready() { ops_ready 1; }
# ops_ready <n>: n replicas, all updated and ready, and no other pod of the release left (a terminating one still
# answers reviews with its old flags for a few seconds)
ops_ready() {
	local st pods
	st=$(kubectl -n "$OPNS" get deploy "$REL-controller-manager" \
		-o jsonpath='{.status.updatedReplicas}/{.status.readyReplicas}/{.status.replicas}') || return 1
	[ "$st" = "$1/$1/$1" ] || { echo "updated/ready/replicas $st"; return 1; }
	pods=$(kubectl -n "$OPNS" get pods -l control-plane=controller-manager -o name) || return 1
	[ "$(wc -l <<<"$pods")" = "$1" ] || { echo "pods: $pods"; return 1; }
}
# The operator's process on this host (the real node runs it here): its pid by the pod's container.
op_pid() {
	local cid
	cid=$(kubectl -n "$OPNS" get pod "$(op_pod)" -o jsonpath='{.status.containerStatuses[0].containerID}') || return 1
	cid=${cid#containerd://}
	ctr_node tasks ls 2>/dev/null | awk -v c="$cid" '$1 == c {print $2}'
}

install_values() { # install_values <file>: the values every install here uses (image, node, executor)
	cat >"$1" <<-EOF
		controllerManager:
		  manager:
		    image:
		      repository: $IMAGE
		      tag: ${2:-$TAG}
		    imagePullPolicy: Never
		  nodeSelector:
		    spin-test/real-node: "true"
		  tolerations:
		  - key: spin-test/real-node
		    operator: Exists
		    effect: NoSchedule
		  terminationGracePeriodSeconds: 10
		runtimeClass:
		  create: true
		shimExecutor:
		  create: true
		  namespaces: [$appns]
	EOF
}

apply_app() { # apply_app <name> <spec JSON>: kubectl apply's output (and status)
	printf '{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":"%s","namespace":"%s"},"spec":%s}' \
		"$1" "$appns" "$2" | kubectl apply -f - 2>&1
}

# ---- 1. image, chart, install ---------------------------------------------------------------------------------

t_check "make image builds the operator's image" make -C "$REPO" --no-print-directory image
tar=$REPO/build/image/spin-operator-c.tar
import_images() {
	local refs
	refs=$("$REPO/tests/cluster/node-import.sh" "$tar" spin-operator-c) || return 1
	grep -qx "$IMAGE:$TAG" <<<"$refs" || { echo "imported: $refs"; return 1; }
	# A second tag of the same image, for the upgrade below.
	ctr_node images tag --force "$IMAGE:$TAG" "$IMAGE:$TAG2" >/dev/null
}
t_check "the image is imported into the real node as $IMAGE:$TAG (and $TAG2)" import_images

t_check "a local OCI registry for the chart" env REGISTRY_DIR="$chart_reg" "$REPO/tests/registry/up.sh"
. "$chart_reg/env"
chart_host=$REGISTRY_HOST chart_ca=$REGISTRY_CA
push_chart() {
	helm package "$REPO/charts/spin-operator" -d "$work" >/dev/null &&
		helm push "$work/spin-operator-$VERSION.tgz" "oci://$chart_host/charts" --ca-file "$chart_ca" 2>&1
}
t_check "helm package, then helm push to oci://$chart_host/charts" push_chart

appns=$(t_ns e2e-apps)
kubectl create namespace "$OPNS" >/dev/null 2>&1
kubectl label --overwrite namespace "$OPNS" pod-security.kubernetes.io/enforce=restricted >/dev/null
install_values "$work/values.yaml"
t_check "helm install from oci:// with the chart's values only" \
	helm install "$REL" "oci://$chart_host/charts/spin-operator" --version "$VERSION" --ca-file "$chart_ca" \
	-n "$OPNS" -f "$work/values.yaml" --wait --timeout 180s

# ---- 2. the pod -------------------------------------------------------------------------------------------------

t_check "the operator Deployment is available" retry 120 op_ready
on_real_node() { [ "$(kubectl -n "$OPNS" get pod "$(op_pod)" -o jsonpath='{.spec.nodeName}')" = "$NODE" ]; }
t_check "the operator pod runs on the real node $NODE" on_real_node
pod_log() { kubectl -n "$OPNS" logs "$(op_pod)" 2>&1; }
ready_after_sync() {
	local log
	log=$(pod_log) || return 1
	grep -q "caches synced" <<<"$log" || { echo "no 'caches synced' in the log"; return 1; }
	grep -qi "in-cluster" <<<"$log" || { echo "no in-cluster configuration in the log"; return 1; }
}
t_check "kubectl logs works; the operator read its in-cluster configuration and synced its caches" ready_after_sync
process_identity() {
	local pid
	pid=$(op_pid) && [ -n "$pid" ] || { echo "no task for the operator's container"; return 1; }
	grep -q '^Uid:[[:space:]]*65532' "/proc/$pid/status" || { grep '^Uid' "/proc/$pid/status"; return 1; }
	awk '$5 == "/" {print $6}' "/proc/$pid/mountinfo" | grep -q '^ro' ||
		{ echo "root is not read-only: $(awk '$5 == "/"' "/proc/$pid/mountinfo")"; return 1; }
}
t_check "the operator runs as 65532 on a read-only root filesystem" process_identity
restricted_enforced() {
	local out
	out=$(kubectl -n "$OPNS" run pss-probe --image="$IMAGE:$TAG" --restart=Never --dry-run=server \
		--overrides='{"spec":{"securityContext":{"runAsUser":0}}}' 2>&1) && { echo "admitted: $out"; return 1; }
	grep -q 'violates PodSecurity "restricted' <<<"$out" || { echo "$out"; return 1; }
}
t_check "the operator's namespace enforces the restricted Pod Security Standard" restricted_enforced

# ---- 3. the webhooks through the Service ------------------------------------------------------------------------

invalid_refused() {
	local out
	out=$(apply_app bad '{"image":"'"$APP_IMAGE"'","executor":"containerd-shim-spin","replicas":2,"enableAutoscaling":true}') &&
		{ echo "admitted: $out"; return 1; }
	# the webhook's Invalid Status, as kubectl renders it (the CRD's schema allows it: the text is upstream's
	# webhook's)
	# (with no executor in the namespace, as after the upstream-values install, a second error joins it)
	grep -qF 'The SpinApp "bad" is invalid: ' <<<"$out" &&
		grep -qF 'spec.replicas: Invalid value: 2: replicas cannot be set when autoscaling is enabled' <<<"$out" ||
		{ echo "$out"; return 1; }
}
t_check "the API server calls the validating webhook through its Service: upstream's message" retry 30 invalid_refused
defaulted() {
	apply_app plain '{"image":"'"$APP_IMAGE"'","replicas":1}' >/dev/null || return 1
	local e
	e=$(kubectl -n "$appns" get spinapp plain -o jsonpath='{.spec.executor}')
	[ "$e" = containerd-shim-spin ] || { echo "executor \"$e\""; return 1; }
}
t_check "a SpinApp without an executor is defaulted to the chart's containerd-shim-spin" defaulted

# ---- 4. reconcile, logs -----------------------------------------------------------------------------------------

available() {
	local s
	s=$(kubectl -n "$appns" get spinapp plain -o jsonpath='{.status.conditions[?(@.type=="Available")].status}')
	[ "$s" = True ] || { echo "Available=$s"; return 1; }
}
t_check "the SpinApp reconciles to Available (pods on kwok nodes)" retry 120 available
reconcile_logged() { # (the log read whole first: grep -q leaving early would fail the pipeline)
	local log
	log=$(pod_log) || return 1
	grep -q 'plain' <<<"$log" || { echo "no line names the app plain"; return 1; }
}
t_check "kubectl logs of the operator shows the reconcile" reconcile_logged

# ---- 3 (cont.). image signatures --------------------------------------------------------------------------------

# Pods reach this host at the node bridge's address; the registry serves there (its certificate names it).
bridge_ip=$(ip -4 -o addr show "$NODE_BRIDGE" 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
image_registry() {
	[ -n "$bridge_ip" ] || { echo "the node bridge $NODE_BRIDGE has no address (no pod ran?)"; return 1; }
	REGISTRY_DIR=$img_reg REGISTRY_ADDR=$bridge_ip "$REPO/tests/registry/up.sh"
}
t_check "a signed-image registry on the node bridge's address (${bridge_ip:-none})" image_registry
. "$img_reg/env"
t_check "cosign-signed and unsigned Spin artifacts in it (tests/verify/fixtures.sh)" \
	"$REPO/tests/verify/fixtures.sh" "$img_reg" "$work/fx"
. "$work/fx/fixtures.env"
verify_values() {
	install_values "$1"
	cat >>"$1" <<-EOF
		verifyImages:
		  enabled: true
		  registryCA: |
		$(sed 's/^/    /' "$REGISTRY_CA")
		  policy:
		    rules:
		    - name: e2e
		      images: ["$REGISTRY_HOST/**"]
		      keys:
		      - name: trusted
		        publicKey: |
		$(sed 's/^/          /' "$FX_TRUSTED_PUB")
	EOF
}
verify_values "$work/verify.yaml"
t_check "helm upgrade with verifyImages values" \
	helm upgrade "$REL" "oci://$chart_host/charts/spin-operator" --version "$VERSION" --ca-file "$chart_ca" \
	-n "$OPNS" -f "$work/verify.yaml" --wait --timeout 180s
t_check "the operator is available again" retry 120 op_ready
signed_pinned() {
	apply_app signed '{"image":"'"$FX_SIGNED_BUNDLE"'","executor":"containerd-shim-spin","replicas":1}' || return 1
	local img
	img=$(kubectl -n "$appns" get spinapp signed -o jsonpath='{.spec.image}')
	[ "$img" = "$FX_SIGNED_BUNDLE@$FX_SIGNED_BUNDLE_DIGEST" ] || { echo "spec.image $img"; return 1; }
}
t_check "a signed image is admitted and pinned to its digest" retry 30 signed_pinned
unsigned_refused() {
	local out
	out=$(apply_app unsigned '{"image":"'"$FX_UNSIGNED"'","executor":"containerd-shim-spin","replicas":1}') &&
		{ echo "admitted: $out"; return 1; }
	grep -qF "image $FX_UNSIGNED ($FX_UNSIGNED_DIGEST) is not verified: no signatures found" <<<"$out" ||
		{ echo "$out"; return 1; }
}
t_check "an unsigned image is refused" unsigned_refused

# The operator's own image, pushed and signed, checked by our verifier from the command line.
own_image_verifies() {
	local ref=$REGISTRY_HOST/spinkube/spin-operator-c:$TAG policy=$work/own-policy.yaml out
	"$REPO/.tools/bin/oras" cp --from-oci-layout "$REPO/build/image/oci:$TAG" "$ref" >/dev/null 2>&1 ||
		{ echo "oras cp failed"; return 1; }
	COSIGN_PASSWORD=spin-operator-test "$REPO/.tools/bin/cosign" sign --key "$work/fx/keys/trusted.key" \
		--tlog-upload=false --use-signing-config=false -y "$ref" >/dev/null 2>&1 || { echo "cosign sign failed"; return 1; }
	printf 'rules:\n- name: own\n  images: ["%s/spinkube/**"]\n  keys:\n  - name: trusted\n    publicKeyFile: %s\n' \
		"$REGISTRY_HOST" "$FX_TRUSTED_PUB" >"$policy"
	out=$("$REPO/build/release/bin/spin-operator" verify --policy "$policy" --registry-ca-file "$REGISTRY_CA" "$ref" 2>&1) ||
		{ echo "$out"; return 1; }
	grep -q 'verified' <<<"$out" || { echo "$out"; return 1; }
}
t_check "the operator's image, pushed and cosign-signed, passes spin-operator verify" own_image_verifies

# ---- 5. upgrade to another tag, uninstall -----------------------------------------------------------------------

install_values "$work/next.yaml" "$TAG2"
t_check "helm upgrade to the image tag $TAG2" \
	helm upgrade "$REL" "oci://$chart_host/charts/spin-operator" --version "$VERSION" --ca-file "$chart_ca" \
	-n "$OPNS" -f "$work/next.yaml" --wait --timeout 180s
rolled() {
	op_ready || return 1
	local img
	img=$(kubectl -n "$OPNS" get pod "$(op_pod)" -o jsonpath='{.spec.containers[0].image}')
	[ "$img" = "$IMAGE:$TAG2" ] || { echo "pod image $img"; return 1; }
}
t_check "the operator rolled to $TAG2" retry 120 rolled
t_check "the webhooks still answer after the roll" retry 30 invalid_refused

# ---- two replicas: leader election, the disruption budget, a rollout with no failed review (issue 13) -------

leader_pod() { # the pod holding the Lease: its identity is <hostname = pod name>_<uuid>
	local id
	id=$(kubectl -n "$OPNS" get lease 90ba2d18.spinkube.dev -o jsonpath='{.spec.holderIdentity}') || return 1
	[ -n "$id" ] && echo "${id%_*}"
}
# apply_loop <prefix> <rounds> <file>: each round creates <prefix>-<i> and updates the app before it, through
# the webhooks; the number of refused calls goes to <file>, their messages to <file>.err.
apply_loop() {
	local i fails=0
	: >"$3.err"
	for ((i = 0; i < $2; i++)); do
		apply_app "$1-$i" '{"image":"'"$APP_IMAGE"'","executor":"containerd-shim-spin","replicas":1}' \
			>>"$3.err" 2>&1 || fails=$((fails + 1))
		if [ "$i" -gt 0 ]; then
			kubectl -n "$appns" patch spinapp "$1-$((i - 1))" --type merge -p '{"spec":{"replicas":2}}' \
				>>"$3.err" 2>&1 || fails=$((fails + 1))
		fi
		sleep 0.2
	done
	echo "$fails" >"$3"
}
all_available() { # all_available <prefix> <n>: every app <prefix>-0..n-1 exists and is Available
	local i s
	for ((i = 0; i < $2; i++)); do
		s=$(kubectl -n "$appns" get spinapp "$1-$i" -o jsonpath='{.status.conditions[?(@.type=="Available")].status}' 2>&1)
		[ "$s" = True ] || { echo "$1-$i: Available=$s"; return 1; }
	done
}

install_values "$work/ha.yaml" "$TAG2"
printf 'controllerManager:\n  replicas: 2\n' >"$work/ha-replicas.yaml"
t_check "helm upgrade to two replicas (the chart adds --leader-elect and a PodDisruptionBudget)" \
	helm upgrade "$REL" "oci://$chart_host/charts/spin-operator" --version "$VERSION" --ca-file "$chart_ca" \
	-n "$OPNS" -f "$work/ha.yaml" -f "$work/ha-replicas.yaml" --wait --timeout 180s
t_check "two replicas ready" retry 120 ops_ready 2
t_check "one of them leads (the Lease names a pod of the release)" retry 30 leader_pod
first_leader=$(leader_pod)
apply_loop ha 20 "$work/ha-loop" &
loop_pid=$!
sleep 1
t_check "the leader pod $first_leader is deleted while a client creates and updates SpinApps" \
	kubectl -n "$OPNS" delete pod "$first_leader" --wait=false
wait "$loop_pid"
new_leader() {
	local l
	l=$(leader_pod) || return 1
	[ -n "$l" ] && [ "$l" != "$first_leader" ] || { echo "leader $l"; return 1; }
}
t_check "the other replica takes over" retry 60 new_leader
no_failures() { [ "$(cat "$1")" = 0 ] || { echo "$(cat "$1") refused: $(head -c 2000 "$1.err")"; return 1; }; }
t_check "no create or update was refused while the leader went" no_failures "$work/ha-loop"
t_check "every SpinApp created meanwhile converges to Available" retry 120 all_available ha 20
t_check "two replicas ready again" retry 120 ops_ready 2
evictions() {
	local pods p1 p2 ev
	read -r p1 p2 < <(kubectl -n "$OPNS" get pods -l control-plane=controller-manager -o jsonpath='{.items[*].metadata.name}')
	ev() { printf '{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"%s","namespace":"%s"}}' "$1" "$OPNS" |
		kubectl create --raw "/api/v1/namespaces/$OPNS/pods/$1/eviction" -f - 2>&1; }
	ev "$p1" >/dev/null || { echo "the first eviction was refused"; return 1; }
	local out
	out=$(ev "$p2") && { echo "the second eviction went through: $out"; return 1; }
	grep -q 'disruption budget' <<<"$out" || { echo "$out"; return 1; }
}
t_check "the PodDisruptionBudget keeps one replica: the first eviction goes, the second is refused" evictions
t_check "two replicas ready after the eviction" retry 120 ops_ready 2

install_values "$work/back.yaml" "$TAG"
apply_loop roll 25 "$work/roll-loop" &
loop_pid=$!
sleep 1
t_check "helm upgrade of both replicas to $TAG while a client creates and updates SpinApps" \
	helm upgrade "$REL" "oci://$chart_host/charts/spin-operator" --version "$VERSION" --ca-file "$chart_ca" \
	-n "$OPNS" -f "$work/back.yaml" -f "$work/ha-replicas.yaml" --wait --timeout 180s
wait "$loop_pid"
t_check "zero-downtime rollout: no admission call failed" no_failures "$work/roll-loop"
t_check "every SpinApp created during the rollout converges" retry 120 all_available roll 25

# As docs/install.md says: the executors' finalizer goes only while an operator runs, so apps and the chart's
# executors are deleted first (the operator releases them), then the release.
delete_apps_and_executors() {
	kubectl -n "$appns" delete spinapp --all --wait=true --timeout=60s &&
		kubectl delete spinappexecutor -A -l "core.spinkube.dev/chart-executor=$REL" --wait=true --timeout=60s
}
t_check "the SpinApps, then the chart's executors, are deleted while the operator runs" delete_apps_and_executors
t_check "helm uninstall" helm uninstall "$REL" -n "$OPNS" --wait --timeout 120s
left_behind() {
	local out
	out=$(kubectl get all,secrets,configmaps,serviceaccounts,roles,rolebindings,poddisruptionbudgets -n "$OPNS" \
		-l app.kubernetes.io/instance="$REL" -o name 2>&1)
	out+=$(kubectl get clusterroles,clusterrolebindings,mutatingwebhookconfigurations,validatingwebhookconfigurations,runtimeclasses \
		-l app.kubernetes.io/instance="$REL" -o name 2>&1)
	out+=$(kubectl get spinappexecutors -A -l app.kubernetes.io/instance="$REL" -o name 2>&1)
	[ -z "$out" ] || { echo "left: $out"; return 1; }
	kubectl get crd spinapps.core.spinkube.dev spinappexecutors.core.spinkube.dev >/dev/null ||
		{ echo "the CRDs were not kept"; return 1; }
}
t_check "nothing of the release is left but the kept CRDs" retry 30 left_behind

# ---- 6. upstream's own values file ------------------------------------------------------------------------------

upstream_install() {
	helm install "$REL" "oci://$chart_host/charts/spin-operator" --version "$VERSION" --ca-file "$chart_ca" \
		-n "$OPNS" -f "$REPO/tests/chart/upstream-v0.6.1-values.yaml" \
		--set controllerManager.manager.image.repository="$IMAGE" \
		--set controllerManager.manager.image.tag="$TAG" \
		--set controllerManager.manager.imagePullPolicy=Never \
		--set-string 'controllerManager.nodeSelector.spin-test/real-node=true' \
		--set 'controllerManager.tolerations[0].key=spin-test/real-node' \
		--set 'controllerManager.tolerations[0].operator=Exists' --wait --timeout 180s
}
t_check "helm install with upstream v0.6.1's values file (its args) comes up" upstream_install
t_check "…and serves: the webhook answers through its Service" retry 60 invalid_refused
t_check "helm uninstall of that release" helm uninstall "$REL" -n "$OPNS" --wait --timeout 120s
t_check "nothing of that release is left but the kept CRDs" retry 30 left_behind

exit 0
