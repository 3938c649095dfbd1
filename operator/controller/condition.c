/*
 * Status conditions (metav1.Condition) with apimachinery's meta.SetStatusCondition rules. See condition.h and
 * docs/internals/events.md ("Conditions").
 *
 * A condition is one JSON object, keys in this order:
 *   {"type", "status", "observedGeneration" (omitted when 0, as omitempty does), "lastTransitionTime",
 *    "reason", "message"}
 * Updates are built on a shallow copy and swapped into the array in one step, so a failure (a reason or message
 * that is not valid UTF-8) leaves the array as it was.
 */
#include "operator/controller/condition.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Index of the first object in conditions whose "type" is type, or -1. */
static long find_index(const json_t *conditions, const char *type)
{
	size_t i;
	json_t *c;

	if (!json_is_array(conditions) || !type)
		return -1;
	json_array_foreach(conditions, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && !strcmp(t, type))
			return (long)i;
	}
	return -1;
}

json_t *condition_find(const json_t *conditions, const char *type)
{
	long i = find_index(conditions, type);
	return i < 0 ? NULL : json_array_get(conditions, (size_t)i);
}

/* Sets key to the string value unless it already holds exactly that. 1 changed, 0 same, -1 not UTF-8. */
static int set_string(json_t *obj, const char *key, const char *value)
{
	const char *cur = json_string_value(json_object_get(obj, key));
	if (cur && !strcmp(cur, value))
		return 0;
	return json_object_set_new(obj, key, json_string(value)) ? -1 : 1;
}

/* observedGeneration: removed when 0 (omitempty), else an integer. 1 changed, 0 same. */
static int set_generation(json_t *obj, long long gen)
{
	json_t *cur = json_object_get(obj, "observedGeneration");
	if (gen == 0) {
		if (!cur)
			return 0;
		json_object_del(obj, "observedGeneration");
		return 1;
	}
	if (json_is_integer(cur) && json_integer_value(cur) == (json_int_t)gen)
		return 0;
	json_object_set_new(obj, "observedGeneration", json_integer((json_int_t)gen));
	return 1;
}

static json_t *new_condition(const char *type, const char *status, const char *reason, const char *message,
			     long long gen, const char *now)
{
	json_t *c = json_object();
	/* The strings are the caller's and may be cut mid-character (a truncated message): json_string can refuse. */
	if (json_object_set_new(c, "type", json_string(type)) || json_object_set_new(c, "status", json_string(status)))
		goto fail;
	set_generation(c, gen);
	if (json_object_set_new(c, "lastTransitionTime", json_string(now)) ||
	    json_object_set_new(c, "reason", json_string(reason)) ||
	    json_object_set_new(c, "message", json_string(message)))
		goto fail;
	return c;
fail:
	json_decref(c);
	return NULL;
}

int condition_set(json_t **conditions, const char *type, const char *status, const char *reason,
		  const char *message, long long observed_generation, const char *now_rfc3339)
{
	json_t *copy = NULL;
	int changed = 0, rc;

	if (!conditions || !type || !status || !now_rfc3339)
		return 0;
	if (!reason)
		reason = "";
	if (!message)
		message = "";
	if (*conditions && !json_is_array(*conditions))
		return 0;

	long i = find_index(*conditions, type);
	if (i < 0) {
		json_t *c = new_condition(type, status, reason, message, observed_generation, now_rfc3339);
		if (!c)
			return 0;
		if (!*conditions)
			*conditions = json_array();
		json_array_append_new(*conditions, c);
		return 1;
	}

	copy = json_copy(json_array_get(*conditions, (size_t)i));
	const char *cur_status = json_string_value(json_object_get(copy, "status"));
	const char *cur_ltt = json_string_value(json_object_get(copy, "lastTransitionTime"));
	if (!cur_status || strcmp(cur_status, status) || !cur_ltt || !*cur_ltt) {
		/* A status flip moves the transition time; so does repairing a condition that has none. */
		if (set_string(copy, "status", status) < 0 || set_string(copy, "lastTransitionTime", now_rfc3339) < 0)
			goto fail;
		changed = 1;
	}
	if ((rc = set_string(copy, "reason", reason)) < 0)
		goto fail;
	changed |= rc;
	if ((rc = set_string(copy, "message", message)) < 0)
		goto fail;
	changed |= rc;
	changed |= set_generation(copy, observed_generation);
	if (!changed) {
		json_decref(copy);
		return 0;
	}
	json_array_set_new(*conditions, (size_t)i, copy);
	return 1;
fail:
	json_decref(copy);
	return 0;
}
