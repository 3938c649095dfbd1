/*
 * webhook/certs/certsecret.c: the webhook certificate Secret's base64 data ↔ struct certset. Canonical padded base64
 * only: whitespace around a value (which EVP_DecodeBlock would take and count as data), '=' inside, a length not
 * a multiple of 4, or a non-string leave the key empty, so the renewal rules replace it. Round trips keep bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "webhook/certs/certplan.h"
#include "webhook/certs/certsecret.h"
#include "operator/base/err.h"

static struct certset decode(const char *json)
{
	struct certset s;
	json_t *secret = json_loads(json, JSON_ALLOW_NUL, NULL);
	assert_non_null(secret);
	assert_int_equal(certsecret_decode(secret, &s), SO_OK);
	json_decref(secret);
	return s;
}

static void canonical_values_decode(void **state)
{
	(void)state;
	struct certset s = decode("{\"data\": {\"ca.crt\": \"YWJj\", \"ca.key\": \"YQ==\", \"tls.crt\": \"YWI=\", "
				  "\"tls.key\": \"AAEC\", \"other\": \"x\"}}");
	assert_int_equal(s.ca_crt_len, 3);
	assert_string_equal(s.ca_crt, "abc");
	assert_int_equal(s.ca_key_len, 1);
	assert_string_equal(s.ca_key, "a");
	assert_int_equal(s.tls_crt_len, 2);
	assert_string_equal(s.tls_crt, "ab");
	assert_int_equal(s.tls_key_len, 3);
	assert_memory_equal(s.tls_key, "\x00\x01\x02", 3);
	certset_free(&s);
}

/* The seed tests/fuzz/corpus/fuzz_certsecret/whitespace: before webhook/certs/certsecret.c, "YQ==    " decoded to 3 bytes
 * ("a" and two NULs), the padding not being at the end any more. */
static void malformed_values_stay_empty(void **state)
{
	(void)state;
	struct certset s = decode("{\"data\": {\"ca.crt\": \"YQ==    \", \"ca.key\": \" YWJj\", \"tls.crt\": \"Y===\", "
				  "\"tls.key\": \"====\"}}");
	assert_null(s.ca_crt);
	assert_int_equal(s.ca_crt_len, 0);
	assert_null(s.ca_key);
	assert_null(s.tls_crt);
	assert_null(s.tls_key);
	certset_free(&s);
	s = decode("{\"data\": {\"ca.crt\": \"YW=j\", \"ca.key\": \"YWJ\", \"tls.crt\": \"\", \"tls.key\": 7}}");
	assert_null(s.ca_crt);
	assert_null(s.ca_key);
	assert_null(s.tls_crt);
	assert_null(s.tls_key);
	certset_free(&s);
	s = decode("{\"data\": {\"ca.crt\": \"YWJj\\nYWJj\", \"ca.key\": \"YW\\u0000j\"}}");
	assert_null(s.ca_crt);
	assert_null(s.ca_key);
	certset_free(&s);
	s = decode("{\"kind\": \"Secret\"}");
	assert_null(s.ca_crt);
	certset_free(&s);
}

static void round_trip(void **state)
{
	(void)state;
	struct certset s = { 0 }, back;
	char bin[256];
	for (int i = 0; i < 256; i++)
		bin[i] = (char)i;
	s.ca_crt = bin;
	s.ca_crt_len = sizeof bin;
	s.tls_key = "k";
	s.tls_key_len = 1;
	json_t *secret = json_pack("{s:{s:s}}", "data", "keep", "me");
	assert_int_equal(certsecret_encode(&s, secret), SO_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(secret, "data"), "keep")), "me");
	assert_string_equal(json_string_value(json_object_get(json_object_get(secret, "data"), "ca.key")), "");
	assert_int_equal(certsecret_decode(secret, &back), SO_OK);
	assert_int_equal(back.ca_crt_len, sizeof bin);
	assert_memory_equal(back.ca_crt, bin, sizeof bin);
	assert_null(back.ca_key); /* "" decodes to nothing */
	assert_int_equal(back.tls_key_len, 1);
	assert_string_equal(back.tls_key, "k");
	certset_free(&back);
	json_decref(secret);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(canonical_values_decode),
		cmocka_unit_test(malformed_values_stay_empty),
		cmocka_unit_test(round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
