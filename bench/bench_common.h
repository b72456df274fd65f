/* SPDX-License-Identifier: MIT */
/*
 * bench_common.h - what the benchmarks (bench_pgtable, bench_kvm, bench_layers, bench_vm_scale)
 * share: options, failure counting, CPU-time measurement framed for callgrind, JSON/summary
 * output, argument parsing, the sampling of pages to verify, the table check, and the engine
 * operations both engines implement with their units.
 */
#ifndef S2MMU_BENCH_COMMON_H
#define S2MMU_BENCH_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define PAGE_4K UINT64_C(4096)
#define BLOCK_2M (UINT64_C(2) << 20)

/*
 * The two unmap patterns of unmap_scatter_4k and unmap_partial_4k (bench/README.md), the
 * same for every engine: one unmap call of one 4K page for every BENCH_SCATTER_STRIDE-th
 * page of the region (so every L3 table keeps most of its pages), and one unmap call per
 * 2 MiB for its first BENCH_PARTIAL_BYTES (half of every L3 table).
 */
#define BENCH_SCATTER_STRIDE 8
#define BENCH_PARTIAL_BYTES (UINT64_C(1) << 20)

static inline bool bench_scatter_hole(uint64_t off)
{
	return (off >> 12) % BENCH_SCATTER_STRIDE == 0;
}

static inline bool bench_partial_hole(uint64_t off)
{
	return (off & ((UINT64_C(2) << 20) - 1)) < BENCH_PARTIAL_BYTES;
}

/* The options every benchmark takes (bench_begin() parses them); each adds its own. */
struct bench_opts {
	unsigned int reps; /* --reps N (1..64): runs per operation, the median is reported */
	uint64_t size; /* --size-mib M: bytes of the region measured (parsed by each binary) */
	const char *ops; /* --ops a,b,...: comma-separated filter, NULL = all */
	FILE *out; /* --out FILE: one JSON record per line */
	bool verify_all; /* --verify-all: verify every page, not samples */
	bool callgrind; /* --callgrind: frame each measured call for callgrind */
	unsigned int samples; /* --samples N: random pages verified besides first and last */
};

extern struct bench_opts bench_opts;

/* Verification failures so far (FAIL() counts them); the program exits 1 if any. */
extern int bench_failures;

#define FAIL(...)                                             \
	do {                                                  \
		fprintf(stderr, "bench: FAIL: " __VA_ARGS__); \
		fputc('\n', stderr);                          \
		bench_failures++;                             \
	} while (0)

/* Each binary's own benchmark instance; only pointers to it pass through here. */
struct bench;

/* Whether the binary was built with <valgrind/callgrind.h> (per-op dumps under --callgrind). */
bool bench_have_callgrind(void);

/* Time of clock @clk in ns. */
uint64_t bench_now_ns(clockid_t clk);

/* The next value of the fixed-seed xorshift generator (reproducible samples). */
uint64_t bench_rng_next(void);

/* Whether --ops selects @name (no --ops: every name). */
bool bench_op_selected(const char *name);

/*
 * Run @fn(@b) once, timed in the measuring thread's CPU time (*@ns) and wall time (*@wall),
 * framed by CALLGRIND_ZERO_STATS / CALLGRIND_DUMP_STATS_AT(@label) under --callgrind.
 * Return: what @fn returned (a nonzero value is also counted with FAIL()).
 */
int bench_measure(const char *label, int (*fn)(struct bench *), struct bench *b, uint64_t *ns,
		  uint64_t *wall);

/* Under --callgrind, start counting (instrumentation on, counters zeroed) / dump the counts
 * as @label and stop: for measured code that bench_measure() cannot wrap. */
void bench_cg_start(void);
void bench_cg_dump(const char *label);

/* Print the summary line of an operation (median and min over @reps runs, per unit) and, with
 * --out, its JSON record. */
void bench_emit_timing(const char *op, const char *unit, uint64_t units, uint64_t size,
		       const uint64_t *ns, const uint64_t *wall, unsigned int reps, bool verified);

/* s2_pgtable_check() of @pgt finds no error and exactly @leaves leaves (FAIL() naming @op
 * otherwise). Return: 0 or -1. */
struct s2_pgtable;
int bench_check_leaves(const char *op, const struct s2_pgtable *pgt, uint64_t leaves);

/* The IPAs of the lookup operation: @pages random ones in the region of @pages 4K pages at
 * @ipa, each at a random 8-byte offset in its page (the fixed-seed generator: the same
 * sequence for every engine). Return: the malloc()ed array, or NULL (FAIL() counted). */
uint64_t *bench_lookup_ipas(uint64_t ipa, uint64_t pages);

/* Parse @s as an unsigned number (decimal, 0x hex or 0 octal). Return: whether it was one. */
bool bench_parse_u64(const char *s, uint64_t *v);

/*
 * Call @check(@ctx, off) for the offsets of the 4K pages of a region of @size bytes to verify:
 * every page with --verify-all or when there are at most --samples pages, else the first, the
 * last and --samples random ones. Return: 0; -1 as soon as @check returns nonzero.
 */
int bench_verify_pages(uint64_t size, int (*check)(void *ctx, uint64_t off), void *ctx);

/*
 * --size-mib M when @arg is it: @val an even number of MiB from 2 to @max_mib (0: no upper
 * bound), stored in bench_opts.size. Return: whether @arg was a valid --size-mib.
 */
bool bench_arg_size_mib(const char *arg, const char *val, uint64_t max_mib);

/*
 * A binary's own options, for bench_begin(): @arg is an argument that is not a common one,
 * @val the next (NULL at the end). Return: how many arguments it took (1: @arg alone, 2: @arg
 * and @val), or 0 for an unknown option or a bad value.
 */
typedef int (*bench_own_arg_fn)(const char *arg, const char *val);

/*
 * Start main(): --help/-h prints @usage; otherwise parse the arguments (the common options,
 * then @own_arg for the rest), warn when --callgrind cannot dump, print the header line
 * naming @what benchmarks.
 * Return: -1 to go on; else the exit status (0 after --help, 2 for bad arguments).
 */
int bench_begin(int argc, char **argv, bench_own_arg_fn own_arg, void (*usage)(void),
		const char *what);

/* End main(): close --out, report the failures or print @all_verified.
 * Return: the exit status, 1 if any verification failed, else 0. */
int bench_end(const char *all_verified);

/* ---- the engine operations, measured the same on s2mmu's engine and KVM's ------------------- */

/*
 * Each is an external, non-inlined function (bench_pgtable.c for s2mmu, kvm/kvm_glue.c for
 * KVM) so that callgrind's --toggle-collect='bench_op_*' counts exactly the operation and the
 * loop that issues it, nothing of setup. Return: 0 or the engine's error.
 */
int bench_op_map_fault_4k(struct bench *b);
int bench_op_map_range_4k(struct bench *b);
int bench_op_map_range_2m(struct bench *b);
int bench_op_wrprotect_4k(struct bench *b);
int bench_op_unmap_4k(struct bench *b);
int bench_op_unmap_scatter_4k(struct bench *b);
int bench_op_unmap_partial_4k(struct bench *b);
int bench_op_lookup(struct bench *b);
int bench_op_relax_4k(struct bench *b);
int bench_op_mkyoung_4k(struct bench *b);
int bench_op_age_4k(struct bench *b);

/*
 * The units of those operations (bench/README.md's table), for a struct bench with the region's
 * bytes in `size` and the lookup IPAs' count in `nr_ipas`: expand once in each engine's
 * benchmark, after its struct bench, to define units_pages() ... units_lookup().
 */
#define BENCH_ENGINE_UNITS()                                                 \
	static uint64_t units_pages(const struct bench *b)                   \
	{                                                                    \
		return b->size / PAGE_4K;                                    \
	}                                                                    \
	static uint64_t units_blocks(const struct bench *b)                  \
	{                                                                    \
		return b->size / BLOCK_2M;                                   \
	}                                                                    \
	static uint64_t units_fault(const struct bench *b)                   \
	{                                                                    \
		return b->size / PAGE_4K - b->size / BLOCK_2M;               \
	}                                                                    \
	static uint64_t units_scatter(const struct bench *b)                 \
	{                                                                    \
		return b->size / PAGE_4K / BENCH_SCATTER_STRIDE;             \
	}                                                                    \
	static uint64_t units_partial(const struct bench *b)                 \
	{                                                                    \
		return b->size / BLOCK_2M * (BENCH_PARTIAL_BYTES / PAGE_4K); \
	}                                                                    \
	static uint64_t units_lookup(const struct bench *b)                  \
	{                                                                    \
		return b->nr_ipas;                                           \
	}

#endif /* S2MMU_BENCH_COMMON_H */
