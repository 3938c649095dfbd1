/*
 * spin-operator verify (verifycmd.h, docs/verify-images.md "Try a policy"). Parses the flags, builds what
 * verify_setup_start builds for the daemon (registry client, verifier) with a docker config keyring in place
 * of the pull-Secret lookup, runs every image through verifier_explain as the mutating webhook would (CREATE in
 * --namespace, no pull Secrets), and prints one block per image (or one JSON array). Nothing is cached between
 * runs and nothing is written anywhere but out and errout.
 */
#include "operator/cmd/verifycmd.h"

#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "webhook/verify/creds.h"
#include "webhook/verify/policy.h"
#include "webhook/verify/regbackend.h"
#include "webhook/verify/registry.h"
#include "webhook/verify/setup.h"
#include "webhook/verify/verifier.h"

#define MAX_CONFIG ((size_t)1 << 20) /* a docker config file */

static const char usage[] =
	"Usage: spin-operator verify --policy FILE [flags] IMAGE...\n"
	"\n"
	"Checks the signatures of OCI images with the admission webhook's verification code and a policy file\n"
	"(--verify-policy's format), without a cluster: try a policy before enforcing it, or gate a pipeline.\n"
	"For each IMAGE it prints the rule that applied (the first whose images and namespaces match), the digest\n"
	"checked (a tag is resolved on the registry), and the key that verified a signature or why none did; and\n"
	"what the webhook would do: admit, admit with a warning (mode warn) or refuse (mode enforce).\n"
	"\n"
	"Flags:\n"
	"  --policy FILE            the verification policy (also --verify-policy)\n"
	"  -n, --namespace NS       the SpinApp's namespace, for rules with namespaces (default \"default\")\n"
	"  --registry-config FILE   a docker config file ({\"auths\": ...}, as docker login writes it) with\n"
	"                           registry credentials; without it, registries are read anonymously\n"
	"                           (credsStore and credHelpers are not run)\n"
	"  --registry-ca-file FILE  extra PEM CA certificates for registries, added to the system ones\n"
	"  --registry-insecure HOST[,HOST]\n"
	"                           registries spoken to over plain http (repeatable)\n"
	"  --registry-allow-private-realms[=BOOL]\n"
	"                           allow token realms and redirects on private addresses\n"
	"  --verify-timeout DURATION\n"
	"                           budget of one image's verification (default 8s, as the webhook's)\n"
	"  --verify-pin-digest[=BOOL]\n"
	"                           show the pinned reference the webhook would patch in (default true)\n"
	"  -o, --output FORMAT      text (default) or json (one array, an object per image)\n"
	"  --log-level LEVEL        debug, info, warn or error (default warn; info shows the webhook's log lines)\n"
	"  -h, --help               print this help and exit\n"
	"\n"
	"Exit status: 0 every image verified or under no rule; 1 an image under a rule is not verified (mode\n"
	"warn included); 2 usage, or a policy, CA or registry config file that cannot be used.\n";

struct cmd_opts {
	struct verify_setup_opts v; /* --verify-*, --registry-* (setup.h) */
	const char *ns;
	const char *registry_config;
	int json;
};

/* verify_creds_fn over the docker config keyring (NULL: anonymous). */
static int config_creds(void *ud, const char *ns, const json_t *pull_secrets, const struct image_ref *ref,
			int64_t deadline_ms, struct registry_cred **out, char *err, size_t errlen)
{
	const struct registry_cred *c;
	(void)ns;
	(void)pull_secrets;
	(void)deadline_ms; /* a file read once at start: nothing to wait for */
	*out = NULL;
	c = ud ? creds_lookup(ud, ref->registry, ref->repository) : NULL;
	(void)err;
	(void)errlen;
	if (c)
		*out = verify_cred_dup(c);
	return SO_OK;
}

static int load_config(const char *path, struct creds **out, FILE *errout)
{
	struct buf b;
	char err[512] = "";
	int rc;

	*out = creds_new();
	if ((rc = buf_read_file(path, MAX_CONFIG, &b, err, sizeof err)) == SO_OK) {
		rc = creds_add_dockerconfig(*out, b.data ? b.data : "", b.len, path, err, sizeof err);
		OPENSSL_cleanse(b.data, b.len); /* passwords */
		buf_free(&b);
	}
	if (rc)
		fprintf(errout, "verify: --registry-config: %s\n", err);
	return rc;
}

static const char *decision_name(enum verify_image_decision d)
{
	return d == VERIFY_IMAGE_ADMIT ? "admit" : d == VERIFY_IMAGE_WARN ? "warn" : "deny";
}

static void print_text(FILE *out, const char *image, const struct verify_explain *ex,
		       const struct verify_image_verdict *vd)
{
	fprintf(out, "%s\n", image);
	if (*ex->rule)
		fprintf(out, "  rule:     %s (%s)\n", ex->rule, ex->warn ? "warn" : "enforce");
	else
		fprintf(out, "  rule:     none applies\n");
	if (*ex->digest)
		fprintf(out, "  digest:   %s\n", ex->digest);
	switch (ex->result) {
	case VERIFY_VERIFIED:
		fprintf(out, "  verified: %s\n", ex->by);
		if (vd->pinned)
			fprintf(out, "  pinned:   %s\n", vd->pinned);
		fprintf(out, "  webhook:  admits it\n");
		break;
	case VERIFY_SKIPPED: fprintf(out, "  webhook:  admits it without verification\n"); break;
	case VERIFY_FAILED:
	case VERIFY_ERROR:
		fprintf(out, "  %s %s\n", ex->result == VERIFY_FAILED ? "failed:  " : "error:   ", ex->reason);
		fprintf(out, "  webhook:  %s\n", vd->decision == VERIFY_IMAGE_WARN ? "admits it with a warning (mode warn)"
										   : "refuses it");
		break;
	}
}

/* Sets key to s, or to null when s is NULL or empty; -1 when s is not UTF-8 (an image argument may not be). */
static int set_str(json_t *o, const char *key, const char *s)
{
	return json_object_set_new(o, key, s && *s ? json_string(s) : json_null());
}

static int append_json(json_t *arr, const char *image, const char *ns, const struct verify_explain *ex,
		       const struct verify_image_verdict *vd)
{
	json_t *o = json_object();
	int bad = set_str(o, "image", image) || set_str(o, "namespace", ns) || set_str(o, "rule", ex->rule) ||
	      set_str(o, "mode", *ex->rule ? (ex->warn ? "warn" : "enforce") : NULL) ||
	      set_str(o, "digest", ex->digest) || set_str(o, "result", verify_result_name(ex->result)) ||
	      set_str(o, "decision", decision_name(vd->decision)) ||
	      set_str(o, "verifiedBy", ex->result == VERIFY_VERIFIED ? ex->by : NULL) ||
	      set_str(o, "reason", ex->result == VERIFY_FAILED || ex->result == VERIFY_ERROR ? ex->reason : NULL) ||
	      set_str(o, "pinned", vd->pinned);
	if (bad) {
		json_decref(o);
		return SO_E_INVAL; /* an argument that is not UTF-8 */
	}
	json_array_append_new(arr, o);
	return SO_OK;
}

/* Flags into o; 0, 1 after --help, or VERIFYCMD_USAGE. */
static int parse(int argc, char **argv, struct cmd_opts *o, FILE *out, FILE *errout)
{
	enum { F_POLICY = 1, F_CONFIG, F_LOG };
	static const struct option own[] = {
		{ "policy", required_argument, NULL, F_POLICY },
		{ "namespace", required_argument, NULL, 'n' },
		{ "registry-config", required_argument, NULL, F_CONFIG },
		{ "output", required_argument, NULL, 'o' },
		{ "log-level", required_argument, NULL, F_LOG },
		{ "help", no_argument, NULL, 'h' },
	};
	enum { N_OWN = sizeof own / sizeof own[0] };
	struct option all[N_OWN + VERIFY_CLI_NOPTS + 1];
	enum log_level level;
	int opt;

	memcpy(all, own, sizeof own);
	memcpy(all + N_OWN, verify_cli_longopts, sizeof verify_cli_longopts); /* with its terminator */
	verify_cli_defaults(&o->v);
	o->ns = "default";
	log_set_level(LOG_WARN);
	optind = 0; /* glibc: start a fresh scan, whatever ran before */
	while ((opt = getopt_long(argc, argv, "n:o:h", all, NULL)) != -1) {
		switch (opt) {
		case F_POLICY: o->v.policy_file = optarg; break;
		case 'n': o->ns = optarg; break;
		case F_CONFIG: o->registry_config = optarg; break;
		case 'o':
			if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
				fprintf(errout, "verify: --output: \"%s\" is not text or json\n", optarg);
				return VERIFYCMD_USAGE;
			}
			o->json = !strcmp(optarg, "json");
			break;
		case F_LOG:
			if (log_parse_level(optarg, &level)) {
				fprintf(errout, "verify: --log-level: \"%s\" is not debug, info, warn or error\n", optarg);
				return VERIFYCMD_USAGE;
			}
			log_set_level(level);
			break;
		case 'h': fputs(usage, out); return 1;
		default:
			if (opt >= VERIFY_CLI_OPT_BASE && verify_cli_parse(&o->v, opt, optarg) == 0)
				break;
			fprintf(errout, "%s", opt >= VERIFY_CLI_OPT_BASE ? "" : usage);
			return VERIFYCMD_USAGE;
		}
	}
	if (o->v.secret) {
		fprintf(errout, "verify: --registry-credentials-secret needs a cluster; give the credentials with "
				"--registry-config FILE\n");
		return VERIFYCMD_USAGE;
	}
	if (!o->v.policy_file) {
		fprintf(errout, "verify: --policy FILE is required\n%s", usage);
		return VERIFYCMD_USAGE;
	}
	if (optind >= argc) {
		fprintf(errout, "verify: no IMAGE given\n%s", usage);
		return VERIFYCMD_USAGE;
	}
	return 0;
}

int verifycmd_run(int argc, char **argv, FILE *out, FILE *errout)
{
	struct cmd_opts o = { 0 };
	struct creds *keyring = NULL;
	struct registry *reg = NULL;
	struct verifier *v = NULL;
	json_t *results = NULL;
	char err[512] = "";
	int saved_level = log_min_level, status, rc, failed = 0;

	status = parse(argc, argv, &o, out, errout);
	if (status) {
		status = status == 1 ? VERIFYCMD_OK : status;
		goto out;
	}
	status = VERIFYCMD_USAGE;
	if (o.registry_config && load_config(o.registry_config, &keyring, errout))
		goto out;
	struct registry_options ro = { .extra_ca_file = o.v.ca_file,
				       .insecure = o.v.insecure[0] ? o.v.insecure : NULL,
				       .allow_private_realms = o.v.allow_private_realms };
	if (!(reg = registry_new(&ro, err, sizeof err))) {
		fprintf(errout, "verify: %s\n", err); /* registry_new says why */
		goto out;
	}
	struct verifier_opts vo = {
		.policy_file = o.v.policy_file,
		.pin = o.v.pin,
		.timeout_ms = o.v.timeout_ms,
		.backend = verify_backend_registry(reg),
		.creds = config_creds,
		.creds_ud = keyring,
	};
	if ((rc = verifier_new(&vo, &v, err, sizeof err))) {
		fprintf(errout, "verify: %s\n", *err ? err : so_strerror(rc));
		goto out;
	}
	if (o.json)
		results = json_array();
	for (int i = optind; i < argc; i++) {
		struct verify_image_check in = { .ns = o.ns, .image = argv[i], .authenticated = 1 }; /* the operator itself */
		struct verify_image_verdict vd;
		struct verify_explain ex;

		if ((rc = verifier_explain(v, &in, &vd, &ex)) == SO_OK && o.json)
			rc = append_json(results, argv[i], o.ns, &ex, &vd);
		else if (rc == SO_OK)
			print_text(out, argv[i], &ex, &vd);
		free(vd.pinned);
		if (rc) {
			fprintf(errout, "verify: %s: %s\n", argv[i], so_strerror(rc));
			failed = 1;
			continue;
		}
		if (ex.result == VERIFY_FAILED || ex.result == VERIFY_ERROR)
			failed = 1;
	}
	if (results) {
		char *text = json_dumps(results, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fprintf(out, "%s\n", text);
		free(text);
	}
	status = failed ? VERIFYCMD_FAILED : VERIFYCMD_OK;
out:
	json_decref(results);
	verifier_free(v); /* before the registry it calls */
	registry_free(reg);
	creds_free(keyring);
	log_set_level((enum log_level)saved_level);
	return status;
}

int verifycmd_main(int argc, char **argv)
{
	return verifycmd_run(argc, argv, stdout, stderr);
}
