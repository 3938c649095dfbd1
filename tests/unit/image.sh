#!/usr/bin/env bash
# The container image (scripts/image.sh, docs/image.md), built twice from this checkout without a Docker
# engine: the two manifest digests (and archives) are equal; the config runs as 65532:65532 with the binary
# as entrypoint and the labels from VERSION and git; the layer holds exactly the stripped binary, the
# libraries ldd lists (read here, independently of scripts/image-rootfs.sh), the loader, the CA bundle and
# passwd/group, all owned by root, nothing setuid, no shell; the compressed size is under 15 MiB; the image's
# binary, run with the image's own loader and libraries, prints VERSION. The Dockerfile is checked for what can
# be checked without Docker: it lays out the same tree with the same script and has the same user and
# entrypoint. Needs no cluster; chroot when run as root (CI), the image's loader by path otherwise.
#
#   REPO=$PWD bash tests/unit/image.sh
set -uo pipefail

REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$REPO/tests/lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(tr -d ' \n' <"$REPO/VERSION")
revision=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
bin=$REPO/build/release/bin/spin-operator

command -v umoci >/dev/null || { echo "umoci is missing: make deps installs it"; exit 1; }
# The image is made from the release build, also when the suites run sanitized: build it (a no-op when it is
# up to date). Drop make's variables from the caller (make test SANITIZE=...).
if ! env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -C "$REPO" --no-print-directory SANITIZE= build \
	>"$work/build.log" 2>&1; then
	echo "make build failed:"
	tail -20 "$work/build.log"
	exit 1
fi

for n in a b; do
	if ! "$REPO/scripts/image.sh" "$work/$n" >"$work/$n.log" 2>&1; then
		t_fail "scripts/image.sh ($n) failed"
		sed 's/^/    /' "$work/$n.log" | tail -20
		exit 0
	fi
done
t_ok "scripts/image.sh builds the image twice ($(tail -1 "$work/a.log" | sed -e 's/^image: //' -e 's/, layout .*//'))"

da=$(cat "$work/a/digest")
db=$(cat "$work/b/digest")
[ -n "$da" ] && [ "$da" = "$db" ] && t_ok "two builds give one manifest digest ($da)" ||
	t_fail "two builds give different digests: $da and $db"
cmp -s "$work/a/spin-operator-c.tar" "$work/b/spin-operator-c.tar" &&
	t_ok "... and byte-identical archives" || t_fail "the two archives differ"

L=$work/a/oci
blob() { printf '%s/blobs/sha256/%s' "$L" "${1#sha256:}"; }
t_check "the layout's index names the manifest with the tag v$version" jq -e --arg d "$da" --arg t "v$version" \
	'.manifests | length == 1 and .[0].digest == $d and .[0].annotations["org.opencontainers.image.ref.name"] == $t' \
	"$L/index.json"
manifest=$(blob "$da")
t_check "the manifest's digest is the sha256 of its bytes" \
	test "sha256:$(sha256sum "$manifest" | cut -d' ' -f1)" = "$da"
config=$(blob "$(jq -r .config.digest "$manifest")")
created=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct)}" +%Y-%m-%dT%H:%M:%SZ)
t_check "config: user 65532:65532, entrypoint /spin-operator, no Cmd or Env, created = commit time" \
	jq -e --arg c "$created" '.config.User == "65532:65532" and .config.Entrypoint == ["/spin-operator"]
		and .config.Cmd == null and .config.Env == null and .created == $c and .os == "linux"
		and (.history | length) == 1 and .history[0].created == $c' "$config"
t_check "labels: version $version, revision $revision, source" jq -e --arg v "$version" --arg r "$revision" '
	.config.Labels["org.opencontainers.image.version"] == $v
	and .config.Labels["org.opencontainers.image.revision"] == $r
	and (.config.Labels["org.opencontainers.image.source"] | startswith("https://"))' "$config"
t_check "one layer" jq -e '.layers | length == 1' "$manifest"
size=$(jq '[.config.size, .layers[].size] | add' "$manifest")
[ "$size" -lt $((15 * 1024 * 1024)) ] && t_ok "compressed size $size bytes, under 15 MiB" ||
	t_fail "compressed size $size bytes, 15 MiB or more"

# The layer's entries: path, type, owner, mode.
layer=$(blob "$(jq -r '.layers[0].digest' "$manifest")")
tar -tvzf "$layer" >"$work/listing" 2>/dev/null
tar -tzf "$layer" 2>/dev/null | sed -e 's#^\./##' -e 's#^/##' -e 's#/$##' | grep -v '^$' | sort >"$work/paths"
awk '$1 !~ /^d/' "$work/listing" | awk '{ print $6 }' | sed -e 's#^\./##' -e 's#^/##' | sort >"$work/files"
# What the image must hold: the fixed files and what ldd says the binary loads (resolved by the loader).
{
	printf '%s\n' spin-operator manager etc/passwd etc/group etc/ssl/certs/ca-certificates.crt
	ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sed 's#^/##'
} | sort -u >"$work/want"
if diff -u "$work/want" "$work/files" >"$work/files.diff"; then
	t_ok "the layer holds exactly the binary, /manager, $(($(wc -l <"$work/want") - 6)) libraries and the loader (ldd), the CA bundle, passwd, group"
else
	t_fail "the layer's files differ from the expected list (- expected, + in the image)"
	sed 's/^/    /' "$work/files.diff" | head -30
fi
t_check "no shell: nothing named sh, bash or busybox, no bin/ or usr/bin/" \
	bash -c "! grep -Eq '(^|/)(sh|bash|dash|busybox)\$|^(bin|usr/bin|sbin|usr/sbin)(/|\$)' '$work/paths'"
t_check "every entry owned by 0/0" bash -c "awk '\$2 != \"0/0\"' '$work/listing' | { ! grep -q .; }"
t_check "nothing setuid, setgid or world-writable" \
	bash -c "awk '\$1 !~ /^l/ { print \$1 }' '$work/listing' | { ! grep -Eq '^.{3}[sS]|^.{6}[sS]|^.{8}w'; }"
t_check "/manager is a symlink to spin-operator" grep -Eq '^l.* manager -> spin-operator$' "$work/listing"

# Unpack as a runtime would, then look at the files.
rootless=()
[ "$(id -u)" = 0 ] || rootless=(--rootless)
if umoci unpack "${rootless[@]}" --image "$L:v$version" "$work/bundle" >"$work/unpack.log" 2>&1; then
	t_ok "umoci unpacks the image"
else
	t_fail "umoci unpack failed"
	sed 's/^/    /' "$work/unpack.log" | tail -10
	exit 0
fi
R=$work/bundle/rootfs
t_check "the runtime config runs /spin-operator as uid 65532, gid 65532" jq -e '
	.process.args == ["/spin-operator"] and .process.user.uid == 65532 and .process.user.gid == 65532' \
	"$work/bundle/config.json"
t_check "passwd and group name 65532 nonroot" bash -c \
	"grep -qx 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin' '$R/etc/passwd' && grep -qx 'nonroot:x:65532:' '$R/etc/group'"
t_check "the CA bundle is Debian's" cmp "$R/etc/ssl/certs/ca-certificates.crt" /etc/ssl/certs/ca-certificates.crt
t_check "the image's binary is stripped (no symbols, no debug info)" \
	bash -c "! readelf -S '$R/spin-operator' | grep -Eq '\\.(symtab|debug_info)'"

want="spin-operator $version (revision $revision)"
if [ "$(id -u)" = 0 ]; then
	# Only the image's files, the default library search of the image's loader, as 65532.
	got=$(chroot --userspec=65532:65532 "$R" /spin-operator --version 2>&1)
	how="chroot into the rootfs as 65532"
else
	loader=$(cd "$R" && ls lib64/ld-linux-* 2>/dev/null | head -1)
	got=$("$R/$loader" --inhibit-cache --library-path "$R/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null ||
		echo x86_64-linux-gnu)" "$R/spin-operator" --version 2>&1)
	how="the image's loader and libraries"
fi
[ "$got" = "$want" ] && t_ok "the image's binary prints its version ($how): $got" ||
	t_fail "the image's binary printed \"$got\", want \"$want\" ($how)"
if [ "$(id -u)" = 0 ]; then
	# The subcommands run too (they load every library): verify's usage error, render's help.
	chroot --userspec=65532:65532 "$R" /manager render --help >/dev/null 2>&1 &&
		t_ok "/manager render --help runs in the image" || t_fail "/manager render --help failed in the image"
fi

# The Dockerfile: the same tree from the same script, the same config.
D=$REPO/Dockerfile
final=$(awk '/^FROM /{ n++ } n == 2' "$D")
t_check "Dockerfile: the build stage lays out /rootfs with scripts/image-rootfs.sh" \
	grep -Eq '^[[:space:]]*scripts/image-rootfs.sh build/release/bin/spin-operator /rootfs$|&& scripts/image-rootfs.sh build/release/bin/spin-operator /rootfs$' "$D"
t_check "Dockerfile: the final stage is FROM scratch and copies /rootfs/ alone" bash -c "
	grep -qx 'FROM scratch' <<<\"\$1\" && [ \"\$(grep -c '^COPY' <<<\"\$1\")\" = 1 ] &&
	grep -qx 'COPY --from=build /rootfs/ /' <<<\"\$1\" && ! grep -q '^RUN' <<<\"\$1\"" _ "$final"
user=$(jq -r .config.User "$config")
entry=$(jq -c .config.Entrypoint "$config")
t_check "Dockerfile: USER $user and ENTRYPOINT $entry, as the image" bash -c "
	grep -qx 'USER $user' <<<\"\$1\" && grep -qxF 'ENTRYPOINT $entry' <<<\"\$1\"" _ "$final"
t_check "Dockerfile: the labels image.sh sets" bash -c '
	for l in version revision source; do grep -q "org.opencontainers.image.$l=" <<<"$1" || exit 1; done' _ "$final"
exit 0
