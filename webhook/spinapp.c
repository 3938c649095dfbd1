/*
 * SpinApp defaulting and validation (upstream's, docs/internals/webhook-admission.md). Quantities are
 * operator/kube/quantity.c's.
 *
 * Validation runs upstream's four checks in upstream's order with upstream's messages (executor, replicas,
 * annotations, invocation limits; replicas allows 0 here, so two of its messages are ours: check_replicas),
 * then the stricter checks listed in docs/compat.md, all collected into one field.ErrorList that admission.c
 * renders as apierrors.NewInvalid does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/spin/spin.h"
#include "operator/kube/quantity.h"
#include "operator/base/err.h"
#include "operator/kube/names.h"
#include "webhook/admission_ctx.h"
#include "webhook/spinapp.h"
#include "webhook/decode.h"
#include "webhook/gofmt.h"
#include "webhook/field.h"
#include "operator/kube/imageref.h"
#include "webhook/spinapp_podopts.h"
#include "webhook/spinapp_route.h"

#define PATH_MAX_LEN 512
#define READY_NAME_MAX 52     /* 63 - strlen("app.") - strlen(".status"): spin_ready_label_key's rule */
#define GENERATE_NAME_KEEP 58 /* the apiserver keeps at most this much of generateName, then adds 5 */
#define TARGET_MAX 1000       /* hpa.c's bound on utilization targets */

#define ERR_FORMAT "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

/* A quantity field as JSON (string or number) → its text, for ParseQuantity. NULL for other JSON types. */
static const char *quantity_text(const json_t *v, char *tmp, size_t n)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(tmp, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return tmp;
	}
	if (json_is_real(v)) {
		gofmt_float(json_real_value(v), tmp, n);
		return tmp;
	}
	return NULL;
}

/* ======================================================================================================
 * Decoding
 * ====================================================================================================== */

static const json_t *member(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	return v && !json_is_null(v) ? v : NULL;
}

/* The elements of obj[key] (an array) that must be objects of go_type. */
static int decode_elements(const json_t *obj, const char *key, const char *go_struct, const char *path,
			   const char *go_type, struct buf *msg)
{
	const json_t *arr = member(obj, key), *e;
	size_t i;

	json_array_foreach(arr, i, e) {
		if (!json_is_null(e) && !json_is_object(e))
			return decode_type_error(msg, e, go_struct, path, go_type);
	}
	return SO_OK;
}

static int decode_resource_list(const json_t *res, const char *key, const char *path, struct buf *msg)
{
	const json_t *list = member(res, key), *v;
	const char *name, *why;
	char tmp[64];
	int rc;

	if (!list)
		return SO_OK;
	if (!json_is_object(list))
		return decode_type_error(msg, list, "Resources", path, "v1.ResourceList");
	json_object_foreach((json_t *)list, name, v) {
		struct quantity q;
		const char *text;
		if (json_is_null(v))
			continue;
		/* Quantity.UnmarshalJSON returns ParseQuantity's error as it is. */
		text = quantity_text(v, tmp, sizeof tmp);
		rc = text ? quantity_parse(text, &q, &why) : SO_E_INVAL;
		if (rc != SO_OK) {
			buf_reset(msg);
			buf_appends(msg, text ? why : ERR_FORMAT);
			return SO_E_INVAL;
		}
		quantity_free(&q);
	}
	return SO_OK;
}

static int decode_probe(const json_t *checks, const char *which, const char *path, struct buf *msg)
{
	static const char *const ints[] = { "initialDelaySeconds", "timeoutSeconds", "periodSeconds",
					    "successThreshold", "failureThreshold" };
	const json_t *probe = member(checks, which), *http;
	char p[PATH_MAX_LEN];
	int rc = decode_object(checks, which, "HealthChecks", path, "v1alpha1.HealthProbe", msg);

	snprintf(p, sizeof p, "%s.httpGet", path);
	if (rc == SO_OK)
		rc = decode_object(probe, "httpGet", "HealthProbe", p, "v1alpha1.HTTPHealthProbe", msg);
	http = member(probe, "httpGet");
	if (rc == SO_OK) {
		snprintf(p, sizeof p, "%s.httpGet.path", path);
		rc = decode_string(http, "path", "HTTPHealthProbe", p, msg);
	}
	if (rc == SO_OK) {
		snprintf(p, sizeof p, "%s.httpGet.httpHeaders", path);
		rc = decode_array(http, "httpHeaders", "HTTPHealthProbe", p, "[]v1alpha1.HTTPHealthProbeHeader", msg);
	}
	for (size_t i = 0; rc == SO_OK && i < sizeof ints / sizeof ints[0]; i++) {
		snprintf(p, sizeof p, "%s.%s", path, ints[i]);
		rc = decode_int32(probe, ints[i], "HealthProbe", p, msg);
	}
	return rc;
}

int spinapp_check_decode(const json_t *app, struct buf *msg)
{
	static const char *const strings[] = { "executor", "image", "serviceAccountName" };
	static const char *const maps[] = { "deploymentAnnotations", "podAnnotations", "podLabels",
					    "serviceAnnotations", "invocationLimits" };
	static const char *const autoscaler_ints[] = { "minReplicas", "maxReplicas", "targetCPUUtilizationPercentage",
						       "targetMemoryUtilizationPercentage" };
	const json_t *spec = member(app, "spec"), *e, *res, *as, *rt;
	char p[PATH_MAX_LEN];
	size_t i;
	int rc = decode_metadata(app, "SpinApp", msg);

	if (rc == SO_OK)
		rc = decode_object(app, "spec", "SpinApp", "spec", "v1alpha1.SpinAppSpec", msg);
	if (rc == SO_OK)
		rc = decode_object(app, "status", "SpinApp", "status", "v1alpha1.SpinAppStatus", msg);
	for (i = 0; rc == SO_OK && i < sizeof strings / sizeof strings[0]; i++) {
		snprintf(p, sizeof p, "spec.%s", strings[i]);
		rc = decode_string(spec, strings[i], "SpinAppSpec", p, msg);
	}
	for (i = 0; rc == SO_OK && i < sizeof maps / sizeof maps[0]; i++) {
		snprintf(p, sizeof p, "spec.%s", maps[i]);
		rc = decode_string_map(spec, maps[i], "SpinAppSpec", p, msg);
	}
	if (rc == SO_OK)
		rc = decode_int32(spec, "replicas", "SpinAppSpec", "spec.replicas", msg);
	if (rc == SO_OK)
		rc = decode_bool(spec, "enableAutoscaling", "SpinAppSpec", "spec.enableAutoscaling", msg);
	if (rc == SO_OK)
		rc = decode_array(spec, "imagePullSecrets", "SpinAppSpec", "spec.imagePullSecrets",
				  "[]v1.LocalObjectReference", msg);
	if (rc == SO_OK)
		rc = decode_elements(spec, "imagePullSecrets", "SpinAppSpec", "spec.imagePullSecrets",
				     "v1.LocalObjectReference", msg);
	if (rc == SO_OK)
		rc = decode_array(spec, "components", "SpinAppSpec", "spec.components", "[]string", msg);
	json_array_foreach(member(spec, "components"), i, e) {
		if (rc == SO_OK && !json_is_null(e) && !json_is_string(e))
			rc = decode_type_error(msg, e, "SpinAppSpec", "spec.components", "string");
	}
	/* variables, volumes, volumeMounts: lists of objects whose name (and value) are strings */
	if (rc == SO_OK)
		rc = decode_array(spec, "variables", "SpinAppSpec", "spec.variables", "[]v1alpha1.SpinVar", msg);
	if (rc == SO_OK)
		rc = decode_elements(spec, "variables", "SpinAppSpec", "spec.variables", "v1alpha1.SpinVar", msg);
	json_array_foreach(member(spec, "variables"), i, e) {
		if (rc == SO_OK)
			rc = decode_string(e, "name", "SpinVar", "spec.variables.name", msg);
		if (rc == SO_OK)
			rc = decode_string(e, "value", "SpinVar", "spec.variables.value", msg);
		if (rc == SO_OK)
			rc = decode_object(e, "valueFrom", "SpinVar", "spec.variables.valueFrom", "v1.EnvVarSource",
					   msg);
	}
	if (rc == SO_OK)
		rc = decode_array(spec, "volumes", "SpinAppSpec", "spec.volumes", "[]v1.Volume", msg);
	if (rc == SO_OK)
		rc = decode_elements(spec, "volumes", "SpinAppSpec", "spec.volumes", "v1.Volume", msg);
	json_array_foreach(member(spec, "volumes"), i, e) {
		if (rc == SO_OK)
			rc = decode_string(e, "name", "Volume", "spec.volumes.name", msg);
	}
	if (rc == SO_OK)
		rc = decode_array(spec, "volumeMounts", "SpinAppSpec", "spec.volumeMounts", "[]v1.VolumeMount", msg);
	if (rc == SO_OK)
		rc = decode_elements(spec, "volumeMounts", "SpinAppSpec", "spec.volumeMounts", "v1.VolumeMount", msg);
	json_array_foreach(member(spec, "volumeMounts"), i, e) {
		if (rc == SO_OK)
			rc = decode_string(e, "name", "VolumeMount", "spec.volumeMounts.name", msg);
		if (rc == SO_OK)
			rc = decode_string(e, "mountPath", "VolumeMount", "spec.volumeMounts.mountPath", msg);
	}
	if (rc == SO_OK)
		rc = decode_object(spec, "checks", "SpinAppSpec", "spec.checks", "v1alpha1.HealthChecks", msg);
	if (rc == SO_OK)
		rc = decode_probe(member(spec, "checks"), "readiness", "spec.checks.readiness", msg);
	if (rc == SO_OK)
		rc = decode_probe(member(spec, "checks"), "liveness", "spec.checks.liveness", msg);
	if (rc == SO_OK)
		rc = decode_object(spec, "resources", "SpinAppSpec", "spec.resources", "v1alpha1.Resources", msg);
	res = member(spec, "resources");
	if (rc == SO_OK)
		rc = decode_resource_list(res, "limits", "spec.resources.limits", msg);
	if (rc == SO_OK)
		rc = decode_resource_list(res, "requests", "spec.resources.requests", msg);
	if (rc == SO_OK)
		rc = decode_object(spec, "runtimeConfig", "SpinAppSpec", "spec.runtimeConfig", "v1alpha1.RuntimeConfig",
				   msg);
	rt = member(spec, "runtimeConfig");
	if (rc == SO_OK)
		rc = decode_string(rt, "loadFromSecret", "RuntimeConfig", "spec.runtimeConfig.loadFromSecret", msg);
	if (rc == SO_OK)
		rc = decode_object(spec, "autoscaler", "SpinAppSpec", "spec.autoscaler", "v1alpha1.SpinAppAutoscaler",
				   msg);
	as = member(spec, "autoscaler");
	for (i = 0; rc == SO_OK && i < sizeof autoscaler_ints / sizeof autoscaler_ints[0]; i++) {
		snprintf(p, sizeof p, "spec.autoscaler.%s", autoscaler_ints[i]);
		rc = decode_int32(as, autoscaler_ints[i], "SpinAppAutoscaler", p, msg);
	}
	if (rc == SO_OK)
		rc = decode_object(as, "behavior", "SpinAppAutoscaler", "spec.autoscaler.behavior",
				   "v2.HorizontalPodAutoscalerBehavior", msg);
	if (rc == SO_OK)
		rc = spinapp_podopts_decode(spec, msg);
	return rc;
}

/* ======================================================================================================
 * Defaulting
 * ====================================================================================================== */

static const char *app_namespace(const json_t *app, const char *request_ns)
{
	const char *ns = json_string_value(member(member(app, "metadata"), "namespace"));
	if (!ns || !*ns)
		ns = request_ns;
	return ns ? ns : "";
}

static int add_warning(json_t *warnings, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int add_warning(json_t *warnings, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (!warnings || json_array_size(warnings) >= ADMISSION_MAX_WARNINGS)
		return SO_OK;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	/* SO_E_INVAL when the cut at sizeof text (or a %.Ns) split a UTF-8 sequence: json_string refuses that. */
	return json_array_append_new(warnings, json_string(text)) ? SO_E_INVAL : SO_OK;
}

int spinapp_default(json_t *app, const char *request_ns, const struct admission_ctx *ctx, json_t *warnings,
		    char *msg, size_t msglen)
{
	json_t *spec = json_object_get(app, "spec"), *names, *n;
	const char *executor = json_string_value(member(spec, "executor"));
	const char *ns = app_namespace(app, request_ns), *best = NULL;
	size_t i;
	int rc = SO_OK;

	if (msg && msglen)
		msg[0] = '\0';
	if (executor && *executor)
		return SO_OK;
	names = json_array();
	if (ctx && ctx->list_executors)
		rc = ctx->list_executors(ctx->user, ns, names, msg, msglen);
	if (rc != SO_OK) {
		if (msg && msglen && !msg[0])
			snprintf(msg, msglen, "failed to list SpinAppExecutors: %s", so_strerror(rc));
		json_decref(names);
		return rc < 0 ? rc : SO_E_INVAL;
	}
	/* The first name in strings.Compare order, among this namespace's executors only. */
	json_array_foreach(names, i, n) {
		const char *s = json_string_value(n);
		if (s && *s && (!best || strcmp(s, best) < 0))
			best = s;
	}
	if (!best) {
		rc = add_warning(warnings, "no SpinAppExecutor exists in namespace \"%s\", so spec.executor was not "
				 "defaulted", ns);
	} else if (!json_is_object(spec)) {
		json_object_set_new(app, "spec", json_pack("{s:s}", "executor", best)); /* best: valid UTF-8 */
	} else {
		json_object_set_new(spec, "executor", json_string(best)); /* best came out of jansson: valid UTF-8 */
	}
	json_decref(names);
	return rc;
}

/* ======================================================================================================
 * Validation: upstream's checks
 * ====================================================================================================== */

static int is_true(const json_t *obj, const char *key)
{
	return json_is_true(member(obj, key));
}

static void invalid_map(struct field_list *errs, const char *field, const json_t *map, const char *detail)
{
	struct buf v = BUF_INIT(SIZE_MAX / 2);

	gofmt_json_string_map(&v, map); /* v has no cap a rendering could reach: it cannot fail */
	field_add(errs, FIELD_INVALID, field, v.data, "%s", detail);
	buf_free(&v);
}

/* upstream validateExecutor: returns the executor (a new reference) when it exists. */
static json_t *check_executor(const json_t *spec, const char *ns, const struct admission_ctx *ctx,
			      struct field_list *errs)
{
	const char *name = json_string_value(member(spec, "executor"));
	json_t *executor = NULL;

	if (!name || !*name) {
		field_invalid_str(errs, "spec.executor", "",
				  "executor must be set, likely no default executor was set because you have no "
				  "executors installed");
		return NULL;
	}
	if (!ctx || !ctx->get_executor || ctx->get_executor(ctx->user, ns, name, &executor) != SO_OK || !executor) {
		json_decref(executor);
		field_invalid_str(errs, "spec.executor", name, "executor does not exist in namespace");
		return NULL;
	}
	return executor;
}

/*
 * Upstream's second check, with one change (docs/compat.md, "Scale subresource and scale to zero"): an explicit
 * replicas: 0 scales the app to zero and is allowed; upstream's Go struct cannot tell 0 from an omitted field
 * and refused both ("replicas must be > 0"). Omitted, without autoscaling, is still refused; a negative count
 * too (the CRD's minimum: 0 refuses it first when our CRD is installed). With autoscaling, replicas must be
 * unset or 0, as upstream.
 */
static void check_replicas(const json_t *spec, struct field_list *errs)
{
	const json_t *r = member(spec, "replicas");
	json_int_t replicas = json_is_integer(r) ? json_integer_value(r) : 0;
	int autoscaling = is_true(spec, "enableAutoscaling");

	if (autoscaling && replicas != 0)
		field_invalid_int(errs, "spec.replicas", replicas,
				  "replicas cannot be set when autoscaling is enabled");
	else if (!autoscaling && !r)
		field_add(errs, FIELD_REQUIRED, "spec.replicas", NULL,
			  "replicas must be set unless autoscaling is enabled (0 scales the app to zero)");
	else if (!autoscaling && replicas < 0)
		field_invalid_int(errs, "spec.replicas", replicas, "replicas must be >= 0");
}

static void check_annotations(const json_t *spec, const json_t *executor, struct field_list *errs)
{
	const json_t *deployment = member(spec, "deploymentAnnotations"), *pod = member(spec, "podAnnotations");

	if (!executor || is_true(member(executor, "spec"), "createDeployment"))
		return;
	if (json_object_size(deployment) != 0)
		invalid_map(errs, "spec.deploymentAnnotations", deployment,
			    "deploymentAnnotations can't be set when the executor does not use operator deployments");
	else if (json_object_size(pod) != 0)
		invalid_map(errs, "spec.podAnnotations", pod,
			    "podAnnotations can't be set when the executor does not use operator deployments");
}

/* resources.<kind>.memory as a quantity; *present when the key exists (a null value is a zero quantity). */
static int memory_of(const json_t *spec, const char *kind, struct quantity *q, int *present)
{
	const json_t *list = member(member(spec, "resources"), kind);
	const json_t *v = json_is_object(list) ? json_object_get(list, "memory") : NULL;
	const char *text, *why;
	char tmp[64];

	*present = v != NULL;
	if (!v)
		return SO_OK;
	text = json_is_null(v) ? "0" : quantity_text(v, tmp, sizeof tmp);
	return quantity_parse(text ? text : "", q, &why);
}

/* upstream validateInvocationLimits. *parsed says whether the memory limit parsed (for the stricter checks). */
static int check_invocation_limits(const json_t *spec, struct field_list *errs, int *parsed)
{
	const json_t *limits = member(spec, "invocationLimits");
	const json_t *mem = json_is_object(limits) ? json_object_get(limits, "memory") : NULL;
	struct quantity inv, req = { 0 }, lim = { 0 }, *constraint;
	const char *text = json_is_string(mem) ? json_string_value(mem) : "", *why, *what;
	int has_req = 0, has_lim = 0, rc;
	struct buf a = BUF_INIT(SIZE_MAX / 2), b = BUF_INIT(SIZE_MAX / 2);

	*parsed = 0;
	if (!mem)
		return SO_OK;
	rc = quantity_parse(text, &inv, &why);
	if (rc != SO_OK) {
		field_invalid_str(errs, "spec.invocationLimits[memory]", text,
				  "memory limit must be a valid memory quantity (e.g. 128Mi, 1Gi)");
		return SO_OK;
	}
	*parsed = 1;
	/* Decoding already accepted both resource lists, so these parse. */
	rc = memory_of(spec, "requests", &req, &has_req);
	if (rc == SO_OK)
		rc = memory_of(spec, "limits", &lim, &has_lim);
	if (rc != SO_OK) {
		rc = SO_OK;
		goto out;
	}
	/* The limit when there is one, else the request, else nothing to compare with. */
	constraint = has_lim ? &lim : has_req ? &req : NULL;
	what = has_lim ? "limit" : "request";
	if (constraint && quantity_cmp(&inv, constraint) > 0) {
		rc = quantity_string(&inv, &a);
		if (rc == SO_OK)
			rc = quantity_string(constraint, &b);
		if (rc == SO_OK)
			field_invalid_str(errs, "spec.invocationLimits[memory]", a.data,
					  "invocation limit quantity cannot be greater than the memory %s (%s)", what,
					  b.data);
	}
out:
	quantity_free(&inv);
	quantity_free(&req);
	quantity_free(&lim);
	buf_free(&a);
	buf_free(&b);
	return rc;
}

/* ======================================================================================================
 * Validation: the stricter checks (docs/compat.md, "Admission webhook: stricter checks")
 * ====================================================================================================== */

static void check_name(const json_t *app, struct field_list *errs)
{
	const json_t *meta = member(app, "metadata");
	const char *name = json_string_value(member(meta, "name"));
	const char *gen = json_string_value(member(meta, "generateName"));
	struct buf key = BUF_INIT(1024);
	char err[256];

	if (name && *name) {
		if (spin_ready_label_key(name, &key, err, sizeof err) != SO_OK && strlen(name) > READY_NAME_MAX)
			field_invalid_str(errs, "metadata.name", name,
					  "must be no more than %d characters: the operator labels the app's pods with "
					  "\"" SPIN_GROUP "/app.<name>.status\", and a label name may not exceed 63 "
					  "characters",
					  READY_NAME_MAX);
	} else if (gen && *gen) {
		size_t kept = strlen(gen) < GENERATE_NAME_KEEP ? strlen(gen) : GENERATE_NAME_KEEP;
		if (kept + 5 > READY_NAME_MAX)
			field_invalid_str(errs, "metadata.generateName", gen,
					  "must be no more than %d characters: the generated name (5 more) must fit "
					  "in %d characters, so that the ready label \"" SPIN_GROUP
					  "/app.<name>.status\" does not exceed 63 characters",
					  READY_NAME_MAX - 5, READY_NAME_MAX);
	}
	buf_free(&key);
}

static void check_image(const char *field, const char *image, struct field_list *errs)
{
	if (!image || !*image)
		field_add(errs, FIELD_REQUIRED, field, NULL,
			  "the app's OCI image reference, e.g. ghcr.io/spinframework/containerd-shim-spin/examples/"
			  "spin-rust-hello:v0.23.0");
	else if (!image_ref_valid(image))
		field_invalid_str(errs, field, image, IMAGE_REFERENCE_MSG);
}

static void check_keys(const json_t *spec, const char *key, int label_values, struct field_list *errs)
{
	const json_t *map = member(spec, key), *v;
	char field[PATH_MAX_LEN];
	const char *k;

	json_object_foreach((json_t *)map, k, v) {
		snprintf(field, sizeof field, "spec.%s", key);
		if (!kube_qualified_name(k))
			field_invalid_str(errs, field, k, QUALIFIED_NAME_MSG);
		if (label_values && json_is_string(v) && json_string_length(v) > 0 &&
		    !kube_label_name_part(json_string_value(v), json_string_length(v))) {
			snprintf(field, sizeof field, "spec.%s[%s]", key, k);
			field_invalid_str(errs, field, json_string_value(v), LABEL_VALUE_MSG);
		}
	}
}

/* Spin's variable-name rules (spin-expressions Key::new), applied to the name in lowercase: the operator
 * upper-cases it into SPIN_VARIABLE_<NAME>, and Spin looks variables up by that upper-cased name. */
static const char *variable_name_problem(const char *name)
{
	size_t n = strlen(name);
	char first = name[0], last = n ? name[n - 1] : '\0';

	if (n == 0)
		return "must not be empty";
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return "Spin variable names may contain only letters, digits and '_'";
	}
	if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z')))
		return "Spin variable names must start with a letter";
	if (last == '_')
		return "Spin variable names must end with a letter or digit";
	if (strstr(name, "__"))
		return "Spin variable names may not contain \"__\"";
	return NULL;
}

static int check_variables(const json_t *spec, struct field_list *errs, json_t *warnings)
{
	static const char *const sources[] = { "configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef",
					       "fileKeyRef" };
	const json_t *var;
	char field[PATH_MAX_LEN];
	size_t i;
	int rc = SO_OK;

	json_array_foreach(member(spec, "variables"), i, var) {
		const char *name = json_string_value(member(var, "name"));
		const char *value = json_string_value(member(var, "value"));
		const json_t *from = member(var, "valueFrom");
		const char *problem;
		size_t count = 0;

		snprintf(field, sizeof field, "spec.variables[%zu].name", i);
		problem = variable_name_problem(name ? name : "");
		if (problem) {
			field_invalid_str(errs, field, name ? name : "", "%s", problem);
		} else {
			int upper = 0;
			for (const char *c = name; *c; c++)
				upper |= *c >= 'A' && *c <= 'Z';
			if (upper && rc == SO_OK) {
				char lower[256];
				size_t j;
				for (j = 0; name[j] && j + 1 < sizeof lower; j++) {
					char ch = name[j];
					lower[j] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
				}
				lower[j] = '\0';
				rc = add_warning(warnings, "%s \"%.200s\": Spin sees this variable as \"%s\"", field,
						 name, lower);
			}
		}
		if (!from)
			continue;
		snprintf(field, sizeof field, "spec.variables[%zu].valueFrom", i);
		if (value && *value)
			field_add(errs, FIELD_FORBIDDEN, field, NULL, "may not be specified when value is not empty");
		for (size_t s = 0; s < sizeof sources / sizeof sources[0]; s++)
			count += member(from, sources[s]) != NULL;
		if (count == 0)
			field_add(errs, FIELD_REQUIRED, field, NULL,
				  "must specify one of: configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef or fileKeyRef");
		else if (count > 1)
			field_add(errs, FIELD_FORBIDDEN, field, NULL,
				  "may not have more than one field specified at a time");
	}
	return rc;
}

/* The names of the volumes the operator adds to every pod (operator/spin/deployment.c): a user volume of the same
 * name would make the Deployment invalid. Other "spin-" names (spin-data) are fine, as upstream. */
static const char *const reserved_volumes[] = { "spin-runtime-config", "spin-ca" };
#define RESERVED_MSG "the name of a volume the operator adds"

static int reserved_volume(const char *name)
{
	for (size_t i = 0; i < sizeof reserved_volumes / sizeof reserved_volumes[0]; i++)
		if (strcmp(name, reserved_volumes[i]) == 0)
			return 1;
	return 0;
}

static void check_volumes(const json_t *spec, struct field_list *errs)
{
	const json_t *volumes = member(spec, "volumes"), *mounts = member(spec, "volumeMounts"), *v;
	char field[PATH_MAX_LEN];
	size_t i;

	json_array_foreach(volumes, i, v) {
		const char *name = json_string_value(member(v, "name"));
		snprintf(field, sizeof field, "spec.volumes[%zu].name", i);
		if (!name)
			continue;
		if (reserved_volume(name)) {
			field_invalid_str(errs, field, name, RESERVED_MSG);
			continue;
		}
		for (size_t j = 0; j < i; j++) {
			const char *other = json_string_value(member(json_array_get(volumes, j), "name"));
			if (other && strcmp(other, name) == 0) {
				struct buf q = BUF_INIT(SIZE_MAX / 2);
				gofmt_quote(&q, name, strlen(name)); /* no cap to reach: cannot fail */
				field_add(errs, FIELD_DUPLICATE, field, q.data, NULL);
				buf_free(&q);
				break;
			}
		}
	}
	json_array_foreach(mounts, i, v) {
		const char *name = json_string_value(member(v, "name"));
		int found = 0;
		const json_t *vol;
		size_t j;
		snprintf(field, sizeof field, "spec.volumeMounts[%zu].name", i);
		if (!name)
			continue;
		if (reserved_volume(name)) {
			field_invalid_str(errs, field, name, RESERVED_MSG);
			continue;
		}
		json_array_foreach(volumes, j, vol) {
			const char *vn = json_string_value(member(vol, "name"));
			found |= vn && strcmp(vn, name) == 0;
		}
		if (!found)
			field_invalid_str(errs, field, name, "must be the name of a volume in spec.volumes");
	}
}

static void check_probes(const json_t *spec, struct field_list *errs)
{
	static const char *const which[] = { "readiness", "liveness" };
	const json_t *checks = member(spec, "checks");
	char field[PATH_MAX_LEN];

	for (size_t i = 0; i < 2; i++) {
		const json_t *probe = member(checks, which[i]);
		if (!probe || member(probe, "httpGet"))
			continue;
		snprintf(field, sizeof field, "spec.checks.%s.httpGet", which[i]);
		field_add(errs, FIELD_REQUIRED, field, NULL,
			  "a health check needs httpGet, the only kind of probe the operator builds");
	}
}

static int check_memory_range(const json_t *spec, struct field_list *errs, json_t *warnings)
{
	const json_t *limits = member(spec, "invocationLimits"), *v;
	const char *text = json_string_value(member(limits, "memory")), *k;
	int64_t bytes = 0;
	int rc;

	if (text) {
		rc = quantity_value(text, &bytes);
		if (rc == SO_E_TOO_LARGE)
			field_invalid_str(errs, "spec.invocationLimits[memory]", text,
					  "must not be more than 8Ei (9223372036854775807 bytes)");
		else if (rc == SO_OK && bytes <= 0)
			field_invalid_str(errs, "spec.invocationLimits[memory]", text, "must be greater than zero");
	}
	json_object_foreach((json_t *)limits, k, v) {
		if (strcmp(k, "memory") != 0 &&
		    add_warning(warnings, "spec.invocationLimits[%.100s] is ignored: only memory is understood", k) !=
			    SO_OK)
			return SO_E_INVAL;
	}
	return SO_OK;
}

static int check_autoscaler(const json_t *spec, struct field_list *errs, json_t *warnings)
{
	static const char *const targets[] = { "targetCPUUtilizationPercentage",
					       "targetMemoryUtilizationPercentage" };
	const json_t *as = member(spec, "autoscaler"), *v;
	json_int_t min = 1, max;
	char field[PATH_MAX_LEN];

	if (!json_is_object(as))
		return SO_OK;
	v = member(as, "minReplicas");
	if (json_is_integer(v)) {
		min = json_integer_value(v);
		if (min < 1)
			field_invalid_int(errs, "spec.autoscaler.minReplicas", min,
					  "must be greater than or equal to 1");
	}
	v = member(as, "maxReplicas");
	if (!json_is_integer(v)) {
		field_add(errs, FIELD_REQUIRED, "spec.autoscaler.maxReplicas", NULL,
			  "the largest number of replicas the autoscaler may set");
	} else {
		max = json_integer_value(v);
		if (max < 1)
			field_invalid_int(errs, "spec.autoscaler.maxReplicas", max,
					  "must be greater than or equal to 1");
		else if (max < min)
			field_invalid_int(errs, "spec.autoscaler.maxReplicas", max,
					  "must be greater than or equal to minReplicas (%" JSON_INTEGER_FORMAT ")",
					  min);
	}
	for (size_t i = 0; i < 2; i++) {
		v = member(as, targets[i]);
		if (!json_is_integer(v) || (json_integer_value(v) >= 1 && json_integer_value(v) <= TARGET_MAX))
			continue;
		snprintf(field, sizeof field, "spec.autoscaler.%s", targets[i]);
		field_invalid_int(errs, field, json_integer_value(v), "must be between 1 and %d", TARGET_MAX);
	}
	if (!is_true(spec, "enableAutoscaling"))
		return add_warning(warnings, "spec.autoscaler is ignored while spec.enableAutoscaling is false");
	return SO_OK;
}

/* The executor the app names must be able to run it: createDeployment: true needs a runtime. */
static void check_executor_usable(const json_t *spec, const json_t *executor, struct field_list *errs)
{
	const json_t *espec = member(executor, "spec"), *dc = member(espec, "deploymentConfig");
	const char *name = json_string_value(member(spec, "executor"));

	if (!executor || !is_true(espec, "createDeployment"))
		return;
	if (!json_is_string(member(dc, "runtimeClassName")) && !json_is_string(member(dc, "spinImage")))
		field_invalid_str(errs, "spec.executor", name ? name : "",
				  "the executor has createDeployment: true but no deploymentConfig.runtimeClassName or "
				  "deploymentConfig.spinImage, so no Deployment can be built for the app");
}

int spinapp_validate(const json_t *app, const char *request_ns, const struct admission_ctx *ctx,
		     struct field_list *errs, json_t *warnings)
{
	const json_t *spec = member(app, "spec");
	const char *ns = app_namespace(app, request_ns);
	const char *sa = json_string_value(member(spec, "serviceAccountName"));
	json_t *executor;
	int rc, memory_parsed = 0;

	/* Upstream, in upstream's order. */
	executor = check_executor(spec, ns, ctx, errs);
	check_replicas(spec, errs);
	check_annotations(spec, executor, errs);
	rc = check_invocation_limits(spec, errs, &memory_parsed);
	if (rc != SO_OK || (ctx && (ctx->flags & ADMISSION_UPSTREAM_ONLY))) {
		json_decref(executor);
		return rc;
	}

	/* Stricter, after upstream's. */
	check_executor_usable(spec, executor, errs);
	json_decref(executor);
	check_name(app, errs);
	check_image("spec.image", json_string_value(member(spec, "image")), errs);
	if (sa && *sa && !kube_dns1123_subdomain(sa))
		field_invalid_str(errs, "spec.serviceAccountName", sa, DNS1123_SUBDOMAIN_MSG);
	check_keys(spec, "podLabels", 1, errs);
	check_keys(spec, "podAnnotations", 0, errs);
	check_keys(spec, "deploymentAnnotations", 0, errs);
	check_keys(spec, "serviceAnnotations", 0, errs);
	check_keys(spec, "nodeSelector", 1, errs);
	spinapp_podopts_check(spec, errs);
	spinapp_route_check(spec, errs);
	rc = check_variables(spec, errs, warnings);
	check_volumes(spec, errs);
	check_probes(spec, errs);
	if (rc == SO_OK && memory_parsed)
		rc = check_memory_range(spec, errs, warnings);
	if (rc == SO_OK)
		rc = check_autoscaler(spec, errs, warnings);
	return rc;
}
