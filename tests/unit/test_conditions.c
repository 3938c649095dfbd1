/* Status conditions with meta.SetStatusCondition semantics, and RFC 3339 formatting (operator/controller/condition.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "operator/controller/condition.h"
#include "operator/base/clock.h"

#define T0 "2026-11-23T10:00:00Z"
#define T1 "2026-11-23T10:05:00Z"
#define T2 "2026-11-23T10:10:00Z"

static const char *field(const json_t *cond, const char *key)
{
	return json_string_value(json_object_get(cond, key));
}

static void assert_json(const json_t *v, const char *expected)
{
	char *text = json_dumps(v, JSON_COMPACT);
	assert_non_null(text);
	assert_string_equal(text, expected);
	free(text);
}

static void new_condition_creates_array(void **state)
{
	(void)state;
	json_t *conds = NULL;
	assert_int_equal(condition_set(&conds, "Ready", "False", "Pending", "waiting for pods", 3, T0), 1);
	assert_true(json_is_array(conds));
	assert_int_equal(json_array_size(conds), 1);
	/* Key order and shape as metav1.Condition serialises. */
	assert_json(conds, "[{\"type\":\"Ready\",\"status\":\"False\",\"observedGeneration\":3,"
			   "\"lastTransitionTime\":\"" T0 "\",\"reason\":\"Pending\",\"message\":\"waiting for pods\"}]");
	json_decref(conds);
}

static void generation_zero_is_omitted(void **state)
{
	(void)state;
	json_t *conds = NULL;
	assert_int_equal(condition_set(&conds, "Ready", "True", "Ok", NULL, 0, T0), 1);
	assert_json(conds, "[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"" T0
			   "\",\"reason\":\"Ok\",\"message\":\"\"}]");
	/* Setting a generation adds it; going back to 0 removes it again; both are changes. */
	assert_int_equal(condition_set(&conds, "Ready", "True", "Ok", NULL, 7, T1), 1);
	assert_int_equal(json_integer_value(json_object_get(condition_find(conds, "Ready"), "observedGeneration")), 7);
	assert_int_equal(condition_set(&conds, "Ready", "True", "Ok", NULL, 0, T1), 1);
	assert_null(json_object_get(condition_find(conds, "Ready"), "observedGeneration"));
	json_decref(conds);
}

static void same_status_keeps_transition_time(void **state)
{
	(void)state;
	json_t *conds = NULL;
	assert_int_equal(condition_set(&conds, "Ready", "False", "Pending", "0/2 ready", 1, T0), 1);

	/* Identical call: nothing changes. */
	assert_int_equal(condition_set(&conds, "Ready", "False", "Pending", "0/2 ready", 1, T1), 0);
	assert_string_equal(field(condition_find(conds, "Ready"), "lastTransitionTime"), T0);

	/* Reason, message and generation follow the caller; the transition time does not. */
	assert_int_equal(condition_set(&conds, "Ready", "False", "Progressing", "1/2 ready", 2, T1), 1);
	json_t *c = condition_find(conds, "Ready");
	assert_string_equal(field(c, "status"), "False");
	assert_string_equal(field(c, "reason"), "Progressing");
	assert_string_equal(field(c, "message"), "1/2 ready");
	assert_int_equal(json_integer_value(json_object_get(c, "observedGeneration")), 2);
	assert_string_equal(field(c, "lastTransitionTime"), T0);

	/* Each field alone counts as a change. */
	assert_int_equal(condition_set(&conds, "Ready", "False", "Progressing", "1/2 ready", 3, T1), 1);
	assert_int_equal(condition_set(&conds, "Ready", "False", "Progressing", "2/2 ready", 3, T1), 1);
	assert_int_equal(condition_set(&conds, "Ready", "False", "Other", "2/2 ready", 3, T1), 1);
	assert_int_equal(condition_set(&conds, "Ready", "False", "Other", "2/2 ready", 3, T2), 0);
	assert_string_equal(field(condition_find(conds, "Ready"), "lastTransitionTime"), T0);
	assert_int_equal(json_array_size(conds), 1);
	json_decref(conds);
}

static void status_flip_moves_transition_time(void **state)
{
	(void)state;
	json_t *conds = NULL;
	assert_int_equal(condition_set(&conds, "Ready", "False", "Pending", "", 1, T0), 1);
	assert_int_equal(condition_set(&conds, "Ready", "True", "Ready", "all replicas ready", 1, T1), 1);
	json_t *c = condition_find(conds, "Ready");
	assert_string_equal(field(c, "status"), "True");
	assert_string_equal(field(c, "lastTransitionTime"), T1);
	assert_string_equal(field(c, "reason"), "Ready");
	/* A flip with nothing else different is still a change. */
	assert_int_equal(condition_set(&conds, "Ready", "Unknown", "Ready", "all replicas ready", 1, T2), 1);
	assert_string_equal(field(condition_find(conds, "Ready"), "lastTransitionTime"), T2);
	json_decref(conds);
}

static void several_types_keep_their_order(void **state)
{
	(void)state;
	json_t *conds = NULL;
	assert_int_equal(condition_set(&conds, "Available", "True", "MinimumReplicasAvailable", "", 1, T0), 1);
	assert_int_equal(condition_set(&conds, "Progressing", "True", "NewReplicaSetAvailable", "", 1, T0), 1);
	assert_int_equal(condition_set(&conds, "Ready", "False", "Pending", "", 1, T0), 1);
	assert_int_equal(json_array_size(conds), 3);

	/* Updating the first one touches only it and keeps its position. */
	assert_int_equal(condition_set(&conds, "Available", "False", "MinimumReplicasUnavailable", "x", 2, T1), 1);
	assert_int_equal(json_array_size(conds), 3);
	assert_string_equal(field(json_array_get(conds, 0), "type"), "Available");
	assert_string_equal(field(json_array_get(conds, 0), "lastTransitionTime"), T1);
	assert_string_equal(field(json_array_get(conds, 1), "type"), "Progressing");
	assert_string_equal(field(json_array_get(conds, 1), "lastTransitionTime"), T0);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(conds, 1), "observedGeneration")), 1);
	assert_string_equal(field(json_array_get(conds, 2), "type"), "Ready");

	assert_ptr_equal(condition_find(conds, "Progressing"), json_array_get(conds, 1));
	assert_null(condition_find(conds, "Missing"));
	assert_null(condition_find(conds, NULL));
	assert_null(condition_find(NULL, "Ready"));
	json_decref(conds);
}

static void odd_inputs(void **state)
{
	(void)state;
	json_t *conds = NULL;

	/* Bad arguments change nothing. */
	assert_int_equal(condition_set(NULL, "Ready", "True", "r", "m", 1, T0), 0);
	assert_int_equal(condition_set(&conds, NULL, "True", "r", "m", 1, T0), 0);
	assert_int_equal(condition_set(&conds, "Ready", NULL, "r", "m", 1, T0), 0);
	assert_int_equal(condition_set(&conds, "Ready", "True", "r", "m", 1, NULL), 0);
	assert_null(conds);

	/* Not an array: left alone. */
	json_t *obj = json_object();
	assert_int_equal(condition_set(&obj, "Ready", "True", "r", "m", 1, T0), 0);
	assert_int_equal(json_object_size(obj), 0);
	json_decref(obj);

	/* Stray entries (not objects, no type) are skipped; a condition read back without a transition time
	 * gets one. */
	conds = json_loads("[1, {\"status\":\"True\"}, {\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"r\","
			   "\"message\":\"m\"}]",
			   0, NULL);
	assert_non_null(conds);
	assert_int_equal(condition_set(&conds, "Ready", "True", "r", "m", 0, T1), 1);
	assert_string_equal(field(condition_find(conds, "Ready"), "lastTransitionTime"), T1);
	assert_int_equal(condition_set(&conds, "Ready", "True", "r", "m", 0, T2), 0);
	assert_int_equal(json_array_size(conds), 3);

	/* Invalid UTF-8 cannot be a JSON string: refused without touching the array. */
	assert_int_equal(condition_set(&conds, "Ready", "True", "r", "\xff\xfe", 0, T2), 0);
	assert_string_equal(field(condition_find(conds, "Ready"), "message"), "m");
	assert_int_equal(condition_set(&conds, "New\xc3", "True", "r", "m", 0, T2), 0);
	assert_int_equal(json_array_size(conds), 3);
	json_decref(conds);
}

static void rfc3339(void **state)
{
	(void)state;
	char out[32];
	clock_format_rfc3339(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	clock_format_rfc3339(1795428000, out);
	assert_string_equal(out, "2026-11-23T10:00:00Z");
	clock_format_rfc3339(951782400, out); /* leap day */
	assert_string_equal(out, "2000-02-29T00:00:00Z");
	clock_format_rfc3339(1230767999, out); /* the last second of 2008 */
	assert_string_equal(out, "2008-12-31T23:59:59Z");
	clock_format_rfc3339(-1, out);
	assert_string_equal(out, "1969-12-31T23:59:59Z");
	/* Outside RFC 3339's four-digit years: clamped. */
	clock_format_rfc3339(-62135596800LL, out);
	assert_string_equal(out, "0001-01-01T00:00:00Z");
	clock_format_rfc3339(-99999999999999LL, out);
	assert_string_equal(out, "0000-01-01T00:00:00Z");
	clock_format_rfc3339(253402300799LL, out);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	clock_format_rfc3339(9223372036854775807LL, out);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_condition_creates_array),
		cmocka_unit_test(generation_zero_is_omitted),
		cmocka_unit_test(same_status_keeps_transition_time),
		cmocka_unit_test(status_flip_moves_transition_time),
		cmocka_unit_test(several_types_keep_their_order),
		cmocka_unit_test(odd_inputs),
		cmocka_unit_test(rfc3339),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
