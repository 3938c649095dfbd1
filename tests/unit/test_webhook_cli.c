/*
 * operator/cmd/webhook_cli.c (the webhook's certificate-mode and rule-set flags) and the option checks of
 * webhook/certs/selfmanaged.c, without a cluster: flags parsed through getopt_long with webhook_cli_longopts as
 * operator/cmd/main.c appends them, the default mode (files when a certificate path is given, else self-managed), the
 * admission flags of --webhook-upstream-checks-only, bad values refused, the SANs built from the Service,
 * namespace and extra names, and every kind of bad option refused by selfmanaged_new with a clear message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "operator/base/err.h"
#include "webhook/admission.h"
#include "operator/cmd/webhook_cli.h"
#include "webhook/certs/selfmanaged.h"

/* Parses argv with only the webhook flags (as operator/cmd/main.c hands them on); 0, or 2 for a bad value. */
static int parse(struct webhook_cli *w, int argc, char **argv)
{
	int opt, rc = 0;
	webhook_cli_defaults(w);
	optind = 0; /* GNU getopt: reinitialise */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", webhook_cli_longopts, NULL)) != -1) {
		if (opt < WEBHOOK_CLI_OPT_BASE)
			return 3; /* unknown flag */
		if ((rc = webhook_cli_parse(w, opt, optarg)))
			return rc;
	}
	return rc;
}

static void test_defaults(void **state)
{
	(void)state;
	struct webhook_cli w;
	char *argv[] = { "x", NULL };
	assert_int_equal(parse(&w, 1, argv), 0);
	assert_int_equal(w.mode, WEBHOOK_CERTS_AUTO);
	assert_int_equal(webhook_cli_mode(&w, 0), WEBHOOK_CERTS_SELF_MANAGED);
	assert_int_equal(webhook_cli_mode(&w, 1), WEBHOOK_CERTS_FILES);
	assert_string_equal(w.service_name, "spin-operator-webhook-service");
	assert_string_equal(w.secret_name, "spin-operator-webhook-server-cert");
	assert_string_equal(w.mutating_config, "spin-operator-mutating-webhook-configuration");
	assert_string_equal(w.validating_config, "spin-operator-validating-webhook-configuration");
	assert_null(w.namespace);
	assert_null(w.extra_sans);
	assert_null(w.client_ca_file);
	assert_int_equal(webhook_cli_admission_flags(&w), 0);
	assert_int_equal(WEBHOOK_CLI_NOPTS, sizeof webhook_cli_longopts / sizeof webhook_cli_longopts[0] - 1);
	assert_null(webhook_cli_longopts[WEBHOOK_CLI_NOPTS].name);
}

static void test_flags(void **state)
{
	(void)state;
	struct webhook_cli w;
	char *argv[] = { "x", "--webhook-cert-mode=files", "--webhook-namespace", "ops", "--webhook-service-name=svc",
			 "--webhook-secret-name=sec", "--webhook-mutating-configuration=", "--webhook-validating-configuration=v",
			 "--webhook-cert-extra-sans=127.0.0.1,localhost", "--webhook-upstream-checks-only",
			 "--webhook-ca-validity=100", "--webhook-cert-validity=24", "--webhook-cert-check-interval=0.5",
			 "--webhook-client-ca-file=/etc/ca.crt", NULL };
	assert_int_equal(parse(&w, 14, argv), 0);
	assert_string_equal(w.client_ca_file, "/etc/ca.crt");
	assert_int_equal(w.mode, WEBHOOK_CERTS_FILES);
	assert_int_equal(webhook_cli_mode(&w, 0), WEBHOOK_CERTS_FILES); /* given: the paths do not matter */
	assert_string_equal(w.namespace, "ops");
	assert_string_equal(w.service_name, "svc");
	assert_string_equal(w.secret_name, "sec");
	assert_string_equal(w.mutating_config, "");
	assert_string_equal(w.validating_config, "v");
	assert_string_equal(w.extra_sans, "127.0.0.1,localhost");
	assert_int_equal(webhook_cli_admission_flags(&w), ADMISSION_UPSTREAM_ONLY);
	assert_true(w.ca_validity_s == 100 && w.cert_validity_s == 24 && w.interval_s == 0.5);

	char *sm[] = { "x", "--webhook-cert-mode", "self-managed", NULL };
	assert_int_equal(parse(&w, 3, sm), 0);
	assert_int_equal(webhook_cli_mode(&w, 1), WEBHOOK_CERTS_SELF_MANAGED);
}

static void test_bad_values(void **state)
{
	(void)state;
	struct webhook_cli w;
	char *mode[] = { "x", "--webhook-cert-mode=magic", NULL };
	char *validity[] = { "x", "--webhook-cert-validity=1", NULL }; /* below the 3 s floor */
	char *ca[] = { "x", "--webhook-ca-validity=ten years", NULL };
	char *interval[] = { "x", "--webhook-cert-check-interval=0", NULL };
	assert_int_equal(parse(&w, 2, mode), 2);
	assert_int_equal(parse(&w, 2, validity), 2);
	assert_int_equal(parse(&w, 2, ca), 2);
	assert_int_equal(parse(&w, 2, interval), 2);
	/* the help lists the public flags and leaves the test-only ones out */
	assert_non_null(strstr(webhook_cli_usage, "--webhook-cert-mode MODE"));
	assert_non_null(strstr(webhook_cli_usage, "--webhook-upstream-checks-only"));
	assert_non_null(strstr(webhook_cli_usage, "--webhook-client-ca-file FILE"));
	assert_null(strstr(webhook_cli_usage, "--webhook-cert-validity"));
	assert_null(strstr(webhook_cli_usage, "--webhook-cert-check-interval"));
}

static struct kube_config cfg = { .server = "https://127.0.0.1:1", .namespace = "default" };

static struct selfmanaged_opts good(void)
{
	struct selfmanaged_opts o = { .namespace = "ops", .secret_name = "sec", .service_name = "svc",
				      .mutating_config = "m", .validating_config = "v", .cert_dir = "/tmp/none" };
	return o;
}

/* selfmanaged_new with one option changed must fail, saying want. */
static void refused(struct selfmanaged_opts o, const char *want)
{
	struct selfmanaged *m = NULL;
	char err[256] = "";
	assert_int_equal(selfmanaged_new(&cfg, &o, &m, err, sizeof err), SO_E_CONFIG);
	assert_null(m);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
}

static void test_selfmanaged_opts(void **state)
{
	(void)state;
	struct selfmanaged *m = NULL;
	struct selfmanaged_opts o = good();
	char err[256] = "";

	o.extra_sans = " 127.0.0.1 ,localhost,,svc.ops.svc,::1";
	assert_int_equal(selfmanaged_new(&cfg, &o, &m, err, sizeof err), SO_OK);
	/* the Service's four names first, then the extras, duplicates and empty entries dropped */
	assert_string_equal(selfmanaged_sans(m),
			    "svc.ops.svc,svc.ops.svc.cluster.local,svc.ops,svc,127.0.0.1,localhost,::1");
	selfmanaged_free(m); /* never started: nothing to stop */

	o = good();
	o.namespace = "Bad_NS";
	refused(o, "webhook namespace \"Bad_NS\" is not a namespace name");
	o = good();
	o.namespace = NULL;
	refused(o, "webhook namespace \"\"");
	o = good();
	o.service_name = "a.b";
	refused(o, "webhook Service name \"a.b\"");
	o = good();
	o.secret_name = "";
	refused(o, "webhook Secret name \"\"");
	o = good();
	o.validating_config = "UPPER";
	refused(o, "webhook configuration name \"UPPER\"");
	o = good();
	o.cert_dir = "";
	refused(o, "need a folder");
	o = good();
	o.extra_sans = "ok.example,not ok";
	refused(o, "\"not ok\" is neither an IP address nor a DNS name");
	o = good();
	o.extra_sans = "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,aa,ab,ac,ad";
	refused(o, "more than 32 SANs");
	o = good();
	o.cert_validity_s = -1;
	refused(o, "negative");

	/* no configurations to inject into is fine */
	o = good();
	o.mutating_config = "";
	o.validating_config = NULL;
	assert_int_equal(selfmanaged_new(&cfg, &o, &m, err, sizeof err), SO_OK);
	selfmanaged_free(m);
	selfmanaged_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_selfmanaged_opts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
