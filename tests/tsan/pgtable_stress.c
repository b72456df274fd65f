// SPDX-License-Identifier: MIT
/*
 * pgtable_stress.c - concurrent single-entry operations on the stage-2 engine, for
 * ThreadSanitizer.
 *
 * Four vCPU-like threads hold a rwlock shared and do what a fault path does: map one page
 * (S2_MAP_SHARED; pages of one last-level table, of sibling tables and of other root entries,
 * so that table installs race), relax_perms, mkyoung and lookup. A fifth thread takes the
 * lock exclusive now and then to unmap ranges (freeing tables the others then reinstall),
 * write-protect, map a block and split it. Every mapping of IPA x outputs pa_of(x), so a
 * lookup or walk that sees another output address is a torn or misplaced update.
 *
 * Phase A: the mix above, for a bounded number of operations.
 * Phase B: the four threads alone map every page (racing on the same pages).
 * Then, single-threaded: every page translates (reference walker) to pa_of(x) with read
 * permission, s2_pgtable_check() passes, the port's page count equals the table pages (no
 * leak); after unmapping everything only the root remains; after destroy nothing.
 *
 * Exit status 0 on success; TSan reports make the run fail (TSAN_OPTIONS=halt_on_error=1).
 * Environment: S2_STRESS_OPS (operations per thread in phase A, default 200000).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s2mmu/pgtable.h"
#include "s2mmu/walk.h"
#include "host_port.h"

#define NR_READERS 4
#define PAGES_PER_REGION 64
#define NR_REGIONS 5
#define NR_PAGES (PAGES_PER_REGION * NR_REGIONS)
#define PA_OFFSET UINT64_C(0x100000000) /* pa_of(x) = x + 4 GiB: blocks stay aligned */
#define SZ_4K UINT64_C(0x1000)
#define SZ_2M UINT64_C(0x200000)

/* 4K granule, 40-bit IPA: start level 1 with two concatenated root tables. */
static const uint64_t region_base[NR_REGIONS] = {
	UINT64_C(0x0000000000), /* L3 table A */
	UINT64_C(0x0000200000), /* L3 table B: same L2 table as A */
	UINT64_C(0x0040000000), /* another L2 table (L1 entry 1) */
	UINT64_C(0x8000200000), /* the second concatenated root table */
	UINT64_C(0x0040400000), /* the block region: blocks mapped and split here */
};
#define BLOCK_REGION 4

static struct s2_pgtable pgt;
static struct s2_port port;
static struct s2_host_port *hp;
static struct s2_config cfg;
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
/*
 * The engine calls its port concurrently from single-entry operations. The host port is not
 * thread-safe (its allocator, counters and event log are plain memory), so the engine gets a
 * thin port over it: allocation and freeing are serialised by a mutex; TLBI, cache maintenance
 * and barriers are not forwarded (nothing here checks them). Nothing else takes a lock, so no
 * synchronisation is added that could hide a race inside the engine.
 */
static struct s2_port host;
static pthread_mutex_t alloc_lock = PTHREAD_MUTEX_INITIALIZER;

static void *shim_alloc(void *ctx, size_t bytes)
{
	void *va;

	pthread_mutex_lock(&alloc_lock);
	va = host.ops->alloc_pages(host.ctx, bytes);
	pthread_mutex_unlock(&alloc_lock);
	return va;
}

static void shim_free(void *ctx, void *va, size_t bytes)
{
	pthread_mutex_lock(&alloc_lock);
	host.ops->free_pages(host.ctx, va, bytes);
	pthread_mutex_unlock(&alloc_lock);
}

static uint32_t *shim_refcount(void *ctx, void *va)
{
	return host.ops->page_refcount(host.ctx, va);
}

static s2_pa_t shim_va_to_pa(void *ctx, void *va)
{
	return host.ops->va_to_pa(host.ctx, va);
}

static void *shim_pa_to_va(void *ctx, s2_pa_t pa)
{
	return host.ops->pa_to_va(host.ctx, pa);
}

static void shim_tlbi_ipa(void *ctx, const struct s2_pgtable *p, s2_ipa_t ipa, int level)
{
}

static void shim_tlbi_range(void *ctx, const struct s2_pgtable *p, s2_ipa_t ipa, uint64_t size)
{
}

static void shim_tlbi_vmid(void *ctx, const struct s2_pgtable *p)
{
}

static void shim_tlbi_ipa_local(void *ctx, const struct s2_pgtable *p, s2_ipa_t ipa, int level)
{
}

static void shim_cmo(void *ctx, s2_pa_t pa, uint64_t size)
{
}

static void shim_barrier(void *ctx, enum s2_barrier b)
{
}

static const struct s2_port_ops shim_ops = {
	.alloc_pages = shim_alloc,
	.free_pages = shim_free,
	.page_refcount = shim_refcount,
	.va_to_pa = shim_va_to_pa,
	.pa_to_va = shim_pa_to_va,
	.tlbi_ipa = shim_tlbi_ipa,
	.tlbi_range = shim_tlbi_range,
	.tlbi_vmid = shim_tlbi_vmid,
	.tlbi_ipa_local = shim_tlbi_ipa_local,
	.dcache_clean_inval_poc = shim_cmo,
	.icache_inval_pou = shim_cmo,
	.barrier = shim_barrier,
};
static atomic_int readers_left;
static atomic_int writer_done; /* the writer's last operation has finished */
static atomic_int failed;
static atomic_ulong n_ok, n_again, n_busy, n_noent;
static unsigned long ops_per_thread = 200000;

#define FAIL(...)                                                      \
	do {                                                           \
		fprintf(stderr, "pgtable_stress: FAIL: " __VA_ARGS__); \
		fputc('\n', stderr);                                   \
		atomic_store(&failed, 1);                              \
	} while (0)

static uint64_t pa_of(uint64_t ipa)
{
	return ipa + PA_OFFSET;
}

static uint64_t page_ipa(unsigned int i)
{
	return region_base[i / PAGES_PER_REGION] + (uint64_t)(i % PAGES_PER_REGION) * SZ_4K;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void count(int ret)
{
	if (ret == 0)
		atomic_fetch_add(&n_ok, 1);
	else if (ret == S2_EAGAIN)
		atomic_fetch_add(&n_again, 1);
	else if (ret == S2_EBUSY)
		atomic_fetch_add(&n_busy, 1);
	else if (ret == S2_ENOENT)
		atomic_fetch_add(&n_noent, 1);
}

/* The fault path: map one page under the shared lock; when the engine needs a structural
 * change (S2_EBUSY), retake the lock exclusive and map without S2_MAP_SHARED. */
static int fault_map(uint64_t ipa, uint64_t prot, struct s2_page_cache *cache)
{
	int ret;

	ret = s2_page_cache_topup(cache, &port, SZ_4K, 4);
	if (ret) {
		FAIL("page cache topup");
		return S2_ENOMEM;
	}
	pthread_rwlock_rdlock(&lock);
	ret = s2_pgtable_map(&pgt, s2_ipa(ipa), SZ_4K, s2_pa(pa_of(ipa)), prot, S2_MAP_SHARED,
			     cache);
	pthread_rwlock_unlock(&lock);
	count(ret);
	if (ret == S2_EBUSY) {
		pthread_rwlock_wrlock(&lock);
		ret = s2_pgtable_map(&pgt, s2_ipa(ipa), SZ_4K, s2_pa(pa_of(ipa)), prot, 0, cache);
		pthread_rwlock_unlock(&lock);
	}
	if (ret != 0 && ret != S2_EAGAIN)
		FAIL("map 0x%" PRIx64 " (prot 0x%" PRIx64 ") returned %s", ipa, prot,
		     s2_errname(ret));
	return ret;
}

static void *reader(void *arg)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(uintptr_t)arg + 1;
	struct s2_page_cache cache = { 0 };

	/* Phase A: the mix. */
	for (unsigned long n = 0; n < ops_per_thread && !atomic_load(&failed); n++) {
		uint64_t r = rnd(&seed);
		uint64_t ipa = page_ipa((unsigned int)((r >> 8) % NR_PAGES));
		struct s2_lookup lk;
		int ret;

		switch (r % 8) {
		case 0:
		case 1:
		case 2:
			fault_map(ipa, S2_PROT_R | S2_PROT_W | ((r >> 40) & 1 ? S2_PROT_X : 0),
				  &cache);
			break;
		case 3:
		case 4:
			pthread_rwlock_rdlock(&lock);
			ret = s2_pgtable_relax_perms(&pgt, s2_ipa(ipa),
						     (r >> 40) & 1 ? S2_PROT_X : S2_PROT_W);
			pthread_rwlock_unlock(&lock);
			count(ret);
			if (ret && ret != S2_ENOENT && ret != S2_EAGAIN)
				FAIL("relax_perms 0x%" PRIx64 ": %s", ipa, s2_errname(ret));
			break;
		case 5:
			pthread_rwlock_rdlock(&lock);
			ret = s2_pgtable_mkyoung(&pgt, s2_ipa(ipa));
			pthread_rwlock_unlock(&lock);
			count(ret);
			if (ret && ret != S2_ENOENT && ret != S2_EAGAIN)
				FAIL("mkyoung 0x%" PRIx64 ": %s", ipa, s2_errname(ret));
			break;
		default:
			pthread_rwlock_rdlock(&lock);
			ret = s2_pgtable_lookup(&pgt, s2_ipa(ipa), &lk);
			pthread_rwlock_unlock(&lock);
			if (ret)
				FAIL("lookup 0x%" PRIx64 ": %s", ipa, s2_errname(ret));
			else if (lk.valid && s2_pa_val(lk.pa) != pa_of(ipa))
				FAIL("lookup 0x%" PRIx64 " -> pa 0x%" PRIx64
				     ", expected 0x%" PRIx64,
				     ipa, s2_pa_val(lk.pa), pa_of(ipa));
			break;
		}
	}
	atomic_fetch_sub(&readers_left, 1);
	/*
	 * Phase B starts when the writer has stopped (not merely seen readers_left reach 0: its
	 * last unmap could still come after a page was mapped here): every thread maps every page.
	 */
	while (atomic_load(&readers_left) > 0 || !atomic_load(&writer_done))
		sched_yield();
	for (unsigned int k = 0; k < NR_PAGES && !atomic_load(&failed); k++) {
		unsigned int i = (unsigned int)((k + (uintptr_t)arg * 37) % NR_PAGES);

		for (int tries = 0; tries < 100; tries++)
			if (fault_map(page_ipa(i), S2_PROT_R | S2_PROT_W, &cache) == 0)
				break;
	}
	pthread_rwlock_wrlock(&lock);
	s2_page_cache_drain(&cache, &port, SZ_4K);
	pthread_rwlock_unlock(&lock);
	return NULL;
}

static void *writer(void *arg)
{
	uint64_t seed = 0x1234567;
	struct s2_page_cache cache = { 0 };
	struct timespec ts = { 0, 100000 };

	(void)arg;
	while (atomic_load(&readers_left) > 0 && !atomic_load(&failed)) {
		uint64_t r = rnd(&seed);
		unsigned int reg = (unsigned int)((r >> 8) % NR_REGIONS);
		uint64_t base = region_base[reg];
		uint64_t first = (r >> 16) % PAGES_PER_REGION, pages = 1 + (r >> 24) % 16;
		int ret = 0;

		nanosleep(&ts, NULL);
		if (pages > PAGES_PER_REGION - first)
			pages = PAGES_PER_REGION - first;
		ret = s2_page_cache_topup(&cache, &port, SZ_4K, 16);
		if (ret) {
			FAIL("writer topup");
			break;
		}
		pthread_rwlock_wrlock(&lock);
		switch (r % 6) {
		case 0: /* unmap a few pages */
			ret = s2_pgtable_unmap(&pgt, s2_ipa(base + first * SZ_4K), pages * SZ_4K,
					       &cache);
			break;
		case 1: /* unmap a whole region: its table may be freed and reinstalled */
			ret = s2_pgtable_unmap(
				&pgt, s2_ipa(base),
				reg == BLOCK_REGION ? SZ_2M : PAGES_PER_REGION * SZ_4K, &cache);
			break;
		case 2:
			ret = s2_pgtable_wrprotect(&pgt, s2_ipa(base), PAGES_PER_REGION * SZ_4K);
			break;
		case 3: /* a block over the block region (replacing whatever is there) */
			ret = s2_pgtable_map(&pgt, s2_ipa(region_base[BLOCK_REGION]), SZ_2M,
					     s2_pa(pa_of(region_base[BLOCK_REGION])),
					     S2_PROT_R | S2_PROT_W, 0, &cache);
			break;
		case 4:
			ret = s2_pgtable_split(&pgt, s2_ipa(region_base[BLOCK_REGION]), SZ_2M,
					       &cache);
			if (ret == S2_ENOMEM)
				ret = 0; /* partial; tops up next time */
			break;
		default: {
			unsigned int collapsed;

			ret = s2_pgtable_collapse(&pgt, s2_ipa(region_base[BLOCK_REGION]), SZ_2M,
						  &collapsed);
			break;
		}
		}
		pthread_rwlock_unlock(&lock);
		if (ret)
			FAIL("writer op %" PRIu64 " on region %u: %s", r % 6, reg, s2_errname(ret));
	}
	atomic_store(&writer_done, 1);
	pthread_rwlock_wrlock(&lock);
	s2_page_cache_drain(&cache, &port, SZ_4K);
	pthread_rwlock_unlock(&lock);
	return NULL;
}

static int check_tables(const char *when)
{
	struct s2_check_report rep;
	struct s2_host_stats hs;
	int ret;

	memset(&rep, 0, sizeof(rep));
	ret = s2_pgtable_check(&pgt, &rep);
	if (ret) {
		FAIL("%s: s2_pgtable_check: %s: %s", when, s2_errname(ret), rep.first_error);
		return -1;
	}
	hs = s2_host_port_stats(hp);
	if (hs.pages_in_use != rep.table_pages) {
		FAIL("%s: port has %" PRIu64 " pages in use, tables %" PRIu64 " (leak)", when,
		     hs.pages_in_use, rep.table_pages);
		return -1;
	}
	printf("pgtable_stress: %s: %" PRIu64 " table pages, %" PRIu64 " leaves\n", when,
	       rep.table_pages, rep.leaves);
	return 0;
}

int main(void)
{
	struct s2_caps caps;
	struct s2_config_req req = { .ipa_bits = 40, .granule = S2_GRANULE_4K, .flags = 0 };
	struct s2_host_port_opts opts = { .pa_base = UINT64_C(0x40000000),
					  .arena_bytes = UINT64_C(16) << 20,
					  .log_capacity = 0 };
	struct s2_walk_mem mem;
	pthread_t th[NR_READERS + 1];
	const char *env = getenv("S2_STRESS_OPS");
	int ret;

	if (env && *env)
		ops_per_thread = strtoul(env, NULL, 0);
	if (s2_caps_max(48, &caps) || s2_config_init(&cfg, &caps, &req) ||
	    s2_host_port_create(&opts, &hp)) {
		fprintf(stderr, "pgtable_stress: setup failed\n");
		return 1;
	}
	host = s2_host_port_port(hp);
	port = host; /* keeps the linear PA<->VA fast path the host port offers */
	port.ops = &shim_ops;
	ret = s2_pgtable_init(&pgt, &cfg, &port, NULL);
	if (ret) {
		fprintf(stderr, "pgtable_stress: init: %s\n", s2_errname(ret));
		return 1;
	}

	atomic_store(&readers_left, NR_READERS);
	for (uintptr_t i = 0; i < NR_READERS; i++)
		pthread_create(&th[i], NULL, reader, (void *)i);
	pthread_create(&th[NR_READERS], NULL, writer, NULL);
	for (int i = 0; i <= NR_READERS; i++)
		pthread_join(th[i], NULL);
	printf("pgtable_stress: %lu ops/thread: %lu ok, %lu EAGAIN, %lu EBUSY, %lu ENOENT\n",
	       ops_per_thread, atomic_load(&n_ok), atomic_load(&n_again), atomic_load(&n_busy),
	       atomic_load(&n_noent));
	if (atomic_load(&failed))
		return 1;

	/* Every page is mapped, to its own output address, readable. */
	mem = s2_host_port_walk_mem(hp);
	mem.cas64 = NULL;
	for (unsigned int i = 0; i < NR_PAGES; i++) {
		struct s2_access rd = { .type = S2_ACCESS_READ, .el0 = false, .s1ptw = false };
		struct s2_walk_result res;
		uint64_t ipa = page_ipa(i);

		ret = s2_walk(&cfg, pgt.root_pa, &mem, s2_ipa(ipa), rd, &res);
		if (ret || res.fault != S2_FAULT_NONE || s2_pa_val(res.pa) != pa_of(ipa)) {
			FAIL("page 0x%" PRIx64 ": walk %s, fault %s, pa 0x%" PRIx64
			     " (expected 0x%" PRIx64 ")",
			     ipa, s2_errname(ret), s2_fault_name(res.fault), s2_pa_val(res.pa),
			     pa_of(ipa));
			break;
		}
	}
	if (atomic_load(&failed) || check_tables("after the threads"))
		return 1;

	/* Unmap everything: only the root may remain. */
	for (int r = 0; r < NR_REGIONS; r++) {
		ret = s2_pgtable_unmap(&pgt, s2_ipa(region_base[r]), SZ_2M, NULL);
		if (ret) {
			FAIL("final unmap: %s", s2_errname(ret));
			return 1;
		}
	}
	if (check_tables("after unmapping everything"))
		return 1;
	if (s2_host_port_stats(hp).pages_in_use != cfg.root_tables) {
		FAIL("after unmapping everything %" PRIu64 " pages remain, root is %u",
		     s2_host_port_stats(hp).pages_in_use, cfg.root_tables);
		return 1;
	}
	s2_pgtable_destroy(&pgt);
	if (s2_host_port_stats(hp).pages_in_use != 0) {
		FAIL("after destroy %" PRIu64 " pages remain", s2_host_port_stats(hp).pages_in_use);
		return 1;
	}
	s2_host_port_destroy(hp);
	printf("pgtable_stress: OK\n");
	return 0;
}
