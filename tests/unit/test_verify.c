/*
 * The verification flow (webhook/verify/verifier.c) against an in-memory registry: classic .sig signatures and
 * cosign v3 bundles (referrers API and the sha256-<hex> fallback tag), unsigned images, other keys, payloads
 * bound to other digests, registry failures and the deadline, warn mode, pinning, credentials, rules that do
 * not match, and the caches (a cached verification makes no registry request; the round trips of a classic
 * verification). The fake registry serves what a distribution registry would, with sha256 digests of the
 * exact bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/sigfixture.h"
#include "operator/base/buf.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "webhook/verify/ocimanifest.h"
#include "webhook/verify/vcache.h"
#include "webhook/verify/verifier.h"

#define REG "127.0.0.1:5000"
#define MAX_OBJ 64

/* ---- the fake registry ---- */

struct obj {
	char repo[128], ref[128]; /* ref: a tag or a digest */
	char media_type[128];
	char *body;
};

static struct {
	struct obj objs[MAX_OBJ];
	int n;
	int referrers_api; /* serves GET /referrers */
	int down;          /* every call fails as a connection failure */
	int hang;          /* every call waits for its deadline */
	const char *private_repo; /* needs username "u" */
	unsigned long requests;
	char last_user[32];
} reg;

static void reg_reset(void)
{
	for (int i = 0; i < reg.n; i++)
		free(reg.objs[i].body);
	memset(&reg, 0, sizeof reg);
}

static void put(const char *repo, const char *ref, const char *mt, const char *body)
{
	struct obj *o = &reg.objs[reg.n++];
	assert_true(reg.n <= MAX_OBJ);
	snprintf(o->repo, sizeof o->repo, "%s", repo);
	snprintf(o->ref, sizeof o->ref, "%s", ref);
	snprintf(o->media_type, sizeof o->media_type, "%s", mt ? mt : "");
	o->body = strdup(body);
}


static const struct obj *find(const char *repo, const char *ref)
{
	for (int i = reg.n - 1; i >= 0; i--)
		if (!strcmp(reg.objs[i].repo, repo) && !strcmp(reg.objs[i].ref, ref))
			return &reg.objs[i];
	return NULL;
}

/* Common failure modes of every call. */
static int gate(const struct image_ref *ref, const struct registry_cred *cred, int64_t deadline, char *err, size_t n)
{
	reg.requests++;
	snprintf(reg.last_user, sizeof reg.last_user, "%s", cred && cred->username ? cred->username : "");
	if (reg.down)
		return so_fail(err, n, SO_E_TRANSPORT, "connect to %s: Connection refused", ref->registry);
	if (reg.hang) {
		while (clock_mono_ms() < deadline)
			usleep(1000);
		return so_fail(err, n, SO_E_TIMEOUT, "%s: timed out", ref->registry);
	}
	if (reg.private_repo && !strcmp(ref->repository, reg.private_repo) && !(cred && cred->username &&
										 !strcmp(cred->username, "u")))
		return so_fail(err, n, SO_E_API_UNAUTHORIZED, "%s: 401 Unauthorized", ref->registry);
	return SO_OK;
}

static int answer(const struct obj *o, struct registry_blob *out)
{
	buf_reset(&out->body);
	if (buf_appends(&out->body, o->body))
		return SO_E_TOO_LARGE;
	snprintf(out->media_type, sizeof out->media_type, "%s", o->media_type);
	fx_digest(o->body, strlen(o->body), out->digest);
	return SO_OK;
}

static int f_resolve(void *ud, const struct image_ref *ref, const struct registry_cred *cred, int64_t deadline,
		     char digest[IMAGE_DIGEST_LEN + 1], char *err, size_t n)
{
	(void)ud;
	int rc = gate(ref, cred, deadline, err, n);
	if (rc)
		return rc;
	const struct obj *o = find(ref->repository, ref->tag);
	if (!o)
		return so_fail(err, n, SO_E_API_NOT_FOUND, "%s/%s:%s: manifest unknown", ref->registry, ref->repository,
			       ref->tag);
	fx_digest(o->body, strlen(o->body), digest);
	return SO_OK;
}

static int f_manifest(void *ud, const struct image_ref *ref, const struct registry_cred *cred, const char *reference,
		      const char *accept, int64_t deadline, struct registry_blob *out, char *err, size_t n)
{
	(void)ud;
	(void)accept;
	int rc = gate(ref, cred, deadline, err, n);
	if (rc)
		return rc;
	const struct obj *o = find(ref->repository, reference);
	if (!o || !*o->media_type)
		return so_fail(err, n, SO_E_API_NOT_FOUND, "manifest unknown");
	return answer(o, out);
}

static int f_blob(void *ud, const struct image_ref *ref, const struct registry_cred *cred, const char *digest,
		  size_t max, int64_t deadline, struct registry_blob *out, char *err, size_t n)
{
	(void)ud;
	(void)max;
	int rc = gate(ref, cred, deadline, err, n);
	if (rc)
		return rc;
	const struct obj *o = find(ref->repository, digest);
	if (!o)
		return so_fail(err, n, SO_E_API_NOT_FOUND, "blob unknown");
	return answer(o, out);
}

static int f_referrers(void *ud, const struct image_ref *ref, const struct registry_cred *cred, const char *digest,
		       int64_t deadline, struct registry_blob *out, char *err, size_t n)
{
	(void)ud;
	int rc = gate(ref, cred, deadline, err, n);
	char tag[80];
	if (rc)
		return rc;
	if (!reg.referrers_api)
		return so_fail(err, n, SO_E_API_NOT_FOUND, "no referrers API");
	/* What the fallback index lists is what the API would list. */
	snprintf(tag, sizeof tag, "sha256-%s", digest + 7);
	const struct obj *o = find(ref->repository, tag);
	struct obj empty = { .media_type = MT_OCI_INDEX, .body = (char *)"{\"schemaVersion\":2,\"mediaType\":\""
									 MT_OCI_INDEX "\",\"manifests\":[]}" };
	return answer(o ? o : &empty, out);
}

static void f_stats(void *ud, struct registry_stats *out)
{
	(void)ud;
	out->requests = reg.requests;
	out->token_fetches = 0;
}

/* ---- artifacts and signatures ---- */

static EVP_PKEY *trusted, *stranger;
static char tmpdir[] = "/tmp/test_verify.XXXXXX";
static char policy_path[256];




/* ---- the verifier ---- */

static int creds_calls;
static int fake_creds(void *ud, const char *ns, const json_t *pull_secrets, const struct image_ref *ref,
		      int64_t deadline_ms, struct registry_cred **out, char *err, size_t errlen)
{
	(void)ud;
	(void)deadline_ms;
	(void)ref;
	(void)err;
	(void)errlen;
	creds_calls++;
	*out = NULL;
	/* The "team" namespace's app names a pull secret "regcred" holding u/p. */
	if (ns && !strcmp(ns, "team") && json_is_array(pull_secrets) &&
	    !strcmp(json_string_value(json_object_get(json_array_get(pull_secrets, 0), "name")), "regcred")) {
		struct registry_cred c = { .username = (char *)"u", .password = (char *)"p" };
		*out = verify_cred_dup(&c);
	}
	return SO_OK;
}

static int64_t fake_now;
static int64_t clock_fn(void *ud)
{
	(void)ud;
	return fake_now;
}

static void write_policy(const char *extra_rule_mode, const char *cache_ttl)
{
	char *pem = fx_pubpem(trusted);
	FILE *f = fopen(policy_path, "w");
	assert_non_null(f);
	fprintf(f, "rules:\n- name: acme\n  images: [\"" REG "/spin/**\"]\n  mode: enforce\n  keys:\n"
		   "  - name: release\n    publicKey: |\n");
	fx_fprint_indented(f, pem, "      ");
	fprintf(f, "- name: relaxed\n  images: [\"" REG "/warn/**\"]\n  mode: %s\n  keys:\n  - name: release\n"
		   "    publicKey: |\n",
		extra_rule_mode);
	fx_fprint_indented(f, pem, "      ");
	if (cache_ttl)
		fprintf(f, "cacheTTL: %s\n", cache_ttl);
	fclose(f);
	free(pem);
}

static struct verifier *new_verifier(int pin, int64_t timeout_ms)
{
	struct verifier_opts o = {
		.policy_file = policy_path,
		.policy_poll_s = 3600,
		.pin = pin,
		.timeout_ms = timeout_ms,
		.backend = { .resolve = f_resolve, .get_manifest = f_manifest, .get_blob = f_blob,
			     .get_referrers = f_referrers, .stats = f_stats },
		.creds = fake_creds,
		.now_ms = clock_fn,
	};
	struct verifier *v = NULL;
	char err[512] = "";
	if (verifier_new(&o, &v, err, sizeof err))
		fail_msg("verifier_new: %s", err);
	return v;
}

static int setup(void **state)
{
	(void)state;
	trusted = fx_keygen("ec");
	stranger = fx_keygen("ec");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(policy_path, sizeof policy_path, "%s/policy.yaml", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(trusted);
	EVP_PKEY_free(stranger);
	reg_reset();
	unlink(policy_path);
	rmdir(tmpdir);
	return 0;
}

static int per_test(void **state)
{
	(void)state;
	reg_reset();
	creds_calls = 0;
	fake_now = 1000;
	write_policy("warn", NULL);
	return 0;
}

struct outcome {
	int rc;
	struct verify_image_verdict v;
};

static struct outcome check(struct verifier *v, const char *ns, const char *image, const json_t *secrets,
			    int validating)
{
	struct outcome o;
	struct verify_image_check in = { .ns = ns, .image = image, .pull_secrets = secrets, .validating = validating };
	o.rc = verifier_admission(v, &in, &o.v);
	return o;
}

/* check, from a caller that is (or is not) authenticated (a client certificate, webhook/webhook_server.h). */
static struct outcome check_as(struct verifier *v, const char *ns, const char *image, const json_t *secrets,
			       int authenticated)
{
	struct outcome o;
	struct verify_image_check in = { .ns = ns, .image = image, .pull_secrets = secrets,
					    .authenticated = authenticated };
	o.rc = verifier_admission(v, &in, &o.v);
	return o;
}

static void expect_message(const struct outcome *o, const char *want)
{
	if (strcmp(o->v.message, want) != 0)
		fail_msg("message\n  got:  %s\n  want: %s", o->v.message, want);
}

/* ---- cases ---- */

static void classic_signed_admitted_pinned_and_cached(void **state)
{
	(void)state;
	char d[72], want[256];
	fx_push_app(put, "spin/app", "v1", "a", d);
	fx_sign_classic(put, "spin/app", d, trusted, d);
	struct verifier *v = new_verifier(1, 2000);

	struct outcome o = check(v, "default", REG "/spin/app:v1", NULL, 0);
	assert_int_equal(o.rc, SO_OK);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	snprintf(want, sizeof want, REG "/spin/app:v1@%s", d);
	assert_non_null(o.v.pinned);
	assert_string_equal(o.v.pinned, want);
	free(o.v.pinned);
	/* Round trips on a registry without the referrers API: resolve, referrers (404), fallback tag (404),
	 * .sig manifest, payload blob. */
	assert_int_equal(reg.requests, 5);

	/* Again: the tag and the verified result come from the caches, no registry request at all. */
	reg.requests = 0;
	o = check(v, "default", REG "/spin/app:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	assert_string_equal(o.v.pinned, want);
	free(o.v.pinned);
	assert_int_equal(reg.requests, 0);

	/* The pinned form (what the validating webhook then sees): a cache hit, nothing to pin. */
	o = check(v, "default", want, NULL, 1);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	assert_null(o.v.pinned);
	assert_int_equal(reg.requests, 0);

	/* Another image on the same registry: the missing referrers API is remembered, 4 round trips. */
	char d2[72];
	fx_push_app(put, "spin/app2", "v1", "b", d2);
	fx_sign_classic(put, "spin/app2", d2, trusted, d2);
	o = check(v, "default", REG "/spin/app2:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	free(o.v.pinned);
	assert_int_equal(reg.requests, 4);

	/* Once the cache TTL (5m default) passes, the signature is checked again (the tag cache expired too). */
	fake_now += 5 * 60 * 1000;
	reg.requests = 0;
	o = check(v, "default", REG "/spin/app:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	free(o.v.pinned);
	assert_int_equal(reg.requests, 4);

	struct buf m = BUF_INIT(1 << 20);
	verifier_metrics(v, &m);
	assert_non_null(strstr(m.data, "spin_operator_image_verifications_total{result=\"verified\"} 4\n"));
	assert_non_null(strstr(m.data, "spin_operator_registry_requests_total 4\n"));
	assert_non_null(strstr(m.data, "spin_operator_image_verification_cache_total{result=\"hit\"} 2\n"));
	buf_free(&m);
	verifier_free(v);
}

static void unsigned_denied(void **state)
{
	(void)state;
	char d[72], want[512];
	fx_push_app(put, "spin/app", "v1", "a", d);
	struct verifier *v = new_verifier(1, 2000);
	struct outcome o = check(v, "default", REG "/spin/app:v1", NULL, 0);
	assert_int_equal(o.rc, SO_OK);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_DENY);
	assert_null(o.v.pinned);
	snprintf(want, sizeof want, "image " REG "/spin/app:v1 (%s) is not verified: no signatures found", d);
	expect_message(&o, want);
	/* A denial is not cached: signing afterwards admits at once. */
	fx_sign_classic(put, "spin/app", d, trusted, d);
	o = check(v, "default", REG "/spin/app:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	free(o.v.pinned);
	verifier_free(v);
}

static void other_key_denied(void **state)
{
	(void)state;
	char d[72], want[512];
	fx_push_app(put, "spin/app", "v1", "a", d);
	fx_sign_classic(put, "spin/app", d, stranger, d);
	struct verifier *v = new_verifier(1, 2000);
	struct outcome o = check(v, "default", REG "/spin/app:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_DENY);
	snprintf(want, sizeof want,
		 "image " REG "/spin/app:v1 (%s) is not verified: no signature verifies with a trusted key of rule acme", d);
	expect_message(&o, want);
	verifier_free(v);
}

static void payload_bound_to_other_digest_denied(void **state)
{
	(void)state;
	char d[72], other[72], want[512];
	fx_push_app(put, "spin/app", "v1", "a", d);
	fx_push_app(put, "spin/app", "v0", "old", other);
	/* A genuine signature of the old image copied onto the new one. */
	fx_sign_classic(put, "spin/app", d, trusted, other);
	struct verifier *v = new_verifier(1, 2000);
	struct outcome o = check(v, "default", REG "/spin/app:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_DENY);
	snprintf(want, sizeof want, "image " REG "/spin/app:v1 (%s) is not verified: signature payload binds %s not %s", d,
		 other, d);
	expect_message(&o, want);
	verifier_free(v);
}

static void bundle_via_fallback_tag(void **state)
{
	(void)state;
	char d[72];
	fx_push_app(put, "spin/app", "v1", "a", d);
	fx_sign_bundle(put, "spin/app", d, trusted, d);
	struct verifier *v = new_verifier(1, 2000);
	struct outcome o = check(v, "default", REG "/spin/app:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	free(o.v.pinned);
	/* resolve, referrers (404), fallback index, referrer manifest, bundle blob: the .sig tag is never asked. */
	assert_int_equal(reg.requests, 5);
	verifier_free(v);
}

static void bundle_via_referrers_api(void **state)
{
	(void)state;
	char d[72], want[512];
	reg.referrers_api = 1;
	fx_push_app(put, "spin/app", "v1", "a", d);
	fx_sign_bundle(put, "spin/app", d, trusted, d);
	struct verifier *v = new_verifier(1, 2000);
	struct outcome o = check(v, "default", REG "/spin/app@" "sha256:0000000000000000000000000000000000000000000000000000000000000000", NULL, 0);
	/* Unknown digest: nothing refers to it. */
	assert_int_equal(o.v.decision, VERIFY_IMAGE_DENY);
	assert_non_null(strstr(o.v.message, "no signatures found"));
	snprintf(want, sizeof want, REG "/spin/app@%s", d);
	reg.requests = 0;
	o = check(v, "default", want, NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	assert_null(o.v.pinned); /* already a digest: nothing to pin, nothing resolved */
	assert_int_equal(reg.requests, 3); /* referrers, referrer manifest, bundle blob */
	/* A bundle by another key, next to nothing else: untrusted. */
	char d2[72];
	fx_push_app(put, "spin/app", "v2", "c", d2);
	fx_sign_bundle(put, "spin/app", d2, stranger, d2);
	o = check(v, "default", REG "/spin/app:v2", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_DENY);
	assert_non_null(strstr(o.v.message, "no signature verifies with a trusted key of rule acme"));
	verifier_free(v);
}

static void registry_down_and_deadline(void **state)
{
	(void)state;
	char d[72], want[512];
	fx_push_app(put, "spin/app", "v1", "a", d);
	fx_sign_classic(put, "spin/app", d, trusted, d);
	struct verifier *v = new_verifier(1, 300);
	reg.down = 1;
	struct outcome o = check(v, "default", REG "/spin/app:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_DENY);
	expect_message(&o, "image " REG "/spin/app:v1 (unresolved) is not verified: registry " REG
			   " unreachable: connect to " REG ": Connection refused");
	/* Pinned by digest: resolution is skipped, discovery fails closed. */
	snprintf(want, sizeof want, REG "/spin/app@%s", d);
	o = check(v, "default", want, NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_DENY);
	assert_non_null(strstr(o.v.message, "unreachable"));
	/* Errors are not cached: the registry back, it verifies. */
	reg.down = 0;
	o = check(v, "default", want, NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	/* A registry that never answers: the deadline. */
	reg.hang = 1;
	o = check(v, "default", REG "/spin/app:v9", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_DENY);
	expect_message(&o, "image " REG "/spin/app:v9 (unresolved) is not verified: verification deadline exceeded");
	char d3[72];
	fx_push_app(put, "spin/app", "v3", "z", d3);
	snprintf(want, sizeof want, REG "/spin/app@%s", d3);
	o = check(v, "default", want, NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_DENY);
	assert_non_null(strstr(o.v.message, "verification deadline exceeded"));
	struct buf m = BUF_INIT(1 << 20);
	verifier_metrics(v, &m);
	assert_non_null(strstr(m.data, "spin_operator_image_verifications_total{result=\"error\"} 4\n"));
	buf_free(&m);
	verifier_free(v);
}

static void warn_mode(void **state)
{
	(void)state;
	char d[72], want[512];
	fx_push_app(put, "warn/app", "v1", "a", d);
	struct verifier *v = new_verifier(1, 2000);
	struct outcome o = check(v, "default", REG "/warn/app:v1", NULL, 0);
	assert_int_equal(o.rc, SO_OK);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_WARN);
	assert_null(o.v.pinned);
	snprintf(want, sizeof want, "image " REG "/warn/app:v1 (%s) is not verified: no signatures found", d);
	expect_message(&o, want);
	verifier_free(v);
}

static void no_rule_pin_off_and_reload(void **state)
{
	(void)state;
	char d[72];
	fx_push_app(put, "spin/app", "v1", "a", d);
	fx_sign_classic(put, "spin/app", d, trusted, d);
	struct verifier *v = new_verifier(0, 2000);
	/* Images no rule matches are admitted untouched, without a registry request. */
	struct outcome o = check(v, "default", "ghcr.io/other/app:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	assert_null(o.v.pinned);
	assert_int_equal(reg.requests, 0);
	/* Pinning off: verified, not pinned. */
	o = check(v, "default", REG "/spin/app:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	assert_null(o.v.pinned);
	/* The warn rule turned to enforce by a reload. */
	fx_push_app(put, "warn/app", "v1", "b", d);
	write_policy("enforce", "1m");
	/* the file may keep its size and mtime within one tick: force a different inode */
	char tmp[300];
	snprintf(tmp, sizeof tmp, "%s.copy", policy_path);
	assert_int_equal(link(policy_path, tmp), 0);
	assert_int_equal(unlink(policy_path), 0);
	FILE *src = fopen(tmp, "r"), *dst = fopen(policy_path, "w");
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, src)) > 0)
		fwrite(buf, 1, n, dst);
	fclose(src);
	fclose(dst);
	unlink(tmp);
	assert_int_equal(verifier_reload(v), 1);
	o = check(v, "default", REG "/warn/app:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_DENY);
	/* Unparseable references are refused when there are rules. */
	o = check(v, "default", "UPPER/Case:x", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_DENY);
	assert_non_null(strstr(o.v.message, "(unresolved) is not verified"));
	verifier_free(v);
}

static void private_registry_credentials(void **state)
{
	(void)state;
	char d[72];
	reg.private_repo = "spin/private";
	fx_push_app(put, "spin/private", "v1", "a", d);
	fx_sign_classic(put, "spin/private", d, trusted, d);
	struct verifier *v = new_verifier(1, 2000);
	struct outcome o = check(v, "default", REG "/spin/private:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_DENY);
	assert_non_null(strstr(o.v.message, "401 Unauthorized"));
	json_t *secrets = json_pack("[{s:s}]", "name", "regcred");
	o = check(v, "team", REG "/spin/private:v1", secrets, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	assert_string_equal(reg.last_user, "u");
	free(o.v.pinned);
	/* Credentials are read once per verification, and not at all on a cache hit. */
	int before = creds_calls;
	o = check(v, "team", REG "/spin/private:v1", secrets, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	free(o.v.pinned);
	assert_int_equal(creds_calls, before);
	json_decref(secrets);
	verifier_free(v);
}

/*
 * A digest resolved with credentials is marked, in its cache entry too: an unauthenticated caller (who may have
 * forged the namespace and the pull Secret) gets the verdict but never the digest, pinned or quoted. Digests
 * resolved anonymously, or written by the caller, are unaffected.
 */
static void private_digest_withheld_from_unauthenticated(void **state)
{
	(void)state;
	char d[72], other[72], want[512];
	json_t *secrets = json_pack("[{s:s}]", "name", "regcred");
	reg.private_repo = "spin/private";
	fx_push_app(put, "spin/private", "v1", "a", d);
	fx_sign_classic(put, "spin/private", d, trusted, d);
	snprintf(want, sizeof want, REG "/spin/private:v1@%s", d);
	struct verifier *v = new_verifier(1, 2000);

	struct outcome o = check_as(v, "team", REG "/spin/private:v1", secrets, 0);
	assert_int_equal(o.rc, SO_OK);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	assert_null(o.v.pinned);
	assert_non_null(strstr(o.v.notice, "withheld (not pinned)"));
	assert_non_null(strstr(o.v.notice, "--webhook-client-ca-file"));
	assert_null(strstr(o.v.notice, "sha256:"));
	/* Authenticated: pinned, from the cache (no registry request), no notice. */
	int before = reg.requests;
	o = check_as(v, "team", REG "/spin/private:v1", secrets, 1);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	assert_non_null(o.v.pinned);
	assert_string_equal(o.v.pinned, want);
	assert_string_equal(o.v.notice, "");
	free(o.v.pinned);
	assert_int_equal(reg.requests, before);
	/* A cache hit from a namespace that names no credential still carries the mark. */
	o = check_as(v, "default", REG "/spin/private:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	assert_null(o.v.pinned);
	assert_non_null(strstr(o.v.notice, "withheld"));
	assert_int_equal(reg.requests, before);

	/* Messages: a signature binding another digest, read through the credential. */
	fx_push_app(put, "spin/private", "v2", "b", other);
	char d2[72];
	fx_push_app(put, "spin/private", "v3", "c", d2);
	fx_sign_classic(put, "spin/private", d2, trusted, other);
	o = check_as(v, "team", REG "/spin/private:v3", secrets, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_DENY);
	expect_message(&o, "image " REG "/spin/private:v3 ((digest withheld)) is not verified: signature payload binds "
			   "(digest withheld) not (digest withheld)");
	assert_non_null(strstr(o.v.notice, "withheld (not shown)"));
	o = check_as(v, "team", REG "/spin/private:v3", secrets, 1);
	snprintf(want, sizeof want, "image " REG "/spin/private:v3 (%s) is not verified: signature payload binds %s not %s",
		 d2, other, d2);
	expect_message(&o, want);
	assert_string_equal(o.v.notice, "");
	/* The caller's own digest stays; the one it did not write goes. */
	char ref[200];
	snprintf(ref, sizeof ref, REG "/spin/private@%s", d2);
	o = check_as(v, "team", ref, secrets, 0);
	snprintf(want, sizeof want, "image %s (%s) is not verified: signature payload binds (digest withheld) not %s", ref,
		 d2, d2);
	expect_message(&o, want);

	/* Anonymous resolutions: pinned for anyone (public images keep their pin without a client CA). */
	fx_push_app(put, "spin/app", "v1", "a", d);
	fx_sign_classic(put, "spin/app", d, trusted, d);
	o = check_as(v, "default", REG "/spin/app:v1", NULL, 0);
	assert_int_equal(o.v.decision, VERIFY_IMAGE_ADMIT);
	assert_non_null(o.v.pinned);
	assert_string_equal(o.v.notice, "");
	free(o.v.pinned);
	json_decref(secrets);
	verifier_free(v);
}

/* The webhook's pool asks first whether a registry is needed, and answers without one when it cannot wait. */
static void needs_io_unavailable_and_deadline(void **state)
{
	(void)state;
	struct verifier *v = new_verifier(1, 5000);
	struct verify_image_check none = { .ns = "default", .image = "ghcr.io/other/app:v1" },
				     spin = { .ns = "default", .image = REG "/spin/app:v1" },
				     warn = { .ns = "default", .image = REG "/warn/app:v1" },
				     bad = { .ns = "default", .image = "UPPER/Case:x" };
	assert_int_equal(verifier_needs_io(v, &none), 0);
	assert_int_equal(verifier_needs_io(v, &spin), 1);
	assert_int_equal(verifier_needs_io(v, &warn), 1);
	assert_int_equal(verifier_needs_io(v, &bad), 0); /* refused from the policy alone */
	struct verify_image_verdict out;
	assert_int_equal(verifier_unavailable(v, &spin, "verification queue full", &out), SO_OK);
	assert_int_equal(out.decision, VERIFY_IMAGE_DENY);
	assert_string_equal(out.message, "image " REG "/spin/app:v1 (unresolved) is not verified: verification queue full");
	assert_null(out.pinned);
	assert_int_equal(verifier_unavailable(v, &warn, "verification queue full", &out), SO_OK);
	assert_int_equal(out.decision, VERIFY_IMAGE_WARN);
	assert_int_equal(verifier_unavailable(v, &none, "verification queue full", &out), SO_OK);
	assert_int_equal(out.decision, VERIFY_IMAGE_ADMIT);
	assert_int_equal(reg.requests, 0);
	/* A deadline given with the check (the time it waited in the queue) ends it earlier than the timeout. */
	reg.hang = 1;
	spin.deadline_ms = clock_mono_ms() + 200;
	int64_t t0 = clock_mono_ms();
	assert_int_equal(verifier_admission(v, &spin, &out), SO_OK);
	assert_true(clock_mono_ms() - t0 < 2000);
	assert_int_equal(out.decision, VERIFY_IMAGE_DENY);
	assert_non_null(strstr(out.message, "verification deadline exceeded"));
	verifier_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(classic_signed_admitted_pinned_and_cached, per_test),
		cmocka_unit_test_setup(unsigned_denied, per_test),
		cmocka_unit_test_setup(other_key_denied, per_test),
		cmocka_unit_test_setup(payload_bound_to_other_digest_denied, per_test),
		cmocka_unit_test_setup(bundle_via_fallback_tag, per_test),
		cmocka_unit_test_setup(bundle_via_referrers_api, per_test),
		cmocka_unit_test_setup(registry_down_and_deadline, per_test),
		cmocka_unit_test_setup(warn_mode, per_test),
		cmocka_unit_test_setup(no_rule_pin_off_and_reload, per_test),
		cmocka_unit_test_setup(private_registry_credentials, per_test),
		cmocka_unit_test_setup(private_digest_withheld_from_unauthenticated, per_test),
		cmocka_unit_test_setup(needs_io_unavailable_and_deadline, per_test),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
