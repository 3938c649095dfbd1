#include "webhook/certs/certplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/mem.h"

#define MAX_PEM ((size_t)1 << 20)

void certset_free(struct certset *s)
{
	if (!s)
		return;
	free(s->ca_crt);
	free(s->ca_key);
	free(s->tls_crt);
	free(s->tls_key);
	memset(s, 0, sizeof *s);
}

static int same(const char *a, size_t alen, const char *b, size_t blen)
{
	if (!a || !b)
		return !a && !b;
	return alen == blen && memcmp(a, b, alen) == 0;
}

int certset_equal(const struct certset *a, const struct certset *b)
{
	return same(a->ca_crt, a->ca_crt_len, b->ca_crt, b->ca_crt_len) &&
	       same(a->ca_key, a->ca_key_len, b->ca_key, b->ca_key_len) &&
	       same(a->tls_crt, a->tls_crt_len, b->tls_crt, b->tls_crt_len) &&
	       same(a->tls_key, a->tls_key_len, b->tls_key, b->tls_key_len);
}

time_t certplan_renew_at(const struct selfcert_info *i)
{
	time_t issued = selfcert_issued_at(i);
	return issued + (i->not_after - issued) * 2 / 3;
}

/* Replaces *dst with a copy of src (NULL stays NULL). */
static void set_str(char **dst, size_t *dst_len, const char *src, size_t len)
{
	char *c = NULL;
	if (src) {
		c = mem_alloc(len + 1);
		memcpy(c, src, len);
		c[len] = '\0';
	}
	free(*dst);
	*dst = c;
	*dst_len = src ? len : 0;
}

/* Appends "<thing> (<why>)" to what, "; " between the parts of one decision. */
static void note(char *what, size_t whatlen, const char *thing, const char *why)
{
	size_t n = strlen(what);
	if (n + 3 >= whatlen)
		return;
	snprintf(what + n, whatlen - n, "%s%s (%s)", n ? "; " : "", thing, why);
}

/* Why the CA at the head of in->ca_crt cannot stay: NULL when it can. *aging: only because it is due. */
static const char *ca_problem(const struct certset *in, time_t now, struct selfcert_info *info, int *aging)
{
	*aging = 0;
	if (!in->ca_crt || !in->ca_key)
		return "none yet";
	if (selfcert_inspect(in->ca_crt, in->ca_crt_len, info) || !info->is_ca)
		return "ca.crt holds no CA certificate";
	if (!selfcert_key_matches(in->ca_crt, in->ca_crt_len, in->ca_key, in->ca_key_len))
		return "ca.key does not belong to ca.crt";
	if (now >= info->not_after)
		return "expired";
	if (now >= certplan_renew_at(info)) {
		*aging = 1;
		return "2/3 of its lifetime passed";
	}
	return NULL;
}

/* Builds out->ca_crt: head (or, when NULL, the bundle's first CA) and, while still valid, the CA after it. */
static int keep_bundle(const char *bundle, size_t len, const char *head, size_t head_len, time_t now,
		       struct certset *out)
{
	struct buf b = BUF_INIT(MAX_PEM);
	char *first = NULL, *second = NULL;
	size_t first_len = 0, second_len = 0;
	struct selfcert_info si;
	int rc = SO_E_INVAL;

	if (!head && selfcert_nth(bundle, len, 0, &first, &first_len))
		goto out;
	if ((rc = buf_append(&b, head ? head : first, head ? head_len : first_len)))
		goto out;
	/* the old head becomes the second when a new CA is put in front; otherwise the second stays second */
	if (selfcert_nth(bundle, len, head ? 0 : 1, &second, &second_len) == SO_OK &&
	    selfcert_inspect(second, second_len, &si) == SO_OK && now < si.not_after &&
	    (rc = buf_append(&b, second, second_len)))
		goto out;
	free(out->ca_crt);
	out->ca_crt_len = b.len;
	out->ca_crt = b.data; /* taken over from b */
	b.data = NULL;
	rc = SO_OK;
out:
	free(first);
	free(second);
	buf_free(&b);
	return rc;
}

/* The index in the bundle of the CA that signed leaf, or -1. */
static int signer_of(const char *leaf, size_t leaf_len, const char *bundle, size_t bundle_len)
{
	size_t n = selfcert_count(bundle, bundle_len);
	for (size_t i = 0; i < n && i < 2; i++) {
		char *ca = NULL;
		size_t ca_len = 0;
		int ok = selfcert_nth(bundle, bundle_len, i, &ca, &ca_len) == SO_OK &&
			 selfcert_signed_by(leaf, leaf_len, ca, ca_len);
		free(ca);
		if (ok)
			return (int)i;
	}
	return -1;
}

static const char *serving_problem(const struct certset *s, const struct certplan_opts *o, time_t now,
				   const struct selfcert_info *ca, struct selfcert_info *info)
{
	if (!s->tls_crt || !s->tls_key)
		return "none yet";
	if (selfcert_inspect(s->tls_crt, s->tls_crt_len, info))
		return "tls.crt holds no certificate";
	if (!selfcert_key_matches(s->tls_crt, s->tls_crt_len, s->tls_key, s->tls_key_len))
		return "tls.key does not belong to tls.crt";
	int signer = signer_of(s->tls_crt, s->tls_crt_len, s->ca_crt, s->ca_crt_len);
	if (signer < 0)
		return "not signed by a CA of ca.crt";
	if (!selfcert_covers(s->tls_crt, s->tls_crt_len, o->sans, o->nsans))
		return "its SANs differ from the ones wanted";
	if (now >= info->not_after)
		return "expired";
	if (now >= certplan_renew_at(info))
		return "2/3 of its lifetime passed";
	if (signer > 0 && now >= selfcert_issued_at(ca) + o->ca_switch_delay_s)
		return "signed by the previous CA";
	return NULL;
}

int certplan_apply(const struct certset *in, const struct certplan_opts *o, time_t now, struct certset *out,
		   int *changed, char *what, size_t whatlen, long *next_s, char *err, size_t errlen)
{
	struct selfcert_info ca, leaf;
	struct selfcert_pem made = { 0 };
	const char *why;
	int aging, rc;
	time_t next;

	memset(out, 0, sizeof *out);
	*changed = 0;
	if (whatlen)
		what[0] = '\0';
	set_str(&out->ca_crt, &out->ca_crt_len, in->ca_crt, in->ca_crt_len);
	set_str(&out->ca_key, &out->ca_key_len, in->ca_key, in->ca_key_len);
	set_str(&out->tls_crt, &out->tls_crt_len, in->tls_crt, in->tls_crt_len);
	set_str(&out->tls_key, &out->tls_key_len, in->tls_key, in->tls_key_len);

	if ((why = ca_problem(in, now, &ca, &aging))) {
		note(what, whatlen, "new CA", why);
		if ((rc = selfcert_make_ca(o->ca_name, o->ca_validity_s, now, &made, err, errlen)))
			goto out;
		/* a CA that is only due stays trusted behind the new one; a broken one goes */
		if (aging && (rc = keep_bundle(in->ca_crt, in->ca_crt_len, made.cert, made.cert_len, now, out)))
			goto out;
		if (!aging)
			set_str(&out->ca_crt, &out->ca_crt_len, made.cert, made.cert_len);
		set_str(&out->ca_key, &out->ca_key_len, made.key, made.key_len);
		selfcert_pem_free(&made);
		if ((rc = selfcert_inspect(out->ca_crt, out->ca_crt_len, &ca)))
			goto out;
	} else if ((rc = keep_bundle(in->ca_crt, in->ca_crt_len, NULL, 0, now, out))) {
		goto out;
	}

	if ((why = serving_problem(out, o, now, &ca, &leaf))) {
		note(what, whatlen, "new serving certificate", why);
		struct selfcert_pem signer = { out->ca_crt, out->ca_crt_len, out->ca_key, out->ca_key_len };
		if ((rc = selfcert_make_serving(&signer, o->sans, o->nsans, o->cert_validity_s, now, &made, err, errlen)))
			goto out;
		set_str(&out->tls_crt, &out->tls_crt_len, made.cert, made.cert_len);
		set_str(&out->tls_key, &out->tls_key_len, made.key, made.key_len);
		if ((rc = selfcert_inspect(out->tls_crt, out->tls_crt_len, &leaf)))
			goto out;
	}
	*changed = !certset_equal(in, out);
	next = certplan_renew_at(&leaf);
	if (certplan_renew_at(&ca) < next)
		next = certplan_renew_at(&ca);
	/* a serving certificate of the previous CA waits for the switch */
	if (selfcert_count(out->ca_crt, out->ca_crt_len) > 1 &&
	    signer_of(out->tls_crt, out->tls_crt_len, out->ca_crt, out->ca_crt_len) > 0 &&
	    selfcert_issued_at(&ca) + o->ca_switch_delay_s < next)
		next = selfcert_issued_at(&ca) + o->ca_switch_delay_s;
	if (next_s)
		*next_s = next > now ? (long)(next - now) : 0;
out:
	selfcert_pem_free(&made);
	if (rc)
		certset_free(out);
	return rc;
}
