/*
 * Image verification through the real kube-apiserver: the operator (bin/spin-operator, --verify-policy) serves
 * the webhooks on 127.0.0.1, tests/webhook/register-local.sh registers them for this test's labelled namespace,
 * and the registry is the in-process one of tests/support/ocifake.c (plain HTTP, --registry-insecure). Checks:
 * a classic signature and a v3 bundle admitted and pinned by the mutating webhook's patch, an unsigned image
 * and one signed by another key denied with the apiserver's "admission webhook ... denied the request: image ...
 * is not verified: ..." message, warn mode admitting unchanged, a second app with a verified image answered from
 * the cache (no registry request), and an update to an unsigned image denied. The end-to-end suite with the real
 * cosign and registry is tests/integration/verify.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "operator/kube/api.h"
#include "operator/kube/loadconfig.h"
#include "operator/kube/client.h"
#include "operator/kube/config.h"
#include "support/ocifake.h"
#include "support/sigfixture.h"
#include "operator/base/err.h"

extern char **environ;

static struct {
	struct kube_config cfg;
	struct kube_client *c;
	char dir[64], policy[128], certs[128], log[128], ns[64], host[64], label[64], prefix[64];
	pid_t op;
	int wport;
	EVP_PKEY *trusted, *stranger;
	char d_signed[72], d_bundle[72], d_unsigned[72], d_other[72], d_warn[72];
} t;

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || getsockname(fd, (struct sockaddr *)&sa, &len))
		return 0;
	close(fd);
	return ntohs(sa.sin_port);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int log_has(const char *s)
{
	return sh("grep -qF -- '%s' %s", s, t.log) == 0;
}

static int wait_log(const char *s, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		if (log_has(s))
			return 1;
		usleep(100000);
	}
	return 0;
}

static void write_policy(void)
{
	char *good = fx_pubpem(t.trusted);
	FILE *f = fopen(t.policy, "w");
	assert_non_null(f);
	fprintf(f, "rules:\n");
	const char *rules[][2] = { { "acme", "spin/**" }, { "relaxed", "warn/**" } };
	for (int r = 0; r < 2; r++) {
		fprintf(f, "- name: %s\n  images: [\"%s/%s\"]\n  mode: %s\n  keys:\n  - name: release\n    publicKey: |\n",
			rules[r][0], t.host, rules[r][1], r ? "warn" : "enforce");
		fx_fprint_indented(f, good, "      ");
	}
	fclose(f);
	free(good);
}

static int setup(void **state)
{
	(void)state;
	char err[512] = "", port[32], mport[32], wbind[64];
	const char *repo = getenv("REPO"), *op = getenv("OPERATOR");
	if (!repo || !op) {
		fprintf(stderr, "REPO and OPERATOR must be set (tests/run.sh sets them)\n");
		return -1;
	}
	struct kube_client_opts ko;
	kube_client_opts_default(&ko);
	ko.qps = 0;
	if (kube_config_load(NULL, NULL, &t.cfg, err, sizeof err) || kube_client_new(&t.cfg, &ko, &t.c, err, sizeof err)) {
		fprintf(stderr, "kube: %s\n", err);
		return -1;
	}
	/* The registry and its images. */
	int rport = ocifake_start();
	if (!rport)
		return -1;
	snprintf(t.host, sizeof t.host, "127.0.0.1:%d", rport);
	t.trusted = fx_keygen("ec");
	t.stranger = fx_keygen("ec");
	ocifake_push_app("spin/app", "signed", "1", t.d_signed);
	ocifake_sign_classic("spin/app", t.d_signed, t.trusted, t.d_signed);
	ocifake_push_app("spin/app", "bundle", "2", t.d_bundle);
	ocifake_sign_bundle("spin/app", t.d_bundle, t.trusted, t.d_bundle);
	ocifake_push_app("spin/app", "unsigned", "3", t.d_unsigned);
	ocifake_push_app("spin/app", "other", "4", t.d_other);
	ocifake_sign_classic("spin/app", t.d_other, t.stranger, t.d_other);
	ocifake_push_app("warn/app", "v1", "5", t.d_warn);

	snprintf(t.dir, sizeof t.dir, "/tmp/test_verify_webhook.XXXXXX");
	if (!mkdtemp(t.dir))
		return -1;
	snprintf(t.policy, sizeof t.policy, "%s/policy.yaml", t.dir);
	snprintf(t.certs, sizeof t.certs, "%s/certs", t.dir);
	snprintf(t.log, sizeof t.log, "%s/operator.log", t.dir);
	write_policy();
	snprintf(t.prefix, sizeof t.prefix, "spin-operator-verify-%ld-", (long)getpid());
	snprintf(t.label, sizeof t.label, "spin-operator-verify-test-%ld", (long)getpid());
	setenv("NAME_PREFIX", t.prefix, 1);
	char match[96];
	snprintf(match, sizeof match, "%s=1", t.label);
	setenv("MATCH_LABEL", match, 1);
	if (sh("%s/tests/webhook/register-local.sh certs %s >/dev/null 2>&1", repo, t.certs))
		return -1;

	/* The operator. */
	t.wport = free_port();
	snprintf(wbind, sizeof wbind, "127.0.0.1:%d", t.wport);
	snprintf(mport, sizeof mport, "127.0.0.1:%d", 0);
	snprintf(port, sizeof port, "%d", t.wport);
	char *argv[] = { (char *)op, "--webhook-bind-address", wbind, "--webhook-cert-dir", t.certs,
			 "--health-probe-bind-address", "0", "--metrics-bind-address", mport, "--metrics-secure=false", "--verify-policy", t.policy,
			 "--registry-insecure", t.host, "--verify-timeout", "5s", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, t.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawn(&t.op, op, &fa, NULL, argv, environ))
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	if (!wait_log("caches synced", 60)) {
		sh("tail -20 %s >&2", t.log);
		return -1;
	}
	if (sh("%s/tests/webhook/register-local.sh register %s %s >/dev/null", repo, port, t.certs))
		return -1;

	/* A labelled namespace with an executor. */
	snprintf(t.ns, sizeof t.ns, "verify-%ld", (long)getpid());
	json_t *ns = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name",
			       t.ns, "labels", t.label, "1");
	json_t *ex = json_pack("{s:s, s:s, s:{s:s}, s:{s:b, s:{s:s}}}", "apiVersion", "core.spinkube.dev/v1alpha1", "kind",
			       "SpinAppExecutor", "metadata", "name", "containerd-shim-spin", "spec", "createDeployment",
			       1, "deploymentConfig", "runtimeClassName", "wasmtime-spin-v2");
	int rc = kube_create(t.c, &KUBE_NAMESPACES, NULL, ns, NULL, NULL);
	if (rc == SO_OK)
		rc = kube_create(t.c, &KUBE_SPINAPPEXECUTORS, t.ns, ex, NULL, NULL);
	json_decref(ns);
	json_decref(ex);
	if (rc) {
		fprintf(stderr, "namespace/executor: %s\n", so_strerror(rc));
		return -1;
	}
	/* The registration reaches the apiserver's webhook cache within a moment: probe with an unsigned image
	 * until it is denied (an app admitted before that is deleted again). */
	char image[256];
	snprintf(image, sizeof image, "%s/spin/app:unsigned", t.host);
	json_t *probe = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:i}}", "apiVersion", "core.spinkube.dev/v1alpha1",
				  "kind", "SpinApp", "metadata", "name", "probe", "spec", "image", image, "executor",
				  "containerd-shim-spin", "replicas", 1);
	rc = SO_OK;
	for (int i = 0; i < 100; i++) {
		rc = kube_create(t.c, &KUBE_SPINAPPS, t.ns, probe, NULL, NULL);
		if (rc == SO_E_API_FORBIDDEN)
			break;
		if (rc == SO_OK)
			kube_delete(t.c, &KUBE_SPINAPPS, t.ns, "probe", NULL, NULL);
		usleep(200000);
	}
	json_decref(probe);
	if (rc != SO_E_API_FORBIDDEN) {
		fprintf(stderr, "the webhook never denied the probe: %s\n", so_strerror(rc));
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	const char *repo = getenv("REPO");
	if (repo)
		sh("%s/tests/webhook/register-local.sh unregister >/dev/null 2>&1", repo);
	int status = 0, clean = 1;
	if (t.op > 0) {
		kill(t.op, SIGTERM);
		waitpid(t.op, &status, 0);
		/* A clean shutdown with verification on (under ASan this includes the leak check). */
		clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (!clean)
			sh("echo 'the operator did not exit cleanly:' >&2; tail -40 %s >&2", t.log);
	}
	if (t.c && *t.ns)
		kube_delete(t.c, &KUBE_NAMESPACES, NULL, t.ns, NULL, NULL);
	ocifake_stop();
	EVP_PKEY_free(t.trusted);
	EVP_PKEY_free(t.stranger);
	kube_client_free(t.c);
	kube_config_free(&t.cfg);
	if (*t.dir)
		sh("rm -rf %s", t.dir);
	return clean ? 0 : -1;
}

/* Creates SpinApp name with image; SO_OK or the error with the apiserver's message in msg. */
static int create_app(const char *name, const char *image, char *msg, size_t n, char *stored_image, size_t sn)
{
	struct kube_response resp = { 0 };
	json_t *out = NULL;
	json_t *app = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:i}}", "apiVersion", "core.spinkube.dev/v1alpha1",
				"kind", "SpinApp", "metadata", "name", name, "spec", "image", image, "executor",
				"containerd-shim-spin", "replicas", 1);
	int rc = SO_E_API_OTHER;
	/* The registration may take a moment to be in force: retry while the app is admitted unverified. */
	for (int attempt = 0; attempt < 50; attempt++) {
		kube_response_free(&resp);
		json_decref(out);
		out = NULL;
		rc = kube_create(t.c, &KUBE_SPINAPPS, t.ns, app, &out, &resp);
		if (rc != SO_E_API_INTERNAL && rc != SO_E_TRANSPORT)
			break;
		usleep(200000);
	}
	snprintf(msg, n, "%s", resp.message ? resp.message : "");
	if (stored_image)
		snprintf(stored_image, sn, "%s",
			 rc == SO_OK ? json_string_value(json_object_get(json_object_get(out, "spec"), "image")) : "");
	json_decref(out);
	json_decref(app);
	kube_response_free(&resp);
	return rc;
}

static void signed_images_admitted_and_pinned(void **state)
{
	(void)state;
	char image[256], want[512], msg[1024], stored[512];
	snprintf(image, sizeof image, "%s/spin/app:signed", t.host);
	int rc = create_app("signed", image, msg, sizeof msg, stored, sizeof stored);
	if (rc)
		fail_msg("create: %s: %s", so_strerror(rc), msg);
	snprintf(want, sizeof want, "%s@%s", image, t.d_signed);
	assert_string_equal(stored, want);

	snprintf(image, sizeof image, "%s/spin/app:bundle", t.host);
	rc = create_app("bundle", image, msg, sizeof msg, stored, sizeof stored);
	if (rc)
		fail_msg("create: %s: %s", so_strerror(rc), msg);
	snprintf(want, sizeof want, "%s@%s", image, t.d_bundle);
	assert_string_equal(stored, want);
	assert_true(log_has("by=\"bundle key release\""));

	/* Another app with the verified image, pinned: answered from the cache. */
	snprintf(image, sizeof image, "%s/spin/app:signed@%s", t.host, t.d_signed);
	int before = ocifake_requests();
	rc = create_app("signed-again", image, msg, sizeof msg, stored, sizeof stored);
	assert_int_equal(rc, SO_OK);
	assert_string_equal(stored, image);
	assert_int_equal(ocifake_requests(), before);
	assert_true(log_has("cache=hit"));
}

static void unverified_images_denied(void **state)
{
	(void)state;
	char image[256], want[1024], msg[1024];
	snprintf(image, sizeof image, "%s/spin/app:unsigned", t.host);
	int rc = create_app("unsigned", image, msg, sizeof msg, NULL, 0);
	assert_int_equal(rc, SO_E_API_FORBIDDEN);
	snprintf(want, sizeof want,
		 "admission webhook \"mspinapp.kb.io\" denied the request: image %s (%s) is not verified: no signatures "
		 "found",
		 image, t.d_unsigned);
	if (strcmp(msg, want) != 0)
		fail_msg("got  %s\nwant %s", msg, want);

	snprintf(image, sizeof image, "%s/spin/app:other", t.host);
	rc = create_app("other", image, msg, sizeof msg, NULL, 0);
	assert_int_equal(rc, SO_E_API_FORBIDDEN);
	assert_non_null(strstr(msg, "no signature verifies with a trusted key of rule acme"));

	/* Updating a verified app to an unsigned image is denied too. */
	struct kube_response resp = { 0 };
	char patch[512];
	snprintf(patch, sizeof patch, "{\"spec\":{\"image\":\"%s/spin/app:unsigned\"}}", t.host);
	json_t *p = json_loads(patch, 0, NULL);
	rc = kube_merge_patch(t.c, &KUBE_SPINAPPS, t.ns, "signed", NULL, p, NULL, &resp);
	json_decref(p);
	assert_int_equal(rc, SO_E_API_FORBIDDEN);
	assert_non_null(strstr(resp.message, "no signatures found"));
	kube_response_free(&resp);
}

static void warn_mode_admits_unchanged(void **state)
{
	(void)state;
	char image[256], msg[1024], stored[512];
	snprintf(image, sizeof image, "%s/warn/app:v1", t.host);
	int rc = create_app("warned", image, msg, sizeof msg, stored, sizeof stored);
	if (rc)
		fail_msg("create: %s: %s", so_strerror(rc), msg);
	assert_string_equal(stored, image); /* not verified: nothing pinned */
	assert_true(log_has("rule=relaxed mode=warn result=failed"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(signed_images_admitted_and_pinned),
		cmocka_unit_test(unverified_images_denied),
		cmocka_unit_test(warn_mode_admits_unchanged),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
