// SPDX-License-Identifier: MIT
/*
 * el2.aging - the access flag through the VM layer on the emulated CPU (HAFDBS = 2).
 *
 * Without VTCR_EL2.HA: pages the guest faulted in are young; s2_vm_age_host_range(clear)
 * counts and clears them (a second count finds none); after the caller's flush
 * (s2_pgtable_flush_range, which the aging contract leaves to it) the guest's next access to
 * each page takes a stage-2 Access flag fault at level 3, which s2_vm_handle_abort resolves
 * (YOUNG); then exactly the pages it touched count as young again. A locked slot is always
 * reported young and keeps its AF.
 * With VTCR_EL2.HA: the same aging, but the guest's accesses do not fault: the CPU sets AF in
 * the descriptors itself, and aging sees exactly the pages touched as young again.
 */
#include "el2_vmtest.h"

#define SLOT_ID 1
#define LOCKED_ID 2
#define SLOT_IPA 0x100000000ULL
#define LOCKED_IPA 0x180000000ULL
#define NPAGES 32

struct faults {
	uint64_t af, other, level3;
};

static struct faults f;

static int observe(void *arg, struct el2_vmrun *r, const struct el2_exit *e,
		   const struct s2_abort_result *res)
{
	if (res || s2_ipa_val(e->abt.ipa) < SLOT_IPA ||
	    s2_ipa_val(e->abt.ipa) >= SLOT_IPA + NPAGES * 4096)
		return 0;
	if (e->abt.fault == S2_FAULT_ACCESS_FLAG)
		f.af++;
	else
		f.other++;
	f.level3 += e->abt.level == 3;
	return 0;
}

static uint64_t age(struct el2_vt *t, uint8_t *back, uint64_t pages, bool clear)
{
	uint64_t young = ~0ULL;

	EL2_CHECK_EQ(
		s2_vm_age_host_range(&t->vm, s2_pa((uintptr_t)back), pages * 4096, clear, &young),
		0);
	return young;
}

static int read_pages(struct el2_vt *t, uint64_t n)
{
	f = (struct faults){ 0 };
	t->run.st = (struct el2_vmrun_stats){ 0 };
	return el2_vt_call(t, (const void *)guest_vm_read, SLOT_IPA, n, 4096, 0);
}

static void run(const struct s2_caps *caps, bool ha)
{
	struct el2_vt t;
	uint8_t *back = el2_guest_ram_alloc(NPAGES * 4096, 4096);
	uint8_t *locked = el2_guest_ram_alloc(4 * 4096, 4096);

	if (!back || !locked || el2_vt_create(&t, caps, 40, S2_GRANULE_4K, ha ? S2_CFG_HA : 0) ||
	    el2_vt_slot(&t, SLOT_ID, SLOT_IPA, NPAGES * 4096, (uintptr_t)back, S2_HOSTMEM_NORMAL, 0,
			0) ||
	    el2_vt_slot(&t, LOCKED_ID, LOCKED_IPA, 4 * 4096, (uintptr_t)locked, S2_HOSTMEM_NORMAL,
			0, 0)) {
		EL2_CHECK(0);
		return;
	}
	t.run.observe = observe;
	EL2_CHECK_EQ(s2_vm_slot_lock(&t.vm, LOCKED_ID, true), 0);

	/* Fault everything in: young. */
	EL2_CHECK_EQ(read_pages(&t, NPAGES), 0);
	EL2_CHECK_EQ(!!(t.run.entry.vtcr & S2_VTCR_HA), ha);
	EL2_CHECK_EQ(f.other, NPAGES);
	EL2_CHECK_EQ(age(&t, back, NPAGES, false), NPAGES);

	/* Age: clear, nothing young left; then the guest touches 8 pages. */
	EL2_CHECK_EQ(age(&t, back, NPAGES, true), NPAGES);
	EL2_CHECK_EQ(age(&t, back, NPAGES, false), 0);
	s2_pgtable_flush_range(&t.vm.pgt, s2_ipa(SLOT_IPA), NPAGES * 4096);
	EL2_CHECK_EQ(read_pages(&t, 8), 0);
	EL2_CHECK_EQ(f.af, ha ? 0 : 8);
	EL2_CHECK_EQ(f.level3, ha ? 0 : 8);
	EL2_CHECK_EQ(f.other, 0);
	EL2_CHECK_EQ(t.run.st.resume[S2_RESUME_YOUNG], ha ? 0 : 8);
	EL2_CHECK_EQ(age(&t, back, NPAGES, false), 8);
	EL2_CHECK_EQ(age(&t, back + 8 * 4096, NPAGES - 8, false), 0);

	/* Everything again. */
	EL2_CHECK_EQ(read_pages(&t, NPAGES), 0);
	EL2_CHECK_EQ(f.af, ha ? 0 : NPAGES - 8);
	EL2_CHECK_EQ(f.other, 0);
	EL2_CHECK_EQ(age(&t, back, NPAGES, false), NPAGES);

	/* The locked slot: young, and stays so. */
	EL2_CHECK_EQ(age(&t, locked, 4, true), 4);
	EL2_CHECK_EQ(age(&t, locked, 4, false), 4);
	el2_printf("aging HA %s: %llu access-flag faults resolved in all\n", ha ? "on" : "off",
		   (unsigned long long)t.vm.stats.young);
	EL2_CHECK_EQ(t.vm.stats.young, ha ? 0 : NPAGES);
	EL2_CHECK_EQ(s2_vm_slot_unlock(&t.vm, LOCKED_ID), 0);
	el2_vt_destroy(&t);
}

int el2_test_main(void)
{
	struct s2_caps caps;

	el2_vt_caps(&caps);
	el2_el1_setup();
	EL2_CHECK_EQ(caps.hafdbs, 2);
	run(&caps, false);
	run(&caps, true);
	el2_check_done("el2.aging");
}
