// SPDX-License-Identifier: MIT
/*
 * owner.c - page ownership between host, hypervisor and guests (pKVM style). docs/owner.md
 * explains the states, where each is kept and the check-then-commit discipline.
 *
 * Every transition runs in two phases:
 *   check:  validate the range and every page's state; count the table pages the commit can
 *           need (an upper bound) and draw them into page caches; call the hypervisor's map
 *           callback (the only other fallible step). Nothing has changed if this fails.
 *   commit: update the metadata and the stage-2 tables. The engine draws new tables from the
 *           filled caches, so nothing here can fail: an error is a broken invariant (S2_BUG_ON).
 *           Each S2_BUG_ON below says why no sequence of public calls reaches it; whatever a
 *           caller can cause (a guest table written behind this layer's back included) is
 *           refused or handled before the commit.
 */
#include "s2mmu/owner.h"

#include "owner_state.h"

/* ---- state encoding (ARCH-NOTES §1) --------------------------------------------------------- */

int s2_page_state_pte(s2_pte_t *pte, enum s2_page_state state)
{
	/* A meta-state has no encoding: refused, never stored. */
	if (!pte || !s2_page_state_is_concrete(state))
		return S2_EINVAL;
	*pte = (*pte & ~S2_PAGE_STATE_PTE_MASK) | S2_FIELD_PREP(S2_PAGE_STATE_PTE_MASK, state);
	return 0;
}

enum s2_page_state s2_page_state_of_pte(s2_pte_t pte)
{
	return (enum s2_page_state)S2_FIELD_GET(S2_PAGE_STATE_PTE_MASK, pte);
}

int s2_page_state_prot(enum s2_page_state state, uint64_t *prot)
{
	if (!prot || !s2_page_state_is_concrete(state))
		return S2_EINVAL;
	*prot = S2_STATE_PROT(state);
	return 0;
}

const char *s2_page_state_name(enum s2_page_state state)
{
	switch (state) {
	case S2_PAGE_OWNED:
		return "owned";
	case S2_PAGE_SHARED_OWNED:
		return "shared-owned";
	case S2_PAGE_SHARED_BORROWED:
		return "shared-borrowed";
	case S2_PAGE_RESERVED:
		return "reserved";
	case S2_PAGE_NOPAGE:
		return "nopage";
	}
	return "?";
}

/* ---- geometry helpers ------------------------------------------------------------------------ */

static uint64_t ipa_limit(const struct s2_pgtable *pgt)
{
	return UINT64_C(1) << pgt->cfg.ipa_bits;
}

/* Validate [addr, addr + size) against a table's IPA space and the page size. */
static int check_span(const struct s2_owner *o, const struct s2_pgtable *pgt, uint64_t addr,
		      uint64_t size)
{
	if (!size)
		return S2_EINVAL;
	if (!S2_IS_ALIGNED(addr, o->page_size) || !S2_IS_ALIGNED(size, o->page_size))
		return S2_EALIGN;
	if (addr + size < addr || addr + size > ipa_limit(pgt))
		return S2_ERANGE;
	return 0;
}

/*
 * Upper bound on the table pages s2_pgtable_map() of [ipa, ipa + size) -> pa can allocate (the
 * same holds for unmap/annotate, which only split at the edges). A table at level L + 1 is
 * needed under an entry at level L that the range covers partially (at most the two edges), or
 * covers wholly where it cannot become a block: blocks illegal at L, output not congruent to
 * the input modulo the block size, or pages forced.
 */
static S2_NOINLINE uint64_t tables_bound_levels(const struct s2_pgtable *pgt, uint64_t ipa,
						uint64_t pa, uint64_t size, bool force_pages)
{
	uint64_t n = 0;

	for (int l = pgt->cfg.start_level; l < S2_LEVEL_MAX; l++) {
		unsigned int shift = s2_level_shift(pgt->cfg.granule, l);
		uint64_t lsize = UINT64_C(1) << shift;
		uint64_t touched = ((ipa + size - 1) >> shift) - (ipa >> shift) + 1;

		if (force_pages || !s2_config_level_has_blocks(&pgt->cfg, l) ||
		    ((ipa ^ pa) & (lsize - 1)))
			n += touched;
		else
			n += S2_MIN(touched, 2);
	}
	return n;
}

/*
 * tables_bound_levels() of one aligned page of @pgt's granule: it lies inside one entry at
 * every level, so each level touches exactly one entry whichever branch applies there, and
 * the sum is the number of levels walked. (The single-page short paths, which have checked
 * the size and alignment already, ask this directly.)
 */
static inline uint64_t page_tables_bound(const struct s2_pgtable *pgt)
{
	return (uint64_t)(S2_LEVEL_MAX - pgt->cfg.start_level);
}

/* tables_bound_levels(), one aligned page answered inline. (Out of line, the loop's register
 * saves cost more than this test.) */
static inline uint64_t tables_bound(const struct s2_pgtable *pgt, uint64_t ipa, uint64_t pa,
				    uint64_t size, bool force_pages)
{
	if (size == (UINT64_C(1) << pgt->cfg.page_shift) && !(ipa & (size - 1)))
		return page_tables_bound(pgt);
	return tables_bound_levels(pgt, ipa, pa, size, force_pages);
}

/*
 * Fill @cache with @n pages from @pgt's port (S2_ELIMIT beyond one cache). A cache already
 * holding @n pages is answered here: s2_page_cache_topup() would do nothing for it (its
 * arguments are valid: @pgt was initialised, its page size is one the engine accepts).
 */
static inline int cache_fill(struct s2_page_cache *cache, const struct s2_pgtable *pgt, uint64_t n)
{
	if (n > S2_PAGE_CACHE_MAX)
		return S2_ELIMIT;
	if (S2_LIKELY(cache->nr >= n))
		return 0;
	return s2_page_cache_topup(cache, &pgt->port, (size_t)1 << pgt->cfg.page_shift,
				   (unsigned int)n);
}

/* ---- RAM ranges and metadata ----------------------------------------------------------------- */

static const struct s2_owner_ram *ram_range(const struct s2_owner *o, uint64_t pa)
{
	for (unsigned int i = 0; i < o->nr_ram; i++) {
		const struct s2_owner_ram *r = &o->ram[i];
		if (pa >= s2_pa_val(r->base) && pa - s2_pa_val(r->base) < r->size)
			return r;
	}
	return NULL;
}

/* The metadata of page @pa of RAM range @r. */
static struct s2_page_meta *meta_in(const struct s2_owner *o, const struct s2_owner_ram *r,
				    uint64_t pa)
{
	return &o->meta[r->first_meta + ((pa - s2_pa_val(r->base)) >> o->page_shift)];
}

/*
 * The metadata of the one RAM page [pa, pa + size) when @size is the page size, @pa is aligned,
 * inside the host's IPA space and inside one RAM range; else NULL. The single-page short paths
 * of the transitions start here (every other case takes the general path).
 */
static inline struct s2_page_meta *one_ram_page(const struct s2_owner *o, uint64_t pa,
						uint64_t size)
{
	const struct s2_owner_ram *r;

	if (size != o->page_size || (pa & (size - 1)) || pa > ipa_limit(&o->host) - size)
		return NULL;
	r = ram_range(o, pa);
	if (!r || pa + size - s2_pa_val(r->base) > r->size)
		return NULL;
	return meta_in(o, r, pa);
}

static struct s2_page_meta *meta_of(const struct s2_owner *o, uint64_t pa)
{
	const struct s2_owner_ram *r = ram_range(o, pa);

	if (!r)
		return NULL;
	return meta_in(o, r, pa);
}

/* Whether [pa, pa + size) overlaps any RAM. */
static bool overlaps_ram(const struct s2_owner *o, uint64_t pa, uint64_t size)
{
	for (unsigned int i = 0; i < o->nr_ram; i++) {
		uint64_t b = s2_pa_val(o->ram[i].base), e = b + o->ram[i].size;
		if (pa < e && b < pa + size)
			return true;
	}
	return false;
}

/* host_span() beyond one RAM range: several adjacent ones, MMIO, or a mix (S2_EINVAL). */
static S2_NOINLINE int host_span_multi(const struct s2_owner *o, uint64_t pa, uint64_t size,
				       const struct s2_owner_ram *r, struct s2_page_meta **meta)
{
	if (!overlaps_ram(o, pa, size)) {
		*meta = NULL;
		return 0;
	}
	/* Every page must be RAM. */
	if (!r)
		return S2_EINVAL;
	for (uint64_t a = pa + o->page_size; a < pa + size; a += o->page_size)
		if (!ram_range(o, a))
			return S2_EINVAL;
	*meta = meta_in(o, r, pa);
	return 0;
}

/*
 * Validate a host physical range and classify it: all RAM (*meta = the metadata of its first
 * page) or all MMIO (*meta = NULL). A range mixing the two is S2_EINVAL. The RAM ranges are
 * sorted and their metadata laid out in order, so the RAM ranges covering an all-RAM span are
 * adjacent and the span's pages have consecutive entries: page i is (*meta)[i]. The common
 * case, one RAM range holding the whole span, is answered inline.
 */
static inline int host_span(const struct s2_owner *o, uint64_t pa, uint64_t size,
			    struct s2_page_meta **meta)
{
	const struct s2_owner_ram *r;
	int ret = check_span(o, &o->host, pa, size);

	if (ret)
		return ret;
	r = ram_range(o, pa);
	if (r && pa + size - s2_pa_val(r->base) <= r->size) {
		*meta = meta_in(o, r, pa);
		return 0;
	}
	return host_span_multi(o, pa, size, r, meta);
}

/* ---- host state of a page ---------------------------------------------------------------------- */

/* The host's view of MMIO page @pa, from the host stage-2 (no metadata for MMIO). */
static void mmio_info(const struct s2_owner *o, uint64_t pa, struct s2_page_info *info)
{
	struct s2_lookup l;
	int ret = s2_pgtable_lookup(&o->host, s2_ipa(pa), &l);

	/* Lookup fails only beyond the IPA size: every caller range-checked @pa first. */
	S2_BUG_ON(ret);
	info->ram = false;
	info->share_count = 0;
	info->pin_count = 0;
	if (l.valid) {
		info->host = s2_page_state_of_pte(l.pte);
		info->owner = S2_OWNER_HOST;
		info->hyp = info->host == S2_PAGE_SHARED_OWNED ? S2_PAGE_SHARED_BORROWED :
								 S2_PAGE_NOPAGE;
	} else if (s2_lookup_owner(l)) {
		info->host = S2_PAGE_NOPAGE;
		info->owner = s2_lookup_owner(l);
		info->hyp = info->owner == S2_OWNER_HYP ? S2_PAGE_OWNED : S2_PAGE_NOPAGE;
	} else {
		info->host = S2_PAGE_OWNED;
		info->owner = S2_OWNER_HOST;
		info->hyp = S2_PAGE_NOPAGE;
	}
}

/* The host's view of a RAM page, from its metadata @m. */
static void meta_info(const struct s2_page_meta *m, struct s2_page_info *info)
{
	info->ram = true;
	info->host = (enum s2_page_state)m->host_state;
	info->hyp = (enum s2_page_state)m->hyp_state;
	info->owner = m->owner;
	/*
	 * One counter: guest shares, or the hypervisor's pins while it borrows the page. The
	 * checks read the one their state implies; s2_owner_page_info() reports the other as 0.
	 */
	info->share_count = m->share_count;
	info->pin_count = m->pin_count;
}

static void page_info(const struct s2_owner *o, uint64_t pa, struct s2_page_info *info)
{
	const struct s2_page_meta *m = meta_of(o, pa);

	if (!m)
		mmio_info(o, pa, info);
	else
		meta_info(m, info);
}

static bool host_may_access(enum s2_page_state s)
{
	return s == S2_PAGE_OWNED || s == S2_PAGE_SHARED_OWNED || s == S2_PAGE_SHARED_BORROWED;
}

static void meta_set(struct s2_page_meta *m, enum s2_page_state host, enum s2_page_state hyp,
		     uint8_t owner)
{
	m->host_state = (uint8_t)host;
	m->hyp_state = (uint8_t)hyp;
	m->owner = owner;
}

/* meta_set() on the @size bytes' worth of pages whose metadata starts at @m. */
static void meta_set_pages(const struct s2_owner *o, struct s2_page_meta *m, uint64_t size,
			   enum s2_page_state host, enum s2_page_state hyp, uint8_t owner)
{
	uint64_t n = size >> o->page_shift;

	for (uint64_t i = 0; i < n; i++)
		meta_set(&m[i], host, hyp, owner);
}

/* meta_set() on every page of the RAM range [pa, pa + size). */
static void meta_set_range(const struct s2_owner *o, uint64_t pa, uint64_t size,
			   enum s2_page_state host, enum s2_page_state hyp, uint8_t owner)
{
	meta_set_pages(o, meta_of(o, pa), size, host, hyp, owner);
}

static int refuse(struct s2_owner *o, int err)
{
	o->stats.refused++;
	return err;
}

static int done(struct s2_owner *o)
{
	o->stats.transitions++;
	return 0;
}

/*
 * The host stage-2's context around a change of it that may invalidate TLB entries (the
 * engine's TLBIs act on the context loaded): this layer is the one place that loads it.
 */
static inline void host_ctx_load(struct s2_owner *o)
{
	o->host_stage2.load(o->host_stage2.ctx, o->host.cfg.vtcr, o->host_vttbr);
}

static inline void host_ctx_put(struct s2_owner *o)
{
	o->host_stage2.put(o->host_stage2.ctx); /* host_ctx_put_none() when not given */
}

/* The put of a host stage-2 context that needs none: called rather than tested for. */
static void host_ctx_put_none(void *ctx)
{
	(void)ctx;
}

/* ---- init ------------------------------------------------------------------------------------- */

int s2_owner_init(struct s2_owner *o, const struct s2_owner_params *p)
{
	uint64_t pages = 0, prev_end = 0, psize;
	int ret;

	if (!o || !p || !p->host_cfg || !p->hyp.map || !p->hyp.unmap || !p->host_stage2.load ||
	    (p->nr_ram && !p->ram))
		return S2_EINVAL;
	/* An identity map: every IPA must be a PA the descriptors can hold. */
	if (p->host_cfg->ipa_bits > p->host_cfg->pa_bits)
		return S2_EINVAL;
	psize = UINT64_C(1) << p->host_cfg->page_shift;
	for (unsigned int i = 0; i < p->nr_ram; i++) {
		uint64_t b = s2_pa_val(p->ram[i].base), sz = p->ram[i].size;
		if (!sz || (i && b < prev_end))
			return S2_EINVAL;
		if (!S2_IS_ALIGNED(b, psize) || !S2_IS_ALIGNED(sz, psize))
			return S2_EALIGN;
		if (b + sz < b || b + sz > (UINT64_C(1) << p->host_cfg->ipa_bits))
			return S2_ERANGE;
		prev_end = b + sz;
		pages += sz / psize;
	}
	if (pages && (!p->meta || p->nr_meta < pages))
		return S2_EINVAL;
	s2_memzero(o, sizeof(*o));
	ret = s2_pgtable_init(&o->host, p->host_cfg, &p->port, p->cookie);
	if (ret)
		return ret;
	o->ram = p->ram;
	o->nr_ram = p->nr_ram;
	o->meta = p->meta;
	o->nr_meta = p->nr_meta;
	o->hyp = p->hyp;
	o->host_stage2 = p->host_stage2;
	if (!o->host_stage2.put)
		o->host_stage2.put = host_ctx_put_none;
	ret = s2_vttbr(&o->host.cfg, o->host.root_pa, 0, &o->host_vttbr);
	if (ret) {
		s2_pgtable_destroy(&o->host);
		return ret;
	}
	o->page_size = psize;
	o->page_shift = p->host_cfg->page_shift;
	pages = 0;
	for (unsigned int i = 0; i < o->nr_ram; i++) {
		o->ram[i].first_meta = pages;
		pages += o->ram[i].size >> o->page_shift;
	}
	for (uint64_t i = 0; i < pages; i++) {
		meta_set(&o->meta[i], S2_PAGE_OWNED, S2_PAGE_NOPAGE, S2_OWNER_HOST);
		o->meta[i].share_count = 0;
		o->meta[i].reserved = 0;
	}
	return 0;
}

void s2_owner_destroy(struct s2_owner *o)
{
	if (!o || !o->host.root)
		return;
	s2_page_cache_drain(&o->cache, &o->host.port, o->page_size);
	s2_pgtable_destroy(&o->host);
}

int s2_owner_guest_init(struct s2_owner_guest *g, struct s2_pgtable *pgt, uint8_t id,
			bool protected_vm)
{
	if (!g || !pgt || id < S2_OWNER_GUEST_MIN)
		return S2_EINVAL;
	s2_memzero(g, sizeof(*g));
	g->pgt = pgt;
	g->id = id;
	g->protected_vm = protected_vm;
	return 0;
}

/*
 * The guest must use the host's granule (ownership is tracked per host page), have a live
 * table, and not be the host stage-2 itself (its annotations would collide with the guest's
 * mappings between check and commit).
 */
static int guest_ok(const struct s2_owner *o, const struct s2_owner_guest *g)
{
	if (!o || !g || !g->pgt || !g->pgt->root || g->id < S2_OWNER_GUEST_MIN ||
	    g->pgt->cfg.page_shift != o->page_shift || g->pgt == &o->host)
		return S2_EINVAL;
	return 0;
}

/* ---- host faults ------------------------------------------------------------------------------- */

struct mmio_scan {
	bool bad;
};

/* An MMIO block may not cover an annotation or a page in a state other than OWNED. */
static int visit_mmio_block(void *arg, const struct s2_walk_visit *v)
{
	struct mmio_scan *s = arg;

	if (!s2_leaf_is_valid(v->pte) || s2_page_state_of_pte(v->pte) != S2_PAGE_OWNED) {
		s->bad = true;
		return S2_EEXIST;
	}
	return 0;
}

/* Whether the host may have [base, base + size) mapped as one block of RAM (or of MMIO). */
static bool block_ok(const struct s2_owner *o, uint64_t base, uint64_t size, bool ram)
{
	if (base + size > ipa_limit(&o->host))
		return false;
	if (ram) {
		const struct s2_owner_ram *r = ram_range(o, base);
		if (!r || base + size - s2_pa_val(r->base) > r->size)
			return false;
		const struct s2_page_meta *m = meta_of(o, base);
		for (uint64_t i = 0; i < size >> o->page_shift; i++)
			if (!host_may_access((enum s2_page_state)m[i].host_state))
				return false;
		return true;
	}
	if (overlaps_ram(o, base, size))
		return false;
	struct mmio_scan s = { false };
	s2_pgtable_walk(&o->host, s2_ipa(base), size, S2_WALK_LEAF | S2_WALK_SKIP_EMPTY,
			visit_mmio_block, &s);
	return !s.bad;
}

int s2_owner_host_handle_fault(struct s2_owner *o, s2_pa_t pa_t, enum s2_host_abort_action *action)
{
	uint64_t pa, base, size, prot;
	struct s2_page_info info;
	int ret;

	if (!o || !action)
		return S2_EINVAL;
	o->stats.host_faults++;
	pa = S2_ALIGN_DOWN(s2_pa_val(pa_t), o->page_size);
	*action = S2_HOST_ABORT_INJECT;
	if (pa >= ipa_limit(&o->host)) {
		o->stats.host_injected++;
		return 0;
	}
	page_info(o, pa, &info);
	if (!host_may_access(info.host)) {
		o->stats.host_injected++;
		return 0;
	}
	if (!info.ram && info.host != S2_PAGE_OWNED) {
		/* MMIO in another state is mapped by its transition: the fault is spurious. */
		*action = S2_HOST_ABORT_MAPPED;
		return 0;
	}
	/* The largest block around @pa whose every page the host may access. */
	base = pa;
	size = o->page_size;
	for (int l = S2_LEVEL_MAX - 1; l >= o->host.cfg.start_level; l--) {
		uint64_t bsize = s2_level_size(o->host.cfg.granule, l);
		uint64_t bbase = S2_ALIGN_DOWN(pa, bsize);
		if (!s2_config_level_has_blocks(&o->host.cfg, l) ||
		    !block_ok(o, bbase, bsize, info.ram))
			break;
		base = bbase;
		size = bsize;
	}
	prot = info.ram ? S2_PROT_RWX :
			  (S2_PROT_R | S2_PROT_W | S2_PROT_DEVICE | S2_STATE_PROT(S2_PAGE_OWNED));
	ret = cache_fill(&o->cache, &o->host, tables_bound(&o->host, base, base, size, false));
	if (ret)
		return ret;
	host_ctx_load(o); /* a block may replace a table */
	ret = s2_pgtable_map(&o->host, s2_ipa(base), size, s2_pa(base), prot, 0, &o->cache);
	host_ctx_put(o);
	if (ret)
		return ret;
	*action = S2_HOST_ABORT_MAPPED;
	o->stats.host_mapped++;
	return 0;
}

int s2_owner_host_handle_abort(struct s2_owner *o, uint64_t esr, uint64_t far, uint64_t hpfar,
			       enum s2_host_abort_action *action)
{
	struct s2_abort a;
	int ret;

	if (!o || !action)
		return S2_EINVAL;
	ret = s2_abort_decode(esr, far, hpfar, true, &a);
	if (ret)
		return ret;
	if (!a.ipa_valid || a.fnv)
		return S2_EINVAL;
	return s2_owner_host_handle_fault(o, s2_pa(s2_ipa_val(a.ipa)), action);
}

/* ---- host <-> hypervisor ---------------------------------------------------------------------- */

/* Fill the host cache for an annotate/unmap of [pa, pa + size) (splits at the edges only). */
static inline int host_cache_for(struct s2_owner *o, uint64_t pa, uint64_t size)
{
	return cache_fill(&o->cache, &o->host, tables_bound(&o->host, pa, pa, size, false));
}

/*
 * Commit-phase changes of the host stage-2. Unreachable failures: the range was checked
 * (aligned, non-empty, below the IPA size, which s2_owner_init() keeps within the PA size),
 * @owner is a valid annotation (hypervisor or a guest id >= S2_OWNER_GUEST_MIN), and
 * host_cache_for() filled o->cache with the upper bound of the tables splitting the edges
 * needs, so the engine's only other failure (S2_ENOMEM) cannot happen.
 */
static S2_ALWAYS_INLINE void host_annotate(struct s2_owner *o, uint64_t pa, uint64_t size,
					   uint8_t owner)
{
	int ret;

	host_ctx_load(o);
	ret = s2_pgtable_annotate(&o->host, s2_ipa(pa), size, owner, &o->cache);
	host_ctx_put(o);
	S2_BUG_ON(ret);
}

static void host_unmap(struct s2_owner *o, uint64_t pa, uint64_t size)
{
	int ret;

	host_ctx_load(o);
	ret = s2_pgtable_unmap(&o->host, s2_ipa(pa), size, &o->cache);
	host_ctx_put(o);
	S2_BUG_ON(ret);
}

/*
 * Run @check on the host state of every page of [pa, pa + size), classified by host_span()
 * (@m: its RAM metadata, NULL for MMIO); return the first refusal.
 */
static inline int host_pages_check(const struct s2_owner *o, uint64_t pa, uint64_t size,
				   const struct s2_page_meta *m,
				   int (*check)(const struct s2_page_info *info))
{
	uint64_t n = size >> o->page_shift;
	struct s2_page_info info;
	int ret;

	if (m) {
		for (uint64_t i = 0; i < n; i++) {
			meta_info(&m[i], &info);
			ret = check(&info);
			if (ret)
				return ret;
		}
		return 0;
	}
	for (uint64_t a = pa, end = pa + size; a < end;) {
		struct s2_lookup l;

		mmio_info(o, a, &info);
		ret = check(&info);
		if (ret)
			return ret;
		/*
		 * Every page under one host entry (a block, or an empty or annotated entry at
		 * any level) is in the same state: go on after the entry, not a page further,
		 * so that a huge MMIO range costs one lookup per entry, not per page.
		 */
		if (s2_pgtable_lookup(&o->host, s2_ipa(a), &l) || l.size < o->page_size)
			l.size = o->page_size;
		a = S2_ALIGN_DOWN(a, l.size) + l.size;
		if (!a)
			break;
	}
	return 0;
}

/* host_span() then host_pages_check(): the checks that open a host <-> hypervisor transition. */
static inline int host_range_check(const struct s2_owner *o, uint64_t pa, uint64_t size,
				   int (*check)(const struct s2_page_info *info),
				   struct s2_page_meta **meta)
{
	int ret = host_span(o, pa, size, meta);

	if (ret)
		return ret;
	return host_pages_check(o, pa, size, *meta, check);
}

/* Whether a page in state @info may be shared with the hypervisor: 0 or S2_EPERM. */
static int share_hyp_check(const struct s2_page_info *info)
{
	if (info->host != S2_PAGE_OWNED || info->hyp != S2_PAGE_NOPAGE)
		return S2_EPERM;
	return 0;
}

/* Whether a page shared with the hypervisor (@info) may be unshared: 0, S2_EPERM, or
 * S2_EBUSY while the hypervisor has it pinned (pKVM: hyp_page_count() != 0). */
static int unshare_hyp_check(const struct s2_page_info *info)
{
	if (info->host != S2_PAGE_SHARED_OWNED || info->hyp != S2_PAGE_SHARED_BORROWED)
		return S2_EPERM;
	if (info->pin_count)
		return S2_EBUSY;
	return 0;
}

/* Whether the hypervisor may pin a page in state @info: RAM it borrows from the host. */
static int pin_hyp_check(const struct s2_page_info *info)
{
	if (!info->ram || info->host != S2_PAGE_SHARED_OWNED ||
	    info->hyp != S2_PAGE_SHARED_BORROWED)
		return S2_EPERM;
	if (info->pin_count == UINT32_MAX)
		return S2_ELIMIT;
	return 0;
}

/* Whether the hypervisor may drop a pin of a page in state @info: pinned RAM it borrows. */
static int unpin_hyp_check(const struct s2_page_info *info)
{
	if (!info->ram || info->host != S2_PAGE_SHARED_OWNED ||
	    info->hyp != S2_PAGE_SHARED_BORROWED || !info->pin_count)
		return S2_EPERM;
	return 0;
}

/* The refusal for donating a page in state @info: S2_EBUSY when shared, else S2_EPERM. */
static int donate_check(const struct s2_page_info *info)
{
	if (info->host == S2_PAGE_SHARED_OWNED)
		return S2_EBUSY;
	if (info->host != S2_PAGE_OWNED || info->hyp != S2_PAGE_NOPAGE)
		return S2_EPERM;
	return 0;
}

/* Whether a page in state @info may go back from the hypervisor to the host: 0 or S2_EPERM. */
static int donate_hyp_host_check(const struct s2_page_info *info)
{
	if (info->hyp != S2_PAGE_OWNED || info->host != S2_PAGE_NOPAGE ||
	    info->owner != S2_OWNER_HYP)
		return S2_EPERM;
	return 0;
}

static S2_NOINLINE int share_hyp_general(struct s2_owner *o, s2_pa_t pa_t, uint64_t size)
{
	uint64_t pa = s2_pa_val(pa_t);
	struct s2_page_meta *m;
	bool ram;
	int ret;

	if (!o)
		return S2_EINVAL;
	ret = host_range_check(o, pa, size, share_hyp_check, &m);
	if (ret)
		return refuse(o, ret);
	ram = m;
	if (!ram) {
		ret = cache_fill(&o->cache, &o->host, tables_bound(&o->host, pa, pa, size, false));
		if (ret)
			return refuse(o, ret);
	}
	ret = o->hyp.map(o->hyp.ctx, pa_t, size, S2_PAGE_SHARED_BORROWED,
			 ram ? 0 : S2_HYP_MAP_DEVICE);
	if (ret)
		return refuse(o, ret);
	/* Commit. */
	if (ram) {
		meta_set_pages(o, m, size, S2_PAGE_SHARED_OWNED, S2_PAGE_SHARED_BORROWED,
			       S2_OWNER_HOST);
	} else {
		/* MMIO keeps its state in the host stage-2: map it now, marked SHARED_OWNED. */
		/* Cannot fail: a checked range, a legal prot (RW Device), o->cache filled
		 * with the bound of the tables the edges can need. */
		host_ctx_load(o);
		ret = s2_pgtable_map(&o->host, s2_ipa(pa), size, pa_t,
				     S2_PROT_R | S2_PROT_W | S2_PROT_DEVICE |
					     S2_STATE_PROT(S2_PAGE_SHARED_OWNED),
				     0, &o->cache);
		host_ctx_put(o);
		S2_BUG_ON(ret);
	}
	return done(o);
}

/*
 * One page of RAM held by one RAM range, in a state that may be shared: share_hyp_general()'s
 * checks for that case in its order (check_span(), host_span(), share_hyp_check()), its
 * hypervisor map and commit, with nothing else live across the map callback. Every other
 * case, and every refusal of a check, goes to share_hyp_general() from the start (the checks
 * change nothing).
 */
int s2_owner_host_share_hyp(struct s2_owner *o, s2_pa_t pa_t, uint64_t size)
{
	uint64_t pa = s2_pa_val(pa_t);
	struct s2_page_meta *m;
	int ret;

	if (S2_LIKELY(o && (m = one_ram_page(o, pa, size)) != NULL)) {
		if (S2_LIKELY(m->host_state == S2_PAGE_OWNED && m->hyp_state == S2_PAGE_NOPAGE)) {
			ret = o->hyp.map(o->hyp.ctx, pa_t, size, S2_PAGE_SHARED_BORROWED, 0);
			if (ret)
				return refuse(o, ret);
			meta_set(m, S2_PAGE_SHARED_OWNED, S2_PAGE_SHARED_BORROWED, S2_OWNER_HOST);
			return done(o);
		}
	}
	return share_hyp_general(o, pa_t, size);
}

int s2_owner_host_unshare_hyp(struct s2_owner *o, s2_pa_t pa_t, uint64_t size)
{
	uint64_t pa = s2_pa_val(pa_t);
	struct s2_page_meta *m;
	bool ram;
	int ret;

	if (!o)
		return S2_EINVAL;
	ret = host_range_check(o, pa, size, unshare_hyp_check, &m);
	if (ret)
		return refuse(o, ret);
	ram = m;
	if (!ram) {
		ret = host_cache_for(o, pa, size);
		if (ret)
			return refuse(o, ret);
	}
	o->hyp.unmap(o->hyp.ctx, pa_t, size);
	if (ram) {
		meta_set_pages(o, m, size, S2_PAGE_OWNED, S2_PAGE_NOPAGE, S2_OWNER_HOST);
	} else {
		/* Back to OWNED: drop the marked mapping, the host faults it in again. */
		host_unmap(o, pa, size);
	}
	return done(o);
}

int s2_owner_hyp_pin_shared(struct s2_owner *o, s2_pa_t pa_t, uint64_t size)
{
	uint64_t pa = s2_pa_val(pa_t);
	struct s2_page_meta *m;
	int ret;

	if (!o)
		return S2_EINVAL;
	ret = host_range_check(o, pa, size, pin_hyp_check, &m);
	if (ret)
		return refuse(o, ret);
	/* pin_hyp_check() refuses MMIO: @m is the RAM metadata. */
	for (uint64_t i = 0; i < size >> o->page_shift; i++)
		m[i].pin_count++;
	return done(o);
}

int s2_owner_hyp_unpin_shared(struct s2_owner *o, s2_pa_t pa_t, uint64_t size)
{
	uint64_t pa = s2_pa_val(pa_t);
	struct s2_page_meta *m;
	int ret;

	if (!o)
		return S2_EINVAL;
	ret = host_range_check(o, pa, size, unpin_hyp_check, &m);
	if (ret)
		return refuse(o, ret);
	for (uint64_t i = 0; i < size >> o->page_shift; i++)
		m[i].pin_count--;
	return done(o);
}

static S2_NOINLINE int donate_hyp_general(struct s2_owner *o, s2_pa_t pa_t, uint64_t size)
{
	uint64_t pa = s2_pa_val(pa_t);
	struct s2_page_meta *m;
	bool ram;
	int ret;

	if (!o)
		return S2_EINVAL;
	ret = host_range_check(o, pa, size, donate_check, &m);
	if (ret)
		return refuse(o, ret);
	ram = m;
	ret = host_cache_for(o, pa, size);
	if (ret)
		return refuse(o, ret);
	ret = o->hyp.map(o->hyp.ctx, pa_t, size, S2_PAGE_OWNED, ram ? 0 : S2_HYP_MAP_DEVICE);
	if (ret)
		return refuse(o, ret);
	if (ram)
		meta_set_pages(o, m, size, S2_PAGE_NOPAGE, S2_PAGE_OWNED, S2_OWNER_HYP);
	host_annotate(o, pa, size, S2_OWNER_HYP);
	return done(o);
}

/*
 * One page of RAM held by one RAM range, host OWNED and hypervisor NOPAGE, with the host cache
 * already holding the one-page table bound: donate_hyp_general()'s checks for that case in
 * its order (check_span(), host_span(), donate_check(), host_cache_for()), then its map,
 * commit and annotation. Every other case, and every refusal, goes to donate_hyp_general()
 * from the start (the checks change nothing).
 */
int s2_owner_host_donate_hyp(struct s2_owner *o, s2_pa_t pa_t, uint64_t size)
{
	uint64_t pa = s2_pa_val(pa_t);
	struct s2_page_meta *m;
	int ret;

	if (S2_LIKELY(o && (m = one_ram_page(o, pa, size)) != NULL)) {
		if (S2_LIKELY(m->host_state == S2_PAGE_OWNED && m->hyp_state == S2_PAGE_NOPAGE &&
			      o->cache.nr >= page_tables_bound(&o->host))) {
			ret = o->hyp.map(o->hyp.ctx, pa_t, size, S2_PAGE_OWNED, 0);
			if (ret)
				return refuse(o, ret);
			meta_set(m, S2_PAGE_NOPAGE, S2_PAGE_OWNED, S2_OWNER_HYP);
			host_annotate(o, pa, size, S2_OWNER_HYP);
			return done(o);
		}
	}
	return donate_hyp_general(o, pa_t, size);
}

int s2_owner_hyp_donate_host(struct s2_owner *o, s2_pa_t pa_t, uint64_t size)
{
	uint64_t pa = s2_pa_val(pa_t);
	struct s2_page_meta *m;
	bool ram;
	int ret;

	if (!o)
		return S2_EINVAL;
	ret = host_range_check(o, pa, size, donate_hyp_host_check, &m);
	if (ret)
		return refuse(o, ret);
	ram = m;
	ret = host_cache_for(o, pa, size);
	if (ret)
		return refuse(o, ret);
	o->hyp.unmap(o->hyp.ctx, pa_t, size);
	if (ram)
		meta_set_pages(o, m, size, S2_PAGE_OWNED, S2_PAGE_NOPAGE, S2_OWNER_HOST);
	host_unmap(o, pa, size);
	return done(o);
}

/* ---- host <-> guest ------------------------------------------------------------------------ */

static int visit_any(void *arg, const struct s2_walk_visit *v)
{
	(void)arg;
	(void)v;
	return S2_EEXIST;
}

/* Validate a guest IPA range. */
static int guest_span(const struct s2_owner *o, const struct s2_owner_guest *g, uint64_t ipa,
		      uint64_t size)
{
	return check_span(o, g->pgt, ipa, size);
}

/* The permissions a guest mapping of shared RAM may have: a non-empty subset of R/W/X. */
static bool guest_prot_ok(uint64_t prot)
{
	return prot && !(prot & ~(uint64_t)S2_PROT_RWX);
}

/*
 * Guest-side checks and preparation shared by share_guest and donate_guest: the PAs fit the
 * guest stage-2's output size, no IPA of the range is mapped or annotated, and the guest's
 * cache holds the tables a page-granular map can need.
 */
static int guest_map_prepare(struct s2_owner_guest *g, uint64_t pa, uint64_t ipa, uint64_t size)
{
	int ret;

	if (pa + size > (UINT64_C(1) << g->pgt->cfg.pa_bits))
		return S2_ERANGE;
	if (size == (UINT64_C(1) << g->pgt->cfg.page_shift)) {
		/* One page: the one entry covering it (at any level) must be empty. */
		struct s2_lookup l;

		ret = s2_pgtable_lookup(g->pgt, s2_ipa(ipa), &l);
		if (!ret && l.pte)
			ret = S2_EEXIST;
	} else {
		ret = s2_pgtable_walk(g->pgt, s2_ipa(ipa), size, S2_WALK_LEAF | S2_WALK_SKIP_EMPTY,
				      visit_any, NULL);
	}
	if (ret)
		return ret;
	return cache_fill(&g->cache, g->pgt, tables_bound(g->pgt, ipa, pa, size, true));
}

/*
 * The commit's guest map. Cannot fail: guest_map_prepare() checked the IPA and PA ranges and
 * that nothing is mapped there (S2_MAP_NO_REPLACE cannot refuse: only the host stage-2, a
 * different table by guest_ok(), changed since), @prot is a legal combination (R/W/X over
 * Normal, RW Device), and g->cache holds the page-forced bound of new tables.
 */
static void guest_map(struct s2_owner_guest *g, uint64_t pa, uint64_t ipa, uint64_t size,
		      uint64_t prot)
{
	/* (One page is a page-sized leaf anyway: without FORCE_PAGES the engine's one-page path
	 * takes it, the same map.) */
	uint64_t flags = size == (UINT64_C(1) << g->pgt->cfg.page_shift) ?
				 S2_MAP_NO_REPLACE :
				 S2_MAP_FORCE_PAGES | S2_MAP_NO_REPLACE;
	int ret = s2_pgtable_map(g->pgt, s2_ipa(ipa), size, s2_pa(pa), prot, flags, &g->cache);

	S2_BUG_ON(ret);
}

/*
 * guest_map() of one donated RAM page (S2_PROT_RWX, guest state OWNED), with the leaf prepared
 * once for the guest's table (the same map: s2_pgtable_map_page()).
 */
static void guest_map_donated(struct s2_owner_guest *g, uint64_t pa, uint64_t ipa)
{
	int ret;

	if (S2_UNLIKELY(g->donate_leaf.pgt != g->pgt))
		(void)s2_pgtable_leaf_prepare(g->pgt, S2_PROT_RWX | S2_STATE_PROT(S2_PAGE_OWNED),
					      &g->donate_leaf);
	ret = s2_pgtable_map_page(g->pgt, s2_ipa(ipa), s2_pa(pa), &g->donate_leaf,
				  S2_MAP_NO_REPLACE, &g->cache);
	S2_BUG_ON(ret);
}

int s2_owner_host_share_guest(struct s2_owner *o, struct s2_owner_guest *g, s2_ipa_t ipa_t,
			      uint64_t size, s2_pa_t pa_t, uint64_t prot)
{
	uint64_t pa = s2_pa_val(pa_t), ipa = s2_ipa_val(ipa_t);
	struct s2_page_meta *m = NULL;
	bool ram;
	int ret = guest_ok(o, g);

	if (ret)
		return o ? refuse(o, ret) : ret;
	if (!guest_prot_ok(prot))
		return refuse(o, S2_EINVAL);
	ret = host_span(o, pa, size, &m);
	ram = m;
	if (!ret)
		ret = guest_span(o, g, ipa, size);
	if (ret)
		return refuse(o, ret);
	/* A protected guest's memory is donated; MMIO is assigned by donation. */
	if (g->protected_vm || !ram)
		return refuse(o, S2_EPERM);
	for (uint64_t i = 0; i < size >> o->page_shift; i++) {
		bool fresh = m[i].host_state == S2_PAGE_OWNED && m[i].hyp_state == S2_PAGE_NOPAGE;
		bool more = m[i].host_state == S2_PAGE_SHARED_OWNED &&
			    m[i].hyp_state == S2_PAGE_NOPAGE && m[i].share_count;
		if (!fresh && !more)
			return refuse(o, S2_EPERM);
		if (m[i].share_count == UINT32_MAX)
			return refuse(o, S2_ELIMIT);
	}
	ret = guest_map_prepare(g, pa, ipa, size);
	if (ret)
		return refuse(o, ret);
	for (uint64_t i = 0; i < size >> o->page_shift; i++) {
		meta_set(&m[i], S2_PAGE_SHARED_OWNED, S2_PAGE_NOPAGE, S2_OWNER_HOST);
		m[i].share_count++;
	}
	guest_map(g, pa, ipa, size, prot | S2_STATE_PROT(S2_PAGE_SHARED_BORROWED));
	return done(o);
}

static S2_NOINLINE int donate_guest_general(struct s2_owner *o, struct s2_owner_guest *g,
					    s2_pa_t pa_t, s2_ipa_t ipa_t, uint64_t size)
{
	uint64_t pa = s2_pa_val(pa_t), ipa = s2_ipa_val(ipa_t);
	struct s2_page_meta *m = NULL;
	bool ram;
	int ret = guest_ok(o, g);

	if (ret)
		return o ? refuse(o, ret) : ret;
	ret = host_span(o, pa, size, &m);
	ram = m;
	if (!ret)
		ret = guest_span(o, g, ipa, size);
	if (ret)
		return refuse(o, ret);
	if (ram && !g->protected_vm)
		return refuse(o, S2_EPERM);
	ret = host_pages_check(o, pa, size, m, donate_check);
	if (ret)
		return refuse(o, ret);
	ret = guest_map_prepare(g, pa, ipa, size);
	if (!ret)
		ret = host_cache_for(o, pa, size);
	if (ret)
		return refuse(o, ret);
	if (ram)
		meta_set_pages(o, m, size, S2_PAGE_NOPAGE, S2_PAGE_NOPAGE, g->id);
	host_annotate(o, pa, size, g->id);
	guest_map(g, pa, ipa, size,
		  (ram ? S2_PROT_RWX : (S2_PROT_R | S2_PROT_W | S2_PROT_DEVICE)) |
			  S2_STATE_PROT(S2_PAGE_OWNED));
	return done(o);
}

/*
 * One page of RAM held by one RAM range, host OWNED and hypervisor NOPAGE, donated to a
 * protected guest at an empty IPA, both page caches already holding the one-page bounds:
 * donate_guest_general()'s checks for that case in its order (guest_ok(), host_span(),
 * guest_span(), the protected test, donate_check(), guest_map_prepare(), host_cache_for()),
 * then its commit. Every other case, and every refusal, goes to donate_guest_general() from
 * the start (the checks change nothing).
 */
int s2_owner_host_donate_guest(struct s2_owner *o, struct s2_owner_guest *g, s2_ipa_t ipa_t,
			       uint64_t size, s2_pa_t pa_t)
{
	uint64_t pa = s2_pa_val(pa_t), ipa = s2_ipa_val(ipa_t);
	struct s2_page_meta *m;
	struct s2_lookup l;

	if (S2_LIKELY(!guest_ok(o, g) && (m = one_ram_page(o, pa, size)) != NULL &&
		      !(ipa & (size - 1)) && ipa <= ipa_limit(g->pgt) - size && g->protected_vm)) {
		if (S2_LIKELY(m->host_state == S2_PAGE_OWNED && m->hyp_state == S2_PAGE_NOPAGE &&
			      pa + size <= (UINT64_C(1) << g->pgt->cfg.pa_bits) &&
			      !s2_pgtable_lookup(g->pgt, ipa_t, &l) && !l.pte &&
			      g->cache.nr >= page_tables_bound(g->pgt) &&
			      o->cache.nr >= page_tables_bound(&o->host))) {
			meta_set(m, S2_PAGE_NOPAGE, S2_PAGE_NOPAGE, g->id);
			host_annotate(o, pa, size, g->id);
			guest_map_donated(g, pa, ipa);
			return done(o);
		}
	}
	return donate_guest_general(o, g, pa_t, ipa_t, size);
}

/*
 * Check every page of the guest's [ipa, ipa + size): a page-sized leaf in guest state @want
 * over RAM; @host_ok checks the metadata. S2_ENOENT for an IPA nothing maps (as mainline
 * pKVM), S2_EPERM for any other mismatch. Counts the runs of contiguous PAs (for the host
 * cache bound) in *@runs and their table bound in *@tables.
 */
typedef bool (*host_ok_fn)(const struct s2_owner_guest *g, const struct s2_page_meta *m);

static int guest_pages_check(const struct s2_owner *o, const struct s2_owner_guest *g, uint64_t ipa,
			     uint64_t size, enum s2_page_state want, host_ok_fn host_ok,
			     uint64_t *tables)
{
	uint64_t run_start = 0, run_end = 0;

	*tables = 0;
	for (uint64_t a = ipa; a < ipa + size; a += o->page_size) {
		struct s2_lookup l;
		const struct s2_page_meta *m;
		uint64_t pa;
		int ret = s2_pgtable_lookup(g->pgt, s2_ipa(a), &l);

		if (ret)
			return ret;
		if (!l.valid)
			return S2_ENOENT;
		if (l.size != o->page_size || s2_page_state_of_pte(l.pte) != want)
			return S2_EPERM;
		pa = s2_pa_val(l.pa);
		m = meta_of(o, pa);
		if (!m || !host_ok(g, m))
			return S2_EPERM;
		if (a != ipa && pa == run_end) {
			run_end += o->page_size;
			continue;
		}
		if (a != ipa)
			*tables += tables_bound(&o->host, run_start, run_start, run_end - run_start,
						false);
		run_start = pa;
		run_end = pa + o->page_size;
	}
	*tables += tables_bound(&o->host, run_start, run_start, run_end - run_start, false);
	return 0;
}

/* Apply @fn to each run of contiguous PAs behind the guest's [ipa, ipa + size). */
static void guest_runs(struct s2_owner *o, struct s2_owner_guest *g, uint64_t ipa, uint64_t size,
		       void (*fn)(struct s2_owner *o, struct s2_owner_guest *g, uint64_t pa,
				  uint64_t size))
{
	uint64_t run_start = 0, run_end = 0;

	for (uint64_t a = ipa; a < ipa + size; a += o->page_size) {
		struct s2_lookup l;
		int ret = s2_pgtable_lookup(g->pgt, s2_ipa(a), &l);

		/* guest_pages_check() found every page of the range mapped, and the commit
		 * changes the guest's leaves only after this walk. */
		S2_BUG_ON(ret || !l.valid);
		if (a != ipa && s2_pa_val(l.pa) == run_end) {
			run_end += o->page_size;
			continue;
		}
		if (a != ipa)
			fn(o, g, run_start, run_end - run_start);
		run_start = s2_pa_val(l.pa);
		run_end = run_start + o->page_size;
	}
	fn(o, g, run_start, run_end - run_start);
}

static bool host_shares(const struct s2_owner_guest *g, const struct s2_page_meta *m)
{
	(void)g;
	return m->host_state == S2_PAGE_SHARED_OWNED && m->hyp_state == S2_PAGE_NOPAGE &&
	       m->share_count;
}

/*
 * One guest mapping of each page fewer. The count is checked non-zero per page, but a range
 * can hold more leaves of one page than it has shares when the guest table was written
 * behind this layer's back (forged SW bits): the count then stops at zero, never wraps.
 */
static void run_unshare(struct s2_owner *o, struct s2_owner_guest *g, uint64_t pa, uint64_t size)
{
	struct s2_page_meta *m = meta_of(o, pa);

	(void)g;
	for (uint64_t i = 0; i < size >> o->page_shift; i++) {
		if (!m[i].share_count)
			continue;
		if (!--m[i].share_count)
			meta_set(&m[i], S2_PAGE_OWNED, S2_PAGE_NOPAGE, S2_OWNER_HOST);
	}
}

int s2_owner_host_unshare_guest(struct s2_owner *o, struct s2_owner_guest *g, s2_ipa_t ipa_t,
				uint64_t size)
{
	uint64_t ipa = s2_ipa_val(ipa_t), tables;
	int ret = guest_ok(o, g);

	if (ret)
		return o ? refuse(o, ret) : ret;
	ret = guest_span(o, g, ipa, size);
	if (!ret)
		ret = guest_pages_check(o, g, ipa, size, S2_PAGE_SHARED_BORROWED, host_shares,
					&tables);
	/* Unmapping whole pages splits nothing: the guest needs no table pages. */
	if (ret)
		return refuse(o, ret);
	guest_runs(o, g, ipa, size, run_unshare);
	/* Cannot fail: a checked range of page-sized leaves, so no split and no allocation. */
	ret = s2_pgtable_unmap(g->pgt, ipa_t, size, &g->cache);
	S2_BUG_ON(ret);
	return done(o);
}

int s2_owner_host_set_prot_guest(struct s2_owner *o, struct s2_owner_guest *g, s2_ipa_t ipa_t,
				 uint64_t size, uint64_t prot)
{
	uint64_t ipa = s2_ipa_val(ipa_t), tables;
	int ret = guest_ok(o, g);

	if (ret)
		return o ? refuse(o, ret) : ret;
	if (!guest_prot_ok(prot))
		return refuse(o, S2_EINVAL);
	ret = guest_span(o, g, ipa, size);
	if (!ret && g->protected_vm)
		ret = S2_EPERM;
	if (!ret)
		ret = guest_pages_check(o, g, ipa, size, S2_PAGE_SHARED_BORROWED, host_shares,
					&tables);
	if (ret)
		return refuse(o, ret);
	/*
	 * Page-sized leaves: nothing splits. The engine checks exec against the memory type
	 * before changing anything, so its S2_EMEMTYPE (only for a leaf made Device behind this
	 * layer's back: shares are mapped Normal) is a clean refusal.
	 */
	ret = s2_pgtable_set_prot(g->pgt, ipa_t, size, prot, S2_PROT_RWX & ~prot);
	if (ret)
		return refuse(o, ret);
	return done(o);
}

static bool guest_owns(const struct s2_owner_guest *g, const struct s2_page_meta *m)
{
	return m->host_state == S2_PAGE_NOPAGE && m->owner == g->id;
}

static bool guest_lends(const struct s2_owner_guest *g, const struct s2_page_meta *m)
{
	return m->host_state == S2_PAGE_SHARED_BORROWED && m->owner == g->id;
}

static void run_share_host(struct s2_owner *o, struct s2_owner_guest *g, uint64_t pa, uint64_t size)
{
	meta_set_range(o, pa, size, S2_PAGE_SHARED_BORROWED, S2_PAGE_NOPAGE, g->id);
	host_unmap(o, pa, size); /* the annotation goes: the host faults the pages in */
}

static void run_unshare_host(struct s2_owner *o, struct s2_owner_guest *g, uint64_t pa,
			     uint64_t size)
{
	meta_set_range(o, pa, size, S2_PAGE_NOPAGE, S2_PAGE_NOPAGE, g->id);
	host_annotate(o, pa, size, g->id);
}

/*
 * Change the guest's state bits over [ipa, ipa + size). Cannot fail: a checked range of
 * valid page-sized leaves, and only SW bits change (no exec, so no memory-type refusal).
 */
static void guest_set_state(struct s2_owner_guest *g, uint64_t ipa, uint64_t size,
			    enum s2_page_state st)
{
	uint64_t set = S2_STATE_PROT(st);
	int ret = s2_pgtable_set_prot(g->pgt, s2_ipa(ipa), size, set,
				      S2_STATE_PROT(S2_PAGE_RESERVED) & ~set);

	S2_BUG_ON(ret);
}

int s2_owner_guest_share_host(struct s2_owner *o, struct s2_owner_guest *g, s2_ipa_t ipa_t,
			      uint64_t size)
{
	uint64_t ipa = s2_ipa_val(ipa_t), tables;
	int ret = guest_ok(o, g);

	if (ret)
		return o ? refuse(o, ret) : ret;
	ret = guest_span(o, g, ipa, size);
	if (!ret)
		ret = guest_pages_check(o, g, ipa, size, S2_PAGE_OWNED, guest_owns, &tables);
	if (!ret)
		ret = cache_fill(&o->cache, &o->host, tables);
	if (ret)
		return refuse(o, ret);
	guest_runs(o, g, ipa, size, run_share_host);
	guest_set_state(g, ipa, size, S2_PAGE_SHARED_OWNED);
	return done(o);
}

int s2_owner_guest_unshare_host(struct s2_owner *o, struct s2_owner_guest *g, s2_ipa_t ipa_t,
				uint64_t size)
{
	uint64_t ipa = s2_ipa_val(ipa_t), tables;
	int ret = guest_ok(o, g);

	if (ret)
		return o ? refuse(o, ret) : ret;
	ret = guest_span(o, g, ipa, size);
	if (!ret)
		ret = guest_pages_check(o, g, ipa, size, S2_PAGE_SHARED_OWNED, guest_lends,
					&tables);
	if (!ret)
		ret = cache_fill(&o->cache, &o->host, tables);
	if (ret)
		return refuse(o, ret);
	guest_runs(o, g, ipa, size, run_unshare_host);
	guest_set_state(g, ipa, size, S2_PAGE_OWNED);
	return done(o);
}

/* ---- guest teardown ----------------------------------------------------------------------------- */

struct first_leaf {
	struct s2_walk_visit v;
	bool found;
};

static int visit_first_leaf(void *arg, const struct s2_walk_visit *v)
{
	struct first_leaf *f = arg;

	f->v = *v;
	f->found = true;
	return S2_EEXIST; /* stop: found */
}

/*
 * Whether a transition made guest @g's leaf mapping [pa, pa + size) in guest state @st: every
 * page behind it is recorded in the matching state, in the metadata for RAM (*@mp: its first
 * page's) or the host stage-2's annotation for MMIO (*@mp NULL). pKVM likewise checks the
 * host's page state behind a guest leaf before acting on it (__check_host_shared_guest()).
 */
static bool leaf_vouched(const struct s2_owner *o, const struct s2_owner_guest *g, uint64_t pa,
			 uint64_t size, enum s2_page_state st, struct s2_page_meta **mp)
{
	struct s2_page_meta *m;

	if (host_span(o, pa, size, &m))
		return false; /* beyond the host's PA space, or RAM and MMIO in one leaf */
	*mp = m;
	for (uint64_t i = 0; i < size >> o->page_shift; i++) {
		struct s2_page_info info;

		if (m)
			meta_info(&m[i], &info);
		else
			mmio_info(o, pa + (i << o->page_shift), &info);
		switch (st) {
		case S2_PAGE_OWNED:
			if (info.host != S2_PAGE_NOPAGE || info.owner != g->id)
				return false;
			break;
		case S2_PAGE_SHARED_OWNED:
			if (!m || info.host != S2_PAGE_SHARED_BORROWED || info.owner != g->id)
				return false;
			break;
		case S2_PAGE_SHARED_BORROWED:
			if (!m || !host_shares(g, &m[i]))
				return false;
			break;
		default:
			return false; /* RESERVED: never written by a transition */
		}
	}
	return true;
}

int s2_owner_guest_destroy(struct s2_owner *o, struct s2_owner_guest *g, s2_scrub_fn scrub,
			   void *scrub_ctx)
{
	int ret = guest_ok(o, g);
	uint64_t limit;

	if (ret)
		return ret;
	limit = ipa_limit(g->pgt);
	/* Everything below @cursor has been handled and unmapped: resume the search there. */
	for (uint64_t cursor = 0; cursor < limit;) {
		struct first_leaf f = { .found = false };
		struct s2_page_meta *m = NULL;
		enum s2_page_state st = S2_PAGE_OWNED;
		uint64_t ipa, size, pa = 0;
		bool vouched = false;
		struct s2_lookup l;

		s2_pgtable_walk(g->pgt, s2_ipa(cursor), limit - cursor,
				S2_WALK_LEAF | S2_WALK_SKIP_EMPTY, visit_first_leaf, &f);
		if (!f.found)
			break;
		ipa = s2_ipa_val(f.v.ipa);
		size = f.v.size;
		if (s2_leaf_is_valid(f.v.pte) && !s2_pgtable_lookup(g->pgt, s2_ipa(ipa), &l)) {
			pa = s2_pa_val(l.pa);
			st = s2_page_state_of_pte(f.v.pte);
			vouched = leaf_vouched(o, g, pa, size, st, &m);
		}
		if (!vouched) {
			/* An annotation or a leaf no transition made (the VM layer's fault path
			 * mapped host memory, say): the host's state is not the guest's to give
			 * back. Only the guest's access goes; nothing is scrubbed. */
			o->stats.foreign_dropped++;
		} else if (st == S2_PAGE_SHARED_BORROWED) {
			run_unshare(o, g, pa, size);
		} else {
			/* Owned by the guest (RAM, possibly shared back, or assigned MMIO). */
			if (m && !scrub)
				return S2_EINVAL;
			ret = host_cache_for(o, pa, size);
			if (ret)
				return ret;
			if (m) {
				scrub(scrub_ctx, s2_pa(pa), size);
				meta_set_pages(o, m, size, S2_PAGE_OWNED, S2_PAGE_NOPAGE,
					       S2_OWNER_HOST);
			}
			host_unmap(o, pa, size);
		}
		/* Cannot fail: one whole leaf or annotation of a live table, so nothing
		 * splits and nothing is allocated. */
		ret = s2_pgtable_unmap(g->pgt, s2_ipa(ipa), size, &g->cache);
		S2_BUG_ON(ret);
		cursor = ipa + size;
	}
	s2_page_cache_drain(&g->cache, &g->pgt->port, o->page_size);
	o->stats.transitions++;
	return 0;
}

/* ---- queries ------------------------------------------------------------------------------------ */

int s2_owner_page_info(const struct s2_owner *o, s2_pa_t pa, struct s2_page_info *info)
{
	uint64_t a = s2_pa_val(pa);

	if (!o || !info)
		return S2_EINVAL;
	if (!S2_IS_ALIGNED(a, o->page_size))
		return S2_EALIGN;
	if (a >= ipa_limit(&o->host))
		return S2_ERANGE;
	page_info(o, a, info);
	if (info->hyp == S2_PAGE_SHARED_BORROWED)
		info->share_count = 0; /* the counter holds the hypervisor's pins */
	else
		info->pin_count = 0;
	return 0;
}

int s2_owner_guest_page(const struct s2_owner_guest *g, s2_ipa_t ipa, enum s2_page_state *state,
			s2_pa_t *pa)
{
	struct s2_lookup l;
	int ret;

	if (!g || !g->pgt || !state)
		return S2_EINVAL;
	ret = s2_pgtable_lookup(g->pgt, ipa, &l);
	if (ret)
		return ret;
	if (!l.valid) {
		*state = S2_PAGE_NOPAGE;
		if (pa)
			*pa = s2_pa(0);
		return 0;
	}
	*state = s2_page_state_of_pte(l.pte);
	if (pa)
		*pa = l.pa;
	return 0;
}
