/*
 * The daemon's image verification, assembled from its flags (operator/cmd/main.c): the registry client
 * (--registry-ca-file, --registry-insecure, --registry-allow-private-realms), credentials through the kube
 * client (kubecreds.h, --registry-credentials-secret) and the verifier (--verify-policy, --verify-pin-digest,
 * --verify-timeout). Keeps operator/cmd/main.c to flag parsing and two calls.
 */
#ifndef SO_VERIFY_SETUP_H
#define SO_VERIFY_SETUP_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "operator/kube/client.h"
#include "operator/base/buf.h"

#define VERIFY_MAX_INSECURE 32

struct verify_setup_opts {
	const char *policy_file;          /* NULL: no verification (verify_setup_start sets *out NULL) */
	int pin;                          /* --verify-pin-digest */
	int64_t timeout_ms;               /* --verify-timeout */
	const char *ca_file;              /* --registry-ca-file */
	const char *insecure[VERIFY_MAX_INSECURE + 1]; /* --registry-insecure, NULL-terminated */
	int allow_private_realms;         /* --registry-allow-private-realms */
	const char *secret;               /* --registry-credentials-secret NAMESPACE/NAME */
};

struct verify_setup;

/*
 * The flags, kept out of operator/cmd/main.c as operator/cmd/webhook_cli.h does: operator/cmd/main.c appends verify_cli_longopts to its
 * getopt_long table, hands every option id from VERIFY_CLI_OPT_BASE on to verify_cli_parse and prints
 * verify_cli_usage after its own help. docs/verify-images.md describes each flag.
 */
#define VERIFY_CLI_OPT_BASE 0x2000 /* getopt ids of these flags start here */
#define VERIFY_CLI_NOPTS 7         /* entries of verify_cli_longopts before its terminator */

extern const struct option verify_cli_longopts[VERIFY_CLI_NOPTS + 1];
extern const char verify_cli_usage[];

void verify_cli_defaults(struct verify_setup_opts *o);
/* One flag (opt from verify_cli_longopts; arg is optarg, kept by pointer and, for --registry-insecure, split in
 * place). 0, or 2 after a message on stderr for a bad value. */
int verify_cli_parse(struct verify_setup_opts *o, int opt, char *arg);

/* Adds the comma-separated hosts of one --registry-insecure value (split in place; value must outlive o).
 * SO_E_INVAL when too many or empty. */
int verify_setup_add_insecure(struct verify_setup_opts *o, char *value);

int verify_setup_start(const struct verify_setup_opts *o, struct kube_client *client, struct verify_setup **out,
		       char *err, size_t errlen);
void verify_setup_stop(struct verify_setup *s);

/* The verifier the admission callbacks take (verifier.h: verifier_admission, ...) and its deadline per review;
 * NULL when s is NULL (no verification). */
struct verifier *verify_setup_verifier(const struct verify_setup *s, int64_t *timeout_ms);
void verify_setup_metrics(struct verify_setup *s, struct buf *out);

#endif
