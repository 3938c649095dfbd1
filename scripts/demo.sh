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
"$repo/bin/spin-operator" --kubeconfig "$KUBECONFIG" >"$state/operator.log" 2>&1 &
echo $! >"$state/operator.pid"
for _ in $(seq 100); do grep -q "caches synced" "$state/operator.log" && break; sleep 0.1; done

kubectl apply -f "$repo/config/samples/spin-shim-executor.yaml" -f "$repo/config/samples/simple.yaml" >/dev/null
sleep 1

echo
echo "== kubectl get spinappexecutors,spinapps -A"
kubectl get spinappexecutors,spinapps -A
echo
echo "== what spin-operator sees ($state/operator.log)"
grep -E "API server|caches synced|SpinApp(Executor)? (added|updated|deleted)" "$state/operator.log" | sed 's/^/  /'
cat <<TXT

The control plane and the daemon keep running. Try:
  export KUBECONFIG=$KUBECONFIG PATH=$repo/.tools/bin:\$PATH
  kubectl apply -f config/samples/annotations.yaml     # and watch $state/operator.log
  make demo-down                                      # stop everything
TXT
