/*
 * Signature fixtures built at test time with OpenSSL, in the exact formats cosign writes
 * (image-signatures.md §6.3): keys, simple-signing payloads and their base64 DER signatures, DSSE envelopes
 * with in-toto statements wrapped in Sigstore bundles, and messageSignature bundles. Every string returned is
 * malloc'd (free()).
 */
#ifndef SO_TEST_SIGFIXTURE_H
#define SO_TEST_SIGFIXTURE_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>

/* "ec" (P-256), "ec384", "ec521", "rsa" (2048), "ed25519". Aborts on failure (tests only). */
EVP_PKEY *fx_keygen(const char *type);
char *fx_pubpem(EVP_PKEY *k);
char *fx_b64(const void *p, size_t n);
/* The base64 of k's signature over msg (SHA-256 for EC/RSA, pure Ed25519). */
char *fx_sign_b64(EVP_PKEY *k, const void *msg, size_t n);
/* The same with a chosen hash (NULL for Ed25519). */
char *fx_sign_b64_md(EVP_PKEY *k, const EVP_MD *md, const void *msg, size_t n);
/* Writes text to f with indent before every line (a PEM key into a YAML block scalar of a policy file). */
void fx_fprint_indented(FILE *f, const char *text, const char *indent);
/* "sha256:<hex>" of bytes. */
void fx_digest(const void *p, size_t n, char out[72]);
/* cosign's simple-signing payload binding digest, as cosign serialises it. */
char *fx_simple_payload(const char *digest);
/* A v0.3 bundle holding a DSSE envelope over an in-toto statement whose subject is digest (sha256 part). */
char *fx_bundle_dsse(EVP_PKEY *k, const char *digest, const char *predicate_type);
/* A v0.3 bundle holding a messageSignature over digest. */
char *fx_bundle_message(EVP_PKEY *k, const char *digest);

/*
 * Artifacts as `oras push` and `cosign sign` leave them in a registry, written through put (a fake registry's
 * store: ref is a tag or a digest). Digests are "sha256:<hex>" of the exact bytes stored.
 */
typedef void (*fx_put_fn)(const char *repo, const char *ref, const char *media_type, const char *body);
/* Stores body under its digest (returned) and, when tag is not NULL, under tag. */
void fx_put_digest(fx_put_fn put, const char *repo, const char *tag, const char *media_type, const char *body,
		   char digest[72]);
/* A Spin-shaped OCI manifest (its layers are never fetched); salt makes its digest unique. */
void fx_push_app(fx_put_fn put, const char *repo, const char *tag, const char *salt, char digest[72]);
/* A classic cosign .sig manifest (tag sha256-<hex>.sig) with one simple-signing layer signed by key over a
 * payload binding bound. */
void fx_sign_classic(fx_put_fn put, const char *repo, const char *digest, EVP_PKEY *key, const char *bound);
/* A cosign v3 bundle as a referrer of digest, listed in the sha256-<hex> fallback index. */
void fx_sign_bundle(fx_put_fn put, const char *repo, const char *digest, EVP_PKEY *key, const char *bound);

#endif
