/* operator/base/filesig.c: a missing file, an unchanged file, a rewrite of another size and a symlink swapped to another
 * file (how Secret volumes update) each give the expected verdict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "operator/base/filesig.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void verdicts(void **state)
{
	char dir[] = "/tmp/filesig.XXXXXX", a[64], b[64], link[64];
	struct filesig s0, s1, s2;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/b", dir);
	snprintf(link, sizeof link, "%s/link", dir);

	filesig_of(link, &s0);
	assert_int_equal(s0.err, ENOENT);
	filesig_of(link, &s1);
	assert_true(filesig_eq(&s0, &s1)); /* still missing: no change */

	write_file(a, "one");
	write_file(b, "two!");
	assert_int_equal(symlink(a, link), 0);
	filesig_of(link, &s1);
	assert_int_equal(s1.err, 0);
	assert_int_equal(s1.size, 3);
	assert_false(filesig_eq(&s0, &s1)); /* appeared */
	filesig_of(link, &s2);
	assert_true(filesig_eq(&s1, &s2)); /* unchanged */

	/* Swap the link to another file, as the kubelet does for a Secret volume. */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink(b, link), 0);
	filesig_of(link, &s2);
	assert_false(filesig_eq(&s1, &s2));

	write_file(b, "longer now");
	filesig_of(link, &s1);
	assert_false(filesig_eq(&s1, &s2)); /* rewritten in place with another size */

	unlink(link);
	unlink(a);
	unlink(b);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(verdicts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
