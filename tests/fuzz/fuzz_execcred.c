/* libFuzzer target: kube_exec_parse_credential (operator/kube/exec.c) on arbitrary plugin output, for the v1 and
 * v1beta1 API versions. Besides memory safety: a success carries a token or a certificate with its key, and the
 * token is the document's status.token exactly, without control characters; and a failure's message does not
 * depend on the token's text (it ends up in logs): with the token replaced by a marker, the marker is not in it. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/kube/exec.h"
#include "operator/base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const VERSIONS[] = { "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	const char *tok = json_string_value(json_object_get(json_object_get(doc, "status"), "token"));

	for (size_t v = 0; v < 2; v++) {
		struct kube_exec_result r;
		char msg[256] = "";
		int rc = kube_exec_parse_credential((const char *)data, size, VERSIONS[v], &r, msg, sizeof msg);
		if (rc == SO_OK) {
			if (!r.token && !(r.client_cert.len && r.client_key.len))
				abort();
			if (r.token && (!*r.token || !tok || strcmp(r.token, tok) != 0))
				abort();
			for (const char *c = r.token; c && *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					abort();
		} else {
			if (rc != SO_E_BAD_RESPONSE && rc != SO_E_NOMEM)
				abort();
			if (!*msg)
				abort();
			if (r.token || r.client_cert.data || r.client_key.data)
				abort(); /* nothing handed out on failure */
		}
		kube_exec_result_free(&r);
	}
	if (tok) {
		static const char MARKER[] = "marker-ZQXJ-7781";
		struct kube_exec_result r;
		char msg[256] = "";
		char *text;
		if (json_object_set_new(json_object_get(doc, "status"), "token", json_string(MARKER)) ||
		    !(text = json_dumps(doc, JSON_COMPACT)))
			abort();
		if (kube_exec_parse_credential(text, strlen(text), VERSIONS[0], &r, msg, sizeof msg) != SO_OK &&
		    strstr(msg, MARKER))
			abort();
		kube_exec_result_free(&r);
		free(text);
	}
	json_decref(doc);
	return 0;
}
