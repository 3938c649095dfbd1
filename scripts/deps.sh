#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need, only when one is missing.
# Idempotent: a machine that has them all runs no apt command at all.
#   scripts/deps.sh          what make build, make test and make demo need
#   scripts/deps.sh bench    that, plus what make bench needs (wrk, the webhook benchmark's load generator)
#   scripts/deps.sh build    only what make build needs (the Dockerfile's build stage)
set -euo pipefail

build_pkgs=(
	build-essential pkg-config
	libcurl4-openssl-dev libjansson-dev libyaml-dev libssl-dev libmicrohttpd-dev libgnutls28-dev zlib1g-dev
	ca-certificates # the CA bundle embedded in the binary and copied into the image
)
pkgs=(
	"${build_pkgs[@]}"
	libcmocka-dev
	clang libclang-rt-14-dev llvm
	openssl curl jq procps iproute2
	apache2-utils # htpasswd -B (bcrypt) for the Basic-auth test registry, tests/registry/up.sh
	umoci         # make image: the OCI image without a Docker engine (scripts/image.sh), and the real node's images
	# The real test node (tests/cluster/node-up.sh): the OCI runtime, the CNI plugins (bridge, host-local),
	# iptables for kube-proxy.
	runc containernetworking-plugins iptables
)
case "${1:-}" in
bench) pkgs+=(wrk) ;;
build) pkgs=("${build_pkgs[@]}") ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
