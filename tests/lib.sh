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

# t_rbac_overlay <namespace> <dir>: writes a kustomization in dir that renders config/rbac into that namespace,
# with the name prefix "<namespace>-" (a variant that cannot clash with config/default's objects).
t_rbac_overlay() {
	mkdir -p "$2"
	# kustomize takes only relative paths to other roots
	cat >"$2/kustomization.yaml" <<-EOF
		apiVersion: kustomize.config.k8s.io/v1beta1
		kind: Kustomization
		namespace: $1
		namePrefix: $1-
		resources:
		- $(realpath --relative-to="$2" "$REPO/config/rbac")
	EOF
}

# t_rbac_kubeconfig <namespace> <overlay dir> <kubeconfig>: applies config/rbac as a variant (that namespace,
# name prefix "<namespace>-"), mints a 2 h token for its ServiceAccount <namespace>-controller-manager and
# writes a kubeconfig (mode 600) holding nothing but the test cluster and that token. The daemon then runs with
# exactly the operator's permissions. Delete the variant with `kubectl delete -k <overlay dir>`.
t_rbac_kubeconfig() {
	local vns=$1 overlay=$2 out=$3 server cadata token
	t_rbac_overlay "$vns" "$overlay"
	kubectl apply -k "$overlay" >/dev/null || return 1
	server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
	cadata=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
	token=$(kubectl create token "$vns-controller-manager" -n "$vns" --duration=2h 2>/dev/null)
	[ -n "$token" ] && [ -n "$server" ] && [ -n "$cadata" ] || {
		echo "could not mint a token for $vns-controller-manager or read the server and CA"
		return 1
	}
	(
		umask 077
		cat >"$out" <<-EOF
			apiVersion: v1
			kind: Config
			clusters:
			- name: test
			  cluster: {server: "$server", certificate-authority-data: "$cadata"}
			users:
			- name: spin-operator
			  user: {token: "$token"}
			contexts:
			- name: spin-operator
			  context: {cluster: test, user: spin-operator}
			current-context: spin-operator
		EOF
	)
}

# q <jq filter> <kubectl get args...>: the object (or list) satisfies the filter; prints it (without
# managedFields, cut at 3000 bytes) when not.
q() {
	local f=$1 out
	shift
	out=$(kubectl get "$@" -o json 2>&1) || { echo "$out"; return 1; }
	jq -e "$f" <<<"$out" >/dev/null 2>&1 && return 0
	jq -c 'del(.metadata.managedFields) | del(.items[]?.metadata.managedFields)' <<<"$out" 2>/dev/null | cut -c1-3000
	return 1
}
