// SPDX-License-Identifier: MIT
/*
 * The engine's lost-compare-and-swap paths, run deterministically with the CAS test hook of
 * s2mmu/env.h (S2_TEST_HOOKS).
 *
 * A single-threaded test never loses a CAS, so the retries of the fault map, relax, mkyoung
 * and test_clear_young paths would never run. Here every single-entry operation is first run
 * undisturbed to count its CASes (k) and record its result; then, for each i in 1..k, it is run
 * again from the same state with the i-th CAS
 *   - failing without a store (another CPU changed the entry and changed it back), and
 *   - racing a simulated hardware update into the entry (AF set; with DBM also the dirty
 *     state, S2AP[1]) just before the CAS, as HA/HD hardware would.
 * Each disturbed run must end as the undisturbed one (modulo the raced bits, which must
 * survive: a retry may not lose the hardware's AF/dirty update) or refuse with S2_EAGAIN
 * having changed nothing but the raced bits; the hook's counters prove the disturbed CAS was
 * hit and (for a retry) that another CAS followed it. The tables stay consistent and the page
 * accounting exact (a lost table install frees its tables).
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "s2_test_matrix.h"

#if !S2_HAVE_CAS_HOOK
#error "test_cas_retry needs a build with S2_TEST_HOOKS (the CMake option, on with the tests)"
#endif

static struct s2_test_cfg matrix[S2_TEST_MATRIX_MAX];
static size_t nmatrix;

static int setup(void **state)
{
	(void)state;
	nmatrix = s2_test_matrix(matrix);
	return 0;
}

/* ---- the hook -------------------------------------------------------------------------------- */

enum disturb { D_NONE, D_FAIL, D_RACE };

struct cas_ctl {
	unsigned long calls; /* CASes seen */
	unsigned long target; /* disturb this one (1-based) */
	enum disturb mode;
	unsigned long hits; /* disturbances done */
	uint64_t raced; /* bits a D_RACE set */
};

static struct cas_ctl ctl;

/* The bits hardware may set in a valid leaf behind the engine's back: AF (HA), and the dirty
 * state S2AP[1] of a DBM leaf (HD). */
static uint64_t hw_bits(uint64_t pte)
{
	uint64_t b = S2_PTE_AF;

	if (pte & S2_PTE_DBM)
		b |= S2_PTE_S2AP_W;
	return b;
}

static bool cas_hook(void *c, uint64_t *p, uint64_t expected, uint64_t new)
{
	struct cas_ctl *x = c;

	(void)new;
	if (++x->calls != x->target || x->mode == D_NONE)
		return false;
	if (x->mode == D_FAIL) {
		x->hits++;
		return true;
	}
	/* D_RACE: only valid leaves get hardware updates; and only if it changes something */
	if (!(expected & S2_PTE_VALID) || (expected & hw_bits(expected)) == hw_bits(expected))
		return false;
	x->hits++;
	x->raced = hw_bits(expected) & ~expected;
	__atomic_store_n(p, expected | x->raced, __ATOMIC_RELAXED);
	return false;
}

static void arm(unsigned long target, enum disturb mode)
{
	ctl = (struct cas_ctl){ .target = target, .mode = mode };
	s2_env_set_cas_hook(cas_hook, &ctl);
}

static void disarm(void)
{
	s2_env_set_cas_hook(NULL, NULL);
}

/* ---- the operations ---------------------------------------------------------------------------- */

enum op {
	OP_MAP_NEW, /* fault map of an empty entry whose table is missing (table install) */
	OP_MAP_EMPTY, /* fault map of an empty entry in an existing table */
	OP_MAP_UPGRADE, /* fault map adding W and AF to an existing R leaf */
	OP_MAP_MOVE, /* fault map of another output address (break-before-make) */
	OP_RELAX_W, /* relax_perms adding W */
	OP_RELAX_X, /* relax_perms adding X (I-cache maintenance first) */
	OP_MKYOUNG,
	OP_CLEAR_YOUNG,
	OP_N,
};

static const char *const op_name[OP_N] = {
	"map-new", "map-empty", "map-upgrade", "map-move",
	"relax-w", "relax-x",	"mkyoung",     "clear-young",
};

struct run {
	struct s2_test_env env;
	struct s2_page_cache cache;
	uint64_t ipa, pa;
	uint64_t before; /* the entry before the operation */
};

static uint64_t leaf_of(struct run *r)
{
	struct s2_lookup lk;

	assert_int_equal(s2_pgtable_lookup(&r->env.pgt, s2_ipa(r->ipa), &lk), 0);
	return lk.pte;
}

/* Set up the state @op starts from. Return: false when @op does not apply to @cfg. */
static bool prepare(struct run *r, const struct s2_config *cfg, enum op op)
{
	uint64_t g = s2_test_granule(cfg);
	uint64_t base = S2_PROT_R | S2_PROT_YOUNG_CLEAR;
	bool dbm = cfg->hd;

	if (op == OP_CLEAR_YOUNG && !(cfg->ha || cfg->hd))
		return false; /* without HA/HD the engine clears AF with a plain store */
	s2_test_env_init(&r->env, cfg, UINT64_C(8) << 20, 0);
	r->cache = (struct s2_page_cache){ 0 };
	assert_int_equal(s2_page_cache_topup(&r->cache, &r->env.port, g, 8), 0);
	r->ipa = 16 * g;
	r->pa = S2_TEST_PA_BASE + 32 * g;
	if (dbm && op != OP_RELAX_W && op != OP_MAP_UPGRADE)
		base |= S2_PROT_DBM;
	switch (op) {
	case OP_MAP_NEW:
		break;
	case OP_MAP_EMPTY: /* a neighbour makes the last-level table exist */
		assert_int_equal(s2_pgtable_map(&r->env.pgt, s2_ipa(r->ipa + g), g,
						s2_pa(r->pa + g), S2_PROT_R, 0, &r->cache),
				 0);
		break;
	case OP_CLEAR_YOUNG:
		base &= ~S2_PROT_YOUNG_CLEAR;
		/* fall through */
	default:
		assert_int_equal(s2_pgtable_map(&r->env.pgt, s2_ipa(r->ipa), g, s2_pa(r->pa), base,
						S2_MAP_FORCE_PAGES, &r->cache),
				 0);
		break;
	}
	if (op != OP_MAP_NEW)
		assert_int_equal(s2_page_cache_topup(&r->cache, &r->env.port, g, 8), 0);
	r->before = leaf_of(r);
	return true;
}

static int do_op(struct run *r, const struct s2_config *cfg, enum op op)
{
	uint64_t g = s2_test_granule(cfg), young = 0;
	uint64_t rw = S2_PROT_R | S2_PROT_W;

	switch (op) {
	case OP_MAP_NEW:
	case OP_MAP_EMPTY:
	case OP_MAP_UPGRADE:
		return s2_pgtable_map(&r->env.pgt, s2_ipa(r->ipa), g, s2_pa(r->pa), rw,
				      S2_MAP_SHARED, &r->cache);
	case OP_MAP_MOVE:
		return s2_pgtable_map(&r->env.pgt, s2_ipa(r->ipa), g, s2_pa(r->pa + 64 * g), rw,
				      S2_MAP_SHARED, &r->cache);
	case OP_RELAX_W:
		return s2_pgtable_relax_perms(&r->env.pgt, s2_ipa(r->ipa), rw);
	case OP_RELAX_X:
		return s2_pgtable_relax_perms(&r->env.pgt, s2_ipa(r->ipa), S2_PROT_R | S2_PROT_X);
	case OP_MKYOUNG:
		return s2_pgtable_mkyoung(&r->env.pgt, s2_ipa(r->ipa));
	case OP_CLEAR_YOUNG: {
		int ret = s2_pgtable_test_clear_young(&r->env.pgt, s2_ipa(r->ipa), g, true, &young);
		return ret ? ret : (int)young; /* 1: it was young */
	}
	default:
		fail();
	}
	return -1;
}

/* Tables consistent, and the port holds exactly the table pages and the cache. */
static void check_consistent(struct run *r, const char *what)
{
	struct s2_check_report rep;
	struct s2_host_stats st = s2_host_port_stats(r->env.hp);

	if (s2_pgtable_check(&r->env.pgt, &rep)) {
		fprintf(stderr, "%s: s2_pgtable_check failed\n", what);
		fail();
	}
	if (st.pages_in_use !=
	    (rep.table_pages + r->cache.nr) * (s2_test_granule(&r->env.pgt.cfg) >> 12)) {
		fprintf(stderr, "%s: pages in use %llu, tables %llu, cache %zu\n", what,
			(unsigned long long)st.pages_in_use, (unsigned long long)rep.table_pages,
			(size_t)r->cache.nr);
		fail();
	}
}

static void finish(struct run *r)
{
	s2_page_cache_drain(&r->cache, &r->env.port, s2_test_granule(&r->env.pgt.cfg));
	s2_test_env_fini(&r->env);
}

/* ---- the sweep ----------------------------------------------------------------------------------- */

struct sweep_stats {
	unsigned long disturbed; /* runs whose CAS was disturbed */
	unsigned long retried; /* ... and that went on to another CAS */
	unsigned long eagain; /* ... and that refused with S2_EAGAIN */
	unsigned long per_op[OP_N];
};

static void sweep_one(const struct s2_test_cfg *tc, enum op op, enum disturb mode,
		      struct sweep_stats *ss)
{
	struct run r;
	unsigned long k;
	int ret0, ret;
	uint64_t after0;
	char what[160];

	if (!prepare(&r, &tc->cfg, op))
		return;
	arm(0, D_NONE);
	ret0 = do_op(&r, &tc->cfg, op);
	k = ctl.calls;
	disarm();
	after0 = leaf_of(&r);
	check_consistent(&r, "undisturbed");
	finish(&r);
	assert_true(ret0 >= 0);
	for (unsigned long i = 1; i <= k; i++) {
		snprintf(what, sizeof(what), "%s %s CAS %lu/%lu %s", tc->name, op_name[op], i, k,
			 mode == D_FAIL ? "fails" : "races hardware");
		prepare(&r, &tc->cfg, op);
		arm(i, mode);
		ret = do_op(&r, &tc->cfg, op);
		disarm();
		if (!ctl.hits) {
			finish(&r);
			continue; /* a race that would change nothing */
		}
		ss->disturbed++;
		ss->per_op[op]++;
		uint64_t after = leaf_of(&r), mask = ~ctl.raced;
		if (ret == S2_EAGAIN) {
			/* refused: nothing changed but what the other party did */
			ss->eagain++;
			if ((after & mask) != (r.before & mask)) {
				fprintf(stderr,
					"%s: S2_EAGAIN but the entry changed %#llx -> %#llx\n",
					what, (unsigned long long)r.before,
					(unsigned long long)after);
				fail();
			}
		} else {
			if (ret != ret0) {
				fprintf(stderr, "%s: returned %d, undisturbed %d\n", what, ret,
					ret0);
				fail();
			}
			/* the same result, with the hardware's update kept (clear_young clears
			 * AF: only the dirty state must survive) */
			uint64_t keep = op == OP_CLEAR_YOUNG ? ctl.raced & ~S2_PTE_AF : ctl.raced;
			if ((after & mask) != (after0 & mask) || (after & keep) != keep) {
				fprintf(stderr,
					"%s: entry %#llx, undisturbed %#llx, raced bits %#llx\n",
					what, (unsigned long long)after, (unsigned long long)after0,
					(unsigned long long)ctl.raced);
				fail();
			}
			/* a lost CAS is retried: another CAS follows the disturbed one, unless
			 * the race already did the job (mkyoung seeing AF set) */
			if (ctl.calls > i)
				ss->retried++;
		}
		check_consistent(&r, what);
		finish(&r);
	}
}

static void test_every_cas_disturbed(void **state)
{
	struct sweep_stats fail_st = { 0 }, race_st = { 0 };

	(void)state;
	for (const struct s2_test_cfg *tc = matrix; tc < matrix + nmatrix; tc++) {
		for (int op = 0; op < OP_N; op++) {
			sweep_one(tc, (enum op)op, D_FAIL, &fail_st);
			sweep_one(tc, (enum op)op, D_RACE, &race_st);
		}
	}
	print_message("cas_retry: %lu failed CASes (%lu retried, %lu S2_EAGAIN), %lu hardware "
		      "races (%lu retried, %lu S2_EAGAIN)\n",
		      fail_st.disturbed, fail_st.retried, fail_st.eagain, race_st.disturbed,
		      race_st.retried, race_st.eagain);
	/* every operation had its CASes disturbed, and retries really ran */
	for (int op = 0; op < OP_N; op++) {
		if (!fail_st.per_op[op])
			fprintf(stderr, "no CAS of %s was disturbed\n", op_name[op]);
		assert_true(fail_st.per_op[op] > 0);
	}
	assert_true(fail_st.retried > 0);
	assert_true(race_st.disturbed > 0);
	assert_true(race_st.retried > 0);
}

/* A lost table install (another vCPU installed the table first) frees the tables it built and
 * retries: directly, with the first CAS of a fault map on an empty IPA space failing. */
static void test_lost_table_install_frees(void **state)
{
	(void)state;
	for (const struct s2_test_cfg *tc = matrix; tc < matrix + nmatrix; tc++) {
		struct run r;
		struct s2_host_stats st0, st1;

		prepare(&r, &tc->cfg, OP_MAP_NEW);
		st0 = s2_host_port_stats(r.env.hp);
		arm(1, D_FAIL);
		assert_int_equal(do_op(&r, &tc->cfg, OP_MAP_NEW), 0);
		disarm();
		st1 = s2_host_port_stats(r.env.hp);
		assert_int_equal(ctl.hits, 1);
		assert_true(ctl.calls >= 2); /* the install was tried again */
		assert_true(leaf_of(&r) & S2_PTE_VALID);
		/* no allocation from the port: the cache's pages came back to the cache */
		assert_int_equal(st1.allocs, st0.allocs);
		check_consistent(&r, tc->name);
		finish(&r);
	}
}

/* The hook costs nothing when not installed, and is really gone after removal. */
static void test_hook_removed(void **state)
{
	uint64_t w = 5, e = 5;

	(void)state;
	arm(1, D_FAIL);
	assert_false(s2_atomic_cas64(&w, &e, 6));
	assert_int_equal(w, 5);
	assert_int_equal(e, 5);
	assert_true(s2_atomic_cas64(&w, &e, 6)); /* only the first one fails */
	disarm();
	e = 6;
	assert_true(s2_atomic_cas64(&w, &e, 7));
	assert_int_equal(w, 7);
	assert_int_equal(ctl.calls, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hook_removed),
		cmocka_unit_test(test_lost_table_install_frees),
		cmocka_unit_test(test_every_cas_disturbed),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
