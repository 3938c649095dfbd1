/* WWW-Authenticate parsing: the challenges real registries send, quoting and escapes, and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "operator/base/err.h"
#include "webhook/verify/registry.h"

static int parse(const char *s, struct www_authenticate *w)
{
	return www_authenticate_parse(s, strlen(s), w);
}

static void registries(void **state)
{
	(void)state;
	struct www_authenticate w;
	/* Docker Hub */
	assert_int_equal(parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
			       "scope=\"repository:library/nginx:pull\"",
			       &w),
			 SO_OK);
	assert_string_equal(w.scheme, "Bearer");
	assert_string_equal(w.realm, "https://auth.docker.io/token");
	assert_string_equal(w.service, "registry.docker.io");
	assert_string_equal(w.scope, "repository:library/nginx:pull");
	www_authenticate_free(&w);
	/* distribution htpasswd */
	assert_int_equal(parse("Basic realm=\"Registry Realm\"", &w), SO_OK);
	assert_string_equal(w.scheme, "Basic");
	assert_string_equal(w.realm, "Registry Realm");
	assert_null(w.service);
	assert_null(w.scope);
	www_authenticate_free(&w);
	/* GHCR: no service; an insufficient_scope error parameter is skipped. */
	assert_int_equal(parse("Bearer realm=\"https://ghcr.io/token\",scope=\"repository:o/i:pull\",error=\"insufficient_scope\"",
			       &w),
			 SO_OK);
	assert_string_equal(w.realm, "https://ghcr.io/token");
	assert_null(w.service);
	www_authenticate_free(&w);
}

static void syntax(void **state)
{
	(void)state;
	struct www_authenticate w;
	/* Case-insensitive scheme and names, spaces around '=' and ',', tokens unquoted, commas in quotes. */
	assert_int_equal(parse("  bEARER  REALM = \"https://a/t\" ,  Service=reg.io , scope=\"repository:a:pull,push\"",
			       &w),
			 SO_OK);
	assert_string_equal(w.scheme, "Bearer");
	assert_string_equal(w.realm, "https://a/t");
	assert_string_equal(w.service, "reg.io");
	assert_string_equal(w.scope, "repository:a:pull,push");
	www_authenticate_free(&w);
	/* Escapes in quoted strings; the first of two values wins. */
	assert_int_equal(parse("Bearer realm=\"https://a/\\\"q\\\\\",realm=\"https://evil/\"", &w), SO_OK);
	assert_string_equal(w.realm, "https://a/\"q\\");
	www_authenticate_free(&w);
	/* Only the first challenge is read. */
	assert_int_equal(parse("Basic realm=\"one\", Bearer realm=\"https://two/\"", &w), SO_OK);
	assert_string_equal(w.scheme, "Basic");
	assert_string_equal(w.realm, "one");
	www_authenticate_free(&w);
	/* Basic without parameters is usable; an empty quoted value is a value. */
	assert_int_equal(parse("Basic", &w), SO_OK);
	www_authenticate_free(&w);
	assert_int_equal(parse("Bearer realm=\"https://a/\",service=\"\"", &w), SO_OK);
	assert_string_equal(w.service, "");
	www_authenticate_free(&w);
	/* A length shorter than the string: what follows is not read. */
	const char *s = "Bearer realm=\"https://a/\"GARBAGE";
	assert_int_equal(www_authenticate_parse(s, strlen(s) - 7, &w), SO_OK);
	assert_string_equal(w.realm, "https://a/");
	www_authenticate_free(&w);
}

static void refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"Negotiate abc",
		"Digest realm=\"x\"",
		"Bearer",                        /* no realm */
		"Bearer service=\"x\"",
		"Bearer realm=\"\"",
		"Bearer realm=\"unterminated",
		"Bearer realm=\"x\\",
		"Bearer realm=",
		"Bearer realm=\"https://a/\" junk",
		"Bearer realm=\"a\x01b\"",
		"Bearerrealm=\"x\"",
		"Bearer abc==",
		"Bearer =x",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct www_authenticate w;
		if (parse(bad[i], &w) != SO_E_INVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_null(w.realm);
	}
	struct www_authenticate w;
	/* A NUL inside the given length is refused. */
	assert_int_equal(www_authenticate_parse("Basic realm=\"a\0b\"", 17, &w), SO_E_INVAL);
	assert_int_equal(www_authenticate_parse(NULL, 0, &w), SO_E_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(registries),
		cmocka_unit_test(syntax),
		cmocka_unit_test(refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
