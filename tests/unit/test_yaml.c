/*
 * operator/base/yamljson.c: YAML 1.2 core-schema reading into JSON, its caps and messages, and the block-style writer's
 * round trip (yamljson_to_json(yamljson_from_json(v)) == v) for values chosen to trip a careless quoting rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/yamljson.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (!j)
		fail_msg("test JSON does not parse: %s: %s", text, e.text);
	return j;
}

/* Parses text and returns the document array (fails the test on an error). */
static json_t *docs_of(const char *text)
{
	json_t *docs = NULL;
	char err[256] = "";
	int rc = yamljson_to_json(text, strlen(text), "t.yaml", &docs, err, sizeof err);
	if (rc)
		fail_msg("yamljson_to_json(%s): %s (%d)", text, err, rc);
	return docs;
}

static void expect_docs(const char *yaml, const char *want_json)
{
	json_t *docs = docs_of(yaml), *want = J(want_json);
	if (!json_equal(docs, want)) {
		char *got = json_dumps(docs, JSON_ENCODE_ANY);
		fail_msg("%s\n  gave %s\n  want %s", yaml, got, want_json);
	}
	json_decref(docs);
	json_decref(want);
}

/* yaml fails with rc, and the message starts with prefix and contains needle. */
static void expect_error(const char *yaml, size_t len, int rc_want, const char *prefix, const char *needle)
{
	json_t *docs = (json_t *)1;
	char err[512] = "";
	int rc = yamljson_to_json(yaml, len, "t.yaml", &docs, err, sizeof err);
	if (rc != rc_want)
		fail_msg("%.80s: rc %d (%s), want %d", yaml, rc, err, rc_want);
	assert_null(docs);
	if (prefix && strncmp(err, prefix, strlen(prefix)))
		fail_msg("%.80s: message \"%s\" does not start with \"%s\"", yaml, err, prefix);
	if (needle && !strstr(err, needle))
		fail_msg("%.80s: message \"%s\" lacks \"%s\"", yaml, err, needle);
}

static void expect_err(const char *yaml, int rc_want, const char *prefix, const char *needle)
{
	expect_error(yaml, strlen(yaml), rc_want, prefix, needle);
}

/* "v: <scalar>" resolves to want (JSON text). */
static void expect_scalar(const char *scalar, const char *want)
{
	char yaml[256], json[256];
	snprintf(yaml, sizeof yaml, "v: %s\n", scalar);
	snprintf(json, sizeof json, "[{\"v\": %s}]", want);
	expect_docs(yaml, json);
}

static void plain_scalars(void **state)
{
	(void)state;
	static const char *const table[][2] = {
		{ "", "null" }, { "~", "null" }, { "null", "null" }, { "Null", "null" }, { "NULL", "null" },
		{ "nULL", "\"nULL\"" },
		{ "true", "true" }, { "True", "true" }, { "TRUE", "true" }, { "false", "false" }, { "False", "false" },
		{ "FALSE", "false" }, { "tRUE", "\"tRUE\"" }, { "yes", "\"yes\"" }, { "on", "\"on\"" }, { "n", "\"n\"" },
		{ "0", "0" }, { "-12", "-12" }, { "+7", "7" }, { "012", "12" }, { "0o17", "15" }, { "0x1F", "31" },
		{ "0xff", "255" }, { "9223372036854775807", "9223372036854775807" },
		{ "-9223372036854775808", "-9223372036854775808" },
		{ "9223372036854775808", "9223372036854775808.0" }, { "0x7fffffffffffffff", "9223372036854775807" },
		{ "1_000", "\"1_000\"" }, { "0b101", "\"0b101\"" }, { "-0x10", "\"-0x10\"" }, { "0o8", "\"0o8\"" },
		{ "0x", "\"0x\"" }, { "+", "\"+\"" }, { "-a", "\"-a\"" },
		{ "1.5", "1.5" }, { "-.5", "-0.5" }, { "1e3", "1000.0" }, { "1.", "1.0" }, { "+1.5E-2", "0.015" },
		{ "1e-400", "0.0" }, { ".", "\".\"" }, { "1e", "\"1e\"" }, { "e3", "\"e3\"" }, { "1.2.3", "\"1.2.3\"" },
		{ "inf", "\"inf\"" }, { "nan", "\"nan\"" }, { ".infinity", "\".infinity\"" },
		{ "abc", "\"abc\"" }, { "hello world", "\"hello world\"" }, { "a: b", NULL },
		{ "2001-12-14", "\"2001-12-14\"" }, { "12:30", "\"12:30\"" }, { "v0.23.0", "\"v0.23.0\"" },
		{ "500m", "\"500m\"" }, { "ghcr.io/a/b:v1", "\"ghcr.io/a/b:v1\"" }, { "a # comment", "\"a\"" },
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (table[i][1])
			expect_scalar(table[i][0], table[i][1]);
	}
	expect_err("v: .inf\n", SO_E_INVAL, "t.yaml:1:4: ", "cannot be represented in JSON");
	expect_err("v: -.Inf\n", SO_E_INVAL, "t.yaml:1:4: ", "cannot be represented");
	expect_err("v: .NaN\n", SO_E_INVAL, "t.yaml:1:4: ", "cannot be represented");
	expect_err("v: 0x10000000000000000\n", SO_E_INVAL, "t.yaml:1:4: ", "does not fit in 64 bits");
	expect_err("v: 0o2000000000000000000000\n", SO_E_INVAL, "t.yaml:1:4: ", "does not fit");
	expect_err("v: 1e999\n", SO_E_INVAL, "t.yaml:1:4: ", "out of range");
}

static void quoted_scalars(void **state)
{
	(void)state;
	expect_scalar("'1'", "\"1\"");
	expect_scalar("\"true\"", "\"true\"");
	expect_scalar("''", "\"\"");
	expect_scalar("\"~\"", "\"~\"");
	expect_scalar("'null'", "\"null\"");
	expect_scalar("\".inf\"", "\".inf\"");
	expect_scalar("\"a\\tb\\n\\u00e9\\x41\"", "\"a\\tb\\n\\u00e9A\"");
	expect_scalar("'it''s'", "\"it's\"");
	expect_scalar("\"nul\\0byte\"", "\"nul\\u0000byte\"");
	expect_docs("v: |\n  line 1\n  line 2\n", "[{\"v\": \"line 1\\nline 2\\n\"}]");
	expect_docs("v: >-\n  folded\n  text\n", "[{\"v\": \"folded text\"}]");
	expect_docs("v: |\n  42\n", "[{\"v\": \"42\\n\"}]");
	expect_docs("v: >\n  true\n", "[{\"v\": \"true\\n\"}]");
}

static void tags(void **state)
{
	(void)state;
	expect_scalar("!!str 1", "\"1\"");
	expect_scalar("!!str true", "\"true\"");
	expect_scalar("!!str", "\"\"");
	expect_scalar("!!int \"12\"", "12");
	expect_scalar("!!int 0x10", "16");
	expect_scalar("!!float 1", "1.0");
	expect_scalar("!!float '0o10'", "8.0");
	expect_scalar("!!float \"2.5\"", "2.5");
	expect_scalar("!!bool \"false\"", "false");
	expect_scalar("!!null ''", "null");
	expect_scalar("!!null", "null");
	expect_scalar("! 12", "\"12\"");
	expect_scalar("!<tag:yaml.org,2002:int> '7'", "7");
	expect_docs("%TAG !k! tag:yaml.org,2002:\n---\nv: !k!int '3'\n", "[{\"v\": 3}]");
	expect_docs("v: !!map {a: 1}\nw: !!seq [1]\nx: ! {b: 2}\n", "[{\"v\": {\"a\": 1}, \"w\": [1], \"x\": {\"b\": 2}}]");
	expect_err("v: !!int abc\n", SO_E_INVAL, "t.yaml:1:4: ", "the scalar is not valid for tag !!int");
	expect_err("v: !!int '1.5'\n", SO_E_INVAL, "t.yaml:1:4: ", "!!int");
	expect_err("v: !!int 0x10000000000000000\n", SO_E_INVAL, "t.yaml:1:4: ", "does not fit");
	expect_err("v: !!bool yes\n", SO_E_INVAL, "t.yaml:1:4: ", "!!bool");
	expect_err("v: !!null 0\n", SO_E_INVAL, "t.yaml:1:4: ", "!!null");
	expect_err("v: !!float .inf\n", SO_E_INVAL, "t.yaml:1:4: ", "cannot be represented");
	expect_err("v: !!float x\n", SO_E_INVAL, "t.yaml:1:4: ", "!!float");
	expect_err("v: !!binary aGVsbG8=\n", SO_E_INVAL, "t.yaml:1:4: ", "unsupported tag !!binary");
	expect_err("v: !custom x\n", SO_E_INVAL, "t.yaml:1:4: ", "unsupported tag !custom");
	expect_err("v: !!seq {a: 1}\n", SO_E_INVAL, "t.yaml:1:4: ", "unsupported tag !!seq on a mapping");
	expect_err("v: !!map [1]\n", SO_E_INVAL, "t.yaml:1:4: ", "unsupported tag !!map on a sequence");
	expect_err("v: !!str [1]\n", SO_E_INVAL, "t.yaml:1:4: ", "unsupported tag");
	expect_err("!!map v: 1\n", SO_E_INVAL, "t.yaml:1:1: ", "on a mapping key");
}

/* A scalar refused for its tag or its size is not echoed: a kubeconfig token could be that scalar. */
static void scalar_errors_hide_values(void **state)
{
	(void)state;
	static const char *const docs[] = {
		"users:\n- user:\n    token: !!int eyJhbGciOiJSUzI1NiJ9.c2VjcmV0\n",
		"users:\n- user:\n    token: !!float eyJhbGciOiJSUzI1NiJ9.c2VjcmV0\n",
		"users:\n- user:\n    token: !!bool eyJhbGciOiJSUzI1NiJ9.c2VjcmV0\n",
		"users:\n- user:\n    token: 0x98765432109876543210987654321\n",
		"users:\n- user:\n    token: !!int 0x98765432109876543210987654321\n",
		"users:\n- user:\n    token: 9876543210e98765\n",
	};
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		json_t *out = NULL;
		char err[512] = "";
		assert_int_equal(yamljson_to_json(docs[i], strlen(docs[i]), "t.yaml", &out, err, sizeof err), SO_E_INVAL);
		assert_null(out);
		if (strncmp(err, "t.yaml:3:12: ", 13) || strstr(err, "eyJ") || strstr(err, "c2Vj") || strstr(err, "98765"))
			fail_msg("%s: message \"%s\" should name 3:12 and not the value", docs[i], err);
	}
}

static void keys(void **state)
{
	(void)state;
	/* Keys are strings as written, whatever they would resolve to as values. */
	expect_docs("true: 1\n1: x\nnull: y\n~: z\n'': e\n0x10: h\n1.50: f\n!!int 7: t\n",
		    "[{\"true\": 1, \"1\": \"x\", \"null\": \"y\", \"~\": \"z\", \"\": \"e\", \"0x10\": \"h\", "
		    "\"1.50\": \"f\", \"7\": \"t\"}]");
	expect_docs("? a\n: 1\n? b\n", "[{\"a\": 1, \"b\": null}]");
	expect_docs("\"<<\": quoted\n", "[{\"<<\": \"quoted\"}]");
	expect_err("? [a]\n: 1\n", SO_E_INVAL, "t.yaml:1:3: ", "mapping keys must be scalars");
	expect_err("{a: 1, {b: 2}: 3}\n", SO_E_INVAL, "t.yaml:1:8: ", "mapping keys must be scalars");
	expect_err("base: &b {x: 1}\nother:\n  *b : 2\n", SO_E_INVAL, "t.yaml:3:3: ", "mapping keys must be scalars");
	expect_err("base: &b {x: 1}\nuse:\n  <<: *b\n", SO_E_INVAL, "t.yaml:3:3: ", "merge keys (<<) are not supported");
	expect_err("\"a\\0b\": 1\n", SO_E_INVAL, "t.yaml:1:1: ", "NUL byte");
}

static void duplicate_keys(void **state)
{
	(void)state;
	expect_err("a: 1\nb: 2\na: 3\n", SO_E_INVAL, "t.yaml:3:1: ", "duplicate key \"a\"");
	expect_err("top:\n  x: 1\n  'x': 2\n", SO_E_INVAL, "t.yaml:3:3: ", "duplicate key \"x\"");
	expect_err("{a: 1, a: 2}\n", SO_E_INVAL, "t.yaml:1:8: ", "duplicate key");
	expect_err("- &k name\n- {*k : 1, name: 2}\n", SO_E_INVAL, "t.yaml:2:12: ", "duplicate key \"name\"");
	/* Same key in different mappings and different documents is fine. */
	expect_docs("a: {x: 1}\nb: {x: 2}\n---\na: 3\n", "[{\"a\": {\"x\": 1}, \"b\": {\"x\": 2}}, {\"a\": 3}]");
}

static void documents(void **state)
{
	(void)state;
	expect_docs("", "[]");
	expect_docs("# only a comment\n", "[]");
	expect_docs("---\n", "[]");
	expect_docs("---\n---\n...\n", "[]");
	expect_docs("a: 1\n---\n---\nb: 2\n...\n---\n~\n--- null\n", "[{\"a\": 1}, {\"b\": 2}]");
	expect_docs("--- 5\n--- text\n--- [1]\n--- {}\n", "[5, \"text\", [1], {}]");
	expect_docs("# head\na: 1 # trailing\n# between\nb: [1, # inside\n  2]\n", "[{\"a\": 1, \"b\": [1, 2]}]");
	expect_docs("%YAML 1.2\n---\na: 1\n", "[{\"a\": 1}]");
	expect_docs("\xEF\xBB\xBF" "a: 1\n", "[{\"a\": 1}]"); /* a byte-order mark */
}

static void styles(void **state)
{
	(void)state;
	const char *block = "metadata:\n"
			    "  name: app\n"
			    "  labels:\n"
			    "    k: v\n"
			    "spec:\n"
			    "  list:\n"
			    "  - 1\n"
			    "  - name: x\n"
			    "    value: y\n"
			    "  - - nested\n"
			    "    - seq\n"
			    "  empty: {}\n"
			    "  none: []\n";
	const char *flow = "{metadata: {name: app, labels: {k: v}}, spec: {list: [1, {name: x, value: y}, [nested, seq]], "
			   "empty: {}, none: []}}";
	const char *json = "{\"metadata\": {\"name\": \"app\", \"labels\": {\"k\": \"v\"}}, \"spec\": {\"list\": [1, "
			   "{\"name\": \"x\", \"value\": \"y\"}, [\"nested\", \"seq\"]], \"empty\": {}, \"none\": []}}";
	json_t *a = docs_of(block), *b = docs_of(flow), *c = docs_of(json), *want = J(json);
	assert_true(json_equal(json_array_get(a, 0), want));
	assert_true(json_equal(json_array_get(b, 0), want));
	assert_true(json_equal(json_array_get(c, 0), want)); /* JSON is YAML */
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(want);
	expect_docs("list:\n    - a\n    - b\n", "[{\"list\": [\"a\", \"b\"]}]");
	/* Key order is kept. */
	json_t *d = docs_of("z: 1\na: 2\nm: 3\n");
	const char *k, *order[] = { "z", "a", "m" };
	json_t *v;
	size_t i = 0;
	json_object_foreach(json_array_get(d, 0), k, v)
		assert_string_equal(k, order[i++]);
	json_decref(d);
}

static void anchors(void **state)
{
	(void)state;
	expect_docs("base: &b {x: 1, y: [a, b]}\nuse: *b\nlist: [*b, *b]\n",
		    "[{\"base\": {\"x\": 1, \"y\": [\"a\", \"b\"]}, \"use\": {\"x\": 1, \"y\": [\"a\", \"b\"]}, "
		    "\"list\": [{\"x\": 1, \"y\": [\"a\", \"b\"]}, {\"x\": 1, \"y\": [\"a\", \"b\"]}]}]");
	expect_docs("a: &n 5\nb: *n\nc: &s 'txt'\nd: *s\n", "[{\"a\": 5, \"b\": 5, \"c\": \"txt\", \"d\": \"txt\"}]");
	expect_docs("- &k name\n- {*k : v}\n", "[[\"name\", {\"name\": \"v\"}]]");
	expect_docs("- &k 1\n- {*k : v}\n", "[[1, {\"1\": \"v\"}]]");
	expect_docs("&key k: *key\n", "[{\"k\": \"k\"}]");
	/* Redefining an anchor: later aliases see the new node. */
	expect_docs("- &a 1\n- *a\n- &a 2\n- *a\n", "[[1, 1, 2, 2]]");
	/* The copies are independent values. */
	json_t *docs = docs_of("a: &x {k: 1}\nb: *x\n");
	json_t *a = json_object_get(json_array_get(docs, 0), "a"), *b = json_object_get(json_array_get(docs, 0), "b");
	assert_ptr_not_equal(a, b);
	json_object_set_new(a, "k", json_integer(2));
	assert_int_equal(json_integer_value(json_object_get(b, "k")), 1);
	json_decref(docs);

	expect_err("a: *nope\n", SO_E_INVAL, "t.yaml:1:4: ", "unknown anchor \"nope\"");
	expect_err("a: &x [1, *x]\n", SO_E_INVAL, "t.yaml:1:11: ", "unknown anchor \"x\"");       /* its own ancestor */
	expect_err("a: &x 1\n---\nb: *x\n", SO_E_INVAL, "t.yaml:3:4: ", "unknown anchor \"x\""); /* per document */
}

static void alias_bomb(void **state)
{
	(void)state;
	const char *lol = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
			  "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
			  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
			  "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
			  "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
			  "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
			  "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
			  "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
			  "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
	expect_err(lol, SO_E_TOO_LARGE, "t.yaml:", "aliases expand to too much data");

	/* Fan-out through a large scalar is charged by its bytes. */
	struct buf b = BUF_INIT(8u << 20);
	assert_int_equal(buf_appends(&b, "s: &s \""), 0);
	for (int i = 0; i < 1 << 20; i++)
		assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_int_equal(buf_appends(&b, "\"\nl: ["), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(buf_appends(&b, "*s, "), 0);
	assert_int_equal(buf_appends(&b, "*s]\n"), 0);
	expect_error(b.data, b.len, SO_E_TOO_LARGE, "t.yaml:2:", "aliases expand");
	buf_free(&b);

	/* Moderate reuse stays within the budget. */
	json_t *docs = docs_of("a: &a [1, 2, 3, 4, 5, 6, 7, 8]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
			       "c: [*b, *b, *b, *b, *b, *b, *b, *b]\n");
	assert_int_equal(json_array_size(json_object_get(json_array_get(docs, 0), "c")), 8);
	json_decref(docs);
}

static void caps(void **state)
{
	(void)state;
	struct buf b = BUF_INIT(16u << 20);
	char want[64];

	/* Depth: 64 nested sequences parse; 65 do not, naming the position of the 65th. */
	for (int i = 0; i < 64; i++)
		buf_appends(&b, "[");
	for (int i = 0; i < 64; i++)
		buf_appends(&b, "]");
	json_t *docs = docs_of(b.data);
	json_decref(docs);
	buf_reset(&b);
	for (int i = 0; i < 65; i++)
		buf_appends(&b, "[");
	for (int i = 0; i < 65; i++)
		buf_appends(&b, "]");
	expect_err(b.data, SO_E_TOO_LARGE, "t.yaml:1:65: ", "nested deeper than 64");
	buf_reset(&b);
	/* Block mappings count too. */
	for (int i = 0; i < 70; i++)
		buf_appendf(&b, "%*sk%d:\n", i, "", i);
	expect_err(b.data, SO_E_TOO_LARGE, "t.yaml:65:", "nested deeper than 64");
	buf_reset(&b);

	/* An alias whose node would end up too deep. */
	buf_appends(&b, "a: &deep ");
	for (int i = 0; i < 40; i++)
		buf_appends(&b, "[");
	for (int i = 0; i < 40; i++)
		buf_appends(&b, "]");
	buf_appends(&b, "\nb: ");
	for (int i = 0; i < 30; i++)
		buf_appends(&b, "[");
	buf_appends(&b, "*deep");
	for (int i = 0; i < 30; i++)
		buf_appends(&b, "]");
	buf_appends(&b, "\n");
	expect_err(b.data, SO_E_TOO_LARGE, "t.yaml:2:", "nested deeper than 64");
	buf_reset(&b);

	/* Anchors: 1024 are fine, 1025 are not. */
	for (int i = 0; i < 1024; i++)
		buf_appendf(&b, "- &a%d %d\n", i, i);
	docs = docs_of(b.data);
	assert_int_equal(json_array_size(json_array_get(docs, 0)), 1024);
	json_decref(docs);
	buf_appends(&b, "- &one_more 1\n");
	expect_err(b.data, SO_E_TOO_LARGE, "t.yaml:1025:3: ", "more than 1024 anchors");
	buf_reset(&b);

	/* Aliases: 16384 are fine, 16385 are not. */
	buf_appends(&b, "a: &a x\nl: [");
	for (int i = 0; i < YAML_MAX_ALIASES; i++)
		buf_appends(&b, "*a,");
	buf_appends(&b, "]\n");
	docs = docs_of(b.data);
	assert_int_equal(json_array_size(json_object_get(json_array_get(docs, 0), "l")), YAML_MAX_ALIASES);
	json_decref(docs);
	b.len -= 2;
	buf_appends(&b, "*a]\n");
	expect_err(b.data, SO_E_TOO_LARGE, "t.yaml:2:", "more than 16384 aliases");
	buf_reset(&b);

	/* Size. */
	buf_appends(&b, "a: ");
	while (b.len < YAML_MAX_INPUT)
		buf_appends(&b, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	b.len = YAML_MAX_INPUT;
	b.data[b.len] = '\0';
	docs = docs_of(b.data); /* exactly at the cap: still read */
	json_decref(docs);
	snprintf(want, sizeof want, "t.yaml: larger than %u MiB", YAML_MAX_INPUT >> 20);
	expect_error(b.data, YAML_MAX_INPUT + 1, SO_E_TOO_LARGE, want, NULL);
	buf_free(&b);
}

static void syntax_errors(void **state)
{
	(void)state;
	expect_err("a: 1\n\tb: 2\n", SO_E_INVAL, "t.yaml:2:1: ", "tab");
	expect_err("a:\n\t- 1\n", SO_E_INVAL, "t.yaml:2:1: ", NULL);
	expect_err("a: [1, 2\nb: 3\n", SO_E_INVAL, "t.yaml:", "while parsing a flow sequence");
	expect_err("a: 'unterminated\n", SO_E_INVAL, "t.yaml:2:1: ", "quoted scalar");
	expect_err("a: 1\n b: 2\n", SO_E_INVAL, "t.yaml:2:3: ", "mapping values are not allowed");
	expect_err("a: 1\n- b\n", SO_E_INVAL, "t.yaml:2:1: ", NULL);
	expect_err("a: \"\\q\"\n", SO_E_INVAL, "t.yaml:1:", "escape");
	expect_err("a: \"\\ud800\"\n", SO_E_INVAL, "t.yaml:1:", NULL);
	expect_err("a: 1\nb: \xff\n", SO_E_INVAL, "t.yaml:2:4: ", "invalid");
	expect_err("a: 1\nb: x\x01y\n", SO_E_INVAL, "t.yaml:2:5: ", NULL);
	expect_error("a: 1\0b", 6, SO_E_INVAL, "t.yaml:1:5: ", NULL);
	expect_err("&a &b x\n", SO_E_INVAL, "t.yaml:1:", NULL);
	/* NULL name and no message buffer are tolerated. */
	json_t *docs = (json_t *)1;
	assert_int_equal(yamljson_to_json("a: [", 4, NULL, &docs, NULL, 0), SO_E_INVAL);
	assert_null(docs);
	char err[128];
	assert_int_equal(yamljson_to_json("a: [", 4, NULL, &docs, err, sizeof err), SO_E_INVAL);
	assert_true(!strncmp(err, "<input>:", 8));
	assert_int_equal(yamljson_to_json(NULL, 0, "n", &docs, err, sizeof err), SO_OK);
	assert_int_equal(json_array_size(docs), 0);
	json_decref(docs);
}

/* Every sample manifest parses; each document is a Kubernetes object (apiVersion, kind) or the kustomization. */
static void samples(void **state)
{
	(void)state;
	const char *repo = getenv("REPO") ? getenv("REPO") : ".";
	char dir[1024], path[2048];
	struct dirent *e;
	DIR *d;
	int files = 0;

	snprintf(dir, sizeof dir, "%s/config/samples", repo);
	d = opendir(dir);
	if (!d)
		fail_msg("cannot open %s (run from the repository root or set REPO)", dir);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".yaml"))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		struct buf b = BUF_INIT(1u << 20);
		char chunk[4096], err[256] = "";
		size_t got;
		while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
			assert_int_equal(buf_append(&b, chunk, got), 0);
		fclose(f);
		json_t *docs = NULL, *doc;
		size_t i;
		if (yamljson_to_json(b.data, b.len, e->d_name, &docs, err, sizeof err))
			fail_msg("%s: %s", path, err);
		assert_true(json_array_size(docs) > 0);
		json_array_foreach(docs, i, doc) {
			assert_true(json_is_object(doc));
			if (strcmp(e->d_name, "kustomization.yaml")) {
				assert_true(json_is_string(json_object_get(doc, "apiVersion")));
				assert_true(json_is_string(json_object_get(doc, "kind")));
			}
		}
		json_decref(docs);
		buf_free(&b);
		files++;
	}
	closedir(d);
	assert_true(files >= 15);

	/* One sample in detail: quoted image, integers, a comment. */
	json_t *docs = docs_of("# c\napiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: simple-spinapp\n"
			       "spec:\n  image: \"ghcr.io/x:v0.23.0\"\n  replicas: 1\n  executor: containerd-shim-spin\n");
	json_t *want = J("[{\"apiVersion\": \"core.spinkube.dev/v1alpha1\", \"kind\": \"SpinApp\", \"metadata\": {\"name\": "
			 "\"simple-spinapp\"}, \"spec\": {\"image\": \"ghcr.io/x:v0.23.0\", \"replicas\": 1, \"executor\": "
			 "\"containerd-shim-spin\"}}]");
	assert_true(json_equal(docs, want));
	json_decref(docs);
	json_decref(want);
}

/* ---- yamljson_from_json ---- */

static void round_trip(json_t *v)
{
	struct buf b = BUF_INIT(64u << 20);
	json_t *docs = NULL;
	char err[256] = "";
	int rc = yamljson_from_json(v, &b);

	if (rc)
		fail_msg("yamljson_from_json: %s", so_strerror(rc));
	rc = yamljson_to_json(b.data, b.len, "emitted", &docs, err, sizeof err);
	if (rc)
		fail_msg("emitted YAML does not parse: %s\n%s", err, b.data);
	if (json_is_null(v)) {
		assert_int_equal(json_array_size(docs), 0);
	} else if (json_array_size(docs) != 1 || !json_equal(json_array_get(docs, 0), v)) {
		char *got = json_dumps(docs, JSON_ENCODE_ANY), *want = json_dumps(v, JSON_ENCODE_ANY);
		fail_msg("round trip differs:\n%s\ngave %s\nwant %s", b.data, got, want);
	}
	json_decref(docs);
	buf_free(&b);
}

static void expect_yaml(const char *json, const char *yaml)
{
	json_t *v = J(json);
	struct buf b = BUF_INIT(1u << 20);
	assert_int_equal(yamljson_from_json(v, &b), 0);
	if (strcmp(b.data, yaml))
		fail_msg("%s\n gave:\n%s\n want:\n%s", json, b.data, yaml);
	round_trip(v);
	json_decref(v);
	buf_free(&b);
}

static void emit_layout(void **state)
{
	(void)state;
	expect_yaml("{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"x\", \"labels\": {\"a/b\": \"c\"}},"
		    " \"spec\": {\"ports\": [{\"port\": 80, \"targetPort\": \"http-app\"}], \"selector\": {}, \"e\": [],"
		    " \"n\": null, \"t\": true, \"f\": false, \"r\": 0.5, \"seqs\": [[1, 2], [], [[3]]], \"s\": [\"a\", {}]}}",
		    "apiVersion: v1\n"
		    "kind: Service\n"
		    "metadata:\n"
		    "  name: x\n"
		    "  labels:\n"
		    "    a/b: c\n"
		    "spec:\n"
		    "  ports:\n"
		    "  - port: 80\n"
		    "    targetPort: http-app\n"
		    "  selector: {}\n"
		    "  e: []\n"
		    "  \"n\": null\n"
		    "  t: true\n"
		    "  f: false\n"
		    "  r: 0.5\n"
		    "  seqs:\n"
		    "  - - 1\n"
		    "    - 2\n"
		    "  - []\n"
		    "  - - - 3\n"
		    "  s:\n"
		    "  - a\n"
		    "  - {}\n");
	expect_yaml("[{\"a\": [{\"b\": 1}]}]", "- a:\n  - b: 1\n");
	expect_yaml("\"top\"", "top\n");
	expect_yaml("\"1\"", "\"1\"\n");
	expect_yaml("7", "7\n");
	expect_yaml("{}", "{}\n");
	expect_yaml("[]", "[]\n");
	expect_yaml("{\"v\": \"0.0.0.0:80\"}", "v: \"0.0.0.0:80\"\n");
	expect_yaml("{\"v\": \"a\\nb\"}", "v: \"a\\nb\"\n");
	expect_yaml("{\"true\": \"yes\"}", "\"true\": \"yes\"\n");
	expect_yaml("{\"v\": 1.0, \"w\": 1e300, \"x\": -0.0, \"y\": 0.1}",
		    "v: 1.0\nw: 1e+300\nx: -0.0\n\"y\": 0.1\n");
}

static void emit_strings(void **state)
{
	(void)state;
	static const char *const strings[] = {
		"", " ", " a", "a ", "a", "true", "True", "TRUE", "yes", "Yes", "NO", "on", "Off", "y", "N", "null", "Null",
		"~", "1", "-1", "+1", "0x1F", "0o17", "012", "1_000", "1.5", ".5", "1e3", ".inf", "-.inf", ".NaN", "-",
		"--", "---", "...", "- a", "-a", "a: b", "a:b", "a:", "a #b", "a#b", "#a", ":a", "?", "? a", "?a", ",",
		"a,b", "[", "]", "{", "}", "[a]", "{a: b}", "<<", "=", "&a", "*a", "!a", "!!str", "|", ">", "'", "\"",
		"%", "@", "`", "a'b", "a\"b", "back\\slash", "multi\nline", "trailing\n", "\n", "tab\there", "\t",
		"cr\rlf", "\x01\x1f\x7f", "é", "日本語", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xC2\x85", "\xC2\x80\xC2\x9F",
		"\xEF\xBB\xBF" "bom", "\xEF\xBF\xBE", "\xF0\x9F\x98\x80", "http://x:80/y?z#f", "$HOME", "(a)", "_x",
		"/path", "12:30", "2001-12-14", "v0.23.0", "500Mi", "ghcr.io/a/b:v1", "core.spinkube.dev/app.x.status",
		"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "a\\nb", "\\", "  two  ",
	};
	json_t *map = json_object(), *seq = json_array();
	for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
		json_t *s = json_string(strings[i]);
		assert_non_null(s);
		round_trip(s);
		json_array_append(seq, s);
		json_object_set(map, strings[i], s); /* as keys too */
		json_decref(s);
	}
	json_t *nul = json_stringn("nul\0byte", 8);
	round_trip(nul);
	json_array_append_new(seq, nul);
	round_trip(seq);
	round_trip(map);
	json_decref(seq);
	json_decref(map);

	/* Strings that read as something else in YAML 1.1 are quoted even though 1.2 would not need it. */
	static const char *const quoted[] = { "yes", "no", "on", "off", "y", "n", "1_000", "Null", "0755" };
	for (size_t i = 0; i < sizeof quoted / sizeof quoted[0]; i++) {
		json_t *s = json_string(quoted[i]);
		struct buf b = BUF_INIT(1024);
		assert_int_equal(yamljson_from_json(s, &b), 0);
		assert_int_equal(b.data[0], '"');
		buf_free(&b);
		json_decref(s);
	}
}

static void emit_numbers_and_keys(void **state)
{
	(void)state;
	static const double reals[] = { 0.0, -0.0, 0.1, 1.0, -2.5, 1e300, 1e-300, 5e-324, 1.7976931348623157e308,
					123456789012345678.0, 1e15, 1e16, 1e21, 3.141592653589793, 2.0 / 3.0 };
	for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
		json_t *r = json_real(reals[i]);
		round_trip(r);
		json_decref(r);
	}
	static const json_int_t ints[] = { 0, 1, -1, INT64_MAX, INT64_MIN, 1000000 };
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		json_t *n = json_integer(ints[i]);
		round_trip(n);
		json_decref(n);
	}
	/* A key longer than an implicit key may be is written as "? key". */
	char key[2000];
	memset(key, 'k', sizeof key - 1);
	key[sizeof key - 1] = '\0';
	json_t *v = json_pack("{s:i, s:{s:[i]}, s:[s], s:{}}", key, 1, "n", key, 2, "m", key, "e");
	json_t *w = json_pack("{s:{s:i}, s:[{s:[i,i]}]}", key, "a", 1, "b", key, 1, 2);
	round_trip(v);
	round_trip(w);
	json_decref(v);
	json_decref(w);
}

static void emit_limits(void **state)
{
	(void)state;
	json_t *v = json_array(), *inner = v;
	struct buf b = BUF_INIT(1024);

	/* 64 levels are written (and read back); 65 are refused and the buffer is left as it was. */
	for (int i = 1; i < 64; i++) {
		json_t *a = json_array();
		json_array_append_new(inner, a);
		inner = a;
	}
	json_array_append_new(inner, json_integer(1));
	round_trip(v);
	json_t *w = json_array();
	json_array_append(w, v);
	assert_int_equal(buf_appends(&b, "keep"), 0);
	assert_int_equal(yamljson_from_json(w, &b), SO_E_INVAL);
	assert_string_equal(b.data, "keep");
	json_decref(w);
	json_decref(v);

	/* The buffer's cap: SO_E_TOO_LARGE, contents unchanged. */
	struct buf small = BUF_INIT(16);
	assert_int_equal(buf_appends(&small, "x"), 0);
	json_t *big = json_pack("{s:s, s:s}", "key", "a value longer than sixteen bytes", "k2", "v");
	assert_int_equal(yamljson_from_json(big, &small), SO_E_TOO_LARGE);
	assert_string_equal(small.data, "x");
	assert_int_equal(small.len, 1);
	json_decref(big);
	buf_free(&small);

	/* Invalid UTF-8 inside a jansson string (only json_stringn_nocheck can make one) is refused. */
	json_t *bad = json_stringn_nocheck("a\xff", 2);
	assert_int_equal(yamljson_from_json(bad, &b), SO_E_INVAL);
	assert_string_equal(b.data, "keep");
	json_decref(bad);
	assert_int_equal(yamljson_from_json(NULL, &b), SO_E_INVAL);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_scalars),
		cmocka_unit_test(quoted_scalars),
		cmocka_unit_test(tags),
		cmocka_unit_test(scalar_errors_hide_values),
		cmocka_unit_test(keys),
		cmocka_unit_test(duplicate_keys),
		cmocka_unit_test(documents),
		cmocka_unit_test(styles),
		cmocka_unit_test(anchors),
		cmocka_unit_test(alias_bomb),
		cmocka_unit_test(caps),
		cmocka_unit_test(syntax_errors),
		cmocka_unit_test(samples),
		cmocka_unit_test(emit_layout),
		cmocka_unit_test(emit_strings),
		cmocka_unit_test(emit_numbers_and_keys),
		cmocka_unit_test(emit_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
