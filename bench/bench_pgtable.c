// SPDX-License-Identifier: MIT
/*
 * bench_pgtable.c - benchmarks of the stage-2 page-table engine through its public API.
 *
 * Every measured operation runs on a real struct s2_pgtable with the hosted port (refcounted
 * table pages, TLBI/CMO callbacks that only count: log_capacity 0), config 4K granule, 40-bit
 * IPA, FWB on. Each measured loop is its own non-inlined function named bench_op_<name>, so
 * that callgrind can count exactly it (run.sh uses --toggle-collect='bench_op_*'); setup and
 * verification are outside. After every run the result is checked with the reference walker
 * (s2_walk) on sampled IPAs (every page with --verify-all) and with s2_pgtable_check(); any
 * mismatch makes the program exit with status 1.
 *
 * Output: a human summary on stdout and, with --out FILE, one JSON record per line:
 *   {"op": ..., "unit": ..., "units": N, "size_mib": M, "ns_per_unit": x, "ns_runs": [...],
 *    "verified": true}
 * Memory records carry "pages"/"bytes" and "min_*" instead of times. Under callgrind
 * (--callgrind) each measured function is framed by CALLGRIND_ZERO_STATS and
 * CALLGRIND_DUMP_STATS_AT("<op>"), so every dump holds exactly one operation.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s2mmu/pgtable.h"
#include "s2mmu/walk.h"
#include "host_port.h"

#include "bench_common.h"
#include "bench_walk.h"

/* Guest-physical layout: IPA region at 64 GiB (aligned for every size measured), output
 * addresses at 512 GiB, the host port's table arena at 4 GiB (all below the 48-bit PA size). */
#define BENCH_IPA_BASE (UINT64_C(64) << 30)
#define BENCH_PA_BASE (UINT64_C(512) << 30)
#define BENCH_ARENA_PA (UINT64_C(4) << 30)

#define MAX_SCALE 8

/* The options of this benchmark besides the common ones (bench_common.h). */
static struct {
	uint64_t scale_bytes[MAX_SCALE];
	unsigned int nr_scale;
	bool matrix;
} popts = {
	.scale_bytes = { GIB, 4 * GIB, 16 * GIB, 64 * GIB },
	.nr_scale = 4,
	.matrix = true,
};

/* One benchmark instance: a port, a config and the table being measured. */
struct bench {
	struct s2_host_port *hp;
	struct s2_port port;
	struct s2_config cfg;
	struct s2_pgtable pgt;
	bool live;
	uint64_t ipa; /* region measured */
	uint64_t size;
	uint64_t pa; /* output address of ipa */
	uint64_t *ipas; /* lookup: random IPAs */
	uint64_t nr_ipas;
	uint64_t lookup_pa_sum; /* lookup: sum of out.pa, checked afterwards */
	uint64_t lookup_valid;
	uint64_t young; /* age: what test_clear_young reported */
	uint64_t pages_after_init;
};

/* ---- setup ------------------------------------------------------------------------------- */

static int bench_config(struct s2_config *cfg, enum s2_granule g, unsigned int ipa_bits)
{
	struct s2_caps caps;
	struct s2_config_req req = {
		.ipa_bits = ipa_bits,
		.granule = g,
		.flags = S2_CFG_FWB,
	};
	int ret;

	ret = s2_caps_max(ipa_bits > 48 ? 52 : 48, &caps);
	if (ret)
		return ret;
	return s2_config_init(cfg, &caps, &req);
}

static uint64_t arena_bytes_for(uint64_t mapped_bytes)
{
	/* 4K pages: one L3 table per 2 MiB, one L2 per 1 GiB, plus root and slack. */
	uint64_t pages = mapped_bytes / BLOCK_2M + mapped_bytes / GIB + 64;

	return S2_ALIGN_UP(pages * PAGE_4K + 4 * MIB, 64 * 1024);
}

static int port_create(struct bench *b, uint64_t arena)
{
	struct s2_host_port_opts po = {
		.pa_base = BENCH_ARENA_PA,
		.arena_bytes = arena,
		.log_capacity = 0,
	};
	int ret = s2_host_port_create(&po, &b->hp);

	if (ret) {
		FAIL("s2_host_port_create(%" PRIu64 " bytes): %d", arena, ret);
		return ret;
	}
	b->port = s2_host_port_port(b->hp);
	return 0;
}

static int pgt_create(struct bench *b)
{
	int ret = s2_pgtable_init(&b->pgt, &b->cfg, &b->port, b);

	if (ret) {
		FAIL("s2_pgtable_init: %d", ret);
		return ret;
	}
	b->live = true;
	b->pages_after_init = s2_host_port_stats(b->hp).pages_in_use;
	return 0;
}

static void pgt_destroy(struct bench *b)
{
	if (b->live)
		s2_pgtable_destroy(&b->pgt);
	b->live = false;
}

static int map_region(struct bench *b, uint64_t prot, uint64_t flags)
{
	int ret = s2_pgtable_map(&b->pgt, s2_ipa(b->ipa), b->size, s2_pa(b->pa), prot, flags, NULL);

	if (ret)
		FAIL("setup map [%#" PRIx64 ", +%#" PRIx64 "): %d", b->ipa, b->size, ret);
	return ret;
}

static uint64_t nr_pages(const struct bench *b)
{
	return b->size / PAGE_4K;
}

/* ---- the measured operations ------------------------------------------------------------ */
/* (Declared in bench_common.h: external, non-inlined, for callgrind's --toggle-collect.) */

/* Loop bounds in locals: the calls could change *b, so fields would be reloaded each time. */
__attribute__((noinline)) int bench_op_map_fault_4k(struct bench *b)
{
	struct s2_pgtable *pgt = &b->pgt;
	uint64_t ipa = b->ipa, pa = b->pa, end = b->ipa + b->size;
	int ret;

	for (; ipa < end; ipa += PAGE_4K, pa += PAGE_4K) {
		if (!(ipa & (BLOCK_2M - 1)))
			continue; /* the neighbour mapped at setup */
		ret = s2_pgtable_map(pgt, s2_ipa(ipa), PAGE_4K, s2_pa(pa), S2_PROT_R | S2_PROT_W, 0,
				     NULL);
		if (ret)
			return ret;
	}
	return 0;
}

__attribute__((noinline)) int bench_op_map_range_4k(struct bench *b)
{
	return s2_pgtable_map(&b->pgt, s2_ipa(b->ipa), b->size, s2_pa(b->pa), S2_PROT_R | S2_PROT_W,
			      S2_MAP_FORCE_PAGES, NULL);
}

__attribute__((noinline)) int bench_op_map_range_2m(struct bench *b)
{
	return s2_pgtable_map(&b->pgt, s2_ipa(b->ipa), b->size, s2_pa(b->pa), S2_PROT_R | S2_PROT_W,
			      0, NULL);
}

__attribute__((noinline)) int bench_op_wrprotect_4k(struct bench *b)
{
	return s2_pgtable_wrprotect(&b->pgt, s2_ipa(b->ipa), b->size);
}

__attribute__((noinline)) int bench_op_unmap_4k(struct bench *b)
{
	return s2_pgtable_unmap(&b->pgt, s2_ipa(b->ipa), b->size, NULL);
}

__attribute__((noinline)) int bench_op_unmap_scatter_4k(struct bench *b)
{
	struct s2_pgtable *pgt = &b->pgt;
	uint64_t ipa = b->ipa, end = b->ipa + b->size;
	int ret;

	for (; ipa < end; ipa += BENCH_SCATTER_STRIDE * PAGE_4K) {
		ret = s2_pgtable_unmap(pgt, s2_ipa(ipa), PAGE_4K, NULL);
		if (ret)
			return ret;
	}
	return 0;
}

__attribute__((noinline)) int bench_op_unmap_partial_4k(struct bench *b)
{
	struct s2_pgtable *pgt = &b->pgt;
	uint64_t ipa = b->ipa, end = b->ipa + b->size;
	int ret;

	for (; ipa < end; ipa += BLOCK_2M) {
		ret = s2_pgtable_unmap(pgt, s2_ipa(ipa), BENCH_PARTIAL_BYTES, NULL);
		if (ret)
			return ret;
	}
	return 0;
}

__attribute__((noinline)) int bench_op_lookup(struct bench *b)
{
	const struct s2_pgtable *pgt = &b->pgt;
	const uint64_t *ipas = b->ipas, *stop = b->ipas + b->nr_ipas;
	struct s2_lookup out;
	uint64_t sum = 0, valid = 0;
	int ret;

	for (; ipas < stop; ipas++) {
		ret = s2_pgtable_lookup(pgt, s2_ipa(*ipas), &out);
		if (ret)
			return ret;
		sum += s2_pa_val(out.pa);
		valid += out.valid;
	}
	b->lookup_pa_sum = sum;
	b->lookup_valid = valid;
	return 0;
}

__attribute__((noinline)) int bench_op_relax_4k(struct bench *b)
{
	struct s2_pgtable *pgt = &b->pgt;
	uint64_t ipa = b->ipa, end = b->ipa + b->size;
	int ret;

	for (; ipa < end; ipa += PAGE_4K) {
		ret = s2_pgtable_relax_perms(pgt, s2_ipa(ipa), S2_PROT_W);
		if (ret)
			return ret;
	}
	return 0;
}

__attribute__((noinline)) int bench_op_mkyoung_4k(struct bench *b)
{
	struct s2_pgtable *pgt = &b->pgt;
	uint64_t ipa = b->ipa, end = b->ipa + b->size;
	int ret;

	for (; ipa < end; ipa += PAGE_4K) {
		ret = s2_pgtable_mkyoung(pgt, s2_ipa(ipa));
		if (ret)
			return ret;
	}
	return 0;
}

__attribute__((noinline)) int bench_op_age_4k(struct bench *b)
{
	return s2_pgtable_test_clear_young(&b->pgt, s2_ipa(b->ipa), b->size, true, &b->young);
}

/* ---- verification --------------------------------------------------------------------------- */

static int verify_ipa(struct bench *b, const char *op, uint64_t off, const struct bench_expect *e)
{
	struct s2_walk_mem mem = s2_host_port_walk_mem(b->hp);

	return bench_walk_check(&b->cfg, b->pgt.root_pa, &mem, op, b->ipa + off, b->pa + off, e);
}

struct verify_ctx {
	struct bench *b;
	const char *op;
	const struct bench_expect *e;
	bool (*hole)(uint64_t off); /* pages expected unmapped, NULL: none */
};

static int verify_ipa_at(void *ctx, uint64_t off)
{
	struct verify_ctx *v = ctx;

	return verify_ipa(v->b, v->op, off, v->hole && v->hole(off) ? &bench_exp_unmapped : v->e);
}

/* Walk sampled (or all) pages of the region (those where @hole is true must be unmapped, the
 * others as @e says), then validate the whole tree. */
static int verify_region_holes(struct bench *b, const char *op, const struct bench_expect *e,
			       bool (*hole)(uint64_t off), uint64_t leaves)
{
	struct verify_ctx ctx = { b, op, e, hole };
	struct s2_check_report rep;
	int ret;

	if (bench_verify_pages(b->size, verify_ipa_at, &ctx))
		return -1;
	memset(&rep, 0, sizeof(rep));
	ret = s2_pgtable_check(&b->pgt, &rep);
	if (ret || rep.errors) {
		FAIL("%s: s2_pgtable_check: %d, %" PRIu64 " errors: %s", op, ret, rep.errors,
		     rep.first_error);
		return -1;
	}
	if (rep.leaves != leaves) {
		FAIL("%s: %" PRIu64 " valid leaves, expected %" PRIu64, op, rep.leaves, leaves);
		return -1;
	}
	return 0;
}

static int verify_region(struct bench *b, const char *op, const struct bench_expect *e,
			 uint64_t leaves)
{
	return verify_region_holes(b, op, e, NULL, leaves);
}

static bool tlbi_done(const struct s2_host_stats *before, const struct s2_host_stats *after)
{
	return after->tlbi_ipa + after->tlbi_range + after->tlbi_vmid >
	       before->tlbi_ipa + before->tlbi_range + before->tlbi_vmid;
}

/* ---- operation table ----------------------------------------------------------------------- */

struct op_desc {
	const char *name;
	const char *unit;
	int (*setup)(struct bench *b);
	int (*run)(struct bench *b);
	int (*verify)(struct bench *b, const struct s2_host_stats *before);
	uint64_t (*units)(const struct bench *b);
};

BENCH_ENGINE_UNITS()

static int setup_empty(struct bench *b)
{
	return 0;
}

static int setup_mapped_rw(struct bench *b)
{
	return map_region(b, S2_PROT_R | S2_PROT_W, S2_MAP_FORCE_PAGES) ||
	       verify_ipa(b, "setup", b->size / 2, &bench_exp_rw_page);
}

/* The starting state is checked too, so that an operation that does nothing cannot pass. */
static int setup_mapped_ro(struct bench *b)
{
	return map_region(b, S2_PROT_R, S2_MAP_FORCE_PAGES) ||
	       verify_ipa(b, "relax_4k setup", b->size / 2, &bench_exp_ro_page);
}

static int setup_mapped_old(struct bench *b)
{
	return map_region(b, S2_PROT_R | S2_PROT_W, S2_MAP_FORCE_PAGES | S2_MAP_YOUNG_CLEAR) ||
	       verify_ipa(b, "mkyoung_4k setup", b->size / 2, &bench_exp_old_page);
}

static int setup_map_fault(struct bench *b)
{
	uint64_t off;
	int ret;

	/* One neighbour page per L3 table, so every table exists and stays (unmapping would
	 * free an empty table). The measured loop maps the other 511 pages of each. */
	for (off = 0; off < b->size; off += BLOCK_2M) {
		ret = s2_pgtable_map(&b->pgt, s2_ipa(b->ipa + off), PAGE_4K, s2_pa(b->pa + off),
				     S2_PROT_R | S2_PROT_W, 0, NULL);
		if (ret) {
			FAIL("map_fault setup at %#" PRIx64 ": %d", b->ipa + off, ret);
			return ret;
		}
	}
	return 0;
}

static int setup_map_2m(struct bench *b)
{
	/* Output 2 MiB-aligned but not 1 GiB-aligned: the engine must use 2M blocks. */
	b->pa = BENCH_PA_BASE + BLOCK_2M;
	return 0;
}

static int setup_lookup(struct bench *b)
{
	b->nr_ipas = nr_pages(b);
	b->ipas = bench_lookup_ipas(b->ipa, b->nr_ipas);
	return b->ipas ? setup_mapped_rw(b) : -1;
}

static int verify_rw_pages(struct bench *b, const struct s2_host_stats *before)
{
	return verify_region(b, "map", &bench_exp_rw_page, nr_pages(b));
}

static int verify_map_2m(struct bench *b, const struct s2_host_stats *before)
{
	return verify_region(b, "map_range_2m", &bench_exp_rw_block, units_blocks(b));
}

static int verify_wrprotect(struct bench *b, const struct s2_host_stats *before)
{
	struct s2_host_stats after = s2_host_port_stats(b->hp);

	if (!tlbi_done(before, &after)) {
		FAIL("wrprotect_4k: no TLB invalidation issued");
		return -1;
	}
	return verify_region(b, "wrprotect_4k", &bench_exp_ro_page, nr_pages(b));
}

static int verify_unmap(struct bench *b, const struct s2_host_stats *before)
{
	struct s2_host_stats after = s2_host_port_stats(b->hp);

	if (!tlbi_done(before, &after)) {
		FAIL("unmap_4k: no TLB invalidation issued");
		return -1;
	}
	if (after.pages_in_use != b->pages_after_init) {
		FAIL("unmap_4k: %" PRIu64 " table pages (4K units) in use after unmapping all, "
		     "%" PRIu64 " after init: empty tables not freed",
		     after.pages_in_use, b->pages_after_init);
		return -1;
	}
	return verify_region(b, "unmap_4k", &bench_exp_unmapped, 0);
}

/* Unmapping part of every table: a TLBI, every table kept, the holes unmapped, the rest not. */
static int verify_unmap_holes(struct bench *b, const struct s2_host_stats *before, const char *op,
			      bool (*hole)(uint64_t off), uint64_t holes)
{
	struct s2_host_stats after = s2_host_port_stats(b->hp);

	if (!tlbi_done(before, &after)) {
		FAIL("%s: no TLB invalidation issued", op);
		return -1;
	}
	if (after.pages_in_use != before->pages_in_use) {
		FAIL("%s: %" PRIu64 " table pages (4K units) in use, %" PRIu64 " before: "
		     "tables still in use were freed or new ones allocated",
		     op, after.pages_in_use, before->pages_in_use);
		return -1;
	}
	return verify_region_holes(b, op, &bench_exp_rw_page, hole, nr_pages(b) - holes);
}

static int verify_unmap_scatter(struct bench *b, const struct s2_host_stats *before)
{
	return verify_unmap_holes(b, before, "unmap_scatter_4k", bench_scatter_hole,
				  units_scatter(b));
}

static int verify_unmap_partial(struct bench *b, const struct s2_host_stats *before)
{
	return verify_unmap_holes(b, before, "unmap_partial_4k", bench_partial_hole,
				  units_partial(b));
}

static int verify_lookup(struct bench *b, const struct s2_host_stats *before)
{
	uint64_t i, sum = 0;

	for (i = 0; i < b->nr_ipas; i++)
		sum += b->pa + (b->ipas[i] - b->ipa);
	if (b->lookup_valid != b->nr_ipas || b->lookup_pa_sum != sum) {
		FAIL("lookup: %" PRIu64 "/%" PRIu64 " valid, pa sum %#" PRIx64
		     " expected %#" PRIx64,
		     b->lookup_valid, b->nr_ipas, b->lookup_pa_sum, sum);
		return -1;
	}
	return verify_region(b, "lookup", &bench_exp_rw_page, nr_pages(b));
}

static int verify_age(struct bench *b, const struct s2_host_stats *before)
{
	if (b->young != nr_pages(b)) {
		FAIL("age_4k: %" PRIu64 " young pages reported, expected %" PRIu64, b->young,
		     nr_pages(b));
		return -1;
	}
	return verify_region(b, "age_4k", &bench_exp_old_page, nr_pages(b));
}

static const struct op_desc ops[] = {
	{ "map_fault_4k", "op", setup_map_fault, bench_op_map_fault_4k, verify_rw_pages,
	  units_fault },
	{ "map_range_4k", "page", setup_empty, bench_op_map_range_4k, verify_rw_pages,
	  units_pages },
	{ "map_range_2m", "block", setup_map_2m, bench_op_map_range_2m, verify_map_2m,
	  units_blocks },
	{ "wrprotect_4k", "page", setup_mapped_rw, bench_op_wrprotect_4k, verify_wrprotect,
	  units_pages },
	{ "unmap_4k", "page", setup_mapped_rw, bench_op_unmap_4k, verify_unmap, units_pages },
	{ "unmap_scatter_4k", "op", setup_mapped_rw, bench_op_unmap_scatter_4k,
	  verify_unmap_scatter, units_scatter },
	{ "unmap_partial_4k", "page", setup_mapped_rw, bench_op_unmap_partial_4k,
	  verify_unmap_partial, units_partial },
	{ "lookup", "op", setup_lookup, bench_op_lookup, verify_lookup, units_lookup },
	{ "relax_4k", "op", setup_mapped_ro, bench_op_relax_4k, verify_rw_pages, units_pages },
	{ "mkyoung_4k", "op", setup_mapped_old, bench_op_mkyoung_4k, verify_rw_pages, units_pages },
	{ "age_4k", "page", setup_mapped_rw, bench_op_age_4k, verify_age, units_pages },
};

/* ---- running and reporting ---------------------------------------------------------------- */

static int bench_init(struct bench *b, uint64_t size, uint64_t arena)
{
	memset(b, 0, sizeof(*b));
	b->ipa = BENCH_IPA_BASE;
	b->size = size;
	b->pa = BENCH_PA_BASE;
	if (bench_config(&b->cfg, S2_GRANULE_4K, 40)) {
		FAIL("s2_config_init(4K, 40-bit, FWB)");
		return -1;
	}
	return port_create(b, arena);
}

static void bench_fini(struct bench *b)
{
	pgt_destroy(b);
	free(b->ipas);
	b->ipas = NULL;
	if (b->hp)
		s2_host_port_destroy(b->hp);
	b->hp = NULL;
}

static void run_op(const struct op_desc *op)
{
	uint64_t ns[64], wall[64];
	struct bench b;
	bool ok = true;
	unsigned int r;
	uint64_t units = 0;

	if (bench_init(&b, bench_opts.size, arena_bytes_for(bench_opts.size))) {
		bench_fini(&b);
		return;
	}
	for (r = 0; r < bench_opts.reps; r++) {
		struct s2_host_stats before;

		free(b.ipas);
		b.ipas = NULL;
		b.pa = BENCH_PA_BASE;
		if (pgt_create(&b) || op->setup(&b)) {
			ok = false;
			break;
		}
		units = op->units(&b);
		before = s2_host_port_stats(b.hp);
		if (bench_measure(op->name, op->run, &b, &ns[r], &wall[r]) ||
		    op->verify(&b, &before)) {
			ok = false;
			break;
		}
		pgt_destroy(&b);
	}
	if (ok)
		bench_emit_timing(op->name, op->unit, units, b.size, ns, wall, bench_opts.reps, ok);
	else
		printf("%-26s FAILED\n", op->name);
	bench_fini(&b);
}

/* Minimum number of table pages (granules, root excluded) to map [ipa, ipa + size) with
 * leaves at @leaf_level: at every level below the start, one table per entry of the level
 * above that the range touches. */
static uint64_t min_tables(const struct s2_config *cfg, uint64_t ipa, uint64_t size, int leaf_level)
{
	uint64_t n = 0, span;
	int l;

	for (l = cfg->start_level + 1; l <= leaf_level; l++) {
		span = s2_level_size(cfg->granule, l - 1);
		n += (S2_ALIGN_UP(ipa + size, span) - S2_ALIGN_DOWN(ipa, span)) / span;
	}
	return n;
}

/* Scaling: per-page cost of map_range_4k, wrprotect_4k, age_4k, unmap_4k at @size. */
static void run_scale(uint64_t size)
{
	static const char *const names[] = { "map_range_4k", "wrprotect_4k", "age_4k", "unmap_4k" };
	uint64_t ns[4][64], wall[4][64];
	char label[4][64];
	struct bench b;
	unsigned int r, i;
	bool ok = true;

	for (i = 0; i < 4; i++)
		snprintf(label[i], sizeof(label[i]), "scale_%s_%" PRIu64 "%s", names[i],
			 size >= GIB ? size / GIB : size / MIB, size >= GIB ? "g" : "m");
	if (bench_init(&b, size, arena_bytes_for(size))) {
		bench_fini(&b);
		return;
	}
	for (r = 0; r < bench_opts.reps && ok; r++) {
		struct s2_host_stats before;

		if (pgt_create(&b)) {
			ok = false;
			break;
		}
		ok = !bench_measure(label[0], bench_op_map_range_4k, &b, &ns[0][r], &wall[0][r]) &&
		     !verify_rw_pages(&b, NULL);
		before = s2_host_port_stats(b.hp);
		ok = ok &&
		     !bench_measure(label[1], bench_op_wrprotect_4k, &b, &ns[1][r], &wall[1][r]) &&
		     !verify_wrprotect(&b, &before);
		ok = ok && !bench_measure(label[2], bench_op_age_4k, &b, &ns[2][r], &wall[2][r]);
		if (ok && b.young != nr_pages(&b)) {
			FAIL("%s: %" PRIu64 " young, expected %" PRIu64, label[2], b.young,
			     nr_pages(&b));
			ok = false;
		}
		ok = ok && !verify_region(&b, label[2], &bench_exp_old_ro_page, nr_pages(&b));
		before = s2_host_port_stats(b.hp);
		ok = ok &&
		     !bench_measure(label[3], bench_op_unmap_4k, &b, &ns[3][r], &wall[3][r]) &&
		     !verify_unmap(&b, &before);
		pgt_destroy(&b);
	}
	for (i = 0; i < 4 && ok; i++)
		bench_emit_timing(label[i], "page", size / PAGE_4K, size, ns[i], wall[i],
				  bench_opts.reps, ok);
	if (!ok)
		printf("scale %" PRIu64 " MiB FAILED\n", size / MIB);
	bench_fini(&b);
}

/* Table memory after mapping the base size with 4K pages in the measured config. */
static void run_tables_4k(void)
{
	struct bench b;
	uint64_t used, root_pages, min;

	if (bench_init(&b, bench_opts.size, arena_bytes_for(bench_opts.size)) || pgt_create(&b) ||
	    map_region(&b, S2_PROT_R | S2_PROT_W, S2_MAP_FORCE_PAGES) ||
	    verify_rw_pages(&b, NULL)) {
		printf("tables_1g_4k FAILED\n");
		bench_fini(&b);
		return;
	}
	used = s2_host_port_stats(b.hp).pages_in_use;
	root_pages = b.cfg.root_table_bytes / PAGE_4K;
	min = root_pages + min_tables(&b.cfg, b.ipa, b.size, 3);
	printf("%-26s %10" PRIu64 " pages (4K) in use, root %" PRIu64 ", minimum %" PRIu64 "\n",
	       "tables_1g_4k", used, root_pages, min);
	if (bench_opts.out)
		fprintf(bench_opts.out,
			"{\"op\": \"tables_1g_4k\", \"unit\": \"pages\", \"size_mib\": %" PRIu64
			", \"ns_per_unit\": null, \"instr_per_unit\": null, \"pages\": %" PRIu64
			", \"root_pages\": %" PRIu64 ", \"min_pages\": %" PRIu64
			", \"verified\": true}\n",
			b.size / MIB, used, root_pages, min);
	bench_fini(&b);
}

/* Table memory of every granule x IPA size: root bytes, and table bytes for the base size
 * mapped with pages and with the largest blocks. */
static void run_matrix(void)
{
	static const unsigned int ipas[] = { 32, 36, 40, 42, 44, 48, 52 };
	unsigned int gi, ii, mode;

	printf("\ntable memory for %" PRIu64 " MiB (bytes; root separate):\n",
	       bench_opts.size / MIB);
	printf("  %-4s %-4s %3s %9s %12s %12s %12s %12s\n", "gran", "ipa", "lvl", "root", "pages",
	       "min", "blocks", "min");
	for (gi = 0; gi < S2_NR_GRANULES; gi++) {
		for (ii = 0; ii < S2_ARRAY_SIZE(ipas); ii++) {
			enum s2_granule g = (enum s2_granule)gi;
			uint64_t bytes[2], minb[2];
			struct bench b;
			bool ok = true;

			memset(&b, 0, sizeof(b));
			if (bench_config(&b.cfg, g, ipas[ii]))
				continue;
			if ((UINT64_C(1) << ipas[ii]) < 2 * bench_opts.size)
				continue;
			b.ipa = bench_opts.size; /* aligned to the size, inside every IPA space */
			b.size = bench_opts.size;
			b.pa = BENCH_PA_BASE;
			if (port_create(&b, arena_bytes_for(bench_opts.size) + 2 * MIB))
				return;
			for (mode = 0; mode < 2 && ok; mode++) {
				struct s2_check_report rep;
				int leaf = 3, l;

				if (pgt_create(&b)) {
					ok = false;
					break;
				}
				if (map_region(&b, S2_PROT_R | S2_PROT_W,
					       mode ? 0 : S2_MAP_FORCE_PAGES) ||
				    s2_pgtable_check(&b.pgt, &rep)) {
					FAIL("matrix %s/%u: map or check failed",
					     s2_granule_name(g), ipas[ii]);
					ok = false;
				}
				bytes[mode] = (s2_host_port_stats(b.hp).pages_in_use -
					       b.pages_after_init) *
					      PAGE_4K;
				if (mode)
					for (l = 3; l >= b.cfg.start_level; l--)
						if (s2_config_level_has_blocks(&b.cfg, l) &&
						    s2_level_size(g, l) <= b.size &&
						    !(b.size % s2_level_size(g, l)))
							leaf = l;
				minb[mode] = min_tables(&b.cfg, b.ipa, b.size, leaf) *
					     s2_granule_size(g);
				pgt_destroy(&b);
			}
			if (ok) {
				printf("  %-4s %-4u %3u %9" PRIu64 " %12" PRIu64 " %12" PRIu64
				       " %12" PRIu64 " %12" PRIu64 "\n",
				       s2_granule_name(g), ipas[ii], b.cfg.levels,
				       b.cfg.root_table_bytes, bytes[0], minb[0], bytes[1],
				       minb[1]);
				if (bench_opts.out)
					fprintf(bench_opts.out,
						"{\"op\": \"tables_%s_%ubit\", \"unit\": \"byte\", "
						"\"size_mib\": %" PRIu64 ", \"ns_per_unit\": null, "
						"\"instr_per_unit\": null, \"levels\": %u, "
						"\"root_bytes\": %" PRIu64
						", \"pages_bytes\": %" PRIu64
						", \"pages_min_bytes\": %" PRIu64
						", \"blocks_bytes\": %" PRIu64
						", \"blocks_min_bytes\": %" PRIu64 "}\n",
						s2_granule_name(g), ipas[ii], b.size / MIB,
						b.cfg.levels, b.cfg.root_table_bytes, bytes[0],
						minb[0], bytes[1], minb[1]);
			}
			bench_fini(&b);
		}
	}
}

/* ---- main ------------------------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_pgtable [--reps N] [--size-mib M] [--scale-mib A,B,...|none]\n"
		"                     [--ops a,b,...] [--samples N] [--verify-all] [--no-matrix]\n"
		"                     [--callgrind] [--out FILE.jsonl]\n"
		"ops: map_fault_4k map_range_4k map_range_2m wrprotect_4k unmap_4k\n"
		"     unmap_scatter_4k unmap_partial_4k lookup relax_4k mkyoung_4k age_4k\n"
		"     tables scale\n");
}

/* Its own options (bench_own_arg_fn): --size-mib, --scale-mib, --no-matrix. */
static int own_arg(const char *a, const char *val)
{
	uint64_t v;

	if (bench_arg_size_mib(a, val, 0))
		return 2;
	if (!strcmp(a, "--scale-mib") && val) {
		char buf[256], *tok, *save = NULL;

		popts.nr_scale = 0;
		snprintf(buf, sizeof(buf), "%s", val);
		for (tok = strtok_r(buf, ",", &save); tok && strcmp(tok, "none");
		     tok = strtok_r(NULL, ",", &save)) {
			if (popts.nr_scale == MAX_SCALE || !bench_parse_u64(tok, &v) || v < 2 ||
			    (v & 1))
				return 0;
			popts.scale_bytes[popts.nr_scale++] = v * MIB;
		}
		return 2;
	}
	if (!strcmp(a, "--no-matrix")) {
		popts.matrix = false;
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int ret = bench_begin(argc, argv, own_arg, usage, "page-table");

	if (ret >= 0)
		return ret;
	for (unsigned int i = 0; i < S2_ARRAY_SIZE(ops); i++)
		if (bench_op_selected(ops[i].name))
			run_op(&ops[i]);
	if (bench_op_selected("tables"))
		run_tables_4k();
	if (bench_op_selected("scale"))
		for (unsigned int i = 0; i < popts.nr_scale; i++)
			run_scale(popts.scale_bytes[i]);
	if (popts.matrix && bench_op_selected("tables"))
		run_matrix();
	return bench_end("all results verified with the reference walker and s2_pgtable_check");
}
