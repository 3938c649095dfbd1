/*
 * Where the configuration comes from (see config.h for the order): file selection, the KUBECONFIG merge and the
 * in-cluster service account. Parsing and resolution of kubeconfig files live in kubeconfig.c.
 */
#include "operator/kube/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "operator/kube/file.h"
#include "operator/kube/names.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/mem.h"
#include "operator/base/strv.h"

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
