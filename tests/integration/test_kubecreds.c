/*
 * Registry credentials for image verification read through the kube client from the real kube-apiserver
 * (webhook/verify/kubecreds.c): the SpinApp's imagePullSecrets, the namespace's default ServiceAccount's
 * imagePullSecrets and the operator-wide Secret, looked up per registry; missing Secrets and invalid names
 * skipped. Each run works in its own namespaces.
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
#include <unistd.h>

#include "operator/kube/api.h"
#include "operator/kube/loadconfig.h"
#include "operator/kube/client.h"
#include "operator/kube/config.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "webhook/verify/kubecreds.h"
#include "operator/kube/imageref.h"
#include "webhook/verify/vcache.h"
#include "webhook/verify/verifier.h"

struct fixture {
	struct kube_config cfg;
	struct kube_client *c;
	char ns[64], global_ns[64];
};

/* A kubernetes.io/dockerconfigjson Secret for one registry. */
static void make_secret(struct kube_client *c, const char *ns, const char *name, const char *registry,
			const char *user)
{
	char cfg[512], auth_plain[128];
	unsigned char b64cfg[1024], b64auth[256];
	snprintf(auth_plain, sizeof auth_plain, "%s:pw-%s", user, user);
	EVP_EncodeBlock(b64auth, (const unsigned char *)auth_plain, (int)strlen(auth_plain));
	snprintf(cfg, sizeof cfg, "{\"auths\":{\"%s\":{\"auth\":\"%s\"}}}", registry, b64auth);
	EVP_EncodeBlock(b64cfg, (const unsigned char *)cfg, (int)strlen(cfg));
	json_t *s = json_pack("{s:s, s:s, s:{s:s}, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Secret", "metadata", "name",
			      name, "type", "kubernetes.io/dockerconfigjson", "data", ".dockerconfigjson", b64cfg);
	int rc = kube_create(c, &KUBE_SECRETS, ns, s, NULL, NULL);
	json_decref(s);
	if (rc)
		fail_msg("create Secret %s/%s: %s", ns, name, so_strerror(rc));
}

static void make_namespace(struct kube_client *c, const char *ns)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", ns);
	int rc = kube_create(c, &KUBE_NAMESPACES, NULL, o, NULL, NULL);
	json_decref(o);
	if (rc)
		fail_msg("create namespace %s: %s", ns, so_strerror(rc));
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[512] = "";
	if (!f || kube_config_load(NULL, NULL, &f->cfg, err, sizeof err)) {
		fprintf(stderr, "config: %s\n", err);
		return -1;
	}
	struct kube_client_opts o;
	kube_client_opts_default(&o);
	o.qps = 0;
	if (kube_client_new(&f->cfg, &o, &f->c, err, sizeof err)) {
		fprintf(stderr, "client: %s\n", err);
		return -1;
	}
	static int run; /* each test its own namespaces: the previous ones may still be terminating */
	run++;
	snprintf(f->ns, sizeof f->ns, "kc-%ld-%d", (long)getpid(), run);
	snprintf(f->global_ns, sizeof f->global_ns, "kc-op-%ld-%d", (long)getpid(), run);
	make_namespace(f->c, f->ns);
	make_namespace(f->c, f->global_ns);
	make_secret(f->c, f->ns, "regcred", "127.0.0.1:5000", "app");
	make_secret(f->c, f->ns, "sa-cred", "sa.example.com", "sa");
	make_secret(f->c, f->global_ns, "global", "global.example.com", "global");
	/* The default ServiceAccount: made by the controller-manager when it runs, so created or patched here. */
	char path[256];
	json_t *sa = json_pack("{s:s, s:s, s:{s:s}, s:[{s:s}, {s:s}]}", "apiVersion", "v1", "kind", "ServiceAccount",
			       "metadata", "name", "default", "imagePullSecrets", "name", "sa-cred", "name", "absent");
	snprintf(path, sizeof path, "/api/v1/namespaces/%s/serviceaccounts", f->ns);
	int rc = kube_send_json(f->c, "POST", path, "application/json", sa, NULL, NULL);
	if (rc == SO_E_API_ALREADY_EXISTS) {
		snprintf(path, sizeof path, "/api/v1/namespaces/%s/serviceaccounts/default", f->ns);
		rc = kube_send_json(f->c, "PATCH", path, "application/merge-patch+json", sa, NULL, NULL);
	}
	json_decref(sa);
	if (rc) {
		fprintf(stderr, "default ServiceAccount: %s\n", so_strerror(rc));
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	kube_delete(f->c, &KUBE_NAMESPACES, NULL, f->ns, NULL, NULL);
	kube_delete(f->c, &KUBE_NAMESPACES, NULL, f->global_ns, NULL, NULL);
	kube_client_free(f->c);
	kube_config_free(&f->cfg);
	free(f);
	return 0;
}

/* The username kc finds for image in ns with the given pull secrets ("" = anonymous). */
static void lookup_with(struct fixture *f, struct kubecreds *kc, const char *image, const char *pull_secrets_json,
			char *user, size_t n)
{
	struct image_ref ref;
	struct registry_cred *cred = NULL;
	char err[512] = "";
	json_t *ps = pull_secrets_json ? json_loads(pull_secrets_json, 0, NULL) : NULL;
	assert_int_equal(image_ref_parse(image, &ref, err, sizeof err), SO_OK);
	int rc = kubecreds_lookup(kc, f->ns, ps, &ref, clock_mono_ms() + 10000, &cred, err, sizeof err);
	if (rc)
		fail_msg("kubecreds_lookup: %s", err);
	snprintf(user, n, "%s", cred && cred->username ? cred->username : "");
	if (cred)
		assert_non_null(cred->password);
	verify_cred_free(cred);
	image_ref_free(&ref);
	json_decref(ps);
}

/* The same without a cache, with or without the operator-wide Secret. */
static void lookup(struct fixture *f, const char *image, const char *pull_secrets_json, int global, char *user,
		   size_t n)
{
	struct kubecreds kc = { .client = f->c, .secret_ns = global ? f->global_ns : NULL,
				.secret_name = global ? "global" : NULL };
	lookup_with(f, &kc, image, pull_secrets_json, user, n);
}

static unsigned long gets(struct kube_client *c)
{
	struct kube_client_stats st;
	kube_client_get_stats(c, &st);
	return st.requests[KUBE_GET];
}

static int64_t fake_now;
static int64_t fake_clock(void *ud)
{
	(void)ud;
	return fake_now;
}

/* A cached lookup reads nothing until the entries expire; a deleted Secret is then seen as gone (and that is
 * cached too). A lookup whose deadline has passed sends nothing. */
static void cached_and_bounded(void **state)
{
	struct fixture *f = *state;
	char user[64], err[256];
	struct kubecreds kc = { .client = f->c, .cache = kubecreds_cache_new(5000, 8, fake_clock, NULL) };
	assert_non_null(kc.cache);
	fake_now = 1000;

	unsigned long before = gets(f->c);
	lookup_with(f, &kc, "127.0.0.1:5000/spin/app:v1", "[{\"name\": \"regcred\"}]", user, sizeof user);
	assert_string_equal(user, "app");
	unsigned long first = gets(f->c) - before;
	assert_true(first >= 2); /* the Secret and the default ServiceAccount, at least */
	assert_int_equal(kubecreds_cache_size(kc.cache), first);

	before = gets(f->c);
	lookup_with(f, &kc, "127.0.0.1:5000/spin/app:v1", "[{\"name\": \"regcred\"}]", user, sizeof user);
	assert_string_equal(user, "app");
	assert_int_equal(gets(f->c) - before, 0);

	assert_int_equal(kube_delete(f->c, &KUBE_SECRETS, f->ns, "regcred", NULL, NULL), SO_OK);
	fake_now += 4999;
	lookup_with(f, &kc, "127.0.0.1:5000/spin/app:v1", "[{\"name\": \"regcred\"}]", user, sizeof user);
	assert_string_equal(user, "app"); /* still within the TTL */
	fake_now += 1;
	before = gets(f->c);
	lookup_with(f, &kc, "127.0.0.1:5000/spin/app:v1", "[{\"name\": \"regcred\"}]", user, sizeof user);
	assert_string_equal(user, "");
	assert_int_equal(gets(f->c) - before, first);
	before = gets(f->c);
	lookup_with(f, &kc, "127.0.0.1:5000/spin/app:v1", "[{\"name\": \"regcred\"}]", user, sizeof user);
	assert_int_equal(gets(f->c) - before, 0); /* the missing Secret is remembered as missing */
	kubecreds_cache_free(kc.cache);

	/* No cache, deadline passed: a timeout, no request. */
	struct kubecreds bare = { .client = f->c };
	struct image_ref ref;
	struct registry_cred *cred = NULL;
	json_t *ps = json_loads("[{\"name\": \"regcred\"}]", 0, NULL);
	assert_int_equal(image_ref_parse("127.0.0.1:5000/spin/app:v1", &ref, err, sizeof err), SO_OK);
	before = gets(f->c);
	assert_int_equal(kubecreds_lookup(&bare, f->ns, ps, &ref, clock_mono_ms() - 1, &cred, err, sizeof err),
			 SO_E_TIMEOUT);
	assert_null(cred);
	assert_int_equal(gets(f->c) - before, 0);
	json_decref(ps);
	image_ref_free(&ref);
}

static void pull_secrets_service_account_and_global(void **state)
{
	struct fixture *f = *state;
	char user[64];

	/* The app's own pull secret. */
	lookup(f, "127.0.0.1:5000/spin/app:v1", "[{\"name\": \"regcred\"}]", 0, user, sizeof user);
	assert_string_equal(user, "app");
	/* Not named by the app: not used. */
	lookup(f, "127.0.0.1:5000/spin/app:v1", NULL, 0, user, sizeof user);
	assert_string_equal(user, "");
	/* The default ServiceAccount's (its second, missing Secret is skipped). */
	lookup(f, "sa.example.com/x/y:1", NULL, 0, user, sizeof user);
	assert_string_equal(user, "sa");
	/* The operator-wide Secret, from its own namespace. */
	lookup(f, "global.example.com/x:1", NULL, 1, user, sizeof user);
	assert_string_equal(user, "global");
	lookup(f, "global.example.com/x:1", NULL, 0, user, sizeof user);
	assert_string_equal(user, "");
	/* Missing and invalid names are skipped, the rest still read. */
	lookup(f, "127.0.0.1:5000/spin/app:v1",
	       "[{\"name\": \"nope\"}, {\"name\": \"../../secrets\"}, {\"name\": 3}, {\"name\": \"regcred\"}]", 0, user,
	       sizeof user);
	assert_string_equal(user, "app");
	/* No credential for an unrelated registry. */
	lookup(f, "ghcr.io/acme/app:v1", "[{\"name\": \"regcred\"}]", 1, user, sizeof user);
	assert_string_equal(user, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(pull_secrets_service_account_and_global, setup, teardown),
		cmocka_unit_test_setup_teardown(cached_and_bounded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
