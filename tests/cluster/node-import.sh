#!/usr/bin/env bash
# Imports a local image into the real test node of CLUSTER_DIR (tests/cluster/node-up.sh), where pods can
# then run it with imagePullPolicy: Never (or IfNotPresent): nothing can be pulled from a registry here.
#
#   tests/cluster/node-import.sh IMAGE.tar NAME
#
# IMAGE.tar is an OCI image layout in a tar (what umoci, tests/node/image.sh or `make image` produce) or a
# `docker save` archive. Each tag "T" of the layout (its org.opencontainers.image.ref.name) becomes the image
# localhost/NAME:T; the script prints the resulting references, one per line, on stdout.
set -euo pipefail

# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/cluster/node-lib.sh
. "$(dirname "$0")/node-lib.sh"

if [ $# -ne 2 ] || [ ! -f "$1" ] || [[ ! $2 =~ ^[a-z0-9]+([._/-][a-z0-9]+)*$ ]]; then
	echo "usage: $0 IMAGE.tar NAME   (NAME: lower-case image name, e.g. spin-operator)" >&2
	exit 2
fi
if ! pid_of node-containerd >/dev/null; then
	node_log "no real node runs for $CLUSTER_DIR (start one: REAL_NODE=1 tests/cluster/up.sh)"
	exit 1
fi
out=$(ctr_node images import --base-name "localhost/$2" "$1" 2>&1) || {
	node_log "importing $1 failed: $out"
	exit 1
}
# An import replaces any earlier image of the same reference, so what now carries the name is what came in.
refs=$(ctr_node images ls -q 2>/dev/null | grep "^localhost/$2:") || {
	node_log "importing $1 gave no image localhost/$2:*: $out"
	exit 1
}
echo "$refs"
