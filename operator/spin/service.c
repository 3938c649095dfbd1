/*
 * The Service in front of a SpinApp (upstream's constructService), built for every app whatever its executor: port
 * 80 to the pods' "http-app" port, selecting on the ready label only, so an external executor's pods are reachable
 * when they carry that label.
 */
#include <jansson.h>

#include "operator/spin/appmeta.h"
#include "operator/spin/spin.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"

int spin_service(const json_t *app, json_t **out, char *err, size_t errlen)
{
	struct buf ready_key = BUF_INIT(256);
	const char *name, *ns;
	json_t *meta = NULL, *svc = NULL;
	int rc;

	*out = NULL;
	rc = spin_app_identity(app, &name, &ns, err, errlen);
	if (rc == SO_OK)
		rc = spin_ready_label_key(name, &ready_key, err, errlen);
	if (rc == SO_OK)
		rc = spin_child_meta(app, "serviceAnnotations", &meta, err, errlen);
	if (rc != SO_OK)
		goto out;
	/* targetPort is an IntOrString holding the port name, so it is a JSON string. No port name is set. */
	svc = json_pack("{s:s, s:s, s:O, s:{s:s, s:[{s:s, s:i, s:s}], s:{s:s}}}", "apiVersion", "v1", "kind",
			"Service", "metadata", meta, "spec", "type", "ClusterIP", "ports", "protocol", "TCP", "port",
			SPIN_HTTP_PORT, "targetPort", SPIN_HTTP_PORT_NAME, "selector", ready_key.data,
			SPIN_READY_VALUE);
	if (!svc) {
		rc = spin_pack_failed(err, errlen, "Service");
		goto out;
	}
	*out = svc;
out:
	json_decref(meta);
	buf_free(&ready_key);
	return rc;
}
