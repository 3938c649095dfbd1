/*
 * An OCI distribution client on libcurl (docs/internals/registry.md): manifests, blobs and referrers, with
 * anonymous, Basic and Bearer auth (WWW-Authenticate parsed; tokens cached per (host, scope, credential)
 * until expires_in), redirects to blob storage without credentials, https only unless the registry is listed
 * as insecure, realm checks (no loopback, link-local or private realm unless it is the registry's own host or
 * allowed), a size cap on every answer and a deadline on every call. Thread-safe: one client serves every
 * webhook thread. Every request is counted (registry_stats) so tests can assert "no registry request".
 */
#ifndef SO_VERIFY_REGISTRY_H
#define SO_VERIFY_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "operator/base/buf.h"
#include "webhook/verify/creds.h"
#include "operator/kube/imageref.h"

#define REGISTRY_MAX_MANIFEST ((size_t)4 << 20)
#define REGISTRY_MAX_BLOB ((size_t)1 << 20)

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

struct registry_options {
	const char *extra_ca_file;     /* PEM bundle added to the system CAs, or NULL */
	const char *const *insecure;   /* NULL-terminated hosts spoken to over plain http, or NULL */
	int allow_private_realms;      /* token realms on loopback/private/link-local addresses allowed */
	long connect_timeout_ms;       /* per connection; 0 = 2000 */
};

struct registry_stats {
	uint64_t requests;     /* every HTTP request sent, token requests included */
	uint64_t token_fetches;
};

struct registry;

/* NULL on a bad extra CA file or a failed libcurl set-up (one line in err). */
struct registry *registry_new(const struct registry_options *o, char *err, size_t errlen);
void registry_free(struct registry *r);
void registry_get_stats(struct registry *r, struct registry_stats *out);

/* An answer: body (capped), the media type (Content-Type without parameters) and the sha256 digest of the
 * bytes received ("sha256:<hex>"). Free with registry_blob_free. */
struct registry_blob {
	struct buf body;
	char media_type[128];
	char digest[IMAGE_DIGEST_LEN + 1];
};
void registry_blob_free(struct registry_blob *b);

/* deadline_ms is CLOCK_MONOTONIC milliseconds; every call gives up (SO_E_TIMEOUT) when it passes. Errors:
 * SO_E_API_NOT_FOUND (404: no such manifest/tag/blob), SO_E_API_UNAUTHORIZED / SO_E_API_FORBIDDEN (auth
 * failed after credentials), SO_E_API_TOO_MANY_REQUESTS, SO_E_TRANSPORT, SO_E_TIMEOUT, SO_E_TOO_LARGE,
 * SO_E_BAD_RESPONSE (digest mismatch, wrong media type, bad auth answer), each with one line in err naming
 * the registry and what failed (never a credential). cred may be NULL (anonymous). */

/* HEAD then, when the registry gives no Docker-Content-Digest, GET: resolves ref->tag to a digest. */
int registry_resolve(struct registry *r, const struct image_ref *ref, const struct registry_cred *cred,
		     int64_t deadline_ms, char digest[IMAGE_DIGEST_LEN + 1], char *err, size_t errlen);

/* GET /v2/<repo>/manifests/<reference> (a tag or a digest) with the full Accept list (accept NULL) or the
 * given one. For a digest reference the sha256 of the body must equal it (SO_E_BAD_RESPONSE otherwise). */
int registry_get_manifest(struct registry *r, const struct image_ref *ref, const struct registry_cred *cred,
			  const char *reference, const char *accept, int64_t deadline_ms, struct registry_blob *out,
			  char *err, size_t errlen);

/* GET /v2/<repo>/blobs/<digest>, following redirects without credentials, capped at max; the sha256 of the
 * body must equal digest. */
int registry_get_blob(struct registry *r, const struct image_ref *ref, const struct registry_cred *cred,
		      const char *digest, size_t max, int64_t deadline_ms, struct registry_blob *out, char *err,
		      size_t errlen);

/* GET /v2/<repo>/referrers/<digest>: SO_OK with the OCI index, SO_E_API_NOT_FOUND when the registry has no
 * referrers API (404, or an answer that is not an OCI index) so the caller falls back to the sha256-<hex> tag. */
int registry_get_referrers(struct registry *r, const struct image_ref *ref, const struct registry_cred *cred,
			   const char *digest, int64_t deadline_ms, struct registry_blob *out, char *err,
			   size_t errlen);

/* Pure parsers, exposed for tests and fuzzing. */

/* One WWW-Authenticate value: scheme "Basic" or "Bearer" and its realm/service/scope parameters (quoted
 * strings with escapes, commas inside quotes). SO_E_INVAL for anything else. Strings are malloc'd. */
struct www_authenticate {
	char scheme[16];
	char *realm, *service, *scope;
};
int www_authenticate_parse(const char *value, size_t len, struct www_authenticate *out);
void www_authenticate_free(struct www_authenticate *w);

/* A token server's answer: "token" (or "access_token" when that is absent or empty), visible ASCII, at most
 * REGISTRY_TOKEN_MAX_LEN bytes, into a new *token; *ttl_s from "expires_in", clamped to [REGISTRY_TOKEN_MIN_TTL_S,
 * REGISTRY_TOKEN_MAX_TTL_S] (the minimum when absent). SO_OK or SO_E_BAD_RESPONSE. The token's text
 * is wiped from the parsed document before it is freed. Exposed for the fuzz target. */
#define REGISTRY_TOKEN_MAX_LEN 16384
#define REGISTRY_TOKEN_MIN_TTL_S 60
#define REGISTRY_TOKEN_MAX_TTL_S 3600
int registry_parse_token(const char *body, size_t len, char **token, long *ttl_s);

#endif
