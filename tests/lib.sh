# Shared helpers for shell test suites (sourced). Each check prints one line, "ok - <what>" or
# "not ok - <what>"; tests/run.sh counts those lines. A suite exits non-zero only when it cannot run at all.
#
# Environment provided by tests/run.sh: KUBECONFIG (admin of the test cluster), PATH with .tools/bin,
# OPERATOR (the spin-operator binary under test), REPO (checkout root), CLUSTER_DIR, BUILD.

t_failed=0

t_ok() { echo "ok - $*"; }

t_fail() {
	echo "not ok - $*"
	t_failed=1
}

# t_check "<what>" cmd...: passes when cmd exits 0; on failure prints cmd's output indented.
t_check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		t_ok "$what"
	else
		t_fail "$what"
		printf '%s\n' "$out" | sed 's/^/    /' | tail -20
	fi
}

# t_check_fails "<what>" cmd...: passes when cmd exits non-zero.
t_check_fails() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		t_fail "$what (unexpectedly succeeded)"
		printf '%s\n' "$out" | sed 's/^/    /' | tail -20
	else
		t_ok "$what"
	fi
}

# retry <seconds> cmd...: runs cmd every 0.2 s until it succeeds or the time is up (exit status of last try).
retry() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.2
	done
}

# t_ns <prefix>: creates a fresh namespace for one suite and prints its name.
t_ns() {
	local ns="$1-$RANDOM$RANDOM"
	kubectl create namespace "$ns" >/dev/null && echo "$ns"
}
