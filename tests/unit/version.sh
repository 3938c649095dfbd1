#!/usr/bin/env bash
# One version source (docs/image.md): VERSION stamps --version, config/manager's image tag, the chart and the
# Dockerfile. Checks that the repository agrees with itself (scripts/version-check.sh), that the check catches
# each kind of disagreement, that scripts/set-version.sh stamps every file so that the check then passes, and
# that the binary prints VERSION and the git revision. Needs no cluster.
#
#   REPO=$PWD OPERATOR=$PWD/build/release/bin/spin-operator bash tests/unit/version.sh
set -uo pipefail

REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
OPERATOR=${OPERATOR:-$REPO/build/release/bin/spin-operator}
. "$REPO/tests/lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(tr -d ' \n' <"$REPO/VERSION")

t_check "VERSION is x.y.z ($version)" grep -Eqx '[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?' "$REPO/VERSION"
t_check "the repository agrees with VERSION (scripts/version-check.sh)" "$REPO/scripts/version-check.sh"

revision=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
got=$("$OPERATOR" --version 2>&1)
if [ "$got" = "spin-operator $version (revision $revision)" ]; then
	t_ok "--version prints VERSION and the git revision ($got)"
else
	t_fail "--version prints \"$got\", want \"spin-operator $version (revision $revision)\""
fi

# A scratch copy of the files that carry the version, with a chart like upstream's (appVersion "v...").
fresh() {
	rm -rf "$work/r"
	mkdir -p "$work/r/config/manager" "$work/r/charts/spin-operator" "$work/r/scripts"
	cp "$REPO/VERSION" "$REPO/Dockerfile" "$work/r/"
	cp "$REPO/config/manager/manager.yaml" "$work/r/config/manager/"
	cp "$REPO/scripts/version-check.sh" "$REPO/scripts/set-version.sh" "$work/r/scripts/"
	printf 'apiVersion: v2\nname: spin-operator\ntype: application\nversion: %s\nappVersion: "v%s"\n' \
		"$version" "$version" >"$work/r/charts/spin-operator/Chart.yaml"
}
check() { REPO="$work/r" "$work/r/scripts/version-check.sh"; }
# expect_error <what> <message fragment>: the check fails and names the file and the wrong value.
expect_error() {
	local out
	if out=$(check 2>&1); then
		t_fail "$1: the check passed"
	elif grep -qF -- "$2" <<<"$out"; then
		t_ok "$1"
	else
		t_fail "$1: message \"$out\" lacks \"$2\""
	fi
}

fresh
t_check "a chart at VERSION passes" check
sed -i 's/^appVersion:.*/appVersion: '"$version"'/' "$work/r/charts/spin-operator/Chart.yaml"
t_check "appVersion without the v passes too" check

fresh
sed -i "s#spin-operator-c:v$version#spin-operator-c:latest#" "$work/r/config/manager/manager.yaml"
expect_error "config/manager with :latest fails" "config/manager/manager.yaml: image ghcr.io/spinkube/spin-operator-c:latest"

fresh
sed -i 's/^version:.*/version: 9.9.9/' "$work/r/charts/spin-operator/Chart.yaml"
expect_error "a Chart.yaml version other than VERSION fails" 'Chart.yaml: version "9.9.9"'

fresh
sed -i 's/^appVersion:.*/appVersion: "v9.9.9"/' "$work/r/charts/spin-operator/Chart.yaml"
expect_error "a Chart.yaml appVersion other than VERSION fails" 'Chart.yaml: appVersion "v9.9.9"'

fresh
sed -i 's/^ARG VERSION=.*/ARG VERSION=9.9.9/' "$work/r/Dockerfile"
expect_error "a Dockerfile ARG VERSION other than VERSION fails" "Dockerfile: ARG VERSION=9.9.9"

fresh
echo "1.2" >"$work/r/VERSION"
expect_error "a VERSION that is not x.y.z fails" 'not a semantic version'

fresh
if REPO="$work/r" "$work/r/scripts/set-version.sh" 1.2.3 >/dev/null 2>&1 && check >/dev/null 2>&1 &&
	[ "$(cat "$work/r/VERSION")" = 1.2.3 ] &&
	grep -qx '        image: ghcr.io/spinkube/spin-operator-c:v1.2.3' "$work/r/config/manager/manager.yaml" &&
	grep -qx 'version: 1.2.3' "$work/r/charts/spin-operator/Chart.yaml" &&
	grep -qx 'appVersion: "v1.2.3"' "$work/r/charts/spin-operator/Chart.yaml" &&
	grep -qx 'ARG VERSION=1.2.3' "$work/r/Dockerfile"; then
	t_ok "set-version 1.2.3 stamps VERSION, config/manager, Chart.yaml and the Dockerfile"
else
	t_fail "set-version 1.2.3 did not stamp every file"
	(cd "$work/r" && grep -rn '1\.2\.3\|version\|image:' VERSION Dockerfile config charts | head -20 | sed 's/^/    /')
fi
# Only those lines changed: the rest of manager.yaml is as it was.
diff <(sed 's/spin-operator-c:v[0-9.]*/X/' "$REPO/config/manager/manager.yaml") \
	<(sed 's/spin-operator-c:v[0-9.]*/X/' "$work/r/config/manager/manager.yaml") >/dev/null &&
	t_ok "set-version changes nothing else in manager.yaml" || t_fail "set-version changed more of manager.yaml"

fresh
rm -rf "$work/r/charts"
REPO="$work/r" "$work/r/scripts/set-version.sh" 2.0.0 >/dev/null 2>&1 && check >/dev/null 2>&1 &&
	t_ok "set-version works without a chart" || t_fail "set-version without a chart failed"
t_check_fails "set-version refuses a version that is not x.y.z" env REPO="$work/r" "$work/r/scripts/set-version.sh" v2
t_check "... and leaves VERSION alone" grep -qx 2.0.0 "$work/r/VERSION"

exit 0
