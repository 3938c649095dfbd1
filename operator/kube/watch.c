#include "operator/kube/watch.h"

#include <stdio.h>
#include <string.h>

#include "operator/base/err.h"

static const char *const type_names[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };

const char *kube_event_type_name(enum kube_event_type type)
{
	return (unsigned)type < sizeof type_names / sizeof type_names[0] ? type_names[type] : "UNKNOWN";
}

void kube_watch_parser_init(struct kube_watch_parser *p, size_t max_event, kube_watch_event_fn on_event, void *ud)
{
	memset(p, 0, sizeof *p);
	buf_init(&p->pending, max_event);
	p->on_event = on_event;
	p->ud = ud;
}

void kube_watch_parser_free(struct kube_watch_parser *p)
{
	buf_free(&p->pending);
}

static int fail(struct kube_watch_parser *p, int err, const char *why, const char *detail)
{
	p->failed = err;
	if (snprintf(p->error, sizeof p->error, "%s%s%s", why, detail ? ": " : "", detail ? detail : "") < 0)
		p->error[0] = '\0'; /* truncation is fine: the message is for a log line */
	return err;
}

/* Decodes one framed event, bytes [start, end) of pending, and hands it to the callback. */
static int dispatch(struct kube_watch_parser *p, size_t start, size_t end)
{
	json_error_t jerr;
	json_t *ev = json_loadb(p->pending.data + start, end - start, JSON_REJECT_DUPLICATES, &jerr);
	int rc;

	if (!ev)
		return fail(p, SO_E_BAD_RESPONSE, "event is not valid JSON", jerr.text);
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	int t = -1;
	for (int i = 0; type && i < 5; i++) {
		if (strcmp(type, type_names[i]) == 0)
			t = i;
	}
	if (t < 0) {
		rc = fail(p, SO_E_BAD_RESPONSE, "event has no known \"type\"", NULL);
	} else if (!json_is_object(obj)) {
		rc = fail(p, SO_E_BAD_RESPONSE, "event has no \"object\"", NULL);
	} else {
		rc = p->on_event(p->ud, (enum kube_event_type)t, obj);
		if (rc)
			fail(p, rc, "event handler stopped the stream", NULL);
	}
	json_decref(ev);
	return rc;
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t';
}

/* Frames events in pending from p->scanned on; p->start marks where the current event begins. */
static int scan(struct kube_watch_parser *p)
{
	const char *d = p->pending.data;

	while (p->scanned < p->pending.len) {
		char ch = d[p->scanned];
		if (p->depth == 0 && !p->in_string) {
			if (is_space(ch)) {
				p->start = ++p->scanned;
				continue;
			}
			if (ch != '{')
				return fail(p, SO_E_BAD_RESPONSE, "stream data is not a JSON object", NULL);
		}
		p->scanned++;
		if (p->in_string) {
			if (p->escaped)
				p->escaped = 0;
			else if (ch == '\\')
				p->escaped = 1;
			else if (ch == '"')
				p->in_string = 0;
		} else if (ch == '"') {
			p->in_string = 1;
		} else if (ch == '{' || ch == '[') {
			p->depth++;
		} else if ((ch == '}' || ch == ']') && --p->depth == 0) {
			int rc = dispatch(p, p->start, p->scanned);
			if (rc)
				return rc;
			p->start = p->scanned;
		}
	}
	return SO_OK;
}

int kube_watch_parser_feed(struct kube_watch_parser *p, const char *data, size_t len)
{
	if (p->failed)
		return p->failed;
	while (len) {
		size_t room = p->pending.cap - p->pending.len;
		if (room == 0)
			return fail(p, SO_E_TOO_LARGE, "event exceeds the size cap", NULL);
		size_t take = len < room ? len : room;
		buf_append(&p->pending, data, take); /* cannot fail: take fits under the cap */
		data += take;
		len -= take;
		int rc = scan(p);
		if (rc)
			return rc;
		/* Drop consumed events once per piece, not once per event. */
		buf_consume(&p->pending, p->start);
		p->scanned -= p->start;
		p->start = 0;
	}
	return SO_OK;
}
