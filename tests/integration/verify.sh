# Image signature verification end to end (issue 5, docs/verify-images.md "Tests"): the real kube-apiserver
# calls the operator's admission webhook (tests/webhook/register-local.sh, limited to this suite's labelled
# namespaces), which verifies SpinApp images against real registries on 127.0.0.1 (distribution v3.1.1 from
# tests/registry/up.sh: anonymous, Bearer token, Basic) holding Spin-shaped artifacts pushed with oras and signed
# with the real cosign v3.1.2 CLI, offline, in the classic (.sig) and the v3 bundle formats
# (tests/verify/fixtures.sh, which first checks every fixture with `cosign verify`).
#
# distribution v3.1.1 has no OCI referrers API, so the bundle cases exercise the referrers fallback tag
# (sha256-<hex> index); the suite checks that the registry answers the referrers endpoint with 404.
# Run by tests/run.sh (see tests/lib.sh for the environment).
set -uo pipefail
source "$REPO/tests/lib.sh"

REGISTER=$REPO/tests/webhook/register-local.sh
TOOLS_BIN=$REPO/.tools/bin
export NAME_PREFIX="spin-operator-verify-$$-"
label="spin-operator-verify-test-$$"
export MATCH_LABEL="$label=1"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
VERIFY_TIMEOUT=3s

work=$(mktemp -d)
log=$work/operator.log
pid="" hang_pid="" hang_feed_pid="" ns="" warnns="" sysns=""
regs=("$work/reg-public" "$work/reg-token" "$work/reg-basic")
cleanup() {
	"$REGISTER" unregister >/dev/null 2>&1
	local p
	for p in $pid $hang_pid $hang_feed_pid; do
		{ kill -9 "$p" && wait "$p"; } 2>/dev/null
	done
	local r n
	for r in "${regs[@]}"; do
		REGISTRY_DIR=$r "$REPO/tests/registry/down.sh" >/dev/null 2>&1
	done
	for n in $ns $warnns $sysns; do
		kubectl delete namespace "$n" --wait=false >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT

for tool in openssl jq curl kubectl htpasswd "$TOOLS_BIN/cosign" "$TOOLS_BIN/oras" "$TOOLS_BIN/registry" \
	"$TOOLS_BIN/tokenserver"; do
	command -v "$tool" >/dev/null || {
		t_fail "$tool is not installed (make deps tools)"
		exit 0
	}
done
if [ ! -x "$OPERATOR" ]; then
	t_fail "operator binary $OPERATOR is missing (make build)"
	exit 0
fi

log_has() { grep -q -- "$1" "$log"; }
port_of() { sed -n "s/.*$1 listening on .* (port \([0-9]*\).*/\1/p" "$log" | tail -1; }
t_eq() { # t_eq <what> <got> <want>
	if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1: got \"$2\", want \"$3\""; fi
}

# ---- registries and fixtures ----------------------------------------------------------------------------

ca_dir=$work/ca
up_registry() { # up_registry <dir> <auth>
	REGISTRY_DIR=$1 REGISTRY_AUTH=$2 REGISTRY_CA_DIR=$ca_dir "$REPO/tests/registry/up.sh" >"$1.up.log" 2>&1
}
for spec in "${regs[0]}:none" "${regs[1]}:token" "${regs[2]}:basic"; do
	if ! up_registry "${spec%:*}" "${spec##*:}"; then
		t_fail "registry (${spec##*:} auth) did not start: $(tail -5 "${spec%:*}.up.log")"
		exit 0
	fi
done
t_ok "three registries on 127.0.0.1 with TLS: anonymous, Bearer token (tokenserver), Basic (htpasswd -B)"
PUB=$(. "${regs[0]}/env" && echo "$REGISTRY_HOST")
PRIV=$(. "${regs[1]}/env" && echo "$REGISTRY_HOST")
BASIC=$(. "${regs[2]}/env" && echo "$REGISTRY_HOST")
PUB_LOG=${regs[0]}/logs/registry.log

fixtures() { # fixtures <registry dir> <out> <set>
	KEYS_DIR=$work/keys "$REPO/tests/verify/fixtures.sh" "$1" "$2" "$3" >"$2.log" 2>&1
}
if ! fixtures "${regs[0]}" "$work/fx-public" public; then
	t_fail "fixtures (public set) could not be made: $(tail -8 "$work/fx-public.log")"
	exit 0
fi
t_ok "fixtures pushed with oras, signed with cosign (classic and v3 bundle), each checked with cosign verify"
for spec in "${regs[1]}:fx-token" "${regs[2]}:fx-basic"; do
	if ! fixtures "${spec%:*}" "$work/${spec##*:}" private; then
		t_fail "fixtures (private set, ${spec##*:}) could not be made: $(tail -8 "$work/${spec##*:}.log")"
		exit 0
	fi
done
t_ok "private fixtures on the token and Basic registries (unreadable without credentials)"
# shellcheck source=/dev/null
. "$work/fx-public/fixtures.env"
t_eq "distribution v3.1.1 has no referrers API (bundles use the sha256-<hex> fallback tag)" "$FX_REFERRERS_API_STATUS" 404
FX_TOKEN_PRIVATE=$(. "$work/fx-token/fixtures.env" && echo "$FX_PRIVATE")
FX_TOKEN_PRIVATE_DIGEST=$(. "$work/fx-token/fixtures.env" && echo "$FX_PRIVATE_DIGEST")
FX_TOKEN_PRIVATE_BUNDLE=$(. "$work/fx-token/fixtures.env" && echo "$FX_PRIVATE_BUNDLE")
FX_TOKEN_PRIVATE_BUNDLE_DIGEST=$(. "$work/fx-token/fixtures.env" && echo "$FX_PRIVATE_BUNDLE_DIGEST")
FX_BASIC_PRIVATE=$(. "$work/fx-basic/fixtures.env" && echo "$FX_PRIVATE")
FX_BASIC_PRIVATE_DIGEST=$(. "$work/fx-basic/fixtures.env" && echo "$FX_PRIVATE_DIGEST")

# A registry that is down (a port nobody listens on) and one that accepts TLS and never answers.
dead_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		ss -Hltn | grep -q ":$p\$" || { echo "$p"; return; }
	done
}
DEAD=127.0.0.1:$(dead_port)
mkfifo "$work/hang.in"
sleep 600 >"$work/hang.in" &
hang_feed_pid=$!
openssl s_server -accept 127.0.0.1:0 -cert "${regs[0]}/pki/tls.crt" -key "${regs[0]}/pki/tls.key" \
	<"$work/hang.in" >"$work/hang.log" 2>&1 &
hang_pid=$!
retry 10 grep -qs '^ACCEPT' "$work/hang.log"
HANG=127.0.0.1:$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$work/hang.log")

# ---- namespaces, credentials, policy, operator, registration --------------------------------------------

labelled_ns() {
	local n
	n=$(t_ns "$1") && kubectl label namespace "$n" "$label=1" >/dev/null && echo "$n"
}
ns=$(labelled_ns verify)
warnns=$(labelled_ns verify-warn)
sysns=$(t_ns verify-sys)
docker_secret() { # docker_secret <ns> <name> <registry dir>
	(
		. "$3/env"
		kubectl -n "$1" create secret docker-registry "$2" --docker-server="$REGISTRY_HOST" \
			--docker-username="$REGISTRY_USER" --docker-password="$REGISTRY_PASSWORD" >/dev/null
	)
}
t_check "pull Secrets: the token registry's in the app namespace, the Basic registry's as the global Secret" \
	bash -c "$(declare -f docker_secret); docker_secret '$ns' token-pull '${regs[1]}' && docker_secret '$sysns' global-pull '${regs[2]}'"

write_policy() { # write_policy <trusted key file for the public rule> [extra key file]
	local tmp=$work/policy.yaml.tmp
	{
		cat <<EOF
rules:
- name: warn-only
  images: ["$PUB/spin/**"]
  namespaces: ["$warnns"]
  mode: warn
  keys:
  - name: release
    publicKeyFile: $FX_TRUSTED_PUB
- name: spin-public
  images: ["$PUB/spin/**"]
  mode: enforce
  keys:
  - name: release
    publicKey: |
$(sed 's/^/      /' "$1")
EOF
		cat <<EOF
  - name: curve-p384
    publicKeyFile: $FX_P384_PUB
  - name: curve-p521
    publicKeyFile: $FX_P521_PUB
EOF
		if [ -n "${2:-}" ]; then
			cat <<EOF
  - name: second
    publicKeyFile: $2
EOF
		fi
		cat <<EOF
- name: private-token
  images: ["$PRIV/**"]
  keys:
  - name: release
    publicKeyFile: $FX_TRUSTED_PUB
- name: private-basic
  images: ["$BASIC/**"]
  keys:
  - name: release
    publicKeyFile: $FX_TRUSTED_PUB
- name: unreachable
  images: ["$DEAD/**", "$HANG/**"]
  keys:
  - name: release
    publicKeyFile: $FX_TRUSTED_PUB
cacheTTL: 5m
EOF
	} >"$tmp"
	mv -f "$tmp" "$work/policy.yaml"
}
write_policy "$FX_TRUSTED_PUB"

# ---- spin-operator verify: the same policy and registries from the command line (no cluster) -----------

# cli <out> args...: runs `spin-operator verify` with the policy and the test CA; stdout in <out>, stderr in
# <out>.err, the exit status in $cli_status. A sanitizer report counts as a failure of its own.
cli() {
	local out=$1
	shift
	"$OPERATOR" verify --policy "$work/policy.yaml" --registry-ca-file "$ca_dir/ca.crt" \
		--registry-allow-private-realms --verify-timeout "$VERIFY_TIMEOUT" "$@" >"$out" 2>"$out.err"
	cli_status=$?
	if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$out.err"; then
		t_fail "spin-operator verify $*: sanitizer report"
		head -30 "$out.err" | sed 's/^/    /'
	fi
}
# block_of <out> <image>: the lines of one image's block.
block_of() { awk -v img="$2" '$0 == img { on = 1; print; next } /^[^ ]/ { on = 0 } on' "$1"; }
cli_has() { # cli_has <what> <out> <image> <line>...
	local what=$1 out=$2 img=$3 b l
	shift 3
	b=$(block_of "$out" "$img")
	for l in "$@"; do
		grep -qxF -- "$l" <<<"$b" || {
			t_fail "$what: no line \"$l\" in:"
			sed 's/^/    /' <<<"$b" "$out.err"
			return
		}
	done
	t_ok "$what"
}

cli "$work/cli-ok" "$FX_SIGNED_CLASSIC" "$FX_SIGNED_BUNDLE"
t_eq "verify: signed images (real cosign, classic and bundle) exit 0" "$cli_status" 0
cli_has "verify: classic signature: rule, digest, key and pinned reference printed" "$work/cli-ok" \
	"$FX_SIGNED_CLASSIC" "  rule:     spin-public (enforce)" "  digest:   $FX_SIGNED_CLASSIC_DIGEST" \
	"  verified: simple-signing key release" "  pinned:   $FX_SIGNED_CLASSIC@$FX_SIGNED_CLASSIC_DIGEST"
cli_has "verify: v3 bundle (referrers fallback tag) verified by the bundle" "$work/cli-ok" "$FX_SIGNED_BUNDLE" \
	"  digest:   $FX_SIGNED_BUNDLE_DIGEST" "  verified: bundle key release" "  webhook:  admits it"

cli "$work/cli-bad" "$FX_SIGNED_CLASSIC" "$FX_UNSIGNED" "$FX_OTHER_KEY" "$FX_WRONG_DIGEST"
t_eq "verify: one unverified image among four exits 1" "$cli_status" 1
cli_has "verify: unsigned -> no signatures found, refused" "$work/cli-bad" "$FX_UNSIGNED" \
	"  digest:   $FX_UNSIGNED_DIGEST" "  failed:   no signatures found" "  webhook:  refuses it"
cli_has "verify: signed by another key -> no trusted key of the rule" "$work/cli-bad" "$FX_OTHER_KEY" \
	"  failed:   no signature verifies with a trusted key of rule spin-public"
cli_has "verify: a trusted signature of another digest -> names both digests" "$work/cli-bad" "$FX_WRONG_DIGEST" \
	"  failed:   signature payload binds $FX_SIGNED_CLASSIC_DIGEST not $FX_WRONG_DIGEST_DIGEST"

cli "$work/cli-warn" -n "$warnns" "$FX_UNSIGNED"
t_eq "verify -n <warn namespace>: unverified under a warn rule still exits 1" "$cli_status" 1
cli_has "verify -n: the namespace selects the warn rule; the webhook would admit with a warning" "$work/cli-warn" \
	"$FX_UNSIGNED" "  rule:     warn-only (warn)" "  webhook:  admits it with a warning (mode warn)"

cli "$work/cli-anon" "$FX_TOKEN_PRIVATE"
t_eq "verify: a private image without credentials is not verified (exit 1)" "$cli_status" 1
cli_has "verify: ... the registry's refusal is the reason" "$work/cli-anon" "$FX_TOKEN_PRIVATE" \
	"  rule:     private-token (enforce)" "  webhook:  refuses it"
cli "$work/cli-auth" --registry-config "${regs[1]}/docker/config.json" "$FX_TOKEN_PRIVATE" "$FX_TOKEN_PRIVATE_BUNDLE"
t_eq "verify --registry-config <oras login's config.json>: Bearer-token registry, exit 0" "$cli_status" 0
cli_has "verify --registry-config: private classic image verified" "$work/cli-auth" "$FX_TOKEN_PRIVATE" \
	"  digest:   $FX_TOKEN_PRIVATE_DIGEST" "  verified: simple-signing key release"
cli "$work/cli-basic" --registry-config "${regs[2]}/docker/config.json" -o json "$FX_BASIC_PRIVATE"
t_check "verify -o json --registry-config: Basic-auth registry, verified" jq -e --arg d "$FX_BASIC_PRIVATE_DIGEST" '
	length == 1 and .[0].result == "verified" and .[0].decision == "admit" and .[0].digest == $d
	and .[0].rule == "private-basic" and .[0].verifiedBy == "simple-signing key release"' "$work/cli-basic"
cli "$work/cli-dead" "$DEAD/spin/x:v1"
t_eq "verify: a registry that is down is an error, exit 1" "$cli_status" 1
cli_has "verify: ... reported as an error, refused" "$work/cli-dead" "$DEAD/spin/x:v1" \
	"  rule:     unreachable (enforce)" "  webhook:  refuses it"

certs=$work/certs
"$REGISTER" certs "$certs" >/dev/null 2>&1
# The API server presents its webhook client certificate (tests/cluster/up.sh): with this CA the webhook serves
# only it, its reviews are authenticated and private images are pinned. Emptied for the unauthenticated run.
client_ca=(--webhook-client-ca-file "$CLUSTER_DIR/pki/webhook-client/ca.crt")
start_operator() { # start_operator [extra flags...]
	"$OPERATOR" --kubeconfig "$KUBECONFIG" --webhook-bind-address 127.0.0.1:0 --webhook-cert-dir "$certs" "${client_ca[@]}" \
		--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 --metrics-secure=false --log-level info \
		--verify-policy "$work/policy.yaml" --verify-timeout "$VERIFY_TIMEOUT" \
		--registry-ca-file "$ca_dir/ca.crt" --registry-allow-private-realms \
		--registry-credentials-secret "$sysns/global-pull" "$@" >>"$log" 2>&1 &
	pid=$!
	retry 30 log_has "caches synced"
}
if ! start_operator; then
	t_fail "the operator did not start with --verify-policy: $(tail -5 "$log")"
	exit 0
fi
wport=$(port_of "admission webhook")
mport=$(port_of "metrics")
t_check "register-local.sh registers the webhooks for this suite's namespaces" "$REGISTER" register "$wport" "$certs"

SHIM='{"createDeployment":true,"deploymentConfig":{"runtimeClassName":"wasmtime-spin-v2"}}'
for n in "$ns" "$warnns"; do
	printf '{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinAppExecutor","metadata":{"name":"shim","namespace":"%s"},"spec":%s}' \
		"$n" "$SHIM" | kubectl apply -f - >/dev/null
done
executor_cached() { log_has "SpinAppExecutor seen $ns/shim " || kubectl -n "$ns" get spinappexecutor shim >/dev/null; }
retry 20 executor_cached

# ---- helpers ---------------------------------------------------------------------------------------------

# create <ns> <image> [pull secret]: creates a SpinApp; its name in APP, kubectl's output in OUT, status 0/1.
# Names come from a counter file, so that calls inside t_check (a subshell) never reuse one.
echo 0 >"$work/n_app"
create() {
	local n
	n=$(($(cat "$work/n_app") + 1))
	echo "$n" >"$work/n_app"
	APP=app-$n
	local secrets=""
	[ -z "${3:-}" ] || secrets=",\"imagePullSecrets\":[{\"name\":\"$3\"}]"
	OUT=$(printf '{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":"%s","namespace":"%s"},"spec":{"image":"%s","replicas":1,"executor":"shim"%s}}' \
		"$APP" "$1" "$2" "$secrets" | kubectl create -f - 2>&1)
}
image_of() { kubectl -n "$1" get spinapp "$2" -o jsonpath='{.spec.image}'; }
# admitted <what> <ns> <image> <want spec.image> [pull secret]
admitted() {
	local what=$1 n=$2 img=$3 want=$4 got
	if ! create "$n" "$img" "${5:-}"; then
		t_fail "$what: denied: $OUT"
		return
	fi
	got=$(image_of "$n" "$APP")
	t_eq "$what" "$got" "$want"
}
# denied <what> <ns> <image> <message substring> [pull secret]
denied() {
	local what=$1 n=$2 img=$3 want=$4
	if create "$n" "$img" "${5:-}"; then
		t_fail "$what: admitted (spec.image $(image_of "$n" "$APP"))"
	elif [[ $OUT == *"$want"* ]]; then
		t_ok "$what"
	else
		t_fail "$what"
		echo "    want a message containing: $want"
		echo "    got: $OUT"
	fi
}
metric() { # metric <name with labels>: its value (0 when absent)
	local v
	v=$(curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 == m {print $2}' | tail -1)
	echo "${v:-0}"
}
registry_requests() { metric spin_operator_registry_requests_total; }
pub_log_requests() { grep -c 'response completed' "$PUB_LOG"; }

# ---- enforce: admitted and pinned -------------------------------------------------------------------------

nv() { echo "image $1 ($2) is not verified: $3"; }
admitted "signed by the trusted key (classic .sig) -> admitted, spec.image pinned to tag@digest" \
	"$ns" "$FX_SIGNED_CLASSIC" "$FX_SIGNED_CLASSIC@$FX_SIGNED_CLASSIC_DIGEST"
admitted "signed by the trusted key (cosign v3 bundle, fallback tag) -> admitted and pinned" \
	"$ns" "$FX_SIGNED_BUNDLE" "$FX_SIGNED_BUNDLE@$FX_SIGNED_BUNDLE_DIGEST"
admitted "P-384 key made by openssl, imported into cosign, classic signature ($FX_P384_HASH) -> admitted and pinned" \
	"$ns" "$FX_P384_CLASSIC" "$FX_P384_CLASSIC@$FX_P384_CLASSIC_DIGEST"
admitted "P-384 key, cosign v3 bundle -> admitted and pinned" \
	"$ns" "$FX_P384_BUNDLE" "$FX_P384_BUNDLE@$FX_P384_BUNDLE_DIGEST"
admitted "P-521 key made by openssl, imported into cosign, v3 bundle -> admitted and pinned" \
	"$ns" "$FX_P521_BUNDLE" "$FX_P521_BUNDLE@$FX_P521_BUNDLE_DIGEST"
admitted "two signatures, one by the trusted key -> admitted and pinned" \
	"$ns" "$FX_TWO_SIGS" "$FX_TWO_SIGS@$FX_TWO_SIGS_DIGEST"
admitted "already pinned (tag@digest) and signed -> admitted unchanged" \
	"$ns" "$FX_SIGNED_BUNDLE@$FX_SIGNED_BUNDLE_DIGEST" "$FX_SIGNED_BUNDLE@$FX_SIGNED_BUNDLE_DIGEST"
admitted "an image no rule matches is admitted unchanged" \
	"$ns" "ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0" \
	"ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0"

# ---- enforce: denied --------------------------------------------------------------------------------------

denied "unsigned -> denied" "$ns" "$FX_UNSIGNED" "$(nv "$FX_UNSIGNED" "$FX_UNSIGNED_DIGEST" "no signatures found")"
denied "signed by another key (classic) -> denied" "$ns" "$FX_OTHER_KEY" \
	"$(nv "$FX_OTHER_KEY" "$FX_OTHER_KEY_DIGEST" "no signature verifies with a trusted key of rule spin-public")"
denied "signed by another key (bundle) -> denied" "$ns" "$FX_OTHER_KEY_BUNDLE" \
	"$(nv "$FX_OTHER_KEY_BUNDLE" "$FX_OTHER_KEY_BUNDLE_DIGEST" "no signature verifies with a trusted key of rule spin-public")"
denied "classic signature whose payload binds another digest -> denied" "$ns" "$FX_WRONG_DIGEST" \
	"$(nv "$FX_WRONG_DIGEST" "$FX_WRONG_DIGEST_DIGEST" "signature payload binds $FX_SIGNED_CLASSIC_DIGEST not $FX_WRONG_DIGEST_DIGEST")"
denied "bundle whose statement binds another digest -> denied" "$ns" "$FX_WRONG_DIGEST_BUNDLE" \
	"$(nv "$FX_WRONG_DIGEST_BUNDLE" "$FX_WRONG_DIGEST_BUNDLE_DIGEST" "signature payload binds $FX_SIGNED_BUNDLE_DIGEST not $FX_WRONG_DIGEST_BUNDLE_DIGEST")"
denied "a tag that does not exist -> denied" "$ns" "$PUB/spin/unsigned:nope" "image $PUB/spin/unsigned:nope (unresolved) is not verified"
update_to_unsigned() {
	local first=app-1 out
	if out=$(kubectl -n "$ns" patch spinapp "$first" --type merge -p "{\"spec\":{\"image\":\"$FX_UNSIGNED\"}}" 2>&1); then
		echo "admitted: $out"
		return 1
	fi
	[[ $out == *"$(nv "$FX_UNSIGNED" "$FX_UNSIGNED_DIGEST" "no signatures found")"* ]] || { echo "$out"; return 1; }
	[ "$(image_of "$ns" "$first")" = "$FX_SIGNED_CLASSIC@$FX_SIGNED_CLASSIC_DIGEST" ]
}
t_check "an UPDATE to an unsigned image is denied and the pinned image stays" update_to_unsigned

# ---- failure: registry down, registry hanging ---------------------------------------------------------------

t0=$SECONDS
denied "registry down (connection refused) -> denied" "$ns" "$DEAD/spin/app:v1" \
	"image $DEAD/spin/app:v1 (unresolved) is not verified: registry $DEAD unreachable"
echo "# report | registry down (connection refused) | the review is denied with the operator's reason, nothing admitted unverified | the API server's 10 s webhook timeout | $((SECONDS - t0)) s"
# The deny must come from the operator within its own deadline (--verify-timeout $VERIFY_TIMEOUT), not from the
# API server's 10 s webhook timeout (failurePolicy Fail would then show a different, generic error).
t0=$SECONDS
denied "registry that never answers -> denied with the operator's deadline message" "$ns" "$HANG/spin/app:v1" \
	"image $HANG/spin/app:v1 (unresolved) is not verified: verification deadline exceeded"
echo "# report | registry accepts TLS and never answers | denied by the operator's own deadline (--verify-timeout $VERIFY_TIMEOUT), not the API server's timeout | 10 s | $((SECONDS - t0)) s"
t_check "the hanging registry did receive the connection (TLS handshake done)" grep -Eq 'CIPHER is|Shared ciphers' "$work/hang.log"

# ---- private registries ----------------------------------------------------------------------------------

# Without credentials first: failures are never cached, while a verified digest is (by repository, digest and
# rule, not by credential), so afterwards the same digest would be admitted from the cache.
denied "Bearer-token registry without the pull Secret -> denied" "$ns" "$FX_TOKEN_PRIVATE" \
	"image $FX_TOKEN_PRIVATE (unresolved) is not verified: "
token_lines_before=$(grep -c '^.*token: ' "${regs[1]}/logs/tokenserver.log")
admitted "Bearer-token registry via the SpinApp's imagePullSecret (classic) -> admitted and pinned" \
	"$ns" "$FX_TOKEN_PRIVATE" "$FX_TOKEN_PRIVATE@$FX_TOKEN_PRIVATE_DIGEST" token-pull
admitted "Bearer-token registry via imagePullSecret (bundle) -> admitted and pinned" \
	"$ns" "$FX_TOKEN_PRIVATE_BUNDLE" "$FX_TOKEN_PRIVATE_BUNDLE@$FX_TOKEN_PRIVATE_BUNDLE_DIGEST" token-pull
operator_tokens() { # token requests since the operator's first private verification, with access granted
	tail -n +"$((token_lines_before + 1))" "${regs[1]}/logs/tokenserver.log" |
		grep -Eq 'token: 200 account="spin" scopes=[1-9][0-9]* granted=[1-9]'
}
t_check "the operator fetched Bearer tokens with the pull Secret's account (token server log)" operator_tokens
admitted "Basic-auth registry via --registry-credentials-secret -> admitted and pinned" \
	"$ns" "$FX_BASIC_PRIVATE" "$FX_BASIC_PRIVATE@$FX_BASIC_PRIVATE_DIGEST"

# forge <out> <image> [pull secret] [curl flags...]: a mutating review POSTed straight to the webhook, as anyone
# who reaches its port could; the HTTP status on stdout ("000" when the connection was refused).
forge() {
	local out=$1 img=$2 sec=${3:-} secrets=""
	shift 3 || shift $#
	[ -z "$sec" ] || secrets=",\"imagePullSecrets\":[{\"name\":\"$sec\"}]"
	printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"forged-1","kind":{"group":"core.spinkube.dev","version":"v1alpha1","kind":"SpinApp"},"resource":{"group":"core.spinkube.dev","version":"v1alpha1","resource":"spinapps"},"namespace":"%s","operation":"CREATE","object":{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":"forged","namespace":"%s"},"spec":{"image":"%s","replicas":1,"executor":"shim"%s}}}}' \
		"$ns" "$ns" "$img" "$secrets" >"$out.req"
	: >"$out"
	curl -s -o "$out" -w '%{http_code}' --max-time 20 --cacert "$certs/ca.crt" -H 'Content-Type: application/json' \
		--data-binary "@$out.req" "$@" "https://127.0.0.1:$wport/mutate-core-spinkube-dev-v1alpha1-spinapp"
}
code=$(forge "$work/forged-nocert" "$FX_TOKEN_PRIVATE" token-pull)
if [ "$code" = 000 ] || [ "$code" = 403 ]; then
	t_ok "with a client CA, a review POSTed without a client certificate is refused (the handshake fails, or 403)"
else
	t_fail "with a client CA, a review without a client certificate got $code: $(head -c 300 "$work/forged-nocert")"
fi
code=$(forge "$work/forged-othercert" "$FX_TOKEN_PRIVATE" token-pull --cert "$CLUSTER_DIR/pki/admin.crt" \
	--key "$CLUSTER_DIR/pki/admin.key")
if [ "$code" = 000 ] || [ "$code" = 403 ]; then
	t_ok "…and with a certificate from another CA (the cluster's admin certificate): refused"
else
	t_fail "with a client CA, a review with the admin certificate got $code"
fi

# ---- warn mode -------------------------------------------------------------------------------------------

warned() {
	create "$warnns" "$FX_UNSIGNED" || { echo "$OUT"; return 1; }
	[[ $OUT == *"Warning: $(nv "$FX_UNSIGNED" "$FX_UNSIGNED_DIGEST" "no signatures found")"* ]] || { echo "$OUT"; return 1; }
	[ "$(image_of "$warnns" "$APP")" = "$FX_UNSIGNED" ]
}
t_check "warn mode: unsigned is admitted unchanged, with the reason as an AdmissionReview warning" warned
warned_other() {
	create "$warnns" "$FX_OTHER_KEY" || { echo "$OUT"; return 1; }
	[[ $OUT == *"Warning: image $FX_OTHER_KEY ($FX_OTHER_KEY_DIGEST) is not verified: no signature verifies with a trusted key of rule warn-only"* ]] ||
		{ echo "$OUT"; return 1; }
}
t_check "warn mode: another key's signature is admitted with a warning naming rule warn-only" warned_other

# ---- cache -------------------------------------------------------------------------------------------------

cached_no_requests() {
	local before_m before_l after_m after_l
	before_m=$(registry_requests)
	before_l=$(pub_log_requests)
	create "$ns" "$FX_SIGNED_CLASSIC@$FX_SIGNED_CLASSIC_DIGEST" || { echo "$OUT"; return 1; }
	after_m=$(registry_requests)
	after_l=$(pub_log_requests)
	echo "spin_operator_registry_requests_total $before_m -> $after_m; registry access log $before_l -> $after_l"
	[ "$before_m" != 0 ] && [ "$before_m" = "$after_m" ] && [ "$before_l" = "$after_l" ]
}
t_check "a cached verification (digest already verified) makes no registry request (metric and registry log)" \
	cached_no_requests
t_check "verifications are counted by result" bash -c "
	curl -s http://127.0.0.1:$mport/metrics | grep -E '^spin_operator_image_verifications_total\{result=\"[a-z_]+\"\} [1-9]'"
t_check "one info log line per verification names image, digest and rule" \
	grep -E "$FX_SIGNED_CLASSIC_DIGEST.*spin-public|spin-public.*$FX_SIGNED_CLASSIC_DIGEST" "$log"

# ---- policy hot reload -------------------------------------------------------------------------------------

other_admitted() { create "$ns" "$FX_OTHER_KEY"; }
write_policy "$FX_TRUSTED_PUB" "$FX_OTHER_PUB"
t_check "policy hot reload: after adding the other key to rule spin-public, its signature is admitted" \
	retry 30 other_admitted
printf 'rules:\n- name: [broken\n' >"$work/policy.yaml.tmp" && mv -f "$work/policy.yaml.tmp" "$work/policy.yaml"
bad_logged() { grep -q "policy $work/policy.yaml changed but is refused, the previous policy stays in force" "$log"; }
t_check "a bad new policy file is logged" retry 30 bad_logged
t_check "…and the previous policy stays: the other key is still admitted" other_admitted
denied "…and unsigned is still denied" "$ns" "$FX_UNSIGNED" "$(nv "$FX_UNSIGNED" "$FX_UNSIGNED_DIGEST" "no signatures found")"
write_policy "$FX_TRUSTED_PUB"
other_denied() {
	create "$ns" "$FX_OTHER_KEY" && return 1
	[[ $OUT == *"no signature verifies with a trusted key of rule spin-public"* ]]
}
t_check "a good file again: the other key is denied again (cached results of the old policy are not reused)" \
	retry 30 other_denied

# ---- --verify-pin-digest=false -----------------------------------------------------------------------------

# stop_operator <what>: SIGTERM; it exits 0 with no sanitizer report (under SANITIZE=address,undefined, leaks of
# the verification paths show up here).
stop_operator() {
	local st=0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || st=$?
	pid=""
	if [ "$st" = 0 ] && ! grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
		t_ok "$1"
	else
		t_fail "$1: exit status $st"
		grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" | head -30 | sed 's/^/    /'
	fi
}
stop_operator "the operator stops cleanly on SIGTERM after the verifications (exit 0, no sanitizer report)"
: >"$log"
if start_operator --verify-pin-digest=false; then
	wport2=$(port_of "admission webhook")
	mport=$(port_of "metrics")
	"$REGISTER" register "$wport2" "$certs" >/dev/null
	unpinned() {
		create "$ns" "$FX_SIGNED_BUNDLE" || { echo "$OUT"; return 1; }
		[ "$(image_of "$ns" "$APP")" = "$FX_SIGNED_BUNDLE" ]
	}
	t_check "--verify-pin-digest=false: a signed image is admitted with spec.image unchanged" retry 15 unpinned
	denied "--verify-pin-digest=false: unsigned is still denied" "$ns" "$FX_UNSIGNED" \
		"$(nv "$FX_UNSIGNED" "$FX_UNSIGNED_DIGEST" "no signatures found")"
	stop_operator "the operator with --verify-pin-digest=false stops cleanly"
else
	t_fail "the operator did not restart with --verify-pin-digest=false: $(tail -5 "$log")"
fi

# ---- no client CA: callers are not authenticated, private digests are withheld ------------------------------

client_ca=()
: >"$log"
if start_operator; then
	wport=$(port_of "admission webhook")
	"$REGISTER" register "$wport" "$certs" >/dev/null
	# patch_image <answer>: the spec.image the answer's JSON patch sets ("" for none).
	patch_image() { jq -r '.response.patch // empty' "$1" | base64 -d 2>/dev/null |
		jq -r '.[] | select(.path == "/spec/image") | .value' 2>/dev/null; }
	forged_private() {
		[ "$(forge "$work/forged-private" "$FX_TOKEN_PRIVATE" token-pull)" = 200 ] &&
			jq -e '.response.allowed == true' "$work/forged-private" >/dev/null
	}
	t_check "no client CA: a forged review naming a private image and its pull Secret is answered (allowed)" \
		retry 15 forged_private
	t_eq "…with no pin in the patch" "$(patch_image "$work/forged-private")" ""
	t_check "…and the digest nowhere in the answer" bash -c "! grep -q '${FX_TOKEN_PRIVATE_DIGEST#sha256:}' '$work/forged-private'"
	t_check "…and a warning says it is withheld and how to enable pinning" \
		jq -e '.response.warnings | map(select(test("withheld.*--webhook-client-ca-file"))) | length == 1' \
		"$work/forged-private"
	forge "$work/forged-public" "$FX_SIGNED_CLASSIC" >/dev/null
	t_eq "no client CA: a public image (resolved anonymously) is still pinned" \
		"$(patch_image "$work/forged-public")" "$FX_SIGNED_CLASSIC@$FX_SIGNED_CLASSIC_DIGEST"
	if create "$ns" "$FX_TOKEN_PRIVATE" token-pull; then
		t_eq "no client CA: through the API server, a private image is admitted unpinned" \
			"$(image_of "$ns" "$APP")" "$FX_TOKEN_PRIVATE"
		if [[ $OUT == *"withheld"* ]]; then t_ok "…with the warning (kubectl prints it)"
		else t_fail "…no warning in kubectl's output: $OUT"; fi
	else
		t_fail "no client CA: a private image with its pull Secret was denied: $OUT"
	fi
	stop_operator "the operator without a client CA stops cleanly"
else
	t_fail "the operator did not restart without a client CA: $(tail -5 "$log")"
fi

exit 0
