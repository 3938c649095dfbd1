#!/usr/bin/env bash
# make demo: a local control plane, the CRDs, the daemon (with its admission webhook registered, in the
# self-managed certificate mode) and a sample SpinApp, then what the daemon sees and one refused manifest.
# Image signatures (docs/verify-images.md): a local TLS OCI registry (tests/registry/up.sh, in .demo/registry)
# holding cosign-signed and unsigned Spin artifacts (tests/verify/fixtures.sh, in .demo/fixtures), and a
# --verify-policy with one enforce rule for that registry's images only; then a SpinApp with the signed image
# is admitted and pinned to its digest, and one with the unsigned image is refused.
# make demo-down (scripts/demo.sh down) unregisters the webhook and stops the daemon, the registry and the
# control plane.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
export CLUSTER_DIR="$repo/.cluster"
export KUBECONFIG="$CLUSTER_DIR/kubeconfig"
export PATH="$repo/.tools/bin:$PATH"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
state="$repo/.demo"
mkdir -p "$state"
export REGISTRY_DIR="$state/registry"
fixtures="$state/fixtures"
policy="$state/verify-policy.yaml"

stop_daemon() {
	if [ -f "$state/operator.pid" ]; then
		local pid
		pid=$(cat "$state/operator.pid")
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
		rm -f "$state/operator.pid"
	fi
}

if [ "${1:-}" = down ]; then
	[ -f "$KUBECONFIG" ] && "$repo/tests/webhook/register-local.sh" unregister >/dev/null 2>&1 || true
	stop_daemon
	"$repo/tests/registry/down.sh"
	"$repo/tests/cluster/down.sh"
	exit 0
fi

"$repo/tests/cluster/up.sh"
kubectl apply -f "$repo/crds/core.spinkube.dev_spinapps.yaml" -f "$repo/crds/core.spinkube.dev_spinappexecutors.yaml" >/dev/null
kubectl wait --for condition=Established --timeout=60s crd/spinapps.core.spinkube.dev \
	crd/spinappexecutors.core.spinkube.dev >/dev/null

# The registry and its artifacts. A registry of .demo/registry that is alive is kept (up.sh), and so are the
# fixtures made for it; otherwise fixtures.sh pushes them again with oras, signs them with cosign (offline, the
# demo key in .demo/fixtures/keys) and checks each with `cosign verify` (about 10 s).
"$repo/tests/registry/up.sh" 2>"$state/registry-up.log" || { cat "$state/registry-up.log" >&2; exit 1; }
# envvar <file> <name>: one variable of a file of shell assignments (the registry's env, fixtures.env).
# shellcheck source=/dev/null
envvar() { (. "$1" && printf '%s' "${!2}"); }
reg_host=$(envvar "$REGISTRY_DIR/env" REGISTRY_HOST)
reg_ca=$(envvar "$REGISTRY_DIR/env" REGISTRY_CA)
fixtures_current() {
	[ -f "$fixtures/fixtures.env" ] || return 1
	local fx_reg digest
	fx_reg=$(envvar "$fixtures/fixtures.env" FX_REGISTRY)
	digest=$(envvar "$fixtures/fixtures.env" FX_SIGNED_BUNDLE_DIGEST)
	[ "$fx_reg" = "$reg_host" ] && curl -sf -o /dev/null --max-time 5 --cacert "$reg_ca" \
		-H "Accept: application/vnd.oci.image.manifest.v1+json" "https://$reg_host/v2/spin/signed-bundle/manifests/$digest"
}
if ! fixtures_current; then
	echo "demo: pushing Spin artifacts to the registry at $reg_host and signing them with cosign"
	"$repo/tests/verify/fixtures.sh" "$REGISTRY_DIR" "$fixtures" public >"$fixtures.log" 2>&1 ||
		{ tail -20 "$fixtures.log" >&2; exit 1; }
fi
signed=$(envvar "$fixtures/fixtures.env" FX_SIGNED_BUNDLE)
unsigned=$(envvar "$fixtures/fixtures.env" FX_UNSIGNED)
# One enforce rule, for this registry's images only: the sample app's ghcr.io image matches no rule and is
# admitted without verification.
cat >"$policy.tmp" <<POLICY
rules:
- name: demo-registry
  images: ["$reg_host/**"]
  mode: enforce
  keys:
  - name: demo
    publicKeyFile: $fixtures/keys/trusted.pub
POLICY
mv -f "$policy.tmp" "$policy"
echo "demo: registry https://$reg_host with $signed (cosign-signed) and $unsigned (not signed)"

stop_daemon
# The admission webhook in the local variant of the self-managed mode (docs/webhook.md): the daemon makes a CA
# and a serving certificate for IP 127.0.0.1, keeps them in Secret default/spin-operator-webhook-server-cert,
# and sets the caBundle of the two configurations, which call https://127.0.0.1:<its port>.
"$repo/bin/spin-operator" --kubeconfig "$KUBECONFIG" --webhook-bind-address 127.0.0.1:0 \
	--webhook-cert-mode self-managed --webhook-namespace default --webhook-cert-extra-sans 127.0.0.1 \
	--webhook-cert-dir "$state/webhook-certs" \
	--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 \
	--verify-policy "$policy" --registry-ca-file "$reg_ca" >"$state/operator.log" 2>&1 &
echo $! >"$state/operator.pid"
for _ in $(seq 100); do grep -q "caches synced" "$state/operator.log" && break; sleep 0.1; done
port=$(sed -n 's/.*admission webhook listening on .* (port \([0-9]*\).*/\1/p' "$state/operator.log" | tail -1)
[ -n "$port" ] || { echo "demo: the admission webhook did not start (see $state/operator.log)" >&2; exit 1; }
"$repo/tests/webhook/register-local.sh" register "$port" - >/dev/null
echo "demo: admission webhook registered at https://127.0.0.1:$port; waiting for the daemon to set its caBundle"
# On a second run the configurations usually carry the right caBundle already (the CA lives in the Secret, which
# outlives the daemon), and the daemon has nothing to set or log.
ca_bundle_current() {
	local ca c bundles
	ca=$(kubectl get secret spin-operator-webhook-server-cert -o jsonpath='{.data.ca\.crt}' 2>/dev/null) || return 1
	[ -n "$ca" ] || return 1
	for c in mutating validating; do
		bundles=$(kubectl get "${c}webhookconfiguration" "spin-operator-$c-webhook-configuration" \
			-o jsonpath='{range .webhooks[*]}{.clientConfig.caBundle}{"\n"}{end}' 2>/dev/null) || return 1
		[ -n "$bundles" ] && ! grep -qvxF -e "$ca" <<<"$bundles" || return 1
	done
}
for _ in $(seq 100); do
	grep -q "caBundle set in ValidatingWebhookConfiguration" "$state/operator.log" && break
	ca_bundle_current && break
	sleep 0.1
done

kubectl apply -f "$repo/config/samples/spin-runtime-class.yaml" -f "$repo/config/samples/spin-shim-executor.yaml" \
	-f "$repo/config/samples/simple.yaml" >/dev/null
echo "demo: waiting for spinapp/simple-spinapp to become Available"
kubectl wait --for=condition=Available spinapp/simple-spinapp --timeout=120s

echo
echo "== kubectl get spinappexecutors,spinapps -o wide"
kubectl get spinappexecutors,spinapps -o wide
echo
echo "== what the operator made: kubectl get deployments,services,secrets,pods -l core.spinkube.dev/app-name=simple-spinapp"
kubectl get deployments,services,secrets,pods -l core.spinkube.dev/app-name=simple-spinapp
echo
echo "== status"
kubectl get spinapp simple-spinapp -o jsonpath='{.status}' | jq .
echo
echo "== the webhook refuses an invalid manifest: kubectl apply of a SpinApp with replicas: 0"
invalid='{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":"invalid-spinapp"},"spec":{"image":"ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0","executor":"containerd-shim-spin","replicas":0}}'
if kubectl apply -f - <<<"$invalid" >"$state/refused.out" 2>&1; then
	echo "  (unexpectedly admitted)"
	kubectl delete spinapp invalid-spinapp --wait=false >/dev/null 2>&1 || true
else
	sed 's/^/  /' "$state/refused.out"
fi

# apply_app <name> <image>: kubectl apply of a SpinApp, from scratch (so that a second run shows the same).
apply_app() {
	kubectl delete spinapp "$1" --ignore-not-found --wait=true >/dev/null 2>&1 || true
	printf '{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":"%s"},"spec":{"image":"%s","executor":"containerd-shim-spin","replicas":1}}' \
		"$1" "$2" | kubectl apply -f - >"$state/apply.out" 2>&1
}
echo
echo "== image signatures: policy $policy"
echo "   (rule demo-registry: enforce, images $reg_host/**, key $fixtures/keys/trusted.pub)"
echo "-- kubectl apply of a SpinApp with the signed image $signed"
if apply_app signed-spinapp "$signed"; then
	sed 's/^/  /' "$state/apply.out"
	echo "  spec.image is now $(kubectl get spinapp signed-spinapp -o jsonpath='{.spec.image}')"
else
	sed 's/^/  (unexpectedly refused) /' "$state/apply.out"
fi
echo "-- kubectl apply of a SpinApp with the unsigned image $unsigned"
if apply_app unsigned-spinapp "$unsigned"; then
	echo "  (unexpectedly admitted)"
	kubectl delete spinapp unsigned-spinapp --wait=false >/dev/null 2>&1 || true
else
	sed 's/^/  /' "$state/apply.out"
fi
echo
echo "== operator log ($state/operator.log)"
grep -E "API server version|caches synced|applied|created|webhook-certs|verify: image=" "$state/operator.log" |
	sed 's/^/  /'
cat <<TXT

The control plane and the daemon keep running. Try:
  export KUBECONFIG=$KUBECONFIG PATH=$repo/.tools/bin:\$PATH
  kubectl apply -f config/samples/annotations.yaml     # and watch $state/operator.log
  kubectl get validatingwebhookconfiguration spin-operator-validating-webhook-configuration -o yaml
  cat $fixtures/fixtures.env   # more images to try: signed-classic, other-key, wrong-digest, ...
  make demo-down                                      # stop everything
TXT
