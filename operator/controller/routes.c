/*
 * Gateway API discovery and the HTTPRoute informer (routes.h). The operator must run where the Gateway API is
 * not installed, so nothing about HTTPRoutes is watched until discovery says they are served: an informer on
 * a resource the API server does not serve would fail and back off forever, and count as an outage.
 *
 * Discovery is one GET of /apis/gateway.networking.k8s.io/v1 (a few KB): at start (controller_start_caches),
 * then, while the answer is no, again when an app with spec.route is reconciled and the last answer is older
 * than ROUTES_RECHECK_S. A yes is final: the informer then follows the routes; if the CRDs are removed later,
 * applies fail with 404 and the app is retried with backoff (its Warning events say why).
 */
#include "operator/controller/routes.h"

#include <string.h>

#include "operator/spin/spin.h"
#include "operator/controller/readiness.h"
#include "operator/kube/fields.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"

#define DISCOVERY_PATH "/apis/gateway.networking.k8s.io/v1"

/* What the SpinApp's Routed condition reads: the fields our apply set, and each parent's Accepted and
 * ResolvedRefs conditions (type, status, reason, message) with its parentRef. */
static void trim_route(json_t *obj)
{
	static const char *const fields[] = { "type", "status", "reason", "message" };
	json_t *parents = json_object_get(json_object_get(obj, "status"), "parents"), *keep = json_array(), *p, *c;
	size_t i, j;

	json_incref(parents);
	if (kube_prune_to_applied(obj, APPLIER_FIELD_MANAGER) < 0)
		log_warn("cache", "HTTPRoute %s/%s: cannot prune to the applied fields: kept whole",
			 ctl_meta_str(obj, "namespace"), ctl_meta_str(obj, "name"));
	json_array_foreach(parents, i, p) {
		json_t *kp = json_object(), *conds = json_array();
		json_object_set(kp, "parentRef", json_object_get(p, "parentRef"));
		json_array_foreach(json_object_get(p, "conditions"), j, c) {
			const char *type = json_string_value(json_object_get(c, "type"));
			if (!type || (strcmp(type, "Accepted") && strcmp(type, "ResolvedRefs")))
				continue;
			json_t *kc = json_object();
			for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
				json_t *v = json_object_get(c, fields[f]);
				if (v)
					json_object_set(kc, fields[f], v);
			}
			json_array_append_new(conds, kc);
		}
		json_object_set_new(kp, "conditions", conds);
		json_array_append_new(keep, kp);
	}
	json_object_set_new(obj, "status", json_pack("{s:O}", "parents", keep));
	json_decref(keep);
	json_decref(parents);
}

/* Whether a discovery document lists httproutes. */
static int lists_httproutes(const json_t *doc)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(doc, "resources"), i, r) {
		const char *name = json_string_value(json_object_get(r, "name"));
		if (name && !strcmp(name, KUBE_HTTPROUTES.plural))
			return 1;
	}
	return 0;
}

/* Creates and starts the informer (routes_mu held). */
static int start_informer(struct controller *ctl)
{
	struct informer_opts o = { .resource = &KUBE_HTTPROUTES, .namespace = ctl->namespace,
				   .label_selector = SPIN_LABEL_APP_NAME, .trim = trim_route,
				   .handlers = *ctl->routes_handlers, .ud = ctl, .index_label = SPIN_LABEL_APP_NAME,
				   .on_recovered = ctl_on_recovered };
	struct informer *inf = NULL;
	int rc = informer_new(ctl->c, &o, &inf);
	if (!rc && (rc = informer_start(inf))) {
		informer_free(inf);
		inf = NULL;
	}
	if (!rc)
		atomic_store(&ctl->routes, inf);
	return rc;
}

int ctl_routes_served(struct controller *ctl)
{
	struct kube_response resp = { 0 };
	json_t *doc = NULL;
	int rc;

	if (atomic_load(&ctl->routes))
		return 1;
	pthread_mutex_lock(&ctl->routes_mu);
	if (atomic_load(&ctl->routes)) {
		rc = 1;
		goto out;
	}
	double now = clock_mono_s();
	if (ctl->routes_checked > 0 && now - ctl->routes_checked < ROUTES_RECHECK_S) {
		rc = 0;
		goto out;
	}
	rc = kube_get_json(ctl->c, DISCOVERY_PATH, &doc, &resp);
	if (rc == SO_E_API_NOT_FOUND || (!rc && !lists_httproutes(doc))) {
		if (ctl->routes_checked == 0)
			log_info("controller", "the Gateway API (%s httproutes) is not served: spec.route waits for it",
				 SPIN_ROUTE_API_VERSION);
		ctl->routes_checked = now;
		rc = 0;
	} else if (rc) {
		log_warn("controller", "Gateway API discovery: %s: %s", so_strerror(rc), resp.message ? resp.message : "");
	} else if ((rc = start_informer(ctl))) {
		log_warn("controller", "HTTPRoute informer: %s", so_strerror(rc));
	} else {
		log_info("controller", "the Gateway API (%s httproutes) is served: following HTTPRoutes",
			 SPIN_ROUTE_API_VERSION);
		rc = 1;
	}
out:
	pthread_mutex_unlock(&ctl->routes_mu);
	json_decref(doc);
	kube_response_free(&resp);
	return rc;
}

struct informer *ctl_routes_informer(struct controller *ctl)
{
	return atomic_load(&ctl->routes);
}

void ctl_routes_signal_stop(struct controller *ctl)
{
	struct informer *inf = atomic_load(&ctl->routes);
	if (inf)
		informer_signal_stop(inf);
}

void ctl_routes_stop(struct controller *ctl)
{
	struct informer *inf = atomic_load(&ctl->routes);
	if (inf)
		informer_stop(inf);
}

void ctl_routes_free(struct controller *ctl)
{
	informer_free(atomic_exchange(&ctl->routes, NULL));
}
