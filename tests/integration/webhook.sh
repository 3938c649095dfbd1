# The admission webhook through the real kube-apiserver: the operator serves HTTPS on 127.0.0.1, and
# tests/webhook/register-local.sh registers it (url https://127.0.0.1:<port>/<path> with our CA), limited to
# this suite's labelled namespaces. Checks defaulting, upstream's exact messages, two stricter checks,
# server-side dry run, certificate rotation under load with zero failed requests, the TLS floor, the body cap,
# and readiness. Run by tests/run.sh (see tests/lib.sh for the environment).
set -uo pipefail
source "$REPO/tests/lib.sh"

REGISTER=$REPO/tests/webhook/register-local.sh
export NAME_PREFIX="spin-operator-test-$$-" # configuration names of this run only
label="spin-operator-webhook-test-$$"
export MATCH_LABEL="$label=1"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
GROUP_PATH=/apis/core.spinkube.dev/v1alpha1
IMAGE=ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0

work=$(mktemp -d)
certs=$work/certs
log=$work/operator.log
pid="" proxy_pid="" loop_pid="" s_server_pid="" ns="" other="" empty=""
cleanup() {
	[ -n "$loop_pid" ] && kill "$loop_pid" 2>/dev/null
	"$REGISTER" unregister >/dev/null 2>&1
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
	[ -n "$s_server_pid" ] && kill "$s_server_pid" 2>/dev/null
	for n in $ns $other $empty; do
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

log_has() { grep -q -- "$1" "$log"; }
t_eq() { # t_eq <what> <got> <want> [detail shown on failure]
	if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1: got \"$2\", want \"$3\"${4:+ ($4)}"; fi
}
port_of() { sed -n "s/.*$1 listening on .* (port \([0-9]*\).*/\1/p" "$log" | tail -1; }
serial() { # the serial of the certificate the webhook serves to a new connection
	openssl s_client -connect "127.0.0.1:$wport" -servername localhost -CAfile "$certs/ca.crt" </dev/null 2>/dev/null |
		openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}
serial_is() { [ "$(serial)" = "$1" ]; }
log_count() { grep -c -- "$1" "$log"; }
log_count_above() { [ "$(log_count "$1")" -gt "$2" ]; }
labelled_ns() { # labelled_ns <prefix>: a fresh namespace sent to the webhooks
	local n
	n=$(t_ns "$1") && kubectl label namespace "$n" "$label=1" >/dev/null && echo "$n"
}

# ---- certificates, operator, registration ------------------------------------------------------------

t_check "register-local.sh certs makes a CA and a serving pair" "$REGISTER" certs "$certs"
t_check "the serving certificate has IP:127.0.0.1 and DNS:localhost" bash -c \
	"openssl x509 -noout -ext subjectAltName -in '$certs/tls.crt' | grep -q 'IP Address:127.0.0.1' &&
	 openssl x509 -noout -ext subjectAltName -in '$certs/tls.crt' | grep -q 'DNS:localhost' &&
	 openssl verify -CAfile '$certs/ca.crt' '$certs/tls.crt'"

"$OPERATOR" --kubeconfig "$KUBECONFIG" --webhook-bind-address 127.0.0.1:0 --webhook-cert-dir "$certs" \
	--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 --metrics-secure=false --log-level debug >"$log" 2>&1 &
pid=$!
if ! retry 30 log_has "caches synced"; then
	t_fail "the operator did not start: $(tail -5 "$log")"
	exit 0
fi
wport=$(port_of "admission webhook")
hport=$(port_of "health probes")
mport=$(port_of "metrics")
t_check "the webhook serves the certificate from --webhook-cert-dir" log_has "serving certificate loaded from $certs/tls.crt"
t_check "/readyz is ready (caches synced, certificate loaded)" retry 10 curl -sf "http://127.0.0.1:$hport/readyz"
bind_conflict() { # a second operator asked for the same address exits 1, saying why
	! timeout 20 "$OPERATOR" --kubeconfig "$KUBECONFIG" --webhook-bind-address "127.0.0.1:$wport" \
		--webhook-cert-dir "$certs" --health-probe-bind-address 0 --metrics-bind-address 0 >"$work/conflict.log" 2>&1 &&
		grep -q "admission webhook: cannot listen on 127.0.0.1:$wport" "$work/conflict.log"
}
t_check "an explicit --webhook-bind-address that cannot be bound is fatal" bind_conflict
t_check "register-local.sh registers both configurations" "$REGISTER" register "$wport" "$certs"
t_check "the configurations point at 127.0.0.1 with our CA, Fail, None, v1, 10 s" bash -c "
	kubectl get mutatingwebhookconfiguration/${NAME_PREFIX}mutating-webhook-configuration \
		validatingwebhookconfiguration/${NAME_PREFIX}validating-webhook-configuration -o json |
	jq -e --arg ca \"\$(base64 -w0 <'$certs/ca.crt')\" '[.items[].webhooks[]] | length == 4 and all(.[];
		(.clientConfig.url | startswith(\"https://127.0.0.1:$wport/\")) and .clientConfig.caBundle == \$ca
		and .failurePolicy == \"Fail\" and .sideEffects == \"None\" and .admissionReviewVersions == [\"v1\"]
		and .timeoutSeconds == 10 and .rules[0].operations == [\"CREATE\", \"UPDATE\"])
		and ([.[].name] | sort) == [\"mspinapp.kb.io\", \"mspinappexecutor.kb.io\", \"vspinapp.kb.io\", \"vspinappexecutor.kb.io\"]'"

# The exact Status the API server sends goes through kubectl proxy (kubectl reformats Invalid errors).
kubectl proxy --port=0 >"$work/proxy.log" 2>&1 &
proxy_pid=$!
retry 10 grep -q "Starting to serve" "$work/proxy.log"
pport=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$work/proxy.log" | head -1)
api() { # api <method> <path> [json]: the API server's answer
	curl -s --max-time 20 -X "$1" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} \
		"http://127.0.0.1:$pport$2"
}

ns=$(labelled_ns webhook)
other=$(labelled_ns webhook-other)
empty=$(labelled_ns webhook-empty)

executor() { # executor <ns> <name> <spec json>
	printf '{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinAppExecutor","metadata":{"name":"%s","namespace":"%s"},"spec":%s}' \
		"$2" "$1" "$3"
}
app() { # app <ns> <name> <spec json>
	printf '{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":"%s","namespace":"%s"},"spec":%s}' \
		"$2" "$1" "$3"
}
# denied <what> <kind plural> <json> <webhook> <message>: creating json is refused with exactly that message.
denied() {
	local what=$1 plural=$2 json=$3 hook=$4 msg=$5 ans n
	n=$(jq -r .metadata.namespace <<<"$json")
	ans=$(api POST "$GROUP_PATH/namespaces/$n/$plural" "$json")
	if jq -e --arg m "admission webhook \"$hook\" denied the request: $msg" \
		'.kind == "Status" and .code == 422 and .reason == "Invalid" and .message == $m' <<<"$ans" >/dev/null; then
		t_ok "$what"
	else
		t_fail "$what"
		echo "    want: admission webhook \"$hook\" denied the request: $msg"
		echo "    got:  $(jq -r '.message // .' <<<"$ans" 2>&1 | head -5)"
	fi
}

SHIM='{"createDeployment":true,"deploymentConfig":{"runtimeClassName":"wasmtime-spin-v2"}}'
executors() {
	printf '%s\n' "$(executor "$ns" zeta-shim "$SHIM")" "$(executor "$ns" beta-shim "$SHIM")" \
		"$(executor "$ns" no-deploy '{"createDeployment":false}')" "$(executor "$other" aaa-shim "$SHIM")" |
		kubectl apply -f -
}
t_check "executors are admitted" executors
# The webhook reads the operator's cache: wait until it holds the four executors (its debug log says so).
cached() {
	log_has "SpinAppExecutor seen $ns/zeta-shim " && log_has "SpinAppExecutor seen $ns/beta-shim " &&
		log_has "SpinAppExecutor seen $ns/no-deploy " && log_has "SpinAppExecutor seen $other/aaa-shim "
}
t_check "the operator's cache sees the executors" retry 20 cached

# ---- defaulting ------------------------------------------------------------------------------------------

app "$ns" defaulted "{\"image\":\"$IMAGE\",\"replicas\":1,\"executor\":\"\"}" | kubectl apply -f - >"$work/apply.out" 2>&1
got=$(kubectl get spinapp defaulted -n "$ns" -o jsonpath='{.spec.executor}' 2>/dev/null)
t_eq "an app without executor gets its namespace's first executor (beta-shim, not aaa-shim of $other)" "$got" beta-shim \
	"$(cat "$work/apply.out")"
app "$empty" nothing "{\"image\":\"$IMAGE\",\"replicas\":1,\"executor\":\"\"}" | kubectl apply -f - >"$work/empty.out" 2>&1
t_check "with no executor in the namespace, kubectl shows the webhook's warning" \
	grep -q "Warning: no SpinAppExecutor exists in namespace \"$empty\", so spec.executor was not defaulted" "$work/empty.out"
explicit() {
	app "$ns" explicit "{\"image\":\"$IMAGE\",\"replicas\":1,\"executor\":\"zeta-shim\"}" | kubectl apply -f - &&
		[ "$(kubectl get spinapp explicit -n "$ns" -o jsonpath='{.spec.executor}')" = zeta-shim ]
}
t_check "an explicit executor is kept" explicit

# ---- upstream's checks, upstream's messages (contract §3.3, §3.4) -----------------------------------------

# Upstream refuses replicas 0 too (its Go struct cannot tell it from an omitted field); here 0 scales to zero.
denied "replicas omitted without autoscaling" spinapps \
	"$(app "$ns" r0 "{\"image\":\"$IMAGE\",\"executor\":\"beta-shim\"}")" vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "r0" is invalid: spec.replicas: Required value: replicas must be set unless autoscaling is enabled (0 scales the app to zero)'
zero_admitted() {
	app "$ns" zero "{\"image\":\"$IMAGE\",\"executor\":\"beta-shim\",\"replicas\":0}" | kubectl apply -f - &&
		[ "$(kubectl get spinapp zero -n "$ns" -o jsonpath='{.spec.replicas}')" = 0 ]
}
t_check "replicas 0 without autoscaling is admitted (scale to zero) and stored as 0" zero_admitted
denied "replicas with autoscaling" spinapps \
	"$(app "$ns" r2 "{\"image\":\"$IMAGE\",\"executor\":\"beta-shim\",\"replicas\":2,\"enableAutoscaling\":true}")" \
	vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "r2" is invalid: spec.replicas: Invalid value: 2: replicas cannot be set when autoscaling is enabled'
denied "no executor to default to" spinapps \
	"$(app "$empty" noexec "{\"image\":\"$IMAGE\",\"executor\":\"\",\"replicas\":1}")" vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "noexec" is invalid: spec.executor: Invalid value: "": executor must be set, likely no default executor was set because you have no executors installed'
denied "an executor that does not exist" spinapps \
	"$(app "$ns" cyc "{\"image\":\"$IMAGE\",\"executor\":\"cyclotron\",\"replicas\":1}")" vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "cyc" is invalid: spec.executor: Invalid value: "cyclotron": executor does not exist in namespace'
denied "an executor of another namespace" spinapps \
	"$(app "$ns" elsewhere "{\"image\":\"$IMAGE\",\"executor\":\"aaa-shim\",\"replicas\":1}")" vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "elsewhere" is invalid: spec.executor: Invalid value: "aaa-shim": executor does not exist in namespace'
denied "deploymentAnnotations with a createDeployment: false executor" spinapps \
	"$(app "$ns" annot "{\"image\":\"$IMAGE\",\"executor\":\"no-deploy\",\"replicas\":1,\"deploymentAnnotations\":{\"key\":\"asdf\"}}")" \
	vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "annot" is invalid: spec.deploymentAnnotations: Invalid value: {"key":"asdf"}: deploymentAnnotations can'"'"'t be set when the executor does not use operator deployments'
denied "podAnnotations with a createDeployment: false executor" spinapps \
	"$(app "$ns" pannot "{\"image\":\"$IMAGE\",\"executor\":\"no-deploy\",\"replicas\":1,\"podAnnotations\":{\"key\":\"asdf\"}}")" \
	vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "pannot" is invalid: spec.podAnnotations: Invalid value: {"key":"asdf"}: podAnnotations can'"'"'t be set when the executor does not use operator deployments'
denied "two errors are aggregated as upstream renders them" spinapps \
	"$(app "$ns" two "{\"image\":\"$IMAGE\",\"executor\":\"cyclotron\",\"replicas\":2,\"enableAutoscaling\":true}")" vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "two" is invalid: [spec.executor: Invalid value: "cyclotron": executor does not exist in namespace, spec.replicas: Invalid value: 2: replicas cannot be set when autoscaling is enabled]'
denied "an executor with both runtimeClassName and spinImage" spinappexecutors \
	"$(executor "$ns" both '{"createDeployment":true,"deploymentConfig":{"runtimeClassName":"foo","spinImage":"ghcr.io/a/b:v1"}}')" \
	vspinappexecutor.kb.io \
	'SpinAppExecutor.core.spinkube.dev "both" is invalid: spec.deploymentConfig.runtimeClassName: Invalid value: "foo": runtimeClassName and spinImage are mutually exclusive'
denied "an executor with neither" spinappexecutors \
	"$(executor "$ns" neither '{"createDeployment":true,"deploymentConfig":{}}')" vspinappexecutor.kb.io \
	'SpinAppExecutor.core.spinkube.dev "neither" is invalid: spec.deploymentConfig.runtimeClassName: Invalid value: null: either runtimeClassName or spinImage must be set'

# ---- stricter checks (docs/compat.md) ---------------------------------------------------------------------

denied "a malformed image reference" spinapps \
	"$(app "$ns" badimage '{"image":"Not An Image","executor":"beta-shim","replicas":1}')" vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "badimage" is invalid: spec.image: Invalid value: "Not An Image": must be an OCI image reference: [registry[:port]/]repository[:tag][@sha256:<64 hex digits>], with a lowercase repository path'
denied "a volume named like one the operator adds" spinapps \
	"$(app "$ns" vol "{\"image\":\"$IMAGE\",\"executor\":\"beta-shim\",\"replicas\":1,\"volumes\":[{\"name\":\"spin-runtime-config\",\"emptyDir\":{}}]}")" \
	vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "vol" is invalid: spec.volumes[0].name: Invalid value: "spin-runtime-config": the name of a volume the operator adds'
# The pod options (issue 15 §2): the checks the CRD schema cannot make reach the webhook.
denied "spec.env naming a variable the operator sets" spinapps \
	"$(app "$ns" envres "{\"image\":\"$IMAGE\",\"executor\":\"beta-shim\",\"replicas\":1,\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"},{\"name\":\"SPIN_HTTP_LISTEN_ADDR\",\"value\":\"0.0.0.0:8080\"}]}")" \
	vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "envres" is invalid: spec.env[2].name: Invalid value: "SPIN_HTTP_LISTEN_ADDR": the operator sets this variable itself'
denied "a downward-API path env cannot use, and a toleration value with Exists" spinapps \
	"$(app "$ns" envpath "{\"image\":\"$IMAGE\",\"executor\":\"beta-shim\",\"replicas\":1,\"env\":[{\"name\":\"NODE\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.nodeIP\"}}}],\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\",\"value\":\"v\"}]}")" \
	vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "envpath" is invalid: [spec.env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "status.nodeIP": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs", spec.tolerations[0].operator: Invalid value: "v": value must be empty when `operator` is '"'Exists'"']'
sample_admitted() { # the sample's SpinApp (not its cluster-scoped PriorityClass), under this suite's executor
	awk '/^---/ { exit } { print }' "$REPO/config/samples/scheduling.yaml" |
		sed 's/executor: containerd-shim-spin/executor: beta-shim/' | kubectl apply -n "$ns" -f -
}
t_check "the scheduling sample's SpinApp (every pod option) is admitted" sample_admitted

# spec.route (issue 15 §3): the Gateway API's rules the CRD schema cannot express reach the webhook.
denied "a route with an upper-case host name, an IP address and a relative path prefix" spinapps \
	"$(app "$ns" badroute "{\"image\":\"$IMAGE\",\"executor\":\"beta-shim\",\"replicas\":1,\"route\":{\"parentRefs\":[{\"name\":\"gw\"}],\"hostnames\":[\"Hello.example.com\",\"10.0.0.1\"],\"pathPrefixes\":[\"api\"]}}")" \
	vspinapp.kb.io \
	'SpinApp.core.spinkube.dev "badroute" is invalid: [spec.route.hostnames[0]: Invalid value: "Hello.example.com": must be a lowercase DNS name (RFC 1123) of at most 253 characters, optionally starting with a '"'*.'"' wildcard label; IP addresses are not allowed, spec.route.hostnames[1]: Invalid value: "10.0.0.1": must be a lowercase DNS name (RFC 1123) of at most 253 characters, optionally starting with a '"'*.'"' wildcard label; IP addresses are not allowed, spec.route.pathPrefixes[0]: Invalid value: "api": must be an absolute path: must start with '"'/'"']'
route_sample_admitted() { # the route sample's SpinApp, under this suite's executor
	sed 's/executor: containerd-shim-spin/executor: beta-shim/' "$REPO/config/samples/route.yaml" | kubectl apply -n "$ns" -f -
}
t_check "the route sample's SpinApp is admitted" route_sample_admitted

# What kubectl users see for the same refusal.
app "$ns" r0 "{\"image\":\"$IMAGE\",\"executor\":\"beta-shim\"}" | kubectl apply -f - >"$work/kubectl.out" 2>&1
t_check "kubectl apply shows the refusal" grep -qF 'spec.replicas: Required value: replicas must be set unless autoscaling is enabled (0 scales the app to zero)' "$work/kubectl.out"
patch_refused() {
	! kubectl patch spinapp explicit -n "$ns" --type merge -p '{"spec":{"enableAutoscaling":true}}' >"$work/patch.out" 2>&1 &&
		grep -q 'spec.replicas: Invalid value: 1: replicas cannot be set when autoscaling is enabled' "$work/patch.out"
}
t_check "updates are validated too" patch_refused

# ---- server-side dry run --------------------------------------------------------------------------------

dry_defaulted() {
	app "$ns" dry "{\"image\":\"$IMAGE\",\"replicas\":1,\"executor\":\"\"}" |
		kubectl apply --dry-run=server -o jsonpath='{.spec.executor}' -f - | grep -qx beta-shim
}
dry_refused() {
	if app "$ns" drybad "{\"image\":\"$IMAGE\",\"executor\":\"beta-shim\"}" |
		kubectl apply --dry-run=server -f - >"$work/dry.out" 2>&1; then
		cat "$work/dry.out"
		return 1
	fi
	grep -q 'replicas must be set unless autoscaling is enabled' "$work/dry.out" || { cat "$work/dry.out"; return 1; }
}
t_check "kubectl apply --dry-run=server admits and defaults a valid app" dry_defaulted
t_check_fails "the dry run created nothing" kubectl get spinapp dry -n "$ns"
t_check "an invalid app is refused in a dry run too" dry_refused

# ---- TLS ---------------------------------------------------------------------------------------------------

# handshake <port> <openssl version option> [option...]: the handshake completes (s_client succeeds and
# settles on a cipher). -cipher lets OpenSSL offer TLS 1.0/1.1 at all (its security level forbids them).
handshake() {
	local port=$1
	shift
	if openssl s_client -connect "127.0.0.1:$port" -servername localhost -cipher 'DEFAULT:@SECLEVEL=0' "$@" \
		</dev/null >"$work/tls.out" 2>&1 && ! grep -q 'Cipher is (NONE)' "$work/tls.out"; then
		return 0
	fi
	grep -E 'Protocol|Cipher is|error' "$work/tls.out" | head -5
	return 1
}
t_check "TLS 1.2 works, and the certificate verifies for IP 127.0.0.1" \
	handshake "$wport" -tls1_2 -CAfile "$certs/ca.crt" -verify_ip 127.0.0.1 -verify_return_error
t_check "TLS 1.3 works, and the certificate verifies for localhost" \
	handshake "$wport" -tls1_3 -CAfile "$certs/ca.crt" -verify_hostname localhost -verify_return_error
# A control first: this openssl client does speak TLS 1.1, to a server that allows it.
timeout 30 openssl s_server -accept 127.0.0.1:0 -cert "$certs/tls.crt" -key "$certs/tls.key" -tls1_1 \
	-cipher 'DEFAULT:@SECLEVEL=0' -www >"$work/s_server.log" 2>&1 &
s_server_pid=$!
retry 10 grep -qs '^ACCEPT' "$work/s_server.log"
sport=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$work/s_server.log")
t_check "control: the client speaks TLS 1.1 to a server that allows it" handshake "$sport" -tls1_1
t_check_fails "TLS 1.1 is refused by the webhook" handshake "$wport" -tls1_1
t_check_fails "TLS 1.0 is refused by the webhook" handshake "$wport" -tls1
kill "$s_server_pid" 2>/dev/null
wait "$s_server_pid" 2>/dev/null

# ---- the HTTP layer, directly ------------------------------------------------------------------------------

post() { # post <path> <content-type> <body file>: HTTP status
	curl -s -o "$work/post.out" -w '%{http_code}' --max-time 30 --cacert "$certs/ca.crt" -H "Content-Type: $2" \
		-H 'Expect:' --data-binary "@$3" "https://127.0.0.1:$wport$1"
}
head -c $((4 << 20)) /dev/zero | tr '\0' ' ' >"$work/big.json"
code=$(post /validate-core-spinkube-dev-v1alpha1-spinapp application/json "$work/big.json")
t_eq "a 4 MiB body gets 413" "$code" 413 "$(head -c 200 "$work/post.out")"
echo '{' >"$work/bad.json"
code=$(post /validate-core-spinkube-dev-v1alpha1-spinapp application/json "$work/bad.json")
t_eq "a malformed body gets 400" "$code" 400
code=$(post /no-such-webhook application/json "$work/bad.json")
t_eq "an unknown path gets 404" "$code" 404
code=$(post /validate-core-spinkube-dev-v1alpha1-spinapp text/plain "$work/bad.json")
t_eq "another content type gets 415" "$code" 415
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$certs/ca.crt" "https://127.0.0.1:$wport/validate-core-spinkube-dev-v1alpha1-spinapp")
t_eq "GET gets 405" "$code" 405
still_serving() {
	app "$ns" after "{\"image\":\"$IMAGE\",\"replicas\":1,\"executor\":\"beta-shim\"}" | kubectl apply --dry-run=server -f -
}
t_check "the webhook keeps serving after those" still_serving

# ---- certificate rotation under load -----------------------------------------------------------------------

before=$(serial)
t_check "the served serial is readable ($before)" test -n "$before"
good=$(app "$ns" loaded "{\"image\":\"$IMAGE\",\"replicas\":1,\"executor\":\"\"}")
printf '%s' "$good" >"$work/good.json"
# 60 server-side dry runs, one every ~1/3 s, each through both webhooks; failures are counted.
(
	fails=0
	for _ in $(seq 60); do
		kubectl apply --dry-run=server -f "$work/good.json" >>"$work/loop.out" 2>&1 || fails=$((fails + 1))
		sleep 0.3
	done
	echo "$fails" >"$work/loop.fails"
) &
loop_pid=$!
sleep 3
"$REGISTER" certs "$certs" >"$work/rotate.out" 2>&1
new=$(sed -n 's/.*serial \([0-9A-F]*\).*/\1/p' "$work/rotate.out")
t_check "the pair is replaced with a new one from the same CA" bash -c \
	"[ -n '$new' ] && [ '$new' != '$before' ] && openssl verify -CAfile '$certs/ca.crt' '$certs/tls.crt'"
t_check "the webhook serves the new certificate within 15 s, without a restart" retry 15 serial_is "$new"
t_check "the reload is logged" log_has "serving certificate reloaded from $certs/tls.crt: serial $new"
wait "$loop_pid"
loop_pid=""
fails=$(cat "$work/loop.fails" 2>/dev/null || echo "?")
ok=$(grep -c 'created (server dry run)\|configured (server dry run)\|unchanged (server dry run)' "$work/loop.out")
t_eq "60 dry runs during the rotation, none failed" "$fails failed, $ok succeeded" "0 failed, 60 succeeded" \
	"$(grep -v 'server dry run' "$work/loop.out" | head -3)"
echo "# report | serving certificate rotated under load | 60 dry runs through both webhooks during the rotation, none failed, no restart | 0 failed | $fails failed, $ok succeeded"
t_check "the process did not restart" kill -0 "$pid"

# A bad pair is refused and the good one kept.
cp "$certs/tls.key" "$work/good.key"
openssl ecparam -name prime256v1 -genkey -noout -out "$work/other.key" 2>/dev/null
refusals=$(log_count "serving certificate not reloaded: the private key does not belong")
mv -f "$work/other.key" "$certs/tls.key"
t_check "a key that does not match is refused, with a log line" \
	retry 15 log_count_above "serving certificate not reloaded: the private key does not belong" "$refusals"
t_check "the previous certificate is still served" serial_is "$new"
t_check "reviews still pass" kubectl apply --dry-run=server -f "$work/good.json"
mv -f "$work/good.key" "$certs/tls.key"

# ---- metrics, readiness, shutdown ---------------------------------------------------------------------------

t_check "metrics count reviews per webhook and code" bash -c "curl -s http://127.0.0.1:$mport/metrics |
	grep -E '^controller_runtime_webhook_requests_total\{code=\"200\",webhook=\"/validate-core-spinkube-dev-v1alpha1-spinapp\"\} [1-9]'"
t_check "metrics count the certificate reads" bash -c "curl -s http://127.0.0.1:$mport/metrics | grep -E '^certwatcher_read_certificate_total [2-9]'"

t_check "register-local.sh unregister removes both configurations" "$REGISTER" unregister
t_check_fails "the configurations are gone" kubectl get mutatingwebhookconfiguration "${NAME_PREFIX}mutating-webhook-configuration"
kill -TERM "$pid"
wait "$pid"
status=$?
pid=""
t_eq "SIGTERM stops the operator with exit 0" "$status" 0 "$(tail -3 "$log")"

# Without certificates the operator runs but is not ready, and says why.
"$OPERATOR" --kubeconfig "$KUBECONFIG" --webhook-bind-address 127.0.0.1:0 --webhook-cert-dir "$work/none" \
	--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 0 >"$work/nocert.log" 2>&1 &
pid=$!
log=$work/nocert.log
retry 30 log_has "caches synced"
hport=$(port_of "health probes")
readyz=$(curl -s -w ' HTTP %{http_code}' "http://127.0.0.1:$hport/readyz" | tr '\n' ' ')
t_eq "without certificates /readyz is 500 naming the missing files" "$readyz" \
	"[-]webhook: no serving certificate loaded from $work/none/tls.crt and $work/none/tls.key  HTTP 500"
kill -TERM "$pid"
wait "$pid"
pid=""
"$OPERATOR" --kubeconfig "$KUBECONFIG" --webhook-bind-address 0 --health-probe-bind-address 127.0.0.1:0 \
	--metrics-bind-address 0 >"$work/disabled.log" 2>&1 &
pid=$!
log=$work/disabled.log
retry 30 log_has "caches synced"
hport=$(port_of "health probes")
t_check "--webhook-bind-address 0 disables the webhook" log_has "admission webhook disabled"
t_check "without the webhook, /readyz needs only the caches" curl -sf "http://127.0.0.1:$hport/readyz"
kill -TERM "$pid"
wait "$pid"
pid=""
help_lists() { grep -q -- "$1" <<<"$("$OPERATOR" --help)"; } # no pipe: grep -q would SIGPIPE the writer
for flag in --webhook-bind-address --webhook-cert-dir --webhook-cert-file --webhook-key-file; do
	t_check "--help documents $flag" help_lists "$flag"
done
