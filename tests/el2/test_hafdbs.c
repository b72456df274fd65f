// SPDX-License-Identifier: MIT
/*
 * el2.hafdbs - the access flag and dirty state at stage 2, on the emulated CPU (HAFDBS = 2).
 *
 * 1. Without VTCR_EL2.HA, a page mapped with AF clear (S2_MAP_YOUNG_CLEAR) takes a stage-2
 *    Access flag fault at level 3 on the guest's first access (Arm ARM D8.4.x, access flag);
 *    the handler sets AF with s2_pgtable_mkyoung() and the access completes.
 * 2. With HA (S2_CFG_HA), the same access does not fault: the walker sets AF in the
 *    descriptor itself, and s2_pgtable_test_clear_young() counts the page young.
 * 3. With HA and HD, a page mapped read-only with DBM (S2_PROT_R | S2_PROT_DBM) is written by
 *    the guest without a fault: the hardware sets S2AP[1] (write) in the descriptor (dirty
 *    state, Arm ARM D8.4.x "Hardware management of the dirty state"). After
 *    s2_pgtable_wrprotect() (which clears W and DBM) the next write takes a permission fault.
 */
#include "el2_test.h"

static int on_abort(void *arg, struct el2_vcpu *vcpu, const struct el2_exit *e)
{
	struct el2_fault_log *log = arg;
	uint64_t ipa;

	if (el2_fault_log_take(log, e, &ipa))
		return -1;
	switch (e->abt.fault) {
	case S2_FAULT_ACCESS_FLAG:
		return s2_pgtable_mkyoung(&log->t->pgt, s2_ipa(ipa)) ? -2 : EL2_RESUME;
	case S2_FAULT_PERMISSION:
		return s2_pgtable_relax_perms(&log->t->pgt, s2_ipa(ipa), S2_PROT_R | S2_PROT_W) ?
			       -3 :
			       EL2_RESUME;
	default:
		return -4;
	}
}

static s2_pte_t leaf(struct el2_test_vm *t, uint64_t ipa)
{
	struct s2_lookup lk;

	if (s2_pgtable_lookup(&t->pgt, s2_ipa(ipa), &lk) || !lk.valid)
		return 0;
	return lk.pte;
}

static int call(struct el2_test_vm *t, struct el2_fault_log *log, const void *fn, uint64_t a0,
		uint64_t a1)
{
	log->n = 0;
	return el2_guest_call(&t->vcpu, fn, a0, a1, 0, 0, on_abort, log);
}

static void run(const struct s2_caps *caps, enum s2_granule g, unsigned int bits, uint16_t vmid)
{
	const uint64_t d = 0x10000000;
	struct el2_test_vm t;
	struct el2_fault_log log = { .t = &t };
	volatile uint64_t *back;
	uint64_t young = 0;

	/* 1. Software access flag. */
	if (el2_test_vm_create(&t, caps, bits, g, 0, vmid)) {
		EL2_CHECK(0);
		return;
	}
	back = el2_test_map_page_flags(&t, d, S2_PROT_R | S2_PROT_W, S2_MAP_YOUNG_CLEAR);
	EL2_CHECK(back != NULL);
	EL2_CHECK(!(leaf(&t, d) & S2_PTE_AF));
	*back = 0x1234;
	EL2_CHECK_EQ(call(&t, &log, (const void *)guest_read, d, 0), 0);
	EL2_CHECK_EQ(t.vcpu.regs.x[0], 0x1234);
	EL2_CHECK_EQ(log.n, 1);
	EL2_CHECK_EQ(log.last.fault, S2_FAULT_ACCESS_FLAG);
	EL2_CHECK_EQ(log.last.level, 3);
	EL2_CHECK_EQ(s2_ipa_val(log.last.ipa), d);
	EL2_CHECK(leaf(&t, d) & S2_PTE_AF);
	el2_test_vm_destroy(&t);

	/* 2. Hardware access flag. */
	if (el2_test_vm_create(&t, caps, bits, g, S2_CFG_HA, vmid + 1)) {
		EL2_CHECK(0);
		return;
	}
	EL2_CHECK(t.vm.vtcr & S2_VTCR_HA);
	back = el2_test_map_page_flags(&t, d, S2_PROT_R | S2_PROT_W, S2_MAP_YOUNG_CLEAR);
	EL2_CHECK(back != NULL);
	EL2_CHECK(!(leaf(&t, d) & S2_PTE_AF));
	EL2_CHECK_EQ(s2_pgtable_test_clear_young(&t.pgt, s2_ipa(d), t.page, false, &young), 0);
	EL2_CHECK_EQ(young, 0);
	*back = 0x5678;
	EL2_CHECK_EQ(call(&t, &log, (const void *)guest_read, d, 0), 0);
	EL2_CHECK_EQ(t.vcpu.regs.x[0], 0x5678);
	EL2_CHECK_EQ(log.n, 0);
	EL2_CHECK(leaf(&t, d) & S2_PTE_AF);
	EL2_CHECK_EQ(s2_pgtable_test_clear_young(&t.pgt, s2_ipa(d), t.page, true, &young), 0);
	EL2_CHECK_EQ(young, 1);
	EL2_CHECK(!(leaf(&t, d) & S2_PTE_AF));
	el2_test_vm_destroy(&t);

	/* 3. Hardware dirty state. */
	if (el2_test_vm_create(&t, caps, bits, g, S2_CFG_HA | S2_CFG_HD, vmid + 2)) {
		EL2_CHECK(0);
		return;
	}
	EL2_CHECK(t.vm.vtcr & S2_VTCR_HD);
	back = el2_test_map_page(&t, d, S2_PROT_R | S2_PROT_DBM);
	EL2_CHECK(back != NULL);
	s2_pte_t before = leaf(&t, d);
	EL2_CHECK(before & S2_PTE_DBM);
	EL2_CHECK(!(before & S2_PTE_S2AP_W));
	EL2_CHECK_EQ(call(&t, &log, (const void *)guest_write, d, 0x9abc), 0);
	EL2_CHECK_EQ(log.n, 0);
	EL2_CHECK_EQ(*back, 0x9abc);
	s2_pte_t after = leaf(&t, d);
	el2_printf("hafdbs %s/%u: DBM page before 0x%llx after a guest write 0x%llx\n",
		   s2_granule_name(g), bits, (unsigned long long)before, (unsigned long long)after);
	EL2_CHECK(after & S2_PTE_S2AP_W);
	EL2_CHECK_EQ(after & ~(S2_PTE_S2AP_W | S2_PTE_AF), before & ~(S2_PTE_S2AP_W | S2_PTE_AF));
	EL2_CHECK_EQ(s2_pgtable_wrprotect(&t.pgt, s2_ipa(d), t.page), 0);
	EL2_CHECK(!(leaf(&t, d) & (S2_PTE_S2AP_W | S2_PTE_DBM)));
	EL2_CHECK_EQ(call(&t, &log, (const void *)guest_write, d, 0xdef0), 0);
	EL2_CHECK_EQ(log.n, 1);
	EL2_CHECK_EQ(log.last.fault, S2_FAULT_PERMISSION);
	EL2_CHECK_EQ(*back, 0xdef0);
	EL2_CHECK_EQ(s2_pgtable_check(&t.pgt, NULL), 0);
	el2_test_vm_destroy(&t);
}

int el2_test_main(void)
{
	struct s2_caps caps;

	el2_test_caps(&caps);
	el2_el1_setup();
	EL2_CHECK_EQ(caps.hafdbs, 2);
	run(&caps, S2_GRANULE_4K, 40, 0x10);
	run(&caps, S2_GRANULE_16K, 36, 0x20);
	run(&caps, S2_GRANULE_64K, 42, 0x30);
	el2_check_done("el2.hafdbs");
}
