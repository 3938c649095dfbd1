/* The helpers state.h declares: small reads of objects and the controller's counters, shared by the reconcilers. */
#include "operator/controller/state.h"

#include <stdio.h>
#include <string.h>

const char *ctl_meta_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

const char *ctl_spec_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "spec"), key));
}

/* Whether obj carries an ownerReference to owner (by uid). */
int ctl_owned_by(const json_t *obj, const json_t *owner)
{
	const char *uid = ctl_meta_str(owner, "uid");
	size_t i;
	json_t *ref;
	if (!uid)
		return 0;
	json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), i, ref) {
		const char *u = json_string_value(json_object_get(ref, "uid"));
		if (u && !strcmp(u, uid))
			return 1;
	}
	return 0;
}

void ctl_enqueue_key(struct queue *q, const char *ns, const char *name)
{
	char key[512];
	if (!name)
		return;
	int n = snprintf(key, sizeof key, "%s/%s", ns ? ns : "", name);
	if (n > 0 && (size_t)n < sizeof key)
		queue_add(q, key);
}

void ctl_count_write(struct controller *ctl, int wrote)
{
	if (wrote)
		atomic_fetch_add(&ctl->writes, 1);
	else
		atomic_fetch_add(&ctl->skipped_applies, 1);
}

void ctl_informers(const struct controller *ctl, struct informer *all[CTL_NINFORMERS])
{
	all[0] = ctl->apps;
	all[1] = ctl->executors;
	all[2] = ctl->deployments;
	all[3] = ctl->services;
	all[4] = ctl->secrets;
	all[5] = ctl->hpas;
	all[6] = ctl->replicasets;
	all[7] = ctl->runtimeclasses;
}
