#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tools/linux-guest/mkinitramfs.sh OUT.cpio BUSYBOX INIT - write a newc cpio archive (what the
# kernel unpacks as initramfs) holding /bin/busybox (a static arm64 busybox), /init (a shell
# script run by busybox sh), /dev/console and the empty directories /dev /proc /sys /tmp.
# Plain POSIX sh: no cpio(1) needed.
set -eu
out=${1:?usage: mkinitramfs.sh OUT.cpio BUSYBOX INIT}
busybox=${2:?busybox}
init=${3:?init script}
ino=1

# entry NAME MODE(octal) SIZE RDEVMAJOR RDEVMINOR [FILE]
entry() {
	name=$1 mode=$2 size=$3 rmaj=$4 rmin=$5
	nlen=$((${#name} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		"$ino" "$((0$mode))" 0 0 1 0 "$size" 0 0 "$rmaj" "$rmin" "$nlen" 0
	printf '%s\000' "$name"
	pad=$(((4 - (110 + nlen) % 4) % 4))
	[ "$pad" -eq 0 ] || head -c "$pad" /dev/zero
	if [ $# -ge 6 ]; then
		cat "$6"
		pad=$(((4 - size % 4) % 4))
		[ "$pad" -eq 0 ] || head -c "$pad" /dev/zero
	fi
	ino=$((ino + 1))
}

size() { wc -c <"$1" | tr -d ' '; }

{
	for d in bin dev proc sys tmp; do
		entry "$d" 040755 0 0 0
	done
	entry dev/console 020600 0 5 1
	entry dev/mem 020600 0 1 1
	entry bin/busybox 0100755 "$(size "$busybox")" 0 0 "$busybox"
	entry bin/sh 0100755 "$(size "$busybox")" 0 0 "$busybox"
	entry init 0100755 "$(size "$init")" 0 0 "$init"
	entry TRAILER!!! 0 0 0 0
} >"$out.tmp"
mv "$out.tmp" "$out"
