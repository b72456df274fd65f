#!/bin/bash
# memtype_test.sh TOOL - `s2mmu memtype` against the architectural MemAttr values
# (stage-2 MemAttr, FWB=0: nGnRnE 0b0000, nGnRE 0b0001, NC 0b0101, WB 0b1111;
# FWB=1: forced WB 0b0110).
set -u
T=$1
fails=0

check() { # expected-json-compact args...
	local want=$1
	shift
	local got
	got=$("$T" memtype "$@" --json | tr -d ' \n')
	if [ "$got" != "$want" ]; then
		echo "FAIL: memtype $* -> $got (want $want)"
		fails=$((fails + 1))
	fi
}

refused() { # args...
	local out rc
	out=$("$T" memtype "$@" --json 2>/dev/null)
	rc=$?
	if [ $rc -ne 2 ] || [ -n "$out" ]; then
		echo "FAIL: memtype $* -> rc $rc, stdout '$out' (want 2 and nothing)"
		fails=$((fails + 1))
	fi
}

for fwb in "" --fwb; do
	if [ -z "$fwb" ]; then wb=0b1111; dc='"dcache-clean-inval-poc"'; else wb=0b0110; dc=''; fi
	check "{\"type\":\"normal\",\"memattr\":\"$wb\",\"exec\":true,\"cmo\":[$dc]}" \
		--backing ram --host-type normal $fwb
	ic='"icache-inval-pou"'
	check "{\"type\":\"normal\",\"memattr\":\"$wb\",\"exec\":true,\"cmo\":[${dc:+$dc,}$ic]}" \
		--backing ram --host-type normal --exec $fwb
	check "{\"type\":\"normal\",\"memattr\":\"$wb\",\"exec\":true,\"cmo\":[${dc:+$dc,}\"mte-tags-sanitise\"]}" \
		--backing ram --host-type tagged --mte $fwb
	# RAM behind a write-combine host mapping: Normal, as KVM; NC only when the VM keeps it
	check "{\"type\":\"normal\",\"memattr\":\"$wb\",\"exec\":true,\"cmo\":[$dc]}" \
		--backing ram --host-type nc $fwb
	check "{\"type\":\"normal\",\"memattr\":\"$wb\",\"exec\":true,\"cmo\":[${dc:+$dc,}$ic]}" \
		--backing ram --host-type nc --exec $fwb
	check "{\"type\":\"normal-nc\",\"memattr\":\"0b0101\",\"exec\":false,\"cmo\":[]}" \
		--backing ram --host-type nc --keep-host-nc $fwb
	check "{\"type\":\"normal\",\"memattr\":\"$wb\",\"exec\":true,\"cmo\":[$dc]}" \
		--backing ram --host-type normal --keep-host-nc $fwb
	check "{\"type\":\"device-ngnre\",\"memattr\":\"0b0001\",\"exec\":false,\"cmo\":[]}" \
		--backing mmio --host-type nc --keep-host-nc $fwb
	# DIC: no I-cache maintenance for exec
	check "{\"type\":\"normal\",\"memattr\":\"$wb\",\"exec\":true,\"cmo\":[$dc]}" \
		--backing ram --host-type nc --exec --dic $fwb
	for b in ram mmio; do
		check "{\"type\":\"device-ngnre\",\"memattr\":\"0b0001\",\"exec\":false,\"cmo\":[]}" \
			--backing $b --host-type device-ngnre $fwb
		check "{\"type\":\"device-ngnrne\",\"memattr\":\"0b0000\",\"exec\":false,\"cmo\":[]}" \
			--backing $b --host-type device-ngnrne $fwb
	done
	for h in normal tagged nc device-ngnre device-ngnrne; do
		check "{\"type\":\"normal-nc\",\"memattr\":\"0b0101\",\"exec\":false,\"cmo\":[]}" \
			--backing mmio --host-type $h --allow-any-uncached $fwb
	done
	check "{\"type\":\"device-ngnre\",\"memattr\":\"0b0001\",\"exec\":false,\"cmo\":[]}" \
		--backing mmio --host-type normal $fwb
	# refusals
	refused --backing ram --host-type nc --keep-host-nc --exec $fwb
	refused --backing mmio --host-type device-ngnre --exec $fwb
	refused --backing mmio --host-type normal --allow-any-uncached --exec $fwb
	refused --backing ram --host-type device-ngnre --allow-any-uncached $fwb
	refused --backing ram --host-type normal --mte $fwb
	refused --backing ram --host-type tagged --mte --untagged-backing $fwb
done
# text: with DIC, Normal memory is executable from its first fault; Device never
out=$("$T" memtype --backing ram --host-type normal --dic)
case "$out" in *"exec     allowed, granted on every fault (DIC)"*) ;; *)
	echo "FAIL: memtype --dic text: $out"; fails=$((fails + 1)) ;; esac
out=$("$T" memtype --backing ram --host-type normal)
case "$out" in *"exec     allowed"$'\n'*) ;; *)
	echo "FAIL: memtype text: $out"; fails=$((fails + 1)) ;; esac
out=$("$T" memtype --backing mmio --host-type device-ngnre --dic)
case "$out" in *"exec     refused"*) ;; *)
	echo "FAIL: memtype mmio --dic text: $out"; fails=$((fails + 1)) ;; esac
# bad input
refused --backing rom --host-type normal
refused --backing ram --host-type device
refused --host-type normal
# the host type defaults as in `s2mmu sim`: normal for RAM, device-ngnre for MMIO
for fwb in "" --fwb; do
	for b in ram mmio; do
		if [ $b = ram ]; then h=normal; else h=device-ngnre; fi
		want=$("$T" memtype --backing $b --host-type $h $fwb --json | tr -d ' \n')
		check "$want" --backing $b $fwb
	done
done
# the text output says how the guest's stage-1 type plays with it
text() { # pattern args...
	local pat=$1
	shift
	if ! "$T" memtype "$@" | grep -q "$pat"; then
		echo "FAIL: memtype $* does not print '$pat'"
		fails=$((fails + 1))
	fi
}
text "^stage 1  combined: FWB is off, so the guest's stage-1 type is combined" --backing ram
text "^stage 1  combined: FWB is off" --backing mmio
text "^stage 1  overridden: FWB forces" --backing ram --fwb
text "^stage 1  combined: a Device type" --backing mmio --fwb
text "^host     device-ngnre (default for mmio)" --backing mmio

if [ $fails -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "memtype: all checks passed"
