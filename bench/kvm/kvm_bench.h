/* SPDX-License-Identifier: MIT */
/*
 * kvm_bench.h - between the KVM benchmark harness (bench/bench_kvm.c, built with the s2mmu
 * headers) and the side built with the kernel stand-in headers (bench/kvm/kvm_glue.c, which
 * calls Linux KVM's stage-2 engine, arch/arm64/kvm/hyp/pgtable.c). Only C types here.
 *
 * The engine's page-table pages come from the s2mmu host port (the same allocator, zeroing
 * and per-page reference counts that s2mmu's engine gets in bench_pgtable), through KVM's
 * kvm_pgtable_mm_ops as the kernel fills them in (arch/arm64/kvm/mmu.c): pages start with
 * one reference, get_page()/put_page() take and drop one on the page holding any address
 * given, the last put frees the page; phys_to_virt()/virt_to_phys() are the linear offset of
 * the arena; the cache-maintenance callbacks count (FWB: nothing to do).
 */
#ifndef S2MMU_BENCH_KVM_BENCH_H
#define S2MMU_BENCH_KVM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where KVM's table pages come from (the host port's ops and arena). */
struct kvmb_mem {
	void *(*alloc_pages)(void *ctx, size_t bytes); /* zeroed, power-of-two bytes */
	void (*free_pages)(void *ctx, void *va, size_t bytes);
	uint32_t *(*page_refcount)(void *ctx, void *va); /* any address inside the page */
	void *ctx;
	void *arena_va; /* the arena: VA of PA arena_pa */
	uint64_t arena_pa;
};

/* What the engine asked of the machine (counted by the shim). */
struct kvmb_stats {
	uint64_t tlbi_ipa; /* __kvm_tlb_flush_vmid_ipa (inner shareable) */
	uint64_t tlbi_ipa_nsh; /* __kvm_tlb_flush_vmid_ipa_nsh (6.12 relax_perms) */
	uint64_t tlbi_range; /* __kvm_tlb_flush_vmid_range calls */
	uint64_t tlbi_vmid; /* __kvm_tlb_flush_vmid */
	uint64_t tlbi_hyp; /* stage-1 hypervisor TLBIs (never in these benchmarks) */
	uint64_t dc_ops, ic_ops; /* dcache_clean_inval_poc / icache_inval_pou callbacks */
	uint64_t barriers; /* dsb() and isb() */
	uint64_t warnings; /* WARN_ON()s that fired: must stay 0 */
};

/* One benchmark instance; bench_kvm.c owns it, kvm_glue.c's measured loops read it. */
struct kvmb_engine;
struct s2_host_port;
struct bench {
	struct kvmb_engine *k; /* KVM's struct kvm_pgtable and its kvm_s2_mmu */
	uint64_t ipa; /* region measured */
	uint64_t size;
	uint64_t pa; /* output address of ipa */
	uint64_t *ipas; /* lookup: random IPAs */
	uint64_t nr_ipas;
	uint64_t lookup_pa_sum; /* lookup: sum of the output addresses */
	uint64_t lookup_valid;
	uint64_t young; /* age: young pages reported (6.12: 1 if any, its API returns a bool) */
	/* harness only */
	struct s2_host_port *hp;
	uint64_t pages_after_init;
};

/* "6.12" or "6.1", and the prefix of the results' names ("kvm612", "kvm61"). */
extern const char kvmb_version[];
extern const char kvmb_name[];
/* Whether the engine can test-and-clear young over a range (6.12; 6.1 only page by page). */
extern const bool kvmb_has_range_age;

/* A stage-2 of 4K granule, 40-bit IPA (3 levels from level 1, 2 concatenated root pages),
 * FWB on, its pages from @mem. Return: 0 or a negative errno. */
int kvmb_create(struct bench *b, const struct kvmb_mem *mem);
void kvmb_destroy(struct bench *b);
uint64_t kvmb_root_pa(const struct bench *b);

/* Setup (not measured): map [@ipa, +@size) at @pa, RW or RO, 4K pages when @force_pte; make
 * a range old (AF clear). Return: 0 or a negative errno. */
int kvmb_map(struct bench *b, uint64_t ipa, uint64_t size, uint64_t pa, bool writable,
	     bool force_pte);
int kvmb_mkold(struct bench *b, uint64_t ipa, uint64_t size);
/* Force 4K pages in the next kvm_pgtable_stage2_map() calls (pgt->force_pte_cb). */
void kvmb_force_pte(struct bench *b, bool force);

void kvmb_get_stats(struct kvmb_stats *out);

/* A walk of the whole tree, independent of KVM's walker: valid leaves per level, table pages
 * (root included), and the reference count of every table page against KVM's rule (one plus
 * one per non-zero entry); errors counted, the first described. */
struct kvmb_check {
	uint64_t leaves[4];
	uint64_t table_pages;
	uint64_t errors;
	char first_error[160];
};
void kvmb_check(const struct bench *b, struct kvmb_check *rep);

/* The measured loops (kvm_glue.c) are bench_common.h's bench_op_*(), named as bench_pgtable's
 * so that callgrind's --toggle-collect='bench_op_*' counts exactly them. */

#endif /* S2MMU_BENCH_KVM_BENCH_H */
