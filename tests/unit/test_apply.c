/* applier_json_subset: the check that lets a reconcile skip an apply the server would not act on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "operator/runtime/applier.h"

static int subset(const char *desired, const char *live)
{
	json_t *d = json_loads(desired, 0, NULL), *l = json_loads(live, 0, NULL);
	assert_non_null(d);
	assert_non_null(l);
	int r = applier_json_subset(d, l);
	json_decref(d);
	json_decref(l);
	return r;
}

static void server_defaults_do_not_count(void **state)
{
	(void)state;
	/* The server adds defaults (protocol, imagePullPolicy, status, metadata): still the same intent. */
	assert_true(subset("{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":\"http-app\"}]}}",
			   "{\"metadata\":{\"uid\":\"u\"},\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":\"http-app\","
			   "\"protocol\":\"TCP\"}],\"clusterIP\":\"10.0.0.1\"},\"status\":{}}"));
	assert_true(subset("{}", "{\"a\":1}"));
}

static void changed_values_count(void **state)
{
	(void)state;
	assert_false(subset("{\"spec\":{\"replicas\":2}}", "{\"spec\":{\"replicas\":1}}"));
	assert_false(subset("{\"spec\":{\"replicas\":2}}", "{\"spec\":{}}"));
	assert_false(subset("{\"a\":\"1\"}", "{\"a\":1}"));        /* no type juggling */
	assert_false(subset("{\"a\":true}", "{\"a\":\"true\"}"));
	assert_false(subset("{\"a\":null}", "{}"));
	assert_true(subset("{\"a\":null}", "{\"a\":null}"));
	assert_true(subset("{\"n\":80}", "{\"n\":80.0}"));         /* numbers by value */
}

static void arrays_must_match_in_length_and_order(void **state)
{
	(void)state;
	/* A removed env var or volume must trigger an apply: lists do not get extra members. */
	assert_false(subset("{\"env\":[{\"name\":\"A\"}]}", "{\"env\":[{\"name\":\"A\"},{\"name\":\"B\"}]}"));
	assert_false(subset("{\"env\":[{\"name\":\"A\"},{\"name\":\"B\"}]}", "{\"env\":[{\"name\":\"A\"}]}"));
	assert_false(subset("{\"args\":[\"a\",\"b\"]}", "{\"args\":[\"b\",\"a\"]}"));
	assert_true(subset("{\"env\":[{\"name\":\"A\",\"value\":\"1\"}]}",
			   "{\"env\":[{\"name\":\"A\",\"value\":\"1\",\"extra\":0}]}"));
	assert_true(subset("{\"l\":[]}", "{\"l\":[]}"));
	assert_false(subset("{\"l\":[]}", "{}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(server_defaults_do_not_count),
		cmocka_unit_test(changed_values_count),
		cmocka_unit_test(arrays_must_match_in_length_and_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
