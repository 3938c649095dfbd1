/* Pull-secret credentials: Secrets as the API server returns them (data base64), auth vs username/password,
 * tokens, kubelet's key matching (schemes, /v1/, globs, ports, path prefixes, Docker Hub aliases, order), malformed
 * input refused with a line that never quotes a secret, and credential fingerprints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "webhook/verify/creds.h"

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n / 3 * 4 + 8);
	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

/* A Secret object of the given type whose data[key] is base64(content). */
static json_t *secret(const char *name, const char *type, const char *key, const char *content)
{
	char *enc = b64(content);
	json_t *s = json_pack("{s:s, s:{s:s, s:s}, s:s, s:{s:s}}", "kind", "Secret", "metadata", "name", name,
			      "namespace", "ns1", "type", type, "data", key, enc);
	free(enc);
	assert_non_null(s);
	return s;
}

static void add_ok(struct creds *c, json_t *s)
{
	char err[256] = "";
	int rc = creds_add_secret(c, s, err, sizeof err);
	if (rc != SO_OK)
		fail_msg("creds_add_secret: %d %s", rc, err);
	json_decref(s);
}

static void auth_field_and_pairs(void **state)
{
	(void)state;
	struct creds *c = creds_new();
	assert_non_null(c);
	char *auth = b64("alice:s3cret:with:colons"), *unpadded = b64("bob:pw1");
	/* strip the padding of the second: docker accepts both */
	char *eq = strchr(unpadded, '=');
	if (eq)
		*eq = '\0';
	char cfg[1024];
	snprintf(cfg, sizeof cfg,
		 "{\"auths\":{\"a.example.com\":{\"username\":\"ignored\",\"password\":\"ignored\",\"auth\":\"%s\"},"
		 "\"b.example.com\":{\"auth\":\"%s\"},"
		 "\"c.example.com\":{\"username\":\"carol\",\"password\":\"pw2\",\"email\":\"c@example.com\"},"
		 "\"d.example.com\":{\"identitytoken\":\"refresh-me\",\"username\":\"00000000-0000\"},"
		 "\"e.example.com\":{\"registrytoken\":\"bearer-me\"},"
		 "\"f.example.com\":{\"email\":\"nothing@else\"},"
		 "\"g.example.com\":{\"password\":\"lonely\"}}}",
		 auth, unpadded);
	free(auth);
	free(unpadded);
	add_ok(c, secret("pull", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", cfg));

	const struct registry_cred *r = creds_lookup(c, "a.example.com", "team/app");
	assert_non_null(r);
	assert_string_equal(r->username, "alice");
	assert_string_equal(r->password, "s3cret:with:colons");
	r = creds_lookup(c, "b.example.com", "x");
	assert_non_null(r);
	assert_string_equal(r->username, "bob");
	assert_string_equal(r->password, "pw1");
	r = creds_lookup(c, "c.example.com", "x");
	assert_string_equal(r->username, "carol");
	assert_string_equal(r->password, "pw2");
	assert_null(r->identity_token);
	r = creds_lookup(c, "d.example.com", "x");
	assert_string_equal(r->identity_token, "refresh-me");
	assert_string_equal(r->username, "00000000-0000");
	assert_string_equal(r->password, "");
	r = creds_lookup(c, "e.example.com", "x");
	assert_string_equal(r->registry_token, "bearer-me");
	assert_null(r->username);
	assert_null(r->password);
	/* Entries with nothing to authenticate with are anonymous. */
	assert_null(creds_lookup(c, "f.example.com", "x"));
	assert_null(creds_lookup(c, "g.example.com", "x"));
	assert_null(creds_lookup(c, "unknown.example.com", "x"));
	creds_free(c);
}

static void legacy_dockercfg_and_other_types(void **state)
{
	(void)state;
	struct creds *c = creds_new();
	char *auth = b64("old:timer");
	char cfg[512];
	snprintf(cfg, sizeof cfg, "{\"https://old.example.com\":{\"auth\":\"%s\",\"email\":\"x@y\"}}", auth);
	free(auth);
	add_ok(c, secret("legacy", "kubernetes.io/dockercfg", ".dockercfg", cfg));
	const struct registry_cred *r = creds_lookup(c, "old.example.com", "app");
	assert_non_null(r);
	assert_string_equal(r->username, "old");
	/* Secrets of other types, or without the key, add nothing. */
	add_ok(c, secret("opaque", "Opaque", ".dockerconfigjson", "{\"auths\":{\"o.example.com\":{\"auth\":\"eDp5\"}}}"));
	add_ok(c, secret("wrongkey", "kubernetes.io/dockerconfigjson", "config.json",
			 "{\"auths\":{\"o.example.com\":{\"auth\":\"eDp5\"}}}"));
	/* A config with credential helpers only. */
	add_ok(c, secret("helpers", "kubernetes.io/dockerconfigjson", ".dockerconfigjson",
			 "{\"credHelpers\":{\"o.example.com\":\"ecr-login\"}}"));
	assert_null(creds_lookup(c, "o.example.com", "app"));
	/* No data at all. */
	char err[256];
	json_t *s = json_pack("{s:s}", "type", "kubernetes.io/dockerconfigjson");
	assert_int_equal(creds_add_secret(c, s, err, sizeof err), SO_OK);
	json_decref(s);
	creds_free(c);
}

/* A keyring from "key=user" pairs (password "pw"), in order. */
static struct creds *ring(const char *const *pairs)
{
	struct creds *c = creds_new();
	json_t *auths = json_object();
	for (size_t i = 0; pairs[i]; i++) {
		const char *eq = strchr(pairs[i], '=');
		char key[256];
		snprintf(key, sizeof key, "%.*s", (int)(eq - pairs[i]), pairs[i]);
		json_object_set_new(auths, key, json_pack("{s:s, s:s}", "username", eq + 1, "password", "pw"));
	}
	json_t *doc = json_pack("{s:o}", "auths", auths);
	char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	add_ok(c, secret("ring", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", text));
	free(text);
	return c;
}

static const char *who(const struct creds *c, const char *registry, const char *repo)
{
	const struct registry_cred *r = creds_lookup(c, registry, repo);
	return r ? r->username : "(anonymous)";
}

static void key_matching(void **state)
{
	(void)state;
	static const char *const pairs[] = {
		"https://index.docker.io/v1/=hub",
		"quay.io=quay-any",
		"quay.io/org=quay-org",
		"https://quay.io/org/team=quay-team",
		"*.example.com=glob",
		"registry.example.com:5000=port",
		"localhost:5000/v2/=local",
		"http://insecure.test=insecure",
		"Upper.Example.ORG=upper",
		"[::1]:5000=v6",
		NULL,
	};
	struct creds *c = ring(pairs);
	/* Docker Hub: every spelling of the registry */
	assert_string_equal(who(c, "docker.io", "library/nginx"), "hub");
	assert_string_equal(who(c, "index.docker.io", "library/nginx"), "hub");
	assert_string_equal(who(c, "registry-1.docker.io", "someone/app"), "hub");
	/* longest key first */
	assert_string_equal(who(c, "quay.io", "org/team/app"), "quay-team");
	assert_string_equal(who(c, "quay.io", "org/app"), "quay-org");
	assert_string_equal(who(c, "quay.io", "other/app"), "quay-any");
	/* globs per label, same number of labels */
	assert_string_equal(who(c, "reg.example.com", "a"), "glob");
	assert_string_equal(who(c, "REG.Example.com", "a"), "glob");
	assert_string_equal(who(c, "a.b.example.com", "a"), "(anonymous)");
	assert_string_equal(who(c, "example.com", "a"), "(anonymous)");
	/* ports must be equal */
	assert_string_equal(who(c, "registry.example.com:5000", "a"), "port");
	assert_string_equal(who(c, "reg.example.com:443", "a"), "(anonymous)");
	assert_string_equal(who(c, "localhost:5000", "app"), "local");
	assert_string_equal(who(c, "localhost", "app"), "(anonymous)");
	assert_string_equal(who(c, "localhost:5001", "app"), "(anonymous)");
	assert_string_equal(who(c, "insecure.test", "app"), "insecure");
	assert_string_equal(who(c, "upper.example.org", "app"), "upper");
	assert_string_equal(who(c, "[::1]:5000", "app"), "v6");
	assert_string_equal(who(c, "[::1]:5001", "app"), "(anonymous)");
	assert_string_equal(who(c, "[::2]:5000", "app"), "(anonymous)");
	assert_string_equal(who(c, "ghcr.io", "a/b"), "(anonymous)");
	creds_free(c);

	/* The same key in two Secrets: the first added wins (kubelet tries them in order). */
	static const char *const first[] = { "docker.io=one", NULL };
	c = ring(first);
	char *auth = b64("two:pw");
	char cfg[256];
	snprintf(cfg, sizeof cfg, "{\"auths\":{\"docker.io\":{\"auth\":\"%s\"},\"ghcr.io\":{\"auth\":\"%s\"}}}", auth,
		 auth);
	free(auth);
	add_ok(c, secret("second", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", cfg));
	assert_string_equal(who(c, "docker.io", "library/x"), "one");
	assert_string_equal(who(c, "ghcr.io", "a/b"), "two");
	creds_free(c);
	assert_null(creds_lookup(NULL, "docker.io", "x"));
}

static void malformed(void **state)
{
	(void)state;
	static const struct {
		const char *content; /* base64-encoded into the Secret unless raw */
		int raw;
		const char *expect;  /* in the error line */
	} rows[] = {
		{ "!!!not base64!!!", 1, "not base64" },
		{ "{\"auths\":{\"x.io\":{\"password\":\"hunter2", 0, "not valid JSON" },
		{ "[\"hunter2\"]", 0, "not a JSON object" },
		{ "{\"auths\":[\"hunter2\"]}", 0, "\"auths\" is not an object" },
		{ "{\"auths\":{\"x.io\":\"hunter2\"}}", 0, "is not an object" },
		{ "{\"auths\":{\"x.io\":{\"username\":\"u\",\"password\":7}}}", 0, "not a string" },
		{ "{\"auths\":{\"x.io\":{\"auth\":\"hunter2!\"}}}", 0, "not base64 of user:password" },
		{ "{\"auths\":{\"x.io\":{\"auth\":\"aHVudGVyMg==\"}}}", 0, "not base64 of user:password" }, /* "hunter2", no colon */
		{ "{\"auths\":{\"x.io\":{\"auth\":\"dTpodW50ZXIyAA==\"}}}", 0, "not base64 of user:password" }, /* NUL inside */
		{ "{\"auths\":{\"\":{\"username\":\"u\",\"password\":\"hunter2\"}}}", 0, "invalid registry key" },
		{ "{\"auths\":{\"https://u:hunter2@x.io\":{\"username\":\"u\"}}}", 0, "invalid registry key" },
		{ "{\"auths\":{\"x.io\":{\"username\":\"a\"},\"x.io\":{\"username\":\"b\"}}}", 0, "not valid JSON" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct creds *c = creds_new();
		json_t *s;
		if (rows[i].raw)
			s = json_pack("{s:{s:s,s:s}, s:s, s:{s:s}}", "metadata", "name", "bad", "namespace", "ns1", "type",
				      "kubernetes.io/dockerconfigjson", "data", ".dockerconfigjson", rows[i].content);
		else
			s = secret("bad", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", rows[i].content);
		char err[256] = "";
		int rc = creds_add_secret(c, s, err, sizeof err);
		if (rc != SO_E_INVAL || !strstr(err, rows[i].expect))
			fail_msg("row %zu: rc %d err \"%s\"", i, rc, err);
		assert_non_null(strstr(err, "ns1/bad"));
		assert_null(strstr(err, "hunter2"));
		assert_null(strchr(err, '\n'));
		json_decref(s);
		creds_free(c);
	}
	/* data that is not a string, a secret that is not an object */
	struct creds *c = creds_new();
	char err[256];
	json_t *s = json_pack("{s:s, s:{s:i}}", "type", "kubernetes.io/dockercfg", "data", ".dockercfg", 3);
	assert_int_equal(creds_add_secret(c, s, err, sizeof err), SO_E_INVAL);
	json_decref(s);
	s = json_string("x");
	assert_int_equal(creds_add_secret(c, s, err, sizeof err), SO_E_INVAL);
	json_decref(s);
	creds_free(c);
	creds_free(NULL);
}

/* A docker config file (spin-operator verify --registry-config): the same entries, matching and checks as a
 * pull Secret's .dockerconfigjson, errors labelled with the file name instead of "pull secret". */
static void docker_config_file(void **state)
{
	(void)state;
	static const char cfg[] = "{\"auths\": {\"https://index.docker.io/v1/\": {\"auth\": \"aHViOnB3\"},"
				  " \"ghcr.io/acme\": {\"username\": \"u\", \"password\": \"p\"},"
				  " \"empty.example.com\": {}},"
				  " \"credsStore\": \"desktop\", \"credHelpers\": {\"gcr.io\": \"gcloud\"}}";
	struct creds *c = creds_new();
	char err[256] = "";
	assert_int_equal(creds_add_dockerconfig(c, cfg, strlen(cfg), "/home/u/.docker/config.json", err, sizeof err),
			 SO_OK);
	const struct registry_cred *r = creds_lookup(c, "docker.io", "library/nginx");
	assert_non_null(r);
	assert_string_equal(r->username, "hub");
	assert_string_equal(r->password, "pw");
	r = creds_lookup(c, "ghcr.io", "acme/app");
	assert_non_null(r);
	assert_string_equal(r->username, "u");
	assert_null(creds_lookup(c, "ghcr.io", "other/app")); /* path prefix */
	assert_null(creds_lookup(c, "empty.example.com", "x")); /* nothing to authenticate with */
	assert_null(creds_lookup(c, "gcr.io", "x"));            /* helpers are not run */
	creds_free(c);

	/* Only helpers: nothing added, no error. */
	c = creds_new();
	assert_int_equal(creds_add_dockerconfig(c, "{\"credsStore\": \"pass\"}", 22, "cfg.json", err, sizeof err),
			 SO_OK);
	assert_null(creds_lookup(c, "docker.io", "library/nginx"));
	creds_free(c);

	static const struct {
		const char *text, *expect;
	} rows[] = {
		{ "{\"auths\":{\"x.io\":{\"password\":\"hunter2", "cfg.json is not valid JSON (line 1" },
		{ "[\"hunter2\"]", "cfg.json is not a JSON object" },
		{ "{\"auths\":[\"hunter2\"]}", "cfg.json: \"auths\" is not an object" },
		{ "{\"auths\":{\"x.io\":{\"auth\":\"hunter2!\"}}}", "cfg.json: entry \"x.io\" " },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		c = creds_new();
		int rc = creds_add_dockerconfig(c, rows[i].text, strlen(rows[i].text), "cfg.json", err, sizeof err);
		if (rc != SO_E_INVAL || strncmp(err, rows[i].expect, strlen(rows[i].expect)) != 0)
			fail_msg("row %zu: rc %d err \"%s\"", i, rc, err);
		assert_null(strstr(err, "hunter2"));
		assert_null(strstr(err, "pull secret"));
		creds_free(c);
	}
}

static void fingerprints(void **state)
{
	(void)state;
	char a[65], b[65];
	creds_fingerprint(NULL, a);
	assert_string_equal(a, "");
	struct registry_cred x = { .username = "ab", .password = "c" }, y = { .username = "a", .password = "bc" };
	struct registry_cred x2 = { .username = "ab", .password = "c" };
	struct registry_cred t1 = { .identity_token = "t" }, t2 = { .registry_token = "t" };
	creds_fingerprint(&x, a);
	assert_int_equal(strlen(a), 64);
	creds_fingerprint(&x2, b);
	assert_string_equal(a, b);
	creds_fingerprint(&y, b);
	assert_string_not_equal(a, b);
	creds_fingerprint(&t1, a);
	creds_fingerprint(&t2, b);
	assert_string_not_equal(a, b);
	/* the fingerprint is not the secret */
	assert_null(strstr(a, "t"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(auth_field_and_pairs), cmocka_unit_test(legacy_dockercfg_and_other_types),
		cmocka_unit_test(key_matching),         cmocka_unit_test(malformed),
		cmocka_unit_test(fingerprints),         cmocka_unit_test(docker_config_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
