/*
 * The flags upstream spin-operator's manager (cmd/main.go, controller-runtime, zap) takes that have no flag of
 * our own: accepted so that upstream's chart and kustomize args run unchanged, mapped onto what we have
 * (docs/operations.md has the table). operator/cmd/main.c appends upstream_cli_longopts to its getopt table, hands every
 * option id from UPSTREAM_CLI_OPT_BASE on to upstream_cli_parse, tells upstream_cli_note_log which of its own
 * logging flags were given, and calls upstream_cli_finish after the last flag.
 *
 * Booleans take Go's forms: --flag alone, --flag=true|false (and 1, t, T, TRUE, True, 0, f, F, FALSE, False);
 * like Go's flag package, a separate word ("--leader-elect false") is not a value.
 */
#ifndef SO_UPSTREAM_CLI_H
#define SO_UPSTREAM_CLI_H

#include <getopt.h>

#define UPSTREAM_CLI_OPT_BASE 0x4000 /* getopt ids of these flags start here */
#define UPSTREAM_CLI_NOPTS 8         /* entries of upstream_cli_longopts before its terminator */

/* The Lease upstream's manager elects its leader with (LeaderElectionID in cmd/main.go). */
#define UPSTREAM_LEADER_ELECTION_ID "90ba2d18.spinkube.dev"

struct upstream_cli {
	int leader_elect;    /* --leader-elect (default false, as upstream) */
	int enable_webhooks; /* --enable-webhooks: -1 not given (webhooks on), 0 off, 1 on */
	int enable_http2;    /* --enable-http2: accepted; our servers speak HTTP/1.1 only */
	int zap_devel;       /* --zap-devel: -1 not given, 0 production defaults, 1 development defaults */
	int level_set;       /* a level was given (--log-level or --zap-log-level): zap-devel's does not apply */
	int format_set;      /* likewise for --log-format / --zap-encoder */
};

extern const struct option upstream_cli_longopts[UPSTREAM_CLI_NOPTS + 1];
extern const char upstream_cli_usage[];

void upstream_cli_defaults(struct upstream_cli *u);
/* One flag (opt from upstream_cli_longopts). 0, or 2 after a message on stderr for a bad value. The zap level
 * and encoder take effect at once (operator/base/log.h), as --log-level and --log-format do. */
int upstream_cli_parse(struct upstream_cli *u, int opt, const char *arg);
/* operator/cmd/main.c's own --log-level (level) or --log-format (format) was given. */
void upstream_cli_note_log(struct upstream_cli *u, int level, int format);
/* After the last flag: --zap-devel's level and format where none was given explicitly. */
void upstream_cli_finish(const struct upstream_cli *u);
/* Whether the admission webhook runs as far as these flags say (--enable-webhooks=false turns it off). */
int upstream_cli_webhooks(const struct upstream_cli *u);

#endif
