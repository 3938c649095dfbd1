/*
 * The webhook's serving certificate and key, read from two PEM files and reloaded when they change on disk
 * (controller-runtime's certwatcher): a thread polls the files every interval_s (10 s by default), comparing
 * each file's device, inode, size and modification time with what it saw last. On a change it reads both,
 * and when the bytes differ from what is served it parses them (GnuTLS): the certificate chain (the leaf
 * first, as tls.crt holds it) and the private key (PKCS#1, PKCS#8 or SEC1, unencrypted) must parse and the
 * key must belong to the leaf. A pair that passes replaces the served one atomically; one that does not is
 * logged and the previous pair keeps being served. No pair at all (files missing at start) is not fatal:
 * handshakes fail and certwatch_loaded() stays 0 until a good pair appears.
 *
 * Handshakes read the served pair through certwatch_select(). A pair that was replaced is freed only once no
 * connection that could still be using it is open: every connection pins the pair current when it was
 * accepted (certwatch_conn_open/close), and pairs are freed oldest first when nothing pins them or anything
 * older. So a rotation never fails a handshake or a request in flight.
 */
#ifndef SO_WEBHOOK_CERTWATCH_H
#define SO_WEBHOOK_CERTWATCH_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stddef.h>
#include <time.h>

/* Files above this size are refused (a certificate chain and key are a few KiB). */
#define CERTWATCH_MAX_FILE ((size_t)1 << 20)

struct certwatch;

struct certwatch_opts {
	const char *cert_file; /* PEM chain, leaf first */
	const char *key_file;  /* PEM private key */
	double interval_s;     /* poll period; 0 means 10 s */
};

struct certwatch_stats {
	unsigned long reads;       /* pairs read and parsed (certwatcher_read_certificate_total) */
	unsigned long read_errors; /* reads that failed: missing file, bad PEM, key mismatch (..._errors_total) */
	unsigned long swaps;       /* times a new pair started being served (the first load included) */
	int loaded;                /* a pair is being served */
	time_t not_before, not_after; /* of the served leaf */
	char serial[80];           /* the served leaf's serial number, hex ("" when none) */
};

/* Creates the watcher and tries a first load (a failure is logged, not returned). SO_E_NOMEM or SO_E_INVAL. */
int certwatch_new(const struct certwatch_opts *o, struct certwatch **out);
/* Starts the polling thread. */
int certwatch_start(struct certwatch *w);
/* One check now, on the caller's thread: 1 when a new pair is being served, 0 when nothing changed, a
 * negative so_err when the files changed but could not be used (logged; the old pair stays). */
int certwatch_check(struct certwatch *w);
/* Stops the thread (if started) and frees everything. No connection may be open any more. */
void certwatch_free(struct certwatch *w);

int certwatch_loaded(struct certwatch *w);
void certwatch_get_stats(struct certwatch *w, struct certwatch_stats *out);

/* Connection tracking: a token to hand back to certwatch_conn_close when the connection closes. */
void *certwatch_conn_open(struct certwatch *w);
void certwatch_conn_close(struct certwatch *w, void *token);

/* The served pair for a handshake (gnutls_certificate_retrieve_function2's outputs): 0, or -1 when none is
 * loaded. The pointers stay valid while the connection that asked is open. */
int certwatch_select(struct certwatch *w, gnutls_pcert_st **pcert, unsigned int *pcert_length,
		     gnutls_privkey_t *pkey);

/* Checks a PEM certificate chain and key the way a reload does. SO_OK, or SO_E_INVAL with a reason in why. */
int certwatch_validate_pem(const char *cert, size_t cert_len, const char *key, size_t key_len, char *why,
			   size_t whylen);

#endif
