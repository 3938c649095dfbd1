#!/usr/bin/env bash
# The layering rule of the daemon's sources (docs/internals/layers.md), checked:
#   1. every quoted #include is spelled from the repository root (one include root: -I.) and names a file;
#   2. a module (foo.c + foo.h) includes only headers of its own folder or of a folder of a lower layer;
#   3. no include cycle between modules (tsort finds it);
#   4. no file name is used twice.
# Prints one line per problem and exits 1 when there is any.   scripts/check-layers.sh [ROOT]
set -uo pipefail
cd "${1:-$(dirname "$0")/..}" || exit 2

# The layers, lowest first; folders on one line are one layer and may not include each other.
LAYERS=(
	"operator/base"
	"operator/kube"
	"operator/runtime"
	"operator/spin"
	"operator/controller webhook/verify webhook/certs"
	"webhook"
	"operator/cmd"
)
declare -A rank
for i in "${!LAYERS[@]}"; do
	for d in ${LAYERS[$i]}; do rank[$d]=$i; done
done

bad=0
problem() { echo "$*"; bad=1; }
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT

while IFS= read -r f; do
	dir=${f%/*}
	[[ -n ${rank[$dir]+x} ]] || { problem "$f: folder $dir is in no layer (scripts/check-layers.sh)"; continue; }
	mod=${f%.*}
	mod=${mod%_internal}; mod=${mod%_int} # a private header belongs to its module
	while IFS= read -r inc; do
		[[ -f $inc ]] || { problem "$f: #include \"$inc\" is not a path from the repository root"; continue; }
		to=${inc%.*}; to=${to%_internal}; to=${to%_int}
		[[ $to == "$mod" ]] && continue
		echo "$mod $to" >>"$edges"
		tdir=${inc%/*}
		[[ $tdir == "$dir" ]] && continue
		if [[ -z ${rank[$tdir]+x} ]]; then
			problem "$f: includes $inc, outside the daemon's layers"
		elif ((rank[$tdir] >= rank[$dir])); then
			problem "$f: includes $inc: $tdir is not below $dir (layer $((rank[$tdir])) vs $((rank[$dir])))"
		fi
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done < <(find operator webhook -name '*.[ch]' | sort)

# tsort reports every loop on stderr ("input contains a loop" followed by the modules on it).
if loop=$(sort -u "$edges" | tsort 2>&1 >/dev/null) && [[ -z $loop ]]; then :; else
	problem "include cycle: $(printf '%s' "$loop" | sed 's/^tsort: //' | tr '\n' ' ')"
fi

dups=$(find operator webhook -name '*.[ch]' -printf '%f\n' | sort | uniq -d)
[[ -z $dups ]] || problem "file names used twice: $(echo $dups)"
exit $bad
