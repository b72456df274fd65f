// SPDX-License-Identifier: MIT
/*
 * arch.c - pure encodings of the VMSAv8-64 stage-2 translation regime.
 *
 * Everything here is a function of its arguments: descriptors (Arm ARM D8.3), stage-2 MemAttr
 * with and without FEAT_S2FWB (D8.6, pseudocode S2CombineS1MemAttrs, S2ApplyFWBMemAttrs),
 * VTCR_EL2/VTTBR_EL2 (D19.2), the ID registers (D19.2, ID_AA64MMFR0/1/2_EL1, ID_AA64PFR1_EL1,
 * CTR_EL0) and the ESR_EL2/HPFAR_EL2 syndromes (D19.2, ESR_EL2.ISS for EC 0x20/0x24).
 * See docs/arch.md for where each rule comes from.
 */
#include "s2mmu/arch.h"
#include "memattr.h"

/* ---- granules and geometry ------------------------------------------------------------------ */

static bool s2_granule_valid(enum s2_granule g)
{
	return (unsigned int)g < S2_NR_GRANULES;
}

unsigned int s2_granule_shift(enum s2_granule g)
{
	switch (g) {
	case S2_GRANULE_4K:
		return 12;
	case S2_GRANULE_16K:
		return 14;
	case S2_GRANULE_64K:
		return 16;
	}
	return 0;
}

uint64_t s2_granule_size(enum s2_granule g)
{
	unsigned int shift = s2_granule_shift(g);

	return shift ? S2_BIT(shift) : 0;
}

const char *s2_granule_name(enum s2_granule g)
{
	switch (g) {
	case S2_GRANULE_4K:
		return "4k";
	case S2_GRANULE_16K:
		return "16k";
	case S2_GRANULE_64K:
		return "64k";
	}
	return "?";
}

/* The lowest lookup level a granule has: 4K -1 (FEAT_LPA2), 16K 0, 64K 1 (Arm ARM D8.2). */
static int s2_level_min(enum s2_granule g)
{
	switch (g) {
	case S2_GRANULE_4K:
		return -1;
	case S2_GRANULE_16K:
		return 0;
	case S2_GRANULE_64K:
		return 1;
	}
	return 4;
}

static bool s2_level_valid(enum s2_granule g, int level)
{
	return s2_granule_valid(g) && level >= s2_level_min(g) && level <= S2_LEVEL_MAX;
}

/*
 * Each level resolves (page_shift - 3) bits (a table is one granule of 8-byte descriptors); the
 * final level (3) maps one granule.
 */
unsigned int s2_level_shift(enum s2_granule g, int level)
{
	unsigned int ps = s2_granule_shift(g);

	if (!s2_level_valid(g, level))
		return 0;
	return ps + (unsigned int)(S2_LEVEL_MAX - level) * (ps - 3);
}

uint64_t s2_level_size(enum s2_granule g, int level)
{
	unsigned int shift = s2_level_shift(g, level);

	return shift ? S2_BIT(shift) : 0;
}

/* Arm ARM D8.6.1 (the Contiguous bit): the number of adjacent entries a Contiguous run spans. */
unsigned int s2_contig_entries(enum s2_granule g, int level)
{
	switch (g) {
	case S2_GRANULE_4K:
		return level >= 1 && level <= 3 ? 16 : 0;
	case S2_GRANULE_16K:
		if (level == 3)
			return 128;
		return level == 2 ? 32 : 0;
	case S2_GRANULE_64K:
		return level >= 2 && level <= 3 ? 32 : 0;
	}
	return 0;
}

/* ---- descriptors ----------------------------------------------------------------------------- */

bool s2_level_has_blocks(enum s2_granule g, int level, bool ds, bool lpa)
{
	switch (g) {
	case S2_GRANULE_4K:
		return level == 1 || level == 2 || (level == 0 && ds);
	case S2_GRANULE_16K:
		return level == 2 || (level == 1 && ds);
	case S2_GRANULE_64K:
		return level == 2 || (level == 1 && lpa);
	}
	return false;
}

static bool s2_fmt_ds(const struct s2_pte_format *fmt)
{
	return fmt->ds && fmt->granule != S2_GRANULE_64K;
}

static bool s2_fmt_lpa(const struct s2_pte_format *fmt)
{
	return fmt->lpa && fmt->granule == S2_GRANULE_64K;
}

static unsigned int s2_fmt_oa_bits(const struct s2_pte_format *fmt)
{
	return s2_fmt_ds(fmt) || s2_fmt_lpa(fmt) ? 52 : 48;
}

enum s2_pte_kind s2_pte_kind_of(const struct s2_pte_format *fmt, int level, s2_pte_t pte)
{
	if (!fmt)
		return S2_PTE_KIND_RESERVED;
	if (!(pte & S2_PTE_VALID))
		return S2_PTE_KIND_INVALID;
	if (!s2_level_valid(fmt->granule, level))
		return S2_PTE_KIND_RESERVED;
	if (pte & S2_PTE_TYPE)
		return level == S2_LEVEL_MAX ? S2_PTE_KIND_PAGE : S2_PTE_KIND_TABLE;
	if (level == S2_LEVEL_MAX)
		return S2_PTE_KIND_RESERVED;
	return s2_level_has_blocks(fmt->granule, level, s2_fmt_ds(fmt), s2_fmt_lpa(fmt)) ?
		       S2_PTE_KIND_BLOCK :
		       S2_PTE_KIND_RESERVED;
}

/*
 * Output-address layouts (Arm ARM D8.3.1/D8.3.2):
 *   48-bit:             OA[47:s] in [47:s].
 *   LPA2 (DS=1, 4K/16K): OA[49:s] in [49:s], OA[51:50] in [9:8].
 *   64K with FEAT_LPA:  OA[47:s] in [47:s], OA[51:48] in [15:12].
 */
static s2_pte_t s2_oa_to_bits(const struct s2_pte_format *fmt, unsigned int shift, uint64_t oa)
{
	if (s2_fmt_ds(fmt))
		return (oa & S2_GENMASK(49, shift)) | S2_FIELD_PREP(S2_PTE_OA_HI_LPA2, oa >> 50);
	if (s2_fmt_lpa(fmt))
		return (oa & S2_GENMASK(47, shift)) | S2_FIELD_PREP(S2_PTE_OA_HI_64K, oa >> 48);
	return oa & S2_GENMASK(47, shift);
}

static uint64_t s2_bits_to_oa(const struct s2_pte_format *fmt, unsigned int shift, s2_pte_t pte)
{
	if (s2_fmt_ds(fmt))
		return (pte & S2_GENMASK(49, shift)) | (S2_FIELD_GET(S2_PTE_OA_HI_LPA2, pte) << 50);
	if (s2_fmt_lpa(fmt))
		return (pte & S2_GENMASK(47, shift)) | (S2_FIELD_GET(S2_PTE_OA_HI_64K, pte) << 48);
	return pte & S2_GENMASK(47, shift);
}

/* Shift of the address a descriptor holds: a block's from its level, else the granule's. */
static unsigned int s2_pte_addr_shift(const struct s2_pte_format *fmt, int level, s2_pte_t pte)
{
	unsigned int ps = s2_granule_shift(fmt->granule);
	unsigned int ls = s2_level_shift(fmt->granule, level);

	if (!ps)
		return 12;
	if (level >= S2_LEVEL_MAX || (pte & S2_PTE_TYPE) || !ls)
		return ps;
	return ls;
}

s2_pa_t s2_pte_oa(const struct s2_pte_format *fmt, int level, s2_pte_t pte)
{
	if (!fmt)
		return s2_pa(0);
	return s2_pa(s2_bits_to_oa(fmt, s2_pte_addr_shift(fmt, level, pte), pte));
}

s2_pte_t s2_pte_oa_bits(const struct s2_pte_format *fmt, int level, s2_pa_t oa)
{
	unsigned int ps;

	if (!fmt)
		return 0;
	ps = s2_granule_shift(fmt->granule);
	(void)level; /* tables, pages and blocks share one layout at every level */
	return s2_oa_to_bits(fmt, ps ? ps : 12, s2_pa_val(oa));
}

static bool s2_fields_attrs_zero(const struct s2_pte_fields *f)
{
	return !f->memattr && !f->s2ap && !f->sh && !f->xn && !f->af && !f->nt && !f->dbm &&
	       !f->contig && !f->sw && !f->pbha;
}

static int s2_check_oa(const struct s2_pte_format *fmt, uint64_t oa, unsigned int shift)
{
	if (!S2_IS_ALIGNED(oa, S2_BIT(shift)))
		return S2_EALIGN;
	if (oa >> s2_fmt_oa_bits(fmt))
		return S2_ERANGE;
	return 0;
}

int s2_pte_encode(const struct s2_pte_format *fmt, int level, const struct s2_pte_fields *f,
		  s2_pte_t *out)
{
	enum s2_granule g;
	bool ds;
	unsigned int shift;
	s2_pte_t pte;
	int ret;

	if (!fmt || !f || !out)
		return S2_EINVAL;
	g = fmt->granule;
	ds = s2_fmt_ds(fmt);
	if (!s2_level_valid(g, level))
		return S2_EINVAL;

	switch (f->kind) {
	case S2_PTE_KIND_INVALID:
		/* Hardware ignores bits [63:1] of an invalid descriptor (D8.3): ours. */
		if (s2_pa_val(f->oa) || !s2_fields_attrs_zero(f))
			return S2_EINVAL;
		*out = S2_FIELD_PREP(S2_PTE_INVALID_OWNER, f->owner);
		return 0;
	case S2_PTE_KIND_TABLE:
		/* No hierarchical attributes at stage 2: a table holds only its address. */
		if (level == S2_LEVEL_MAX || f->owner || !s2_fields_attrs_zero(f))
			return S2_EINVAL;
		shift = s2_granule_shift(g);
		ret = s2_check_oa(fmt, s2_pa_val(f->oa), shift);
		if (ret)
			return ret;
		*out = s2_oa_to_bits(fmt, shift, s2_pa_val(f->oa)) | S2_PTE_VALID | S2_PTE_TYPE;
		return 0;
	case S2_PTE_KIND_BLOCK:
		if (!s2_level_has_blocks(g, level, ds, s2_fmt_lpa(fmt)))
			return S2_EINVAL;
		pte = S2_PTE_VALID;
		break;
	case S2_PTE_KIND_PAGE:
		/* nT (bit 16) exists in block descriptors only: in a page it would be OA bits. */
		if (level != S2_LEVEL_MAX || f->nt)
			return S2_EINVAL;
		pte = S2_PTE_VALID | S2_PTE_TYPE;
		break;
	default:
		return S2_EINVAL;
	}

	if (f->owner || f->memattr > 15 || f->s2ap > 3 || f->sh > 3 || f->xn > 3 || f->sw > 15 ||
	    f->pbha > 15)
		return S2_EINVAL;
	/* With DS=1 bits [9:8] are OA[51:50]; shareability comes from VTCR_EL2.SH0. */
	if (ds && f->sh)
		return S2_EINVAL;
	shift = s2_level_shift(g, level);
	ret = s2_check_oa(fmt, s2_pa_val(f->oa), shift);
	if (ret)
		return ret;

	pte |= s2_oa_to_bits(fmt, shift, s2_pa_val(f->oa));
	pte |= S2_FIELD_PREP(S2_PTE_MEMATTR, f->memattr);
	pte |= S2_FIELD_PREP(S2_PTE_S2AP, f->s2ap);
	if (!ds)
		pte |= S2_FIELD_PREP(S2_PTE_SH, f->sh);
	if (f->af)
		pte |= S2_PTE_AF;
	if (f->nt)
		pte |= S2_PTE_NT;
	if (f->dbm)
		pte |= S2_PTE_DBM;
	if (f->contig)
		pte |= S2_PTE_CONTIG;
	pte |= S2_FIELD_PREP(S2_PTE_XN, f->xn);
	pte |= S2_FIELD_PREP(S2_PTE_SW, f->sw);
	pte |= S2_FIELD_PREP(S2_PTE_PBHA, f->pbha);
	*out = pte;
	return 0;
}

void s2_pte_decode(const struct s2_pte_format *fmt, int level, s2_pte_t pte,
		   struct s2_pte_fields *f)
{
	enum s2_pte_kind kind = s2_pte_kind_of(fmt, level, pte);

	if (!f)
		return;
	*f = (struct s2_pte_fields){ .kind = kind };
	if (!fmt)
		return;
	switch (kind) {
	case S2_PTE_KIND_INVALID:
		/* s2mmu's annotation: an owner id in [9:2] with bit 1 clear. */
		if (!(pte & S2_PTE_TYPE))
			f->owner = (uint8_t)S2_FIELD_GET(S2_PTE_INVALID_OWNER, pte);
		return;
	case S2_PTE_KIND_TABLE:
		f->oa = s2_pte_oa(fmt, level, pte);
		return;
	default:
		break;
	}
	f->oa = s2_pte_oa(fmt, level, pte);
	f->memattr = (uint8_t)S2_FIELD_GET(S2_PTE_MEMATTR, pte);
	f->s2ap = (uint8_t)S2_FIELD_GET(S2_PTE_S2AP, pte);
	f->sh = s2_fmt_ds(fmt) ? 0 : (uint8_t)S2_FIELD_GET(S2_PTE_SH, pte);
	f->af = pte & S2_PTE_AF;
	f->nt = level < S2_LEVEL_MAX && (pte & S2_PTE_NT);
	f->dbm = pte & S2_PTE_DBM;
	f->contig = pte & S2_PTE_CONTIG;
	f->xn = (uint8_t)S2_FIELD_GET(S2_PTE_XN, pte);
	f->sw = (uint8_t)S2_FIELD_GET(S2_PTE_SW, pte);
	f->pbha = (uint8_t)S2_FIELD_GET(S2_PTE_PBHA, pte);
}

/* ---- memory attributes -------------------------------------------------------------------- */

const char *s2_memtype_name(enum s2_memtype t)
{
	switch (t) {
	case S2_MT_DEVICE_nGnRnE:
		return "device-ngnrne";
	case S2_MT_DEVICE_nGnRE:
		return "device-ngnre";
	case S2_MT_DEVICE_nGRE:
		return "device-ngre";
	case S2_MT_DEVICE_GRE:
		return "device-gre";
	case S2_MT_NORMAL_NC:
		return "normal-nc";
	case S2_MT_NORMAL_WT:
		return "normal-wt";
	case S2_MT_NORMAL_WB:
		return "normal-wb";
	case S2_MT_NORMAL_S1:
		return "normal-s1";
	case S2_MT_RESERVED:
		return "reserved";
	case S2_MT_MIXED:
		return "mixed";
	}
	return "?";
}

/*
 * The one stage-2 MemAttr table (Arm ARM D8.6.5, "Stage 2 memory type and Cacheability
 * attributes when FEAT_S2FWB is disabled"; D8.6.6 for FEAT_S2FWB). Every decoder and encoder
 * below reads it; nothing else in arch.c knows a MemAttr bit pattern.
 *
 * FWB off: MemAttr[3:2] 00 is Device with MemAttr[1:0] the kind; otherwise MemAttr[3:2] is the
 * outer and MemAttr[1:0] the inner cacheability, 01 NC, 10 WT, 11 WB (inner 00 is reserved;
 * its meaning alone is taken as NC). FWB on: only MemAttr[2:0] counts: 0b0xx Device of kind
 * MemAttr[1:0], 0b101 NC, 0b110 forced WB, 0b111 stage 1's attributes (alone: WB), 0b100
 * reserved (alone: NC).
 */
struct s2_memattr_row {
	uint8_t type; /* enum s2_memtype */
	uint8_t device; /* the field alone means Device (device_type = type) */
	uint8_t inner, outer; /* enum s2_cacheability of the field alone, when not Device */
};

#define MA_DEV(kind)                         \
	{                                    \
		S2_MT_DEVICE_##kind, 1, 0, 0 \
	}
#define MA_NORM(t, in, out)                                 \
	{                                                   \
		S2_MT_##t, 0, S2_CACHE_##in, S2_CACHE_##out \
	}

static const struct s2_memattr_row s2_memattr_table[2][16] = {
	[0] = {
		/* MemAttr[3:2] = 00: Device. */
		MA_DEV(nGnRnE), MA_DEV(nGnRE), MA_DEV(nGRE), MA_DEV(GRE),
		/* Outer NC (01): inner 00 reserved, NC, WT, WB. */
		MA_NORM(RESERVED, NC, NC), MA_NORM(NORMAL_NC, NC, NC),
		MA_NORM(MIXED, WT, NC), MA_NORM(MIXED, WB, NC),
		/* Outer WT (10). */
		MA_NORM(RESERVED, NC, WT), MA_NORM(MIXED, NC, WT),
		MA_NORM(NORMAL_WT, WT, WT), MA_NORM(MIXED, WB, WT),
		/* Outer WB (11). */
		MA_NORM(RESERVED, NC, WB), MA_NORM(MIXED, NC, WB),
		MA_NORM(MIXED, WT, WB), MA_NORM(NORMAL_WB, WB, WB),
	},
	[1] = {
		/* MemAttr[3] 0. */
		MA_DEV(nGnRnE), MA_DEV(nGnRE), MA_DEV(nGRE), MA_DEV(GRE),
		MA_NORM(RESERVED, NC, NC), MA_NORM(NORMAL_NC, NC, NC),
		MA_NORM(NORMAL_WB, WB, WB), MA_NORM(NORMAL_S1, WB, WB),
		/* MemAttr[3] 1: ignored by the FWB type. */
		MA_DEV(nGnRnE), MA_DEV(nGnRE), MA_DEV(nGRE), MA_DEV(GRE),
		MA_NORM(RESERVED, NC, NC), MA_NORM(NORMAL_NC, NC, NC),
		MA_NORM(NORMAL_WB, WB, WB), MA_NORM(NORMAL_S1, WB, WB),
	},
};

#undef MA_DEV
#undef MA_NORM

/* The field a memory type is written as (the table's canonical row for it), by FWB mode;
 * S2_MEMATTR_NONE where the mode cannot express the type. */
#define S2_MEMATTR_NONE 0xff
static const uint8_t s2_memattr_of_type[][2] = {
	[S2_MT_DEVICE_nGnRnE] = { S2_MA_DEVICE_nGnRnE, S2_MA_DEVICE_nGnRnE },
	[S2_MT_DEVICE_nGnRE] = { S2_MA_DEVICE_nGnRE, S2_MA_DEVICE_nGnRE },
	[S2_MT_DEVICE_nGRE] = { S2_MA_DEVICE_nGRE, S2_MA_DEVICE_nGRE },
	[S2_MT_DEVICE_GRE] = { S2_MA_DEVICE_GRE, S2_MA_DEVICE_GRE },
	[S2_MT_NORMAL_NC] = { S2_MA_NORMAL_NC, S2_MA_NORMAL_NC },
	[S2_MT_NORMAL_WT] = { S2_MA_NORMAL_WT, S2_MEMATTR_NONE },
	[S2_MT_NORMAL_WB] = { S2_MA_NORMAL_WB, S2_MA_FWB_NORMAL_WB },
	[S2_MT_NORMAL_S1] = { S2_MEMATTR_NONE, S2_MA_FWB_NORMAL_S1 },
	[S2_MT_RESERVED] = { S2_MEMATTR_NONE, S2_MEMATTR_NONE },
	[S2_MT_MIXED] = { S2_MEMATTR_NONE, S2_MEMATTR_NONE },
};

static const struct s2_memattr_row *s2_memattr_row(uint8_t memattr, bool fwb)
{
	return &s2_memattr_table[fwb][memattr & 15];
}

int s2_memattr_encode(enum s2_memtype t, bool fwb, uint8_t *memattr)
{
	uint8_t m;

	if (!memattr || (unsigned int)t >= S2_ARRAY_SIZE(s2_memattr_of_type))
		return S2_EINVAL;
	m = s2_memattr_of_type[t][fwb];
	if (m == S2_MEMATTR_NONE)
		return S2_EINVAL;
	*memattr = m;
	return 0;
}

enum s2_memtype s2_memattr_type(uint8_t memattr, bool fwb)
{
	return (enum s2_memtype)s2_memattr_row(memattr, fwb)->type;
}

static struct s2_memattrs s2_mk_device(enum s2_memtype t)
{
	return (struct s2_memattrs){ .device = true, .device_type = t };
}

static struct s2_memattrs s2_mk_normal(enum s2_cacheability inner, enum s2_cacheability outer)
{
	return (struct s2_memattrs){ .device = false, .inner = inner, .outer = outer };
}

struct s2_memattrs s2_memattrs_from_stage2(uint8_t memattr, bool fwb)
{
	const struct s2_memattr_row *r = s2_memattr_row(memattr, fwb);

	if (r->device)
		return s2_mk_device((enum s2_memtype)r->type);
	return s2_mk_normal((enum s2_cacheability)r->inner, (enum s2_cacheability)r->outer);
}

/* S2CombineS1Device: the more restrictive Device kind (nGnRnE > nGnRE > nGRE > GRE). */
static enum s2_memtype s2_combine_device(enum s2_memtype a, enum s2_memtype b)
{
	return a < b ? a : b;
}

/* S2CombineS1AttrHints: the weaker cacheability (NC < WT < WB). */
static enum s2_cacheability s2_combine_cache(enum s2_cacheability a, enum s2_cacheability b)
{
	return a < b ? a : b;
}

struct s2_memattrs s2_combine_s1s2(struct s2_memattrs s1, uint8_t memattr, bool fwb)
{
	struct s2_memattrs s2;

	if (fwb) {
		/* AArch64.S2ApplyFWBMemAttrs. */
		const struct s2_memattr_row *r = s2_memattr_row(memattr, true);

		if (r->device) {
			s2 = s2_mk_device((enum s2_memtype)r->type);
			if (s1.device)
				s2.device_type = s2_combine_device(s1.device_type, s2.device_type);
			return s2;
		}
		switch (r->type) {
		case S2_MT_NORMAL_S1: /* stage 1's attributes */
			return s1;
		case S2_MT_NORMAL_WB: /* forced write-back, even over a stage-1 Device */
			return s2_mk_normal(S2_CACHE_WB, S2_CACHE_WB);
		default: /* 0b101 NC, reserved 0b100 taken as 0b101: stage-1 Device wins */
			if (s1.device)
				return s2_mk_device(s1.device_type);
			return s2_mk_normal(S2_CACHE_NC, S2_CACHE_NC);
		}
	}

	/* S2CombineS1MemAttrs. */
	s2 = s2_memattrs_from_stage2(memattr, false);
	if (s1.device && s2.device)
		return s2_mk_device(s2_combine_device(s1.device_type, s2.device_type));
	if (s1.device)
		return s2_mk_device(s1.device_type);
	if (s2.device)
		return s2;
	return s2_mk_normal(s2_combine_cache(s1.inner, s2.inner),
			    s2_combine_cache(s1.outer, s2.outer));
}

/* ---- ID registers ----------------------------------------------------------------------------- */

#define S2_MMFR0_PARANGE S2_GENMASK(3, 0)
#define S2_MMFR0_TGRAN16 S2_GENMASK(23, 20)
#define S2_MMFR0_TGRAN64 S2_GENMASK(27, 24)
#define S2_MMFR0_TGRAN4 S2_GENMASK(31, 28)
#define S2_MMFR0_TGRAN16_2 S2_GENMASK(35, 32)
#define S2_MMFR0_TGRAN64_2 S2_GENMASK(39, 36)
#define S2_MMFR0_TGRAN4_2 S2_GENMASK(43, 40)
#define S2_MMFR1_HAFDBS S2_GENMASK(3, 0)
#define S2_MMFR1_VMIDBITS S2_GENMASK(7, 4)
#define S2_MMFR1_XNX S2_GENMASK(31, 28)
#define S2_MMFR2_FWB S2_GENMASK(43, 40)
#define S2_MMFR2_BBM S2_GENMASK(55, 52)
#define S2_PFR1_MTE S2_GENMASK(11, 8)
#define S2_CTR_IMINLINE S2_GENMASK(3, 0)
#define S2_CTR_DMINLINE S2_GENMASK(19, 16)
#define S2_CTR_IDC S2_BIT(28)
#define S2_CTR_DIC S2_BIT(29)

static const unsigned char s2_parange_bits[] = { 32, 36, 40, 42, 44, 48, 52 };

int s2_parange_to_bits(unsigned int parange)
{
	if (parange >= S2_ARRAY_SIZE(s2_parange_bits))
		return S2_EINVAL;
	return s2_parange_bits[parange];
}

int s2_bits_to_parange(unsigned int bits)
{
	unsigned int i;

	for (i = 0; i < S2_ARRAY_SIZE(s2_parange_bits); i++)
		if (s2_parange_bits[i] == bits)
			return (int)i;
	return S2_EINVAL;
}

/*
 * Stage-2 granule support (ID_AA64MMFR0_EL1). TGranX_2 (unsigned): 0 as TGranX, 1 none,
 * 2 yes, 3 yes with 52-bit (4K/16K, FEAT_LPA2). TGran4 and TGran64 are signed fields
 * (0 yes, 0xF none; TGran4 1 yes with 52-bit), TGran16 unsigned (0 none, 1 yes, 2 with 52-bit).
 * Following the ID scheme (Arm ARM D19.1.3), larger values than those known mean at least
 * as much support, negative values of a signed field mean none.
 */
static enum s2_gran_support s2_gran_from_mmfr0(uint64_t mmfr0, enum s2_granule g)
{
	unsigned int v2, v;

	switch (g) {
	case S2_GRANULE_4K:
		v2 = (unsigned int)S2_FIELD_GET(S2_MMFR0_TGRAN4_2, mmfr0);
		v = (unsigned int)S2_FIELD_GET(S2_MMFR0_TGRAN4, mmfr0);
		if (v2 == 0) {
			if (v >= 8)
				return S2_GRAN_NONE;
			return v >= 1 ? S2_GRAN_52 : S2_GRAN_YES;
		}
		break;
	case S2_GRANULE_16K:
		v2 = (unsigned int)S2_FIELD_GET(S2_MMFR0_TGRAN16_2, mmfr0);
		v = (unsigned int)S2_FIELD_GET(S2_MMFR0_TGRAN16, mmfr0);
		if (v2 == 0) {
			if (v == 0)
				return S2_GRAN_NONE;
			return v >= 2 ? S2_GRAN_52 : S2_GRAN_YES;
		}
		break;
	case S2_GRANULE_64K:
		v2 = (unsigned int)S2_FIELD_GET(S2_MMFR0_TGRAN64_2, mmfr0);
		v = (unsigned int)S2_FIELD_GET(S2_MMFR0_TGRAN64, mmfr0);
		if (v2 == 0)
			return v >= 8 ? S2_GRAN_NONE : S2_GRAN_YES;
		/* 52-bit with 64K is FEAT_LPA (PARange), not a granule field value. */
		return v2 >= 2 ? S2_GRAN_YES : S2_GRAN_NONE;
	default:
		return S2_GRAN_NONE;
	}
	if (v2 == 1)
		return S2_GRAN_NONE;
	return v2 >= 3 ? S2_GRAN_52 : S2_GRAN_YES;
}

int s2_caps_from_idregs(const struct s2_idregs *r, struct s2_caps *caps)
{
	unsigned int hafdbs, g;
	int pa;

	if (!r || !caps)
		return S2_EINVAL;
	pa = s2_parange_to_bits((unsigned int)S2_FIELD_GET(S2_MMFR0_PARANGE, r->mmfr0));
	if (pa < 0)
		return S2_EINVAL;
	*caps = (struct s2_caps){ .pa_bits = (unsigned int)pa };
	for (g = 0; g < S2_NR_GRANULES; g++)
		caps->gran[g] = s2_gran_from_mmfr0(r->mmfr0, (enum s2_granule)g);
	/* VMIDBits: 0b0000 8 bits, 0b0010 16 bits. */
	caps->vmid_bits = S2_FIELD_GET(S2_MMFR1_VMIDBITS, r->mmfr1) >= 2 ? 16 : 8;
	/* HAFDBS: 1 AF, 2 AF and dirty state; 3 (FEAT_HAFT) includes 2. */
	hafdbs = (unsigned int)S2_FIELD_GET(S2_MMFR1_HAFDBS, r->mmfr1);
	caps->hafdbs = hafdbs > 2 ? 2 : hafdbs;
	caps->xnx = S2_FIELD_GET(S2_MMFR1_XNX, r->mmfr1) >= 1;
	caps->fwb = S2_FIELD_GET(S2_MMFR2_FWB, r->mmfr2) >= 1;
	caps->bbm = (unsigned int)S2_FIELD_GET(S2_MMFR2_BBM, r->mmfr2);
	caps->mte = (unsigned int)S2_FIELD_GET(S2_PFR1_MTE, r->pfr1);
	caps->idc = r->ctr & S2_CTR_IDC;
	caps->dic = r->ctr & S2_CTR_DIC;
	caps->dminline = (unsigned int)S2_FIELD_GET(S2_CTR_DMINLINE, r->ctr);
	caps->iminline = (unsigned int)S2_FIELD_GET(S2_CTR_IMINLINE, r->ctr);
	return 0;
}

int s2_caps_max(unsigned int pa_bits, struct s2_caps *caps)
{
	enum s2_gran_support g52;

	if (!caps || s2_bits_to_parange(pa_bits) < 0)
		return S2_EINVAL;
	g52 = pa_bits == 52 ? S2_GRAN_52 : S2_GRAN_YES;
	*caps = (struct s2_caps){
		.pa_bits = pa_bits,
		.gran = { [S2_GRANULE_4K] = g52,
			  [S2_GRANULE_16K] = g52,
			  [S2_GRANULE_64K] = S2_GRAN_YES },
		.vmid_bits = 16,
		.hafdbs = 2,
		.xnx = true,
		.fwb = true,
		.bbm = 2,
		.mte = 2,
		.dminline = 4, /* 64-byte lines */
		.iminline = 4,
	};
	return 0;
}

/* ---- per-VM configuration ------------------------------------------------------------------ */

/* VTCR_EL2.SL0 (and SL2) for a start level (Arm ARM D19.2, VTCR_EL2; AArch64.S2StartLevel). */
static void s2_sl_encode(enum s2_granule g, int start_level, unsigned int *sl0, bool *sl2)
{
	*sl2 = false;
	if (g == S2_GRANULE_4K) {
		if (start_level == -1) {
			*sl0 = 0;
			*sl2 = true;
		} else {
			*sl0 = (unsigned int)(2 - start_level);
		}
	} else {
		*sl0 = (unsigned int)(3 - start_level);
	}
}

/* AArch64.S2InconsistentSL: the IA size a start level can resolve. */
static bool s2_sl_consistent(unsigned int ipa_bits, unsigned int page_shift, int start_level)
{
	unsigned int stride = page_shift - 3;
	unsigned int levels = (unsigned int)(S2_LEVEL_MAX - start_level);
	unsigned int min = levels * stride + page_shift + 1;
	unsigned int max = min + (stride - 1) + 4;

	return ipa_bits >= min && ipa_bits <= max;
}

static unsigned int s2_block_levels(enum s2_granule g, bool ds, bool lpa)
{
	unsigned int mask = 0;
	int level;

	for (level = S2_LEVEL_MIN; level <= S2_LEVEL_MAX; level++)
		if (s2_level_has_blocks(g, level, ds, lpa))
			mask |= 1u << (level + 1);
	return mask;
}

int s2_config_init(struct s2_config *cfg, const struct s2_caps *caps,
		   const struct s2_config_req *req)
{
	enum s2_granule g;
	unsigned int ps, stride, n, root_bits, pa_bits, vmid_bits, sl0;
	bool ds = false, lpa = false, sl2;
	struct s2_config c;
	int start_level;

	if (!cfg || !caps || !req)
		return S2_EINVAL;
	g = req->granule;
	if (!s2_granule_valid(g) || (req->flags & ~S2_CFG_ALL))
		return S2_EINVAL;
	if ((req->flags & S2_CFG_HD) && !(req->flags & S2_CFG_HA))
		return S2_EINVAL;
	if (s2_bits_to_parange(caps->pa_bits) < 0 ||
	    (caps->vmid_bits != 8 && caps->vmid_bits != 16))
		return S2_EINVAL;
	/* A smaller output size than the CPU's, when asked: a PARange size up to the CPU's. */
	if (req->pa_bits_max &&
	    (s2_bits_to_parange(req->pa_bits_max) < 0 || req->pa_bits_max > caps->pa_bits))
		return S2_EINVAL;
	if (caps->gran[g] == S2_GRAN_NONE)
		return S2_EGRANULE;
	pa_bits = req->pa_bits_max ? req->pa_bits_max : caps->pa_bits;
	if (req->ipa_bits < 32)
		return S2_EIPA_TOO_SMALL;
	if (req->ipa_bits > 52 || req->ipa_bits > pa_bits)
		return S2_EIPA_TOO_BIG;

	/* Output size: PS from PARange (or the request); 52 needs LPA2 (4K/16K, then DS=1) or
	 * 64K (FEAT_LPA). */
	if (pa_bits == 52) {
		if (g == S2_GRANULE_64K)
			lpa = true;
		else if (caps->gran[g] == S2_GRAN_52)
			ds = true;
		else
			pa_bits = 48;
	}
	if (req->ipa_bits > 48 && !ds && !lpa)
		return S2_ENO52BIT;

	vmid_bits = req->vmid_bits ? req->vmid_bits : caps->vmid_bits;
	if ((vmid_bits != 8 && vmid_bits != 16) || vmid_bits > caps->vmid_bits)
		return S2_EVMID;

	if ((req->flags & S2_CFG_HA) && caps->hafdbs < 1)
		return S2_ENOTSUP;
	if ((req->flags & S2_CFG_HD) && caps->hafdbs < 2)
		return S2_ENOTSUP;
	if ((req->flags & S2_CFG_FWB) && !caps->fwb)
		return S2_ENOTSUP;
	if ((req->flags & S2_CFG_MTE) && caps->mte < 2)
		return S2_ENOTSUP;

	/*
	 * Levels (Arm ARM D8.2.3, AArch64.S2InconsistentSL): n levels resolve n * stride bits
	 * above the page offset, plus up to 4 more by concatenating up to 16 tables at the start
	 * level. Take the smallest n >= 2 that covers the IPA.
	 */
	ps = s2_granule_shift(g);
	stride = ps - 3;
	for (n = 2; req->ipa_bits - ps > n * stride + 4; n++)
		;
	start_level = 4 - (int)n;
	root_bits = req->ipa_bits - ps - (n - 1) * stride;
	S2_BUG_ON(start_level < s2_level_min(g));
	S2_BUG_ON(!s2_sl_consistent(req->ipa_bits, ps, start_level));

	c = (struct s2_config){
		.granule = g,
		.page_shift = ps,
		.ipa_bits = req->ipa_bits,
		.pa_bits = pa_bits,
		.start_level = start_level,
		.levels = n,
		.root_tables = root_bits > stride ? 1u << (root_bits - stride) : 1u,
		.root_entries = 1u << root_bits,
		.block_levels = s2_block_levels(g, ds, lpa),
		.vmid_bits = vmid_bits,
		.ds = ds,
		.lpa = lpa,
		.fwb = req->flags & S2_CFG_FWB,
		.ha = req->flags & S2_CFG_HA,
		.hd = req->flags & S2_CFG_HD,
		.xnx = caps->xnx,
		.mte = req->flags & S2_CFG_MTE,
		.dic = caps->dic,
		.idc = caps->idc,
	};
	c.root_table_bytes = (uint64_t)c.root_tables << ps;

	s2_sl_encode(g, start_level, &sl0, &sl2);
	c.vtcr = S2_FIELD_PREP(S2_VTCR_T0SZ, 64 - req->ipa_bits) | S2_FIELD_PREP(S2_VTCR_SL0, sl0) |
		 S2_FIELD_PREP(S2_VTCR_IRGN0, 1) | /* Normal, Inner WB RA WA */
		 S2_FIELD_PREP(S2_VTCR_ORGN0, 1) | /* Normal, Outer WB RA WA */
		 S2_FIELD_PREP(S2_VTCR_SH0, S2_SH_INNER) |
		 S2_FIELD_PREP(S2_VTCR_TG0, g == S2_GRANULE_4K	? S2_TG0_4K :
					    g == S2_GRANULE_16K ? S2_TG0_16K :
								  S2_TG0_64K) |
		 S2_FIELD_PREP(S2_VTCR_PS, (unsigned int)s2_bits_to_parange(pa_bits)) |
		 S2_VTCR_RES1;
	if (vmid_bits == 16)
		c.vtcr |= S2_VTCR_VS;
	if (c.ha)
		c.vtcr |= S2_VTCR_HA;
	if (c.hd)
		c.vtcr |= S2_VTCR_HD;
	if (ds)
		c.vtcr |= S2_VTCR_DS;
	if (sl2)
		c.vtcr |= S2_VTCR_SL2;

	*cfg = c;
	return 0;
}

struct s2_pte_format s2_config_pte_format(const struct s2_config *cfg)
{
	if (!cfg)
		return (struct s2_pte_format){ .granule = S2_GRANULE_4K };
	return (struct s2_pte_format){ .granule = cfg->granule, .ds = cfg->ds, .lpa = cfg->lpa };
}

/*
 * VTTBR_EL2 (Arm ARM D19.2): BADDR in [47:1] (the root's PA; with a 52-bit output size,
 * PA[51:48] in [5:2]), VMID in [55:48] or, with VTCR_EL2.VS=1, [63:48]; CnP [0] clear.
 */
int s2_vttbr(const struct s2_config *cfg, s2_pa_t root, uint16_t vmid, uint64_t *vttbr)
{
	uint64_t pa = s2_pa_val(root);
	uint64_t baddr;

	if (!cfg || !vttbr || !cfg->root_table_bytes || !S2_IS_ALIGNED(pa, cfg->root_table_bytes))
		return S2_EINVAL;
	if (cfg->pa_bits < 64 && (pa >> cfg->pa_bits))
		return S2_EINVAL;
	if (cfg->vmid_bits != 16 && vmid > 0xff)
		return S2_EINVAL;
	baddr = pa & S2_GENMASK(47, 1);
	if (cfg->ds || cfg->lpa)
		baddr |= S2_FIELD_PREP(S2_GENMASK(5, 2), pa >> 48);
	*vttbr = baddr | ((uint64_t)vmid << 48);
	return 0;
}

static int s2_sl_decode(enum s2_granule g, unsigned int sl0, bool sl2, bool ds, int *level)
{
	/* AArch64.S2InvalidSL / AArch64.S2StartLevel. FEAT_TTST (4K SL0=0b11) is not used. */
	if (g == S2_GRANULE_4K) {
		if (sl2) {
			if (sl0 != 0 || !ds)
				return S2_EINVAL;
			*level = -1;
			return 0;
		}
		if (sl0 == 3)
			return S2_EINVAL;
		*level = 2 - (int)sl0;
		return 0;
	}
	if (sl2)
		return S2_EINVAL;
	if (sl0 == 3 && !(g == S2_GRANULE_16K && ds))
		return S2_EINVAL;
	*level = 3 - (int)sl0;
	return 0;
}

/*
 * s2_vtcr_decode() and s2_vtcr_invalid_reason(): the VTCR_EL2 rules (Arm ARM D19.2 VTCR_EL2,
 * D8.2 and the pseudocode AArch64.S2InvalidSL, AArch64.S2InconsistentSL, AArch64.S2MinTxSZ).
 * Returns NULL and fills @v, or the reason the value is refused.
 */
static const char *s2_vtcr_parse(uint64_t vtcr, struct s2_vtcr_fields *out)
{
	struct s2_vtcr_fields v = {
		.t0sz = (unsigned int)S2_FIELD_GET(S2_VTCR_T0SZ, vtcr),
		.sl0 = (unsigned int)S2_FIELD_GET(S2_VTCR_SL0, vtcr),
		.irgn0 = (unsigned int)S2_FIELD_GET(S2_VTCR_IRGN0, vtcr),
		.orgn0 = (unsigned int)S2_FIELD_GET(S2_VTCR_ORGN0, vtcr),
		.sh0 = (unsigned int)S2_FIELD_GET(S2_VTCR_SH0, vtcr),
		.tg0 = (unsigned int)S2_FIELD_GET(S2_VTCR_TG0, vtcr),
		.ps = (unsigned int)S2_FIELD_GET(S2_VTCR_PS, vtcr),
		.vs = vtcr & S2_VTCR_VS,
		.ha = vtcr & S2_VTCR_HA,
		.hd = vtcr & S2_VTCR_HD,
		.ds = vtcr & S2_VTCR_DS,
		.sl2 = vtcr & S2_VTCR_SL2,
	};
	unsigned int stride, root_bits;
	int pa;

	switch (v.tg0) {
	case S2_TG0_4K:
		v.granule = S2_GRANULE_4K;
		break;
	case S2_TG0_16K:
		v.granule = S2_GRANULE_16K;
		break;
	case S2_TG0_64K:
		v.granule = S2_GRANULE_64K;
		break;
	default:
		return "TG0=0b11 is reserved";
	}
	pa = s2_parange_to_bits(v.ps);
	if (pa < 0)
		return "PS=0b111 is reserved";
	v.pa_bits = (unsigned int)pa;
	/* DS is RES0 with 64K; T0SZ may go below 16 only with DS (4K/16K) or FEAT_LPA (64K,
	 * which needs PS = 52 bits to be of use); above 39 only with FEAT_TTST. */
	if (v.ds && v.granule == S2_GRANULE_64K)
		return "DS=1 with the 64k granule (DS applies to 4k and 16k only)";
	if (v.t0sz > 39)
		return "T0SZ above 39 (an IPA below 25 bits) needs FEAT_TTST";
	if (v.t0sz < 12)
		return "T0SZ below 12 (an IPA above 52 bits)";
	if (v.t0sz < 16 && !v.ds && v.granule != S2_GRANULE_64K)
		return "T0SZ below 16 (an IPA above 48 bits) with 4k/16k needs DS=1 (FEAT_LPA2)";
	v.ipa_bits = 64 - v.t0sz;
	/*
	 * The IPA may not be larger than the output size: KVM never programs it (the IPA limit is
	 * the PARange), and for 64K with T0SZ < 16 (FEAT_LPA) it means PS must say 52 bits.
	 */
	if (v.ipa_bits > v.pa_bits)
		return "the IPA (64 - T0SZ bits) is larger than the output size (PS)";
	if (s2_sl_decode(v.granule, v.sl0, v.sl2, v.ds, &v.start_level))
		return v.sl2 ? "SL2=1 needs the 4k granule, DS=1 and SL0=0" :
			       "SL0 is reserved for this granule (4k SL0=0b11 needs FEAT_TTST)";
	if (!s2_sl_consistent(v.ipa_bits, s2_granule_shift(v.granule), v.start_level))
		return "the start level (SL0/SL2) does not fit T0SZ (more than 16 concatenated "
		       "tables, or a level the IPA does not reach)";
	v.levels = (unsigned int)(4 - v.start_level);
	stride = s2_granule_shift(v.granule) - 3;
	root_bits = v.ipa_bits - s2_level_shift(v.granule, v.start_level);
	v.root_tables = root_bits > stride ? 1u << (root_bits - stride) : 1u;
	v.root_table_bytes = (uint64_t)v.root_tables << s2_granule_shift(v.granule);
	*out = v;
	return NULL;
}

int s2_vtcr_decode(uint64_t vtcr, struct s2_vtcr_fields *out)
{
	struct s2_vtcr_fields v;

	if (!out)
		return S2_EINVAL;
	if (s2_vtcr_parse(vtcr, &v))
		return S2_EINVAL;
	*out = v;
	return 0;
}

const char *s2_vtcr_invalid_reason(uint64_t vtcr)
{
	struct s2_vtcr_fields v;

	return s2_vtcr_parse(vtcr, &v);
}

/* ---- syndromes --------------------------------------------------------------------------------- */

const char *s2_fault_name(enum s2_fault f)
{
	switch (f) {
	case S2_FAULT_NONE:
		return "none";
	case S2_FAULT_ADDRESS_SIZE:
		return "address-size";
	case S2_FAULT_TRANSLATION:
		return "translation";
	case S2_FAULT_ACCESS_FLAG:
		return "access-flag";
	case S2_FAULT_PERMISSION:
		return "permission";
	case S2_FAULT_ALIGNMENT:
		return "alignment";
	case S2_FAULT_EXTERNAL:
		return "external";
	case S2_FAULT_EXTERNAL_WALK:
		return "external-walk";
	case S2_FAULT_TLB_CONFLICT:
		return "tlb-conflict";
	case S2_FAULT_OTHER:
		return "other";
	}
	return "?";
}

/*
 * DFSC/IFSC (Arm ARM D19.2, ESR_ELx ISS encoding for an Instruction/Data Abort):
 *   0b0000LL address size, level LL        0b101001 address size, level -1 (FEAT_LPA2)
 *   0b0001LL translation, level LL         0b101011 translation, level -1 (FEAT_LPA2)
 *   0b0010LL access flag, level LL (L0 only with FEAT_LPA2)
 *   0b0011LL permission, level LL (L0 only with FEAT_LPA2)
 *   0b010000 synchronous external abort, not on a walk
 *   0b0101LL synchronous external abort on a walk, level LL; 0b010011 level -1 (FEAT_LPA2)
 *   0b011000 parity/ECC error, not on a walk; 0b0111LL on a walk, 0b011011 level -1
 *   0b100001 alignment; 0b110000 TLB conflict; everything else (tag check, GPF, atomic
 *   update, IMPLEMENTATION DEFINED) is "other".
 * Level -1 exists only for tables (4K with DS), so access-flag and permission faults, which
 * are reported at the leaf, have no level -1 code.
 *
 * s2_abort_decode() decodes the code with one lookup in a 64-byte table (one aligned cache
 * line) indexed by it: each byte holds the s2_fault in bits [3:0] and level + 1 in bits [7:4];
 * codes that carry no level decode as level 0.
 */
#define S2_FSC_FAULT S2_GENMASK(3, 0)
#define S2_FSC_LEVEL S2_GENMASK(7, 4)
#define FL(f, l) ((uint8_t)(S2_FAULT_##f | (((l) + 1) << 4)))
#define AS(l) FL(ADDRESS_SIZE, l)
#define TR(l) FL(TRANSLATION, l)
#define AF(l) FL(ACCESS_FLAG, l)
#define PF(l) FL(PERMISSION, l)
#define EW(l) FL(EXTERNAL_WALK, l)
#define EX FL(EXTERNAL, 0)
#define AL FL(ALIGNMENT, 0)
#define TC FL(TLB_CONFLICT, 0)
#define OT FL(OTHER, 0)

static const _Alignas(64) uint8_t s2_fsc_table[64] = {
	/* 0x00 */ AS(0), AS(1),  AS(2), AS(3),	 TR(0), TR(1), TR(2), TR(3),
	/* 0x08 */ AF(0), AF(1),  AF(2), AF(3),	 PF(0), PF(1), PF(2), PF(3),
	/* 0x10 */ EX,	  OT,	  OT,	 EW(-1), EW(0), EW(1), EW(2), EW(3),
	/* 0x18 */ EX,	  OT,	  OT,	 EW(-1), EW(0), EW(1), EW(2), EW(3),
	/* 0x20 */ OT,	  AL,	  OT,	 OT,	 OT,	OT,    OT,    OT,
	/* 0x28 */ OT,	  AS(-1), OT,	 TR(-1), OT,	OT,    OT,    OT,
	/* 0x30 */ TC,	  OT,	  OT,	 OT,	 OT,	OT,    OT,    OT,
	/* 0x38 */ OT,	  OT,	  OT,	 OT,	 OT,	OT,    OT,    OT,
};

#undef FL
#undef AS
#undef TR
#undef AF
#undef PF
#undef EW
#undef EX
#undef AL
#undef TC
#undef OT

int s2_fsc_encode(enum s2_fault f, int level)
{
	bool lvl_ok = level >= 0 && level <= 3;

	switch (f) {
	case S2_FAULT_ADDRESS_SIZE:
		if (level == -1)
			return 0x29;
		return lvl_ok ? level : S2_EINVAL;
	case S2_FAULT_TRANSLATION:
		if (level == -1)
			return 0x2b;
		return lvl_ok ? 0x04 + level : S2_EINVAL;
	case S2_FAULT_ACCESS_FLAG:
		return lvl_ok ? 0x08 + level : S2_EINVAL;
	case S2_FAULT_PERMISSION:
		return lvl_ok ? 0x0c + level : S2_EINVAL;
	case S2_FAULT_EXTERNAL_WALK:
		if (level == -1)
			return 0x13;
		return lvl_ok ? 0x14 + level : S2_EINVAL;
	case S2_FAULT_ALIGNMENT:
		return level == 0 ? 0x21 : S2_EINVAL;
	case S2_FAULT_EXTERNAL:
		return level == 0 ? 0x10 : S2_EINVAL;
	case S2_FAULT_TLB_CONFLICT:
		return level == 0 ? 0x30 : S2_EINVAL;
	default:
		return S2_EINVAL;
	}
}

#define S2_ESR_EC S2_GENMASK(31, 26)
#define S2_ESR_IL S2_BIT(25)
#define S2_ESR_ISV S2_BIT(24)
#define S2_ESR_SAS S2_GENMASK(23, 22)
#define S2_ESR_SSE S2_BIT(21)
#define S2_ESR_SRT S2_GENMASK(20, 16)
#define S2_ESR_SF S2_BIT(15)
#define S2_ESR_AR S2_BIT(14)
#define S2_ESR_FNV S2_BIT(10)
#define S2_ESR_EA S2_BIT(9)
#define S2_ESR_CM S2_BIT(8)
#define S2_ESR_S1PTW S2_BIT(7)
#define S2_ESR_WNR S2_BIT(6)
#define S2_ESR_FSC S2_GENMASK(5, 0)
#define S2_HPFAR_FIPA S2_GENMASK(43, 4)

/*
 * s2_abort_decode() runs on every guest stage-2 fault, so it is written to be cheap: every
 * field of @out is stored once, directly (no struct built on the stack and copied out), the
 * FSC is decoded by one table lookup, and the fields that are constant in a case (the
 * instruction-abort and no-ISV ones) are stored as constants in that case's branch, where the
 * compiler merges them into a few wide stores.
 */
int s2_abort_decode(uint64_t esr, uint64_t far, uint64_t hpfar, bool have_hpfar,
		    struct s2_abort *out)
{
	uint32_t ec = (uint32_t)S2_FIELD_GET(S2_ESR_EC, esr);
	unsigned int fsc = (unsigned int)S2_FIELD_GET(S2_ESR_FSC, esr);
	unsigned int fl;
	uint64_t ipa = 0;

	if (S2_UNLIKELY(!out))
		return S2_EINVAL;
	/* The aborts are EC 0x20/0x21 (instruction) and 0x24/0x25 (data): EC = 0b100x0x. */
	if (S2_UNLIKELY((ec & ~0x5u) != S2_EC_IABT_LOW)) {
		*out = (struct s2_abort){ .ec = ec, .il = esr & S2_ESR_IL, .far = far };
		return S2_EINVAL;
	}
	if (have_hpfar) {
		/*
		 * HPFAR_EL2.FIPA [43:4] holds IPA[51:12]. FAR_EL2 holds the faulting VA, so its
		 * low 12 bits are the IPA's page offset, except when FAR is not valid (FnV) or the
		 * fault is on a stage-1 walk (S1PTW: the IPA is that of the stage-1 descriptor,
		 * FAR still the VA being translated); then the IPA is page-aligned.
		 */
		ipa = (hpfar & S2_HPFAR_FIPA) << 8;
		if (!(esr & (S2_ESR_FNV | S2_ESR_S1PTW)))
			ipa |= far & 0xfff;
	}
	out->ipa_valid = have_hpfar;
	out->ipa = s2_ipa(ipa);
	out->far = far;
	fl = s2_fsc_table[fsc];
	out->ec = ec;
	out->il = esr & S2_ESR_IL;
	out->fault = (enum s2_fault)S2_FIELD_GET(S2_FSC_FAULT, fl);
	out->level = (int)S2_FIELD_GET(S2_FSC_LEVEL, fl) - 1;
	out->fsc = (uint8_t)fsc;
	out->s1ptw = esr & S2_ESR_S1PTW;
	out->ea = esr & S2_ESR_EA;
	out->fnv = esr & S2_ESR_FNV;
	if (ec & 0x4u) {
		out->is_data = true;
		out->is_insn = false;
	} else {
		/* ISV, SAS, SSE, SRT, SF, AR, CM, WnR exist in data-abort syndromes only. */
		out->is_data = false;
		out->is_insn = true;
		esr &= ~(S2_ESR_ISV | S2_ESR_CM | S2_ESR_WNR);
	}
	out->wnr = esr & S2_ESR_WNR;
	out->cm = esr & S2_ESR_CM;
	if (esr & S2_ESR_ISV) {
		out->isv = true;
		out->access_bytes = 1u << S2_FIELD_GET(S2_ESR_SAS, esr);
		out->sign_extend = esr & S2_ESR_SSE;
		out->reg = (unsigned int)S2_FIELD_GET(S2_ESR_SRT, esr);
		out->reg64 = esr & S2_ESR_SF;
		out->acqrel = esr & S2_ESR_AR;
	} else {
		out->isv = false;
		out->access_bytes = 0;
		out->sign_extend = false;
		out->reg = 0;
		out->reg64 = false;
		out->acqrel = false;
	}
	return 0;
}

/*
 * s2_abort_encode(): the inverse of s2_abort_decode(). Not on the fault path, so it checks every
 * field against what hardware can report rather than trusting the caller.
 */
static int s2_abort_fsc(const struct s2_abort *ab)
{
	unsigned int fl;
	int code;

	if (ab->fault != S2_FAULT_OTHER && !ab->fsc) {
		code = s2_fsc_encode(ab->fault, ab->level);
		if (code < 0)
			return code;
	} else {
		code = ab->fsc;
		if (code > 0x3f)
			return S2_EINVAL;
	}
	/* Whichever way the code was found, it must decode to the abort's fault and level. */
	fl = s2_fsc_table[code];
	if ((enum s2_fault)S2_FIELD_GET(S2_FSC_FAULT, fl) != ab->fault ||
	    (int)S2_FIELD_GET(S2_FSC_LEVEL, fl) - 1 != ab->level)
		return S2_EINVAL;
	return code;
}

int s2_abort_encode(const struct s2_abort *ab, uint64_t *esr, uint64_t *far, uint64_t *hpfar)
{
	uint64_t e, h = 0;
	int fsc;

	if (!ab || !esr || !far || !hpfar)
		return S2_EINVAL;
	if ((ab->ec & ~0x5u) != S2_EC_IABT_LOW)
		return S2_EINVAL;
	if (ab->is_data != !!(ab->ec & 0x4u) || ab->is_insn == ab->is_data)
		return S2_EINVAL;
	fsc = s2_abort_fsc(ab);
	if (fsc < 0)
		return S2_EINVAL;
	if (ab->is_insn && (ab->wnr || ab->cm || ab->isv))
		return S2_EINVAL;
	e = S2_FIELD_PREP(S2_ESR_EC, ab->ec) | (uint64_t)fsc;
	if (ab->il)
		e |= S2_ESR_IL;
	if (ab->wnr)
		e |= S2_ESR_WNR;
	if (ab->cm)
		e |= S2_ESR_CM;
	if (ab->s1ptw)
		e |= S2_ESR_S1PTW;
	if (ab->ea)
		e |= S2_ESR_EA;
	if (ab->fnv)
		e |= S2_ESR_FNV;
	if (ab->isv) {
		unsigned int b = ab->access_bytes;

		if ((b != 1 && b != 2 && b != 4 && b != 8) || ab->reg > 31)
			return S2_EINVAL;
		e |= S2_ESR_ISV | S2_FIELD_PREP(S2_ESR_SAS, (uint64_t)S2_CTZ64(b)) |
		     S2_FIELD_PREP(S2_ESR_SRT, (uint64_t)ab->reg);
		if (ab->sign_extend)
			e |= S2_ESR_SSE;
		if (ab->reg64)
			e |= S2_ESR_SF;
		if (ab->acqrel)
			e |= S2_ESR_AR;
	} else if (ab->access_bytes || ab->sign_extend || ab->reg || ab->reg64 || ab->acqrel) {
		return S2_EINVAL;
	}
	if (ab->ipa_valid) {
		uint64_t off = (ab->fnv || ab->s1ptw) ? 0 : (ab->far & 0xfff);

		if (s2_ipa_val(ab->ipa) >> 52 || (s2_ipa_val(ab->ipa) & 0xfff) != off)
			return S2_EINVAL;
		h = S2_FIELD_PREP(S2_HPFAR_FIPA, s2_ipa_val(ab->ipa) >> 12);
	} else if (s2_ipa_val(ab->ipa)) {
		return S2_EINVAL;
	}
	*esr = e;
	*far = ab->far;
	*hpfar = h;
	return 0;
}

/* ---- full syndrome decoding -------------------------------------------------------------------- */

/*
 * Every DFSC/IFSC code (Arm ARM D19.2, ESR_EL2 ISS encoding for an exception from an
 * Instruction/Data Abort; the same table for both):
 *   0b0000LL address size L0..3       0b101001 address size L-1 (FEAT_LPA2)
 *   0b0001LL translation L0..3        0b101011 translation L-1 (FEAT_LPA2)
 *   0b0010LL access flag L0..3        0b101010 translation L-2 (FEAT_D128)
 *   0b0011LL permission L0..3         0b101100 address size L-2 (FEAT_D128)
 *   0b010000 SEA not on a walk (SET)  0b010001 tag check (FEAT_MTE2)
 *   0b010010 SEA on a walk L-2 (FEAT_D128), 0b010011 L-1 (FEAT_LPA2), 0b0101LL L0..3
 *   0b011000 parity/ECC not on a walk, 0b011011 on a walk L-1, 0b0111LL L0..3 (no FEAT_RAS)
 *   0b100001 alignment
 *   0b100010 GPF on a walk L-2 (FEAT_D128), 0b100011 L-1, 0b1001LL L0..3 (FEAT_RME)
 *   0b101000 GPF not on a walk (FEAT_RME)
 *   0b110000 TLB conflict             0b110001 unsupported atomic hardware update
 *   0b110100 IMPLEMENTATION DEFINED (lockdown)
 *   0b110101 IMPLEMENTATION DEFINED (unsupported exclusive or atomic access)
 * Everything else is reserved. There is no access-flag or permission code for level -1 (or
 * -2): those faults are reported at the level of the leaf, and no level below 0 holds leaves.
 * Each entry: the s2_fsc_type in bits [4:0], bit 5 set when the code names a level, the level
 * plus 2 in bits [8:6].
 */
#define S2_FSCD_TYPE S2_GENMASK(4, 0)
#define S2_FSCD_HAS_LEVEL S2_BIT(5)
#define S2_FSCD_LEVEL S2_GENMASK(8, 6) /* level + 2 */
#define D(t) ((uint16_t)S2_FSC_##t)
#define DL(t, l) ((uint16_t)(S2_FSC_##t | S2_FSCD_HAS_LEVEL | (((l) + 2) << 6)))

static const uint16_t s2_fsc_desc[64] = {
	/* 0x00 */ DL(ADDRESS_SIZE, 0),
	DL(ADDRESS_SIZE, 1),
	DL(ADDRESS_SIZE, 2),
	DL(ADDRESS_SIZE, 3),
	DL(TRANSLATION, 0),
	DL(TRANSLATION, 1),
	DL(TRANSLATION, 2),
	DL(TRANSLATION, 3),
	/* 0x08 */ DL(ACCESS_FLAG, 0),
	DL(ACCESS_FLAG, 1),
	DL(ACCESS_FLAG, 2),
	DL(ACCESS_FLAG, 3),
	DL(PERMISSION, 0),
	DL(PERMISSION, 1),
	DL(PERMISSION, 2),
	DL(PERMISSION, 3),
	/* 0x10 */ D(EXTERNAL),
	D(TAG_CHECK),
	DL(EXTERNAL_WALK, -2),
	DL(EXTERNAL_WALK, -1),
	DL(EXTERNAL_WALK, 0),
	DL(EXTERNAL_WALK, 1),
	DL(EXTERNAL_WALK, 2),
	DL(EXTERNAL_WALK, 3),
	/* 0x18 */ D(PARITY),
	D(RESERVED),
	D(RESERVED),
	DL(PARITY_WALK, -1),
	DL(PARITY_WALK, 0),
	DL(PARITY_WALK, 1),
	DL(PARITY_WALK, 2),
	DL(PARITY_WALK, 3),
	/* 0x20 */ D(RESERVED),
	D(ALIGNMENT),
	DL(GPF_WALK, -2),
	DL(GPF_WALK, -1),
	DL(GPF_WALK, 0),
	DL(GPF_WALK, 1),
	DL(GPF_WALK, 2),
	DL(GPF_WALK, 3),
	/* 0x28 */ D(GPF),
	DL(ADDRESS_SIZE, -1),
	DL(TRANSLATION, -2),
	DL(TRANSLATION, -1),
	DL(ADDRESS_SIZE, -2),
	D(RESERVED),
	D(RESERVED),
	D(RESERVED),
	/* 0x30 */ D(TLB_CONFLICT),
	D(ATOMIC_HW_UPDATE),
	D(RESERVED),
	D(RESERVED),
	D(IMPDEF_LOCKDOWN),
	D(IMPDEF_ATOMIC),
	D(RESERVED),
	D(RESERVED),
	/* 0x38 */ D(RESERVED),
	D(RESERVED),
	D(RESERVED),
	D(RESERVED),
	D(RESERVED),
	D(RESERVED),
	D(RESERVED),
	D(RESERVED),
};

#undef D
#undef DL

int s2_fsc_describe(unsigned int fsc, struct s2_fsc_info *out)
{
	unsigned int d;

	if (!out || fsc >= S2_ARRAY_SIZE(s2_fsc_desc))
		return S2_EINVAL;
	d = s2_fsc_desc[fsc];
	out->type = (enum s2_fsc_type)S2_FIELD_GET(S2_FSCD_TYPE, d);
	out->has_level = d & S2_FSCD_HAS_LEVEL;
	out->level = out->has_level ? (int)S2_FIELD_GET(S2_FSCD_LEVEL, d) - 2 : 0;
	return 0;
}

const char *s2_fsc_type_name(enum s2_fsc_type t)
{
	switch (t) {
	case S2_FSC_RESERVED:
		return "reserved";
	case S2_FSC_ADDRESS_SIZE:
		return "address-size";
	case S2_FSC_TRANSLATION:
		return "translation";
	case S2_FSC_ACCESS_FLAG:
		return "access-flag";
	case S2_FSC_PERMISSION:
		return "permission";
	case S2_FSC_EXTERNAL:
		return "external";
	case S2_FSC_EXTERNAL_WALK:
		return "external-walk";
	case S2_FSC_TAG_CHECK:
		return "tag-check";
	case S2_FSC_PARITY:
		return "parity";
	case S2_FSC_PARITY_WALK:
		return "parity-walk";
	case S2_FSC_ALIGNMENT:
		return "alignment";
	case S2_FSC_GPF:
		return "gpf";
	case S2_FSC_GPF_WALK:
		return "gpf-walk";
	case S2_FSC_TLB_CONFLICT:
		return "tlb-conflict";
	case S2_FSC_ATOMIC_HW_UPDATE:
		return "atomic-hw-update";
	case S2_FSC_IMPDEF_LOCKDOWN:
		return "impdef-lockdown";
	case S2_FSC_IMPDEF_ATOMIC:
		return "impdef-exclusive-atomic";
	}
	return "?";
}

/*
 * Exception classes (Arm ARM D19.2, ESR_EL2.EC), named as Linux's esr_class_str
 * (arch/arm64/kernel/traps.c) names them; the classes it does not name yet are spelt the same
 * way: 0x0A LD64B/ST64B (FEAT_LS64), 0x14 MSRR/MRRS/SYSP (FEAT_SYSREG128), 0x1B TSTART
 * (FEAT_TME), 0x2D GCS (FEAT_GCS).
 */
static const char *const s2_ec_names[64] = {
	[0x00] = "Unknown/Uncategorized",
	[0x01] = "WFI/WFE",
	[0x03] = "CP15 MCR/MRC",
	[0x04] = "CP15 MCRR/MRRC",
	[0x05] = "CP14 MCR/MRC",
	[0x06] = "CP14 LDC/STC",
	[0x07] = "ASIMD",
	[0x08] = "CP10 MRC/VMRS",
	[0x09] = "PAC",
	[0x0a] = "LD64B/ST64B",
	[0x0c] = "CP14 MCRR/MRRC",
	[0x0d] = "BTI",
	[0x0e] = "PSTATE.IL",
	[0x11] = "SVC (AArch32)",
	[0x12] = "HVC (AArch32)",
	[0x13] = "SMC (AArch32)",
	[0x14] = "MSRR/MRRS/SYSP (AArch64)",
	[0x15] = "SVC (AArch64)",
	[0x16] = "HVC (AArch64)",
	[0x17] = "SMC (AArch64)",
	[0x18] = "MSR/MRS (AArch64)",
	[0x19] = "SVE",
	[0x1a] = "ERET/ERETAA/ERETAB",
	[0x1b] = "TSTART",
	[0x1c] = "FPAC",
	[0x1d] = "SME",
	[0x1f] = "EL3 IMP DEF",
	[0x20] = "IABT (lower EL)",
	[0x21] = "IABT (current EL)",
	[0x22] = "PC Alignment",
	[0x24] = "DABT (lower EL)",
	[0x25] = "DABT (current EL)",
	[0x26] = "SP Alignment",
	[0x27] = "MOPS",
	[0x28] = "FP (AArch32)",
	[0x2c] = "FP (AArch64)",
	[0x2d] = "GCS",
	[0x2f] = "SError",
	[0x30] = "Breakpoint (lower EL)",
	[0x31] = "Breakpoint (current EL)",
	[0x32] = "Software Step (lower EL)",
	[0x33] = "Software Step (current EL)",
	[0x34] = "Watchpoint (lower EL)",
	[0x35] = "Watchpoint (current EL)",
	[0x38] = "BKPT (AArch32)",
	[0x3a] = "Vector catch (AArch32)",
	[0x3c] = "BRK (AArch64)",
};

const char *s2_ec_name(unsigned int ec)
{
	if (ec >= S2_ARRAY_SIZE(s2_ec_names) || !s2_ec_names[ec])
		return "UNRECOGNIZED EC";
	return s2_ec_names[ec];
}

const char *s2_set_name(unsigned int set)
{
	switch (set) {
	case S2_SET_UER:
		return "UER (recoverable)";
	case S2_SET_RESERVED:
		return "reserved";
	case S2_SET_UC:
		return "UC (uncontainable)";
	case S2_SET_UEO:
		return "UEO (restartable)";
	}
	return "?";
}

#define S2_ESR_ISS S2_GENMASK(24, 0)
#define S2_ESR_ISS2 S2_GENMASK(55, 32)
#define S2_ESR_RES0_HI S2_GENMASK(63, 56)
#define S2_ESR_SET S2_GENMASK(12, 11)
#define S2_ESR_VNCR S2_BIT(13)
#define S2_ESR_FNP S2_BIT(15)
#define S2_ISS2_XS S2_GENMASK(4, 0)

int s2_esr_describe(uint64_t esr, struct s2_esr_info *out)
{
	struct s2_esr_info i = {
		.esr = esr,
		.ec = (unsigned int)S2_FIELD_GET(S2_ESR_EC, esr),
		.il = esr & S2_ESR_IL,
		.iss = (uint32_t)S2_FIELD_GET(S2_ESR_ISS, esr),
		.iss2 = (uint32_t)S2_FIELD_GET(S2_ESR_ISS2, esr),
		.res0_hi = (uint8_t)S2_FIELD_GET(S2_ESR_RES0_HI, esr),
	};

	if (!out)
		return S2_EINVAL;
	if ((i.ec & ~0x5u) != S2_EC_IABT_LOW) {
		*out = i;
		return 0;
	}
	i.is_abort = true;
	i.is_data = i.ec & 0x4u;
	i.is_insn = !i.is_data;
	i.fsc = (unsigned int)S2_FIELD_GET(S2_ESR_FSC, esr);
	(void)s2_fsc_describe(i.fsc, &i.fault);
	i.s1ptw = esr & S2_ESR_S1PTW;
	i.ea = esr & S2_ESR_EA;
	i.fnv = esr & S2_ESR_FNV;
	/* SET: with a synchronous external abort not on a walk (FEAT_RAS), both kinds. */
	if (i.fsc == 0x10) {
		i.set_valid = true;
		i.set = (unsigned int)S2_FIELD_GET(S2_ESR_SET, esr);
	}
	if (i.is_data) {
		i.wnr = esr & S2_ESR_WNR;
		i.cm = esr & S2_ESR_CM;
		i.vncr = esr & S2_ESR_VNCR;
		i.isv = esr & S2_ESR_ISV;
		if (i.isv) {
			i.access_bytes = 1u << S2_FIELD_GET(S2_ESR_SAS, esr);
			i.sse = esr & S2_ESR_SSE;
			i.srt = (unsigned int)S2_FIELD_GET(S2_ESR_SRT, esr);
			i.sf = esr & S2_ESR_SF;
			i.ar = esr & S2_ESR_AR;
		} else {
			i.fnp_valid = true;
			i.fnp = esr & S2_ESR_FNP;
		}
		i.xs = (unsigned int)S2_FIELD_GET(S2_ISS2_XS, i.iss2);
		i.dirty_bit = i.iss2 & S2_BIT(5);
		i.overlay = i.iss2 & S2_BIT(6);
		i.assured_only = i.iss2 & S2_BIT(7);
		i.gcs = i.iss2 & S2_BIT(8);
		i.tag_access = i.iss2 & S2_BIT(9);
		i.tnd = i.iss2 & S2_BIT(10);
		i.hdbssf = i.iss2 & S2_BIT(11);
	}
	*out = i;
	return 0;
}
