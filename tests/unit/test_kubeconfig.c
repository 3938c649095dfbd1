/*
 * kubeconfig and in-cluster configuration: the supported variants, the KUBECONFIG merge, the resolution order,
 * malformed and hostile inputs (each checked for its error code and for the field its message names), and
 * secret hygiene (no error message quotes a token).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "operator/kube/config.h"
#include "operator/kube/kubeconfig.h"
#include "operator/kube/loadconfig.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"

#define CA_PEM "-----BEGIN CERTIFICATE-----\nMIIBcaFAKEcaFAKE\n-----END CERTIFICATE-----\n"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nMIIBclientFAKE\n-----END CERTIFICATE-----\n"
#define KEY_PEM "-----BEGIN PRIVATE KEY-----\nMIIEkeyFAKEkey\n-----END PRIVATE KEY-----\n"
#define SECRET "s3cr3t-token-value"

/* ---- helpers ---- */

static char tdir[256];

static void rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char sub[1024];

	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
			rm_rf(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tdir, sizeof tdir, "/tmp/test_kubeconfig.XXXXXX");
	if (!mkdtemp(tdir))
		return -1;
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rm_rf(tdir);
	return 0;
}

/* Writes tdir/name (creating one level of subdirectory if name has a slash) and returns the full path. */
static const char *put(const char *name, const void *data, size_t len)
{
	static char paths[8][1024];
	static int next;
	char *p = paths[next++ % 8];
	FILE *f;

	snprintf(p, 1024, "%s/%s", tdir, name);
	const char *slash = strchr(name, '/');
	if (slash) {
		char d[1024];
		snprintf(d, sizeof d, "%s/%.*s", tdir, (int)(slash - name), name);
		mkdir(d, 0700);
	}
	f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	return p;
}

static const char *puts_(const char *name, const char *s)
{
	return put(name, s, strlen(s));
}

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc((n + 2) / 3 * 4 + 1);
	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

static int parse(const char *yaml, const char *context, struct kube_config *cfg, char *err, size_t errlen)
{
	return kube_config_parse_kubeconfig(yaml, strlen(yaml), "/x/config", tdir, context, cfg, err, errlen);
}

/* Asserts the code and that the message contains want (the file name and the field). */
#define EXPECT_ERR(yaml, code, want)                                                                          \
	do {                                                                                                  \
		struct kube_config c_;                                                                        \
		char e_[512] = "";                                                                            \
		int rc_ = parse((yaml), NULL, &c_, e_, sizeof e_);                                            \
		if (rc_ != (code) || !strstr(e_, (want)) || !strstr(e_, "kubeconfig /x/config"))              \
			fail_msg("rc=%d (want %d) err=\"%s\" (want \"%s\")", rc_, (code), e_, (want));       \
		assert_null(c_.server);                                                                       \
		kube_config_free(&c_);                                                                        \
	} while (0)

static const char *MIN_USERLESS = "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
				  "clusters:\n- name: c1\n  cluster:\n    server: https://k.example:6443\n"
				  "contexts:\n- name: dev\n  context:\n    cluster: c1\n";

/* ---- valid variants ---- */

static void cert_files_relative_to_base_dir(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "";
	puts_("pki/ca.crt", CA_PEM);
	puts_("pki/client.crt", CERT_PEM);
	puts_("pki/client.key", KEY_PEM);
	const char *yaml = "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
			   "clusters:\n- name: c1\n  cluster:\n    server: https://k.example:6443/\n"
			   "    certificate-authority: pki/ca.crt\n"
			   "users:\n- name: u1\n  user:\n    client-certificate: pki/client.crt\n"
			   "    client-key: pki/client.key\n"
			   "contexts:\n- name: dev\n  context:\n    cluster: c1\n    user: u1\n"
			   "preferences: {}\nextensions: [{name: x, extension: {a: 1}}]\n";
	int rc = parse(yaml, NULL, &cfg, err, sizeof err);
	assert_int_equal(rc, SO_OK);
	assert_string_equal(cfg.server, "https://k.example:6443");
	assert_int_equal(cfg.ca.len, strlen(CA_PEM));
	assert_memory_equal(cfg.ca.data, CA_PEM, cfg.ca.len);
	assert_int_equal(cfg.client_cert.len, strlen(CERT_PEM));
	assert_memory_equal(cfg.client_cert.data, CERT_PEM, cfg.client_cert.len);
	assert_int_equal(cfg.client_key.len, strlen(KEY_PEM));
	assert_memory_equal(cfg.client_key.data, KEY_PEM, cfg.client_key.len);
	assert_null(cfg.token);
	assert_null(cfg.token_file);
	assert_null(cfg.exec);
	assert_string_equal(cfg.namespace, "default");
	assert_string_equal(cfg.context, "dev");
	assert_string_equal(cfg.source, "/x/config");
	assert_int_equal(cfg.insecure_skip_tls_verify, 0);
	kube_config_free(&cfg);
	assert_null(cfg.server);
}

static void inline_data(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "", yaml[4096];
	char *ca = b64(CA_PEM), *cert = b64(CERT_PEM), *key = b64(KEY_PEM);
	/* Line-wrapped base64 (as some tools write it) is accepted. */
	char wrapped[1024];
	size_t kl = strlen(key);
	snprintf(wrapped, sizeof wrapped, "%.*s\n      %s", (int)(kl / 2), key, key + kl / 2);
	snprintf(yaml, sizeof yaml,
		 "current-context: dev\nclusters:\n- name: c1\n  cluster:\n    server: https://10.0.0.1\n"
		 "    certificate-authority-data: %s\n"
		 "users:\n- name: u1\n  user:\n    client-certificate-data: %s\n    client-key-data: |\n      %s\n"
		 "contexts:\n- name: dev\n  context: {cluster: c1, user: u1}\n",
		 ca, cert, wrapped);
	int rc = parse(yaml, NULL, &cfg, err, sizeof err);
	assert_int_equal(rc, SO_OK);
	assert_string_equal(cfg.server, "https://10.0.0.1");
	assert_string_equal(cfg.ca.data, CA_PEM);
	assert_string_equal(cfg.client_cert.data, CERT_PEM);
	assert_string_equal(cfg.client_key.data, KEY_PEM);
	assert_int_equal(cfg.client_key.len, strlen(KEY_PEM));
	kube_config_free(&cfg);
	free(ca);
	free(cert);
	free(key);
}

static void static_token(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "";
	const char *yaml = "current-context: dev\nclusters:\n- name: c1\n  cluster:\n    server: http://127.0.0.1:8080\n"
			   "users:\n- name: u1\n  user:\n    token: " SECRET "\n"
			   "contexts:\n- name: dev\n  context:\n    cluster: c1\n    user: u1\n";
	assert_int_equal(parse(yaml, NULL, &cfg, err, sizeof err), SO_OK);
	assert_string_equal(cfg.server, "http://127.0.0.1:8080");
	assert_string_equal(cfg.token, SECRET);
	assert_null(cfg.ca.data);
	kube_config_free(&cfg);
}

static void token_file_relative(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "", want[1024];
	puts_("sa/token", "abc\n");
	const char *yaml = "current-context: dev\nclusters:\n- name: c1\n  cluster:\n    server: https://k\n"
			   "users:\n- name: u1\n  user:\n    tokenFile: sa/token\n"
			   "contexts:\n- name: dev\n  context:\n    cluster: c1\n    user: u1\n";
	assert_int_equal(parse(yaml, NULL, &cfg, err, sizeof err), SO_OK);
	snprintf(want, sizeof want, "%s/sa/token", tdir);
	assert_string_equal(cfg.token_file, want);
	assert_null(cfg.token);
	kube_config_free(&cfg);

	/* An absolute tokenFile stays as written. */
	char yaml2[2048];
	snprintf(yaml2, sizeof yaml2,
		 "current-context: dev\nclusters:\n- name: c1\n  cluster:\n    server: https://k\n"
		 "users:\n- name: u1\n  user:\n    tokenFile: %s/sa/token\n"
		 "contexts:\n- name: dev\n  context:\n    cluster: c1\n    user: u1\n",
		 tdir);
	assert_int_equal(parse(yaml2, NULL, &cfg, err, sizeof err), SO_OK);
	assert_string_equal(cfg.token_file, want);
	kube_config_free(&cfg);
}

static void exec_plugin(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "", want[1024];
	const char *yaml =
		"current-context: dev\nclusters:\n- name: c1\n  cluster:\n    server: https://k\n"
		"users:\n- name: u1\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
		"      command: bin/get-token\n      args: [\"--cluster\", \"a b\", '']\n"
		"      env:\n      - name: FOO\n        value: bar=baz\n      - name: EMPTY\n"
		"      provideClusterInfo: true\n      interactiveMode: Never\n      installHint: install it\n"
		"- name: u2\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
		"      command: aws\n"
		"contexts:\n- name: dev\n  context:\n    cluster: c1\n    user: u1\n"
		"- name: other\n  context:\n    cluster: c1\n    user: u2\n";
	assert_int_equal(parse(yaml, NULL, &cfg, err, sizeof err), SO_OK);
	assert_non_null(cfg.exec);
	snprintf(want, sizeof want, "%s/bin/get-token", tdir);
	assert_string_equal(cfg.exec->command, want);
	assert_string_equal(cfg.exec->args[0], "--cluster");
	assert_string_equal(cfg.exec->args[1], "a b");
	assert_string_equal(cfg.exec->args[2], "");
	assert_null(cfg.exec->args[3]);
	assert_string_equal(cfg.exec->env[0], "FOO=bar=baz");
	assert_string_equal(cfg.exec->env[1], "EMPTY=");
	assert_null(cfg.exec->env[2]);
	assert_string_equal(cfg.exec->api_version, "client.authentication.k8s.io/v1");
	assert_int_equal(cfg.exec->provide_cluster_info, 1);
	kube_config_free(&cfg);

	/* A bare command name is left for PATH lookup; no args/env gives empty lists. */
	assert_int_equal(parse(yaml, "other", &cfg, err, sizeof err), SO_OK);
	assert_string_equal(cfg.exec->command, "aws");
	assert_null(cfg.exec->args[0]);
	assert_null(cfg.exec->env[0]);
	assert_int_equal(cfg.exec->provide_cluster_info, 0);
	assert_string_equal(cfg.context, "other");
	kube_config_free(&cfg);
}

static void insecure_and_tls_server_name(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "";
	const char *yaml = "current-context: dev\nclusters:\n- name: c1\n  cluster:\n    server: https://10.1.2.3:443\n"
			   "    insecure-skip-tls-verify: true\n    tls-server-name: api.internal\n"
			   "contexts:\n- name: dev\n  context:\n    cluster: c1\n";
	assert_int_equal(parse(yaml, NULL, &cfg, err, sizeof err), SO_OK);
	assert_int_equal(cfg.insecure_skip_tls_verify, 1);
	assert_string_equal(cfg.tls_server_name, "api.internal");
	assert_null(cfg.ca.data);
	assert_null(cfg.token);
	kube_config_free(&cfg);
}

static void context_override_and_namespace(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "";
	const char *yaml = "current-context: a\n"
			   "clusters:\n- name: ca\n  cluster: {server: 'https://a'}\n"
			   "- name: cb\n  cluster: {server: 'https://b'}\n"
			   "users:\n- name: ua\n  user: {token: ta}\n- name: ub\n  user: {token: tb}\n"
			   "contexts:\n- name: a\n  context: {cluster: ca, user: ua}\n"
			   "- name: b\n  context: {cluster: cb, user: ub, namespace: team-b}\n";
	assert_int_equal(parse(yaml, NULL, &cfg, err, sizeof err), SO_OK);
	assert_string_equal(cfg.server, "https://a");
	assert_string_equal(cfg.token, "ta");
	assert_string_equal(cfg.namespace, "default");
	assert_string_equal(cfg.context, "a");
	kube_config_free(&cfg);
	assert_int_equal(parse(yaml, "b", &cfg, err, sizeof err), SO_OK);
	assert_string_equal(cfg.server, "https://b");
	assert_string_equal(cfg.token, "tb");
	assert_string_equal(cfg.namespace, "team-b");
	assert_string_equal(cfg.context, "b");
	kube_config_free(&cfg);
}

static void anchors_and_aliases_in_moderation(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "";
	const char *yaml = "current-context: dev\n"
			   "clusters:\n- name: c1\n  cluster: &cl {server: 'https://a'}\n- name: c2\n  cluster: *cl\n"
			   "contexts:\n- name: dev\n  context: {cluster: c2}\n";
	assert_int_equal(parse(yaml, NULL, &cfg, err, sizeof err), SO_OK);
	assert_string_equal(cfg.server, "https://a");
	kube_config_free(&cfg);
}

static void no_user_is_anonymous(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "";
	assert_int_equal(parse(MIN_USERLESS, NULL, &cfg, err, sizeof err), SO_OK);
	assert_null(cfg.token);
	assert_null(cfg.client_cert.data);
	assert_null(cfg.exec);
	kube_config_free(&cfg);
}

/* ---- kube_config_load: resolution order and the KUBECONFIG merge ---- */

static void kubeconfig_merge(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "", env[2048], want[1024];
	const char *a = puts_("a/config", "current-context: dev\n"
					   "clusters:\n- name: c1\n  cluster:\n    server: https://from-a\n"
					   "contexts:\n- name: dev\n  context: {cluster: c1, user: u2, namespace: ns-a}\n");
	const char *b = puts_("b/config", "current-context: other\n"
					   "clusters:\n- name: c1\n  cluster:\n    server: https://from-b\n"
					   "- name: c9\n  cluster:\n    server: https://c9\n"
					   "users:\n- name: u2\n  user:\n    tokenFile: tok\n"
					   "contexts:\n- name: dev\n  context: {cluster: c9}\n"
					   "- name: other\n  context: {cluster: c9}\n");
	puts_("b/tok", "t-from-b\n");
	snprintf(env, sizeof env, "%s:%s/missing/config::%s", a, tdir, b);
	setenv("KUBECONFIG", env, 1);
	int rc = kube_config_load(NULL, NULL, &cfg, err, sizeof err);
	assert_int_equal(rc, SO_OK);
	/* current-context from a (first set wins), context dev from a, cluster c1 from a, user u2 from b. */
	assert_string_equal(cfg.context, "dev");
	assert_string_equal(cfg.server, "https://from-a");
	assert_string_equal(cfg.namespace, "ns-a");
	snprintf(want, sizeof want, "%s/b/tok", tdir);
	assert_string_equal(cfg.token_file, want); /* relative to b's directory */
	assert_non_null(strstr(cfg.source, "a/config"));
	assert_non_null(strstr(cfg.source, "b/config"));
	kube_config_free(&cfg);

	/* --context picks a context that only b defines. */
	rc = kube_config_load(NULL, "other", &cfg, err, sizeof err);
	assert_int_equal(rc, SO_OK);
	assert_string_equal(cfg.server, "https://c9");
	kube_config_free(&cfg);

	/* A reference missing from every file names the context's file. */
	rc = kube_config_load(NULL, NULL, &cfg, err, sizeof err);
	assert_int_equal(rc, SO_OK);
	kube_config_free(&cfg);
	puts_("a/config", "current-context: dev\n"
			  "contexts:\n- name: dev\n  context: {cluster: nowhere}\n");
	rc = kube_config_load(NULL, NULL, &cfg, err, sizeof err);
	assert_int_equal(rc, SO_E_CONFIG);
	assert_non_null(strstr(err, "cluster \"nowhere\" not found"));
	assert_non_null(strstr(err, a));

	/* A malformed file anywhere in the list fails the load and is named. */
	puts_("b/config", "clusters: {}\n");
	rc = kube_config_load(NULL, NULL, &cfg, err, sizeof err);
	assert_int_equal(rc, SO_E_CONFIG);
	assert_non_null(strstr(err, b));
	assert_non_null(strstr(err, "clusters: expected a list"));

	/* Only missing files: no fallback to $HOME (as client-go). */
	snprintf(env, sizeof env, "%s/none1:%s/none2", tdir, tdir);
	setenv("KUBECONFIG", env, 1);
	rc = kube_config_load(NULL, NULL, &cfg, err, sizeof err);
	assert_int_equal(rc, SO_E_CONFIG);
	assert_non_null(strstr(err, "KUBECONFIG"));
	unsetenv("KUBECONFIG");
}

static void load_order(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "", missing[1024];
	const char *p = puts_("explicit", MIN_USERLESS);
	char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

	/* 1. --kubeconfig wins over KUBECONFIG. */
	setenv("KUBECONFIG", "/nonexistent/kubeconfig", 1);
	assert_int_equal(kube_config_load(p, NULL, &cfg, err, sizeof err), SO_OK);
	assert_string_equal(cfg.source, p);
	kube_config_free(&cfg);
	unsetenv("KUBECONFIG");

	/* An explicit path that does not exist is an error, naming it. */
	snprintf(missing, sizeof missing, "%s/nope", tdir);
	assert_int_equal(kube_config_load(missing, NULL, &cfg, err, sizeof err), SO_E_CONFIG);
	assert_non_null(strstr(err, missing));
	assert_non_null(strstr(err, "No such file"));
	assert_null(cfg.server);

	/* 4. $HOME/.kube/config. */
	puts_(".kube/config", MIN_USERLESS);
	setenv("HOME", tdir, 1);
	assert_int_equal(kube_config_load(NULL, NULL, &cfg, err, sizeof err), SO_OK);
	assert_non_null(strstr(cfg.source, ".kube/config"));
	kube_config_free(&cfg);

	/* Nothing at all. */
	setenv("HOME", "/nonexistent-home", 1);
	assert_int_equal(kube_config_load(NULL, NULL, &cfg, err, sizeof err), SO_E_CONFIG);
	assert_non_null(strstr(err, "no configuration"));

	/* A directory is not a kubeconfig. */
	assert_int_equal(kube_config_load(tdir, NULL, &cfg, err, sizeof err), SO_E_CONFIG);
	assert_non_null(strstr(err, tdir));

	if (old_home) {
		setenv("HOME", old_home, 1);
		free(old_home);
	}
}

/* ---- in-cluster ---- */

static void incluster(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "", sa[512], want[1024];
	snprintf(sa, sizeof sa, "%s/sa", tdir);
	puts_("sa/token", "eyJhbGciOi.token\n");
	puts_("sa/ca.crt", CA_PEM);
	puts_("sa/namespace", "spin-system\n");

	/* No environment: not in a cluster. */
	assert_int_equal(kube_config_incluster(sa, &cfg, err, sizeof err), SO_E_CONFIG);
	assert_non_null(strstr(err, "not running in a cluster"));
	assert_null(cfg.server);

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_incluster(sa, &cfg, err, sizeof err), SO_OK);
	assert_string_equal(cfg.server, "https://10.96.0.1:443");
	snprintf(want, sizeof want, "%s/token", sa);
	assert_string_equal(cfg.token_file, want);
	assert_null(cfg.token); /* never read once and kept */
	assert_string_equal(cfg.ca.data, CA_PEM);
	assert_int_equal(cfg.ca.len, strlen(CA_PEM));
	assert_string_equal(cfg.namespace, "spin-system");
	assert_string_equal(cfg.source, "in-cluster");
	assert_null(cfg.context);
	kube_config_free(&cfg);

	/* IPv6 host in brackets; no namespace file → default. */
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	unlink(want);
	puts_("sa/token", "t");
	snprintf(want, sizeof want, "%s/namespace", sa);
	unlink(want);
	assert_int_equal(kube_config_incluster(sa, &cfg, err, sizeof err), SO_OK);
	assert_string_equal(cfg.server, "https://[fd00:10:96::1]:443");
	assert_string_equal(cfg.namespace, "default");
	kube_config_free(&cfg);

	/* A namespace file that is not a namespace name. */
	puts_("sa/namespace", "../kube-system\n");
	assert_int_equal(kube_config_incluster(sa, &cfg, err, sizeof err), SO_E_CONFIG);
	assert_non_null(strstr(err, "namespace: not a valid namespace name"));
	assert_null(cfg.server);

	/* Bad port; missing CA; missing token. */
	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	assert_int_equal(kube_config_incluster(sa, &cfg, err, sizeof err), SO_E_CONFIG);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_PORT"));
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	snprintf(want, sizeof want, "%s/ca.crt", sa);
	unlink(want);
	assert_int_equal(kube_config_incluster(sa, &cfg, err, sizeof err), SO_E_CONFIG);
	assert_non_null(strstr(err, "ca.crt"));
	assert_null(cfg.server);
	snprintf(want, sizeof want, "%s/token", sa);
	unlink(want);
	assert_int_equal(kube_config_incluster(sa, &cfg, err, sizeof err), SO_E_CONFIG);
	assert_non_null(strstr(err, "token"));
	assert_null(cfg.token_file);

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

/* ---- malformed input ---- */

static void not_yaml(void **state)
{
	(void)state;
	EXPECT_ERR("clusters: [unclosed\n  - : :\n", SO_E_CONFIG, "invalid YAML");
	EXPECT_ERR("a: b\n\tc: d\n", SO_E_CONFIG, "invalid YAML");
	EXPECT_ERR("server: \xc3\x28\xff\n", SO_E_CONFIG, "invalid YAML"); /* not UTF-8 */
	EXPECT_ERR("a: 1\n---\nb: 2\n", SO_E_CONFIG, "more than one YAML document");
}

static void top_level_not_mapping(void **state)
{
	(void)state;
	EXPECT_ERR("- a\n- b\n", SO_E_CONFIG, "top level: expected a mapping, found a list");
	EXPECT_ERR("just a string\n", SO_E_CONFIG, "top level: expected a mapping, found a scalar");
	EXPECT_ERR("kind: Pod\nclusters: []\n", SO_E_CONFIG, "kind: expected Config");
	EXPECT_ERR("apiVersion: v2\n", SO_E_CONFIG, "apiVersion: expected v1");
	EXPECT_ERR("? [a, b]\n: c\n", SO_E_CONFIG, "invalid YAML: 1:3: mapping keys must be scalars");
}

static void empty_file(void **state)
{
	(void)state;
	EXPECT_ERR("", SO_E_CONFIG, "empty");
	EXPECT_ERR("# only a comment\n", SO_E_CONFIG, "empty");
	EXPECT_ERR("~\n", SO_E_CONFIG, "empty");
	struct kube_config cfg;
	char err[256];
	assert_int_equal(kube_config_parse_kubeconfig(NULL, 0, NULL, NULL, NULL, &cfg, err, sizeof err), SO_E_CONFIG);
	assert_non_null(strstr(err, "<input>"));
}

static void missing_clusters(void **state)
{
	(void)state;
	EXPECT_ERR("current-context: dev\ncontexts:\n- name: dev\n  context: {cluster: c1}\n", SO_E_CONFIG,
		   "clusters: not set (context \"dev\" needs cluster \"c1\")");
	EXPECT_ERR("current-context: dev\nclusters:\n- name: c2\n  cluster: {server: 'https://x'}\n"
		   "contexts:\n- name: dev\n  context: {cluster: c1}\n",
		   SO_E_CONFIG, "context \"dev\": cluster \"c1\" not found");
	EXPECT_ERR("current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
		   "contexts:\n- name: dev\n  context: {user: u}\n",
		   SO_E_CONFIG, "contexts[0].context.cluster: not set");
}

static void missing_user(void **state)
{
	(void)state;
	EXPECT_ERR("current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
		   "users:\n- name: someone\n  user: {token: t}\n"
		   "contexts:\n- name: dev\n  context: {cluster: c1, user: nobody}\n",
		   SO_E_CONFIG, "context \"dev\": user \"nobody\" not found");
}

static void missing_context(void **state)
{
	(void)state;
	EXPECT_ERR("clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n", SO_E_CONFIG,
		   "current-context is not set and no --context given");
	EXPECT_ERR("current-context: gone\nclusters:\n- name: c1\n  cluster: {server: 'https://x'}\n", SO_E_CONFIG,
		   "current-context \"gone\" not found");
	struct kube_config cfg;
	char err[512];
	assert_int_equal(parse(MIN_USERLESS, "prod", &cfg, err, sizeof err), SO_E_CONFIG);
	assert_non_null(strstr(err, "context \"prod\" not found"));
}

static void bad_server(void **state)
{
	(void)state;
	const char *pre = "current-context: dev\ncontexts:\n- name: dev\n  context: {cluster: c1}\n"
			  "clusters:\n- name: c1\n  cluster:\n";
	char y[1024];
	snprintf(y, sizeof y, "%s    insecure-skip-tls-verify: true\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "clusters[0].cluster.server: not set");
	snprintf(y, sizeof y, "%s    server: ftp://x\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "clusters[0].cluster.server: must start with https:// or http://");
	snprintf(y, sizeof y, "%s    server: k.example:6443\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "clusters[0].cluster.server: must start with https://");
	snprintf(y, sizeof y, "%s    server: https:///path\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "clusters[0].cluster.server: no host");
	snprintf(y, sizeof y, "%s    server: https://admin:pw@k\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "clusters[0].cluster.server: credentials in the URL");
	snprintf(y, sizeof y, "%s    server: \"https://k\\0evil\"\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "clusters[0].cluster.server: contains a NUL byte");
	snprintf(y, sizeof y, "%s    server: [https://k]\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "clusters[0].cluster.server: expected a string, found a list");
	snprintf(y, sizeof y, "%s    server: https://k\n    insecure-skip-tls-verify: maybe\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "clusters[0].cluster.insecure-skip-tls-verify: expected true or false");
	snprintf(y, sizeof y, "%s    server: https://k\n    proxy-url: http://proxy:3128\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "clusters[0].cluster.proxy-url: not supported");
	snprintf(y, sizeof y, "%s    server: https://k\n    tls-server-name: 'a b'\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "clusters[0].cluster.tls-server-name: not a host name");
}

static void bad_base64(void **state)
{
	(void)state;
	char y[2048];
	char *cert = b64(CERT_PEM);
	snprintf(y, sizeof y,
		 "current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
		 "users:\n- name: u1\n  user:\n    client-certificate-data: %s\n    client-key-data: '%s'\n"
		 "contexts:\n- name: dev\n  context: {cluster: c1, user: u1}\n",
		 cert, KEY_PEM); /* raw PEM is not base64 */
	EXPECT_ERR(y, SO_E_CONFIG, "users[0].user.client-key-data: invalid base64");
	snprintf(y, sizeof y,
		 "current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x', "
		 "certificate-authority-data: 'QUJD'}\n"
		 "contexts:\n- name: dev\n  context: {cluster: c1}\n");
	EXPECT_ERR(y, SO_E_CONFIG, "clusters[0].cluster.certificate-authority-data: not PEM data");
	snprintf(y, sizeof y,
		 "current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x', "
		 "certificate-authority-data: 'QUJ'}\n"
		 "contexts:\n- name: dev\n  context: {cluster: c1}\n");
	EXPECT_ERR(y, SO_E_CONFIG, "clusters[0].cluster.certificate-authority-data: invalid base64");
	snprintf(y, sizeof y,
		 "current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x', "
		 "certificate-authority-data: 'QU=D'}\n"
		 "contexts:\n- name: dev\n  context: {cluster: c1}\n");
	EXPECT_ERR(y, SO_E_CONFIG, "certificate-authority-data: invalid base64");
	free(cert);
}

static void cert_file_problems(void **state)
{
	(void)state;
	char y[2048], want[1024];
	snprintf(want, sizeof want, "clusters[0].cluster.certificate-authority: %s/nope.crt: No such file", tdir);
	EXPECT_ERR("current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x', "
		   "certificate-authority: nope.crt}\ncontexts:\n- name: dev\n  context: {cluster: c1}\n",
		   SO_E_CONFIG, want);
	puts_("notpem.crt", "hello\n");
	EXPECT_ERR("current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x', "
		   "certificate-authority: notpem.crt}\ncontexts:\n- name: dev\n  context: {cluster: c1}\n",
		   SO_E_CONFIG, "notpem.crt: not PEM data");
	puts_("ca.crt", CA_PEM);
	EXPECT_ERR("current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x', "
		   "certificate-authority: ca.crt, certificate-authority-data: QUJD}\n"
		   "contexts:\n- name: dev\n  context: {cluster: c1}\n",
		   SO_E_CONFIG, "clusters[0].cluster: both certificate-authority and certificate-authority-data");
	EXPECT_ERR("current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x', "
		   "certificate-authority: ca.crt, insecure-skip-tls-verify: true}\n"
		   "contexts:\n- name: dev\n  context: {cluster: c1}\n",
		   SO_E_CONFIG, "clusters[0].cluster: insecure-skip-tls-verify cannot be combined");
	puts_("client.crt", CERT_PEM);
	EXPECT_ERR("current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
		   "users:\n- name: u\n  user: {client-certificate: client.crt}\n"
		   "contexts:\n- name: dev\n  context: {cluster: c1, user: u}\n",
		   SO_E_CONFIG, "users[0].user: client-certificate is set without client-key");
	/* A directory where a file belongs. */
	snprintf(y, sizeof y, "%s/d", tdir);
	mkdir(y, 0700);
	EXPECT_ERR("current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x', "
		   "certificate-authority: d}\ncontexts:\n- name: dev\n  context: {cluster: c1}\n",
		   SO_E_CONFIG, "clusters[0].cluster.certificate-authority:");
	/* A missing token file. */
	EXPECT_ERR("current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
		   "users:\n- name: u\n  user: {tokenFile: no-token}\n"
		   "contexts:\n- name: dev\n  context: {cluster: c1, user: u}\n",
		   SO_E_CONFIG, "users[0].user.tokenFile: token file");
}

static void unsupported_auth(void **state)
{
	(void)state;
	const char *pre = "current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
			  "contexts:\n- name: dev\n  context: {cluster: c1, user: u}\nusers:\n- name: u\n  user:\n";
	char y[1024];
	snprintf(y, sizeof y, "%s    auth-provider:\n      name: oidc\n      config: {id-token: x}\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "users[0].user.auth-provider: not supported");
	snprintf(y, sizeof y, "%s    username: admin\n    password: pw\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "users[0].user.username: basic authentication is not supported");
	snprintf(y, sizeof y, "%s    token: t\n    as: someone-else\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "users[0].user.as: impersonation is not supported");
	snprintf(y, sizeof y, "%s    token: t\n    tokenFile: /etc/hostname\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "users[0].user: token, tokenFile and exec are mutually exclusive");
	snprintf(y, sizeof y, "%s    exec: {command: x}\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "users[0].user.exec.apiVersion: not set");
	snprintf(y, sizeof y, "%s    exec: {apiVersion: client.authentication.k8s.io/v1}\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "users[0].user.exec.command: not set");
	snprintf(y, sizeof y, "%s    exec: {command: x, apiVersion: client.authentication.k8s.io/v1alpha1}\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "users[0].user.exec.apiVersion: not supported");
	snprintf(y, sizeof y,
		 "%s    exec: {command: x, apiVersion: client.authentication.k8s.io/v1, interactiveMode: Always}\n",
		 pre);
	EXPECT_ERR(y, SO_E_CONFIG, "users[0].user.exec.interactiveMode: Always is not supported");
	snprintf(y, sizeof y, "%s    exec: {command: x, apiVersion: client.authentication.k8s.io/v1, env: [{value: v}]}\n",
		 pre);
	EXPECT_ERR(y, SO_E_CONFIG, "users[0].user.exec.env[0].name: not set");
	snprintf(y, sizeof y, "%s    exec: {command: x, apiVersion: client.authentication.k8s.io/v1, args: [[a]]}\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "users[0].user.exec.args[0]: expected a string, found a list");
	snprintf(y, sizeof y, "%s    exec: {command: x, apiVersion: client.authentication.k8s.io/v1, env: {A: b}}\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "users[0].user.exec.env: expected a list, found a mapping");
	snprintf(y, sizeof y, "%s    exec: [x]\n", pre);
	EXPECT_ERR(y, SO_E_CONFIG, "users[0].user.exec: expected a mapping, found a list");
}

static void unsupported_auth_on_unused_user_is_fine(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512];
	const char *yaml = "current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
			   "users:\n- name: oidc\n  user: {auth-provider: {name: oidc}}\n- name: u\n  user: {token: t}\n"
			   "contexts:\n- name: dev\n  context: {cluster: c1, user: u}\n";
	assert_int_equal(parse(yaml, NULL, &cfg, err, sizeof err), SO_OK);
	assert_string_equal(cfg.token, "t");
	kube_config_free(&cfg);
}

static void scalar_where_mapping_expected(void **state)
{
	(void)state;
	EXPECT_ERR("clusters:\n- name: c1\n  cluster: oops\n", SO_E_CONFIG,
		   "clusters[0].cluster: expected a mapping, found a scalar");
	EXPECT_ERR("clusters: oops\n", SO_E_CONFIG, "clusters: expected a list, found a scalar");
	EXPECT_ERR("users:\n- just-a-name\n", SO_E_CONFIG, "users[0]: expected a mapping, found a scalar");
	EXPECT_ERR("contexts:\n- name: [a]\n", SO_E_CONFIG, "contexts[0].name: expected a string, found a list");
	EXPECT_ERR("contexts:\n- context: {cluster: c}\n", SO_E_CONFIG, "contexts[0].name: not set");
	EXPECT_ERR("current-context: {a: b}\n", SO_E_CONFIG, "current-context: expected a string, found a mapping");
	EXPECT_ERR("users:\n- name: u\n  user:\n    token: {x: y}\n", SO_E_CONFIG,
		   "users[0].user.token: expected a string, found a mapping");
	/* Numbers and booleans are typed by the YAML → JSON step and refused where a string belongs, as kubectl
	 * refuses them; quoted, they are strings. */
	EXPECT_ERR("contexts:\n- name: 1\n", SO_E_CONFIG, "contexts[0].name: expected a string, found a number");
	EXPECT_ERR("users:\n- name: u\n  user: {token: true}\n", SO_E_CONFIG,
		   "users[0].user.token: expected a string, found a boolean");
	EXPECT_ERR("contexts:\n- name: '1'\n", SO_E_CONFIG, "current-context is not set");
	/* Type errors anywhere in the file count, not only in the selected entries. */
	EXPECT_ERR("current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
		   "- name: c2\n  cluster: {server: 'https://y', insecure-skip-tls-verify: [1]}\n"
		   "contexts:\n- name: dev\n  context: {cluster: c1}\n",
		   SO_E_CONFIG, "clusters[1].cluster.insecure-skip-tls-verify: expected true or false");
}

static void duplicates(void **state)
{
	(void)state;
	/* The YAML loader refuses every key given twice, and names its line and column. */
	EXPECT_ERR("current-context: a\ncurrent-context: b\n", SO_E_CONFIG, "2:1: duplicate key \"current-context\"");
	EXPECT_ERR("clusters:\n- name: c1\n  cluster:\n    server: https://a\n    server: https://b\n", SO_E_CONFIG,
		   "5:5: duplicate key \"server\"");
	EXPECT_ERR("clusters:\n- name: c1\n  name: c2\n", SO_E_CONFIG, "3:3: duplicate key \"name\"");
	EXPECT_ERR("current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://a'}\n"
		   "- name: c1\n  cluster: {server: 'https://b'}\n"
		   "contexts:\n- name: dev\n  context: {cluster: c1}\n",
		   SO_E_CONFIG, "clusters[1].name: duplicate name \"c1\" (also clusters[0])");
}

static void bad_namespace(void **state)
{
	(void)state;
	EXPECT_ERR("current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://a'}\n"
		   "contexts:\n- name: dev\n  context: {cluster: c1, namespace: ../../etc}\n",
		   SO_E_CONFIG, "contexts[0].context.namespace: not a valid namespace name");
}

static void alias_bombs(void **state)
{
	(void)state;
	/* Billion laughs: nine levels of nine aliases each. */
	struct buf b = BUF_INIT(1u << 20);
	assert_int_equal(buf_appends(&b, "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"),
			 0);
	for (int i = 1; i < 10; i++) {
		assert_int_equal(buf_appendf(&b, "a%d: &a%d [", i, i), 0);
		for (int j = 0; j < 9; j++)
			assert_int_equal(buf_appendf(&b, "%s*a%d", j ? "," : "", i - 1), 0);
		assert_int_equal(buf_appends(&b, "]\n"), 0);
	}
	/* The whole file goes through the YAML → JSON loader, so the bomb is refused even where no field reads it
	 * (kubectl's go-yaml refuses it too: "excessive aliasing"). */
	assert_int_equal(buf_appends(&b, MIN_USERLESS), 0);
	struct kube_config cfg;
	char err[512] = "";
	int rc = kube_config_parse_kubeconfig(b.data, b.len, "/x/config", tdir, NULL, &cfg, err, sizeof err);
	if (rc != SO_E_TOO_LARGE || !strstr(err, "kubeconfig /x/config: document too complex") ||
	    !strstr(err, "aliases expand to too much data"))
		fail_msg("rc=%d err=%s", rc, err);
	buf_free(&b);

	/* Fan-out through a large scalar: 16k aliases to one mapping with a 256 KiB server string. */
	struct buf c = BUF_INIT(8u << 20);
	assert_int_equal(buf_appends(&c, "x: &big {server: '"), 0);
	for (int i = 0; i < 256 * 1024 / 8; i++)
		assert_int_equal(buf_appends(&c, "https://"), 0);
	assert_int_equal(buf_appends(&c, "'}\nclusters:\n"), 0);
	for (int i = 0; i < 16000; i++)
		assert_int_equal(buf_appendf(&c, "- {name: c%d, cluster: *big}\n", i), 0);
	rc = kube_config_parse_kubeconfig(c.data, c.len, "/x/config", tdir, NULL, &cfg, err, sizeof err);
	if (rc != SO_E_TOO_LARGE || !strstr(err, "kubeconfig /x/config: document too complex"))
		fail_msg("rc=%d err=%s", rc, err);
	buf_free(&c);

	/* Too many anchors or aliases are refused before the tree is built. */
	struct buf d = BUF_INIT(4u << 20);
	assert_int_equal(buf_appends(&d, "l:\n"), 0);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(buf_appendf(&d, "- &n%d x\n", i), 0);
	rc = kube_config_parse_kubeconfig(d.data, d.len, "/x/config", tdir, NULL, &cfg, err, sizeof err);
	assert_int_equal(rc, SO_E_TOO_LARGE);
	assert_non_null(strstr(err, "anchors"));
	buf_reset(&d);
	assert_int_equal(buf_appends(&d, "a: &a x\nl: ["), 0);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(buf_appends(&d, "*a,"), 0);
	assert_int_equal(buf_appends(&d, "]\n"), 0);
	rc = kube_config_parse_kubeconfig(d.data, d.len, "/x/config", tdir, NULL, &cfg, err, sizeof err);
	assert_int_equal(rc, SO_E_TOO_LARGE);
	assert_non_null(strstr(err, "aliases"));
	buf_free(&d);

	/* An alias to its own ancestor is an unknown anchor: no cycle reaches the walk. */
	EXPECT_ERR("clusters: &c [*c]\n", SO_E_CONFIG, "invalid YAML: 1:15: unknown anchor \"c\"");
	EXPECT_ERR("clusters:\n- &e {name: c1, cluster: *e}\n", SO_E_CONFIG, "invalid YAML: 2:26: unknown anchor \"e\"");
	/* Merge keys are refused rather than silently ignored. */
	EXPECT_ERR("base: &b {server: 'https://a'}\nclusters:\n- name: c1\n  cluster:\n    <<: *b\n", SO_E_CONFIG,
		   "invalid YAML: 5:5: merge keys (<<) are not supported");
}

static void deep_nesting(void **state)
{
	(void)state;
	struct buf b = BUF_INIT(1u << 20);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(buf_append(&b, "[", 1), 0);
	struct kube_config cfg;
	char err[512];
	int rc = kube_config_parse_kubeconfig(b.data, b.len, "/x/config", NULL, NULL, &cfg, err, sizeof err);
	assert_int_equal(rc, SO_E_TOO_LARGE); /* a complexity limit, like the anchors and aliases */
	assert_non_null(strstr(err, "document too complex: 1:65: nested deeper than 64"));
	buf_free(&b);
}

static void huge_inputs(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "";
	size_t n = 5u << 20;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, '#', n);
	int rc = kube_config_parse_kubeconfig(big, n, "/x/config", NULL, NULL, &cfg, err, sizeof err);
	assert_int_equal(rc, SO_E_TOO_LARGE);
	assert_non_null(strstr(err, "kubeconfig /x/config: larger than 4 MiB"));

	/* The same through kube_config_load. */
	const char *p = put("big", big, n);
	rc = kube_config_load(p, NULL, &cfg, err, sizeof err);
	assert_int_equal(rc, SO_E_TOO_LARGE);
	assert_non_null(strstr(err, p));
	assert_non_null(strstr(err, "larger than 4 MiB"));

	/* A 3 MiB scalar is fine in size (then fails as a server URL with spaces). */
	size_t m = 3u << 20;
	memcpy(big, "current-context: dev\ncontexts:\n- name: dev\n  context: {cluster: c1}\n"
		    "clusters:\n- name: c1\n  cluster:\n    server: \"https://",
	       strlen("current-context: dev\ncontexts:\n- name: dev\n  context: {cluster: c1}\n"
		      "clusters:\n- name: c1\n  cluster:\n    server: \"https://"));
	memset(big + 200, 'a', m - 200);
	big[m - 3] = ' ';
	big[m - 2] = '"';
	big[m - 1] = '\n';
	rc = kube_config_parse_kubeconfig(big, m, "/x/config", NULL, NULL, &cfg, err, sizeof err);
	assert_int_equal(rc, SO_E_CONFIG);
	assert_non_null(strstr(err, "clusters[0].cluster.server: not a valid URL"));
	free(big);
}

/* No error message ever contains the token, whatever else is wrong. */
static void secret_hygiene(void **state)
{
	(void)state;
	static const char *const bad[] = {
		/* bad server */
		"current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'ftp://" SECRET "'}\n"
		"users:\n- name: u\n  user: {token: " SECRET "}\ncontexts:\n- name: dev\n  context: {cluster: c1, user: u}\n",
		/* credentials in the server URL */
		"current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://u:" SECRET "@k'}\n"
		"contexts:\n- name: dev\n  context: {cluster: c1}\n",
		/* token next to a bad key */
		"current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://k'}\n"
		"users:\n- name: u\n  user: {token: " SECRET ", client-key-data: '" SECRET "'}\n"
		"contexts:\n- name: dev\n  context: {cluster: c1, user: u}\n",
		/* token as bad base64 */
		"current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://k', "
		"certificate-authority-data: '" SECRET "'}\ncontexts:\n- name: dev\n  context: {cluster: c1}\n",
		/* token with a newline (header injection) */
		"current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://k'}\n"
		"users:\n- name: u\n  user: {token: \"" SECRET "\\r\\nX: y\"}\n"
		"contexts:\n- name: dev\n  context: {cluster: c1, user: u}\n",
		/* token twice */
		"users:\n- name: u\n  user:\n    token: " SECRET "\n    token: " SECRET "\n",
		/* token of the wrong type */
		"users:\n- name: u\n  user:\n    token: [" SECRET "]\n",
		/* syntax error right after the token */
		"users:\n- name: u\n  user:\n    token: " SECRET "\n   - ]]\n",
		"users:\n- name: u\n  user:\n    token: \"" SECRET "\n",
		/* unsupported auth next to the token */
		"current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://k'}\n"
		"users:\n- name: u\n  user: {token: " SECRET ", password: " SECRET "}\n"
		"contexts:\n- name: dev\n  context: {cluster: c1, user: u}\n",
		/* token and exec */
		"current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://k'}\n"
		"users:\n- name: u\n  user: {token: " SECRET ", exec: {command: x, apiVersion: v, args: [" SECRET "]}}\n"
		"contexts:\n- name: dev\n  context: {cluster: c1, user: u}\n",
		/* exec env value */
		"current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://k'}\n"
		"users:\n- name: u\n  user: {exec: {command: x, apiVersion: client.authentication.k8s.io/v1, "
		"env: [{name: 'A=" SECRET "', value: " SECRET "}]}}\n"
		"contexts:\n- name: dev\n  context: {cluster: c1, user: u}\n",
		/* token in a bad namespace */
		"current-context: dev\nclusters:\n- name: c1\n  cluster: {server: 'https://k'}\n"
		"contexts:\n- name: dev\n  context: {cluster: c1, namespace: '" SECRET "/x'}\n",
		/* missing references */
		"current-context: dev\nusers:\n- name: u\n  user: {token: " SECRET "}\n"
		"contexts:\n- name: dev\n  context: {cluster: c1, user: u}\n",
		/* a NUL inside the token */
		"users:\n- name: u\n  user: {token: \"" SECRET "\\0" SECRET "\"}\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct kube_config cfg;
		char err[1024] = "";
		int rc = parse(bad[i], NULL, &cfg, err, sizeof err);
		if (rc == SO_OK)
			fail_msg("case %zu parsed", i);
		if (!err[0])
			fail_msg("case %zu: no message", i);
		if (strstr(err, "s3cr3t") || strstr(err, "token-value"))
			fail_msg("case %zu leaks the token: %s", i, err);
		kube_config_free(&cfg);
	}
}

static void names_in_messages_are_sanitized(void **state)
{
	(void)state;
	struct kube_config cfg;
	char err[512] = "";
	int rc = parse("current-context: \"dev\\e[31m\\\"x\"\nclusters: []\ncontexts: []\n", NULL, &cfg, err,
		       sizeof err);
	assert_int_equal(rc, SO_E_CONFIG);
	assert_null(strchr(err, '\x1b'));
	assert_non_null(strstr(err, "dev?[31m?x"));
}

static void free_is_idempotent(void **state)
{
	(void)state;
	struct kube_config cfg;
	struct kube_credentials cr;
	memset(&cfg, 0, sizeof cfg);
	memset(&cr, 0, sizeof cr);
	kube_config_free(&cfg);
	kube_config_free(&cfg);
	kube_config_free(NULL);
	kube_credentials_free(&cr);
	kube_credentials_free(NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(cert_files_relative_to_base_dir),
		T(inline_data),
		T(static_token),
		T(token_file_relative),
		T(exec_plugin),
		T(insecure_and_tls_server_name),
		T(context_override_and_namespace),
		T(anchors_and_aliases_in_moderation),
		T(no_user_is_anonymous),
		T(kubeconfig_merge),
		T(load_order),
		T(incluster),
		T(not_yaml),
		T(top_level_not_mapping),
		T(empty_file),
		T(missing_clusters),
		T(missing_user),
		T(missing_context),
		T(bad_server),
		T(bad_base64),
		T(cert_file_problems),
		T(unsupported_auth),
		T(unsupported_auth_on_unused_user_is_fine),
		T(scalar_where_mapping_expected),
		T(duplicates),
		T(bad_namespace),
		T(alias_bombs),
		T(deep_nesting),
		T(huge_inputs),
		T(secret_hygiene),
		T(names_in_messages_are_sanitized),
		T(free_is_idempotent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
