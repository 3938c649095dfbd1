#include "ocifake.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigfixture.h"
#include "webhook/verify/ocimanifest.h"
#include "webhook/verify/registry.h"

#define MAX_OBJ 256

struct obj {
	char repo[64], ref[128], media_type[96];
	char *body;
};

static struct obj objs[MAX_OBJ];
static int nobj;
static atomic_int requests;
static struct MHD_Daemon *daemon_;

void ocifake_put(const char *repo, const char *ref, const char *mt, const char *body)
{
	if (nobj >= MAX_OBJ) {
		fprintf(stderr, "ocifake: table full\n");
		abort();
	}
	struct obj *o = &objs[nobj++];
	snprintf(o->repo, sizeof o->repo, "%s", repo);
	snprintf(o->ref, sizeof o->ref, "%s", ref);
	snprintf(o->media_type, sizeof o->media_type, "%s", mt);
	o->body = strdup(body);
}

void ocifake_put_digest(const char *repo, const char *tag, const char *mt, const char *body, char d[72])
{
	fx_put_digest(ocifake_put, repo, tag, mt, body, d);
}

int ocifake_requests(void)
{
	return atomic_load(&requests);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
			     const char *digest)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", ctype);
	if (digest)
		MHD_add_response_header(r, "Docker-Content-Digest", digest);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	static int first;
	(void)cls;
	(void)method;
	(void)version;
	(void)upload;
	(void)upload_size;
	if (*con_cls != &first) {
		*con_cls = &first;
		return MHD_YES;
	}
	atomic_fetch_add(&requests, 1);
	/* /v2/<repo>/<manifests|blobs|referrers>/<ref> */
	const char *p = url + 4, *k = strstr(p, "/manifests/"), *b = strstr(p, "/blobs/"), *r = strstr(p, "/referrers/");
	const char *sep = k ? k : b ? b : r;
	char repo[64], ref[128];
	if (strncmp(url, "/v2/", 4) != 0 || !sep)
		return reply(c, 404, "application/json", "{\"errors\":[{\"code\":\"NOT_FOUND\"}]}", NULL);
	if (r && sep == r)
		return reply(c, 404, "text/plain", "404 page not found", NULL);
	snprintf(repo, sizeof repo, "%.*s", (int)(sep - p), p);
	snprintf(ref, sizeof ref, "%s", strchr(sep + 1, '/') + 1);
	for (int i = nobj - 1; i >= 0; i--) {
		const struct obj *o = &objs[i];
		int manifest = o->media_type[0] != '\0';
		if (strcmp(o->repo, repo) != 0 || strcmp(o->ref, ref) != 0 || manifest != (sep == k))
			continue;
		char d[72];
		fx_digest(o->body, strlen(o->body), d);
		return reply(c, 200, manifest ? o->media_type : "application/octet-stream", o->body, d);
	}
	return reply(c, 404, "application/json",
		     sep == k ? "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}"
			      : "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"blob unknown\"}]}",
		     NULL);
}

int ocifake_start(void)
{
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handle,
				   NULL, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!daemon_)
		return 0;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
	return info ? info->port : 0;
}

void ocifake_stop(void)
{
	if (daemon_)
		MHD_stop_daemon(daemon_);
	daemon_ = NULL;
	for (int i = 0; i < nobj; i++)
		free(objs[i].body);
	nobj = 0;
}

void ocifake_push_app(const char *repo, const char *tag, const char *salt, char d[72])
{
	fx_push_app(ocifake_put, repo, tag, salt, d);
}

void ocifake_sign_classic(const char *repo, const char *d, EVP_PKEY *key, const char *bound)
{
	fx_sign_classic(ocifake_put, repo, d, key, bound);
}

void ocifake_sign_bundle(const char *repo, const char *d, EVP_PKEY *key, const char *bound)
{
	fx_sign_bundle(ocifake_put, repo, d, key, bound);
}
