/*
 * A gateway.networking.k8s.io/v1 HTTPRoute for a SpinApp (beyond upstream, which leaves routing to the user;
 * upstream issue #13): spec.route is honoured when present, the route is named after the app, owned by it like
 * the Deployment, and sends what it matches to the app's Service on port 80 (docs/internals/route.md).
 *
 *   spec.route:
 *     parentRefs: [{name, namespace, sectionName, port, group, kind}]   (required, 1..32; copied as given)
 *     hostnames: [app.example.com, "*.example.com"]                     (optional: none matches every host)
 *     pathPrefixes: [/, /api]                                            (optional, default [/])
 *
 * One rule: a PathPrefix match per prefix, one backendRef to the Service. The webhook checks the fields in
 * the Gateway API's terms (webhook/spinapp_route.c); the builder checks only what it needs to build the object.
 */
#include <jansson.h>

#include "operator/spin/appmeta.h"
#include "operator/spin/spin.h"
#include "operator/base/err.h"

static const char *const parent_keys[] = { "group", "kind", "namespace", "name", "sectionName", "port" };

/* spec.route.parentRefs[i] → the HTTPRoute's ParentReference: the fields we know, in a fixed order. */
static int parent_ref(const json_t *in, size_t i, json_t **out, char *err, size_t errlen)
{
	json_t *ref;

	if (!json_is_object(in) || !json_is_string(json_object_get(in, "name")))
		return so_fail(err, errlen, SO_E_INVAL, "spec.route.parentRefs[%zu].name: required", i);
	ref = json_object();
	for (size_t k = 0; k < sizeof parent_keys / sizeof *parent_keys; k++) {
		json_t *v = json_object_get(in, parent_keys[k]);
		if (v && !json_is_null(v))
			json_object_set_new(ref, parent_keys[k], json_deep_copy(v));
	}
	*out = ref;
	return SO_OK;
}

/* A JSON array of strings, or NULL/absent; anything else is refused naming field. */
static int string_array(const json_t *v, const char *field, char *err, size_t errlen)
{
	size_t i;
	json_t *s;

	if (!v || json_is_null(v))
		return SO_OK;
	if (!json_is_array(v))
		return so_fail(err, errlen, SO_E_INVAL, "spec.route.%s: must be a list of strings", field);
	json_array_foreach(v, i, s) {
		if (!json_is_string(s))
			return so_fail(err, errlen, SO_E_INVAL, "spec.route.%s[%zu]: must be a string", field, i);
	}
	return SO_OK;
}

int spin_route(const json_t *app, json_t **out, char *err, size_t errlen)
{
	const json_t *route = json_object_get(spin_obj(app, "spec"), "route");
	const json_t *parents, *hosts, *prefixes;
	const char *name, *ns;
	json_t *meta = NULL, *prefs = json_array(), *matches = json_array(), *rule = NULL, *rspec = NULL, *v;
	size_t i;
	int rc;

	*out = NULL;
	if (!route || json_is_null(route)) {
		rc = SO_OK;
		goto out;
	}
	if (!json_is_object(route)) {
		rc = so_fail(err, errlen, SO_E_INVAL, "spec.route: must be an object");
		goto out;
	}
	parents = json_object_get(route, "parentRefs");
	hosts = json_object_get(route, "hostnames");
	prefixes = json_object_get(route, "pathPrefixes");
	if (!json_is_array(parents) || !json_array_size(parents)) {
		rc = so_fail(err, errlen, SO_E_INVAL, "spec.route.parentRefs: at least one parent is required");
		goto out;
	}
	if ((rc = string_array(hosts, "hostnames", err, errlen)) ||
	    (rc = string_array(prefixes, "pathPrefixes", err, errlen)) ||
	    (rc = spin_app_identity(app, &name, &ns, err, errlen)))
		goto out;
	json_array_foreach(parents, i, v) {
		json_t *ref = NULL;
		if ((rc = parent_ref(v, i, &ref, err, errlen)))
			goto out;
		json_array_append_new(prefs, ref);
	}
	if (!json_array_size(prefixes))
		json_array_append_new(matches, json_pack("{s:{s:s, s:s}}", "path", "type", "PathPrefix", "value", "/"));
	json_array_foreach(prefixes, i, v)
		json_array_append_new(matches, json_pack("{s:{s:s, s:O}}", "path", "type", "PathPrefix", "value", v));
	if ((rc = spin_child_meta(app, NULL, &meta, err, errlen)))
		goto out;
	/* The backend is the Service spin_service makes: same name, port SPIN_HTTP_PORT. */
	rule = json_pack("{s:O, s:[{s:s, s:i}]}", "matches", matches, "backendRefs", "name", name, "port",
			 SPIN_HTTP_PORT);
	rspec = json_pack("{s:O}", "parentRefs", prefs);
	if (json_array_size(hosts))
		json_object_set_new(rspec, "hostnames", json_deep_copy(hosts));
	json_object_set_new(rspec, "rules", json_pack("[O]", rule));
	*out = json_pack("{s:s, s:s, s:O, s:O}", "apiVersion", SPIN_ROUTE_API_VERSION, "kind", "HTTPRoute",
			 "metadata", meta, "spec", rspec);
out:
	json_decref(meta);
	json_decref(prefs);
	json_decref(matches);
	json_decref(rule);
	json_decref(rspec);
	return rc;
}
