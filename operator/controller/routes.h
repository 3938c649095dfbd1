/*
 * The Gateway API, when it is there: discovery of gateway.networking.k8s.io/v1 httproutes and the HTTPRoute
 * informer started once it is served (docs/internals/route.md). Not an API: the production store
 * (informer_store.c) answers routes_served with ctl_routes_served, controller.c starts and stops it.
 */
#ifndef SO_CONTROLLER_ROUTES_H
#define SO_CONTROLLER_ROUTES_H

#include "operator/controller/state.h"

/* While the Gateway API is not served, discovery is asked again at most this often, and an app with
 * spec.route is reconciled again after this long, so an install is noticed within about this time. */
#define ROUTES_RECHECK_S 30

/* 1 when httproutes are served (the informer is then started, once), 0 when not, or a negative so_err when
 * discovery failed. Asks the API server only when the last answer was no and is older than ROUTES_RECHECK_S
 * (or there was none); never again after a yes. Thread-safe. */
int ctl_routes_served(struct controller *ctl);

/* The HTTPRoute informer, or NULL while the API is not known to be served. */
struct informer *ctl_routes_informer(struct controller *ctl);

/* Signals the informer to stop (controller_stop), then joins it; ctl_routes_free frees it. */
void ctl_routes_signal_stop(struct controller *ctl);
void ctl_routes_stop(struct controller *ctl);
void ctl_routes_free(struct controller *ctl);

#endif
