/* Signature checks: cosign simple signing and Sigstore bundles (DSSE and messageSignature) with ECDSA P-256,
 * P-384, RSA and Ed25519 keys made at test time; wrong keys, tampered payloads, other digests, malformed input,
 * attestations, key parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "support/sigfixture.h"
#include "operator/base/err.h"
#include "webhook/verify/sigcheck.h"

#define D_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define D_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SIGN_PRED "https://sigstore.dev/cosign/sign/v1"

struct fx {
	EVP_PKEY *trusted, *other;
	struct sig_key keys[2];
};

/* A key pair of the given type, loaded back through sigcheck_key_from_pem as the policy loads it. */
static EVP_PKEY *trusted_copy(EVP_PKEY *k)
{
	char *pem = fx_pubpem(k), err[256] = "";
	EVP_PKEY *pub = NULL;
	assert_int_equal(sigcheck_key_from_pem(pem, strlen(pem), &pub, err, sizeof err), SO_OK);
	free(pem);
	return pub;
}

static int setup_type(void **state, const char *type)
{
	struct fx *f = calloc(1, sizeof *f);
	f->trusted = fx_keygen(type);
	f->other = fx_keygen(type);
	f->keys[0] = (struct sig_key){ "unrelated", trusted_copy(f->other) };
	f->keys[1] = (struct sig_key){ "release", trusted_copy(f->trusted) };
	*state = f;
	return 0;
}

static int setup_ec(void **state) { return setup_type(state, "ec"); }
static int setup_ec384(void **state) { return setup_type(state, "ec384"); }
static int setup_rsa(void **state) { return setup_type(state, "rsa"); }
static int setup_ed(void **state) { return setup_type(state, "ed25519"); }

static int teardown(void **state)
{
	struct fx *f = *state;
	EVP_PKEY_free(f->trusted);
	EVP_PKEY_free(f->other);
	EVP_PKEY_free(f->keys[0].pkey);
	EVP_PKEY_free(f->keys[1].pkey);
	free(f);
	return 0;
}

static void simple(struct fx *f, EVP_PKEY *signer, const char *bound, const char *checked, struct sig_result *r)
{
	char *payload = fx_simple_payload(bound), *sig = fx_sign_b64(signer, payload, strlen(payload));
	assert_int_equal(sigcheck_simple(checked, (unsigned char *)payload, strlen(payload), sig, strlen(sig), f->keys, 2, r),
			 SO_OK);
	free(payload);
	free(sig);
}

static void simple_signing(void **state)
{
	struct fx *f = *state;
	struct sig_result r;

	simple(f, f->trusted, D_A, D_A, &r);
	assert_int_equal(r.verdict, SIG_VERIFIED);
	assert_int_equal(r.key_index, 1);

	/* Signed by a key the rule does not hold. */
	EVP_PKEY *stranger = fx_keygen("ec");
	simple(f, stranger, D_A, D_A, &r);
	assert_int_equal(r.verdict, SIG_UNTRUSTED);
	assert_int_equal(r.key_index, -1);
	EVP_PKEY_free(stranger);

	/* A trusted signature over a payload naming another digest. */
	simple(f, f->trusted, D_B, D_A, &r);
	assert_int_equal(r.verdict, SIG_WRONG_DIGEST);
	assert_string_equal(r.bound_digest, D_B);
}

static void simple_signing_tampered(void **state)
{
	struct fx *f = *state;
	struct sig_result r;
	char *payload = fx_simple_payload(D_A), *sig = fx_sign_b64(f->trusted, payload, strlen(payload));

	/* One byte of the payload changed after signing: the signature covers the exact bytes. */
	payload[strlen(payload) - 2] = ' ';
	assert_int_equal(sigcheck_simple(D_A, (unsigned char *)payload, strlen(payload), sig, strlen(sig), f->keys, 2, &r),
			 SO_OK);
	assert_int_equal(r.verdict, SIG_UNTRUSTED);
	/* A re-serialisation (added whitespace) is other bytes too. */
	free(payload);
	payload = fx_simple_payload(D_A);
	char *spaced = malloc(strlen(payload) + 2);
	snprintf(spaced, strlen(payload) + 2, " %s", payload);
	assert_int_equal(sigcheck_simple(D_A, (unsigned char *)spaced, strlen(spaced), sig, strlen(sig), f->keys, 2, &r),
			 SO_OK);
	assert_int_equal(r.verdict, SIG_UNTRUSTED);
	free(spaced);
	free(payload);
	free(sig);
}

static void simple_signing_claims(void **state)
{
	struct fx *f = *state;
	struct sig_result r;
	static const char *const bad[] = {
		"{\"critical\":{\"image\":{\"docker-manifest-digest\":\"" D_A "\"},\"type\":\"something else\"}}",
		"{\"critical\":{\"image\":{},\"type\":\"cosign container image signature\"}}",
		"{\"critical\":\"x\"}",
		"not json",
		/* Duplicate keys could make two readers disagree: refused. */
		"{\"critical\":{\"image\":{\"docker-manifest-digest\":\"" D_B "\",\"docker-manifest-digest\":\"" D_A
		"\"},\"type\":\"cosign container image signature\"}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *sig = fx_sign_b64(f->trusted, bad[i], strlen(bad[i]));
		assert_int_equal(sigcheck_simple(D_A, (const unsigned char *)bad[i], strlen(bad[i]), sig, strlen(sig), f->keys,
						 2, &r),
				 SO_OK);
		assert_int_equal(r.verdict, SIG_MALFORMED);
		assert_int_equal(r.key_index, 1); /* signed by the trusted key, but not an acceptable claim */
		assert_true(strlen(r.detail) > 0);
		free(sig);
	}
	/* Untrusted payloads are never read: an unsigned claim is just untrusted. */
	assert_int_equal(sigcheck_simple(D_A, (const unsigned char *)"{}", 2, "AAAA", 4, f->keys, 2, &r), SO_OK);
	assert_int_equal(r.verdict, SIG_UNTRUSTED);
	/* Missing or broken signature annotations. */
	assert_int_equal(sigcheck_simple(D_A, (const unsigned char *)"{}", 2, NULL, 0, f->keys, 2, &r), SO_OK);
	assert_int_equal(r.verdict, SIG_MALFORMED);
	assert_int_equal(sigcheck_simple(D_A, (const unsigned char *)"{}", 2, "!!!", 3, f->keys, 2, &r), SO_OK);
	assert_int_equal(r.verdict, SIG_MALFORMED);
	/* The image digest itself must be well formed. */
	assert_int_equal(sigcheck_simple("sha256:abc", (const unsigned char *)"{}", 2, "AAAA", 4, f->keys, 2, &r), SO_OK);
	assert_int_equal(r.verdict, SIG_MALFORMED);
}

static void bundle_dsse(void **state)
{
	struct fx *f = *state;
	struct sig_result r;
	char *b = fx_bundle_dsse(f->trusted, D_A, SIGN_PRED);

	assert_int_equal(sigcheck_bundle(D_A, b, strlen(b), f->keys, 2, &r), SO_OK);
	assert_int_equal(r.verdict, SIG_VERIFIED);
	assert_int_equal(r.key_index, 1);
	/* The same bundle checked for another image: bound elsewhere. */
	assert_int_equal(sigcheck_bundle(D_B, b, strlen(b), f->keys, 2, &r), SO_OK);
	assert_int_equal(r.verdict, SIG_WRONG_DIGEST);
	assert_string_equal(r.bound_digest, D_A);
	/* Only the untrusted key in the rule. */
	assert_int_equal(sigcheck_bundle(D_A, b, strlen(b), f->keys, 1, &r), SO_OK);
	assert_int_equal(r.verdict, SIG_UNTRUSTED);
	free(b);

	/* An attestation signed with the trusted key is not a signature. */
	b = fx_bundle_dsse(f->trusted, D_A, "https://spdx.dev/Document");
	assert_int_equal(sigcheck_bundle(D_A, b, strlen(b), f->keys, 2, &r), SO_OK);
	assert_int_equal(r.verdict, SIG_MALFORMED);
	assert_non_null(strstr(r.detail, "attestation"));
	free(b);
}

static void bundle_message_signature(void **state)
{
	struct fx *f = *state;
	struct sig_result r;
	if (EVP_PKEY_get_base_id(f->trusted) == EVP_PKEY_ED25519) {
		/* Ed25519 signs no pre-hashed digest (cosign refuses it): an Ed25519 signature over the 32 digest
		 * bytes, which the trusted key does verify as a plain message, must not verify a messageSignature */
		unsigned char md[32];
		memset(md, 0xaa, sizeof md); /* D_A's bytes */
		char *d64 = fx_b64(md, sizeof md), *s64 = fx_sign_b64(f->trusted, md, sizeof md), b[1024];
		snprintf(b, sizeof b,
			 "{\"mediaType\":\"application/vnd.dev.sigstore.bundle+json;version=0.2\",\"verificationMaterial\":"
			 "{\"publicKey\":{\"hint\":\"abc\"}},\"messageSignature\":{\"messageDigest\":{\"algorithm\":"
			 "\"SHA2_256\",\"digest\":\"%s\"},\"signature\":\"%s\"}}",
			 d64, s64);
		assert_int_equal(sigcheck_bundle(D_A, b, strlen(b), f->keys, 2, &r), SO_OK);
		assert_int_equal(r.verdict, SIG_UNTRUSTED);
		free(d64);
		free(s64);
		return;
	}
	char *b = fx_bundle_message(f->trusted, D_A);
	assert_int_equal(sigcheck_bundle(D_A, b, strlen(b), f->keys, 2, &r), SO_OK);
	assert_int_equal(r.verdict, SIG_VERIFIED);
	assert_int_equal(sigcheck_bundle(D_B, b, strlen(b), f->keys, 2, &r), SO_OK);
	assert_int_equal(r.verdict, SIG_WRONG_DIGEST);
	assert_string_equal(r.bound_digest, D_A);
	free(b);
}

static void bundle_malformed(void **state)
{
	struct fx *f = *state;
	struct sig_result r;
	static const char *const bad[] = {
		"",
		"[]",
		"{\"mediaType\":\"application/json\"}",
		"{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\"}",
		"{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"dsseEnvelope\":{\"payloadType\":"
		"\"text/plain\",\"payload\":\"e30=\",\"signatures\":[{\"sig\":\"AAAA\"}]}}",
		/* two signatures: MUST be rejected */
		"{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"dsseEnvelope\":{\"payloadType\":"
		"\"application/vnd.in-toto+json\",\"payload\":\"e30=\",\"signatures\":[{\"sig\":\"AAAA\"},{\"sig\":\"AAAA\"}]}}",
		"{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"dsseEnvelope\":{\"payloadType\":"
		"\"application/vnd.in-toto+json\",\"payload\":\"%%%\",\"signatures\":[{\"sig\":\"AAAA\"}]}}",
		"{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"messageSignature\":{\"messageDigest\":"
		"{\"algorithm\":\"SHA2_512\",\"digest\":\"AAAA\"},\"signature\":\"AAAA\"}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(sigcheck_bundle(D_A, bad[i], strlen(bad[i]), f->keys, 2, &r), SO_OK);
		assert_int_equal(r.verdict, SIG_MALFORMED);
	}
	/* A well-formed envelope with a signature no key makes. */
	static const char untrusted[] =
		"{\"mediaType\":\"application/vnd.dev.sigstore.bundle+json;version=0.1\",\"dsseEnvelope\":{\"payloadType\":"
		"\"application/vnd.in-toto+json\",\"payload\":\"e30=\",\"signatures\":[{\"sig\":\"AAAA\"}]}}";
	assert_int_equal(sigcheck_bundle(D_A, untrusted, strlen(untrusted), f->keys, 2, &r), SO_OK);
	assert_int_equal(r.verdict, SIG_UNTRUSTED);
}

/* The hash goes with the curve: P-384 signs with SHA-384 and P-521 with SHA-512 in sigstore today, every key
 * with SHA-256 in older cosign; both verify, another hash does not. */
static void ecdsa_hash_per_curve(void **state)
{
	static const struct {
		const char *type;
		const EVP_MD *(*md)(void);
		int ok;
	} cases[] = {
		{ "ec384", EVP_sha384, 1 }, { "ec384", EVP_sha256, 1 }, { "ec384", EVP_sha512, 0 },
		{ "ec521", EVP_sha512, 1 }, { "ec521", EVP_sha256, 1 }, { "ec521", EVP_sha384, 0 },
		{ "ec", EVP_sha256, 1 },    { "ec", EVP_sha384, 0 },    { "rsa", EVP_sha512, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		EVP_PKEY *k = fx_keygen(cases[i].type);
		struct sig_key key = { "release", trusted_copy(k) };
		char *payload = fx_simple_payload(D_A);
		char *sig = fx_sign_b64_md(k, cases[i].md(), payload, strlen(payload));
		struct sig_result r;
		assert_int_equal(sigcheck_simple(D_A, (unsigned char *)payload, strlen(payload), sig, strlen(sig), &key, 1,
						 &r),
				 SO_OK);
		if ((r.verdict == SIG_VERIFIED) != cases[i].ok)
			fail_msg("%s key, %s signature: verdict %d", cases[i].type, EVP_MD_get0_name(cases[i].md()),
				 (int)r.verdict);
		free(payload);
		free(sig);
		EVP_PKEY_free(key.pkey);
		EVP_PKEY_free(k);
	}
}

static void key_parsing(void **state)
{
	(void)state;
	EVP_PKEY *k = NULL;
	char err[256] = "";

	assert_int_equal(sigcheck_key_from_pem("nonsense", 8, &k, err, sizeof err), SO_E_INVAL);
	assert_non_null(strstr(err, "PUBLIC KEY"));
	assert_null(k);

	/* A private key pasted by mistake is named as such, and never parsed. */
	EVP_PKEY *priv = fx_keygen("ec");
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	PEM_write_bio_PrivateKey(b, priv, NULL, NULL, 0, NULL, NULL);
	long n = BIO_get_mem_data(b, &p);
	assert_int_equal(sigcheck_key_from_pem(p, (size_t)n, &k, err, sizeof err), SO_E_INVAL);
	assert_non_null(strstr(err, "private key"));
	BIO_free(b);
	EVP_PKEY_free(priv);

	/* RSA below 2048 bits is refused. */
	EVP_PKEY *small = EVP_RSA_gen(1024);
	char *pem = fx_pubpem(small);
	assert_int_equal(sigcheck_key_from_pem(pem, strlen(pem), &k, err, sizeof err), SO_E_INVAL);
	assert_non_null(strstr(err, "1024"));
	free(pem);
	EVP_PKEY_free(small);

	/* P-521 is accepted; a curve other than P-256/P-384/P-521 is not. */
	EVP_PKEY *k521 = fx_keygen("ec521");
	pem = fx_pubpem(k521);
	assert_int_equal(sigcheck_key_from_pem(pem, strlen(pem), &k, err, sizeof err), SO_OK);
	EVP_PKEY_free(k);
	k = NULL;
	free(pem);
	EVP_PKEY_free(k521);
	EVP_PKEY *k1 = EVP_EC_gen("secp256k1");
	pem = fx_pubpem(k1);
	assert_int_equal(sigcheck_key_from_pem(pem, strlen(pem), &k, err, sizeof err), SO_E_INVAL);
	assert_non_null(strstr(err, "secp256k1"));
	free(pem);
	EVP_PKEY_free(k1);
}

static void base64(void **state)
{
	(void)state;
	unsigned char *out;
	size_t n;
	assert_int_equal(sigcheck_b64_decode("aGk=", 4, &out, &n), SO_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "hi", 2);
	free(out);
	assert_int_equal(sigcheck_b64_decode(" aGVsbG8= \n", 11, &out, &n), SO_OK);
	assert_int_equal(n, 5);
	free(out);
	assert_int_equal(sigcheck_b64_decode("aGk", 3, &out, &n), SO_E_INVAL);
	assert_int_equal(sigcheck_b64_decode("aG k=", 5, &out, &n), SO_E_INVAL);
	assert_int_equal(sigcheck_b64_decode("", 0, &out, &n), SO_E_INVAL);
	assert_int_equal(sigcheck_b64_decode("a$k=", 4, &out, &n), SO_E_INVAL);
}

#define ALL_TYPES(setup)                                                                                   \
	cmocka_unit_test_setup_teardown(simple_signing, setup, teardown),                                  \
		cmocka_unit_test_setup_teardown(simple_signing_tampered, setup, teardown),                 \
		cmocka_unit_test_setup_teardown(bundle_dsse, setup, teardown),                             \
		cmocka_unit_test_setup_teardown(bundle_message_signature, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		ALL_TYPES(setup_ec),
		ALL_TYPES(setup_ec384),
		ALL_TYPES(setup_rsa),
		ALL_TYPES(setup_ed),
		cmocka_unit_test_setup_teardown(simple_signing_claims, setup_ec, teardown),
		cmocka_unit_test_setup_teardown(bundle_malformed, setup_ec, teardown),
		cmocka_unit_test(key_parsing), cmocka_unit_test(ecdsa_hash_per_curve),
		cmocka_unit_test(base64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
