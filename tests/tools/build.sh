#!/usr/bin/env bash
# Builds the test toolchain (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, helm,
# for the image-verification tests cosign, oras, the distribution registry and a test token server, promtool
# for the metrics exposition check, and for the real test node kubelet, kube-proxy, containerd, ctr and
# containerd-shim-runc-v2)
# from the Go modules pinned by the go.mod/go.sum files beside this script.
#
# Binaries are cached outside the clone, keyed by tool version and by a hash of the pinning go.mod/go.sum, in
#   ${SPIN_CACHE:-$HOME/.cache/spin-operator}/tools/<module>-<hash>/
# and linked into <repo>/.tools/bin. A warm cache rebuilds nothing.
# Usage: build.sh [k8s|etcd|kwok|helm|cosign|oras|registry|tokenserver|promtool|gateway-api|node ...]
#   (node = k8s-node + containerd; gateway-api = the Gateway API CRDs, downloaded, not built)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${SPIN_CACHE:-$HOME/.cache/spin-operator}
linkdir="$repo/.tools/bin"
mkdir -p "$linkdir" "$cache/tools"

export GOTOOLCHAIN=local GOFLAGS=-modcacherw CGO_ENABLED=0
# One package at a time per core: the Kubernetes link steps peak at several GiB each.
export GOMAXPROCS=${GOMAXPROCS:-$(nproc)}

K8S_VERSION=v1.36.3
HELM_VERSION=v3.21.4
COSIGN_VERSION=v3.1.2
REGISTRY_VERSION=v3.1.1
CONTAINERD_VERSION=v2.3.7

# module_dir <module>: the cache folder for one wrapper module, named after its pin hash.
module_dir() {
	local sum f files=("$here/$1/go.mod")
	# go.sum may be absent for a module without dependencies; *.go covers the test tools' own sources.
	for f in "$here/$1/go.sum" "$here/$1"/*.go; do [ -f "$f" ] && files+=("$f"); done
	sum=$(cat "${files[@]}" | sha256sum | cut -c1-12)
	echo "$cache/tools/$1-$sum"
}

# build_module <module> <binaries...> -- <go build args...>: builds unless every binary is already cached.
build_module() {
	local mod=$1; shift
	local bins=()
	while [ "$1" != "--" ]; do bins+=("$1"); shift; done
	shift
	local out; out=$(module_dir "$mod")
	local missing=0 b
	for b in "${bins[@]}"; do [ -x "$out/$b" ] || missing=1; done
	if [ "$missing" = 1 ]; then
		echo "tools: building $mod (${bins[*]}) into $out" >&2
		local start=$SECONDS
		mkdir -p "$out.tmp"
		(cd "$here/$mod" && go build -trimpath -o "$out.tmp/" "$@")
		rm -rf "$out" && mv "$out.tmp" "$out"
		echo "tools: $mod built in $((SECONDS - start)) s" >&2
	fi
	for b in "${bins[@]}"; do ln -sfn "$out/$b" "$linkdir/$b"; done
}

k8s_ldflags() {
	local v=${K8S_VERSION#v} pkg x=""
	local major=${v%%.*} rest=${v#*.}
	local minor=${rest%%.*}
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		x+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
		x+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	echo "-s -w$x"
}

build_k8s() {
	build_module k8s kube-apiserver kube-controller-manager kube-scheduler kubectl -- \
		-tags selinux,notest,grpcnotrace -ldflags "$(k8s_ldflags)" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}

# kubelet and kube-proxy come from their own copy of the k8s wrapper module (same pins, plus the go.sum lines
# of their extra packages), so that adding them left the control plane's cache hash, and its 10-minute build,
# untouched. Same tags and version stamp as the control plane.
build_k8s-node() {
	build_module k8s-node kubelet kube-proxy -- \
		-tags selinux,notest,grpcnotrace -ldflags "$(k8s_ldflags)" \
		k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
}

# containerd 2.x (kubelet 1.36 needs it; Debian's 1.6 is too old), static: the tags drop the snapshotters
# that need C libraries, and the man-page generator.
build_containerd() {
	local pkg=github.com/containerd/containerd/v2
	build_module containerd containerd ctr containerd-shim-runc-v2 -- \
		-tags no_btrfs,no_devmapper,no_zfs,urfave_cli_no_docs \
		-ldflags "-s -w -X $pkg/version.Version=$CONTAINERD_VERSION -X $pkg/version.Package=$pkg" \
		$pkg/cmd/containerd $pkg/cmd/ctr $pkg/cmd/containerd-shim-runc-v2
}

build_node() {
	build_k8s-node
	build_containerd
}

build_etcd() {
	# The etcd server module root is package main; -o names the binary (it would be "v3").
	local out; out=$(module_dir etcd)
	if [ ! -x "$out/etcd" ]; then
		echo "tools: building etcd into $out" >&2
		local start=$SECONDS
		mkdir -p "$out.tmp"
		(cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3)
		rm -rf "$out" && mv "$out.tmp" "$out"
		echo "tools: etcd built in $((SECONDS - start)) s" >&2
	fi
	ln -sfn "$out/etcd" "$linkdir/etcd"
}

build_kwok() {
	build_module kwok kwok -- -ldflags "-s -w" sigs.k8s.io/kwok/cmd/kwok
	# kwok v0.8 ships no built-in stages; keep the module's own stage YAML beside the binary.
	local out src; out=$(module_dir kwok)
	src=$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
	if [ ! -f "$out/stages.yaml" ]; then
		local f first=1
		for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
			pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
			[ "$first" = 1 ] || echo "---"
			first=0
			cat "$src/kustomize/stage/$f"
		done > "$out/stages.yaml.tmp"
		mv "$out/stages.yaml.tmp" "$out/stages.yaml"
	fi
	ln -sfn "$out/stages.yaml" "$linkdir/kwok-stages.yaml"
}

build_helm() {
	local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
	build_module helm helm -- -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor" \
		helm.sh/helm/v3/cmd/helm
}

build_cosign() {
	build_module cosign cosign -- -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION \
-X sigs.k8s.io/release-utils/version.gitTreeState=clean -X sigs.k8s.io/release-utils/version.buildDate=1970-01-01T00:00:00Z" \
		github.com/sigstore/cosign/v3/cmd/cosign
}

build_oras() {
	build_module oras oras -- -ldflags "-s -w -X oras.land/oras/internal/version.GitTreeState=clean" \
		oras.land/oras/cmd/oras
}

build_registry() {
	# The binary is named "registry" by its package; keep that name (tests/registry/up.sh runs it).
	build_module registry registry -- -ldflags "-s -w -X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION" \
		github.com/distribution/distribution/v3/cmd/registry
}

build_tokenserver() {
	# Our own test token server (tests/tools/tokenserver/main.go, standard library only). Its cache hash also
	# covers main.go, so an edit rebuilds it.
	local out; out=$(module_dir tokenserver)
	if [ ! -x "$out/tokenserver" ]; then
		echo "tools: building tokenserver into $out" >&2
		mkdir -p "$out.tmp"
		(cd "$here/tokenserver" && go build -trimpath -ldflags "-s -w" -o "$out.tmp/tokenserver" .)
		rm -rf "$out" && mv "$out.tmp" "$out"
	fi
	ln -sfn "$out/tokenserver" "$linkdir/tokenserver"
}

# The Gateway API's standard-channel CRDs (HTTPRoute, Gateway, GatewayClass, ReferenceGrant, ...) for the
# spec.route tests: nothing is built; the YAML of the pinned sigs.k8s.io/gateway-api module (go.mod/go.sum in
# tests/tools/gateway-api) is copied into the cache once and linked as .tools/bin/gateway-api-crds.yaml.
build_gateway-api() {
	local out src f; out=$(module_dir gateway-api)
	if [ ! -f "$out/gateway-api-crds.yaml" ]; then
		echo "tools: fetching the gateway-api module into $out" >&2
		src=$(cd "$here/gateway-api" && go mod download -json sigs.k8s.io/gateway-api | jq -er .Dir)
		mkdir -p "$out.tmp"
		for f in "$src"/config/crd/standard/*.yaml; do
			echo "---"
			cat "$f"
		done > "$out.tmp/gateway-api-crds.yaml"
		rm -rf "$out" && mv "$out.tmp" "$out"
	fi
	ln -sfn "$out/gateway-api-crds.yaml" "$linkdir/gateway-api-crds.yaml"
}

build_promtool() {
	# Prometheus' own validator for `promtool check metrics` (tests/integration/metrics.sh).
	build_module promtool promtool -- -ldflags "-s -w" github.com/prometheus/prometheus/cmd/promtool
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(etcd kwok k8s helm registry oras cosign tokenserver promtool gateway-api node)
start=$SECONDS
for t in "${targets[@]}"; do
	case "$t" in
	k8s|etcd|kwok|helm|cosign|oras|registry|tokenserver|promtool|gateway-api|node|k8s-node|containerd) "build_$t" ;;
	*) echo "tools: unknown target '$t' (k8s, etcd, kwok, helm, cosign, oras, registry, tokenserver, promtool, gateway-api, node)" >&2; exit 2 ;;
	esac
done
echo "tools: ready in $linkdir ($((SECONDS - start)) s)" >&2
