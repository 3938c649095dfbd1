/* libFuzzer target: the watch-stream parser, fed the input in pieces whose sizes come from the input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "operator/kube/watch.h"

static int sink(void *ud, enum kube_event_type type, json_t *obj)
{
	(void)type;
	(void)obj;
	(*(size_t *)ud)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_watch_parser p;
	size_t events = 0;
	if (size == 0)
		return 0;
	/* The first byte picks the chunk size so the fuzzer explores split points too. */
	size_t chunk = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	kube_watch_parser_init(&p, 4096, sink, &events);
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		if (kube_watch_parser_feed(&p, (const char *)data + off, n))
			break;
	}
	kube_watch_parser_free(&p);
	return 0;
}
