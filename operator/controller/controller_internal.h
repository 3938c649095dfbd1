/* The controller's test seam (tests/support/ctlfake.h, tests/unit/test_reconcile.c): controller.c's event →
 * key mapping and a controller built over any store. Not an API. */
#ifndef SO_CONTROLLER_CONTROLLER_INTERNAL_H
#define SO_CONTROLLER_CONTROLLER_INTERNAL_H

#include "operator/controller/state.h"

/* A controller whose reconcilers and event handlers use store (copied; its ctx must outlive the controller):
 * queues, applier and deferrals but no client, informers or recorders, and nothing started. For unit tests
 * (tests/support/ctlfake.h); controller_free frees it. */
struct controller *ctl_new_with_store(const struct controller_opts *o, const struct ctl_store *store);

/* controller.c: the event → key mapping, the informers' handlers (ud: the controller). */
extern const struct informer_handlers ctl_app_handlers, ctl_executor_handlers, ctl_owned_handlers,
	ctl_runtimeclass_handlers;

#endif
