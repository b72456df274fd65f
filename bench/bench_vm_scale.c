// SPDX-License-Identifier: MIT
/*
 * bench_vm_scale.c - the VM layer where hardware makes it matter (bench/README.md, "Numbers
 * that matter on hardware"), through the public VM API only (s2mmu/vm.h):
 *
 * - Concurrency: vCPU threads faulting pages of one VM through s2_vm_handle_abort(), which
 *   takes the MMU lock shared (a pthread rwlock behind the VM's lock hooks): one thread
 *   faulting every page, two threads faulting disjoint halves, two threads faulting the
 *   interleaved pages of the same tables, and two threads faulting the same pages at the same
 *   time. Reported: faults per second (wall) and against one thread, and how many faults each
 *   thread found already resolved (S2_RESUME_RETRY). Verified: every page mapped exactly once
 *   (the MAPPED outcomes add up to the pages and to the VM's `mapped` counter, the retries to
 *   its `retries`), every page walked by the reference walker (all, or --samples),
 *   s2_pgtable_check() with one leaf per page and right reference counts.
 * - Dirty logging at scale: a VM with one RAM slot (default 64 GiB; 2 MiB host pages, so it
 *   faults in as blocks that enabling the log splits), logging on, a given share of its pages
 *   written (fault-based: write permission faults through s2_vm_handle_abort(); DBM: hardware
 *   writes done by the reference walker's DBM update), then one measured
 *   s2_vm_dirty_log_get(): harvest the bitmap and re-protect what was written. Reported per
 *   page of the slot and per dirty page. Verified: the count and every bit of the bitmap, the
 *   sampled pages walked (written pages read-only again, or clean-writable with DBM; clean
 *   ones unchanged), s2_pgtable_check(), a second harvest finding nothing.
 *
 * Output as the other benchmarks (bench_common.h): a summary and, with --out, JSON records.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s2mmu/pgtable.h"
#include "s2mmu/vm.h"
#include "s2mmu/walk.h"
#include "host_port.h"

#include "bench_common.h"

#define BENCH_IPA_BASE (UINT64_C(64) << 30)
#define BENCH_PA_BASE (UINT64_C(512) << 30)
#define BENCH_ARENA_PA (UINT64_C(4) << 30)

/* Syndromes as the hardware builds them (Arm ARM D19.2.48 ESR_EL2, D19.2.55 HPFAR_EL2). */
#define ESR_DABT_LOW_WRITE ((UINT64_C(0x24) << 26) | (UINT64_C(1) << 25) | (UINT64_C(1) << 6))
#define DFSC_TRANS_L1 UINT64_C(0x05) /* the walk found no table at level 1 */
#define DFSC_TRANS_L3 UINT64_C(0x07)
#define DFSC_PERM_L3 UINT64_C(0x0f)

static uint64_t hpfar_of(uint64_t ipa)
{
	return ((ipa >> 12) << 4) & ((UINT64_C(1) << 44) - 1);
}

static uint64_t far_of(uint64_t ipa)
{
	return UINT64_C(0x0000ffff80000000) | (ipa & 0xfff);
}

static struct {
	uint64_t conc_bytes; /* --conc-mib */
	uint64_t dirty_bytes; /* --dirty-gib */
	unsigned int pcts[4]; /* --dirty-pct */
	unsigned int nr_pcts;
} vopts = {
	.conc_bytes = 256 * MIB,
	.dirty_bytes = 64 * GIB,
	.pcts = { 1, 10, 100 },
	.nr_pcts = 3,
};

struct bench {
	struct s2_host_port *hp;
	struct s2_caps caps;
	uint64_t size;
	struct s2_vmid_alloc vmids;
	struct s2_memslot slots[2];
	struct s2_vm vm;
	struct s2_vcpu vcpu[2];
	unsigned int nr_vcpus;
	bool live;
	pthread_rwlock_t mmu;
	pthread_mutex_t slots_lock, owner_lock;
};

/* ---- the port: the host port with its allocator serialised --------------------------------- */

/*
 * The hosted port's page arena is not thread-safe (port/host/host_port.h), and two vCPU threads
 * top up their page caches from it at the same time (outside the MMU lock), and free the tables
 * of a lost install race. A host kernel's page allocator is thread-safe: give the port one by
 * serialising alloc/free with a mutex. The other callbacks are safe as they are.
 */
static pthread_mutex_t port_lock = PTHREAD_MUTEX_INITIALIZER;
static struct s2_port_ops locked_ops;
static const struct s2_port_ops *host_ops;

static void *locked_alloc_pages(void *ctx, size_t bytes)
{
	void *va;

	pthread_mutex_lock(&port_lock);
	va = host_ops->alloc_pages(ctx, bytes);
	pthread_mutex_unlock(&port_lock);
	return va;
}

static void locked_free_pages(void *ctx, void *va, size_t bytes)
{
	pthread_mutex_lock(&port_lock);
	host_ops->free_pages(ctx, va, bytes);
	pthread_mutex_unlock(&port_lock);
}

static struct s2_port locked_port(struct s2_port port)
{
	host_ops = port.ops;
	locked_ops = *port.ops;
	locked_ops.alloc_pages = locked_alloc_pages;
	locked_ops.free_pages = locked_free_pages;
	port.ops = &locked_ops;
	return port;
}

/* ---- the VM's locks: what a host kernel would give it -------------------------------------- */

static void hk_lock(void *ctx, enum s2_vm_lock l)
{
	struct bench *b = ctx;

	switch (l) {
	case S2_VM_LOCK_SLOTS:
		pthread_mutex_lock(&b->slots_lock);
		break;
	case S2_VM_LOCK_MMU_SHARED:
		pthread_rwlock_rdlock(&b->mmu);
		break;
	case S2_VM_LOCK_MMU_EXCL:
		pthread_rwlock_wrlock(&b->mmu);
		break;
	case S2_VM_LOCK_OWNER:
		pthread_mutex_lock(&b->owner_lock);
		break;
	}
}

static void hk_unlock(void *ctx, enum s2_vm_lock l)
{
	struct bench *b = ctx;

	switch (l) {
	case S2_VM_LOCK_SLOTS:
		pthread_mutex_unlock(&b->slots_lock);
		break;
	case S2_VM_LOCK_MMU_SHARED:
	case S2_VM_LOCK_MMU_EXCL:
		pthread_rwlock_unlock(&b->mmu);
		break;
	case S2_VM_LOCK_OWNER:
		pthread_mutex_unlock(&b->owner_lock);
		break;
	}
}

/* A VM of @size bytes of RAM at BENCH_IPA_BASE (backed at BENCH_PA_BASE in @backing-sized
 * host pages), 4K/40-bit, FWB (+ HA/HD for @dbm), @vcpus vCPUs entered once. */
static int vm_create(struct bench *b, uint64_t size, uint64_t backing, bool dbm, unsigned int vcpus)
{
	uint64_t arena = S2_ALIGN_UP((size / BLOCK_2M + size / GIB + 256) * PAGE_4K +
					     size / PAGE_4K / 8 + 8 * MIB,
				     64 * 1024);
	struct s2_host_port_opts po = { .pa_base = BENCH_ARENA_PA,
					.arena_bytes = arena,
					.log_capacity = 0 };
	struct s2_vm_params p = {
		.caps = &b->caps,
		.req = { .ipa_bits = 40,
			 .granule = S2_GRANULE_4K,
			 .flags = S2_CFG_FWB | (dbm ? S2_CFG_HA | S2_CFG_HD : 0) },
		.hooks = { .lock = hk_lock,
			   .unlock = hk_unlock,
			   .load_stage2 = s2_host_port_load_stage2,
			   .ctx = b },
		.vmids = &b->vmids,
		.slots = b->slots,
		.max_slots = 2,
	};
	struct s2_memslot_desc d = {
		.id = 1,
		.ipa = s2_ipa(BENCH_IPA_BASE),
		.size = size,
		.backing = S2_BACKING_RAM,
		.pa = s2_pa(BENCH_PA_BASE),
		.host_type = S2_HOSTMEM_NORMAL,
		.backing_page_size = backing,
	};
	struct s2_vcpu_entry entry;
	unsigned int i;
	int ret;

	memset(b, 0, sizeof(*b));
	b->size = size;
	pthread_rwlock_init(&b->mmu, NULL);
	pthread_mutex_init(&b->slots_lock, NULL);
	pthread_mutex_init(&b->owner_lock, NULL);
	ret = s2_caps_max(48, &b->caps);
	if (!ret)
		ret = s2_host_port_create(&po, &b->hp);
	if (ret) {
		FAIL("caps/host port (%" PRIu64 " bytes): %d", arena, ret);
		return -1;
	}
	p.port = locked_port(s2_host_port_port(b->hp));
	ret = s2_vmid_alloc_init(&b->vmids, 16);
	if (!ret)
		ret = s2_vm_init(&b->vm, &p);
	if (ret) {
		FAIL("s2_vm_init: %d", ret);
		return -1;
	}
	b->live = true;
	ret = s2_vm_slot_add(&b->vm, &d);
	for (i = 0; !ret && i < vcpus; i++) {
		ret = s2_vcpu_init(&b->vcpu[i], &b->vm, i);
		if (!ret)
			b->nr_vcpus++;
		if (!ret)
			ret = s2_vm_vcpu_enter(&b->vcpu[i], &entry);
	}
	if (ret)
		FAIL("slot/vCPU setup: %d", ret);
	return ret ? -1 : 0;
}

static void vm_destroy(struct bench *b)
{
	unsigned int i;

	if (b->live) {
		for (i = 0; i < b->nr_vcpus; i++)
			s2_vcpu_destroy(&b->vcpu[i]);
		s2_vm_destroy(&b->vm);
		if (s2_host_port_stats(b->hp).pages_in_use)
			FAIL("VM destroyed with %" PRIu64 " pages still allocated",
			     s2_host_port_stats(b->hp).pages_in_use);
	}
	b->live = false;
	if (b->hp)
		s2_host_port_destroy(b->hp);
	b->hp = NULL;
	pthread_rwlock_destroy(&b->mmu);
	pthread_mutex_destroy(&b->slots_lock);
	pthread_mutex_destroy(&b->owner_lock);
}

static int fault(struct s2_vcpu *vcpu, uint64_t dfsc, uint64_t ipa, struct s2_abort_result *r)
{
	return s2_vm_handle_abort(vcpu, ESR_DABT_LOW_WRITE | dfsc, far_of(ipa), hpfar_of(ipa), r);
}

/* ---- checking ---------------------------------------------------------------------------- */

struct page_ctx {
	struct bench *b;
	const char *op;
	unsigned int (*s2ap_of)(void *arg, uint64_t off); /* expected S2AP */
	void *arg;
	bool dbm_of_clean; /* clean-writable pages carry DBM */
};

static int check_page(void *ctx, uint64_t off)
{
	struct page_ctx *c = ctx;
	struct s2_walk_mem mem = s2_host_port_walk_mem(c->b->hp);
	struct s2_access rd = { .type = S2_ACCESS_READ };
	struct s2_walk_result res;
	uint64_t ipa = BENCH_IPA_BASE + off;
	unsigned int s2ap = c->s2ap_of(c->arg, off);
	int ret;

	mem.cas64 = NULL; /* look, do not update */
	ret = s2_walk(&c->b->vm.pgt.cfg, c->b->vm.pgt.root_pa, &mem, s2_ipa(ipa), rd, &res);
	if (ret || res.fault != S2_FAULT_NONE || s2_pa_val(res.pa) != BENCH_PA_BASE + off ||
	    res.level != 3 || res.block_size != PAGE_4K || res.s2ap != s2ap ||
	    (c->dbm_of_clean && !res.dbm)) {
		FAIL("%s: IPA %#" PRIx64 ": walk %d %s pa %#" PRIx64 " L%d size %#" PRIx64
		     " s2ap %u dbm %d; expected pa %#" PRIx64 " L3 4K s2ap %u%s",
		     c->op, ipa, ret, s2_fault_name(res.fault), s2_pa_val(res.pa), res.level,
		     res.block_size, res.s2ap, res.dbm, BENCH_PA_BASE + off, s2ap,
		     c->dbm_of_clean ? " dbm" : "");
		return -1;
	}
	return 0;
}

static int check_tree(struct bench *b, const char *op)
{
	return bench_check_leaves(op, &b->vm.pgt, b->size / PAGE_4K);
}

static unsigned int s2ap_rw(void *arg, uint64_t off)
{
	return S2_S2AP_RW;
}

/* ---- concurrency ---------------------------------------------------------------------------- */

enum conc_mode {
	CONC_ONE, /* one thread, every page */
	CONC_DISJOINT, /* two threads, one half each (separate L3 tables) */
	CONC_INTERLEAVED, /* two threads, even and odd pages (the same L3 tables) */
	CONC_SAME, /* two threads, every page, racing on each */
};

static const char *const conc_names[] = { "conc_fault_1t", "conc_fault_2t_disjoint",
					  "conc_fault_2t_interleaved", "conc_fault_2t_same" };

struct conc_thread {
	struct bench *b;
	struct s2_vcpu *vcpu;
	pthread_barrier_t *start;
	uint64_t first, step, end; /* page offsets (bytes) faulted: first, first + step, ... */
	uint64_t mapped, retried, other;
	uint64_t t0, t1, cpu; /* wall start/end, thread CPU time (ns) */
	int ret;
};

static void *conc_run(void *arg)
{
	struct conc_thread *t = arg;
	struct s2_abort_result r;
	uint64_t off, c0;

	pthread_barrier_wait(t->start);
	t->t0 = bench_now_ns(CLOCK_MONOTONIC);
	c0 = bench_now_ns(CLOCK_THREAD_CPUTIME_ID);
	for (off = t->first; off < t->end; off += t->step) {
		if (!(off & (BLOCK_2M - 1)))
			continue; /* mapped at setup */
		t->ret = fault(t->vcpu, DFSC_TRANS_L3, BENCH_IPA_BASE + off, &r);
		if (t->ret)
			break;
		if (r.action == S2_ABORT_RESUME && r.resume == S2_RESUME_MAPPED)
			t->mapped++;
		else if (r.action == S2_ABORT_RESUME && r.resume == S2_RESUME_RETRY)
			t->retried++;
		else
			t->other++;
	}
	t->cpu = bench_now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	t->t1 = bench_now_ns(CLOCK_MONOTONIC);
	return NULL;
}

struct conc_result {
	double wall_ns; /* first start to last end */
	double cpu_ns; /* both threads */
	uint64_t faults, mapped, retried[2];
};

static int conc_once(enum conc_mode mode, struct conc_result *res)
{
	struct bench b;
	struct conc_thread t[2];
	pthread_barrier_t start;
	pthread_t th[2];
	unsigned int n = mode == CONC_ONE ? 1 : 2, i;
	uint64_t size = vopts.conc_bytes, off, pages = size / PAGE_4K;
	uint64_t tables = size / BLOCK_2M, t0 = UINT64_MAX, t1 = 0;
	struct s2_abort_result r;
	struct page_ctx pc;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	if (vm_create(&b, size, PAGE_4K, false, n))
		goto out;
	/* Page 0 of every 2 MiB, so every L3 table exists (the measured faults map leaves). */
	for (off = 0; off < size; off += BLOCK_2M)
		if (fault(&b.vcpu[0], DFSC_TRANS_L3, BENCH_IPA_BASE + off, &r) ||
		    r.resume != S2_RESUME_MAPPED) {
			FAIL("%s setup: fault at %#" PRIx64, conc_names[mode], off);
			goto out;
		}
	b.vm.stats.mapped = 0;
	pthread_barrier_init(&start, NULL, n);
	for (i = 0; i < n; i++) {
		t[i] = (struct conc_thread){ .b = &b, .vcpu = &b.vcpu[i], .start = &start };
		switch (mode) {
		case CONC_ONE:
		case CONC_SAME:
			t[i].first = 0, t[i].step = PAGE_4K, t[i].end = size;
			break;
		case CONC_DISJOINT:
			t[i].first = i * size / 2, t[i].step = PAGE_4K;
			t[i].end = (i + 1) * size / 2;
			break;
		case CONC_INTERLEAVED:
			t[i].first = i * PAGE_4K, t[i].step = 2 * PAGE_4K, t[i].end = size;
			break;
		}
	}
	for (i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, conc_run, &t[i])) {
			FAIL("pthread_create");
			goto out; /* (the barrier never opens: not reached in practice) */
		}
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	for (i = 0; i < n; i++) {
		if (t[i].ret || t[i].other) {
			FAIL("%s: thread %u: %d, %" PRIu64 " unexpected outcomes", conc_names[mode],
			     i, t[i].ret, t[i].other);
			goto out;
		}
		t0 = t[i].t0 < t0 ? t[i].t0 : t0;
		t1 = t[i].t1 > t1 ? t[i].t1 : t1;
		res->cpu_ns += (double)t[i].cpu;
		res->mapped += t[i].mapped;
		res->retried[i] = t[i].retried;
		res->faults += t[i].mapped + t[i].retried;
	}
	res->wall_ns = (double)(t1 - t0);
	/* Every page mapped exactly once: no fault lost, none mapped twice. */
	if (res->mapped != pages - tables || b.vm.stats.mapped != pages - tables ||
	    b.vm.stats.retries != res->retried[0] + res->retried[1]) {
		FAIL("%s: %" PRIu64 " MAPPED outcomes, VM counted %" PRIu64 " mapped and %" PRIu64
		     " retries (threads %" PRIu64 "); expected %" PRIu64 " mapped",
		     conc_names[mode], res->mapped, b.vm.stats.mapped, b.vm.stats.retries,
		     res->retried[0] + res->retried[1], pages - tables);
		goto out;
	}
	pc = (struct page_ctx){ &b, conc_names[mode], s2ap_rw, NULL, false };
	if (bench_verify_pages(size, check_page, &pc) || check_tree(&b, conc_names[mode]))
		goto out;
	ret = 0;
out:
	vm_destroy(&b);
	return ret;
}

static void run_conc(void)
{
	double base_rate = 0;
	unsigned int m, r;

	for (m = CONC_ONE; m <= CONC_SAME; m++) {
		struct conc_result best = { 0 }, cur;
		double walls[64], cpus[64], wmin = 0;
		uint64_t retr[2] = { 0, 0 };
		char extra[512];
		bool ok = true;

		for (r = 0; r < bench_opts.reps && ok; r++) {
			ok = !conc_once((enum conc_mode)m, &cur);
			walls[r] = cur.wall_ns;
			cpus[r] = cur.cpu_ns;
			retr[0] += cur.retried[0];
			retr[1] += cur.retried[1];
			if (!r || cur.wall_ns < wmin)
				wmin = cur.wall_ns, best = cur;
		}
		if (!ok) {
			printf("%-30s FAILED\n", conc_names[m]);
			continue;
		}
		/* Median wall time of the runs: faults per second of the VM. */
		for (unsigned int i = 1; i < r; i++)
			for (unsigned int j = i; j > 0 && walls[j] < walls[j - 1]; j--) {
				double w = walls[j];

				walls[j] = walls[j - 1], walls[j - 1] = w;
				w = cpus[j], cpus[j] = cpus[j - 1], cpus[j - 1] = w;
			}
		{
			double wall = walls[r / 2], cpu = cpus[r / 2];
			uint64_t faults = best.faults;
			double rate = (double)faults / wall * 1e9; /* faults handled per second */

			if (m == CONC_ONE)
				base_rate = rate;
			snprintf(extra, sizeof(extra),
				 "\"wall_ns_per_fault\": %.3f, \"cpu_ns_per_fault\": %.3f, "
				 "\"faults_per_s\": %.0f, \"speedup_vs_1t\": %.3f, "
				 "\"mapped\": %" PRIu64 ", \"retries_per_run\": [%.1f, %.1f], ",
				 wall / (double)faults, cpu / (double)faults, rate,
				 base_rate ? rate / base_rate : 0, best.mapped, (double)retr[0] / r,
				 (double)retr[1] / r);
			printf("%-30s %10" PRIu64 " fault %8.1f ns/fault wall, %6.1f CPU, "
			       "%.2fx one thread, retries/run %.0f + %.0f  verified\n",
			       conc_names[m], faults, wall / (double)faults, cpu / (double)faults,
			       base_rate ? rate / base_rate : 0, (double)retr[0] / r,
			       (double)retr[1] / r);
			if (bench_opts.out) {
				fprintf(bench_opts.out,
					"{\"op\": \"%s\", \"unit\": \"fault\", \"units\": %" PRIu64
					", \"size_mib\": %" PRIu64 ", \"threads\": %u, "
					"\"ns_per_unit\": %.3f, %s\"verified\": true}\n",
					conc_names[m], faults, vopts.conc_bytes / MIB,
					m == CONC_ONE ? 1 : 2, wall / (double)faults, extra);
				fflush(bench_opts.out);
			}
		}
	}
}

/* ---- dirty logging at scale ------------------------------------------------------------------- */

struct dirty_arg {
	uint64_t every; /* one page in @every written (pages at index % every == 0) */
	bool harvested; /* after the harvest: written pages read-only (or clean DBM) again */
	bool dbm;
};

static bool written(const struct dirty_arg *a, uint64_t off)
{
	return (off / PAGE_4K) % a->every == 0;
}

static unsigned int s2ap_dirty(void *arg, uint64_t off)
{
	const struct dirty_arg *a = arg;

	/* Fault-based: clean pages and harvested ones are read-only; written ones RW until
	 * harvested. DBM: S2AP RO + DBM when clean (the hardware grants W on write). */
	if (written(a, off) && !a->harvested)
		return S2_S2AP_RW;
	return S2_S2AP_RO;
}

/* Write one page as the guest would: fault-based, a write permission fault; DBM, a hardware
 * write (the reference walker sets the page's S2AP W through its DBM update). */
static int guest_write(struct bench *b, bool dbm, uint64_t off)
{
	uint64_t ipa = BENCH_IPA_BASE + off;

	if (dbm) {
		struct s2_walk_mem mem = s2_host_port_walk_mem(b->hp);
		struct s2_access wr = { .type = S2_ACCESS_WRITE };
		struct s2_walk_result res;

		if (s2_walk(&b->vm.pgt.cfg, b->vm.pgt.root_pa, &mem, s2_ipa(ipa), wr, &res) ||
		    res.fault != S2_FAULT_NONE || !res.hw_updated)
			return -1;
		return 0;
	}
	{
		struct s2_abort_result r;

		if (fault(&b->vcpu[0], DFSC_PERM_L3, ipa, &r) || r.action != S2_ABORT_RESUME ||
		    r.resume != S2_RESUME_RELAXED)
			return -1;
		return 0;
	}
}

/* The median of @n values (sorted in place). */
static double median_u64(uint64_t *v, unsigned int n)
{
	unsigned int j, k;

	for (j = 1; j < n; j++)
		for (k = j; k > 0 && v[k] < v[k - 1]; k--) {
			uint64_t w = v[k];

			v[k] = v[k - 1], v[k - 1] = w;
		}
	return n & 1 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

/*
 * One VM per mode and repetition: the slot faulted in (2 MiB blocks), logging enabled (the
 * blocks split to pages, everything write-protected or clean-writable), then for each
 * percentage in turn: the share of pages written, one measured harvest, its verification
 * (after which every page is clean again, the start of the next percentage).
 */
static void run_dirty_mode(bool dbm)
{
	uint64_t size = vopts.dirty_bytes, pages = size / PAGE_4K, off, nr, words, i;
	uint64_t ns[4][64], wall[4][64], expect[4], *bitmap = NULL, t0, w0;
	const char *mode = dbm ? "dbm" : "fault";
	struct s2_abort_result r;
	char op[4][64];
	struct page_ctx pc;
	struct bench b;
	unsigned int rep, p;
	bool ok = true;
	int ret;

	for (p = 0; p < vopts.nr_pcts; p++)
		snprintf(op[p], sizeof(op[p]), "dirty_round_%s_%upct_%" PRIu64 "g", mode,
			 vopts.pcts[p], size / GIB);
	words = (pages + 63) / 64;
	bitmap = malloc(words * sizeof(*bitmap));
	if (!bitmap) {
		FAIL("dirty %s: out of memory", mode);
		return;
	}
	for (rep = 0; rep < bench_opts.reps && ok; rep++) {
		ok = false;
		if (vm_create(&b, size, BLOCK_2M, dbm, 1))
			goto next;
		/* The hardware reports the level at which the walk found nothing: 1 for the
		 * first fault of every 1 GiB, 2 for the others. */
		for (off = 0; off < size; off += BLOCK_2M)
			if (fault(&b.vcpu[0], off & (GIB - 1) ? DFSC_TRANS_L1 + 1 : DFSC_TRANS_L1,
				  BENCH_IPA_BASE + off, &r) ||
			    r.resume != S2_RESUME_MAPPED || r.map_size != BLOCK_2M) {
				FAIL("dirty %s setup: fault at %#" PRIx64 ": %s/%s, %#" PRIx64
				     " mapped",
				     mode, off, s2_abort_action_name(r.action),
				     s2_resume_reason_name(r.resume), r.map_size);
				goto next;
			}
		ret = s2_vm_dirty_log_enable(&b.vm, 1, dbm);
		if (ret) {
			FAIL("dirty %s: s2_vm_dirty_log_enable: %d", mode, ret);
			goto next;
		}
		for (p = 0; p < vopts.nr_pcts; p++) {
			struct dirty_arg a = { .every = 100 / vopts.pcts[p], .dbm = dbm };

			for (off = 0, expect[p] = 0; off < size; off += PAGE_4K)
				if (written(&a, off)) {
					if (guest_write(&b, dbm, off)) {
						FAIL("%s setup: guest write at %#" PRIx64, op[p],
						     off);
						goto next;
					}
					expect[p]++;
				}
			/* The starting state: written pages writable, the others not. */
			pc = (struct page_ctx){ &b, op[p], s2ap_dirty, &a, false };
			if (check_page(&pc, 0) || (a.every > 1 && check_page(&pc, PAGE_4K)))
				goto next;

			bench_cg_start();
			w0 = bench_now_ns(CLOCK_MONOTONIC);
			t0 = bench_now_ns(CLOCK_THREAD_CPUTIME_ID);
			ret = s2_vm_dirty_log_get(&b.vm, 1, bitmap, words, &nr);
			ns[p][rep] = bench_now_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
			wall[p][rep] = bench_now_ns(CLOCK_MONOTONIC) - w0;
			bench_cg_dump(op[p]);
			if (ret || nr != expect[p]) {
				FAIL("%s: s2_vm_dirty_log_get: %d, %" PRIu64
				     " dirty, expected %" PRIu64,
				     op[p], ret, nr, expect[p]);
				goto next;
			}
			for (i = 0; i < pages; i++)
				if (!!(bitmap[i / 64] & (UINT64_C(1) << (i % 64))) !=
				    written(&a, i * PAGE_4K)) {
					FAIL("%s: bit %" PRIu64 " of the dirty bitmap wrong", op[p],
					     i);
					goto next;
				}
			a.harvested = true;
			pc.dbm_of_clean = dbm;
			if (bench_verify_pages(size, check_page, &pc) || check_tree(&b, op[p]))
				goto next;
		}
		/* Nothing written since: a harvest finds nothing. */
		ret = s2_vm_dirty_log_get(&b.vm, 1, bitmap, words, &nr);
		if (ret || nr) {
			FAIL("dirty %s: harvest with nothing written: %d, %" PRIu64 " dirty", mode,
			     ret, nr);
			goto next;
		}
		ok = true;
next:
		vm_destroy(&b);
	}
	free(bitmap);
	for (p = 0; p < vopts.nr_pcts; p++) {
		if (!ok) {
			printf("%-30s FAILED\n", op[p]);
			continue;
		}
		bench_emit_timing(op[p], "page", pages, size, ns[p], wall[p], bench_opts.reps,
				  true);
		if (bench_opts.out) {
			fprintf(bench_opts.out,
				"{\"op\": \"%s_per_dirty\", \"unit\": \"dirty page\", \"units\": "
				"%" PRIu64 ", \"size_mib\": %" PRIu64
				", \"ns_per_unit\": %.3f, \"verified\": true}\n",
				op[p], expect[p], size / MIB,
				median_u64(ns[p], bench_opts.reps) / (double)expect[p]);
			fflush(bench_opts.out);
		}
	}
}

static void run_dirty(void)
{
	run_dirty_mode(false);
	run_dirty_mode(true);
}

/* ---- main -------------------------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_vm_scale [--reps N] [--ops conc,dirty] [--conc-mib M]\n"
		"                      [--dirty-gib G] [--dirty-pct a,b,...] [--samples N]\n"
		"                      [--verify-all] [--callgrind] [--out FILE.jsonl]\n"
		"conc: vCPU threads faulting through the shared-lock abort path (one thread,\n"
		"      two on disjoint halves, on interleaved pages, on the same pages);\n"
		"dirty: one harvest-and-reprotect round (s2_vm_dirty_log_get) of a G GiB slot\n"
		"      (default 64) with a%% of its pages written, fault-based and DBM.\n");
}

/* Its own options (bench_own_arg_fn): --conc-mib, --dirty-gib, --dirty-pct. */
static int own_arg(const char *a, const char *val)
{
	uint64_t v;

	if (!strcmp(a, "--conc-mib") && val && bench_parse_u64(val, &v) && v >= 4 && !(v & 3) &&
	    v <= 64 * 1024) {
		vopts.conc_bytes = v * MIB;
		return 2;
	}
	if (!strcmp(a, "--dirty-gib") && val && bench_parse_u64(val, &v) && v >= 1 && v <= 256) {
		vopts.dirty_bytes = v * GIB;
		return 2;
	}
	if (!strcmp(a, "--dirty-pct") && val) {
		char buf[64], *tok, *save = NULL;

		vopts.nr_pcts = 0;
		snprintf(buf, sizeof(buf), "%s", val);
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (vopts.nr_pcts == 4 || !bench_parse_u64(tok, &v) || !v || v > 100 ||
			    100 % v)
				return 0;
			vopts.pcts[vopts.nr_pcts++] = (unsigned int)v;
		}
		return vopts.nr_pcts ? 2 : 0;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int ret = bench_begin(argc, argv, own_arg, usage, "VM-layer scale");

	if (ret >= 0)
		return ret;
	if (bench_op_selected("conc"))
		run_conc();
	if (bench_op_selected("dirty"))
		run_dirty();
	return bench_end("all results verified (outcome counts, reference walker, "
			 "s2_pgtable_check, dirty bitmaps)");
}
