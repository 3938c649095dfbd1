/* Bounded buffers: caps are hard, failures leave the buffer intact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/parse.h"

static void append_within_cap(void **state)
{
	(void)state;
	struct buf b = BUF_INIT(8);
	assert_int_equal(buf_appends(&b, "abcd"), SO_OK);
	assert_int_equal(buf_appendf(&b, "%d%d", 1, 2), SO_OK);
	assert_string_equal(b.data, "abcd12");
	assert_int_equal(buf_appends(&b, "xy"), SO_OK);
	assert_int_equal(b.len, 8);
	assert_int_equal(buf_appends(&b, "z"), SO_E_TOO_LARGE);
	assert_int_equal(buf_appendf(&b, "%s", "z"), SO_E_TOO_LARGE);
	assert_string_equal(b.data, "abcd12xy"); /* unchanged by the failed appends */
	buf_consume(&b, 6);
	assert_string_equal(b.data, "xy");
	char *s = buf_steal(&b);
	assert_string_equal(s, "xy");
	assert_null(b.data);
	free(s);
	buf_free(&b);
}

static void url_encoding(void **state)
{
	(void)state;
	struct buf b = BUF_INIT(256);
	assert_int_equal(buf_append_urlenc(&b, "app=a,b c/d~e_f.g-h"), SO_OK);
	assert_string_equal(b.data, "app%3Da%2Cb%20c%2Fd~e_f.g-h");
	buf_free(&b);
}

static void strict_numbers(void **state)
{
	(void)state;
	long l;
	double d;
	assert_int_equal(parse_long("42", 0, 100, &l), SO_OK);
	assert_int_equal(l, 42);
	assert_int_equal(parse_long("42x", 0, 100, &l), SO_E_INVAL);
	assert_int_equal(parse_long("", 0, 100, &l), SO_E_INVAL);
	assert_int_equal(parse_long("101", 0, 100, &l), SO_E_INVAL);
	assert_int_equal(parse_long("99999999999999999999999", 0, 100, &l), SO_E_INVAL);
	assert_int_equal(parse_double("2.5", 0, 10, &d), SO_OK);
	assert_int_equal(parse_double("nan", 0, 10, &d), SO_E_INVAL);
	assert_int_equal(parse_double("-1", 0, 10, &d), SO_E_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(append_within_cap),
		cmocka_unit_test(url_encoding),
		cmocka_unit_test(strict_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
