// SPDX-License-Identifier: MIT
/*
 * el2.protected - page ownership (s2mmu/owner.h) with the host itself running at EL1 behind
 * its own stage-2 (VMID 0, an identity map that s2_owner_host_handle_abort() builds lazily), on the
 * emulated CPU.
 *
 * The host's program (guest_vm_host, EL1, its own vectors) asks the hypervisor for
 * transitions with HVC #1; the EL2 side performs them through the public API:
 *  1. the host reads a page P (host stage-2 fault, mapped identity);
 *  2. it donates P to the hypervisor (s2_owner_host_donate_hyp): its next access to P is refused --
 *     s2_owner_host_handle_abort() says INJECT and the port injects a synchronous external abort
 *     that the host observes in its own EL1 vector (ESR_EL1 = EC 0x25 | IL | DFSC 0x10,
 *     FAR_EL1 = P); the next page stays accessible;
 *  3. it shares a page Q with a guest VM (s2_owner_host_share_guest): the host writes Q, the guest
 *     (another VM, VMID != 0, run by el2_vmrun) reads it at its IPA without a fault and writes
 *     back, and the host sees the guest's write;
 *  4. after s2_owner_host_unshare_guest the guest's access takes a stage-2 translation fault (the
 *     VM layer finds no slot there: an MMIO exit, answered by a sentinel), while the host keeps
 *     its page;
 *  5. at EL2: unsharing that IPA again is S2_ENOENT; Q shared with the hypervisor and pinned
 *     cannot be unshared (S2_EBUSY) until unpinned; a second unpin is refused.
 */
#include "el2_vmtest.h"
#include "s2mmu/owner.h"
#include "sysreg.h"

#define RAM_BASE 0x40000000ULL
#define RAM_BYTES (128ULL << 20) /* QEMU virt default */
#define GUEST_IPA 0x200000000ULL
#define SENTINEL 0xdeadULL

static struct s2_page_meta meta[RAM_BYTES / 4096];
static struct s2_owner o;
static struct s2_owner_guest og;
static struct el2_vt vt;
static uint64_t hyp_maps, hyp_unmaps;
static uint64_t guest_faults_at_gipa, guest_fault_kind;

static int hyp_map(void *ctx, s2_pa_t pa, uint64_t size, enum s2_page_state st, uint64_t flags)
{
	hyp_maps++; /* EL2 runs with its MMU off: everything is already addressable */
	return 0;
}

static void hyp_unmap(void *ctx, s2_pa_t pa, uint64_t size)
{
	hyp_unmaps++;
}

static int guest_mmio(void *arg, uint64_t ipa, bool write, unsigned int size, uint64_t *val)
{
	if (!write)
		*val = SENTINEL;
	return 0;
}

static int guest_observe(void *arg, struct el2_vmrun *r, const struct el2_exit *e,
			 const struct s2_abort_result *res)
{
	if (!res && S2_ALIGN_DOWN(s2_ipa_val(e->abt.ipa), 4096) == GUEST_IPA) {
		guest_faults_at_gipa++;
		guest_fault_kind = e->abt.fault;
	}
	return 0;
}

/* Load the guest's stage-2 context (its VMID): the owner layer's changes to the guest's
 * tables invalidate through the VM-layer port, which acts on the context loaded. */
static void load_guest(void)
{
	struct s2_vcpu_entry e;

	EL2_CHECK_EQ(s2_vm_vcpu_enter(&vt.vcpu, &e), 0);
	el2_stage2_load(e.vtcr, e.vttbr);
}

static uint64_t run_guest_rw(uint64_t ipa)
{
	uint64_t vbar = el2_read_sysreg(vbar_el1), tpidr = el2_read_sysreg(tpidr_el1);
	int err;

	vt.run.st = (struct el2_vmrun_stats){ 0 };
	err = el2_vmrun_call(&vt.run, (const void *)guest_vm_rw, ipa, 0, 0, 0);
	/* EL1 system registers are shared by host and guest: give the host its own back. */
	el2_write_sysreg(vbar_el1, vbar);
	el2_write_sysreg(tpidr_el1, tpidr);
	return err ? (uint64_t)(int64_t)err : vt.run.regs.x[0];
}

static uint64_t hypercall(struct el2_guest_regs *h)
{
	uint64_t a1 = h->x[1], a2 = h->x[2];
	int err;

	switch (h->x[0]) {
	case GUEST_HC_DONATE_HYP:
		return (uint64_t)(int64_t)s2_owner_host_donate_hyp(&o, s2_pa(a1), 4096);
	case GUEST_HC_SHARE_GUEST:
		load_guest();
		/* A data page for the guest: read/write, no exec. */
		err = s2_owner_host_share_guest(&o, &og, s2_ipa(a2), 4096, s2_pa(a1),
						S2_PROT_R | S2_PROT_W);
		return (uint64_t)(int64_t)err;
	case GUEST_HC_UNSHARE_GUEST:
		load_guest();
		err = s2_owner_host_unshare_guest(&o, &og, s2_ipa(a1), 4096);
		return (uint64_t)(int64_t)err;
	case GUEST_HC_GUEST_RW:
		return run_guest_rw(a1);
	}
	return ~0ULL;
}

/* The host's run loop: its stage-2 is o.host with VMID 0. */
static int run_host(struct el2_guest_regs *h, uint64_t *injected)
{
	uint64_t vttbr = 0;

	if (s2_vttbr(&o.host.cfg, o.host.root_pa, 0, &vttbr))
		return -1;

	for (;;) {
		el2_stage2_load(o.host.cfg.vtcr, vttbr);
		el2_write_sysreg(hcr_el2, HCR_VM | HCR_RW);
		el2_isb();
		uint64_t vector = el2_guest_enter(h);
		uint64_t esr = el2_read_sysreg(esr_el2), far = el2_read_sysreg(far_el2);
		uint64_t hpfar = el2_read_sysreg(hpfar_el2);
		uint32_t ec = (uint32_t)(esr >> ESR_EC_SHIFT) & 0x3f;
		enum s2_host_abort_action action;

		if (vector == 0 && ec == ESR_EC_HVC64) {
			if ((esr & 0xffff) == 0)
				return 0;
			h->x[0] = hypercall(h);
			continue;
		}
		if (vector != 0 || (ec != S2_EC_DABT_LOW && ec != S2_EC_IABT_LOW)) {
			el2_printf("host: unexpected exit vector %llu esr 0x%llx elr 0x%llx\n",
				   (unsigned long long)vector, (unsigned long long)esr,
				   (unsigned long long)h->elr);
			return EL2_EUNEXPECTED;
		}
		int err = s2_owner_host_handle_abort(&o, esr, far, hpfar, &action);
		if (err) {
			el2_printf("s2_owner_host_handle_abort: %s\n", s2_errname(err));
			return err;
		}
		if (action == S2_HOST_ABORT_INJECT) {
			(*injected)++;
			el2_inject_abort(h, esr, far);
		}
	}
}

int el2_test_main(void)
{
	static struct s2_owner_ram ram[1] = { { .base = { RAM_BASE }, .size = RAM_BYTES } };
	struct s2_config_req req = { .ipa_bits = 40, .granule = S2_GRANULE_4K };
	struct s2_owner_params p = { 0 };
	struct s2_config hcfg;
	struct s2_caps caps;
	struct s2_page_info info;
	struct el2_guest_regs h = { 0 };
	uint64_t injected = 0;
	enum s2_page_state gst;
	s2_pa_t gpa;

	el2_vt_caps(&caps);
	el2_el1_setup();
	ram[0].base = s2_pa(RAM_BASE);
	EL2_CHECK_EQ(s2_config_init(&hcfg, &caps, &req), 0);
	p.host_cfg = &hcfg;
	el2_port_get_current(&p.port);
	p.ram = ram;
	p.nr_ram = 1;
	p.meta = meta;
	p.nr_meta = RAM_BYTES / 4096;
	p.hyp = (struct s2_hyp_ops){ .map = hyp_map, .unmap = hyp_unmap };
	/* The current-context ops: the host's TLBIs need the host's VMID 0 loaded. */
	p.host_stage2 =
		(struct s2_owner_stage2_ops){ .load = el2_stage2_push, .put = el2_stage2_pop };
	if (s2_owner_init(&o, &p)) {
		el2_printf("s2_owner_init failed\n");
		el2_exit(1);
	}

	/* The guest VM (VM layer), warmed up so that its code and stack are mapped. */
	if (el2_vt_create(&vt, &caps, 40, S2_GRANULE_4K, 0) ||
	    s2_owner_guest_init(&og, &vt.vm.pgt, S2_OWNER_GUEST_MIN, false))
		el2_exit(1);
	EL2_CHECK_EQ(el2_vt_call(&vt, (const void *)guest_vm_read, (uintptr_t)vt.args, 1, 8, 0), 0);
	vt.run.mmio = guest_mmio;
	vt.run.observe = guest_observe;

	/* The host's pages: P (donated) with a neighbour, Q (shared). Its own scratch page. */
	uint8_t *pp = el2_guest_ram_alloc(2 * 4096, 4096);
	uint8_t *q = el2_guest_ram_alloc(4096, 4096);
	uint8_t *hscratch = el2_guest_ram_alloc(0x10000, 0x10000);
	if (!pp || !q || !hscratch)
		el2_exit(1);
	((uint64_t *)pp)[0] = 0x1111;
	((uint64_t *)pp)[512] = 0x2222;
	struct guest_host *args = (struct guest_host *)hscratch;
	uint64_t *log = (uint64_t *)(hscratch + 0x1000);
	*args = (struct guest_host){ .p = (uintptr_t)pp, .q = (uintptr_t)q, .gipa = GUEST_IPA };

	h.x[0] = (uintptr_t)args;
	h.x[1] = (uintptr_t)log;
	h.sp_el1 = (uintptr_t)hscratch + 0x10000;
	h.elr = (uintptr_t)guest_vm_host;
	h.spsr = SPSR_EL1H_MASKED;
	EL2_CHECK_EQ(run_host(&h, &injected), 0);
	EL2_CHECK_EQ(h.x[0], GUEST_OK);

	const volatile uint64_t *out = args->out;
	/* 1, 2: donation refuses the host's next access; the neighbour stays. */
	EL2_CHECK_EQ(out[0], 0x1111);
	EL2_CHECK_EQ(out[1], 0);
	EL2_CHECK_EQ(out[2], (uintptr_t)pp); /* the probe's load never completed */
	EL2_CHECK_EQ(out[3], 1);
	EL2_CHECK_EQ(out[4], 0x2222);
	EL2_CHECK_EQ(out[5], 1);
	EL2_CHECK_EQ(injected, 1);
	EL2_CHECK_EQ(o.stats.host_injected, 1);
	/* EC 0x25 (data abort, same EL) << 26 | IL | DFSC 0x10. */
	EL2_CHECK_EQ(log[8 + GUEST_VEC_ESR], 0x96000010ULL);
	EL2_CHECK_EQ(log[8 + GUEST_VEC_FAR], (uintptr_t)pp);
	EL2_CHECK_EQ(log[8 + GUEST_VEC_OFFSET], 0x200);
	EL2_CHECK_EQ(s2_owner_page_info(&o, s2_pa((uintptr_t)pp), &info), 0);
	EL2_CHECK_EQ(info.host, S2_PAGE_NOPAGE);
	EL2_CHECK_EQ(info.hyp, S2_PAGE_OWNED);
	EL2_CHECK_EQ(info.owner, S2_OWNER_HYP);
	EL2_CHECK_EQ(hyp_maps, 1);
	/* 3: shared with the guest, both access it. */
	EL2_CHECK_EQ(out[6], 0);
	EL2_CHECK_EQ(out[7], 0xabc);
	EL2_CHECK_EQ(out[8], 0xabd);
	/* 4: after unshare the guest faults; the host keeps the page. */
	EL2_CHECK_EQ(out[9], 0);
	EL2_CHECK_EQ(out[10], SENTINEL);
	EL2_CHECK_EQ(guest_faults_at_gipa, 2); /* its load, then its store */
	EL2_CHECK_EQ(guest_fault_kind, S2_FAULT_TRANSLATION);
	EL2_CHECK_EQ(out[11], 0xabd);
	EL2_CHECK_EQ(out[12], 1);
	EL2_CHECK_EQ(s2_owner_guest_page(&og, s2_ipa(GUEST_IPA), &gst, &gpa), 0);
	EL2_CHECK_EQ(gst, S2_PAGE_NOPAGE);
	EL2_CHECK_EQ(s2_owner_page_info(&o, s2_pa((uintptr_t)q), &info), 0);
	EL2_CHECK_EQ(info.host, S2_PAGE_OWNED);
	EL2_CHECK_EQ(info.share_count, 0);
	/* 5: unsharing an IPA nothing maps is S2_ENOENT (as pKVM); a page the hypervisor pinned
	 * cannot be unshared until it is unpinned, and an unpinned page cannot be unpinned. */
	EL2_CHECK_EQ(s2_owner_host_unshare_guest(&o, &og, s2_ipa(GUEST_IPA), 4096), S2_ENOENT);
	EL2_CHECK_EQ(s2_owner_host_share_hyp(&o, s2_pa((uintptr_t)q), 4096), 0);
	EL2_CHECK_EQ(s2_owner_hyp_pin_shared(&o, s2_pa((uintptr_t)q), 4096), 0);
	EL2_CHECK_EQ(s2_owner_host_unshare_hyp(&o, s2_pa((uintptr_t)q), 4096), S2_EBUSY);
	EL2_CHECK_EQ(s2_owner_page_info(&o, s2_pa((uintptr_t)q), &info), 0);
	EL2_CHECK_EQ(info.pin_count, 1);
	EL2_CHECK_EQ(s2_owner_hyp_unpin_shared(&o, s2_pa((uintptr_t)q), 4096), 0);
	EL2_CHECK_EQ(s2_owner_hyp_unpin_shared(&o, s2_pa((uintptr_t)q), 4096), S2_EPERM);
	EL2_CHECK_EQ(s2_owner_host_unshare_hyp(&o, s2_pa((uintptr_t)q), 4096), 0);
	el2_printf("protected: %llu host stage-2 faults, %llu mapped, %llu injected\n",
		   (unsigned long long)o.stats.host_faults, (unsigned long long)o.stats.host_mapped,
		   (unsigned long long)o.stats.host_injected);
	EL2_CHECK_EQ(s2_pgtable_check(&o.host, NULL), 0);
	el2_check_done("el2.protected");
}
