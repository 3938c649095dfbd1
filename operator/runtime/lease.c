#include "operator/runtime/lease.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "operator/base/err.h"

int lease_core_init(struct lease_core *lc, const char *identity, double lease_duration_s, double renew_deadline_s,
		    double retry_period_s)
{
	memset(lc, 0, sizeof *lc);
	if (!(retry_period_s > 0) || !(renew_deadline_s > LEASE_JITTER * retry_period_s) ||
	    !(lease_duration_s > renew_deadline_s) || lease_duration_s > 1e6)
		return SO_E_CONFIG;
	snprintf(lc->identity, sizeof lc->identity, "%s", identity ? identity : "");
	lc->lease_duration_s = (long)lease_duration_s;
	if ((double)lc->lease_duration_s < lease_duration_s)
		lc->lease_duration_s++; /* whole seconds on the wire, never shorter than asked */
	lc->renew_deadline_s = renew_deadline_s;
	lc->retry_period_s = retry_period_s;
	lc->state = LEASE_ACQUIRING;
	return SO_OK;
}

void lease_format_time(double wall, char out[LEASE_TIME_LEN])
{
	time_t secs = (time_t)wall; /* wall > 0: truncation is floor */
	long usec = (long)((wall - (double)secs) * 1e6);
	struct tm tm;
	if (usec < 0)
		usec = 0;
	if (usec > 999999)
		usec = 999999;
	gmtime_r(&secs, &tm);
	size_t n = strftime(out, LEASE_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, LEASE_TIME_LEN - n, ".%06ldZ", usec);
}

int lease_is_leader(const struct lease_core *lc)
{
	return lc->have_observed && lc->observed.holder[0] && !strcmp(lc->observed.holder, lc->identity);
}

const char *lease_holder(const struct lease_core *lc)
{
	return lc->have_observed ? lc->observed.holder : "";
}

static int same_record(const struct lease_record *a, const struct lease_record *b)
{
	return !strcmp(a->holder, b->holder) && a->duration_s == b->duration_s &&
	       !strcmp(a->acquire_time, b->acquire_time) && !strcmp(a->renew_time, b->renew_time) &&
	       a->transitions == b->transitions;
}

static void observe(struct lease_core *lc, const struct lease_record *rec, double mono_now)
{
	lc->observed = *rec;
	lc->have_observed = 1;
	lc->observed_at = mono_now;
}

/* client-go's isLeaseValid: the observed record, counted from when we saw it, has not run out. */
static int lease_valid(const struct lease_core *lc, double mono_now)
{
	return lc->have_observed && lc->observed_at + (double)lc->observed.duration_s > mono_now;
}

int lease_try_acquire_or_renew(struct lease_core *lc, const struct lease_lock *lock, double mono_now, double wall_now)
{
	struct lease_record want = { 0 }, cur;
	snprintf(want.holder, sizeof want.holder, "%s", lc->identity);
	want.duration_s = lc->lease_duration_s;
	lease_format_time(wall_now, want.renew_time);
	memcpy(want.acquire_time, want.renew_time, sizeof want.acquire_time);

	/* 1. Fast path: the leader renews over the record it wrote last (a conflict falls to the slow path). */
	if (lease_is_leader(lc) && lease_valid(lc, mono_now)) {
		memcpy(want.acquire_time, lc->observed.acquire_time, sizeof want.acquire_time);
		want.transitions = lc->observed.transitions;
		if (lock->update(lock->ud, &want) == SO_OK) {
			observe(lc, &want, mono_now);
			return 1;
		}
	}
	/* 2. Read the lease; create it when there is none. */
	int rc = lock->get(lock->ud, &cur);
	if (rc == SO_E_API_NOT_FOUND) {
		if (lock->create(lock->ud, &want) != SO_OK)
			return 0;
		observe(lc, &want, mono_now);
		return 1;
	}
	if (rc != SO_OK)
		return 0;
	/* 3. A record that changed restarts its holder's term, on our clock. */
	if (!lc->have_observed || !same_record(&lc->observed, &cur))
		observe(lc, &cur, mono_now);
	int leader = lease_is_leader(lc);
	if (cur.holder[0] && lease_valid(lc, mono_now) && !leader)
		return 0;
	/* 4. Ours to take (free, expired) or to keep (we hold it). */
	if (leader) {
		memcpy(want.acquire_time, cur.acquire_time, sizeof want.acquire_time);
		want.transitions = cur.transitions;
		lc->slowpath++;
	} else {
		want.transitions = cur.transitions + 1;
	}
	if (lock->update(lock->ud, &want) != SO_OK)
		return 0;
	observe(lc, &want, mono_now);
	return 1;
}

int lease_release(struct lease_core *lc, const struct lease_lock *lock, double mono_now, double wall_now)
{
	struct lease_record rel = { 0 };
	if (!lease_is_leader(lc))
		return SO_OK;
	rel.duration_s = 1;
	rel.transitions = lc->observed.transitions;
	lease_format_time(wall_now, rel.renew_time);
	memcpy(rel.acquire_time, rel.renew_time, sizeof rel.acquire_time);
	int rc = lock->update(lock->ud, &rel);
	if (rc == SO_OK)
		observe(lc, &rel, mono_now);
	return rc;
}

struct lease_step lease_round(struct lease_core *lc, const struct lease_lock *lock, double (*mono_now)(void *),
			      double (*wall_now)(void *), void *clock_ud, double jitter01)
{
	struct lease_step st = { lc->retry_period_s, 0, 0 };
	double retry = lc->retry_period_s, now;

	if (lc->state == LEASE_LOST) {
		st.sleep_s = 3600; /* nothing left to do: the process is on its way out */
		return st;
	}
	int held = lease_try_acquire_or_renew(lc, lock, mono_now(clock_ud), wall_now(clock_ud));
	now = mono_now(clock_ud);
	if (lc->state == LEASE_ACQUIRING) {
		if (!held) {
			st.sleep_s = retry * (1 + LEASE_JITTER * jitter01);
			/* Someone holds it: look again right when their term runs out (counted from when we saw the
			 * record change, as client-go counts it), not up to a jittered retry later. */
			if (lc->have_observed && lc->observed.holder[0]) {
				double expiry_in = lc->observed_at + (double)lc->observed.duration_s - now + LEASE_EXPIRY_SLACK_S;
				if (expiry_in > 0 && expiry_in < st.sleep_s)
					st.sleep_s = expiry_in;
			}
			return st;
		}
		lc->state = LEASE_LEADING;
		lc->renew_until = now + retry + lc->renew_deadline_s;
		st.started = 1;
		return st;
	}
	if (held && now < lc->renew_until) {
		lc->renew_until = now + retry + lc->renew_deadline_s;
		return st;
	}
	/* Someone else holds it (our term ran out unseen, or the Lease was edited): stop now, not at the deadline. */
	if (now < lc->renew_until && !(lc->observed.holder[0] && !lease_is_leader(lc))) {
		/* try again, and once more right at the deadline */
		double left = lc->renew_until - now;
		st.sleep_s = left < retry ? left : retry;
		return st;
	}
	lc->state = LEASE_LOST;
	st.lost = 1;
	st.sleep_s = 3600;
	return st;
}
