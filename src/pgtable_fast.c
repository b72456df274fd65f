// SPDX-License-Identifier: MIT
/*
 * pgtable_fast.c - the direct-descent single-entry operations of the stage-2 engine: the fault
 * path's one-page map (and s2_pgtable_map()'s front end), lookup, relax_perms and mkyoung.
 * docs/pgtable.md ("Direct descent") explains them. They walk from the root straight to the
 * entry with the geometry in registers, specialised on the descriptor layout: each layout is
 * instantiated once (S2_FAST_LAYOUT_OPS() below) for all the operations.
 *
 * Architecture references are to the Arm ARM (DDI 0487): descriptor formats D8.3,
 * break-before-make D8.16.1, TLB maintenance D8.17.
 */
#include "pgtable_internal.h"

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
		s2_pgt_tlbi_one(pgt, ipa, level);
}
/* Leaf attributes (no output address, no descriptor type) for S2_PROT_* flags and the map
 * flags (S2_MAP_YOUNG_CLEAR: AF clear); @flags is checked by the caller. */
static int prot_to_attr(const struct s2_pgtable *pgt, enum s2_prot prot, enum s2_map_flags flags,
			s2_pte_t *attr)
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
		memattr = (prot & S2_PROT_DEVICE_NGNRNE) ? S2_MA_DEVICE_nGnRnE : S2_MA_DEVICE_nGnRE;
	else if (nc)
		memattr = S2_MA_NORMAL_NC;
	else
		memattr = pgt->cfg.fwb ? S2_MA_FWB_NORMAL_WB : S2_MA_NORMAL_WB;
	*attr = prot_attr_bits(pgt, prot, flags, memattr);
	return 0;
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
				       enum s2_map_flags flags)
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
				s2_pgt_tlbi_one(pgt, ipa, level);
			else if (pte_grants(old, new) && (flags & S2_MAP_SHARED))
				tlbi_local(pgt, ipa, level); /* the fault path, as relax_perms */
			else if (pte_grants(old, new))
				s2_pgt_tlbi_one(pgt, ipa, level);
			return 0;
		}
		/* Break-before-make (Arm ARM D8.16.1), holding the entry with a locked marker. */
		if (!s2_atomic_cas64(ptep, &old, PTE_LOCKED))
			continue;
		bbm_make(pgt, ptep, new, ipa, level, BBM_TLBI_ENTRY, pte_oa(pgt, old),
			 leaf_loses_cmo(pgt, old, new) ? lvl_size(pgt, level) : 0);
		return 0;
	}
}

static S2_ALWAYS_INLINE int map_single_impl(struct s2_pgtable *pgt, uint64_t ipa, int target,
					    s2_pte_t leaf, enum s2_map_flags flags,
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
				       s2_pte_t leaf, enum s2_map_flags flags,
				       struct s2_page_cache *cache)
{
	if (pgt->port.linear)
		return map_single_impl(pgt, ipa, target, leaf, flags, cache, true, true, K4_OFF);
	return map_single_impl(pgt, ipa, target, leaf, flags, cache, true, false, K4_OFF);
}

static int map_single(struct s2_pgtable *pgt, uint64_t ipa, int target, s2_pte_t leaf,
		      enum s2_map_flags flags, struct s2_page_cache *cache)
{
	if (S2_FAST_LAYOUT(pgt))
		return map_single_impl(pgt, ipa, target, leaf, flags, cache, false, true, K4_OFF);
	return map_single_slow(pgt, ipa, target, leaf, flags, cache);
}

/*
 * Cache maintenance before any entry becomes valid: without FWB the guest may run with its
 * MMU off (non-cacheable accesses) and must see what the host wrote (ARCH-NOTES §1); newly
 * executable memory needs the I-cache invalidated unless CTR_EL0.DIC.
 */
static S2_ALWAYS_INLINE void map_cmo(struct s2_pgtable *pgt, uint64_t pa, uint64_t size,
				     enum s2_prot prot, enum s2_map_flags flags)
{
	if (!(prot & S2_PROT_MEMTYPE) && !(flags & S2_MAP_NOCMO) && !pgt->cfg.fwb)
		pgt->port.ops->dcache_clean_inval_poc(pgt->port.ctx, s2_pa(pa), size);
	if ((prot & S2_PROT_X) && !pgt->cfg.dic)
		pgt->port.ops->icache_inval_pou(pgt->port.ctx, s2_pa(pa), size);
}

/* Finish a single-entry attempt: fall back to the structural path when it must. */
static S2_NOINLINE int map_single_done(struct s2_pgtable *pgt, int ret, uint64_t ipa, uint64_t size,
				       uint64_t pa, s2_pte_t attr, enum s2_map_flags flags,
				       struct s2_page_cache *cache)
{
	if (ret != S2_STRUCTURAL) {
		if (!ret)
			port_barrier(pgt, S2_BARRIER_DSB_ISHST);
		return ret;
	}
	if (flags & S2_MAP_SHARED)
		return S2_EBUSY;
	return s2_pgt_map_structural(pgt, ipa, size, pa, attr, flags, cache);
}

/* Flags the one-page fast path handles: Normal write-back memory, no DBM; no structural
 * change asked for. */
#define MAP_FAST_PROT (S2_PROT_RWX | S2_PROT_SW_MASK)
#define MAP_FAST_FLAGS (S2_MAP_NO_REPLACE | S2_MAP_SHARED | S2_MAP_NOCMO | S2_MAP_YOUNG_CLEAR)

/* Everything but the one-page fast path: argument checks, the leaf level, then the single-entry
 * or the structural path. */
static S2_NOINLINE int map_general(struct s2_pgtable *pgt, uint64_t ipa, uint64_t size, uint64_t pa,
				   enum s2_prot prot, enum s2_map_flags flags,
				   struct s2_page_cache *cache)
{
	s2_pte_t attr;
	int target = -2, ret;

	if (!pgt || !size)
		return S2_EINVAL;
	ret = prot_to_attr(pgt, prot, flags, &attr);
	if (ret)
		return ret;
	if (flags & ~(unsigned int)S2_MAP_ALL)
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

	map_cmo(pgt, pa, size, prot, flags);
	if (target != -2) {
		s2_pte_t leaf = attr | (target == 3 ? DESC_PAGE : DESC_BLOCK) | oa_bits(pgt, pa);
		ret = map_single(pgt, ipa, target, leaf, flags, cache);
		return map_single_done(pgt, ret, ipa, size, pa, attr, flags, cache);
	}
	return s2_pgt_map_structural(pgt, ipa, size, pa, attr, flags, cache);
}

/*
 * The one-page fault path, past its first attempt (or with cache maintenance): the single-entry
 * map in full, for a layout of geom.fast (@k4: -1 for 4K, K4_OFF for the others). @leaf is a
 * page descriptor of Normal memory: its PA and attributes are recovered from it (no attribute
 * bit lies in the OA field or in bits [1:0]).
 */
static S2_ALWAYS_INLINE int map_page_other_impl(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf,
						enum s2_map_flags flags,
						struct s2_page_cache *cache, const int k4)
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

/*
 * The one-page fault path for a layout of geom.fast: an empty last-level entry in an existing
 * table takes the leaf with one CAS, then the table's refcount (level 3 is never the root) and
 * DSB ISHST. Anything else (a missing table, a non-empty entry, a lost race) goes to
 * map_page_*_other(), which looks again and does the whole single-entry map. Functions of their
 * own so that only @pgt lives across the port calls.
 */
typedef int (*map_page_fn)(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf,
			   enum s2_map_flags flags, struct s2_page_cache *cache);

static S2_ALWAYS_INLINE int map_page_impl(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf,
					  enum s2_map_flags flags, struct s2_page_cache *cache,
					  const int k4, const map_page_fn other)
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
	return other(pgt, ipa, leaf, flags, cache);
}

/*
 * The one-page fault path for one layout of geom.fast (@k4 as for map_page_impl()):
 * map_page_@name() and what it falls back on, map_page_@name_other(), both out of line.
 */
#define MAP_PAGE_LAYOUT(name, k4)                                                                \
	static S2_NOINLINE int map_page_##name##_other(struct s2_pgtable *pgt, uint64_t ipa,     \
						       s2_pte_t leaf, enum s2_map_flags flags,   \
						       struct s2_page_cache *cache)              \
	{                                                                                        \
		return map_page_other_impl(pgt, ipa, leaf, flags, cache, k4);                    \
	}                                                                                        \
	static S2_NOINLINE int map_page_##name(struct s2_pgtable *pgt, uint64_t ipa,             \
					       s2_pte_t leaf, enum s2_map_flags flags,           \
					       struct s2_page_cache *cache)                      \
	{                                                                                        \
		return map_page_impl(pgt, ipa, leaf, flags, cache, k4, map_page_##name##_other); \
	}

MAP_PAGE_LAYOUT(4k, -1) /* 4K, the start level read from geom (descend_4k()) */
MAP_PAGE_LAYOUT(lin, K4_OFF) /* 16K and 64K (descend_impl()) */

/* Cache maintenance first (map_cmo()), then the one-page path below (its CAS into an empty
 * entry of an existing table, else the above). */
static S2_NOINLINE int map_page_cmo(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf,
				    enum s2_prot prot, enum s2_map_flags flags,
				    struct s2_page_cache *cache)
{
	map_cmo(pgt, leaf & pgt->geom.oa_lo_mask, gran_size(pgt), prot, flags);
	if (pgt->geom.fast4k_ipa_limit)
		return map_page_4k(pgt, ipa, leaf, flags, cache);
	return map_page_lin(pgt, ipa, leaf, flags, cache);
}

/* The leaf of a page of Normal memory: the attribute template precomputed at init (indexed by
 * R|W|X and S2_MAP_YOUNG_CLEAR moved to bit 3), SW bits. */
static S2_ALWAYS_INLINE s2_pte_t map_page_leaf(const struct s2_pgtable *pgt, enum s2_prot prot,
					       enum s2_map_flags flags, uint64_t oa)
{
	return pgt->geom.normal_attr[(prot & S2_PROT_RWX) | ((flags & S2_MAP_YOUNG_CLEAR) >>
							     (S2_CTZ64(S2_MAP_YOUNG_CLEAR) - 3))] |
	       PROT_SW(prot) | DESC_PAGE | oa;
}

/* Cache maintenance as map_cmo(): with FWB only for exec without DIC. */
static S2_ALWAYS_INLINE bool map_page_needs_cmo(const struct s2_pgtable *pgt, enum s2_prot prot,
						enum s2_map_flags flags)
{
	return (!pgt->cfg.fwb && !(flags & S2_MAP_NOCMO)) || ((prot & S2_PROT_X) && !pgt->cfg.dic);
}

/*
 * s2_pgtable_map() but for the 4K fault path: the one-page fault path of the other layouts of
 * geom.fast (16K, 64K), everything else through map_general().
 */
static S2_NOINLINE int map_other(struct s2_pgtable *pgt, uint64_t ipa, uint64_t size, uint64_t pa,
				 enum s2_prot prot, enum s2_map_flags flags,
				 struct s2_page_cache *cache)
{
	s2_pte_t leaf;

	if (S2_LIKELY(pgt && pgt->geom.fast && size == gran_size(pgt) &&
		      ipa < pgt->geom.ipa_limit && pa < pgt->geom.pa_limit &&
		      !((ipa | pa) & (size - 1)) && (prot & S2_PROT_RWX) &&
		      !(prot & ~MAP_FAST_PROT) && !(flags & ~MAP_FAST_FLAGS))) {
		leaf = map_page_leaf(pgt, prot, flags, pa & pgt->geom.oa_lo_mask);
		if (S2_UNLIKELY(map_page_needs_cmo(pgt, prot, flags)))
			return map_page_cmo(pgt, ipa, leaf, prot, flags, cache);
		return map_page_lin(pgt, ipa, leaf, flags, cache);
	}
	return map_general(pgt, ipa, size, pa, prot, flags, cache);
}

int s2_pgtable_map(struct s2_pgtable *pgt, s2_ipa_t ipa_t, uint64_t size, s2_pa_t pa_t,
		   enum s2_prot prot, enum s2_map_flags flags, struct s2_page_cache *cache)
{
	uint64_t ipa = s2_ipa_val(ipa_t), pa = s2_pa_val(pa_t);
	s2_pte_t leaf;

	/*
	 * The fault path: one 4K page of Normal memory, aligned and in range, in the 4K fast
	 * layout. Everything else (errors included, in their documented order) takes
	 * map_other() and map_general().
	 */
	if (S2_LIKELY(pgt && ipa < pgt->geom.fast4k_ipa_limit && size == K4_PAGE_SIZE &&
		      pa < pgt->geom.pa_limit && !((ipa | pa) & K4_PAGE_MASK) &&
		      (prot & S2_PROT_RWX) && !(prot & ~MAP_FAST_PROT) &&
		      !(flags & ~MAP_FAST_FLAGS))) {
		leaf = map_page_leaf(pgt, prot, flags, pa);
		if (S2_UNLIKELY(map_page_needs_cmo(pgt, prot, flags)))
			return map_page_cmo(pgt, ipa, leaf, prot, flags, cache);
		return map_page_4k(pgt, ipa, leaf, flags, cache);
	}

	return map_other(pgt, ipa, size, pa, prot, flags, cache);
}

/* ---- prepared page leaves (s2_pgtable_leaf_prepare(), s2_pgtable_map_page()) ----------------- */

#define TMPL_CMO_DCACHE 1u /* s2_leaf_tmpl.cmo: clean+invalidate the D-cache to PoC first */
#define TMPL_CMO_ICACHE 2u /* invalidate the I-cache to PoU first */

int s2_pgtable_leaf_prepare(const struct s2_pgtable *pgt, enum s2_prot prot, struct s2_leaf_tmpl *t)
{
	s2_pte_t attr;
	int ret;

	if (!t)
		return S2_EINVAL;
	*t = (struct s2_leaf_tmpl){ .pgt = pgt, .prot = prot };
	if (!pgt)
		return S2_EINVAL;
	ret = prot_to_attr(pgt, prot, 0, &attr);
	if (ret)
		return ret;
	/* What s2_pgtable_map()'s 4K fault path would build for @prot (without the OA), and the
	 * cache maintenance map_cmo() would issue for it (Normal WB memory: the prot says so). */
	if (pgt->geom.fast4k_ipa_limit && !(prot & ~MAP_FAST_PROT)) {
		t->leaf = map_page_leaf(pgt, prot, 0, 0);
		t->cmo = (uint8_t)((!pgt->cfg.fwb ? TMPL_CMO_DCACHE : 0) |
				   ((prot & S2_PROT_X) && !pgt->cfg.dic ? TMPL_CMO_ICACHE : 0));
	}
	return 0;
}

/* map_page_cmo() for a prepared 4K leaf: the maintenance decided at preparation, then the
 * one-page path. */
static S2_NOINLINE int map_page_tmpl_cmo(struct s2_pgtable *pgt, uint64_t ipa, s2_pte_t leaf,
					 const struct s2_leaf_tmpl *t, enum s2_map_flags flags,
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
					   const struct s2_leaf_tmpl *t, enum s2_map_flags flags,
					   struct s2_page_cache *cache)
{
	if (!pgt || !t)
		return S2_EINVAL;
	return s2_pgtable_map(pgt, ipa, gran_size(pgt), pa, t->prot, flags, cache);
}

int s2_pgtable_map_page(struct s2_pgtable *pgt, s2_ipa_t ipa_t, s2_pa_t pa_t,
			const struct s2_leaf_tmpl *t, enum s2_map_flags flags,
			struct s2_page_cache *cache)
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
		out->size = K4_PAGE_SIZE;
		out->valid = pte_is_table_or_page(pte);
		out->pa = s2_pa(out->valid ? (pte & OA_4K) | (ipa & K4_PAGE_MASK) : 0);
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

/* What relax_perms sets: R/W (flag bits 1:0) -> S2AP (7:6), and the access flag. */
static S2_ALWAYS_INLINE s2_pte_t relax_set(enum s2_prot prot)
{
	return S2_PTE_AF | PROT_S2AP(prot);
}

/*
 * The leaf part of relax_perms, entry @ptep (mapping 1 << @shift bytes): @pte is the value the
 * descent found (then @orig == @pte) or the one a lost compare-and-swap returned (@orig: the
 * value first found).
 */
static S2_ALWAYS_INLINE int relax_leaf_update(struct s2_pgtable *pgt, s2_pte_t *ptep, s2_pte_t orig,
					      s2_pte_t pte, unsigned int shift, enum s2_prot prot,
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
				       s2_pte_t pte, unsigned int shift, enum s2_prot prot,
				       const bool hi, uint64_t ipa, int level)
{
	int ret = relax_leaf_update(pgt, ptep, orig, pte, shift, prot, hi);

	if (ret != S2_EMEMTYPE)
		tlbi_local(pgt, ipa, ret ? -2 : level);
	return ret;
}

/* relax_leaf() for layouts with the OA in place. */
static S2_NOINLINE int relax_leaf_lo(struct s2_pgtable *pgt, s2_pte_t *ptep, s2_pte_t orig,
				     s2_pte_t pte, unsigned int shift, enum s2_prot prot,
				     uint64_t ipa, int level)
{
	return relax_leaf(pgt, ptep, orig, pte, shift, prot, false, ipa, level);
}

/*
 * A layout of geom.fast (@k4: the 4K start level 0..2, or K4_OFF for descend_impl()), inline
 * for a valid leaf that needs no exec granted (relax_leaf() with clr 0); the rest, and a lost
 * CAS, in relax_leaf_lo().
 */
static S2_ALWAYS_INLINE int relax_fast_impl(struct s2_pgtable *pgt, uint64_t ipa, enum s2_prot prot,
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

static S2_ALWAYS_INLINE int relax_impl(struct s2_pgtable *pgt, uint64_t ipa, enum s2_prot prot,
				       const bool hi, const bool linear)
{
	struct descent d;

	descend_impl(pgt, ipa, 3, &d, hi, linear);
	return relax_leaf(pgt, d.ptep, d.pte, d.pte, d.shift, prot, hi, ipa, d.level);
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

/*
 * relax_perms for a layout: the inline fast form (relax_fast_impl()) for the layouts of
 * geom.fast, relax_impl() for the others.
 */
static S2_ALWAYS_INLINE int relax_op(struct s2_pgtable *pgt, uint64_t ipa, enum s2_prot prot,
				     const bool hi, const bool linear, const int k4)
{
	if (!hi && linear)
		return relax_fast_impl(pgt, ipa, prot, k4);
	return relax_impl(pgt, ipa, prot, hi, linear);
}

/* ---- one instance per descriptor layout ---------------------------------------------------- */

/*
 * The descriptor layouts the single-entry operations are specialised on. LAYOUT(impl, args...)
 * calls impl(args..., hi, linear, k4) with the layout's constants (descend() explains them):
 *
 *   4k_any  geom.fast4k_ipa_limit with start level 0 or 2 (start level 1, the commonest, is
 *           inline in the entry points), the start level a constant in each branch
 *   lin     the other layouts of geom.fast: 16K and 64K, OA in place, a linear port
 *   hi      every other layout: OA bits above bit 47/49 (LPA, LPA2), or a port without a
 *           linear PA->VA map; also the IPA range check of every entry point
 */
#define S2_LAYOUT_4K_ANY(impl, ...)                                       \
	(pgt->geom.start_level == 0 ? impl(__VA_ARGS__, false, true, 0) : \
				      impl(__VA_ARGS__, false, true, 2))
#define S2_LAYOUT_LIN(impl, ...) impl(__VA_ARGS__, false, true, K4_OFF)
#define S2_LAYOUT_HI(impl, ...)                                     \
	(pgt->port.linear ? impl(__VA_ARGS__, true, true, K4_OFF) : \
			    impl(__VA_ARGS__, true, false, K4_OFF))

/*
 * Instantiate the single-entry operations on an existing leaf for one layout: out-of-line
 * functions of their own, so that each saves no registers for the others. @range_check: the
 * instance also refuses an IPA beyond the input size (the last instance the entry points try).
 */
#define S2_FAST_LAYOUT_OPS(name, LAYOUT, range_check)                                    \
	static S2_NOINLINE int lookup_##name(const struct s2_pgtable *pgt, uint64_t ipa, \
					     struct s2_lookup *out)                      \
	{                                                                                \
		if ((range_check) && ipa >= pgt->geom.ipa_limit)                         \
			return S2_ERANGE;                                                \
		return LAYOUT(lookup_impl, pgt, ipa, out);                               \
	}                                                                                \
	static S2_NOINLINE int relax_##name(struct s2_pgtable *pgt, uint64_t ipa,        \
					    enum s2_prot prot)                           \
	{                                                                                \
		if ((range_check) && ipa >= pgt->geom.ipa_limit)                         \
			return S2_ERANGE;                                                \
		return LAYOUT(relax_op, pgt, ipa, prot);                                 \
	}                                                                                \
	static S2_NOINLINE int mkyoung_##name(struct s2_pgtable *pgt, uint64_t ipa)      \
	{                                                                                \
		if ((range_check) && ipa >= pgt->geom.ipa_limit)                         \
			return S2_ERANGE;                                                \
		return LAYOUT(mkyoung_impl, pgt, ipa);                                   \
	}

S2_FAST_LAYOUT_OPS(4k_any, S2_LAYOUT_4K_ANY, false)
S2_FAST_LAYOUT_OPS(lin, S2_LAYOUT_LIN, false)
S2_FAST_LAYOUT_OPS(hi, S2_LAYOUT_HI, true)

/* ---- entry points ------------------------------------------------------------------------------ */

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
		return lookup_lin(pgt, ipa, out);
	return lookup_hi(pgt, ipa, out);
}

int s2_pgtable_relax_perms(struct s2_pgtable *pgt, s2_ipa_t ipa_t, enum s2_prot prot)
{
	uint64_t ipa = s2_ipa_val(ipa_t);

	if (S2_UNLIKELY(!pgt || (prot & ~S2_PROT_RWX)))
		return S2_EINVAL;
	if (S2_LIKELY(ipa < pgt->geom.fast4k_l1_ipa_limit))
		return relax_fast_impl(pgt, ipa, prot, 1);
	if (ipa < pgt->geom.fast4k_ipa_limit)
		return relax_4k_any(pgt, ipa, prot);
	if (pgt->geom.fast && ipa < pgt->geom.ipa_limit)
		return relax_lin(pgt, ipa, prot);
	return relax_hi(pgt, ipa, prot);
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
		return mkyoung_lin(pgt, ipa);
	return mkyoung_hi(pgt, ipa);
}

/* ---- relax_lookup: lookup and relax_perms in one descent ------------------------------------- */

/* The two calls: a leaf above level 3, a missing table, the layouts but 4K from level 1. */
static S2_NOINLINE int relax_lookup_other(struct s2_pgtable *pgt, uint64_t ipa, enum s2_prot prot,
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
static S2_ALWAYS_INLINE int relax_lookup_4k(struct s2_pgtable *pgt, uint64_t ipa, enum s2_prot prot,
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

int s2_pgtable_relax_lookup(struct s2_pgtable *pgt, s2_ipa_t ipa_t, enum s2_prot prot,
			    struct s2_lookup *old)
{
	uint64_t ipa = s2_ipa_val(ipa_t);

	if (S2_UNLIKELY(!pgt || !old || (prot & ~S2_PROT_RWX)))
		return S2_EINVAL;
	if (S2_LIKELY(ipa < pgt->geom.fast4k_l1_ipa_limit))
		return relax_lookup_4k(pgt, ipa, prot, old);
	return relax_lookup_other(pgt, ipa, prot, old);
}
