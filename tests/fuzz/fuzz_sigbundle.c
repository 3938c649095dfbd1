/*
 * libFuzzer target: the signature checks (webhook/verify/sigcheck.c) on untrusted bytes. The first byte picks what the
 * rest is: 0 a Sigstore bundle as fetched; 1 an in-toto statement, signed here with the fuzzer's key into a DSSE
 * bundle, so that the claim checks behind a valid signature are reached too; 2 a simple-signing payload, signed
 * here; 3 a signature annotation for a fixed payload. Besides memory safety: a verdict is one of the four, a
 * verified result names the key, and nothing signed by the other key verifies.
 */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "webhook/verify/sigcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static EVP_PKEY *signer;
static struct sig_key keys[1];

static char *b64(const unsigned char *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

static char *sign(const unsigned char *msg, size_t n)
{
	unsigned char sig[256];
	size_t siglen = sizeof sig;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *out = NULL;
	if (ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, signer) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, msg, n) == 1)
		out = b64(sig, siglen);
	EVP_MD_CTX_free(ctx);
	return out;
}

static void check(const struct sig_result *r)
{
	if (r->verdict != SIG_VERIFIED && r->verdict != SIG_UNTRUSTED && r->verdict != SIG_WRONG_DIGEST &&
	    r->verdict != SIG_MALFORMED)
		abort();
	if (r->verdict == SIG_VERIFIED && r->key_index != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sig_result r;
	if (!signer) {
		signer = EVP_EC_gen("P-256");
		keys[0].name = (char *)"fuzz";
		keys[0].pkey = signer;
	}
	if (size < 1 || size > 65536)
		return 0;
	const uint8_t mode = data[0] % 4;
	data++;
	size--;
	if (mode == 0) {
		if (sigcheck_bundle(DIGEST, (const char *)data, size, keys, 1, &r) == SO_OK)
			check(&r);
		/* Random bytes are never signed by the key. */
		if (r.verdict == SIG_VERIFIED)
			abort();
	} else if (mode == 1) {
		static const char type[] = "application/vnd.in-toto+json";
		size_t pn = size + 64;
		char *pae = malloc(pn);
		if (!pae)
			return 0;
		int h = snprintf(pae, pn, "DSSEv1 %zu %s %zu ", strlen(type), type, size);
		memcpy(pae + h, data, size);
		char *sig = sign((unsigned char *)pae, (size_t)h + size), *payload = b64(data, size);
		size_t bn = (payload ? strlen(payload) : 0) + 512;
		char *bundle = malloc(bn);
		if (sig && payload && bundle) {
			int n = snprintf(bundle, bn,
					 "{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"dsseEnvelope\":"
					 "{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"%s\"}]}}",
					 payload, type, sig);
			if (sigcheck_bundle(DIGEST, bundle, (size_t)n, keys, 1, &r) == SO_OK) {
				check(&r);
				if (r.verdict == SIG_UNTRUSTED)
					abort(); /* it is signed by the key */
			}
		}
		free(pae);
		free(sig);
		free(payload);
		free(bundle);
	} else if (mode == 2) {
		char *sig = sign(data, size);
		if (sig && sigcheck_simple(DIGEST, data, size, sig, strlen(sig), keys, 1, &r) == SO_OK) {
			check(&r);
			if (r.verdict == SIG_UNTRUSTED)
				abort();
		}
		free(sig);
	} else {
		static const char payload[] = "{\"critical\":{}}";
		if (sigcheck_simple(DIGEST, (const unsigned char *)payload, sizeof payload - 1, (const char *)data, size,
				    keys, 1, &r) == SO_OK)
			check(&r);
	}
	return 0;
}
