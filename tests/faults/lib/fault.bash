# Shared helpers of the fault suites (sourced after tests/lib.sh; not a suite itself: tests/run.sh runs only
# tests/faults/*.sh). Each suite runs one fault against the category's cluster and leaves it running and healthy.
#
# Report lines: right after the check it reports, a suite prints
#   # report | <fault> | <what was asserted> | <bound> | <measured>
# and tests/run.sh turns them into the category's table, each row marked with that check's result.

G=core.spinkube.dev
APP_LABEL=$G/app-name
IMG=ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0
SAMPLES=$REPO/config/samples

# report <fault> <asserted> <bound> <measured>
report() { echo "# report | $1 | $2 | $3 | $4"; }

# absent <kubectl get args>: the object does not exist (NotFound, not merely an error reaching the server).
absent() {
	local out
	out=$(kubectl get "$@" -o name 2>&1) && { echo "still there: $out"; return 1; }
	[[ $out == *NotFound* || $out == *"not found"* ]] || { echo "$out"; return 1; }
}

# poll cmd...: cmd, pausing a second after a failure (for retry loops around expensive checks).
poll() { "$@" || { sleep 1; return 1; }; }

# at_least <n> cmd...: cmd prints a number >= n (evaluated on every try, for retry).
at_least() {
	local n=$1 v
	shift
	v=$("$@")
	[ "${v:-0}" -ge "$n" ] || { echo "$* = ${v:-nothing}, want >= $n"; return 1; }
}

app_yaml() { # app_yaml <ns> <name>
	cat <<-YAML
		apiVersion: $G/v1alpha1
		kind: SpinApp
		metadata: {name: $2, namespace: $1}
		spec: {image: "$IMG", executor: containerd-shim-spin, replicas: 1}
	YAML
}

# fault_runtimeclass: the samples' RuntimeClass (the shim executor names it); made when missing, and kept (the
# cluster is the category's).
fault_runtimeclass() {
	kubectl get runtimeclass wasmtime-spin-v2 >/dev/null 2>&1 || kubectl apply -f "$SAMPLES/spin-runtime-class.yaml" >/dev/null
}

# converged_apps <ns> <n>: exactly <n> SpinApps; exactly one Deployment, Service and runtime-config Secret per
# app (by the app-name label), nothing else labelled (nothing orphaned), and every app Available with its
# replica ready.
converged_apps() {
	local apps kind sel not_ready a
	apps=$(kubectl get spinapps -n "$1" -o json | jq -c '[.items[].metadata.name] | sort') || return 1
	[ "$(jq length <<<"$apps")" = "$2" ] || { echo "$(jq length <<<"$apps") apps, want $2"; return 1; }
	for kind in deployments services secrets; do
		sel='.'
		[ "$kind" = secrets ] && sel='select(.data["runtime-config.toml"])'
		kubectl get "$kind" -n "$1" -l "$APP_LABEL" -o json | jq -e --argjson apps "$apps" \
			"[.items[] | $sel | .metadata.labels[\"$APP_LABEL\"]] | sort == \$apps" >/dev/null ||
			{ echo "$kind: not exactly one per app"; return 1; }
	done
	not_ready=$(kubectl get spinapps -n "$1" -o json | jq -r '.items[] | select((.status.readyReplicas == 1 and
		([.status.conditions[]? | select(.type == "Available") | .status] == ["True"])) | not) | .metadata.name')
	[ -z "$not_ready" ] && return 0
	echo "not Available: $(wc -w <<<"$not_ready") apps; the first:"
	for a in $(head -2 <<<"$not_ready"); do
		kubectl get spinapp "$a" -n "$1" -o json | jq -c '{app: .metadata.name, gen: .metadata.generation, status}'
	done
	return 1
}

# heal <ns>: kwok fakes the kubelets, and its pod-ready stage only handles Pending pods. When a fault lasts long
# enough for the fake nodes' leases to lapse, the node lifecycle controller marks every Running pod NotReady, and
# nothing would ever make those pods Ready again, so no Deployment could be Available whatever the operator does.
# Such pods (Running, not Ready: kwok sets phase and readiness together) are deleted; their ReplicaSets replace
# them, as a real kubelet would have recovered them. Each use is noted in $HEAL_NOTES when set.
heal() {
	local pods
	pods=$(kubectl get pods -n "$1" -o json | jq -r '.items[] | select(.metadata.deletionTimestamp == null
		and .status.phase == "Running" and ([.status.conditions[]? | select(.type == "Ready") | .status] != ["True"]))
		| .metadata.name') || return 0
	[ -n "$pods" ] || return 0
	echo "# healed: deleted $(wc -w <<<"$pods") Running but NotReady pods in $1 (node lifecycle controller after a lease lapse)" >>"${HEAL_NOTES:-/dev/null}"
	# shellcheck disable=SC2086 # one pod name per word
	kubectl delete pod -n "$1" $pods --wait=false >/dev/null 2>&1
	return 0
}

# apiserver_ready: the category's kube-apiserver answers /readyz with "ok".
apiserver_ready() { [ "$(kubectl get --raw /readyz 2>/dev/null)" = ok ]; }

# op_readyz <log>: the operator's /readyz (port from its log line) answers 200.
op_readyz() {
	local port
	port=$(sed -n 's/.*health probes listening on .* (port \([0-9]*\)).*/\1/p' "$1" | tail -1)
	[ -n "$port" ] || { echo "no health port in the operator's log"; return 1; }
	local body
	body=$(curl -sf --max-time 5 "http://127.0.0.1:$port/readyz" 2>&1) ||
		{ echo "/readyz on port $port is not 200: $(curl -s --max-time 5 "http://127.0.0.1:$port/readyz")"; return 1; }
}

# timed_check <var> "<what>" cmd...: t_check, also storing cmd's wall time in whole seconds in <var>.
timed_check() {
	local __var=$1 __what=$2 __out __rc __t0
	shift 2
	__t0=$(date +%s%N)
	__out=$("$@" 2>&1)
	__rc=$?
	printf -v "$__var" '%d' $((($(date +%s%N) - __t0 + 500000000) / 1000000000))
	if [ $__rc = 0 ]; then
		t_ok "$__what"
	else
		t_fail "$__what"
		printf '%s\n' "$__out" | sed 's/^/    /' | tail -20
	fi
	return $__rc
}

# fault_operator_start <namespace prefix> <kubeconfig>: the RuntimeClass, a test namespace ($ns) with the shim
# executor, then the operator on <kubeconfig> ($pid, logging to $log, every server but health off); ends the
# suite when one of them fails.
fault_operator_start() {
	fault_runtimeclass
	ns=$(t_ns "$1") || { t_fail "create a test namespace"; exit 1; }
	kubectl apply -n "$ns" -f "$SAMPLES/spin-shim-executor.yaml" >/dev/null
	"$OPERATOR" --kubeconfig "$2" --health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 0 \
		--webhook-bind-address 0 --log-level debug >"$log" 2>&1 &
	pid=$!
	retry 60 grep -qs "caches synced" "$log" || { t_fail "the operator starts and its caches sync"; tail -20 "$log"; exit 1; }
}
