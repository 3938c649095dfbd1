/*
 * libFuzzer target: admission_handle on arbitrary bytes, for each of the four endpoints, with a fake cluster.
 * Besides memory safety it checks what every answer must satisfy:
 *   - the handler answers (SO_OK) with HTTP 200 or 400; a 400 is one line of text;
 *   - a 200 is one line of JSON, an AdmissionReview whose response echoes request.uid and has a status code;
 *   - a defaulting patch decodes (base64, JSON Patch), applies to request.object, and leaves spec.executor set.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "webhook/admission.h"
#include "webhook/admission_ctx.h"
#include "webhook/jsonpatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_list(void *user, const char *ns, json_t *names, char *msg, size_t msglen)
{
	(void)user;
	if (strcmp(ns, "fail") == 0) {
		snprintf(msg, msglen, "listing failed");
		return SO_E_API_UNAVAILABLE;
	}
	if (strcmp(ns, "empty") != 0) {
		json_array_append_new(names, json_string("zeta"));
		json_array_append_new(names, json_string("containerd-shim-spin"));
		json_array_append_new(names, json_string(ns));
	}
	return SO_OK;
}

static int fake_get(void *user, const char *ns, const char *name, json_t **out)
{
	(void)user;
	(void)ns;
	if (strcmp(name, "missing") == 0)
		return SO_E_API_NOT_FOUND;
	if (strcmp(name, "cyclotron") == 0)
		*out = json_pack("{s:{s:s}, s:{s:b}}", "metadata", "name", name, "spec", "createDeployment", 0);
	else
		*out = json_pack("{s:{s:s}, s:{s:b, s:{s:s}}}", "metadata", "name", name, "spec", "createDeployment", 1,
				 "deploymentConfig", "runtimeClassName", "wasmtime-spin-v2");
	return *out ? SO_OK : SO_E_NOMEM;
}

static unsigned char *b64_decode(const char *s, size_t *outlen)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), o = 0;
	unsigned char *out;

	if (n % 4 != 0 || !(out = malloc(n + 1)))
		abort();
	for (size_t i = 0; i < n; i += 4) {
		unsigned w = 0;
		for (int k = 0; k < 4; k++) {
			const char *p = s[i + k] == '=' ? tab : strchr(tab, s[i + k]);
			if (!p || !s[i + k])
				abort();
			w = w << 6 | (unsigned)(p - tab);
		}
		out[o++] = (unsigned char)(w >> 16);
		if (s[i + 2] != '=')
			out[o++] = (unsigned char)(w >> 8);
		if (s[i + 3] != '=')
			out[o++] = (unsigned char)w;
	}
	*outlen = o;
	return out;
}

static void check_answer(enum admission_endpoint ep, const json_t *req, const struct buf *out, int http)
{
	json_t *resp, *response, *ops, *obj;
	const char *patch;
	unsigned char *raw;
	size_t rawlen;

	if (!out->data || out->len == 0 || out->data[out->len - 1] != '\n' || memchr(out->data, '\n', out->len - 1))
		abort();
	if (http == 400)
		return;
	if (http != 200)
		abort();
	resp = json_loadb(out->data, out->len, 0, NULL);
	response = json_object_get(resp, "response");
	if (!resp || !json_is_object(response) || !json_is_boolean(json_object_get(response, "allowed")) ||
	    !json_is_integer(json_object_get(json_object_get(response, "status"), "code")))
		abort();
	if (!req || !json_equal(json_object_get(response, "uid"), json_object_get(req, "uid")))
		abort();
	patch = json_string_value(json_object_get(response, "patch"));
	if (patch) {
		if (ep != MUTATE_SPINAPP)
			abort();
		raw = b64_decode(patch, &rawlen);
		ops = json_loadb((const char *)raw, rawlen, 0, NULL);
		obj = json_deep_copy(json_object_get(req, "object"));
		if (!ops || !obj || jsonpatch_apply(obj, ops) != SO_OK)
			abort();
		if (!json_string_length(json_object_get(json_object_get(obj, "spec"), "executor")))
			abort();
		json_decref(obj);
		json_decref(ops);
		free(raw);
	}
	json_decref(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum admission_endpoint eps[] = { MUTATE_SPINAPP, VALIDATE_SPINAPP, MUTATE_EXECUTOR,
						       VALIDATE_EXECUTOR };
	json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	const json_t *req = json_object_get(doc, "request");

	for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
		for (unsigned flags = 0; flags < 2; flags++) {
			struct admission_ctx ctx = { .endpoint = eps[i], .list_executors = fake_list,
						     .get_executor = fake_get, .flags = flags };
			struct buf out = BUF_INIT(ADMISSION_RESPONSE_CAP);
			int http = 0, rc = admission_handle((const char *)data, size, &ctx, &out, &http);
			if (rc != SO_OK)
				abort();
			check_answer(eps[i], req, &out, http);
			buf_free(&out);
		}
	}
	json_decref(doc);
	return 0;
}
