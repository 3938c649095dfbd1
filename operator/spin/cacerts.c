/*
 * The default CA bundle Secret (upstream's ensureCASecret). Created once per namespace when an executor sets
 * installDefaultCACerts and never updated, so it carries no ownerReference and outlives apps and operator; the
 * managed-by annotation (not a label) marks who made it. The bundle itself is supplied by the caller.
 */
#include <jansson.h>

#include "operator/spin/spin.h"

json_t *spin_ca_secret(const char *ns, const char *name, const char *bundle, size_t len)
{
	json_t *secret = NULL, *meta, *data;

	if (!name || !*name || (!bundle && len > 0))
		return NULL;
	meta = json_pack("{s:s}", "name", name);
	if (!meta)
		return NULL;
	if (ns && *ns && json_object_set_new(meta, "namespace", json_string(ns)))
		goto out;
	if (json_object_set_new(meta, "annotations",
				json_pack("{s:s}", SPIN_MANAGED_BY_ANNOTATION, SPIN_MANAGED_BY_VALUE)))
		goto out;
	/* json_stringn refuses invalid UTF-8, which stringData could not carry anyway. */
	data = json_stringn(bundle ? bundle : "", len);
	if (data)
		secret = json_pack("{s:s, s:s, s:O, s:{s:o}}", "apiVersion", "v1", "kind", "Secret", "metadata", meta,
				   "stringData", SPIN_CA_KEY, data);
out:
	json_decref(meta);
	return secret;
}
