/* operator/base/strv.c: deep copies that share no memory with the original, NULL and empty vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "operator/base/strv.h"

static void copies(void **state)
{
	char a[] = "--token", b[] = "A=secret";
	char *v[] = { a, b, NULL };
	char **d = strv_dup(v);

	(void)state;
	assert_non_null(d);
	assert_string_equal(d[0], "--token");
	assert_string_equal(d[1], "A=secret");
	assert_null(d[2]);
	assert_ptr_not_equal(d[0], a);
	a[0] = 'x';
	assert_string_equal(d[0], "--token");
	strv_free(d);
}

static void empty_and_null(void **state)
{
	char *none[] = { NULL };
	char **d = strv_dup(none), **e = strv_dup(NULL);

	(void)state;
	assert_non_null(d);
	assert_null(d[0]);
	assert_non_null(e);
	assert_null(e[0]);
	strv_free(d);
	strv_free(e);
	strv_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(copies),
		cmocka_unit_test(empty_and_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
