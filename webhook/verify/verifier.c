#include "webhook/verify/verifier.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "webhook/verify/ocimanifest.h"
#include "webhook/verify/policywatch.h"
#include "webhook/verify/sigcheck.h"
#include "webhook/verify/vcache.h"
#include "operator/base/mem.h"

#define DEFAULT_TIMEOUT_MS 8000
#define DEFAULT_TAG_TTL_MS 10000
#define NOREF_TTL_MS (10 * 60 * 1000) /* how long a registry without the referrers API is remembered */
#define MAX_SIGNATURES 32             /* signature layers and bundles examined per image */
#define MAX_REFERRERS 16              /* referrer manifests fetched per image */

#define N_RESULTS 4 /* enum verify_result (verifier.h) */
static const char *const result_names[N_RESULTS] = { "verified", "failed", "error", "skipped" };

struct verifier {
	struct policywatch *pw;
	int pin;
	int64_t timeout_ms, tag_ttl_ms;
	struct verify_backend be;
	verify_creds_fn creds;
	void *creds_ud;
	struct vcache *verified; /* "<name>@<digest>#<rule hash>" → how it verified */
	struct vcache *tags;     /* "<name>:<tag>" → digest */
	struct vcache *noref;    /* API hosts answering 404 to the referrers API → "1" */
	atomic_uint_fast64_t results[N_RESULTS];
};

/* One verification in progress. */
struct check {
	struct verifier *v;
	const struct verify_image_check *in;
	const struct policy *pol;
	const struct policy_rule *rule;
	struct image_ref ref;
	char digest[IMAGE_DIGEST_LEN + 1];
	int64_t deadline;
	struct registry_cred *cred; /* loaded on the first registry call */
	int cred_loaded;
	int cred_used;              /* a registry call of this check carried a credential */
	int digest_private;         /* c.digest was resolved with a credential (now or by the cached resolution) */
	/* What discovery saw. */
	int found;               /* signatures examined */
	char wrong[80];          /* a trusted signature bound this other digest */
	char malformed[256];     /* a trusted signature we could not accept, and why */
	int err_rc;              /* the first registry failure */
	char err_msg[512];
	char how[160];           /* what verified: "bundle key release" */
};

void verify_cred_free(struct registry_cred *c)
{
	if (!c)
		return;
	free(c->username);
	free(c->password);
	free(c->identity_token);
	free(c->registry_token);
	free(c);
}

static char *dup_field(const char *src)
{
	return src ? mem_strdup(src) : NULL;
}

struct registry_cred *verify_cred_dup(const struct registry_cred *c)
{
	struct registry_cred *d;
	if (!c)
		return NULL;
	d = mem_calloc(1, sizeof *d);
	d->username = dup_field(c->username);
	d->password = dup_field(c->password);
	d->identity_token = dup_field(c->identity_token);
	d->registry_token = dup_field(c->registry_token);
	return d;
}

static const struct registry_cred *cred_of(struct check *c)
{
	char err[256] = "";
	if (!c->cred_loaded && c->v->creds) {
		int rc = c->v->creds(c->v->creds_ud, c->in->ns, c->in->pull_secrets, &c->ref, c->deadline, &c->cred, err,
				     sizeof err);
		/* Unreadable Secrets leave us anonymous: a public image still verifies, a private one fails with the
		 * registry's 401, which names the real problem. */
		if (rc)
			log_warn("verify", "credentials for %s in namespace %s: %s; trying anonymously", c->ref.registry,
				 c->in->ns ? c->in->ns : "", err);
	}
	c->cred_loaded = 1;
	if (c->cred)
		c->cred_used = 1;
	return c->cred;
}

/* The deadline passed: no registry call is started any more. */
static int expired(const struct check *c)
{
	return clock_mono_ms() >= c->deadline;
}

/* Keeps the first registry failure (a deadline overrides, being the cause of whatever follows). */
static void record_error(struct check *c, int rc, const char *msg)
{
	if (rc == SO_E_TIMEOUT || (!c->err_rc && rc)) {
		c->err_rc = rc;
		snprintf(c->err_msg, sizeof c->err_msg, "%s", msg && *msg ? msg : so_strerror(rc));
	}
}

/* The reason text for a registry failure (deny message format of docs/verify-images.md). */
static void error_reason(const struct check *c, int rc, const char *msg, char *out, size_t n)
{
	const char *host = c->ref.registry ? c->ref.registry : "?";
	if (rc == SO_E_TIMEOUT)
		snprintf(out, n, "verification deadline exceeded");
	else if (msg && strncmp(msg, "registry ", 9) == 0)
		snprintf(out, n, "%s", msg); /* the registry client's lines already name the registry */
	else if (rc == SO_E_TRANSPORT)
		snprintf(out, n, "registry %s unreachable: %s", host, msg && *msg ? msg : so_strerror(rc));
	else
		snprintf(out, n, "registry %s: %s", host, msg && *msg ? msg : so_strerror(rc));
}

const char *verify_result_name(enum verify_result r)
{
	return (unsigned)r < N_RESULTS ? result_names[r] : "?";
}

static void blob_release(struct registry_blob *b)
{
	buf_free(&b->body); /* registry_blob owns nothing else */
}

/* Fetches a blob and checks it as a signature. 1 when it verifies, else 0 (what it was is recorded). */
static int check_layer(struct check *c, const struct oci_descriptor *d, int bundle)
{
	struct registry_blob blob = { 0 };
	struct sig_result res;
	char err[512] = "";
	int rc, ok = 0;

	if (c->found >= MAX_SIGNATURES)
		return 0;
	if (expired(c)) {
		record_error(c, SO_E_TIMEOUT, "");
		return 0;
	}
	if (!bundle && !d->signature) {
		c->found++;
		return 0; /* an attestation layer or a keyless leftover: nothing to verify with a key */
	}
	buf_init(&blob.body, REGISTRY_MAX_BLOB);
	rc = c->v->be.get_blob(c->v->be.ud, &c->ref, cred_of(c), d->digest, REGISTRY_MAX_BLOB, c->deadline, &blob, err,
			       sizeof err);
	if (rc) {
		record_error(c, rc, err);
		goto out;
	}
	c->found++;
	if (bundle)
		sigcheck_bundle(c->digest, blob.body.data ? blob.body.data : "", blob.body.len, c->rule->keys,
				c->rule->n_keys, &res);
	else
		sigcheck_simple(c->digest, (const unsigned char *)(blob.body.data ? blob.body.data : ""), blob.body.len,
				d->signature, strlen(d->signature), c->rule->keys, c->rule->n_keys, &res);
	switch (res.verdict) {
	case SIG_VERIFIED:
		snprintf(c->how, sizeof c->how, "%s key %s", bundle ? "bundle" : "simple-signing",
			 c->rule->keys[res.key_index].name);
		ok = 1;
		break;
	case SIG_WRONG_DIGEST:
		snprintf(c->wrong, sizeof c->wrong, "%s", res.bound_digest);
		break;
	case SIG_MALFORMED:
		if (res.key_index >= 0 || !*c->malformed)
			snprintf(c->malformed, sizeof c->malformed, "%s", res.detail);
		break;
	case SIG_UNTRUSTED: break;
	}
out:
	blob_release(&blob);
	return ok;
}

/* Fetches a manifest (by tag or digest) and parses it. SO_E_API_NOT_FOUND passes through unrecorded. */
static int fetch_manifest(struct check *c, const char *reference, const char *accept, struct oci_manifest *m)
{
	struct registry_blob blob = { 0 };
	char err[512] = "";
	int rc;

	if (expired(c)) {
		record_error(c, SO_E_TIMEOUT, "");
		return SO_E_TIMEOUT;
	}
	buf_init(&blob.body, REGISTRY_MAX_MANIFEST);
	rc = c->v->be.get_manifest(c->v->be.ud, &c->ref, cred_of(c), reference, accept, c->deadline, &blob, err,
				   sizeof err);
	if (rc == SO_OK)
		rc = oci_manifest_parse(blob.body.data ? blob.body.data : "", blob.body.len, blob.media_type, m, err,
					sizeof err);
	if (rc && rc != SO_E_API_NOT_FOUND)
		record_error(c, rc, err);
	blob_release(&blob);
	return rc;
}

/* Checks the layers of one signature manifest; 1 when one verifies. */
static int check_manifest_layers(struct check *c, const struct oci_manifest *m)
{
	for (size_t i = 0; i < m->n && c->found < MAX_SIGNATURES; i++) {
		const struct oci_descriptor *d = &m->items[i];
		int bundle = strncmp(d->media_type, MT_BUNDLE_PREFIX, strlen(MT_BUNDLE_PREFIX)) == 0;
		if (!bundle && strcmp(d->media_type, MT_SIMPLE_SIGNING) != 0)
			continue;
		if (check_layer(c, d, bundle))
			return 1;
		if (c->err_rc == SO_E_TIMEOUT)
			break;
	}
	return 0;
}

static int noref_fill(void *ud, char **value, int64_t *ttl_ms)
{
	(void)ud;
	*value = mem_strdup("1");
	*ttl_ms = NOREF_TTL_MS;
	return SO_OK;
}

/* The referrers of the digest: the API when the registry has it, else the sha256-<hex> fallback tag.
 * SO_OK with idx, SO_E_API_NOT_FOUND when there are none, else a recorded failure. */
static int list_referrers(struct check *c, struct oci_manifest *idx)
{
	const char *host = image_ref_api_host(&c->ref);
	char tag[80], err[512] = "", *v = NULL;
	struct registry_blob blob = { 0 };
	int rc = SO_E_API_NOT_FOUND;

	if (vcache_peek(c->v->noref, host, &v) != SO_OK) {
		if (expired(c)) {
			record_error(c, SO_E_TIMEOUT, "");
			return SO_E_TIMEOUT;
		}
		buf_init(&blob.body, REGISTRY_MAX_MANIFEST);
		rc = c->v->be.get_referrers(c->v->be.ud, &c->ref, cred_of(c), c->digest, c->deadline, &blob, err,
					    sizeof err);
		if (rc == SO_OK)
			rc = oci_manifest_parse(blob.body.data ? blob.body.data : "", blob.body.len, blob.media_type, idx,
						err, sizeof err);
		blob_release(&blob);
		if (rc == SO_OK)
			return SO_OK;
		if (rc != SO_E_API_NOT_FOUND) {
			record_error(c, rc, err);
			return rc;
		}
		/* No referrers API: remember it, so later verifications skip the round trip. */
		vcache_get(c->v->noref, host, 0, noref_fill, NULL, &v, NULL);
	}
	free(v);
	snprintf(tag, sizeof tag, "sha256-%.64s", c->digest + 7);
	return fetch_manifest(c, tag, MT_OCI_INDEX, idx);
}

/* Signature discovery and checks (docs/internals/verify.md). 1 when a signature verifies. */
static int discover(struct check *c)
{
	struct oci_manifest idx = { 0 }, m = { 0 };
	char tag[80];
	size_t fetched = 0;
	int rc, ok = 0;

	rc = list_referrers(c, &idx);
	for (size_t i = 0; rc == SO_OK && !ok && i < idx.n && fetched < MAX_REFERRERS; i++) {
		const struct oci_descriptor *d = &idx.items[i];
		int bundle = !*d->artifact_type || strncmp(d->artifact_type, MT_BUNDLE_PREFIX, strlen(MT_BUNDLE_PREFIX)) == 0;
		if (!bundle && strcmp(d->artifact_type, MT_COSIGN_SIG_ARTIFACT) != 0)
			continue; /* SBOMs, other attestation formats */
		fetched++;
		oci_manifest_free(&m);
		if (fetch_manifest(c, d->digest, MT_OCI_MANIFEST, &m) == SO_OK && !m.is_index)
			ok = check_manifest_layers(c, &m);
		if (c->err_rc == SO_E_TIMEOUT)
			goto out;
	}
	if (ok || c->err_rc == SO_E_TIMEOUT)
		goto out;
	/* The classic tag. */
	oci_manifest_free(&m);
	snprintf(tag, sizeof tag, "sha256-%.64s.sig", c->digest + 7);
	if (fetch_manifest(c, tag, MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST, &m) == SO_OK && !m.is_index)
		ok = check_manifest_layers(c, &m);
out:
	oci_manifest_free(&m);
	oci_manifest_free(&idx);
	return ok;
}

/* vcache fill of the verified-result cache: discovery, then the value (how, or why not). */
static int verify_fill(void *ud, char **value, int64_t *ttl_ms)
{
	struct check *c = ud;
	char reason[768];
	int rc;

	*ttl_ms = 0;
	if (discover(c)) {
		*value = mem_strdup(c->how);
		*ttl_ms = c->pol->cache_ttl_ms;
		return SO_OK;
	}
	if (*c->wrong) {
		snprintf(reason, sizeof reason, "signature payload binds %s not %s", c->wrong, c->digest);
		rc = SO_E_INVAL;
	} else if (c->err_rc) {
		/* Fail closed: a signature may be in what could not be read. */
		error_reason(c, c->err_rc, c->err_msg, reason, sizeof reason);
		rc = c->err_rc == SO_E_INVAL ? SO_E_BAD_RESPONSE : c->err_rc;
	} else if (c->found > 0 && *c->malformed) {
		snprintf(reason, sizeof reason, "no signature verifies with a trusted key of rule %s (%s)", c->rule->name,
			 c->malformed);
		rc = SO_E_INVAL;
	} else if (c->found > 0) {
		snprintf(reason, sizeof reason, "no signature verifies with a trusted key of rule %s", c->rule->name);
		rc = SO_E_INVAL;
	} else {
		snprintf(reason, sizeof reason, "no signatures found");
		rc = SO_E_INVAL;
	}
	*value = mem_strdup(reason);
	return rc;
}

/* Appended to a tags cache value ("sha256:<hex>") when the resolution carried a registry credential. */
#define TAG_PRIVATE " private"
/* What an answer to an unauthenticated caller shows instead of a digest resolved with credentials. */
#define DIGEST_WITHHELD "(digest withheld)"

static int resolve_fill(void *ud, char **value, int64_t *ttl_ms)
{
	struct check *c = ud;
	char digest[IMAGE_DIGEST_LEN + 1] = "", err[512] = "", reason[768];
	int rc;

	*ttl_ms = c->v->tag_ttl_ms;
	if (expired(c))
		rc = SO_E_TIMEOUT;
	else
		rc = c->v->be.resolve(c->v->be.ud, &c->ref, cred_of(c), c->deadline, digest, err, sizeof err);
	if (rc == SO_OK) {
		/* The mark travels with the cached value, so that a hit knows how the digest was had. */
		size_t n = strlen(digest) + sizeof TAG_PRIVATE;
		*value = mem_alloc(n);
		snprintf(*value, n, "%s%s", digest, c->cred_used ? TAG_PRIVATE : "");
		return SO_OK;
	}
	error_reason(c, rc, err, reason, sizeof reason);
	*value = mem_strdup(reason);
	return rc;
}

static const char *how_name(enum vcache_how h)
{
	return h == VCACHE_HIT ? "hit" : h == VCACHE_SHARED ? "shared" : "miss";
}

static void deny_text(struct verify_image_verdict *out, const char *image, const char *digest, const char *reason)
{
	snprintf(out->message, sizeof out->message, "image %s (%s) is not verified: %s", image,
		 digest && *digest ? digest : "unresolved", reason);
}

/* Replaces in s every digest but keep (when not NULL) by DIGEST_WITHHELD, which is shorter. Returns how many were
 * replaced. */
static int scrub_digests(char *s, const char *keep)
{
	static const char hex[] = "0123456789abcdef";
	size_t wl = strlen(DIGEST_WITHHELD), len = strlen(s);
	int count = 0;
	char *p = s;

	while ((p = strstr(p, "sha256:"))) {
		size_t h = 0;
		while (h < 64 && p[7 + h] && strchr(hex, p[7 + h]))
			h++;
		if (h != 64 || (keep && !strncmp(p, keep, 71))) {
			p += 7;
			continue;
		}
		/* 71 bytes become wl (shorter): the tail moves left. */
		memmove(p + wl, p + 71, len - (size_t)(p + 71 - s) + 1);
		memcpy(p, DIGEST_WITHHELD, wl);
		len -= 71 - wl;
		p += wl;
		count++;
	}
	return count;
}

/*
 * An unauthenticated caller (anyone who reaches the port can forge a review naming any namespace and pull
 * Secret) must not learn a digest resolved with registry credentials: no pin (verifier_explain left it out),
 * no such digest in the message. Digests the caller wrote, or resolved anonymously, stay. Other digests in a
 * message (a signature's payload, a registry's error) came through the credential when one was used, or
 * through another check's when the answer was shared: withheld too. The decision stays.
 */
static void withhold(struct check *c, const struct verify_image_check *in, struct verify_image_verdict *out,
		     enum vcache_how how)
{
	int shown = *c->ref.digest || !c->digest_private; /* c->digest may be shown */
	int hidden = 0, unpinned = c->digest_private && c->v->pin && !in->validating && !*c->ref.digest &&
				   out->decision == VERIFY_IMAGE_ADMIT && c->rule;

	if (c->digest_private || c->cred_used || how == VCACHE_SHARED)
		hidden = scrub_digests(out->message, shown && *c->digest ? c->digest : NULL);
	if (!hidden && !unpinned)
		return;
	snprintf(out->notice, sizeof out->notice,
		 "image %s: a digest resolved with registry credentials is withheld (%s): this webhook does not "
		 "authenticate its callers; set --webhook-client-ca-file (chart: webhook.clientCA) and give the API "
		 "server a client certificate to pin private images (docs/webhook.md)",
		 in->image, unpinned ? "not pinned" : "not shown");
}

/* The reason of a verdict that is not ADMIT-verified, for verify_explain (NULL: not asked). */
static void explain_reason(struct verify_explain *ex, const char *reason)
{
	if (ex)
		snprintf(ex->reason, sizeof ex->reason, "%s", reason);
}

int verifier_admission(void *verifier, const struct verify_image_check *in, struct verify_image_verdict *out)
{
	return verifier_explain(verifier, in, out, NULL);
}

int verifier_explain(void *verifier, const struct verify_image_check *in, struct verify_image_verdict *out,
		     struct verify_explain *ex)
{
	struct verifier *v = verifier;
	struct check c = { .v = v, .in = in };
	struct policy *pol = policywatch_get(v->pw);
	struct registry_stats s0 = { 0 }, s1 = { 0 };
	char perr[256] = "", *name = NULL, *name_tag = NULL, *key = NULL, *value = NULL;
	enum vcache_how how = VCACHE_MISS;
	enum verify_result label = VERIFY_ERROR;
	int64_t t0 = clock_mono_ms();
	size_t klen;
	int rc = SO_OK, vrc;

	memset(out, 0, sizeof *out);
	if (ex)
		memset(ex, 0, sizeof *ex);
	out->decision = VERIFY_IMAGE_ADMIT;
	c.pol = pol;
	c.deadline = t0 + v->timeout_ms;
	if (in->deadline_ms > 0 && in->deadline_ms < c.deadline)
		c.deadline = in->deadline_ms; /* queued on the webhook's pool: the budget began at submission */
	if (v->be.stats)
		v->be.stats(v->be.ud, &s0);
	if (!in->image || !*in->image) {
		label = VERIFY_SKIPPED; /* the validator reports a missing image */
		goto out;
	}
	if (image_ref_parse(in->image, &c.ref, perr, sizeof perr)) {
		/* Nothing can be pulled from it either; when any rule exists, refuse rather than guess. */
		if (pol->n_rules > 0) {
			out->decision = VERIFY_IMAGE_DENY;
			deny_text(out, in->image, NULL, perr);
			explain_reason(ex, perr);
		} else {
			label = VERIFY_SKIPPED;
		}
		goto out;
	}
	name = image_ref_name(&c.ref);
	name_tag = image_ref_name_tag(&c.ref);
	c.rule = policy_match(pol, in->ns, name_tag, name);
	if (!c.rule) {
		label = VERIFY_SKIPPED;
		goto out;
	}
	/* The digest: as given (the tag is then only advisory), else the tag resolved (briefly cached). */
	if (*c.ref.digest) {
		snprintf(c.digest, sizeof c.digest, "%s", c.ref.digest);
	} else {
		int64_t ttl;
		vrc = v->tag_ttl_ms < 0 ? resolve_fill(&c, &value, &ttl)
					: vcache_get(v->tags, name_tag, c.deadline, resolve_fill, &c, &value, NULL);
		if (vrc) {
			out->decision = c.rule->warn ? VERIFY_IMAGE_WARN : VERIFY_IMAGE_DENY;
			deny_text(out, in->image, NULL, value ? value : so_strerror(vrc));
			explain_reason(ex, value ? value : so_strerror(vrc));
			goto out;
		}
		char *mark = strchr(value, ' ');
		c.digest_private = mark && !strcmp(mark, TAG_PRIVATE);
		if (mark)
			*mark = '\0';
		snprintf(c.digest, sizeof c.digest, "%s", value);
		free(value);
		value = NULL;
	}
	klen = strlen(name) + strlen(c.digest) + 80;
	key = mem_alloc(klen);
	snprintf(key, klen, "%s@%s#%s", name, c.digest, c.rule->hash);
	vrc = vcache_get(v->verified, key, c.deadline, verify_fill, &c, &value, &how);
	if (vrc == SO_OK) {
		label = VERIFY_VERIFIED;
		snprintf(c.how, sizeof c.how, "%s", value ? value : "");
		if (v->pin && !in->validating && !*c.ref.digest && !(c.digest_private && !in->authenticated)) {
			out->pinned = image_ref_pinned(in->image, &c.ref, c.digest);
			if (!out->pinned)
				rc = SO_E_INVAL; /* a digest not sha256:<hex> (the registry client refuses those) */
		}
		goto out;
	}
	label = vrc == SO_E_INVAL ? VERIFY_FAILED : VERIFY_ERROR;
	out->decision = c.rule->warn ? VERIFY_IMAGE_WARN : VERIFY_IMAGE_DENY;
	deny_text(out, in->image, c.digest,
		  value ? value : vrc == SO_E_TIMEOUT ? "verification deadline exceeded" : so_strerror(vrc));
	explain_reason(ex, value ? value : vrc == SO_E_TIMEOUT ? "verification deadline exceeded" : so_strerror(vrc));
out:
	if (ex) {
		ex->result = label;
		if (c.rule) {
			snprintf(ex->rule, sizeof ex->rule, "%s", c.rule->name);
			ex->warn = c.rule->warn;
		}
		snprintf(ex->digest, sizeof ex->digest, "%s", c.digest);
		if (label == VERIFY_VERIFIED)
			snprintf(ex->by, sizeof ex->by, "%s", c.how);
	}
	if (c.rule) {
		if (v->be.stats)
			v->be.stats(v->be.ud, &s1);
		if (!in->validating)
			atomic_fetch_add(&v->results[label], 1);
		log_info("verify", "image=%s digest=%s rule=%s mode=%s result=%s cache=%s duration_ms=%lld "
				   "registry_requests=%llu%s%s%s%s",
			 in->image, *c.digest ? c.digest : "unresolved", c.rule->name, c.rule->warn ? "warn" : "enforce",
			 result_names[label], how_name(how), (long long)(clock_mono_ms() - t0),
			 (unsigned long long)(s1.requests - s0.requests), in->validating ? " webhook=validating" : "",
			 *c.how && label == VERIFY_VERIFIED ? " by=\"" : "", label == VERIFY_VERIFIED ? c.how : "",
			 *c.how && label == VERIFY_VERIFIED ? "\"" : "");
		if (label != VERIFY_VERIFIED)
			log_info("verify", "%s", out->message);
	} else if (!in->validating) {
		atomic_fetch_add(&v->results[label], 1);
	}
	if (!in->authenticated && rc == SO_OK)
		withhold(&c, in, out, how); /* after the log line: the operator sees the digests */
	if (rc == SO_E_INVAL)
		snprintf(out->message, sizeof out->message, "image verification: cannot pin %s to digest %s", in->image,
			 c.digest);
	free(value);
	free(key);
	free(name);
	free(name_tag);
	verify_cred_free(c.cred);
	image_ref_free(&c.ref);
	policy_unref(pol);
	return rc;
}

/* The rule for in->image, or NULL (no rule, or no valid image name: verifier_explain answers those from the
 * policy alone). *pol holds the policy the rule lives in (policy_unref). */
static const struct policy_rule *rule_for(struct verifier *v, const struct verify_image_check *in,
					  struct policy **pol)
{
	struct image_ref ref;
	char perr[256];
	const struct policy_rule *rule = NULL;

	*pol = policywatch_get(v->pw);
	if (!in->image || !*in->image || image_ref_parse(in->image, &ref, perr, sizeof perr))
		return NULL;
	char *name = image_ref_name(&ref), *name_tag = image_ref_name_tag(&ref);
	rule = policy_match(*pol, in->ns, name_tag, name);
	free(name);
	free(name_tag);
	image_ref_free(&ref);
	return rule;
}

int verifier_needs_io(void *verifier, const struct verify_image_check *in)
{
	struct policy *pol;
	int yes = rule_for(verifier, in, &pol) != NULL;
	policy_unref(pol);
	return yes;
}

int verifier_unavailable(void *verifier, const struct verify_image_check *in, const char *reason,
			 struct verify_image_verdict *out)
{
	struct verifier *v = verifier;
	struct policy *pol;
	const struct policy_rule *rule = rule_for(v, in, &pol);

	memset(out, 0, sizeof *out);
	out->decision = VERIFY_IMAGE_ADMIT;
	if (rule) {
		/* Failing as a registry error fails: closed under enforce, a warning under warn. */
		out->decision = rule->warn ? VERIFY_IMAGE_WARN : VERIFY_IMAGE_DENY;
		deny_text(out, in->image, NULL, reason);
		if (!in->validating)
			atomic_fetch_add(&v->results[VERIFY_ERROR], 1);
		log_info("verify", "image=%s digest=unresolved rule=%s mode=%s result=error cache=none%s reason=\"%s\"",
			 in->image, rule->name, rule->warn ? "warn" : "enforce", in->validating ? " webhook=validating" : "",
			 reason);
	}
	policy_unref(pol);
	return SO_OK;
}

int verifier_new(const struct verifier_opts *o, struct verifier **out, char *err, size_t errlen)
{
	struct verifier *v;
	struct vcache_opts co = { .max_entries = o->cache_entries, .now_ms = o->now_ms, .clock_ud = o->clock_ud };
	struct vcache_opts small = { .max_entries = 256, .now_ms = o->now_ms, .clock_ud = o->clock_ud };
	int rc;

	*out = NULL;
	if (!o->backend.resolve || !o->backend.get_manifest || !o->backend.get_blob || !o->backend.get_referrers)
		return so_fail(err, errlen, SO_E_INVAL, "image verification: no registry backend");
	v = mem_calloc(1, sizeof *v);
	v->pin = o->pin;
	v->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	v->tag_ttl_ms = o->tag_ttl_ms == 0 ? DEFAULT_TAG_TTL_MS : o->tag_ttl_ms;
	v->be = o->backend;
	v->creds = o->creds;
	v->creds_ud = o->creds_ud;
	for (int i = 0; i < N_RESULTS; i++)
		atomic_init(&v->results[i], 0);
	vcache_new(&co, &v->verified);
	vcache_new(&small, &v->tags);
	vcache_new(&small, &v->noref);
	if ((rc = policywatch_new(o->policy_file, o->policy_poll_s, &v->pw, err, errlen)))
		goto fail;
	if ((rc = policywatch_start(v->pw))) {
		so_fail(err, errlen, rc, "cannot start the policy watcher");
		goto fail;
	}
	*out = v;
	return SO_OK;
fail:
	verifier_free(v);
	return rc;
}

void verifier_free(struct verifier *v)
{
	if (!v)
		return;
	policywatch_free(v->pw);
	vcache_free(v->verified);
	vcache_free(v->tags);
	vcache_free(v->noref);
	free(v);
}

int verifier_reload(struct verifier *v)
{
	return policywatch_check(v->pw);
}

void verifier_metrics(struct verifier *v, struct buf *out)
{
	struct registry_stats rs = { 0 };
	struct vcache_stats cs;
	struct policywatch_stats ps;

	if (!v)
		return;
	if (v->be.stats)
		v->be.stats(v->be.ud, &rs);
	vcache_get_stats(v->verified, &cs);
	policywatch_get_stats(v->pw, &ps);
	buf_appends(out, "# HELP spin_operator_image_verifications_total SpinApp image verifications by the mutating "
			 "webhook, by result (skipped: no policy rule applies).\n"
			 "# TYPE spin_operator_image_verifications_total counter\n");
	for (int i = 0; i < N_RESULTS; i++)
		buf_appendf(out, "spin_operator_image_verifications_total{result=\"%s\"} %llu\n", result_names[i],
			    (unsigned long long)atomic_load(&v->results[i]));
	buf_appendf(out,
		    "# HELP spin_operator_registry_requests_total HTTP requests sent to OCI registries (token requests "
		    "included).\n# TYPE spin_operator_registry_requests_total counter\n"
		    "spin_operator_registry_requests_total %llu\n"
		    "# HELP spin_operator_registry_token_fetches_total Bearer tokens fetched from registry token "
		    "services.\n# TYPE spin_operator_registry_token_fetches_total counter\n"
		    "spin_operator_registry_token_fetches_total %llu\n",
		    (unsigned long long)rs.requests, (unsigned long long)rs.token_fetches);
	buf_appendf(out,
		    "# HELP spin_operator_image_verification_cache_total Verified-result cache lookups by result.\n"
		    "# TYPE spin_operator_image_verification_cache_total counter\n"
		    "spin_operator_image_verification_cache_total{result=\"hit\"} %llu\n"
		    "spin_operator_image_verification_cache_total{result=\"miss\"} %llu\n"
		    "spin_operator_image_verification_cache_total{result=\"shared\"} %llu\n"
		    "# HELP spin_operator_image_verification_cache_entries Verified results cached.\n"
		    "# TYPE spin_operator_image_verification_cache_entries gauge\n"
		    "spin_operator_image_verification_cache_entries %zu\n",
		    (unsigned long long)cs.hits, (unsigned long long)cs.misses, (unsigned long long)cs.shared,
		    cs.entries);
	buf_appendf(out,
		    "# HELP spin_operator_verify_policy_reloads_total Policy file changes taken into use.\n"
		    "# TYPE spin_operator_verify_policy_reloads_total counter\n"
		    "spin_operator_verify_policy_reloads_total %lu\n"
		    "# HELP spin_operator_verify_policy_errors_total Policy file changes refused (the previous policy "
		    "stayed).\n# TYPE spin_operator_verify_policy_errors_total counter\n"
		    "spin_operator_verify_policy_errors_total %lu\n",
		    ps.reloads, ps.errors);
}
