// SPDX-License-Identifier: MIT
/*
 * port/el2/hyp/memops.c - what the hypervisor does to the guest's memory while it runs, as a
 * production hypervisor would, through the VM layer:
 *
 *  - live-migration check: dirty logging (fault-based or DBM), a shadow copy of all guest RAM,
 *    rounds of harvest-and-copy, and at SYSTEM_OFF (vCPUs stopped) a last round after which
 *    the shadow must equal guest RAM byte for byte;
 *  - reclaim check: pages are unmapped by host invalidation, their contents moved aside and
 *    the frame poisoned; the guest's next fault in their neighbourhood restores them before
 *    the VM layer maps them again (a missed TLBI shows as poison in the guest's checksums);
 *  - aging rounds (test-and-clear young) and, every fourth round, a full unmap with refault.
 *
 * Periodic operations run every hyp_opts.every guest exits (on whichever CPU crosses the
 * count) and every hyp_opts.period_ms milliseconds (checked at each exit; an idle guest exits
 * at each WFI, which the hypervisor traps for that), or when the guest asks through the
 * control device.
 */
#include <string.h>

#include "hyp.h"

uint64_t hyp_ops_done;
uint64_t hyp_host_ram_end; /* end of QEMU's RAM (set by main.c) */

static hyp_spinlock_t ops_lock; /* one operation at a time */
static uint64_t exits_total, next_tick;
static uint64_t next_time, period_ticks; /* counter value of the next timed round; 0: none */
static struct {
	uint64_t by_exits, by_time, by_time_idle;
} periodic;
static bool finishing; /* SYSTEM_OFF: no more periodic rounds (the others may still exit) */
static uint64_t page; /* granule */
static uint64_t npages;

/* Word-wise copy and compare of page-aligned memory (libc_min's are byte loops). */
static void copy_words(void *d, const void *s, uint64_t n)
{
	uint64_t *dp = d;
	const uint64_t *sp = s;

	for (uint64_t i = 0; i < n / 8; i += 4) {
		uint64_t a = sp[i], b = sp[i + 1], c = sp[i + 2], e = sp[i + 3];

		dp[i] = a;
		dp[i + 1] = b;
		dp[i + 2] = c;
		dp[i + 3] = e;
	}
}

static bool equal_words(const void *x, const void *y, uint64_t n)
{
	const uint64_t *a = x, *b = y;
	uint64_t diff = 0;

	for (uint64_t i = 0; i < n / 8; i += 4)
		diff |= (a[i] ^ b[i]) | (a[i + 1] ^ b[i + 1]) | (a[i + 2] ^ b[i + 2]) |
			(a[i + 3] ^ b[i + 3]);
	return !diff;
}

/* ---- live migration ------------------------------------------------------------------------ */

#define MAX_PAGES (1UL << 18) /* 1 GiB of 4K pages */
static uint64_t dirty_bm[MAX_PAGES / 64];
static uint8_t *shadow;
static bool logging;
static struct {
	uint64_t rounds, copied, last_dirty, final_dirty, mismatches;
} mig;

static int migrate_round(void)
{
	uint64_t nr = 0;
	int err;

	if (!logging) {
		err = s2_vm_dirty_log_enable(&hyp_vm, HYP_SLOT_RAM, hyp_opts.dbm);
		if (err)
			return err;
		logging = true;
		/* Everything once; from now on only what the guest dirties. */
		copy_words(shadow, (void *)HYP_GUEST_PA, hyp_opts.mem);
		mig.copied += npages;
		mig.rounds++;
		return 0;
	}
	err = s2_vm_dirty_log_get(&hyp_vm, HYP_SLOT_RAM, dirty_bm, (npages + 63) / 64, &nr);
	if (err)
		return err;
	for (uint64_t w = 0; w < (npages + 63) / 64; w++) {
		uint64_t bits = dirty_bm[w];

		while (bits) {
			uint64_t i = w * 64 + (uint64_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			copy_words(shadow + i * page, (void *)(HYP_GUEST_PA + i * page), page);
		}
	}
	mig.copied += nr;
	mig.last_dirty = nr;
	mig.rounds++;
	return 0;
}

/* ---- reclaim ------------------------------------------------------------------------------ */

#define ASIDE_BYTES (16UL << 20)
#define RECLAIM_BATCH 32
static uint8_t *aside;
static uint32_t aside_max, aside_nfree;
static uint32_t aside_free[ASIDE_BYTES >> 12]; /* free aside slots: a stack of aside_nfree */
static uint32_t evicted_slot[MAX_PAGES]; /* 0: resident, else aside slot + 1 */
static volatile uint64_t nr_evicted;
static hyp_rwlock_t reclaim_lock; /* exclusive: eviction; shared: a fault */
static hyp_spinlock_t restore_lock;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
/* The last pages the guest faulted in (page indexes + 1): it is using them, so the CPU's TLB
 * most likely holds them when they are evicted, which is where a missing TLBI shows. */
#define HOT_RING 64
static uint64_t hot[HOT_RING];
static uint64_t hot_next;
static struct {
	uint64_t rounds, evicted, unmapped_bytes, restored;
} rec;

#define POISON 0xdeadbeefdeadbeefULL

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int reclaim_round(void)
{
	int err = 0;

	hyp_write_lock(&reclaim_lock);
	for (unsigned int k = 0; k < RECLAIM_BATCH && aside_nfree; k++) {
		/* Half of the batch: pages the guest faulted in last; the other half random. */
		uint64_t h = k < RECLAIM_BATCH / 2 ? hot[(hot_next - 1 - k) % HOT_RING] : 0;
		uint64_t i = h ? h - 1 : rnd() % npages, pa = HYP_GUEST_PA + i * page, unmapped = 0;
		uint64_t *p = (uint64_t *)pa;
		uint32_t s;

		if (evicted_slot[i])
			continue;
		err = s2_vm_invalidate_host_range(&hyp_vm, s2_pa(pa), page, &unmapped);
		if (err)
			break;
		s = aside_free[--aside_nfree];
		copy_words(aside + (uint64_t)s * page, p, page);
		for (uint64_t w = 0; w < page / 8; w++)
			p[w] = POISON;
		evicted_slot[i] = s + 1;
		nr_evicted++;
		rec.evicted++;
		rec.unmapped_bytes += unmapped;
	}
	rec.rounds++;
	hyp_write_unlock(&reclaim_lock);
	return err;
}

/* Bring back the evicted pages of the backing page around @ipa (a fault may map all of it). */
void hyp_memops_fault_begin(struct hyp_cpu *c, uint64_t ipa)
{
	uint64_t lo, hi;

	if (!hyp_opts.reclaim)
		return;
	hyp_read_lock(&reclaim_lock);
	if (!nr_evicted || ipa < HYP_GUEST_IPA || ipa >= HYP_GUEST_IPA + hyp_opts.mem)
		return;
	lo = S2_ALIGN_DOWN(ipa - HYP_GUEST_IPA, hyp_opts.backing) / page;
	hi = lo + hyp_opts.backing / page;
	hyp_spin_lock(&restore_lock);
	for (uint64_t i = lo; i < hi && i < npages; i++) {
		uint32_t s = evicted_slot[i];

		if (!s)
			continue;
		copy_words((void *)(HYP_GUEST_PA + i * page), aside + (uint64_t)(s - 1) * page,
			   page);
		evicted_slot[i] = 0;
		aside_free[aside_nfree++] = s - 1;
		nr_evicted--;
		rec.restored++;
		c->st.restored++;
	}
	hyp_spin_unlock(&restore_lock);
}

void hyp_memops_fault_end(const struct s2_abort_result *res)
{
	if (!hyp_opts.reclaim)
		return;
	if (res && res->action == S2_ABORT_RESUME && res->resume == S2_RESUME_MAPPED) {
		uint64_t ipa = s2_ipa_val(res->ipa);

		if (ipa >= HYP_GUEST_IPA && ipa < HYP_GUEST_IPA + hyp_opts.mem)
			hot[__atomic_fetch_add(&hot_next, 1, __ATOMIC_RELAXED) % HOT_RING] =
				(ipa - HYP_GUEST_IPA) / page + 1;
	}
	hyp_read_unlock(&reclaim_lock);
}

/* ---- aging and full unmaps ---------------------------------------------------------------- */

static struct {
	uint64_t rounds, young, unmaps, unmapped_bytes;
} age;

static int age_round(void)
{
	uint64_t young = 0;
	int err = s2_vm_age_host_range(&hyp_vm, s2_pa(HYP_GUEST_PA), hyp_opts.mem, true, &young);

	age.rounds++;
	age.young += young;
	return err;
}

static int unmap_all(void)
{
	uint64_t unmapped = 0;
	int err =
		s2_vm_invalidate_host_range(&hyp_vm, s2_pa(HYP_GUEST_PA), hyp_opts.mem, &unmapped);

	age.unmaps++;
	age.unmapped_bytes += unmapped;
	return err;
}

/* ---- entry points ------------------------------------------------------------------------- */

int hyp_memops_init(void)
{
	uint64_t end = HYP_GUEST_PA + hyp_opts.mem;

	page = s2_granule_size(hyp_opts.granule);
	npages = hyp_opts.mem / page;
	if (hyp_opts.migrate) {
		shadow = (uint8_t *)end;
		end += hyp_opts.mem;
	}
	if (hyp_opts.reclaim) {
		aside = (uint8_t *)end;
		end += ASIDE_BYTES;
		aside_max = (uint32_t)(ASIDE_BYTES / page);
		for (uint32_t s = 0; s < aside_max; s++)
			aside_free[s] = aside_max - 1 - s;
		aside_nfree = aside_max;
	}
	if (end > hyp_host_ram_end) {
		hyp_printf("hyp: need RAM up to 0x%llx, QEMU gives up to 0x%llx (-m)\n",
			   (unsigned long long)end, (unsigned long long)hyp_host_ram_end);
		return -1;
	}
	next_tick = hyp_opts.every;
	period_ticks = hyp_opts.period_ms * el2_counter_freq() / 1000;
	if (period_ticks)
		next_time = el2_counter() + period_ticks;
	return 0;
}

int hyp_memops_run(enum hyp_op op)
{
	int err;

	hyp_spin_lock(&ops_lock);
	switch (op) {
	case HYP_OP_MIGRATE:
		err = shadow ? migrate_round() : S2_EINVAL;
		break;
	case HYP_OP_RECLAIM:
		err = aside ? reclaim_round() : S2_EINVAL;
		break;
	case HYP_OP_AGE:
		err = age_round();
		break;
	case HYP_OP_UNMAP:
		err = unmap_all();
		break;
	default:
		err = S2_EINVAL;
		break;
	}
	if (!err)
		__atomic_fetch_add(&hyp_ops_done, 1, __ATOMIC_RELAXED);
	hyp_spin_unlock(&ops_lock);
	return err;
}

static void run_or_fail(enum hyp_op op)
{
	int err = hyp_memops_run(op);

	if (err) {
		hyp_printf("hyp: periodic operation %u: %s\n", (unsigned int)op, s2_errname(err));
		el2_exit(1);
	}
}

bool hyp_memops_periodic(void)
{
	return hyp_opts.migrate || hyp_opts.reclaim || hyp_opts.age;
}

static void run_periodic(void)
{
	static uint64_t age_ticks;

	if (hyp_opts.migrate)
		run_or_fail(HYP_OP_MIGRATE);
	if (hyp_opts.reclaim)
		run_or_fail(HYP_OP_RECLAIM);
	if (hyp_opts.age)
		run_or_fail(++age_ticks % 4 == 0 ? HYP_OP_UNMAP : HYP_OP_AGE);
}

/* Whichever CPU wins the compare-and-exchange on the due count or time runs the round. */
void hyp_memops_tick(struct hyp_cpu *c, bool idle)
{
	uint64_t n = __atomic_add_fetch(&exits_total, 1, __ATOMIC_RELAXED), t, now;

	(void)c;
	if (!hyp_memops_periodic() || __atomic_load_n(&finishing, __ATOMIC_ACQUIRE))
		return;
	t = __atomic_load_n(&next_tick, __ATOMIC_RELAXED);
	if (n >= t && __atomic_compare_exchange_n(&next_tick, &t, t + hyp_opts.every, false,
						  __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		run_periodic();
		__atomic_fetch_add(&periodic.by_exits, 1, __ATOMIC_RELAXED);
		return;
	}
	if (!period_ticks)
		return;
	now = el2_counter();
	t = __atomic_load_n(&next_time, __ATOMIC_RELAXED);
	if (now < t || !__atomic_compare_exchange_n(&next_time, &t, now + period_ticks, false,
						    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	run_periodic();
	__atomic_fetch_add(&periodic.by_time, 1, __ATOMIC_RELAXED);
	if (idle)
		__atomic_fetch_add(&periodic.by_time_idle, 1, __ATOMIC_RELAXED);
}

int hyp_memops_finish(void)
{
	int bad = 0;

	/* The other vCPUs, parked by the guest in a WFI loop, still exit (trapped WFI): they
	 * must not start rounds now. A round already running holds ops_lock. */
	__atomic_store_n(&finishing, true, __ATOMIC_RELEASE);

	if (shadow && logging) {
		hyp_spin_lock(&ops_lock);
		int err = migrate_round();

		hyp_spin_unlock(&ops_lock);
		if (err) {
			hyp_printf("hyp: migration: final harvest: %s\n", s2_errname(err));
			return -1;
		}
		mig.final_dirty = mig.last_dirty;
		for (uint64_t i = 0; i < npages; i++) {
			if (equal_words(shadow + i * page, (void *)(HYP_GUEST_PA + i * page), page))
				continue;
			if (!mig.mismatches++)
				hyp_printf("hyp: migration: first mismatch at guest IPA 0x%llx\n",
					   (unsigned long long)(HYP_GUEST_IPA + i * page));
		}
		hyp_printf(
			"hyp: migration check: %llu rounds, %llu pages copied, %llu in the final "
			"round, shadow %s guest RAM (%llu pages differ)\n",
			(unsigned long long)mig.rounds, (unsigned long long)mig.copied,
			(unsigned long long)mig.final_dirty,
			mig.mismatches ? "DIFFERS FROM" : "equals",
			(unsigned long long)mig.mismatches);
		if (mig.mismatches)
			bad = -1;
	} else if (hyp_opts.migrate) {
		hyp_printf("hyp: migration check: dirty logging never started (too few exits: "
			   "lower s2.every)\n");
		bad = -1;
	}
	if (hyp_opts.reclaim && !rec.evicted) {
		hyp_printf("hyp: reclaim check: nothing was evicted (lower s2.every)\n");
		bad = -1;
	}
	if (hyp_opts.age && !age.rounds && !age.unmaps) {
		hyp_printf("hyp: aging: no round and no unmap ran (lower s2.every)\n");
		bad = -1;
	}
	return bad;
}

void hyp_memops_print(void)
{
	if (hyp_memops_periodic())
		hyp_printf("periodic rounds: %llu by exit count (every %llu exits), %llu by time "
			   "(every %llu ms); timed rounds while idle: %llu\n",
			   (unsigned long long)periodic.by_exits,
			   (unsigned long long)hyp_opts.every, (unsigned long long)periodic.by_time,
			   (unsigned long long)hyp_opts.period_ms,
			   (unsigned long long)periodic.by_time_idle);
	if (hyp_opts.migrate || shadow)
		hyp_printf("migration: %llu rounds, %llu pages copied, final round %llu pages, "
			   "%llu pages differ\n",
			   (unsigned long long)mig.rounds, (unsigned long long)mig.copied,
			   (unsigned long long)mig.final_dirty, (unsigned long long)mig.mismatches);
	if (rec.rounds)
		hyp_printf("reclaim: %llu rounds, %llu pages evicted (%llu KiB were mapped), %llu "
			   "restored on refault, %llu still aside\n",
			   (unsigned long long)rec.rounds, (unsigned long long)rec.evicted,
			   (unsigned long long)(rec.unmapped_bytes >> 10),
			   (unsigned long long)rec.restored, (unsigned long long)nr_evicted);
	if (age.rounds || age.unmaps)
		hyp_printf("aging: %llu rounds, %llu young pages seen; %llu full unmaps (%llu KiB "
			   "unmapped)\n",
			   (unsigned long long)age.rounds, (unsigned long long)age.young,
			   (unsigned long long)age.unmaps,
			   (unsigned long long)(age.unmapped_bytes >> 10));
}
