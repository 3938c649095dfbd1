#include "webhook/verify/policywatch.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "operator/base/err.h"
#include "operator/base/filesig.h"
#include "operator/base/log.h"
#include "operator/base/ticker.h"
#include "operator/base/mem.h"

#define DEFAULT_INTERVAL_S 5.0

struct policywatch {
	char *path;
	double interval_s;

	pthread_mutex_t mu; /* cur and the counters */
	struct policy *cur;
	unsigned long reloads, errors;

	pthread_mutex_t check_mu; /* one check at a time; seen */
	struct filesig seen;

	struct ticker *poller; /* NULL until policywatch_start */
};

int policywatch_new(const char *path, double interval_s, struct policywatch **out, char *err, size_t errlen)
{
	struct policywatch *w;
	int rc;

	*out = NULL;
	w = mem_calloc(1, sizeof *w);
	w->path = mem_strdup(path);
	w->interval_s = interval_s > 0 ? interval_s : DEFAULT_INTERVAL_S;
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->check_mu, NULL);
	filesig_of(path, &w->seen); /* before reading: a change while reading is seen at the next poll */
	if ((rc = policy_load_file(path, &w->cur, err, errlen))) {
		policywatch_free(w);
		return rc;
	}
	log_info("verify", "policy %s loaded: %zu rules, hash %.12s", path, w->cur->n_rules, w->cur->hash);
	*out = w;
	return SO_OK;
}

int policywatch_check(struct policywatch *w)
{
	struct filesig now;
	struct policy *p = NULL, *old = NULL;
	char err[512] = "";
	int rc;

	pthread_mutex_lock(&w->check_mu);
	filesig_of(w->path, &now);
	if (filesig_eq(&now, &w->seen)) {
		rc = 0;
		goto out;
	}
	w->seen = now; /* a refused file is logged once, not at every poll */
	rc = policy_load_file(w->path, &p, err, sizeof err);
	if (rc) {
		pthread_mutex_lock(&w->mu);
		w->errors++;
		pthread_mutex_unlock(&w->mu);
		log_error("verify", "policy %s changed but is refused, the previous policy stays in force: %s", w->path,
			  err);
		goto out;
	}
	pthread_mutex_lock(&w->mu);
	if (strcmp(p->hash, w->cur->hash) == 0) {
		old = p; /* touched, same content */
		rc = 0;
	} else {
		old = w->cur;
		w->cur = p;
		w->reloads++;
		rc = 1;
	}
	pthread_mutex_unlock(&w->mu);
	if (rc == 1)
		log_info("verify", "policy %s reloaded: %zu rules, hash %.12s", w->path, p->n_rules, p->hash);
	policy_unref(old);
out:
	pthread_mutex_unlock(&w->check_mu);
	return rc;
}

struct policy *policywatch_get(struct policywatch *w)
{
	pthread_mutex_lock(&w->mu);
	struct policy *p = policy_ref(w->cur);
	pthread_mutex_unlock(&w->mu);
	return p;
}

void policywatch_get_stats(struct policywatch *w, struct policywatch_stats *out)
{
	pthread_mutex_lock(&w->mu);
	out->reloads = w->reloads;
	out->errors = w->errors;
	pthread_mutex_unlock(&w->mu);
}

static double poll_once(void *arg)
{
	struct policywatch *w = arg;
	policywatch_check(w);
	return w->interval_s;
}

int policywatch_start(struct policywatch *w)
{
	if (w->poller)
		return SO_OK;
	return ticker_start(&w->poller, w->interval_s, poll_once, w);
}

void policywatch_free(struct policywatch *w)
{
	if (!w)
		return;
	ticker_stop(w->poller);
	policy_unref(w->cur);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->check_mu);
	free(w->path);
	free(w);
}
