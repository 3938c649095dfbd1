/*
 * webhook/admission.c end to end on AdmissionReview bodies: the envelope (uid echo, apiVersion/kind, status
 * shapes of controller-runtime's Allowed/Denied/Errored and of apierrors.NewInvalid), the defaulting patch
 * (base64 JSON Patch that applies to the object sent and yields the defaulted one), the exact messages the
 * apiserver relays, operations (DELETE, CONNECT, unknown), dryRun, and malformed bodies (HTTP 400).
 * JSON literals use ' for ".
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

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "webhook/admission.h"
#include "webhook/admission_ctx.h"
#include "webhook/jsonpatch.h"

#define UID "705ab4f5-6393-11e8-b7cc-42010a800002"

static void expect(const char *got, const char *want)
{
	if (!got || strcmp(got, want) != 0) {
		print_error("expected: %s\n     got: %s\n", want, got ? got : "(null)");
		fail();
	}
}

/* ---- a fake cluster ---- */

static int list_fail;
static int list_calls;
static char last_list_ns[64];

static int fake_list(void *user, const char *ns, json_t *names, char *msg, size_t msglen)
{
	(void)user;
	list_calls++;
	snprintf(last_list_ns, sizeof last_list_ns, "%s", ns);
	if (list_fail) {
		snprintf(msg, msglen, "spinappexecutors.core.spinkube.dev is forbidden");
		return SO_E_API_FORBIDDEN;
	}
	if (strcmp(ns, "default") == 0) {
		json_array_append_new(names, json_string("zzz"));
		json_array_append_new(names, json_string("containerd-shim-spin"));
		json_array_append_new(names, json_string("cyclotron"));
	} else if (strcmp(ns, "other") == 0) {
		json_array_append_new(names, json_string("aaa"));
	}
	return SO_OK;
}

static int fake_get(void *user, const char *ns, const char *name, json_t **out)
{
	(void)user;
	if (strcmp(ns, "default") == 0 && strcmp(name, "containerd-shim-spin") == 0) {
		*out = J("{'metadata': {'name': 'containerd-shim-spin', 'namespace': 'default'}, 'spec': "
			 "{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'wasmtime-spin-v2'}}}");
		return SO_OK;
	}
	return SO_E_API_NOT_FOUND;
}

/* ---- running reviews ---- */

struct result {
	int rc, http;
	struct buf body;
	json_t *review;   /* the parsed response review (200 only) */
	json_t *response; /* review.response */
};

static void result_free(struct result *r)
{
	buf_free(&r->body);
	json_decref(r->review);
	memset(r, 0, sizeof *r);
}

static struct result run_body(enum admission_endpoint ep, unsigned flags, const char *body, size_t len)
{
	struct admission_ctx ctx = { .endpoint = ep, .list_executors = fake_list, .get_executor = fake_get,
				     .flags = flags };
	struct result r = { 0, 0, BUF_INIT(ADMISSION_RESPONSE_CAP), NULL, NULL };
	json_error_t e;

	r.rc = admission_handle(body, len, &ctx, &r.body, &r.http);
	assert_int_equal(r.rc, SO_OK);
	assert_non_null(r.body.data);
	assert_true(r.body.len > 0 && r.body.data[r.body.len - 1] == '\n');
	if (r.http == 200) {
		r.review = json_loadb(r.body.data, r.body.len, 0, &e);
		if (!r.review)
			fail_msg("response is not JSON: %s", r.body.data);
		r.response = json_object_get(r.review, "response");
		assert_non_null(r.response);
		/* Exactly one line. */
		assert_null(memchr(r.body.data, '\n', r.body.len - 1));
	} else {
		assert_int_equal(r.http, 400);
		assert_null(memchr(r.body.data, '\n', r.body.len - 1));
	}
	return r;
}

/* A review around object/oldObject (literals, or NULL to leave them out). */
static char *review_text(const char *op, const char *kind, const char *object, const char *old_object,
			 const char *extra)
{
	char *s = malloc(1 << 16);
	assert_non_null(s);
	snprintf(s, 1 << 16,
		 "{'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview', 'request': {'uid': '" UID "', "
		 "'kind': {'group': 'core.spinkube.dev', 'version': 'v1alpha1', 'kind': '%s'}, 'resource': {'group': "
		 "'core.spinkube.dev', 'version': 'v1alpha1', 'resource': 'spinapps'}, 'name': 'my-app', 'namespace': "
		 "'default', 'operation': '%s', 'userInfo': {'username': 'admin', 'groups': ['system:masters']}%s%s%s%s%s%s}}",
		 kind, op, object ? ", 'object': " : "", object ? object : "", old_object ? ", 'oldObject': " : "",
		 old_object ? old_object : "", extra ? ", " : "", extra ? extra : "");
	for (char *p = s; *p; p++) {
		if (*p == '\'')
			*p = '"';
	}
	return s;
}

static struct result run(enum admission_endpoint ep, const char *op, const char *object, const char *old_object,
			 const char *extra)
{
	const char *kind = ep == MUTATE_SPINAPP || ep == VALIDATE_SPINAPP ? "SpinApp" : "SpinAppExecutor";
	char *body = review_text(op, kind, object, old_object, extra);
	struct result r = run_body(ep, 0, body, strlen(body));
	free(body);
	return r;
}

#define APP(spec) "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'metadata': {'name': " \
		  "'my-app', 'namespace': 'default', 'uid': 'u1'}, 'spec': " spec "}"
#define GOOD_SPEC "{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/spinkube/hello:v1', 'replicas': 1}"
#define EXEC(spec) "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinAppExecutor', 'metadata': {'name': " \
		   "'e', 'namespace': 'default'}, 'spec': " spec "}"

static const char *status_str(const struct result *r, const char *key)
{
	return json_string_value(json_object_get(json_object_get(r->response, "status"), key));
}

static json_int_t status_code(const struct result *r)
{
	return json_integer_value(json_object_get(json_object_get(r->response, "status"), "code"));
}

static int b64val(char c)
{
	const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = strchr(tab, c);
	return c && p ? (int)(p - tab) : -1;
}

/* The decoded patch of a response (standard base64 with padding). */
static json_t *decoded_patch(const struct result *r)
{
	const char *b64 = json_string_value(json_object_get(r->response, "patch"));
	size_t n = strlen(b64), o = 0;
	unsigned char *out = malloc(n);
	json_t *ops;

	assert_non_null(out);
	assert_int_equal(n % 4, 0);
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		for (int k = 0; k < 4; k++)
			v[k] = b64[i + k] == '=' ? 0 : b64val(b64[i + k]);
		for (int k = 0; k < 4; k++)
			assert_true(v[k] >= 0);
		unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
		out[o++] = (unsigned char)(w >> 16);
		if (b64[i + 2] != '=')
			out[o++] = (unsigned char)(w >> 8);
		if (b64[i + 3] != '=')
			out[o++] = (unsigned char)w;
	}
	ops = json_loadb((const char *)out, o, 0, NULL);
	free(out);
	assert_non_null(ops);
	return ops;
}

/* ======================================================================================================
 * Responses that allow
 * ====================================================================================================== */

static void test_valid_app_is_allowed_and_uid_echoed(void **state)
{
	struct result r = run(VALIDATE_SPINAPP, "CREATE", APP(GOOD_SPEC), NULL, NULL);
	(void)state;

	assert_int_equal(r.http, 200);
	expect(json_string_value(json_object_get(r.review, "apiVersion")), "admission.k8s.io/v1");
	expect(json_string_value(json_object_get(r.review, "kind")), "AdmissionReview");
	assert_null(json_object_get(r.review, "request"));
	/* controller-runtime's Allowed("") after Response.Complete. */
	check_json(r.response, "{'uid': '" UID "', 'allowed': true, 'status': {'metadata': {}, 'code': 200}}");
	result_free(&r);
}

static void test_defaulting_patch_round_trip(void **state)
{
	const char *object = APP("{'image': 'ghcr.io/spinkube/hello:v1', 'replicas': 2}");
	struct result r = run(MUTATE_SPINAPP, "CREATE", object, NULL, NULL);
	json_t *ops, *doc;
	(void)state;

	assert_int_equal(r.http, 200);
	assert_true(json_is_true(json_object_get(r.response, "allowed")));
	expect(json_string_value(json_object_get(r.response, "uid")), UID);
	expect(json_string_value(json_object_get(r.response, "patchType")), "JSONPatch");
	assert_int_equal(status_code(&r), 200);
	expect(last_list_ns, "default");
	ops = decoded_patch(&r);
	/* The first executor of the app's own namespace ("other" has "aaa"). */
	check_json(ops, "[{'op': 'add', 'path': '/spec/executor', 'value': 'containerd-shim-spin'}]");
	doc = J(object);
	assert_int_equal(jsonpatch_apply(doc, ops), SO_OK);
	check_json(doc, APP("{'image': 'ghcr.io/spinkube/hello:v1', 'replicas': 2, 'executor': "
			    "'containerd-shim-spin'}"));
	json_decref(doc);
	json_decref(ops);
	result_free(&r);

	/* An empty executor is replaced; the namespace comes from the request when the object has none. */
	r = run(MUTATE_SPINAPP, "UPDATE", "{'kind': 'SpinApp', 'metadata': {'name': 'x'}, 'spec': {'executor': ''}}",
		NULL, NULL);
	ops = decoded_patch(&r);
	check_json(ops, "[{'op': 'replace', 'path': '/spec/executor', 'value': 'containerd-shim-spin'}]");
	json_decref(ops);
	result_free(&r);

	/* As kubectl apply sends it (managedFields, the last-applied annotation, in object and oldObject): the
	 * same patch, which applies to the object as sent (reviewslim.h drops those members before decoding). */
	const char *full = "{'kind': 'SpinApp', 'metadata': {'name': 'x', 'annotations': {"
			   "'kubectl.kubernetes.io/last-applied-configuration': '{}', 'team': 'a'}, 'managedFields': "
			   "[{'manager': 'kubectl', 'fieldsV1': {'f:spec': {}}}]}, 'spec': {'image': 'i:1'}}";
	r = run(MUTATE_SPINAPP, "UPDATE", full, full, NULL);
	ops = decoded_patch(&r);
	check_json(ops, "[{'op': 'add', 'path': '/spec/executor', 'value': 'containerd-shim-spin'}]");
	doc = J(full);
	assert_int_equal(jsonpatch_apply(doc, ops), SO_OK);
	assert_non_null(json_object_get(json_object_get(doc, "metadata"), "managedFields"));
	json_decref(doc);
	json_decref(ops);
	result_free(&r);
}

static void test_defaulting_leaves_set_executor_alone(void **state)
{
	struct result r = run(MUTATE_SPINAPP, "CREATE", APP("{'executor': 'cyclotron', 'replicas': 2}"), NULL, NULL);
	(void)state;

	check_json(r.response, "{'uid': '" UID "', 'allowed': true, 'status': {'metadata': {}, 'code': 200}}");
	result_free(&r);
	/* Executor defaulting is a no-op. */
	r = run(MUTATE_EXECUTOR, "CREATE", EXEC("{'createDeployment': true}"), NULL, NULL);
	check_json(r.response, "{'uid': '" UID "', 'allowed': true, 'status': {'metadata': {}, 'code': 200}}");
	result_free(&r);
}

static void test_defaulting_without_executors(void **state)
{
	const char *object = "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'metadata': {'name': "
			     "'a', 'namespace': 'lonely'}, 'spec': {'image': 'ghcr.io/a/b:v1', 'replicas': 1}}";
	struct result r = run(MUTATE_SPINAPP, "CREATE", object, NULL, NULL);
	(void)state;

	/* Allowed, unpatched, with a warning; the validating webhook then gives upstream's message. */
	assert_true(json_is_true(json_object_get(r.response, "allowed")));
	assert_null(json_object_get(r.response, "patch"));
	assert_null(json_object_get(r.response, "patchType"));
	check_json(json_object_get(r.response, "warnings"),
		   "['no SpinAppExecutor exists in namespace \\\"lonely\\\", so spec.executor was not defaulted']");
	result_free(&r);
	r = run(VALIDATE_SPINAPP, "CREATE", object, NULL, NULL);
	assert_false(json_is_true(json_object_get(r.response, "allowed")));
	expect(status_str(&r, "message"),
	       "SpinApp.core.spinkube.dev \"a\" is invalid: spec.executor: Invalid value: \"\": executor must be set, "
	       "likely no default executor was set because you have no executors installed");
	result_free(&r);
}

static void test_defaulting_list_failure_denies(void **state)
{
	struct result r;
	(void)state;

	list_fail = 1;
	r = run(MUTATE_SPINAPP, "CREATE", APP("{'image': 'x'}"), NULL, NULL);
	list_fail = 0;
	/* admission.Denied(err.Error()): the text in reason, code 403. */
	check_json(r.response, "{'uid': '" UID "', 'allowed': false, 'status': {'metadata': {}, 'reason': "
			       "'spinappexecutors.core.spinkube.dev is forbidden', 'code': 403}}");
	result_free(&r);
}

/* ======================================================================================================
 * Responses that deny
 * ====================================================================================================== */

static void test_no_executor_message_exact(void **state)
{
	struct result r = run(VALIDATE_SPINAPP, "CREATE", APP("{'image': 'ghcr.io/spinkube/hello:v1', 'replicas': 2}"),
			      NULL, NULL);
	(void)state;

	/* The apiserver relays this as: admission webhook "vspinapp.kb.io" denied the request: <message>. */
	check_json(r.response,
		   "{'uid': '" UID "', 'allowed': false, 'status': {'metadata': {}, 'status': 'Failure', 'message': "
		   "'SpinApp.core.spinkube.dev \\\"my-app\\\" is invalid: spec.executor: Invalid value: \\\"\\\": "
		   "executor must be set, likely no default executor was set because you have no executors installed', "
		   "'reason': 'Invalid', 'details': {'name': 'my-app', 'group': 'core.spinkube.dev', 'kind': 'SpinApp', "
		   "'causes': [{'reason': 'FieldValueInvalid', 'message': 'Invalid value: \\\"\\\": executor must be "
		   "set, likely no default executor was set because you have no executors installed', 'field': "
		   "'spec.executor'}]}, 'code': 422}}");
	expect(admission_webhook_name(VALIDATE_SPINAPP), "vspinapp.kb.io");
	result_free(&r);
}

static void test_aggregated_message(void **state)
{
	struct result r = run(VALIDATE_SPINAPP, "UPDATE",
			      APP("{'executor': 'cyclotron', 'image': 'ghcr.io/a/b:v1', 'replicas': -1, "
				  "'invocationLimits': {'memory': '5x'}}"),
			      APP(GOOD_SPEC), NULL);
	json_t *causes;
	(void)state;

	expect(status_str(&r, "message"),
	       "SpinApp.core.spinkube.dev \"my-app\" is invalid: [spec.executor: Invalid value: \"cyclotron\": executor "
	       "does not exist in namespace, spec.replicas: Invalid value: -1: replicas must be >= 0, "
	       "spec.invocationLimits[memory]: Invalid value: \"5x\": memory limit must be a valid memory quantity "
	       "(e.g. 128Mi, 1Gi)]");
	expect(status_str(&r, "reason"), "Invalid");
	assert_int_equal(status_code(&r), 422);
	causes = json_object_get(json_object_get(json_object_get(r.response, "status"), "details"), "causes");
	assert_int_equal(json_array_size(causes), 3);
	expect(json_string_value(json_object_get(json_array_get(causes, 1), "field")), "spec.replicas");
	result_free(&r);
}

static void test_executor_review_messages(void **state)
{
	struct result r;
	(void)state;

	r = run(VALIDATE_EXECUTOR, "CREATE",
		EXEC("{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'foo', 'spinImage': "
		     "'ghcr.io/fermyon/spin:v2.7.0'}}"),
		NULL, NULL);
	expect(status_str(&r, "message"),
	       "SpinAppExecutor.core.spinkube.dev \"e\" is invalid: spec.deploymentConfig.runtimeClassName: Invalid "
	       "value: \"foo\": runtimeClassName and spinImage are mutually exclusive");
	result_free(&r);
	r = run(VALIDATE_EXECUTOR, "CREATE", EXEC("{'createDeployment': true, 'deploymentConfig': {}}"), NULL, NULL);
	expect(status_str(&r, "message"),
	       "SpinAppExecutor.core.spinkube.dev \"e\" is invalid: spec.deploymentConfig.runtimeClassName: Invalid "
	       "value: null: either runtimeClassName or spinImage must be set");
	result_free(&r);
	r = run(VALIDATE_EXECUTOR, "UPDATE", EXEC("{'createDeployment': false}"), EXEC("{'createDeployment': true}"),
		NULL);
	assert_true(json_is_true(json_object_get(r.response, "allowed")));
	result_free(&r);
}

/* A review whose object is a SpinApp with spec (stolen), as compact JSON text. */
static char *big_review(const char *op, json_t *spec, json_t *metadata_extra)
{
	json_t *meta = json_pack("{s:s, s:s}", "name", "my-app", "namespace", "default");
	if (metadata_extra)
		json_object_update(meta, metadata_extra);
	json_t *doc = json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:s, s:s, s:s, s:{s:s, s:s, "
				"s:o, s:o}}}",
				"apiVersion", "admission.k8s.io/v1", "kind", "AdmissionReview", "request", "uid", UID,
				"kind", "group", "core.spinkube.dev", "version", "v1alpha1", "kind", "SpinApp",
				"resource", "group", "core.spinkube.dev", "version", "v1alpha1", "resource", "spinapps",
				"name", "my-app", "namespace", "default", "operation", op, "object", "apiVersion",
				"core.spinkube.dev/v1alpha1", "kind", "SpinApp", "metadata", meta, "spec", spec);
	assert_non_null(doc);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	json_decref(metadata_extra);
	assert_non_null(text);
	return text;
}

/* A hostile review cannot make a huge answer: values are cut, errors and warnings counted past a bound, objects
 * etcd would refuse are refused first, and every answer fits ADMISSION_RESPONSE_CAP (run_body's buffer). */
static void test_hostile_reviews_stay_bounded(void **state)
{
	(void)state;
	/* An image of 1.2 MB: quoted up to FIELD_VALUE_SHOWN bytes, then "...". */
	size_t n = 1200 * 1000;
	char *image = malloc(n + 1);
	memset(image, 'A', n);
	image[n] = '\0';
	char *body = big_review("CREATE", json_pack("{s:s, s:s, s:i}", "executor", "containerd-shim-spin", "image", image,
						    "replicas", 1),
				NULL);
	struct result r = run_body(VALIDATE_SPINAPP, 0, body, strlen(body));
	const char *msg = status_str(&r, "message");
	char want[FIELD_VALUE_SHOWN + 128];
	snprintf(want, sizeof want, "spec.image: Invalid value: \"%.*s...: ", FIELD_VALUE_SHOWN - 1, image);
	if (!strstr(msg, want))
		fail_msg("message does not quote the image cut at %d bytes: %.300s", FIELD_VALUE_SHOWN, msg);
	assert_true(r.body.len < 16 * 1024);
	result_free(&r);
	free(body);
	free(image);

	/* 5,000 bad variable names: the first FIELD_LIST_MAX errors, then a count of the rest. */
	json_t *vars = json_array();
	for (int i = 0; i < 5000; i++)
		json_array_append_new(vars, json_pack("{s:s+}", "name", "BAD-", i % 2 ? "x" : "y"));
	body = big_review("CREATE", json_pack("{s:s, s:s, s:i, s:o}", "executor", "containerd-shim-spin", "image",
					      "ghcr.io/a/b:v1", "replicas", 1, "variables", vars),
			  NULL);
	r = run_body(VALIDATE_SPINAPP, 0, body, strlen(body));
	msg = status_str(&r, "message");
	snprintf(want, sizeof want, ", and %d more errors]", 5000 - FIELD_LIST_MAX);
	if (!strstr(msg, want))
		fail_msg("no \"%s\" in %.200s", want, msg);
	assert_int_equal(json_array_size(json_object_get(json_object_get(json_object_get(r.response, "status"),
									   "details"),
							 "causes")),
			 FIELD_LIST_MAX);
	assert_true(json_array_size(json_object_get(r.response, "warnings")) <= ADMISSION_MAX_WARNINGS);
	result_free(&r);
	free(body);

	/* An object over etcd's limit is refused before the rules read it, on both endpoints. */
	n = ADMISSION_MAX_OBJECT;
	char *note = malloc(n + 1);
	memset(note, 'n', n);
	note[n] = '\0';
	for (int m = 0; m < 2; m++) {
		body = big_review("CREATE", json_pack("{s:s, s:s, s:i}", "executor", "containerd-shim-spin", "image",
						      "ghcr.io/a/b:v1", "replicas", 1),
				  json_pack("{s:{s:s}}", "annotations", "note", note));
		r = run_body(m ? MUTATE_SPINAPP : VALIDATE_SPINAPP, 0, body, strlen(body));
		assert_false(json_is_true(json_object_get(r.response, "allowed")));
		assert_int_equal(json_integer_value(json_object_get(json_object_get(r.response, "status"), "code")), 413);
		assert_non_null(strstr(status_str(&r, "message"), "more than the 1572864 bytes etcd stores"));
		assert_null(json_object_get(r.response, "patch"));
		result_free(&r);
		free(body);
	}
	free(note);
}

static void test_stricter_checks_and_upstream_only(void **state)
{
	char *body = review_text("CREATE", "SpinApp",
				 APP("{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1', 'replicas': 1, "
				     "'volumes': [{'name': 'spin-ca'}]}"),
				 NULL, NULL);
	struct result r = run_body(VALIDATE_SPINAPP, 0, body, strlen(body));
	(void)state;

	expect(status_str(&r, "message"),
	       "SpinApp.core.spinkube.dev \"my-app\" is invalid: spec.volumes[0].name: Invalid value: \"spin-ca\": "
	       "the name of a volume the operator adds");
	result_free(&r);
	r = run_body(VALIDATE_SPINAPP, ADMISSION_UPSTREAM_ONLY, body, strlen(body));
	assert_true(json_is_true(json_object_get(r.response, "allowed")));
	result_free(&r);
	free(body);
}

static void test_warnings_on_allowed(void **state)
{
	struct result r = run(VALIDATE_SPINAPP, "CREATE",
			      APP("{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1', 'replicas': 1, "
				  "'variables': [{'name': 'Greetee', 'value': 'x'}]}"),
			      NULL, NULL);
	(void)state;

	check_json(r.response, "{'uid': '" UID "', 'allowed': true, 'status': {'metadata': {}, 'code': 200}, "
			       "'warnings': ['spec.variables[0].name \\\"Greetee\\\": Spin sees this variable as "
			       "\\\"greetee\\\"']}");
	result_free(&r);
}

/* ======================================================================================================
 * Operations, dryRun, decoding failures
 * ====================================================================================================== */

static void test_delete_connect_and_unknown_operations(void **state)
{
	struct result r;
	(void)state;

	/* DELETE: the object being deleted is oldObject; upstream's ValidateDelete allows. */
	r = run(VALIDATE_SPINAPP, "DELETE", NULL, APP("{'replicas': 0}"), NULL);
	check_json(r.response, "{'uid': '" UID "', 'allowed': true, 'status': {'metadata': {}, 'code': 200}}");
	result_free(&r);
	r = run(VALIDATE_SPINAPP, "DELETE", NULL, NULL, NULL);
	check_json(r.response, "{'uid': '" UID "', 'allowed': false, 'status': {'metadata': {}, 'message': "
			       "'there is no content to decode', 'code': 400}}");
	result_free(&r);
	r = run(MUTATE_SPINAPP, "DELETE", NULL, NULL, NULL);
	check_json(r.response, "{'uid': '" UID "', 'allowed': true, 'status': {'metadata': {}, 'code': 200}}");
	result_free(&r);
	r = run(VALIDATE_EXECUTOR, "CONNECT", NULL, NULL, NULL);
	check_json(r.response, "{'uid': '" UID "', 'allowed': true, 'status': {'metadata': {}, 'code': 200}}");
	result_free(&r);
	r = run(VALIDATE_SPINAPP, "PATCH", APP(GOOD_SPEC), NULL, NULL);
	check_json(r.response, "{'uid': '" UID "', 'allowed': false, 'status': {'metadata': {}, 'message': "
			       "'unknown operation \\\"PATCH\\\"', 'code': 400}}");
	result_free(&r);
	/* CREATE without an object: controller-runtime's decoder error. */
	r = run(VALIDATE_SPINAPP, "CREATE", NULL, NULL, NULL);
	expect(status_str(&r, "message"), "there is no content to decode");
	result_free(&r);
	r = run(MUTATE_SPINAPP, "CREATE", "null", NULL, NULL);
	expect(status_str(&r, "message"), "there is no content to decode");
	result_free(&r);
	/* UPDATE decodes oldObject too. */
	r = run(VALIDATE_SPINAPP, "UPDATE", APP(GOOD_SPEC), NULL, NULL);
	expect(status_str(&r, "message"), "there is no content to decode");
	result_free(&r);
}

static void test_dry_run_accepted(void **state)
{
	struct result r = run(MUTATE_SPINAPP, "CREATE", APP("{'image': 'x'}"), NULL, "'dryRun': true");
	json_t *ops;
	(void)state;

	ops = decoded_patch(&r);
	check_json(ops, "[{'op': 'add', 'path': '/spec/executor', 'value': 'containerd-shim-spin'}]");
	json_decref(ops);
	result_free(&r);
	r = run(VALIDATE_SPINAPP, "CREATE", APP(GOOD_SPEC), NULL, "'dryRun': true, 'options': {'dryRun': ['All']}");
	assert_true(json_is_true(json_object_get(r.response, "allowed")));
	result_free(&r);
}

static void test_object_decode_failures(void **state)
{
	struct result r;
	(void)state;

	r = run(VALIDATE_SPINAPP, "CREATE", APP("{'executor': 'containerd-shim-spin', 'replicas': 'two'}"), NULL, NULL);
	check_json(r.response, "{'uid': '" UID "', 'allowed': false, 'status': {'metadata': {}, 'message': 'json: "
			       "cannot unmarshal string into Go struct field SpinAppSpec.spec.replicas of type int32', "
			       "'code': 400}}");
	result_free(&r);
	r = run(MUTATE_SPINAPP, "CREATE", APP("{'resources': {'limits': {'memory': '1 Gi'}}}"), NULL, NULL);
	expect(status_str(&r, "message"),
	       "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
	assert_int_equal(status_code(&r), 400);
	result_free(&r);
	/* An executor posted to the SpinApp webhook. */
	r = run(VALIDATE_SPINAPP, "CREATE", EXEC("{'createDeployment': true}"), NULL, NULL);
	expect(status_str(&r, "message"),
	       "unable to decode core.spinkube.dev/v1alpha1, Kind=SpinAppExecutor into *v1alpha1.SpinApp");
	result_free(&r);
	r = run(VALIDATE_EXECUTOR, "CREATE", "{'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'p'}}", NULL,
		NULL);
	expect(status_str(&r, "message"), "unable to decode /v1, Kind=Pod into *v1alpha1.SpinAppExecutor");
	result_free(&r);
	r = run(VALIDATE_SPINAPP, "CREATE", "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 7}", NULL, NULL);
	expect(status_str(&r, "message"), "couldn't get version/kind; json parse error: json: cannot unmarshal number "
					  "into Go struct field .kind of type string");
	result_free(&r);
	/* apiVersion and kind may be left out: they default to the webhook's type. */
	r = run(VALIDATE_SPINAPP, "CREATE", "{'metadata': {'name': 'n', 'namespace': 'default'}, 'spec': " GOOD_SPEC "}",
		NULL, NULL);
	assert_true(json_is_true(json_object_get(r.response, "allowed")));
	result_free(&r);
}

/* ======================================================================================================
 * Malformed bodies: HTTP 400 with a one-line reason
 * ====================================================================================================== */

static void check_400(const char *body, size_t len, const char *want_substring)
{
	struct result r = run_body(VALIDATE_SPINAPP, 0, body, len);
	assert_int_equal(r.http, 400);
	if (!strstr(r.body.data, want_substring))
		fail_msg("400 body \"%s\" lacks \"%s\"", r.body.data, want_substring);
	assert_int_equal(strncmp(r.body.data, "invalid AdmissionReview: ", 25), 0);
	result_free(&r);
}

static void check_400_literal(const char *literal, const char *want_substring)
{
	json_t *j = J(literal);
	char *s = json_dumps(j, JSON_ENCODE_ANY);
	check_400(s, strlen(s), want_substring);
	free(s);
	json_decref(j);
}

static void test_malformed_bodies(void **state)
{
	char *good = review_text("CREATE", "SpinApp", APP(GOOD_SPEC), NULL, NULL);
	(void)state;

	check_400("", 0, "the request body is empty");
	check_400(NULL, 0, "the request body is empty");
	check_400("not json", 8, "not valid JSON");
	check_400(good, strlen(good) / 2, "not valid JSON"); /* truncated */
	check_400(good, strlen(good) - 1, "not valid JSON");
	check_400("{\"a\": 1} trailing", 17, "not valid JSON");
	/* a review whose members to drop are fine but whose end is not: the position is in the body as sent */
	{
		char *review = review_text("CREATE", "SpinApp", "{'metadata': {'managedFields': [{'a': 1}]}}", NULL, NULL);
		size_t n = strlen(review);
		char *bad = malloc(n + 3), want[64];
		memcpy(bad, review, n);
		memcpy(bad + n, " x", 3);
		json_error_t jerr;
		assert_null(json_loadb(bad, n + 2, JSON_DECODE_ANY, &jerr));
		snprintf(want, sizeof want, "at byte %d", jerr.position);
		check_400(bad, n + 2, want);
		free(bad);
		free(review);
	}
	check_400("null", 4, "the body must be a JSON object, got null");
	check_400("[1]", 3, "the body must be a JSON object, got an array");
	check_400_literal("{'kind': 'AdmissionReview', 'request': {}}", "apiVersion must be \"admission.k8s.io/v1\"");
	check_400_literal("{'apiVersion': 'admission.k8s.io/v1beta1', 'kind': 'AdmissionReview', 'request': {}}",
			  "apiVersion must be \"admission.k8s.io/v1\", got \"admission.k8s.io/v1beta1\"");
	check_400_literal("{'apiVersion': 'admission.k8s.io/v1', 'kind': 'ConversionReview', 'request': {}}",
			  "kind must be \"AdmissionReview\", got \"ConversionReview\"");
	check_400_literal("{'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview'}",
			  "request must be an object");
	check_400_literal("{'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview', 'request': {'kind': "
			  "{'group': 'core.spinkube.dev', 'version': 'v1alpha1', 'kind': 'SpinApp'}, 'operation': "
			  "'CREATE'}}",
			  "request.uid must be a non-empty string");
	check_400_literal("{'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview', 'request': {'uid': '', "
			  "'kind': {'group': 'core.spinkube.dev', 'version': 'v1alpha1', 'kind': 'SpinApp'}, "
			  "'operation': 'CREATE'}}",
			  "request.uid must be a non-empty string");
	check_400_literal("{'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview', 'request': {'uid': 42}}",
			  "request.uid must be a non-empty string, got an integer");
	check_400_literal("{'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview', 'request': {'uid': 'u', "
			  "'operation': 'CREATE'}}",
			  "request.kind must be an object");
	check_400_literal("{'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview', 'request': {'uid': 'u', "
			  "'kind': {'group': 'core.spinkube.dev', 'version': 'v1alpha1', 'kind': 'SpinApp'}}}",
			  "request.operation must be a non-empty string");
	check_400_literal("{'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview', 'request': {'uid': 'u', "
			  "'kind': {'group': 'core.spinkube.dev', 'version': 'v1alpha1', 'kind': 'SpinApp'}, "
			  "'operation': 'CREATE', 'object': 'a string'}}",
			  "request.object must be a JSON object, got \"a string\"");
	check_400_literal("{'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview', 'request': {'uid': 'u', "
			  "'kind': {'group': 'core.spinkube.dev', 'version': 'v1alpha1', 'kind': 'SpinApp'}, "
			  "'operation': 'UPDATE', 'object': {}, 'oldObject': [1]}}",
			  "request.oldObject must be a JSON object, got an array");
	check_400_literal("{'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview', 'request': {'uid': 'u', "
			  "'kind': {'group': 'core.spinkube.dev', 'version': 'v1alpha1', 'kind': 'SpinApp'}, "
			  "'operation': 'CREATE', 'object': {}, 'dryRun': 'yes'}}",
			  "request.dryRun must be a boolean");
	/* A long offending value is quoted, cut short and kept on one line. */
	check_400_literal("{'apiVersion': 'admission.k8s.io/v1\\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			  "xxxxxxxxxxxxxxxxxx', 'kind': 'AdmissionReview'}",
			  "got \"admission.k8s.io/v1\\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"...");
	free(good);
}

static void test_body_size_cap(void **state)
{
	size_t big = (size_t)4 << 20;
	char *body = malloc(big), *good;
	(void)state;

	assert_non_null(body);
	/* 4 MiB of otherwise valid review (padded inside an annotation). */
	good = review_text("CREATE", "SpinApp", APP(GOOD_SPEC), NULL, "'pad': '");
	size_t n = strlen(good);
	memcpy(body, good, n);
	memset(body + n, 'x', big - n - 3);
	memcpy(body + big - 3, "\"}}", 3);
	check_400(body, big, "the request body is 4194304 bytes, more than the 3145728 allowed");
	/* Just under the cap is processed. */
	{
		size_t under = ADMISSION_MAX_BODY;
		memcpy(body + under - 3, "\"}}", 3);
		struct result r = run_body(VALIDATE_SPINAPP, 0, body, under);
		assert_int_equal(r.http, 200);
		assert_true(json_is_true(json_object_get(r.response, "allowed")));
		result_free(&r);
	}
	free(good);
	free(body);
}

static void test_endpoint_paths(void **state)
{
	enum admission_endpoint ep;
	(void)state;

	expect(admission_path(MUTATE_SPINAPP), "/mutate-core-spinkube-dev-v1alpha1-spinapp");
	expect(admission_path(VALIDATE_EXECUTOR), "/validate-core-spinkube-dev-v1alpha1-spinappexecutor");
	assert_int_equal(admission_endpoint_for_path("/validate-core-spinkube-dev-v1alpha1-spinapp", &ep), SO_OK);
	assert_int_equal(ep, VALIDATE_SPINAPP);
	assert_int_equal(admission_endpoint_for_path("/mutate-core-spinkube-dev-v1alpha1-spinappexecutor", &ep), SO_OK);
	assert_int_equal(ep, MUTATE_EXECUTOR);
	assert_int_equal(admission_endpoint_for_path("/mutate-core-spinkube-dev-v1alpha1-spinapp/", &ep), SO_E_INVAL);
	assert_int_equal(admission_endpoint_for_path("/convert", &ep), SO_E_INVAL);
	expect(admission_webhook_name(MUTATE_EXECUTOR), "mspinappexecutor.kb.io");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_app_is_allowed_and_uid_echoed),
		cmocka_unit_test(test_defaulting_patch_round_trip),
		cmocka_unit_test(test_defaulting_leaves_set_executor_alone),
		cmocka_unit_test(test_defaulting_without_executors),
		cmocka_unit_test(test_defaulting_list_failure_denies),
		cmocka_unit_test(test_no_executor_message_exact),
		cmocka_unit_test(test_aggregated_message),
		cmocka_unit_test(test_executor_review_messages),
		cmocka_unit_test(test_stricter_checks_and_upstream_only),
		cmocka_unit_test(test_hostile_reviews_stay_bounded),
		cmocka_unit_test(test_warnings_on_allowed),
		cmocka_unit_test(test_delete_connect_and_unknown_operations),
		cmocka_unit_test(test_dry_run_accepted),
		cmocka_unit_test(test_object_decode_failures),
		cmocka_unit_test(test_malformed_bodies),
		cmocka_unit_test(test_body_size_cap),
		cmocka_unit_test(test_endpoint_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
