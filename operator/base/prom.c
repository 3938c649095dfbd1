#include "operator/base/prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"

const double prom_buckets_reconcile[PROM_NBUCKETS_RECONCILE] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5,
	1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
};
const double prom_buckets_workqueue[PROM_NBUCKETS_WORKQUEUE] = {
	1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000,
};
const double prom_buckets_rest_client[PROM_NBUCKETS_REST_CLIENT] = {
	0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0,
};
const double prom_buckets_default[PROM_NBUCKETS_DEFAULT] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static uint64_t bits_of(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	return u;
}

static double double_of(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof d);
	return d;
}

void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t nbounds)
{
	h->bounds = bounds;
	h->nbounds = nbounds > PROM_MAX_BUCKETS ? PROM_MAX_BUCKETS : nbounds;
	for (size_t i = 0; i <= PROM_MAX_BUCKETS; i++)
		atomic_init(&h->counts[i], 0);
	atomic_init(&h->sum_bits, bits_of(0.0));
}

void prom_histogram_observe(struct prom_histogram *h, double v)
{
	size_t lo = 0, hi = h->nbounds;
	if (isnan(v))
		return;
	/* the first bound >= v (le is inclusive); hi == nbounds is the +Inf bucket */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v <= h->bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	atomic_fetch_add_explicit(&h->counts[lo], 1, memory_order_relaxed);
	uint64_t old = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &old, bits_of(double_of(old) + v),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

unsigned long prom_histogram_count(const struct prom_histogram *h)
{
	unsigned long n = 0;
	for (size_t i = 0; i <= h->nbounds; i++)
		n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
	return n;
}

int prom_family(struct buf *out, const char *name, const char *type, const char *help)
{
	int rc = buf_appendf(out, "# HELP %s ", name);
	/* HELP text escapes backslash and newline (not quotes) */
	for (const char *p = help; rc == SO_OK && *p; p++) {
		if (*p == '\\')
			rc = buf_appends(out, "\\\\");
		else if (*p == '\n')
			rc = buf_appends(out, "\\n");
		else
			rc = buf_append(out, p, 1);
	}
	return rc ? rc : buf_appendf(out, "\n# TYPE %s %s\n", name, type);
}

int prom_escape(struct buf *out, const char *value)
{
	int rc = SO_OK;
	const char *p = value ? value : "", *run = p;
	for (; rc == SO_OK && *p; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
		if (!esc)
			continue;
		if ((rc = buf_append(out, run, (size_t)(p - run))) == SO_OK)
			rc = buf_appends(out, esc);
		run = p + 1;
	}
	return rc ? rc : buf_append(out, run, (size_t)(p - run));
}

int prom_append_value(struct buf *out, double v)
{
	if (isnan(v))
		return buf_appends(out, "NaN");
	if (isinf(v))
		return buf_appends(out, v > 0 ? "+Inf" : "-Inf");
	if (v > -1e15 && v < 1e15 && (double)(long long)v == v)
		return buf_appendf(out, "%lld", (long long)v);
	/* the shortest form that reads back as the same double, as Go's FormatFloat(v, 'g', -1, 64) writes it */
	char tmp[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	return buf_appends(out, tmp);
}

int prom_histogram_write(struct buf *out, const char *name, const char *labels, const struct prom_histogram *h)
{
	const char *sep = labels && *labels ? "," : "";
	unsigned long cum = 0;
	int rc = SO_OK;

	if (!labels)
		labels = "";
	for (size_t i = 0; rc == SO_OK && i <= h->nbounds; i++) {
		cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
		if (i < h->nbounds)
			rc = buf_appendf(out, "%s_bucket{%s%sle=\"%g\"} %lu\n", name, labels, sep, h->bounds[i], cum);
		else
			rc = buf_appendf(out, "%s_bucket{%s%sle=\"+Inf\"} %lu\n", name, labels, sep, cum);
	}
	if (rc == SO_OK)
		rc = buf_appendf(out, "%s_sum%s%s%s ", name, *labels ? "{" : "", labels, *labels ? "}" : "");
	if (rc == SO_OK)
		rc = prom_append_value(out, double_of(atomic_load_explicit(&h->sum_bits, memory_order_relaxed)));
	if (rc == SO_OK)
		rc = buf_appendf(out, "\n%s_count%s%s%s %lu\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", cum);
	return rc;
}
