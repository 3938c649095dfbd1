#!/usr/bin/env bash
# The layering rule of the daemon's sources (docs/internals/layers.md), checked:
#   1. every quoted #include is spelled from the repository root (one include root: -I.) and names a file;
#   2. a module (foo.c with foo.h; a private foo_internal.h or foo_int.h belongs to foo) includes only headers
#      of its own folder or of a folder in a lower layer;
#   3. no include cycle between modules;
#   4. no file name is used twice;
# and, given a build folder whose objects are current (make test-bins), the same from the linker's view, which
# also sees a function declared in one module's header and defined in another's file:
#   5. module A uses a symbol module B defines only when B's folder is A's own or a lower layer, and without a
#      cycle;
#   6. every exported name starts with its module's name or its folder's (underscores and case ignored), or
#      with a prefix the PREFIXES table below allows.
# Prints one line per problem and exits 1 when there is any.
#   scripts/check-layers.sh [--objects BUILD] [ROOT]
set -uo pipefail
objs=
if [[ ${1:-} == --objects ]]; then objs=$(cd "$2" && pwd) || exit 2; shift 2; fi
cd "${1:-$(dirname "$0")/..}" || exit 2

# The layers, lowest first; folders on one line are one layer and may not use each other.
LAYERS=(
	"operator/base"
	"operator/kube"
	"operator/runtime"
	"operator/spin"
	"operator/controller webhook/verify webhook/certs"
	"webhook"
	"operator/cmd"
)
# Prefixes besides a module's and its folder's own: module or folder, then the prefixes it may also use.
declare -A PREFIXES=(
	[operator/base/err]="so"          # the status convention every module returns: so_fail, so_strerror
	[operator/controller]="ctl"       # the controller folder's short prefix
)
declare -A rank
for i in "${!LAYERS[@]}"; do
	for d in ${LAYERS[$i]}; do rank[$d]=$i; done
done

bad=0
problem() { echo "$*"; bad=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# below FROM TO: 0 when module TO may be used by module FROM.
below() {
	local a=${1%/*} b=${2%/*}
	[[ $a == "$b" ]] && return 0
	[[ -n ${rank[$b]+x} && -n ${rank[$a]+x} ]] && ((rank[$b] < rank[$a]))
}

cycles() { # edges file, what
	local loop
	loop=$(sort -u "$1" | tsort 2>&1 >/dev/null | grep -v 'input contains a loop' | sed 's/^tsort: //' | tr '\n' ' ')
	[[ -z $loop ]] || problem "$2 cycle through: $loop"
}

while IFS= read -r f; do
	dir=${f%/*}
	[[ -n ${rank[$dir]+x} ]] || { problem "$f: folder $dir is in no layer (scripts/check-layers.sh)"; continue; }
	mod=${f%.*}; mod=${mod%_internal}; mod=${mod%_int}
	while IFS= read -r inc; do
		[[ -f $inc ]] || { problem "$f: #include \"$inc\" is not a path from the repository root"; continue; }
		to=${inc%.*}; to=${to%_internal}; to=${to%_int}
		[[ $to == "$mod" ]] && continue
		echo "$mod $to" >>"$tmp/inc"
		below "$mod" "$to" || problem "$f: includes $inc: ${to%/*} is not below $dir"
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done < <(find operator webhook -name '*.[ch]' | sort)
touch "$tmp/inc"
cycles "$tmp/inc" include

dups=$(find operator webhook -name '*.[ch]' -printf '%f\n' | sort | uniq -d)
[[ -z $dups ]] || problem "file names used twice: $(echo $dups)"

if [[ -n $objs ]]; then
	: >"$tmp/def"
	: >"$tmp/use"
	while IFS= read -r f; do
		o=$objs/obj/${f%.c}.o m=${f%.c}
		[[ -f $o ]] || { problem "$o: missing (make test-bins first)"; continue; }
		# ASan adds an __odr_asan.<global> marker per exported global: not an export of ours.
		nm -g --defined-only "$o" | awk -v m="$m" 'NF == 3 && $3 !~ /^__odr_asan/ {print $3, m}' >>"$tmp/def"
		nm -u "$o" | awk -v m="$m" '{print $2, m}' >>"$tmp/use"
	done < <(find operator webhook -name '*.c' | sort)
	sort -k1,1 "$tmp/def" >"$tmp/def.s"
	sort -k1,1 "$tmp/use" >"$tmp/use.s"
	join "$tmp/use.s" "$tmp/def.s" | awk '$2 != $3 {print $2, $3}' | sort -u >"$tmp/sym"
	while read -r from to; do
		below "$from" "$to" || problem "$from.c: uses a symbol of $to.c: ${to%/*} is not below ${from%/*}"
	done <"$tmp/sym"
	cycles "$tmp/sym" "symbol"
	for k in "${!PREFIXES[@]}"; do echo "$k ${PREFIXES[$k]}"; done >"$tmp/aliases"
	awk 'function norm(s) { s = tolower(s); gsub(/_/, "", s); return s }
	     FNR == NR { alias[$1] = $2; next }
	     # names that start with __ belong to the compiler or a sanitizer (__asan_*, __ubsan_*), not to us
	     { sym = $1; m = $2; if (sym ~ /^__/) next
	       dir = m; sub(/\/[^\/]*$/, "", dir)
	       n = split(m, p, "/"); mod = p[n]; n = split(dir, p, "/"); folder = p[n]
	       cand = mod " " folder " " alias[m] " " alias[dir]
	       k = split(cand, c, " "); ok = 0
	       for (i = 1; i <= k; i++) if (c[i] != "" && index(norm(sym), norm(c[i])) == 1) ok = 1
	       if (!ok) printf "%s.c: exports %s, outside its module\047s prefix (%s_ or %s_)\n", m, sym, mod, folder }' \
		"$tmp/aliases" "$tmp/def.s" >"$tmp/prefix"
	[[ -s $tmp/prefix ]] && { cat "$tmp/prefix"; bad=1; }
fi
exit $bad
