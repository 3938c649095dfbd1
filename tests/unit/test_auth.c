/*
 * struct kube_auth: static credentials, token-file rotation (clock shifted through the test hook, no sleeping),
 * and ExecCredential plugins written as small shell scripts: success, caching, expiry, invalidation, failure,
 * timeout, oversized output, bad JSON, environment and arguments, concurrency.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "operator/kube/config.h"
#include "operator/kube/auth.h"
#include "operator/kube/exec.h"
#include "operator/base/err.h"

#define API_V1 "client.authentication.k8s.io/v1"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nMIIBclientFAKE\n-----END CERTIFICATE-----\n"
#define KEY_PEM "-----BEGIN PRIVATE KEY-----\nMIIEkeyFAKEkey\n-----END PRIVATE KEY-----\n"

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
	snprintf(tdir, sizeof tdir, "/tmp/test_auth.XXXXXX");
	if (!mkdtemp(tdir))
		return -1;
	kube_exec_set_timeout_ms(0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kube_exec_set_timeout_ms(0);
	rm_rf(tdir);
	return 0;
}

static char *path_in(const char *name)
{
	static char paths[8][512];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, 512, "%s/%s", tdir, name);
	return p;
}

static const char *write_file(const char *name, const char *content, mode_t mode)
{
	char *p = path_in(name);
	char tmp[600];
	FILE *f;
	/* Write then rename, as the kubelet does, so a running reader never sees half a file. */
	snprintf(tmp, sizeof tmp, "%s.tmp", p);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	chmod(tmp, mode);
	assert_int_equal(rename(tmp, p), 0);
	return p;
}

/* A plugin script: "#!/bin/sh" + body. */
static const char *plugin(const char *name, const char *body)
{
	char script[8192];
	snprintf(script, sizeof script, "#!/bin/sh\n%s\n", body);
	return write_file(name, script, 0700);
}

/* How many times the plugin ran: each run appends one line to tdir/runs. */
static int runs(void)
{
	FILE *f = fopen(path_in("runs"), "r");
	int n = 0, c;
	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[65536];
	size_t n;
	assert_non_null(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static char *argv_v[8];
static char *env_v[8];
static struct kube_exec_config exec_cfg;

/* A config whose exec plugin is the given script. */
static void exec_config(struct kube_config *cfg, const char *cmd)
{
	memset(cfg, 0, sizeof *cfg);
	memset(&exec_cfg, 0, sizeof exec_cfg);
	memset(argv_v, 0, sizeof argv_v);
	memset(env_v, 0, sizeof env_v);
	exec_cfg.command = (char *)cmd;
	exec_cfg.args = argv_v;
	exec_cfg.env = env_v;
	exec_cfg.api_version = (char *)API_V1;
	cfg->exec = &exec_cfg;
	cfg->server = (char *)"https://k.example:6443";
}

static void cred_json(char *dst, size_t n, const char *status)
{
	snprintf(dst, n,
		 "echo run >> '%s'\n"
		 "cat <<'EOF'\n{\"apiVersion\":\"" API_V1 "\",\"kind\":\"ExecCredential\",\"status\":%s}\nEOF",
		 path_in("runs"), status);
}

static void rfc3339(char *dst, size_t n, time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(dst, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- static credentials ---- */

static void static_token_and_cert(void **state)
{
	(void)state;
	struct kube_config cfg;
	struct kube_auth *a;
	struct kube_credentials c;
	char err[256];

	memset(&cfg, 0, sizeof cfg);
	cfg.token = (char *)"static-tok";
	cfg.client_cert.data = (char *)CERT_PEM;
	cfg.client_cert.len = strlen(CERT_PEM);
	cfg.client_key.data = (char *)KEY_PEM;
	cfg.client_key.len = strlen(KEY_PEM);
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "static-tok");
	assert_ptr_not_equal(c.token, cfg.token); /* a copy */
	assert_int_equal(c.client_cert.len, strlen(CERT_PEM));
	assert_memory_equal(c.client_cert.data, CERT_PEM, c.client_cert.len);
	assert_memory_equal(c.client_key.data, KEY_PEM, c.client_key.len);
	kube_credentials_free(&c);
	kube_auth_invalidate(a);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "static-tok");
	kube_credentials_free(&c);
	kube_auth_free(a);

	/* No credentials at all: anonymous. */
	memset(&cfg, 0, sizeof cfg);
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_null(c.token);
	assert_null(c.client_cert.data);
	kube_credentials_free(&c);
	kube_auth_free(a);
	kube_auth_free(NULL);
}

/* ---- in-cluster CA bundle ---- */

/* A self-signed P-256 certificate named cn, as PEM (caller frees). */
static char *make_cert_pem(const char *cn)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long len;

	assert_non_null(key);
	assert_non_null(x);
	assert_non_null(bio);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(bio, x), 1);
	len = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)len);
	assert_non_null(out);
	BIO_free(bio);
	X509_free(x);
	EVP_PKEY_free(key);
	return out;
}

static void expect_ca(struct kube_auth *a, const char *want)
{
	struct kube_credentials c;
	char err[256];
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_non_null(c.ca.data);
	assert_int_equal(c.ca.len, strlen(want));
	assert_memory_equal(c.ca.data, want, c.ca.len);
	assert_string_equal(c.token, "tok"); /* the token still comes along */
	kube_credentials_free(&c);
}

/* The in-cluster ca.crt (a fake service-account directory) is re-read on the token's schedule; a bundle without a
 * certificate or a missing file keeps the previous one; a kubeconfig's inline CA is not re-read. */
static void incluster_ca_rotation(void **state)
{
	(void)state;
	struct kube_config cfg;
	struct kube_auth *a;
	char err[256];
	char *ca_a = make_cert_pem("ca-a"), *ca_b = make_cert_pem("ca-b"), *ca_c = make_cert_pem("ca-c");
	char both[8192];

	write_file("token", "tok", 0600);
	write_file("namespace", "spin-system", 0600);
	write_file("ca.crt", ca_a, 0644);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_incluster(tdir, &cfg, err, sizeof err), SO_OK);
	assert_string_equal(cfg.ca_file, path_in("ca.crt"));
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	kube_auth_freeze_clock(a);
	expect_ca(a, ca_a);

	/* Rotation: the kubelet writes old and new CA together first, then the new one alone. */
	snprintf(both, sizeof both, "%s%s", ca_a, ca_b);
	write_file("ca.crt", both, 0644);
	kube_auth_set_clock_offset(a, 59);
	expect_ca(a, ca_a); /* not yet due */
	kube_auth_set_clock_offset(a, 61);
	expect_ca(a, both);
	write_file("ca.crt", ca_b, 0644);
	kube_auth_set_clock_offset(a, 122);
	expect_ca(a, ca_b);

	/* Garbage, an empty file, a missing file: the previous bundle stays. */
	write_file("ca.crt", "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", 0644);
	kube_auth_set_clock_offset(a, 183);
	expect_ca(a, ca_b);
	write_file("ca.crt", "", 0644);
	kube_auth_set_clock_offset(a, 244);
	expect_ca(a, ca_b);
	unlink(path_in("ca.crt"));
	kube_auth_set_clock_offset(a, 305);
	expect_ca(a, ca_b);
	/* ...until a good one is back. */
	write_file("ca.crt", ca_c, 0644);
	kube_auth_set_clock_offset(a, 366);
	expect_ca(a, ca_c);
	kube_auth_free(a);
	kube_config_free(&cfg);

	/* A CA given in memory (kubeconfig certificate-authority-data) has no file: credentials carry none and the
	 * client uses the configured one. */
	struct kube_credentials c;
	memset(&cfg, 0, sizeof cfg);
	cfg.token = (char *)"tok";
	cfg.ca.data = ca_a;
	cfg.ca.len = strlen(ca_a);
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_null(c.ca.data);
	assert_int_equal(c.ca.len, 0);
	kube_credentials_free(&c);
	kube_auth_free(a);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	free(ca_a);
	free(ca_b);
	free(ca_c);
}

/* ---- token file ---- */

static void token_file_rotation(void **state)
{
	(void)state;
	struct kube_config cfg;
	struct kube_auth *a;
	struct kube_credentials c;
	char err[256];

	memset(&cfg, 0, sizeof cfg);
	cfg.token_file = (char *)write_file("token", "  tok-A\n", 0600);
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	kube_auth_freeze_clock(a); /* the offsets below are then exact: 59 s is 59 s after every read */
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "tok-A"); /* whitespace trimmed */
	kube_credentials_free(&c);

	/* Rotated on disk: still cached... */
	write_file("token", "tok-B\r\n", 0600);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "tok-A");
	kube_credentials_free(&c);
	/* ...until invalidated (a 401). */
	kube_auth_invalidate(a);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "tok-B");
	kube_credentials_free(&c);

	/* Or until 60 s have passed. */
	write_file("token", "tok-C", 0600);
	kube_auth_set_clock_offset(a, 59);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "tok-B");
	kube_credentials_free(&c);
	kube_auth_set_clock_offset(a, 61);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "tok-C");
	kube_credentials_free(&c);

	/* A failed re-read keeps the last good token (the file may be mid-swap). */
	unlink(cfg.token_file);
	kube_auth_invalidate(a);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "tok-C");
	kube_credentials_free(&c);
	/* ...and picks the file up again once it is back. */
	write_file("token", "tok-D", 0600);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "tok-D");
	kube_credentials_free(&c);
	kube_auth_free(a);
}

static void token_file_errors(void **state)
{
	(void)state;
	struct kube_config cfg;
	struct kube_auth *a;
	struct kube_credentials c;
	char err[256];
	static char big[70000];

	memset(&cfg, 0, sizeof cfg);
	cfg.token_file = (char *)write_file("empty", " \n\t\n", 0600);
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_E_CONFIG);
	assert_non_null(strstr(err, "empty"));
	assert_non_null(strstr(err, cfg.token_file));
	assert_null(c.token);
	kube_auth_free(a);

	cfg.token_file = path_in("missing");
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_E_IO);
	assert_non_null(strstr(err, "No such file"));
	kube_auth_free(a);

	memset(big, 'x', sizeof big - 1);
	cfg.token_file = (char *)write_file("big", big, 0600);
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_E_TOO_LARGE);
	assert_non_null(strstr(err, "larger than 64 KiB"));
	kube_auth_free(a);

	cfg.token_file = (char *)write_file("ctl", "abc\ndef\n", 0600);
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_E_CONFIG);
	assert_non_null(strstr(err, "control characters"));
	assert_null(strstr(err, "abc"));
	kube_auth_free(a);
}

/* ---- exec plugins ---- */

static void exec_success_and_caching(void **state)
{
	(void)state;
	struct kube_config cfg;
	struct kube_auth *a;
	struct kube_credentials c;
	char err[256], body[2048];

	cred_json(body, sizeof body, "{\"token\":\"exec-tok\"}");
	exec_config(&cfg, plugin("plugin.sh", body));
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(runs(), 0); /* lazily */
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "exec-tok");
	kube_credentials_free(&c);
	assert_int_equal(runs(), 1);
	/* No expirationTimestamp: cached until invalidated. */
	kube_auth_set_clock_offset(a, 365 * 86400);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	kube_credentials_free(&c);
	assert_int_equal(runs(), 1);
	kube_auth_invalidate(a);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "exec-tok");
	kube_credentials_free(&c);
	assert_int_equal(runs(), 2);
	kube_auth_free(a);
}

static void exec_expiry(void **state)
{
	(void)state;
	struct kube_config cfg;
	struct kube_auth *a;
	struct kube_credentials c;
	char err[256], body[2048], status[256], ts[64];

	rfc3339(ts, sizeof ts, time(NULL) + 3600);
	snprintf(status, sizeof status, "{\"token\":\"exp-tok\",\"expirationTimestamp\":\"%s\"}", ts);
	cred_json(body, sizeof body, status);
	exec_config(&cfg, plugin("plugin.sh", body));
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "exp-tok");
	kube_credentials_free(&c);
	assert_int_equal(runs(), 1);
	kube_auth_set_clock_offset(a, 3000);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	kube_credentials_free(&c);
	assert_int_equal(runs(), 1);
	/* Within the margin before expiry: refreshed. */
	kube_auth_set_clock_offset(a, 3595);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	kube_credentials_free(&c);
	assert_int_equal(runs(), 2);

	/* A failing refresh before the real expiry falls back to the cached credentials... */
	rfc3339(ts, sizeof ts, time(NULL) + 100);
	snprintf(status, sizeof status, "{\"token\":\"short-tok\",\"expirationTimestamp\":\"%s\"}", ts);
	cred_json(body, sizeof body, status);
	plugin("plugin.sh", body);
	kube_auth_set_clock_offset(a, 0);
	kube_auth_invalidate(a);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "short-tok");
	kube_credentials_free(&c);
	snprintf(body, sizeof body, "echo run >> '%s'; echo 'temporarily broken' >&2; exit 3", path_in("runs"));
	plugin("plugin.sh", body);
	kube_auth_set_clock_offset(a, 95);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "short-tok");
	kube_credentials_free(&c);
	/* ...but not after it. */
	kube_auth_set_clock_offset(a, 101);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_E_IO);
	assert_non_null(strstr(err, "exited with status 3: temporarily broken"));
	assert_null(c.token);
	kube_auth_free(a);
}

static void exec_client_certificate(void **state)
{
	(void)state;
	struct kube_config cfg;
	struct kube_auth *a;
	struct kube_credentials c;
	char err[256], body[2048];

	cred_json(body, sizeof body,
		  "{\"clientCertificateData\":\"-----BEGIN CERTIFICATE-----\\nX\\n-----END CERTIFICATE-----\\n\","
		  "\"clientKeyData\":\"-----BEGIN PRIVATE KEY-----\\nY\\n-----END PRIVATE KEY-----\\n\"}");
	exec_config(&cfg, plugin("plugin.sh", body));
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_null(c.token);
	assert_string_equal(c.client_cert.data, "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n");
	assert_string_equal(c.client_key.data, "-----BEGIN PRIVATE KEY-----\nY\n-----END PRIVATE KEY-----\n");
	kube_credentials_free(&c);
	kube_auth_free(a);
}

static void exec_environment_and_args(void **state)
{
	(void)state;
	struct kube_config cfg;
	struct kube_auth *a;
	struct kube_credentials c;
	char err[256], body[4096], cred[2048];
	struct kube_pem ca = { (char *)"-----BEGIN CERTIFICATE-----\n", 28 };

	cred_json(cred, sizeof cred, "{\"token\":\"t\"}");
	snprintf(body, sizeof body,
		 "cd '%s'\n"
		 "printf '%%s' \"$KUBERNETES_EXEC_INFO\" > info\n"
		 "printf '%%s|' \"$FOO\" \"$HOME_OVERRIDE\" \"$PATH\" > env\n"
		 "for a in \"$@\"; do printf '[%%s]' \"$a\"; done > args\n"
		 "cat > stdin\n" /* stdin is /dev/null: returns at once */
		 "%s",
		 tdir, cred);
	exec_config(&cfg, plugin("plugin.sh", body));
	argv_v[0] = (char *)"--flag";
	argv_v[1] = (char *)"two words";
	argv_v[2] = (char *)"$(touch pwned);'\"";
	env_v[0] = (char *)"FOO=bar=baz";
	env_v[1] = (char *)"HOME_OVERRIDE=";
	exec_cfg.provide_cluster_info = 1;
	cfg.ca = ca;
	cfg.tls_server_name = (char *)"api.internal";
	setenv("FOO", "from-parent", 1);
	setenv("KUBERNETES_EXEC_INFO", "stale", 1);
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	kube_credentials_free(&c);
	kube_auth_free(a);
	unsetenv("FOO");
	unsetenv("KUBERNETES_EXEC_INFO");

	const char *args = read_all(path_in("args"));
	assert_string_equal(args, "[--flag][two words][$(touch pwned);'\"]");
	assert_int_not_equal(access(path_in("pwned"), F_OK), 0); /* no shell in between */
	const char *env = read_all(path_in("env"));
	assert_true(strncmp(env, "bar=baz||", 9) == 0); /* config env overrides the parent's */
	assert_non_null(strstr(env, "/")); /* PATH inherited */
	const char *info = read_all(path_in("info"));
	assert_non_null(strstr(info, "\"kind\":\"ExecCredential\""));
	assert_non_null(strstr(info, "\"apiVersion\":\"" API_V1 "\""));
	assert_non_null(strstr(info, "\"interactive\":false"));
	assert_non_null(strstr(info, "\"server\":\"https://k.example:6443\""));
	assert_non_null(strstr(info, "\"tls-server-name\":\"api.internal\""));
	assert_non_null(strstr(info, "\"certificate-authority-data\":\"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\""));
	assert_string_equal(read_all(path_in("stdin")), "");

	/* Without provideClusterInfo no cluster is passed. */
	exec_cfg.provide_cluster_info = 0;
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	kube_credentials_free(&c);
	kube_auth_free(a);
	info = read_all(path_in("info"));
	assert_null(strstr(info, "cluster"));
	assert_non_null(strstr(info, "\"interactive\":false"));
}

static void expect_exec_error(const char *body, int code, const char *want)
{
	struct kube_config cfg;
	struct kube_auth *a;
	struct kube_credentials c;
	char err[512] = "";
	const char *cmd = plugin("bad.sh", body);
	exec_config(&cfg, cmd);
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	int rc = kube_auth_get(a, &c, err, sizeof err);
	if (rc != code || !strstr(err, want) || !strstr(err, cmd))
		fail_msg("rc=%d (want %d) err=\"%s\" (want \"%s\")", rc, code, err, want);
	assert_null(c.token);
	kube_auth_free(a);
	/* Whatever happened, the child was reaped. */
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void exec_failures(void **state)
{
	(void)state;
	char body[2048];

	expect_exec_error("echo 'error: you must be logged in' >&2\necho second line >&2\nexit 1", SO_E_IO,
			  "exited with status 1: error: you must be logged in");
	expect_exec_error("exit 2", SO_E_IO, "exited with status 2");
	expect_exec_error("kill -9 $$", SO_E_IO, "killed by signal 9");
	expect_exec_error("echo 'not json'", SO_E_BAD_RESPONSE, "invalid ExecCredential: not valid JSON");
	expect_exec_error("true", SO_E_BAD_RESPONSE, "invalid ExecCredential: empty output");
	expect_exec_error("echo '[1]'", SO_E_BAD_RESPONSE, "invalid ExecCredential: not a JSON object");
	cred_json(body, sizeof body, "{}");
	expect_exec_error(body, SO_E_BAD_RESPONSE, "invalid ExecCredential: missing status.token");
	cred_json(body, sizeof body, "{\"token\":42}");
	expect_exec_error(body, SO_E_BAD_RESPONSE, "invalid ExecCredential: status.token is not a string");
	cred_json(body, sizeof body, "{\"token\":\"a\\r\\nInjected: 1\"}");
	expect_exec_error(body, SO_E_BAD_RESPONSE, "status.token contains control characters");
	cred_json(body, sizeof body, "{\"token\":\"t\",\"expirationTimestamp\":\"tomorrow\"}");
	expect_exec_error(body, SO_E_BAD_RESPONSE, "status.expirationTimestamp is not an RFC 3339 time");
	cred_json(body, sizeof body, "{\"clientCertificateData\":\"x\"}");
	expect_exec_error(body, SO_E_BAD_RESPONSE, "status.clientCertificateData is set without status.clientKeyData");
	expect_exec_error("echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
			  "\"status\":{\"token\":\"t\"}}'",
			  SO_E_BAD_RESPONSE, "apiVersion does not match the configured " API_V1);
	expect_exec_error("echo '{\"apiVersion\":\"" API_V1 "\",\"kind\":\"Other\",\"status\":{\"token\":\"t\"}}'",
			  SO_E_BAD_RESPONSE, "kind is not ExecCredential");
	expect_exec_error("echo '{\"apiVersion\":\"" API_V1 "\",\"kind\":\"ExecCredential\"}'", SO_E_BAD_RESPONSE,
			  "missing status");
	expect_exec_error("echo '{\"apiVersion\":\"" API_V1 "\",\"apiVersion\":\"" API_V1 "\"}'", SO_E_BAD_RESPONSE,
			  "not valid JSON");
}

static void exec_bad_json_does_not_echo_output(void **state)
{
	(void)state;
	struct kube_config cfg;
	struct kube_auth *a;
	struct kube_credentials c;
	char err[512] = "";
	exec_config(&cfg, plugin("p.sh", "echo '{\"status\":{\"token\":\"s3cr3t-token-value\"'"));
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_E_BAD_RESPONSE);
	assert_null(strstr(err, "s3cr3t"));
	kube_auth_free(a);
}

static void exec_not_found(void **state)
{
	(void)state;
	struct kube_config cfg;
	struct kube_auth *a;
	struct kube_credentials c;
	char err[512] = "";
	exec_config(&cfg, path_in("no-such-plugin"));
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_E_IO);
	assert_non_null(strstr(err, "cannot run: No such file"));
	kube_auth_free(a);
	/* Through PATH. */
	exec_config(&cfg, "spin-operator-no-such-plugin-xyz");
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_E_IO);
	assert_non_null(strstr(err, "exec plugin spin-operator-no-such-plugin-xyz: cannot run"));
	kube_auth_free(a);
}

static long long ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void exec_timeout(void **state)
{
	(void)state;
	char body[512];
	long long t0;

	kube_exec_set_timeout_ms(1000);
	/* The shell waits on a grandchild that holds the pipes: the whole process group must go. */
	snprintf(body, sizeof body, "sleep 30 &\necho $! > '%s'\nwait", path_in("grandchild"));
	t0 = ms_now();
	expect_exec_error(body, SO_E_TIMEOUT, "timed out after 1 s");
	assert_true(ms_now() - t0 < 5000);
	long gpid = strtol(read_all(path_in("grandchild")), NULL, 10);
	assert_true(gpid > 0);
	/* Killed: gone, or at most a zombie waiting for init. */
	for (int i = 0; i < 100; i++) {
		char st[64], line[256] = "";
		snprintf(st, sizeof st, "/proc/%ld/stat", gpid);
		FILE *f = fopen(st, "r");
		if (!f)
			break;
		if (!fgets(line, sizeof line, f))
			line[0] = '\0';
		fclose(f);
		char *rp = strrchr(line, ')');
		if (rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'))
			break;
		assert_true(i < 99);
		usleep(10000);
	}

	/* A plugin that ignores its output pipe closing but keeps running. */
	expect_exec_error("exec >/dev/null 2>&1\nsleep 30", SO_E_TIMEOUT, "timed out after 1 s");
	kube_exec_set_timeout_ms(1500);
	expect_exec_error("sleep 30", SO_E_TIMEOUT, "timed out after 1500 ms");
}

static void exec_oversized_output(void **state)
{
	(void)state;
	expect_exec_error("head -c 3000000 /dev/zero | tr '\\0' x", SO_E_TOO_LARGE, "output exceeds 1 MiB");
	/* Lots of stderr is fine: only the first 4 KiB is kept. */
	char body[2048], cred[1024];
	cred_json(cred, sizeof cred, "{\"token\":\"t\"}");
	snprintf(body, sizeof body, "head -c 1000000 /dev/zero | tr '\\0' e >&2\n%s", cred);
	struct kube_config cfg;
	struct kube_auth *a;
	struct kube_credentials c;
	char err[256];
	exec_config(&cfg, plugin("noisy.sh", body));
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	assert_int_equal(kube_auth_get(a, &c, err, sizeof err), SO_OK);
	assert_string_equal(c.token, "t");
	kube_credentials_free(&c);
	kube_auth_free(a);
}

struct thread_arg {
	struct kube_auth *a;
	int rc;
	char token[64];
};

static void *getter(void *p)
{
	struct thread_arg *t = p;
	struct kube_credentials c;
	char err[256];
	for (int i = 0; i < 20; i++) {
		t->rc = kube_auth_get(t->a, &c, err, sizeof err);
		if (t->rc)
			return NULL;
		snprintf(t->token, sizeof t->token, "%s", c.token);
		kube_credentials_free(&c);
	}
	return NULL;
}

static void exec_concurrent_callers_share_one_run(void **state)
{
	(void)state;
	struct kube_config cfg;
	struct kube_auth *a;
	char err[256], body[2048];
	pthread_t th[8];
	struct thread_arg args[8];

	cred_json(body, sizeof body, "{\"token\":\"shared\"}");
	/* Slow enough that the threads pile up behind the first run. */
	char slow[2200];
	snprintf(slow, sizeof slow, "sleep 0.2\n%s", body);
	exec_config(&cfg, plugin("plugin.sh", slow));
	assert_int_equal(kube_auth_new(&cfg, &a, err, sizeof err), SO_OK);
	for (int i = 0; i < 8; i++) {
		args[i].a = a;
		args[i].rc = -1;
		assert_int_equal(pthread_create(&th[i], NULL, getter, &args[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].rc, SO_OK);
		assert_string_equal(args[i].token, "shared");
	}
	assert_int_equal(runs(), 1);
	kube_auth_free(a);
}

static void rfc3339_parsing(void **state)
{
	(void)state;
	time_t t;
	assert_int_equal(kube_parse_rfc3339("1970-01-01T00:00:00Z", &t), SO_OK);
	assert_int_equal(t, 0);
	assert_int_equal(kube_parse_rfc3339("2026-11-23T10:00:00Z", &t), SO_OK);
	assert_int_equal(t, 1795428000);
	assert_int_equal(kube_parse_rfc3339("2026-11-23T10:00:00.123456789Z", &t), SO_OK);
	assert_int_equal(t, 1795428000);
	assert_int_equal(kube_parse_rfc3339("2026-11-23T12:30:00+02:30", &t), SO_OK);
	assert_int_equal(t, 1795428000);
	assert_int_equal(kube_parse_rfc3339("2026-11-23t07:00:00-03:00", &t), SO_OK);
	assert_int_equal(t, 1795428000);
	assert_int_equal(kube_parse_rfc3339("2024-02-29T00:00:00Z", &t), SO_OK);
	static const char *const bad[] = { "", "2026-11-23", "2026-11-23T10:00:00", "2026-13-01T00:00:00Z",
					   "2026-02-29T00:00:00Z", "2026-11-31T00:00:00Z", "2026-11-23T24:00:00Z",
					   "2026-11-23T10:00:00.Z", "2026-11-23T10:00:00Zjunk", "2026-11-23T10:00:00+0200",
					   "20x6-11-23T10:00:00Z", "2026-11-23T10:00:00+02" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (kube_parse_rfc3339(bad[i], &t) != SO_E_INVAL)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void parse_credential_directly(void **state)
{
	(void)state;
	struct kube_exec_result r;
	char msg[256];
	const char *ok = "{\"apiVersion\":\"" API_V1 "\",\"kind\":\"ExecCredential\",\"spec\":{},"
			 "\"status\":{\"token\":\"abc\",\"expirationTimestamp\":\"2026-11-23T10:00:00Z\"}}";
	assert_int_equal(kube_exec_parse_credential(ok, strlen(ok), API_V1, &r, msg, sizeof msg), SO_OK);
	assert_string_equal(r.token, "abc");
	assert_int_equal(r.expiry, 1795428000);
	kube_exec_result_free(&r);
	const char *nul = "{\"apiVersion\":\"" API_V1 "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"a\\u0000b\"}}";
	assert_int_equal(kube_exec_parse_credential(nul, strlen(nul), API_V1, &r, msg, sizeof msg), SO_E_BAD_RESPONSE);
	assert_null(r.token);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(static_token_and_cert),
		T(token_file_rotation),
		T(token_file_errors),
		T(incluster_ca_rotation),
		T(exec_success_and_caching),
		T(exec_expiry),
		T(exec_client_certificate),
		T(exec_environment_and_args),
		T(exec_failures),
		T(exec_bad_json_does_not_echo_output),
		T(exec_not_found),
		T(exec_timeout),
		T(exec_oversized_output),
		T(exec_concurrent_callers_share_one_run),
		T(rfc3339_parsing),
		T(parse_credential_directly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
