/* SPDX-License-Identifier: MIT */
/*
 * pgtable_internal.h - what the files of the stage-2 engine share (not a public header):
 * descriptor encodings and field conversions, the geometry helpers (precomputed per table),
 * the side-effect helpers every path uses, and the direct descent of the single-entry
 * operations. docs/pgtable.md describes how the engine is split:
 *
 *   src/pgtable.c        init/destroy and the range operations, all on the range walker
 *                        below (map, unmap, annotate, wrprotect/set_prot, young, split,
 *                        collapse, free)
 *   src/pgtable_fast.c   the direct-descent single-entry paths (fault map, lookup, relax_perms,
 *                        mkyoung), instantiated once per descriptor layout
 *   src/pgtable_check.c  s2_pgtable_check(), the invariant checker (on the range walker)
 *
 * Architecture references are to the Arm ARM (DDI 0487): descriptor formats D8.3, the
 * break-before-make rules D8.16.1, TLB maintenance D8.17, the stage-2 walk AArch64.S2Walk.
 */
#ifndef S2MMU_PGTABLE_INTERNAL_H
#define S2MMU_PGTABLE_INTERNAL_H

#include "s2mmu/pgtable.h"
#include "memattr.h" /* the MemAttr values leaves are written with (S2_MA_*) */

/* Descriptor bits [1:0] (Arm ARM D8.3.1): 0b11 table (level < 3) or page (level 3), 0b01
 * block (levels with blocks only; 0b01 at level 3 is reserved). */
#define DESC_TABLE (S2_PTE_VALID | S2_PTE_TYPE)
#define DESC_PAGE (S2_PTE_VALID | S2_PTE_TYPE)
#define DESC_BLOCK S2_PTE_VALID
#define DESC_TYPE_MASK (S2_PTE_VALID | S2_PTE_TYPE)

/*
 * An invalid entry held by a single-entry break-before-make in progress (bit 10 of an
 * invalid descriptor, outside the owner field). Hardware ignores it (bit 0 clear); concurrent
 * single-entry operations that find it back off with S2_EAGAIN. Never left in a quiet tree.
 */
#define PTE_LOCKED S2_BIT(10)

/*
 * Bits a live leaf may change in place. Changing permissions, the access flag, DBM or the
 * software bits does not need break-before-make; changing the output address, the memory
 * type, shareability or the size does (Arm ARM D8.16.1).
 */
#define PTE_INPLACE_BITS (S2_PTE_S2AP | S2_PTE_XN | S2_PTE_SW | S2_PTE_AF | S2_PTE_DBM)

/* The high bit of a table page's refcount marks it visited during s2_pgtable_check(). */
#define RC_MARK 0x80000000u

/* Internal result of the single-entry path: the request needs the structural path. */
#define S2_STRUCTURAL 1
/* Internal result: a compare-and-swap lost; look again. */
#define S2_RETRY 2

#define S2_PROT_MEMTYPE (S2_PROT_DEVICE | S2_PROT_DEVICE_NGNRNE | S2_PROT_NORMAL_NC)
/* Every bit of enum s2_prot, of enum s2_map_flags, of enum s2_walk_flags: disjoint sets. */
#define S2_PROT_ALL (S2_PROT_RWX | S2_PROT_MEMTYPE | S2_PROT_SW_MASK | S2_PROT_DBM)
#define S2_MAP_ALL \
	(S2_MAP_FORCE_PAGES | S2_MAP_NO_REPLACE | S2_MAP_SHARED | S2_MAP_NOCMO | S2_MAP_YOUNG_CLEAR)
#define S2_WALK_ALL (S2_WALK_LEAF | S2_WALK_TABLE_PRE | S2_WALK_TABLE_POST | S2_WALK_SKIP_EMPTY)
_Static_assert((S2_PROT_ALL & S2_MAP_ALL) == 0 && (S2_PROT_ALL & S2_WALK_ALL) == 0 &&
		       (S2_MAP_ALL & S2_WALK_ALL) == 0,
	       "the flag sets must be disjoint, so that one passed for another is refused");

/*
 * S2_PROT_* flags -> descriptor fields, without branches (field macros: the flag bit is moved
 * to the field's position by S2_FIELD_PREP, which the compiler folds to one shift and mask):
 * S2AP[1:0] from W/R (S2AP[0] read, S2AP[1] write: D8.3.1, the flags' bits 1:0 in that order),
 * XN = 0b10 (S2_XN_ALL) unless X, SW3..SW0 from S2_PROT_SW(), DBM; and from the map flags,
 * AF unless S2_MAP_YOUNG_CLEAR.
 */
#define PROT_S2AP(prot) S2_FIELD_PREP(S2_PTE_S2AP, (prot) & (S2_PROT_R | S2_PROT_W))
#define FLAGS_AF(flags) S2_FIELD_PREP(S2_PTE_AF, ~(uint64_t)(flags) >> S2_CTZ64(S2_MAP_YOUNG_CLEAR))
#define PROT_XN(prot) S2_FIELD_PREP(S2_PTE_XN, ((~(prot) >> S2_CTZ64(S2_PROT_X)) & 1) * S2_XN_ALL)
#define PROT_SW(prot) S2_FIELD_PREP(S2_PTE_SW, (prot) >> S2_PROT_SW_SHIFT)
#define PROT_DBM(prot) S2_FIELD_PREP(S2_PTE_DBM, (prot) >> S2_CTZ64(S2_PROT_DBM))

/*
 * The 4K granule's geometry as constants, for the fast layout's unrolled descent (Arm ARM
 * D8.2: 9 index bits per level above a 12-bit page offset).
 */
#define K4_PAGE_SHIFT 12
#define K4_PAGE_SIZE S2_BIT(K4_PAGE_SHIFT)
#define K4_PAGE_MASK (K4_PAGE_SIZE - 1)
#define K4_BITS_PER_LEVEL 9
#define K4_LVL_SHIFT(l) (K4_PAGE_SHIFT + K4_BITS_PER_LEVEL * (3 - (l)))
#define K4_IDX(l, ipa) (((ipa) >> K4_LVL_SHIFT(l)) & (S2_BIT(K4_BITS_PER_LEVEL) - 1))

/* ---- geometry and descriptor helpers (inline, precomputed per table) ------------------------- */

static S2_ALWAYS_INLINE unsigned int lvl_shift(const struct s2_pgtable *pgt, int level)
{
	return pgt->geom.shift[level + 1];
}

static S2_ALWAYS_INLINE uint64_t lvl_size(const struct s2_pgtable *pgt, int level)
{
	return UINT64_C(1) << pgt->geom.shift[level + 1];
}

static S2_ALWAYS_INLINE uint64_t lvl_idx(const struct s2_pgtable *pgt, int level, uint64_t ipa)
{
	uint64_t mask =
		level == pgt->geom.start_level ? pgt->geom.root_idx_mask : pgt->geom.idx_mask;
	return (ipa >> pgt->geom.shift[level + 1]) & mask;
}

static S2_ALWAYS_INLINE uint64_t gran_size(const struct s2_pgtable *pgt)
{
	return UINT64_C(1) << pgt->geom.page_shift;
}

static S2_ALWAYS_INLINE uint64_t table_entries(const struct s2_pgtable *pgt)
{
	return pgt->geom.idx_mask + 1;
}

static S2_ALWAYS_INLINE bool level_has_blocks(const struct s2_pgtable *pgt, int level)
{
	return (pgt->geom.block_levels >> (level + 1)) & 1;
}

static S2_ALWAYS_INLINE bool pte_is_table(s2_pte_t pte, int level)
{
	return level < 3 && (pte & DESC_TYPE_MASK) == DESC_TABLE;
}

/* The output (or next-level table) address held in a descriptor. */
static S2_ALWAYS_INLINE uint64_t pte_oa(const struct s2_pgtable *pgt, s2_pte_t pte)
{
	return (pte & pgt->geom.oa_lo_mask) |
	       ((pte & pgt->geom.oa_hi_mask) << pgt->geom.oa_hi_shift);
}

/* The descriptor bits that hold output address @oa. */
static S2_ALWAYS_INLINE s2_pte_t oa_bits(const struct s2_pgtable *pgt, uint64_t oa)
{
	return (oa & pgt->geom.oa_lo_mask) | ((oa >> pgt->geom.oa_hi_shift) & pgt->geom.oa_hi_mask);
}

static S2_ALWAYS_INLINE s2_pte_t pte_oa_mask(const struct s2_pgtable *pgt)
{
	return pgt->geom.oa_lo_mask | pgt->geom.oa_hi_mask;
}

static S2_ALWAYS_INLINE s2_pte_t *pa_to_table(const struct s2_pgtable *pgt, uint64_t pa)
{
	if (S2_LIKELY(pgt->port.linear))
		return (s2_pte_t *)(uintptr_t)(pa + pgt->port.va_minus_pa);
	return pgt->port.ops->pa_to_va(pgt->port.ctx, s2_pa(pa));
}

static S2_ALWAYS_INLINE uint64_t table_to_pa(const struct s2_pgtable *pgt, void *va)
{
	if (S2_LIKELY(pgt->port.linear))
		return (uint64_t)(uintptr_t)va - pgt->port.va_minus_pa;
	return s2_pa_val(pgt->port.ops->va_to_pa(pgt->port.ctx, va));
}

static S2_ALWAYS_INLINE s2_pte_t *pte_table(const struct s2_pgtable *pgt, s2_pte_t pte)
{
	return pa_to_table(pgt, pte_oa(pgt, pte));
}

static S2_ALWAYS_INLINE s2_pte_t table_desc(const struct s2_pgtable *pgt, void *va)
{
	return DESC_TABLE | oa_bits(pgt, table_to_pa(pgt, va));
}

static S2_ALWAYS_INLINE uint32_t *table_rc(const struct s2_pgtable *pgt, void *va)
{
	return pgt->port.ops->page_refcount(pgt->port.ctx, va);
}

/* Add @delta to the refcount of @table at @level; the root is not counted. */
static S2_ALWAYS_INLINE void rc_add(const struct s2_pgtable *pgt, s2_pte_t *table, int level,
				    int32_t delta)
{
	if (delta && level != pgt->geom.start_level)
		s2_atomic_add32(table_rc(pgt, table), delta);
}

static S2_ALWAYS_INLINE uint8_t pte_memattr(s2_pte_t pte)
{
	return (uint8_t)S2_FIELD_GET(S2_PTE_MEMATTR, pte);
}

/*
 * Device (MemAttr 0b00xx, with and without FWB) and Normal-NC (0b0101) may not be executable
 * (ARCH-NOTES §1): the engine refuses exec on them.
 */
static S2_ALWAYS_INLINE bool memattr_noexec(uint8_t memattr)
{
	return memattr <= S2_MA_DEVICE_MAX || memattr == S2_MA_NORMAL_NC;
}

/* A leaf change that removes a permission must be invalidated (Arm ARM D8.17: a TLB may keep
 * the old, more permissive entry). Adding AF or software bits need not be. */
static S2_ALWAYS_INLINE bool pte_restricts(s2_pte_t old, s2_pte_t new)
{
	return ((old & ~new) & (S2_PTE_S2AP | S2_PTE_DBM | S2_PTE_AF)) != 0 ||
	       ((new & ~old) & S2_PTE_XN) != 0;
}

/*
 * A leaf change that grants a permission (S2AP, DBM, or an XN bit cleared) is invalidated too:
 * a TLB may keep the entry that gave a permission fault (Arm ARM D8.17), and the CPU holding
 * it would fault again. relax_perms does it with the local form, as KVM; the other in-place
 * grants (a map adding permissions, set_prot granting) with the broadcast one, or the local
 * one on the fault path (S2_MAP_SHARED).
 */
static S2_ALWAYS_INLINE bool pte_grants(s2_pte_t old, s2_pte_t new)
{
	return ((new & ~old) & (S2_PTE_S2AP | S2_PTE_DBM)) != 0 || ((old & ~new) & S2_PTE_XN) != 0;
}
/* ---- side effects ---------------------------------------------------------------------------- */

static inline void port_barrier(const struct s2_pgtable *pgt, enum s2_barrier b)
{
	pgt->port.ops->barrier(pgt->port.ctx, b);
}

/* DSB ISHST; TLBI IPAS2E1IS (with the level hint); DSB ISH: the middle of break-before-make. */
static S2_ALWAYS_INLINE void tlbi_one_inline(const struct s2_pgtable *pgt, uint64_t ipa, int level)
{
	port_barrier(pgt, S2_BARRIER_DSB_ISHST);
	pgt->port.ops->tlbi_ipa(pgt->port.ctx, pgt, s2_ipa(ipa), level);
	port_barrier(pgt, S2_BARRIER_DSB_ISH);
}

/* tlbi_one_inline() out of line (pgtable.c). */
void s2_pgt_tlbi_one(const struct s2_pgtable *pgt, uint64_t ipa, int level);
/* DSB ISHST; TLBI over [ipa, ipa + size) (walk caches included: no level hint); DSB ISH. */
void s2_pgt_tlbi_span(const struct s2_pgtable *pgt, uint64_t ipa, uint64_t size);

/*
 * ---- break-before-make: the one primitive ----
 *
 * Every change of a live entry that the Arm ARM does not allow in place (D8.16.1: another
 * output address, memory type, shareability or size; a table becoming a block or a block a
 * table) goes through bbm_replace() (or, when the caller breaks the entry itself, e.g. with a
 * CAS to a locked marker, bbm_make()): break (store 0), invalidate, optionally clean the memory
 * the guest loses (after the TLBI: no new line can be allocated through the old entry), make
 * (store-release of the new entry, so a walker that sees a new table sees its contents).
 * The one batched variant is map_bbm_finish() (pgtable.c): a run of leaves of one table
 * broken one by one, invalidated with one TLBI, then made.
 *
 * How the broken entry is invalidated:
 */
enum bbm_tlbi {
	BBM_TLBI_NONE, /* the table is private (no walker can reach it): nothing cached */
	BBM_TLBI_ENTRY, /* a leaf or a block: TLBI by IPA with the level hint */
	BBM_TLBI_SPAN, /* a table: TLBI over its whole range, walk caches included */
};

/*
 * The invalidate and make halves of break-before-make of the entry @ptep at @level for the
 * @level-aligned @ipa, which the caller broke: TLBI as @how says, clean+invalidate to the PoC
 * [@cmo_pa, @cmo_pa + @cmo_len) unless @cmo_len is 0, then publish @new.
 */
static S2_ALWAYS_INLINE void bbm_make(const struct s2_pgtable *pgt, s2_pte_t *ptep, s2_pte_t new,
				      uint64_t ipa, int level, enum bbm_tlbi how, uint64_t cmo_pa,
				      uint64_t cmo_len)
{
	if (how == BBM_TLBI_ENTRY)
		s2_pgt_tlbi_one(pgt, ipa, level);
	else if (how == BBM_TLBI_SPAN)
		s2_pgt_tlbi_span(pgt, ipa, lvl_size(pgt, level));
	if (cmo_len)
		pgt->port.ops->dcache_clean_inval_poc(pgt->port.ctx, s2_pa(cmo_pa), cmo_len);
	s2_atomic_store64_release(ptep, new);
}

/* Break-before-make in full: break (store 0), then bbm_make(). */
static S2_ALWAYS_INLINE void bbm_replace(const struct s2_pgtable *pgt, s2_pte_t *ptep, s2_pte_t new,
					 uint64_t ipa, int level, enum bbm_tlbi how,
					 uint64_t cmo_pa, uint64_t cmo_len)
{
	s2_atomic_store64(ptep, 0);
	bbm_make(pgt, ptep, new, ipa, level, how, cmo_pa, cmo_len);
}

/* ---- table pages ------------------------------------------------------------------------------ */

/* A zeroed table page with refcount 0: from @cache first, else (unless @cache_only) the port. */
static inline s2_pte_t *table_alloc(const struct s2_pgtable *pgt, struct s2_page_cache *cache,
				    bool cache_only)
{
	if (cache && cache->nr)
		return cache->pages[--cache->nr];
	if (cache_only)
		return NULL;
	return pgt->port.ops->alloc_pages(pgt->port.ctx, gran_size(pgt));
}

/* Give back a table page that never became reachable. It must be all zero with refcount 0. */
static inline void table_unused(const struct s2_pgtable *pgt, struct s2_page_cache *cache,
				s2_pte_t *t)
{
	if (cache && cache->nr < S2_PAGE_CACHE_MAX)
		cache->pages[cache->nr++] = t;
	else
		pgt->port.ops->free_pages(pgt->port.ctx, t, gran_size(pgt));
}

/* ---- data-cache maintenance of memory the guest loses -------------------------------------- */

/*
 * A valid leaf of Normal write-back memory without FWB: when the guest loses it (unmap,
 * annotate, a replacement by another output or memory type), the engine cleans and invalidates
 * it to the PoC after the TLBI, as KVM's stage2_unmap_walker() does (stage2_pte_cacheable(),
 * !stage2_has_fwb()): the guest may hold dirty lines the host, a device or a non-cacheable
 * access must see. With FWB the guest's accesses are coherent with the host's; Normal-NC and
 * Device memory is not cached by the guest's accesses.
 */
static S2_ALWAYS_INLINE bool pte_needs_cmo(const struct s2_pgtable *pgt, s2_pte_t pte)
{
	return !pgt->cfg.fwb && (pte & S2_PTE_VALID) && pte_memattr(pte) == S2_MA_NORMAL_WB;
}

/* Whether replacing leaf @old by leaf @new takes Normal WB memory away from the guest. */
static S2_ALWAYS_INLINE bool leaf_loses_cmo(const struct s2_pgtable *pgt, s2_pte_t old,
					    s2_pte_t new)
{
	return pte_needs_cmo(pgt, old) &&
	       (pte_memattr(new) != S2_MA_NORMAL_WB || pte_oa(pgt, new) != pte_oa(pgt, old));
}

/*
 * Leaf attributes for valid S2_PROT_* flags, map flags and a MemAttr value, without branches:
 * S2AP[1:0] from W/R (flag bits 1:0 -> descriptor bits 7:6), XN = 0b10 unless X (2 -> 54),
 * SW3..SW0 (11:8 -> 58:55), DBM, SH inner shareable (not with DS); AF unless
 * S2_MAP_YOUNG_CLEAR in @flags (20 -> 10).
 */
static S2_ALWAYS_INLINE s2_pte_t prot_attr_bits(const struct s2_pgtable *pgt, uint64_t prot,
						uint64_t flags, unsigned int memattr)
{
	return S2_FIELD_PREP(S2_PTE_MEMATTR, memattr) | pgt->geom.sh_bits | PROT_S2AP(prot) |
	       FLAGS_AF(flags) | PROT_XN(prot) | PROT_SW(prot) | PROT_DBM(prot);
}

/* ---- direct descent (single-entry operations) ------------------------------------------------ */

struct descent {
	s2_pte_t *table; /* the table holding *ptep */
	s2_pte_t *ptep;
	s2_pte_t pte;
	int level;
	unsigned int shift; /* log2 of the bytes the entry maps */
};

/*
 * Walk from the root towards @ipa while entries are tables and the level is below @target.
 * The geometry is held in locals (relaxed atomic loads would otherwise make the compiler
 * reload it at every level) and specialised on the layout (@hi: OA bits above bit 47/49) and
 * on a linear PA->VA port, so the loop is a handful of instructions per level.
 */
static S2_ALWAYS_INLINE void descend_impl(const struct s2_pgtable *pgt, uint64_t ipa, int target,
					  struct descent *d, const bool hi, const bool linear)
{
	const uint64_t lo_mask = pgt->geom.oa_lo_mask;
	const uint64_t hi_mask = hi ? pgt->geom.oa_hi_mask : 0;
	const unsigned int hi_shift = pgt->geom.oa_hi_shift;
	const uint64_t off = pgt->port.va_minus_pa;
	const uint64_t idx_mask = pgt->geom.idx_mask;
	const unsigned int bpl = pgt->geom.bits_per_level;
	const unsigned int tshift = pgt->geom.shift[target + 1];
	int level = pgt->geom.start_level;
	unsigned int shift = pgt->geom.root_shift;
	s2_pte_t *table = pgt->root;
	s2_pte_t *ptep = table + ((ipa >> shift) & pgt->geom.root_idx_mask);
	/*
	 * Acquire: a table published by another thread (install_chain(), release CAS) is read
	 * only after its contents (a plain load on x86; LDAR on AArch64).
	 */
	s2_pte_t pte = s2_atomic_load64_acquire(ptep);

	/* The loop runs on the shift alone; callers that do not read d->level lose the counter. */
	while (shift > tshift && (pte & DESC_TYPE_MASK) == DESC_TABLE) {
		uint64_t pa = (pte & lo_mask) | ((pte & hi_mask) << hi_shift);
		table = linear ? (s2_pte_t *)(uintptr_t)(pa + off) :
				 pgt->port.ops->pa_to_va(pgt->port.ctx, s2_pa(pa));
		level++;
		shift -= bpl;
		ptep = table + ((ipa >> shift) & idx_mask);
		pte = s2_atomic_load64_acquire(ptep);
	}
	d->table = table;
	d->ptep = ptep;
	d->pte = pte;
	d->level = level;
	d->shift = shift;
}

/*
 * Bits [1:0] are 0b11 (a table below level 3, a page at level 3): tested as (pte + 1) having
 * bits [1:0] clear, which x86 does in one instruction fewer than a mask and compare.
 */
static S2_ALWAYS_INLINE bool pte_is_table_or_page(s2_pte_t pte)
{
	return ((pte + 1) & DESC_TYPE_MASK) == 0;
}

/* Output address bits of a 4K-granule descriptor without LPA2 (Arm ARM D8.3.1). */
#define OA_4K S2_GENMASK(47, K4_PAGE_SHIFT)

/*
 * descend_impl() for the commonest layout, 4K granule with the OA in place and a linear port,
 * towards level 3: the index shifts (39/30/21/12) and the OA mask are constants and the levels
 * are unrolled, entered at the start level (0, 1 or 2): @start, or -1 to read it from geom.
 * Only for an IPA below geom.fast4k_ipa_limit (with @start 1: geom.fast4k_l1_ipa_limit); the
 * root index needs no mask then, the IPA being below 1 << (ipa_bits).
 * Returns whether it reached level 3 (the common case, with d->level 3 and d->shift 12).
 */
static S2_ALWAYS_INLINE bool descend_4k(const struct s2_pgtable *pgt, uint64_t ipa,
					struct descent *d, const int start_c)
{
	const uint64_t off = pgt->port.va_minus_pa;
	const int start = start_c >= 0 ? start_c : pgt->geom.start_level;
	s2_pte_t *table = pgt->root, *ptep;
	s2_pte_t pte;

/* From a level (l - 1) entry to the level l entry, or stop at the level (l - 1) entry. */
#define DESCEND_4K_STEP(l)                                            \
	do {                                                          \
		if (S2_UNLIKELY(!pte_is_table_or_page(pte))) {        \
			d->level = (l)-1;                             \
			d->shift = K4_LVL_SHIFT((l)-1);               \
			d->table = table;                             \
			d->ptep = ptep;                               \
			d->pte = pte;                                 \
			return false;                                 \
		}                                                     \
		table = (s2_pte_t *)(uintptr_t)((pte & OA_4K) + off); \
		ptep = table + K4_IDX(l, ipa);                        \
		pte = s2_atomic_load64_acquire(ptep);                 \
	} while (0)

/* The root entry, at start level l (acquire: see descend_impl()). */
#define DESCEND_4K_ROOT(l)                               \
	do {                                             \
		ptep = table + (ipa >> K4_LVL_SHIFT(l)); \
		pte = s2_atomic_load64_acquire(ptep);    \
	} while (0)

	if (S2_LIKELY(start == 1)) {
		DESCEND_4K_ROOT(1);
		goto l1;
	}
	if (start == 2) {
		DESCEND_4K_ROOT(2);
		goto l2;
	}
	DESCEND_4K_ROOT(0);
	DESCEND_4K_STEP(1);
l1:
	DESCEND_4K_STEP(2);
l2:
	DESCEND_4K_STEP(3);
#undef DESCEND_4K_STEP
#undef DESCEND_4K_ROOT
	d->level = 3;
	d->shift = 12;
	d->table = table;
	d->ptep = ptep;
	d->pte = pte;
	return true;
}

/*
 * Single-entry operations are instantiated twice: inline for the common case (a port with a
 * linear PA->VA map, OA held in place below bit 48), and out of line for the others (LPA/LPA2
 * layouts, ports without a linear map), so the common path keeps its registers to itself.
 */
#define S2_FAST_LAYOUT(pgt) S2_LIKELY((pgt)->geom.fast)

/*
 * The descent of a single-entry operation: @k4 K4_OFF for descend_impl(), else descend_4k()
 * with @k4 as its start level (-1: from geom; @target 3 only).
 */
#define K4_OFF (-2)
static S2_ALWAYS_INLINE void descend(const struct s2_pgtable *pgt, uint64_t ipa, int target,
				     struct descent *d, const bool hi, const bool linear,
				     const int k4)
{
	if (k4 != K4_OFF)
		(void)descend_4k(pgt, ipa, d, k4);
	else
		descend_impl(pgt, ipa, target, d, hi, linear);
}

static S2_ALWAYS_INLINE uint64_t pte_oa_t(const struct s2_pgtable *pgt, s2_pte_t pte, const bool hi)
{
	return hi ? pte_oa(pgt, pte) : (pte & pgt->geom.oa_lo_mask);
}

/* ---- the range walker: one loop, the decision per entry explicit ---------------------------- */

/*
 * What the range walker does with one entry, as a visitor decides it (after TF-A's xlat tables
 * v2 action_t: the decision apart from the loop that carries it out). Changes in place of a
 * live leaf (permissions, AF: no break-before-make) the visitor makes itself, with the CAS the
 * concurrency rules ask for, and returns WALK_SKIP.
 */
enum walk_action {
	WALK_SKIP, /* leave the entry as it is */
	WALK_DESCEND, /* a table: walk the part of the range below it, then ask post */
	WALK_SPLIT, /* a block: replace it by a table of its pieces (break-before-make) */
	WALK_SPLIT_DESCEND, /* WALK_SPLIT, then walk the new table */
	WALK_REPLACE_BBM, /* replace the entry by w->new with break-before-make (a table
			   * replaced: its whole range invalidated, the subtree freed after) */
	WALK_FREE_TABLE, /* the table below an unlinked entry: free its page (from visit: one
			  * that holds no tables, not walked; from post: walked already) */
	WALK_RUN, /* a run of whole entries from this one: the operation's run hook takes it */
	WALK_STOP, /* stop the walk with w->ret */
};

/* One entry as the walker shows it to a visitor. */
struct walk_entry {
	s2_pte_t *ptep;
	s2_pte_t pte; /* the value read */
	int level;
	uint64_t base, size; /* the entry maps [base, base + size) */
	uint64_t ipa, stop; /* the part of it inside the operation's range */
};

static S2_ALWAYS_INLINE bool walk_whole(const struct walk_entry *e)
{
	return e->ipa == e->base && e->stop == e->base + e->size;
}

/* The walk's state; an operation with state of its own embeds it as its first member. */
struct range_walk {
	struct s2_pgtable *pgt;
	struct s2_page_cache *cache; /* tables for WALK_SPLIT (from the cache only) */
	s2_pte_t new; /* the entry WALK_REPLACE_BBM installs */
	int ret; /* the result WALK_STOP returns */
	unsigned int count; /* the operation's own count (collapse: blocks made) */
	int32_t delta; /* (counted walks) refcount change of the table being walked */
	bool priv; /* the table being walked is not linked yet: no break-before-make, no TLBI */
};

/*
 * A range operation on the walker: @visit decides for each entry; @post (may be NULL) decides
 * again for a table entry once the walk below it is done (WALK_SKIP, WALK_REPLACE_BBM or
 * WALK_FREE_TABLE). @last_run (may be NULL) takes a whole run of last-level entries, [@ipa,
 * @end) from @ptep, in one call: the operation's tight loop, which is where a range
 * operation's cost lies (per page, where the rest of the walk is per table).
 */
typedef enum walk_action (*walk_visit_fn)(struct range_walk *w, const struct walk_entry *e);
typedef void (*walk_run_fn)(struct range_walk *w, s2_pte_t *ptep, uint64_t ipa, uint64_t end);
typedef int (*walk_fn)(struct range_walk *w, s2_pte_t *table, int level, uint64_t ipa,
		       uint64_t end);
/* WALK_RUN: the entries of @table from @e's, up to @end or the table's end, in one call; returns
 * the IPA where the run ended, or sets w->ret to stop the walk with it. */
typedef uint64_t (*walk_runs_fn)(struct range_walk *w, const struct walk_entry *e, s2_pte_t *table,
				 uint64_t end);

/* (pgtable.c) Free an unlinked table at @level and every table below it. */
void s2_pgt_free_tree(struct s2_pgtable *pgt, s2_pte_t *table, int level);
/* (pgtable.c) Fill a new private table at @level + 1 with the pieces of @old (a block or an
 * annotation at @level), setting its refcount. */
void s2_pgt_table_fill_from(const struct s2_pgtable *pgt, s2_pte_t *child, int level, s2_pte_t old);

/*
 * Walk [@ipa, @end) of @table at @level: per entry, ask the visitor, then do what it decided.
 * Every break-before-make goes through bbm_replace(). Returns 0, S2_ENOMEM (no table in the
 * cache for a split) or what a visitor stopped with.
 *
 * The walker is one body instantiated per operation (WALK_INSTANCE()), as KVM's and TF-A's
 * walkers are compiled with their visitor known: the operation's functions are constants
 * here, called directly and inlined, and @self is the instance itself for the recursion.
 */
static S2_ALWAYS_INLINE int walk_body(struct range_walk *w, s2_pte_t *table, int level,
				      uint64_t ipa, uint64_t end, const walk_visit_fn visit,
				      const walk_visit_fn post, const walk_run_fn last_run,
				      const walk_runs_fn runs, const walk_fn self,
				      const bool counted)
{
	struct s2_pgtable *pgt = w->pgt;
	struct walk_entry e;
	int32_t outer = 0;
	int ret = 0;

	e.size = lvl_size(pgt, level);
	e.ptep = table + lvl_idx(pgt, level, ipa);
	e.level = level;
	if (last_run && level == 3) {
		last_run(w, e.ptep, ipa, end);
		return 0;
	}
	if (counted) {
		/* This table's refcount delta, applied once when its walk ends. */
		outer = w->delta;
		w->delta = 0;
	}
	for (; ipa < end; e.ptep++) {
		enum walk_action act;
		s2_pte_t *child;

		e.base = S2_ALIGN_DOWN(ipa, e.size);
		e.ipa = ipa;
		e.stop = S2_MIN(e.base + e.size, end);
		e.pte = s2_atomic_load64(e.ptep);
		act = visit(w, &e);
		switch (act) {
		case WALK_SKIP:
			break;
		case WALK_FREE_TABLE:
			pgt->port.ops->free_pages(pgt->port.ctx, pte_table(pgt, e.pte),
						  gran_size(pgt));
			break;
		case WALK_DESCEND:
			child = pte_table(pgt, e.pte);
			ret = self(w, child, level + 1, ipa, e.stop);
			/* post also after a failed walk below: what it left may need undoing */
			if (post) {
				act = post(w, &e);
				if (act == WALK_REPLACE_BBM) {
					bbm_replace(pgt, e.ptep, w->new, e.base, level,
						    BBM_TLBI_SPAN, 0, 0);
					s2_pgt_free_tree(pgt, child, level + 1);
				} else if (act == WALK_FREE_TABLE) {
					pgt->port.ops->free_pages(pgt->port.ctx, child,
								  gran_size(pgt));
				}
			}
			if (ret)
				goto out;
			break;
		case WALK_SPLIT:
		case WALK_SPLIT_DESCEND:
			child = table_alloc(pgt, w->cache, true);
			if (!child) {
				ret = S2_ENOMEM;
				goto out;
			}
			s2_pgt_table_fill_from(pgt, child, level, e.pte);
			/* Block -> table: break-before-make (FEAT_BBM level 2 is not assumed). */
			bbm_replace(pgt, e.ptep, table_desc(pgt, child), e.base, level,
				    BBM_TLBI_ENTRY, 0, 0);
			if (act == WALK_SPLIT_DESCEND) {
				ret = self(w, child, level + 1, ipa, e.stop);
				if (ret)
					goto out;
			}
			break;
		case WALK_REPLACE_BBM:
			bbm_replace(pgt, e.ptep, w->new, e.base, level,
				    pte_is_table(e.pte, level) ? BBM_TLBI_SPAN : BBM_TLBI_ENTRY, 0,
				    0);
			if (pte_is_table(e.pte, level))
				s2_pgt_free_tree(pgt, pte_table(pgt, e.pte), level + 1);
			break;
		case WALK_RUN:
			if (runs) {
				uint64_t next = runs(w, &e, table, end);

				if (w->ret) {
					ret = w->ret;
					goto out;
				}
				/* (the loop's e.ptep++ steps over the run's last entry) */
				e.ptep += ((next - ipa) >> lvl_shift(pgt, level)) - 1;
				ipa = next;
				continue;
			}
			break;
		case WALK_STOP:
			ret = w->ret;
			goto out;
		}
		ipa = e.stop;
	}
out:
	if (counted) {
		rc_add(pgt, table, level, w->delta);
		w->delta = outer;
	}
	return ret;
}

/* The walker for one operation: @name(w, table, level, ipa, end), walk_body() as above. */
#define WALK_INSTANCE(name, visit, post, last_run)                                             \
	static int name(struct range_walk *w, s2_pte_t *table, int level, uint64_t ipa,        \
			uint64_t end)                                                          \
	{                                                                                      \
		return walk_body(w, table, level, ipa, end, visit, post, last_run, NULL, name, \
				 false);                                                       \
	}

/*
 * The same for an operation that changes how many entries of a table are valid or annotated
 * (map, unmap, annotate): its visitors add the changes to w->delta, and the walker applies the
 * sum to the table's refcount once, when the table's walk ends (the root is not counted).
 * @runs (may be NULL) takes the runs of whole entries a visitor hands it (WALK_RUN).
 */
#define WALK_INSTANCE_COUNTED(name, visit, post, runs)                                            \
	static int name(struct range_walk *w, s2_pte_t *table, int level, uint64_t ipa,           \
			uint64_t end)                                                             \
	{                                                                                         \
		return walk_body(w, table, level, ipa, end, visit, post, NULL, runs, name, true); \
	}

/* ---- shared between the files ------------------------------------------------------------ */

/* The structural path of a map (pgtable.c): multi-entry ranges, and single entries that need a
 * table replaced or a block split. Exclusive lock. */
int s2_pgt_map_structural(struct s2_pgtable *pgt, uint64_t ipa, uint64_t size, uint64_t pa,
			  s2_pte_t attr, enum s2_map_flags flags, struct s2_page_cache *cache);

#endif /* S2MMU_PGTABLE_INTERNAL_H */
