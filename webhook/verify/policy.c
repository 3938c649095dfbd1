#include "webhook/verify/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/yamljson.h"
#include "operator/kube/imageref.h"
#include "operator/base/mem.h"

#define MAX_RULES 256
#define MAX_GLOBS 256
#define MAX_KEYS 64
#define MAX_NAME 253
#define MAX_GLOB_LEN 1024
#define MAX_KEY_FILE ((size_t)64 << 10)

/* ---- globs ---- */

int policy_glob_match(const char *pattern, const char *s)
{
	size_t n = strlen(s), m = strlen(pattern);
	unsigned char *prev, *cur;
	int ok;

	/* Dynamic programming over (pattern position, string prefix): linear in both, no backtracking blow-up. */
	prev = mem_calloc(n + 1, 1);
	cur = mem_calloc(n + 1, 1);
	prev[0] = 1;
	for (size_t i = 0; i < m;) {
		int star = pattern[i] == '*', dstar = star && pattern[i + 1] == '*';
		cur[0] = star ? prev[0] : 0;
		for (size_t j = 1; j <= n; j++) {
			if (dstar)
				cur[j] = prev[j] || cur[j - 1];
			else if (star)
				cur[j] = prev[j] || (cur[j - 1] && s[j - 1] != '/');
			else
				cur[j] = prev[j - 1] && s[j - 1] == pattern[i];
		}
		unsigned char *t = prev;
		prev = cur;
		cur = t;
		i += dstar ? 2 : 1;
		/* A run of three or more stars is '**' followed by '*': the same language as '**'. */
		while (dstar && pattern[i] == '*')
			i++;
	}
	ok = prev[n];
	free(prev);
	free(cur);
	return ok;
}

const struct policy_rule *policy_match(const struct policy *p, const char *ns, const char *name_tag,
				       const char *name_only)
{
	for (size_t i = 0; p && i < p->n_rules; i++) {
		const struct policy_rule *r = &p->rules[i];
		int img = 0, nsok = r->n_namespaces == 0;
		for (size_t j = 0; !img && j < r->n_images; j++)
			img = policy_glob_match(r->images[j], name_tag) ||
			      (name_only && policy_glob_match(r->images[j], name_only));
		for (size_t j = 0; img && !nsok && j < r->n_namespaces; j++)
			nsok = policy_glob_match(r->namespaces[j], ns ? ns : "");
		if (img && nsok)
			return r;
	}
	return NULL;
}

/* ---- durations ---- */

int verify_parse_duration_ms(const char *s, int64_t *ms)
{
	double total = 0;
	const char *p = s;

	if (!s || !*s)
		return SO_E_INVAL;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return SO_OK;
	}
	while (*p) {
		double v = 0, scale = 1;
		int digits = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p++ - '0');
			digits++;
			if (v > 1e12)
				return SO_E_INVAL;
		}
		if (*p == '.') {
			p++;
			for (double f = 0.1; *p >= '0' && *p <= '9'; f /= 10, p++, digits++)
				v += (*p - '0') * f;
		}
		if (!digits)
			return SO_E_INVAL;
		if (strncmp(p, "ms", 2) == 0) {
			scale = 1;
			p += 2;
		} else if (*p == 's') {
			scale = 1000;
			p++;
		} else if (*p == 'm') {
			scale = 60000;
			p++;
		} else if (*p == 'h') {
			scale = 3600000;
			p++;
		} else {
			return SO_E_INVAL;
		}
		total += v * scale;
		if (total > 86400000.0)
			return SO_E_INVAL;
	}
	*ms = (int64_t)(total + 0.5);
	return SO_OK;
}

/* ---- parsing ---- */

static void rule_free(struct policy_rule *r)
{
	for (size_t i = 0; i < r->n_images; i++)
		free(r->images[i]);
	for (size_t i = 0; i < r->n_namespaces; i++)
		free(r->namespaces[i]);
	for (size_t i = 0; i < r->n_keys; i++) {
		free(r->keys[i].name);
		EVP_PKEY_free(r->keys[i].pkey);
	}
	free(r->images);
	free(r->namespaces);
	free(r->keys);
	free(r->name);
}

static void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_rules; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	free(p);
}

struct policy *policy_ref(struct policy *p)
{
	if (p)
		atomic_fetch_add(&p->refs, 1);
	return p;
}

void policy_unref(struct policy *p)
{
	if (p && atomic_fetch_sub(&p->refs, 1) == 1)
		policy_free(p);
}

/* Refuses members of obj other than the allowed ones (field names the path for the message). */
static int only_keys(const json_t *obj, const char *const *allowed, const char *name, const char *field,
		     char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		int ok = 0;
		for (size_t i = 0; allowed[i]; i++)
			ok |= strcmp(key, allowed[i]) == 0;
		if (!ok)
			return so_fail(err, errlen, SO_E_INVAL, "%s: %s%s%.64s: unknown field", name, field,
				       *field ? "." : "", key);
	}
	return SO_OK;
}

/* A non-empty string of at most max bytes, NUL-free (yamljson_to_json refuses NULs in keys only). */
static int want_string(const json_t *v, size_t max, const char *name, const char *field, const char **out,
		       char *err, size_t errlen)
{
	if (!json_is_string(v))
		return so_fail(err, errlen, SO_E_INVAL, "%s: %s: %s", name, field,
			       v ? "must be a string" : "required");
	if (json_string_length(v) == 0 || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return so_fail(err, errlen, SO_E_INVAL, "%s: %s: must be a non-empty string of at most %zu bytes",
			       name, field, max);
	*out = json_string_value(v);
	return SO_OK;
}

/*
 * An image glob whose first component is a literal registry host (GHCR.io:443/acme/...) gets the host spelling
 * image references are matched with (image_ref_canonical_host), so that rule and image agree however either is
 * written. A first component with a glob character, or one that is not a host (acme/...), is left alone.
 */
static void canonical_glob_host(char *glob)
{
	char *slash = strchr(glob, '/');
	size_t n, canon;
	if (!slash || memchr(glob, '*', (size_t)(slash - glob)))
		return;
	n = (size_t)(slash - glob);
	if (!memchr(glob, '.', n) && !memchr(glob, ':', n) && !(n == 9 && !memcmp(glob, "localhost", 9))) {
		int upper = 0;
		for (size_t i = 0; i < n; i++)
			upper |= glob[i] >= 'A' && glob[i] <= 'Z';
		if (!upper)
			return;
	}
	*slash = '\0';
	image_ref_canonical_host(glob);
	canon = strlen(glob);
	memmove(glob + canon, slash, strlen(slash + 1) + 2); /* "/" + the rest + NUL, over the shortened host */
	glob[canon] = '/';
}

/* A list of globs (strings) into *out. */
static int want_globs(const json_t *v, const char *name, const char *field, char ***out, size_t *n, char *err,
		      size_t errlen)
{
	size_t i;
	json_t *e;
	char path[128];
	int rc;

	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > MAX_GLOBS)
		return so_fail(err, errlen, SO_E_INVAL, "%s: %s: must be a list of 1 to %d patterns", name, field,
			       MAX_GLOBS);
	*out = mem_calloc(json_array_size(v), sizeof **out);
	json_array_foreach(v, i, e) {
		const char *s;
		snprintf(path, sizeof path, "%s[%zu]", field, i);
		if ((rc = want_string(e, MAX_GLOB_LEN, name, path, &s, err, errlen)))
			return rc;
		(*out)[i] = mem_strdup(s);
		(*n)++;
	}
	return SO_OK;
}

static int parse_key(const json_t *k, const char *name, const char *field, struct sig_key *out, char *err,
		     size_t errlen)
{
	static const char *const allowed[] = { "name", "publicKey", "publicKeyFile", NULL };
	const json_t *pem = json_object_get(k, "publicKey"), *file = json_object_get(k, "publicKeyFile");
	const char *s, *path;
	char path_field[160], kerr[256] = "";
	struct buf b = BUF_INIT(MAX_KEY_FILE);
	int rc;

	if (!json_is_object(k))
		return so_fail(err, errlen, SO_E_INVAL, "%s: %s: must be a mapping", name, field);
	if ((rc = only_keys(k, allowed, name, field, err, errlen)))
		return rc;
	snprintf(path_field, sizeof path_field, "%s.name", field);
	if ((rc = want_string(json_object_get(k, "name"), MAX_NAME, name, path_field, &s, err, errlen)))
		return rc;
	out->name = mem_strdup(s);
	if ((pem != NULL) == (file != NULL))
		return so_fail(err, errlen, SO_E_INVAL, "%s: %s: exactly one of publicKey and publicKeyFile is required",
			       name, field);
	if (pem) {
		snprintf(path_field, sizeof path_field, "%s.publicKey", field);
		if ((rc = want_string(pem, MAX_KEY_FILE, name, path_field, &s, err, errlen)))
			return rc;
		rc = sigcheck_key_from_pem(s, strlen(s), &out->pkey, kerr, sizeof kerr);
	} else {
		snprintf(path_field, sizeof path_field, "%s.publicKeyFile", field);
		if ((rc = want_string(file, 4096, name, path_field, &path, err, errlen)))
			return rc;
		if ((rc = buf_read_file(path, MAX_KEY_FILE, &b, kerr, sizeof kerr)) == SO_OK)
			rc = sigcheck_key_from_pem(b.data, b.len, &out->pkey, kerr, sizeof kerr);
		buf_free(&b);
	}
	if (rc)
		return so_fail(err, errlen, rc == SO_E_IO ? SO_E_IO : SO_E_INVAL, "%s: %s: %s", name, path_field, kerr);
	return SO_OK;
}

/* sha256 hex of what was fed to ctx. */
static void hash_hex(EVP_MD_CTX *ctx, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_DigestFinal_ex(ctx, md, &n);
	for (unsigned int i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Feeds a length-prefixed field, so that no two different policies feed the same bytes. */
static int feed(EVP_MD_CTX *ctx, const void *p, size_t n)
{
	char len[24];
	int l = snprintf(len, sizeof len, "%zu:", n);
	return EVP_DigestUpdate(ctx, len, (size_t)l) == 1 && EVP_DigestUpdate(ctx, p, n) == 1 ? SO_OK : SO_E_CONFIG;
}

/* The rule's trust hash (name and key material) and its part of the policy hash (everything). */
static int hash_rule(struct policy_rule *r, EVP_MD_CTX *all)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? SO_OK : SO_E_CONFIG;

	if (rc == SO_OK)
		rc = feed(ctx, r->name, strlen(r->name));
	for (size_t i = 0; rc == SO_OK && i < r->n_keys; i++) {
		unsigned char *der = NULL;
		size_t n = 0;
		rc = sigcheck_key_der(r->keys[i].pkey, &der, &n);
		if (rc == SO_OK)
			rc = feed(ctx, r->keys[i].name, strlen(r->keys[i].name));
		if (rc == SO_OK)
			rc = feed(ctx, der, n);
		free(der);
	}
	if (rc == SO_OK) {
		hash_hex(ctx, r->hash);
		rc = feed(all, r->hash, 64);
	}
	if (rc == SO_OK)
		rc = feed(all, r->warn ? "warn" : "enforce", r->warn ? 4 : 7);
	for (size_t i = 0; rc == SO_OK && i < r->n_images; i++)
		rc = feed(all, r->images[i], strlen(r->images[i]));
	if (rc == SO_OK)
		rc = feed(all, "|", 1);
	for (size_t i = 0; rc == SO_OK && i < r->n_namespaces; i++)
		rc = feed(all, r->namespaces[i], strlen(r->namespaces[i]));
	EVP_MD_CTX_free(ctx);
	return rc;
}

static int parse_rule(const json_t *v, size_t idx, const char *name, struct policy_rule *r, char *err,
		      size_t errlen)
{
	static const char *const allowed[] = { "name", "images", "namespaces", "mode", "keys", NULL };
	char field[128];
	const char *s;
	const json_t *keys, *mode, *ns;
	size_t i;
	json_t *k;
	int rc;

	snprintf(field, sizeof field, "rules[%zu]", idx);
	if (!json_is_object(v))
		return so_fail(err, errlen, SO_E_INVAL, "%s: %s: must be a mapping", name, field);
	if ((rc = only_keys(v, allowed, name, field, err, errlen)))
		return rc;
	snprintf(field, sizeof field, "rules[%zu].name", idx);
	if ((rc = want_string(json_object_get(v, "name"), MAX_NAME, name, field, &s, err, errlen)))
		return rc;
	r->name = mem_strdup(s);
	snprintf(field, sizeof field, "rules[%zu].images", idx);
	if ((rc = want_globs(json_object_get(v, "images"), name, field, &r->images, &r->n_images, err, errlen)))
		return rc;
	for (i = 0; i < r->n_images; i++)
		canonical_glob_host(r->images[i]);
	ns = json_object_get(v, "namespaces");
	snprintf(field, sizeof field, "rules[%zu].namespaces", idx);
	if (ns && !json_is_null(ns) &&
	    (rc = want_globs(ns, name, field, &r->namespaces, &r->n_namespaces, err, errlen)))
		return rc;
	mode = json_object_get(v, "mode");
	if (mode && !json_is_null(mode)) {
		s = json_string_value(mode);
		if (!s || (strcmp(s, "enforce") != 0 && strcmp(s, "warn") != 0))
			return so_fail(err, errlen, SO_E_INVAL, "%s: rules[%zu].mode: must be enforce or warn", name, idx);
		r->warn = strcmp(s, "warn") == 0;
	}
	keys = json_object_get(v, "keys");
	if (!json_is_array(keys) || json_array_size(keys) == 0 || json_array_size(keys) > MAX_KEYS)
		return so_fail(err, errlen, SO_E_INVAL, "%s: rules[%zu].keys: must be a list of 1 to %d keys", name, idx,
			       MAX_KEYS);
	r->keys = mem_calloc(json_array_size(keys), sizeof *r->keys);
	json_array_foreach(keys, i, k) {
		snprintf(field, sizeof field, "rules[%zu].keys[%zu]", idx, i);
		rc = parse_key(k, name, field, &r->keys[i], err, errlen);
		r->n_keys++; /* counted even when incomplete, so rule_free releases what was set */
		if (rc)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(r->keys[j].name, r->keys[i].name) == 0)
				return so_fail(err, errlen, SO_E_INVAL, "%s: %s.name: duplicate key name \"%s\"", name,
					       field, r->keys[i].name);
	}
	return SO_OK;
}

int policy_parse(const char *text, size_t len, const char *name, struct policy **out, char *err, size_t errlen)
{
	static const char *const allowed[] = { "rules", "cacheTTL", NULL };
	json_t *docs = NULL, *doc, *rules, *ttl, *v;
	struct policy *p = NULL;
	EVP_MD_CTX *all = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if (len > POLICY_MAX_FILE)
		return so_fail(err, errlen, SO_E_TOO_LARGE, "%s: larger than %zu bytes", name, POLICY_MAX_FILE);
	if ((rc = yamljson_to_json(text, len, name, &docs, err, errlen)))
		return rc;
	if (json_array_size(docs) != 1) {
		rc = so_fail(err, errlen, SO_E_INVAL, "%s: must hold exactly one YAML document", name);
		goto out;
	}
	doc = json_array_get(docs, 0);
	if (!json_is_object(doc)) {
		rc = so_fail(err, errlen, SO_E_INVAL, "%s: must be a mapping with rules", name);
		goto out;
	}
	if ((rc = only_keys(doc, allowed, name, "", err, errlen)))
		goto out;
	p = mem_calloc(1, sizeof *p);
	all = EVP_MD_CTX_new();
	if (EVP_DigestInit_ex(all, EVP_sha256(), NULL) != 1) {
		rc = so_fail(err, errlen, SO_E_CONFIG, "%s: OpenSSL: EVP_DigestInit_ex(sha256) failed", name);
		goto out;
	}
	atomic_init(&p->refs, 1);
	p->cache_ttl_ms = POLICY_DEFAULT_CACHE_TTL_MS;
	ttl = json_object_get(doc, "cacheTTL");
	if (ttl && !json_is_null(ttl)) {
		if (json_is_integer(ttl) && json_integer_value(ttl) == 0)
			p->cache_ttl_ms = 0;
		else if (!json_is_string(ttl) || verify_parse_duration_ms(json_string_value(ttl), &p->cache_ttl_ms)) {
			rc = so_fail(err, errlen, SO_E_INVAL, "%s: cacheTTL: must be a duration such as 5m, 30s or 0", name);
			goto out;
		}
	}
	rules = json_object_get(doc, "rules");
	if (!json_is_array(rules) || json_array_size(rules) > MAX_RULES) {
		rc = so_fail(err, errlen, SO_E_INVAL, "%s: rules: %s", name,
			     rules ? "must be a list of at most 256 rules" : "required");
		goto out;
	}
	p->rules = mem_calloc(json_array_size(rules) + 1, sizeof *p->rules);
	json_array_foreach(rules, i, v) {
		rc = parse_rule(v, i, name, &p->rules[i], err, errlen);
		p->n_rules++;
		if (rc)
			goto out;
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->rules[j].name, p->rules[i].name) == 0) {
				rc = so_fail(err, errlen, SO_E_INVAL, "%s: rules[%zu].name: duplicate rule name \"%s\"", name,
					     i, p->rules[i].name);
				goto out;
			}
		if ((rc = hash_rule(&p->rules[i], all))) {
			rc = so_fail(err, errlen, rc, "%s: rules[%zu]: OpenSSL could not hash the rule's keys", name, i);
			goto out;
		}
	}
	char ttl_text[32];
	int tl = snprintf(ttl_text, sizeof ttl_text, "%lld", (long long)p->cache_ttl_ms);
	if ((rc = feed(all, ttl_text, (size_t)tl))) {
		rc = so_fail(err, errlen, rc, "%s: OpenSSL: EVP_DigestUpdate failed", name);
		goto out;
	}
	hash_hex(all, p->hash);
	*out = p;
	p = NULL;
out:
	EVP_MD_CTX_free(all);
	policy_free(p);
	json_decref(docs);
	return rc;
}

int policy_load_file(const char *path, struct policy **out, char *err, size_t errlen)
{
	struct buf b;
	int rc;

	*out = NULL;
	if ((rc = buf_read_file(path, POLICY_MAX_FILE, &b, err, errlen)))
		return rc;
	rc = policy_parse(b.data ? b.data : "", b.len, path, out, err, errlen);
	buf_free(&b);
	return rc;
}
