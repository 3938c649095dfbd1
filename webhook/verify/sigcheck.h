/*
 * Signature checks over bytes already fetched (cosign simple-signing payloads and Sigstore bundles,
 * docs/internals/verify.md). Pure: no I/O, no clock.
 *
 *   sigcheck_simple   a cosign classic signature: the simple-signing payload blob (exact bytes) and the base64
 *                     DER signature of the layer annotation dev.cosignproject.cosign/signature
 *   sigcheck_bundle   a Sigstore bundle (v0.1–v0.3 media types) holding a DSSE envelope with an in-toto
 *                     statement (predicateType https://sigstore.dev/cosign/sign/v1), or a messageSignature
 *
 * Signatures are checked first, with each trusted key in turn (OpenSSL EVP_DigestVerify: ECDSA and RSA PKCS#1
 * v1.5 over SHA-256, Ed25519 pure); only a signature some key verifies is read further, so the claims of an
 * untrusted signature never reach a message. Then the claims: for simple signing, critical.type must be
 * "cosign container image signature" and critical.image.docker-manifest-digest the image digest; for DSSE, one
 * statement subject's sha256 must be the digest; for a messageSignature, messageDigest must be the digest.
 * Transparency-log entries and certificates in a bundle are not read (key-based verification, as cosign does
 * with --key since v2.6: docs/verify-images.md).
 */
#ifndef SO_VERIFY_SIGCHECK_H
#define SO_VERIFY_SIGCHECK_H

#include <openssl/evp.h>
#include <stddef.h>

/* A trusted public key. Borrowed by the checks; the policy owns both fields. */
struct sig_key {
	char *name;
	EVP_PKEY *pkey;
};

/* Parses a PEM SubjectPublicKeyInfo ("PUBLIC KEY", as cosign.pub) of an accepted type: EC P-256 or
 * P-384, RSA of 2048 bits or more, Ed25519. *out is a new key (EVP_PKEY_free). SO_E_INVAL with one line in err. */
int sigcheck_key_from_pem(const char *pem, size_t len, EVP_PKEY **out, char *err, size_t errlen);

/* The DER SubjectPublicKeyInfo of a key (for hashes and fingerprints), malloc'd in *der. */
int sigcheck_key_der(EVP_PKEY *pkey, unsigned char **der, size_t *len);

enum sig_verdict {
	SIG_VERIFIED = 0,    /* a trusted key verifies it and it binds the digest */
	SIG_UNTRUSTED,       /* no trusted key verifies the signature (unknown key, or bad signature) */
	SIG_WRONG_DIGEST,    /* a trusted key verifies it, but it binds another digest (bound_digest) */
	SIG_MALFORMED,       /* not a signature we can read (detail says why) */
};

struct sig_result {
	enum sig_verdict verdict;
	int key_index;          /* the key that verified (SIG_VERIFIED, SIG_WRONG_DIGEST), else -1 */
	char bound_digest[80];  /* SIG_WRONG_DIGEST: the digest the payload names ("sha256:<hex>") */
	char detail[256];       /* SIG_MALFORMED: why */
};

/* digest is "sha256:<64 hex>". SO_OK with the verdict in *out. */
int sigcheck_simple(const char *digest, const unsigned char *payload, size_t payload_len, const char *sig_b64,
		    size_t sig_b64_len, const struct sig_key *keys, size_t nkeys, struct sig_result *out);

int sigcheck_bundle(const char *digest, const char *bundle, size_t len, const struct sig_key *keys, size_t nkeys,
		    struct sig_result *out);

/* Standard base64 (padded; surrounding whitespace ignored) into a new buffer. SO_E_INVAL when malformed. */
int sigcheck_b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);

#endif
