// SPDX-License-Identifier: MIT
/*
 * pgtable.c - the stage-2 page-table engine (mechanism only). docs/pgtable.md explains the
 * design: direct descent for single-entry operations, per-operation table loops for ranges,
 * table-page reference counts, break-before-make and the TLB-maintenance policy.
 *
 * Architecture references are to the Arm ARM (DDI 0487): descriptor formats D8.3, the
 * break-before-make rules D8.16.1 ("Using break-before-make when updating translation table
 * entries"), TLB maintenance D8.17, the stage-2 walk AArch64.S2Walk.
 */
#include "s2mmu/pgtable.h"

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
#define S2_PROT_ALL                                                                      \
	(S2_PROT_RWX | S2_PROT_MEMTYPE | S2_PROT_NOCMO | S2_PROT_SW_MASK | S2_PROT_DBM | \
	 S2_PROT_YOUNG_CLEAR)

/* MemAttr values the engine writes (ARCH-NOTES §1; Arm ARM D8.6.5 and the FWB rules). */
#define MEMATTR_DEVICE_nGnRnE 0x0u
#define MEMATTR_DEVICE_nGnRE 0x1u
#define MEMATTR_NORMAL_NC 0x5u
#define MEMATTR_NORMAL_WB 0xfu
#define MEMATTR_FWB_NORMAL_WB 0x6u
#define MEMATTR_FWB_RESERVED 0x4u

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
	return memattr < 4 || memattr == MEMATTR_NORMAL_NC;
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

static void tlbi_one(const struct s2_pgtable *pgt, uint64_t ipa, int level)
{
	tlbi_one_inline(pgt, ipa, level);
}

/* DSB ISHST; TLBI over a range (walk caches included: no level hint); DSB ISH. */
static void tlbi_span(const struct s2_pgtable *pgt, uint64_t ipa, uint64_t size)
{
	port_barrier(pgt, S2_BARRIER_DSB_ISHST);
	if (size > pgt->tlbi_range_threshold)
		pgt->port.ops->tlbi_vmid(pgt->port.ctx, pgt);
	else
		pgt->port.ops->tlbi_range(pgt->port.ctx, pgt, s2_ipa(ipa), size);
	port_barrier(pgt, S2_BARRIER_DSB_ISH);
}

/*
 * After relax_perms: invalidate @ipa on this CPU only (port tlbi_ipa_local, whose sequence has
 * its own barriers), as KVM's __kvm_tlb_flush_vmid_ipa_nsh. A TLB may keep an entry that gave a
 * permission fault (Arm ARM D8.17), so without this the faulting CPU could fault again on
 * it. A port without the local form gets the broadcast one.
 */
static S2_ALWAYS_INLINE void tlbi_local(const struct s2_pgtable *pgt, uint64_t ipa, int level)
{
	if (S2_LIKELY(pgt->port.ops->tlbi_ipa_local))
		pgt->port.ops->tlbi_ipa_local(pgt->port.ctx, pgt, s2_ipa(ipa), level);
	else
		tlbi_one(pgt, ipa, level);
}

/* Invalidations collected by a range operation, issued once at the end. */
struct flush {
	uint64_t start, end;
	int level; /* common level of the leaves, -2 when mixed */
	unsigned int n; /* additions: an entry, or a run of entries of one table */
	bool tables; /* a table was unlinked: invalidate walk caches too (no level hint) */
};

static S2_ALWAYS_INLINE void flush_add(struct flush *f, uint64_t ipa, uint64_t size, int level)
{
	if (!f->n) {
		f->start = ipa;
		f->end = ipa + size;
		f->level = level;
	} else {
		if (ipa < f->start)
			f->start = ipa;
		if (ipa + size > f->end)
			f->end = ipa + size;
		if (level != f->level)
			f->level = -2;
	}
	f->n++;
}

static void flush_do(const struct s2_pgtable *pgt, struct flush *f)
{
	if (!f->n)
		return;
	if (f->n == 1 && !f->tables && f->level >= pgt->geom.start_level &&
	    f->end - f->start == lvl_size(pgt, f->level))
		tlbi_one(pgt, f->start, f->level); /* one entry: TLBI by IPA with its level */
	else
		tlbi_span(pgt, f->start, f->end - f->start);
	f->n = 0;
	f->tables = false;
}

/* ---- table pages ------------------------------------------------------------------------------ */

/* A zeroed table page with refcount 0: from @cache first, else (unless @cache_only) the port. */
static s2_pte_t *table_alloc(const struct s2_pgtable *pgt, struct s2_page_cache *cache,
			     bool cache_only)
{
	if (cache && cache->nr)
		return cache->pages[--cache->nr];
	if (cache_only)
		return NULL;
	return pgt->port.ops->alloc_pages(pgt->port.ctx, gran_size(pgt));
}

/* Give back a table page that never became reachable. It must be all zero with refcount 0. */
static void table_unused(const struct s2_pgtable *pgt, struct s2_page_cache *cache, s2_pte_t *t)
{
	if (cache && cache->nr < S2_PAGE_CACHE_MAX)
		cache->pages[cache->nr++] = t;
	else
		pgt->port.ops->free_pages(pgt->port.ctx, t, gran_size(pgt));
}

/* Free an unlinked table and every table below it (after the TLBI that covered them). */
static void free_tree(const struct s2_pgtable *pgt, s2_pte_t *table, int level)
{
	if (level < 3) {
		uint64_t n = table_entries(pgt);
		for (uint64_t i = 0; i < n; i++) {
			s2_pte_t pte = s2_atomic_load64(&table[i]);
			if (pte_is_table(pte, level))
				free_tree(pgt, pte_table(pgt, pte), level + 1);
		}
	}
	pgt->port.ops->free_pages(pgt->port.ctx, table, gran_size(pgt));
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
	return !pgt->cfg.fwb && (pte & S2_PTE_VALID) && pte_memattr(pte) == MEMATTR_NORMAL_WB;
}

/* A physically contiguous run waiting for one dcache_clean_inval_poc call. */
struct cmo_run {
	uint64_t pa, len;
};

static void cmo_run_flush(const struct s2_pgtable *pgt, struct cmo_run *r)
{
	if (r->len)
		pgt->port.ops->dcache_clean_inval_poc(pgt->port.ctx, s2_pa(r->pa), r->len);
	r->len = 0;
}

static void cmo_run_add(const struct s2_pgtable *pgt, struct cmo_run *r, uint64_t pa, uint64_t len)
{
	if (r->len && r->pa + r->len == pa) {
		r->len += len;
		return;
	}
	cmo_run_flush(pgt, r);
	r->pa = pa;
	r->len = len;
}

#define CMO_KEEP_NONE UINT64_MAX

/*
 * The subtree @table at @level (unlinked or replaced, its TLBI done) mapped IPAs from that of
 * its first entry: add its Normal WB leaves to @r, except those the new mapping keeps: when
 * @keep_oa is not CMO_KEEP_NONE, a Normal WB mapping now gives the first entry's IPA output
 * @keep_oa (contiguously), and a leaf already mapping that output stays cached as it was.
 */
static void cmo_tree(const struct s2_pgtable *pgt, s2_pte_t *table, int level, uint64_t keep_oa,
		     struct cmo_run *r)
{
	uint64_t n = table_entries(pgt), size = lvl_size(pgt, level);

	if (level == 3) {
		/* Pages: the tight loop (valid Normal WB pages of a run only extend it). */
		const s2_pte_t want =
			S2_PTE_VALID | S2_FIELD_PREP(S2_PTE_MEMATTR, MEMATTR_NORMAL_WB);
		const s2_pte_t mask = S2_PTE_VALID | S2_PTE_MEMATTR;
		const uint64_t lo_mask = pgt->geom.oa_lo_mask, hi_mask = pgt->geom.oa_hi_mask;
		const unsigned int hi_shift = pgt->geom.oa_hi_shift;
		const bool keep = keep_oa != CMO_KEEP_NONE;
		uint64_t pa = r->pa, len = r->len, next = len ? pa + len : UINT64_MAX;

		for (uint64_t i = 0; i < n; i++) {
			s2_pte_t pte = s2_atomic_load64(&table[i]);
			uint64_t oa;

			if ((pte & mask) != want)
				continue;
			oa = (pte & lo_mask) | ((pte & hi_mask) << hi_shift);
			if (S2_UNLIKELY(keep) && oa == keep_oa + i * size)
				continue;
			if (S2_LIKELY(oa == next)) {
				len += size;
				next += size;
				continue;
			}
			r->pa = pa;
			r->len = len;
			cmo_run_add(pgt, r, oa, size);
			pa = r->pa;
			len = r->len;
			next = pa + len;
		}
		r->pa = pa;
		r->len = len;
		return;
	}
	for (uint64_t i = 0; i < n; i++) {
		s2_pte_t pte = s2_atomic_load64(&table[i]);
		uint64_t keep = keep_oa == CMO_KEEP_NONE ? keep_oa : keep_oa + i * size;

		if (pte_is_table(pte, level))
			cmo_tree(pgt, pte_table(pgt, pte), level + 1, keep, r);
		else if (pte_needs_cmo(pgt, pte) && pte_oa(pgt, pte) != keep)
			cmo_run_add(pgt, r, pte_oa(pgt, pte), size);
	}
}

/*
 * A Normal WB block that mapped output @old_oa from the IPA of @table's first entry was
 * replaced by the (linked, invalidated) subtree @table at @level: add to @r every part of it
 * that the subtree no longer maps to the same output as Normal WB.
 */
static void cmo_block_lost(const struct s2_pgtable *pgt, s2_pte_t *table, int level,
			   uint64_t old_oa, struct cmo_run *r)
{
	uint64_t n = table_entries(pgt), size = lvl_size(pgt, level);

	for (uint64_t i = 0; i < n; i++) {
		s2_pte_t pte = s2_atomic_load64(&table[i]);
		uint64_t oa = old_oa + i * size;

		if (pte_is_table(pte, level))
			cmo_block_lost(pgt, pte_table(pgt, pte), level + 1, oa, r);
		else if (!pte_needs_cmo(pgt, pte) || pte_oa(pgt, pte) != oa)
			cmo_run_add(pgt, r, oa, size);
	}
}

/* Whether replacing leaf @old by leaf @new takes Normal WB memory away from the guest. */
static S2_ALWAYS_INLINE bool leaf_loses_cmo(const struct s2_pgtable *pgt, s2_pte_t old,
					    s2_pte_t new)
{
	return pte_needs_cmo(pgt, old) &&
	       (pte_memattr(new) != MEMATTR_NORMAL_WB || pte_oa(pgt, new) != pte_oa(pgt, old));
}

/*
 * Fill a new (private) table at @level + 1 with the pieces of @old, a block or an owner
 * annotation at @level, so that it maps exactly what @old mapped. Sets its refcount.
 */
static void table_fill_from(const struct s2_pgtable *pgt, s2_pte_t *child, int level, s2_pte_t old)
{
	uint64_t n = table_entries(pgt);
	if (old & S2_PTE_VALID) {
		uint64_t csize = lvl_size(pgt, level + 1);
		uint64_t oa = pte_oa(pgt, old);
		s2_pte_t attr = (old & ~pte_oa_mask(pgt) & ~DESC_TYPE_MASK) |
				(level + 1 == 3 ? DESC_PAGE : DESC_BLOCK);
		if (!pgt->geom.oa_hi_mask) {
			/* OA in place: the pieces' descriptors step by @csize. */
			s2_pte_t e = attr | (oa & pgt->geom.oa_lo_mask);
			for (uint64_t i = 0; i < n; i++, e += csize)
				child[i] = e;
		} else {
			for (uint64_t i = 0; i < n; i++, oa += csize)
				child[i] = attr | oa_bits(pgt, oa);
		}
	} else {
		for (uint64_t i = 0; i < n; i++)
			child[i] = old;
	}
	s2_atomic_store32(table_rc(pgt, child), (uint32_t)n);
}

/* ---- argument checks -------------------------------------------------------------------------- */

static int check_range(const struct s2_pgtable *pgt, uint64_t ipa, uint64_t size)
{
	if (!pgt || !size)
		return S2_EINVAL;
	if ((ipa | size) & (gran_size(pgt) - 1))
		return S2_EALIGN;
	if (ipa >= pgt->geom.ipa_limit || size > pgt->geom.ipa_limit - ipa)
		return S2_ERANGE;
	return 0;
}

/*
 * Leaf attributes for valid S2_PROT_* flags and a MemAttr value, without branches: S2AP[1:0]
 * from W/R (flag bits 1:0 -> descriptor bits 7:6), AF unless YOUNG_CLEAR (13 -> 10), XN = 0b10
 * unless X (2 -> 54), SW3..SW0 (11:8 -> 58:55), DBM, SH inner shareable (not with DS).
 */
static S2_ALWAYS_INLINE s2_pte_t prot_attr_bits(const struct s2_pgtable *pgt, uint64_t prot,
						unsigned int memattr)
{
	return S2_FIELD_PREP(S2_PTE_MEMATTR, memattr) | pgt->geom.sh_bits |
	       ((prot & (S2_PROT_R | S2_PROT_W)) << 6) | (((~prot >> 13) & 1) << 10) |
	       (((~prot >> 2) & 1) << 54) | (((prot >> S2_PROT_SW_SHIFT) & 0xf) << 55) |
	       (((prot >> 12) & 1) << 51);
}

/* Leaf attributes (no output address, no descriptor type) for S2_PROT_* flags. */
static int prot_to_attr(const struct s2_pgtable *pgt, uint64_t prot, s2_pte_t *attr)
{
	bool dev = prot & (S2_PROT_DEVICE | S2_PROT_DEVICE_NGNRNE);
	bool nc = prot & S2_PROT_NORMAL_NC;
	unsigned int memattr;

	if (prot & ~S2_PROT_ALL)
		return S2_EINVAL;
	if (!(prot & S2_PROT_RWX))
		return S2_EINVAL;
	if (dev && nc)
		return S2_EINVAL;
	if ((prot & S2_PROT_DBM) && (!pgt->cfg.hd || (prot & S2_PROT_W)))
		return S2_EINVAL;
	if ((prot & S2_PROT_X) && (dev || nc))
		return S2_EMEMTYPE;

	if (dev)
		memattr = (prot & S2_PROT_DEVICE_NGNRNE) ? MEMATTR_DEVICE_nGnRnE :
							   MEMATTR_DEVICE_nGnRE;
	else if (nc)
		memattr = MEMATTR_NORMAL_NC;
	else
		memattr = pgt->cfg.fwb ? MEMATTR_FWB_NORMAL_WB : MEMATTR_NORMAL_WB;
	*attr = prot_attr_bits(pgt, prot, memattr);
	return 0;
}

/* ---- init, destroy, page cache ---------------------------------------------------------------- */

int s2_pgtable_init(struct s2_pgtable *pgt, const struct s2_config *cfg, const struct s2_port *port,
		    void *cookie)
{
	struct s2_pgtable_geom *g;
	unsigned int ps, bpl, root_bits;
	void *root;

	if (!pgt || !cfg || !port || !port->ops)
		return S2_EINVAL;
	ps = cfg->page_shift;
	if ((ps != 12 && ps != 14 && ps != 16) || ps != 12u + 2u * (unsigned int)cfg->granule)
		return S2_EINVAL;
	if (cfg->start_level < S2_LEVEL_MIN || cfg->start_level > 2 ||
	    cfg->levels != (unsigned int)(4 - cfg->start_level))
		return S2_EINVAL;
	if (cfg->start_level == -1 && (cfg->granule != S2_GRANULE_4K || !cfg->ds))
		return S2_EINVAL;
	if (cfg->root_tables < 1 || cfg->root_tables > S2_MAX_CONCAT ||
	    cfg->root_table_bytes != (uint64_t)cfg->root_tables << ps)
		return S2_EINVAL;
	if (cfg->pa_bits < 32 || cfg->pa_bits > 52 || cfg->ipa_bits < 32 || cfg->ipa_bits > 52)
		return S2_EINVAL;
	bpl = ps - 3;
	if (cfg->ipa_bits <= ps + (unsigned int)(3 - cfg->start_level) * bpl)
		return S2_EINVAL;
	root_bits = cfg->ipa_bits - (ps + (unsigned int)(3 - cfg->start_level) * bpl);
	if ((UINT64_C(1) << root_bits) > ((uint64_t)cfg->root_tables << bpl))
		return S2_EINVAL;
	if (!port->ops->alloc_pages || !port->ops->free_pages || !port->ops->page_refcount ||
	    !port->ops->pa_to_va || !port->ops->va_to_pa || !port->ops->tlbi_ipa ||
	    !port->ops->tlbi_range || !port->ops->tlbi_vmid || !port->ops->barrier ||
	    !port->ops->dcache_clean_inval_poc || !port->ops->icache_inval_pou)
		return S2_EINVAL;

	s2_memzero(pgt, sizeof(*pgt));
	pgt->cfg = *cfg;
	pgt->port = *port;
	pgt->cookie = cookie;
	pgt->fmt.granule = cfg->granule;
	pgt->fmt.ds = cfg->ds && cfg->granule != S2_GRANULE_64K;
	pgt->fmt.lpa = cfg->lpa && cfg->granule == S2_GRANULE_64K;

	g = &pgt->geom;
	for (int l = S2_LEVEL_MIN; l <= S2_LEVEL_MAX; l++)
		g->shift[l + 1] = (uint8_t)(ps + (unsigned int)(3 - l) * bpl);
	g->start_level = (int8_t)cfg->start_level;
	g->page_shift = (uint8_t)ps;
	g->idx_mask = (UINT64_C(1) << bpl) - 1;
	g->root_idx_mask = (UINT64_C(1) << root_bits) - 1;
	g->ipa_limit = UINT64_C(1) << cfg->ipa_bits;
	g->pa_limit = UINT64_C(1) << cfg->pa_bits;
	g->block_levels = cfg->block_levels;
	if (pgt->fmt.ds) {
		/* FEAT_LPA2: OA[49:page_shift] in place, OA[51:50] in bits [9:8]; SH comes from
		 * VTCR_EL2.SH0 (Arm ARM D8.3.1). */
		g->oa_lo_mask = S2_GENMASK(49, ps);
		g->oa_hi_mask = S2_PTE_OA_HI_LPA2;
		g->oa_hi_shift = 42;
		g->sh_bits = 0;
	} else if (pgt->fmt.lpa) {
		/* FEAT_LPA with 64K: OA[47:16] in place, OA[51:48] in bits [15:12]. */
		g->oa_lo_mask = S2_GENMASK(47, ps);
		g->oa_hi_mask = S2_PTE_OA_HI_64K;
		g->oa_hi_shift = 36;
		g->sh_bits = S2_FIELD_PREP(S2_PTE_SH, S2_SH_INNER);
	} else {
		g->oa_lo_mask = S2_GENMASK(47, ps);
		g->oa_hi_mask = 0;
		g->oa_hi_shift = 0;
		g->sh_bits = S2_FIELD_PREP(S2_PTE_SH, S2_SH_INNER);
	}
	g->root_shift = g->shift[cfg->start_level + 1];
	g->bits_per_level = (uint8_t)bpl;
	g->fast = port->linear && !g->oa_hi_mask;
	/* (PA below 2^48 too: the fault path ORs the PA into the descriptor unmasked.) */
	g->fast4k_ipa_limit = g->fast && ps == 12 && cfg->start_level >= 0 && cfg->pa_bits <= 48 ?
				      g->ipa_limit :
				      0;
	g->fast4k_l1_ipa_limit = cfg->start_level == 1 ? g->fast4k_ipa_limit : 0;
	for (uint64_t i = 0; i < 16; i++)
		g->normal_attr[i] =
			prot_attr_bits(pgt, (i & S2_PROT_RWX) | ((i & 8) ? S2_PROT_YOUNG_CLEAR : 0),
				       cfg->fwb ? MEMATTR_FWB_NORMAL_WB : MEMATTR_NORMAL_WB);
	/* One range TLBI up to 1 GiB; beyond that, invalidating the VMID is cheaper. */
	pgt->tlbi_range_threshold = UINT64_C(1) << 30;

	root = port->ops->alloc_pages(port->ctx, cfg->root_table_bytes);
	if (!root)
		return S2_ENOMEM;
	pgt->root = root;
	pgt->root_pa = port->ops->va_to_pa(port->ctx, root);
	return 0;
}

void s2_pgtable_destroy(struct s2_pgtable *pgt)
{
	int level;
	uint64_t n;

	if (!pgt || !pgt->root)
		return;
	level = pgt->geom.start_level;
	n = pgt->geom.root_idx_mask + 1;
	for (uint64_t i = 0; i < n; i++) {
		s2_pte_t pte = s2_atomic_load64(&pgt->root[i]);
		if (pte_is_table(pte, level))
			free_tree(pgt, pte_table(pgt, pte), level + 1);
	}
	pgt->port.ops->free_pages(pgt->port.ctx, pgt->root, pgt->cfg.root_table_bytes);
	pgt->root = NULL;
}

int s2_page_cache_topup(struct s2_page_cache *cache, const struct s2_port *port, size_t page_bytes,
			unsigned int min)
{
	if (!cache || !port || !port->ops || page_bytes < 4096 || (page_bytes & (page_bytes - 1)))
		return S2_EINVAL;
	if (min > S2_PAGE_CACHE_MAX)
		return S2_EINVAL;
	while (cache->nr < min) {
		void *p = port->ops->alloc_pages(port->ctx, page_bytes);
		if (!p)
			return S2_ENOMEM;
		cache->pages[cache->nr++] = p;
	}
	return 0;
}

void s2_page_cache_drain(struct s2_page_cache *cache, const struct s2_port *port, size_t page_bytes)
{
	if (!cache || !port || !port->ops)
		return;
	while (cache->nr)
		port->ops->free_pages(port->ctx, cache->pages[--cache->nr], page_bytes);
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
#define OA_4K S2_GENMASK(47, 12)

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
			d->shift = 12 + 9 * (4 - (l));                \
			d->table = table;                             \
			d->ptep = ptep;                               \
			d->pte = pte;                                 \
			return false;                                 \
		}                                                     \
		table = (s2_pte_t *)(uintptr_t)((pte & OA_4K) + off); \
		ptep = table + ((ipa >> (12 + 9 * (3 - (l)))) & 511); \
		pte = s2_atomic_load64_acquire(ptep);                 \
	} while (0)

/* The root entry, at start level l (acquire: see descend_impl()). */
#define DESCEND_4K_ROOT(l)                                    \
	do {                                                  \
		ptep = table + (ipa >> (12 + 9 * (3 - (l)))); \
		pte = s2_atomic_load64_acquire(ptep);         \
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

/* ---- single-entry map (the fault path): direct descent, CAS ---------------------------------- */

/*
 * A leaf that already maps what @new asks: equal but for what hardware may have added since
 * (AF set, and W on a DBM page it made dirty). An AF-clear leaf does not satisfy a request
 * with AF set: with HA off every access to it takes an access flag fault.
 */
static S2_ALWAYS_INLINE bool leaf_same(s2_pte_t old, s2_pte_t new)
{
	s2_pte_t ignore = (old & S2_PTE_AF) | ((new &S2_PTE_DBM) ? (old & S2_PTE_S2AP_W) : 0);
	return (old & S2_PTE_VALID) && ((old ^ new) & ~ignore) == 0;
}

/*
 * The entry at @level for @ipa is empty and the leaf belongs at @target > @level: build the
 * missing tables privately (leaf included) and publish them with one compare-and-swap. A loser
 * gives its pages back and looks again (S2_RETRY). Nothing to undo on S2_ENOMEM.
 */
static S2_NOINLINE int install_chain(struct s2_pgtable *pgt, s2_pte_t *table, s2_pte_t *ptep,
				     int level, int target, uint64_t ipa, s2_pte_t leaf,
				     struct s2_page_cache *cache)
{
	s2_pte_t *t[S2_LEVEL_MAX - S2_LEVEL_MIN + 1];
	int n = target - level;
	s2_pte_t expect = 0;

	for (int i = 0; i < n; i++) {
		t[i] = table_alloc(pgt, cache, false);
		if (S2_UNLIKELY(!t[i])) {
			while (i--)
				table_unused(pgt, cache, t[i]);
			return S2_ENOMEM;
		}
	}
	for (int i = 0; i < n; i++) {
		int l = level + 1 + i;
		t[i][lvl_idx(pgt, l, ipa)] = i == n - 1 ? leaf : table_desc(pgt, t[i + 1]);
		s2_atomic_store32(table_rc(pgt, t[i]), 1);
	}
	/* Release: the new tables' contents are visible before the entry that links them. */
	if (S2_LIKELY(s2_atomic_cas64(ptep, &expect, table_desc(pgt, t[0])))) {
		rc_add(pgt, table, level, 1);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		t[i][lvl_idx(pgt, level + 1 + i, ipa)] = 0;
		s2_atomic_store32(table_rc(pgt, t[i]), 0);
		table_unused(pgt, cache, t[i]);
	}
	return S2_RETRY;
}

static S2_NOINLINE int map_leaf_single(struct s2_pgtable *pgt, s2_pte_t *table, s2_pte_t *ptep,
				       int level, uint64_t ipa, s2_pte_t old, s2_pte_t new,
				       uint64_t flags)
{
	for (;;) {
		if (!(old & S2_PTE_VALID)) {
			if (old & PTE_LOCKED)
				return S2_EAGAIN;
			/* Empty or annotated: invalid -> valid needs no TLBI. */
			if (S2_LIKELY(s2_atomic_cas64(ptep, &old, new))) {
				if (!old)
					rc_add(pgt, table, level, 1);
				return 0;
			}
			/* Someone else got there first. */
			if (leaf_same(old, new))
				return 0;
			return S2_EAGAIN;
		}
		if (pte_is_table(old, level))
			return S2_STRUCTURAL;
		if (flags & S2_MAP_NO_REPLACE)
			return S2_EEXIST;
		if (((old ^ new) & ~PTE_INPLACE_BITS) == 0) {
			/* Same output, type and size: update in place. */
			if (old == new)
				return 0;
			/*
			 * Under the shared lock another vCPU may have mapped the same page first
			 * with other permissions: add what is asked (AF, permissions), never take
			 * any away (that vCPU's access would fault again): S2_EAGAIN instead.
			 */
			if ((flags & S2_MAP_SHARED) &&
			    (leaf_same(old, new) || pte_restricts(old, new)))
				return leaf_same(old, new) ? 0 : S2_EAGAIN;
			if (!s2_atomic_cas64(ptep, &old, new))
				continue; /* hardware AF/dirty update: look again */
			if (pte_restricts(old, new))
				tlbi_one(pgt, ipa, level);
			else if (pte_grants(old, new) && (flags & S2_MAP_SHARED))
				tlbi_local(pgt, ipa, level); /* the fault path, as relax_perms */
			else if (pte_grants(old, new))
				tlbi_one(pgt, ipa, level);
			return 0;
		}
		/* Break-before-make (Arm ARM D8.16.1), holding the entry with a locked marker. */
		if (!s2_atomic_cas64(ptep, &old, PTE_LOCKED))
			continue;
		tlbi_one(pgt, ipa, level);
		if (leaf_loses_cmo(pgt, old, new))
			pgt->port.ops->dcache_clean_inval_poc(
				pgt->port.ctx, s2_pa(pte_oa(pgt, old)), lvl_size(pgt, level));
		s2_atomic_store64_release(ptep, new);
		return 0;
	}
}

static S2_ALWAYS_INLINE int map_single_impl(struct s2_pgtable *pgt, uint64_t ipa, int target,
					    s2_pte_t leaf, uint64_t flags,
					    struct s2_page_cache *cache, const bool hi,
					    const bool linear, const int k4)
{
	struct descent d;
	int ret;

	for (;;) {
		descend(pgt, ipa, target, &d, hi, linear, k4);
		if (S2_LIKELY(d.shift == lvl_shift(pgt, target))) {
			s2_pte_t old = 0;
			/* The common case: an empty entry in an existing table. */
			if (S2_LIKELY(!d.pte) && S2_LIKELY(s2_atomic_cas64(d.ptep, &old, leaf))) {
				rc_add(pgt, d.table, target, 1);
				return 0;
			}
			return map_leaf_single(pgt, d.table, d.ptep, target, ipa,
					       d.pte ? d.pte : old, leaf, flags);
		}
		if (d.pte == PTE_LOCKED)
			return S2_EAGAIN;
		if (d.pte)
			return S2_STRUCTURAL; /* a block or an annotation in the way */
		ret = install_chain(pgt, d.table, d.ptep,
				    target - (int)((d.shift - lvl_shift(pgt, target)) /
						   (pgt->geom.page_shift - 3u)),
				    target, ipa, leaf, cache);
		if (ret != S2_RETRY)
			return ret;
	}
}

static S2_NOINLINE int map_single_slow(struct s2_pgtable *pgt, uint64_t ipa, int target,
				       s2_pte_t leaf, uint64_t flags, struct s2_page_cache *cache)
{
	if (pgt->port.linear)
		return map_single_impl(pgt, ipa, target, leaf, flags, cache, true, true, K4_OFF);
	return map_single_impl(pgt, ipa, target, leaf, flags, cache, true, false, K4_OFF);
}

static int map_single(struct s2_pgtable *pgt, uint64_t ipa, int target, s2_pte_t leaf,
		      uint64_t flags, struct s2_page_cache *cache)
{
	if (S2_FAST_LAYOUT(pgt))
		return map_single_impl(pgt, ipa, target, leaf, flags, cache, false, true, K4_OFF);
	return map_single_slow(pgt, ipa, target, leaf, flags, cache);
}

/* ---- range map (structural) ------------------------------------------------------------------- */

struct map_ctx {
	struct s2_pgtable *pgt;
	uint64_t ipa0, pa0; /* pa = pa0 + (ipa - ipa0) */
	s2_pte_t attr; /* leaf attributes without output address or type */
	uint64_t flags;
	struct s2_page_cache *cache;
	struct flush fl; /* in-place restrictions, invalidated at the end */
};

static int map_range(struct map_ctx *m, s2_pte_t *table, int level, uint64_t ipa, uint64_t end,
		     bool priv);

/* Leaves of one run broken (set to 0) and waiting for one TLBI before they are made. */
struct bbm_batch {
	s2_pte_t *first, *last;
	unsigned int n;
	struct cmo_run cmo; /* Normal WB memory the broken entries took from the guest */
};

/*
 * Replace a non-empty entry by leaf @new. @priv: the table is not reachable yet (no
 * break-before-make, no TLBI). A leaf that needs break-before-make is broken here and left in
 * @b for map_bbm_finish(). Returns 0 or S2_EEXIST.
 */
static int map_replace(struct map_ctx *m, s2_pte_t *ptep, int level, uint64_t ipa, s2_pte_t old,
		       s2_pte_t new, bool priv, struct bbm_batch *b)
{
	struct s2_pgtable *pgt = m->pgt;

	if (!(old & S2_PTE_VALID)) {
		/* An annotation: invalid -> valid, counted before and after. */
		s2_atomic_store64(ptep, new);
		return 0;
	}
	if (pte_is_table(old, level)) {
		/* Table -> block: break, invalidate the whole range (walk caches too), make, and
		 * only then free the old tables. */
		s2_atomic_store64(ptep, 0);
		if (!priv)
			tlbi_span(pgt, ipa, lvl_size(pgt, level));
		s2_atomic_store64_release(ptep, new);
		if (!priv && !pgt->cfg.fwb) {
			/* Clean what the block does not keep mapped as before. */
			struct cmo_run r = { 0, 0 };
			cmo_tree(pgt, pte_table(pgt, old), level + 1,
				 pte_needs_cmo(pgt, new) ? pte_oa(pgt, new) : CMO_KEEP_NONE, &r);
			cmo_run_flush(pgt, &r);
		}
		free_tree(pgt, pte_table(pgt, old), level + 1);
		return 0;
	}
	if (m->flags & S2_MAP_NO_REPLACE)
		return S2_EEXIST;
	if (((old ^ new) & ~PTE_INPLACE_BITS) == 0) {
		if (old == new)
			return 0;
		if (priv) {
			s2_atomic_store64(ptep, new);
			return 0;
		}
		/* In place; an exchange so a concurrent hardware dirty update is seen. */
		while (!s2_atomic_cas64(ptep, &old, new))
			;
		if (pte_restricts(old, new) || pte_grants(old, new))
			flush_add(&m->fl, ipa, lvl_size(pgt, level), level);
		return 0;
	}
	if (priv) {
		s2_atomic_store64(ptep, new);
		return 0;
	}
	if (S2_UNLIKELY(leaf_loses_cmo(pgt, old, new))) {
		/*
		 * Normal WB memory the guest loses: cleaned to PoC after the TLBI. With the run's
		 * batch when it continues the batch's physically contiguous run to clean, else
		 * break-before-make on its own.
		 */
		uint64_t oa = pte_oa(pgt, old), sz = lvl_size(pgt, level);
		if (b->cmo.len && b->cmo.pa + b->cmo.len != oa) {
			s2_atomic_store64(ptep, 0);
			tlbi_one(pgt, ipa, level);
			pgt->port.ops->dcache_clean_inval_poc(pgt->port.ctx, s2_pa(oa), sz);
			s2_atomic_store64_release(ptep, new);
			return 0;
		}
		if (!b->cmo.len)
			b->cmo.pa = oa;
		b->cmo.len += sz;
	}
	/* Break now; the TLBI and the make come once for the whole run. */
	s2_atomic_store64(ptep, 0);
	if (!b->n)
		b->first = ptep;
	b->last = ptep;
	b->n++;
	return 0;
}

/*
 * The rest of break-before-make for the leaves a run broke: DSB ISHST, one TLBI (by IPA with
 * the level for a single entry, else over the span), DSB ISH, then the new entries. The broken
 * entries are the only zero entries of the run: every other one holds its new value already.
 */
static void map_bbm_finish(struct map_ctx *m, struct bbm_batch *b, s2_pte_t *start_p, int level,
			   uint64_t ipa, uint64_t pa, s2_pte_t tmpl)
{
	struct s2_pgtable *pgt = m->pgt;
	uint64_t size = lvl_size(pgt, level);
	uint64_t i0, i1;

	if (!b->n)
		return;
	i0 = (uint64_t)(b->first - start_p);
	i1 = (uint64_t)(b->last - start_p);
	if (b->n == 1)
		tlbi_one(pgt, ipa + i0 * size, level);
	else
		tlbi_span(pgt, ipa + i0 * size, (i1 - i0 + 1) * size);
	cmo_run_flush(pgt, &b->cmo);
	for (uint64_t i = i0; i <= i1; i++)
		if (!s2_atomic_load64(&start_p[i]))
			s2_atomic_store64_release(&start_p[i], tmpl | oa_bits(pgt, pa + i * size));
	b->n = 0;
}

/*
 * Descend through a non-table entry: build the next-level table privately (empty, or the
 * pieces of a block or annotation), map into it, then link it (break-before-make over a
 * valid block). A table left empty (allocation failed below) is given back unlinked.
 */
static int map_descend_new(struct map_ctx *m, s2_pte_t *ptep, int level, uint64_t ipa,
			   uint64_t stop, s2_pte_t old, bool priv, int32_t *delta)
{
	struct s2_pgtable *pgt = m->pgt;
	s2_pte_t *child = table_alloc(pgt, m->cache, false);
	int ret;

	if (!child)
		return S2_ENOMEM;
	if (old)
		table_fill_from(pgt, child, level, old);
	ret = map_range(m, child, level + 1, ipa, stop, true);
	if (!s2_atomic_load32(table_rc(pgt, child))) {
		table_unused(pgt, m->cache, child);
		return ret;
	}
	if ((old & S2_PTE_VALID) && !priv) {
		s2_atomic_store64(ptep, 0);
		tlbi_one(pgt, S2_ALIGN_DOWN(ipa, lvl_size(pgt, level)), level);
	}
	s2_atomic_store64_release(ptep, table_desc(pgt, child));
	if (!priv && pte_needs_cmo(pgt, old)) {
		/* The block's parts the map replaced (in the private table): clean them. */
		struct cmo_run r = { 0, 0 };
		cmo_block_lost(pgt, child, level + 1, pte_oa(pgt, old), &r);
		cmo_run_flush(pgt, &r);
	}
	if (!old)
		(*delta)++;
	return ret;
}

static int map_range(struct map_ctx *m, s2_pte_t *table, int level, uint64_t ipa, uint64_t end,
		     bool priv)
{
	struct s2_pgtable *pgt = m->pgt;
	unsigned int shift = lvl_shift(pgt, level);
	uint64_t size = UINT64_C(1) << shift;
	s2_pte_t *ptep = table + lvl_idx(pgt, level, ipa);
	bool leaf_level =
		level == 3 || (!(m->flags & S2_MAP_FORCE_PAGES) && level_has_blocks(pgt, level));
	s2_pte_t tmpl = m->attr | (level == 3 ? DESC_PAGE : DESC_BLOCK);
	int32_t delta = 0;
	int ret = 0;

	while (ipa < end) {
		uint64_t next = (ipa | (size - 1)) + 1;
		uint64_t pa = m->pa0 + (ipa - m->ipa0);
		uint64_t stop = S2_MIN(next, end);
		s2_pte_t old;

		if (leaf_level && !((ipa | pa) & (size - 1)) && next <= end) {
			/* A run of whole entries: the tight loop. */
			uint64_t n = (end - ipa) >> shift;
			uint64_t last =
				table == pgt->root ? pgt->geom.root_idx_mask : pgt->geom.idx_mask;
			uint64_t room = last - (uint64_t)(ptep - table) + 1;
			s2_pte_t *start_p = ptep, *stop_p;
			struct bbm_batch bbm = { NULL, NULL, 0, { 0, 0 } };
			if (n > room)
				n = room;
			stop_p = ptep + n;
			if (S2_LIKELY(!pgt->geom.oa_hi_mask)) {
				/*
				 * The output address sits in place below bit 48 and stays below
				 * the PA size: the descriptor advances by the entry size.
				 */
				s2_pte_t new = tmpl | oa_bits(pgt, pa);
				for (; ptep < stop_p; ptep++, new += size) {
					old = s2_atomic_load64(ptep);
					if (S2_LIKELY(!old)) {
						s2_atomic_store64(ptep, new);
						delta++;
						continue;
					}
					ret = map_replace(m, ptep, level,
							  ipa + (uint64_t)(ptep - start_p) * size,
							  old, new, priv, &bbm);
					if (ret)
						break;
				}
			} else {
				for (uint64_t p = pa; ptep < stop_p; ptep++, p += size) {
					s2_pte_t new = tmpl | oa_bits(pgt, p);
					old = s2_atomic_load64(ptep);
					if (S2_LIKELY(!old)) {
						s2_atomic_store64(ptep, new);
						delta++;
						continue;
					}
					ret = map_replace(m, ptep, level, ipa + (p - pa), old, new,
							  priv, &bbm);
					if (ret)
						break;
				}
			}
			map_bbm_finish(m, &bbm, start_p, level, ipa, pa, tmpl);
			if (ret)
				goto out;
			ipa += n * size;
			continue;
		}
		old = s2_atomic_load64(ptep);
		if (pte_is_table(old, level))
			ret = map_range(m, pte_table(pgt, old), level + 1, ipa, stop, priv);
		else
			ret = map_descend_new(m, ptep, level, ipa, stop, old, priv, &delta);
		if (ret)
			goto out;
		ipa = stop;
		ptep++;
	}
out:
	rc_add(pgt, table, level, delta);
	return ret;
}

/* ---- visitor walk ----------------------------------------------------------------------------- */

static int walk_range(const struct s2_pgtable *pgt, s2_pte_t *table, int level, uint64_t ipa,
		      uint64_t end, uint64_t flags, s2_visitor_fn fn, void *arg)
{
	uint64_t size = lvl_size(pgt, level);
	s2_pte_t *ptep = table + lvl_idx(pgt, level, ipa);
	int ret;

	for (; ipa < end; ptep++) {
		uint64_t base = S2_ALIGN_DOWN(ipa, size);
		uint64_t stop = S2_MIN(base + size, end);
		struct s2_walk_visit v = {
			.ipa = s2_ipa(base),
			.level = level,
			.size = size,
			.ptep = ptep,
			.pte = s2_atomic_load64(ptep),
		};

		if (pte_is_table(v.pte, level)) {
			if (flags & S2_WALK_TABLE_PRE) {
				v.flag = S2_WALK_TABLE_PRE;
				ret = fn(arg, &v);
				if (ret)
					return ret;
			}
			ret = walk_range(pgt, pte_table(pgt, v.pte), level + 1, ipa, stop, flags,
					 fn, arg);
			if (ret)
				return ret;
			if (flags & S2_WALK_TABLE_POST) {
				v.pte = s2_atomic_load64(ptep);
				v.flag = S2_WALK_TABLE_POST;
				ret = fn(arg, &v);
				if (ret)
					return ret;
			}
		} else if ((flags & S2_WALK_LEAF) && (v.pte || !(flags & S2_WALK_SKIP_EMPTY))) {
			v.flag = S2_WALK_LEAF;
			ret = fn(arg, &v);
			if (ret)
				return ret;
		}
		ipa = stop;
	}
	return 0;
}

int s2_pgtable_walk(const struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size, uint64_t flags,
		    s2_visitor_fn fn, void *arg)
{
	int ret = check_range(pgt, s2_ipa_val(ipa), size);

	if (ret)
		return ret;
	if (!fn ||
	    (flags & ~(S2_WALK_LEAF | S2_WALK_TABLE_PRE | S2_WALK_TABLE_POST | S2_WALK_SKIP_EMPTY)))
		return S2_EINVAL;
	return walk_range(pgt, pgt->root, pgt->geom.start_level, s2_ipa_val(ipa),
			  s2_ipa_val(ipa) + size, flags, fn, arg);
}

static int visit_find_valid(void *arg, const struct s2_walk_visit *v)
{
	(void)arg;
	return (v->pte & S2_PTE_VALID) ? S2_EEXIST : 0;
}

static int visit_find_noexec(void *arg, const struct s2_walk_visit *v)
{
	(void)arg;
	return ((v->pte & S2_PTE_VALID) && memattr_noexec(pte_memattr(v->pte))) ? S2_EMEMTYPE : 0;
}

/* ---- map --------------------------------------------------------------------------------------- */

/* The structural path of a map: multi-entry ranges, and single entries that need a table
 * replaced or a block split. Exclusive lock. */
static int map_structural(struct s2_pgtable *pgt, uint64_t ipa, uint64_t size, uint64_t pa,
			  s2_pte_t attr, uint64_t flags, struct s2_page_cache *cache)
{
	struct map_ctx m = {
		.pgt = pgt,
		.ipa0 = ipa,
		.pa0 = pa,
		.attr = attr,
		.flags = flags,
		.cache = cache,
	};
	int ret;

	if (flags & S2_MAP_NO_REPLACE) {
		/* Check first, so that a refusal changes nothing. */
		ret = s2_pgtable_walk(pgt, s2_ipa(ipa), size, S2_WALK_LEAF | S2_WALK_SKIP_EMPTY,
				      visit_find_valid, NULL);
		if (ret)
			return ret;
	}
	ret = map_range(&m, pgt->root, pgt->geom.start_level, ipa, ipa + size, false);
	flush_do(pgt, &m.fl);
	/* Make the new entries visible to the table walkers before returning to the guest. */
	port_barrier(pgt, S2_BARRIER_DSB_ISHST);
	return ret;
}

/*
 * Cache maintenance before any entry becomes valid: without FWB the guest may run with its
 * MMU off (non-cacheable accesses) and must see what the host wrote (ARCH-NOTES §1); newly
 * executable memory needs the I-cache invalidated unless CTR_EL0.DIC.
 */
static S2_ALWAYS_INLINE void map_cmo(struct s2_pgtable *pgt, uint64_t pa, uint64_t size,
				     uint64_t prot)
{
	if (!(prot & (S2_PROT_MEMTYPE | S2_PROT_NOCMO)) && !pgt->cfg.fwb)
		pgt->port.ops->dcache_clean_inval_poc(pgt->port.ctx, s2_pa(pa), size);
	if ((prot & S2_PROT_X) && !pgt->cfg.dic)
		pgt->port.ops->icache_inval_pou(pgt->port.ctx, s2_pa(pa), size);
}

/* Finish a single-entry attempt: fall back to the structural path when it must. */
static S2_NOINLINE int map_single_done(struct s2_pgtable *pgt, int ret, uint64_t ipa, uint64_t size,
				       uint64_t pa, s2_pte_t attr, uint64_t flags,
				       struct s2_page_cache *cache)
{
	if (ret != S2_STRUCTURAL) {
		if (!ret)
			port_barrier(pgt, S2_BARRIER_DSB_ISHST);
		return ret;
	}
	if (flags & S2_MAP_SHARED)
		return S2_EBUSY;
	return map_structural(pgt, ipa, size, pa, attr, flags, cache);
}

/* Flags the one-page fast path handles: Normal write-back memory, no DBM. */
#define MAP_FAST_PROT (S2_PROT_RWX | S2_PROT_NOCMO | S2_PROT_SW_MASK | S2_PROT_YOUNG_CLEAR)

/* Everything but the one-page fast path: argument checks, the leaf level, then the single-entry
 * or the structural path. */
static S2_NOINLINE int map_general(struct s2_pgtable *pgt, uint64_t ipa, uint64_t size, uint64_t pa,
				   uint64_t prot, uint64_t flags, struct s2_page_cache *cache)
{
	s2_pte_t attr;
	int target = -2, ret;

	if (!pgt || !size)
		return S2_EINVAL;
	ret = prot_to_attr(pgt, prot, &attr);
	if (ret)
		return ret;
	if (flags & ~(S2_MAP_FORCE_PAGES | S2_MAP_NO_REPLACE | S2_MAP_SHARED))
		return S2_EINVAL;
	if ((ipa | pa | size) & (gran_size(pgt) - 1))
		return S2_EALIGN;
	if (ipa >= pgt->geom.ipa_limit || size > pgt->geom.ipa_limit - ipa ||
	    pa >= pgt->geom.pa_limit || size > pgt->geom.pa_limit - pa)
		return S2_ERANGE;

	/* One leaf entry? Then the direct descent of the fault path. */
	if (size == gran_size(pgt)) {
		target = 3;
	} else if (!(flags & S2_MAP_FORCE_PAGES) && !(size & (size - 1)) &&
		   !((ipa | pa) & (size - 1))) {
		for (int l = 2; l >= pgt->geom.start_level; l--)
			if (lvl_size(pgt, l) == size && level_has_blocks(pgt, l))
				target = l;
	}
	if (target == -2 && (flags & S2_MAP_SHARED))
		return S2_EBUSY;

	map_cmo(pgt, pa, size, prot);
	if (target != -2) {
		s2_pte_t leaf = attr | (target == 3 ? DESC_PAGE : DESC_BLOCK) | oa_bits(pgt, pa);
		ret = map_single(pgt, ipa, target, leaf, flags, cache);
		return map_single_done(pgt, ret, ipa, size, pa, attr, flags, cache);
	}
	return map_structural(pgt, ipa, size, pa, attr, flags, cache);
}

/*
 * The one-page fault path, past its first attempt (or with cache maintenance): the single-entry
 * map in full, for a layout of geom.fast (@k4: -1 for 4K, K4_OFF for the others). @leaf is a
 * page descriptor of Normal memory: its PA and attributes are recovered from it (no attribute
 * bit lies in the OA field or in bits [1:0]).
 */
static S2_ALWAYS_INLINE int map_page_other_impl(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf,
						uint64_t flags, struct s2_page_cache *cache,
						const int k4)
{
	const s2_pte_t oa_mask = k4 != K4_OFF ? OA_4K : pgt->geom.oa_lo_mask;
	int ret = map_single_impl(pgt, ipa, 3, leaf, flags, cache, false, true, k4);

	if (S2_LIKELY(!ret)) {
		port_barrier(pgt, S2_BARRIER_DSB_ISHST);
		return 0;
	}
	return map_single_done(pgt, ret, ipa, gran_size(pgt), leaf & oa_mask,
			       leaf & ~(oa_mask | DESC_TYPE_MASK), flags, cache);
}

static S2_NOINLINE int map_page_4k_other(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf,
					 uint64_t flags, struct s2_page_cache *cache)
{
	return map_page_other_impl(pgt, ipa, leaf, flags, cache, -1);
}

static S2_NOINLINE int map_page_lin_other(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf,
					  uint64_t flags, struct s2_page_cache *cache)
{
	return map_page_other_impl(pgt, ipa, leaf, flags, cache, K4_OFF);
}

static int map_page_4k(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf, uint64_t flags,
		       struct s2_page_cache *cache);
static int map_page_lin(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf, uint64_t flags,
			struct s2_page_cache *cache);

/* Cache maintenance first (map_cmo()), then the one-page path below (its CAS into an empty
 * entry of an existing table, else the above). */
static S2_NOINLINE int map_page_cmo(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf,
				    uint64_t prot, uint64_t flags, struct s2_page_cache *cache)
{
	map_cmo(pgt, leaf & pgt->geom.oa_lo_mask, gran_size(pgt), prot);
	if (pgt->geom.fast4k_ipa_limit)
		return map_page_4k(pgt, ipa, leaf, flags, cache);
	return map_page_lin(pgt, ipa, leaf, flags, cache);
}

/*
 * The one-page fault path for a layout of geom.fast: an empty last-level entry in an existing
 * table takes the leaf with one CAS, then the table's refcount (level 3 is never the root) and
 * DSB ISHST. Anything else (a missing table, a non-empty entry, a lost race) goes to
 * map_page_*_other(), which looks again and does the whole single-entry map. Functions of their
 * own so that only @pgt lives across the port calls.
 */
static S2_ALWAYS_INLINE int map_page_impl(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf,
					  uint64_t flags, struct s2_page_cache *cache, const int k4)
{
	struct descent d;
	s2_pte_t old = 0;
	bool at_leaf;

	if (k4 != K4_OFF) {
		at_leaf = descend_4k(pgt, ipa, &d, k4);
	} else {
		descend_impl(pgt, ipa, 3, &d, false, true);
		at_leaf = d.shift == pgt->geom.page_shift;
	}
	if (S2_LIKELY(at_leaf) && S2_LIKELY(!d.pte) &&
	    S2_LIKELY(s2_atomic_cas64(d.ptep, &old, leaf))) {
		s2_atomic_add32(table_rc(pgt, d.table), 1);
		port_barrier(pgt, S2_BARRIER_DSB_ISHST);
		return 0;
	}
	if (k4 != K4_OFF)
		return map_page_4k_other(pgt, ipa, leaf, flags, cache);
	return map_page_lin_other(pgt, ipa, leaf, flags, cache);
}

static S2_NOINLINE int map_page_4k(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf,
				   uint64_t flags, struct s2_page_cache *cache)
{
	return map_page_impl(pgt, ipa, leaf, flags, cache, -1);
}

static S2_NOINLINE int map_page_lin(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf,
				    uint64_t flags, struct s2_page_cache *cache)
{
	return map_page_impl(pgt, ipa, leaf, flags, cache, K4_OFF);
}

/* The leaf of a page of Normal memory: the attribute template precomputed at init, SW bits. */
static S2_ALWAYS_INLINE s2_pte_t map_page_leaf(const struct s2_pgtable *pgt, uint64_t prot,
					       uint64_t oa)
{
	return pgt->geom.normal_attr[(prot & S2_PROT_RWX) | ((prot & S2_PROT_YOUNG_CLEAR) >> 10)] |
	       (((prot >> S2_PROT_SW_SHIFT) & 0xf) << 55) | DESC_PAGE | oa;
}

/* Cache maintenance as map_cmo(): with FWB only for exec without DIC. */
static S2_ALWAYS_INLINE bool map_page_needs_cmo(const struct s2_pgtable *pgt, uint64_t prot)
{
	return (!pgt->cfg.fwb && !(prot & S2_PROT_NOCMO)) || ((prot & S2_PROT_X) && !pgt->cfg.dic);
}

/*
 * s2_pgtable_map() but for the 4K fault path: the one-page fault path of the other layouts of
 * geom.fast (16K, 64K), everything else through map_general().
 */
static S2_NOINLINE int map_other(struct s2_pgtable *pgt, uint64_t ipa, uint64_t size, uint64_t pa,
				 uint64_t prot, uint64_t flags, struct s2_page_cache *cache)
{
	s2_pte_t leaf;

	if (S2_LIKELY(
		    pgt && pgt->geom.fast && size == gran_size(pgt) && ipa < pgt->geom.ipa_limit &&
		    pa < pgt->geom.pa_limit && !((ipa | pa) & (size - 1)) && (prot & S2_PROT_RWX) &&
		    !(prot & ~MAP_FAST_PROT) && !(flags & ~(S2_MAP_NO_REPLACE | S2_MAP_SHARED)))) {
		leaf = map_page_leaf(pgt, prot, pa & pgt->geom.oa_lo_mask);
		if (S2_UNLIKELY(map_page_needs_cmo(pgt, prot)))
			return map_page_cmo(pgt, ipa, leaf, prot, flags, cache);
		return map_page_lin(pgt, ipa, leaf, flags, cache);
	}
	return map_general(pgt, ipa, size, pa, prot, flags, cache);
}

int s2_pgtable_map(struct s2_pgtable *pgt, s2_ipa_t ipa_t, uint64_t size, s2_pa_t pa_t,
		   uint64_t prot, uint64_t flags, struct s2_page_cache *cache)
{
	uint64_t ipa = s2_ipa_val(ipa_t), pa = s2_pa_val(pa_t);
	s2_pte_t leaf;

	/*
	 * The fault path: one 4K page of Normal memory, aligned and in range, in the 4K fast
	 * layout. Everything else (errors included, in their documented order) takes
	 * map_other() and map_general().
	 */
	if (S2_LIKELY(pgt && ipa < pgt->geom.fast4k_ipa_limit && size == (UINT64_C(1) << 12) &&
		      pa < pgt->geom.pa_limit && !((ipa | pa) & 0xfff) && (prot & S2_PROT_RWX) &&
		      !(prot & ~MAP_FAST_PROT) &&
		      !(flags & ~(S2_MAP_NO_REPLACE | S2_MAP_SHARED)))) {
		leaf = map_page_leaf(pgt, prot, pa);
		if (S2_UNLIKELY(map_page_needs_cmo(pgt, prot)))
			return map_page_cmo(pgt, ipa, leaf, prot, flags, cache);
		return map_page_4k(pgt, ipa, leaf, flags, cache);
	}

	return map_other(pgt, ipa, size, pa, prot, flags, cache);
}

/* ---- prepared page leaves (s2_pgtable_leaf_prepare(), s2_pgtable_map_page()) ----------------- */

#define TMPL_CMO_DCACHE 1u /* s2_leaf_tmpl.cmo: clean+invalidate the D-cache to PoC first */
#define TMPL_CMO_ICACHE 2u /* invalidate the I-cache to PoU first */

int s2_pgtable_leaf_prepare(const struct s2_pgtable *pgt, uint64_t prot, struct s2_leaf_tmpl *t)
{
	s2_pte_t attr;
	int ret;

	if (!t)
		return S2_EINVAL;
	*t = (struct s2_leaf_tmpl){ .pgt = pgt, .prot = prot };
	if (!pgt)
		return S2_EINVAL;
	ret = prot_to_attr(pgt, prot, &attr);
	if (ret)
		return ret;
	/* What s2_pgtable_map()'s 4K fault path would build for @prot (without the OA), and the
	 * cache maintenance map_cmo() would issue for it (Normal WB memory: the prot says so). */
	if (pgt->geom.fast4k_ipa_limit && !(prot & ~MAP_FAST_PROT)) {
		t->leaf = map_page_leaf(pgt, prot, 0);
		t->cmo =
			(uint8_t)((!(prot & S2_PROT_NOCMO) && !pgt->cfg.fwb ? TMPL_CMO_DCACHE : 0) |
				  ((prot & S2_PROT_X) && !pgt->cfg.dic ? TMPL_CMO_ICACHE : 0));
	}
	return 0;
}

/* map_page_cmo() for a prepared 4K leaf: the maintenance decided at preparation, then the
 * one-page path. */
static S2_NOINLINE int map_page_tmpl_cmo(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf,
					 const struct s2_leaf_tmpl *t, uint64_t flags,
					 struct s2_page_cache *cache)
{
	unsigned int cmo = t->cmo;

	if (cmo & TMPL_CMO_DCACHE)
		pgt->port.ops->dcache_clean_inval_poc(pgt->port.ctx, s2_pa(leaf & OA_4K),
						      UINT64_C(1) << 12);
	if (cmo & TMPL_CMO_ICACHE)
		pgt->port.ops->icache_inval_pou(pgt->port.ctx, s2_pa(leaf & OA_4K),
						UINT64_C(1) << 12);
	return map_page_4k(pgt, ipa, leaf, flags, cache);
}

/* Everything but the prepared 4K page: s2_pgtable_map() with the template's prot. */
static S2_NOINLINE int map_page_tmpl_other(struct s2_pgtable *pgt, s2_ipa_t ipa, s2_pa_t pa,
					   const struct s2_leaf_tmpl *t, uint64_t flags,
					   struct s2_page_cache *cache)
{
	if (!pgt || !t)
		return S2_EINVAL;
	return s2_pgtable_map(pgt, ipa, gran_size(pgt), pa, t->prot, flags, cache);
}

int s2_pgtable_map_page(struct s2_pgtable *pgt, s2_ipa_t ipa_t, s2_pa_t pa_t,
			const struct s2_leaf_tmpl *t, uint64_t flags, struct s2_page_cache *cache)
{
	uint64_t ipa = s2_ipa_val(ipa_t), pa = s2_pa_val(pa_t);

	/* s2_pgtable_map()'s 4K fault path, the leaf already built (t->leaf is 0 unless the
	 * layout is the 4K fast one and the prot one that path takes). */
	if (S2_LIKELY(t && t->pgt == pgt && t->leaf && ipa < pgt->geom.fast4k_ipa_limit &&
		      pa < pgt->geom.pa_limit && !((ipa | pa) & 0xfff) &&
		      !(flags & ~(S2_MAP_NO_REPLACE | S2_MAP_SHARED)))) {
		if (S2_UNLIKELY(t->cmo))
			return map_page_tmpl_cmo(pgt, ipa, t->leaf | pa, t, flags, cache);
		return map_page_4k(pgt, ipa, t->leaf | pa, flags, cache);
	}
	return map_page_tmpl_other(pgt, ipa_t, pa_t, t, flags, cache);
}

/* ---- unmap and annotate: replace whole entries by @val (0 or an owner annotation) ------------ */

#define PEND_MAX 32

/*
 * An unmap or annotate: entries replaced by @val; work that must wait for the TLBI covering
 * them, in walk order: unlinked tables to free (and, without FWB, to clean), and runs of
 * physically contiguous Normal WB memory removed from the guest, to clean to the PoC.
 */
struct clear_ctx {
	struct s2_pgtable *pgt;
	s2_pte_t val;
	struct s2_page_cache *cache;
	struct flush fl;
	bool cmo; /* FWB off: removed Normal WB memory is cleaned */
	unsigned int npend;
	struct {
		s2_pte_t *table; /* an unlinked table, or NULL: a run to clean */
		int level;
		uint64_t pa, size;
	} pend[PEND_MAX];
};

/* Issue the collected TLBI, then clean the removed memory (one call per contiguous run, in
 * walk order) and free the tables unlinked before it. */
static void clear_flush(struct clear_ctx *c)
{
	struct cmo_run r = { 0, 0 };

	flush_do(c->pgt, &c->fl);
	for (unsigned int i = 0; i < c->npend; i++) {
		if (!c->pend[i].table) {
			cmo_run_add(c->pgt, &r, c->pend[i].pa, c->pend[i].size);
			continue;
		}
		if (c->cmo)
			cmo_tree(c->pgt, c->pend[i].table, c->pend[i].level, CMO_KEEP_NONE, &r);
		free_tree(c->pgt, c->pend[i].table, c->pend[i].level);
	}
	cmo_run_flush(c->pgt, &r);
	c->npend = 0;
}

/* [pa, pa + size) of Normal WB memory left the guest (its flush_add() done): clean it after
 * the TLBI. */
static S2_NOINLINE void clear_cmo(struct clear_ctx *c, uint64_t pa, uint64_t size)
{
	if (c->npend && !c->pend[c->npend - 1].table &&
	    c->pend[c->npend - 1].pa + c->pend[c->npend - 1].size == pa) {
		c->pend[c->npend - 1].size += size;
		return;
	}
	if (c->npend == PEND_MAX)
		clear_flush(c);
	c->pend[c->npend].table = NULL;
	c->pend[c->npend].pa = pa;
	c->pend[c->npend].size = size;
	c->npend++;
}

/* A table was unlinked from the entry covering [ipa, ipa + size): free it after the TLBI. */
static void clear_detach(struct clear_ctx *c, s2_pte_t *table, int level, uint64_t ipa,
			 uint64_t size, bool priv)
{
	if (priv) {
		/* Pieces of a block: clear_descend_new() cleans what left the guest. */
		free_tree(c->pgt, table, level);
		return;
	}
	if (c->npend == PEND_MAX)
		clear_flush(c);
	c->pend[c->npend].table = table;
	c->pend[c->npend].level = level;
	c->npend++;
	flush_add(&c->fl, ipa, size, -2);
	c->fl.tables = true;
}

static int clear_range(struct clear_ctx *c, s2_pte_t *table, int level, uint64_t ipa, uint64_t end,
		       bool priv);

static int clear_descend_new(struct clear_ctx *c, s2_pte_t *ptep, int level, uint64_t ipa,
			     uint64_t stop, s2_pte_t old, bool priv, int32_t *delta)
{
	struct s2_pgtable *pgt = c->pgt;
	uint64_t size = lvl_size(pgt, level), base = S2_ALIGN_DOWN(ipa, size);
	s2_pte_t *child = table_alloc(pgt, c->cache, false);
	int ret;

	if (!child)
		return S2_ENOMEM;
	if (old)
		table_fill_from(pgt, child, level, old);
	ret = clear_range(c, child, level + 1, ipa, stop, true);
	if (!s2_atomic_load32(table_rc(pgt, child))) {
		/* Nothing left below: the entry itself becomes empty. */
		table_unused(pgt, c->cache, child);
		if (old) {
			s2_atomic_store64(ptep, 0);
			(*delta)--;
			if ((old & S2_PTE_VALID) && !priv) {
				flush_add(&c->fl, base, size, level);
				if (c->cmo && pte_needs_cmo(pgt, old))
					clear_cmo(c, pte_oa(pgt, old), size);
			}
		}
		return ret;
	}
	if ((old & S2_PTE_VALID) && !priv) {
		s2_atomic_store64(ptep, 0);
		tlbi_one(pgt, base, level);
	}
	s2_atomic_store64_release(ptep, table_desc(pgt, child));
	if (c->cmo && !priv && pte_needs_cmo(pgt, old)) {
		/* The block's part [ipa, stop) left the guest (invalidated above); after a
		 * failed allocation, what the private table no longer maps as before. */
		if (!ret) {
			clear_cmo(c, pte_oa(pgt, old) + (ipa - base), stop - ipa);
		} else {
			struct cmo_run r = { 0, 0 };
			cmo_block_lost(pgt, child, level + 1, pte_oa(pgt, old), &r);
			cmo_run_flush(pgt, &r);
		}
	}
	if (!old)
		(*delta)++;
	return ret;
}

static int clear_range(struct clear_ctx *c, s2_pte_t *table, int level, uint64_t ipa, uint64_t end,
		       bool priv)
{
	struct s2_pgtable *pgt = c->pgt;
	uint64_t size = lvl_size(pgt, level);
	s2_pte_t *ptep = table + lvl_idx(pgt, level, ipa);
	s2_pte_t val = c->val;
	int32_t delta = 0;
	int ret = 0;

	for (; ipa < end; ipa = S2_MIN((ipa | (size - 1)) + 1, end), ptep++) {
		uint64_t next = (ipa | (size - 1)) + 1;
		s2_pte_t old = s2_atomic_load64(ptep);

		if (old == val)
			continue;
		if (!(ipa & (size - 1)) && next <= end) {
			/* The whole entry goes. */
			s2_atomic_store64(ptep, val);
			delta += (val != 0) - (old != 0);
			if (pte_is_table(old, level)) {
				clear_detach(c, pte_table(pgt, old), level + 1, ipa, size, priv);
			} else if ((old & S2_PTE_VALID) && !priv) {
				flush_add(&c->fl, ipa, size, level);
				if (S2_UNLIKELY(c->cmo) && pte_needs_cmo(pgt, old))
					clear_cmo(c, pte_oa(pgt, old), size);
			}
			continue;
		}
		if (pte_is_table(old, level)) {
			s2_pte_t *child = pte_table(pgt, old);
			ret = clear_range(c, child, level + 1, ipa, S2_MIN(next, end), priv);
			if (!s2_atomic_load32(table_rc(pgt, child))) {
				s2_atomic_store64(ptep, 0);
				delta--;
				clear_detach(c, child, level + 1, S2_ALIGN_DOWN(ipa, size), size,
					     priv);
			}
		} else {
			if (!old && !val)
				continue;
			/* Split the block or annotation (or build a table for an annotation). */
			ret = clear_descend_new(c, ptep, level, ipa, S2_MIN(next, end), old, priv,
						&delta);
		}
		if (ret)
			break;
	}
	rc_add(pgt, table, level, delta);
	return ret;
}

static int clear_top(struct s2_pgtable *pgt, uint64_t ipa, uint64_t size, s2_pte_t val,
		     struct s2_page_cache *cache)
{
	struct clear_ctx c;
	int ret;

	/* Field by field: a zero-initialiser of the whole (large) struct would call memset. */
	c.pgt = pgt;
	c.val = val;
	c.cache = cache;
	c.fl.n = 0;
	c.fl.tables = false;
	c.cmo = !pgt->cfg.fwb;
	c.npend = 0;
	ret = clear_range(&c, pgt->root, pgt->geom.start_level, ipa, ipa + size, false);

	clear_flush(&c);
	return ret;
}

/*
 * clear_top() of one 4K page whose level-3 entry exists (the common case of a per-page unmap or
 * donation once the edges are split), in the 4K fast layout with FWB: replace the entry by
 * @val, count it in its table, invalidate it by IPA with its level if it was valid. Returns
 * whether it did it; false leaves everything untouched for clear_top(): a block or a missing
 * table on the way, a last entry whose removal empties the table (clear_range() unlinks and
 * frees it), and without FWB (removed memory is cleaned).
 */
static S2_ALWAYS_INLINE bool clear_page_4k(struct s2_pgtable *pgt, uint64_t ipa, uint64_t size,
					   s2_pte_t val)
{
	struct descent d;
	uint32_t *rc;

	if (!(size == (UINT64_C(1) << 12) && ipa < pgt->geom.fast4k_ipa_limit && pgt->cfg.fwb))
		return false;
	if (!descend_4k(pgt, ipa, &d, -1))
		return false;
	if (d.pte == val)
		return true;
	rc = table_rc(pgt, d.table);
	if (!val && s2_atomic_load32(rc) <= 1)
		return false;
	s2_atomic_store64(d.ptep, val);
	if (!d.pte)
		s2_atomic_add32(rc, 1);
	else if (!val)
		s2_atomic_add32(rc, -1);
	if (d.pte & S2_PTE_VALID)
		tlbi_one_inline(pgt, ipa, 3);
	return true;
}

int s2_pgtable_unmap(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size,
		     struct s2_page_cache *cache)
{
	int ret = check_range(pgt, s2_ipa_val(ipa), size);

	if (ret)
		return ret;
	if (clear_page_4k(pgt, s2_ipa_val(ipa), size, 0))
		return 0;
	return clear_top(pgt, s2_ipa_val(ipa), size, 0, cache);
}

int s2_pgtable_annotate(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size, uint8_t owner,
			struct s2_page_cache *cache)
{
	int ret = check_range(pgt, s2_ipa_val(ipa), size);
	s2_pte_t val;

	if (ret)
		return ret;
	if (!owner)
		return S2_EINVAL;
	val = S2_FIELD_PREP(S2_PTE_INVALID_OWNER, owner);
	if (clear_page_4k(pgt, s2_ipa_val(ipa), size, val))
		return 0;
	return clear_top(pgt, s2_ipa_val(ipa), size, val, cache);
}

/* ---- permission changes over a range --------------------------------------------------------- */

struct attr_ctx {
	struct s2_pgtable *pgt;
	s2_pte_t set, clr;
	bool cas; /* hardware may update AF/dirty concurrently: read-modify-write with CAS */
	bool restricts; /* the change can remove or grant a permission: invalidate what changed */
	struct flush fl;
};

static S2_ALWAYS_INLINE s2_pte_t leaf_update(struct attr_ctx *c, s2_pte_t *ptep, s2_pte_t pte)
{
	s2_pte_t new = (pte & ~c->clr) | c->set;

	if (new == pte)
		return pte;
	if (!c->cas) {
		s2_atomic_store64(ptep, new);
		return pte;
	}
	while (!s2_atomic_cas64(ptep, &pte, new))
		new = (pte & ~c->clr) | c->set;
	return pte;
}

static void attr_range(struct attr_ctx *c, s2_pte_t *table, int level, uint64_t ipa, uint64_t end)
{
	struct s2_pgtable *pgt = c->pgt;
	uint64_t size = lvl_size(pgt, level);
	s2_pte_t *ptep = table + lvl_idx(pgt, level, ipa);
	uint64_t first = 0, last = 0;
	bool changed = false;

	if (level == 3) {
		/* Pages: the tight loop (the first change found apart, so the main loop only
		 * remembers the last). */
		s2_pte_t *p = ptep, *stop_p = ptep + ((end - ipa) >> pgt->geom.page_shift);
		s2_pte_t *first_p = NULL, *last_p = NULL;
		const s2_pte_t set = c->set, nclr = ~c->clr;
		if (S2_LIKELY(!c->cas)) {
			for (; p < stop_p; p++) {
				s2_pte_t pte = s2_atomic_load64(p), new = (pte & nclr) | set;
				if (!(pte & S2_PTE_VALID) || new == pte)
					continue;
				s2_atomic_store64(p, new);
				first_p = last_p = p++;
				break;
			}
			for (; p < stop_p; p++) {
				s2_pte_t pte = s2_atomic_load64(p), new = (pte & nclr) | set;
				if (!(pte & S2_PTE_VALID) || new == pte)
					continue;
				s2_atomic_store64(p, new);
				last_p = p;
			}
		} else {
			for (; p < stop_p; p++) {
				s2_pte_t pte = s2_atomic_load64(p), new = (pte & nclr) | set;
				if (!(pte & S2_PTE_VALID) || new == pte)
					continue;
				leaf_update(c, p, pte);
				if (!first_p)
					first_p = p;
				last_p = p;
			}
		}
		if (first_p && c->restricts)
			flush_add(&c->fl, ipa + (uint64_t)(first_p - ptep) * size,
				  (uint64_t)(last_p - first_p + 1) * size, 3);
		return;
	} else {
		for (; ipa < end; ptep++) {
			uint64_t base = S2_ALIGN_DOWN(ipa, size), stop = S2_MIN(base + size, end);
			s2_pte_t pte = s2_atomic_load64(ptep);
			if (pte_is_table(pte, level)) {
				attr_range(c, pte_table(pgt, pte), level + 1, ipa, stop);
			} else if ((pte & S2_PTE_VALID) && ((pte & ~c->clr) | c->set) != pte) {
				leaf_update(c, ptep, pte);
				if (c->restricts) {
					if (!changed)
						first = base;
					last = base;
					changed = true;
				}
			}
			ipa = stop;
		}
	}
	if (changed)
		flush_add(&c->fl, first, last - first + size, level);
}

static int attr_top(struct s2_pgtable *pgt, uint64_t ipa, uint64_t size, s2_pte_t set, s2_pte_t clr)
{
	struct attr_ctx c = {
		.pgt = pgt,
		.set = set,
		.clr = clr,
		.cas = pgt->cfg.ha || pgt->cfg.hd,
		.restricts =
			((clr | set) & (S2_PTE_S2AP | S2_PTE_DBM | S2_PTE_XN)) || (clr & S2_PTE_AF),
	};

	attr_range(&c, pgt->root, pgt->geom.start_level, ipa, ipa + size);
	flush_do(pgt, &c.fl);
	return 0;
}

int s2_pgtable_wrprotect(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size)
{
	int ret = check_range(pgt, s2_ipa_val(ipa), size);

	if (ret)
		return ret;
	return attr_top(pgt, s2_ipa_val(ipa), size, 0, S2_PTE_S2AP_W | S2_PTE_DBM);
}

int s2_pgtable_set_prot(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size, uint64_t set,
			uint64_t clear)
{
	const uint64_t allowed = S2_PROT_RWX | S2_PROT_SW_MASK;
	s2_pte_t pset = 0, pclr = 0;
	int ret = check_range(pgt, s2_ipa_val(ipa), size);

	if (ret)
		return ret;
	if (set & S2_PROT_DBM) {
		/* Writable-clean: DBM with W cleared in the same pass (needs HD, as for map). */
		if (!pgt->cfg.hd || (set & S2_PROT_W) || !(clear & S2_PROT_W))
			return S2_EINVAL;
		set &= ~(uint64_t)S2_PROT_DBM;
		pset |= S2_PTE_DBM;
	}
	if ((set | clear) & ~allowed || (set & clear))
		return S2_EINVAL;
	if (set & S2_PROT_X) {
		ret = s2_pgtable_walk(pgt, ipa, size, S2_WALK_LEAF | S2_WALK_SKIP_EMPTY,
				      visit_find_noexec, NULL);
		if (ret)
			return ret;
	}
	if (set & S2_PROT_R)
		pset |= S2_PTE_S2AP_R;
	if (set & S2_PROT_W)
		pset |= S2_PTE_S2AP_W;
	if (set & S2_PROT_X)
		pclr |= S2_PTE_XN;
	pset |= S2_FIELD_PREP(S2_PTE_SW, (set & S2_PROT_SW_MASK) >> S2_PROT_SW_SHIFT);
	if (clear & S2_PROT_R)
		pclr |= S2_PTE_S2AP_R;
	if (clear & S2_PROT_W)
		pclr |= S2_PTE_S2AP_W | S2_PTE_DBM; /* DBM would let hardware grant W again */
	/* (With S2_PROT_DBM in @set, pset holds DBM: (pte & ~pclr) | pset keeps it.) */
	if (clear & S2_PROT_X) {
		pclr |= S2_PTE_XN;
		pset |= S2_FIELD_PREP(S2_PTE_XN, S2_XN_ALL);
	}
	pclr |= S2_FIELD_PREP(S2_PTE_SW, (clear & S2_PROT_SW_MASK) >> S2_PROT_SW_SHIFT);
	if ((set & S2_PROT_X) && !pgt->cfg.dic) {
		/* Newly executable memory: invalidate the I-cache for every leaf that gains
		 * exec, whole: a block only partly inside the range becomes executable in full
		 * (Arm ARM D8.4: XN applies to the whole block). One call per physically
		 * contiguous run. */
		struct s2_lookup l;
		uint64_t a = s2_ipa_val(ipa), end = a + size, run_pa = 0, run_len = 0;
		while (a < end) {
			uint64_t base, step;
			s2_pgtable_lookup(pgt, s2_ipa(a), &l);
			base = S2_ALIGN_DOWN(a, l.size);
			step = S2_MIN(base + l.size, end) - a;
			if (l.valid && (l.pte & S2_PTE_XN)) {
				uint64_t leaf_pa = s2_pa_val(l.pa) - (a - base);
				if (run_len && leaf_pa == run_pa + run_len) {
					run_len += l.size;
				} else {
					if (run_len)
						pgt->port.ops->icache_inval_pou(
							pgt->port.ctx, s2_pa(run_pa), run_len);
					run_pa = leaf_pa;
					run_len = l.size;
				}
			}
			a += step;
		}
		if (run_len)
			pgt->port.ops->icache_inval_pou(pgt->port.ctx, s2_pa(run_pa), run_len);
	}
	return attr_top(pgt, s2_ipa_val(ipa), size, pset, pclr);
}

/* ---- access flag over a range ----------------------------------------------------------------- */

struct young_ctx {
	struct s2_pgtable *pgt;
	bool clear;
	bool cas;
	uint64_t young; /* granule-sized pages */
};

static void young_range(struct young_ctx *c, s2_pte_t *table, int level, uint64_t ipa, uint64_t end)
{
	struct s2_pgtable *pgt = c->pgt;
	uint64_t size = lvl_size(pgt, level);
	s2_pte_t *ptep = table + lvl_idx(pgt, level, ipa);

	if (level == 3) {
		s2_pte_t *stop_p = ptep + ((end - ipa) >> pgt->geom.page_shift);
		const s2_pte_t va = S2_PTE_VALID | S2_PTE_AF;
		uint64_t young = 0;
		if (!c->clear) {
			for (; ptep < stop_p; ptep++)
				young += (s2_atomic_load64(ptep) & va) == va;
		} else if (S2_LIKELY(!c->cas)) {
			/* No hardware updates: a plain store clears AF. */
			for (; ptep < stop_p; ptep++) {
				s2_pte_t pte = s2_atomic_load64(ptep);
				if ((pte & va) != va)
					continue;
				s2_atomic_store64(ptep, pte & ~S2_PTE_AF);
				young++;
			}
		} else {
			for (; ptep < stop_p; ptep++) {
				s2_pte_t pte = s2_atomic_load64(ptep);
				if ((pte & va) != va)
					continue;
				while (!s2_atomic_cas64(ptep, &pte, pte & ~S2_PTE_AF))
					;
				young++;
			}
		}
		c->young += young;
		return;
	}
	for (; ipa < end; ptep++) {
		uint64_t base = S2_ALIGN_DOWN(ipa, size), stop = S2_MIN(base + size, end);
		s2_pte_t pte = s2_atomic_load64(ptep);
		if (pte_is_table(pte, level)) {
			young_range(c, pte_table(pgt, pte), level + 1, ipa, stop);
		} else if ((pte & (S2_PTE_VALID | S2_PTE_AF)) == (S2_PTE_VALID | S2_PTE_AF)) {
			c->young += (stop - ipa) >> pgt->geom.page_shift;
			if (c->clear) {
				if (!c->cas)
					s2_atomic_store64(ptep, pte & ~S2_PTE_AF);
				else
					while (!s2_atomic_cas64(ptep, &pte, pte & ~S2_PTE_AF))
						;
			}
		}
		ipa = stop;
	}
}

int s2_pgtable_test_clear_young(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size, bool clear,
				uint64_t *young)
{
	struct young_ctx c = { .pgt = pgt, .clear = clear };
	int ret = check_range(pgt, s2_ipa_val(ipa), size);

	if (ret)
		return ret;
	c.cas = pgt->cfg.ha || pgt->cfg.hd;
	young_range(&c, pgt->root, pgt->geom.start_level, s2_ipa_val(ipa), s2_ipa_val(ipa) + size);
	if (young)
		*young = c.young;
	return 0;
}

void s2_pgtable_flush_range(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size)
{
	if (!pgt || !size)
		return;
	tlbi_span(pgt, s2_ipa_val(ipa), size);
}

/* ---- single-entry operations on an existing leaf ---------------------------------------------- */

static S2_ALWAYS_INLINE int lookup_impl(const struct s2_pgtable *pgt, uint64_t ipa,
					struct s2_lookup *out, const bool hi, const bool linear,
					const int k4)
{
	struct descent d;
	uint64_t size;
	s2_pte_t pte;

	if (k4 != K4_OFF && S2_LIKELY(descend_4k(pgt, ipa, &d, k4))) {
		/* A level-3 entry: a page when bits [1:0] are 0b11 (0b01 is reserved there). */
		pte = d.pte;
		out->pte = pte;
		out->level = 3;
		out->size = UINT64_C(1) << 12;
		out->valid = pte_is_table_or_page(pte);
		out->pa = s2_pa(out->valid ? (pte & OA_4K) | (ipa & 0xfff) : 0);
		return 0;
	}
	if (k4 == K4_OFF)
		descend_impl(pgt, ipa, 3, &d, hi, linear);
	pte = d.pte;
	size = UINT64_C(1) << d.shift;
	out->pte = pte;
	out->level = d.level;
	out->size = size;
	/* A valid page at level 3, a valid block where blocks are legal (else: a fault). */
	out->valid = (pte & S2_PTE_VALID) &&
		     (d.level == 3 ? (pte & S2_PTE_TYPE) != 0 : level_has_blocks(pgt, d.level));
	out->pa = s2_pa(out->valid ? pte_oa_t(pgt, pte, hi) + (ipa & (size - 1)) : 0);
	return 0;
}

/*
 * The 4K layout with start level 0 or 2 (1 is inline in the caller): a function of its own,
 * so that it saves no registers, with the start level a constant in each branch.
 */
static S2_NOINLINE int lookup_4k_any(const struct s2_pgtable *pgt, uint64_t ipa,
				     struct s2_lookup *out)
{
	if (pgt->geom.start_level == 0)
		return lookup_impl(pgt, ipa, out, false, true, 0);
	return lookup_impl(pgt, ipa, out, false, true, 2);
}

/* Every layout but the 4K one, and the range check. */
/* The other layouts of geom.fast (16K, 64K): a leaf function too. */
static S2_NOINLINE int lookup_fast(const struct s2_pgtable *pgt, uint64_t ipa,
				   struct s2_lookup *out)
{
	return lookup_impl(pgt, ipa, out, false, true, K4_OFF);
}

static S2_NOINLINE int lookup_slow(const struct s2_pgtable *pgt, uint64_t ipa,
				   struct s2_lookup *out)
{
	if (ipa >= pgt->geom.ipa_limit)
		return S2_ERANGE;
	if (pgt->geom.fast)
		return lookup_fast(pgt, ipa, out);
	if (pgt->port.linear)
		return lookup_impl(pgt, ipa, out, true, true, K4_OFF);
	return lookup_impl(pgt, ipa, out, true, false, K4_OFF);
}

int s2_pgtable_lookup(const struct s2_pgtable *pgt, s2_ipa_t ipa_t, struct s2_lookup *out)
{
	uint64_t ipa = s2_ipa_val(ipa_t);

	if (S2_UNLIKELY(!pgt || !out))
		return S2_EINVAL;
	if (S2_LIKELY(ipa < pgt->geom.fast4k_l1_ipa_limit))
		return lookup_impl(pgt, ipa, out, false, true, 1);
	if (ipa < pgt->geom.fast4k_ipa_limit)
		return lookup_4k_any(pgt, ipa, out);
	if (pgt->geom.fast && ipa < pgt->geom.ipa_limit)
		return lookup_fast(pgt, ipa, out);
	return lookup_slow(pgt, ipa, out);
}

/* What relax_perms sets: R/W (flag bits 1:0) -> S2AP (7:6), and the access flag. */
static S2_ALWAYS_INLINE s2_pte_t relax_set(uint64_t prot)
{
	return S2_PTE_AF | ((prot & (S2_PROT_R | S2_PROT_W)) << 6);
}

/*
 * The leaf part of relax_perms, entry @ptep (mapping 1 << @shift bytes): @pte is the value the
 * descent found (then @orig == @pte) or the one a lost compare-and-swap returned (@orig: the
 * value first found).
 */
static S2_ALWAYS_INLINE int relax_leaf_update(struct s2_pgtable *pgt, s2_pte_t *ptep, s2_pte_t orig,
					      s2_pte_t pte, unsigned int shift, uint64_t prot,
					      const bool hi)
{
	s2_pte_t set = relax_set(prot);
	s2_pte_t clr = (prot & S2_PROT_X) ? S2_PTE_XN : 0, new;

	if (pte == orig) {
		if (S2_UNLIKELY(!(pte & S2_PTE_VALID)))
			return pte == PTE_LOCKED ? S2_EAGAIN : S2_ENOENT;
		if (S2_UNLIKELY(pte & clr)) {
			if (memattr_noexec(pte_memattr(pte)))
				return S2_EMEMTYPE;
			/* Exec granted: the I-cache must not hold stale instructions for it. */
			if (!pgt->cfg.dic)
				pgt->port.ops->icache_inval_pou(pgt->port.ctx,
								s2_pa(pte_oa_t(pgt, pte, hi)),
								UINT64_C(1) << shift);
		}
	}
	for (;;) {
		/* After a lost CAS: hardware AF/dirty updates only: try again; else back off. */
		if (pte != orig && (!(pte & S2_PTE_VALID) || ((pte ^ orig) & ~PTE_INPLACE_BITS)))
			return S2_EAGAIN;
		new = (pte & ~clr) | set;
		if (new == pte)
			return 0;
		if (S2_LIKELY(s2_atomic_cas64(ptep, &pte, new)))
			return 0;
	}
}

/*
 * relax_leaf_update(), then the local TLBI for @ipa in every outcome where KVM's
 * kvm_pgtable_stage2_relax_perms() issues it: done (changed or not: the spurious fault of a
 * CPU whose TLB holds the old entry; level @level) or raced / found nothing valid (KVM's
 * -EAGAIN: no level hint). Not for S2_EMEMTYPE (nothing was granted).
 */
static S2_ALWAYS_INLINE int relax_leaf(struct s2_pgtable *pgt, s2_pte_t *ptep, s2_pte_t orig,
				       s2_pte_t pte, unsigned int shift, uint64_t prot,
				       const bool hi, uint64_t ipa, int level)
{
	int ret = relax_leaf_update(pgt, ptep, orig, pte, shift, prot, hi);

	if (ret != S2_EMEMTYPE)
		tlbi_local(pgt, ipa, ret ? -2 : level);
	return ret;
}

/* relax_leaf() for layouts with the OA in place. */
static S2_NOINLINE int relax_leaf_lo(struct s2_pgtable *pgt, s2_pte_t *ptep, s2_pte_t orig,
				     s2_pte_t pte, unsigned int shift, uint64_t prot, uint64_t ipa,
				     int level)
{
	return relax_leaf(pgt, ptep, orig, pte, shift, prot, false, ipa, level);
}

/*
 * A layout of geom.fast (@k4: the 4K start level 0..2, or K4_OFF for descend_impl()), inline
 * for a valid leaf that needs no exec granted (relax_leaf() with clr 0); the rest, and a lost
 * CAS, in relax_leaf_lo().
 */
static S2_ALWAYS_INLINE int relax_fast_impl(struct s2_pgtable *pgt, uint64_t ipa, uint64_t prot,
					    const int k4)
{
	struct descent d;
	s2_pte_t pte, new;

	descend(pgt, ipa, 3, &d, false, true, k4);
	pte = d.pte;
	if (S2_LIKELY((pte & S2_PTE_VALID) && !((prot & S2_PROT_X) && (pte & S2_PTE_XN)))) {
		new = pte | relax_set(prot);
		/* Changed or not, the local TLBI (see relax_leaf()). */
		if (S2_LIKELY(new == pte || s2_atomic_cas64(d.ptep, &pte, new))) {
			tlbi_local(pgt, ipa, d.level);
			return 0;
		}
	}
	return relax_leaf_lo(pgt, d.ptep, d.pte, pte, d.shift, prot, ipa, d.level);
}

static S2_ALWAYS_INLINE int relax_impl(struct s2_pgtable *pgt, uint64_t ipa, uint64_t prot,
				       const bool hi, const bool linear)
{
	struct descent d;

	descend_impl(pgt, ipa, 3, &d, hi, linear);
	return relax_leaf(pgt, d.ptep, d.pte, d.pte, d.shift, prot, hi, ipa, d.level);
}

/* As lookup_4k_any(). */
static S2_NOINLINE int relax_4k_any(struct s2_pgtable *pgt, uint64_t ipa, uint64_t prot)
{
	if (pgt->geom.start_level == 0)
		return relax_fast_impl(pgt, ipa, prot, 0);
	return relax_fast_impl(pgt, ipa, prot, 2);
}

/* The other layouts of geom.fast (16K, 64K). */
static S2_NOINLINE int relax_fast(struct s2_pgtable *pgt, uint64_t ipa, uint64_t prot)
{
	return relax_fast_impl(pgt, ipa, prot, K4_OFF);
}

static S2_NOINLINE int relax_slow(struct s2_pgtable *pgt, uint64_t ipa, uint64_t prot)
{
	if (ipa >= pgt->geom.ipa_limit)
		return S2_ERANGE;
	if (pgt->geom.fast)
		return relax_fast(pgt, ipa, prot);
	if (pgt->port.linear)
		return relax_impl(pgt, ipa, prot, true, true);
	return relax_impl(pgt, ipa, prot, true, false);
}

int s2_pgtable_relax_perms(struct s2_pgtable *pgt, s2_ipa_t ipa_t, uint64_t prot)
{
	uint64_t ipa = s2_ipa_val(ipa_t);

	if (S2_UNLIKELY(!pgt || (prot & ~S2_PROT_RWX)))
		return S2_EINVAL;
	if (S2_LIKELY(ipa < pgt->geom.fast4k_l1_ipa_limit))
		return relax_fast_impl(pgt, ipa, prot, 1);
	if (ipa < pgt->geom.fast4k_ipa_limit)
		return relax_4k_any(pgt, ipa, prot);
	if (pgt->geom.fast && ipa < pgt->geom.ipa_limit)
		return relax_fast(pgt, ipa, prot);
	return relax_slow(pgt, ipa, prot);
}

static S2_ALWAYS_INLINE int mkyoung_impl(struct s2_pgtable *pgt, uint64_t ipa, const bool hi,
					 const bool linear, const int k4)
{
	struct descent d;
	s2_pte_t pte, orig;

	descend(pgt, ipa, 3, &d, hi, linear, k4);
	pte = orig = d.pte;
	for (;;) {
		if (S2_UNLIKELY(!(pte & S2_PTE_VALID)))
			return pte == PTE_LOCKED ? S2_EAGAIN : S2_ENOENT;
		if (pte & S2_PTE_AF)
			return 0;
		if (S2_LIKELY(s2_atomic_cas64(d.ptep, &pte, pte | S2_PTE_AF)))
			return 0;
		if ((pte ^ orig) & ~PTE_INPLACE_BITS)
			return S2_EAGAIN;
	}
}

/* As lookup_4k_any(). */
static S2_NOINLINE int mkyoung_4k_any(struct s2_pgtable *pgt, uint64_t ipa)
{
	if (pgt->geom.start_level == 0)
		return mkyoung_impl(pgt, ipa, false, true, 0);
	return mkyoung_impl(pgt, ipa, false, true, 2);
}

/* The other layouts of geom.fast (16K, 64K). */
static S2_NOINLINE int mkyoung_fast(struct s2_pgtable *pgt, uint64_t ipa)
{
	return mkyoung_impl(pgt, ipa, false, true, K4_OFF);
}

static S2_NOINLINE int mkyoung_slow(struct s2_pgtable *pgt, uint64_t ipa)
{
	if (ipa >= pgt->geom.ipa_limit)
		return S2_ERANGE;
	if (pgt->geom.fast)
		return mkyoung_fast(pgt, ipa);
	if (pgt->port.linear)
		return mkyoung_impl(pgt, ipa, true, true, K4_OFF);
	return mkyoung_impl(pgt, ipa, true, false, K4_OFF);
}

int s2_pgtable_mkyoung(struct s2_pgtable *pgt, s2_ipa_t ipa_t)
{
	uint64_t ipa = s2_ipa_val(ipa_t);

	if (S2_UNLIKELY(!pgt))
		return S2_EINVAL;
	if (S2_LIKELY(ipa < pgt->geom.fast4k_l1_ipa_limit))
		return mkyoung_impl(pgt, ipa, false, true, 1);
	if (ipa < pgt->geom.fast4k_ipa_limit)
		return mkyoung_4k_any(pgt, ipa);
	if (pgt->geom.fast && ipa < pgt->geom.ipa_limit)
		return mkyoung_fast(pgt, ipa);
	return mkyoung_slow(pgt, ipa);
}

/* ---- relax_lookup: lookup and relax_perms in one descent ------------------------------------- */

/* The two calls: a leaf above level 3, a missing table, the layouts but 4K from level 1. */
static S2_NOINLINE int relax_lookup_other(struct s2_pgtable *pgt, uint64_t ipa, uint64_t prot,
					  struct s2_lookup *old)
{
	int ret = s2_pgtable_lookup(pgt, s2_ipa(ipa), old);

	if (ret || !old->valid)
		return ret;
	return s2_pgtable_relax_perms(pgt, s2_ipa(ipa & ~(gran_size(pgt) - 1)), prot);
}

/*
 * The 4K layout from level 1, a level-3 entry: what lookup_impl() reports, then for a valid page
 * what relax_fast_impl() does (its inline case, else relax_leaf_lo()).
 */
static S2_ALWAYS_INLINE int relax_lookup_4k(struct s2_pgtable *pgt, uint64_t ipa, uint64_t prot,
					    struct s2_lookup *old)
{
	uint64_t page = ipa & ~(uint64_t)0xfff;
	struct descent d;
	s2_pte_t pte, new;

	if (S2_UNLIKELY(!descend_4k(pgt, ipa, &d, 1)))
		return relax_lookup_other(pgt, ipa, prot, old);
	pte = d.pte;
	old->pte = pte;
	old->level = 3;
	old->size = UINT64_C(1) << 12;
	old->valid = pte_is_table_or_page(pte);
	old->pa = s2_pa(old->valid ? (pte & OA_4K) | (ipa & 0xfff) : 0);
	if (!old->valid)
		return 0;
	if (S2_LIKELY(!((prot & S2_PROT_X) && (pte & S2_PTE_XN)))) {
		new = pte | relax_set(prot);
		if (S2_LIKELY(new == pte || s2_atomic_cas64(d.ptep, &pte, new))) {
			tlbi_local(pgt, page, 3);
			return 0;
		}
	}
	return relax_leaf_lo(pgt, d.ptep, d.pte, pte, 12, prot, page, 3);
}

int s2_pgtable_relax_lookup(struct s2_pgtable *pgt, s2_ipa_t ipa_t, uint64_t prot,
			    struct s2_lookup *old)
{
	uint64_t ipa = s2_ipa_val(ipa_t);

	if (S2_UNLIKELY(!pgt || !old || (prot & ~S2_PROT_RWX)))
		return S2_EINVAL;
	if (S2_LIKELY(ipa < pgt->geom.fast4k_l1_ipa_limit))
		return relax_lookup_4k(pgt, ipa, prot, old);
	return relax_lookup_other(pgt, ipa, prot, old);
}

/* ---- split and collapse ----------------------------------------------------------------------- */

static int split_range(struct s2_pgtable *pgt, struct s2_page_cache *cache, s2_pte_t *table,
		       int level, uint64_t ipa, uint64_t end)
{
	uint64_t size = lvl_size(pgt, level);
	s2_pte_t *ptep = table + lvl_idx(pgt, level, ipa);
	int ret;

	for (; ipa < end; ptep++) {
		uint64_t base = S2_ALIGN_DOWN(ipa, size), stop = S2_MIN(base + size, end);
		s2_pte_t pte = s2_atomic_load64(ptep);
		s2_pte_t *child;

		if (pte_is_table(pte, level)) {
			ret = split_range(pgt, cache, pte_table(pgt, pte), level + 1, ipa, stop);
			if (ret)
				return ret;
		} else if ((pte & S2_PTE_VALID) && level < 3) {
			child = table_alloc(pgt, cache, true);
			if (!child)
				return S2_ENOMEM;
			table_fill_from(pgt, child, level, pte);
			/* Block -> table: break-before-make (FEAT_BBM level 2 is not assumed). */
			s2_atomic_store64(ptep, 0);
			tlbi_one(pgt, base, level);
			s2_atomic_store64_release(ptep, table_desc(pgt, child));
			if (level + 1 < 3) {
				ret = split_range(pgt, cache, child, level + 1, ipa, stop);
				if (ret)
					return ret;
			}
		}
		ipa = stop;
	}
	return 0;
}

int s2_pgtable_split(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size,
		     struct s2_page_cache *cache)
{
	int ret = check_range(pgt, s2_ipa_val(ipa), size);

	if (ret)
		return ret;
	if (!cache)
		return S2_EINVAL;
	ret = split_range(pgt, cache, pgt->root, pgt->geom.start_level, s2_ipa_val(ipa),
			  s2_ipa_val(ipa) + size);
	return ret;
}

/* Whether the table at @clevel maps one aligned, contiguous run with identical attributes;
 * if so, *@block is the block descriptor for the level above. */
static bool table_uniform(const struct s2_pgtable *pgt, s2_pte_t *child, int clevel,
			  s2_pte_t *block)
{
	uint64_t n = table_entries(pgt), csize = lvl_size(pgt, clevel);
	s2_pte_t first = s2_atomic_load64(&child[0]);
	s2_pte_t attr;
	uint64_t oa;

	if (!(first & S2_PTE_VALID) || pte_is_table(first, clevel) ||
	    (clevel == 3 && !(first & S2_PTE_TYPE)))
		return false;
	oa = pte_oa(pgt, first);
	if (oa & (lvl_size(pgt, clevel - 1) - 1))
		return false;
	attr = first & ~pte_oa_mask(pgt);
	for (uint64_t i = 1; i < n; i++)
		if (s2_atomic_load64(&child[i]) != (attr | oa_bits(pgt, oa + i * csize)))
			return false;
	*block = (attr & ~DESC_TYPE_MASK) | DESC_BLOCK | oa_bits(pgt, oa);
	return true;
}

static unsigned int collapse_range(struct s2_pgtable *pgt, s2_pte_t *table, int level, uint64_t ipa,
				   uint64_t end)
{
	uint64_t size = lvl_size(pgt, level);
	s2_pte_t *ptep = table + lvl_idx(pgt, level, ipa);
	unsigned int n = 0;

	for (; ipa < end; ptep++) {
		uint64_t base = S2_ALIGN_DOWN(ipa, size), stop = S2_MIN(base + size, end);
		s2_pte_t pte = s2_atomic_load64(ptep), block;
		s2_pte_t *child;

		if (pte_is_table(pte, level)) {
			child = pte_table(pgt, pte);
			n += collapse_range(pgt, child, level + 1, ipa, stop);
			if (ipa == base && stop == base + size && level_has_blocks(pgt, level) &&
			    table_uniform(pgt, child, level + 1, &block)) {
				/* Table -> block: break-before-make, then free the table. */
				s2_atomic_store64(ptep, 0);
				tlbi_span(pgt, base, size);
				s2_atomic_store64_release(ptep, block);
				free_tree(pgt, child, level + 1);
				n++;
			}
		}
		ipa = stop;
	}
	return n;
}

int s2_pgtable_collapse(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size,
			unsigned int *collapsed)
{
	unsigned int n;
	int ret = check_range(pgt, s2_ipa_val(ipa), size);

	if (ret)
		return ret;
	n = collapse_range(pgt, pgt->root, pgt->geom.start_level, s2_ipa_val(ipa),
			   s2_ipa_val(ipa) + size);
	if (collapsed)
		*collapsed = n;
	return 0;
}

/* ---- check ------------------------------------------------------------------------------------ */

struct check_ctx {
	const struct s2_pgtable *pgt;
	struct s2_check_report *r;
	uint64_t root_lo, root_hi; /* the root's PA range */
};

static size_t str_put(char *buf, size_t pos, size_t cap, const char *s)
{
	while (*s && pos + 1 < cap)
		buf[pos++] = *s++;
	buf[pos] = 0;
	return pos;
}

static size_t hex_put(char *buf, size_t pos, size_t cap, uint64_t v)
{
	char tmp[19];
	int i = 18;

	tmp[i] = 0;
	do {
		tmp[--i] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v);
	tmp[--i] = 'x';
	tmp[--i] = '0';
	return str_put(buf, pos, cap, &tmp[i]);
}

static void check_err(struct check_ctx *c, int level, uint64_t ipa, const char *msg)
{
	struct s2_check_report *r = c->r;
	char lv[3] = { 'L', (char)('0' + (level < 0 ? 0 : level)), 0 };
	size_t p = 0, cap = sizeof(r->first_error);

	if (r->errors++)
		return;
	if (level < 0)
		lv[1] = '-';
	p = str_put(r->first_error, p, cap, lv);
	p = str_put(r->first_error, p, cap, " ipa ");
	p = hex_put(r->first_error, p, cap, ipa);
	p = str_put(r->first_error, p, cap, ": ");
	str_put(r->first_error, p, cap, msg);
}

static void check_table(struct check_ctx *c, s2_pte_t *table, int level, uint64_t ipa,
			uint64_t nent)
{
	const struct s2_pgtable *pgt = c->pgt;
	uint64_t size = lvl_size(pgt, level), count = 0;

	for (uint64_t i = 0; i < nent; i++, ipa += size) {
		s2_pte_t pte = s2_atomic_load64(&table[i]);

		if (!(pte & S2_PTE_VALID)) {
			if (!pte)
				continue;
			if (pte & ~S2_PTE_INVALID_OWNER) {
				check_err(c, level, ipa, "invalid entry with stray bits");
				continue;
			}
			c->r->annotated++;
			count++;
			continue;
		}
		count++;
		if (pte_is_table(pte, level)) {
			uint64_t pa = pte_oa(pgt, pte);
			s2_pte_t *child;
			uint32_t *rc;

			if (pa >= pgt->geom.pa_limit) {
				check_err(c, level, ipa, "table address beyond the PA size");
				continue;
			}
			if (pa >= c->root_lo && pa < c->root_hi) {
				check_err(c, level, ipa, "table entry points at the root");
				continue;
			}
			child = pgt->port.ops->pa_to_va(pgt->port.ctx, s2_pa(pa));
			if (!child) {
				check_err(c, level, ipa, "table address is not table memory");
				continue;
			}
			rc = table_rc(pgt, child);
			if (s2_atomic_load32(rc) & RC_MARK) {
				check_err(c, level, ipa, "table page reachable twice");
				continue;
			}
			s2_atomic_store32(rc, s2_atomic_load32(rc) | RC_MARK);
			c->r->table_pages++;
			check_table(c, child, level + 1, ipa, table_entries(pgt));
			continue;
		}
		if (level == 3 && !(pte & S2_PTE_TYPE)) {
			check_err(c, level, ipa, "reserved encoding (0b01 at level 3)");
			continue;
		}
		if (level < 3 && !level_has_blocks(pgt, level)) {
			check_err(c, level, ipa, "block at a level without blocks");
			continue;
		}
		if (pte_oa(pgt, pte) & (size - 1)) {
			check_err(c, level, ipa, "output address not aligned to the entry size");
			continue;
		}
		if (pte_oa(pgt, pte) + size > pgt->geom.pa_limit) {
			check_err(c, level, ipa, "output address beyond the PA size");
			continue;
		}
		if (pgt->cfg.fwb && (pte_memattr(pte) & 0x7) == MEMATTR_FWB_RESERVED) {
			check_err(c, level, ipa, "reserved MemAttr (FWB 0b100)");
			continue;
		}
		if (pgt->cfg.fwb && (pte_memattr(pte) & 0x8)) {
			check_err(c, level, ipa, "MemAttr[3] set with FWB");
			continue;
		}
		c->r->leaves++;
	}
	if (level != pgt->geom.start_level) {
		uint32_t rc = s2_atomic_load32(table_rc(pgt, table)) & ~RC_MARK;
		if (rc != count)
			check_err(c, level, ipa - nent * size,
				  "table refcount differs from its valid + annotated entries");
		if (!count)
			check_err(c, level, ipa - nent * size, "empty table left linked");
	}
}

/* Remove the visit marks check_table() left. */
static void check_unmark(const struct s2_pgtable *pgt, s2_pte_t *table, int level, uint64_t nent)
{
	for (uint64_t i = 0; i < nent; i++) {
		s2_pte_t pte = s2_atomic_load64(&table[i]);
		uint64_t pa = pte_oa(pgt, pte);
		s2_pte_t *child;
		uint32_t *rc, v;

		if (!pte_is_table(pte, level) || pa >= pgt->geom.pa_limit)
			continue;
		child = pgt->port.ops->pa_to_va(pgt->port.ctx, s2_pa(pa));
		if (!child || child == pgt->root)
			continue;
		rc = table_rc(pgt, child);
		v = s2_atomic_load32(rc);
		if (!(v & RC_MARK))
			continue;
		s2_atomic_store32(rc, v & ~RC_MARK);
		check_unmark(pgt, child, level + 1, table_entries(pgt));
	}
}

int s2_pgtable_check(const struct s2_pgtable *pgt, struct s2_check_report *report)
{
	struct s2_check_report local;
	struct check_ctx c;

	if (!report)
		report = &local;
	s2_memzero(report, sizeof(*report));
	if (!pgt || !pgt->root)
		return S2_EINVAL;
	c.pgt = pgt;
	c.r = report;
	c.root_lo = s2_pa_val(pgt->root_pa);
	c.root_hi = c.root_lo + pgt->cfg.root_table_bytes;
	report->table_pages = pgt->cfg.root_table_bytes >> pgt->geom.page_shift;
	check_table(&c, pgt->root, pgt->geom.start_level, 0, pgt->geom.root_idx_mask + 1);
	check_unmark(pgt, pgt->root, pgt->geom.start_level, pgt->geom.root_idx_mask + 1);
	return report->errors ? S2_ECORRUPT : 0;
}
