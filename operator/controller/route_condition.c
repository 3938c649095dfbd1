/* route_condition_from (route_condition.h): the Gateway API's per-parent conditions folded into one. */
#include "operator/controller/route_condition.h"

#include <stdio.h>
#include <string.h>

static const char *str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* The condition of that type among a parent status's conditions, or NULL. */
static const json_t *parent_condition(const json_t *parent, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(parent, "conditions"), i, c) {
		if (!strcmp(str(c, "type"), type))
			return c;
	}
	return NULL;
}

void route_condition_from(const json_t *route, size_t nparents, struct route_condition *out)
{
	const json_t *parents = json_object_get(json_object_get(route, "status"), "parents"), *p;
	const char *name = str(json_object_get(route, "metadata"), "name");
	static const char *const checks[][2] = { { "Accepted", "NotAccepted" }, { "ResolvedRefs", "RefsNotResolved" } };
	size_t i, answered = 0;

	out->status = "Unknown";
	out->reason = "Pending";
	snprintf(out->message, sizeof out->message, "HTTPRoute %s has not been accepted by its parents yet", name);
	if (!route) {
		snprintf(out->message, sizeof out->message, "the HTTPRoute has not been made yet");
		return;
	}
	json_array_foreach(parents, i, p) {
		const json_t *ref = json_object_get(p, "parentRef");
		const char *pns = str(ref, "namespace");
		int all_true = 1;
		for (size_t k = 0; k < 2; k++) {
			const json_t *c = parent_condition(p, checks[k][0]);
			if (!c) {
				all_true = 0;
				continue;
			}
			if (!strcmp(str(c, "status"), "True"))
				continue;
			all_true = 0;
			out->status = "False";
			out->reason = checks[k][1];
			snprintf(out->message, sizeof out->message, "HTTPRoute %s: parent %s%s%s: %s %s: %s: %s", name, pns,
				 *pns ? "/" : "", str(ref, "name"), checks[k][0], str(c, "status"), str(c, "reason"),
				 str(c, "message"));
			return;
		}
		answered += all_true;
	}
	if (answered && answered >= nparents) {
		out->status = "True";
		out->reason = "Accepted";
		snprintf(out->message, sizeof out->message, "HTTPRoute %s is accepted by %zu parent%s, its references resolved",
			 name, answered, answered == 1 ? "" : "s");
	}
}
