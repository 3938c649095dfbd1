# The webhook against hostile and broken peers (issue 14 item 3), through the real kube-apiserver: the operator
# serves HTTPS on 127.0.0.1 with an image policy whose one rule names a tarpit registry (accepts, never
# answers), registered by tests/webhook/register-local.sh. Checks that reviews naming the tarpit are answered
# by the verification deadline, or at once when the verification pool is full, while executor reviews and
# reviews no rule applies to are answered within 1 s; and that 1,000 idle TLS connections (from one address
# and from many) and 1,000 half-open ones (no ClientHello) do not keep the API server's reviews out, and are
# closed by the first-request timeout. Peers: $BUILD/tests/badpeer (tests/support/cmd/badpeer.c).
set -uo pipefail
source "$REPO/tests/lib.sh"

REGISTER=$REPO/tests/webhook/register-local.sh
HOSTILE=$BUILD/tests/badpeer
export NAME_PREFIX="spin-operator-deputy-$$-"
label="spin-operator-deputy-test-$$"
export MATCH_LABEL="$label=1"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
VERIFY_TIMEOUT_S=5

work=$(mktemp -d)
certs=$work/certs
log=$work/operator.log
pid="" tarpit_pid="" ns="" hold_pids=""
cleanup() {
	"$REGISTER" unregister >/dev/null 2>&1
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$tarpit_pid" ] && kill "$tarpit_pid" 2>/dev/null
	for p in $hold_pids; do kill "$p" 2>/dev/null; done
	[ -n "$ns" ] && kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

for tool in openssl jq curl kubectl; do
	command -v "$tool" >/dev/null || {
		t_fail "$tool is not installed"
		exit 0
	}
done
if [ ! -x "$OPERATOR" ] || [ ! -x "$HOSTILE" ]; then
	t_fail "$OPERATOR or $HOSTILE is missing (make test-bins)"
	exit 0
fi
log_has() { grep -q -- "$1" "$log"; }
t_eq() { # t_eq <what> <got> <want> [detail shown on failure]
	if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1: got \"$2\", want \"$3\"${4:+ ($4)}"; fi
}
port_of() { sed -n "s/.*$1 listening on .* (port \([0-9]*\).*/\1/p" "$log" | tail -1; }
now() { date +%s.%N; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# ---- the tarpit, the policy, the operator ----------------------------------------------------------------

"$HOSTILE" tarpit "$work/tarpit.port" &
tarpit_pid=$!
retry 10 test -s "$work/tarpit.port"
tport=$(cat "$work/tarpit.port")
openssl ecparam -name prime256v1 -genkey -noout -out "$work/key.pem" 2>/dev/null
openssl ec -in "$work/key.pem" -pubout -out "$work/key.pub" 2>/dev/null
cat >"$work/policy.yaml" <<EOF
rules:
- name: tarpit
  images: ["127.0.0.1:$tport/**"]
  mode: enforce
  keys:
  - name: release
    publicKey: |
$(sed 's/^/      /' "$work/key.pub")
EOF
"$REGISTER" certs "$certs" >/dev/null 2>&1
"$OPERATOR" --kubeconfig "$KUBECONFIG" --webhook-bind-address 127.0.0.1:0 --webhook-cert-dir "$certs" \
	--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 --metrics-secure=false \
	--verify-policy "$work/policy.yaml" --verify-timeout "${VERIFY_TIMEOUT_S}s" --log-level info >"$log" 2>&1 &
pid=$!
if ! retry 30 log_has "caches synced"; then
	t_fail "the operator did not start: $(tail -5 "$log")"
	exit 0
fi
wport=$(port_of "admission webhook")
mport=$(port_of "metrics")
t_check "register-local.sh registers the webhooks" "$REGISTER" register "$wport" "$certs"
ns=$(t_ns deputy) && kubectl label namespace "$ns" "$label=1" >/dev/null

executor() { # executor <name>
	printf '{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinAppExecutor","metadata":{"name":"%s","namespace":"%s"},"spec":{"createDeployment":true,"deploymentConfig":{"runtimeClassName":"wasmtime-spin-v2"}}}' \
		"$1" "$ns"
}
app() { # app <name> <image>
	printf '{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":"%s","namespace":"%s"},"spec":{"image":"%s","replicas":1,"executor":"shim"}}' \
		"$1" "$ns" "$2"
}
executor shim | kubectl create -f - >"$work/shim.out" 2>&1
t_eq "an executor is created through the webhook" "$?" 0 "$(cat "$work/shim.out")"
# wait until the operator's cache has it (the SpinApp rules read it)
sleep 1

# review <json>: an AdmissionReview (CREATE) of the object, as the API server sends it.
review() {
	jq -nc --argjson o "$1" --arg kind "$(jq -r .kind <<<"$1")" --arg res "$(jq -r '.kind | ascii_downcase' <<<"$1")s" \
		'{apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: {uid: "direct",
		  kind: {group: "core.spinkube.dev", version: "v1alpha1", kind: $kind},
		  resource: {group: "core.spinkube.dev", version: "v1alpha1", resource: $res},
		  namespace: $o.metadata.namespace, operation: "CREATE", object: $o}}'
}
# post <path> <body file> <answer file>: POSTs straight to the webhook; prints "<code> <seconds>".
post() {
	curl -s -o "$3" -w '%{http_code} %{time_total}\n' --max-time 20 --cacert "$certs/ca.crt" \
		-H 'Content-Type: application/json' --data-binary "@$2" "https://127.0.0.1:$wport$1"
}
MUTATE_APP=/mutate-core-spinkube-dev-v1alpha1-spinapp
VALIDATE_EXEC=/validate-core-spinkube-dev-v1alpha1-spinappexecutor

# ---- (a) a tarpit registry and executor reviews at the same time -------------------------------------------

# 20 reviews of SpinApps naming the tarpit at once, POSTed straight to the webhook (curl starts in
# milliseconds, kubectl in up to seconds on a loaded machine): the first 12 fill the pool (4 verify, 8 wait)
# and are answered at their deadline, the rest at once, as long as they come before the first deadline.
N_TARPIT=20
for i in $(seq 1 $N_TARPIT); do review "$(app "tp$i" "127.0.0.1:$tport/acme/app$i:v1")" >"$work/tp$i.json"; done
review "$(executor e)" >"$work/exec.json"
review "$(app free ghcr.io/acme/app:v1)" >"$work/free.json"
for i in $(seq 1 $N_TARPIT); do
	post $MUTATE_APP "$work/tp$i.json" "$work/tp$i.out" >"$work/tp$i.rc.tmp" && mv "$work/tp$i.rc.tmp" "$work/tp$i.rc" &
done
# Two through the API server, for the message the user sees.
for i in 1 2; do
	(
		t0=$(now)
		app "api$i" "127.0.0.1:$tport/acme/api$i:v1" | kubectl create -f - >"$work/api$i.out" 2>&1
		echo "$? $(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')" >"$work/api$i.rc"
	) &
done
sleep 0.5
slow_exec="" slow_app="" exec_fail=""
for i in 1 2 3 4 5; do
	read -r code took < <(post $VALIDATE_EXEC "$work/exec.json" "$work/exec.out")
	[ "$code" = 200 ] && jq -e '.response.allowed == true' "$work/exec.out" >/dev/null || exec_fail="$exec_fail $i:$code"
	lt "$took" 1.0 || slow_exec="$slow_exec $took"
	read -r code took < <(post $MUTATE_APP "$work/free.json" "$work/free.out")
	[ "$code" = 200 ] && jq -e '.response.allowed == true' "$work/free.out" >/dev/null || exec_fail="$exec_fail app$i:$code"
	lt "$took" 1.0 || slow_app="$slow_app $took"
done
t_eq "executor reviews are answered during the tarpit (direct POSTs, all allowed)" "$exec_fail" ""
t_eq "each executor review is answered within 1 s while the tarpit holds the verification pool" "$slow_exec" ""
t_eq "each review of a SpinApp no rule applies to is answered within 1 s meanwhile" "$slow_app" ""
t0=$(now)
executor through-api | kubectl create -f - >"$work/exec-api.out" 2>&1
rc=$?
took=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
t_eq "an executor created through the API server meanwhile is admitted" "$rc" 0 "$(cat "$work/exec-api.out")"
# kubectl's own start-up is in this figure: the bound is the review's 1 s plus 2 s for the client.
t_check "... within 3 s of kubectl time (took ${took}s)" lt "$took" 3.0
wait_apps() {
	for i in $(seq 1 $N_TARPIT); do [ -s "$work/tp$i.rc" ] || return 1; done
	[ -s "$work/api1.rc" ] && [ -s "$work/api2.rc" ]
}
t_check "every review naming the tarpit is answered" retry 30 wait_apps
full=0 late=0 other=""
for i in $(seq 1 $N_TARPIT); do
	read -r code took <"$work/tp$i.rc"
	msg="image 127.0.0.1:$tport/acme/app$i:v1 (unresolved) is not verified:"
	m=$(jq -r 'select(.response.allowed == false and .response.status.code == 403) | .response.status.message' "$work/tp$i.out" 2>/dev/null)
	if [ "$code" = 200 ] && [[ "$m" == "$msg verification queue full ("* ]]; then
		full=$((full + 1))
		lt "$took" 1.0 || other="$other tp$i:full:${took}s"
	elif [ "$code" = 200 ] && [ "$m" = "$msg verification deadline exceeded" ]; then
		late=$((late + 1))
		lt "$took" "$((VERIFY_TIMEOUT_S + 1)).5" || other="$other tp$i:late:${took}s"
	else
		other="$other tp$i:$code:$(head -c 300 "$work/tp$i.out")"
	fi
done
t_eq "tarpit reviews are denied by the deadline (+1.5 s) or within 1 s when the pool is full, none otherwise" "$other" ""
t_check "... the 12 that fit the pool waited for their deadline ($late did)" test "$late" -ge 12
t_check "... the others were refused at once ($full were)" test "$full" -ge 1 -a $((full + late)) -eq $N_TARPIT
api_other=""
for i in 1 2; do
	read -r rc took <"$work/api$i.rc"
	grep -Eq "admission webhook \"mspinapp.kb.io\" denied the request: image 127.0.0.1:$tport/acme/api$i:v1 \(unresolved\) is not verified: verification (deadline exceeded|queue full)" \
		"$work/api$i.out" || api_other="$api_other api$i:$(head -c 300 "$work/api$i.out")"
	# kubectl's start-up and the API server are in this figure: 3 s for them
	lt "$took" $((VERIFY_TIMEOUT_S + 3)) || api_other="$api_other api$i:${took}s"
done
t_eq "through the API server, tarpit SpinApps are denied with the reason, by the deadline" "$api_other" ""
curl -s "http://127.0.0.1:$mport/metrics" >"$work/metrics"
# (timeouts_total counts the reviews the pool's timer answered; a run that ends at its deadline answers itself)
t_check "the pool's metrics count the refusals" grep -q "^spin_operator_webhook_verification_pool_rejected_total [1-9]" "$work/metrics"

# ---- (b) idle TLS connections and half-open ones -------------------------------------------------------

# hold <name> <mode> <n> <first source> <per source>: starts badpeer in the background (its output in
# $work/<name>.out; it ends when the server has closed every connection, or after 5 minutes).
hold() {
	"$HOSTILE" "$2" "$wport" "$3" "$4" "$5" < <(sleep 300 2>/dev/null) >"$work/$1.out" 2>&1 &
	hold_pids="$hold_pids $!"
}
held() { grep -q '^ready' "$work/$1.out"; }
ready_of() { sed -n 's/^ready \([0-9]*\)/\1/p' "$work/$1.out"; }
closed() { grep -qx "closed $2" "$work/$1.out"; }
api_reviews() { # an executor and a SpinApp created through the API server, both admitted
	executor "$1-e" | kubectl create -f - >/dev/null && app "$1-a" ghcr.io/acme/app:v1 | kubectl create -f - >/dev/null
}

hold many idle-tls 1000 127.0.1.1 4
t_check "1,000 idle TLS connections from 250 addresses are established" retry 120 held many
t_eq "... all 1,000 handshakes completed" "$(ready_of many)" 1000
t_check "... the API server's reviews are still answered" api_reviews many
t_check "... and the idle connections are closed by the first-request timeout (10 s)" retry 30 closed many 1000

hold one idle-tls 1100 127.0.0.2 1100
t_check "1,100 idle TLS connections from one address are tried" retry 120 held one
one=$(ready_of one)
# Connections are closed 10 s after their handshake while later ones are still being made, so the count of
# handshakes that succeeded is not exactly the limit; some must have been refused.
t_check "... the per-address limit (1,024) refused some of them ($one handshakes completed)" test "$one" -lt 1100
t_check "... the API server's reviews are still answered" api_reviews one
t_check "... and the idle connections are closed by the first-request timeout" retry 30 closed one "$one"

hold half half-open 1000 127.0.0.3 1000
t_check "1,000 half-open connections (no ClientHello) are established" retry 120 held half
t_eq "... all 1,000" "$(ready_of half)" 1000
t_check "... the API server's reviews are still answered" api_reviews half
t_check "... and they are closed by the first-request timeout" retry 30 closed half 1000

t_check "the operator is still running" kill -0 "$pid"
kill -TERM "$pid"
t_check "the operator stops on SIGTERM" retry 30 bash -c "! kill -0 $pid 2>/dev/null"
pid=""
