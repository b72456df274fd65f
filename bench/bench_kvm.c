// SPDX-License-Identifier: MIT
/*
 * bench_kvm.c - the operations of bench_pgtable.c, measured on Linux KVM's arm64 stage-2
 * engine (arch/arm64/kvm/hyp/pgtable.c, unchanged, from Debian's linux-source-6.12 or -6.1,
 * extracted at build time by bench/kvm/extract.sh) in the same configuration (4K granule,
 * 40-bit IPA, FWB on), with the same page allocator (the s2mmu host port), timing, callgrind
 * framing and output, and the same verification: every result is walked with the project's
 * reference walker (s2_walk) reading KVM's tables, and the whole tree is checked (valid leaves,
 * reference counts, no page leaked). Built once per kernel version (bench_kvm612, bench_kvm61)
 * from this file, bench/kvm/kvm_glue.c (the calls into KVM, built with the kernel stand-in
 * headers of bench/kvm/include) and KVM's pgtable.c. See bench/README.md.
 *
 * Output as bench_pgtable's; the records' names carry the engine: "kvm612_map_fault_4k", ...
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s2mmu/pgtable.h"
#include "s2mmu/walk.h"
#include "host_port.h"

#include "bench_common.h"
#include "bench_walk.h"
#include "kvm/kvm_bench.h"

/* The layout of bench_pgtable.c. */
#define BENCH_IPA_BASE (UINT64_C(64) << 30)
#define BENCH_PA_BASE (UINT64_C(512) << 30)
#define BENCH_ARENA_PA (UINT64_C(4) << 30)

static struct s2_config cfg; /* 4K, 40-bit, FWB: what the reference walker reads KVM's tables as */

static uint64_t nr_pages(const struct bench *b)
{
	return b->size / PAGE_4K;
}

/* ---- setup ------------------------------------------------------------------------------- */

static int bench_init(struct bench *b, uint64_t size)
{
	struct s2_host_port_opts po = {
		.pa_base = BENCH_ARENA_PA,
		/* One L3 table per 2 MiB, one L2 per 1 GiB, the root, slack. */
		.arena_bytes = S2_ALIGN_UP((size / BLOCK_2M + size / GIB + 64) * PAGE_4K + 4 * MIB,
					   64 * 1024),
		.log_capacity = 0,
	};
	int ret;

	memset(b, 0, sizeof(*b));
	b->ipa = BENCH_IPA_BASE;
	b->size = size;
	b->pa = BENCH_PA_BASE;
	ret = s2_host_port_create(&po, &b->hp);
	if (ret)
		FAIL("s2_host_port_create(%" PRIu64 " bytes): %d", (uint64_t)po.arena_bytes, ret);
	return ret;
}

static int engine_create(struct bench *b)
{
	struct s2_port port = s2_host_port_port(b->hp);
	struct kvmb_mem mem = {
		.alloc_pages = port.ops->alloc_pages,
		.free_pages = port.ops->free_pages,
		.page_refcount = port.ops->page_refcount,
		.ctx = port.ctx,
		.arena_va = port.ops->pa_to_va(port.ctx, s2_pa(BENCH_ARENA_PA)),
		.arena_pa = BENCH_ARENA_PA,
	};
	int ret = kvmb_create(b, &mem);

	if (ret) {
		FAIL("%s: __kvm_pgtable_stage2_init: %d", kvmb_name, ret);
		return ret;
	}
	b->pages_after_init = s2_host_port_stats(b->hp).pages_in_use;
	return 0;
}

static void bench_fini(struct bench *b)
{
	kvmb_destroy(b);
	free(b->ipas);
	b->ipas = NULL;
	if (b->hp) {
		if (s2_host_port_stats(b->hp).pages_in_use)
			FAIL("%s: %" PRIu64 " table pages (4K) not freed by "
			     "kvm_pgtable_stage2_destroy",
			     kvmb_name, s2_host_port_stats(b->hp).pages_in_use);
		s2_host_port_destroy(b->hp);
	}
	b->hp = NULL;
}

static int map_region(struct bench *b, bool writable, bool force_pte)
{
	int ret = kvmb_map(b, b->ipa, b->size, b->pa, writable, force_pte);

	if (ret)
		FAIL("%s: setup map [%#" PRIx64 ", +%#" PRIx64 "): %d", kvmb_name, b->ipa, b->size,
		     ret);
	return ret;
}

/* ---- verification ------------------------------------------------------------------------- */

static int verify_ipa(struct bench *b, const char *op, uint64_t off, const struct bench_expect *e)
{
	struct s2_walk_mem mem = s2_host_port_walk_mem(b->hp);

	return bench_walk_check(&cfg, s2_pa(kvmb_root_pa(b)), &mem, op, b->ipa + off, b->pa + off,
				e);
}

struct verify_ctx {
	struct bench *b;
	const char *op;
	const struct bench_expect *e;
	bool (*hole)(uint64_t off);
};

static int verify_ipa_at(void *ctx, uint64_t off)
{
	struct verify_ctx *v = ctx;

	return verify_ipa(v->b, v->op, off, v->hole && v->hole(off) ? &bench_exp_unmapped : v->e);
}

/* Sampled (or all) pages walked; then the whole tree: @leaves valid leaves at @e's level, the
 * reference counts right, and exactly the table pages found in use at the port (none leaked). */
static int verify_region_holes(struct bench *b, const char *op, const struct bench_expect *e,
			       bool (*hole)(uint64_t off), uint64_t leaves)
{
	struct verify_ctx ctx = { b, op, e, hole };
	struct kvmb_check rep;
	struct kvmb_stats st;
	uint64_t in_use, total;
	int l;

	if (bench_verify_pages(b->size, verify_ipa_at, &ctx))
		return -1;
	kvmb_check(b, &rep);
	if (rep.errors) {
		FAIL("%s: %" PRIu64 " errors in KVM's tables: %s", op, rep.errors, rep.first_error);
		return -1;
	}
	for (l = 0, total = 0; l < 4; l++)
		total += rep.leaves[l];
	if (total != leaves || (leaves && rep.leaves[e->level] != leaves)) {
		FAIL("%s: %" PRIu64 " valid leaves (%" PRIu64 " at level %d), expected %" PRIu64,
		     op, total, rep.leaves[e->level], e->level, leaves);
		return -1;
	}
	in_use = s2_host_port_stats(b->hp).pages_in_use;
	/* The root is 2 pages (8 KiB) counted once by the walk per page. */
	if (rep.table_pages != in_use) {
		FAIL("%s: %" PRIu64 " table pages reachable, %" PRIu64 " allocated", op,
		     rep.table_pages, in_use);
		return -1;
	}
	kvmb_get_stats(&st);
	if (st.warnings) {
		FAIL("%s: %" PRIu64 " WARN_ON()s fired in KVM's engine", op, st.warnings);
		return -1;
	}
	return 0;
}

static int verify_region(struct bench *b, const char *op, const struct bench_expect *e,
			 uint64_t leaves)
{
	return verify_region_holes(b, op, e, NULL, leaves);
}

static uint64_t tlbis(const struct kvmb_stats *s)
{
	return s->tlbi_ipa + s->tlbi_ipa_nsh + s->tlbi_range + s->tlbi_vmid;
}

static bool tlbi_done(const struct kvmb_stats *before)
{
	struct kvmb_stats after;

	kvmb_get_stats(&after);
	return tlbis(&after) > tlbis(before);
}

/* ---- operations ---------------------------------------------------------------------------- */

struct op_desc {
	const char *name;
	const char *unit;
	int (*setup)(struct bench *b);
	int (*run)(struct bench *b);
	int (*verify)(struct bench *b, const struct kvmb_stats *before, uint64_t pages_before);
	uint64_t (*units)(const struct bench *b);
};

BENCH_ENGINE_UNITS()

static int setup_range_4k(struct bench *b)
{
	kvmb_force_pte(b, true);
	return 0;
}

static int setup_mapped_rw(struct bench *b)
{
	return map_region(b, true, true) || verify_ipa(b, "setup", b->size / 2, &bench_exp_rw_page);
}

static int setup_mapped_ro(struct bench *b)
{
	return map_region(b, false, true) ||
	       verify_ipa(b, "relax_4k setup", b->size / 2, &bench_exp_ro_page);
}

/* KVM maps young; its own aging makes the pages old. */
static int setup_mapped_old(struct bench *b)
{
	if (map_region(b, true, true))
		return -1;
	if (kvmb_mkold(b, b->ipa, b->size)) {
		FAIL("%s: mkyoung_4k setup: making the region old failed", kvmb_name);
		return -1;
	}
	return verify_ipa(b, "mkyoung_4k setup", b->size / 2, &bench_exp_old_page);
}

static int setup_map_fault(struct bench *b)
{
	uint64_t off;
	int ret;

	for (off = 0; off < b->size; off += BLOCK_2M) {
		ret = kvmb_map(b, b->ipa + off, PAGE_4K, b->pa + off, true, false);
		if (ret) {
			FAIL("%s: map_fault setup at %#" PRIx64 ": %d", kvmb_name, b->ipa + off,
			     ret);
			return ret;
		}
	}
	return 0;
}

static int setup_map_2m(struct bench *b)
{
	b->pa = BENCH_PA_BASE + BLOCK_2M; /* 2 MiB-aligned, not 1 GiB-aligned: 2M blocks */
	return 0;
}

static int setup_lookup(struct bench *b)
{
	b->nr_ipas = nr_pages(b);
	b->ipas = bench_lookup_ipas(b->ipa, b->nr_ipas);
	return b->ipas ? setup_mapped_rw(b) : -1;
}

static int verify_rw_pages(struct bench *b, const struct kvmb_stats *before, uint64_t pb)
{
	return verify_region(b, "map", &bench_exp_rw_page, nr_pages(b));
}

static int verify_map_2m(struct bench *b, const struct kvmb_stats *before, uint64_t pb)
{
	return verify_region(b, "map_range_2m", &bench_exp_rw_block, units_blocks(b));
}

static int verify_wrprotect(struct bench *b, const struct kvmb_stats *before, uint64_t pb)
{
	if (!tlbi_done(before)) {
		FAIL("%s: wrprotect_4k: no TLB invalidation issued", kvmb_name);
		return -1;
	}
	return verify_region(b, "wrprotect_4k", &bench_exp_ro_page, nr_pages(b));
}

static int verify_unmap(struct bench *b, const struct kvmb_stats *before, uint64_t pb)
{
	uint64_t in_use = s2_host_port_stats(b->hp).pages_in_use;

	if (!tlbi_done(before)) {
		FAIL("%s: unmap_4k: no TLB invalidation issued", kvmb_name);
		return -1;
	}
	if (in_use != b->pages_after_init) {
		FAIL("%s: unmap_4k: %" PRIu64 " table pages in use after unmapping all, %" PRIu64
		     " after init: empty tables not freed",
		     kvmb_name, in_use, b->pages_after_init);
		return -1;
	}
	return verify_region(b, "unmap_4k", &bench_exp_unmapped, 0);
}

static int verify_unmap_holes(struct bench *b, const struct kvmb_stats *before, uint64_t pb,
			      const char *op, bool (*hole)(uint64_t off), uint64_t holes)
{
	uint64_t in_use = s2_host_port_stats(b->hp).pages_in_use;

	if (!tlbi_done(before)) {
		FAIL("%s: %s: no TLB invalidation issued", kvmb_name, op);
		return -1;
	}
	if (in_use != pb) {
		FAIL("%s: %s: %" PRIu64 " table pages in use, %" PRIu64 " before", kvmb_name, op,
		     in_use, pb);
		return -1;
	}
	return verify_region_holes(b, op, &bench_exp_rw_page, hole, nr_pages(b) - holes);
}

static int verify_unmap_scatter(struct bench *b, const struct kvmb_stats *before, uint64_t pb)
{
	return verify_unmap_holes(b, before, pb, "unmap_scatter_4k", bench_scatter_hole,
				  units_scatter(b));
}

static int verify_unmap_partial(struct bench *b, const struct kvmb_stats *before, uint64_t pb)
{
	return verify_unmap_holes(b, before, pb, "unmap_partial_4k", bench_partial_hole,
				  units_partial(b));
}

static int verify_lookup(struct bench *b, const struct kvmb_stats *before, uint64_t pb)
{
	uint64_t i, sum = 0;

	for (i = 0; i < b->nr_ipas; i++)
		sum += b->pa + (b->ipas[i] - b->ipa);
	if (b->lookup_valid != b->nr_ipas || b->lookup_pa_sum != sum) {
		FAIL("%s: lookup: %" PRIu64 "/%" PRIu64 " valid, pa sum %#" PRIx64
		     " expected %#" PRIx64,
		     kvmb_name, b->lookup_valid, b->nr_ipas, b->lookup_pa_sum, sum);
		return -1;
	}
	return verify_region(b, "lookup", &bench_exp_rw_page, nr_pages(b));
}

static int verify_relax(struct bench *b, const struct kvmb_stats *before, uint64_t pb)
{
	struct kvmb_stats after;

	/* KVM invalidates the page's TLB entry after relaxing it (6.12: non-shareable). */
	kvmb_get_stats(&after);
	if (tlbis(&after) - tlbis(before) != nr_pages(b)) {
		FAIL("%s: relax_4k: %" PRIu64 " TLB invalidations for %" PRIu64 " pages", kvmb_name,
		     tlbis(&after) - tlbis(before), nr_pages(b));
		return -1;
	}
	return verify_rw_pages(b, before, pb);
}

static int verify_age(struct bench *b, const struct kvmb_stats *before, uint64_t pb)
{
	/* 6.12's test_clear_young() says whether any page was young; 6.1 counts page by page. */
	uint64_t want = kvmb_has_range_age ? 1 : nr_pages(b);

	if (b->young != want) {
		FAIL("%s: age_4k: young reported %" PRIu64 ", expected %" PRIu64, kvmb_name,
		     b->young, want);
		return -1;
	}
	return verify_region(b, "age_4k", &bench_exp_old_page, nr_pages(b));
}

static const struct op_desc ops[] = {
	{ "map_fault_4k", "op", setup_map_fault, bench_op_map_fault_4k, verify_rw_pages,
	  units_fault },
	{ "map_range_4k", "page", setup_range_4k, bench_op_map_range_4k, verify_rw_pages,
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
	{ "relax_4k", "op", setup_mapped_ro, bench_op_relax_4k, verify_relax, units_pages },
	{ "mkyoung_4k", "op", setup_mapped_old, bench_op_mkyoung_4k, verify_rw_pages, units_pages },
	{ "age_4k", "page", setup_mapped_rw, bench_op_age_4k, verify_age, units_pages },
};

static void run_op(const struct op_desc *op)
{
	uint64_t ns[64], wall[64], units = 0;
	char label[64];
	struct bench b;
	bool ok = true;
	unsigned int r;

	snprintf(label, sizeof(label), "%s_%s", kvmb_name, op->name);
	if (bench_init(&b, bench_opts.size)) {
		bench_fini(&b);
		return;
	}
	for (r = 0; r < bench_opts.reps; r++) {
		struct kvmb_stats before;
		uint64_t pages_before;

		free(b.ipas);
		b.ipas = NULL;
		b.pa = BENCH_PA_BASE;
		if (engine_create(&b) || op->setup(&b)) {
			ok = false;
			break;
		}
		units = op->units(&b);
		kvmb_get_stats(&before);
		pages_before = s2_host_port_stats(b.hp).pages_in_use;
		if (bench_measure(label, op->run, &b, &ns[r], &wall[r])) {
			ok = false;
			break;
		}
		kvmb_force_pte(&b, false);
		if (op->verify(&b, &before, pages_before)) {
			ok = false;
			break;
		}
		kvmb_destroy(&b);
	}
	if (ok)
		bench_emit_timing(label, op->unit, units, b.size, ns, wall, bench_opts.reps, ok);
	else
		printf("%-26s FAILED\n", label);
	bench_fini(&b);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_%s [--reps N] [--size-mib M] [--ops a,b,...] [--samples N]\n"
		"                 [--verify-all] [--callgrind] [--out FILE.jsonl]\n"
		"Linux KVM %s's arm64 stage-2 engine, measured as bench_pgtable measures s2mmu.\n"
		"ops: map_fault_4k map_range_4k map_range_2m wrprotect_4k unmap_4k\n"
		"     unmap_scatter_4k unmap_partial_4k lookup relax_4k mkyoung_4k age_4k\n",
		kvmb_name, kvmb_version);
}

/* Its own option (bench_own_arg_fn): --size-mib, up to 64 GiB. */
static int own_arg(const char *a, const char *val)
{
	return bench_arg_size_mib(a, val, 64 * 1024) ? 2 : 0;
}

int main(int argc, char **argv)
{
	struct s2_caps caps;
	struct s2_config_req req = { .ipa_bits = 40,
				     .granule = S2_GRANULE_4K,
				     .flags = S2_CFG_FWB };
	char what[64];
	int ret;

	snprintf(what, sizeof(what), "Linux KVM %s stage-2", kvmb_version);
	ret = bench_begin(argc, argv, own_arg, usage, what);
	if (ret >= 0)
		return ret;
	if (s2_caps_max(48, &caps) || s2_config_init(&cfg, &caps, &req)) {
		FAIL("s2_config_init(4K, 40-bit, FWB)");
		return 1;
	}
	for (unsigned int i = 0; i < S2_ARRAY_SIZE(ops); i++)
		if (bench_op_selected(ops[i].name))
			run_op(&ops[i]);
	return bench_end("all results verified with the reference walker and a walk of KVM's "
			 "tables (leaves, reference counts, no page leaked)");
}
