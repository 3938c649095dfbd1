/*
 * plan_app (plan.h): the builders in upstream's order. The runtime-config Secret, the CA Secret and the
 * Deployment form a chain (the Deployment mounts both Secrets), so the chain stops at its first failure; the
 * Service, the HPA and the HTTPRoute depend on the app alone.
 */
#include "operator/spin/plan.h"

#include <string.h>

#include "operator/spin/appmeta.h"
#include "operator/spin/spin.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"

#define TOML_CAP (1u << 20) /* one runtime config */

/* spec.deploymentConfig of an executor that makes a Deployment, else NULL. */
static const json_t *deployment_config(const json_t *executor)
{
	const json_t *spec = spin_obj(executor, "spec");
	return json_is_true(json_object_get(spec, "createDeployment")) ? spin_obj(spec, "deploymentConfig") : NULL;
}

int plan_refs(const json_t *app, const json_t *executor, plan_get_fn get, void *ud, json_t **refs)
{
	const char *ns = spin_str(spin_obj(app, "metadata"), "namespace");
	json_t *names[2] = { NULL, NULL }, *name;
	size_t i;
	int rc = SO_OK;

	*refs = json_object();
	json_object_set_new(*refs, "secrets", json_object());
	json_object_set_new(*refs, "configmaps", json_object());
	if (!deployment_config(executor) || (rc = spin_runtime_config_refs(app, &names[0], &names[1])))
		goto out;
	for (int kind = 0; kind < 2 && !rc; kind++) {
		json_t *into = json_object_get(*refs, kind ? "configmaps" : "secrets");
		json_array_foreach(names[kind], i, name) {
			json_t *obj = NULL;
			if ((rc = get(ud, ns ? ns : "", kind, json_string_value(name), &obj)))
				break;
			if (obj)
				json_object_set_new(into, json_string_value(name), obj);
		}
	}
out:
	json_decref(names[0]);
	json_decref(names[1]);
	return rc;
}

const char *plan_ca_secret_name(const json_t *executor)
{
	const json_t *dc = deployment_config(executor);
	const char *name = spin_str(dc, "caCertSecret");

	if (!json_is_true(json_object_get(dc, "installDefaultCACerts")))
		return NULL;
	return name && *name ? name : SPIN_DEFAULT_CA_SECRET;
}

/* The chain: runtime-config Secret, CA Secret, Deployment. */
static int plan_deployment(const struct plan_input *in, struct plan *p, char *err, size_t errlen)
{
	struct buf toml = BUF_INIT(TOML_CAP);
	const char *ns = spin_str(spin_obj(in->app, "metadata"), "namespace"), *secret = NULL;
	const char *exec = spin_str(spin_obj(in->executor, "metadata"), "name");
	const char *ca = plan_ca_secret_name(in->executor);
	int generated = 0, rc;

	p->failed = PLAN_RUNTIME_CONFIG;
	if (!deployment_config(in->executor)) { /* upstream dereferences the missing pointer and crashes */
		rc = so_fail(err, errlen, SO_E_INVAL,
			     "SpinAppExecutor %s/%s has createDeployment: true but no deploymentConfig", ns ? ns : "",
			     exec ? exec : "");
		goto out;
	}
	if ((rc = spin_runtime_config_toml(in->app, in->refs, &toml, &generated, err, errlen)))
		goto out;
	if (generated) {
		rc = spin_runtime_config_secret(in->app, toml.data ? toml.data : "", toml.len,
						 &p->objs[PLAN_RUNTIME_CONFIG], err, errlen);
		if (rc)
			goto out;
		secret = spin_str(spin_obj(p->objs[PLAN_RUNTIME_CONFIG], "metadata"), "name");
	}
	p->failed = PLAN_CA_SECRET;
	if (ca && !in->ca_secret_exists &&
	    !(p->objs[PLAN_CA_SECRET] = spin_ca_secret(ns, ca, in->ca_bundle, in->ca_bundle_len))) {
		rc = so_fail(err, errlen, SO_E_INVAL, "the default CA bundle is not UTF-8");
		goto out;
	}
	p->failed = PLAN_DEPLOYMENT;
	rc = spin_deployment(in->app, in->executor, secret, generated, &p->objs[PLAN_DEPLOYMENT], err, errlen);
out:
	if (!rc)
		p->failed = PLAN_NROLES;
	buf_free(&toml);
	return rc;
}

int plan_app(const struct plan_input *in, struct plan *out, char *err, size_t errlen)
{
	char serr[512] = "";
	int rc = SO_OK, src;

	memset(out, 0, sizeof *out);
	out->failed = PLAN_NROLES;
	src = spin_service(in->app, &out->objs[PLAN_SERVICE], serr, sizeof serr);
	if (json_is_true(json_object_get(spin_obj(in->executor, "spec"), "createDeployment")))
		rc = plan_deployment(in, out, err, errlen);
	else
		out->absent |= PLAN_BIT(PLAN_DEPLOYMENT);
	if (!rc && src) {
		out->failed = PLAN_SERVICE;
		rc = so_fail(err, errlen, src, "%s", serr);
	}
	if (!rc && (rc = spin_hpa(in->app, &out->objs[PLAN_HPA], err, errlen)))
		out->failed = PLAN_HPA;
	if (!rc && !out->objs[PLAN_HPA])
		out->absent |= PLAN_BIT(PLAN_HPA);
	if (!rc && (rc = spin_route(in->app, &out->objs[PLAN_ROUTE], err, errlen)))
		out->failed = PLAN_ROUTE;
	if (!rc && !out->objs[PLAN_ROUTE])
		out->absent |= PLAN_BIT(PLAN_ROUTE);
	return rc;
}

void plan_free(struct plan *p)
{
	for (int i = 0; i < PLAN_NROLES; i++) {
		json_decref(p->objs[i]);
		p->objs[i] = NULL;
	}
}
