#!/bin/sh
# SPDX-License-Identifier: MIT
#
# /init of the s2mmu Linux-guest initramfs (tools/linux-guest/init.sh, run by busybox sh).
# A memory workload with checksums: one worker per CPU writes s2g.mb MiB of random data into
# tmpfs (guest RAM), copies it s2g.rounds times and checks every copy's checksum against the
# original after each round, asking the hypervisor for the memory operations in s2g.ops
# (1 migrate round, 2 reclaim, 3 age, 4 full unmap) through its control device between
# rounds. Before the workload: s2g.idle=S sleeps S seconds (an idle guest: the hypervisor's
# timed rounds must still run), s2g.hotplug=1 takes CPU 1 offline and back online through
# sysfs (PSCI CPU_OFF, then CPU_ON) and counts a failed check unless CPU 1 reads back
# offline, then online. Reports 0 (success) or the number of failed checks to the control device, then
# powers off (PSCI SYSTEM_OFF).
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs -o size=90% tmp /tmp

CTRL=0x0b000000
MB=16
ROUNDS=3
OPS=""
IDLE=0
HOTPLUG=0
for a in $(cat /proc/cmdline); do
	case $a in
	s2g.mb=*) MB=${a#s2g.mb=} ;;
	s2g.rounds=*) ROUNDS=${a#s2g.rounds=} ;;
	s2g.idle=*) IDLE=${a#s2g.idle=} ;;
	s2g.hotplug=*) HOTPLUG=${a#s2g.hotplug=} ;;
	s2g.ops=*) OPS=$(echo "${a#s2g.ops=}" | tr , ' ') ;;
	esac
done

magic=$(devmem $CTRL 32)
if [ "$magic" != "0x554D3253" ]; then
	echo "s2guest: no s2mmu control device at $CTRL (read $magic)"
fi
ncpu=$(grep -c ^processor /proc/cpuinfo)
echo "s2guest: up $(cut -d' ' -f1 /proc/uptime) s, $ncpu CPU(s), $(grep MemTotal /proc/meminfo)"
fail=0
if [ "$IDLE" -gt 0 ]; then
	echo "s2guest: idle for $IDLE s"
	sleep "$IDLE"
fi
if [ "$HOTPLUG" = 1 ]; then
	c1=/sys/devices/system/cpu/cpu1/online
	if [ "$ncpu" -lt 2 ] || [ ! -w $c1 ]; then
		echo "s2guest: hotplug: no CPU 1 to take offline ($c1)"
		fail=$((fail + 1))
	else
		echo 0 >$c1
		off=$(cat $c1)
		n_off=$(cat /sys/devices/system/cpu/online)
		echo 1 >$c1
		on=$(cat $c1)
		echo "s2guest: hotplug: CPU 1 offline (online $off, CPUs $n_off), online again" \
			"(online $on, CPUs $(cat /sys/devices/system/cpu/online))"
		if [ "$off" != 0 ] || [ "$on" != 1 ]; then
			fail=$((fail + 1))
		fi
	fi
fi
echo "s2guest: workload: $ncpu worker(s) x ${MB} MiB x $ROUNDS rounds, ops '$OPS'"

worker() {
	w=$1
	d=/tmp/w$w
	mkdir -p $d
	dd if=/dev/urandom of=$d/ref bs=1M count=$MB 2>/dev/null
	ref=$(md5sum <$d/ref)
	bad=0
	r=0
	while [ $r -lt $ROUNDS ]; do
		cp $d/ref $d/c$r
		if [ $w -eq 0 ]; then
			for op in $OPS; do
				devmem $((CTRL + 8)) 32 $op
			done
		fi
		for f in $d/*; do
			s=$(md5sum <$f)
			if [ "$s" != "$ref" ]; then
				echo "s2guest: worker $w round $r: checksum mismatch in $f"
				bad=$((bad + 1))
			fi
		done
		echo "s2guest: worker $w (CPU $(cut -d' ' -f39 /proc/self/stat)) round $r done"
		r=$((r + 1))
	done
	echo $bad >/tmp/result$w
}

i=0
while [ $i -lt $ncpu ]; do
	worker $i &
	i=$((i + 1))
done
wait
i=0
while [ $i -lt $ncpu ]; do
	n=$(cat /tmp/result$i 2>/dev/null || echo 1)
	fail=$((fail + n))
	i=$((i + 1))
done
echo "s2guest: done at $(cut -d' ' -f1 /proc/uptime) s: $fail failed check(s), $(devmem $((CTRL + 12)) 32) hypervisor operation(s) asked"
devmem $((CTRL + 4)) 32 $fail
poweroff -f
