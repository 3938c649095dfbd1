/*
 * The smaller builders: spin_service (contract §2.13, upstream service_test.go), spin_hpa (our autoscaler),
 * spin_ca_secret (§2.8) and the shared names and owner references of meta.c. JSON literals use ' for " (J()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testjson.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/spin/spin.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"

#define UID "0f3c3d0e-8a55-4d55-b4bb-6c2b1f0b8e42"
#define OWNER(name)                                                                                          \
	"[{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'name': '" name "', 'uid': '" UID \
	"', 'controller': true, 'blockOwnerDeletion': true}]"
#define APP_HEAD(name)                                                                                        \
	"'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'metadata': {'name': '" name             \
	"', 'namespace': 'default', 'uid': '" UID "'}"

/* ---- helpers ---- */

typedef int (*builder)(const json_t *app, json_t **out, char *err, size_t errlen);

static json_t *build_ok(builder fn, const char *app_text)
{
	json_t *app = J(app_text), *out = NULL;
	char err[512] = "";
	int rc = fn(app, &out, err, sizeof err);
	json_decref(app);
	if (rc != SO_OK)
		fail_msg("builder failed: %d %s", rc, err);
	return out;
}

static void build_fails(builder fn, const char *app_text, int code, const char *message)
{
	json_t *app = J(app_text), *out = (json_t *)&out;
	char err[512] = "";
	int rc = fn(app, &out, err, sizeof err);
	json_decref(app);
	assert_int_equal(rc, code);
	assert_null(out);
	assert_string_equal(err, message);
}

/* ---- Service ---- */

/* service_test.go: kind/apiVersion, labels, selector, one port 80 → "http-app"; as a whole object. */
static void service_for_app(void **state)
{
	(void)state;
	json_t *svc = build_ok(spin_service, "{" APP_HEAD("my-app") ", 'spec': {'image': 'i', 'replicas': 1}}");
	assert_non_null(svc);
	check_json(svc, "{'apiVersion': 'v1', 'kind': 'Service',"
			" 'metadata': {'name': 'my-app', 'namespace': 'default',"
			"   'labels': {'core.spinkube.dev/app-name': 'my-app'}, 'ownerReferences': " OWNER("my-app") "},"
			" 'spec': {'type': 'ClusterIP',"
			"   'ports': [{'protocol': 'TCP', 'port': 80, 'targetPort': 'http-app'}],"
			"   'selector': {'core.spinkube.dev/app.my-app.status': 'ready'}}}");
	/* targetPort is the port name (IntOrString StrVal), and the port itself has no name. */
	json_t *port = json_array_get(json_object_get(json_object_get(svc, "spec"), "ports"), 0);
	assert_true(json_is_string(json_object_get(port, "targetPort")));
	assert_null(json_object_get(port, "name"));
	json_decref(svc);
}

/* config/samples/annotations.yaml: only serviceAnnotations reach the Service. */
static void service_annotations(void **state)
{
	(void)state;
	json_t *svc = build_ok(spin_service, "{" APP_HEAD("annotations-spinapp") ", 'spec': {'image': 'i',"
					      " 'serviceAnnotations': {'key': 'value'},"
					      " 'deploymentAnnotations': {'key': 'value', 'multiple-keys': 'are-supported'},"
					      " 'podAnnotations': {'key': 'value'}, 'podLabels': {'l': 'v'}}}");
	check_json(json_object_get(svc, "metadata"),
		   "{'name': 'annotations-spinapp', 'namespace': 'default',"
		   " 'labels': {'core.spinkube.dev/app-name': 'annotations-spinapp'},"
		   " 'annotations': {'key': 'value'}, 'ownerReferences': " OWNER("annotations-spinapp") "}");
	json_decref(svc);
	svc = build_ok(spin_service, "{" APP_HEAD("a") ", 'spec': {'image': 'i', 'serviceAnnotations': {}}}");
	assert_null(json_object_get(json_object_get(svc, "metadata"), "annotations"));
	json_decref(svc);
}

static void service_errors(void **state)
{
	(void)state;
	build_fails(spin_service,
		    "{'metadata': {'name': 'a2345678901234567890123456789012345678901234567890123', 'uid': 'u'}, 'spec': {}}",
		    SO_E_INVAL,
		    "SpinApp name \"a2345678901234567890123456789012345678901234567890123\" is too long: the ready label "
		    "key \"core.spinkube.dev/app.a2345678901234567890123456789012345678901234567890123.status\" would "
		    "exceed the 63-character limit of a label name (names up to 52 characters fit)");
	build_fails(spin_service, "{'metadata': {}, 'spec': {}}", SO_E_INVAL, "SpinApp has no metadata.name");
	build_fails(spin_service, "{" APP_HEAD("a") ", 'spec': {'serviceAnnotations': ['x']}}", SO_E_INVAL,
		    "spec.serviceAnnotations: must be a map of strings");
	/* An empty apiVersion or kind cannot name the owner (spin_child_meta): SO_E_INVAL saying so. */
	build_fails(spin_service, "{'apiVersion': '', 'kind': 'SpinApp', 'metadata': {'name': 'a', 'uid': 'u'}, 'spec': {}}",
		    SO_E_INVAL, "SpinApp \"a\": apiVersion and kind must not be empty: they name the owner of its objects");
	build_fails(spin_service, "{'kind': '', 'metadata': {'name': 'a', 'uid': 'u'}, 'spec': {}}", SO_E_INVAL,
		    "SpinApp \"a\": apiVersion and kind must not be empty: they name the owner of its objects");
}

/* ---- meta.c ---- */

/* status.selector: the Deployment's matchLabels as labels.SelectorFromSet(...).String() prints them. */
static void pod_selector(void **state)
{
	(void)state;
	struct buf b = BUF_INIT(256);
	char err[512] = "";

	assert_int_equal(spin_pod_selector("simple-spinapp", &b, err, sizeof err), SO_OK);
	assert_string_equal(b.data, "core.spinkube.dev/app-name=simple-spinapp,"
				    "core.spinkube.dev/app.simple-spinapp.status=ready");
	buf_reset(&b);
	/* the ready label key's rule: a name too long for it has no selector (and no Deployment) */
	assert_int_equal(spin_pod_selector("a2345678901234567890123456789012345678901234567890123", &b, err, sizeof err),
			 SO_E_INVAL);
	assert_non_null(strstr(err, "is too long"));
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void ready_label_key(void **state)
{
	(void)state;
	struct buf b = BUF_INIT(256);
	char err[512] = "";

	assert_int_equal(spin_ready_label_key("foo", &b, err, sizeof err), SO_OK);
	assert_string_equal(b.data, "core.spinkube.dev/app.foo.status");
	buf_reset(&b);
	assert_int_equal(spin_ready_label_key("My_App.v2", &b, err, sizeof err), SO_OK);
	assert_string_equal(b.data, "core.spinkube.dev/app.My_App.v2.status");
	buf_reset(&b);
	/* 52 characters fit exactly (4 + 52 + 7 = 63), 53 do not. */
	assert_int_equal(spin_ready_label_key("a234567890123456789012345678901234567890123456789012", &b, err, sizeof err),
			 SO_OK);
	assert_int_equal(b.len - strlen("core.spinkube.dev/"), 63);
	buf_reset(&b);
	assert_int_equal(spin_ready_label_key("a2345678901234567890123456789012345678901234567890123", &b, err, sizeof err),
			 SO_E_INVAL);
	assert_non_null(strstr(err, "is too long"));
	assert_non_null(strstr(err, "names up to 52 characters fit"));
	assert_int_equal(b.len, 0);
	assert_int_equal(spin_ready_label_key("", &b, err, sizeof err), SO_E_INVAL);
	assert_int_equal(spin_ready_label_key(NULL, &b, err, sizeof err), SO_E_INVAL);
	assert_int_equal(spin_ready_label_key("a b", &b, err, sizeof err), SO_E_INVAL);
	assert_string_equal(err, "SpinApp name \"a b\" cannot be used in the ready label key: \"app.a b.status\" is not a "
				 "valid label name");
	/* err may be NULL. */
	assert_int_equal(spin_ready_label_key("a b", &b, NULL, 0), SO_E_INVAL);
	buf_free(&b);
}

static void owner_refs(void **state)
{
	(void)state;
	json_t *app = J("{" APP_HEAD("app") ", 'spec': {}}");
	json_t *ref = spin_owner_ref(app, 1);
	check_json(ref, "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'name': 'app', 'uid': '" UID
			"', 'controller': true, 'blockOwnerDeletion': true}");
	json_decref(ref);
	ref = spin_owner_ref(app, 0);
	check_json(ref, "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'name': 'app', 'uid': '" UID
			"'}");
	json_decref(ref);
	json_decref(app);

	static const char *const incomplete[] = {
		"{'apiVersion': 'v1', 'kind': 'K', 'metadata': {'name': 'n'}}",
		"{'apiVersion': 'v1', 'kind': 'K', 'metadata': {'uid': 'u'}}",
		"{'kind': 'K', 'metadata': {'name': 'n', 'uid': 'u'}}",
		"{'apiVersion': 'v1', 'metadata': {'name': 'n', 'uid': 'u'}}",
		"{'apiVersion': 'v1', 'kind': 'K', 'metadata': {'name': 'n', 'uid': ''}}",
		"[]",
	};
	for (size_t i = 0; i < sizeof incomplete / sizeof incomplete[0]; i++) {
		app = J(incomplete[i]);
		assert_null(spin_owner_ref(app, 1));
		json_decref(app);
	}
	assert_null(spin_owner_ref(NULL, 1));
}

/* ---- CA secret ---- */

static void ca_secret(void **state)
{
	(void)state;
	static const char bundle[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	json_t *s = spin_ca_secret("default", "spin-ca", bundle, strlen(bundle));
	check_json(s, "{'apiVersion': 'v1', 'kind': 'Secret',"
		      " 'metadata': {'name': 'spin-ca', 'namespace': 'default',"
		      "   'annotations': {'app.kubernetes.io/managed-by': 'spin-operator.spinkube.dev'}},"
		      " 'stringData': {'ca-certificates.crt': '-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END "
		      "CERTIFICATE-----\\n'}}");
	/* No ownerReferences, no labels: the secret outlives apps and operator. */
	assert_null(json_object_get(json_object_get(s, "metadata"), "ownerReferences"));
	assert_null(json_object_get(json_object_get(s, "metadata"), "labels"));
	json_decref(s);

	/* A custom name; len bounds the bundle. */
	s = spin_ca_secret("apps", "my-custom-secret-name", "abcdef", 3);
	check_json(s, "{'apiVersion': 'v1', 'kind': 'Secret',"
		      " 'metadata': {'name': 'my-custom-secret-name', 'namespace': 'apps',"
		      "   'annotations': {'app.kubernetes.io/managed-by': 'spin-operator.spinkube.dev'}},"
		      " 'stringData': {'ca-certificates.crt': 'abc'}}");
	json_decref(s);

	assert_null(spin_ca_secret("default", NULL, bundle, strlen(bundle)));
	assert_null(spin_ca_secret("default", "", bundle, strlen(bundle)));
	assert_null(spin_ca_secret("default", "spin-ca", NULL, 4));
	assert_null(spin_ca_secret("default", "spin-ca", "\xff\xfe", 2)); /* not UTF-8 */
}

/* ---- HPA ---- */

#define HPA_META(name)                                                                                        \
	"'metadata': {'name': '" name "', 'namespace': 'default', 'labels': {'core.spinkube.dev/app-name': '" name \
	"'}, 'ownerReferences': " OWNER(name) "}"
#define TARGET(name) "'scaleTargetRef': {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': '" name "'}"
#define METRIC(res, pct)                                                                                      \
	"{'type': 'Resource', 'resource': {'name': '" res "', 'target': {'type': 'Utilization', "            \
	"'averageUtilization': " #pct "}}}"

/* The HPA of config/samples/hpa.yaml, expressed through spec.autoscaler. */
static void hpa_cpu(void **state)
{
	(void)state;
	json_t *hpa = build_ok(spin_hpa, "{" APP_HEAD("hpa-spinapp") ", 'spec': {'image': 'i', 'executor':"
					  " 'containerd-shim-spin', 'enableAutoscaling': true,"
					  " 'resources': {'limits': {'cpu': '500m'}, 'requests': {'cpu': '100m'}},"
					  " 'autoscaler': {'minReplicas': 1, 'maxReplicas': 10,"
					  " 'targetCPUUtilizationPercentage': 50}}}");
	check_json(hpa, "{'apiVersion': 'autoscaling/v2', 'kind': 'HorizontalPodAutoscaler', " HPA_META("hpa-spinapp")
			", 'spec': {" TARGET("hpa-spinapp") ", 'minReplicas': 1, 'maxReplicas': 10,"
			" 'metrics': [" METRIC("cpu", 50) "]}}");
	json_decref(hpa);
}

static void hpa_cpu_memory_behavior(void **state)
{
	(void)state;
	json_t *hpa = build_ok(spin_hpa, "{" APP_HEAD("app") ", 'spec': {'image': 'i', 'enableAutoscaling': true,"
					  " 'autoscaler': {'minReplicas': 2, 'maxReplicas': 5,"
					  " 'targetMemoryUtilizationPercentage': 70, 'targetCPUUtilizationPercentage': 150,"
					  " 'behavior': {'scaleDown': {'stabilizationWindowSeconds': 300, 'policies':"
					  " [{'type': 'Pods', 'value': 1, 'periodSeconds': 60}]}}}}}");
	check_json(hpa, "{'apiVersion': 'autoscaling/v2', 'kind': 'HorizontalPodAutoscaler', " HPA_META("app")
			", 'spec': {" TARGET("app") ", 'minReplicas': 2, 'maxReplicas': 5,"
			" 'metrics': [" METRIC("cpu", 150) ", " METRIC("memory", 70) "],"
			" 'behavior': {'scaleDown': {'stabilizationWindowSeconds': 300, 'policies':"
			" [{'type': 'Pods', 'value': 1, 'periodSeconds': 60}]}}}}");
	json_decref(hpa);
}

/* minReplicas defaults to 1, and with no target the HPA gets an explicit 80% CPU target. */
static void hpa_defaults(void **state)
{
	(void)state;
	json_t *hpa = build_ok(spin_hpa, "{" APP_HEAD("app") ", 'spec': {'image': 'i', 'enableAutoscaling': true,"
					  " 'autoscaler': {'maxReplicas': 3, 'behavior': null}}}");
	check_json(hpa, "{'apiVersion': 'autoscaling/v2', 'kind': 'HorizontalPodAutoscaler', " HPA_META("app")
			", 'spec': {" TARGET("app") ", 'minReplicas': 1, 'maxReplicas': 3,"
			" 'metrics': [" METRIC("cpu", 80) "]}}");
	json_decref(hpa);
	/* Memory alone: no CPU metric is added. */
	hpa = build_ok(spin_hpa, "{" APP_HEAD("app") ", 'spec': {'enableAutoscaling': true, 'autoscaler':"
				  " {'maxReplicas': 1, 'targetMemoryUtilizationPercentage': 60}}}");
	check_json(json_object_get(json_object_get(hpa, "spec"), "metrics"), "[" METRIC("memory", 60) "]");
	json_decref(hpa);
}

/* No HPA without enableAutoscaling or without spec.autoscaler (an external HPA or KEDA then owns replicas). */
static void hpa_none(void **state)
{
	(void)state;
	static const char *const apps[] = {
		"{" APP_HEAD("a") ", 'spec': {'image': 'i', 'replicas': 1}}",
		"{" APP_HEAD("a") ", 'spec': {'image': 'i', 'enableAutoscaling': true}}",
		"{" APP_HEAD("a") ", 'spec': {'image': 'i', 'enableAutoscaling': true, 'autoscaler': null}}",
		"{" APP_HEAD("a") ", 'spec': {'image': 'i', 'replicas': 2, 'autoscaler': {'maxReplicas': 3}}}",
		"{" APP_HEAD("a") ", 'spec': {'enableAutoscaling': false, 'autoscaler': {'maxReplicas': 0}}}",
	};
	for (size_t i = 0; i < sizeof apps / sizeof apps[0]; i++) {
		json_t *app = J(apps[i]), *out = (json_t *)&out;
		char err[256] = "";
		assert_int_equal(spin_hpa(app, &out, err, sizeof err), SO_OK);
		assert_null(out);
		json_decref(app);
	}
}

static void hpa_errors(void **state)
{
	(void)state;
	static const struct {
		const char *autoscaler, *message;
	} cases[] = {
		{ "{'minReplicas': 3, 'maxReplicas': 2}", "spec.autoscaler.maxReplicas: must be >= minReplicas (3)" },
		{ "{'maxReplicas': 0}", "spec.autoscaler.maxReplicas: must be >= minReplicas (1)" },
		{ "{'minReplicas': 2}", "spec.autoscaler.maxReplicas: required" },
		{ "{'minReplicas': 0, 'maxReplicas': 2}", "spec.autoscaler.minReplicas: must be >= 1 (got 0)" },
		{ "{'maxReplicas': '5'}", "spec.autoscaler.maxReplicas: must be an int32" },
		{ "{'maxReplicas': 3000000000}", "spec.autoscaler.maxReplicas: must be an int32" },
		{ "{'maxReplicas': 2, 'targetCPUUtilizationPercentage': 0}",
		  "spec.autoscaler.targetCPUUtilizationPercentage: must be between 1 and 1000 (got 0)" },
		{ "{'maxReplicas': 2, 'targetMemoryUtilizationPercentage': 1001}",
		  "spec.autoscaler.targetMemoryUtilizationPercentage: must be between 1 and 1000 (got 1001)" },
		{ "{'maxReplicas': 2, 'behavior': []}", "spec.autoscaler.behavior: must be an object" },
		{ "[]", "spec.autoscaler: must be an object" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char app[512];
		snprintf(app, sizeof app, "{" APP_HEAD("a") ", 'spec': {'enableAutoscaling': true, 'autoscaler': %s}}",
			 cases[i].autoscaler);
		build_fails(spin_hpa, app, SO_E_INVAL, cases[i].message);
	}
	build_fails(spin_hpa, "{'metadata': {}, 'spec': {'enableAutoscaling': true, 'autoscaler': {'maxReplicas': 1}}}",
		    SO_E_INVAL, "SpinApp has no metadata.name");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(service_for_app),
		cmocka_unit_test(service_annotations),
		cmocka_unit_test(service_errors),
		cmocka_unit_test(ready_label_key),
		cmocka_unit_test(pod_selector),
		cmocka_unit_test(owner_refs),
		cmocka_unit_test(ca_secret),
		cmocka_unit_test(hpa_cpu),
		cmocka_unit_test(hpa_cpu_memory_behavior),
		cmocka_unit_test(hpa_defaults),
		cmocka_unit_test(hpa_none),
		cmocka_unit_test(hpa_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
