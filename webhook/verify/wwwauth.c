/*
 * One WWW-Authenticate challenge (RFC 7235 §4.1, RFC 6750 §3):
 *
 *   challenge  = auth-scheme [ 1*SP #auth-param ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 *
 * Only the first challenge of a value is read (a registry sends one; a comma followed by a token without "="
 * starts the next). Parameter names are case-insensitive; realm, service and scope are kept, others (error,
 * error_description) skipped. A parameter given twice keeps its first value. Bounded: one pass over len bytes.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "webhook/verify/registry.h"
#include "operator/base/mem.h"

#define WWWAUTH_MAX 8192

static int is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void skip_ws(const char *s, size_t len, size_t *i)
{
	while (*i < len && (s[*i] == ' ' || s[*i] == '\t'))
		(*i)++;
}

/* A token or a quoted-string at s[*i]; the unescaped value goes to out (replacing what it held). */
static int read_value(const char *s, size_t len, size_t *i, struct buf *out)
{
	buf_reset(out);
	if (*i < len && s[*i] == '"') {
		(*i)++;
		while (*i < len && s[*i] != '"') {
			unsigned char c = (unsigned char)s[*i];
			if (c == '\\') {
				if (++(*i) >= len)
					return SO_E_INVAL;
				c = (unsigned char)s[*i];
			}
			/* qdtext and quoted-pair: HTAB, SP, VCHAR, obs-text; no other control characters. */
			if ((c < ' ' && c != '\t') || c == 0x7f)
				return SO_E_INVAL;
			if (buf_append(out, &c, 1))
				return SO_E_INVAL;
			(*i)++;
		}
		if (*i >= len)
			return SO_E_INVAL; /* unterminated */
		(*i)++;
		return SO_OK;
	}
	size_t start = *i;
	while (*i < len && is_tchar((unsigned char)s[*i]))
		(*i)++;
	if (*i == start)
		return SO_E_INVAL;
	return buf_append(out, s + start, *i - start) ? SO_E_INVAL : SO_OK;
}

void www_authenticate_free(struct www_authenticate *w)
{
	if (!w)
		return;
	free(w->realm);
	free(w->service);
	free(w->scope);
	w->realm = w->service = w->scope = NULL;
	w->scheme[0] = '\0';
}

int www_authenticate_parse(const char *value, size_t len, struct www_authenticate *out)
{
	int rc = SO_E_INVAL;
	size_t i = 0, start;
	struct buf name = BUF_INIT(256), val = BUF_INIT(WWWAUTH_MAX);

	memset(out, 0, sizeof *out);
	if (!value || len > WWWAUTH_MAX || memchr(value, '\0', len))
		return SO_E_INVAL;
	skip_ws(value, len, &i);
	start = i;
	while (i < len && is_tchar((unsigned char)value[i]))
		i++;
	if (i - start == 5 && !strncasecmp(value + start, "Basic", 5))
		memcpy(out->scheme, "Basic", 6);
	else if (i - start == 6 && !strncasecmp(value + start, "Bearer", 6))
		memcpy(out->scheme, "Bearer", 7);
	else
		goto out;
	if (i < len && value[i] != ' ' && value[i] != '\t')
		goto out;

	for (;;) {
		skip_ws(value, len, &i);
		while (i < len && value[i] == ',') { /* empty list elements are allowed (#rule) */
			i++;
			skip_ws(value, len, &i);
		}
		if (i >= len)
			break;
		start = i;
		while (i < len && is_tchar((unsigned char)value[i]))
			i++;
		if (i == start)
			goto out;
		size_t name_end = i;
		skip_ws(value, len, &i);
		if (i >= len || value[i] != '=') {
			/* A bare token: the next challenge begins (only when a comma separated it from ours). */
			break;
		}
		i++;
		skip_ws(value, len, &i);
		buf_reset(&name);
		if (buf_append(&name, value + start, name_end - start) || read_value(value, len, &i, &val))
			goto out;
		char **slot = NULL;
		if (!strcasecmp(name.data, "realm"))
			slot = &out->realm;
		else if (!strcasecmp(name.data, "service"))
			slot = &out->service;
		else if (!strcasecmp(name.data, "scope"))
			slot = &out->scope;
		if (slot && !*slot)
			*slot = mem_strdup(val.data ? val.data : "");
		skip_ws(value, len, &i);
		if (i < len && value[i] != ',')
			goto out;
	}
	/* Without a realm a Bearer challenge cannot be answered. */
	rc = !strcmp(out->scheme, "Bearer") && (!out->realm || !*out->realm) ? SO_E_INVAL : SO_OK;
out:
	buf_free(&name);
	buf_free(&val);
	if (rc)
		www_authenticate_free(out);
	return rc;
}
