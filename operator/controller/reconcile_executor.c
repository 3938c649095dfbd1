/*
 * Reconciling one SpinAppExecutor (upstream's reconciler, docs/internals/controller.md), plus RuntimeClass wiring:
 *
 *   being deleted, SpinApps in its namespace still use it → Warning DeletionBlocked, keep the finalizer
 *                  (an app's deletion requeues the executor, so release follows at once, not after a backoff)
 *   being deleted, no dependants                        → remove core.spinkube.dev/finalizer
 *   otherwise                                            → ensure the finalizer; apply the RuntimeClass it
 *                  declares in deploymentConfig.runtimeClass; report whether its runtimeClassName exists
 *                  (condition RuntimeClassReady) and the observedGeneration in status
 * RuntimeClasses we created that no executor declares any more are deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operator/spin/spin.h"
#include "operator/controller/reconcile_executor.h"
#include "operator/controller/condition.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"

static int has_finalizer(const json_t *obj)
{
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "finalizers"), i, f) {
		if (json_is_string(f) && !strcmp(json_string_value(f), SPIN_EXECUTOR_FINALIZER))
			return 1;
	}
	return 0;
}

/* Number of SpinApps in ns whose spec.executor is name (the apps cache's index: nothing decoded). */
static size_t dependants(struct controller *ctl, const char *ns, const char *name)
{
	return ctl->store.ops->cache_count_indexed(ctl->store.ctx, CTL_APPS, ns, name);
}

/* PUT of the executor with our finalizer added or removed; optimistic concurrency through resourceVersion. */
static int set_finalizer(struct controller *ctl, const json_t *exec, int present)
{
	json_t *obj = json_deep_copy(exec), *kept = json_array(), *f;
	size_t i;
	int rc;

	json_t *meta = json_object_get(obj, "metadata"); /* cached objects always have one */
	json_array_foreach(json_object_get(meta, "finalizers"), i, f) {
		if (!(json_is_string(f) && !strcmp(json_string_value(f), SPIN_EXECUTOR_FINALIZER)))
			json_array_append(kept, f);
	}
	if (present)
		json_array_append_new(kept, json_string(SPIN_EXECUTOR_FINALIZER));
	json_object_set(meta, "finalizers", kept);
	json_object_del(obj, "status");
	struct kube_response resp = { 0 };
	rc = ctl->store.ops->update(ctl->store.ctx, &KUBE_SPINAPPEXECUTORS, ctl_meta_str(exec, "namespace"), obj, &resp);
	ctl_count_write(ctl, 1);
	if (rc == SO_E_API_NOT_FOUND)
		rc = SO_OK;
	if (rc)
		log_warn("executor", "%s/%s: %s finalizer: %s: %s", ctl_meta_str(exec, "namespace"), ctl_meta_str(exec, "name"),
			 present ? "adding" : "removing", so_strerror(rc), resp.message ? resp.message : "");
	kube_response_free(&resp);
	json_decref(kept);
	json_decref(obj);
	return rc;
}

/* deploymentConfig.runtimeClass → the RuntimeClass named runtimeClassName, labelled as ours. */
static json_t *desired_runtime_class(const json_t *dc)
{
	const json_t *spec = json_object_get(dc, "runtimeClass");
	const char *name = json_string_value(json_object_get(dc, "runtimeClassName"));
	const char *handler = json_string_value(json_object_get(spec, "handler"));
	if (!json_is_object(spec) || !name || !*name || !handler)
		return NULL;
	json_t *rc = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:s}", "apiVersion", "node.k8s.io/v1", "kind",
			       "RuntimeClass", "metadata", "name", name, "labels", MANAGED_BY_LABEL, MANAGED_BY_US,
			       "handler", handler);
	json_t *sched = json_object();
	const json_t *ns = json_object_get(spec, "nodeSelector"), *tol = json_object_get(spec, "tolerations");
	if (rc) {
		if (json_is_object(ns) && json_object_size(ns))
			json_object_set(sched, "nodeSelector", (json_t *)ns);
		if (json_is_array(tol) && json_array_size(tol))
			json_object_set(sched, "tolerations", (json_t *)tol);
		if (json_object_size(sched))
			json_object_set(rc, "scheduling", sched);
	}
	json_decref(sched);
	return rc;
}

static int apply_runtime_class(struct controller *ctl, const json_t *exec, const json_t *desired)
{
	struct kube_response resp = { 0 };
	int wrote = 0;
	const char *name = ctl_meta_str(desired, "name");
	json_t *live = ctl->store.ops->cache_get(ctl->store.ctx, CTL_RUNTIMECLASSES, NULL, name);
	int rc;
	if (live && !json_object_get(json_object_get(json_object_get(live, "metadata"), "labels"), MANAGED_BY_LABEL)) {
		rc = SO_OK; /* someone else's RuntimeClass of that name: leave it alone */
	} else {
		rc = applier_apply_with(ctl->applier, ctl->store.ops->apply, ctl->store.ctx, &KUBE_RUNTIMECLASSES, NULL,
					desired, live, NULL, &wrote, &resp);
		ctl_count_write(ctl, wrote);
		if (rc)
			log_warn("executor", "%s/%s: applying RuntimeClass %s: %s: %s", ctl_meta_str(exec, "namespace"),
				 ctl_meta_str(exec, "name"), name, so_strerror(rc), resp.message ? resp.message : "");
		else if (wrote)
			log_info("executor", "RuntimeClass %s applied for %s/%s", name, ctl_meta_str(exec, "namespace"),
				 ctl_meta_str(exec, "name"));
	}
	json_decref(live);
	kube_response_free(&resp);
	return rc;
}

/* Deletes RuntimeClasses labelled as ours that no live executor declares. */
static void collect_runtime_classes(struct controller *ctl)
{
	json_t *classes = ctl->store.ops->cache_list(ctl->store.ctx, CTL_RUNTIMECLASSES);
	json_t *execs = ctl->store.ops->cache_list(ctl->store.ctx, CTL_EXECUTORS), *c, *e;
	size_t i, j;
	json_array_foreach(classes, i, c) {
		const char *label = json_string_value(
			json_object_get(json_object_get(json_object_get(c, "metadata"), "labels"), MANAGED_BY_LABEL));
		const char *name = ctl_meta_str(c, "name");
		int declared = 0;
		if (!label || strcmp(label, MANAGED_BY_US) || !name)
			continue;
		json_array_foreach(execs, j, e) {
			const json_t *dc = json_object_get(json_object_get(e, "spec"), "deploymentConfig");
			const char *n = json_string_value(json_object_get(dc, "runtimeClassName"));
			declared |= n && !strcmp(n, name) && json_is_object(json_object_get(dc, "runtimeClass")) &&
				    !json_object_get(json_object_get(e, "metadata"), "deletionTimestamp");
		}
		if (declared)
			continue;
		struct kube_delete_opts o = { NULL, ctl_meta_str(c, "uid"), NULL };
		int rc = ctl->store.ops->delete(ctl->store.ctx, &KUBE_RUNTIMECLASSES, NULL, name, &o, NULL);
		ctl_count_write(ctl, 1);
		applier_forget(ctl->applier, &KUBE_RUNTIMECLASSES, NULL, name);
		if (rc == SO_OK)
			log_info("executor", "RuntimeClass %s deleted: no executor declares it any more", name);
	}
	json_decref(classes);
	json_decref(execs);
}

static int update_status(struct controller *ctl, const json_t *exec)
{
	const json_t *old = json_object_get(exec, "status");
	const json_t *dc = json_object_get(json_object_get(exec, "spec"), "deploymentConfig");
	const char *rc_name = json_string_value(json_object_get(dc, "runtimeClassName"));
	long long gen = (long long)json_integer_value(json_object_get(json_object_get(exec, "metadata"), "generation"));
	json_t *conds = json_deep_copy(json_object_get(old, "conditions"));
	json_t *st = json_object();
	char now[32], msg[512];
	int rc;

	clock_format_rfc3339((long long)time(NULL), now);
	if (rc_name && *rc_name) {
		json_t *found = ctl->store.ops->cache_get(ctl->store.ctx, CTL_RUNTIMECLASSES, NULL, rc_name);
		if (found) {
			snprintf(msg, sizeof msg, "RuntimeClass \"%s\" exists", rc_name);
			condition_set(&conds, "RuntimeClassReady", "True", "Found", msg, gen, now);
		} else {
			snprintf(msg, sizeof msg, "RuntimeClass \"%s\" not found", rc_name);
			condition_set(&conds, "RuntimeClassReady", "False", "NotFound", msg, gen, now);
		}
		json_decref(found);
	}
	if (conds && json_array_size(conds))
		json_object_set(st, "conditions", conds);
	json_object_set_new(st, "observedGeneration", json_integer(gen));
	if (old && json_equal((json_t *)old, st)) {
		rc = SO_OK;
		goto out;
	}
	json_t *patch = json_pack("{s:O}", "status", st); /* st is an object: cannot fail */
	rc = ctl->store.ops->patch_status(ctl->store.ctx, &KUBE_SPINAPPEXECUTORS, ctl_meta_str(exec, "namespace"),
					  ctl_meta_str(exec, "name"), patch, NULL);
	ctl_count_write(ctl, 1);
	json_decref(patch);
	if (rc == SO_E_API_NOT_FOUND)
		rc = SO_OK;
out:
	json_decref(conds);
	json_decref(st);
	return rc;
}

int reconcile_executor(struct controller *ctl, const char *ns, const char *name)
{
	json_t *exec = ctl->store.ops->cache_get(ctl->store.ctx, CTL_EXECUTORS, ns, name);
	int rc = SO_OK;

	if (!exec) {
		collect_runtime_classes(ctl);
		return SO_OK;
	}
	if (json_object_get(json_object_get(exec, "metadata"), "deletionTimestamp")) {
		if (has_finalizer(exec)) {
			if (dependants(ctl, ns, name)) {
				ctl->store.ops->event(ctl->store.ctx, CTL_REC_EXECUTOR, exec, "Warning", "DeletionBlocked",
						      "Cannot delete SpinAppExecutor with dependent SpinApps");
				log_info("executor", "%s/%s: deletion blocked by dependent SpinApps", ns, name);
			} else {
				rc = set_finalizer(ctl, exec, 0);
			}
		}
		if (!rc)
			collect_runtime_classes(ctl);
		goto out;
	}
	if (!has_finalizer(exec) && (rc = set_finalizer(ctl, exec, 1)))
		goto out;
	const json_t *dc = json_object_get(json_object_get(exec, "spec"), "deploymentConfig");
	json_t *want = desired_runtime_class(dc);
	if (want) {
		rc = apply_runtime_class(ctl, exec, want);
		json_decref(want);
		if (rc)
			goto out;
	}
	collect_runtime_classes(ctl);
	rc = update_status(ctl, exec);
out:
	json_decref(exec);
	return rc;
}
