/*
 * operator/cmd/upstream_cli.c: upstream spin-operator's flags, parsed through getopt_long_only as operator/cmd/main.c does, in
 * every form Go's flag package takes (-flag, --flag, --flag=value, a boolean alone), mapped onto our log level
 * and format and the webhook switch; bad values refused with exit status 2; Go's boolean spellings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "operator/cmd/upstream_cli.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/parse.h"


/* Parses the words with only upstream's flags; 0, 2 for a bad value, 3 for an unknown flag or argument. */
static int parse(struct upstream_cli *u, const char *const *words)
{
	char *argv[16];
	int argc = 0, opt, rc = 0;
	argv[argc++] = (char *)"spin-operator";
	for (; *words && argc < 15; words++)
		argv[argc++] = (char *)*words;
	argv[argc] = NULL;
	upstream_cli_defaults(u);
	log_set_level(LOG_INFO);
	log_set_json(0);
	optind = 0; /* GNU getopt: reinitialise */
	opterr = 0;
	while ((opt = getopt_long_only(argc, argv, "", upstream_cli_longopts, NULL)) != -1) {
		if (opt < UPSTREAM_CLI_OPT_BASE)
			return 3;
		if ((rc = upstream_cli_parse(u, opt, optarg)))
			return rc;
	}
	if (optind < argc)
		return 3;
	upstream_cli_finish(u);
	return 0;
}

#define PARSE(u, ...) parse((u), (const char *const[]){ __VA_ARGS__, NULL })

static void test_defaults(void **state)
{
	(void)state;
	struct upstream_cli u;
	assert_int_equal(parse(&u, (const char *const[]){ NULL }), 0);
	assert_int_equal(u.leader_elect, 0);
	assert_int_equal(u.enable_webhooks, -1);
	assert_true(upstream_cli_webhooks(&u)); /* ours are on unless turned off */
	assert_int_equal(u.enable_http2, 0);
	assert_int_equal(log_min_level, LOG_INFO);
}

static void test_boolean_forms(void **state)
{
	(void)state;
	struct upstream_cli u;
	static const char *const on[] = { "--leader-elect", "-leader-elect", "--leader-elect=true", "-leader-elect=true",
					  "--leader-elect=1", "--leader-elect=t", "--leader-elect=T", "--leader-elect=TRUE",
					  "--leader-elect=True" };
	static const char *const off[] = { "--leader-elect=false", "-leader-elect=false", "--leader-elect=0",
					   "--leader-elect=f", "--leader-elect=F", "--leader-elect=FALSE",
					   "--leader-elect=False" };
	for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
		assert_int_equal(PARSE(&u, on[i]), 0);
		assert_int_equal(u.leader_elect, 1);
	}
	for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
		assert_int_equal(PARSE(&u, "--leader-elect", off[i]), 0); /* the later one wins */
		assert_int_equal(u.leader_elect, 0);
	}
	assert_int_equal(PARSE(&u, "--enable-webhooks"), 0);
	assert_int_equal(u.enable_webhooks, 1);
	assert_true(upstream_cli_webhooks(&u));
	assert_int_equal(PARSE(&u, "-enable-webhooks=false"), 0);
	assert_int_equal(u.enable_webhooks, 0);
	assert_false(upstream_cli_webhooks(&u));
	assert_int_equal(PARSE(&u, "--enable-http2"), 0);
	assert_int_equal(u.enable_http2, 1);
	/* as with Go's flag package, a boolean's value is never the next word */
	assert_int_equal(PARSE(&u, "--leader-elect", "false"), 3);
	int b = -1;
	assert_int_equal(parse_bool("yes", &b), SO_E_INVAL);
	assert_int_equal(parse_bool("", &b), SO_E_INVAL);
	assert_int_equal(parse_bool("tRUE", &b), SO_E_INVAL);
	assert_int_equal(b, -1);
}

static void test_zap_flags_map_onto_the_log(void **state)
{
	(void)state;
	struct upstream_cli u;
	assert_int_equal(PARSE(&u, "--zap-log-level=debug"), 0);
	assert_int_equal(log_min_level, LOG_DEBUG);
	assert_int_equal(PARSE(&u, "-zap-log-level", "error"), 0);
	assert_int_equal(log_min_level, LOG_ERROR);
	assert_int_equal(PARSE(&u, "--zap-log-level", "INFO"), 0); /* zap lower-cases */
	assert_int_equal(log_min_level, LOG_INFO);
	assert_int_equal(PARSE(&u, "--zap-log-level=3"), 0); /* verbosity 3: below debug, all we have is debug */
	assert_int_equal(log_min_level, LOG_DEBUG);
	/* development mode: debug (and text) unless a level is given, in either order */
	assert_int_equal(PARSE(&u, "--zap-devel"), 0);
	assert_int_equal(log_min_level, LOG_DEBUG);
	assert_int_equal(PARSE(&u, "--zap-devel", "--zap-log-level=error"), 0);
	assert_int_equal(log_min_level, LOG_ERROR);
	assert_int_equal(PARSE(&u, "--zap-log-level=error", "--zap-devel=true"), 0);
	assert_int_equal(log_min_level, LOG_ERROR);
	/* production mode: info */
	assert_int_equal(PARSE(&u, "--zap-log-level=debug", "--zap-devel=false"), 0);
	assert_int_equal(log_min_level, LOG_DEBUG);
	assert_int_equal(PARSE(&u, "--zap-devel=false"), 0);
	assert_int_equal(log_min_level, LOG_INFO);
	assert_int_equal(u.format_set, 0);
	/* our own --log-level given: zap-devel does not override it */
	upstream_cli_defaults(&u);
	log_set_level(LOG_WARN);
	upstream_cli_note_log(&u, 1, 0);
	u.zap_devel = 1;
	upstream_cli_finish(&u);
	assert_int_equal(log_min_level, LOG_WARN);
	assert_int_equal(PARSE(&u, "--zap-encoder", "json"), 0);
	assert_int_equal(u.format_set, 1);
	assert_int_equal(PARSE(&u, "--zap-encoder=Console", "--zap-stacktrace-level=panic", "--zap-time-encoding=rfc3339nano"), 0);
	assert_int_equal(PARSE(&u, "-zap-stacktrace-level", "info", "-zap-time-encoding", "epoch"), 0);
	log_set_level(LOG_INFO);
	log_set_json(0);
}

static void test_bad_values(void **state)
{
	(void)state;
	struct upstream_cli u;
	assert_int_equal(PARSE(&u, "--leader-elect=yes"), 2);
	assert_int_equal(PARSE(&u, "--enable-webhooks=2"), 2);
	assert_int_equal(PARSE(&u, "--enable-http2="), 2);
	assert_int_equal(PARSE(&u, "--zap-devel=on"), 2);
	assert_int_equal(PARSE(&u, "--zap-encoder=xml"), 2);
	assert_int_equal(PARSE(&u, "--zap-log-level=warn"), 2); /* not one of zap's flag levels */
	assert_int_equal(PARSE(&u, "--zap-log-level=0"), 2);
	assert_int_equal(PARSE(&u, "--zap-log-level=-1"), 2);
	assert_int_equal(PARSE(&u, "--zap-log-level=1x"), 2);
	assert_int_equal(PARSE(&u, "--zap-stacktrace-level=debug"), 2);
	assert_int_equal(PARSE(&u, "--zap-time-encoding=unix"), 2);
	assert_int_equal(PARSE(&u, "--zap-encoder"), 3); /* missing value */
	log_set_level(LOG_INFO);
	log_set_json(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_boolean_forms),
		cmocka_unit_test(test_zap_flags_map_onto_the_log),
		cmocka_unit_test(test_bad_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
