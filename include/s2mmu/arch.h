/* SPDX-License-Identifier: MIT */
/*
 * s2mmu/arch.h - pure encodings of the VMSAv8-64 stage-2 translation regime.
 *
 * Nothing here has state, allocates or decides policy: it builds and parses descriptors,
 * MemAttr fields (with and without FEAT_S2FWB), VTCR_EL2/VTTBR_EL2, ESR_EL2/HPFAR_EL2 syndromes
 * and the ID registers, and computes a VM's translation configuration (struct s2_config) from
 * the host's capabilities and the VM's request. References are to the Arm ARM (DDI 0487).
 */
#ifndef S2MMU_ARCH_H
#define S2MMU_ARCH_H

#include "s2mmu/env.h"
#include "s2mmu/error.h"

/* ---- granules and geometry ------------------------------------------------------------------ */

enum s2_granule {
	S2_GRANULE_4K = 0,
	S2_GRANULE_16K = 1,
	S2_GRANULE_64K = 2,
};

#define S2_NR_GRANULES 3

/* Lookup levels run from -1 (4K with FEAT_LPA2 only) to 3. */
#define S2_LEVEL_MIN (-1)
#define S2_LEVEL_MAX 3

/* Largest number of concatenated tables at the initial stage-2 lookup (Arm ARM D8.2.3). */
#define S2_MAX_CONCAT 16

/** s2_granule_shift() - log2 of the granule size: 12, 14 or 16; 0 for an invalid value. */
unsigned int s2_granule_shift(enum s2_granule g);

/** s2_granule_size() - the granule size in bytes; 0 for an invalid value. */
uint64_t s2_granule_size(enum s2_granule g);

/** s2_granule_name() - "4k", "16k" or "64k"; "?" for an invalid value. */
const char *s2_granule_name(enum s2_granule g);

/** s2_level_shift() - log2 of the region one entry at @level maps (e.g. 4K: L3 12, L2 21);
 * 0 for a level the granule does not have (4K: -1..3, 16K: 0..3, 64K: 1..3). */
unsigned int s2_level_shift(enum s2_granule g, int level);

/** s2_level_size() - bytes one entry at @level maps; 0 for a level the granule lacks. */
uint64_t s2_level_size(enum s2_granule g, int level);

/** s2_contig_entries() - entries in a Contiguous run at @level (4K 16 at L1..L3; 16K 128 at L3,
 * 32 at L2; 64K 32 at L2..L3), 0 where the level has no leaf entries and at the levels whose
 * blocks exist only with DS/LPA (4K L0, 16K L1, 64K L1: s2mmu does not set Contig there). */
unsigned int s2_contig_entries(enum s2_granule g, int level);

/* ---- stage-2 descriptors (Arm ARM D8.3) -------------------------------------------------------- */

typedef uint64_t s2_pte_t;

#define S2_PTE_VALID S2_BIT(0)
#define S2_PTE_TYPE S2_BIT(1) /* 1: table (L<3) or page (L3); 0: block */
#define S2_PTE_MEMATTR S2_GENMASK(5, 2)
#define S2_PTE_S2AP S2_GENMASK(7, 6)
#define S2_PTE_S2AP_R S2_BIT(6)
#define S2_PTE_S2AP_W S2_BIT(7)
#define S2_PTE_SH S2_GENMASK(9, 8)
#define S2_PTE_AF S2_BIT(10)
#define S2_PTE_NT S2_BIT(16)
#define S2_PTE_DBM S2_BIT(51)
#define S2_PTE_CONTIG S2_BIT(52)
#define S2_PTE_XN S2_GENMASK(54, 53)
#define S2_PTE_SW S2_GENMASK(58, 55) /* SW0..SW3, ignored by hardware */
#define S2_PTE_SW0 S2_BIT(55)
#define S2_PTE_SW1 S2_BIT(56)
#define S2_PTE_SW2 S2_BIT(57)
#define S2_PTE_SW3 S2_BIT(58)
#define S2_PTE_PBHA S2_GENMASK(62, 59)
/* 64K granule with FEAT_LPA: OA[51:48] in descriptor bits [15:12]. */
#define S2_PTE_OA_HI_64K S2_GENMASK(15, 12)
/* 4K/16K with FEAT_LPA2 (VTCR_EL2.DS=1): OA[51:50] in descriptor bits [9:8]. */
#define S2_PTE_OA_HI_LPA2 S2_GENMASK(9, 8)
/*
 * Invalid descriptors: hardware ignores every bit but bit 0. s2mmu stores an owner id there
 * (page ownership, "annotated" entries): bits [9:2] hold the owner id, bit 1 is clear.
 * Entries with owner id 0 and no other bits are plain "empty" entries (all zero).
 */
#define S2_PTE_INVALID_OWNER S2_GENMASK(9, 2)

/* S2AP (stage-2 access permissions), descriptor bits [7:6]. */
#define S2_S2AP_NONE 0u
#define S2_S2AP_RO 1u
#define S2_S2AP_WO 2u
#define S2_S2AP_RW 3u

/* Shareability, descriptor bits [9:8] (VTCR_EL2.SH0 when DS=1). */
#define S2_SH_NON 0u
#define S2_SH_OUTER 2u
#define S2_SH_INNER 3u

/*
 * XN[1:0], descriptor bits [54:53]. Without FEAT_XNX only XN[1] (bit 54) exists: 0 executable,
 * 1 never. With FEAT_XNX: 00 both EL1 and EL0 may execute, 01 EL0 only (PXN), 10 neither,
 * 11 EL1 only (UXN).
 */
#define S2_XN_NONE 0u
#define S2_XN_EL1 1u /* EL1 may not execute, EL0 may (FEAT_XNX) */
#define S2_XN_ALL 2u
#define S2_XN_EL0 3u /* EL0 may not execute, EL1 may (FEAT_XNX) */

/* How a descriptor's address bits are laid out: depends on the granule, VTCR_EL2.DS and
 * (64K) whether the output size is 52 bits. */
struct s2_pte_format {
	enum s2_granule granule;
	bool ds; /* FEAT_LPA2 descriptor layout (4K/16K only; ignored for 64K) */
	bool lpa; /* 64K with FEAT_LPA 52-bit output: OA[51:48] in [15:12], L1 blocks (64K only) */
};

enum s2_pte_kind {
	S2_PTE_KIND_INVALID = 0,
	S2_PTE_KIND_TABLE,
	S2_PTE_KIND_BLOCK,
	S2_PTE_KIND_PAGE,
	S2_PTE_KIND_RESERVED, /* bits[1:0] = 0b01 at level 3, or a block where none is legal */
};

/* Every field of a stage-2 descriptor, decoded. Unused fields are zero. */
struct s2_pte_fields {
	enum s2_pte_kind kind;
	s2_pa_t oa; /* output address (block/page) or next-level table address */
	uint8_t memattr; /* MemAttr[3:0] as stored */
	uint8_t s2ap; /* S2_S2AP_* */
	uint8_t sh; /* S2_SH_*; 0 with DS=1 (shareability then comes from VTCR) */
	uint8_t xn; /* XN[1:0] as stored */
	bool af;
	bool nt;
	bool dbm;
	bool contig;
	uint8_t sw; /* SW3..SW0 as a 4-bit value */
	uint8_t pbha;
	uint8_t owner; /* invalid descriptors only: the annotated owner id */
};

/**
 * s2_pte_kind_of() - classify a descriptor found at @level.
 * Block descriptors are only legal at block-capable levels (s2_level_has_blocks()).
 * Return: the kind; S2_PTE_KIND_RESERVED for a NULL @fmt.
 */
enum s2_pte_kind s2_pte_kind_of(const struct s2_pte_format *fmt, int level, s2_pte_t pte);

/**
 * s2_level_has_blocks() - whether a block descriptor is architecturally legal at @level.
 * 4K: L1, L2 (L0 only with @ds). 16K: L2 (L1 only with @ds). 64K: L2 (L1 only with @lpa).
 * @ds: VTCR_EL2.DS (4K/16K); @lpa: 52-bit PA with the 64K granule (FEAT_LPA).
 */
bool s2_level_has_blocks(enum s2_granule g, int level, bool ds, bool lpa);

/**
 * s2_pte_encode() - build a descriptor from its fields.
 * @fmt:   address layout.
 * @level: the level the descriptor will live at (decides page vs block encoding).
 * @f:     the fields; f->kind selects the descriptor type.
 * @out:   the descriptor.
 *
 * Return: 0; S2_EINVAL for an unknown kind, a level the granule lacks, a block at a level
 * without blocks, a page not at level 3, a field value wider than its field, an owner id with
 * a valid kind, any field but oa in a table or but owner in an invalid entry, nT in a page
 * (bit 16 is an address bit there), or a non-zero sh with DS (bits [9:8] are OA[51:50]);
 * S2_EALIGN when the output address is not aligned to the entry's size (or to the granule for
 * a table); S2_ERANGE when it does not fit the layout (48 bits, or 52 with LPA/LPA2);
 * S2_EINVAL for a NULL @fmt, @f or @out.
 */
int s2_pte_encode(const struct s2_pte_format *fmt, int level, const struct s2_pte_fields *f,
		  s2_pte_t *out);

/**
 * s2_pte_decode() - parse every field of a descriptor found at @level. Never fails: reserved
 * encodings decode as S2_PTE_KIND_RESERVED with the raw fields filled in. A NULL @f is
 * ignored; a NULL @fmt gives all-zero fields of kind S2_PTE_KIND_RESERVED.
 */
void s2_pte_decode(const struct s2_pte_format *fmt, int level, s2_pte_t pte,
		   struct s2_pte_fields *f);

/** s2_pte_oa() - output (or next-table) address of a valid descriptor at @level (a table or
 * page's address from the granule's page shift up, a block's from the level's shift up);
 * 0 for a NULL @fmt. */
s2_pa_t s2_pte_oa(const struct s2_pte_format *fmt, int level, s2_pte_t pte);

/** s2_pte_oa_bits() - the descriptor bits that encode output address @oa at @level: @oa's
 * bits from the granule's page shift up to the layout's width (48, or 52 with LPA/LPA2);
 * lower and higher bits are dropped, the caller aligns and range-checks; 0 for a NULL @fmt. */
s2_pte_t s2_pte_oa_bits(const struct s2_pte_format *fmt, int level, s2_pa_t oa);

/* ---- memory attributes (Arm ARM D8.6.5, S2CombineS1MemAttrs, S2 FWB) ---------------------------- */

/* Memory types a stage-2 MemAttr field can express. */
enum s2_memtype {
	S2_MT_DEVICE_nGnRnE = 0,
	S2_MT_DEVICE_nGnRE,
	S2_MT_DEVICE_nGRE,
	S2_MT_DEVICE_GRE,
	S2_MT_NORMAL_NC,
	S2_MT_NORMAL_WT,
	S2_MT_NORMAL_WB,
	S2_MT_NORMAL_S1, /* FWB MemAttr 0b111: take stage 1's attributes */
	S2_MT_RESERVED, /* FWB MemAttr 0b100 */
	S2_MT_MIXED, /* FWB off: Normal with different inner and outer cacheability */
};

/** s2_memtype_name() - "device-ngnrne", "normal-nc", ... */
const char *s2_memtype_name(enum s2_memtype t);

/**
 * s2_memattr_encode() - the 4-bit MemAttr for a memory type.
 * @fwb: HCR_EL2.FWB. Without FWB: Device-nGnRnE 0b0000, -nGnRE 0b0001, -nGRE 0b0010, -GRE
 *       0b0011, Normal-NC 0b0101, WT 0b1010, WB 0b1111. With FWB: Device 0b00xx, NC 0b0101,
 *       WB (forced) 0b0110, "use stage 1" 0b0111.
 * Return: 0; S2_EINVAL for a type the mode cannot express (WT or S1 with FWB; S1 without), or
 * a NULL @memattr.
 */
int s2_memattr_encode(enum s2_memtype t, bool fwb, uint8_t *memattr);

/** s2_memattr_type() - the memory type a MemAttr field stands for (without FWB an outer
 * cacheability with inner 0b00 is S2_MT_RESERVED; with FWB only MemAttr[2:0] counts). */
enum s2_memtype s2_memattr_type(uint8_t memattr, bool fwb);

/* A memory type as the combination of stages produces it. */
enum s2_cacheability {
	S2_CACHE_NC = 0,
	S2_CACHE_WT = 1,
	S2_CACHE_WB = 2,
};

struct s2_memattrs {
	bool device;
	enum s2_memtype device_type; /* S2_MT_DEVICE_* when device */
	enum s2_cacheability inner; /* when normal */
	enum s2_cacheability outer; /* when normal */
};

/**
 * s2_memattrs_from_stage2() - what a stage-2 MemAttr field alone means (FWB off: the field
 * encodes outer in [3:2] and inner in [1:0]; FWB on: see s2_memattr_encode). For FWB 0b111 the
 * result is Normal WB (stage 1 decides; combine to know more).
 */
struct s2_memattrs s2_memattrs_from_stage2(uint8_t memattr, bool fwb);

/**
 * s2_combine_s1s2() - the memory type a guest access gets (Arm ARM S2CombineS1MemAttrs and the
 * FWB rules).
 * @s1:      the stage-1 attributes.
 * @memattr: stage-2 MemAttr[3:0].
 * @fwb:     HCR_EL2.FWB.
 * Without FWB: if either is Device, Device of the more restrictive kind; else Normal with each
 * of inner/outer the weaker. With FWB (AArch64.S2ApplyFWBMemAttrs): 0b0xx gives that Device
 * kind (the more restrictive of it and stage 1's when stage 1 is Device too); 0b101 NC
 * unless stage 1 is Device; 0b110 forces WB; 0b111 takes stage 1; 0b100 (reserved) is
 * treated as 0b101. A reserved non-FWB inner cacheability (0b00) is taken as NC.
 */
struct s2_memattrs s2_combine_s1s2(struct s2_memattrs s1, uint8_t memattr, bool fwb);

/* ---- host capabilities (ID registers) ------------------------------------------------------- */

/* Stage-2 support for one granule, from ID_AA64MMFR0_EL1.TGranX_2 (and TGranX when 0). */
enum s2_gran_support {
	S2_GRAN_NONE = 0,
	S2_GRAN_YES = 1,
	S2_GRAN_52 = 2, /* supported with 52-bit addresses (FEAT_LPA2) */
};

struct s2_caps {
	unsigned int pa_bits; /* from PARange: 32, 36, 40, 42, 44, 48, 52 */
	enum s2_gran_support gran[S2_NR_GRANULES];
	unsigned int vmid_bits; /* 8 or 16 */
	unsigned int hafdbs; /* 0 none, 1 access flag, 2 access flag + dirty state */
	bool xnx; /* FEAT_XNX */
	bool fwb; /* FEAT_S2FWB */
	unsigned int bbm; /* FEAT_BBM level (0, 1, 2) */
	unsigned int mte; /* ID_AA64PFR1_EL1.MTE (0 none, 1 EL0 only, 2+ full) */
	bool idc; /* CTR_EL0.IDC: no D-cache clean needed for I/D coherence */
	bool dic; /* CTR_EL0.DIC: no I-cache invalidate needed */
	unsigned int dminline; /* CTR_EL0.DminLine: log2 of words in the smallest D line */
	unsigned int iminline; /* CTR_EL0.IminLine */
};

/* Raw ID register values, as read at EL2. */
struct s2_idregs {
	uint64_t mmfr0; /* ID_AA64MMFR0_EL1 */
	uint64_t mmfr1; /* ID_AA64MMFR1_EL1 */
	uint64_t mmfr2; /* ID_AA64MMFR2_EL1 */
	uint64_t pfr1; /* ID_AA64PFR1_EL1 */
	uint64_t ctr; /* CTR_EL0 */
};

/**
 * s2_caps_from_idregs() - decode the ID registers into capabilities.
 * Return: 0; S2_EINVAL if PARange holds a reserved value, or for a NULL @r or @caps.
 */
int s2_caps_from_idregs(const struct s2_idregs *r, struct s2_caps *caps);

/**
 * s2_caps_max() - capabilities of a generous host: @pa_bits of PA, all granules at stage 2
 * (4K/16K with 52-bit when @pa_bits is 52), 16-bit VMIDs, HAFDBS=2, XNX, FWB, BBM 2, MTE,
 * IDC and DIC clear. For tools and tests. Return: 0; S2_EINVAL if @pa_bits is not a PARange
 * size, or for a NULL @caps.
 */
int s2_caps_max(unsigned int pa_bits, struct s2_caps *caps);

/** s2_parange_to_bits() / s2_bits_to_parange() - PARange/PS encoding (0:32 ... 6:52).
 * Return: bits, or parange; negative S2_EINVAL for a value with no encoding. */
int s2_parange_to_bits(unsigned int parange);
int s2_bits_to_parange(unsigned int bits);

/* ---- per-VM translation configuration -------------------------------------------------------- */

#define S2_CFG_HA S2_BIT(0) /* hardware access-flag management (VTCR_EL2.HA) */
#define S2_CFG_HD S2_BIT(1) /* hardware dirty-state management (VTCR_EL2.HD), needs HA */
#define S2_CFG_FWB S2_BIT(2) /* run the VM with HCR_EL2.FWB=1 */
#define S2_CFG_MTE S2_BIT(3) /* the VM uses MTE (needs host MTE >= 2) */
#define S2_CFG_ALL (S2_CFG_HA | S2_CFG_HD | S2_CFG_FWB | S2_CFG_MTE)

struct s2_config_req {
	unsigned int ipa_bits; /* 32..52 */
	enum s2_granule granule;
	unsigned int vmid_bits; /* 0: the host's widest; else 8 or 16 */
	uint64_t flags; /* S2_CFG_* */
	/*
	 * The VM's output (PA) size at most: 0 for the CPU's (caps->pa_bits), else a PARange
	 * size (32, 36, 40, 42, 44, 48, 52) no larger than it. Below 52 a 4K/16K VM keeps the
	 * 48-bit descriptor layout (no DS, hence the engine's 4K fast paths) on a 52-bit CPU.
	 */
	unsigned int pa_bits_max;
};

/*
 * Everything about one VM's stage-2 translation. Computed once by s2_config_init(), then read
 * by every layer; the engine reads no CPU state beyond this.
 */
struct s2_config {
	enum s2_granule granule;
	unsigned int page_shift; /* 12, 14, 16 */
	unsigned int ipa_bits;
	unsigned int pa_bits; /* output address size (the PS field) */
	int start_level; /* -1..3 */
	unsigned int levels; /* 4 - start_level, at least 2 */
	unsigned int root_tables; /* concatenated tables at the start level (1..16) */
	unsigned int root_entries; /* descriptors in the whole root */
	uint64_t root_table_bytes; /* root_tables * granule; also its required alignment */
	unsigned int block_levels; /* bit (level + 1) set where blocks are legal */
	unsigned int vmid_bits; /* 8 or 16 */
	bool ds; /* VTCR_EL2.DS: FEAT_LPA2 descriptor layout */
	bool lpa; /* 64K granule with 52-bit output (FEAT_LPA) */
	bool fwb;
	bool ha;
	bool hd;
	bool xnx;
	bool mte;
	bool dic;
	bool idc;
	uint64_t vtcr; /* the VTCR_EL2 value for this VM */
};

/**
 * s2_config_init() - compute a VM's translation configuration.
 * @cfg:  output; untouched on failure.
 * @caps: the host's capabilities.
 * @req:  the VM's request.
 *
 * T0SZ = 64 - ipa_bits; the number of levels is the smallest whose start level resolves the
 * IPA with at most 16 concatenated tables, never fewer than 2 (Arm ARM D8.2.3, and the
 * consistency rule of AArch64.S2InconsistentSL); PS from the host PARange, or from
 * req->pa_bits_max when set (capped at 48 when the granule cannot express 52-bit output);
 * DS=1 for 4K/16K when the host offers 52-bit for that granule and the output size is 52;
 * VS when vmid_bits is 16; IRGN0/ORGN0 write-back write-allocate, SH0 inner shareable;
 * bit 31 RES1.
 *
 * Return: 0; S2_EINVAL for a NULL @cfg, @caps or @req, an unknown granule or flag, a
 * req->pa_bits_max that is not 0 or a PARange size or is above the host's pa_bits, or @caps
 * with a pa_bits that is not a PARange size or a vmid_bits other than 8/16; S2_EGRANULE if the
 * host lacks the granule at stage 2; S2_EIPA_TOO_SMALL below 32 bits; S2_EIPA_TOO_BIG above the
 * output size (the host PA size, or req->pa_bits_max) or above 52; S2_ENO52BIT for 52 bits without LPA2/LPA; S2_EVMID for a requested VMID width
 * other than 0 (the host's), 8 or 16, or one the host lacks; S2_ENOTSUP for HA/HD/FWB/MTE the host lacks (HD without HA is S2_EINVAL).
 */
int s2_config_init(struct s2_config *cfg, const struct s2_caps *caps,
		   const struct s2_config_req *req);

/** s2_config_pte_format() - the descriptor layout of a config (a 4K 48-bit one for NULL). */
struct s2_pte_format s2_config_pte_format(const struct s2_config *cfg);

/** s2_config_level_has_blocks() - whether @level may hold block entries under @cfg (false for
 * a NULL @cfg). */
static inline bool s2_config_level_has_blocks(const struct s2_config *cfg, int level)
{
	return cfg && level >= -1 && level <= 3 && (cfg->block_levels & (1u << (level + 1)));
}

/**
 * s2_vttbr() - compose VTTBR_EL2: BADDR = the root's PA (with DS/LPA the PA[51:48] sits in
 * bits [5:2]), VMID in [63:48] (16-bit) or [55:48] (8-bit), CnP clear.
 * @cfg: the stage-2 config the root table was built for.
 * @root: the root table's PA (cfg->root_table_bytes aligned, below 2^cfg->pa_bits).
 * @vmid: the VMID, at most cfg->vmid_bits wide.
 * @vttbr: out, written only on success.
 * Return: 0; S2_EINVAL for a NULL @cfg or @vttbr, a @root not aligned to
 * cfg->root_table_bytes or not below 2^cfg->pa_bits, or a @vmid wider than cfg->vmid_bits.
 */
int s2_vttbr(const struct s2_config *cfg, s2_pa_t root, uint16_t vmid, uint64_t *vttbr);

/* VTCR_EL2 fields (Arm ARM D19.2), for encoders and decoders. */
#define S2_VTCR_T0SZ S2_GENMASK(5, 0)
#define S2_VTCR_SL0 S2_GENMASK(7, 6)
#define S2_VTCR_IRGN0 S2_GENMASK(9, 8)
#define S2_VTCR_ORGN0 S2_GENMASK(11, 10)
#define S2_VTCR_SH0 S2_GENMASK(13, 12)
#define S2_VTCR_TG0 S2_GENMASK(15, 14)
#define S2_VTCR_PS S2_GENMASK(18, 16)
#define S2_VTCR_VS S2_BIT(19)
#define S2_VTCR_HA S2_BIT(21)
#define S2_VTCR_HD S2_BIT(22)
#define S2_VTCR_RES1 S2_BIT(31)
#define S2_VTCR_DS S2_BIT(32)
#define S2_VTCR_SL2 S2_BIT(33)

/* HCR_EL2 bits a VM's entry sets (Arm ARM D19.2.47). */
#define S2_HCR_VM S2_BIT(0) /* stage-2 translation enabled */
#define S2_HCR_FWB S2_BIT(46) /* FEAT_S2FWB: stage 2 forces the combined attributes */
#define S2_HCR_ATA S2_BIT(56) /* FEAT_MTE2: EL1/EL0 may access allocation tags */

#define S2_TG0_4K 0u
#define S2_TG0_64K 1u
#define S2_TG0_16K 2u

/* A VTCR_EL2 value taken apart. */
struct s2_vtcr_fields {
	unsigned int t0sz, sl0, irgn0, orgn0, sh0, tg0, ps;
	bool vs, ha, hd, ds, sl2;
	/* derived */
	enum s2_granule granule;
	unsigned int ipa_bits;
	unsigned int pa_bits;
	int start_level;
	unsigned int levels;
	unsigned int root_tables;
	uint64_t root_table_bytes;
};

/**
 * s2_vtcr_decode() - take VTCR_EL2 apart and derive the geometry it implies.
 * Return: 0; S2_EINVAL when the value is one hardware would treat as a misconfiguration
 * (TG0=0b11, reserved PS, a start level inconsistent with T0SZ, SL2 without DS/4K, DS with
 * 64K, T0SZ below 16 without DS or (64K) PS=52, ...). FEAT_TTST is not assumed: T0SZ above
 * 39 and 4K SL0=0b11 are refused. Also S2_EINVAL for a NULL @out.
 */
int s2_vtcr_decode(uint64_t vtcr, struct s2_vtcr_fields *out);

/* ---- syndromes: ESR_EL2, FAR_EL2, HPFAR_EL2 (Arm ARM D19.2.48) ------------------------------ */

#define S2_EC_IABT_LOW 0x20u
#define S2_EC_IABT_CUR 0x21u
#define S2_EC_DABT_LOW 0x24u
#define S2_EC_DABT_CUR 0x25u

enum s2_fault {
	S2_FAULT_NONE = 0,
	S2_FAULT_ADDRESS_SIZE,
	S2_FAULT_TRANSLATION,
	S2_FAULT_ACCESS_FLAG,
	S2_FAULT_PERMISSION,
	S2_FAULT_ALIGNMENT,
	S2_FAULT_EXTERNAL, /* synchronous external abort, not on a walk */
	S2_FAULT_EXTERNAL_WALK, /* synchronous external abort on a table walk, with level */
	S2_FAULT_TLB_CONFLICT,
	S2_FAULT_OTHER,
};

/** s2_fault_name() - "translation", "permission", "access-flag", "address-size", ... */
const char *s2_fault_name(enum s2_fault f);

struct s2_abort {
	uint32_t ec; /* exception class */
	bool is_data; /* data abort (0x24/0x25) */
	bool is_insn; /* instruction abort (0x20/0x21) */
	bool il; /* 32-bit instruction */
	enum s2_fault fault;
	int level; /* -1..3 for level-carrying faults, else 0 */
	uint8_t fsc; /* DFSC/IFSC raw */
	bool wnr; /* write (data aborts) */
	bool s1ptw; /* fault on a stage-1 table walk */
	bool cm; /* cache maintenance */
	bool ea; /* external abort type */
	bool fnv; /* FAR not valid */
	/* Instruction syndrome, valid when isv. */
	bool isv;
	unsigned int access_bytes; /* 1, 2, 4, 8 (from SAS) */
	bool sign_extend; /* SSE */
	unsigned int reg; /* SRT: 0..30, 31 = xzr */
	bool reg64; /* SF: 64-bit register */
	bool acqrel; /* AR */
	/* Address. */
	bool ipa_valid; /* HPFAR was given */
	s2_ipa_t ipa; /* (HPFAR[43:4] << 8) | FAR[11:0]: HPFAR_EL2.FIPA is IPA[51:12];
				 * FAR's offset only when neither FnV nor S1PTW is set */
	uint64_t far;
};

/**
 * s2_abort_decode() - decode an abort taken to EL2.
 * @esr:   ESR_EL2.
 * @far:   FAR_EL2 (its low 12 bits complete the IPA).
 * @hpfar: HPFAR_EL2, or 0 with @have_hpfar false.
 * @have_hpfar: whether @hpfar is meaningful.
 * @out:   decoded abort.
 * Return: 0; S2_EINVAL when @esr is not an instruction or data abort (the other fields are
 * then still filled in as far as they can be: ec, il), or for a NULL @out (nothing written).
 * The fault kinds are coarse (granule-protection, tag-check and reserved codes are all
 * S2_FAULT_OTHER): s2_esr_describe() tells every field apart.
 */
int s2_abort_decode(uint64_t esr, uint64_t far, uint64_t hpfar, bool have_hpfar,
		    struct s2_abort *out);

/**
 * s2_abort_encode() - the ESR_EL2, FAR_EL2 and HPFAR_EL2 values hardware reports for an abort:
 * the inverse of s2_abort_decode(), for embedders and tests that inject or replay aborts.
 * @ab:    the abort, as s2_abort_decode() fills it in: @ab->ec one of S2_EC_IABT_LOW/_CUR,
 *         S2_EC_DABT_LOW/_CUR with @ab->is_data/@ab->is_insn matching it; the fault code from
 *         @ab->fault and @ab->level (s2_fsc_encode()), or @ab->fsc itself when it is nonzero or
 *         @ab->fault is S2_FAULT_OTHER (it must then decode to the same fault and level, so
 *         0x18, a parity error that decodes as S2_FAULT_EXTERNAL, keeps its own code); the
 *         instruction syndrome (@ab->access_bytes 1, 2, 4 or 8, @ab->reg 0..31, ...) only with
 *         @ab->isv; @ab->ipa (below 2^52) only with @ab->ipa_valid, its page offset equal to
 *         @ab->far's unless FnV or S1PTW is set (then @ab->ipa is page-aligned).
 * @esr:   ESR_EL2 (EC, IL and the abort ISS; ISS2 and the fields s2_abort_decode() does not
 *         read, such as SET, VNCR and FnP, are zero).
 * @far:   FAR_EL2 (@ab->far).
 * @hpfar: HPFAR_EL2 (FIPA, bits [43:4], = IPA[51:12]; 0 without @ab->ipa_valid).
 * Return: 0, and then s2_abort_decode(*@esr, *@far, *@hpfar, @ab->ipa_valid) gives back @ab;
 * S2_EINVAL, with nothing written, for a NULL pointer or an abort no hardware reports: another
 * EC, is_data/is_insn not matching it, a fault and level with no code (s2_fsc_encode()), a
 * nonzero @ab->fsc that contradicts them, a data-abort field (WnR, CM, ISV) in an instruction
 * abort, an instruction syndrome field without ISV or out of range, an IPA that HPFAR cannot
 * hold or whose offset contradicts FAR.
 */
int s2_abort_encode(const struct s2_abort *ab, uint64_t *esr, uint64_t *far, uint64_t *hpfar);

/** s2_fsc_encode() - the DFSC/IFSC value for a fault kind and level (for injection and
 * tests). Return: the 6-bit code, or negative S2_EINVAL for an impossible pair. */
int s2_fsc_encode(enum s2_fault f, int level);

/* ---- full syndrome decoding (tools and logs; not on the fault path) ---------------------------- */

/*
 * Every DFSC/IFSC code (Arm ARM D19.2, ESR_EL2 ISS for an Instruction/Data Abort), by what it
 * reports. s2_abort_decode() folds these into the few s2_fault kinds the fault path acts on;
 * s2_fsc_describe() keeps them apart and names the reserved codes as reserved.
 */
enum s2_fsc_type {
	S2_FSC_RESERVED = 0, /* not an allocated code */
	S2_FSC_ADDRESS_SIZE, /* level -2 (FEAT_D128), -1 (FEAT_LPA2), 0..3 */
	S2_FSC_TRANSLATION, /* level -2 (FEAT_D128), -1 (FEAT_LPA2), 0..3 */
	S2_FSC_ACCESS_FLAG, /* level 0 (FEAT_LPA2) .. 3 */
	S2_FSC_PERMISSION, /* level 0 (FEAT_LPA2) .. 3 */
	S2_FSC_EXTERNAL, /* synchronous external abort, not on a walk (SET describes it) */
	S2_FSC_EXTERNAL_WALK, /* synchronous external abort on a walk or table update, level */
	S2_FSC_TAG_CHECK, /* synchronous tag check fault (FEAT_MTE2) */
	S2_FSC_PARITY, /* synchronous parity/ECC error, not on a walk (without FEAT_RAS) */
	S2_FSC_PARITY_WALK, /* synchronous parity/ECC error on a walk, level (without FEAT_RAS) */
	S2_FSC_ALIGNMENT,
	S2_FSC_GPF, /* granule protection fault, not on a walk (FEAT_RME) */
	S2_FSC_GPF_WALK, /* granule protection fault on a walk or table update, level (FEAT_RME) */
	S2_FSC_TLB_CONFLICT,
	S2_FSC_ATOMIC_HW_UPDATE, /* unsupported atomic hardware update (FEAT_HAFDBS) */
	S2_FSC_IMPDEF_LOCKDOWN, /* IMPLEMENTATION DEFINED fault (lockdown) */
	S2_FSC_IMPDEF_ATOMIC, /* IMPLEMENTATION DEFINED fault (unsupported exclusive/atomic) */
};

struct s2_fsc_info {
	enum s2_fsc_type type;
	bool has_level; /* the code names a lookup level */
	int level; /* -2..3 when has_level, else 0 */
};

/**
 * s2_fsc_describe() - what a 6-bit DFSC/IFSC code reports.
 * @fsc: the code (ESR_EL2[5:0]).
 * @out: the decoded code.
 * Return: 0; S2_EINVAL for @fsc above 0x3f or a NULL @out.
 */
int s2_fsc_describe(unsigned int fsc, struct s2_fsc_info *out);

/** s2_fsc_type_name() - "translation", "gpf-walk", "reserved", ...; "?" for an invalid value. */
const char *s2_fsc_type_name(enum s2_fsc_type t);

/**
 * s2_ec_name() - the name of an exception class (ESR_EL2[31:26]) as Linux's esr_class_str
 * spells it ("DABT (lower EL)", "HVC (AArch64)", "MSR/MRS (AArch64)", "WFI/WFE", "BRK
 * (AArch64)", ...), plus the classes Linux 6.12 does not name yet (LD64B/ST64B, 128-bit
 * system register traps, TSTART, GCS). Return: a static string; "UNRECOGNIZED EC" for an
 * unallocated class (and for @ec above 0x3f). Never NULL.
 */
const char *s2_ec_name(unsigned int ec);

/* SET (synchronous error type, ESR_EL2[12:11], with DFSC/IFSC 0b010000 and FEAT_RAS). */
#define S2_SET_UER 0u /* recoverable state */
#define S2_SET_RESERVED 1u
#define S2_SET_UC 2u /* uncontainable */
#define S2_SET_UEO 3u /* restartable state */

/** s2_set_name() - "UER (recoverable)", "UC (uncontainable)", "UEO (restartable)",
 * "reserved"; "?" above 3. */
const char *s2_set_name(unsigned int set);

/* Everything an ESR_EL2 value holds, taken apart (Arm ARM D19.2 ESR_EL2). */
struct s2_esr_info {
	uint64_t esr;
	unsigned int ec; /* [31:26] */
	bool il; /* [25] */
	uint32_t iss; /* [24:0] */
	uint32_t iss2; /* [55:32] */
	uint8_t res0_hi; /* [63:56], RES0: non-zero means the value is not one hardware gives */
	bool is_abort; /* EC 0x20/0x21/0x24/0x25: the fields below are meaningful */
	bool is_data;
	bool is_insn;
	/* The abort ISS. */
	unsigned int fsc; /* [5:0] */
	struct s2_fsc_info fault;
	bool wnr; /* [6], data aborts */
	bool s1ptw; /* [7] */
	bool cm; /* [8], data aborts */
	bool ea; /* [9] */
	bool fnv; /* [10] FAR not valid */
	bool set_valid; /* SET is meaningful: fsc 0b010000 */
	unsigned int set; /* [12:11] S2_SET_* */
	bool vncr; /* [13], data aborts: the access used VNCR_EL2 (FEAT_NV2) */
	bool isv; /* [24], data aborts */
	/* ISV=1 (data aborts): the instruction syndrome. */
	unsigned int access_bytes; /* SAS [23:22]: 1, 2, 4, 8 */
	bool sse; /* [21] */
	unsigned int srt; /* [20:16] */
	bool sf; /* [15] */
	bool ar; /* [14] */
	/* ISV=0 (data aborts). */
	bool fnp_valid; /* FnP is meaningful: data abort with ISV=0 */
	bool fnp; /* [15] FAR not precise (any address in the naturally aligned granule) */
	/* ISS2 of a data abort (ESR_EL2[55:32]). */
	unsigned int xs; /* ISS2[4:0]: ST64BV/ST64BV0 status register (FEAT_LS64_V) */
	bool dirty_bit; /* ISS2[5]: a permission fault due to the dirty state (FEAT_S1PIE) */
	bool overlay; /* ISS2[6]: a permission overlay fault (FEAT_S1POE/S2POE) */
	bool assured_only; /* ISS2[7]: an AssuredOnly fault (FEAT_THE) */
	bool gcs; /* ISS2[8]: a Guarded Control Stack access (FEAT_GCS) */
	bool tag_access; /* ISS2[9]: NoTagAccess fault (FEAT_MTE_PERM) */
	bool tnd; /* ISS2[10]: Tag not Data (FEAT_MTE_CANONICAL_TAGS) */
	bool hdbssf; /* ISS2[11]: caused by the HDBSS (FEAT_HDBSS) */
};

/**
 * s2_esr_describe() - take apart every field an ESR_EL2 value holds: class (any EC), IL, ISS
 * and ISS2, and for aborts every ISS field (VNCR, SET, FnP, the fault code with its level
 * including the FEAT_LPA2 level -1 and FEAT_RME granule-protection codes, and the ISS2 flags
 * of a data abort). Pure and slower than s2_abort_decode(), which the fault path uses.
 * @esr: ESR_EL2.
 * @out: the decoded value (fields that do not apply are zero).
 * Return: 0; S2_EINVAL for a NULL @out.
 */
int s2_esr_describe(uint64_t esr, struct s2_esr_info *out);

/**
 * s2_vtcr_invalid_reason() - why s2_vtcr_decode() refuses @vtcr.
 * Return: NULL when it accepts the value, else a static one-line reason ("TG0=0b11 is
 * reserved", "the 48-bit IPA is larger than the 40-bit output size (PS)", ...).
 */
const char *s2_vtcr_invalid_reason(uint64_t vtcr);

#endif /* S2MMU_ARCH_H */
