/*
 * spec.route: the HTTPRoute builder (operator/spin/route.c), its place in the plan (operator/spin/plan.c), and
 * the Routed condition folded from the route's status.parents (operator/controller/route_condition.c). JSON
 * literals use ' for " (J()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testjson.h"
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "operator/spin/spin.h"
#include "operator/spin/plan.h"
#include "operator/controller/route_condition.h"
#include "operator/base/err.h"

#define UID "0f3c3d0e-8a55-4d55-b4bb-6c2b1f0b8e42"
#define APP(spec)                                                                                             \
	"{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'metadata': {'name': 'app', "          \
	"'namespace': 'ns', 'uid': '" UID "'}, 'spec': {'executor': 'shim', 'image': 'i', 'replicas': 1" spec "}}"
#define OWNER                                                                                                 \
	"[{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'name': 'app', 'uid': '" UID            \
	"', 'controller': true, 'blockOwnerDeletion': true}]"
#define META "{'name': 'app', 'namespace': 'ns', 'labels': {'core.spinkube.dev/app-name': 'app'}, 'ownerReferences': " OWNER "}"

static json_t *route_of(const char *app_text, int want_rc, const char *want_err)
{
	json_t *app = J(app_text), *out = (json_t *)&out;
	char err[512] = "";
	int rc = spin_route(app, &out, err, sizeof err);
	json_decref(app);
	assert_int_equal(rc, want_rc);
	assert_string_equal(err, want_err);
	return out;
}

/* Every field: parentRefs copied (known keys, fixed order), hostnames, one PathPrefix match per prefix, the
 * Service on port 80 as the backend; owned by the app like its other children. */
static void route_whole(void **state)
{
	(void)state;
	json_t *r = route_of(APP(", 'route': {'parentRefs': [{'name': 'gw', 'namespace': 'infra', 'sectionName': "
				 "'http', 'port': 8080, 'extra': 1}, {'name': 'gw2'}], 'hostnames': ['a.example.com'], "
				 "'pathPrefixes': ['/', '/api']}"),
			     SO_OK, "");
	check_json(r, "{'apiVersion': 'gateway.networking.k8s.io/v1', 'kind': 'HTTPRoute', 'metadata': " META
		      ", 'spec': {'parentRefs': [{'namespace': 'infra', 'name': 'gw', 'sectionName': 'http', 'port': "
		      "8080}, {'name': 'gw2'}], 'hostnames': ['a.example.com'], 'rules': [{'matches': [{'path': {'type': "
		      "'PathPrefix', 'value': '/'}}, {'path': {'type': 'PathPrefix', 'value': '/api'}}], 'backendRefs': "
		      "[{'name': 'app', 'port': 80}]}]}}");
	json_decref(r);
}

/* No pathPrefixes (or an empty list): every path, "/"; no hostnames: the field is left out. */
static void route_defaults(void **state)
{
	(void)state;
	static const char *const apps[] = { APP(", 'route': {'parentRefs': [{'name': 'gw'}]}"),
					    APP(", 'route': {'parentRefs': [{'name': 'gw'}], 'pathPrefixes': [], "
						"'hostnames': []}") };
	for (size_t i = 0; i < 2; i++) {
		json_t *r = route_of(apps[i], SO_OK, "");
		check_json(json_object_get(r, "spec"),
			   "{'parentRefs': [{'name': 'gw'}], 'rules': [{'matches': [{'path': {'type': 'PathPrefix', "
			   "'value': '/'}}], 'backendRefs': [{'name': 'app', 'port': 80}]}]}");
		json_decref(r);
	}
	assert_null(route_of(APP(""), SO_OK, ""));
	assert_null(route_of(APP(", 'route': null"), SO_OK, ""));
}

/* What the builder cannot build from (the webhook refuses all of it first, in the Gateway API's words). */
static void route_errors(void **state)
{
	(void)state;
	assert_null(route_of(APP(", 'route': []"), SO_E_INVAL, "spec.route: must be an object"));
	assert_null(route_of(APP(", 'route': {}"), SO_E_INVAL,
			     "spec.route.parentRefs: at least one parent is required"));
	assert_null(route_of(APP(", 'route': {'parentRefs': [{'name': 'gw'}, {'port': 1}]}"), SO_E_INVAL,
			     "spec.route.parentRefs[1].name: required"));
	assert_null(route_of(APP(", 'route': {'parentRefs': [{'name': 'gw'}], 'hostnames': 'a'}"), SO_E_INVAL,
			     "spec.route.hostnames: must be a list of strings"));
	assert_null(route_of(APP(", 'route': {'parentRefs': [{'name': 'gw'}], 'pathPrefixes': ['/', 3]}"),
			     SO_E_INVAL, "spec.route.pathPrefixes[1]: must be a string"));
}

/* In the plan: the last role; absent without spec.route; a bad route fails at its role, after the rest. */
static void route_in_plan(void **state)
{
	(void)state;
	json_t *app = J(APP(", 'route': {'parentRefs': [{'name': 'gw'}]}"));
	json_t *executor = J("{'metadata': {'name': 'shim', 'namespace': 'ns'}, 'spec': {'createDeployment': false}}");
	json_t *refs = J("{'secrets': {}, 'configmaps': {}}");
	struct plan_input in = { app, executor, refs, "PEM", 3, 0 };
	struct plan p;
	char err[512] = "";

	assert_int_equal(plan_app(&in, &p, err, sizeof err), SO_OK);
	assert_string_equal(json_string_value(json_object_get(p.objs[PLAN_ROUTE], "kind")), "HTTPRoute");
	assert_int_equal(p.absent, PLAN_BIT(PLAN_DEPLOYMENT) | PLAN_BIT(PLAN_HPA));
	plan_free(&p);

	json_object_del(json_object_get(app, "spec"), "route");
	assert_int_equal(plan_app(&in, &p, err, sizeof err), SO_OK);
	assert_null(p.objs[PLAN_ROUTE]);
	assert_int_equal(p.absent, PLAN_BIT(PLAN_DEPLOYMENT) | PLAN_BIT(PLAN_HPA) | PLAN_BIT(PLAN_ROUTE));
	plan_free(&p);

	json_object_set_new(json_object_get(app, "spec"), "route", J("{'parentRefs': []}"));
	assert_int_equal(plan_app(&in, &p, err, sizeof err), SO_E_INVAL);
	assert_int_equal(p.failed, PLAN_ROUTE);
	assert_string_equal(err, "spec.route.parentRefs: at least one parent is required");
	assert_non_null(p.objs[PLAN_SERVICE]);
	assert_null(p.objs[PLAN_ROUTE]);
	plan_free(&p);
	json_decref(app);
	json_decref(executor);
	json_decref(refs);
}

#define PARENT(name, conds)                                                                                   \
	"{'parentRef': {'name': '" name "', 'namespace': 'infra'}, 'controllerName': 'example.com/gw', "      \
	"'conditions': [" conds "]}"
#define COND(type, status, reason) "{'type': '" type "', 'status': '" status "', 'reason': '" reason "', 'message': 'm'}"

static void check_condition(const char *route_text, size_t nparents, const char *status, const char *reason,
			    const char *message)
{
	json_t *route = route_text ? J(route_text) : NULL;
	struct route_condition c;
	route_condition_from(route, nparents, &c);
	assert_string_equal(c.status, status);
	assert_string_equal(c.reason, reason);
	assert_string_equal(c.message, message);
	json_decref(route);
}

/* Accepted and ResolvedRefs of every parent fold into one condition. */
static void routed_condition(void **state)
{
	(void)state;
	check_condition(NULL, 1, "Unknown", "Pending", "the HTTPRoute has not been made yet");
	check_condition("{'metadata': {'name': 'app'}}", 1, "Unknown", "Pending",
			"HTTPRoute app has not been accepted by its parents yet");
	check_condition("{'metadata': {'name': 'app'}, 'status': {'parents': [" PARENT("gw", COND("Accepted", "True", "Accepted") "," COND("ResolvedRefs", "True", "ResolvedRefs")) "]}}", 1, "True", "Accepted",
			"HTTPRoute app is accepted by 1 parent, its references resolved");
	/* two parents named, one answered: still pending */
	check_condition("{'metadata': {'name': 'app'}, 'status': {'parents': [" PARENT("gw", COND("Accepted", "True", "Accepted") "," COND("ResolvedRefs", "True", "ResolvedRefs")) "]}}", 2, "Unknown", "Pending",
			"HTTPRoute app has not been accepted by its parents yet");
	check_condition("{'metadata': {'name': 'app'}, 'status': {'parents': [" PARENT("gw", COND("Accepted", "False", "NotAllowedByListeners") "," COND("ResolvedRefs", "True", "ResolvedRefs")) "]}}", 1, "False", "NotAccepted",
			"HTTPRoute app: parent infra/gw: Accepted False: NotAllowedByListeners: m");
	check_condition("{'metadata': {'name': 'app'}, 'status': {'parents': [" PARENT("gw", COND("Accepted", "True", "Accepted") "," COND("ResolvedRefs", "False", "BackendNotFound")) "]}}", 1, "False", "RefsNotResolved",
			"HTTPRoute app: parent infra/gw: ResolvedRefs False: BackendNotFound: m");
	/* a parent that has said only Accepted so far: pending */
	check_condition("{'metadata': {'name': 'app'}, 'status': {'parents': [" PARENT("gw", COND("Accepted", "True", "Accepted")) "]}}", 1, "Unknown", "Pending", "HTTPRoute app has not been accepted by its parents yet");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(route_whole),    cmocka_unit_test(route_defaults),   cmocka_unit_test(route_errors),
		cmocka_unit_test(route_in_plan),  cmocka_unit_test(routed_condition),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
