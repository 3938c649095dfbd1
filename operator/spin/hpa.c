/*
 * An autoscaling/v2 HorizontalPodAutoscaler for a SpinApp (beyond upstream, which leaves autoscalers to the
 * user): spec.autoscaler is honoured when spec.enableAutoscaling is true, targets the app's Deployment and is
 * owned by the app like the Deployment. The Deployment then carries no spec.replicas (spin_deployment), so the
 * HPA alone sets the replica count.
 *
 *   spec.autoscaler:
 *     minReplicas: 1                            (default 1, at least 1)
 *     maxReplicas: 10                           (required, at least minReplicas)
 *     targetCPUUtilizationPercentage: 50        (1..1000, percent of the CPU request)
 *     targetMemoryUtilizationPercentage: 70     (1..1000, percent of the memory request)
 *     behavior: {...}                           (HorizontalPodAutoscalerBehavior, copied as is)
 *
 * With neither target given the HPA gets an explicit CPU target of 80%, the value the HPA controller would
 * apply to an HPA without metrics, so the object shows what it does.
 */
#include <jansson.h>
#include <stdint.h>

#include "operator/spin/appmeta.h"
#include "operator/spin/spin.h"
#include "operator/base/err.h"

#define FIELD "spec.autoscaler."
#define DEFAULT_CPU_TARGET 80
#define MAX_TARGET 1000 /* utilization is relative to requests, so >100% is meaningful; more is a typo */

/* as[key] as an int32: *present says whether it was given (null counts as absent). */
static int int_field(const json_t *as, const char *key, json_int_t *v, int *present, char *err, size_t errlen)
{
	const json_t *j = json_object_get(as, key);

	*present = 0;
	if (!j || json_is_null(j))
		return SO_OK;
	if (!json_is_integer(j) || json_integer_value(j) < INT32_MIN || json_integer_value(j) > INT32_MAX)
		return so_fail(err, errlen, SO_E_INVAL, FIELD "%s: must be an int32", key);
	*v = json_integer_value(j);
	*present = 1;
	return SO_OK;
}

static int target_field(const json_t *as, const char *key, json_int_t *v, int *present, char *err, size_t errlen)
{
	int rc = int_field(as, key, v, present, err, errlen);
	if (rc == SO_OK && *present && (*v < 1 || *v > MAX_TARGET))
		rc = so_fail(err, errlen, SO_E_INVAL,
				FIELD "%s: must be between 1 and %d (got %" JSON_INTEGER_FORMAT ")", key, MAX_TARGET,
				*v);
	return rc;
}

static json_t *resource_metric(const char *resource, json_int_t utilization)
{
	return json_pack("{s:s, s:{s:s, s:{s:s, s:I}}}", "type", "Resource", "resource", "name", resource, "target",
			 "type", "Utilization", "averageUtilization", utilization);
}

int spin_hpa(const json_t *app, json_t **out, char *err, size_t errlen)
{
	const json_t *spec = spin_obj(app, "spec");
	const json_t *as = json_object_get(spec, "autoscaler");
	const json_t *behavior;
	const char *name, *ns;
	json_int_t min = 1, max = 0, cpu = 0, mem = 0;
	int has_min, has_max, has_cpu, has_mem, rc;
	json_t *meta = NULL, *metrics, *hspec;

	*out = NULL;
	if (!json_is_true(json_object_get(spec, "enableAutoscaling")) || !as || json_is_null(as))
		return SO_OK;
	if (!json_is_object(as))
		return so_fail(err, errlen, SO_E_INVAL, "spec.autoscaler: must be an object");
	rc = spin_app_identity(app, &name, &ns, err, errlen);
	if (rc == SO_OK)
		rc = int_field(as, "minReplicas", &min, &has_min, err, errlen);
	if (rc == SO_OK && has_min && min < 1)
		rc = so_fail(err, errlen, SO_E_INVAL,
				FIELD "minReplicas: must be >= 1 (got %" JSON_INTEGER_FORMAT ")", min);
	if (rc == SO_OK)
		rc = int_field(as, "maxReplicas", &max, &has_max, err, errlen);
	if (rc == SO_OK && !has_max)
		rc = so_fail(err, errlen, SO_E_INVAL, FIELD "maxReplicas: required");
	if (rc == SO_OK && max < min)
		rc = so_fail(err, errlen, SO_E_INVAL,
				FIELD "maxReplicas: must be >= minReplicas (%" JSON_INTEGER_FORMAT ")", min);
	if (rc == SO_OK)
		rc = target_field(as, "targetCPUUtilizationPercentage", &cpu, &has_cpu, err, errlen);
	if (rc == SO_OK)
		rc = target_field(as, "targetMemoryUtilizationPercentage", &mem, &has_mem, err, errlen);
	behavior = json_object_get(as, "behavior");
	if (rc == SO_OK && behavior && !json_is_null(behavior) && !json_is_object(behavior))
		rc = so_fail(err, errlen, SO_E_INVAL, FIELD "behavior: must be an object");
	if (rc != SO_OK)
		return rc;

	rc = spin_child_meta(app, NULL, &meta, err, errlen);
	if (rc != SO_OK)
		return rc;
	metrics = json_array();
	if (!has_cpu && !has_mem) {
		has_cpu = 1;
		cpu = DEFAULT_CPU_TARGET;
	}
	/* Constants, numbers and the app's name (non-NULL, valid UTF-8): these json_pack calls cannot fail. */
	if (has_cpu)
		json_array_append_new(metrics, resource_metric("cpu", cpu));
	if (has_mem)
		json_array_append_new(metrics, resource_metric("memory", mem));
	hspec = json_pack("{s:{s:s, s:s, s:s}, s:I, s:I, s:O}", "scaleTargetRef", "apiVersion", "apps/v1", "kind",
			  "Deployment", "name", name, "minReplicas", min, "maxReplicas", max, "metrics", metrics);
	if (json_is_object(behavior))
		json_object_set_new(hspec, "behavior", json_deep_copy(behavior));
	*out = json_pack("{s:s, s:s, s:O, s:O}", "apiVersion", "autoscaling/v2", "kind", "HorizontalPodAutoscaler",
			 "metadata", meta, "spec", hspec);
	json_decref(meta);
	json_decref(metrics);
	json_decref(hspec);
	return rc;
}
