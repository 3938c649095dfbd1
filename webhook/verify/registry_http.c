/*
 * One HTTP exchange with a registry or a token server, on libcurl. Handles come from a operator/base/http.h pool, so a
 * webhook thread reuses a warm connection (and its TLS session) to the registry; DNS answers and TLS sessions
 * are shared between the pool's handles.
 *
 * Limits set on every request: CURLOPT_TIMEOUT_MS from the caller's deadline, a connect timeout, the protocol
 * list (https, or http too for a registry listed as insecure) for the request and its redirects, at most 5
 * redirects (and, for registry requests, none to a private address unless the registry is at one: the redirect
 * guard), CURLOPT_MAXFILESIZE_LARGE plus a write callback that stops at the cap. Credentials go through
 * libcurl's own Basic/Bearer support, which never sends them to a host other than the first one of a transfer
 * (CURLOPT_UNRESTRICTED_AUTH stays 0): a blob redirected to object storage is fetched anonymously.
 *
 * CAs: libcurl's defaults (the machine's /etc/ssl/certs bundle and folder) unless an extra CA file is given;
 * then the default bundle and that file are joined in memory and passed as CURLOPT_CAINFO_BLOB (the folder
 * stays in use).
 */
#include <ctype.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "webhook/verify/registry_int.h"
#include "operator/base/http.h"
#include "operator/base/mem.h"

#define POOL_MAX 16
#define ERROR_BODY_CAP ((size_t)64 << 10)
#define CA_FILE_MAX ((size_t)4 << 20)
#define MAX_REDIRS 5L

void registry_http_resp_init(struct registry_http_resp *p, size_t max)
{
	memset(p, 0, sizeof *p);
	buf_init(&p->body, max);
	p->retry_after_s = -1;
}

void registry_http_resp_free(struct registry_http_resp *p)
{
	buf_free(&p->body);
	for (int i = 0; i < REG_MAX_AUTH_HEADERS; i++) {
		free(p->www_auth[i]);
		p->www_auth[i] = NULL;
	}
}

/* Appends a whole file (at most CA_FILE_MAX bytes) to b. */
static int append_file(struct buf *b, const char *path)
{
	char chunk[16384];
	size_t n;
	int rc = SO_OK;
	FILE *f = fopen(path, "rb");
	if (!f)
		return SO_E_IO;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if ((rc = buf_append(b, chunk, n)) != SO_OK)
			break;
	}
	if (rc == SO_OK && ferror(f))
		rc = SO_E_IO;
	fclose(f);
	return rc;
}

/* The number of certificates in a PEM buffer (0 when there is none or it does not parse). */
static int count_certs(const char *pem, size_t len)
{
	int count = 0;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	STACK_OF(X509_INFO) *infos = bio ? PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL) : NULL;
	for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++) {
		if (sk_X509_INFO_value(infos, i)->x509)
			count++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(bio);
	return count;
}

static int load_cas(struct registry *r, const char *extra, char *err, size_t errlen)
{
	int rc;
	struct buf b = BUF_INIT(2 * CA_FILE_MAX + 2);
	struct buf x = BUF_INIT(CA_FILE_MAX);
	char *sys = NULL;
	CURL *probe = NULL;

	rc = append_file(&x, extra);
	if (rc) {
		rc = so_fail(err, errlen, SO_E_CONFIG, "registry CA file %s: %s", extra,
			     rc == SO_E_TOO_LARGE ? "larger than 4 MiB" : "cannot be read");
		goto out;
	}
	if (count_certs(x.data, x.len) == 0) {
		rc = so_fail(err, errlen, SO_E_CONFIG, "registry CA file %s: no PEM certificate in it", extra);
		goto out;
	}
	/* The bundle libcurl would use by default (CURLINFO_CAINFO, libcurl >= 7.84). */
	probe = curl_easy_init();
	if (curl_easy_getinfo(probe, CURLINFO_CAINFO, &sys) == CURLE_OK && sys && *sys) {
		rc = append_file(&b, sys);
		if (rc == SO_E_IO)
			buf_reset(&b); /* no system bundle on this machine: the extra CAs alone (plus CApath) */
		else if (rc) {
			rc = so_fail(err, errlen, SO_E_CONFIG, "system CA bundle %s is larger than 4 MiB", sys);
			goto out;
		}
	}
	rc = SO_E_TOO_LARGE; /* cannot happen: b's cap holds both files */
	if (buf_appends(&b, "\n") || buf_append(&b, x.data, x.len))
		goto out;
	r->ca_blob.len = b.len;
	r->ca_blob.flags = CURL_BLOB_NOCOPY; /* lives as long as the client */
	r->ca_blob.data = buf_steal(&b);
	rc = SO_OK;
out:
	curl_easy_cleanup(probe);
	buf_free(&b);
	buf_free(&x);
	return rc;
}

int registry_http_init(struct registry *r, const char *extra_ca_file, char *err, size_t errlen)
{
	http_pool_init(&r->pool, POOL_MAX);
	r->http_ready = 1;
	if (extra_ca_file && *extra_ca_file)
		return load_cas(r, extra_ca_file, err, errlen);
	return SO_OK;
}

void registry_http_destroy(struct registry *r)
{
	if (!r->http_ready)
		return;
	http_pool_destroy(&r->pool);
	free(r->ca_blob.data);
}

struct xfer {
	CURL *easy;
	struct registry_http_resp *p;
	const struct registry_http_req *q;
	int via_proxy;          /* a guarded request sent through a proxy: the address seen is the proxy's */
	int hops;               /* requests of this transfer sent so far (the redirect guard's) */
	int origin_private;     /* the transfer's first host is at a private address */
	char origin_host[256];
	struct http_sink sink;  /* 2xx bodies whole (capped), error bodies' first ERROR_BODY_CAP bytes */
};

/* The realm guard (registry_http_req.guard_host): a host other than the registry's may not be at a private address. */
static int realm_ok(struct xfer *t, const char *host, const char *primary_ip)
{
	if (t->via_proxy || !strcasecmp(host, t->q->guard_host) || netaddr_is_private(primary_ip) == 0)
		return 1;
	/* Another host than the registry's, on a private (or unparseable) address. */
	t->p->refused_private = 1;
	snprintf(t->p->refused_ip, sizeof t->p->refused_ip, "%s", primary_ip);
	return 0;
}

/*
 * The redirect guard (registry_http_req.redirect_guard), the realm guard's rule for redirects: the first host of the
 * transfer (the registry) may be anywhere; a redirect to another host may not lead to a private address (an IP
 * literal, or a name as connected to, so DNS rebinding does not get around it) unless the registry is at one
 * itself: an in-cluster registry may hand blobs to in-cluster storage, a public one may not point the webhook at
 * 169.254.169.254. Through a proxy the connected address is the proxy's: only IP literals can be judged there.
 */
static int redirect_ok(struct xfer *t, const char *scheme, const char *host, const char *primary_ip)
{
	char proxy[1024];
	int proxied = proxy_from_env(scheme, host, proxy, sizeof proxy);
	int literal = netaddr_is_private(host);

	if (t->hops++ == 0) {
		snprintf(t->origin_host, sizeof t->origin_host, "%s", host);
		t->origin_private = literal == 1 || (!proxied && netaddr_is_private(primary_ip) == 1);
		return 1;
	}
	if (t->origin_private || !strcasecmp(host, t->origin_host))
		return 1;
	if (literal != 1 && (proxied || netaddr_is_private(primary_ip) == 0))
		return 1;
	t->p->refused_private = 1;
	t->p->refused_redirect = 1;
	snprintf(t->p->refused_ip, sizeof t->p->refused_ip, "%s", literal == 1 ? host : primary_ip);
	return 0;
}

/* Called once the connection is up (or reused), before each request of a transfer is sent: the guards. */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	struct xfer *t = ud;
	char *url = NULL, *scheme = NULL, *host = NULL;
	int ok;
	CURLU *u;

	if (!t->q->guard_host && !t->q->redirect_guard)
		return CURL_PREREQFUNC_OK;
	if (curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK || !url)
		return CURL_PREREQFUNC_ABORT;
	u = curl_url();
	ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK;
	if (ok && t->q->guard_host)
		ok = realm_ok(t, host, primary_ip);
	if (ok && t->q->redirect_guard)
		ok = redirect_ok(t, scheme, host, primary_ip);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT;
}

/* Content-Type without parameters, lower-cased; Docker-Content-Digest when well-formed; WWW-Authenticate. */
static void read_headers(CURL *easy, struct registry_http_resp *p)
{
	struct curl_header *h = NULL;

	if (curl_easy_header(easy, "Content-Type", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h->value) {
		size_t i = 0;
		for (; h->value[i] && h->value[i] != ';' && i + 1 < sizeof p->content_type; i++)
			p->content_type[i] = (char)tolower((unsigned char)h->value[i]);
		while (i > 0 && (p->content_type[i - 1] == ' ' || p->content_type[i - 1] == '\t'))
			i--;
		p->content_type[i] = '\0';
	}
	if (curl_easy_header(easy, "Docker-Content-Digest", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h->value) {
		const char *v = h->value;
		size_t n = strlen(v);
		int ok = n == IMAGE_DIGEST_LEN && !strncmp(v, "sha256:", 7);
		for (size_t i = 7; ok && i < n; i++)
			ok = (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f');
		if (ok)
			memcpy(p->docker_digest, v, n + 1);
	}
	for (size_t i = 0; i < REG_MAX_AUTH_HEADERS; i++) {
		if (curl_easy_header(easy, "WWW-Authenticate", i, CURLH_HEADER, -1, &h) != CURLHE_OK || !h->value)
			break;
		p->www_auth[i] = mem_strdup(h->value);
	}
	if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h->value) {
		char *end = NULL;
		long v = strtol(h->value, &end, 10);
		if (end != h->value && *end == '\0' && v >= 0)
			p->retry_after_s = v;
	}
}

static void final_host(CURL *easy, struct registry_http_resp *p)
{
	char *url = NULL, *host = NULL;
	CURLU *u = curl_url();
	if (curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url &&
	    curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		snprintf(p->final_host, sizeof p->final_host, "%s", host);
	curl_free(host);
	curl_url_cleanup(u);
}

int registry_http_perform(struct registry *r, const struct registry_http_req *q, struct registry_http_resp *p)
{
	int rc = SO_E_TOO_LARGE; /* an Accept value over hdr's cap */
	CURL *easy = NULL;
	struct curl_slist *headers = NULL;
	struct buf hdr = BUF_INIT(1024);
	struct xfer t = { 0 };
	int64_t left = q->deadline_ms - clock_mono_ms();

	p->status = 0;
	p->error[0] = '\0';
	if (left <= 0)
		return SO_E_TIMEOUT;
	atomic_fetch_add(&r->requests, 1);
	easy = http_pool_get(&r->pool);
	if (q->accept) {
		if (buf_appendf(&hdr, "Accept: %s", q->accept))
			goto out;
		headers = curl_slist_append(headers, hdr.data);
	}
	/* No "Expect: 100-continue" on the OAuth2 POST. */
	headers = curl_slist_append(headers, "Expect:");

	t.easy = easy;
	t.p = p;
	t.q = q;
	t.sink.body = &p->body;
	t.sink.error_cap = ERROR_BODY_CAP;
	curl_easy_setopt(easy, CURLOPT_URL, q->url);
	if (!strcmp(q->method, "HEAD")) {
		curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(q->method, "POST")) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, q->post ? q->post : "");
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(q->post ? strlen(q->post) : 0));
	}
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "spin-operator");
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, q->plain_http ? "http,https" : "https");
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, q->plain_http ? "http,https" : "https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, q->follow ? 1L : 0L);
	curl_easy_setopt(easy, CURLOPT_MAXREDIRS, MAX_REDIRS);
	curl_easy_setopt(easy, CURLOPT_UNRESTRICTED_AUTH, 0L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, left < r->connect_timeout_ms ? (long)left : r->connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)q->max);
	http_sink_attach(easy, &t.sink);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, p->error);
	curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(easy, CURLOPT_PREREQDATA, &t);
	if (r->ca_blob.data)
		curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &r->ca_blob);
	if (q->guard_host) {
		/* The proxy decision is made here, not by libcurl, so the guard knows what the address it sees is. */
		char proxy[1024], *scheme = NULL, *host = NULL;
		CURLU *u = curl_url();
		if (curl_url_set(u, CURLUPART_URL, q->url, 0) != CURLUE_OK ||
		    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
			curl_url_cleanup(u);
			rc = SO_E_TRANSPORT;
			snprintf(p->error, sizeof p->error, "not a URL");
			goto out;
		}
		t.via_proxy = proxy_from_env(scheme, host, proxy, sizeof proxy);
		curl_easy_setopt(easy, CURLOPT_PROXY, t.via_proxy ? proxy : "");
		curl_easy_setopt(easy, CURLOPT_NOPROXY, "");
		curl_free(scheme);
		curl_free(host);
		curl_url_cleanup(u);
	}
	if (q->user) {
		curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(easy, CURLOPT_USERNAME, q->user);
		curl_easy_setopt(easy, CURLOPT_PASSWORD, q->pass ? q->pass : "");
	} else if (q->bearer) {
		curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, q->bearer);
	}

	CURLcode cc = curl_easy_perform(easy);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &p->status);
	final_host(easy, p);
	if (cc == CURLE_OK) {
		read_headers(easy, p);
		rc = SO_OK;
	} else if (t.sink.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = SO_E_TOO_LARGE;
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = SO_E_TIMEOUT;
	} else if (cc == CURLE_OUT_OF_MEMORY) {
		rc = SO_E_NOMEM;
	} else if (cc == CURLE_TOO_MANY_REDIRECTS) {
		snprintf(p->error, sizeof p->error, "more than %ld redirects", MAX_REDIRS);
		p->too_many_redirects = 1;
		rc = SO_E_TRANSPORT;
	} else {
		long os_errno = 0;
		char why[128];
		/* "Connection refused" says more than libcurl's "Failed to connect to ... port ...". */
		if (cc == CURLE_COULDNT_CONNECT && curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK &&
		    os_errno > 0 && !p->refused_private && strerror_r((int)os_errno, why, sizeof why) == 0)
			snprintf(p->error, sizeof p->error, "%s", why);
		if (!p->error[0])
			snprintf(p->error, sizeof p->error, "%s", curl_easy_strerror(cc));
		p->tls_failed = cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_PEER_FAILED_VERIFICATION ||
				cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CIPHER || cc == CURLE_SSL_CACERT_BADFILE ||
				cc == CURLE_SSL_ISSUER_ERROR || cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
		rc = SO_E_TRANSPORT;
	}
	/* Credentials must not stay in a pooled handle's options. */
	curl_easy_setopt(easy, CURLOPT_USERNAME, NULL);
	curl_easy_setopt(easy, CURLOPT_PASSWORD, NULL);
	curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, NULL);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
out:
	curl_slist_free_all(headers);
	buf_free(&hdr);
	if (easy)
		http_pool_put(&r->pool, easy);
	return rc;
}
