#include "webhook/verify/setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "operator/base/log.h"
#include "webhook/verify/kubecreds.h"
#include "webhook/verify/policy.h"
#include "webhook/verify/regbackend.h"
#include "webhook/verify/registry.h"
#include "webhook/verify/verifier.h"
#include "operator/base/mem.h"

struct verify_setup {
	struct registry *reg;
	struct verifier *verifier;
	struct kubecreds kc;
	char *secret_ns, *secret_name;
	int64_t timeout_ms;
};

enum {
	F_POLICY = VERIFY_CLI_OPT_BASE,
	F_PIN,
	F_TIMEOUT,
	F_CA,
	F_INSECURE,
	F_PRIVATE_REALMS,
	F_SECRET,
};

const struct option verify_cli_longopts[VERIFY_CLI_NOPTS + 1] = {
	{ "verify-policy", required_argument, NULL, F_POLICY },
	{ "verify-pin-digest", optional_argument, NULL, F_PIN },
	{ "verify-timeout", required_argument, NULL, F_TIMEOUT },
	{ "registry-ca-file", required_argument, NULL, F_CA },
	{ "registry-insecure", required_argument, NULL, F_INSECURE },
	{ "registry-allow-private-realms", optional_argument, NULL, F_PRIVATE_REALMS },
	{ "registry-credentials-secret", required_argument, NULL, F_SECRET },
	{ NULL, 0, NULL, 0 },
};

const char verify_cli_usage[] =
	"\n"
	"Image signature verification (docs/verify-images.md):\n"
	"  --verify-policy FILE     verify SpinApp image signatures by this policy (reloaded when it changes);\n"
	"                           absent: no verification\n"
	"  --verify-pin-digest[=BOOL]\n"
	"                           patch verified images to name:tag@sha256:... (default true)\n"
	"  --verify-timeout DURATION\n"
	"                           budget of one verification, below the webhook's timeoutSeconds (default 8s)\n"
	"  --registry-ca-file FILE  extra PEM CA certificates for registries, added to the system ones\n"
	"  --registry-insecure HOST[,HOST]\n"
	"                           registries spoken to over plain http (repeatable)\n"
	"  --registry-allow-private-realms[=BOOL]\n"
	"                           allow token realms and redirects on private addresses\n"
	"  --registry-credentials-secret NAMESPACE/NAME\n"
	"                           a dockerconfigjson Secret used for registries in every namespace\n";

void verify_cli_defaults(struct verify_setup_opts *o)
{
	memset(o, 0, sizeof *o);
	o->pin = 1;
	o->timeout_ms = 8000;
}

static int parse_bool(const char *flag, const char *arg, int *out)
{
	if (!arg || !strcmp(arg, "true")) {
		*out = 1;
	} else if (!strcmp(arg, "false")) {
		*out = 0;
	} else {
		fprintf(stderr, "spin-operator: --%s: \"%s\" is not true or false\n", flag, arg);
		return 2;
	}
	return 0;
}

int verify_cli_parse(struct verify_setup_opts *o, int opt, char *arg)
{
	switch (opt) {
	case F_POLICY: o->policy_file = arg; return 0;
	case F_PIN: return parse_bool("verify-pin-digest", arg, &o->pin);
	case F_PRIVATE_REALMS: return parse_bool("registry-allow-private-realms", arg, &o->allow_private_realms);
	case F_TIMEOUT:
		if (verify_parse_duration_ms(arg, &o->timeout_ms) || o->timeout_ms < 100 || o->timeout_ms > 30000) {
			fprintf(stderr, "spin-operator: --verify-timeout: \"%s\" is not a duration in [100ms, 30s]\n", arg);
			return 2;
		}
		return 0;
	case F_CA: o->ca_file = arg; return 0;
	case F_INSECURE:
		if (verify_setup_add_insecure(o, arg)) {
			fprintf(stderr, "spin-operator: --registry-insecure: empty host or more than %d hosts\n",
				VERIFY_MAX_INSECURE);
			return 2;
		}
		return 0;
	case F_SECRET: o->secret = arg; return 0;
	default: fprintf(stderr, "spin-operator: unknown verification flag %d\n", opt); return 2;
	}
}

int verify_setup_add_insecure(struct verify_setup_opts *o, char *value)
{
	size_t n = 0;
	while (o->insecure[n])
		n++;
	for (char *p = value, *comma; p; p = comma ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (!*p || n >= VERIFY_MAX_INSECURE)
			return SO_E_INVAL;
		o->insecure[n++] = p;
	}
	o->insecure[n] = NULL;
	return SO_OK;
}

void verify_setup_stop(struct verify_setup *s)
{
	if (!s)
		return;
	verifier_free(s->verifier); /* before the registry and the credentials cache it uses */
	registry_free(s->reg);
	kubecreds_cache_free(s->kc.cache);
	free(s->secret_ns);
	free(s->secret_name);
	free(s);
}

int verify_setup_start(const struct verify_setup_opts *o, struct kube_client *client, struct verify_setup **out,
		       char *err, size_t errlen)
{
	struct verify_setup *s;
	struct registry_options ro = { .extra_ca_file = o->ca_file,
				       .insecure = o->insecure[0] ? o->insecure : NULL,
				       .allow_private_realms = o->allow_private_realms };
	int rc;

	*out = NULL;
	if (!o->policy_file)
		return SO_OK;
	s = mem_calloc(1, sizeof *s);
	if (o->secret) {
		const char *slash = strchr(o->secret, '/');
		if (!slash || slash == o->secret || !slash[1] || strchr(slash + 1, '/')) {
			rc = so_fail(err, errlen, SO_E_CONFIG, "--registry-credentials-secret: \"%s\" is not NAMESPACE/NAME",
				     o->secret);
			goto fail;
		}
		s->secret_ns = mem_strndup(o->secret, (size_t)(slash - o->secret));
		s->secret_name = mem_strdup(slash + 1);
	}
	s->reg = registry_new(&ro, err, errlen);
	if (!s->reg) {
		rc = SO_E_CONFIG;
		goto fail;
	}
	s->kc = (struct kubecreds){ .client = client, .secret_ns = s->secret_ns, .secret_name = s->secret_name,
				    .cache = kubecreds_cache_new(0, 0, NULL, NULL) };
	struct verifier_opts vo = {
		.policy_file = o->policy_file,
		.pin = o->pin,
		.timeout_ms = o->timeout_ms,
		.backend = verify_backend_registry(s->reg),
		.creds = kubecreds_lookup,
		.creds_ud = &s->kc,
	};
	if ((rc = verifier_new(&vo, &s->verifier, err, errlen)))
		goto fail;
	s->timeout_ms = o->timeout_ms;
	log_info("verify", "image verification on: policy %s, timeout %lld ms, pinning %s%s%s", o->policy_file,
		 (long long)o->timeout_ms, o->pin ? "on" : "off", o->secret ? ", credentials Secret " : "",
		 o->secret ? o->secret : "");
	*out = s;
	return SO_OK;
fail:
	verify_setup_stop(s);
	return rc;
}

struct verifier *verify_setup_verifier(const struct verify_setup *s, int64_t *timeout_ms)
{
	if (!s)
		return NULL;
	*timeout_ms = s->timeout_ms;
	return s->verifier;
}

void verify_setup_metrics(struct verify_setup *s, struct buf *out)
{
	if (s)
		verifier_metrics(s->verifier, out);
}
