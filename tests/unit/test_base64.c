/* operator/base/base64.c: RFC 4648's test vectors both ways, the append path across its chunk boundary, and each decode
 * flag the callers rely on (Secret data, kubeconfig, signatures, docker auth). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/base64.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"

static const char *const vectors[][2] = {
	{ "", "" },	    { "f", "Zg==" },	  { "fo", "Zm8=" },	    { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};

static void expect_decode(const char *in, unsigned flags, const char *want)
{
	unsigned char *out = NULL;
	size_t n = 0;
	int rc = base64_decode(in, strlen(in), flags, &out, &n);

	if (rc != SO_OK)
		fail_msg("\"%s\" (flags %u): rc %d", in, flags, rc);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	assert_int_equal(out[n], '\0');
	free(out);
}

static void expect_invalid(const char *in, size_t len, unsigned flags)
{
	unsigned char *out = (unsigned char *)"x";
	size_t n = 7;

	if (base64_decode(in, len, flags, &out, &n) != SO_E_INVAL)
		fail_msg("took \"%.*s\" (flags %u)", (int)len, in, flags);
	assert_null(out);
	assert_int_equal(n, 0);
}

static void rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		char *enc = base64_encode(vectors[i][0], strlen(vectors[i][0]));
		struct buf b = BUF_INIT(1024);
		json_t *js = base64_json_string(vectors[i][0], strlen(vectors[i][0]));

		assert_non_null(enc);
		assert_string_equal(enc, vectors[i][1]);
		assert_int_equal(base64_encode_append(&b, vectors[i][0], strlen(vectors[i][0])), SO_OK);
		assert_int_equal(b.len, strlen(vectors[i][1]));
		assert_memory_equal(b.len ? b.data : "", vectors[i][1], b.len);
		assert_string_equal(json_string_value(js), vectors[i][1]);
		if (i > 0)
			expect_decode(vectors[i][1], 0, vectors[i][0]);
		free(enc);
		buf_free(&b);
		json_decref(js);
	}
}

/* base64_encode_append works in chunks; the result must be one encoding, whatever the length. */
static void append_matches_encode(void **state)
{
	static unsigned char data[3072 * 2 + 5];
	(void)state;
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 131 + 7);
	for (size_t n = 3070; n <= sizeof data; n += 1) {
		char *enc = base64_encode(data, n);
		struct buf b = BUF_INIT(SIZE_MAX / 2);
		unsigned char *back;
		size_t bn;

		assert_non_null(enc);
		assert_int_equal(base64_encode_append(&b, data, n), SO_OK);
		assert_int_equal(b.len, strlen(enc));
		assert_memory_equal(b.data, enc, b.len);
		assert_int_equal(base64_decode(enc, strlen(enc), 0, &back, &bn), SO_OK);
		assert_int_equal(bn, n);
		assert_memory_equal(back, data, n);
		free(back);
		free(enc);
		buf_free(&b);
		if (n == 3080)
			n = 3072 * 2 - 5;
	}
}

static void decode_flags(void **state)
{
	(void)state;
	/* Canonical only by default. */
	expect_invalid("", 0, 0);
	expect_invalid("Zg=", 3, 0);
	expect_invalid("Zg", 2, 0);
	expect_invalid("Z===", 4, 0);
	expect_invalid("Zg==Zg==", 8, 0); /* '=' only at the end */
	expect_invalid("Zm9$", 4, 0);
	expect_invalid("Zm9v\0Zm9", 8, 0);
	expect_invalid(" Zm9v", 5, 0);
	expect_invalid("Zm 9v", 5, 0);
	expect_invalid("Zm-_", 4, 0); /* not the URL alphabet */
	/* B64_ALLOW_EMPTY */
	expect_decode("", B64_ALLOW_EMPTY, "");
	/* B64_PAD_OPTIONAL: docker's auth fields */
	expect_decode("Zg", B64_PAD_OPTIONAL, "f");
	expect_decode("Zm8", B64_PAD_OPTIONAL, "fo");
	expect_decode("Zm8=", B64_PAD_OPTIONAL, "fo");
	expect_decode("Zg=", B64_PAD_OPTIONAL, "f");
	expect_invalid("Zm9vY", 5, B64_PAD_OPTIONAL);
	expect_invalid("", 0, B64_PAD_OPTIONAL);
	/* B64_TRIM_SPACE: signatures */
	expect_decode(" \tZm9v\r\n", B64_TRIM_SPACE, "foo");
	expect_invalid("Zm 9v", 5, B64_TRIM_SPACE);
	expect_invalid(" \n", 2, B64_TRIM_SPACE);
	/* B64_SKIP_SPACE: kubeconfig certificate data */
	expect_decode("Zm9v\nYmFy\n", B64_SKIP_SPACE | B64_SECRET, "foobar");
	expect_decode(" Zm 9v Yg = = ", B64_SKIP_SPACE, "foob");
	expect_invalid("Zm9v\nYmF", 8, B64_SKIP_SPACE);
	expect_invalid("Zm9$", 4, B64_SECRET);
	expect_invalid(NULL, 0, B64_ALLOW_EMPTY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4648_vectors),
		cmocka_unit_test(append_matches_encode),
		cmocka_unit_test(decode_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
