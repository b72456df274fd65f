// SPDX-License-Identifier: MIT
/*
 * host_port.c - the hosted port: table pages from an mmap'ed arena given a fake physical base,
 * a buddy allocator of naturally aligned power-of-two blocks of 4 KiB units, per-unit 32-bit
 * refcounts, and a log of every TLBI, cache-maintenance operation, barrier and allocation;
 * plus the test helpers of host_port.h (event-order matching, lock checking).
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "host_port.h"
#include "s2mmu/error.h"

#define UNIT_SHIFT 12
#define UNIT_SIZE (UINT64_C(1) << UNIT_SHIFT)
#define MAX_ORDER 30 /* 4 TiB blocks: more than any arena */
#define NIL UINT32_MAX

/* Per-unit state. */
#define ST_USED 0 /* inside an allocated block, or inside a free block but not its head */
#define ST_FREE_HEAD 1 /* first unit of a free block of order[unit] */

struct s2_host_port {
	uint8_t *arena;
	uint64_t pa_base;
	uint64_t bytes;
	uint32_t units;
	/* buddy allocator: free lists of block heads, doubly linked through side arrays */
	uint32_t free_head[MAX_ORDER + 1];
	uint32_t *next, *prev;
	uint8_t *order;
	uint8_t *state;
	uint32_t *refcount;
	/* log */
	struct s2_host_event *log;
	unsigned int log_cap, log_n;
	bool log_overflow;
	struct s2_host_stats stats;
	long fail_after; /* < 0: never fail */
	/* TLB model forwarding */
	struct s2_tlb_model *tlb;
	uint16_t (*vmid_of)(const struct s2_pgtable *pgt);
	uint16_t vmid;
};

/* Counters of the TLBI/CMO/barrier callbacks are atomic: single-entry operations may run
 * on several threads. (Allocation and the event log are not thread-safe.) */
static inline void stat_add(uint64_t *c, uint64_t v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

static void record(struct s2_host_port *hp, const struct s2_host_event *ev)
{
	if (!hp->log_cap)
		return;
	if (hp->log_n < hp->log_cap)
		hp->log[hp->log_n++] = *ev;
	else
		hp->log_overflow = true;
}

/* ---- buddy allocator ----------------------------------------------------------------------- */

static void list_push(struct s2_host_port *hp, uint32_t u, unsigned int ord)
{
	uint32_t h = hp->free_head[ord];

	hp->next[u] = h;
	hp->prev[u] = NIL;
	if (h != NIL)
		hp->prev[h] = u;
	hp->free_head[ord] = u;
	hp->order[u] = (uint8_t)ord;
	hp->state[u] = ST_FREE_HEAD;
}

static void list_del(struct s2_host_port *hp, uint32_t u, unsigned int ord)
{
	uint32_t n = hp->next[u], p = hp->prev[u];

	if (p != NIL)
		hp->next[p] = n;
	else
		hp->free_head[ord] = n;
	if (n != NIL)
		hp->prev[n] = p;
	hp->state[u] = ST_USED;
}

static void buddy_free(struct s2_host_port *hp, uint32_t u, unsigned int ord)
{
	while (ord < MAX_ORDER) {
		uint64_t b = (uint64_t)u ^ (UINT64_C(1) << ord);
		if (b + (UINT64_C(1) << ord) > hp->units || hp->state[b] != ST_FREE_HEAD ||
		    hp->order[b] != ord)
			break;
		list_del(hp, (uint32_t)b, ord);
		u = (uint32_t)(u & b);
		ord++;
	}
	list_push(hp, u, ord);
}

static int64_t buddy_alloc(struct s2_host_port *hp, unsigned int ord)
{
	unsigned int k = ord;
	uint32_t u;

	while (k <= MAX_ORDER && hp->free_head[k] == NIL)
		k++;
	if (k > MAX_ORDER)
		return -1;
	u = hp->free_head[k];
	list_del(hp, u, k);
	while (k > ord) {
		k--;
		list_push(hp, u + (UINT32_C(1) << k), k);
	}
	return u;
}

/* ---- ops ------------------------------------------------------------------------------------- */

static unsigned int bytes_order(size_t bytes)
{
	unsigned int o = 0;

	while ((UNIT_SIZE << o) < bytes)
		o++;
	return o;
}

static void *hp_alloc_pages(void *ctx, size_t bytes)
{
	struct s2_host_port *hp = ctx;
	unsigned int ord;
	int64_t u;
	uint8_t *va;

	if (!bytes || (bytes & (bytes - 1)) || bytes < UNIT_SIZE)
		return NULL;
	if (hp->fail_after >= 0) {
		if (hp->fail_after == 0)
			return NULL;
		hp->fail_after--;
	}
	ord = bytes_order(bytes);
	u = buddy_alloc(hp, ord);
	if (u < 0)
		return NULL;
	va = hp->arena + ((uint64_t)u << UNIT_SHIFT);
	memset(va, 0, bytes);
	for (uint64_t i = 0; i < (UINT64_C(1) << ord); i++)
		hp->refcount[u + i] = 0;
	hp->stats.pages_in_use += UINT64_C(1) << ord;
	hp->stats.allocs++;
	record(hp, &(struct s2_host_event){ .kind = S2_HOST_EV_ALLOC,
					    .addr = hp->pa_base + ((uint64_t)u << UNIT_SHIFT),
					    .size = bytes,
					    .level = -2 });
	return va;
}

static void hp_free_pages(void *ctx, void *va, size_t bytes)
{
	struct s2_host_port *hp = ctx;
	uint64_t off = (uint64_t)((uint8_t *)va - hp->arena);
	unsigned int ord = bytes_order(bytes);

	if ((uint8_t *)va < hp->arena || off >= hp->bytes || (off & ((UNIT_SIZE << ord) - 1)))
		s2_env_panic("host port: free of memory it did not allocate", __FILE__, __LINE__);
	if (hp->state[off >> UNIT_SHIFT] == ST_FREE_HEAD)
		s2_env_panic("host port: double free", __FILE__, __LINE__);
	hp->stats.pages_in_use -= UINT64_C(1) << ord;
	hp->stats.frees++;
	record(hp, &(struct s2_host_event){ .kind = S2_HOST_EV_FREE,
					    .addr = hp->pa_base + off,
					    .size = bytes,
					    .level = -2 });
	buddy_free(hp, (uint32_t)(off >> UNIT_SHIFT), ord);
}

static uint32_t *hp_page_refcount(void *ctx, void *va)
{
	struct s2_host_port *hp = ctx;

	return &hp->refcount[(uint64_t)((uint8_t *)va - hp->arena) >> UNIT_SHIFT];
}

static s2_pa_t hp_va_to_pa(void *ctx, void *va)
{
	struct s2_host_port *hp = ctx;

	return s2_pa(hp->pa_base + (uint64_t)((uint8_t *)va - hp->arena));
}

static void *hp_pa_to_va(void *ctx, s2_pa_t pa)
{
	struct s2_host_port *hp = ctx;
	uint64_t p = s2_pa_val(pa);

	if (p < hp->pa_base || p - hp->pa_base >= hp->bytes)
		return NULL;
	return hp->arena + (p - hp->pa_base);
}

static uint16_t tlb_vmid(struct s2_host_port *hp, const struct s2_pgtable *pgt)
{
	return hp->vmid_of ? hp->vmid_of(pgt) : hp->vmid;
}

static void hp_tlbi_ipa(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	struct s2_host_port *hp = ctx;

	stat_add(&hp->stats.tlbi_ipa, 1);
	record(hp, &(struct s2_host_event){ .kind = S2_HOST_EV_TLBI_IPA,
					    .pgt = pgt,
					    .addr = s2_ipa_val(ipa),
					    .level = level });
	if (hp->tlb)
		s2_tlbi_ipa(hp->tlb, tlb_vmid(hp, pgt), ipa, level);
}

/* The log and the TLB model of hp_tlbi_ipa_local(), out of line. */
static S2_NOINLINE void hp_tlbi_ipa_local_rec(struct s2_host_port *hp, const struct s2_pgtable *pgt,
					      s2_ipa_t ipa, int level)
{
	record(hp, &(struct s2_host_event){ .kind = S2_HOST_EV_TLBI_IPA_LOCAL,
					    .pgt = pgt,
					    .addr = s2_ipa_val(ipa),
					    .level = level });
	if (hp->tlb)
		s2_tlbi_ipa(hp->tlb, tlb_vmid(hp, pgt), ipa, level);
}

/* On relax_perms' path (bench relax_4k): a leaf function when nothing is logged or modelled. */
static void hp_tlbi_ipa_local(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	struct s2_host_port *hp = ctx;

	stat_add(&hp->stats.tlbi_ipa_local, 1);
	if (S2_UNLIKELY(hp->log_cap || hp->tlb))
		hp_tlbi_ipa_local_rec(hp, pgt, ipa, level);
}

static void hp_tlbi_range(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size)
{
	struct s2_host_port *hp = ctx;

	stat_add(&hp->stats.tlbi_range, 1);
	record(hp, &(struct s2_host_event){ .kind = S2_HOST_EV_TLBI_RANGE,
					    .pgt = pgt,
					    .addr = s2_ipa_val(ipa),
					    .size = size,
					    .level = -2 });
	if (hp->tlb)
		s2_tlbi_range(hp->tlb, tlb_vmid(hp, pgt), ipa, size);
}

static void hp_tlbi_vmid(void *ctx, const struct s2_pgtable *pgt)
{
	struct s2_host_port *hp = ctx;

	stat_add(&hp->stats.tlbi_vmid, 1);
	record(hp,
	       &(struct s2_host_event){ .kind = S2_HOST_EV_TLBI_VMID, .pgt = pgt, .level = -2 });
	if (hp->tlb)
		s2_tlbi_vmid(hp->tlb, tlb_vmid(hp, pgt));
}

static void hp_dcache(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct s2_host_port *hp = ctx;

	stat_add(&hp->stats.dc_ops, 1);
	stat_add(&hp->stats.dc_bytes, size);
	record(hp, &(struct s2_host_event){ .kind = S2_HOST_EV_DC_CIVAC,
					    .addr = s2_pa_val(pa),
					    .size = size,
					    .level = -2 });
}

static void hp_icache(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct s2_host_port *hp = ctx;

	stat_add(&hp->stats.ic_ops, 1);
	stat_add(&hp->stats.ic_bytes, size);
	record(hp, &(struct s2_host_event){ .kind = S2_HOST_EV_IC_INVAL,
					    .addr = s2_pa_val(pa),
					    .size = size,
					    .level = -2 });
}

static void hp_barrier(void *ctx, enum s2_barrier b)
{
	struct s2_host_port *hp = ctx;

	stat_add(&hp->stats.barriers, 1);
	record(hp,
	       &(struct s2_host_event){ .kind = S2_HOST_EV_BARRIER, .barrier = b, .level = -2 });
}

static const struct s2_port_ops host_ops = {
	.alloc_pages = hp_alloc_pages,
	.free_pages = hp_free_pages,
	.page_refcount = hp_page_refcount,
	.va_to_pa = hp_va_to_pa,
	.pa_to_va = hp_pa_to_va,
	.tlbi_ipa = hp_tlbi_ipa,
	.tlbi_range = hp_tlbi_range,
	.tlbi_vmid = hp_tlbi_vmid,
	.tlbi_ipa_local = hp_tlbi_ipa_local,
	.dcache_clean_inval_poc = hp_dcache,
	.icache_inval_pou = hp_icache,
	.barrier = hp_barrier,
};

/* ---- walker memory -------------------------------------------------------------------------- */

static int hp_read64(void *ctx, s2_pa_t pa, uint64_t *val)
{
	uint64_t *p = hp_pa_to_va(ctx, pa);

	if (!p || (s2_pa_val(pa) & 7))
		return S2_EFAULT;
	*val = s2_atomic_load64(p);
	return 0;
}

static int hp_cas64(void *ctx, s2_pa_t pa, uint64_t old, uint64_t new)
{
	uint64_t *p = hp_pa_to_va(ctx, pa);

	if (!p || (s2_pa_val(pa) & 7))
		return S2_EFAULT;
	return s2_atomic_cas64(p, &old, new) ? 0 : S2_EAGAIN;
}

/* ---- public ---------------------------------------------------------------------------------- */

int s2_host_port_create(const struct s2_host_port_opts *opts, struct s2_host_port **out)
{
	struct s2_host_port *hp;
	uint64_t units;
	void *m;

	if (!opts || !out || !opts->arena_bytes || (opts->arena_bytes & 0xffff) ||
	    (opts->pa_base & ((UINT64_C(1) << 30) - 1)))
		return S2_EINVAL;
	units = opts->arena_bytes >> UNIT_SHIFT;
	if (units >= NIL || opts->pa_base + opts->arena_bytes < opts->pa_base ||
	    opts->pa_base + opts->arena_bytes > (UINT64_C(1) << 52))
		return S2_EINVAL;
	hp = calloc(1, sizeof(*hp));
	if (!hp)
		return S2_ENOMEM;
	m = mmap(NULL, opts->arena_bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		free(hp);
		return S2_ENOMEM;
	}
	hp->arena = m;
	hp->pa_base = opts->pa_base;
	hp->bytes = opts->arena_bytes;
	hp->units = (uint32_t)units;
	hp->next = calloc(units, sizeof(*hp->next));
	hp->prev = calloc(units, sizeof(*hp->prev));
	hp->order = calloc(units, 1);
	hp->state = calloc(units, 1);
	hp->refcount = calloc(units, sizeof(*hp->refcount));
	hp->log_cap = opts->log_capacity;
	hp->log = hp->log_cap ? calloc(hp->log_cap, sizeof(*hp->log)) : NULL;
	if (!hp->next || !hp->prev || !hp->order || !hp->state || !hp->refcount ||
	    (hp->log_cap && !hp->log)) {
		s2_host_port_destroy(hp);
		return S2_ENOMEM;
	}
	hp->fail_after = -1;
	for (unsigned int o = 0; o <= MAX_ORDER; o++)
		hp->free_head[o] = NIL;
	/* Carve the arena into the largest naturally aligned blocks (units are relative to
	 * the arena; pa_base is 1 GiB-aligned so alignment in units is alignment in PA). */
	for (uint64_t u = 0; u < units;) {
		unsigned int o = MAX_ORDER;
		while (o && ((u & ((UINT64_C(1) << o) - 1)) || u + (UINT64_C(1) << o) > units))
			o--;
		list_push(hp, (uint32_t)u, o);
		u += UINT64_C(1) << o;
	}
	*out = hp;
	return 0;
}

void s2_host_port_destroy(struct s2_host_port *hp)
{
	if (!hp)
		return;
	if (hp->arena)
		munmap(hp->arena, hp->bytes);
	free(hp->next);
	free(hp->prev);
	free(hp->order);
	free(hp->state);
	free(hp->refcount);
	free(hp->log);
	free(hp);
}

struct s2_port s2_host_port_port(struct s2_host_port *hp)
{
	return (struct s2_port){
		.ops = &host_ops,
		.ctx = hp,
		.linear = true,
		.va_minus_pa = (uint64_t)(uintptr_t)hp->arena - hp->pa_base,
	};
}

struct s2_walk_mem s2_host_port_walk_mem(struct s2_host_port *hp)
{
	return (struct s2_walk_mem){ .read64 = hp_read64, .cas64 = hp_cas64, .ctx = hp };
}

struct s2_host_stats s2_host_port_stats(const struct s2_host_port *hp)
{
	return hp->stats;
}

const struct s2_host_event *s2_host_port_log(const struct s2_host_port *hp, unsigned int *n,
					     bool *overflow)
{
	if (n)
		*n = hp->log_n;
	if (overflow)
		*overflow = hp->log_overflow;
	return hp->log;
}

void s2_host_port_clear_log(struct s2_host_port *hp)
{
	hp->log_n = 0;
	hp->log_overflow = false;
}

void s2_host_port_fail_alloc_after(struct s2_host_port *hp, long n)
{
	hp->fail_after = n < 0 ? -1 : n;
}

void s2_host_port_attach_tlb(struct s2_host_port *hp, struct s2_tlb_model *tlb,
			     uint16_t (*vmid_of)(const struct s2_pgtable *pgt), uint16_t vmid)
{
	hp->tlb = tlb;
	hp->vmid_of = vmid_of;
	hp->vmid = vmid;
}

/* ---- event-order checks ------------------------------------------------------------------------ */

static bool pat_is(const struct s2_host_event *ev, const struct s2_host_event_pat *p)
{
	return ev->kind == p->kind &&
	       (p->kind != S2_HOST_EV_BARRIER || p->barrier < 0 || (int)ev->barrier == p->barrier);
}

/* Index of the last event of a match of pat[0..n) whose first element is at or after @pos
 * (exactly at @pos when pat[0].next and @anchored), or -1. */
static int log_match_from(const struct s2_host_port *hp, unsigned int pos,
			  const struct s2_host_event_pat *pat, unsigned int n, bool anchored)
{
	for (unsigned int i = pos; i < hp->log_n; i++) {
		if (anchored && pat[0].next && i != pos)
			return -1;
		if (!pat_is(&hp->log[i], &pat[0]))
			continue;
		if (n == 1)
			return (int)i;
		int r = log_match_from(hp, i + 1, pat + 1, n - 1, true);
		if (r >= 0)
			return r;
	}
	return -1;
}

int s2_host_port_log_match(const struct s2_host_port *hp, unsigned int from,
			   const struct s2_host_event_pat *pat, unsigned int n)
{
	if (!hp || !pat || !n)
		return -1;
	return log_match_from(hp, from, pat, n, false);
}

void s2_host_port_load_stage2(void *ctx, uint64_t vtcr, uint64_t vttbr)
{
	(void)ctx;
	(void)vtcr;
	(void)vttbr;
}

void s2_host_port_put_stage2(void *ctx)
{
	(void)ctx;
}

/* ---- lock checking ------------------------------------------------------------------------------ */

void s2_host_lockcheck_init(struct s2_host_lockcheck *lc, unsigned int nlocks, const uint8_t *rank)
{
	memset(lc, 0, sizeof(*lc));
	if (nlocks > S2_HOST_LOCKS_MAX)
		s2_env_panic("host lockcheck: too many locks", __FILE__, __LINE__);
	lc->nlocks = nlocks;
	for (unsigned int i = 0; i < nlocks; i++)
		lc->rank[i] = rank[i];
}

void s2_host_lockcheck_init_vm(struct s2_host_lockcheck *lc)
{
	uint8_t rank[4];

	rank[S2_VM_LOCK_SLOTS] = 0;
	rank[S2_VM_LOCK_MMU_SHARED] = 1;
	rank[S2_VM_LOCK_MMU_EXCL] = 1;
	rank[S2_VM_LOCK_OWNER] = 2;
	s2_host_lockcheck_init(lc, 4, rank);
}

static void lc_error(struct s2_host_lockcheck *lc, const char *what, unsigned int id)
{
	char held[64] = "";
	size_t o = 0;

	for (unsigned int i = 0; i < lc->depth && o + 4 < sizeof(held); i++)
		o += (size_t)snprintf(held + o, sizeof(held) - o, "%s%u", i ? "," : "",
				      lc->stack[i]);
	if (!lc->errors++)
		snprintf(lc->first_error, sizeof(lc->first_error), "%s: lock %u (held: [%s])", what,
			 id, held);
	if (lc->panic)
		s2_env_panic(lc->first_error, __FILE__, __LINE__);
}

static void lc_record(struct s2_host_lockcheck *lc, enum s2_host_event_kind k, unsigned int id)
{
	if (lc->hp)
		record(lc->hp, &(struct s2_host_event){ .kind = k, .addr = id, .level = -2 });
}

void s2_host_lockcheck_lock(struct s2_host_lockcheck *lc, unsigned int id)
{
	lc_record(lc, S2_HOST_EV_LOCK, id);
	if (id >= lc->nlocks) {
		lc_error(lc, "take of an unknown lock", id);
		return;
	}
	lc->takes[id]++;
	for (unsigned int i = 0; i < lc->depth; i++) {
		if (lc->stack[i] == id || lc->rank[lc->stack[i]] == lc->rank[id]) {
			lc_error(lc, "recursive take", id);
			return;
		}
		if (lc->rank[lc->stack[i]] > lc->rank[id]) {
			lc_error(lc, "take against the lock order", id);
			return;
		}
	}
	if (lc->depth == S2_HOST_LOCKS_MAX) {
		lc_error(lc, "too deep", id);
		return;
	}
	lc->stack[lc->depth++] = id;
	if (lc->depth > lc->max_depth)
		lc->max_depth = lc->depth;
}

void s2_host_lockcheck_unlock(struct s2_host_lockcheck *lc, unsigned int id)
{
	lc_record(lc, S2_HOST_EV_UNLOCK, id);
	if (id >= lc->nlocks) {
		lc_error(lc, "release of an unknown lock", id);
		return;
	}
	lc->releases[id]++;
	if (!lc->depth || !s2_host_lockcheck_held(lc, id)) {
		lc_error(lc, "release of a lock not held", id);
		return;
	}
	if (lc->stack[lc->depth - 1] != id) {
		lc_error(lc, "release out of nesting order", id);
		/* drop it anyway, so one error does not cascade */
		for (unsigned int i = 0; i < lc->depth; i++) {
			if (lc->stack[i] == id) {
				for (unsigned int j = i; j + 1 < lc->depth; j++)
					lc->stack[j] = lc->stack[j + 1];
				break;
			}
		}
	}
	lc->depth--;
}

void s2_host_lockcheck_vm_lock(void *ctx, enum s2_vm_lock l)
{
	s2_host_lockcheck_lock(ctx, (unsigned int)l);
}

void s2_host_lockcheck_vm_unlock(void *ctx, enum s2_vm_lock l)
{
	s2_host_lockcheck_unlock(ctx, (unsigned int)l);
}

bool s2_host_lockcheck_held(const struct s2_host_lockcheck *lc, unsigned int id)
{
	for (unsigned int i = 0; i < lc->depth; i++)
		if (lc->stack[i] == id)
			return true;
	return false;
}

bool s2_host_lockcheck_idle(const struct s2_host_lockcheck *lc)
{
	return !lc->depth && !lc->errors;
}
