/*
 * The controller's side of health (controller.h, docs/internals/health.md): what readiness and liveness ask,
 * the last-contact gauge, and the return of the API server after an outage.
 *
 * Return after an outage. While the API server is away every informer backs off (800 ms doubling to 30 s, plus up
 * to as much jitter: up to a minute between attempts) and every key whose reconcile failed backs off in its queue
 * (5 ms doubling to 1000 s: a key that failed 16 times in a three-minute outage would wait another five minutes
 * after the server is back). So:
 *   - while any informer is failing, a probe asks the API server for /version every PROBE_INTERVAL_S (2 s
 *     deadline; /version needs no RBAC) and, when it answers, cuts every failing informer's backoff sleep short;
 *   - an informer's first success after a failure (ctl_on_recovered) wakes the other failing ones too, and once
 *     no informer is failing (every cache relisted or its watch resumed) the queues' backoffs are reset: every
 *     key waiting out a retry is reconciled at once against the fresh caches.
 * An informer that keeps failing for a reason of its own (say, RBAC refusing one resource) holds the reset back;
 * the keys then keep their ordinary backoff, as before.
 */
#include <stdio.h>

#include "operator/controller/readiness.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/prom.h"
#include "operator/base/ticker.h"

#define PROBE_INTERVAL_S 3.0
#define PROBE_TIMEOUT_MS 2000

/* Wakes every failing informer; returns how many were failing. */
static int wake_failing(struct controller *ctl)
{
	struct informer *all[CTL_NINFORMERS];
	int n = 0;

	ctl_informers(ctl, all);
	for (int i = 0; i < CTL_NINFORMERS; i++) {
		if (all[i] && informer_failing(all[i])) {
			informer_retry_now(all[i]);
			n++;
		}
	}
	return n;
}

void ctl_on_recovered(void *ud, struct informer *inf)
{
	struct controller *ctl = ud;
	(void)inf;
	if (wake_failing(ctl))
		return; /* the last informer to recover resets the queues */
	size_t n = queue_reset_backoff(ctl->app_q) + queue_reset_backoff(ctl->exec_q);
	log_info("controller", "every cache is current again: %zu key%s waiting out a retry backoff requeued", n,
		 n == 1 ? "" : "s");
}

static double probe(void *ud)
{
	struct controller *ctl = ud;
	struct informer *all[CTL_NINFORMERS];
	int failing = 0;

	ctl_informers(ctl, all);
	for (int i = 0; i < CTL_NINFORMERS; i++)
		failing |= all[i] && informer_failing(all[i]);
	if (failing && kube_get_json_within(ctl->c, "/version", PROBE_TIMEOUT_MS, NULL, NULL) == SO_OK) {
		int n = wake_failing(ctl);
		if (n)
			log_info("controller", "the API server answers /version: %d informer%s retrying now", n,
				 n == 1 ? "" : "s");
	}
	return PROBE_INTERVAL_S;
}

int ctl_probe_start(struct controller *ctl)
{
	if (ctl->probe)
		return SO_OK;
	return ticker_start(&ctl->probe, PROBE_INTERVAL_S, probe, ctl);
}

void ctl_probe_stop(struct controller *ctl)
{
	ticker_stop(ctl->probe);
	ctl->probe = NULL;
}

int controller_caches_fresh(struct controller *ctl, char *why, size_t whylen)
{
	struct informer *all[CTL_NINFORMERS];

	ctl_informers(ctl, all);
	for (int i = 0; i < CTL_NINFORMERS; i++) {
		if (!all[i])
			continue;
		double age = informer_contact_age(all[i]);
		if (age > CONTROLLER_CONTACT_BOUND_S) {
			snprintf(why, whylen, "informer %s: no successful list or watch for %.0f s (bound %.0f s)",
				 informer_resource(all[i])->plural, age, CONTROLLER_CONTACT_BOUND_S);
			return 0;
		}
	}
	return 1;
}

int controller_live(struct controller *ctl, char *why, size_t whylen)
{
	static const char *const names[2] = { "spinapp", "spinappexecutor" };
	struct queue *queues[2] = { ctl->app_q, ctl->exec_q };

	for (int c = 0; c < 2; c++) {
		struct queue_metrics qm;
		if (!queues[c])
			continue;
		queue_get_metrics(queues[c], &qm);
		if (qm.longest_s > CONTROLLER_STUCK_S) {
			snprintf(why, whylen, "%s: a reconcile has been running for %.0f s (bound %.0f s)", names[c],
				 qm.longest_s, CONTROLLER_STUCK_S);
			return 0;
		}
	}
	return 1;
}

int ctl_health_metrics(struct controller *ctl, struct buf *out)
{
	struct informer *all[CTL_NINFORMERS];
	int rc = prom_family(out, "spin_operator_informer_last_contact_age_seconds", "gauge",
			     "Seconds since the informer last heard from the API server (list, watch event or bookmark).");

	ctl_informers(ctl, all);
	for (int i = 0; rc == SO_OK && i < CTL_NINFORMERS; i++) {
		if (!all[i])
			continue;
		if ((rc = buf_appendf(out, "spin_operator_informer_last_contact_age_seconds{resource=\"%s\"} ",
				      informer_resource(all[i])->plural)) == SO_OK &&
		    (rc = prom_append_value(out, informer_contact_age(all[i]))) == SO_OK)
			rc = buf_appends(out, "\n");
	}
	return rc;
}
