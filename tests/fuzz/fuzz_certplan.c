/* libFuzzer target: certplan_apply (webhook/certs/certplan.c) on arbitrary Secret contents, as the API server could
 * hand them over: the input is split at NUL bytes into ca.crt, ca.key, tls.crt and tls.key (missing fields are
 * absent keys). Besides memory safety it checks the rules' promises for every input: the result is a CA whose
 * key matches, followed by at most one more CA; a serving certificate signed by a CA of that bundle, naming
 * every SAN, with its key; and applying the rules again at the same time changes nothing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "webhook/certs/certplan.h"
#include "operator/base/selfcert.h"

#define NOW ((time_t)1800000000) /* 2027-01-15: fixed, so runs are reproducible */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const SANS[] = { "svc.ns.svc", "svc.ns.svc.cluster.local", "svc.ns", "svc", "127.0.0.1" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct certplan_opts o = { .ca_name = "fuzz CA", .sans = SANS, .nsans = 5, .ca_validity_s = 3650L * 86400,
				   .cert_validity_s = 365L * 86400, .ca_switch_delay_s = 21 };
	struct certset in = { 0 }, out = { 0 }, again = { 0 };
	char **fields[4] = { &in.ca_crt, &in.ca_key, &in.tls_crt, &in.tls_key };
	size_t *lens[4] = { &in.ca_crt_len, &in.ca_key_len, &in.tls_crt_len, &in.tls_key_len };
	char what[256], err[256];
	int changed;
	long next;
	size_t start = 0;

	if (size > 64 * 1024)
		return 0;
	for (int f = 0; f < 4 && start <= size; f++) {
		const uint8_t *nul = memchr(data + start, 0, size - start);
		size_t end = nul ? (size_t)(nul - data) : size;
		if (!(*fields[f] = malloc(end - start + 1)))
			goto out;
		memcpy(*fields[f], data + start, end - start);
		(*fields[f])[end - start] = '\0';
		*lens[f] = end - start;
		start = end + 1;
	}
	int rc = certplan_apply(&in, &o, NOW, &out, &changed, what, sizeof what, &next, err, sizeof err);
	if (rc == SO_E_CONFIG) /* OpenSSL refused (selfcert_make_*) */
		goto out;
	if (rc != SO_OK || next < 0)
		abort();
	size_t ncas = selfcert_count(out.ca_crt, out.ca_crt_len);
	if (ncas < 1 || ncas > 2 || !selfcert_key_matches(out.ca_crt, out.ca_crt_len, out.ca_key, out.ca_key_len) ||
	    !selfcert_key_matches(out.tls_crt, out.tls_crt_len, out.tls_key, out.tls_key_len) ||
	    !selfcert_covers(out.tls_crt, out.tls_crt_len, SANS, 5))
		abort();
	int signed_ok = 0;
	for (size_t i = 0; i < ncas && !signed_ok; i++) {
		char *ca = NULL;
		size_t len = 0;
		if (selfcert_nth(out.ca_crt, out.ca_crt_len, i, &ca, &len) == SO_OK)
			signed_ok = selfcert_signed_by(out.tls_crt, out.tls_crt_len, ca, len);
		free(ca);
	}
	if (!signed_ok)
		abort();
	rc = certplan_apply(&out, &o, NOW, &again, &changed, what, sizeof what, &next, err, sizeof err);
	if (rc == SO_OK && changed)
		abort(); /* not idempotent */
out:
	certset_free(&in);
	certset_free(&out);
	certset_free(&again);
	return 0;
}
