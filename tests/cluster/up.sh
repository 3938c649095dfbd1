#!/usr/bin/env bash
# Starts a real local Kubernetes control plane for the integration tests and the demo:
#   etcd -> kube-apiserver (RBAC) -> kube-controller-manager + kube-scheduler + kwok (fake kubelets)
# then registers two fake Nodes and waits until they are Ready.
# With REAL_NODE=1 it also starts a real node (kubelet + containerd + kube-proxy, tests/cluster/node-up.sh)
# and gives the apiserver what that needs: it listens on all addresses (pods reach it through the
# "kubernetes" Service, whose endpoint is the advertise address) and has a kubelet client certificate
# (kubectl logs/exec). Without REAL_NODE the cluster is exactly as before. There is one real node per host:
# REAL_NODE_WAIT=<s> waits that long for another cluster's node to go away (default: fail at once).
#
# Everything binds to 127.0.0.1 on free ports chosen at start, so several clusters can run side by side,
# each in its own CLUSTER_DIR (default <repo>/.cluster; layout in lib.sh). Binaries come from
# <repo>/.tools/bin (make tools). Idempotent: a healthy cluster in CLUSTER_DIR is left alone; stale
# state (dead processes) is cleaned up and a fresh cluster started.
#
# EXTRA_APISERVER_ARGS (optional, split on whitespace) is appended to kube-apiserver's command line, e.g.
# an audit policy or --enable-admission-plugins=OwnerReferencesPermissionEnforcement
# (tests/integration/rbac_audit.sh); unset, the cluster is the default one.
# The API server presents a client certificate to admission webhooks: a webhook given
# $CLUSTER_DIR/pki/webhook-client/ca.crt as its client CA (--webhook-client-ca-file) serves only it.
#
# The last line on stdout is "cluster: ready in <s> s (kubeconfig: <path>)". On failure it names the
# component, shows the tail of its log, stops whatever it started, keeps CLUSTER_DIR/logs, exits 1.
# shellcheck disable=SC2317 # functions run indirectly (traps, "start_$c", wait_for/retry arguments)
set -euo pipefail

# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/cluster/pki.sh
. "$(dirname "$0")/pki.sh"
# shellcheck source=tests/cluster/node-lib.sh
. "$(dirname "$0")/node-lib.sh"

WAIT_SECS=${CLUSTER_WAIT_SECS:-60}
WANT_REAL_NODE=${REAL_NODE:-0} # load_env (of a running cluster) overwrites REAL_NODE with what that one has
REAL_NODE=$WANT_REAL_NODE
SERVICE_CIDR=10.96.0.0/16
SERVICE_FIRST_IP=10.96.0.1 # the "kubernetes" Service's ClusterIP; must be in the serving cert
POD_CIDR=10.244.0.0/16     # kwok hands pod IPs out of this; must not overlap SERVICE_CIDR
SA_ISSUER=https://kubernetes.default.svc.cluster.local
NODE_WASM=kwok-wasm-0
NODE_PLAIN=kwok-node-1

PKI=$CLUSTER_DIR/pki
KCFG_DIR=$CLUSTER_DIR/kubeconfigs
ADMIN_KUBECONFIG=$CLUSTER_DIR/kubeconfig

# Filled in as components start; written to CLUSTER_DIR/env by write_env.
ETCD_PORT="" ETCD_PEER_PORT="" APISERVER_PORT="" KCM_PORT="" SCHEDULER_PORT="" KWOK_PORT=""
ETCD_DATA_DIR="" ADVERTISE_ADDRESS="" PORT=""
declare -A LOG_OFFSET=() # component -> log size before its latest launch (to read only that attempt)
launched=0
succeeded=0
T0=0

# --- helpers -----------------------------------------------------------------------------------------

# fail <component> <message>: reports and exits; the EXIT trap stops whatever was started.
fail() {
	log "FAILED: $1: $2"
	log_tail "$1" 30
	exit 1
}

on_exit() {
	local rc=$?
	[ "$succeeded" = 1 ] && return 0
	if [ "$launched" = 1 ]; then
		log "stopping what was started; logs kept in $CLUSTER_DIR/logs"
		[ "$REAL_NODE" != 1 ] || CLUSTER_DIR=$CLUSTER_DIR "$CLUSTER_LIB_DIR/node-down.sh" >/dev/null 2>&1 || true
		stop_all
		remove_state 1
	fi
	exit $((rc == 0 ? 1 : rc))
}

# step <message>: progress on stderr with the time since the start, to see where start-up time goes.
step() { log "$(fmt_secs $(($(now_ms) - T0))) s: $*"; }

kc() { "$TOOLS_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" --request-timeout=5s "$@"; }

require_tools() {
	local b missing=()
	for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwok-stages.yaml; do
		[ -e "$TOOLS_BIN/$b" ] || missing+=("$b")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "missing in $TOOLS_BIN: ${missing[*]} (run: make tools)"
		exit 1
	fi
	for b in openssl curl ss; do
		if ! command -v "$b" >/dev/null; then
			log "need openssl, curl and ss (iproute2): run make deps"
			exit 1
		fi
	done
}

# detect_advertise_address: the apiserver publishes this in the "kubernetes" Endpoints. Without the
# flag it looks for a default route and exits when there is none; 127.0.0.1 always works but makes it
# log "may not be in the loopback range" endpoint errors forever. So: the default-route source address,
# else the first non-loopback address, else 127.0.0.1. Nothing listens on it (bind address stays
# 127.0.0.1); it is only a name in the Endpoints object. CLUSTER_ADVERTISE_ADDRESS=... overrides.
detect_advertise_address() {
	local addr="" w prev="" words
	if [ -n "${CLUSTER_ADVERTISE_ADDRESS:-}" ]; then
		echo "$CLUSTER_ADVERTISE_ADDRESS"
		return
	fi
	if words=$(ip -4 route get 1 2>/dev/null); then
		for w in $words; do
			[ "$prev" = src ] && addr=$w && break
			prev=$w
		done
	fi
	if [ -z "$addr" ] && words=$(hostname -I 2>/dev/null); then
		for w in $words; do
			[[ $w =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ && $w != 127.* ]] && addr=$w && break
		done
	fi
	echo "${addr:-127.0.0.1}"
}

write_env() {
	local tmp="$CLUSTER_DIR/env.tmp" v
	{
		echo "# Written by tests/cluster/up.sh; source it from a shell."
		for v in CLUSTER_DIR KUBECONFIG APISERVER_URL APISERVER_PORT ETCD_URL ETCD_PORT ETCD_PEER_PORT \
			KCM_PORT SCHEDULER_PORT KWOK_PORT ADVERTISE_ADDRESS SERVICE_CIDR POD_CIDR ETCD_DATA_DIR \
			CA_CERT NODES WASM_NODE K8S_VERSION REAL_NODE REAL_NODE_NAME; do
			printf '%s=%q\n' "$v" "${!v:-}"
		done
	} >"$tmp"
	mv "$tmp" "$CLUSTER_DIR/env"
}

# --- PKI (openssl CLI only) --------------------------------------------------------------------------

gen_pki() {
	mkdir -p "$PKI"
	chmod 700 "$PKI"
	write_openssl_cnf
	gen_ec_key "$PKI/ca.key"
	openssl req -x509 -new -config "$PKI/openssl.cnf" -extensions v3_ca -key "$PKI/ca.key" \
		-subj "/CN=spin-operator-local-ca" -days 3650 -out "$PKI/ca.crt"

	local san="IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
	san+=",DNS:kubernetes.default.svc.cluster.local,IP:$SERVICE_FIRST_IP"
	[ "$ADVERTISE_ADDRESS" = 127.0.0.1 ] || san+=",IP:$ADVERTISE_ADDRESS"
	issue apiserver "/CN=kube-apiserver" serverAuth "$san"
	# Serving certs for the KCM and scheduler health endpoints, so probes verify TLS too.
	issue kube-controller-manager-serving "/CN=kube-controller-manager" serverAuth "IP:127.0.0.1,DNS:localhost"
	issue kube-scheduler-serving "/CN=kube-scheduler" serverAuth "IP:127.0.0.1,DNS:localhost"
	# Client certs: CN is the user, O the groups. system:masters bypasses RBAC (admin, kwok); the KCM and
	# scheduler users get exactly the bootstrap RBAC roles the real components have.
	issue admin "/O=system:masters/CN=kubernetes-admin" clientAuth
	issue kwok "/O=system:masters/CN=kwok-controller" clientAuth
	issue kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
	issue kube-scheduler "/CN=system:kube-scheduler" clientAuth
	# The apiserver's client cert for kubelets (logs, exec, port-forward), only when there is one.
	[ "$REAL_NODE" != 1 ] || issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth

	# The API server's client certificate for admission webhooks (the AdmissionConfiguration below), from a CA
	# of its own: a webhook trusting only pki/webhook-client/ca.crt (--webhook-client-ca-file) serves only the
	# API server, not every holder of a cluster client certificate.
	(
		PKI=$PKI/webhook-client
		mkdir -p "$PKI"
		write_openssl_cnf
		gen_ec_key "$PKI/ca.key"
		openssl req -x509 -new -config "$PKI/openssl.cnf" -extensions v3_ca -key "$PKI/ca.key" \
			-subj "/CN=spin-operator-local-webhook-client-ca" -days 3650 -out "$PKI/ca.crt"
		issue client "/CN=kube-apiserver-webhook-client" clientAuth
	)

	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
	openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
	chmod 600 "$PKI"/*.key "$PKI"/webhook-client/*.key
	write_webhook_admission
}

# The API server presents pki/webhook-client/client.crt to every admission webhook that asks for a client
# certificate (user "*" matches any webhook host); webhooks that do not ask see no difference.
write_webhook_admission() {
	cat >"$PKI/webhook-client.kubeconfig" <<-EOF
		apiVersion: v1
		kind: Config
		users:
		- name: "*"
		  user:
		    client-certificate: $PKI/webhook-client/client.crt
		    client-key: $PKI/webhook-client/client.key
	EOF
	cat >"$PKI/admission.yaml" <<-EOF
		apiVersion: apiserver.config.k8s.io/v1
		kind: AdmissionConfiguration
		plugins:
		- name: MutatingAdmissionWebhook
		  configuration:
		    apiVersion: apiserver.config.k8s.io/v1
		    kind: WebhookAdmissionConfiguration
		    kubeConfigFile: $PKI/webhook-client.kubeconfig
		- name: ValidatingAdmissionWebhook
		  configuration:
		    apiVersion: apiserver.config.k8s.io/v1
		    kind: WebhookAdmissionConfiguration
		    kubeConfigFile: $PKI/webhook-client.kubeconfig
	EOF
}

# --- components --------------------------------------------------------------------------------------

# Each start_<c> picks its ports, records them and launches; check_<c> is one readiness probe.

start_etcd() {
	pick_port; ETCD_PORT=$PORT
	pick_port; ETCD_PEER_PORT=$PORT
	ETCD_URL=http://127.0.0.1:$ETCD_PORT
	write_env
	local peer=http://127.0.0.1:$ETCD_PEER_PORT
	launch etcd "$(readlink -f "$TOOLS_BIN/etcd")" \
		--name=default --data-dir="$ETCD_DATA_DIR" \
		--listen-client-urls="$ETCD_URL" --advertise-client-urls="$ETCD_URL" \
		--listen-peer-urls="$peer" --initial-advertise-peer-urls="$peer" \
		--initial-cluster="default=$peer" --initial-cluster-state=new \
		--unsafe-no-fsync=true --log-level=warn
}
check_etcd() { curl_ok "$ETCD_URL/health" '"health":"true"'; }

start_kube-apiserver() {
	pick_port; APISERVER_PORT=$PORT
	APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
	write_env
	# The URL is in every kubeconfig, so they are (re)written with the port.
	write_kubeconfig "$ADMIN_KUBECONFIG" admin
	local c
	for c in kube-controller-manager kube-scheduler kwok; do
		write_kubeconfig "$KCFG_DIR/$c.kubeconfig" "$c"
	done
	local -a extra=()
	read -ra extra <<<"${EXTRA_APISERVER_ARGS:-}"
	# Default admission plugins stay on (ServiceAccount included: the KCM creates the SAs).
	# --cert-dir only keeps the apiserver from touching /var/run/kubernetes.
	# --shutdown-watch-termination-grace-period: on SIGTERM, end open watches (clients see the stream
	# close, as in a rolling apiserver update) instead of waiting for them: without it the HTTP server
	# waits up to --request-timeout (60 s) for watch streams that only end at shutdown, so a restart with
	# the KCM, scheduler and kwok still connected hits down.sh's 10 s SIGKILL.
	local bind=127.0.0.1 node_flags=()
	if [ "$REAL_NODE" = 1 ]; then
		# Pods reach the apiserver at the kubernetes Service, which kube-proxy forwards to the advertise
		# address: loopback alone would refuse them. Webhook Services are dialled by ClusterIP, which
		# kube-proxy's rules on this host translate (no --enable-aggregator-routing needed).
		bind=0.0.0.0
		node_flags=(--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt"
			--kubelet-client-key="$PKI/apiserver-kubelet-client.key"
			--kubelet-certificate-authority="$PKI/ca.crt"
			--kubelet-preferred-address-types=InternalIP,Hostname)
	fi
	launch kube-apiserver "$(readlink -f "$TOOLS_BIN/kube-apiserver")" \
		--etcd-servers="$ETCD_URL" \
		--bind-address="$bind" --secure-port="$APISERVER_PORT" --advertise-address="$ADVERTISE_ADDRESS" \
		--cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
		--client-ca-file="$PKI/ca.crt" \
		--admission-control-config-file="$PKI/admission.yaml" \
		--authorization-mode=Node,RBAC \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--service-account-issuer="$SA_ISSUER" \
		--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
		--allow-privileged=true \
		--shutdown-watch-termination-grace-period=2s "${node_flags[@]}" "${extra[@]}"
}
check_kube-apiserver() { apiserver_ready; }

start_kube-controller-manager() {
	pick_port; KCM_PORT=$PORT
	write_env
	local kcfg="$KCFG_DIR/kube-controller-manager.kubeconfig"
	# --controllers=* is the default set: deployment/replicaset, garbage collector, namespace,
	# serviceaccount (+ root CA publisher), HPA, job, endpoints... Signing uses the cluster CA so CSRs work.
	# No --authentication/--authorization-kubeconfig: delegated auth wants the front-proxy CA in
	# kube-system/extension-apiserver-authentication (which we do not set up) and logs errors forever
	# without it; the health endpoints are always allowed anyway.
	# --flex-volume-plugin-dir: its default is /usr/libexec/kubernetes/..., which the KCM would create.
	mkdir -p "$CLUSTER_DIR/kcm/flexvolume"
	launch kube-controller-manager "$(readlink -f "$TOOLS_BIN/kube-controller-manager")" \
		--kubeconfig="$kcfg" \
		--bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
		--tls-cert-file="$PKI/kube-controller-manager-serving.crt" \
		--tls-private-key-file="$PKI/kube-controller-manager-serving.key" \
		--leader-elect=false --controllers='*' --use-service-account-credentials=true \
		--service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
		--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--flex-volume-plugin-dir="$CLUSTER_DIR/kcm/flexvolume"
}
check_kube-controller-manager() {
	curl_ok "https://127.0.0.1:$KCM_PORT/healthz" ok --cacert "$PKI/ca.crt"
}

start_kube-scheduler() {
	pick_port; SCHEDULER_PORT=$PORT
	write_env
	local kcfg="$KCFG_DIR/kube-scheduler.kubeconfig"
	# Same reason as the KCM for no delegated authentication/authorization kubeconfigs.
	launch kube-scheduler "$(readlink -f "$TOOLS_BIN/kube-scheduler")" \
		--kubeconfig="$kcfg" \
		--bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
		--tls-cert-file="$PKI/kube-scheduler-serving.crt" --tls-private-key-file="$PKI/kube-scheduler-serving.key" \
		--leader-elect=false
}
check_kube-scheduler() {
	curl_ok "https://127.0.0.1:$SCHEDULER_PORT/healthz" ok --cacert "$PKI/ca.crt"
}

start_kwok() {
	pick_port; KWOK_PORT=$PORT
	write_env
	mkdir -p "$CLUSTER_DIR/kwok"
	# kwok v0.8 has no built-in stages: node-initialize, node-heartbeat-with-lease, pod-ready,
	# pod-complete, pod-delete come from the module (tools build). A private copy per cluster, and a
	# private HOME, because kwok also loads ~/.kwok/kwok.yaml when one exists.
	cp "$TOOLS_BIN/kwok-stages.yaml" "$CLUSTER_DIR/kwok/stages.yaml"
	# Only annotated Nodes are managed; its own server (healthz, logs/exec stubs) stays on loopback.
	launch kwok env HOME="$CLUSTER_DIR/kwok" "$(readlink -f "$TOOLS_BIN/kwok")" \
		--kubeconfig="$KCFG_DIR/kwok.kubeconfig" --config="$CLUSTER_DIR/kwok/stages.yaml" \
		--manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
		--manage-nodes-with-label-selector= --manage-single-node= \
		--cidr="$POD_CIDR" --node-lease-duration-seconds=40 \
		--server-address="127.0.0.1:$KWOK_PORT"
}
check_kwok() { curl_ok "http://127.0.0.1:$KWOK_PORT/healthz" ok; }

# start_component <c>: launch, remembering where this attempt's log output begins.
start_component() {
	local c=$1 f="$CLUSTER_DIR/logs/$1.log"
	LOG_OFFSET[$c]=$(stat -c %s "$f" 2>/dev/null || echo 0)
	launched=1
	"start_$c"
}

# await_component <c>: waits for check_<c>. A port taken between pick and bind (another cluster
# starting at the same moment) is retried with fresh ports, up to 3 attempts; anything else fails.
await_component() {
	local c=$1 attempt
	for attempt in 1 2 3; do
		WAIT_ERROR=""
		if wait_for "$c" "$WAIT_SECS" "its health check" "check_$c"; then
			return 0
		fi
		if tail -c +"$((LOG_OFFSET[$c] + 1))" "$CLUSTER_DIR/logs/$c.log" 2>/dev/null |
			grep -i 'address already in use' >/dev/null && [ "$attempt" -lt 3 ]; then
			log "$c: port clash, retrying with new ports"
			stop_component "$c"
			start_component "$c"
			continue
		fi
		break
	done
	fail "$c" "$WAIT_ERROR"
}

# --- readiness beyond health checks ------------------------------------------------------------------

default_namespace_exists() { kc get namespace default -o name; }
default_sa_exists() { kc -n default get serviceaccount default -o name; }

create_nodes() {
	local n wasm
	: >"$CLUSTER_DIR/nodes.yaml"
	for n in "$NODE_WASM" "$NODE_PLAIN"; do
		wasm=""
		[ "$n" = "$NODE_WASM" ] && wasm='    spinkube.dev/wasm: "true"'
		# No taint: pods need no kwok toleration. Capacity is generous so scheduling never blocks.
		cat >>"$CLUSTER_DIR/nodes.yaml" <<-EOF
			---
			apiVersion: v1
			kind: Node
			metadata:
			  name: $n
			  annotations:
			    kwok.x-k8s.io/node: fake
			    node.alpha.kubernetes.io/ttl: "0"
			  labels:
			    kubernetes.io/arch: amd64
			    kubernetes.io/os: linux
			    kubernetes.io/hostname: $n
			    type: kwok
			$wasm
			status:
			  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
			  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
			  nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: fake, kubeProxyVersion: fake}
		EOF
	done
	kc apply -f "$CLUSTER_DIR/nodes.yaml" >/dev/null
}

# --- main --------------------------------------------------------------------------------------------

main() {
	require_tools
	if cluster_healthy; then
		if [ "$WANT_REAL_NODE" = 1 ]; then
			if [ "${REAL_NODE:-0}" != 1 ]; then
				log "the cluster in $CLUSTER_DIR runs without a real node; stop it (tests/cluster/down.sh) and" \
					"start it again with REAL_NODE=1"
				exit 1
			fi
			CLUSTER_DIR=$CLUSTER_DIR "$CLUSTER_LIB_DIR/node-up.sh"
		fi
		echo "cluster: already running in $CLUSTER_DIR ($APISERVER_URL, kubeconfig: $CLUSTER_DIR/kubeconfig)"
		exit 0
	fi
	if [ -e "$CLUSTER_DIR/pids" ] || [ -e "$CLUSTER_DIR/env" ]; then
		log "stale cluster state in $CLUSTER_DIR, cleaning it up"
	fi
	# A real node of the dead cluster: undo its host state first (node-down.sh knows what it changed).
	if compgen -G "$CLUSTER_DIR/pids/node-*" >/dev/null || [ -e "$CLUSTER_DIR/node" ]; then
		CLUSTER_DIR=$CLUSTER_DIR "$CLUSTER_LIB_DIR/node-down.sh" >&2
	fi
	REAL_NODE=$WANT_REAL_NODE
	stop_all
	remove_state 0
	if [ -n "$(ls -A "$CLUSTER_DIR" 2>/dev/null)" ]; then
		log "$CLUSTER_DIR exists and is not a cluster directory of up.sh; choose another CLUSTER_DIR"
		exit 1
	fi
	# The host's one real node may be another cluster's: fail at once, or wait up to REAL_NODE_WAIT seconds
	# for it (tests/run.sh does, so that two test runs on one machine take turns).
	local owner dir waited=0
	dir=$(mkdir -p "$CLUSTER_DIR" && cd "$CLUSTER_DIR" && pwd)
	while [ "$REAL_NODE" = 1 ] && owner=$(node_taken_by_other "$dir"); do
		if [ "$waited" -ge "${REAL_NODE_WAIT:-0}" ]; then
			log "REAL_NODE=1: the host's one real node runs for the cluster in $owner; stop it first:" \
				"CLUSTER_DIR=$owner tests/cluster/node-down.sh (or down.sh)"
			rmdir -- "$CLUSTER_DIR" 2>/dev/null || true
			exit 1
		fi
		[ "$waited" -gt 0 ] || log "waiting up to ${REAL_NODE_WAIT} s for the real node of $owner to stop"
		sleep 5
		waited=$((waited + 5))
	done
	# load_env above may have filled these from the dead cluster; start from a clean slate.
	ETCD_PORT="" ETCD_PEER_PORT="" APISERVER_PORT="" KCM_PORT="" SCHEDULER_PORT="" KWOK_PORT=""
	APISERVER_URL="" ETCD_URL=""

	T0=$(now_ms)
	trap on_exit EXIT
	trap 'exit 130' INT TERM HUP

	mkdir -p "$CLUSTER_DIR" "$KCFG_DIR" "$CLUSTER_DIR/logs"
	echo "Cluster state of tests/cluster/up.sh; tests/cluster/down.sh deletes it." >"$CLUSTER_DIR/$MARKER"
	CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
	PKI=$CLUSTER_DIR/pki KCFG_DIR=$CLUSTER_DIR/kubeconfigs ADMIN_KUBECONFIG=$CLUSTER_DIR/kubeconfig
	# shellcheck disable=SC2034 # written to CLUSTER_DIR/env by write_env (via ${!v})
	KUBECONFIG=$ADMIN_KUBECONFIG CA_CERT=$PKI/ca.crt
	# shellcheck disable=SC2034
	NODES="$NODE_WASM $NODE_PLAIN" WASM_NODE=$NODE_WASM K8S_VERSION=v1.36.3
	ADVERTISE_ADDRESS=$(detect_advertise_address)
	if [ "$REAL_NODE" = 1 ] && [ "$ADVERTISE_ADDRESS" = 127.0.0.1 ]; then
		log "REAL_NODE=1 needs a non-loopback address (pods reach the apiserver there); set CLUSTER_ADVERTISE_ADDRESS"
		exit 1
	fi
	# tmpfs makes etcd's writes free; --unsafe-no-fsync covers the fallback on disk.
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		ETCD_DATA_DIR=$(mktemp -d /dev/shm/spin-operator-etcd.XXXXXX)
	else
		ETCD_DATA_DIR=$CLUSTER_DIR/etcd
		mkdir -p "$ETCD_DATA_DIR"
	fi
	chmod 700 "$ETCD_DATA_DIR"
	write_env

	step "generating PKI in $PKI"
	gen_pki

	step "starting etcd"
	start_component etcd
	await_component etcd

	step "starting kube-apiserver (advertise address $ADVERTISE_ADDRESS)"
	start_component kube-apiserver
	await_component kube-apiserver
	wait_for kube-apiserver "$WAIT_SECS" "namespace default" default_namespace_exists ||
		fail kube-apiserver "$WAIT_ERROR"

	step "starting kube-controller-manager, kube-scheduler, kwok"
	start_component kube-controller-manager
	start_component kube-scheduler
	start_component kwok
	await_component kube-controller-manager
	await_component kube-scheduler
	await_component kwok
	wait_for kube-controller-manager "$WAIT_SECS" "ServiceAccount default/default" default_sa_exists ||
		fail kube-controller-manager "$WAIT_ERROR"

	step "registering fake nodes $NODE_WASM, $NODE_PLAIN"
	create_nodes || fail kwok "could not create the fake Nodes"
	# Not kc: its --request-timeout would also cut kubectl wait's watch short.
	"$TOOLS_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" wait --for=condition=Ready \
		"node/$NODE_WASM" "node/$NODE_PLAIN" --timeout="${WAIT_SECS}s" >/dev/null ||
		fail kwok "fake nodes did not become Ready within ${WAIT_SECS} s"

	if [ "$REAL_NODE" = 1 ]; then
		step "starting the real node"
		CLUSTER_DIR=$CLUSTER_DIR "$CLUSTER_LIB_DIR/node-up.sh" >&2 || fail node-kubelet "the real node did not start (see above)"
		REAL_NODE_NAME=spin-real-node
		write_env
	fi

	succeeded=1
	echo "cluster: $APISERVER_URL, etcd $ETCD_URL, state in $CLUSTER_DIR"
	echo "cluster: ready in $(fmt_secs $(($(now_ms) - T0))) s (kubeconfig: $ADMIN_KUBECONFIG)"
}

# "exit" on the same line: bash has read it before main runs, so editing this file cannot derail a running copy.
main "$@"; exit $?
