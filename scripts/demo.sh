#!/usr/bin/env bash
# make demo: a local control plane, the CRDs, the daemon and a sample SpinApp, then what the daemon sees.
# make demo-down (scripts/demo.sh down) stops the daemon and the control plane.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
export CLUSTER_DIR="$repo/.cluster"
export KUBECONFIG="$CLUSTER_DIR/kubeconfig"
export PATH="$repo/.tools/bin:$PATH"
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
	stop_daemon
	"$repo/tests/cluster/down.sh"
	exit 0
fi

"$repo/tests/cluster/up.sh"
kubectl apply -f "$repo/crds/core.spinkube.dev_spinapps.yaml" -f "$repo/crds/core.spinkube.dev_spinappexecutors.yaml" >/dev/null
kubectl wait --for condition=Established --timeout=60s crd/spinapps.core.spinkube.dev \
	crd/spinappexecutors.core.spinkube.dev >/dev/null

stop_daemon
# The admission webhook is not registered by the demo yet (docs/webhook.md shows the local mode).
"$repo/bin/spin-operator" --kubeconfig "$KUBECONFIG" --webhook-bind-address 0 \
	--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 >"$state/operator.log" 2>&1 &
echo $! >"$state/operator.pid"
for _ in $(seq 100); do grep -q "caches synced" "$state/operator.log" && break; sleep 0.1; done

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
echo "== operator log ($state/operator.log)"
grep -E "API server version|caches synced|applied|created" "$state/operator.log" | sed 's/^/  /'
cat <<TXT

The control plane and the daemon keep running. Try:
  export KUBECONFIG=$KUBECONFIG PATH=$repo/.tools/bin:\$PATH
  kubectl apply -f config/samples/annotations.yaml     # and watch $state/operator.log
  make demo-down                                      # stop everything
TXT
