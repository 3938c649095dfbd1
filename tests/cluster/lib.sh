# Shared helpers for tests/cluster/{up,down,restart-apiserver}.sh (sourced, not executed).
#
# Layout of a cluster directory (CLUSTER_DIR, default <repo>/.cluster):
#   env                     shell assignments: APISERVER_URL, APISERVER_PORT, ETCD_URL, ... (see up.sh)
#   kubeconfig              admin kubeconfig (client cert in system:masters, data embedded)
#   kubeconfigs/<c>.kubeconfig  one per control-plane component
#   pki/                    CA, serving/client certs, service-account key pair (openssl CLI)
#   cmdline/<c>             the exact argv each component was started with (printf %q quoted)
#   pids/<c>.pid            the PID; pids/<c>.start its start time (guards against PID reuse)
#   logs/<c>.log            stdout+stderr of each component
#   nodes.yaml, kwok/       the fake Nodes; kwok's private HOME and stages
#   kcm/                    the controller-manager's (empty) flex-volume plugin dir
#   node/                   the real node's configuration and pause image (REAL_NODE=1, node-lib.sh);
#                           its processes are the components node-containerd, node-kubelet, node-kube-proxy
#   .spin-operator-cluster  marker: this directory belongs to up.sh and down.sh may clear it
# etcd's data lives on /dev/shm when it exists (ETCD_DATA_DIR in env), else in CLUSTER_DIR/etcd.

CLUSTER_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=${REPO:-$(cd "$CLUSTER_LIB_DIR/../.." && pwd)}
CLUSTER_DIR=${CLUSTER_DIR:-$REPO/.cluster}
TOOLS_BIN=${TOOLS_BIN:-$REPO/.tools/bin}

# Start order; teardown walks it backwards.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# Every CLUSTER_DIR entry the scripts create. down.sh removes exactly these, never "rm -rf $CLUSTER_DIR",
# and only in a directory that carries up.sh's marker file, so a mistyped CLUSTER_DIR=$HOME cannot wipe
# anything that is not ours.
MARKER=.spin-operator-cluster
STATE_ENTRIES=(env env.tmp kubeconfig kubeconfigs pki cmdline pids logs nodes.yaml kwok kcm etcd node)

# Loopback connections must never go through a proxy set for the package registries.
export NO_PROXY=127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY} no_proxy=127.0.0.1,localhost${no_proxy:+,$no_proxy}

declare -A TAKEN_PORTS=() # ports handed out by this run, not yet bound when the next one is picked

log() { echo "cluster: $*" >&2; }

# now_ms: wall clock in milliseconds (bash 5 EPOCHREALTIME, no date/awk forks).
now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# fmt_secs <ms>: "12.3".
fmt_secs() { echo "$(($1 / 1000)).$((($1 % 1000) / 100))"; }

# proc_stat <pid>: prints "<state> <starttime>" from /proc/<pid>/stat (fields 3 and 22). The command
# name (field 2) may contain spaces, so everything up to the last ") " is cut first.
proc_stat() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	local -a fields
	read -r -a fields <<<"$stat"
	echo "${fields[0]} ${fields[19]}"
}

# proc_start <pid>: the start time in clock ticks since boot; with the PID it identifies a process.
proc_start() {
	local s
	s=$(proc_stat "$1") || return 1
	echo "${s#* }"
}

# pid_of <component>: prints the recorded PID when that exact process is still running.
# A PID alone could have been reused by an unrelated process after a crash or reboot; the recorded
# start time tells them apart, so nothing but our own process is ever signalled.
pid_of() {
	local c=$1 pid start s
	pid=$(cat "$CLUSTER_DIR/pids/$c.pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	start=$(cat "$CLUSTER_DIR/pids/$c.start" 2>/dev/null) || return 1
	s=$(proc_stat "$pid") || return 1
	# A zombie (exited, not yet reaped by its parent) is not running.
	[ "$s" = "${s#Z }" ] || return 1
	[ "${s#* }" = "$start" ] || return 1
	echo "$pid"
}

# launch <component> <argv...>: starts a component in the background, detached from our stdio, with
# its log, PID and exact command line recorded. SIGHUP is ignored (like nohup) so closing the terminal
# that ran up.sh leaves the cluster running; Go programs keep an inherited ignored SIGHUP ignored.
launch() {
	local c=$1
	shift
	mkdir -p "$CLUSTER_DIR/pids" "$CLUSTER_DIR/logs" "$CLUSTER_DIR/cmdline"
	printf '%q ' "$@" >"$CLUSTER_DIR/cmdline/$c"
	echo >>"$CLUSTER_DIR/cmdline/$c"
	echo "=== $(date -u +%FT%TZ) starting $c" >>"$CLUSTER_DIR/logs/$c.log"
	# The subshell execs the binary, so $! is the component's own PID.
	(
		trap '' HUP
		exec "$@" </dev/null >>"$CLUSTER_DIR/logs/$c.log" 2>&1
	) &
	local pid=$!
	echo "$pid" >"$CLUSTER_DIR/pids/$c.pid"
	# /proc/<pid>/stat exists from fork on; the start time does not change at exec.
	proc_start "$pid" >"$CLUSTER_DIR/pids/$c.start" || true
}

# relaunch <component>: starts a component again with the command line recorded by launch.
relaunch() {
	local c=$1 line
	line=$(cat "$CLUSTER_DIR/cmdline/$c")
	local -a argv
	eval "argv=($line)"
	launch "$c" "${argv[@]}"
}

# stop_component <component>: SIGTERM, then SIGKILL after 10 s. Only the recorded, verified PID is
# signalled, never a process found by name.
stop_component() {
	local c=$1 pid i
	pid=$(pid_of "$c") || { rm -f "$CLUSTER_DIR/pids/$c.pid" "$CLUSTER_DIR/pids/$c.start"; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		pid_of "$c" >/dev/null || break
		sleep 0.1
	done
	if pid_of "$c" >/dev/null; then
		log "$c (pid $pid) ignored SIGTERM for 10 s, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			pid_of "$c" >/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$CLUSTER_DIR/pids/$c.pid" "$CLUSTER_DIR/pids/$c.start"
}

# stop_all: every recorded component, in reverse start order.
stop_all() {
	local i
	for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
		stop_component "${COMPONENTS[$i]}"
	done
}

# log_tail <component> [lines]: the end of a component's log, indented, for failure reports.
log_tail() {
	local f="$CLUSTER_DIR/logs/$1.log"
	[ -f "$f" ] || return 0
	echo "--- last ${2:-25} lines of $f" >&2
	tail -n "${2:-25}" "$f" | sed 's/^/    /' >&2
}

# load_env: reads CLUSTER_DIR/env into the current shell (keeping CLUSTER_DIR as given, should the
# directory have been moved since).
load_env() {
	local dir=$CLUSTER_DIR
	[ -f "$dir/env" ] || return 1
	# shellcheck disable=SC1091
	. "$dir/env"
	CLUSTER_DIR=$dir
}

# curl_ok <url> <expected substring> [curl args...]: one quick probe. --noproxy: loopback only.
curl_ok() {
	local url=$1 want=$2 out
	shift 2
	out=$(curl -s --noproxy '*' --max-time 2 "$@" "$url" 2>/dev/null) || return 1
	[[ $out == *"$want"* ]]
}

# apiserver_ready: /readyz answers "ok" over TLS verified against our CA.
apiserver_ready() {
	curl_ok "$APISERVER_URL/readyz" ok --cacert "$CLUSTER_DIR/pki/ca.crt"
}

# wait_for <component> <seconds> <what> cmd...: polls cmd every 0.2 s. Fails early when the component's
# process has died, so a crash is reported at once instead of after the timeout. On failure the reason
# is in WAIT_ERROR (for the caller's message).
# shellcheck disable=SC2034
wait_for() {
	local c=$1 secs=$2 what=$3
	shift 3
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ! pid_of "$c" >/dev/null; then
			WAIT_ERROR="$c exited while waiting for $what"
			return 1
		fi
		if [ $SECONDS -ge $deadline ]; then
			WAIT_ERROR="$c: timed out after ${secs} s waiting for $what"
			return 1
		fi
		sleep 0.2
	done
}

# cluster_healthy: every recorded process alive and the apiserver ready.
cluster_healthy() {
	local c
	load_env 2>/dev/null || return 1
	for c in "${COMPONENTS[@]}"; do
		pid_of "$c" >/dev/null || return 1
	done
	apiserver_ready
}

# remove_state: deletes the known CLUSTER_DIR entries (optionally keeping logs/), the etcd data dir,
# and CLUSTER_DIR itself when that leaves it empty.
remove_state() {
	local keep_logs=${1:-0} e data=""
	[ -d "$CLUSTER_DIR" ] || return 0
	# A directory without the marker (or an env written by up.sh, for clusters started before the
	# marker existed) is not ours: leave it alone.
	if [ ! -f "$CLUSTER_DIR/$MARKER" ] &&
		! head -n1 "$CLUSTER_DIR/env" 2>/dev/null | grep -q '^# Written by tests/cluster/up.sh'; then
		[ -z "$(ls -A "$CLUSTER_DIR" 2>/dev/null)" ] && rmdir -- "$CLUSTER_DIR" 2>/dev/null
		return 0
	fi
	if [ -f "$CLUSTER_DIR/env" ]; then
		# shellcheck source=/dev/null
		data=$(. "$CLUSTER_DIR/env" 2>/dev/null && echo "${ETCD_DATA_DIR:-}") || data=""
	fi
	# Only ever delete an etcd dir that up.sh itself could have made.
	case "$data" in
	/dev/shm/spin-operator-etcd.*) rm -rf -- "$data" ;;
	esac
	for e in "${STATE_ENTRIES[@]}"; do
		[ "$keep_logs" = 1 ] && [ "$e" = logs ] && continue
		rm -rf -- "${CLUSTER_DIR:?}/$e"
	done
	# Kept with the logs, so the next up.sh may clear them.
	[ "$keep_logs" = 1 ] || rm -f -- "${CLUSTER_DIR:?}/$MARKER"
	rmdir -- "$CLUSTER_DIR" 2>/dev/null || true
}

# pick_port: sets PORT to a TCP port nobody listens on (a global, not stdout: a $(...) subshell would
# lose the TAKEN_PORTS bookkeeping). Candidates are random, below the kernel's ephemeral range
# (outgoing connections take ports from there and could steal ours between pick and bind), and not
# handed out earlier in this run. Parallel up.sh runs can still race for a port between pick and bind;
# await_component catches "address already in use" and picks again.
pick_port() {
	local lo=20000 hi=32767 range listening p i
	if range=$(cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null); then
		range=${range%%[[:space:]]*}
		if [[ $range =~ ^[0-9]+$ ]] && [ "$range" -gt 21000 ]; then hi=$((range - 1)); fi
	fi
	listening=$(ss -Hltn 2>/dev/null | tr -s ' ' | cut -d' ' -f4) || listening=""
	for ((i = 0; i < 200; i++)); do
		p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
		[ -z "${TAKEN_PORTS[$p]:-}" ] || continue
		# ss prints local addresses as 127.0.0.1:2379, [::]:80, *:22 ...
		if ! grep -q ":$p\$" <<<"$listening"; then
			TAKEN_PORTS[$p]=1
			PORT=$p
			return 0
		fi
	done
	log "FAILED: no free TCP port found in $lo-$hi"
	exit 1
}
