/*
 * libFuzzer target: the OCI manifest and index parser used for signature discovery (webhook/verify/ocimanifest.c) on
 * arbitrary bytes, with each Content-Type a registry may send. Besides memory safety: every descriptor kept has
 * a sha256:<64 hex> digest, and there are never more than OCI_MAX_DESCRIPTORS.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "webhook/verify/ocimanifest.h"
#include "webhook/verify/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = { NULL, "", MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST,
					     "application/json" };
	for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
		struct oci_manifest m;
		char err[256];
		int rc = oci_manifest_parse((const char *)data, size, types[t], &m, err, sizeof err);
		if (rc != SO_OK && rc != SO_E_BAD_RESPONSE && rc != SO_E_NOMEM)
			abort();
		if (m.n > OCI_MAX_DESCRIPTORS)
			abort();
		for (size_t i = 0; i < m.n; i++)
			if (strncmp(m.items[i].digest, "sha256:", 7) != 0 || strlen(m.items[i].digest) != 71)
				abort();
		oci_manifest_free(&m);
	}
	return 0;
}
