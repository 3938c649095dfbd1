#include "operator/cmd/metrics_cli.h"

#include <stdio.h>
#include <string.h>

#include "operator/base/err.h"
#include "operator/base/log.h"

enum { F_SECURE = METRICS_CLI_OPT_BASE, F_CERT_PATH, F_CERT_NAME, F_CERT_KEY };

const struct option metrics_cli_longopts[METRICS_CLI_NOPTS + 1] = {
	{ "metrics-secure", optional_argument, NULL, F_SECURE },
	{ "metrics-cert-path", required_argument, NULL, F_CERT_PATH },
	{ "metrics-cert-name", required_argument, NULL, F_CERT_NAME },
	{ "metrics-cert-key", required_argument, NULL, F_CERT_KEY },
	{ NULL, 0, NULL, 0 },
};

const char metrics_cli_usage[] =
	"\n"
	"Metrics endpoint (--metrics-bind-address; docs/operations.md, \"Metrics\"):\n"
	"  --metrics-secure[=BOOL]  serve /metrics over HTTPS, to bearer tokens the API server authenticates\n"
	"                           (TokenReview) and authorizes for GET /metrics (SubjectAccessReview); false\n"
	"                           serves plain HTTP to anyone (default true)\n"
	"  --metrics-cert-path DIR  directory holding the metrics certificate and key, reloaded when they change;\n"
	"                           without it a self-signed certificate is made at start\n"
	"  --metrics-cert-name NAME certificate file in --metrics-cert-path (default tls.crt)\n"
	"  --metrics-cert-key NAME  key file in --metrics-cert-path (default tls.key)\n";

void metrics_cli_defaults(struct metrics_cli *m)
{
	memset(m, 0, sizeof *m);
	m->secure = 1;
	m->cert_name = "tls.crt";
	m->cert_key = "tls.key";
}

/* Go's strconv.ParseBool, which upstream's flag package uses. */
static int parse_bool(const char *s, int *out)
{
	static const char *const t[] = { "1", "t", "T", "true", "TRUE", "True" };
	static const char *const f[] = { "0", "f", "F", "false", "FALSE", "False" };
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		if (!strcmp(s, t[i]))
			return *out = 1, 0;
		if (!strcmp(s, f[i]))
			return *out = 0, 0;
	}
	return -1;
}

int metrics_cli_parse(struct metrics_cli *m, int opt, const char *arg)
{
	switch (opt) {
	case F_SECURE:
		if (arg && parse_bool(arg, &m->secure)) {
			fprintf(stderr, "spin-operator: --metrics-secure: \"%s\" is not true or false\n", arg);
			return 2;
		}
		if (!arg)
			m->secure = 1;
		return 0;
	case F_CERT_PATH: m->cert_path = arg; return 0;
	case F_CERT_NAME: m->cert_name = arg; return 0;
	case F_CERT_KEY: m->cert_key = arg; return 0;
	default: return 2;
	}
}

int metrics_cli_start(const struct metrics_cli *m, const char *bind_addr, struct kube_client *client,
		      int (*write)(void *ud, struct buf *out), void *ud, struct metrics_server **out)
{
	char cert[4096], key[4096], err[512] = "";
	unsigned short port = 0;
	struct metrics_auth_backend be;
	struct metrics_server_opts so = { .bind_addr = bind_addr, .secure = m->secure, .write = write, .ud = ud };

	metrics_auth_kube_backend(client, &be);
	so.auth = &be;
	if (m->secure && m->cert_path && *m->cert_path) {
		int a = snprintf(cert, sizeof cert, "%s/%s", m->cert_path, m->cert_name);
		int b = snprintf(key, sizeof key, "%s/%s", m->cert_path, m->cert_key);
		if (a < 0 || (size_t)a >= sizeof cert || b < 0 || (size_t)b >= sizeof key) {
			log_error("main", "metrics: --metrics-cert-path and its file names are too long");
			return SO_E_INVAL;
		}
		so.cert_file = cert;
		so.key_file = key;
	}
	int rc = metrics_server_start(&so, out, &port, err, sizeof err);
	if (rc)
		log_error("main", "metrics: %s", err);
	else if (*out && m->secure)
		log_info("main", "metrics listening on %s (port %u), HTTPS, %s, readers authenticated by TokenReview and "
				 "authorized by SubjectAccessReview", bind_addr, port,
			 so.cert_file ? so.cert_file : "self-signed certificate");
	else if (*out)
		log_info("main", "metrics listening on %s (port %u), plain HTTP, no authentication (--metrics-secure=false)",
			 bind_addr, port);
	return rc;
}
