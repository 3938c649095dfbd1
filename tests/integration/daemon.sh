# The spin-operator daemon against the real control plane: flags, start-up checks, what the caches see,
# and a clean SIGTERM. Run by tests/run.sh (see tests/lib.sh for the environment).
set -uo pipefail
source "$REPO/tests/lib.sh"

ns=$(t_ns daemon)
work=$(mktemp -d)
log="$work/operator.log"
pid=""
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

app() { # app <name>: a minimal SpinApp manifest
	cat <<YAML
apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata: {name: $1, namespace: $ns}
spec: {image: "ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0", executor: containerd-shim-spin, replicas: 1}
YAML
}

log_has() { grep -q -- "$1" "$log"; }

# --help documents every flag the daemon accepts.
help=$("$OPERATOR" --help)
missing=""
for flag in --kubeconfig --context --namespace --kube-api-qps --kube-api-burst --log-level --log-format --version --help; do
	grep -q -- "$flag" <<<"$help" || missing+=" $flag"
done
[ -z "$missing" ] && t_ok "--help documents every flag" || t_fail "--help lacks:$missing"
t_check "--version prints the version" bash -c "'$OPERATOR' --version | grep -q '^spin-operator '"
t_check_fails "an unknown flag is refused" "$OPERATOR" --no-such-flag
t_check_fails "a bad --kube-api-qps is refused" "$OPERATOR" --kube-api-qps=fast

# A kubeconfig that does not parse: one clear error, exit 1.
printf 'clusters: [\n' >"$work/bad.kubeconfig"
"$OPERATOR" --kubeconfig "$work/bad.kubeconfig" >"$work/bad.log" 2>&1
status=$?
if [ $status -eq 1 ] && grep -q "bad.kubeconfig" "$work/bad.log"; then
	t_ok "a malformed kubeconfig exits 1 naming the file"
else
	t_fail "a malformed kubeconfig: exit $status, log: $(tail -2 "$work/bad.log")"
fi

# SpinApps created before start are listed; later ones arrive by watch; deletes are seen.
app before | kubectl apply -f - >/dev/null
"$OPERATOR" --kubeconfig "$KUBECONFIG" --namespace "$ns" --log-level debug --webhook-bind-address 0 \
	--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 0 >"$log" 2>&1 &
pid=$!
t_check "the daemon reports the server version" retry 30 log_has "API server version v1.36.3"
t_check "caches sync with the existing SpinApp" retry 30 log_has "caches synced in .* 1 SpinApps"
t_check "an existing SpinApp is seen" log_has "SpinApp added $ns/before"
app after | kubectl apply -f - >/dev/null
t_check "a new SpinApp arrives by watch" retry 20 log_has "SpinApp added $ns/after"
kubectl -n "$ns" patch spinapp after --type merge -p '{"spec":{"replicas":2}}' >/dev/null
t_check "an update arrives with its generation" retry 20 log_has "SpinApp updated $ns/after generation=2"
kubectl -n "$ns" delete spinapp before >/dev/null
t_check "a delete arrives" retry 20 log_has "SpinApp deleted $ns/before"
if grep -qiE "bearer|BEGIN .*PRIVATE KEY|client-key-data" "$log"; then
	t_fail "the log contains credential material"
else
	t_ok "the log contains no credential material"
fi

# SIGTERM: clean exit 0, promptly (the watch is interrupted, not waited out).
kill -TERM "$pid"
start=$SECONDS
wait "$pid"
status=$?
pid=""
if [ $status -eq 0 ] && [ $((SECONDS - start)) -le 5 ]; then
	t_ok "SIGTERM stops the daemon with exit 0 in $((SECONDS - start)) s"
else
	t_fail "SIGTERM: exit $status after $((SECONDS - start)) s"
fi
t_check "shutdown is logged" log_has "stopped (exit 0)"

# SIGTERM while the caches cannot sync (a token with no permission to list anything: every list is Forbidden):
# exit 0 at once, not after the sync timeout (120 s).
token=$(kubectl -n "$ns" create token default --duration=10m)
server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
cat >"$work/nobody.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: u, user: {token: "$token"}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
EOF
"$OPERATOR" --kubeconfig "$work/nobody.kubeconfig" --namespace "$ns" --webhook-bind-address 0 \
	--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 0 >"$work/nosync.log" 2>&1 &
pid=$!
t_check "without permissions the caches cannot sync" retry 30 grep -q "list failed: .*orbidden" "$work/nosync.log"
kill -TERM "$pid"
start=$SECONDS
wait "$pid"
status=$?
pid=""
if [ $status -eq 0 ] && [ $((SECONDS - start)) -le 5 ] && ! grep -q "caches synced" "$work/nosync.log"; then
	t_ok "SIGTERM during the initial cache sync exits 0 in $((SECONDS - start)) s"
else
	t_fail "SIGTERM during the sync: exit $status after $((SECONDS - start)) s: $(tail -3 "$work/nosync.log")"
fi

# JSON logs are one object per line.
"$OPERATOR" --kubeconfig "$KUBECONFIG" --namespace "$ns" --log-format json --webhook-bind-address 0 \
	--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 0 >"$work/json.log" 2>&1 &
pid=$!
retry 30 grep -q "caches synced" "$work/json.log"
kill -INT "$pid"
wait "$pid"
status=$?
pid=""
if [ $status -eq 0 ] && jq -e -s 'length > 2 and all(.[]; .ts and .level and .component and .msg)' "$work/json.log" >/dev/null 2>&1; then
	t_ok "--log-format json writes one JSON object per line; SIGINT exits 0"
else
	t_fail "JSON log or SIGINT exit ($status): $(head -3 "$work/json.log")"
fi

# ---- upstream spin-operator's command line (docs/operations.md) ----------------------------------------------

# Bad values of upstream's flags: exit 2 with a message naming the flag, before anything starts.
bad_flag() { # bad_flag <flag name> <args...>
	local name=$1 out status
	shift
	out=$("$OPERATOR" "$@" 2>&1)
	status=$?
	[ $status = 2 ] && grep -q -- "--$name" <<<"$out" || { echo "exit $status: $out"; return 1; }
}
for spec in "leader-elect --leader-elect=maybe" "leader-elect -leader-elect=yes" "enable-webhooks --enable-webhooks=2" \
	"enable-http2 --enable-http2=on" "zap-devel -zap-devel=no" "zap-encoder --zap-encoder=xml" \
	"zap-encoder -zap-encoder text" "zap-log-level --zap-log-level=warn" "zap-log-level -zap-log-level 0" \
	"zap-stacktrace-level --zap-stacktrace-level=debug" "zap-time-encoding --zap-time-encoding=unix"; do
	# shellcheck disable=SC2086 # the spec is split into words on purpose
	t_check "a bad upstream flag value exits 2 naming the flag: ${spec#* }" bad_flag $spec
done
t_check "a boolean's value is never the next word (--leader-elect false: unexpected argument)" \
	bash -c "'$OPERATOR' --leader-elect false 2>&1; [ \$? = 2 ]"
help=$("$OPERATOR" -help)
missing=""
for flag in --leader-elect --enable-webhooks --enable-http2 --health-probe-bind-address --metrics-bind-address \
	--kubeconfig --zap-devel --zap-encoder --zap-log-level --zap-stacktrace-level --zap-time-encoding; do
	grep -q -- "$flag" <<<"$help" || missing+=" $flag"
done
[ -z "$missing" ] && t_ok "-help (one dash) documents upstream's flags" || t_fail "-help lacks:$missing"

# A serving certificate for the webhook (files mode), so that --enable-webhooks has something to serve.
mkdir -p "$work/certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
	-keyout "$work/certs/tls.key" -out "$work/certs/tls.crt" >/dev/null 2>&1

# upstream <name> <args...>: the daemon runs with those arguments verbatim, then (so that this test binds
# loopback ports nobody else uses) the three bind addresses moved to 127.0.0.1:0 and the webhook's certificate
# read from $work/certs; the Lease goes to the test namespace. It must come up leading, with /healthz and
# /readyz answering 200, and stop cleanly on SIGTERM.
upstream() {
	local name=$1 log="$work/upstream-$1.log" hp wp status
	shift
	POD_NAMESPACE=$ns "$OPERATOR" "$@" --kubeconfig "$KUBECONFIG" --namespace "$ns" \
		--health-probe-bind-address=127.0.0.1:0 --metrics-bind-address=127.0.0.1:0 \
		--webhook-bind-address=127.0.0.1:0 --webhook-cert-dir="$work/certs" >"$log" 2>&1 &
	pid=$!
	retry 30 grep -q "became the leader" "$log" || { echo "never led: $(tail -5 "$log")"; return 1; }
	hp=$(sed -n 's/.*health probes listening on .* (port \([0-9]*\)).*/\1/p' "$log" | head -1)
	for path in /healthz /readyz; do
		retry 20 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:$hp$path)\" = 200 ]" ||
			{ echo "$path is not 200: $(tail -5 "$log")"; return 1; }
	done
	# the webhook, when on, completes a TLS handshake and answers HTTP (any status)
	wp=$(sed -n 's/.*admission webhook listening on .* (port \([0-9]*\), HTTPS).*/\1/p' "$log" | head -1)
	if [ -n "$wp" ] && [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 "https://127.0.0.1:$wp/healthz")" = 000 ]; then
		echo "the webhook on port $wp does not answer HTTPS"
		return 1
	fi
	kill -TERM "$pid"
	wait "$pid"
	status=$?
	pid=""
	[ $status = 0 ] && grep -q "released lease $ns/90ba2d18.spinkube.dev" "$log" || { echo "exit $status: $(tail -5 "$log")"; return 1; }
}
t_check "upstream's chart args verbatim: starts, leads, /healthz and /readyz 200, SIGTERM releases and exits 0" \
	upstream chart --health-probe-bind-address=:8082 --metrics-bind-address=:8443 --leader-elect --enable-webhooks
t_check "upstream's kustomize args verbatim (metrics patch first): the same" \
	upstream kustomize --metrics-bind-address=:8443 --leader-elect --enable-webhooks
t_check "... and the webhook served HTTPS in both" \
	bash -c "for f in chart kustomize; do grep -q 'admission webhook listening on 127.0.0.1:0 (port [0-9]*, HTTPS)' '$work'/upstream-\$f.log || exit 1; done"
t_check "one-dash forms and every zap flag: the same, with JSON logs at info" \
	upstream dash -leader-elect=true -enable-webhooks -enable-http2=false -zap-devel=false -zap-encoder json \
	-zap-log-level=info -zap-stacktrace-level=error -zap-time-encoding=iso8601
t_check "... -zap-devel=false -zap-encoder json: every line is a JSON object" \
	bash -c "jq -e -s 'length > 3 and all(.[]; .ts and .level and .msg)' '$work/upstream-dash.log' >/dev/null"
t_check "--zap-devel=true: debug lines in the log" \
	upstream devel --leader-elect --zap-devel=true
t_check "... debug lines are there" grep -q " DEBUG " "$work/upstream-devel.log"
t_check "--enable-webhooks=false: no webhook server, as upstream" upstream nowebhook --leader-elect --enable-webhooks=false
t_check "... the log says so and no webhook port was bound" \
	bash -c "grep -q 'admission webhook disabled' '$work/upstream-nowebhook.log' && ! grep -q 'admission webhook listening' '$work/upstream-nowebhook.log'"

# A rolling update's SIGTERM (issue 13 §2): /readyz fails at once, so the endpoint leaves the webhook Service,
# while the webhook goes on answering reviews (from the cache, not 503) with "Connection: close", so that a
# client's next request opens a connection to another replica; then the daemon exits 0 within the 10 s
# terminationGracePeriodSeconds of config/ and the chart.
drain() {
	local log="$work/drain.log" hp wp start status code hdrs
	"$OPERATOR" --kubeconfig "$KUBECONFIG" --namespace "$ns" --health-probe-bind-address=127.0.0.1:0 \
		--metrics-bind-address=0 --webhook-bind-address=127.0.0.1:0 --webhook-cert-dir="$work/certs" >"$log" 2>&1 &
	pid=$!
	retry 30 grep -q "caches synced" "$log" || { echo "no sync: $(tail -5 "$log")"; return 1; }
	hp=$(sed -n 's/.*health probes listening on .* (port \([0-9]*\)).*/\1/p' "$log" | head -1)
	wp=$(sed -n 's/.*admission webhook listening on .* (port \([0-9]*\), HTTPS).*/\1/p' "$log" | head -1)
	retry 20 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:$hp/readyz)\" = 200 ]" ||
		{ echo "never ready"; return 1; }
	local review='{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"d1","kind":{"group":"core.spinkube.dev","version":"v1alpha1","kind":"SpinApp"},"resource":{"group":"core.spinkube.dev","version":"v1alpha1","resource":"spinapps"},"namespace":"'"$ns"'","operation":"CREATE","object":{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":"d","namespace":"'"$ns"'"},"spec":{"image":"ghcr.io/a/b:v1","executor":"x","replicas":1}}}}'
	start=$(date +%s%3N)
	kill -TERM "$pid"
	sleep 0.5
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$hp/readyz")
	[ "$code" = 500 ] || { echo "/readyz $code half a second after SIGTERM, not 500 (controller-runtime's failing check)"; return 1; }
	hdrs=$(curl -sk -D - -o "$work/drain-answer.json" --max-time 5 -H 'Content-Type: application/json' \
		--data "$review" "https://127.0.0.1:$wp/validate-core-spinkube-dev-v1alpha1-spinapp")
	grep -q '^HTTP/1.1 200' <<<"$hdrs" || { echo "review during the drain: $hdrs"; return 1; }
	grep -qi '^Connection: close' <<<"$hdrs" || { echo "no Connection: close: $hdrs"; return 1; }
	jq -e '.response.uid == "d1" and (.response.allowed | type == "boolean")' "$work/drain-answer.json" >/dev/null ||
		{ echo "answer: $(cat "$work/drain-answer.json")"; return 1; }
	wait "$pid"
	status=$?
	pid=""
	local took=$(($(date +%s%3N) - start))
	[ "$status" = 0 ] || { echo "exit $status: $(tail -5 "$log")"; return 1; }
	# the webhook answers for 3 s after the signal; the whole shutdown fits the 10 s grace period
	[ "$took" -ge 2500 ] && [ "$took" -lt 10000 ] || { echo "shutdown took $took ms"; return 1; }
}
t_check "SIGTERM: /readyz fails at once, reviews still answered (Connection: close), exit 0 within the 10 s grace period" drain
