// SPDX-License-Identifier: MIT
/*
 * el2.demand_paging - demand faulting through the VM layer on the emulated CPU.
 *
 * A 16 MiB RAM slot (4096 4K pages) whose backing the host filled with a pattern before the
 * run; the guest reads every page (first and last word) and writes one word. Every stage-2
 * fault goes through s2_vm_handle_abort(). Just before each is handled, the reference walker
 * (s2_walk over the same tables) predicts the fault: its kind and level must be what ESR_EL2
 * says. Then:
 *  - 4K-backed slot (backing_page_size 4K): one translation fault per page (4096), each
 *    resolved by a 4K mapping (MAPPED, map_size 4K), at level 2 for the first page of each
 *    2 MiB (no last-level table yet) and level 3 for the others (Arm ARM D8.3: the fault is
 *    reported at the level of the invalid descriptor);
 *  - 2M-backed slot over the same memory (a second VM): one fault per 2 MiB (8), each mapped
 *    with a level-2 block; the same data is read back.
 * Prints the fault round trip (guest fault -> s2_vm_handle_abort -> ERET) for the bench.
 */
#include "el2_vmtest.h"

#define SLOT_ID 1
#define SLOT_IPA 0x100000000ULL
#define SLOT_BYTES (16ULL << 20)
#define PAGES (SLOT_BYTES / 4096)
#define PATTERN 0x5a5aa5a5c3c33c3cULL

struct predict {
	uint64_t slot_faults, mismatches, walk_errors, level_hist[4], map_sizes_wrong;
	uint64_t expect_map_size;
	struct s2_walk_result pred;
};

static int observe(void *arg, struct el2_vmrun *r, const struct el2_exit *e,
		   const struct s2_abort_result *res)
{
	struct predict *p = arg;
	struct s2_vm *vm = r->vcpu->vm;
	uint64_t ipa = s2_ipa_val(e->abt.ipa);

	if (ipa < SLOT_IPA || ipa >= SLOT_IPA + SLOT_BYTES)
		return 0;
	if (!res) {
		struct s2_access acc = { .type = e->abt.wnr ? S2_ACCESS_WRITE : S2_ACCESS_READ };

		if (e->abt_err || s2_walk(&vm->pgt.cfg, vm->pgt.root_pa, &el2_vt_mem, s2_ipa(ipa),
					  acc, &p->pred)) {
			p->walk_errors++;
			return 0;
		}
		p->slot_faults++;
		if (p->pred.fault != e->abt.fault || p->pred.level != e->abt.level) {
			if (p->mismatches++ < 4)
				el2_printf("ipa 0x%llx: ESR says %s level %d, walker %s level %d\n",
					   (unsigned long long)ipa, s2_fault_name(e->abt.fault),
					   e->abt.level, s2_fault_name(p->pred.fault),
					   p->pred.level);
		}
		if (e->abt.level >= 0 && e->abt.level <= 3)
			p->level_hist[e->abt.level]++;
		return 0;
	}
	if (res->action != S2_ABORT_RESUME || res->resume != S2_RESUME_MAPPED ||
	    res->map_size != p->expect_map_size)
		p->map_sizes_wrong++;
	return 0;
}

static void fill(uint8_t *back)
{
	for (uint64_t i = 0; i < PAGES; i++) {
		volatile uint64_t *w = (volatile uint64_t *)(back + i * 4096);

		w[0] = PATTERN ^ i;
		w[4096 / 8 - 1] = ~(PATTERN ^ i);
		w[1] = 0;
	}
}

static void run(const struct s2_caps *caps, uint8_t *back, uint64_t backing_page_size)
{
	struct el2_vt t;
	struct predict p = { .expect_map_size = backing_page_size };
	struct s2_lookup lk;
	uint64_t t0, ticks, freq = el2_counter_freq();
	uint64_t expect = SLOT_BYTES / backing_page_size;

	if (el2_vt_create(&t, caps, 40, S2_GRANULE_4K, 0)) {
		EL2_CHECK(0);
		return;
	}
	EL2_CHECK_EQ(el2_vt_slot(&t, SLOT_ID, SLOT_IPA, SLOT_BYTES, (uintptr_t)back,
				 S2_HOSTMEM_NORMAL, backing_page_size, 0),
		     0);
	/* Warm up: code and scratch pages faulted in, so the timed run sees only slot faults. */
	EL2_CHECK_EQ(el2_vt_call(&t, (const void *)guest_vm_read, (uintptr_t)t.args, 1, 8, 0), 0);
	t.run.observe = observe;
	t.run.observe_arg = &p;
	t.run.st = (struct el2_vmrun_stats){ 0 };
	t0 = el2_counter();
	EL2_CHECK_EQ(el2_vt_call(&t, (const void *)guest_vm_check, SLOT_IPA, PAGES, 4096, PATTERN),
		     0);
	ticks = el2_counter() - t0;
	uint64_t handle_ticks = t.run.st.handle_ticks;
	EL2_CHECK_EQ(t.run.regs.x[0], GUEST_OK);
	EL2_CHECK_EQ(p.walk_errors, 0);
	EL2_CHECK_EQ(p.mismatches, 0);
	EL2_CHECK_EQ(p.map_sizes_wrong, 0);
	EL2_CHECK_EQ(p.slot_faults, expect);
	EL2_CHECK_EQ(t.run.st.aborts, expect);
	EL2_CHECK_EQ(t.run.st.resume[S2_RESUME_MAPPED], expect);
	/* 4K/40 starts at level 1. The very first access finds the level-1 entry of the new
	 * 1 GiB empty (level 1), the first page of each further 2 MiB an empty level-2 entry
	 * (level 2), every other page an empty level-3 entry (level 3). */
	EL2_CHECK_EQ(p.level_hist[0], 0);
	EL2_CHECK_EQ(p.level_hist[1], 1);
	EL2_CHECK_EQ(p.level_hist[2], (SLOT_BYTES >> 21) - 1);
	EL2_CHECK_EQ(p.level_hist[3], backing_page_size == 4096 ? PAGES - (SLOT_BYTES >> 21) : 0);
	/* What the tables hold now, and the guest's writes in the backing. */
	EL2_CHECK_EQ(s2_pgtable_lookup(&t.vm.pgt, s2_ipa(SLOT_IPA + 0x345000), &lk), 0);
	EL2_CHECK(lk.valid);
	EL2_CHECK_EQ(lk.level, backing_page_size == 4096 ? 3 : 2);
	EL2_CHECK_EQ(s2_pa_val(lk.pa), (uintptr_t)back + 0x345000);
	uint64_t bad = 0;
	for (uint64_t i = 0; i < PAGES; i++)
		bad += ((volatile uint64_t *)(back + i * 4096))[1] != i + 1;
	EL2_CHECK_EQ(bad, 0);
	/* A second pass faults no more. */
	t.run.st = (struct el2_vmrun_stats){ 0 };
	EL2_CHECK_EQ(el2_vt_call(&t, (const void *)guest_vm_read, SLOT_IPA, PAGES, 4096, 0), 0);
	EL2_CHECK_EQ(t.run.st.aborts, 0);
	EL2_CHECK_EQ(s2_pgtable_check(&t.vm.pgt, NULL), 0);
	el2_printf("demand_paging %lluK-backed: %llu faults in %llu us (with the walker's "
		   "prediction), %llu ns each in s2_vm_handle_abort\n",
		   (unsigned long long)(backing_page_size >> 10), (unsigned long long)expect,
		   (unsigned long long)(ticks * 1000000 / freq),
		   (unsigned long long)(handle_ticks * 1000000000 / freq / expect));
	el2_vt_destroy(&t);
}

/* The fault round trip alone (no observer): guest load -> stage-2 translation fault ->
 * s2_vm_handle_abort() maps a 4K page -> ERET -> the load completes. */
static void bench(const struct s2_caps *caps, uint8_t *back, uint64_t cfg_flags)
{
	struct el2_vt t;
	uint64_t t0, ticks, freq = el2_counter_freq();
	uint64_t lines = el2_port_counters.dcache_lines;

	if (el2_vt_create(&t, caps, 40, S2_GRANULE_4K, cfg_flags) ||
	    el2_vt_slot(&t, SLOT_ID, SLOT_IPA, SLOT_BYTES, (uintptr_t)back, S2_HOSTMEM_NORMAL, 4096,
			0)) {
		EL2_CHECK(0);
		return;
	}
	EL2_CHECK_EQ(el2_vt_call(&t, (const void *)guest_vm_read, (uintptr_t)t.args, 1, 8, 0), 0);
	t.run.st = (struct el2_vmrun_stats){ 0 };
	lines = el2_port_counters.dcache_lines;
	t0 = el2_counter();
	EL2_CHECK_EQ(el2_vt_call(&t, (const void *)guest_vm_read, SLOT_IPA, PAGES, 4096, 0), 0);
	ticks = el2_counter() - t0;
	EL2_CHECK_EQ(t.run.st.aborts, PAGES);
	/* Without FWB every new 4K mapping is cleaned to PoC (64-byte lines: 64 DC CIVAC). */
	lines = el2_port_counters.dcache_lines - lines;
	EL2_CHECK_EQ(lines, cfg_flags & S2_CFG_FWB ? 0 : PAGES * 4096 / 64);
	el2_printf("bench: el2 fault round trip via s2_vm_handle_abort, 4K page, FWB %s: "
		   "%llu faults, %llu ns per round trip, %llu ns in s2_vm_handle_abort\n",
		   cfg_flags & S2_CFG_FWB ? "on" : "off", (unsigned long long)PAGES,
		   (unsigned long long)(ticks * 1000000000 / freq / PAGES),
		   (unsigned long long)(t.run.st.handle_ticks * 1000000000 / freq / PAGES));
	el2_vt_destroy(&t);
}

int el2_test_main(void)
{
	struct s2_caps caps;
	uint8_t *back;

	el2_vt_caps(&caps);
	el2_el1_setup();
	back = el2_guest_ram_alloc(SLOT_BYTES, 2ULL << 20);
	EL2_CHECK(back != NULL);
	if (!back)
		el2_check_done("el2.demand_paging");
	fill(back);
	run(&caps, back, 4096);
	fill(back);
	run(&caps, back, 2ULL << 20);
	bench(&caps, back, 0);
	bench(&caps, back, S2_CFG_FWB);
	el2_check_done("el2.demand_paging");
}
