// SPDX-License-Identifier: MIT
/*
 * el2.locked - a locked memslot's deferred data-cache maintenance, on the emulated CPU.
 *
 * s2_vm_slot_lock() maps the whole 2 MiB slot at once (one level-2 block) without cleaning
 * it; the host then writes data into the slot. The next vCPU entry -- the run loop's first
 * s2_vm_vcpu_enter() -- performs the clean+invalidate to PoC of the slot exactly once: the
 * port's dcache callback is instrumented and must have issued exactly 2 MiB / line-size DC
 * CIVAC for the slot's PAs, in one call, at the first entry. The guest then reads the host's
 * data with no stage-2 fault in the slot. The next entries perform none. With FWB (the
 * hardware forces cacheability, ARCH-NOTES §1) no maintenance is due and none is issued.
 * (QEMU models no caches: what is proven here is the count and timing of the maintenance,
 * and that the data reaches the guest through the locked mapping.)
 */
#include "el2_vmtest.h"
#include "sysreg.h"

#define SLOT_ID 1
#define SLOT_IPA 0x100000000ULL
#define SLOT_BYTES (2ULL << 20)
#define PAGES (SLOT_BYTES / 4096)

static uint64_t slot_faults;

static int observe(void *arg, struct el2_vmrun *r, const struct el2_exit *e,
		   const struct s2_abort_result *res)
{
	if (!res && s2_ipa_val(e->abt.ipa) >= SLOT_IPA &&
	    s2_ipa_val(e->abt.ipa) < SLOT_IPA + SLOT_BYTES)
		slot_faults++;
	return 0;
}

static void reset_counters(void)
{
	el2_port_counters = (struct el2_port_counters){ 0 };
}

static void run(const struct s2_caps *caps, bool fwb, uint64_t pattern)
{
	uint64_t line = 4ULL << ((el2_read_sysreg(ctr_el0) >> 16) & 0xf); /* CTR_EL0.DminLine */
	uint8_t *back = el2_guest_ram_alloc(SLOT_BYTES, SLOT_BYTES);
	const struct s2_memslot *s;
	struct s2_vcpu_entry e;
	struct s2_lookup lk;
	struct el2_vt t;

	if (!back || el2_vt_create(&t, caps, 40, S2_GRANULE_4K, fwb ? S2_CFG_FWB : 0) ||
	    el2_vt_slot(&t, SLOT_ID, SLOT_IPA, SLOT_BYTES, (uintptr_t)back, S2_HOSTMEM_NORMAL,
			SLOT_BYTES, 0)) {
		EL2_CHECK(0);
		return;
	}
	/* Warm up: the guest code and scratch pages faulted in. */
	EL2_CHECK_EQ(el2_vt_call(&t, (const void *)guest_vm_check, (uintptr_t)t.args, 0, 4096, 0),
		     0);

	/* Lock: mapped now (one block), maintenance deferred. */
	reset_counters();
	EL2_CHECK_EQ(s2_vm_slot_lock(&t.vm, SLOT_ID, true), 0);
	EL2_CHECK_EQ(el2_dcache_lines_in((uintptr_t)back, SLOT_BYTES), 0);
	s = s2_vm_slot_find(&t.vm, SLOT_ID);
	EL2_CHECK(s && s->lock == S2_SLOT_LOCKED_RW);
	/* Pending either way (vm.h): the entry decides what the memory type needs. */
	EL2_CHECK_EQ(s->cmo_pending, true);
	EL2_CHECK(t.vm.pending & S2_VM_PENDING_CMO);
	EL2_CHECK_EQ(s2_pgtable_lookup(&t.vm.pgt, s2_ipa(SLOT_IPA + 0x12345), &lk), 0);
	EL2_CHECK(lk.valid && lk.level == 2 && (s2_lookup_prot(lk) & S2_PROT_W));

	/* The host writes after locking. */
	for (uint64_t i = 0; i < PAGES; i++) {
		volatile uint64_t *w = (volatile uint64_t *)(back + i * 4096);
		w[0] = pattern ^ i;
		w[4096 / 8 - 1] = ~(pattern ^ i);
	}

	/* First run: the first entry does the maintenance, once; no fault in the slot. */
	t.run.observe = observe;
	t.run.st = (struct el2_vmrun_stats){ 0 };
	slot_faults = 0;
	EL2_CHECK_EQ(el2_vt_call(&t, (const void *)guest_vm_check, SLOT_IPA, PAGES, 4096, pattern),
		     0);
	EL2_CHECK_EQ(t.run.regs.x[0], GUEST_OK);
	EL2_CHECK_EQ(slot_faults, 0);
	EL2_CHECK_EQ(t.run.st.cmo_entries, fwb ? 0 : 1);
	EL2_CHECK_EQ(t.run.st.cmo_first_entry, fwb ? 0 : 1);
	EL2_CHECK_EQ(t.run.st.cmo_bytes, fwb ? 0 : SLOT_BYTES);
	EL2_CHECK_EQ(el2_dcache_lines_in((uintptr_t)back, SLOT_BYTES), fwb ? 0 : SLOT_BYTES / line);
	EL2_CHECK(el2_port_counters.dcache_calls < EL2_DCACHE_LOG);
	EL2_CHECK_EQ(s->cmo_pending, false);
	EL2_CHECK_EQ(t.vm.pending & S2_VM_PENDING_CMO, 0);
	EL2_CHECK_EQ(t.vm.stats.cmo_deferred_bytes, fwb ? 0 : SLOT_BYTES);
	el2_printf(
		"locked (FWB %s): first entry cleaned %llu bytes with %llu DC CIVAC (line %llu)\n",
		fwb ? "on" : "off", (unsigned long long)t.run.st.cmo_bytes,
		(unsigned long long)el2_dcache_lines_in((uintptr_t)back, SLOT_BYTES),
		(unsigned long long)line);

	/* The guest's writes (p[1] = i + 1) are in the backing. */
	uint64_t bad = 0;
	for (uint64_t i = 0; i < PAGES; i++)
		bad += ((volatile uint64_t *)(back + i * 4096))[1] != i + 1;
	EL2_CHECK_EQ(bad, 0);

	/* Later entries: nothing more. */
	reset_counters();
	t.run.st = (struct el2_vmrun_stats){ 0 };
	EL2_CHECK_EQ(el2_vt_call(&t, (const void *)guest_vm_read, SLOT_IPA, PAGES, 4096, 0), 0);
	EL2_CHECK_EQ(t.run.st.cmo_entries, 0);
	EL2_CHECK_EQ(el2_dcache_lines_in((uintptr_t)back, SLOT_BYTES), 0);
	EL2_CHECK_EQ(s2_vm_vcpu_enter(&t.vcpu, &e), 0);
	EL2_CHECK_EQ(e.cmo_bytes, 0);
	EL2_CHECK_EQ(el2_dcache_lines_in((uintptr_t)back, SLOT_BYTES), 0);
	EL2_CHECK_EQ(slot_faults, 0);

	EL2_CHECK_EQ(s2_vm_slot_unlock(&t.vm, SLOT_ID), 0);
	el2_vt_destroy(&t);
}

int el2_test_main(void)
{
	struct s2_caps caps;

	el2_vt_caps(&caps);
	el2_el1_setup();
	run(&caps, false, 0x1111222233334444ULL);
	run(&caps, true, 0x5555666677778888ULL);
	el2_check_done("el2.locked");
}
