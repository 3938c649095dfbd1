#!/usr/bin/env bash
# Smoke test of the real test node (tests/cluster/node-up.sh): if this suite fails, every other e2e result
# is suspect. A pod built from a local image (no registry, no Docker) runs on the real kubelet + containerd,
# passes its readiness probe, answers through a Service ClusterIP (kube-proxy) from the host and through the
# apiserver's service proxy, has its logs readable with kubectl logs (apiserver -> kubelet), and reaches the
# apiserver through the "kubernetes" Service with its own service-account token (in-cluster configuration).
# Pods that do not ask for the real node stay on the kwok nodes.
#
# Run by tests/run.sh (e2e) against a cluster started with REAL_NODE=1; by hand:
#   REAL_NODE=1 tests/cluster/up.sh
#   KUBECONFIG=$PWD/.cluster/kubeconfig PATH=$PWD/.tools/bin:$PATH REPO=$PWD bash tests/e2e/node_smoke.sh
# shellcheck disable=SC2317 # the check helpers run indirectly, through t_check and retry
set -euo pipefail

REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$REPO/tests/lib.sh"
export CLUSTER_DIR=${CLUSTER_DIR:-$REPO/.cluster}
. "$REPO/tests/cluster/lib.sh"
. "$REPO/tests/cluster/node-lib.sh"
. "$CLUSTER_DIR/env"

NODE=${REAL_NODE_NAME:-spin-real-node}
ns=""
tmp=$(mktemp -d)

cleanup() {
	if [ -n "$ns" ]; then
		kubectl delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- helpers (each returns the status of its check; used through t_check) ----------------------------

# build_image: the smoke responder (tests/node/smoke-http.c, static) and kubectl (static Go) in one
# image, imported into the node as localhost/spin-node-smoke:latest.
build_image() {
	"${NODE_STATIC_CC[@]}" -o "$tmp/smoke-http" "$REPO/tests/node/smoke-http.c" &&
		"$REPO/tests/node/image.sh" "$tmp/smoke.tar" /smoke-http "$tmp/smoke-http:/smoke-http" \
			"$(readlink -f "$(command -v kubectl)"):/kubectl" &&
		"$REPO/tests/cluster/node-import.sh" "$tmp/smoke.tar" spin-node-smoke | tee "$tmp/refs" &&
		grep -qx 'localhost/spin-node-smoke:latest' "$tmp/refs"
}

node_ready() {
	local s
	s=$(kubectl get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}') || return 1
	[ "$s" = True ] || { echo "Ready=$s"; return 1; }
}

# pod_manifest <name> <restartPolicy> <command JSON array> [<probe port>]: a pod pinned to the real node,
# with an HTTP readiness probe when a port is given.
pod_manifest() {
	local probe=""
	[ -z "${4:-}" ] || probe='"readinessProbe": {"httpGet": {"path": "/", "port": '$4'}, "periodSeconds": 1},'
	cat <<-EOF
		{"apiVersion": "v1", "kind": "Pod",
		 "metadata": {"name": "$1", "labels": {"app": "$1"}},
		 "spec": {
		   "nodeSelector": {"spin-test/real-node": "true"},
		   "tolerations": [{"key": "spin-test/real-node", "operator": "Exists", "effect": "NoSchedule"}],
		   "restartPolicy": "$2", "terminationGracePeriodSeconds": 1,
		   "containers": [{"name": "main", "image": "localhost/spin-node-smoke:latest", "imagePullPolicy": "Never",
		     "command": $3, "env": [{"name": "HOME", "value": "/tmp"}],
		     $probe
		     "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]}],
		   "volumes": [{"name": "tmp", "emptyDir": {}}]}}
	EOF
}

create_web() {
	pod_manifest web Always '["/smoke-http", "8080"]' 8080 | kubectl -n "$ns" apply -f - &&
		kubectl -n "$ns" expose pod web --port 80 --target-port 8080 --name web
}

web_ready() {
	kubectl -n "$ns" wait --for=condition=Ready pod/web --timeout=90s ||
		{ kubectl -n "$ns" describe pod web | tail -20; return 1; }
	local node ip
	node=$(kubectl -n "$ns" get pod web -o jsonpath='{.spec.nodeName}')
	ip=$(kubectl -n "$ns" get pod web -o jsonpath='{.status.podIP}')
	[ "$node" = "$NODE" ] || { echo "pod on node '$node', want $NODE"; return 1; }
	[[ $ip == 10.88.* ]] || { echo "pod IP '$ip' is not from the node's bridge range 10.88.0.0/16"; return 1; }
}

# The egress answers unknown addresses with an empty 404: check status AND body.
answer_is_web() {
	local out
	out=$(curl -s --noproxy '*' --max-time 5 -w '\n%{http_code}' "http://$1/") || { echo "curl: exit $?"; return 1; }
	[ "$out" = $'spin-node-smoke web\n\n200' ] || { echo "got: $out"; return 1; }
}

# kube-proxy programs the Service a moment after the endpoint turns ready: retried for up to 30 s.
service_answers() {
	local ip
	ip=$(kubectl -n "$ns" get service web -o jsonpath='{.spec.clusterIP}')
	[[ $ip == 10.96.* ]] || { echo "ClusterIP '$ip'"; return 1; }
	retry 30 answer_is_web "$ip" >/dev/null || answer_is_web "$ip"
}

# The apiserver's own path to the pod network (its service proxy dials the endpoint's pod IP).
apiserver_reaches_pod() {
	local out
	out=$(kubectl get --raw "/api/v1/namespaces/$ns/services/web:80/proxy/") || return 1
	[ "$out" = "spin-node-smoke web" ] || { echo "got: $out"; return 1; }
}

web_logs() {
	local out
	out=$(kubectl -n "$ns" logs web) || return 1
	grep -q '^smoke-http: listening on 8080$' <<<"$out" && grep -q '^smoke-http: served [0-9]' <<<"$out" ||
		{ echo "logs: $out"; return 1; }
}

# kubectl inside a pod, with no kubeconfig, uses the in-cluster configuration: the projected token and CA,
# and KUBERNETES_SERVICE_HOST (the kubernetes Service's ClusterIP, forwarded by kube-proxy). whoami shows
# the apiserver authenticated the pod's own service account.
whoami_pod() {
	pod_manifest whoami Never '["/kubectl", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]' |
		kubectl -n "$ns" apply -f - || return 1
	retry 90 sh -c "[ \"\$(kubectl -n '$ns' get pod whoami -o jsonpath='{.status.phase}')\" = Succeeded ] ||
		[ \"\$(kubectl -n '$ns' get pod whoami -o jsonpath='{.status.phase}')\" = Failed ]" || true
	local phase out
	phase=$(kubectl -n "$ns" get pod whoami -o jsonpath='{.status.phase}')
	out=$(kubectl -n "$ns" logs whoami 2>&1) || true
	[ "$phase" = Succeeded ] && [ "$out" = "system:serviceaccount:$ns:default" ] ||
		{ echo "phase $phase, output: $out"; return 1; }
}

kubernetes_env() {
	local host
	host=$(kubectl get service kubernetes -o jsonpath='{.spec.clusterIP}')
	[ "$host" = 10.96.0.1 ] || { echo "kubernetes Service at $host"; return 1; }
}

# A pod that does not ask for the real node lands on a kwok node (the taint keeps it off).
untargeted_pod_on_kwok() {
	kubectl -n "$ns" run plain --image=localhost/spin-node-smoke:latest --restart=Never >/dev/null || return 1
	retry 30 sh -c "[ -n \"\$(kubectl -n '$ns' get pod plain -o jsonpath='{.spec.nodeName}')\" ]" || return 1
	local node
	node=$(kubectl -n "$ns" get pod plain -o jsonpath='{.spec.nodeName}')
	[ "$node" != "$NODE" ] && [ -n "$node" ] || { echo "scheduled on '$node'"; return 1; }
}

# --- checks ------------------------------------------------------------------------------------------

t_check "node $NODE is Ready" node_ready
ns=$(t_ns node-smoke)
retry 30 kubectl -n "$ns" get serviceaccount default >/dev/null 2>&1 || true
t_check "local image built with umoci and imported into the node" build_image
t_check "pod and Service created" create_web
t_check "pod Ready on the real node with a bridge IP (readiness probe by the kubelet)" web_ready
t_check "Service ClusterIP answers from the host through kube-proxy (status and body)" service_answers
t_check "the apiserver reaches the pod through its service proxy" apiserver_reaches_pod
t_check "kubectl logs reads the pod's output through the kubelet" web_logs
t_check "the kubernetes Service has the first service IP" kubernetes_env
t_check "a pod reaches the apiserver through the kubernetes Service with its service-account token" whoami_pod
t_check "a pod without the toleration is scheduled on a kwok node" untargeted_pod_on_kwok
t_check "namespace deleted (pods on the real node terminate)" \
	kubectl delete namespace "$ns" --timeout=60s
ns=""
exit "$t_failed"
