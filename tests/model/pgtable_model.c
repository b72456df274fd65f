// SPDX-License-Identifier: MIT
/*
 * pgtable_model.c - a shadow model of one VM's stage-2 mappings and an operation interpreter
 * that drives the page-table engine and checks it against the model after every operation.
 *
 * Part of the test library s2_test_model (pgtable_model.h), linked by the property test
 * tests/unit/test_pgtable_prop.c, which feeds it a seeded PRNG, and by the libFuzzer target
 * fuzz/fuzz_pgtable.c, which feeds it input bytes.
 *
 * The model is an ordered list of extents of IPA space: each is either mapped (linear output
 * address, R/W/X, memory type, SW bits, AF, DBM) or annotated with an owner; gaps are unmapped.
 * That keeps it small for any IPA size (a 512 GiB block is one extent).
 *
 * After each operation the interpreter checks:
 *  1. the return code is one the contract allows for the generated input;
 *  2. refused operations left the tables bit-identical (hash of a full s2_pgtable_walk dump);
 *  3. every entry of the tables, decoded with the architectural bit positions (Arm ARM D8.3),
 *     equals the model over the whole IPA space (no stray, missing or wrong mapping);
 *  4. the reference walker (s2_walk) translates sampled IPAs as the model says, with the fault
 *     kind the architecture gives (translation, access flag, permission) and the same leaf size
 *     as the dump;
 *  5. leaf geometry: a successful map uses the largest block the alignment allows (pages when
 *     forced), split leaves only pages in its range, collapse folds uniform last-level tables;
 *  6. the TLB model, filled from the walker before the operation (successful reads, and the
 *     accesses that gave a permission fault: a TLB may keep those) and fed every TLBI the
 *     engine issued, holds no stale translation afterwards (s2_tlb_check);
 *  6b. without FWB, the Normal WB memory the guest lost (unmapped, annotated, replaced) was
 *     cleaned to PoC after a TLBI, and nothing else was (with FWB: never anything);
 *  6c. break-before-make, observed at the port (a wrapper of the host port's ops): every leaf
 *     replaced with another output, memory type or leaf size was invalid at a broadcast TLBI
 *     and still invalid at the DSB ISH after it; a map's fresh cache maintenance comes before
 *     its entries are valid; every page that became executable had its I-cache invalidated;
 *  7. s2_pgtable_check() passes, it counts as many table pages as the dump has, and the host
 *     port has exactly those pages (plus the page cache's) allocated: no leak.
 */
#include "pgtable_model.h"

#include <stdarg.h>

#if defined(__GNUC__) || defined(__clang__)
#define S2M_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define S2M_PRINTF(fmt, args)
#endif

#define S2M_LEAF_BUDGET 6000 /* above this many leaves, the next operation clears a window */

/* ---- random source: a seeded PRNG or fuzz input bytes -------------------------------------- */

void s2m_rng_seed(struct s2m_rng *r, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	r->state = seed;
}

void s2m_rng_bytes(struct s2m_rng *r, const uint8_t *data, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->data = data;
	r->len = len;
}

/* splitmix64 */
static uint64_t s2m_rng_u64(struct s2m_rng *r)
{
	uint64_t z;

	if (r->data) {
		uint64_t v = 0;

		for (int i = 0; i < 8; i++) {
			if (r->pos >= r->len) {
				r->exhausted = true;
				break;
			}
			v = (v << 8) | r->data[r->pos++];
		}
		return v;
	}
	z = (r->state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A value in [0, n); n >= 1. Fuzz mode spends 1, 2 or 8 bytes depending on n. */
static uint64_t s2m_below(struct s2m_rng *r, uint64_t n)
{
	if (n <= 1)
		return 0;
	if (r->data) {
		uint64_t v = 0;
		int bytes = n <= 256 ? 1 : n <= 65536 ? 2 : 8;

		for (int i = 0; i < bytes; i++) {
			if (r->pos >= r->len) {
				r->exhausted = true;
				break;
			}
			v = (v << 8) | r->data[r->pos++];
		}
		return v % n;
	}
	return s2m_rng_u64(r) % n;
}

/* true with probability 1/n */
static bool s2m_one_in(struct s2m_rng *r, uint64_t n)
{
	return s2m_below(r, n) == 0;
}

/* ---- the config matrix ------------------------------------------------------------------------- */

const struct s2m_cfg_desc s2m_cfgs[] = {
	{ "4k-ipa32-pa48", 48, 32, S2_GRANULE_4K, 0 },
	{ "4k-ipa40-pa48-fwb", 48, 40, S2_GRANULE_4K, S2_CFG_FWB },
	{ "4k-ipa48-pa48-ha", 48, 48, S2_GRANULE_4K, S2_CFG_HA },
	{ "4k-ipa40-pa48-ha-hd", 48, 40, S2_GRANULE_4K, S2_CFG_HA | S2_CFG_HD },
	{ "4k-ipa44-pa52(ds)", 52, 44, S2_GRANULE_4K, 0 },
	{ "4k-ipa52-pa52(ds)-fwb", 52, 52, S2_GRANULE_4K, S2_CFG_FWB },
	{ "16k-ipa36-pa48-fwb", 48, 36, S2_GRANULE_16K, S2_CFG_FWB },
	{ "16k-ipa47-pa48", 48, 47, S2_GRANULE_16K, 0 },
	{ "16k-ipa52-pa52(ds)-ha-fwb", 52, 52, S2_GRANULE_16K, S2_CFG_HA | S2_CFG_FWB },
	{ "64k-ipa42-pa48", 48, 42, S2_GRANULE_64K, 0 },
	{ "64k-ipa48-pa48-fwb", 48, 48, S2_GRANULE_64K, S2_CFG_FWB },
	{ "64k-ipa52-pa52(lpa)", 52, 52, S2_GRANULE_64K, 0 },
};

_Static_assert(S2_ARRAY_SIZE(s2m_cfgs) == S2M_NR_CFGS, "S2M_NR_CFGS is the size of s2m_cfgs");

/* ---- the model: extents of IPA space ------------------------------------------------------ */

enum { S2M_EMPTY = 0, S2M_MAPPED, S2M_ANNOTATED };
/* Memory types as the engine's S2_PROT_* flags ask for them. */
enum { S2M_MT_WB = 0, S2M_MT_NC, S2M_MT_DEV_NGNRE, S2M_MT_DEV_NGNRNE };

struct s2m_val {
	uint8_t state;
	uint8_t owner; /* annotated */
	uint8_t perms; /* S2_PROT_R/W/X */
	uint8_t mt;
	uint8_t sw;
	bool af;
	bool dbm;
	uint64_t pa; /* output address of the extent's first byte */
};

struct s2m_ext {
	uint64_t start, end;
	struct s2m_val v;
};

static void s2m_list_free(struct s2m_list *l)
{
	free(l->e);
	memset(l, 0, sizeof(*l));
}

static void s2m_list_push(struct s2m_list *l, const struct s2m_ext *x)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->e = realloc(l->e, l->cap * sizeof(*l->e));
		if (!l->e)
			abort();
	}
	l->e[l->n++] = *x;
}

static void s2m_list_copy(struct s2m_list *dst, const struct s2m_list *src)
{
	dst->n = 0;
	for (size_t i = 0; i < src->n; i++)
		s2m_list_push(dst, &src->e[i]);
}

static uint64_t s2m_pa_at(const struct s2m_ext *e, uint64_t x)
{
	return e->v.pa + (x - e->start);
}

/* Whether extents @a and @b (NULL: unmapped) describe the same thing at IPA @x. */
static bool s2m_same_at(const struct s2m_ext *a, const struct s2m_ext *b, uint64_t x)
{
	if (!a || !b)
		return !a && !b;
	if (a->v.state != b->v.state)
		return false;
	if (a->v.state == S2M_ANNOTATED)
		return a->v.owner == b->v.owner;
	return s2m_pa_at(a, x) == s2m_pa_at(b, x) && a->v.perms == b->v.perms &&
	       a->v.mt == b->v.mt && a->v.sw == b->v.sw && a->v.af == b->v.af &&
	       a->v.dbm == b->v.dbm;
}

/* Join neighbours that continue each other. */
static void s2m_list_merge(struct s2m_list *l)
{
	size_t o = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (o && l->e[o - 1].end == l->e[i].start &&
		    s2m_same_at(&l->e[o - 1], &l->e[i], l->e[i].start)) {
			l->e[o - 1].end = l->e[i].end;
			continue;
		}
		l->e[o++] = l->e[i];
	}
	l->n = o;
}

/* The extent containing @x, or NULL; *@next gets where the answer next changes. */
static const struct s2m_ext *s2m_at(const struct s2m_list *l, uint64_t x, uint64_t *next)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) { /* first extent with end > x */
		size_t mid = (lo + hi) / 2;

		if (l->e[mid].end > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == l->n) {
		*next = UINT64_MAX;
		return NULL;
	}
	if (l->e[lo].start <= x) {
		*next = l->e[lo].end;
		return &l->e[lo];
	}
	*next = l->e[lo].start;
	return NULL;
}

/* Replace [start, end) by @v (state S2M_EMPTY removes it). */
static void s2m_list_set(struct s2m_list *l, uint64_t start, uint64_t end, const struct s2m_val *v)
{
	struct s2m_list out = { 0 };
	bool placed = false;

	for (size_t i = 0; i < l->n; i++) {
		struct s2m_ext e = l->e[i];

		if (e.end <= start || e.start >= end) {
			if (!placed && e.start >= end && v->state != S2M_EMPTY) {
				struct s2m_ext n = { start, end, *v };

				s2m_list_push(&out, &n);
				placed = true;
			}
			s2m_list_push(&out, &e);
			continue;
		}
		if (e.start < start) {
			struct s2m_ext left = e;

			left.end = start;
			s2m_list_push(&out, &left);
		}
		if (!placed && v->state != S2M_EMPTY) {
			struct s2m_ext n = { start, end, *v };

			s2m_list_push(&out, &n);
			placed = true;
		}
		if (e.end > end) {
			struct s2m_ext right = e;

			right.start = end;
			right.v.pa = s2m_pa_at(&e, end);
			s2m_list_push(&out, &right);
		}
	}
	if (!placed && v->state != S2M_EMPTY) {
		struct s2m_ext n = { start, end, *v };

		s2m_list_push(&out, &n);
	}
	free(l->e);
	*l = out;
	s2m_list_merge(l);
}

/* Cut extents at @x so that no extent straddles it. */
static void s2m_list_cut(struct s2m_list *l, uint64_t x)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->e[i].start < x && l->e[i].end > x) {
			struct s2m_ext right = l->e[i];

			right.start = x;
			right.v.pa = s2m_pa_at(&l->e[i], x);
			l->e[i].end = x;
			s2m_list_push(l, &right);
			memmove(&l->e[i + 2], &l->e[i + 1], (l->n - i - 2) * sizeof(*l->e));
			l->e[i + 1] = right;
			return;
		}
	}
}

/* ---- the interpreter context ----------------------------------------------------------------- */

struct s2m_leaf {
	uint64_t ipa, size;
	int level;
	s2_pte_t pte;
};

static void s2m_fail(struct s2m_ctx *c, const char *fmt, ...) S2M_PRINTF(2, 3);
static void s2m_fail(struct s2m_ctx *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->failed)
		return;
	c->failed = true;
	n = snprintf(c->msg, sizeof(c->msg), "[%s] op #%lu %s: ", c->desc ? c->desc->name : "?",
		     c->opno, c->opdesc);
	if (n < 0 || (size_t)n >= sizeof(c->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(c->msg + n, sizeof(c->msg) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ---- decoding descriptors with the architectural bit positions (Arm ARM D8.3) ---------------- */

/* Stage-2 MemAttr[3:0] for each model memory type: FWB off (0b1111 WB, 0b0101 NC, 0b0001
 * Device-nGnRE, 0b0000 Device-nGnRnE), FWB on (0b0110 forced WB, 0b0101 NC, Device 0b00xx). */
static const uint8_t s2m_memattr_nofwb[4] = { 0xf, 0x5, 0x1, 0x0 };
static const uint8_t s2m_memattr_fwb[4] = { 0x6, 0x5, 0x1, 0x0 };

static uint8_t s2m_expected_memattr(const struct s2m_ctx *c, uint8_t mt)
{
	return c->cfg.fwb ? s2m_memattr_fwb[mt] : s2m_memattr_nofwb[mt];
}

static uint64_t s2m_level_size(const struct s2m_ctx *c, int level)
{
	unsigned int bpl = c->cfg.page_shift - 3;

	return UINT64_C(1) << (c->cfg.page_shift + (unsigned int)(3 - level) * bpl);
}

static bool s2m_level_has_blocks(const struct s2m_ctx *c, int level)
{
	return level < 3 && s2_config_level_has_blocks(&c->cfg, level);
}

/* Output address of a valid descriptor: OA[47:page_shift] in place; with DS (4K/16K, LPA2)
 * OA[49:page_shift] in place and OA[51:50] in bits [9:8]; with 64K and LPA OA[51:48] in
 * bits [15:12]. */
static uint64_t s2m_pte_oa(const struct s2m_ctx *c, s2_pte_t pte)
{
	unsigned int ps = c->cfg.page_shift;

	if (c->cfg.ds)
		return (pte & S2_GENMASK(49, ps)) | (((pte >> 8) & 3) << 50);
	if (c->cfg.granule == S2_GRANULE_64K && c->cfg.lpa)
		return (pte & S2_GENMASK(47, 16)) | (((pte >> 12) & 0xf) << 48);
	return pte & S2_GENMASK(47, ps);
}

/* Decode a leaf (valid block/page, or invalid entry) into a model value. Return false with a
 * failure recorded for anything the engine must never leave in a table. */
static bool s2m_decode_leaf(struct s2m_ctx *c, const struct s2m_leaf *lf, struct s2m_val *v)
{
	s2_pte_t pte = lf->pte;
	uint8_t memattr, xn;
	int mt;

	memset(v, 0, sizeof(*v));
	if (!(pte & S2_PTE_VALID)) {
		uint64_t owner = (pte >> 2) & 0xff;

		if (pte & ~S2_GENMASK(9, 2) || !owner) {
			s2m_fail(c,
				 "invalid entry at IPA 0x%" PRIx64 " L%d = 0x%016" PRIx64
				 " is neither empty nor an owner annotation",
				 lf->ipa, lf->level, pte);
			return false;
		}
		v->state = S2M_ANNOTATED;
		v->owner = (uint8_t)owner;
		return true;
	}
	if (lf->level == 3 ? !(pte & S2_PTE_TYPE) : !!(pte & S2_PTE_TYPE)) {
		s2m_fail(c,
			 "reserved/unexpected descriptor type at IPA 0x%" PRIx64
			 " L%d: 0x%016" PRIx64,
			 lf->ipa, lf->level, pte);
		return false;
	}
	if (lf->level < 3 && !s2m_level_has_blocks(c, lf->level)) {
		s2m_fail(c,
			 "block at L%d where blocks are not legal, IPA 0x%" PRIx64
			 ": 0x%016" PRIx64,
			 lf->level, lf->ipa, pte);
		return false;
	}
	v->state = S2M_MAPPED;
	v->pa = s2m_pte_oa(c, pte);
	if (v->pa & (lf->size - 1)) {
		s2m_fail(c,
			 "leaf at IPA 0x%" PRIx64 " L%d has OA 0x%" PRIx64
			 " not aligned to its size",
			 lf->ipa, lf->level, v->pa);
		return false;
	}
	if (v->pa + lf->size > c->pa_limit) {
		s2m_fail(c, "leaf at IPA 0x%" PRIx64 " outputs 0x%" PRIx64 " beyond the PA size",
			 lf->ipa, v->pa);
		return false;
	}
	memattr = (uint8_t)((pte >> 2) & 0xf);
	for (mt = 0; mt < 4; mt++)
		if (s2m_expected_memattr(c, (uint8_t)mt) == memattr)
			break;
	if (mt == 4) {
		s2m_fail(c,
			 "leaf at IPA 0x%" PRIx64
			 " has MemAttr 0x%x, not one the engine may use (fwb=%d)",
			 lf->ipa, memattr, c->cfg.fwb);
		return false;
	}
	v->mt = (uint8_t)mt;
	v->perms = (uint8_t)(((pte & S2_PTE_S2AP_R) ? S2_PROT_R : 0) |
			     ((pte & S2_PTE_S2AP_W) ? S2_PROT_W : 0));
	xn = (uint8_t)((pte >> 53) & 3);
	if (xn == 0)
		v->perms |= S2_PROT_X;
	else if (xn != 2) {
		s2m_fail(c, "leaf at IPA 0x%" PRIx64 " has XN=%u (exec for only one EL)", lf->ipa,
			 xn);
		return false;
	}
	v->af = !!(pte & S2_PTE_AF);
	v->dbm = !!(pte & S2_PTE_DBM);
	v->sw = (uint8_t)((pte >> 55) & 0xf);
	if (pte & (S2_PTE_PBHA | S2_BIT(11))) {
		s2m_fail(c, "leaf at IPA 0x%" PRIx64 " sets bit 11 or PBHA bits: 0x%016" PRIx64,
			 lf->ipa, pte);
		return false;
	}
	return true;
}

/* ---- dumping the tables with the engine's walker ---------------------------------------------- */

struct s2m_dump_arg {
	struct s2m_ctx *c;
	uint64_t hash;
};

static int s2m_dump_visit(void *arg, const struct s2_walk_visit *vis)
{
	struct s2m_dump_arg *d = arg;
	struct s2m_ctx *c = d->c;
	uint64_t h = d->hash;

	h ^= s2_ipa_val(vis->ipa) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h ^= (uint64_t)(vis->level + 2) * 0x100000001b3ull + vis->flag;
	h = (h ^ vis->pte) * 0xff51afd7ed558ccdull;
	d->hash = h;
	if (vis->flag & S2_WALK_TABLE_PRE) {
		c->dump_tables++;
		return 0;
	}
	if (!(vis->flag & S2_WALK_LEAF))
		return 0;
	if (vis->pte == 0)
		return 0;
	if (c->nleaves == c->leaves_cap) {
		c->leaves_cap = c->leaves_cap ? 2 * c->leaves_cap : 1024;
		c->leaves = realloc(c->leaves, c->leaves_cap * sizeof(*c->leaves));
		if (!c->leaves)
			abort();
	}
	c->leaves[c->nleaves++] =
		(struct s2m_leaf){ s2_ipa_val(vis->ipa), vis->size, vis->level, vis->pte };
	return 0;
}

/* Dump every entry; rebuild c->actual and c->leaves. Return false on failure. */
static bool s2m_dump(struct s2m_ctx *c)
{
	struct s2m_dump_arg d = { c, 0xcbf29ce484222325ull };
	int ret;

	c->nleaves = 0;
	c->dump_tables = 0;
	c->actual.n = 0;
	ret = s2_pgtable_walk(&c->pgt, s2_ipa(0), c->ipa_limit,
			      S2_WALK_LEAF | S2_WALK_TABLE_PRE | S2_WALK_SKIP_EMPTY, s2m_dump_visit,
			      &d);
	if (ret) {
		s2m_fail(c, "s2_pgtable_walk over the whole IPA space returned %s",
			 s2_errname(ret));
		return false;
	}
	c->dump_hash = d.hash;
	for (size_t i = 0; i < c->nleaves; i++) {
		const struct s2m_leaf *lf = &c->leaves[i];
		struct s2m_ext e;

		if (i && lf->ipa < c->leaves[i - 1].ipa + c->leaves[i - 1].size) {
			s2m_fail(c, "walk visited overlapping/unordered leaves at 0x%" PRIx64,
				 lf->ipa);
			return false;
		}
		if (lf->size != s2m_level_size(c, lf->level) || (lf->ipa & (lf->size - 1))) {
			s2m_fail(c,
				 "walk reported leaf 0x%" PRIx64 " L%d size 0x%" PRIx64
				 " inconsistent with its level",
				 lf->ipa, lf->level, lf->size);
			return false;
		}
		if (!s2m_decode_leaf(c, lf, &e.v))
			return false;
		e.start = lf->ipa;
		e.end = lf->ipa + lf->size;
		s2m_list_push(&c->actual, &e);
	}
	s2m_list_merge(&c->actual);
	if (c->nleaves > c->st.max_leaves)
		c->st.max_leaves = c->nleaves;
	if (c->dump_tables > c->st.max_tables)
		c->st.max_tables = c->dump_tables;
	return true;
}

/* The dump's leaf containing @x, or NULL. */
static const struct s2m_leaf *s2m_leaf_at(const struct s2m_ctx *c, uint64_t x)
{
	size_t lo = 0, hi = c->nleaves;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->leaves[mid].ipa + c->leaves[mid].size > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo < c->nleaves && c->leaves[lo].ipa <= x)
		return &c->leaves[lo];
	return NULL;
}

static void s2m_describe(const struct s2m_ext *e, uint64_t x, char *buf, size_t n)
{
	if (!e)
		snprintf(buf, n, "unmapped");
	else if (e->v.state == S2M_ANNOTATED)
		snprintf(buf, n, "annotated owner %u", e->v.owner);
	else
		snprintf(buf, n, "pa 0x%" PRIx64 " perms %c%c%c mt %u sw %u af %d dbm %d",
			 s2m_pa_at(e, x), e->v.perms & S2_PROT_R ? 'r' : '-',
			 e->v.perms & S2_PROT_W ? 'w' : '-', e->v.perms & S2_PROT_X ? 'x' : '-',
			 e->v.mt, e->v.sw, e->v.af, e->v.dbm);
}

/* Compare two lists over the whole space; report the first difference. */
static bool s2m_compare(struct s2m_ctx *c, const struct s2m_list *want, const struct s2m_list *got,
			const char *what)
{
	uint64_t x = 0;

	while (x < c->ipa_limit) {
		uint64_t na, nb;
		const struct s2m_ext *a = s2m_at(want, x, &na);
		const struct s2m_ext *b = s2m_at(got, x, &nb);

		if (!s2m_same_at(a, b, x)) {
			char da[128], db[128];

			s2m_describe(a, x, da, sizeof(da));
			s2m_describe(b, x, db, sizeof(db));
			s2m_fail(c, "%s: IPA 0x%" PRIx64 ": model says %s, tables say %s", what, x,
				 da, db);
			return false;
		}
		x = na < nb ? na : nb;
	}
	return true;
}

/* Partial outcome (S2_ENOMEM, S2_EEXIST): each page must be as before or as requested. */
static bool s2m_compare_either(struct s2m_ctx *c, const struct s2m_list *old,
			       const struct s2m_list *want, const struct s2m_list *got)
{
	uint64_t x = 0;

	while (x < c->ipa_limit) {
		uint64_t na, nb, ng, nx;
		const struct s2m_ext *a = s2m_at(old, x, &na);
		const struct s2m_ext *b = s2m_at(want, x, &nb);
		const struct s2m_ext *g = s2m_at(got, x, &ng);

		nx = na < nb ? na : nb;
		nx = nx < ng ? nx : ng;
		/* within [x, nx) all three are linear: checking x suffices */
		if (!s2m_same_at(a, g, x) && !s2m_same_at(b, g, x)) {
			char da[128], db[128], dg[128];

			s2m_describe(a, x, da, sizeof(da));
			s2m_describe(b, x, db, sizeof(db));
			s2m_describe(g, x, dg, sizeof(dg));
			s2m_fail(c,
				 "partial failure left IPA 0x%" PRIx64
				 " as [%s], neither as before [%s] nor as requested [%s]",
				 x, dg, da, db);
			return false;
		}
		x = nx;
	}
	return true;
}

/* ---- the reference walker as the oracle -------------------------------------------------------- */

bool s2m_walk(struct s2m_ctx *c, uint64_t ipa, enum s2_access_type t, bool el0,
	      struct s2_walk_result *res)
{
	struct s2_access acc = { .type = t, .el0 = el0, .s1ptw = false };
	int ret;

	memset(res, 0, sizeof(*res));
	ret = s2_walk(&c->cfg, c->pgt.root_pa, &c->mem, s2_ipa(ipa), acc, res);
	c->st.walks++;
	if (ret) {
		s2m_fail(c, "s2_walk(0x%" PRIx64 ") returned %s", ipa, s2_errname(ret));
		return false;
	}
	return true;
}

/* What the architecture says an access to @x must do under the model. */
static enum s2_fault s2m_expected_fault(const struct s2m_ctx *c, const struct s2m_ext *e,
					enum s2_access_type t)
{
	unsigned int need;

	if (!e || e->v.state != S2M_MAPPED)
		return S2_FAULT_TRANSLATION;
	/* An access flag fault has priority over a permission fault (Arm ARM, AArch64.S2Walk:
	 * the AF check is part of the walk; permissions are checked on its result). */
	if (!e->v.af && !c->cfg.ha)
		return S2_FAULT_ACCESS_FLAG;
	need = t == S2_ACCESS_READ ? S2_PROT_R : t == S2_ACCESS_WRITE ? S2_PROT_W : S2_PROT_X;
	/* With VTCR_EL2.HD a write through a DBM descriptor is permitted (hardware sets S2AP[1];
	 * the checks walk without a writer, so the tables stay unchanged). */
	if (need == S2_PROT_W && c->cfg.hd && e->v.dbm)
		return S2_FAULT_NONE;
	if (!(e->v.perms & need))
		return S2_FAULT_PERMISSION;
	return S2_FAULT_NONE;
}

/* Walk @x with each access type and compare to the model; with @fill, put successful read
 * translations into the TLB model. */
static bool s2m_check_ipa(struct s2m_ctx *c, uint64_t x, bool fill, bool all_types)
{
	static const enum s2_access_type types[3] = { S2_ACCESS_READ, S2_ACCESS_WRITE,
						      S2_ACCESS_EXEC };
	uint64_t next;
	const struct s2m_ext *e = s2m_at(&c->model, x, &next);
	const struct s2m_leaf *lf = s2m_leaf_at(c, x);

	for (int i = 0; i < (all_types ? 4 : 1); i++) {
		struct s2_walk_result res;
		enum s2_access_type t = types[i < 3 ? i : 2];
		enum s2_fault want = s2m_expected_fault(c, e, t);
		char d[128];

		if (!s2m_walk(c, x, t, i == 3, &res))
			return false;
		s2m_describe(e, x, d, sizeof(d));
		if (res.fault != want) {
			s2m_fail(c,
				 "walker: IPA 0x%" PRIx64
				 " access %d%s: fault %s, expected %s (model: %s)",
				 x, (int)t, i == 3 ? " (EL0)" : "", s2_fault_name(res.fault),
				 s2_fault_name(want), d);
			return false;
		}
		if (res.fault == S2_FAULT_NONE || res.fault == S2_FAULT_PERMISSION ||
		    res.fault == S2_FAULT_ACCESS_FLAG) {
			/* the leaf the walker used is the dump's leaf */
			if (!lf || lf->level != res.level) {
				s2m_fail(c,
					 "walker: IPA 0x%" PRIx64
					 " ended at L%d, the dump has %s L%d",
					 x, res.level, lf ? "a leaf at" : "no leaf",
					 lf ? lf->level : -9);
				return false;
			}
		}
		/* A TLB may keep the entry that gave a permission fault (Arm ARM D8.17). */
		if (fill && res.fault == S2_FAULT_PERMISSION)
			s2_tlb_fill(&c->tlb, S2M_VMID, s2_ipa(x), &res);
		if (res.fault != S2_FAULT_NONE)
			continue;
		if (res.pa.pa != s2m_pa_at(e, x) ||
		    res.memattr != s2m_expected_memattr(c, e->v.mt) || res.sw != e->v.sw ||
		    res.block_size != lf->size) {
			s2m_fail(c,
				 "walker: IPA 0x%" PRIx64 " -> pa 0x%" PRIx64
				 " memattr 0x%x sw %u size 0x%" PRIx64
				 "; model: %s (memattr 0x%x), leaf size 0x%" PRIx64,
				 x, res.pa.pa, res.memattr, res.sw, res.block_size, d,
				 s2m_expected_memattr(c, e->v.mt), lf->size);
			return false;
		}
		if (fill && t == S2_ACCESS_READ)
			s2_tlb_fill(&c->tlb, S2M_VMID, s2_ipa(x), &res);
	}
	return true;
}

static void s2m_add_sample(struct s2m_ctx *c, uint64_t x)
{
	x &= ~(c->P - 1);
	if (x >= c->ipa_limit || c->nsamples >= S2M_MAX_SAMPLES)
		return;
	for (unsigned int i = 0; i < c->nsamples; i++)
		if (c->samples[i] == x)
			return;
	c->samples[c->nsamples++] = x;
}

static uint64_t s2m_rand_in(struct s2m_ctx *c, struct s2m_rng *r, uint64_t base, uint64_t size)
{
	uint64_t pages = size / c->P;

	return base + s2m_below(r, pages ? pages : 1) * c->P;
}

/* Pick IPAs to check: around the op's range, in model extents, in the windows. */
static void s2m_pick_samples(struct s2m_ctx *c, uint64_t ipa, uint64_t size)
{
	c->nsamples = 0;
	if (size && ipa < c->ipa_limit) {
		uint64_t end = ipa + size;

		s2m_add_sample(c, ipa);
		if (end <= c->ipa_limit && end > ipa)
			s2m_add_sample(c, end - c->P);
		if (ipa >= c->P)
			s2m_add_sample(c, ipa - c->P);
		if (end < c->ipa_limit && end > ipa)
			s2m_add_sample(c, end);
		for (int i = 0; i < 4 && end > ipa && end <= c->ipa_limit; i++)
			s2m_add_sample(c, s2m_rand_in(c, &c->srng, ipa, size));
	}
	for (int i = 0; i < 12 && c->model.n; i++) {
		const struct s2m_ext *e = &c->model.e[s2m_below(&c->srng, c->model.n)];

		s2m_add_sample(c, i & 1 ? e->start : e->end - c->P);
		s2m_add_sample(c, s2m_rand_in(c, &c->srng, e->start, e->end - e->start));
	}
	for (int i = 0; i < 8; i++) {
		const struct s2m_window *w = &c->win[s2m_below(&c->srng, 3)];

		s2m_add_sample(c, s2m_rand_in(c, &c->srng, w->base, w->size));
	}
	s2m_add_sample(c, s2m_rand_in(c, &c->srng, 0, c->ipa_limit));
}

static bool s2m_check_samples(struct s2m_ctx *c, bool fill)
{
	for (unsigned int i = 0; i < c->nsamples && !c->failed; i++)
		if (!s2m_check_ipa(c, c->samples[i], fill, (i & 3) == 0))
			return false;
	return !c->failed;
}

struct s2m_stale_arg {
	struct s2m_ctx *c;
	int n;
};

static void s2m_on_stale(void *arg, const struct s2_tlb_stale *s)
{
	struct s2m_stale_arg *a = arg;

	if (a->n++ == 0)
		s2m_fail(a->c,
			 "stale TLB entry (%s): IPA 0x%" PRIx64 " size 0x%" PRIx64
			 " L%d -> pa 0x%" PRIx64
			 " s2ap %u af %d; tables now: fault %s pa 0x%" PRIx64 " s2ap %u",
			 s->why ? s->why : "?", s2_ipa_val(s->entry.ipa), s->entry.block_size,
			 s->entry.level, s2_pa_val(s->entry.pa), s->entry.s2ap, s->entry.af,
			 s2_fault_name(s->now.fault), s->now.pa.pa, s->now.s2ap);
}

static bool s2m_check_tlb(struct s2m_ctx *c)
{
	struct s2m_stale_arg a = { c, 0 };
	int ret =
		s2_tlb_check(&c->tlb, S2M_VMID, &c->cfg, c->pgt.root_pa, &c->mem, s2m_on_stale, &a);

	c->st.stale_checks++;
	if (ret < 0) {
		s2m_fail(c, "s2_tlb_check returned %s", s2_errname(ret));
		return false;
	}
	if (ret > 0 && !c->failed)
		s2m_fail(c, "%d stale TLB entries", ret);
	return ret == 0;
}

/* Checker, table-page accounting, no leak. */
static bool s2m_check_accounting(struct s2m_ctx *c)
{
	struct s2_check_report rep;
	struct s2_host_stats hs;
	int ret;
	uint64_t units = c->P / 4096;

	memset(&rep, 0, sizeof(rep));
	ret = s2_pgtable_check(&c->pgt, &rep);
	if (ret) {
		s2m_fail(c, "s2_pgtable_check: %s: %s (%" PRIu64 " errors)", s2_errname(ret),
			 rep.first_error, rep.errors);
		return false;
	}
	if (rep.table_pages != c->dump_tables + c->cfg.root_tables) {
		s2m_fail(c,
			 "checker counts %" PRIu64 " table pages, the walk saw %" PRIu64
			 " tables + %u root granules",
			 rep.table_pages, c->dump_tables, c->cfg.root_tables);
		return false;
	}
	hs = s2_host_port_stats(c->hp);
	if (hs.pages_in_use != (rep.table_pages + c->cache.nr) * units) {
		s2m_fail(c,
			 "leak: port has %" PRIu64 " 4K units in use, tables %" PRIu64
			 " + cache %u granules of %" PRIu64 " units",
			 hs.pages_in_use, rep.table_pages, c->cache.nr, units);
		return false;
	}
	return true;
}

/* Full post-operation check of the tables against c->model. */
static bool s2m_check_all(struct s2m_ctx *c)
{
	if (!s2m_compare(c, &c->model, &c->actual, "tables vs model"))
		return false;
	if (!s2m_check_samples(c, false))
		return false;
#ifndef S2M_SKIP_TLB_CHECK /* a debugging knob, to look past a TLB finding */
	if (!s2m_check_tlb(c))
		return false;
#endif
	return s2m_check_accounting(c);
}

/* ---- break-before-make and cache-maintenance order, observed at the port ---------------------- */
/*
 * The engine's port is the host port with its TLBI, CMO and barrier callbacks wrapped. Before
 * each operation the valid leaves of the dump are remembered; at each broadcast TLBI the
 * remembered leaves it covers are looked up (s2_pgtable_lookup(), the public API) and marked
 * when the entry is invalid at that moment, and at each DSB ISH the marked ones still invalid
 * are marked complete. After the operation, every remembered leaf that the tables now map with
 * another output address, memory type or shareability, or with a leaf of another size (a block
 * split, a table collapsed, a block replaced by pages or the reverse), must have been through
 * that complete sequence: break (invalid), TLBI, DSB ISH, then make (Arm ARM D8.16.1). The
 * permission, AF, DBM and software bits may change in place. The local TLBI does not count: a
 * break must be invalidated on every CPU.
 * During a map, every data- or instruction-cache maintenance call issued before the first TLBI
 * (the fresh mapping's, map_cmo() in docs/pgtable.md) must find the IPAs it covers that were
 * unmapped before the map still not valid: cache maintenance comes before the entry.
 */

/* Descriptor bits that may change in place: S2AP [7:6], AF [10], DBM [51], XN [54:53],
 * SW [58:55] (Arm ARM D8.3). Everything else (output address, MemAttr, SH, type) needs BBM. */
#define S2M_PTE_INPLACE                                                                         \
	((UINT64_C(3) << 6) | (UINT64_C(1) << 10) | (UINT64_C(1) << 51) | (UINT64_C(3) << 53) | \
	 (UINT64_C(0xf) << 55))

/* The first remembered leaf ending above @x. */
static size_t s2m_bbm_first(const struct s2m_ctx *c, uint64_t x)
{
	size_t lo = 0, hi = c->nbbm;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->bbm[mid].ipa + c->bbm[mid].size > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void s2m_bbm_tlbi(struct s2m_ctx *c, uint64_t lo, uint64_t hi)
{
	c->bbm_tlbi_seen = true;
	for (size_t i = s2m_bbm_first(c, lo); i < c->nbbm && c->bbm[i].ipa < hi; i++) {
		struct s2m_bbm *b = &c->bbm[i];
		uint64_t x = b->ipa > lo ? b->ipa : lo;
		struct s2_lookup lk;

		if (b->state)
			continue;
		if (s2_pgtable_lookup(&c->pgt, s2_ipa(x), &lk) == 0 && !lk.valid) {
			b->state = 1;
			b->probe = x;
			if (c->npend == c->pend_cap) {
				c->pend_cap = c->pend_cap ? 2 * c->pend_cap : 1024;
				c->pend = realloc(c->pend, c->pend_cap * sizeof(*c->pend));
				if (!c->pend)
					abort();
			}
			c->pend[c->npend++] = i;
		}
	}
}

static void s2m_bbm_dsb(struct s2m_ctx *c)
{
	for (size_t k = 0; k < c->npend; k++) {
		struct s2m_bbm *b = &c->bbm[c->pend[k]];
		struct s2_lookup lk;

		if (b->state == 1 && s2_pgtable_lookup(&c->pgt, s2_ipa(b->probe), &lk) == 0 &&
		    !lk.valid)
			b->state = 2;
	}
	c->npend = 0;
}

/* A cache-maintenance call during a map: the fresh IPAs of [pa, pa + size) not valid yet. */
static void s2m_fresh_cmo(struct s2m_ctx *c, const char *what, uint64_t pa, uint64_t size)
{
	uint64_t lo, hi;

	if (!c->fresh_on || c->bbm_tlbi_seen)
		return;
	lo = pa > c->fresh_pa ? pa : c->fresh_pa;
	hi = pa + size < c->fresh_pa + c->fresh_size ? pa + size : c->fresh_pa + c->fresh_size;
	/* The first pages suffice: the entries of a map are made together. */
	if (hi > lo + 64 * c->P)
		hi = lo + 64 * c->P;
	for (uint64_t x = lo; x < hi; x += c->P) {
		uint64_t ipa = c->fresh_ipa + (x - c->fresh_pa), nx;
		const struct s2m_ext *o = s2m_at(c->fresh_old, ipa, &nx);
		struct s2_lookup lk;

		if (o && o->v.state == S2M_MAPPED)
			continue; /* a replacement: its old entry is valid, rightly */
		if (s2_pgtable_lookup(&c->pgt, s2_ipa(ipa), &lk) == 0 && lk.valid) {
			s2m_fail(c,
				 "%s of pa 0x%" PRIx64 " while the new entry of IPA 0x%" PRIx64
				 " is already valid (cache maintenance must come first)",
				 what, x, ipa);
			return;
		}
	}
}

static void s2m_w_tlbi_ipa(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	struct s2m_ctx *c = ctx;

	s2m_bbm_tlbi(c, s2_ipa_val(ipa), s2_ipa_val(ipa) + 1);
	c->inner.ops->tlbi_ipa(c->inner.ctx, pgt, ipa, level);
}

static void s2m_w_tlbi_range(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size)
{
	struct s2m_ctx *c = ctx;

	s2m_bbm_tlbi(c, s2_ipa_val(ipa), s2_ipa_val(ipa) + size);
	c->inner.ops->tlbi_range(c->inner.ctx, pgt, ipa, size);
}

static void s2m_w_tlbi_vmid(void *ctx, const struct s2_pgtable *pgt)
{
	struct s2m_ctx *c = ctx;

	s2m_bbm_tlbi(c, 0, UINT64_MAX);
	c->inner.ops->tlbi_vmid(c->inner.ctx, pgt);
}

static void s2m_w_tlbi_ipa_local(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	struct s2m_ctx *c = ctx;

	c->inner.ops->tlbi_ipa_local(c->inner.ctx, pgt, ipa, level);
}

static void s2m_w_dcache(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct s2m_ctx *c = ctx;

	s2m_fresh_cmo(c, "data-cache clean", s2_pa_val(pa), size);
	c->inner.ops->dcache_clean_inval_poc(c->inner.ctx, pa, size);
}

static void s2m_w_icache(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct s2m_ctx *c = ctx;

	s2m_fresh_cmo(c, "I-cache invalidation", s2_pa_val(pa), size);
	c->inner.ops->icache_inval_pou(c->inner.ctx, pa, size);
}

static void s2m_w_barrier(void *ctx, enum s2_barrier b)
{
	struct s2m_ctx *c = ctx;

	if (b == S2_BARRIER_DSB_ISH)
		s2m_bbm_dsb(c);
	c->inner.ops->barrier(c->inner.ctx, b);
}

static void *s2m_w_alloc(void *ctx, size_t bytes)
{
	struct s2m_ctx *c = ctx;

	return c->inner.ops->alloc_pages(c->inner.ctx, bytes);
}

static void s2m_w_free(void *ctx, void *va, size_t bytes)
{
	struct s2m_ctx *c = ctx;

	c->inner.ops->free_pages(c->inner.ctx, va, bytes);
}

static uint32_t *s2m_w_refcount(void *ctx, void *va)
{
	struct s2m_ctx *c = ctx;

	return c->inner.ops->page_refcount(c->inner.ctx, va);
}

static s2_pa_t s2m_w_va_to_pa(void *ctx, void *va)
{
	struct s2m_ctx *c = ctx;

	return c->inner.ops->va_to_pa(c->inner.ctx, va);
}

static void *s2m_w_pa_to_va(void *ctx, s2_pa_t pa)
{
	struct s2m_ctx *c = ctx;

	return c->inner.ops->pa_to_va(c->inner.ctx, pa);
}

/* The engine's port: the host port's, observed. */
static void s2m_bbm_port(struct s2m_ctx *c)
{
	c->inner = s2_host_port_port(c->hp);
	c->wops = (struct s2_port_ops){
		.alloc_pages = s2m_w_alloc,
		.free_pages = s2m_w_free,
		.page_refcount = s2m_w_refcount,
		.va_to_pa = s2m_w_va_to_pa,
		.pa_to_va = s2m_w_pa_to_va,
		.tlbi_ipa = s2m_w_tlbi_ipa,
		.tlbi_range = s2m_w_tlbi_range,
		.tlbi_vmid = s2m_w_tlbi_vmid,
		.tlbi_ipa_local = c->inner.ops->tlbi_ipa_local ? s2m_w_tlbi_ipa_local : NULL,
		.dcache_clean_inval_poc = s2m_w_dcache,
		.icache_inval_pou = s2m_w_icache,
		.barrier = s2m_w_barrier,
	};
	c->port = c->inner;
	c->port.ops = &c->wops;
	c->port.ctx = c;
}

/* Before an operation on [@lo, @hi): remember the valid leaves of the dump (which equals the
 * tables) that overlap it (no operation changes a leaf outside its range). */
static void s2m_bbm_begin(struct s2m_ctx *c, uint64_t lo, uint64_t hi)
{
	c->nbbm = 0;
	c->npend = 0;
	c->bbm_tlbi_seen = false;
	for (size_t i = 0; i < c->nleaves; i++) {
		const struct s2m_leaf *lf = &c->leaves[i];

		if (!(lf->pte & S2_PTE_VALID) || lf->ipa >= hi || lf->ipa + lf->size <= lo)
			continue;
		if (c->nbbm == c->bbm_cap) {
			c->bbm_cap = c->bbm_cap ? 2 * c->bbm_cap : 1024;
			c->bbm = realloc(c->bbm, c->bbm_cap * sizeof(*c->bbm));
			if (!c->bbm)
				abort();
		}
		c->bbm[c->nbbm++] = (struct s2m_bbm){ lf->ipa, lf->size, lf->pte, 0, 0 };
	}
}

/* After it (c->leaves: the new dump): each leaf replaced in a way that needs BBM had it. */
static bool s2m_bbm_check(struct s2m_ctx *c)
{
	size_t j = 0;

	for (size_t i = 0; i < c->nbbm; i++) {
		const struct s2m_bbm *b = &c->bbm[i];

		while (j < c->nleaves && c->leaves[j].ipa + c->leaves[j].size <= b->ipa)
			j++;
		for (size_t k = j; k < c->nleaves && c->leaves[k].ipa < b->ipa + b->size; k++) {
			const struct s2m_leaf *n = &c->leaves[k];
			bool same;

			if (!(n->pte & S2_PTE_VALID))
				continue;
			same = n->ipa == b->ipa && n->size == b->size &&
			       !((n->pte ^ b->pte) & ~S2M_PTE_INPLACE);
			if (same || b->state == 2)
				break;
			s2m_fail(c,
				 "break-before-make: the leaf at IPA 0x%" PRIx64 " (0x%" PRIx64
				 ", size 0x%" PRIx64 ") became 0x%" PRIx64 " (L%d at IPA 0x%" PRIx64
				 ", size 0x%" PRIx64 ") without %s",
				 b->ipa, (uint64_t)b->pte, b->size, (uint64_t)n->pte, n->level,
				 n->ipa, n->size,
				 b->state ? "a DSB ISH after its TLBI while still invalid" :
					    "being invalid at a broadcast TLBI");
			return false;
		}
	}
	return true;
}

/* ---- setup ------------------------------------------------------------------------------------- */

bool s2m_init(struct s2m_ctx *c, unsigned int cfg_index, struct s2m_rng *rng)
{
	struct s2_caps caps;
	struct s2_config_req req;
	struct s2_host_port_opts opts;
	int ret;

	memset(c, 0, sizeof(*c));
	c->desc = &s2m_cfgs[cfg_index % S2M_NR_CFGS];
	c->rng = rng;
	s2m_rng_seed(&c->srng, rng->data ? 0x5eed : rng->state ^ 0xa5a5a5a5a5a5a5a5ull);
	snprintf(c->opdesc, sizeof(c->opdesc), "init");
	ret = s2_caps_max(c->desc->host_pa_bits, &caps);
	if (ret) {
		s2m_fail(c, "s2_caps_max: %s", s2_errname(ret));
		return false;
	}
	memset(&req, 0, sizeof(req));
	req.ipa_bits = c->desc->ipa_bits;
	req.granule = c->desc->granule;
	req.flags = c->desc->flags;
	ret = s2_config_init(&c->cfg, &caps, &req);
	if (ret) {
		s2m_fail(c, "s2_config_init: %s", s2_errname(ret));
		return false;
	}
	memset(&opts, 0, sizeof(opts));
	opts.pa_base = UINT64_C(0x80000000);
	opts.arena_bytes = UINT64_C(64) << 20;
	opts.log_capacity = 8192; /* cache maintenance is checked from the log */
	ret = s2_host_port_create(&opts, &c->hp);
	if (ret) {
		s2m_fail(c, "s2_host_port_create: %s", s2_errname(ret));
		return false;
	}
	s2m_bbm_port(c);
	c->mem = s2_host_port_walk_mem(c->hp);
	c->mem.cas64 = NULL; /* the checks must not change the tables */
	s2_tlb_init(&c->tlb, c->tlbe, S2M_TLB_ENTRIES);
	s2_host_port_attach_tlb(c->hp, &c->tlb, NULL, S2M_VMID);
	ret = s2_pgtable_init(&c->pgt, &c->cfg, &c->port, c);
	if (ret) {
		s2m_fail(c, "s2_pgtable_init: %s", s2_errname(ret));
		return false;
	}
	c->pgt_live = true;

	c->P = UINT64_C(1) << c->cfg.page_shift;
	c->ipa_limit = UINT64_C(1) << c->cfg.ipa_bits;
	c->pa_limit = UINT64_C(1) << c->cfg.pa_bits;
	c->top_level = 3;
	for (int l = c->cfg.start_level; l < 3; l++) {
		if (s2m_level_has_blocks(c, l)) {
			c->top_level = l;
			break;
		}
	}
	c->top_block = s2m_level_size(c, c->top_level);
	{
		uint64_t w = 2 * c->top_block;

		if (w > c->ipa_limit / 4)
			w = c->ipa_limit / 4;
		c->win[0] = (struct s2m_window){ 0, w };
		c->win[1] = (struct s2m_window){ c->ipa_limit / 2 - w / 2, w };
		c->win[2] = (struct s2m_window){ c->ipa_limit - w, w };
		/* output windows: low, middle and the top of the PA space (high OA bits) */
		c->pa_win[0] = 0;
		c->pa_win[1] = c->pa_limit / 2;
		c->pa_win[2] = c->pa_limit - 8 * c->top_block;
	}
	if (!s2m_dump(c))
		return false;
	return s2m_check_all(c);
}

void s2m_teardown(struct s2m_ctx *c)
{
	if (c->pgt_live) {
		s2_page_cache_drain(&c->cache, &c->port, (size_t)c->P);
		s2_pgtable_destroy(&c->pgt);
		c->pgt_live = false;
		if (!c->failed) {
			struct s2_host_stats hs = s2_host_port_stats(c->hp);

			if (hs.pages_in_use != 0)
				s2m_fail(c,
					 "after destroy the port still has %" PRIu64
					 " 4K units allocated",
					 hs.pages_in_use);
		}
	}
	if (c->hp)
		s2_host_port_destroy(c->hp);
	c->hp = NULL;
	s2m_list_free(&c->model);
	s2m_list_free(&c->actual);
	free(c->leaves);
	c->leaves = NULL;
	free(c->bbm);
	c->bbm = NULL;
	free(c->pend);
	c->pend = NULL;
}

/* ---- operations ------------------------------------------------------------------------------ */

const char *const s2m_op_names[S2M_OP_NR] = {
	"map",	 "unmap",    "wrprotect", "set_prot", "relax_perms", "mkyoung", "test_clear_young",
	"split", "collapse", "annotate",  "lookup",
};

/* Relative frequencies. */
static const unsigned int s2m_op_weight[S2M_OP_NR] = { 30, 12, 7, 7, 8, 6, 6, 5, 5, 6, 6 };

/* How a refused call may have left the tables. */
enum s2m_fail_mode {
	S2M_NOCHANGE = 0, /* bit-identical */
	S2M_PARTIAL, /* every page as before or as requested */
};

struct s2m_expect {
	int codes[4];
	enum s2m_fail_mode mode[4];
	unsigned int n;
};

static void s2m_allow(struct s2m_expect *x, int code, enum s2m_fail_mode mode)
{
	if (x->n < 4) {
		x->codes[x->n] = code;
		x->mode[x->n] = mode;
		x->n++;
	}
}

/* A range: level-sized pieces, block-straddling, a few pages, or a whole window. */
static void s2m_gen_range(struct s2m_ctx *c, uint64_t *ipa, uint64_t *size, uint64_t max_pages)
{
	const struct s2m_window *w = &c->win[s2m_below(c->rng, 3)];
	int levels[5], nl = 0, level;
	uint64_t S, base, lo, hi;

	for (int l = c->top_level; l <= 3; l++)
		if (l == 3 || s2m_level_has_blocks(c, l))
			levels[nl++] = l;
	level = levels[s2m_below(c->rng, (uint64_t)nl)];
	S = s2m_level_size(c, level);
	if (S > w->size)
		S = w->size;
	base = w->base + s2m_below(c->rng, w->size / S) * S;
	switch (s2m_below(c->rng, 5)) {
	case 0: /* whole level-sized pieces */
		lo = base;
		hi = base + S * (1 + s2m_below(c->rng, 2));
		break;
	case 1: /* straddle a boundary by a few pages each side */
		lo = base - s2m_below(c->rng, 4) * c->P;
		hi = base + S * s2m_below(c->rng, 2) + s2m_below(c->rng, 4) * c->P;
		if (hi == lo)
			hi += c->P;
		break;
	case 2: /* a few pages inside */
		lo = base + s2m_below(c->rng, S / c->P < 1024 ? S / c->P : 1024) * c->P;
		hi = lo + (1 + s2m_below(c->rng, 8)) * c->P;
		break;
	case 3: /* a few pages at the end of the piece */
		hi = base + S;
		lo = hi - (1 + s2m_below(c->rng, 8)) * c->P;
		break;
	default: /* a whole window (mostly useful to clear) */
		lo = w->base;
		hi = w->base + w->size;
		break;
	}
	if (lo < w->base || lo > w->base + w->size)
		lo = w->base;
	if (hi > w->base + w->size)
		hi = w->base + w->size;
	if (hi <= lo)
		hi = lo + c->P;
	if (max_pages && (hi - lo) / c->P > max_pages)
		hi = lo + max_pages * c->P;
	*ipa = lo;
	*size = hi - lo;
}

static struct s2m_val s2m_val_from_prot(uint64_t pa, uint64_t prot, uint64_t flags)
{
	struct s2m_val v;

	memset(&v, 0, sizeof(v));
	v.state = S2M_MAPPED;
	v.pa = pa;
	v.perms = (uint8_t)(prot & S2_PROT_RWX);
	v.mt = (prot & S2_PROT_DEVICE_NGNRNE) ? S2M_MT_DEV_NGNRNE :
	       (prot & S2_PROT_DEVICE)	      ? S2M_MT_DEV_NGNRE :
	       (prot & S2_PROT_NORMAL_NC)     ? S2M_MT_NC :
						S2M_MT_WB;
	v.sw = (uint8_t)((prot >> S2_PROT_SW_SHIFT) & 0xf);
	v.af = !(flags & S2_MAP_YOUNG_CLEAR);
	v.dbm = !!(prot & S2_PROT_DBM);
	return v;
}

/* Extend [ipa, ipa+size) to the edges of the leaves straddling it (operations that change a
 * whole block when part of it is in the range). */
static void s2m_expand_to_leaves(const struct s2m_ctx *c, uint64_t ipa, uint64_t size, uint64_t *lo,
				 uint64_t *hi)
{
	const struct s2m_leaf *a = s2m_leaf_at(c, ipa);
	const struct s2m_leaf *b = s2m_leaf_at(c, ipa + size - 1);

	*lo = a && (a->pte & S2_PTE_VALID) ? a->ipa : ipa;
	*hi = b && (b->pte & S2_PTE_VALID) ? b->ipa + b->size : ipa + size;
}

enum s2m_modify {
	S2M_MOD_WRPROTECT,
	S2M_MOD_SET_PROT,
	S2M_MOD_RELAX,
	S2M_MOD_AF_SET,
	S2M_MOD_AF_CLEAR
};

/* Apply a change to every mapped extent in [lo, hi) of @l. */
static void s2m_list_modify(struct s2m_list *l, uint64_t lo, uint64_t hi, enum s2m_modify m,
			    uint64_t set, uint64_t clear)
{
	s2m_list_cut(l, lo);
	s2m_list_cut(l, hi);
	for (size_t i = 0; i < l->n; i++) {
		struct s2m_val *v = &l->e[i].v;

		if (l->e[i].start < lo || l->e[i].end > hi || v->state != S2M_MAPPED)
			continue;
		switch (m) {
		case S2M_MOD_WRPROTECT:
			v->perms &= (uint8_t)~S2_PROT_W;
			v->dbm = false;
			break;
		case S2M_MOD_SET_PROT:
			v->perms = (uint8_t)((v->perms | (set & S2_PROT_RWX)) &
					     ~(clear & S2_PROT_RWX));
			if (clear & S2_PROT_W)
				v->dbm = false; /* else hardware could make it writable again */
			v->sw = (uint8_t)((v->sw | ((set >> S2_PROT_SW_SHIFT) & 0xf)) &
					  ~((clear >> S2_PROT_SW_SHIFT) & 0xf));
			break;
		case S2M_MOD_RELAX:
			v->perms |= (uint8_t)(set & S2_PROT_RWX);
			v->af = true;
			break;
		case S2M_MOD_AF_SET:
			v->af = true;
			break;
		case S2M_MOD_AF_CLEAR:
			v->af = false;
			break;
		}
	}
	s2m_list_merge(l);
}

/* Any mapped extent in [lo, hi) whose memory type forbids exec? */
static bool s2m_range_has_uncached(const struct s2m_list *l, uint64_t lo, uint64_t hi)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->e[i].end > lo && l->e[i].start < hi && l->e[i].v.state == S2M_MAPPED &&
		    l->e[i].v.mt != S2M_MT_WB)
			return true;
	return false;
}

static bool s2m_range_has(const struct s2m_list *l, uint64_t lo, uint64_t hi, uint8_t state)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->e[i].end > lo && l->e[i].start < hi && l->e[i].v.state == state)
			return true;
	return false;
}

/* Pages with AF set in [lo, hi). */
static uint64_t s2m_count_young(const struct s2m_ctx *c, const struct s2m_list *l, uint64_t lo,
				uint64_t hi)
{
	uint64_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		const struct s2m_ext *e = &l->e[i];
		uint64_t a = e->start > lo ? e->start : lo, b = e->end < hi ? e->end : hi;

		if (a < b && e->v.state == S2M_MAPPED && e->v.af)
			n += (b - a) / c->P;
	}
	return n;
}

/* The level a fresh map of [ipa, ipa+size) -> pa must use for the page at @x: the largest
 * block that fits the range and whose output is aligned (s2_pgtable_map's contract). */
static int s2m_predicted_level(const struct s2m_ctx *c, uint64_t ipa, uint64_t size, uint64_t pa,
			       bool force_pages, uint64_t x)
{
	for (int l = c->top_level; l < 3 && !force_pages; l++) {
		uint64_t S = s2m_level_size(c, l), A = x & ~(S - 1);

		if (!s2m_level_has_blocks(c, l))
			continue;
		if (A >= ipa && A + S <= ipa + size && ((pa + (A - ipa)) & (S - 1)) == 0)
			return l;
	}
	return 3;
}

/* Whether @a and @b agree on all of [lo, hi). */
static bool s2m_same_range(const struct s2m_list *a, const struct s2m_list *b, uint64_t lo,
			   uint64_t hi)
{
	uint64_t x = lo;

	while (x < hi) {
		uint64_t na, nb;
		const struct s2m_ext *ea = s2m_at(a, x, &na), *eb = s2m_at(b, x, &nb);

		if (!s2m_same_at(ea, eb, x))
			return false;
		x = na < nb ? na : nb;
	}
	return true;
}

static bool s2m_check_map_geometry(struct s2m_ctx *c, const struct s2m_list *old, uint64_t ipa,
				   uint64_t size, uint64_t pa, bool force)
{
	for (size_t i = 0; i < c->nleaves; i++) {
		const struct s2m_leaf *lf = &c->leaves[i];
		int want;
		uint64_t S, A;

		if (lf->ipa + lf->size <= ipa || lf->ipa >= ipa + size)
			continue;
		want = s2m_predicted_level(c, ipa, size, pa, force, lf->ipa < ipa ? ipa : lf->ipa);
		S = s2m_level_size(c, want);
		A = (lf->ipa < ipa ? ipa : lf->ipa) & ~(S - 1);
		if (lf->level == want && lf->ipa == A)
			continue;
		/* Not split or rebuilt where the request changed nothing: acceptable. */
		if (lf->size > S && s2m_same_range(old, &c->model, lf->ipa, lf->ipa + lf->size))
			continue;
		s2m_fail(c,
			 "map geometry: leaf at 0x%" PRIx64 " is L%d, expected L%d at 0x%" PRIx64
			 " (largest block the alignment allows%s)",
			 lf->ipa, lf->level, want, A, force ? ", pages forced" : "");
		return false;
	}
	return true;
}

/* ---- cache maintenance ------------------------------------------------------------------------- */

struct s2m_range {
	uint64_t lo, hi;
};

static int s2m_range_cmp(const void *a, const void *b)
{
	const struct s2m_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Whether the logged events of @kind cover [lo, hi) (*@any: some event overlaps it); with
 * @after_tlbi, only events that follow a TLBI count. Return -1 when the log overflowed (no
 * verdict). */
static int s2m_log_covers_ex(struct s2m_ctx *c, enum s2_host_event_kind kind, uint64_t lo,
			     uint64_t hi, bool *any, bool after_tlbi)
{
	unsigned int n, k = 0;
	bool overflow, tlbi = false;
	const struct s2_host_event *ev = s2_host_port_log(c->hp, &n, &overflow);
	struct s2m_range *r;
	uint64_t x = lo;

	*any = false;
	if (overflow)
		return -1;
	r = calloc(n ? n : 1, sizeof(*r));
	if (!r)
		abort();
	for (unsigned int i = 0; i < n; i++) {
		if (ev[i].kind == S2_HOST_EV_TLBI_IPA || ev[i].kind == S2_HOST_EV_TLBI_RANGE ||
		    ev[i].kind == S2_HOST_EV_TLBI_VMID)
			tlbi = true;
		if (ev[i].kind != kind || (after_tlbi && !tlbi))
			continue;
		if (ev[i].addr < hi && ev[i].addr + ev[i].size > lo)
			*any = true;
		r[k++] = (struct s2m_range){ ev[i].addr, ev[i].addr + ev[i].size };
	}
	qsort(r, k, sizeof(*r), s2m_range_cmp);
	for (unsigned int i = 0; i < k && x < hi; i++)
		if (r[i].lo <= x && r[i].hi > x)
			x = r[i].hi;
	free(r);
	return x >= hi;
}

static int s2m_log_covers(struct s2m_ctx *c, enum s2_host_event_kind kind, uint64_t lo, uint64_t hi,
			  bool *any)
{
	return s2m_log_covers_ex(c, kind, lo, hi, any, false);
}

/*
 * Memory the guest lost (the hosted port's audit of KVM's unmap rule): without FWB, every page
 * of Normal WB memory that @old mapped and the tables (c->model, after the operation) no longer
 * map to the same output as Normal WB must have been cleaned and invalidated to the PoC, after
 * a TLBI. With FWB no operation cleans anything; without it, an operation other than a map
 * cleans nothing the guest did not lose.
 */
static bool s2m_check_lost_cmo(struct s2m_ctx *c, const struct s2m_list *old, bool is_map)
{
	struct s2m_range *lost = NULL;
	size_t nlost = 0, cap = 0;
	unsigned int n;
	bool overflow, ok = true;
	const struct s2_host_event *ev = s2_host_port_log(c->hp, &n, &overflow);

	if (overflow)
		return true;
	if (c->cfg.fwb) {
		for (unsigned int i = 0; i < n; i++)
			if (ev[i].kind == S2_HOST_EV_DC_CIVAC) {
				s2m_fail(c,
					 "data-cache clean [0x%" PRIx64 ", +0x%" PRIx64
					 ") with FWB (never due)",
					 ev[i].addr, ev[i].size);
				return false;
			}
		return true;
	}
	for (size_t i = 0; i < old->n && ok; i++) {
		const struct s2m_ext *o = &old->e[i];
		uint64_t x = o->start;

		if (o->v.state != S2M_MAPPED || o->v.mt != S2M_MT_WB)
			continue;
		while (x < o->end && ok) {
			uint64_t nx, stop;
			const struct s2m_ext *e = s2m_at(&c->model, x, &nx);
			bool kept = e && e->v.state == S2M_MAPPED && e->v.mt == S2M_MT_WB &&
				    s2m_pa_at(e, x) == s2m_pa_at(o, x);
			bool any;

			stop = nx < o->end ? nx : o->end;
			if (!kept) {
				uint64_t pa = s2m_pa_at(o, x), sz = stop - x;
				int cov = s2m_log_covers_ex(c, S2_HOST_EV_DC_CIVAC, pa, pa + sz,
							    &any, true);

				if (cov == 0) {
					s2m_fail(c,
						 "IPA [0x%" PRIx64 ", 0x%" PRIx64 ") of Normal WB "
						 "memory at pa 0x%" PRIx64
						 " left the guest without "
						 "FWB and was not cleaned to PoC after a TLBI",
						 x, stop, pa);
					ok = false;
				}
				if (nlost == cap) {
					cap = cap ? 2 * cap : 16;
					lost = realloc(lost, cap * sizeof(*lost));
					if (!lost)
						abort();
				}
				lost[nlost++] = (struct s2m_range){ pa, pa + sz };
			}
			x = stop;
		}
	}
	if (ok && !is_map) {
		/* Nothing else cleaned: every DC event lies in what was lost. */
		for (unsigned int i = 0; i < n && ok; i++) {
			uint64_t lo = ev[i].addr, hi = ev[i].addr + ev[i].size, y = lo;

			if (ev[i].kind != S2_HOST_EV_DC_CIVAC)
				continue;
			if (nlost)
				qsort(lost, nlost, sizeof(*lost), s2m_range_cmp);
			for (size_t j = 0; j < nlost && y < hi; j++)
				if (lost[j].lo <= y && lost[j].hi > y)
					y = lost[j].hi;
			if (y < hi) {
				s2m_fail(c,
					 "data-cache clean [0x%" PRIx64 ", 0x%" PRIx64
					 ") of memory the guest did not lose",
					 lo, hi);
				ok = false;
			}
		}
	}
	free(lost);
	return ok;
}

/*
 * A fresh mapping of [pa, pa + size): without FWB, Normal write-back memory is cleaned and
 * invalidated to the PoC (the guest may run with its MMU off), unless S2_MAP_NOCMO; with FWB,
 * for Normal-NC and Device memory, nothing is cleaned. Granting exec invalidates the I-cache
 * unless CTR_EL0.DIC.
 */
static bool s2m_check_cmo(struct s2m_ctx *c, uint64_t pa, uint64_t size, uint64_t prot,
			  uint64_t flags)
{
	struct s2m_val v = s2m_val_from_prot(pa, prot, flags);
	bool need_dc = !c->cfg.fwb && !(flags & S2_MAP_NOCMO) && v.mt == S2M_MT_WB;
	bool need_ic = (prot & S2_PROT_X) && !c->cfg.dic;
	bool any;
	int cov = s2m_log_covers(c, S2_HOST_EV_DC_CIVAC, pa, pa + size, &any);

	if (cov >= 0 && need_dc && !cov) {
		s2m_fail(c,
			 "no data-cache clean+invalidate covering [0x%" PRIx64 ", 0x%" PRIx64
			 ") for a fresh Normal WB mapping without FWB",
			 pa, pa + size);
		return false;
	}
	if (cov >= 0 && !need_dc && any) {
		s2m_fail(c,
			 "data-cache maintenance on [0x%" PRIx64 ", 0x%" PRIx64
			 ") (fwb=%d, nocmo=%d, mt=%u) where none is due",
			 pa, pa + size, c->cfg.fwb, !!(flags & S2_MAP_NOCMO), v.mt);
		return false;
	}
	cov = s2m_log_covers(c, S2_HOST_EV_IC_INVAL, pa, pa + size, &any);
	if (cov >= 0 && need_ic && !cov) {
		s2m_fail(c,
			 "no I-cache invalidation covering [0x%" PRIx64 ", 0x%" PRIx64
			 ") for a fresh executable mapping (DIC clear)",
			 pa, pa + size);
		return false;
	}
	return true;
}

/*
 * Exec granted (a map, set_prot or relax_perms): without DIC, every page the tables now map
 * executable that was not executable at the same output before (@old) had its I-cache
 * invalidated: each physically contiguous run, not only one of them.
 */
static bool s2m_check_exec_grant(struct s2m_ctx *c, const struct s2m_list *old)
{
	if (c->cfg.dic)
		return true;
	for (size_t i = 0; i < c->model.n; i++) {
		const struct s2m_ext *e = &c->model.e[i];
		uint64_t x = e->start;

		if (e->v.state != S2M_MAPPED || !(e->v.perms & S2_PROT_X))
			continue;
		while (x < e->end) {
			uint64_t nx, stop;
			const struct s2m_ext *o = s2m_at(old, x, &nx);
			bool had = o && o->v.state == S2M_MAPPED && (o->v.perms & S2_PROT_X) &&
				   s2m_pa_at(o, x) == s2m_pa_at(e, x);
			bool any;

			stop = nx < e->end ? nx : e->end;
			if (!had) {
				uint64_t pa = s2m_pa_at(e, x);
				int cov = s2m_log_covers(c, S2_HOST_EV_IC_INVAL, pa,
							 pa + (stop - x), &any);

				if (cov == 0) {
					s2m_fail(c,
						 "IPA [0x%" PRIx64 ", 0x%" PRIx64
						 ") became executable "
						 "at pa 0x%" PRIx64
						 " without an I-cache invalidation covering it",
						 x, stop, pa);
					return false;
				}
			}
			x = stop;
		}
	}
	return true;
}

/* ---- one operation ------------------------------------------------------------------------- */

struct s2m_opargs {
	enum s2m_op op;
	uint64_t ipa, size, pa, prot, flags, set, clear;
	uint8_t owner;
	bool use_cache, clear_young, refused;
	long fail_alloc; /* < 0: no injection */
};

/* A map's prot, and the map flags that change what it makes (*@flags: AF clear, no CMO). */
static uint64_t s2m_gen_prot(struct s2m_ctx *c, bool allow_x_uncached, uint64_t *flags)
{
	uint64_t prot = 1 + s2m_below(c->rng, 7); /* a non-empty R/W/X set */
	unsigned int mt = (unsigned int)s2m_below(c->rng, 10);

	if (mt == 7)
		prot |= S2_PROT_NORMAL_NC;
	else if (mt == 8)
		prot |= S2_PROT_DEVICE;
	else if (mt == 9)
		prot |= s2m_one_in(c->rng, 2) ? S2_PROT_DEVICE_NGNRNE :
						(S2_PROT_DEVICE | S2_PROT_DEVICE_NGNRNE);
	if (mt >= 7 && !allow_x_uncached) {
		prot &= ~S2_PROT_X;
		if (!(prot & S2_PROT_RWX))
			prot |= S2_PROT_R;
	}
	if (s2m_one_in(c->rng, 4))
		prot |= S2_PROT_SW(s2m_below(c->rng, 16));
	if (s2m_one_in(c->rng, 6))
		*flags |= S2_MAP_YOUNG_CLEAR;
	if (s2m_one_in(c->rng, 4))
		*flags |= S2_MAP_NOCMO;
	if (c->cfg.hd && s2m_one_in(c->rng, 4)) /* dirty tracking: writable only through DBM */
		prot = (prot & ~S2_PROT_W) | S2_PROT_R | S2_PROT_DBM;
	return prot;
}

/* Generate an operation and what the contract says about it. */
static void s2m_gen_op(struct s2m_ctx *c, struct s2m_opargs *a)
{
	unsigned int total = 0, pick;

	memset(a, 0, sizeof(*a));
	a->fail_alloc = -1;
	for (int i = 0; i < S2M_OP_NR; i++)
		total += s2m_op_weight[i];
	pick = (unsigned int)s2m_below(c->rng, total);
	for (a->op = 0; a->op < S2M_OP_NR - 1 && pick >= s2m_op_weight[a->op]; a->op++)
		pick -= s2m_op_weight[a->op];

	switch (a->op) {
	case S2M_OP_SPLIT:
		s2m_gen_range(c, &a->ipa, &a->size, 2048);
		break;
	case S2M_OP_ANNOTATE:
		s2m_gen_range(c, &a->ipa, &a->size, 0);
		break;
	default:
		s2m_gen_range(c, &a->ipa, &a->size, 0);
		break;
	}
	a->use_cache = s2m_one_in(c->rng, 2);
	if (c->nleaves > S2M_LEAF_BUDGET) {
		/* Keep the checks fast: clear a window when the tables have grown big. */
		const struct s2m_window *w = &c->win[s2m_below(c->rng, 3)];

		a->op = S2M_OP_UNMAP;
		a->ipa = w->base;
		a->size = w->size;
		return;
	}

	switch (a->op) {
	case S2M_OP_MAP: {
		uint64_t pwb = c->pa_win[s2m_below(c->rng, 3)];
		bool small = a->size / c->P <= 512;

		a->prot = s2m_gen_prot(c, false, &a->flags);
		/* same offset as the IPA within the largest block: blocks possible */
		a->pa = pwb + (a->ipa & (c->top_block - 1)) + s2m_below(c->rng, 2) * c->top_block;
		if (small && s2m_one_in(c->rng, 5))
			a->pa += c->P * (1 + s2m_below(c->rng, 3)); /* misaligned: pages only */
		if (small && s2m_one_in(c->rng, 5))
			a->flags |= S2_MAP_FORCE_PAGES;
		if (s2m_one_in(c->rng, 8)) {
			/* one last-level table full of uniform pages: collapse material */
			uint64_t S = s2m_level_size(c, 2);
			const struct s2m_window *w = &c->win[s2m_below(c->rng, 3)];

			if (s2m_level_has_blocks(c, 2) && S <= w->size) {
				a->ipa = w->base + s2m_below(c->rng, w->size / S) * S;
				a->size = S;
				a->pa = pwb + s2m_below(c->rng, 4) * S;
				a->flags |= S2_MAP_FORCE_PAGES;
			}
		}
		if (s2m_one_in(c->rng, 8))
			a->flags |= S2_MAP_NO_REPLACE;
		if (s2m_one_in(c->rng, 6)) { /* the fault path, under the shared lock */
			a->flags |= S2_MAP_SHARED;
			if (s2m_one_in(c->rng, 2))
				a->size = c->P;
		}
		if (s2m_one_in(c->rng, 12))
			a->fail_alloc = (long)s2m_below(c->rng, 4);
		break;
	}
	case S2M_OP_SET_PROT:
		a->set = s2m_below(c->rng, 8);
		a->clear = s2m_below(c->rng, 8) & ~a->set;
		if (s2m_one_in(c->rng, 3)) {
			uint64_t sw = s2m_below(c->rng, 16);

			a->set |= S2_PROT_SW(sw);
			a->clear |= S2_PROT_SW(s2m_below(c->rng, 16) & ~sw);
		}
		break;
	case S2M_OP_RELAX:
		a->prot = 1 + s2m_below(c->rng, 7);
		break;
	case S2M_OP_TEST_CLEAR_YOUNG:
		a->clear_young = !s2m_one_in(c->rng, 4);
		break;
	case S2M_OP_COLLAPSE:
		if (s2m_one_in(c->rng, 2)) { /* a whole window */
			const struct s2m_window *w = &c->win[s2m_below(c->rng, 3)];

			a->ipa = w->base;
			a->size = w->size;
		}
		break;
	case S2M_OP_ANNOTATE:
		a->owner = (uint8_t)(1 + s2m_below(c->rng, 255));
		if (s2m_one_in(c->rng, 12))
			a->fail_alloc = (long)s2m_below(c->rng, 3);
		break;
	case S2M_OP_UNMAP:
		if (s2m_one_in(c->rng, 12))
			a->fail_alloc = (long)s2m_below(c->rng, 3);
		break;
	default:
		break;
	}
	if (a->op == S2M_OP_RELAX || a->op == S2M_OP_MKYOUNG || a->op == S2M_OP_LOOKUP) {
		/* single-entry: aim at a mapped page most of the time */
		if (c->model.n && !s2m_one_in(c->rng, 4)) {
			const struct s2m_ext *e = &c->model.e[s2m_below(c->rng, c->model.n)];

			a->ipa = s2m_rand_in(c, c->rng, e->start, e->end - e->start);
		}
		a->size = c->P;
	}

	/* Refused inputs: exactly one defect each. */
	if (a->op != S2M_OP_LOOKUP && s2m_one_in(c->rng, 8)) {
		unsigned int k = (unsigned int)s2m_below(c->rng, a->op == S2M_OP_MAP ? 10 : 4);

		a->refused = true;
		switch (k) {
		case 0:
			if (a->op == S2M_OP_RELAX || a->op == S2M_OP_MKYOUNG)
				a->ipa = c->ipa_limit; /* beyond the IPA space */
			else
				a->size = 0;
			break;
		case 1:
			a->ipa += c->P > 4096 ? 4096 : 512; /* misaligned IPA */
			break;
		case 2: /* beyond the IPA space */
			a->ipa = c->ipa_limit - c->P;
			a->size = 2 * c->P;
			if (a->op == S2M_OP_RELAX || a->op == S2M_OP_MKYOUNG)
				a->ipa = c->ipa_limit + c->P;
			break;
		case 3:
			if (a->op == S2M_OP_ANNOTATE)
				a->owner = 0;
			else if (a->op == S2M_OP_SPLIT)
				a->use_cache = false; /* NULL cache */
			else if (a->op == S2M_OP_RELAX || a->op == S2M_OP_MKYOUNG)
				a->ipa = c->ipa_limit * 2;
			else
				a->size += c->P > 4096 ? 4096 : 512; /* misaligned size */
			break;
		case 4:
			a->pa += c->P > 4096 ? 4096 : 512; /* misaligned PA */
			break;
		case 5: /* PA beyond the output size */
			a->pa = c->pa_limit - c->P;
			a->size = 2 * c->P;
			break;
		case 6:
			a->prot = (a->prot & ~S2_PROT_X) | S2_PROT_R | S2_PROT_DEVICE |
				  S2_PROT_NORMAL_NC;
			break;
		case 7:
			a->prot = (a->prot | S2_PROT_X) &
				  ~(S2_PROT_DEVICE | S2_PROT_DEVICE_NGNRNE | S2_PROT_NORMAL_NC);
			a->prot |= s2m_one_in(c->rng, 2) ? S2_PROT_DEVICE : S2_PROT_NORMAL_NC;
			break;
		case 8: /* DBM without HD (or, with HD, DBM with W) */
			a->prot = (a->prot & ~S2_PROT_W) | S2_PROT_R | S2_PROT_DBM;
			if (c->cfg.hd)
				a->prot |= S2_PROT_W;
			break;
		default: /* DBM with W */
			a->prot |= S2_PROT_W | S2_PROT_DBM;
			break;
		}
		a->fail_alloc = -1;
		if (a->op == S2M_OP_RELAX || a->op == S2M_OP_MKYOUNG)
			a->ipa = c->ipa_limit + k * c->P; /* the only refusable input */
		if (a->op == S2M_OP_SPLIT && k != 3)
			a->use_cache = true;
	}
	if (a->refused && a->op == S2M_OP_MAP)
		a->flags &= ~(S2_MAP_NO_REPLACE | S2_MAP_SHARED);
}

static void s2m_format_op(struct s2m_ctx *c, const struct s2m_opargs *a)
{
	snprintf(c->opdesc, sizeof(c->opdesc),
		 "%s(ipa=0x%" PRIx64 " size=0x%" PRIx64 " pa=0x%" PRIx64 " prot=0x%" PRIx64
		 " flags=0x%" PRIx64 " set=0x%" PRIx64 " clear=0x%" PRIx64
		 " owner=%u%s%s fail_alloc=%ld)",
		 s2m_op_names[a->op], a->ipa, a->size, a->pa, a->prot, a->flags, a->set, a->clear,
		 a->owner, a->use_cache ? " cache" : "", a->clear_young ? " clear" : "",
		 a->fail_alloc);
}

static bool s2m_topup(struct s2m_ctx *c, unsigned int n)
{
	int ret = s2_page_cache_topup(&c->cache, &c->port, (size_t)c->P, n);

	if (ret) {
		s2m_fail(c, "s2_page_cache_topup(%u): %s", n, s2_errname(ret));
		return false;
	}
	return true;
}

/* Run one generated operation and check everything. Return false on a violation. */
static bool s2m_step(struct s2m_ctx *c)
{
	struct s2m_opargs a;
	struct s2m_expect x = { { 0 }, { 0 }, 0 };
	struct s2m_list want = { 0 }, old = { 0 };
	uint64_t pre_hash, lo, hi, young = 0, young_lo = 0, young_hi = 0;
	unsigned int collapsed = 0;
	struct s2_lookup lk;
	int ret = 0, mode = -1;
	uint64_t end;
	bool args_ok;

	s2m_gen_op(c, &a);
	c->opno++;
	s2m_format_op(c, &a);
	c->st.ops++;
	c->st.by_op[a.op]++;
	end = a.ipa + a.size;

	/* Before: sample around the range (the model equals the tables here) and fill the TLB. */
	s2m_pick_samples(c, a.ipa, a.size);
	for (unsigned int i = 0; i < c->nsamples; i++)
		if (!s2m_check_ipa(c, c->samples[i], true, (i & 1) == 0))
			return false;
	pre_hash = c->dump_hash;
	s2m_list_copy(&want, &c->model);
	s2m_list_copy(&old, &c->model);

	if (a.use_cache && !s2m_topup(c, 8))
		goto out;

	/* What the contract says. */
	args_ok = !a.refused;
	if (a.refused) {
		int code = S2_EINVAL;

		if (a.size == 0 || (a.op == S2M_OP_ANNOTATE && a.owner == 0) ||
		    (a.op == S2M_OP_SPLIT && !a.use_cache))
			code = S2_EINVAL;
		else if (a.op == S2M_OP_RELAX || a.op == S2M_OP_MKYOUNG)
			code = S2_ERANGE;
		else if ((a.ipa | a.size | a.pa) & (c->P - 1))
			code = S2_EALIGN;
		else if (end > c->ipa_limit || a.pa + a.size > c->pa_limit)
			code = S2_ERANGE;
		else if ((a.prot & S2_PROT_X) &&
			 (a.prot & (S2_PROT_DEVICE | S2_PROT_DEVICE_NGNRNE | S2_PROT_NORMAL_NC)))
			code = S2_EMEMTYPE;
		s2m_allow(&x, code, S2M_NOCHANGE);
	}

	switch (a.op) {
	case S2M_OP_MAP:
		if (!args_ok)
			break;
		{
			struct s2m_val v = s2m_val_from_prot(a.pa, a.prot, a.flags);
			uint64_t nx;
			const struct s2m_ext *o = s2m_at(&c->model, a.ipa, &nx);

			/* The fault path does not take AF away from a leaf that otherwise
			 * matches (with HA, hardware may have set it): young is as good. */
			if ((a.flags & S2_MAP_SHARED) && !v.af && o && o->v.state == S2M_MAPPED &&
			    o->v.af && nx >= end) {
				struct s2m_ext e = { a.ipa, end, v };

				e.v.af = true;
				if (s2m_same_at(o, &e, a.ipa))
					v.af = true;
			}
			s2m_list_set(&want, a.ipa, end, &v);
		}
		if (a.flags & S2_MAP_SHARED) {
			/* One leaf into an existing or new path may be done; anything structural
			 * is refused with S2_EBUSY (or S2_EAGAIN seeing a different entry), and
			 * more than one leaf always is. */
			int l0 = s2m_predicted_level(c, a.ipa, a.size, a.pa,
						     !!(a.flags & S2_MAP_FORCE_PAGES), a.ipa);
			bool exists = (a.flags & S2_MAP_NO_REPLACE) &&
				      s2m_range_has(&c->model, a.ipa, end, S2M_MAPPED);

			if (s2m_level_size(c, l0) == a.size && !exists)
				s2m_allow(&x, 0, S2M_NOCHANGE);
			if (exists)
				s2m_allow(&x, S2_EEXIST, S2M_NOCHANGE);
			s2m_allow(&x, S2_EBUSY, S2M_NOCHANGE);
			s2m_allow(&x, S2_EAGAIN, S2M_NOCHANGE);
		} else if ((a.flags & S2_MAP_NO_REPLACE) &&
			   s2m_range_has(&c->model, a.ipa, end, S2M_MAPPED)) {
			s2m_allow(&x, S2_EEXIST, S2M_PARTIAL);
		} else if ((a.flags & S2_MAP_NO_REPLACE) &&
			   s2m_range_has(&c->model, a.ipa, end, S2M_ANNOTATED)) {
			/* ambiguous: an annotation is not a mapping */
			s2m_allow(&x, 0, S2M_NOCHANGE);
			s2m_allow(&x, S2_EEXIST, S2M_PARTIAL);
			s2m_allow(&x, S2_EPERM, S2M_PARTIAL);
		} else {
			s2m_allow(&x, 0, S2M_NOCHANGE);
		}
		if (a.fail_alloc >= 0)
			s2m_allow(&x, S2_ENOMEM, S2M_PARTIAL);
		break;
	case S2M_OP_UNMAP:
	case S2M_OP_ANNOTATE:
		if (!args_ok)
			break;
		{
			struct s2m_val v;

			memset(&v, 0, sizeof(v));
			v.state = a.op == S2M_OP_UNMAP ? S2M_EMPTY : S2M_ANNOTATED;
			v.owner = a.owner;
			s2m_list_set(&want, a.ipa, end, &v);
		}
		s2m_allow(&x, 0, S2M_NOCHANGE);
		if (a.fail_alloc >= 0)
			s2m_allow(&x, S2_ENOMEM, S2M_PARTIAL);
		break;
	case S2M_OP_WRPROTECT:
		if (!args_ok)
			break;
		s2m_expand_to_leaves(c, a.ipa, a.size, &lo, &hi);
		s2m_list_modify(&want, lo, hi, S2M_MOD_WRPROTECT, 0, 0);
		s2m_allow(&x, 0, S2M_NOCHANGE);
		break;
	case S2M_OP_SET_PROT:
		if (!args_ok)
			break;
		s2m_expand_to_leaves(c, a.ipa, a.size, &lo, &hi);
		if ((a.set & S2_PROT_X) && s2m_range_has_uncached(&c->model, lo, hi)) {
			s2m_allow(&x, S2_EMEMTYPE, S2M_NOCHANGE);
		} else {
			s2m_list_modify(&want, lo, hi, S2M_MOD_SET_PROT, a.set, a.clear);
			s2m_allow(&x, 0, S2M_NOCHANGE);
		}
		break;
	case S2M_OP_RELAX:
	case S2M_OP_MKYOUNG: {
		const struct s2m_leaf *lf;

		if (!args_ok)
			break;
		lf = s2m_leaf_at(c, a.ipa);
		if (!lf || !(lf->pte & S2_PTE_VALID)) {
			s2m_allow(&x, S2_ENOENT, S2M_NOCHANGE);
		} else if (a.op == S2M_OP_RELAX && (a.prot & S2_PROT_X) &&
			   s2m_range_has_uncached(&c->model, lf->ipa, lf->ipa + lf->size)) {
			s2m_allow(&x, S2_EMEMTYPE, S2M_NOCHANGE);
		} else {
			s2m_list_modify(&want, lf->ipa, lf->ipa + lf->size,
					a.op == S2M_OP_RELAX ? S2M_MOD_RELAX : S2M_MOD_AF_SET,
					a.prot, 0);
			s2m_allow(&x, 0, S2M_NOCHANGE);
		}
		break;
	}
	case S2M_OP_TEST_CLEAR_YOUNG:
		if (!args_ok)
			break;
		s2m_expand_to_leaves(c, a.ipa, a.size, &lo, &hi);
		young_lo = s2m_count_young(c, &c->model, a.ipa, end);
		young_hi = s2m_count_young(c, &c->model, lo, hi);
		if (a.clear_young)
			s2m_list_modify(&want, lo, hi, S2M_MOD_AF_CLEAR, 0, 0);
		s2m_allow(&x, 0, S2M_NOCHANGE);
		break;
	case S2M_OP_SPLIT:
	case S2M_OP_COLLAPSE:
	case S2M_OP_LOOKUP:
		if (args_ok)
			s2m_allow(&x, 0, S2M_NOCHANGE);
		break;
	default:
		break;
	}

	/* Do it. */
	if (a.fail_alloc >= 0)
		s2_host_port_fail_alloc_after(c->hp, a.fail_alloc);
	s2_host_port_clear_log(c->hp);
	s2m_bbm_begin(c, a.ipa, end > a.ipa ? end : a.ipa + 1);
	if (a.op == S2M_OP_MAP && args_ok) {
		c->fresh_on = true;
		c->fresh_ipa = a.ipa;
		c->fresh_pa = a.pa;
		c->fresh_size = a.size;
		c->fresh_old = &old;
	}
	switch (a.op) {
	case S2M_OP_MAP:
		ret = s2_pgtable_map(&c->pgt, s2_ipa(a.ipa), a.size, s2_pa(a.pa), a.prot, a.flags,
				     a.use_cache ? &c->cache : NULL);
		break;
	case S2M_OP_UNMAP:
		ret = s2_pgtable_unmap(&c->pgt, s2_ipa(a.ipa), a.size,
				       a.use_cache ? &c->cache : NULL);
		break;
	case S2M_OP_WRPROTECT:
		ret = s2_pgtable_wrprotect(&c->pgt, s2_ipa(a.ipa), a.size);
		break;
	case S2M_OP_SET_PROT:
		ret = s2_pgtable_set_prot(&c->pgt, s2_ipa(a.ipa), a.size, a.set, a.clear);
		break;
	case S2M_OP_RELAX:
		ret = s2_pgtable_relax_perms(&c->pgt, s2_ipa(a.ipa), a.prot);
		break;
	case S2M_OP_MKYOUNG:
		ret = s2_pgtable_mkyoung(&c->pgt, s2_ipa(a.ipa));
		break;
	case S2M_OP_TEST_CLEAR_YOUNG:
		ret = s2_pgtable_test_clear_young(&c->pgt, s2_ipa(a.ipa), a.size, a.clear_young,
						  &young);
		/* The function's contract: clearing AF owes no TLBI; the caller that wants the
		 * next access to fault flushes. */
		if (ret == 0 && a.clear_young) {
			s2_pgtable_flush_range(&c->pgt, s2_ipa(a.ipa), a.size);
			/* ... after which the TLB holds nothing of the range */
			for (unsigned int i = 0; i < c->nsamples; i++)
				if (c->samples[i] >= a.ipa && c->samples[i] < end &&
				    s2_tlb_lookup(&c->tlb, S2M_VMID, s2_ipa(c->samples[i]))) {
					s2m_fail(
						c,
						"s2_pgtable_flush_range left a TLB entry for 0x%" PRIx64,
						c->samples[i]);
					goto out;
				}
		}
		break;
	case S2M_OP_SPLIT:
		if (a.refused) {
			ret = s2_pgtable_split(&c->pgt, s2_ipa(a.ipa), a.size,
					       a.use_cache ? &c->cache : NULL);
			break;
		}
		/* top up and call again while the cache runs dry */
		for (int round = 0; round < 64; round++) {
			if (!s2m_topup(c, S2_PAGE_CACHE_MAX))
				goto out;
			ret = s2_pgtable_split(&c->pgt, s2_ipa(a.ipa), a.size, &c->cache);
			if (ret != S2_ENOMEM)
				break;
			/* a partial split is valid and translates the same */
			if (!s2m_dump(c) ||
			    !s2m_compare(c, &c->model, &c->actual, "after partial split"))
				goto out;
		}
		break;
	case S2M_OP_COLLAPSE:
		ret = s2_pgtable_collapse(&c->pgt, s2_ipa(a.ipa), a.size, &collapsed);
		break;
	case S2M_OP_ANNOTATE:
		ret = s2_pgtable_annotate(&c->pgt, s2_ipa(a.ipa), a.size, a.owner,
					  a.use_cache ? &c->cache : NULL);
		break;
	case S2M_OP_LOOKUP:
		ret = s2_pgtable_lookup(&c->pgt, s2_ipa(a.ipa), &lk);
		break;
	default:
		break;
	}
	c->fresh_on = false;
	if (a.fail_alloc >= 0)
		s2_host_port_fail_alloc_after(c->hp, -1);
	if (c->failed)
		goto out;

	/* Judge the return code. */
	for (unsigned int i = 0; i < x.n; i++)
		if (x.codes[i] == ret) {
			mode = (int)x.mode[i];
			break;
		}
	if (mode < 0) {
		char exp[64] = "";
		size_t n = 0;

		for (unsigned int i = 0; i < x.n; i++)
			n += (size_t)snprintf(exp + n, sizeof(exp) - n, "%s%s", i ? "|" : "",
					      x.codes[i] ? s2_errname(x.codes[i]) : "0");
		s2m_fail(c, "returned %s, expected %s", ret ? s2_errname(ret) : "0", exp);
		goto out;
	}
	if (!s2m_dump(c) || !s2m_bbm_check(c))
		goto out;
	if (ret == 0) {
		c->st.ok++;
		c->st.by_op_ok[a.op]++;
		c->st.collapsed += collapsed;
		c->st.young += young;
		s2m_list_copy(&c->model, &want);
	} else if (mode == S2M_NOCHANGE) {
		c->st.refused++;
		if (c->dump_hash != pre_hash) {
			s2m_fail(c, "refused with %s but the tables changed", s2_errname(ret));
			goto out;
		}
	} else {
		c->st.partial++;
		if (!s2m_compare_either(c, &c->model, &want, &c->actual))
			goto out;
		s2m_list_copy(&c->model, &c->actual);
	}
	if (!s2m_compare(c, &c->model, &c->actual, "tables vs model"))
		goto out;
	if (!s2m_check_lost_cmo(c, &old, a.op == S2M_OP_MAP))
		goto out;
	if (ret == 0 && !s2m_check_exec_grant(c, &old))
		goto out;

	/* Operation-specific results. */
	if (ret == 0) {
		switch (a.op) {
		case S2M_OP_MAP:
			if (!s2m_check_map_geometry(c, &old, a.ipa, a.size, a.pa,
						    !!(a.flags & S2_MAP_FORCE_PAGES)))
				goto out;
			if (!s2m_range_has(&old, a.ipa, end, S2M_MAPPED) &&
			    !s2m_check_cmo(c, a.pa, a.size, a.prot, a.flags))
				goto out;
			break;
		case S2M_OP_TEST_CLEAR_YOUNG:
			if (young != young_lo && young != young_hi) {
				s2m_fail(c,
					 "young count %" PRIu64 ", model has %" PRIu64
					 " in range (%" PRIu64 " counting whole blocks)",
					 young, young_lo, young_hi);
				goto out;
			}
			break;
		case S2M_OP_SPLIT:
			for (size_t i = 0; i < c->nleaves; i++) {
				const struct s2m_leaf *lf = &c->leaves[i];

				if (lf->ipa + lf->size > a.ipa && lf->ipa < end &&
				    (lf->pte & S2_PTE_VALID) && lf->level != 3) {
					s2m_fail(c, "split left a L%d block at 0x%" PRIx64,
						 lf->level, lf->ipa);
					goto out;
				}
			}
			break;
		case S2M_OP_COLLAPSE: {
			/* Every last-level table fully in range whose pages form one uniform,
			 * aligned run must now be a block (or part of a larger one). */
			int lb = 2;
			uint64_t S = s2m_level_size(c, lb), need = 0;

			if (!s2m_level_has_blocks(c, lb) || lb < c->cfg.start_level)
				break;
			for (uint64_t A = (a.ipa + S - 1) & ~(S - 1); A + S <= end && A >= a.ipa;
			     A += S) {
				uint64_t nx;
				const struct s2m_ext *e = s2m_at(&c->model, A, &nx);
				const struct s2m_leaf *lf;

				if (!e || e->v.state != S2M_MAPPED || e->end < A + S ||
				    (s2m_pa_at(e, A) & (S - 1)))
					continue;
				lf = s2m_leaf_at(c, A);
				if (!lf || lf->size < S) {
					s2m_fail(c,
						 "collapse left the uniform run at 0x%" PRIx64
						 " as L%d leaves (collapsed=%u)",
						 A, lf ? lf->level : -9, collapsed);
					goto out;
				}
				need++;
				if (need > 4096)
					break;
			}
			break;
		}
		case S2M_OP_LOOKUP: {
			uint64_t nx;
			const struct s2m_ext *e = s2m_at(&c->model, a.ipa, &nx);
			bool mapped = e && e->v.state == S2M_MAPPED;
			uint64_t lprot = s2_lookup_prot(lk);

			if (lk.valid != mapped ||
			    (mapped && (lk.pa.pa != s2m_pa_at(e, a.ipa) ||
					(lprot & S2_PROT_RWX) != e->v.perms ||
					((lprot >> S2_PROT_SW_SHIFT) & 0xf) != e->v.sw ||
					s2m_val_from_prot(0, lprot, 0).mt != e->v.mt)) ||
			    (!mapped && (e ? e->v.owner : 0) != s2_lookup_owner(lk))) {
				char d[128];

				s2m_describe(e, a.ipa, d, sizeof(d));
				s2m_fail(c,
					 "lookup: valid %d pa 0x%" PRIx64 " prot 0x%" PRIx64
					 " owner %u; model: %s",
					 lk.valid, lk.pa.pa, lprot, s2_lookup_owner(lk), d);
				goto out;
			}
			break;
		}
		default:
			break;
		}
	}

	/* After: the oracle, the TLB, the checker and the accounting. */
	s2m_pick_samples(c, a.ipa, a.size);
	s2m_check_all(c);
out:
	s2m_list_free(&want);
	s2m_list_free(&old);
	return !c->failed;
}

/* Run up to @max_ops operations (stops early when a fuzz input runs out). */
bool s2m_run(struct s2m_ctx *c, unsigned long max_ops)
{
	for (unsigned long i = 0; i < max_ops && !c->failed; i++) {
		if (c->rng->data && c->rng->pos >= c->rng->len)
			break;
		if (!s2m_step(c))
			return false;
	}
	return !c->failed;
}
