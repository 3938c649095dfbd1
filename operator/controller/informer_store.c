/* The production struct ctl_store (store.h) over the informers: the controller's informers, API client and event recorders. */
#include "operator/controller/informer_store.h"

#include "operator/spin/spin.h"
#include "operator/controller/routes.h"

/* The informer behind cache c; NULL for the HTTPRoutes while the Gateway API is not served, whose reads then
 * find nothing. */
static struct informer *cache(void *ctx, enum ctl_cache c)
{
	struct informer *all[CTL_NINFORMERS];
	if (c == CTL_HTTPROUTES)
		return ctl_routes_informer(ctx);
	ctl_informers(ctx, all);
	return all[c]; /* enum ctl_cache follows ctl_informers' order */
}

static json_t *cache_get(void *ctx, enum ctl_cache c, const char *ns, const char *name)
{
	struct informer *inf = cache(ctx, c);
	return inf ? informer_get(inf, ns, name) : NULL;
}

static int cache_has(void *ctx, enum ctl_cache c, const char *ns, const char *name)
{
	struct informer *inf = cache(ctx, c);
	return inf ? informer_has(inf, ns, name) : 0;
}

static json_t *cache_list(void *ctx, enum ctl_cache c)
{
	struct informer *inf = cache(ctx, c);
	return inf ? informer_list(inf) : json_array();
}

static json_t *cache_list_indexed(void *ctx, enum ctl_cache c, const char *ns, const char *value)
{
	struct informer *inf = cache(ctx, c);
	return inf ? informer_list_indexed(inf, ns, value) : json_array();
}

static json_t *cache_keys_indexed(void *ctx, enum ctl_cache c, const char *ns, const char *value)
{
	struct informer *inf = cache(ctx, c);
	return inf ? informer_keys_indexed(inf, ns, value) : json_array();
}

static size_t cache_count_indexed(void *ctx, enum ctl_cache c, const char *ns, const char *value)
{
	struct informer *inf = cache(ctx, c);
	return inf ? informer_count_indexed(inf, ns, value) : 0;
}

static struct kube_client *client(void *ctx)
{
	return ((struct controller *)ctx)->c;
}

static int get(void *ctx, const struct kube_resource *r, const char *ns, const char *name, json_t **out,
	       struct kube_response *resp)
{
	return kube_get(client(ctx), r, ns, name, out, resp);
}

static int create(void *ctx, const struct kube_resource *r, const char *ns, const json_t *obj,
		  struct kube_response *resp)
{
	return kube_create(client(ctx), r, ns, obj, NULL, resp);
}

static int update(void *ctx, const struct kube_resource *r, const char *ns, const json_t *obj,
		  struct kube_response *resp)
{
	return kube_update(client(ctx), r, ns, obj, NULL, resp);
}

static int apply(void *ctx, const struct kube_resource *r, const char *ns, const json_t *obj, json_t **out,
		 struct kube_response *resp)
{
	return kube_apply(client(ctx), r, ns, obj, NULL, APPLIER_FIELD_MANAGER, 1, out, resp);
}

static int patch_status(void *ctx, const struct kube_resource *r, const char *ns, const char *name,
			const json_t *patch, struct kube_response *resp)
{
	return kube_merge_patch(client(ctx), r, ns, name, "status", patch, NULL, resp);
}

static int delete(void *ctx, const struct kube_resource *r, const char *ns, const char *name,
		  const struct kube_delete_opts *o, struct kube_response *resp)
{
	return kube_delete(client(ctx), r, ns, name, o, resp);
}

static void event(void *ctx, enum ctl_recorder from, const json_t *obj, const char *type, const char *reason,
		  const char *message)
{
	struct controller *ctl = ctx;
	recorder_event(from == CTL_REC_APP ? ctl->app_rec : ctl->exec_rec, obj, type, reason, message);
}

static int routes_served(void *ctx)
{
	return ctl_routes_served(ctx);
}

static const struct ctl_store_ops informer_store = {
	cache_get, cache_has, cache_list, cache_list_indexed, cache_keys_indexed, cache_count_indexed,
	get, create, update, apply, patch_status, delete, event, routes_served,
};

struct ctl_store ctl_store_informers(struct controller *ctl)
{
	return (struct ctl_store){ &informer_store, ctl };
}
