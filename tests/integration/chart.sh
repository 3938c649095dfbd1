#!/usr/bin/env bash
# The Helm chart charts/spin-operator, with helm and a real kube-apiserver:
# - helm lint (and --strict) with the default values and every case in tests/chart/cases/;
# - helm template golden files: tests/chart/golden/<case>.yaml for each values file in tests/chart/cases/ and
#   for upstream spin-operator v0.6.1's own values.yaml (tests/chart/upstream-v0.6.1-values.yaml, verbatim);
#   the CRD documents are left out of the golden files (they are crds/*.yaml) and checked on their own: the
#   chart's CRDs are crds/*.yaml plus the release labels and, with crds.keep, helm.sh/resource-policy: keep.
#   UPDATE_GOLDEN=1 rewrites the golden files instead of comparing;
# - values.schema.json: a wrong value (type, unknown mode or key, replicas < 1, ...) fails helm template with
#   a message naming the key;
# - every case's objects accepted by `kubectl apply --dry-run=server` in a namespace that enforces the
#   restricted Pod Security Standard, without warnings (cert-manager's and prometheus-operator's kinds
#   through minimal stand-in CRDs, tests/chart/foreign-crds.yaml);
# - the chart with values equivalent to config/default (tests/chart/cases/config-default.yaml) gives the
#   same Deployment, RBAC, Services and webhook configurations as `kubectl kustomize config/default`, once the
#   labels and names Helm adds are taken out;
# - helm package, helm push to a local TLS OCI registry (tests/registry/up.sh), helm install oci://... from
#   it (--wait: the pods are admitted under restricted PSS and become Ready on the kwok nodes), helm upgrade
#   (two replicas: PodDisruptionBudget; verifyImages: ConfigMap and --verify-policy), a policy-only upgrade
#   rolling no pod, and helm uninstall leaving no object with the release's label but the kept CRDs;
# - a first install on a second control plane without the CRDs (started and stopped here, ≈ 15 s): the shim
#   executor made by the post-install hook, adopted by the next upgrade, removed by uninstall.
#
# The suite cluster's CRDs (installed by tests/run.sh from crds/) are adopted by the release for the install
# (labels and annotations, as docs/install.md tells users with CRDs applied by hand) and put back as they
# were afterwards. Cleans up everything else it created.
#
# Run by tests/run.sh with KUBECONFIG, PATH (.tools/bin) and REPO set; by hand:
#   KUBECONFIG=$PWD/.cluster/kubeconfig PATH=$PWD/.tools/bin:$PATH REPO=$PWD bash tests/integration/chart.sh
# Golden files only (no cluster needed for that part, but the suite runs as a whole):
#   UPDATE_GOLDEN=1 ... bash tests/integration/chart.sh
set -euo pipefail

REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$REPO/tests/lib.sh"

CHART=$REPO/charts/spin-operator
FIX=$REPO/tests/chart
GOLDEN_NS=spin-operator # golden renders: release spin-operator in namespace spin-operator (config/default's)
EXEC_API=core.spinkube.dev/v1alpha1/SpinAppExecutor
CRD_NAMES="spinapps.core.spinkube.dev spinappexecutors.core.spinkube.dev"
tmp=$(mktemp -d)
# helm keeps no state outside this suite's folder
export HELM_CACHE_HOME=$tmp/helm/cache HELM_CONFIG_HOME=$tmp/helm/config HELM_DATA_HOME=$tmp/helm/data
export REGISTRY_DIR=$tmp/registry
ns="" exec_ns="" rel="" foreign=0 adopted=0
fresh=$tmp/fresh-cluster # a second control plane without the CRDs (the first-install case)

cleanup() {
	if [ -n "$rel" ]; then
		helm uninstall "$rel" -n "$ns" --wait --timeout 60s >/dev/null 2>&1 || true
	fi
	[ "$adopted" = 0 ] || restore_crds >/dev/null 2>&1 || true
	[ "$foreign" = 0 ] || kubectl delete -f "$FIX/foreign-crds.yaml" --ignore-not-found --wait=false >/dev/null 2>&1 || true
	for n in "$ns" "$exec_ns"; do
		[ -z "$n" ] || kubectl delete namespace "$n" --ignore-not-found --wait=false >/dev/null 2>&1 || true
	done
	[ ! -f "$REGISTRY_DIR/env" ] || "$REPO/tests/registry/down.sh" >/dev/null 2>&1 || true
	[ ! -d "$fresh" ] || CLUSTER_DIR=$fresh "$REPO/tests/cluster/down.sh" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# cases: name and values file of every golden case.
cases() {
	local f
	for f in "$FIX"/cases/*.yaml; do echo "$(basename "$f" .yaml) $f"; done
	echo "upstream-v0.6.1 $FIX/upstream-v0.6.1-values.yaml"
}

# render <values> <namespace> [helm args...]: helm template of release spin-operator.
render() {
	local values=$1 namespace=$2
	shift 2
	local extra=()
	# node-runtime renders for a cluster that serves the executor kind (executors part of the release)
	case "$values" in */node-runtime.yaml) extra=(--api-versions "$EXEC_API") ;; esac
	helm template spin-operator "$CHART" -n "$namespace" -f "$values" "${extra[@]}" "$@"
}

# without_crds: the rendered stream without its CustomResourceDefinition documents (one line stands for each).
without_crds() {
	awk 'BEGIN { RS = "\n---\n"; ORS = "" }
		/\nkind: CustomResourceDefinition\n|^kind: CustomResourceDefinition\n/ {
			match($0, /\n  name: [^\n]*/); n = substr($0, RSTART + 9, RLENGTH - 9)
			print "---\n# CustomResourceDefinition " n " (crds/, checked separately)\n"; next }
		{ print "---\n" $0 "\n" }' | sed -e '/^$/N;/^\n$/D'
}

as_json() { kubectl create --dry-run=client -o json -f "$1" | jq -cs 'map(if .kind == "List" then .items[] else . end)'; }

# --- lint -----------------------------------------------------------------------------------------------

lint_all() {
	local name file
	helm lint --strict "$CHART" || return 1
	while read -r name file; do
		helm lint --strict "$CHART" -f "$file" >"$tmp/lint.out" 2>&1 ||
			{ echo "case $name:"; cat "$tmp/lint.out"; return 1; }
		! grep -E '^\[(WARNING|ERROR)\]' "$tmp/lint.out" || { echo "case $name"; return 1; }
	done < <(cases)
}
t_check "helm lint --strict: default values and every case, no warnings" lint_all
lint_plain() { helm lint "$CHART" >"$tmp/lint.out" 2>&1 || { cat "$tmp/lint.out"; return 1; }; grep -q "1 chart(s) linted, 0 chart(s) failed" "$tmp/lint.out" && ! grep -E "^\[(WARNING|ERROR)\]" "$tmp/lint.out"; }
t_check "helm lint: clean (no WARNING or ERROR; the one INFO asks for an icon the project does not have)" lint_plain

# --- golden files ---------------------------------------------------------------------------------------

golden() {
	local name=$1 file=$2 out=$tmp/golden-$1.yaml want=$FIX/golden/$1.yaml
	{
		echo "# helm template spin-operator charts/spin-operator -n $GOLDEN_NS -f tests/chart/${file#"$FIX/"}"
		echo "# (tests/integration/chart.sh; regenerate with UPDATE_GOLDEN=1)"
		render "$file" "$GOLDEN_NS" | without_crds
	} >"$out" || return 1
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
		cp "$out" "$want"
		return 0
	fi
	[ -f "$want" ] || { echo "no $want (UPDATE_GOLDEN=1 writes it)"; return 1; }
	diff -u "$want" "$out"
}
while read -r name file; do
	t_check "helm template golden: $name" golden "$name" "$file"
done < <(cases)
stale_golden() {
	local g names
	names=$(cases | awk '{ print $1 }')
	for g in "$FIX"/golden/*.yaml; do
		grep -qx "$(basename "$g" .yaml)" <<<"$names" || { echo "golden file without a case: $g"; return 1; }
	done
}
t_check "every golden file has its case" stale_golden

# The CRDs: crds/*.yaml with the chart's labels, and the keep annotation unless crds.keep=false.
crds_are() { # crds_are <keep:true|false> [helm args...]
	local keep=$1 f name
	shift
	render "$FIX/cases/default.yaml" "$GOLDEN_NS" "$@" >"$tmp/crds.yaml"
	as_json "$tmp/crds.yaml" >"$tmp/crds.json"
	[ "$(jq '[.[] | select(.kind == "CustomResourceDefinition")] | length' "$tmp/crds.json")" = 2 ] || return 1
	for f in "$REPO"/crds/core.spinkube.dev_*.yaml; do
		name=$(kubectl create --dry-run=client -o jsonpath='{.metadata.name}' -f "$f")
		kubectl create --dry-run=client -o json -f "$f" | jq -S '.metadata |= del(.labels)' >"$tmp/want.json"
		jq -S --arg n "$name" --argjson keep "$keep" '.[] | select(.kind == "CustomResourceDefinition" and .metadata.name == $n)
			| if (.metadata.annotations["helm.sh/resource-policy"] == "keep") != $keep
			  then error("helm.sh/resource-policy: keep should be \(if $keep then "set" else "absent" end)") else . end
			| if .metadata.labels["app.kubernetes.io/instance"] != "spin-operator" then error("no release label") else . end
			| .metadata |= (del(.labels) | .annotations |= del(.["helm.sh/resource-policy"]))' \
			"$tmp/crds.json" >"$tmp/got.json" || return 1
		diff -u "$tmp/want.json" "$tmp/got.json" | head -20
		cmp -s "$tmp/want.json" "$tmp/got.json" || return 1
	done
}
t_check "crds.install: the chart's CRDs are crds/*.yaml, with the release labels and helm.sh/resource-policy: keep" crds_are true
t_check "crds.keep=false: the same CRDs without the keep annotation" crds_are false --set crds.keep=false
no_crds() { ! render "$FIX/cases/default.yaml" "$GOLDEN_NS" --set crds.install=false | grep -q 'kind: CustomResourceDefinition'; }
t_check "crds.install=false: no CRDs rendered" no_crds

# --- values.schema.json ---------------------------------------------------------------------------------

# refused <what> <pattern the message must match> <helm args...>
refused() {
	local what=$1 pattern=$2 out
	shift 2
	if out=$(helm template spin-operator "$CHART" "$@" 2>&1); then
		t_fail "schema: $what is refused (helm template succeeded)"
	elif grep -qE "$pattern" <<<"$out"; then
		t_ok "schema: $what is refused, naming it"
	else
		t_fail "schema: $what is refused, naming it (message does not match /$pattern/)"
		echo "$out" | head -5 | sed 's/^/    /'
	fi
}
refused "controllerManager.replicas 0" 'replicas' --set controllerManager.replicas=0
refused "controllerManager.replicas \"two\"" 'replicas' --set-string controllerManager.replicas=two
refused "webhook.certificates.mode bogus" 'mode' --set webhook.certificates.mode=bogus
refused "crds.keep \"yes\" (a string)" 'keep' --set-string crds.keep=yes
refused "controllerManager.manager.args as a string" 'args' --set-string controllerManager.manager.args=--leader-elect
refused "an arg that is not a flag" 'args' --set 'controllerManager.manager.args[0]=leader-elect'
refused "an unknown top-level key (typo replica)" 'replica' --set replica=2
refused "imagePullSecrets as strings" 'imagePullSecrets' --set 'controllerManager.manager.imagePullSecrets[0]=regcred'
refused "imagePullPolicy Sometimes" 'imagePullPolicy' --set controllerManager.manager.imagePullPolicy=Sometimes
refused "a verifyImages rule without keys" 'keys' --set verifyImages.enabled=true --set 'verifyImages.policy.rules[0].name=a' \
	--set 'verifyImages.policy.rules[0].images[0]=x/**'
refused "a verifyImages rule mode audit" 'mode' --set 'verifyImages.policy.rules[0].name=a' \
	--set 'verifyImages.policy.rules[0].images[0]=x' --set 'verifyImages.policy.rules[0].keys[0].name=k' \
	--set 'verifyImages.policy.rules[0].mode=audit'
refused "verifyImages.timeout not below webhook.timeoutSeconds" 'verifyImages.timeout \(10s\) must be below webhook.timeoutSeconds' \
	--set verifyImages.enabled=true --set verifyImages.timeout=10s
accepts_old_upstream() {
	# upstream's chart before v0.5 had a kube-rbac-proxy sidecar: its values file still works (the key is ignored)
	helm template spin-operator "$CHART" --set controllerManager.kubeRbacProxy.image.tag=v0.15.0 >/dev/null
}
t_check "schema: upstream's older controllerManager.kubeRbacProxy values are accepted (and ignored)" accepts_old_upstream

# --- the README documents every value -------------------------------------------------------------------

# Every value of values.yaml (a path to a scalar, a list or an empty map) has a row "| `<path or a parent>` |"
# in the README's tables. The values come from helm itself (a client-side dry run prints the chart's values).
readme_documents_values() {
	local p q missing=""
	helm install readme-check "$CHART" --dry-run=client --set crds.install=false -o json |
		jq -r '.chart.values | [paths(type != "object" or length == 0)] | map(map(tostring) | join(".")) | .[]
			| select(test("\\.[0-9]+(\\.|$)") | not)' >"$tmp/paths" || return 1
	[ "$(wc -l <"$tmp/paths")" -gt 40 ] || { echo "only $(wc -l <"$tmp/paths") values found"; return 1; }
	while read -r p; do
		q=$p
		until grep -qF "| \`$q\` |" "$CHART/README.md"; do
			[[ $q == *.* ]] || { missing+=" $p"; break; }
			q=${q%.*}
		done
	done <"$tmp/paths"
	[ -z "$missing" ] || { echo "not in charts/spin-operator/README.md:$missing"; return 1; }
}
t_check "charts/spin-operator/README.md has a row for every value of values.yaml" readme_documents_values

# --- server-side dry-run ----------------------------------------------------------------------------------

ns=$(t_ns chart) || { t_fail "create a test namespace"; exit 1; }
exec_ns=$(t_ns chart-apps) || { t_fail "create a test namespace"; exit 1; }
t_check "the test namespace enforces the restricted Pod Security Standard" \
	kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted
if kubectl get crd issuers.cert-manager.io certificates.cert-manager.io servicemonitors.monitoring.coreos.com >/dev/null 2>&1; then
	t_ok "cert-manager's and prometheus-operator's CRDs exist already (left alone)"
else
	foreign=1
	t_check "install stand-in CRDs for Issuer, Certificate and ServiceMonitor" kubectl apply -f "$FIX/foreign-crds.yaml"
	t_check "stand-in CRDs established" kubectl wait --for condition=Established --timeout=60s \
		crd/issuers.cert-manager.io crd/certificates.cert-manager.io crd/servicemonitors.monitoring.coreos.com
fi

dry_run() {
	local name=$1 file=$2 out n
	shift 2
	# the executors go to the apps test namespace; everything else to the restricted one
	render "$file" "$ns" --set "shimExecutor.namespaces={$exec_ns}" "$@" >"$tmp/dry-$name.yaml" || return 1
	n=$(grep -c '^kind: ' "$tmp/dry-$name.yaml")
	out=$(kubectl apply --dry-run=server -f "$tmp/dry-$name.yaml" 2>&1) || { echo "$out"; return 1; }
	[ "$(grep -c '(server dry run)$' <<<"$out")" = "$n" ] || { echo "$out"; echo "want $n objects"; return 1; }
	! grep -i 'warning' <<<"$out" | grep -v 'missing the kubectl.kubernetes.io/last-applied-configuration annotation'
}
while read -r name file; do
	t_check "kubectl apply --dry-run=server accepts every object of case $name, no PodSecurity or other warning" \
		dry_run "$name" "$file"
done < <(cases)

# the check above sees Pod Security: a container allowed to escalate privileges draws the warning
t_check_fails "control: a privilege-escalating container draws the restricted namespace's PodSecurity warning" \
	dry_run escalating "$FIX/cases/default.yaml" --set controllerManager.manager.containerSecurityContext.allowPrivilegeEscalation=true

# --- the same objects as config/default ------------------------------------------------------------------

# normalise: objects (kind/name) with what Helm adds taken out: labels, annotations, helm's selector labels,
# KUBERNETES_CLUSTER_DOMAIN, and the webhook name flags whose values are the operator's defaults (kustomize's
# namePrefix gives the same names, so config/default leaves them out); flags compared as a set (their order
# means nothing: each is given once).
normalise() {
	jq -S 'map(select(.kind != "CustomResourceDefinition" and .kind != "Namespace")
		| del(.metadata.labels, .metadata.annotations, .metadata.creationTimestamp)
		| if .kind == "Deployment" then
			.spec.selector.matchLabels |= {"control-plane"}
			| .spec.template.metadata.labels |= {"control-plane"}
			| .spec.template.spec.containers |= map(
				.env |= map(select(.name != "KUBERNETES_CLUSTER_DOMAIN"))
				| .args |= (map(select(IN(.; "--webhook-service-name=spin-operator-webhook-service",
					"--webhook-secret-name=spin-operator-webhook-server-cert",
					"--webhook-mutating-configuration=spin-operator-mutating-webhook-configuration",
					"--webhook-validating-configuration=spin-operator-validating-webhook-configuration") | not))
					| sort)
				| .ports |= sort_by(.name))
		  elif .kind == "Service" then .spec.selector |= {"control-plane"} | .spec.type //= "ClusterIP"
		  else . end)
		| map({key: "\(.kind)/\(.metadata.name)", value: .}) | from_entries'
}
# The one object the chart has and config/default has not: the Secret the chart creates empty for the
# self-managed certificates (so that helm uninstall removes it).
CHART_ONLY='["Secret/spin-operator-webhook-server-cert"]'
same_as_kustomize() { # [helm args...]
	kubectl kustomize "$REPO/config/default" >"$tmp/kustomize.yaml" &&
		render "$FIX/cases/config-default.yaml" spin-operator "$@" >"$tmp/chart-default.yaml" || return 1
	as_json "$tmp/kustomize.yaml" | normalise >"$tmp/k.json"
	as_json "$tmp/chart-default.yaml" | normalise >"$tmp/c.json"
	jq -n --slurpfile k "$tmp/k.json" --slurpfile c "$tmp/c.json" --argjson only "$CHART_ONLY" '
		($k[0] | keys) as $kk | ($c[0] | keys) as $ck
		| {missing_in_chart: ($kk - $ck), unexpected_in_chart: ($ck - $kk - $only),
		   differ: [$kk[] | select($c[0][.] != null and $c[0][.] != $k[0][.])]}' >"$tmp/cmp.json"
	jq -e '.missing_in_chart == [] and .unexpected_in_chart == [] and .differ == []' "$tmp/cmp.json" >/dev/null && return 0
	cat "$tmp/cmp.json"
	local o
	for o in $(jq -r '.differ[]' "$tmp/cmp.json"); do
		echo "--- $o: kustomize / chart"
		diff <(jq --arg o "$o" '.[$o]' "$tmp/k.json") <(jq --arg o "$o" '.[$o]' "$tmp/c.json") | head -30
	done
	return 1
}
t_check "chart (values of config/default) and kubectl kustomize config/default: same Deployment, RBAC, Services and webhook configurations" same_as_kustomize
kustomize_ids_match() {
	# the comparison compares something: the objects both have
	jq -e '[keys[] | select(test("^(Deployment|ClusterRole|ClusterRoleBinding|Role|RoleBinding|Service|ServiceAccount|MutatingWebhookConfiguration|ValidatingWebhookConfiguration)/"))] | length >= 11' "$tmp/k.json" >/dev/null
}
t_check "the comparison covers config/default's 11 Deployment, RBAC, Service and webhook objects" kustomize_ids_match
t_check_fails "control: the comparison sees a different webhook timeout" same_as_kustomize --set webhook.timeoutSeconds=11
t_check_fails "control: the comparison sees another arg" same_as_kustomize --set 'controllerManager.manager.extraArgs={--log-level=debug}'
t_check_fails "control: the comparison sees objects missing from the chart" same_as_kustomize \
	--show-only templates/rbac-manager.yaml

# --- package, push, install from the OCI registry, upgrade, uninstall -----------------------------------

t_check "start a local TLS OCI registry" "$REPO/tests/registry/up.sh"
[ -f "$REGISTRY_DIR/env" ] || exit 0 # (counted as a failure above)
# shellcheck source=/dev/null
. "$REGISTRY_DIR/env"
chart_version=$(awk '/^version:/ { print $2 }' "$CHART/Chart.yaml")
t_check "helm package" helm package "$CHART" -d "$tmp/pkg"
pkg=$tmp/pkg/spin-operator-$chart_version.tgz
t_check "helm push to oci://$REGISTRY_HOST/charts" helm push "$pkg" "oci://$REGISTRY_HOST/charts" --ca-file "$REGISTRY_CA"
pulled() { helm show chart "oci://$REGISTRY_HOST/charts/spin-operator" --version "$chart_version" --ca-file "$REGISTRY_CA" | grep -q "^version: $chart_version"; }
t_check "helm show chart oci://$REGISTRY_HOST/charts/spin-operator --version $chart_version" pulled

rel=chart-$RANDOM
full=$rel-spin-operator
rc_name=$rel-wasm
OCI=(oci://"$REGISTRY_HOST"/charts/spin-operator --version "$chart_version" --ca-file "$REGISTRY_CA")

# The CRDs of the suite were applied with kubectl: label and annotate them for the release to adopt them.
adopt_crds() {
	kubectl label crd $CRD_NAMES app.kubernetes.io/managed-by=Helm --overwrite &&
		kubectl annotate crd $CRD_NAMES meta.helm.sh/release-name="$rel" meta.helm.sh/release-namespace="$ns" --overwrite
}
restore_crds() {
	# the chart's labels, annotations and keep policy off, and crds/ applied again: as tests/run.sh left them
	local l
	for l in helm.sh/chart app.kubernetes.io/name app.kubernetes.io/instance app.kubernetes.io/version \
		app.kubernetes.io/managed-by app.kubernetes.io/part-of; do
		kubectl label crd $CRD_NAMES "$l-" >/dev/null 2>&1 || true
	done
	kubectl annotate crd $CRD_NAMES meta.helm.sh/release-name- meta.helm.sh/release-namespace- helm.sh/resource-policy- >/dev/null 2>&1 || true
	kubectl apply -f "$REPO/crds/core.spinkube.dev_spinapps.yaml" -f "$REPO/crds/core.spinkube.dev_spinappexecutors.yaml"
}
adopted=1
t_check "adopt the suite's CRDs into release $rel (label and annotate them)" adopt_crds

install() {
	helm install "$rel" "${OCI[@]}" -n "$ns" --wait --timeout 120s \
		--set runtimeClass.create=true --set runtimeClass.name="$rc_name" \
		--set shimExecutor.create=true --set "shimExecutor.namespaces={$exec_ns}"
}
t_check "helm install $rel oci://$REGISTRY_HOST/charts/spin-operator --wait (CRDs, RuntimeClass, shim executor)" install

installed() {
	kubectl -n "$ns" get deployment "$full-controller-manager" -o json | jq -e '.status.readyReplicas == 1
		and (.spec.template.spec.containers[0].args | index("--webhook-cert-mode=self-managed") != null)' >/dev/null &&
		kubectl get mutatingwebhookconfiguration "$full-mutating-webhook-configuration" >/dev/null &&
		kubectl get validatingwebhookconfiguration "$full-validating-webhook-configuration" >/dev/null &&
		kubectl -n "$ns" get secret/"$full-webhook-server-cert" role/"$full-leader-election-role" \
			service/"$full-webhook-service" service/"$full-metrics-service" >/dev/null &&
		kubectl get runtimeclass "$rc_name" -o jsonpath='{.handler}' | grep -qx spin &&
		kubectl -n "$exec_ns" get spinappexecutor containerd-shim-spin -o json |
		jq -e --arg rc "$rc_name" '.spec.deploymentConfig.runtimeClassName == $rc
			and .metadata.labels["app.kubernetes.io/instance"] != null' >/dev/null &&
		kubectl get crd $CRD_NAMES -o json | jq -e '[.items[] | .metadata.annotations["helm.sh/resource-policy"] == "keep"] | all' >/dev/null
}
t_check "installed: Deployment Ready (pods admitted under restricted PSS), webhooks, Secret, RBAC, Services, RuntimeClass, executor, kept CRDs" installed

# The operator fills the chart's empty certificate Secret (here: a stand-in for its write); upgrades must keep it.
fill_secret() {
	kubectl -n "$ns" patch secret "$full-webhook-server-cert" --type merge \
		-p '{"data": {"ca.crt": "Y2E=", "tls.crt": "Y3J0", "tls.key": "a2V5"}}' >/dev/null
}
t_check "write certificate data into the chart's Secret as the operator does" fill_secret
secret_kept() {
	kubectl -n "$ns" get secret "$full-webhook-server-cert" -o json |
		jq -e '.data == {"ca.crt": "Y2E=", "tls.crt": "Y3J0", "tls.key": "a2V5"}' >/dev/null
}

# policy_values <images glob>: a values file with verifyImages on and one rule for those images.
policy_values() {
	cat >"$tmp/policy.yaml" <<-EOF
		verifyImages:
		  enabled: true
		  policy:
		    rules:
		    - name: acme
		      images: ["$1"]
		      keys: [{name: release, publicKeyFile: /etc/keys/release.pub}]
	EOF
	echo "$tmp/policy.yaml"
}
upgrade() {
	helm upgrade "$rel" "${OCI[@]}" -n "$ns" --reuse-values --wait --timeout 120s \
		--set controllerManager.replicas=2 -f "$(policy_values 'registry.example/**')"
}
t_check "helm upgrade: replicas 2 and verifyImages" upgrade
upgraded() {
	kubectl -n "$ns" get deployment "$full-controller-manager" -o json | jq -e '.status.readyReplicas == 2
		and (.spec.template.spec.containers[0].args | index("--verify-policy=/etc/spin-operator/verify/policy.yaml") != null)
		and (.spec.template.spec.volumes | map(.name) | index("verify-policy") != null)' >/dev/null &&
		kubectl -n "$ns" get poddisruptionbudget "$full-controller-manager" -o jsonpath='{.spec.minAvailable}' | grep -qx 1 &&
		kubectl -n "$ns" get configmap "$full-verify-policy" -o jsonpath='{.data.policy\.yaml}' | grep -q 'registry.example/\*\*'
}
t_check "upgraded: 2 Ready replicas, a PodDisruptionBudget (minAvailable 1), the policy ConfigMap mounted for --verify-policy" upgraded
t_check "helm upgrade left the certificate Secret's data alone (the chart renders none)" secret_kept

policy_only() {
	local gen0 gen1
	gen0=$(kubectl -n "$ns" get deployment "$full-controller-manager" -o jsonpath='{.metadata.generation}')
	helm upgrade "$rel" "${OCI[@]}" -n "$ns" --reuse-values --wait --timeout 60s \
		-f "$(policy_values 'other.example/**')" >/dev/null || return 1
	gen1=$(kubectl -n "$ns" get deployment "$full-controller-manager" -o jsonpath='{.metadata.generation}')
	[ "$gen0" = "$gen1" ] || { echo "Deployment generation $gen0 -> $gen1"; return 1; }
	kubectl -n "$ns" get configmap "$full-verify-policy" -o jsonpath='{.data.policy\.yaml}' | grep -q 'other.example/\*\*'
}
t_check "helm upgrade of the policy alone changes the ConfigMap and rolls no pod (the operator reloads the file)" policy_only

# leftovers <release>: every object of every listable kind with the release's instance label
leftovers() {
	local kinds
	kinds=$(kubectl api-resources --verbs=list -o name | grep -vx 'events\|events.events.k8s.io' | paste -sd, -)
	kubectl get "$kinds" -A -l app.kubernetes.io/instance="$1" -o name 2>/dev/null | sort
}
lists_release() {
	# the listing used below sees the release's objects of every scope while it is installed
	local got o
	got=$(leftovers "$rel")
	for o in "deployment.apps/$full-controller-manager" "secret/$full-webhook-server-cert" \
		"clusterrole.rbac.authorization.k8s.io/$full-manager-role" "runtimeclass.node.k8s.io/$rc_name" \
		"spinappexecutor.core.spinkube.dev/containerd-shim-spin" "configmap/$full-verify-policy" \
		"poddisruptionbudget.policy/$full-controller-manager"; do
		grep -qx "$o" <<<"$got" || { echo "$o not listed in: $got"; return 1; }
	done
}
t_check "listing every kind by the release's label finds its objects (Deployment, Secret, ClusterRole, RuntimeClass, executor, ...)" lists_release

t_check "helm uninstall --wait" helm uninstall "$rel" -n "$ns" --wait --timeout 120s
uninstalled_rel=$rel
rel=""
only_crds_left() {
	local got want
	got=$(leftovers "$uninstalled_rel")
	want=$(printf 'customresourcedefinition.apiextensions.k8s.io/%s\n' $CRD_NAMES | sort)
	[ "$got" = "$want" ] || { echo "left: $got"; return 1; }
}
t_check "helm uninstall leaves no object with the release's label but the two kept CRDs" retry 60 only_crds_left
t_check "the CRDs are still Established" kubectl wait --for condition=Established --timeout=10s \
	crd/spinapps.core.spinkube.dev crd/spinappexecutors.core.spinkube.dev
t_check "put the suite's CRDs back as they were" restore_crds
adopted=0
crds_plain() {
	kubectl get crd $CRD_NAMES -o json | jq -e '[.items[] | (.metadata.labels // {} | has("app.kubernetes.io/instance") | not)
		and (.metadata.annotations // {} | has("helm.sh/resource-policy") | not)] | all' >/dev/null
}
t_check "the CRDs carry no release label or keep policy any more" crds_plain

# --- a first install on a cluster without the CRDs ---------------------------------------------------------

# Helm maps every object to an API before creating any, so on a cluster that does not serve SpinAppExecutor
# yet the chart makes the executors a post-install hook (with the release's ownership metadata); the next
# upgrade makes them release objects, which uninstall removes. That needs a cluster without the CRDs: a second
# control plane, started for these checks only.
t_check "start a second control plane, without the CRDs" env CLUSTER_DIR="$fresh" "$REPO/tests/cluster/up.sh"
fk() { kubectl --kubeconfig "$fresh/kubeconfig" "$@"; }
fh() { helm --kubeconfig "$fresh/kubeconfig" "$@"; }
# release_executors: the SpinAppExecutor objects of the release manifest (not the hooks)
release_executors() { fh get manifest first -n default | grep -c '^kind: SpinAppExecutor$' || true; }
first_install() {
	fh install first "$pkg" -n default --set runtimeClass.create=true --set shimExecutor.create=true >/dev/null &&
		fk get spinappexecutor containerd-shim-spin -n default -o json | jq -e '.metadata.annotations["helm.sh/hook"] == "post-install"
			and .metadata.annotations["meta.helm.sh/release-name"] == "first"
			and .metadata.labels["app.kubernetes.io/managed-by"] == "Helm"' >/dev/null &&
		[ "$(release_executors)" = 0 ] && fh get hooks first -n default | grep -q '^kind: SpinAppExecutor$'
}
t_check "first install with the CRDs: the executor is created by the post-install hook, with the release's ownership metadata" first_install
adopted_by_upgrade() {
	local uid0 uid1
	uid0=$(fk get spinappexecutor containerd-shim-spin -n default -o jsonpath='{.metadata.uid}')
	fh upgrade first "$pkg" -n default --reuse-values >/dev/null && [ "$(release_executors)" = 1 ] || return 1
	uid1=$(fk get spinappexecutor containerd-shim-spin -n default -o jsonpath='{.metadata.uid}')
	[ -n "$uid0" ] && [ "$uid0" = "$uid1" ] || { echo "uid $uid0 -> $uid1"; return 1; }
}
t_check "the next helm upgrade makes the executor a release object (adopted, not re-created)" adopted_by_upgrade
fresh_uninstalled() {
	fh uninstall first -n default --wait --timeout 60s >/dev/null &&
		! fk get spinappexecutor containerd-shim-spin -n default >/dev/null 2>&1 &&
		fk get crd spinappexecutors.core.spinkube.dev spinapps.core.spinkube.dev >/dev/null
}
t_check "helm uninstall then removes the executor and keeps the CRDs" fresh_uninstalled
t_check "stop the second control plane" env CLUSTER_DIR="$fresh" "$REPO/tests/cluster/down.sh"
exit 0
