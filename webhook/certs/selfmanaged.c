#include "webhook/certs/selfmanaged.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "webhook/certs/certplan.h"
#include "operator/kube/names.h"
#include "webhook/certs/certsecret.h"
#include "operator/kube/api.h"
#include "operator/kube/client.h"
#include "operator/base/selfcert.h"
#include "operator/base/buf.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/ticker.h"
#include "operator/base/mem.h"

#define COMPONENT "webhook-certs"
#define CA_NAME "spin-operator webhook CA"
#define RACE_ATTEMPTS 4 /* reads of the Secret per round when other replicas keep winning the write */
#define FIRST_RETRY_S 1.0

static const struct kube_resource MUTATING = { "admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
					       "mutatingwebhookconfigurations", 0 };
static const struct kube_resource VALIDATING = { "admissionregistration.k8s.io", "v1",
						 "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", 0 };

struct selfmanaged {
	struct kube_client *c; /* our own, so that stopping can cancel it */
	char *namespace, *secret_name, *cert_dir;
	char *configs[2]; /* mutating, validating; NULL when not injected */
	char *san_store;  /* the SANs, NUL-separated; sans[] points into it */
	const char *sans[SELFCERT_MAX_SANS];
	size_t nsans;
	char *sans_text;
	struct certplan_opts plan;
	double interval_s;
	void (*on_files)(void *user); /* under mu: set at start or later (selfmanaged_set_on_files) */
	void *user;
	long next_s; /* seconds until the next renewal, from the last round */

	char last_error[512]; /* logged once until it changes */
	int missing_logged[2];

	struct ticker *rounds_ticker; /* NULL until selfmanaged_start */
	double retry_s;               /* the wait after a failed round; doubles up to interval_s */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC; signalled after each round */
	int rounds;        /* rounds finished (under mu), for selfmanaged_wait_first_round */
	int first_ok;      /* the first round's verdict */
};

/* ---- small helpers ---- */

static void fail_once(struct selfmanaged *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_once(struct selfmanaged *m, const char *fmt, ...)
{
	char msg[sizeof m->last_error];
	va_list ap;
	if (kube_client_cancelled(m->c))
		return; /* stopping: a cancelled request is not an error */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (strcmp(msg, m->last_error) != 0)
		log_error(COMPONENT, "%s (retrying)", msg);
	snprintf(m->last_error, sizeof m->last_error, "%s", msg);
}

static json_t *new_secret(const struct selfmanaged *m)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s}}, s:s, s:{}}", "apiVersion", "v1", "kind",
			 "Secret", "metadata", "name", m->secret_name, "namespace", m->namespace, "labels",
			 "app.kubernetes.io/name", "spin-operator", "app.kubernetes.io/component", "webhook",
			 "app.kubernetes.io/managed-by", "spin-operator", "type", "kubernetes.io/tls", "data");
}

/* ---- 1. the Secret ---- */

/* Reads the Secret, applies the renewal rules and writes it back when something changed, until a write wins
 * or a read shows nothing to do. *out receives what the Secret holds afterwards. */
static int sync_secret(struct selfmanaged *m, struct certset *out)
{
	json_t *secret = NULL;
	struct certset in = { 0 };
	int rc = SO_OK;

	memset(out, 0, sizeof *out);
	for (int attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
		struct kube_response resp = { 0 };
		char what[256], err[256] = "";
		int changed = 0, exists;

		json_decref(secret);
		secret = NULL;
		certset_free(&in);
		certset_free(out);
		rc = kube_get(m->c, &KUBE_SECRETS, m->namespace, m->secret_name, &secret, &resp);
		exists = rc == SO_OK;
		if (rc && rc != SO_E_API_NOT_FOUND) {
			fail_once(m, "cannot read Secret %s/%s: %s: %s", m->namespace, m->secret_name, so_strerror(rc),
				  resp.message ? resp.message : "");
			kube_response_free(&resp);
			goto out;
		}
		kube_response_free(&resp);
		/* Undecodable keys stay empty and the plan replaces them. */
		if (exists)
			certsecret_decode(secret, &in);
		else if (!(secret = new_secret(m))) {
			rc = SO_E_INVAL; /* json_pack: a namespace or name that is not valid UTF-8 */
			goto out;
		}
		if ((rc = certplan_apply(&in, &m->plan, time(NULL), out, &changed, what, sizeof what, &m->next_s, err,
					 sizeof err))) {
			fail_once(m, "cannot make the webhook certificates: %s", err);
			goto out;
		}
		if (!changed)
			goto out;
		if ((rc = certsecret_encode(out, secret)))
			goto out;
		rc = exists ? kube_update(m->c, &KUBE_SECRETS, m->namespace, secret, NULL, &resp)
			    : kube_create(m->c, &KUBE_SECRETS, m->namespace, secret, NULL, &resp);
		if (rc == SO_OK) {
			struct selfcert_info ci = { 0 }, li = { 0 };
			char until[32] = "?";
			struct tm tm;
			selfcert_inspect(out->ca_crt, out->ca_crt_len, &ci);
			selfcert_inspect(out->tls_crt, out->tls_crt_len, &li);
			if (gmtime_r(&li.not_after, &tm))
				strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &tm);
			log_info(COMPONENT, "Secret %s/%s %s: %s; serving serial %s (valid to %s, renewal due in %ld s), CA "
					    "serial %s", m->namespace, m->secret_name, exists ? "updated" : "created", what,
				 li.serial, until, m->next_s, ci.serial);
			kube_response_free(&resp);
			goto out;
		}
		/* AlreadyExists, Conflict, or NotFound for an update: someone else created, changed or deleted it */
		if (rc != SO_E_API_ALREADY_EXISTS && rc != SO_E_API_CONFLICT && !(exists && rc == SO_E_API_NOT_FOUND)) {
			fail_once(m, "cannot %s Secret %s/%s: %s: %s", exists ? "update" : "create", m->namespace,
				  m->secret_name, so_strerror(rc), resp.message ? resp.message : "");
			kube_response_free(&resp);
			goto out;
		}
		kube_response_free(&resp);
		/* another replica wrote first: read what it wrote and use that */
		log_info(COMPONENT, "Secret %s/%s was %s by someone else first (%s): reading it again", m->namespace,
			 m->secret_name, exists ? "changed" : "created", so_strerror(rc));
	}
	fail_once(m, "Secret %s/%s keeps changing under us: giving up this round", m->namespace, m->secret_name);
	rc = SO_E_API_CONFLICT;
out:
	if (rc)
		certset_free(out);
	certset_free(&in);
	json_decref(secret);
	return rc;
}

/* ---- 2. the files ---- */

/* Non-zero when path holds exactly data. */
static int file_has(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char chunk[4096];
	size_t off = 0;
	int same = fd >= 0;
	while (same) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			same = n == 0 && off == len;
			break;
		}
		same = off + (size_t)n <= len && memcmp(chunk, data + off, (size_t)n) == 0;
		off += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	return same;
}

/* Writes data to dir/.name.tmp; the caller renames it into place. */
static int write_tmp(const char *tmp, const char *data, size_t len, mode_t mode)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t off = 0;
	if (fd < 0)
		return SO_E_IO;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	int rc = off == len && fsync(fd) == 0 ? SO_OK : SO_E_IO;
	if (close(fd) && rc == SO_OK)
		rc = SO_E_IO;
	return rc;
}

/* Brings tls.key, tls.crt and ca.crt in the cert dir up to s. The key goes first and the certificate right
 * after it, so the pair on disk disagrees for as short a time as possible (the reload that on_files asks for
 * then reads both new files). *written: something changed. */
static int sync_files(struct selfmanaged *m, const struct certset *s, int *written)
{
	const struct {
		const char *name;
		const char *data;
		size_t len;
		mode_t mode;
	} f[3] = { { "tls.key", s->tls_key, s->tls_key_len, 0600 },
		   { "tls.crt", s->tls_crt, s->tls_crt_len, 0644 },
		   { "ca.crt", s->ca_crt, s->ca_crt_len, 0644 } };
	char path[3][4096], tmp[3][4096];
	int todo[3] = { 0 }, rc = SO_OK;

	*written = 0;
	if (mkdir(m->cert_dir, 0700) && errno != EEXIST) {
		fail_once(m, "cannot create %s: %s", m->cert_dir, strerror(errno));
		return SO_E_IO;
	}
	for (int i = 0; i < 3; i++) {
		snprintf(path[i], sizeof path[i], "%s/%s", m->cert_dir, f[i].name);
		snprintf(tmp[i], sizeof tmp[i], "%s/.%s.tmp", m->cert_dir, f[i].name);
		if (file_has(path[i], f[i].data, f[i].len))
			continue;
		if ((rc = write_tmp(tmp[i], f[i].data, f[i].len, f[i].mode))) {
			fail_once(m, "cannot write %s: %s", tmp[i], strerror(errno));
			goto out;
		}
		todo[i] = 1;
	}
	for (int i = 0; i < 3; i++) {
		if (todo[i] && rename(tmp[i], path[i])) {
			fail_once(m, "cannot rename %s to %s: %s", tmp[i], path[i], strerror(errno));
			rc = SO_E_IO;
			goto out;
		}
		if (todo[i]) {
			todo[i] = 0;
			*written = 1;
		}
	}
out:
	for (int i = 0; i < 3; i++)
		if (todo[i])
			unlink(tmp[i]);
	return rc;
}

/* ---- 3. caBundle ---- */

static int inject(struct selfmanaged *m, int which, const json_t *bundle)
{
	const struct kube_resource *r = which ? &VALIDATING : &MUTATING;
	struct kube_response resp = { 0 };
	struct buf path = BUF_INIT(1024);
	json_t *cfg = NULL, *ops = NULL, *wh;
	size_t i, n = 0;
	int rc;

	rc = kube_get(m->c, r, NULL, m->configs[which], &cfg, &resp);
	if (rc == SO_E_API_NOT_FOUND) {
		if (!m->missing_logged[which])
			log_warn(COMPONENT, "%s %s does not exist (yet): its caBundle is set when it appears", r->kind,
				 m->configs[which]);
		m->missing_logged[which] = 1;
		goto out; /* not an error to log, but the round is retried sooner: the configuration is likely on its way */
	}
	if (rc) {
		fail_once(m, "cannot read %s %s: %s: %s", r->kind, m->configs[which], so_strerror(rc),
			  resp.message ? resp.message : "");
		goto out;
	}
	m->missing_logged[which] = 0;
	rc = SO_E_INVAL; /* for a failed json_pack: a webhook name of the input cannot be, it came out of jansson */
	ops = json_array();
	json_array_foreach(json_object_get(cfg, "webhooks"), i, wh) {
		const char *name = json_string_value(json_object_get(wh, "name"));
		json_t *cc = json_object_get(wh, "clientConfig");
		if (!name || !json_is_object(cc) || json_equal(json_object_get(cc, "caBundle"), bundle))
			continue;
		char p1[64], p2[64];
		snprintf(p1, sizeof p1, "/webhooks/%zu/name", i);
		snprintf(p2, sizeof p2, "/webhooks/%zu/clientConfig/caBundle", i);
		/* the test keeps the index honest should the list change between our GET and our PATCH */
		if (json_array_append_new(ops, json_pack("{s:s, s:s, s:s}", "op", "test", "path", p1, "value", name)) ||
		    json_array_append_new(ops, json_pack("{s:s, s:s, s:O}", "op", "add", "path", p2, "value", bundle)))
			goto out;
		n++;
	}
	rc = SO_OK;
	if (n == 0)
		goto out;
	kube_response_free(&resp);
	if ((rc = kube_path(&path, r, NULL, m->configs[which], NULL)))
		goto out;
	rc = kube_send_json(m->c, "PATCH", path.data, "application/json-patch+json", ops, NULL, &resp);
	if (rc)
		fail_once(m, "cannot set the caBundle of %s %s: %s: %s", r->kind, m->configs[which], so_strerror(rc),
			  resp.message ? resp.message : "");
	else
		log_info(COMPONENT, "caBundle set in %s %s (%zu webhook%s)", r->kind, m->configs[which], n,
			 n == 1 ? "" : "s");
out:
	kube_response_free(&resp);
	buf_free(&path);
	json_decref(ops);
	json_decref(cfg);
	return rc;
}

/* ---- rounds ---- */

int selfmanaged_sync(struct selfmanaged *m)
{
	struct certset s = { 0 };
	json_t *bundle = NULL;
	int written = 0, rc;

	if ((rc = sync_secret(m, &s)))
		goto out;
	if ((rc = sync_files(m, &s, &written)))
		goto out;
	if (written) {
		log_info(COMPONENT, "serving certificate written to %s", m->cert_dir);
		pthread_mutex_lock(&m->mu);
		void (*fn)(void *) = m->on_files;
		void *user = m->user;
		pthread_mutex_unlock(&m->mu);
		if (fn)
			fn(user);
	}
	if (!(bundle = certsecret_b64(s.ca_crt, s.ca_crt_len))) {
		rc = SO_E_TOO_LARGE; /* a CA past CERTSECRET_MAX_PEM */
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		int r = m->configs[i] ? inject(m, i, bundle) : SO_OK;
		if (r && !rc)
			rc = r;
	}
	if (!rc && m->last_error[0]) {
		log_info(COMPONENT, "webhook certificates in order again");
		m->last_error[0] = '\0';
	}
out:
	json_decref(bundle);
	certset_free(&s);
	return rc;
}

/* One round; returns the seconds until the next. */
static double round_once(void *arg)
{
	struct selfmanaged *m = arg;
	double wait = m->interval_s;
	int rc = selfmanaged_sync(m);
	pthread_mutex_lock(&m->mu);
	if (m->rounds++ == 0)
		m->first_ok = rc == SO_OK || rc == SO_E_API_NOT_FOUND; /* the files exist either way */
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	if (rc) {
		wait = m->retry_s < m->interval_s ? m->retry_s : m->interval_s;
		m->retry_s *= 2;
	} else {
		m->retry_s = FIRST_RETRY_S;
		if (m->next_s + 1 < wait)
			wait = (double)(m->next_s + 1); /* a renewal falls due before the next round */
	}
	return wait;
}

/* ---- set-up ---- */

static int add_san(struct selfmanaged *m, struct buf *store, const char *s, size_t n, char *err, size_t errlen)
{
	char name[256];
	if (n == 0 || n >= sizeof name)
		return so_fail(err, errlen, SO_E_CONFIG, "a SAN of %zu characters", n);
	memcpy(name, s, n);
	name[n] = '\0';
	if (!selfcert_valid_san(name))
		return so_fail(err, errlen, SO_E_CONFIG, "\"%s\" is neither an IP address nor a DNS name", name);
	if (m->nsans == SELFCERT_MAX_SANS)
		return so_fail(err, errlen, SO_E_CONFIG, "more than %d SANs", SELFCERT_MAX_SANS);
	for (size_t i = 0, off = 0; i < m->nsans; i++, off += strlen(store->data + off) + 1)
		if (!strcmp(store->data + off, name))
			return SO_OK; /* given twice */
	m->nsans++;
	return buf_append(store, name, n + 1);
}

static int build_sans(struct selfmanaged *m, const struct selfmanaged_opts *o, char *err, size_t errlen)
{
	struct buf store = BUF_INIT(64 * 1024), text = BUF_INIT(64 * 1024);
	char name[1024];
	const char *ns = o->namespace, *svc = o->service_name;
	int rc = SO_OK;

	/* the names the API server may dial for a Service reference, most specific first */
	static const char *const suffix[4] = { ".svc", ".svc.cluster.local", "", NULL };
	for (int i = 0; i < 4 && !rc; i++) {
		int n = suffix[i] ? snprintf(name, sizeof name, "%s.%s%s", svc, ns, suffix[i])
				  : snprintf(name, sizeof name, "%s", svc);
		rc = n > 0 && (size_t)n < sizeof name ? add_san(m, &store, name, (size_t)n, err, errlen) : SO_E_CONFIG;
	}
	for (const char *p = o->extra_sans; !rc && p && *p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		while (n && *p == ' ')
			p++, n--;
		while (n && p[n - 1] == ' ')
			n--;
		if (n)
			rc = add_san(m, &store, p, n, err, errlen);
		p = comma ? comma + 1 : p + strlen(p);
	}
	if (rc)
		goto out;
	m->san_store = store.data; /* taken over from store */
	store.data = NULL;
	for (size_t i = 0, off = 0; i < m->nsans; i++) {
		m->sans[i] = m->san_store + off;
		off += strlen(m->sans[i]) + 1;
		buf_appendf(&text, "%s%s", i ? "," : "", m->sans[i]);
	}
	m->sans_text = buf_steal(&text);
out:
	buf_free(&store);
	buf_free(&text);
	return rc;
}

static char *dup_opt(const char *s)
{
	return s && *s ? mem_strdup(s) : NULL;
}

int selfmanaged_new(const struct kube_config *cfg, const struct selfmanaged_opts *o, struct selfmanaged **out,
		    char *err, size_t errlen)
{
	struct kube_client_opts copts;
	struct selfmanaged *m;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!o->namespace || !kube_dns1123_subdomain(o->namespace) || strchr(o->namespace, '.'))
		return so_fail(err, errlen, SO_E_CONFIG, "webhook namespace \"%s\" is not a namespace name",
			       o->namespace ? o->namespace : "");
	if (!o->secret_name || !kube_dns1123_subdomain(o->secret_name))
		return so_fail(err, errlen, SO_E_CONFIG, "webhook Secret name \"%s\" is not an object name",
			       o->secret_name ? o->secret_name : "");
	if (!o->service_name || !kube_dns1123_subdomain(o->service_name) || strchr(o->service_name, '.'))
		return so_fail(err, errlen, SO_E_CONFIG, "webhook Service name \"%s\" is not a Service name",
			       o->service_name ? o->service_name : "");
	const char *cfgs[2] = { o->mutating_config, o->validating_config };
	for (int i = 0; i < 2; i++)
		if (cfgs[i] && *cfgs[i] && !kube_dns1123_subdomain(cfgs[i]))
			return so_fail(err, errlen, SO_E_CONFIG, "webhook configuration name \"%s\" is not an object name",
				       cfgs[i]);
	if (!o->cert_dir || !*o->cert_dir)
		return so_fail(err, errlen, SO_E_CONFIG, "self-managed certificates need a folder to write them to");
	if (o->ca_validity_s < 0 || o->cert_validity_s < 0 || o->interval_s < 0)
		return so_fail(err, errlen, SO_E_CONFIG, "negative certificate lifetime or interval");

	m = mem_calloc(1, sizeof *m);
	pthread_mutex_init(&m->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv, &ca);
	pthread_condattr_destroy(&ca);
	m->namespace = mem_strdup(o->namespace);
	m->secret_name = mem_strdup(o->secret_name);
	m->cert_dir = mem_strdup(o->cert_dir);
	m->configs[0] = dup_opt(o->mutating_config);
	m->configs[1] = dup_opt(o->validating_config);
	if ((rc = build_sans(m, o, err, errlen)))
		goto fail;
	m->plan.ca_name = CA_NAME;
	m->plan.sans = m->sans;
	m->plan.nsans = m->nsans;
	m->plan.ca_validity_s = o->ca_validity_s ? o->ca_validity_s : SELFMANAGED_DEFAULT_CA_VALIDITY_S;
	m->plan.cert_validity_s = o->cert_validity_s ? o->cert_validity_s : SELFMANAGED_DEFAULT_CERT_VALIDITY_S;
	m->interval_s = o->interval_s > 0 ? o->interval_s : SELFMANAGED_DEFAULT_INTERVAL_S;
	/* two rounds: the replica that renewed the CA has injected the bundle, and the API servers have seen it */
	m->plan.ca_switch_delay_s = (long)(2 * m->interval_s) + 1;
	m->on_files = o->on_files;
	m->user = o->user;
	kube_client_opts_default(&copts);
	copts.timeout_ms = 15000;
	if ((rc = kube_client_new(cfg, &copts, &m->c, err, errlen)))
		goto fail;
	*out = m;
	return SO_OK;
fail:
	selfmanaged_free(m);
	return rc;
}

int selfmanaged_wait_first_round(struct selfmanaged *m, double timeout_s)
{
	struct timespec deadline = clock_in(CLOCK_MONOTONIC, timeout_s);
	pthread_mutex_lock(&m->mu);
	while (m->rounds == 0 && m->rounds_ticker && pthread_cond_timedwait(&m->cv, &m->mu, &deadline) == 0)
		;
	int ok = m->rounds > 0 && m->first_ok;
	pthread_mutex_unlock(&m->mu);
	return ok;
}

void selfmanaged_set_on_files(struct selfmanaged *m, void (*on_files)(void *user), void *user)
{
	pthread_mutex_lock(&m->mu);
	m->on_files = on_files;
	m->user = user;
	pthread_mutex_unlock(&m->mu);
}

int selfmanaged_start(struct selfmanaged *m)
{
	if (m->rounds_ticker)
		return SO_OK;
	m->retry_s = FIRST_RETRY_S;
	return ticker_start(&m->rounds_ticker, 0, round_once, m);
}

void selfmanaged_free(struct selfmanaged *m)
{
	if (!m)
		return;
	if (m->rounds_ticker) {
		kube_client_cancel(m->c); /* for good: a round in progress gives up at once */
		ticker_stop(m->rounds_ticker);
	}
	kube_client_free(m->c);
	free(m->namespace);
	free(m->secret_name);
	free(m->cert_dir);
	free(m->configs[0]);
	free(m->configs[1]);
	free(m->san_store);
	free(m->sans_text);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	free(m);
}

const char *selfmanaged_sans(const struct selfmanaged *m)
{
	return m->sans_text ? m->sans_text : "";
}
