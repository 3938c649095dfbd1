// The Gateway API's CRDs (standard channel) for the spec.route tests (tests/integration/route.sh): not built,
// only downloaded; tests/tools/build.sh copies config/crd/standard/ out of the module into the tool cache.
module spin-operator/tests/tools/gateway-api

go 1.26.0

require sigs.k8s.io/gateway-api v1.4.1
