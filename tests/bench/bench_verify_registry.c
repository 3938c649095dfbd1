/*
 * bench_verify_registry: image signature verification figures (issue 5 §6) on the real verifier and registry
 * client against a REAL registry on loopback (distribution v3.1.1 over TLS, tests/registry/up.sh) holding
 * artifacts signed by the real cosign CLI (tests/verify/fixtures.sh). Driven by tests/bench/verify.sh.
 *
 *   bench_verify_registry -p POLICY -q POLICY_NO_CACHE [-c CA_FILE] [-U USER -P PASSWORD] [-n CACHED]
 *                         [-u UNCACHED] IMAGE...
 *
 * POLICY_NO_CACHE is POLICY with "cacheTTL: 0". For each IMAGE (a tag reference), on a new registry client:
 *   first:    one verification by a new verifier (POLICY): the HTTP requests (token requests included) of a
 *             completely cold start (no connection, no token, no memory of a missing referrers API).
 *   uncached: UNCACHED verifications by one verifier with POLICY_NO_CACHE and no tag cache, after one warm-up:
 *             every one resolves the tag and discovers and checks the signatures again, with the registry's
 *             state (connections, tokens, missing referrers API) remembered. Requests of one, latency p50/p99.
 *   cached:   CACHED verifications of the pinned form (name:tag@sha256:...) by the first verifier, which has
 *             verified it; p50/p99/max and the requests they made (should be 0).
 * One "key=value" per line on stdout, prefixed by the image's last path component. It reports and never judges
 * (targets: cached p99 <= 1 ms; <= 4 round trips for a classic signature).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static int64_t pct(const int64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static const char *g_user, *g_password;

/* The one credential of -U/-P for every image, as a pull Secret would give it. */
static int static_creds(void *ud, const char *ns, const json_t *pull_secrets, const struct image_ref *ref,
			int64_t deadline_ms, struct registry_cred **out, char *err, size_t errlen)
{
	(void)ud, (void)ns, (void)pull_secrets, (void)ref, (void)deadline_ms, (void)err, (void)errlen;
	*out = NULL;
	if (!g_user)
		return SO_OK;
	struct registry_cred c = { .username = (char *)g_user, .password = (char *)g_password };
	*out = verify_cred_dup(&c);
	return *out ? SO_OK : SO_E_NOMEM;
}

/* verify: 0 when admitted; the pinned form in pinned (when given and the verifier pinned). */
static int verify(struct verifier *v, const char *image, char *pinned, size_t pinned_len)
{
	struct verify_image_check in = { .ns = "default", .image = image };
	struct verify_image_verdict out;
	memset(&out, 0, sizeof out);
	int rc = verifier_admission(v, &in, &out);
	if (pinned && out.pinned)
		snprintf(pinned, pinned_len, "%s", out.pinned);
	free(out.pinned);
	if (rc || out.decision != VERIFY_IMAGE_ADMIT) {
		fprintf(stderr, "bench_verify_registry: %s not admitted: %s\n", image, out.message);
		return -1;
	}
	return 0;
}

static uint64_t requests(struct registry *r)
{
	struct registry_stats s;
	registry_get_stats(r, &s);
	return s.requests;
}

static int new_verifier(const char *policy, int tag_cache, struct registry *reg, struct verifier **out)
{
	char err[512] = "";
	struct verifier_opts vo = { .policy_file = policy, .policy_poll_s = 3600, .pin = 1, .timeout_ms = 8000,
				    .tag_ttl_ms = tag_cache ? 0 : -1, .backend = verify_backend_registry(reg),
				    .creds = static_creds };
	if (verifier_new(&vo, out, err, sizeof err)) {
		fprintf(stderr, "bench_verify_registry: %s\n", err);
		return -1;
	}
	return 0;
}

static struct registry *new_registry(const char *ca)
{
	char err[512] = "";
	struct registry_options ro = { .extra_ca_file = ca, .allow_private_realms = 1 };
	struct registry *r = registry_new(&ro, err, sizeof err);
	if (!r)
		fprintf(stderr, "bench_verify_registry: %s\n", err);
	return r;
}

static int bench_image(const char *policy, const char *policy_nocache, const char *ca, const char *image,
		       long uncached_n, long cached_n)
{
	const char *name = strrchr(image, '/');
	char label[96], pinned[512] = "";
	snprintf(label, sizeof label, "%s", name ? name + 1 : image);
	char *colon = strchr(label, ':');
	if (colon)
		*colon = '\0';
	int64_t *lat = calloc((size_t)(uncached_n > cached_n ? uncached_n : cached_n), sizeof *lat);
	struct registry *reg = new_registry(ca);
	struct verifier *v = NULL, *nc = NULL;
	int rc = -1;
	if (!lat || !reg || new_verifier(policy, 1, reg, &v))
		goto out;
	uint64_t before = requests(reg);
	int64_t t0 = now_us();
	if (verify(v, image, pinned, sizeof pinned))
		goto out;
	printf("%s.first_requests=%llu\n%s.first_ms=%.3f\n", label, (unsigned long long)(requests(reg) - before),
	       label, (double)(now_us() - t0) / 1000);
	if (!*pinned) {
		fprintf(stderr, "bench_verify_registry: %s was not pinned\n", image);
		goto out;
	}

	if (new_verifier(policy_nocache, 0, reg, &nc) || verify(nc, image, NULL, 0))
		goto out;
	uint64_t req = 0;
	for (long i = 0; i < uncached_n; i++) {
		before = requests(reg);
		t0 = now_us();
		if (verify(nc, image, NULL, 0))
			goto out;
		lat[i] = now_us() - t0;
		req = requests(reg) - before;
	}
	qsort(lat, (size_t)uncached_n, sizeof *lat, cmp64);
	printf("%s.uncached_requests=%llu\n%s.uncached_p50_ms=%.3f\n%s.uncached_p99_ms=%.3f\n", label,
	       (unsigned long long)req, label, (double)pct(lat, (size_t)uncached_n, 0.5) / 1000, label,
	       (double)pct(lat, (size_t)uncached_n, 0.99) / 1000);

	before = requests(reg);
	for (long i = 0; i < cached_n; i++) {
		t0 = now_us();
		if (verify(v, pinned, NULL, 0))
			goto out;
		lat[i] = now_us() - t0;
	}
	qsort(lat, (size_t)cached_n, sizeof *lat, cmp64);
	printf("%s.cached_p50_us=%lld\n%s.cached_p99_us=%lld\n%s.cached_max_us=%lld\n%s.cached_requests=%llu\n",
	       label, (long long)pct(lat, (size_t)cached_n, 0.5), label, (long long)pct(lat, (size_t)cached_n, 0.99),
	       label, (long long)lat[cached_n - 1], label, (unsigned long long)(requests(reg) - before));
	rc = 0;
out:
	verifier_free(nc);
	verifier_free(v);
	registry_free(reg);
	free(lat);
	return rc;
}

int main(int argc, char **argv)
{
	long cached_n = 20000, uncached_n = 30;
	const char *policy = NULL, *policy_nocache = NULL, *ca = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "p:q:c:U:P:n:u:")) != -1) {
		switch (opt) {
		case 'p': policy = optarg; break;
		case 'q': policy_nocache = optarg; break;
		case 'c': ca = optarg; break;
		case 'U': g_user = optarg; break;
		case 'P': g_password = optarg; break;
		case 'n': cached_n = strtol(optarg, NULL, 10); break;
		case 'u': uncached_n = strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!policy || !policy_nocache || optind >= argc || cached_n < 1 || uncached_n < 1 || uncached_n > 1000 ||
	    (g_user && !g_password)) {
		fprintf(stderr, "usage: bench_verify_registry -p POLICY -q POLICY_NO_CACHE [-c CA] [-U USER -P PASSWORD] "
				"[-n CACHED] [-u UNCACHED] IMAGE...\n");
		return 2;
	}
	log_set_level(LOG_WARN); /* one line per verification would measure the logger */
	for (int i = optind; i < argc; i++)
		if (bench_image(policy, policy_nocache, ca, argv[i], uncached_n, cached_n))
			return 1;
	return 0;
}
