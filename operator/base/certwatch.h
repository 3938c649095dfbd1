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
#include <microhttpd.h>
#include <stddef.h>
#include <time.h>

/* The GnuTLS priorities of our HTTPS servers (webhook, metrics): TLS 1.3 and 1.2 only, and in TLS 1.2 only
 * what Go's crypto/tls offers a controller-runtime server: ECDHE key exchanges (no static RSA, no finite-field
 * DHE) with AEAD ciphers (AES-GCM, ChaCha20-Poly1305; no CBC, no SHA-1 MACs). */
#define CERTWATCH_TLS_PRIORITIES                                                                              \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-CIPHER-ALL:"               \
	"+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD"

/* Files above this size are refused (a certificate chain and key are a few KiB). */
#define CERTWATCH_MAX_FILE ((size_t)1 << 20)

struct certwatch;

struct certwatch_opts {
	const char *cert_file; /* PEM chain, leaf first */
	const char *key_file;  /* PEM private key */
	double interval_s;     /* poll period; 0 means 10 s */
	const char *who;       /* the log component and what the certificate serves; NULL: "webhook" */
};

struct certwatch_stats {
	unsigned long reads;       /* pairs read and parsed (certwatcher_read_certificate_total) */
	unsigned long read_errors; /* reads that failed: missing file, bad PEM, key mismatch (..._errors_total) */
	unsigned long swaps;       /* times a new pair started being served (the first load included) */
	int loaded;                /* a pair is being served */
	time_t not_before, not_after; /* of the served leaf */
	char serial[80];           /* the served leaf's serial number, hex ("" when none) */
};

/* Creates the watcher and tries a first load (a failure is logged, not returned). SO_OK or SO_E_INVAL. */
int certwatch_new(const struct certwatch_opts *o, struct certwatch **out);
/* A watcher serving one fixed pair given in memory (a self-signed certificate): no files, no polling. SO_OK, or
 * SO_E_INVAL with why when the pair does not parse, SO_E_CONFIG with why when GnuTLS refuses. */
int certwatch_new_static(const char *who, const char *cert, size_t cert_len, const char *key, size_t key_len,
			 struct certwatch **out, char *why, size_t whylen);
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

/*
 * libmicrohttpd + GnuTLS glue shared by the HTTPS servers: give MHD certwatch_mhd_notify as
 * MHD_OPTION_NOTIFY_CONNECTION with the watcher as its closure (every connection pins the pair current when it
 * was accepted, and its TLS session learns the watcher) and certwatch_retrieve as MHD_OPTION_HTTPS_CERT_CALLBACK.
 */
void certwatch_mhd_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe);
int certwatch_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
		       unsigned int *pcert_length, gnutls_privkey_t *pkey);

/* Checks a PEM certificate chain and key the way a reload does. SO_OK, or SO_E_INVAL with a reason in why. */
int certwatch_validate_pem(const char *cert, size_t cert_len, const char *key, size_t key_len, char *why,
			   size_t whylen);

#endif
