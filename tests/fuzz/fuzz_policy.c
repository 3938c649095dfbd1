/*
 * libFuzzer target: the policy file parser (webhook/verify/policy.c, through operator/base/yamljson.c) on
 * arbitrary bytes, then matching a few image names against whatever parsed, and the glob matcher with the input
 * split into a pattern and a string. Besides memory safety: a parsed policy has named rules with images and keys,
 * and its hash is 64 hex digits; a failure leaves no policy and says why.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "webhook/verify/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = NULL;
	char err[512] = "";
	int rc = policy_parse((const char *)data, size, "fuzz.yaml", &p, err, sizeof err);

	if (rc == SO_OK) {
		if (!p || strlen(p->hash) != 64)
			abort();
		for (size_t i = 0; i < p->n_rules; i++)
			if (!p->rules[i].name || !p->rules[i].n_images || !p->rules[i].n_keys || strlen(p->rules[i].hash) != 64)
				abort();
		policy_match(p, "prod", "127.0.0.1:5000/spin/app:v1", "127.0.0.1:5000/spin/app");
		policy_match(p, "", "docker.io/library/nginx:latest", NULL);
		policy_unref(p);
	} else if (p || !*err) {
		abort();
	}
	/* The glob matcher: pattern and string split at the first NUL byte. */
	if (size < 4096) {
		char *s = malloc(size + 2);
		if (!s)
			return 0;
		memcpy(s, data, size);
		s[size] = '\0';
		s[size + 1] = '\0';
		size_t plen = strlen(s);
		policy_glob_match(s, s + plen + (plen < size ? 1 : 0));
		free(s);
	}
	return 0;
}
