/*
 * The verifier on the real registry client (regbackend.c + registry.c over libcurl) against an in-process
 * HTTP registry (libmicrohttpd) that serves what distribution does: manifests with Content-Type and
 * Docker-Content-Digest (HEAD and GET), blobs, no referrers API (404), so the sha256-<hex> fallback tag is
 * used. Cases: a classic signature and a v3 bundle admitted and pinned, an unsigned image denied, a registry
 * that is down denied, a cache hit without any HTTP request, and eight concurrent identical verifications
 * sharing one set of requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "support/ocifake.h"
#include "support/sigfixture.h"
#include "operator/base/err.h"
#include "webhook/verify/ocimanifest.h"
#include "webhook/verify/regbackend.h"
#include "webhook/verify/registry.h"
#include "webhook/verify/verifier.h"

static int port;
static char host[64];
static EVP_PKEY *trusted;
static char tmpdir[] = "/tmp/test_verify_http.XXXXXX";
static char policy_path[300];

static int setup(void **state)
{
	(void)state;
	trusted = fx_keygen("ec");
	port = ocifake_start();
	assert_int_not_equal(port, 0);
	snprintf(host, sizeof host, "127.0.0.1:%d", port);
	assert_non_null(mkdtemp(tmpdir));
	snprintf(policy_path, sizeof policy_path, "%s/policy.yaml", tmpdir);
	char *pem = fx_pubpem(trusted);
	FILE *f = fopen(policy_path, "w");
	assert_non_null(f);
	fprintf(f, "rules:\n- name: acme\n  images: [\"127.0.0.1:*/spin/**\"]\n  keys:\n  - name: release\n"
		   "    publicKey: |\n");
	fx_fprint_indented(f, pem, "      ");
	fclose(f);
	free(pem);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ocifake_stop();
	EVP_PKEY_free(trusted);
	unlink(policy_path);
	rmdir(tmpdir);
	return 0;
}

struct env {
	struct registry *reg;
	struct verifier *v;
};

static struct env env_new(const char *insecure_host)
{
	static const char *insecure[2];
	struct env e;
	char err[512] = "";
	insecure[0] = insecure_host;
	insecure[1] = NULL;
	struct registry_options ro = { .insecure = insecure, .allow_private_realms = 1, .connect_timeout_ms = 500 };
	e.reg = registry_new(&ro, err, sizeof err);
	if (!e.reg)
		fail_msg("registry_new: %s", err);
	struct verifier_opts vo = { .policy_file = policy_path, .policy_poll_s = 3600, .pin = 1, .timeout_ms = 3000,
				    .backend = verify_backend_registry(e.reg) };
	if (verifier_new(&vo, &e.v, err, sizeof err))
		fail_msg("verifier_new: %s", err);
	return e;
}

static void env_free(struct env *e)
{
	verifier_free(e->v);
	registry_free(e->reg);
}

static struct verify_image_verdict check(struct env *e, const char *image)
{
	struct verify_image_verdict out;
	struct verify_image_check in = { .ns = "default", .image = image };
	assert_int_equal(verifier_admission(e->v, &in, &out), SO_OK);
	return out;
}

static uint64_t reg_requests(struct env *e)
{
	struct registry_stats st;
	registry_get_stats(e->reg, &st);
	return st.requests;
}

static void classic_and_bundle_over_http(void **state)
{
	(void)state;
	char d1[72], d2[72], image[256], want[512];
	ocifake_push_app("spin/app", "v1", "classic", d1);
	ocifake_sign_classic("spin/app", d1, trusted, d1);
	ocifake_push_app("spin/app", "v2", "bundle", d2);
	ocifake_sign_bundle("spin/app", d2, trusted, d2);
	struct env e = env_new(host);

	snprintf(image, sizeof image, "%s/spin/app:v1", host);
	struct verify_image_verdict out = check(&e, image);
	if (out.decision != VERIFY_IMAGE_ADMIT)
		fail_msg("classic: %s", out.message);
	snprintf(want, sizeof want, "%s@%s", image, d1);
	assert_string_equal(out.pinned, want);
	free(out.pinned);
	assert_true(reg_requests(&e) >= 4);

	/* Cached: not one HTTP request. */
	int before = ocifake_requests();
	uint64_t reqs = reg_requests(&e);
	out = check(&e, image);
	assert_int_equal(out.decision, VERIFY_IMAGE_ADMIT);
	free(out.pinned);
	assert_int_equal(ocifake_requests(), before);
	assert_int_equal(reg_requests(&e), reqs);

	snprintf(image, sizeof image, "%s/spin/app:v2", host);
	out = check(&e, image);
	if (out.decision != VERIFY_IMAGE_ADMIT)
		fail_msg("bundle: %s", out.message);
	free(out.pinned);

	/* Unsigned. */
	char d3[72];
	ocifake_push_app("spin/app", "v3", "unsigned", d3);
	snprintf(image, sizeof image, "%s/spin/app:v3", host);
	out = check(&e, image);
	assert_int_equal(out.decision, VERIFY_IMAGE_DENY);
	snprintf(want, sizeof want, "image %s (%s) is not verified: no signatures found", image, d3);
	assert_string_equal(out.message, want);
	/* A tag that does not exist. */
	snprintf(image, sizeof image, "%s/spin/app:nope", host);
	out = check(&e, image);
	assert_int_equal(out.decision, VERIFY_IMAGE_DENY);
	assert_non_null(strstr(out.message, "(unresolved) is not verified: registry "));
	env_free(&e);
}

struct racer {
	struct env *e;
	const char *image;
	struct verify_image_verdict out;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct verify_image_check in = { .ns = "default", .image = r->image };
	verifier_admission(r->e->v, &in, &r->out);
	return NULL;
}

static void concurrent_identical_verifications(void **state)
{
	(void)state;
	enum { N = 8 };
	char d[72], image[256];
	ocifake_push_app("spin/race", "v1", "race", d);
	ocifake_sign_classic("spin/race", d, trusted, d);
	snprintf(image, sizeof image, "%s/spin/race@%s", host, d);

	/* One verification alone: how many requests it takes. */
	struct env solo = env_new(host);
	struct verify_image_verdict out = check(&solo, image);
	assert_int_equal(out.decision, VERIFY_IMAGE_ADMIT);
	uint64_t one = reg_requests(&solo);
	env_free(&solo);

	/* Eight at once on a fresh verifier: at most that many in total (shared or cached, never repeated). */
	struct env e = env_new(host);
	struct racer r[N];
	pthread_t t[N];
	for (int i = 0; i < N; i++) {
		r[i] = (struct racer){ .e = &e, .image = image };
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].out.decision, VERIFY_IMAGE_ADMIT);
	}
	assert_int_equal(reg_requests(&e), one);
	env_free(&e);
}

static void registry_down(void **state)
{
	(void)state;
	char image[256];
	/* A port nothing listens on (bound, then released). */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	int dead = ntohs(sa.sin_port);
	close(fd);
	char dead_host[64];
	snprintf(dead_host, sizeof dead_host, "127.0.0.1:%d", dead);
	struct env e = env_new(dead_host);
	snprintf(image, sizeof image, "%s/spin/app:v1", dead_host);
	struct verify_image_verdict out = check(&e, image);
	assert_int_equal(out.decision, VERIFY_IMAGE_DENY);
	if (!strstr(out.message, "(unresolved) is not verified: registry 127.0.0.1:") || !strstr(out.message, "unreachable"))
		fail_msg("%s", out.message);
	env_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classic_and_bundle_over_http),
		cmocka_unit_test(concurrent_identical_verifications),
		cmocka_unit_test(registry_down),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
