/*
 * Where the daemon finds its API server and credentials, resolved the way kubectl does:
 *   1. --kubeconfig PATH
 *   2. $KUBECONFIG (a colon-separated list, merged: the first file to set a map entry or current-context wins)
 *   3. in-cluster: $KUBERNETES_SERVICE_HOST/_PORT plus the service-account token, CA and namespace files
 *   4. $HOME/.kube/config
 * A malformed or incomplete kubeconfig yields SO_E_CONFIG and one message naming the file and the field.
 *
 * kube_config_load (operator/kube/loadconfig.h) picks one; credentials that change at run time (token files,
 * exec plugins) are served by struct kube_auth (operator/kube/auth.h), which the HTTP client asks before every
 * request. Nothing here logs a credential.
 */
#ifndef SO_KUBE_CONFIG_H
#define SO_KUBE_CONFIG_H

#include <stddef.h>

#include "operator/kube/file.h"

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_CONFIG_MAX_FILE (4u << 20) /* a kubeconfig or referenced PEM file larger than this is refused */

/* users[].user.exec: a client.authentication.k8s.io ExecCredential plugin. */
struct kube_exec_config {
	char *command;             /* resolved through PATH when it has no '/', else relative to the kubeconfig */
	char **args;               /* NULL-terminated argv tail (args only, not the command) */
	char **env;                /* NULL-terminated "NAME=value" entries added to the child's environment only */
	char *api_version;         /* client.authentication.k8s.io/v1 or v1beta1 */
	int provide_cluster_info;  /* pass server/CA in KUBERNETES_EXEC_INFO */
};

struct kube_config {
	char *server;                   /* "https://host:port", no trailing slash */
	char *tls_server_name;          /* clusters[].cluster.tls-server-name, or NULL */
	struct kube_pem ca;             /* certificate-authority(-data); empty means system CAs */
	char *ca_file;                  /* in-cluster: the ca.crt ca was read from; re-read as it rotates */
	int insecure_skip_tls_verify;
	struct kube_pem client_cert;    /* client-certificate(-data) */
	struct kube_pem client_key;     /* client-key(-data) */
	char *token;                    /* users[].user.token (a secret: never log) */
	char *token_file;               /* users[].user.tokenFile or the in-cluster token; re-read as it rotates */
	struct kube_exec_config *exec;  /* or NULL */
	char *namespace;                /* context namespace, in-cluster namespace file, or "default" */
	char *context;                  /* the context used, or NULL in-cluster */
	char *source;                   /* where this came from, for logs: a path or "in-cluster" */
};

/* In-cluster configuration from the environment and the given service-account directory (KUBE_SA_DIR in
 * production; tests pass a temporary directory). */
int kube_config_incluster(const char *sa_dir, struct kube_config *out, char *err, size_t errlen);

void kube_config_free(struct kube_config *cfg);

/* The credentials to present on one request. Owned by the caller; free with kube_credentials_free. */
struct kube_credentials {
	char *token;                 /* bearer token or NULL */
	struct kube_pem client_cert; /* from the kubeconfig or an exec plugin; empty when none */
	struct kube_pem client_key;
	struct kube_pem ca;          /* with a CA file: the bundle read last; empty: the configured CA */
};

void kube_credentials_free(struct kube_credentials *c);

#endif
