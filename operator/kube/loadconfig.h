/* Where the daemon's configuration comes from: the kubectl order of operator/kube/config.h, applied. */
#ifndef SO_KUBE_LOADCONFIG_H
#define SO_KUBE_LOADCONFIG_H

#include <stddef.h>

#include "operator/kube/config.h"

/* Resolves and loads the configuration in the order above. kubeconfig_path and context may be NULL.
 * On failure writes one line to err (naming file and field) and leaves *out empty. */
int kube_config_load(const char *kubeconfig_path, const char *context, struct kube_config *out, char *err,
		     size_t errlen);

#endif
