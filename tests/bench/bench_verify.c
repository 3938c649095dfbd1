/*
 * bench_verify: image signature verification figures (issue 5 §6), on the real verifier and registry client
 * against the in-process registry of tests/support/ocifake.c (plain HTTP on loopback, no referrers API, like
 * distribution).
 *
 *   bench_verify [-n CACHED_ITERATIONS] [-u UNCACHED_IMAGES]
 *
 * Prints, on stdout, one key=value per line:
 *   cached_p50_us, cached_p99_us, cached_max_us   a verification answered from the cache (same pinned image)
 *   uncached_classic_requests_first                HTTP requests of the first classic verification of a registry
 *   uncached_classic_requests                      … of later ones (the missing referrers API is remembered)
 *   uncached_bundle_requests                       … of a cosign v3 bundle verification (fallback tag)
 *   uncached_p50_ms, uncached_p99_ms               latency of uncached classic verifications (tag references)
 * It reports and never judges (targets: cached p99 ≤ 1 ms; ≤ 4 round trips for a classic signature).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/ocifake.h"
#include "support/sigfixture.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "webhook/verify/regbackend.h"
#include "webhook/verify/registry.h"
#include "webhook/verify/verifier.h"

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int64_t pct(int64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static int verify(struct verifier *v, const char *image)
{
	struct verify_image_check in = { .ns = "default", .image = image };
	struct verify_image_verdict out;
	int rc = verifier_admission(v, &in, &out);
	free(out.pinned);
	if (rc || out.decision != VERIFY_IMAGE_ADMIT) {
		fprintf(stderr, "bench_verify: %s not admitted: %s\n", image, out.message);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long cached_n = 20000, uncached_n = 50;
	int opt;
	while ((opt = getopt(argc, argv, "n:u:")) != -1) {
		if (opt == 'n')
			cached_n = strtol(optarg, NULL, 10);
		else if (opt == 'u')
			uncached_n = strtol(optarg, NULL, 10);
		else
			return 2;
	}
	if (cached_n < 1 || uncached_n < 2 || uncached_n > 100)
		return 2;
	log_set_level(LOG_WARN); /* one line per verification would measure the logger */

	EVP_PKEY *key = fx_keygen("ec");
	char dir[] = "/tmp/bench_verify.XXXXXX", policy[300], host[64], image[256], d[72];
	int port = ocifake_start();
	if (!port || !mkdtemp(dir))
		return 1;
	snprintf(host, sizeof host, "127.0.0.1:%d", port);
	snprintf(policy, sizeof policy, "%s/policy.yaml", dir);
	char *pem = fx_pubpem(key);
	FILE *f = fopen(policy, "w");
	if (!f)
		return 1;
	fprintf(f, "rules:\n- name: bench\n  images: [\"**\"]\n  keys:\n  - name: k\n    publicKey: |\n");
	fx_fprint_indented(f, pem, "      ");
	fclose(f);
	free(pem);

	for (long i = 0; i < uncached_n; i++) {
		char tag[32], salt[32];
		snprintf(tag, sizeof tag, "v%ld", i);
		snprintf(salt, sizeof salt, "s%ld", i);
		ocifake_push_app("spin/app", tag, salt, d);
		ocifake_sign_classic("spin/app", d, key, d);
	}
	ocifake_push_app("spin/bundle", "v1", "b", d);
	ocifake_sign_bundle("spin/bundle", d, key, d);

	const char *insecure[] = { host, NULL };
	struct registry_options ro = { .insecure = insecure };
	char err[512] = "";
	struct registry *reg = registry_new(&ro, err, sizeof err);
	struct verifier *v = NULL;
	if (!reg)
		return 1;
	struct verifier_opts vo = { .policy_file = policy, .policy_poll_s = 3600, .pin = 1, .timeout_ms = 8000,
				    .backend = verify_backend_registry(reg) };
	if (verifier_new(&vo, &v, err, sizeof err)) {
		fprintf(stderr, "bench_verify: %s\n", err);
		return 1;
	}

	/* Uncached classic verifications by tag. */
	int64_t *lat = calloc((size_t)(uncached_n > cached_n ? uncached_n : cached_n), sizeof *lat);
	int req_first = 0, req_later = 0;
	for (long i = 0; i < uncached_n; i++) {
		int before = ocifake_requests();
		snprintf(image, sizeof image, "%s/spin/app:v%ld", host, i);
		int64_t t0 = now_us();
		if (verify(v, image))
			return 1;
		lat[i] = now_us() - t0;
		if (i == 0)
			req_first = ocifake_requests() - before;
		else
			req_later = ocifake_requests() - before;
	}
	qsort(lat, (size_t)uncached_n, sizeof *lat, cmp64);
	printf("uncached_classic_requests_first=%d\nuncached_classic_requests=%d\n", req_first, req_later);
	printf("uncached_p50_ms=%.3f\nuncached_p99_ms=%.3f\n", (double)pct(lat, (size_t)uncached_n, 0.5) / 1000,
	       (double)pct(lat, (size_t)uncached_n, 0.99) / 1000);

	int before = ocifake_requests();
	snprintf(image, sizeof image, "%s/spin/bundle:v1", host);
	if (verify(v, image))
		return 1;
	printf("uncached_bundle_requests=%d\n", ocifake_requests() - before);

	/* Cached: the pinned form of the first image (no tag resolution either). */
	snprintf(image, sizeof image, "%s/spin/bundle@%s", host, d);
	if (verify(v, image))
		return 1;
	before = ocifake_requests();
	for (long i = 0; i < cached_n; i++) {
		int64_t t0 = now_us();
		if (verify(v, image))
			return 1;
		lat[i] = now_us() - t0;
	}
	qsort(lat, (size_t)cached_n, sizeof *lat, cmp64);
	printf("cached_p50_us=%lld\ncached_p99_us=%lld\ncached_max_us=%lld\ncached_requests=%d\n",
	       (long long)pct(lat, (size_t)cached_n, 0.5), (long long)pct(lat, (size_t)cached_n, 0.99),
	       (long long)lat[cached_n - 1], ocifake_requests() - before);

	free(lat);
	verifier_free(v);
	registry_free(reg);
	ocifake_stop();
	EVP_PKEY_free(key);
	unlink(policy);
	rmdir(dir);
	return 0;
}
