#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tools/linux-guest/run.sh - boot a Linux kernel and initramfs as an EL1 guest of the s2mmu
# reference hypervisor (port/el2/hyp) under qemu-system-aarch64. See docs/linux-guest.md.
#
#   run.sh --kernel IMAGE --initrd CPIO [--append "..."] [--smp N] [--granule 4k|16k|64k]
#          [--backing-page 4k|2m] [--fwb on|off] [--dirty fault|dbm] [--migrate] [--reclaim]
#          [--age] [--mem MiB] [--every N] [--period MS] [--require-report] [--hyp ELF]
#          [--timeout S] [--stall S] [--expect ERE]...
#
# Exit status 0 only when the guest powered off (PSCI SYSTEM_OFF) without reporting a failure
# to the control device, every hypervisor-side check held and every --expect ERE matched a
# line of the output; 1 otherwise (a guest panic or reset, a failed check, a hypervisor
# error, no output for --stall S seconds: default 120, 0 = never); 2 on bad usage; 124 on
# timeout.
set -eu

usage() {
	sed -n '4,16s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
hyp=${S2_HYP_ELF:-$root/build/linux-guest/hyp.elf}
kernel= initrd= append= smp=1 granule=4k backing=4k fwb=off dirty=fault mem=256
migrate= reclaim= age= every= period= report= tmo=${S2_LINUX_TIMEOUT:-600} stall=120
expect=

while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift ;;
	--initrd) initrd=$2; shift ;;
	--append) append=$2; shift ;;
	--smp) smp=$2; shift ;;
	--granule) granule=$2; shift ;;
	--backing-page) backing=$2; shift ;;
	--fwb) fwb=$2; shift ;;
	--dirty) dirty=$2; shift ;;
	--mem) mem=$2; shift ;;
	--every) every=$2; shift ;;
	--period) period=$2; shift ;;
	--stall) stall=$2; shift ;;
	--expect) expect="$expect$2
"; shift ;;
	--hyp) hyp=$2; shift ;;
	--timeout) tmo=$2; shift ;;
	--migrate) migrate=1 ;;
	--reclaim) reclaim=1 ;;
	--age) age=1 ;;
	--require-report) report=1 ;;
	-h|--help) usage ;;
	*) echo "run.sh: unknown option $1" >&2; usage ;;
	esac
	shift
done

[ -n "$kernel" ] && [ -n "$initrd" ] || usage
for f in "$kernel" "$initrd" "$hyp"; do
	[ -r "$f" ] || { echo "run.sh: cannot read $f" >&2; exit 2; }
done
case $granule in 4k|16k|64k) ;; *) echo "run.sh: --granule 4k|16k|64k" >&2; exit 2 ;; esac
case $backing in 4k|2m) ;; *) echo "run.sh: --backing-page 4k|2m" >&2; exit 2 ;; esac
case $fwb in on|off) ;; *) echo "run.sh: --fwb on|off" >&2; exit 2 ;; esac
case $dirty in fault|dbm) ;; *) echo "run.sh: --dirty fault|dbm" >&2; exit 2 ;; esac
case $mem in *[!0-9]*|'') echo "run.sh: --mem MiB" >&2; exit 2 ;; esac
case $stall in *[!0-9]*|'') echo "run.sh: --stall S" >&2; exit 2 ;; esac
case $period in *[!0-9]*) echo "run.sh: --period MS" >&2; exit 2 ;; esac
case $smp in [1-8]) ;; *) echo "run.sh: --smp 1..8" >&2; exit 2 ;; esac
if [ "$mem" -lt 128 ] || [ "$mem" -gt 1024 ] || [ $((mem % 2)) -ne 0 ]; then
	echo "run.sh: --mem: 128..1024 MiB, even" >&2
	exit 2
fi
if [ -n "$migrate" ] && [ -n "$reclaim" ]; then
	echo "run.sh: --migrate and --reclaim cannot be combined" >&2
	exit 2
fi

# Host RAM: the hypervisor's 128 MiB, guest RAM, the migration shadow, the reclaim area.
qmem=$((128 + mem + 16))
[ -z "$migrate" ] || qmem=$((qmem + mem))
[ -z "$reclaim" ] || qmem=$((qmem + 16))
isize=$(wc -c <"$initrd" | tr -d ' ')
if [ $((96 * 1048576 + isize + 2 * 1048576)) -gt $((mem * 1048576)) ]; then
	echo "run.sh: the initrd does not fit above guest RAM + 96 MiB" >&2
	exit 2
fi

hargs="s2.mem=$mem s2.granule=$granule s2.backing=$backing s2.fwb=$fwb s2.dirty=$dirty"
hargs="$hargs s2.initrd_size=$isize"
[ -z "$migrate" ] || hargs="$hargs s2.migrate"
[ -z "$reclaim" ] || hargs="$hargs s2.reclaim"
[ -z "$age" ] || hargs="$hargs s2.age"
[ -z "$every" ] || hargs="$hargs s2.every=$every"
[ -z "$period" ] || hargs="$hargs s2.period=$period"
[ -z "$report" ] || hargs="$hargs s2.require_report"

# Guest RAM is at host PA 0x48000000: the Image at +2 MiB, the initramfs at +96 MiB.
# its=off: QEMU's ITS would read and write guest tables at guest IPAs as if they were host
# PAs (no SMMU between the pass-through GIC and memory).
# QEMU exits with the hypervisor's semihosting status, but also with 0 when it is killed: the
# result counts only with the hypervisor's own "hyp: RESULT PASS" line.
# The stall watchdog: when the output has not grown for $stall seconds (a guest that died
# without a word, e.g. a missed TLBI that corrupted its kernel), it dumps every CPU's
# registers through QEMU's monitor (Ctrl-A c on the console's stdin: a FIFO) and quits QEMU.
log=$(mktemp "${TMPDIR:-/tmp}/s2-linux.XXXXXX")
fifo=$log.in
mkfifo "$fifo"
exec 3<>"$fifo"
trap 'rm -f "$log" "$log.rc" "$log.stall" "$fifo"' EXIT
watchdog() {
	last=-1 quiet=0
	while kill -0 "$1" 2>/dev/null; do
		sleep 1
		size=$(wc -c <"$log")
		if [ "$size" -ne "$last" ]; then
			last=$size quiet=0
			continue
		fi
		quiet=$((quiet + 1))
		[ "$quiet" -ge "$stall" ] || continue
		echo
		echo "run.sh: STALL: no output for $quiet s; the CPUs' state (QEMU monitor):"
		: >"$log.stall"
		printf '\001cinfo registers -a\n' >&3
		sleep 3
		printf 'quit\n' >&3
		sleep 3
		kill "$1" 2>/dev/null
		return
	done
}
{
	set +e
	timeout "$tmo" qemu-system-aarch64 \
		-M virt,virtualization=on,gic-version=3,its=off -cpu max,pauth-impdef=on \
		-m "$qmem" -smp "$smp" -nographic -nic none \
		-semihosting-config enable=on,target=native \
		-kernel "$hyp" \
		-device loader,file="$kernel",addr=0x48200000,force-raw=on \
		-device loader,file="$initrd",addr=0x4e000000,force-raw=on \
		-append "$hargs console=ttyAMA0 panic=-1 $append" <"$fifo" &
	qpid=$!
	wpid=
	if [ "$stall" -gt 0 ]; then
		watchdog $qpid &
		wpid=$!
	fi
	wait $qpid
	echo $? >"$log.rc"
	[ -z "$wpid" ] || kill $wpid 2>/dev/null
} 2>&1 | tee "$log"
rc=$(cat "$log.rc" 2>/dev/null || echo 1)
if [ -e "$log.stall" ]; then
	echo "run.sh: FAIL: the run stalled (no output for $stall s); where the CPUs were:" >&2
	sed -n '/^run.sh: STALL/,$p' "$log" | grep -aE '^CPU#|^ *PC=|^PSTATE=' | cut -c1-60 >&2
	exit 1
fi
if [ "$rc" -eq 124 ]; then
	echo "run.sh: timeout after $tmo s" >&2
	exit 124
fi
if [ "$rc" -eq 0 ] && ! grep -q '^hyp: RESULT PASS' "$log"; then
	echo "run.sh: QEMU ended without the hypervisor's PASS" >&2
	rc=1
fi
if [ "$rc" -eq 0 ]; then
	while IFS= read -r re; do
		[ -n "$re" ] || continue
		if ! grep -Eq -- "$re" "$log"; then
			echo "run.sh: FAIL: no output line matches --expect '$re'" >&2
			rc=1
		fi
	done <<EOF
$expect
EOF
fi
exit "$rc"
