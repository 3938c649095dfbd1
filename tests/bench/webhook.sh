#!/usr/bin/env bash
# shellcheck disable=SC2154 # the R_<run>_* figures are set by run() with declare -g
# The admission webhook benchmark (issue 4 §5): keep-alive TLS load from wrk, a separate process, at 64
# connections with real AdmissionReview bodies (tests/bench/webhook/review.json, a SpinApp CREATE as the API
# server sends it, 3 KB) against the operator's defaulting and validation endpoints. Reports reviews/s, the
# latency percentiles and the operator's RSS under load. Run by `make bench` (BUILD set) and
# `make bench-webhook`; never part of `make test`. It reports figures and never fails on one: the exit
# status is non-zero only when the benchmark could not run.
#
#   BENCH_WEBHOOK_SECONDS=20     length of each wrk run
#   BENCH_WEBHOOK_CONNECTIONS=64 keep-alive connections (wrk -c)
#   BENCH_WEBHOOK_THREADS=2      wrk threads (wrk -t)
#   BENCH_WEBHOOK_RATE=5000      offered reviews/s of the paced runs
#   BENCH_WEBHOOK_FLAGS=""       extra operator flags (e.g. --log-level debug)
#   BENCH_DOC=docs/performance.md   where the results are recorded ("-" or "" records nothing)
#
# Set-up: a private local control plane (CLUSTER_DIR=$BUILD/bench-webhook-cluster, torn down on exit), the CRDs,
# one namespace with the executor sample, the release operator with --namespace <that namespace> (its executor
# cache is what the rules read) and a certificate pair from tests/webhook/register-local.sh certs. wrk talks
# to the webhook directly (no API server in between), like the API server's webhook client: HTTP/1.1 over TLS,
# connections kept open. Each endpoint is first checked with curl (200, allowed, the expected patch), then
# loaded three times: at saturation (each connection sends its next review as soon as the answer is in: the
# most reviews/s; latency there is connections / throughput by Little's law), paced at BENCH_WEBHOOK_RATE
# reviews/s in all (each connection pauses a random time of mean connections/rate after each answer: the
# latency at that rate), and in lockstep (the same mean pause, fixed: bursts of 64 reviews).
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build/release}
case "$BUILD" in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
SECONDS_EACH=${BENCH_WEBHOOK_SECONDS:-20}
CONNS=${BENCH_WEBHOOK_CONNECTIONS:-64}
THREADS=${BENCH_WEBHOOK_THREADS:-2}
RATE=${BENCH_WEBHOOK_RATE:-5000}
EXTRA_FLAGS=${BENCH_WEBHOOK_FLAGS:-}
DOC=${BENCH_DOC-$REPO/docs/performance.md}
OPERATOR="$BUILD/bin/spin-operator"
OUT="$BUILD/bench-webhook"
LUA="$REPO/tests/bench/webhook/post.lua"
REVIEW="$REPO/tests/bench/webhook/review.json"
export CLUSTER_DIR="$BUILD/bench-webhook-cluster"
export KUBECONFIG="$CLUSTER_DIR/kubeconfig"
export PATH="$REPO/.tools/bin:$PATH"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
EXECUTOR=containerd-shim-spin # config/samples/spin-shim-executor.yaml
bench_start=$SECONDS

die() {
	echo "bench-webhook: cannot run: $*" >&2
	exit 1
}
say() { printf 'bench-webhook: [%3d s] %s\n' $((SECONDS - bench_start)) "$*" >&2; }

for v in "$SECONDS_EACH" "$CONNS" "$THREADS" "$RATE"; do
	case "$v" in '' | *[!0-9]* | 0) die "BENCH_WEBHOOK_SECONDS, _CONNECTIONS, _THREADS and _RATE must be positive integers" ;; esac
done
[ -x "$OPERATOR" ] || die "$OPERATOR is missing (make build)"
command -v wrk >/dev/null || "$REPO/scripts/deps.sh" bench || die "cannot install wrk (scripts/deps.sh bench)"
for t in wrk kubectl jq curl openssl awk; do
	command -v "$t" >/dev/null || die "$t not found"
done

op_pid=""
cleanup() {
	if [ -n "$op_pid" ] && kill -0 "$op_pid" 2>/dev/null; then
		kill -TERM "$op_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$op_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$op_pid" 2>/dev/null
	fi
	"$REPO/tests/cluster/down.sh" >/dev/null 2>&1
}
trap cleanup EXIT

rm -rf "$OUT"
mkdir -p "$OUT"
load=$(cut -d' ' -f1-3 /proc/loadavg)
say "starting a private control plane in $CLUSTER_DIR"
"$REPO/tests/cluster/up.sh" >"$OUT/cluster.log" 2>&1 || die "tests/cluster/up.sh failed (see $OUT/cluster.log)"
kubectl apply -f "$REPO/crds/core.spinkube.dev_spinapps.yaml" -f "$REPO/crds/core.spinkube.dev_spinappexecutors.yaml" \
	>/dev/null || die "cannot install the CRDs"
kubectl wait --for condition=Established --timeout=60s crd/spinapps.core.spinkube.dev \
	crd/spinappexecutors.core.spinkube.dev >/dev/null || die "the CRDs are not established"
ns=bench-webhook
kubectl create namespace "$ns" >/dev/null || die "cannot create namespace $ns"
kubectl apply -n "$ns" -f "$REPO/config/samples/spin-shim-executor.yaml" >/dev/null || die "cannot create the executor"
"$REPO/tests/webhook/register-local.sh" certs "$OUT/certs" >/dev/null || die "cannot make certificates"

# The bodies: validation gets the executor set; defaulting gets it empty, so the executor cache is read and
# a JSON patch is returned.
sed -e "s/NAMESPACE/$ns/g" -e "s/EXECUTOR/$EXECUTOR/g" "$REVIEW" | jq -c . >"$OUT/validate.json"
jq -c '.request.object.spec.executor = ""' "$OUT/validate.json" >"$OUT/mutate.json"

# shellcheck disable=SC2086 # EXTRA_FLAGS is a list of flags
"$OPERATOR" --kubeconfig "$KUBECONFIG" --namespace "$ns" --webhook-bind-address 127.0.0.1:0 \
	--webhook-cert-dir "$OUT/certs" --health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 --metrics-secure=false \
	$EXTRA_FLAGS >"$OUT/operator.log" 2>&1 &
op_pid=$!
for _ in $(seq 300); do grep -q "caches synced" "$OUT/operator.log" && break; sleep 0.1; done
grep -q "caches synced" "$OUT/operator.log" || die "the operator did not start (see $OUT/operator.log)"
port=$(sed -n 's/.*admission webhook listening on .* (port \([0-9]*\).*/\1/p' "$OUT/operator.log" | tail -1)
mport=$(sed -n 's/.*metrics listening on .* (port \([0-9]*\).*/\1/p' "$OUT/operator.log" | tail -1)
[ -n "$port" ] || die "no webhook port in $OUT/operator.log"
threads=$(awk '/^Threads:/ { print $2 }' "/proc/$op_pid/status")

MUTATE=/mutate-core-spinkube-dev-v1alpha1-spinapp
VALIDATE=/validate-core-spinkube-dev-v1alpha1-spinapp
# check <path> <body> <jq test>: the endpoint answers 200 with a review that passes the test
check() {
	local ans
	for _ in $(seq 50); do # the executor cache fills right after the sync
		ans=$(curl -s --cacert "$OUT/certs/ca.crt" -H 'Content-Type: application/json' --data-binary "@$2" \
			"https://127.0.0.1:$port$1")
		jq -e "$3" <<<"$ans" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "$1 did not answer as expected: $ans"
}
check "$MUTATE" "$OUT/mutate.json" '.response.allowed == true and .response.patchType == "JSONPatch"
	and (.response.patch | @base64d | fromjson) == [{"op": "replace", "path": "/spec/executor", "value": "'"$EXECUTOR"'"}]'
check "$VALIDATE" "$OUT/validate.json" '.response.allowed == true and (.response | has("patch") | not)'
say "operator pid $op_pid, webhook on port $port; endpoints answer as expected"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$op_pid/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$op_pid/stat"; }
rss_idle=$(rss_kib)

# run <name> <path> <body> [delay ms [fixed]]: one wrk run; sets the figures in R_<name>_*. The pause after
# each answer is drawn from [0, 2 x delay] unless "fixed" is given (post.lua).
run() {
	local name=$1 path=$2 body=$3 pause=${4:-} fixed=${5:-} out="$OUT/wrk-$1.txt" peak=0 r t0 t1 sampler
	say "wrk -t$THREADS -c$CONNS -d${SECONDS_EACH}s --latency https://127.0.0.1:$port$path ($(wc -c <"$body") bytes${pause:+, ${fixed:+fixed }$pause ms mean pause per connection})"
	t0=$(cpu_ticks)
	WRK_BODY=$body WRK_DELAY_MS=$pause WRK_FIXED_DELAY=${fixed:+1} wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" --timeout 5s --latency -s "$LUA" \
		"https://127.0.0.1:$port$path" >"$out" 2>&1 &
	sampler=$!
	while kill -0 "$sampler" 2>/dev/null; do
		r=$(rss_kib)
		[ "${r:-0}" -gt "$peak" ] && peak=$r
		sleep 0.25
	done
	wait "$sampler"
	t1=$(cpu_ticks)
	declare -g "R_${name}_rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
	declare -g "R_${name}_total=$(awk '/requests in/ { print $1 }' "$out")"
	# wrk prints latencies with a unit (us, ms, s); convert to ms
	local pct
	for pct in 50 90 99; do
		declare -g "R_${name}_p$pct=$(awk -v p="$pct%" '$1 == p { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
			f = (u == "us") ? 0.001 : (u == "s") ? 1000 : 1; printf "%.2f", v * f }' "$out")"
	done
	declare -g "R_${name}_non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")"
	declare -g "R_${name}_errors=$(awk '/Socket errors:/ { sub(/.*Socket errors: /, ""); print }' "$out")"
	declare -g "R_${name}_rss=$((peak / 1024))"
	declare -g "R_${name}_cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" -v s="$SECONDS_EACH" \
		'BEGIN { printf "%.2f", (b - a) / hz / s }')"
	sed 's/^/    /' "$out" >&2
}
# the pause that makes CONNS connections offer RATE reviews/s, less about a millisecond of answer
pause=$(awk -v c="$CONNS" -v r="$RATE" 'BEGIN { d = int(c * 1000 / r - 0.5); print d < 1 ? 1 : d }')
run mutate "$MUTATE" "$OUT/mutate.json"
run validate "$VALIDATE" "$OUT/validate.json"
run mutate_paced "$MUTATE" "$OUT/mutate.json" "$pause"
run validate_paced "$VALIDATE" "$OUT/validate.json" "$pause"
run mutate_lockstep "$MUTATE" "$OUT/mutate.json" "$pause" fixed
run validate_lockstep "$VALIDATE" "$OUT/validate.json" "$pause" fixed
rss_end=$(rss_kib)
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$op_pid/status")
served=$(curl -s "http://127.0.0.1:$mport/metrics" | awk '/^controller_runtime_webhook_requests_total/ && /code="200"/ { n += $NF } END { print n + 0 }')
kill -TERM "$op_pid"
wait "$op_pid"
op_pid=""

# ---- report -----------------------------------------------------------------------------------------------

verdict() { # verdict <value> <op> <target>
	awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? (v >= t) : (v <= t); print ok ? "met" : "**not met**" }'
}
cpus=$(getconf _NPROCESSORS_ONLN)
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git -C "$REPO" status --porcelain 2>/dev/null | grep -qv '^??' && echo " (with local changes)")
wrkv=$(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')
report=$(
	cat <<EOF
### $(date -u '+%Y-%m-%d %H:%M') UTC · commit $commit$dirty · \`make bench-webhook\`

Machine: $cpus CPUs ($model), load average at start $load. wrk $wrkv and the operator share the CPUs (the
operator: $threads threads at start, its request pool twice the CPU count within [4, 16]; extra flags: ${EXTRA_FLAGS:-none}).
Command per endpoint: \`WRK_BODY=<review> [WRK_DELAY_MS=$pause] wrk -t$THREADS -c$CONNS -d${SECONDS_EACH}s --timeout 5s --latency -s tests/bench/webhook/post.lua https://127.0.0.1:<port><path>\`
(saturation without \`WRK_DELAY_MS\`; paced at about $RATE reviews/s: each connection pauses after each answer for a time drawn
uniformly from [0, $((2 * pause))] ms, mean $pause ms; lockstep: the same mean rate with a fixed $pause ms pause, \`WRK_FIXED_DELAY=1\`, where the
64 connections stay synchronised and send their reviews in bursts).

| measure | defaulting (\`$MUTATE\`) | validation (\`$VALIDATE\`) | target |
| --- | --- | --- | --- |
| saturation: reviews/s | $R_mutate_rps ($(verdict "$R_mutate_rps" ">=" 5000)) | $R_validate_rps ($(verdict "$R_validate_rps" ">=" 5000)) | ≥ 5000 |
| saturation: latency p50 / p90 / p99 (ms) | $R_mutate_p50 / $R_mutate_p90 / $R_mutate_p99 | $R_validate_p50 / $R_validate_p90 / $R_validate_p99 | |
| paced: reviews/s offered and answered | $R_mutate_paced_rps | $R_validate_paced_rps | ≈ $RATE |
| paced: latency p50 / p90 / p99 (ms) | $R_mutate_paced_p50 / $R_mutate_paced_p90 / $R_mutate_paced_p99 ($(verdict "$R_mutate_paced_p99" "<=" 5)) | $R_validate_paced_p50 / $R_validate_paced_p90 / $R_validate_paced_p99 ($(verdict "$R_validate_paced_p99" "<=" 5)) | p99 ≤ 5 |
| lockstep (fixed pause): reviews/s; latency p50 / p90 / p99 (ms) | $R_mutate_lockstep_rps; $R_mutate_lockstep_p50 / $R_mutate_lockstep_p90 / $R_mutate_lockstep_p99 | $R_validate_lockstep_rps; $R_validate_lockstep_p50 / $R_validate_lockstep_p90 / $R_validate_lockstep_p99 | |
| reviews (saturation + paced); non-2xx; socket errors | $((R_mutate_total + R_mutate_paced_total)); $((${R_mutate_non2xx:-0} + ${R_mutate_paced_non2xx:-0})); ${R_mutate_errors:-none}${R_mutate_paced_errors:+, $R_mutate_paced_errors} | $((R_validate_total + R_validate_paced_total)); $((${R_validate_non2xx:-0} + ${R_validate_paced_non2xx:-0})); ${R_validate_errors:-none}${R_validate_paced_errors:+, $R_validate_paced_errors} | 0 failures |
| operator CPU, cores busy (saturation / paced) | $R_mutate_cpu / $R_mutate_paced_cpu | $R_validate_cpu / $R_validate_paced_cpu | |
| operator RSS under load, peak of 4 samples/s (saturation / paced) | $R_mutate_rss / $R_mutate_paced_rss MiB | $R_validate_rss / $R_validate_paced_rss MiB | |

Operator RSS idle before the load $((rss_idle / 1024)) MiB, after it $((rss_end / 1024)) MiB, VmHWM $((hwm / 1024)) MiB;
reviews answered 200 according to its metrics: $served.
EOF
)
echo "$report"
if [ -n "$DOC" ] && [ "$DOC" != - ]; then
	marker='<!-- webhook bench runs below, newest first -->'
	if grep -qF "$marker" "$DOC"; then
		awk -v m="$marker" -v r="$report" '{ print } $0 == m { print ""; print r }' "$DOC" >"$DOC.tmp" && mv "$DOC.tmp" "$DOC"
		say "recorded in $DOC"
	else
		say "no '$marker' in $DOC: not recorded"
	fi
fi
