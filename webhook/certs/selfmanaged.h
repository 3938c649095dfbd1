/*
 * Self-managed webhook certificates (docs/webhook.md, "Self-managed certificates"): a thread that keeps
 *
 *   1. the Secret <namespace>/<secret_name> (type kubernetes.io/tls: tls.crt, tls.key, ca.crt, ca.key) holding
 *      a CA and a serving certificate for the webhook Service's names, renewed by the rules of webhook/certs/certplan.h. The
 *      Secret is the source of truth for every replica: it is created only when absent (a replica that loses
 *      the create race reads the winner's), and updated only with the resourceVersion it was read at (a replica
 *      that loses the update race reads the winner's), so replicas end up serving one pair;
 *   2. tls.crt, tls.key and ca.crt in cert_dir equal to the Secret's, written by rename, with on_files called
 *      after a change (the daemon reloads the server's certificate from them: operator/base/certwatch.h);
 *   3. every webhook of the named MutatingWebhookConfiguration and ValidatingWebhookConfiguration with
 *      clientConfig.caBundle = ca.crt (a JSON patch per configuration, only when one differs), so an
 *      overwritten caBundle is put back within one interval.
 *
 * One round every interval_s (10 s by default), sooner when a renewal falls due, and after a failure (or while
 * a webhook configuration does not exist yet) again after 1 s, doubling up to the interval. The thread has its own API client, so stopping it never waits for a
 * request of the controllers. Errors are logged once each until they change; no key material is ever logged.
 */
#ifndef SO_WEBHOOK_SELFMANAGED_H
#define SO_WEBHOOK_SELFMANAGED_H

#include <stddef.h>

#include "operator/kube/config.h"

#define SELFMANAGED_DEFAULT_CA_VALIDITY_S (10L * 365 * 24 * 3600) /* 10 years */
#define SELFMANAGED_DEFAULT_CERT_VALIDITY_S (365L * 24 * 3600)    /* 1 year */
#define SELFMANAGED_DEFAULT_INTERVAL_S 10.0

struct selfmanaged;

struct selfmanaged_opts {
	const char *namespace;         /* of the Secret and the Service */
	const char *secret_name;
	const char *service_name;      /* SANs <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local, <svc>.<ns>, <svc> */
	const char *extra_sans;        /* more SANs, comma-separated IP addresses or DNS names; NULL or "" for none */
	const char *mutating_config;   /* MutatingWebhookConfiguration to inject into; NULL or "" for none */
	const char *validating_config; /* ValidatingWebhookConfiguration to inject into; NULL or "" for none */
	const char *cert_dir;          /* tls.crt, tls.key and ca.crt are written here (created 0700 if missing) */
	long ca_validity_s;            /* 0: SELFMANAGED_DEFAULT_CA_VALIDITY_S */
	long cert_validity_s;          /* 0: SELFMANAGED_DEFAULT_CERT_VALIDITY_S */
	double interval_s;             /* 0: SELFMANAGED_DEFAULT_INTERVAL_S */
	void (*on_files)(void *user);  /* the files in cert_dir changed; may be NULL */
	void *user;
};

/* Checks the options and sets up (no I/O yet). SO_E_CONFIG with err set for a bad option. */
int selfmanaged_new(const struct kube_config *cfg, const struct selfmanaged_opts *o, struct selfmanaged **out,
		    char *err, size_t errlen);
/* One round on the caller's thread: SO_OK when the Secret, the files and every caBundle are as they should be;
 * SO_E_API_NOT_FOUND when a webhook configuration does not exist (yet); another so_err after a failure. */
int selfmanaged_sync(struct selfmanaged *m);
/* Starts the thread (its first round at once). */
int selfmanaged_start(struct selfmanaged *m);
/* Waits up to timeout_s for the thread's first round: 1 when it ended with the files written, else 0. */
int selfmanaged_wait_first_round(struct selfmanaged *m, double timeout_s);
/* Replaces on_files (e.g. once the server it reloads exists); thread-safe. */
void selfmanaged_set_on_files(struct selfmanaged *m, void (*on_files)(void *user), void *user);
/* Stops the thread (cancelling a request in progress) and frees everything. NULL is fine. */
void selfmanaged_free(struct selfmanaged *m);

/* The SANs the serving certificate gets, comma-separated (for the log). */
const char *selfmanaged_sans(const struct selfmanaged *m);

#endif
