/* SPDX-License-Identifier: MIT */
/*
 * host_port.h - the hosted port: a page arena at arbitrary physical addresses with a recorded
 * log of every TLBI, cache-maintenance operation and barrier, for tests, tools and benchmarks.
 *
 * Table pages come from one arena of host memory that is given a fake physical base
 * (pa_base), so PAs differ from VAs and any confusion of the two shows. Allocation can be made
 * to fail at the Nth call (fault injection). The log can also forward TLBIs to a TLB model of
 * the reference walker, and the arena serves as the walker's physical memory.
 *
 * It also offers test helpers: event-order matching over the log, and a lock checker for lock
 * hooks (balance, nesting and order).
 *
 * Threads: the TLBI, cache-maintenance and barrier callbacks may run concurrently (their
 * counters are atomic; record no log then: log_capacity 0); allocation and freeing may not
 * (concurrent single-entry operations draw on per-thread struct s2_page_cache instead).
 */
#ifndef S2MMU_HOST_PORT_H
#define S2MMU_HOST_PORT_H

#include "s2mmu/port.h"
#include "s2mmu/vm.h"
#include "s2mmu/walk.h"

struct s2_pgtable;

enum s2_host_event_kind {
	S2_HOST_EV_TLBI_IPA,
	S2_HOST_EV_TLBI_RANGE,
	S2_HOST_EV_TLBI_VMID,
	S2_HOST_EV_DC_CIVAC,
	S2_HOST_EV_IC_INVAL,
	S2_HOST_EV_BARRIER,
	S2_HOST_EV_ALLOC,
	S2_HOST_EV_FREE,
	S2_HOST_EV_TLBI_IPA_LOCAL, /* tlbi_ipa_local: the whole local sequence, barriers included */
	S2_HOST_EV_LOCK, /* recorded by a lock checker given this port (addr: the lock id) */
	S2_HOST_EV_UNLOCK,
};

struct s2_host_event {
	enum s2_host_event_kind kind;
	const struct s2_pgtable *pgt; /* TLBIs: the table whose VM it was for */
	uint64_t addr; /* IPA (TLBI), PA (CMO, alloc, free) */
	uint64_t size; /* bytes (range TLBI, CMO, alloc, free) */
	int level; /* TLBI by IPA: the TTL hint, -2 for none */
	enum s2_barrier barrier;
};

struct s2_host_port_opts {
	uint64_t pa_base; /* fake physical address of the arena's first byte (aligned 1 GiB) */
	uint64_t arena_bytes; /* arena size (multiple of 64 KiB) */
	unsigned int log_capacity; /* events kept (0: do not record; counters still count) */
};

/* Counters, always kept. */
struct s2_host_stats {
	uint64_t pages_in_use; /* 4 KiB units currently allocated */
	uint64_t allocs, frees;
	uint64_t tlbi_ipa, tlbi_range, tlbi_vmid;
	uint64_t tlbi_ipa_local;
	uint64_t dc_bytes, ic_bytes;
	uint64_t dc_ops, ic_ops;
	uint64_t barriers;
};

struct s2_host_port;

/** s2_host_port_create() - make an arena. Return: 0; S2_EINVAL; S2_ENOMEM. */
int s2_host_port_create(const struct s2_host_port_opts *opts, struct s2_host_port **out);
/** s2_host_port_destroy() - free the arena (whatever is still allocated). */
void s2_host_port_destroy(struct s2_host_port *hp);
/** s2_host_port_port() - the ops table and context to hand to the engine. */
struct s2_port s2_host_port_port(struct s2_host_port *hp);
/** s2_host_port_walk_mem() - the arena as physical memory for the reference walker
 * (reads and AF/DBM compare-and-swap). */
struct s2_walk_mem s2_host_port_walk_mem(struct s2_host_port *hp);

/**
 * s2_host_port_load_stage2() - a struct s2_vm_hooks.load_stage2 for hosted VMs (its @ctx is
 * unused): the hosted port has no VTCR/VTTBR registers, its TLBI ops name the table they act
 * on, so there is nothing to load and nothing is recorded.
 */
void s2_host_port_load_stage2(void *ctx, uint64_t vtcr, uint64_t vttbr);
/** s2_host_port_put_stage2() - its put_stage2 (nothing to restore). Both serve as the owner
 * layer's host_stage2.load/put too (s2_owner_params). */
void s2_host_port_put_stage2(void *ctx);
/** s2_host_port_stats() - the counters. */
struct s2_host_stats s2_host_port_stats(const struct s2_host_port *hp);
/** s2_host_port_log() - recorded events since the last clear; *@n gets their number.
 * When more happened than log_capacity, the oldest are kept and *@overflow is set. */
const struct s2_host_event *s2_host_port_log(const struct s2_host_port *hp, unsigned int *n,
					     bool *overflow);
/** s2_host_port_clear_log() - forget recorded events (counters are kept). */
void s2_host_port_clear_log(struct s2_host_port *hp);

/** s2_host_port_fail_alloc_after() - the next @n allocations succeed, then every allocation
 * fails until this is called again with a negative @n (never fail). */
void s2_host_port_fail_alloc_after(struct s2_host_port *hp, long n);

/** s2_host_port_attach_tlb() - forward every TLBI to @tlb (the walker's TLB model) for
 * @vmid (the local form, tlbi_ipa_local, as s2_tlbi_ipa(): the model has one CPU); NULL
 * detaches. TLBIs for a pgtable whose cookie maps to another VMID go through
 * @vmid_of when set. */
void s2_host_port_attach_tlb(struct s2_host_port *hp, struct s2_tlb_model *tlb,
			     uint16_t (*vmid_of)(const struct s2_pgtable *pgt), uint16_t vmid);

/* ---- event-order checks ---------------------------------------------------------------------- */

/* One element of an event pattern. */
struct s2_host_event_pat {
	enum s2_host_event_kind kind;
	int barrier; /* S2_HOST_EV_BARRIER: the enum s2_barrier wanted, or -1 for any */
	bool next; /* must be the event right after the previous element's match (else any later) */
};

/**
 * s2_host_port_log_match() - find @pat[0..@n) in the log, in this order, starting at event
 * @from (other events may come between elements, except before one marked @next).
 * Return: the log index of the event matching the last element of the earliest-ending match,
 * or -1 when there is none (or @n is 0).
 */
int s2_host_port_log_match(const struct s2_host_port *hp, unsigned int from,
			   const struct s2_host_event_pat *pat, unsigned int n);

/* ---- lock checking ------------------------------------------------------------------------------ */
/*
 * A checker to plug into lock hooks (struct s2_vm_hooks .lock/.unlock, ctx = the checker). Each
 * take and release is checked against a lock order given as ranks, one per lock id:
 *   - a lock may be taken only while every held lock has a lower rank: this refuses recursion,
 *     order inversion, and (ids of equal rank being modes of one lock, as MMU_SHARED and
 *     MMU_EXCL) taking a reader/writer lock twice in any mode;
 *   - only a held lock may be released, and the most recently taken one first (nesting);
 *   - s2_host_lockcheck_idle() tells whether nothing is held (a call must return so).
 * Violations are counted and the first is described; with @panic set the first one calls
 * s2_env_panic() instead (a stack trace at the culprit). Given a host port, every take and
 * release is also recorded in its event log (S2_HOST_EV_LOCK/UNLOCK, addr = lock id), so event
 * orders such as "TLBI while the MMU lock is held" can be checked with s2_host_port_log_match().
 * Not thread-safe: one checker per single-threaded test.
 */
#define S2_HOST_LOCKS_MAX 8

struct s2_host_lockcheck {
	unsigned int nlocks;
	uint8_t rank[S2_HOST_LOCKS_MAX]; /* lock id -> order rank: lower ranks are taken first */
	bool panic; /* s2_env_panic() at the first violation */
	struct s2_host_port *hp; /* record takes and releases in its log (may be NULL) */
	/* state */
	unsigned int stack[S2_HOST_LOCKS_MAX]; /* held lock ids, oldest first */
	unsigned int depth, max_depth;
	uint64_t takes[S2_HOST_LOCKS_MAX], releases[S2_HOST_LOCKS_MAX];
	unsigned int errors;
	char first_error[160];
};

/** s2_host_lockcheck_init() - a checker of @nlocks lock ids (<= S2_HOST_LOCKS_MAX) with the
 * order @rank[id]. */
void s2_host_lockcheck_init(struct s2_host_lockcheck *lc, unsigned int nlocks, const uint8_t *rank);
/** s2_host_lockcheck_init_vm() - a checker with the VM layer's order (s2mmu/vm.h): SLOTS, then
 * MMU (shared or exclusive: one lock), then OWNER. */
void s2_host_lockcheck_init_vm(struct s2_host_lockcheck *lc);
/** s2_host_lockcheck_lock() / _unlock() - take / release lock @id (check and record). */
void s2_host_lockcheck_lock(struct s2_host_lockcheck *lc, unsigned int id);
void s2_host_lockcheck_unlock(struct s2_host_lockcheck *lc, unsigned int id);
/** s2_host_lockcheck_vm_lock() / _vm_unlock() - the same with the signature of
 * struct s2_vm_hooks .lock/.unlock (@ctx: the checker). */
void s2_host_lockcheck_vm_lock(void *ctx, enum s2_vm_lock l);
void s2_host_lockcheck_vm_unlock(void *ctx, enum s2_vm_lock l);
/** s2_host_lockcheck_held() - whether lock @id is held. */
bool s2_host_lockcheck_held(const struct s2_host_lockcheck *lc, unsigned int id);
/** s2_host_lockcheck_idle() - true when nothing is held and no violation was seen. */
bool s2_host_lockcheck_idle(const struct s2_host_lockcheck *lc);

#endif /* S2MMU_HOST_PORT_H */
