// SPDX-License-Identifier: MIT
/*
 * el2.boot - boot at EL2, print the ID registers, decode them with s2_caps_from_idregs() and
 * check the facts QEMU's `-cpu max` is documented to report (ARCH-NOTES §3): PARange 52 bits,
 * stage-2 granules 4K and 16K with 52-bit addresses and 64K, FEAT_S2FWB, HAFDBS = 2, 16-bit
 * VMIDs, FEAT_XNX, FEAT_BBM level 2. Raw fields are checked against the Arm ARM's field
 * positions (D19.2.64..66) independently of the decoder, then the decoder against them.
 */
#include "el2.h"
#include "sysreg.h"

static unsigned int field(uint64_t reg, unsigned int lsb)
{
	return (unsigned int)(reg >> lsb) & 0xf;
}

int el2_test_main(void)
{
	struct s2_idregs r;
	struct s2_caps caps;
	uint64_t el = (el2_read_sysreg(CurrentEL) >> 2) & 3;

	el2_read_idregs(&r);
	el2_printf("el2.boot: CurrentEL %u\n", (unsigned int)el);
	el2_printf("ID_AA64MMFR0_EL1 0x%016llx\n", (unsigned long long)r.mmfr0);
	el2_printf("ID_AA64MMFR1_EL1 0x%016llx\n", (unsigned long long)r.mmfr1);
	el2_printf("ID_AA64MMFR2_EL1 0x%016llx\n", (unsigned long long)r.mmfr2);
	el2_printf("ID_AA64PFR1_EL1  0x%016llx\n", (unsigned long long)r.pfr1);
	el2_printf("CTR_EL0          0x%016llx\n", (unsigned long long)r.ctr);
	el2_printf("CNTFRQ_EL0       %llu Hz\n", (unsigned long long)el2_counter_freq());
	EL2_CHECK_EQ(el, 2);

	/* Raw fields (Arm ARM: ID_AA64MMFR0_EL1 PARange [3:0], TGran16_2 [35:32], TGran64_2
	 * [39:36], TGran4_2 [43:40]; MMFR1 HAFDBS [3:0], VMIDBits [7:4], XNX [31:28]; MMFR2
	 * FWB [43:40], BBM [55:52]). */
	EL2_CHECK_EQ(field(r.mmfr0, 0), 6); /* PARange: 52 bits */
	EL2_CHECK_EQ(field(r.mmfr0, 40), 3); /* TGran4_2: 4K at stage 2 with 52-bit */
	EL2_CHECK_EQ(field(r.mmfr0, 32), 3); /* TGran16_2: 16K at stage 2 with 52-bit */
	EL2_CHECK_EQ(field(r.mmfr0, 36), 2); /* TGran64_2: 64K at stage 2 */
	EL2_CHECK_EQ(field(r.mmfr1, 0), 2); /* HAFDBS: access flag and dirty state */
	EL2_CHECK_EQ(field(r.mmfr1, 4), 2); /* VMIDBits: 16 */
	EL2_CHECK_EQ(field(r.mmfr1, 28), 1); /* XNX */
	EL2_CHECK_EQ(field(r.mmfr2, 40), 1); /* FWB */
	EL2_CHECK_EQ(field(r.mmfr2, 52), 2); /* BBM level 2 */

	int err = s2_caps_from_idregs(&r, &caps);
	EL2_CHECK_EQ(err, 0);
	el2_printf("caps: pa_bits %u gran 4k=%u 16k=%u 64k=%u vmid %u hafdbs %u xnx %u fwb %u "
		   "bbm %u mte %u idc %u dic %u dminline %u iminline %u\n",
		   caps.pa_bits, caps.gran[S2_GRANULE_4K], caps.gran[S2_GRANULE_16K],
		   caps.gran[S2_GRANULE_64K], caps.vmid_bits, caps.hafdbs, caps.xnx, caps.fwb,
		   caps.bbm, caps.mte, caps.idc, caps.dic, caps.dminline, caps.iminline);
	EL2_CHECK_EQ(caps.pa_bits, 52);
	EL2_CHECK_EQ(caps.gran[S2_GRANULE_4K], S2_GRAN_52);
	EL2_CHECK_EQ(caps.gran[S2_GRANULE_16K], S2_GRAN_52);
	EL2_CHECK_EQ(caps.gran[S2_GRANULE_64K], S2_GRAN_YES);
	EL2_CHECK_EQ(caps.vmid_bits, 16);
	EL2_CHECK_EQ(caps.hafdbs, 2);
	EL2_CHECK(caps.xnx);
	EL2_CHECK(caps.fwb);
	EL2_CHECK_EQ(caps.bbm, 2);
	/* No MTE without -M virt,mte=on: the field may say the CPU has it, the board does not
	 * enable tag memory; only the decode is checked. */
	EL2_CHECK_EQ(caps.mte, field(r.pfr1, 8));
	EL2_CHECK_EQ(caps.idc, (r.ctr >> 28) & 1);
	EL2_CHECK_EQ(caps.dic, (r.ctr >> 29) & 1);
	EL2_CHECK_EQ(caps.dminline, field(r.ctr, 16));
	EL2_CHECK_EQ(caps.iminline, field(r.ctr, 0));

	el2_check_done("el2.boot");
}
