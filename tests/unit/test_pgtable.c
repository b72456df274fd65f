// SPDX-License-Identifier: MIT
#define _POSIX_C_SOURCE 200809L
/*
 * Unit tests of the stage-2 page-table engine, run over the whole config matrix. Expected
 * descriptors come from the architecture (golden bit patterns written here from the Arm ARM,
 * cross-checked with arch's encoder); translations are checked with the reference walker.
 */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s2_test_matrix.h"
#include "s2mmu/walk.h"

static struct s2_test_cfg matrix[S2_TEST_MATRIX_MAX];
static size_t nmatrix;

#define LOG_CAP 8192

#define FOR_EACH_CFG(tc) for (const struct s2_test_cfg *tc = matrix; tc < matrix + nmatrix; tc++)

static int setup(void **state)
{
	(void)state;
	nmatrix = s2_test_matrix(matrix);
	return 0;
}

/* ---- helpers ----------------------------------------------------------------------------- */

static uint64_t level_size(const struct s2_config *cfg, int level)
{
	unsigned int ps = cfg->page_shift;
	return UINT64_C(1) << (ps + (unsigned int)(3 - level) * (ps - 3));
}

static bool has_blocks(const struct s2_config *cfg, int level)
{
	return s2_config_level_has_blocks(cfg, level);
}

static uint64_t ipa_limit(const struct s2_config *cfg)
{
	return UINT64_C(1) << cfg->ipa_bits;
}

/*
 * The expected leaf descriptor, built bit by bit from the Arm ARM (D8.3.1 stage-2 block and
 * page descriptors) rather than by the engine: [1:0] 0b11 page / 0b01 block; MemAttr [5:2];
 * S2AP [7:6]; SH [9:8] inner (3) or OA[51:50] with DS; AF [10]; OA; XN [54:53]; SW [58:55].
 */
/* (@prot: enum s2_prot bits, and S2_MAP_YOUNG_CLEAR for a leaf with AF clear: the two flag sets
 * are disjoint.) */
static s2_pte_t golden_leaf(const struct s2_config *cfg, int level, uint64_t pa, uint64_t prot)
{
	s2_pte_t d = level == 3 ? 3 : 1;
	unsigned int memattr;

	if (prot & S2_PROT_DEVICE_NGNRNE)
		memattr = 0x0;
	else if (prot & S2_PROT_DEVICE)
		memattr = 0x1;
	else if (prot & S2_PROT_NORMAL_NC)
		memattr = 0x5;
	else
		memattr = cfg->fwb ? 0x6 : 0xf;
	d |= (s2_pte_t)memattr << 2;
	if (prot & S2_PROT_R)
		d |= 1ull << 6;
	if (prot & S2_PROT_W)
		d |= 1ull << 7;
	if (!(prot & S2_MAP_YOUNG_CLEAR))
		d |= 1ull << 10;
	if (!(prot & S2_PROT_X))
		d |= 2ull << 53;
	d |= ((prot >> 8) & 0xf) << 55;
	if (prot & S2_PROT_DBM)
		d |= 1ull << 51;
	if (cfg->ds) {
		d |= pa & 0x0003fffffffff000ull & ~((1ull << cfg->page_shift) - 1);
		d |= ((pa >> 50) & 3) << 8;
	} else if (cfg->lpa) {
		d |= pa & 0x0000ffffffff0000ull;
		d |= ((pa >> 48) & 0xf) << 12;
		d |= 3ull << 8;
	} else {
		d |= pa & 0x0000fffffffff000ull & ~((1ull << cfg->page_shift) - 1);
		d |= 3ull << 8;
	}
	return d;
}

static struct s2_lookup lk(struct s2_test_env *e, uint64_t ipa)
{
	struct s2_lookup l;
	assert_int_equal(s2_pgtable_lookup(&e->pgt, s2_ipa(ipa), &l), 0);
	return l;
}

static void assert_tree_ok(struct s2_test_env *e)
{
	struct s2_check_report r;
	int ret = s2_pgtable_check(&e->pgt, &r);
	if (ret)
		fail_msg("check: %d errors, first: %s", (int)r.errors, r.first_error);
	/* No leak: every table page in use is reachable (units of 4 KiB vs granules). */
	assert_int_equal(s2_host_port_stats(e->hp).pages_in_use * 4096,
			 r.table_pages << e->pgt.cfg.page_shift);
}

static void assert_pages_back(struct s2_test_env *e)
{
	assert_int_equal(s2_host_port_stats(e->hp).pages_in_use, e->root_pages);
}

/* Walk @ipa with the reference walker: returns the fault kind, *pa the output. */
static enum s2_fault ref_walk(struct s2_test_env *e, uint64_t ipa, enum s2_access_type t,
			      struct s2_walk_result *res)
{
	struct s2_walk_mem mem = s2_host_port_walk_mem(e->hp);
	struct s2_access acc = { .type = t };
	/* A read-only view: the engine's tables are not written by these walks. */
	mem.cas64 = NULL;
	assert_int_equal(s2_walk(&e->pgt.cfg, e->pgt.root_pa, &mem, s2_ipa(ipa), acc, res), 0);
	return res->fault;
}

static unsigned int count_events(struct s2_test_env *e, enum s2_host_event_kind k)
{
	unsigned int n, c = 0;
	const struct s2_host_event *ev = s2_host_port_log(e->hp, &n, NULL);
	for (unsigned int i = 0; i < n; i++)
		c += ev[i].kind == k;
	return c;
}

static unsigned int count_tlbi(struct s2_test_env *e)
{
	return count_events(e, S2_HOST_EV_TLBI_IPA) + count_events(e, S2_HOST_EV_TLBI_RANGE) +
	       count_events(e, S2_HOST_EV_TLBI_VMID);
}

/* A PA that fits the config's output size and is aligned to @align. */
static uint64_t pick_pa(const struct s2_config *cfg, uint64_t align, uint64_t span)
{
	uint64_t pa = S2_ALIGN_UP(UINT64_C(0x80000000), align);
	if (pa + span > (UINT64_C(1) << cfg->pa_bits))
		pa = 0;
	return pa;
}

/* A valid IPA for an entry of @size: size itself when there is room, else 0. */
static uint64_t pick_ipa(const struct s2_config *cfg, uint64_t size, uint64_t span)
{
	uint64_t ipa = size;
	if (ipa + span > ipa_limit(cfg))
		ipa = 0;
	return ipa;
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* Map one entry at every level that can hold a leaf; lookup, golden descriptor, walker. */
static void test_map_every_level(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		for (int level = cfg->start_level; level <= 3; level++) {
			struct s2_test_env e;
			uint64_t size = level_size(cfg, level), ipa, pa;
			uint64_t prot = S2_PROT_R | S2_PROT_W | S2_PROT_SW(0x5);
			struct s2_walk_result res;
			struct s2_lookup l;

			if (level < 3 && !has_blocks(cfg, level))
				continue;
			if (size > ipa_limit(cfg) || size > (UINT64_C(1) << cfg->pa_bits) / 2)
				continue;
			ipa = pick_ipa(cfg, size, size);
			pa = pick_pa(cfg, size, size);
			s2_test_env_init(&e, cfg, 0, LOG_CAP);
			assert_int_equal(
				s2_pgtable_map(&e.pgt, s2_ipa(ipa), size, s2_pa(pa), prot, 0, NULL),
				0);
			l = lk(&e, ipa + size / 2);
			assert_true(l.valid);
			assert_int_equal(l.level, level);
			assert_int_equal(l.size, size);
			assert_int_equal(s2_pa_val(l.pa), pa + size / 2);
			assert_int_equal(l.pte, golden_leaf(cfg, level, pa, prot));
			assert_int_equal(s2_lookup_prot(l), prot);
			/* arch's encoder agrees on the output-address layout */
			assert_int_equal(s2_pa_val(s2_pte_oa(&e.pgt.fmt, level, l.pte)), pa);
			/* the reference walker translates it */
			assert_int_equal(ref_walk(&e, ipa + size - 8, S2_ACCESS_WRITE, &res),
					 S2_FAULT_NONE);
			assert_int_equal(s2_pa_val(res.pa), pa + size - 8);
			assert_int_equal(res.level, level);
			assert_int_equal(ref_walk(&e, ipa, S2_ACCESS_EXEC, &res),
					 S2_FAULT_PERMISSION);
			/* invalid -> valid: no TLBI */
			assert_int_equal(count_tlbi(&e), 0);
			assert_tree_ok(&e);
			assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa), size, NULL), 0);
			assert_false(lk(&e, ipa).valid);
			assert_int_equal(ref_walk(&e, ipa, S2_ACCESS_READ, &res),
					 S2_FAULT_TRANSLATION);
			assert_pages_back(&e);
			assert_tree_ok(&e);
			s2_test_env_fini(&e);
		}
	}
}

/* A range not aligned to blocks: pages at the edges, blocks in the middle. */
static void test_map_largest_blocks(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t ipa = 2 * blk - 2 * g, size = 2 * blk + 4 * g;
		uint64_t pa = pick_pa(cfg, blk, 4 * blk) + blk - 2 * g;
		struct s2_test_env e;
		struct s2_lookup l;

		if (4 * blk > ipa_limit(cfg))
			continue;
		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), size, s2_pa(pa),
						S2_PROT_R | S2_PROT_X, 0, NULL),
				 0);
		l = lk(&e, ipa);
		assert_int_equal(l.level, 3);
		assert_int_equal(s2_pa_val(l.pa), pa);
		l = lk(&e, 2 * blk + 5 * g);
		assert_int_equal(l.level, 2);
		assert_int_equal(s2_pa_val(l.pa), pa + 2 * g + 5 * g);
		assert_int_equal(l.pte, golden_leaf(cfg, 2, pa + 2 * g, S2_PROT_R | S2_PROT_X));
		l = lk(&e, 3 * blk + g);
		assert_int_equal(l.level, 2);
		l = lk(&e, 4 * blk + g);
		assert_int_equal(l.level, 3);
		assert_true(l.valid);
		assert_int_equal(s2_pa_val(l.pa), pa + 2 * blk + 3 * g);
		assert_false(lk(&e, 4 * blk + 2 * g).valid);
		assert_false(lk(&e, ipa - g).valid);
		assert_tree_ok(&e);

		/* Same range with forced pages: every leaf at level 3. */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), size, s2_pa(pa),
						S2_PROT_R | S2_PROT_X, S2_MAP_FORCE_PAGES, NULL),
				 0);
		for (uint64_t a = ipa; a < ipa + size; a += blk / 8) {
			l = lk(&e, a);
			assert_int_equal(l.level, 3);
			assert_int_equal(s2_pa_val(l.pa), pa + (a - ipa));
		}
		assert_tree_ok(&e);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa), size, NULL), 0);
		assert_pages_back(&e);
		s2_test_env_fini(&e);
	}
}

/* Visitor counting leaves per level. */
struct leafcount {
	uint64_t leaves[5];
	uint64_t pre, post;
	int last_flag;
};

static int count_visitor(void *arg, const struct s2_walk_visit *v)
{
	struct leafcount *c = arg;
	if (v->flag == S2_WALK_LEAF && (v->pte & S2_PTE_VALID))
		c->leaves[v->level + 1]++;
	if (v->flag == S2_WALK_TABLE_PRE)
		c->pre++;
	if (v->flag == S2_WALK_TABLE_POST)
		c->post++;
	return 0;
}

/* Forced pages over a whole level-2 block's worth: exactly the minimum of table pages. */
static void test_force_pages_table_memory(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t ipa = pick_ipa(cfg, blk, blk), pa = pick_pa(cfg, blk, blk);
		struct s2_test_env e;
		struct leafcount c = { 0 };
		struct s2_check_report r;
		unsigned int expect_tables;

		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), blk, s2_pa(pa), S2_PROT_RWX,
						S2_MAP_FORCE_PAGES, NULL),
				 0);
		assert_int_equal(s2_pgtable_walk(&e.pgt, s2_ipa(ipa), blk,
						 S2_WALK_LEAF | S2_WALK_TABLE_PRE |
							 S2_WALK_TABLE_POST | S2_WALK_SKIP_EMPTY,
						 count_visitor, &c),
				 0);
		assert_int_equal(c.leaves[4], blk / g);
		assert_int_equal(c.pre, c.post);
		/* one table per level below the root down to level 3 */
		expect_tables = (unsigned int)(3 - cfg->start_level);
		assert_int_equal(c.pre, expect_tables);
		assert_int_equal(s2_pgtable_check(&e.pgt, &r), 0);
		assert_int_equal(r.leaves, blk / g);
		assert_int_equal(r.table_pages, cfg->root_tables + expect_tables);
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/* ---- break-before-make, observed: the entry's value when each TLBI is issued ---------------- */

static struct s2_port_ops spy_ops, host_ops;
static struct spy {
	unsigned int n;
	bool valid_at_tlbi[64];
} spy;

static void spy_tlbi_ipa(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	struct s2_lookup l;
	assert_int_equal(s2_pgtable_lookup(pgt, ipa, &l), 0);
	if (spy.n < 64)
		spy.valid_at_tlbi[spy.n++] = l.valid;
	host_ops.tlbi_ipa(ctx, pgt, ipa, level);
}

static void spy_tlbi_range(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size)
{
	struct s2_lookup l;
	assert_int_equal(s2_pgtable_lookup(pgt, ipa, &l), 0);
	if (spy.n < 64)
		spy.valid_at_tlbi[spy.n++] = l.valid;
	host_ops.tlbi_range(ctx, pgt, ipa, size);
}

static void spy_attach(struct s2_test_env *e)
{
	host_ops = *e->port.ops;
	spy_ops = host_ops;
	spy_ops.tlbi_ipa = spy_tlbi_ipa;
	spy_ops.tlbi_range = spy_tlbi_range;
	e->pgt.port.ops = &spy_ops; /* test-only: observe the engine's TLBIs */
	memset(&spy, 0, sizeof(spy));
}

/* The log since the last clear must be exactly @kinds (barrier kinds given as 100 + b). */
static void assert_log_is(struct s2_test_env *e, const int *kinds, unsigned int nk)
{
	unsigned int n;
	const struct s2_host_event *ev = s2_host_port_log(e->hp, &n, NULL);
	if (n != nk) {
		for (unsigned int i = 0; i < n; i++)
			print_message("event %u: kind %d barrier %d\n", i, ev[i].kind,
				      ev[i].barrier);
	}
	assert_int_equal(n, nk);
	for (unsigned int i = 0; i < n; i++) {
		if (kinds[i] >= 100) {
			assert_int_equal(ev[i].kind, S2_HOST_EV_BARRIER);
			assert_int_equal(ev[i].barrier, kinds[i] - 100);
		} else {
			assert_int_equal(ev[i].kind, kinds[i]);
		}
	}
}

#define B_ISHST (100 + S2_BARRIER_DSB_ISHST)
#define B_ISH (100 + S2_BARRIER_DSB_ISH)

static void test_replace_bbm_order(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t ipa = pick_ipa(cfg, blk, 2 * blk), pa = pick_pa(cfg, blk, 4 * blk);
		uint64_t rw = S2_PROT_R | S2_PROT_W; /* mapped with S2_MAP_NOCMO */
		struct s2_test_env e;
		struct s2_lookup l;
		unsigned int n;
		const struct s2_host_event *ev;

		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		spy_attach(&e);
		assert_int_equal(
			s2_pgtable_map(&e.pgt, s2_ipa(ipa), g, s2_pa(pa), rw, S2_MAP_NOCMO, NULL),
			0);

		/* Output address change: BBM, exact order, entry invalid at the TLBI. */
		s2_host_port_clear_log(e.hp);
		spy.n = 0;
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), g, s2_pa(pa + g), rw,
						S2_MAP_NOCMO, NULL),
				 0);
		{
			/* Without FWB the old page, Normal WB, is cleaned to PoC after the TLBI. */
			static const int k[] = { B_ISHST, S2_HOST_EV_TLBI_IPA, B_ISH, B_ISHST };
			static const int k_cmo[] = { B_ISHST, S2_HOST_EV_TLBI_IPA, B_ISH,
						     S2_HOST_EV_DC_CIVAC, B_ISHST };
			if (cfg->fwb)
				assert_log_is(&e, k, 4);
			else
				assert_log_is(&e, k_cmo, 5);
		}
		ev = s2_host_port_log(e.hp, &n, NULL);
		assert_int_equal(ev[1].addr, ipa);
		assert_int_equal(ev[1].level, 3);
		if (!cfg->fwb) {
			assert_int_equal(ev[3].addr, pa);
			assert_int_equal(ev[3].size, g);
		}
		assert_int_equal(spy.n, 1);
		assert_false(spy.valid_at_tlbi[0]);
		l = lk(&e, ipa);
		assert_int_equal(s2_pa_val(l.pa), pa + g);

		/* Memory type change: BBM as well. */
		s2_host_port_clear_log(e.hp);
		spy.n = 0;
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), g, s2_pa(pa + g),
						rw | S2_PROT_NORMAL_NC, S2_MAP_NOCMO, NULL),
				 0);
		assert_int_equal(count_events(&e, S2_HOST_EV_TLBI_IPA), 1);
		assert_false(spy.valid_at_tlbi[0]);
		assert_int_equal(s2_lookup_prot(lk(&e, ipa)) & S2_PROT_NORMAL_NC,
				 S2_PROT_NORMAL_NC);

		/* Permission relaxed (R -> RW) in place: no break, but a TLBI (a TLB may hold
		 * the read-only entry that gave a write a permission fault); on the fault path
		 * (S2_MAP_SHARED) the local one, as relax_perms. */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), g, s2_pa(pa + g), S2_PROT_R,
						S2_MAP_NOCMO, NULL),
				 0);
		s2_host_port_clear_log(e.hp);
		spy.n = 0;
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), g, s2_pa(pa + g), rw,
						S2_MAP_NOCMO, NULL),
				 0);
		assert_int_equal(count_events(&e, S2_HOST_EV_TLBI_IPA), 1);
		assert_int_equal(count_events(&e, S2_HOST_EV_TLBI_IPA_LOCAL), 0);
		assert_true(spy.valid_at_tlbi[0]);
		assert_true(s2_lookup_prot(lk(&e, ipa)) & S2_PROT_W);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), g, s2_pa(pa + g), S2_PROT_R,
						S2_MAP_NOCMO, NULL),
				 0);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), g, s2_pa(pa + g), rw,
						S2_MAP_SHARED | S2_MAP_NOCMO, NULL),
				 0);
		assert_int_equal(count_tlbi(&e), 0);
		assert_int_equal(count_events(&e, S2_HOST_EV_TLBI_IPA_LOCAL), 1);

		/* Permission restricted in place: TLBI, entry stays valid (no break). */
		s2_host_port_clear_log(e.hp);
		spy.n = 0;
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), g, s2_pa(pa + g), S2_PROT_R,
						S2_MAP_NOCMO, NULL),
				 0);
		assert_int_equal(count_events(&e, S2_HOST_EV_TLBI_IPA), 1);
		assert_true(spy.valid_at_tlbi[0]);

		/* A run of pages moved to other output addresses: every entry broken, one TLBI for
		 * the run, then every entry made (batched break-before-make). */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + 8 * g), 8 * g, s2_pa(pa), rw,
						S2_MAP_NOCMO, NULL),
				 0);
		s2_host_port_clear_log(e.hp);
		spy.n = 0;
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + 8 * g), 8 * g,
						s2_pa(pa + 2 * blk), rw, S2_MAP_NOCMO, NULL),
				 0);
		{
			/* Without FWB: one clean of the 8 old pages (contiguous) after the TLBI. */
			static const int k[] = { B_ISHST, S2_HOST_EV_TLBI_RANGE, B_ISH, B_ISHST };
			static const int k_cmo[] = { B_ISHST, S2_HOST_EV_TLBI_RANGE, B_ISH,
						     S2_HOST_EV_DC_CIVAC, B_ISHST };
			if (cfg->fwb)
				assert_log_is(&e, k, 4);
			else
				assert_log_is(&e, k_cmo, 5);
		}
		ev = s2_host_port_log(e.hp, &n, NULL);
		if (!cfg->fwb) {
			assert_int_equal(ev[3].addr, pa);
			assert_int_equal(ev[3].size, 8 * g);
		}
		assert_int_equal(ev[1].addr, ipa + 8 * g);
		assert_int_equal(ev[1].size, 8 * g);
		assert_int_equal(spy.n, 1);
		assert_false(spy.valid_at_tlbi[0]);
		for (uint64_t i = 8; i < 16; i++)
			assert_int_equal(lk(&e, ipa + i * g).pte,
					 golden_leaf(cfg, 3, pa + 2 * blk + (i - 8) * g, rw));
		assert_tree_ok(&e);

		/* Pages -> block over the same range: the table is replaced and freed after the
		 * TLBI (range, since walk caches must go too). */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), blk, s2_pa(pa), rw,
						S2_MAP_FORCE_PAGES | S2_MAP_NOCMO, NULL),
				 0);
		s2_host_port_clear_log(e.hp);
		spy.n = 0;
		assert_int_equal(
			s2_pgtable_map(&e.pgt, s2_ipa(ipa), blk, s2_pa(pa), rw, S2_MAP_NOCMO, NULL),
			0);
		{
			static const int k[] = { B_ISHST, S2_HOST_EV_TLBI_RANGE, B_ISH,
						 S2_HOST_EV_FREE, B_ISHST };
			assert_log_is(&e, k, 5);
		}
		assert_false(spy.valid_at_tlbi[0]);
		l = lk(&e, ipa + g);
		assert_int_equal(l.level, 2);
		assert_int_equal(s2_pa_val(l.pa), pa + g);
		assert_tree_ok(&e);

		/* Block -> a different page inside it: the block is split (BBM once), the page
		 * replaced inside the new table before it is linked. */
		s2_host_port_clear_log(e.hp);
		spy.n = 0;
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + 3 * g), g, s2_pa(pa + 2 * blk),
						rw, S2_MAP_NOCMO, NULL),
				 0);
		assert_int_equal(count_events(&e, S2_HOST_EV_TLBI_IPA), 1);
		assert_false(spy.valid_at_tlbi[0]);
		assert_int_equal(s2_pa_val(lk(&e, ipa + 3 * g).pa), pa + 2 * blk);
		assert_int_equal(s2_pa_val(lk(&e, ipa + 4 * g).pa), pa + 4 * g);
		assert_int_equal(lk(&e, ipa + 4 * g).level, 3);
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/* Data-cache clean only for Normal cacheable without FWB; I-cache only for exec (no DIC). */
static void test_cache_maintenance(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg);
		uint64_t pa = pick_pa(cfg, g, 64 * g);
		struct s2_test_env e;
		unsigned int n;
		const struct s2_host_event *ev;
		/* prot, with S2_MAP_NOCMO for a map with that flag (the sets are disjoint) */
		static const uint64_t prots[] = {
			S2_PROT_R | S2_PROT_W,
			S2_PROT_RWX,
			S2_PROT_R | S2_PROT_W | S2_MAP_NOCMO,
			S2_PROT_R | S2_PROT_W | S2_PROT_DEVICE,
			S2_PROT_R | S2_PROT_DEVICE_NGNRNE,
			S2_PROT_R | S2_PROT_W | S2_PROT_NORMAL_NC,
			S2_PROT_X | S2_PROT_R | S2_MAP_NOCMO,
		};

		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		for (size_t i = 0; i < S2_ARRAY_SIZE(prots); i++) {
			uint64_t p = prots[i], ipa = (i + 1) * 4 * g;
			bool want_dc =
				!cfg->fwb && !(p & (S2_MAP_NOCMO | S2_PROT_DEVICE |
						    S2_PROT_DEVICE_NGNRNE | S2_PROT_NORMAL_NC));
			bool want_ic = (p & S2_PROT_X) && !cfg->dic;

			s2_host_port_clear_log(e.hp);
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), 2 * g, s2_pa(pa),
							p & ~(uint64_t)S2_MAP_NOCMO,
							p & S2_MAP_NOCMO, NULL),
					 0);
			assert_int_equal(count_events(&e, S2_HOST_EV_DC_CIVAC), want_dc);
			assert_int_equal(count_events(&e, S2_HOST_EV_IC_INVAL), want_ic);
			assert_int_equal(count_tlbi(&e), 0);
			ev = s2_host_port_log(e.hp, &n, NULL);
			if (want_dc || want_ic) {
				/* the maintenance covers [pa, pa + size) and comes first */
				assert_true(ev[0].kind == S2_HOST_EV_DC_CIVAC ||
					    ev[0].kind == S2_HOST_EV_IC_INVAL);
				assert_int_equal(ev[0].addr, pa);
				assert_int_equal(ev[0].size, 2 * g);
			}
			assert_int_equal(
				s2_lookup_prot(lk(&e, ipa + g)),
				(p & ~(uint64_t)S2_MAP_NOCMO) |
					((p & S2_PROT_DEVICE_NGNRNE) ? S2_PROT_DEVICE : 0));
		}
		assert_tree_ok(&e);
		s2_test_env_fini(&e);

		/* With CTR_EL0.DIC no I-cache invalidation, also when relaxing to exec. */
		{
			struct s2_config dic = *cfg;
			dic.dic = true;
			s2_test_env_init(&e, &dic, 0, LOG_CAP);
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(0), g, s2_pa(pa),
							S2_PROT_RWX, 0, NULL),
					 0);
			assert_int_equal(
				s2_pgtable_map(&e.pgt, s2_ipa(g), g, s2_pa(pa), S2_PROT_R, 0, NULL),
				0);
			assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(g), S2_PROT_X), 0);
			assert_int_equal(count_events(&e, S2_HOST_EV_IC_INVAL), 0);
			assert_int_equal(count_events(&e, S2_HOST_EV_DC_CIVAC), cfg->fwb ? 0 : 2);
			s2_test_env_fini(&e);
		}
	}
}

/* Every refusal, with its code, and nothing changed. */
static void test_refusals(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), lim = ipa_limit(cfg);
		uint64_t palim = UINT64_C(1) << cfg->pa_bits;
		struct s2_test_env e;
		struct s2_lookup before;
		const uint64_t rw = S2_PROT_R | S2_PROT_W;
		struct {
			uint64_t ipa, size, pa, prot, flags;
			int ret;
		} c[] = {
			{ 0, 0, 0, rw, 0, S2_EINVAL },
			{ 0, g, 0, 0, 0, S2_EINVAL },
			{ 0, g, 0, rw | S2_PROT_DEVICE | S2_PROT_NORMAL_NC, 0, S2_EINVAL },
			{ 0, g, 0, S2_PROT_RWX | S2_PROT_DEVICE, 0, S2_EMEMTYPE },
			{ 0, g, 0, S2_PROT_X | S2_PROT_DEVICE_NGNRNE, 0, S2_EMEMTYPE },
			{ 0, g, 0, S2_PROT_RWX | S2_PROT_NORMAL_NC, 0, S2_EMEMTYPE },
			{ 0, g, 0, rw | S2_PROT_DBM, 0, S2_EINVAL },
			{ 0, g, 0, rw, S2_BIT(21), S2_EINVAL },
			/* one flag set passed for another (disjoint bits): refused */
			{ 0, g, 0, rw | S2_MAP_NOCMO, 0, S2_EINVAL },
			{ 0, g, 0, rw | S2_MAP_YOUNG_CLEAR, 0, S2_EINVAL },
			{ 0, g, 0, rw | S2_MAP_FORCE_PAGES, 0, S2_EINVAL },
			{ 0, g, 0, rw | S2_WALK_LEAF, 0, S2_EINVAL },
			{ 0, g, 0, rw, S2_PROT_W, S2_EINVAL },
			{ 0, g, 0, rw, S2_PROT_SW(1), S2_EINVAL },
			{ 0, g, 0, rw, S2_WALK_SKIP_EMPTY, S2_EINVAL },
			{ 512, g, 0, rw, 0, S2_EALIGN },
			{ 0, g + 512, 0, rw, 0, S2_EALIGN },
			{ 0, g, 512, rw, 0, S2_EALIGN },
			{ lim, g, 0, rw, 0, S2_ERANGE },
			{ lim - g, 2 * g, 0, rw, 0, S2_ERANGE },
			{ 0, g, palim, rw, 0, S2_ERANGE },
			{ 0, 2 * g, palim - g, rw, 0, S2_ERANGE },
			{ 2 * g, g, 0, rw, S2_MAP_NO_REPLACE, S2_EEXIST },
			{ g, 4 * g, 0, rw, S2_MAP_NO_REPLACE, S2_EEXIST },
		};

		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		assert_int_equal(
			s2_pgtable_map(&e.pgt, s2_ipa(2 * g), g, s2_pa(g), S2_PROT_R, 0, NULL), 0);
		before = lk(&e, 2 * g);
		for (size_t i = 0; i < S2_ARRAY_SIZE(c); i++) {
			uint64_t pages = s2_host_port_stats(e.hp).pages_in_use;
			s2_host_port_clear_log(e.hp);
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(c[i].ipa), c[i].size,
							s2_pa(c[i].pa), c[i].prot, c[i].flags,
							NULL),
					 c[i].ret);
			assert_int_equal(s2_host_port_stats(e.hp).pages_in_use, pages);
			assert_int_equal(count_tlbi(&e), 0);
			assert_false(lk(&e, g).valid);
			assert_false(lk(&e, 0).valid);
			assert_int_equal(lk(&e, 2 * g).pte, before.pte);
		}
		/* DBM needs HD and no W */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(0), g, s2_pa(0),
						S2_PROT_R | S2_PROT_DBM, 0, NULL),
				 cfg->hd ? 0 : S2_EINVAL);
		/* the other range operations refuse the same way */
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(0), 0, NULL), S2_EINVAL);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(512), g, NULL), S2_EALIGN);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(lim), g, NULL), S2_ERANGE);
		assert_int_equal(s2_pgtable_wrprotect(&e.pgt, s2_ipa(lim - g), 2 * g), S2_ERANGE);
		assert_int_equal(s2_pgtable_annotate(&e.pgt, s2_ipa(0), g, 0, NULL), S2_EINVAL);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(lim), S2_PROT_W), S2_ERANGE);
		assert_int_equal(s2_pgtable_mkyoung(&e.pgt, s2_ipa(lim)), S2_ERANGE);
		assert_int_equal(s2_pgtable_split(&e.pgt, s2_ipa(0), g, NULL), S2_EINVAL);
		assert_int_equal(s2_pgtable_lookup(&e.pgt, s2_ipa(lim), &before), S2_ERANGE);
		assert_int_equal(lk(&e, 2 * g).pte, golden_leaf(cfg, 3, g, S2_PROT_R));
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

static int flagset_visit(void *arg, const struct s2_walk_visit *v)
{
	(*(unsigned int *)arg)++;
	(void)v;
	return 0;
}

/*
 * The three flag sets (enum s2_prot, enum s2_map_flags, enum s2_walk_flags) have disjoint bits
 * and every engine entry refuses a bit of another set with S2_EINVAL, having changed nothing
 * (no entry, no event, no page): the walk modifiers S2_MAP_NOCMO / S2_MAP_YOUNG_CLEAR passed
 * as a permission, a permission passed as a map or walk flag. The access flag is not a
 * permission: s2_leaf_prot() does not report it, s2_leaf_young() / s2_lookup_young() do.
 */
static void test_flag_sets(void **state)
{
	static const uint64_t not_prot[] = { S2_MAP_NOCMO,	 S2_MAP_YOUNG_CLEAR,
					     S2_MAP_FORCE_PAGES, S2_MAP_NO_REPLACE,
					     S2_MAP_SHARED,	 S2_WALK_LEAF };
	static const uint64_t not_map[] = { S2_PROT_R,	   S2_PROT_X,	S2_PROT_DEVICE,
					    S2_PROT_SW(2), S2_PROT_DBM, S2_WALK_TABLE_PRE };
	static const uint64_t not_walk[] = { S2_PROT_R, S2_PROT_W, S2_MAP_SHARED,
					     S2_MAP_YOUNG_CLEAR };
	(void)state;

	assert_int_equal((uint64_t)(S2_PROT_RWX | S2_PROT_DEVICE | S2_PROT_DEVICE_NGNRNE |
				    S2_PROT_NORMAL_NC | S2_PROT_SW_MASK | S2_PROT_DBM) &
				 (S2_MAP_FORCE_PAGES | S2_MAP_NO_REPLACE | S2_MAP_SHARED |
				  S2_MAP_NOCMO | S2_MAP_YOUNG_CLEAR | S2_WALK_LEAF |
				  S2_WALK_TABLE_PRE | S2_WALK_TABLE_POST | S2_WALK_SKIP_EMPTY),
			 0);
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg);
		uint64_t ipa = pick_ipa(cfg, g, 8 * g), pa = pick_pa(cfg, g, 8 * g);
		const uint64_t rw = S2_PROT_R | S2_PROT_W;
		struct s2_test_env e;
		struct s2_leaf_tmpl t;
		struct s2_lookup l, before;
		unsigned int n = 0, ev_n;
		size_t i;

		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), g, s2_pa(pa), S2_PROT_R,
						S2_MAP_YOUNG_CLEAR, NULL),
				 0);
		before = lk(&e, ipa);
		/* AF clear: not young, and not a permission either */
		assert_true(before.valid);
		assert_false(s2_lookup_young(before));
		assert_false(s2_leaf_young(before.pte));
		assert_int_equal(s2_lookup_prot(before), S2_PROT_R);
		assert_false(before.pte & S2_PTE_AF);
		s2_host_port_clear_log(e.hp);
		for (i = 0; i < S2_ARRAY_SIZE(not_prot); i++) {
			uint64_t pages = s2_host_port_stats(e.hp).pages_in_use;

			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + g), g, s2_pa(pa),
							rw | not_prot[i], 0, NULL),
					 S2_EINVAL);
			assert_int_equal(s2_pgtable_leaf_prepare(&e.pgt, rw | not_prot[i], &t),
					 S2_EINVAL);
			assert_int_equal(s2_pgtable_map_page(&e.pgt, s2_ipa(ipa + g), s2_pa(pa), &t,
							     0, NULL),
					 S2_EINVAL);
			assert_int_equal(s2_pgtable_set_prot(&e.pgt, s2_ipa(ipa), g,
							     S2_PROT_W | not_prot[i], 0),
					 S2_EINVAL);
			assert_int_equal(
				s2_pgtable_set_prot(&e.pgt, s2_ipa(ipa), g, 0, not_prot[i]),
				S2_EINVAL);
			assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(ipa),
								S2_PROT_W | not_prot[i]),
					 S2_EINVAL);
			assert_int_equal(s2_pgtable_relax_lookup(&e.pgt, s2_ipa(ipa),
								 S2_PROT_W | not_prot[i], &l),
					 S2_EINVAL);
			assert_int_equal(s2_host_port_stats(e.hp).pages_in_use, pages);
		}
		assert_int_equal(s2_pgtable_leaf_prepare(&e.pgt, rw, &t), 0);
		for (i = 0; i < S2_ARRAY_SIZE(not_map); i++) {
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + g), g, s2_pa(pa), rw,
							not_map[i], NULL),
					 S2_EINVAL);
			assert_int_equal(s2_pgtable_map_page(&e.pgt, s2_ipa(ipa + g), s2_pa(pa), &t,
							     not_map[i], NULL),
					 S2_EINVAL);
			/* also over the existing leaf (the single-entry path's own checks) */
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), g, s2_pa(pa), rw,
							S2_MAP_SHARED | not_map[i], NULL),
					 S2_EINVAL);
		}
		for (i = 0; i < S2_ARRAY_SIZE(not_walk); i++)
			assert_int_equal(s2_pgtable_walk(&e.pgt, s2_ipa(ipa), g,
							 S2_WALK_LEAF | not_walk[i], flagset_visit,
							 &n),
					 S2_EINVAL);
		assert_int_equal(n, 0);
		/* nothing changed: no event, the leaf as it was, nothing at ipa + g */
		(void)s2_host_port_log(e.hp, &ev_n, NULL);
		assert_int_equal(ev_n, 0);
		assert_int_equal(lk(&e, ipa).pte, before.pte);
		assert_false(lk(&e, ipa + g).valid);
		/* the same calls with their own sets' flags do what they say */
		assert_int_equal(
			s2_pgtable_walk(&e.pgt, s2_ipa(ipa), g, S2_WALK_LEAF, flagset_visit, &n),
			0);
		assert_int_equal(n, 1);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + g), g, s2_pa(pa), rw,
						S2_MAP_NOCMO | S2_MAP_YOUNG_CLEAR, NULL),
				 0);
		assert_int_equal(count_events(&e, S2_HOST_EV_DC_CIVAC), 0);
		assert_false(s2_lookup_young(lk(&e, ipa + g)));
		assert_int_equal(s2_lookup_prot(lk(&e, ipa + g)), rw);
		assert_int_equal(s2_pgtable_mkyoung(&e.pgt, s2_ipa(ipa + g)), 0);
		assert_true(s2_lookup_young(lk(&e, ipa + g)));
		assert_true(s2_leaf_young(lk(&e, ipa + g).pte));
		assert_int_equal(s2_lookup_prot(lk(&e, ipa + g)), rw);
		/* an invalid entry is not young */
		assert_false(s2_leaf_young(lk(&e, ipa + 2 * g).pte));
		assert_false(s2_lookup_young(lk(&e, ipa + 2 * g)));
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/* Unmap inside a block: the block is split, the rest keeps its mapping. */
static void test_unmap_straddling(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t ipa = pick_ipa(cfg, blk, 2 * blk), pa = pick_pa(cfg, blk, 2 * blk);
		uint64_t prot = S2_PROT_R | S2_PROT_W | S2_PROT_SW(3);
		struct s2_test_env e;
		struct s2_lookup l;

		if (ipa + 2 * blk > ipa_limit(cfg))
			continue;
		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		assert_int_equal(
			s2_pgtable_map(&e.pgt, s2_ipa(ipa), 2 * blk, s2_pa(pa), prot, 0, NULL), 0);
		assert_int_equal(lk(&e, ipa).level, 2);
		s2_host_port_clear_log(e.hp);
		/* straddles the boundary between the two blocks */
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa + blk - g), 2 * g, NULL), 0);
		/* two blocks split with BBM: their TLBIs; nothing else is owed */
		assert_int_equal(count_events(&e, S2_HOST_EV_TLBI_IPA), 2);
		assert_false(lk(&e, ipa + blk - g).valid);
		assert_false(lk(&e, ipa + blk).valid);
		l = lk(&e, ipa + blk - 2 * g);
		assert_true(l.valid);
		assert_int_equal(l.level, 3);
		assert_int_equal(l.pte, golden_leaf(cfg, 3, pa + blk - 2 * g, prot));
		l = lk(&e, ipa + blk + g);
		assert_int_equal(l.pte, golden_leaf(cfg, 3, pa + blk + g, prot));
		l = lk(&e, ipa);
		assert_int_equal(l.pte, golden_leaf(cfg, 3, pa, prot));
		assert_tree_ok(&e);
		/* unmapping the rest frees every table */
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa), 2 * blk, NULL), 0);
		assert_pages_back(&e);
		{
			/* frees only after the TLBI that covers them */
			unsigned int n, first_free = ~0u, last_tlbi = 0;
			const struct s2_host_event *ev = s2_host_port_log(e.hp, &n, NULL);
			for (unsigned int i = 0; i < n; i++) {
				if (ev[i].kind == S2_HOST_EV_FREE && first_free == ~0u)
					first_free = i;
				if (ev[i].kind == S2_HOST_EV_TLBI_RANGE ||
				    ev[i].kind == S2_HOST_EV_TLBI_IPA ||
				    ev[i].kind == S2_HOST_EV_TLBI_VMID)
					last_tlbi = i;
			}
			assert_true(first_free != ~0u);
			assert_true(last_tlbi < first_free);
			assert_int_equal(ev[last_tlbi + 1].kind, S2_HOST_EV_BARRIER);
			assert_int_equal(ev[last_tlbi + 1].barrier, S2_BARRIER_DSB_ISH);
		}
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/* Many pages across tables, unmapped in one call: one range TLBI, every table freed. */
static void test_unmap_batched(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t ipa = blk - 16 * g, size = blk + 32 * g, pa = pick_pa(cfg, g, size);
		struct s2_test_env e;

		if (ipa + size > ipa_limit(cfg))
			continue;
		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), size, s2_pa(pa),
						S2_PROT_R | S2_PROT_W, S2_MAP_FORCE_PAGES, NULL),
				 0);
		assert_int_equal(count_tlbi(&e), 0);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa + g), size - 2 * g, NULL), 0);
		assert_int_equal(count_events(&e, S2_HOST_EV_TLBI_IPA), 0);
		assert_int_equal(count_events(&e, S2_HOST_EV_TLBI_RANGE) +
					 count_events(&e, S2_HOST_EV_TLBI_VMID),
				 1);
		assert_true(lk(&e, ipa).valid);
		assert_true(lk(&e, ipa + size - g).valid);
		assert_false(lk(&e, ipa + g).valid);
		assert_false(lk(&e, ipa + size - 2 * g).valid);
		assert_tree_ok(&e);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(0), ipa_limit(cfg), NULL), 0);
		assert_pages_back(&e);
		s2_test_env_fini(&e);
	}
}

static void test_wrprotect_set_prot(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t ipa = pick_ipa(cfg, blk, 2 * blk), pa = pick_pa(cfg, blk, 2 * blk);
		uint64_t rw = S2_PROT_R | S2_PROT_W;
		struct s2_test_env e;
		struct s2_walk_result res;

		if (ipa + 2 * blk > ipa_limit(cfg))
			continue;
		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		/* a block and pages */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), blk, s2_pa(pa), rw, 0, NULL),
				 0);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + blk), 8 * g, s2_pa(pa + blk),
						rw, 0, NULL),
				 0);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_wrprotect(&e.pgt, s2_ipa(ipa), 2 * blk), 0);
		assert_int_equal(count_tlbi(&e), 1);
		assert_int_equal(lk(&e, ipa).pte, golden_leaf(cfg, 2, pa, S2_PROT_R));
		assert_int_equal(lk(&e, ipa + blk + 7 * g).pte,
				 golden_leaf(cfg, 3, pa + blk + 7 * g, S2_PROT_R));
		assert_int_equal(ref_walk(&e, ipa + blk, S2_ACCESS_WRITE, &res),
				 S2_FAULT_PERMISSION);
		/* already read-only: nothing to do, no TLBI */
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_wrprotect(&e.pgt, s2_ipa(ipa), 2 * blk), 0);
		assert_int_equal(count_tlbi(&e), 0);

		/* set_prot: exec on Normal memory, SW bits; then take R away */
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_set_prot(&e.pgt, s2_ipa(ipa + blk), 8 * g,
						     S2_PROT_X | S2_PROT_SW(9), 0),
				 0);
		{
			/* one I-cache invalidation for the contiguous run; one TLBI for the run
			 * (a TLB may hold the entries that gave exec a permission fault) */
			unsigned int n;
			const struct s2_host_event *ev = s2_host_port_log(e.hp, &n, NULL);
			assert_int_equal(count_events(&e, S2_HOST_EV_IC_INVAL), cfg->dic ? 0 : 1);
			assert_int_equal(count_tlbi(&e), 1);
			for (unsigned int i = 0; i < n; i++) {
				if (ev[i].kind != S2_HOST_EV_IC_INVAL)
					continue;
				assert_int_equal(ev[i].addr, pa + blk);
				assert_int_equal(ev[i].size, 8 * g);
			}
		}
		assert_int_equal(
			lk(&e, ipa + blk).pte,
			golden_leaf(cfg, 3, pa + blk, S2_PROT_R | S2_PROT_X | S2_PROT_SW(9)));
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_set_prot(&e.pgt, s2_ipa(ipa + blk), 8 * g, S2_PROT_W,
						     S2_PROT_R | S2_PROT_X | S2_PROT_SW(1)),
				 0);
		assert_int_equal(count_tlbi(&e), 1);
		assert_int_equal(lk(&e, ipa + blk).pte,
				 golden_leaf(cfg, 3, pa + blk, S2_PROT_W | S2_PROT_SW(8)));
		assert_int_equal(s2_pgtable_set_prot(&e.pgt, s2_ipa(ipa), g, S2_PROT_R, S2_PROT_R),
				 S2_EINVAL);

		/* with HD, a DBM page: wrprotect clears DBM too (else hardware could grant W) */
		if (cfg->hd) {
			uint64_t a = ipa + blk + 12 * g;
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(a), g, s2_pa(pa),
							S2_PROT_R | S2_PROT_DBM, 0, NULL),
					 0);
			assert_int_equal(lk(&e, a).pte,
					 golden_leaf(cfg, 3, pa, S2_PROT_R | S2_PROT_DBM));
			assert_int_equal(s2_pgtable_wrprotect(&e.pgt, s2_ipa(a), g), 0);
			assert_int_equal(lk(&e, a).pte, golden_leaf(cfg, 3, pa, S2_PROT_R));
		}
		/* exec refused on Device, nothing changed */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + blk + 8 * g), g, s2_pa(pa),
						S2_PROT_R | S2_PROT_DEVICE, 0, NULL),
				 0);
		assert_int_equal(
			s2_pgtable_set_prot(&e.pgt, s2_ipa(ipa + blk), 16 * g, S2_PROT_X, 0),
			S2_EMEMTYPE);
		assert_false(s2_lookup_prot(lk(&e, ipa + blk)) & S2_PROT_X);
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/*
 * set_prot granting exec on a block the range covers only in part makes the whole block
 * executable (the block is one descriptor, its XN covers all of it: Arm ARM D8.4), so the
 * I-cache invalidation (without DIC) must cover the block's whole output range, not just the
 * part inside the range.
 */
static void test_set_prot_exec_partial_block(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t pa = pick_pa(cfg, blk, blk), ipa = pick_ipa(cfg, blk, blk);
		struct s2_test_env e;
		unsigned int n, seen = 0;
		const struct s2_host_event *ev;

		if (cfg->dic || !has_blocks(cfg, 2))
			continue;
		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), blk, s2_pa(pa),
						S2_PROT_R | S2_PROT_W, 0, NULL),
				 0);
		assert_int_equal(lk(&e, ipa).level, 2);
		s2_host_port_clear_log(e.hp);
		/* one granule in the middle of the block */
		assert_int_equal(s2_pgtable_set_prot(&e.pgt, s2_ipa(ipa + 5 * g), g, S2_PROT_X, 0),
				 0);
		/* still one block, now executable as a whole */
		assert_int_equal(lk(&e, ipa).level, 2);
		assert_int_equal(lk(&e, ipa).pte,
				 golden_leaf(cfg, 2, pa, S2_PROT_R | S2_PROT_W | S2_PROT_X));
		ev = s2_host_port_log(e.hp, &n, NULL);
		for (unsigned int i = 0; i < n; i++) {
			if (ev[i].kind != S2_HOST_EV_IC_INVAL)
				continue;
			seen++;
			assert_int_equal(ev[i].addr, pa);
			assert_int_equal(ev[i].size, blk);
		}
		assert_int_equal(seen, 1);
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/*
 * set_prot with S2_PROT_DBM (arming hardware dirty state for a range, as dirty logging with DBM
 * does): every valid leaf becomes writable-clean (W cleared, DBM set, AF and the rest kept),
 * one TLBI for what changed, and no cache maintenance (no I-cache invalidation for executable
 * pages, no D-cache clean): nothing about execution or the memory contents changes.
 */
static void test_set_prot_dbm(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t ipa = pick_ipa(cfg, blk, blk), pa = pick_pa(cfg, blk, blk);
		uint64_t rw = S2_PROT_R | S2_PROT_W;
		struct s2_test_env e;
		unsigned int n, i;
		const struct s2_host_event *ev;
		s2_pte_t before[16];

		if (ipa + blk > ipa_limit(cfg))
			continue;
		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		/* pages 1..14: RW, RWX (3, 4), read-only (5), already DBM (7), AF clear (9), Device
		 * (11); pages 0 and 15 unmapped */
		for (i = 1; i < 15; i++) {
			uint64_t prot = i == 3 || i == 4 ? rw | S2_PROT_X :
					i == 5		 ? S2_PROT_R :
					i == 7		 ? S2_PROT_R | (cfg->hd ? S2_PROT_DBM : 0) :
					i == 11		 ? rw | S2_PROT_DEVICE :
							   rw;
			assert_int_equal(
				s2_pgtable_map(
					&e.pgt, s2_ipa(ipa + i * g), g, s2_pa(pa + i * g), prot,
					S2_MAP_NOCMO | (i == 9 ? S2_MAP_YOUNG_CLEAR : 0), NULL),
				0);
		}
		for (i = 0; i < 16; i++)
			before[i] = lk(&e, ipa + i * g).pte;
		s2_host_port_clear_log(e.hp);
		/* refused: DBM with W granted, DBM without W cleared, DBM without HD */
		assert_int_equal(s2_pgtable_set_prot(&e.pgt, s2_ipa(ipa), 16 * g,
						     S2_PROT_DBM | S2_PROT_W, 0),
				 S2_EINVAL);
		assert_int_equal(s2_pgtable_set_prot(&e.pgt, s2_ipa(ipa), 16 * g, S2_PROT_DBM, 0),
				 S2_EINVAL);
		if (!cfg->hd) {
			assert_int_equal(s2_pgtable_set_prot(&e.pgt, s2_ipa(ipa), 16 * g,
							     S2_PROT_DBM, S2_PROT_W),
					 S2_EINVAL);
		}
		s2_host_port_log(e.hp, &n, NULL);
		assert_int_equal(n, 0);
		for (i = 0; i < 16; i++)
			assert_int_equal(lk(&e, ipa + i * g).pte, before[i]);
		if (!cfg->hd) {
			s2_test_env_fini(&e);
			continue;
		}

		assert_int_equal(
			s2_pgtable_set_prot(&e.pgt, s2_ipa(ipa), 16 * g, S2_PROT_DBM, S2_PROT_W),
			0);
		/* exactly: DSB ISHST, one TLBI covering pages 1..14 (what changed), DSB ISH; no
		 * DC or IC (pages 3 and 4 are executable) */
		ev = s2_host_port_log(e.hp, &n, NULL);
		assert_int_equal(n, 3);
		assert_int_equal(ev[0].kind, S2_HOST_EV_BARRIER);
		assert_int_equal(ev[0].barrier, S2_BARRIER_DSB_ISHST);
		if (ev[1].kind == S2_HOST_EV_TLBI_RANGE) {
			assert_int_equal(ev[1].addr, ipa + g);
			assert_int_equal(ev[1].size, 14 * g);
		} else {
			assert_int_equal(ev[1].kind, S2_HOST_EV_TLBI_VMID);
		}
		assert_int_equal(ev[2].kind, S2_HOST_EV_BARRIER);
		assert_int_equal(ev[2].barrier, S2_BARRIER_DSB_ISH);
		for (i = 0; i < 16; i++) {
			s2_pte_t want = before[i];
			if (want & S2_PTE_VALID)
				want = (want & ~S2_PTE_S2AP_W) | S2_PTE_DBM;
			assert_int_equal(lk(&e, ipa + i * g).pte, want);
		}
		assert_int_equal(
			lk(&e, ipa + 3 * g).pte,
			golden_leaf(cfg, 3, pa + 3 * g, S2_PROT_R | S2_PROT_X | S2_PROT_DBM));
		assert_int_equal(lk(&e, ipa + 9 * g).pte,
				 golden_leaf(cfg, 3, pa + 9 * g,
					     S2_PROT_R | S2_PROT_DBM | S2_MAP_YOUNG_CLEAR));
		assert_int_equal(
			lk(&e, ipa + 11 * g).pte,
			golden_leaf(cfg, 3, pa + 11 * g, S2_PROT_R | S2_PROT_DBM | S2_PROT_DEVICE));
		assert_false(lk(&e, ipa).valid);
		assert_false(lk(&e, ipa + 15 * g).valid);

		/* again: nothing changes, no event */
		s2_host_port_clear_log(e.hp);
		assert_int_equal(
			s2_pgtable_set_prot(&e.pgt, s2_ipa(ipa), 16 * g, S2_PROT_DBM, S2_PROT_W),
			0);
		s2_host_port_log(e.hp, &n, NULL);
		assert_int_equal(n, 0);
		/* only the changed page invalidated, by IPA with its level */
		assert_int_equal(s2_pgtable_wrprotect(&e.pgt, s2_ipa(ipa + 4 * g), g), 0);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(
			s2_pgtable_set_prot(&e.pgt, s2_ipa(ipa), 16 * g, S2_PROT_DBM, S2_PROT_W),
			0);
		ev = s2_host_port_log(e.hp, &n, NULL);
		assert_int_equal(n, 3);
		assert_int_equal(ev[0].barrier, S2_BARRIER_DSB_ISHST);
		assert_int_equal(ev[1].kind, S2_HOST_EV_TLBI_IPA);
		assert_int_equal(ev[1].addr, ipa + 4 * g);
		assert_int_equal(ev[1].level, 3);
		assert_int_equal(ev[2].barrier, S2_BARRIER_DSB_ISH);
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

static void test_relax_mkyoung_age(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t pa = pick_pa(cfg, blk, 2 * blk), young;
		struct s2_test_env e;
		struct s2_walk_result res;

		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(0), 16 * g, s2_pa(pa), S2_PROT_R,
						S2_MAP_YOUNG_CLEAR, NULL),
				 0);
		/* AF clear: an access-flag fault without HA */
		if (!cfg->ha)
			assert_int_equal(ref_walk(&e, g, S2_ACCESS_READ, &res),
					 S2_FAULT_ACCESS_FLAG);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(g), S2_PROT_W), 0);
		assert_int_equal(count_tlbi(&e), 0);
		assert_int_equal(lk(&e, g).pte, golden_leaf(cfg, 3, pa + g, S2_PROT_R | S2_PROT_W));
		assert_int_equal(ref_walk(&e, g, S2_ACCESS_WRITE, &res), S2_FAULT_NONE);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(2 * g), S2_PROT_X), 0);
		assert_int_equal(count_events(&e, S2_HOST_EV_IC_INVAL), cfg->dic ? 0 : 1);
		assert_int_equal(lk(&e, 2 * g).pte,
				 golden_leaf(cfg, 3, pa + 2 * g, S2_PROT_R | S2_PROT_X));
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(32 * g), S2_PROT_W),
				 S2_ENOENT);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(g), S2_PROT_DEVICE),
				 S2_EINVAL);
		assert_int_equal(s2_pgtable_mkyoung(&e.pgt, s2_ipa(3 * g)), 0);
		assert_int_equal(lk(&e, 3 * g).pte, golden_leaf(cfg, 3, pa + 3 * g, S2_PROT_R));
		assert_int_equal(s2_pgtable_mkyoung(&e.pgt, s2_ipa(32 * g)), S2_ENOENT);

		/* three young pages out of 16 */
		s2_host_port_clear_log(e.hp);
		assert_int_equal(
			s2_pgtable_test_clear_young(&e.pgt, s2_ipa(0), 16 * g, false, &young), 0);
		assert_int_equal(young, 3);
		assert_int_equal(
			s2_pgtable_test_clear_young(&e.pgt, s2_ipa(0), 16 * g, true, &young), 0);
		assert_int_equal(young, 3);
		assert_int_equal(
			s2_pgtable_test_clear_young(&e.pgt, s2_ipa(0), 16 * g, true, &young), 0);
		assert_int_equal(young, 0);
		assert_int_equal(count_tlbi(&e), 0);
		assert_int_equal(
			lk(&e, g).pte,
			golden_leaf(cfg, 3, pa + g, S2_PROT_R | S2_PROT_W | S2_MAP_YOUNG_CLEAR));
		/* a young block counts each of its pages in the range */
		assert_int_equal(
			s2_pgtable_map(&e.pgt, s2_ipa(blk), blk, s2_pa(pa), S2_PROT_R, 0, NULL), 0);
		assert_int_equal(
			s2_pgtable_test_clear_young(&e.pgt, s2_ipa(blk), blk / 2, false, &young),
			0);
		assert_int_equal(young, blk / 2 / g);
		/* exec refused on a Device page */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(20 * g), g, s2_pa(pa),
						S2_PROT_R | S2_PROT_DEVICE, 0, NULL),
				 0);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(20 * g), S2_PROT_X),
				 S2_EMEMTYPE);
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/* Snapshot of every entry (leaves and tables' shape) for exact tree comparison. */
struct snap {
	uint64_t n;
	struct {
		uint64_t ipa;
		int level;
		s2_pte_t pte;
	} e[4096];
};

static int snap_visitor(void *arg, const struct s2_walk_visit *v)
{
	struct snap *s = arg;
	if (s->n < 4096) {
		s->e[s->n].ipa = s2_ipa_val(v->ipa);
		s->e[s->n].level = v->level;
		/* table descriptors hold page addresses that may differ: keep only the type */
		s->e[s->n].pte = v->flag == S2_WALK_LEAF ? v->pte : 3;
	}
	s->n++;
	return 0;
}

static void take_snap(struct s2_test_env *e, struct snap *s)
{
	s->n = 0;
	assert_int_equal(s2_pgtable_walk(&e->pgt, s2_ipa(0), ipa_limit(&e->pgt.cfg),
					 S2_WALK_LEAF | S2_WALK_TABLE_PRE | S2_WALK_SKIP_EMPTY,
					 snap_visitor, s),
			 0);
	assert_true(s->n <= 4096);
}

static void test_split_collapse(void **state)
{
	static struct snap a, b;
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg);
		int top = 2;
		uint64_t blk, ipa, pa;
		struct s2_test_env e;
		struct s2_page_cache cache = { 0 };
		unsigned int collapsed, rounds = 0;
		int ret;

		/* the highest block level below the root whose split stays small */
		for (int l = 1; l >= cfg->start_level && l >= 0; l--)
			if (has_blocks(cfg, l) && level_size(cfg, l) / level_size(cfg, 2) <= 512)
				top = l;
		blk = level_size(cfg, top);
		if (2 * blk > ipa_limit(cfg))
			top = 2, blk = level_size(cfg, 2);
		ipa = pick_ipa(cfg, blk, blk);
		pa = pick_pa(cfg, blk, blk);
		s2_test_env_init(&e, cfg, 0, 16);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), blk, s2_pa(pa),
						S2_PROT_R | S2_PROT_W | S2_PROT_SW(2), 0, NULL),
				 0);
		/* and a page next to it, so the tree has more than one shape */
		assert_int_equal(
			s2_pgtable_map(&e.pgt, s2_ipa(ipa + blk), g, s2_pa(pa), S2_PROT_R, 0, NULL),
			0);
		take_snap(&e, &a);
		/* split in bounded chunks: top up, split, until done */
		do {
			assert_int_equal(s2_page_cache_topup(&cache, &e.port, g, 16), 0);
			ret = s2_pgtable_split(&e.pgt, s2_ipa(ipa), blk, &cache);
			assert_true(ret == 0 || ret == S2_ENOMEM);
			if (rounds % 8 == 0)
				assert_int_equal(s2_pgtable_check(&e.pgt, NULL), 0);
			rounds++;
		} while (ret == S2_ENOMEM);
		assert_true(rounds >= 1);
		s2_page_cache_drain(&cache, &e.port, g);
		assert_tree_ok(&e);
		for (uint64_t o = 0; o < blk; o += blk / 4 + g) {
			struct s2_lookup l = lk(&e, ipa + o);
			assert_int_equal(l.level, 3);
			assert_int_equal(l.pte, golden_leaf(cfg, 3, pa + S2_ALIGN_DOWN(o, g),
							    S2_PROT_R | S2_PROT_W | S2_PROT_SW(2)));
		}
		assert_int_equal(s2_pgtable_collapse(&e.pgt, s2_ipa(0), ipa_limit(cfg), &collapsed),
				 0);
		assert_true(collapsed >= 1);
		take_snap(&e, &b);
		assert_int_equal(a.n, b.n);
		assert_memory_equal(a.e, b.e, sizeof(a.e[0]) * a.n);
		assert_tree_ok(&e);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(0), ipa_limit(cfg), NULL), 0);
		assert_pages_back(&e);
		s2_test_env_fini(&e);
	}
}

static void test_annotate(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t pa = pick_pa(cfg, blk, blk);
		struct s2_test_env e;
		struct s2_check_report r;
		struct s2_lookup l;
		struct s2_walk_result res;

		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(0), 8 * g, s2_pa(pa),
						S2_PROT_R | S2_PROT_W, 0, NULL),
				 0);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_annotate(&e.pgt, s2_ipa(2 * g), 4 * g, 0x5a, NULL), 0);
		assert_int_equal(count_tlbi(&e), 1); /* what was mapped is invalidated */
		l = lk(&e, 3 * g);
		assert_false(l.valid);
		assert_int_equal(s2_lookup_owner(l), 0x5a);
		assert_int_equal(l.pte, (s2_pte_t)0x5a << 2);
		assert_int_equal(ref_walk(&e, 3 * g, S2_ACCESS_READ, &res), S2_FAULT_TRANSLATION);
		assert_true(lk(&e, g).valid);
		assert_int_equal(s2_pgtable_check(&e.pgt, &r), 0);
		assert_int_equal(r.annotated, 4);
		assert_int_equal(r.leaves, 4);
		/* annotated entries keep the table alive: unmap the valid ones only */
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(0), 2 * g, NULL), 0);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(6 * g), 2 * g, NULL), 0);
		assert_int_equal(s2_pgtable_check(&e.pgt, &r), 0);
		assert_int_equal(r.leaves, 0);
		assert_int_equal(r.annotated, 4);
		assert_true(s2_host_port_stats(e.hp).pages_in_use > e.root_pages);
		/* an annotation over a whole block-sized range, then a page mapped inside it */
		assert_int_equal(s2_pgtable_annotate(&e.pgt, s2_ipa(blk), blk, 7, NULL), 0);
		assert_int_equal(s2_lookup_owner(lk(&e, blk + 5 * g)), 7);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(blk + 5 * g), g, s2_pa(pa),
						S2_PROT_R, 0, NULL),
				 0);
		assert_true(lk(&e, blk + 5 * g).valid);
		assert_int_equal(s2_lookup_owner(lk(&e, blk + 4 * g)), 7);
		assert_int_equal(s2_lookup_owner(lk(&e, blk + 6 * g)), 7);
		assert_tree_ok(&e);
		/* unmap removes annotations too */
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(0), 2 * blk, NULL), 0);
		assert_int_equal(s2_lookup_owner(lk(&e, 3 * g)), 0);
		assert_pages_back(&e);
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/*
 * One page unmapped or annotated inside an existing last-level table (the one-page path, taken
 * for 4K with FWB): each case's exact side effects, the table's refcount (s2_pgtable_check),
 * and the table freed when its last non-empty entry goes (the general path).
 */
static void assert_one_tlbi_at(struct s2_test_env *e, uint64_t ipa)
{
	unsigned int n;
	const struct s2_host_event *ev = s2_host_port_log(e->hp, &n, NULL);

	if (e->pgt.cfg.fwb) {
		const int seq[] = { B_ISHST, S2_HOST_EV_TLBI_IPA, B_ISH };
		assert_log_is(e, seq, 3);
	} else {
		/* Without FWB the removed Normal WB page is cleaned too, after the TLBI. */
		assert_int_equal(count_tlbi(e), 1);
		assert_int_equal(count_events(e, S2_HOST_EV_DC_CIVAC), 1);
	}
	for (unsigned int i = 0; i < n; i++) {
		if (ev[i].kind == S2_HOST_EV_TLBI_IPA) {
			assert_int_equal(ev[i].addr, ipa);
			assert_int_equal(ev[i].level, 3);
		}
	}
	s2_host_port_clear_log(e->hp);
}

static void assert_no_event(struct s2_test_env *e)
{
	assert_log_is(e, NULL, 0);
}

static void test_clear_one_page(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t pa = pick_pa(cfg, blk, blk), base = pick_ipa(cfg, blk, blk);
		struct s2_test_env e;
		struct s2_check_report r;
		unsigned int pages;

		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		/* Pages at base, base + g, base + 2g: one last-level table, refcount 3. */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(base), 3 * g, s2_pa(pa),
						S2_PROT_R | S2_PROT_W, S2_MAP_FORCE_PAGES, NULL),
				 0);
		pages = s2_host_port_stats(e.hp).pages_in_use;
		s2_host_port_clear_log(e.hp);

		/* A valid page annotated: invalidated by IPA at level 3, refcount unchanged. */
		assert_int_equal(s2_pgtable_annotate(&e.pgt, s2_ipa(base + g), g, 0x5a, NULL), 0);
		assert_one_tlbi_at(&e, base + g);
		assert_int_equal(lk(&e, base + g).pte, (s2_pte_t)0x5a << 2);
		assert_int_equal(lk(&e, base + g).level, 3);
		/* The same annotation again: nothing happens. */
		assert_int_equal(s2_pgtable_annotate(&e.pgt, s2_ipa(base + g), g, 0x5a, NULL), 0);
		assert_no_event(&e);
		/* Another owner over an annotation: rewritten, no TLBI (nothing was valid). */
		assert_int_equal(s2_pgtable_annotate(&e.pgt, s2_ipa(base + g), g, 0x33, NULL), 0);
		assert_no_event(&e);
		assert_int_equal(s2_lookup_owner(lk(&e, base + g)), 0x33);
		/* An empty entry of the table annotated: counted (refcount 4), no TLBI. */
		assert_int_equal(s2_pgtable_annotate(&e.pgt, s2_ipa(base + 3 * g), g, 0x5a, NULL),
				 0);
		assert_no_event(&e);
		assert_int_equal(s2_pgtable_check(&e.pgt, &r), 0);
		assert_int_equal(r.leaves, 2);
		assert_int_equal(r.annotated, 2);
		/* An empty entry unmapped: nothing happens. */
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(base + 4 * g), g, NULL), 0);
		assert_no_event(&e);
		/* Valid pages unmapped: one TLBI each, the table stays (annotations in it). */
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(base), g, NULL), 0);
		assert_one_tlbi_at(&e, base);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(base + 2 * g), g, NULL), 0);
		assert_one_tlbi_at(&e, base + 2 * g);
		assert_false(lk(&e, base).valid);
		assert_int_equal(lk(&e, base).pte, 0);
		assert_int_equal(s2_pgtable_check(&e.pgt, &r), 0);
		assert_int_equal(r.leaves, 0);
		assert_int_equal(r.annotated, 2);
		assert_int_equal(s2_host_port_stats(e.hp).pages_in_use, pages);
		/* An annotation unmapped: no TLBI; the last one empties the table, freed. */
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(base + g), g, NULL), 0);
		assert_no_event(&e);
		assert_int_equal(s2_host_port_stats(e.hp).pages_in_use, pages);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(base + 3 * g), g, NULL), 0);
		assert_int_equal(count_tlbi(&e), 1); /* the unlinked table (walk caches) */
		assert_int_equal(count_events(&e, S2_HOST_EV_TLBI_IPA), 0);
		assert_int_equal(lk(&e, base + 3 * g).pte, 0);
		assert_true(lk(&e, base + 3 * g).level < 3);
		assert_tree_ok(&e);
		assert_pages_back(&e);
		s2_test_env_fini(&e);
	}
}

/* Find the entry for @ipa at @level (the table must exist). */
/* ---- prepared leaves and relax_lookup: the same as the calls they stand for ---------------- */

/* The two port logs hold the same events since they were last cleared; clear them. */
static void assert_same_events(struct s2_test_env *a, struct s2_test_env *b, const char *what)
{
	unsigned int na, nb;
	bool oa, ob;
	const struct s2_host_event *ea = s2_host_port_log(a->hp, &na, &oa);
	const struct s2_host_event *eb = s2_host_port_log(b->hp, &nb, &ob);

	assert_false(oa || ob);
	if (na != nb)
		fail_msg("%s: %u events against %u", what, na, nb);
	for (unsigned int i = 0; i < na; i++)
		if (ea[i].kind != eb[i].kind || ea[i].addr != eb[i].addr ||
		    ea[i].size != eb[i].size || ea[i].level != eb[i].level ||
		    ea[i].barrier != eb[i].barrier)
			fail_msg("%s: event %u differs (kind %d / %d)", what, i, ea[i].kind,
				 eb[i].kind);
	s2_host_port_clear_log(a->hp);
	s2_host_port_clear_log(b->hp);
}

/*
 * s2_pgtable_map_page() with a template of s2_pgtable_leaf_prepare() does what
 * s2_pgtable_map() of one granule does with the same prot: return code, entry, port events
 * (cache maintenance, TLBI, barriers, table pages), for every prot class (the 4K fast one,
 * with and without cache maintenance, Device, Normal-NC, DBM, refused ones), every flag, onto
 * an empty entry, over a page and inside a block; a template of another table stands for its
 * prot; NULL arguments are refused.
 */
static void test_map_page_prepared(void **state)
{
	/* prot; the map flags that change the leaf or its maintenance (S2_MAP_NOCMO,
	 * S2_MAP_YOUNG_CLEAR) in the same word (the sets are disjoint), given to each map */
	static const uint64_t prots[] = {
		S2_PROT_R,
		S2_PROT_R | S2_PROT_W,
		S2_PROT_RWX,
		S2_PROT_R | S2_PROT_X,
		S2_PROT_R | S2_PROT_W | S2_MAP_NOCMO | S2_PROT_SW(5),
		S2_PROT_R | S2_MAP_YOUNG_CLEAR,
		S2_PROT_RWX | S2_MAP_NOCMO | S2_MAP_YOUNG_CLEAR,
		S2_PROT_R | S2_PROT_W | S2_PROT_DEVICE,
		S2_PROT_R | S2_PROT_NORMAL_NC,
		S2_PROT_R | S2_PROT_DBM,
		S2_PROT_R | S2_PROT_W | S2_PROT_DBM, /* refused */
		S2_PROT_X | S2_PROT_DEVICE, /* refused: S2_EMEMTYPE */
		0, /* refused */
		S2_BIT(14) | S2_PROT_R, /* refused: a bit of neither set */
	};
	const uint64_t leaf_flags = S2_MAP_NOCMO | S2_MAP_YOUNG_CLEAR;
	static const uint64_t flagsets[] = { 0, S2_MAP_SHARED | S2_MAP_NO_REPLACE, S2_MAP_SHARED,
					     S2_MAP_FORCE_PAGES, S2_BIT(9) };
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t pa = pick_pa(cfg, blk, 4 * blk), base = pick_ipa(cfg, blk, 3 * blk);
		struct s2_test_env a, b;
		struct s2_leaf_tmpl t, other;

		s2_test_env_init(&a, cfg, 0, LOG_CAP);
		s2_test_env_init(&b, cfg, 0, LOG_CAP);
		for (size_t p = 0; p < S2_ARRAY_SIZE(prots); p++) {
			uint64_t prot = prots[p] & ~leaf_flags, pflags = prots[p] & leaf_flags;
			int prep = s2_pgtable_leaf_prepare(&b.pgt, prot, &t);

			assert_int_equal(t.prot, prot);
			assert_ptr_equal(t.pgt, &b.pgt);
			for (size_t fl = 0; fl < S2_ARRAY_SIZE(flagsets); fl++) {
				/* an empty entry; the page again (same / other attributes); a page
				 * inside a block; an unaligned, a beyond-range one */
				uint64_t ipas[] = { base + (p * 8 + fl) * g,
						    base + (p * 8 + fl) * g,
						    base + g,
						    base + 2 * blk + g,
						    base + 8,
						    ipa_limit(cfg) };
				uint64_t opas[] = {
					pa + g, pa + g, pa + 2 * g, pa + 3 * g, pa, pa
				};

				for (size_t k = 0; k < S2_ARRAY_SIZE(ipas); k++) {
					int ra, rb;

					if (k == 3 && fl == 0 && p == 0) {
						/* a block at base + 2 * blk in both */
						assert_int_equal(
							s2_pgtable_map(&a.pgt,
								       s2_ipa(base + 2 * blk), blk,
								       s2_pa(pa + blk), S2_PROT_R,
								       0, NULL),
							0);
						assert_int_equal(
							s2_pgtable_map(&b.pgt,
								       s2_ipa(base + 2 * blk), blk,
								       s2_pa(pa + blk), S2_PROT_R,
								       0, NULL),
							0);
					}
					s2_host_port_clear_log(a.hp);
					s2_host_port_clear_log(b.hp);
					ra = s2_pgtable_map(&a.pgt, s2_ipa(ipas[k]), g,
							    s2_pa(opas[k]), prot,
							    flagsets[fl] | pflags, NULL);
					rb = s2_pgtable_map_page(&b.pgt, s2_ipa(ipas[k]),
								 s2_pa(opas[k]), &t,
								 flagsets[fl] | pflags, NULL);
					if (ra != rb)
						fail_msg(
							"prot %#llx flags %#llx case %zu: %d against %d",
							(unsigned long long)prots[p],
							(unsigned long long)flagsets[fl], k, ra,
							rb);
					/* The preparation refuses what the map refuses. */
					if (prep && fl == 0 && k == 0)
						assert_int_equal(ra, prep);
					if (ipas[k] < ipa_limit(cfg))
						assert_int_equal(lk(&a, ipas[k]).pte,
								 lk(&b, ipas[k]).pte);
					assert_same_events(&a, &b, "map_page");
				}
			}
		}
		/* A template of another table: taken as its prot (the map of @b's own). */
		assert_int_equal(s2_pgtable_leaf_prepare(&a.pgt, S2_PROT_R | S2_PROT_W, &other), 0);
		assert_int_equal(s2_pgtable_map(&a.pgt, s2_ipa(base + blk + g), g, s2_pa(pa),
						S2_PROT_R | S2_PROT_W, 0, NULL),
				 0);
		assert_int_equal(s2_pgtable_map_page(&b.pgt, s2_ipa(base + blk + g), s2_pa(pa),
						     &other, 0, NULL),
				 0);
		assert_int_equal(lk(&a, base + blk + g).pte, lk(&b, base + blk + g).pte);
		assert_same_events(&a, &b, "other table");
		/* NULL arguments. */
		assert_int_equal(
			s2_pgtable_map_page(&b.pgt, s2_ipa(base), s2_pa(pa), NULL, 0, NULL),
			S2_EINVAL);
		assert_int_equal(s2_pgtable_map_page(NULL, s2_ipa(base), s2_pa(pa), &t, 0, NULL),
				 S2_EINVAL);
		assert_int_equal(s2_pgtable_leaf_prepare(&b.pgt, S2_PROT_R, NULL), S2_EINVAL);
		assert_int_equal(s2_pgtable_leaf_prepare(NULL, S2_PROT_R, &t), S2_EINVAL);
		assert_null(t.pgt); /* filled all the same: of no table, it stands for its prot */
		assert_int_equal(t.prot, S2_PROT_R);
		assert_tree_ok(&a);
		assert_tree_ok(&b);
		s2_test_env_fini(&a);
		s2_test_env_fini(&b);
	}
}

/*
 * s2_pgtable_relax_lookup() does what s2_pgtable_lookup() then, for a valid leaf,
 * s2_pgtable_relax_perms() of the page does: the lookup's answer (the leaf before), return
 * code, entry, port events (the local TLBI, the I-cache for exec); nothing at all where no
 * valid leaf is found. On an empty entry, a missing table, read-only / writable / execute-never
 * pages, a block, an annotation, Device memory, beyond the IPA size; NULL arguments.
 */
static void test_relax_lookup(void **state)
{
	static const uint64_t prots[] = { S2_PROT_R | S2_PROT_W, S2_PROT_R, S2_PROT_X,
					  S2_PROT_RWX };
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t pa = pick_pa(cfg, blk, 4 * blk), base = pick_ipa(cfg, blk, 3 * blk);
		struct s2_test_env e[2];
		unsigned int relaxed = 0;

		for (int i = 0; i < 2; i++) {
			struct s2_pgtable *pt = &e[i].pgt;

			s2_test_env_init(&e[i], cfg, 0, LOG_CAP);
			/* base: R; +g: RW; +2g: RWX; +3g: Device RW; +4g: annotated; a block */
			assert_int_equal(
				s2_pgtable_map(pt, s2_ipa(base), g, s2_pa(pa), S2_PROT_R, 0, NULL),
				0);
			assert_int_equal(s2_pgtable_map(pt, s2_ipa(base + g), g, s2_pa(pa + g),
							S2_PROT_R | S2_PROT_W, 0, NULL),
					 0);
			assert_int_equal(s2_pgtable_map(pt, s2_ipa(base + 2 * g), g,
							s2_pa(pa + 2 * g), S2_PROT_RWX, 0, NULL),
					 0);
			assert_int_equal(
				s2_pgtable_map(pt, s2_ipa(base + 3 * g), g, s2_pa(pa + 3 * g),
					       S2_PROT_R | S2_PROT_W | S2_PROT_DEVICE, 0, NULL),
				0);
			assert_int_equal(
				s2_pgtable_annotate(pt, s2_ipa(base + 4 * g), g, 0x21, NULL), 0);
			assert_int_equal(s2_pgtable_map(pt, s2_ipa(base + 2 * blk), blk,
							s2_pa(pa + blk), S2_PROT_R, 0, NULL),
					 0);
		}
		for (size_t p = 0; p < S2_ARRAY_SIZE(prots); p++) {
			/* offsets inside the page count for the lookup's PA, not for the relax */
			uint64_t ipas[] = { base + 8,		base + g + 16,
					    base + 2 * g,	base + 3 * g,
					    base + 4 * g,	base + 5 * g,
					    base + blk + 3 * g, base + 2 * blk + 5 * g + 24,
					    ipa_limit(cfg) };

			for (size_t k = 0; k < S2_ARRAY_SIZE(ipas); k++) {
				struct s2_lookup la = { .level = 99 }, lb = { .level = 99 };
				int ra, rb;

				s2_host_port_clear_log(e[0].hp);
				s2_host_port_clear_log(e[1].hp);
				ra = s2_pgtable_lookup(&e[0].pgt, s2_ipa(ipas[k]), &la);
				if (!ra && la.valid)
					ra = s2_pgtable_relax_perms(
						&e[0].pgt, s2_ipa(ipas[k] & ~(g - 1)), prots[p]);
				rb = s2_pgtable_relax_lookup(&e[1].pgt, s2_ipa(ipas[k]), prots[p],
							     &lb);
				if (ra != rb)
					fail_msg("prot %#llx case %zu: %d against %d",
						 (unsigned long long)prots[p], k, ra, rb);
				assert_int_equal(la.pte, lb.pte);
				assert_int_equal(la.level, lb.level);
				assert_int_equal(la.size, lb.size);
				assert_int_equal(la.valid, lb.valid);
				assert_int_equal(s2_pa_val(la.pa), s2_pa_val(lb.pa));
				if (ipas[k] < ipa_limit(cfg))
					assert_int_equal(lk(&e[0], ipas[k]).pte,
							 lk(&e[1], ipas[k]).pte);
				if (!rb && lb.valid && lk(&e[1], ipas[k]).pte != lb.pte)
					relaxed++;
				if (!lb.valid)
					assert_int_equal(count_tlbi(&e[1]), 0);
				assert_same_events(&e[0], &e[1], "relax_lookup");
			}
		}
		assert_true(relaxed >= 3); /* R -> RW, R -> X, a block */
		{
			struct s2_lookup l;

			assert_int_equal(s2_pgtable_relax_lookup(NULL, s2_ipa(base), S2_PROT_R, &l),
					 S2_EINVAL);
			assert_int_equal(
				s2_pgtable_relax_lookup(&e[1].pgt, s2_ipa(base), S2_PROT_R, NULL),
				S2_EINVAL);
			assert_int_equal(s2_pgtable_relax_lookup(&e[1].pgt, s2_ipa(base),
								 S2_PROT_R | S2_PROT_DEVICE, &l),
					 S2_EINVAL);
		}
		for (int i = 0; i < 2; i++) {
			assert_tree_ok(&e[i]);
			s2_test_env_fini(&e[i]);
		}
	}
}

static s2_pte_t *entry_at(struct s2_test_env *e, uint64_t ipa, int want, s2_pte_t **table)
{
	struct s2_pgtable *p = &e->pgt;
	s2_pte_t *t = p->root;
	for (int level = p->cfg.start_level;; level++) {
		unsigned int shift = p->geom.shift[level + 1];
		uint64_t mask =
			level == p->cfg.start_level ? p->geom.root_idx_mask : p->geom.idx_mask;
		s2_pte_t *ptep = t + ((ipa >> shift) & mask);
		if (level == want) {
			if (table)
				*table = t;
			return ptep;
		}
		t = e->port.ops->pa_to_va(e->port.ctx, s2_pte_oa(&p->fmt, level, *ptep));
	}
}

static void expect_corrupt(struct s2_test_env *e, const char *what)
{
	struct s2_check_report r;
	assert_int_equal(s2_pgtable_check(&e->pgt, &r), S2_ECORRUPT);
	assert_true(r.errors >= 1);
	if (!strstr(r.first_error, what))
		fail_msg("expected '%s', got '%s'", what, r.first_error);
}

static void test_check_catches_corruption(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg);
		struct s2_test_env e;
		s2_pte_t *ptep, *table, saved;
		uint32_t *rc;

		s2_test_env_init(&e, cfg, 0, 16);
		assert_int_equal(
			s2_pgtable_map(&e.pgt, s2_ipa(0), 4 * g, s2_pa(0), S2_PROT_R, 0, NULL), 0);
		assert_tree_ok(&e);
		ptep = entry_at(&e, g, 3, &table);

		/* wrong refcount */
		rc = e.port.ops->page_refcount(e.port.ctx, table);
		(*rc)++;
		expect_corrupt(&e, "refcount");
		(*rc)--;
		assert_tree_ok(&e);

		/* reserved encoding at level 3 (bits[1:0] = 0b01) */
		saved = *ptep;
		*ptep &= ~S2_PTE_TYPE;
		expect_corrupt(&e, "reserved");
		*ptep = saved;

		/* invalid entry with stray bits (e.g. a leftover lock marker) */
		*ptep = S2_BIT(10);
		expect_corrupt(&e, "stray");
		{
			/* the report names the entry: level, IPA in hex, then what */
			struct s2_check_report r;
			char want[64];

			snprintf(want, sizeof(want), "L3 ipa 0x%llx: ", (unsigned long long)g);
			assert_int_not_equal(s2_pgtable_check(&e.pgt, &r), 0);
			if (strncmp(r.first_error, want, strlen(want)))
				fail_msg("first_error '%s', expected it to start with '%s'",
					 r.first_error, want);
		}
		*ptep = saved;

		/* misaligned / out-of-range output: a block at level 2 with a page-aligned OA */
		{
			s2_pte_t *l2 = entry_at(&e, 2 * level_size(cfg, 2), 2, NULL);
			*l2 = golden_leaf(cfg, 2, 0, S2_PROT_R) | (1ull << cfg->page_shift);
			expect_corrupt(&e, "aligned");
			*l2 = golden_leaf(cfg, 2, 0, S2_PROT_R);
			/* the table holding it is now counted wrong: fix it for the next step */
			if (cfg->start_level < 2) {
				s2_pte_t *t2;
				entry_at(&e, 2 * level_size(cfg, 2), 2, &t2);
				(*e.port.ops->page_refcount(e.port.ctx, t2))++;
			}
			assert_tree_ok(&e);
			*l2 = 0;
			if (cfg->start_level < 2) {
				s2_pte_t *t2;
				entry_at(&e, 2 * level_size(cfg, 2), 2, &t2);
				(*e.port.ops->page_refcount(e.port.ctx, t2))--;
			}
		}

		/* a block at a level without blocks */
		for (int l = cfg->start_level; l < 2; l++) {
			s2_pte_t *lp;
			if (has_blocks(cfg, l))
				continue;
			lp = entry_at(&e, ipa_limit(cfg) - level_size(cfg, l), l, NULL);
			if (l != cfg->start_level)
				break;
			*lp = 1;
			expect_corrupt(&e, "level without blocks");
			*lp = 0;
			break;
		}
		/* a table reachable twice */
		if (ipa_limit(cfg) >= 2 * level_size(cfg, cfg->start_level)) {
			s2_pte_t *r0 = &e.pgt.root[0], *r1 = &e.pgt.root[1];
			s2_pte_t v1 = *r1;
			*r1 = *r0;
			expect_corrupt(&e, "twice");
			*r1 = v1;
		}
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/* ---- allocation failure at every allocation point ---------------------------------------- */

struct expect_page {
	bool valid;
	uint64_t pa;
	uint8_t owner;
};

/* Every page in [ipa, ipa + size) is either as @before or as @after says (stride @step). */
static void assert_each_page(struct s2_test_env *e, uint64_t ipa, uint64_t size, uint64_t step,
			     struct expect_page (*before)(uint64_t),
			     struct expect_page (*after)(uint64_t))
{
	for (uint64_t a = ipa; a < ipa + size; a += step) {
		struct s2_lookup l = lk(e, a);
		struct expect_page b = before(a), r = after(a);
		bool is_b = l.valid == b.valid && (!b.valid || s2_pa_val(l.pa) == b.pa) &&
			    (b.valid || s2_lookup_owner(l) == b.owner);
		bool is_r = l.valid == r.valid && (!r.valid || s2_pa_val(l.pa) == r.pa) &&
			    (r.valid || s2_lookup_owner(l) == r.owner);
		if (!is_b && !is_r)
			fail_msg(
				"ipa %#llx: valid %d pa %#llx owner %u is neither before nor after",
				(unsigned long long)a, l.valid, (unsigned long long)s2_pa_val(l.pa),
				s2_lookup_owner(l));
	}
}

static uint64_t f_g, f_blk, f_pa;

/* Before: a block [blk, 2 blk) at pa; pages at [3 blk, 3 blk + 8 g) at pa + 16 g. */
static struct expect_page st_before(uint64_t a)
{
	if (a >= f_blk && a < 2 * f_blk)
		return (struct expect_page){ true, f_pa + (a - f_blk), 0 };
	if (a >= 3 * f_blk && a < 3 * f_blk + 8 * f_g)
		return (struct expect_page){ true, f_pa + 16 * f_g + (a - 3 * f_blk), 0 };
	return (struct expect_page){ false, 0, 0 };
}

/* After map: [blk + 4 g, 3 blk + 4 g) maps to pa2 = pa + 2 blk + ..., forced pages. */
static struct expect_page st_after_map(uint64_t a)
{
	if (a >= f_blk + 4 * f_g && a < 3 * f_blk + 4 * f_g)
		return (struct expect_page){ true, 4 * f_blk + (a - f_blk - 4 * f_g), 0 };
	return st_before(a);
}

/* After unmap of [blk + 4 g, 3 blk + 4 g). */
static struct expect_page st_after_unmap(uint64_t a)
{
	if (a >= f_blk + 4 * f_g && a < 3 * f_blk + 4 * f_g)
		return (struct expect_page){ false, 0, 0 };
	return st_before(a);
}

/* After annotate of [blk + 4 g, 3 blk + 4 g) with owner 9. */
static struct expect_page st_after_annotate(uint64_t a)
{
	if (a >= f_blk + 4 * f_g && a < 3 * f_blk + 4 * f_g)
		return (struct expect_page){ false, 0, 9 };
	return st_before(a);
}

static void enomem_prepare(struct s2_test_env *e)
{
	assert_int_equal(s2_pgtable_map(&e->pgt, s2_ipa(f_blk), f_blk, s2_pa(f_pa),
					S2_PROT_R | S2_PROT_W, 0, NULL),
			 0);
	assert_int_equal(s2_pgtable_map(&e->pgt, s2_ipa(3 * f_blk), 8 * f_g, s2_pa(f_pa + 16 * f_g),
					S2_PROT_R | S2_PROT_W, 0, NULL),
			 0);
}

static void test_enomem_everywhere(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		f_g = s2_test_granule(cfg);
		f_blk = level_size(cfg, 2);
		f_pa = pick_pa(cfg, f_blk, 8 * f_blk);
		if (4 * f_blk > ipa_limit(cfg) || f_pa == 0 ||
		    8 * f_blk > (UINT64_C(1) << cfg->pa_bits))
			continue;
		for (int op = 0; op < 4; op++) {
			for (long n = 0;; n++) {
				struct s2_test_env e;
				struct s2_page_cache cache = { 0 };
				struct expect_page (*after)(uint64_t) = NULL;
				int ret = 0;

				s2_test_env_init(&e, cfg, 0, 0);
				enomem_prepare(&e);
				s2_host_port_fail_alloc_after(e.hp, n);
				switch (op) {
				case 0:
					ret = s2_pgtable_map(&e.pgt, s2_ipa(f_blk + 4 * f_g),
							     2 * f_blk, s2_pa(4 * f_blk), S2_PROT_R,
							     S2_MAP_FORCE_PAGES, NULL);
					after = st_after_map;
					break;
				case 1:
					ret = s2_pgtable_unmap(&e.pgt, s2_ipa(f_blk + 4 * f_g),
							       2 * f_blk, NULL);
					after = st_after_unmap;
					break;
				case 2:
					ret = s2_pgtable_annotate(&e.pgt, s2_ipa(f_blk + 4 * f_g),
								  2 * f_blk, 9, NULL);
					after = st_after_annotate;
					break;
				case 3:
					/* split draws on the cache only: give it n pages */
					s2_host_port_fail_alloc_after(e.hp, -1);
					if (n)
						assert_int_equal(
							s2_page_cache_topup(
								&cache, &e.port, f_g,
								(unsigned int)S2_MIN(
									n, S2_PAGE_CACHE_MAX)),
							0);
					ret = s2_pgtable_split(&e.pgt, s2_ipa(0), 4 * f_blk,
							       &cache);
					s2_page_cache_drain(&cache, &e.port, f_g);
					after = st_before;
					break;
				}
				assert_true(ret == 0 || ret == S2_ENOMEM);
				s2_host_port_fail_alloc_after(e.hp, -1);
				assert_tree_ok(&e);
				assert_each_page(&e, 0, 4 * f_blk, f_g, st_before, after);
				if (ret == 0)
					assert_each_page(&e, 0, 4 * f_blk, f_g, after, after);
				s2_pgtable_unmap(&e.pgt, s2_ipa(0), ipa_limit(cfg), NULL);
				assert_pages_back(&e);
				s2_test_env_fini(&e);
				if (ret == 0)
					break;
				assert_true(n < 64);
			}
		}
	}
}

/* The single-entry path with a page cache, and S2_MAP_SHARED refusing structural work. */
static void test_single_entry_path(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		struct s2_test_env e;
		struct s2_page_cache cache = { 0 };
		unsigned int levels_below_root = (unsigned int)(3 - cfg->start_level);

		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		assert_int_equal(s2_page_cache_topup(&cache, &e.port, g, 8), 0);
		s2_host_port_fail_alloc_after(e.hp, 0); /* the port must not be asked */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(blk + g), g, s2_pa(g), S2_PROT_R,
						S2_MAP_SHARED, &cache),
				 0);
		assert_int_equal(cache.nr, 8 - levels_below_root);
		/* same mapping again (another vCPU raced us): 0, nothing changes */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(blk + g), g, s2_pa(g), S2_PROT_R,
						S2_MAP_SHARED, &cache),
				 0);
		/* shared: more is given in place (AF, W), nothing is taken away */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(blk + 2 * g), g, s2_pa(2 * g),
						S2_PROT_R, S2_MAP_SHARED | S2_MAP_YOUNG_CLEAR,
						&cache),
				 0);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(blk + 2 * g), g, s2_pa(2 * g),
						S2_PROT_R | S2_PROT_W, S2_MAP_SHARED, &cache),
				 0);
		assert_int_equal(lk(&e, blk + 2 * g).pte,
				 golden_leaf(cfg, 3, 2 * g, S2_PROT_R | S2_PROT_W));
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(blk + 2 * g), g, s2_pa(2 * g),
						S2_PROT_R, S2_MAP_SHARED, &cache),
				 S2_EAGAIN);
		assert_int_equal(lk(&e, blk + 2 * g).pte,
				 golden_leaf(cfg, 3, 2 * g, S2_PROT_R | S2_PROT_W));
		/* a block over the existing table is structural */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(blk), blk, s2_pa(0), S2_PROT_R,
						S2_MAP_SHARED, &cache),
				 S2_EBUSY);
		assert_int_equal(lk(&e, blk + g).level, 3);
		/* a block into an empty slot is fine on the fast path */
		if (3 * blk <= ipa_limit(cfg)) {
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(2 * blk), blk, s2_pa(0),
							S2_PROT_R, S2_MAP_SHARED, &cache),
					 0);
			assert_int_equal(lk(&e, 2 * blk + g).level, 2);
			/* a page inside that block is structural */
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(2 * blk + g), g,
							s2_pa(5 * g), S2_PROT_R, S2_MAP_SHARED,
							&cache),
					 S2_EBUSY);
		}
		/* cache empty and the port failing: S2_ENOMEM, nothing installed, nothing leaked */
		s2_page_cache_drain(&cache, &e.port, g);
		if (ipa_limit(cfg) > level_size(cfg, cfg->start_level)) {
			uint64_t far = ipa_limit(cfg) - g;
			uint64_t pages = s2_host_port_stats(e.hp).pages_in_use;
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(far), g, s2_pa(g), S2_PROT_R,
							S2_MAP_SHARED, &cache),
					 S2_ENOMEM);
			assert_false(lk(&e, far).valid);
			assert_int_equal(s2_host_port_stats(e.hp).pages_in_use, pages);
		}
		s2_host_port_fail_alloc_after(e.hp, -1);
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/* Visitor order and flags. */
struct order_log {
	unsigned int n;
	uint64_t flag[16];
	int level[16];
};

static int order_visitor(void *arg, const struct s2_walk_visit *v)
{
	struct order_log *o = arg;
	if (o->n < 16) {
		o->flag[o->n] = v->flag;
		o->level[o->n] = v->level;
	}
	o->n++;
	return v->level == 3 && (v->pte & S2_PTE_VALID) && o->n > 100 ? S2_EEXIST : 0;
}

static void test_walk_visitor(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg);
		struct s2_test_env e;
		struct order_log o = { 0 };
		unsigned int depth = (unsigned int)(3 - cfg->start_level);

		s2_test_env_init(&e, cfg, 0, 16);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(g), g, s2_pa(0), S2_PROT_R, 0, NULL),
				 0);
		assert_int_equal(
			s2_pgtable_walk(&e.pgt, s2_ipa(0), 2 * g,
					S2_WALK_LEAF | S2_WALK_TABLE_PRE | S2_WALK_TABLE_POST,
					order_visitor, &o),
			0);
		/* PRE for each table level, two leaves (empty + page), POST in reverse */
		assert_int_equal(o.n, 2 * depth + 2);
		for (unsigned int i = 0; i < depth; i++) {
			assert_int_equal(o.flag[i], S2_WALK_TABLE_PRE);
			assert_int_equal(o.level[i], cfg->start_level + (int)i);
			assert_int_equal(o.flag[depth + 2 + i], S2_WALK_TABLE_POST);
			assert_int_equal(o.level[depth + 2 + i], 2 - (int)i);
		}
		assert_int_equal(o.flag[depth], S2_WALK_LEAF);
		assert_int_equal(o.flag[depth + 1], S2_WALK_LEAF);
		memset(&o, 0, sizeof(o));
		assert_int_equal(s2_pgtable_walk(&e.pgt, s2_ipa(0), 2 * g,
						 S2_WALK_LEAF | S2_WALK_SKIP_EMPTY, order_visitor,
						 &o),
				 0);
		assert_int_equal(o.n, 1);
		o.n = 200;
		assert_int_equal(
			s2_pgtable_walk(&e.pgt, s2_ipa(0), 2 * g, S2_WALK_LEAF, order_visitor, &o),
			S2_EEXIST);
		s2_test_env_fini(&e);
	}
}

/* The TLB model sees no stale translation after replacements, wrprotect and unmap. */
static void test_tlb_model_no_stale(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t pa = pick_pa(cfg, blk, 4 * blk);
		struct s2_test_env e;
		struct s2_tlb_entry store[64];
		struct s2_tlb_model tlb;
		struct s2_walk_mem mem;

		if (3 * blk > ipa_limit(cfg))
			continue;
		s2_test_env_init(&e, cfg, 0, 16);
		mem = s2_host_port_walk_mem(e.hp);
		s2_tlb_init(&tlb, store, 64);
		s2_host_port_attach_tlb(e.hp, &tlb, NULL, 1);
#define FILL(ipa)                                                              \
	do {                                                                   \
		struct s2_walk_result r_;                                      \
		if (ref_walk(&e, (ipa), S2_ACCESS_READ, &r_) == S2_FAULT_NONE) \
			s2_tlb_fill(&tlb, 1, s2_ipa(ipa), &r_);                \
	} while (0)
#define NO_STALE() \
	assert_int_equal(s2_tlb_check(&tlb, 1, &e.pgt.cfg, e.pgt.root_pa, &mem, NULL, NULL), 0)
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(blk), blk, s2_pa(pa),
						S2_PROT_R | S2_PROT_W, 0, NULL),
				 0);
		FILL(blk + g);
		/* page inside the block, other PA */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(blk + g), g, s2_pa(pa + 2 * blk),
						S2_PROT_R | S2_PROT_W, 0, NULL),
				 0);
		NO_STALE();
		FILL(blk + g);
		FILL(blk + 2 * g);
		assert_int_equal(s2_pgtable_wrprotect(&e.pgt, s2_ipa(blk), blk), 0);
		NO_STALE();
		FILL(blk + 3 * g);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(blk), blk / 2, NULL), 0);
		NO_STALE();
		FILL(blk + blk / 2 + g);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(blk), blk, s2_pa(pa),
						S2_PROT_R | S2_PROT_W, 0, NULL),
				 0);
		NO_STALE();
		FILL(blk + g);
		assert_int_equal(s2_pgtable_set_prot(&e.pgt, s2_ipa(blk), blk, 0, S2_PROT_R), 0);
		NO_STALE();
		s2_host_port_attach_tlb(e.hp, NULL, NULL, 0);
		s2_test_env_fini(&e);
#undef FILL
#undef NO_STALE
	}
}

/* Output addresses with bits above 48 (LPA2: OA[51:50] in [9:8]; LPA: OA[51:48] in [15:12]). */
static void test_high_pa(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t pa = UINT64_C(0xf) << 48 | UINT64_C(0x123) << 30; /* bits 51..48 set */
		struct s2_test_env e;
		struct s2_walk_result res;
		struct s2_lookup l;

		if (cfg->pa_bits != 52 || 2 * blk > ipa_limit(cfg))
			continue;
		pa = S2_ALIGN_DOWN(pa, blk);
		s2_test_env_init(&e, cfg, 0, 16);
		/* one page (fast path), a few pages (range), a block */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(g), g, s2_pa(pa + g),
						S2_PROT_R | S2_PROT_W, 0, NULL),
				 0);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(4 * g), 4 * g, s2_pa(pa + 4 * g),
						S2_PROT_R, 0, NULL),
				 0);
		assert_int_equal(
			s2_pgtable_map(&e.pgt, s2_ipa(blk), blk, s2_pa(pa), S2_PROT_R, 0, NULL), 0);
		l = lk(&e, g + 8);
		assert_int_equal(s2_pa_val(l.pa), pa + g + 8);
		assert_int_equal(l.pte, golden_leaf(cfg, 3, pa + g, S2_PROT_R | S2_PROT_W));
		l = lk(&e, 7 * g);
		assert_int_equal(s2_pa_val(l.pa), pa + 7 * g);
		l = lk(&e, blk + 3 * g);
		assert_int_equal(l.level, 2);
		assert_int_equal(l.pte, golden_leaf(cfg, 2, pa, S2_PROT_R));
		assert_int_equal(ref_walk(&e, blk + 3 * g + 16, S2_ACCESS_READ, &res),
				 S2_FAULT_NONE);
		assert_int_equal(s2_pa_val(res.pa), pa + 3 * g + 16);
		assert_int_equal(ref_walk(&e, 5 * g, S2_ACCESS_READ, &res), S2_FAULT_NONE);
		assert_int_equal(s2_pa_val(res.pa), pa + 5 * g);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(5 * g), S2_PROT_W), 0);
		assert_int_equal(lk(&e, 5 * g).pte,
				 golden_leaf(cfg, 3, pa + 5 * g, S2_PROT_R | S2_PROT_W));
		/* split and collapse keep the high bits */
		{
			struct s2_page_cache cache = { 0 };
			unsigned int n;
			assert_int_equal(s2_page_cache_topup(&cache, &e.port, g, 4), 0);
			assert_int_equal(s2_pgtable_split(&e.pgt, s2_ipa(blk), blk, &cache), 0);
			s2_page_cache_drain(&cache, &e.port, g);
			assert_int_equal(lk(&e, blk + 3 * g).pte,
					 golden_leaf(cfg, 3, pa + 3 * g, S2_PROT_R));
			assert_int_equal(s2_pgtable_collapse(&e.pgt, s2_ipa(blk), blk, &n), 0);
			assert_int_equal(n, 1);
			assert_int_equal(lk(&e, blk).pte, golden_leaf(cfg, 2, pa, S2_PROT_R));
		}
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/*
 * An unmap that runs out of tables half-way through a block's split (S2_ENOMEM): every page
 * it did unmap is cleaned to the PoC all the same (without FWB), as the contract of
 * s2_pgtable_unmap() promises for every Normal WB leaf removed. Here the level-1 block's
 * table comes from the port, the level-2 piece's does not: the whole piece before it is gone.
 */
static void test_unmap_enomem_cleans_lost(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), b1 = level_size(cfg, 1), b2 = level_size(cfg, 2);
		uint64_t pa, lo = b1 + b2, hi = b1 + 2 * b2 + g, lost = 0;
		struct s2_test_env e;
		const struct s2_host_event *ev;
		unsigned int n;

		if (cfg->fwb || cfg->start_level > 1 || 2 * b1 > ipa_limit(cfg) ||
		    b1 > (UINT64_C(1) << 40))
			continue;
		pa = pick_pa(cfg, b1, b1);
		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(b1), b1, s2_pa(pa),
						S2_PROT_R | S2_PROT_W, 0, NULL),
				 0);
		if (lk(&e, b1).level != 1) {
			s2_test_env_fini(&e);
			continue;
		}
		s2_host_port_clear_log(e.hp);
		s2_host_port_fail_alloc_after(e.hp, 1);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(lo), hi - lo, NULL), S2_ENOMEM);
		s2_host_port_fail_alloc_after(e.hp, -1);
		ev = s2_host_port_log(e.hp, &n, NULL);
		/* outside the range: as before; inside: as before or unmapped and cleaned */
		assert_int_equal(s2_pa_val(lk(&e, lo - g).pa), pa + b2 - g);
		assert_int_equal(s2_pa_val(lk(&e, hi).pa), pa + 2 * b2 + g);
		for (uint64_t ipa = lo; ipa < hi; ipa += g) {
			struct s2_lookup l = lk(&e, ipa);
			bool cleaned = false;

			if (l.valid) {
				assert_int_equal(s2_pa_val(l.pa), pa + ipa - b1);
				continue;
			}
			lost++;
			for (unsigned int i = 0; i < n && !cleaned; i++)
				cleaned = ev[i].kind == S2_HOST_EV_DC_CIVAC &&
					  ev[i].addr <= pa + ipa - b1 &&
					  pa + ipa - b1 + g <= ev[i].addr + ev[i].size;
			assert_true(cleaned);
		}
		/* the split got that far: the whole level-2 piece before the failure */
		assert_true(lost >= b2 / g);
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/* A port without the linear fast path: every PA->VA through the callbacks. */
static void test_callback_port(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		struct s2_test_env e;
		struct s2_port port;
		uint64_t young;

		if (2 * blk > ipa_limit(cfg))
			continue;
		s2_test_env_init(&e, cfg, 0, 16);
		s2_pgtable_destroy(&e.pgt);
		port = e.port;
		port.linear = false;
		port.va_minus_pa = 0;
		assert_int_equal(s2_pgtable_init(&e.pgt, cfg, &port, NULL), 0);
		assert_false(e.pgt.geom.fast);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(g), g, s2_pa(g), S2_PROT_R, 0, NULL),
				 0);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(blk - 2 * g), blk, s2_pa(0),
						S2_PROT_R, S2_MAP_YOUNG_CLEAR, NULL),
				 0);
		assert_int_equal(s2_pa_val(lk(&e, blk + g).pa), 3 * g);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(blk), S2_PROT_W), 0);
		assert_int_equal(s2_pgtable_mkyoung(&e.pgt, s2_ipa(blk + g)), 0);
		assert_int_equal(s2_lookup_prot(lk(&e, blk)), S2_PROT_R | S2_PROT_W);
		assert_int_equal(
			s2_pgtable_test_clear_young(&e.pgt, s2_ipa(0), 2 * blk, true, &young), 0);
		assert_int_equal(young, 3);
		assert_int_equal(s2_pgtable_wrprotect(&e.pgt, s2_ipa(0), 2 * blk), 0);
		assert_int_equal(s2_lookup_prot(lk(&e, blk)), S2_PROT_R);
		assert_false(s2_lookup_young(lk(&e, blk)));
		if (cfg->pa_bits == 52 && !cfg->dic) {
			/* OA bits above 47 through the callbacks: granting exec invalidates the
			 * I-cache of the page's whole PA, high bits included */
			uint64_t hpa = UINT64_C(0xf) << 48 | 5 * g, hipa = 2 * blk - 2 * g;
			unsigned int n, ic = 0;
			const struct s2_host_event *ev;

			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(hipa), g, s2_pa(hpa),
							S2_PROT_R, 0, NULL),
					 0);
			s2_host_port_clear_log(e.hp);
			assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(hipa), S2_PROT_X),
					 0);
			ev = s2_host_port_log(e.hp, &n, NULL);
			for (unsigned int i = 0; i < n; i++) {
				if (ev[i].kind != S2_HOST_EV_IC_INVAL)
					continue;
				assert_int_equal(ev[i].addr, hpa);
				assert_int_equal(ev[i].size, g);
				ic++;
			}
			assert_int_equal(ic, 1);
			assert_int_equal(s2_pa_val(lk(&e, hipa).pa), hpa);
			assert_int_equal(s2_lookup_prot(lk(&e, hipa)), S2_PROT_R | S2_PROT_X);
		}
		assert_tree_ok(&e);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(0), 2 * blk, NULL), 0);
		assert_pages_back(&e);
		s2_test_env_fini(&e);
	}
}

/* Hardware AF and dirty-state updates (the reference walker with a writer plays the MMU). */
static void test_hw_updates(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), young;
		struct s2_test_env e;
		struct s2_walk_mem mem;
		struct s2_walk_result res;
		struct s2_access rd = { .type = S2_ACCESS_READ }, wr = { .type = S2_ACCESS_WRITE };

		if (!cfg->ha)
			continue;
		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		mem = s2_host_port_walk_mem(e.hp);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(0), 4 * g, s2_pa(0),
						S2_PROT_R | (cfg->hd ? S2_PROT_DBM : 0),
						S2_MAP_YOUNG_CLEAR, NULL),
				 0);
		/* hardware sets AF on access */
		assert_int_equal(s2_walk(&e.pgt.cfg, e.pgt.root_pa, &mem, s2_ipa(g), rd, &res), 0);
		assert_int_equal(res.fault, S2_FAULT_NONE);
		assert_true(lk(&e, g).pte & S2_PTE_AF);
		assert_int_equal(
			s2_pgtable_test_clear_young(&e.pgt, s2_ipa(0), 4 * g, true, &young), 0);
		assert_int_equal(young, 1);
		assert_false(lk(&e, g).pte & S2_PTE_AF);
		if (cfg->hd) {
			/* a write to a DBM page makes it writable (dirty) in hardware */
			assert_int_equal(
				s2_walk(&e.pgt.cfg, e.pgt.root_pa, &mem, s2_ipa(2 * g), wr, &res),
				0);
			assert_int_equal(res.fault, S2_FAULT_NONE);
			assert_true(s2_lookup_prot(lk(&e, 2 * g)) & S2_PROT_W);
			/* clearing AF keeps the hardware dirty bit */
			assert_int_equal(
				s2_pgtable_test_clear_young(&e.pgt, s2_ipa(0), 4 * g, true, &young),
				0);
			assert_true(s2_lookup_prot(lk(&e, 2 * g)) & S2_PROT_W);
			/* write-protect: W and DBM go, with a TLBI */
			s2_host_port_clear_log(e.hp);
			assert_int_equal(s2_pgtable_wrprotect(&e.pgt, s2_ipa(0), 4 * g), 0);
			assert_int_equal(count_tlbi(&e), 1);
			assert_int_equal(
				lk(&e, 2 * g).pte,
				golden_leaf(cfg, 3, 2 * g, S2_PROT_R | S2_MAP_YOUNG_CLEAR));
			assert_int_equal(
				s2_walk(&e.pgt.cfg, e.pgt.root_pa, &mem, s2_ipa(2 * g), wr, &res),
				0);
			assert_int_equal(res.fault, S2_FAULT_PERMISSION);
		}
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/* destroy frees every table page; flush_range invalidates exactly the range given. */
static void test_destroy_and_flush(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		struct s2_test_env e;
		unsigned int n;
		const struct s2_host_event *ev;

		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		assert_int_equal(
			s2_pgtable_map(&e.pgt, s2_ipa(0), 4 * g, s2_pa(0), S2_PROT_R, 0, NULL), 0);
		if (3 * blk <= ipa_limit(cfg))
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(2 * blk - g), 3 * g,
							s2_pa(0), S2_PROT_R, 0, NULL),
					 0);
		assert_int_equal(
			s2_pgtable_annotate(&e.pgt, s2_ipa(ipa_limit(cfg) - g), g, 3, NULL), 0);
		s2_host_port_clear_log(e.hp);
		s2_pgtable_flush_range(&e.pgt, s2_ipa(g), 2 * g);
		ev = s2_host_port_log(e.hp, &n, NULL);
		assert_int_equal(count_events(&e, S2_HOST_EV_TLBI_RANGE), 1);
		for (unsigned int i = 0; i < n; i++)
			if (ev[i].kind == S2_HOST_EV_TLBI_RANGE) {
				assert_int_equal(ev[i].addr, g);
				assert_int_equal(ev[i].size, 2 * g);
				assert_int_equal(ev[i + 1].kind, S2_HOST_EV_BARRIER);
				assert_int_equal(ev[i + 1].barrier, S2_BARRIER_DSB_ISH);
			}
		s2_pgtable_destroy(&e.pgt);
		assert_int_equal(s2_host_port_stats(e.hp).pages_in_use, 0);
		s2_host_port_destroy(e.hp);
	}
}

/* ---- concurrency: single-entry operations racing under a shared lock -------------------- */

#define RACE_THREADS 4
#define RACE_PAGES 96

struct race {
	struct s2_test_env *e;
	uint64_t stride; /* IPA distance between pages: spreads them over several tables */
	pthread_barrier_t *start;
	struct s2_page_cache cache;
	int bad;
	unsigned int id;
};

static void *race_thread(void *arg)
{
	struct race *r = arg;
	struct s2_pgtable *p = &r->e->pgt;

	pthread_barrier_wait(r->start);
	for (unsigned int k = 0; k < RACE_PAGES; k++) {
		/* every thread maps the same pages, in a different order */
		unsigned int i = (k * 7 + r->id * 13) % RACE_PAGES;
		uint64_t ipa = i * r->stride, pa = S2_TEST_PA_BASE + 0x10000000 + i * 0x10000;
		int ret = s2_pgtable_map(p, s2_ipa(ipa), 1ull << p->cfg.page_shift, s2_pa(pa),
					 S2_PROT_R, S2_MAP_SHARED | S2_MAP_YOUNG_CLEAR, &r->cache);
		/* 0, or S2_EAGAIN when another thread's relax already raised permissions */
		if (ret && ret != S2_EAGAIN)
			r->bad++;
		ret = s2_pgtable_mkyoung(p, s2_ipa(ipa));
		if (ret)
			r->bad++;
		ret = s2_pgtable_relax_perms(p, s2_ipa(ipa), r->id & 1 ? S2_PROT_W : S2_PROT_R);
		if (ret)
			r->bad++;
	}
	return NULL;
}

static void test_concurrent_single_entry(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg);
		struct s2_test_env e;
		struct race r[RACE_THREADS];
		pthread_t th[RACE_THREADS];
		pthread_barrier_t start;
		uint64_t stride = level_size(cfg, 2) / 4 + g;

		if (cfg->ha || RACE_PAGES * stride > ipa_limit(cfg))
			continue;
		s2_test_env_init(&e, cfg, 0, 0);
		pthread_barrier_init(&start, NULL, RACE_THREADS);
		for (unsigned int t = 0; t < RACE_THREADS; t++) {
			memset(&r[t], 0, sizeof(r[t]));
			r[t].e = &e;
			r[t].stride = stride;
			r[t].start = &start;
			r[t].id = t;
			/* each thread draws on its own cache: the port is not thread-safe */
			assert_int_equal(
				s2_page_cache_topup(&r[t].cache, &e.port, g, S2_PAGE_CACHE_MAX), 0);
		}
		for (unsigned int t = 0; t < RACE_THREADS; t++)
			assert_int_equal(pthread_create(&th[t], NULL, race_thread, &r[t]), 0);
		for (unsigned int t = 0; t < RACE_THREADS; t++) {
			pthread_join(th[t], NULL);
			assert_int_equal(r[t].bad, 0);
			s2_page_cache_drain(&r[t].cache, &e.port, g);
		}
		pthread_barrier_destroy(&start);
		for (unsigned int i = 0; i < RACE_PAGES; i++) {
			struct s2_lookup l = lk(&e, i * stride);
			assert_true(l.valid);
			assert_int_equal(s2_pa_val(l.pa),
					 S2_TEST_PA_BASE + 0x10000000 + i * 0x10000);
			assert_int_equal(s2_lookup_prot(l), S2_PROT_R | S2_PROT_W);
		}
		/* exact refcounts, no table lost or leaked by the losers */
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

/* ---- cache maintenance of memory the guest loses, TLBI after relaxing ------------------------- */

/*
 * The DC CIVAC calls logged since the last clear are exactly the @n (pa, size) pairs of @want
 * (in order) when FWB is off, none with FWB; each comes after a TLBI (the entry is gone from
 * every TLB before its memory is cleaned).
 */
static void assert_dc_is(struct s2_test_env *e, const uint64_t *want, unsigned int n)
{
	unsigned int nev, k = 0;
	bool tlbi_seen = false;
	const struct s2_host_event *ev = s2_host_port_log(e->hp, &nev, NULL);

	if (e->pgt.cfg.fwb)
		n = 0;
	for (unsigned int i = 0; i < nev; i++) {
		if (ev[i].kind == S2_HOST_EV_TLBI_IPA || ev[i].kind == S2_HOST_EV_TLBI_RANGE ||
		    ev[i].kind == S2_HOST_EV_TLBI_VMID)
			tlbi_seen = true;
		if (ev[i].kind != S2_HOST_EV_DC_CIVAC)
			continue;
		if (k >= n)
			fail_msg("unexpected DC CIVAC #%u [0x%" PRIx64 ", +0x%" PRIx64 ") (fwb %d)",
				 k, ev[i].addr, ev[i].size, e->pgt.cfg.fwb);
		assert_true(tlbi_seen);
		assert_int_equal(ev[i].addr, want[2 * k]);
		assert_int_equal(ev[i].size, want[2 * k + 1]);
		k++;
	}
	assert_int_equal(k, n);
}

/* Without FWB every Normal WB page the guest loses is cleaned to PoC after the TLBI, one call
 * per physically contiguous run (KVM's stage2_unmap_walker); never with FWB or for Normal-NC
 * and Device memory. */
static void test_unmap_cmo(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		uint64_t ipa = pick_ipa(cfg, blk, 4 * blk), pa = pick_pa(cfg, blk, 8 * blk);
		uint64_t rw = S2_PROT_R | S2_PROT_W; /* mapped with S2_MAP_NOCMO */
		struct s2_test_env e;

		s2_test_env_init(&e, cfg, 0, LOG_CAP);

		/* 16 contiguous pages: one call. */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), 16 * g, s2_pa(pa), rw,
						S2_MAP_FORCE_PAGES | S2_MAP_NOCMO, NULL),
				 0);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa), 16 * g, NULL), 0);
		{
			const uint64_t w[] = { pa, 16 * g };
			assert_dc_is(&e, w, 1);
		}

		/* Two physically separate runs: two calls. */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), 4 * g, s2_pa(pa), rw,
						S2_MAP_NOCMO, NULL),
				 0);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + 4 * g), 4 * g,
						s2_pa(pa + 64 * g), rw, S2_MAP_NOCMO, NULL),
				 0);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa), 8 * g, NULL), 0);
		{
			const uint64_t w[] = { pa, 4 * g, pa + 64 * g, 4 * g };
			assert_dc_is(&e, w, 2);
		}

		/* Normal-NC and Device memory: nothing (the guest does not cache it). */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), 4 * g, s2_pa(pa),
						rw | S2_PROT_NORMAL_NC, S2_MAP_NOCMO, NULL),
				 0);
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + 4 * g), 4 * g,
						s2_pa(pa + 4 * g), S2_PROT_R | S2_PROT_DEVICE, 0,
						NULL),
				 0);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa), 8 * g, NULL), 0);
		assert_dc_is(&e, NULL, 0);

		/* Annotating takes the memory from the guest too. */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), 4 * g, s2_pa(pa), rw,
						S2_MAP_NOCMO, NULL),
				 0);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_annotate(&e.pgt, s2_ipa(ipa), 4 * g, 7, NULL), 0);
		{
			const uint64_t w[] = { pa, 4 * g };
			assert_dc_is(&e, w, 1);
		}
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa), 4 * g, NULL), 0);

		/* Whole last-level tables unlinked at once: their pages are cleaned, in one call
		 * for the contiguous whole. */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), 2 * blk, s2_pa(pa), rw,
						S2_MAP_FORCE_PAGES | S2_MAP_NOCMO, NULL),
				 0);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa), 2 * blk, NULL), 0);
		{
			const uint64_t w[] = { pa, 2 * blk };
			assert_dc_is(&e, w, 1);
		}
		assert_pages_back(&e);

		if (has_blocks(cfg, 2)) {
			/* A block: the part unmapped (the block is split), then the rest. */
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), blk, s2_pa(pa), rw,
							S2_MAP_NOCMO, NULL),
					 0);
			assert_int_equal(lk(&e, ipa).level, 2);
			s2_host_port_clear_log(e.hp);
			assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa + g), 2 * g, NULL), 0);
			{
				const uint64_t w[] = { pa + g, 2 * g };
				assert_dc_is(&e, w, 1);
			}
			s2_host_port_clear_log(e.hp);
			assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa), blk, NULL), 0);
			{
				const uint64_t w[] = { pa, g, pa + 3 * g, blk - 3 * g };
				assert_dc_is(&e, w, 2);
			}
			/* A whole block: one call. */
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), blk, s2_pa(pa), rw,
							S2_MAP_NOCMO, NULL),
					 0);
			s2_host_port_clear_log(e.hp);
			assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa), blk, NULL), 0);
			{
				const uint64_t w[] = { pa, blk };
				assert_dc_is(&e, w, 1);
			}

			/* A map that replaces a page inside a block by another output: the page the
			 * guest loses is cleaned once the block is gone from the TLBs. */
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), blk, s2_pa(pa), rw,
							S2_MAP_NOCMO, NULL),
					 0);
			s2_host_port_clear_log(e.hp);
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + g), g,
							s2_pa(pa + 5 * blk), rw, S2_MAP_NOCMO,
							NULL),
					 0);
			{
				const uint64_t w[] = { pa + g, g };
				assert_dc_is(&e, w, 1);
			}
			/* ... and one that replaces a table of pages by a block elsewhere: every
			 * page of the old table (one run here). */
			s2_host_port_clear_log(e.hp);
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), blk,
							s2_pa(pa + 2 * blk), rw, S2_MAP_NOCMO,
							NULL),
					 0);
			{
				const uint64_t w[] = { pa, g,	       pa + 5 * blk,
						       g,  pa + 2 * g, blk - 2 * g };
				assert_dc_is(&e, w, 3);
			}
			/* The same output again, as a table of pages: nothing lost, nothing
			 * cleaned (the map's own clean is skipped with NOCMO). */
			s2_host_port_clear_log(e.hp);
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), blk,
							s2_pa(pa + 2 * blk), rw,
							S2_MAP_FORCE_PAGES | S2_MAP_NOCMO, NULL),
					 0);
			assert_dc_is(&e, NULL, 0);
			/* A memory type change (Normal WB -> NC) loses the cached view. */
			s2_host_port_clear_log(e.hp);
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa), 2 * g,
							s2_pa(pa + 2 * blk), rw | S2_PROT_NORMAL_NC,
							S2_MAP_NOCMO, NULL),
					 0);
			{
				const uint64_t w[] = { pa + 2 * blk, 2 * g };
				assert_dc_is(&e, w, 1);
			}
			assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa), blk, NULL), 0);
		}
		assert_tree_ok(&e);
		assert_pages_back(&e);
		s2_test_env_fini(&e);
	}
}

static void noop_tlbi_local(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	(void)ctx;
	(void)pgt;
	(void)ipa;
	(void)level;
}

/*
 * relax_perms invalidates the IPA on this CPU (tlbi_ipa_local) in every outcome where KVM's
 * kvm_pgtable_stage2_relax_perms() does: a leaf updated or already as asked (level hint), no
 * valid leaf (no hint); not for a refused request. The TLB model, which may hold the entry
 * that gave the permission fault, holds nothing stale afterwards, and does without it.
 */
static void test_relax_local_tlbi(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg);
		uint64_t ipa = pick_ipa(cfg, g, 16 * g), pa = pick_pa(cfg, g, 16 * g);
		uint64_t ro = S2_PROT_R; /* mapped with S2_MAP_NOCMO */
		struct s2_test_env e;
		struct s2_tlb_entry store[16];
		struct s2_tlb_model tlb;
		struct s2_walk_result res;
		struct s2_port_ops ops;
		unsigned int n;
		const struct s2_host_event *ev;

		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		s2_tlb_init(&tlb, store, 16);
		s2_host_port_attach_tlb(e.hp, &tlb, NULL, 1);
		assert_int_equal(
			s2_pgtable_map(&e.pgt, s2_ipa(ipa), g, s2_pa(pa), ro, S2_MAP_NOCMO, NULL),
			0);

		/* A write faults; the TLB keeps the faulting entry. */
		assert_int_equal(ref_walk(&e, ipa, S2_ACCESS_WRITE, &res), S2_FAULT_PERMISSION);
		s2_tlb_fill(&tlb, 1, s2_ipa(ipa), &res);
		assert_non_null(s2_tlb_lookup(&tlb, 1, s2_ipa(ipa)));
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(ipa + 8), S2_PROT_W), 0);
		ev = s2_host_port_log(e.hp, &n, NULL);
		assert_int_equal(n, 1);
		assert_int_equal(ev[0].kind, S2_HOST_EV_TLBI_IPA_LOCAL);
		assert_int_equal(ev[0].addr, ipa + 8);
		assert_int_equal(ev[0].level, 3);
		assert_null(s2_tlb_lookup(&tlb, 1, s2_ipa(ipa)));

		/* Nothing left to change (a spurious fault from an old entry): still. */
		assert_int_equal(ref_walk(&e, ipa, S2_ACCESS_WRITE, &res), S2_FAULT_NONE);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(ipa), S2_PROT_W), 0);
		assert_int_equal(count_events(&e, S2_HOST_EV_TLBI_IPA_LOCAL), 1);
		assert_int_equal(count_tlbi(&e), 0);

		/* No valid leaf (KVM: -EAGAIN): invalidated without a level hint. */
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(ipa + 4 * g), S2_PROT_W),
				 S2_ENOENT);
		ev = s2_host_port_log(e.hp, &n, NULL);
		assert_int_equal(n, 1);
		assert_int_equal(ev[0].kind, S2_HOST_EV_TLBI_IPA_LOCAL);
		assert_int_equal(ev[0].level, -2);

		/* Refused: nothing granted, nothing invalidated. */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + g), g, s2_pa(pa + g),
						ro | S2_PROT_NORMAL_NC, S2_MAP_NOCMO, NULL),
				 0);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(ipa + g), S2_PROT_X),
				 S2_EMEMTYPE);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(ipa_limit(cfg)), S2_PROT_W),
				 S2_ERANGE);
		ev = s2_host_port_log(e.hp, &n, NULL);
		assert_int_equal(n, 0);

		/* Exec granted: the faulting fetch's entry goes too. */
		assert_int_equal(ref_walk(&e, ipa, S2_ACCESS_EXEC, &res), S2_FAULT_PERMISSION);
		s2_tlb_fill(&tlb, 1, s2_ipa(ipa), &res);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(ipa), S2_PROT_X), 0);
		{
			struct s2_walk_mem mem = s2_host_port_walk_mem(e.hp);
			mem.cas64 = NULL;
			assert_int_equal(
				s2_tlb_check(&tlb, 1, cfg, e.pgt.root_pa, &mem, NULL, NULL), 0);

			/* Without the local TLBI (a port whose op does nothing), the model flags
			 * the entry that would keep faulting. */
			ops = *e.port.ops;
			ops.tlbi_ipa_local = noop_tlbi_local;
			e.pgt.port.ops = &ops;
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + 2 * g), g,
							s2_pa(pa + 2 * g), ro, S2_MAP_NOCMO, NULL),
					 0);
			assert_int_equal(ref_walk(&e, ipa + 2 * g, S2_ACCESS_WRITE, &res),
					 S2_FAULT_PERMISSION);
			s2_tlb_fill(&tlb, 1, s2_ipa(ipa + 2 * g), &res);
			assert_int_equal(
				s2_pgtable_relax_perms(&e.pgt, s2_ipa(ipa + 2 * g), S2_PROT_W), 0);
			assert_int_equal(
				s2_tlb_check(&tlb, 1, cfg, e.pgt.root_pa, &mem, NULL, NULL), 1);

			/* A port without the op: the broadcast form instead. */
			ops.tlbi_ipa_local = NULL;
			s2_host_port_clear_log(e.hp);
			assert_int_equal(
				s2_pgtable_relax_perms(&e.pgt, s2_ipa(ipa + 2 * g), S2_PROT_W), 0);
			{
				static const int k[] = { B_ISHST, S2_HOST_EV_TLBI_IPA, B_ISH };
				assert_log_is(&e, k, 3);
			}
			assert_int_equal(
				s2_tlb_check(&tlb, 1, cfg, e.pgt.root_pa, &mem, NULL, NULL), 0);
			e.pgt.port.ops = e.port.ops;
		}
		s2_host_port_attach_tlb(e.hp, NULL, NULL, 0);
		s2_test_env_fini(&e);
	}
}

/* Start level -1 exists only for 4K with LPA2 (VTCR_EL2.DS): init refuses it anywhere else. */
/*
 * s2_pgtable_init()'s bounds, with configs made by hand from valid ones (s2_config_init()
 * never produces them): the public fmt field is the config's descriptor layout for every
 * config; a start level of 3 (legal for 64K in VTCR, never used: KVM and s2_config_init()
 * start at level 2 at the latest) and an output size above 52 bits are refused.
 */
static void test_init_bounds(void **state)
{
	struct s2_test_env e;
	struct s2_pgtable pgt;

	(void)state;
	FOR_EACH_CFG(tc)
	{
		struct s2_pte_format want = s2_config_pte_format(&tc->cfg);

		s2_test_env_init(&e, &tc->cfg, 0, LOG_CAP);
		assert_int_equal(e.pgt.fmt.granule, want.granule);
		assert_int_equal(e.pgt.fmt.ds, want.ds);
		assert_int_equal(e.pgt.fmt.lpa, want.lpa);
		s2_test_env_fini(&e);
	}
	{
		struct s2_config_req req = { .ipa_bits = 32, .granule = S2_GRANULE_64K };
		struct s2_config cfg, bad;
		struct s2_caps caps;

		uint64_t held;

		s2_test_env_init(&e, &matrix[0].cfg, 0, LOG_CAP);
		held = s2_host_port_stats(e.hp).pages_in_use; /* the env's own table */
		assert_int_equal(s2_caps_max(48, &caps), 0);
		assert_int_equal(s2_config_init(&cfg, &caps, &req), 0);
		assert_int_equal(cfg.start_level, 2);
		assert_int_equal(s2_pgtable_init(&pgt, &cfg, &e.port, NULL), 0);
		s2_pgtable_destroy(&pgt);
		/* the same 32-bit space from level 3: 2^32 / 2^29 = 8 concatenated tables */
		bad = cfg;
		bad.start_level = 3;
		bad.levels = 1;
		bad.root_tables = 8;
		bad.root_table_bytes = 8 * 65536;
		assert_int_equal(s2_pgtable_init(&pgt, &bad, &e.port, NULL), S2_EINVAL);
		bad = cfg;
		bad.pa_bits = 53;
		assert_int_equal(s2_pgtable_init(&pgt, &bad, &e.port, NULL), S2_EINVAL);
		assert_int_equal(s2_host_port_stats(e.hp).pages_in_use, held);
		s2_test_env_fini(&e);
	}
}

static void test_init_start_level_minus1(void **state)
{
	struct s2_config_req req = { .ipa_bits = 52, .granule = S2_GRANULE_4K };
	struct s2_config cfg, bad;
	struct s2_test_env e;
	struct s2_pgtable pgt;
	struct s2_caps caps;

	(void)state;
	s2_test_env_init(&e, &matrix[0].cfg, 0, LOG_CAP);
	assert_int_equal(s2_caps_max(52, &caps), 0);
	assert_int_equal(s2_config_init(&cfg, &caps, &req), 0);
	assert_true(cfg.ds);
	/* s2_config_init() concatenates 16 level-0 tables; the same 52-bit space from one
	 * level -1 table is a valid geometry too. */
	cfg.start_level = -1;
	cfg.levels = 5;
	cfg.root_tables = 1;
	cfg.root_table_bytes = 4096;
	assert_int_equal(s2_pgtable_init(&pgt, &cfg, &e.port, NULL), 0);
	s2_pgtable_destroy(&pgt);

	bad = cfg;
	bad.ds = false; /* 4K without LPA2 */
	assert_int_equal(s2_pgtable_init(&pgt, &bad, &e.port, NULL), S2_EINVAL);
	req.granule = S2_GRANULE_16K; /* 16K with LPA2: start level 0 at the lowest */
	assert_int_equal(s2_config_init(&bad, &caps, &req), 0);
	assert_true(bad.ds);
	bad.start_level = -1;
	bad.levels = 5;
	bad.root_tables = 1;
	bad.root_table_bytes = 16384;
	assert_int_equal(s2_pgtable_init(&pgt, &bad, &e.port, NULL), S2_EINVAL);
	s2_test_env_fini(&e);
}

static int null_visit(void *arg, const struct s2_walk_visit *v)
{
	(void)arg;
	(void)v;
	return 0;
}

/*
 * Every public engine function, called with NULL in each pointer position: S2_EINVAL (or
 * nothing, for the void ones), and the tables are unchanged (s2_pgtable_check passes, the same
 * mapping is still there, no page leaked).
 */
static void test_null_args(void **state)
{
	const struct s2_config *cfg = &matrix[0].cfg;
	uint64_t g = s2_test_granule(cfg), young = 7;
	struct s2_port noops = { .ops = NULL };
	struct s2_page_cache cache = { 0 };
	struct s2_check_report rep;
	struct s2_test_env e;
	struct s2_pgtable fresh;
	struct s2_lookup l;
	uint64_t pages;
	unsigned int n = 9;

	(void)state;
	s2_test_env_init(&e, cfg, 0, LOG_CAP);
	assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(0), g, s2_pa(0), S2_PROT_R, 0, NULL), 0);
	pages = s2_host_port_stats(e.hp).pages_in_use;

	assert_int_equal(s2_pgtable_init(NULL, cfg, &e.port, NULL), S2_EINVAL);
	assert_int_equal(s2_pgtable_init(&fresh, NULL, &e.port, NULL), S2_EINVAL);
	assert_int_equal(s2_pgtable_init(&fresh, cfg, NULL, NULL), S2_EINVAL);
	assert_int_equal(s2_pgtable_init(&fresh, cfg, &noops, NULL), S2_EINVAL);
	s2_pgtable_destroy(NULL);
	assert_int_equal(s2_pgtable_map(NULL, s2_ipa(0), g, s2_pa(0), S2_PROT_R, 0, NULL),
			 S2_EINVAL);
	assert_int_equal(s2_pgtable_unmap(NULL, s2_ipa(0), g, NULL), S2_EINVAL);
	assert_int_equal(s2_pgtable_wrprotect(NULL, s2_ipa(0), g), S2_EINVAL);
	assert_int_equal(s2_pgtable_set_prot(NULL, s2_ipa(0), g, S2_PROT_W, 0), S2_EINVAL);
	assert_int_equal(s2_pgtable_relax_perms(NULL, s2_ipa(0), S2_PROT_W), S2_EINVAL);
	assert_int_equal(s2_pgtable_mkyoung(NULL, s2_ipa(0)), S2_EINVAL);
	assert_int_equal(s2_pgtable_test_clear_young(NULL, s2_ipa(0), g, true, &young), S2_EINVAL);
	assert_int_equal(young, 7);
	/* A NULL @young is allowed (the count is not wanted). */
	assert_int_equal(s2_pgtable_test_clear_young(&e.pgt, s2_ipa(0), g, false, NULL), 0);
	s2_pgtable_flush_range(NULL, s2_ipa(0), g);
	assert_int_equal(s2_pgtable_lookup(NULL, s2_ipa(0), &l), S2_EINVAL);
	assert_int_equal(s2_pgtable_lookup(&e.pgt, s2_ipa(0), NULL), S2_EINVAL);
	assert_int_equal(s2_pgtable_walk(NULL, s2_ipa(0), g, S2_WALK_LEAF, null_visit, NULL),
			 S2_EINVAL);
	assert_int_equal(s2_pgtable_walk(&e.pgt, s2_ipa(0), g, S2_WALK_LEAF, NULL, NULL),
			 S2_EINVAL);
	assert_int_equal(s2_pgtable_split(NULL, s2_ipa(0), g, &cache), S2_EINVAL);
	assert_int_equal(s2_pgtable_split(&e.pgt, s2_ipa(0), g, NULL), S2_EINVAL);
	assert_int_equal(s2_pgtable_collapse(NULL, s2_ipa(0), g, &n), S2_EINVAL);
	assert_int_equal(n, 9);
	assert_int_equal(s2_pgtable_collapse(&e.pgt, s2_ipa(0), g, NULL), 0);
	assert_int_equal(s2_pgtable_annotate(NULL, s2_ipa(g), g, 3, NULL), S2_EINVAL);
	assert_int_equal(s2_pgtable_check(NULL, &rep), S2_EINVAL);
	assert_int_equal(s2_page_cache_topup(NULL, &e.port, g, 1), S2_EINVAL);
	assert_int_equal(s2_page_cache_topup(&cache, NULL, g, 1), S2_EINVAL);
	assert_int_equal(s2_page_cache_topup(&cache, &noops, g, 1), S2_EINVAL);
	/* Page sizes the port cannot give: refused, not S2_ENOMEM. */
	assert_int_equal(s2_page_cache_topup(&cache, &e.port, 12345, 1), S2_EINVAL);
	assert_int_equal(s2_page_cache_topup(&cache, &e.port, 2048, 1), S2_EINVAL);
	assert_int_equal(cache.nr, 0);
	s2_page_cache_drain(NULL, &e.port, g);
	s2_page_cache_drain(&cache, NULL, g);

	/* Nothing changed. */
	assert_int_equal(s2_pgtable_check(&e.pgt, NULL), 0);
	assert_int_equal(s2_pgtable_lookup(&e.pgt, s2_ipa(0), &l), 0);
	assert_true(l.valid);
	assert_int_equal(s2_host_port_stats(e.hp).pages_in_use, pages);
	s2_test_env_fini(&e);
}

/* A root of 0 or more than 16 concatenated tables (S2_MAX_CONCAT) is refused, its byte size
 * consistent or not, and nothing is allocated (seed-8 mutation survivor). */
static void test_init_root_tables_bounds(void **state)
{
	struct s2_config_req req = { .ipa_bits = 40, .granule = S2_GRANULE_4K };
	static const unsigned int bad_tables[] = { 0, S2_MAX_CONCAT + 1, 2 * S2_MAX_CONCAT };
	struct s2_config cfg, bad;
	struct s2_caps caps;
	struct s2_test_env e;
	struct s2_pgtable pgt;
	uint64_t held;

	(void)state;
	s2_test_env_init(&e, &matrix[0].cfg, 0, LOG_CAP);
	held = s2_host_port_stats(e.hp).pages_in_use;
	assert_int_equal(s2_caps_max(48, &caps), 0);
	assert_int_equal(s2_config_init(&cfg, &caps, &req), 0);
	assert_int_equal(cfg.root_tables, 2);
	for (unsigned int i = 0; i < S2_ARRAY_SIZE(bad_tables); i++) {
		bad = cfg;
		bad.root_tables = bad_tables[i];
		bad.root_table_bytes = (uint64_t)bad_tables[i] << cfg.page_shift;
		assert_int_equal(s2_pgtable_init(&pgt, &bad, &e.port, NULL), S2_EINVAL);
	}
	assert_int_equal(s2_host_port_stats(e.hp).pages_in_use, held);
	s2_test_env_fini(&e);
}

/* A visitor's code stops the walk whatever the visit that returns it: after a table's
 * TABLE_POST as after a leaf, no entry is visited any more and the walk returns that code
 * (seed-8 mutation survivor). */
struct stop_log {
	unsigned int n, stop_at;
};

static int stop_post_visitor(void *arg, const struct s2_walk_visit *v)
{
	struct stop_log *l = arg;

	l->n++;
	if (v->flag == S2_WALK_TABLE_POST && !l->stop_at) {
		l->stop_at = l->n;
		return S2_EBUSY;
	}
	return 0;
}

static void test_walk_stops_after_table_post(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), blk = level_size(cfg, 2);
		struct s2_test_env e;
		struct stop_log l = { 0 };

		if (2 * blk > ipa_limit(cfg))
			continue;
		s2_test_env_init(&e, cfg, 0, 16);
		/* a page in each of two level-3 tables */
		assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(g), g, s2_pa(0), S2_PROT_R, 0, NULL),
				 0);
		assert_int_equal(
			s2_pgtable_map(&e.pgt, s2_ipa(blk + g), g, s2_pa(g), S2_PROT_R, 0, NULL),
			0);
		assert_int_equal(
			s2_pgtable_walk(&e.pgt, s2_ipa(0), 2 * blk,
					S2_WALK_LEAF | S2_WALK_TABLE_POST | S2_WALK_SKIP_EMPTY,
					stop_post_visitor, &l),
			S2_EBUSY);
		/* the first page, then the POST of its level-3 table: nothing after */
		assert_int_equal(l.stop_at, 2);
		assert_int_equal(l.n, 2);
		s2_test_env_fini(&e);
	}
}

/*
 * s2_pgtable_relax_lookup() of the first IPA beyond the input size is S2_ERANGE with @old
 * untouched, in every layout; the last page inside is looked up. The 4K layout from level 1
 * has its own fast path, whose bound must be exclusive: at the limit its root index is one
 * past the root. Here the root comes from the C heap, exactly sized (under ASan a read past
 * it is caught), through a port that otherwise is the host port (seed-8 mutation survivor).
 */
static const struct s2_port_ops *heaproot_inner;
static struct s2_port_ops heaproot_ops;
static bool heaproot_armed;
static void *heaproot_buf;

static void *heaproot_alloc(void *ctx, size_t bytes)
{
	if (!heaproot_armed)
		return heaproot_inner->alloc_pages(ctx, bytes);
	heaproot_armed = false;
	heaproot_buf = aligned_alloc(bytes, bytes);
	assert_non_null(heaproot_buf);
	memset(heaproot_buf, 0, bytes);
	return heaproot_buf;
}

static void heaproot_free(void *ctx, void *va, size_t bytes)
{
	if (va && va == heaproot_buf) {
		free(va);
		heaproot_buf = NULL;
		return;
	}
	heaproot_inner->free_pages(ctx, va, bytes);
}

static void test_relax_lookup_ipa_limit(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg), lim = ipa_limit(cfg);
		struct s2_test_env e;
		struct s2_lookup old;

		s2_test_env_init(&e, cfg, 0, 16);
		memset(&old, 0x5a, sizeof(old));
		assert_int_equal(s2_pgtable_relax_lookup(&e.pgt, s2_ipa(lim), S2_PROT_W, &old),
				 S2_ERANGE);
		assert_int_equal(old.pte, UINT64_C(0x5a5a5a5a5a5a5a5a));
		assert_int_equal(old.size, UINT64_C(0x5a5a5a5a5a5a5a5a));
		assert_int_equal(s2_pgtable_relax_lookup(&e.pgt, s2_ipa(lim - g), S2_PROT_W, &old),
				 0);
		assert_false(old.valid);
		s2_test_env_fini(&e);
	}
	{
		struct s2_config_req req = { .ipa_bits = 40, .granule = S2_GRANULE_4K };
		struct s2_config cfg;
		struct s2_caps caps;
		struct s2_test_env e;
		struct s2_pgtable pgt;
		struct s2_port port;
		struct s2_lookup old;

		assert_int_equal(s2_caps_max(48, &caps), 0);
		assert_int_equal(s2_config_init(&cfg, &caps, &req), 0);
		assert_int_equal(cfg.start_level, 1);
		s2_test_env_init(&e, &cfg, 0, 16);
		port = e.port;
		heaproot_inner = port.ops;
		heaproot_ops = *port.ops;
		heaproot_ops.alloc_pages = heaproot_alloc;
		heaproot_ops.free_pages = heaproot_free;
		port.ops = &heaproot_ops;
		heaproot_armed = true;
		assert_int_equal(s2_pgtable_init(&pgt, &cfg, &port, NULL), 0);
		assert_ptr_equal(pgt.root, heaproot_buf);
		assert_true(pgt.geom.fast4k_l1_ipa_limit != 0);
		memset(&old, 0x5a, sizeof(old));
		assert_int_equal(
			s2_pgtable_relax_lookup(&pgt, s2_ipa(UINT64_C(1) << 40), S2_PROT_W, &old),
			S2_ERANGE);
		assert_int_equal(old.pte, UINT64_C(0x5a5a5a5a5a5a5a5a));
		s2_pgtable_destroy(&pgt);
		assert_null(heaproot_buf);
		s2_test_env_fini(&e);
	}
}

/*
 * Seed-9 survivors. s2_pgtable_init() refuses an IPA size outside 32..52 bits whatever the
 * other fields say (its own check, not only s2_config_init()'s). And an unmap that removes
 * more scattered Normal WB pages than the engine's list of pending cleans holds (32) cleans
 * every one of them after the TLBI, flushing the list when it fills.
 */
static void test_init_ipa_bits_bounds(void **state)
{
	struct s2_config_req req = { .ipa_bits = 40, .granule = S2_GRANULE_4K };
	struct s2_config cfg, bad;
	struct s2_test_env e;
	struct s2_pgtable pgt;
	struct s2_caps caps;
	static const unsigned int bits[] = { 0, 31, 53, 64 };

	(void)state;
	s2_test_env_init(&e, &matrix[0].cfg, 0, LOG_CAP);
	assert_int_equal(s2_caps_max(48, &caps), 0);
	assert_int_equal(s2_config_init(&cfg, &caps, &req), 0);
	for (size_t i = 0; i < S2_ARRAY_SIZE(bits); i++) {
		bad = cfg;
		bad.ipa_bits = bits[i];
		assert_int_equal(s2_pgtable_init(&pgt, &bad, &e.port, NULL), S2_EINVAL);
	}
	s2_test_env_fini(&e);
}

static void test_unmap_many_scattered_runs(void **state)
{
	(void)state;
	FOR_EACH_CFG(tc)
	{
		const struct s2_config *cfg = &tc->cfg;
		uint64_t g = s2_test_granule(cfg);
		const unsigned int n = 80; /* more than twice the pending list */
		uint64_t pa = pick_pa(cfg, g, 2 * n * g);
		uint64_t ipa = pick_ipa(cfg, n * g, n * g);
		struct s2_test_env e;
		const struct s2_host_event *ev;
		unsigned int nev, seen = 0;
		bool cleaned[80] = { false };

		if (cfg->fwb)
			continue; /* no cleans with FWB */
		s2_test_env_init(&e, cfg, 0, LOG_CAP);
		for (unsigned int i = 0; i < n; i++)
			assert_int_equal(s2_pgtable_map(&e.pgt, s2_ipa(ipa + i * g), g,
							s2_pa(pa + 2 * i * g),
							S2_PROT_R | S2_PROT_W, S2_MAP_NOCMO, NULL),
					 0);
		s2_host_port_clear_log(e.hp);
		assert_int_equal(s2_pgtable_unmap(&e.pgt, s2_ipa(ipa), n * g, NULL), 0);
		ev = s2_host_port_log(e.hp, &nev, NULL);
		for (unsigned int k = 0; k < nev; k++) {
			uint64_t off;

			if (ev[k].kind != S2_HOST_EV_DC_CIVAC)
				continue;
			assert_true(ev[k].addr >= pa && ev[k].addr < pa + 2 * n * g);
			off = ev[k].addr - pa;
			assert_int_equal(off % (2 * g), 0);
			assert_int_equal(ev[k].size, g);
			assert_false(cleaned[off / (2 * g)]);
			cleaned[off / (2 * g)] = true;
			seen++;
		}
		assert_int_equal(seen, n);
		assert_tree_ok(&e);
		s2_test_env_fini(&e);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_every_level),
		cmocka_unit_test(test_map_largest_blocks),
		cmocka_unit_test(test_force_pages_table_memory),
		cmocka_unit_test(test_replace_bbm_order),
		cmocka_unit_test(test_cache_maintenance),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_flag_sets),
		cmocka_unit_test(test_unmap_straddling),
		cmocka_unit_test(test_unmap_batched),
		cmocka_unit_test(test_wrprotect_set_prot),
		cmocka_unit_test(test_set_prot_exec_partial_block),
		cmocka_unit_test(test_set_prot_dbm),
		cmocka_unit_test(test_relax_mkyoung_age),
		cmocka_unit_test(test_split_collapse),
		cmocka_unit_test(test_annotate),
		cmocka_unit_test(test_clear_one_page),
		cmocka_unit_test(test_map_page_prepared),
		cmocka_unit_test(test_relax_lookup),
		cmocka_unit_test(test_check_catches_corruption),
		cmocka_unit_test(test_enomem_everywhere),
		cmocka_unit_test(test_single_entry_path),
		cmocka_unit_test(test_walk_visitor),
		cmocka_unit_test(test_tlb_model_no_stale),
		cmocka_unit_test(test_concurrent_single_entry),
		cmocka_unit_test(test_high_pa),
		cmocka_unit_test(test_callback_port),
		cmocka_unit_test(test_unmap_enomem_cleans_lost),
		cmocka_unit_test(test_hw_updates),
		cmocka_unit_test(test_destroy_and_flush),
		cmocka_unit_test(test_unmap_cmo),
		cmocka_unit_test(test_relax_local_tlbi),
		cmocka_unit_test(test_init_start_level_minus1),
		cmocka_unit_test(test_init_bounds),
		cmocka_unit_test(test_null_args),
		cmocka_unit_test(test_init_root_tables_bounds),
		cmocka_unit_test(test_walk_stops_after_table_post),
		cmocka_unit_test(test_relax_lookup_ipa_limit),
		cmocka_unit_test(test_init_ipa_bits_bounds),
		cmocka_unit_test(test_unmap_many_scattered_runs),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]); /* run one test: test_pgtable <name-glob> */
	return cmocka_run_group_tests(tests, setup, NULL);
}
