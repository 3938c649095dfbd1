/*
 * Server-side apply that skips requests which would change nothing, so a steady cluster sees no writes (and
 * no PATCH requests) from us.
 *
 * An apply is skipped when both hold:
 *   - the live object (from an informer cache) already contains the desired object: applier_json_subset below;
 *   - the desired object is the one we applied last to that object (a digest kept in memory), or we have no
 *     record yet (after a restart). The digest catches what containment cannot: a field we stopped sending
 *     (an annotation removed from spec.deploymentAnnotations, replicas when autoscaling is switched on), which
 *     server-side apply must release.
 * Otherwise the object is applied with field manager spin-operator and force, and the digest recorded.
 */
#ifndef SO_CONTROLLER_APPLY_H
#define SO_CONTROLLER_APPLY_H

#include <jansson.h>

#include "operator/kube/api.h"

/* The field manager of every server-side apply, upstream's, so managedFields carry over between the two. */
#define APPLIER_FIELD_MANAGER "spin-operator"

/* 1 when every member of desired is in live with an equal value, recursively: objects may have extra keys in
 * live; arrays must have the same length with each element contained; numbers compare by value. */
int applier_json_subset(const json_t *desired, const json_t *live);

struct applier;

struct applier *applier_new(void);
void applier_free(struct applier *a);

/*
 * Applies desired (kind r, namespace ns) unless live makes it unnecessary (see above). *out, when non-NULL,
 * receives the object as the server returned it, or a reference to live when skipped. *wrote is set to 1 when a
 * request was made. resp may be NULL.
 */
int applier_apply(struct applier *a, struct kube_client *c, const struct kube_resource *r, const char *ns,
		  const json_t *desired, const json_t *live, json_t **out, int *wrote, struct kube_response *resp);

/* applier_apply with the request made by send (server-side apply with field manager spin-operator and force, as
 * applier_apply's; the reconcilers pass their store's apply, operator/controller/store.h). */
typedef int (*applier_send_fn)(void *ud, const struct kube_resource *r, const char *ns, const json_t *desired,
			       json_t **out, struct kube_response *resp);
int applier_apply_with(struct applier *a, applier_send_fn send, void *ud, const struct kube_resource *r,
		       const char *ns, const json_t *desired, const json_t *live, json_t **out, int *wrote,
		       struct kube_response *resp);

/* Forgets the record of an object (after it was deleted). */
void applier_forget(struct applier *a, const struct kube_resource *r, const char *ns, const char *name);

/* Forgets the records of an app's children (Deployment, Service and HPA, all named after the app): called once
 * the app is gone, so a deleted app leaves no state behind. */
void applier_forget_app(struct applier *a, const char *ns, const char *name);

/* Objects with a record: what the applier holds, for metrics and tests. */
size_t applier_records(struct applier *a);

#endif
