#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tools/linux-guest/ctest.sh - the CTest side of the Linux-guest tests (label linux).
#   ctest.sh prepare BUILD_DIR       fetch the Debian packages and build target s2_linux_guest
#   ctest.sh run BUILD_DIR ARGS...   boot the Debian kernel with tools/linux-guest/run.sh ARGS
#                                    (--require-report: the guest must report success)
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
*)
	echo "ctest.sh: unknown mode $mode" >&2
	exit 2
	;;
esac
