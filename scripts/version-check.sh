#!/usr/bin/env bash
# version-check.sh: fails when a file that carries the version disagrees with VERSION, the one version source
# (docs/image.md). scripts/set-version.sh writes them all; this checks them (tests/unit/version.sh runs it).
#
#   VERSION                              x.y.z
#   config/manager/manager.yaml          image: ghcr.io/spinkube/spin-operator-c:vx.y.z
#   charts/spin-operator/Chart.yaml      version: x.y.z, appVersion: vx.y.z (or x.y.z; quoted or not), when
#                                        the chart exists
#   Dockerfile                           ARG VERSION=x.y.z
#
# The binary's --version and the image tag are made from VERSION at build time, so they cannot disagree.
# Prints one line per mismatch and exits 1; 0 and one summary line when all agree.
set -uo pipefail

repo=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
image=ghcr.io/spinkube/spin-operator-c
bad=0
mismatch() {
	echo "version-check: $1" >&2
	bad=1
}

version=$(tr -d ' \n' <"$repo/VERSION" 2>/dev/null) || { echo "version-check: $repo/VERSION: missing" >&2; exit 1; }
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
	echo "version-check: VERSION holds \"$version\", not a semantic version x.y.z" >&2
	exit 1
fi

# The value of a top-level "key: value" line, unquoted ("" when absent).
yaml_top() {
	sed -n "s/^$1:[[:space:]]*//p" "$2" | head -1 | sed -e 's/[[:space:]]*#.*$//' -e 's/^"\(.*\)"$/\1/' \
		-e "s/^'\\(.*\\)'\$/\\1/"
}

manager="$repo/config/manager/manager.yaml"
images=$(grep -E "^[[:space:]]*image:[[:space:]]*$image(:|@|\$)" "$manager" | sed 's/^[[:space:]]*image:[[:space:]]*//')
if [ -z "$images" ]; then
	mismatch "config/manager/manager.yaml: no image: $image:v$version"
fi
while read -r ref; do
	[ -z "$ref" ] || [ "$ref" = "$image:v$version" ] ||
		mismatch "config/manager/manager.yaml: image $ref, want $image:v$version (VERSION $version)"
done <<<"$images"

chart="$repo/charts/spin-operator/Chart.yaml"
if [ -f "$chart" ]; then
	v=$(yaml_top version "$chart")
	[ "$v" = "$version" ] || mismatch "charts/spin-operator/Chart.yaml: version \"$v\", want \"$version\""
	a=$(yaml_top appVersion "$chart")
	[ "$a" = "v$version" ] || [ "$a" = "$version" ] ||
		mismatch "charts/spin-operator/Chart.yaml: appVersion \"$a\", want \"v$version\""
fi

if [ -f "$repo/Dockerfile" ]; then
	d=$(sed -n 's/^ARG VERSION=//p' "$repo/Dockerfile" | head -1)
	[ "$d" = "$version" ] || mismatch "Dockerfile: ARG VERSION=$d, want $version"
fi

[ "$bad" -eq 0 ] || exit 1
echo "version-check: $version everywhere (config/manager$([ -f "$chart" ] && echo ", the chart"), Dockerfile)"
