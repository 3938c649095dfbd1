#include "operator/kube/listparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "operator/base/mem.h"

/* Deeper nesting than any Kubernetes object has; bounds the depth counter (jansson refuses 2048 anyway). */
#define MAX_DEPTH 4096
/* A capture buffer grown past this by one large item is released rather than kept for the next one. */
#define KEEP_CAPTURE (256u << 10)

void kube_list_parser_init(struct kube_list_parser *p, size_t max_item, kube_list_item_fn on_item, void *ud)
{
	memset(p, 0, sizeof *p);
	buf_init(&p->capture, max_item);
	p->on_item = on_item;
	p->ud = ud;
}

void kube_list_parser_free(struct kube_list_parser *p)
{
	buf_free(&p->capture);
	free(p->resource_version);
	free(p->cont);
	p->resource_version = p->cont = NULL;
}

static int fail(struct kube_list_parser *p, int err, const char *why, const char *detail)
{
	p->failed = err;
	if (snprintf(p->error, sizeof p->error, "%s%s%s", why, detail ? ": " : "", detail ? detail : "") < 0)
		p->error[0] = '\0'; /* truncation is fine: the message is for a log line */
	return err;
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t';
}

/* Replaces *dst with a copy of src (NULL or "" clears it). */
static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src && *src ? mem_strdup(src) : NULL;
}

/* Decodes the captured value: the list's metadata, or one item for the callback. */
static int dispatch(struct kube_list_parser *p)
{
	json_error_t jerr;
	json_t *v = json_loadb(p->capture.data, p->capture.len, JSON_REJECT_DUPLICATES, &jerr);
	int rc = SO_OK;

	if (p->capture.alloc > KEEP_CAPTURE)
		buf_free(&p->capture);
	else
		buf_reset(&p->capture);
	if (!json_is_object(v)) {
		rc = fail(p, SO_E_BAD_RESPONSE, p->capture_is_meta ? "list metadata is not valid JSON" : "list item is not valid JSON",
			  v ? "not an object" : jerr.text);
		goto out;
	}
	if (p->capture_is_meta) {
		set_str(&p->resource_version, json_string_value(json_object_get(v, "resourceVersion")));
		set_str(&p->cont, json_string_value(json_object_get(v, "continue")));
		goto out;
	}
	p->items++;
	if ((rc = p->on_item(p->ud, v)))
		fail(p, rc, "item handler stopped the list", NULL);
out:
	json_decref(v);
	return rc;
}

static int capture(struct kube_list_parser *p, const char *data, size_t len)
{
	char cap[32];
	if (buf_append(&p->capture, data, len) == SO_OK)
		return SO_OK;
	snprintf(cap, sizeof cap, "%zu bytes", p->capture.cap);
	return fail(p, SO_E_TOO_LARGE, "list item larger than", cap);
}

/* An opening brace or bracket at p->depth (before it is counted). *span receives where a capture starts. */
static int open_value(struct kube_list_parser *p, char ch, size_t i, size_t *span)
{
	if (p->depth == 0) {
		if (ch != '{')
			return fail(p, SO_E_BAD_RESPONSE, "list is not a JSON object", NULL);
		p->expect_key = 1;
	} else if (!p->capturing) {
		int meta = p->depth == 1 && ch == '{' && !strcmp(p->key, "metadata");
		if (p->depth == 1 && ch == '[' && !strcmp(p->key, "items"))
			p->in_items = 1;
		if (meta || (p->depth == 2 && p->in_items && ch == '{')) {
			p->capturing = p->depth + 1;
			p->capture_is_meta = meta;
			*span = i;
		}
	}
	if (++p->depth > MAX_DEPTH)
		return fail(p, SO_E_BAD_RESPONSE, "list nested too deeply", NULL);
	return SO_OK;
}

int kube_list_parser_feed(struct kube_list_parser *p, const char *data, size_t len)
{
	size_t span = 0; /* where the captured bytes of this chunk begin (when capturing) */
	int rc;

	if (p->failed)
		return p->failed;
	for (size_t i = 0; i < len; i++) {
		char ch = data[i];
		if (p->in_string) {
			if (p->escaped) {
				p->escaped = 0;
			} else if (ch == '\\') {
				p->escaped = 1;
				if (p->key_active)
					p->keylen = sizeof p->key; /* the names we look for have no escapes */
			} else if (ch == '"') {
				p->in_string = 0;
				if (p->key_active) {
					p->key_active = 0;
					p->key[p->keylen < sizeof p->key ? p->keylen : 0] = '\0';
				}
			} else if (p->key_active && p->keylen < sizeof p->key) {
				p->key[p->keylen++] = ch;
			}
			continue;
		}
		if (p->done) {
			if (!is_space(ch))
				return fail(p, SO_E_BAD_RESPONSE, "data after the list object", NULL);
			continue;
		}
		switch (ch) {
		case '"':
			p->in_string = 1;
			if (p->depth == 1 && p->expect_key) {
				p->key_active = 1;
				p->keylen = 0;
			}
			break;
		case ':':
			if (p->depth == 1)
				p->expect_key = 0;
			break;
		case ',':
			if (p->depth == 1)
				p->expect_key = 1;
			break;
		case '{':
		case '[':
			if ((rc = open_value(p, ch, i, &span)))
				return rc;
			break;
		case '}':
		case ']':
			if (p->depth == 0)
				return fail(p, SO_E_BAD_RESPONSE, "unbalanced list", NULL);
			if (p->capturing && p->depth == p->capturing) {
				p->capturing = 0;
				if ((rc = capture(p, data + span, i + 1 - span)) || (rc = dispatch(p)))
					return rc;
			}
			if (--p->depth == 1)
				p->in_items = 0;
			else if (p->depth == 0)
				p->done = 1;
			break;
		default:
			if (p->depth == 0 && !is_space(ch))
				return fail(p, SO_E_BAD_RESPONSE, "list is not a JSON object", NULL);
		}
	}
	if (p->capturing)
		return capture(p, data + span, len - span);
	return SO_OK;
}

int kube_list_parser_finish(struct kube_list_parser *p)
{
	if (p->failed)
		return p->failed;
	if (!p->done)
		return fail(p, SO_E_BAD_RESPONSE, "list ended early", NULL);
	return SO_OK;
}
