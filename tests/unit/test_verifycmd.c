/*
 * spin-operator verify (operator/cmd/verifycmd.c) end to end in-process: the real registry client over
 * libcurl against the in-process OCI registry (tests/support/ocifake.c, plain HTTP, no referrers API) with
 * signatures made by sigfixture.c in cosign's formats. Cases: a classic signature and a v3 bundle verified (the
 * rule, the digest, the key, the pinned reference), an unsigned image and one signed by another key refused
 * (exit 1), an image under no rule (no registry request), warn mode (exit 1, the webhook would admit with a
 * warning), namespaces, several images in one run, the JSON output, a registry that is down, a docker config
 * file, and the usage and policy errors (exit 2). Every printed block is compared whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/ocifake.h"
#include "support/sigfixture.h"
#include "operator/cmd/verifycmd.h"

static int port;
static char host[64];
static EVP_PKEY *trusted, *other;
static char tmpdir[] = "/tmp/test_verifycmd.XXXXXX";
static char policy_path[300], bad_policy_path[300], config_path[300];
static char d_classic[72], d_bundle[72], d_unsigned[72], d_other[72], d_warn[72], d_prod[72];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The policy: acme (enforce) over the fake's spin/ repositories, warned (warn) over warn/, prod (enforce) over
 * prod/ in namespace prod only. */
static void write_policy(void)
{
	char *pem = fx_pubpem(trusted);
	FILE *f = fopen(policy_path, "w");
	assert_non_null(f);
	fprintf(f, "rules:\n");
	const char *rules[][3] = { { "acme", "spin", NULL }, { "warned", "warn", "warn" }, { "prod", "prod", NULL } };
	for (size_t r = 0; r < 3; r++) {
		fprintf(f, "- name: %s\n  images: [\"127.0.0.1:*/%s/**\"]\n", rules[r][0], rules[r][1]);
		if (rules[r][2])
			fprintf(f, "  mode: %s\n", rules[r][2]);
		if (!strcmp(rules[r][0], "prod"))
			fprintf(f, "  namespaces: [prod]\n");
		fprintf(f, "  keys:\n  - name: release\n    publicKey: |\n");
		fx_fprint_indented(f, pem, "      ");
	}
	fclose(f);
	free(pem);
}

static int setup(void **state)
{
	(void)state;
	trusted = fx_keygen("ec");
	other = fx_keygen("ec");
	port = ocifake_start();
	assert_int_not_equal(port, 0);
	snprintf(host, sizeof host, "127.0.0.1:%d", port);
	assert_non_null(mkdtemp(tmpdir));
	snprintf(policy_path, sizeof policy_path, "%s/policy.yaml", tmpdir);
	snprintf(bad_policy_path, sizeof bad_policy_path, "%s/bad.yaml", tmpdir);
	snprintf(config_path, sizeof config_path, "%s/config.json", tmpdir);
	write_policy();
	write_file(bad_policy_path, "rules:\n- name: x\n  images: [\"a/**\"]\n  keys: []\n  mood: enforce\n");

	ocifake_push_app("spin/app", "classic", "classic", d_classic);
	ocifake_sign_classic("spin/app", d_classic, trusted, d_classic);
	ocifake_push_app("spin/app", "bundle", "bundle", d_bundle);
	ocifake_sign_bundle("spin/app", d_bundle, trusted, d_bundle);
	ocifake_push_app("spin/app", "unsigned", "unsigned", d_unsigned);
	ocifake_push_app("spin/app", "other", "other", d_other);
	ocifake_sign_classic("spin/app", d_other, other, d_other);
	ocifake_push_app("warn/app", "unsigned", "warn", d_warn);
	ocifake_push_app("prod/app", "unsigned", "prod", d_prod);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ocifake_stop();
	EVP_PKEY_free(trusted);
	EVP_PKEY_free(other);
	unlink(policy_path);
	unlink(bad_policy_path);
	unlink(config_path);
	rmdir(tmpdir);
	return 0;
}

struct run {
	int status;
	char *out, *err;
};

static char *slurp(FILE *f)
{
	long n;
	fflush(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	char *s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

/* Runs verify with the policy, the fake registry as insecure, then args (NULL-terminated). */
static struct run run_args(int with_defaults, const char *const *args)
{
	char *argv[32], insecure[96], policy[340];
	int argc = 0;
	FILE *o = tmpfile(), *e = tmpfile();
	struct run r;

	assert_non_null(o);
	assert_non_null(e);
	argv[argc++] = (char *)"verify";
	if (with_defaults) {
		snprintf(policy, sizeof policy, "--policy=%s", policy_path);
		snprintf(insecure, sizeof insecure, "--registry-insecure=%s", host);
		argv[argc++] = policy;
		argv[argc++] = insecure;
		argv[argc++] = (char *)"--verify-timeout=3s";
	}
	for (; *args; args++) {
		assert_true(argc < 31);
		argv[argc++] = (char *)*args;
	}
	argv[argc] = NULL;
	r.status = verifycmd_run(argc, argv, o, e);
	r.out = slurp(o);
	r.err = slurp(e);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* "<host>/<path>" in a static buffer (one of four, for use in one call's arguments). */
static const char *img(const char *path)
{
	static char bufs[4][256];
	static int i;
	char *b = bufs[i++ % 4];
	snprintf(b, 256, "%s/%s", host, path);
	return b;
}

static void classic_and_bundle_verified(void **state)
{
	(void)state;
	char want[2048];
	const char *a = img("spin/app:classic"), *b = img("spin/app:bundle");
	struct run r = run_args(1, (const char *[]){ a, b, NULL });
	snprintf(want, sizeof want,
		 "%s\n  rule:     acme (enforce)\n  digest:   %s\n  verified: simple-signing key release\n"
		 "  pinned:   %s@%s\n  webhook:  admits it\n"
		 "%s\n  rule:     acme (enforce)\n  digest:   %s\n  verified: bundle key release\n"
		 "  pinned:   %s@%s\n  webhook:  admits it\n",
		 a, d_classic, a, d_classic, b, d_bundle, b, d_bundle);
	assert_string_equal(r.out, want);
	assert_string_equal(r.err, "");
	assert_int_equal(r.status, VERIFYCMD_OK);
	run_free(&r);
}

static void by_digest_is_not_pinned(void **state)
{
	(void)state;
	char ref[256], want[1024];
	snprintf(ref, sizeof ref, "%s/spin/app@%s", host, d_classic);
	struct run r = run_args(1, (const char *[]){ ref, NULL });
	snprintf(want, sizeof want,
		 "%s\n  rule:     acme (enforce)\n  digest:   %s\n  verified: simple-signing key release\n"
		 "  webhook:  admits it\n", ref, d_classic);
	assert_string_equal(r.out, want);
	assert_int_equal(r.status, VERIFYCMD_OK);
	run_free(&r);
}

static void unsigned_and_wrong_key_fail(void **state)
{
	(void)state;
	char want[2048];
	const char *u = img("spin/app:unsigned"), *o = img("spin/app:other"), *a = img("spin/app:classic");
	struct run r = run_args(1, (const char *[]){ u, a, o, NULL });
	snprintf(want, sizeof want,
		 "%s\n  rule:     acme (enforce)\n  digest:   %s\n  failed:   no signatures found\n"
		 "  webhook:  refuses it\n"
		 "%s\n  rule:     acme (enforce)\n  digest:   %s\n  verified: simple-signing key release\n"
		 "  pinned:   %s@%s\n  webhook:  admits it\n"
		 "%s\n  rule:     acme (enforce)\n  digest:   %s\n"
		 "  failed:   no signature verifies with a trusted key of rule acme\n  webhook:  refuses it\n",
		 u, d_unsigned, a, d_classic, a, d_classic, o, d_other);
	assert_string_equal(r.out, want);
	assert_int_equal(r.status, VERIFYCMD_FAILED);
	run_free(&r);
}

static void no_rule_no_request(void **state)
{
	(void)state;
	int before = ocifake_requests();
	struct run r = run_args(1, (const char *[]){ "ghcr.io/spinkube/spin-operator-c:v0.1.0", NULL });
	assert_string_equal(r.out, "ghcr.io/spinkube/spin-operator-c:v0.1.0\n  rule:     none applies\n"
				   "  webhook:  admits it without verification\n");
	assert_int_equal(r.status, VERIFYCMD_OK);
	assert_int_equal(ocifake_requests(), before);
	run_free(&r);
}

static void warn_mode_fails_but_admits(void **state)
{
	(void)state;
	char want[1024];
	const char *w = img("warn/app:unsigned");
	struct run r = run_args(1, (const char *[]){ w, NULL });
	snprintf(want, sizeof want,
		 "%s\n  rule:     warned (warn)\n  digest:   %s\n  failed:   no signatures found\n"
		 "  webhook:  admits it with a warning (mode warn)\n", w, d_warn);
	assert_string_equal(r.out, want);
	assert_int_equal(r.status, VERIFYCMD_FAILED);
	run_free(&r);
}

static void namespaces_select_rules(void **state)
{
	(void)state;
	const char *p = img("prod/app:unsigned");
	struct run r = run_args(1, (const char *[]){ p, NULL });
	assert_non_null(strstr(r.out, "  rule:     none applies\n"));
	assert_int_equal(r.status, VERIFYCMD_OK);
	run_free(&r);
	r = run_args(1, (const char *[]){ "-n", "prod", p, NULL });
	assert_non_null(strstr(r.out, "  rule:     prod (enforce)\n"));
	assert_non_null(strstr(r.out, "  failed:   no signatures found\n"));
	assert_int_equal(r.status, VERIFYCMD_FAILED);
	run_free(&r);
}

static void json_output(void **state)
{
	(void)state;
	const char *a = img("spin/app:classic"), *u = img("spin/app:unsigned");
	char pinned[300];
	struct run r = run_args(1, (const char *[]){ "-o", "json", a, u, "ghcr.io/x/y:1", NULL });
	json_error_t jerr;
	json_t *doc = json_loads(r.out, 0, &jerr), *o;
	if (!doc)
		fail_msg("not JSON: %s\n%s", jerr.text, r.out);
	assert_int_equal(json_array_size(doc), 3);
	snprintf(pinned, sizeof pinned, "%s@%s", a, d_classic);
	o = json_array_get(doc, 0);
	json_t *want = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:s}", "image", a, "namespace",
				 "default", "rule", "acme", "mode", "enforce", "digest", d_classic, "result", "verified",
				 "decision", "admit", "verifiedBy", "simple-signing key release", "reason", "pinned",
				 pinned);
	assert_true(json_equal(o, want));
	json_decref(want);
	o = json_array_get(doc, 1);
	want = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:s, s:n}", "image", u, "namespace", "default",
			 "rule", "acme", "mode", "enforce", "digest", d_unsigned, "result", "failed", "decision", "deny",
			 "verifiedBy", "reason", "no signatures found", "pinned");
	assert_true(json_equal(o, want));
	json_decref(want);
	o = json_array_get(doc, 2);
	want = json_pack("{s:s, s:s, s:n, s:n, s:n, s:s, s:s, s:n, s:n, s:n}", "image", "ghcr.io/x/y:1", "namespace",
			 "default", "rule", "mode", "digest", "result", "skipped", "decision", "admit", "verifiedBy",
			 "reason", "pinned");
	assert_true(json_equal(o, want));
	json_decref(want);
	json_decref(doc);
	assert_int_equal(r.status, VERIFYCMD_FAILED);
	run_free(&r);
}

static void registry_down_is_an_error(void **state)
{
	(void)state;
	char policy[340], ref[128];
	/* Port 9 (discard) on loopback: nothing listens there, so the connection is refused at once. */
	snprintf(policy, sizeof policy, "--policy=%s", policy_path);
	snprintf(ref, sizeof ref, "127.0.0.1:9/spin/app:v1");
	struct run r = run_args(0, (const char *[]){ policy, "--registry-insecure=127.0.0.1:9", "--verify-timeout=2s",
						      ref, NULL });
	assert_non_null(strstr(r.out, "  rule:     acme (enforce)\n"));
	assert_non_null(strstr(r.out, "  error:    registry 127.0.0.1:9"));
	assert_non_null(strstr(r.out, "  webhook:  refuses it\n"));
	assert_null(strstr(r.out, "digest:"));
	assert_int_equal(r.status, VERIFYCMD_FAILED);
	run_free(&r);
}

static void docker_config_file(void **state)
{
	(void)state;
	char flag[340];
	const char *a = img("spin/app:classic");
	snprintf(flag, sizeof flag, "--registry-config=%s", config_path);
	/* A valid file: the registry (which wants no credentials) still serves, the image verifies. */
	write_file(config_path, "{\"auths\": {\"127.0.0.1\": {\"auth\": \"dTpw\"}, \"ghcr.io\": {\"username\": \"u\","
				" \"password\": \"p\"}}, \"credsStore\": \"desktop\"}");
	struct run r = run_args(1, (const char *[]){ flag, a, NULL });
	assert_non_null(strstr(r.out, "  verified: simple-signing key release\n"));
	assert_int_equal(r.status, VERIFYCMD_OK);
	run_free(&r);
	/* Not JSON: refused before anything is verified, the password never quoted. */
	write_file(config_path, "{\"auths\": {\"x\": {\"password\": \"hunter2\"");
	r = run_args(1, (const char *[]){ flag, a, NULL });
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "verify: --registry-config: "));
	assert_non_null(strstr(r.err, "is not valid JSON (line 1"));
	assert_null(strstr(r.err, "hunter2"));
	assert_int_equal(r.status, VERIFYCMD_USAGE);
	run_free(&r);
	unlink(config_path);
	r = run_args(1, (const char *[]){ flag, a, NULL });
	assert_non_null(strstr(r.err, "No such file or directory"));
	assert_int_equal(r.status, VERIFYCMD_USAGE);
	run_free(&r);
}

static void usage_and_policy_errors(void **state)
{
	(void)state;
	char policy[340], bad[340];
	snprintf(policy, sizeof policy, "--policy=%s", policy_path);
	snprintf(bad, sizeof bad, "--policy=%s", bad_policy_path);

	struct run r = run_args(0, (const char *[]){ "x/y:1", NULL });
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "verify: --policy FILE is required\n"));
	assert_int_equal(r.status, VERIFYCMD_USAGE);
	run_free(&r);

	r = run_args(0, (const char *[]){ policy, NULL });
	assert_non_null(strstr(r.err, "verify: no IMAGE given\n"));
	assert_int_equal(r.status, VERIFYCMD_USAGE);
	run_free(&r);

	r = run_args(0, (const char *[]){ bad, "x/y:1", NULL });
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "verify: "));
	assert_non_null(strstr(r.err, "bad.yaml"));
	assert_non_null(strstr(r.err, "mood"));
	assert_int_equal(r.status, VERIFYCMD_USAGE);
	run_free(&r);

	r = run_args(0, (const char *[]){ policy, "--registry-credentials-secret=ns/name", "x/y:1", NULL });
	assert_non_null(strstr(r.err, "--registry-credentials-secret needs a cluster"));
	assert_int_equal(r.status, VERIFYCMD_USAGE);
	run_free(&r);

	r = run_args(0, (const char *[]){ policy, "-o", "yaml", "x/y:1", NULL });
	assert_string_equal(r.err, "verify: --output: \"yaml\" is not text or json\n");
	assert_int_equal(r.status, VERIFYCMD_USAGE);
	run_free(&r);

	r = run_args(0, (const char *[]){ policy, "--registry-ca-file=/nonexistent/ca.pem", "x/y:1", NULL });
	assert_non_null(strstr(r.err, "/nonexistent/ca.pem"));
	assert_int_equal(r.status, VERIFYCMD_USAGE);
	run_free(&r);

	r = run_args(0, (const char *[]){ "--help", NULL });
	assert_non_null(strstr(r.out, "Usage: spin-operator verify --policy FILE [flags] IMAGE...\n"));
	assert_non_null(strstr(r.out, "Exit status: 0 every image verified"));
	assert_int_equal(r.status, VERIFYCMD_OK);
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classic_and_bundle_verified),
		cmocka_unit_test(by_digest_is_not_pinned),
		cmocka_unit_test(unsigned_and_wrong_key_fail),
		cmocka_unit_test(no_rule_no_request),
		cmocka_unit_test(warn_mode_fails_but_admits),
		cmocka_unit_test(namespaces_select_rules),
		cmocka_unit_test(json_output),
		cmocka_unit_test(registry_down_is_an_error),
		cmocka_unit_test(docker_config_file),
		cmocka_unit_test(usage_and_policy_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
