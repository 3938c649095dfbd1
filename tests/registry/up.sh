#!/usr/bin/env bash
# Starts a test OCI registry (distribution v3, built by tests/tools/build.sh) on 127.0.0.1, on a free port,
# with TLS from a test CA, and optionally authentication. Prints "registry: ready at <host:port> ..." last.
#
#   REGISTRY_DIR=<dir> tests/registry/up.sh         (default <repo>/.registry; stop with tests/registry/down.sh)
#
# Environment:
#   REGISTRY_AUTH      none (default, anonymous pull and push) | basic (htpasswd, bcrypt) | token (Bearer tokens
#                      from tests/tools/tokenserver, which takes Basic credentials; anonymous token requests
#                      get tokens without access)
#   REGISTRY_USER      account for basic/token (default "spin")
#   REGISTRY_PASSWORD  its password (default: random, written to env)
#   REGISTRY_CA_DIR    folder with (or to receive) the test CA ca.crt/ca.key, to share one CA between several
#                      registries (default REGISTRY_DIR/pki)
#   REGISTRY_WAIT_SECS how long to wait for the registry (default 30)
#   REGISTRY_ADDR      the IPv4 address to serve on (default 127.0.0.1); another one of this host's own, such as
#                      the real test node's bridge address, lets pods reach the registry (it is in the certificate)
#
# The env file in REGISTRY_DIR has what clients need; DOCKER_CONFIG and SSL_CERT_FILE from it make oras and
# cosign trust the CA and log in (credentials written with `oras login`). Idempotent: a registry of this
# directory that is alive is kept; a dead one is cleared and started again. The distribution registry has
# no OCI referrers API (v3.1.1), so cosign v3 bundles go to the referrers fallback tag sha256-<hex>.
set -euo pipefail

# shellcheck source=tests/registry/lib.sh
. "$(dirname "$0")/lib.sh"

AUTH=${REGISTRY_AUTH:-none}
USER_NAME=${REGISTRY_USER:-spin}
PASSWORD=${REGISTRY_PASSWORD:-}
CA_DIR=${REGISTRY_CA_DIR:-$REGISTRY_DIR/pki}
WAIT_SECS=${REGISTRY_WAIT_SECS:-30}
ADDR=${REGISTRY_ADDR:-127.0.0.1}
SERVICE=spin-operator-test-registry
ISSUER=spin-operator-test-tokenserver

started=0
on_exit() {
	local st=$?
	if [ "$st" -ne 0 ] && [ "$started" = 1 ]; then
		r_stop_all
		r_remove_state 1
	fi
	exit "$st"
}
trap on_exit EXIT

fail() {
	rlog "FAILED: $*"
	local c
	for c in "${REGISTRY_COMPONENTS[@]}"; do
		[ -f "$REGISTRY_DIR/logs/$c.log" ] || continue
		echo "--- last 20 lines of $REGISTRY_DIR/logs/$c.log" >&2
		tail -n 20 "$REGISTRY_DIR/logs/$c.log" | sed 's/^/    /' >&2
	done
	exit 1
}

alive() {
	[ -f "$REGISTRY_DIR/env" ] || return 1
	r_pid_of registry >/dev/null || return 1
	if grep -q '^REGISTRY_AUTH=token$' "$REGISTRY_DIR/env"; then r_pid_of tokenserver >/dev/null || return 1; fi
	# shellcheck source=/dev/null
	(. "$REGISTRY_DIR/env" && curl -s -o /dev/null --max-time 2 --cacert "$REGISTRY_CA" "$REGISTRY_URL/v2/")
}

gen_ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

make_pki() {
	mkdir -p "$CA_DIR" "$REGISTRY_DIR/pki"
	if [ ! -s "$CA_DIR/ca.crt" ] || [ ! -s "$CA_DIR/ca.key" ]; then
		# Made beside and renamed, so two registries sharing the folder never read half a file.
		local tmp
		tmp=$(mktemp -d "$CA_DIR/.ca.XXXXXX")
		gen_ec_key "$tmp/ca.key"
		openssl req -x509 -new -key "$tmp/ca.key" -days 3650 -subj "/CN=spin-operator test registry CA" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
			-out "$tmp/ca.crt" 2>/dev/null || fail "cannot create the CA"
		chmod 600 "$tmp/ca.key"
		if [ ! -s "$CA_DIR/ca.crt" ]; then
			mv -f "$tmp/ca.key" "$CA_DIR/ca.key"
			mv -f "$tmp/ca.crt" "$CA_DIR/ca.crt"
		fi
		rm -rf "$tmp"
	fi
	local p="$REGISTRY_DIR/pki"
	gen_ec_key "$p/tls.key"
	local san="IP:127.0.0.1,DNS:localhost"
	[ "$ADDR" = 127.0.0.1 ] || san+=",IP:$ADDR"
	printf '%s\n' "subjectAltName=$san" "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$p/ext.cnf"
	openssl req -new -key "$p/tls.key" -subj "/CN=localhost" -out "$p/tls.csr" 2>/dev/null &&
		openssl x509 -req -in "$p/tls.csr" -CA "$CA_DIR/ca.crt" -CAkey "$CA_DIR/ca.key" \
			-set_serial "0x$(openssl rand -hex 16)" -days 30 -extfile "$p/ext.cnf" -out "$p/tls.crt" 2>/dev/null ||
		fail "cannot create the serving certificate"
	[ "$CA_DIR/ca.crt" = "$p/ca.crt" ] || cp "$CA_DIR/ca.crt" "$p/ca.crt"
	cat /etc/ssl/certs/ca-certificates.crt "$p/ca.crt" >"$REGISTRY_DIR/ca-bundle.crt" 2>/dev/null ||
		cp "$p/ca.crt" "$REGISTRY_DIR/ca-bundle.crt"
}

write_config() {
	local auth_block=""
	case "$AUTH" in
	none) ;;
	basic)
		htpasswd -Bbc "$REGISTRY_DIR/htpasswd" "$USER_NAME" "$PASSWORD" 2>/dev/null || fail "htpasswd -B failed"
		auth_block="auth:
  htpasswd:
    realm: spin-operator-test
    path: $REGISTRY_DIR/htpasswd"
		;;
	token)
		auth_block="auth:
  token:
    realm: $TOKEN_URL
    service: $SERVICE
    issuer: $ISSUER
    rootcertbundle: $REGISTRY_DIR/token/signing.crt"
		;;
	esac
	cat >"$REGISTRY_DIR/config.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $ADDR:$REGISTRY_PORT
  secret: $(openssl rand -hex 16)
  tls:
    certificate: $REGISTRY_DIR/pki/tls.crt
    key: $REGISTRY_DIR/pki/tls.key
  headers:
    X-Content-Type-Options: [nosniff]
  draintimeout: 1s
$auth_block
EOF
}

start_tokenserver() {
	local i
	mkdir -p "$REGISTRY_DIR/token"
	[ -s "$REGISTRY_DIR/token/signing.key" ] || gen_ec_key "$REGISTRY_DIR/token/signing.key"
	rm -f "$REGISTRY_DIR/token/port" "$REGISTRY_DIR/token/signing.crt"
	r_launch tokenserver "$TOOLS_BIN/tokenserver" -addr 127.0.0.1:0 \
		-tls-cert "$REGISTRY_DIR/pki/tls.crt" -tls-key "$REGISTRY_DIR/pki/tls.key" \
		-signing-key "$REGISTRY_DIR/token/signing.key" -signing-cert-out "$REGISTRY_DIR/token/signing.crt" \
		-issuer "$ISSUER" -service "$SERVICE" -user "$USER_NAME" -password "$PASSWORD" \
		-port-file "$REGISTRY_DIR/token/port"
	for ((i = 0; i < WAIT_SECS * 5; i++)); do
		[ -s "$REGISTRY_DIR/token/port" ] && break
		r_pid_of tokenserver >/dev/null || fail "tokenserver exited"
		sleep 0.2
	done
	[ -s "$REGISTRY_DIR/token/port" ] || fail "tokenserver did not start in $WAIT_SECS s"
	TOKEN_PORT=$(cat "$REGISTRY_DIR/token/port")
	# "localhost", not 127.0.0.1: go-containerregistry (cosign) refuses a token realm that is a loopback or
	# private IP literal other than the registry's own host:port (transport/bearer.go validateRealmURL).
	TOKEN_URL="https://localhost:$TOKEN_PORT/token"
}

# start_registry: one attempt on a fresh port; returns 2 when the port was taken meanwhile.
start_registry() {
	local i code
	r_pick_port || exit 1
	REGISTRY_PORT=$PORT
	REGISTRY_HOST=$ADDR:$REGISTRY_PORT
	REGISTRY_URL=https://$REGISTRY_HOST
	write_config
	# A clean environment: distribution reads every REGISTRY_* variable as a configuration override (ours,
	# REGISTRY_AUTH=token for one, would replace the auth section). OTEL_TRACES_EXPORTER=none: it would otherwise
	# export traces to an OTLP collector.
	r_launch registry env -i PATH=/usr/bin:/bin HOME=/nonexistent OTEL_TRACES_EXPORTER=none OTEL_SDK_DISABLED=true \
		"$TOOLS_BIN/registry" serve "$REGISTRY_DIR/config.yml"
	for ((i = 0; i < WAIT_SECS * 5; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$REGISTRY_DIR/pki/ca.crt" \
			"$REGISTRY_URL/v2/" 2>/dev/null) || code=000
		case "$code" in
		200 | 401) return 0 ;;
		esac
		if ! r_pid_of registry >/dev/null; then
			grep -q "address already in use" "$REGISTRY_DIR/logs/registry.log" && return 2
			fail "the registry exited"
		fi
		sleep 0.2
	done
	fail "the registry did not answer /v2/ in $WAIT_SECS s"
}

# shellcheck disable=SC2034 # the variables are read through ${!v}
write_env() {
	local tmp="$REGISTRY_DIR/env.tmp" v
	{
		echo "# Written by tests/registry/up.sh"
		for v in REGISTRY_DIR REGISTRY_HOST REGISTRY_PORT REGISTRY_URL REGISTRY_AUTH REGISTRY_USER REGISTRY_PASSWORD \
			REGISTRY_CA TOKEN_URL TOKEN_PORT REGISTRY_LOG TOKEN_LOG DOCKER_CONFIG SSL_CERT_FILE; do
			printf '%s=%q\n' "$v" "${!v}"
		done
	} >"$tmp"
	mv -f "$tmp" "$REGISTRY_DIR/env"
}

login() {
	[ "$AUTH" != none ] || return 0
	mkdir -p "$DOCKER_CONFIG"
	# oras writes docker config.json "auths" entries, which cosign reads as well.
	printf '%s' "$PASSWORD" | env SSL_CERT_FILE="$SSL_CERT_FILE" DOCKER_CONFIG="$DOCKER_CONFIG" \
		"$TOOLS_BIN/oras" login --registry-config "$DOCKER_CONFIG/config.json" -u "$USER_NAME" --password-stdin \
		"$REGISTRY_HOST" >/dev/null 2>"$REGISTRY_DIR/logs/login.log" || fail "oras login to $REGISTRY_HOST failed"
}

main() {
	case "$AUTH" in none | basic | token) ;; *) rlog "REGISTRY_AUTH must be none, basic or token"; exit 2 ;; esac
	local t
	for t in registry oras; do
		[ -x "$TOOLS_BIN/$t" ] || { rlog "$TOOLS_BIN/$t is missing (make tools)"; exit 1; }
	done
	[ "$AUTH" != token ] || [ -x "$TOOLS_BIN/tokenserver" ] || { rlog "$TOOLS_BIN/tokenserver is missing (make tools)"; exit 1; }
	[ "$AUTH" != basic ] || command -v htpasswd >/dev/null || { rlog "htpasswd is missing (apt-get install apache2-utils)"; exit 1; }
	if alive; then
		# shellcheck source=/dev/null
		. "$REGISTRY_DIR/env"
		rlog "ready at $REGISTRY_HOST (already running, auth $REGISTRY_AUTH)"
		return 0
	fi
	if [ -d "$REGISTRY_DIR" ] && [ -n "$(ls -A "$REGISTRY_DIR" 2>/dev/null)" ] && [ ! -f "$REGISTRY_DIR/$REGISTRY_MARKER" ]; then
		rlog "$REGISTRY_DIR is not empty and not a registry directory; refusing to use it"
		exit 1
	fi
	# Stale state (a dead registry of this directory): clear it, keeping a shared CA elsewhere untouched.
	r_stop_all
	r_remove_state 0
	mkdir -p "$REGISTRY_DIR"
	touch "$REGISTRY_DIR/$REGISTRY_MARKER"
	started=1
	local t0=$SECONDS
	[ -n "$PASSWORD" ] || PASSWORD=$(openssl rand -hex 12)
	REGISTRY_AUTH=$AUTH REGISTRY_USER=$USER_NAME REGISTRY_PASSWORD=$PASSWORD
	[ "$AUTH" != none ] || { REGISTRY_USER="" REGISTRY_PASSWORD=""; }
	make_pki
	REGISTRY_CA=$REGISTRY_DIR/pki/ca.crt
	SSL_CERT_FILE=$REGISTRY_DIR/ca-bundle.crt
	DOCKER_CONFIG=$REGISTRY_DIR/docker
	# shellcheck disable=SC2034 # written to env by write_env
	REGISTRY_LOG=$REGISTRY_DIR/logs/registry.log
	TOKEN_LOG="" TOKEN_URL="" TOKEN_PORT=""
	if [ "$AUTH" = token ]; then
		start_tokenserver
		# shellcheck disable=SC2034 # written to env by write_env
		TOKEN_LOG=$REGISTRY_DIR/logs/tokenserver.log
	fi
	local attempt rc
	for attempt in 1 2 3; do
		rc=0
		start_registry || rc=$?
		[ "$rc" = 2 ] || break
		rlog "port $REGISTRY_PORT was taken meanwhile, attempt $attempt; picking another"
		r_stop registry
	done
	[ "$rc" = 0 ] || fail "no free port after 3 attempts"
	write_env
	login
	rlog "ready at $REGISTRY_HOST in $((SECONDS - t0)) s (auth $AUTH${TOKEN_URL:+, token realm $TOKEN_URL}; env: $REGISTRY_DIR/env)"
}

main "$@"; exit $?
