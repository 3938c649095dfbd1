/*
 * operator/base/selfcert.c (certificates made and read with OpenSSL) and webhook/certs/certplan.c (the renewal rules of
 * the self-managed mode), with the clock as a parameter: a CA and a serving certificate are made and checked
 * (SANs, key usage, signature, lifetimes, backdating), then the rules are walked through time: nothing due,
 * the serving certificate due at 2/3 of its lifetime, the CA due (kept second in ca.crt, the serving
 * certificate switched to the new CA only after the delay), an expired old CA dropped, broken inputs
 * replaced, a SAN change, and the openssl CLI's view of what is made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "operator/base/err.h"
#include "webhook/certs/certplan.h"
#include "operator/base/selfcert.h"

#define T0 ((time_t)1800000000) /* 2027-01-15 */
#define DAY (24L * 3600)

static const char *const SANS[] = { "svc.ns.svc", "svc.ns.svc.cluster.local", "svc.ns", "svc", "127.0.0.1" };
#define NSANS (sizeof SANS / sizeof SANS[0])

static struct certplan_opts plan_opts(void)
{
	struct certplan_opts o = { .ca_name = "test CA", .sans = SANS, .nsans = NSANS, .ca_validity_s = 3650 * DAY,
				   .cert_validity_s = 365 * DAY, .ca_switch_delay_s = 60 };
	return o;
}

static void make_ca(struct selfcert_pem *ca, time_t now, long validity)
{
	char err[256] = "";
	assert_int_equal(selfcert_make_ca("test CA", validity, now, ca, err, sizeof err), SO_OK);
}

/* key (PKCS#8 PEM of P-256) with one bit of the private scalar flipped and its embedded public key left as it
 * was: the public halves still match the certificate, the pair does not (malloc'd). */
static char *corrupt_private_part(const char *key, size_t key_len, size_t *out_len)
{
	BIO *in = BIO_new_mem_buf(key, (int)key_len), *out = BIO_new(BIO_s_mem());
	char *name = NULL, *header = NULL, *pem = NULL;
	unsigned char *der = NULL;
	long der_len = 0;
	assert_int_equal(PEM_read_bio(in, &name, &header, &der, &der_len), 1);
	/* ECPrivateKey: INTEGER 1, OCTET STRING of 32 bytes (the scalar) */
	static const unsigned char scalar_tag[] = { 0x02, 0x01, 0x01, 0x04, 0x20 };
	long at = 0;
	while (at + (long)sizeof scalar_tag + 32 <= der_len && memcmp(der + at, scalar_tag, sizeof scalar_tag))
		at++;
	assert_true(at + (long)sizeof scalar_tag + 32 <= der_len);
	der[at + (long)sizeof scalar_tag + 31] ^= 1;
	assert_int_equal(PEM_write_bio(out, name, header, der, der_len) > 0, 1);
	char *data;
	*out_len = (size_t)BIO_get_mem_data(out, &data);
	pem = strndup(data, *out_len);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(in);
	BIO_free(out);
	return pem;
}

static void test_ca(void **state)
{
	(void)state;
	struct selfcert_pem ca;
	struct selfcert_info i;
	make_ca(&ca, T0, 3650 * DAY);
	assert_non_null(strstr(ca.cert, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(ca.key, "-----BEGIN PRIVATE KEY-----")); /* PKCS#8, unencrypted */
	assert_int_equal(selfcert_inspect(ca.cert, ca.cert_len, &i), SO_OK);
	assert_true(i.is_ca);
	assert_int_equal(i.not_before, T0 - SELFCERT_BACKDATE_S);
	assert_int_equal(i.not_after, T0 + 3650 * DAY);
	assert_int_equal(selfcert_issued_at(&i), T0);
	assert_int_equal(strlen(i.serial), 32); /* 128 random bits, never shorter */
	assert_true(selfcert_key_matches(ca.cert, ca.cert_len, ca.key, ca.key_len));
	assert_true(selfcert_signed_by(ca.cert, ca.cert_len, ca.cert, ca.cert_len)); /* self-signed */
	assert_int_equal(selfcert_count(ca.cert, ca.cert_len), 1);

	/* a short lifetime is backdated by a tenth of it only */
	struct selfcert_pem s;
	make_ca(&s, T0, 30);
	assert_int_equal(selfcert_inspect(s.cert, s.cert_len, &i), SO_OK);
	assert_int_equal(i.not_before, T0 - 3);
	assert_int_equal(selfcert_issued_at(&i), T0);
	assert_false(selfcert_key_matches(ca.cert, ca.cert_len, s.key, s.key_len));
	/* the public halves match but the private part was corrupted: it signs nothing the certificate verifies */
	size_t corrupt_len;
	char *corrupt = corrupt_private_part(ca.key, ca.key_len, &corrupt_len);
	assert_false(selfcert_key_matches(ca.cert, ca.cert_len, corrupt, corrupt_len));
	free(corrupt);
	selfcert_pem_free(&s);
	selfcert_pem_free(&ca);

	char err[256] = "";
	assert_int_equal(selfcert_make_ca("x", 0, T0, &s, err, sizeof err), SO_E_INVAL);
	assert_non_null(strstr(err, "positive validity"));
}

static void test_serving(void **state)
{
	(void)state;
	struct selfcert_pem ca, leaf, other;
	struct selfcert_info i;
	char err[256] = "";
	make_ca(&ca, T0, 3650 * DAY);
	make_ca(&other, T0, 3650 * DAY);
	assert_int_equal(selfcert_make_serving(&ca, SANS, NSANS, 365 * DAY, T0, &leaf, err, sizeof err), SO_OK);
	assert_int_equal(selfcert_inspect(leaf.cert, leaf.cert_len, &i), SO_OK);
	assert_false(i.is_ca);
	assert_int_equal(i.not_after, T0 + 365 * DAY);
	assert_true(selfcert_key_matches(leaf.cert, leaf.cert_len, leaf.key, leaf.key_len));
	assert_true(selfcert_signed_by(leaf.cert, leaf.cert_len, ca.cert, ca.cert_len));
	assert_false(selfcert_signed_by(leaf.cert, leaf.cert_len, other.cert, other.cert_len));
	assert_true(selfcert_covers(leaf.cert, leaf.cert_len, SANS, NSANS));
	const char *more[] = { "svc.ns.svc", "other.ns.svc" }, *ip[] = { "127.0.0.2" }, *wild[] = { "x.svc" };
	assert_false(selfcert_covers(leaf.cert, leaf.cert_len, more, 2));
	assert_false(selfcert_covers(leaf.cert, leaf.cert_len, ip, 1));
	assert_false(selfcert_covers(leaf.cert, leaf.cert_len, wild, 1));
	selfcert_pem_free(&leaf);

	/* never valid past its CA */
	struct selfcert_pem short_ca;
	make_ca(&short_ca, T0, 10 * DAY);
	assert_int_equal(selfcert_make_serving(&short_ca, SANS, 1, 365 * DAY, T0, &leaf, err, sizeof err), SO_OK);
	assert_int_equal(selfcert_inspect(leaf.cert, leaf.cert_len, &i), SO_OK);
	assert_int_equal(i.not_after, T0 + 10 * DAY);
	selfcert_pem_free(&leaf);

	/* bad input */
	const char *bad[] = { "has space" }, *comma[] = { "a,DNS:b" };
	assert_int_equal(selfcert_make_serving(&ca, bad, 1, DAY, T0, &leaf, err, sizeof err), SO_E_INVAL);
	assert_non_null(strstr(err, "\"has space\" is neither"));
	assert_int_equal(selfcert_make_serving(&ca, comma, 1, DAY, T0, &leaf, err, sizeof err), SO_E_INVAL);
	assert_int_equal(selfcert_make_serving(&ca, SANS, 0, DAY, T0, &leaf, err, sizeof err), SO_E_INVAL);
	struct selfcert_pem mixed = { ca.cert, ca.cert_len, other.key, other.key_len };
	assert_int_equal(selfcert_make_serving(&mixed, SANS, 1, DAY, T0, &leaf, err, sizeof err), SO_E_INVAL);
	assert_non_null(strstr(err, "do not match"));
	assert_null(leaf.cert);
	assert_int_equal(selfcert_inspect("garbage", 7, &i), SO_E_INVAL);
	assert_int_equal(selfcert_count("garbage", 7), 0);
	assert_false(selfcert_key_matches("x", 1, "y", 1));
	assert_true(selfcert_valid_san("::1"));
	assert_true(selfcert_valid_san("a-b.c"));
	assert_false(selfcert_valid_san("-a"));
	assert_false(selfcert_valid_san("a."));
	assert_false(selfcert_valid_san(""));
	selfcert_pem_free(&short_ca);
	selfcert_pem_free(&other);
	selfcert_pem_free(&ca);
}

/* The openssl CLI agrees: the chain verifies for each SAN, with the usages a TLS server needs. */
static void test_openssl_cli(void **state)
{
	(void)state;
	struct selfcert_pem ca, leaf;
	char dir[] = "/tmp/test_selfcert.XXXXXX", cmd[2048], err[256] = "";
	assert_non_null(mkdtemp(dir));
	make_ca(&ca, time(NULL), 3650 * DAY);
	assert_int_equal(selfcert_make_serving(&ca, SANS, NSANS, 365 * DAY, time(NULL), &leaf, err, sizeof err), SO_OK);
	const struct {
		const char *name, *data;
	} files[] = { { "ca.crt", ca.cert }, { "tls.crt", leaf.cert }, { "tls.key", leaf.key } };
	for (size_t i = 0; i < 3; i++) {
		snprintf(cmd, sizeof cmd, "%s/%s", dir, files[i].name);
		FILE *f = fopen(cmd, "w");
		assert_non_null(f);
		fputs(files[i].data, f);
		fclose(f);
	}
	snprintf(cmd, sizeof cmd,
		 "cd %s && openssl verify -purpose sslserver -CAfile ca.crt -verify_hostname svc.ns.svc tls.crt >/dev/null "
		 "&& openssl verify -CAfile ca.crt -verify_ip 127.0.0.1 tls.crt >/dev/null "
		 "&& openssl verify -CAfile ca.crt -verify_hostname svc.ns.svc.cluster.local tls.crt >/dev/null "
		 "&& ! openssl verify -CAfile ca.crt -verify_hostname other.ns.svc tls.crt >/dev/null 2>&1 "
		 "&& openssl x509 -in tls.crt -noout -ext keyUsage,extendedKeyUsage,basicConstraints | "
		 "grep -q 'TLS Web Server Authentication' "
		 "&& openssl x509 -in ca.crt -noout -ext basicConstraints | grep -q 'CA:TRUE' "
		 "&& openssl pkey -in tls.key -noout -text | grep -q 'NIST CURVE: P-256'",
		 dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	selfcert_pem_free(&ca);
	selfcert_pem_free(&leaf);
}

/* ---- the rules ---- */

static struct certset plan(const struct certset *in, time_t now, int want_changed, const char *want_what,
			   long *next)
{
	struct certplan_opts o = plan_opts();
	struct certset out;
	char what[256], err[256] = "";
	int changed = -1;
	long n = -1;
	assert_int_equal(certplan_apply(in, &o, now, &out, &changed, what, sizeof what, &n, err, sizeof err), SO_OK);
	assert_int_equal(changed, want_changed);
	if (want_what)
		assert_string_equal(what, want_what);
	assert_true(n >= 0);
	if (next)
		*next = n;
	return out;
}

static char *head(const struct certset *s, size_t i, size_t *len)
{
	char *c = NULL;
	assert_int_equal(selfcert_nth(s->ca_crt, s->ca_crt_len, i, &c, len), SO_OK);
	return c;
}

static void test_plan_from_nothing(void **state)
{
	(void)state;
	struct certset empty = { 0 };
	long next;
	struct certset s = plan(&empty, T0, 1, "new CA (none yet); new serving certificate (none yet)", &next);
	assert_int_equal(selfcert_count(s.ca_crt, s.ca_crt_len), 1);
	assert_true(selfcert_key_matches(s.ca_crt, s.ca_crt_len, s.ca_key, s.ca_key_len));
	assert_true(selfcert_signed_by(s.tls_crt, s.tls_crt_len, s.ca_crt, s.ca_crt_len));
	assert_true(selfcert_covers(s.tls_crt, s.tls_crt_len, SANS, NSANS));
	assert_int_equal(next, 365 * DAY * 2 / 3); /* the serving certificate is due first */

	/* the same again: nothing to do, and an equal copy */
	struct certset again = plan(&s, T0 + 100 * DAY, 0, "", &next);
	assert_true(certset_equal(&s, &again));
	assert_int_equal(next, 365 * DAY * 2 / 3 - 100 * DAY);
	certset_free(&again);
	certset_free(&s);
}

static void test_plan_serving_renewal(void **state)
{
	(void)state;
	struct certset empty = { 0 };
	struct certset s = plan(&empty, T0, 1, NULL, NULL);
	time_t due = T0 + 365 * DAY * 2 / 3;
	struct certset before = plan(&s, due - 1, 0, "", NULL);
	struct certset after = plan(&s, due, 1, "new serving certificate (2/3 of its lifetime passed)", NULL);
	/* the CA stays; the pair is new and signed by it */
	assert_int_equal(after.ca_crt_len, s.ca_crt_len);
	assert_memory_equal(after.ca_crt, s.ca_crt, s.ca_crt_len);
	assert_memory_equal(after.ca_key, s.ca_key, s.ca_key_len);
	assert_false(after.tls_crt_len == s.tls_crt_len && !memcmp(after.tls_crt, s.tls_crt, s.tls_crt_len));
	assert_true(selfcert_signed_by(after.tls_crt, after.tls_crt_len, s.ca_crt, s.ca_crt_len));
	struct certset expired = plan(&s, T0 + 400 * DAY, 1, "new serving certificate (expired)", NULL);
	certset_free(&expired);
	certset_free(&after);
	certset_free(&before);
	certset_free(&s);
}

static void test_plan_ca_rotation(void **state)
{
	(void)state;
	struct certset empty = { 0 };
	struct certset s = plan(&empty, T0, 1, NULL, NULL);
	time_t due = T0 + 3650 * DAY * 2 / 3;
	/* a serving certificate issued shortly before keeps the old CA busy */
	free(s.tls_crt);
	free(s.tls_key);
	s.tls_crt = s.tls_key = NULL;
	struct certset fresh = plan(&s, due - DAY, 1, "new serving certificate (none yet)", NULL);

	/* phase 1: a new CA in front, the old one second, the serving certificate of the old CA kept */
	long next;
	struct certset p1 = plan(&fresh, due, 1, "new CA (2/3 of its lifetime passed)", &next);
	assert_int_equal(selfcert_count(p1.ca_crt, p1.ca_crt_len), 2);
	size_t l0, l1;
	char *c0 = head(&p1, 0, &l0), *c1 = head(&p1, 1, &l1);
	assert_true(selfcert_key_matches(c0, l0, p1.ca_key, p1.ca_key_len));
	assert_memory_equal(c1, fresh.ca_crt, fresh.ca_crt_len);
	assert_memory_equal(p1.tls_crt, fresh.tls_crt, fresh.tls_crt_len);
	assert_true(selfcert_signed_by(p1.tls_crt, p1.tls_crt_len, c1, l1));
	assert_int_equal(next, 60); /* the switch delay */

	/* before the delay: nothing; after it: a serving certificate of the new CA, both CAs still trusted */
	struct certset wait = plan(&p1, due + 59, 0, "", NULL);
	struct certset p2 = plan(&p1, due + 60, 1, "new serving certificate (signed by the previous CA)", NULL);
	assert_true(selfcert_signed_by(p2.tls_crt, p2.tls_crt_len, c0, l0));
	assert_int_equal(selfcert_count(p2.ca_crt, p2.ca_crt_len), 2);
	assert_memory_equal(p2.ca_key, p1.ca_key, p1.ca_key_len);

	/* the old CA is dropped from the bundle once it has expired (by then the serving certificate is due too) */
	struct certset p3 = plan(&p2, T0 + 3650 * DAY + 1, 1, "new serving certificate (expired)", NULL);
	assert_int_equal(selfcert_count(p3.ca_crt, p3.ca_crt_len), 1);
	assert_memory_equal(p3.ca_crt, c0, l0);
	assert_true(selfcert_signed_by(p3.tls_crt, p3.tls_crt_len, c0, l0));
	free(c0);
	free(c1);
	certset_free(&p3);
	certset_free(&p2);
	certset_free(&wait);
	certset_free(&p1);
	certset_free(&fresh);
	certset_free(&s);
}

static void test_plan_broken(void **state)
{
	(void)state;
	struct certset empty = { 0 };
	struct certset s = plan(&empty, T0, 1, NULL, NULL);

	/* a CA key that is not the CA's: a new CA, and so a new serving certificate at once */
	struct certset bad = plan(&s, T0, 0, NULL, NULL);
	struct selfcert_pem other;
	make_ca(&other, T0, DAY);
	free(bad.ca_key);
	bad.ca_key = strdup(other.key);
	bad.ca_key_len = other.key_len;
	struct certset fixed = plan(&bad, T0 + 10, 1,
				    "new CA (ca.key does not belong to ca.crt); new serving certificate (not signed by a CA "
				    "of ca.crt)",
				    NULL);
	assert_int_equal(selfcert_count(fixed.ca_crt, fixed.ca_crt_len), 1);
	assert_true(selfcert_signed_by(fixed.tls_crt, fixed.tls_crt_len, fixed.ca_crt, fixed.ca_crt_len));
	certset_free(&fixed);

	/* a CA key whose private part was corrupted (its embedded public key still the CA's) */
	certset_free(&bad);
	bad = plan(&s, T0, 0, NULL, NULL);
	free(bad.ca_key);
	bad.ca_key = corrupt_private_part(s.ca_key, s.ca_key_len, &bad.ca_key_len);
	fixed = plan(&bad, T0 + 10, 1,
		     "new CA (ca.key does not belong to ca.crt); new serving certificate (not signed by a CA of ca.crt)",
		     NULL);
	assert_true(selfcert_signed_by(fixed.tls_crt, fixed.tls_crt_len, fixed.ca_crt, fixed.ca_crt_len));
	certset_free(&fixed);

	/* garbage in tls.crt, a key that does not match */
	certset_free(&bad);
	bad = plan(&s, T0, 0, NULL, NULL);
	free(bad.tls_crt);
	bad.tls_crt = strdup("not a certificate");
	bad.tls_crt_len = strlen(bad.tls_crt);
	fixed = plan(&bad, T0, 1, "new serving certificate (tls.crt holds no certificate)", NULL);
	certset_free(&fixed);
	free(bad.tls_crt);
	bad.tls_crt = strdup(s.tls_crt);
	bad.tls_crt_len = s.tls_crt_len;
	free(bad.tls_key);
	bad.tls_key = strdup(other.key);
	bad.tls_key_len = other.key_len;
	fixed = plan(&bad, T0, 1, "new serving certificate (tls.key does not belong to tls.crt)", NULL);
	certset_free(&fixed);

	/* a SAN is added (a flag changed): the serving certificate is re-issued by the same CA */
	struct certplan_opts o = plan_opts();
	const char *more[NSANS + 1];
	memcpy(more, SANS, sizeof SANS);
	more[NSANS] = "localhost";
	o.sans = more;
	o.nsans = NSANS + 1;
	struct certset out;
	char what[256], err[256];
	int changed;
	assert_int_equal(certplan_apply(&s, &o, T0, &out, &changed, what, sizeof what, NULL, err, sizeof err), SO_OK);
	assert_true(changed);
	assert_string_equal(what, "new serving certificate (its SANs differ from the ones wanted)");
	assert_memory_equal(out.ca_crt, s.ca_crt, s.ca_crt_len);
	assert_true(selfcert_covers(out.tls_crt, out.tls_crt_len, more, NSANS + 1));
	certset_free(&out);

	/* an expired CA (the operator was off for years): both are made again */
	fixed = plan(&s, T0 + 3651 * DAY, 1, "new CA (expired); new serving certificate (not signed by a CA of ca.crt)",
		     NULL);
	assert_int_equal(selfcert_count(fixed.ca_crt, fixed.ca_crt_len), 1);
	certset_free(&fixed);
	selfcert_pem_free(&other);
	certset_free(&bad);
	certset_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca),
		cmocka_unit_test(test_serving),
		cmocka_unit_test(test_openssl_cli),
		cmocka_unit_test(test_plan_from_nothing),
		cmocka_unit_test(test_plan_serving_renewal),
		cmocka_unit_test(test_plan_ca_rotation),
		cmocka_unit_test(test_plan_broken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
