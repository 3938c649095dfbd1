/* operator/base/prom.c: the histogram's buckets (inclusive upper bounds, cumulative on output, +Inf equal to
 * _count), its sum, the label and HELP escaping, and how values are spelled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/prom.h"

static void histogram_exposition(void **state)
{
	(void)state;
	static const double bounds[] = { 0.1, 1, 2.5 };
	struct prom_histogram h;
	struct buf out = BUF_INIT(1 << 16);

	prom_histogram_init(&h, bounds, 3);
	prom_histogram_observe(&h, 0.05);
	prom_histogram_observe(&h, 0.1); /* le is inclusive */
	prom_histogram_observe(&h, 2);
	prom_histogram_observe(&h, 7);
	prom_histogram_observe(&h, NAN); /* ignored */
	assert_int_equal(prom_histogram_count(&h), 4);
	assert_int_equal(prom_histogram_write(&out, "x_seconds", "controller=\"spinapp\"", &h), SO_OK);
	assert_string_equal(out.data, "x_seconds_bucket{controller=\"spinapp\",le=\"0.1\"} 2\n"
				      "x_seconds_bucket{controller=\"spinapp\",le=\"1\"} 2\n"
				      "x_seconds_bucket{controller=\"spinapp\",le=\"2.5\"} 3\n"
				      "x_seconds_bucket{controller=\"spinapp\",le=\"+Inf\"} 4\n"
				      "x_seconds_sum{controller=\"spinapp\"} 9.15\n"
				      "x_seconds_count{controller=\"spinapp\"} 4\n");
	buf_reset(&out);
	prom_histogram_init(&h, bounds, 3);
	assert_int_equal(prom_histogram_write(&out, "y", NULL, &h), SO_OK);
	assert_string_equal(out.data, "y_bucket{le=\"0.1\"} 0\ny_bucket{le=\"1\"} 0\ny_bucket{le=\"2.5\"} 0\n"
				      "y_bucket{le=\"+Inf\"} 0\ny_sum 0\ny_count 0\n");
	buf_free(&out);
}

/* The upstream bucket sets, written as controller-runtime writes their le labels. */
static void upstream_buckets(void **state)
{
	(void)state;
	struct prom_histogram h;
	struct buf out = BUF_INIT(1 << 16);
	prom_histogram_init(&h, prom_buckets_reconcile, PROM_NBUCKETS_RECONCILE);
	prom_histogram_observe(&h, 0.3);
	assert_int_equal(prom_histogram_write(&out, "r", "", &h), SO_OK);
	assert_non_null(strstr(out.data, "r_bucket{le=\"0.005\"} 0\n"));
	assert_non_null(strstr(out.data, "r_bucket{le=\"0.25\"} 0\nr_bucket{le=\"0.3\"} 1\n"));
	assert_non_null(strstr(out.data, "r_bucket{le=\"60\"} 1\nr_bucket{le=\"+Inf\"} 1\n"));
	buf_reset(&out);
	prom_histogram_init(&h, prom_buckets_workqueue, PROM_NBUCKETS_WORKQUEUE);
	assert_int_equal(prom_histogram_write(&out, "w", "", &h), SO_OK);
	assert_non_null(strstr(out.data, "w_bucket{le=\"1e-08\"} 0\nw_bucket{le=\"1e-07\"} 0\n"));
	assert_non_null(strstr(out.data, "w_bucket{le=\"1000\"} 0\nw_bucket{le=\"+Inf\"} 0\n"));
	buf_free(&out);
}

static void *observer(void *arg)
{
	for (int i = 0; i < 10000; i++)
		prom_histogram_observe(arg, 0.5);
	return NULL;
}

/* Observations from several threads lose nothing (counts and sum). */
static void concurrent_observations(void **state)
{
	(void)state;
	struct prom_histogram h;
	pthread_t t[4];
	prom_histogram_init(&h, prom_buckets_default, PROM_NBUCKETS_DEFAULT);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, observer, &h), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	struct buf out = BUF_INIT(1 << 16);
	assert_int_equal(prom_histogram_count(&h), 40000);
	assert_int_equal(prom_histogram_write(&out, "c", "", &h), SO_OK);
	assert_non_null(strstr(out.data, "c_bucket{le=\"0.25\"} 0\nc_bucket{le=\"0.5\"} 40000\n"));
	assert_non_null(strstr(out.data, "c_sum 20000\nc_count 40000\n"));
	buf_free(&out);
}

static void escaping_and_values(void **state)
{
	(void)state;
	struct buf out = BUF_INIT(4096);
	assert_int_equal(prom_escape(&out, "a\\b\"c\nd"), SO_OK);
	assert_string_equal(out.data, "a\\\\b\\\"c\\nd");
	buf_reset(&out);
	assert_int_equal(prom_escape(&out, NULL), SO_OK);
	assert_int_equal(out.len, 0);
	assert_int_equal(prom_family(&out, "m_total", "counter", "two\nlines \\ \"quoted\""), SO_OK);
	assert_string_equal(out.data, "# HELP m_total two\\nlines \\\\ \"quoted\"\n# TYPE m_total counter\n");
	buf_reset(&out);
	double v[] = { 0, 42, -3, 0.1, 1796461812.34, 7.3163900003692106e-4, INFINITY, -INFINITY, NAN, 1e20 };
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		assert_int_equal(prom_append_value(&out, v[i]), SO_OK);
		buf_appends(&out, " ");
	}
	assert_string_equal(out.data, "0 42 -3 0.1 1796461812.34 0.0007316390000369211 +Inf -Inf NaN 1e+20 ");
	buf_free(&out);
}

/* A full buffer is reported, not silently cut. */
static void too_large(void **state)
{
	(void)state;
	struct prom_histogram h;
	struct buf out = BUF_INIT(64);
	prom_histogram_init(&h, prom_buckets_reconcile, PROM_NBUCKETS_RECONCILE);
	assert_int_equal(prom_histogram_write(&out, "r", "", &h), SO_E_TOO_LARGE);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(histogram_exposition),
		cmocka_unit_test(upstream_buckets),
		cmocka_unit_test(concurrent_observations),
		cmocka_unit_test(escaping_and_values),
		cmocka_unit_test(too_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
