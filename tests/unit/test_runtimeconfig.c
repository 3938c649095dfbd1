/*
 * The runtime-config Secret (contract §2.6–§2.7, §6.5) and resource quantities.
 *
 * Expected TOML bytes are the contract's where it gives them, and otherwise were produced by upstream's own types
 * (internal/runtimeconfig/types.go) marshalled with go-toml v2.2.2 and v2.2.4, which agree. Adler-32 suffixes are
 * hard-coded where the contract states them and recomputed here with zlib for every name checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "operator/spin/spin.h"
#include "operator/kube/quantity.h"
#include "operator/spin/toml.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"

#define TOML_CAP (1024 * 1024)

static const char EMPTY_CONFIG_TOML[] = "[[config_provider]]\n"
					"type = 'env'\n"
					"prefix = 'SPIN_VARIABLE_'\n";

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("test JSON does not parse: %s (line %d, column %d)", e.text, e.line, e.column);
	return j;
}

/* A stored SpinApp (it has a uid) in namespace "test-ns", with spec.runtimeConfig = rc_json unless NULL. */
static json_t *make_app(const char *name, const char *rc_json)
{
	json_t *app = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:i, s:s}}", "apiVersion", SPIN_API_VERSION,
				"kind", "SpinApp", "metadata", "name", name, "namespace", "test-ns", "uid",
				"0b8a2f4e-5d6c-4a1b-9e3f-123456789abc", "spec", "image", "ghcr.io/example/app:v1",
				"replicas", 1, "executor", "containerd-shim-spin");

	assert_non_null(app);
	if (rc_json)
		assert_int_equal(json_object_set_new(json_object_get(app, "spec"), "runtimeConfig", parse(rc_json)), 0);
	return app;
}

static void expect_name(const char *app_name, const char *toml, size_t len, const char *hard_coded)
{
	struct buf name = BUF_INIT(512);
	char want[512];
	uLong sum = adler32(adler32(0L, Z_NULL, 0), (const Bytef *)toml, (uInt)len);

	snprintf(want, sizeof want, "%s-%lx", app_name, (unsigned long)sum);
	assert_int_equal(spin_runtime_config_secret_name(app_name, toml, len, &name), SO_OK);
	assert_string_equal(name.data, want);
	if (hard_coded)
		assert_string_equal(name.data, hard_coded);
	buf_free(&name);
}

/* Renders app with refs (JSON text or NULL) and checks the bytes; want NULL means "no TOML generated". */
static void expect_toml(const json_t *app, const char *refs_json, const char *want)
{
	struct buf toml = BUF_INIT(TOML_CAP);
	json_t *refs = refs_json ? parse(refs_json) : NULL;
	char err[256] = "";
	int generated = -1;

	assert_int_equal(spin_runtime_config_toml(app, refs, &toml, &generated, err, sizeof err), SO_OK);
	if (want) {
		assert_int_equal(generated, 1);
		assert_non_null(toml.data);
		assert_string_equal(toml.data, want);
		assert_int_equal(toml.len, strlen(want));
	} else {
		assert_int_equal(generated, 0);
		assert_int_equal(toml.len, 0);
	}
	json_decref(refs);
	buf_free(&toml);
}

static void expect_toml_error(const json_t *app, const char *refs_json, int code, const char *message)
{
	struct buf toml = BUF_INIT(TOML_CAP);
	json_t *refs = refs_json ? parse(refs_json) : NULL;
	char err[256] = "";
	int generated = -1;

	assert_int_equal(spin_runtime_config_toml(app, refs, &toml, &generated, err, sizeof err), code);
	assert_string_equal(err, message);
	assert_int_equal(generated, 0);
	assert_int_equal(toml.len, 0);
	json_decref(refs);
	buf_free(&toml);
}

/* ---- quantities ---- */

static void expect_quantity(const char *q, int64_t want)
{
	int64_t got = 0;
	int rc = quantity_value(q, &got);

	if (rc != SO_OK || got != want)
		fail_msg("quantity \"%s\": rc %d value %" PRId64 ", want %" PRId64, q, rc, got, want);
}

static void expect_quantity_rc(const char *q, int want)
{
	int64_t got = 0;
	int rc = quantity_value(q, &got);

	if (rc != want)
		fail_msg("quantity \"%s\": rc %d (value %" PRId64 "), want rc %d", q, rc, got, want);
}

static void quantity_examples(void **state)
{
	(void)state;
	expect_quantity("40M", 40000000);
	expect_quantity("128Mi", 134217728);
	expect_quantity("100m", 1);
	expect_quantity("1.5", 2);
	expect_quantity("1.5Gi", 1610612736);
	expect_quantity("0.1Ki", 103); /* 102.4, rounded up */
	expect_quantity("1e3", 1000);
	expect_quantity("1E3", 1000);
	expect_quantity("1E", 1000000000000000000);
	expect_quantity("1k", 1000);
	expect_quantity("2.5e-1", 1);
	expect_quantity("12e+2", 1200);
	expect_quantity("0", 0);
	expect_quantity("-1", -1);
	expect_quantity("+7", 7);
	expect_quantity("007", 7);
	expect_quantity("1n", 1);
	expect_quantity("1e-100", 1);
	expect_quantity("0e999", 0);
	expect_quantity("9223372036854775807", INT64_MAX);
	expect_quantity("9223372036.854775807G", INT64_MAX);
	expect_quantity("8191Pi", INT64_C(9222246136947933184));
}

/* ParseQuantity's verdict and ToDec().Value() come from one parser (operator/kube/quantity.c): the digit-less
 * literals the value refuses are the ones ParseQuantity refuses with ErrNumeric, and the ones it takes as zero
 * parse. */
static void quantity_one_parser(void **state)
{
	static const char *const numeric[] = { "Ei", "Pi", "e-10", "-Ei" };
	static const char *const zero[] = { "Mi", "Ti", "e3", ".", "-" };
	struct quantity q;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++) {
		assert_int_equal(quantity_parse(numeric[i], &q, &why), SO_E_INVAL);
		assert_string_equal(why, "unable to parse numeric value");
		expect_quantity_rc(numeric[i], SO_E_INVAL);
	}
	for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++) {
		assert_int_equal(quantity_parse(zero[i], &q, &why), SO_OK);
		assert_true(q.nano == 0 && !q.huge && !q.negative);
		quantity_free(&q);
		expect_quantity(zero[i], 0);
	}
	assert_int_equal(quantity_parse("1iK", &q, &why), SO_E_INVAL);
	assert_string_equal(why, "unable to parse quantity's suffix");
	expect_quantity_rc("1iK", SO_E_INVAL);
}

/* Values where Go's ParseQuantity + ToDec().Value() surprise, checked against k8s.io/apimachinery v0.34.3. */
static void quantity_go_quirks(void **state)
{
	(void)state;
	expect_quantity("8Ei", INT64_MAX); /* binary quantities are capped at 2^63-1 */
	expect_quantity("9Ei", INT64_MAX);
	expect_quantity("9223372036854775807Ki", INT64_MAX);
	expect_quantity("-8Ei", -INT64_MAX);
	expect_quantity("-1.5", 0); /* truncate toward zero, then +1 for a fraction */
	expect_quantity("-100m", 1);
	expect_quantity("-2.5", -1);
	expect_quantity("-1.9999999999", -2); /* rounded away from zero to nano scale first */
	expect_quantity("Mi", 0);		/* no digits: zero ... */
	expect_quantity("e3", 0);
	expect_quantity(".", 0);
	expect_quantity("-", 0);
	expect_quantity("1.", 1);
	expect_quantity(".5", 1);
	expect_quantity_rc("Ei", SO_E_INVAL); /* ... unless Go takes its inf.Dec path, which wants a digit */
	expect_quantity_rc("Pi", SO_E_INVAL);
	expect_quantity("Ti", 0);
	expect_quantity_rc("e-10", SO_E_INVAL);
	expect_quantity("e-9", 0);
	expect_quantity("1e4294967299", 1000); /* Go keeps the exponent's low 32 bits */
	/* Go's int64 arithmetic overflows on these (it answers 0 and 1): we give the exact value. */
	expect_quantity("-9223372036854775808", INT64_MIN);
	expect_quantity("-9223372036854775807", -INT64_MAX);
}

static void quantity_rejects(void **state)
{
	(void)state;
	int64_t v;
	static const char *const bad[] = { "",	 "12 Mi", " 1", "1 ", "1.2.3", "1e",  "1e+",   "1K",
					   "1Kb", "0x1",   "1mi", "ki", "1eKi",  "1..5", "--1", "1e99999999999999999999" };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_quantity_rc(bad[i], SO_E_INVAL);
	assert_int_equal(quantity_value(NULL, &v), SO_E_INVAL);
}

static void quantity_overflow(void **state)
{
	(void)state;
	static const char *const big[] = { "9223372036854775808",
					   "99999999999999999999999",
					   "10E",
					   "1e19",
					   "9223372036854775807.5",
					   "-9223372036854775809",
					   "1e2147483647",
					   "123456789012345678901234567890123456789012345678901234567890E" };

	for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
		expect_quantity_rc(big[i], SO_E_TOO_LARGE);
}

/* ---- the TOML writer ---- */

static void check_string(const char *s, size_t n, const char *want)
{
	struct buf b = BUF_INIT(256);

	assert_int_equal(toml_append_string(&b, s, n), SO_OK);
	assert_string_equal(b.data, want);
	buf_free(&b);
}

static void check_key(const char *k, const char *want)
{
	struct buf b = BUF_INIT(256);

	assert_int_equal(toml_append_key(&b, k, strlen(k)), SO_OK);
	assert_string_equal(b.data, want);
	buf_free(&b);
}

static void toml_string_quoting(void **state)
{
	(void)state;
	check_string("plain", 5, "'plain'");
	check_string("", 0, "''");
	check_string("say \"hi\" \\o/", 12, "'say \"hi\" \\o/'");
	check_string("it's", 4, "\"it's\"");
	check_string("secret_sauce\n", 13, "\"secret_sauce\\n\"");
	check_string("a\r\nb", 4, "\"a\\r\\nb\"");
	check_string("a\tb", 3, "'a\tb'"); /* a tab alone stays literal */
	check_string("a\tb'", 4, "\"a\\tb'\"");
	check_string("h\xc3\xa9llo \xe2\x9c\x93", 10, "'h\xc3\xa9llo \xe2\x9c\x93'");
	check_string("bad\xff\xfe", 5, "'bad\xff\xfe'"); /* not UTF-8: copied as is */
	check_string("nul\0byte\x7f", 9, "\"nul\\u0000byte\\u007F\"");
	check_string("\x01\x08\x0b\x0c\x1f", 5, "\"\\u0001\\b\\u000B\\f\\u001F\"");
	check_string("a\\b\"c\td'", 8, "\"a\\\\b\\\"c\\td'\"");
}

static void toml_key_quoting(void **state)
{
	(void)state;
	check_key("url", "url");
	check_key("auth_token", "auth_token");
	check_key("A-z_0-9", "A-z_0-9");
	check_key("", "''");
	check_key("my.key", "'my.key'");
	check_key("a b", "'a b'");
	check_key("a\tb", "'a\tb'");
	check_key("it's", "\"it's\"");
	check_key("line\nbreak", "\"line\\nbreak\"");
	check_key("h\xc3\xa9", "'h\xc3\xa9'");
	check_key("\"q\"", "'\"q\"'");
}

static void toml_unsupported_shapes(void **state)
{
	(void)state;
	static const char *const bad[] = { "{\"a\": 1}", "{\"a\": true}", "{\"a\": []}", "{\"a\": [\"x\"]}",
					   "{\"a\": [{}, 1]}", "{\"a\": {\"b\": null}}" };
	struct buf b = BUF_INIT(1024);

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *doc = parse(bad[i]);
		assert_int_equal(toml_encode(doc, &b), SO_E_INVAL);
		assert_int_equal(b.len, 0);
		json_decref(doc);
	}
	buf_free(&b);
}

/* ---- spin_runtime_config_toml ---- */

static void no_runtime_config(void **state)
{
	(void)state;
	json_t *app = make_app("simple-spinapp", NULL);

	expect_toml(app, NULL, EMPTY_CONFIG_TOML);
	expect_name("simple-spinapp", EMPTY_CONFIG_TOML, strlen(EMPTY_CONFIG_TOML), "simple-spinapp-760b133c");
	json_decref(app);
	/* An empty runtimeConfig is the same. */
	app = make_app("simple-spinapp", "{}");
	expect_toml(app, "{\"secrets\": {}, \"configmaps\": {}}", EMPTY_CONFIG_TOML);
	json_decref(app);
}

static void redis_kv_store(void **state)
{
	(void)state;
	static const char want[] = "[[config_provider]]\n"
				   "type = 'env'\n"
				   "prefix = 'SPIN_VARIABLE_'\n"
				   "\n"
				   "[key_value_store]\n"
				   "[key_value_store.default]\n"
				   "type = 'redis'\n"
				   "url = 'redis://localhost:9000'\n";
	json_t *app = make_app("app", "{\"keyValueStores\": [{\"name\": \"default\", \"type\": \"redis\", \"options\": "
				      "[{\"name\": \"url\", \"value\": \"redis://localhost:9000\"}]}]}");

	expect_toml(app, NULL, want);
	expect_name("app", want, strlen(want), "app-533932d0");
	json_decref(app);
}

/* config/samples/runtime-config.yaml with Secret my-super-secret present. */
static const char SAMPLE_RC[] =
	"{\"sqliteDatabases\": [{\"name\": \"default\", \"type\": \"libsql\", \"options\": ["
	"  {\"name\": \"url\", \"value\": \"https://sensational-penguin-ahacker.libsql.example.com\"},"
	"  {\"name\": \"token\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"my-super-secret\","
	"   \"key\": \"turso-token\"}}}]}],"
	" \"llmCompute\": {\"type\": \"remote_http\", \"options\": ["
	"  {\"name\": \"url\", \"value\": \"https://llm-app.fermyon.app\"},"
	"  {\"name\": \"auth_token\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"my-super-secret\","
	"   \"key\": \"llm-token\"}}}]},"
	" \"keyValueStores\": [{\"name\": \"default\", \"type\": \"redis\", \"options\": ["
	"  {\"name\": \"url\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"my-super-secret\","
	"   \"key\": \"redis-full-url\"}}}]}]}";

static const char SAMPLE_REFS[] =
	"{\"secrets\": {\"my-super-secret\": {\"apiVersion\": \"v1\", \"kind\": \"Secret\","
	" \"metadata\": {\"name\": \"my-super-secret\", \"namespace\": \"test-ns\"}, \"data\": {"
	"  \"turso-token\": \"dHVyc28tdDBrZW4=\", \"llm-token\": \"bGxtLXQwa2Vu\","
	"  \"redis-full-url\": \"cmVkaXM6Ly86cDRzc0ByZWRpcy5leGFtcGxlLmNvbTo2Mzc5\"}}}, \"configmaps\": {}}";

static void runtime_config_sample(void **state)
{
	(void)state;
	static const char want[] = "[[config_provider]]\n"
				   "type = 'env'\n"
				   "prefix = 'SPIN_VARIABLE_'\n"
				   "\n"
				   "[key_value_store]\n"
				   "[key_value_store.default]\n"
				   "type = 'redis'\n"
				   "url = 'redis://:p4ss@redis.example.com:6379'\n"
				   "\n"
				   "[sqlite_database]\n"
				   "[sqlite_database.default]\n"
				   "token = 'turso-t0ken'\n"
				   "type = 'libsql'\n"
				   "url = 'https://sensational-penguin-ahacker.libsql.example.com'\n"
				   "\n"
				   "[llm_compute]\n"
				   "auth_token = 'llm-t0ken'\n"
				   "type = 'remote_http'\n"
				   "url = 'https://llm-app.fermyon.app'\n";
	json_t *app = make_app("runtime-config", SAMPLE_RC);

	expect_toml(app, SAMPLE_REFS, want);
	expect_name("runtime-config", want, strlen(want), "runtime-config-8acb8d42");
	json_decref(app);
}

/* Several stores: sorted names, a blank line between siblings, key/values sorted inside each. */
static void several_tables_layout(void **state)
{
	(void)state;
	static const char want[] = "[[config_provider]]\n"
				   "type = 'env'\n"
				   "prefix = 'SPIN_VARIABLE_'\n"
				   "\n"
				   "[key_value_store]\n"
				   "[key_value_store.Zeta]\n"
				   "type = 'spin'\n"
				   "\n"
				   "[key_value_store.alpha]\n"
				   "path = '/mnt/a.db'\n"
				   "type = 'sqlite'\n"
				   "\n"
				   "[key_value_store.'my.store']\n"
				   "b = '2'\n"
				   "type = 'redis'\n"
				   "\n"
				   "[sqlite_database]\n"
				   "[sqlite_database.default]\n"
				   "type = 'spin'\n";
	json_t *app = make_app(
		"layout",
		"{\"sqliteDatabases\": [{\"name\": \"default\", \"type\": \"spin\"}],"
		" \"keyValueStores\": ["
		"  {\"name\": \"alpha\", \"type\": \"sqlite\", \"options\": [{\"name\": \"path\", \"value\": \"/mnt/a.db\"}]},"
		"  {\"name\": \"my.store\", \"type\": \"redis\", \"options\": [{\"name\": \"b\", \"value\": \"1\"},"
		"                                                            {\"name\": \"b\", \"value\": \"2\"}]},"
		"  {\"name\": \"Zeta\", \"type\": \"spin\"}]}");

	expect_toml(app, NULL, want);
	json_decref(app);
}

static void basic_string_values(void **state)
{
	(void)state;
	static const char want[] = "[[config_provider]]\n"
				   "type = 'env'\n"
				   "prefix = 'SPIN_VARIABLE_'\n"
				   "\n"
				   "[key_value_store]\n"
				   "[key_value_store.'my.store']\n"
				   "'' = 'v'\n"
				   "'a b' = 'v'\n"
				   "ctl = \"nul\\u0000byte\\u007F\"\n"
				   "\"it's\" = 'v'\n"
				   "mixed = \"a\\\\b\\\"c\\td'\"\n"
				   "'my.key' = 'v'\n"
				   "newline = \"secret_sauce\\n\"\n"
				   "quote = \"it's\"\n"
				   "tab = 'a\tb'\n"
				   "type = 'redis'\n"
				   "unicode = 'h\xc3\xa9llo \xe2\x9c\x93'\n";
	json_t *app = make_app(
		"quoting",
		"{\"keyValueStores\": [{\"name\": \"my.store\", \"type\": \"redis\", \"options\": ["
		" {\"name\": \"quote\", \"value\": \"it's\"},"
		" {\"name\": \"newline\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"spin-app-secret\", \"key\": \"password\"}}},"
		" {\"name\": \"tab\", \"value\": \"a\\tb\"},"
		" {\"name\": \"unicode\", \"value\": \"h\\u00e9llo \\u2713\"},"
		" {\"name\": \"ctl\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"spin-app-secret\", \"key\": \"binary\"}}},"
		" {\"name\": \"mixed\", \"value\": \"a\\\\b\\\"c\\td'\"},"
		" {\"name\": \"my.key\", \"value\": \"v\"}, {\"name\": \"it's\", \"value\": \"v\"},"
		" {\"name\": \"\", \"value\": \"v\"}, {\"name\": \"a b\", \"value\": \"v\"}]}]}");

	expect_toml(app,
		    "{\"secrets\": {\"spin-app-secret\": {\"data\": {\"password\": \"c2VjcmV0X3NhdWNlCg==\","
		    " \"binary\": \"bnVsAGJ5dGV/\"}}}}",
		    want);
	json_decref(app);
}

static void option_named_type_overrides(void **state)
{
	(void)state;
	static const char want[] = "[[config_provider]]\n"
				   "type = 'env'\n"
				   "prefix = 'SPIN_VARIABLE_'\n"
				   "\n"
				   "[llm_compute]\n"
				   "type = 'from-configmap'\n";
	json_t *app = make_app("typed", "{\"llmCompute\": {\"type\": \"remote_http\", \"options\": ["
					"{\"name\": \"type\", \"value\": \"other\"},"
					"{\"name\": \"type\", \"valueFrom\": {\"configMapKeyRef\": {\"name\": \"cm\", \"key\": \"t\"}}}]}}");

	expect_toml(app, "{\"configmaps\": {\"cm\": {\"data\": {\"t\": \"from-configmap\"}}}}", want);
	json_decref(app);
}

/* configMapKeyRef wins over secretKeyRef, a static value over both; missing keys and data read as ''. */
static void value_sources(void **state)
{
	(void)state;
	static const char want[] = "[[config_provider]]\n"
				   "type = 'env'\n"
				   "prefix = 'SPIN_VARIABLE_'\n"
				   "\n"
				   "[sqlite_database]\n"
				   "[sqlite_database.db]\n"
				   "both = 'cm-value'\n"
				   "no_data = ''\n"
				   "no_key = ''\n"
				   "no_secret_key = ''\n"
				   "nothing = ''\n"
				   "static = 'wins'\n"
				   "type = 'libsql'\n";
	json_t *app = make_app(
		"sources",
		"{\"sqliteDatabases\": [{\"name\": \"db\", \"type\": \"libsql\", \"options\": ["
		" {\"name\": \"both\", \"valueFrom\": {\"configMapKeyRef\": {\"name\": \"cm\", \"key\": \"k\"},"
		"                                   \"secretKeyRef\": {\"name\": \"sec\", \"key\": \"k\"}}},"
		" {\"name\": \"static\", \"value\": \"wins\","
		"  \"valueFrom\": {\"configMapKeyRef\": {\"name\": \"cm\", \"key\": \"k\"}}},"
		" {\"name\": \"no_key\", \"valueFrom\": {\"configMapKeyRef\": {\"name\": \"cm\", \"key\": \"absent\"}}},"
		" {\"name\": \"no_data\", \"valueFrom\": {\"configMapKeyRef\": {\"name\": \"empty-cm\", \"key\": \"k\"}}},"
		" {\"name\": \"no_secret_key\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"sec\", \"key\": \"absent\"}}},"
		" {\"name\": \"nothing\"}]}]}");

	expect_toml(app,
		    "{\"secrets\": {\"sec\": {\"data\": {\"k\": \"c2Vj\"}}},"
		    " \"configmaps\": {\"cm\": {\"data\": {\"k\": \"cm-value\"}}, \"empty-cm\": {}}}",
		    want);
	json_decref(app);
}

static void duplicate_names(void **state)
{
	(void)state;
	json_t *app = make_app("dup", "{\"keyValueStores\": [{\"name\": \"default\", \"type\": \"redis\"},"
				      "{\"name\": \"other\", \"type\": \"spin\"}, {\"name\": \"default\", \"type\": \"spin\"}]}");

	expect_toml_error(app, NULL, SO_E_INVAL,
			  "failed to construct RuntimeConfig: duplicate definition for key value store with name: default");
	json_decref(app);
	app = make_app("dup", "{\"sqliteDatabases\": [{\"name\": \"db\", \"type\": \"libsql\"},"
			      "{\"name\": \"db\", \"type\": \"libsql\"}]}");
	expect_toml_error(app, NULL, SO_E_INVAL,
			  "failed to construct RuntimeConfig: duplicate definition for sqlite database with name: db");
	json_decref(app);
	/* The same name in both lists is fine. */
	app = make_app("dup", "{\"keyValueStores\": [{\"name\": \"default\", \"type\": \"spin\"}],"
			      " \"sqliteDatabases\": [{\"name\": \"default\", \"type\": \"spin\"}]}");
	expect_toml(app, NULL,
		    "[[config_provider]]\ntype = 'env'\nprefix = 'SPIN_VARIABLE_'\n\n"
		    "[key_value_store]\n[key_value_store.default]\ntype = 'spin'\n\n"
		    "[sqlite_database]\n[sqlite_database.default]\ntype = 'spin'\n");
	json_decref(app);
}

static void missing_objects(void **state)
{
	(void)state;
	json_t *app = make_app("runtime-config", SAMPLE_RC);

	expect_toml_error(app, NULL, SO_E_CONFIG, "failed to construct RuntimeConfig: secrets \"my-super-secret\" not found");
	expect_toml_error(app, "{\"secrets\": {\"other\": {}}}", SO_E_CONFIG,
			  "failed to construct RuntimeConfig: secrets \"my-super-secret\" not found");
	json_decref(app);

	app = make_app("cm", "{\"keyValueStores\": [{\"name\": \"s\", \"type\": \"redis\", \"options\": ["
			     "{\"name\": \"url\", \"valueFrom\": {\"configMapKeyRef\": {\"name\": \"my-cm\", \"key\": \"url\"}}}]}]}");
	expect_toml_error(app, "{\"secrets\": {}}", SO_E_CONFIG,
			  "failed to construct RuntimeConfig: configmaps \"my-cm\" not found");
	json_decref(app);

	/* Upstream fetches every referenced object, even one whose value a static value shadows. */
	app = make_app("shadow", "{\"keyValueStores\": [{\"name\": \"s\", \"type\": \"redis\", \"options\": ["
				 "{\"name\": \"url\", \"value\": \"x\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"gone\", "
				 "\"key\": \"url\"}}}]}]}");
	expect_toml_error(app, NULL, SO_E_CONFIG, "failed to construct RuntimeConfig: secrets \"gone\" not found");
	json_decref(app);

	/* A reference without a name cannot be fetched (client-go's wording). */
	app = make_app("noname", "{\"keyValueStores\": [{\"name\": \"s\", \"type\": \"redis\", \"options\": ["
				 "{\"name\": \"url\", \"valueFrom\": {\"secretKeyRef\": {\"key\": \"url\"}}}]}]}");
	expect_toml_error(app, NULL, SO_E_CONFIG, "failed to construct RuntimeConfig: resource name may not be empty");
	json_decref(app);

	/* Missing objects are reported before duplicates, as upstream fetches first. */
	app = make_app("order", "{\"keyValueStores\": [{\"name\": \"d\", \"type\": \"spin\"}, {\"name\": \"d\", \"type\": "
				"\"spin\", \"options\": [{\"name\": \"u\", \"valueFrom\": {\"configMapKeyRef\": {\"name\": \"x\", "
				"\"key\": \"u\"}}}]}]}");
	expect_toml_error(app, NULL, SO_E_CONFIG, "failed to construct RuntimeConfig: configmaps \"x\" not found");
	json_decref(app);
}

static void bad_secret_data(void **state)
{
	(void)state;
	json_t *app = make_app("bad", "{\"llmCompute\": {\"type\": \"remote_http\", \"options\": ["
				      "{\"name\": \"auth_token\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"s\", \"key\": \"k\"}}}]}}");

	expect_toml_error(app, "{\"secrets\": {\"s\": {\"data\": {\"k\": \"not base64!\"}}}}", SO_E_INVAL,
			  "failed to construct RuntimeConfig: secret \"s\" key \"k\": data is not base64");
	expect_toml_error(app, "{\"secrets\": {\"s\": {\"data\": {\"k\": \"YQ=\"}}}}", SO_E_INVAL,
			  "failed to construct RuntimeConfig: secret \"s\" key \"k\": data is not base64");
	/* Padding is stripped from the decoded length (EVP_DecodeBlock counts it). */
	expect_toml(app, "{\"secrets\": {\"s\": {\"data\": {\"k\": \"YQ==\"}}}}",
		    "[[config_provider]]\ntype = 'env'\nprefix = 'SPIN_VARIABLE_'\n\n"
		    "[llm_compute]\nauth_token = 'a'\ntype = 'remote_http'\n");
	expect_toml(app, "{\"secrets\": {\"s\": {\"data\": {\"k\": \"YWI=\"}}}}",
		    "[[config_provider]]\ntype = 'env'\nprefix = 'SPIN_VARIABLE_'\n\n"
		    "[llm_compute]\nauth_token = 'ab'\ntype = 'remote_http'\n");
	expect_toml(app, "{\"secrets\": {\"s\": {\"data\": {\"k\": \"\"}}}}",
		    "[[config_provider]]\ntype = 'env'\nprefix = 'SPIN_VARIABLE_'\n\n"
		    "[llm_compute]\nauth_token = ''\ntype = 'remote_http'\n");
	json_decref(app);
}

static void load_from_secret(void **state)
{
	(void)state;
	json_t *secrets = NULL, *configmaps = NULL;
	json_t *app = make_app("byo", "{\"loadFromSecret\": \"my-runtime-config\", \"keyValueStores\": [{\"name\": "
				      "\"default\", \"type\": \"redis\", \"options\": [{\"name\": \"url\", \"valueFrom\": "
				      "{\"secretKeyRef\": {\"name\": \"absent\", \"key\": \"url\"}}}]}]}");

	expect_toml(app, NULL, NULL);
	assert_int_equal(spin_runtime_config_refs(app, &secrets, &configmaps), SO_OK);
	assert_int_equal(json_array_size(secrets), 0);
	assert_int_equal(json_array_size(configmaps), 0);
	json_decref(secrets);
	json_decref(configmaps);
	json_decref(app);
	/* An empty loadFromSecret is "not set". */
	app = make_app("byo", "{\"loadFromSecret\": \"\"}");
	expect_toml(app, NULL, EMPTY_CONFIG_TOML);
	json_decref(app);
}

static void too_large(void **state)
{
	(void)state;
	struct buf toml = BUF_INIT(40);
	char err[256] = "";
	int generated = -1;
	json_t *app = make_app("big", NULL);

	assert_int_equal(spin_runtime_config_toml(app, NULL, &toml, &generated, err, sizeof err), SO_E_TOO_LARGE);
	assert_int_equal(generated, 0);
	assert_int_equal(toml.len, 0);
	assert_string_equal(err, "failed to marshal RuntimeConfig: the TOML exceeds 40 bytes");
	buf_free(&toml);
	json_decref(app);
}

/* ---- spin_runtime_config_refs (contract §6.5) ---- */

static void expect_refs(const char *rc_json, const char *want_secrets, const char *want_configmaps)
{
	json_t *app = make_app("refs", rc_json);
	json_t *secrets = NULL, *configmaps = NULL;
	json_t *ws = parse(want_secrets), *wc = parse(want_configmaps);

	assert_int_equal(spin_runtime_config_refs(app, &secrets, &configmaps), SO_OK);
	assert_true(json_equal(secrets, ws));
	assert_true(json_equal(configmaps, wc));
	json_decref(secrets);
	json_decref(configmaps);
	json_decref(ws);
	json_decref(wc);
	json_decref(app);
}

#define CM_OPT(n, k) \
	"{\"name\": \"o\", \"valueFrom\": {\"configMapKeyRef\": {\"name\": \"" n "\", \"key\": \"" k "\"}}}"
#define SEC_OPT(n, k) "{\"name\": \"o\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"" n "\", \"key\": \"" k "\"}}}"

static void refs_extraction(void **state)
{
	(void)state;
	json_t *s = NULL, *c = NULL, *app = make_app("none", NULL);

	assert_int_equal(spin_runtime_config_refs(app, &s, &c), SO_OK);
	assert_true(json_is_array(s) && json_array_size(s) == 0);
	assert_true(json_is_array(c) && json_array_size(c) == 0);
	json_decref(s);
	json_decref(c);
	json_decref(app);

	/* Static values only. */
	expect_refs("{\"keyValueStores\": [{\"name\": \"a\", \"type\": \"redis\", \"options\": [{\"name\": \"url\", "
		    "\"value\": \"redis://x\"}]}], \"sqliteDatabases\": [{\"name\": \"b\", \"type\": \"libsql\"}]}",
		    "[]", "[]");
	/* configMapKeyRefs across kv + sqlite: both. */
	expect_refs("{\"keyValueStores\": [{\"name\": \"a\", \"type\": \"redis\", \"options\": [" CM_OPT("my-cm-a", "k") "]}],"
		    " \"sqliteDatabases\": [{\"name\": \"b\", \"type\": \"libsql\", \"options\": [" CM_OPT("my-cm-b", "k") "]}]}",
		    "[]", "[\"my-cm-a\", \"my-cm-b\"]");
	/* The same ConfigMap twice, different keys: one. */
	expect_refs("{\"keyValueStores\": [{\"name\": \"a\", \"type\": \"redis\", \"options\": [" CM_OPT("my-cm", "k1") ","
		    CM_OPT("my-cm", "k2") "]}], \"sqliteDatabases\": [{\"name\": \"b\", \"type\": \"libsql\", \"options\": ["
		    CM_OPT("my-cm", "k3") "]}]}",
		    "[]", "[\"my-cm\"]");
	/* Same for Secrets; llmCompute's options come first, as upstream collects them. */
	expect_refs("{\"keyValueStores\": [{\"name\": \"a\", \"type\": \"redis\", \"options\": [" SEC_OPT("s1", "k") ","
		    SEC_OPT("s2", "k") "]}], \"llmCompute\": {\"type\": \"remote_http\", \"options\": [" SEC_OPT("s2", "x")
		    "]}, \"sqliteDatabases\": [{\"name\": \"b\", \"type\": \"libsql\", \"options\": [" SEC_OPT("s1", "y") "]}]}",
		    "[\"s2\", \"s1\"]", "[]");
	/* An option with both refs names both; unnamed refs name nothing. */
	expect_refs("{\"keyValueStores\": [{\"name\": \"a\", \"type\": \"redis\", \"options\": [{\"name\": \"o\", "
		    "\"valueFrom\": {\"secretKeyRef\": {\"name\": \"s\", \"key\": \"k\"}, \"configMapKeyRef\": {\"name\": "
		    "\"c\", \"key\": \"k\"}}}, {\"name\": \"p\", \"valueFrom\": {\"secretKeyRef\": {\"key\": \"k\"}}}]}]}",
		    "[\"s\"]", "[\"c\"]");
}

/* ---- the Secret ---- */

static void secret_object(void **state)
{
	(void)state;
	json_t *app = make_app("simple-spinapp", NULL), *secret = NULL, *want;
	char err[256] = "";
	unsigned char decoded[256];
	const char *b64;
	int n;

	assert_int_equal(spin_runtime_config_secret(app, EMPTY_CONFIG_TOML, strlen(EMPTY_CONFIG_TOML), &secret, err,
						     sizeof err),
			 SO_OK);
	want = parse("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"simple-spinapp-760b133c\","
		     " \"namespace\": \"test-ns\", \"labels\": {\"core.spinkube.dev/app-name\": \"simple-spinapp\"},"
		     " \"ownerReferences\": [{\"apiVersion\": \"core.spinkube.dev/v1alpha1\", \"kind\": \"SpinApp\","
		     " \"name\": \"simple-spinapp\", \"uid\": \"0b8a2f4e-5d6c-4a1b-9e3f-123456789abc\"}]},"
		     " \"data\": {\"runtime-config.toml\":"
		     "  \"W1tjb25maWdfcHJvdmlkZXJdXQp0eXBlID0gJ2VudicKcHJlZml4ID0gJ1NQSU5fVkFSSUFCTEVfJwo=\"}}");
	assert_true(json_equal(secret, want));
	/* No type (Opaque by default), no controller flags on the owner reference. */
	assert_null(json_object_get(secret, "type"));
	assert_null(json_object_get(json_array_get(json_object_get(json_object_get(secret, "metadata"), "ownerReferences"), 0),
				    "controller"));
	/* The data round-trips. */
	b64 = json_string_value(json_object_get(json_object_get(secret, "data"), "runtime-config.toml"));
	n = EVP_DecodeBlock(decoded, (const unsigned char *)b64, (int)strlen(b64));
	assert_true(n >= (int)strlen(EMPTY_CONFIG_TOML));
	assert_memory_equal(decoded, EMPTY_CONFIG_TOML, strlen(EMPTY_CONFIG_TOML));
	json_decref(secret);
	json_decref(want);
	json_decref(app);
}

static void secret_edge_cases(void **state)
{
	(void)state;
	json_t *app = parse("{\"metadata\": {\"name\": \"rendered\"}}"), *secret = NULL;
	char err[256] = "";
	const json_t *meta;

	/* Never stored (no uid, no namespace): no ownerReferences, no namespace. */
	assert_int_equal(spin_runtime_config_secret(app, "", 0, &secret, err, sizeof err), SO_OK);
	meta = json_object_get(secret, "metadata");
	assert_string_equal(json_string_value(json_object_get(meta, "name")), "rendered-1"); /* adler32("") == 1 */
	assert_null(json_object_get(meta, "ownerReferences"));
	assert_null(json_object_get(meta, "namespace"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(secret, "data"), "runtime-config.toml")), "");
	json_decref(secret);
	json_decref(app);

	/* A list item without apiVersion/kind still gets a SpinApp owner reference. */
	app = parse("{\"metadata\": {\"name\": \"listed\", \"namespace\": \"ns\", \"uid\": \"u-1\"}}");
	assert_int_equal(spin_runtime_config_secret(app, "x", 1, &secret, err, sizeof err), SO_OK);
	meta = json_object_get(secret, "metadata");
	json_t *want = parse("[{\"apiVersion\": \"core.spinkube.dev/v1alpha1\", \"kind\": \"SpinApp\", \"name\": \"listed\","
			     " \"uid\": \"u-1\"}]");
	assert_true(json_equal(json_object_get(meta, "ownerReferences"), want));
	json_decref(want);
	json_decref(secret);
	json_decref(app);

	/* An empty apiVersion (or kind) cannot name the owner: a clear SO_E_INVAL, not "out of memory". */
	app = parse("{\"apiVersion\": \"\", \"metadata\": {\"name\": \"odd\", \"namespace\": \"ns\", \"uid\": \"u-2\"}}");
	secret = (json_t *)&secret;
	assert_int_equal(spin_runtime_config_secret(app, "x", 1, &secret, err, sizeof err), SO_E_INVAL);
	assert_null(secret);
	assert_string_equal(err, "SpinApp \"odd\": apiVersion and kind must not be empty: they name the owner of its objects");
	json_decref(app);

	/* No name: the shared identity check refuses. */
	app = parse("{\"metadata\": {}}");
	secret = NULL;
	assert_int_equal(spin_runtime_config_secret(app, "x", 1, &secret, err, sizeof err), SO_E_INVAL);
	assert_null(secret);
	json_decref(app);
}

static void secret_names(void **state)
{
	(void)state;
	static const char big[] = "[[config_provider]]\ntype = 'env'\nprefix = 'SPIN_VARIABLE_'\n\n[llm_compute]\n"
				  "auth_token = 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz'\n";
	struct buf out = BUF_INIT(64);

	expect_name("x", "", 0, "x-1");
	expect_name("a", "a", 1, "a-620062"); /* no zero padding */
	expect_name("app", big, strlen(big), NULL);
	assert_int_equal(buf_appends(&out, "stale"), SO_OK);
	assert_int_equal(spin_runtime_config_secret_name("app", "a", 1, &out), SO_OK);
	assert_string_equal(out.data, "app-620062"); /* replaces, does not append */
	assert_int_equal(spin_runtime_config_secret_name(NULL, "a", 1, &out), SO_E_INVAL);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quantity_examples),
		cmocka_unit_test(quantity_go_quirks),
		cmocka_unit_test(quantity_one_parser),
		cmocka_unit_test(quantity_rejects),
		cmocka_unit_test(quantity_overflow),
		cmocka_unit_test(toml_string_quoting),
		cmocka_unit_test(toml_key_quoting),
		cmocka_unit_test(toml_unsupported_shapes),
		cmocka_unit_test(no_runtime_config),
		cmocka_unit_test(redis_kv_store),
		cmocka_unit_test(runtime_config_sample),
		cmocka_unit_test(several_tables_layout),
		cmocka_unit_test(basic_string_values),
		cmocka_unit_test(option_named_type_overrides),
		cmocka_unit_test(value_sources),
		cmocka_unit_test(duplicate_names),
		cmocka_unit_test(missing_objects),
		cmocka_unit_test(bad_secret_data),
		cmocka_unit_test(load_from_secret),
		cmocka_unit_test(too_large),
		cmocka_unit_test(refs_extraction),
		cmocka_unit_test(secret_object),
		cmocka_unit_test(secret_edge_cases),
		cmocka_unit_test(secret_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
