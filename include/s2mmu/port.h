/* SPDX-License-Identifier: MIT */
/*
 * s2mmu/port.h - the one table of side effects.
 *
 * The engine and the policy layers never allocate, translate addresses, invalidate TLBs or
 * maintain caches themselves: they call through a struct s2_port. The hosted port
 * (port/host/) backs it with a page arena at arbitrary physical addresses and records every
 * TLBI and cache operation so tests can assert their order; the EL2 port (port/el2/) issues the
 * real instructions.
 *
 * Every operation is a complete sequence: when it returns, its effect is complete as far as
 * the port is concerned, and a port keeps no state between calls that a later call must
 * finish ("still owed" work). The only ordering the engine adds around them is its own
 * DSB ISHST before TLB maintenance (so the walkers see the new descriptor first) and a
 * DSB ISH after a batch, both through @barrier.
 *
 * Which stage-2 context the TLBI ops act on: a TLBI by IPA or VMID acts on the VMID in
 * VTTBR_EL2 (Arm ARM D8.13). For a VM's table the VM layer, and only it, loads the VM's
 * context first (s2_vm_hooks.load_stage2, required by s2_vm_init(); on the abort path the
 * vCPU's context is already loaded). A table used through the engine directly (a bare engine,
 * the owner layer's host stage-2) has no such layer: its user loads the context around the
 * engine call, or gives a port whose TLBI ops target @pgt's VMID themselves.
 */
#ifndef S2MMU_PORT_H
#define S2MMU_PORT_H

#include "s2mmu/env.h"

struct s2_pgtable;

/* Barrier kinds a port must implement (Arm ARM B2.3). */
enum s2_barrier {
	S2_BARRIER_DSB_ISHST, /* make descriptor stores visible to the table walkers */
	S2_BARRIER_DSB_ISH, /* complete TLBIs (after a batch of them) */
	S2_BARRIER_ISB,
};

struct s2_port_ops {
	/**
	 * @alloc_pages: return @bytes of zeroed memory aligned to @bytes (a power of two, at
	 * least one granule), or NULL. Used for table pages and concatenated roots.
	 */
	void *(*alloc_pages)(void *ctx, size_t bytes);
	/** @free_pages: give back memory from @alloc_pages, with the same @bytes. */
	void (*free_pages)(void *ctx, void *va, size_t bytes);
	/**
	 * @page_refcount: a 32-bit counter the port keeps for the table page at @va (one that
	 * @alloc_pages returned, or any granule inside a multi-page allocation). The engine
	 * uses it for table-page reference counts: it is 0 when the page is allocated.
	 */
	uint32_t *(*page_refcount)(void *ctx, void *va);
	/** @va_to_pa / @pa_to_va: translate table memory between the two views. */
	s2_pa_t (*va_to_pa)(void *ctx, void *va);
	void *(*pa_to_va)(void *ctx, s2_pa_t pa);
	/**
	 * @tlbi_ipa: invalidate stage-2 (and combined) TLB entries of @pgt's VM for @ipa;
	 * @level is the level of the removed leaf (TTL hint) or -2 when unknown. Acts on the
	 * stage-2 context loaded (see above: for a VM, loaded by the VM layer). A complete
	 * sequence, combined stage-1+2 entries included, as KVM's __kvm_tlb_flush_vmid_ipa:
	 * TLBI IPAS2E1IS; DSB ISH; TLBI VMALLE1IS; DSB ISH; ISB. The engine still calls
	 * @barrier(S2_BARRIER_DSB_ISH) after a batch; the port owes nothing to it.
	 */
	void (*tlbi_ipa)(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level);
	/** @tlbi_range: invalidate [@ipa, @ipa + @size) at once (FEAT_TLBIRANGE or a loop),
	 * leaf and walk-cache entries alike (no level hint). Same rules as @tlbi_ipa (a complete
	 * sequence: one stage-1 invalidation of the VMID after the batch of stage-2 ones, as
	 * KVM's __kvm_tlb_flush_vmid_range); the engine issues DSB ISHST before. */
	void (*tlbi_range)(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size);
	/** @tlbi_vmid: invalidate every stage-1 and stage-2 entry of @pgt's VM (the engine
	 * uses it for ranges above pgt->tlbi_range_threshold): TLBI VMALLS12E1IS; DSB ISH. */
	void (*tlbi_vmid)(void *ctx, const struct s2_pgtable *pgt);
	/**
	 * @tlbi_ipa_local: optional (NULL: the engine falls back to @tlbi_ipa between
	 * DSB ISHST and DSB ISH, correct but broadcast). Invalidate, on the calling CPU only,
	 * the stage-2 and combined entries of @pgt's VM for @ipa, as KVM's
	 * __kvm_tlb_flush_vmid_ipa_nsh does, the whole sequence including its barriers:
	 * DSB NSHST; TLBI IPAS2E1 (@ipa >> 12, with the TTL hint of @level, -2 for none);
	 * DSB NSH; TLBI VMALLE1; DSB NSH; ISB. The VM's VTTBR must be loaded (as for
	 * @tlbi_ipa). The engine calls it after s2_pgtable_relax_perms() in every outcome
	 * but a refusal (leaf updated or already as asked: @level the leaf's; no valid leaf or
	 * a race: -2), and after a single-entry map with S2_MAP_SHARED that granted a
	 * permission in place (docs/pgtable.md): a TLB may keep an entry that caused a
	 * permission fault (Arm ARM D8.17), so the faulting CPU could otherwise fault again on
	 * the old entry after the permission was granted. Other CPUs' stale entries only cost
	 * them a spurious fault, which their own relax then clears. May run concurrently.
	 */
	void (*tlbi_ipa_local)(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level);
	/**
	 * @dcache_clean_inval_poc: clean and invalidate the data cache to the Point of
	 * Coherency for [@pa, @pa + @size) (DC CIVAC on the host mapping of that memory).
	 * The engine calls it without FWB for Normal write-back memory: before a map makes it
	 * valid (unless S2_MAP_NOCMO), and after an unmap, annotate or replacement removed it
	 * from the guest (after the TLBI, once per physically contiguous run): the guest may
	 * hold dirty lines that the host, a device or a non-cacheable access must see.
	 */
	void (*dcache_clean_inval_poc)(void *ctx, s2_pa_t pa, uint64_t size);
	/** @icache_inval_pou: invalidate the instruction cache for [@pa, @pa + @size). */
	void (*icache_inval_pou)(void *ctx, s2_pa_t pa, uint64_t size);
	/** @barrier: issue a barrier. */
	void (*barrier)(void *ctx, enum s2_barrier b);
};

struct s2_port {
	const struct s2_port_ops *ops;
	void *ctx;
	/*
	 * Optional fast path (leave both zero to always use the callbacks): when @linear is
	 * true, every table page satisfies va == pa + @va_minus_pa (modulo 2^64), and the engine
	 * computes PA<->VA with that instead of calling @pa_to_va/@va_to_pa on its hot paths.
	 */
	bool linear;
	uint64_t va_minus_pa;
};

#endif /* S2MMU_PORT_H */
