# Shared helpers for tests/registry/{up,down}.sh (sourced, not executed).
#
# Layout of a registry directory (REGISTRY_DIR, default <repo>/.registry):
#   env                  shell assignments (source it): REGISTRY_DIR REGISTRY_HOST REGISTRY_PORT REGISTRY_URL
#                        REGISTRY_AUTH REGISTRY_USER REGISTRY_PASSWORD REGISTRY_CA TOKEN_URL TOKEN_PORT
#                        REGISTRY_LOG TOKEN_LOG DOCKER_CONFIG SSL_CERT_FILE
#   pki/                 the serving pair (tls.crt/tls.key, SANs IP:127.0.0.1 and DNS:localhost) and, unless
#                        REGISTRY_CA_DIR names another folder, the test CA (ca.crt/ca.key)
#   config.yml           the distribution registry's configuration
#   htpasswd             bcrypt users (REGISTRY_AUTH=basic)
#   token/               the token server's signing key and certificate (REGISTRY_AUTH=token)
#   data/                the registry's storage
#   docker/config.json   credentials for oras and cosign (DOCKER_CONFIG), when the registry has auth
#   ca-bundle.crt        the system CAs plus the test CA (SSL_CERT_FILE for Go clients such as oras and cosign)
#   pids/<c>.pid, .start PID and start time of registry and tokenserver (/proc/<pid>/stat field 22)
#   logs/<c>.log         their output (the registry logs one "response completed" line per request)
#   .spin-operator-registry  marker: up.sh owns this directory, so down.sh may clear it

REGISTRY_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=${REPO:-$(cd "$REGISTRY_LIB_DIR/../.." && pwd)}
REGISTRY_DIR=${REGISTRY_DIR:-$REPO/.registry}
TOOLS_BIN=${TOOLS_BIN:-$REPO/.tools/bin}
REGISTRY_MARKER=.spin-operator-registry
# Every entry the scripts create; down.sh removes exactly these, never "rm -rf $REGISTRY_DIR".
REGISTRY_STATE=(env env.tmp pki config.yml htpasswd token data docker ca-bundle.crt pids logs)
REGISTRY_COMPONENTS=(tokenserver registry)

export NO_PROXY=127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY} no_proxy=127.0.0.1,localhost${no_proxy:+,$no_proxy}

rlog() { echo "registry: $*" >&2; }

# r_proc_start <pid>: the start time in clock ticks since boot (field 22 of /proc/<pid>/stat); "Z" for a zombie.
r_proc_start() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	local -a f
	read -r -a f <<<"$stat"
	[ "${f[0]}" != Z ] || return 1
	echo "${f[19]}"
}

# r_pid_of <component>: the recorded PID when that exact process still runs (a reused PID is never reported).
r_pid_of() {
	local pid start now
	pid=$(cat "$REGISTRY_DIR/pids/$1.pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	start=$(cat "$REGISTRY_DIR/pids/$1.start" 2>/dev/null) || return 1
	now=$(r_proc_start "$pid") || return 1
	[ "$now" = "$start" ] || return 1
	echo "$pid"
}

# r_launch <component> <argv...>: starts it detached, SIGHUP ignored, output to logs/<c>.log.
r_launch() {
	local c=$1
	shift
	mkdir -p "$REGISTRY_DIR/pids" "$REGISTRY_DIR/logs"
	echo "=== $(date -u +%FT%TZ) starting $c" >>"$REGISTRY_DIR/logs/$c.log"
	(
		trap '' HUP
		exec "$@" </dev/null >>"$REGISTRY_DIR/logs/$c.log" 2>&1
	) &
	local pid=$!
	echo "$pid" >"$REGISTRY_DIR/pids/$c.pid"
	r_proc_start "$pid" >"$REGISTRY_DIR/pids/$c.start" || true
}

# r_stop <component>: SIGTERM, SIGKILL after 10 s; only the recorded, verified PID.
r_stop() {
	local c=$1 pid i
	pid=$(r_pid_of "$c") || { rm -f "$REGISTRY_DIR/pids/$c.pid" "$REGISTRY_DIR/pids/$c.start"; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		r_pid_of "$c" >/dev/null || break
		sleep 0.1
	done
	if r_pid_of "$c" >/dev/null; then
		rlog "$c (pid $pid) ignored SIGTERM for 10 s, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			r_pid_of "$c" >/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$REGISTRY_DIR/pids/$c.pid" "$REGISTRY_DIR/pids/$c.start"
}

r_stop_all() {
	local c
	for c in "${REGISTRY_COMPONENTS[@]}"; do r_stop "$c"; done
}

# r_remove_state [keep_logs]: deletes the known entries of a directory carrying our marker.
r_remove_state() {
	local keep_logs=${1:-0} e
	[ -d "$REGISTRY_DIR" ] || return 0
	[ -f "$REGISTRY_DIR/$REGISTRY_MARKER" ] || return 0
	for e in "${REGISTRY_STATE[@]}"; do
		[ "$keep_logs" = 1 ] && [ "$e" = logs ] && continue
		rm -rf -- "${REGISTRY_DIR:?}/$e"
	done
	[ "$keep_logs" = 1 ] || rm -f -- "${REGISTRY_DIR:?}/$REGISTRY_MARKER"
	rmdir -- "$REGISTRY_DIR" 2>/dev/null || true
}

# r_pick_port: sets PORT to a TCP port nobody listens on, below the ephemeral range (as tests/cluster/up.sh).
# shellcheck disable=SC2034 # PORT is the result
r_pick_port() {
	local lo=20000 hi=32767 range listening p i
	if range=$(cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null); then
		range=${range%%[[:space:]]*}
		if [[ $range =~ ^[0-9]+$ ]] && [ "$range" -gt 21000 ]; then hi=$((range - 1)); fi
	fi
	listening=$(ss -Hltn 2>/dev/null | tr -s ' ' | cut -d' ' -f4) || listening=""
	for ((i = 0; i < 200; i++)); do
		p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
		if ! grep -q ":$p\$" <<<"$listening"; then
			PORT=$p
			return 0
		fi
	done
	rlog "FAILED: no free TCP port found in $lo-$hi"
	return 1
}
