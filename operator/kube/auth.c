/*
 * struct kube_auth: the credentials for the next request (see config.h).
 *
 * Everything it needs is copied from the struct kube_config at creation, so the config may be freed afterwards.
 * One mutex guards the caches; kube_auth_get holds it while it re-reads a token file or runs an exec plugin, so
 * concurrent callers wait for that one refresh instead of starting their own (an exec plugin can take up to the
 * exec timeout). Each caller gets its own copies of the credentials.
 *
 * Refresh rules:
 *   token file  re-read when the cached copy is KUBE_AUTH_TOKEN_FILE_TTL seconds old or after an invalidation;
 *               if the re-read fails but a token was read before, the old token is used (the file may be in the
 *               middle of an atomic swap) and the next call tries again;
 *   CA file     (in-cluster ca.crt) re-read on the same schedule; a bundle that cannot be read or holds no
 *               parseable certificate is logged and the previous one kept (a half-written file must not cut the
 *               client off the API server); a new bundle is logged once. Every request gets the current bundle
 *               (libcurl opens new connections for a different CA and keeps the old ones, already verified);
 *   exec        re-run when there is no cached result, after an invalidation, or KUBE_AUTH_EXPIRY_MARGIN seconds
 *               before status.expirationTimestamp; if a re-run before the real expiry fails, the cached
 *               credentials are used until they expire.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operator/kube/config.h"
#include "operator/kube/auth.h"
#include "operator/kube/exec.h"
#include "operator/kube/file.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/strv.h"
#include "operator/base/mem.h"

#define KUBE_AUTH_TOKEN_FILE_TTL 60
#define KUBE_AUTH_EXPIRY_MARGIN 10

struct kube_auth {
	pthread_mutex_t mu;
	long clock_offset; /* test hook: seconds added to both clocks */
	int clock_frozen;  /* test hook: the clocks read mono_frozen / wall_frozen (plus the offset) */
	time_t mono_frozen, wall_frozen;

	char *token; /* static */
	char *token_file;
	struct kube_pem client_cert; /* static, from the kubeconfig */
	struct kube_pem client_key;

	struct kube_exec_config exec; /* deep copy; exec.command == NULL when there is no plugin */
	char *server;                 /* cluster info for provideClusterInfo */
	char *tls_server_name;
	struct kube_pem ca;
	int insecure;

	char *file_token; /* last token read from token_file */
	time_t file_read_at;
	int file_stale;

	char *ca_file;    /* re-read into ca */
	time_t ca_read_at;
	int ca_checked;   /* ca_read_at is set (the first request checks the file again) */

	struct kube_exec_result cached; /* valid when have_cached */
	int have_cached;
	int exec_stale;
};

static time_t mono_now(const struct kube_auth *a)
{
	return (a->clock_frozen ? a->mono_frozen : (time_t)(clock_mono_ms() / 1000)) + a->clock_offset;
}

static time_t wall_now(const struct kube_auth *a)
{
	return (a->clock_frozen ? a->wall_frozen : time(NULL)) + a->clock_offset;
}

void kube_auth_freeze_clock(struct kube_auth *auth)
{
	pthread_mutex_lock(&auth->mu);
	auth->mono_frozen = (time_t)(clock_mono_ms() / 1000);
	auth->wall_frozen = time(NULL);
	auth->clock_frozen = 1;
	pthread_mutex_unlock(&auth->mu);
}

void kube_auth_set_clock_offset(struct kube_auth *auth, long seconds)
{
	pthread_mutex_lock(&auth->mu);
	auth->clock_offset = seconds;
	pthread_mutex_unlock(&auth->mu);
}

static char *dup_opt(const char *src)
{
	return src ? mem_strdup(src) : NULL;
}

void kube_auth_free(struct kube_auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->mu);
	kube_secret_free(a->token);
	free(a->token_file);
	kube_pem_free(&a->client_cert);
	kube_pem_free(&a->client_key);
	free(a->exec.command);
	strv_free(a->exec.args);
	strv_free(a->exec.env);
	free(a->exec.api_version);
	free(a->server);
	free(a->tls_server_name);
	kube_pem_free(&a->ca);
	free(a->ca_file);
	kube_secret_free(a->file_token);
	kube_exec_result_free(&a->cached);
	free(a);
}

int kube_auth_new(const struct kube_config *cfg, struct kube_auth **out, char *err, size_t errlen)
{
	struct kube_auth *a;

	*out = NULL;
	if (cfg->exec && (!cfg->exec->command || !cfg->exec->api_version))
		return so_fail(err, errlen, SO_E_CONFIG, "credentials: exec plugin without command or apiVersion");
	a = mem_calloc(1, sizeof *a);
	pthread_mutex_init(&a->mu, NULL); /* default attributes: cannot fail (as everywhere in the daemon) */
	a->token = dup_opt(cfg->token);
	a->token_file = dup_opt(cfg->token_file);
	kube_pem_dup(&a->client_cert, &cfg->client_cert);
	kube_pem_dup(&a->client_key, &cfg->client_key);
	a->server = dup_opt(cfg->server);
	a->tls_server_name = dup_opt(cfg->tls_server_name);
	kube_pem_dup(&a->ca, &cfg->ca);
	a->ca_file = dup_opt(cfg->ca_file);
	a->insecure = cfg->insecure_skip_tls_verify;
	if (cfg->exec) {
		a->exec.command = mem_strdup(cfg->exec->command);
		a->exec.api_version = mem_strdup(cfg->exec->api_version);
		a->exec.args = strv_dup(cfg->exec->args);
		a->exec.env = strv_dup(cfg->exec->env);
		a->exec.provide_cluster_info = cfg->exec->provide_cluster_info;
	}
	*out = a;
	return SO_OK;
}

void kube_auth_invalidate(struct kube_auth *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->file_stale = 1;
	a->exec_stale = 1;
	pthread_mutex_unlock(&a->mu);
}

/* Called with the mutex held. */
static int refresh_token_file(struct kube_auth *a, char *err, size_t errlen)
{
	time_t now = mono_now(a);
	char *tok = NULL;
	char msg[512];
	int rc;

	if (a->file_token && !a->file_stale && now - a->file_read_at < KUBE_AUTH_TOKEN_FILE_TTL)
		return SO_OK;
	rc = kube_token_file_read(a->token_file, &tok, msg, sizeof msg);
	if (rc) {
		if (!a->file_token)
			return so_fail(err, errlen, rc, "%s", msg);
		/* Keep serving the last good token; msg names the file only. */
		log_warn("kube", "re-reading the token failed, using the previous one: %s", msg);
		return SO_OK;
	}
	kube_secret_free(a->file_token);
	a->file_token = tok;
	a->file_read_at = now;
	a->file_stale = 0;
	return SO_OK;
}

/* Called with the mutex held. Never fails: the bundle read at start (or last) stays until a good one replaces it. */
static void refresh_ca_file(struct kube_auth *a)
{
	time_t now = mono_now(a);
	struct buf b = BUF_INIT(KUBE_CONFIG_MAX_FILE);
	int e = 0;

	if (a->ca_checked && now - a->ca_read_at < KUBE_AUTH_TOKEN_FILE_TTL)
		return;
	a->ca_read_at = now;
	a->ca_checked = 1;
	int rc = kube_file_read(a->ca_file, KUBE_CONFIG_MAX_FILE, &b, &e);
	struct kube_pem fresh = { b.data, b.len };
	if (rc) {
		log_warn("kube", "re-reading the CA bundle %s failed, keeping the previous one: %s", a->ca_file,
			 rc == SO_E_IO ? kube_file_strerror(e) : so_strerror(rc));
	} else if (a->ca.len == b.len && (b.len == 0 || memcmp(a->ca.data, b.data, b.len) == 0)) {
		/* unchanged */
	} else if (!kube_pem_has_cert(&fresh)) {
		log_warn("kube", "the CA bundle %s holds no certificate, keeping the previous one", a->ca_file);
	} else {
		kube_pem_free(&a->ca);
		a->ca.len = b.len;
		a->ca.data = buf_steal(&b);
		log_info("kube", "the CA bundle %s changed: new connections verify the API server with it", a->ca_file);
	}
	buf_free(&b);
}

/* Called with the mutex held. */
static int refresh_exec(struct kube_auth *a, char *err, size_t errlen)
{
	time_t now = wall_now(a);
	struct kube_exec_result r;
	struct kube_exec_cluster cl = { a->server, a->tls_server_name, &a->ca, a->insecure };
	char msg[512];
	int usable, rc;

	usable = a->have_cached && !a->exec_stale && (!a->cached.expiry || now < a->cached.expiry);
	if (usable && (!a->cached.expiry || now < a->cached.expiry - KUBE_AUTH_EXPIRY_MARGIN))
		return SO_OK;
	rc = kube_exec_run(&a->exec, &cl, &r, msg, sizeof msg);
	if (rc) {
		if (!usable)
			return so_fail(err, errlen, rc, "%s", msg);
		log_warn("kube", "refreshing exec credentials failed, using the cached ones until they expire: %s",
			 msg);
		return SO_OK;
	}
	kube_exec_result_free(&a->cached);
	a->cached = r;
	a->have_cached = 1;
	a->exec_stale = 0;
	return SO_OK;
}

int kube_auth_get(struct kube_auth *a, struct kube_credentials *out, char *err, size_t errlen)
{
	const char *token = NULL;
	const struct kube_pem *cert = &a->client_cert, *key = &a->client_key;
	int rc;

	memset(out, 0, sizeof *out);
	if (err && errlen)
		err[0] = '\0';
	pthread_mutex_lock(&a->mu);
	if (a->exec.command) {
		rc = refresh_exec(a, err, errlen);
		if (rc)
			goto out;
		token = a->cached.token;
		if (a->cached.client_cert.data) {
			cert = &a->cached.client_cert;
			key = &a->cached.client_key;
		}
	} else if (a->token_file) {
		rc = refresh_token_file(a, err, errlen);
		if (rc)
			goto out;
		token = a->file_token;
	} else {
		token = a->token;
	}
	if (a->ca_file) {
		refresh_ca_file(a);
		kube_pem_dup(&out->ca, &a->ca);
	}
	out->token = dup_opt(token);
	kube_pem_dup(&out->client_cert, cert);
	kube_pem_dup(&out->client_key, key);
	rc = SO_OK;
out:
	pthread_mutex_unlock(&a->mu);
	if (rc)
		kube_credentials_free(out);
	return rc;
}
