/*
 * The SpinApp pod options upstream lacks (issue 15 §2): the builder (operator/spin/podopts.c through
 * spin_deployment) and the webhook's decoding and validation (webhook/spinapp_podopts.c through spinapp_check_decode and
 * spinapp_validate). JSON literals use ' for ".
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
#include "operator/spin/podopts.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "webhook/admission.h"
#include "webhook/decode.h"
#include "webhook/field.h"
#include "webhook/spinapp.h"
#include "webhook/admission_ctx.h"

#define IMAGE "ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0"
#define HEAD                                                                                                   \
	"'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'metadata': {'name': 'app', 'namespace': " \
	"'default', 'uid': 'u-1'}"
#define APP(extra) "{" HEAD ", 'spec': {'image': '" IMAGE "', 'executor': 'shim', 'replicas': 1" extra "}}"
#define SHIM                                                                                                   \
	"{'metadata': {'name': 'shim'}, 'spec': {'createDeployment': true, 'deploymentConfig': {'runtimeClassName': " \
	"'wasmtime-spin-v2', 'installDefaultCACerts': true}}}"
#define SPINTAINER                                                                                             \
	"{'metadata': {'name': 'spintainer'}, 'spec': {'createDeployment': true, 'deploymentConfig': {'spinImage': " \
	"'ghcr.io/fermyon/spin:v2.7.0', 'otel': {'exporter_otlp_endpoint': 'http://a', "                         \
	"'exporter_otlp_traces_endpoint': 'http://b', 'exporter_otlp_metrics_endpoint': 'http://c', "           \
	"'exporter_otlp_logs_endpoint': 'http://d'}}}}"

/* Every new field set. */
#define ALL_FIELDS                                                                                             \
	", 'imagePullPolicy': 'Never', 'priorityClassName': 'spin-apps', 'nodeSelector': {'disk': 'ssd', "      \
	"'kubernetes.io/os': 'linux'}, 'tolerations': [{'key': 'wasm', 'operator': 'Exists', 'effect': "        \
	"'NoSchedule'}], 'affinity': {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': "        \
	"{'nodeSelectorTerms': [{'matchExpressions': [{'key': 'zone', 'operator': 'In', 'values': ['a']}]}]}}}, " \
	"'topologySpreadConstraints': [{'maxSkew': 1, 'topologyKey': 'kubernetes.io/hostname', "                 \
	"'whenUnsatisfiable': 'ScheduleAnyway'}], 'env': [{'name': 'NODE_IP', 'valueFrom': {'fieldRef': "         \
	"{'fieldPath': 'status.hostIP'}}}, {'name': 'MODE', 'value': 'fast'}]"

static json_t *build_ok(const char *app_text, const char *exec_text)
{
	json_t *app = J(app_text), *exec = J(exec_text), *dep = NULL;
	char err[512] = "";
	int rc = spin_deployment(app, exec, "gen-secret", 1, &dep, err, sizeof err);

	json_decref(app);
	json_decref(exec);
	if (rc != SO_OK)
		fail_msg("spin_deployment: %d %s", rc, err);
	return dep;
}

static void build_fails(const char *app_text, const char *message)
{
	json_t *app = J(app_text), *exec = J(SHIM), *dep = (json_t *)&dep;
	char err[512] = "";
	int rc = spin_deployment(app, exec, "gen-secret", 1, &dep, err, sizeof err);

	json_decref(app);
	json_decref(exec);
	assert_int_equal(rc, SO_E_INVAL);
	assert_null(dep);
	assert_string_equal(err, message);
}

static json_t *pod_of(json_t *dep)
{
	return json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "spec");
}

/* The serialised object, keys in insertion order: what the apply request body carries. */
static char *dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	assert_non_null(s);
	return s;
}

/* ======================================================================================================
 * Builder
 * ====================================================================================================== */

static void keys_are(const json_t *obj, const char *want_text)
{
	json_t *keys = json_array();
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v)
		json_array_append_new(keys, json_string(k));
	check_json(keys, want_text);
	json_decref(keys);
}

/* No new field, or each one empty: the very bytes of upstream's Deployment (Go's omitempty drops them). */
static void without_fields_unchanged(void **state)
{
	(void)state;
	json_t *plain = build_ok(APP(""), SHIM);
	json_t *empty = build_ok(APP(", 'env': [], 'nodeSelector': {}, 'tolerations': [], "
				     "'topologySpreadConstraints': [], 'priorityClassName': '', 'imagePullPolicy': '', "
				     "'affinity': null"),
				 SHIM);
	char *a = dump(plain), *b = dump(empty);

	assert_string_equal(a, b);
	/* and the pod spec has exactly upstream's keys, in Go's order */
	keys_are(pod_of(plain), "['volumes', 'containers', 'serviceAccountName', 'runtimeClassName']");
	free(a);
	free(b);
	json_decref(plain);
	json_decref(empty);
}

static void all_fields_shim(void **state)
{
	(void)state;
	json_t *dep = build_ok(APP(ALL_FIELDS), SHIM), *pod = pod_of(dep);
	json_t *c = json_array_get(json_object_get(pod, "containers"), 0);

	/* corev1.PodSpec's field order */
	keys_are(pod, "['volumes', 'containers', 'nodeSelector', 'serviceAccountName', 'affinity', 'tolerations', "
		      "'priorityClassName', 'runtimeClassName', 'topologySpreadConstraints']");
	check_json(json_object_get(pod, "nodeSelector"), "{'disk': 'ssd', 'kubernetes.io/os': 'linux'}");
	check_json(json_object_get(pod, "tolerations"), "[{'key': 'wasm', 'operator': 'Exists', 'effect': 'NoSchedule'}]");
	check_json(json_object_get(pod, "affinity"),
		   "{'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': "
		   "[{'matchExpressions': [{'key': 'zone', 'operator': 'In', 'values': ['a']}]}]}}}");
	check_json(json_object_get(pod, "topologySpreadConstraints"),
		   "[{'maxSkew': 1, 'topologyKey': 'kubernetes.io/hostname', 'whenUnsatisfiable': 'ScheduleAnyway'}]");
	check_json(json_object_get(pod, "priorityClassName"), "'spin-apps'");
	check_json(json_object_get(pod, "runtimeClassName"), "'wasmtime-spin-v2'");
	/* the operator's variables first, then spec.env as given */
	check_json(json_object_get(c, "env"),
		   "[{'name': 'SPIN_HTTP_LISTEN_ADDR', 'value': '0.0.0.0:80'}, {'name': 'NODE_IP', 'valueFrom': "
		   "{'fieldRef': {'fieldPath': 'status.hostIP'}}}, {'name': 'MODE', 'value': 'fast'}]");
	/* corev1.Container's order: imagePullPolicy after the probes, last of what we write */
	keys_are(c, "['name', 'image', 'command', 'ports', 'env', 'resources', 'volumeMounts', 'imagePullPolicy']");
	check_json(json_object_get(c, "imagePullPolicy"), "'Never'");
	json_decref(dep);
}

/* The spintainer path gets the same, and spec.env comes after every variable the operator sets. */
static void all_fields_spintainer(void **state)
{
	(void)state;
	json_t *dep = build_ok(APP(ALL_FIELDS ", 'variables': [{'name': 'greetee', 'value': 'x'}], 'components': "
					      "['a'], 'invocationLimits': {'memory': '1Mi'}, 'imagePullSecrets': [{'name': "
					      "'pull'}]"),
			       SPINTAINER);
	json_t *pod = pod_of(dep), *c = json_array_get(json_object_get(pod, "containers"), 0), *e;
	size_t i, n = json_array_size(json_object_get(c, "env"));

	keys_are(pod, "['volumes', 'containers', 'nodeSelector', 'serviceAccountName', 'imagePullSecrets', "
		      "'affinity', 'tolerations', 'priorityClassName', 'topologySpreadConstraints']");
	check_json(json_object_get(c, "imagePullPolicy"), "'Never'");
	assert_int_equal(n, 10);
	/* Every name before the user's two is one the operator owns, so the webhook refuses it in spec.env. */
	json_array_foreach(json_object_get(c, "env"), i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		if (i < n - 2 && !spin_env_reserved(name))
			fail_msg("the operator sets %s, which spin_env_reserved does not list", name);
		if (i >= n - 2 && spin_env_reserved(name))
			fail_msg("%s is the user's", name);
	}
	json_decref(dep);
}

/* affinity is a pointer in Go: {} is sent as {}; the inputs are not modified and the output shares nothing. */
static void copies_and_empty_affinity(void **state)
{
	(void)state;
	json_t *app = J(APP(", 'affinity': {}, 'env': [{'name': 'A', 'value': '1'}]")), *exec = J(SHIM);
	json_t *before = json_deep_copy(app), *dep = NULL, *pod;
	char err[256];

	assert_int_equal(spin_deployment(app, exec, "s", 1, &dep, err, sizeof err), SO_OK);
	assert_true(json_equal(app, before));
	pod = pod_of(dep);
	check_json(json_object_get(pod, "affinity"), "{}");
	json_object_set_new(json_object_get(pod, "affinity"), "x", json_true());
	assert_true(json_equal(app, before));
	json_decref(dep);
	json_decref(app);
	json_decref(before);
	json_decref(exec);
}

static void builder_errors(void **state)
{
	(void)state;
	build_fails(APP(", 'env': {'A': 'b'}"), "spec.env: must be a list");
	build_fails(APP(", 'env': ['A=b']"), "spec.env[0]: must be an object");
	build_fails(APP(", 'env': [{'name': 'A'}, {'value': 'b'}]"), "spec.env[1].name: is required");
	build_fails(APP(", 'env': [{'name': 'SPIN_HTTP_LISTEN_ADDR', 'value': '0.0.0.0:8080'}]"),
		    "spec.env[0].name: \"SPIN_HTTP_LISTEN_ADDR\" is set by the operator and may not be set here");
	build_fails(APP(", 'env': [{'name': 'SPIN_VARIABLE_X', 'value': '1'}]"),
		    "spec.env[0].name: \"SPIN_VARIABLE_X\" is set by the operator and may not be set here");
	build_fails(APP(", 'imagePullPolicy': 1"), "spec.imagePullPolicy: must be a string");
	build_fails(APP(", 'nodeSelector': {'a': 1}"), "spec.nodeSelector[\"a\"]: must be a string");
	build_fails(APP(", 'nodeSelector': ['a']"), "spec.nodeSelector: must be a map of strings");
	build_fails(APP(", 'tolerations': {}"), "spec.tolerations: must be a list");
	build_fails(APP(", 'topologySpreadConstraints': 'x'"), "spec.topologySpreadConstraints: must be a list");
	build_fails(APP(", 'affinity': []"), "spec.affinity: must be an object");
	build_fails(APP(", 'priorityClassName': true"), "spec.priorityClassName: must be a string");
}

static void reserved_names(void **state)
{
	(void)state;
	static const char *const yes[] = { "SPIN_HTTP_LISTEN_ADDR", "OTEL_EXPORTER_OTLP_ENDPOINT",
					   "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "SPIN_MAX_INSTANCE_MEMORY",
					   "SPIN_COMPONENTS_TO_RETAIN", "SPIN_VARIABLE_", "SPIN_VARIABLE_GREETEE" };
	static const char *const no[] = { "NODE_IP", "SPIN_HTTP_LISTEN_ADDR_X", "spin_http_listen_addr",
					  "OTEL_SERVICE_NAME", "SPIN_VARIABLE", "" };
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		assert_true(spin_env_reserved(yes[i]));
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		assert_false(spin_env_reserved(no[i]));
}

/* ======================================================================================================
 * Webhook
 * ====================================================================================================== */

static int fake_get(void *user, const char *ns, const char *name, json_t **out)
{
	(void)user;
	(void)ns;
	if (strcmp(name, "shim") != 0)
		return SO_E_API_NOT_FOUND;
	*out = J(SHIM);
	return SO_OK;
}

/* The aggregated validation message for app_text ("" when it passes). */
static char *validate(const char *app_text, unsigned flags)
{
	struct admission_ctx ctx = { .endpoint = VALIDATE_SPINAPP, .get_executor = fake_get, .flags = flags };
	struct field_list errs = { 0 };
	struct buf out = BUF_INIT(1 << 20), msg = BUF_INIT(1 << 16);
	json_t *app = J(app_text), *warnings = json_array();
	char *s;

	assert_int_equal(spinapp_check_decode(app, &msg), SO_OK);
	assert_int_equal(spinapp_validate(app, "default", &ctx, &errs, warnings), SO_OK);
	assert_int_equal(field_list_aggregate(&errs, &out), SO_OK);
	s = strdup(out.data ? out.data : "");
	buf_free(&out);
	buf_free(&msg);
	field_list_free(&errs);
	json_decref(app);
	json_decref(warnings);
	return s;
}

static void check(const char *app_text, const char *want)
{
	char *got = validate(app_text, 0);
	if (strcmp(got, want) != 0) {
		print_error("expected: %s\n     got: %s\n", want, got);
		free(got);
		fail();
	}
	free(got);
}

static void webhook_accepts_all_fields(void **state)
{
	(void)state;
	check(APP(ALL_FIELDS), "");
	/* the downward API forms the API server takes */
	check(APP(", 'env': [{'name': 'L', 'valueFrom': {'fieldRef': {'apiVersion': 'v1', 'fieldPath': "
		  "'metadata.labels[\\u0027app\\u0027]'}}}, {'name': 'M', 'valueFrom': {'resourceFieldRef': {'resource': "
		  "'limits.memory'}}}, {'name': 'H', 'valueFrom': {'resourceFieldRef': {'resource': "
		  "'requests.hugepages-2Mi'}}}, {'name': 'S', 'valueFrom': {'secretKeyRef': {'name': 's', 'key': 'k'}}}, "
		  "{'name': 'with space.and-dash', 'value': 'x'}]"),
	      "");
	check(APP(", 'tolerations': [{'operator': 'Exists'}, {'key': 'k', 'value': 'v', 'effect': 'NoExecute', "
		  "'tolerationSeconds': 30}]"),
	      "");
}

static void webhook_pull_policy(void **state)
{
	(void)state;
	check(APP(", 'imagePullPolicy': 'Sometimes'"),
	      "spec.imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", "
	      "\"Never\"");
}

static void webhook_env(void **state)
{
	(void)state;
	check(APP(", 'env': [{'name': 'A', 'value': '1'}, {'name': 'B'}, {'name': 'SPIN_HTTP_LISTEN_ADDR', 'value': "
		  "'0.0.0.0:8080'}]"),
	      "spec.env[2].name: Invalid value: \"SPIN_HTTP_LISTEN_ADDR\": the operator sets this variable itself");
	check(APP(", 'env': [{'name': 'OTEL_EXPORTER_OTLP_ENDPOINT', 'value': 'http://x'}]"),
	      "spec.env[0].name: Invalid value: \"OTEL_EXPORTER_OTLP_ENDPOINT\": the operator sets this variable itself");
	check(APP(", 'env': [{'name': 'SPIN_VARIABLE_GREETEE', 'value': 'x'}]"),
	      "spec.env[0].name: Invalid value: \"SPIN_VARIABLE_GREETEE\": the operator sets SPIN_VARIABLE_* from "
	      "spec.variables; set Spin variables there");
	check(APP(", 'env': [{'name': ''}]"), "spec.env[0].name: Required value");
	check(APP(", 'env': [{'value': 'x'}]"), "spec.env[0].name: Required value");
	check(APP(", 'env': [{'name': 'A=B'}]"),
	      "spec.env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of "
	      "printable ASCII characters other than '='");
	check(APP(", 'env': [{'name': 'A', 'value': 'x', 'valueFrom': {'fieldRef': {'fieldPath': 'status.hostIP'}}}]"),
	      "spec.env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty");
	check(APP(", 'env': [{'name': 'A', 'valueFrom': {}}]"),
	      "spec.env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, "
	      "`configMapKeyRef`, `secretKeyRef` or `fileKeyRef`");
	check(APP(", 'env': [{'name': 'A', 'valueFrom': {'fieldRef': {'fieldPath': 'status.hostIP'}, "
		  "'secretKeyRef': {'name': 's', 'key': 'k'}}}]"),
	      "spec.env[0].valueFrom: Invalid value: \"\": may not have more than one field specified at a time");
	check(APP(", 'env': [{'name': 'A', 'valueFrom': {'fieldRef': {'fieldPath': 'status.nodeIP'}}}]"),
	      "spec.env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \"status.nodeIP\": supported values: "
	      "\"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", "
	      "\"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", "
	      "\"status.podIPs\"");
	check(APP(", 'env': [{'name': 'A', 'valueFrom': {'fieldRef': {'fieldPath': 'spec.nodeName[\\u0027x\\u0027]'}}}]"),
	      "spec.env[0].valueFrom.fieldRef: Invalid value: \"spec.nodeName\": does not support subscript");
	check(APP(", 'env': [{'name': 'A', 'valueFrom': {'fieldRef': {}}}]"),
	      "spec.env[0].valueFrom.fieldRef.fieldPath: Required value");
	check(APP(", 'env': [{'name': 'A', 'valueFrom': {'resourceFieldRef': {'resource': 'limits.gpu'}}}]"),
	      "spec.env[0].valueFrom.resourceFieldRef.resource: Unsupported value: \"limits.gpu\": supported values: "
	      "\"limits.cpu\", \"limits.ephemeral-storage\", \"limits.memory\", \"requests.cpu\", "
	      "\"requests.ephemeral-storage\", \"requests.memory\"");
	check(APP(", 'env': [{'name': 'A', 'valueFrom': {'configMapKeyRef': {'key': 'k'}}}]"),
	      "spec.env[0].valueFrom.configMapKeyRef.name: Required value");
	/* several errors aggregate in order, as the API server lists them */
	check(APP(", 'env': [{'name': 'SPIN_MAX_INSTANCE_MEMORY', 'value': '1'}, {'name': 'B=', 'valueFrom': {}}]"),
	      "[spec.env[0].name: Invalid value: \"SPIN_MAX_INSTANCE_MEMORY\": the operator sets this variable itself, "
	      "spec.env[1].name: Invalid value: \"B=\": a valid environment variable name must consist only of "
	      "printable ASCII characters other than '=', spec.env[1].valueFrom: Invalid value: \"\": must specify "
	      "one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`]");
}

static void webhook_scheduling(void **state)
{
	(void)state;
	check(APP(", 'nodeSelector': {'bad key': 'v'}"),
	      "spec.nodeSelector: Invalid value: \"bad key\": " QUALIFIED_NAME_MSG);
	check(APP(", 'nodeSelector': {'k': 'bad value'}"),
	      "spec.nodeSelector[k]: Invalid value: \"bad value\": " LABEL_VALUE_MSG);
	check(APP(", 'tolerations': [{'operator': 'Equal', 'value': 'v'}]"),
	      "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which "
	      "means \"match all values and all keys\"");
	check(APP(", 'tolerations': [{'key': 'k', 'operator': 'Exists', 'value': 'v'}]"),
	      "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'");
	check(APP(", 'tolerations': [{'key': 'k', 'operator': 'In'}]"),
	      "spec.tolerations[0].operator: Unsupported value: \"In\": supported values: \"Equal\", \"Exists\"");
	check(APP(", 'tolerations': [{'key': 'k', 'effect': 'NoRun'}]"),
	      "spec.tolerations[0].effect: Unsupported value: \"NoRun\": supported values: \"NoSchedule\", "
	      "\"PreferNoSchedule\", \"NoExecute\"");
	check(APP(", 'tolerations': [{'key': 'k', 'effect': 'NoSchedule', 'tolerationSeconds': 5}]"),
	      "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
	      "`tolerationSeconds` is set");
	check(APP(", 'tolerations': [{'key': '-k'}]"),
	      "spec.tolerations[0].key: Invalid value: \"-k\": " QUALIFIED_NAME_MSG);
	check(APP(", 'tolerations': [{'key': 'k', 'value': 'a b'}]"),
	      "spec.tolerations[0].operator: Invalid value: \"a b\": " LABEL_VALUE_MSG);
	check(APP(", 'topologySpreadConstraints': [{'maxSkew': 0, 'topologyKey': '', 'whenUnsatisfiable': 'Maybe'}]"),
	      "[spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero, "
	      "spec.topologySpreadConstraints[0].topologyKey: Required value: can not be empty, "
	      "spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: \"Maybe\": supported values: "
	      "\"DoNotSchedule\", \"ScheduleAnyway\"]");
	check(APP(", 'topologySpreadConstraints': [{'maxSkew': 1, 'topologyKey': 'zone', 'whenUnsatisfiable': "
		  "'DoNotSchedule'}, {'maxSkew': 2, 'topologyKey': 'zone', 'whenUnsatisfiable': 'DoNotSchedule'}]"),
	      "spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}: Duplicate value: "
	      "\"{zone, DoNotSchedule}\"");
	check(APP(", 'priorityClassName': 'Spin_Apps'"),
	      "spec.priorityClassName: Invalid value: \"Spin_Apps\": " DNS1123_SUBDOMAIN_MSG);
}

/* Upstream-only mode runs upstream's checks alone: upstream's CRDs prune these fields anyway. */
static void webhook_upstream_only(void **state)
{
	(void)state;
	char *got = validate(APP(", 'imagePullPolicy': 'Sometimes', 'env': [{'name': 'SPIN_HTTP_LISTEN_ADDR'}], "
				 "'priorityClassName': 'X'"),
			     ADMISSION_UPSTREAM_ONLY);
	assert_string_equal(got, "");
	free(got);
}

/* The whole Status message, as kubectl shows it. */
static void webhook_message(void **state)
{
	(void)state;
	struct field_list errs = { 0 };
	struct admission_ctx ctx = { .endpoint = VALIDATE_SPINAPP, .get_executor = fake_get };
	struct buf out = BUF_INIT(1 << 16);
	json_t *app = J(APP(", 'env': [{'name': 'A', 'value': '1'}, {'name': 'B', 'value': '2'}, {'name': "
			    "'SPIN_COMPONENTS_TO_RETAIN', 'value': 'a'}]")),
	       *status;

	assert_int_equal(spinapp_validate(app, "default", &ctx, &errs, NULL), SO_OK);
	assert_int_equal(admission_invalid_message("core.spinkube.dev", "SpinApp", "app", &errs, &out), SO_OK);
	assert_string_equal(out.data, "SpinApp.core.spinkube.dev \"app\" is invalid: spec.env[2].name: Invalid value: "
				      "\"SPIN_COMPONENTS_TO_RETAIN\": the operator sets this variable itself");
	status = admission_invalid_status("core.spinkube.dev", "SpinApp", "app", &errs);
	check_json(json_object_get(json_object_get(status, "details"), "causes"),
		   "[{'reason': 'FieldValueInvalid', 'message': 'Invalid value: \\\"SPIN_COMPONENTS_TO_RETAIN\\\": the "
		   "operator sets this variable itself', 'field': 'spec.env[2].name'}]");
	json_decref(status);
	field_list_free(&errs);
	buf_free(&out);
	json_decref(app);

	/* FieldValueNotSupported for an enum */
	app = J(APP(", 'imagePullPolicy': 'always'"));
	assert_int_equal(spinapp_validate(app, "default", &ctx, &errs, NULL), SO_OK);
	status = admission_invalid_status("core.spinkube.dev", "SpinApp", "app", &errs);
	check_json(json_object_get(json_object_get(status, "details"), "causes"),
		   "[{'reason': 'FieldValueNotSupported', 'message': 'Unsupported value: \\\"always\\\": supported values: "
		   "\\\"Always\\\", \\\"IfNotPresent\\\", \\\"Never\\\"', 'field': 'spec.imagePullPolicy'}]");
	json_decref(status);
	field_list_free(&errs);
	json_decref(app);
}

static void decode_fails(const char *app_text, const char *want)
{
	struct buf msg = BUF_INIT(1 << 16);
	json_t *app = J(app_text);

	assert_int_equal(spinapp_check_decode(app, &msg), SO_E_INVAL);
	assert_string_equal(msg.data, want);
	buf_free(&msg);
	json_decref(app);
}

static void webhook_decode(void **state)
{
	(void)state;
	decode_fails(APP(", 'env': 'A=b'"),
		     "json: cannot unmarshal string into Go struct field SpinAppSpec.spec.env of type []v1.EnvVar");
	decode_fails(APP(", 'env': [1]"),
		     "json: cannot unmarshal number into Go struct field SpinAppSpec.spec.env of type v1.EnvVar");
	decode_fails(APP(", 'env': [{'name': 5}]"),
		     "json: cannot unmarshal number into Go struct field EnvVar.spec.env.name of type string");
	decode_fails(APP(", 'env': [{'name': 'a', 'valueFrom': 'x'}]"),
		     "json: cannot unmarshal string into Go struct field EnvVar.spec.env.valueFrom of type "
		     "v1.EnvVarSource");
	decode_fails(APP(", 'imagePullPolicy': true"),
		     "json: cannot unmarshal bool into Go struct field SpinAppSpec.spec.imagePullPolicy of type string");
	decode_fails(APP(", 'nodeSelector': {'a': 1}"),
		     "json: cannot unmarshal number into Go struct field SpinAppSpec.spec.nodeSelector of type string");
	decode_fails(APP(", 'tolerations': {}"),
		     "json: cannot unmarshal object into Go struct field SpinAppSpec.spec.tolerations of type "
		     "[]v1.Toleration");
	decode_fails(APP(", 'tolerations': [{'key': 1}]"),
		     "json: cannot unmarshal number into Go struct field Toleration.spec.tolerations.key of type string");
	decode_fails(APP(", 'affinity': []"),
		     "json: cannot unmarshal array into Go struct field SpinAppSpec.spec.affinity of type v1.Affinity");
	decode_fails(APP(", 'topologySpreadConstraints': [{'maxSkew': 'one'}]"),
		     "json: cannot unmarshal string into Go struct field TopologySpreadConstraint."
		     "spec.topologySpreadConstraints.maxSkew of type int32");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(without_fields_unchanged),
		cmocka_unit_test(all_fields_shim),
		cmocka_unit_test(all_fields_spintainer),
		cmocka_unit_test(copies_and_empty_affinity),
		cmocka_unit_test(builder_errors),
		cmocka_unit_test(reserved_names),
		cmocka_unit_test(webhook_accepts_all_fields),
		cmocka_unit_test(webhook_pull_policy),
		cmocka_unit_test(webhook_env),
		cmocka_unit_test(webhook_scheduling),
		cmocka_unit_test(webhook_upstream_only),
		cmocka_unit_test(webhook_message),
		cmocka_unit_test(webhook_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
