/*
 * The Deployment for a SpinApp run by an executor with createDeployment: true: what upstream's
 * constructDeployment returns, serialised the way Go's encoding/json would for the server-side apply (omitempty
 * fields left out, no nulls). See docs/internals/builders.md for the few deliberate differences.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "operator/spin/appmeta.h"
#include "operator/spin/spin.h"
#include "operator/kube/quantity.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/spin/podopts.h"

#define LISTEN_ADDR "0.0.0.0:80"
#define RUNTIME_CONFIG_VOLUME "spin-runtime-config"
#define RUNTIME_CONFIG_PATH "/runtime-config.toml"
#define CA_VOLUME "spin-ca"
#define CA_PATH "/etc/ssl/certs/ca-certificates.crt"
#define VAR_PREFIX "SPIN_VARIABLE_"
/* resource.ErrFormatWrong, the message ParseQuantity fails with. */
#define QUANTITY_FORMAT_ERR                                                                                       \
	"quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

#define PACK_FAILED(err, errlen) spin_pack_failed((err), (errlen), "Deployment")

/* Sets obj[key] = v (reference stolen), mapping every failure (v NULL: a json_pack that refused) to SO_E_INVAL. */
static int put(json_t *obj, const char *key, json_t *v)
{
	return json_object_set_new(obj, key, v) ? SO_E_INVAL : SO_OK;
}

static int push(json_t *arr, json_t *v)
{
	return json_array_append_new(arr, v) ? SO_E_INVAL : SO_OK;
}

/* Appends deep copies of the items of spec[key] (absent or null: nothing). */
static int append_copies(json_t *dst, const json_t *spec, const char *key, char *err, size_t errlen)
{
	const json_t *src = json_object_get(spec, key);
	size_t i;
	json_t *v;

	if (!src || json_is_null(src))
		return SO_OK;
	if (!json_is_array(src))
		return so_fail(err, errlen, SO_E_INVAL, "spec.%s: must be a list", key);
	json_array_foreach(src, i, v)
		json_array_append_new(dst, json_deep_copy(v));
	return SO_OK;
}

/* A Secret volume {name, secret {secretName, optional: true, items [{key, path: key}]}} and its mount. */
static int secret_volume(json_t *volumes, json_t *mounts, const char *volume, const char *secret, const char *key,
			 const char *mount_path)
{
	json_t *v = json_pack("{s:s, s:{s:s, s:[{s:s, s:s}], s:b}}", "name", volume, "secret", "secretName", secret,
			      "items", "key", key, "path", key, "optional", 1);
	json_t *m = json_pack("{s:s, s:b, s:s, s:s}", "name", volume, "readOnly", 1, "mountPath", mount_path,
			      "subPath", key);
	if (!v || !m) {
		json_decref(v);
		json_decref(m);
		return SO_E_INVAL;
	}
	json_array_append_new(volumes, v);
	json_array_append_new(mounts, m);
	return SO_OK;
}

/*
 * Upstream's volume order: the runtime-config secret, then the user's volumes, then the CA secret. runtime_secret
 * is generated (generated != 0) or the app's loadFromSecret; upstream refuses to have both.
 */
static int volumes_for_app(const json_t *spec, const json_t *dc, const char *runtime_secret, int generated,
			   json_t *volumes, json_t *mounts, char *err, size_t errlen)
{
	const char *user_secret = spin_str(spin_obj(spec, "runtimeConfig"), "loadFromSecret");
	const char *selected, *ca;
	int rc;

	if (user_secret && !*user_secret)
		user_secret = NULL;
	if (runtime_secret && !*runtime_secret)
		runtime_secret = NULL;
	if (generated && !runtime_secret)
		return so_fail(err, errlen, SO_E_INVAL, "a generated runtime config secret needs a name");
	if (generated && user_secret)
		return so_fail(err, errlen, SO_E_INVAL,
				  "cannot specify both a user-provided runtime secret and a generated one");
	selected = runtime_secret ? runtime_secret : user_secret;
	if (selected && secret_volume(volumes, mounts, RUNTIME_CONFIG_VOLUME, selected, SPIN_RUNTIME_CONFIG_KEY,
				      RUNTIME_CONFIG_PATH) != SO_OK)
		return PACK_FAILED(err, errlen);

	rc = append_copies(volumes, spec, "volumes", err, errlen);
	if (rc == SO_OK)
		rc = append_copies(mounts, spec, "volumeMounts", err, errlen);
	if (rc != SO_OK)
		return rc;

	ca = spin_str(dc, "caCertSecret");
	if ((!ca || !*ca) && json_is_true(json_object_get(dc, "installDefaultCACerts")))
		ca = SPIN_DEFAULT_CA_SECRET;
	if (ca && *ca && secret_volume(volumes, mounts, CA_VOLUME, ca, SPIN_CA_KEY, CA_PATH) != SO_OK)
		return PACK_FAILED(err, errlen);
	return SO_OK;
}

/* {name, value} with Go's omitempty on value. */
static json_t *env_var(const char *name, const char *value)
{
	json_t *e = json_pack("{s:s}", "name", name);
	/* Every value is a JSON string's, a number or a literal: valid UTF-8, so json_string cannot fail. */
	if (e && value && *value)
		json_object_set_new(e, "value", json_string(value));
	return e;
}

static int push_env(json_t *env, const char *name, const char *value, char *err, size_t errlen)
{
	return push(env, env_var(name, value)) == SO_OK ? SO_OK : PACK_FAILED(err, errlen);
}

static int variable_env(json_t *env, const json_t *var, size_t i, char *err, size_t errlen)
{
	const char *name = spin_str(var, "name");
	const json_t *value_from = json_object_get(var, "valueFrom");
	struct buf b = BUF_INIT(4096);
	json_t *e = NULL;
	int rc;

	if (!name)
		return so_fail(err, errlen, SO_E_INVAL, "spec.variables[%zu]: name is required", i);
	rc = buf_appends(&b, VAR_PREFIX);
	if (rc == SO_OK)
		rc = buf_appends(&b, name);
	if (rc == SO_E_TOO_LARGE)
		rc = so_fail(err, errlen, rc, "spec.variables[%zu]: name is too long", i);
	if (rc != SO_OK)
		goto out;
	/* strings.ToUpper; Spin variable names are ASCII (lowercase letters, digits, '_'). */
	for (size_t j = sizeof VAR_PREFIX - 1; j < b.len; j++) {
		if (b.data[j] >= 'a' && b.data[j] <= 'z')
			b.data[j] = (char)(b.data[j] - 'a' + 'A');
	}
	e = env_var(b.data, spin_str(var, "value"));
	if (!e) {
		rc = PACK_FAILED(err, errlen);
		goto out;
	}
	if (value_from && !json_is_null(value_from)) {
		if (!json_is_object(value_from)) {
			rc = so_fail(err, errlen, SO_E_INVAL, "spec.variables[%zu].valueFrom: must be an object", i);
			goto out;
		}
		json_object_set_new(e, "valueFrom", json_deep_copy(value_from));
	}
	json_array_append_new(env, e);
	e = NULL;
out:
	json_decref(e);
	buf_free(&b);
	return rc;
}

static int memory_env(json_t *env, const json_t *spec, char *err, size_t errlen)
{
	const json_t *limits = json_object_get(spec, "invocationLimits");
	const json_t *mem = json_is_object(limits) ? json_object_get(limits, "memory") : NULL;
	const char *q;
	char num[32];
	int64_t bytes;
	int rc;

	if (!mem)
		return SO_OK;
	if (!json_is_string(mem))
		return so_fail(err, errlen, SO_E_INVAL, "failed to parse memory limit: not a string");
	q = json_string_value(mem);
	rc = quantity_value(q, &bytes);
	if (rc == SO_E_TOO_LARGE)
		return so_fail(err, errlen, SO_E_INVAL, "failed to parse memory limit \"%s\": value out of range",
				  q);
	if (rc != SO_OK)
		return so_fail(err, errlen, SO_E_INVAL, "failed to parse memory limit \"%s\": " QUANTITY_FORMAT_ERR,
				  q);
	snprintf(num, sizeof num, "%" PRId64, bytes);
	return push_env(env, "SPIN_MAX_INSTANCE_MEMORY", num, err, errlen);
}

/* Upstream's ConstructEnvForApp order: variables, listen address, OTel endpoints, memory limit, components to
 * retain. */
static int env_for_app(const json_t *spec, const json_t *dc, const char *components, json_t *env, char *err,
		       size_t errlen)
{
	static const char *const otel[][2] = {
		{ "exporter_otlp_endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT" },
		{ "exporter_otlp_traces_endpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" },
		{ "exporter_otlp_metrics_endpoint", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" },
		{ "exporter_otlp_logs_endpoint", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT" },
	};
	const json_t *vars = json_object_get(spec, "variables");
	const json_t *otel_cfg = spin_obj(dc, "otel");
	const json_t *var;
	size_t i;
	int rc;

	if (vars && !json_is_null(vars) && !json_is_array(vars))
		return so_fail(err, errlen, SO_E_INVAL, "spec.variables: must be a list");
	json_array_foreach(vars, i, var) {
		rc = variable_env(env, var, i, err, errlen);
		if (rc != SO_OK)
			return rc;
	}
	rc = push_env(env, "SPIN_HTTP_LISTEN_ADDR", LISTEN_ADDR, err, errlen);
	for (i = 0; rc == SO_OK && i < sizeof otel / sizeof otel[0]; i++) {
		const char *v = spin_str(otel_cfg, otel[i][0]);
		if (v && *v)
			rc = push_env(env, otel[i][1], v, err, errlen);
	}
	if (rc == SO_OK)
		rc = memory_env(env, spec, err, errlen);
	if (rc == SO_OK && components)
		rc = push_env(env, "SPIN_COMPONENTS_TO_RETAIN", components, err, errlen);
	return rc;
}

/* spec.components joined by ","; *joined stays NULL when the field is absent (Go: nil slice). */
static int components_of(const json_t *spec, struct buf *joined, const json_t **list, char *err, size_t errlen)
{
	const json_t *c = json_object_get(spec, "components");
	const json_t *v;
	size_t i;

	*list = NULL;
	if (!c || json_is_null(c))
		return SO_OK;
	if (!json_is_array(c))
		return so_fail(err, errlen, SO_E_INVAL, "spec.components: must be a list");
	buf_append(joined, "", 0); /* an empty list joins to "", not NULL; 0 bytes pass any cap */
	json_array_foreach(c, i, v) {
		if (!json_is_string(v))
			return so_fail(err, errlen, SO_E_INVAL, "spec.components[%zu]: must be a string", i);
		int rc = i > 0 ? buf_appends(joined, ",") : SO_OK;
		if (rc == SO_OK)
			rc = buf_appends(joined, json_string_value(v));
		if (rc != SO_OK)
			return so_fail(err, errlen, rc, "spec.components: list is too long");
	}
	*list = c;
	return SO_OK;
}

/* A quantity map (corev1.ResourceList): int-or-string values, integers written as strings like Quantity does. */
static int resource_list(json_t *resources, const json_t *src, const char *key, char *err, size_t errlen)
{
	const json_t *map = json_object_get(src, key);
	json_t *out, *v;
	const char *name;

	if (!map || json_is_null(map))
		return SO_OK;
	if (!json_is_object(map))
		return so_fail(err, errlen, SO_E_INVAL, "spec.resources.%s: must be a map of quantities", key);
	if (json_object_size(map) == 0)
		return SO_OK;
	out = json_object();
	json_object_foreach((json_t *)map, name, v) {
		json_t *q;
		if (json_is_string(v)) {
			q = json_copy(v);
		} else if (json_is_integer(v)) {
			char num[32];
			snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			q = json_string(num);
		} else {
			json_decref(out);
			return so_fail(err, errlen, SO_E_INVAL, "spec.resources.%s.%s: not a quantity", key, name);
		}
		if (put(out, name, q) != SO_OK) {
			json_decref(out);
			return PACK_FAILED(err, errlen);
		}
	}
	json_object_set_new(resources, key, out);
	return SO_OK;
}

/* Copies a HealthProbe int32 field when present and non-zero (corev1.Probe's fields are all omitempty). */
static int probe_int(json_t *probe, const json_t *src, const char *key, const char *which, char *err,
		     size_t errlen)
{
	const json_t *v = json_object_get(src, key);

	if (!v || json_is_null(v))
		return SO_OK;
	if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX)
		return so_fail(err, errlen, SO_E_INVAL, "failed to construct %s probe: %s must be an int32", which,
				  key);
	if (json_integer_value(v) == 0)
		return SO_OK;
	json_object_set_new(probe, key, json_integer(json_integer_value(v)));
	return SO_OK;
}

/* SpinHealthCheckToCoreProbe: httpGet {path, port 80, httpHeaders} and the five numbers. */
static int probe_for(const json_t *checks, const char *which, json_t **out, char *err, size_t errlen)
{
	static const char *const ints[] = { "initialDelaySeconds", "timeoutSeconds", "periodSeconds",
					    "successThreshold", "failureThreshold" };
	const json_t *src = json_object_get(checks, which);
	const json_t *http, *headers, *h;
	const char *path;
	json_t *probe = NULL, *get, *hs;
	size_t i;
	int rc;

	*out = NULL;
	if (!src || json_is_null(src))
		return SO_OK;
	http = json_object_get(src, "httpGet");
	if (!json_is_object(src) || !json_is_object(http))
		return so_fail(err, errlen, SO_E_INVAL,
				  "failed to construct %s probe: probe exists but with unknown configuration, expected "
				  "httpGet",
				  which);
	probe = json_object();
	get = json_object();
	json_object_set_new(probe, "httpGet", get);
	path = spin_str(http, "path");
	if (path && *path)
		json_object_set_new(get, "path", json_string(path));
	json_object_set_new(get, "port", json_integer(SPIN_HTTP_PORT));
	headers = json_object_get(http, "httpHeaders");
	if (json_is_array(headers) && json_array_size(headers) > 0) {
		hs = json_array();
		json_object_set_new(get, "httpHeaders", hs);
		json_array_foreach(headers, i, h) {
			const char *n = spin_str(h, "name"), *v = spin_str(h, "value");
			if (push(hs, json_pack("{s:s, s:s}", "name", n ? n : "", "value", v ? v : "")) != SO_OK) {
				rc = PACK_FAILED(err, errlen);
				goto fail;
			}
		}
	}
	for (i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		rc = probe_int(probe, src, ints[i], which, err, errlen);
		if (rc != SO_OK)
			goto fail;
	}
	*out = probe;
	return SO_OK;
fail:
	json_decref(probe);
	return rc;
}

struct container_parts {
	const char *name;
	const char *image;       /* spec.image */
	const json_t *components; /* spec.components, NULL when absent */
	json_t *env, *mounts, *resources, *liveness, *readiness; /* stolen by build_container */
};

/* One container, fields in corev1.Container order. The shim path wins when both runtimes are configured. */
static int build_container(const json_t *dc, struct container_parts *p, json_t **out, char *err, size_t errlen)
{
	const json_t *rcn = json_object_get(dc, "runtimeClassName");
	const json_t *spin_image = json_object_get(dc, "spinImage");
	json_t *c, *args;
	const json_t *v;
	size_t i;

	*out = NULL;
	if (!json_is_string(rcn) && !json_is_string(spin_image))
		return so_fail(err, errlen, SO_E_INVAL, "must specify either runtimeClassName or spinImage");
	c = json_pack("{s:s}", "name", p->name);
	if (!c)
		goto fail;
	if (json_is_string(rcn)) {
		json_object_set_new(c, "image", json_string(p->image));
		if (put(c, "command", json_pack("[s]", "/")) != SO_OK)
			goto fail;
	} else {
		json_object_set_new(c, "image", json_copy((json_t *)spin_image));
		args = json_pack("[s, s, s, s, s, s, s]", "up", "--listen", LISTEN_ADDR, "-f", p->image,
				 "--runtime-config-file", RUNTIME_CONFIG_PATH);
		if (put(c, "args", args) != SO_OK)
			goto fail;
		json_array_foreach(p->components, i, v) {
			json_array_append_new(args, json_string("--component-id"));
			json_array_append_new(args, json_copy((json_t *)v));
		}
	}
	if (put(c, "ports", json_pack("[{s:s, s:i}]", "name", SPIN_HTTP_PORT_NAME, "containerPort", SPIN_HTTP_PORT)) !=
	    SO_OK)
		goto fail;
	/* The parts taken here are set to NULL; what is left stays the caller's to free. */
	json_object_set_new(c, "env", p->env);
	p->env = NULL;
	/* resources is a struct in Go, so it is sent even when empty: "resources": {}. */
	json_object_set_new(c, "resources", p->resources);
	p->resources = NULL;
	if (json_array_size(p->mounts) > 0)
		json_object_set(c, "volumeMounts", p->mounts);
	if (p->liveness) {
		json_object_set_new(c, "livenessProbe", p->liveness);
		p->liveness = NULL;
	}
	if (p->readiness) {
		json_object_set_new(c, "readinessProbe", p->readiness);
		p->readiness = NULL;
	}
	*out = c;
	return SO_OK;
fail:
	json_decref(c);
	return PACK_FAILED(err, errlen);
}

static const json_t *deployment_config(const json_t *executor, char *err, size_t errlen, int *rc)
{
	const json_t *spec = spin_obj(executor, "spec");
	const char *name = spin_str(spin_obj(executor, "metadata"), "name");
	const json_t *dc = spin_obj(spec, "deploymentConfig");

	*rc = SO_OK;
	if (!name)
		name = "";
	if (!json_is_true(json_object_get(spec, "createDeployment"))) {
		*rc = so_fail(err, errlen, SO_E_INVAL,
				 "executor \"%s\" has createDeployment: false; its apps get no Deployment", name);
		return NULL;
	}
	if (!dc)
		*rc = so_fail(err, errlen, SO_E_INVAL,
				 "executor \"%s\" has createDeployment: true but no deploymentConfig", name);
	return dc;
}

static int replicas_of(const json_t *spec, json_int_t *n, char *err, size_t errlen)
{
	const json_t *r = json_object_get(spec, "replicas");

	*n = 0; /* Go's zero value: an omitted replicas is sent as 0 (the webhook normally rejects it). */
	if (!r || json_is_null(r))
		return SO_OK;
	if (!json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > INT32_MAX)
		return so_fail(err, errlen, SO_E_INVAL, "spec.replicas: must be a non-negative int32");
	*n = json_integer_value(r);
	return SO_OK;
}

/* The pod spec, fields in corev1.PodSpec order. container is stolen, volumes is not. */
static json_t *pod_spec(const json_t *spec, const json_t *dc, json_t *volumes, json_t *container)
{
	const json_t *pull_secrets = json_object_get(spec, "imagePullSecrets");
	const json_t *runtime_class = json_object_get(dc, "runtimeClassName");
	const char *sa = spin_str(spec, "serviceAccountName");
	json_t *pod = json_object();

	if (json_array_size(volumes) > 0)
		json_object_set(pod, "volumes", volumes);
	/* json_pack's "o" takes the container even when it fails. */
	if (put(pod, "containers", json_pack("[o]", container)) != SO_OK) {
		json_decref(pod);
		return NULL;
	}
	json_object_set_new(pod, "serviceAccountName", json_string(sa && *sa ? sa : "default"));
	if (json_array_size(pull_secrets) > 0)
		json_object_set_new(pod, "imagePullSecrets", json_deep_copy(pull_secrets));
	if (json_is_string(runtime_class))
		json_object_set_new(pod, "runtimeClassName", json_copy((json_t *)runtime_class));
	return pod;
}

int spin_deployment(const json_t *app, const json_t *executor, const char *runtime_secret, int generated_secret,
		     json_t **out, char *err, size_t errlen)
{
	const json_t *spec = spin_obj(app, "spec"), *dc, *checks;
	const char *name, *ns, *image;
	struct buf ready_key = BUF_INIT(256), components = BUF_INIT(1 << 20);
	struct container_parts parts = { 0 };
	json_t *dep = NULL, *meta = NULL, *selector = NULL, *tlabels = NULL, *tannotations = NULL, *pod;
	json_t *volumes = NULL, *container = NULL, *dspec, *tmpl;
	json_int_t replicas = 0;
	int rc;

	*out = NULL;
	rc = spin_app_identity(app, &name, &ns, err, errlen);
	if (rc != SO_OK)
		goto out;
	dc = deployment_config(executor, err, errlen, &rc);
	if (rc != SO_OK)
		goto out;
	image = spin_str(spec, "image");
	if (!image || !*image) {
		rc = so_fail(err, errlen, SO_E_INVAL, "SpinApp \"%s\" has no spec.image", name);
		goto out;
	}
	rc = spin_ready_label_key(name, &ready_key, err, errlen);
	if (rc == SO_OK && !json_is_true(json_object_get(spec, "enableAutoscaling")))
		rc = replicas_of(spec, &replicas, err, errlen);
	if (rc == SO_OK)
		rc = components_of(spec, &components, &parts.components, err, errlen);
	if (rc != SO_OK)
		goto out;

	volumes = json_array();
	parts.mounts = json_array();
	parts.env = json_array();
	parts.resources = json_object();
	rc = volumes_for_app(spec, dc, runtime_secret, generated_secret, volumes, parts.mounts, err, errlen);
	if (rc == SO_OK)
		rc = env_for_app(spec, dc, parts.components ? components.data : NULL, parts.env, err, errlen);
	if (rc == SO_OK)
		rc = spin_podopts_env(spec, parts.env, err, errlen);
	if (rc == SO_OK) {
		const json_t *res = spin_obj(spec, "resources");
		rc = resource_list(parts.resources, res, "limits", err, errlen);
		if (rc == SO_OK)
			rc = resource_list(parts.resources, res, "requests", err, errlen);
	}
	checks = spin_obj(spec, "checks");
	if (rc == SO_OK)
		rc = probe_for(checks, "readiness", &parts.readiness, err, errlen);
	if (rc == SO_OK)
		rc = probe_for(checks, "liveness", &parts.liveness, err, errlen);
	if (rc != SO_OK)
		goto out;
	parts.name = name;
	parts.image = image;
	rc = build_container(dc, &parts, &container, err, errlen);
	if (rc == SO_OK)
		rc = spin_podopts_container(spec, container, err, errlen);
	if (rc != SO_OK)
		goto out;

	/* Selector and template labels: podLabels first, then the selector labels, which win. */
	selector = json_pack("{s:s, s:s}", SPIN_LABEL_APP_NAME, name, ready_key.data, SPIN_READY_VALUE);
	tlabels = json_object();
	tannotations = json_object();
	if (!selector)
		goto pack_failed;
	rc = spin_copy_string_map(tlabels, spec, "podLabels", "spec.podLabels", err, errlen);
	if (rc == SO_OK)
		rc = spin_copy_string_map(tannotations, spec, "podAnnotations", "spec.podAnnotations", err, errlen);
	if (rc == SO_OK)
		rc = spin_child_meta(app, "deploymentAnnotations", &meta, err, errlen);
	if (rc != SO_OK)
		goto out;
	json_object_update(tlabels, selector);

	pod = pod_spec(spec, dc, volumes, container);
	container = NULL;
	if (!pod)
		goto pack_failed;
	rc = spin_podopts_pod(spec, &pod, err, errlen);
	if (rc != SO_OK) {
		json_decref(pod);
		goto out;
	}
	tmpl = json_pack("{s:{s:O}, s:o}", "metadata", "labels", tlabels, "spec", pod);
	if (!tmpl)
		goto pack_failed;
	if (json_object_size(tannotations) > 0)
		json_object_set(json_object_get(tmpl, "metadata"), "annotations", tannotations);
	/* spec.replicas is left out with autoscaling, so that server-side apply releases it to the autoscaler. */
	dspec = json_object();
	if (!json_is_true(json_object_get(spec, "enableAutoscaling")))
		json_object_set_new(dspec, "replicas", json_integer(replicas));
	if (put(dspec, "selector", json_pack("{s:O}", "matchLabels", selector)) != SO_OK) {
		json_decref(tmpl);
		json_decref(dspec);
		goto pack_failed;
	}
	json_object_set_new(dspec, "template", tmpl);
	dep = json_pack("{s:s, s:s, s:O, s:o}", "apiVersion", "apps/v1", "kind", "Deployment", "metadata", meta, "spec",
			dspec);
	if (!dep)
		goto pack_failed;
	*out = dep;
	rc = SO_OK;
	goto out;
pack_failed:
	rc = PACK_FAILED(err, errlen);
out:
	json_decref(container);
	json_decref(meta);
	json_decref(selector);
	json_decref(tlabels);
	json_decref(tannotations);
	json_decref(volumes);
	json_decref(parts.mounts);
	json_decref(parts.env);
	json_decref(parts.resources);
	json_decref(parts.liveness);
	json_decref(parts.readiness);
	buf_free(&ready_key);
	buf_free(&components);
	return rc;
}
