/*
 * The admission wiring of image verification (struct admission_ctx.verify_image) with a fake verifier: when it
 * is called (CREATE; UPDATE only when spec.image changed or has no digest; never for DELETE or executors), the
 * pinning patch joining the defaulting patch, enforce denials (403 with the verifier's message), warn-mode
 * warnings, and the validating path (no patch, no repeated warning, denial kept). JSON literals use ' for ".
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
#include "webhook/verify/sigcheck.h"
#include "webhook/admission.h"
#include "webhook/admission_ctx.h"

#define PINNED "ghcr.io/acme/app:v1@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static struct {
	enum verify_image_decision decision;
	const char *pinned;
	int rc;
	int calls;
	char last_image[256], last_ns[64];
	int last_validating;
	const json_t *last_secrets_seen;
	char last_secret_name[64];
} fake;

static int fake_verify(void *user, const struct verify_image_check *in, struct verify_image_verdict *out)
{
	assert_ptr_equal(user, &fake);
	fake.calls++;
	snprintf(fake.last_image, sizeof fake.last_image, "%s", in->image);
	snprintf(fake.last_ns, sizeof fake.last_ns, "%s", in->ns ? in->ns : "");
	fake.last_validating = in->validating;
	snprintf(fake.last_secret_name, sizeof fake.last_secret_name, "%s",
		 in->pull_secrets ? json_string_value(json_object_get(json_array_get(in->pull_secrets, 0), "name")) : "");
	memset(out, 0, sizeof *out);
	out->decision = fake.decision;
	if (fake.decision != VERIFY_IMAGE_ADMIT)
		snprintf(out->message, sizeof out->message, "image %s (sha256:aaaa) is not verified: no signatures found",
			 in->image);
	if (fake.pinned && !in->validating)
		out->pinned = strdup(fake.pinned);
	return fake.rc;
}

static int fake_list(void *user, const char *ns, json_t *names, char *msg, size_t msglen)
{
	(void)user;
	(void)ns;
	(void)msg;
	(void)msglen;
	json_array_append_new(names, json_string("containerd-shim-spin"));
	return SO_OK;
}

static int fake_get(void *user, const char *ns, const char *name, json_t **out)
{
	(void)user;
	(void)ns;
	if (!strcmp(name, "containerd-shim-spin")) {
		*out = J("{'metadata': {'name': 'containerd-shim-spin'}, 'spec': {'createDeployment': true, "
			 "'deploymentConfig': {'runtimeClassName': 'wasmtime-spin-v2'}}}");
		return SO_OK;
	}
	return SO_E_API_NOT_FOUND;
}

static json_t *run(enum admission_endpoint ep, const char *op, const char *object, const char *old_object)
{
	struct admission_ctx ctx = { .endpoint = ep, .list_executors = fake_list, .get_executor = fake_get,
				     .verify_image = fake_verify, .verify_user = &fake };
	struct buf out = BUF_INIT(1 << 20);
	char body[8192];
	int http = 0;
	const char *kind = ep == MUTATE_EXECUTOR || ep == VALIDATE_EXECUTOR ? "SpinAppExecutor" : "SpinApp";

	snprintf(body, sizeof body,
		 "{'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview', 'request': {'uid': 'u1', 'kind': "
		 "{'group': 'core.spinkube.dev', 'version': 'v1alpha1', 'kind': '%s'}, 'namespace': 'team', "
		 "'operation': '%s'%s%s%s%s}}",
		 kind, op, object ? ", 'object': " : "", object ? object : "", old_object ? ", 'oldObject': " : "",
		 old_object ? old_object : "");
	for (char *p = body; *p; p++)
		if (*p == '\'')
			*p = '"';
	assert_int_equal(admission_handle(body, strlen(body), &ctx, &out, &http), SO_OK);
	assert_int_equal(http, 200);
	json_t *review = json_loads(out.data, 0, NULL);
	assert_non_null(review);
	json_t *resp = json_incref(json_object_get(review, "response"));
	json_decref(review);
	buf_free(&out);
	return resp;
}

#define APP(image) "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'metadata': {'name': 'a'}, " \
		   "'spec': {'image': '" image "', 'replicas': 1, 'imagePullSecrets': [{'name': 'regcred'}]}}"
#define APP_EXEC(image) "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'metadata': {'name': " \
			"'a'}, 'spec': {'image': '" image "', 'replicas': 1, 'executor': 'containerd-shim-spin'}}"

static json_t *patch_of(json_t *resp)
{
	const char *b64 = json_string_value(json_object_get(resp, "patch"));
	unsigned char *raw = NULL;
	size_t n = 0;
	assert_non_null(b64);
	assert_int_equal(sigcheck_b64_decode(b64, strlen(b64), &raw, &n), SO_OK);
	json_t *ops = json_loadb((const char *)raw, n, 0, NULL);
	free(raw);
	assert_non_null(ops);
	return ops;
}

static void reset(enum verify_image_decision d, const char *pinned)
{
	memset(&fake, 0, sizeof fake);
	fake.decision = d;
	fake.pinned = pinned;
}

static void mutate_pins_after_defaulting(void **state)
{
	(void)state;
	reset(VERIFY_IMAGE_ADMIT, PINNED);
	json_t *resp = run(MUTATE_SPINAPP, "CREATE", APP("ghcr.io/acme/app:v1"), NULL);
	assert_true(json_is_true(json_object_get(resp, "allowed")));
	assert_int_equal(fake.calls, 1);
	assert_string_equal(fake.last_image, "ghcr.io/acme/app:v1");
	assert_string_equal(fake.last_ns, "team");
	assert_string_equal(fake.last_secret_name, "regcred");
	assert_int_equal(fake.last_validating, 0);
	json_t *ops = patch_of(resp);
	/* the executor default and the pin, in one patch */
	check_json(ops, "[{'op': 'replace', 'path': '/spec/image', 'value': '" PINNED "'}, "
			"{'op': 'add', 'path': '/spec/executor', 'value': 'containerd-shim-spin'}]");
	json_decref(ops);
	json_decref(resp);
}

static void mutate_denies_in_enforce(void **state)
{
	(void)state;
	reset(VERIFY_IMAGE_DENY, NULL);
	json_t *resp = run(MUTATE_SPINAPP, "CREATE", APP_EXEC("ghcr.io/acme/app:v1"), NULL);
	check_json(resp, "{'uid': 'u1', 'allowed': false, 'status': {'metadata': {}, 'status': 'Failure', 'message': "
			 "'image ghcr.io/acme/app:v1 (sha256:aaaa) is not verified: no signatures found', 'reason': "
			 "'Forbidden', 'code': 403}}");
	json_decref(resp);
	/* No verdict at all (the callback failed): denied too. */
	reset(VERIFY_IMAGE_ADMIT, NULL);
	fake.rc = SO_E_INVAL;
	resp = run(MUTATE_SPINAPP, "CREATE", APP_EXEC("ghcr.io/acme/app:v1"), NULL);
	assert_true(json_is_false(json_object_get(resp, "allowed")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(resp, "status"), "code")), 403);
	json_decref(resp);
}

static void mutate_warns_in_warn_mode(void **state)
{
	(void)state;
	reset(VERIFY_IMAGE_WARN, NULL);
	json_t *resp = run(MUTATE_SPINAPP, "CREATE", APP_EXEC("ghcr.io/acme/app:v1"), NULL);
	assert_true(json_is_true(json_object_get(resp, "allowed")));
	check_json(json_object_get(resp, "warnings"),
		   "['image ghcr.io/acme/app:v1 (sha256:aaaa) is not verified: no signatures found']");
	assert_null(json_object_get(resp, "patch"));
	json_decref(resp);
}

static void when_verification_runs(void **state)
{
	(void)state;
	json_t *resp;
	reset(VERIFY_IMAGE_ADMIT, NULL);
	/* UPDATE with the same pinned image: verified when it was set, not again. */
	resp = run(MUTATE_SPINAPP, "UPDATE", APP_EXEC(PINNED), APP_EXEC(PINNED));
	json_decref(resp);
	resp = run(VALIDATE_SPINAPP, "UPDATE", APP_EXEC(PINNED), APP_EXEC(PINNED));
	json_decref(resp);
	assert_int_equal(fake.calls, 0);
	/* UPDATE with the same tag-only image: verified (the tag may have moved). */
	resp = run(MUTATE_SPINAPP, "UPDATE", APP_EXEC("ghcr.io/acme/app:v1"), APP_EXEC("ghcr.io/acme/app:v1"));
	json_decref(resp);
	assert_int_equal(fake.calls, 1);
	/* UPDATE to another image. */
	resp = run(MUTATE_SPINAPP, "UPDATE", APP_EXEC(PINNED), APP_EXEC("ghcr.io/acme/app:v0"));
	json_decref(resp);
	assert_int_equal(fake.calls, 2);
	/* DELETE and executors: never. */
	resp = run(MUTATE_SPINAPP, "DELETE", NULL, APP_EXEC("ghcr.io/acme/app:v1"));
	json_decref(resp);
	resp = run(VALIDATE_SPINAPP, "DELETE", NULL, APP_EXEC("ghcr.io/acme/app:v1"));
	json_decref(resp);
	resp = run(MUTATE_EXECUTOR, "CREATE",
		   "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinAppExecutor', 'metadata': {'name': 'e'}, "
		   "'spec': {'createDeployment': true}}",
		   NULL);
	json_decref(resp);
	assert_int_equal(fake.calls, 2);
}

static void validating_path(void **state)
{
	(void)state;
	json_t *resp;
	/* Admitted: no patch (validating answers carry none), the callback knows it is validating. */
	reset(VERIFY_IMAGE_ADMIT, PINNED);
	resp = run(VALIDATE_SPINAPP, "CREATE", APP_EXEC("ghcr.io/acme/app:v1"), NULL);
	if (!json_is_true(json_object_get(resp, "allowed")))
		print_json("response", resp);
	assert_true(json_is_true(json_object_get(resp, "allowed")));
	assert_null(json_object_get(resp, "patch"));
	assert_int_equal(fake.last_validating, 1);
	json_decref(resp);
	/* Warn: the mutating webhook already warned. */
	reset(VERIFY_IMAGE_WARN, NULL);
	resp = run(VALIDATE_SPINAPP, "CREATE", APP_EXEC("ghcr.io/acme/app:v1"), NULL);
	assert_true(json_is_true(json_object_get(resp, "allowed")));
	assert_null(json_object_get(resp, "warnings"));
	json_decref(resp);
	/* Deny: denied here too (a later mutating webhook cannot swap in an unverified image). */
	reset(VERIFY_IMAGE_DENY, NULL);
	resp = run(VALIDATE_SPINAPP, "CREATE", APP_EXEC("ghcr.io/acme/app:v1"), NULL);
	assert_true(json_is_false(json_object_get(resp, "allowed")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(resp, "status"), "reason")), "Forbidden");
	json_decref(resp);
	/* An invalid app is refused by the rules before any verification. */
	reset(VERIFY_IMAGE_ADMIT, NULL);
	resp = run(VALIDATE_SPINAPP, "CREATE", APP_EXEC(""), NULL);
	assert_true(json_is_false(json_object_get(resp, "allowed")));
	assert_int_equal(fake.calls, 0);
	json_decref(resp);
}

/* ---- how the server reaches the verifier (ctx.verify_mode) ---- */

static int needs_io_answer, needs_io_calls;

static int fake_needs_io(void *user, const struct verify_image_check *in)
{
	(void)user;
	(void)in;
	needs_io_calls++;
	return needs_io_answer;
}

static int fake_unavailable(void *user, const struct verify_image_check *in, const char *reason,
			    struct verify_image_verdict *out)
{
	(void)user;
	memset(out, 0, sizeof *out);
	out->decision = fake.decision;
	snprintf(out->message, sizeof out->message, "image %s (unresolved) is not verified: %s", in->image, reason);
	return SO_OK;
}

/* admission_handle's rc in mode; *resp the response when it answered. */
static int run_mode(enum admission_endpoint ep, const char *object, enum admission_verify_mode mode, json_t **resp)
{
	struct admission_ctx ctx = { .endpoint = ep, .list_executors = fake_list, .get_executor = fake_get,
				     .verify_image = fake_verify, .verify_user = &fake,
				     .verify_needs_io = fake_needs_io, .verify_unavailable = fake_unavailable,
				     .verify_mode = mode, .verify_reason = "verification queue full" };
	struct buf out = BUF_INIT(1 << 20);
	char body[8192];
	int http = 0;
	const char *kind = ep == MUTATE_EXECUTOR || ep == VALIDATE_EXECUTOR ? "SpinAppExecutor" : "SpinApp";

	snprintf(body, sizeof body,
		 "{'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview', 'request': {'uid': 'u1', 'kind': "
		 "{'group': 'core.spinkube.dev', 'version': 'v1alpha1', 'kind': '%s'}, 'namespace': 'team', "
		 "'operation': 'CREATE', 'object': %s}}",
		 kind, object);
	for (char *p = body; *p; p++)
		if (*p == '\'')
			*p = '"';
	*resp = NULL;
	int rc = admission_handle(body, strlen(body), &ctx, &out, &http);
	if (rc == SO_OK) {
		json_t *review = json_loads(out.data, 0, NULL);
		assert_non_null(review);
		*resp = json_incref(json_object_get(review, "response"));
		json_decref(review);
	}
	buf_free(&out);
	return rc;
}

#define EXECUTOR "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinAppExecutor', 'metadata': {'name': " \
		 "'x'}, 'spec': {'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'wasmtime-spin-v2'}}}"

static void verify_modes(void **state)
{
	json_t *resp;
	(void)state;
	/* Deferred: a review whose image needs a registry stops before any verification, with SO_E_DEFERRED. */
	reset(VERIFY_IMAGE_ADMIT, PINNED);
	needs_io_answer = 1;
	needs_io_calls = 0;
	assert_int_equal(run_mode(MUTATE_SPINAPP, APP("ghcr.io/acme/app:v1"), ADMISSION_VERIFY_DEFER, &resp),
			 SO_E_DEFERRED);
	assert_int_equal(fake.calls, 0);
	assert_int_equal(needs_io_calls, 1);
	assert_int_equal(run_mode(VALIDATE_SPINAPP, APP_EXEC("ghcr.io/acme/app:v1"), ADMISSION_VERIFY_DEFER, &resp),
			 SO_E_DEFERRED);
	/* No registry needed (no rule applies): answered at once, the verifier called inline. */
	needs_io_answer = 0;
	assert_int_equal(run_mode(MUTATE_SPINAPP, APP("ghcr.io/acme/app:v1"), ADMISSION_VERIFY_DEFER, &resp), SO_OK);
	assert_true(json_is_true(json_object_get(resp, "allowed")));
	assert_int_equal(fake.calls, 1);
	json_decref(resp);
	/* Executor reviews never ask. */
	needs_io_answer = 1;
	needs_io_calls = 0;
	assert_int_equal(run_mode(VALIDATE_EXECUTOR, EXECUTOR, ADMISSION_VERIFY_DEFER, &resp), SO_OK);
	assert_true(json_is_true(json_object_get(resp, "allowed")));
	json_decref(resp);
	assert_int_equal(run_mode(MUTATE_EXECUTOR, EXECUTOR, ADMISSION_VERIFY_DEFER, &resp), SO_OK);
	json_decref(resp);
	assert_int_equal(needs_io_calls, 0);
	/* Unavailable under enforce: the 403 of a registry failure, with the reason. */
	reset(VERIFY_IMAGE_DENY, NULL);
	assert_int_equal(run_mode(MUTATE_SPINAPP, APP_EXEC("ghcr.io/acme/app:v1"), ADMISSION_VERIFY_UNAVAILABLE, &resp),
			 SO_OK);
	check_json(resp, "{'uid': 'u1', 'allowed': false, 'status': {'metadata': {}, 'status': 'Failure', 'message': "
			 "'image ghcr.io/acme/app:v1 (unresolved) is not verified: verification queue full', 'reason': "
			 "'Forbidden', 'code': 403}}");
	assert_int_equal(fake.calls, 0);
	json_decref(resp);
	/* Under warn: admitted with the warning and the defaulting patch, no pin. */
	reset(VERIFY_IMAGE_WARN, PINNED);
	assert_int_equal(run_mode(MUTATE_SPINAPP, APP("ghcr.io/acme/app:v1"), ADMISSION_VERIFY_UNAVAILABLE, &resp),
			 SO_OK);
	assert_true(json_is_true(json_object_get(resp, "allowed")));
	check_json(json_object_get(resp, "warnings"),
		   "['image ghcr.io/acme/app:v1 (unresolved) is not verified: verification queue full']");
	json_t *ops = patch_of(resp);
	check_json(ops, "[{'op': 'add', 'path': '/spec/executor', 'value': 'containerd-shim-spin'}]");
	json_decref(ops);
	json_decref(resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mutate_pins_after_defaulting), cmocka_unit_test(mutate_denies_in_enforce),
		cmocka_unit_test(mutate_warns_in_warn_mode),    cmocka_unit_test(when_verification_runs),
		cmocka_unit_test(validating_path), cmocka_unit_test(verify_modes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
