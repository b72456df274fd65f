// SPDX-License-Identifier: MIT
/*
 * el2.tlbi - the port's TLB maintenance, observed on the emulated CPU.
 *
 * QEMU caches stage-2 translations and keeps a stale entry until it is invalidated (a page
 * made read-only without TLBI stays writable: checked here as a control). So:
 *  1. the guest writes a page (the translation is now cached with write permission);
 *  2. s2_pgtable_wrprotect() makes it read-only: the guest's next write must take a stage-2
 *     permission fault at level 3 -- proof that the engine's TLBI through the port (IPAS2E1IS
 *     with the TTL hint, VMALLE1IS, loaded VMID) reached the TLB. The handler relaxes the
 *     permission and the write completes;
 *  3. control: the write permission is removed from the descriptor by hand with no TLBI, and
 *     the guest can still write (stale entry); then each of the port's invalidations --
 *     tlbi_ipa without a level hint, tlbi_range, tlbi_vmid -- must make the next write fault;
 *     The local form (tlbi_ipa_local: TLBI IPAS2E1, VMALLE1, DSB NSH), which relax_perms
 *     issues after every relax, must do the same on this one-CPU machine;
 *  4. s2_pgtable_unmap(): the next read takes a stage-2 translation fault at level 3 (a
 *     neighbour page keeps the last-level table alive), and, FWB being off, the page was
 *     cleaned to PoC line by line (DC CIVAC).
 * Run for 4K/40, 16K/36 and 64K/42. Also prints the stage-2 fault round-trip time.
 */
#include "el2_test.h"
#include "sysreg.h"

/* log->relax: on a permission fault, give R+W back; log->map: on a translation fault, map a
 * fresh page; else skip the access. */
static int on_abort(void *arg, struct el2_vcpu *vcpu, const struct el2_exit *e)
{
	struct el2_fault_log *log = arg;
	uint64_t ipa;

	if (el2_fault_log_take(log, e, &ipa))
		return -1;
	if (log->relax && e->abt.fault == S2_FAULT_PERMISSION) {
		int err = s2_pgtable_relax_perms(&log->t->pgt, s2_ipa(ipa), S2_PROT_R | S2_PROT_W);
		return err ? -2 : EL2_RESUME;
	}
	if (log->map && e->abt.fault == S2_FAULT_TRANSLATION)
		return el2_test_map_page(log->t, ipa, S2_PROT_R | S2_PROT_W) ? EL2_RESUME : -3;
	return EL2_SKIP;
}

static int find_leaf(void *arg, const struct s2_walk_visit *v)
{
	if ((v->pte & S2_PTE_VALID) && v->level == 3)
		*(s2_pte_t **)arg = v->ptep;
	return 0;
}

/* Remove write permission from the leaf of @ipa directly, without any TLB maintenance. */
static bool clear_w_no_tlbi(struct el2_test_vm *t, uint64_t ipa)
{
	s2_pte_t *ptep = NULL;

	if (s2_pgtable_walk(&t->pgt, s2_ipa(ipa), t->page, S2_WALK_LEAF, find_leaf, &ptep) || !ptep)
		return false;
	s2_atomic_store64(ptep, s2_atomic_load64(ptep) & ~S2_PTE_S2AP_W);
	el2_dsb_ishst();
	return true;
}

static int guest_store(struct el2_test_vm *t, struct el2_fault_log *log, uint64_t ipa, uint64_t v)
{
	log->n = 0;
	int err = el2_guest_call(&t->vcpu, (const void *)guest_write, ipa, v, 0, 0, on_abort, log);
	if (!err && t->vcpu.regs.x[0] != GUEST_OK)
		err = -4;
	return err;
}

enum inval { INVAL_IPA_NOLEVEL, INVAL_RANGE, INVAL_VMID, INVAL_LOCAL };

static void run_case(const struct s2_caps *caps, enum s2_granule g, unsigned int ipa_bits,
		     uint16_t vmid)
{
	struct el2_test_vm t;
	struct el2_fault_log log = { .t = &t, .relax = true };
	struct s2_lookup lk;

	if (el2_test_vm_create(&t, caps, ipa_bits, g, 0, vmid)) {
		EL2_CHECK(0);
		return;
	}
	const uint64_t pg = t.page;
	const uint64_t d = 0x10000000;
	volatile uint64_t *back = el2_test_map_page(&t, d, S2_PROT_R | S2_PROT_W);
	void *nb = el2_test_map_page(&t, d + pg, S2_PROT_R | S2_PROT_W);
	EL2_CHECK(back && nb);
	if (!back || !nb)
		return;

	/* 1. A write that fills the TLB. */
	EL2_CHECK_EQ(guest_store(&t, &log, d, 1), 0);
	EL2_CHECK_EQ(log.n, 0);
	EL2_CHECK_EQ(*back, 1);

	/* 2. Write-protect through the engine: the next write faults (the handler's relax
	 * issues the local TLBI sequence). */
	EL2_CHECK_EQ(s2_pgtable_wrprotect(&t.pgt, s2_ipa(d), pg), 0);
	uint64_t local0 = el2_port_counters.tlbi_ipa_local;
	EL2_CHECK_EQ(guest_store(&t, &log, d, 2), 0);
	EL2_CHECK_EQ(el2_port_counters.tlbi_ipa_local, local0 + 1);
	EL2_CHECK_EQ(log.n, 1);
	EL2_CHECK_EQ(log.last.fault, S2_FAULT_PERMISSION);
	EL2_CHECK_EQ(log.last.level, 3);
	EL2_CHECK(log.last.wnr);
	EL2_CHECK_EQ(s2_ipa_val(log.last.ipa), d);
	EL2_CHECK_EQ(*back, 2);
	EL2_CHECK_EQ(s2_pgtable_lookup(&t.pgt, s2_ipa(d), &lk), 0);
	EL2_CHECK(lk.valid && (s2_lookup_prot(lk) & S2_PROT_W));

	/* 3. Control and the port's other invalidations. */
	const struct s2_port *port = &t.pgt.port;
	for (int how = INVAL_IPA_NOLEVEL; how <= INVAL_LOCAL; how++) {
		EL2_CHECK(clear_w_no_tlbi(&t, d));
		EL2_CHECK_EQ(guest_store(&t, &log, d, 0x30 + how), 0);
		EL2_CHECK_EQ(log.n, 0); /* stale: QEMU kept the writable translation */
		EL2_CHECK_EQ(*back, 0x30 + how);
		uint64_t s1 = el2_port_counters.tlbi_s1;
		switch (how) {
		case INVAL_IPA_NOLEVEL:
			port->ops->tlbi_ipa(port->ctx, &t.pgt, s2_ipa(d), -2);
			break;
		case INVAL_RANGE:
			port->ops->tlbi_range(port->ctx, &t.pgt, s2_ipa(d), pg);
			break;
		case INVAL_VMID:
			port->ops->tlbi_vmid(port->ctx, &t.pgt);
			break;
		case INVAL_LOCAL:
			/* TLBI IPAS2E1 + VMALLE1, non-shareable (one CPU here): the sequence
			 * relax_perms uses, with its own barriers. */
			port->ops->tlbi_ipa_local(port->ctx, &t.pgt, s2_ipa(d), 3);
			break;
		}
		/* Each op is a complete sequence: the stage-1 invalidation of the combined
		 * entries is done when it returns, not owed to the barrier below. */
		EL2_CHECK_EQ(el2_port_counters.tlbi_s1,
			     s1 + (how == INVAL_IPA_NOLEVEL || how == INVAL_RANGE));
		port->ops->barrier(port->ctx, S2_BARRIER_DSB_ISH);
		EL2_CHECK_EQ(el2_port_counters.tlbi_s1,
			     s1 + (how == INVAL_IPA_NOLEVEL || how == INVAL_RANGE));
		EL2_CHECK_EQ(guest_store(&t, &log, d, 0x40 + how), 0);
		EL2_CHECK_EQ(log.n, 1);
		EL2_CHECK_EQ(log.last.fault, S2_FAULT_PERMISSION);
		EL2_CHECK_EQ(*back, 0x40 + how);
	}

	/* 4. Unmap: the next read faults at level 3 and is skipped by the handler. Without FWB
	 * (this VM's config) the page, Normal WB, is cleaned to PoC: every line of it. */
	el2_port_counters.dcache_calls = 0;
	EL2_CHECK_EQ(s2_pgtable_unmap(&t.pgt, s2_ipa(d), pg, NULL), 0);
	EL2_CHECK_EQ(el2_port_counters.dcache_calls, t.cfg.fwb ? 0 : 1);
	EL2_CHECK_EQ(el2_dcache_lines_in((uintptr_t)back, pg),
		     t.cfg.fwb ? 0 : pg / (4ULL << ((el2_read_sysreg(ctr_el0) >> 16) & 0xf)));
	EL2_CHECK_EQ(s2_pgtable_lookup(&t.pgt, s2_ipa(d), &lk), 0);
	EL2_CHECK(!lk.valid);
	EL2_CHECK_EQ(lk.level, 3);
	log.n = 0;
	EL2_CHECK_EQ(
		el2_guest_call(&t.vcpu, (const void *)guest_read, d + 8, 0, 0, 0, on_abort, &log),
		0);
	EL2_CHECK_EQ(log.n, 1);
	EL2_CHECK_EQ(log.last.fault, S2_FAULT_TRANSLATION);
	EL2_CHECK_EQ(log.last.level, 3);
	EL2_CHECK(!log.last.wnr);
	EL2_CHECK_EQ(s2_ipa_val(log.last.ipa), d + 8);

	EL2_CHECK_EQ(s2_pgtable_check(&t.pgt, NULL), 0);
	el2_printf("tlbi %s/%u: %u checks failed so far\n", s2_granule_name(g), ipa_bits,
		   el2_failures);
	el2_test_vm_destroy(&t);
}

/*
 * TLBI IPAS2E1IS on its own. With the guest's MMU off every guest access is a combined
 * stage-1+2 entry, which only the stage-1 TLBI (VMALLE1IS) removes, so the cases above would
 * pass without IPAS2E1IS. Here the guest runs with its stage 1 on (tables set up by the host
 * in guest memory at IPA G): its table walk reads G through stage 2, and QEMU caches that
 * stage-2 translation apart from the combined entries. After s2_pgtable_unmap(G) the next
 * guest access must walk again and its read of G must take a stage-2 translation fault on the
 * stage-1 walk (ESR.S1PTW = 1, HPFAR = G) -- only IPAS2E1IS (or VMALLS12E1IS) removes the
 * cached translation of G.
 */
struct s1ptw_log {
	struct el2_test_vm *t;
	uint64_t g;
	unsigned int n;
	struct s2_abort last;
};

static int on_s1ptw(void *arg, struct el2_vcpu *vcpu, const struct el2_exit *e)
{
	struct s1ptw_log *log = arg;

	if (e->abt_err)
		return -1;
	log->n++;
	log->last = e->abt;
	if (S2_ALIGN_DOWN(s2_ipa_val(e->abt.ipa), log->t->page) != log->g)
		return -2;
	/* Give the guest its stage-1 table back (same page, same IPA). */
	return s2_pgtable_map(&log->t->pgt, s2_ipa(log->g), log->t->page, s2_pa(log->g),
			      S2_PROT_R | S2_PROT_W, 0, NULL) ?
		       -3 :
		       EL2_RESUME;
}

static void s1ptw_case(const struct s2_caps *caps)
{
	struct el2_test_vm t;

	if (el2_test_vm_create(&t, caps, 40, S2_GRANULE_4K, 0, 9)) {
		EL2_CHECK(0);
		return;
	}
	const uint64_t d = 0x10000000;
	volatile uint64_t *back = el2_test_map_page(&t, d, S2_PROT_R | S2_PROT_W);
	uint64_t *l1 = el2_test_map_ident(&t, S2_PROT_R | S2_PROT_W);
	struct s1ptw_log log = { .t = &t, .g = (uintptr_t)l1 };

	EL2_CHECK(back && l1);
	if (!back || !l1)
		return;
	/* Stage 1 (Arm ARM D8.3): 4K granule, 39-bit VA, level-1 1 GiB blocks mapping VA ==
	 * IPA for [0, 4 GiB): valid block (0b01), AttrIndx 0, AP 00 (EL1 RW), SH inner, AF. */
	for (uint64_t i = 0; i < 4; i++)
		l1[i] = (i << 30) | S2_BIT(10) | (UINT64_C(3) << 8) | 1;
	el2_write_sysreg(mair_el1, 0xffUL); /* Attr0: Normal write-back */
	/* TCR_EL1: T0SZ 25, IRGN0/ORGN0 WBWA, SH0 inner, TG0 4K, EPD1, IPS 40 bits. */
	el2_write_sysreg(tcr_el1,
			 25UL | (1UL << 8) | (1UL << 10) | (3UL << 12) | (1UL << 23) | (2UL << 32));
	el2_write_sysreg(ttbr0_el1, (uint64_t)(uintptr_t)l1);
	/* SCTLR_EL1: M, C, I on, with the RES1 bits el2_el1_setup() uses. */
	el2_write_sysreg(sctlr_el1, 0x30d00800UL | 1UL | (1UL << 2) | (1UL << 12));
	el2_isb();

	EL2_CHECK_EQ(el2_guest_call(&t.vcpu, (const void *)guest_write, d, 1, 0, 0, on_s1ptw, &log),
		     0);
	EL2_CHECK_EQ(log.n, 0);
	EL2_CHECK_EQ(*back, 1);

	struct s2_lookup lk;
	EL2_CHECK_EQ(s2_pgtable_unmap(&t.pgt, s2_ipa(log.g), t.page, NULL), 0);
	EL2_CHECK_EQ(s2_pgtable_lookup(&t.pgt, s2_ipa(log.g), &lk), 0);
	EL2_CHECK(!lk.valid);
	EL2_CHECK_EQ(el2_guest_call(&t.vcpu, (const void *)guest_write, d, 2, 0, 0, on_s1ptw, &log),
		     0);
	EL2_CHECK_EQ(log.n, 1);
	EL2_CHECK_EQ(log.last.fault, S2_FAULT_TRANSLATION);
	EL2_CHECK(log.last.s1ptw);
	EL2_CHECK_EQ(S2_ALIGN_DOWN(s2_ipa_val(log.last.ipa), t.page), log.g);
	/* Not checked: the level. The Arm ARM's level is the stage-2 lookup's (3 here, where the
	 * engine's tables end); QEMU 7.2 reports the stage-1 walk's level instead (docs/el2.md). */
	EL2_CHECK_EQ(*back, 2);
	el2_printf("s1ptw: stage-2 %s fault level %d on the stage-1 walk (%s, far 0x%llx, esr "
		   "0x%x), ipa 0x%llx; the engine's tables end at level %d\n",
		   s2_fault_name(log.last.fault), log.last.level,
		   log.last.is_insn ? "instruction fetch" : "data access",
		   (unsigned long long)log.last.far, log.last.fsc,
		   (unsigned long long)s2_ipa_val(log.last.ipa), lk.level);

	el2_el1_setup(); /* stage 1 off again */
	el2_test_vm_destroy(&t);
}

static uint64_t ticks_to_ns(uint64_t ticks, uint64_t n)
{
	return ticks * 1000000000ULL / el2_counter_freq() / n;
}

/* Informational: stage-2 fault round trips under QEMU, measured with CNTPCT_EL0. */
static void measure(const struct s2_caps *caps)
{
	struct el2_test_vm t;
	struct el2_fault_log log = { .t = &t };
	const uint64_t n_trap = 4000, n_map = 256;

	if (el2_test_vm_create(&t, caps, 40, S2_GRANULE_4K, 0, 0x77)) {
		EL2_CHECK(0);
		return;
	}
	/* Trap, decode, skip, resume: the same unmapped IPA n_trap times. */
	uint64_t t0 = el2_counter();
	EL2_CHECK_EQ(el2_guest_call(&t.vcpu, (const void *)guest_read_loop, 0x20000000, n_trap, 0,
				    0, on_abort, &log),
		     0);
	uint64_t t1 = el2_counter();
	EL2_CHECK_EQ(log.n, n_trap);

	/* Demand faults: n_map fresh pages, each mapped by the handler with s2_pgtable_map. */
	log.n = 0;
	log.map = true;
	uint64_t t2 = el2_counter();
	EL2_CHECK_EQ(el2_guest_call(&t.vcpu, (const void *)guest_touch_range, 0x30000000, n_map,
				    t.page, 0, on_abort, &log),
		     0);
	uint64_t t3 = el2_counter();
	EL2_CHECK_EQ(log.n, n_map);

	/* Permission faults: write-protect them all, write again, relax in the handler. */
	EL2_CHECK_EQ(s2_pgtable_wrprotect(&t.pgt, s2_ipa(0x30000000), n_map * t.page), 0);
	log.n = 0;
	log.map = false;
	log.relax = true;
	uint64_t t4 = el2_counter();
	EL2_CHECK_EQ(el2_guest_call(&t.vcpu, (const void *)guest_touch_range, 0x30000000, n_map,
				    t.page, 0, on_abort, &log),
		     0);
	uint64_t t5 = el2_counter();
	EL2_CHECK_EQ(log.n, n_map);

	el2_printf("fault round trip (QEMU TCG, CNTPCT %llu Hz): trap+decode+skip %llu ns, "
		   "demand map %llu ns, wrprotect->relax %llu ns per fault\n",
		   (unsigned long long)el2_counter_freq(),
		   (unsigned long long)ticks_to_ns(t1 - t0, n_trap),
		   (unsigned long long)ticks_to_ns(t3 - t2, n_map),
		   (unsigned long long)ticks_to_ns(t5 - t4, n_map));
	el2_test_vm_destroy(&t);
}

int el2_test_main(void)
{
	struct s2_caps caps;

	el2_test_caps(&caps);
	el2_el1_setup();
	run_case(&caps, S2_GRANULE_4K, 40, 1);
	run_case(&caps, S2_GRANULE_16K, 36, 2);
	run_case(&caps, S2_GRANULE_64K, 42, 3);
	s1ptw_case(&caps);
	measure(&caps);
	el2_check_done("el2.tlbi");
}
