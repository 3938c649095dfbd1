#!/usr/bin/env bash
# Runs the test suites and prints one summary line, "N passed, N failed", last.
#
#   tests/run.sh [unit|integration|faults|fuzz|e2e|all]...      (default: all)
#
# unit:         every $BUILD/tests/unit/test_* (cmocka); each test case counts once; then every
#               tests/unit/*.sh (ok/not ok lines: suites that need no cluster, e.g. the image and the versions).
# fuzz:         every build/fuzz/fuzz_* for FUZZ_SECONDS (default 15) on its seed corpus; a run counts once.
# integration:  starts a private control plane (tests/cluster/up.sh) in $BUILD/test-cluster, then runs every
#               tests/integration/*.sh (ok/not ok lines) and $BUILD/tests/integration/test_* (cmocka), and
#               stops the cluster afterwards, whatever happened.
# faults:       a private control plane of its own in $BUILD/faults-cluster, then every tests/faults/*.sh (one
#               fault each; each leaves the cluster running and healthy), then a report table built from the
#               lines "# report | <fault> | <what was asserted> | <bound> | <measured>" the scripts print, each
#               marked with the result of the check it follows; also written to $BUILD/test-logs/faults-report.txt.
# e2e:          the same with a real node (REAL_NODE=1 tests/cluster/up.sh: kubelet + containerd + kube-proxy on
#               this host, at most one per host) in $BUILD/e2e-cluster, then every tests/e2e/*.sh; the node's
#               teardown restores the host (tests/cluster/node-down.sh).
# A suite binary that crashes or exits non-zero without reporting a failed case counts as one failure.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build/release}
case "$BUILD" in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
export REPO BUILD
export OPERATOR="$BUILD/bin/spin-operator"
export PATH="$REPO/.tools/bin:$PATH"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
# Sanitizer settings: fail on the first report, and find leaks at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
failures=()
logdir="$BUILD/test-logs"
mkdir -p "$logdir"
run_marker="$logdir/.run-started"
touch "$run_marker"

count() { # count <name> <passed> <failed>
	passed=$((passed + $2))
	failed=$((failed + $3))
	[ "$3" -eq 0 ] || failures+=("$1")
}

# A cmocka binary: count its [ OK ] and [ FAILED ] case lines.
run_cmocka() {
	local bin=$1 name log ok bad status
	name=$(basename "$bin")
	log="$logdir/$name.log"
	"$bin" >"$log" 2>&1
	status=$?
	ok=$(grep -c '^\[       OK \]' "$log")
	bad=$(grep -cE '^\[  FAILED  \] [A-Za-z_]' "$log")
	bad=$((bad + $(grep -cE '^\[  ERROR   \] [A-Za-z_]' "$log")))
	if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1
		echo "  $name: exited with status $status (see $log)"
		tail -15 "$log" | sed 's/^/    /'
	elif [ "$bad" -gt 0 ]; then
		grep -E '^\[  (FAILED|ERROR)   ?\] [A-Za-z_]|error:|Assert|ERROR' "$log" | head -20 | sed 's/^/    /'
	fi
	printf '  %-40s %3d passed, %d failed\n' "$name" "$ok" "$bad"
	count "$name" "$ok" "$bad"
}

# A shell suite: count its "ok - " and "not ok - " lines.
run_shell() {
	local script=$1 name log ok bad status
	name=$(basename "$script")
	log="$logdir/$name.log"
	bash "$script" >"$log" 2>&1
	status=$?
	ok=$(grep -c '^ok - ' "$log")
	bad=$(grep -c '^not ok - ' "$log")
	if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1
		echo "  $name: exited with status $status (see $log)"
		tail -15 "$log" | sed 's/^/    /'
	elif [ "$bad" -gt 0 ]; then
		grep -A12 '^not ok - ' "$log" | head -40 | sed 's/^/    /'
	fi
	printf '  %-40s %3d passed, %d failed\n' "$name" "$ok" "$bad"
	count "$name" "$ok" "$bad"
}

suite_unit() {
	echo "== unit"
	local t
	# Generated files must match their generator (crds/ from the Kubernetes OpenAPI spec and our skeletons).
	if "$REPO/crds/generate.sh" --check >"$logdir/crds-check.log" 2>&1; then
		printf '  %-40s %3d passed, %d failed\n' "crds/generate.sh --check" 1 0
		count crds-check 1 0
	else
		printf '  %-40s %3d passed, %d failed\n' "crds/generate.sh --check" 0 1
		tail -15 "$logdir/crds-check.log" | sed 's/^/    /'
		count crds-check 0 1
	fi
	for t in "$BUILD"/tests/unit/test_*; do
		[ -x "$t" ] && run_cmocka "$t"
	done
	for t in "$REPO"/tests/unit/*.sh; do
		[ -f "$t" ] && run_shell "$t"
	done
}

suite_fuzz() {
	echo "== fuzz smoke (${FUZZ_SECONDS} s per target)"
	local f name corpus work log
	for f in "$REPO"/build/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		name=$(basename "$f")
		corpus="$REPO/tests/fuzz/corpus/$name"
		work=$(mktemp -d)
		log="$logdir/$name.log"
		# New inputs go to a scratch folder; the committed seeds are only read.
		local dirs=("$work")
		[ -d "$corpus" ] && dirs+=("$corpus")
		if (cd "$work" && "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10 "${dirs[@]}") \
			>"$log" 2>&1; then
			printf '  %-40s ok (%s)\n' "$name" "$(grep -o 'Done [0-9]* runs' "$log" | tail -1)"
			count "$name" 1 0
		else
			printf '  %-40s FAILED (see %s)\n' "$name" "$log"
			grep -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | head -10 | sed 's/^/    /'
			count "$name" 0 1
		fi
		rm -rf "$work"
	done
}

suite_integration() {
	echo "== integration (real kube-apiserver, etcd, controller-manager, scheduler, kwok)"
	export CLUSTER_DIR="$BUILD/test-cluster"
	# shellcheck disable=SC2064
	trap "'$REPO/tests/cluster/down.sh' >/dev/null 2>&1" EXIT
	if ! "$REPO/tests/cluster/up.sh" >"$logdir/cluster-up.log" 2>&1; then
		echo "  cluster did not start:"
		tail -25 "$logdir/cluster-up.log" | sed 's/^/    /'
		count cluster-up 0 1
		return
	fi
	tail -1 "$logdir/cluster-up.log" | sed 's/^/  /'
	export KUBECONFIG="$CLUSTER_DIR/kubeconfig"
	# Fixture: the CRDs every suite but the control-plane smoke test relies on.
	if ! { kubectl apply -f "$REPO"/crds/core.spinkube.dev_spinapps.yaml \
		-f "$REPO"/crds/core.spinkube.dev_spinappexecutors.yaml &&
		kubectl wait --for condition=Established --timeout=60s \
			crd/spinapps.core.spinkube.dev crd/spinappexecutors.core.spinkube.dev; } \
		>"$logdir/crds.log" 2>&1; then
		echo "  CRDs could not be installed:"
		tail -10 "$logdir/crds.log" | sed 's/^/    /'
		count crds 0 1
	fi
	local t
	for t in "$REPO"/tests/integration/*.sh; do
		[ -f "$t" ] && run_shell "$t"
	done
	for t in "$BUILD"/tests/integration/test_*; do
		[ -x "$t" ] && run_cmocka "$t"
	done
	"$REPO/tests/cluster/down.sh" >"$logdir/cluster-down.log" 2>&1
	trap - EXIT
}

# faults_report <log>...: one table row per "# report | fault | asserted | bound | measured" line. A row takes
# the result of the last "ok - "/"not ok - " line before it in the same log (the check it reports), or of the
# first one after it when it comes first; a script that ended without checks is a failure.
faults_report() {
	local l
	printf '%s\n' "fault | asserted | bound | measured | result"
	for l in "$@"; do
		[ -f "$l" ] || continue
		awk -F' [|] ' '
			/^ok - / { last = "pass"; if (npend) flush("pass") }
			/^not ok - / { last = "FAIL"; if (npend) flush("FAIL") }
			/^# report [|] / {
				row = $2 " | " $3 " | " $4 " | " $5
				if (last != "") print row " | " last; else pend[npend++] = row
			}
			function flush(r,   i) { for (i = 0; i < npend; i++) print pend[i] " | " r; npend = 0 }
			END { if (npend) flush("FAIL") }' "$l"
	done
}

# faults_table: aligns the " | "-separated columns (util-linux's column is not on a bare Debian).
faults_table() {
	awk -F' [|] ' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n[NR] = NF }
		END { for (r = 1; r <= NR; r++) { line = ""; for (i = 1; i <= n[r]; i++)
			line = line (i > 1 ? " | " : "") sprintf(i < n[r] ? "%-" w[i] "s" : "%s", c[r, i]); print line } }'
}

suite_faults() {
	echo "== faults (each fault against a private control plane; the table at the end)"
	local t0=$SECONDS
	export CLUSTER_DIR="$BUILD/faults-cluster"
	# shellcheck disable=SC2064
	trap "'$REPO/tests/cluster/down.sh' >/dev/null 2>&1" EXIT
	if ! "$REPO/tests/cluster/up.sh" >"$logdir/faults-cluster-up.log" 2>&1; then
		echo "  cluster did not start:"
		tail -25 "$logdir/faults-cluster-up.log" | sed 's/^/    /'
		count faults-cluster-up 0 1
		"$REPO/tests/cluster/down.sh" >"$logdir/faults-cluster-down.log" 2>&1
		trap - EXIT
		return
	fi
	tail -1 "$logdir/faults-cluster-up.log" | sed 's/^/  /'
	export KUBECONFIG="$CLUSTER_DIR/kubeconfig"
	if ! { kubectl apply -f "$REPO"/crds/core.spinkube.dev_spinapps.yaml \
		-f "$REPO"/crds/core.spinkube.dev_spinappexecutors.yaml &&
		kubectl wait --for condition=Established --timeout=60s \
			crd/spinapps.core.spinkube.dev crd/spinappexecutors.core.spinkube.dev; } \
		>"$logdir/faults-crds.log" 2>&1; then
		echo "  CRDs could not be installed:"
		tail -10 "$logdir/faults-crds.log" | sed 's/^/    /'
		count faults-crds 0 1
	fi
	local t logs=() s0
	for t in "$REPO"/tests/faults/*.sh; do
		[ -f "$t" ] || continue
		s0=$SECONDS
		run_shell "$t"
		printf '  %-40s %3d s\n' "  ($(basename "$t") wall time)" $((SECONDS - s0))
		logs+=("$logdir/$(basename "$t").log")
	done
	"$REPO/tests/cluster/down.sh" >"$logdir/faults-cluster-down.log" 2>&1
	trap - EXIT
	# Fault checks that need another suite's whole setup (test registries, a registered webhook) stay in that
	# suite and print report lines there; their rows join the table when that suite ran in this same run.
	for t in "$REPO"/tests/integration/*.sh; do
		t="$logdir/$(basename "$t").log"
		[ "$t" -nt "$run_marker" ] && grep -q '^# report [|] ' "$t" && logs+=("$t")
	done
	faults_report "${logs[@]}" | faults_table >"$logdir/faults-report.txt"
	echo "  fault report ($logdir/faults-report.txt), category wall time $((SECONDS - t0)) s:"
	sed 's/^/  /' "$logdir/faults-report.txt"
	echo "category wall time: $((SECONDS - t0)) s" >>"$logdir/faults-report.txt"
}

suite_e2e() {
	echo "== e2e (a real node: kubelet, containerd, kube-proxy, beside the kwok nodes)"
	export CLUSTER_DIR="$BUILD/e2e-cluster"
	# shellcheck disable=SC2064
	trap "'$REPO/tests/cluster/down.sh' >/dev/null 2>&1" EXIT
	# One real node per host: wait (up to 15 min by default) for another run's node instead of failing.
	if ! REAL_NODE=1 REAL_NODE_WAIT=${REAL_NODE_WAIT:-900} "$REPO/tests/cluster/up.sh" >"$logdir/e2e-cluster-up.log" 2>&1; then
		echo "  cluster with a real node did not start:"
		tail -25 "$logdir/e2e-cluster-up.log" | sed 's/^/    /'
		count e2e-cluster-up 0 1
		"$REPO/tests/cluster/down.sh" >"$logdir/e2e-cluster-down.log" 2>&1
		trap - EXIT
		return
	fi
	tail -1 "$logdir/e2e-cluster-up.log" | sed 's/^/  /'
	export KUBECONFIG="$CLUSTER_DIR/kubeconfig"
	local t
	for t in "$REPO"/tests/e2e/*.sh; do
		[ -f "$t" ] && run_shell "$t"
	done
	"$REPO/tests/cluster/down.sh" >"$logdir/e2e-cluster-down.log" 2>&1
	trap - EXIT
}

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(all)
for s in "${suites[@]}"; do
	case "$s" in
	unit) suite_unit ;;
	fuzz) suite_fuzz ;;
	integration) suite_integration ;;
	faults) suite_faults ;;
	e2e) suite_e2e ;;
	all) suite_unit; suite_fuzz; suite_integration; suite_faults; suite_e2e ;;
	*) echo "run.sh: unknown suite '$s' (unit, integration, faults, fuzz, e2e, all)" >&2; exit 2 ;;
	esac
done

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed suites: ${failures[*]} (logs in $logdir)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
