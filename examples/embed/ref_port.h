/* SPDX-License-Identifier: MIT */
/*
 * ref_port.h - the reference port of docs/port.md: a complete, hosted struct s2_port in about
 * a hundred lines. Table memory is one arena at a fixed fake physical address, linearly
 * mapped; the TLB and cache operations count what they were asked to do (a real port issues
 * the instructions docs/port.md gives for each one).
 */
#ifndef S2_REF_PORT_H
#define S2_REF_PORT_H

#include <stdatomic.h>

#include "s2mmu/port.h"

#define REF_PORT_PA_BASE UINT64_C(0x80000000) /* where the arena "is" physically */
#define REF_PORT_UNIT 4096u /* allocation and refcount unit: the smallest granule */
#define REF_PORT_MAX_UNITS 4096u /* 16 MiB of table memory at most */

struct ref_port {
	unsigned char *base; /* the arena: 2 MiB-aligned, so PA alignment follows VA's */
	size_t units;
	unsigned char used[REF_PORT_MAX_UNITS]; /* 1: allocated */
	uint32_t refcount[REF_PORT_MAX_UNITS]; /* one per unit: any granule inside an allocation */
	atomic_flag lock; /* alloc/free may be called by several vCPUs at once */
	/* What was asked for (a real port has no such state). */
	atomic_ulong units_in_use, tlbi, tlbi_local, dcache_bytes, icache_bytes, barriers;
};

/* ref_port_init() - an arena of @bytes (a multiple of 2 MiB). Return: 0, or -1 (no memory). */
int ref_port_init(struct ref_port *rp, size_t bytes);
/* ref_port_fini() - give the arena back (every page should have been freed by then). */
void ref_port_fini(struct ref_port *rp);
/* ref_port_port() - the struct s2_port to give s2_pgtable_init() or s2_vm_init(). */
struct s2_port ref_port_port(struct ref_port *rp);

#endif /* S2_REF_PORT_H */
