/* operator/runtime/lease.c: client-go's leader election rounds against an in-memory Lease with resourceVersion
 * concurrency and a fake clock: acquire, renew, a held lease, expired-holder takeover on the local clock, the
 * renew deadline (lost), another holder seen (lost at once), release, a conflict between two candidates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "operator/runtime/lease.h"
#include "operator/base/err.h"

/* The API server's Lease. */
struct server {
	int exists;
	struct lease_record rec;
	long rv;
	int fail; /* non-zero: every request fails with this */
	int creates, updates;
};

/* One replica's view: the resourceVersion it last read or wrote, and the clock. */
struct replica {
	struct server *srv;
	long rv;
	struct lease_core lc;
	struct lease_lock lock;
	double mono, wall;
	void (*before_update)(struct replica *r); /* runs once, right before the next update */
};

static int fake_get(void *ud, struct lease_record *out)
{
	struct replica *r = ud;
	if (r->srv->fail)
		return r->srv->fail;
	if (!r->srv->exists)
		return SO_E_API_NOT_FOUND;
	*out = r->srv->rec;
	r->rv = r->srv->rv;
	return SO_OK;
}

static int fake_create(void *ud, const struct lease_record *rec)
{
	struct replica *r = ud;
	if (r->srv->fail)
		return r->srv->fail;
	if (r->srv->exists)
		return SO_E_API_ALREADY_EXISTS;
	r->srv->exists = 1;
	r->srv->rec = *rec;
	r->rv = ++r->srv->rv;
	r->srv->creates++;
	return SO_OK;
}

static int fake_update(void *ud, const struct lease_record *rec)
{
	struct replica *r = ud;
	if (r->before_update) {
		void (*f)(struct replica *) = r->before_update;
		r->before_update = NULL;
		f(r);
	}
	if (r->srv->fail)
		return r->srv->fail;
	if (!r->srv->exists || r->rv != r->srv->rv)
		return SO_E_API_CONFLICT;
	r->srv->rec = *rec;
	r->rv = ++r->srv->rv;
	r->srv->updates++;
	return SO_OK;
}

static double clock_mono(void *ud)
{
	return ((struct replica *)ud)->mono;
}

static double clock_wall(void *ud)
{
	return ((struct replica *)ud)->wall;
}

static void replica_init(struct replica *r, struct server *srv, const char *id)
{
	memset(r, 0, sizeof *r);
	r->srv = srv;
	assert_int_equal(lease_core_init(&r->lc, id, 15, 10, 2), SO_OK);
	r->lock = (struct lease_lock){ fake_get, fake_create, fake_update, r };
	r->mono = 1000;
	r->wall = 1.7e9;
}

static struct lease_step round_at(struct replica *r, double mono)
{
	r->wall += mono - r->mono;
	r->mono = mono;
	return lease_round(&r->lc, &r->lock, clock_mono, clock_wall, r, 0.5);
}

static void test_init_checks_timings(void **state)
{
	(void)state;
	struct lease_core lc;
	assert_int_equal(lease_core_init(&lc, "a", 15, 10, 2), SO_OK);
	assert_int_equal(lc.lease_duration_s, 15);
	assert_int_equal(lc.state, LEASE_ACQUIRING);
	assert_int_equal(lease_core_init(&lc, "a", 10, 10, 2), SO_E_CONFIG);  /* lease must exceed the deadline */
	assert_int_equal(lease_core_init(&lc, "a", 15, 2.4, 2), SO_E_CONFIG); /* deadline must exceed 1.2 × retry */
	assert_int_equal(lease_core_init(&lc, "a", 15, 10, 0), SO_E_CONFIG);
	assert_int_equal(lease_core_init(&lc, "a", 14.5, 10, 2), SO_OK);
	assert_int_equal(lc.lease_duration_s, 15); /* whole seconds, rounded up */
}

static void test_format_time(void **state)
{
	(void)state;
	char t[LEASE_TIME_LEN];
	lease_format_time(0, t);
	assert_string_equal(t, "1970-01-01T00:00:00.000000Z");
	lease_format_time(1700000000.25, t);
	assert_string_equal(t, "2023-11-14T22:13:20.250000Z");
}

static void test_acquire_creates_then_renews(void **state)
{
	(void)state;
	struct server srv = { 0 };
	struct replica a;
	replica_init(&a, &srv, "a_1");

	struct lease_step st = round_at(&a, 1000);
	assert_true(st.started);
	assert_false(st.lost);
	assert_true(st.sleep_s == 2);
	assert_int_equal(srv.creates, 1);
	assert_string_equal(srv.rec.holder, "a_1");
	assert_int_equal(srv.rec.duration_s, 15);
	assert_int_equal(srv.rec.transitions, 0);
	assert_string_equal(srv.rec.acquire_time, srv.rec.renew_time);
	assert_true(lease_is_leader(&a.lc));
	char acquired[LEASE_TIME_LEN];
	memcpy(acquired, srv.rec.acquire_time, sizeof acquired);

	/* renewals: the fast path (one update, no read), acquireTime and transitions kept, renewTime moves */
	st = round_at(&a, 1002);
	assert_false(st.started);
	assert_false(st.lost);
	assert_int_equal(srv.updates, 1);
	assert_string_equal(srv.rec.acquire_time, acquired);
	assert_string_not_equal(srv.rec.renew_time, acquired);
	assert_int_equal(srv.rec.transitions, 0);
	assert_int_equal(a.lc.slowpath, 0);
	assert_true(a.lc.renew_until == 1002 + 2 + 10);
}

static void test_held_lease_is_not_taken(void **state)
{
	(void)state;
	struct server srv = { 0 };
	struct replica a, b;
	replica_init(&a, &srv, "a_1");
	replica_init(&b, &srv, "b_2");
	assert_true(round_at(&a, 1000).started);

	/* b tries with jitter: retry × (1 + 1.2 × 0.5) = 3.2 s; a renews every 2 s: b never gets it */
	for (double t = 1000; t < 1060; t += 2) {
		struct lease_step sb = round_at(&b, t + 0.5);
		assert_false(sb.started);
		assert_true(sb.sleep_s > 3.19 && sb.sleep_s < 3.21);
		assert_false(round_at(&a, t + 2).lost);
	}
	assert_false(lease_is_leader(&b.lc));
	assert_string_equal(lease_holder(&b.lc), "a_1");
	assert_string_equal(srv.rec.holder, "a_1");
}

static void test_expired_holder_is_taken_over_on_the_local_clock(void **state)
{
	(void)state;
	struct server srv = { 0 };
	struct replica a, b;
	replica_init(&a, &srv, "a_1");
	replica_init(&b, &srv, "b_2");
	assert_true(round_at(&a, 1000).started);
	/* a dies. Its renewTime says the far future: validity is counted from when b saw the record, not from it. */
	strcpy(srv.rec.renew_time, "2999-01-01T00:00:00.000000Z");
	srv.rv++;

	b.mono = 5000; /* b's monotonic clock has nothing in common with a's */
	assert_false(round_at(&b, 5000).started);  /* first seen at 5000 */
	assert_false(round_at(&b, 5014.9).started); /* 15 s not over */
	struct lease_step st = round_at(&b, 5015.1);
	assert_true(st.started);
	assert_string_equal(srv.rec.holder, "b_2");
	assert_int_equal(srv.rec.transitions, 1);
	assert_string_equal(srv.rec.acquire_time, srv.rec.renew_time);

	/* a comes back (a pause, not a death): its fast path conflicts, it reads b's lease and stops at once */
	st = round_at(&a, 1020);
	assert_true(st.lost);
	assert_int_equal(a.lc.state, LEASE_LOST);
	assert_false(lease_is_leader(&a.lc));
	assert_string_equal(srv.rec.holder, "b_2");
	assert_true(round_at(&a, 1030).sleep_s >= 3600); /* lost for good */
	assert_string_equal(srv.rec.holder, "b_2");
}

/* A standby does not wait a jittered retry past the holder's term: its next look comes right when the term it
 * observed runs out, and it takes the lease then (a killed leader is replaced lease duration after the standby
 * last saw a renewal; the elector's Lease watch makes that the renewal itself). */
static void test_standby_looks_again_when_the_term_runs_out(void **state)
{
	(void)state;
	struct server srv = { 0 };
	struct replica a, b;
	replica_init(&a, &srv, "a_1");
	replica_init(&b, &srv, "b_2");
	assert_true(round_at(&a, 1000).started);
	struct lease_step st = round_at(&b, 1001); /* first seen at 1001: expires at 1016 on b's clock */
	assert_false(st.started);
	assert_true(st.sleep_s > 3.19 && st.sleep_s < 3.21); /* the jittered retry is sooner */
	st = round_at(&b, 1013.5);
	assert_false(st.started);
	assert_true(st.sleep_s > 2.54 && st.sleep_s < 2.56); /* 1016 + 0.05 - 1013.5, not 3.2 */
	st = round_at(&b, 1013.5 + st.sleep_s);
	assert_true(st.started);
	assert_string_equal(srv.rec.holder, "b_2");
}

static void test_renew_deadline_loses_leadership(void **state)
{
	(void)state;
	struct server srv = { 0 };
	struct replica a;
	replica_init(&a, &srv, "a_1");
	assert_true(round_at(&a, 1000).started);
	assert_false(round_at(&a, 1002).lost); /* renewed at 1002: lost from 1002 + 2 + 10 = 1014 on */

	srv.fail = SO_E_TRANSPORT; /* the API server is gone */
	struct lease_step st = round_at(&a, 1004);
	assert_false(st.lost);
	assert_true(st.sleep_s == 2);
	assert_false(round_at(&a, 1010).lost);
	st = round_at(&a, 1013);
	assert_false(st.lost);
	assert_true(st.sleep_s > 0.99 && st.sleep_s < 1.01); /* the last try is right at the deadline */
	st = round_at(&a, 1014);
	assert_true(st.lost);
	assert_int_equal(a.lc.state, LEASE_LOST);

	/* a renewal that only succeeds after the deadline does not bring leadership back */
	struct replica c;
	replica_init(&c, &srv, "c_3");
	srv.fail = 0;
	srv.exists = 0;
	assert_true(round_at(&c, 1000).started);
	st = round_at(&c, 1013); /* 13 s after the last renewal: past 1000 + 12 even though the update works */
	assert_true(st.lost);
}

static void test_release_hands_over_at_once(void **state)
{
	(void)state;
	struct server srv = { 0 };
	struct replica a, b;
	replica_init(&a, &srv, "a_1");
	replica_init(&b, &srv, "b_2");
	assert_true(round_at(&a, 1000).started);
	assert_false(round_at(&b, 1000.5).started);
	assert_false(round_at(&a, 1002).lost);

	assert_int_equal(lease_release(&a.lc, &a.lock, 1003, a.wall + 3), SO_OK);
	assert_string_equal(srv.rec.holder, "");
	assert_int_equal(srv.rec.duration_s, 1);
	assert_int_equal(srv.rec.transitions, 0);
	assert_false(lease_is_leader(&a.lc));
	assert_int_equal(lease_release(&a.lc, &a.lock, 1004, a.wall + 4), SO_OK); /* not the holder: nothing to do */
	assert_int_equal(srv.updates, 2);

	/* b's next try takes the free lease, well before a's 15 s would have run out */
	struct lease_step st = round_at(&b, 1003.5);
	assert_true(st.started);
	assert_string_equal(srv.rec.holder, "b_2");
	assert_int_equal(srv.rec.duration_s, 15);
	assert_int_equal(srv.rec.transitions, 1);
}

static struct replica *rival;

static void rival_takes_it(struct replica *r)
{
	(void)r;
	assert_true(round_at(rival, rival->mono + 1).started);
}

static void test_two_candidates_one_wins(void **state)
{
	(void)state;
	struct server srv = { 0 };
	struct replica a, b;
	replica_init(&a, &srv, "a_1");
	replica_init(&b, &srv, "b_2");
	/* a free (released) lease both see */
	srv.exists = 1;
	srv.rv = 7;
	srv.rec.duration_s = 1;
	/* between b's read and b's write, a takes the lease: b's write carries a stale resourceVersion */
	rival = &a;
	b.before_update = rival_takes_it;
	struct lease_step st = round_at(&b, 1000);
	assert_false(st.started);
	assert_string_equal(srv.rec.holder, "a_1");
	assert_int_equal(srv.rec.transitions, 1);
	assert_false(lease_is_leader(&b.lc));
	assert_int_equal(b.lc.state, LEASE_ACQUIRING);
	/* and b's next round sees a's valid lease */
	assert_false(round_at(&b, 1003).started);
	assert_string_equal(lease_holder(&b.lc), "a_1");
}

static void test_read_errors_are_not_leadership(void **state)
{
	(void)state;
	struct server srv = { .fail = SO_E_API_FORBIDDEN };
	struct replica a;
	replica_init(&a, &srv, "a_1");
	struct lease_step st = round_at(&a, 1000);
	assert_false(st.started);
	assert_true(st.sleep_s > 3.19 && st.sleep_s < 3.21);
	assert_int_equal(srv.creates, 0);
	assert_string_equal(lease_holder(&a.lc), "");
	srv.fail = 0;
	assert_true(round_at(&a, 1003.2).started);
}

static void test_slow_path_renewal_is_counted(void **state)
{
	(void)state;
	struct server srv = { 0 };
	struct replica a;
	replica_init(&a, &srv, "a_1");
	assert_true(round_at(&a, 1000).started);
	/* someone touches the Lease (a label, say): our resourceVersion is stale, the fast path conflicts */
	srv.rv++;
	struct lease_step st = round_at(&a, 1002);
	assert_false(st.lost);
	assert_int_equal(a.lc.slowpath, 1);
	assert_string_equal(srv.rec.holder, "a_1");
	assert_true(lease_is_leader(&a.lc));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_checks_timings),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_acquire_creates_then_renews),
		cmocka_unit_test(test_held_lease_is_not_taken),
		cmocka_unit_test(test_expired_holder_is_taken_over_on_the_local_clock),
		cmocka_unit_test(test_standby_looks_again_when_the_term_runs_out),
		cmocka_unit_test(test_renew_deadline_loses_leadership),
		cmocka_unit_test(test_release_hands_over_at_once),
		cmocka_unit_test(test_two_candidates_one_wins),
		cmocka_unit_test(test_read_errors_are_not_leadership),
		cmocka_unit_test(test_slow_path_renewal_is_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
