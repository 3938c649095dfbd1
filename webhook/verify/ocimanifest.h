/*
 * The parts of OCI image manifests and indexes (and their Docker v2 counterparts) that signature discovery reads
 * (cosign's classic .sig manifests and OCI 1.1 referrers, docs/internals/verify.md): an index's manifests[]
 * (referrers listings and the sha256-<hex> fallback tag), a manifest's layers[] (cosign .sig manifests, bundle
 * referrers), with each descriptor's mediaType, artifactType, digest, size and cosign signature annotation. Pure;
 * the input is untrusted and bounded (OCI_MAX_DESCRIPTORS; descriptors with a digest that is not sha256:<64 hex>
 * are dropped).
 */
#ifndef SO_VERIFY_OCIMANIFEST_H
#define SO_VERIFY_OCIMANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define OCI_MAX_DESCRIPTORS 256
#define OCI_SIGNATURE_ANNOTATION "dev.cosignproject.cosign/signature"
#define MT_SIMPLE_SIGNING "application/vnd.dev.cosign.simplesigning.v1+json"
#define MT_BUNDLE_PREFIX "application/vnd.dev.sigstore.bundle"
#define MT_COSIGN_SIG_ARTIFACT "application/vnd.dev.cosign.artifact.sig.v1+json"

struct oci_descriptor {
	char media_type[128];
	char artifact_type[128];
	char digest[72];
	int64_t size;
	char *signature; /* the dev.cosignproject.cosign/signature annotation (allocated), or NULL */
};

struct oci_manifest {
	int is_index;           /* manifests[] (an index or list) rather than layers[] */
	char media_type[128];   /* the document's mediaType, or the Content-Type when it has none */
	char artifact_type[128]; /* artifactType, else config.mediaType (manifests) */
	struct oci_descriptor *items; /* manifests[] or layers[], in document order */
	size_t n;
};

/* content_type is the answer's media type (may be NULL or ""). A document whose mediaType differs from a
 * known content_type, or that is not an OCI/Docker manifest or index, is SO_E_BAD_RESPONSE with one line in
 * err. Free with oci_manifest_free (also after a failure). */
int oci_manifest_parse(const char *body, size_t len, const char *content_type, struct oci_manifest *out,
		       char *err, size_t errlen);
void oci_manifest_free(struct oci_manifest *m);

#endif
