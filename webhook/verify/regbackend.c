#include "webhook/verify/regbackend.h"

static int be_resolve(void *ud, const struct image_ref *ref, const struct registry_cred *cred, int64_t deadline_ms,
		      char digest[IMAGE_DIGEST_LEN + 1], char *err, size_t errlen)
{
	return registry_resolve(ud, ref, cred, deadline_ms, digest, err, errlen);
}

static int be_manifest(void *ud, const struct image_ref *ref, const struct registry_cred *cred, const char *reference,
		       const char *accept, int64_t deadline_ms, struct registry_blob *out, char *err, size_t errlen)
{
	return registry_get_manifest(ud, ref, cred, reference, accept, deadline_ms, out, err, errlen);
}

static int be_blob(void *ud, const struct image_ref *ref, const struct registry_cred *cred, const char *digest,
		   size_t max, int64_t deadline_ms, struct registry_blob *out, char *err, size_t errlen)
{
	return registry_get_blob(ud, ref, cred, digest, max, deadline_ms, out, err, errlen);
}

static int be_referrers(void *ud, const struct image_ref *ref, const struct registry_cred *cred, const char *digest,
			int64_t deadline_ms, struct registry_blob *out, char *err, size_t errlen)
{
	return registry_get_referrers(ud, ref, cred, digest, deadline_ms, out, err, errlen);
}

static void be_stats(void *ud, struct registry_stats *out)
{
	registry_get_stats(ud, out);
}

struct verify_backend verify_backend_registry(struct registry *r)
{
	struct verify_backend b = { .ud = r,
				    .resolve = be_resolve,
				    .get_manifest = be_manifest,
				    .get_blob = be_blob,
				    .get_referrers = be_referrers,
				    .stats = be_stats };
	return b;
}
