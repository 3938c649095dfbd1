/* libFuzzer target: kubeconfig parsing and resolution (YAML → model → struct kube_config), with and without a
 * context override. Relative file references resolve under a directory that does not exist. */
#include <stddef.h>
#include <stdint.h>

#include "operator/kube/config.h"
#include "operator/kube/kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_config cfg;
	char err[256];

	kube_config_parse_kubeconfig((const char *)data, size, "fuzz", "/nonexistent-fuzz-base", NULL, &cfg, err,
				     sizeof err);
	kube_config_free(&cfg);
	kube_config_parse_kubeconfig((const char *)data, size, "fuzz", NULL, "dev", &cfg, err, sizeof err);
	kube_config_free(&cfg);
	return 0;
}
