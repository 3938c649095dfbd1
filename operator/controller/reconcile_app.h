#ifndef SO_CONTROLLER_RECONCILE_APP_H
#define SO_CONTROLLER_RECONCILE_APP_H

#include "operator/controller/state.h"

/* Reconciles one SpinApp "namespace/name" key. 0, RECONCILE_TERMINAL, or a negative so_err. */
int reconcile_app(struct controller *ctl, const char *ns, const char *name);

#endif
