/*
 * OCI image references, parsed and normalised as distribution/reference does (docs/internals/registry.md):
 * "nginx" → registry docker.io, repository library/nginx, tag latest; and, beyond it, every spelling of the
 * same registry to one host name (image_ref_canonical_host). Pure; no I/O.
 */
#ifndef SO_VERIFY_REF_H
#define SO_VERIFY_REF_H

#include <stddef.h>

#define IMAGE_DIGEST_LEN 71 /* "sha256:" + 64 hex */

struct image_ref {
	char *registry;   /* "docker.io", "ghcr.io", "127.0.0.1:5000" (familiar name; see image_ref_api_host) */
	char *repository; /* "library/nginx" */
	char *tag;        /* "latest" when neither tag nor digest was given; NULL when only a digest was */
	char digest[IMAGE_DIGEST_LEN + 1]; /* "sha256:<hex>" or "" */
};

/* SO_OK when s (at most 4096 bytes) is an image reference distribution/reference accepts, sha384 and sha512
 * digests included; else SO_E_INVAL with one line in err (err may be NULL). What admission checks. */
int image_ref_check(const char *s, char *err, size_t errlen);
/* image_ref_check without the message: non-zero when s is a reference. */
int image_ref_valid(const char *s);

/* Parses s (at most 4096 bytes), for the verifier: as image_ref_check, but a digest must be sha256, a port has at
 * most 5 digits and a first component with '.', ':' or an upper-case letter must be a valid registry host.
 * SO_E_INVAL with one line in err for anything the grammar refuses. Free with image_ref_free. */
int image_ref_parse(const char *s, struct image_ref *out, char *err, size_t errlen);
void image_ref_free(struct image_ref *r);

/* Rewrites a registry host[:port] in place to the one spelling used for policy, cache keys and credentials:
 * lower case, no ":443", Docker Hub's aliases (index.docker.io, registry-1.docker.io, registry.hub.docker.com)
 * as "docker.io". The result is never longer. */
void image_ref_canonical_host(char *host);

/* The host the /v2/ API is served on: "index.docker.io" for docker.io, else the registry itself. */
const char *image_ref_api_host(const struct image_ref *r);

/* "<registry>/<repository>" (for policy globs and cache keys), and the same with ":<tag>" when there is a tag
 * (untagged digest references match as ":latest", as policy-controller does). Allocated; never NULL. */
char *image_ref_name(const struct image_ref *r);
char *image_ref_name_tag(const struct image_ref *r);

/* The pinned form the webhook patches in: the user's spelling of registry/repository, ":tag" when there was
 * one, then "@<digest>" (digest must be "sha256:<hex>"). Allocated; NULL when original is longer than a
 * reference may be or digest is not valid. */
char *image_ref_pinned(const char *original, const struct image_ref *r, const char *digest);

#endif
