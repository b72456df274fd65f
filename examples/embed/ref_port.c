// SPDX-License-Identifier: MIT
/*
 * The reference port (docs/port.md): every operation of struct s2_port_ops, hosted.
 */
#include <stdlib.h>
#include <string.h>

#include "ref_port.h"

#define ARENA_ALIGN (UINT64_C(2) << 20) /* >= the largest allocation: a 64K x 16 root */

static void lock(struct ref_port *rp)
{
	while (atomic_flag_test_and_set_explicit(&rp->lock, memory_order_acquire))
		;
}

static void unlock(struct ref_port *rp)
{
	atomic_flag_clear_explicit(&rp->lock, memory_order_release);
}

/* Zeroed, aligned to @bytes (a power of two, >= one granule): first fit on aligned slots. */
static void *alloc_pages(void *ctx, size_t bytes)
{
	struct ref_port *rp = ctx;
	size_t n = bytes / REF_PORT_UNIT, i, j;
	void *va = NULL;

	if (!n || bytes % REF_PORT_UNIT || (bytes & (bytes - 1)) || bytes > ARENA_ALIGN)
		return NULL;
	lock(rp);
	for (i = 0; i + n <= rp->units && !va; i += n) {
		for (j = 0; j < n && !rp->used[i + j]; j++)
			;
		if (j < n)
			continue;
		memset(&rp->used[i], 1, n);
		memset(&rp->refcount[i], 0, n * sizeof(rp->refcount[0]));
		va = rp->base + i * REF_PORT_UNIT;
	}
	unlock(rp);
	if (va) {
		memset(va, 0, bytes); /* the engine relies on zeroed (invalid) entries */
		atomic_fetch_add(&rp->units_in_use, n);
	}
	return va;
}

static void free_pages(void *ctx, void *va, size_t bytes)
{
	struct ref_port *rp = ctx;
	size_t i = (size_t)((unsigned char *)va - rp->base) / REF_PORT_UNIT;

	lock(rp);
	memset(&rp->used[i], 0, bytes / REF_PORT_UNIT);
	unlock(rp);
	atomic_fetch_sub(&rp->units_in_use, bytes / REF_PORT_UNIT);
}

static uint32_t *page_refcount(void *ctx, void *va)
{
	struct ref_port *rp = ctx;

	return &rp->refcount[(size_t)((unsigned char *)va - rp->base) / REF_PORT_UNIT];
}

static s2_pa_t va_to_pa(void *ctx, void *va)
{
	struct ref_port *rp = ctx;

	return s2_pa(REF_PORT_PA_BASE + (uint64_t)((unsigned char *)va - rp->base));
}

static void *pa_to_va(void *ctx, s2_pa_t pa)
{
	struct ref_port *rp = ctx;

	return rp->base + (s2_pa_val(pa) - REF_PORT_PA_BASE);
}

/* TLBI IPAS2E1IS, ipa >> 12 (TTL hint from @level when >= 0); DSB ISH; TLBI VMALLE1IS;
 * DSB ISH; ISB: a complete sequence (docs/port.md). */
static void tlbi_ipa(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	atomic_fetch_add(&((struct ref_port *)ctx)->tlbi, 1);
}

/* TLBI RIPAS2E1IS over the range (or IPAS2E1IS per page); DSB ISH; TLBI VMALLE1IS; DSB ISH;
 * ISB. */
static void tlbi_range(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size)
{
	atomic_fetch_add(&((struct ref_port *)ctx)->tlbi, 1);
}

/* TLBI VMALLS12E1IS; DSB ISH. */
static void tlbi_vmid(void *ctx, const struct s2_pgtable *pgt)
{
	atomic_fetch_add(&((struct ref_port *)ctx)->tlbi, 1);
}

/* DSB NSHST; TLBI IPAS2E1; DSB NSH; TLBI VMALLE1; DSB NSH; ISB (the whole sequence). */
static void tlbi_ipa_local(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	atomic_fetch_add(&((struct ref_port *)ctx)->tlbi_local, 1);
}

/* DC CIVAC by line over the host mapping of [pa, pa + size), then DSB ISH. */
static void dcache_clean_inval_poc(void *ctx, s2_pa_t pa, uint64_t size)
{
	atomic_fetch_add(&((struct ref_port *)ctx)->dcache_bytes, size);
}

/* IC IVAU by line (or IC IALLUIS), then DSB ISH; ISB. */
static void icache_inval_pou(void *ctx, s2_pa_t pa, uint64_t size)
{
	atomic_fetch_add(&((struct ref_port *)ctx)->icache_bytes, size);
}

static void barrier(void *ctx, enum s2_barrier b)
{
	atomic_thread_fence(memory_order_seq_cst); /* DSB ISHST / DSB ISH / ISB on AArch64 */
	atomic_fetch_add(&((struct ref_port *)ctx)->barriers, 1);
}

static const struct s2_port_ops ref_ops = {
	.alloc_pages = alloc_pages,
	.free_pages = free_pages,
	.page_refcount = page_refcount,
	.va_to_pa = va_to_pa,
	.pa_to_va = pa_to_va,
	.tlbi_ipa = tlbi_ipa,
	.tlbi_range = tlbi_range,
	.tlbi_vmid = tlbi_vmid,
	.tlbi_ipa_local = tlbi_ipa_local,
	.dcache_clean_inval_poc = dcache_clean_inval_poc,
	.icache_inval_pou = icache_inval_pou,
	.barrier = barrier,
};

int ref_port_init(struct ref_port *rp, size_t bytes)
{
	memset(rp, 0, sizeof(*rp));
	atomic_flag_clear(&rp->lock);
	rp->units = bytes / REF_PORT_UNIT;
	if (!bytes || bytes % ARENA_ALIGN || rp->units > REF_PORT_MAX_UNITS)
		return -1;
	rp->base = aligned_alloc(ARENA_ALIGN, bytes);
	return rp->base ? 0 : -1;
}

void ref_port_fini(struct ref_port *rp)
{
	free(rp->base);
	rp->base = NULL;
}

struct s2_port ref_port_port(struct ref_port *rp)
{
	/* Linear: the engine computes PA <-> VA itself on its hot paths (va == pa + va_minus_pa). */
	return (struct s2_port){ .ops = &ref_ops,
				 .ctx = rp,
				 .linear = true,
				 .va_minus_pa = (uint64_t)(uintptr_t)rp->base - REF_PORT_PA_BASE };
}
