// SPDX-License-Identifier: MIT
/*
 * kvm_glue.c - the side of the KVM benchmark built with the kernel stand-in headers
 * (bench/kvm/include): KVM's kvm_pgtable_mm_ops over the s2mmu host port, the counters behind
 * the shim's TLBI/barrier calls, setup helpers, a table checker, and the measured loops
 * (bench_op_*), each calling the unchanged engine (arch/arm64/kvm/hyp/pgtable.c of Debian's
 * linux-source-6.12 or -6.1, built beside this file) as KVM's arch/arm64/kvm/mmu.c does.
 * See kvm_bench.h and bench/README.md ("KVM's engine in the same run").
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include <linux/kvm_host.h>
#include <asm/kvm_pgtable.h>

#include "../bench_common.h"
#include "kvm_bench.h"

#if BENCH_KVM_VERSION == 612
const char kvmb_version[] = "6.12";
const char kvmb_name[] = "kvm612";
const bool kvmb_has_range_age = true;
/* user_mem_abort() and handle_access_fault() walk with the MMU lock held for read. */
#define FAULT_FLAGS (KVM_PGTABLE_WALK_HANDLE_FAULT | KVM_PGTABLE_WALK_SHARED)
#define STAGE2_MAP(pgt, ipa, size, pa, prot, mc, flags) \
	kvm_pgtable_stage2_map(pgt, ipa, size, pa, prot, mc, flags)
typedef s8 kvmb_level_t;
#elif BENCH_KVM_VERSION == 61
const char kvmb_version[] = "6.1";
const char kvmb_name[] = "kvm61";
const bool kvmb_has_range_age = false;
/* 6.1 maps with the MMU lock held for write and has no walk flags. */
#define FAULT_FLAGS 0
#define STAGE2_MAP(pgt, ipa, size, pa, prot, mc, flags) \
	kvm_pgtable_stage2_map(pgt, ipa, size, pa, prot, mc)
typedef u32 kvmb_level_t;
#else
#error "BENCH_KVM_VERSION must be 612 or 61"
#endif

#define IPA_BITS 40
#define S2_AF BIT(10) /* the access flag of a stage-2 leaf */

struct kvmb_engine {
	struct kvm_pgtable pgt;
	struct kvm_s2_mmu mmu;
	struct kvm_arch arch;
};

/* ---- counters behind the shim's calls ------------------------------------------------------ */

static struct kvmb_stats stats;
unsigned long kvm_shim_warnings;

/* As the s2mmu host port's callbacks: relaxed atomic adds (the engines may walk in parallel). */
static inline void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

noinline void kvm_shim_barrier(enum kvm_shim_barrier b)
{
	(void)b;
	count(&stats.barriers);
}

noinline void kvm_shim_tlbi_hyp(void)
{
	count(&stats.tlbi_hyp);
}

noinline void __kvm_tlb_flush_vmid_ipa(struct kvm_s2_mmu *mmu, phys_addr_t ipa, int level)
{
	count(&stats.tlbi_ipa);
}

noinline void __kvm_tlb_flush_vmid_ipa_nsh(struct kvm_s2_mmu *mmu, phys_addr_t ipa, int level)
{
	count(&stats.tlbi_ipa_nsh);
}

noinline void __kvm_tlb_flush_vmid_range(struct kvm_s2_mmu *mmu, phys_addr_t start,
					 unsigned long pages)
{
	count(&stats.tlbi_range);
}

noinline void __kvm_tlb_flush_vmid(struct kvm_s2_mmu *mmu)
{
	count(&stats.tlbi_vmid);
}

void kvmb_get_stats(struct kvmb_stats *out)
{
	*out = stats;
	out->warnings = kvm_shim_warnings;
}

/* ---- mm_ops ------------------------------------------------------------------------------------ */

static struct kvmb_mem mem;
static uintptr_t va_minus_pa; /* the arena's linear map: va = pa + va_minus_pa */

static void *zalloc_bytes(size_t bytes)
{
	uint8_t *va = mem.alloc_pages(mem.ctx, bytes); /* zeroed by the port */
	size_t off;

	if (!va)
		return NULL;
	for (off = 0; off < bytes; off += PAGE_SIZE)
		*mem.page_refcount(mem.ctx, va + off) = 1; /* as a freshly allocated page */
	return va;
}

/* The memory cache argument is ignored: every page comes zeroed from the port, as s2mmu's. */
static void *kvmb_zalloc_page(void *mc)
{
	return zalloc_bytes(PAGE_SIZE);
}

static void *kvmb_zalloc_pages_exact(size_t size)
{
	return zalloc_bytes(size);
}

static void kvmb_free_pages_exact(void *addr, size_t size)
{
	mem.free_pages(mem.ctx, addr, size);
}

static void kvmb_get_page(void *addr)
{
	__atomic_fetch_add(mem.page_refcount(mem.ctx, addr), 1, __ATOMIC_RELAXED);
}

static void kvmb_put_page(void *addr)
{
	if (__atomic_sub_fetch(mem.page_refcount(mem.ctx, addr), 1, __ATOMIC_ACQ_REL) == 0)
		mem.free_pages(mem.ctx, (void *)ALIGN_DOWN((uintptr_t)addr, PAGE_SIZE), PAGE_SIZE);
}

static int kvmb_page_count(void *addr)
{
	return (int)__atomic_load_n(mem.page_refcount(mem.ctx, addr), __ATOMIC_RELAXED);
}

static void *kvmb_phys_to_virt(phys_addr_t pa)
{
	return (void *)(uintptr_t)(pa + va_minus_pa);
}

static phys_addr_t kvmb_virt_to_phys(void *va)
{
	return (phys_addr_t)((uintptr_t)va - va_minus_pa);
}

static void kvmb_dcache_clean_inval_poc(void *va, size_t size)
{
	count(&stats.dc_ops); /* FWB: KVM's clean_dcache_guest_page() returns at once */
}

static void kvmb_icache_inval_pou(void *va, size_t size)
{
	count(&stats.ic_ops);
}

static struct kvm_pgtable_mm_ops mm_ops;

#if BENCH_KVM_VERSION == 612
/* KVM defers this to an RCU callback; with one walker at a time it can run at once. */
static void kvmb_free_unlinked_table(void *addr, s8 level)
{
	kvm_pgtable_stage2_free_unlinked(&mm_ops, addr, level);
}
#endif

static struct kvm_pgtable_mm_ops mm_ops = {
	.zalloc_page = kvmb_zalloc_page,
	.zalloc_pages_exact = kvmb_zalloc_pages_exact,
	.free_pages_exact = kvmb_free_pages_exact,
#if BENCH_KVM_VERSION == 612
	.free_unlinked_table = kvmb_free_unlinked_table,
#endif
	.get_page = kvmb_get_page,
	.put_page = kvmb_put_page,
	.page_count = kvmb_page_count,
	.phys_to_virt = kvmb_phys_to_virt,
	.virt_to_phys = kvmb_virt_to_phys,
	.dcache_clean_inval_poc = kvmb_dcache_clean_inval_poc,
	.icache_inval_pou = kvmb_icache_inval_pou,
};

/* The memory cache KVM's fault path passes down (never empty: pages come from the port). */
static struct kvm_mmu_memory_cache mc = { .nobjs = 1 };

/* ---- setup ------------------------------------------------------------------------------------ */

static bool force_pte_now;

static bool kvmb_force_pte_cb(u64 addr, u64 end, enum kvm_pgtable_prot prot)
{
	return force_pte_now;
}

void kvmb_force_pte(struct bench *b, bool force)
{
	/* Only while forcing: the callback costs a call on every map otherwise, and KVM's guest
	 * stage-2 has none (the fault handler maps one page when it wants pages). */
	force_pte_now = force;
	b->k->pgt.force_pte_cb = force ? kvmb_force_pte_cb : NULL;
}

int kvmb_create(struct bench *b, const struct kvmb_mem *m)
{
	static struct kvmb_engine engine;
	struct kvmb_engine *k = &engine;
	u64 vtcr;
	int ret;

	mem = *m;
	va_minus_pa = (uintptr_t)m->arena_va - (uintptr_t)m->arena_pa;
	memset(k, 0, sizeof(*k));
	/* As kvm_init_stage2_mmu(): VTCR_EL2 from the CPU's PARange (48 bits) and the IPA size. */
	vtcr = kvm_get_vtcr(ID_AA64MMFR0_EL1_PARANGE_48, 0, IPA_BITS);
	k->mmu.vtcr = vtcr;
	k->arch.vtcr = vtcr;
	k->mmu.arch = &k->arch;
	k->mmu.pgt = &k->pgt;
	ret = __kvm_pgtable_stage2_init(&k->pgt, &k->mmu, &mm_ops, 0, NULL);
	if (ret)
		return ret;
	b->k = k;
	return 0;
}

void kvmb_destroy(struct bench *b)
{
	if (b->k)
		kvm_pgtable_stage2_destroy(&b->k->pgt);
	b->k = NULL;
}

uint64_t kvmb_root_pa(const struct bench *b)
{
	return kvmb_virt_to_phys((void *)b->k->pgt.pgd);
}

int kvmb_map(struct bench *b, uint64_t ipa, uint64_t size, uint64_t pa, bool writable,
	     bool force_pte)
{
	enum kvm_pgtable_prot prot = KVM_PGTABLE_PROT_R | (writable ? KVM_PGTABLE_PROT_W : 0);
	int ret;

	kvmb_force_pte(b, force_pte);
	ret = STAGE2_MAP(&b->k->pgt, ipa, size, pa, prot, &mc, 0);
	kvmb_force_pte(b, false);
	return ret;
}

int kvmb_mkold(struct bench *b, uint64_t ipa, uint64_t size)
{
#if BENCH_KVM_VERSION == 612
	return kvm_pgtable_stage2_test_clear_young(&b->k->pgt, ipa, size, true) ? 0 : -ENOENT;
#else
	uint64_t end = ipa + size;

	for (; ipa < end; ipa += PAGE_SIZE)
		if (!(kvm_pgtable_stage2_mkold(&b->k->pgt, ipa) & S2_AF))
			return -ENOENT;
	return 0;
#endif
}

/* ---- checking the tree ------------------------------------------------------------------------ */

static void check_error(struct kvmb_check *rep, const char *what, uint64_t pa, int level)
{
	if (!rep->errors++)
		snprintf(rep->first_error, sizeof(rep->first_error),
			 "table page %#llx (level %d): %s", (unsigned long long)pa, level, what);
}

/* One table page at @level: its entries, then its reference count (@counted: not the root's
 * pages, whose count KVM keeps the same way, checked by the caller). */
static uint64_t check_table(kvm_pte_t *table, int level, struct kvmb_check *rep)
{
	uint64_t nonzero = 0;
	int i;

	rep->table_pages++;
	for (i = 0; i < PTRS_PER_PTE; i++) {
		kvm_pte_t pte = READ_ONCE(table[i]);

		if (!pte)
			continue;
		nonzero++;
		if (!kvm_pte_valid(pte)) {
			check_error(rep, "invalid non-zero entry (locked or annotated)",
				    kvmb_virt_to_phys(table), level);
			continue;
		}
		if (level < 3 && (pte & 2)) {
			kvm_pte_t *child = kvmb_phys_to_virt(kvm_pte_to_phys(pte));
			uint64_t n = check_table(child, level + 1, rep);

			if ((uint64_t)kvmb_page_count(child) != 1 + n)
				check_error(rep, "reference count is not 1 + non-zero entries",
					    kvmb_virt_to_phys(child), level + 1);
		} else if (level == 3 && !(pte & 2)) {
			check_error(rep, "reserved descriptor at level 3", kvmb_virt_to_phys(table),
				    level);
		} else if (level < 1) {
			check_error(rep, "block at level 0", kvmb_virt_to_phys(table), level);
		} else {
			rep->leaves[level]++;
		}
	}
	return nonzero;
}

void kvmb_check(const struct bench *b, struct kvmb_check *rep)
{
	const struct kvm_pgtable *pgt = &b->k->pgt;
	kvm_pte_t *pgd = (kvm_pte_t *)pgt->pgd;
	/* Concatenated root pages: the start level's entries over one page's worth. */
	uint64_t entries = UINT64_C(1) << (pgt->ia_bits - kvm_granule_shift(pgt->start_level));
	uint64_t pages = entries > PTRS_PER_PTE ? entries / PTRS_PER_PTE : 1, i;

	memset(rep, 0, sizeof(*rep));
	for (i = 0; i < pages; i++) {
		kvm_pte_t *table = pgd + i * PTRS_PER_PTE;
		uint64_t n = check_table(table, pgt->start_level, rep);

		if ((uint64_t)kvmb_page_count(table) != 1 + n)
			check_error(rep, "root page reference count is not 1 + non-zero entries",
				    kvmb_virt_to_phys(table), pgt->start_level);
	}
}

/* ---- the measured operations -------------------------------------------------------------- */
/*
 * As bench_pgtable.c's: external, non-inlined, loop bounds in locals. The calls are those
 * KVM's arch/arm64/kvm/mmu.c makes for the same job.
 */

/* user_mem_abort(): one page, tables present (page 0 of every 2 MiB mapped at setup). */
noinline int bench_op_map_fault_4k(struct bench *b)
{
	struct kvm_pgtable *pgt = &b->k->pgt;
	uint64_t ipa = b->ipa, pa = b->pa, end = b->ipa + b->size;
	int ret;

	for (; ipa < end; ipa += PAGE_4K, pa += PAGE_4K) {
		if (!(ipa & (BLOCK_2M - 1)))
			continue;
		ret = STAGE2_MAP(pgt, ipa, PAGE_4K, pa, KVM_PGTABLE_PROT_R | KVM_PGTABLE_PROT_W,
				 &mc, FAULT_FLAGS);
		if (ret)
			return ret;
	}
	return 0;
}

/* One call for the region, pages forced (the setup installed the force_pte callback). */
noinline int bench_op_map_range_4k(struct bench *b)
{
	return STAGE2_MAP(&b->k->pgt, b->ipa, b->size, b->pa,
			  KVM_PGTABLE_PROT_R | KVM_PGTABLE_PROT_W, &mc, 0);
}

noinline int bench_op_map_range_2m(struct bench *b)
{
	return STAGE2_MAP(&b->k->pgt, b->ipa, b->size, b->pa,
			  KVM_PGTABLE_PROT_R | KVM_PGTABLE_PROT_W, &mc, 0);
}

/* kvm_mmu_wp_memory_region(): write-protect, then the TLB flush of the range KVM's core code
 * issues (kvm_flush_remote_tlbs_memslot(): 6.12 a range TLBI, 6.1 the whole VMID). */
noinline int bench_op_wrprotect_4k(struct bench *b)
{
	struct kvm_pgtable *pgt = &b->k->pgt;
	int ret = kvm_pgtable_stage2_wrprotect(pgt, b->ipa, b->size);

#if BENCH_KVM_VERSION == 612
	kvm_tlb_flush_vmid_range(pgt->mmu, b->ipa, b->size);
#else
	kvm_call_hyp(__kvm_tlb_flush_vmid, pgt->mmu);
#endif
	return ret;
}

noinline int bench_op_unmap_4k(struct bench *b)
{
	return kvm_pgtable_stage2_unmap(&b->k->pgt, b->ipa, b->size);
}

noinline int bench_op_unmap_scatter_4k(struct bench *b)
{
	struct kvm_pgtable *pgt = &b->k->pgt;
	uint64_t ipa = b->ipa, end = b->ipa + b->size;
	int ret;

	for (; ipa < end; ipa += BENCH_SCATTER_STRIDE * PAGE_4K) {
		ret = kvm_pgtable_stage2_unmap(pgt, ipa, PAGE_4K);
		if (ret)
			return ret;
	}
	return 0;
}

noinline int bench_op_unmap_partial_4k(struct bench *b)
{
	struct kvm_pgtable *pgt = &b->k->pgt;
	uint64_t ipa = b->ipa, end = b->ipa + b->size;
	int ret;

	for (; ipa < end; ipa += BLOCK_2M) {
		ret = kvm_pgtable_stage2_unmap(pgt, ipa, BENCH_PARTIAL_BYTES);
		if (ret)
			return ret;
	}
	return 0;
}

/* kvm_pgtable_get_leaf(): the entry and its level; the output address of the IPA from them. */
noinline int bench_op_lookup(struct bench *b)
{
	struct kvm_pgtable *pgt = &b->k->pgt;
	const uint64_t *ipas = b->ipas, *stop = b->ipas + b->nr_ipas;
	uint64_t sum = 0, valid = 0;
	kvmb_level_t level;
	kvm_pte_t pte;
	int ret;

	for (; ipas < stop; ipas++) {
		ret = kvm_pgtable_get_leaf(pgt, *ipas, &pte, &level);
		if (ret)
			return ret;
		sum += kvm_pte_to_phys(pte) + (*ipas & (kvm_granule_size(level) - 1));
		valid += kvm_pte_valid(pte);
	}
	b->lookup_pa_sum = sum;
	b->lookup_valid = valid;
	return 0;
}

/* user_mem_abort() on a write permission fault: relax to W (with the TLBI by IPA KVM issues). */
noinline int bench_op_relax_4k(struct bench *b)
{
	struct kvm_pgtable *pgt = &b->k->pgt;
	uint64_t ipa = b->ipa, end = b->ipa + b->size;
	int ret;

	for (; ipa < end; ipa += PAGE_4K) {
		ret = kvm_pgtable_stage2_relax_perms(pgt, ipa, KVM_PGTABLE_PROT_W);
		if (ret)
			return ret;
	}
	return 0;
}

/* handle_access_fault(). */
noinline int bench_op_mkyoung_4k(struct bench *b)
{
	struct kvm_pgtable *pgt = &b->k->pgt;
	uint64_t ipa = b->ipa, end = b->ipa + b->size;

	for (; ipa < end; ipa += PAGE_4K)
		if (!kvm_pte_valid(kvm_pgtable_stage2_mkyoung(pgt, ipa)))
			return -ENOENT;
	return 0;
}

/* kvm_age_gfn(): 6.12 one test-and-clear walk over the range; 6.1 has only the per-page
 * kvm_pgtable_stage2_mkold() (called page by page, as its kvm_age_gfn() did per gfn). */
noinline int bench_op_age_4k(struct bench *b)
{
#if BENCH_KVM_VERSION == 612
	b->young = kvm_pgtable_stage2_test_clear_young(&b->k->pgt, b->ipa, b->size, true);
#else
	struct kvm_pgtable *pgt = &b->k->pgt;
	uint64_t ipa = b->ipa, end = b->ipa + b->size, young = 0;

	for (; ipa < end; ipa += PAGE_4K)
		young += !!(kvm_pgtable_stage2_mkold(pgt, ipa) & S2_AF);
	b->young = young;
#endif
	return 0;
}
