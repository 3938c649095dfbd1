#!/usr/bin/env bash
# The image-verification benchmark (issue 5 §6), run by `make bench` after the reconciler benchmark (run.sh);
# never part of `make test`. No cluster: the verifier and registry client run in-process.
#
#   1. bench_verify (verify-core's): against an in-process fake registry over plain HTTP.
#   2. bench_verify_registry: against REAL registries on 127.0.0.1 over TLS (distribution v3.1.1 from
#      tests/registry/up.sh, anonymous and Bearer-token), with artifacts signed by the real cosign v3.1.2
#      (tests/verify/fixtures.sh): signed-classic (.sig) and signed-bundle (v3 bundle via the referrers
#      fallback tag; the registry has no referrers API), and on the token registry private (classic).
#
#   BENCH_VERIFY_CACHED=20000    cached verifications per image
#   BENCH_VERIFY_UNCACHED=30     uncached verifications per image (each by a new verifier)
#
# Prints key=value figures and a summary; exits non-zero only when the benchmark could not run. Targets
# (reported, never enforced): cached p99 <= 1 ms; <= 4 round trips for an uncached classic verification.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build/release}
case "$BUILD" in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
CACHED=${BENCH_VERIFY_CACHED:-20000}
UNCACHED=${BENCH_VERIFY_UNCACHED:-30}
OUT="$BUILD/bench"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

die() {
	echo "bench-verify: cannot run: $*" >&2
	exit 1
}
say() { echo "bench-verify: $*" >&2; }

for b in bench_verify bench_verify_registry; do
	[ -x "$BUILD/tests/bench/$b" ] || die "$BUILD/tests/bench/$b is missing (make bench builds it)"
done
mkdir -p "$OUT"
work=$(mktemp -d "$OUT/verify.XXXXXX")
regs=("$work/reg-public" "$work/reg-token")
cleanup() {
	local r
	for r in "${regs[@]}"; do
		REGISTRY_DIR=$r "$REPO/tests/registry/down.sh" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

say "in-process fake registry (bench_verify)"
"$BUILD/tests/bench/bench_verify" -n "$CACHED" | sed 's/^/fake./' | tee "$work/fake.txt"

say "real registries on 127.0.0.1 (distribution v3.1.1, TLS) with cosign-signed fixtures"
REGISTRY_DIR=${regs[0]} REGISTRY_AUTH=none REGISTRY_CA_DIR=$work/ca "$REPO/tests/registry/up.sh" >"$work/up0.log" 2>&1 ||
	die "registry: $(tail -3 "$work/up0.log")"
REGISTRY_DIR=${regs[1]} REGISTRY_AUTH=token REGISTRY_CA_DIR=$work/ca "$REPO/tests/registry/up.sh" >"$work/up1.log" 2>&1 ||
	die "token registry: $(tail -3 "$work/up1.log")"
KEYS_DIR=$work/keys "$REPO/tests/verify/fixtures.sh" "${regs[0]}" "$work/fx" public >"$work/fx.log" 2>&1 ||
	die "fixtures: $(tail -3 "$work/fx.log")"
KEYS_DIR=$work/keys "$REPO/tests/verify/fixtures.sh" "${regs[1]}" "$work/fxp" private >"$work/fxp.log" 2>&1 ||
	die "private fixtures: $(tail -3 "$work/fxp.log")"
# shellcheck source=/dev/null
. "$work/fx/fixtures.env"
PRIVATE=$(. "$work/fxp/fixtures.env" && echo "$FX_PRIVATE")
cat >"$work/policy.yaml" <<EOF
rules:
- name: bench
  images: ["127.0.0.1:*/**"]
  keys:
  - name: release
    publicKeyFile: $FX_TRUSTED_PUB
EOF
{ cat "$work/policy.yaml"; echo "cacheTTL: 0"; } >"$work/policy-nocache.yaml"
"$BUILD/tests/bench/bench_verify_registry" -p "$work/policy.yaml" -q "$work/policy-nocache.yaml" -c "$work/ca/ca.crt" \
	-n "$CACHED" -u "$UNCACHED" \
	"$FX_SIGNED_CLASSIC" "$FX_SIGNED_BUNDLE" | sed 's/^/real./' | tee "$work/real.txt"
(
	. "${regs[1]}/env"
	"$BUILD/tests/bench/bench_verify_registry" -p "$work/policy.yaml" -q "$work/policy-nocache.yaml" \
		-c "$work/ca/ca.crt" -U "$REGISTRY_USER" -P "$REGISTRY_PASSWORD" -n "$CACHED" -u "$UNCACHED" "$PRIVATE"
) | sed 's/^/real-token./' | tee -a "$work/real.txt"

get() { sed -n "s/^$1=//p" "$work/real.txt" "$work/fake.txt" | head -1; }
cat "$work/fake.txt" "$work/real.txt" >"$OUT/verify.txt"
row() { # row <label> <prefix>
	printf '  %-26s %5s %9s   %5s   %8s / %-8s   %5s / %5s / %s\n' "$1" "$(get "$2.first_requests")" \
		"$(get "$2.first_ms")" "$(get "$2.uncached_requests")" "$(get "$2.uncached_p50_ms")" \
		"$(get "$2.uncached_p99_ms")" "$(get "$2.cached_p50_us")" "$(get "$2.cached_p99_us")" "$(get "$2.cached_max_us")"
}
echo
echo "image verification on loopback ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
echo "                             cold start       uncached (steady state)       cached"
echo "                             req.      ms    req.   p50 / p99 ms            p50 / p99 / max us"
row "classic, anonymous" real.signed-classic
row "v3 bundle, anonymous" real.signed-bundle
row "classic, Bearer token" real-token.private
printf '  %-26s %5s %9s   %5s   %8s / %-8s   %5s / %5s / %s\n' "classic, in-process fake" \
	"$(get fake.uncached_classic_requests_first)" "" "$(get fake.uncached_classic_requests)" "$(get fake.uncached_p50_ms)" \
	"$(get fake.uncached_p99_ms)" "$(get fake.cached_p50_us)" "$(get fake.cached_p99_us)" "$(get fake.cached_max_us)"
echo "targets: cached p99 <= 1000 us; uncached classic <= 4 round trips. Figures in $OUT/verify.txt."
