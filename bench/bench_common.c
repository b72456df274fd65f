// SPDX-License-Identifier: MIT
/*
 * bench_common.c - timing, callgrind framing, output, argument parsing, page sampling and the
 * table check shared by the benchmarks (bench_common.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "s2mmu/pgtable.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BENCH_HAVE_CALLGRIND 1
#endif
#endif
#ifndef BENCH_HAVE_CALLGRIND
#define BENCH_HAVE_CALLGRIND 0
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(s) ((void)(s))
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

struct bench_opts bench_opts = { .reps = 5, .size = GIB, .samples = 4096 };

int bench_failures;

bool bench_have_callgrind(void)
{
	return BENCH_HAVE_CALLGRIND;
}

/*
 * Time is the measuring thread's CPU time (CLOCK_THREAD_CPUTIME_ID): the machine is shared
 * (2 cores, many jobs), and wall time then counts the time other processes held the CPU.
 * Wall time (CLOCK_MONOTONIC) is reported beside it.
 */
uint64_t bench_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

uint64_t bench_rng_next(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

bool bench_op_selected(const char *name)
{
	const char *p;
	size_t n = strlen(name);

	if (!bench_opts.ops)
		return true;
	for (p = bench_opts.ops; (p = strstr(p, name)); p += n)
		if ((p == bench_opts.ops || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median_of(const uint64_t *v, unsigned int n, double *min)
{
	uint64_t sorted[64];

	memcpy(sorted, v, n * sizeof(*v));
	qsort(sorted, n, sizeof(*sorted), cmp_u64);
	*min = (double)sorted[0];
	return n & 1 ? (double)sorted[n / 2] :
		       ((double)sorted[n / 2 - 1] + (double)sorted[n / 2]) / 2;
}

void bench_emit_timing(const char *op, const char *unit, uint64_t units, uint64_t size,
		       const uint64_t *ns, const uint64_t *wall, unsigned int reps, bool verified)
{
	double med, min, wmed, wmin, u = (double)units;
	unsigned int i;

	med = median_of(ns, reps, &min);
	wmed = median_of(wall, reps, &wmin);
	printf("%-26s %10" PRIu64 " %-5s  %10.2f ns/%s  (CPU time, median of %u; wall %.2f)%s\n",
	       op, units, unit, med / u, unit, reps, wmed / u,
	       verified ? "  verified" : "  VERIFY FAILED");
	if (!bench_opts.out)
		return;
	fprintf(bench_opts.out,
		"{\"op\": \"%s\", \"unit\": \"%s\", \"units\": %" PRIu64 ", \"size_mib\": %" PRIu64
		", \"ns_per_unit\": %.3f, \"ns_min_per_unit\": %.3f, \"wall_ns_per_unit\": %.3f"
		", \"wall_ns_min_per_unit\": %.3f, \"ns_runs\": [",
		op, unit, units, size / MIB, med / u, min / u, wmed / u, wmin / u);
	for (i = 0; i < reps; i++)
		fprintf(bench_opts.out, "%s%.3f", i ? ", " : "", (double)ns[i] / u);
	fprintf(bench_opts.out, "], \"verified\": %s}\n", verified ? "true" : "false");
	fflush(bench_opts.out);
}

int bench_measure(const char *label, int (*fn)(struct bench *), struct bench *b, uint64_t *ns,
		  uint64_t *wall)
{
	uint64_t t0, t1, w0, w1;
	int ret;

	if (bench_opts.callgrind) {
		CALLGRIND_START_INSTRUMENTATION;
		CALLGRIND_ZERO_STATS;
	}
	w0 = bench_now_ns(CLOCK_MONOTONIC);
	t0 = bench_now_ns(CLOCK_THREAD_CPUTIME_ID);
	ret = fn(b);
	t1 = bench_now_ns(CLOCK_THREAD_CPUTIME_ID);
	w1 = bench_now_ns(CLOCK_MONOTONIC);
	if (bench_opts.callgrind) {
		CALLGRIND_DUMP_STATS_AT(label);
		CALLGRIND_STOP_INSTRUMENTATION;
	}
	*ns = t1 - t0;
	*wall = w1 - w0;
	if (ret)
		FAIL("%s: returned %d", label, ret);
	return ret;
}

void bench_cg_start(void)
{
	if (bench_opts.callgrind) {
		CALLGRIND_START_INSTRUMENTATION;
		CALLGRIND_ZERO_STATS;
	}
}

void bench_cg_dump(const char *label)
{
	if (bench_opts.callgrind) {
		CALLGRIND_DUMP_STATS_AT(label);
		CALLGRIND_STOP_INSTRUMENTATION;
	}
}

bool bench_parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && end != s && !*end;
}

/*
 * Parse the common option at argv[*i] (--reps, --ops, --samples, --out, --verify-all,
 * --callgrind), advancing *@i past its value. Return: 1 if parsed; 0 if not a common option
 * (or one with a bad value); -1 when --out cannot be opened.
 */
static int bench_parse_arg(int argc, char **argv, int *i)
{
	const char *a = argv[*i], *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	uint64_t v;

	if (!strcmp(a, "--reps") && val && bench_parse_u64(val, &v) && v >= 1 && v <= 64) {
		bench_opts.reps = (unsigned int)v;
		++*i;
	} else if (!strcmp(a, "--ops") && val) {
		bench_opts.ops = val;
		++*i;
	} else if (!strcmp(a, "--samples") && val && bench_parse_u64(val, &v) && v <= 1u << 24) {
		bench_opts.samples = (unsigned int)v;
		++*i;
	} else if (!strcmp(a, "--out") && val) {
		bench_opts.out = fopen(val, "w");
		if (!bench_opts.out) {
			perror(val);
			return -1;
		}
		++*i;
	} else if (!strcmp(a, "--verify-all")) {
		bench_opts.verify_all = true;
	} else if (!strcmp(a, "--callgrind")) {
		bench_opts.callgrind = true;
	} else {
		return 0;
	}
	return 1;
}

int bench_verify_pages(uint64_t size, int (*check)(void *ctx, uint64_t off), void *ctx)
{
	uint64_t pages = size / PAGE_4K, i;

	if (bench_opts.verify_all || pages <= bench_opts.samples) {
		for (i = 0; i < pages; i++)
			if (check(ctx, i * PAGE_4K))
				return -1;
		return 0;
	}
	if (check(ctx, 0) || check(ctx, size - PAGE_4K))
		return -1;
	for (i = 0; i < bench_opts.samples; i++)
		if (check(ctx, (bench_rng_next() % pages) * PAGE_4K))
			return -1;
	return 0;
}

bool bench_arg_size_mib(const char *arg, const char *val, uint64_t max_mib)
{
	uint64_t v;

	if (strcmp(arg, "--size-mib") || !val || !bench_parse_u64(val, &v) || v < 2 || (v & 1) ||
	    (max_mib && v > max_mib))
		return false;
	bench_opts.size = v * MIB;
	return true;
}

/* The common options, then @own_arg for the rest. Return: 0, or -1 for a bad argument. */
static int parse_args(int argc, char **argv, bench_own_arg_fn own_arg)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int ret = bench_parse_arg(argc, argv, &i);

		if (ret < 0)
			return -1;
		if (ret > 0)
			continue;
		ret = own_arg(a, val);
		if (ret <= 0)
			return -1;
		i += ret - 1;
	}
	return 0;
}

int bench_begin(int argc, char **argv, bench_own_arg_fn own_arg, void (*usage)(void),
		const char *what)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage();
		return 0;
	}
	if (parse_args(argc, argv, own_arg)) {
		usage();
		return 2;
	}
	if (bench_opts.callgrind && !bench_have_callgrind())
		fprintf(stderr, "bench: built without <valgrind/callgrind.h>: no per-op dumps\n");
	printf("s2mmu %s benchmarks: 4K granule, 40-bit IPA, FWB, host port; %" PRIu64
	       " MiB, %u run(s)%s\n",
	       what, bench_opts.size / MIB, bench_opts.reps,
	       bench_opts.callgrind ? ", callgrind" : "");
	return -1;
}

int bench_end(const char *all_verified)
{
	if (bench_opts.out)
		fclose(bench_opts.out);
	if (bench_failures) {
		fprintf(stderr, "bench: %d verification failure(s)\n", bench_failures);
		return 1;
	}
	printf("%s\n", all_verified);
	return 0;
}

int bench_check_leaves(const char *op, const struct s2_pgtable *pgt, uint64_t leaves)
{
	struct s2_check_report rep;
	int ret;

	memset(&rep, 0, sizeof(rep));
	ret = s2_pgtable_check(pgt, &rep);
	if (ret || rep.errors || rep.leaves != leaves) {
		FAIL("%s: s2_pgtable_check: %d, %" PRIu64 " errors (%s), %" PRIu64
		     " leaves, expected %" PRIu64,
		     op, ret, rep.errors, rep.errors ? rep.first_error : "", rep.leaves, leaves);
		return -1;
	}
	return 0;
}

uint64_t *bench_lookup_ipas(uint64_t ipa, uint64_t pages)
{
	uint64_t *ipas = malloc(pages * sizeof(*ipas));

	if (!ipas) {
		FAIL("out of memory");
		return NULL;
	}
	for (uint64_t i = 0; i < pages; i++)
		ipas[i] = ipa + (bench_rng_next() % pages) * PAGE_4K + (bench_rng_next() & 0xff8);
	return ipas;
}
