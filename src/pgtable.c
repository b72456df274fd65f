// SPDX-License-Identifier: MIT
/*
 * pgtable.c - the stage-2 page-table engine (mechanism only): init and destroy
 * and the range operations. docs/pgtable.md explains the design: direct descent
 * for single-entry operations (pgtable_fast.c); for ranges, one walker with an
 * explicit action per entry (walk_body() in pgtable_internal.h, instantiated per
 * operation: map, unmap/annotate, split, collapse, wrprotect/set_prot, young, free);
 * table-page reference counts, break-before-make and the TLB-maintenance policy. The checker is in pgtable_check.c, what the files share in
 * pgtable_internal.h.
 *
 * Architecture references are to the Arm ARM (DDI 0487): descriptor formats
 * D8.3, the break-before-make rules D8.16.1 ("Using break-before-make when
 * updating translation table entries"), TLB maintenance D8.17, the stage-2 walk
 * AArch64.S2Walk.
 */
#include "pgtable_internal.h"

/* ---- side effects
 * ----------------------------------------------------------------------------
 */

void s2_pgt_tlbi_one(const struct s2_pgtable *pgt, uint64_t ipa, int level)
{
	tlbi_one_inline(pgt, ipa, level);
}

void s2_pgt_tlbi_span(const struct s2_pgtable *pgt, uint64_t ipa, uint64_t size)
{
	port_barrier(pgt, S2_BARRIER_DSB_ISHST);
	if (size > pgt->tlbi_range_threshold)
		pgt->port.ops->tlbi_vmid(pgt->port.ctx, pgt);
	else
		pgt->port.ops->tlbi_range(pgt->port.ctx, pgt, s2_ipa(ipa), size);
	port_barrier(pgt, S2_BARRIER_DSB_ISH);
}

/* Invalidations collected by a range operation, issued once at the end. */
struct flush {
	uint64_t start, end;
	int level; /* common level of the leaves, -2 when mixed */
	unsigned int n; /* additions: an entry, or a run of entries of one table */
	bool tables; /* a table was unlinked: invalidate walk caches too (no level
                     hint) */
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
		s2_pgt_tlbi_one(pgt, f->start,
				f->level); /* one entry: TLBI by IPA with its level */
	else
		s2_pgt_tlbi_span(pgt, f->start, f->end - f->start);
	f->n = 0;
	f->tables = false;
}

/* ---- freeing unlinked tables: on the walker ---------------------------------------------- */

/* Free: descend into every table; free its page once the walk below it is done. */
static S2_ALWAYS_INLINE enum walk_action free_visit(struct range_walk *w,
						    const struct walk_entry *e)
{
	(void)w;
	if (!pte_is_table(e->pte, e->level))
		return WALK_SKIP;
	/* A last-level table holds no tables: freed without walking it. */
	return e->level + 1 == 3 ? WALK_FREE_TABLE : WALK_DESCEND;
}

static S2_ALWAYS_INLINE enum walk_action free_post(struct range_walk *w, const struct walk_entry *e)
{
	(void)w;
	(void)e;
	return WALK_FREE_TABLE;
}

/* Last-level tables hold no tables: nothing to walk. */
static S2_ALWAYS_INLINE void free_last_run(struct range_walk *w, s2_pte_t *ptep, uint64_t ipa,
					   uint64_t end)
{
	(void)w;
	(void)ptep;
	(void)ipa;
	(void)end;
}

WALK_INSTANCE(free_walk, free_visit, free_post, free_last_run)

/* Free an unlinked table at @level (not the root) and every table below it (after the TLBI
 * that covered them). */
void s2_pgt_free_tree(struct s2_pgtable *pgt, s2_pte_t *table, int level)
{
	struct range_walk w = { .pgt = pgt };

	if (level < 3)
		(void)free_walk(&w, table, level, 0, lvl_size(pgt, level - 1));
	pgt->port.ops->free_pages(pgt->port.ctx, table, gran_size(pgt));
}

/* ---- table pages
 * ------------------------------------------------------------------------------
 */

/* ---- data-cache maintenance of memory the guest loses
 * -------------------------------------- */

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
 * The subtree @table at @level (unlinked or replaced, its TLBI done) mapped
 * IPAs from that of its first entry: add its Normal WB leaves to @r, except
 * those the new mapping keeps: when
 * @keep_oa is not CMO_KEEP_NONE, a Normal WB mapping now gives the first
 * entry's IPA output
 * @keep_oa (contiguously), and a leaf already mapping that output stays cached
 * as it was.
 */
static void cmo_tree(const struct s2_pgtable *pgt, s2_pte_t *table, int level, uint64_t keep_oa,
		     struct cmo_run *r)
{
	uint64_t n = table_entries(pgt), size = lvl_size(pgt, level);

	if (level == 3) {
		/* Pages: the tight loop (valid Normal WB pages of a run only extend it). */
		const s2_pte_t want = S2_PTE_VALID | S2_FIELD_PREP(S2_PTE_MEMATTR, S2_MA_NORMAL_WB);
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
 * A Normal WB block that mapped output @old_oa from the IPA of @table's first
 * entry was replaced by the (linked, invalidated) subtree @table at @level: add
 * to @r every part of it that the subtree no longer maps to the same output as
 * Normal WB.
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

/*
 * Fill a new (private) table at @level + 1 with the pieces of @old, a block or
 * an owner annotation at @level, so that it maps exactly what @old mapped. Sets
 * its refcount.
 */
void s2_pgt_table_fill_from(const struct s2_pgtable *pgt, s2_pte_t *child, int level, s2_pte_t old)
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

/* ---- argument checks
 * -------------------------------------------------------------------------- */

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

/* ---- init, destroy, page cache
 * ---------------------------------------------------------------- */

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
		/* FEAT_LPA2: OA[49:page_shift] in place, OA[51:50] in bits [9:8]; SH comes
     * from VTCR_EL2.SH0 (Arm ARM D8.3.1). */
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
	/* (PA below 2^48 too: the fault path ORs the PA into the descriptor
   * unmasked.) */
	g->fast4k_ipa_limit = g->fast && ps == 12 && cfg->start_level >= 0 && cfg->pa_bits <= 48 ?
				      g->ipa_limit :
				      0;
	g->fast4k_l1_ipa_limit = cfg->start_level == 1 ? g->fast4k_ipa_limit : 0;
	for (uint64_t i = 0; i < 16; i++)
		g->normal_attr[i] =
			prot_attr_bits(pgt, i & S2_PROT_RWX, (i & 8) ? S2_MAP_YOUNG_CLEAR : 0,
				       cfg->fwb ? S2_MA_FWB_NORMAL_WB : S2_MA_NORMAL_WB);
	/* One range TLBI up to 1 GiB; beyond that, invalidating the VMID is cheaper.
   */
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
	struct range_walk w = { .pgt = pgt };

	if (!pgt || !pgt->root)
		return;
	/* Every table below the root (the free walk), then the root. */
	(void)free_walk(&w, pgt->root, pgt->geom.start_level, 0, pgt->geom.ipa_limit);
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

/* ---- range map (structural)
 * ------------------------------------------------------------------- */

struct map_ctx {
	struct range_walk w; /* first: the walker's state (pgt, cache, delta, priv) */
	uint64_t ipa0, pa0; /* pa = pa0 + (ipa - ipa0) */
	s2_pte_t attr; /* leaf attributes without output address or type */
	uint64_t flags;
	struct flush fl; /* in-place restrictions, invalidated at the end */
};

static int map_walk(struct range_walk *w, s2_pte_t *table, int level, uint64_t ipa, uint64_t end);

/* Leaves of one run broken (set to 0) and waiting for one TLBI before they are
 * made. */
struct bbm_batch {
	s2_pte_t *first, *last;
	unsigned int n;
	struct cmo_run cmo; /* Normal WB memory the broken entries took from the guest */
};

/*
 * Replace a non-empty entry by leaf @new. @priv: the table is not reachable yet
 * (no break-before-make, no TLBI). A leaf that needs break-before-make is
 * broken here and left in
 * @b for map_bbm_finish(). Returns 0 or S2_EEXIST.
 */
static int map_replace(struct map_ctx *m, s2_pte_t *ptep, int level, uint64_t ipa, s2_pte_t old,
		       s2_pte_t new, bool priv, struct bbm_batch *b)
{
	struct s2_pgtable *pgt = m->w.pgt;

	if (!(old & S2_PTE_VALID)) {
		/* An annotation: invalid -> valid, counted before and after. */
		s2_atomic_store64(ptep, new);
		return 0;
	}
	if (pte_is_table(old, level)) {
		/* Table -> block: break, invalidate the whole range (walk caches too),
     * make, and only then free the old tables. */
		bbm_replace(pgt, ptep, new, ipa, level, priv ? BBM_TLBI_NONE : BBM_TLBI_SPAN, 0, 0);
		if (!priv && !pgt->cfg.fwb) {
			/* Clean what the block does not keep mapped as before. */
			struct cmo_run r = { 0, 0 };
			cmo_tree(pgt, pte_table(pgt, old), level + 1,
				 pte_needs_cmo(pgt, new) ? pte_oa(pgt, new) : CMO_KEEP_NONE, &r);
			cmo_run_flush(pgt, &r);
		}
		s2_pgt_free_tree(pgt, pte_table(pgt, old), level + 1);
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
     * Normal WB memory the guest loses: cleaned to PoC after the TLBI. With the
     * run's batch when it continues the batch's physically contiguous run to
     * clean, else break-before-make on its own.
     */
		uint64_t oa = pte_oa(pgt, old), sz = lvl_size(pgt, level);
		if (b->cmo.len && b->cmo.pa + b->cmo.len != oa) {
			bbm_replace(pgt, ptep, new, ipa, level, BBM_TLBI_ENTRY, oa, sz);
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
 * The rest of break-before-make for the leaves a run broke: DSB ISHST, one TLBI
 * (by IPA with the level for a single entry, else over the span), DSB ISH, then
 * the new entries. The broken entries are the only zero entries of the run:
 * every other one holds its new value already.
 */
static void map_bbm_finish(struct map_ctx *m, struct bbm_batch *b, s2_pte_t *start_p, int level,
			   uint64_t ipa, uint64_t pa, s2_pte_t tmpl)
{
	struct s2_pgtable *pgt = m->w.pgt;
	uint64_t size = lvl_size(pgt, level);
	uint64_t i0, i1;

	if (!b->n)
		return;
	i0 = (uint64_t)(b->first - start_p);
	i1 = (uint64_t)(b->last - start_p);
	if (b->n == 1)
		s2_pgt_tlbi_one(pgt, ipa + i0 * size, level);
	else
		s2_pgt_tlbi_span(pgt, ipa + i0 * size, (i1 - i0 + 1) * size);
	cmo_run_flush(pgt, &b->cmo);
	for (uint64_t i = i0; i <= i1; i++)
		if (!s2_atomic_load64(&start_p[i]))
			s2_atomic_store64_release(&start_p[i], tmpl | oa_bits(pgt, pa + i * size));
	b->n = 0;
}

/*
 * Descend through a non-table entry: build the next-level table privately
 * (empty, or the pieces of a block or annotation), map into it, then link it
 * (break-before-make over a valid block). A table left empty (allocation failed
 * below) is given back unlinked.
 */
static int map_descend_new(struct map_ctx *m, s2_pte_t *ptep, int level, uint64_t ipa,
			   uint64_t stop, s2_pte_t old)
{
	bool priv = m->w.priv;
	struct s2_pgtable *pgt = m->w.pgt;
	s2_pte_t *child = table_alloc(pgt, m->w.cache, false);
	int ret;

	if (!child)
		return S2_ENOMEM;
	if (old)
		s2_pgt_table_fill_from(pgt, child, level, old);
	m->w.priv = true;
	ret = map_walk(&m->w, child, level + 1, ipa, stop);
	m->w.priv = priv;
	if (!s2_atomic_load32(table_rc(pgt, child))) {
		table_unused(pgt, m->w.cache, child);
		return ret;
	}
	if ((old & S2_PTE_VALID) && !priv)
		bbm_replace(pgt, ptep, table_desc(pgt, child),
			    S2_ALIGN_DOWN(ipa, lvl_size(pgt, level)), level, BBM_TLBI_ENTRY, 0, 0);
	else
		s2_atomic_store64_release(ptep, table_desc(pgt, child));
	if (!priv && pte_needs_cmo(pgt, old)) {
		/* The block's parts the map replaced (in the private table): clean them. */
		struct cmo_run r = { 0, 0 };
		cmo_block_lost(pgt, child, level + 1, pte_oa(pgt, old), &r);
		cmo_run_flush(pgt, &r);
	}
	if (!old)
		m->w.delta++;
	return ret;
}

/*
 * A run of whole entries at a leaf level, from @e's to @end or the end of @table: the tight
 * loop. An empty entry takes its leaf with one store (the descriptor advancing by the entry
 * size); others go through map_replace(), the leaves needing break-before-make batched for one
 * TLBI (map_bbm_finish()). Returns the IPA after the run, or sets w->ret.
 */
static S2_ALWAYS_INLINE uint64_t map_run(struct range_walk *w, const struct walk_entry *e,
					 s2_pte_t *table, uint64_t end)
{
	struct map_ctx *m = (struct map_ctx *)w;
	struct s2_pgtable *pgt = w->pgt;
	int level = e->level;
	unsigned int shift = lvl_shift(pgt, level);
	uint64_t size = e->size, ipa = e->ipa;
	uint64_t pa = m->pa0 + (ipa - m->ipa0);
	s2_pte_t tmpl = m->attr | (level == 3 ? DESC_PAGE : DESC_BLOCK);
	s2_pte_t *ptep = e->ptep, *start_p = ptep, *stop_p, old;
	uint64_t n = (end - ipa) >> shift;
	uint64_t last = table == pgt->root ? pgt->geom.root_idx_mask : pgt->geom.idx_mask;
	uint64_t room = last - (uint64_t)(ptep - table) + 1;
	struct bbm_batch bbm = { NULL, NULL, 0, { 0, 0 } };
	bool priv = w->priv;
	int32_t delta = 0;
	int ret = 0;

	if (n > room)
		n = room;
	stop_p = ptep + n;
	if (S2_LIKELY(!pgt->geom.oa_hi_mask)) {
		/*
		 * The output address sits in place below bit 48 and stays below the PA size: the
		 * descriptor advances by the entry size.
		 */
		s2_pte_t new = tmpl | oa_bits(pgt, pa);
		for (; ptep < stop_p; ptep++, new += size) {
			old = s2_atomic_load64(ptep);
			if (S2_LIKELY(!old)) {
				s2_atomic_store64(ptep, new);
				delta++;
				continue;
			}
			ret = map_replace(m, ptep, level, ipa + (uint64_t)(ptep - start_p) * size,
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
			ret = map_replace(m, ptep, level, ipa + (p - pa), old, new, priv, &bbm);
			if (ret)
				break;
		}
	}
	map_bbm_finish(m, &bbm, start_p, level, ipa, pa, tmpl);
	w->delta += delta;
	w->ret = ret;
	return ipa + n * size;
}

/*
 * Map on the walker: at a leaf level (the last, or one with blocks unless FORCE_PAGES) an
 * aligned whole entry starts a run (WALK_RUN: map_run()); a table is walked; a block,
 * annotation or empty entry in the way is replaced by a table built privately
 * (map_descend_new()).
 */
static S2_ALWAYS_INLINE enum walk_action map_visit(struct range_walk *w, const struct walk_entry *e)
{
	struct map_ctx *m = (struct map_ctx *)w;
	int level = e->level;
	uint64_t size = e->size, pa = m->pa0 + (e->ipa - m->ipa0);
	bool leaf_level =
		level == 3 || (!(m->flags & S2_MAP_FORCE_PAGES) && level_has_blocks(w->pgt, level));
	int ret;

	if (leaf_level && !((e->ipa | pa) & (size - 1)) && e->stop == e->ipa + size)
		return WALK_RUN;
	if (pte_is_table(e->pte, level))
		return WALK_DESCEND;
	ret = map_descend_new(m, e->ptep, level, e->ipa, e->stop, e->pte);
	if (!ret)
		return WALK_SKIP;
	w->ret = ret;
	return WALK_STOP;
}

WALK_INSTANCE_COUNTED(map_walk, map_visit, NULL, map_run)

/* ---- visitor walk
 * -----------------------------------------------------------------------------
 */

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

int s2_pgtable_walk(const struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size,
		    enum s2_walk_flags flags, s2_visitor_fn fn, void *arg)
{
	int ret = check_range(pgt, s2_ipa_val(ipa), size);

	if (ret)
		return ret;
	if (!fn || (flags & ~(unsigned int)S2_WALK_ALL))
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

/* ---- map
 * ---------------------------------------------------------------------------------------
 */

/* The structural path of a map: multi-entry ranges, and single entries that
 * need a table replaced or a block split. Exclusive lock. */
int s2_pgt_map_structural(struct s2_pgtable *pgt, uint64_t ipa, uint64_t size, uint64_t pa,
			  s2_pte_t attr, enum s2_map_flags flags, struct s2_page_cache *cache)
{
	struct map_ctx m = {
		.w = { .pgt = pgt, .cache = cache },
		.ipa0 = ipa,
		.pa0 = pa,
		.attr = attr,
		.flags = flags,
	};
	int ret;

	if (flags & S2_MAP_NO_REPLACE) {
		/* Check first, so that a refusal changes nothing. */
		ret = s2_pgtable_walk(pgt, s2_ipa(ipa), size, S2_WALK_LEAF | S2_WALK_SKIP_EMPTY,
				      visit_find_valid, NULL);
		if (ret)
			return ret;
	}
	ret = map_walk(&m.w, pgt->root, pgt->geom.start_level, ipa, ipa + size);
	flush_do(pgt, &m.fl);
	/* Make the new entries visible to the table walkers before returning to the
   * guest. */
	port_barrier(pgt, S2_BARRIER_DSB_ISHST);
	return ret;
}

/* ---- unmap and annotate: replace whole entries by @val (0 or an owner
 * annotation) ------------ */

#define PEND_MAX 32

/*
 * An unmap or annotate: entries replaced by @val; work that must wait for the
 * TLBI covering them, in walk order: unlinked tables to free (and, without FWB,
 * to clean), and runs of physically contiguous Normal WB memory removed from
 * the guest, to clean to the PoC.
 */
struct clear_ctx {
	struct range_walk w; /* first: the walker's state (pgt, cache, delta, priv) */
	s2_pte_t val;
	struct flush fl;
	bool cmo; /* FWB off: removed Normal WB memory is cleaned */
	unsigned int npend;
	struct {
		s2_pte_t *table; /* an unlinked table, or NULL: a run to clean */
		int level;
		uint64_t pa, size;
	} pend[PEND_MAX];
};

/* Issue the collected TLBI, then clean the removed memory (one call per
 * contiguous run, in walk order) and free the tables unlinked before it. */
static void clear_flush(struct clear_ctx *c)
{
	struct cmo_run r = { 0, 0 };

	flush_do(c->w.pgt, &c->fl);
	for (unsigned int i = 0; i < c->npend; i++) {
		if (!c->pend[i].table) {
			cmo_run_add(c->w.pgt, &r, c->pend[i].pa, c->pend[i].size);
			continue;
		}
		if (c->cmo)
			cmo_tree(c->w.pgt, c->pend[i].table, c->pend[i].level, CMO_KEEP_NONE, &r);
		s2_pgt_free_tree(c->w.pgt, c->pend[i].table, c->pend[i].level);
	}
	cmo_run_flush(c->w.pgt, &r);
	c->npend = 0;
}

/* [pa, pa + size) of Normal WB memory left the guest (its flush_add() done):
 * clean it after the TLBI. */
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

/* A table was unlinked from the entry covering [ipa, ipa + size): free it after
 * the TLBI. */
static void clear_detach(struct clear_ctx *c, s2_pte_t *table, int level, uint64_t ipa,
			 uint64_t size, bool priv)
{
	if (priv) {
		/* Pieces of a block: clear_split() cleans what left the guest. */
		s2_pgt_free_tree(c->w.pgt, table, level);
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

static int clear_walk(struct range_walk *w, s2_pte_t *table, int level, uint64_t ipa, uint64_t end);

/*
 * A block or annotation only partly in the range (or an empty entry to annotate in part):
 * build the next-level table privately (the pieces of @e's entry), clear the part in the range
 * there (a private walk: no break-before-make, no TLBI), then link it (break-before-make over
 * a valid block), or, with nothing left below, empty the entry. Returns 0 or S2_ENOMEM.
 */
static int clear_split(struct clear_ctx *c, const struct walk_entry *e)
{
	struct s2_pgtable *pgt = c->w.pgt;
	s2_pte_t *ptep = e->ptep, old = e->pte;
	int level = e->level;
	uint64_t size = e->size, base = e->base, ipa = e->ipa, stop = e->stop;
	bool priv = c->w.priv;
	s2_pte_t *child = table_alloc(pgt, c->w.cache, false);
	int ret;

	if (!child)
		return S2_ENOMEM;
	if (old)
		s2_pgt_table_fill_from(pgt, child, level, old);
	c->w.priv = true;
	ret = clear_walk(&c->w, child, level + 1, ipa, stop);
	c->w.priv = priv;
	if (!s2_atomic_load32(table_rc(pgt, child))) {
		/* Nothing left below: the entry itself becomes empty. */
		table_unused(pgt, c->w.cache, child);
		if (old) {
			s2_atomic_store64(ptep, 0);
			c->w.delta--;
			if ((old & S2_PTE_VALID) && !priv) {
				flush_add(&c->fl, base, size, level);
				if (c->cmo && pte_needs_cmo(pgt, old))
					clear_cmo(c, pte_oa(pgt, old), size);
			}
		}
		return ret;
	}
	if ((old & S2_PTE_VALID) && !priv)
		bbm_replace(pgt, ptep, table_desc(pgt, child), base, level, BBM_TLBI_ENTRY, 0, 0);
	else
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
		c->w.delta++;
	return ret;
}

/*
 * Unmap/annotate on the walker: an entry already @val is left; a whole entry is replaced by
 * @val with one store (a removal needs no break-before-make; a table below it is unlinked
 * whole, freed after the TLBI); a table only partly in the range is walked (post: unlinked
 * once empty); a block or annotation only partly in the range is split (clear_split()).
 */
static S2_ALWAYS_INLINE enum walk_action clear_visit(struct range_walk *w,
						     const struct walk_entry *e)
{
	struct clear_ctx *c = (struct clear_ctx *)w;
	struct s2_pgtable *pgt = w->pgt;
	s2_pte_t old = e->pte, val = c->val;
	int ret;

	if (old == val)
		return WALK_SKIP;
	if (walk_whole(e)) {
		s2_atomic_store64(e->ptep, val);
		w->delta += (val != 0) - (old != 0);
		if (pte_is_table(old, e->level)) {
			clear_detach(c, pte_table(pgt, old), e->level + 1, e->ipa, e->size,
				     w->priv);
		} else if ((old & S2_PTE_VALID) && !w->priv) {
			flush_add(&c->fl, e->ipa, e->size, e->level);
			if (S2_UNLIKELY(c->cmo) && pte_needs_cmo(pgt, old))
				clear_cmo(c, pte_oa(pgt, old), e->size);
		}
		return WALK_SKIP;
	}
	if (pte_is_table(old, e->level))
		return WALK_DESCEND;
	if (!old && !val)
		return WALK_SKIP;
	ret = clear_split(c, e);
	if (!ret)
		return WALK_SKIP;
	w->ret = ret;
	return WALK_STOP;
}

/* A table walked in part: unlinked (freed after the TLBI) when nothing is left in it. */
static S2_ALWAYS_INLINE enum walk_action clear_post(struct range_walk *w,
						    const struct walk_entry *e)
{
	struct clear_ctx *c = (struct clear_ctx *)w;
	s2_pte_t *child = pte_table(w->pgt, e->pte);

	if (!s2_atomic_load32(table_rc(w->pgt, child))) {
		s2_atomic_store64(e->ptep, 0);
		w->delta--;
		clear_detach(c, child, e->level + 1, e->base, e->size, w->priv);
	}
	return WALK_SKIP;
}

WALK_INSTANCE_COUNTED(clear_walk, clear_visit, clear_post, NULL)

static int clear_top(struct s2_pgtable *pgt, uint64_t ipa, uint64_t size, s2_pte_t val,
		     struct s2_page_cache *cache)
{
	struct clear_ctx c;
	int ret;

	/* Field by field: a zero-initialiser of the whole (large) struct would call
   * memset. */
	c.w.pgt = pgt;
	c.w.cache = cache;
	c.w.delta = 0;
	c.w.priv = false;
	c.val = val;
	c.fl.n = 0;
	c.fl.tables = false;
	c.cmo = !pgt->cfg.fwb;
	c.npend = 0;
	ret = clear_walk(&c.w, pgt->root, pgt->geom.start_level, ipa, ipa + size);

	clear_flush(&c);
	return ret;
}

/*
 * clear_top() of one 4K page whose level-3 entry exists (the common case of a
 * per-page unmap or donation once the edges are split), in the 4K fast layout
 * with FWB: replace the entry by
 * @val, count it in its table, invalidate it by IPA with its level if it was
 * valid. Returns whether it did it; false leaves everything untouched for
 * clear_top(): a block or a missing table on the way, a last entry whose
 * removal empties the table (clear_walk() unlinks and frees it), and without
 * FWB (removed memory is cleaned).
 */
static S2_ALWAYS_INLINE bool clear_page_4k(struct s2_pgtable *pgt, uint64_t ipa, uint64_t size,
					   s2_pte_t val)
{
	struct descent d;
	uint32_t *rc;

	if (!(size == K4_PAGE_SIZE && ipa < pgt->geom.fast4k_ipa_limit && pgt->cfg.fwb))
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

/* ---- permission changes over a range
 * --------------------------------------------------------- */

/* wrprotect/set_prot on the walker: (pte & ~clr) | set on every valid leaf, in
 * place. */
struct attr_ctx {
	struct range_walk w; /* first: the walker's state */
	s2_pte_t set, clr;
	bool cas; /* hardware may update AF/dirty concurrently: read-modify-write with
               CAS */
	bool restricts; /* the change can remove or grant a permission: invalidate
                     what changed */
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

/* A table: descend; a valid leaf above the last level (a block) that changes:
 * in place. */
static S2_ALWAYS_INLINE enum walk_action attr_visit(struct range_walk *w,
						    const struct walk_entry *e)
{
	struct attr_ctx *c = (struct attr_ctx *)w;

	if (pte_is_table(e->pte, e->level))
		return WALK_DESCEND;
	if ((e->pte & S2_PTE_VALID) && ((e->pte & ~c->clr) | c->set) != e->pte) {
		leaf_update(c, e->ptep, e->pte);
		if (c->restricts)
			flush_add(&c->fl, e->base, e->size, e->level);
	}
	return WALK_SKIP;
}

/* Pages: the tight loop (the first change found apart, so the main loop only
 * remembers the last); one flush_add() for the run. */
static S2_ALWAYS_INLINE void attr_last_run(struct range_walk *w, s2_pte_t *ptep, uint64_t ipa,
					   uint64_t end)
{
	struct attr_ctx *c = (struct attr_ctx *)w;
	struct s2_pgtable *pgt = w->pgt;
	uint64_t size = lvl_size(pgt, 3);
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
}

WALK_INSTANCE(attr_walk, attr_visit, NULL, attr_last_run)

static int attr_top(struct s2_pgtable *pgt, uint64_t ipa, uint64_t size, s2_pte_t set, s2_pte_t clr)
{
	struct attr_ctx c = {
		.w = { .pgt = pgt },
		.set = set,
		.clr = clr,
		.cas = pgt->cfg.ha || pgt->cfg.hd,
		.restricts =
			((clr | set) & (S2_PTE_S2AP | S2_PTE_DBM | S2_PTE_XN)) || (clr & S2_PTE_AF),
	};

	(void)attr_walk(&c.w, pgt->root, pgt->geom.start_level, ipa, ipa + size);
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

int s2_pgtable_set_prot(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size, enum s2_prot set_p,
			enum s2_prot clear_p)
{
	uint64_t set = set_p, clear = clear_p;
	const uint64_t allowed = S2_PROT_RWX | S2_PROT_SW_MASK;
	s2_pte_t pset = 0, pclr = 0;
	int ret = check_range(pgt, s2_ipa_val(ipa), size);

	if (ret)
		return ret;
	if (set & S2_PROT_DBM) {
		/* Writable-clean: DBM with W cleared in the same pass (needs HD, as for
     * map). */
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
	/* (With S2_PROT_DBM in @set, pset holds DBM: (pte & ~pclr) | pset keeps it.)
   */
	if (clear & S2_PROT_X) {
		pclr |= S2_PTE_XN;
		pset |= S2_FIELD_PREP(S2_PTE_XN, S2_XN_ALL);
	}
	pclr |= S2_FIELD_PREP(S2_PTE_SW, (clear & S2_PROT_SW_MASK) >> S2_PROT_SW_SHIFT);
	if ((set & S2_PROT_X) && !pgt->cfg.dic) {
		/* Newly executable memory: invalidate the I-cache for every leaf that gains
     * exec, whole: a block only partly inside the range becomes executable in
     * full (Arm ARM D8.4: XN applies to the whole block). One call per
     * physically contiguous run. */
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

/* ---- access flag over a range
 * ----------------------------------------------------------------- */

/* test_clear_young on the walker: count (and clear) AF of the valid leaves. */
struct young_ctx {
	struct range_walk w; /* first: the walker's state */
	bool clear;
	bool cas;
	uint64_t young; /* granule-sized pages */
};

/* A table: descend; a young block: count the part of it in the range, clear AF
 * if asked. */
static S2_ALWAYS_INLINE enum walk_action young_visit(struct range_walk *w,
						     const struct walk_entry *e)
{
	struct young_ctx *c = (struct young_ctx *)w;
	s2_pte_t pte = e->pte;

	if (pte_is_table(pte, e->level))
		return WALK_DESCEND;
	if ((pte & (S2_PTE_VALID | S2_PTE_AF)) == (S2_PTE_VALID | S2_PTE_AF)) {
		c->young += (e->stop - e->ipa) >> w->pgt->geom.page_shift;
		if (c->clear) {
			if (!c->cas)
				s2_atomic_store64(e->ptep, pte & ~S2_PTE_AF);
			else
				while (!s2_atomic_cas64(e->ptep, &pte, pte & ~S2_PTE_AF))
					;
		}
	}
	return WALK_SKIP;
}

/* Pages: the tight loop, the count accumulated locally. */
static S2_ALWAYS_INLINE void young_last_run(struct range_walk *w, s2_pte_t *ptep, uint64_t ipa,
					    uint64_t end)
{
	struct young_ctx *c = (struct young_ctx *)w;
	s2_pte_t *stop_p = ptep + ((end - ipa) >> w->pgt->geom.page_shift);
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
}

WALK_INSTANCE(young_walk, young_visit, NULL, young_last_run)

int s2_pgtable_test_clear_young(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size, bool clear,
				uint64_t *young)
{
	struct young_ctx c = { .clear = clear };
	int ret = check_range(pgt, s2_ipa_val(ipa), size);

	if (ret)
		return ret;
	c.w.pgt = pgt;
	c.cas = pgt->cfg.ha || pgt->cfg.hd;
	(void)young_walk(&c.w, pgt->root, pgt->geom.start_level, s2_ipa_val(ipa),
			 s2_ipa_val(ipa) + size);
	if (young)
		*young = c.young;
	return 0;
}

void s2_pgtable_flush_range(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size)
{
	if (!pgt || !size)
		return;
	s2_pgt_tlbi_span(pgt, s2_ipa_val(ipa), size);
}

/* ---- split and collapse
 * ----------------------------------------------------------------------- */

/* Split: every block in the range becomes tables down to pages (whole blocks: a
 * block only partly in the range is split in full). */
static S2_ALWAYS_INLINE enum walk_action split_visit(struct range_walk *w,
						     const struct walk_entry *e)
{
	(void)w;
	if (pte_is_table(e->pte, e->level))
		return WALK_DESCEND;
	if ((e->pte & S2_PTE_VALID) && e->level < 3)
		return e->level + 1 < 3 ? WALK_SPLIT_DESCEND : WALK_SPLIT;
	return WALK_SKIP;
}

WALK_INSTANCE(split_walk, split_visit, NULL, NULL)

int s2_pgtable_split(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size,
		     struct s2_page_cache *cache)
{
	struct range_walk w = { .cache = cache };
	int ret = check_range(pgt, s2_ipa_val(ipa), size);

	if (ret)
		return ret;
	if (!cache)
		return S2_EINVAL;
	w.pgt = pgt;
	return split_walk(&w, pgt->root, pgt->geom.start_level, s2_ipa_val(ipa),
			  s2_ipa_val(ipa) + size);
}

/* Whether the table at @clevel maps one aligned, contiguous run with identical
 * attributes; if so, *@block is the block descriptor for the level above. */
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

/* Collapse: below a whole entry of a level with blocks, a table that maps one
 * aligned run with identical attributes becomes a block (after its own tables
 * were collapsed). */
static S2_ALWAYS_INLINE enum walk_action collapse_visit(struct range_walk *w,
							const struct walk_entry *e)
{
	(void)w;
	return pte_is_table(e->pte, e->level) ? WALK_DESCEND : WALK_SKIP;
}

static S2_ALWAYS_INLINE enum walk_action collapse_post(struct range_walk *w,
						       const struct walk_entry *e)
{
	if (!walk_whole(e) || !level_has_blocks(w->pgt, e->level) ||
	    !table_uniform(w->pgt, pte_table(w->pgt, e->pte), e->level + 1, &w->new))
		return WALK_SKIP;
	w->count++;
	return WALK_REPLACE_BBM;
}

WALK_INSTANCE(collapse_walk, collapse_visit, collapse_post, NULL)

int s2_pgtable_collapse(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size,
			unsigned int *collapsed)
{
	struct range_walk w = { 0 };
	int ret = check_range(pgt, s2_ipa_val(ipa), size);

	if (ret)
		return ret;
	w.pgt = pgt;
	(void)collapse_walk(&w, pgt->root, pgt->geom.start_level, s2_ipa_val(ipa),
			    s2_ipa_val(ipa) + size);
	if (collapsed)
		*collapsed = w.count;
	return 0;
}
