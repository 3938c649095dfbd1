/* libFuzzer target: the streamed List decoder, fed the input in pieces whose sizes come from the input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "operator/kube/listparse.h"

static int sink(void *ud, json_t *item)
{
	(void)item;
	(*(size_t *)ud)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_list_parser p;
	size_t items = 0;
	if (size == 0)
		return 0;
	/* The first byte picks the chunk size so the fuzzer explores split points too. */
	size_t chunk = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	kube_list_parser_init(&p, 4096, sink, &items);
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		if (kube_list_parser_feed(&p, (const char *)data + off, n))
			break;
	}
	(void)kube_list_parser_finish(&p);
	kube_list_parser_free(&p);
	return 0;
}
