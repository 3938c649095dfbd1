/*
 * The daemon's flags for the webhook's certificate mode and rule set, kept out of operator/cmd/main.c: operator/cmd/main.c
 * appends webhook_cli_longopts to its own getopt_long table, hands every option id from WEBHOOK_CLI_OPT_BASE
 * on to webhook_cli_parse, prints webhook_cli_usage after its own help, and in the self-managed mode calls
 * webhook_cli_start_certs before starting the server and webhook_cli_certs_attach after. docs/webhook.md
 * describes each flag.
 */
#ifndef SO_WEBHOOK_CLI_H
#define SO_WEBHOOK_CLI_H

#include <getopt.h>
#include <stddef.h>

#include "operator/kube/config.h"
#include "webhook/certs/selfmanaged.h"
#include "webhook/webhook_server.h"

#define WEBHOOK_CLI_OPT_BASE 0x1000 /* getopt ids of these flags start here; main's stay below */
#define WEBHOOK_CLI_NOPTS 12        /* entries of webhook_cli_longopts before its terminator */

#define WEBHOOK_DEFAULT_SERVICE "spin-operator-webhook-service"
#define WEBHOOK_DEFAULT_SECRET "spin-operator-webhook-server-cert"
#define WEBHOOK_DEFAULT_MUTATING "spin-operator-mutating-webhook-configuration"
#define WEBHOOK_DEFAULT_VALIDATING "spin-operator-validating-webhook-configuration"

enum webhook_cert_mode { WEBHOOK_CERTS_AUTO, WEBHOOK_CERTS_SELF_MANAGED, WEBHOOK_CERTS_FILES };

struct webhook_cli {
	enum webhook_cert_mode mode; /* AUTO until --webhook-cert-mode is given */
	const char *namespace;       /* NULL: $POD_NAMESPACE, then the client's namespace */
	const char *service_name;
	const char *secret_name;
	const char *mutating_config;
	const char *validating_config;
	const char *extra_sans;
	double ca_validity_s, cert_validity_s, interval_s; /* 0: the defaults of webhook/certs/selfmanaged.h */
	int upstream_only;
	const char *client_ca_file; /* --webhook-client-ca-file: webhook_server_opts.client_ca_file */
};

extern const struct option webhook_cli_longopts[WEBHOOK_CLI_NOPTS + 1];
extern const char webhook_cli_usage[];

void webhook_cli_defaults(struct webhook_cli *w);
/* One flag (opt from webhook_cli_longopts). 0, or 2 after a message on stderr for a bad value. */
int webhook_cli_parse(struct webhook_cli *w, int opt, const char *arg);

/* The mode in force: as given, else files when any certificate path flag was given, else self-managed. */
enum webhook_cert_mode webhook_cli_mode(const struct webhook_cli *w, int cert_paths_given);
/* The admission_ctx flags the rule set asks for (ADMISSION_UPSTREAM_ONLY). */
unsigned webhook_cli_admission_flags(const struct webhook_cli *w);

/* How long webhook_cli_start_certs waits for the first round before the server starts anyway. */
#define WEBHOOK_CLI_FIRST_ROUND_S 2.0

/*
 * Self-managed mode, before the server starts: sets up and starts the certificate thread writing into
 * cert_dir, and waits up to WEBHOOK_CLI_FIRST_ROUND_S for its first round, so the server finds its files.
 * client_ns is the namespace the API client defaults to (in-cluster: the pod's), used when neither
 * --webhook-namespace nor $POD_NAMESPACE says otherwise. *out is freed with selfmanaged_free.
 */
int webhook_cli_start_certs(const struct webhook_cli *w, const struct kube_config *cfg, const char *client_ns,
			    const char *cert_dir, struct selfmanaged **out, char *err, size_t errlen);
/* After the server start: the thread reloads srv whenever it rewrites the files. With srv NULL (the webhook
 * did not start) the thread is stopped and *m freed. NULL *m is fine. */
void webhook_cli_certs_attach(struct selfmanaged **m, struct webhook_server *srv);

#endif
