// SPDX-License-Identifier: MIT
/*
 * el2.tlb_vm - the VM layer's TLB maintenance, observed on the emulated CPU (QEMU keeps a
 * stale stage-2 entry until it is invalidated, ARCH-NOTES §3).
 *
 *  1. The guest writes 64 pages of a RAM slot (64 demand faults), then again (no fault: the
 *     translations are cached writable).
 *  2. Control: s2_vm_dirty_log_enable() with the port's TLBIs suppressed: the guest's writes
 *     go through without a fault (stale writable entries) -- a missing TLBI is visible.
 *  3. s2_vm_dirty_log_enable() with TLBIs: the guest writes every third page and reads the
 *     others: exactly the written pages take a stage-2 permission fault (resolved RELAXED),
 *     reads do not fault, and the harvested bitmap is exactly the written pages.
 *  4. s2_vm_invalidate_host_range() over the backing of pages 32..63: the guest's next read of
 *     every page faults exactly on those 32 (translation faults at level 3), which are mapped
 *     again. Control: the same with TLBIs suppressed for pages 0..15: no fault (stale), and
 *     s2_pgtable_flush_range() then makes those 16 fault.
 */
#include "el2_vmtest.h"

#define SLOT_ID 1
#define SLOT_IPA 0x100000000ULL
#define NPAGES 64

struct faults {
	uint64_t kind[4]; /* translation, permission, access flag, other */
	uint64_t outside; /* faults outside [lo, hi) */
	uint64_t lo, hi;
	int level_min, level_max;
};

static int observe(void *arg, struct el2_vmrun *r, const struct el2_exit *e,
		   const struct s2_abort_result *res)
{
	struct faults *f = arg;

	if (res)
		return 0;
	if (s2_ipa_val(e->abt.ipa) < SLOT_IPA || s2_ipa_val(e->abt.ipa) >= SLOT_IPA + NPAGES * 4096)
		return 0;
	switch (e->abt.fault) {
	case S2_FAULT_TRANSLATION:
		f->kind[0]++;
		break;
	case S2_FAULT_PERMISSION:
		f->kind[1]++;
		break;
	case S2_FAULT_ACCESS_FLAG:
		f->kind[2]++;
		break;
	default:
		f->kind[3]++;
	}
	if (s2_ipa_val(e->abt.ipa) < f->lo || s2_ipa_val(e->abt.ipa) >= f->hi)
		f->outside++;
	if (e->abt.level < f->level_min)
		f->level_min = e->abt.level;
	if (e->abt.level > f->level_max)
		f->level_max = e->abt.level;
	return 0;
}

static struct faults f;

static void reset(uint64_t lo_page, uint64_t hi_page)
{
	f = (struct faults){ .lo = SLOT_IPA + lo_page * 4096,
			     .hi = SLOT_IPA + hi_page * 4096,
			     .level_min = 9,
			     .level_max = -9 };
}

static uint64_t total(void)
{
	return f.kind[0] + f.kind[1] + f.kind[2] + f.kind[3];
}

/* Guest: write pages whose bit is set in @map, read the others. */
static int access(struct el2_vt *t, const uint64_t *map, uint64_t value)
{
	t->args[0] = value;
	t->args[1] = map[0];
	return el2_vt_call(t, (const void *)guest_vm_access, SLOT_IPA, NPAGES, 4096,
			   (uintptr_t)t->args);
}

int el2_test_main(void)
{
	struct s2_caps caps;
	struct el2_vt t;
	uint64_t all = ~0ULL, third = 0, bitmap[1], nr, unmapped;
	uint8_t *back;

	el2_vt_caps(&caps);
	el2_el1_setup();
	for (unsigned int i = 0; i < NPAGES; i += 3)
		third |= 1ULL << i;
	back = el2_guest_ram_alloc(NPAGES * 4096, 4096);
	if (!back || el2_vt_create(&t, &caps, 40, S2_GRANULE_4K, 0) ||
	    el2_vt_slot(&t, SLOT_ID, SLOT_IPA, NPAGES * 4096, (uintptr_t)back, S2_HOSTMEM_NORMAL, 0,
			0))
		el2_exit(1);
	t.run.observe = observe;
	t.run.observe_arg = &f;

	/* 1. Demand faults, then a warm TLB. */
	reset(0, NPAGES);
	EL2_CHECK_EQ(access(&t, &all, 0x100), 0);
	EL2_CHECK_EQ(f.kind[0], NPAGES);
	EL2_CHECK_EQ(total(), NPAGES);
	reset(0, NPAGES);
	EL2_CHECK_EQ(access(&t, &all, 0x200), 0);
	EL2_CHECK_EQ(total(), 0);

	/* 2. Control: write-protect without TLBI: the writes are not seen. */
	el2_port_counters.tlbi_off = true;
	EL2_CHECK_EQ(s2_vm_dirty_log_enable(&t.vm, SLOT_ID, false), 0);
	el2_port_counters.tlbi_off = false;
	reset(0, NPAGES);
	EL2_CHECK_EQ(access(&t, &all, 0x300), 0);
	el2_printf("control: %llu of %d writes faulted after write-protect without TLBI\n",
		   (unsigned long long)total(), NPAGES);
	EL2_CHECK_EQ(total(), 0);
	EL2_CHECK_EQ(s2_vm_dirty_log_get(&t.vm, SLOT_ID, bitmap, 1, &nr), 0);
	EL2_CHECK_EQ(nr, 0); /* the hardware wrote through stale entries: nothing logged */
	EL2_CHECK_EQ(s2_vm_dirty_log_disable(&t.vm, SLOT_ID), 0);

	/* 3. Write-protect for dirty logging, with the engine's TLBIs. */
	uint64_t tlbis = el2_port_counters.tlbi_ipa + el2_port_counters.tlbi_vmid;
	EL2_CHECK_EQ(s2_vm_dirty_log_enable(&t.vm, SLOT_ID, false), 0);
	EL2_CHECK(el2_port_counters.tlbi_ipa + el2_port_counters.tlbi_vmid > tlbis);
	reset(0, NPAGES);
	EL2_CHECK_EQ(access(&t, &third, 0x400), 0);
	EL2_CHECK_EQ(f.kind[1], (uint64_t)__builtin_popcountll(third));
	EL2_CHECK_EQ(total(), (uint64_t)__builtin_popcountll(third));
	EL2_CHECK_EQ(f.level_max, 3);
	EL2_CHECK_EQ(f.level_min, 3);
	EL2_CHECK_EQ(s2_vm_dirty_log_get(&t.vm, SLOT_ID, bitmap, 1, &nr), 0);
	EL2_CHECK_EQ(bitmap[0], third);
	EL2_CHECK_EQ(nr, (uint64_t)__builtin_popcountll(third));
	for (unsigned int i = 0; i < NPAGES; i++) {
		uint64_t v = ((volatile uint64_t *)(back + i * 4096))[0];
		EL2_CHECK_EQ(v, ((third >> i) & 1) ? 0x400 + i : 0x300 + i);
	}
	EL2_CHECK_EQ(s2_vm_dirty_log_disable(&t.vm, SLOT_ID), 0);

	/* 4. Host invalidation of pages 32..63: exactly those fault on the next read. */
	EL2_CHECK_EQ(s2_vm_invalidate_host_range(&t.vm, s2_pa((uintptr_t)back + 32 * 4096),
						 32 * 4096, &unmapped),
		     0);
	EL2_CHECK_EQ(unmapped, 32 * 4096);
	reset(32, NPAGES);
	EL2_CHECK_EQ(el2_vt_call(&t, (const void *)guest_vm_read, SLOT_IPA, NPAGES, 4096, 0), 0);
	EL2_CHECK_EQ(f.kind[0], 32);
	EL2_CHECK_EQ(total(), 32);
	EL2_CHECK_EQ(f.outside, 0);
	EL2_CHECK_EQ(f.level_min, 3);
	EL2_CHECK_EQ(f.level_max, 3);

	/* Control: invalidation without TLBI is not seen until the range is flushed. */
	el2_port_counters.tlbi_off = true;
	EL2_CHECK_EQ(
		s2_vm_invalidate_host_range(&t.vm, s2_pa((uintptr_t)back), 16 * 4096, &unmapped),
		0);
	el2_port_counters.tlbi_off = false;
	EL2_CHECK_EQ(unmapped, 16 * 4096);
	reset(0, 16);
	EL2_CHECK_EQ(el2_vt_call(&t, (const void *)guest_vm_read, SLOT_IPA, 16, 4096, 0), 0);
	EL2_CHECK_EQ(total(), 0);
	s2_pgtable_flush_range(&t.vm.pgt, s2_ipa(SLOT_IPA), 16 * 4096);
	reset(0, 16);
	EL2_CHECK_EQ(el2_vt_call(&t, (const void *)guest_vm_read, SLOT_IPA, 16, 4096, 0), 0);
	EL2_CHECK_EQ(f.kind[0], 16);
	EL2_CHECK_EQ(total(), 16);
	EL2_CHECK_EQ(f.outside, 0);
	EL2_CHECK_EQ(s2_pgtable_check(&t.vm.pgt, NULL), 0);
	el2_vt_destroy(&t);
	el2_check_done("el2.tlb_vm");
}
