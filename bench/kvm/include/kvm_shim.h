/* SPDX-License-Identifier: MIT */
/*
 * kvm_shim.h - the userspace stand-in for the kernel headers that Linux KVM's arm64 stage-2
 * engine (arch/arm64/kvm/hyp/pgtable.c, with its asm/kvm_pgtable.h and asm/stage2_pgtable.h)
 * includes, so that the unchanged file builds as x86-64 (or any 64-bit) userspace code for
 * the benchmarks (bench/README.md, "KVM's engine in the same run").
 *
 * Written here from the architecture and the kernel's documented interfaces, not copied from
 * the kernel. Covers Debian's linux-source-6.12 (BENCH_KVM_VERSION 612) and linux-source-6.1
 * (61): the host (VHE) build of pgtable.c, i.e. with RCU-protected shared walks in 6.12.
 *
 * What it models:
 * - The kernel configuration KVM runs with on the hardware compared: 4K pages, 48-bit PA, no
 *   LPA2, FEAT_S2FWB and FEAT_TLBIRANGE present (cpus_have_final_cap(ARM64_HAS_STAGE2_FWB),
 *   system_supports_tlb_range() true), no hardware AF/DBM workaround.
 * - RCU: one reader at a time here, so rcu_read_lock()/unlock() are compiler barriers and
 *   rcu_dereference_check() the plain pointer (as in a !PREEMPT kernel without lockdep).
 * - Atomics: cmpxchg() fully ordered (GCC __atomic, as arm64's LSE CASAL), READ_ONCE and
 *   WRITE_ONCE volatile accesses, smp_store_release() a release store.
 * - dsb()/isb(), the TLB invalidations KVM issues through kvm_call_hyp() (VHE: a direct call)
 *   and the mm_ops callbacks are out-of-line calls into kvm_shim.c that count, as the s2mmu
 *   host port's barrier, TLBI and CMO callbacks do.
 * - WARN_ON()/WARN_ON_ONCE() count in kvm_shim_warnings (the benchmark fails if any fired).
 */
#ifndef S2MMU_BENCH_KVM_SHIM_H
#define S2MMU_BENCH_KVM_SHIM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef BENCH_KVM_VERSION
#error "BENCH_KVM_VERSION (612 or 61) must be defined"
#endif

/* ---- linux/types.h ------------------------------------------------------------------------ */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef u64 phys_addr_t;
typedef u64 kvm_pfn_t;

/* ---- compiler ------------------------------------------------------------------------------- */
#define __rcu
#ifndef __always_inline
#define __always_inline inline __attribute__((__always_inline__))
#endif
#define noinline __attribute__((__noinline__))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" ::: "memory")
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#define IS_ENABLED(option) 0 /* every CONFIG_ tested with IS_ENABLED is off here */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))

/* ---- linux/bits.h, linux/bitfield.h ----------------------------------------------------------- */
#define BIT(n) (UINT64_C(1) << (n))
#define BIT_ULL(n) (UINT64_C(1) << (n))
#define GENMASK(h, l) ((~UINT64_C(0) << (l)) & (~UINT64_C(0) >> (63 - (h))))
#define GENMASK_ULL(h, l) GENMASK(h, l)
#define FIELD_GET(mask, reg) ((__typeof__(mask))(((reg) & (mask)) >> __builtin_ctzll(mask)))
#define FIELD_PREP(mask, val) ((((u64)(val)) << __builtin_ctzll(mask)) & (mask))

/* ---- alignment, errors ------------------------------------------------------------------------ */
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define ALIGN(x, a) ALIGN_DOWN((x) + ((__typeof__(x))(a)-1), a)
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a)-1)) == 0)
#define PAGE_SHIFT 12
#define PAGE_SIZE (UINT64_C(1) << PAGE_SHIFT)
#define PAGE_ALIGN(x) ALIGN(x, PAGE_SIZE)
#define PTRS_PER_PTE (1 << (PAGE_SHIFT - 3))
#define __phys_to_pfn(pa) ((pa) >> PAGE_SHIFT)
#define CONFIG_ARM64_4K_PAGES 1
#define CONFIG_ARM64_PA_BITS 48

#define EPERM 1
#define ENOENT 2
#define EAGAIN 11
#define ENOMEM 12
#define EEXIST 17
#define EINVAL 22
#define ERANGE 34
#define E2BIG 7
#define MAX_ERRNO 4095
#define ERR_PTR(e) ((void *)(intptr_t)(e))
#define PTR_ERR(p) ((long)(intptr_t)(p))
#define IS_ERR(p) ((uintptr_t)(p) >= (uintptr_t)-MAX_ERRNO)

extern unsigned long kvm_shim_warnings;
#define WARN_ON(c)                           \
	({                                   \
		bool __w = !!(c);            \
		if (unlikely(__w))           \
			kvm_shim_warnings++; \
		__w;                         \
	})
#define WARN_ON_ONCE(c) WARN_ON(c)
#define BUG_ON(c) ((void)WARN_ON(c))

/* ---- CPU features -------------------------------------------------------------------------- */
enum kvm_shim_cap {
	ARM64_HAS_STAGE2_FWB,
	ARM64_WORKAROUND_AMPERE_AC03_CPU_38,
	ARM64_KVM_HVHE,
};
#define cpus_have_final_cap(c) ((c) == ARM64_HAS_STAGE2_FWB)
#define cpus_have_const_cap(c) cpus_have_final_cap(c)
#define system_supports_tlb_range() true
#define system_supports_lpa2() false
#define system_supports_bti_kernel() false

#define ID_AA64MMFR0_EL1_PARANGE_SHIFT 0
#define ID_AA64MMFR0_EL1_PARANGE_32 0x0
#define ID_AA64MMFR0_EL1_PARANGE_36 0x1
#define ID_AA64MMFR0_EL1_PARANGE_40 0x2
#define ID_AA64MMFR0_EL1_PARANGE_42 0x3
#define ID_AA64MMFR0_EL1_PARANGE_44 0x4
#define ID_AA64MMFR0_EL1_PARANGE_48 0x5
#define ID_AA64MMFR0_EL1_PARANGE_52 0x6
#define ID_AA64MMFR0_EL1_PARANGE_MAX ID_AA64MMFR0_EL1_PARANGE_48
#define ID_AA64MMFR1_EL1_VMIDBits_SHIFT 4
#define ID_AA64MMFR1_EL1_VMIDBits_16 0x2

static inline unsigned int cpuid_feature_extract_unsigned_field(u64 reg, int shift)
{
	return (unsigned int)((reg >> shift) & 0xf);
}

static inline u32 id_aa64mmfr0_parange_to_phys_shift(int parange)
{
	static const u8 bits[] = { 32, 36, 40, 42, 44, 48, 52 };

	return parange >= 0 && parange < 7 ? bits[parange] : CONFIG_ARM64_PA_BITS;
}

static inline unsigned int get_vmid_bits(u64 mmfr1)
{
	return cpuid_feature_extract_unsigned_field(mmfr1, ID_AA64MMFR1_EL1_VMIDBits_SHIFT) ==
			       ID_AA64MMFR1_EL1_VMIDBits_16 ?
		       16 :
		       8;
}

/* ---- page-table geometry, memory types (VMSAv8-64, 4K granule) ---------------------------------- */
#define ARM64_HW_PGTABLE_LEVELS(va_bits) (((va_bits)-4) / (PAGE_SHIFT - 3))
#define ARM64_HW_PGTABLE_LEVEL_SHIFT(n) ((PAGE_SHIFT - 3) * (4 - (n)) + 3)

/* Stage-1 attribute indexes (hyp mappings only, not measured). */
#define MT_NORMAL 0
#define MT_DEVICE_nGnRE 4
/* Stage-2 MemAttr[3:0]: without FWB (Normal WB, Normal NC, Device-nGnRE), and with FWB. */
#define MT_S2_NORMAL 0xf
#define MT_S2_NORMAL_NC 0x5
#define MT_S2_DEVICE_nGnRE 0x1
#define MT_S2_FWB_NORMAL 6
#define MT_S2_FWB_NORMAL_NC 5
#define MT_S2_FWB_DEVICE_nGnRE 1
#define PTE_S2_MEMATTR(t) ((u64)(t) << 2)
#define PAGE_S2_MEMATTR(attr, has_fwb) \
	((has_fwb) ? PTE_S2_MEMATTR(MT_S2_FWB_##attr) : PTE_S2_MEMATTR(MT_S2_##attr))

/* ---- VTCR_EL2 ------------------------------------------------------------------------------------ */
#define VTCR_EL2_T0SZ_MASK 0x3f
#define VTCR_EL2_T0SZ(x) (64 - (x))
#define VTCR_EL2_SL0_SHIFT 6
#define VTCR_EL2_SL0_MASK (3 << VTCR_EL2_SL0_SHIFT)
#define VTCR_EL2_IRGN0_WBWA (1 << 8)
#define VTCR_EL2_ORGN0_WBWA (1 << 10)
#define VTCR_EL2_SH0_INNER (3 << 12)
#define VTCR_EL2_TG0_4K (0 << 14)
#define VTCR_EL2_PS_SHIFT 16
#define VTCR_EL2_VS_8BIT (0 << 19)
#define VTCR_EL2_VS_16BIT (1 << 19)
#define VTCR_EL2_HA (1 << 21)
#define VTCR_EL2_RES1 (1U << 31)
#define VTCR_EL2_DS (UINT64_C(1) << 32)
#define VTCR_EL2_TGRAN VTCR_EL2_TG0_4K
#define VTCR_EL2_TGRAN_SL0_BASE 2UL
#define VTCR_EL2_COMMON_BITS \
	(VTCR_EL2_SH0_INNER | VTCR_EL2_ORGN0_WBWA | VTCR_EL2_IRGN0_WBWA | VTCR_EL2_RES1)
#define VTCR_EL2_FLAGS (VTCR_EL2_COMMON_BITS | VTCR_EL2_TGRAN)
#define VTCR_EL2_LVLS_TO_SL0(levels) \
	((VTCR_EL2_TGRAN_SL0_BASE - (4 - (levels))) << VTCR_EL2_SL0_SHIFT)
#define VTCR_EL2_SL0_TO_LVLS(sl0) ((sl0) + 4 - VTCR_EL2_TGRAN_SL0_BASE)
#define VTCR_EL2_LVLS(vtcr) VTCR_EL2_SL0_TO_LVLS(((vtcr)&VTCR_EL2_SL0_MASK) >> VTCR_EL2_SL0_SHIFT)
#define VTCR_EL2_IPA(vtcr) (64 - ((vtcr)&VTCR_EL2_T0SZ_MASK))

/* ---- RCU (6.12 shared walks), atomics, barriers ------------------------------------------------ */
#define rcu_read_lock() barrier()
#define rcu_read_unlock() barrier()
#define rcu_read_lock_held() 1
#define rcu_dereference_check(p, c) (p)

#define cmpxchg(ptr, old, new)                                                             \
	({                                                                                 \
		__typeof__(*(ptr)) __old = (old);                                          \
		__atomic_compare_exchange_n((ptr), &__old, (new), false, __ATOMIC_SEQ_CST, \
					    __ATOMIC_SEQ_CST);                             \
		__old;                                                                     \
	})
#define smp_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

enum kvm_shim_barrier { KVM_SHIM_DSB_ISHST, KVM_SHIM_ISB };
void kvm_shim_barrier(enum kvm_shim_barrier b);
#define dsb(opt) kvm_shim_barrier(KVM_SHIM_DSB_ISHST)
#define isb() kvm_shim_barrier(KVM_SHIM_ISB)

/* ---- struct kvm_s2_mmu, the memory cache, the hypervisor calls --------------------------------- */
struct kvm_pgtable;

struct kvm_mmu_memory_cache {
	int nobjs;
};

struct kvm_arch {
	u64 vtcr; /* 6.1 reads mmu->arch->vtcr */
};

struct kvm_s2_mmu {
	u64 vtcr; /* 6.12 reads mmu->vtcr */
	struct kvm_arch *arch;
	struct kvm_pgtable *pgt;
	struct kvm_mmu_memory_cache split_page_cache;
};

/* KVM's TLB maintenance (arch/arm64/kvm/hyp/vhe/tlb.c on hardware): counted. */
#define TLBI_TTL_UNKNOWN INT_MAX
#define __TLBI_RANGE_PAGES(num, scale) ((unsigned long)((num) + 1) << (5 * (scale) + 1))
#define MAX_TLBI_RANGE_PAGES __TLBI_RANGE_PAGES(31, 3)
void __kvm_tlb_flush_vmid_ipa(struct kvm_s2_mmu *mmu, phys_addr_t ipa, int level);
void __kvm_tlb_flush_vmid_ipa_nsh(struct kvm_s2_mmu *mmu, phys_addr_t ipa, int level);
void __kvm_tlb_flush_vmid_range(struct kvm_s2_mmu *mmu, phys_addr_t start, unsigned long pages);
void __kvm_tlb_flush_vmid(struct kvm_s2_mmu *mmu);
/* Stage-1 hypervisor mappings (kvm_pgtable_hyp_*, not measured): counted as TLBI by VA. */
void kvm_shim_tlbi_hyp(void);
#define __TLBI_VADDR(addr, asid) (addr)
#define __tlbi_level(op, addr, level) ((void)(addr), (void)(level), kvm_shim_tlbi_hyp())
#define __tlbi_sync_s1ish_hyp() dsb(ish)
/* VHE: the "hypervisor call" is a direct function call. */
#define kvm_call_hyp(f, ...) f(__VA_ARGS__)

#endif /* S2MMU_BENCH_KVM_SHIM_H */
