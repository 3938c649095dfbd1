/*
 * Image references: the grammar of distribution/reference (docs/internals/registry.md), applied by hand because
 * it is a handful of character classes; no regex engine, every loop bounded by the input length.
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component ( "/" path-component )*
 *   domain     := host [ ":" port ]          (the first component is a domain iff it has '.' or ':', is
 *                                              "localhost", or has an upper-case letter: splitDockerDomain)
 *   component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
 *   digest     := ( "sha256:" [a-f0-9]{64} | "sha384:" [a-f0-9]{96} | "sha512:" [a-f0-9]{128} )
 *                 (go-digest's registered algorithms, what containerd pulls; image_ref_parse, which feeds the
 *                  verifier, refuses all but sha256: nothing here can verify the others)
 *
 * The one image-reference grammar: admission's spec.image / spinImage check is image_ref_check.
 */
#include "operator/kube/imageref.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/mem.h"

#define REF_MAX_INPUT 4096
#define NAME_TOTAL_MAX 255 /* distribution's NameTotalLengthMax, over domain + "/" + path */
#define TAG_MAX 128

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int is_hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* "sha256:" followed by exactly 64 lower-case hex digits. */
static int digest_valid(const char *s, size_t n)
{
	if (n != IMAGE_DIGEST_LEN || strncmp(s, "sha256:", 7) != 0)
		return 0;
	for (size_t i = 7; i < n; i++) {
		if (!is_hex_lower(s[i]))
			return 0;
	}
	return 1;
}

/* Any digest distribution/reference accepts: an algorithm go-digest knows and its exact hex length. */
static int digest_grammar_valid(const char *s, size_t n)
{
	static const struct {
		const char *alg;
		size_t hex;
	} algs[] = { { "sha256:", 64 }, { "sha384:", 96 }, { "sha512:", 128 } };

	for (size_t a = 0; a < sizeof algs / sizeof algs[0]; a++) {
		if (n != 7 + algs[a].hex || strncmp(s, algs[a].alg, 7) != 0)
			continue;
		for (size_t i = 7; i < n; i++) {
			if (!is_hex_lower(s[i]))
				return 0;
		}
		return 1;
	}
	return 0;
}

static int tag_valid(const char *s, size_t n)
{
	if (n == 0 || n > TAG_MAX || !(is_alnum(s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++) {
		if (!(is_alnum(s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	}
	return 1;
}

/* One path component: alphanumeric runs joined by ".", "_", "__" or any number of "-". */
static int component_valid(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return 0;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		/* A separator run, then an alphanumeric must follow (the last character is one, checked above). */
		size_t j = i;
		while (j < n && !is_lower_alnum(s[j]))
			j++;
		size_t run = j - i;
		int ok = 0;
		if (run == 1 && (s[i] == '.' || s[i] == '_' || s[i] == '-'))
			ok = 1;
		else if (run == 2 && s[i] == '_' && s[i + 1] == '_')
			ok = 1;
		else {
			ok = 1;
			for (size_t k = i; k < j; k++)
				ok &= s[k] == '-';
		}
		if (!ok)
			return 0;
		i = j;
	}
	return 1;
}

/* host[:port]: DNS-ish labels of [A-Za-z0-9-] (no leading or trailing '-'), or a bracketed IPv6 literal. The
 * grammar's port is any run of digits; the verifier (strict) takes at most 5. */
static int domain_valid(const char *s, size_t n, int strict)
{
	size_t hostlen = n, i;
	if (n == 0)
		return 0;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close || close == s + 1)
			return 0;
		for (const char *p = s + 1; p < close; p++) {
			if (!(is_hex_lower(lower(*p)) || *p == ':'))
				return 0;
		}
		hostlen = (size_t)(close - s) + 1;
	} else {
		const char *colon = memchr(s, ':', n);
		if (colon)
			hostlen = (size_t)(colon - s);
		size_t start = 0;
		for (i = 0; i <= hostlen; i++) {
			if (i < hostlen && s[i] != '.') {
				if (!(is_alnum(s[i]) || s[i] == '-'))
					return 0;
				continue;
			}
			/* end of a label [start, i) */
			if (i == start || s[start] == '-' || s[i - 1] == '-')
				return 0;
			start = i + 1;
		}
	}
	if (hostlen == n)
		return 1;
	if (s[hostlen] != ':' || hostlen + 1 == n || (strict && n - hostlen - 1 > 5))
		return 0;
	for (i = hostlen + 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return 1;
}

static int has_upper(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'A' && s[i] <= 'Z')
			return 1;
	}
	return 0;
}

/* The bounds of the parts of a reference as written; shared by the parser and image_ref_pinned. */
struct spans {
	size_t name_len;            /* s[0, name_len) is the name */
	const char *tag;            /* NULL when none was written */
	size_t tag_len;
	const char *digest;         /* NULL when none was written */
	size_t digest_len;
};

static void split(const char *s, size_t n, struct spans *sp)
{
	const char *at = memchr(s, '@', n);
	size_t rest = n;

	memset(sp, 0, sizeof *sp);
	if (at) {
		sp->digest = at + 1;
		sp->digest_len = n - (size_t)(at - s) - 1;
		rest = (size_t)(at - s);
	}
	/* A tag is after the last ':' that follows the last '/' (a ':' before a '/' is a port). */
	size_t i = rest;
	while (i > 0 && s[i - 1] != '/' && s[i - 1] != ':')
		i--;
	if (i > 0 && s[i - 1] == ':') {
		sp->tag = s + i;
		sp->tag_len = rest - i;
		rest = i - 1;
	}
	sp->name_len = rest;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = mem_alloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

void image_ref_free(struct image_ref *r)
{
	if (!r)
		return;
	free(r->registry);
	free(r->repository);
	free(r->tag);
	r->registry = r->repository = r->tag = NULL;
	r->digest[0] = '\0';
}

/*
 * Every spelling containerd pulls from the same registry gets one name, so that a policy rule, a cache key or a
 * credential lookup cannot be sidestepped by writing the host differently: host names are case-insensitive, 443
 * is the port an https registry is reached on anyway, and Docker Hub answers under several names (distribution
 * maps index.docker.io; containerd pulls docker.io from registry-1.docker.io).
 */
static const char *const docker_hub_aliases[] = { "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com" };

void image_ref_canonical_host(char *host)
{
	size_t n;
	for (char *p = host; *p; p++)
		*p = lower(*p);
	n = strlen(host);
	if (n > 4 && !strcmp(host + n - 4, ":443"))
		host[n - 4] = '\0';
	for (size_t i = 0; i < sizeof docker_hub_aliases / sizeof docker_hub_aliases[0]; i++) {
		if (!strcmp(host, docker_hub_aliases[i])) {
			memcpy(host, "docker.io", sizeof "docker.io"); /* every alias is longer */
			break;
		}
	}
}

/* The offset of the first space, control or non-ASCII byte of s[0..n), else n. */
static size_t bad_char(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && (unsigned char)s[i] > ' ' && (unsigned char)s[i] < 0x7f)
		i++;
	return i;
}

/* The grammar: SO_OK with the spans, the registry's length (0 for the default) and where the path starts. */
static int check(const char *s, int strict, struct spans *sp_out, size_t *dom_out, size_t *path_out, char *err,
		 size_t errlen)
{
	struct spans sp;
	size_t n, dom_len = 0, path_off = 0;

	if (!s || !*s)
		return so_fail(err, errlen, SO_E_INVAL, "image reference is empty");
	n = strnlen(s, REF_MAX_INPUT + 1);
	if (n > REF_MAX_INPUT)
		return so_fail(err, errlen, SO_E_INVAL, "image reference is longer than %d bytes", REF_MAX_INPUT);
	size_t bad = bad_char(s, n);
	if (bad < n)
		return so_fail(err, errlen, SO_E_INVAL,
			       "image reference has a space, control or non-ASCII character at offset %zu", bad);
	split(s, n, &sp);
	if (sp.digest && !digest_grammar_valid(sp.digest, sp.digest_len))
		return so_fail(err, errlen, SO_E_INVAL,
			       "image reference: digest must be sha256:, sha384: or sha512: and its lower-case hex digits");
	if (sp.tag && !tag_valid(sp.tag, sp.tag_len))
		return so_fail(err, errlen, SO_E_INVAL, "image reference: invalid tag \"%.*s\"",
			       (int)(sp.tag_len > TAG_MAX ? TAG_MAX : sp.tag_len), sp.tag);
	if (sp.name_len == 0)
		return so_fail(err, errlen, SO_E_INVAL, "image reference has no repository name");
	if (sp.name_len > NAME_TOTAL_MAX)
		return so_fail(err, errlen, SO_E_INVAL, "image reference: repository name longer than %d characters",
			       NAME_TOTAL_MAX);

	/* splitDockerDomain: is the first component a registry host? */
	const char *slash = memchr(s, '/', sp.name_len);
	if (slash) {
		size_t first = (size_t)(slash - s);
		if (memchr(s, '.', first) || memchr(s, ':', first) || (first == 9 && !memcmp(s, "localhost", 9)) ||
		    has_upper(s, first)) {
			/* distribution's grammar then still takes a first component that is no host but a valid path
			 * component ("a_b.c/x") as part of the path; the verifier, which must pull it, refuses it. */
			int as_path = !strict && !domain_valid(s, first, 0) && component_valid(s, first);
			if (!as_path && !domain_valid(s, first, strict))
				return so_fail(err, errlen, SO_E_INVAL, "image reference: invalid registry host \"%.*s\"",
					       (int)first, s);
			if (!as_path) {
				dom_len = first;
				path_off = first + 1;
			}
		}
	}
	/* Validate each path component. */
	size_t start = path_off;
	for (size_t i = path_off; i <= sp.name_len; i++) {
		if (i < sp.name_len && s[i] != '/')
			continue;
		if (!component_valid(s + start, i - start)) {
			if (i > start && has_upper(s + start, i - start))
				return so_fail(err, errlen, SO_E_INVAL, "image reference: repository name must be lower-case");
			return so_fail(err, errlen, SO_E_INVAL, "image reference: invalid repository name \"%.*s\"",
				       (int)(sp.name_len - path_off), s + path_off);
		}
		start = i + 1;
	}
	*sp_out = sp;
	*dom_out = dom_len;
	*path_out = path_off;
	return SO_OK;
}

int image_ref_check(const char *s, char *err, size_t errlen)
{
	struct spans sp;
	size_t dom_len, path_off;

	return check(s, 0, &sp, &dom_len, &path_off, err, errlen);
}

int image_ref_parse(const char *s, struct image_ref *out, char *err, size_t errlen)
{
	int rc;
	struct spans sp;
	size_t dom_len, path_off;
	struct buf repo = BUF_INIT(REF_MAX_INPUT + 16);
	const char *domain = "docker.io";

	memset(out, 0, sizeof *out);
	/* The verifier takes only sha256 digests; this comes first so that its messages stay as they were. */
	if (s && *s && strnlen(s, REF_MAX_INPUT + 1) <= REF_MAX_INPUT && bad_char(s, strlen(s)) == strlen(s)) {
		split(s, strlen(s), &sp);
		if (sp.digest && !digest_valid(sp.digest, sp.digest_len)) {
			if (sp.digest_len > 7 && memchr(sp.digest, ':', sp.digest_len) &&
			    strncmp(sp.digest, "sha256:", 7))
				return so_fail(err, errlen, SO_E_INVAL,
					       "image reference: only sha256 digests are supported");
			return so_fail(err, errlen, SO_E_INVAL,
				       "image reference: digest must be sha256: followed by 64 lower-case hex digits");
		}
	}
	rc = check(s, 1, &sp, &dom_len, &path_off, err, errlen);
	if (rc != SO_OK)
		return rc;

	if (dom_len) {
		out->registry = dup_n(s, dom_len);
		image_ref_canonical_host(out->registry);
	} else {
		out->registry = mem_strdup(domain);
	}
	/* Docker Hub's official images live under library/. */
	if (!strcmp(out->registry, "docker.io") && !memchr(s + path_off, '/', sp.name_len - path_off))
		rc = buf_appends(&repo, "library/");
	if (rc == SO_OK)
		rc = buf_append(&repo, s + path_off, sp.name_len - path_off);
	if (rc != SO_OK)
		goto out;
	out->repository = buf_steal(&repo);
	if (sp.tag)
		out->tag = dup_n(sp.tag, sp.tag_len);
	else if (!sp.digest)
		out->tag = mem_strdup("latest");
	if (sp.digest) {
		memcpy(out->digest, sp.digest, IMAGE_DIGEST_LEN);
		out->digest[IMAGE_DIGEST_LEN] = '\0';
	}
	rc = SO_OK;
out:
	buf_free(&repo);
	if (rc) {
		image_ref_free(out);
		so_fail(err, errlen, rc, "image reference: longer than %d bytes", REF_MAX_INPUT);
	}
	return rc;
}

const char *image_ref_api_host(const struct image_ref *r)
{
	return !strcmp(r->registry, "docker.io") ? "index.docker.io" : r->registry;
}

char *image_ref_name(const struct image_ref *r)
{
	struct buf b = BUF_INIT(SIZE_MAX / 2); /* the parts are bounded by the parse: no cap to reach */
	buf_appendf(&b, "%s/%s", r->registry, r->repository);
	return buf_steal(&b);
}

char *image_ref_name_tag(const struct image_ref *r)
{
	struct buf b = BUF_INIT(SIZE_MAX / 2);
	buf_appendf(&b, "%s/%s:%s", r->registry, r->repository, r->tag ? r->tag : "latest");
	return buf_steal(&b);
}

char *image_ref_pinned(const char *original, const struct image_ref *r, const char *digest)
{
	struct spans sp;
	struct buf b = BUF_INIT(2 * REF_MAX_INPUT);
	size_t n = strnlen(original, REF_MAX_INPUT + 1);

	if (n > REF_MAX_INPUT || !digest || !digest_valid(digest, strlen(digest)))
		return NULL;
	split(original, n, &sp);
	/* The tag is kept only when the user wrote one: "nginx" pins to "nginx@sha256:...". */
	if (buf_append(&b, original, sp.name_len) ||
	    (sp.tag && r->tag && buf_appendf(&b, ":%s", r->tag)) || buf_appendf(&b, "@%s", digest)) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

int image_ref_valid(const char *s)
{
	return image_ref_check(s, NULL, 0) == SO_OK;
}
