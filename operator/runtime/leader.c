#include "operator/runtime/leader.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "operator/kube/api.h"
#include "operator/runtime/lease.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/ticker.h"
#include "operator/base/mem.h"

struct leader_elector {
	struct leader_elector_opts o;
	char *namespace, *name;
	struct lease_core core;  /* the ticker thread's, and main's once the thread is stopped */
	struct lease_lock lock;
	json_t *lease;           /* the Lease last read or written: update PUTs it back with its resourceVersion */
	char last_holder[LEASE_MAX_ID];
	struct ticker *ticker;   /* under mu: the watch thread wakes it */
	unsigned int seed;       /* the acquire loop's jitter */
	pthread_t watcher;       /* watch_lease */
	int watching;
	atomic_int stop_watch;

	pthread_mutex_t mu;      /* guards leading and until for the write gate and metrics */
	int leading;
	double until;
	atomic_ulong slowpath;
};

static double wall_now(void)
{
	return clock_now_s(CLOCK_REALTIME);
}

/* ---- the lock: the Lease through kube/ ---- */

static void copy_str(char *dst, size_t len, const json_t *v)
{
	snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static void lease_to_record(const json_t *lease, struct lease_record *r)
{
	const json_t *spec = json_object_get(lease, "spec");
	memset(r, 0, sizeof *r);
	copy_str(r->holder, sizeof r->holder, json_object_get(spec, "holderIdentity"));
	copy_str(r->acquire_time, sizeof r->acquire_time, json_object_get(spec, "acquireTime"));
	copy_str(r->renew_time, sizeof r->renew_time, json_object_get(spec, "renewTime"));
	r->duration_s = (long)json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	r->transitions = (long)json_integer_value(json_object_get(spec, "leaseTransitions"));
}

/* client-go's LeaderElectionRecordToLeaseSpec: every field set, the holder "" when released. NULL when a string
 * is not UTF-8 (an identity or time cut short in its fixed-size field). */
static json_t *record_to_spec(const struct lease_record *r)
{
	return json_pack("{s:s, s:I, s:s, s:s, s:I}", "holderIdentity", r->holder, "leaseDurationSeconds",
			 (json_int_t)r->duration_s, "acquireTime", r->acquire_time, "renewTime", r->renew_time,
			 "leaseTransitions", (json_int_t)r->transitions);
}

static void keep_lease(struct leader_elector *el, json_t *lease)
{
	json_decref(el->lease);
	el->lease = lease;
}

static void request_failed(struct leader_elector *el, const char *what, int rc, const struct kube_response *resp)
{
	log_warn("leader", "%s lease %s/%s: %s%s%s", what, el->namespace, el->name, so_strerror(rc),
		 resp->message ? ": " : "", resp->message ? resp->message : "");
}

static int lock_get(void *ud, struct lease_record *out)
{
	struct leader_elector *el = ud;
	struct kube_response resp = { 0 };
	json_t *lease = NULL;
	int rc = kube_get(el->o.client, &KUBE_LEASES, el->namespace, el->name, &lease, &resp);
	if (rc == SO_OK) {
		lease_to_record(lease, out);
		keep_lease(el, lease);
	} else if (rc != SO_E_API_NOT_FOUND) {
		request_failed(el, "cannot read", rc, &resp);
	}
	kube_response_free(&resp);
	return rc;
}

static int lock_create(void *ud, const struct lease_record *rec)
{
	struct leader_elector *el = ud;
	struct kube_response resp = { 0 };
	json_t *out = NULL;
	json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o*}", "apiVersion", "coordination.k8s.io/v1", "kind", "Lease",
				"metadata", "name", el->name, "namespace", el->namespace, "spec", record_to_spec(rec));
	int rc = obj ? kube_create(el->o.client, &KUBE_LEASES, el->namespace, obj, &out, &resp) : SO_E_INVAL;
	if (rc == SO_OK)
		keep_lease(el, out);
	else
		request_failed(el, "cannot create", rc, &resp);
	json_decref(obj);
	kube_response_free(&resp);
	return rc;
}

static int lock_update(void *ud, const struct lease_record *rec)
{
	struct leader_elector *el = ud;
	struct kube_response resp = { 0 };
	json_t *out = NULL, *obj;
	int rc;
	if (!el->lease) /* client-go: "lease not initialized, call get or create first" */
		return SO_E_INVAL;
	obj = json_deep_copy(el->lease);
	if (json_object_set_new(obj, "spec", record_to_spec(rec))) {
		json_decref(obj);
		return SO_E_INVAL;
	}
	rc = kube_update(el->o.client, &KUBE_LEASES, el->namespace, obj, &out, &resp);
	if (rc == SO_OK)
		keep_lease(el, out);
	else if (rc == SO_E_API_CONFLICT)
		log_debug("leader", "lease %s/%s changed under us (Conflict)", el->namespace, el->name);
	else
		request_failed(el, "cannot update", rc, &resp);
	json_decref(obj);
	kube_response_free(&resp);
	return rc;
}

/* ---- the rounds ---- */

static void set_leading(struct leader_elector *el, int leading, double until)
{
	pthread_mutex_lock(&el->mu);
	el->leading = leading;
	el->until = until;
	pthread_mutex_unlock(&el->mu);
}

int leader_elector_may_write(void *ud)
{
	struct leader_elector *el = ud;
	pthread_mutex_lock(&el->mu);
	int ok = el->leading && clock_mono_s() < el->until;
	pthread_mutex_unlock(&el->mu);
	return ok;
}

int leader_elector_is_leader(struct leader_elector *el)
{
	pthread_mutex_lock(&el->mu);
	int l = el->leading;
	pthread_mutex_unlock(&el->mu);
	return l;
}

/* A log line whenever the holder we observe changes. */
static void note_holder(struct leader_elector *el)
{
	const char *h = lease_holder(&el->core);
	if (!strcmp(h, el->last_holder))
		return;
	snprintf(el->last_holder, sizeof el->last_holder, "%s", h);
	if (!*h)
		log_info("leader", "lease %s/%s is free (released)", el->namespace, el->name);
	else if (strcmp(h, el->o.identity))
		log_info("leader", "the leader is %s (lease %s/%s)", h, el->namespace, el->name);
}

static double clock_mono(void *ud)
{
	(void)ud;
	return clock_mono_s();
}

static double clock_wall(void *ud)
{
	(void)ud;
	return wall_now();
}

static double round_fn(void *ud)
{
	struct leader_elector *el = ud;
	double jitter = (double)rand_r(&el->seed) / ((double)RAND_MAX + 1);
	struct lease_step st = lease_round(&el->core, &el->lock, clock_mono, clock_wall, NULL, jitter);

	atomic_store(&el->slowpath, el->core.slowpath);
	note_holder(el);
	if (el->core.state == LEASE_LEADING)
		set_leading(el, 1, el->core.renew_until);
	if (st.started) {
		log_info("leader", "became the leader: %s holds lease %s/%s", el->o.identity, el->namespace, el->name);
		if (el->o.on_started)
			el->o.on_started(el->o.ud);
	}
	if (st.lost) {
		set_leading(el, 0, 0);
		log_error("leader", "leader election lost: %s could not renew lease %s/%s within %.0f s; writes stopped",
			  el->o.identity, el->namespace, el->name, el->o.renew_deadline_s);
		if (el->o.on_stopped)
			el->o.on_stopped(el->o.ud);
	}
	return st.sleep_s;
}

/*
 * A watch on the Lease alone: every change of it (a renewal by the leader, a release) wakes a standby's round
 * at once, so that it observes renewals as they happen and a released lease is taken within a request's time
 * instead of up to a jittered retry (2-4.4 s) later. The leader's own renewals do not wake it. Any failure:
 * watch again a second later; the rounds go on regardless, at client-go's pace.
 */
static int on_lease_change(void *ud, const char *data, size_t len)
{
	struct leader_elector *el = ud;
	(void)data;
	if (!len || leader_elector_is_leader(el))
		return 0;
	pthread_mutex_lock(&el->mu);
	if (el->ticker)
		ticker_wake(el->ticker);
	pthread_mutex_unlock(&el->mu);
	return 0;
}

static void *watch_lease(void *arg)
{
	struct leader_elector *el = arg;
	char path[1024];
	snprintf(path, sizeof path,
		 "/apis/coordination.k8s.io/v1/namespaces/%s/leases?watch=1&fieldSelector=metadata.name%%3D%s"
		 "&timeoutSeconds=300",
		 el->namespace, el->name);
	while (!atomic_load(&el->stop_watch)) {
		struct kube_response resp = { 0 };
		int rc = kube_stream(el->o.client, path, 0, on_lease_change, el, &el->stop_watch, &resp);
		if (rc != SO_OK && rc != SO_E_CANCELLED)
			log_debug("leader", "watch of lease %s/%s: %s: %s", el->namespace, el->name, so_strerror(rc),
				  resp.message ? resp.message : "");
		kube_response_free(&resp);
		for (int i = 0; rc != SO_OK && i < 10 && !atomic_load(&el->stop_watch); i++) {
			struct timespec nap = { 0, 100 * 1000 * 1000 };
			nanosleep(&nap, NULL);
		}
	}
	return NULL;
}

/* ---- lifecycle ---- */

int leader_elector_start(const struct leader_elector_opts *opts, struct leader_elector **out, char *err,
			 size_t errlen)
{
	struct leader_elector *el;
	*out = NULL;
	if (!opts->client || !opts->namespace || !*opts->namespace || !opts->name || !*opts->name || !opts->identity ||
	    !*opts->identity)
		return so_fail(err, errlen, SO_E_CONFIG, "leader election needs a client, a namespace, a name and an identity");
	el = mem_calloc(1, sizeof *el);
	el->o = *opts;
	if (el->o.lease_duration_s <= 0)
		el->o.lease_duration_s = LEADER_LEASE_DURATION_S;
	if (el->o.renew_deadline_s <= 0)
		el->o.renew_deadline_s = LEADER_RENEW_DEADLINE_S;
	if (el->o.retry_period_s <= 0)
		el->o.retry_period_s = LEADER_RETRY_PERIOD_S;
	if (lease_core_init(&el->core, opts->identity, el->o.lease_duration_s, el->o.renew_deadline_s,
			    el->o.retry_period_s)) {
		free(el);
		return so_fail(err, errlen, SO_E_CONFIG, "leader election: need lease duration > renew deadline > %.1f × "
			       "retry period > 0", LEASE_JITTER);
	}
	pthread_mutex_init(&el->mu, NULL);
	el->namespace = mem_strdup(opts->namespace);
	el->name = mem_strdup(opts->name);
	el->o.identity = el->core.identity;
	el->o.namespace = el->namespace;
	el->o.name = el->name;
	el->lock = (struct lease_lock){ lock_get, lock_create, lock_update, el };
	el->seed = (unsigned int)(clock_mono_s() * 1e6) ^ (unsigned int)getpid();
	log_info("leader", "leader election: %s is trying to acquire lease %s/%s", el->o.identity, el->namespace, el->name);
	struct ticker *t = NULL;
	if (ticker_start(&t, 0, round_fn, el)) {
		leader_elector_free(el);
		return SO_E_NOMEM; /* no thread */
	}
	pthread_mutex_lock(&el->mu);
	el->ticker = t;
	pthread_mutex_unlock(&el->mu);
	el->watching = pthread_create(&el->watcher, NULL, watch_lease, el) == 0; /* without it: client-go's pace */
	*out = el;
	return SO_OK;
}

void leader_elector_stop(struct leader_elector *el, int release)
{
	if (!el)
		return;
	atomic_store(&el->stop_watch, 1); /* its stream ends within about a second; joined by leader_elector_free */
	pthread_mutex_lock(&el->mu);
	struct ticker *t = el->ticker;
	el->ticker = NULL;
	pthread_mutex_unlock(&el->mu);
	ticker_stop(t);
	set_leading(el, 0, 0); /* no write of ours may follow */
	if (release && el->core.state == LEASE_LEADING) {
		el->core.state = LEASE_LOST;
		int rc = lease_release(&el->core, &el->lock, clock_mono_s(), wall_now());
		if (rc == SO_OK)
			log_info("leader", "released lease %s/%s", el->namespace, el->name);
		else
			log_warn("leader", "could not release lease %s/%s (%s): another replica takes over when it expires",
				 el->namespace, el->name, so_strerror(rc));
	}
}

void leader_elector_free(struct leader_elector *el)
{
	if (!el)
		return;
	leader_elector_stop(el, 0);
	if (el->watching)
		pthread_join(el->watcher, NULL);
	json_decref(el->lease);
	pthread_mutex_destroy(&el->mu);
	free(el->namespace);
	free(el->name);
	free(el);
}

void leader_elector_metrics(struct leader_elector *el, struct buf *out)
{
	if (!el)
		return;
	buf_appendf(out,
		    "# HELP leader_election_master_status Gauge of if the reporting system is master of the relevant lease, "
		    "0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make "
		    "sure to group by name.\n# TYPE leader_election_master_status gauge\n"
		    "leader_election_master_status{name=\"%s\"} %d\n"
		    "# HELP leader_election_slowpath_total Total number of slow path exercised in renewing leader leases. "
		    "'name' is the string used to identify the lease. Please make sure to group by name.\n"
		    "# TYPE leader_election_slowpath_total counter\nleader_election_slowpath_total{name=\"%s\"} %lu\n",
		    el->name, leader_elector_is_leader(el), el->name, atomic_load(&el->slowpath));
}

int leader_identity(char *out, size_t len)
{
	char host[256] = "";
	unsigned char u[16];
	if (gethostname(host, sizeof host - 1) || !*host || RAND_bytes(u, sizeof u) != 1)
		return SO_E_IO;
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* variant 10 */
	int n = snprintf(out, len,
			 "%s_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", host, u[0], u[1], u[2],
			 u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return n > 0 && (size_t)n < len ? SO_OK : SO_E_IO;
}
