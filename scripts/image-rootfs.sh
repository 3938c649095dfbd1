#!/usr/bin/env bash
# image-rootfs.sh BINARY DEST: lays out the container image's root filesystem in DEST (which must not exist).
# The one list of what the image holds: scripts/image.sh (make image, umoci) and the Dockerfile's build stage
# both call this script, and tests/unit/image.sh checks the result against its own reading of ldd.
#
#   /spin-operator                           BINARY, stripped (debug info stays out of the image)
#   /manager -> spin-operator                upstream's entrypoint path, so `command: [/manager]` still works
#   /lib64/ld-linux-x86-64.so.2 (etc.)       the program interpreter
#   /lib/<multiarch>/<soname>...             every shared library `ldd BINARY` lists, copied from the host
#   /etc/ssl/certs/ca-certificates.crt       Debian's CA bundle (libcurl's default path: registry TLS)
#   /etc/passwd, /etc/group                  nonroot, 65532:65532 (distroless's name and ids)
#
# Nothing else: no shell, no package database. Owners are whoever runs the script (image.sh records root);
# modes are fixed (0755 directories and executables, 0644 the rest) and, with SOURCE_DATE_EPOCH set, every
# mtime is that time, so the same inputs give the same tree.
set -euo pipefail

bin=${1:?usage: image-rootfs.sh BINARY DEST}
dest=${2:?usage: image-rootfs.sh BINARY DEST}
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

[ -x "$bin" ] || { echo "image-rootfs: $bin: not an executable" >&2; exit 1; }
[ -e "$dest" ] && { echo "image-rootfs: $dest exists; give a new directory" >&2; exit 1; }
[ -r "$ca" ] || { echo "image-rootfs: $ca: missing (apt-get install ca-certificates)" >&2; exit 1; }

# ldd's lines: "libx.so.N => /path/libx.so.N (0x...)", the interpreter as "/lib64/ld-....so.2 (0x...)", and
# linux-vdso (no file). A library ldd cannot find ("=> not found") stops the build.
ldd_out=$(ldd "$bin")
if grep -q 'not found' <<<"$ldd_out"; then
	echo "image-rootfs: ldd $bin: a library is missing:" >&2
	grep 'not found' <<<"$ldd_out" >&2
	exit 1
fi
mapfile -t libs < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$ldd_out" | sort -u)
[ ${#libs[@]} -gt 0 ] || { echo "image-rootfs: ldd $bin lists no libraries (a static build?)" >&2; exit 1; }

mkdir -p "$dest"
trap 'rm -rf "$dest"' ERR
install -d -m 0755 "$dest/etc/ssl/certs"
strip --strip-all -o "$dest/spin-operator" "$bin"
chmod 0755 "$dest/spin-operator"
ln -s spin-operator "$dest/manager"
for lib in "${libs[@]}"; do
	# The path as the loader looks it up, with the content of what it points at (no symlinks in the image).
	install -d -m 0755 "$dest$(dirname "$lib")"
	cp -L "$lib" "$dest$lib"
	case "$lib" in */ld-linux*) chmod 0755 "$dest$lib" ;; *) chmod 0644 "$dest$lib" ;; esac
done
install -m 0644 "$ca" "$dest/etc/ssl/certs/ca-certificates.crt"
printf 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' >"$dest/etc/passwd"
printf 'nonroot:x:65532:\n' >"$dest/etc/group"
chmod 0644 "$dest/etc/passwd" "$dest/etc/group"
chmod 0755 "$dest"
find "$dest" -type d -exec chmod 0755 {} +

if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	find "$dest" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
fi
trap - ERR
