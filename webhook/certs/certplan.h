/*
 * The renewal rules of the self-managed webhook certificates, as a pure function: what the Secret's four
 * PEM values (ca.crt, ca.key, tls.crt, tls.key) should become at a given time. Every replica applies the same
 * rules to the same Secret, so they agree on whether anything is due (docs/webhook.md, "Self-managed").
 *
 *   CA       kept while it parses, its key matches, it is a CA and less than 2/3 of its lifetime has passed.
 *            Otherwise a new one is made. An old CA that is merely due (still valid, key matching) stays in
 *            ca.crt after the new one, so API servers that trust the bundle accept serving certificates
 *            of both while the bundle propagates; ca.crt never holds more than these two, and an expired
 *            second CA is dropped.
 *   serving  kept while it parses, its key matches, it was signed by a CA of the bundle, it names every SAN
 *            and less than 2/3 of its lifetime has passed. A certificate signed by the second (older) CA
 *            is re-issued by the new one once the new CA is ca_switch_delay_s old, so the bundle holding both
 *            has reached the API servers before any of them sees a certificate of the new CA.
 */
#ifndef SO_WEBHOOK_CERTPLAN_H
#define SO_WEBHOOK_CERTPLAN_H

#include <stddef.h>
#include <time.h>

#include "operator/base/selfcert.h"

/* The Secret's contents, PEM, NUL-terminated; NULL when absent. The owner frees them with certset_free. */
struct certset {
	char *ca_crt, *ca_key, *tls_crt, *tls_key;
	size_t ca_crt_len, ca_key_len, tls_crt_len, tls_key_len;
};

void certset_free(struct certset *s);
/* Non-zero when both hold the same bytes in every field. */
int certset_equal(const struct certset *a, const struct certset *b);

struct certplan_opts {
	const char *ca_name;      /* CN of new CAs */
	const char *const *sans;  /* the serving certificate's SANs, the first one also its CN */
	size_t nsans;
	long ca_validity_s;       /* of new CAs */
	long cert_validity_s;     /* of new serving certificates */
	long ca_switch_delay_s;   /* how old a new CA must be before it signs the serving certificate */
};

/* When a certificate is due for renewal: at 2/3 of its lifetime from issue (selfcert_issued_at). */
time_t certplan_renew_at(const struct selfcert_info *i);

/*
 * Applies the rules to in at time now. *out receives the result (a full copy even when nothing changed);
 * *changed says whether it differs from in, and what (when changed) says why in a few words for the log:
 * "new CA (none yet); new serving certificate (none yet)". SO_OK, or SO_E_INVAL (err set) when
 * a certificate could not be made. *next_s receives the seconds until the next renewal is due.
 */
int certplan_apply(const struct certset *in, const struct certplan_opts *o, time_t now, struct certset *out,
		   int *changed, char *what, size_t whatlen, long *next_s, char *err, size_t errlen);

#endif
