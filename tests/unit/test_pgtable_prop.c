// SPDX-License-Identifier: MIT
/*
 * test_pgtable_prop.c - property test of the stage-2 page-table engine.
 *
 * For every config of the matrix (4K/16K/64K, several IPA sizes, with and without DS/LPA,
 * FWB on/off, HA on/off), run seeded random sequences of engine operations (map with every
 * block size, forced pages, replacements, refused inputs and injected allocation failures;
 * unmap straddling blocks; wrprotect; set_prot; relax_perms; mkyoung; test_clear_young; split;
 * collapse; annotate; lookup) and check after each one, through the interpreter of
 * tests/model/pgtable_model.c, that the tables equal a shadow model (decoded entry by entry and
 * translated by the reference walker), that the TLB model holds no stale entry, that
 * s2_pgtable_check() passes and that no table page leaks.
 *
 * Environment:
 *   S2_PROP_ITERS  seeds per config (default 4)
 *   S2_PROP_OPS    operations per seed (default 150)
 *   S2_PROP_SEED   first seed (default 1); a failure prints the seed that reproduces it
 *   S2_PROP_CFG    run only the config with this index
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pgtable_model.h"

static unsigned long env_ulong(const char *name, unsigned long def)
{
	const char *s = getenv(name);

	return s && *s ? strtoul(s, NULL, 0) : def;
}

/* Run one seed; return false (after printing how to reproduce) on a violation. */
static bool run_seed(unsigned int cfg, uint64_t seed, unsigned long ops, struct s2m_stats *total)
{
	struct s2m_rng rng;
	struct s2m_ctx *c = calloc(1, sizeof(*c));
	bool ok;

	assert_non_null(c);
	s2m_rng_seed(&rng, seed);
	ok = s2m_init(c, cfg, &rng) && s2m_run(c, ops);
	s2m_teardown(c);
	ok = ok && !c->failed;
	if (!ok)
		fprintf(stderr,
			"pgtable_prop: FAILED config %u (%s) seed %" PRIu64
			" (reproduce: S2_PROP_CFG=%u S2_PROP_SEED=%" PRIu64
			" S2_PROP_ITERS=1)\n  %s\n",
			cfg, s2m_cfgs[cfg].name, seed, cfg, seed, c->msg);
	total->ops += c->st.ops;
	total->ok += c->st.ok;
	total->refused += c->st.refused;
	total->partial += c->st.partial;
	total->walks += c->st.walks;
	for (int i = 0; i < S2M_OP_NR; i++) {
		total->by_op[i] += c->st.by_op[i];
		total->by_op_ok[i] += c->st.by_op_ok[i];
	}
	total->collapsed += c->st.collapsed;
	total->young += c->st.young;
	if (c->st.max_leaves > total->max_leaves)
		total->max_leaves = c->st.max_leaves;
	if (c->st.max_tables > total->max_tables)
		total->max_tables = c->st.max_tables;
	free(c);
	return ok;
}

static void test_config(void **state)
{
	unsigned int cfg = (unsigned int)(uintptr_t)*state;
	unsigned long seeds = env_ulong("S2_PROP_ITERS", 4);
	unsigned long ops = env_ulong("S2_PROP_OPS", 150);
	uint64_t first = env_ulong("S2_PROP_SEED", 1);
	unsigned long only = env_ulong("S2_PROP_CFG", ~0ul);
	struct s2m_stats total;
	unsigned int failures = 0;

	if (only != ~0ul && only != cfg)
		skip();
	memset(&total, 0, sizeof(total));
	for (unsigned long i = 0; i < seeds; i++) {
		uint64_t seed = first + i + (uint64_t)cfg * 1000003u;

		if (only != ~0ul)
			seed = first + i;
		if (!run_seed(cfg, seed, ops, &total) && ++failures >= 1)
			break;
	}
	fprintf(stderr,
		"pgtable_prop: %-26s %lu seeds: %" PRIu64 " ops (%" PRIu64 " ok, %" PRIu64
		" refused, %" PRIu64 " partial), %" PRIu64 " walks, max %" PRIu64
		" leaves / %" PRIu64 " tables\n",
		s2m_cfgs[cfg].name, seeds, total.ops, total.ok, total.refused, total.partial,
		total.walks, total.max_leaves, total.max_tables);
	if (getenv("S2_PROP_VERBOSE")) {
		for (int i = 0; i < S2M_OP_NR; i++)
			fprintf(stderr, "  %-17s %6" PRIu64 " calls, %6" PRIu64 " returned 0\n",
				s2m_op_names[i], total.by_op[i], total.by_op_ok[i]);
		fprintf(stderr, "  tables collapsed %" PRIu64 ", young pages counted %" PRIu64 "\n",
			total.collapsed, total.young);
	}
	assert_int_equal(failures, 0);
}

/*
 * Directed reproductions of what the random runs found, kept as plain cases: two writable
 * leaves of one table (two 4K pages of one L3 table; two 2M blocks of one L2 table) are cached
 * in the TLB, then made read-only by one call. Both translations must be invalidated: a write
 * through the second would otherwise still succeed (Arm ARM D8.16, break-before-make /
 * TLB maintenance requirements for reducing permissions).
 */
static void restrict_two_leaves(uint64_t leaf, bool use_set_prot)
{
	struct s2m_rng rng;
	struct s2m_ctx *c = calloc(1, sizeof(*c));
	uint64_t ipa = UINT64_C(0x40000000); /* 1 GiB: both leaves in one table */
	int ret;

	assert_non_null(c);
	s2m_rng_seed(&rng, 1);
	assert_true(s2m_init(c, 1 /* 4k-ipa40-pa48-fwb */, &rng));
	ret = s2_pgtable_map(&c->pgt, s2_ipa(ipa), 2 * leaf, s2_pa(UINT64_C(0x80000000)),
			     S2_PROT_R | S2_PROT_W, leaf == c->P ? S2_MAP_FORCE_PAGES : 0, NULL);
	assert_int_equal(ret, 0);
	for (int i = 0; i < 2; i++) {
		struct s2_walk_result res;

		assert_true(s2m_walk(c, ipa + (uint64_t)i * leaf, S2_ACCESS_WRITE, false, &res));
		assert_int_equal(res.fault, S2_FAULT_NONE);
		assert_int_equal(res.block_size, leaf);
		s2_tlb_fill(&c->tlb, S2M_VMID, s2_ipa(ipa + (uint64_t)i * leaf), &res);
	}
	if (use_set_prot)
		ret = s2_pgtable_set_prot(&c->pgt, s2_ipa(ipa), 2 * leaf, 0, S2_PROT_W);
	else
		ret = s2_pgtable_wrprotect(&c->pgt, s2_ipa(ipa), 2 * leaf);
	assert_int_equal(ret, 0);
	ret = s2_tlb_check(&c->tlb, S2M_VMID, &c->cfg, c->pgt.root_pa, &c->mem, NULL, NULL);
	s2m_teardown(c);
	free(c);
	assert_int_equal(ret, 0); /* stale entries left behind */
}

static void test_wrprotect_two_pages_invalidates_both(void **state)
{
	(void)state;
	restrict_two_leaves(UINT64_C(0x1000), false);
}

static void test_wrprotect_two_blocks_invalidates_both(void **state)
{
	(void)state;
	restrict_two_leaves(UINT64_C(0x200000), false);
}

static void test_set_prot_two_pages_invalidates_both(void **state)
{
	(void)state;
	restrict_two_leaves(UINT64_C(0x1000), true);
}

/*
 * Found by fuzz.pgtable: a page mapped with AF clear (S2_MAP_YOUNG_CLEAR, or aged by
 * test_clear_young) and then mapped again with the same attributes asking for AF set (the
 * fault path answering an access-flag fault) must end up with AF set; with HA off an AF-clear
 * leaf makes every access take an access flag fault (Arm ARM AArch64.S2Walk), so a call that
 * returns 0 and leaves AF clear makes the guest fault forever.
 */
static void remap_young(uint64_t flags)
{
	struct s2m_rng rng;
	struct s2m_ctx *c = calloc(1, sizeof(*c));
	uint64_t ipa = UINT64_C(0x40000000), prot = S2_PROT_R | S2_PROT_W;
	struct s2_walk_result res;
	int ret1, ret2;

	assert_non_null(c);
	s2m_rng_seed(&rng, 1);
	assert_true(s2m_init(c, 1 /* 4k-ipa40-pa48-fwb, HA off */, &rng));
	ret1 = s2_pgtable_map(&c->pgt, s2_ipa(ipa), c->P, s2_pa(UINT64_C(0x80000000)), prot,
			      S2_MAP_YOUNG_CLEAR, NULL);
	ret2 = s2_pgtable_map(&c->pgt, s2_ipa(ipa), c->P, s2_pa(UINT64_C(0x80000000)), prot, flags,
			      NULL);
	assert_true(s2m_walk(c, ipa, S2_ACCESS_READ, false, &res));
	s2m_teardown(c);
	free(c);
	assert_int_equal(ret1, 0);
	/* S2_MAP_SHARED may decline with S2_EAGAIN (nothing changed); 0 means mapped as asked */
	if (ret2 == S2_EAGAIN && (flags & S2_MAP_SHARED))
		return;
	assert_int_equal(ret2, 0);
	assert_int_equal(res.fault, S2_FAULT_NONE); /* not an access flag fault */
}

static void test_remap_sets_af(void **state)
{
	(void)state;
	remap_young(0);
}

static void test_remap_shared_sets_af(void **state)
{
	(void)state;
	remap_young(S2_MAP_SHARED);
}

int main(void)
{
	struct CMUnitTest tests[S2M_NR_CFGS + 5];
	size_t n = 0;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_wrprotect_two_pages_invalidates_both);
	tests[n++] =
		(struct CMUnitTest)cmocka_unit_test(test_wrprotect_two_blocks_invalidates_both);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_set_prot_two_pages_invalidates_both);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_remap_sets_af);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_remap_shared_sets_af);
	for (unsigned int i = 0; i < S2M_NR_CFGS; i++) {
		tests[n++] = (struct CMUnitTest){ .name = s2m_cfgs[i].name,
						  .test_func = test_config,
						  .initial_state = (void *)(uintptr_t)i };
	}
	return _cmocka_run_group_tests("pgtable_prop", tests, n, NULL, NULL);
}
