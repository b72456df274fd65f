/* SPDX-License-Identifier: MIT */
/*
 * s2mmu/memtype.h - the memory-type policy: which stage-2 attributes a guest page gets.
 *
 * One pure function, s2_memtype_decide(), implements the table of ARCH-NOTES §1: from the
 * backing (RAM or device MMIO), the type of the host mapping that backs the guest page, the
 * memslot's allow-any-uncached flag, whether execution is requested, and the VM's FWB/MTE
 * configuration, it returns the stage-2 memory type, its MemAttr encoding, the S2_PROT_* flags
 * to hand to the engine, whether exec may be granted, and the cache maintenance the mapping
 * needs — or the reason the mapping is refused.
 *
 *   backing  host mapping            flag                stage-2 type     exec
 *   RAM      Normal (WB)             -                   Normal WB        yes (IC unless DIC)
 *   RAM      Normal-Tagged, MTE VM   -                   Normal WB        yes (tags sanitised)
 *   RAM      Normal-NC               -                   Normal WB        yes (as Normal)
 *   RAM      Normal-NC               keep_host_nc        Normal-NC        refused
 *   any      Device-nGnRE            -                   Device-nGnRE     refused
 *   any      Device-nGnRnE           -                   Device-nGnRnE    refused
 *   MMIO     any                     allow-any-uncached  Normal-NC        refused
 *   MMIO     Normal / Tagged / NC    -                   Device-nGnRE     refused
 *
 * RAM behind a Normal-NC (write-combine) host mapping is Normal at stage 2, as in KVM (the
 * guest's stage 1 picks its cacheability; with FWB it is write-back); keep_host_nc, a VM's
 * opt-in policy (S2_VM_KEEP_HOST_NC), keeps the host's Normal-NC instead. With CTR_EL0.DIC,
 * Normal memory gets exec on every mapping (S2_PROT_X in prot), not only when asked for.
 *
 * Depends on `arch` only (s2_memattr_encode()); no state.
 */
#ifndef S2MMU_MEMTYPE_H
#define S2MMU_MEMTYPE_H

#include "s2mmu/arch.h"

/* What backs the guest page. */
enum s2_backing {
	S2_BACKING_RAM = 0,
	S2_BACKING_MMIO = 1,
};

/* The memory type of the host's own mapping of the backing. */
enum s2_hostmem {
	S2_HOSTMEM_NORMAL = 0, /* Normal write-back */
	S2_HOSTMEM_NORMAL_TAGGED = 1, /* Normal write-back, MTE allocation tags allowed */
	S2_HOSTMEM_NORMAL_NC = 2, /* Normal non-cacheable (write-combine) */
	S2_HOSTMEM_DEVICE_nGnRE = 3,
	S2_HOSTMEM_DEVICE_nGnRnE = 4,
};

#define S2_NR_HOST_TYPES 5

/* Cache maintenance a mapping needs (s2_memtype_attrs.cmo). */
#define S2_CMO_DCACHE S2_BIT(0) /* D-cache clean+invalidate to PoC before the guest sees it */
#define S2_CMO_ICACHE S2_BIT(1) /* I-cache invalidate to PoU before exec is granted */
#define S2_CMO_TAGS S2_BIT(2) /* sanitise (zero) the MTE tags once per page, before mapping */

struct s2_memtype_req {
	enum s2_backing backing;
	enum s2_hostmem host_type;
	bool allow_any_uncached; /* memslot flag: the guest may pick Device or NC for MMIO */
	bool keep_host_nc; /* policy: RAM behind a Normal-NC host mapping stays Normal-NC
			    * (default: Normal, as KVM) */
	bool exec; /* execution is requested (instruction fetch fault) */
	bool fwb; /* the VM runs with HCR_EL2.FWB=1 */
	bool dic; /* CTR_EL0.DIC: no I-cache invalidate needed for exec */
	bool vm_mte; /* the VM uses MTE */
	bool backing_tags; /* the backing memory can hold allocation tags */
};

struct s2_memtype_attrs {
	enum s2_memtype type; /* S2_MT_NORMAL_WB, S2_MT_NORMAL_NC, S2_MT_DEVICE_nGnRE/nGnRnE */
	uint8_t memattr; /* stage-2 MemAttr[3:0] under the VM's FWB mode */
	uint64_t prot; /* S2_PROT_DEVICE / _DEVICE_NGNRNE / _NORMAL_NC, plus S2_PROT_X when
			* exec was requested, or for Normal memory when @dic; the caller adds
			* R/W */
	bool exec; /* exec may be granted on this mapping */
	uint64_t cmo; /* S2_CMO_* */
};

/**
 * s2_memtype_decide() - the stage-2 attributes for a guest page (ARCH-NOTES §1 table).
 * @req: the backing, host mapping type, flags and VM mode.
 * @out: filled on success; on refusal it still describes the mapping a non-exec request would
 *       get where there is one (exec refusals), else it is zeroed.
 *
 * Rules beyond the table: allow-any-uncached only relaxes MMIO; on RAM whose host mapping is
 * Device it asks for Device and Normal-NC at once. An MTE VM may map RAM only through a
 * Normal-Tagged host mapping of memory that holds tags (Device RAM carries no tags and is
 * allowed). D-cache clean+invalidate to PoC is needed for Normal cacheable memory without FWB
 * (Arm ARM D8.17: with FEAT_S2FWB stage 2 forces cacheability so the guest never sees stale
 * lines); I-cache invalidate for exec unless DIC; tag sanitisation for Tagged RAM in an MTE VM.
 * With DIC, a Normal result carries S2_PROT_X even when exec was not requested (KVM maps
 * Normal memory executable on every fault then: no I-cache maintenance to pay, and the exec
 * fault that would follow is saved); Device and Normal-NC never do.
 *
 * Return: 0; S2_EINVAL for a NULL argument, an unknown backing or host type, or Device and
 * Normal-NC requested together (allow-any-uncached on RAM with a Device host mapping); S2_EMEMTYPE for exec on a Device or Normal-NC result, or RAM without tags (or
 * through an untagged host mapping) for an MTE VM.
 */
int s2_memtype_decide(const struct s2_memtype_req *req, struct s2_memtype_attrs *out);

/** s2_hostmem_name() - "normal", "tagged", "nc", "device-ngnre", "device-ngnrne"; "?" else. */
const char *s2_hostmem_name(enum s2_hostmem t);

/** s2_backing_name() - "ram" or "mmio"; "?" else. */
const char *s2_backing_name(enum s2_backing b);

#endif /* S2MMU_MEMTYPE_H */
