/* Credentials that change at run time, served to the HTTP client before every request (auth.c). */
#ifndef SO_KUBE_AUTH_H
#define SO_KUBE_AUTH_H

#include <stddef.h>

#include "operator/kube/config.h"

/*
 * struct kube_auth serves the current credentials, thread-safe:
 *  - static token and client certificate: as configured;
 *  - token file: re-read when older than 60 s (kubelet rotates projected tokens at 80% of their lifetime);
 *  - CA file (in-cluster ca.crt, which the kube-root-ca.crt ConfigMap feeds and the kubelet updates when the
 *    cluster CA rotates): re-read on the same schedule; a bundle that holds no parseable certificate is
 *    refused and the previous one kept;
 *  - exec plugin: run with posix_spawn (no shell), a 30 s timeout and a 1 MiB output cap, and cached until
 *    status.expirationTimestamp (or until invalidated).
 * kube_auth_invalidate is called by the HTTP client after a 401 so the next kube_auth_get re-reads the
 * token file or re-runs the plugin.
 */
struct kube_auth;

int kube_auth_new(const struct kube_config *cfg, struct kube_auth **out, char *err, size_t errlen);
void kube_auth_free(struct kube_auth *auth);
int kube_auth_get(struct kube_auth *auth, struct kube_credentials *out, char *err, size_t errlen);
void kube_auth_invalidate(struct kube_auth *auth);

#endif
