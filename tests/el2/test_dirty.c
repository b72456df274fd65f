// SPDX-License-Identifier: MIT
/*
 * el2.dirty - dirty logging through the VM layer on the emulated CPU, by write faults and by
 * hardware dirty state (VTCR_EL2.HA|HD with DBM descriptors, HAFDBS = 2).
 *
 * Slot A: 2 MiB backed by a 2 MiB huge page, faulted in as one level-2 block; enabling
 * logging splits it to 512 pages (level 3) and write-protects them. Slot B: 64 pages, logging
 * enabled before the guest touched anything. In rounds, the guest writes a pseudo-random set of
 * pages and reads all others; s2_vm_dirty_log_get() must return exactly the written set.
 *  - by faults: each written page takes one stage-2 permission fault (or, in B's first round,
 *    a translation fault mapping it writable); reads map read-only and never dirty a page;
 *  - by DBM: after the first round of B (translation faults map every page), the guest's
 *    writes take no fault at all -- the CPU sets S2AP[1] -- and the harvest still equals the
 *    written set.
 * A round without writes harvests nothing.
 */
#include "el2_vmtest.h"

#define A_ID 1
#define B_ID 2
#define A_IPA 0x100000000ULL
#define B_IPA 0x140000000ULL
#define A_PAGES 512
#define B_PAGES 64

static uint64_t lcg = 0x243f6a8885a308d3ULL;

static void random_set(uint64_t *map, unsigned int pages)
{
	for (unsigned int w = 0; w < (pages + 63) / 64; w++) {
		uint64_t v = 0;
		for (unsigned int k = 0; k < 3; k++) {
			lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
			v = k ? v & (lcg >> 7) : (lcg >> 3); /* about 1 page in 8 */
		}
		map[w] = pages - w * 64 >= 64 ? v : v & ((1ULL << (pages - w * 64)) - 1);
	}
}

static unsigned int popcount(const uint64_t *map, unsigned int words)
{
	unsigned int n = 0;

	for (unsigned int w = 0; w < words; w++)
		n += (unsigned int)__builtin_popcountll(map[w]);
	return n;
}

struct faults {
	uint64_t lo, hi, translation, permission, other;
};
static struct faults f;

static int observe(void *arg, struct el2_vmrun *r, const struct el2_exit *e,
		   const struct s2_abort_result *res)
{
	if (res || s2_ipa_val(e->abt.ipa) < f.lo || s2_ipa_val(e->abt.ipa) >= f.hi)
		return 0;
	if (e->abt.fault == S2_FAULT_TRANSLATION)
		f.translation++;
	else if (e->abt.fault == S2_FAULT_PERMISSION)
		f.permission++;
	else
		f.other++;
	return 0;
}

/* One round on a slot: the guest writes @set, reads the rest; harvest and compare. */
static void round_(struct el2_vt *t, uint32_t id, uint64_t ipa, unsigned int pages, uint8_t *back,
		   const uint64_t *set, uint64_t value, uint64_t expect_tr, uint64_t expect_perm)
{
	unsigned int words = (pages + 63) / 64;
	uint64_t got[8] = { 0 }, nr = ~0ULL;

	t->args[0] = value;
	for (unsigned int w = 0; w < words; w++)
		t->args[1 + w] = set[w];
	f = (struct faults){ .lo = ipa, .hi = ipa + pages * 4096ULL };
	EL2_CHECK_EQ(
		el2_vt_call(t, (const void *)guest_vm_access, ipa, pages, 4096, (uintptr_t)t->args),
		0);
	EL2_CHECK_EQ(t->run.regs.x[0], GUEST_OK);
	EL2_CHECK_EQ(f.translation, expect_tr);
	EL2_CHECK_EQ(f.permission, expect_perm);
	EL2_CHECK_EQ(f.other, 0);
	EL2_CHECK_EQ(s2_vm_dirty_log_get(&t->vm, id, got, words, &nr), 0);
	EL2_CHECK_EQ(nr, popcount(set, words));
	unsigned int wrong = 0;
	for (unsigned int w = 0; w < words; w++) {
		if (got[w] != set[w] && wrong++ < 2)
			el2_printf("slot %u word %u: harvested 0x%llx, written 0x%llx\n", id, w,
				   (unsigned long long)got[w], (unsigned long long)set[w]);
	}
	EL2_CHECK_EQ(wrong, 0);
	for (unsigned int i = 0; i < pages; i++) {
		if ((set[i / 64] >> (i % 64)) & 1)
			EL2_CHECK_EQ(((volatile uint64_t *)(back + i * 4096))[0], value + i);
	}
}

static void run(const struct s2_caps *caps, bool dbm)
{
	struct el2_vt t;
	uint8_t *a = el2_guest_ram_alloc(A_PAGES * 4096, 2ULL << 20);
	uint8_t *b = el2_guest_ram_alloc(B_PAGES * 4096, 4096);
	uint64_t set[8], none[8] = { 0 };
	struct s2_lookup lk;

	if (!a || !b ||
	    el2_vt_create(&t, caps, 40, S2_GRANULE_4K, dbm ? S2_CFG_HA | S2_CFG_HD : 0) ||
	    el2_vt_slot(&t, A_ID, A_IPA, A_PAGES * 4096, (uintptr_t)a, S2_HOSTMEM_NORMAL,
			2ULL << 20, 0) ||
	    el2_vt_slot(&t, B_ID, B_IPA, B_PAGES * 4096, (uintptr_t)b, S2_HOSTMEM_NORMAL, 0, 0)) {
		EL2_CHECK(0);
		return;
	}
	t.run.observe = observe;

	/* A: one block, then logging splits it. */
	EL2_CHECK_EQ(el2_vt_call(&t, (const void *)guest_vm_read, A_IPA, A_PAGES, 4096, 0), 0);
	EL2_CHECK_EQ(s2_pgtable_lookup(&t.vm.pgt, s2_ipa(A_IPA + 0x1000), &lk), 0);
	EL2_CHECK(lk.valid && lk.level == 2);
	EL2_CHECK_EQ(s2_vm_dirty_log_enable(&t.vm, A_ID, dbm), 0);
	EL2_CHECK_EQ(s2_pgtable_lookup(&t.vm.pgt, s2_ipa(A_IPA + 0x1000), &lk), 0);
	EL2_CHECK(lk.valid && lk.level == 3);
	EL2_CHECK(!(s2_lookup_prot(lk) & S2_PROT_W));
	EL2_CHECK_EQ(!!(s2_lookup_prot(lk) & S2_PROT_DBM), dbm);
	for (unsigned int r = 0; r < 3; r++) {
		random_set(set, A_PAGES);
		round_(&t, A_ID, A_IPA, A_PAGES, a, set, 0x1000 * (r + 1), 0,
		       dbm ? 0 : popcount(set, 8));
	}
	round_(&t, A_ID, A_IPA, A_PAGES, a, none, 0, 0, 0);

	/* B: logging from the start. */
	EL2_CHECK_EQ(s2_vm_dirty_log_enable(&t.vm, B_ID, dbm), 0);
	random_set(set, B_PAGES);
	round_(&t, B_ID, B_IPA, B_PAGES, b, set, 0x5000, B_PAGES, 0);
	for (unsigned int r = 0; r < 2; r++) {
		random_set(set, B_PAGES);
		round_(&t, B_ID, B_IPA, B_PAGES, b, set, 0x6000 + 0x1000 * r, 0,
		       dbm ? 0 : popcount(set, 1));
	}
	round_(&t, B_ID, B_IPA, B_PAGES, b, none, 0, 0, 0);

	EL2_CHECK_EQ(s2_vm_dirty_log_disable(&t.vm, A_ID), 0);
	EL2_CHECK_EQ(s2_vm_dirty_log_disable(&t.vm, B_ID), 0);
	EL2_CHECK_EQ(s2_pgtable_check(&t.vm.pgt, NULL), 0);
	el2_printf("dirty (%s): faults %llu translation, %llu permission\n",
		   dbm ? "DBM" : "write faults", (unsigned long long)t.vm.stats.faults[0],
		   (unsigned long long)t.vm.stats.faults[1]);
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
	el2_check_done("el2.dirty");
}
