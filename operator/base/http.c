/*
 * Pooled libcurl handles and the body sink (http.h).
 */
#include "operator/base/http.h"

#include <stdlib.h>

#include "operator/base/mem.h"

struct http_idle {
	CURL *easy;
	struct http_idle *next;
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	(void)h;
	(void)access;
	pthread_mutex_lock(&((struct http_pool *)ud)->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	(void)h;
	pthread_mutex_unlock(&((struct http_pool *)ud)->share_locks[data]);
}

void http_pool_init(struct http_pool *p, int max_idle)
{
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&p->share_locks[i], NULL);
	pthread_mutex_init(&p->mu, NULL);
	p->idle = NULL;
	p->nidle = 0;
	p->max_idle = max_idle;
	p->share = curl_share_init(); /* allocates only: cannot fail under operator/base/mem.h's policy */
	curl_share_setopt(p->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(p->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(p->share, CURLSHOPT_USERDATA, p);
	curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

void http_pool_flush(struct http_pool *p)
{
	pthread_mutex_lock(&p->mu);
	struct http_idle *i = p->idle;
	p->idle = NULL;
	p->nidle = 0;
	pthread_mutex_unlock(&p->mu);
	while (i) {
		struct http_idle *next = i->next;
		curl_easy_cleanup(i->easy);
		free(i);
		i = next;
	}
}

void http_pool_destroy(struct http_pool *p)
{
	http_pool_flush(p);
	curl_share_cleanup(p->share); /* after the handles that used it */
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&p->share_locks[i]);
	pthread_mutex_destroy(&p->mu);
}

CURL *http_pool_get(struct http_pool *p)
{
	CURL *easy = NULL;

	pthread_mutex_lock(&p->mu);
	if (p->idle) {
		struct http_idle *i = p->idle;
		p->idle = i->next;
		p->nidle--;
		easy = i->easy;
		free(i);
	}
	pthread_mutex_unlock(&p->mu);
	if (easy)
		curl_easy_reset(easy); /* options go, connections and caches stay */
	else
		easy = curl_easy_init();
	curl_easy_setopt(easy, CURLOPT_SHARE, p->share);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	return easy;
}

void http_pool_put(struct http_pool *p, CURL *easy)
{
	struct http_idle *i = NULL;

	pthread_mutex_lock(&p->mu);
	if (p->nidle < p->max_idle) {
		i = mem_alloc(sizeof *i);
		i->easy = easy;
		i->next = p->idle;
		p->idle = i;
		p->nidle++;
	}
	pthread_mutex_unlock(&p->mu);
	if (!i)
		curl_easy_cleanup(easy);
}

void http_sink_attach(CURL *easy, struct http_sink *s)
{
	s->easy = easy;
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, http_sink_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, s);
}

size_t http_sink_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct http_sink *s = ud;
	size_t n = size * nmemb;

	if (!s->decided) {
		long code = 0;
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
		s->ok = code >= 200 && code < 300;
		s->decided = 1;
	}
	if (s->ok && s->on_data) {
		s->data_rc = s->on_data(s->ud, data, n);
		return s->data_rc ? 0 : n; /* 0 stops the transfer (CURLE_WRITE_ERROR) */
	}
	if (!s->ok && s->error_cap) {
		size_t room = s->body->len < s->error_cap ? s->error_cap - s->body->len : 0;
		if (room && buf_append(s->body, data, n < room ? n : room))
			return 0;
		return n;
	}
	if (buf_append(s->body, data, n)) {
		s->too_large = 1;
		return 0;
	}
	return n;
}
