#include "sigfixture.h"

#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/verify/ocimanifest.h"
#include "webhook/verify/registry.h"

static void die(const char *what)
{
	fprintf(stderr, "sigfixture: %s failed\n", what);
	abort();
}

EVP_PKEY *fx_keygen(const char *type)
{
	EVP_PKEY *k = NULL;
	if (!strcmp(type, "ec"))
		k = EVP_EC_gen("P-256");
	else if (!strcmp(type, "ec384"))
		k = EVP_EC_gen("P-384");
	else if (!strcmp(type, "ec521"))
		k = EVP_EC_gen("P-521");
	else if (!strcmp(type, "rsa"))
		k = EVP_RSA_gen(2048);
	else if (!strcmp(type, "ed25519"))
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k)
		die("keygen");
	return k;
}

char *fx_pubpem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;
	if (!b || PEM_write_bio_PUBKEY(b, k) != 1)
		die("PEM_write_bio_PUBKEY");
	n = BIO_get_mem_data(b, &p);
	out = malloc((size_t)n + 1);
	if (!out)
		die("malloc");
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	BIO_free(b);
	return out;
}

char *fx_b64(const void *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (!out)
		die("malloc");
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

char *fx_sign_b64(EVP_PKEY *k, const void *msg, size_t n)
{
	return fx_sign_b64_md(k, EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? NULL : EVP_sha256(), msg, n);
}

char *fx_sign_b64_md(EVP_PKEY *k, const EVP_MD *md, const void *msg, size_t n)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t siglen = sizeof sig;
	if (!ctx || EVP_DigestSignInit(ctx, NULL, md, NULL, k) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, msg, n) != 1)
		die("EVP_DigestSign");
	EVP_MD_CTX_free(ctx);
	return fx_b64(sig, siglen);
}

void fx_digest(const void *p, size_t n, char out[72])
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static char *printf_alloc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *printf_alloc(const char *fmt, ...)
{
	va_list ap;
	char *out;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	out = malloc((size_t)n + 1);
	if (!out)
		die("malloc");
	va_start(ap, fmt);
	vsnprintf(out, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return out;
}

char *fx_simple_payload(const char *digest)
{
	return printf_alloc("{\"critical\":{\"identity\":{\"docker-reference\":\"127.0.0.1:5000/spin/app\"},"
			    "\"image\":{\"docker-manifest-digest\":\"%s\"},\"type\":\"cosign container image "
			    "signature\"},\"optional\":null}",
			    digest);
}

char *fx_bundle_dsse(EVP_PKEY *k, const char *digest, const char *predicate_type)
{
	const char *type = "application/vnd.in-toto+json";
	char *stmt = printf_alloc("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":"
				  "\"127.0.0.1:5000/spin/app\",\"digest\":{\"sha256\":\"%s\"}}],\"predicateType\":\"%s\","
				  "\"predicate\":{}}",
				  digest + 7, predicate_type);
	char *pae = printf_alloc("DSSEv1 %zu %s %zu %s", strlen(type), type, strlen(stmt), stmt);
	char *sig = fx_sign_b64(k, pae, strlen(pae));
	char *payload = fx_b64(stmt, strlen(stmt));
	char *out = printf_alloc("{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\","
				 "\"verificationMaterial\":{\"publicKey\":{\"hint\":\"abc\"},\"tlogEntries\":[]},"
				 "\"dsseEnvelope\":{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":"
				 "\"%s\"}]}}",
				 payload, type, sig);
	free(stmt);
	free(pae);
	free(sig);
	free(payload);
	return out;
}

char *fx_bundle_message(EVP_PKEY *k, const char *digest)
{
	unsigned char md[32];
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
	unsigned char sig[1024];
	size_t siglen = sizeof sig;
	for (int i = 0; i < 32; i++) {
		unsigned v;
		sscanf(digest + 7 + 2 * i, "%2x", &v);
		md[i] = (unsigned char)v;
	}
	if (!ctx || EVP_PKEY_sign_init(ctx) != 1 || EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_sign(ctx, sig, &siglen, md, 32) != 1)
		die("EVP_PKEY_sign");
	EVP_PKEY_CTX_free(ctx);
	char *d64 = fx_b64(md, 32), *s64 = fx_b64(sig, siglen);
	char *out = printf_alloc("{\"mediaType\":\"application/vnd.dev.sigstore.bundle+json;version=0.2\","
				 "\"verificationMaterial\":{\"publicKey\":{\"hint\":\"abc\"}},\"messageSignature\":"
				 "{\"messageDigest\":{\"algorithm\":\"SHA2_256\",\"digest\":\"%s\"},\"signature\":\"%s\"}}",
				 d64, s64);
	free(d64);
	free(s64);
	return out;
}

/* ---- artifacts in a registry ---- */

void fx_put_digest(fx_put_fn put, const char *repo, const char *tag, const char *mt, const char *body, char d[72])
{
	fx_digest(body, strlen(body), d);
	put(repo, d, mt, body);
	if (tag)
		put(repo, tag, mt, body);
}

void fx_push_app(fx_put_fn put, const char *repo, const char *tag, const char *salt, char d[72])
{
	char body[1024];
	snprintf(body, sizeof body,
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":"
		 "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:%064d\",\"size\":2},\"layers\":[{"
		 "\"mediaType\":\"application/vnd.fermyon.spin.application.v1+config\",\"digest\":\"sha256:%064d\","
		 "\"size\":10}],\"annotations\":{\"salt\":\"%s\"}}",
		 1, 2, salt);
	fx_put_digest(put, repo, tag, MT_OCI_MANIFEST, body, d);
}

void fx_sign_classic(fx_put_fn put, const char *repo, const char *d, EVP_PKEY *key, const char *bound)
{
	char *payload = fx_simple_payload(bound), *sig = fx_sign_b64(key, payload, strlen(payload));
	char pd[72], md[72], tag[80], body[2048];
	fx_put_digest(put, repo, NULL, "", payload, pd);
	snprintf(body, sizeof body,
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":"
		 "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":2},\"layers\":[{\"mediaType\":"
		 "\"" MT_SIMPLE_SIGNING "\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"" OCI_SIGNATURE_ANNOTATION
		 "\":\"%s\"}}]}",
		 pd, pd, strlen(payload), sig);
	snprintf(tag, sizeof tag, "sha256-%s.sig", d + 7);
	fx_put_digest(put, repo, tag, MT_OCI_MANIFEST, body, md);
	free(payload);
	free(sig);
}

void fx_sign_bundle(fx_put_fn put, const char *repo, const char *d, EVP_PKEY *key, const char *bound)
{
	char *bundle = fx_bundle_dsse(key, bound, "https://sigstore.dev/cosign/sign/v1");
	const char *bt = "application/vnd.dev.sigstore.bundle.v0.3+json";
	char bd[72], rd[72], tag[80], body[2048];
	fx_put_digest(put, repo, NULL, "", bundle, bd);
	snprintf(body, sizeof body,
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"artifactType\":\"%s\",\"config\":{"
		 "\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e"
		 "94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
		 "\"size\":%zu}],\"subject\":{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":1}}",
		 bt, bt, bd, strlen(bundle), d);
	fx_put_digest(put, repo, NULL, MT_OCI_MANIFEST, body, rd);
	snprintf(body, sizeof body,
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST
		 "\",\"artifactType\":\"application/spdx+json\",\"digest\":\"sha256:%064d\",\"size\":5},{\"mediaType\":\""
		 MT_OCI_MANIFEST "\",\"artifactType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
		 7, bt, rd, strlen(body));
	snprintf(tag, sizeof tag, "sha256-%s", d + 7);
	put(repo, tag, MT_OCI_INDEX, body);
	free(bundle);
}

void fx_fprint_indented(FILE *f, const char *text, const char *indent)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(f, "%s%.*s\n", indent, (int)n, p);
		p += n + (nl != NULL);
	}
}
