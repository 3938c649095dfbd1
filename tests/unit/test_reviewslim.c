/* webhook/reviewslim.c: exactly which members go (and their commas), which bodies are left alone, and that
 * the admission handler decodes a slimmed review to the same answer and reports JSON errors about the body
 * as sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/reviewslim.h"

#define LA "\"kubectl.kubernetes.io/last-applied-configuration\""

/* Slims in and checks the result against want (NULL: left alone). */
static void expect(const char *in, const char *want)
{
	char *out = (char *)1;
	size_t n = 99;
	int rc = reviewslim_review(in, strlen(in), &out, &n);
	if (!want) {
		assert_int_equal(rc, 0);
		assert_null(out);
		assert_int_equal(n, 0);
		return;
	}
	assert_int_equal(rc, 1);
	assert_non_null(out);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	free(out);
}

static void test_drops(void **state)
{
	(void)state;
	/* first, middle, last and only member; object and oldObject */
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedFields\":[{\"a\":\"]}\"}],\"name\":\"x\"}}}}",
	       "{\"request\":{\"object\":{\"metadata\":{\"name\":\"x\"}}}}");
	expect("{\"request\":{\"object\":{\"metadata\":{\"name\":\"x\",\"managedFields\":[],\"uid\":\"u\"}}}}",
	       "{\"request\":{\"object\":{\"metadata\":{\"name\":\"x\",\"uid\":\"u\"}}}}");
	expect("{\"request\":{\"oldObject\":{\"metadata\":{\"name\":\"x\",\"managedFields\":[]}}}}",
	       "{\"request\":{\"oldObject\":{\"metadata\":{\"name\":\"x\"}}}}");
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedFields\":[]}}}}",
	       "{\"request\":{\"object\":{\"metadata\":{}}}}");
	/* the annotation, with blanks everywhere JSON allows them */
	expect("{ \"request\" : { \"object\" : { \"metadata\" : { \"annotations\" : { " LA " : \"{\\\"a\\\":1}\" , "
	       "\"b\" : \"c\" } , \"managedFields\" : [ ] } } } }",
	       "{ \"request\" : { \"object\" : { \"metadata\" : { \"annotations\" : { \"b\" : \"c\" } } } } }");
	expect("{\"request\":{\"object\":{\"metadata\":{\"annotations\":{\"b\":\"c\"," LA ":\"\"}}}}}",
	       "{\"request\":{\"object\":{\"metadata\":{\"annotations\":{\"b\":\"c\"}}}}}");
	/* two dropped members in a row, first ones */
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedFields\":[],\"managedFields\":[1],\"n\":1}}}}",
	       "{\"request\":{\"object\":{\"metadata\":{\"n\":1}}}}");
}

static void test_left_alone(void **state)
{
	(void)state;
	/* nothing to drop: elsewhere than on the path, escaped names, a spec field of that name */
	expect("{\"request\":{\"object\":{\"metadata\":{\"name\":\"x\"}}}}", NULL);
	expect("{\"metadata\":{\"managedFields\":[]}}", NULL);
	expect("{\"request\":{\"object\":{\"spec\":{\"managedFields\":[]}}}}", NULL);
	expect("{\"request\":{\"options\":{\"metadata\":{\"managedFields\":[]}}}}", NULL);
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedField\\u0073\":[]}}}}", NULL);
	expect("{\"request\":{\"object\":{\"metadata\":{\"labels\":{" LA ":\"x\"}}}}}", NULL);
	expect("[{\"request\":{\"object\":{\"metadata\":{\"managedFields\":[]}}}}]", NULL);
	/* other types than ours: the decoder judges them */
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedFields\":{}}}}}", NULL);
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedFields\":null}}}}", NULL);
	expect("{\"request\":{\"object\":{\"metadata\":{\"annotations\":{" LA ":5}}}}}", NULL);
	/* not JSON around or in a member to drop: left to the decoder's error */
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedFields\"}}}}", NULL);
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedFields\":[] \"n\":1}}}}", NULL);
	expect("{\"request\":{\"object\":{\"metadata\":{\"n\":1, x \"managedFields\":[]}}}}", NULL);
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedFields\" x :[]}}}}", NULL);
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedFields\":[}]}}}}", NULL);
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedFields\":[\"]}}}}", NULL);
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedFields\":[]}}}", NULL); /* unclosed */
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedFields\":[]}}}}}", NULL);
	expect("{\"request\":{\"object\":{\"metadata\":{\"managedFields\":[\"\x01\"]}}}}", NULL);
	expect("", NULL);
}

static void test_deep(void **state)
{
	(void)state;
	/* nesting past the decoder's limit inside a member to drop: left alone */
	size_t depth = 3000;
	const char *head = "{\"request\":{\"object\":{\"metadata\":{\"managedFields\":";
	char *in = malloc(strlen(head) + 2 * depth + 8);
	size_t n = 0;
	memcpy(in, head, strlen(head));
	n = strlen(head);
	for (size_t i = 0; i < depth; i++)
		in[n++] = '[';
	for (size_t i = 0; i < depth; i++)
		in[n++] = ']';
	memcpy(in + n, "}}}}", 4);
	n += 4;
	char *out = NULL;
	size_t out_len = 0;
	assert_int_equal(reviewslim_review(in, n, &out, &out_len), 0);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drops),
		cmocka_unit_test(test_left_alone),
		cmocka_unit_test(test_deep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
