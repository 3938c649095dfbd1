/*
 * webhook/jsonpatch.c: RFC 6902 diff and apply, RFC 6901 pointers. The property that matters to the webhook:
 * apply(diff(a, b), a) == b, checked on hand-picked pairs and on generated ones. JSON literals use ' for ".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testjson.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "webhook/jsonpatch.h"

/* diff(a, b), then applies it to a copy of a and checks the result equals b. Returns the patch. */
static json_t *round_trip(const json_t *a, const json_t *b)
{
	json_t *ops = NULL, *doc;

	assert_int_equal(jsonpatch_diff(a, b, &ops), SO_OK);
	assert_non_null(ops);
	doc = json_deep_copy(a);
	assert_int_equal(jsonpatch_apply(doc, ops), SO_OK);
	if (!json_equal(doc, (json_t *)b)) {
		char *p = json_dumps(ops, JSON_ENCODE_ANY);
		char *d = json_dumps(doc, JSON_ENCODE_ANY | JSON_SORT_KEYS);
		print_error("patch %s gave %s\n", p, d);
		free(p);
		free(d);
		fail();
	}
	json_decref(doc);
	return ops;
}

static void check_diff(const char *a_text, const char *b_text, const char *want_ops)
{
	json_t *a = J(a_text), *b = J(b_text), *ops = round_trip(a, b);
	if (want_ops)
		check_json(ops, want_ops);
	json_decref(ops);
	json_decref(a);
	json_decref(b);
}

static void test_pointer_escaping(void **state)
{
	struct buf b = BUF_INIT(1024);
	(void)state;

	assert_int_equal(jsonpatch_pointer_push(&b, "spec"), SO_OK);
	assert_int_equal(jsonpatch_pointer_push(&b, "a/b~c"), SO_OK);
	assert_int_equal(jsonpatch_pointer_push(&b, ""), SO_OK);
	assert_int_equal(jsonpatch_pointer_push(&b, "~1"), SO_OK);
	assert_string_equal(b.data, "/spec/a~1b~0c//~01");
	buf_free(&b);
}

static void test_diff_equal_is_empty(void **state)
{
	(void)state;
	check_diff("{'a': 1, 'b': [1, {'c': null}], 'd': 'x'}", "{'b': [1, {'c': null}], 'a': 1, 'd': 'x'}", "[]");
	check_diff("[]", "[]", "[]");
	check_diff("'s'", "'s'", "[]");
}

static void test_diff_the_defaulting_case(void **state)
{
	(void)state;
	/* What the SpinApp defaulter produces: one added key deep in the object. */
	check_diff("{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'metadata': {'name': 'a'}, "
		   "'spec': {'image': 'x', 'replicas': 1}}",
		   "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'metadata': {'name': 'a'}, "
		   "'spec': {'image': 'x', 'replicas': 1, 'executor': 'containerd-shim-spin'}}",
		   "[{'op': 'add', 'path': '/spec/executor', 'value': 'containerd-shim-spin'}]");
	check_diff("{'spec': {'executor': ''}}", "{'spec': {'executor': 'e'}}",
		   "[{'op': 'replace', 'path': '/spec/executor', 'value': 'e'}]");
	check_diff("{'spec': null}", "{'spec': {'executor': 'e'}}",
		   "[{'op': 'replace', 'path': '/spec', 'value': {'executor': 'e'}}]");
	check_diff("{}", "{'spec': {'executor': 'e'}}", "[{'op': 'add', 'path': '/spec', 'value': {'executor': 'e'}}]");
}

static void test_diff_objects(void **state)
{
	(void)state;
	check_diff("{'a': 1, 'b': 2}", "{'a': 1, 'c': 3}",
		   "[{'op': 'remove', 'path': '/b'}, {'op': 'add', 'path': '/c', 'value': 3}]");
	check_diff("{'a': {'b': {'c': 1}}}", "{'a': {'b': {'c': 2}}}",
		   "[{'op': 'replace', 'path': '/a/b/c', 'value': 2}]");
	/* Keys that need escaping, and the empty key. */
	check_diff("{'a/b': 1, 'm~n': 2, '': 3}", "{'a/b': 10, 'm~n': 20, '': 30}",
		   "[{'op': 'replace', 'path': '/a~1b', 'value': 10}, {'op': 'replace', 'path': '/m~0n', 'value': 20},"
		   " {'op': 'replace', 'path': '/', 'value': 30}]");
	check_diff("{'metadata': {'annotations': {'example.com/x': 'y'}}}",
		   "{'metadata': {'annotations': {'example.com/x': 'z', 'a~/b': 'c'}}}",
		   "[{'op': 'replace', 'path': '/metadata/annotations/example.com~1x', 'value': 'z'},"
		   " {'op': 'add', 'path': '/metadata/annotations/a~0~1b', 'value': 'c'}]");
}

static void test_diff_types_and_scalars(void **state)
{
	(void)state;
	check_diff("{'a': 1}", "{'a': 1.0}", "[{'op': 'replace', 'path': '/a', 'value': 1.0}]");
	check_diff("{'a': 1}", "{'a': '1'}", "[{'op': 'replace', 'path': '/a', 'value': '1'}]");
	check_diff("{'a': true}", "{'a': false}", "[{'op': 'replace', 'path': '/a', 'value': false}]");
	check_diff("{'a': null}", "{'a': {}}", "[{'op': 'replace', 'path': '/a', 'value': {}}]");
	check_diff("{'a': [1]}", "{'a': {'0': 1}}", "[{'op': 'replace', 'path': '/a', 'value': {'0': 1}}]");
	check_diff("{'a': 'x'}", "{'a': 'x\\u00e9\\n'}", NULL);
}

static void test_diff_arrays(void **state)
{
	(void)state;
	check_diff("[1, 2, 3]", "[1, 5, 3]", "[{'op': 'replace', 'path': '/1', 'value': 5}]");
	check_diff("[1, 2]", "[1, 2, 3, 4]",
		   "[{'op': 'add', 'path': '/2', 'value': 3}, {'op': 'add', 'path': '/3', 'value': 4}]");
	check_diff("[1, 2, 3, 4]", "[1, 2]", "[{'op': 'remove', 'path': '/3'}, {'op': 'remove', 'path': '/2'}]");
	check_diff("[1, 2, 3]", "[]", NULL);
	check_diff("[]", "[{'a': 1}, [2]]", NULL);
	check_diff("{'v': [{'name': 'a', 'x': 1}, {'name': 'b'}]}", "{'v': [{'name': 'a'}, {'name': 'c'}, {'name': 'd'}]}",
		   "[{'op': 'remove', 'path': '/v/0/x'}, {'op': 'replace', 'path': '/v/1/name', 'value': 'c'},"
		   " {'op': 'add', 'path': '/v/2', 'value': {'name': 'd'}}]");
	check_diff("[[1, 2], [3]]", "[[1], [3, 4, 5]]", NULL);
}

static void test_diff_root(void **state)
{
	json_t *a = J("{'a': 1}"), *b = J("[1]"), *ops = NULL, *doc;
	(void)state;

	/* Different root types: one replace of the whole document, which diff can express... */
	assert_int_equal(jsonpatch_diff(a, b, &ops), SO_OK);
	check_json(ops, "[{'op': 'replace', 'path': '', 'value': [1]}]");
	/* ...but apply cannot perform in place (doc cannot change type). */
	doc = json_deep_copy(a);
	assert_int_equal(jsonpatch_apply(doc, ops), SO_E_INVAL);
	json_decref(doc);
	json_decref(ops);
	json_decref(a);
	json_decref(b);
	/* Scalar roots likewise. */
	a = J("'a'");
	b = J("'b'");
	assert_int_equal(jsonpatch_diff(a, b, &ops), SO_OK);
	check_json(ops, "[{'op': 'replace', 'path': '', 'value': 'b'}]");
	json_decref(ops);
	json_decref(a);
	json_decref(b);
}

/* ---- generated pairs ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static json_t *gen(int depth)
{
	static const char *const keys[] = { "a", "b", "c/d", "e~f", "", "~1", "spec", "0" };
	unsigned kind = depth <= 0 ? rnd(5) : rnd(7);
	json_t *v;

	switch (kind) {
	case 0: return json_integer(rnd(4));
	case 1: return json_string(keys[rnd(8)]);
	case 2: return rnd(2) ? json_true() : json_false();
	case 3: return json_null();
	case 4: return json_real(rnd(3) + 0.5);
	case 5:
		v = json_object();
		for (unsigned i = rnd(5); i > 0; i--)
			json_object_set_new(v, keys[rnd(8)], gen(depth - 1));
		return v;
	default:
		v = json_array();
		for (unsigned i = rnd(5); i > 0; i--)
			json_array_append_new(v, gen(depth - 1));
		return v;
	}
}

/* b is a mutation of a, so that the pair shares structure (a pure random pair is mostly a root replace). */
static json_t *mutate(const json_t *a, int depth)
{
	json_t *b;
	const char *k;
	json_t *v;
	size_t i;

	if (rnd(6) == 0 || depth <= 0)
		return rnd(2) ? gen(depth) : json_deep_copy(a);
	if (json_is_object(a)) {
		b = json_object();
		json_object_foreach((json_t *)a, k, v) {
			if (rnd(5) != 0)
				json_object_set_new(b, k, mutate(v, depth - 1));
		}
		if (rnd(3) == 0)
			json_object_set_new(b, rnd(2) ? "new" : "a", gen(depth - 1));
		return b;
	}
	if (json_is_array(a)) {
		b = json_array();
		json_array_foreach(a, i, v) {
			if (rnd(5) != 0)
				json_array_append_new(b, mutate(v, depth - 1));
		}
		for (unsigned n = rnd(3); n > 0; n--)
			json_array_append_new(b, gen(depth - 1));
		return b;
	}
	return gen(depth);
}

static void test_generated_round_trips(void **state)
{
	(void)state;
	for (int i = 0; i < 3000; i++) {
		json_t *a = json_object(), *b, *ops;
		json_object_set_new(a, "x", gen(4));
		json_object_set_new(a, "y", gen(3));
		b = mutate(a, 5);
		if (!json_is_object(b)) { /* keep the root an object, as for admission */
			json_decref(b);
			b = json_object();
		}
		ops = round_trip(a, b);
		json_decref(ops);
		json_decref(a);
		json_decref(b);
	}
}

/* ---- apply ---- */

static void check_apply(const char *doc_text, const char *ops_text, int want_rc, const char *want_doc)
{
	json_t *doc = J(doc_text), *ops = J(ops_text);
	assert_int_equal(jsonpatch_apply(doc, ops), want_rc);
	if (want_doc)
		check_json(doc, want_doc);
	json_decref(doc);
	json_decref(ops);
}

static void test_apply_rfc6902_examples(void **state)
{
	(void)state;
	/* RFC 6902 appendix A. */
	check_apply("{'foo': 'bar'}", "[{'op': 'add', 'path': '/baz', 'value': 'qux'}]", SO_OK,
		    "{'baz': 'qux', 'foo': 'bar'}");
	check_apply("{'foo': ['bar', 'baz']}", "[{'op': 'add', 'path': '/foo/1', 'value': 'qux'}]", SO_OK,
		    "{'foo': ['bar', 'qux', 'baz']}");
	check_apply("{'baz': 'qux', 'foo': 'bar'}", "[{'op': 'remove', 'path': '/baz'}]", SO_OK, "{'foo': 'bar'}");
	check_apply("{'foo': ['bar', 'qux', 'baz']}", "[{'op': 'remove', 'path': '/foo/1'}]", SO_OK,
		    "{'foo': ['bar', 'baz']}");
	check_apply("{'baz': 'qux', 'foo': 'bar'}", "[{'op': 'replace', 'path': '/baz', 'value': 'boo'}]", SO_OK,
		    "{'baz': 'boo', 'foo': 'bar'}");
	check_apply("{'foo': {'bar': 'baz', 'waldo': 'fred'}, 'qux': {'corge': 'grault'}}",
		    "[{'op': 'move', 'from': '/foo/waldo', 'path': '/qux/thud'}]", SO_OK,
		    "{'foo': {'bar': 'baz'}, 'qux': {'corge': 'grault', 'thud': 'fred'}}");
	check_apply("{'foo': ['all', 'grass', 'cows', 'eat']}", "[{'op': 'move', 'from': '/foo/1', 'path': '/foo/3'}]",
		    SO_OK, "{'foo': ['all', 'cows', 'eat', 'grass']}");
	check_apply("{'baz': 'qux', 'foo': ['a', 2, 'c']}",
		    "[{'op': 'test', 'path': '/baz', 'value': 'qux'}, {'op': 'test', 'path': '/foo/1', 'value': 2}]",
		    SO_OK, NULL);
	check_apply("{'baz': 'qux'}", "[{'op': 'test', 'path': '/baz', 'value': 'bar'}]", SO_E_INVAL, NULL);
	check_apply("{'foo': 'bar'}", "[{'op': 'add', 'path': '/child', 'value': {'grandchild': {}}}]", SO_OK,
		    "{'foo': 'bar', 'child': {'grandchild': {}}}");
	check_apply("{'foo': 'bar'}", "[{'op': 'add', 'path': '/baz/bat', 'value': 'qux'}]", SO_E_INVAL, NULL);
	check_apply("{'/': 9, '~1': 10}", "[{'op': 'test', 'path': '/~01', 'value': 10}]", SO_OK, NULL);
	check_apply("{'foo': ['bar']}", "[{'op': 'add', 'path': '/foo/-', 'value': ['abc', 'def']}]", SO_OK,
		    "{'foo': ['bar', ['abc', 'def']]}");
	check_apply("{'foo': 'bar'}", "[{'op': 'copy', 'from': '/foo', 'path': '/baz'}]", SO_OK,
		    "{'foo': 'bar', 'baz': 'bar'}");
}

static void test_apply_errors(void **state)
{
	(void)state;
	check_apply("{}", "[{'op': 'remove', 'path': '/missing'}]", SO_E_INVAL, NULL);
	check_apply("{}", "[{'op': 'replace', 'path': '/missing', 'value': 1}]", SO_E_INVAL, NULL);
	check_apply("{'a': [1]}", "[{'op': 'replace', 'path': '/a/1', 'value': 1}]", SO_E_INVAL, NULL);
	check_apply("{'a': [1]}", "[{'op': 'add', 'path': '/a/2', 'value': 1}]", SO_E_INVAL, NULL);
	check_apply("{'a': [1]}", "[{'op': 'add', 'path': '/a/01', 'value': 1}]", SO_E_INVAL, NULL);
	check_apply("{'a': [1]}", "[{'op': 'add', 'path': '/a/-1', 'value': 1}]", SO_E_INVAL, NULL);
	check_apply("{'a': [1]}", "[{'op': 'replace', 'path': '/a/-', 'value': 1}]", SO_E_INVAL, NULL);
	check_apply("{'a': [1]}", "[{'op': 'add', 'path': '/a/99999999999999999999999', 'value': 1}]", SO_E_INVAL,
		    NULL);
	check_apply("{'a': 1}", "[{'op': 'add', 'path': 'a', 'value': 1}]", SO_E_INVAL, NULL);
	check_apply("{'a': 1}", "[{'op': 'add', 'path': '/~2', 'value': 1}]", SO_E_INVAL, NULL);
	check_apply("{'a': 1}", "[{'op': 'add', 'path': '/a~', 'value': 1}]", SO_E_INVAL, NULL);
	check_apply("{'a': 1}", "[{'op': 'add', 'path': '/b'}]", SO_E_INVAL, NULL);
	check_apply("{'a': 1}", "[{'op': 'frobnicate', 'path': '/a'}]", SO_E_INVAL, NULL);
	check_apply("{'a': 1}", "[{'path': '/a'}]", SO_E_INVAL, NULL);
	check_apply("{'a': 1}", "[7]", SO_E_INVAL, NULL);
	check_apply("{'a': 1}", "{'op': 'remove', 'path': '/a'}", SO_E_INVAL, NULL);
	check_apply("{'a': 1}", "[{'op': 'remove', 'path': ''}]", SO_E_INVAL, NULL);
	check_apply("{'a': {'b': 1}}", "[{'op': 'move', 'from': '/a', 'path': '/a/b/c'}]", SO_E_INVAL, NULL);
	check_apply("{'a': 1}", "[{'op': 'move', 'from': '/x', 'path': '/y'}]", SO_E_INVAL, NULL);
	check_apply("{'a': 1}", "[{'op': 'copy', 'path': '/y'}]", SO_E_INVAL, NULL);
	check_apply("{'a': 'x'}", "[{'op': 'add', 'path': '/a/b', 'value': 1}]", SO_E_INVAL, NULL);
	/* The root: replaced in place by a container of the same type. */
	check_apply("{'a': 1}", "[{'op': 'replace', 'path': '', 'value': {'b': 2}}]", SO_OK, "{'b': 2}");
	check_apply("[1]", "[{'op': 'add', 'path': '', 'value': [2, 3]}]", SO_OK, "[2, 3]");
	check_apply("{'a': 1}", "[{'op': 'replace', 'path': '', 'value': [2]}]", SO_E_INVAL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pointer_escaping),
		cmocka_unit_test(test_diff_equal_is_empty),
		cmocka_unit_test(test_diff_the_defaulting_case),
		cmocka_unit_test(test_diff_objects),
		cmocka_unit_test(test_diff_types_and_scalars),
		cmocka_unit_test(test_diff_arrays),
		cmocka_unit_test(test_diff_root),
		cmocka_unit_test(test_generated_round_trips),
		cmocka_unit_test(test_apply_rfc6902_examples),
		cmocka_unit_test(test_apply_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
