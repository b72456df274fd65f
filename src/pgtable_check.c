// SPDX-License-Identifier: MIT
/*
 * pgtable_check.c - s2_pgtable_check(): every invariant of a quiet stage-2 tree (docs/pgtable.md
 * "Checking a tree"), read-only but for the visit marks it leaves in the table pages' refcounts
 * and removes again.
 */
#include "pgtable_internal.h"

/* ---- check ------------------------------------------------------------------------------------ */

struct check_ctx {
	struct range_walk w; /* first: the walker's state */
	struct s2_check_report *r;
	uint64_t root_lo, root_hi; /* the root's PA range */
	uint64_t count[S2_LEVEL_MAX - S2_LEVEL_MIN + 2]; /* per level + 1: valid + annotated
							   * entries of the table being walked */
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

/*
 * One entry of the tree: counted for its table's refcount (valid and annotated entries), and
 * checked. A table is validated (its address, not the root, not reached before) and marked
 * before the walk descends into it (WALK_DESCEND), its count reset.
 */
static S2_ALWAYS_INLINE enum walk_action check_visit(struct range_walk *w,
						     const struct walk_entry *e)
{
	struct check_ctx *c = (struct check_ctx *)w;
	const struct s2_pgtable *pgt = w->pgt;
	s2_pte_t pte = e->pte;
	int level = e->level;
	uint64_t ipa = e->base, size = e->size;

	if (!(pte & S2_PTE_VALID)) {
		if (!pte)
			return WALK_SKIP;
		if (pte & ~S2_PTE_INVALID_OWNER) {
			check_err(c, level, ipa, "invalid entry with stray bits");
			return WALK_SKIP;
		}
		c->r->annotated++;
		c->count[level + 1]++;
		return WALK_SKIP;
	}
	c->count[level + 1]++;
	if (pte_is_table(pte, level)) {
		uint64_t pa = pte_oa(pgt, pte);
		s2_pte_t *child;
		uint32_t *rc;

		if (pa >= pgt->geom.pa_limit) {
			check_err(c, level, ipa, "table address beyond the PA size");
			return WALK_SKIP;
		}
		if (pa >= c->root_lo && pa < c->root_hi) {
			check_err(c, level, ipa, "table entry points at the root");
			return WALK_SKIP;
		}
		child = pgt->port.ops->pa_to_va(pgt->port.ctx, s2_pa(pa));
		if (!child) {
			check_err(c, level, ipa, "table address is not table memory");
			return WALK_SKIP;
		}
		rc = table_rc(pgt, child);
		if (s2_atomic_load32(rc) & RC_MARK) {
			check_err(c, level, ipa, "table page reachable twice");
			return WALK_SKIP;
		}
		s2_atomic_store32(rc, s2_atomic_load32(rc) | RC_MARK);
		c->r->table_pages++;
		c->count[level + 2] = 0;
		return WALK_DESCEND;
	}
	if (level == 3 && !(pte & S2_PTE_TYPE)) {
		check_err(c, level, ipa, "reserved encoding (0b01 at level 3)");
		return WALK_SKIP;
	}
	if (level < 3 && !level_has_blocks(pgt, level)) {
		check_err(c, level, ipa, "block at a level without blocks");
		return WALK_SKIP;
	}
	if (pte_oa(pgt, pte) & (size - 1)) {
		check_err(c, level, ipa, "output address not aligned to the entry size");
		return WALK_SKIP;
	}
	if (pte_oa(pgt, pte) + size > pgt->geom.pa_limit) {
		check_err(c, level, ipa, "output address beyond the PA size");
		return WALK_SKIP;
	}
	if (pgt->cfg.fwb && (pte_memattr(pte) & S2_MA_FWB_TYPE_MASK) == S2_MA_FWB_RESERVED) {
		check_err(c, level, ipa, "reserved MemAttr (FWB 0b100)");
		return WALK_SKIP;
	}
	if (pgt->cfg.fwb && (pte_memattr(pte) & 0x8)) {
		check_err(c, level, ipa, "MemAttr[3] set with FWB");
		return WALK_SKIP;
	}
	c->r->leaves++;
	return WALK_SKIP;
}

/* A table walked (never the root): its refcount against the entries counted in it. */
static S2_ALWAYS_INLINE enum walk_action check_post(struct range_walk *w,
						    const struct walk_entry *e)
{
	struct check_ctx *c = (struct check_ctx *)w;
	const struct s2_pgtable *pgt = w->pgt;
	int level = e->level + 1;
	uint64_t count = c->count[level + 1];
	uint32_t rc = s2_atomic_load32(table_rc(pgt, pte_table(pgt, e->pte))) & ~RC_MARK;

	if (rc != count)
		check_err(c, level, e->base,
			  "table refcount differs from its valid + annotated entries");
	if (!count)
		check_err(c, level, e->base, "empty table left linked");
	return WALK_SKIP;
}

WALK_INSTANCE(check_walk, check_visit, check_post, NULL)

/* Remove the visit marks check_visit() left: descend into every marked table, unmarking it. */
static S2_ALWAYS_INLINE enum walk_action unmark_visit(struct range_walk *w,
						      const struct walk_entry *e)
{
	const struct s2_pgtable *pgt = w->pgt;
	uint64_t pa = pte_oa(pgt, e->pte);
	s2_pte_t *child;
	uint32_t *rc, v;

	if (!pte_is_table(e->pte, e->level) || pa >= pgt->geom.pa_limit)
		return WALK_SKIP;
	child = pgt->port.ops->pa_to_va(pgt->port.ctx, s2_pa(pa));
	if (!child || child == pgt->root)
		return WALK_SKIP;
	rc = table_rc(pgt, child);
	v = s2_atomic_load32(rc);
	if (!(v & RC_MARK))
		return WALK_SKIP;
	s2_atomic_store32(rc, v & ~RC_MARK);
	return WALK_DESCEND;
}

WALK_INSTANCE(unmark_walk, unmark_visit, NULL, NULL)

int s2_pgtable_check(const struct s2_pgtable *pgt, struct s2_check_report *report)
{
	struct s2_check_report local;
	struct check_ctx c;

	if (!report)
		report = &local;
	s2_memzero(report, sizeof(*report));
	if (!pgt || !pgt->root)
		return S2_EINVAL;
	/* The walks change nothing but the visit marks in the refcounts (port memory). */
	s2_memzero(&c, sizeof(c));
	c.w.pgt = (struct s2_pgtable *)(uintptr_t)pgt;
	c.r = report;
	c.root_lo = s2_pa_val(pgt->root_pa);
	c.root_hi = c.root_lo + pgt->cfg.root_table_bytes;
	report->table_pages = pgt->cfg.root_table_bytes >> pgt->geom.page_shift;
	(void)check_walk(&c.w, pgt->root, pgt->geom.start_level, 0, pgt->geom.ipa_limit);
	(void)unmark_walk(&c.w, pgt->root, pgt->geom.start_level, 0, pgt->geom.ipa_limit);
	return report->errors ? S2_ECORRUPT : 0;
}
