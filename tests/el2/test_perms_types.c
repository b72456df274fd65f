// SPDX-License-Identifier: MIT
/*
 * el2.perms_types - permissions and memory types through the VM layer on the emulated CPU.
 *
 *  - A 64-bit store of x3 to a read-only RAM slot is an MMIO exit (ESR_EL2.ISV: size 8,
 *    SRT 3, SF 1, WnR 1); the port hands it to the test device, which ignores it, and skips
 *    the instruction; a load then reads the slot's original data.
 *  - Loads of every size from an IPA in no slot are MMIO exits emulated against a test device
 *    (256 bytes, byte i = 0x80 + i): each register and size the syndrome gives (SRT, SAS,
 *    SSE, SF) is checked against the instruction the guest executed, and the guest gets the
 *    architectural result (LDRSB X: sign-extended to 64 bits; LDRSH W: to 32, upper half 0).
 *    Stores of three sizes reach the device with the right bytes.
 *  - A load pair (LDP) from the device and a store pair (STP) to the read-only slot carry no
 *    instruction syndrome (ESR_EL2.ISV = 0): S2_ABORT_NISV, not MMIO exits; the port injects
 *    a synchronous external data abort (EC 0x25) for each, the slot keeps its data.
 *  - A RAM slot whose host mapping is Device-nGnRE is readable (mapped Device, no exec);
 *    branching into it takes a stage-2 permission fault on the fetch, which the VM layer
 *    refuses (inject EXEC_REFUSED); a RAM slot whose host mapping is Normal-NC is Normal at
 *    stage 2 (as KVM) and a branch into it runs (the RET there returns). The port injects a
 *    synchronous external
 *    abort and the guest's *own* EL1 vector (installed by the guest) records ESR_EL1 = EC 0x21
 *    (instruction abort, same EL) | IL | IFSC 0x10, FAR_EL1 = ELR_EL1 = the branch target,
 *    SPSR_EL1 = the guest's PSTATE (EL1h, DAIF masked, BTYPE of the BLR), taken at
 *    VBAR_EL1 + 0x200 (Arm ARM D1.10.2, D17.2.37), and continues at its caller.
 */
#include "el2_vmtest.h"

#define ROM_IPA 0x20000000ULL
#define DEV_IPA 0x0a000000ULL
#define DEVCODE_IPA 0x30000000ULL
#define NCCODE_IPA 0x30001000ULL
#define ROM_VALUE 0x1122334455667788ULL
#define DEVPAGE_VALUE 0xd00dfeedULL

struct dev {
	uint8_t regs[256];
	uint64_t rom_writes, rom_last;
	unsigned int nlog;
	struct s2_mmio_access log[16];
};

static int dev_access(void *arg, uint64_t ipa, bool write, unsigned int size, uint64_t *val)
{
	struct dev *d = arg;

	if (ipa >= ROM_IPA && ipa < ROM_IPA + 4096) {
		if (!write)
			return -10;
		d->rom_writes++;
		d->rom_last = *val;
		return 0;
	}
	if (ipa < DEV_IPA || ipa + size > DEV_IPA + sizeof(d->regs))
		return -11;
	uint64_t off = ipa - DEV_IPA;
	if (write) {
		for (unsigned int k = 0; k < size; k++)
			d->regs[off + k] = (uint8_t)(*val >> (8 * k));
	} else {
		*val = 0;
		for (unsigned int k = 0; k < size; k++)
			*val |= (uint64_t)d->regs[off + k] << (8 * k);
	}
	return 0;
}

static int observe(void *arg, struct el2_vmrun *r, const struct el2_exit *e,
		   const struct s2_abort_result *res)
{
	struct dev *d = arg;

	if (res && res->action == S2_ABORT_MMIO && d->nlog < 16)
		d->log[d->nlog++] = res->mmio;
	return 0;
}

static void check_mmio(const struct s2_mmio_access *m, uint64_t ipa, bool write, unsigned int size,
		       unsigned int reg, bool sse, bool sf)
{
	EL2_CHECK_EQ(s2_ipa_val(m->ipa), ipa);
	EL2_CHECK_EQ(m->write, write);
	EL2_CHECK(m->syndrome);
	EL2_CHECK_EQ(m->size, size);
	EL2_CHECK_EQ(m->reg, reg);
	EL2_CHECK_EQ(m->sign_extend, sse);
	EL2_CHECK_EQ(m->reg64, sf);
}

/* An injected data abort taken by the probe's load/store pair at @insn, on VA @va. */
static void check_injected_data(const uint64_t *log, unsigned int k, uint64_t insn, uint64_t va)
{
	const uint64_t *ent = log + 8 * k;

	/* EC 0x25 (data abort from the same EL), IL = 1, DFSC 0x10: 0x25 << 26 | 1 << 25 | 0x10. */
	EL2_CHECK_EQ(ent[GUEST_VEC_ESR], 0x96000010ULL);
	EL2_CHECK_EQ(ent[GUEST_VEC_FAR], va);
	EL2_CHECK_EQ(ent[GUEST_VEC_ELR], insn);
	EL2_CHECK_EQ(ent[GUEST_VEC_OFFSET], 0x200);
}

static void check_injected(const uint64_t *log, unsigned int k, uint64_t target)
{
	const uint64_t *ent = log + 8 * k;

	/* EC 0x21 (instruction abort from the same EL), IL = 1, IFSC 0x10 (synchronous external
	 * abort): 0x21 << 26 | 1 << 25 | 0x10. */
	EL2_CHECK_EQ(ent[GUEST_VEC_ESR], 0x86000010ULL);
	EL2_CHECK_EQ(ent[GUEST_VEC_FAR], target);
	EL2_CHECK_EQ(ent[GUEST_VEC_ELR], target);
	/* The guest's PSTATE at the fault: EL1h, D A I F masked, and BTYPE = 0b10 ([11:10]),
	 * which the BLR into the target set (FEAT_BTI; the fault came before the target's first
	 * instruction could clear it). */
	EL2_CHECK_EQ(ent[GUEST_VEC_SPSR], 0x3c5 | (2u << 10));
	EL2_CHECK_EQ(ent[GUEST_VEC_OFFSET], 0x200);
}

int el2_test_main(void)
{
	static struct dev d;
	struct s2_caps caps;
	struct el2_vt t;
	struct s2_lookup lk;
	uint64_t *rom, *devpage, *ncpage;

	el2_vt_caps(&caps);
	el2_el1_setup();
	for (unsigned int i = 0; i < sizeof(d.regs); i++)
		d.regs[i] = (uint8_t)(0x80 + i);
	if (el2_vt_create(&t, &caps, 40, S2_GRANULE_4K, 0))
		el2_exit(1);
	rom = el2_guest_ram_alloc(4096, 4096);
	devpage = el2_guest_ram_alloc(4096, 4096);
	ncpage = el2_guest_ram_alloc(4096, 4096);
	EL2_CHECK(rom && devpage && ncpage);
	rom[0] = ROM_VALUE;
	devpage[0] = DEVPAGE_VALUE;
	/* A RET in each: were exec ever granted, the guest would just return (no log entry). */
	devpage[1] = ncpage[0] = 0xd65f03c0d65f03c0ULL;
	devpage[0] = DEVPAGE_VALUE;
	EL2_CHECK_EQ(el2_vt_slot(&t, 2, ROM_IPA, 4096, (uintptr_t)rom, S2_HOSTMEM_NORMAL, 0,
				 S2_SLOT_READONLY),
		     0);
	EL2_CHECK_EQ(el2_vt_slot(&t, 3, DEVCODE_IPA, 4096, (uintptr_t)devpage,
				 S2_HOSTMEM_DEVICE_nGnRE, 0, 0),
		     0);
	EL2_CHECK_EQ(
		el2_vt_slot(&t, 4, NCCODE_IPA, 4096, (uintptr_t)ncpage, S2_HOSTMEM_NORMAL_NC, 0, 0),
		0);

	struct guest_perms *a = (struct guest_perms *)t.args;
	*a = (struct guest_perms){ .rom = ROM_IPA,
				   .dev = DEV_IPA,
				   .device_code = DEVCODE_IPA,
				   .nc_code = NCCODE_IPA,
				   .wval = { 0x1234567890abcdefULL, 0xfedcba0987654321ULL,
					     0x0102030405060708ULL } };
	t.run.mmio = dev_access;
	t.run.mmio_arg = &d;
	t.run.observe = observe;
	t.run.observe_arg = &d;
	EL2_CHECK_EQ(el2_vt_call(&t, (const void *)guest_vm_perms, (uintptr_t)a,
				 (uintptr_t)t.shared, 0, 0),
		     0);
	EL2_CHECK_EQ(t.run.regs.x[0], GUEST_OK);

	/* The store to the read-only slot. */
	EL2_CHECK_EQ(d.rom_writes, 1);
	EL2_CHECK_EQ(d.rom_last, 0x5555);
	EL2_CHECK_EQ(rom[0], ROM_VALUE);
	EL2_CHECK_EQ(a->out[0], ROM_VALUE);
	EL2_CHECK_EQ(d.nlog, 10); /* the pairs below were never MMIO exits */
	check_mmio(&d.log[0], ROM_IPA, true, 8, 3, false, true);
	/* Device loads: what the syndrome said, and what the guest got. */
	check_mmio(&d.log[1], DEV_IPA + 0, false, 1, 5, false, false);
	check_mmio(&d.log[2], DEV_IPA + 2, false, 2, 6, false, false);
	check_mmio(&d.log[3], DEV_IPA + 4, false, 4, 7, false, false);
	check_mmio(&d.log[4], DEV_IPA + 8, false, 8, 9, false, true);
	check_mmio(&d.log[5], DEV_IPA + 0x10, false, 1, 10, true, true);
	check_mmio(&d.log[6], DEV_IPA + 0x12, false, 2, 11, true, false);
	EL2_CHECK_EQ(a->out[1], 0x80);
	EL2_CHECK_EQ(a->out[2], 0x8382);
	EL2_CHECK_EQ(a->out[3], 0x87868584);
	EL2_CHECK_EQ(a->out[4], 0x8f8e8d8c8b8a8988ULL);
	EL2_CHECK_EQ(a->out[5], 0xffffffffffffff90ULL);
	EL2_CHECK_EQ(a->out[6], 0xffff9392ULL);
	/* Device stores. */
	check_mmio(&d.log[7], DEV_IPA + 0x20, true, 1, 12, false, false);
	check_mmio(&d.log[8], DEV_IPA + 0x22, true, 2, 13, false, false);
	check_mmio(&d.log[9], DEV_IPA + 0x28, true, 8, 14, false, true);
	EL2_CHECK_EQ(d.regs[0x20], 0xef);
	EL2_CHECK_EQ(d.regs[0x21], 0xa1); /* untouched: 0x80 + 0x21 */
	EL2_CHECK_EQ(d.regs[0x22] | (uint64_t)d.regs[0x23] << 8, 0x4321);
	uint64_t w = 0;
	for (unsigned int k = 0; k < 8; k++)
		w |= (uint64_t)d.regs[0x28 + k] << (8 * k);
	EL2_CHECK_EQ(w, 0x0102030405060708ULL);

	/* LDP from the device, STP to the read-only slot: no syndrome (ISV = 0), so
	 * S2_ABORT_NISV, never an MMIO exit; the port injects a data abort for each. */
	EL2_CHECK_EQ(a->out[10], DEV_IPA + 0x30);
	EL2_CHECK_EQ(a->out[11], ROM_IPA);
	EL2_CHECK_EQ(a->out[12], 2);
	check_injected_data(t.shared, 1, (uintptr_t)guest_vm_probe_ldp, DEV_IPA + 0x30);
	check_injected_data(t.shared, 2, (uintptr_t)guest_vm_probe_stp, ROM_IPA);
	EL2_CHECK_EQ(t.run.st.nisv, 2);
	EL2_CHECK_EQ(t.vm.stats.nisv_exits, 2);
	EL2_CHECK_EQ(rom[0], ROM_VALUE);

	/* Exec from Device memory: refused, observed in the guest's vector. From RAM behind a
	 * Normal-NC host mapping (Normal at stage 2, as KVM): the RET there runs, no abort. */
	EL2_CHECK_EQ(a->out[7], DEVPAGE_VALUE);
	EL2_CHECK_EQ(a->out[8], 3);
	EL2_CHECK_EQ(a->out[9], 3);
	EL2_CHECK_EQ(t.shared[0], 3);
	check_injected(t.shared, 3, DEVCODE_IPA);
	EL2_CHECK_EQ(t.run.st.inject[S2_INJECT_EXEC_REFUSED], 1);
	EL2_CHECK_EQ(t.run.st.mmio, 10);
	EL2_CHECK_EQ(t.vm.stats.injects, 1);
	EL2_CHECK_EQ(t.vm.stats.mmio_exits, 10);
	/* The Device page is mapped without exec, the NC-host page executable, Normal WB. */
	EL2_CHECK_EQ(s2_pgtable_lookup(&t.vm.pgt, s2_ipa(DEVCODE_IPA), &lk), 0);
	EL2_CHECK(lk.valid);
	EL2_CHECK(s2_lookup_prot(lk) & S2_PROT_DEVICE);
	EL2_CHECK(!(s2_lookup_prot(lk) & S2_PROT_X));
	EL2_CHECK_EQ(s2_pgtable_lookup(&t.vm.pgt, s2_ipa(NCCODE_IPA), &lk), 0);
	EL2_CHECK(lk.valid);
	EL2_CHECK(s2_lookup_prot(lk) & S2_PROT_X);
	EL2_CHECK(!(s2_lookup_prot(lk) & (S2_PROT_DEVICE | S2_PROT_NORMAL_NC)));
	/* The read-only slot is mapped read-only. */
	EL2_CHECK_EQ(s2_pgtable_lookup(&t.vm.pgt, s2_ipa(ROM_IPA), &lk), 0);
	EL2_CHECK(lk.valid && !(s2_lookup_prot(lk) & S2_PROT_W));
	el2_vt_destroy(&t);
	el2_check_done("el2.perms_types");
}
