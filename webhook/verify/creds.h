/*
 * Registry credentials from Kubernetes pull Secrets (docs/internals/registry.md): kubernetes.io/dockerconfigjson
 * (".dockerconfigjson" = {"auths": {...}}) and legacy kubernetes.io/dockercfg (".dockercfg" = the auths map).
 * Entries: username/password, auth = base64(user:pass) (wins over username/password), identitytoken,
 * registrytoken. Server keys are matched as kubelet's keyring does (scheme and /v1/ stripped, label globs,
 * path prefix, longest key first; docker.io, index.docker.io, registry-1.docker.io and
 * https://index.docker.io/v1/ are one registry). Pure; no I/O. Secret values are never logged.
 */
#ifndef SO_VERIFY_CREDS_H
#define SO_VERIFY_CREDS_H

#include <jansson.h>
#include <stddef.h>

struct registry_cred {
	char *username, *password;  /* both or neither */
	char *identity_token;       /* OAuth2 refresh token, or NULL */
	char *registry_token;       /* used directly as Bearer, or NULL */
};

struct creds; /* an ordered keyring; opaque */

struct creds *creds_new(void);
void creds_free(struct creds *c);

/* Adds every entry of one Secret object (JSON as the API returns it; data values base64). Secrets of other
 * types, or without the key, add nothing and return SO_OK. SO_E_INVAL with one line in err (never quoting
 * secret values) when the content is malformed. */
int creds_add_secret(struct creds *c, const json_t *secret, char *err, size_t errlen);

/* Adds the "auths" entries of a docker config file (~/.docker/config.json: {"auths": {"host": {"auth": ...}}}),
 * text of len bytes; name (the file) labels errors. credsStore and credHelpers are not run (no helper programs):
 * a config with only those adds nothing. Same checks and messages as creds_add_secret. */
int creds_add_dockerconfig(struct creds *c, const char *text, size_t len, const char *name, char *err,
			   size_t errlen);

/* The credential for host[:port]/repository, or NULL for anonymous. Borrowed from c. */
const struct registry_cred *creds_lookup(const struct creds *c, const char *registry, const char *repository);

/* A stable fingerprint of the credential (sha256 hex of its fields; "" for NULL) for token-cache keys; "!" when
 * it could not be computed (no memory), which must not be used as a cache key. */
void creds_fingerprint(const struct registry_cred *cred, char out[65]);

#endif
