#!/usr/bin/env bash
# Self-managed webhook certificates through the real kube-apiserver, bootstrapped from nothing: the webhook
# configurations are registered with url https://127.0.0.1:<port>/<path> and no caBundle
# (tests/webhook/register-local.sh register <port> -), and the operator, in --webhook-cert-mode self-managed
# with --webhook-cert-extra-sans 127.0.0.1, creates the CA and serving pair in a Secret, writes the files,
# serves them and sets every caBundle. Then: upstream's exact message for an invalid SpinApp, a valid one
# admitted and defaulted, an overwritten caBundle put back, forced renewals (--webhook-cert-validity 24) while
# `kubectl apply --dry-run=server` runs in a loop with zero failures, a second instance reusing the Secret
# (same CA, same pair) with --webhook-upstream-checks-only, two instances racing for a new Secret ending with
# one pair, and the flag checks. Run by tests/run.sh (see tests/lib.sh for the environment).
set -uo pipefail
source "$REPO/tests/lib.sh"

REGISTER=$REPO/tests/webhook/register-local.sh
export NAME_PREFIX="spin-operator-smtest-$$-" # configuration names of this run only
label="spin-operator-smtest-$$"
export MATCH_LABEL="$label=1"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
GROUP_PATH=/apis/core.spinkube.dev/v1alpha1
IMAGE=ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0
SECRET=spin-operator-webhook-server-cert
MUTATING=${NAME_PREFIX}mutating-webhook-configuration
VALIDATING=${NAME_PREFIX}validating-webhook-configuration
VALIDITY=24 # seconds: a renewal every 16 s

work=$(mktemp -d)
pids=() proxy_pid="" loop_pid="" opns="" ns=""
cleanup() {
	local p
	[ -n "$loop_pid" ] && kill "$loop_pid" 2>/dev/null
	"$REGISTER" unregister >/dev/null 2>&1
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
	for n in $opns $ns; do
		kubectl delete namespace "$n" --wait=false >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT

for tool in openssl jq curl kubectl; do
	command -v "$tool" >/dev/null || {
		t_fail "$tool is not installed"
		exit 0
	}
done
if [ ! -x "$OPERATOR" ]; then
	t_fail "operator binary $OPERATOR is missing (make build)"
	exit 0
fi

t_eq() { # t_eq <what> <got> <want> [detail shown on failure]
	if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1: got \"$2\", want \"$3\"${4:+ ($4)}"; fi
}
has() { grep -q -- "$2" "$1"; }
port_of() { sed -n "s/.*$2 listening on .* (port \([0-9]*\).*/\1/p" "$1" | tail -1; }
# start <name> [flags...]: an operator in self-managed mode on a free port, files in $work/<name>; its log is
# $work/<name>.log and its pid the last of pids.
start() {
	local name=$1
	shift
	"$OPERATOR" --kubeconfig "$KUBECONFIG" --webhook-bind-address 127.0.0.1:0 --webhook-cert-mode self-managed \
		--webhook-namespace "$opns" --webhook-cert-extra-sans 127.0.0.1 --webhook-cert-dir "$work/$name" \
		--webhook-mutating-configuration "$MUTATING" --webhook-validating-configuration "$VALIDATING" \
		--webhook-cert-check-interval 1 --health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 0 --log-level debug \
		"$@" >"$work/$name.log" 2>&1 &
	pids+=($!)
}
secret_field() { kubectl get secret "${2:-$SECRET}" -n "$opns" -o json | jq -r --arg k "$1" '.data[$k] // ""'; }
secret_pem() { secret_field "$1" "${2:-}" | base64 -d; }
# served <port>: the serial of the certificate a new connection gets, verified against the Secret's CA for
# IP 127.0.0.1 (empty when it does not verify)
served() {
	secret_pem ca.crt >"$work/ca.pem"
	openssl s_client -connect "127.0.0.1:$1" -CAfile "$work/ca.pem" -verify_ip 127.0.0.1 -verify_return_error \
		</dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}
serial_of() { openssl x509 -noout -serial 2>/dev/null | cut -d= -f2; }
bundles_are() { # bundles_are <base64>: every webhook of both configurations carries it
	kubectl get mutatingwebhookconfiguration/"$MUTATING" validatingwebhookconfiguration/"$VALIDATING" -o json |
		jq -e --arg ca "$1" '[.items[].webhooks[]] | length == 4 and all(.[]; .clientConfig.caBundle == $ca)' >/dev/null
}

opns=$(t_ns webhook-sm-operator) || {
	t_fail "create the operator's namespace"
	exit 0
}
ns=$(t_ns webhook-sm) && kubectl label namespace "$ns" "$label=1" >/dev/null || {
	t_fail "create a labelled namespace"
	exit 0
}

# ---- bootstrap from nothing ----------------------------------------------------------------------------

t_check_fails "no Secret $SECRET exists before the operator starts" kubectl get secret "$SECRET" -n "$opns"
start one --webhook-cert-validity "$VALIDITY"
log1=$work/one.log
if ! retry 30 has "$log1" "caches synced"; then
	t_fail "the operator did not start: $(tail -5 "$log1")"
	exit 0
fi
p1=$(port_of "$log1" "admission webhook")
h1=$(port_of "$log1" "health probes")
t_check "register-local.sh registers both configurations at https://127.0.0.1:$p1 without caBundle" \
	"$REGISTER" register "$p1" -
t_check "the operator creates Secret $opns/$SECRET (CA and pair from nothing)" \
	retry 20 has "$log1" "Secret $opns/$SECRET created: new CA (none yet); new serving certificate (none yet)"
secret_ok() {
	kubectl get secret "$SECRET" -n "$opns" -o json | jq -e '.type == "kubernetes.io/tls"
		and (.data | keys) == ["ca.crt", "ca.key", "tls.crt", "tls.key"]
		and .metadata.labels["app.kubernetes.io/managed-by"] == "spin-operator"' >/dev/null
}
t_check "the Secret is kubernetes.io/tls with tls.crt, tls.key, ca.crt, ca.key" secret_ok
sans_ok() {
	local sans
	sans=$(secret_pem tls.crt | openssl x509 -noout -ext subjectAltName)
	for want in "DNS:spin-operator-webhook-service.$opns.svc" "DNS:spin-operator-webhook-service.$opns.svc.cluster.local" \
		"DNS:spin-operator-webhook-service.$opns," "DNS:spin-operator-webhook-service," "IP Address:127.0.0.1"; do
		grep -q -- "$want" <<<"$sans" || { echo "$want missing in: $sans"; return 1; }
	done
}
t_check "the serving certificate names the Service's four DNS names and IP:127.0.0.1" sans_ok
ecdsa_ca() {
	secret_pem ca.crt | openssl x509 -noout -text | grep -q 'NIST CURVE: P-256' &&
		secret_pem ca.crt | openssl x509 -noout -ext basicConstraints | grep -q 'CA:TRUE' &&
		secret_pem ca.crt >"$work/ca.pem" && secret_pem tls.crt | openssl verify -CAfile "$work/ca.pem" >/dev/null
}
t_check "the CA is ECDSA P-256, CA:TRUE, and signs the serving certificate" ecdsa_ca
files_ok() {
	cmp -s <(secret_pem tls.crt) "$work/one/tls.crt" && cmp -s <(secret_pem tls.key) "$work/one/tls.key" &&
		cmp -s <(secret_pem ca.crt) "$work/one/ca.crt" && [ "$(stat -c %a "$work/one/tls.key")" = 600 ]
}
t_check "the files in --webhook-cert-dir equal the Secret (tls.key mode 600)" files_ok
t_check "the caBundle of all four webhooks is set to the Secret's ca.crt" retry 20 bundles_are "$(secret_field ca.crt)"
t_check "/readyz is ready" retry 10 curl -sf "http://127.0.0.1:$h1/readyz"
serves_verified() { [ -n "$(served "$1")" ]; }
t_check "TLS to 127.0.0.1:$p1 verifies against the Secret's CA for IP 127.0.0.1" serves_verified "$p1"
t_check_fails "no key material in the log" grep -q -- "PRIVATE KEY\|BEGIN CERT" "$log1"

# ---- admission through the API server ----------------------------------------------------------------------

kubectl proxy --port=0 >"$work/proxy.log" 2>&1 &
proxy_pid=$!
retry 10 grep -q "Starting to serve" "$work/proxy.log"
pport=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$work/proxy.log" | head -1)
api() { curl -s --max-time 20 -X "$1" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "http://127.0.0.1:$pport$2"; }
app() { printf '{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":"%s","namespace":"%s"},"spec":%s}' "$2" "$1" "$3"; }
executor='{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinAppExecutor","metadata":{"name":"shim","namespace":"'$ns'"},"spec":{"createDeployment":true,"deploymentConfig":{"runtimeClassName":"wasmtime-spin-v2"}}}'
t_check "an executor is admitted" bash -c "kubectl apply -f - <<<'$executor'"
t_check "the operator's cache sees it (its debug log says so)" retry 20 has "$log1" "SpinAppExecutor seen $ns/shim "
refused_exactly() { # refused_exactly <json> <hook> <message>
	local ans
	ans=$(api POST "$GROUP_PATH/namespaces/$ns/spinapps" "$1")
	jq -e --arg m "admission webhook \"$2\" denied the request: $3" \
		'.kind == "Status" and .code == 422 and .reason == "Invalid" and .message == $m' <<<"$ans" >/dev/null ||
		{ echo "got: $ans"; return 1; }
}
t_check "an invalid SpinApp is refused with upstream's exact message" refused_exactly \
	"$(app "$ns" r0 "{\"image\":\"$IMAGE\",\"executor\":\"shim\",\"replicas\":2,\"enableAutoscaling\":true}")" vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "r0" is invalid: spec.replicas: Invalid value: 2: replicas cannot be set when autoscaling is enabled'
t_check "a stricter check refuses a malformed image" refused_exactly \
	"$(app "$ns" badimage '{"image":"Not An Image","executor":"shim","replicas":1}')" vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "badimage" is invalid: spec.image: Invalid value: "Not An Image": must be an OCI image reference: [registry[:port]/]repository[:tag][@sha256:<64 hex digits>], with a lowercase repository path'
admitted() {
	retry 10 bash -c "kubectl apply -f - <<<'$(app "$ns" good "{\"image\":\"$IMAGE\",\"replicas\":1,\"executor\":\"\"}")'" &&
		[ "$(kubectl get spinapp good -n "$ns" -o jsonpath='{.spec.executor}')" = shim ]
}
t_check "a valid SpinApp is admitted and defaulted (executor shim)" admitted

# ---- an overwritten caBundle is put back ------------------------------------------------------------------

junk=$(printf 'not a CA' | base64 -w0)
t_check "overwrite the first mutating webhook's caBundle" kubectl patch mutatingwebhookconfiguration "$MUTATING" \
	--type json -p "[{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig/caBundle\",\"value\":\"$junk\"}]"
t_check "the operator puts it back within a few seconds" retry 15 bundles_are "$(secret_field ca.crt)"

# ---- forced renewals under load ----------------------------------------------------------------------------

ca_before=$(secret_pem ca.crt | serial_of)
serial_before=$(secret_pem tls.crt | serial_of)
updates_before=$(grep -c "Secret $opns/$SECRET updated: new serving certificate" "$log1")
app "$ns" loaded "{\"image\":\"$IMAGE\",\"replicas\":1,\"executor\":\"\"}" >"$work/good.json"
# server-side dry runs for about 40 s (each through both webhooks), spanning at least two renewals
(
	fails=0 n=0 end=$((SECONDS + 40))
	while [ $SECONDS -lt $end ]; do
		n=$((n + 1))
		kubectl apply --dry-run=server -f "$work/good.json" >>"$work/loop.out" 2>&1 || fails=$((fails + 1))
		sleep 0.2
	done
	echo "$fails $n" >"$work/loop.result"
) &
loop_pid=$!
wait "$loop_pid"
loop_pid=""
read -r fails total <"$work/loop.result"
updates=$(($(grep -c "Secret $opns/$SECRET updated: new serving certificate" "$log1") - updates_before))
t_check "the serving pair was renewed at least twice during the loop (2/3 of a ${VALIDITY} s lifetime)" test "$updates" -ge 2
t_eq "$total server-side dry runs across the renewals, none failed" "$fails failed" "0 failed" \
	"$(grep -v 'server dry run' "$work/loop.out" | head -3)"
t_check "each renewal was reloaded without a restart" bash -c "[ \$(grep -c 'serving certificate reloaded from $work/one/tls.crt' '$log1') -ge $updates ]"
serial_after=$(secret_pem tls.crt | serial_of)
t_check "the Secret holds a new serving certificate ($serial_before -> $serial_after)" test "$serial_before" != "$serial_after"
t_eq "the CA stayed the same" "$(secret_pem ca.crt | serial_of)" "$ca_before"
serves_secret() {
	local got want
	got=$(served "$1")
	want=$(secret_pem tls.crt | serial_of)
	[ -n "$got" ] && [ "$got" = "$want" ] || { echo "served \"$got\", Secret \"$want\""; return 1; }
}
t_check "the webhook serves the Secret's pair" retry 5 serves_secret "$p1"

# ---- a second instance reuses the Secret; upstream's checks only ---------------------------------------

start two --webhook-cert-validity "$VALIDITY" --webhook-upstream-checks-only
log2=$work/two.log
retry 30 has "$log2" "caches synced"
p2=$(port_of "$log2" "admission webhook")
t_check "the second instance serves a certificate" retry 10 has "$log2" "serving certificate loaded from $work/two/tls.crt"
t_check_fails "it did not create a Secret of its own" grep -q "Secret $opns/$SECRET created" "$log2"
t_eq "it uses the same CA" "$(openssl x509 -noout -serial -in "$work/two/ca.crt" | cut -d= -f2)" "$ca_before"
same_pair() { cmp -s "$work/one/tls.crt" "$work/two/tls.crt" || { sleep 1; cmp -s "$work/one/tls.crt" "$work/two/tls.crt"; }; }
t_check "both instances serve the same pair" retry 10 same_pair
t_check "point the configurations at the second instance (127.0.0.1:$p2)" "$REGISTER" register "$p2" -
t_check "the caBundle stays set" retry 10 bundles_are "$(secret_field ca.crt)"
upstream_only() {
	app "$ns" lenient '{"image":"Not An Image","executor":"shim","replicas":1}' |
		kubectl apply --dry-run=server -f - >"$work/lenient.out" 2>&1 || { cat "$work/lenient.out"; return 1; }
}
t_check "--webhook-upstream-checks-only: a malformed image passes (not an upstream check)" retry 10 upstream_only
t_check "--webhook-upstream-checks-only: upstream's checks still refuse replicas with autoscaling" refused_exactly \
	"$(app "$ns" r0b "{\"image\":\"$IMAGE\",\"executor\":\"shim\",\"replicas\":2,\"enableAutoscaling\":true}")" vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "r0b" is invalid: spec.replicas: Invalid value: 2: replicas cannot be set when autoscaling is enabled'
t_check "register-local.sh unregister" "$REGISTER" unregister
statuses=""
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
for p in "${pids[@]}"; do
	wait "$p" 2>/dev/null
	statuses+="$? "
done
pids=()
t_eq "SIGTERM stops both instances with exit 0" "$statuses" "0 0 "
t_check_fails "no sanitizer report in their logs" grep -E "AddressSanitizer|LeakSanitizer|runtime error" "$log1" "$log2"

# ---- two instances racing for a new Secret end with one pair ----------------------------------------------

start race-a --webhook-secret-name race --webhook-mutating-configuration "" --webhook-validating-configuration ""
start race-b --webhook-secret-name race --webhook-mutating-configuration "" --webhook-validating-configuration ""
both_files() { [ -s "$work/race-a/tls.crt" ] && [ -s "$work/race-b/tls.crt" ]; }
t_check "both racers wrote certificate files" retry 30 both_files
t_check "exactly one created the Secret" bash -c "[ \$(cat '$work/race-a.log' '$work/race-b.log' | grep -c 'Secret $opns/race created') = 1 ]"
race_same() { cmp -s "$work/race-a/tls.crt" "$work/race-b/tls.crt" && cmp -s "$work/race-a/ca.crt" "$work/race-b/ca.crt" &&
	cmp -s "$work/race-a/tls.crt" <(secret_pem tls.crt race); }
t_check "both serve the Secret's pair and CA" retry 10 race_same
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
pids=()

# ---- flags ---------------------------------------------------------------------------------------------------

t_check_fails "an unknown --webhook-cert-mode is refused" "$OPERATOR" --webhook-cert-mode magic
t_check_fails "self-managed with --webhook-cert-file is refused" "$OPERATOR" --webhook-cert-mode self-managed \
	--webhook-cert-file /tmp/x.crt
bad_san() {
	! "$OPERATOR" --kubeconfig "$KUBECONFIG" --webhook-bind-address 127.0.0.1:0 --webhook-cert-mode self-managed \
		--webhook-namespace "$opns" --webhook-cert-extra-sans 'a b' --webhook-cert-dir "$work/badsan" \
		--health-probe-bind-address 0 --metrics-bind-address 0 >"$work/badsan.log" 2>&1 &&
		grep -q '"a b" is neither an IP address nor a DNS name' "$work/badsan.log"
}
t_check "a bad --webhook-cert-extra-sans entry is fatal, saying why" bad_san
help_lists() { grep -q -- "$1" <<<"$("$OPERATOR" --help)"; } # no pipe: grep -q would SIGPIPE the writer
for flag in --webhook-cert-mode --webhook-namespace --webhook-service-name --webhook-secret-name \
	--webhook-mutating-configuration --webhook-validating-configuration --webhook-cert-extra-sans \
	--webhook-upstream-checks-only; do
	t_check "--help documents $flag" help_lists "$flag"
done
t_check_fails "--help leaves out the test-only lifetime flags" help_lists --webhook-cert-validity
