#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tools/linux-guest/ctest.sh - the CTest side of the Linux-guest tests (label linux).
#   ctest.sh prepare BUILD_DIR       fetch the Debian packages and build target s2_linux_guest
#   ctest.sh run BUILD_DIR ARGS...   boot the Debian kernel with tools/linux-guest/run.sh ARGS
#                                    (--require-report: the guest must report success)
#   ctest.sh stall BUILD_DIR         run.sh's stall watchdog: a "kernel" that spins at its entry
#                                    without a word must fail within seconds, with the CPUs'
#                                    registers (the guest's PC at its entry, EL1h)
# Exit status 77 (CTest SKIP_RETURN_CODE) only when the Debian archive cannot be reached.
set -u
here=$(cd "$(dirname "$0")" && pwd)
mode=${1:?usage: ctest.sh prepare|run BUILD_DIR [ARGS...]}
build=${2:?BUILD_DIR}
shift 2
lg=$build/linux-guest

sh "$here/fetch.sh" "$lg"
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || exit 1

case $mode in
prepare)
	exec cmake --build "$build" --target s2_linux_guest
	;;
run)
	exec sh "$here/run.sh" --hyp "$lg/hyp.elf" --kernel "$lg/Image" \
		--initrd "$lg/initramfs.cpio" --require-report "$@"
	;;
stall)
	# A 4 KiB arm64 Image: "b ." at its entry, image_size 64 KiB, magic "ARM\x64" at 56.
	img=$lg/spin.img
	{
		printf '\000\000\000\024\000\000\000\000'
		printf '\000\000\000\000\000\000\000\000\000\000\001\000\000\000\000\000'
		printf '\000%.0s' $(seq 24)
		printf '\000\000\000\000\000\000\000\000ARMd\000\000\000\000'
		dd if=/dev/zero bs=4032 count=1 2>/dev/null
	} >"$img"
	out=$lg/stall.log
	start=$(date +%s)
	sh "$here/run.sh" --hyp "$lg/hyp.elf" --kernel "$img" --initrd "$lg/initramfs.cpio" \
		--stall 5 --timeout 120 >"$out" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	cat "$out"
	echo "ctest.sh: run.sh exited $rc after $took s"
	[ $rc -eq 1 ] || { echo "ctest.sh: expected exit status 1 (stalled)"; exit 1; }
	grep -q '^run.sh: FAIL: the run stalled' "$out" || { echo "ctest.sh: no stall report"; exit 1; }
	grep -aq '^ *PC=0000000040200000' "$out" || { echo "ctest.sh: no PC at the entry"; exit 1; }
	[ $took -lt 60 ] || { echo "ctest.sh: the stall took $took s to report"; exit 1; }
	exit 0
	;;
*)
	echo "ctest.sh: unknown mode $mode" >&2
	exit 2
	;;
esac
