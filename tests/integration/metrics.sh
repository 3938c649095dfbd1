#!/usr/bin/env bash
# The metrics endpoint as upstream serves it, against the real control plane (docs/operations.md, "Metrics"):
#   - HTTPS by default, with a self-signed certificate, TLS 1.2+ with forward-secret AEAD suites only;
#   - every scrape authenticated by a TokenReview and authorized by a SubjectAccessReview: a ServiceAccount
#     bound to the metrics-reader ClusterRole (config/rbac/metrics_reader_role.yaml) gets 200, one without it
#     403, no token and a garbage token 401; decisions are cached (a second scrape makes no new review);
#   - the exposition passes `promtool check metrics` (Prometheus' own validator, tests/tools/promtool), and
#     after a reconcile every controller-runtime / client-go / process family a dashboard reads is there with
#     its type and labels;
#   - --metrics-cert-path/-name/-key serve the given pair and reload it when it changes;
#   - --metrics-secure=false serves plain HTTP to anyone.
# Run by tests/run.sh (see tests/lib.sh for the environment).
set -uo pipefail
source "$REPO/tests/lib.sh"

ns=$(t_ns metrics)
work=$(mktemp -d)
log="$work/operator.log"
pids=()
reader_role="$ns-metrics-reader"
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	kubectl delete clusterrolebinding "$ns-reader" --ignore-not-found >/dev/null 2>&1
	kubectl delete clusterrole "$reader_role" --ignore-not-found >/dev/null 2>&1
	kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

if ! command -v promtool >/dev/null; then
	t_fail "promtool is missing (tests/tools/build.sh promtool)"
fi

log_has() { grep -q -- "$1" "$log"; }
port_of() { sed -n "s/.*$2 listening on .* (port \([0-9]*\).*/\1/p" "$1" | tail -1; }
t_eq() { if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1: got \"$2\", want \"$3\"${4:+ ($4)}"; fi; }

# start <log> <flags...>: the daemon (webhook off) in the background, watching $ns (not in a subshell: pids
# must reach cleanup). synced <log>: its caches are synced.
start() {
	local l=$1
	shift
	"$OPERATOR" --kubeconfig "$KUBECONFIG" --namespace "$ns" --webhook-bind-address 0 \
		--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 "$@" >"$l" 2>&1 &
	pids+=($!)
}
synced() { retry 60 grep -q "caches synced" "$1"; }

# get <url> [token]: "<status> <body file>" of one GET (the body lands in $work/body).
get() {
	local auth=()
	[ -n "${2:-}" ] && auth=(-H "Authorization: Bearer $2")
	curl -sk --max-time 15 -o "$work/body" -w '%{http_code}' "${auth[@]}" "$1"
}

# --- the readers: a ServiceAccount bound to config/rbac's metrics-reader role, and one bound to nothing ---

sed "s/^  name: metrics-reader$/  name: $reader_role/" "$REPO/config/rbac/metrics_reader_role.yaml" | kubectl apply -f - >/dev/null
kubectl -n "$ns" create serviceaccount reader >/dev/null
kubectl -n "$ns" create serviceaccount nobody >/dev/null
kubectl create clusterrolebinding "$ns-reader" --clusterrole="$reader_role" --serviceaccount="$ns:reader" >/dev/null
reader_token=$(kubectl -n "$ns" create token reader --duration=1h)
nobody_token=$(kubectl -n "$ns" create token nobody --duration=1h)
t_check "the reader and the nobody ServiceAccounts have tokens" test -n "$reader_token" -a -n "$nobody_token"

# --- secure by default ---------------------------------------------------------------------------------

start "$log" --log-level debug
t_check "the daemon starts with the default (secure) metrics" synced "$log"
port=$(port_of "$log" metrics)
url="https://127.0.0.1:$port/metrics"
t_check "it says it serves HTTPS with a self-signed certificate, reviewed by the API server" \
	log_has "metrics listening on 127.0.0.1:0 (port $port), HTTPS, self-signed certificate"

t_eq "no token: 401" "$(get "$url")" 401
t_check "... 'Unauthorized'" grep -qx Unauthorized "$work/body"
t_eq "a garbage token: 401 (upstream answers 500 here)" "$(get "$url" not-a-token)" 401
t_check "... 'Authentication failed' (upstream's text)" grep -qx "Authentication failed" "$work/body"
t_eq "a ServiceAccount without the metrics-reader role: 403" "$(get "$url" "$nobody_token")" 403
t_check "... naming the user" grep -qx "Authorization denied for user system:serviceaccount:$ns:nobody" "$work/body"
t_eq "a ServiceAccount bound to metrics-reader: 200" "$(get "$url" "$reader_token")" 200
t_check "... with the exposition" grep -q '^# TYPE controller_runtime_reconcile_total counter' "$work/body"
t_eq "another path: 404, also with a good token" "$(get "https://127.0.0.1:$port/healthz" "$reader_token")" 404
t_eq "HEAD is allowed like GET" "$(curl -sk --max-time 15 -I -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $reader_token" "$url")" 200
t_check_fails "plain HTTP on the secure port gets no exposition" bash -c "curl -s --max-time 5 'http://127.0.0.1:$port/metrics' | grep -q controller_runtime"

# the reviews are cached: scrapes within the TTL send no new TokenReview (rest_client counts POSTs)
posts() { awk '$1 ~ /^rest_client_requests_total\{code="201",host=.*method="POST"\}$/ { n += $2 } END { print n + 0 }' "$work/body"; }
get "$url" "$reader_token" >/dev/null
p1=$(posts)
get "$url" "$reader_token" >/dev/null
get "$url" "$reader_token" >/dev/null
p2=$(posts)
t_check "the reviews are counted as POSTs answered 201 ($p1)" test "$p1" -gt 0
t_eq "decisions are cached: two more scrapes within 10 s make no new review" "$p2" "$p1"
# (the signature part: a JWT's header is the same for every token of one issuer)
t_check "no token appears in the (debug) log" bash -c "! grep -qF -- '${reader_token: -40}' '$log' && ! grep -qF -- '${nobody_token: -40}' '$log'"

# TLS: 1.2+ only, forward-secret AEAD suites only (operator/base/certwatch.h CERTWATCH_TLS_PRIORITIES)
tls() { openssl s_client -connect "127.0.0.1:$port" "$@" </dev/null 2>/dev/null | grep -Eq '^New, TLSv1\.[0-3], Cipher is [A-Z]'; }
t_check "TLS 1.3 handshakes" tls -tls1_3
t_check "TLS 1.2 with ECDHE and AES-GCM handshakes" tls -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
# (@SECLEVEL=0 lets OpenSSL offer TLS 1.1 at all: the refusal is then the server's)
t_check_fails "TLS 1.1 is refused" tls -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
t_check_fails "TLS 1.2 with a CBC suite is refused" tls -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA
t_check "the self-signed certificate names localhost and 127.0.0.1" bash -c "openssl s_client -connect 127.0.0.1:$port </dev/null 2>/dev/null |
	openssl x509 -noout -ext subjectAltName | grep -q 'DNS:localhost.*IP Address:127.0.0.1'"

# --- every family, after a reconcile -------------------------------------------------------------------

kubectl apply -f - >/dev/null <<YAML
apiVersion: core.spinkube.dev/v1alpha1
kind: SpinAppExecutor
metadata: {name: containerd-shim-spin, namespace: $ns}
spec: {createDeployment: true, deploymentConfig: {runtimeClassName: wasmtime-spin-v2}}
---
apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata: {name: app, namespace: $ns}
spec: {image: "ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0", executor: containerd-shim-spin, replicas: 1}
YAML
reconciled() {
	get "$url" "$reader_token" >/dev/null &&
		grep -qE '^controller_runtime_reconcile_total\{controller="spinapp",result="success"\} [1-9]' "$work/body" &&
		grep -qE '^controller_runtime_reconcile_total\{controller="spinappexecutor",result="success"\} [1-9]' "$work/body"
}
t_check "both controllers reconcile (controller_runtime_reconcile_total success > 0)" retry 60 reconciled
cp "$work/body" "$work/scrape.txt"

if command -v promtool >/dev/null; then
	t_check "promtool check metrics accepts the exposition" bash -c "promtool check metrics <'$work/scrape.txt'"
fi

# family <name> <type> <sample regexp (after the name; a leading = stands for the space before an unlabelled
# value)>: the TYPE line, and a sample with these labels.
family() {
	set -- "$1" "$2" "${3/#=/ }"
	grep -qx "# TYPE $1 $2" "$work/scrape.txt" || { echo "no '# TYPE $1 $2'"; return 1; }
	grep -qE "^$1$3" "$work/scrape.txt" || { echo "no sample matching '$1$3':"; grep "^$1" "$work/scrape.txt" | head -5; return 1; }
}
c='controller="spinapp"'
q='controller="spinapp",name="spinapp"'
num='[0-9.e+-]+$'
while read -r name type sample; do
	t_check "family $name ($type)" family "$name" "$type" "$sample"
done <<EOF
controller_runtime_reconcile_total counter \{controller="spinapp",result="success"\} [1-9][0-9]*$
controller_runtime_reconcile_errors_total counter \{$c\} $num
controller_runtime_terminal_reconcile_errors_total counter \{$c\} $num
controller_runtime_reconcile_time_seconds histogram _bucket\{$c,le="0.005"\} $num
controller_runtime_active_workers gauge \{$c\} $num
controller_runtime_max_concurrent_reconciles gauge \{$c\} 8$
workqueue_adds_total counter \{$q\} [1-9][0-9]*$
workqueue_depth gauge \{$q\} $num
workqueue_queue_duration_seconds histogram _bucket\{$q,le="1e-08"\} $num
workqueue_work_duration_seconds histogram _count\{$q\} [1-9][0-9]*$
workqueue_retries_total counter \{$q\} $num
workqueue_unfinished_work_seconds gauge \{$q\} $num
workqueue_longest_running_processor_seconds gauge \{$q\} $num
rest_client_requests_total counter \{code="200",host="127.0.0.1:[0-9]+",method="GET"\} [1-9][0-9]*$
rest_client_request_duration_seconds histogram _bucket\{host="127.0.0.1:[0-9]+",verb="GET",le="0.005"\} $num
process_cpu_seconds_total counter =$num
process_resident_memory_bytes gauge =[1-9][0-9]*$
process_open_fds gauge =[1-9][0-9]*$
process_max_fds gauge =[1-9][0-9]*$
process_start_time_seconds gauge =1[0-9]{9}(\.[0-9]+)?$
spin_operator_api_writes_total counter =[1-9][0-9]*$
EOF
t_check "controller_runtime_reconcile_time_seconds has controller-runtime's 40 buckets, the last 60" bash -c "
	[ \$(grep -c '^controller_runtime_reconcile_time_seconds_bucket{controller=\"spinapp\",' '$work/scrape.txt') = 41 ] &&
	grep -q '^controller_runtime_reconcile_time_seconds_bucket{controller=\"spinapp\",le=\"60\"}' '$work/scrape.txt'"
t_check "workqueue_queue_duration_seconds has ExponentialBuckets(1e-8, 10, 12), up to 1000" bash -c "
	[ \$(grep -c '^workqueue_queue_duration_seconds_bucket{controller=\"spinapp\",name=\"spinapp\",' '$work/scrape.txt') = 13 ] &&
	grep -q '^workqueue_queue_duration_seconds_bucket{controller=\"spinapp\",name=\"spinapp\",le=\"1000\"}' '$work/scrape.txt'"
start_s=$(awk '$1 == "process_start_time_seconds" { printf "%d", $2 }' "$work/scrape.txt")
t_check "process_start_time_seconds is in the last two minutes (the daemon started in this suite)" bash -c "
	now=\$(date +%s); [ \$((now - $start_s)) -ge -1 ] && [ \$((now - $start_s)) -lt 120 ]"

# --- --metrics-cert-path, -name, -key: the given pair, reloaded when it changes --------------------------

mkcert() { # mkcert <dir> <cn> <key type: rsa:2048, or ec -pkeyopt ec_paramgen_curve:P-256>
	# shellcheck disable=SC2086 # $3 is several words on purpose
	openssl req -x509 -newkey $3 -nodes -days 2 -subj "/CN=$2" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$1/k.tmp" -out "$1/c.tmp" 2>/dev/null &&
		mv "$1/k.tmp" "$1/metrics.key" && mv "$1/c.tmp" "$1/metrics.pem"
}
certs="$work/certs"
mkdir -p "$certs"
mkcert "$certs" first rsa:2048
log2="$work/files.log"
start "$log2" --metrics-cert-path "$certs" --metrics-cert-name metrics.pem --metrics-cert-key metrics.key
t_check "the daemon starts with --metrics-cert-path/-name/-key" synced "$log2"
port2=$(port_of "$log2" metrics)
served_cn() { openssl s_client -connect "127.0.0.1:$port2" </dev/null 2>/dev/null | openssl x509 -noout -subject 2>/dev/null; }
t_check "it serves the given certificate" bash -c "openssl s_client -connect 127.0.0.1:$port2 </dev/null 2>/dev/null | openssl x509 -noout -subject | grep -q 'CN *= *first'"
t_eq "... and still wants a token" "$(get "https://127.0.0.1:$port2/metrics")" 401
# with an RSA key the server could offer RSA key exchange, which has no forward secrecy: it must not
tls2() { openssl s_client -connect "127.0.0.1:$port2" "$@" </dev/null 2>/dev/null | grep -Eq '^New, TLSv1\.[0-3], Cipher is [A-Z]'; }
t_check "TLS 1.2 with ECDHE-RSA and AES-GCM handshakes" tls2 -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
t_check_fails "TLS 1.2 with RSA key exchange (no forward secrecy) is refused" tls2 -tls1_2 -cipher AES128-GCM-SHA256:AES256-GCM-SHA384
mkcert "$certs" second "ec -pkeyopt ec_paramgen_curve:P-256"
cn_is_second() { served_cn | grep -q 'CN *= *second'; }
t_check "a new pair in the files is served within the 10 s poll" retry 30 cn_is_second
t_check "... and logged as a reload" grep -q "metrics serving certificate reloaded from $certs/metrics.pem" "$log2"

# --- --metrics-secure=false: plain HTTP, no authentication --------------------------------------------

log3="$work/plain.log"
start "$log3" --metrics-secure=false
t_check "the daemon starts with --metrics-secure=false" synced "$log3"
port3=$(port_of "$log3" metrics)
t_check "it says it serves plain HTTP" grep -q "metrics listening on 127.0.0.1:0 (port $port3), plain HTTP" "$log3"
t_eq "plain HTTP without a token: 200" "$(curl -s --max-time 15 -o "$work/body" -w '%{http_code}' "http://127.0.0.1:$port3/metrics")" 200
t_check "... with the exposition" grep -q '^# TYPE workqueue_depth gauge' "$work/body"
t_check_fails "a bad --metrics-secure value is refused" "$OPERATOR" --metrics-secure=maybe --help
t_check "--metrics-secure (no value) and --metrics-secure=true parse" bash -c "'$OPERATOR' --metrics-secure --help >/dev/null && '$OPERATOR' --metrics-secure=true --help >/dev/null"
t_check "--help documents the metrics flags" bash -c "'$OPERATOR' --help | grep -q -- '--metrics-secure' && '$OPERATOR' --help | grep -q -- '--metrics-cert-path' && '$OPERATOR' --help | grep -q -- '--metrics-cert-name' && '$OPERATOR' --help | grep -q -- '--metrics-cert-key'"

# --- a clean stop ---------------------------------------------------------------------------------------

# the app and the executor go while the daemons run, so the executor's finalizer is released and the
# namespace does not linger (terminating) into the next suite
t_check "delete the SpinApp and the SpinAppExecutor (finalizer released)" \
	kubectl -n "$ns" delete spinapp/app spinappexecutor/containerd-shim-spin --timeout=60s
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
stopped() { local p; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
t_eq "three daemons ran" "${#pids[@]}" 3
t_check "all three daemons stop on SIGTERM" retry 40 stopped
exited_0() { local l; for l in "$log" "$log2" "$log3"; do grep -q 'stopped (exit 0)' "$l" || { tail -5 "$l"; return 1; }; done; }
t_check "... with exit 0 logged" exited_0
# and exit status 0 (under ASan a leak at exit would make it 1)
statuses=""
for p in "${pids[@]}"; do wait "$p"; statuses+="$? "; done
t_eq "... and exit status 0" "$statuses" "0 0 0 "
pids=()
t_check "delete the test namespace and the reader's role and binding" bash -c "kubectl delete namespace '$ns' --timeout=60s &&
	kubectl delete clusterrolebinding '$ns-reader' && kubectl delete clusterrole '$reader_role'"
exit 0
