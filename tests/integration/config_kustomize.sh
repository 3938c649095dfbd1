#!/usr/bin/env bash
# The kustomize configuration in config/ against a real kube-apiserver: config/default renders into
# exactly the expected objects and names (with the admission webhook in the self-managed certificate mode),
# its CRDs are crds/*.yaml unchanged, the Deployment has the flags, probes, webhook port, certificate volume
# and hardening it should, server-side dry-run accepts every object, the ClusterRole holds exactly the
# permissions docs/rbac.md lists (an extra permission fails), the self-managed mode's ClusterRole and Role
# hold exactly theirs (limited by resourceNames), the leader-election Role grants exactly get, create and update
# of Leases (and no other Role is rendered), config/default-certmanager (cert-manager's CRDs are not installed here, so
# only rendered) swaps the self-managed mode for cert-manager's Issuer, Certificate, cainjector annotations
# and Secret volume, the secure metrics endpoint has its Service (https, 8443), the metrics-auth ClusterRole
# (token and access reviews only) and the metrics-reader ClusterRole (GET /metrics only) as docs/rbac.md lists
# them, config/prometheus renders the optional ServiceMonitor, and, once config/rbac is really applied in a
# throw-away namespace, `kubectl auth can-i` answers as the operator's ServiceAccount what it should.
#
# Cleans up everything it created (the RBAC objects, its namespaces, the spin-operator Namespace when it
# created it); leaves the CRDs as they were.
#
# Run by tests/run.sh with KUBECONFIG, PATH (.tools/bin) and REPO set; by hand:
#   KUBECONFIG=$PWD/.cluster/kubeconfig PATH=$PWD/.tools/bin:$PATH REPO=$PWD bash tests/integration/config_kustomize.sh
set -euo pipefail

REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$REPO/tests/lib.sh"

NS=spin-operator # config/default's namespace
tmp=$(mktemp -d)
created_ns=""    # spin-operator, when this suite created it for the dry-run
vns=""           # the namespace of the RBAC variant
overlay=$tmp/rbac-variant

cleanup() {
	if [ -n "$vns" ]; then
		kubectl delete -k "$overlay" --ignore-not-found --wait=false >/dev/null 2>&1 || true
		kubectl delete namespace "$vns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
	fi
	if [ -n "$created_ns" ]; then
		kubectl delete namespace "$created_ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# The ClusterRole's permissions as "apiGroup resource verb" triples (sorted): docs/rbac.md, one line each.
MANAGER_RULES='
core.spinkube.dev spinapps list
core.spinkube.dev spinapps watch
core.spinkube.dev spinapps/status patch
core.spinkube.dev spinapps/finalizers update
core.spinkube.dev spinappexecutors list
core.spinkube.dev spinappexecutors watch
core.spinkube.dev spinappexecutors update
core.spinkube.dev spinappexecutors/status patch
apps deployments list
apps deployments watch
apps deployments create
apps deployments patch
apps deployments delete
apps replicasets list
apps replicasets watch
"" services list
"" services watch
"" services create
"" services patch
"" services delete
"" secrets get
"" secrets list
"" secrets watch
"" secrets create
"" secrets delete
"" serviceaccounts get
"" configmaps get
"" events create
"" events patch
autoscaling horizontalpodautoscalers list
autoscaling horizontalpodautoscalers watch
autoscaling horizontalpodautoscalers create
autoscaling horizontalpodautoscalers patch
autoscaling horizontalpodautoscalers delete
node.k8s.io runtimeclasses list
node.k8s.io runtimeclasses watch
node.k8s.io runtimeclasses create
node.k8s.io runtimeclasses patch
node.k8s.io runtimeclasses delete
gateway.networking.k8s.io httproutes list
gateway.networking.k8s.io httproutes watch
gateway.networking.k8s.io httproutes create
gateway.networking.k8s.io httproutes patch
gateway.networking.k8s.io httproutes delete
'

# The self-managed certificate mode's rules (config/rbac/webhook_cert_role.yaml) as "apiGroup resource verb
# resourceNames" lines.
CERT_CLUSTER_RULES='
admissionregistration.k8s.io mutatingwebhookconfigurations get spin-operator-mutating-webhook-configuration
admissionregistration.k8s.io mutatingwebhookconfigurations patch spin-operator-mutating-webhook-configuration
admissionregistration.k8s.io validatingwebhookconfigurations get spin-operator-validating-webhook-configuration
admissionregistration.k8s.io validatingwebhookconfigurations patch spin-operator-validating-webhook-configuration
'
CERT_ROLE_RULES='
"" secrets create -
"" secrets get spin-operator-webhook-server-cert
"" secrets update spin-operator-webhook-server-cert
'

# The leader-election Role's permissions (config/rbac/leader_election_role.yaml), in the operator's namespace.
LEADER_RULES='
coordination.k8s.io leases get
coordination.k8s.io leases watch
coordination.k8s.io leases create
coordination.k8s.io leases update
'

# --- helpers (each returns the status of its check and explains a failure on stdout) ---------------

render() { kubectl kustomize "$REPO/config/$1" >"$tmp/$1.yaml"; }

# as_json <file>: the multi-document YAML file as a JSON array (kubectl does the YAML parsing).
as_json() { kubectl create --dry-run=client -o json -f "$1" | jq -cs 'map(if .kind == "List" then .items[] else . end)'; }

# obj <kind> [name]: the single rendered object of config/default with that kind (and name).
obj() { jq -c --arg k "$1" --arg n "${2:-}" '[.[] | select(.kind == $k and ($n == "" or .metadata.name == $n))]
	| if length == 1 then .[0] else error("\(length) objects of kind \($k)") end' "$tmp/default.json"; }

objects_are() {
	local got want
	got=$(jq -r '.[] | "\(.kind)/\(.metadata.namespace // "-")/\(.metadata.name)"' "$tmp/default.json" | sort)
	want=$(printf '%s\n' \
		"ClusterRole/-/spin-operator-manager-role" \
		"ClusterRoleBinding/-/spin-operator-manager-rolebinding" \
		"ClusterRole/-/spin-operator-webhook-cert-role" \
		"ClusterRole/-/spin-operator-metrics-auth-role" \
		"ClusterRoleBinding/-/spin-operator-metrics-auth-rolebinding" \
		"ClusterRole/-/spin-operator-metrics-reader" \
		"Service/$NS/spin-operator-metrics-service" \
		"ClusterRoleBinding/-/spin-operator-webhook-cert-rolebinding" \
		"Role/$NS/spin-operator-webhook-cert-role" \
		"RoleBinding/$NS/spin-operator-webhook-cert-rolebinding" \
		"Role/$NS/spin-operator-leader-election-role" \
		"RoleBinding/$NS/spin-operator-leader-election-rolebinding" \
		"CustomResourceDefinition/-/spinappexecutors.core.spinkube.dev" \
		"CustomResourceDefinition/-/spinapps.core.spinkube.dev" \
		"Deployment/$NS/spin-operator-controller-manager" \
		"Namespace/-/$NS" \
		"ServiceAccount/$NS/spin-operator-controller-manager" \
		"Service/$NS/spin-operator-webhook-service" \
		"MutatingWebhookConfiguration/-/spin-operator-mutating-webhook-configuration" \
		"ValidatingWebhookConfiguration/-/spin-operator-validating-webhook-configuration" | sort)
	[ "$got" = "$want" ] || { diff <(echo "$want") <(echo "$got"); return 1; }
}

crds_unchanged() {
	local f name
	for f in "$REPO"/crds/core.spinkube.dev_*.yaml; do
		name=$(kubectl create --dry-run=client -o jsonpath='{.metadata.name}' -f "$f")
		kubectl create --dry-run=client -o json -f "$f" | jq -S . >"$tmp/want.json"
		obj CustomResourceDefinition "$name" | jq -S . >"$tmp/got.json"
		diff -u "$tmp/want.json" "$tmp/got.json" | head -20
		cmp -s "$tmp/want.json" "$tmp/got.json" || return 1
	done
}

deployment_is_right() {
	local image
	image="ghcr.io/spinkube/spin-operator-c:v$(tr -d ' \n' <"$REPO/VERSION")" # the one version source
	obj Deployment spin-operator-controller-manager | jq -e --arg ns "$NS" --arg image "$image" '
		.spec.replicas == 1
		and .spec.selector.matchLabels == {"control-plane": "controller-manager"}
		and .spec.template.metadata.labels["control-plane"] == "controller-manager"
		and .spec.template.spec.serviceAccountName == "spin-operator-controller-manager"
		and (.spec.template.spec.containers | length) == 1
		and (.spec.template.spec.containers[0] as $c
			| $c.name == "manager"
			and $c.image == $image
			and $c.args == ["--health-probe-bind-address=:8082", "--metrics-bind-address=:8443",
				"--webhook-bind-address=:9443", "--webhook-cert-mode=self-managed", "--leader-elect"]
			and ($c.ports | map({name, containerPort}) | sort_by(.name)) == [{"name": "health", "containerPort": 8082}, {"name": "metrics", "containerPort": 8443}, {"name": "webhook-server", "containerPort": 9443}]
			and $c.env == [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]
			and $c.volumeMounts == [{"name": "cert", "mountPath": "/tmp/k8s-webhook-server/serving-certs", "readOnly": false}]
			and $c.livenessProbe.httpGet == {"path": "/healthz", "port": 8082}
			and $c.readinessProbe.httpGet == {"path": "/readyz", "port": 8082}
			and $c.resources.limits == {"cpu": "500m", "memory": "128Mi"}
			and $c.resources.requests == {"cpu": "10m", "memory": "64Mi"}
			and $c.securityContext.allowPrivilegeEscalation == false
			and $c.securityContext.readOnlyRootFilesystem == true
			and $c.securityContext.capabilities == {"drop": ["ALL"]}
			and $c.securityContext.seccompProfile.type == "RuntimeDefault")
		and .spec.template.spec.volumes == [{"name": "cert", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}]
		and .spec.template.spec.securityContext.runAsNonRoot == true
		and .spec.template.spec.securityContext.seccompProfile.type == "RuntimeDefault"' >/dev/null ||
		{ obj Deployment spin-operator-controller-manager | jq .spec.template.spec; return 1; }
}

# bindings_are_right: each binding points at its prefixed role and the prefixed ServiceAccount in $NS.
bindings_are_right() {
	local sa kind name role
	sa=$(jq -nc --arg ns "$NS" '[{kind: "ServiceAccount", name: "spin-operator-controller-manager", namespace: $ns}]')
	for spec in "ClusterRoleBinding spin-operator-manager-rolebinding ClusterRole spin-operator-manager-role" \
		"ClusterRoleBinding spin-operator-webhook-cert-rolebinding ClusterRole spin-operator-webhook-cert-role" \
		"ClusterRoleBinding spin-operator-metrics-auth-rolebinding ClusterRole spin-operator-metrics-auth-role" \
		"RoleBinding spin-operator-webhook-cert-rolebinding Role spin-operator-webhook-cert-role" \
		"RoleBinding spin-operator-leader-election-rolebinding Role spin-operator-leader-election-role"; do
		read -r kind name rkind role <<<"$spec"
		obj "$kind" "$name" | jq -e --argjson sa "$sa" --arg k "$rkind" --arg r "$role" '.roleRef == {apiGroup:
			"rbac.authorization.k8s.io", kind: $k, name: $r} and .subjects == $sa' >/dev/null || { obj "$kind" "$name"; return 1; }
	done
}

# cert_rules_are <kind> <lines>: the self-managed mode's role grants exactly these (apiGroup, resource, verb,
# resourceNames) lines, every rule but create limited to one name, no wildcards.
cert_rules_are() {
	local role got want
	role=$(obj "$1" spin-operator-webhook-cert-role)
	jq -e '(has("aggregationRule") | not) and ([.rules[] | has("nonResourceURLs")] | any | not)
		and ([.rules[] | .apiGroups[], .resources[], .verbs[], (.resourceNames // [])[] | select(test("\\*"))] | length == 0)
		and all(.rules[]; (.resourceNames | length) == 1 or .verbs == ["create"])' <<<"$role" >/dev/null ||
		{ echo "wildcards, nonResourceURLs, aggregation or unlimited rules in: $role"; return 1; }
	got=$(jq -r '.rules[] | .apiGroups[] as $g | .resources[] as $r | .verbs[] as $v
		| "\(if $g == "" then "\"\"" else $g end) \($r) \($v) \((.resourceNames // ["-"]) | join(","))"' <<<"$role" | sort)
	want=$(grep -v '^$' <<<"$2" | sort)
	[ "$got" = "$want" ] || { echo "diff want got:"; diff <(echo "$want") <(echo "$got"); return 1; }
}

# rules_are <kind> <triples>: the role's rules grant exactly these (apiGroup, resource, verb) triples, with no
# resourceNames, nonResourceURLs, wildcards or aggregation (any of which would widen them).
rules_are() {
	local role got want
	role=$(obj "$1" "${3:-}")
	jq -e '(has("aggregationRule") | not) and ([.rules[] | has("resourceNames") or has("nonResourceURLs")] | any | not)
		and ([.rules[] | .apiGroups[], .resources[], .verbs[] | select(test("\\*"))] | length == 0)' <<<"$role" >/dev/null ||
		{ echo "wildcards, resourceNames, nonResourceURLs or aggregation in: $role"; return 1; }
	got=$(jq -r '.rules[] | .apiGroups[] as $g | .resources[] as $r | .verbs[] as $v
		| "\(if $g == "" then "\"\"" else $g end) \($r) \($v)"' <<<"$role" | sort)
	want=$(grep -v '^$' <<<"$2" | sort)
	[ "$got" = "$want" ] || { echo "diff want got:"; diff <(echo "$want") <(echo "$got"); return 1; }
	# and no triple granted twice (a duplicate rule is harmless but means the file drifted from the doc)
	[ "$(uniq -d <<<"$got")" = "" ] || { echo "granted twice: $(uniq -d <<<"$got")"; return 1; }
}

# doc_triples <heading prefix>: the (apiGroup, resource, verb) triples of the table under the docs/rbac.md
# heading that starts with the prefix (rows "| `group` | `resource` | verb, verb | ...").
doc_triples() {
	awk -v h="$1" 'index($0, h) == 1 { on = 1; next } /^## / { on = 0 }
		on && /^\| `/ {
			split($0, c, "|"); g = c[2]; r = c[3]; v = c[4]
			gsub(/[ `]/, "", g); gsub(/[ `]/, "", r); gsub(/ /, "", v)
			n = split(v, vs, ",")
			for (i = 1; i <= n; i++) print g " " r " " vs[i]
		}' "$REPO/docs/rbac.md" | sort
}

# doc_matches <kind> <name> <heading prefix>: docs/rbac.md's table equals the rendered role's rules.
doc_matches() {
	local got want
	want=$(obj "$1" "$2" | jq -r '.rules[] | .apiGroups[] as $g | .resources[] as $r | .verbs[] as $v
		| "\(if $g == "" then "\"\"" else $g end) \($r) \($v)"' | sort)
	got=$(doc_triples "$3")
	[ -n "$got" ] || { echo "no table under '$3' in docs/rbac.md"; return 1; }
	[ "$got" = "$want" ] || { echo "diff role docs:"; diff <(echo "$want") <(echo "$got"); return 1; }
}

rules_commented() {
	# every rule in config/rbac is preceded by a comment saying what uses it
	local f
	for f in "$REPO"/config/rbac/*.yaml; do
		awk -v f="${f##*/}" '/^- apiGroups:/ && prev !~ /^#/ { print f ": rule without comment: " $0; bad = 1 }
			{ prev = $0 } END { exit bad }' "$f" || return 1
	done
}

no_other_roles() {
	local n
	n=$(jq '[.[] | select((.kind == "Role" or .kind == "RoleBinding") and (.metadata.name | test("^spin-operator-(webhook-cert|leader-election)-") | not))] | length' "$tmp/default.json")
	[ "$n" = 0 ] || { echo "$n Role/RoleBinding objects rendered besides the webhook certificates' and leader election's"; return 1; }
}

create_namespace() { jq -c '.[] | select(.kind == "Namespace")' "$tmp/default.json" | kubectl apply -f -; }

dry_run_default() {
	local out
	out=$(kubectl apply --dry-run=server -k "$REPO/config/default" 2>&1) || { echo "$out"; return 1; }
	echo "$out"
	# twenty objects, and no PodSecurity ("would violate") or other warning; kubectl's own note about a
	# Namespace made without `kubectl apply` (if one existed already) is not about the manifests
	[ "$(grep -c '(server dry run)$' <<<"$out")" = 20 ] || return 1
	! grep -i 'warning' <<<"$out" | grep -v 'missing the kubectl.kubernetes.io/last-applied-configuration annotation'

}

namespace_restricted() {
	obj Namespace | jq -e '.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"' >/dev/null
}

write_overlay() { t_rbac_overlay "$vns" "$overlay"; }

# can <yes|no> <verb> <resource> [flags...]: kubectl auth can-i as the variant's ServiceAccount.
can() {
	local want=$1 got
	shift
	got=$(kubectl auth can-i --as="system:serviceaccount:$vns:$vns-controller-manager" "$@" 2>/dev/null) || true
	[ "$got" = "$want" ] || { echo "kubectl auth can-i $*: got '$got', want '$want'"; return 1; }
}

# cans <yes|no> "<verb> <resource> [flags...]"...: can for each (space-separated) spec.
cans() {
	local want=$1 spec
	shift
	for spec in "$@"; do
		# shellcheck disable=SC2086 # the spec is split into words on purpose
		can "$want" $spec || return 1
	done
}

# gone <object>...: none of the objects exists any more.
gone() {
	local o
	for o in "$@"; do
		! kubectl get "$o" >/dev/null 2>&1 || { echo "$o still exists"; return 1; }
	done
}

crds_state() { kubectl get crd spinapps.core.spinkube.dev spinappexecutors.core.spinkube.dev -o name 2>/dev/null | sort; }

crds_before=$(crds_state)

# --- render ------------------------------------------------------------------------------------------

for d in crd rbac manager webhook default default-certmanager; do
	t_check "kubectl kustomize config/$d renders" render "$d"
done
as_json "$tmp/default.yaml" >"$tmp/default.json" || {
	t_fail "the rendered config/default parses"
	exit 1
}
t_check "config/default: exactly Namespace, 2 CRDs, ServiceAccount, ClusterRoles, Roles (webhook certificates, leader election), bindings, Deployment, webhook and metrics Services and configurations with the spin-operator names" objects_are
t_check "config/default: the CRDs are crds/*.yaml unchanged" crds_unchanged
t_check "config/default: Deployment (1 replica) runs the versioned image with the flags (--leader-elect, secure metrics on :8443, self-managed webhook certificates on :9443), POD_NAMESPACE, the certificate emptyDir, probes on :8082, ports, resources and hardening" deployment_is_right
t_check "config/default: the bindings name the prefixed roles and ServiceAccount in $NS" bindings_are_right
webhooks_are_right() {
	jq -e --arg ns "$NS" '[.[] | select(.kind | endswith("WebhookConfiguration")) | .webhooks[]] as $w
		| ($w | length) == 4 and all($w[]; .clientConfig.service.name == "spin-operator-webhook-service"
			and .clientConfig.service.namespace == $ns and (.clientConfig | has("caBundle") | not)
			and .failurePolicy == "Fail" and .sideEffects == "None")' "$tmp/default.json" >/dev/null &&
		obj Service spin-operator-webhook-service | jq -e '.spec.ports == [{"name": "webhook-server", "port": 443,
			"protocol": "TCP", "targetPort": 9443}] and .spec.selector == {"control-plane": "controller-manager"}' >/dev/null
}
t_check "config/default: the four webhooks call spin-operator-webhook-service in $NS (443 -> 9443), no caBundle (the operator sets it)" webhooks_are_right
t_check "ClusterRole spin-operator-webhook-cert-role grants get and patch of the two webhook configurations, by name" \
	cert_rules_are ClusterRole "$CERT_CLUSTER_RULES"
t_check "Role spin-operator-webhook-cert-role grants secrets create, and get and update of its Secret by name" \
	cert_rules_are Role "$CERT_ROLE_RULES"
cert_doc_matches() {
	local got want
	want=$( (obj ClusterRole spin-operator-webhook-cert-role; obj Role spin-operator-webhook-cert-role) |
		jq -r '.rules[] | .apiGroups[] as $g | .resources[] as $r | .verbs[] as $v
		| "\(if $g == "" then "\"\"" else $g end) \($r) \($v)"' | sort -u)
	got=$(doc_triples '## Self-managed webhook certificates' | sort -u)
	[ -n "$got" ] || { echo "no table under '## Self-managed webhook certificates' in docs/rbac.md"; return 1; }
	[ "$got" = "$want" ] || { echo "diff roles docs:"; diff <(echo "$want") <(echo "$got"); return 1; }
}
t_check "docs/rbac.md's self-managed certificates table lists exactly those rules" cert_doc_matches
t_check "config/default: Namespace enforces the restricted Pod Security Standard" namespace_restricted
METRICS_AUTH_RULES='
authentication.k8s.io tokenreviews create
authorization.k8s.io subjectaccessreviews create
'
t_check "ClusterRole spin-operator-metrics-auth-role grants exactly tokenreviews and subjectaccessreviews create" \
	rules_are ClusterRole "$METRICS_AUTH_RULES" spin-operator-metrics-auth-role
t_check "docs/rbac.md's metrics-auth table lists exactly those rules" \
	doc_matches ClusterRole spin-operator-metrics-auth-role '## Metrics: ClusterRole `spin-operator-metrics-auth-role`'
metrics_reader_is_right() {
	obj ClusterRole spin-operator-metrics-reader | jq -e '.rules == [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
		and (has("aggregationRule") | not)' >/dev/null || { obj ClusterRole spin-operator-metrics-reader; return 1; }
	# bound to nothing here: the scraper's binding is the user's (docs/operations.md)
	jq -e '[.[] | select(.kind | endswith("Binding")) | select(.roleRef.name == "spin-operator-metrics-reader")] | length == 0' \
		"$tmp/default.json" >/dev/null
}
t_check "ClusterRole spin-operator-metrics-reader grants GET /metrics only, and nothing binds it" metrics_reader_is_right
metrics_service_is_right() {
	obj Service spin-operator-metrics-service | jq -e '.spec.ports == [{"name": "https", "port": 8443, "protocol": "TCP",
		"targetPort": 8443}] and .spec.selector == {"control-plane": "controller-manager"}
		and .metadata.labels["control-plane"] == "controller-manager"' >/dev/null ||
		{ obj Service spin-operator-metrics-service; return 1; }
}
t_check "config/default: Service spin-operator-metrics-service exposes https 8443 -> 8443 of the controller-manager pods" metrics_service_is_right
servicemonitor_is_right() {
	render prometheus || return 1
	local want
	for want in "kind: ServiceMonitor" "name: spin-operator-controller-manager-metrics-monitor" "namespace: $NS" \
		"port: https" "scheme: https" "path: /metrics" "bearerTokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token" \
		"insecureSkipVerify: true" "control-plane: controller-manager"; do
		grep -q -- "$want" "$tmp/prometheus.yaml" || { echo "missing \"$want\" in: $(cat "$tmp/prometheus.yaml")"; return 1; }
	done
	[ "$(grep -c '^kind: ' "$tmp/prometheus.yaml")" = 1 ] && ! grep -q ServiceMonitor "$tmp/default.yaml"
}
t_check "config/prometheus (not in config/default): a ServiceMonitor scraping the https port with the pod's token" servicemonitor_is_right
networkpolicy_is_right() {
	render networkpolicy || return 1
	as_json "$tmp/networkpolicy.yaml" >"$tmp/networkpolicy.json" || return 1
	# one Ingress policy in $NS selecting the Deployment's pods, admitting its webhook and metrics ports only
	jq -e --arg ns "$NS" --slurpfile d "$tmp/default.json" '
		($d[0] | map(select(.kind == "Deployment"))[0]) as $dep |
		($dep.spec.template.spec.containers[0].ports | map(.containerPort)) as $ports |
		length == 1 and .[0].kind == "NetworkPolicy" and .[0].metadata.namespace == $ns
		and .[0].metadata.name == "spin-operator-controller-manager" and .[0].spec.policyTypes == ["Ingress"]
		and (.[0].spec.podSelector.matchLabels | to_entries | all(.[]; $dep.spec.template.metadata.labels[.key] == .value))
		and ([.[0].spec.ingress[].ports[].port] | sort) == [8443, 9443]
		and ($ports | index(9443)) != null and ($ports | index(8443)) != null' "$tmp/networkpolicy.json" >/dev/null ||
		{ cat "$tmp/networkpolicy.yaml"; return 1; }
	! grep -q NetworkPolicy "$tmp/default.yaml"
}
t_check "config/networkpolicy (not in config/default): an Ingress NetworkPolicy for the Deployment's pods, its webhook (9443) and metrics (8443) ports only" networkpolicy_is_right
t_check "ClusterRole spin-operator-manager-role grants exactly the documented rules" rules_are ClusterRole "$MANAGER_RULES" spin-operator-manager-role
t_check "Role spin-operator-leader-election-role grants exactly get, create and update of Leases" \
	rules_are Role "$LEADER_RULES" spin-operator-leader-election-role
t_check "config/rbac: no Role or RoleBinding but the webhook certificates' and leader election's" no_other_roles
t_check "every rule in config/rbac carries a comment naming its user" rules_commented
t_check "docs/rbac.md's ClusterRole table lists exactly the ClusterRole's rules" \
	doc_matches ClusterRole spin-operator-manager-role '## ClusterRole '
t_check "docs/rbac.md's leader-election Role table lists exactly the Role's rules" \
	doc_matches Role spin-operator-leader-election-role '## Role `spin-operator-leader-election-role`'

# --- config/default-certmanager: rendered only (cert-manager's CRDs are not in this cluster) -------------

# kubectl turns only kinds the cluster knows into JSON: the Certificate and Issuer are checked on the YAML text,
# everything else as JSON.
cm_objects() {
	grep -E '^kind: ' "$tmp/default-certmanager.yaml" | sort | uniq -c | awk '{print $3 "=" $1}' | tr '\n' ' '
}
t_eq() { if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1: got \"$2\", want \"$3\""; fi; }
t_eq "config/default-certmanager: config/default's objects less the self-managed RBAC, plus an Issuer and a Certificate" \
	"$(cm_objects)" "Certificate=1 ClusterRole=3 ClusterRoleBinding=2 CustomResourceDefinition=2 Deployment=1 Issuer=1 MutatingWebhookConfiguration=1 Namespace=1 Role=1 RoleBinding=1 Service=2 ServiceAccount=1 ValidatingWebhookConfiguration=1 "
# the objects kubectl knows, as JSON (cert-manager's kinds are filtered out first)
awk 'BEGIN { RS = "\n---\n"; ORS = "\n---\n" } !/\napiVersion: cert-manager.io|^apiVersion: cert-manager.io/' \
	"$tmp/default-certmanager.yaml" >"$tmp/cm-known.yaml"
as_json "$tmp/cm-known.yaml" >"$tmp/cm.json"
cm_deployment() {
	jq -e '.[] | select(.kind == "Deployment") | .spec.template.spec as $s | $s.containers[0] as $c
		| $c.args == ["--health-probe-bind-address=:8082", "--metrics-bind-address=:8443",
			"--webhook-bind-address=:9443", "--webhook-cert-mode=files", "--leader-elect"]
		and $s.volumes == [{"name": "cert", "secret": {"secretName": "webhook-server-cert", "defaultMode": 420}}]
		and $c.volumeMounts == [{"name": "cert", "mountPath": "/tmp/k8s-webhook-server/serving-certs", "readOnly": true}]
		and ($c.ports | map(select(.name == "webhook-server")) | .[0].containerPort) == 9443' "$tmp/cm.json" >/dev/null
}
t_check "config/default-certmanager: the Deployment runs --webhook-cert-mode=files with Secret webhook-server-cert mounted read-only at /tmp/k8s-webhook-server/serving-certs, port 9443 webhook-server" cm_deployment
cm_annotations() {
	jq -e --arg ns "$NS" '[.[] | select(.kind | endswith("WebhookConfiguration"))] | length == 2 and all(.[];
		.metadata.annotations == {"cert-manager.io/inject-ca-from": ($ns + "/spin-operator-serving-cert")})' "$tmp/cm.json" >/dev/null
}
t_check "config/default-certmanager: both webhook configurations carry cert-manager.io/inject-ca-from: $NS/spin-operator-serving-cert" cm_annotations
cm_certificate() {
	local doc
	doc=$(awk 'BEGIN { RS = "\n---\n" } /\nkind: Certificate\n/' "$tmp/default-certmanager.yaml")
	for want in "name: spin-operator-serving-cert" "namespace: $NS" "- spin-operator-webhook-service.$NS.svc$" \
		"- spin-operator-webhook-service.$NS.svc.cluster.local$" "name: spin-operator-selfsigned-issuer" \
		"secretName: webhook-server-cert"; do
		grep -q -- "$want" <<<"$doc" || { echo "missing \"$want\" in: $doc"; return 1; }
	done
	awk 'BEGIN { RS = "\n---\n" } /\nkind: Issuer\n/' "$tmp/default-certmanager.yaml" |
		grep -q 'name: spin-operator-selfsigned-issuer' && grep -q 'selfSigned: {}' "$tmp/default-certmanager.yaml"
}
t_check "config/default-certmanager: Certificate spin-operator-serving-cert for the Service's DNS names from Issuer spin-operator-selfsigned-issuer into Secret webhook-server-cert" cm_certificate
t_check_fails "config/default-certmanager: none of the self-managed mode's RBAC" grep -q webhook-cert-role "$tmp/default-certmanager.yaml"

# --- server-side dry-run -----------------------------------------------------------------------------

# (t_check runs its command in a subshell, so created_ns is set out here)
if kubectl get namespace "$NS" >/dev/null 2>&1; then
	t_ok "Namespace $NS exists already (left alone)"
else
	created_ns=$NS
	t_check "create Namespace $NS for real (from the rendered manifest)" create_namespace
fi
t_check "kubectl apply --dry-run=server -k config/default accepts all 20 objects without warnings" dry_run_default
if [ -n "$created_ns" ]; then
	t_check "delete Namespace $NS again" kubectl delete namespace "$NS" --timeout=60s
	t_check "Namespace $NS is gone" retry 30 gone namespace/"$NS"
	created_ns=""
fi

# --- RBAC for real (a throw-away variant: namespace and name prefix cfg-rbac-<n>) ---------------------

vns=$(t_ns cfg-rbac) || {
	t_fail "create a test namespace"
	exit 1
}
write_overlay
t_check "apply config/rbac for real as variant $vns" kubectl apply -k "$overlay"

t_check "can list spinapps in all namespaces" can yes list spinapps.core.spinkube.dev --all-namespaces
t_check "can watch spinapps in all namespaces" can yes watch spinapps.core.spinkube.dev --all-namespaces
t_check "can patch spinapps/status" can yes patch spinapps.core.spinkube.dev --subresource=status -n default
t_check "can update spinapps/finalizers (OwnerReferencesPermissionEnforcement)" can yes update spinapps.core.spinkube.dev --subresource=finalizers -n default
t_check "can update spinappexecutors (finalizer)" can yes update spinappexecutors.core.spinkube.dev -n default
t_check "can patch spinappexecutors/status" can yes patch spinappexecutors.core.spinkube.dev --subresource=status -n default
t_check "can create, patch and delete deployments" cans yes "create deployments.apps -n default" "patch deployments.apps -n default" "delete deployments.apps -n default"
t_check "can list replicasets in all namespaces" can yes list replicasets.apps --all-namespaces
t_check "can delete services and secrets" cans yes "delete services -n default" "delete secrets -n default"
t_check "can get configmaps" can yes get configmaps -n default
t_check "can create and patch core events" cans yes "create events -n default" "patch events -n default"
t_check "can create, patch and delete horizontalpodautoscalers" cans yes "create horizontalpodautoscalers.autoscaling -n default" "patch horizontalpodautoscalers.autoscaling -n default" "delete horizontalpodautoscalers.autoscaling -n default"
t_check "can create, patch and delete runtimeclasses" cans yes "create runtimeclasses.node.k8s.io" "patch runtimeclasses.node.k8s.io" "delete runtimeclasses.node.k8s.io"

t_check "cannot get, update or patch spinapps" cans no "get spinapps.core.spinkube.dev -n default" "update spinapps.core.spinkube.dev -n default" "patch spinapps.core.spinkube.dev -n default"
t_check "cannot delete spinapps" can no delete spinapps.core.spinkube.dev -n default
t_check "cannot create spinapps" can no create spinapps.core.spinkube.dev -n default
t_check "cannot create or delete spinappexecutors" cans no "create spinappexecutors.core.spinkube.dev -n default" "delete spinappexecutors.core.spinkube.dev -n default"
t_check "cannot update spinappexecutors/finalizers (nothing is owned by an executor)" can no update spinappexecutors.core.spinkube.dev --subresource=finalizers -n default
t_check "cannot update or patch Secrets anywhere" cans no "update secrets -n default" "patch secrets -n default" "update secrets -n $vns" "patch secrets -n kube-system"
t_check "cannot update or get deployments, services, HPAs, RuntimeClasses (server-side apply, informers)" cans no \
	"update deployments.apps -n default" "get deployments.apps -n default" "update services -n default" \
	"get services -n default" "update horizontalpodautoscalers.autoscaling -n default" "update runtimeclasses.node.k8s.io"
t_check "cannot create configmaps" can no create configmaps -n default
t_check "cannot list configmaps" can no list configmaps --all-namespaces
t_check "cannot create events.k8s.io events (the recorder uses core/v1)" can no create events.events.k8s.io -n default
t_check "cannot list pods" can no list pods --all-namespaces
t_check "cannot delete replicasets" can no delete replicasets.apps -n default
t_check "cannot delete events" can no delete events -n default
t_check "can get serviceaccounts (image verification's pull secrets)" can yes get serviceaccounts -n default
t_check "cannot list or change serviceaccounts" cans no "list serviceaccounts -n default" "update serviceaccounts -n default"
t_check "can get, watch, create and update leases in its own namespace (leader election)" \
	cans yes "get leases.coordination.k8s.io -n $vns" "watch leases.coordination.k8s.io -n $vns" "create leases.coordination.k8s.io -n $vns" "update leases.coordination.k8s.io -n $vns"
t_check "cannot list, delete or patch leases, nor touch them in another namespace" \
	cans no "list leases.coordination.k8s.io -n $vns" "delete leases.coordination.k8s.io -n $vns" "patch leases.coordination.k8s.io -n $vns" "create leases.coordination.k8s.io -n default" "get leases.coordination.k8s.io -n kube-system"
t_check "cannot touch RBAC, nodes, or create webhook configurations" cans no "create clusterrolebindings.rbac.authorization.k8s.io" "get nodes" "create mutatingwebhookconfigurations.admissionregistration.k8s.io"
t_check "can get and patch its two webhook configurations (caBundle)" cans yes \
	"get mutatingwebhookconfigurations.admissionregistration.k8s.io/spin-operator-mutating-webhook-configuration" \
	"patch mutatingwebhookconfigurations.admissionregistration.k8s.io/spin-operator-mutating-webhook-configuration" \
	"get validatingwebhookconfigurations.admissionregistration.k8s.io/spin-operator-validating-webhook-configuration" \
	"patch validatingwebhookconfigurations.admissionregistration.k8s.io/spin-operator-validating-webhook-configuration"
t_check "cannot patch, list or delete other webhook configurations" cans no \
	"patch mutatingwebhookconfigurations.admissionregistration.k8s.io/someone-elses" \
	"get validatingwebhookconfigurations.admissionregistration.k8s.io/someone-elses" \
	"list mutatingwebhookconfigurations.admissionregistration.k8s.io" \
	"delete validatingwebhookconfigurations.admissionregistration.k8s.io/spin-operator-validating-webhook-configuration"
t_check "can create tokenreviews and subjectaccessreviews (secure metrics)" cans yes \
	"create tokenreviews.authentication.k8s.io" "create subjectaccessreviews.authorization.k8s.io"
t_check "cannot create localsubjectaccessreviews, nor read /metrics itself (metrics-reader is for scrapers)" cans no \
	"create localsubjectaccessreviews.authorization.k8s.io -n default" "get /metrics"
t_check "cannot do everything ('*' '*')" can no '*' '*' --all-namespaces

# --- cleanup -----------------------------------------------------------------------------------------

t_check "delete the RBAC variant" kubectl delete -k "$overlay" --timeout=60s
t_check "its ClusterRoles and ClusterRoleBindings are gone" \
	gone clusterrole/"$vns-manager-role" clusterrolebinding/"$vns-manager-rolebinding" clusterrole/"$vns-metrics-auth-role" \
	clusterrolebinding/"$vns-metrics-auth-rolebinding" clusterrole/"$vns-metrics-reader"
t_check "delete the test namespace" kubectl delete namespace "$vns" --timeout=60s
t_check "test namespace is gone" retry 30 gone namespace/"$vns"
vns=""
t_check "the CRDs are left as they were" test "$(crds_state)" = "$crds_before"
exit 0
