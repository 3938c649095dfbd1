#!/usr/bin/env bash
# spin-operator render against the real kube-apiserver: what it prints for the samples passes server-side
# validation (dry-run) and, applied for real in a throw-away namespace, creates the objects it names; the
# runtime-config sample resolves a Secret given in the input; bad input exits 1 with one line on stderr and
# nothing on stdout; render never needs a cluster.
#
# Run by tests/run.sh with KUBECONFIG, PATH (.tools/bin), REPO and OPERATOR set; by hand:
#   KUBECONFIG=/tmp/c/kubeconfig PATH=$PWD/.tools/bin:$PATH REPO=$PWD OPERATOR=$PWD/build/release/bin/spin-operator \
#     bash tests/integration/render.sh
set -uo pipefail

REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
OPERATOR=${OPERATOR:-$REPO/build/release/bin/spin-operator}
. "$REPO/tests/lib.sh"

S=$REPO/config/samples
work=$(mktemp -d)
ns=$(t_ns render) || { echo "cannot create a namespace"; rm -rf "$work"; exit 1; }
cleanup() {
	kubectl delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

# render <name> args...: runs render, keeping stdout in $work/<name>.out, stderr in .err, status in $status.
render() {
	local name=$1
	shift
	"$OPERATOR" render "$@" >"$work/$name.out" 2>"$work/$name.err"
	status=$?
}

# kinds <file>: "Kind/name" of every rendered document, one per line.
kinds() {
	awk '/^kind:/ { k = $2 } /^  name:/ && k != "" { print k "/" $2; k = "" }' "$1"
}

# --- flags --------------------------------------------------------------------------------------------------
help=$("$OPERATOR" render --help)
st=$?
missing=""
for flag in --filename --namespace --output --help; do
	grep -q -- "$flag" <<<"$help" || missing+=" $flag"
done
[ $st -eq 0 ] && [ -z "$missing" ] && t_ok "render --help exits 0 and documents its flags" ||
	t_fail "render --help: exit $st, missing:$missing"
grep -q "spin-operator render --help" <<<"$("$OPERATOR" --help)" && t_ok "the daemon's --help points to render" ||
	t_fail "the daemon's --help does not mention render"
render usage --no-such-flag
[ "$status" -eq 2 ] && t_ok "an unknown flag exits 2" || t_fail "an unknown flag: exit $status"
render noinput
[ "$status" -eq 2 ] && t_ok "no -f exits 2" || t_fail "no -f: exit $status"

# --- simple.yaml on the containerd shim ----------------------------------------------------------------------
render simple -f "$S/simple.yaml" -f "$S/spin-shim-executor.yaml" --namespace "$ns"
want="Secret/simple-spinapp-760b133c
Secret/spin-ca
Deployment/simple-spinapp
Service/simple-spinapp"
if [ "$status" -eq 0 ] && [ "$(kinds "$work/simple.out")" = "$want" ] && [ ! -s "$work/simple.err" ]; then
	t_ok "simple.yaml renders its runtime-config Secret, CA Secret, Deployment and Service"
else
	t_fail "simple.yaml: exit $status, objects: $(kinds "$work/simple.out" | tr '\n' ' ') $(cat "$work/simple.err")"
fi
t_check "server-side dry-run accepts the rendered simple.yaml objects" \
	bash -c "kubectl apply --dry-run=server -f - <'$work/simple.out'"
render simple-json -f "$S/simple.yaml" -f "$S/spin-shim-executor.yaml" --namespace "$ns" -o json
t_check "server-side dry-run accepts the JSON List output" \
	bash -c "[ $status -eq 0 ] && kubectl apply --dry-run=server -f - <'$work/simple-json.out'"
t_check "applied for real, the rendered simple.yaml objects are created" \
	kubectl apply -f "$work/simple.out"
t_check "the Secrets, Deployment and Service exist in the namespace" \
	kubectl -n "$ns" get secret/simple-spinapp-760b133c secret/spin-ca deployment/simple-spinapp service/simple-spinapp
t_check "the stored Deployment runs the app's image under the executor's RuntimeClass" bash -c "
	[ \"\$(kubectl -n '$ns' get deployment simple-spinapp -o jsonpath='{.spec.template.spec.runtimeClassName} {.spec.template.spec.containers[0].image}')\" = \
	  'wasmtime-spin-v2 ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0' ]"
t_check "the stored CA Secret holds the bundle" bash -c "
	kubectl -n '$ns' get secret spin-ca -o jsonpath='{.data.ca-certificates\\.crt}' | base64 -d | grep -q 'BEGIN CERTIFICATE'"

# --- spintainer ---------------------------------------------------------------------------------------------
render spintainer -f "$S/spintainer.yaml" -f "$S/spintainer-executor.yaml" --namespace "$ns"
t_check "spintainer.yaml renders and passes server-side dry-run" \
	bash -c "[ $status -eq 0 ] && kubectl apply --dry-run=server -f - <'$work/spintainer.out'"
t_check "applied for real, the spintainer Deployment runs the spin CLI image" bash -c "
	kubectl apply -f '$work/spintainer.out' >/dev/null &&
	[ \"\$(kubectl -n '$ns' get deployment spintainer-spinapp -o jsonpath='{.spec.template.spec.containers[0].image}')\" = \
	  ghcr.io/fermyon/spin:v2.7.0 ]"

# --- runtime-config.yaml with its Secret in the input ---------------------------------------------------------
cat >"$work/my-super-secret.yaml" <<'YAML'
apiVersion: v1
kind: Secret
metadata:
  name: my-super-secret
stringData:
  turso-token: turso-token-value
  llm-token: llm-token-value
  redis-full-url: redis://redis.example:6379
YAML
render rc-missing -f "$S/runtime-config.yaml" -f "$S/spin-shim-executor.yaml" --namespace "$ns"
if [ "$status" -eq 1 ] && [ ! -s "$work/rc-missing.out" ] && [ "$(wc -l <"$work/rc-missing.err")" -eq 1 ] &&
	grep -q 'secrets "my-super-secret" not found in the input' "$work/rc-missing.err"; then
	t_ok "runtime-config.yaml without its Secret: exit 1, one line naming the Secret"
else
	t_fail "runtime-config.yaml without its Secret: exit $status: $(cat "$work/rc-missing.err")"
fi
render rc -f "$S/runtime-config.yaml" -f "$S/spin-shim-executor.yaml" -f "$work/my-super-secret.yaml" --namespace "$ns"
rc_secret=$(kinds "$work/rc.out" | sed -n 's|^Secret/\(runtime-config-.*\)|\1|p')
t_check "runtime-config.yaml with the Secret renders a runtime-config Secret" \
	bash -c "[ $status -eq 0 ] && [ -n '$rc_secret' ]"
t_check "server-side dry-run accepts the runtime-config objects" \
	bash -c "kubectl apply --dry-run=server -f - <'$work/rc.out'"
t_check "applied for real with the user's Secret, the generated TOML holds the Secret's values" bash -c "
	kubectl apply -n '$ns' -f '$work/my-super-secret.yaml' >/dev/null && kubectl apply -f '$work/rc.out' >/dev/null &&
	toml=\$(kubectl -n '$ns' get secret '$rc_secret' -o jsonpath='{.data.runtime-config\\.toml}' | base64 -d) &&
	grep -q \"token = 'turso-token-value'\" <<<\"\$toml\" && grep -q \"auth_token = 'llm-token-value'\" <<<\"\$toml\" &&
	grep -q \"url = 'redis://redis.example:6379'\" <<<\"\$toml\" &&
	kubectl -n '$ns' get deployment runtime-config -o jsonpath='{.spec.template.spec.volumes[0].secret.secretName}' |
	grep -qx '$rc_secret'"

# --- every SpinApp sample ------------------------------------------------------------------------------------
bad_samples=""
for f in "$S"/*.yaml; do
	grep -q '^kind: SpinApp$' "$f" || continue
	case $(basename "$f") in
	spintainer.yaml) inputs=(-f "$f" -f "$S/spintainer-executor.yaml") ;;
	runtime-config.yaml) inputs=(-f "$f" -f "$S/spin-shim-executor.yaml" -f "$work/my-super-secret.yaml") ;;
	*) inputs=(-f "$f" -f "$S/spin-shim-executor.yaml") ;;
	esac
	render sample "${inputs[@]}" --namespace "$ns"
	# route.yaml's HTTPRoute needs the Gateway API CRDs, which only route.sh installs (and removes): without
	# them the route must be rendered, and the other objects are dry-run.
	if [ "$status" -eq 0 ] && grep -qx 'kind: HTTPRoute' "$work/sample.out" &&
		! kubectl get --raw /apis/gateway.networking.k8s.io/v1 >/dev/null 2>&1; then
		awk 'BEGIN { RS = "---\n"; ORS = "" } !/(^|\n)kind: HTTPRoute\n/ { print "---\n" $0 }' "$work/sample.out" \
			>"$work/sample.noroute" && mv "$work/sample.noroute" "$work/sample.out"
	fi
	if [ "$status" -ne 0 ] || ! kubectl apply --dry-run=server -f "$work/sample.out" >"$work/sample.apply" 2>&1; then
		bad_samples+=" $(basename "$f"): $(cat "$work/sample.err" "$work/sample.apply" | tail -2 | tr '\n' ' ')"
	fi
done
[ -z "$bad_samples" ] && t_ok "every SpinApp sample renders and passes server-side dry-run" ||
	t_fail "samples failing:$bad_samples"
render route -f "$S/route.yaml" -f "$S/spin-shim-executor.yaml" --namespace "$ns"
want="Secret/route-spinapp-760b133c
Secret/spin-ca
Deployment/route-spinapp
Service/route-spinapp
HTTPRoute/route-spinapp"
[ "$status" -eq 0 ] && [ "$(kinds "$work/route.out")" = "$want" ] &&
	t_ok "route.yaml renders its HTTPRoute after the Service" ||
	t_fail "route.yaml: exit $status, rendered: $(kinds "$work/route.out" | tr '\n' ' ')"

# --- errors -------------------------------------------------------------------------------------------------
printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: [x\n' >"$work/bad.yaml"
render bad -f "$work/bad.yaml"
if [ "$status" -eq 1 ] && [ ! -s "$work/bad.out" ] && [ "$(wc -l <"$work/bad.err")" -eq 1 ] &&
	grep -q "^render: $work/bad.yaml:5:1: " "$work/bad.err"; then
	t_ok "malformed YAML: exit 1, one line with file:line:column"
else
	t_fail "malformed YAML: exit $status: $(cat "$work/bad.err")"
fi
render noexec -f "$S/simple.yaml"
if [ "$status" -eq 1 ] && [ ! -s "$work/noexec.out" ] &&
	[ "$(cat "$work/noexec.err")" = "render: SpinApp default/simple-spinapp: SpinAppExecutor default/containerd-shim-spin not found in the input" ]; then
	t_ok "a missing executor: exit 1, one line naming it"
else
	t_fail "a missing executor: exit $status: $(cat "$work/noexec.err")"
fi
"$OPERATOR" render -f - >"$work/stdin.out" 2>"$work/stdin.err" <"$work/bad.yaml"
st=$?
[ $st -eq 1 ] && grep -q "^render: -:5:1: " "$work/stdin.err" && t_ok "stdin errors are named \"-\"" ||
	t_fail "stdin error: exit $st: $(cat "$work/stdin.err")"

# --- no cluster needed ---------------------------------------------------------------------------------------
KUBECONFIG=/nonexistent/kubeconfig KUBERNETES_SERVICE_HOST='' HOME=/nonexistent \
	"$OPERATOR" render -f "$S/simple.yaml" -f "$S/spin-shim-executor.yaml" --namespace "$ns" >"$work/offline.out" 2>&1
st=$?
[ $st -eq 0 ] && cmp -s "$work/offline.out" "$work/simple.out" && t_ok "render needs no cluster and is deterministic" ||
	t_fail "render without a kubeconfig: exit $st"

# --- clean up -----------------------------------------------------------------------------------------------
t_check "the namespace is deleted" kubectl delete namespace "$ns" --wait=false
exit 0
