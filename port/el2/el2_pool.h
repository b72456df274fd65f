/* SPDX-License-Identifier: MIT */
/*
 * port/el2/el2_pool.h - the table-page pool of the EL2 images, shared by the test port
 * (el2_port.c) and the Linux-guest hypervisor (hyp/port.c): power-of-two blocks of 4K .. 1M,
 * each aligned to its size, carved from a static region (a NOLOAD section of the linker
 * script) and kept on one free list per size once given back, with a 32-bit reference counter
 * per 4K page for the engine (struct s2_port_ops.page_refcount); and the identity
 * va_to_pa/pa_to_va both ports use.
 *
 * The caller serialises (the hypervisor under its pool lock; the test images run on one CPU)
 * and zeroes what it takes. Each image has one user of these functions, hence static inline
 * rather than one more object that every EL2 build (tests, hypervisor, benchmark) must list.
 */
#ifndef S2_EL2_POOL_H
#define S2_EL2_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "s2mmu/port.h"

#define EL2_POOL_MIN_SHIFT 12
#define EL2_POOL_MAX_SHIFT 20

struct el2_pool {
	char *start, *end; /* the region */
	uint32_t *refcount; /* one per 4K page of the region */
	uintptr_t next; /* the first byte never handed out (0: start) */
	void *free_list[EL2_POOL_MAX_SHIFT + 1];
	uint64_t used, peak; /* bytes handed out now, and at most */
};

/* log2(@bytes) for a block size (a power of two, 4K .. 1M); -1 otherwise. */
static inline int el2_pool_order(size_t bytes)
{
	if (bytes < (1UL << EL2_POOL_MIN_SHIFT) || bytes > (1UL << EL2_POOL_MAX_SHIFT) ||
	    (bytes & (bytes - 1)))
		return -1;
	return 63 - __builtin_clzll(bytes);
}

/* Take a block of @bytes (not zeroed; its pages' counters reset to 0). Return: the block, or
 * NULL when @bytes is not a block size or the region is full. */
static inline void *el2_pool_take(struct el2_pool *p, size_t bytes)
{
	int order = el2_pool_order(bytes);
	void *b;

	if (order < 0)
		return NULL;
	if (p->free_list[order]) {
		b = p->free_list[order];
		p->free_list[order] = *(void **)b;
	} else {
		uintptr_t next = p->next ? p->next : (uintptr_t)p->start;
		uintptr_t a = (next + bytes - 1) & ~(uintptr_t)(bytes - 1);

		if (a + bytes > (uintptr_t)p->end)
			return NULL;
		p->next = a + bytes;
		b = (void *)a;
	}
	size_t first = ((uintptr_t)b - (uintptr_t)p->start) >> EL2_POOL_MIN_SHIFT;
	for (size_t i = 0; i < bytes >> EL2_POOL_MIN_SHIFT; i++)
		p->refcount[first + i] = 0;
	p->used += bytes;
	if (p->used > p->peak)
		p->peak = p->used;
	return b;
}

/* Give back the block @va of @bytes. Return: false, having done nothing, when that is not a
 * block of the pool (the caller reports the bug). */
static inline bool el2_pool_put(struct el2_pool *p, void *va, size_t bytes)
{
	int order = el2_pool_order(bytes);

	if (order < 0 || (uintptr_t)va < (uintptr_t)p->start ||
	    (uintptr_t)va + bytes > (uintptr_t)p->end)
		return false;
	*(void **)va = p->free_list[order];
	p->free_list[order] = va;
	p->used -= bytes;
	return true;
}

/* The reference counter of the 4K page at @va, which must be in the pool (S2_BUG otherwise). */
static inline uint32_t *el2_pool_refcount(struct el2_pool *p, void *va)
{
	uintptr_t a = (uintptr_t)va;

	if (a < (uintptr_t)p->start || a >= (uintptr_t)p->end)
		S2_BUG("page_refcount: not a pool page");
	return &p->refcount[(a - (uintptr_t)p->start) >> EL2_POOL_MIN_SHIFT];
}

/* s2_port_ops.va_to_pa / pa_to_va of the EL2 images: EL2 addresses table memory by its PA
 * (MMU off in the test images, an identity map in the hypervisor). */
static inline s2_pa_t el2_identity_va_to_pa(void *ctx, void *va)
{
	return s2_pa((uint64_t)(uintptr_t)va);
}

static inline void *el2_identity_pa_to_va(void *ctx, s2_pa_t pa)
{
	return (void *)(uintptr_t)s2_pa_val(pa);
}

#endif /* S2_EL2_POOL_H */
