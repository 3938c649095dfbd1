#include "operator/base/selfcert.h"

#include <arpa/inet.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "operator/base/mem.h"

void selfcert_pem_free(struct selfcert_pem *p)
{
	if (!p)
		return;
	free(p->cert);
	free(p->key);
	memset(p, 0, sizeof *p);
}

/* ---- reading ---- */

/* The first certificate of a PEM text (caller frees), or NULL. */
static X509 *read_cert(const char *pem, size_t len)
{
	if (!pem || !len || len > INT_MAX)
		return NULL;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return x;
}

static EVP_PKEY *read_key(const char *pem, size_t len)
{
	if (!pem || !len || len > INT_MAX)
		return NULL;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return k;
}

/* Every certificate of a PEM bundle (caller frees with sk_X509_pop_free), or NULL when none parses. */
static STACK_OF(X509) *read_all(const char *pem, size_t len)
{
	STACK_OF(X509) *sk = NULL;
	BIO *b = NULL;
	X509 *x;
	if (!pem || !len || len > INT_MAX)
		return NULL;
	if (!(b = BIO_new_mem_buf(pem, (int)len)))
		goto out;
	sk = sk_X509_new_null();
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		sk_X509_push(sk, x);
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		sk = NULL;
	}
out:
	ERR_clear_error(); /* the read that ends the loop leaves a "no start line" error behind */
	BIO_free(b);
	return sk;
}

static int asn1_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return SO_E_INVAL;
	*out = timegm(&tm);
	return SO_OK;
}

/* Copies a memory BIO's contents into an allocated, NUL-terminated string. */
static int bio_take(BIO *b, char **out, size_t *len)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	if (n <= 0)
		return SO_E_INVAL;
	*out = mem_alloc((size_t)n + 1);
	memcpy(*out, data, (size_t)n);
	(*out)[n] = '\0';
	*len = (size_t)n;
	return SO_OK;
}

int selfcert_inspect(const char *pem, size_t len, struct selfcert_info *out)
{
	X509 *x = read_cert(pem, len);
	int rc = SO_E_INVAL;
	memset(out, 0, sizeof *out);
	if (!x)
		goto out;
	if (asn1_time(X509_get0_notBefore(x), &out->not_before) || asn1_time(X509_get0_notAfter(x), &out->not_after))
		goto out;
	out->is_ca = X509_check_ca(x) == 1;
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	if (hex)
		snprintf(out->serial, sizeof out->serial, "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
	rc = SO_OK;
out:
	X509_free(x);
	ERR_clear_error();
	return rc;
}

size_t selfcert_count(const char *pem, size_t len)
{
	STACK_OF(X509) *sk = read_all(pem, len);
	size_t n = sk ? (size_t)sk_X509_num(sk) : 0;
	sk_X509_pop_free(sk, X509_free);
	return n;
}

int selfcert_nth(const char *pem, size_t len, size_t index, char **out, size_t *out_len)
{
	STACK_OF(X509) *sk = read_all(pem, len);
	BIO *b = NULL;
	int rc = SO_E_INVAL;
	*out = NULL;
	*out_len = 0;
	if (!sk || index >= (size_t)sk_X509_num(sk))
		goto out;
	b = BIO_new(BIO_s_mem());
	if (!PEM_write_bio_X509(b, sk_X509_value(sk, (int)index)))
		goto out;
	rc = bio_take(b, out, out_len);
out:
	BIO_free(b);
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

int selfcert_key_matches(const char *cert, size_t cert_len, const char *key, size_t key_len)
{
	X509 *x = read_cert(cert, cert_len);
	EVP_PKEY *k = read_key(key, key_len);
	/* X509_check_private_key compares only the public halves, and a PKCS#8 key carries its public key
	 * beside the private one: a corrupted private part would pass it and sign nothing the certificate
	 * verifies. The pairwise check recomputes the public key from the private one. */
	EVP_PKEY_CTX *c = k ? EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL) : NULL;
	int ok = x && c && X509_check_private_key(x, k) == 1 && EVP_PKEY_pairwise_check(c) == 1;
	EVP_PKEY_CTX_free(c);
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return ok;
}

int selfcert_signed_by(const char *leaf, size_t leaf_len, const char *ca, size_t ca_len)
{
	X509 *l = read_cert(leaf, leaf_len), *c = read_cert(ca, ca_len);
	int ok = l && c && X509_check_issued(c, l) == X509_V_OK && X509_verify(l, X509_get0_pubkey(c)) == 1;
	X509_free(l);
	X509_free(c);
	ERR_clear_error();
	return ok;
}

static int is_ip(const char *s)
{
	unsigned char a[16];
	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

int selfcert_valid_san(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 253)
		return 0;
	if (is_ip(s))
		return 1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
	}
	return s[0] != '.' && s[0] != '-' && s[n - 1] != '.' && s[n - 1] != '-';
}

int selfcert_covers(const char *leaf, size_t leaf_len, const char *const *sans, size_t nsans)
{
	X509 *x = read_cert(leaf, leaf_len);
	int ok = x != NULL;
	for (size_t i = 0; ok && i < nsans; i++) {
		if (is_ip(sans[i]))
			ok = X509_check_ip_asc(x, sans[i], 0) == 1;
		else
			ok = X509_check_host(x, sans[i], strlen(sans[i]), X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
	}
	X509_free(x);
	ERR_clear_error();
	return ok;
}

/* ---- making ---- */

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	int ok = e && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? SO_OK : SO_E_INVAL;
}

static int add_sans(X509 *x, const char *const *sans, size_t nsans)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int rc = SO_E_INVAL;
	for (size_t i = 0; i < nsans; i++) {
		/* a2i_GENERAL_NAME turns an IP text into its octets itself; the name was checked by the caller. */
		GENERAL_NAME *gn = a2i_GENERAL_NAME(NULL, NULL, NULL, is_ip(sans[i]) ? GEN_IPADD : GEN_DNS,
						    sans[i], 0);
		if (!gn)
			goto out;
		sk_GENERAL_NAME_push(gens, gn);
	}
	rc = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1 ? SO_OK : SO_E_INVAL;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

/* A certificate shell: v3, random positive 128-bit serial, subject CN, validity, public key. */
static X509 *new_cert(const char *cn, EVP_PKEY *key, time_t now, long validity_s, time_t cap_not_after)
{
	X509 *x = X509_new();
	BIGNUM *bn = BN_new();
	unsigned char serial[16];
	long backdate = validity_s / 10 < SELFCERT_BACKDATE_S ? validity_s / 10 : SELFCERT_BACKDATE_S;
	time_t not_after = now + (time_t)validity_s;
	int ok = 0;

	if (cap_not_after && not_after > cap_not_after)
		not_after = cap_not_after;
	if (RAND_bytes(serial, sizeof serial) != 1)
		goto out;
	serial[0] &= 0x7f; /* positive */
	serial[0] |= 0x40; /* and never shorter than 16 bytes */
	X509_NAME *name = X509_get_subject_name(x);
	X509_set_version(x, 2);
	BN_bin2bn(serial, sizeof serial, bn);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	ok = ASN1_TIME_set(X509_getm_notBefore(x), now - (time_t)backdate) &&
	     ASN1_TIME_set(X509_getm_notAfter(x), not_after) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) &&
	     X509_set_pubkey(x, key);
out:
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* SO_E_CONFIG naming OpenSSL's last error (a generator, signer or encoder refused: e.g. a provider lacks P-256). */
static int openssl_fail(char *err, size_t errlen, const char *what)
{
	char why[256];
	ERR_error_string_n(ERR_peek_last_error(), why, sizeof why);
	return so_fail(err, errlen, SO_E_CONFIG, "cannot make the %s: OpenSSL: %s", what, why);
}

static int write_pem(X509 *x, EVP_PKEY *key, struct selfcert_pem *out)
{
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	int rc = SO_E_CONFIG; /* an encoder's failure, reported like the other OpenSSL ones of selfcert_make_* */
	if (!PEM_write_bio_X509(cb, x) || !PEM_write_bio_PKCS8PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL))
		goto out;
	if ((rc = bio_take(cb, &out->cert, &out->cert_len)) || (rc = bio_take(kb, &out->key, &out->key_len)))
		selfcert_pem_free(out);
out:
	BIO_free(cb);
	BIO_free(kb);
	return rc;
}

int selfcert_make_ca(const char *common_name, long validity_s, time_t now, struct selfcert_pem *out, char *err,
		     size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	if (validity_s <= 0 || !common_name || !*common_name) {
		rc = so_fail(err, errlen, SO_E_INVAL, "a CA needs a name and a positive validity");
		goto out;
	}
	rc = SO_E_CONFIG;
	if (!(key = EVP_EC_gen("P-256")) || !(x = new_cert(common_name, key, now, validity_s, 0)))
		goto out;
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") || !X509_sign(x, key, EVP_sha256()))
		goto out;
	rc = write_pem(x, key, out);
out:
	if (rc == SO_E_CONFIG)
		openssl_fail(err, errlen, "CA");
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

int selfcert_make_serving(const struct selfcert_pem *ca, const char *const *sans, size_t nsans, long validity_s,
			  time_t now, struct selfcert_pem *out, char *err, size_t errlen)
{
	X509 *cax = NULL, *x = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	time_t ca_not_after = 0;
	int rc;

	memset(out, 0, sizeof *out);
	if (validity_s <= 0 || nsans == 0 || nsans > SELFCERT_MAX_SANS) {
		rc = so_fail(err, errlen, SO_E_INVAL, "a serving certificate needs 1 to %d SANs and a positive validity",
			     SELFCERT_MAX_SANS);
		goto out;
	}
	for (size_t i = 0; i < nsans; i++) {
		if (!selfcert_valid_san(sans[i])) {
			rc = so_fail(err, errlen, SO_E_INVAL, "\"%s\" is neither an IP address nor a DNS name", sans[i]);
			goto out;
		}
	}
	cax = read_cert(ca->cert, ca->cert_len);
	cakey = read_key(ca->key, ca->key_len);
	if (!cax || !cakey || X509_check_private_key(cax, cakey) != 1 ||
	    asn1_time(X509_get0_notAfter(cax), &ca_not_after)) {
		rc = so_fail(err, errlen, SO_E_INVAL, "the CA certificate or key does not parse, or they do not match");
		goto out;
	}
	rc = SO_E_CONFIG;
	if (!(key = EVP_EC_gen("P-256")) || !(x = new_cert(sans[0], key, now, validity_s, ca_not_after)))
		goto out;
	X509_set_issuer_name(x, X509_get_subject_name(cax));
	if (add_ext(x, cax, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(x, cax, NID_key_usage, "critical,digitalSignature") ||
	    add_ext(x, cax, NID_ext_key_usage, "serverAuth") || add_ext(x, cax, NID_subject_key_identifier, "hash") ||
	    add_ext(x, cax, NID_authority_key_identifier, "keyid:always") || add_sans(x, sans, nsans) ||
	    !X509_sign(x, cakey, EVP_sha256()))
		goto out;
	rc = write_pem(x, key, out);
out:
	if (rc == SO_E_CONFIG)
		openssl_fail(err, errlen, "serving certificate");
	X509_free(cax);
	X509_free(x);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

time_t selfcert_issued_at(const struct selfcert_info *i)
{
	/* notAfter - notBefore = validity + backdate, and backdate = min(SELFCERT_BACKDATE_S, validity / 10). */
	time_t total = i->not_after - i->not_before;
	if (total >= 11 * (time_t)SELFCERT_BACKDATE_S)
		return i->not_before + SELFCERT_BACKDATE_S;
	return i->not_before + total / 11;
}
