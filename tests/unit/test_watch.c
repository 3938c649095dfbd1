/* Watch-stream framing and decoding: chunk boundaries anywhere, many events per chunk, caps, garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/kube/watch.h"
#include "operator/base/err.h"

struct seen {
	int n;
	enum kube_event_type types[16];
	char names[16][64];
	char rvs[16][32];
	int stop_after; /* return an error from the handler after this many events (0: never) */
};

static int record(void *ud, enum kube_event_type type, json_t *obj)
{
	struct seen *s = ud;
	if (s->n < 16) {
		json_t *meta = json_object_get(obj, "metadata");
		const char *name = json_string_value(json_object_get(meta, "name"));
		const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
		s->types[s->n] = type;
		snprintf(s->names[s->n], sizeof s->names[0], "%s", name ? name : "");
		snprintf(s->rvs[s->n], sizeof s->rvs[0], "%s", rv ? rv : "");
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after ? SO_E_CANCELLED : SO_OK;
}

static const char stream[] =
	"{\"type\":\"ADDED\",\"object\":{\"kind\":\"SpinApp\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"10\"},"
	"\"spec\":{\"image\":\"x{y}\\\"z\\\\\",\"list\":[{\"k\":\"}\"}]}}}\n"
	"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"11\"}}}\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"SpinApp\",\"metadata\":{\"resourceVersion\":\"12\"}}}\n"
	"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"13\"}}}\n"
	"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n";

static void check_stream(const struct seen *s)
{
	assert_int_equal(s->n, 5);
	assert_int_equal(s->types[0], KUBE_EVENT_ADDED);
	assert_string_equal(s->names[0], "a");
	assert_string_equal(s->rvs[0], "10");
	assert_int_equal(s->types[1], KUBE_EVENT_MODIFIED);
	assert_string_equal(s->names[1], "b");
	assert_int_equal(s->types[2], KUBE_EVENT_BOOKMARK);
	assert_string_equal(s->rvs[2], "12");
	assert_int_equal(s->types[3], KUBE_EVENT_DELETED);
	assert_string_equal(s->rvs[3], "13");
	assert_int_equal(s->types[4], KUBE_EVENT_ERROR);
}

static void whole_stream_in_one_chunk(void **state)
{
	(void)state;
	struct seen s = { 0 };
	struct kube_watch_parser p;
	kube_watch_parser_init(&p, 1 << 20, record, &s);
	assert_int_equal(kube_watch_parser_feed(&p, stream, strlen(stream)), SO_OK);
	check_stream(&s);
	assert_int_equal(p.pending.len, 0);
	kube_watch_parser_free(&p);
}

/* Every split point of the stream into two chunks gives the same events. */
static void split_at_every_offset(void **state)
{
	(void)state;
	size_t len = strlen(stream);
	for (size_t cut = 0; cut <= len; cut++) {
		struct seen s = { 0 };
		struct kube_watch_parser p;
		kube_watch_parser_init(&p, 1 << 20, record, &s);
		assert_int_equal(kube_watch_parser_feed(&p, stream, cut), SO_OK);
		assert_int_equal(kube_watch_parser_feed(&p, stream + cut, len - cut), SO_OK);
		check_stream(&s);
		kube_watch_parser_free(&p);
	}
}

static void one_byte_at_a_time(void **state)
{
	(void)state;
	struct seen s = { 0 };
	struct kube_watch_parser p;
	kube_watch_parser_init(&p, 1 << 20, record, &s);
	for (size_t i = 0; stream[i]; i++)
		assert_int_equal(kube_watch_parser_feed(&p, stream + i, 1), SO_OK);
	check_stream(&s);
	kube_watch_parser_free(&p);
}

/* Events need no newline between them, and CRLF or blank lines between them are fine. */
static void framing_without_newlines(void **state)
{
	(void)state;
	const char *in = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}"
			 "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"y\"}}}\r\n\r\n  "
			 "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"z\"}}}";
	struct seen s = { 0 };
	struct kube_watch_parser p;
	kube_watch_parser_init(&p, 4096, record, &s);
	assert_int_equal(kube_watch_parser_feed(&p, in, strlen(in)), SO_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[2], "z");
	kube_watch_parser_free(&p);
}

/* The cap is per event: many small events in a stream longer than the cap pass. */
static void cap_is_per_event(void **state)
{
	(void)state;
	const char *ev = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"n\"}}}\n";
	size_t evlen = strlen(ev);
	struct seen s = { 0 };
	struct kube_watch_parser p;
	kube_watch_parser_init(&p, evlen + 1, record, &s);
	char big[4096];
	size_t off = 0;
	for (int i = 0; i < 10; i++, off += evlen)
		memcpy(big + off, ev, evlen);
	assert_int_equal(kube_watch_parser_feed(&p, big, off), SO_OK);
	assert_int_equal(s.n, 10);
	kube_watch_parser_free(&p);
}

static void oversized_event_fails(void **state)
{
	(void)state;
	struct seen s = { 0 };
	struct kube_watch_parser p;
	kube_watch_parser_init(&p, 64, record, &s);
	char big[200];
	memset(big, ' ', sizeof big);
	memcpy(big, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"", 46);
	assert_int_equal(kube_watch_parser_feed(&p, big, sizeof big), SO_E_TOO_LARGE);
	assert_non_null(strstr(p.error, "size cap"));
	/* Sticky: the stream cannot be resumed mid-event. */
	assert_int_equal(kube_watch_parser_feed(&p, "}", 1), SO_E_TOO_LARGE);
	assert_int_equal(s.n, 0);
	kube_watch_parser_free(&p);
}

static void garbage_fails(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"not json\n",
		"[1,2,3]\n",
		"{\"type\":\"ADDED\"}\n",                               /* no object */
		"{\"type\":\"WHATEVER\",\"object\":{}}\n",              /* unknown type */
		"{\"object\":{}}\n",                                    /* no type */
		"{\"type\":\"ADDED\",\"object\":{} trailing}\n",        /* invalid JSON inside the frame */
		"{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{}}\n", /* duplicate keys */
		"}\n",
		"{\"type\":\"ADDED\",\"object\":{}}\nxyz",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct seen s = { 0 };
		struct kube_watch_parser p;
		kube_watch_parser_init(&p, 4096, record, &s);
		int rc = kube_watch_parser_feed(&p, bad[i], strlen(bad[i]));
		assert_int_equal(rc, SO_E_BAD_RESPONSE);
		assert_true(p.error[0] != '\0');
		kube_watch_parser_free(&p);
	}
}

static void handler_error_stops_stream(void **state)
{
	(void)state;
	struct seen s = { .stop_after = 2 };
	struct kube_watch_parser p;
	kube_watch_parser_init(&p, 1 << 20, record, &s);
	assert_int_equal(kube_watch_parser_feed(&p, stream, strlen(stream)), SO_E_CANCELLED);
	assert_int_equal(s.n, 2);
	kube_watch_parser_free(&p);
}

/* An incomplete trailing event stays pending and is completed by the next chunk. */
static void partial_event_is_kept(void **state)
{
	(void)state;
	struct seen s = { 0 };
	struct kube_watch_parser p;
	const char *a = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"p\"}";
	kube_watch_parser_init(&p, 4096, record, &s);
	assert_int_equal(kube_watch_parser_feed(&p, a, strlen(a)), SO_OK);
	assert_int_equal(s.n, 0);
	assert_int_equal(p.pending.len, strlen(a));
	assert_int_equal(kube_watch_parser_feed(&p, "}}\n", 3), SO_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "p");
	kube_watch_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_stream_in_one_chunk),
		cmocka_unit_test(split_at_every_offset),
		cmocka_unit_test(one_byte_at_a_time),
		cmocka_unit_test(framing_without_newlines),
		cmocka_unit_test(cap_is_per_event),
		cmocka_unit_test(oversized_event_fails),
		cmocka_unit_test(garbage_fails),
		cmocka_unit_test(handler_error_stops_stream),
		cmocka_unit_test(partial_event_is_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
