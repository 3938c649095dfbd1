/* operator/kube/names.c: DNS-1123 labels and subdomains, label name parts and qualified names, against the cases
 * k8s.io/apimachinery pkg/util/validation's tests use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "operator/kube/names.h"

#define L63 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"

static int label(const char *s)
{
	return kube_dns1123_label(s, strlen(s));
}

static void dns1123_label(void **state)
{
	static const char *const good[] = { "a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a",
					    "1-a", "1--a--b--2", L63 };
	static const char *const bad[] = { "", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-",
					   "-1", "_", "a_", "_a", "a_b", "1_", "_1", "1_2", ".", "a.", ".a",
					   "a.b", "1.", ".1", "1.2", " ", "a ", " a", "a b", "1 ", " 1", "1 2",
					   L63 "l" };

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (!label(good[i]))
			fail_msg("refused label %s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (label(bad[i]))
			fail_msg("took label %s", bad[i]);
	assert_true(kube_dns1123_label("ab-", 2)); /* only the first n bytes count */
	assert_false(kube_dns1123_label(NULL, 0));
}

static void dns1123_subdomain(void **state)
{
	static const char *const good[] = { "a", "ab", "a-1", "a.b", "a.b.c", "1.2.3", "a--1.b--2", "0.a",
					    L63 "." L63 "." L63 "." "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0" };
	static const char *const bad[] = { "", "A", "a.B", "-", "a-", "-a", "a.-b", "a-.b", "a..b", ".a", "a.",
					   "a_b", "a b", L63 "." L63 "." L63 "." L63 "ab" };

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (!kube_dns1123_subdomain(good[i]))
			fail_msg("refused subdomain %s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (kube_dns1123_subdomain(bad[i]))
			fail_msg("took subdomain %s", bad[i]);
	assert_false(kube_dns1123_subdomain(NULL));
}

static void qualified_names(void **state)
{
	static const char *const good[] = { "simple", "now-with-dashes", "1-starts-with-num", "1234",
					    "simple/simple", "now-with-dashes/simple", "now-with-dashes/now-with-dashes",
					    "now.with.dots/simple", "now-with.dashes-and.dots/simple",
					    "1-num.2-num/3-num", "1234/5678", "1.2.3.4/5678", "Uppercase_Is_OK_123",
					    "example.com/Uppercase_Is_OK_123", L63 };
	static const char *const bad[] = { "", "nospecialchars%^=@", "cantendwithadash-", "-cantstartwithadash-",
					   "only/one/slash", "Example.com/abc", "example_com/abc", "example.com/",
					   "/simple", "a/", L63 "l", "a/" L63 "l" };

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (!kube_qualified_name(good[i]))
			fail_msg("refused qualified name %s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (kube_qualified_name(bad[i]))
			fail_msg("took qualified name %s", bad[i]);
	/* Label values share the name part's rule (the empty value is the caller's case). */
	assert_true(kube_label_name_part("a.b_c-D", 7));
	assert_false(kube_label_name_part("a.", 2));
	assert_false(kube_label_name_part("", 0));
	assert_false(kube_qualified_name(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dns1123_label),
		cmocka_unit_test(dns1123_subdomain),
		cmocka_unit_test(qualified_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
