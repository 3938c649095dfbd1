#include "operator/cmd/upstream_cli.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "operator/base/log.h"
#include "operator/base/parse.h"

enum {
	F_LEADER_ELECT = UPSTREAM_CLI_OPT_BASE,
	F_ENABLE_WEBHOOKS,
	F_ENABLE_HTTP2,
	F_ZAP_DEVEL,
	F_ZAP_ENCODER,
	F_ZAP_LOG_LEVEL,
	F_ZAP_STACKTRACE_LEVEL,
	F_ZAP_TIME_ENCODING,
};

const struct option upstream_cli_longopts[UPSTREAM_CLI_NOPTS + 1] = {
	{ "leader-elect", optional_argument, NULL, F_LEADER_ELECT },
	{ "enable-webhooks", optional_argument, NULL, F_ENABLE_WEBHOOKS },
	{ "enable-http2", optional_argument, NULL, F_ENABLE_HTTP2 },
	{ "zap-devel", optional_argument, NULL, F_ZAP_DEVEL },
	{ "zap-encoder", required_argument, NULL, F_ZAP_ENCODER },
	{ "zap-log-level", required_argument, NULL, F_ZAP_LOG_LEVEL },
	{ "zap-stacktrace-level", required_argument, NULL, F_ZAP_STACKTRACE_LEVEL },
	{ "zap-time-encoding", required_argument, NULL, F_ZAP_TIME_ENCODING },
	{ NULL, 0, NULL, 0 },
};

const char upstream_cli_usage[] =
	"\n"
	"Upstream spin-operator's flags (its chart and kustomize args run unchanged; docs/operations.md):\n"
	"  --leader-elect[=BOOL]    elect a leader through the Lease " UPSTREAM_LEADER_ELECTION_ID " in the\n"
	"                           operator's namespace ($POD_NAMESPACE, else the client's): only the leader\n"
	"                           reconciles and writes; every replica serves the webhook and probes (default false)\n"
	"  --enable-webhooks[=BOOL] false: no admission webhook server, as --webhook-bind-address 0 (default: on)\n"
	"  --enable-http2[=BOOL]    accepted; the metrics and webhook servers speak HTTP/1.1 only, as upstream's\n"
	"                           default (false) has them\n"
	"  --zap-devel[=BOOL]       true: --log-level debug --log-format text; false: info and json (where not\n"
	"                           given otherwise)\n"
	"  --zap-encoder ENC        json or console (= --log-format json or text)\n"
	"  --zap-log-level LEVEL    debug, info, error, or an integer >= 1 (verbosity: debug)\n"
	"  --zap-stacktrace-level LEVEL\n"
	"                           info, error or panic: accepted (no stack traces are logged)\n"
	"  --zap-time-encoding ENC  epoch, millis, nanos, iso8601, rfc3339 or rfc3339nano: accepted (timestamps are\n"
	"                           always RFC 3339 UTC with milliseconds)\n";

void upstream_cli_defaults(struct upstream_cli *u)
{
	memset(u, 0, sizeof *u);
	u->enable_webhooks = -1;
	u->zap_devel = -1;
}

/* A boolean flag: alone means true. */
static int flag_bool(const char *flag, const char *arg, int *out)
{
	if (!arg) {
		*out = 1;
		return 0;
	}
	if (parse_bool(arg, out) == 0)
		return 0;
	fprintf(stderr, "spin-operator: --%s: \"%s\" is not true or false\n", flag, arg);
	return 2;
}

/* One of a fixed set of words, compared without case as zap does; its index, or -1. */
static int one_of(const char *arg, const char *const *words, int n)
{
	for (int i = 0; i < n; i++) {
		if (!strcasecmp(arg, words[i]))
			return i;
	}
	return -1;
}

static int zap_log_level(struct upstream_cli *u, const char *arg)
{
	static const char *const names[] = { "debug", "info", "error" };
	static const enum log_level levels[] = { LOG_DEBUG, LOG_INFO, LOG_ERROR };
	long v;
	int i = one_of(arg, names, 3);
	if (i >= 0) {
		log_set_level(levels[i]);
	} else if (parse_long(arg, 1, 127, &v) == 0) {
		log_set_level(LOG_DEBUG); /* zap's verbosity N logs below debug: all we have is debug */
	} else {
		fprintf(stderr, "spin-operator: --zap-log-level: invalid log level \"%s\" (debug, info, error, or an "
				"integer >= 1)\n", arg);
		return 2;
	}
	u->level_set = 1;
	return 0;
}

int upstream_cli_parse(struct upstream_cli *u, int opt, const char *arg)
{
	static const char *const encoders[] = { "json", "console" };
	static const char *const stack_levels[] = { "info", "error", "panic" };
	static const char *const time_encodings[] = { "epoch", "millis", "nanos", "iso8601", "rfc3339", "rfc3339nano" };
	int i;
	switch (opt) {
	case F_LEADER_ELECT: return flag_bool("leader-elect", arg, &u->leader_elect);
	case F_ENABLE_WEBHOOKS: return flag_bool("enable-webhooks", arg, &u->enable_webhooks);
	case F_ENABLE_HTTP2: return flag_bool("enable-http2", arg, &u->enable_http2);
	case F_ZAP_DEVEL: return flag_bool("zap-devel", arg, &u->zap_devel);
	case F_ZAP_ENCODER:
		if ((i = one_of(arg, encoders, 2)) < 0) {
			fprintf(stderr, "spin-operator: --zap-encoder: invalid encoder value \"%s\" (json or console)\n", arg);
			return 2;
		}
		log_set_json(i == 0);
		u->format_set = 1;
		return 0;
	case F_ZAP_LOG_LEVEL: return zap_log_level(u, arg);
	case F_ZAP_STACKTRACE_LEVEL:
		if (one_of(arg, stack_levels, 3) < 0) {
			fprintf(stderr, "spin-operator: --zap-stacktrace-level: invalid stacktrace level \"%s\" (info, error "
					"or panic)\n", arg);
			return 2;
		}
		return 0;
	case F_ZAP_TIME_ENCODING:
		if (one_of(arg, time_encodings, 6) < 0) {
			fprintf(stderr, "spin-operator: --zap-time-encoding: invalid time-encoding value \"%s\" (epoch, millis, "
					"nanos, iso8601, rfc3339 or rfc3339nano)\n", arg);
			return 2;
		}
		return 0;
	default: fprintf(stderr, "spin-operator: unknown upstream flag %d\n", opt); return 2;
	}
}

void upstream_cli_note_log(struct upstream_cli *u, int level, int format)
{
	u->level_set |= level;
	u->format_set |= format;
}

void upstream_cli_finish(const struct upstream_cli *u)
{
	if (u->zap_devel < 0)
		return;
	/* zap's development defaults: console encoder, debug level; production: json, info */
	if (!u->level_set)
		log_set_level(u->zap_devel ? LOG_DEBUG : LOG_INFO);
	if (!u->format_set)
		log_set_json(!u->zap_devel);
}

int upstream_cli_webhooks(const struct upstream_cli *u)
{
	return u->enable_webhooks != 0;
}
