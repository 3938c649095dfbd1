#!/usr/bin/env bash
# The source layout's rule (docs/internals/layers.md) holds, and the checker sees each kind of breach: run
# scripts/check-layers.sh on the tree and on the daemon's objects ($BUILD/obj, from make test-bins), then on
# copies of the tree with one breach planted each (an upward include, an include cycle, a second file of the
# same name, a header spelled from another root, an unprefixed export).
#
#   REPO=$PWD BUILD=build/release bash tests/unit/layers.sh
set -uo pipefail

REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-$REPO/build/release}
. "$REPO/tests/lib.sh"
check=$REPO/scripts/check-layers.sh

t_check "the tree keeps the layering rule (includes)" "$check" "$REPO"
t_check "the objects keep it too (symbols, prefixes)" "$check" --objects "$BUILD" "$REPO"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# plant DESCRIPTION EXPECTED-TEXT EDIT...: a fresh copy of the sources, EDIT run in it, the checker must fail
# and name the breach.
plant() {
	local what=$1 want=$2 out
	shift 2
	rm -rf "$work/t"
	mkdir -p "$work/t"
	cp -r "$REPO/operator" "$REPO/webhook" "$work/t/"
	(cd "$work/t" && eval "$*")
	if out=$("$check" "$work/t" 2>&1); then
		t_fail "$what: not reported"
	elif grep -q -- "$want" <<<"$out"; then
		t_ok "$what: reported"
	else
		t_fail "$what: reported as something else"
		printf '%s\n' "$out" | sed 's/^/    /' | head -5
	fi
}
plant "an upward include (base includes kube)" "is not below operator/base" \
	'echo "#include \"operator/kube/client.h\"" >>operator/base/buf.c'
plant "a sideways include (controller includes the webhook's verifier)" "is not below operator/controller" \
	'echo "#include \"webhook/verify/policy.h\"" >>operator/controller/state.c'
plant "an include cycle inside one folder" "include cycle" \
	'echo "#include \"operator/base/log.h\"" >>operator/base/buf.h; echo "#include \"operator/base/buf.h\"" >>operator/base/log.h'
plant "a file name used twice" "file names used twice" 'cp operator/base/buf.h operator/kube/buf.h'
plant "a header spelled from another root" "not a path from the repository root" \
	'echo "#include \"base/buf.h\"" >>operator/base/log.c'
plant "a folder in no layer" "is in no layer" 'mkdir operator/extra && cp operator/base/buf.c operator/extra/x.c'

# The symbol checks read objects: an object that exports a name outside its prefix, and one that calls up.
mkdir -p "$work/o/obj/operator/base" "$work/s/operator/base"
cp -r "$REPO/operator" "$REPO/webhook" "$work/s/"
cp -r "$BUILD/obj/." "$work/o/obj/"
printf 'int unprefixed_name(void);\nint unprefixed_name(void) { return 0; }\n' >"$work/s/operator/base/strv.c"
cc -c -o "$work/o/obj/operator/base/strv.o" "$work/s/operator/base/strv.c"
if out=$("$check" --objects "$work/o" "$work/s" 2>&1); then
	t_fail "an unprefixed export: not reported"
else
	t_check "an unprefixed export: reported" grep -q "exports unprefixed_name" <<<"$out"
fi
cp "$BUILD/obj/operator/base/strv.o" "$work/o/obj/operator/base/strv.o"
cc -c -o "$work/o/obj/operator/base/ticker_up.o" -x c - <<<'int controller_ready(void *); int ticker_uses_up(void) { return controller_ready(0); }'
ld -r -o "$work/o/obj/operator/base/ticker.o" "$BUILD/obj/operator/base/ticker.o" "$work/o/obj/operator/base/ticker_up.o"
if out=$("$check" --objects "$work/o" "$work/s" 2>&1); then
	t_fail "a call to a higher layer (base calls the controller): not reported"
else
	t_check "a call to a higher layer (base calls the controller): reported" \
		grep -q "operator/base/ticker.c: uses a symbol of operator/controller/controller.c" <<<"$out"
fi
exit 0
