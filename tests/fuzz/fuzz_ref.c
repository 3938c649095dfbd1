/* libFuzzer target: image_ref_parse on arbitrary bytes (NUL-terminated copy). Besides memory safety it checks
 * what every accepted reference guarantees: a registry and a repository, a tag or a digest, a well-formed digest,
 * and a pinned form that parses back to the same registry and repository; and that the verifier's parser only
 * narrows the grammar admission checks (image_ref_check takes whatever image_ref_parse takes). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "operator/kube/imageref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIG "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char err[256];
	struct image_ref r, back;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	int rc = image_ref_parse(s, &r, err, sizeof err);
	if (rc != SO_OK && rc != SO_E_INVAL && rc != SO_E_NOMEM)
		abort();
	int grammar = image_ref_check(s, err, sizeof err);
	if (grammar != SO_OK && grammar != SO_E_INVAL)
		abort();
	if (rc == SO_OK && grammar != SO_OK)
		abort();
	if (rc == SO_OK) {
		if (!r.registry || !r.repository || !*r.repository || (!r.tag && !r.digest[0]))
			abort();
		if (r.digest[0] && strlen(r.digest) != IMAGE_DIGEST_LEN)
			abort();
		char *p = image_ref_pinned(s, &r, DIG);
		if (p) {
			if (image_ref_parse(p, &back, err, sizeof err) != SO_OK || strcmp(back.registry, r.registry) ||
			    strcmp(back.repository, r.repository) || strcmp(back.digest, DIG))
				abort();
			image_ref_free(&back);
			free(p);
		}
		free(image_ref_name(&r));
		free(image_ref_name_tag(&r));
		image_ref_free(&r);
	}
	free(s);
	return 0;
}
