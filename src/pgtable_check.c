// SPDX-License-Identifier: MIT
/*
 * pgtable_check.c - s2_pgtable_check(): every invariant of a quiet stage-2 tree (docs/pgtable.md
 * "Checking a tree"), read-only but for the visit marks it leaves in the table pages' refcounts
 * and removes again.
 */
#include "pgtable_internal.h"

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
