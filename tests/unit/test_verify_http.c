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
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/sigfixture.h"
#include "util/err.h"
#include "verify/ocimanifest.h"
#include "verify/regbackend.h"
#include "verify/registry.h"
#include "verify/verify.h"

#define MAX_OBJ 32

struct obj {
	char repo[64], ref[128], media_type[96];
	char *body;
};

static struct obj objs[MAX_OBJ];
static int nobj;
static atomic_int http_requests;
static struct MHD_Daemon *daemon_;
static int port;
static char host[64];
static EVP_PKEY *trusted;
static char tmpdir[] = "/tmp/test_verify_http.XXXXXX";
static char policy_path[300];

static void put(const char *repo, const char *ref, const char *mt, const char *body)
{
	assert_true(nobj < MAX_OBJ);
	struct obj *o = &objs[nobj++];
	snprintf(o->repo, sizeof o->repo, "%s", repo);
	snprintf(o->ref, sizeof o->ref, "%s", ref);
	snprintf(o->media_type, sizeof o->media_type, "%s", mt);
	o->body = strdup(body);
}

static void put_digest(const char *repo, const char *tag, const char *mt, const char *body, char d[72])
{
	fx_digest(body, strlen(body), d);
	put(repo, d, mt, body);
	if (tag)
		put(repo, tag, mt, body);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
			     const char *digest)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", ctype);
	if (digest)
		MHD_add_response_header(r, "Docker-Content-Digest", digest);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)method;
	(void)version;
	(void)upload;
	(void)upload_size;
	static int first;
	if (*con_cls != &first) {
		*con_cls = &first;
		return MHD_YES;
	}
	atomic_fetch_add(&http_requests, 1);
	/* /v2/<repo>/<kind>/<ref>, repo = two components here */
	char repo[64] = "", kind[16] = "", ref[128] = "";
	const char *p = url + 4, *k = strstr(p, "/manifests/"), *b = strstr(p, "/blobs/"), *r = strstr(p, "/referrers/");
	const char *sep = k ? k : b ? b : r;
	if (strncmp(url, "/v2/", 4) || !sep)
		return reply(c, 404, "application/json", "{\"errors\":[{\"code\":\"NOT_FOUND\"}]}", NULL);
	snprintf(repo, sizeof repo, "%.*s", (int)(sep - p), p);
	snprintf(kind, sizeof kind, "%s", k ? "manifests" : b ? "blobs" : "referrers");
	snprintf(ref, sizeof ref, "%s", strchr(sep + 1, '/') + 1);
	if (!strcmp(kind, "referrers"))
		return reply(c, 404, "text/plain", "404 page not found", NULL);
	for (int i = nobj - 1; i >= 0; i--) {
		const struct obj *o = &objs[i];
		if (strcmp(o->repo, repo) || strcmp(o->ref, ref))
			continue;
		int manifest = o->media_type[0] != '\0';
		if (manifest != !strcmp(kind, "manifests"))
			continue;
		char d[72];
		fx_digest(o->body, strlen(o->body), d);
		return reply(c, 200, manifest ? o->media_type : "application/octet-stream", o->body, d);
	}
	return reply(c, 404, "application/json",
		     !strcmp(kind, "manifests") ? "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}"
						: "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"blob unknown\"}]}",
		     NULL);
}

static void push_app(const char *repo, const char *tag, const char *salt, char d[72])
{
	char body[1024];
	snprintf(body, sizeof body,
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":"
		 "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:%064d\",\"size\":2},\"layers\":[],"
		 "\"annotations\":{\"salt\":\"%s\"}}",
		 1, salt);
	put_digest(repo, tag, MT_OCI_MANIFEST, body, d);
}

static void sign_classic(const char *repo, const char *d)
{
	char *payload = fx_simple_payload(d), *sig = fx_sign_b64(trusted, payload, strlen(payload));
	char pd[72], md[72], tag[80], body[2048];
	put_digest(repo, NULL, "", payload, pd);
	snprintf(body, sizeof body,
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":"
		 "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":2},\"layers\":[{\"mediaType\":"
		 "\"" MT_SIMPLE_SIGNING "\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"" OCI_SIGNATURE_ANNOTATION
		 "\":\"%s\"}}]}",
		 pd, pd, strlen(payload), sig);
	snprintf(tag, sizeof tag, "sha256-%s.sig", d + 7);
	put_digest(repo, tag, MT_OCI_MANIFEST, body, md);
	free(payload);
	free(sig);
}

static void sign_bundle(const char *repo, const char *d)
{
	char *bundle = fx_bundle_dsse(trusted, d, "https://sigstore.dev/cosign/sign/v1");
	const char *bt = "application/vnd.dev.sigstore.bundle.v0.3+json";
	char bd[72], rd[72], tag[80], body[2048];
	put_digest(repo, NULL, "", bundle, bd);
	snprintf(body, sizeof body,
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"artifactType\":\"%s\",\"config\":{"
		 "\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"sha256:%064d\",\"size\":2},"
		 "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}],\"subject\":{\"mediaType\":\""
		 MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":1}}",
		 bt, 4, bt, bd, strlen(bundle), d);
	put_digest(repo, NULL, MT_OCI_MANIFEST, body, rd);
	snprintf(body, sizeof body,
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST
		 "\",\"artifactType\":\"%s\",\"digest\":\"%s\",\"size\":100}]}",
		 bt, rd);
	snprintf(tag, sizeof tag, "sha256-%s", d + 7);
	put(repo, tag, MT_OCI_INDEX, body);
	free(bundle);
}

static int setup(void **state)
{
	(void)state;
	trusted = fx_keygen("ec");
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handle,
				   NULL, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	assert_non_null(daemon_);
	port = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
	snprintf(host, sizeof host, "127.0.0.1:%d", port);
	assert_non_null(mkdtemp(tmpdir));
	snprintf(policy_path, sizeof policy_path, "%s/policy.yaml", tmpdir);
	char *pem = fx_pubpem(trusted);
	FILE *f = fopen(policy_path, "w");
	assert_non_null(f);
	fprintf(f, "rules:\n- name: acme\n  images: [\"127.0.0.1:*/spin/**\"]\n  keys:\n  - name: release\n"
		   "    publicKey: |\n");
	for (char *p = pem, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		fprintf(f, "      %.*s\n", (int)(nl - p), p);
	}
	fclose(f);
	free(pem);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	MHD_stop_daemon(daemon_);
	for (int i = 0; i < nobj; i++)
		free(objs[i].body);
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

static struct admission_image_verdict check(struct env *e, const char *image)
{
	struct admission_image_verdict out;
	struct admission_image_check in = { .ns = "default", .image = image };
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
	push_app("spin/app", "v1", "classic", d1);
	sign_classic("spin/app", d1);
	push_app("spin/app", "v2", "bundle", d2);
	sign_bundle("spin/app", d2);
	struct env e = env_new(host);

	snprintf(image, sizeof image, "%s/spin/app:v1", host);
	struct admission_image_verdict out = check(&e, image);
	if (out.decision != ADMISSION_IMAGE_ADMIT)
		fail_msg("classic: %s", out.message);
	snprintf(want, sizeof want, "%s@%s", image, d1);
	assert_string_equal(out.pinned, want);
	free(out.pinned);
	assert_true(reg_requests(&e) >= 4);

	/* Cached: not one HTTP request. */
	int before = atomic_load(&http_requests);
	uint64_t reqs = reg_requests(&e);
	out = check(&e, image);
	assert_int_equal(out.decision, ADMISSION_IMAGE_ADMIT);
	free(out.pinned);
	assert_int_equal(atomic_load(&http_requests), before);
	assert_int_equal(reg_requests(&e), reqs);

	snprintf(image, sizeof image, "%s/spin/app:v2", host);
	out = check(&e, image);
	if (out.decision != ADMISSION_IMAGE_ADMIT)
		fail_msg("bundle: %s", out.message);
	free(out.pinned);

	/* Unsigned. */
	char d3[72];
	push_app("spin/app", "v3", "unsigned", d3);
	snprintf(image, sizeof image, "%s/spin/app:v3", host);
	out = check(&e, image);
	assert_int_equal(out.decision, ADMISSION_IMAGE_DENY);
	snprintf(want, sizeof want, "image %s (%s) is not verified: no signatures found", image, d3);
	assert_string_equal(out.message, want);
	/* A tag that does not exist. */
	snprintf(image, sizeof image, "%s/spin/app:nope", host);
	out = check(&e, image);
	assert_int_equal(out.decision, ADMISSION_IMAGE_DENY);
	assert_non_null(strstr(out.message, "(unresolved) is not verified: registry "));
	env_free(&e);
}

struct racer {
	struct env *e;
	const char *image;
	struct admission_image_verdict out;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct admission_image_check in = { .ns = "default", .image = r->image };
	verifier_admission(r->e->v, &in, &r->out);
	return NULL;
}

static void concurrent_identical_verifications(void **state)
{
	(void)state;
	enum { N = 8 };
	char d[72], image[256];
	push_app("spin/race", "v1", "race", d);
	sign_classic("spin/race", d);
	snprintf(image, sizeof image, "%s/spin/race@%s", host, d);

	/* One verification alone: how many requests it takes. */
	struct env solo = env_new(host);
	struct admission_image_verdict out = check(&solo, image);
	assert_int_equal(out.decision, ADMISSION_IMAGE_ADMIT);
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
		assert_int_equal(r[i].out.decision, ADMISSION_IMAGE_ADMIT);
	}
	assert_int_equal(reg_requests(&e), one);
	env_free(&e);
}

static void registry_down(void **state)
{
	(void)state;
	char image[256];
	/* A port nothing listens on (the fake's, once a second daemon took and released it). */
	struct MHD_Daemon *tmp = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, NULL,
						  MHD_OPTION_END);
	assert_non_null(tmp);
	int dead = MHD_get_daemon_info(tmp, MHD_DAEMON_INFO_BIND_PORT)->port;
	MHD_stop_daemon(tmp);
	char dead_host[64];
	snprintf(dead_host, sizeof dead_host, "127.0.0.1:%d", dead);
	struct env e = env_new(dead_host);
	snprintf(image, sizeof image, "%s/spin/app:v1", dead_host);
	struct admission_image_verdict out = check(&e, image);
	assert_int_equal(out.decision, ADMISSION_IMAGE_DENY);
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
