/*
 * SpinAppExecutor validation (upstream's, docs/internals/webhook-admission.md). Defaulting is a no-op upstream, and
 * here (admission.c answers "allowed" without a patch).
 *
 * Upstream's one check, only when spec.deploymentConfig is set: runtimeClassName and spinImage are mutually
 * exclusive and one of them is required. Its BadValue is the *string runtimeClassName, which apimachinery v0.34
 * renders through encoding/json: "foo" in JSON quotes, or null. Then the stricter checks of docs/compat.md.
 */
#include <stdio.h>
#include <string.h>

#include "operator/base/err.h"
#include "operator/kube/names.h"
#include "operator/kube/quantity.h"
#include "webhook/admission_ctx.h"
#include "webhook/executor.h"
#include "webhook/decode.h"
#include "webhook/gofmt.h"
#include "webhook/field.h"
#include "operator/kube/imageref.h"

static const json_t *member(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	return v && !json_is_null(v) ? v : NULL;
}

int executor_check_decode(const json_t *executor, struct buf *msg)
{
	static const char *const otel[] = { "exporter_otlp_endpoint", "exporter_otlp_traces_endpoint",
					    "exporter_otlp_metrics_endpoint", "exporter_otlp_logs_endpoint" };
	const json_t *spec = member(executor, "spec"), *dc, *rt;
	char p[128];
	int rc = decode_metadata(executor, "SpinAppExecutor", msg);

	if (rc == SO_OK)
		rc = decode_object(executor, "spec", "SpinAppExecutor", "spec", "v1alpha1.SpinAppExecutorSpec", msg);
	if (rc == SO_OK)
		rc = decode_object(executor, "status", "SpinAppExecutor", "status", "v1alpha1.SpinAppExecutorStatus",
				   msg);
	if (rc == SO_OK)
		rc = decode_bool(spec, "createDeployment", "SpinAppExecutorSpec", "spec.createDeployment", msg);
	if (rc == SO_OK)
		rc = decode_object(spec, "deploymentConfig", "SpinAppExecutorSpec", "spec.deploymentConfig",
				   "v1alpha1.ExecutorDeploymentConfig", msg);
	dc = member(spec, "deploymentConfig");
	if (rc == SO_OK)
		rc = decode_string(dc, "runtimeClassName", "ExecutorDeploymentConfig",
				   "spec.deploymentConfig.runtimeClassName", msg);
	if (rc == SO_OK)
		rc = decode_string(dc, "spinImage", "ExecutorDeploymentConfig", "spec.deploymentConfig.spinImage", msg);
	if (rc == SO_OK)
		rc = decode_string(dc, "caCertSecret", "ExecutorDeploymentConfig", "spec.deploymentConfig.caCertSecret",
				   msg);
	if (rc == SO_OK)
		rc = decode_bool(dc, "installDefaultCACerts", "ExecutorDeploymentConfig",
				 "spec.deploymentConfig.installDefaultCACerts", msg);
	if (rc == SO_OK)
		rc = decode_object(dc, "otel", "ExecutorDeploymentConfig", "spec.deploymentConfig.otel",
				   "v1alpha1.OtelConfig", msg);
	for (size_t i = 0; rc == SO_OK && i < sizeof otel / sizeof otel[0]; i++) {
		snprintf(p, sizeof p, "spec.deploymentConfig.otel.%s", otel[i]);
		rc = decode_string(member(dc, "otel"), otel[i], "OtelConfig", p, msg);
	}
	if (rc == SO_OK)
		rc = decode_object(dc, "runtimeClass", "ExecutorDeploymentConfig", "spec.deploymentConfig.runtimeClass",
				   "v1alpha1.ExecutorRuntimeClass", msg);
	rt = member(dc, "runtimeClass");
	if (rc == SO_OK)
		rc = decode_string(rt, "handler", "ExecutorRuntimeClass", "spec.deploymentConfig.runtimeClass.handler",
				   msg);
	if (rc == SO_OK)
		rc = decode_string_map(rt, "nodeSelector", "ExecutorRuntimeClass",
				       "spec.deploymentConfig.runtimeClass.nodeSelector", msg);
	if (rc == SO_OK)
		rc = decode_array(rt, "tolerations", "ExecutorRuntimeClass",
				  "spec.deploymentConfig.runtimeClass.tolerations", "[]v1.Toleration", msg);
	return rc;
}

void executor_validate(const json_t *executor, unsigned flags, struct field_list *errs, json_t *warnings)
{
	const json_t *spec = member(executor, "spec");
	const json_t *dc = member(spec, "deploymentConfig");
	const json_t *rcn = member(dc, "runtimeClassName"), *image = member(dc, "spinImage"), *rt;
	const char *ca;

	(void)warnings;
	/* Upstream: validateRuntimeClassAndSpinImage. */
	if (dc) {
		if (rcn && image) {
			struct buf v = BUF_INIT(SIZE_MAX / 2);
			const char *s = json_string_value(rcn);
			gofmt_json_string(&v, s, json_string_length(rcn)); /* no cap to reach: cannot fail */
			field_add(errs, FIELD_INVALID, "spec.deploymentConfig.runtimeClassName", v.data, "%s",
				  "runtimeClassName and spinImage are mutually exclusive");
			buf_free(&v);
		} else if (!rcn && !image) {
			field_add(errs, FIELD_INVALID, "spec.deploymentConfig.runtimeClassName", "null", "%s",
				  "either runtimeClassName or spinImage must be set");
		}
	}
	if (flags & ADMISSION_UPSTREAM_ONLY)
		return;

	/* Stricter. */
	if (!dc && json_is_true(member(spec, "createDeployment")))
		field_add(errs, FIELD_REQUIRED, "spec.deploymentConfig", NULL,
			  "must be set when createDeployment is true: the operator needs runtimeClassName or spinImage "
			  "to build the apps' Deployments");
	if (json_is_string(rcn) && !kube_dns1123_subdomain(json_string_value(rcn)))
		field_invalid_str(errs, "spec.deploymentConfig.runtimeClassName", json_string_value(rcn), "%s",
				  DNS1123_SUBDOMAIN_MSG);
	if (json_is_string(image) && !image_ref_valid(json_string_value(image)))
		field_invalid_str(errs, "spec.deploymentConfig.spinImage", json_string_value(image), "%s",
				  IMAGE_REFERENCE_MSG);
	ca = json_string_value(member(dc, "caCertSecret"));
	if (ca && *ca && !kube_dns1123_subdomain(ca))
		field_invalid_str(errs, "spec.deploymentConfig.caCertSecret", ca, "%s", DNS1123_SUBDOMAIN_MSG);
	rt = member(dc, "runtimeClass");
	if (rt) {
		const char *handler = json_string_value(member(rt, "handler"));
		if (!rcn)
			field_add(errs, FIELD_REQUIRED, "spec.deploymentConfig.runtimeClassName", NULL,
				  "must be set when runtimeClass is: it names the RuntimeClass the operator creates");
		if (!handler || !*handler)
			field_add(errs, FIELD_REQUIRED, "spec.deploymentConfig.runtimeClass.handler", NULL,
				  "the containerd runtime handler of the Spin shim, e.g. spin");
		else if (!kube_dns1123_label(handler, strlen(handler)))
			field_invalid_str(errs, "spec.deploymentConfig.runtimeClass.handler", handler,
					  "must be a DNS-1123 label: at most 63 lowercase letters, digits or '-', "
					  "starting and ending with a letter or digit");
	}
}
