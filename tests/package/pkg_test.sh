#!/bin/sh
# The package tests (tests/package/CMakeLists.txt): build outside consumers of an installed
# s2mmu. Usage: pkg_test.sh MODE PREFIX SOURCE_DIR WORK_DIR CC LIBDIR
#   pkgconfig     examples/embed compiled with the flags of `pkg-config s2mmu`, linked with
#                 libs2mmu.so (checked: NEEDED libs2mmu.so.1) and run
#   find_package  examples/embed configured on its own with find_package(s2mmu), once with
#                 s2mmu::s2mmu (shared) and once with s2mmu::s2mmu_static, each built and run
#   mk_aarch64    tests/package/mk_consumer: the installed kit's s2mmu.mk cross-built
#                 freestanding for AArch64 and linked without libc
# Exits 77 (CTest SKIP) only when the tool a mode needs is not installed.
set -eu
mode=$1
prefix=$2
src=$3
work=$4
cc=$5
libdir_rel=$6
skip() {
	echo "SKIP: $*"
	exit 77
}
[ -f "$prefix/$libdir_rel/pkgconfig/s2mmu.pc" ] || { echo "no installed s2mmu in $prefix (package.install failed?)"; exit 1; }
rm -rf "$work"
mkdir -p "$work"
case $mode in
pkgconfig)
	command -v pkg-config >/dev/null 2>&1 || skip "pkg-config not installed"
	export PKG_CONFIG_PATH="$prefix/$libdir_rel/pkgconfig"
	pkg-config --exists s2mmu
	echo "pkg-config: s2mmu $(pkg-config --modversion s2mmu): $(pkg-config --cflags --libs s2mmu)"
	libdir=$(pkg-config --variable=libdir s2mmu)
	# shellcheck disable=SC2046
	"$cc" -std=c11 -Wall -Wextra -Wno-unused-parameter -Werror $(pkg-config --cflags s2mmu) \
		"$src/examples/embed/embed.c" "$src/examples/embed/ref_port.c" \
		-I "$src/examples/embed" $(pkg-config --libs s2mmu) -Wl,-rpath,"$libdir" \
		-o "$work/embed"
	if command -v readelf >/dev/null 2>&1; then
		readelf -d "$work/embed" | grep -q 'NEEDED.*\[libs2mmu\.so\.1\]' ||
			{ echo "embed is not linked with libs2mmu.so.1"; readelf -d "$work/embed"; exit 1; }
	fi
	"$work/embed"
	;;
find_package)
	for kind in shared static; do
		flag=OFF
		[ $kind = static ] && flag=ON
		cmake -S "$src/examples/embed" -B "$work/$kind" -DCMAKE_C_COMPILER="$cc" \
			-DCMAKE_PREFIX_PATH="$prefix" -DS2_EMBED_STATIC=$flag >/dev/null
		cmake --build "$work/$kind" >/dev/null
		echo "find_package ($kind):"
		"$work/$kind/s2_embed"
	done
	;;
mk_aarch64)
	command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || skip "aarch64-linux-gnu-gcc not installed"
	command -v make >/dev/null 2>&1 || skip "make not installed"
	make -s -f "$src/tests/package/mk_consumer/Makefile" S2MMU_DIR="$prefix/share/s2mmu" \
		OUT="$work" -j2
	;;
*)
	echo "unknown mode $mode"
	exit 2
	;;
esac
