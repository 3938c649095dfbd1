/*
 * The app → objects pipeline, written once: (SpinApp, SpinAppExecutor, the data they refer to) → the objects
 * to make, in the order they are made, and the ones that must not exist. Pure like the builders it calls
 * (spin.h): the reconciler (operator/controller/reconcile_app.c) reads the inputs from its caches and the API server and
 * writes the result; `spin-operator render` (operator/cmd/render.c) reads them from manifests and prints it
 * (docs/internals/plan.md).
 */
#ifndef SO_BUILD_PLAN_H
#define SO_BUILD_PLAN_H

#include <jansson.h>
#include <stddef.h>

/* One app's objects, in the order they are made. */
enum plan_role {
	PLAN_RUNTIME_CONFIG, /* the generated runtime-config Secret: created once under its content-derived name */
	PLAN_CA_SECRET,      /* the default CA Secret (installDefaultCACerts): created when absent, never updated */
	PLAN_DEPLOYMENT,     /* executor createDeployment: true */
	PLAN_SERVICE,        /* always */
	PLAN_HPA,            /* spec.enableAutoscaling with spec.autoscaler */
	PLAN_ROUTE,          /* spec.route: the Gateway API HTTPRoute */
	PLAN_NROLES
};
#define PLAN_BIT(role) (1u << (role))

struct plan_input {
	const json_t *app;      /* with the CRD's defaults applied, as the apiserver stores it */
	const json_t *executor; /* the SpinAppExecutor spec.executor names */
	const json_t *refs;     /* what plan_refs gathered */
	const char *ca_bundle;  /* the default CA bundle, for the CA Secret */
	size_t ca_bundle_len;
	int ca_secret_exists;   /* the Secret plan_ca_secret_name names exists: it is left out (never replaced) */
};

struct plan {
	json_t *objs[PLAN_NROLES]; /* owned; NULL: nothing to make in that role */
	unsigned absent;           /* PLAN_BITs of the roles whose object must not exist, so one we made earlier
				    * goes: the Deployment under createDeployment: false, the HPA without autoscaling,
				    * the HTTPRoute without spec.route */
	int failed;                /* the role that could not be built, or PLAN_NROLES */
};

/* Answers plan_refs: the Secret (configmap 0) or ConfigMap ns/name as a new reference in *out, or *out NULL when
 * there is none. A result other than 0 stops plan_refs and is returned. */
typedef int (*plan_get_fn)(void *ud, const char *ns, int configmap, const char *name, json_t **out);

/*
 * The referenced data plan_app reads: *refs becomes {"secrets": {name: Secret}, "configmaps": {name:
 * ConfigMap}} holding what get returned for each object the runtime config refers to (secrets first, each in
 * first-reference order). get is asked nothing when the executor makes no Deployment.
 */
int plan_refs(const json_t *app, const json_t *executor, plan_get_fn get, void *ud, json_t **refs);

/* The CA Secret's name (caCertSecret, else spin-ca) when the executor installs the default CA bundle, else NULL:
 * the caller looks it up for plan_input.ca_secret_exists. Borrowed from executor. */
const char *plan_ca_secret_name(const json_t *executor);

/*
 * Plans one app into *out (the caller frees it with plan_free, whatever the result). Returns 0, or the first
 * failure in role order with one line in err and out->failed its role: SO_E_CONFIG when a Secret or ConfigMap
 * the runtime config refers to is not in refs (it may appear: retry), anything else when the spec or executor
 * must change. The objects of the roles before the failed one are built (the reconciler makes them before it
 * reports the failure), and the Service whenever it can be: it depends on the app alone, so a new app's
 * Service goes out even while its Deployment waits for a Secret (docs/compat.md, "Order of writes in a burst").
 */
int plan_app(const struct plan_input *in, struct plan *out, char *err, size_t errlen);

void plan_free(struct plan *p);

#endif
