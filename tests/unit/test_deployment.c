/*
 * spin_deployment: the Deployment a SpinApp gets (contract §2.9–§2.11), compared as whole JSON objects where
 * practical. Reproduces upstream's pure tests (deployment_test.go, the pure parts of spinapp_controller_test.go)
 * and the behaviour checklist items that need no cluster. JSON literals are written with ' for " (J()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testjson.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/spin/spin.h"
#include "operator/base/err.h"

#define UID "5d1ad0b5-3a6e-4a0b-9f43-0b3e0c3d9a11"
#define IMAGE "ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0"
#define OWNER(name)                                                                                          \
	"[{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'name': '" name "', 'uid': '" UID \
	"', 'controller': true, 'blockOwnerDeletion': true}]"
#define APP_HEAD(name)                                                                                        \
	"'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'metadata': {'name': '" name             \
	"', 'namespace': 'default', 'uid': '" UID "'}"

/* config/samples/spin-shim-executor.yaml and spintainer-executor.yaml */
#define SHIM_EXECUTOR                                                                                         \
	"{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinAppExecutor', 'metadata': {'name': "       \
	"'containerd-shim-spin', 'namespace': 'default'}, 'spec': {'createDeployment': true, 'deploymentConfig': " \
	"{'runtimeClassName': 'wasmtime-spin-v2', 'installDefaultCACerts': true}}}"
#define SPINTAINER_EXECUTOR                                                                                   \
	"{'metadata': {'name': 'spintainer'}, 'spec': {'createDeployment': true, 'deploymentConfig': "          \
	"{'installDefaultCACerts': true, 'spinImage': 'ghcr.io/fermyon/spin:v2.7.0'}}}"
/* Like upstream's test executors: a runtime class and nothing else (no CA secret). */
#define PLAIN_EXECUTOR(rc)                                                                                     \
	"{'metadata': {'name': 'executor'}, 'spec': {'createDeployment': true, 'deploymentConfig': "            \
	"{'runtimeClassName': '" rc "'}}}"

/* config/samples/simple.yaml as the apiserver returns it */
#define SIMPLE_APP                                                                                            \
	"{" APP_HEAD("simple-spinapp") ", 'spec': {'image': '" IMAGE "', 'replicas': 1, 'executor': "            \
	"'containerd-shim-spin', 'enableAutoscaling': false}}"

/* ---- helpers ---- */

/* j at a dotted path ("spec.template.spec.containers.0.env"); numeric parts index arrays. */
static json_t *at(json_t *j, const char *path)
{
	char part[128];
	const char *p = path;

	while (j && *p) {
		size_t n = strcspn(p, ".");
		assert_true(n < sizeof part);
		memcpy(part, p, n);
		part[n] = '\0';
		if (json_is_array(j)) {
			char *end;
			unsigned long i = strtoul(part, &end, 10);
			j = *end ? NULL : json_array_get(j, i);
		} else {
			j = json_object_get(j, part);
		}
		p += n;
		if (*p == '.')
			p++;
	}
	return j;
}

static json_t *container(json_t *dep)
{
	return at(dep, "spec.template.spec.containers.0");
}

/* spin_deployment that must succeed. */
static json_t *deploy(const char *app_text, const char *exec_text, const char *secret, int generated)
{
	json_t *app = J(app_text), *exec = J(exec_text), *dep = NULL;
	char err[512] = "";
	int rc = spin_deployment(app, exec, secret, generated, &dep, err, sizeof err);
	json_decref(app);
	json_decref(exec);
	if (rc != SO_OK)
		fail_msg("spin_deployment: %d %s", rc, err);
	assert_non_null(dep);
	return dep;
}

/* spin_deployment that must fail with code and exactly message. */
static void deploy_fails(const char *app_text, const char *exec_text, const char *secret, int generated, int code,
			 const char *message)
{
	json_t *app = J(app_text), *exec = J(exec_text), *dep = (json_t *)&dep;
	char err[1024] = "";
	int rc = spin_deployment(app, exec, secret, generated, &dep, err, sizeof err);
	json_decref(app);
	json_decref(exec);
	assert_int_equal(rc, code);
	assert_null(dep);
	assert_string_equal(err, message);
}

/* ---- whole objects ---- */

static void simple_app_shim_executor(void **state)
{
	(void)state;
	json_t *dep = deploy(SIMPLE_APP, SHIM_EXECUTOR, "simple-spinapp-760b133c", 1);
	check_json(dep,
		   "{'apiVersion': 'apps/v1', 'kind': 'Deployment',"
		   " 'metadata': {'name': 'simple-spinapp', 'namespace': 'default',"
		   "   'labels': {'core.spinkube.dev/app-name': 'simple-spinapp'},"
		   "   'ownerReferences': " OWNER("simple-spinapp") "},"
		   " 'spec': {'replicas': 1,"
		   "   'selector': {'matchLabels': {'core.spinkube.dev/app-name': 'simple-spinapp',"
		   "     'core.spinkube.dev/app.simple-spinapp.status': 'ready'}},"
		   "   'template': {"
		   "     'metadata': {'labels': {'core.spinkube.dev/app-name': 'simple-spinapp',"
		   "       'core.spinkube.dev/app.simple-spinapp.status': 'ready'}},"
		   "     'spec': {"
		   "       'volumes': ["
		   "         {'name': 'spin-runtime-config', 'secret': {'secretName': 'simple-spinapp-760b133c',"
		   "           'optional': true, 'items': [{'key': 'runtime-config.toml', 'path': 'runtime-config.toml'}]}},"
		   "         {'name': 'spin-ca', 'secret': {'secretName': 'spin-ca', 'optional': true,"
		   "           'items': [{'key': 'ca-certificates.crt', 'path': 'ca-certificates.crt'}]}}],"
		   "       'containers': [{'name': 'simple-spinapp', 'image': '" IMAGE "', 'command': ['/'],"
		   "         'ports': [{'name': 'http-app', 'containerPort': 80}],"
		   "         'env': [{'name': 'SPIN_HTTP_LISTEN_ADDR', 'value': '0.0.0.0:80'}],"
		   "         'resources': {},"
		   "         'volumeMounts': ["
		   "           {'name': 'spin-runtime-config', 'readOnly': true, 'mountPath': '/runtime-config.toml',"
		   "             'subPath': 'runtime-config.toml'},"
		   "           {'name': 'spin-ca', 'readOnly': true, 'mountPath': '/etc/ssl/certs/ca-certificates.crt',"
		   "             'subPath': 'ca-certificates.crt'}]}],"
		   "       'serviceAccountName': 'default',"
		   "       'runtimeClassName': 'wasmtime-spin-v2'}}}}");
	json_decref(dep);
}

/* config/samples/spintainer.yaml with components: spin CLI args, no command, no runtimeClassName. */
static void spintainer_with_components(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("spintainer-spinapp") ", 'spec': {'image': "
			     "'ghcr.io/spinframework/spin-operator/hello-world:20250625-200716-g19414c1', 'replicas': 2,"
			     " 'executor': 'spintainer', 'components': ['hello', 'goodbye']}}",
			     SPINTAINER_EXECUTOR, "spintainer-spinapp-1a2b3c", 1);
	check_json(at(dep, "spec.template.spec"),
		   "{'volumes': ["
		   "   {'name': 'spin-runtime-config', 'secret': {'secretName': 'spintainer-spinapp-1a2b3c',"
		   "     'optional': true, 'items': [{'key': 'runtime-config.toml', 'path': 'runtime-config.toml'}]}},"
		   "   {'name': 'spin-ca', 'secret': {'secretName': 'spin-ca', 'optional': true,"
		   "     'items': [{'key': 'ca-certificates.crt', 'path': 'ca-certificates.crt'}]}}],"
		   " 'containers': [{'name': 'spintainer-spinapp', 'image': 'ghcr.io/fermyon/spin:v2.7.0',"
		   "   'args': ['up', '--listen', '0.0.0.0:80', '-f',"
		   "     'ghcr.io/spinframework/spin-operator/hello-world:20250625-200716-g19414c1',"
		   "     '--runtime-config-file', '/runtime-config.toml',"
		   "     '--component-id', 'hello', '--component-id', 'goodbye'],"
		   "   'ports': [{'name': 'http-app', 'containerPort': 80}],"
		   "   'env': [{'name': 'SPIN_HTTP_LISTEN_ADDR', 'value': '0.0.0.0:80'},"
		   "     {'name': 'SPIN_COMPONENTS_TO_RETAIN', 'value': 'hello,goodbye'}],"
		   "   'resources': {},"
		   "   'volumeMounts': ["
		   "     {'name': 'spin-runtime-config', 'readOnly': true, 'mountPath': '/runtime-config.toml',"
		   "       'subPath': 'runtime-config.toml'},"
		   "     {'name': 'spin-ca', 'readOnly': true, 'mountPath': '/etc/ssl/certs/ca-certificates.crt',"
		   "       'subPath': 'ca-certificates.crt'}]}],"
		   " 'serviceAccountName': 'default'}");
	assert_int_equal(json_integer_value(at(dep, "spec.replicas")), 2);
	json_decref(dep);
}

/* Spintainer without components: the fixed seven arguments only. */
static void spintainer_without_components(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("s") ", 'spec': {'image': 'registry/app:1', 'replicas': 1}}",
			     SPINTAINER_EXECUTOR, NULL, 0);
	check_json(at(container(dep), "args"),
		   "['up', '--listen', '0.0.0.0:80', '-f', 'registry/app:1', '--runtime-config-file', "
		   "'/runtime-config.toml']");
	assert_null(at(container(dep), "command"));
	assert_null(at(dep, "spec.template.spec.runtimeClassName"));
	json_decref(dep);
}

/* ---- upstream spinapp_controller_test.go (pure parts) ---- */

/* ConstructDeployment_MinimalApp */
static void minimal_app(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("my-app") ", 'spec': {'executor': 'containerd-shim-spin', 'image': "
			     "'fakereg.dev/noapp', 'replicas': 1}}",
			     PLAIN_EXECUTOR("bananarama"), NULL, 0);
	assert_int_equal(json_integer_value(at(dep, "spec.replicas")), 1);
	assert_int_equal(json_array_size(at(dep, "spec.template.spec.containers")), 1);
	assert_string_equal(json_string_value(at(container(dep), "image")), "fakereg.dev/noapp");
	assert_string_equal(json_string_value(at(dep, "spec.template.spec.runtimeClassName")), "bananarama");
	/* No runtime secret, no CA, no user volumes: Go's omitempty leaves both lists out. */
	assert_null(at(dep, "spec.template.spec.volumes"));
	assert_null(at(container(dep), "volumeMounts"));
	assert_null(at(container(dep), "args"));
	json_decref(dep);
}

/* ConstructDeployment_WithPodLabels */
static void with_pod_labels(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'fakereg.dev/noapp', 'replicas': 1,"
			     " 'podLabels': {'key': 'value'}}}",
			     PLAIN_EXECUTOR("bananarama"), NULL, 0);
	assert_int_equal(json_object_size(at(dep, "spec.template.metadata.labels")), 3);
	json_decref(dep);
}

/* AnnotationAndLabelPropagation */
static void annotation_and_label_propagation(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'fakereg.dev/noapp', 'replicas': 1,"
			     " 'podLabels': {'my.pod.label': 'value'},"
			     " 'podAnnotations': {'my.pod.annotation': 'value'},"
			     " 'deploymentAnnotations': {'key': 'value', 'multiple-keys': 'are-supported'},"
			     " 'serviceAnnotations': {'svc': 'only'}}}",
			     PLAIN_EXECUTOR("a-runtime-class"), NULL, 0);
	check_json(at(dep, "spec.template.metadata"),
		   "{'labels': {'core.spinkube.dev/app-name': 'app', 'core.spinkube.dev/app.app.status': 'ready',"
		   "   'my.pod.label': 'value'},"
		   " 'annotations': {'my.pod.annotation': 'value'}}");
	check_json(at(dep, "metadata.annotations"), "{'key': 'value', 'multiple-keys': 'are-supported'}");
	check_json(at(dep, "metadata.labels"), "{'core.spinkube.dev/app-name': 'app'}");
	/* The selector never includes pod labels. */
	check_json(at(dep, "spec.selector"),
		   "{'matchLabels': {'core.spinkube.dev/app-name': 'app', 'core.spinkube.dev/app.app.status': 'ready'}}");
	json_decref(dep);
}

/* Pod labels cannot override the selector labels (maps.Copy(templateLabels, readyLabels)). */
static void pod_labels_cannot_override_selector(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'podLabels': {"
			     "'core.spinkube.dev/app-name': 'other', 'core.spinkube.dev/app.app.status': 'notready',"
			     " 'team': 'a'}}}",
			     PLAIN_EXECUTOR("rc"), NULL, 0);
	check_json(at(dep, "spec.template.metadata.labels"),
		   "{'core.spinkube.dev/app-name': 'app', 'core.spinkube.dev/app.app.status': 'ready', 'team': 'a'}");
	json_decref(dep);
}

/* Empty annotation maps are left out, as Go's omitempty does. */
static void empty_annotations_omitted(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'podAnnotations': {},"
			     " 'deploymentAnnotations': {}}}",
			     PLAIN_EXECUTOR("rc"), NULL, 0);
	assert_null(at(dep, "metadata.annotations"));
	assert_null(at(dep, "spec.template.metadata.annotations"));
	json_decref(dep);
}

/* Deployment_SpinCAInjection and the CA rules of §2.8. */
static void ca_injection(void **state)
{
	(void)state;
	static const struct {
		const char *dc;
		const char *secret; /* NULL: no spin-ca volume */
	} cases[] = {
		{ "{'runtimeClassName': 'foobar', 'installDefaultCACerts': true}", "spin-ca" },
		{ "{'runtimeClassName': 'foobar', 'caCertSecret': 'my-custom-secret-name', 'installDefaultCACerts': true}",
		  "my-custom-secret-name" },
		/* A named secret is mounted even when the operator does not install it. */
		{ "{'runtimeClassName': 'foobar', 'caCertSecret': 'user-ca'}", "user-ca" },
		{ "{'runtimeClassName': 'foobar', 'caCertSecret': '', 'installDefaultCACerts': false}", NULL },
		{ "{'runtimeClassName': 'foobar'}", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char exec[512];
		snprintf(exec, sizeof exec, "{'metadata': {'name': 'e'}, 'spec': {'createDeployment': true,"
			 " 'deploymentConfig': %s}}", cases[i].dc);
		json_t *dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1}}", exec, NULL, 0);
		json_t *volumes = at(dep, "spec.template.spec.volumes"), *mounts = at(container(dep), "volumeMounts");
		if (!cases[i].secret) {
			assert_null(volumes);
			assert_null(mounts);
		} else {
			char want[512];
			snprintf(want, sizeof want,
				 "[{'name': 'spin-ca', 'secret': {'secretName': '%s', 'optional': true,"
				 " 'items': [{'key': 'ca-certificates.crt', 'path': 'ca-certificates.crt'}]}}]",
				 cases[i].secret);
			check_json(volumes, want);
			check_json(mounts, "[{'name': 'spin-ca', 'readOnly': true, 'mountPath':"
				   " '/etc/ssl/certs/ca-certificates.crt', 'subPath': 'ca-certificates.crt'}]");
		}
		json_decref(dep);
	}
}

/* Deployment_ServiceAccountName, and the literal "default" otherwise. */
static void service_account_name(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'serviceAccountName':"
			     " 'my-service-account'}}",
			     PLAIN_EXECUTOR("rc"), NULL, 0);
	assert_string_equal(json_string_value(at(dep, "spec.template.spec.serviceAccountName")), "my-service-account");
	json_decref(dep);
	dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'serviceAccountName': ''}}",
		     PLAIN_EXECUTOR("rc"), NULL, 0);
	assert_string_equal(json_string_value(at(dep, "spec.template.spec.serviceAccountName")), "default");
	json_decref(dep);
}

/* config/samples/private-image.yaml */
static void image_pull_secrets(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("private-image-spinapp") ", 'spec': {'image': 'ghcr.io/u/i:t', 'replicas': 1,"
			     " 'imagePullSecrets': [{'name': 'spin-image-secret'}, {'name': 'second'}]}}",
			     SHIM_EXECUTOR, NULL, 0);
	check_json(at(dep, "spec.template.spec.imagePullSecrets"), "[{'name': 'spin-image-secret'}, {'name': 'second'}]");
	json_decref(dep);
	dep = deploy("{" APP_HEAD("a") ", 'spec': {'image': 'i', 'replicas': 1, 'imagePullSecrets': []}}",
		     SHIM_EXECUTOR, NULL, 0);
	assert_null(at(dep, "spec.template.spec.imagePullSecrets"));
	json_decref(dep);
}

/* ---- upstream deployment_test.go ---- */

/* RuntimeConfigSecretMount and CASecretMount contracts. */
static void secret_mount_contracts(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1}}", SHIM_EXECUTOR,
			     "gen-secret", 1);
	json_t *volumes = at(dep, "spec.template.spec.volumes"), *mounts = at(container(dep), "volumeMounts");
	assert_int_equal(json_array_size(volumes), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *v = json_array_get(volumes, i), *m = json_array_get(mounts, i);
		assert_true(json_is_true(at(v, "secret.optional")));
		assert_non_null(strstr(json_string_value(at(v, "name")), "spin-"));
		assert_string_equal(json_string_value(at(v, "name")), json_string_value(at(m, "name")));
		assert_true(json_is_true(at(m, "readOnly")));
	}
	assert_string_equal(json_string_value(at(volumes, "0.secret.secretName")), "gen-secret");
	assert_string_equal(json_string_value(at(volumes, "1.secret.secretName")), "spin-ca");
	json_decref(dep);
}

/* VolumeMountsForApp: the runtime-config secret, the user's volumes, then CA; both secrets is an error. */
static void volumes_for_app(void **state)
{
	(void)state;
	const char *load_from = "{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'runtimeConfig':"
				" {'loadFromSecret': 'foo-secret-v1'}}}";
	deploy_fails(load_from, SHIM_EXECUTOR, "gen-secret", 1, SO_E_INVAL,
		     "cannot specify both a user-provided runtime secret and a generated one");

	/* loadFromSecret alone (the caller passes no secret, or the same name): one runtime-config volume. */
	json_t *dep = deploy(load_from, PLAIN_EXECUTOR("rc"), NULL, 0);
	assert_int_equal(json_array_size(at(dep, "spec.template.spec.volumes")), 1);
	assert_string_equal(json_string_value(at(dep, "spec.template.spec.volumes.0.secret.secretName")),
			    "foo-secret-v1");
	json_decref(dep);
	dep = deploy(load_from, PLAIN_EXECUTOR("rc"), "foo-secret-v1", 0);
	assert_string_equal(json_string_value(at(dep, "spec.template.spec.volumes.0.secret.secretName")),
			    "foo-secret-v1");
	json_decref(dep);

	/* config/samples/volume-mount.yaml with a generated secret and the default CA: three in order. */
	dep = deploy("{" APP_HEAD("volume-mount-spinapp") ", 'spec': {'image': 'i', 'replicas': 1,"
		     " 'volumes': [{'name': 'example-volume', 'persistentVolumeClaim': {'claimName': 'example-pv-claim'}}],"
		     " 'volumeMounts': [{'name': 'example-volume', 'mountPath': '/mnt/data'}]}}",
		     SHIM_EXECUTOR, "volume-mount-spinapp-760b133c", 1);
	check_json(at(dep, "spec.template.spec.volumes"),
		   "[{'name': 'spin-runtime-config', 'secret': {'secretName': 'volume-mount-spinapp-760b133c',"
		   "   'optional': true, 'items': [{'key': 'runtime-config.toml', 'path': 'runtime-config.toml'}]}},"
		   " {'name': 'example-volume', 'persistentVolumeClaim': {'claimName': 'example-pv-claim'}},"
		   " {'name': 'spin-ca', 'secret': {'secretName': 'spin-ca', 'optional': true,"
		   "   'items': [{'key': 'ca-certificates.crt', 'path': 'ca-certificates.crt'}]}}]");
	check_json(at(container(dep), "volumeMounts"),
		   "[{'name': 'spin-runtime-config', 'readOnly': true, 'mountPath': '/runtime-config.toml',"
		   "   'subPath': 'runtime-config.toml'},"
		   " {'name': 'example-volume', 'mountPath': '/mnt/data'},"
		   " {'name': 'spin-ca', 'readOnly': true, 'mountPath': '/etc/ssl/certs/ca-certificates.crt',"
		   "   'subPath': 'ca-certificates.crt'}]");
	json_decref(dep);

	/* User volumes only. */
	dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1,"
		     " 'volumes': [{'name': 'v', 'emptyDir': {}}], 'volumeMounts': [{'name': 'v', 'mountPath': '/v'}]}}",
		     PLAIN_EXECUTOR("rc"), NULL, 0);
	check_json(at(dep, "spec.template.spec.volumes"), "[{'name': 'v', 'emptyDir': {}}]");
	check_json(at(container(dep), "volumeMounts"), "[{'name': 'v', 'mountPath': '/v'}]");
	json_decref(dep);
}

/* EnvForApp: names upper-cased, valueFrom passed through, variables first, then the fixed variables. */
static void env_for_app(void **state)
{
	(void)state;
	const char *exec = "{'metadata': {'name': 'otel'}, 'spec': {'createDeployment': true, 'deploymentConfig':"
			   " {'runtimeClassName': 'rc', 'otel': {'exporter_otlp_endpoint': 'http://otlp',"
			   " 'exporter_otlp_traces_endpoint': 'http://traces', 'exporter_otlp_metrics_endpoint': "
			   "'http://metrics', 'exporter_otlp_logs_endpoint': 'http://logs'}}}}";
	json_t *dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1,"
			     " 'variables': ["
			     "   {'name': 'simple_secret', 'value': 'f00'},"
			     "   {'name': 'simple_secret_with_numb3rs', 'value': 'b4r'},"
			     "   {'name': 'secret_ref', 'valueFrom': {'secretKeyRef': {'name': 'my-secret', 'key': 'k',"
			     "     'optional': true}}},"
			     "   {'name': 'namespace', 'valueFrom': {'fieldRef': {'fieldPath': 'metadata.namespace'}}},"
			     "   {'name': 'config', 'valueFrom': {'configMapKeyRef': {'name': 'cm', 'key': 'c'}}},"
			     "   {'name': 'empty'}],"
			     " 'invocationLimits': {'memory': '40M', 'cpu': 'ignored'},"
			     " 'components': ['a', 'b']}}",
			     exec, NULL, 0);
	check_json(at(container(dep), "env"),
		   "[{'name': 'SPIN_VARIABLE_SIMPLE_SECRET', 'value': 'f00'},"
		   " {'name': 'SPIN_VARIABLE_SIMPLE_SECRET_WITH_NUMB3RS', 'value': 'b4r'},"
		   " {'name': 'SPIN_VARIABLE_SECRET_REF', 'valueFrom': {'secretKeyRef': {'name': 'my-secret', 'key': 'k',"
		   "   'optional': true}}},"
		   " {'name': 'SPIN_VARIABLE_NAMESPACE', 'valueFrom': {'fieldRef': {'fieldPath': 'metadata.namespace'}}},"
		   " {'name': 'SPIN_VARIABLE_CONFIG', 'valueFrom': {'configMapKeyRef': {'name': 'cm', 'key': 'c'}}},"
		   " {'name': 'SPIN_VARIABLE_EMPTY'},"
		   " {'name': 'SPIN_HTTP_LISTEN_ADDR', 'value': '0.0.0.0:80'},"
		   " {'name': 'OTEL_EXPORTER_OTLP_ENDPOINT', 'value': 'http://otlp'},"
		   " {'name': 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'value': 'http://traces'},"
		   " {'name': 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'value': 'http://metrics'},"
		   " {'name': 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', 'value': 'http://logs'},"
		   " {'name': 'SPIN_MAX_INSTANCE_MEMORY', 'value': '40000000'},"
		   " {'name': 'SPIN_COMPONENTS_TO_RETAIN', 'value': 'a,b'}]");
	/* Shim path with components: env only, no args. */
	assert_null(at(container(dep), "args"));
	json_decref(dep);
}

/* config/samples/variables.yaml, and a variable carrying both a value and a valueFrom (copied as given). */
static void variables_sample(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("variables-spinapp") ", 'spec': {'image': 'i', 'replicas': 1,"
			     " 'variables': [{'name': 'greetee', 'value': 'SpinKube'},"
			     " {'name': 'Mixed_Case', 'value': 'v', 'valueFrom': {'fieldRef': {'fieldPath': 'metadata.name'}}}]}}",
			     PLAIN_EXECUTOR("rc"), NULL, 0);
	check_json(at(container(dep), "env"),
		   "[{'name': 'SPIN_VARIABLE_GREETEE', 'value': 'SpinKube'},"
		   " {'name': 'SPIN_VARIABLE_MIXED_CASE', 'value': 'v', 'valueFrom': {'fieldRef': {'fieldPath':"
		   " 'metadata.name'}}},"
		   " {'name': 'SPIN_HTTP_LISTEN_ADDR', 'value': '0.0.0.0:80'}]");
	json_decref(dep);
}

/* Only the non-empty OTel endpoints, always in the fixed order (config/samples/otel.yaml has one). */
static void otel_env_order(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("otel-spinapp") ", 'spec': {'image': 'i', 'replicas': 1}}",
			     "{'metadata': {'name': 'otel-shim-executor'}, 'spec': {'createDeployment': true,"
			     " 'deploymentConfig': {'runtimeClassName': 'wasmtime-spin-v2', 'otel': {"
			     " 'exporter_otlp_logs_endpoint': 'http://logs', 'exporter_otlp_traces_endpoint': '',"
			     " 'exporter_otlp_endpoint': 'http://otel-collector.default.svc.cluster.local:4318'}}}}",
			     NULL, 0);
	check_json(at(container(dep), "env"),
		   "[{'name': 'SPIN_HTTP_LISTEN_ADDR', 'value': '0.0.0.0:80'},"
		   " {'name': 'OTEL_EXPORTER_OTLP_ENDPOINT', 'value': 'http://otel-collector.default.svc.cluster.local:4318'},"
		   " {'name': 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', 'value': 'http://logs'}]");
	json_decref(dep);
}

/* invocationLimits.memory → bytes as a decimal string, rounded up like Quantity.ToDec().Value(). */
static void invocation_memory(void **state)
{
	(void)state;
	static const struct {
		const char *q, *bytes;
	} cases[] = {
		{ "40M", "40000000" }, { "128Mi", "134217728" }, { "1Gi", "1073741824" }, { "1000", "1000" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char app[256], want[256];
		snprintf(app, sizeof app,
			 "{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'invocationLimits': {'memory': '%s'}}}",
			 cases[i].q);
		json_t *dep = deploy(app, PLAIN_EXECUTOR("rc"), NULL, 0);
		snprintf(want, sizeof want,
			 "[{'name': 'SPIN_HTTP_LISTEN_ADDR', 'value': '0.0.0.0:80'},"
			 " {'name': 'SPIN_MAX_INSTANCE_MEMORY', 'value': '%s'}]",
			 cases[i].bytes);
		check_json(at(container(dep), "env"), want);
		json_decref(dep);
	}
}

static void bad_memory_limit(void **state)
{
	(void)state;
	deploy_fails("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'invocationLimits': {'memory':"
		     " 'lots'}}}",
		     PLAIN_EXECUTOR("rc"), NULL, 0, SO_E_INVAL,
		     "failed to parse memory limit \"lots\": quantities must match the regular expression "
		     "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
	deploy_fails("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'invocationLimits': {'memory':"
		     " ''}}}",
		     PLAIN_EXECUTOR("rc"), NULL, 0, SO_E_INVAL,
		     "failed to parse memory limit \"\": quantities must match the regular expression "
		     "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
}

/* HealthCheckToCoreProbe with the numbers of upstream's test, and with the CRD defaults (probes.yaml). */
static void probes(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'checks': {"
			     " 'readiness': {'httpGet': {'path': '/var', 'httpHeaders': [{'name': 'header', 'value':"
			     " 'value'}]}, 'initialDelaySeconds': 1, 'timeoutSeconds': 2, 'periodSeconds': 3,"
			     " 'successThreshold': 4, 'failureThreshold': 5}}}}",
			     PLAIN_EXECUTOR("rc"), NULL, 0);
	check_json(at(container(dep), "readinessProbe"),
		   "{'httpGet': {'path': '/var', 'port': 80, 'httpHeaders': [{'name': 'header', 'value': 'value'}]},"
		   " 'initialDelaySeconds': 1, 'timeoutSeconds': 2, 'periodSeconds': 3, 'successThreshold': 4,"
		   " 'failureThreshold': 5}");
	assert_null(at(container(dep), "livenessProbe"));
	json_decref(dep);

	/* config/samples/probes.yaml after the apiserver applied the CRD defaults. */
	dep = deploy("{" APP_HEAD("healthchecks-spinapp") ", 'spec': {'image': 'i', 'replicas': 1, 'checks': {"
		     " 'liveness': {'httpGet': {'path': '/hello'}, 'initialDelaySeconds': 10, 'timeoutSeconds': 1,"
		     "   'periodSeconds': 10, 'successThreshold': 1, 'failureThreshold': 3},"
		     " 'readiness': {'httpGet': {'path': '/go-hello'}, 'initialDelaySeconds': 10, 'timeoutSeconds': 1,"
		     "   'periodSeconds': 10, 'successThreshold': 1, 'failureThreshold': 3}}}}",
		     SHIM_EXECUTOR, NULL, 0);
	check_json(at(container(dep), "livenessProbe"),
		   "{'httpGet': {'path': '/hello', 'port': 80}, 'initialDelaySeconds': 10, 'timeoutSeconds': 1,"
		   " 'periodSeconds': 10, 'successThreshold': 1, 'failureThreshold': 3}");
	check_json(at(container(dep), "readinessProbe"),
		   "{'httpGet': {'path': '/go-hello', 'port': 80}, 'initialDelaySeconds': 10, 'timeoutSeconds': 1,"
		   " 'periodSeconds': 10, 'successThreshold': 1, 'failureThreshold': 3}");
	json_decref(dep);

	/* Zero and absent numbers are left out (corev1.Probe's fields are omitempty), so are empty headers. */
	dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'checks': {"
		     " 'liveness': {'httpGet': {'path': '/h', 'httpHeaders': []}, 'initialDelaySeconds': 0},"
		     " 'readiness': null}}}",
		     PLAIN_EXECUTOR("rc"), NULL, 0);
	check_json(at(container(dep), "livenessProbe"), "{'httpGet': {'path': '/h', 'port': 80}}");
	assert_null(at(container(dep), "readinessProbe"));
	json_decref(dep);

	/* No checks: no probes. */
	dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'checks': {}}}", PLAIN_EXECUTOR("rc"),
		     NULL, 0);
	assert_null(at(container(dep), "livenessProbe"));
	assert_null(at(container(dep), "readinessProbe"));
	json_decref(dep);
}

/* A probe without httpGet; readiness is checked before liveness. */
static void bad_probes(void **state)
{
	(void)state;
	deploy_fails("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'checks': {'readiness': {}}}}",
		     PLAIN_EXECUTOR("rc"), NULL, 0, SO_E_INVAL,
		     "failed to construct readiness probe: probe exists but with unknown configuration, expected httpGet");
	deploy_fails("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'checks': {"
		     "'readiness': {'httpGet': {'path': '/'}}, 'liveness': {'initialDelaySeconds': 10}}}}",
		     PLAIN_EXECUTOR("rc"), NULL, 0, SO_E_INVAL,
		     "failed to construct liveness probe: probe exists but with unknown configuration, expected httpGet");
	deploy_fails("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'checks': {"
		     "'readiness': {'httpGet': null}, 'liveness': {}}}}",
		     PLAIN_EXECUTOR("rc"), NULL, 0, SO_E_INVAL,
		     "failed to construct readiness probe: probe exists but with unknown configuration, expected httpGet");
}

/* enableAutoscaling leaves spec.replicas out; without it an omitted replicas is sent as 0 (Go's zero value). */
static void replicas(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("hpa-spinapp") ", 'spec': {'image': 'i', 'executor': 'containerd-shim-spin',"
			     " 'enableAutoscaling': true}}",
			     SHIM_EXECUTOR, NULL, 0);
	assert_null(at(dep, "spec.replicas"));
	assert_non_null(at(dep, "spec.selector"));
	json_decref(dep);
	dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i'}}", SHIM_EXECUTOR, NULL, 0);
	assert_true(json_is_integer(at(dep, "spec.replicas")));
	assert_int_equal(json_integer_value(at(dep, "spec.replicas")), 0);
	json_decref(dep);
	dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 3, 'enableAutoscaling': false}}",
		     SHIM_EXECUTOR, NULL, 0);
	assert_int_equal(json_integer_value(at(dep, "spec.replicas")), 3);
	json_decref(dep);
}

/* config/samples/resources.yaml; integer quantities become strings; no resources → {}. */
static void resources(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("resource-requirements-spinapp") ", 'spec': {'image': 'i', 'replicas': 1,"
			     " 'resources': {'limits': {'cpu': '500m', 'memory': '500Mi'}, 'requests': {'cpu': '100m',"
			     " 'memory': '400Mi'}}}}",
			     SHIM_EXECUTOR, NULL, 0);
	check_json(at(container(dep), "resources"),
		   "{'limits': {'cpu': '500m', 'memory': '500Mi'}, 'requests': {'cpu': '100m', 'memory': '400Mi'}}");
	json_decref(dep);
	dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'resources': {'limits': {'cpu': 2},"
		     " 'requests': {}}}}",
		     SHIM_EXECUTOR, NULL, 0);
	check_json(at(container(dep), "resources"), "{'limits': {'cpu': '2'}}");
	json_decref(dep);
	dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1}}", SHIM_EXECUTOR, NULL, 0);
	check_json(at(container(dep), "resources"), "{}");
	json_decref(dep);
}

/* config/samples/selective-deployment.yaml on the shim: env only, one component. */
static void components_shim(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("hello-salutation-spinapp") ", 'spec': {'image': 'i', 'replicas': 1,"
			     " 'components': ['hello']}}",
			     SHIM_EXECUTOR, NULL, 0);
	check_json(at(container(dep), "env"),
		   "[{'name': 'SPIN_HTTP_LISTEN_ADDR', 'value': '0.0.0.0:80'},"
		   " {'name': 'SPIN_COMPONENTS_TO_RETAIN', 'value': 'hello'}]");
	check_json(at(container(dep), "command"), "['/']");
	assert_null(at(container(dep), "args"));
	json_decref(dep);
}

/* DeploymentLabel */
static void deployment_label(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("my-app") ", 'spec': {'image': 'i', 'replicas': 1}}", PLAIN_EXECUTOR("rc"),
			     NULL, 0);
	assert_string_equal(json_string_value(json_object_get(at(dep, "metadata.labels"), SPIN_LABEL_APP_NAME)),
			    "my-app");
	json_decref(dep);
}

/* Both runtimes set (the webhook refuses it): the shim branch wins. */
static void both_runtimes_shim_wins(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1}}",
			     "{'metadata': {'name': 'both'}, 'spec': {'createDeployment': true, 'deploymentConfig':"
			     " {'runtimeClassName': 'wasmtime-spin-v2', 'spinImage': 'ghcr.io/fermyon/spin:v2.7.0'}}}",
			     NULL, 0);
	assert_string_equal(json_string_value(at(container(dep), "image")), "i");
	check_json(at(container(dep), "command"), "['/']");
	assert_null(at(container(dep), "args"));
	assert_string_equal(json_string_value(at(dep, "spec.template.spec.runtimeClassName")), "wasmtime-spin-v2");
	json_decref(dep);
}

/* ---- errors ---- */

static void neither_runtime(void **state)
{
	(void)state;
	deploy_fails(SIMPLE_APP, "{'metadata': {'name': 'x'}, 'spec': {'createDeployment': true, 'deploymentConfig':"
		     " {'installDefaultCACerts': true}}}",
		     NULL, 0, SO_E_INVAL, "must specify either runtimeClassName or spinImage");
}

/* Upstream dereferences the nil deploymentConfig and panics; we refuse clearly. */
static void missing_deployment_config(void **state)
{
	(void)state;
	deploy_fails(SIMPLE_APP, "{'metadata': {'name': 'cyclotron'}, 'spec': {'createDeployment': true}}", NULL, 0,
		     SO_E_INVAL, "executor \"cyclotron\" has createDeployment: true but no deploymentConfig");
	deploy_fails(SIMPLE_APP, "{'metadata': {'name': 'ext'}, 'spec': {'createDeployment': false}}", NULL, 0,
		     SO_E_INVAL, "executor \"ext\" has createDeployment: false; its apps get no Deployment");
}

/* The ready label key's name part must fit in 63 characters: app names up to 52 characters. */
static void long_name(void **state)
{
	(void)state;
	const char *n52 = "a234567890123456789012345678901234567890123456789012";
	const char *n53 = "a2345678901234567890123456789012345678901234567890123";
	char app[512], want[512];

	assert_int_equal(strlen(n52), 52);
	snprintf(app, sizeof app, "{'metadata': {'name': '%s', 'namespace': 'default', 'uid': 'u'}, 'spec': {'image':"
		 " 'i', 'replicas': 1}}", n52);
	json_t *dep = deploy(app, PLAIN_EXECUTOR("rc"), NULL, 0);
	snprintf(want, sizeof want, "core.spinkube.dev/app.%s.status", n52);
	assert_int_equal(strlen(want) - strlen("core.spinkube.dev/"), 63);
	assert_string_equal(json_string_value(json_object_get(at(dep, "spec.selector.matchLabels"), want)), "ready");
	json_decref(dep);

	snprintf(app, sizeof app, "{'metadata': {'name': '%s', 'namespace': 'default', 'uid': 'u'}, 'spec': {'image':"
		 " 'i', 'replicas': 1}}", n53);
	snprintf(want, sizeof want,
		 "SpinApp name \"%s\" is too long: the ready label key \"core.spinkube.dev/app.%s.status\" would exceed "
		 "the 63-character limit of a label name (names up to 52 characters fit)",
		 n53, n53);
	deploy_fails(app, PLAIN_EXECUTOR("rc"), NULL, 0, SO_E_INVAL, want);
}

static void malformed_apps(void **state)
{
	(void)state;
	deploy_fails("{'metadata': {'namespace': 'default'}, 'spec': {'image': 'i'}}", PLAIN_EXECUTOR("rc"), NULL, 0,
		     SO_E_INVAL, "SpinApp has no metadata.name");
	deploy_fails("{" APP_HEAD("app") ", 'spec': {'replicas': 1}}", PLAIN_EXECUTOR("rc"), NULL, 0, SO_E_INVAL,
		     "SpinApp \"app\" has no spec.image");
	deploy_fails("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 'two'}}", PLAIN_EXECUTOR("rc"), NULL, 0,
		     SO_E_INVAL, "spec.replicas: must be a non-negative int32");
	deploy_fails("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'podLabels': {'a': 1}}}",
		     PLAIN_EXECUTOR("rc"), NULL, 0, SO_E_INVAL, "spec.podLabels[\"a\"]: must be a string");
	deploy_fails("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'variables': [{'value': 'v'}]}}",
		     PLAIN_EXECUTOR("rc"), NULL, 0, SO_E_INVAL, "spec.variables[0]: name is required");
	deploy_fails("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1, 'resources': {'limits': {'cpu':"
		     " 0.5}}}}",
		     PLAIN_EXECUTOR("rc"), NULL, 0, SO_E_INVAL, "spec.resources.limits.cpu: not a quantity");
	deploy_fails("{'metadata': {'name': 'bad/name', 'uid': 'u'}, 'spec': {'image': 'i', 'replicas': 1}}",
		     PLAIN_EXECUTOR("rc"), NULL, 0, SO_E_INVAL,
		     "SpinApp name \"bad/name\" cannot be used in the ready label key: \"app.bad/name.status\" is not a "
		     "valid label name");
}

/* An app never stored (no uid) gets no ownerReferences; missing apiVersion/kind default to SpinApp's. */
static void owner_reference_edges(void **state)
{
	(void)state;
	json_t *dep = deploy("{'metadata': {'name': 'app'}, 'spec': {'image': 'i', 'replicas': 1}}",
			     PLAIN_EXECUTOR("rc"), NULL, 0);
	assert_null(at(dep, "metadata.ownerReferences"));
	assert_null(at(dep, "metadata.namespace"));
	json_decref(dep);
	dep = deploy("{'metadata': {'name': 'app', 'namespace': 'ns', 'uid': '" UID "'}, 'spec': {'image': 'i',"
		     " 'replicas': 1}}",
		     PLAIN_EXECUTOR("rc"), NULL, 0);
	check_json(at(dep, "metadata.ownerReferences"), OWNER("app"));
	assert_string_equal(json_string_value(at(dep, "metadata.namespace")), "ns");
	json_decref(dep);
}

/* The result shares nothing with the inputs: it survives them being freed (ASan checks this). */
static void result_is_independent(void **state)
{
	(void)state;
	json_t *dep = deploy("{" APP_HEAD("app") ", 'spec': {'image': 'i', 'replicas': 1,"
			     " 'volumes': [{'name': 'v', 'emptyDir': {}}], 'volumeMounts': [{'name': 'v', 'mountPath': '/v'}],"
			     " 'variables': [{'name': 'x', 'valueFrom': {'fieldRef': {'fieldPath': 'metadata.name'}}}],"
			     " 'imagePullSecrets': [{'name': 's'}], 'podLabels': {'l': 'v'}, 'podAnnotations': {'a': 'b'}}}",
			     SPINTAINER_EXECUTOR, NULL, 0);
	char *s = json_dumps(dep, JSON_SORT_KEYS);
	assert_non_null(s);
	assert_non_null(strstr(s, "\"fieldPath\": \"metadata.name\""));
	assert_non_null(strstr(s, "\"emptyDir\": {}"));
	free(s);
	json_decref(dep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(simple_app_shim_executor),
		cmocka_unit_test(spintainer_with_components),
		cmocka_unit_test(spintainer_without_components),
		cmocka_unit_test(minimal_app),
		cmocka_unit_test(with_pod_labels),
		cmocka_unit_test(annotation_and_label_propagation),
		cmocka_unit_test(pod_labels_cannot_override_selector),
		cmocka_unit_test(empty_annotations_omitted),
		cmocka_unit_test(ca_injection),
		cmocka_unit_test(service_account_name),
		cmocka_unit_test(image_pull_secrets),
		cmocka_unit_test(secret_mount_contracts),
		cmocka_unit_test(volumes_for_app),
		cmocka_unit_test(env_for_app),
		cmocka_unit_test(variables_sample),
		cmocka_unit_test(otel_env_order),
		cmocka_unit_test(invocation_memory),
		cmocka_unit_test(bad_memory_limit),
		cmocka_unit_test(probes),
		cmocka_unit_test(bad_probes),
		cmocka_unit_test(replicas),
		cmocka_unit_test(resources),
		cmocka_unit_test(components_shim),
		cmocka_unit_test(deployment_label),
		cmocka_unit_test(both_runtimes_shim_wins),
		cmocka_unit_test(neither_runtime),
		cmocka_unit_test(missing_deployment_config),
		cmocka_unit_test(long_name),
		cmocka_unit_test(malformed_apps),
		cmocka_unit_test(owner_reference_edges),
		cmocka_unit_test(result_is_independent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
