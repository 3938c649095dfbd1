#include "operator/base/certwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "operator/base/err.h"
#include "operator/base/filesig.h"
#include "operator/base/log.h"
#include "operator/base/ticker.h"
#include "operator/base/mem.h"

#define DEFAULT_INTERVAL_S 10.0
#define MAX_CHAIN 16

/* One certificate chain and key, as served. The first pair is an empty placeholder (npcerts 0). */
struct pair {
	gnutls_pcert_st pcerts[MAX_CHAIN];
	unsigned int npcerts;
	gnutls_privkey_t key;
	char *cert_pem, *key_pem; /* the file contents, to tell a real change from a touch */
	size_t cert_len, key_len;
	time_t not_before, not_after;
	char serial[80];
	unsigned long pins; /* connections accepted while this pair was current, still open */
	int retired;        /* no longer current */
	struct pair *newer;
};

struct certwatch {
	const char *who;
	char *cert_file, *key_file; /* NULL for a static pair */
	double interval_s;

	pthread_mutex_t mu; /* the pairs and the counters */
	struct pair *oldest, *cur;
	unsigned long reads, read_errors, swaps;

	pthread_mutex_t check_mu; /* one check at a time; the fields below */
	struct filesig seen[2];
	int have_seen;
	int failing;        /* the last read failed: read again at the next poll even if nothing changed */
	char last_error[256];

	struct ticker *poller; /* NULL until certwatch_start */
};

static void pair_free(struct pair *p)
{
	if (!p)
		return;
	for (unsigned int i = 0; i < p->npcerts; i++)
		gnutls_pcert_deinit(&p->pcerts[i]);
	if (p->key)
		gnutls_privkey_deinit(p->key);
	free(p->cert_pem);
	free(p->key_pem);
	free(p);
}

/* Frees replaced pairs, oldest first, while nothing pins them or anything older. Under w->mu. */
static void collect(struct certwatch *w)
{
	while (w->oldest != w->cur && w->oldest->retired && w->oldest->pins == 0) {
		struct pair *p = w->oldest;
		w->oldest = p->newer;
		pair_free(p);
	}
}

/* Reads a whole file of at most CERTWATCH_MAX_FILE bytes, NUL-terminated. */
static int read_file(const char *path, char **out, size_t *len, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0, alloc = 4096;
	char *data;

	*out = NULL;
	*len = 0;
	if (fd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
		return SO_E_IO;
	}
	data = mem_alloc(alloc);
	for (;;) {
		if (n + 1 >= alloc) {
			if (alloc > CERTWATCH_MAX_FILE) {
				snprintf(why, whylen, "%s is larger than %zu bytes", path, CERTWATCH_MAX_FILE);
				free(data);
				close(fd);
				return SO_E_TOO_LARGE;
			}
			alloc *= 2;
			data = mem_realloc(data, alloc);
		}
		ssize_t r = read(fd, data + n, alloc - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
			free(data);
			close(fd);
			return SO_E_IO;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	data[n] = '\0';
	*out = data;
	*len = n;
	return SO_OK;
}

/* Parses a chain and key into p (pcerts, key, serial, validity). SO_OK or SO_E_INVAL/SO_E_CONFIG with why. */
static int build_pair(struct pair *p, const char *cert, size_t cert_len, const char *key, size_t key_len,
		      char *why, size_t whylen)
{
	gnutls_x509_crt_t *crts = NULL;
	unsigned int ncrts = 0, i;
	gnutls_pubkey_t pub = NULL;
	unsigned char id_crt[64], id_key[64];
	size_t id_crt_len = sizeof id_crt, id_key_len = sizeof id_key;
	gnutls_datum_t d;
	int ret, rc = SO_E_INVAL;

	if (cert_len > CERTWATCH_MAX_FILE || key_len > CERTWATCH_MAX_FILE) {
		snprintf(why, whylen, "certificate or key larger than %zu bytes", CERTWATCH_MAX_FILE);
		return SO_E_INVAL;
	}
	d.data = (unsigned char *)(uintptr_t)cert;
	d.size = (unsigned int)cert_len;
	ret = gnutls_x509_crt_list_import2(&crts, &ncrts, &d, GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0 || ncrts == 0) {
		snprintf(why, whylen, "the certificate file holds no PEM certificate (%s)",
			 ret < 0 ? gnutls_strerror(ret) : "empty");
		return SO_E_INVAL;
	}
	if (ncrts > MAX_CHAIN) {
		snprintf(why, whylen, "the certificate chain has %u certificates (at most %d)", ncrts, MAX_CHAIN);
		goto out;
	}
	if ((ret = gnutls_privkey_init(&p->key)) < 0) {
		snprintf(why, whylen, "GnuTLS: gnutls_privkey_init: %s", gnutls_strerror(ret));
		rc = SO_E_CONFIG;
		goto out;
	}
	d.data = (unsigned char *)(uintptr_t)key;
	d.size = (unsigned int)key_len;
	if ((ret = gnutls_privkey_import_x509_raw(p->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		snprintf(why, whylen, "the key file holds no unencrypted PEM private key (%s)", gnutls_strerror(ret));
		goto out;
	}
	/* The key must be the leaf's: compare the SHA-256 key IDs of both public keys. */
	if ((ret = gnutls_pubkey_init(&pub)) < 0 || (ret = gnutls_pubkey_import_privkey(pub, p->key, 0, 0)) < 0 ||
	    (ret = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id_key, &id_key_len)) < 0 ||
	    (ret = gnutls_x509_crt_get_key_id(crts[0], GNUTLS_KEYID_USE_SHA256, id_crt, &id_crt_len)) < 0) {
		snprintf(why, whylen, "cannot compare the key with the certificate (%s)", gnutls_strerror(ret));
		goto out;
	}
	if (id_key_len != id_crt_len || memcmp(id_key, id_crt, id_key_len) != 0) {
		snprintf(why, whylen, "the private key does not belong to the certificate (the first one in the file)");
		goto out;
	}
	p->not_before = gnutls_x509_crt_get_activation_time(crts[0]);
	p->not_after = gnutls_x509_crt_get_expiration_time(crts[0]);
	{
		unsigned char serial[40];
		size_t slen = sizeof serial, k = 0, o = 0;
		if (gnutls_x509_crt_get_serial(crts[0], serial, &slen) >= 0) {
			while (k + 1 < slen && serial[k] == 0)
				k++; /* as openssl prints it: no leading zero bytes */
			for (; k < slen && o + 3 < sizeof p->serial; k++, o += 2)
				snprintf(p->serial + o, sizeof p->serial - o, "%02X", serial[k]);
		}
	}
	unsigned int n = ncrts;
	if ((ret = gnutls_pcert_import_x509_list(p->pcerts, crts, &n, 0)) < 0) {
		snprintf(why, whylen, "cannot use the certificate chain (%s)", gnutls_strerror(ret));
		goto out;
	}
	p->npcerts = n;
	rc = SO_OK;
out:
	if (pub)
		gnutls_pubkey_deinit(pub);
	for (i = 0; i < ncrts; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	return rc;
}

int certwatch_validate_pem(const char *cert, size_t cert_len, const char *key, size_t key_len, char *why,
			   size_t whylen)
{
	struct pair *p = mem_calloc(1, sizeof *p);
	int rc = build_pair(p, cert, cert_len, key, key_len, why, whylen);
	pair_free(p);
	return rc;
}

static void fmt_time(time_t t, char *out, size_t n)
{
	struct tm tm;
	if (t == (time_t)-1 || !gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, n, "?");
}

/* Logs a read failure once per distinct message. Under check_mu. */
static void report_failure(struct certwatch *w, const char *why, int changed)
{
	if (changed || strcmp(w->last_error, why) != 0)
		log_error(w->who, "%s serving certificate not %s: %s%s", w->who,
			  w->cur && w->cur->npcerts ? "reloaded" : "loaded", why, w->cur && w->cur->npcerts ? " (still serving the previous one)" : "");
	snprintf(w->last_error, sizeof w->last_error, "%s", why);
	w->failing = 1;
	pthread_mutex_lock(&w->mu);
	w->read_errors++;
	pthread_mutex_unlock(&w->mu);
}

int certwatch_check(struct certwatch *w)
{
	struct filesig now[2], after[2];
	char *cert = NULL, *key = NULL, why[256] = "";
	size_t cert_len = 0, key_len = 0;
	int rc, changed;

	if (!w->cert_file)
		return 0; /* a static pair */
	pthread_mutex_lock(&w->check_mu);
	/* A file replaced while we read it gives a torn pair: read again, a few times, until stat agrees. */
	for (int attempt = 0;; attempt++) {
		filesig_of(w->cert_file, &now[0]);
		filesig_of(w->key_file, &now[1]);
		changed = !w->have_seen || !filesig_eq(&now[0], &w->seen[0]) || !filesig_eq(&now[1], &w->seen[1]);
		if (!changed && !w->failing) {
			pthread_mutex_unlock(&w->check_mu);
			return 0;
		}
		free(cert);
		free(key);
		cert = key = NULL;
		rc = read_file(w->cert_file, &cert, &cert_len, why, sizeof why);
		if (rc == SO_OK)
			rc = read_file(w->key_file, &key, &key_len, why, sizeof why);
		filesig_of(w->cert_file, &after[0]);
		filesig_of(w->key_file, &after[1]);
		if ((filesig_eq(&now[0], &after[0]) && filesig_eq(&now[1], &after[1])) || attempt == 3)
			break;
	}
	w->seen[0] = now[0];
	w->seen[1] = now[1];
	w->have_seen = 1;
	if (rc != SO_OK) {
		report_failure(w, why, changed);
		goto out;
	}
	/* Unchanged bytes (a touch, a re-mount of the same Secret): keep serving what we have. */
	if (w->cur->npcerts && cert_len == w->cur->cert_len && key_len == w->cur->key_len &&
	    !memcmp(cert, w->cur->cert_pem, cert_len) && !memcmp(key, w->cur->key_pem, key_len)) {
		w->failing = 0;
		w->last_error[0] = '\0';
		rc = 0;
		goto out;
	}
	struct pair *p = mem_calloc(1, sizeof *p);
	if ((rc = build_pair(p, cert, cert_len, key, key_len, why, sizeof why)) != SO_OK) {
		char msg[400];
		snprintf(msg, sizeof msg, "%s (%s, %s)", why, w->cert_file, w->key_file);
		pair_free(p);
		report_failure(w, msg, changed);
		goto out;
	}
	p->cert_pem = cert;
	p->key_pem = key;
	p->cert_len = cert_len;
	p->key_len = key_len;
	cert = key = NULL;
	pthread_mutex_lock(&w->mu);
	int first = w->cur->npcerts == 0;
	w->cur->retired = 1;
	w->cur->newer = p;
	w->cur = p;
	w->reads++;
	w->swaps++;
	collect(w);
	pthread_mutex_unlock(&w->mu);
	w->failing = 0;
	w->last_error[0] = '\0';

	char nb[32], na[32];
	fmt_time(p->not_before, nb, sizeof nb);
	fmt_time(p->not_after, na, sizeof na);
	log_info(w->who, "%s serving certificate %s from %s: serial %s, valid %s to %s, %u certificate%s in the chain",
		 w->who, first ? "loaded" : "reloaded", w->cert_file, p->serial[0] ? p->serial : "?", nb, na, p->npcerts,
		 p->npcerts == 1 ? "" : "s");
	time_t t = time(NULL);
	if (p->not_after != (time_t)-1 && p->not_after < t)
		log_warn(w->who, "the %s serving certificate expired at %s: clients that verify it will refuse it", w->who, na);
	else if (p->not_before != (time_t)-1 && p->not_before > t)
		log_warn(w->who, "the %s serving certificate is not valid before %s", w->who, nb);
	rc = 1;
out:
	free(cert);
	free(key);
	pthread_mutex_unlock(&w->check_mu);
	return rc;
}

int certwatch_new(const struct certwatch_opts *o, struct certwatch **out)
{
	*out = NULL;
	if (!o || !o->cert_file || !o->key_file || !*o->cert_file || !*o->key_file)
		return SO_E_INVAL;
	struct certwatch *w = mem_calloc(1, sizeof *w);
	w->interval_s = o->interval_s > 0 ? o->interval_s : DEFAULT_INTERVAL_S;
	w->who = o->who ? o->who : "webhook";
	w->cert_file = mem_strdup(o->cert_file);
	w->key_file = mem_strdup(o->key_file);
	w->cur = w->oldest = mem_calloc(1, sizeof *w->cur);
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->check_mu, NULL);
	certwatch_check(w);
	*out = w;
	return SO_OK;
}

static double poll_once(void *arg)
{
	struct certwatch *w = arg;
	certwatch_check(w);
	return w->interval_s;
}

int certwatch_new_static(const char *who, const char *cert, size_t cert_len, const char *key, size_t key_len,
			 struct certwatch **out, char *why, size_t whylen)
{
	int rc;
	*out = NULL;
	struct certwatch *w = mem_calloc(1, sizeof *w);
	w->who = who ? who : "webhook";
	w->interval_s = DEFAULT_INTERVAL_S;
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->check_mu, NULL);
	w->cur = w->oldest = mem_calloc(1, sizeof *w->cur);
	struct pair *p = mem_calloc(1, sizeof *p);
	if ((rc = build_pair(p, cert, cert_len, key, key_len, why, whylen)) != SO_OK) {
		pair_free(p);
		certwatch_free(w);
		return rc;
	}
	w->cur->retired = 1;
	w->cur->newer = p;
	w->cur = p;
	w->reads = w->swaps = 1;
	collect(w);
	*out = w;
	return SO_OK;
}

int certwatch_start(struct certwatch *w)
{
	if (w->poller || !w->cert_file)
		return SO_OK;
	return ticker_start(&w->poller, w->interval_s, poll_once, w);
}

void certwatch_free(struct certwatch *w)
{
	if (!w)
		return;
	ticker_stop(w->poller);
	struct pair *p = w->oldest;
	while (p) {
		struct pair *next = p->newer;
		pair_free(p);
		p = next;
	}
	free(w->cert_file);
	free(w->key_file);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->check_mu);
	free(w);
}

int certwatch_loaded(struct certwatch *w)
{
	pthread_mutex_lock(&w->mu);
	int loaded = w->cur->npcerts > 0;
	pthread_mutex_unlock(&w->mu);
	return loaded;
}

void certwatch_get_stats(struct certwatch *w, struct certwatch_stats *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&w->mu);
	out->reads = w->reads;
	out->read_errors = w->read_errors;
	out->swaps = w->swaps;
	out->loaded = w->cur->npcerts > 0;
	if (out->loaded) {
		out->not_before = w->cur->not_before;
		out->not_after = w->cur->not_after;
		memcpy(out->serial, w->cur->serial, sizeof out->serial);
	}
	pthread_mutex_unlock(&w->mu);
}

void *certwatch_conn_open(struct certwatch *w)
{
	pthread_mutex_lock(&w->mu);
	struct pair *p = w->cur;
	p->pins++;
	pthread_mutex_unlock(&w->mu);
	return p;
}

void certwatch_conn_close(struct certwatch *w, void *token)
{
	struct pair *p = token;
	if (!p)
		return;
	pthread_mutex_lock(&w->mu);
	if (p->pins)
		p->pins--;
	collect(w);
	pthread_mutex_unlock(&w->mu);
}

int certwatch_select(struct certwatch *w, gnutls_pcert_st **pcert, unsigned int *pcert_length,
		     gnutls_privkey_t *pkey)
{
	int rc = -1;
	pthread_mutex_lock(&w->mu);
	if (w->cur->npcerts) {
		*pcert = w->cur->pcerts;
		*pcert_length = w->cur->npcerts;
		*pkey = w->cur->key;
		rc = 0;
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void certwatch_mhd_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct certwatch *w = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		if (ci && ci->tls_session)
			gnutls_session_set_ptr((gnutls_session_t)ci->tls_session, w);
		*socket_context = certwatch_conn_open(w);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		certwatch_conn_close(w, *socket_context);
		*socket_context = NULL;
	}
}

int certwatch_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
		       unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	struct certwatch *w = gnutls_session_get_ptr(session);
	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	*pcert_length = 0;
	if (!w || certwatch_select(w, pcert, pcert_length, pkey) != 0) {
		log_debug(w ? w->who : "tls", "TLS handshake refused: no serving certificate loaded");
		return -1;
	}
	return 0;
}
