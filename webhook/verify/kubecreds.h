/*
 * Registry credentials for a verification, read through the operator's kube client (docs/verify-images.md
 * "Credentials"): the Secrets the SpinApp names in spec.imagePullSecrets, then the imagePullSecrets of the
 * namespace's default ServiceAccount, then the operator-wide Secret of --registry-credentials-secret, all put
 * into one keyring (creds.h) and looked up for the image's registry and repository as the kubelet would.
 * Missing Secrets are skipped (the kubelet skips them too); an API failure is returned. Secret contents are
 * never logged. RBAC: get on secrets and serviceaccounts.
 *
 * Every read fits in the verification's deadline: the kube client's limiter wait included
 * (kube_get_json_within), so a busy controller never holds a review past its budget. With a cache
 * (kubecreds_cache_new), the objects read are kept briefly (KUBECREDS_TTL_MS, at most KUBECREDS_CACHE_MAX
 * entries and KUBECREDS_CACHE_BYTES, none over KUBECREDS_ENTRY_BYTES; keyed by kind/namespace/name; a missing
 * object is remembered as missing), so a burst of reviews for one namespace reads its Secrets once and
 * Secrets made huge on purpose cannot fill the operator's memory. The cache holds Secret data in memory only; nothing of it is logged.
 */
#ifndef SO_VERIFY_KUBECREDS_H
#define SO_VERIFY_KUBECREDS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "operator/kube/client.h"
#include "webhook/verify/creds.h"
#include "operator/kube/imageref.h"

#define KUBECREDS_TTL_MS 5000
#define KUBECREDS_CACHE_MAX 256
#define KUBECREDS_CACHE_BYTES ((size_t)2 << 20) /* all entries together, roughly */
#define KUBECREDS_ENTRY_BYTES ((size_t)64 << 10) /* a larger object (a pull Secret is far smaller) is not kept */

/* One object read by path within timeout_ms: SO_OK with *out, SO_E_API_NOT_FOUND, or another so_err with a
 * one-line message in msg. The default (get == NULL) is kube_get_json_within on the client; tests put a fake
 * here. */
typedef int (*kubecreds_get_fn)(void *ud, const char *path, long timeout_ms, json_t **out, char *msg,
				size_t msglen);

struct kubecreds_cache;

struct kubecreds {
	struct kube_client *client;
	const char *secret_ns, *secret_name; /* --registry-credentials-secret, or NULL */
	struct kubecreds_cache *cache;       /* NULL: every lookup reads the API */
	kubecreds_get_fn get;                /* NULL: the kube client */
	void *get_ud;
};

/* ttl_ms <= 0: KUBECREDS_TTL_MS; max 0: KUBECREDS_CACHE_MAX. now_ms NULL: the monotonic clock (tests inject). */
struct kubecreds_cache *kubecreds_cache_new(int64_t ttl_ms, size_t max, int64_t (*now_ms)(void *ud), void *clock_ud);
void kubecreds_cache_free(struct kubecreds_cache *c);
size_t kubecreds_cache_size(struct kubecreds_cache *c);

/* A verify_creds_fn (verifier.h); ud is a struct kubecreds. deadline_ms is on clock_mono_ms's clock. */
int kubecreds_lookup(void *ud, const char *ns, const json_t *pull_secrets, const struct image_ref *ref,
		     int64_t deadline_ms, struct registry_cred **out, char *err, size_t errlen);

#endif
