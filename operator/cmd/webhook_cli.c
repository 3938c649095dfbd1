#include "operator/cmd/webhook_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/admission.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/parse.h"

enum {
	F_MODE = WEBHOOK_CLI_OPT_BASE,
	F_NAMESPACE,
	F_SERVICE,
	F_SECRET,
	F_MUTATING,
	F_VALIDATING,
	F_SANS,
	F_UPSTREAM,
	F_CLIENT_CA,
	/* for tests and development: not in --help (docs/webhook.md lists them) */
	F_CA_VALIDITY,
	F_CERT_VALIDITY,
	F_INTERVAL,
};

const struct option webhook_cli_longopts[WEBHOOK_CLI_NOPTS + 1] = {
	{ "webhook-cert-mode", required_argument, NULL, F_MODE },
	{ "webhook-namespace", required_argument, NULL, F_NAMESPACE },
	{ "webhook-service-name", required_argument, NULL, F_SERVICE },
	{ "webhook-secret-name", required_argument, NULL, F_SECRET },
	{ "webhook-mutating-configuration", required_argument, NULL, F_MUTATING },
	{ "webhook-validating-configuration", required_argument, NULL, F_VALIDATING },
	{ "webhook-cert-extra-sans", required_argument, NULL, F_SANS },
	{ "webhook-upstream-checks-only", no_argument, NULL, F_UPSTREAM },
	{ "webhook-client-ca-file", required_argument, NULL, F_CLIENT_CA },
	{ "webhook-ca-validity", required_argument, NULL, F_CA_VALIDITY },
	{ "webhook-cert-validity", required_argument, NULL, F_CERT_VALIDITY },
	{ "webhook-cert-check-interval", required_argument, NULL, F_INTERVAL },
	{ NULL, 0, NULL, 0 },
};

const char webhook_cli_usage[] =
	"\n"
	"Admission webhook certificates and rules (docs/webhook.md):\n"
	"  --webhook-cert-mode MODE self-managed: the operator makes a CA and serving certificate, keeps them in a\n"
	"                           Secret, writes them to the cert dir and sets the caBundle of its webhook\n"
	"                           configurations; files: it only serves the files (cert-manager, your own).\n"
	"                           Default: files when a --webhook-cert-dir/-file/--webhook-key-file is given,\n"
	"                           else self-managed\n"
	"  --webhook-namespace NS   namespace of the Secret and the webhook Service (default $POD_NAMESPACE, else\n"
	"                           the in-cluster or kubeconfig namespace)\n"
	"  --webhook-service-name NAME\n"
	"                           the webhook Service; the certificate names NAME.NS.svc,\n"
	"                           NAME.NS.svc.cluster.local, NAME.NS and NAME (default " WEBHOOK_DEFAULT_SERVICE ")\n"
	"  --webhook-secret-name NAME\n"
	"                           the Secret holding the CA and the pair (default " WEBHOOK_DEFAULT_SECRET ")\n"
	"  --webhook-mutating-configuration NAME\n"
	"                           MutatingWebhookConfiguration whose caBundle is kept set; \"\" for none\n"
	"                           (default " WEBHOOK_DEFAULT_MUTATING ")\n"
	"  --webhook-validating-configuration NAME\n"
	"                           ValidatingWebhookConfiguration, likewise\n"
	"                           (default " WEBHOOK_DEFAULT_VALIDATING ")\n"
	"  --webhook-cert-extra-sans LIST\n"
	"                           more SANs, comma-separated IP addresses or DNS names (e.g. 127.0.0.1 for a\n"
	"                           webhook the API server reaches at https://127.0.0.1:<port>)\n"
	"  --webhook-upstream-checks-only\n"
	"                           validate with upstream spin-operator's checks only, none of the stricter ones\n"
	"  --webhook-client-ca-file FILE\n"
	"                           PEM CA of the API server's admission client certificate: connections without\n"
	"                           a certificate it signed are refused, and only then are private images (tags\n"
	"                           resolved with registry credentials) pinned (docs/webhook.md)\n";

void webhook_cli_defaults(struct webhook_cli *w)
{
	memset(w, 0, sizeof *w);
	w->service_name = WEBHOOK_DEFAULT_SERVICE;
	w->secret_name = WEBHOOK_DEFAULT_SECRET;
	w->mutating_config = WEBHOOK_DEFAULT_MUTATING;
	w->validating_config = WEBHOOK_DEFAULT_VALIDATING;
}

static int seconds(const char *flag, const char *arg, double min, double *out)
{
	if (parse_double(arg, min, 1e10, out) == SO_OK)
		return 0;
	fprintf(stderr, "spin-operator: --%s: \"%s\" is not a number of seconds >= %g\n", flag, arg, min);
	return 2;
}

int webhook_cli_parse(struct webhook_cli *w, int opt, const char *arg)
{
	switch (opt) {
	case F_MODE:
		if (!strcmp(arg, "self-managed"))
			w->mode = WEBHOOK_CERTS_SELF_MANAGED;
		else if (!strcmp(arg, "files"))
			w->mode = WEBHOOK_CERTS_FILES;
		else {
			fprintf(stderr, "spin-operator: --webhook-cert-mode: \"%s\" is not self-managed or files\n", arg);
			return 2;
		}
		return 0;
	case F_NAMESPACE: w->namespace = arg; return 0;
	case F_SERVICE: w->service_name = arg; return 0;
	case F_SECRET: w->secret_name = arg; return 0;
	case F_MUTATING: w->mutating_config = arg; return 0;
	case F_VALIDATING: w->validating_config = arg; return 0;
	case F_SANS: w->extra_sans = arg; return 0;
	case F_UPSTREAM: w->upstream_only = 1; return 0;
	case F_CLIENT_CA: w->client_ca_file = *arg ? arg : NULL; return 0;
	/* lifetimes of a few seconds are for tests that force renewals */
	case F_CA_VALIDITY: return seconds("webhook-ca-validity", arg, 3, &w->ca_validity_s);
	case F_CERT_VALIDITY: return seconds("webhook-cert-validity", arg, 3, &w->cert_validity_s);
	case F_INTERVAL: return seconds("webhook-cert-check-interval", arg, 0.1, &w->interval_s);
	default: return 2;
	}
}

enum webhook_cert_mode webhook_cli_mode(const struct webhook_cli *w, int cert_paths_given)
{
	if (w->mode != WEBHOOK_CERTS_AUTO)
		return w->mode;
	return cert_paths_given ? WEBHOOK_CERTS_FILES : WEBHOOK_CERTS_SELF_MANAGED;
}

unsigned webhook_cli_admission_flags(const struct webhook_cli *w)
{
	return w->upstream_only ? ADMISSION_UPSTREAM_ONLY : 0u;
}

static void reload(void *user)
{
	webhook_server_check_certs(user);
}

int webhook_cli_start_certs(const struct webhook_cli *w, const struct kube_config *cfg, const char *client_ns,
			    const char *cert_dir, struct selfmanaged **out, char *err, size_t errlen)
{
	const char *env = getenv("POD_NAMESPACE");
	const char *ns = w->namespace ? w->namespace : env && *env ? env : client_ns;
	struct selfmanaged_opts so = {
		.namespace = ns,
		.secret_name = w->secret_name,
		.service_name = w->service_name,
		.extra_sans = w->extra_sans,
		.mutating_config = w->mutating_config,
		.validating_config = w->validating_config,
		.cert_dir = cert_dir,
		.ca_validity_s = (long)w->ca_validity_s,
		.cert_validity_s = (long)w->cert_validity_s,
		.interval_s = w->interval_s,
	};
	int rc;

	*out = NULL;
	if ((rc = selfmanaged_new(cfg, &so, out, err, errlen)))
		return rc;
	log_info("main", "self-managed webhook certificates: Secret %s/%s, SANs %s, files in %s, caBundle kept in "
			 "MutatingWebhookConfiguration \"%s\" and ValidatingWebhookConfiguration \"%s\"",
		 ns, w->secret_name, selfmanaged_sans(*out), cert_dir, w->mutating_config, w->validating_config);
	if ((rc = selfmanaged_start(*out))) {
		selfmanaged_free(*out);
		*out = NULL;
		return so_fail(err, errlen, rc, "cannot start the certificate thread");
	}
	/* With the API server at hand the first round takes a fraction of a second: the server then starts with
	 * its certificate instead of logging that the files are missing. */
	if (!selfmanaged_wait_first_round(*out, WEBHOOK_CLI_FIRST_ROUND_S))
		log_warn("main", "self-managed webhook certificates: not written yet (the API server is slow or out of "
				 "reach); the webhook starts without them and loads them when they are");
	return SO_OK;
}

void webhook_cli_certs_attach(struct selfmanaged **m, struct webhook_server *srv)
{
	if (!*m)
		return;
	if (!srv) { /* the webhook did not start after all: no certificates to keep */
		selfmanaged_free(*m);
		*m = NULL;
		return;
	}
	selfmanaged_set_on_files(*m, reload, srv);
	webhook_server_check_certs(srv); /* files written between the server's first read and now */
}
