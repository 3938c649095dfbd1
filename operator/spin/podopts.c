/*
 * The pod options of a SpinApp that upstream lacks (webhook/spinapp_podopts.h): scheduling fields copied into the pod spec,
 * imagePullPolicy on the app container, and spec.env after the operator's own variables. Values are copied as
 * given (core/v1 types the CRD schema already checked), serialised as Go's encoding/json would send them:
 * omitempty fields are left out when empty, keys in Go's struct field order.
 */
#include <string.h>

#include "operator/spin/appmeta.h"
#include "operator/spin/podopts.h"
#include "operator/base/err.h"

/*
 * The variables env_for_app (deployment.c) sets, besides SPIN_VARIABLE_*: a spec.env entry of the same name
 * would be a second definition that silently wins (the last one does) over what the operator means.
 */
static const char *const reserved_env[] = {
	"SPIN_HTTP_LISTEN_ADDR",
	"OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
	"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
	"SPIN_MAX_INSTANCE_MEMORY",
	"SPIN_COMPONENTS_TO_RETAIN",
};

int spin_env_reserved(const char *name)
{
	if (strncmp(name, BUILD_ENV_VARIABLE_PREFIX, sizeof BUILD_ENV_VARIABLE_PREFIX - 1) == 0)
		return 1;
	for (size_t i = 0; i < sizeof reserved_env / sizeof reserved_env[0]; i++) {
		if (strcmp(name, reserved_env[i]) == 0)
			return 1;
	}
	return 0;
}

/* spec[key] when present and not null, else NULL. */
static const json_t *field(const json_t *spec, const char *key)
{
	const json_t *v = json_is_object(spec) ? json_object_get(spec, key) : NULL;
	return json_is_null(v) ? NULL : v;
}

int spin_podopts_env(const json_t *spec, json_t *env, char *err, size_t errlen)
{
	const json_t *list = field(spec, "env"), *e;
	size_t i;

	if (!list)
		return SO_OK;
	if (!json_is_array(list))
		return so_fail(err, errlen, SO_E_INVAL, "spec.env: must be a list");
	/* Checked in full first, so that a bad item leaves env as it was. */
	json_array_foreach(list, i, e) {
		const char *name = spin_str(e, "name");
		if (!json_is_object(e))
			return so_fail(err, errlen, SO_E_INVAL, "spec.env[%zu]: must be an object", i);
		if (!name || !*name)
			return so_fail(err, errlen, SO_E_INVAL, "spec.env[%zu].name: is required", i);
		if (spin_env_reserved(name))
			return so_fail(err, errlen, SO_E_INVAL,
				       "spec.env[%zu].name: \"%s\" is set by the operator and may not be set here", i,
				       name);
	}
	json_array_foreach(list, i, e)
		json_array_append_new(env, json_deep_copy(e));
	return SO_OK;
}

int spin_podopts_container(const json_t *spec, json_t *container, char *err, size_t errlen)
{
	const json_t *policy = field(spec, "imagePullPolicy");

	if (!policy)
		return SO_OK;
	if (!json_is_string(policy))
		return so_fail(err, errlen, SO_E_INVAL, "spec.imagePullPolicy: must be a string");
	/* corev1.Container's last field we write, so appending keeps Go's order. */
	if (json_string_length(policy) > 0)
		json_object_set_new(container, "imagePullPolicy", json_copy((json_t *)policy));
	return SO_OK;
}

/* The PodSpec fields deployment.c and this file write, in corev1.PodSpec's field order. */
static const char *const pod_order[] = {
	"volumes",	    "containers",	  "nodeSelector",      "serviceAccountName",
	"imagePullSecrets", "affinity",		  "tolerations",       "priorityClassName",
	"runtimeClassName", "topologySpreadConstraints",
};

/* The scheduling fields the app sets, in a new object (empty when none); SO_E_INVAL for a wrong JSON type. */
static int scheduling_of(const json_t *spec, json_t *add, char *err, size_t errlen)
{
	static const char *const lists[] = { "tolerations", "topologySpreadConstraints" };
	const json_t *v;
	json_t *selector = json_object();
	int rc = spin_copy_string_map(selector, spec, "nodeSelector", "spec.nodeSelector", err, errlen);

	if (rc == SO_OK && json_object_size(selector) > 0)
		json_object_set(add, "nodeSelector", selector);
	json_decref(selector);
	if (rc != SO_OK)
		return rc;
	v = field(spec, "affinity");
	if (v && !json_is_object(v))
		return so_fail(err, errlen, SO_E_INVAL, "spec.affinity: must be an object");
	/* A pointer in Go: sent whenever it is set, even as {}. */
	if (v)
		json_object_set_new(add, "affinity", json_deep_copy(v));
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		v = field(spec, lists[i]);
		if (v && !json_is_array(v))
			return so_fail(err, errlen, SO_E_INVAL, "spec.%s: must be a list", lists[i]);
		if (json_array_size(v) > 0)
			json_object_set_new(add, lists[i], json_deep_copy(v));
	}
	v = field(spec, "priorityClassName");
	if (v && !json_is_string(v))
		return so_fail(err, errlen, SO_E_INVAL, "spec.priorityClassName: must be a string");
	if (json_string_length(v) > 0)
		json_object_set_new(add, "priorityClassName", json_copy((json_t *)v));
	return SO_OK;
}

int spin_podopts_pod(const json_t *spec, json_t **pod, char *err, size_t errlen)
{
	json_t *add = json_object(), *out, *v;
	const char *key;
	int rc = scheduling_of(spec, add, err, errlen);

	if (rc != SO_OK || json_object_size(add) == 0) {
		json_decref(add);
		return rc;
	}
	out = json_object();
	for (size_t i = 0; i < sizeof pod_order / sizeof pod_order[0]; i++) {
		v = json_object_get(*pod, pod_order[i]);
		if (!v)
			v = json_object_get(add, pod_order[i]);
		if (v)
			json_object_set(out, pod_order[i], v);
	}
	/* Anything deployment.c writes that the list above misses keeps its place at the end rather than vanish. */
	json_object_foreach(*pod, key, v) {
		if (!json_object_get(out, key))
			json_object_set(out, key, v);
	}
	json_decref(add);
	json_decref(*pod);
	*pod = out;
	return SO_OK;
}
