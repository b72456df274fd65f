#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The main example (`make run`): what the s2mmu tool computes for a few real cases.
# usage: examples/run-main.sh path/to/s2mmu
set -euo pipefail

TOOL=${1:?usage: run-main.sh path/to/s2mmu}
if [ ! -x "$TOOL" ]; then
	echo "run-main.sh: $TOOL is not an executable (build the s2mmu-tool target first)" >&2
	exit 1
fi

# show "explanation" ARGS...: print the explanation and the command, then run it.
show() {
	local why=$1
	shift
	printf '\n# %s\n$ s2mmu %s\n' "$why" "$*"
	"$TOOL" "$@"
}

# refused "explanation" ARGS...: the same for a request the tool must refuse (exit status 2).
refused() {
	local why=$1 rc=0
	shift
	printf '\n# %s\n$ s2mmu %s\n' "$why" "$*"
	"$TOOL" "$@" 2>&1 || rc=$?
	if [ "$rc" -ne 2 ]; then
		echo "run-main.sh: expected exit status 2, got $rc" >&2
		exit 1
	fi
	echo "(exit status 2)"
}

"$TOOL" --version

show "A 40-bit-IPA VM with 4K pages on a 40-bit host: 3 levels, 2 concatenated root tables at level 1." \
	vtcr --pa-bits 40 --ipa-bits 40 --granule 4k --vmid-bits 8

show "The host's page size does not limit the VM: 64K pages for a 42-bit VM, as JSON (2 levels from level 2)." \
	vtcr --pa-bits 48 --ipa-bits 42 --granule 64k --json

show "52-bit IPA with 4K pages needs FEAT_LPA2: DS=1, and 16 concatenated tables at level 0 instead of a level -1." \
	vtcr --pa-bits 52 --ipa-bits 52 --granule 4k --ha --hd

show "Capabilities from raw ID registers (PARange 48, no 4K at stage 2, 16-bit VMIDs, HAFDBS=2)." \
	vtcr --mmfr0 0x12200000005 --mmfr1 0x22 --mmfr2 0 --ipa-bits 42 --granule 16k --ha

refused "A VM larger than the host's physical address space is refused." \
	vtcr --pa-bits 40 --ipa-bits 48 --granule 4k

refused "So is a granule the host lacks at stage 2 (ID_AA64MMFR0_EL1.TGran4_2 = 1)." \
	vtcr --mmfr0 0x12200000005 --ipa-bits 40 --granule 4k

show "Decoding a VTCR_EL2 value read back from a hypervisor." \
	vtcr --decode 0x80023558

show "A guest write hit a missing stage-2 mapping: translation fault at level 2; HPFAR and FAR give the IPA." \
	decode esr 0x93c28046 --far 0x63000123 --hpfar 0x630000

show "A guest write to a read-only page: permission fault at level 3 (dirty tracking or copy-on-write)." \
	decode esr 0x93c4804f --json

show "An instruction fetch from an execute-never page: permission fault at level 3." \
	decode esr 0x8200000f

show "A first access to a page whose access flag is clear (ageing): access-flag fault at level 3." \
	decode esr 0x93c0800b

show "A 4K page descriptor: Normal write-back RAM, read-write, inner shareable, accessed, execute-never." \
	decode pte 0x00400000401007ff --granule 4k --level 3

show "The same MemAttr 0b0110 means forced write-back with FEAT_S2FWB." \
	decode pte 0x00000000401007db --granule 4k --level 3 --fwb --json

# The simulator (docs/sim.md): one guest's story run through the VM layer. Each access line is
# a guest load/store/fetch translated by the reference MMU model from the VM's real stage-2
# tables; the bracket lists the stage-2 faults it took (kind, level, the ESR_EL2 the hardware
# would report) and what the abort handler did (mapped a 2M block, relaxed, MMIO exit,
# injected). The dump shows the tables at the end, one line per run; the summary counts faults,
# mappings, TLB invalidations and cache maintenance. The `expect` lines of the file check it all.
printf '\n# A guest run through the simulator: demand paging with 2M blocks, MMIO exits, exec refused on Device, dirty logging.\n$ s2mmu sim examples/main.s2sim\n'
"$TOOL" sim "$(dirname "$0")/main.s2sim"
