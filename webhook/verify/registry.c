/*
 * The OCI distribution client: URLs, authentication, retries, answer checks and error lines. The transport is
 * in registry_http.c, the token cache in tokencache.c; see registry.h for the contract and
 * docs/internals/registry.md for the flows.
 *
 * Authentication of one request (docs/internals/registry.md):
 *   1. A Bearer token cached for (API host, "repository:<repo>:pull", credential fingerprint) is sent at once;
 *      so are Basic credentials when this host asked for Basic before; a registrytoken is always sent as is.
 *      When the host gave a Bearer challenge before (another repository), the token is fetched up front.
 *   2. A 401 is answered once: Basic → resend with the credentials (none: fail); Bearer → fetch a token from
 *      the realm (anonymous, Basic to the realm host only, or the OAuth2 refresh-token grant for an
 *      identitytoken), cache it for expires_in (at least 60 s) minus 10 s, resend. A second 401 fails.
 *   3. The realm must be https (http only for an insecure registry) and may not be, or resolve to, a
 *      loopback/private/link-local address unless it is the registry's own host or private realms are allowed.
 * A 408, 429 or 5xx answer is tried once more, after Retry-After (at most 1 s), when the deadline leaves time.
 */
#include "webhook/verify/registry.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "webhook/verify/registry_int.h"
#include "operator/base/mem.h"

#define TOKEN_MAX_ANSWER ((size_t)64 << 10)
#define TOKEN_MAX_LEN REGISTRY_TOKEN_MAX_LEN
#define TOKEN_MIN_TTL_S REGISTRY_TOKEN_MIN_TTL_S
#define TOKEN_MAX_TTL_S REGISTRY_TOKEN_MAX_TTL_S
#define TOKEN_SKEW_S 10
#define BASIC_MEMORY_S 600 /* how long a host's Basic or Bearer challenge is remembered */
#define TOKEN_CACHE_ENTRIES 256
#define RETRY_MIN_LEFT_MS 300
#define RETRY_WAIT_CAP_MS 1000
#define MSG_MAX 160

static const char ALL_MANIFESTS[] = MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- lifecycle ---- */

struct registry *registry_new(const struct registry_options *o, char *err, size_t errlen)
{
	struct registry *r = NULL;
	size_t n = 0;

	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK) {
		so_fail(err, errlen, SO_E_TRANSPORT, "libcurl initialisation failed: %s",
			curl_easy_strerror(curl_init_result));
		return NULL;
	}
	r = mem_calloc(1, sizeof *r);
	/* Locks and cache first: from here on registry_free can undo any partial state. */
	tokencache_init(&r->tokens, TOKEN_CACHE_ENTRIES);
	if (registry_http_init(r, o ? o->extra_ca_file : NULL, err, errlen) != SO_OK)
		goto fail;
	r->connect_timeout_ms = o && o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 2000;
	r->allow_private_realms = o ? o->allow_private_realms : 0;
	while (o && o->insecure && o->insecure[n])
		n++;
	r->insecure = mem_calloc(n + 1, sizeof *r->insecure);
	for (size_t i = 0; i < n; i++) {
		r->insecure[i] = mem_strdup(o->insecure[i]);
		for (char *p = r->insecure[i]; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	}
	return r;
fail:
	registry_free(r);
	return NULL;
}

void registry_free(struct registry *r)
{
	if (!r)
		return;
	registry_http_destroy(r);
	tokencache_destroy(&r->tokens);
	for (size_t i = 0; r->insecure && r->insecure[i]; i++)
		free(r->insecure[i]);
	free(r->insecure);
	free(r);
}

void registry_get_stats(struct registry *r, struct registry_stats *out)
{
	out->requests = atomic_load(&r->requests);
	out->token_fetches = atomic_load(&r->token_fetches);
}

void registry_blob_free(struct registry_blob *b)
{
	if (!b)
		return;
	buf_free(&b->body);
	b->media_type[0] = '\0';
	b->digest[0] = '\0';
}

/* ---- small helpers ---- */

static int is_insecure(const struct registry *r, const struct image_ref *ref)
{
	const char *api = image_ref_api_host(ref);
	for (size_t i = 0; r->insecure[i]; i++) {
		if (!strcasecmp(r->insecure[i], ref->registry) || !strcasecmp(r->insecure[i], api))
			return 1;
	}
	return 0;
}

static int digest_ok(const char *s)
{
	if (!s || strlen(s) != IMAGE_DIGEST_LEN || strncmp(s, "sha256:", 7))
		return 0;
	for (size_t i = 7; i < IMAGE_DIGEST_LEN; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

static int tag_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

static void sha256_hex(const void *data, size_t len, char out[IMAGE_DIGEST_LEN + 1])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	memcpy(out, "sha256:", 7);
	if (EVP_Digest(data ? data : "", len, d, &dl, EVP_sha256(), NULL) != 1 || dl != 32) {
		out[0] = '\0';
		return;
	}
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
}

/* Copies at most MSG_MAX printable characters of s (control characters become spaces). */
static void clean_text(char *out, size_t outlen, const char *s)
{
	size_t j = 0;
	for (size_t i = 0; s && s[i] && j + 1 < outlen && j < MSG_MAX; i++)
		out[j++] = (unsigned char)s[i] < ' ' || s[i] == 0x7f ? ' ' : s[i];
	out[j] = '\0';
}

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static int status_err(long status)
{
	switch (status) {
	case 400: return SO_E_API_BAD_REQUEST;
	case 401: return SO_E_API_UNAUTHORIZED;
	case 403: return SO_E_API_FORBIDDEN;
	case 404: return SO_E_API_NOT_FOUND;
	case 405: return SO_E_API_METHOD_NOT_ALLOWED;
	case 415: return SO_E_API_UNSUPPORTED_MEDIA;
	case 429: return SO_E_API_TOO_MANY_REQUESTS;
	case 500: return SO_E_API_INTERNAL;
	case 503: return SO_E_API_UNAVAILABLE;
	case 408:
	case 504: return SO_E_API_TIMEOUT;
	default: return SO_E_API_OTHER;
	}
}

static const char *reason_phrase(long status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

/*
 * "registry <host> answered <status> <CODE>: <message> (<what>)" from a distribution error body
 * {"errors":[{"code","message","detail"}]}; the code and message are the server's, cleaned and cut short.
 */
static int fail_status(char *err, size_t errlen, const char *host, const struct registry_http_resp *p, const char *what,
		       const char *hint)
{
	char code[64] = "", msg[MSG_MAX + 1] = "";
	json_t *doc = p->body.len ? json_loadb(p->body.data, p->body.len, 0, NULL) : NULL;
	json_t *e0 = json_array_get(json_object_get(doc, "errors"), 0);
	clean_text(code, sizeof code, json_string_value(json_object_get(e0, "code")));
	clean_text(msg, sizeof msg, json_string_value(json_object_get(e0, "message")));
	if (!e0 && doc)
		clean_text(msg, sizeof msg, json_string_value(json_object_get(doc, "details"))); /* some token servers */
	json_decref(doc);
	if (!code[0] && !msg[0]) /* HEAD, or a body that is not a distribution error */
		snprintf(code, sizeof code, "%s", reason_phrase(p->status));
	return so_fail(err, errlen, status_err(p->status), "registry %s answered %ld%s%s%s%s (%s)%s", host, p->status,
		       code[0] ? " " : "", code, msg[0] ? ": " : "", msg, what, hint ? hint : "");
}

static int fail_transport(char *err, size_t errlen, int rc, const char *host, const struct registry_http_resp *p,
			  const char *what)
{
	char why[CURL_ERROR_SIZE];
	switch (rc) {
	case SO_E_TIMEOUT:
		return so_fail(err, errlen, rc, "registry %s did not answer within the deadline (%s)", host, what);
	case SO_E_TOO_LARGE:
		return so_fail(err, errlen, rc, "registry %s: the answer is larger than the %zu-byte limit (%s)", host,
			       p->body.cap, what);
	case SO_E_NOMEM:
		return so_fail(err, errlen, rc, "registry %s: libcurl ran out of memory (%s)", host, what);
	default:
		if (p->too_many_redirects)
			return so_fail(err, errlen, SO_E_TRANSPORT, "registry %s: %s (%s)", host, p->error, what);
		if (p->refused_redirect)
			return so_fail(err, errlen, SO_E_TRANSPORT,
				       "registry %s: refused to follow a redirect to %s at private address %s (%s); see "
				       "--registry-allow-private-realms",
				       host, p->final_host, p->refused_ip, what);
		if (p->refused_private)
			return so_fail(err, errlen, SO_E_TRANSPORT,
				       "registry %s: refused to contact %s at private address %s (%s); see "
				       "--registry-allow-private-realms",
				       host, p->final_host, p->refused_ip, what);
		clean_text(why, sizeof why, p->error);
		if (p->tls_failed)
			return so_fail(err, errlen, SO_E_TRANSPORT, "registry %s: TLS handshake failed: %s (%s)", host, why,
				       what);
		return so_fail(err, errlen, SO_E_TRANSPORT, "registry %s unreachable: %s (%s)", host, why, what);
	}
}

/* ---- tokens ---- */

struct authctx {
	struct registry *r;
	const struct image_ref *ref;
	const struct registry_cred *cred;
	const char *host;            /* API host */
	char scope[1024];            /* repository:<repo>:pull */
	char fp[65];
	char bearer_key[1400], basic_key[400], challenge_key[300];
	int cacheable;               /* the fingerprint could be computed */
	int plain_http;
	int64_t deadline_ms;
};

/* Host part of host[:port] or [v6]:port, for comparisons with a realm host. */
static void host_only(const char *hostport, char *out, size_t outlen)
{
	size_t n;
	if (hostport[0] == '[') {
		const char *close = strchr(hostport, ']');
		n = close ? (size_t)(close - hostport) + 1 : strlen(hostport);
	} else {
		const char *colon = strchr(hostport, ':');
		n = colon ? (size_t)(colon - hostport) : strlen(hostport);
	}
	snprintf(out, outlen, "%.*s", (int)n, hostport);
}

int registry_parse_token(const char *body, size_t len, char **token, long *ttl_s)
{
	int rc = SO_E_BAD_RESPONSE;
	json_t *doc = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
	const char *t = json_string_value(json_object_get(doc, "token"));
	if (!t || !*t)
		t = json_string_value(json_object_get(doc, "access_token"));
	*token = NULL;
	*ttl_s = TOKEN_MIN_TTL_S;
	if (!t || !*t || strlen(t) > TOKEN_MAX_LEN)
		goto out;
	/* A token goes into a header: visible ASCII only. */
	for (const char *c = t; *c; c++) {
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
			goto out;
	}
	json_t *e = json_object_get(doc, "expires_in");
	if (json_is_integer(e) && json_integer_value(e) > TOKEN_MIN_TTL_S)
		*ttl_s = json_integer_value(e) > TOKEN_MAX_TTL_S ? TOKEN_MAX_TTL_S : (long)json_integer_value(e);
	*token = mem_strdup(t);
	rc = SO_OK;
out:
	if (doc) {
		/* the token's text lives in doc: wipe it before it is freed */
		json_t *tv = json_object_get(doc, "token"), *av = json_object_get(doc, "access_token");
		if (json_is_string(tv))
			OPENSSL_cleanse((void *)json_string_value(tv), json_string_length(tv));
		if (json_is_string(av))
			OPENSSL_cleanse((void *)json_string_value(av), json_string_length(av));
	}
	json_decref(doc);
	return rc;
}

/* Checks the realm a registry named: scheme, address class. SO_OK or one line in err. */
static int check_realm(const struct authctx *a, const char *realm, char *guard, size_t guardlen, char *err,
		       size_t errlen)
{
	int rc = SO_E_BAD_RESPONSE;
	char *scheme = NULL, *host = NULL, reg_host[256];
	CURLU *u = curl_url();

	guard[0] = '\0';
	if (curl_url_set(u, CURLUPART_URL, realm, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = so_fail(err, errlen, rc, "registry %s: token realm is not a URL", a->ref->registry);
		goto out;
	}
	if (strcasecmp(scheme, "https") && !(a->plain_http && !strcasecmp(scheme, "http"))) {
		rc = so_fail(err, errlen, rc, "registry %s: token realm %s://%s is not https", a->ref->registry, scheme,
			     host);
		goto out;
	}
	host_only(a->host, reg_host, sizeof reg_host);
	if (!a->r->allow_private_realms && strcasecmp(host, reg_host) != 0) {
		if (netaddr_is_private(host) == 1) {
			rc = so_fail(err, errlen, rc,
				     "registry %s: token realm host %s is a private address; refused (see "
				     "--registry-allow-private-realms)",
				     a->ref->registry, host);
			goto out;
		}
		/* A name is checked once connected, against the address it resolved to. */
		snprintf(guard, guardlen, "%s", reg_host);
	}
	rc = SO_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static int fetch_token(struct authctx *a, const struct www_authenticate *w, char **token, char *err, size_t errlen)
{
	int rc;
	struct buf url = BUF_INIT(16384), form = BUF_INIT(65536);
	struct registry_http_resp p;
	struct registry_http_req q = { 0 };
	char guard[256];
	const struct registry_cred *c = a->cred;
	long ttl = TOKEN_MIN_TTL_S;
	int oauth = c && c->identity_token;

	*token = NULL;
	registry_http_resp_init(&p, TOKEN_MAX_ANSWER);
	rc = check_realm(a, w->realm, guard, sizeof guard, err, errlen);
	if (rc)
		goto out;
	/* Our scope, and the registry's when it named another one. */
	if (buf_appends(&url, w->realm) || buf_appends(&url, strchr(w->realm, '?') ? "&" : "?"))
		goto too_large;
	if (w->service && *w->service && (buf_appends(&url, "service=") || buf_append_urlenc(&url, w->service) ||
					  buf_appends(&url, "&")))
		goto too_large;
	if (buf_appends(&url, "scope=") || buf_append_urlenc(&url, a->scope))
		goto too_large;
	if (w->scope && *w->scope && strcmp(w->scope, a->scope) &&
	    (buf_appends(&url, "&scope=") || buf_append_urlenc(&url, w->scope)))
		goto too_large;

	q.method = "GET";
	q.url = url.data;
	q.max = TOKEN_MAX_ANSWER;
	q.follow = 0; /* Basic goes to the realm host only */
	q.plain_http = a->plain_http;
	q.guard_host = guard[0] ? guard : NULL;
	q.deadline_ms = a->deadline_ms;
	atomic_fetch_add(&a->r->token_fetches, 1);
	if (oauth) {
		/* OAuth2 refresh-token grant (distribution oauth.md): POST to the realm itself. */
		if (buf_appends(&form, "grant_type=refresh_token&client_id=spin-operator&refresh_token=") ||
		    buf_append_urlenc(&form, c->identity_token) || buf_appends(&form, "&scope=") ||
		    buf_append_urlenc(&form, a->scope))
			goto too_large;
		if (w->service && *w->service &&
		    (buf_appends(&form, "&service=") || buf_append_urlenc(&form, w->service)))
			goto too_large;
		struct registry_http_req post = q;
		post.method = "POST";
		post.url = w->realm;
		post.post = form.data;
		rc = registry_http_perform(a->r, &post, &p);
		if (rc == SO_OK && p.status == 404 && c->username) {
			/* no OAuth2 endpoint: GET with Basic below */
			registry_http_resp_free(&p);
			registry_http_resp_init(&p, TOKEN_MAX_ANSWER);
			oauth = 0;
		}
	}
	if (!oauth) {
		if (c && c->username) {
			q.user = c->username; /* Basic to the realm host only: redirects are not followed here */
			q.pass = c->password;
		}
		rc = registry_http_perform(a->r, &q, &p);
	}
	if (rc) {
		rc = fail_transport(err, errlen, rc, a->ref->registry, &p, "token request");
		goto out;
	}
	if (p.status != 200) {
		rc = fail_status(err, errlen, a->ref->registry, &p, "token request",
				 c ? NULL : "; no credentials for this registry");
		goto out;
	}
	rc = registry_parse_token(p.body.data, p.body.len, token, &ttl);
	if (rc)
		rc = so_fail(err, errlen, rc, "registry %s: the token server's answer holds no usable token",
			     a->ref->registry);
	else if (a->cacheable)
		tokencache_put(&a->r->tokens, a->bearer_key, TOK_BEARER, *token,
			       clock_mono_ms() + (int64_t)(ttl - TOKEN_SKEW_S) * 1000);
	goto out;
too_large:
	rc = so_fail(err, errlen, SO_E_TOO_LARGE, "registry %s: the token request is longer than its cap",
		     a->ref->registry);
out:
	if (form.data)
		OPENSSL_cleanse(form.data, form.len);
	buf_free(&form);
	buf_free(&url);
	if (p.body.data)
		OPENSSL_cleanse(p.body.data, p.body.len);
	registry_http_resp_free(&p);
	return rc;
}

/* ---- one authenticated request ---- */

/* Keeps a host's Bearer realm and service (not secret) so the next repository's token is fetched up front. */
static void remember_challenge(const struct authctx *a, const struct www_authenticate *w)
{
	struct buf v = BUF_INIT(16384);
	if (!strchr(w->realm, '\n') && !(w->service && strchr(w->service, '\n')) &&
	    buf_appendf(&v, "%s\n%s", w->realm, w->service ? w->service : "") == SO_OK)
		tokencache_put(&a->r->tokens, a->challenge_key, TOK_CHALLENGE, v.data,
			       clock_mono_ms() + (int64_t)BASIC_MEMORY_S * 1000);
	buf_free(&v);
}

static int retriable_status(long s)
{
	return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

/* The first WWW-Authenticate value that parses as Basic or Bearer. */
static int challenge(const struct registry_http_resp *p, struct www_authenticate *w)
{
	for (int i = 0; i < REG_MAX_AUTH_HEADERS && p->www_auth[i]; i++) {
		if (www_authenticate_parse(p->www_auth[i], strlen(p->www_auth[i]), w) == SO_OK)
			return SO_OK;
	}
	return SO_E_INVAL;
}

enum sent { SENT_NONE, SENT_BASIC, SENT_BEARER_CACHED, SENT_BEARER_FRESH, SENT_REGISTRY_TOKEN };

/*
 * GET or HEAD <scheme>://<api host>/v2/<repo>/<path>. SO_OK with p holding a 2xx answer; any other status is
 * returned as its so_err with one line in err, except 404 when not_found_ok (then SO_OK and p->status 404).
 */
static int request(struct registry *r, const struct image_ref *ref, const struct registry_cred *cred,
		   const char *method, const char *path, const char *accept, size_t max, int follow,
		   int64_t deadline_ms, const char *what, struct registry_http_resp *p, int not_found_ok, char *err, size_t errlen)
{
	int rc;
	struct authctx a = { .r = r, .ref = ref, .cred = cred, .deadline_ms = deadline_ms };
	struct buf url = BUF_INIT(16384);
	char *token = NULL;
	enum sent sent = SENT_NONE;
	enum tok_kind kind;
	int auth_retried = 0, status_retried = 0;

	a.host = image_ref_api_host(ref);
	a.plain_http = is_insecure(r, ref);
	creds_fingerprint(cred, a.fp);
	a.cacheable = strcmp(a.fp, "!") != 0;
	snprintf(a.scope, sizeof a.scope, "repository:%s:pull", ref->repository);
	snprintf(a.bearer_key, sizeof a.bearer_key, "%s|%s|%s", a.host, a.scope, a.fp);
	snprintf(a.basic_key, sizeof a.basic_key, "%s|basic|%s", a.host, a.fp);
	snprintf(a.challenge_key, sizeof a.challenge_key, "%s|challenge", a.host);
	if (buf_appendf(&url, "%s://%s/v2/%s/%s", a.plain_http ? "http" : "https", a.host, ref->repository, path)) {
		rc = so_fail(err, errlen, SO_E_TOO_LARGE, "registry %s: the request URL is longer than its cap",
			     ref->registry);
		goto out;
	}

	if (cred && cred->registry_token) {
		sent = SENT_REGISTRY_TOKEN;
	} else if (a.cacheable && (token = tokencache_get(&r->tokens, a.bearer_key, clock_mono_ms(), &kind)) != NULL) {
		sent = SENT_BEARER_CACHED;
	} else if (cred && cred->username && a.cacheable &&
		   (token = tokencache_get(&r->tokens, a.basic_key, clock_mono_ms(), &kind)) != NULL) {
		wipe_free(token); /* only a marker: this host wants Basic */
		token = NULL;
		sent = SENT_BASIC;
	} else if ((token = tokencache_get(&r->tokens, a.challenge_key, clock_mono_ms(), &kind)) != NULL) {
		/* This host challenged before: fetch the token for this repository now, saving the 401 round trip. */
		struct www_authenticate w = { .scheme = "Bearer" };
		char *nl = strchr(token, '\n');
		w.realm = token;
		if (nl) {
			*nl = '\0';
			w.service = nl + 1;
		}
		char *t = NULL;
		if (fetch_token(&a, &w, &t, err, errlen) == SO_OK) {
			sent = SENT_BEARER_CACHED; /* a 401 still gets one fresh token from the registry's own challenge */
		} else {
			tokencache_drop(&r->tokens, a.challenge_key);
			if (err && errlen)
				err[0] = '\0';
		}
		wipe_free(token);
		token = t;
	}

	for (;;) {
		struct registry_http_req q = {
			.method = method, .url = url.data, .accept = accept, .max = max, .follow = follow,
			.plain_http = a.plain_http, .deadline_ms = deadline_ms,
			.redirect_guard = follow && !r->allow_private_realms,
		};
		if (sent == SENT_REGISTRY_TOKEN)
			q.bearer = cred->registry_token;
		else if (sent == SENT_BEARER_CACHED || sent == SENT_BEARER_FRESH)
			q.bearer = token;
		else if (sent == SENT_BASIC) {
			q.user = cred->username;
			q.pass = cred->password;
		}
		registry_http_resp_free(p);
		registry_http_resp_init(p, max);
		rc = registry_http_perform(r, &q, p);
		if (rc) {
			rc = fail_transport(err, errlen, rc, ref->registry, p, what);
			goto out;
		}
		if (p->status == 401 && !auth_retried) {
			struct www_authenticate w;
			if (challenge(p, &w) != SO_OK)
				break; /* nothing we can answer: fails below */
			auth_retried = 1;
			if (!strcmp(w.scheme, "Basic")) {
				www_authenticate_free(&w);
				if (!cred || !cred->username || sent == SENT_BASIC)
					break;
				sent = SENT_BASIC;
				if (a.cacheable)
					tokencache_put(&r->tokens, a.basic_key, TOK_BASIC, "basic",
						       clock_mono_ms() + (int64_t)BASIC_MEMORY_S * 1000);
				continue;
			}
			if (sent == SENT_REGISTRY_TOKEN || sent == SENT_BEARER_FRESH) {
				www_authenticate_free(&w);
				break;
			}
			if (sent == SENT_BEARER_CACHED)
				tokencache_drop(&r->tokens, a.bearer_key);
			wipe_free(token);
			token = NULL;
			rc = fetch_token(&a, &w, &token, err, errlen);
			if (rc == SO_OK)
				remember_challenge(&a, &w);
			www_authenticate_free(&w);
			if (rc)
				goto out;
			sent = SENT_BEARER_FRESH;
			continue;
		}
		if (retriable_status(p->status) && !status_retried) {
			int64_t wait = p->retry_after_s >= 0 ? p->retry_after_s * 1000 : 100;
			if (wait > RETRY_WAIT_CAP_MS)
				wait = RETRY_WAIT_CAP_MS;
			if (deadline_ms - clock_mono_ms() - wait >= RETRY_MIN_LEFT_MS) {
				status_retried = 1;
				struct timespec ts = { (time_t)(wait / 1000), (long)(wait % 1000) * 1000000L };
				nanosleep(&ts, NULL);
				continue;
			}
		}
		break;
	}
	if (p->status >= 200 && p->status < 300) {
		rc = SO_OK;
	} else if (p->status == 404 && not_found_ok) {
		rc = SO_OK;
	} else {
		rc = fail_status(err, errlen, ref->registry, p, what,
				 p->status == 401 && !cred ? "; no credentials for this registry" : NULL);
	}
out:
	wipe_free(token);
	buf_free(&url);
	return rc;
}

/* ---- answers ---- */

/* Is mt one of the media types of an Accept list ("a, b;q=0.5, c")? */
static int accepted(const char *accept, const char *mt)
{
	size_t n = strlen(mt);
	const char *s = accept;
	while (*s) {
		while (*s == ' ' || *s == ',')
			s++;
		const char *e = s;
		while (*e && *e != ',' && *e != ';' && *e != ' ')
			e++;
		if ((size_t)(e - s) == n && !strncasecmp(s, mt, n))
			return 1;
		while (*e && *e != ',')
			e++;
		s = e;
	}
	return 0;
}

static void fill_blob(struct registry_blob *out, struct registry_http_resp *p)
{
	out->body = p->body;
	memset(&p->body, 0, sizeof p->body);
	snprintf(out->media_type, sizeof out->media_type, "%s", p->content_type);
	sha256_hex(out->body.data, out->body.len, out->digest);
}

int registry_get_manifest(struct registry *r, const struct image_ref *ref, const struct registry_cred *cred,
			  const char *reference, const char *accept, int64_t deadline_ms, struct registry_blob *out,
			  char *err, size_t errlen)
{
	int rc;
	struct registry_http_resp p;
	char path[300], what[400];
	int by_digest = digest_ok(reference);

	memset(out, 0, sizeof *out);
	registry_http_resp_init(&p, REGISTRY_MAX_MANIFEST);
	if (!by_digest && !tag_ok(reference)) {
		rc = so_fail(err, errlen, SO_E_INVAL, "registry %s: \"%.80s\" is neither a tag nor a sha256 digest",
			     ref->registry, reference ? reference : "");
		goto out;
	}
	if (!accept)
		accept = ALL_MANIFESTS;
	snprintf(path, sizeof path, "manifests/%s", reference);
	snprintf(what, sizeof what, "manifest %s%s%s", ref->repository, by_digest ? "@" : ":", reference);
	rc = request(r, ref, cred, "GET", path, accept, REGISTRY_MAX_MANIFEST, 1, deadline_ms, what, &p, 0, err, errlen);
	if (rc)
		goto out;
	rc = SO_E_BAD_RESPONSE;
	if (!p.content_type[0] || !accepted(accept, p.content_type)) {
		rc = so_fail(err, errlen, rc, "registry %s answered with media type \"%s\", not one asked for (%s)",
			     ref->registry, p.content_type[0] ? p.content_type : "(none)", what);
		goto out;
	}
	fill_blob(out, &p);
	if (by_digest && strcmp(out->digest, reference) != 0) {
		rc = so_fail(err, errlen, rc, "registry %s: the manifest's sha256 is %s, not the digest asked for (%s)",
			     ref->registry, out->digest, what);
		goto out;
	}
	/* "If the manifest has a mediaType field, clients SHOULD reject unless it matches the Content-Type." */
	json_t *doc = json_loadb(out->body.data ? out->body.data : "", out->body.len, 0, NULL);
	const char *mt = json_string_value(json_object_get(doc, "mediaType"));
	if (!json_is_object(doc))
		rc = so_fail(err, errlen, rc, "registry %s: the manifest is not a JSON object (%s)", ref->registry, what);
	else if (mt && strcasecmp(mt, out->media_type))
		rc = so_fail(err, errlen, rc, "registry %s: the manifest's mediaType does not match its Content-Type %s (%s)",
			     ref->registry, out->media_type, what);
	else
		rc = SO_OK;
	json_decref(doc);
out:
	if (rc)
		registry_blob_free(out);
	registry_http_resp_free(&p);
	return rc;
}

int registry_resolve(struct registry *r, const struct image_ref *ref, const struct registry_cred *cred,
		     int64_t deadline_ms, char digest[IMAGE_DIGEST_LEN + 1], char *err, size_t errlen)
{
	int rc;
	struct registry_http_resp p;
	struct registry_blob m;
	char path[300], what[400];

	digest[0] = '\0';
	if (ref->digest[0]) {
		/* pinned: the digest decides, the tag is never looked up */
		memcpy(digest, ref->digest, IMAGE_DIGEST_LEN + 1);
		return SO_OK;
	}
	if (!ref->tag || !tag_ok(ref->tag))
		return so_fail(err, errlen, SO_E_INVAL, "registry %s: the reference has no tag to resolve", ref->registry);
	registry_http_resp_init(&p, REGISTRY_MAX_MANIFEST);
	snprintf(path, sizeof path, "manifests/%s", ref->tag);
	snprintf(what, sizeof what, "manifest %s:%s", ref->repository, ref->tag);
	rc = request(r, ref, cred, "HEAD", path, ALL_MANIFESTS, REGISTRY_MAX_MANIFEST, 1, deadline_ms, what, &p, 0, err,
		     errlen);
	if (rc == SO_OK && p.docker_digest[0]) {
		memcpy(digest, p.docker_digest, IMAGE_DIGEST_LEN + 1);
		goto out;
	}
	/* No digest header, or a registry that does not do HEAD: GET and hash the bytes. */
	if (rc == SO_OK || rc == SO_E_API_METHOD_NOT_ALLOWED || rc == SO_E_API_BAD_REQUEST || rc == SO_E_API_OTHER) {
		if (err && errlen)
			err[0] = '\0';
		rc = registry_get_manifest(r, ref, cred, ref->tag, NULL, deadline_ms, &m, err, errlen);
		if (rc == SO_OK) {
			memcpy(digest, m.digest, IMAGE_DIGEST_LEN + 1);
			registry_blob_free(&m);
		}
	}
out:
	registry_http_resp_free(&p);
	return rc;
}

int registry_get_blob(struct registry *r, const struct image_ref *ref, const struct registry_cred *cred,
		      const char *digest, size_t max, int64_t deadline_ms, struct registry_blob *out, char *err,
		      size_t errlen)
{
	int rc;
	struct registry_http_resp p;
	char path[300], what[400];

	memset(out, 0, sizeof *out);
	if (!digest_ok(digest))
		return so_fail(err, errlen, SO_E_INVAL, "registry %s: blob digest is not sha256:<64 hex>", ref->registry);
	if (max == 0)
		max = REGISTRY_MAX_BLOB;
	registry_http_resp_init(&p, max);
	snprintf(path, sizeof path, "blobs/%s", digest);
	snprintf(what, sizeof what, "blob %s@%s", ref->repository, digest);
	rc = request(r, ref, cred, "GET", path, NULL, max, 1, deadline_ms, what, &p, 0, err, errlen);
	if (rc == SO_OK) {
		fill_blob(out, &p);
		if (strcmp(out->digest, digest) != 0) {
			rc = so_fail(err, errlen, SO_E_BAD_RESPONSE,
				     "registry %s: the blob's sha256 is %s, not the digest asked for (%s)", ref->registry,
				     out->digest, what);
			registry_blob_free(out);
		}
	}
	registry_http_resp_free(&p);
	return rc;
}

int registry_get_referrers(struct registry *r, const struct image_ref *ref, const struct registry_cred *cred,
			   const char *digest, int64_t deadline_ms, struct registry_blob *out, char *err,
			   size_t errlen)
{
	int rc;
	struct registry_http_resp p;
	char path[300], what[400];

	memset(out, 0, sizeof *out);
	if (!digest_ok(digest))
		return so_fail(err, errlen, SO_E_INVAL, "registry %s: referrers digest is not sha256:<64 hex>",
			       ref->registry);
	registry_http_resp_init(&p, REGISTRY_MAX_MANIFEST);
	snprintf(path, sizeof path, "referrers/%s", digest);
	snprintf(what, sizeof what, "referrers of %s@%s", ref->repository, digest);
	rc = request(r, ref, cred, "GET", path, MT_OCI_INDEX, REGISTRY_MAX_MANIFEST, 1, deadline_ms, what, &p, 1, err,
		     errlen);
	/* The API is there only when the answer is 200 with an OCI index (ggcr fetchReferrers); 400/404/405/406 or
	 * anything else mean "no referrers API": the caller reads the sha256-<hex> tag instead. */
	if (rc == SO_E_API_BAD_REQUEST || rc == SO_E_API_METHOD_NOT_ALLOWED ||
	    (rc == SO_E_API_OTHER && p.status == 406) ||
	    (rc == SO_OK && (p.status != 200 || strcmp(p.content_type, MT_OCI_INDEX) != 0))) {
		rc = so_fail(err, errlen, SO_E_API_NOT_FOUND, "registry %s has no referrers API (answered %ld%s%s) (%s)",
			     ref->registry, p.status, p.content_type[0] ? " " : "", p.content_type, what);
	} else if (rc == SO_OK) {
		fill_blob(out, &p);
	}
	registry_http_resp_free(&p);
	return rc;
}
