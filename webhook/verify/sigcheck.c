#include "webhook/verify/sigcheck.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/base64.h"
#include "operator/base/err.h"
#include "operator/base/mem.h"

#define SIMPLE_SIGNING_TYPE "cosign container image signature"
#define INTOTO_PAYLOAD_TYPE "application/vnd.in-toto+json"
#define COSIGN_SIGN_PREDICATE "https://sigstore.dev/cosign/sign/v1"
#define MAX_SIG_B64 16384   /* an RSA-16384 signature is 2 KiB; anything larger is not a signature */
#define MAX_PAYLOAD (1u << 20)

static const char *const bundle_media_types[] = {
	"application/vnd.dev.sigstore.bundle.v0.3+json",
	"application/vnd.dev.sigstore.bundle+json;version=0.1",
	"application/vnd.dev.sigstore.bundle+json;version=0.2",
	"application/vnd.dev.sigstore.bundle+json;version=0.3",
};

static const char *const statement_types[] = {
	"https://in-toto.io/Statement/v1",
	"https://in-toto.io/Statement/v0.1",
};

int sigcheck_b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	if (len > (size_t)MAX_PAYLOAD * 2 + 64) /* the cap, before trimming: generous for surrounding whitespace */
		return SO_E_INVAL;
	return base64_decode(in, len, B64_TRIM_SPACE, out, outlen);
}

static int contains(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

int sigcheck_key_from_pem(const char *pem, size_t len, EVP_PKEY **out, char *err, size_t errlen)
{
	BIO *bio = NULL;
	EVP_PKEY *k = NULL;
	int rc = SO_E_INVAL;

	*out = NULL;
	if (len > 65536)
		return so_fail(err, errlen, SO_E_INVAL, "the key is %zu bytes, more than a public key can be", len);
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return so_fail(err, errlen, SO_E_INVAL, "OpenSSL: BIO_new_mem_buf refused the key");
	k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!k && contains(pem, len, "PRIVATE KEY-----")) {
		/* A private key pasted by mistake deserves its own message (and is never parsed: no passphrase prompt). */
		rc = so_fail(err, errlen, SO_E_INVAL, "this is a private key; give the public key (cosign.pub)");
		goto out;
	}
	if (!k) {
		rc = so_fail(err, errlen, SO_E_INVAL, "not a PEM public key (-----BEGIN PUBLIC KEY-----)");
		goto out;
	}
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_EC: {
		char group[64] = "";
		size_t glen = 0;
		if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) ||
		    (strcmp(group, "prime256v1") != 0 && strcmp(group, "secp384r1") != 0 &&
		     strcmp(group, "secp521r1") != 0)) {
			rc = so_fail(err, errlen, SO_E_INVAL, "EC key on curve %s; P-256, P-384 or P-521 expected",
				     *group ? group : "(unknown)");
			goto out;
		}
		break;
	}
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(k) < 2048) {
			rc = so_fail(err, errlen, SO_E_INVAL, "RSA key of %d bits; at least 2048 expected",
				     EVP_PKEY_get_bits(k));
			goto out;
		}
		break;
	case EVP_PKEY_ED25519: break;
	default:
		rc = so_fail(err, errlen, SO_E_INVAL, "unsupported key type %s; ECDSA, RSA or Ed25519 expected",
			     OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
		goto out;
	}
	*out = k;
	k = NULL;
	rc = SO_OK;
out:
	ERR_clear_error(); /* the failed PEM parses leave their errors on this thread's queue */
	EVP_PKEY_free(k);
	BIO_free(bio);
	return rc;
}

int sigcheck_key_der(EVP_PKEY *pkey, unsigned char **der, size_t *len)
{
	unsigned char *p = NULL;
	int n = i2d_PUBKEY(pkey, &p);
	if (n <= 0)
		return SO_E_INVAL; /* i2d_PUBKEY: a key OpenSSL cannot encode */
	*der = mem_alloc((size_t)n);
	memcpy(*der, p, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(p);
	return SO_OK;
}

/*
 * The hashes a key's signatures may be made with, in the order to try them: sigstore signs with SHA-384 for
 * P-384 keys and SHA-512 for P-521 ones (its algorithm registry), older cosign releases with SHA-256 for every
 * key, so those curves accept both; P-256 and RSA keys SHA-256 only. Ed25519 hashes nothing (one NULL entry).
 * Returns how many entries of mds it filled.
 */
static size_t key_hashes(EVP_PKEY *pkey, const EVP_MD *mds[2])
{
	int bits = EVP_PKEY_get_bits(pkey);
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_ED25519: mds[0] = NULL; return 1;
	case EVP_PKEY_EC:
		if (bits == 384 || bits == 521) {
			mds[0] = bits == 384 ? EVP_sha384() : EVP_sha512();
			mds[1] = EVP_sha256();
			return 2;
		}
		break;
	default: break;
	}
	mds[0] = EVP_sha256();
	return 1;
}

/* 1 when pkey verifies sig over msg with one of its hashes (key_hashes), 0 when not. */
static int verify_message(EVP_PKEY *pkey, const unsigned char *msg, size_t len, const unsigned char *sig,
			  size_t siglen)
{
	const EVP_MD *mds[2];
	size_t n = key_hashes(pkey, mds);
	int ok = 0;

	for (size_t i = 0; !ok && i < n; i++) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		if (EVP_DigestVerifyInit(ctx, NULL, mds[i], NULL, pkey) == 1)
			ok = EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1;
		EVP_MD_CTX_free(ctx);
	}
	ERR_clear_error();
	return ok;
}

/* 1 when pkey verifies sig over an already computed SHA-256 (messageSignature). Ed25519 cannot: 0. */
static int verify_prehashed(EVP_PKEY *pkey, const unsigned char dgst[32], const unsigned char *sig, size_t siglen)
{
	EVP_PKEY_CTX *ctx;
	int ok = 0;

	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519)
		return 0;
	ctx = EVP_PKEY_CTX_new(pkey, NULL);
	if (!ctx)
		return 0;
	if (EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
	    (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA ||
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1))
		ok = EVP_PKEY_verify(ctx, sig, siglen, dgst, 32) == 1;
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

static void result_init(struct sig_result *out)
{
	memset(out, 0, sizeof *out);
	out->verdict = SIG_MALFORMED;
	out->key_index = -1;
}

static void malformed(struct sig_result *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void malformed(struct sig_result *out, const char *fmt, ...)
{
	va_list ap;
	out->verdict = SIG_MALFORMED;
	va_start(ap, fmt);
	vsnprintf(out->detail, sizeof out->detail, fmt, ap);
	va_end(ap);
}

/* A string member, NULL when absent or not a string. */
static const char *str_at(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static unsigned hexval(char c)
{
	return c >= 'a' ? (unsigned)(c - 'a' + 10) : (unsigned)(c - '0');
}

static int valid_digest(const char *digest)
{
	if (!digest || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 71)
		return 0;
	for (size_t i = 7; i < 71; i++)
		if (!((digest[i] >= '0' && digest[i] <= '9') || (digest[i] >= 'a' && digest[i] <= 'f')))
			return 0;
	return 1;
}

int sigcheck_simple(const char *digest, const unsigned char *payload, size_t payload_len, const char *sig_b64,
		    size_t sig_b64_len, const struct sig_key *keys, size_t nkeys, struct sig_result *out)
{
	unsigned char *sig = NULL;
	size_t siglen = 0;
	json_t *doc = NULL, *crit, *image;
	json_error_t jerr;
	const char *type, *bound;
	int rc;

	result_init(out);
	if (!valid_digest(digest)) {
		malformed(out, "the image digest %.80s is not sha256:<hex>", digest ? digest : "(none)");
		return SO_OK;
	}
	if (!sig_b64 || sig_b64_len == 0) {
		malformed(out, "the layer has no dev.cosignproject.cosign/signature annotation");
		return SO_OK;
	}
	if (sig_b64_len > MAX_SIG_B64 || payload_len > MAX_PAYLOAD) {
		malformed(out, "the signature or payload is too large");
		return SO_OK;
	}
	rc = sigcheck_b64_decode(sig_b64, sig_b64_len, &sig, &siglen);
	if (rc != SO_OK) {
		malformed(out, "the signature annotation is not base64");
		return SO_OK;
	}
	for (size_t i = 0; i < nkeys; i++) {
		if (keys[i].pkey && verify_message(keys[i].pkey, payload, payload_len, sig, siglen)) {
			out->key_index = (int)i;
			break;
		}
	}
	if (out->key_index < 0) {
		out->verdict = SIG_UNTRUSTED;
		goto out;
	}
	/* Signed by a trusted key: now the claims. */
	doc = json_loadb((const char *)payload, payload_len, JSON_REJECT_DUPLICATES, &jerr);
	crit = json_object_get(doc, "critical");
	image = json_object_get(crit, "image");
	type = str_at(crit, "type");
	bound = str_at(image, "docker-manifest-digest");
	if (!doc || !json_is_object(crit)) {
		malformed(out, "the signed payload is not simple-signing JSON");
	} else if (!type || strcmp(type, SIMPLE_SIGNING_TYPE) != 0) {
		malformed(out, "the signed payload's critical.type is not \"" SIMPLE_SIGNING_TYPE "\"");
	} else if (!bound) {
		malformed(out, "the signed payload has no critical.image.docker-manifest-digest");
	} else if (strcmp(bound, digest) != 0) {
		out->verdict = SIG_WRONG_DIGEST;
		snprintf(out->bound_digest, sizeof out->bound_digest, "%.72s", bound);
	} else {
		out->verdict = SIG_VERIFIED;
	}
out:
	json_decref(doc);
	free(sig);
	return SO_OK;
}

/* DSSE's pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body. */
static unsigned char *dsse_pae(const char *type, const unsigned char *body, size_t body_len, size_t *out_len)
{
	size_t tlen = strlen(type);
	char head[64];
	int hn = snprintf(head, sizeof head, "DSSEv1 %zu ", tlen);
	char mid[32];
	int mn = snprintf(mid, sizeof mid, " %zu ", body_len);
	size_t n = (size_t)hn + tlen + (size_t)mn + body_len;
	unsigned char *p = mem_alloc(n + 1);

	memcpy(p, head, (size_t)hn);
	memcpy(p + hn, type, tlen);
	memcpy(p + hn + tlen, mid, (size_t)mn);
	if (body_len)
		memcpy(p + hn + tlen + mn, body, body_len);
	*out_len = n;
	return p;
}

/* The statement's claims, once its signature is trusted. */
static void check_statement(const char *digest, const unsigned char *stmt, size_t len, struct sig_result *out)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)stmt, len, JSON_REJECT_DUPLICATES, &jerr), *subjects, *s;
	const char *type = str_at(doc, "_type"), *pred = str_at(doc, "predicateType"), *first = NULL;
	size_t i, known = 0;

	if (!json_is_object(doc)) {
		malformed(out, "the signed DSSE payload is not an in-toto statement");
		goto out;
	}
	for (i = 0; i < sizeof statement_types / sizeof *statement_types; i++)
		known |= type && strcmp(type, statement_types[i]) == 0;
	if (!known) {
		malformed(out, "the signed statement's _type %.80s is not an in-toto statement", type ? type : "(none)");
		goto out;
	}
	/* Attestations (SBOMs, provenance) signed with the same key are not signatures of the image. */
	if (!pred || strcmp(pred, COSIGN_SIGN_PREDICATE) != 0) {
		malformed(out, "the signed statement is an attestation (predicateType %.80s), not a signature",
			  pred ? pred : "(none)");
		goto out;
	}
	subjects = json_object_get(doc, "subject");
	json_array_foreach(subjects, i, s) {
		const char *hex = str_at(json_object_get(s, "digest"), "sha256");
		if (!hex)
			continue;
		if (!first)
			first = hex;
		if (strlen(hex) == 64 && strcmp(hex, digest + 7) == 0) {
			out->verdict = SIG_VERIFIED;
			goto out;
		}
	}
	if (first) {
		out->verdict = SIG_WRONG_DIGEST;
		snprintf(out->bound_digest, sizeof out->bound_digest, "sha256:%.64s", first);
	} else {
		malformed(out, "the signed statement has no sha256 subject");
	}
out:
	json_decref(doc);
}

static int check_dsse(const char *digest, const json_t *env, const struct sig_key *keys, size_t nkeys,
		      struct sig_result *out)
{
	const char *ptype = str_at(env, "payloadType"), *payload_b64 = str_at(env, "payload"), *sig_b64;
	const json_t *sigs = json_object_get(env, "signatures");
	unsigned char *payload = NULL, *sig = NULL, *pae = NULL;
	size_t plen = 0, siglen = 0, paelen = 0;
	int rc = SO_OK;

	if (!ptype || strcmp(ptype, INTOTO_PAYLOAD_TYPE) != 0) {
		malformed(out, "the DSSE payloadType is %.80s, not " INTOTO_PAYLOAD_TYPE, ptype ? ptype : "(none)");
		goto out;
	}
	/* protobuf-specs: clients MUST reject an envelope whose number of signatures is not one. */
	if (!json_is_array(sigs) || json_array_size(sigs) != 1) {
		malformed(out, "the DSSE envelope must hold exactly one signature");
		goto out;
	}
	sig_b64 = str_at(json_array_get(sigs, 0), "sig");
	if (!payload_b64 || !sig_b64) {
		malformed(out, "the DSSE envelope has no payload or sig");
		goto out;
	}
	if (strlen(sig_b64) > MAX_SIG_B64) {
		malformed(out, "the DSSE signature is too large");
		goto out;
	}
	rc = sigcheck_b64_decode(payload_b64, strlen(payload_b64), &payload, &plen);
	if (rc == SO_OK)
		rc = sigcheck_b64_decode(sig_b64, strlen(sig_b64), &sig, &siglen);
	if (rc != SO_OK) {
		rc = SO_OK;
		malformed(out, "the DSSE payload or signature is not base64");
		goto out;
	}
	pae = dsse_pae(ptype, payload, plen, &paelen);
	for (size_t i = 0; i < nkeys; i++) {
		if (keys[i].pkey && verify_message(keys[i].pkey, pae, paelen, sig, siglen)) {
			out->key_index = (int)i;
			break;
		}
	}
	if (out->key_index < 0)
		out->verdict = SIG_UNTRUSTED;
	else
		check_statement(digest, payload, plen, out);
out:
	free(pae);
	free(sig);
	free(payload);
	return rc;
}

static int check_message_signature(const char *digest, const json_t *ms, const struct sig_key *keys, size_t nkeys,
				   struct sig_result *out)
{
	const json_t *md = json_object_get(ms, "messageDigest");
	const char *alg = str_at(md, "algorithm"), *dgst_b64 = str_at(md, "digest"), *sig_b64 = str_at(ms, "signature");
	unsigned char *dgst = NULL, *sig = NULL, want[32];
	size_t dlen = 0, siglen = 0;
	int rc;

	if (!alg || strcmp(alg, "SHA2_256") != 0 || !dgst_b64 || !sig_b64) {
		malformed(out, "the messageSignature is not a SHA2_256 digest with a signature");
		return SO_OK;
	}
	if (strlen(sig_b64) > MAX_SIG_B64) {
		malformed(out, "the message signature is too large");
		return SO_OK;
	}
	rc = sigcheck_b64_decode(dgst_b64, strlen(dgst_b64), &dgst, &dlen);
	if (rc == SO_OK)
		rc = sigcheck_b64_decode(sig_b64, strlen(sig_b64), &sig, &siglen);
	if (rc != SO_OK || dlen != 32) {
		rc = SO_OK;
		malformed(out, "the messageSignature digest or signature is not base64 SHA-256");
		goto out;
	}
	for (size_t i = 0; i < nkeys; i++) {
		if (keys[i].pkey && verify_prehashed(keys[i].pkey, dgst, sig, siglen)) {
			out->key_index = (int)i;
			break;
		}
	}
	if (out->key_index < 0) {
		out->verdict = SIG_UNTRUSTED;
		goto out;
	}
	for (size_t i = 0; i < 32; i++) /* valid_digest checked: lower-case hex */
		want[i] = (unsigned char)(hexval(digest[7 + 2 * i]) << 4 | hexval(digest[8 + 2 * i]));
	if (memcmp(want, dgst, 32) == 0) {
		out->verdict = SIG_VERIFIED;
	} else {
		out->verdict = SIG_WRONG_DIGEST;
		int n = snprintf(out->bound_digest, sizeof out->bound_digest, "sha256:");
		for (size_t i = 0; i < 32; i++)
			n += snprintf(out->bound_digest + n, sizeof out->bound_digest - (size_t)n, "%02x", dgst[i]);
	}
out:
	free(dgst);
	free(sig);
	return rc;
}

int sigcheck_bundle(const char *digest, const char *bundle, size_t len, const struct sig_key *keys, size_t nkeys,
		    struct sig_result *out)
{
	json_error_t jerr;
	json_t *doc = NULL, *env, *ms;
	const char *mt;
	int rc = SO_OK, known = 0;

	result_init(out);
	if (!valid_digest(digest)) {
		malformed(out, "the image digest %.80s is not sha256:<hex>", digest ? digest : "(none)");
		return SO_OK;
	}
	if (len > MAX_PAYLOAD) {
		malformed(out, "the bundle is too large");
		return SO_OK;
	}
	doc = json_loadb(bundle, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(doc)) {
		malformed(out, "the bundle is not a JSON object");
		goto out;
	}
	mt = str_at(doc, "mediaType");
	for (size_t i = 0; mt && i < sizeof bundle_media_types / sizeof *bundle_media_types; i++)
		known |= strcmp(mt, bundle_media_types[i]) == 0;
	if (!known) {
		malformed(out, "unknown bundle mediaType %.100s", mt ? mt : "(none)");
		goto out;
	}
	env = json_object_get(doc, "dsseEnvelope");
	ms = json_object_get(doc, "messageSignature");
	if (json_is_object(env) && !ms)
		rc = check_dsse(digest, env, keys, nkeys, out);
	else if (json_is_object(ms) && !env)
		rc = check_message_signature(digest, ms, keys, nkeys, out);
	else
		malformed(out, "the bundle holds neither one dsseEnvelope nor one messageSignature");
out:
	json_decref(doc);
	return rc;
}
