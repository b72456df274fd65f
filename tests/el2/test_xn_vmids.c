// SPDX-License-Identifier: MIT
/*
 * el2.xn_vmids - execute-never at stage 2, and two VMs side by side.
 *
 * 1. The guest code is mapped a second time at another IPA without exec permission. Calling
 *    a payload through that alias takes a stage-2 permission fault on the instruction fetch
 *    (ESR_EL2.EC = 0x20, level 3, HPFAR/FAR = the alias address): the engine's XN encoding
 *    holds on the CPU. The handler grants exec with s2_pgtable_relax_perms() (the engine
 *    invalidates the I-cache unless CTR_EL0.DIC) and the payload runs to completion.
 * 2. Two VMs with different granules and VMIDs map the same IPA to different pages. Runs
 *    alternate between them; each must see only its own page: the port loads each VM's
 *    VTCR/VTTBR on entry and before its TLB maintenance. A write-protect in one VM must not
 *    affect the other.
 */
#include "el2_test.h"

static int on_abort(void *arg, struct el2_vcpu *vcpu, const struct el2_exit *e)
{
	struct el2_fault_log *log = arg;
	uint64_t ipa;

	if (el2_fault_log_take(log, e, &ipa))
		return -1;
	if (e->abt.fault != S2_FAULT_PERMISSION)
		return -2;
	uint64_t prot = e->abt.is_insn ? S2_PROT_R | S2_PROT_X : S2_PROT_R | S2_PROT_W;
	return s2_pgtable_relax_perms(&log->t->pgt, s2_ipa(ipa), prot) ? -3 : EL2_RESUME;
}

static void xn_case(const struct s2_caps *caps, enum s2_granule g, unsigned int bits, uint16_t vmid)
{
	struct el2_test_vm t;
	struct el2_fault_log log = { .t = &t };
	const uint64_t code = (uintptr_t)el2_guest_text_start;
	const uint64_t size = (uintptr_t)el2_guest_text_end - code;
	const uint64_t alias = 0x20000000;

	if (el2_test_vm_create(&t, caps, bits, g, 0, vmid)) {
		EL2_CHECK(0);
		return;
	}
	volatile uint64_t *data = el2_test_map_page(&t, 0x10000000, S2_PROT_R | S2_PROT_W);
	EL2_CHECK(data != NULL);
	EL2_CHECK_EQ(s2_pgtable_map(&t.pgt, s2_ipa(alias), size, s2_pa(code), S2_PROT_R, 0, NULL),
		     0);
	*data = 0x77;
	const uint64_t fn = alias + ((uintptr_t)guest_read - code);
	EL2_CHECK_EQ(el2_guest_call(&t.vcpu, (const void *)(uintptr_t)fn, 0x10000000, 0, 0, 0,
				    on_abort, &log),
		     0);
	EL2_CHECK_EQ(t.vcpu.regs.x[0], 0x77);
	EL2_CHECK_EQ(log.n, 1);
	EL2_CHECK(log.last.is_insn);
	EL2_CHECK_EQ(log.last.ec, S2_EC_IABT_LOW);
	EL2_CHECK_EQ(log.last.fault, S2_FAULT_PERMISSION);
	EL2_CHECK_EQ(log.last.level, 3);
	EL2_CHECK_EQ(s2_ipa_val(log.last.ipa), fn);
	el2_printf("xn %s/%u: exec at non-exec IPA 0x%llx: %s fault level %d (EC 0x%x)\n",
		   s2_granule_name(g), bits, (unsigned long long)fn, s2_fault_name(log.last.fault),
		   log.last.level, log.last.ec);
	el2_test_vm_destroy(&t);
}

static uint64_t read_in(struct el2_test_vm *t, struct el2_fault_log *log, uint64_t ipa)
{
	log->t = t;
	log->n = 0;
	if (el2_guest_call(&t->vcpu, (const void *)guest_read, ipa, 0, 0, 0, on_abort, log))
		return ~0ULL;
	return t->vcpu.regs.x[0];
}

static int write_in(struct el2_test_vm *t, struct el2_fault_log *log, uint64_t ipa, uint64_t v)
{
	log->t = t;
	log->n = 0;
	return el2_guest_call(&t->vcpu, (const void *)guest_write, ipa, v, 0, 0, on_abort, log);
}

static void two_vms(const struct s2_caps *caps)
{
	static struct el2_test_vm a, b;
	struct el2_fault_log log = { 0 };
	const uint64_t ipa = 0x10000000;

	if (el2_test_vm_create(&a, caps, 40, S2_GRANULE_4K, 0, 0x41) ||
	    el2_test_vm_create(&b, caps, 42, S2_GRANULE_64K, 0, 0x42)) {
		EL2_CHECK(0);
		return;
	}
	volatile uint64_t *pa = el2_test_map_page(&a, ipa, S2_PROT_R | S2_PROT_W);
	volatile uint64_t *pb = el2_test_map_page(&b, ipa, S2_PROT_R | S2_PROT_W);
	EL2_CHECK(pa && pb);
	if (!pa || !pb)
		return;
	*pa = 0xaaaa;
	*pb = 0xbbbb;
	for (int round = 0; round < 4; round++) {
		EL2_CHECK_EQ(read_in(&a, &log, ipa), 0xaaaa + (uint64_t)round);
		EL2_CHECK_EQ(read_in(&b, &log, ipa), 0xbbbb + (uint64_t)round);
		EL2_CHECK_EQ(write_in(&a, &log, ipa, 0xaaaa + (uint64_t)round + 1), 0);
		EL2_CHECK_EQ(write_in(&b, &log, ipa, 0xbbbb + (uint64_t)round + 1), 0);
	}
	EL2_CHECK_EQ(*pa, 0xaaaa + 4);
	EL2_CHECK_EQ(*pb, 0xbbbb + 4);

	/* Write-protect in A only (its TLBI runs with A's VTTBR loaded): B keeps writing. */
	EL2_CHECK_EQ(read_in(&b, &log, ipa), 0xbbbb + 4); /* B's VTTBR is the loaded one */
	EL2_CHECK_EQ(s2_pgtable_wrprotect(&a.pgt, s2_ipa(ipa), a.page), 0);
	EL2_CHECK_EQ(write_in(&b, &log, ipa, 0xb0), 0);
	EL2_CHECK_EQ(log.n, 0);
	EL2_CHECK_EQ(write_in(&a, &log, ipa, 0xa0), 0);
	EL2_CHECK_EQ(log.n, 1);
	EL2_CHECK_EQ(log.last.fault, S2_FAULT_PERMISSION);
	EL2_CHECK_EQ(*pa, 0xa0);
	EL2_CHECK_EQ(*pb, 0xb0);
	el2_test_vm_destroy(&a);
	el2_test_vm_destroy(&b);
}

int el2_test_main(void)
{
	struct s2_caps caps;

	el2_test_caps(&caps);
	el2_el1_setup();
	xn_case(&caps, S2_GRANULE_4K, 40, 0x51);
	xn_case(&caps, S2_GRANULE_16K, 36, 0x52);
	xn_case(&caps, S2_GRANULE_64K, 42, 0x53);
	two_vms(&caps);
	el2_check_done("el2.xn_vmids");
}
