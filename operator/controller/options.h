/* What a controller is built with (controller.h's controller_new), apart from its client. */
#ifndef SO_CONTROLLER_OPTIONS_H
#define SO_CONTROLLER_OPTIONS_H

#include <stddef.h>

struct controller_opts {
	const char *namespace;      /* NULL: all namespaces */
	int app_workers;            /* --max-concurrent-reconciles */
	double resync_s;            /* periodic re-reconcile of every app; 0 disables */
	const char *ca_bundle;      /* PEM bundle for installDefaultCACerts Secrets */
	size_t ca_bundle_len;
	/* Optional: polled while controller_start waits for the caches; non-zero makes it return SO_E_CANCELLED. */
	int (*stop_requested)(void);
};

#endif
