/* The image verification flags (webhook/verify/setup.c) through getopt_long as operator/cmd/main.c drives them: defaults,
 * every flag, repeated --registry-insecure, and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "webhook/verify/setup.h"

/* Parses argv (NULL-terminated, argv[0] included) into o; 0, or the first non-zero verify_cli_parse result. */
static int parse(char **argv, struct verify_setup_opts *o)
{
	int argc = 0, opt, rc = 0;
	while (argv[argc])
		argc++;
	verify_cli_defaults(o);
	optind = 0; /* GNU: reinitialise */
	opterr = 0;
	while (rc == 0 && (opt = getopt_long(argc, argv, "", verify_cli_longopts, NULL)) != -1)
		rc = opt >= VERIFY_CLI_OPT_BASE ? verify_cli_parse(o, opt, optarg) : 99;
	return rc;
}

static void defaults(void **state)
{
	(void)state;
	struct verify_setup_opts o;
	char *argv[] = { "x", NULL };
	assert_int_equal(parse(argv, &o), 0);
	assert_null(o.policy_file);
	assert_int_equal(o.pin, 1);
	assert_int_equal(o.timeout_ms, 8000);
	assert_int_equal(o.allow_private_realms, 0);
	assert_null(o.insecure[0]);
}

static void every_flag(void **state)
{
	(void)state;
	struct verify_setup_opts o;
	char a1[] = "--registry-insecure=127.0.0.1:5000,localhost:5000", a2[] = "--registry-insecure=r.local";
	char *argv[] = { "x", "--verify-policy", "/p.yaml", "--verify-pin-digest=false", "--verify-timeout", "1500ms",
			 "--registry-ca-file", "/ca.pem", a1, a2, "--registry-allow-private-realms",
			 "--registry-credentials-secret", "ops/regcred", NULL };
	assert_int_equal(parse(argv, &o), 0);
	assert_string_equal(o.policy_file, "/p.yaml");
	assert_int_equal(o.pin, 0);
	assert_int_equal(o.timeout_ms, 1500);
	assert_string_equal(o.ca_file, "/ca.pem");
	assert_string_equal(o.insecure[0], "127.0.0.1:5000");
	assert_string_equal(o.insecure[1], "localhost:5000");
	assert_string_equal(o.insecure[2], "r.local");
	assert_null(o.insecure[3]);
	assert_int_equal(o.allow_private_realms, 1);
	assert_string_equal(o.secret, "ops/regcred");

	char *again[] = { "x", "--verify-pin-digest", "--verify-pin-digest=true", NULL };
	assert_int_equal(parse(again, &o), 0);
	assert_int_equal(o.pin, 1);
}

static void refusals(void **state)
{
	(void)state;
	struct verify_setup_opts o;
	char empty[] = "--registry-insecure=a,,b";
	char *bad[][4] = {
		{ "x", "--verify-timeout", "8", NULL },     /* no unit */
		{ "x", "--verify-timeout", "31s", NULL },   /* above 30 s */
		{ "x", "--verify-timeout", "50ms", NULL },  /* below 100 ms */
		{ "x", "--verify-pin-digest=no", NULL, NULL },
		{ "x", "--registry-allow-private-realms=1", NULL, NULL },
		{ "x", empty, NULL, NULL },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (parse(bad[i], &o) != 2)
			fail_msg("case %zu accepted", i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(every_flag),
		cmocka_unit_test(refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
