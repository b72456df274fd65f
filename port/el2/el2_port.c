// SPDX-License-Identifier: MIT
/*
 * port/el2/el2_port.c - the EL2 port: table-page pool, guest RAM, the struct s2_port_ops that
 * issues the real TLBI, DC, IC and barrier instructions, and the vCPU run loop.
 *
 * EL2 runs with its MMU off (QEMU enters the image that way), so a virtual address is the
 * physical address and va_to_pa/pa_to_va are the identity.
 */
#include "el2.h"
#include "el2_pool.h"
#include "sysreg.h"
#include "s2mmu/pgtable.h"

/* ---- entry, exceptions in the hypervisor, checks ---------------------------------------- */

int el2_test_main(void);
_Noreturn void el2_c_entry(void);
_Noreturn void el2_hyp_exception(uint64_t vector, uint64_t esr, uint64_t elr, uint64_t far);

unsigned int el2_failures;

_Noreturn void el2_c_entry(void)
{
	uint64_t el = (el2_read_sysreg(CurrentEL) >> 2) & 3;

	if (el != 2) {
		el2_printf("el2: entered at EL%u, not EL2 (need -M virt,virtualization=on)\n",
			   (unsigned int)el);
		el2_exit(1);
	}
	el2_exit(el2_test_main());
}

_Noreturn void el2_hyp_exception(uint64_t vector, uint64_t esr, uint64_t elr, uint64_t far)
{
	el2_printf("el2: unexpected exception in the hypervisor: vector %u esr 0x%llx elr 0x%llx "
		   "far 0x%llx\n",
		   (unsigned int)vector, (unsigned long long)esr, (unsigned long long)elr,
		   (unsigned long long)far);
	el2_exit(1);
}

_Noreturn void el2_check_done(const char *test)
{
	if (el2_failures) {
		el2_printf("FAIL %s: %u check(s) failed\n", test, el2_failures);
		el2_exit(1);
	}
	el2_printf("PASS %s\n", test);
	el2_exit(0);
}

void el2_read_idregs(struct s2_idregs *r)
{
	r->mmfr0 = el2_read_sysreg(id_aa64mmfr0_el1);
	r->mmfr1 = el2_read_sysreg(id_aa64mmfr1_el1);
	r->mmfr2 = el2_read_sysreg(s3_0_c0_c7_2); /* ID_AA64MMFR2_EL1 */
	r->pfr1 = el2_read_sysreg(id_aa64pfr1_el1);
	r->ctr = el2_read_sysreg(ctr_el0);
}

uint64_t el2_counter(void)
{
	el2_isb();
	return el2_read_sysreg(cntpct_el0);
}

uint64_t el2_counter_freq(void)
{
	return el2_read_sysreg(cntfrq_el0);
}

/* ---- table-page pool ---------------------------------------------------------------------- */

extern char el2_pool_start[], el2_pool_end[];
extern char el2_guest_ram_start[], el2_guest_ram_end[];

#define POOL_BYTES 0x800000UL /* the .pool section of link.ld */

static uint32_t pool_refcount[POOL_BYTES >> EL2_POOL_MIN_SHIFT];
static struct el2_pool pool = { .start = el2_pool_start,
				.end = el2_pool_end,
				.refcount = pool_refcount };

static void el2_zero(void *p, size_t n)
{
	uint64_t *q = p;

	for (size_t i = 0; i < n / 8; i++)
		q[i] = 0;
}

void *el2_pool_alloc(size_t bytes)
{
	void *p = el2_pool_take(&pool, bytes);

	if (p)
		el2_zero(p, bytes);
	return p;
}

void el2_pool_free(void *va, size_t bytes)
{
	if (va && !el2_pool_put(&pool, va, bytes))
		S2_BUG("el2_pool_free: not a pool block");
}

uint64_t el2_pool_in_use(void)
{
	return pool.used;
}

static uintptr_t guest_ram_next;

void *el2_guest_ram_alloc(size_t bytes, size_t align)
{
	if (!guest_ram_next)
		guest_ram_next = (uintptr_t)el2_guest_ram_start;
	uintptr_t a = (guest_ram_next + align - 1) & ~(uintptr_t)(align - 1);
	if (a + bytes > (uintptr_t)el2_guest_ram_end || a + bytes < a)
		return NULL;
	guest_ram_next = a + bytes;
	el2_zero((void *)a, bytes);
	return (void *)a;
}

/* ---- port ops ------------------------------------------------------------------------------ */

struct el2_port_ctx {
	const struct el2_vm *loaded; /* VTCR/VTTBR currently in the registers */
	bool raw_valid; /* raw_vtcr/raw_vttbr are what the registers hold */
	uint64_t raw_vtcr, raw_vttbr;
	bool ttl; /* FEAT_TTL: TLBI level hints */
	unsigned int dline; /* smallest D-cache line, bytes */
};

static struct el2_port_ctx el2_ctx;
struct el2_port_counters el2_port_counters;

void el2_stage2_load(uint64_t vtcr, uint64_t vttbr)
{
	el2_ctx.loaded = NULL;
	if (el2_ctx.raw_valid && el2_ctx.raw_vtcr == vtcr && el2_ctx.raw_vttbr == vttbr)
		return;
	el2_write_sysreg(vtcr_el2, vtcr);
	el2_write_sysreg(vttbr_el2, vttbr);
	el2_isb();
	el2_ctx.raw_vtcr = vtcr;
	el2_ctx.raw_vttbr = vttbr;
	el2_ctx.raw_valid = true;
}

/* What el2_stage2_push() found loaded, for el2_stage2_pop(). */
static struct {
	bool pushed, valid;
	uint64_t vtcr, vttbr;
	const struct el2_vm *loaded;
} el2_saved;

void el2_stage2_push(void *ctx, uint64_t vtcr, uint64_t vttbr)
{
	(void)ctx;
	if (el2_saved.pushed)
		s2_env_panic("el2_stage2_push: already pushed", __FILE__, __LINE__);
	el2_saved.pushed = true;
	el2_saved.valid = el2_ctx.raw_valid;
	el2_saved.vtcr = el2_ctx.raw_vtcr;
	el2_saved.vttbr = el2_ctx.raw_vttbr;
	el2_saved.loaded = el2_ctx.loaded;
	el2_stage2_load(vtcr, vttbr);
}

void el2_stage2_pop(void *ctx)
{
	(void)ctx;
	if (!el2_saved.pushed)
		s2_env_panic("el2_stage2_pop: nothing pushed", __FILE__, __LINE__);
	el2_saved.pushed = false;
	if (!el2_saved.valid)
		return; /* nothing was loaded before: leave the pushed context */
	el2_stage2_load(el2_saved.vtcr, el2_saved.vttbr);
	el2_ctx.loaded = el2_saved.loaded;
}

void el2_vm_load(const struct el2_vm *vm)
{
	if (el2_ctx.loaded == vm)
		return;
	el2_stage2_load(vm->vtcr, vm->vttbr);
	el2_ctx.loaded = vm;
}

uint64_t el2_dcache_lines_in(uint64_t pa, uint64_t size)
{
	const struct el2_port_counters *c = &el2_port_counters;
	uint64_t n = c->dcache_calls < EL2_DCACHE_LOG ? c->dcache_calls : EL2_DCACHE_LOG;
	uint64_t line = el2_ctx.dline, lines = 0;

	for (uint64_t i = 0; i < n; i++) {
		const struct el2_dcache_op *op = &c->dcache_log[i];
		uint64_t lo = op->pa > pa ? op->pa : pa;
		uint64_t hi = op->pa + op->size < pa + size ? op->pa + op->size : pa + size;

		if (hi > lo)
			lines += (S2_ALIGN_UP(hi, line) - S2_ALIGN_DOWN(lo, line)) / line;
	}
	return lines;
}

int el2_vm_init(struct el2_vm *vm, const struct s2_config *cfg, s2_pa_t root_pa, uint16_t vmid)
{
	uint64_t vttbr;
	int ret = s2_vttbr(cfg, root_pa, vmid, &vttbr);

	if (ret)
		return ret;
	vm->vtcr = cfg->vtcr;
	vm->vttbr = vttbr;
	vm->hcr = HCR_VM | HCR_RW | (cfg->fwb ? HCR_FWB : 0);
	if (el2_ctx.loaded == vm)
		el2_ctx.loaded = NULL;
	return 0;
}

static void *el2_op_alloc_pages(void *ctx, size_t bytes)
{
	return el2_pool_alloc(bytes);
}

static void el2_op_free_pages(void *ctx, void *va, size_t bytes)
{
	el2_pool_free(va, bytes);
}

static uint32_t *el2_op_page_refcount(void *ctx, void *va)
{
	return el2_pool_refcount(&pool, va);
}

/* The TLBI IPAS2E1(IS) operand for @ipa in @pgt's tables (with the FEAT_TTL hint if any). */
static uint64_t el2_ipas2_operand(const struct s2_pgtable *pgt, uint64_t ipa, int level)
{
	return el2_tlbi_ipas2_operand(ipa, pgt->cfg.granule, level, el2_ctx.ttl);
}

/*
 * Combined stage-1+2 entries of an IPA can only be removed with a stage-1 TLBI of the whole
 * VMID once the stage-2 one completed. Each TLBI op below ends with this, on the context
 * loaded, so it is a complete sequence (Linux's __kvm_tlb_flush_vmid_ipa: TLBI IPAS2E1IS;
 * DSB ISH; TLBI VMALLE1IS; DSB ISH; ISB) and nothing is left owed to a later barrier.
 */
static void el2_tlbi_s1_complete(void)
{
	el2_port_counters.tlbi_s1++;
	el2_dsb_ish();
	if (!el2_port_counters.tlbi_off)
		el2_tlbi_vmalle1is();
	el2_dsb_ish();
	el2_isb();
}

static void el2_tlbi_ipas2_batch(const struct s2_pgtable *pgt, uint64_t ipa, uint64_t size,
				 int level)
{
	uint64_t step = s2_granule_size(pgt->cfg.granule);

	for (uint64_t off = 0; off < size; off += step) {
		el2_port_counters.tlbi_ipa++;
		if (!el2_port_counters.tlbi_off)
			el2_tlbi_ipas2e1is(el2_ipas2_operand(pgt, ipa + off, level));
	}
	el2_tlbi_s1_complete();
}

static void el2_op_tlbi_ipa(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	el2_vm_load(pgt->cookie);
	el2_tlbi_ipas2_batch(pgt, s2_ipa_val(ipa), s2_granule_size(pgt->cfg.granule), level);
}

/*
 * The local form, after a permission was relaxed (KVM's __kvm_tlb_flush_vmid_ipa_nsh): DSB
 * NSHST (the new descriptor visible to this CPU's walker); TLBI IPAS2E1; DSB NSH; TLBI
 * VMALLE1 (combined entries); DSB NSH; ISB. On the context loaded now (@load: the VM's first).
 */
static void el2_tlbi_ipa_local_seq(const struct s2_pgtable *pgt, s2_ipa_t ipa, int level, bool load)
{
	el2_dsb_nshst();
	if (load)
		el2_vm_load(pgt->cookie);
	el2_port_counters.tlbi_ipa_local++;
	if (!el2_port_counters.tlbi_off) {
		el2_tlbi_ipas2e1(el2_ipas2_operand(pgt, s2_ipa_val(ipa), level));
		el2_dsb_nsh();
		el2_tlbi_vmalle1();
	}
	el2_dsb_nsh();
	el2_isb();
}

static void el2_op_tlbi_ipa_local(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	el2_tlbi_ipa_local_seq(pgt, ipa, level, true);
}

static void el2_op_tlbi_vmid(void *ctx, const struct s2_pgtable *pgt)
{
	el2_vm_load(pgt->cookie);
	el2_port_counters.tlbi_vmid++;
	if (!el2_port_counters.tlbi_off)
		el2_tlbi_vmalls12e1is();
	el2_dsb_ish();
}

static void el2_op_tlbi_range(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size)
{
	uint64_t step = s2_granule_size(pgt->cfg.granule);

	if (size / step > 512) {
		el2_op_tlbi_vmid(ctx, pgt);
		return;
	}
	el2_vm_load(pgt->cookie);
	el2_tlbi_ipas2_batch(pgt, s2_ipa_val(ipa), size, -2);
}

static void el2_op_dcache_clean_inval_poc(void *ctx, s2_pa_t pa, uint64_t size)
{
	uint64_t line = el2_ctx.dline;
	uint64_t start = s2_pa_val(pa) & ~(line - 1);
	uint64_t end = s2_pa_val(pa) + size;

	struct el2_port_counters *c = &el2_port_counters;

	c->dcache_log[c->dcache_calls % EL2_DCACHE_LOG] =
		(struct el2_dcache_op){ s2_pa_val(pa), size };
	c->dcache_calls++;
	/* PA == VA at EL2 here (MMU off). */
	for (uint64_t a = start; a < end; a += line) {
		el2_dc_civac(a);
		c->dcache_lines++;
	}
	el2_dsb_ish();
}

static void el2_op_icache_inval_pou(void *ctx, s2_pa_t pa, uint64_t size)
{
	el2_port_counters.icache_calls++;
	el2_ic_ialluis();
	el2_dsb_ish();
	el2_isb();
}

static void el2_op_barrier(void *ctx, enum s2_barrier b)
{
	switch (b) {
	case S2_BARRIER_DSB_ISHST:
		el2_dsb_ishst();
		break;
	case S2_BARRIER_DSB_ISH:
		el2_dsb_ish();
		break;
	case S2_BARRIER_ISB:
		el2_isb();
		break;
	}
}

static const struct s2_port_ops el2_ops = {
	.alloc_pages = el2_op_alloc_pages,
	.free_pages = el2_op_free_pages,
	.page_refcount = el2_op_page_refcount,
	.va_to_pa = el2_identity_va_to_pa,
	.pa_to_va = el2_identity_pa_to_va,
	.tlbi_ipa = el2_op_tlbi_ipa,
	.tlbi_range = el2_op_tlbi_range,
	.tlbi_vmid = el2_op_tlbi_vmid,
	.tlbi_ipa_local = el2_op_tlbi_ipa_local,
	.dcache_clean_inval_poc = el2_op_dcache_clean_inval_poc,
	.icache_inval_pou = el2_op_icache_inval_pou,
	.barrier = el2_op_barrier,
};

/*
 * VM-layer ops: the same instructions, on the stage-2 context loaded now (Arm ARM D8.13: a
 * TLBI by IPA or VMID acts on the VMID in VTTBR_EL2). The VM layer loads the VM's context
 * through hooks.load_stage2 before any maintenance, and the abort path runs right after the
 * guest exit with the vCPU's context still loaded.
 */
static void el2_op_tlbi_ipa_cur(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	el2_tlbi_ipas2_batch(pgt, s2_ipa_val(ipa), s2_granule_size(pgt->cfg.granule), level);
}

static void el2_op_tlbi_ipa_local_cur(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa,
				      int level)
{
	el2_tlbi_ipa_local_seq(pgt, ipa, level, false);
}

static void el2_op_tlbi_vmid_cur(void *ctx, const struct s2_pgtable *pgt)
{
	el2_port_counters.tlbi_vmid++;
	if (!el2_port_counters.tlbi_off)
		el2_tlbi_vmalls12e1is();
	el2_dsb_ish();
}

static void el2_op_tlbi_range_cur(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa,
				  uint64_t size)
{
	uint64_t step = s2_granule_size(pgt->cfg.granule);

	if (size / step > 512) {
		el2_op_tlbi_vmid_cur(ctx, pgt);
		return;
	}
	el2_tlbi_ipas2_batch(pgt, s2_ipa_val(ipa), size, -2);
}

static const struct s2_port_ops el2_ops_cur = {
	.alloc_pages = el2_op_alloc_pages,
	.free_pages = el2_op_free_pages,
	.page_refcount = el2_op_page_refcount,
	.va_to_pa = el2_identity_va_to_pa,
	.pa_to_va = el2_identity_pa_to_va,
	.tlbi_ipa = el2_op_tlbi_ipa_cur,
	.tlbi_range = el2_op_tlbi_range_cur,
	.tlbi_vmid = el2_op_tlbi_vmid_cur,
	.tlbi_ipa_local = el2_op_tlbi_ipa_local_cur,
	.dcache_clean_inval_poc = el2_op_dcache_clean_inval_poc,
	.icache_inval_pou = el2_op_icache_inval_pou,
	.barrier = el2_op_barrier,
};

void el2_port_get_current(struct s2_port *port)
{
	el2_port_get(port);
	port->ops = &el2_ops_cur;
}

void el2_port_get(struct s2_port *port)
{
	el2_ctx.ttl = el2_has_ttl();
	el2_ctx.dline = el2_dcache_line();
	port->ops = &el2_ops;
	port->ctx = &el2_ctx;
	/* MMU off at EL2: table memory is addressed by its PA. */
	port->linear = true;
	port->va_minus_pa = 0;
}

/* ---- guest entry ----------------------------------------------------------------------------- */

extern char el2_guest_vectors[];

void el2_el1_setup(void)
{
	/* SCTLR_EL1: M=0, C=0, I=0 (MMU and caches off), RES1/legacy bits 29,28,23,22,20,11. */
	el2_write_sysreg(sctlr_el1, 0x30d00800UL);
	el2_write_sysreg(vbar_el1, (uint64_t)(uintptr_t)el2_guest_vectors);
	el2_write_sysreg(cpacr_el1, 3UL << 20); /* FP/SIMD usable at EL1 */
	/* CNTHCTL_EL2 (E2H=0): EL1PCTEN, EL1PCEN: EL1 may read the physical counter. */
	el2_write_sysreg(cnthctl_el2, 3UL);
	el2_write_sysreg(cntvoff_el2, 0UL);
	el2_isb();
}

static void el2_print_exit(const char *why, const struct el2_vcpu *vcpu, const struct el2_exit *e)
{
	el2_printf("el2: %s: vector %u esr 0x%llx (EC 0x%x) far 0x%llx hpfar 0x%llx elr 0x%llx\n",
		   why, e->vector, (unsigned long long)e->esr,
		   (unsigned int)(e->esr >> ESR_EC_SHIFT) & 0x3f, (unsigned long long)e->far,
		   (unsigned long long)e->hpfar, (unsigned long long)vcpu->regs.elr);
}

int el2_vcpu_run(struct el2_vcpu *vcpu, el2_exit_fn fn, void *arg)
{
	for (;;) {
		struct el2_exit e;
		int r;

		el2_vm_load(vcpu->vm);
		el2_write_sysreg(hcr_el2, vcpu->vm->hcr);
		el2_isb();
		e.vector = (uint32_t)el2_guest_enter(&vcpu->regs);
		vcpu->exits++;
		e.esr = el2_read_sysreg(esr_el2);
		e.far = el2_read_sysreg(far_el2);
		e.hpfar = el2_read_sysreg(hpfar_el2);
		e.abt_err = S2_EINVAL;
		if (e.vector != 0) {
			el2_print_exit("unexpected asynchronous exit", vcpu, &e);
			return EL2_EUNEXPECTED;
		}
		uint32_t ec = (uint32_t)(e.esr >> ESR_EC_SHIFT) & 0x3f;
		if (ec == ESR_EC_HVC64)
			return 0; /* ELR_EL2 already points after the HVC */
		if (ec != S2_EC_DABT_LOW && ec != S2_EC_IABT_LOW) {
			el2_print_exit("unexpected trap", vcpu, &e);
			return EL2_EUNEXPECTED;
		}
		/* HPFAR_EL2 holds the faulting IPA for stage-2 faults (Arm ARM D19.2.50). */
		e.abt_err = s2_abort_decode(e.esr, e.far, e.hpfar, true, &e.abt);
		if (!fn) {
			el2_print_exit("abort without a handler", vcpu, &e);
			return EL2_EUNEXPECTED;
		}
		r = fn(arg, vcpu, &e);
		if (r < 0)
			return r;
		if (r == EL2_SKIP)
			vcpu->regs.elr += 4;
	}
}

int el2_guest_call(struct el2_vcpu *vcpu, const void *fn, uint64_t a0, uint64_t a1, uint64_t a2,
		   uint64_t a3, el2_exit_fn handler, void *arg)
{
	for (unsigned int i = 0; i < 31; i++)
		vcpu->regs.x[i] = 0;
	vcpu->regs.x[0] = a0;
	vcpu->regs.x[1] = a1;
	vcpu->regs.x[2] = a2;
	vcpu->regs.x[3] = a3;
	vcpu->regs.sp_el1 = vcpu->stack_top;
	vcpu->regs.elr = (uint64_t)(uintptr_t)fn;
	vcpu->regs.spsr = SPSR_EL1H_MASKED;
	return el2_vcpu_run(vcpu, handler, arg);
}
