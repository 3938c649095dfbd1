#!/usr/bin/env bash
# Every repository path the documents and the source comments name exists (scripts/check-docrefs.sh, whose
# header lists the rules), and the checker sees each kind of stale reference: run it on the tree, then on
# copies with one breach planted each (a moved file in a note, a short spelling in a C comment, a broken
# Markdown link, a bare file name that is gone, a module with no note), and on copies with things it must let
# pass (URLs, globs, build outputs, upstream's paths, string literals, a history region).
#
#   REPO=$PWD bash tests/unit/docrefs.sh
set -uo pipefail

REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$REPO/tests/lib.sh"
check=$REPO/scripts/check-docrefs.sh

t_check "the documents and comments name only paths that exist" "$check" "$REPO"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One scratch copy of what the checker reads and resolves against; each case edits one file of it and puts the
# file back afterwards (copying the tree per case would cost seconds).
mkdir -p "$work/t"
for d in operator webhook docs tests scripts crds config charts .ci README.md; do
	[ -e "$REPO/$d" ] && cp -r "$REPO/$d" "$work/t/"
done
# edit FILE EDIT...: keeps FILE's text in $work/saved, then runs EDIT in the copy.
edit() {
	local file=$1
	shift
	cp "$work/t/$file" "$work/saved"
	saved_file=$file
	(cd "$work/t" && n=$n eval "$*")
}
restore() { cp "$work/saved" "$work/t/$saved_file"; }
# plant DESCRIPTION EXPECTED-TEXT FILE EDIT...: the checker must fail and name the breach.
plant() {
	local what=$1 want=$2 out
	shift 2
	edit "$@"
	if out=$("$check" "$work/t" "$saved_file" 2>&1); then
		t_fail "$what: not reported"
	elif grep -q -- "$want" <<<"$out"; then
		t_ok "$what: reported"
	else
		t_fail "$what: reported as something else"
		printf '%s\n' "$out" | sed 's/^/    /' | head -5
	fi
	restore
}
# pass DESCRIPTION FILE EDIT...: the checker must still pass.
pass() {
	local what=$1 out
	shift
	edit "$@"
	if out=$("$check" "$work/t" "$saved_file" 2>&1); then
		t_ok "$what: not reported"
	else
		t_fail "$what: reported"
		printf '%s\n' "$out" | sed 's/^/    /' | head -5
	fi
	restore
}
n=docs/internals/ticker.md
plant "a note naming a file that moved" "$n:.*names operator/util/ticker.c, which does not exist" \
	$n 'echo "See \`operator/util/ticker.c\`." >>$n'
plant "a brace pair with one file missing" "names operator/base/buf.{h,cc}" \
	$n 'echo "See \`operator/base/buf.{h,cc}\`." >>$n'
plant "a broken Markdown link" "$n:.*names gone.md, a link" \
	$n 'echo "[gone](gone.md#anchor)" >>$n'
plant "a C comment naming a moved file" "operator/base/buf.c:.*names operator/controller/queue.c" \
	operator/base/buf.c 'echo "/* see operator/controller/queue.c */" >>operator/base/buf.c'
plant "a short spelling in a comment" "operator/base/buf.c:.*names kube/client.c, a short spelling" \
	operator/base/buf.c 'echo "// as kube/client.c does" >>operator/base/buf.c'
plant "a bare file name that is gone" "webhook/offload.c:.*names defer.h, which is no file of ours" \
	webhook/offload.c 'echo "/* (defer.h) */" >>webhook/offload.c'
pass "URLs, Go import paths, globs, placeholders, build outputs, upstream's tree in a note" \
	$n 'printf "%s\n" "https://github.com/spinkube/spin-operator/blob/main/internal/controller/x.go" \
		"sigs.k8s.io/controller-runtime/pkg/webhook/admission and \`k8s.io/client-go/util/workqueue\`" \
		"\`tests/unit/test_<name>.c\`, \`webhook/verify/registry*.c\`, \`tests/tools/…\`, \`operator/base/...\`" \
		"\`build/release/bin/x\`, upstream'"'"'s \`config/crd/bases/\`, a module \`webhook/offload\`, \`foo.c\`" \
		>>$n'
pass "string literals, system and library headers in a C file" \
	operator/base/buf.c 'echo "static const char *s = \"operator/nothing/here.c\"; /* <stdatomic.h>, yaml.h */" \
		>>operator/base/buf.c'
pass "a history region" \
	$n 'printf "%s\n" "<!-- docrefs:off: history -->" "was \`operator/util/ticker.c\`" "<!-- docrefs:on -->" >>$n'
plant "the region ends at docrefs:on" "operator/util/log.c" \
	$n 'printf "%s\n" "<!-- docrefs:off -->" "was \`operator/util/ticker.c\`" "<!-- docrefs:on -->" \
		"\`operator/util/log.c\`" >>$n'
# A new module without a row in docs/internals/README.md's table (the whole copy is checked: rule 5 reads the
# tree, not one file).
echo 'int zzz_new(void) { return 0; }' >"$work/t/operator/base/zzz_new.c"
if out=$("$check" "$work/t" 2>&1); then
	t_fail "a module with no row in the notes' table: not reported"
else
	t_check "a module with no row in the notes' table: reported" \
		grep -q "^operator/base/zzz_new.c: a module with no row" <<<"$out"
fi
rm -f "$work/t/operator/base/zzz_new.c"
exit 0
