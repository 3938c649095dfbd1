/*
 * The event recorder against the real kube-apiserver: the Events it writes pass the server's validation,
 * repeats end up as one Event with a growing count, the fields `kubectl describe` selects on are there,
 * and an Event deleted behind the recorder's back is recreated. Every test works in its own namespace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "operator/runtime/recorder.h"
#include "operator/runtime/recorder_internal.h"
#include "operator/kube/api.h"
#include "operator/kube/loadconfig.h"
#include "operator/kube/client.h"
#include "operator/kube/config.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/log.h"

#define COMPONENT "spinapp-reconciler"

struct fixture {
	struct kube_config cfg;
	struct kube_client *c;
	char ns[64];
	json_t *cm; /* the ConfigMap as the server returned it */
};

static int setup(void **state)
{
	static unsigned seq;
	struct fixture *f = calloc(1, sizeof *f);
	char err[512] = "";
	if (!f)
		return -1;
	if (kube_config_load(NULL, NULL, &f->cfg, err, sizeof err)) {
		fprintf(stderr, "config: %s\n", err);
		return -1;
	}
	struct kube_client_opts o;
	kube_client_opts_default(&o);
	o.qps = 0;
	if (kube_client_new(&f->cfg, &o, &f->c, err, sizeof err)) {
		fprintf(stderr, "client: %s\n", err);
		return -1;
	}
	snprintf(f->ns, sizeof f->ns, "ev-%ld-%u", (long)getpid(), seq++);
	json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", f->ns);
	int rc = kube_create(f->c, &KUBE_NAMESPACES, NULL, ns, NULL, NULL);
	json_decref(ns);
	if (rc) {
		fprintf(stderr, "create namespace %s: %s\n", f->ns, so_strerror(rc));
		return -1;
	}
	json_t *cm = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
			       "name", "app-config", "data", "k", "v");
	rc = kube_create(f->c, &KUBE_CONFIGMAPS, f->ns, cm, &f->cm, NULL);
	json_decref(cm);
	if (rc) {
		fprintf(stderr, "create configmap: %s\n", so_strerror(rc));
		return -1;
	}
	/* The server's answer has no apiVersion/kind on some versions; the recorder needs them. */
	json_object_set_new(f->cm, "apiVersion", json_string("v1"));
	json_object_set_new(f->cm, "kind", json_string("ConfigMap"));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	kube_delete(f->c, &KUBE_NAMESPACES, NULL, f->ns, NULL, NULL);
	json_decref(f->cm);
	kube_client_free(f->c);
	kube_config_free(&f->cfg);
	free(f);
	return 0;
}

static const char *str(const json_t *v, const char *path)
{
	char key[64];
	const char *dot;
	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
		v = json_object_get(v, key);
		path = dot + 1;
	}
	return json_string_value(json_object_get(v, path));
}

static const char *uid_of(const json_t *obj)
{
	return str(obj, "metadata.uid");
}

/* Events in ns about the object with this uid, selected the way `kubectl describe` selects them. */
static json_t *events_about(struct fixture *f, const char *ns, const json_t *obj)
{
	struct buf sel = BUF_INIT(1024);
	json_t *items = NULL;
	struct kube_response resp = { 0 };
	assert_int_equal(buf_appendf(&sel, "involvedObject.name=%s,involvedObject.namespace=%s,involvedObject.kind=%s,"
				     "involvedObject.uid=%s",
				     str(obj, "metadata.name"), str(obj, "metadata.namespace") ? str(obj, "metadata.namespace") : "",
				     str(obj, "kind"), uid_of(obj)),
			 SO_OK);
	struct kube_list_opts o = { .field_selector = sel.data };
	int rc = kube_list(f->c, &KUBE_EVENTS, ns, &o, &items, NULL, &resp);
	if (rc)
		fprintf(stderr, "list events: %s: %s\n", so_strerror(rc), resp.message);
	assert_int_equal(rc, SO_OK);
	kube_response_free(&resp);
	buf_free(&sel);
	return items;
}

static json_t *only_event(json_t *items)
{
	assert_int_equal(json_array_size(items), 1);
	return json_array_get(items, 0);
}

static long long count_of(const json_t *ev)
{
	return json_integer_value(json_object_get(ev, "count"));
}

static void warning_then_repeats(void **state)
{
	struct fixture *f = *state;
	struct recorder *r = NULL;
	char host[256] = "";

	assert_int_equal(recorder_new(f->c, COMPONENT, &r), SO_OK);
	recorder_event(r, f->cm, "Warning", "InvalidConfig", "key \"k\" is not a valid runtime config");
	assert_int_equal(recorder_flush(r, 30), SO_OK);

	json_t *items = events_about(f, f->ns, f->cm);
	json_t *ev = only_event(items);
	assert_int_equal(count_of(ev), 1);
	assert_string_equal(str(ev, "type"), "Warning");
	assert_string_equal(str(ev, "reason"), "InvalidConfig");
	assert_string_equal(str(ev, "message"), "key \"k\" is not a valid runtime config");
	assert_string_equal(str(ev, "involvedObject.apiVersion"), "v1");
	assert_string_equal(str(ev, "involvedObject.kind"), "ConfigMap");
	assert_string_equal(str(ev, "involvedObject.name"), "app-config");
	assert_string_equal(str(ev, "involvedObject.namespace"), f->ns);
	assert_string_equal(str(ev, "involvedObject.uid"), uid_of(f->cm));
	assert_string_equal(str(ev, "involvedObject.resourceVersion"), str(f->cm, "metadata.resourceVersion"));
	assert_string_equal(str(ev, "source.component"), COMPONENT);
	assert_string_equal(str(ev, "reportingComponent"), COMPONENT);
	gethostname(host, sizeof host - 1);
	assert_string_equal(str(ev, "reportingInstance"), host);
	assert_non_null(str(ev, "firstTimestamp"));
	assert_string_equal(str(ev, "firstTimestamp"), str(ev, "lastTimestamp"));
	assert_true(!strncmp(str(ev, "metadata.name"), "app-config.", 11));
	char *name = strdup(str(ev, "metadata.name"));
	char *first = strdup(str(ev, "firstTimestamp"));
	json_decref(items);

	/* Two more of the same, a second or so apart so lastTimestamp can move: one Event, count 3. */
	sleep(1);
	recorder_event(r, f->cm, "Warning", "InvalidConfig", "key \"k\" is not a valid runtime config");
	recorder_event(r, f->cm, "Warning", "InvalidConfig", "key \"k\" is not a valid runtime config");
	recorder_free(r, 30);

	items = events_about(f, f->ns, f->cm);
	ev = only_event(items);
	assert_string_equal(str(ev, "metadata.name"), name);
	assert_int_equal(count_of(ev), 3);
	assert_string_equal(str(ev, "firstTimestamp"), first);
	assert_true(strcmp(str(ev, "lastTimestamp"), first) > 0);
	json_decref(items);
	free(name);
	free(first);
}

static void distinct_events_and_long_messages(void **state)
{
	struct fixture *f = *state;
	struct recorder *r = NULL;
	char big[4096];

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(recorder_new(f->c, COMPONENT, &r), SO_OK);
	recorder_event(r, f->cm, "Normal", "Synced", "synced");
	recorder_event(r, f->cm, "Normal", "Synced", big);
	recorder_event(r, f->cm, "Warning", "Synced", "synced");
	recorder_free(r, 30);

	json_t *items = events_about(f, f->ns, f->cm);
	assert_int_equal(json_array_size(items), 3);
	size_t i;
	json_t *ev;
	int long_seen = 0;
	json_array_foreach(items, i, ev) {
		assert_int_equal(count_of(ev), 1);
		if (strlen(str(ev, "message")) > 100) {
			assert_int_equal(strlen(str(ev, "message")), RECORDER_MESSAGE_MAX);
			long_seen = 1;
		}
	}
	assert_true(long_seen);
	json_decref(items);
}

static void deleted_event_is_recreated(void **state)
{
	struct fixture *f = *state;
	struct recorder *r = NULL;

	assert_int_equal(recorder_new(f->c, COMPONENT, &r), SO_OK);
	recorder_event(r, f->cm, "Warning", "Failed", "boom");
	assert_int_equal(recorder_flush(r, 30), SO_OK);
	json_t *items = events_about(f, f->ns, f->cm);
	char *name = strdup(str(only_event(items), "metadata.name"));
	json_decref(items);
	assert_int_equal(kube_delete(f->c, &KUBE_EVENTS, f->ns, name, NULL, NULL), SO_OK);

	/* The repeat's patch finds nothing; the recorder starts a new Event, which the next repeat patches. */
	recorder_event(r, f->cm, "Warning", "Failed", "boom");
	recorder_event(r, f->cm, "Warning", "Failed", "boom");
	recorder_free(r, 30);
	items = events_about(f, f->ns, f->cm);
	json_t *ev = only_event(items);
	assert_string_not_equal(str(ev, "metadata.name"), name);
	assert_int_equal(count_of(ev), 2);
	json_decref(items);
	free(name);
}

static void cluster_scoped_object_events_go_to_default(void **state)
{
	struct fixture *f = *state;
	struct recorder *r = NULL;
	json_t *ns = NULL;

	assert_int_equal(kube_get(f->c, &KUBE_NAMESPACES, NULL, f->ns, &ns, NULL), SO_OK);
	json_object_set_new(ns, "apiVersion", json_string("v1"));
	json_object_set_new(ns, "kind", json_string("Namespace"));
	assert_int_equal(recorder_new(f->c, COMPONENT, &r), SO_OK);
	recorder_event(r, ns, "Normal", "Observed", "namespace seen");
	recorder_free(r, 30);

	json_t *items = events_about(f, "default", ns);
	json_t *ev = only_event(items);
	assert_string_equal(str(ev, "metadata.namespace"), "default");
	assert_null(str(ev, "involvedObject.namespace"));
	assert_string_equal(str(ev, "involvedObject.kind"), "Namespace");
	assert_int_equal(kube_delete(f->c, &KUBE_EVENTS, "default", str(ev, "metadata.name"), NULL, NULL), SO_OK);
	json_decref(items);
	json_decref(ns);
}

int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(warning_then_repeats, setup, teardown),
		cmocka_unit_test_setup_teardown(distinct_events_and_long_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(deleted_event_is_recreated, setup, teardown),
		cmocka_unit_test_setup_teardown(cluster_scoped_object_events_go_to_default, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
