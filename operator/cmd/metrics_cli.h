/*
 * The daemon's --metrics-* flags (upstream's cmd/main.go), kept out of operator/cmd/main.c as operator/cmd/webhook_cli.h does:
 * operator/cmd/main.c appends metrics_cli_longopts to its getopt_long table, hands every option id from
 * METRICS_CLI_OPT_BASE on to metrics_cli_parse, prints metrics_cli_usage after its own help, and starts the
 * endpoint with metrics_cli_start (--metrics-bind-address stays main's flag). docs/operations.md, "Metrics".
 *
 *   --metrics-secure[=true|false]  HTTPS with TokenReview/SubjectAccessReview (default true, as upstream)
 *   --metrics-cert-path DIR        certificate directory; without it a self-signed certificate is made
 *   --metrics-cert-name NAME       certificate file in DIR (default tls.crt)
 *   --metrics-cert-key NAME        key file in DIR (default tls.key)
 */
#ifndef SO_METRICS_CLI_H
#define SO_METRICS_CLI_H

#include <getopt.h>
#include <stddef.h>

#include "operator/kube/client.h"
#include "operator/runtime/metrics_server.h"

#define METRICS_CLI_OPT_BASE 0x3000 /* getopt ids of these flags start here */
#define METRICS_CLI_NOPTS 4         /* entries of metrics_cli_longopts before its terminator */

struct metrics_cli {
	int secure;
	const char *cert_path; /* NULL: self-signed */
	const char *cert_name;
	const char *cert_key;
};

extern const struct option metrics_cli_longopts[METRICS_CLI_NOPTS + 1];
extern const char metrics_cli_usage[];

void metrics_cli_defaults(struct metrics_cli *m);
/* One flag (opt from metrics_cli_longopts, arg optarg or NULL). 0, or 2 after a message on stderr. */
int metrics_cli_parse(struct metrics_cli *m, int opt, const char *arg);

/* Starts the endpoint on bind_addr as the flags say, logging where it listens; reviews go through client.
 * *out stays NULL for "0". A failure is logged and returned. */
int metrics_cli_start(const struct metrics_cli *m, const char *bind_addr, struct kube_client *client,
		      int (*write)(void *ud, struct buf *out), void *ud, struct metrics_server **out);

#endif
