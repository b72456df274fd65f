#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Tests of the s2mmu command-line tool: cli_test.sh TOOL GROUP
#
# Expected values are derived by hand from the architecture (Arm ARM D19.2 VTCR_EL2 and
# ESR_EL2, D8.2 initial lookup level and concatenation, D8.3 descriptors; ARCH-NOTES.md section
# 2), not taken from the tool's own output. Every refusal must exit 2, print exactly one line
# "s2mmu: ..." on stderr and nothing on stdout.
set -u

TOOL=${1:?usage: cli_test.sh TOOL GROUP}
GROUP=${2:?usage: cli_test.sh TOOL GROUP}
HERE=$(cd "$(dirname "$0")" && pwd)
JCHECK="python3 $HERE/jcheck.py"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/out
ERR=$TMP/err
FAILS=0
CHECKS=0

bad() {
	echo "FAIL: $*" >&2
	echo "  stdout: $(head -c 2000 "$OUT")" >&2
	echo "  stderr: $(head -c 2000 "$ERR")" >&2
	FAILS=$((FAILS + 1))
}

# ok ARGS...: the tool succeeds, says nothing on stderr; stdout is in $OUT.
ok() {
	CHECKS=$((CHECKS + 1))
	"$TOOL" "$@" >"$OUT" 2>"$ERR"
	local rc=$?
	if [ $rc -ne 0 ]; then
		bad "s2mmu $* exited $rc, expected 0"
		return 1
	fi
	if [ -s "$ERR" ]; then
		bad "s2mmu $* wrote to stderr"
		return 1
	fi
	return 0
}

# json ARGS... -- KEY=VALUE...: run with ARGS (which include --json), check the members.
json() {
	local args=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		args+=("$1")
		shift
	done
	shift
	ok "${args[@]}" || return 1
	if ! $JCHECK "$OUT" "$@" 2>>"$ERR"; then
		bad "s2mmu ${args[*]}: JSON mismatch"
		return 1
	fi
}

# get KEY: a member of the last JSON output.
get() {
	$JCHECK "$OUT" --get "$1"
}

# refused PATTERN ARGS...: exit status 2, nothing on stdout, one line on stderr that starts
# with "s2mmu: " and contains PATTERN (a fixed string; empty matches anything).
refused() {
	local pat=$1
	shift
	CHECKS=$((CHECKS + 1))
	"$TOOL" "$@" >"$OUT" 2>"$ERR"
	local rc=$?
	if [ $rc -ne 2 ]; then
		bad "s2mmu $* exited $rc, expected 2"
		return 1
	fi
	if [ -s "$OUT" ]; then
		bad "s2mmu $* wrote to stdout on failure"
		return 1
	fi
	if [ "$(wc -l <"$ERR")" -ne 1 ] || ! head -n1 "$ERR" | grep -q '^s2mmu: '; then
		bad "s2mmu $*: stderr is not one 's2mmu: ...' line"
		return 1
	fi
	if [ -n "$pat" ] && ! grep -qF -- "$pat" "$ERR"; then
		bad "s2mmu $*: message lacks '$pat'"
		return 1
	fi
}

# has PATTERN: the last stdout contains PATTERN (extended regex).
has() {
	CHECKS=$((CHECKS + 1))
	if ! grep -qE -- "$1" "$OUT"; then
		bad "output lacks /$1/"
	fi
}

# ---- groups ----------------------------------------------------------------------------------

group_basic() {
	ok --help && has '^usage: s2mmu' && has '^  vtcr ' && has '^  decode '
	ok -h && has '^usage: s2mmu'
	ok --version && has '^s2mmu [0-9]+\.[0-9]+\.[0-9]+$'
	ok vtcr --help && has '^usage: s2mmu vtcr' && has '--mmfr0' && has '--decode'
	ok decode --help && has '^usage: s2mmu decode esr' && has 'decode pte'
	ok decode esr --help && has '^usage: s2mmu decode'
	ok vtcr --pa-bits 40 --help && has '^usage: s2mmu vtcr'
	refused "no command" 
	refused "unknown command 'frob'" frob
	refused "unknown option '--frob'" --frob
}

# A VTCR computation: vtcr_golden "ARGS" KEY=VALUE...
vtcr_golden() {
	local args=$1
	shift
	# shellcheck disable=SC2086
	json vtcr $args --json -- "$@"
}

group_vtcr() {
	# 4K, 40-bit IPA on a 40-bit host, 8-bit VMID. T0SZ=24; 28 bits to resolve: 3 levels (27
	# bits) + 1 bit of concatenation = 2 tables at L1 (SL0=01); IRGN0=ORGN0=01, SH0=11,
	# PS=010, bit 31 RES1: 0x80023558.
	vtcr_golden "--pa-bits 40 --ipa-bits 40 --granule 4k --vmid-bits 8" \
		vtcr='"0x80023558"' t0sz=24 sl0=1 sl2=0 ds=0 tg0=0 ps=2 vs=0 ha=0 hd=0 \
		irgn0=1 orgn0=1 sh0=3 granule='"4k"' ipa_bits=40 pa_bits=40 start_level=1 \
		levels=3 root_tables=2 root_table_bytes=8192 vmid_bits=8 block_levels='[1, 2]' \
		fwb=false
	# The same, as a table.
	ok vtcr --pa-bits 40 --ipa-bits 40 --granule 4k --vmid-bits 8 &&
		has '^VTCR_EL2 0x0000000080023558$' && has 'start_level +1$' &&
		has 'root_tables +2 ' && has 'block_levels +1 2$'
	# Options written as --opt=value.
	json vtcr --pa-bits=40 --ipa-bits=40 --granule=4k --vmid-bits=8 --json -- \
		vtcr='"0x80023558"'

	# 64K, 42-bit IPA, 48-bit host, widest VMID (16): T0SZ=22; 26 bits = exactly 2 levels of
	# 13 bits, start L2 (SL0=01), one table; TG0=01, PS=101, VS=1: 0x800D7556.
	vtcr_golden "--pa-bits 48 --ipa-bits 42 --granule 64k" \
		vtcr='"0x800d7556"' t0sz=22 sl0=1 tg0=1 ps=5 vs=1 ds=0 start_level=2 levels=2 \
		root_tables=1 root_table_bytes=65536 vmid_bits=16 granule='"64k"' pa_bits=48 \
		block_levels='[2]'

	# 16K, 36-bit IPA, 36-bit host, 8-bit VMID: T0SZ=28; 22 bits = 2 levels of 11 bits, start
	# L2 (SL0=01), TG0=10, PS=001: 0x8001B55C.
	vtcr_golden "--pa-bits 36 --ipa-bits 36 --granule 16k --vmid-bits 8" \
		vtcr='"0x8001b55c"' t0sz=28 sl0=1 tg0=2 ps=1 start_level=2 levels=2 \
		root_tables=1 root_table_bytes=16384 granule='"16k"' block_levels='[2]'

	# 16K, 40-bit IPA: 26 bits = 2 levels (22) + 4 bits of concatenation: the maximum of 16
	# tables at L2. T0SZ=24, SL0=01, TG0=10, PS=010: 0x8002B558.
	vtcr_golden "--pa-bits 40 --ipa-bits 40 --granule 16k --vmid-bits 8" \
		vtcr='"0x8002b558"' start_level=2 levels=2 root_tables=16 \
		root_table_bytes=262144

	# 16K, 41-bit IPA: 27 bits no longer fit 2 levels + 16 tables: 3 levels from L1 (SL0=10),
	# one table of 32 entries. T0SZ=23, PS=011 (42-bit host): 0x8003B597.
	vtcr_golden "--pa-bits 42 --ipa-bits 41 --granule 16k --vmid-bits 8" \
		vtcr='"0x8003b597"' t0sz=23 sl0=2 ps=3 start_level=1 levels=3 root_tables=1 \
		root_table_bytes=16384

	# 4K, 48-bit IPA, 16-bit VMID: T0SZ=16; 36 bits = 4 levels from L0 (SL0=10), PS=101,
	# VS=1: 0x800D3590.
	vtcr_golden "--pa-bits 48 --ipa-bits 48 --granule 4k --vmid-bits 16" \
		vtcr='"0x800d3590"' t0sz=16 sl0=2 ps=5 vs=1 start_level=0 levels=4 \
		root_tables=1 root_table_bytes=4096 vmid_bits=16 block_levels='[1, 2]'

	# 4K, 32-bit IPA: 20 bits = 2 levels (18) + 2 bits: 4 tables at L2 (SL0=00). T0SZ=32:
	# 0x80023520.
	vtcr_golden "--pa-bits 40 --ipa-bits 32 --granule 4k --vmid-bits 8" \
		vtcr='"0x80023520"' t0sz=32 sl0=0 start_level=2 levels=2 root_tables=4 \
		root_table_bytes=16384 block_levels='[2]'

	# 4K, 52-bit IPA on a 52-bit host: FEAT_LPA2, DS=1 (bit 32). 40 bits = 4 levels (36) + 4
	# bits: 16 tables at L0 (SL0=10, SL2=0, no level -1 needed). T0SZ=12, PS=110, VS=1:
	# 0x1800E358C. With DS, 4K has L0 blocks.
	vtcr_golden "--pa-bits 52 --ipa-bits 52 --granule 4k" \
		vtcr='"0x1800e358c"' t0sz=12 sl0=2 sl2=0 ds=1 ps=6 vs=1 start_level=0 levels=4 \
		root_tables=16 root_table_bytes=65536 pa_bits=52 ipa_bits=52 \
		block_levels='[0, 1, 2]'

	# 16K, 52-bit: 38 bits = 4 levels from L0 (SL0=11), one table; DS=1: 0x18006B5CC. With
	# DS, 16K has L1 blocks.
	vtcr_golden "--pa-bits 52 --ipa-bits 52 --granule 16k --vmid-bits 8" \
		vtcr='"0x18006b5cc"' t0sz=12 sl0=3 ds=1 tg0=2 ps=6 start_level=0 levels=4 \
		root_tables=1 block_levels='[1, 2]'

	# 64K, 52-bit: FEAT_LPA, DS stays 0, PS=110. 36 bits = 3 levels from L1 (SL0=10):
	# 0x8006758C. With LPA, 64K has L1 blocks.
	vtcr_golden "--pa-bits 52 --ipa-bits 52 --granule 64k --vmid-bits 8" \
		vtcr='"0x8006758c"' t0sz=12 sl0=2 ds=0 tg0=1 ps=6 start_level=1 levels=3 \
		root_tables=1 root_table_bytes=65536 lpa=true block_levels='[1, 2]'

	# HA (bit 21) and HD (bit 22) only when asked for.
	vtcr_golden "--pa-bits 40 --ipa-bits 40 --granule 4k --vmid-bits 8 --ha --hd" \
		vtcr='"0x80623558"' ha=1 hd=1
	vtcr_golden "--pa-bits 40 --ipa-bits 40 --granule 4k --vmid-bits 8 --ha" \
		vtcr='"0x80223558"' ha=1 hd=0
	# FWB is an HCR_EL2 bit: VTCR does not change.
	vtcr_golden "--pa-bits 40 --ipa-bits 40 --granule 4k --vmid-bits 8 --fwb" \
		vtcr='"0x80023558"' fwb=true
}

group_vtcr_idregs() {
	# ID_AA64MMFR0: PARange=5 (48), TGran4_2=1 (none), TGran64_2=2, TGran16_2=2;
	# MMFR1.VMIDBits=2 (16-bit). Same VM as the 64K/42-bit golden: 0x800D7556.
	json vtcr --mmfr0 0x12200000005 --mmfr1 0x20 --mmfr2 0 --ipa-bits 42 --granule 64k \
		--json -- vtcr='"0x800d7556"' pa_bits=48 vmid_bits=16
	# VMIDBits=0: 8-bit VMIDs, VS=0: 0x80057556.
	json vtcr --mmfr0 0x12200000005 --mmfr1 0 --mmfr2 0 --ipa-bits 42 --granule 64k \
		--json -- vtcr='"0x80057556"' vmid_bits=8 vs=0
	# PARange=6 (52) with TGran4_2=2 (4K without 52-bit): PS capped at 48 (PS=101), DS=0.
	json vtcr --mmfr0 0x20000000006 --mmfr1 0 --mmfr2 0 --ipa-bits 48 --granule 4k \
		--json -- vtcr='"0x80053590"' pa_bits=48 ps=5 ds=0
	# HAFDBS=1 (access flag only): --ha is granted (bit 21).
	json vtcr --mmfr0 0x12200000005 --mmfr1 0x21 --mmfr2 0 --ipa-bits 42 --granule 64k \
		--ha --json -- vtcr='"0x802d7556"' ha=1 hd=0
	# MMFR2.FWB=1 ([43:40]): --fwb is granted.
	json vtcr --mmfr0 0x12200000005 --mmfr1 0 --mmfr2 0x10000000000 --ipa-bits 42 \
		--granule 64k --fwb --json -- fwb=true
}

group_vtcr_decode() {
	# The golden value taken apart.
	json vtcr --decode 0x80023558 --json -- vtcr='"0x80023558"' t0sz=24 sl0=1 tg0=0 ps=2 \
		sh0=3 irgn0=1 orgn0=1 granule='"4k"' ipa_bits=40 pa_bits=40 start_level=1 \
		levels=3 root_tables=2 root_table_bytes=8192 vmid_bits=8 fwb='!absent'
	ok vtcr --decode 0x80023558 && has '^VTCR_EL2 0x0000000080023558$'
	# 16K with the maximum of 16 concatenated tables.
	json vtcr --decode 0x8002b558 --json -- granule='"16k"' start_level=2 levels=2 \
		root_tables=16
	# 4K/52-bit: DS=1.
	json vtcr --decode 0x1800e358c --json -- ds=1 ipa_bits=52 pa_bits=52 start_level=0 \
		root_tables=16
	# Round trip: decode(compute(x)) gives back the geometry compute reported.
	local cfg keys
	keys="vtcr t0sz sl0 sl2 ds irgn0 orgn0 sh0 tg0 ps vs ha hd granule ipa_bits pa_bits"
	keys="$keys start_level levels root_tables root_table_bytes vmid_bits"
	keys="$keys block_levels lpa"
	for cfg in "--pa-bits 40 --ipa-bits 40 --granule 4k --vmid-bits 8" \
		"--pa-bits 48 --ipa-bits 42 --granule 64k --ha --hd" \
		"--pa-bits 36 --ipa-bits 33 --granule 16k" \
		"--pa-bits 44 --ipa-bits 44 --granule 4k" \
		"--pa-bits 52 --ipa-bits 52 --granule 4k" \
		"--pa-bits 52 --ipa-bits 49 --granule 16k" \
		"--pa-bits 52 --ipa-bits 52 --granule 64k" \
		"--pa-bits 32 --ipa-bits 32 --granule 64k"; do
		# shellcheck disable=SC2086
		ok vtcr $cfg --json || continue
		cp "$OUT" "$TMP/computed"
		local vtcr checks=()
		vtcr=$(get vtcr)
		# shellcheck disable=SC2086
		mapfile -t checks < <($JCHECK "$TMP/computed" --pairs $keys)
		json vtcr --decode "$vtcr" --json -- "${checks[@]}"
	done
	# Values hardware treats as misconfigured.
	refused "not a valid stage-2 VTCR_EL2" vtcr --decode 0x8002f558   # TG0=0b11
	refused "not a valid stage-2 VTCR_EL2" vtcr --decode 0x80073558   # PS=0b111
	refused "not a valid stage-2 VTCR_EL2" vtcr --decode 0x80023518   # 40-bit IPA from L2
	refused "--decode takes no other option" vtcr --decode 0x80023558 --pa-bits 40
	refused "--decode takes no other option" vtcr --decode 0x80023558 --granule 4k
}

group_vtcr_refusals() {
	refused "(S2_EIPA_TOO_BIG): 48-bit IPA on a 40-bit PA host" \
		vtcr --pa-bits 40 --ipa-bits 48 --granule 4k
	refused "IPA size larger than the host's physical address size" \
		vtcr --pa-bits 40 --ipa-bits 48 --granule 4k --json
	refused "S2_EIPA_TOO_BIG" vtcr --pa-bits 52 --ipa-bits 53 --granule 4k
	refused "S2_EIPA_TOO_SMALL" vtcr --pa-bits 40 --ipa-bits 31 --granule 4k
	refused "S2_EIPA_TOO_SMALL" vtcr --pa-bits 40 --ipa-bits 0 --granule 64k
	# TGran4_2=1: no 4K granule at stage 2.
	refused "S2_EGRANULE" vtcr --mmfr0 0x12200000005 --mmfr1 0 --mmfr2 0 \
		--ipa-bits 40 --granule 4k
	# 52-bit PARange but TGran4_2=2, TGran16_2=2 (no FEAT_LPA2): no 52-bit IPA.
	refused "S2_ENO52BIT" vtcr --mmfr0 0x20200000006 --mmfr1 0 --mmfr2 0 \
		--ipa-bits 52 --granule 4k
	refused "S2_ENO52BIT" vtcr --mmfr0 0x20200000006 --ipa-bits 52 --granule 16k
	# HAFDBS=0 / 1, VMIDBits=0, FWB=0.
	refused "S2_ENOTSUP" vtcr --mmfr0 0x12200000005 --mmfr1 0 --mmfr2 0 \
		--ipa-bits 42 --granule 64k --ha
	refused "S2_ENOTSUP" vtcr --mmfr0 0x12200000005 --mmfr1 0x1 --ipa-bits 42 \
		--granule 64k --ha --hd
	refused "S2_EVMID" vtcr --mmfr0 0x12200000005 --mmfr1 0 --ipa-bits 42 --granule 64k \
		--vmid-bits 16
	refused "S2_ENOTSUP" vtcr --mmfr0 0x12200000005 --ipa-bits 42 --granule 64k --fwb
	refused "--hd needs --ha" vtcr --pa-bits 40 --ipa-bits 40 --granule 4k --hd
	# Host and request options.
	refused "not a PARange size" vtcr --pa-bits 41 --ipa-bits 40 --granule 4k
	refused "PARange 7 is reserved" vtcr --mmfr0 0x12200000007 --ipa-bits 40 --granule 64k
	refused "not both" vtcr --pa-bits 40 --mmfr0 0x12200000005 --ipa-bits 40 --granule 64k
	refused "need --mmfr0" vtcr --pa-bits 40 --mmfr1 0x20 --ipa-bits 40 --granule 4k
	refused "missing --pa-bits" vtcr --ipa-bits 40 --granule 4k
	refused "missing --ipa-bits" vtcr --pa-bits 40 --granule 4k
	refused "missing --granule" vtcr --pa-bits 40 --ipa-bits 40
	refused "--granule: '8k'" vtcr --pa-bits 40 --ipa-bits 40 --granule 8k
	refused "--vmid-bits: 12" vtcr --pa-bits 40 --ipa-bits 40 --granule 4k --vmid-bits 12
	refused "unexpected argument 'extra'" vtcr --pa-bits 40 --ipa-bits 40 --granule 4k extra
}

group_esr() {
	# EC=0x24 (data abort, lower EL), IL, ISV, SAS=11 (8 bytes), SRT=2, SF, WnR,
	# DFSC=0b000110: translation fault, level 2.
	json decode esr 0x93c28046 --json -- esr='"0x93c28046"' ec=36 \
		class='"data-abort-lower"' il=true fault='"translation"' fsc=6 level=2 wnr=true \
		s1ptw=false cm=false fnv=false ea=false isv=true access_bytes=8 \
		sign_extend=false reg=2 reg64=true acqrel=false ipa='!absent' far='!absent'
	# SRT=4, DFSC=0b001111: permission fault, level 3, write.
	json decode esr 0x93c4804f --json -- class='"data-abort-lower"' fault='"permission"' \
		level=3 wnr=true isv=true reg=4 access_bytes=8
	# EC=0x20: instruction abort, IFSC=0b001111: permission, level 3; no ISV.
	json decode esr 0x8200000f --json -- ec=32 class='"instruction-abort-lower"' \
		fault='"permission"' level=3 isv=false wnr=false access_bytes='!absent' \
		reg='!absent'
	# DFSC=0b001011: access flag fault, level 3, read, x0.
	json decode esr 0x93c0800b --json -- fault='"access-flag"' level=3 wnr=false reg=0
	# IPA = (HPFAR[43:4] << 8) | FAR[11:0].
	json decode esr 0x93c28046 --far 0x63000123 --hpfar 0x630000 --json -- \
		ipa='"0x63000123"' far='"0x63000123"'
	json decode esr 0x93c28046 --hpfar 0x630000 --far 0x63000fff --json -- \
		ipa='"0x63000fff"'
	# EC=0x25, 0x21: from the same EL.
	json decode esr 0x96000046 --json -- ec=37 class='"data-abort-same"' \
		fault='"translation"' level=2 wnr=true isv=false
	json decode esr 0x86000007 --json -- ec=33 class='"instruction-abort-same"' \
		fault='"translation"' level=3
	# DFSC=0b000011: address size fault, level 3; 0x21 alignment; 0x10 external abort.
	json decode esr 0x92000003 --json -- fault='"address-size"' level=3
	json decode esr 0x92000021 --json -- fault='"alignment"' level=null
	json decode esr 0x92000010 --json -- fault='"external"' level=null
	# S1PTW (bit 7), CM (bit 8), EA (bit 9), FnV (bit 10).
	json decode esr 0x92000786 --json -- s1ptw=true cm=true ea=true fnv=true \
		fault='"translation"' level=2
	# SSE (bit 21), AR (bit 14), SAS=01 (2 bytes), SRT=31, SF=0.
	json decode esr 0x937f4007 --json -- isv=true access_bytes=2 sign_extend=true reg=31 \
		reg64=false acqrel=true
	# EC=0x16 (HVC): not an abort, still decoded as far as it goes.
	json decode esr 0x5a000000 --json -- ec=22 class='"other"' fault='!absent'
	# Text form.
	ok decode esr 0x93c28046 --hpfar 0x630000 --far 0x63000123 &&
		has 'data-abort-lower' && has 'translation, level 2' && has 'ipa +0x63000123'
	refused "missing the ESR_EL2 value" decode esr
	refused "unexpected argument '0x2'" decode esr 0x1 0x2
	refused "unknown option '--bogus'" decode esr 0x93c28046 --bogus
	refused "--far: 'zz'" decode esr 0x93c28046 --far zz
	refused "--hpfar needs a value" decode esr 0x93c28046 --hpfar
}

# Everything the syndrome holds (s2_esr_describe), values worked out by hand from the Arm ARM
# ESR_EL2 layout (see tests/vectors/esr.txt for the bit arithmetic).
group_esr_full() {
	# VNCR (bit 13): data abort, translation L3, ISV=0 so FnP exists (clear).
	json decode esr 0x92002007 --json -- vncr=true fnp=false set=null fault='"translation"' \
		level=3 iss='"0x2007"' ec_name='"DABT (lower EL)"'
	# SET (bits [12:11]) with DFSC 0b010000: 0b10 UC; EA set. On an instruction abort 0b11.
	json decode esr 0x92001210 --json -- fault='"external"' set='"UC (uncontainable)"' \
		ea=true level=null
	json decode esr 0x82001810 --json -- class='"instruction-abort-lower"' \
		set='"UEO (restartable)"' fnp=null vncr=false
	json decode esr 0x92000810 --json -- set='"reserved"'
	# FnP (bit 15) with ISV=0; with ISV=1 bit 15 is SF and FnP does not apply.
	json decode esr 0x92008010 --json -- fnp=true isv=false set='"UER (recoverable)"'
	json decode esr 0x93c28046 --json -- fnp=null reg64=true
	# Granule protection faults (FEAT_RME) with their level, -1..3; not on a walk: no level.
	json decode esr 0x92000023 --json -- fault='"gpf-walk"' level=-1
	json decode esr 0x92000024 --json -- fault='"gpf-walk"' level=0
	json decode esr 0x82000027 --json -- fault='"gpf-walk"' level=3
	json decode esr 0x92000028 --json -- fault='"gpf"' level=null
	# FEAT_LPA2 level -1 and level 0 codes.
	json decode esr 0x9200002b --json -- fault='"translation"' level=-1
	json decode esr 0x92000029 --json -- fault='"address-size"' level=-1
	json decode esr 0x92000013 --json -- fault='"external-walk"' level=-1
	json decode esr 0x9200001b --json -- fault='"parity-walk"' level=-1
	json decode esr 0x92000008 --json -- fault='"access-flag"' level=0
	json decode esr 0x9200000c --json -- fault='"permission"' level=0
	# Reserved codes are reserved; tag check, parity, atomic update, IMPDEF have names.
	json decode esr 0x92000019 --json -- fault='"reserved"' level=null
	json decode esr 0x9200003f --json -- fault='"reserved"' level=null
	json decode esr 0x92000011 --json -- fault='"tag-check"'
	json decode esr 0x92000018 --json -- fault='"parity"'
	json decode esr 0x92000031 --json -- fault='"atomic-hw-update"'
	json decode esr 0x92000035 --json -- fault='"impdef-exclusive-atomic"'
	# ISS2 (ESR_EL2[55:32]): Overlay and DirtyBit; then every flag and Xs=31.
	json decode esr 0x000000609200000f --json -- iss2='"0x60"' overlay=true dirty_bit=true \
		gcs=false xs=0 fault='"permission"' level=3
	json decode esr 0x00000fff9200000f --json -- xs=31 dirty_bit=true overlay=true \
		assured_only=true gcs=true tag_access=true tnd=true hdbssf=true
	# RES0 bits [63:56] are shown, not dropped.
	json decode esr 0xff00000092000007 --json -- res0_bits='"0xff00000000000000"'
	# Every exception class has its name (Linux's esr_class_str spelling).
	json decode esr 0x5a001234 --json -- ec=22 ec_name='"HVC (AArch64)"' class='"other"' \
		iss='"0x1234"' fault='!absent'
	json decode esr 0x5e000000 --json -- ec_name='"SMC (AArch64)"'
	json decode esr 0x62300c04 --json -- ec_name='"MSR/MRS (AArch64)"'
	json decode esr 0x06000000 --json -- ec_name='"WFI/WFE"'
	json decode esr 0x66000000 --json -- ec_name='"SVE"'
	json decode esr 0xf2000800 --json -- ec_name='"BRK (AArch64)"'
	json decode esr 0xbe000000 --json -- ec_name='"SError"'
	json decode esr 0x0a000000 --json -- ec=2 ec_name='"UNRECOGNIZED EC"'
	# Text form.
	ok decode esr 0x92001210 && has 'set +2 UC \(uncontainable\)' && has 'ea +1'
	ok decode esr 0x92002007 && has 'vncr +1' && has 'fnp +0'
	ok decode esr 0x92000023 && has 'gpf-walk, level -1'
	ok decode esr 0x5a001234 && has 'ec +0x16 HVC \(AArch64\)' && has 'iss +0x0001234'
	ok decode esr 0x9200003f && has 'fault +reserved \(fsc 0x3f\)'
}

# Every kind of register the tool knows can be decoded with `decode`.
group_decode_kinds() {
	# HPFAR_EL2.FIPA [43:4] = IPA[51:12]; FAR adds [11:0].
	json decode hpfar 0x630010 --json -- ipa_page='"0x63001000"' fipa='"0x63001"' ns=false \
		ipa='!absent'
	json decode hpfar 630010 --far 0xffff000000000abc --json -- ipa='"0x63001abc"'
	json decode hpfar 0x8000000000000010 --json -- ns=true ipa_page='"0x1000"'
	json decode hpfar 0xfffffffffff0 --json -- ipa_page='"0xffffffffff000"'
	json decode hpfar 0x1000000000000f --json -- res0_bits='"0x1000000000000f"' \
		ipa_page='"0x0"'
	ok decode hpfar 0x630010 --far 0x123 && has 'ipa +0x63001123'
	# `decode vtcr` is `vtcr --decode`.
	json decode vtcr 0x80023558 --json -- vtcr='"0x80023558"' t0sz=24 start_level=1 \
		root_tables=2
	json decode vtcr 80023558 --json -- vtcr='"0x80023558"'
	ok decode vtcr 0x80023558 && has '^VTCR_EL2 0x0000000080023558$'
	# 64K with T0SZ 12 under FEAT_LPA (PS 52) and T0SZ 13: accepted.
	json decode vtcr 0x8006758c --json -- ipa_bits=52 pa_bits=52 granule='"64k"' lpa=true \
		start_level=1
	json decode vtcr 0x8006758d --json -- ipa_bits=51 pa_bits=52 start_level=1
	# An IPA larger than PS: refused, with the reason.
	refused "larger than the output size (PS)" decode vtcr 0x80023590
	refused "larger than the output size (PS)" vtcr --decode 0x8005758c
	refused "TG0=0b11 is reserved" decode vtcr 0x8002f558
	refused "PS=0b111 is reserved" vtcr --decode 0x80073558
	refused "needs DS=1" decode vtcr 0x8006358c
	refused "does not fit T0SZ" decode vtcr 0x80023518
	refused "missing the VTCR_EL2 value" decode vtcr
	refused "missing the HPFAR_EL2 value" decode hpfar
	refused "unexpected argument" decode vtcr 0x80023558 0x1
	refused "unknown option '--pa-bits'" decode vtcr 0x80023558 --pa-bits 40
	refused "unknown kind 'foo': esr, hpfar, pte or vtcr" decode foo
}

group_pte() {
	# 4K L3 page: OA 0x40100000, MemAttr 0b1111 (Normal WB), S2AP RW, SH inner (11), AF,
	# XN[1] (bit 54).
	json decode pte 0x00400000401007ff --granule 4k --level 3 --json -- \
		pte='"0x400000401007ff"' kind='"page"' oa='"0x40100000"' memattr='"0b1111"' \
		memtype='"normal-wb"' s2ap='"rw"' sh=3 af=true xn=2 nt=false dbm=false \
		contig=false sw=0 pbha=0 owner='!absent'
	# 4K L2 block: OA 0x80200000, MemAttr 0b0001 (Device-nGnRE), S2AP RO, AF, Contiguous, XN.
	json decode pte 0x0050000080200445 --granule 4k --level 2 --json -- kind='"block"' \
		oa='"0x80200000"' memattr='"0b0001"' memtype='"device-ngnre"' s2ap='"ro"' sh=0 \
		af=true contig=true xn=2
	# 4K L2 block with nT (bit 16, blocks only: in a page it is an address bit), DBM (51),
	# SW0|SW1 (55, 56), PBHA 0b1010 (62..59), S2AP WO, MemAttr 0b0101 (Normal-NC), AF.
	json decode pte 0x5188000080210495 --granule 4k --level 2 --json -- kind='"block"' \
		oa='"0x80200000"' nt=true dbm=true sw=3 pbha=10 s2ap='"wo"' memattr='"0b0101"' \
		memtype='"normal-nc"' af=true sh=0 contig=false
	# Table at L1: next-level table address.
	json decode pte 0x0000000041234003 --granule 4k --level 1 --json -- kind='"table"' \
		oa='"0x41234000"' memattr='!absent'
	# Invalid descriptor annotated with owner 5 in bits [9:2].
	json decode pte 0x14 --granule 4k --level 3 --json -- kind='"invalid"' owner=5 \
		oa='!absent'
	json decode pte 0 --granule 16k --level 2 --json -- kind='"invalid"' owner=0
	# bits[1:0]=01 at level 3 is reserved; a 1G block at 4K L1 is legal; a 64G block at 16K
	# L1 only with DS.
	json decode pte 0x401 --granule 4k --level 3 --json -- kind='"reserved"'
	json decode pte 0x40000401 --granule 4k --level 1 --json -- kind='"block"' \
		oa='"0x40000000"'
	json decode pte 0x1000000401 --granule 16k --level 1 --json -- kind='"reserved"'
	json decode pte 0x1000000401 --granule 16k --level 1 --ds --json -- kind='"block"' \
		oa='"0x1000000000"'
	# LPA2 (DS=1): OA[51:50] in bits [9:8]; shareability then comes from VTCR_EL2.SH0.
	json decode pte 0x0000000040000743 --granule 4k --level 3 --ds --json -- \
		kind='"page"' oa='"0xc000040000000"' s2ap='"ro"' af=true sh=0 ds=true
	# 64K L3 page, Device-nGnRnE, inner shareable.
	json decode pte 0x0000000040010743 --granule 64k --level 3 --json -- kind='"page"' \
		oa='"0x40010000"' memattr='"0b0000"' memtype='"device-ngnrne"' sh=3
	# FWB: MemAttr 0b0110 forces Normal WB; without FWB it is outer NC / inner WT.
	json decode pte 0x00000000401007db --granule 4k --level 3 --fwb --json -- \
		memattr='"0b0110"' memtype='"normal-wb"' fwb=true
	json decode pte 0x00000000401007db --granule 4k --level 3 --json -- \
		memattr='"0b0110"' memtype='"mixed"'
	# Text form.
	ok decode pte 0x00400000401007ff --granule 4k --level 3 &&
		has 'kind +page' && has 'oa +0x40100000' && has 'memattr +0b1111 normal-wb' &&
		has 's2ap +rw'
	refused "--level: 4 is out of range" decode pte 0x3 --granule 4k --level 4
	refused "--level: -2 is out of range" decode pte 0x3 --granule 4k --level -2
	refused "--level -1 exists only" decode pte 0x3 --granule 4k --level -1
	refused "--level 0 does not exist" decode pte 0x3 --granule 64k --level 0
	refused "--ds applies to the 4k and 16k" decode pte 0x3 --granule 64k --level 3 --ds
	refused "missing --level" decode pte 0x3 --granule 4k
	refused "missing --granule" decode pte 0x3 --level 3
	refused "missing the descriptor value" decode pte --granule 4k --level 3
	refused "descriptor: '0xzz'" decode pte 0xzz --granule 4k --level 3
	refused "unexpected argument" decode pte 0x3 0x4 --granule 4k --level 3
}

group_errors() {
	refused "--pa-bits: 'abc' is not a number" vtcr --pa-bits abc --ipa-bits 40 --granule 4k
	refused "not a number" vtcr --pa-bits 40abc --ipa-bits 40 --granule 4k
	refused "not a number" vtcr --pa-bits 4O --ipa-bits 40 --granule 4k
	refused "not a number" vtcr --pa-bits "" --ipa-bits 40 --granule 4k
	refused "not a number" vtcr --pa-bits 0x --ipa-bits 40 --granule 4k
	refused "not a number" vtcr --pa-bits " 40" --ipa-bits 40 --granule 4k
	refused "not a number" vtcr --pa-bits -40 --ipa-bits 40 --granule 4k
	refused "not a number" vtcr --pa-bits +40 --ipa-bits 40 --granule 4k
	refused "out of range" vtcr --pa-bits 65 --ipa-bits 40 --granule 4k
	refused "out of range" vtcr --pa-bits 4294967336 --ipa-bits 40 --granule 4k
	# Register values are hexadecimal, with or without 0x; an all-digit value is hex, never
	# decimal (92000046 is 0x92000046, a data abort; as decimal it would be EC 0x15, SVC).
	json decode esr 93c28046 --json -- esr='"0x93c28046"' ec=36
	json decode esr 92000046 --json -- esr='"0x92000046"' ec=36 fault='"translation"' level=2
	json decode esr 0x92000046 --hpfar 630000 --far 63000123 --json -- ipa='"0x63000123"'
	json decode pte 400000401007ff --granule 4k --level 3 --json -- oa='"0x40100000"'
	json vtcr --decode 80023558 --json -- vtcr='"0x80023558"' ipa_bits=40
	json vtcr --mmfr0 12200000005 --mmfr1 20 --ipa-bits 42 --granule 64k --json -- \
		vtcr='"0x800d7556"'
	# Bit counts stay decimal.
	json vtcr --pa-bits 40 --ipa-bits 40 --granule 4k --vmid-bits 16 --json -- ipa_bits=40
	refused "does not fit in 64 bits" decode esr 0x1ffffffffffffffff
	refused "does not fit in 64 bits" decode esr 10000000000000000
	refused "is not a hexadecimal value" decode esr 0x
	refused "is not a hexadecimal value" decode esr ""
	refused "is not a hexadecimal value" decode esr -- -1
	refused "is not a hexadecimal value" decode esr 0x12g4
	refused "is not a hexadecimal value" decode esr " 0x1"
	refused "--far: 'x1' is not a hexadecimal value" decode esr 0x92000046 --far x1
	json decode esr ffffffffffffffff --json -- esr='"0xffffffffffffffff"'
	json decode esr 0XFFFFFFFFFFFFFFFF --json -- esr='"0xffffffffffffffff"'
	refused "needs a value" vtcr --pa-bits
	refused "needs a value" vtcr --pa-bits --ipa-bits 40 --granule 4k
	refused "unknown option '--foo'" vtcr --foo
	refused "option --json takes no value" vtcr --json=1
	refused "unknown kind 'frob'" decode frob 0x1
	refused "say what to decode" decode
	refused "unknown option" decode --json
}

# Arbitrary register values (a fixed pseudo-random sequence, mostly near-valid ones): every run
# ends with status 0 or 2, never a crash or a sanitizer report, and status 0 prints one JSON
# object.
group_robust() {
	local kind v g l rc
	python3 - >"$TMP/values" <<'PY'
import random
r = random.Random(20261121)
for _ in range(60):
    # VTCR: random fields around the valid encodings, bit 31 set, sometimes DS/SL2.
    v = r.randrange(16, 40) | r.randrange(4) << 6 | 0x3500 | r.randrange(4) << 14
    v |= r.randrange(8) << 16 | r.randrange(2) << 19 | 1 << 31 | r.randrange(4) << 32
    print("vtcr", hex(v))
    print("vtcr", hex(r.getrandbits(64)))
    # ESR: abort classes with every FSC, and anything.
    ec = r.choice([0x20, 0x21, 0x24, 0x25, r.randrange(64)])
    print("esr", hex(ec << 26 | r.getrandbits(26)))
    print("pte", hex(r.getrandbits(64)), r.choice(["4k", "16k", "64k"]), r.randrange(1, 4))
PY
	local n=0 accepted=0 refusals=0
	mkdir -p "$TMP/robust"
	while read -r kind v g l; do
		CHECKS=$((CHECKS + 1))
		n=$((n + 1))
		case $kind in
		vtcr) "$TOOL" vtcr --decode "$v" --json >"$OUT" 2>"$ERR" ;;
		esr) "$TOOL" decode esr "$v" --far 0x1234 --hpfar 0x1230 --json >"$OUT" 2>"$ERR" ;;
		pte) "$TOOL" decode pte "$v" --granule "$g" --level "$l" --json >"$OUT" 2>"$ERR" ;;
		esac
		rc=$?
		if [ $rc -eq 0 ] && [ ! -s "$ERR" ]; then
			accepted=$((accepted + 1))
			cp "$OUT" "$TMP/robust/$n.json"
		elif [ $rc -ne 2 ] || [ -s "$OUT" ] || [ "$(wc -l <"$ERR")" -ne 1 ]; then
			bad "$kind $v ${g:-} ${l:-}: exit $rc"
		else
			refusals=$((refusals + 1))
		fi
	done <"$TMP/values"
	# One python run checks every accepted output.
	CHECKS=$((CHECKS + 1))
	if ! python3 -c '
import json, sys
for p in sys.argv[1:]:
    if not isinstance(json.load(open(p)), dict):
        sys.exit(p + ": not a JSON object")
' "$TMP"/robust/*.json; then
		bad "robust: an accepted value did not print one JSON object"
	fi
	echo "cli.robust: $accepted values decoded, $refusals refused"
}

# What a first-time user tries on decode/vtcr: help in every spelling, the kind in capitals,
# an option given twice (refused rather than the last one silently winning).
group_newuser() {
	ok decode help && has '^usage: s2mmu decode esr' && has 'decode hpfar' &&
		has 'decode vtcr' && has 'hexadecimal, with or without 0x'
	ok decode vtcr --help && has '^usage: s2mmu decode'
	ok vtcr --help && has 'hexadecimal, with or without 0x' && has 'decode vtcr'
	ok --help && has 'hexadecimal'
	json decode ESR 0x92000046 --json -- fault='"translation"' level=2
	json decode Vtcr 0x80023558 --json -- ipa_bits=40
	refused "option --hpfar given twice" decode esr 0x92000046 --hpfar 0x1 --hpfar 0x2
	refused "option --far given twice" decode hpfar 0x10 --far 0x1 --far=0x2
	refused "option --level given twice" decode pte 0x3 --granule 4k --level 3 --level 2
	refused "option --granule given twice" decode pte 0x3 --granule 4k --granule 64k \
		--level 3
	refused "option --decode given twice" vtcr --decode 0x80023558 --decode 0x1
	refused "option --json given twice" decode vtcr 0x80023558 --json --json
	refused "option --pa-bits given twice" vtcr --pa-bits 40 --pa-bits 48 --ipa-bits 40 \
		--granule 4k
	refused "--hpfar: give the HPFAR_EL2 value as the argument" decode hpfar --hpfar 0x1
}

case $GROUP in
basic | vtcr | vtcr_idregs | vtcr_decode | vtcr_refusals | esr | esr_full | decode_kinds | pte | \
	errors | robust | newuser)
	"group_$GROUP"
	;;
*)
	echo "cli_test.sh: unknown group $GROUP" >&2
	exit 2
	;;
esac

echo "cli.$GROUP: $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
