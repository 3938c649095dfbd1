/*
 * libFuzzer target: YAML streams → JSON (operator/base/yamljson.c) under its caps, then the writer's round trip: every
 * document written back as YAML must read back as an equal value, or the target aborts. The same bytes are
 * also rendered as manifests (render_run), which drives the object builders with whatever the parser lets
 * through.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "operator/cmd/render.h"
#include "operator/base/buf.h"
#include "operator/base/yamljson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const json_t *doc)
{
	struct buf b = BUF_INIT(YAML_MAX_INPUT);
	json_t *again = NULL;
	char err[256];

	if (yamljson_from_json(doc, &b) == 0) {
		if (yamljson_to_json(b.data, b.len, "emitted", &again, err, sizeof err) != 0) {
			fprintf(stderr, "emitted YAML does not parse: %s\n%s\n", err, b.data);
			abort();
		}
		if (json_array_size(again) != 1 || !json_equal(json_array_get(again, 0), (json_t *)doc)) {
			fprintf(stderr, "round trip differs:\n%s\n", b.data);
			abort();
		}
		json_decref(again);
	}
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *docs = NULL, *doc;
	char err[256];
	size_t i;

	if (yamljson_to_json((const char *)data, size, "fuzz", &docs, err, sizeof err) == 0) {
		json_array_foreach(docs, i, doc)
			round_trip(doc);
		json_decref(docs);

		FILE *in = fmemopen((void *)data, size ? size : 1, "r");
		char *out = NULL, *errs = NULL;
		size_t outlen = 0, errlen = 0;
		FILE *o = open_memstream(&out, &outlen), *e = open_memstream(&errs, &errlen);
		if (in && o && e && size) {
			const char *name = "fuzz";
			render_run(&in, &name, 1, NULL, (size & 1) != 0, o, e);
		}
		if (in)
			fclose(in);
		if (o)
			fclose(o);
		if (e)
			fclose(e);
		free(out);
		free(errs);
	}
	return 0;
}
