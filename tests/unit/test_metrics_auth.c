/* operator/runtime/metrics_auth.c behind a fake review backend and a fake clock: the 401/403/allow decisions, the
 * user passed from the TokenReview to the SubjectAccessReview, caching for the TTL keyed by token, path and
 * verb, the bound on entries, and failures that are never cached. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "operator/runtime/metrics_auth.h"
#include "operator/base/err.h"

static double fake_now;
static double fake_clock(void)
{
	return fake_now;
}

/* Tokens "good-<n>" authenticate as user "u<n>", allowed when n is even; "down" makes the API fail. */
struct fake {
	int token_reviews, access_reviews;
	int fail, fail_sar;
	char last_user[64], last_path[64], last_verb[16];
	json_t *last_groups;
};

static int fake_token_review(void *ud, const char *token, int *authenticated, json_t **user)
{
	struct fake *f = ud;
	f->token_reviews++;
	*authenticated = 0;
	*user = NULL;
	if (f->fail)
		return SO_E_TRANSPORT;
	if (strncmp(token, "good-", 5) != 0)
		return SO_OK;
	*authenticated = 1;
	*user = json_pack("{s:s,s:s,s:[s,s],s:{s:[s]}}", "username", "", "uid", "1234", "groups", "system:serviceaccounts",
			  "system:authenticated", "extra", "k", "v");
	char name[32];
	snprintf(name, sizeof name, "u%s", token + 5);
	json_object_set_new(*user, "username", json_string(name));
	return SO_OK;
}

static int fake_access_review(void *ud, const json_t *user, const char *path, const char *verb, int *allowed)
{
	struct fake *f = ud;
	f->access_reviews++;
	snprintf(f->last_user, sizeof f->last_user, "%s", json_string_value(json_object_get(user, "username")));
	snprintf(f->last_path, sizeof f->last_path, "%s", path);
	snprintf(f->last_verb, sizeof f->last_verb, "%s", verb);
	json_decref(f->last_groups);
	f->last_groups = json_incref(json_object_get(user, "groups"));
	if (f->fail || f->fail_sar)
		return SO_E_TIMEOUT;
	const char *name = json_string_value(json_object_get(user, "username"));
	*allowed = name && (name[strlen(name) - 1] - '0') % 2 == 0;
	return SO_OK;
}

static struct metrics_auth *new_auth(struct fake *f, size_t max)
{
	struct metrics_auth_backend be = { fake_token_review, fake_access_review, f };
	struct metrics_auth_opts o = { .ttl_s = 10, .max_entries = max, .now = fake_clock };
	fake_now = 100;
	return metrics_auth_new(&be, &o);
}

static void decisions(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct metrics_auth *a = new_auth(&f, 16);
	char user[64];

	assert_int_equal(metrics_auth_check(a, NULL, "/metrics", "get", user, sizeof user), METRICS_AUTH_NO_TOKEN);
	assert_int_equal(metrics_auth_check(a, "Basic Zm9vOmJhcg==", "/metrics", "get", user, sizeof user),
			 METRICS_AUTH_NO_TOKEN);
	assert_int_equal(metrics_auth_check(a, "Bearer ", "/metrics", "get", user, sizeof user), METRICS_AUTH_NO_TOKEN);
	assert_int_equal(f.token_reviews, 0); /* no token, no review */

	assert_int_equal(metrics_auth_check(a, "Bearer garbage", "/metrics", "get", user, sizeof user),
			 METRICS_AUTH_UNAUTHENTICATED);
	assert_int_equal(f.access_reviews, 0);

	assert_int_equal(metrics_auth_check(a, "bearer good-2", "/metrics", "get", user, sizeof user), METRICS_AUTH_ALLOWED);
	assert_string_equal(user, "u2");
	assert_string_equal(f.last_user, "u2");
	assert_string_equal(f.last_path, "/metrics");
	assert_string_equal(f.last_verb, "get");
	assert_int_equal(json_array_size(f.last_groups), 2); /* the TokenReview's user goes to the SubjectAccessReview */

	assert_int_equal(metrics_auth_check(a, "Bearer good-3", "/metrics", "get", user, sizeof user), METRICS_AUTH_DENIED);
	assert_string_equal(user, "u3");

	/* an over-long token is refused without asking */
	static char huge[METRICS_AUTH_MAX_TOKEN + 32];
	memcpy(huge, "Bearer ", 7);
	memset(huge + 7, 'a', METRICS_AUTH_MAX_TOKEN + 8);
	int before = f.token_reviews;
	assert_int_equal(metrics_auth_check(a, huge, "/metrics", "get", user, sizeof user), METRICS_AUTH_UNAUTHENTICATED);
	assert_int_equal(f.token_reviews, before);
	json_decref(f.last_groups);
	metrics_auth_free(a);
}

static void cached_for_the_ttl(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct metrics_auth *a = new_auth(&f, 16);
	struct metrics_auth_stats st;

	assert_int_equal(metrics_auth_check(a, "Bearer good-2", "/metrics", "get", NULL, 0), METRICS_AUTH_ALLOWED);
	assert_int_equal(metrics_auth_check(a, "Bearer garbage", "/metrics", "get", NULL, 0), METRICS_AUTH_UNAUTHENTICATED);
	assert_int_equal(metrics_auth_check(a, "Bearer good-3", "/metrics", "get", NULL, 0), METRICS_AUTH_DENIED);
	assert_int_equal(f.token_reviews, 3);
	fake_now += 9.9;
	char user[64];
	assert_int_equal(metrics_auth_check(a, "Bearer good-2", "/metrics", "get", user, sizeof user), METRICS_AUTH_ALLOWED);
	assert_string_equal(user, "u2"); /* the cached entry keeps the name for messages */
	assert_int_equal(metrics_auth_check(a, "Bearer garbage", "/metrics", "get", NULL, 0), METRICS_AUTH_UNAUTHENTICATED);
	assert_int_equal(metrics_auth_check(a, "Bearer good-3", "/metrics", "get", NULL, 0), METRICS_AUTH_DENIED);
	assert_int_equal(f.token_reviews, 3);
	assert_int_equal(f.access_reviews, 2);
	/* another verb or path is another decision */
	assert_int_equal(metrics_auth_check(a, "Bearer good-2", "/metrics", "head", NULL, 0), METRICS_AUTH_ALLOWED);
	assert_int_equal(f.token_reviews, 4);
	metrics_auth_get_stats(a, &st);
	assert_int_equal(st.hits, 3);
	assert_int_equal(st.misses, 4);
	assert_int_equal(st.entries, 4);

	fake_now += 0.2; /* past the TTL of the first three */
	assert_int_equal(metrics_auth_check(a, "Bearer good-2", "/metrics", "get", NULL, 0), METRICS_AUTH_ALLOWED);
	assert_int_equal(f.token_reviews, 5);
	json_decref(f.last_groups);
	metrics_auth_free(a);
}

static void failures_are_not_cached(void **state)
{
	(void)state;
	struct fake f = { .fail = 1 };
	struct metrics_auth *a = new_auth(&f, 16);
	assert_int_equal(metrics_auth_check(a, "Bearer good-2", "/metrics", "get", NULL, 0), METRICS_AUTH_ERROR);
	assert_int_equal(metrics_auth_check(a, "Bearer good-2", "/metrics", "get", NULL, 0), METRICS_AUTH_ERROR);
	assert_int_equal(f.token_reviews, 2);
	f.fail = 0;
	assert_int_equal(metrics_auth_check(a, "Bearer good-2", "/metrics", "get", NULL, 0), METRICS_AUTH_ALLOWED);
	/* a failing SubjectAccessReview is an error too (not cached), and the user is named for the message */
	f.fail_sar = 1;
	char user[64];
	assert_int_equal(metrics_auth_check(a, "Bearer good-4", "/metrics", "get", user, sizeof user), METRICS_AUTH_ERROR);
	assert_string_equal(user, "u4");
	f.fail_sar = 0;
	assert_int_equal(metrics_auth_check(a, "Bearer good-4", "/metrics", "get", NULL, 0), METRICS_AUTH_ALLOWED);
	assert_int_equal(f.access_reviews, 3);
	json_decref(f.last_groups);
	metrics_auth_free(a);
}

/* At most max_entries are kept; a full cache drops the entry closest to expiry. */
static void bounded(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct metrics_auth *a = new_auth(&f, 4);
	struct metrics_auth_stats st;
	char tok[32];
	for (int i = 0; i < 10; i++) {
		snprintf(tok, sizeof tok, "Bearer good-%d", i);
		fake_now += 0.1;
		assert_int_equal(metrics_auth_check(a, tok, "/metrics", "get", NULL, 0),
				 i % 2 ? METRICS_AUTH_DENIED : METRICS_AUTH_ALLOWED);
	}
	metrics_auth_get_stats(a, &st);
	assert_int_equal(st.entries, 4);
	int reviews = f.token_reviews;
	/* the four newest (6..9) are cached, the oldest were dropped */
	assert_int_equal(metrics_auth_check(a, "Bearer good-9", "/metrics", "get", NULL, 0), METRICS_AUTH_DENIED);
	assert_int_equal(metrics_auth_check(a, "Bearer good-6", "/metrics", "get", NULL, 0), METRICS_AUTH_ALLOWED);
	assert_int_equal(f.token_reviews, reviews);
	assert_int_equal(metrics_auth_check(a, "Bearer good-0", "/metrics", "get", NULL, 0), METRICS_AUTH_ALLOWED);
	assert_int_equal(f.token_reviews, reviews + 1);
	json_decref(f.last_groups);
	metrics_auth_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decisions),
		cmocka_unit_test(cached_for_the_ttl),
		cmocka_unit_test(failures_are_not_cached),
		cmocka_unit_test(bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
