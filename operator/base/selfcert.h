/*
 * Certificates for the self-managed webhook mode, made and inspected with OpenSSL; pure (no files, no network,
 * the clock is a parameter). A CA (ECDSA P-256, self-signed, CA:TRUE, keyCertSign) and serving certificates it
 * signs (ECDSA P-256, CA:FALSE, digitalSignature, serverAuth, the given SANs: DNS names, or IP addresses
 * when the string parses as one). Every certificate gets a random 128-bit serial and a notBefore a little in
 * the past (SELFCERT_BACKDATE_S, at most a tenth of the lifetime), so a peer whose clock is slightly behind
 * still accepts a certificate just made. Keys are written as unencrypted PKCS#8 PEM, certificates as PEM.
 */
#ifndef SO_WEBHOOK_SELFCERT_H
#define SO_WEBHOOK_SELFCERT_H

#include <stddef.h>
#include <time.h>

/* How far notBefore is set back from the time of issue (capped at a tenth of the validity). */
#define SELFCERT_BACKDATE_S 3600L
/* At most this many SANs in one serving certificate. */
#define SELFCERT_MAX_SANS 32

/* A certificate and its key, PEM, NUL-terminated; the owner frees them with selfcert_pem_free. */
struct selfcert_pem {
	char *cert;
	size_t cert_len;
	char *key;
	size_t key_len;
};

void selfcert_pem_free(struct selfcert_pem *p);

/* A new CA valid for validity_s seconds from now. SO_OK, SO_E_INVAL or SO_E_CONFIG (OpenSSL refused; err
 * names its error). */
int selfcert_make_ca(const char *common_name, long validity_s, time_t now, struct selfcert_pem *out, char *err,
		     size_t errlen);

/*
 * A new serving certificate signed by ca (the first certificate of ca->cert, with ca->key), valid for
 * validity_s seconds from now (never past the CA's notAfter), with the SANs given (DNS names or IP addresses)
 * and the first one as CN.
 */
int selfcert_make_serving(const struct selfcert_pem *ca, const char *const *sans, size_t nsans, long validity_s,
			  time_t now, struct selfcert_pem *out, char *err, size_t errlen);

/* What the checks below read from the first certificate of a PEM text. */
struct selfcert_info {
	time_t not_before, not_after;
	int is_ca;
	char serial[80]; /* hex */
};

/* SO_OK, or SO_E_INVAL when pem holds no certificate. */
int selfcert_inspect(const char *pem, size_t len, struct selfcert_info *out);

/* When a certificate made here was issued: notBefore plus the backdate new_cert applied (exact for ours). */
time_t selfcert_issued_at(const struct selfcert_info *i);

/* How many certificates a PEM text holds (0 when it does not parse). */
size_t selfcert_count(const char *pem, size_t len);

/* The index-th certificate of a PEM bundle, PEM again (allocated into *out). SO_OK or SO_E_INVAL. */
int selfcert_nth(const char *pem, size_t len, size_t index, char **out, size_t *out_len);

/* Non-zero when the private key key (PEM) belongs to the first certificate of cert (PEM). */
int selfcert_key_matches(const char *cert, size_t cert_len, const char *key, size_t key_len);

/* Non-zero when the first certificate of leaf was issued and signed by the first certificate of ca. */
int selfcert_signed_by(const char *leaf, size_t leaf_len, const char *ca, size_t ca_len);

/* Non-zero when the first certificate of leaf names every SAN (DNS names exactly, no wildcards; IPs). */
int selfcert_covers(const char *leaf, size_t leaf_len, const char *const *sans, size_t nsans);

/* Non-zero when s is acceptable as a SAN: an IPv4/IPv6 address, or a DNS name (letters, digits, '-', '.'). */
int selfcert_valid_san(const char *s);

#endif
