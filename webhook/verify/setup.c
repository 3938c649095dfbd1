#include "verify/setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "verify/kubecreds.h"
#include "verify/regbackend.h"
#include "verify/registry.h"
#include "verify/verify.h"

struct verify_setup {
	struct registry *reg;
	struct verifier *verifier;
	struct kubecreds kc;
	char *secret_ns, *secret_name;
};

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
	verifier_free(s->verifier); /* before the registry it calls */
	registry_free(s->reg);
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
	s = calloc(1, sizeof *s);
	if (!s)
		return SO_E_NOMEM;
	if (o->secret) {
		const char *slash = strchr(o->secret, '/');
		if (!slash || slash == o->secret || !slash[1] || strchr(slash + 1, '/')) {
			rc = so_fail(err, errlen, SO_E_CONFIG, "--registry-credentials-secret: \"%s\" is not NAMESPACE/NAME",
				     o->secret);
			goto fail;
		}
		s->secret_ns = strndup(o->secret, (size_t)(slash - o->secret));
		s->secret_name = strdup(slash + 1);
		if (!s->secret_ns || !s->secret_name) {
			rc = SO_E_NOMEM;
			goto fail;
		}
	}
	s->reg = registry_new(&ro, err, errlen);
	if (!s->reg) {
		rc = SO_E_CONFIG;
		goto fail;
	}
	s->kc = (struct kubecreds){ .client = client, .secret_ns = s->secret_ns, .secret_name = s->secret_name };
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
	log_info("verify", "image verification on: policy %s, timeout %lld ms, pinning %s%s%s", o->policy_file,
		 (long long)o->timeout_ms, o->pin ? "on" : "off", o->secret ? ", credentials Secret " : "",
		 o->secret ? o->secret : "");
	*out = s;
	return SO_OK;
fail:
	verify_setup_stop(s);
	return rc;
}

void verify_setup_admission(struct verify_setup *s, struct admission_ctx *ctx)
{
	if (!s)
		return;
	ctx->verify_image = verifier_admission;
	ctx->verify_user = s->verifier;
}

void verify_setup_metrics(struct verify_setup *s, struct buf *out)
{
	if (s)
		verifier_metrics(s->verifier, out);
}
