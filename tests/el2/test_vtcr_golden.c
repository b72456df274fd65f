// SPDX-License-Identifier: MIT
/*
 * el2.vtcr_golden - VTCR_EL2 golden value on real (emulated) hardware, and stage-2 faults
 * round-tripped through the port for each granule.
 *
 * 1. s2_config_init() for 4K granule, 40-bit IPA, host with 40-bit PA and 8-bit VMIDs gives
 *    0x80023558 (T0SZ 24, SL0 1 = start at level 1, IRGN0/ORGN0 write-back write-allocate,
 *    SH0 inner, TG0 4K, PS 40 bits, RES1 bit 31: the VTCR Linux KVM computes for a 40-bit
 *    IPA), and the CPU keeps that value when written to VTCR_EL2.
 * 2. For 4K/40, 16K/36, 64K/42 (and the 52-bit layouts) a VM is built from the CPU's real
 *    capabilities; an EL1 guest writes and reads pages at the bottom and top of its IPA space
 *    and two unmapped IPAs: one beside a mapped page (the walk reaches level 3) and one whose
 *    start-level entry is empty (the walk stops at the start level). Each unmapped access must
 *    trap as a stage-2 translation fault at that level, with HPFAR/FAR giving the exact IPA;
 *    the handler maps a page and the guest carries on and completes. The host then reads the
 *    backing pages and finds what the guest wrote (the translation went to the right PA).
 * 3. An IPA just beyond T0SZ: the fault kind and level QEMU reports are printed (docs/el2.md).
 */
#include "el2_test.h"
#include "sysreg.h"

#define MAX_FAULTS 8
#define PROBE_STOPPED (-7)

/* What QEMU 7.2 reports for an IPA at or above 2^(64 - T0SZ) (see docs/el2.md). */
#define BEYOND_T0SZ_FAULT S2_FAULT_TRANSLATION
#define BEYOND_T0SZ_LEVEL 0

struct fault_log {
	struct el2_test_vm *t;
	bool map; /* map a page on a translation fault, else skip the instruction */
	bool stop; /* stop the run at the first abort */
	unsigned int n;
	struct s2_abort abt[MAX_FAULTS];
	void *backing[MAX_FAULTS];
};

static int on_abort(void *arg, struct el2_vcpu *vcpu, const struct el2_exit *e)
{
	struct fault_log *log = arg;

	if (e->abt_err || log->n >= MAX_FAULTS) {
		el2_printf("abort: decode %d, %u faults so far\n", e->abt_err, log->n);
		return -1;
	}
	log->abt[log->n] = e->abt;
	log->backing[log->n] = NULL;
	if (log->stop) {
		log->n++;
		return PROBE_STOPPED;
	}
	if (log->map && e->abt.fault == S2_FAULT_TRANSLATION) {
		uint64_t ipa = S2_ALIGN_DOWN(s2_ipa_val(e->abt.ipa), log->t->page);
		log->backing[log->n] = el2_test_map_page(log->t, ipa, S2_PROT_R | S2_PROT_W);
		log->n++;
		return log->backing[log->n - 1] ? EL2_RESUME : -2;
	}
	log->n++;
	return EL2_SKIP;
}

struct gcase {
	enum s2_granule g;
	unsigned int ipa_bits;
	uint64_t flags;
};

static uint64_t host_read(const void *page, uint64_t off)
{
	return *(const volatile uint64_t *)((const char *)page + off);
}

static void run_case(const struct s2_caps *caps, const struct gcase *c, uint16_t vmid)
{
	struct el2_test_vm t;
	struct fault_log log = { .t = &t, .map = true };
	struct s2_lookup lk;
	const uint64_t pattern = 0x5a5a000000000000ULL | ((uint64_t)vmid << 32);
	int err = el2_test_vm_create(&t, caps, c->ipa_bits, c->g, c->flags, vmid);

	EL2_CHECK_EQ(err, 0);
	if (err)
		return;
	const uint64_t pg = t.page;
	const uint64_t top = (UINT64_C(1) << c->ipa_bits) - pg;
	const uint64_t mid = UINT64_C(1) << (c->ipa_bits - 1);
	const int start = t.cfg.start_level;

	/* Bottom two pages and the top page of the IPA space, mapped before the guest runs. */
	void *d0 = el2_test_map_page(&t, 0, S2_PROT_R | S2_PROT_W);
	void *d1 = el2_test_map_page(&t, pg, S2_PROT_R | S2_PROT_W);
	void *d2 = el2_test_map_page(&t, top, S2_PROT_R | S2_PROT_W);
	EL2_CHECK(d0 && d1 && d2);
	if (!d0 || !d1 || !d2)
		return;

	/*
	 * Probe: one store to the (mapped) argument page. QEMU 7.2 refuses a 16K stage 2 that
	 * starts at level 0 (VTCR_EL2.SL0 = 0b11 with DS = 1, needed for a 52-bit IPA), which
	 * AArch64.S2InvalidSL() allows: every access, the first instruction fetch included,
	 * takes a level-0 translation fault. Recognise exactly that and skip the case.
	 */
	struct fault_log probe = { .t = &t, .stop = true };
	err = el2_guest_call(&t.vcpu, (const void *)guest_write, (uintptr_t)t.args, 1, 0, 0,
			     on_abort, &probe);
	if (err == PROBE_STOPPED) {
		const struct s2_abort *a = &probe.abt[0];
		EL2_CHECK_EQ(s2_pgtable_lookup(&t.pgt, a->ipa, &lk), 0);
		if (c->g == S2_GRANULE_16K && start == 0 && a->is_insn &&
		    a->fault == S2_FAULT_TRANSLATION && a->level == 0 && lk.valid) {
			el2_printf("  SKIP: QEMU rejects a 16K stage 2 starting at level 0 "
				   "(instruction fetch at mapped IPA 0x%llx: level-0 translation "
				   "fault)\n",
				   (unsigned long long)s2_ipa_val(a->ipa));
			el2_test_vm_destroy(&t);
			return;
		}
		el2_printf("  probe: %s fault level %d at 0x%llx\n", s2_fault_name(a->fault),
			   a->level, (unsigned long long)s2_ipa_val(a->ipa));
	}
	EL2_CHECK_EQ(err, 0);
	EL2_CHECK_EQ(t.vcpu.regs.x[0], GUEST_OK);

	/* The accesses: three mapped, then one beside page 0 (its last-level table exists, so
	 * the walk ends at level 3) and one in the middle of the IPA space (its start-level
	 * entry is empty, so the walk ends at the start level). Offsets inside the page check
	 * that FAR_EL2[11:0] completes HPFAR_EL2. */
	const uint64_t ipas[5] = { 0x10, pg + 0x20, top + pg - 8, 2 * pg + 0x28, mid + 0x30 };
	const int want_level[2] = { 3, start };

	for (unsigned int i = 3; i < 5; i++) {
		EL2_CHECK_EQ(s2_pgtable_lookup(&t.pgt, s2_ipa(ipas[i]), &lk), 0);
		EL2_CHECK(!lk.valid);
		EL2_CHECK_EQ(lk.level, want_level[i - 3]);
	}
	for (unsigned int i = 0; i < 5; i++)
		t.args[i] = ipas[i];

	err = el2_guest_call(&t.vcpu, (const void *)guest_touch, (uintptr_t)t.args, 5, pattern, 0,
			     on_abort, &log);
	EL2_CHECK_EQ(err, 0);
	EL2_CHECK_EQ(t.vcpu.regs.x[0], GUEST_OK);
	EL2_CHECK_EQ(el2_read_sysreg(vtcr_el2), t.vm.vtcr);
	EL2_CHECK_EQ(el2_read_sysreg(vttbr_el2), t.vm.vttbr);
	/* HCR_EL2: VM and RW always, FWB (bit 46) exactly when the config asks for it. */
	EL2_CHECK_EQ(el2_read_sysreg(hcr_el2) & (HCR_VM | HCR_RW | HCR_FWB),
		     HCR_VM | HCR_RW | ((c->flags & S2_CFG_FWB) ? HCR_FWB : 0));
	EL2_CHECK_EQ(log.n, 2);
	for (unsigned int i = 0; i < log.n && i < 2; i++) {
		const struct s2_abort *a = &log.abt[i];
		el2_printf("  fault %u: %s level %d ipa 0x%llx wnr %u (esr fsc 0x%x)\n", i,
			   s2_fault_name(a->fault), a->level,
			   (unsigned long long)s2_ipa_val(a->ipa), a->wnr, a->fsc);
		EL2_CHECK(a->is_data);
		EL2_CHECK_EQ(a->ec, S2_EC_DABT_LOW);
		EL2_CHECK_EQ(a->fault, S2_FAULT_TRANSLATION);
		EL2_CHECK_EQ(a->level, want_level[i]);
		EL2_CHECK(a->wnr); /* the first access to each page is a store */
		EL2_CHECK(a->ipa_valid);
		EL2_CHECK_EQ(s2_ipa_val(a->ipa), ipas[3 + i]);
		EL2_CHECK(!a->s1ptw);
	}
	/* What the guest wrote through stage 2 is in the backing pages. */
	EL2_CHECK_EQ(host_read(d0, 0x10), pattern + 0);
	EL2_CHECK_EQ(host_read(d1, 0x20), pattern + 1);
	EL2_CHECK_EQ(host_read(d2, pg - 8), pattern + 2);
	if (log.n == 2 && log.backing[0] && log.backing[1]) {
		EL2_CHECK_EQ(host_read(log.backing[0], 0x28), pattern + 3);
		EL2_CHECK_EQ(host_read(log.backing[1], 0x30), pattern + 4);
	}

	/* Beyond T0SZ: with the guest's MMU off the address goes straight to stage 2 as long as
	 * it fits the PA size (52 bits here), so only IPA sizes below 52 can test it. */
	if (c->ipa_bits < 52) {
		const uint64_t beyond = UINT64_C(1) << c->ipa_bits;

		log.map = false;
		log.n = 0;
		err = el2_guest_call(&t.vcpu, (const void *)guest_read, beyond, 0, 0, 0, on_abort,
				     &log);
		EL2_CHECK_EQ(err, 0);
		EL2_CHECK_EQ(log.n, 1);
		if (log.n == 1) {
			const struct s2_abort *a = &log.abt[0];
			el2_printf("  beyond T0SZ (ipa 0x%llx): %s fault level %d fsc 0x%x, hpfar "
				   "ipa 0x%llx\n",
				   (unsigned long long)beyond, s2_fault_name(a->fault), a->level,
				   a->fsc, (unsigned long long)s2_ipa_val(a->ipa));
			EL2_CHECK_EQ(a->fault, BEYOND_T0SZ_FAULT);
			EL2_CHECK_EQ(a->level, BEYOND_T0SZ_LEVEL);
			EL2_CHECK_EQ(s2_ipa_val(a->ipa), beyond);
		}
	}

	struct s2_check_report rep;
	EL2_CHECK_EQ(s2_pgtable_check(&t.pgt, &rep), 0);
	el2_test_vm_destroy(&t);
}

int el2_test_main(void)
{
	struct s2_caps caps, caps40;
	struct s2_config cfg;
	struct s2_config_req req = { .ipa_bits = 40, .granule = S2_GRANULE_4K, .vmid_bits = 8 };

	/* 1. The golden VTCR. */
	EL2_CHECK_EQ(s2_caps_max(40, &caps40), 0);
	caps40.vmid_bits = 8;
	EL2_CHECK_EQ(s2_config_init(&cfg, &caps40, &req), 0);
	EL2_CHECK_EQ(cfg.vtcr, 0x80023558);
	el2_write_sysreg(vtcr_el2, cfg.vtcr);
	el2_isb();
	EL2_CHECK_EQ(el2_read_sysreg(vtcr_el2), 0x80023558);
	el2_printf("VTCR_EL2 4k/40/pa40/vmid8 = 0x%llx (read back 0x%llx)\n",
		   (unsigned long long)cfg.vtcr, (unsigned long long)el2_read_sysreg(vtcr_el2));

	/* 2. Guests at every granule, from the CPU's own capabilities. */
	static const struct gcase cases[] = {
		{ S2_GRANULE_4K, 40, 0 },  { S2_GRANULE_4K, 40, S2_CFG_FWB },
		{ S2_GRANULE_16K, 36, 0 }, { S2_GRANULE_64K, 42, 0 },
		{ S2_GRANULE_4K, 32, 0 },  { S2_GRANULE_4K, 48, 0 },
		{ S2_GRANULE_16K, 48, 0 }, { S2_GRANULE_64K, 48, 0 },
		{ S2_GRANULE_4K, 52, 0 },  { S2_GRANULE_16K, 51, 0 },
		{ S2_GRANULE_16K, 52, 0 }, { S2_GRANULE_64K, 52, 0 },
	};

	el2_test_caps(&caps);
	el2_el1_setup();
	for (unsigned int i = 0; i < S2_ARRAY_SIZE(cases); i++)
		run_case(&caps, &cases[i], (uint16_t)(0x100 + i));
	el2_check_done("el2.vtcr_golden");
}
