#!/usr/bin/env bash
# image.sh: builds the operator's container image without a Docker engine (make image; docs/image.md).
#
#   scripts/image.sh [OUT]     OUT defaults to build/image
#
# Input: BIN (default build/release/bin/spin-operator, which make image builds first). Output in OUT:
#   oci/                         an OCI image layout (umoci), tag v<VERSION>
#   spin-operator-c.tar          the same layout as one tar, for `ctr -n k8s.io images import` and skopeo
#   digest                       the manifest digest (sha256:...)
#
# One layer from scripts/image-rootfs.sh (the one list of files), the config set with umoci's flags (user
# 65532:65532, entrypoint /spin-operator, OCI labels). Reproducible: SOURCE_DATE_EPOCH defaults to the commit
# time of HEAD and fixes every mtime, the created time and the one history entry; umoci writes tar entries in
# lexical order, so two builds of one commit give one manifest digest (tests/unit/image.sh).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/build/image}
bin=${BIN:-$repo/build/release/bin/spin-operator}
name=${IMAGE_NAME:-ghcr.io/spinkube/spin-operator-c}
version=$(tr -d ' \n' <"$repo/VERSION")
tag="v$version"
revision=${GIT_REVISION:-$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)}
source_url=${IMAGE_SOURCE:-https://github.com/spinkube/spin-operator-c}
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

command -v umoci >/dev/null || { echo "image: umoci is missing (make deps installs it)" >&2; exit 1; }
[ -x "$bin" ] || { echo "image: $bin: not built (make build)" >&2; exit 1; }
case "$version" in
[0-9]*.[0-9]*.[0-9]*) ;;
*) echo "image: VERSION holds \"$version\", not x.y.z" >&2; exit 1 ;;
esac
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)

rootless=()
[ "$(id -u)" = 0 ] || rootless=(--rootless)

work="$out.work"
rm -rf "$work" "$out"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

"$repo/scripts/image-rootfs.sh" "$bin" "$work/rootfs"

layout="$work/oci"
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
# One layer: the whole tree at /. Without root, --rootless records the files as owned by 0:0 all the same.
# Its history entry is fixed text and time (a layer without one confuses `docker history` and others).
umoci insert "${rootless[@]}" --image "$layout:$tag" \
	--history.created "$created" --history.created_by "scripts/image-rootfs.sh" \
	--history.comment "spin-operator $version" "$work/rootfs" /
umoci config --no-history --image "$layout:$tag" \
	--created "$created" --author "" --os linux --architecture "$arch" \
	--config.user 65532:65532 \
	--config.entrypoint /spin-operator \
	--config.workingdir / \
	--config.label "org.opencontainers.image.title=spin-operator" \
	--config.label "org.opencontainers.image.version=$version" \
	--config.label "org.opencontainers.image.revision=$revision" \
	--config.label "org.opencontainers.image.source=$source_url" \
	--config.label "org.opencontainers.image.created=$created" \
	--manifest.annotation "org.opencontainers.image.version=$version" \
	--manifest.annotation "org.opencontainers.image.revision=$revision" \
	--manifest.annotation "org.opencontainers.image.created=$created"
# The blobs of the steps before (the empty image, the config before umoci config) are unreferenced now.
umoci gc --layout "$layout"

digest=$(jq -r --arg tag "$tag" \
	'.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $tag) | .digest' \
	"$layout/index.json")
[ -n "$digest" ] || { echo "image: no manifest tagged $tag in $layout/index.json" >&2; exit 1; }

# The archive: the layout's files in name order, fixed owner and time, so that it is reproducible too.
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
	-C "$layout" -cf "$work/spin-operator-c.tar" oci-layout index.json blobs
printf '%s\n' "$digest" >"$work/digest"
rm -rf "$work/rootfs"
mv "$work" "$out"
trap - EXIT

# The compressed size: what a registry stores and a node pulls (the blobs the manifest names).
manifest="$out/oci/blobs/sha256/${digest#sha256:}"
size=$(jq '[.config.size, .layers[].size] | add' "$manifest")
printf 'image: %s:%s  %s  %s bytes compressed (%.1f MiB), layout %s\n' "$name" "$tag" "$digest" "$size" \
	"$(awk -v s="$size" 'BEGIN { print s / 1048576 }')" "$out/oci"
