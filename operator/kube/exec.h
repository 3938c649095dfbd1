/*
 * client.authentication.k8s.io ExecCredential plugins (internal to operator/kube; used by auth.c).
 *
 * kube_exec_run starts the plugin with posix_spawn (argv array, never a shell) in its own process group, with
 *   environment  the daemon's environ + the configured env entries + KUBERNETES_EXEC_INFO,
 *   stdin        /dev/null (the plugin is told spec.interactive=false),
 *   stdout       read through a pipe with poll(), capped at KUBE_EXEC_MAX_OUTPUT,
 *   stderr       captured (first KUBE_EXEC_MAX_STDERR bytes kept) for the error message,
 * and waits at most the timeout (30 s) for the output to end and the child to exit. On timeout or oversized
 * output the whole process group is sent SIGKILL and the child is reaped, so no zombie is left behind.
 * The call blocks the calling thread for as long as the plugin runs.
 */
#ifndef SO_KUBE_EXEC_H
#define SO_KUBE_EXEC_H

#include <stddef.h>
#include <time.h>

#include "operator/kube/config.h"

#define KUBE_EXEC_TIMEOUT_MS 30000
#define KUBE_EXEC_MAX_OUTPUT (1u << 20)
#define KUBE_EXEC_MAX_STDERR 4096

/* What the plugin is told about the cluster when provideClusterInfo is set. */
struct kube_exec_cluster {
	const char *server;
	const char *tls_server_name;    /* or NULL */
	const struct kube_pem *ca;      /* or NULL/empty */
	int insecure_skip_tls_verify;
};

/* A parsed ExecCredential status. */
struct kube_exec_result {
	char *token;                  /* or NULL */
	struct kube_pem client_cert;  /* PEM, or empty */
	struct kube_pem client_key;
	time_t expiry;                /* status.expirationTimestamp, or 0 when the plugin gave none */
};

/* Runs the plugin. cluster may be NULL (then nothing is passed even with provideClusterInfo). Errors:
 * SO_E_IO (could not start, non-zero exit, killed), SO_E_TIMEOUT, SO_E_TOO_LARGE (output cap),
 * SO_E_BAD_RESPONSE (invalid ExecCredential), SO_E_CONFIG (no command, or strings for KUBERNETES_EXEC_INFO
 * that are not UTF-8); err gets "exec plugin <command>: ...". */
int kube_exec_run(const struct kube_exec_config *exec, const struct kube_exec_cluster *cluster,
		  struct kube_exec_result *out, char *err, size_t errlen);

/* Parses an ExecCredential document (exposed for tests). On failure msg says what is wrong, without values. */
int kube_exec_parse_credential(const char *json, size_t len, const char *api_version, struct kube_exec_result *out,
			       char *msg, size_t msglen);

void kube_exec_result_free(struct kube_exec_result *r);

/* RFC 3339 ("2026-01-02T15:04:05Z", optional fraction, Z or ±hh:mm) → time_t. SO_OK or SO_E_INVAL. */
int kube_parse_rfc3339(const char *s, time_t *out);

/* Test hooks: the exec timeout in milliseconds (0 restores the 30 s default), a shift applied to the clocks
 * of the given struct kube_auth (token-file age and credential expiry), so tests need not sleep, and a freeze
 * of those clocks at the current second, so a test's offsets are exact (no second boundary can add one). */
void kube_exec_set_timeout_ms(long ms);
struct kube_auth;
void kube_auth_set_clock_offset(struct kube_auth *auth, long seconds);
void kube_auth_freeze_clock(struct kube_auth *auth);

#endif
