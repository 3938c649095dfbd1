#include "verify/kubecreds.h"

#include <stdio.h>
#include <string.h>

#include "admission.h"
#include "kube/api.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "verify/verify.h"

#define MAX_SECRETS 32 /* pull secrets read per verification */

/* Adds one Secret; a missing one is skipped. */
static int add_secret(struct kube_client *kc, struct creds *keyring, const char *ns, const char *name, char *err,
		      size_t errlen)
{
	struct kube_response resp = { 0 };
	json_t *secret = NULL;
	char cerr[256] = "";
	int rc;

	/* Names come from the SpinApp: only a valid object name goes into a request path. */
	if (!ns || !name || !is_dns1123_subdomain(ns) || !is_dns1123_subdomain(name))
		return SO_OK;
	rc = kube_get(kc, &KUBE_SECRETS, ns, name, &secret, &resp);
	if (rc == SO_E_API_NOT_FOUND) {
		log_debug("verify", "pull secret %s/%s does not exist; skipped", ns, name);
		rc = SO_OK;
	} else if (rc) {
		so_fail(err, errlen, rc, "reading Secret %s/%s: %s", ns, name, resp.message ? resp.message : so_strerror(rc));
	} else if ((rc = creds_add_secret(keyring, secret, cerr, sizeof cerr))) {
		/* A malformed Secret is the user's to fix; the others may still hold what is needed. */
		log_warn("verify", "pull secret %s/%s skipped: %s", ns, name, cerr);
		rc = rc == SO_E_NOMEM ? rc : SO_OK;
	}
	json_decref(secret);
	kube_response_free(&resp);
	return rc;
}

/* Adds every Secret named in a [{name}] list. */
static int add_list(struct kube_client *kc, struct creds *keyring, const char *ns, const json_t *list, size_t *budget,
		    char *err, size_t errlen)
{
	size_t i;
	json_t *e;
	int rc = SO_OK;
	json_array_foreach(list, i, e) {
		if (*budget == 0)
			break;
		(*budget)--;
		if ((rc = add_secret(kc, keyring, ns, json_string_value(json_object_get(e, "name")), err, errlen)))
			break;
	}
	return rc;
}

int kubecreds_lookup(void *ud, const char *ns, const json_t *pull_secrets, const struct image_ref *ref,
		     struct registry_cred **out, char *err, size_t errlen)
{
	struct kubecreds *kc = ud;
	struct creds *keyring = creds_new();
	struct kube_response resp = { 0 };
	struct buf path = BUF_INIT(1024);
	json_t *sa = NULL;
	size_t budget = MAX_SECRETS;
	int rc = keyring ? SO_OK : SO_E_NOMEM;

	*out = NULL;
	if (rc == SO_OK)
		rc = add_list(kc->client, keyring, ns, pull_secrets, &budget, err, errlen);
	/* The default ServiceAccount's imagePullSecrets, which the kubelet adds to the app's pods. */
	if (rc == SO_OK && ns && is_dns1123_subdomain(ns)) {
		int src = buf_appendf(&path, "/api/v1/namespaces/%s/serviceaccounts/default", ns);
		if (src == SO_OK)
			src = kube_get_json(kc->client, path.data, &sa, &resp);
		if (src == SO_OK)
			rc = add_list(kc->client, keyring, ns, json_object_get(sa, "imagePullSecrets"), &budget, err, errlen);
		else if (src == SO_E_NOMEM)
			rc = SO_E_NOMEM;
		else if (src != SO_E_API_NOT_FOUND)
			rc = so_fail(err, errlen, src, "reading ServiceAccount %s/default: %s", ns,
				     resp.message ? resp.message : so_strerror(src));
	}
	if (rc == SO_OK && kc->secret_ns && kc->secret_name)
		rc = add_secret(kc->client, keyring, kc->secret_ns, kc->secret_name, err, errlen);
	if (rc == SO_OK) {
		const struct registry_cred *c = creds_lookup(keyring, ref->registry, ref->repository);
		if (c && !(*out = verify_cred_dup(c)))
			rc = SO_E_NOMEM;
	}
	json_decref(sa);
	kube_response_free(&resp);
	buf_free(&path);
	creds_free(keyring);
	return rc;
}
