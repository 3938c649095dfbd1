#!/usr/bin/env bash
# The reconciler benchmark (issue 3 §6): 1000 SpinApps with one executor on a private local control plane.
# Run by `make bench` (BUILD set); never part of `make test`. It reports figures and never fails on one: the
# exit status is non-zero only when the benchmark could not run.
#
#   BENCH_APPS=1000              number of SpinApps (and of baseline Deployments)
#   BENCH_VARIANT_WORKERS=N      also run the operator phase once more with --max-concurrent-reconciles N
#                                (default: none)
#   BENCH_LOG_LEVEL=info         the operator's --log-level
#   BENCH_TIMEOUT=480            seconds each wait (all children / all Available) may take before giving up
#   BENCH_DOC=docs/performance.md   where the results are recorded ("-" or "" records nothing)
#   BENCH_APP_FIELDS=all         give every SpinApp each pod option of issue 15 §2 (env with the downward
#                                API, imagePullPolicy, nodeSelector, tolerations, affinity,
#                                topologySpreadConstraints, priorityClassName; a PriorityClass is created);
#                                default: none, the apps as upstream writes them. The scale subresource of
#                                §1 adds no spec field to set (replicas stays 1, so that every app runs a pod
#                                to wait for); its status fields (replicas, selector) are written for every
#                                app, with or without this setting
#
# Phases, each in a fresh namespace of one cluster (CLUSTER_DIR=$BUILD/bench-cluster, tests/cluster/up.sh,
# torn down on exit):
#   0. setup: CRDs, the RuntimeClass sample, extra kwok nodes (pods capacity 220 each), the N SpinApps.
#   1. BASELINE: the executor sample (config/samples/spin-shim-executor.yaml, unchanged:
#      installDefaultCACerts: true) and the N SpinApps in a namespace no operator watches; then the objects
#      `spin-operator render -o json` makes of the stored apps (3N + 1: runtime-config Secret, Deployment and
#      Service per app with their ownerReferences, one CA Secret) are created by bench_loader (our C client,
#      8 threads, QPS unlimited); times until the apiserver accepted them all and until every Deployment is
#      Available (kwok makes pods Ready). Then the namespace is deleted: every measured phase starts from the
#      same cluster, and none pays for another's 1000 Services and pods.
#   1b. FLOOR: the same as 1 (accept time only), but bench_loader --apply writes each object the way the operator
#      does (Secrets created, Deployments and Services server-side applied): what the operator's writes cost
#      the apiserver with no operator, the least the operator phase can take.
#   2. OPERATOR: the executor and the N SpinApps in another namespace, then the operator starts (release build,
#      its default client settings: no client-side rate limit, as a user gets; --namespace <that namespace>); bench_watch times the children and the
#      SpinApps' Available=True from the operator's start. Requests per app from spin_operator_api_requests_total;
#      CPU (utime+stime) and VmHWM from /proc.
#   3. STEADY STATE: 30 s after convergence, the change of spin_operator_api_writes_total and of reconciles.
#   4. RESTART: SIGTERM, start again: `caches synced in X s` and the writes in the first 20 s after sync.
#   5. BASELINE again (accept time only) once the operator's namespace is deleted; the children ratio uses the
#      mean of the two baselines.
#   (6. with BENCH_VARIANT_WORKERS: phase 2 again, after deleting phase 5's namespace, with that many workers.)
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build/release}
case "$BUILD" in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
APPS=${BENCH_APPS:-1000}
VARIANT=${BENCH_VARIANT_WORKERS:-}
LOG_LEVEL=${BENCH_LOG_LEVEL:-info}
TIMEOUT=${BENCH_TIMEOUT:-480}
DOC=${BENCH_DOC-$REPO/docs/performance.md}
APP_FIELDS=${BENCH_APP_FIELDS:-}
STEADY_S=30
RESTART_WINDOW_S=20
LOADER_THREADS=8

OPERATOR="$BUILD/bin/spin-operator"
LOADER="$BUILD/tests/bench/bench_loader"
WATCH="$BUILD/tests/bench/bench_watch"
OUT="$BUILD/bench"
export CLUSTER_DIR="$BUILD/bench-cluster"
export KUBECONFIG="$CLUSTER_DIR/kubeconfig"
export PATH="$REPO/.tools/bin:$PATH"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
EXECUTOR_SAMPLE="$REPO/config/samples/spin-shim-executor.yaml"
IMAGE=ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0
CLK_TCK=$(getconf CLK_TCK)
bench_start=$SECONDS

die() {
	echo "bench: cannot run: $*" >&2
	exit 1
}
say() { printf 'bench: [%3d s] %s\n' $((SECONDS - bench_start)) "$*" >&2; }

case "$APPS" in '' | *[!0-9]* | 0) die "BENCH_APPS must be a positive integer" ;; esac
case "$VARIANT" in '' | [1-9] | [1-9][0-9]) ;; *) die "BENCH_VARIANT_WORKERS must be 1..99" ;; esac
for f in "$OPERATOR" "$LOADER" "$WATCH"; do
	[ -x "$f" ] || die "$f is missing (make bench builds it)"
done
for t in kubectl jq curl awk; do
	command -v "$t" >/dev/null || die "$t not found"
done
# The operator's own --max-concurrent-reconciles default, the one the operator phase measures.
DEFAULT_WORKERS=$("$OPERATOR" --help 2>&1 | sed -n 's/.*SpinApps reconciled in parallel (default \([0-9]*\)).*/\1/p')
[ -n "$DEFAULT_WORKERS" ] || die "no --max-concurrent-reconciles default in $OPERATOR --help"

# ---- cleanup: operators and watchers we started, then the cluster ----------------------------------------

op_pid=""
watch_pids=()
cleanup() {
	local p
	if [ -n "$op_pid" ] && kill -0 "$op_pid" 2>/dev/null; then
		kill -TERM "$op_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$op_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$op_pid" 2>/dev/null
		wait "$op_pid" 2>/dev/null
	fi
	for p in "${watch_pids[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	"$REPO/tests/cluster/down.sh" >"$OUT/cluster-down.log" 2>&1 || echo "bench: down.sh failed (see $OUT/cluster-down.log)" >&2
}

mkdir -p "$OUT" || die "cannot create $OUT"
rm -f "$OUT"/*.log "$OUT"/*.txt "$OUT"/*.kv "$OUT"/*.json "$OUT"/*.yaml "$OUT"/*.md
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- helpers ------------------------------------------------------------------------------------------------

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
# kv <file> <key>: the value of the last key=value line (empty when absent)
kv() { sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -1; }
# metric <file> <name> [label-match]: a sample value from a /metrics scrape (0 when absent)
metric() {
	awk -v n="$2" -v l="${3:-}" '$1 == n || (index($1, n "{") == 1 && (l == "" || index($1, l) > 0)) { v = $2 } END { print v + 0 }' "$1"
}
proc_cpu() { # utime+stime of a live process, in seconds
	awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null
}
proc_hwm_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
proc_rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }

# log_epoch <RFC 3339 timestamp with Z> → epoch seconds with fractions
log_epoch() { date -u -d "$1" +%s.%N; }

# start_watch <outfile> args...: bench_watch in the background; returns when its caches synced.
start_watch() {
	local out=$1
	shift
	"$WATCH" --timeout "$TIMEOUT" "$@" >"$out" 2>"$out.err" &
	watch_pids+=($!)
	watch_pid=$!
	for _ in $(seq 600); do
		grep -qs '^synced=1' "$out" && return 0
		kill -0 "$watch_pid" 2>/dev/null || die "bench_watch exited early: $(tail -3 "$out.err")"
		sleep 0.1
	done
	die "bench_watch did not sync"
}

# wait_watch <outfile> <pid> [scrape-file]: until the watcher printed done=1 (0) or timeout=1 / died (1). Also
# watches op_pid. With scrape-file, scrapes the operator's /metrics into it once all children exist.
wait_watch() {
	local out=$1 pid=$2 at_children=${3:-}
	while :; do
		if [ -n "$at_children" ] && grep -qs '^deployments_all_epoch' "$out" && grep -q '^services_all_epoch' "$out" &&
			grep -q '^secrets_all_epoch' "$out"; then
			scrape "$at_children"
			at_children=""
		fi
		grep -qs '^done=1' "$out" && return 0
		grep -qs '^timeout=1' "$out" && return 1
		kill -0 "$pid" 2>/dev/null || { grep -qs '^done=1' "$out" && return 0; return 1; }
		if [ -n "$op_pid" ] && ! kill -0 "$op_pid" 2>/dev/null; then
			echo "bench: the operator exited during the phase" >&2
			return 1
		fi
		sleep 0.2
	done
}

# The admission webhook (when the build has one) is not registered with the bench's apiserver: keep it off, so
# its port (:9443 by default) cannot clash with another operator on the machine.
op_extra=()
grep -q -- '--webhook-bind-address' <<<"$("$OPERATOR" --help 2>&1)" && op_extra+=(--webhook-bind-address 0)

# start_operator <log> <workers> <namespace>: sets op_pid, op_t0 (epoch), op_port (metrics).
start_operator() {
	local log=$1 workers=$2 ns=$3
	op_t0=$(now)
	"$OPERATOR" --kubeconfig "$KUBECONFIG" --namespace "$ns" \
		--max-concurrent-reconciles "$workers" --log-level "$LOG_LEVEL" \
		--metrics-bind-address 127.0.0.1:0 --metrics-secure=false --health-probe-bind-address 127.0.0.1:0 "${op_extra[@]}" >"$log" 2>&1 &
	op_pid=$!
	op_port=""
	for _ in $(seq 200); do
		op_port=$(sed -n 's/.*metrics listening on .* (port \([0-9]*\)).*/\1/p' "$log" | head -1)
		[ -n "$op_port" ] && return 0
		kill -0 "$op_pid" 2>/dev/null || die "the operator exited at start: $(tail -5 "$log")"
		sleep 0.05
	done
	die "the operator did not report its metrics port: $(tail -5 "$log")"
}

scrape() { curl -sf --max-time 10 "http://127.0.0.1:$op_port/metrics" >"$1" || die "cannot scrape /metrics"; }

# wait_synced <log>: until the log shows "caches synced"; prints the line.
wait_synced() {
	local line
	for _ in $(seq 1200); do
		line=$(grep -m1 'caches synced in' "$1") && { echo "$line"; return 0; }
		kill -0 "$op_pid" 2>/dev/null || die "the operator exited before its caches synced: $(tail -5 "$1")"
		sleep 0.05
	done
	die "caches did not sync: $(tail -5 "$1")"
}

stop_operator() { # SIGTERM, wait; sets op_stop_s
	local t0
	t0=$(now)
	kill -TERM "$op_pid" 2>/dev/null
	wait "$op_pid"
	op_exit=$?
	op_stop_s=$(calc "$(now) - $t0")
	op_pid=""
}

ip_addresses() { kubectl get ipaddresses.networking.k8s.io --no-headers 2>/dev/null | wc -l; }

# clear_namespace <ns>: deletes it and waits until it and the ClusterIPs of its Services are gone (the
# namespace controller and kwok remove the pods); sets cleared_s. No operator runs by then, so the executor
# finalizer the operator phase left is removed here.
clear_namespace() {
	local t0 x
	t0=$(now)
	for x in $(kubectl get spinappexecutors -n "$1" -o name 2>/dev/null); do
		kubectl patch -n "$1" "$x" --type=merge -p '{"metadata":{"finalizers":null}}' >>"$OUT/setup.log" 2>&1 ||
			die "removing the finalizer of $x: $(tail -3 "$OUT/setup.log")"
	done
	kubectl delete namespace "$1" --wait=true --timeout="${TIMEOUT}s" >>"$OUT/setup.log" 2>&1 ||
		die "deleting namespace $1: $(tail -3 "$OUT/setup.log")"
	for _ in $(seq 600); do
		[ "$(ip_addresses)" -le "$ips_at_start" ] && break
		sleep 0.1
	done
	cleared_s=$(calc "$(now) - $t0")
}

methods=(GET WATCH POST PUT PATCH DELETE)

# per_app_requests <metrics file>: "GET a, WATCH b, ..." per app (zeros left out), and the total per app
per_app_requests() {
	local m v parts=() total=0
	for m in "${methods[@]}"; do
		v=$(metric "$1" spin_operator_api_requests_total "method=\"$m\"")
		total=$((total + v))
		[ "$v" -gt 0 ] && parts+=("$m $(calc "$v / $APPS")")
	done
	req_total_per_app=$(calc "$total / $APPS")
	req_breakdown=$(IFS=,; echo "${parts[*]}" | sed 's/,/, /g')
}

# ---- 0. setup ---------------------------------------------------------------------------------------------

say "starting a private control plane in $CLUSTER_DIR"
if ! "$REPO/tests/cluster/up.sh" >"$OUT/cluster-up.log" 2>&1; then
	tail -20 "$OUT/cluster-up.log" >&2
	die "tests/cluster/up.sh failed (see $OUT/cluster-up.log)"
fi
say "$(tail -1 "$OUT/cluster-up.log")"

kubectl apply -f "$REPO/crds/core.spinkube.dev_spinapps.yaml" -f "$REPO/crds/core.spinkube.dev_spinappexecutors.yaml" \
	>"$OUT/setup.log" 2>&1 &&
	kubectl wait --for condition=Established --timeout=60s crd/spinapps.core.spinkube.dev \
		crd/spinappexecutors.core.spinkube.dev >>"$OUT/setup.log" 2>&1 &&
	kubectl apply -f "$REPO/config/samples/spin-runtime-class.yaml" >>"$OUT/setup.log" 2>&1 ||
	die "CRDs / RuntimeClass: $(tail -3 "$OUT/setup.log")"
crds_established=$(now)

# Extra kwok nodes, the shape up.sh uses, enough for one phase's pods: each phase's namespace is deleted, pods
# included, before the next one starts.
nodes=$(((APPS + 219) / 220))
{
	for i in $(seq 0 $((nodes - 1))); do
		cat <<-EOF
			---
			apiVersion: v1
			kind: Node
			metadata:
			  name: bench-node-$i
			  annotations:
			    kwok.x-k8s.io/node: fake
			    node.alpha.kubernetes.io/ttl: "0"
			  labels:
			    kubernetes.io/arch: amd64
			    kubernetes.io/os: linux
			    kubernetes.io/hostname: bench-node-$i
			    type: kwok
			    bench: "true"
			status:
			  allocatable: {cpu: "64", memory: 512Gi, pods: "220"}
			  capacity: {cpu: "64", memory: 512Gi, pods: "220"}
			  nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: fake, kubeProxyVersion: fake}
		EOF
	done
} >"$OUT/nodes.yaml"
kubectl apply -f "$OUT/nodes.yaml" >>"$OUT/setup.log" 2>&1 &&
	kubectl wait --for condition=Ready --timeout=60s node -l bench=true >>"$OUT/setup.log" 2>&1 ||
	die "extra nodes: $(tail -3 "$OUT/setup.log")"
say "$nodes extra kwok nodes Ready (pods capacity 220 each)"

# The apps, one JSON document each; with BENCH_APP_FIELDS=all, every pod option (all satisfiable on the bench
# nodes: their labels, ScheduleAnyway, a PriorityClass made here).
extra=""
case "$APP_FIELDS" in
"") ;;
all)
	kubectl apply -f - >>"$OUT/setup.log" 2>&1 <<-EOF || die "PriorityClass: $(tail -3 "$OUT/setup.log")"
		apiVersion: scheduling.k8s.io/v1
		kind: PriorityClass
		metadata: {name: bench-spin-apps}
		value: 1000
	EOF
	extra=',"imagePullPolicy":"IfNotPresent","env":[{"name":"NODE_IP","valueFrom":{"fieldRef":{"fieldPath":"status.hostIP"}}},{"name":"MODE","value":"bench"}],"nodeSelector":{"bench":"true"},"tolerations":[{"key":"spinkube.dev/wasm","operator":"Exists","effect":"NoSchedule"}],"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":10,"preference":{"matchExpressions":[{"key":"type","operator":"In","values":["kwok"]}]}}]}},"topologySpreadConstraints":[{"maxSkew":5,"topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"ScheduleAnyway"}],"priorityClassName":"bench-spin-apps"'
	;;
*) die "BENCH_APP_FIELDS must be empty or all" ;;
esac
for i in $(seq -f '%04g' 1 "$APPS"); do
	printf '{"apiVersion":"core.spinkube.dev/v1alpha1","kind":"SpinApp","metadata":{"name":"app-%s"},' "$i"
	printf '"spec":{"image":"%s","replicas":1,"executor":"containerd-shim-spin"%s}}\n' "$IMAGE" "$extra"
done >"$OUT/apps.ndjson"
jq -s '.' "$OUT/apps.ndjson" >"$OUT/apps.json" || die "jq"

machine_load=$(cut -d' ' -f1-3 /proc/loadavg)
ips_at_start=$(ip_addresses)

# load_apps <namespace> <tag>: the executor sample and the SpinApps, as the operator phase starts.
load_apps() {
	kubectl create namespace "$1" >/dev/null || die "namespace $1"
	kubectl apply -n "$1" -f "$EXECUTOR_SAMPLE" >>"$OUT/setup.log" 2>&1 || die "executor in $1"
	"$LOADER" -f "$OUT/apps.json" -n "$1" -t "$LOADER_THREADS" >"$OUT/$2-apps-loader.kv" 2>"$OUT/$2-apps-loader.err" ||
		die "loading the SpinApps: $(tail -3 "$OUT/$2-apps-loader.err")"
}

# baseline_load <namespace> <tag> <create|apply> [watch]: SpinApps that no operator watches, then what the
# operator would make of them, rendered from the stored apps so that the children are the operator's,
# ownerReferences (uids) included, written by bench_loader: all created, or (apply) written as the operator
# writes them. With watch, bench_watch runs from before the load. Sets <tag>_t0, <tag>_accept, <tag>_objects.
baseline_load() {
	local ns=$1 tag=$2 mode=()
	[ "$3" = apply ] && mode=(--apply)
	load_apps "$ns" "$tag"
	kubectl get spinapps -n "$ns" -o json >"$OUT/$tag-apps-stored.json" || die "listing the SpinApps of $ns"
	jq -c '.items[] | {apiVersion, kind, metadata: {name: .metadata.name, uid: .metadata.uid}, spec}' \
		"$OUT/$tag-apps-stored.json" | sed 's/$/\n---/' >"$OUT/$tag-apps.yaml" || die "jq"
	"$OPERATOR" render -f "$OUT/$tag-apps.yaml" -f "$EXECUTOR_SAMPLE" -o json >"$OUT/$tag-children.json" \
		2>"$OUT/$tag-render.log" || die "spin-operator render: $(head -3 "$OUT/$tag-render.log")"
	say "BASELINE[$tag]: loading $(jq -r '[.items[].kind] | group_by(.) | map("\(length) \(.[0])") | join(", ")' \
		"$OUT/$tag-children.json") into $ns ($LOADER_THREADS threads, QPS unlimited${mode[*]:+, ${mode[*]}})"
	[ -n "${4:-}" ] && start_watch "$OUT/$tag-watch.kv" -n "$ns" -c "$APPS"
	"$LOADER" -f "$OUT/$tag-children.json" -n "$ns" -t "$LOADER_THREADS" "${mode[@]}" >"$OUT/$tag-loader.kv" \
		2>"$OUT/$tag-loader.err" || die "baseline loader: $(tail -3 "$OUT/$tag-loader.err")"
	local accept objects
	accept=$(kv "$OUT/$tag-loader.kv" accepted_s)
	objects=$(kv "$OUT/$tag-loader.kv" objects)
	eval "${tag}_t0=$(kv "$OUT/$tag-loader.kv" start_epoch) ${tag}_accept=$accept ${tag}_objects=$objects"
	say "BASELINE[$tag]: apiserver accepted $objects objects in $accept s"
}

# ---- 1. baseline -------------------------------------------------------------------------------------------

# kube-controller-manager's garbage collector rediscovers resources every 30 s (core.go, syncPeriod). Until it
# watches SpinApps, each child's owner is a "virtual" node it must GET (222 GETs in one 18 s operator run):
# load children only once it knows their owners, as it does for the rest of the run.
sleep "$(awk -v t="$crds_established" -v n="$(now)" 'BEGIN { d = t + 35 - n; printf "%.1f", (d > 0 ? d : 0) }')"
base_ns=bench-base-$RANDOM
baseline_load "$base_ns" base create watch
base_watch_pid=$watch_pid
say "BASELINE: waiting for $APPS Deployments Available"
base_ok=1
wait_watch "$OUT/base-watch.kv" "$base_watch_pid" || base_ok=0
if [ "$base_ok" = 1 ]; then
	base_avail=$(calc "$(kv "$OUT/base-watch.kv" deployments_available_all_epoch) - $base_t0")
	base_avail_p50=$(calc "$(kv "$OUT/base-watch.kv" deployments_available_p50_epoch) - $base_t0")
else
	base_avail="timeout"
	base_avail_p50="-"
fi
say "BASELINE: all Deployments Available after $base_avail s"
# Every Service holds an IPAddress object and the apiserver's ClusterIP allocator counts them all on each
# allocation, so an operator phase run next to the baseline's Services would pay more per Service than the
# baseline did. Each measured phase starts from the cluster the baseline started from.
clear_namespace "$base_ns"
base_cleared_s=$cleared_s
say "BASELINE: $base_ns deleted in $base_cleared_s s ($(ip_addresses) IPAddresses left)"

# ---- 1b. floor ---------------------------------------------------------------------------------------------

floor_ns=bench-floor-$RANDOM
baseline_load "$floor_ns" floor apply
clear_namespace "$floor_ns"
say "FLOOR: $floor_ns deleted in $cleared_s s"

# ---- 2. operator -------------------------------------------------------------------------------------------

# op_phase <namespace> <workers> <tag>: loads the apps, starts the operator, waits for convergence.
# Sets (prefix = tag): _apps_load, _sync, _children, _dep, _svc, _sec, _avail, _avail_p50, _first, _cpu, _hwm,
# _req_per_app, _req_breakdown, _writes, _reconciles, _ok; leaves the operator running (op_pid).
op_phase() {
	local ns=$1 workers=$2 tag=$3 w="$OUT/$3-watch.kv" log="$OUT/$3-operator.log" ok=1 t0 line
	load_apps "$ns" "$tag"
	eval "${tag}_apps_load=$(kv "$OUT/$tag-apps-loader.kv" accepted_s)"
	say "OPERATOR[$tag]: $APPS SpinApps created in $ns in $(kv "$OUT/$tag-apps-loader.kv" accepted_s) s; starting the operator ($workers workers)"
	start_watch "$w" -n "$ns" -c "$APPS" --apps
	local wpid=$watch_pid
	start_operator "$log" "$workers" "$ns"
	t0=$op_t0
	line=$(wait_synced "$log") || exit 1
	eval "${tag}_sync=$(sed -n 's/.*caches synced in \([0-9.]*\) s.*/\1/p' <<<"$line")"
	wait_watch "$w" "$wpid" "$OUT/$tag-metrics-children.txt" || ok=0
	scrape "$OUT/$tag-metrics-converged.txt"
	eval "${tag}_cpu=$(proc_cpu "$op_pid")"
	eval "${tag}_hwm=$(proc_hwm_mib "$op_pid")"
	eval "${tag}_ok=$ok"
	local k e
	for k in deployments:dep services:svc secrets:sec apps_available:avail; do
		e=$(kv "$w" "${k%%:*}_all_epoch")
		eval "${tag}_${k#*:}=$( [ -n "$e" ] && calc "$e - $t0" || echo timeout)"
	done
	e=$(kv "$w" apps_available_p50_epoch)
	eval "${tag}_avail_p50=$( [ -n "$e" ] && calc "$e - $t0" || echo -)"
	e=$(kv "$w" apps_available_first_epoch)
	eval "${tag}_avail_first=$( [ -n "$e" ] && calc "$e - $t0" || echo -)"
	e=$(kv "$w" deployments_first_epoch)
	eval "${tag}_first=$( [ -n "$e" ] && calc "$e - $t0" || echo -)"
	local d s c
	d=$(kv "$w" deployments_all_epoch) s=$(kv "$w" services_all_epoch) c=$(kv "$w" secrets_all_epoch)
	if [ -n "$d" ] && [ -n "$s" ] && [ -n "$c" ]; then
		eval "${tag}_children=$(awk -v a="$d" -v b="$s" -v c="$c" -v t="$t0" 'BEGIN { m = a; if (b > m) m = b; if (c > m) m = c; printf "%.2f", m - t }')"
	else
		eval "${tag}_children=timeout"
	fi
	per_app_requests "$OUT/$tag-metrics-converged.txt"
	eval "${tag}_req_per_app='$req_total_per_app'"
	eval "${tag}_req_breakdown='$req_breakdown'"
	if [ -f "$OUT/$tag-metrics-children.txt" ]; then
		per_app_requests "$OUT/$tag-metrics-children.txt"
		eval "${tag}_req_children='$req_total_per_app ($req_breakdown)'"
	else
		eval "${tag}_req_children=-"
	fi
	eval "${tag}_writes=$(metric "$OUT/$tag-metrics-converged.txt" spin_operator_api_writes_total)"
	eval "${tag}_skipped=$(metric "$OUT/$tag-metrics-converged.txt" spin_operator_applies_skipped_total)"
	eval "${tag}_reconciles=$(metric "$OUT/$tag-metrics-converged.txt" controller_runtime_reconcile_total 'controller="spinapp",result="success"')"
	eval "${tag}_reconcile_errors=$(metric "$OUT/$tag-metrics-converged.txt" controller_runtime_reconcile_total 'controller="spinapp",result="error"')"
	local vc="${tag}_children" va="${tag}_avail"
	say "OPERATOR[$tag]: all children exist after ${!vc} s, all SpinApps Available after ${!va} s"
}

op_ns=bench-op-$RANDOM
op_phase "$op_ns" "$DEFAULT_WORKERS" op

# ---- 3. steady state -----------------------------------------------------------------------------------------

say "STEADY: watching writes for $STEADY_S s"
scrape "$OUT/op-metrics-steady0.txt"
sleep "$STEADY_S"
scrape "$OUT/op-metrics-steady1.txt"
w0=$(metric "$OUT/op-metrics-steady0.txt" spin_operator_api_writes_total)
w1=$(metric "$OUT/op-metrics-steady1.txt" spin_operator_api_writes_total)
# controller_runtime_reconcile_total has success and error series: sum both
sum_reconciles() { awk '$1 ~ /^controller_runtime_reconcile_total\{controller="spinapp"/ { s += $2 } END { print s + 0 }' "$1"; }
r0=$(sum_reconciles "$OUT/op-metrics-steady0.txt")
r1=$(sum_reconciles "$OUT/op-metrics-steady1.txt")
steady_writes=$((w1 - w0))
steady_reconciles=$((r1 - r0))
steady_total_writes=$w1
op_cpu_end=$(proc_cpu "$op_pid")
op_hwm_end=$(proc_hwm_mib "$op_pid")
op_rss_end=$(proc_rss_mib "$op_pid")
say "STEADY: $steady_writes writes, $steady_reconciles reconciles in $STEADY_S s; CPU $op_cpu_end s, peak RSS $op_hwm_end MiB"

# ---- 4. restart --------------------------------------------------------------------------------------------

stop_operator
first_stop_s=$op_stop_s first_exit=$op_exit
say "RESTART: operator stopped (SIGTERM, exit $first_exit) in $first_stop_s s; starting it again"
start_operator "$OUT/op-restart-operator.log" "$DEFAULT_WORKERS" "$op_ns"
line=$(wait_synced "$OUT/op-restart-operator.log") || exit 1
sync_seen=$(now)
restart_cpu_sync=$(proc_cpu "$op_pid")
restart_hwm_sync=$(proc_hwm_mib "$op_pid")
scrape "$OUT/op-restart-metrics-synced.txt"
restart_sync=$(sed -n 's/.*caches synced in \([0-9.]*\) s.*/\1/p' <<<"$line")
restart_sync_apps=$(sed -n 's/.*s: \([0-9]*\) SpinApps.*/\1/p' <<<"$line")
ts=$(awk '{ print $1 }' <<<"$line")
restart_exec_to_sync=$(calc "$(log_epoch "$ts") - $op_t0")
sleep "$(calc "$sync_seen + $RESTART_WINDOW_S - $(now)" 3)"
scrape "$OUT/op-restart-metrics-20s.txt"
restart_writes=$(($(metric "$OUT/op-restart-metrics-20s.txt" spin_operator_api_writes_total) - $(metric "$OUT/op-restart-metrics-synced.txt" spin_operator_api_writes_total)))
restart_reconciles=$(sum_reconciles "$OUT/op-restart-metrics-20s.txt")
restart_skipped=$(metric "$OUT/op-restart-metrics-20s.txt" spin_operator_applies_skipped_total)
per_app_requests "$OUT/op-restart-metrics-20s.txt"
restart_req_breakdown=$req_breakdown
restart_cpu=$(proc_cpu "$op_pid")
restart_hwm=$(proc_hwm_mib "$op_pid")
stop_operator
say "RESTART: caches synced in $restart_sync s ($restart_exec_to_sync s from exec); $restart_writes writes and $restart_reconciles reconciles in the $RESTART_WINDOW_S s after"

# ---- 5. baseline again ----------------------------------------------------------------------------------------

# The same load's time drifts by up to a third within minutes on a shared machine (10.6 to 15.4 s for the
# loader in one half hour): a second baseline, from the same clean cluster, brackets the operator phase, and
# the ratios use the mean of the two.
clear_namespace "$op_ns"
say "BASELINE[again]: $op_ns deleted in $cleared_s s"
base2_ns=bench-base2-$RANDOM
baseline_load "$base2_ns" base2 create
base_accept_mean=$(calc "($base_accept + $base2_accept) / 2" 3)

# ---- 6. variant ---------------------------------------------------------------------------------------------

if [ -n "$VARIANT" ]; then
	clear_namespace "$base2_ns"
	op_phase "bench-var-$RANDOM" "$VARIANT" var
	var_cpu_end=$(proc_cpu "$op_pid")
	stop_operator
fi

# ---- report -------------------------------------------------------------------------------------------------

verdict() { # verdict <ok?> → met / NOT met
	[ "$1" = 1 ] && echo "met" || echo "**not met**"
}
ratio() { case "$1$2" in *timeout*) echo "-" ;; *) calc "$1 / $2" ;; esac; }
le() { case "$1$2" in *timeout* | *-*) echo 0 ;; *) awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }' ;; esac; }

children_ratio=$(ratio "$op_children" "$base_accept_mean")
floor_ratio=$(ratio "$floor_accept" "$base_accept_mean")
over_floor=$(ratio "$op_children" "$floor_accept")
avail_ratio=$(ratio "$op_avail" "$base_avail")
t_children=$(le "$children_ratio" 1.5)
t_avail=$(le "$avail_ratio" 1.5)
peak_hwm=$(awk -v a="$op_hwm_end" -v b="$restart_hwm" 'BEGIN { print (a > b) ? a : b }')
t_rss=$(le "$peak_hwm" 32)
t_steady=$([ "$steady_writes" = 0 ] && echo 1 || echo 0)
t_restart_writes=$([ "$restart_writes" = 0 ] && echo 1 || echo 0)
t_sync=$(le "$restart_sync" 1)

commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$REPO" status --porcelain 2>/dev/null | grep -q . && echo " (uncommitted changes)" || true)
date_utc=$(date -u '+%Y-%m-%d %H:%M UTC')
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_gib=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
machine="$(nproc) CPUs ($cpu_model), $mem_gib GiB RAM, Linux $(uname -r); load average at start $machine_load"

report="$OUT/results.md"
{
	echo "### $date_utc · commit $commit$dirty · \`make bench\`$([ "$APPS" != 1000 ] && echo " (BENCH_APPS=$APPS)")$([ -n "$VARIANT" ] && echo " (BENCH_VARIANT_WORKERS=$VARIANT)")$([ -n "$APP_FIELDS" ] && echo " (BENCH_APP_FIELDS=$APP_FIELDS)")"
	echo
	echo "Machine: $machine. Kubernetes $(kubectl version -o json 2>/dev/null | jq -r .serverVersion.gitVersion) (local control plane, kwok, $nodes extra nodes)."
	echo "$APPS SpinApps$([ -n "$APP_FIELDS" ] && echo " with every pod option of issue 15 §2 (env, imagePullPolicy, nodeSelector, tolerations, affinity, topologySpreadConstraints, priorityClassName)"), executor \`config/samples/spin-shim-executor.yaml\` unchanged (installDefaultCACerts: true);"
	echo "operator: release build, default client settings (no client-side rate limit), \`--max-concurrent-reconciles $DEFAULT_WORKERS\` (default),"
	echo "\`--namespace <bench namespace>\`, \`--log-level $LOG_LEVEL\`$([ ${#op_extra[@]} -gt 0 ] && echo ", \`${op_extra[*]}\`"). Times from the loader's (baseline) or the operator's (operator) start."
	echo
	echo "| measure | value | target | |"
	echo "| --- | --- | --- | --- |"
	echo "| baseline: apiserver accepts the $base_objects child objects (bench_loader, $LOADER_THREADS threads) | $base_accept_mean s: mean of $base_accept s before and $base2_accept s after the operator phase ($(calc "$base_objects / $base_accept_mean" 0) objects/s) | | |"
	echo "| floor: the same objects written as the operator writes them (Secrets created, the rest server-side applied; bench_loader --apply) | $floor_accept s ($floor_ratio × baseline) | | |"
	echo "| baseline: all $APPS Deployments Available | $base_avail s (50 %: $base_avail_p50 s) | | |"
	echo "| operator: caches synced at start ($APPS SpinApps, no children) | $op_sync s | | |"
	echo "| operator: all children exist ($APPS Deployments, Services, runtime-config Secrets) | $op_children s (Deployments $op_dep, Services $op_svc, Secrets $op_sec; first Deployment $op_first; $over_floor × the floor) | ≤ 1.5 × baseline accept | $children_ratio × — $(verdict "$t_children") |"
	echo "| operator: all $APPS SpinApps Available=True | $op_avail s (first $op_avail_first, 50 %: $op_avail_p50 s) | ≤ 1.5 × baseline Available | $avail_ratio × — $(verdict "$t_avail") |"
	echo "| API requests per app, start to all children | $op_req_children | | |"
	echo "| API requests per app, start to convergence | $op_req_per_app ($op_req_breakdown) | | |"
	echo "| writes per app (spin_operator_api_writes_total ÷ $APPS) | $(calc "$op_writes / $APPS") ($op_writes writes, $op_skipped applies skipped) | | |"
	echo "| SpinApp reconciles to convergence | $op_reconciles ($(calc "$op_reconciles / $APPS") per app; $op_reconcile_errors errors) | | |"
	echo "| operator CPU (utime+stime) | $op_cpu s at convergence, $op_cpu_end s after the steady window | | |"
	echo "| operator peak RSS (VmHWM) | $op_hwm_end MiB (RSS at the end $op_rss_end MiB); restarted process $restart_hwm MiB | ≤ 32 MiB | $(verdict "$t_rss") |"
	echo "| steady state: writes in $STEADY_S s after convergence | $steady_writes ($steady_reconciles reconciles) | 0 | $(verdict "$t_steady") |"
	echo "| restart with $restart_sync_apps apps present: caches synced (log) | $restart_sync s ($restart_exec_to_sync s from exec; by then CPU $restart_cpu_sync s, VmHWM $restart_hwm_sync MiB) | ≤ 1 s | $(verdict "$t_sync") |"
	echo "| restart: writes in the first $RESTART_WINDOW_S s after sync | $restart_writes ($restart_reconciles reconciles, $restart_skipped applies skipped; requests per app $restart_req_breakdown; CPU $restart_cpu s) | 0 | $(verdict "$t_restart_writes") |"
	echo "| SIGTERM to exit | $first_stop_s s (exit $first_exit) | | |"
	if [ -n "$VARIANT" ]; then
		echo "| variant \`--max-concurrent-reconciles $VARIANT\`: children exist / all Available | $var_children s / $var_avail s ($(ratio "$var_children" "$base_accept_mean") × / $(ratio "$var_avail" "$base_avail") × baseline) | | |"
		echo "| variant: requests per app, CPU, peak RSS | $var_req_per_app ($var_req_breakdown); $var_cpu s at convergence; $var_hwm MiB | | |"
	fi
	echo
	met=() notmet=()
	for pair in "converge (children) ≤ 1.5× baseline:$t_children" "converge (Available) ≤ 1.5× baseline:$t_avail" \
		"peak RSS ≤ 32 MiB:$t_rss" "zero steady-state writes:$t_steady" "startup to synced ≤ 1 s:$t_sync" \
		"zero writes after restart:$t_restart_writes"; do
		if [ "${pair##*:}" = 1 ]; then met+=("${pair%:*}"); else notmet+=("${pair%:*}"); fi
	done
	echo "Targets met: $(IFS=';'; echo "${met[*]:-none}" | sed 's/;/; /g'). Not met: $(IFS=';'; echo "${notmet[*]:-none}" | sed 's/;/; /g')."
	[ "$base_ok" = 1 ] && [ "$op_ok" = 1 ] || echo "Incomplete: a wait timed out after $TIMEOUT s (see $OUT)."
} >"$report"

echo
cat "$report"

if [ -n "$DOC" ] && [ "$DOC" != "-" ]; then
	section="## Reconciler: $APPS SpinApps"
	if [ ! -f "$DOC" ]; then
		cat >"$DOC" <<-'EOF'
			# Performance

			Figures from `make bench` (tests/bench/run.sh): each run starts a private local control plane (etcd,
			kube-apiserver, controller-manager, scheduler, kwok fake nodes: no real pods), measures, and tears it down.
			Runs are appended by the benchmark itself, newest first, with the machine, the commit and the command.
			The benchmark reports; it never fails on a figure.
		EOF
	fi
	if ! grep -qxF "$section" "$DOC"; then
		cat >>"$DOC" <<-EOF

			$section

			Issue 3 §6. Every phase runs in its own namespace of one local control plane and starts from the same
			cluster: the namespace of the phase before is deleted first, and the first waits until the garbage
			collector knows SpinApps. Baseline: the executor sample and the $APPS SpinApps are created in a
			namespace no operator watches, then \`bench_loader\` (the operator's C client, 8 threads, no client-side rate limit) creates exactly the
			objects \`spin-operator render -o json\` prints for the stored apps (runtime-config Secret, Deployment and
			Service per app, with their ownerReferences; one CA Secret). Floor: the same, but \`bench_loader --apply\`
			writes each object as the operator does (Secrets created, Deployments and Services server-side applied,
			field manager \`spin-operator\`, force): the apiserver's cost of the operator's writes, with no operator.
			Operator: the same apps in another namespace,
			then the operator starts; \`bench_watch\` (informers on the namespace) times the children and the SpinApps'
			\`Available\` condition from the operator's start. The baseline load runs again after the operator phase and
			the children ratio uses the mean of the two. Steady state is the 30 s after convergence; restart is SIGTERM
			and a fresh start with everything present. kube-controller-manager runs with its default client rate
			limits, which bound how fast Deployments become Available in both the baseline and the operator run.

			<!-- bench runs below, newest first -->
		EOF
	fi
	# Insert the new run right after this section's marker line (or its heading when the marker is missing).
	awk -v section="$section" -v report="$report" '
		function emit() { while ((getline l < report) > 0) print l; close(report); done = 1 }
		{ print }
		$0 == section { insec = 1; next }
		insec && /^## / { insec = 0 }
		insec && !done && $0 == "<!-- bench runs below, newest first -->" { print ""; emit() }
	' "$DOC" >"$DOC.tmp" && mv "$DOC.tmp" "$DOC"
	grep -qF "$(head -1 "$report")" "$DOC" || { printf '\n' >>"$DOC"; cat "$report" >>"$DOC"; }
	say "results recorded in ${DOC#"$REPO"/}"
fi
say "done in $((SECONDS - bench_start)) s"
