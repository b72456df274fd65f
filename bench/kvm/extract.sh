#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/kvm/extract.sh VERSION OUT_DIR [TARBALL] - extract Linux KVM's arm64 stage-2 engine
# (arch/arm64/kvm/hyp/pgtable.c and the two headers it includes from arch/arm64/include/asm,
# unchanged) from Debian's linux-source-VERSION tarball into OUT_DIR/src, for the benchmarks
# (bench/README.md, "KVM's engine in the same run"). Nothing is copied into the repository.
#
# TARBALL defaults to $S2_KVM<V>_TARBALL (V = VERSION without dots: S2_KVM612_TARBALL,
# S2_KVM61_TARBALL), else /usr/src/linux-source-VERSION.tar.xz.
#
# Always writes OUT_DIR/status, "key: value" lines:
#   status: ok | unavailable
#   reason: why not (unavailable only)
#   package: linux-source-VERSION      version: its Debian version (dpkg), or "unknown"
#   tarball: the path                  sha256: the tarball's SHA-256
# and exits 0 either way (the benchmarks then run without that engine and say why); exit 2 on
# bad arguments only. The extraction is skipped when OUT_DIR/status already describes the same
# tarball (path, size, modification time) and the sources are there.
set -uo pipefail

ver=${1:-}
out=${2:-}
if [ -z "$ver" ] || [ -z "$out" ] || [ $# -gt 3 ]; then
	echo "usage: extract.sh VERSION OUT_DIR [TARBALL]" >&2
	exit 2
fi
case "$ver" in
*[!0-9.]* | .* | *.) echo "extract.sh: bad version '$ver'" >&2; exit 2 ;;
esac
var="S2_KVM${ver//./}_TARBALL"
tarball=${3:-${!var:-/usr/src/linux-source-$ver.tar.xz}}
pkg=linux-source-$ver
top=linux-source-$ver
files=(arch/arm64/kvm/hyp/pgtable.c arch/arm64/include/asm/kvm_pgtable.h
	arch/arm64/include/asm/stage2_pgtable.h)

mkdir -p "$out" || exit 1
status=$out/status

unavailable() {
	rm -rf "$out/src"
	{
		echo "status: unavailable"
		echo "reason: $1"
		echo "package: $pkg"
		echo "tarball: $tarball"
	} >"$status"
	echo "extract.sh: KVM $ver unavailable: $1" >&2
	exit 0
}

version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) || version=
[ -n "$version" ] || version=unknown
if [ ! -e "$tarball" ]; then
	if [ "$version" = unknown ]; then
		unavailable "$tarball not found (Debian package $pkg not installed)"
	fi
	unavailable "$tarball not found"
fi
[ -f "$tarball" ] && [ -r "$tarball" ] || unavailable "$tarball is not a readable file"
ident="$(stat -c '%s %Y' "$tarball")"

if [ -f "$status" ] && grep -qx "status: ok" "$status" &&
	grep -qxF "tarball: $tarball" "$status" && grep -qxF "ident: $ident" "$status" &&
	[ -f "$out/src/pgtable.c" ] && [ -f "$out/src/asm/kvm_pgtable.h" ] &&
	[ -f "$out/src/asm/stage2_pgtable.h" ]; then
	exit 0
fi

rm -rf "$out/src" "$out/tmp"
mkdir -p "$out/tmp" "$out/src/asm" || exit 1
members=()
for f in "${files[@]}"; do
	members+=("$top/$f")
done
if ! tar -xJf "$tarball" -C "$out/tmp" --occurrence=1 "${members[@]}" 2>"$out/tmp.err"; then
	unavailable "cannot extract ${files[*]} from $tarball: $(head -n1 "$out/tmp.err")"
fi
rm -f "$out/tmp.err"
cp "$out/tmp/$top/${files[0]}" "$out/src/pgtable.c" &&
	cp "$out/tmp/$top/${files[1]}" "$out/src/asm/kvm_pgtable.h" &&
	cp "$out/tmp/$top/${files[2]}" "$out/src/asm/stage2_pgtable.h" ||
	unavailable "files missing from $tarball"
rm -rf "$out/tmp"
sha=$(sha256sum "$tarball" | cut -d' ' -f1) || unavailable "cannot read $tarball"
{
	echo "status: ok"
	echo "package: $pkg"
	echo "version: $version"
	echo "tarball: $tarball"
	echo "sha256: $sha"
	echo "ident: $ident"
	echo "pgtable_c_sha256: $(sha256sum "$out/src/pgtable.c" | cut -d' ' -f1)"
} >"$status"
exit 0
