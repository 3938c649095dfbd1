#!/usr/bin/env bash
# config/rbac/role.yaml against what the operator really requests (docs/rbac.md). A private control plane is
# started with an audit policy that records every ServiceAccount's requests (kube-system's aside) and with the
# OwnerReferencesPermissionEnforcement admission plugin, as OpenShift runs it. reconcile.sh then runs there
# unchanged, and so does tests/faults/burst_restart_sigkill.sh (a smaller burst, an apiserver restart and a
# SIGKILL of the operator: the sections n and o reconcile.sh had): each runs the operator under a ServiceAccount bound to exactly config/rbac's
# ClusterRole and drives every reconciler behaviour (executors, apps, runtime-config and CA Secrets, ConfigMap
# references, HPAs, RuntimeClasses, status, events, deletion, a Service taken over). Their checks count here
# too, prefixed "reconcile (audited)".
#
# A probe shows the plugin is on and asks for exactly what the role grants for it: a ServiceAccount creating a
# Service owned by a SpinApp with blockOwnerDeletion is refused without update on spinapps/finalizers and
# admitted with it.
#
# Then the audit log's (verb, group, resource[/subresource]) triples made by that ServiceAccount are compared
# with the ClusterRole's rules:
# - nothing requested that the role does not grant;
# - no 403, except where reconcile.sh itself expects one (the apiserver restart's cold RBAC cache, a write into
#   a namespace being deleted);
# - every granted verb requested, except the ones in UNEXERCISED below, each with its reason.
# Run by tests/run.sh (REPO, OPERATOR, PATH with .tools/bin); leaves nothing running.
set -uo pipefail
source "$REPO/tests/lib.sh"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

# Granted but never an API request of this run, as "verb group resource" (group "" for the core group).
UNEXERCISED='
update core.spinkube.dev spinapps/finalizers	checked by OwnerReferencesPermissionEnforcement when an apply sets blockOwnerDeletion, not requested; reconcile.sh passing here shows it suffices
delete "" services	checked by OwnerReferencesPermissionEnforcement when an apply changes the ownerReferences of an existing Service (reconcile.sh k3), not requested
list gateway.networking.k8s.io httproutes	the audited cluster has no Gateway API CRDs: the informer starts only once discovery finds them (route.sh runs with them)
watch gateway.networking.k8s.io httproutes	as list: no Gateway API here
create gateway.networking.k8s.io httproutes	as list: no Gateway API here
patch gateway.networking.k8s.io httproutes	as list: no Gateway API here
delete gateway.networking.k8s.io httproutes	as list: no Gateway API here
get "" serviceaccounts	image verification only (webhook/verify/kubecreds.c, --verify-policy), which reconcile.sh leaves off; tests/integration/test_kubecreds.c reads through the same code
'

work=$(mktemp -d)
cdir=$work/cluster
started=0
cleanup() {
	[ "$started" = 1 ] && CLUSTER_DIR=$cdir "$REPO/tests/cluster/down.sh" >/dev/null 2>&1
	if [ "${t_failed:-0}" = 1 ]; then
		local keep=${BUILD:-${TMPDIR:-/tmp}}/test-logs
		mkdir -p "$keep" && cp "$work/burst.out" "$keep/rbac_audit-burst.out" 2>/dev/null
		cp "$work/reconcile.out" "$keep/rbac_audit-reconcile.out" 2>/dev/null &&
			cp "$work/audit.log" "$keep/rbac_audit-audit.log" 2>/dev/null && echo "# logs kept in $keep/rbac_audit-*"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  userGroups: ["system:serviceaccounts:kube-system"]
- level: Metadata
  userGroups: ["system:serviceaccounts"]
- level: None
EOF

up() {
	env CLUSTER_DIR="$cdir" EXTRA_APISERVER_ARGS="--audit-policy-file=$work/policy.yaml --audit-log-path=$work/audit.log --enable-admission-plugins=OwnerReferencesPermissionEnforcement" \
		"$REPO/tests/cluster/up.sh" >"$work/up.log" 2>&1 || { tail -20 "$work/up.log"; return 1; }
}
started=1
t_check "a private control plane with an audit policy and OwnerReferencesPermissionEnforcement" up || exit 1
export KUBECONFIG=$cdir/kubeconfig CLUSTER_DIR=$cdir
t_check "... its kube-apiserver runs with the admission plugin and the audit policy" \
	bash -c "grep -q OwnerReferencesPermissionEnforcement '$cdir/cmdline/kube-apiserver' && grep -q audit-policy-file '$cdir/cmdline/kube-apiserver'"
crds() {
	kubectl apply -f "$REPO"/crds/core.spinkube.dev_spinapps.yaml -f "$REPO"/crds/core.spinkube.dev_spinappexecutors.yaml &&
		kubectl wait --for condition=Established --timeout=60s crd/spinapps.core.spinkube.dev crd/spinappexecutors.core.spinkube.dev
}
t_check "the CRDs are installed" crds

# ---- reconcile.sh, audited ---------------------------------------------------------------------------------

bash "$REPO/tests/integration/reconcile.sh" >"$work/reconcile.out" 2>&1
rstatus=$?
RECONCILE_BURST=10 bash "$REPO/tests/faults/burst_restart_sigkill.sh" >"$work/burst.out" 2>&1
bstatus=$?
sed -n 's/^ok - /ok - reconcile (audited): /p; s/^not ok - /not ok - reconcile (audited): /p; s/^    /    /p' \
	"$work/reconcile.out" "$work/burst.out" | grep -E '^(ok|not ok) - |^    ' || true
grep -q '^not ok - ' "$work/reconcile.out" "$work/burst.out" && t_failed=1
t_check "reconcile.sh ran to its end" bash -c "[ $rstatus = 0 ] && grep -q '^# reconcile.sh: ' '$work/reconcile.out' || tail -15 '$work/reconcile.out'"
t_check "burst_restart_sigkill.sh ran to its end" bash -c "[ $bstatus = 0 ] || tail -15 '$work/burst.out'"

# ---- the admission plugin is on, and spinapps/finalizers is what it asks for --------------------------------

# A ServiceAccount that may create Services creates one owned by a SpinApp with blockOwnerDeletion, as the
# operator's applies do: refused without update on spinapps/finalizers, admitted with it.
pns=$(t_ns rbac-plugin) || { t_fail "create a namespace for the plugin probe"; exit 1; }
probe_role() { # probe_role <extra rule>: the probe's Role (services create, and the extra rule if any)
	kubectl apply -n "$pns" -f - <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: probe}
rules:
- {apiGroups: [""], resources: [services], verbs: [create]}
${1:+- $1}
EOF
}
probe_setup() {
	kubectl apply -n "$pns" -f - <<EOF || return 1
apiVersion: core.spinkube.dev/v1alpha1
kind: SpinApp
metadata: {name: owner}
spec: {image: "ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0", executor: none, replicas: 1}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: probe}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: probe}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: probe}
subjects: [{kind: ServiceAccount, name: probe, namespace: $pns}]
EOF
	probe_role "" && cp "$KUBECONFIG" "$work/probe.kubeconfig" &&
		kubectl --kubeconfig "$work/probe.kubeconfig" config set-credentials probe --token="$(kubectl create token probe -n "$pns")" &&
		kubectl --kubeconfig "$work/probe.kubeconfig" config set-context --current --user=probe
}
t_check "a probe ServiceAccount that may create Services, and a SpinApp to own them" probe_setup
owned_service() { # owned_service <name>: creates, as the probe, a Service owned by the SpinApp with blockOwnerDeletion
	local uid
	uid=$(kubectl get spinapp owner -n "$pns" -o jsonpath='{.metadata.uid}')
	kubectl --kubeconfig "$work/probe.kubeconfig" create -n "$pns" -f - <<EOF 2>&1
apiVersion: v1
kind: Service
metadata:
  name: $1
  ownerReferences: [{apiVersion: core.spinkube.dev/v1alpha1, kind: SpinApp, name: owner, uid: "$uid", controller: true, blockOwnerDeletion: true}]
spec: {ports: [{port: 80}]}
EOF
}
refused() {
	local out
	out=$(owned_service refused) && { echo "created: $out"; return 1; }
	grep -q blockOwnerDeletion <<<"$out" || { echo "$out"; return 1; }
}
t_check "without update on spinapps/finalizers, OwnerReferencesPermissionEnforcement refuses it" refused
admitted() { owned_service admitted >/dev/null || { sleep 1; return 1; }; }
probe_role "{apiGroups: [core.spinkube.dev], resources: [spinapps/finalizers], verbs: [update]}" >/dev/null
t_check "with it (as config/rbac/role.yaml grants), the same Service is admitted" retry 20 admitted
kubectl delete namespace "$pns" --wait=false >/dev/null 2>&1

# ---- the audit log against the ClusterRole ------------------------------------------------------------------

# The operator's users: the RBAC variants rec-rbac-<n> of reconcile.sh and of burst_restart_sigkill.sh,
# ServiceAccounts rec-rbac-<n>-controller-manager.
user=$(jq -r 'select(.user.username | test("^system:serviceaccount:rec-rbac-[0-9]+:rec-rbac-[0-9]+-controller-manager$"))
	| .user.username' "$work/audit.log" | sort -u)
t_check "the audit log has requests from exactly two operator ServiceAccounts (one per suite)" test "$(grep -c . <<<"$user")" = 2
users=$(jq -R . <<<"$user" | jq -sc .)
nonres() {
	# Requests without a resource: only the server version and the Gateway API's discovery document (every
	# authenticated user may read both: system:public-info-viewer, system:discovery).
	local bad
	bad=$(jq -r --argjson u "$users" 'select((.user.username | IN($u[])) and (.userAgent // "" | startswith("spin-operator"))
		and .objectRef == null) | "\(.verb) \(.requestURI)"' \
		"$work/audit.log" | sort -u | grep -vx -e 'get /version' -e 'get /apis/gateway.networking.k8s.io/v1')
	[ -z "$bad" ] || { echo "$bad"; return 1; }
}
t_check "the operator's only non-resource requests are GET /version and the Gateway API's discovery" nonres

# "verb group resource[/sub] code time message" per audited resource request of that user (ResponseComplete,
# or ResponseStarted for watches, which complete later or never). A server-side apply that makes the object is
# authorized as create too: the audit records it as a patch answered 201, listed here as both.
# The suite's own kubectl calls with the operator's token (auth whoami, auth can-i) are not the operator's.
jq -r --argjson u "$users" 'select((.user.username | IN($u[])) and (.userAgent // "" | startswith("spin-operator"))
		and .objectRef.resource != null
		and (.stage == "ResponseComplete" or (.stage == "ResponseStarted" and .verb == "watch")))
	| "\(.verb) \(if (.objectRef.apiGroup // "") == "" then "\"\"" else .objectRef.apiGroup end) \(.objectRef.resource)\(if .objectRef.subresource then "/" + .objectRef.subresource else "" end) \(.responseStatus.code // 0) \(.stageTimestamp) \(.responseStatus.message // "" | gsub("[\n ]"; "_"))"' \
	"$work/audit.log" | awk '{ print } $1 == "patch" && $4 == 201 { $1 = "create"; print }' >"$work/requests"
cut -d' ' -f1-3 "$work/requests" | sort -u >"$work/used"
kubectl create --dry-run=client -o json -f "$REPO/config/rbac/role.yaml" |
	jq -r '.rules[] | .apiGroups[] as $g | .resources[] as $r | .verbs[] as $v
		| "\($v) \(if $g == "" then "\"\"" else $g end) \($r)"' | sort -u >"$work/granted"
sed '/^$/d' <<<"$UNEXERCISED" | cut -f1 | sort -u >"$work/excused"

t_check "the operator made audited requests ($(wc -l <"$work/requests") of them, $(wc -l <"$work/used") kinds)" \
	test "$(wc -l <"$work/used")" -gt 10
outside() { comm -23 "$work/used" "$work/granted" | tee /dev/stderr | grep -q . && return 1 || return 0; }
t_check "every (verb, resource) the operator requested is granted by config/rbac/role.yaml" outside
window=$(sed -n 's/^# restart window (UTC): //p' "$work/burst.out")
forbidden() {
	# Expected 403s: right after the apiserver restart of burst_restart_sigkill.sh (cold authorizer cache, 30 s)
	# and writes into a namespace being deleted.
	local bad
	bad=$(awk -v from="${window% *}" -v to="${window#* }" '$4 == 403 { t = substr($5, 1, 19); if (!(t >= from && t <= to)) print }' \
		"$work/requests" | grep -v 'because_it_is_being_terminated' | head -5)
	[ -z "$bad" ] || { echo "$bad"; return 1; }
}
t_check "no 403 for the operator's requests (besides the restart window ${window:-?} and terminating namespaces)" forbidden
unused() {
	local missing stale
	missing=$(comm -23 "$work/granted" "$work/used" | comm -23 - "$work/excused")
	[ -z "$missing" ] || { echo "granted, never requested and not listed in UNEXERCISED:"; echo "$missing"; return 1; }
	# A listed exception that is not granted any more, or is requested after all, must leave the list.
	stale=$( (comm -13 "$work/granted" "$work/excused"; comm -12 "$work/used" "$work/excused") | sort -u)
	[ -z "$stale" ] || { echo "UNEXERCISED entries not granted or requested after all:"; echo "$stale"; return 1; }
}
t_check "every granted verb was requested, but for the $(wc -l <"$work/excused") listed with their reason" unused
sed '/^$/d; s/^\([^\t]*\)\t\(.*\)/# unexercised: \1: \2/' <<<"$UNEXERCISED"
echo "# requested: $(tr '\n' ';' <"$work/used")"
exit 0
