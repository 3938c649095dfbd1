/* Image references: the normalisation table of distribution/reference, invalid forms, and the helpers built on
 * a parsed reference (API host, policy names, the pinned spelling). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "operator/kube/imageref.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DIG "sha256:" D64

struct row {
	const char *in;
	const char *registry, *repository, *tag, *digest; /* tag NULL = none; digest "" = none */
	const char *api_host;
};

static const struct row table[] = {
	{ "nginx", "docker.io", "library/nginx", "latest", "", "index.docker.io" },
	{ "nginx:1.25", "docker.io", "library/nginx", "1.25", "", "index.docker.io" },
	{ "library/nginx", "docker.io", "library/nginx", "latest", "", "index.docker.io" },
	{ "docker.io/nginx", "docker.io", "library/nginx", "latest", "", "index.docker.io" },
	{ "docker.io/library/nginx:x", "docker.io", "library/nginx", "x", "", "index.docker.io" },
	{ "index.docker.io/foo/bar", "docker.io", "foo/bar", "latest", "", "index.docker.io" },
	{ "index.docker.io/busybox", "docker.io", "library/busybox", "latest", "", "index.docker.io" },
	{ "someuser/app", "docker.io", "someuser/app", "latest", "", "index.docker.io" },
	{ "ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello:v0.19.0", "ghcr.io",
	  "spinkube/containerd-shim-spin/examples/spin-rust-hello", "v0.19.0", "", "ghcr.io" },
	{ "localhost:5000/app", "localhost:5000", "app", "latest", "", "localhost:5000" },
	{ "localhost:5000/app:v1", "localhost:5000", "app", "v1", "", "localhost:5000" },
	{ "localhost/app", "localhost", "app", "latest", "", "localhost" },
	{ "127.0.0.1:5000/team/app:1.0", "127.0.0.1:5000", "team/app", "1.0", "", "127.0.0.1:5000" },
	{ "[::1]:5000/app", "[::1]:5000", "app", "latest", "", "[::1]:5000" },
	/* Host names are case-insensitive: one spelling. */
	{ "Registry.Example.COM/app", "registry.example.com", "app", "latest", "", "registry.example.com" },
	/* An upper-case first component is a host (splitDockerDomain), even without a dot. */
	{ "MyHost/app", "myhost", "app", "latest", "", "myhost" },
	/* "localhost:5000" alone is the Docker Hub image localhost with tag 5000, as distribution reads it. */
	{ "localhost:5000", "docker.io", "library/localhost", "5000", "", "index.docker.io" },
	{ "nginx@" DIG, "docker.io", "library/nginx", NULL, DIG, "index.docker.io" },
	{ "ghcr.io/a/b:v1@" DIG, "ghcr.io", "a/b", "v1", DIG, "ghcr.io" },
	{ "a.b/c__d/e-f/g.h/i--j_k:T_a.g-1", "a.b", "c__d/e-f/g.h/i--j_k", "T_a.g-1", "", "a.b" },
	/* Beyond distribution: one host for every spelling of the same registry (policy bypass otherwise). */
	{ "ghcr.io:443/a/b", "ghcr.io", "a/b", "latest", "", "ghcr.io" },
	{ "[::1]:443/app", "[::1]", "app", "latest", "", "[::1]" },
	{ "registry-1.docker.io/nginx", "docker.io", "library/nginx", "latest", "", "index.docker.io" },
	{ "Registry.Hub.Docker.com:443/acme/app:v1", "docker.io", "acme/app", "v1", "", "index.docker.io" },
	{ "ghcr.io:4430/a/b", "ghcr.io:4430", "a/b", "latest", "", "ghcr.io:4430" },
};

static void normalisation_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct row *t = &table[i];
		struct image_ref r;
		char err[256] = "";
		int rc = image_ref_parse(t->in, &r, err, sizeof err);
		if (rc != SO_OK)
			fail_msg("%s: %s", t->in, err);
		assert_string_equal(r.registry, t->registry);
		assert_string_equal(r.repository, t->repository);
		if (t->tag)
			assert_string_equal(r.tag, t->tag);
		else
			assert_null(r.tag);
		assert_string_equal(r.digest, t->digest);
		assert_string_equal(image_ref_api_host(&r), t->api_host);
		image_ref_free(&r);
	}
}

static void invalid_forms(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"Nginx/App",           /* host fine, repository upper-case */
		"ghcr.io/Org/app",
		"nginx:",
		":tag",
		"nginx:-bad",
		"nginx@sha256:abc",
		"nginx@sha256:" D64 "00",
		"nginx@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
		"nginx@sha512:" D64 D64,
		"nginx@",
		"/nginx",
		"nginx/",
		"a//b",
		"ghcr.io/",
		"ghcr.io//x",
		"a b",
		"nginx\t",
		"-host.io/app",
		"host-.io/app",
		"host..io/app",
		"host.io:/app",
		"host.io:123456/app",
		"host.io:12a/app",
		"[zz]:5000/app",
		"app_/x",
		"a._b",
		"a___b",
		"ghcr.io/a/b:v1@" DIG "@" DIG,
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct image_ref r;
		char err[256] = "";
		int rc = image_ref_parse(bad[i], &r, err, sizeof err);
		if (rc != SO_E_INVAL)
			fail_msg("\"%s\" was accepted (rc %d)", bad[i], rc);
		assert_true(err[0] != '\0');
		assert_null(strchr(err, '\n'));
		assert_null(r.registry);
	}
}

static void error_messages(void **state)
{
	(void)state;
	struct image_ref r;
	char err[256];
	assert_int_equal(image_ref_parse("ghcr.io/Org/app", &r, err, sizeof err), SO_E_INVAL);
	assert_non_null(strstr(err, "lower-case"));
	assert_int_equal(image_ref_parse("nginx@sha512:" D64 D64, &r, err, sizeof err), SO_E_INVAL);
	assert_non_null(strstr(err, "only sha256"));
	assert_int_equal(image_ref_parse("", &r, err, sizeof err), SO_E_INVAL);
	assert_non_null(strstr(err, "empty"));
}

static void length_limits(void **state)
{
	(void)state;
	struct image_ref r;
	char err[256];
	char name[300];
	/* 255 characters in all is the longest name. */
	memset(name, 'a', sizeof name);
	memcpy(name, "ghcr.io/", 8);
	name[255] = '\0';
	assert_int_equal(image_ref_parse(name, &r, err, sizeof err), SO_OK);
	image_ref_free(&r);
	name[255] = 'a';
	name[256] = '\0';
	assert_int_equal(image_ref_parse(name, &r, err, sizeof err), SO_E_INVAL);
	/* Tags up to 128 characters. */
	char tagged[300] = "app:";
	memset(tagged + 4, 't', 128);
	tagged[132] = '\0';
	assert_int_equal(image_ref_parse(tagged, &r, err, sizeof err), SO_OK);
	assert_int_equal(strlen(r.tag), 128);
	image_ref_free(&r);
	tagged[132] = 't';
	tagged[133] = '\0';
	assert_int_equal(image_ref_parse(tagged, &r, err, sizeof err), SO_E_INVAL);
	/* Past 4096 bytes nothing is looked at. */
	char *huge = malloc(5000);
	assert_non_null(huge);
	memset(huge, 'a', 4999);
	huge[4999] = '\0';
	assert_int_equal(image_ref_parse(huge, &r, err, sizeof err), SO_E_INVAL);
	assert_non_null(strstr(err, "4096"));
	free(huge);
}

static void names(void **state)
{
	(void)state;
	struct image_ref r;
	char err[256];
	assert_int_equal(image_ref_parse("nginx", &r, err, sizeof err), SO_OK);
	char *n = image_ref_name(&r), *nt = image_ref_name_tag(&r);
	assert_string_equal(n, "docker.io/library/nginx");
	assert_string_equal(nt, "docker.io/library/nginx:latest");
	free(n);
	free(nt);
	image_ref_free(&r);
	/* An untagged digest reference matches policies as :latest. */
	assert_int_equal(image_ref_parse("ghcr.io/a/b@" DIG, &r, err, sizeof err), SO_OK);
	nt = image_ref_name_tag(&r);
	assert_string_equal(nt, "ghcr.io/a/b:latest");
	free(nt);
	image_ref_free(&r);
	image_ref_free(NULL);
}

static void pinned(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} rows[] = {
		{ "nginx", "nginx@" DIG },
		{ "nginx:1.25", "nginx:1.25@" DIG },
		{ "docker.io/library/nginx:1.25", "docker.io/library/nginx:1.25@" DIG },
		{ "Registry.Example.COM/app:v1", "Registry.Example.COM/app:v1@" DIG },
		{ "localhost:5000/app", "localhost:5000/app@" DIG },
		{ "localhost:5000/app:v2", "localhost:5000/app:v2@" DIG },
		/* An old digest is replaced by the one verified. */
		{ "ghcr.io/a/b:v1@sha256:" "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "ghcr.io/a/b:v1@" DIG },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct image_ref r;
		char err[256];
		assert_int_equal(image_ref_parse(rows[i].in, &r, err, sizeof err), SO_OK);
		char *p = image_ref_pinned(rows[i].in, &r, DIG);
		assert_non_null(p);
		assert_string_equal(p, rows[i].want);
		/* The pinned form parses back to the same repository and the digest. */
		struct image_ref back;
		assert_int_equal(image_ref_parse(p, &back, err, sizeof err), SO_OK);
		assert_string_equal(back.repository, r.repository);
		assert_string_equal(back.digest, DIG);
		image_ref_free(&back);
		free(p);
		/* A malformed digest gives nothing. */
		assert_null(image_ref_pinned(rows[i].in, &r, "sha256:abc"));
		image_ref_free(&r);
	}
}

/* image_ref_check is distribution/reference's grammar (what admission checks); image_ref_parse narrows it to what
 * the verifier can pull and verify. */
static void grammar_and_verifier(void **state)
{
	static const char *const both[] = { "nginx", "ghcr.io/a/b:v1@" DIG, "[::1]:5000/x", "Ghcr.io/a" };
	static const char *const grammar_only[] = {
		"nginx@sha384:" D64 "0123456789abcdef0123456789abcdef",
		"nginx@sha512:" D64 D64,
		"reg:123456/x", /* any run of digits is a port */
		"a_b.c/x",      /* no host, but a path component */
	};
	static const char *const neither[] = {
		"nginx@sha512:" D64,  "nginx@sha256:" D64 "0", "nginx@SHA256:" D64, "nginx@sha1:" D64,
		"[1.2.3.4]/x",	      "[a]/x",		      "a_b.c:5000/x",	    "",
	};
	struct image_ref r;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof both / sizeof both[0]; i++) {
		assert_int_equal(image_ref_check(both[i], err, sizeof err), SO_OK);
		assert_int_equal(image_ref_parse(both[i], &r, err, sizeof err), SO_OK);
		image_ref_free(&r);
	}
	for (size_t i = 0; i < sizeof grammar_only / sizeof grammar_only[0]; i++) {
		if (image_ref_check(grammar_only[i], NULL, 0) != SO_OK)
			fail_msg("grammar refused %s", grammar_only[i]);
		if (image_ref_parse(grammar_only[i], &r, err, sizeof err) != SO_E_INVAL)
			fail_msg("verifier took %s", grammar_only[i]);
	}
	assert_int_equal(image_ref_parse(grammar_only[1], &r, err, sizeof err), SO_E_INVAL);
	assert_string_equal(err, "image reference: only sha256 digests are supported");
	for (size_t i = 0; i < sizeof neither / sizeof neither[0]; i++) {
		if (image_ref_check(neither[i], err, sizeof err) != SO_E_INVAL)
			fail_msg("grammar took %s", neither[i]);
		if (image_ref_parse(neither[i], &r, err, sizeof err) != SO_E_INVAL)
			fail_msg("verifier took %s", neither[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normalisation_table), cmocka_unit_test(invalid_forms), cmocka_unit_test(error_messages),
		cmocka_unit_test(length_limits),       cmocka_unit_test(names),         cmocka_unit_test(pinned),
		cmocka_unit_test(grammar_and_verifier),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
