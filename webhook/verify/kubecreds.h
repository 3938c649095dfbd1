/*
 * Registry credentials for a verification, read through the operator's kube client (docs/verify-images.md
 * "Credentials"): the Secrets the SpinApp names in spec.imagePullSecrets, then the imagePullSecrets of the
 * namespace's default ServiceAccount, then the operator-wide Secret of --registry-credentials-secret, all put
 * into one keyring (creds.h) and looked up for the image's registry and repository as the kubelet would.
 * Missing Secrets are skipped (the kubelet skips them too); an API failure is returned. Secret contents are
 * never logged. RBAC: get on secrets and serviceaccounts.
 */
#ifndef SO_VERIFY_KUBECREDS_H
#define SO_VERIFY_KUBECREDS_H

#include <jansson.h>
#include <stddef.h>

#include "kube/client.h"
#include "verify/creds.h"
#include "verify/ref.h"

struct kubecreds {
	struct kube_client *client;
	const char *secret_ns, *secret_name; /* --registry-credentials-secret, or NULL */
};

/* A verify_creds_fn (verify.h); ud is a struct kubecreds. */
int kubecreds_lookup(void *ud, const char *ns, const json_t *pull_secrets, const struct image_ref *ref,
		     struct registry_cred **out, char *err, size_t errlen);

#endif
