#include "operator/base/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "operator/base/err.h"
#include "operator/base/mem.h"

void buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Makes room for n more bytes plus the NUL, growing geometrically but never past cap + 1. */
static int buf_reserve(struct buf *b, size_t n)
{
	if (n > b->cap || b->len > b->cap - n)
		return SO_E_TOO_LARGE;
	size_t need = b->len + n + 1;
	if (need <= b->alloc)
		return SO_OK;
	size_t want = b->alloc ? b->alloc : 256;
	while (want < need)
		want = want > SIZE_MAX / 2 ? need : want * 2;
	if (want > b->cap + 1)
		want = b->cap + 1;
	b->data = mem_realloc(b->data, want);
	b->alloc = want;
	return SO_OK;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return SO_OK;
}

int buf_appends(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return SO_E_INVAL;
	int rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return SO_OK;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *buf_steal(struct buf *b)
{
	char *p = b->data ? b->data : mem_calloc(1, 1);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}

int buf_append_urlenc(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			    c == '-' || c == '.' || c == '_' || c == '~';
		char enc[3] = { '%', hex[c >> 4], hex[c & 15] };
		int rc = plain ? buf_append(b, s, 1) : buf_append(b, enc, 3);
		if (rc)
			return rc;
	}
	return SO_OK;
}

int buf_read_file(const char *path, size_t max, struct buf *out, char *err, size_t errlen)
{
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = SO_OK;
	ssize_t n;

	buf_init(out, max);
	if (fd < 0)
		return so_fail(err, errlen, SO_E_IO, "%s: %s", path, strerror(errno));
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = so_fail(err, errlen, SO_E_IO, "%s: %s", path, strerror(errno));
			break;
		}
		if ((rc = buf_append(out, chunk, (size_t)n))) {
			so_fail(err, errlen, rc, "%s: larger than %zu bytes", path, max);
			break;
		}
	}
	close(fd);
	if (rc)
		buf_free(out);
	return rc;
}
