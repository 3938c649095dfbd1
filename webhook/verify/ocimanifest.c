#include "webhook/verify/ocimanifest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "webhook/verify/registry.h"
#include "operator/base/mem.h"

static int is_sha256_digest(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return 0;
	for (size_t i = 7; i < 71; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			return 0;
	return 1;
}

/* One of the four manifest types (a registry may label other answers application/json: not a claim). */
static int known_type(const char *t)
{
	return t && (strcmp(t, MT_OCI_INDEX) == 0 || strcmp(t, MT_DOCKER_LIST) == 0 || strcmp(t, MT_OCI_MANIFEST) == 0 ||
		     strcmp(t, MT_DOCKER_MANIFEST) == 0);
}

static void copy_str(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

void oci_manifest_free(struct oci_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->items[i].signature);
	free(m->items);
	m->items = NULL;
	m->n = 0;
}

int oci_manifest_parse(const char *body, size_t len, const char *content_type, struct oci_manifest *out,
		       char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc, *list, *d;
	const char *mt;
	size_t i;
	int rc = SO_OK;

	memset(out, 0, sizeof *out);
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(doc)) {
		rc = so_fail(err, errlen, SO_E_BAD_RESPONSE, "the manifest is not a JSON object");
		goto out;
	}
	mt = json_string_value(json_object_get(doc, "mediaType"));
	/* distribution-spec: clients SHOULD reject a manifest whose mediaType differs from its Content-Type. */
	if (mt && known_type(content_type) && strcmp(mt, content_type) != 0) {
		rc = so_fail(err, errlen, SO_E_BAD_RESPONSE, "the manifest's mediaType %.100s is not its Content-Type %.100s",
			     mt, content_type);
		goto out;
	}
	if (!mt)
		mt = known_type(content_type) ? content_type : "";
	copy_str(out->media_type, sizeof out->media_type, mt);
	if (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0) {
		out->is_index = 1;
	} else if (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0) {
		out->is_index = 0;
	} else if (!*mt && json_is_array(json_object_get(doc, "manifests"))) {
		out->is_index = 1; /* OCI allows an index without mediaType */
	} else if (!*mt && json_is_array(json_object_get(doc, "layers"))) {
		out->is_index = 0;
	} else {
		rc = so_fail(err, errlen, SO_E_BAD_RESPONSE, "not an OCI or Docker manifest or index (%.100s)",
			     *mt ? mt : "no mediaType");
		goto out;
	}
	copy_str(out->artifact_type, sizeof out->artifact_type, json_string_value(json_object_get(doc, "artifactType")));
	if (!*out->artifact_type && !out->is_index)
		copy_str(out->artifact_type, sizeof out->artifact_type,
			 json_string_value(json_object_get(json_object_get(doc, "config"), "mediaType")));
	list = json_object_get(doc, out->is_index ? "manifests" : "layers");
	if (list && !json_is_array(list)) {
		rc = so_fail(err, errlen, SO_E_BAD_RESPONSE, "the manifest's %s is not a list",
			     out->is_index ? "manifests" : "layers");
		goto out;
	}
	if (json_array_size(list) == 0)
		goto out;
	size_t cap = json_array_size(list) < OCI_MAX_DESCRIPTORS ? json_array_size(list) : OCI_MAX_DESCRIPTORS;
	out->items = mem_calloc(cap, sizeof *out->items);
	json_array_foreach(list, i, d) {
		struct oci_descriptor *o;
		const char *digest = json_string_value(json_object_get(d, "digest"));
		const char *sig = json_string_value(json_object_get(json_object_get(d, "annotations"),
								    OCI_SIGNATURE_ANNOTATION));
		json_t *size = json_object_get(d, "size");
		if (out->n >= OCI_MAX_DESCRIPTORS)
			break;
		if (!json_is_object(d) || !is_sha256_digest(digest))
			continue;
		o = &out->items[out->n];
		copy_str(o->media_type, sizeof o->media_type, json_string_value(json_object_get(d, "mediaType")));
		copy_str(o->artifact_type, sizeof o->artifact_type, json_string_value(json_object_get(d, "artifactType")));
		copy_str(o->digest, sizeof o->digest, digest);
		o->size = json_is_integer(size) ? json_integer_value(size) : -1;
		if (sig)
			o->signature = mem_strdup(sig);
		out->n++;
	}
out:
	json_decref(doc);
	return rc;
}
