#!/usr/bin/env bash
# make demo: a local control plane, the CRDs, the daemon (with its admission webhook registered, in the
# self-managed certificate mode) and a sample SpinApp, then what the daemon sees and one refused manifest.
# make demo-down (scripts/demo.sh down) unregisters the webhook and stops the daemon and the control plane.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
export CLUSTER_DIR="$repo/.cluster"
export KUBECONFIG="$CLUSTER_DIR/kubeconfig"
export PATH="$repo/.tools/bin:$PATH"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
state="$repo/.demo"
mkdir -p "$state"

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
	"$repo/tests/cluster/down.sh"
	exit 0
fi

"$repo/tests/cluster/up.sh"
kubectl apply -f "$repo/crds/core.spinkube.dev_spinapps.yaml" -f "$repo/crds/core.spinkube.dev_spinappexecutors.yaml" >/dev/null
kubectl wait --for condition=Established --timeout=60s crd/spinapps.core.spinkube.dev \
	crd/spinappexecutors.core.spinkube.dev >/dev/null

stop_daemon
# The admission webhook in the local variant of the self-managed mode (docs/webhook.md): the daemon makes a CA
# and a serving certificate for IP 127.0.0.1, keeps them in Secret default/spin-operator-webhook-server-cert,
# and sets the caBundle of the two configurations, which call https://127.0.0.1:<its port>.
"$repo/bin/spin-operator" --kubeconfig "$KUBECONFIG" --webhook-bind-address 127.0.0.1:0 \
	--webhook-cert-mode self-managed --webhook-namespace default --webhook-cert-extra-sans 127.0.0.1 \
	--webhook-cert-dir "$state/webhook-certs" \
	--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 >"$state/operator.log" 2>&1 &
echo $! >"$state/operator.pid"
for _ in $(seq 100); do grep -q "caches synced" "$state/operator.log" && break; sleep 0.1; done
port=$(sed -n 's/.*admission webhook listening on .* (port \([0-9]*\).*/\1/p' "$state/operator.log" | tail -1)
[ -n "$port" ] || { echo "demo: the admission webhook did not start (see $state/operator.log)" >&2; exit 1; }
"$repo/tests/webhook/register-local.sh" register "$port" - >/dev/null
echo "demo: admission webhook registered at https://127.0.0.1:$port; waiting for the daemon to set its caBundle"
for _ in $(seq 100); do grep -q "caBundle set in ValidatingWebhookConfiguration" "$state/operator.log" && break; sleep 0.1; done

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
echo
echo "== operator log ($state/operator.log)"
grep -E "API server version|caches synced|applied|created|webhook-certs" "$state/operator.log" | sed 's/^/  /'
cat <<TXT

The control plane and the daemon keep running. Try:
  export KUBECONFIG=$KUBECONFIG PATH=$repo/.tools/bin:\$PATH
  kubectl apply -f config/samples/annotations.yaml     # and watch $state/operator.log
  kubectl get validatingwebhookconfiguration spin-operator-validating-webhook-configuration -o yaml
  make demo-down                                      # stop everything
TXT
