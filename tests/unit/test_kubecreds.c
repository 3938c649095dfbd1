/*
 * webhook/verify/kubecreds.c behind its get seam (a fake API): every read gets what is left of the
 * verification's deadline and none is sent once it has passed; the cache is keyed by namespace and name,
 * expires, remembers missing objects, never keeps failures, and stays within its size. The same code against
 * the real API server: tests/integration/test_kubecreds.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "webhook/verify/kubecreds.h"
#include "operator/kube/imageref.h"
#include "webhook/verify/vcache.h"
#include "webhook/verify/verifier.h"

#define MAX_CALLS 64

struct fake {
	int calls;
	char paths[MAX_CALLS][256];
	long timeouts[MAX_CALLS];
	int fail;  /* answer every read with this so_err */
};

/* A dockerconfigjson Secret for registry.example.com with user <ns>-<name>. */
static json_t *secret(const char *ns, const char *name)
{
	char cfg[512], plain[128];
	unsigned char b64cfg[1024], b64auth[256];
	snprintf(plain, sizeof plain, "%s-%s:pw", ns, name);
	EVP_EncodeBlock(b64auth, (const unsigned char *)plain, (int)strlen(plain));
	snprintf(cfg, sizeof cfg, "{\"auths\":{\"registry.example.com\":{\"auth\":\"%s\"}}}", b64auth);
	EVP_EncodeBlock(b64cfg, (const unsigned char *)cfg, (int)strlen(cfg));
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Secret", "metadata",
			 "name", name, "namespace", ns, "type", "kubernetes.io/dockerconfigjson", "data",
			 ".dockerconfigjson", b64cfg);
}

/* Secrets named "missing" and every ServiceAccount do not exist; any other Secret does. */
static int fake_get(void *ud, const char *path, long timeout_ms, json_t **out, char *msg, size_t msglen)
{
	struct fake *f = ud;
	char ns[64], kind[32], name[64];
	if (f->calls < MAX_CALLS) {
		snprintf(f->paths[f->calls], sizeof f->paths[0], "%s", path);
		f->timeouts[f->calls] = timeout_ms;
	}
	f->calls++;
	*out = NULL;
	if (f->fail) {
		snprintf(msg, msglen, "forbidden by the fake");
		return f->fail;
	}
	if (sscanf(path, "/api/v1/namespaces/%63[^/]/%31[^/]/%63s", ns, kind, name) != 3)
		fail_msg("unexpected path %s", path);
	if (strcmp(kind, "secrets") || !strcmp(name, "missing")) {
		snprintf(msg, msglen, "not found");
		return SO_E_API_NOT_FOUND;
	}
	*out = secret(ns, name);
	/* "big-<n>" Secrets carry n KiB more data: the cache's byte bounds */
	if (!strncmp(name, "big-", 4)) {
		size_t kib = strtoul(name + 4, NULL, 10), n = kib << 10;
		char *pad = malloc(n + 1);
		if (!pad)
			fail_msg("out of memory");
		memset(pad, 'A', n);
		pad[n] = '\0';
		json_object_set_new(json_object_get(*out, "data"), "padding", json_string(pad));
		free(pad);
	}
	return SO_OK;
}

static int64_t now_ms;
static int64_t fake_clock(void *ud)
{
	(void)ud;
	return now_ms;
}

/* The user found for registry.example.com ("" = none); the lookup's status code. */
static int lookup(struct kubecreds *kc, const char *ns, const char *pull_secrets, int64_t deadline, char *user,
		  size_t n)
{
	struct image_ref ref;
	struct registry_cred *cred = NULL;
	char err[256] = "";
	json_t *ps = json_loads(pull_secrets, 0, NULL);
	assert_non_null(ps);
	assert_int_equal(image_ref_parse("registry.example.com/acme/app:v1", &ref, err, sizeof err), SO_OK);
	int rc = kubecreds_lookup(kc, ns, ps, &ref, deadline, &cred, err, sizeof err);
	if (rc)
		assert_true(*err != '\0');
	snprintf(user, n, "%s", cred && cred->username ? cred->username : "");
	verify_cred_free(cred);
	image_ref_free(&ref);
	json_decref(ps);
	return rc;
}

static void reads_share_the_deadline(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct kubecreds kc = { .get = fake_get, .get_ud = &f };
	char user[64];

	int64_t deadline = clock_mono_ms() + 3000;
	assert_int_equal(lookup(&kc, "a", "[{\"name\": \"missing\"}, {\"name\": \"pull\"}]", deadline, user, sizeof user),
			 SO_OK);
	assert_string_equal(user, "a-pull");
	assert_int_equal(f.calls, 3); /* two Secrets, the default ServiceAccount */
	assert_string_equal(f.paths[0], "/api/v1/namespaces/a/secrets/missing");
	assert_string_equal(f.paths[2], "/api/v1/namespaces/a/serviceaccounts/default");
	for (int i = 0; i < f.calls; i++)
		assert_true(f.timeouts[i] > 0 && f.timeouts[i] <= 3000);

	/* Past the deadline: nothing is read, the caller hears why. */
	f.calls = 0;
	assert_int_equal(lookup(&kc, "a", "[{\"name\": \"pull\"}]", clock_mono_ms() - 1, user, sizeof user),
			 SO_E_TIMEOUT);
	assert_int_equal(f.calls, 0);
	assert_string_equal(user, "");
}

static void cache_keys_expiry_and_failures(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct kubecreds kc = { .get = fake_get, .get_ud = &f,
				.cache = kubecreds_cache_new(5000, 0, fake_clock, NULL) };
	char user[64];
	int64_t deadline = clock_mono_ms() + 60000;
	now_ms = 100;

	assert_int_equal(lookup(&kc, "a", "[{\"name\": \"pull\"}, {\"name\": \"missing\"}]", deadline, user, sizeof user),
			 SO_OK);
	assert_string_equal(user, "a-pull");
	assert_int_equal(f.calls, 3);
	/* Cached, missing ones included. */
	assert_int_equal(lookup(&kc, "a", "[{\"name\": \"pull\"}, {\"name\": \"missing\"}]", deadline, user, sizeof user),
			 SO_OK);
	assert_string_equal(user, "a-pull");
	assert_int_equal(f.calls, 3);
	/* The same name in another namespace is another entry. */
	assert_int_equal(lookup(&kc, "b", "[{\"name\": \"pull\"}]", deadline, user, sizeof user), SO_OK);
	assert_string_equal(user, "b-pull");
	assert_int_equal(f.calls, 5);
	assert_int_equal(kubecreds_cache_size(kc.cache), 5);
	/* A cached lookup needs no time: it succeeds even past the deadline. */
	assert_int_equal(lookup(&kc, "b", "[{\"name\": \"pull\"}]", clock_mono_ms() - 1, user, sizeof user), SO_OK);
	assert_string_equal(user, "b-pull");
	/* Expiry: everything is read again. */
	now_ms += 5000;
	assert_int_equal(lookup(&kc, "a", "[{\"name\": \"pull\"}]", deadline, user, sizeof user), SO_OK);
	assert_int_equal(f.calls, 7);
	assert_int_equal(kubecreds_cache_size(kc.cache), 2); /* the expired ones are gone */
	/* A failure is returned and not cached. */
	now_ms += 5000;
	f.fail = SO_E_API_FORBIDDEN;
	assert_int_equal(lookup(&kc, "a", "[{\"name\": \"pull\"}]", deadline, user, sizeof user), SO_E_API_FORBIDDEN);
	assert_int_equal(kubecreds_cache_size(kc.cache), 0);
	f.fail = 0;
	int before = f.calls;
	assert_int_equal(lookup(&kc, "a", "[{\"name\": \"pull\"}]", deadline, user, sizeof user), SO_OK);
	assert_string_equal(user, "a-pull");
	assert_int_equal(f.calls, before + 2);
	kubecreds_cache_free(kc.cache);
}

static void cache_is_bounded(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct kubecreds kc = { .get = fake_get, .get_ud = &f, .cache = kubecreds_cache_new(5000, 4, fake_clock, NULL) };
	char user[64], ns[16];
	int64_t deadline = clock_mono_ms() + 60000;
	now_ms = 0;
	for (int i = 0; i < 20; i++) {
		now_ms++;
		snprintf(ns, sizeof ns, "ns%d", i);
		assert_int_equal(lookup(&kc, ns, "[{\"name\": \"pull\"}]", deadline, user, sizeof user), SO_OK);
		char want[32];
		snprintf(want, sizeof want, "%s-pull", ns);
		assert_string_equal(user, want);
		assert_true(kubecreds_cache_size(kc.cache) <= 4);
	}
	/* The newest namespace is still cached; the first long evicted. */
	int before = f.calls;
	assert_int_equal(lookup(&kc, "ns19", "[{\"name\": \"pull\"}]", deadline, user, sizeof user), SO_OK);
	assert_int_equal(f.calls, before);
	assert_int_equal(lookup(&kc, "ns0", "[{\"name\": \"pull\"}]", deadline, user, sizeof user), SO_OK);
	assert_int_equal(f.calls, before + 2);
	kubecreds_cache_free(kc.cache);
}

/* Bytes: an object over KUBECREDS_ENTRY_BYTES is never kept; together the entries stay within
 * KUBECREDS_CACHE_BYTES, the entries nearest expiry making room. */
static void cache_bytes_are_bounded(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct kubecreds kc = { .get = fake_get, .get_ud = &f, .cache = kubecreds_cache_new(5000, 0, fake_clock, NULL) };
	char user[64], ns[16];
	int64_t deadline = clock_mono_ms() + 60000;
	now_ms = 0;

	assert_int_equal(lookup(&kc, "a", "[{\"name\": \"big-65\"}]", deadline, user, sizeof user), SO_OK);
	assert_string_equal(user, "a-big-65");
	assert_int_equal(kubecreds_cache_size(kc.cache), 1); /* the ServiceAccount only */
	int before = f.calls;
	assert_int_equal(lookup(&kc, "a", "[{\"name\": \"big-65\"}]", deadline, user, sizeof user), SO_OK);
	assert_int_equal(f.calls, before + 1);

	/* 60 Secrets of 40 KiB: about 2.4 MiB, more than the cache takes. */
	for (int i = 0; i < 60; i++) {
		now_ms++;
		snprintf(ns, sizeof ns, "b%d", i);
		assert_int_equal(lookup(&kc, ns, "[{\"name\": \"big-40\"}]", deadline, user, sizeof user), SO_OK);
	}
	/* A Secret and a ServiceAccount per namespace: at most 2 MiB / 40 KiB namespaces' worth, and no fewer than
	 * the bytes require. */
	size_t n = kubecreds_cache_size(kc.cache);
	assert_true(n <= 2 * (KUBECREDS_CACHE_BYTES / (40 << 10)) && n >= 80);
	before = f.calls;
	assert_int_equal(lookup(&kc, "b59", "[{\"name\": \"big-40\"}]", deadline, user, sizeof user), SO_OK);
	assert_int_equal(f.calls, before); /* the newest is still there */
	assert_int_equal(lookup(&kc, "b0", "[{\"name\": \"big-40\"}]", deadline, user, sizeof user), SO_OK);
	assert_int_equal(f.calls, before + 2); /* the oldest namespace's were evicted */
	kubecreds_cache_free(kc.cache);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_share_the_deadline),
		cmocka_unit_test(cache_keys_expiry_and_failures),
		cmocka_unit_test(cache_is_bounded),
		cmocka_unit_test(cache_bytes_are_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
