/* Streamed List decoding: items handed over one at a time, chunk boundaries anywhere, metadata in any position,
 * caps, truncation and garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/kube/listparse.h"
#include "operator/base/err.h"

struct seen {
	int n;
	char names[8][64];
	int stop_after; /* return an error from the handler after this many items (0: never) */
};

static int record(void *ud, json_t *item)
{
	struct seen *s = ud;
	if (s->n < 8) {
		const char *name = json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
		snprintf(s->names[s->n], sizeof s->names[0], "%s", name ? name : "");
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after ? SO_E_CANCELLED : SO_OK;
}

/* Strings with braces, brackets, escapes and a nested "items"/"metadata" inside an item: none may confuse framing. */
static const char list[] =
	"{\"kind\":\"SpinAppList\",\"apiVersion\":\"core.spinkube.dev/v1alpha1\","
	"\"metadata\":{\"resourceVersion\":\"42\",\"continue\":\"tok{]\"},"
	"\"items\":[{\"metadata\":{\"name\":\"a\"},\"spec\":{\"image\":\"x{y}\\\"z\\\\\",\"items\":[{\"k\":\"]\"}]}},\n"
	"  {\"metadata\":{\"name\":\"b\"},\"metadata2\":{\"metadata\":{}}} , {\"metadata\":{\"name\":\"c\"}}]}\n";

static void check_list(const struct kube_list_parser *p, const struct seen *s)
{
	assert_int_equal(kube_list_parser_finish((struct kube_list_parser *)p), SO_OK);
	assert_int_equal(s->n, 3);
	assert_string_equal(s->names[0], "a");
	assert_string_equal(s->names[1], "b");
	assert_string_equal(s->names[2], "c");
	assert_string_equal(p->resource_version, "42");
	assert_string_equal(p->cont, "tok{]");
	assert_int_equal(p->items, 3);
}

static void whole_list(void **state)
{
	(void)state;
	struct seen s = { 0 };
	struct kube_list_parser p;
	kube_list_parser_init(&p, 4096, record, &s);
	assert_int_equal(kube_list_parser_feed(&p, list, strlen(list)), SO_OK);
	check_list(&p, &s);
	kube_list_parser_free(&p);
}

static void split_at_every_offset(void **state)
{
	(void)state;
	for (size_t cut = 0; cut <= strlen(list); cut++) {
		struct seen s = { 0 };
		struct kube_list_parser p;
		kube_list_parser_init(&p, 4096, record, &s);
		assert_int_equal(kube_list_parser_feed(&p, list, cut), SO_OK);
		assert_int_equal(kube_list_parser_feed(&p, list + cut, strlen(list) - cut), SO_OK);
		check_list(&p, &s);
		kube_list_parser_free(&p);
	}
}

static void one_byte_at_a_time(void **state)
{
	(void)state;
	struct seen s = { 0 };
	struct kube_list_parser p;
	kube_list_parser_init(&p, 4096, record, &s);
	for (size_t i = 0; i < strlen(list); i++)
		assert_int_equal(kube_list_parser_feed(&p, list + i, 1), SO_OK);
	check_list(&p, &s);
	kube_list_parser_free(&p);
}

static void metadata_after_items_and_empty_lists(void **state)
{
	(void)state;
	static const char *const bodies[] = {
		"{\"items\":[{\"metadata\":{\"name\":\"z\"}}],\"metadata\":{\"resourceVersion\":\"7\"}}",
		"{\"metadata\":{\"resourceVersion\":\"7\"},\"items\":[]}",
		"{\"metadata\":{\"resourceVersion\":\"7\"},\"items\":null}",
	};
	for (int i = 0; i < 3; i++) {
		struct seen s = { 0 };
		struct kube_list_parser p;
		kube_list_parser_init(&p, 4096, record, &s);
		assert_int_equal(kube_list_parser_feed(&p, bodies[i], strlen(bodies[i])), SO_OK);
		assert_int_equal(kube_list_parser_finish(&p), SO_OK);
		assert_int_equal(s.n, i == 0 ? 1 : 0);
		assert_string_equal(p.resource_version, "7");
		assert_null(p.cont);
		kube_list_parser_free(&p);
	}
}

static void cap_is_per_item(void **state)
{
	(void)state;
	struct seen s = { 0 };
	struct kube_list_parser p;
	/* Each item is under 40 bytes; the list is much larger than the cap. */
	kube_list_parser_init(&p, 40, record, &s);
	assert_int_equal(kube_list_parser_feed(&p, "{\"items\":[", 10), SO_OK);
	for (int i = 0; i < 100; i++) {
		const char *item = i ? ",{\"metadata\":{\"name\":\"n\"}}" : "{\"metadata\":{\"name\":\"n\"}}";
		assert_int_equal(kube_list_parser_feed(&p, item, strlen(item)), SO_OK);
	}
	assert_int_equal(kube_list_parser_feed(&p, "]}", 2), SO_OK);
	assert_int_equal(kube_list_parser_finish(&p), SO_OK);
	assert_int_equal(s.n, 100);
	kube_list_parser_free(&p);
}

static void oversized_item_fails(void **state)
{
	(void)state;
	struct seen s = { 0 };
	struct kube_list_parser p;
	kube_list_parser_init(&p, 16, record, &s);
	const char *body = "{\"items\":[{\"metadata\":{\"name\":\"much-too-long\"}}]}";
	assert_int_equal(kube_list_parser_feed(&p, body, strlen(body)), SO_E_TOO_LARGE);
	assert_int_equal(kube_list_parser_feed(&p, "]}", 2), SO_E_TOO_LARGE); /* sticky */
	assert_int_equal(kube_list_parser_finish(&p), SO_E_TOO_LARGE);
	assert_int_equal(s.n, 0);
	kube_list_parser_free(&p);
}

static void garbage_and_truncation_fail(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"[{\"metadata\":{}}]",                              /* not an object */
		"{\"items\":[{\"metadata\":{\"name\":\"a\"}}]} x", /* data after the list */
		"{\"items\":[{\"metadata\":{\"name\":\"a\" x}}]}",  /* an item that is not JSON */
		"}",                                                /* unbalanced */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct seen s = { 0 };
		struct kube_list_parser p;
		kube_list_parser_init(&p, 4096, record, &s);
		int rc = kube_list_parser_feed(&p, bad[i], strlen(bad[i]));
		if (rc == SO_OK)
			rc = kube_list_parser_finish(&p);
		assert_int_equal(rc, SO_E_BAD_RESPONSE);
		kube_list_parser_free(&p);
	}
	/* Cut anywhere before its end, the list is incomplete. */
	for (size_t cut = 0; cut < strlen(list) - 1; cut++) {
		struct seen s = { 0 };
		struct kube_list_parser p;
		kube_list_parser_init(&p, 4096, record, &s);
		assert_int_equal(kube_list_parser_feed(&p, list, cut), SO_OK);
		assert_int_equal(kube_list_parser_finish(&p), SO_E_BAD_RESPONSE);
		kube_list_parser_free(&p);
	}
}

static void handler_error_stops_list(void **state)
{
	(void)state;
	struct seen s = { .stop_after = 2 };
	struct kube_list_parser p;
	kube_list_parser_init(&p, 4096, record, &s);
	assert_int_equal(kube_list_parser_feed(&p, list, strlen(list)), SO_E_CANCELLED);
	assert_int_equal(s.n, 2);
	assert_int_equal(kube_list_parser_finish(&p), SO_E_CANCELLED);
	kube_list_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_list),
		cmocka_unit_test(split_at_every_offset),
		cmocka_unit_test(one_byte_at_a_time),
		cmocka_unit_test(metadata_after_items_and_empty_lists),
		cmocka_unit_test(cap_is_per_item),
		cmocka_unit_test(oversized_item_fails),
		cmocka_unit_test(garbage_and_truncation_fail),
		cmocka_unit_test(handler_error_stops_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
