/*
 * SpinApp pod options: decoding and validation (webhook/spinapp_podopts.h). Each check is the API server's check of the
 * same pod field (k8s.io/kubernetes v1.34 pkg/apis/core/validation: ValidateEnv, validatePullPolicy,
 * ValidateTolerations, validateTopologySpreadConstraints, the priorityClassName check of ValidatePodSpec), with
 * its wording, plus the one rule of our own: spec.env may not name a variable the operator sets.
 */
#include <stdio.h>
#include <string.h>

#include "operator/spin/podopts.h"
#include "operator/kube/names.h"
#include "operator/base/err.h"
#include "operator/kube/quantity.h"
#include "webhook/decode.h"
#include "webhook/gofmt.h"
#include "webhook/admission_ctx.h"
#include "webhook/spinapp_podopts.h"

#define PATH_LEN 256

static const json_t *member(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	return json_is_null(v) ? NULL : v;
}

static const char *str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(member(obj, key));
	return s ? s : "";
}

static int one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, set[i]) == 0)
			return 1;
	}
	return 0;
}

/* field.NotSupported(path, value, set): set is already in the order apimachinery prints it (sorted). */
static void not_supported(struct field_list *errs, const char *path, const char *value, const char *const *set,
			  size_t n)
{
	struct buf q = BUF_INIT(SIZE_MAX / 2), list = BUF_INIT(SIZE_MAX / 2);

	gofmt_quote(&q, value, strlen(value));
	buf_appends(&list, "supported values: ");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_appends(&list, ", ");
		gofmt_quote(&list, set[i], strlen(set[i]));
	}
	field_add(errs, FIELD_NOT_SUPPORTED, path, q.data, "%s", list.data);
	buf_free(&q);
	buf_free(&list);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* dst = path + "." + child, cut at n (field paths here are short; a cut one still names the field). */
static void child(char *dst, size_t n, const char *path, const char *name)
{
	if (snprintf(dst, n, "%s.%s", path, name) >= (int)n)
		dst[n - 1] = '\0';
}

/* ======================================================================================================
 * Decoding: what encoding/json would refuse to put into the typed fields
 * ====================================================================================================== */

/* Every element of obj[key] (already known to be an array or absent) must be an object of go_type. */
static int decode_items(const json_t *obj, const char *key, const char *path, const char *go_type, struct buf *msg)
{
	const json_t *e;
	size_t i;

	json_array_foreach(member(obj, key), i, e) {
		if (!json_is_null(e) && !json_is_object(e))
			return decode_type_error(msg, e, "SpinAppSpec", path, go_type);
	}
	return SO_OK;
}

int spinapp_podopts_decode(const json_t *spec, struct buf *msg)
{
	static const char *const toleration_strings[] = { "key", "operator", "value", "effect" };
	const json_t *e;
	char p[PATH_LEN];
	size_t i;
	int rc = decode_string(spec, "imagePullPolicy", "SpinAppSpec", "spec.imagePullPolicy", msg);

	if (rc == SO_OK)
		rc = decode_string(spec, "priorityClassName", "SpinAppSpec", "spec.priorityClassName", msg);
	if (rc == SO_OK)
		rc = decode_string_map(spec, "nodeSelector", "SpinAppSpec", "spec.nodeSelector", msg);
	if (rc == SO_OK)
		rc = decode_object(spec, "affinity", "SpinAppSpec", "spec.affinity", "v1.Affinity", msg);
	if (rc == SO_OK)
		rc = decode_array(spec, "env", "SpinAppSpec", "spec.env", "[]v1.EnvVar", msg);
	if (rc == SO_OK)
		rc = decode_items(spec, "env", "spec.env", "v1.EnvVar", msg);
	json_array_foreach(member(spec, "env"), i, e) {
		if (rc == SO_OK)
			rc = decode_string(e, "name", "EnvVar", "spec.env.name", msg);
		if (rc == SO_OK)
			rc = decode_string(e, "value", "EnvVar", "spec.env.value", msg);
		if (rc == SO_OK)
			rc = decode_object(e, "valueFrom", "EnvVar", "spec.env.valueFrom", "v1.EnvVarSource", msg);
	}
	if (rc == SO_OK)
		rc = decode_array(spec, "tolerations", "SpinAppSpec", "spec.tolerations", "[]v1.Toleration", msg);
	if (rc == SO_OK)
		rc = decode_items(spec, "tolerations", "spec.tolerations", "v1.Toleration", msg);
	json_array_foreach(member(spec, "tolerations"), i, e) {
		for (size_t k = 0; rc == SO_OK && k < N(toleration_strings); k++) {
			snprintf(p, sizeof p, "spec.tolerations.%s", toleration_strings[k]);
			rc = decode_string(e, toleration_strings[k], "Toleration", p, msg);
		}
	}
	if (rc == SO_OK)
		rc = decode_array(spec, "topologySpreadConstraints", "SpinAppSpec", "spec.topologySpreadConstraints",
				  "[]v1.TopologySpreadConstraint", msg);
	if (rc == SO_OK)
		rc = decode_items(spec, "topologySpreadConstraints", "spec.topologySpreadConstraints",
				  "v1.TopologySpreadConstraint", msg);
	json_array_foreach(member(spec, "topologySpreadConstraints"), i, e) {
		if (rc == SO_OK)
			rc = decode_int32(e, "maxSkew", "TopologySpreadConstraint", "spec.topologySpreadConstraints.maxSkew",
					  msg);
		if (rc == SO_OK)
			rc = decode_string(e, "topologyKey", "TopologySpreadConstraint",
					   "spec.topologySpreadConstraints.topologyKey", msg);
		if (rc == SO_OK)
			rc = decode_string(e, "whenUnsatisfiable", "TopologySpreadConstraint",
					   "spec.topologySpreadConstraints.whenUnsatisfiable", msg);
	}
	return rc;
}

/* ======================================================================================================
 * Validation
 * ====================================================================================================== */

static const char *const pull_policies[] = { "Always", "IfNotPresent", "Never" };

/* validEnvDownwardAPIFieldPathExpressions, sorted. */
static const char *const env_field_paths[] = { "metadata.name",	 "metadata.namespace",	    "metadata.uid",
					       "spec.nodeName",	 "spec.serviceAccountName", "status.hostIP",
					       "status.hostIPs", "status.podIP",	    "status.podIPs" };

/* validContainerResourceFieldPathExpressions, sorted; hugepages-<size> are allowed by prefix. */
static const char *const env_resources[] = { "limits.cpu",   "limits.ephemeral-storage",   "limits.memory",
					     "requests.cpu", "requests.ephemeral-storage", "requests.memory" };

/* IsRelaxedEnvVarName: printable ASCII other than '='. */
static int relaxed_env_name(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c > 0x7e || c == '=')
			return 0;
	}
	return 1;
}

/* validateObjectFieldSelector for env (apiVersion is defaulted to v1 before the API server validates). */
static void check_field_ref(const json_t *ref, const char *path, struct field_list *errs)
{
	const char *fp = str(ref, "fieldPath");
	char p[PATH_LEN];
	const char *open;

	child(p, sizeof p, path, "fieldPath");
	if (!*fp) {
		field_add(errs, FIELD_REQUIRED, p, NULL, "%s", "");
		return;
	}
	open = strstr(fp, "['");
	if (open && strlen(fp) > 2 && strcmp(fp + strlen(fp) - 2, "']") == 0) {
		size_t n = (size_t)(open - fp);
		if (!((n == 15 && strncmp(fp, "metadata.labels", n) == 0) ||
		      (n == 20 && strncmp(fp, "metadata.annotations", n) == 0))) {
			char base[PATH_LEN];
			snprintf(base, sizeof base, "%.*s", (int)n, fp);
			field_invalid_str(errs, path, base, "does not support subscript");
		}
		return;
	}
	if (!one_of(fp, env_field_paths, N(env_field_paths)))
		not_supported(errs, p, fp, env_field_paths, N(env_field_paths));
}

static void check_resource_ref(const json_t *ref, const char *path, struct field_list *errs)
{
	const char *res = str(ref, "resource");
	char p[PATH_LEN];

	child(p, sizeof p, path, "resource");
	if (!*res)
		field_add(errs, FIELD_REQUIRED, p, NULL, "%s", "");
	else if (!one_of(res, env_resources, N(env_resources)) && strncmp(res, "requests.hugepages-", 19) != 0 &&
		 strncmp(res, "limits.hugepages-", 17) != 0)
		not_supported(errs, p, res, env_resources, N(env_resources));
}

/* validateConfigMapKeySelector / validateSecretKeySelector: name and key are required. */
static void check_key_ref(const json_t *ref, const char *path, struct field_list *errs)
{
	char p[PATH_LEN];

	child(p, sizeof p, path, "name");
	if (!*str(ref, "name"))
		field_add(errs, FIELD_REQUIRED, p, NULL, "%s", "");
	child(p, sizeof p, path, "key");
	if (!*str(ref, "key"))
		field_add(errs, FIELD_REQUIRED, p, NULL, "%s", "");
}

/* validateEnvVarValueFrom. fileKeyRef (EnvFiles) counts as a source; the API server takes it only with that
 * feature gate on. */
static void check_value_from(const json_t *var, const char *path, struct field_list *errs)
{
	static const char *const sources[] = { "fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef",
					       "fileKeyRef" };
	const json_t *from = member(var, "valueFrom");
	char p[PATH_LEN];
	size_t count = 0;

	if (!from)
		return;
	for (size_t s = 0; s < N(sources); s++) {
		const json_t *ref = member(from, sources[s]);
		if (!ref)
			continue;
		count++;
		child(p, sizeof p, path, sources[s]);
		if (s == 0)
			check_field_ref(ref, p, errs);
		else if (s == 1)
			check_resource_ref(ref, p, errs);
		else if (s < 4)
			check_key_ref(ref, p, errs);
	}
	if (count == 0)
		field_invalid_str(errs, path, "",
				  "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` "
				  "or `fileKeyRef`");
	else if (*str(var, "value"))
		field_invalid_str(errs, path, "", "may not be specified when `value` is not empty");
	else if (count > 1)
		field_invalid_str(errs, path, "", "may not have more than one field specified at a time");
}

static void check_env(const json_t *spec, struct field_list *errs)
{
	const json_t *var;
	char p[PATH_LEN];
	size_t i;

	json_array_foreach(member(spec, "env"), i, var) {
		const char *name = str(var, "name");

		snprintf(p, sizeof p, "spec.env[%zu].name", i);
		if (!*name)
			field_add(errs, FIELD_REQUIRED, p, NULL, "%s", "");
		else if (!relaxed_env_name(name))
			field_invalid_str(errs, p, name,
					  "a valid environment variable name must consist only of printable ASCII "
					  "characters other than '='");
		else if (strncmp(name, BUILD_ENV_VARIABLE_PREFIX, sizeof BUILD_ENV_VARIABLE_PREFIX - 1) == 0)
			field_invalid_str(errs, p, name,
					  "the operator sets " BUILD_ENV_VARIABLE_PREFIX "* from spec.variables; set Spin "
					  "variables there");
		else if (spin_env_reserved(name))
			field_invalid_str(errs, p, name, "the operator sets this variable itself");
		snprintf(p, sizeof p, "spec.env[%zu].valueFrom", i);
		check_value_from(var, p, errs);
	}
}

/* ValidateTolerations. */
static void check_tolerations(const json_t *spec, struct field_list *errs)
{
	static const char *const operators[] = { "Equal", "Exists" };
	static const char *const effects[] = { "NoSchedule", "PreferNoSchedule", "NoExecute" };
	const json_t *t;
	char p[PATH_LEN];
	size_t i;

	json_array_foreach(member(spec, "tolerations"), i, t) {
		const char *key = str(t, "key"), *op = str(t, "operator"), *value = str(t, "value");
		const char *effect = str(t, "effect");

		snprintf(p, sizeof p, "spec.tolerations[%zu].key", i);
		if (*key && !kube_qualified_name(key))
			field_invalid_str(errs, p, key, QUALIFIED_NAME_MSG);
		snprintf(p, sizeof p, "spec.tolerations[%zu].operator", i);
		if (!*key && strcmp(op, "Exists") != 0)
			field_invalid_str(errs, p, op,
					  "operator must be Exists when `key` is empty, which means \"match all values and "
					  "all keys\"");
		if (member(t, "tolerationSeconds") && strcmp(effect, "NoExecute") != 0) {
			char e[PATH_LEN];
			snprintf(e, sizeof e, "spec.tolerations[%zu].effect", i);
			field_invalid_str(errs, e, effect, "effect must be 'NoExecute' when `tolerationSeconds` is set");
		}
		if (!*op || strcmp(op, "Equal") == 0) {
			if (*value && !kube_label_name_part(value, strlen(value)))
				field_invalid_str(errs, p, value, LABEL_VALUE_MSG);
		} else if (strcmp(op, "Exists") == 0) {
			if (*value)
				field_invalid_str(errs, p, value, "value must be empty when `operator` is 'Exists'");
		} else {
			not_supported(errs, p, op, operators, N(operators));
		}
		snprintf(p, sizeof p, "spec.tolerations[%zu].effect", i);
		if (*effect && !one_of(effect, effects, N(effects)))
			not_supported(errs, p, effect, effects, N(effects));
	}
}

/* validateTopologySpreadConstraints: maxSkew, topologyKey, whenUnsatisfiable and repeats; the API server checks
 * the rest (labelSelector, minDomains, the node policies, matchLabelKeys) when the Deployment is applied. */
static void check_spread(const json_t *spec, struct field_list *errs)
{
	static const char *const actions[] = { "DoNotSchedule", "ScheduleAnyway" };
	const json_t *list = member(spec, "topologySpreadConstraints"), *c;
	char p[PATH_LEN];
	size_t i;

	json_array_foreach(list, i, c) {
		const json_t *skew = member(c, "maxSkew");
		const char *key = str(c, "topologyKey"), *when = str(c, "whenUnsatisfiable");
		json_int_t n = json_is_integer(skew) ? json_integer_value(skew) : 0;

		snprintf(p, sizeof p, "spec.topologySpreadConstraints[%zu].maxSkew", i);
		if (n <= 0)
			field_invalid_int(errs, p, n, "must be greater than zero");
		snprintf(p, sizeof p, "spec.topologySpreadConstraints[%zu].topologyKey", i);
		if (!*key)
			field_add(errs, FIELD_REQUIRED, p, NULL, "can not be empty");
		snprintf(p, sizeof p, "spec.topologySpreadConstraints[%zu].whenUnsatisfiable", i);
		if (!one_of(when, actions, N(actions)))
			not_supported(errs, p, when, actions, N(actions));
		for (size_t j = i + 1; j < json_array_size(list); j++) {
			const json_t *o = json_array_get(list, j);
			if (strcmp(key, str(o, "topologyKey")) == 0 && strcmp(when, str(o, "whenUnsatisfiable")) == 0) {
				struct buf pair = BUF_INIT(SIZE_MAX / 2), q = BUF_INIT(SIZE_MAX / 2);
				snprintf(p, sizeof p, "spec.topologySpreadConstraints[%zu].{topologyKey, whenUnsatisfiable}",
					 i);
				buf_appendf(&pair, "{%s, %s}", key, when);
				gofmt_quote(&q, pair.data, pair.len);
				field_add(errs, FIELD_DUPLICATE, p, q.data, NULL);
				buf_free(&pair);
				buf_free(&q);
				break;
			}
		}
	}
}

void spinapp_podopts_check(const json_t *spec, struct field_list *errs)
{
	const json_t *policy = member(spec, "imagePullPolicy");
	const char *pc = str(spec, "priorityClassName");

	if (json_is_string(policy) && !one_of(json_string_value(policy), pull_policies, N(pull_policies)))
		not_supported(errs, "spec.imagePullPolicy", json_string_value(policy), pull_policies, N(pull_policies));
	check_env(spec, errs);
	check_tolerations(spec, errs);
	check_spread(spec, errs);
	if (*pc && !kube_dns1123_subdomain(pc))
		field_invalid_str(errs, "spec.priorityClassName", pc, DNS1123_SUBDOMAIN_MSG);
}
