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
 * Threads: the TLBI, cache-maintenance and barrier callbacks may run concurrently (their
 * counters are atomic; record no log then: log_capacity 0); allocation and freeing may not
 * (concurrent single-entry operations draw on per-thread struct s2_page_cache instead).
 */
#ifndef S2MMU_HOST_PORT_H
#define S2MMU_HOST_PORT_H

#include "s2mmu/port.h"
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

#endif /* S2MMU_HOST_PORT_H */
