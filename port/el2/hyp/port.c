// SPDX-License-Identifier: MIT
/*
 * port/el2/hyp/port.c - the hypervisor's EL2 stage-1 MMU (identity map: RAM Normal write-back,
 * the low GiB Device-nGnRE), its locks, the table-page pool and the s2_port (the real TLBI and
 * cache-maintenance instructions) for the VM layer, safe on several CPUs at once.
 */
#include <stdarg.h>
#include <string.h>

#include "el2_pool.h"
#include "hyp.h"
#include "sysreg.h"

/* ---- EL2 stage 1 ---------------------------------------------------------------------------- */

/*
 * One level-1 table, 4K granule, 39-bit VA (T0SZ = 25): 1 GiB blocks. [0, 1 GiB) holds QEMU
 * virt's devices (Device-nGnRE, execute-never); [1 GiB, 4 GiB) is RAM (Normal write-back,
 * inner shareable). MAIR_EL2: attr0 = 0x04 Device-nGnRE, attr1 = 0xff Normal WB RA/WA.
 */
static uint64_t hyp_l1[512] __attribute__((aligned(4096)));
struct {
	uint64_t mair, tcr, ttbr0, sctlr;
} hyp_mmu_regs;

#define PTE_BLOCK 0x1UL
#define PTE_ATTR(i) ((uint64_t)(i) << 2)
#define PTE_SH_INNER (3UL << 8)
#define PTE_AF (1UL << 10)
#define PTE_XN (1UL << 54)

void hyp_mmu_build(void)
{
	hyp_l1[0] = 0 | PTE_BLOCK | PTE_ATTR(0) | PTE_AF | PTE_XN;
	for (uint64_t g = 1; g < 4; g++)
		hyp_l1[g] = (g << 30) | PTE_BLOCK | PTE_ATTR(1) | PTE_SH_INNER | PTE_AF;
	hyp_mmu_regs.mair = 0x04UL | (0xffUL << 8);
	/* TCR_EL2 (E2H = 0): RES1 [31], [23]; PS [18:16] = 40 bits; TG0 4K; SH0 inner;
	 * ORGN0/IRGN0 write-back write-allocate; T0SZ 25. */
	hyp_mmu_regs.tcr = (1UL << 31) | (1UL << 23) | (2UL << 16) | (3UL << 12) | (1UL << 10) |
			   (1UL << 8) | 25;
	hyp_mmu_regs.ttbr0 = (uint64_t)(uintptr_t)hyp_l1;
	/* SCTLR_EL2: RES1 bits 29,28,23,22,18,16,11,5,4; M, C, I. */
	hyp_mmu_regs.sctlr = 0x30c50830UL | 1 | (1UL << 2) | (1UL << 12);
}

/* ---- locks ---------------------------------------------------------------------------------- */

void hyp_spin_lock(hyp_spinlock_t *l)
{
	while (__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->v, __ATOMIC_RELAXED))
			__asm__ volatile("yield");
}

void hyp_spin_unlock(hyp_spinlock_t *l)
{
	__atomic_store_n(&l->v, 0, __ATOMIC_RELEASE);
}

void hyp_read_lock(hyp_rwlock_t *l)
{
	for (;;) {
		int32_t v = __atomic_load_n(&l->v, __ATOMIC_RELAXED);

		if (v >= 0 && __atomic_compare_exchange_n(&l->v, &v, v + 1, false, __ATOMIC_ACQUIRE,
							  __ATOMIC_RELAXED))
			return;
		__asm__ volatile("yield");
	}
}

void hyp_read_unlock(hyp_rwlock_t *l)
{
	__atomic_fetch_sub(&l->v, 1, __ATOMIC_RELEASE);
}

void hyp_write_lock(hyp_rwlock_t *l)
{
	for (;;) {
		int32_t v = 0;

		if (__atomic_compare_exchange_n(&l->v, &v, -1, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
		__asm__ volatile("yield");
	}
}

void hyp_write_unlock(hyp_rwlock_t *l)
{
	__atomic_store_n(&l->v, 0, __ATOMIC_RELEASE);
}

static hyp_spinlock_t hyp_print_lock;

void hyp_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hyp_spin_lock(&hyp_print_lock);
	el2_vprintf(fmt, ap);
	hyp_spin_unlock(&hyp_print_lock);
	va_end(ap);
}

/* ---- table-page pool: power-of-two blocks aligned to their size, 4K .. 1M ------------------ */

extern char hyp_pool_start[], hyp_pool_end[];

#define POOL_BYTES 0x2000000UL /* the .pool section of link.ld */

static hyp_spinlock_t pool_lock;
static uint32_t pool_refcount[POOL_BYTES >> EL2_POOL_MIN_SHIFT];
static struct el2_pool pool = { .start = hyp_pool_start,
				.end = hyp_pool_end,
				.refcount = pool_refcount };

static void *hyp_op_alloc_pages(void *ctx, size_t bytes)
{
	void *p;

	hyp_spin_lock(&pool_lock);
	p = el2_pool_take(&pool, bytes);
	hyp_spin_unlock(&pool_lock);
	if (p)
		memset(p, 0, bytes);
	return p;
}

static void hyp_op_free_pages(void *ctx, void *va, size_t bytes)
{
	bool ok;

	if (!va)
		return;
	hyp_spin_lock(&pool_lock);
	ok = el2_pool_put(&pool, va, bytes);
	hyp_spin_unlock(&pool_lock);
	if (!ok)
		S2_BUG("hyp free_pages: not a pool block");
}

static uint32_t *hyp_op_page_refcount(void *ctx, void *va)
{
	return el2_pool_refcount(&pool, va);
}

/* ---- TLB and cache maintenance on the stage-2 context loaded on this CPU --------------------- */

bool hyp_mutate_notlbi; /* s2.mutate=notlbi: issue no TLBI (shows the checks notice) */
static bool hyp_ttl; /* FEAT_TTL */
static unsigned int hyp_dline; /* smallest D-cache line */
static struct hyp_port_stats pst; /* counters, updated atomically */

#define STAT_INC(f, n) __atomic_fetch_add(&pst.f, (n), __ATOMIC_RELAXED)

/*
 * Combined stage-1+2 entries of an IPA need a stage-1 TLBI of the VMID once the stage-2 one
 * completed. Each TLBI op ends with it, so it is a complete sequence (KVM's
 * __kvm_tlb_flush_vmid_ipa: TLBI IPAS2E1IS; DSB ISH; TLBI VMALLE1IS; DSB ISH; ISB) and
 * nothing is owed to a later barrier.
 */
static void hyp_tlbi_s1_complete(void)
{
	el2_dsb_ish();
	STAT_INC(tlbi_s1, 1);
	if (!hyp_mutate_notlbi)
		el2_tlbi_vmalle1is();
	el2_dsb_ish();
	el2_isb();
}

static void hyp_tlbi_ipas2(const struct s2_pgtable *pgt, uint64_t ipa, int level)
{
	uint64_t xt = el2_tlbi_ipas2_operand(ipa, pgt->cfg.granule, level, hyp_ttl);

	STAT_INC(tlbi_ipa, 1);
	if (!hyp_mutate_notlbi)
		el2_tlbi_ipas2e1is(xt);
}

static void hyp_op_tlbi_ipa(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	hyp_tlbi_ipas2(pgt, s2_ipa_val(ipa), level);
	hyp_tlbi_s1_complete();
}

/*
 * The local form after a relaxed permission (a CPU may keep the entry that faulted): DSB
 * NSHST; TLBI IPAS2E1; DSB NSH; TLBI VMALLE1 (combined entries); DSB NSH; ISB, on the stage-2
 * context loaded on this CPU (include/s2mmu/port.h, KVM's __kvm_tlb_flush_vmid_ipa_nsh).
 */
static void hyp_op_tlbi_ipa_local(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	uint64_t xt = el2_tlbi_ipas2_operand(s2_ipa_val(ipa), pgt->cfg.granule, level, hyp_ttl);

	STAT_INC(tlbi_ipa_local, 1);
	el2_dsb_nshst();
	if (!hyp_mutate_notlbi) {
		el2_tlbi_ipas2e1(xt);
		el2_dsb_nsh();
		el2_tlbi_vmalle1();
	}
	el2_dsb_nsh();
	el2_isb();
}

static void hyp_op_tlbi_vmid(void *ctx, const struct s2_pgtable *pgt)
{
	STAT_INC(tlbi_vmid, 1);
	if (!hyp_mutate_notlbi)
		el2_tlbi_vmalls12e1is();
	el2_dsb_ish();
}

static void hyp_op_tlbi_range(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size)
{
	uint64_t step = s2_granule_size(pgt->cfg.granule);

	if (size / step > 512) {
		hyp_op_tlbi_vmid(ctx, pgt);
		return;
	}
	for (uint64_t off = 0; off < size; off += step)
		hyp_tlbi_ipas2(pgt, s2_ipa_val(ipa) + off, -2);
	hyp_tlbi_s1_complete();
}

static void hyp_op_dcache(void *ctx, s2_pa_t pa, uint64_t size)
{
	uint64_t line = hyp_dline;
	uint64_t a = s2_pa_val(pa) & ~(line - 1), end = s2_pa_val(pa) + size;

	STAT_INC(dc_calls, 1);
	STAT_INC(dc_lines, (end - a + line - 1) / line);
	for (; a < end; a += line)
		el2_dc_civac(a); /* PA == VA: the EL2 map is the identity */
	el2_dsb_ish();
}

static void hyp_op_icache(void *ctx, s2_pa_t pa, uint64_t size)
{
	STAT_INC(ic_calls, 1);
	el2_ic_ialluis();
	el2_dsb_ish();
	el2_isb();
}

static void hyp_op_barrier(void *ctx, enum s2_barrier b)
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

static const struct s2_port_ops hyp_ops = {
	.alloc_pages = hyp_op_alloc_pages,
	.free_pages = hyp_op_free_pages,
	.page_refcount = hyp_op_page_refcount,
	.va_to_pa = el2_identity_va_to_pa,
	.pa_to_va = el2_identity_pa_to_va,
	.tlbi_ipa = hyp_op_tlbi_ipa,
	.tlbi_ipa_local = hyp_op_tlbi_ipa_local,
	.tlbi_range = hyp_op_tlbi_range,
	.tlbi_vmid = hyp_op_tlbi_vmid,
	.dcache_clean_inval_poc = hyp_op_dcache,
	.icache_inval_pou = hyp_op_icache,
	.barrier = hyp_op_barrier,
};

void hyp_port_get(struct s2_port *port)
{
	hyp_ttl = el2_has_ttl();
	hyp_dline = el2_dcache_line();
	*port = (struct s2_port){ .ops = &hyp_ops, .linear = true, .va_minus_pa = 0 };
}

void hyp_port_stats(struct hyp_port_stats *s)
{
	*s = pst;
	s->pool_used = pool.used;
	s->pool_peak = pool.peak;
	s->pool_bytes = POOL_BYTES;
}

/* ---- VM-layer hooks: the three locks, the stage-2 context ------------------------------------ */

static hyp_spinlock_t slots_lock, owner_lock;
static hyp_rwlock_t mmu_lock;

static void hyp_hook_lock(void *ctx, enum s2_vm_lock l)
{
	switch (l) {
	case S2_VM_LOCK_SLOTS:
		hyp_spin_lock(&slots_lock);
		break;
	case S2_VM_LOCK_MMU_SHARED:
		hyp_read_lock(&mmu_lock);
		break;
	case S2_VM_LOCK_MMU_EXCL:
		hyp_write_lock(&mmu_lock);
		break;
	case S2_VM_LOCK_OWNER: /* no owner-managed VM here; taken all the same */
		hyp_spin_lock(&owner_lock);
		break;
	}
}

static void hyp_hook_unlock(void *ctx, enum s2_vm_lock l)
{
	switch (l) {
	case S2_VM_LOCK_SLOTS:
		hyp_spin_unlock(&slots_lock);
		break;
	case S2_VM_LOCK_MMU_SHARED:
		hyp_read_unlock(&mmu_lock);
		break;
	case S2_VM_LOCK_MMU_EXCL:
		hyp_write_unlock(&mmu_lock);
		break;
	case S2_VM_LOCK_OWNER:
		hyp_spin_unlock(&owner_lock);
		break;
	}
}

/* One VM: the context to load is the one every CPU runs; loading it again is harmless. */
static void hyp_hook_load_stage2(void *ctx, uint64_t vtcr, uint64_t vttbr)
{
	if (el2_read_sysreg(vtcr_el2) == vtcr && el2_read_sysreg(vttbr_el2) == vttbr)
		return;
	el2_write_sysreg(vtcr_el2, vtcr);
	el2_write_sysreg(vttbr_el2, vttbr);
	el2_isb();
}

void hyp_vm_hooks(struct s2_vm_hooks *h)
{
	*h = (struct s2_vm_hooks){
		.lock = hyp_hook_lock,
		.unlock = hyp_hook_unlock,
		.load_stage2 = hyp_hook_load_stage2,
	};
}
