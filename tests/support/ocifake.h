/*
 * An in-process OCI registry for tests and benchmarks (libmicrohttpd, plain HTTP on 127.0.0.1, a thread per
 * connection): manifests by tag or digest (HEAD and GET, with Content-Type and Docker-Content-Digest), blobs,
 * and no referrers API (404), as distribution v2/v3 serve them. Objects are added before requests are made
 * (the table is not locked). Signature helpers push what cosign pushes (image-signatures.md §1.2, §2.2), with
 * keys and signatures from sigfixture.h.
 */
#ifndef SO_TEST_OCIFAKE_H
#define SO_TEST_OCIFAKE_H

#include <openssl/evp.h>

/* Starts the registry; returns its port (0 on failure). One per process. */
int ocifake_start(void);
void ocifake_stop(void);
/* HTTP requests answered so far. */
int ocifake_requests(void);

/* A manifest (media_type set) or a blob (media_type ""), under ref (a tag or a digest) of repo. */
void ocifake_put(const char *repo, const char *ref, const char *media_type, const char *body);
/* Stores body by its digest (and tag, when not NULL); digest receives "sha256:<hex>". */
void ocifake_put_digest(const char *repo, const char *tag, const char *media_type, const char *body, char digest[72]);

/* A Spin-shaped OCI image manifest at repo:tag (salt makes it unique). */
void ocifake_push_app(const char *repo, const char *tag, const char *salt, char digest[72]);
/* A classic cosign signature by key of a payload binding `bound`, at sha256-<hex of digest>.sig. */
void ocifake_sign_classic(const char *repo, const char *digest, EVP_PKEY *key, const char *bound);
/* A cosign v3 bundle referrer by key binding `bound`, listed in the sha256-<hex> fallback index. */
void ocifake_sign_bundle(const char *repo, const char *digest, EVP_PKEY *key, const char *bound);

#endif
