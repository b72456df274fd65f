/* SPDX-License-Identifier: MIT */
/*
 * bench_common.h - what bench_pgtable and bench_layers share: options, failure counting,
 * CPU-time measurement framed for callgrind, JSON/summary output, argument parsing and the
 * sampling of pages to verify.
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

/* The options both benchmarks take (bench_parse_arg()); each adds its own. */
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

/* Parse @s as an unsigned number (decimal, 0x hex or 0 octal). Return: whether it was one. */
bool bench_parse_u64(const char *s, uint64_t *v);

/*
 * Parse the common option at argv[*i] (--reps, --ops, --samples, --out, --verify-all,
 * --callgrind), advancing *@i past its value. Return: 1 if parsed; 0 if not a common option
 * (or one with a bad value); -1 when --out cannot be opened.
 */
int bench_parse_arg(int argc, char **argv, int *i);

/*
 * Call @check(@ctx, off) for the offsets of the 4K pages of a region of @size bytes to verify:
 * every page with --verify-all or when there are at most --samples pages, else the first, the
 * last and --samples random ones. Return: 0; -1 as soon as @check returns nonzero.
 */
int bench_verify_pages(uint64_t size, int (*check)(void *ctx, uint64_t off), void *ctx);

/*
 * Start main(): --help/-h prints @usage; otherwise parse the arguments with @parse_args (0 or
 * -1), warn when --callgrind cannot dump, print the header line naming @what benchmarks.
 * Return: -1 to go on; else the exit status (0 after --help, 2 for bad arguments).
 */
int bench_begin(int argc, char **argv, int (*parse_args)(int argc, char **argv),
		void (*usage)(void), const char *what);

/* End main(): close --out, report the failures or print @all_verified.
 * Return: the exit status, 1 if any verification failed, else 0. */
int bench_end(const char *all_verified);

#endif /* S2MMU_BENCH_COMMON_H */
