/* SPDX-License-Identifier: MIT */
/*
 * port/el2/sysreg.h - system register accessors and the maintenance instructions the EL2
 * port issues (Arm ARM C5, D19).
 */
#ifndef S2_EL2_SYSREG_H
#define S2_EL2_SYSREG_H

#include <stdbool.h>
#include <stdint.h>

/* Read/write a system register by its assembler name (a string literal token). */
#define el2_read_sysreg(reg)                                       \
	({                                                         \
		uint64_t el2_v__;                                  \
		__asm__ volatile("mrs %0, " #reg : "=r"(el2_v__)); \
		el2_v__;                                           \
	})

#define el2_write_sysreg(reg, val)                                                \
	do {                                                                      \
		uint64_t el2_w__ = (uint64_t)(val);                               \
		__asm__ volatile("msr " #reg ", %0" : : "r"(el2_w__) : "memory"); \
	} while (0)

/* ID_AA64MMFR2_EL1 and others without an assembler alias in old binutils use S3_... names. */
#define ID_AA64MMFR2_EL1_NAME s3_0_c0_c7_2

static inline void el2_isb(void)
{
	__asm__ volatile("isb" : : : "memory");
}

static inline void el2_dsb_ish(void)
{
	__asm__ volatile("dsb ish" : : : "memory");
}

static inline void el2_dsb_ishst(void)
{
	__asm__ volatile("dsb ishst" : : : "memory");
}

static inline void el2_dsb_nsh(void)
{
	__asm__ volatile("dsb nsh" : : : "memory");
}

static inline void el2_dsb_nshst(void)
{
	__asm__ volatile("dsb nshst" : : : "memory");
}

/* TLBI IPAS2E1 (this CPU only), same operand as el2_tlbi_ipas2e1is(). */
static inline void el2_tlbi_ipas2e1(uint64_t xt)
{
	__asm__ volatile("tlbi ipas2e1, %0" : : "r"(xt) : "memory");
}

/* TLBI VMALLE1 (this CPU only): every stage-1 (and combined) entry of the current VMID. */
static inline void el2_tlbi_vmalle1(void)
{
	__asm__ volatile("tlbi vmalle1" : : : "memory");
}

static inline void el2_dsb_sy(void)
{
	__asm__ volatile("dsb sy" : : : "memory");
}

/* TLBI IPAS2E1IS, Xt = IPA[55:12] in [43:0] with the TTL hint in [47:44] (Arm ARM C5.5). */
static inline void el2_tlbi_ipas2e1is(uint64_t xt)
{
	__asm__ volatile("tlbi ipas2e1is, %0" : : "r"(xt) : "memory");
}

/* TLBI VMALLE1IS: every stage-1 (and combined) entry of the current VMID. */
static inline void el2_tlbi_vmalle1is(void)
{
	__asm__ volatile("tlbi vmalle1is" : : : "memory");
}

/* TLBI VMALLS12E1IS: every stage-1 and stage-2 entry of the current VMID. */
static inline void el2_tlbi_vmalls12e1is(void)
{
	__asm__ volatile("tlbi vmalls12e1is" : : : "memory");
}

static inline void el2_dc_civac(uint64_t va)
{
	__asm__ volatile("dc civac, %0" : : "r"(va) : "memory");
}

static inline void el2_ic_ialluis(void)
{
	__asm__ volatile("ic ialluis" : : : "memory");
}

/*
 * The operand of TLBI IPAS2E1IS / IPAS2E1 (Arm ARM C5.5.x): IPA[51:12] in bits [39:0], and with
 * FEAT_TTL (@ttl) the level hint in [47:44]: TTL[3:2] the granule (01 4K, 10 16K, 11 64K, from
 * @granule = enum s2_granule: 0 4K, 1 16K, 2 64K), TTL[1:0] the level of the leaf. Level 0
 * hints are only defined with FEAT_LPA2, so the hint is given for levels 1..3 only.
 */
static inline uint64_t el2_tlbi_ipas2_operand(uint64_t ipa, unsigned int granule, int level,
					      bool ttl)
{
	uint64_t xt = (ipa >> 12) & ((UINT64_C(1) << 40) - 1);

	if (ttl && level >= 1 && level <= 3)
		xt |= ((((uint64_t)granule + 1) << 2) | (uint64_t)level) << 44;
	return xt;
}

/* FEAT_TTL (TLBI level hints): ID_AA64MMFR2_EL1.TTL [51:48] is not 0. */
static inline bool el2_has_ttl(void)
{
	return ((el2_read_sysreg(s3_0_c0_c7_2) >> 48) & 0xf) != 0;
}

/* The smallest data cache line in bytes: CTR_EL0.DminLine [19:16] is log2 of 4-byte words. */
static inline unsigned int el2_dcache_line(void)
{
	return 4u << ((el2_read_sysreg(ctr_el0) >> 16) & 0xf);
}

/* HCR_EL2 bits (Arm ARM D19.2.46). */
#define HCR_VM (UINT64_C(1) << 0)
#define HCR_SWIO (UINT64_C(1) << 1)
#define HCR_FMO (UINT64_C(1) << 3)
#define HCR_IMO (UINT64_C(1) << 4)
#define HCR_AMO (UINT64_C(1) << 5)
#define HCR_TSC (UINT64_C(1) << 19)
#define HCR_RW (UINT64_C(1) << 31)
#define HCR_FWB (UINT64_C(1) << 46)

/* ESR_ELx exception classes the run loop handles. */
#define ESR_EC_SHIFT 26
#define ESR_EC_HVC64 0x16u

/* SPSR for entering EL1h with D, A, I, F masked. */
#define SPSR_EL1H_MASKED 0x3c5u

#endif /* S2_EL2_SYSREG_H */
