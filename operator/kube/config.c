/*
 * Where the configuration comes from (see config.h for the order): file selection, the KUBECONFIG merge and the
 * in-cluster service account. Parsing and resolution of kubeconfig files live in kubeconfig.c.
 */
#include "kube/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/file.h"
#include "kube/names.h"
#include "kube/kubeconfig.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/strv.h"

#define KUBECONFIG_MAX_FILES 64

void kube_config_free(struct kube_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->server);
	free(cfg->tls_server_name);
	kube_pem_free(&cfg->ca);
	kube_pem_free(&cfg->client_cert);
	kube_pem_free(&cfg->client_key);
	kube_secret_free(cfg->token);
	free(cfg->token_file);
	free(cfg->ca_file);
	if (cfg->exec) {
		free(cfg->exec->command);
		strv_free(cfg->exec->args);
		strv_free(cfg->exec->env);
		free(cfg->exec->api_version);
		free(cfg->exec);
	}
	free(cfg->namespace);
	free(cfg->context);
	free(cfg->source);
	memset(cfg, 0, sizeof *cfg);
}

void kube_credentials_free(struct kube_credentials *c)
{
	if (!c)
		return;
	kube_secret_free(c->token);
	kube_pem_free(&c->client_cert);
	kube_pem_free(&c->client_key);
	kube_pem_free(&c->ca);
	c->token = NULL;
}

/* ---- in-cluster ---- */

static int valid_port(const char *s)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	return v >= 1 && v <= 65535;
}

static int valid_host(const char *s)
{
	if (strlen(s) > 255)
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || c == '/' || c == '@' || c == '?' || c == '#')
			return 0;
	}
	return 1;
}

static int is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

int kube_config_incluster(const char *sa_dir, struct kube_config *out, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *ca_path = NULL, *ns_path = NULL, *token = NULL;
	struct buf b = BUF_INIT(KUBE_CONFIG_MAX_FILE);
	struct buf srv = BUF_INIT(4096);
	int rc, e = 0;
	char msg[512];

	memset(out, 0, sizeof *out);
	if (err && errlen)
		err[0] = '\0';
	if (!host || !*host || !port || !*port)
		return so_fail(err, errlen, SO_E_CONFIG,
			    "in-cluster: not running in a cluster (KUBERNETES_SERVICE_HOST and "
			    "KUBERNETES_SERVICE_PORT are not set)");
	if (!valid_port(port))
		return so_fail(err, errlen, SO_E_CONFIG, "in-cluster: KUBERNETES_SERVICE_PORT: not a port number");
	if (!valid_host(host))
		return so_fail(err, errlen, SO_E_CONFIG, "in-cluster: KUBERNETES_SERVICE_HOST: not a host name or address");

	/* An IPv6 literal needs brackets in a URL. Cannot pass srv's cap: host and port lengths are checked above. */
	if (strchr(host, ':') && host[0] != '[')
		buf_appendf(&srv, "https://[%s]:%s", host, port);
	else
		buf_appendf(&srv, "https://%s:%s", host, port);
	out->server = buf_steal(&srv);
	out->token_file = kube_path_join(sa_dir, "token");
	ca_path = kube_path_join(sa_dir, "ca.crt");
	ns_path = kube_path_join(sa_dir, "namespace");
	out->source = mem_strdup("in-cluster");

	/* The token is only checked here; kube_auth re-reads it as the kubelet rotates it. */
	rc = kube_token_file_read(out->token_file, &token, msg, sizeof msg);
	kube_secret_free(token);
	if (rc) {
		rc = so_fail(err, errlen, SO_E_CONFIG, "in-cluster: %s", msg);
		goto out;
	}

	rc = kube_file_read(ca_path, KUBE_CONFIG_MAX_FILE, &b, &e);
	if (rc == SO_E_IO) {
		rc = so_fail(err, errlen, SO_E_CONFIG, "in-cluster: %s: %s", ca_path, kube_file_strerror(e));
		goto out;
	} else if (rc) {
		rc = so_fail(err, errlen, rc, "in-cluster: %s: larger than %u MiB", ca_path, KUBE_CONFIG_MAX_FILE >> 20);
		goto out;
	}
	if (b.len == 0) {
		rc = so_fail(err, errlen, SO_E_CONFIG, "in-cluster: %s: empty", ca_path);
		goto out;
	}
	out->ca.len = b.len;
	out->ca.data = buf_steal(&b);
	out->ca_file = ca_path; /* kube_auth re-reads it as the cluster CA rotates */
	ca_path = NULL;

	rc = kube_file_read(ns_path, 4096, &b, &e);
	if (rc == SO_OK) {
		size_t s = 0, n = b.len;
		while (s < n && is_space(b.data[s]))
			s++;
		while (n > s && is_space(b.data[n - 1]))
			n--;
		if (n > s) {
			if (!kube_dns1123_label(b.data + s, n - s)) {
				rc = so_fail(err, errlen, SO_E_CONFIG, "in-cluster: %s: not a valid namespace name", ns_path);
				goto out;
			}
			out->namespace = mem_strndup(b.data + s, n - s);
		}
	} else if (rc == SO_E_TOO_LARGE) {
		rc = so_fail(err, errlen, SO_E_CONFIG, "in-cluster: %s: not a valid namespace name", ns_path);
		goto out;
	} else if (e != ENOENT) {
		rc = so_fail(err, errlen, SO_E_CONFIG, "in-cluster: %s: %s", ns_path, kube_file_strerror(e));
		goto out;
	}
	if (!out->namespace)
		out->namespace = mem_strdup("default");
	rc = SO_OK;
out:
	buf_free(&b);
	buf_free(&srv);
	free(ca_path);
	free(ns_path);
	if (rc)
		kube_config_free(out);
	return rc;
}

/* ---- kubeconfig files ---- */

/* The directory part of path ("" when it has none, "/" for "/x"). */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return mem_strdup("");
	if (slash == path)
		return mem_strdup("/");
	return mem_strndup(path, (size_t)(slash - path));
}

/*
 * Reads and parses one file. With skip_missing a file that does not exist yields SO_OK and *out = NULL
 * (kubectl skips missing KUBECONFIG entries).
 */
static int load_file(const char *path, int skip_missing, struct kube_kubeconfig **out, char *err, size_t errlen)
{
	struct buf b = BUF_INIT(KUBE_CONFIG_MAX_FILE);
	char *dir = NULL;
	int rc, e = 0;

	*out = NULL;
	rc = kube_file_read(path, KUBE_CONFIG_MAX_FILE, &b, &e);
	if (rc == SO_E_IO && e == ENOENT && skip_missing)
		return SO_OK;
	if (rc == SO_E_IO)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s", path, kube_file_strerror(e));
	if (rc)
		return so_fail(err, errlen, rc, "kubeconfig %s: larger than %u MiB", path, KUBE_CONFIG_MAX_FILE >> 20);
	dir = dir_of(path);
	rc = kube_kubeconfig_parse(b.data, b.len, path, dir, out, err, errlen);
	/* The text held tokens and keys. */
	explicit_bzero(b.data, b.alloc);
	buf_free(&b);
	free(dir);
	return rc;
}

static int load_files(char *const *paths, size_t n, int skip_missing, const char *context, struct kube_config *out,
		      int *found, char *err, size_t errlen)
{
	struct kube_kubeconfig *files[KUBECONFIG_MAX_FILES];
	struct buf label = BUF_INIT(1u << 20);
	size_t nf = 0;
	int rc = SO_OK;

	*found = 0;
	for (size_t i = 0; i < n; i++) {
		struct kube_kubeconfig *f;
		rc = load_file(paths[i], skip_missing, &f, err, errlen);
		if (rc)
			goto out;
		if (!f)
			continue;
		files[nf++] = f;
		if ((label.len && buf_append(&label, ":", 1)) || buf_appends(&label, paths[i])) {
			rc = so_fail(err, errlen, SO_E_TOO_LARGE, "kubeconfig: the file names are longer than %zu bytes",
				     label.cap);
			goto out;
		}
	}
	if (!nf)
		goto out;
	*found = 1;
	rc = kube_kubeconfig_resolve(files, nf, label.data, context, out, err, errlen);
out:
	for (size_t i = 0; i < nf; i++)
		kube_kubeconfig_free(files[i]);
	buf_free(&label);
	return rc;
}

/* Splits a colon-separated list, dropping empty and repeated entries. */
static int split_list(const char *list, char ***out, size_t *n, char *err, size_t errlen)
{
	char **v = mem_calloc(KUBECONFIG_MAX_FILES + 1, sizeof *v);
	size_t k = 0;
	const char *p = list;

	*out = NULL;
	*n = 0;
	while (*p) {
		size_t len = strcspn(p, ":");
		int dup = 0;

		if (len) {
			for (size_t i = 0; i < k && !dup; i++)
				dup = strlen(v[i]) == len && memcmp(v[i], p, len) == 0;
			if (!dup) {
				if (k == KUBECONFIG_MAX_FILES) {
					strv_free(v);
					return so_fail(err, errlen, SO_E_CONFIG, "KUBECONFIG: more than %d files",
						    KUBECONFIG_MAX_FILES);
				}
				v[k++] = mem_strndup(p, len);
			}
		}
		p += len;
		if (*p == ':')
			p++;
	}
	*out = v;
	*n = k;
	return SO_OK;
}

/* client-go's rule: in-cluster config is possible when both variables are set and the token file exists. */
static int incluster_possible(void)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");

	return host && *host && port && *port && access(KUBE_SA_DIR "/token", F_OK) == 0;
}

int kube_config_load(const char *kubeconfig_path, const char *context, struct kube_config *out, char *err,
		     size_t errlen)
{
	const char *env = getenv("KUBECONFIG");
	const char *home = getenv("HOME");
	char **list = NULL;
	char *home_cfg = NULL;
	size_t n = 0;
	int rc, found = 0;

	memset(out, 0, sizeof *out);
	if (err && errlen)
		err[0] = '\0';
	if (context && !*context)
		context = NULL;

	/* 1. --kubeconfig: must exist. */
	if (kubeconfig_path && *kubeconfig_path) {
		char *one[1] = { (char *)kubeconfig_path };
		return load_files(one, 1, 0, context, out, &found, err, errlen);
	}

	/* 2. KUBECONFIG: merged; missing files skipped. */
	if (env && *env) {
		rc = split_list(env, &list, &n, err, errlen);
		if (rc)
			goto out;
		rc = load_files(list, n, 1, context, out, &found, err, errlen);
		if (rc || found)
			goto out;
	}

	/* 3. In-cluster (not when a context was asked for: that names a kubeconfig context). */
	if (!context && incluster_possible()) {
		rc = kube_config_incluster(KUBE_SA_DIR, out, err, errlen);
		goto out;
	}
	if (env && *env) {
		/* As in client-go, a set KUBECONFIG replaces $HOME/.kube/config. */
		rc = so_fail(err, errlen, SO_E_CONFIG, "KUBECONFIG: none of the listed files exist");
		goto out;
	}

	/* 4. $HOME/.kube/config. */
	if (home && *home) {
		home_cfg = kube_path_join(home, ".kube/config");
		char *one[1] = { home_cfg };
		rc = load_files(one, 1, 1, context, out, &found, err, errlen);
		if (rc || found)
			goto out;
	}
	rc = so_fail(err, errlen, SO_E_CONFIG,
		  "no configuration: no --kubeconfig, no KUBECONFIG, not running in a cluster and no "
		  "$HOME/.kube/config");
out:
	strv_free(list);
	free(home_cfg);
	return rc;
}
