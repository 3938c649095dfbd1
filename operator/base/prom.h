/*
 * The Prometheus text exposition (format 0.0.4), the one home for writing /metrics: family headers, label
 * values escaped as the format requires, and a histogram whose observations are lock-free and allocate
 * nothing (atomic per-bucket counters and an atomic sum), so a hot path can observe it freely.
 *
 * A histogram keeps non-cumulative counts per bucket plus one for +Inf; prom_histogram_write makes them
 * cumulative and writes _count as their total, so every scrape is self-consistent (+Inf bucket == _count)
 * even while other threads observe. Bucket bounds are a static array the caller owns (controller-runtime's
 * and client-go's sets are below).
 */
#ifndef SO_UTIL_PROM_H
#define SO_UTIL_PROM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "operator/base/buf.h"

#define PROM_MAX_BUCKETS 40 /* the largest set below (controller-runtime's reconcile time) */

/* controller-runtime's controller_runtime_reconcile_time_seconds buckets (40). */
extern const double prom_buckets_reconcile[];
#define PROM_NBUCKETS_RECONCILE 40
/* controller-runtime's workqueue histograms: ExponentialBuckets(10e-9, 10, 12), 1e-8 … 1e3 s. */
extern const double prom_buckets_workqueue[];
#define PROM_NBUCKETS_WORKQUEUE 12
/* client-go's rest_client_request_duration_seconds buckets. */
extern const double prom_buckets_rest_client[];
#define PROM_NBUCKETS_REST_CLIENT 12
/* Prometheus' default buckets (controller-runtime's webhook latency). */
extern const double prom_buckets_default[];
#define PROM_NBUCKETS_DEFAULT 11

struct prom_histogram {
	const double *bounds;                        /* ascending upper bounds, not including +Inf */
	size_t nbounds;                              /* <= PROM_MAX_BUCKETS */
	atomic_ulong counts[PROM_MAX_BUCKETS + 1];   /* per bucket (not cumulative); [nbounds] is +Inf */
	_Atomic uint64_t sum_bits;                   /* the sum of observations, as a double's bits */
};

/* Sets up h with the given bounds (nbounds is clamped to PROM_MAX_BUCKETS) and zero counts. */
void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t nbounds);
/* Counts one observation (NaN is ignored). Thread-safe, lock-free, no allocation. */
void prom_histogram_observe(struct prom_histogram *h, double v);
/* Observations so far (the sum of the bucket counts). */
unsigned long prom_histogram_count(const struct prom_histogram *h);

/* "# HELP name help\n# TYPE name type\n"; type is counter, gauge or histogram. help is escaped. */
int prom_family(struct buf *out, const char *name, const char *type, const char *help);

/* Appends a label value escaped for the format (backslash, double quote and newline). */
int prom_escape(struct buf *out, const char *value);

/*
 * The _bucket, _sum and _count lines of one histogram series. labels is the series' label list without
 * braces, already escaped (`controller="spinapp"`), or "" / NULL for none.
 */
int prom_histogram_write(struct buf *out, const char *name, const char *labels, const struct prom_histogram *h);

/* A sample value as the format writes it: integers without a fraction, +Inf/-Inf/NaN spelled out. */
int prom_append_value(struct buf *out, double v);

#endif
