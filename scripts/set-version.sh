#!/usr/bin/env bash
# set-version.sh x.y.z: stamps a version into every file that carries it (make set-version V=x.y.z):
# VERSION, config/manager/manager.yaml's image tag, charts/spin-operator/Chart.yaml's version and appVersion
# (when the chart exists; appVersion keeps its form, "vx.y.z" or "x.y.z"), the Dockerfile's ARG VERSION.
# Then runs scripts/version-check.sh. The binary and the image take theirs from VERSION when built.
set -euo pipefail

repo=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
v=${1:-}
image=ghcr.io/spinkube/spin-operator-c
if ! [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
	echo "usage: scripts/set-version.sh x.y.z   (make set-version V=x.y.z); got \"$v\"" >&2
	exit 2
fi

printf '%s\n' "$v" >"$repo/VERSION"
sed -i -E "s#^([[:space:]]*image:[[:space:]]*$image)(:[^[:space:]]*)?([[:space:]]*)\$#\\1:v$v\\3#" \
	"$repo/config/manager/manager.yaml"
chart="$repo/charts/spin-operator/Chart.yaml"
if [ -f "$chart" ]; then
	sed -i -E -e "s/^version:.*/version: $v/" \
		-e "s/^appVersion:([[:space:]]*)([\"']?)v[^\"'[:space:]]*([\"']?)/appVersion:\\1\\2v$v\\3/" \
		-e "s/^appVersion:([[:space:]]*)([\"']?)[0-9][^\"'[:space:]]*([\"']?)/appVersion:\\1\\2$v\\3/" "$chart"
fi
[ -f "$repo/Dockerfile" ] && sed -i -E "s/^ARG VERSION=.*/ARG VERSION=$v/" "$repo/Dockerfile"
REPO="$repo" "$repo/scripts/version-check.sh"
