#!/usr/bin/env bash
# Local-development registration of the admission webhooks: the real kube-apiserver calls a spin-operator
# running on this machine, at https://127.0.0.1:<port>/<path>, trusting a CA made here (envtest's scheme,
# control-plane.md §3.4). Needs bash, openssl, kubectl (with KUBECONFIG pointing at the cluster) and jq.
#
#   register-local.sh certs <cert-dir>             a CA (made once, kept in ca.crt/ca.key) and a new serving
#                                                  pair signed by it: tls.crt/tls.key, SANs IP:127.0.0.1 and
#                                                  DNS:localhost. Run it again to rotate the serving pair.
#   register-local.sh register <port> <cert-dir>   applies the Mutating- and ValidatingWebhookConfiguration of
#                                                  config/webhook/manifests.yaml with each service reference
#                                                  replaced by url https://127.0.0.1:<port><path> and caBundle
#                                                  set to <cert-dir>/ca.crt
#   register-local.sh register <port> -            the same without caBundle: for an operator in self-managed
#                                                  mode, which sets it (--webhook-cert-extra-sans 127.0.0.1)
#   register-local.sh unregister                   deletes both configurations
#   register-local.sh up <port> <cert-dir>         certs, then register
#
# Then run: spin-operator --webhook-bind-address 127.0.0.1:<port> --webhook-cert-dir <cert-dir>
# or, with "register <port> -": spin-operator --webhook-bind-address 127.0.0.1:<port> --webhook-cert-mode
#   self-managed --webhook-cert-extra-sans 127.0.0.1 --webhook-cert-dir <a folder of its own>
#
# Environment:
#   NAME_PREFIX   prefix of the configuration names (default "spin-operator-", as config/default names them:
#                 spin-operator-mutating-webhook-configuration, spin-operator-validating-webhook-configuration)
#   WEBHOOK_HOST  host in the URLs (default 127.0.0.1; must be among the certificate's SANs)
#   MATCH_LABEL   optional "key=value": only namespaces with this label are sent to the webhooks
#                 (namespaceSelector), so a test cannot disturb other namespaces of a shared cluster
#   CERT_DAYS     validity of the serving certificate in days (default 30; the CA gets 3650)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
MANIFESTS=$REPO/config/webhook/manifests.yaml
NAME_PREFIX=${NAME_PREFIX-spin-operator-}
WEBHOOK_HOST=${WEBHOOK_HOST:-127.0.0.1}
MATCH_LABEL=${MATCH_LABEL:-}
CERT_DAYS=${CERT_DAYS:-30}

die() {
	echo "register-local.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

# certs <dir>: the CA once, then a fresh serving pair, each file replaced by rename so a watcher never reads
# half a file.
certs() {
	local dir=$1 tmp serial sans
	mkdir -p "$dir"
	command -v openssl >/dev/null || die "openssl is not installed"
	if [ ! -s "$dir/ca.crt" ] || [ ! -s "$dir/ca.key" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
			-subj "/CN=spin-operator local webhook CA" -keyout "$dir/ca.key.tmp" -out "$dir/ca.crt.tmp" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
			2>/dev/null || die "cannot create the CA in $dir"
		chmod 600 "$dir/ca.key.tmp"
		mv -f "$dir/ca.key.tmp" "$dir/ca.key"
		mv -f "$dir/ca.crt.tmp" "$dir/ca.crt"
	fi
	tmp=$(mktemp -d "$dir/.new.XXXXXX")
	serial=$(openssl rand -hex 16)
	sans="IP:127.0.0.1,DNS:localhost"
	case $WEBHOOK_HOST in
	127.0.0.1 | localhost) ;;
	*[!0-9.]*) sans+=",DNS:$WEBHOOK_HOST" ;;
	*) sans+=",IP:$WEBHOOK_HOST" ;;
	esac
	printf '%s\n' "subjectAltName=$sans" "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$tmp/ext.cnf"
	if ! { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
		-keyout "$tmp/tls.key" -out "$tmp/tls.csr" &&
		openssl x509 -req -in "$tmp/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial "0x$serial" \
			-days "$CERT_DAYS" -extfile "$tmp/ext.cnf" -out "$tmp/tls.crt"; } >"$tmp/log" 2>&1; then
		cat "$tmp/log" >&2
		rm -rf "$tmp"
		die "cannot create the serving certificate in $dir"
	fi
	chmod 600 "$tmp/tls.key"
	chmod 644 "$tmp/tls.crt"
	mv -f "$tmp/tls.key" "$dir/tls.key"
	mv -f "$tmp/tls.crt" "$dir/tls.crt"
	rm -rf "$tmp"
	echo "certs: $dir/tls.crt (serial $(openssl x509 -noout -serial -in "$dir/tls.crt" | cut -d= -f2)), CA $dir/ca.crt"
}

register() {
	local port=$1 dir=$2 ca selector=null
	if ! [[ $port =~ ^[0-9]{1,5}$ ]] || [ "$port" -eq 0 ] || [ "$port" -gt 65535 ]; then
		die "\"$port\" is not a port"
	fi
	command -v jq >/dev/null || die "jq is not installed"
	if [ "$dir" = - ]; then
		ca="" # the self-managed operator sets it
	else
		[ -s "$dir/ca.crt" ] || die "$dir/ca.crt is missing (run: $0 certs $dir)"
		ca=$(base64 -w0 <"$dir/ca.crt")
	fi
	if [ -n "$MATCH_LABEL" ]; then
		[[ $MATCH_LABEL == *=* ]] || die "MATCH_LABEL \"$MATCH_LABEL\" is not key=value"
		selector=$(jq -cn --arg k "${MATCH_LABEL%%=*}" --arg v "${MATCH_LABEL#*=}" '{matchLabels: {($k): $v}}')
	fi
	# kubectl turns the YAML into JSON (client side); jq swaps each service reference for the local URL.
	kubectl create --dry-run=client -o json -f "$MANIFESTS" |
		jq --arg base "https://$WEBHOOK_HOST:$port" --arg ca "$ca" --arg prefix "$NAME_PREFIX" \
			--argjson selector "$selector" '
			.metadata.name = $prefix + .metadata.name
			| .metadata.labels["app.kubernetes.io/managed-by"] = "register-local.sh"
			| .webhooks[] |= (
				.clientConfig = ({url: ($base + .clientConfig.service.path)}
					+ if $ca == "" then {} else {caBundle: $ca} end)
				| if $selector then .namespaceSelector = $selector else . end)' |
		kubectl apply -f - >/dev/null || die "cannot apply the webhook configurations"
	echo "registered: ${NAME_PREFIX}mutating-webhook-configuration, ${NAME_PREFIX}validating-webhook-configuration" \
		"-> https://$WEBHOOK_HOST:$port${MATCH_LABEL:+ (namespaces labelled $MATCH_LABEL)}"
}

unregister() {
	kubectl delete --ignore-not-found mutatingwebhookconfiguration "${NAME_PREFIX}mutating-webhook-configuration" \
		>/dev/null
	kubectl delete --ignore-not-found validatingwebhookconfiguration \
		"${NAME_PREFIX}validating-webhook-configuration" >/dev/null
	echo "unregistered: ${NAME_PREFIX}mutating-webhook-configuration, ${NAME_PREFIX}validating-webhook-configuration"
}

case "${1:-}" in
certs) [ $# -eq 2 ] || usage; certs "$2" ;;
register) [ $# -eq 3 ] || usage; register "$2" "$3" ;;
unregister) [ $# -eq 1 ] || usage; unregister ;;
up) [ $# -eq 3 ] || usage; certs "$3" && register "$2" "$3" ;;
*) usage ;;
esac
