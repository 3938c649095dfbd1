#!/usr/bin/env bash
# The many-apps benchmark (issue 14 §15): memory and time of the operator with 10,000 SpinApps, 10,000 more
# created and deleted (churn), and an executor edit, on a private local control plane. Run by `make bench` (BUILD
# set); never part of `make test`. It reports figures and never fails on one: the exit status is non-zero only
# when the benchmark could not run.
#
#   BENCH_SCALE_APPS=10000     SpinApps kept
#   BENCH_SCALE_CHURN=10000    SpinApps created, then deleted, once the operator has converged
#   BENCH_SCALE_OPERATOR=path  the operator binary (default $BUILD/bin/spin-operator; another build to compare)
#   BENCH_TIMEOUT=900          seconds each wait may take before giving up
#   BENCH_DOC=docs/performance.md   where the results are recorded ("-" or "" records nothing)
#
# The apps' executor has createDeployment: false, so each app gets a Service (applied, cached, remembered by the
# applier) and a status, but no Deployment, runtime-config Secret, ReplicaSet or pod: 10,000 Deployments with
# their pods (kwok) take the apiserver, controller-manager and scheduler far longer than a benchmark run on two
# shared cores can afford (tests/bench/run.sh measures 1000 full apps: docs/performance.md). What this measures
# is what grows with the number of apps in the operator: the SpinApp cache, one owned object per app, the
# applier's records, the work queue, and every path that visits apps per event.
#
# Phases (one namespace, the operator started with --namespace it, webhook off):
#   1. LOAD: the N apps (bench_loader, 8 threads), then the operator starts: caches synced (cold: N apps, no
#      children), then converged (every app's Service cached, queues empty, writes stopped). RSS, peak RSS.
#   2. CHURN: M apps created, then deleted (bench_loader --delete), while the operator runs; settled when the
#      caches hold N apps and N Services again (the controller-manager's garbage collector deletes the churned
#      apps' Services). RSS then against phase 1's, the applier's records (spin_operator_apply_records).
#   3. EXECUTOR EDIT: a label on the executor requeues its N apps; time until they are reconciled again.
#   4. RESTART: SIGTERM, start again: caches synced (N apps, N Services) and RSS at that point.
# The peak RSS (VmHWM) is reset between phases (/proc/PID/clear_refs), so each phase reports its own peak.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build/release}
case "$BUILD" in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
APPS=${BENCH_SCALE_APPS:-10000}
CHURN=${BENCH_SCALE_CHURN:-10000}
TIMEOUT=${BENCH_TIMEOUT:-900}
DOC=${BENCH_DOC-$REPO/docs/performance.md}
OPERATOR=${BENCH_SCALE_OPERATOR:-$BUILD/bin/spin-operator}
LOADER="$BUILD/tests/bench/bench_loader"
OUT="$BUILD/bench-scale"
NS=scale
EXECUTOR=bench-executor
IMAGE=ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0
export CLUSTER_DIR="$BUILD/scale-cluster"
export KUBECONFIG="$CLUSTER_DIR/kubeconfig"
export PATH="$REPO/.tools/bin:$PATH"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
bench_start=$SECONDS

die() {
	echo "bench-scale: cannot run: $*" >&2
	exit 1
}
say() { printf 'bench-scale: [%4d s] %s\n' $((SECONDS - bench_start)) "$*" >&2; }

for n in "$APPS" "$CHURN"; do
	case "$n" in '' | *[!0-9]* | 0) die "BENCH_SCALE_APPS and BENCH_SCALE_CHURN must be positive integers" ;; esac
done
for f in "$OPERATOR" "$LOADER"; do
	[ -x "$f" ] || die "$f is missing (make bench builds it)"
done
for t in kubectl curl awk; do
	command -v "$t" >/dev/null || die "$t not found"
done

op_pid=""
cleanup() {
	if [ -n "$op_pid" ] && kill -0 "$op_pid" 2>/dev/null; then
		kill -TERM "$op_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$op_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$op_pid" 2>/dev/null
		wait "$op_pid" 2>/dev/null
	fi
	"$REPO/tests/cluster/down.sh" >"$OUT/cluster-down.log" 2>&1 || echo "bench-scale: down.sh failed (see $OUT/cluster-down.log)" >&2
}
mkdir -p "$OUT" || die "cannot create $OUT"
rm -f "$OUT"/*.log "$OUT"/*.txt "$OUT"/*.json "$OUT"/*.md
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", ($1) }"; } # parenthesised: a bare > would redirect
kv() { sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -1; }
# metric <file> <name> [label-match]: a sample value from a /metrics scrape (empty when absent)
metric() {
	awk -v n="$2" -v l="${3:-}" '$1 == n || (index($1, n "{") == 1 && (l == "" || index($1, l) > 0)) { v = $2; f = 1 } END { if (f) print v + 0 }' "$1"
}
proc_hwm_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
proc_rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
reset_hwm() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || say "cannot reset the peak RSS of $1"; }

start_operator() { # <log>: sets op_pid, op_port
	"$OPERATOR" --kubeconfig "$KUBECONFIG" --namespace "$NS" --log-level info --webhook-bind-address 0 \
		--metrics-bind-address 127.0.0.1:0 --metrics-secure=false --health-probe-bind-address 127.0.0.1:0 >"$1" 2>&1 &
	op_pid=$!
	op_port=""
	for _ in $(seq 200); do
		op_port=$(sed -n 's/.*metrics listening on .* (port \([0-9]*\)).*/\1/p' "$1" | head -1)
		[ -n "$op_port" ] && return 0
		kill -0 "$op_pid" 2>/dev/null || die "the operator exited at start: $(tail -5 "$1")"
		sleep 0.05
	done
	die "the operator did not report its metrics port: $(tail -5 "$1")"
}
scrape() { curl -sf --max-time 20 "http://127.0.0.1:$op_port/metrics" >"$1" || die "cannot scrape /metrics"; }
wait_synced() { # <log>: prints the seconds of "caches synced in X s"
	for _ in $(seq 2400); do
		grep -m1 'caches synced in' "$1" | sed -n 's/.*caches synced in \([0-9.]*\) s.*/\1/p' | grep . && return 0
		kill -0 "$op_pid" 2>/dev/null || die "the operator exited before its caches synced: $(tail -5 "$1")"
		sleep 0.05
	done
	die "caches did not sync: $(tail -5 "$1")"
}
stop_operator() {
	kill -TERM "$op_pid" 2>/dev/null
	wait "$op_pid"
	op_pid=""
}

# settle <apps> <services> [min reconciles]: until the caches hold that many apps and Services, both queues
# are empty with no worker busy, and no write was made for 3 s; sets settled_s (seconds waited).
settle() {
	local want_apps=$1 want_svcs=$2 min_rec=${3:-0} t0 m=$OUT/settle.txt last="" quiet=0 a s d dd act w r
	t0=$(now)
	while :; do
		scrape "$m"
		a=$(metric "$m" spin_operator_cached_objects 'resource="spinapps"')
		s=$(metric "$m" spin_operator_cached_objects 'resource="services"')
		d=$(metric "$m" workqueue_depth 'controller="spinapp"')
		dd=$(metric "$m" spin_operator_workqueue_delayed 'controller="spinapp"')
		act=$(metric "$m" controller_runtime_active_workers 'controller="spinapp"')
		w=$(metric "$m" spin_operator_api_writes_total)
		r=$(metric "$m" controller_runtime_reconcile_total 'controller="spinapp",result="success"')
		if [ "$a" = "$want_apps" ] && [ "$s" = "$want_svcs" ] && [ "${d:-0}" = 0 ] && [ "${dd:-0}" = 0 ] &&
			[ "${act:-0}" = 0 ] && [ "${r:-0}" -ge "$min_rec" ] && [ "$w" = "$last" ]; then
			quiet=$((quiet + 1))
			[ "$quiet" -ge 3 ] && break
		else
			quiet=0
		fi
		last=$w
		kill -0 "$op_pid" 2>/dev/null || die "the operator exited: $(tail -5 "$OUT"/op*.log)"
		[ "$(calc "$(now) - $t0 > $TIMEOUT" 0)" = 1 ] &&
			die "not settled after ${TIMEOUT} s (apps $a/$want_apps, services $s/$want_svcs, depth $d, delayed $dd)"
		sleep 1
	done
	settled_s=$(calc "$(now) - $t0 - 3")
}

apps_file() { # <prefix> <count> <file>
	awk -v p="$1" -v n="$2" -v e="$EXECUTOR" -v img="$IMAGE" 'BEGIN {
		printf "["
		for (i = 1; i <= n; i++)
			printf "%s{\"apiVersion\":\"core.spinkube.dev/v1alpha1\",\"kind\":\"SpinApp\",\"metadata\":{\"name\":\"%s-%05d\"},\"spec\":{\"executor\":\"%s\",\"image\":\"%s\",\"replicas\":1}}", (i > 1 ? "," : ""), p, i, e, img
		print "]"
	}' >"$3"
}

load() { # <file> [--delete]: prints accepted seconds; dies unless every object was accepted
	"$LOADER" -f "$1" -n "$NS" ${2:-} >"$OUT/loader.txt" 2>"$OUT/loader.err" ||
		die "bench_loader $*: $(tail -3 "$OUT/loader.err")"
	kv "$OUT/loader.txt" accepted_s
}

# ---- setup ----------------------------------------------------------------------------------------------------

say "starting a private control plane in $CLUSTER_DIR"
"$REPO/tests/cluster/up.sh" >"$OUT/cluster-up.log" 2>&1 || { tail -20 "$OUT/cluster-up.log" >&2; die "tests/cluster/up.sh failed"; }
kubectl apply -f "$REPO/crds/core.spinkube.dev_spinapps.yaml" -f "$REPO/crds/core.spinkube.dev_spinappexecutors.yaml" \
	>"$OUT/setup.log" 2>&1 &&
	kubectl wait --for condition=Established --timeout=60s crd/spinapps.core.spinkube.dev \
		crd/spinappexecutors.core.spinkube.dev >>"$OUT/setup.log" 2>&1 &&
	kubectl create namespace "$NS" >>"$OUT/setup.log" 2>&1 &&
	kubectl apply -n "$NS" -f - >>"$OUT/setup.log" 2>&1 <<-EOF || die "setup: $(tail -3 "$OUT/setup.log")"
		apiVersion: core.spinkube.dev/v1alpha1
		kind: SpinAppExecutor
		metadata:
		  name: $EXECUTOR
		spec:
		  createDeployment: false
	EOF
apps_file app "$APPS" "$OUT/apps.json"
apps_file churn "$CHURN" "$OUT/churn.json"
load_apps_s=$(load "$OUT/apps.json") || exit 1
say "$APPS SpinApps created in $load_apps_s s"
load_avg=$(cut -d' ' -f1-3 /proc/loadavg)
revision=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$REPO" status --porcelain 2>/dev/null | grep -qv '^??' && echo " (uncommitted changes)")
op_rev=$("$OPERATOR" --version 2>&1 | head -1)

# ---- 1. load --------------------------------------------------------------------------------------------------

t_start=$(now)
start_operator "$OUT/op.log"
sync_cold=$(wait_synced "$OUT/op.log") || exit 1
rss_synced=$(proc_rss_mib "$op_pid")
say "caches synced in $sync_cold s ($APPS apps, no children); RSS $rss_synced MiB; converging"
settle "$APPS" "$APPS" "$APPS"
converge_s=$(calc "$(now) - $t_start - 3")
scrape "$OUT/m-converged.txt"
rss_base=$(proc_rss_mib "$op_pid")
hwm_load=$(proc_hwm_mib "$op_pid")
records_base=$(metric "$OUT/m-converged.txt" spin_operator_apply_records)
writes_base=$(metric "$OUT/m-converged.txt" spin_operator_api_writes_total)
say "converged in $converge_s s: RSS $rss_base MiB, peak $hwm_load MiB, apply records ${records_base:-n/a}"

# ---- 2. churn -------------------------------------------------------------------------------------------------

reset_hwm "$op_pid"
t0=$(now)
churn_create_s=$(load "$OUT/churn.json") || exit 1
churn_delete_s=$(load "$OUT/churn.json" --delete) || exit 1
say "churn: $CHURN created in $churn_create_s s, deleted in $churn_delete_s s; settling"
settle "$APPS" "$APPS"
churn_s=$(calc "$(now) - $t0 - 3")
scrape "$OUT/m-churned.txt"
rss_churn=$(proc_rss_mib "$op_pid")
hwm_churn=$(proc_hwm_mib "$op_pid")
records_churn=$(metric "$OUT/m-churned.txt" spin_operator_apply_records)
writes_churn=$(($(metric "$OUT/m-churned.txt" spin_operator_api_writes_total) - writes_base))
say "churn settled after $churn_s s: RSS $rss_churn MiB (was $rss_base), peak $hwm_churn MiB, apply records ${records_churn:-n/a}"

# ---- 3. executor edit -----------------------------------------------------------------------------------------

reset_hwm "$op_pid"
rec0=$(metric "$OUT/m-churned.txt" controller_runtime_reconcile_total 'controller="spinapp",result="success"')
t0=$(now)
kubectl label -n "$NS" spinappexecutor "$EXECUTOR" bench-edit=1 >>"$OUT/setup.log" 2>&1 || die "executor edit failed"
settle "$APPS" "$APPS" $((rec0 + APPS))
edit_s=$(calc "$(now) - $t0 - 3")
scrape "$OUT/m-edited.txt"
rss_edit=$(proc_rss_mib "$op_pid")
hwm_edit=$(proc_hwm_mib "$op_pid")
edit_reconciles=$(($(metric "$OUT/m-edited.txt" controller_runtime_reconcile_total 'controller="spinapp",result="success"') - rec0))
say "executor edit: $edit_reconciles reconciles in $edit_s s; RSS $rss_edit MiB, peak $hwm_edit MiB"

# ---- 4. restart -----------------------------------------------------------------------------------------------

stop_operator
start_operator "$OUT/op-restart.log"
sync_warm=$(wait_synced "$OUT/op-restart.log") || exit 1
rss_restart=$(proc_rss_mib "$op_pid")
hwm_restart_sync=$(proc_hwm_mib "$op_pid")
settle "$APPS" "$APPS" "$APPS"
hwm_restart=$(proc_hwm_mib "$op_pid")
say "restart: caches synced in $sync_warm s; RSS $rss_restart MiB at sync, peak $hwm_restart MiB after its reconciles"
stop_operator

peak=$(printf '%s\n' "$hwm_load" "$hwm_churn" "$hwm_edit" "$hwm_restart" | sort -g | tail -1)
verdict() { [ "$(calc "$1 <= $2" 0)" = 1 ] && echo met || echo "**not met**"; }

# ---- report ---------------------------------------------------------------------------------------------------

report="$OUT/report.md"
cat >"$report" <<-EOF
	### $(date -u '+%Y-%m-%d %H:%M') UTC · commit $revision$dirty · \`make bench\` (tests/bench/scale.sh$( [ -n "${BENCH_SCALE_OPERATOR:-}" ] && echo ", BENCH_SCALE_OPERATOR=${BENCH_SCALE_OPERATOR#"$REPO"/}"))

	Machine: $(nproc) CPUs, load average at start $load_avg. Operator: $op_rev, release build, \`--namespace $NS\`,
	webhook off. $APPS SpinApps on an executor with createDeployment: false (a Service and a status per app), $CHURN
	more created and deleted, one executor edit, one restart. Peak RSS is per phase (VmHWM reset in between).

	| measure | value | target | |
	| --- | --- | --- | --- |
	| $APPS SpinApps created (bench_loader, 8 threads) | $load_apps_s s | | |
	| start: caches synced ($APPS apps, no children) | $sync_cold s (RSS $rss_synced MiB) | | |
	| start: converged ($APPS Services applied, statuses written) | $converge_s s; RSS $rss_base MiB, peak $hwm_load MiB; apply records ${records_base:-n/a} | | |
	| churn: $CHURN apps created / deleted (bench_loader) | $churn_create_s s / $churn_delete_s s | | |
	| churn: settled (caches back to $APPS apps and Services) | $churn_s s after the first create; $writes_churn writes | | |
	| churn: RSS after / before; peak during | $rss_churn / $rss_base MiB; peak $hwm_churn MiB | near the baseline | |
	| churn: apply records after / before | ${records_churn:-n/a} / ${records_base:-n/a} | equal | $( [ -n "$records_churn" ] && { [ "$records_churn" = "$records_base" ] && echo met || echo "**not met**"; } ) |
	| executor edit: its apps reconciled again | $edit_reconciles reconciles in $edit_s s; RSS $rss_edit MiB, peak $hwm_edit MiB | | |
	| restart: caches synced ($APPS apps + $APPS Services) | $sync_warm s (RSS $rss_restart MiB, peak $hwm_restart_sync MiB at sync) | ≤ 2 s | $(verdict "$sync_warm" 2) |
	| restart: peak RSS through its $APPS reconciles | $hwm_restart MiB | | |
	| peak RSS, all phases | $peak MiB | ≤ 64 MiB | $(verdict "$peak" 64) |
EOF
cat "$report"

if [ -n "$DOC" ] && [ "$DOC" != "-" ]; then
	section="## Many SpinApps: 10,000 apps, churn, an executor edit"
	marker="<!-- scale bench runs below, newest first -->"
	if ! grep -qxF "$section" "$DOC"; then
		cat >>"$DOC" <<-EOF

			$section

			Issue 14 §15. \`tests/bench/scale.sh\`, run by \`make bench\` (see its header for the phases and why the apps'
			executor has createDeployment: false). Targets: peak RSS ≤ 64 MiB (half the chart's 128 Mi limit) and caches
			synced after a restart within 2 s, with 10,000 apps; after the churn, the RSS and the applier's records
			return to where they were. The 1000-app figures with full children are under "Reconciler: 1000 SpinApps".

			$marker
		EOF
	fi
	awk -v marker="$marker" -v report="$report" '
		{ print }
		$0 == marker { print ""; while ((getline line < report) > 0) print line }
	' "$DOC" >"$DOC.tmp" && mv "$DOC.tmp" "$DOC"
	say "results recorded in ${DOC#"$REPO"/}"
fi
