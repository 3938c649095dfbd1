#include "operator/kube/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "operator/base/err.h"
#include "operator/base/mem.h"

int kube_file_read(const char *path, size_t cap, struct buf *out, int *errnum)
{
	int rc = SO_E_IO;
	int fd = -1;
	int e = 0;
	struct stat st;
	char chunk[16384];

	buf_free(out);
	out->cap = cap;
	/* O_NONBLOCK so that opening a FIFO does not wait for a writer; regular files ignore it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		e = errno;
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		e = errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto out;
	}
	if ((unsigned long long)st.st_size > cap) {
		rc = SO_E_TOO_LARGE;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			goto out;
		}
		if (n == 0)
			break;
		rc = buf_append(out, chunk, (size_t)n);
		if (rc)
			goto out;
		rc = SO_E_IO;
	}
	if (!out->data)
		buf_append(out, "", 0); /* an empty file still yields a NUL-terminated buffer (0 bytes always fit) */
	rc = SO_OK;
out:
	explicit_bzero(chunk, sizeof chunk);
	if (fd >= 0)
		close(fd);
	if (rc) {
		if (out->data)
			explicit_bzero(out->data, out->alloc);
		buf_free(out);
	}
	if (errnum)
		*errnum = e;
	return rc;
}

const char *kube_file_strerror(int errnum)
{
	if (errnum == EINVAL)
		return "not a regular file";
	return strerror(errnum);
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int kube_token_file_read(const char *path, char **token, char *err, size_t errlen)
{
	struct buf b = BUF_INIT(KUBE_TOKEN_FILE_MAX);
	int e = 0;
	int rc;
	size_t start = 0, end;
	char *t = NULL;

	*token = NULL;
	rc = kube_file_read(path, KUBE_TOKEN_FILE_MAX, &b, &e);
	if (rc == SO_E_TOO_LARGE) {
		snprintf(err, errlen, "token file %s: larger than %u KiB", path, KUBE_TOKEN_FILE_MAX >> 10);
		goto out;
	}
	if (rc) {
		snprintf(err, errlen, "token file %s: %s", path, kube_file_strerror(e));
		goto out;
	}
	end = b.len;
	while (start < end && is_space((unsigned char)b.data[start]))
		start++;
	while (end > start && is_space((unsigned char)b.data[end - 1]))
		end--;
	rc = SO_E_CONFIG;
	if (end == start) {
		snprintf(err, errlen, "token file %s: empty", path);
		goto out;
	}
	for (size_t i = start; i < end; i++) {
		unsigned char c = (unsigned char)b.data[i];
		if (c < 0x20 || c == 0x7f) {
			snprintf(err, errlen, "token file %s: the token contains control characters", path);
			goto out;
		}
	}
	t = mem_alloc(end - start + 1);
	memcpy(t, b.data + start, end - start);
	t[end - start] = '\0';
	*token = t;
	rc = SO_OK;
out:
	if (b.data)
		explicit_bzero(b.data, b.alloc);
	buf_free(&b);
	return rc;
}

char *kube_path_join(const char *dir, const char *rel)
{
	size_t dl, rl;
	char *p;

	if (rel[0] == '/' || !dir || !dir[0])
		return mem_strdup(rel);
	dl = strlen(dir);
	rl = strlen(rel);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	p = mem_alloc(dl + 1 + rl + 1);
	memcpy(p, dir, dl);
	if (dir[dl - 1] != '/')
		p[dl++] = '/';
	memcpy(p + dl, rel, rl + 1);
	return p;
}

void kube_secret_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void kube_pem_free(struct kube_pem *p)
{
	if (p->data) {
		explicit_bzero(p->data, p->len);
		free(p->data);
	}
	p->data = NULL;
	p->len = 0;
}

void kube_pem_dup(struct kube_pem *dst, const struct kube_pem *src)
{
	dst->data = NULL;
	dst->len = 0;
	if (!src->data || !src->len)
		return;
	dst->data = mem_alloc(src->len + 1);
	memcpy(dst->data, src->data, src->len);
	dst->data[src->len] = '\0';
	dst->len = src->len;
}

int kube_has_ctl(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			return 1;
	}
	return 0;
}

const char *kube_sanitize(char *dst, size_t dstlen, const char *s)
{
	size_t i = 0, n = 0;

	if (!dstlen)
		return dst;
	if (!s)
		s = "";
	for (; s[i] && n + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[n++] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
	}
	dst[n] = '\0';
	if (s[i] && dstlen >= 4) {
		/* Cut short: mark it. */
		memcpy(dst + (n >= 3 ? n - 3 : 0), "...", 4);
	}
	return dst;
}

int kube_pem_has_cert(const struct kube_pem *p)
{
	if (!p->data || !p->len || p->len > INT_MAX)
		return 0;
	BIO *bio = BIO_new_mem_buf(p->data, (int)p->len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	int ok = x != NULL;
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error(); /* a failed parse leaves errors on this thread's queue, which libcurl would report later */
	return ok;
}
