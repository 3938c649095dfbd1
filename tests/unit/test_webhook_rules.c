/*
 * The webhook's rules (webhook/spinapp.c, webhook/executor.c) and the apimachinery renderings they rely on
 * (webhook/admission.c): every upstream check with upstream's exact message (contract §3.3–§3.4, upstream's
 * internal/webhook tests, §6.6), the aggregated rendering, each stricter check, defaulting, and Go's
 * resource.Quantity String()/Cmp(). JSON literals use ' for ".
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
#include "webhook/gofmt.h"
#include "webhook/field.h"
#include "webhook/spinapp.h"
#include "webhook/executor.h"
#include "webhook/admission_ctx.h"
#include "operator/kube/imageref.h"

/* ---- a fake cluster: executors by namespace ---- */

struct fake_executor {
	const char *ns, *name, *spec; /* spec as a JSON literal */
};

static const struct fake_executor cluster[] = {
	{ "default", "containerd-shim-spin", "{'createDeployment': true, 'deploymentConfig': "
					     "{'runtimeClassName': 'wasmtime-spin-v2'}}" },
	{ "default", "cyclotron", "{'createDeployment': false}" },
	{ "default", "spintainer", "{'createDeployment': true, 'deploymentConfig': {'spinImage': "
				   "'ghcr.io/fermyon/spin:v2.7.0'}}" },
	{ "default", "broken", "{'createDeployment': true}" },
	{ "other", "aaa-elsewhere", "{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'x'}}" },
	{ "solo", "zeta", "{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'x'}}" },
	{ "solo", "beta", "{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'x'}}" },
	{ "solo", "Beta", "{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'x'}}" },
};

static int list_fail;

static int fake_list(void *user, const char *ns, json_t *names, char *msg, size_t msglen)
{
	(void)user;
	if (list_fail) {
		snprintf(msg, msglen, "the cache is not synced");
		return SO_E_API_UNAVAILABLE;
	}
	for (size_t i = 0; i < sizeof cluster / sizeof cluster[0]; i++) {
		if (strcmp(cluster[i].ns, ns) == 0)
			json_array_append_new(names, json_string(cluster[i].name));
	}
	return SO_OK;
}

static int fake_get(void *user, const char *ns, const char *name, json_t **out)
{
	(void)user;
	for (size_t i = 0; i < sizeof cluster / sizeof cluster[0]; i++) {
		if (strcmp(cluster[i].ns, ns) == 0 && strcmp(cluster[i].name, name) == 0) {
			json_t *e = J("{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinAppExecutor'}");
			json_object_set_new(e, "metadata", json_pack("{s:s, s:s}", "name", name, "namespace", ns));
			json_object_set_new(e, "spec", J(cluster[i].spec));
			*out = e;
			return SO_OK;
		}
	}
	return SO_E_API_NOT_FOUND;
}

static struct admission_ctx ctx_with(unsigned flags)
{
	struct admission_ctx c = { .endpoint = VALIDATE_SPINAPP, .list_executors = fake_list, .get_executor = fake_get,
				   .flags = flags };
	return c;
}

/* ---- helpers ---- */

/* The aggregated message of validating app (an app literal), "" when it passes. */
static char *validate_app_with(const char *app_text, unsigned flags, json_t *warnings)
{
	struct admission_ctx c = ctx_with(flags);
	struct field_list errs = { 0 };
	struct buf out = BUF_INIT(1 << 20);
	json_t *app = J(app_text);
	char *s;

	assert_int_equal(spinapp_validate(app, "default", &c, &errs, warnings), SO_OK);
	assert_int_equal(field_list_aggregate(&errs, &out), SO_OK);
	s = strdup(out.data ? out.data : "");
	buf_free(&out);
	field_list_free(&errs);
	json_decref(app);
	return s;
}

static void expect(const char *got, const char *want)
{
	if (strcmp(got, want) != 0) {
		print_error("expected: %s\n     got: %s\n", want, got);
		fail();
	}
}

#define APP(spec) "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'metadata': {'name': " \
		  "'my-app', 'namespace': 'default'}, 'spec': " spec "}"
#define GOOD "'executor': 'containerd-shim-spin', 'image': 'ghcr.io/spinkube/hello:v1', 'replicas': 1"

static void check_app(const char *app_text, const char *want)
{
	char *got = validate_app_with(app_text, 0, NULL);
	expect(got, want);
	free(got);
}

static void check_app_upstream(const char *app_text, const char *want)
{
	char *got = validate_app_with(app_text, ADMISSION_UPSTREAM_ONLY, NULL);
	expect(got, want);
	free(got);
}

static char *validate_executor_with(const char *text, unsigned flags)
{
	struct field_list errs = { 0 };
	struct buf out = BUF_INIT(1 << 20);
	json_t *e = J(text), *warnings = json_array();
	char *s;

	executor_validate(e, flags, &errs, warnings);
	assert_int_equal(field_list_aggregate(&errs, &out), SO_OK);
	s = strdup(out.data ? out.data : "");
	buf_free(&out);
	field_list_free(&errs);
	json_decref(e);
	json_decref(warnings);
	return s;
}

#define EXEC(spec) "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinAppExecutor', 'metadata': {'name': " \
		   "'e', 'namespace': 'default'}, 'spec': " spec "}"

static void check_executor(const char *text, unsigned flags, const char *want)
{
	char *got = validate_executor_with(text, flags);
	expect(got, want);
	free(got);
}

/* ======================================================================================================
 * Go renderings
 * ====================================================================================================== */

static void check_quote(const char *in, size_t n, const char *want)
{
	struct buf b = BUF_INIT(4096);
	assert_int_equal(gofmt_quote(&b, in, n), SO_OK);
	expect(b.data, want);
	buf_free(&b);
}

static void test_go_quote(void **state)
{
	(void)state;
	check_quote("", 0, "\"\"");
	check_quote("cyclotron", 9, "\"cyclotron\"");
	check_quote("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	check_quote("l1\nl2\t\r\a\b\f\v", 11, "\"l1\\nl2\\t\\r\\a\\b\\f\\v\"");
	check_quote("\x01\x7f", 2, "\"\\x01\\x7f\"");
	check_quote("\xff" "a", 2, "\"\\xffa\"");
	check_quote("\xc3", 1, "\"\\xc3\"");                 /* truncated sequence */
	check_quote("\xed\xa0\x80", 3, "\"\\xed\\xa0\\x80\""); /* an encoded surrogate is invalid */
	check_quote("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", 14, "\"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80\"");
	check_quote("\xc2\xa0|\xe2\x80\xa8|\xef\xbb\xbf", 10, "\"\\u00a0|\\u2028|\\ufeff\"");
	check_quote("\xc2\x85", 2, "\"\\u0085\"");
	check_quote("\xf3\xa0\x80\x81", 4, "\"\\U000e0001\"");
	check_quote("a\0b", 3, "\"a\\x00b\"");
}

static void check_json_string(const char *in, size_t n, const char *want)
{
	struct buf b = BUF_INIT(4096);
	assert_int_equal(gofmt_json_string(&b, in, n), SO_OK);
	expect(b.data, want);
	buf_free(&b);
}

static void test_go_json(void **state)
{
	struct buf b = BUF_INIT(4096);
	json_t *m = J("{'z': 'last', 'a': 'first', 'M': '<b>&amp;</b>', 'k\\u2028': 'v\\n'}");
	(void)state;

	check_json_string("foo", 3, "\"foo\"");
	check_json_string("<a&b>", 5, "\"\\u003ca\\u0026b\\u003e\"");
	check_json_string("q\"\\", 3, "\"q\\\"\\\\\"");
	check_json_string("\b\f\n\r\t\x01\x1f\x7f", 8, "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
	check_json_string("\xff" "x", 2, "\"\\ufffdx\"");
	check_json_string("\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9", 8, "\"\\u2028\\u2029\xc3\xa9\"");
	assert_int_equal(gofmt_json_string_map(&b, m), SO_OK);
	expect(b.data, "{\"M\":\"\\u003cb\\u003e\\u0026amp;\\u003c/b\\u003e\",\"a\":\"first\",\"k\\u2028\":\"v\\n\","
		       "\"z\":\"last\"}");
	buf_free(&b);
	json_decref(m);
}

static void test_field_rendering_and_aggregate(void **state)
{
	struct field_list l = { 0 };
	struct buf b = BUF_INIT(4096);
	(void)state;

	assert_int_equal(field_list_aggregate(&l, &b), SO_OK);
	expect(b.data ? b.data : "", "");
	field_invalid_int(&l, "spec.replicas", 0, "replicas must be > 0");
	buf_reset(&b);
	assert_int_equal(field_list_aggregate(&l, &b), SO_OK);
	expect(b.data, "spec.replicas: Invalid value: 0: replicas must be > 0");
	field_invalid_str(&l, "spec.executor", "cyclotron", "executor does not exist in namespace");
	field_add(&l, FIELD_REQUIRED, "spec.image", "\"\"", "an image");
	field_add(&l, FIELD_FORBIDDEN, "spec.x", NULL, "not here");
	field_add(&l, FIELD_DUPLICATE, "spec.volumes[1].name", "\"data\"", NULL);
	field_add(&l, FIELD_NOT_FOUND, "spec.y", "\"z\"", NULL);
	field_invalid_int(&l, "spec.replicas", 0, "replicas must be > 0"); /* a repeat: shown once */
	buf_reset(&b);
	assert_int_equal(field_list_aggregate(&l, &b), SO_OK);
	expect(b.data, "[spec.replicas: Invalid value: 0: replicas must be > 0, spec.executor: Invalid value: "
		       "\"cyclotron\": executor does not exist in namespace, spec.image: Required value: an image, "
		       "spec.x: Forbidden: not here, spec.volumes[1].name: Duplicate value: \"data\", spec.y: Not "
		       "found: \"z\"]");
	buf_reset(&b);
	assert_int_equal(field_error_body(&l.items[2], &b), SO_OK);
	expect(b.data, "Required value: an image");
	field_list_free(&l);
	buf_free(&b);
}

static void test_invalid_status(void **state)
{
	struct field_list l = { 0 };
	struct buf b = BUF_INIT(4096);
	json_t *st, *want;
	(void)state;

	field_invalid_str(&l, "spec.executor", "", "executor must be set");
	field_invalid_int(&l, "spec.replicas", -1, "replicas must be > 0");
	assert_int_equal(admission_invalid_message("core.spinkube.dev", "SpinApp", "we\"ird", &l, &b), SO_OK);
	expect(b.data, "SpinApp.core.spinkube.dev \"we\\\"ird\" is invalid: [spec.executor: Invalid value: \"\": "
		       "executor must be set, spec.replicas: Invalid value: -1: replicas must be > 0]");
	st = admission_invalid_status("core.spinkube.dev", "SpinApp", "a", &l);
	want = J("{'metadata': {}, 'status': 'Failure', 'message': 'SpinApp.core.spinkube.dev \\\"a\\\" is invalid: "
		 "[spec.executor: Invalid value: \\\"\\\": executor must be set, spec.replicas: Invalid value: -1: "
		 "replicas must be > 0]', 'reason': 'Invalid', 'details': {'name': 'a', 'group': 'core.spinkube.dev', "
		 "'kind': 'SpinApp', 'causes': [{'reason': 'FieldValueInvalid', 'message': 'Invalid value: \\\"\\\": "
		 "executor must be set', 'field': 'spec.executor'}, {'reason': 'FieldValueInvalid', 'message': "
		 "'Invalid value: -1: replicas must be > 0', 'field': 'spec.replicas'}]}, 'code': 422}");
	assert_true(json_equal(st, want));
	/* The core group has no ".group", and an empty name no details.name. */
	buf_reset(&b);
	assert_int_equal(admission_invalid_message("", "Pod", "", &l, &b), SO_OK);
	assert_int_equal(strncmp(b.data, "Pod \"\" is invalid: [", 20), 0);
	json_decref(st);
	st = admission_invalid_status("", "Pod", "", &l);
	assert_null(json_object_get(json_object_get(st, "details"), "name"));
	assert_null(json_object_get(json_object_get(st, "details"), "group"));
	json_decref(st);
	json_decref(want);
	field_list_free(&l);
	buf_free(&b);
}

/* ======================================================================================================
 * Upstream's checks (contract §3.3, upstream spinapp_validating_test.go)
 * ====================================================================================================== */

static void test_upstream_executor(void **state)
{
	(void)state;
	check_app(APP("{" GOOD "}"), "");
	check_app(APP("{'image': 'ghcr.io/a/b:v1', 'replicas': 1}"),
		  "spec.executor: Invalid value: \"\": executor must be set, likely no default executor was set "
		  "because you have no executors installed");
	check_app(APP("{'executor': '', 'image': 'ghcr.io/a/b:v1', 'replicas': 1}"),
		  "spec.executor: Invalid value: \"\": executor must be set, likely no default executor was set "
		  "because you have no executors installed");
	check_app(APP("{'executor': 'nope', 'image': 'ghcr.io/a/b:v1', 'replicas': 1}"),
		  "spec.executor: Invalid value: \"nope\": executor does not exist in namespace");
	/* Only the app's namespace counts. */
	check_app(APP("{'executor': 'aaa-elsewhere', 'image': 'ghcr.io/a/b:v1', 'replicas': 1}"),
		  "spec.executor: Invalid value: \"aaa-elsewhere\": executor does not exist in namespace");
}

static void test_upstream_replicas(void **state)
{
	(void)state;
	/* Omitted without autoscaling: still refused, but 0 itself now scales the app to zero (docs/compat.md). */
	check_app(APP("{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1'}"),
		  "spec.replicas: Required value: replicas must be set unless autoscaling is enabled (0 scales the app "
		  "to zero)");
	check_app(APP("{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1', 'replicas': null}"),
		  "spec.replicas: Required value: replicas must be set unless autoscaling is enabled (0 scales the app "
		  "to zero)");
	check_app(APP("{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1', 'replicas': 0}"), "");
	check_app_upstream(APP("{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1', 'replicas': 0}"), "");
	check_app(APP("{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1', 'replicas': -1}"),
		  "spec.replicas: Invalid value: -1: replicas must be >= 0");
	check_app_upstream(APP("{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1', 'replicas': -1}"),
			   "spec.replicas: Invalid value: -1: replicas must be >= 0");
	check_app(APP("{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1', 'replicas': 0, "
		      "'enableAutoscaling': true}"),
		  "");
	check_app(APP("{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1', 'replicas': 3, "
		      "'enableAutoscaling': true}"),
		  "spec.replicas: Invalid value: 3: replicas cannot be set when autoscaling is enabled");
	check_app(APP("{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1', 'enableAutoscaling': true}"),
		  "");
	check_app(APP("{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1', 'replicas': 2, "
		      "'enableAutoscaling': false}"),
		  "");
}

static void test_upstream_annotations(void **state)
{
	(void)state;
	/* A deployment-less executor rejects deploymentAnnotations first, then podAnnotations. */
	check_app(APP("{'executor': 'cyclotron', 'image': 'ghcr.io/a/b:v1', 'replicas': 1, "
		      "'deploymentAnnotations': {'key': 'asdf'}, 'podAnnotations': {'other': 'x'}}"),
		  "spec.deploymentAnnotations: Invalid value: {\"key\":\"asdf\"}: deploymentAnnotations can't be set "
		  "when the executor does not use operator deployments");
	check_app(APP("{'executor': 'cyclotron', 'image': 'ghcr.io/a/b:v1', 'replicas': 1, "
		      "'podAnnotations': {'b': '2', 'a': '<1>'}}"),
		  "spec.podAnnotations: Invalid value: {\"a\":\"\\u003c1\\u003e\",\"b\":\"2\"}: podAnnotations can't "
		  "be set when the executor does not use operator deployments");
	check_app(APP("{'executor': 'cyclotron', 'image': 'ghcr.io/a/b:v1', 'replicas': 1, "
		      "'deploymentAnnotations': {}}"),
		  "");
	check_app(APP("{'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1', 'replicas': 1, "
		      "'deploymentAnnotations': {'key': 'asdf'}, 'podAnnotations': {'key': 'asdf'}}"),
		  "");
}

static void test_upstream_invocation_limits(void **state)
{
	(void)state;
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': '50Mi'}}"), "");
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': '50Mi'}, 'resources': {'requests': "
		      "{'memory': '40Mi'}}}"),
		  "spec.invocationLimits[memory]: Invalid value: \"50Mi\": invocation limit quantity cannot be greater "
		  "than the memory request (40Mi)");
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': '50Mi'}, 'resources': {'requests': "
		      "{'memory': '40Mi'}, 'limits': {'memory': '100Mi'}}}"),
		  "");
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': '50Mi'}, 'resources': {'limits': "
		      "{'memory': '100Mi'}}}"),
		  "");
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': '50Mi'}, 'resources': {'limits': "
		      "{'memory': '40Mi'}}}"),
		  "spec.invocationLimits[memory]: Invalid value: \"50Mi\": invocation limit quantity cannot be greater "
		  "than the memory limit (40Mi)");
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': '50Mi'}, 'resources': {'limits': "
		      "{'memory': '50Mi'}}}"),
		  "");
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': 'lots'}}"),
		  "spec.invocationLimits[memory]: Invalid value: \"lots\": memory limit must be a valid memory "
		  "quantity (e.g. 128Mi, 1Gi)");
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': ''}}"),
		  "spec.invocationLimits[memory]: Invalid value: \"\": memory limit must be a valid memory quantity "
		  "(e.g. 128Mi, 1Gi)");
	/* Both sides are printed the way Quantity.String() prints them. */
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': '1024Mi'}, 'resources': {'limits': "
		      "{'memory': '0.5Gi'}}}"),
		  "spec.invocationLimits[memory]: Invalid value: \"1Gi\": invocation limit quantity cannot be greater "
		  "than the memory limit (512Mi)");
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': '52428801'}, 'resources': {'limits': "
		      "{'memory': 52428800}}}"),
		  "spec.invocationLimits[memory]: Invalid value: \"52428801\": invocation limit quantity cannot be "
		  "greater than the memory limit (52428800)");
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': '52428801'}, 'resources': {'limits': "
		      "{'memory': '51200Ki'}}}"),
		  "spec.invocationLimits[memory]: Invalid value: \"52428801\": invocation limit quantity cannot be "
		  "greater than the memory limit (50Mi)");
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': '1G'}, 'resources': {'requests': "
		      "{'memory': '1000M'}}}"),
		  "");
	/* Other keys are not upstream's business (a warning comes from the stricter checks). */
	check_app(APP("{" GOOD ", 'invocationLimits': {'cpu': 'whatever'}}"), "");
}

static void test_upstream_aggregated_order(void **state)
{
	(void)state;
	/* executor, replicas, (annotations need an executor), invocation limits: upstream's order. */
	check_app(APP("{'image': 'ghcr.io/a/b:v1', 'invocationLimits': {'memory': 'x'}}"),
		  "[spec.executor: Invalid value: \"\": executor must be set, likely no default executor was set "
		  "because you have no executors installed, spec.replicas: Required value: replicas must be set unless "
		  "autoscaling is enabled (0 scales the app to zero), spec.invocationLimits[memory]: Invalid value: \"x\": memory limit must be a valid memory quantity "
		  "(e.g. 128Mi, 1Gi)]");
	check_app(APP("{'executor': 'cyclotron', 'image': 'ghcr.io/a/b:v1', 'replicas': -1, 'podAnnotations': "
		      "{'k': 'v'}}"),
		  "[spec.replicas: Invalid value: -1: replicas must be >= 0, spec.podAnnotations: Invalid value: "
		  "{\"k\":\"v\"}: podAnnotations can't be set when the executor does not use operator deployments]");
}

static void test_upstream_executor_validation(void **state)
{
	(void)state;
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'foo', "
			    "'spinImage': 'bar'}}"),
		       ADMISSION_UPSTREAM_ONLY,
		       "spec.deploymentConfig.runtimeClassName: Invalid value: \"foo\": runtimeClassName and spinImage "
		       "are mutually exclusive");
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'foo'}}"),
		       ADMISSION_UPSTREAM_ONLY, "");
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'spinImage': 'bar'}}"),
		       ADMISSION_UPSTREAM_ONLY, "");
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {}}"), ADMISSION_UPSTREAM_ONLY,
		       "spec.deploymentConfig.runtimeClassName: Invalid value: null: either runtimeClassName or "
		       "spinImage must be set");
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': null, "
			    "'installDefaultCACerts': true}}"),
		       ADMISSION_UPSTREAM_ONLY,
		       "spec.deploymentConfig.runtimeClassName: Invalid value: null: either runtimeClassName or "
		       "spinImage must be set");
	/* The BadValue is a *string, rendered by encoding/json (JSON escapes, not %q). */
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'a<b', "
			    "'spinImage': 'bar'}}"),
		       ADMISSION_UPSTREAM_ONLY,
		       "spec.deploymentConfig.runtimeClassName: Invalid value: \"a\\u003cb\": runtimeClassName and "
		       "spinImage are mutually exclusive");
	/* Upstream accepts createDeployment: true without deploymentConfig. */
	check_executor(EXEC("{'createDeployment': true}"), ADMISSION_UPSTREAM_ONLY, "");
	check_executor(EXEC("{'createDeployment': false}"), 0, "");
}

/* ======================================================================================================
 * Stricter checks
 * ====================================================================================================== */

static void test_stricter_image(void **state)
{
	static const char *const good[] = {
		"hello",
		"ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0",
		"localhost:5000/app:latest",
		"registry.example.com:443/team/app_name-x.y:1.0.0-rc.1",
		"docker.io/library/nginx",
		"[::1]:5000/app",
		"ttl.sh/abc__def--ghi:1h",
		"Registry.Example.COM/app",
		"ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"ghcr.io/a/b:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		/* what distribution/reference (and so containerd) accepts: go-digest's sha384 and sha512 too */
		"ghcr.io/a/b@sha384:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdef",
		"ghcr.io/a/b@sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	};
	static const char *const bad[] = {
		"ghcr.io/A/b:v1",
		"has space",
		"ghcr.io/a/b:",
		"ghcr.io/a/b:-tag",
		"ghcr.io//b",
		"/a",
		"a/",
		"ghcr.io/a/b@sha256:abc",
		"ghcr.io/a/b@md5:0123456789abcdef0123456789abcdef",
		"a..b",
		"a_-b",
		"-ab",
		"ghcr.io:/a",
		"ghcr.io/a/b:v1:v2",
		"https://ghcr.io/a/b",
		"[1.2.3.4]/x", /* distribution's IPv6 literal is hex and ':' only */
	};
	(void)state;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (!image_ref_valid(good[i]))
			fail_msg("rejected %s", good[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (image_ref_valid(bad[i]))
			fail_msg("accepted %s", bad[i]);
	}
	check_app(APP("{'executor': 'containerd-shim-spin', 'replicas': 1}"),
		  "spec.image: Required value: the app's OCI image reference, e.g. ghcr.io/spinframework/"
		  "containerd-shim-spin/examples/spin-rust-hello:v0.23.0");
	check_app(APP("{'executor': 'containerd-shim-spin', 'replicas': 1, 'image': ''}"),
		  "spec.image: Required value: the app's OCI image reference, e.g. ghcr.io/spinframework/"
		  "containerd-shim-spin/examples/spin-rust-hello:v0.23.0");
	check_app(APP("{'executor': 'containerd-shim-spin', 'replicas': 1, 'image': 'ghcr.io/Me/app'}"),
		  "spec.image: Invalid value: \"ghcr.io/Me/app\": " IMAGE_REFERENCE_MSG);
	/* Upstream alone accepts it. */
	check_app_upstream(APP("{'executor': 'containerd-shim-spin', 'replicas': 1, 'image': ''}"), "");
}

static void test_stricter_name_length(void **state)
{
	const char *n52 = "a234567890123456789012345678901234567890123456789012";
	char app[1024];
	(void)state;

	snprintf(app, sizeof app,
		 "{'metadata': {'name': '%s', 'namespace': 'default'}, 'spec': {" GOOD "}}", n52);
	check_app(app, "");
	snprintf(app, sizeof app,
		 "{'metadata': {'name': '%sx', 'namespace': 'default'}, 'spec': {" GOOD "}}", n52);
	check_app(app, "metadata.name: Invalid value: \"a234567890123456789012345678901234567890123456789012x\": "
		       "must be no more than 52 characters: the operator labels the app's pods with "
		       "\"core.spinkube.dev/app.<name>.status\", and a label name may not exceed 63 characters");
	check_app("{'metadata': {'generateName': 'a23456789012345678901234567890123456789012345678', 'namespace': "
		  "'default'}, 'spec': {" GOOD "}}",
		  "metadata.generateName: Invalid value: \"a23456789012345678901234567890123456789012345678\": must be "
		  "no more than 47 characters: the generated name (5 more) must fit in 52 characters, so that the "
		  "ready label \"core.spinkube.dev/app.<name>.status\" does not exceed 63 characters");
	check_app("{'metadata': {'generateName': 'a2345678901234567890123456789012345678901234567', 'namespace': "
		  "'default'}, 'spec': {" GOOD "}}",
		  "");
}

static void test_stricter_variables(void **state)
{
	json_t *warnings = json_array();
	char *got;
	(void)state;

	check_app(APP("{" GOOD ", 'variables': [{'name': 'greetee', 'value': 'SpinKube'}, {'name': 'platform_name', "
		      "'valueFrom': {'secretKeyRef': {'name': 's', 'key': 'k'}}}, {'name': 'a1_b2'}]}"),
		  "");
	check_app(APP("{" GOOD ", 'variables': [{'name': 'my-var'}]}"),
		  "spec.variables[0].name: Invalid value: \"my-var\": Spin variable names may contain only letters, "
		  "digits and '_'");
	check_app(APP("{" GOOD ", 'variables': [{'name': 'ok'}, {'name': '1st'}]}"),
		  "spec.variables[1].name: Invalid value: \"1st\": Spin variable names must start with a letter");
	check_app(APP("{" GOOD ", 'variables': [{'name': 'trailing_'}]}"),
		  "spec.variables[0].name: Invalid value: \"trailing_\": Spin variable names must end with a letter or "
		  "digit");
	check_app(APP("{" GOOD ", 'variables': [{'name': 'a__b'}]}"),
		  "spec.variables[0].name: Invalid value: \"a__b\": Spin variable names may not contain \"__\"");
	check_app(APP("{" GOOD ", 'variables': [{'name': ''}]}"),
		  "spec.variables[0].name: Invalid value: \"\": must not be empty");
	check_app(APP("{" GOOD ", 'variables': [{'name': 'v', 'value': 'x', 'valueFrom': {'fieldRef': "
		      "{'fieldPath': 'status.podIP'}}}]}"),
		  "spec.variables[0].valueFrom: Forbidden: may not be specified when value is not empty");
	check_app(APP("{" GOOD ", 'variables': [{'name': 'v', 'valueFrom': {}}]}"),
		  "spec.variables[0].valueFrom: Required value: must specify one of: configMapKeyRef, secretKeyRef, "
		  "fieldRef, resourceFieldRef or fileKeyRef");
	/* fileKeyRef (Kubernetes' EnvFiles, in upstream main's CRD) is a source like the others */
	check_app(APP("{" GOOD ", 'variables': [{'name': 'v', 'valueFrom': {'fileKeyRef': {'volumeName': 'cfg', "
		      "'path': 'app.env', 'key': 'v'}}}]}"),
		  "");
	check_app(APP("{" GOOD ", 'variables': [{'name': 'v', 'valueFrom': {'fileKeyRef': {'key': 'k'}, "
		      "'secretKeyRef': {'key': 'k'}}}]}"),
		  "spec.variables[0].valueFrom: Forbidden: may not have more than one field specified at a time");
	check_app(APP("{" GOOD ", 'variables': [{'name': 'v', 'valueFrom': {'secretKeyRef': {'key': 'k'}, "
		      "'configMapKeyRef': {'key': 'k'}}}]}"),
		  "spec.variables[0].valueFrom: Forbidden: may not have more than one field specified at a time");
	/* Upper case works (the operator upper-cases, Spin lower-cases), with a warning. */
	got = validate_app_with(APP("{" GOOD ", 'variables': [{'name': 'MY_VAR', 'value': 'x'}]}"), 0, warnings);
	expect(got, "");
	free(got);
	assert_int_equal(json_array_size(warnings), 1);
	expect(json_string_value(json_array_get(warnings, 0)),
	       "spec.variables[0].name \"MY_VAR\": Spin sees this variable as \"my_var\"");
	json_decref(warnings);
	check_app_upstream(APP("{" GOOD ", 'variables': [{'name': 'my-var'}]}"), "");
}

static void test_stricter_volumes(void **state)
{
	(void)state;
	check_app(APP("{" GOOD ", 'volumes': [{'name': 'data', 'emptyDir': {}}], 'volumeMounts': [{'name': 'data', "
		      "'mountPath': '/data'}]}"),
		  "");
	check_app(APP("{" GOOD ", 'volumes': [{'name': 'spin-ca', 'emptyDir': {}}]}"),
		  "spec.volumes[0].name: Invalid value: \"spin-ca\": the name of a volume the operator adds");
	/* upstream accepts other names with the prefix, and so do we */
	check_app(APP("{" GOOD ", 'volumes': [{'name': 'spin-data', 'emptyDir': {}}], 'volumeMounts': [{'name': "
		      "'spin-data', 'mountPath': '/data'}]}"),
		  "");
	check_app(APP("{" GOOD ", 'volumeMounts': [{'name': 'spin-runtime-config', 'mountPath': '/x'}]}"),
		  "spec.volumeMounts[0].name: Invalid value: \"spin-runtime-config\": the name of a volume the operator adds");
	check_app(APP("{" GOOD ", 'volumes': [{'name': 'd'}, {'name': 'd'}]}"),
		  "spec.volumes[1].name: Duplicate value: \"d\"");
	check_app(APP("{" GOOD ", 'volumes': [{'name': 'd'}], 'volumeMounts': [{'name': 'e', 'mountPath': '/e'}]}"),
		  "spec.volumeMounts[0].name: Invalid value: \"e\": must be the name of a volume in spec.volumes");
	check_app_upstream(APP("{" GOOD ", 'volumes': [{'name': 'spin-ca'}]}"), "");
}

static void test_stricter_autoscaler(void **state)
{
	json_t *warnings = json_array();
	char *got;
	(void)state;

#define AS "'executor': 'containerd-shim-spin', 'image': 'ghcr.io/a/b:v1', 'enableAutoscaling': true"
	check_app(APP("{" AS ", 'autoscaler': {'minReplicas': 2, 'maxReplicas': 5, "
		      "'targetCPUUtilizationPercentage': 60}}"),
		  "");
	check_app(APP("{" AS ", 'autoscaler': {'maxReplicas': 1}}"), "");
	check_app(APP("{" AS ", 'autoscaler': {'minReplicas': 4, 'maxReplicas': 3}}"),
		  "spec.autoscaler.maxReplicas: Invalid value: 3: must be greater than or equal to minReplicas (4)");
	check_app(APP("{" AS ", 'autoscaler': {'minReplicas': 0, 'maxReplicas': 3}}"),
		  "spec.autoscaler.minReplicas: Invalid value: 0: must be greater than or equal to 1");
	check_app(APP("{" AS ", 'autoscaler': {'maxReplicas': 0}}"),
		  "spec.autoscaler.maxReplicas: Invalid value: 0: must be greater than or equal to 1");
	check_app(APP("{" AS ", 'autoscaler': {'minReplicas': 2}}"),
		  "spec.autoscaler.maxReplicas: Required value: the largest number of replicas the autoscaler may set");
	check_app(APP("{" AS ", 'autoscaler': {'maxReplicas': 3, 'targetCPUUtilizationPercentage': 0, "
		      "'targetMemoryUtilizationPercentage': 1001}}"),
		  "[spec.autoscaler.targetCPUUtilizationPercentage: Invalid value: 0: must be between 1 and 1000, "
		  "spec.autoscaler.targetMemoryUtilizationPercentage: Invalid value: 1001: must be between 1 and 1000]");
	got = validate_app_with(APP("{" GOOD ", 'autoscaler': {'maxReplicas': 3}}"), 0, warnings);
	expect(got, "");
	free(got);
	expect(json_string_value(json_array_get(warnings, 0)),
	       "spec.autoscaler is ignored while spec.enableAutoscaling is false");
	json_decref(warnings);
#undef AS
}

/* spec.route (webhook/spinapp_route.c): the HTTPRoute CRD's rules, with the SpinApp's field paths. */
static void test_stricter_route(void **state)
{
	(void)state;
	check_app(APP("{" GOOD ", 'route': {'parentRefs': [{'name': 'gw', 'namespace': 'infra', 'sectionName': 'http',"
		      " 'port': 80, 'group': 'gateway.networking.k8s.io', 'kind': 'Gateway'}], 'hostnames': "
		      "['app.example.com', '*.example.com'], 'pathPrefixes': ['/', '/api/v1', '/a%20b']}}"),
		  "");
	check_app(APP("{" GOOD ", 'route': {'parentRefs': [{'name': 'gw'}]}}"), "");
	check_app(APP("{" GOOD ", 'route': {'parentRefs': []}}"),
		  "spec.route.parentRefs: Required value: at least one parent (a Gateway) for the HTTPRoute to attach to");
	check_app(APP("{" GOOD ", 'route': {'hostnames': ['a.example.com']}}"),
		  "spec.route.parentRefs: Required value: at least one parent (a Gateway) for the HTTPRoute to attach to");
	check_app(APP("{" GOOD ", 'route': {'parentRefs': [{'name': 'gw'}, {'namespace': 'x'}]}}"),
		  "spec.route.parentRefs[1].name: Required value: the name of the Gateway (or other parent) to attach to");
	check_app(APP("{" GOOD ", 'route': {'parentRefs': [{'name': 'gw', 'namespace': 'Infra', 'port': 0, "
		      "'sectionName': 'a_b', 'kind': '1Gateway'}]}}"),
		  "[spec.route.parentRefs[0].namespace: Invalid value: \"Infra\": a lowercase RFC 1123 label must "
		  "consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
		  "character, spec.route.parentRefs[0].sectionName: Invalid value: \"a_b\": " DNS1123_SUBDOMAIN_MSG
		  ", spec.route.parentRefs[0].kind: Invalid value: \"1Gateway\": must start with a letter, contain "
		  "only letters, digits or '-', and end with a letter or digit, spec.route.parentRefs[0].port: Invalid "
		  "value: 0: must be between 1 and 65535, inclusive]");
	static const char *const bad_hosts[] = { "Example.com", "10.0.0.1", "*", "a..b", "a.b.", "*.*.example.com",
						 "-a.example.com", "foo_bar.example.com" };
	for (size_t i = 0; i < sizeof bad_hosts / sizeof *bad_hosts; i++) {
		char app[1024], want[1024];
		snprintf(app, sizeof app, APP("{" GOOD ", 'route': {'parentRefs': [{'name': 'gw'}], 'hostnames': "
					      "['ok.example.com', '%s']}}"), bad_hosts[i]);
		snprintf(want, sizeof want, "spec.route.hostnames[1]: Invalid value: \"%s\": must be a lowercase DNS "
			 "name (RFC 1123) of at most 253 characters, optionally starting with a '*.' wildcard label; IP "
			 "addresses are not allowed", bad_hosts[i]);
		check_app(app, want);
	}
	static const struct {
		const char *path, *detail;
	} bad_paths[] = {
		{ "api", "must be an absolute path: must start with '/'" },
		{ "/a//b", "must not contain '//'" },
		{ "/a/./b", "must not contain '/./'" },
		{ "/a/../b", "must not contain '/../'" },
		{ "/a%2fb", "must not contain '%2f'" },
		{ "/a#b", "must not contain '#'" },
		{ "/a/..", "must not end with '/..'" },
		{ "/a/.", "must not end with '/.'" },
		{ "/a b", "must contain only letters, digits, the characters -._~!$&'()*+,;=:@/ and %-escapes" },
		{ "/a%zz", "must contain only letters, digits, the characters -._~!$&'()*+,;=:@/ and %-escapes" },
	};
	for (size_t i = 0; i < sizeof bad_paths / sizeof *bad_paths; i++) {
		char app[1024], want[1024];
		snprintf(app, sizeof app, APP("{" GOOD ", 'route': {'parentRefs': [{'name': 'gw'}], 'pathPrefixes': "
					      "['%s']}}"), bad_paths[i].path);
		snprintf(want, sizeof want, "spec.route.pathPrefixes[0]: Invalid value: \"%s\": %s", bad_paths[i].path,
			 bad_paths[i].detail);
		check_app(app, want);
	}
}

static void test_stricter_memory_probes_names(void **state)
{
	json_t *warnings = json_array();
	char *got;
	(void)state;

	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': '10E'}}"),
		  "spec.invocationLimits[memory]: Invalid value: \"10E\": must not be more than 8Ei "
		  "(9223372036854775807 bytes)");
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': '0'}}"),
		  "spec.invocationLimits[memory]: Invalid value: \"0\": must be greater than zero");
	check_app(APP("{" GOOD ", 'invocationLimits': {'memory': '-1Mi'}}"),
		  "spec.invocationLimits[memory]: Invalid value: \"-1Mi\": must be greater than zero");
	got = validate_app_with(APP("{" GOOD ", 'invocationLimits': {'memory': '64Mi', 'cpu': '1'}}"), 0, warnings);
	expect(got, "");
	free(got);
	expect(json_string_value(json_array_get(warnings, 0)),
	       "spec.invocationLimits[cpu] is ignored: only memory is understood");
	json_decref(warnings);

	check_app(APP("{" GOOD ", 'checks': {'readiness': {'httpGet': {'path': '/'}}, 'liveness': "
		      "{'periodSeconds': 3}}}"),
		  "spec.checks.liveness.httpGet: Required value: a health check needs httpGet, the only kind of probe "
		  "the operator builds");
	check_app(APP("{" GOOD ", 'serviceAccountName': 'Bad_Name'}"),
		  "spec.serviceAccountName: Invalid value: \"Bad_Name\": " DNS1123_SUBDOMAIN_MSG);
	check_app(APP("{" GOOD ", 'serviceAccountName': 'spin-apps.team-a'}"), "");
	check_app(APP("{" GOOD ", 'podLabels': {'bad key': 'x', 'example.com/ok': 'fine', 'tier': 'bad value!'}}"),
		  "[spec.podLabels: Invalid value: \"bad key\": must be a qualified name: an optional DNS subdomain "
		  "prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a "
		  "letter or digit, spec.podLabels[tier]: Invalid value: \"bad value!\": must be a valid label value: "
		  "empty, or at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit]");
	check_app(APP("{" GOOD ", 'serviceAnnotations': {'Example.com/x': 'any value at all'}}"),
		  "spec.serviceAnnotations: Invalid value: \"Example.com/x\": must be a qualified name: an optional DNS "
		  "subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending "
		  "with a letter or digit");
	check_app(APP("{" GOOD ", 'podAnnotations': {'example.com/x': 'any value at all', 'a': ''}}"), "");
}

static void test_stricter_unusable_executor(void **state)
{
	(void)state;
	check_app(APP("{'executor': 'broken', 'image': 'ghcr.io/a/b:v1', 'replicas': 1}"),
		  "spec.executor: Invalid value: \"broken\": the executor has createDeployment: true but no "
		  "deploymentConfig.runtimeClassName or deploymentConfig.spinImage, so no Deployment can be built for "
		  "the app");
	check_app(APP("{'executor': 'spintainer', 'image': 'ghcr.io/a/b:v1', 'replicas': 1}"), "");
	check_app_upstream(APP("{'executor': 'broken', 'image': 'ghcr.io/a/b:v1', 'replicas': 1}"), "");
}

static void test_stricter_after_upstream(void **state)
{
	(void)state;
	/* One aggregated message: upstream's errors first, then ours. */
	check_app(APP("{'executor': 'containerd-shim-spin', 'image': 'Bad Image', 'replicas': -1, 'variables': "
		      "[{'name': 'x-y'}], 'volumes': [{'name': 'spin-ca'}]}"),
		  "[spec.replicas: Invalid value: -1: replicas must be >= 0, spec.image: Invalid value: \"Bad Image\": "
		  IMAGE_REFERENCE_MSG ", spec.variables[0].name: Invalid value: \"x-y\": Spin variable names may "
		  "contain only letters, digits and '_', spec.volumes[0].name: Invalid value: \"spin-ca\": "
		  "the name of a volume the operator adds]");
	check_app_upstream(APP("{'executor': 'containerd-shim-spin', 'image': 'Bad Image', 'replicas': -1, "
			       "'variables': [{'name': 'x-y'}], 'volumes': [{'name': 'spin-ca'}]}"),
			   "spec.replicas: Invalid value: -1: replicas must be >= 0");
}

static void test_stricter_executor(void **state)
{
	(void)state;
	check_executor(EXEC("{'createDeployment': true}"), 0,
		       "spec.deploymentConfig: Required value: must be set when createDeployment is true: the operator "
		       "needs runtimeClassName or spinImage to build the apps' Deployments");
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'Wasmtime_Spin'}}"), 0,
		       "spec.deploymentConfig.runtimeClassName: Invalid value: \"Wasmtime_Spin\": " DNS1123_SUBDOMAIN_MSG);
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': ''}}"), 0,
		       "spec.deploymentConfig.runtimeClassName: Invalid value: \"\": " DNS1123_SUBDOMAIN_MSG);
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'spinImage': 'not an image'}}"), 0,
		       "spec.deploymentConfig.spinImage: Invalid value: \"not an image\": " IMAGE_REFERENCE_MSG);
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'spinImage': 'ghcr.io/fermyon/spin:v2.7.0', "
			    "'caCertSecret': 'My_CA'}}"),
		       0, "spec.deploymentConfig.caCertSecret: Invalid value: \"My_CA\": " DNS1123_SUBDOMAIN_MSG);
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'spinImage': 'ghcr.io/fermyon/spin:v2.7.0', "
			    "'runtimeClass': {'handler': 'spin'}}}"),
		       0,
		       "spec.deploymentConfig.runtimeClassName: Required value: must be set when runtimeClass is: it "
		       "names the RuntimeClass the operator creates");
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'wasmtime-spin-v2', "
			    "'runtimeClass': {'handler': 'Spin.V2'}}}"),
		       0,
		       "spec.deploymentConfig.runtimeClass.handler: Invalid value: \"Spin.V2\": must be a DNS-1123 label: "
		       "at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit");
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'wasmtime-spin-v2', "
			    "'runtimeClass': {}}}"),
		       0,
		       "spec.deploymentConfig.runtimeClass.handler: Required value: the containerd runtime handler of "
		       "the Spin shim, e.g. spin");
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'wasmtime-spin-v2', "
			    "'caCertSecret': 'spin-ca', 'installDefaultCACerts': true, 'runtimeClass': "
			    "{'handler': 'spin'}}}"),
		       0, "");
	/* Upstream's error first, then ours. */
	check_executor(EXEC("{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'A', 'spinImage': "
			    "'B'}}"),
		       0,
		       "[spec.deploymentConfig.runtimeClassName: Invalid value: \"A\": runtimeClassName and spinImage "
		       "are mutually exclusive, spec.deploymentConfig.runtimeClassName: Invalid value: \"A\": "
		       DNS1123_SUBDOMAIN_MSG ", spec.deploymentConfig.spinImage: Invalid value: \"B\": "
		       IMAGE_REFERENCE_MSG "]");
}

/* ======================================================================================================
 * Defaulting
 * ====================================================================================================== */

static void check_default(const char *app_text, const char *ns, const char *want_executor, int want_warning)
{
	struct admission_ctx c = ctx_with(0);
	json_t *app = J(app_text), *warnings = json_array();
	char msg[256];

	assert_int_equal(spinapp_default(app, ns, &c, warnings, msg, sizeof msg), SO_OK);
	if (want_executor)
		expect(json_string_value(json_object_get(json_object_get(app, "spec"), "executor")), want_executor);
	else
		assert_null(json_string_value(json_object_get(json_object_get(app, "spec"), "executor")));
	assert_int_equal(json_array_size(warnings), want_warning);
	json_decref(app);
	json_decref(warnings);
}

static void test_defaulting(void **state)
{
	struct admission_ctx c = ctx_with(0);
	json_t *app, *want;
	char msg[256];
	(void)state;

	/* Alphabetically first of the app's namespace ("other" has "aaa-elsewhere", which must not win). */
	check_default("{'metadata': {'name': 'a', 'namespace': 'default'}, 'spec': {'image': 'x'}}", "default",
		      "broken", 0);
	/* strings.Compare is bytewise: "Beta" < "beta" < "zeta". */
	check_default("{'metadata': {'name': 'a', 'namespace': 'solo'}, 'spec': {'image': 'x'}}", "solo", "Beta", 0);
	/* The request's namespace when the object has none. */
	check_default("{'metadata': {'name': 'a'}, 'spec': {'image': 'x'}}", "solo", "Beta", 0);
	/* A set executor is left alone, whatever exists. */
	check_default("{'metadata': {'name': 'a', 'namespace': 'default'}, 'spec': {'executor': 'mine'}}", "default",
		      "mine", 0);
	/* None in the namespace: left empty (the validator then says why), with a warning. */
	check_default("{'metadata': {'name': 'a', 'namespace': 'empty'}, 'spec': {'image': 'x'}}", "empty", NULL, 1);
	check_default("{'metadata': {'name': 'a', 'namespace': 'empty'}, 'spec': {'executor': ''}}", "empty", "", 1);
	/* Only spec.executor changes: replicas and the rest stay as they were. */
	app = J("{'metadata': {'name': 'a', 'namespace': 'default'}, 'spec': {'image': 'x', 'replicas': 2}}");
	assert_int_equal(spinapp_default(app, "default", &c, NULL, msg, sizeof msg), SO_OK);
	want = J("{'metadata': {'name': 'a', 'namespace': 'default'}, 'spec': {'image': 'x', 'replicas': 2, "
		 "'executor': 'broken'}}");
	assert_true(json_equal(app, want));
	json_decref(want);
	json_decref(app);
	/* A listing failure is returned with its message (the request is then denied). */
	list_fail = 1;
	app = J("{'metadata': {'name': 'a', 'namespace': 'default'}, 'spec': {}}");
	assert_int_equal(spinapp_default(app, "default", &c, NULL, msg, sizeof msg), SO_E_API_UNAVAILABLE);
	expect(msg, "the cache is not synced");
	json_decref(app);
	list_fail = 0;
}

/* ======================================================================================================
 * Decoding
 * ====================================================================================================== */

static void check_decode(const char *app_text, int spinapp, const char *want)
{
	struct buf msg = BUF_INIT(4096);
	json_t *obj = J(app_text);
	int rc = spinapp ? spinapp_check_decode(obj, &msg) : executor_check_decode(obj, &msg);

	if (!want) {
		if (rc != SO_OK)
			fail_msg("unexpected decode error: %s", msg.data);
	} else {
		assert_int_equal(rc, SO_E_INVAL);
		expect(msg.data, want);
	}
	buf_free(&msg);
	json_decref(obj);
}

static void test_decode(void **state)
{
	(void)state;
	check_decode(APP("{" GOOD ", 'variables': [{'name': 'a', 'value': 'b'}], 'resources': {'limits': {'memory': "
			 "'1Gi', 'cpu': 2}}, 'checks': {'readiness': {'httpGet': {'path': '/'}, 'periodSeconds': 3}}}"),
		     1, NULL);
	check_decode(APP("null"), 1, NULL);
	check_decode(APP("{'replicas': 'two'}"), 1,
		     "json: cannot unmarshal string into Go struct field SpinAppSpec.spec.replicas of type int32");
	check_decode(APP("{'replicas': 3000000000}"), 1,
		     "json: cannot unmarshal number 3000000000 into Go struct field SpinAppSpec.spec.replicas of type "
		     "int32");
	check_decode(APP("{'replicas': 1.5}"), 1,
		     "json: cannot unmarshal number 1.5 into Go struct field SpinAppSpec.spec.replicas of type int32");
	check_decode(APP("{'executor': 7}"), 1,
		     "json: cannot unmarshal number into Go struct field SpinAppSpec.spec.executor of type string");
	check_decode(APP("'text'"), 1,
		     "json: cannot unmarshal string into Go struct field SpinApp.spec of type v1alpha1.SpinAppSpec");
	check_decode("{'metadata': {'name': ['x']}}", 1,
		     "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.name of type string");
	check_decode(APP("{'podLabels': {'a': 1}}"), 1,
		     "json: cannot unmarshal number into Go struct field SpinAppSpec.spec.podLabels of type string");
	check_decode(APP("{'enableAutoscaling': 'yes'}"), 1,
		     "json: cannot unmarshal string into Go struct field SpinAppSpec.spec.enableAutoscaling of type bool");
	check_decode(APP("{'variables': ['x']}"), 1,
		     "json: cannot unmarshal string into Go struct field SpinAppSpec.spec.variables of type "
		     "v1alpha1.SpinVar");
	check_decode(APP("{'resources': {'limits': {'memory': '12 Mi'}}}"), 1,
		     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
	check_decode(APP("{'resources': {'requests': {'memory': '12iK'}}}"), 1, "unable to parse quantity's suffix");
	check_decode(APP("{'resources': {'requests': {'memory': true}}}"), 1,
		     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
	check_decode(EXEC("{'createDeployment': 'true'}"), 0,
		     "json: cannot unmarshal string into Go struct field SpinAppExecutorSpec.spec.createDeployment of "
		     "type bool");
	check_decode(EXEC("{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 5}}"), 0,
		     "json: cannot unmarshal number into Go struct field ExecutorDeploymentConfig.spec.deploymentConfig."
		     "runtimeClassName of type string");
	check_decode(EXEC("{'createDeployment': true, 'deploymentConfig': {'otel': {'exporter_otlp_endpoint': "
			  "{}}}}"),
		     0,
		     "json: cannot unmarshal object into Go struct field OtelConfig.spec.deploymentConfig.otel."
		     "exporter_otlp_endpoint of type string");
}

/* ======================================================================================================
 * resource.Quantity
 * ====================================================================================================== */

static void check_quantity(const char *in, const char *want_string)
{
	struct quantity q;
	struct buf b = BUF_INIT(256);
	const char *why;

	if (quantity_parse(in, &q, &why) != SO_OK)
		fail_msg("%s did not parse: %s", in, why);
	assert_int_equal(quantity_string(&q, &b), SO_OK);
	if (strcmp(b.data, want_string) != 0)
		fail_msg("%s printed as %s, want %s", in, b.data, want_string);
	quantity_free(&q);
	buf_free(&b);
}

static int cmp(const char *a, const char *b)
{
	struct quantity qa, qb;
	const char *why;
	int r;

	assert_int_equal(quantity_parse(a, &qa, &why), SO_OK);
	assert_int_equal(quantity_parse(b, &qb, &why), SO_OK);
	r = quantity_cmp(&qa, &qb);
	quantity_free(&qa);
	quantity_free(&qb);
	return r;
}

static void test_quantity(void **state)
{
	static const char *const table[][2] = {
		/* kept as written (ParseQuantity's canonical-input cases) */
		{ "50Mi", "50Mi" },
		{ "+50Mi", "+50Mi" },
		{ "050Mi", "050Mi" },
		{ "1Ki", "1Ki" },
		{ "512M", "512M" },
		{ "100m", "100m" },
		{ "1024", "1024" },
		{ "52428800", "52428800" },
		{ "1e3", "1e3" },
		{ "10E", "10E" },
		{ "0", "0" },
		/* canonicalized */
		{ "40Mi", "40Mi" },
		{ "8Ki", "8Ki" },
		{ "1024Mi", "1Gi" },
		{ "0.5Gi", "512Mi" },
		{ "1.5Gi", "1536Mi" },
		{ "0.1Ki", "102400m" },
		{ "1000", "1k" },
		{ "1000M", "1G" },
		{ "1.5G", "1500M" },
		{ "0.5", "500m" },
		{ "1.0", "1" },
		{ "1000e0", "1e3" },
		{ "1E3", "1E3" },
		{ "12e-1", "1200e-3" },
		{ "000", "0" },
		{ "0Ki", "0" },
		{ "-0", "0" },
		{ "-1.5", "-1500m" },
		{ "1n", "1n" },
		{ "0.0000000001", "1n" },
		{ "12345678901234567890", "12345678901234567890" },
		{ "1000Ki", "1000Ki" },
		{ "1023", "1023" },
		{ "1048576", "1048576" },
		{ "1Ei", "1Ei" },
		{ "8Ei", "9223372036854775807" }, /* binary quantities are capped at 2^63-1 */
		{ "9Ei", "9223372036854775807" },
		{ "1000E", "1" }, /* Go's quirk: no DecimalSI suffix for 10^21, so none is printed */
	};
	static const char *const invalid[][2] = {
		{ "", "quantities must match" },
		{ "abc", "quantities must match" },
		{ "1Z", "quantities must match" },
		{ "1.2.3", "quantities must match" },
		{ "12 Mi", "quantities must match" },
		{ "1iK", "unable to parse quantity's suffix" },
		{ "1e", "unable to parse quantity's suffix" },
		{ "1Mb", "quantities must match" },
		{ "Ei", "unable to parse numeric value" },
	};
	struct quantity q;
	const char *why;
	(void)state;

	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		check_quantity(table[i][0], table[i][1]);
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		if (quantity_parse(invalid[i][0], &q, &why) != SO_E_INVAL)
			fail_msg("%s parsed", invalid[i][0]);
		if (strncmp(why, invalid[i][1], strlen(invalid[i][1])) != 0)
			fail_msg("%s: %s", invalid[i][0], why);
	}
	assert_int_equal(cmp("50Mi", "40Mi"), 1);
	assert_int_equal(cmp("40Mi", "50Mi"), -1);
	assert_int_equal(cmp("1Gi", "1024Mi"), 0);
	assert_int_equal(cmp("1G", "1000M"), 0);
	assert_int_equal(cmp("100m", "1"), -1);
	assert_int_equal(cmp("-1", "0"), -1);
	assert_int_equal(cmp("-2", "-1"), -1);
	assert_int_equal(cmp("1e40", "1"), 1);
	assert_int_equal(cmp("1e40", "1e41"), 0); /* both beyond 128 bits of nano units */
	assert_int_equal(cmp("0.0000000001", "1n"), 0); /* rounded up to a nano */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_go_quote),
		cmocka_unit_test(test_go_json),
		cmocka_unit_test(test_field_rendering_and_aggregate),
		cmocka_unit_test(test_invalid_status),
		cmocka_unit_test(test_upstream_executor),
		cmocka_unit_test(test_upstream_replicas),
		cmocka_unit_test(test_upstream_annotations),
		cmocka_unit_test(test_upstream_invocation_limits),
		cmocka_unit_test(test_upstream_aggregated_order),
		cmocka_unit_test(test_upstream_executor_validation),
		cmocka_unit_test(test_stricter_image),
		cmocka_unit_test(test_stricter_name_length),
		cmocka_unit_test(test_stricter_variables),
		cmocka_unit_test(test_stricter_volumes),
		cmocka_unit_test(test_stricter_autoscaler),
		cmocka_unit_test(test_stricter_memory_probes_names),
		cmocka_unit_test(test_stricter_unusable_executor),
		cmocka_unit_test(test_stricter_after_upstream),
		cmocka_unit_test(test_stricter_route),
		cmocka_unit_test(test_stricter_executor),
		cmocka_unit_test(test_defaulting),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_quantity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
