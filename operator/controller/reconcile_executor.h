#ifndef SO_CONTROLLER_RECONCILE_EXECUTOR_H
#define SO_CONTROLLER_RECONCILE_EXECUTOR_H

#include "operator/controller/state.h"

/* Reconciles one SpinAppExecutor "namespace/name" key. 0, RECONCILE_TERMINAL, or a negative so_err. */
int reconcile_executor(struct controller *ctl, const char *ns, const char *name);

#endif
