/*
 * Pure object builders: (SpinApp, SpinAppExecutor, referenced data) → the objects the reconciler applies.
 * No I/O, no globals, no clock: the daemon, `spin-operator render` and the unit tests call the same code, so
 * what the tests pin is what the cluster receives. Objects are jansson values shaped exactly like upstream
 * spin-operator's (docs/internals/builders.md); every builder returns a new reference owned by the caller.
 *
 * Errors: 0 or a negative so_err, with one human-readable line in err (upstream's wording where upstream has
 * one, e.g. "must specify either runtimeClassName or spinImage").
 */
#ifndef SO_BUILD_BUILD_H
#define SO_BUILD_BUILD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "operator/base/buf.h"

#define SPIN_GROUP "core.spinkube.dev"
#define SPIN_API_VERSION "core.spinkube.dev/v1alpha1"
#define SPIN_LABEL_APP_NAME "core.spinkube.dev/app-name"
#define SPIN_READY_VALUE "ready"
#define SPIN_HTTP_PORT_NAME "http-app"
#define SPIN_HTTP_PORT 80
#define SPIN_DEFAULT_CA_SECRET "spin-ca"
#define SPIN_EXECUTOR_FINALIZER "core.spinkube.dev/finalizer"
#define SPIN_RUNTIME_CONFIG_KEY "runtime-config.toml"
#define SPIN_CA_KEY "ca-certificates.crt"
#define SPIN_MANAGED_BY_ANNOTATION "app.kubernetes.io/managed-by"
#define SPIN_MANAGED_BY_VALUE "spin-operator.spinkube.dev"
#define SPIN_ROUTE_GROUP "gateway.networking.k8s.io"
#define SPIN_ROUTE_API_VERSION "gateway.networking.k8s.io/v1"

/* ---- meta.c: names, labels, owner references ---- */

/* "core.spinkube.dev/app.<name>.status". Fails (SO_E_INVAL, message naming the app) when the name part after
 * the '/' would exceed the 63-character label-name limit or is not a valid label name. */
int spin_ready_label_key(const char *app_name, struct buf *out, char *err, size_t errlen);

/* The label selector of the app's pods as a string, the Deployment's spec.selector.matchLabels in
 * apimachinery's form (keys sorted, "k=v" joined by ","): "core.spinkube.dev/app-name=<name>,
 * core.spinkube.dev/app.<name>.status=ready". The SpinApp's status.selector, read by the scale subresource
 * (kubectl scale, HPAs, KEDA). Fails as spin_ready_label_key. */
int spin_pod_selector(const char *app_name, struct buf *out, char *err, size_t errlen);

/* {apiVersion, kind, name, uid} of owner, plus controller and blockOwnerDeletion true when controller != 0
 * (controller-runtime's SetControllerReference vs SetOwnerReference). NULL if owner lacks name/uid. */
json_t *spin_owner_ref(const json_t *owner, int controller);

/* ---- runtimeconfig.c, toml.c: the runtime-config Secret (docs/internals/runtime-config.md) ---- */

/* The Secrets and ConfigMaps spec.runtimeConfig refers to, deduplicated, in first-reference order: two new
 * JSON arrays of names (empty when loadFromSecret is set). */
int spin_runtime_config_refs(const json_t *app, json_t **secret_names, json_t **configmap_names);

/*
 * The runtime-config TOML, byte for byte what upstream's go-toml v2 writes. refs is
 * {"secrets": {name: Secret}, "configmaps": {name: ConfigMap}} holding every object spin_runtime_config_refs
 * named; a missing object is an error (upstream fails the reconcile), a missing key yields "". Secret data is
 * base64 in the object and is decoded. With spec.runtimeConfig.loadFromSecret set, *generated is 0 and toml
 * stays empty.
 */
int spin_runtime_config_toml(const json_t *app, const json_t *refs, struct buf *toml, int *generated, char *err,
			      size_t errlen);

/* "<app>-<adler32(toml) as lowercase hex without padding>", e.g. "simple-spinapp-760b133c". */
int spin_runtime_config_secret_name(const char *app_name, const char *toml, size_t len, struct buf *out);

/* The generated Secret: name as above, label app-name, data {runtime-config.toml: base64(toml)}, and a
 * non-controller ownerReference to the app. */
int spin_runtime_config_secret(const json_t *app, const char *toml, size_t len, json_t **out, char *err,
				size_t errlen);

/* ---- cacerts.c ---- */

/* The default CA Secret (installDefaultCACerts): annotation managed-by, stringData {ca-certificates.crt:
 * bundle}, no ownerReference. */
json_t *spin_ca_secret(const char *ns, const char *name, const char *bundle, size_t len);

/* ---- deployment.c, service.c, hpa.c ---- */

/*
 * The Deployment for app run by executor (upstream's constructDeployment, docs/internals/builders.md).
 * runtime_secret is the name of the Secret holding runtime-config.toml (generated, or
 * spec.runtimeConfig.loadFromSecret), or NULL for none. Fails with upstream's messages: missing runtimeClassName
 * and spinImage, bad probes, bad memory limits, both a loadFromSecret and a generated secret, or a ready label key
 * that is too long.
 */
int spin_deployment(const json_t *app, const json_t *executor, const char *runtime_secret, int generated_secret,
		     json_t **out, char *err, size_t errlen);

/* The Service (upstream's constructService). */
int spin_service(const json_t *app, json_t **out, char *err, size_t errlen);

/*
 * The autoscaling/v2 HorizontalPodAutoscaler for spec.autoscaler with enableAutoscaling true, named after the
 * app and targeting its Deployment; *out is NULL (and SO_OK returned) when the app asks for none.
 */
int spin_hpa(const json_t *app, json_t **out, char *err, size_t errlen);

/* ---- route.c ---- */

/*
 * The gateway.networking.k8s.io/v1 HTTPRoute for spec.route, named after the app, owned by it, sending the
 * matched requests (hostnames, PathPrefix per spec.route.pathPrefixes, default "/") arriving at the
 * parentRefs to the app's Service on port 80; *out is NULL (and SO_OK returned) when the app has no route.
 */
int spin_route(const json_t *app, json_t **out, char *err, size_t errlen);

#endif
