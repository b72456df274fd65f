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
 *
 * The VM layer's abort path likewise: every CAS of a write fault on a dirty-logged page (leaf
 * relax, dirty bitmap, counters) lost once, and the bitmap word raced by another vCPU marking
 * another page: the same outcome, the same counters, both dirty bits kept.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s2_test_matrix.h"
#include "s2mmu/vm.h"

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

enum disturb { D_NONE, D_FAIL, D_RACE, D_WORD };

struct cas_ctl {
	unsigned long calls; /* CASes seen */
	unsigned long target; /* disturb this one (1-based) */
	enum disturb mode;
	unsigned long hits; /* disturbances done */
	uint64_t raced; /* bits a D_RACE set */
	uint64_t *word_lo, *word_hi; /* D_WORD: race only into words in [word_lo, word_hi) */
	uint64_t word_bits; /* D_WORD: bits another CPU sets there */
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
	if (x->mode == D_WORD) {
		/* another CPU sets bits of a word in the given range (a bitmap) */
		if (p < x->word_lo || p >= x->word_hi || (expected & x->word_bits) == x->word_bits)
			return false;
		x->hits++;
		x->raced = x->word_bits & ~expected;
		__atomic_store_n(p, expected | x->word_bits, __ATOMIC_RELAXED);
		return false;
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
	uint64_t base = S2_PROT_R, young_clear = S2_MAP_YOUNG_CLEAR;
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
		young_clear = 0;
		/* fall through */
	default:
		assert_int_equal(s2_pgtable_map(&r->env.pgt, s2_ipa(r->ipa), g, s2_pa(r->pa), base,
						S2_MAP_FORCE_PAGES | young_clear, &r->cache),
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

/* ---- the VM layer's abort path: counters and the dirty bitmap ------------------------------------ */

#define RAM_PA UINT64_C(0x1000000000)
#define SLOT_IPA (UINT64_C(1) << 30)

struct vmrun {
	struct s2_host_port *hp;
	struct s2_caps caps;
	struct s2_vmid_alloc vmids;
	struct s2_vm vm;
	struct s2_memslot slots[2];
	struct s2_vcpu vcpu;
	uint64_t g;
};

/* A data abort from the guest at @ipa (level 3, @fault), its syndrome built by s2_abort_encode(). */
static int vm_dabt(struct vmrun *v, enum s2_fault fault, bool write, uint64_t ipa,
		   struct s2_abort_result *r)
{
	struct s2_abort ab = { .ec = S2_EC_DABT_LOW,
			       .is_data = true,
			       .il = true,
			       .fault = fault,
			       .level = 3,
			       .wnr = write,
			       .ipa_valid = true,
			       .ipa = s2_ipa(ipa),
			       .far = 0x1000 | (ipa & 0xfff) };
	uint64_t esr, far, hpfar;

	assert_int_equal(s2_abort_encode(&ab, &esr, &far, &hpfar), 0);
	return s2_vm_handle_abort(&v->vcpu, esr, far, hpfar, r);
}

static void vm_prepare(struct vmrun *v, enum s2_granule gr)
{
	struct s2_host_port_opts o = { .pa_base = S2_TEST_PA_BASE, .arena_bytes = 16 << 20 };
	struct s2_memslot_desc d = { .id = 1,
				     .ipa = s2_ipa(SLOT_IPA),
				     .size = UINT64_C(4) << 20,
				     .backing = S2_BACKING_RAM,
				     .pa = s2_pa(RAM_PA),
				     .host_type = S2_HOSTMEM_NORMAL,
				     .flags = S2_SLOT_DIRTY_LOG };
	struct s2_abort_result r;

	memset(v, 0, sizeof(*v));
	assert_int_equal(s2_host_port_create(&o, &v->hp), 0);
	assert_int_equal(s2_caps_max(48, &v->caps), 0);
	assert_int_equal(s2_vmid_alloc_init(&v->vmids, 16), 0);
	struct s2_vm_params p = { .caps = &v->caps,
				  .req = { .ipa_bits = 40, .granule = gr },
				  .port = s2_host_port_port(v->hp),
				  .vmids = &v->vmids,
				  .slots = v->slots,
				  .max_slots = 2,
				  .hooks = { .load_stage2 = s2_host_port_load_stage2 } };
	assert_int_equal(s2_vm_init(&v->vm, &p), 0);
	assert_int_equal(s2_vcpu_init(&v->vcpu, &v->vm, 0), 0);
	v->g = s2_granule_size(gr);
	assert_int_equal(s2_vm_slot_add(&v->vm, &d), 0);
	/* a read maps the page read-only (logging) */
	assert_int_equal(vm_dabt(v, S2_FAULT_TRANSLATION, false, SLOT_IPA + 3 * v->g, &r), 0);
	assert_int_equal(r.resume, S2_RESUME_MAPPED);
}

static void vm_finish(struct vmrun *v)
{
	s2_vcpu_destroy(&v->vcpu);
	s2_vm_destroy(&v->vm);
	assert_int_equal(s2_host_port_stats(v->hp).pages_in_use, 0);
	s2_host_port_destroy(v->hp);
}

/* The write that follows: a permission fault relaxed in place, the page marked dirty. */
static void vm_write_fault(struct vmrun *v, struct s2_abort_result *r)
{
	assert_int_equal(vm_dabt(v, S2_FAULT_PERMISSION, true, SLOT_IPA + 3 * v->g, r), 0);
}

/* Every CAS of the write fault (leaf relax, dirty bitmap, counters) lost once; and the bitmap
 * word raced by another vCPU marking another page dirty: the same outcome, both bits kept. */
static void test_vm_abort_cas_disturbed(void **state)
{
	static const enum s2_granule grs[] = { S2_GRANULE_4K, S2_GRANULE_16K, S2_GRANULE_64K };
	unsigned long disturbed = 0, retried = 0, word_races = 0;

	(void)state;
	for (unsigned int gi = 0; gi < S2_ARRAY_SIZE(grs); gi++) {
		struct vmrun v;
		struct s2_abort_result r0, r;
		struct s2_vm_stats st0;
		uint64_t bm0[32] = { 0 }, bm[32], nr0 = 0, nr = 0, k;

		vm_prepare(&v, grs[gi]);
		arm(0, D_NONE);
		vm_write_fault(&v, &r0);
		k = ctl.calls;
		disarm();
		st0 = v.vm.stats;
		assert_int_equal(r0.resume, S2_RESUME_RELAXED);
		assert_int_equal(s2_vm_dirty_log_get(&v.vm, 1, bm0, 32, &nr0), 0);
		assert_int_equal(nr0, 1);
		vm_finish(&v);
		assert_true(k >= 3); /* relax, bitmap, counters */
		for (unsigned long i = 1; i <= k; i++) {
			for (unsigned int mi = 0; mi < 2; mi++) {
				enum disturb mode = mi ? D_WORD : D_FAIL;

				vm_prepare(&v, grs[gi]);
				arm(i, mode);
				if (mode == D_WORD) {
					ctl.word_lo = v.slots[0].dirty;
					ctl.word_hi = v.slots[0].dirty + 1;
					ctl.word_bits = UINT64_C(1) << 63; /* page 63 of the slot */
				}
				vm_write_fault(&v, &r);
				disarm();
				if (!ctl.hits) {
					vm_finish(&v);
					continue;
				}
				disturbed++;
				retried += ctl.calls > i;
				word_races += mode == D_WORD;
				assert_int_equal(r.action, r0.action);
				assert_int_equal(r.resume, r0.resume);
				assert_int_equal(v.vm.stats.relaxed, st0.relaxed);
				assert_int_equal(v.vm.stats.faults[1], st0.faults[1]);
				memset(bm, 0, sizeof(bm));
				assert_int_equal(s2_vm_dirty_log_get(&v.vm, 1, bm, 32, &nr), 0);
				assert_int_equal(bm[0],
						 bm0[0] | (mode == D_WORD ? ctl.word_bits : 0));
				assert_int_equal(nr, nr0 + (mode == D_WORD));
				vm_finish(&v);
			}
		}
	}
	print_message("cas_retry: VM abort path: %lu disturbed CASes (%lu retried, %lu bitmap "
		      "races)\n",
		      disturbed, retried, word_races);
	assert_true(retried > 0);
	assert_true(word_races > 0);
}

/*
 * A translation fault whose fault map loses its leaf CAS to another vCPU (seed-8 mutation
 * survivors in map_failed()), one of three ways:
 *  - the CAS fails with the entry unchanged (empty): the map redoes it: mapped;
 *  - the other vCPU mapped the page with other permissions (writable, as a write fault would
 *    under dirty logging): S2_EEXIST, the access judged against that leaf: retry;
 *  - the other vCPU holds the entry for a break-before-make (the engine's locked marker,
 *    pgtable_internal.h's PTE_LOCKED): S2_EAGAIN, retry; the other vCPU then completes it.
 * Never an injection; a retry is counted in stats.retries and maps nothing; the tables stay
 * consistent.
 */
#define RACE_PTE_LOCKED S2_BIT(10) /* pgtable_internal.h: PTE_LOCKED */

enum race_kind { RACE_FAIL, RACE_LEAF, RACE_LOCKED, RACE_N };

struct race_map {
	unsigned long calls, target, hits;
	enum race_kind kind;
	s2_pte_t racer; /* the leaf the other vCPU installs */
	uint64_t *word; /* the entry it raced on */
	uint32_t *rc; /* the refcount of that entry's table page */
	const struct s2_pgtable *pgt;
};

static bool race_map_hook(void *c, uint64_t *p, uint64_t expected, uint64_t new)
{
	struct race_map *x = c;
	uintptr_t page;

	if (++x->calls != x->target || expected != 0 || !(new &S2_PTE_VALID))
		return false;
	x->hits++;
	if (x->kind == RACE_FAIL)
		return true;
	page = (uintptr_t)p & ~(uintptr_t)(s2_granule_size(x->pgt->cfg.granule) - 1);
	x->word = p;
	x->rc = x->pgt->port.ops->page_refcount(x->pgt->port.ctx, (void *)page);
	if (x->kind == RACE_LOCKED) {
		__atomic_store_n(p, RACE_PTE_LOCKED, __ATOMIC_RELAXED);
		return false;
	}
	/* the other vCPU's CAS and its refcount update (the engine's rc_add) */
	__atomic_store_n(p, x->racer, __ATOMIC_RELAXED);
	(*x->rc)++;
	return false;
}

static void test_vm_fault_map_cas_lost(void **state)
{
	static const enum s2_granule grs[] = { S2_GRANULE_4K, S2_GRANULE_16K, S2_GRANULE_64K };
	unsigned long seen[RACE_N] = { 0 };

	(void)state;
	for (unsigned int gi = 0; gi < S2_ARRAY_SIZE(grs); gi++) {
		struct vmrun v;
		struct s2_abort_result r;
		struct s2_vm_stats st0;
		struct s2_lookup lk;
		struct race_map x = { 0 };
		s2_pte_t leaf;
		uint64_t ipa, k;

		/* undisturbed: count the CASes, note the read-only leaf (logging) */
		vm_prepare(&v, grs[gi]);
		ipa = SLOT_IPA + 5 * v.g;
		s2_env_set_cas_hook(race_map_hook, &x);
		assert_int_equal(vm_dabt(&v, S2_FAULT_TRANSLATION, false, ipa, &r), 0);
		s2_env_set_cas_hook(NULL, NULL);
		k = x.calls;
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_int_equal(s2_pgtable_lookup(&v.vm.pgt, s2_ipa(ipa), &lk), 0);
		leaf = lk.pte;
		assert_false(leaf & S2_PTE_S2AP_W);
		vm_finish(&v);
		for (unsigned long i = 1; i <= k; i++) {
			for (int kind = 0; kind < RACE_N; kind++) {
				vm_prepare(&v, grs[gi]);
				st0 = v.vm.stats;
				x = (struct race_map){ .target = i,
						       .kind = (enum race_kind)kind,
						       .racer = leaf | S2_PTE_S2AP_W,
						       .pgt = &v.vm.pgt };
				s2_env_set_cas_hook(race_map_hook, &x);
				assert_int_equal(vm_dabt(&v, S2_FAULT_TRANSLATION, false, ipa, &r),
						 0);
				s2_env_set_cas_hook(NULL, NULL);
				assert_int_equal(r.action, S2_ABORT_RESUME);
				if (!x.hits || kind == RACE_FAIL) {
					assert_int_equal(r.resume, S2_RESUME_MAPPED);
				} else {
					assert_int_equal(r.resume, S2_RESUME_RETRY);
					assert_int_equal(v.vm.stats.retries, st0.retries + 1);
					assert_int_equal(v.vm.stats.mapped, st0.mapped);
				}
				if (x.hits && kind == RACE_LOCKED) {
					/* still held: the other vCPU's make completes it */
					assert_int_equal(*x.word, RACE_PTE_LOCKED);
					__atomic_store_n(x.word, x.racer, __ATOMIC_RELAXED);
					(*x.rc)++;
				}
				seen[kind] += x.hits;
				assert_int_equal(s2_pgtable_lookup(&v.vm.pgt, s2_ipa(ipa), &lk), 0);
				assert_true(lk.valid);
				assert_int_equal(lk.pte,
						 x.hits && kind != RACE_FAIL ? x.racer : leaf);
				assert_int_equal(s2_pgtable_check(&v.vm.pgt, NULL), 0);
				vm_finish(&v);
			}
		}
	}
	print_message("cas_retry: VM fault map: leaf CAS lost %lu times (redone), to another "
		      "leaf %lu times, to a locked entry %lu times (retried)\n",
		      seen[RACE_FAIL], seen[RACE_LEAF], seen[RACE_LOCKED]);
	for (int kind = 0; kind < RACE_N; kind++)
		assert_true(seen[kind] > 0);
}

/*
 * The abort path's in-place updates losing their CAS to another vCPU's break-before-make of
 * the same leaf (the engine's locked marker in the entry): an instruction fetch's exec relax
 * and an access flag fault's mkyoung back off with S2_EAGAIN, and the fault is retried:
 * resume RETRY, counted in stats.retries, nothing relaxed, nothing injected (seed-8 mutation
 * survivors in handle_perm() and handle_in_vm()).
 */
struct race_bbm {
	unsigned long calls, target, hits;
	uint64_t *word;
	s2_pte_t was;
};

static bool race_bbm_hook(void *c, uint64_t *p, uint64_t expected, uint64_t new)
{
	struct race_bbm *x = c;

	(void)new;
	if (++x->calls != x->target || !(expected & S2_PTE_VALID))
		return false;
	x->hits++;
	x->word = p;
	x->was = expected;
	__atomic_store_n(p, RACE_PTE_LOCKED, __ATOMIC_RELAXED);
	return false;
}

static int vm_iabt_perm(struct vmrun *v, uint64_t ipa, struct s2_abort_result *r)
{
	struct s2_abort ab = { .ec = S2_EC_IABT_LOW,
			       .is_insn = true,
			       .il = true,
			       .fault = S2_FAULT_PERMISSION,
			       .level = 3,
			       .ipa_valid = true,
			       .ipa = s2_ipa(ipa),
			       .far = 0x1000 | (ipa & 0xfff) };
	uint64_t esr, far, hpfar;

	assert_int_equal(s2_abort_encode(&ab, &esr, &far, &hpfar), 0);
	return s2_vm_handle_abort(&v->vcpu, esr, far, hpfar, r);
}

static void test_vm_update_cas_lost_to_bbm(void **state)
{
	static const enum s2_granule grs[] = { S2_GRANULE_4K, S2_GRANULE_16K, S2_GRANULE_64K };
	unsigned long hits[2] = { 0 };

	(void)state;
	for (unsigned int gi = 0; gi < S2_ARRAY_SIZE(grs); gi++) {
		for (int af = 0; af < 2; af++) {
			struct vmrun v;
			struct s2_abort_result r;
			struct race_bbm x = { 0 };
			uint64_t ipa, k, young;

			for (unsigned long i = 0;; i++) {
				struct s2_vm_stats st0;

				vm_prepare(&v, grs[gi]);
				ipa = SLOT_IPA + 3 * v.g;
				if (af) /* aged: AF clear, the next access faults */
					assert_int_equal(s2_vm_age_host_range(&v.vm, s2_pa(RAM_PA),
									      4 << 20, true,
									      &young),
							 0);
				st0 = v.vm.stats;
				x = (struct race_bbm){ .target = i };
				s2_env_set_cas_hook(race_bbm_hook, &x);
				if (af)
					assert_int_equal(
						vm_dabt(&v, S2_FAULT_ACCESS_FLAG, false, ipa, &r),
						0);
				else
					assert_int_equal(vm_iabt_perm(&v, ipa, &r), 0);
				s2_env_set_cas_hook(NULL, NULL);
				assert_int_equal(r.action, S2_ABORT_RESUME);
				/* counted once by its kind: access flag [2], permission [1] */
				assert_int_equal(v.vm.stats.faults[af ? 2 : 1],
						 st0.faults[af ? 2 : 1] + 1);
				if (!i) {
					/* undisturbed: exec granted in place, or AF set */
					k = x.calls;
					assert_int_equal(r.resume,
							 af ? S2_RESUME_YOUNG : S2_RESUME_RELAXED);
				} else if (x.hits) {
					hits[af]++;
					assert_int_equal(r.resume, S2_RESUME_RETRY);
					assert_int_equal(v.vm.stats.retries, st0.retries + 1);
					assert_int_equal(v.vm.stats.relaxed, st0.relaxed);
					assert_int_equal(v.vm.stats.young, st0.young);
					/* the other vCPU's make (the same leaf again) */
					assert_int_equal(*x.word, RACE_PTE_LOCKED);
					__atomic_store_n(x.word, x.was, __ATOMIC_RELAXED);
				}
				assert_int_equal(s2_pgtable_check(&v.vm.pgt, NULL), 0);
				vm_finish(&v);
				if (i == k)
					break;
			}
		}
	}
	print_message("cas_retry: VM exec relax lost to a break-before-make %lu times, mkyoung "
		      "%lu times (retried)\n",
		      hits[0], hits[1]);
	assert_true(hits[0] > 0);
	assert_true(hits[1] > 0);
}

/*
 * relax_perms losing its CAS to another vCPU that replaced the leaf by one of another output
 * address (a break-before-make completed in between) backs off with S2_EAGAIN: the new leaf
 * keeps exactly its permissions (nothing granted on a leaf the relax never examined: for exec,
 * its I-cache was never invalidated) (seed-8 mutation survivor in relax_leaf_update()).
 */
struct race_relax {
	unsigned long calls, hits;
	s2_pte_t racer;
};

static bool race_relax_hook(void *c, uint64_t *p, uint64_t expected, uint64_t new)
{
	struct race_relax *x = c;

	(void)new;
	if (++x->calls != 1 || !(expected & S2_PTE_VALID))
		return false;
	x->hits++;
	__atomic_store_n(p, x->racer, __ATOMIC_RELAXED);
	return false;
}

static void test_relax_lost_to_other_leaf(void **state)
{
	(void)state;
	for (const struct s2_test_cfg *tc = matrix; tc < matrix + nmatrix; tc++) {
		uint64_t g = s2_test_granule(&tc->cfg);
		struct s2_test_env e;
		struct s2_lookup lk;
		struct race_relax x = { 0 };
		s2_pte_t moved;

		s2_test_env_init(&e, &tc->cfg, 0, 16);
		assert_int_equal(
			s2_pgtable_map(&e.pgt, s2_ipa(g), g, s2_pa(4 * g), S2_PROT_R, 0, NULL), 0);
		/* the other vCPU's new leaf: the same attributes at output 8 * g */
		assert_int_equal(s2_pgtable_lookup(&e.pgt, s2_ipa(g), &lk), 0);
		assert_true(lk.valid);
		assert_int_equal(s2_pa_val(lk.pa), 4 * g);
		moved = lk.pte ^ s2_pte_oa_bits(&e.pgt.fmt, 3, s2_pa(4 * g)) ^
			s2_pte_oa_bits(&e.pgt.fmt, 3, s2_pa(8 * g));
		x.racer = moved;
		s2_env_set_cas_hook(race_relax_hook, &x);
		assert_int_equal(s2_pgtable_relax_perms(&e.pgt, s2_ipa(g),
							S2_PROT_R | S2_PROT_W | S2_PROT_X),
				 S2_EAGAIN);
		s2_env_set_cas_hook(NULL, NULL);
		assert_int_equal(x.hits, 1);
		assert_int_equal(s2_pgtable_lookup(&e.pgt, s2_ipa(g), &lk), 0);
		assert_int_equal(lk.pte, moved);
		assert_int_equal(s2_pa_val(lk.pa), 8 * g);
		assert_int_equal(s2_lookup_prot(lk) & (S2_PROT_W | S2_PROT_X), 0);
		s2_test_env_fini(&e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hook_removed),
		cmocka_unit_test(test_lost_table_install_frees),
		cmocka_unit_test(test_every_cas_disturbed),
		cmocka_unit_test(test_vm_abort_cas_disturbed),
		cmocka_unit_test(test_vm_fault_map_cas_lost),
		cmocka_unit_test(test_vm_update_cas_lost_to_bbm),
		cmocka_unit_test(test_relax_lost_to_other_leaf),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
