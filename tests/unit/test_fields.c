/* Pruning an object to the fields one manager applied (operator/kube/fields.h): server defaults and other managers'
 * fields go, ours stay, so the apply-skip comparison (operator/runtime/applier.h) still holds for what we apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/runtime/applier.h"
#include "operator/kube/fields.h"
#include "operator/base/err.h"

/* A Deployment as the server returns it (kube-apiserver v1.36, our apply plus server defaults, a sidecar and an
 * annotation from another manager), and what spin-operator render makes of the same app. */
static const char live_deployment[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"annotations\":{\"deployment.kuberne"
	"tes.io/revision\":\"1\",\"other.example/x\":\"y\",\"spin.example/ours\":\"1\"},\"generation\":1,\"labels"
	"\":{\"core.spinkube.dev/app-name\":\"app-0001\"},\"managedFields\":[{\"apiVersion\":\"apps/v1\",\"fiel"
	"dsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\"f:core.spinkube.dev/app-name\":{}"
	"},\"f:ownerReferences\":{\"k:{\\\"uid\\\":\\\"owner-1\\\"}\":{}},\"f:annotations\":{\"f:spin.example/ours"
	"\":{}}},\"f:spec\":{\"f:replicas\":{},\"f:selector\":{},\"f:template\":{\"f:metadata\":{\"f:labels\":{\""
	"f:core.spinkube.dev/app-name\":{},\"f:core.spinkube.dev/app.app-0001.status\":{}}},\"f:spec\":{"
	"\"f:containers\":{\"k:{\\\"name\\\":\\\"app-0001\\\"}\":{\".\":{},\"f:command\":{},\"f:env\":{\"k:{\\\"name\\\":\\"
	"\"SPIN_HTTP_LISTEN_ADDR\\\"}\":{\".\":{},\"f:name\":{},\"f:value\":{}}},\"f:image\":{},\"f:name\":{},\"f:"
	"ports\":{\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},\"f:containerPort\":{},\"f:na"
	"me\":{}}},\"f:resources\":{},\"f:volumeMounts\":{\"k:{\\\"mountPath\\\":\\\"/etc/ssl/certs/ca-certific"
	"ates.crt\\\"}\":{\".\":{},\"f:mountPath\":{},\"f:name\":{},\"f:readOnly\":{},\"f:subPath\":{}},\"k:{\\\"mo"
	"untPath\\\":\\\"/runtime-config.toml\\\"}\":{\".\":{},\"f:mountPath\":{},\"f:name\":{},\"f:readOnly\":{},"
	"\"f:subPath\":{}}}}},\"f:runtimeClassName\":{},\"f:serviceAccountName\":{},\"f:volumes\":{\"k:{\\\"na"
	"me\\\":\\\"spin-ca\\\"}\":{\".\":{},\"f:name\":{},\"f:secret\":{\"f:items\":{},\"f:optional\":{},\"f:secretN"
	"ame\":{}}},\"k:{\\\"name\\\":\\\"spin-runtime-config\\\"}\":{\".\":{},\"f:name\":{},\"f:secret\":{\"f:items\""
	":{},\"f:optional\":{},\"f:secretName\":{}}}}}}}},\"manager\":\"spin-operator\",\"operation\":\"Apply\""
	"}],\"name\":\"app-0001\",\"namespace\":\"default\",\"ownerReferences\":[{\"apiVersion\":\"core.spinkube"
	".dev/v1alpha1\",\"blockOwnerDeletion\":true,\"controller\":true,\"kind\":\"SpinApp\",\"name\":\"app-00"
	"01\",\"uid\":\"owner-1\"}],\"resourceVersion\":\"56712\",\"uid\":\"u-1\"},\"spec\":{\"progressDeadlineSeco"
	"nds\":600,\"replicas\":1,\"revisionHistoryLimit\":10,\"selector\":{\"matchLabels\":{\"core.spinkube."
	"dev/app-name\":\"app-0001\",\"core.spinkube.dev/app.app-0001.status\":\"ready\"}},\"strategy\":{\"ro"
	"llingUpdate\":{\"maxSurge\":\"25%\",\"maxUnavailable\":\"25%\"},\"type\":\"RollingUpdate\"},\"template\":"
	"{\"metadata\":{\"labels\":{\"core.spinkube.dev/app-name\":\"app-0001\",\"core.spinkube.dev/app.app-"
	"0001.status\":\"ready\"}},\"spec\":{\"containers\":[{\"command\":[\"/\"],\"env\":[{\"name\":\"SPIN_HTTP_LI"
	"STEN_ADDR\",\"value\":\"0.0.0.0:80\"}],\"image\":\"ghcr.io/spinframework/containerd-shim-spin/exam"
	"ples/spin-rust-hello:v0.23.0\",\"imagePullPolicy\":\"IfNotPresent\",\"name\":\"app-0001\",\"ports\":["
	"{\"containerPort\":80,\"name\":\"http-app\",\"protocol\":\"TCP\"}],\"resources\":{},\"terminationMessag"
	"ePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\",\"volumeMounts\":[{\"mountPat"
	"h\":\"/runtime-config.toml\",\"name\":\"spin-runtime-config\",\"readOnly\":true,\"subPath\":\"runtime-"
	"config.toml\"},{\"mountPath\":\"/etc/ssl/certs/ca-certificates.crt\",\"name\":\"spin-ca\",\"readOnly"
	"\":true,\"subPath\":\"ca-certificates.crt\"}]},{\"name\":\"sidecar\",\"image\":\"busybox\"}],\"dnsPolicy"
	"\":\"ClusterFirst\",\"restartPolicy\":\"Always\",\"runtimeClassName\":\"wasmtime-spin-v2\",\"scheduler"
	"Name\":\"default-scheduler\",\"securityContext\":{},\"serviceAccount\":\"default\",\"serviceAccountN"
	"ame\":\"default\",\"terminationGracePeriodSeconds\":30,\"volumes\":[{\"name\":\"spin-runtime-config\""
	",\"secret\":{\"defaultMode\":420,\"items\":[{\"key\":\"runtime-config.toml\",\"path\":\"runtime-config."
	"toml\"}],\"optional\":true,\"secretName\":\"app-0001-760b133c\"}},{\"name\":\"spin-ca\",\"secret\":{\"de"
	"faultMode\":420,\"items\":[{\"key\":\"ca-certificates.crt\",\"path\":\"ca-certificates.crt\"}],\"optio"
	"nal\":true,\"secretName\":\"spin-ca\"}}]}}},\"status\":{\"availableReplicas\":1,\"conditions\":[{\"las"
	"tTransitionTime\":\"2026-11-23T06:44:38Z\",\"lastUpdateTime\":\"2026-11-23T06:44:38Z\",\"message\":"
	"\"Deployment has minimum availability.\",\"reason\":\"MinimumReplicasAvailable\",\"status\":\"True\""
	",\"type\":\"Available\"},{\"lastTransitionTime\":\"2026-11-23T06:42:18Z\",\"lastUpdateTime\":\"2026-1"
	"1-23T06:44:38Z\",\"message\":\"ReplicaSet \\\"app-0001-674c94768c\\\" has successfully progressed."
	"\",\"reason\":\"NewReplicaSetAvailable\",\"status\":\"True\",\"type\":\"Progressing\"}],\"observedGenera"
	"tion\":1,\"readyReplicas\":1,\"replicas\":1,\"terminatingReplicas\":0,\"updatedReplicas\":1}}";

static const char desired_deployment[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"app-0001\",\"namespace\":\"def"
	"ault\",\"labels\":{\"core.spinkube.dev/app-name\":\"app-0001\"}},\"spec\":{\"replicas\":1,\"selector\":"
	"{\"matchLabels\":{\"core.spinkube.dev/app-name\":\"app-0001\",\"core.spinkube.dev/app.app-0001.st"
	"atus\":\"ready\"}},\"template\":{\"metadata\":{\"labels\":{\"core.spinkube.dev/app-name\":\"app-0001\","
	"\"core.spinkube.dev/app.app-0001.status\":\"ready\"}},\"spec\":{\"volumes\":[{\"name\":\"spin-runtime"
	"-config\",\"secret\":{\"secretName\":\"app-0001-760b133c\",\"items\":[{\"key\":\"runtime-config.toml\","
	"\"path\":\"runtime-config.toml\"}],\"optional\":true}},{\"name\":\"spin-ca\",\"secret\":{\"secretName\":"
	"\"spin-ca\",\"items\":[{\"key\":\"ca-certificates.crt\",\"path\":\"ca-certificates.crt\"}],\"optional\":"
	"true}}],\"containers\":[{\"name\":\"app-0001\",\"image\":\"ghcr.io/spinframework/containerd-shim-sp"
	"in/examples/spin-rust-hello:v0.23.0\",\"command\":[\"/\"],\"ports\":[{\"name\":\"http-app\",\"containe"
	"rPort\":80}],\"env\":[{\"name\":\"SPIN_HTTP_LISTEN_ADDR\",\"value\":\"0.0.0.0:80\"}],\"resources\":{},\""
	"volumeMounts\":[{\"name\":\"spin-runtime-config\",\"readOnly\":true,\"mountPath\":\"/runtime-config."
	"toml\",\"subPath\":\"runtime-config.toml\"},{\"name\":\"spin-ca\",\"readOnly\":true,\"mountPath\":\"/etc"
	"/ssl/certs/ca-certificates.crt\",\"subPath\":\"ca-certificates.crt\"}]}],\"serviceAccountName\":\""
	"default\",\"runtimeClassName\":\"wasmtime-spin-v2\"}}}}";

static json_t *load(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);
	assert_non_null(v);
	return v;
}

/* The member at a dotted path ("spec.template.spec.containers.0.name"; numbers index arrays). */
static json_t *at(json_t *v, const char *path)
{
	while (v && *path) {
		const char *dot = strchr(path, '.');
		int n = dot ? (int)(dot - path) : (int)strlen(path);
		char seg[128];
		snprintf(seg, sizeof seg, "%.*s", n, path);
		v = json_is_array(v) ? json_array_get(v, strtoul(seg, NULL, 10)) : json_object_get(v, seg);
		path += n + (dot ? 1 : 0);
	}
	return v;
}

static void deployment_keeps_ours_drops_the_rest(void **state)
{
	(void)state;
	json_t *d = load(live_deployment);
	assert_int_equal(kube_prune_to_applied(d, "spin-operator"), 1);

	/* Server defaults are gone... */
	assert_null(at(d, "spec.strategy"));
	assert_null(at(d, "spec.revisionHistoryLimit"));
	assert_null(at(d, "spec.template.spec.dnsPolicy"));
	assert_null(at(d, "spec.template.spec.securityContext"));
	assert_null(at(d, "spec.template.spec.containers.0.imagePullPolicy"));
	assert_null(at(d, "spec.template.spec.containers.0.ports.0.protocol"));
	assert_null(at(d, "spec.template.spec.volumes.0.secret.defaultMode"));
	/* ...and so are another manager's container and annotations. */
	assert_int_equal(json_array_size(at(d, "spec.template.spec.containers")), 1);
	assert_null(json_object_get(at(d, "metadata.annotations"), "other.example/x"));
	assert_null(json_object_get(at(d, "metadata.annotations"), "deployment.kubernetes.io/revision"));
	assert_string_equal(json_string_value(json_object_get(at(d, "metadata.annotations"), "spin.example/ours")), "1");
	/* Ours stay, atomic values whole. */
	assert_string_equal(json_string_value(at(d, "spec.template.spec.containers.0.name")), "app-0001");
	assert_string_equal(json_string_value(at(d, "spec.template.spec.runtimeClassName")), "wasmtime-spin-v2");
	assert_int_equal(json_array_size(at(d, "spec.template.spec.volumes.0.secret.items")), 1);
	assert_int_equal(json_array_size(at(d, "spec.template.spec.containers.0.volumeMounts")), 2);
	/* Identity, bookkeeping and status are the caller's business: untouched. */
	assert_string_equal(json_string_value(at(d, "metadata.uid")), "u-1");
	assert_non_null(at(d, "metadata.resourceVersion"));
	assert_non_null(at(d, "metadata.ownerReferences"));
	assert_non_null(at(d, "status.conditions"));
	assert_string_equal(json_string_value(at(d, "kind")), "Deployment");
	json_decref(d);
}

/* The point of it all: what we would apply is still contained in the pruned object, so no write is made. */
static void desired_still_contained_after_pruning(void **state)
{
	(void)state;
	json_t *d = load(live_deployment), *want = load(desired_deployment);
	assert_int_equal(kube_prune_to_applied(d, "spin-operator"), 1);
	assert_true(applier_json_subset(want, d));
	/* A change to a field of ours is still seen. */
	json_object_set_new(at(want, "spec.template.spec.containers.0"), "image", json_string("other:1"));
	assert_false(applier_json_subset(want, d));
	json_decref(d);
	json_decref(want);
}

static void without_our_apply_entry_nothing_changes(void **state)
{
	(void)state;
	json_t *d = load(live_deployment);
	json_t *before = json_deep_copy(d);
	assert_int_equal(kube_prune_to_applied(d, "someone-else"), 0);
	assert_true(json_equal(d, before));
	/* An Update entry of ours does not count: only what we applied is "ours". */
	json_object_set_new(json_array_get(at(d, "metadata.managedFields"), 0), "operation", json_string("Update"));
	assert_int_equal(kube_prune_to_applied(d, "spin-operator"), 0);
	json_decref(d);
	json_decref(before);
}

static void index_and_value_elements(void **state)
{
	(void)state;
	json_t *v = load("{\"a\":[\"x\",\"y\",\"z\"],\"b\":[{\"n\":1,\"m\":2},{\"n\":3}],\"c\":[1.0,{\"q\":1}]}");
	json_t *f = load("{\"f:a\":{\"v:\\\"y\\\"\":{}},\"f:b\":{\"i:1\":{\"f:n\":{}}},"
			 "\"f:c\":{\"k:{\\\"q\\\":1}\":{\".\":{}},\"unknown:x\":{}}}");
	assert_int_equal(kube_prune_fields(v, f), SO_OK);
	json_t *want = load("{\"a\":[\"y\"],\"b\":[{\"n\":3}],\"c\":[{\"q\":1}]}");
	assert_true(json_equal(v, want));
	json_t *not_a_set = json_integer(1);
	assert_int_equal(kube_prune_fields(v, not_a_set), SO_E_INVAL);
	json_decref(not_a_set);
	json_decref(v);
	json_decref(f);
	json_decref(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deployment_keeps_ours_drops_the_rest),
		cmocka_unit_test(desired_still_contained_after_pruning),
		cmocka_unit_test(without_our_apply_entry_nothing_changes),
		cmocka_unit_test(index_and_value_elements),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
