#!/usr/bin/env bash
# Builds a minimal OCI image (an OCI layout in a tar) from local files with umoci, no Docker engine and no
# registry: the images of the real test node (tests/cluster/node-up.sh: the pause image) and of its tests.
#
#   tests/node/image.sh OUT.tar ENTRYPOINT SRC:DEST...
#
# Each SRC file is copied to DEST in an otherwise empty root filesystem (one layer); ENTRYPOINT (a path
# inside the image) becomes the config's entrypoint. The layout's only tag is "latest", so
#   ctr -n k8s.io images import --base-name localhost/<name> OUT.tar
# (what tests/cluster/node-import.sh runs) names it localhost/<name>:latest.
set -euo pipefail

if [ $# -lt 3 ]; then
	echo "usage: $0 OUT.tar ENTRYPOINT SRC:DEST..." >&2
	exit 2
fi
out=$1 entry=$2
shift 2
command -v umoci >/dev/null || { echo "image.sh: umoci missing (run make deps)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs"
for spec in "$@"; do
	src=${spec%%:*} dest=${spec#*:}
	[ -f "$src" ] || { echo "image.sh: $src: no such file" >&2; exit 1; }
	install -D -m 0755 "$src" "$work/rootfs/${dest#/}"
done
umoci init --layout "$work/oci"
umoci new --image "$work/oci:latest"
# insert adds the whole directory as one layer, without unpacking a bundle first.
umoci insert --image "$work/oci:latest" "$work/rootfs" /
umoci config --image "$work/oci:latest" --config.entrypoint "$entry" --config.workingdir /
umoci gc --layout "$work/oci"
tar -C "$work/oci" -cf "$out.tmp" .
mv "$out.tmp" "$out"
