// SPDX-License-Identifier: MIT
/*
 * walk.c - the reference MMU: the architectural stage-2 translation, written from the Arm ARM
 * (DDI 0487) pseudocode, and a model of the TLB.
 *
 * This file is the project's oracle. It deliberately shares no code with the page-table engine
 * nor with the encoders of arch.c: it uses only the descriptor constants of s2mmu/arch.h and
 * the fields of struct s2_config, and computes the level geometry and the descriptor layouts
 * itself. What it follows, function by function:
 *
 *   AArch64.S2Walk / AArch64.S2Translate  the walk: initial checks, descriptor fetches, table
 *                                          and leaf decoding, the fault order;
 *   AArch64.S2InvalidSL / S2InconsistentSL the start-level checks (translation fault, level 1);
 *   AArch64.IPAIsOutOfRange                 input size check (translation fault, level 0);
 *   AArch64.DecodeDescriptorType,
 *   AArch64.BlockDescSupported              which encodings are tables, leaves or invalid;
 *   AArch64.S2NextWalkStateTable/Leaf,
 *   AArch64.S2OutputAddress (StageOA)       the output and next-table address layouts;
 *   AArch64.OAOutOfRange,
 *   AArch64.PhysicalAddressSize             address size faults;
 *   AArch64.S2CheckPermissions              S2AP, XN (with FEAT_XNX), stage-1 walk accesses;
 *   AArch64.SetAccessFlag / SetDirtyState   FEAT_HAFDBS hardware updates of AF and S2AP[1].
 *
 * docs/walk.md lists what is not modelled.
 */
#include "s2mmu/walk.h"

/* How often a walk is restarted when its hardware update loses a race (cas64 == S2_EAGAIN). */
#define S2W_MAX_RETRIES 1000

/* The geometry of a walk, derived from the config alone (D8.2, "Translation granule"). */
struct s2w_geom {
	unsigned int gbits; /* log2 of the granule: 12, 14, 16 */
	unsigned int stride; /* index bits per level: gbits - 3 */
	int start; /* initial lookup level */
	unsigned int oasize; /* effective output address size (AArch64.PhysicalAddressSize) */
	uint64_t root_bytes; /* bytes of the (concatenated) initial table */
	bool sl_fault; /* S2InvalidSL or S2InconsistentSL: translation fault, level 1 */
};

/* Bits of input address below the level: the level resolves [shift + stride - 1 : shift]. */
static unsigned int s2w_shift(const struct s2w_geom *g, int level)
{
	return g->gbits + (unsigned int)(3 - level) * g->stride;
}

/*
 * Check @cfg and derive the geometry. Structurally impossible configs (fields that contradict
 * each other, values no VTCR_EL2 can express) are S2_EINVAL; a start level that VTCR_EL2 can
 * express but hardware treats as invalid or inconsistent sets g->sl_fault.
 */
static int s2w_geometry(const struct s2_config *cfg, struct s2w_geom *g)
{
	unsigned int shift, nbits, tables;

	switch (cfg->granule) {
	case S2_GRANULE_4K:
		g->gbits = 12;
		break;
	case S2_GRANULE_16K:
		g->gbits = 14;
		break;
	case S2_GRANULE_64K:
		g->gbits = 16;
		break;
	default:
		return S2_EINVAL;
	}
	if (cfg->page_shift != g->gbits)
		return S2_EINVAL;
	g->stride = g->gbits - 3;

	if (cfg->start_level < S2_LEVEL_MIN || cfg->start_level > S2_LEVEL_MAX ||
	    cfg->levels != (unsigned int)(4 - cfg->start_level))
		return S2_EINVAL;
	g->start = cfg->start_level;

	if (cfg->ipa_bits < 1 || cfg->ipa_bits > 52 || cfg->pa_bits < 1 || cfg->pa_bits > 52)
		return S2_EINVAL;
	/* VTCR_EL2.DS exists for 4K and 16K only; FEAT_LPA's 52-bit layout is the 64K one's. */
	if ((cfg->ds && cfg->granule == S2_GRANULE_64K) ||
	    (cfg->lpa && cfg->granule != S2_GRANULE_64K))
		return S2_EINVAL;
	/* Level -1 is encoded by VTCR_EL2.SL2, which exists for the 4K granule only. */
	if (g->start == -1 && cfg->granule != S2_GRANULE_4K)
		return S2_EINVAL;

	/*
	 * AArch64.PhysicalAddressSize: PS = 52 bits gives 52-bit output only with the 52-bit
	 * descriptor layouts (DS for 4K/16K, FEAT_LPA for 64K); otherwise it acts as 48.
	 */
	g->oasize = cfg->pa_bits;
	if (g->oasize > 48 && !cfg->ds && !cfg->lpa)
		g->oasize = 48;

	/*
	 * AArch64.S2InvalidSL: level -1 (SL2=1) needs DS; 16K level 0 (SL0=0b11) exists only with
	 * DS; 64K has no level 0 (SL0=0b11 reserved). The PAMax-dependent reservations of SL0 are
	 * not modelled (the config carries no PAMax).
	 */
	g->sl_fault = false;
	if ((g->start == -1 && !cfg->ds) ||
	    (cfg->granule == S2_GRANULE_16K && g->start == 0 && !cfg->ds) ||
	    (cfg->granule == S2_GRANULE_64K && g->start <= 0))
		g->sl_fault = true;

	/*
	 * AArch64.S2InconsistentSL: the initial level must resolve at least one bit and at most
	 * one level's stride plus 4 bits (16 concatenated tables, D8.2.3).
	 */
	shift = s2w_shift(g, g->start);
	if (cfg->ipa_bits < shift + 1 || cfg->ipa_bits > shift + g->stride + 4)
		g->sl_fault = true;
	if (g->sl_fault) {
		g->root_bytes = 0;
		return 0;
	}

	/* Concatenation: 2^(nbits - stride) tables when the start level resolves more bits. */
	nbits = cfg->ipa_bits - shift;
	tables = nbits > g->stride ? 1u << (nbits - g->stride) : 1u;
	if (cfg->root_tables != tables)
		return S2_EINVAL;
	g->root_bytes = (uint64_t)tables << g->gbits;
	return 0;
}

/*
 * The output address, or next-level table address, a descriptor holds (AArch64.S2OutputAddress,
 * StageOA, AArch64.S2NextWalkStateTable):
 *   DS=1 (4K, 16K, FEAT_LPA2): OA[49:gbits] = desc[49:gbits], OA[51:50] = desc[9:8];
 *   DS=0:                      OA[47:gbits] = desc[47:gbits];
 *   64K:                       OA[51:48] = desc[15:12] (FEAT_LPA layout).
 * The 64K high bits are always decoded: with PS below 52 bits they make an address size fault,
 * which is what a FEAT_LPA implementation does (without FEAT_LPA they are RES0 and software
 * must not set them). For DS=0, desc[49:48] are RES0 and not part of the address.
 * Bits below the block size are not cleared here (the caller does it for blocks).
 */
static uint64_t s2w_desc_oa(const struct s2_config *cfg, uint64_t desc)
{
	uint64_t oa;

	if (cfg->ds) {
		oa = desc & S2_GENMASK(49, cfg->page_shift);
		oa |= S2_FIELD_GET(S2_PTE_OA_HI_LPA2, desc) << 50;
	} else {
		oa = desc & S2_GENMASK(47, cfg->page_shift);
		if (cfg->granule == S2_GRANULE_64K)
			oa |= S2_FIELD_GET(S2_PTE_OA_HI_64K, desc) << 48;
	}
	return oa;
}

/* AArch64.OAOutOfRange: any address bit at or above the output size is set. */
static bool s2w_oa_out_of_range(const struct s2w_geom *g, uint64_t oa)
{
	return g->oasize < 64 && (oa >> g->oasize) != 0;
}

/*
 * AArch64.BlockDescSupported: 4K blocks at L1, L2 (L0 with DS); 16K at L2 (L1 with DS); 64K at
 * L2 (L1 with 52-bit output, FEAT_LPA). Never at level 3 (0b01 there is reserved) nor at -1.
 */
static bool s2w_block_legal(const struct s2_config *cfg, int level)
{
	switch (cfg->granule) {
	case S2_GRANULE_4K:
		return level == 1 || level == 2 || (level == 0 && cfg->ds);
	case S2_GRANULE_16K:
		return level == 2 || (level == 1 && cfg->ds);
	case S2_GRANULE_64K:
		return level == 2 || (level == 1 && cfg->lpa);
	}
	return false;
}

/*
 * Stage-2 execute permission from XN[1:0] (D8.5, AArch64.S2CheckPermissions). Without
 * FEAT_XNX only XN[1] exists. With FEAT_XNX: 00 EL1 and EL0 may execute; 01 EL0 only; 10
 * neither; 11 EL1 only.
 */
static bool s2w_exec_allowed(bool xnx, uint8_t xn, bool el0)
{
	if (!xnx)
		return !(xn & 2u);
	switch (xn & 3u) {
	case S2_XN_NONE:
		return true;
	case S2_XN_EL1:
		return el0;
	case S2_XN_EL0:
		return !el0;
	default:
		return false;
	}
}

static void s2w_fault(struct s2_walk_result *res, enum s2_fault f, int level)
{
	res->fault = f;
	res->level = level;
}

/* Effective VTCR_EL2.HD: hardware dirty state only works with hardware AF management on. */
static bool s2w_hd(const struct s2_config *cfg)
{
	return cfg->hd && cfg->ha;
}

/* One walk. S2_EAGAIN when a hardware update lost a race and the walk must be redone. */
static int s2w_walk_once(const struct s2_config *cfg, const struct s2w_geom *g, uint64_t root,
			 const struct s2_walk_mem *mem, uint64_t ipa, struct s2_access access,
			 struct s2_walk_result *res)
{
	uint64_t table = root, desc = 0, desc_pa = 0, oa, size, newdesc;
	unsigned int shift, width;
	int level = g->start;
	bool r, w, fail, write_access;
	int ret;

	s2_memzero(res, sizeof(*res));
	res->fault = S2_FAULT_NONE;
	res->access = access;

	/* AArch64.S2InvalidSL / AArch64.S2InconsistentSL: translation fault at level 1. */
	if (g->sl_fault) {
		s2w_fault(res, S2_FAULT_TRANSLATION, 1);
		return 0;
	}
	/*
	 * The VTTBR_EL2.BADDR check (AArch64.S2Walk, OAOutOfRange on the base address): an
	 * address size fault reported at level 0 ("level 0 or translation table base").
	 */
	if (s2w_oa_out_of_range(g, root)) {
		s2w_fault(res, S2_FAULT_ADDRESS_SIZE, 0);
		return 0;
	}
	/* Input size check (AArch64.IPAIsOutOfRange in AArch64.S2Walk): translation, level 0. */
	if (cfg->ipa_bits < 64 && (ipa >> cfg->ipa_bits) != 0) {
		s2w_fault(res, S2_FAULT_TRANSLATION, 0);
		return 0;
	}

	for (;;) {
		/*
		 * The descriptor index (AArch64.S2SLTTEntryAddress / TTEntryAddress): the initial
		 * level resolves IPA[ipa_bits-1:shift], which includes the concatenation bits; the
		 * others resolve IPA[shift+stride-1:shift].
		 */
		shift = s2w_shift(g, level);
		width = level == g->start ? cfg->ipa_bits - shift : g->stride;
		desc_pa = table + (((ipa >> shift) & S2_GENMASK(width - 1, 0)) << 3);
		res->level = level;
		res->pte_pa = s2_pa(desc_pa);

		/* FetchDescriptor: an external abort on the walk is reported with its level. */
		if (mem->read64(mem->ctx, s2_pa(desc_pa), &desc) < 0) {
			s2w_fault(res, S2_FAULT_EXTERNAL_WALK, level);
			return 0;
		}
		res->pte = desc;

		/* AArch64.DecodeDescriptorType: bit 0 clear is invalid. */
		if (!(desc & S2_PTE_VALID)) {
			s2w_fault(res, S2_FAULT_TRANSLATION, level);
			return 0;
		}
		if (desc & S2_PTE_TYPE) {
			if (level == 3)
				break; /* a page */
			/*
			 * Table: AArch64.S2NextWalkStateTable, then OAOutOfRange on the next table's
			 * address, reported at the level of the table descriptor.
			 */
			table = s2w_desc_oa(cfg, desc);
			if (s2w_oa_out_of_range(g, table)) {
				s2w_fault(res, S2_FAULT_ADDRESS_SIZE, level);
				return 0;
			}
			level++;
			continue;
		}
		/* bits[1:0] = 0b01: a block where blocks are supported, else invalid. */
		if (level == 3 || !s2w_block_legal(cfg, level)) {
			s2w_fault(res, S2_FAULT_TRANSLATION, level);
			return 0;
		}
		break;
	}

	/* The leaf (AArch64.S2NextWalkStateLeaf). Bits of the OA field below the block size are
	 * RES0 (or nT, bit 16): the block's output address is aligned to its size. */
	size = UINT64_C(1) << shift;
	oa = s2w_desc_oa(cfg, desc) & ~(size - 1);
	res->block_size = size;
	res->memattr = (uint8_t)S2_FIELD_GET(S2_PTE_MEMATTR, desc);
	res->s2ap = (uint8_t)S2_FIELD_GET(S2_PTE_S2AP, desc);
	res->xn = (uint8_t)S2_FIELD_GET(S2_PTE_XN, desc);
	/* With DS=1 the shareability is VTCR_EL2.SH0, bits [9:8] being OA[51:50]. */
	res->sh = cfg->ds ? (uint8_t)S2_FIELD_GET(S2_VTCR_SH0, cfg->vtcr) :
			    (uint8_t)S2_FIELD_GET(S2_PTE_SH, desc);
	res->af = (desc & S2_PTE_AF) != 0;
	res->dbm = (desc & S2_PTE_DBM) != 0;
	res->contig = (desc & S2_PTE_CONTIG) != 0;
	res->sw = (uint8_t)S2_FIELD_GET(S2_PTE_SW, desc);

	/* AArch64.S2Walk: the output address size check comes first ... */
	if (s2w_oa_out_of_range(g, oa)) {
		s2w_fault(res, S2_FAULT_ADDRESS_SIZE, level);
		return 0;
	}
	res->pa = s2_pa(oa | (ipa & (size - 1)));

	/* ... then the access flag: without VTCR_EL2.HA, AF == 0 is an access flag fault. */
	if (!res->af && !cfg->ha) {
		s2w_fault(res, S2_FAULT_ACCESS_FLAG, level);
		return 0;
	}

	/*
	 * AArch64.S2CheckPermissions. A write is permitted by S2AP[1], or by DBM when VTCR_EL2.HD
	 * is in effect (the walk state then counts the descriptor as writable). An instruction
	 * fetch checks XN only. A stage-1 table walk is checked as a read, whatever the access,
	 * except when it must update a stage-1 descriptor (hardware AF/dirty at stage 1): the
	 * caller says so with type WRITE, and it is then checked as a write.
	 */
	r = (res->s2ap & S2_S2AP_RO) != 0;
	w = (res->s2ap & S2_S2AP_WO) != 0 || (s2w_hd(cfg) && res->dbm);
	write_access = access.type == S2_ACCESS_WRITE;
	if (access.s1ptw)
		fail = write_access ? !w : !r;
	else if (access.type == S2_ACCESS_EXEC)
		fail = !s2w_exec_allowed(cfg->xnx, res->xn, access.el0);
	else if (write_access)
		fail = !w;
	else
		fail = !r;
	if (fail) {
		s2w_fault(res, S2_FAULT_PERMISSION, level);
		return 0;
	}

	/*
	 * Hardware updates, done only for an access that passed the checks (AArch64.S2Translate
	 * after the permission check; for an access that takes a permission fault, setting AF is
	 * CONSTRAINED UNPREDICTABLE, AArch64.SettingAccessFlagPermitted / Unpredictable_AFUPDATE,
	 * and this model takes the "not set" choice): AF (AArch64.SetAccessFlag) and, for a
	 * write through a DBM descriptor with HD, S2AP[1] (AArch64.SetDirtyState). One atomic
	 * update of the
	 * descriptor; if it changed meanwhile the whole walk is redone. Without a writer, AF is
	 * taken as set and the write allowed, with memory unchanged.
	 */
	if (!mem->cas64)
		return 0;
	newdesc = desc;
	if (cfg->ha && !res->af)
		newdesc |= S2_PTE_AF;
	if (write_access && s2w_hd(cfg) && res->dbm && !(res->s2ap & S2_S2AP_WO))
		newdesc |= S2_PTE_S2AP_W;
	if (newdesc == desc)
		return 0;
	ret = mem->cas64(mem->ctx, s2_pa(desc_pa), desc, newdesc);
	if (ret == S2_EAGAIN)
		return S2_EAGAIN;
	if (ret < 0) {
		/* The update write aborted: an external abort on the walk (its update). */
		s2w_fault(res, S2_FAULT_EXTERNAL_WALK, level);
		return 0;
	}
	res->pte = newdesc;
	res->af = true;
	res->s2ap = (uint8_t)S2_FIELD_GET(S2_PTE_S2AP, newdesc);
	res->hw_updated = true;
	return 0;
}

int s2_walk(const struct s2_config *cfg, s2_pa_t root, const struct s2_walk_mem *mem, s2_ipa_t ipa,
	    struct s2_access access, struct s2_walk_result *res)
{
	struct s2w_geom g;
	unsigned int tries;
	int ret;

	if (!cfg || !mem || !mem->read64 || !res)
		return S2_EINVAL;
	if (access.type != S2_ACCESS_READ && access.type != S2_ACCESS_WRITE &&
	    access.type != S2_ACCESS_EXEC)
		return S2_EINVAL;
	ret = s2w_geometry(cfg, &g);
	if (ret)
		return ret;
	/* VTTBR_EL2.BADDR must be aligned to the size of the concatenated initial table. */
	if (!g.sl_fault && !S2_IS_ALIGNED(s2_pa_val(root), g.root_bytes))
		return S2_EINVAL;

	for (tries = 0; tries < S2W_MAX_RETRIES; tries++) {
		ret = s2w_walk_once(cfg, &g, s2_pa_val(root), mem, s2_ipa_val(ipa), access, res);
		if (ret != S2_EAGAIN)
			return ret;
	}
	return S2_EAGAIN;
}

/* ---- TLB model ---------------------------------------------------------------------------- */
/*
 * A TLB holding stage-2-only translations, each covering one block or page (the Contiguous
 * hint is not used to widen entries). TLBI IPAS2E1IS with a TTL level hint invalidates only
 * entries of that level (D8.17, "TLB maintenance ... TTL": with a wrong hint the entries at
 * other levels are not required to go, and here they stay).
 */

void s2_tlb_init(struct s2_tlb_model *tlb, struct s2_tlb_entry *storage, unsigned int capacity)
{
	unsigned int i;

	if (!tlb)
		return;
	tlb->entries = storage;
	tlb->capacity = storage ? capacity : 0;
	tlb->next = 0;
	for (i = 0; i < tlb->capacity; i++)
		s2_memzero(&storage[i], sizeof(storage[i]));
}

static bool s2w_entry_covers(const struct s2_tlb_entry *e, uint16_t vmid, uint64_t ipa)
{
	return e->valid && e->vmid == vmid && ipa >= s2_ipa_val(e->ipa) &&
	       ipa - s2_ipa_val(e->ipa) < e->block_size;
}

void s2_tlb_fill(struct s2_tlb_model *tlb, uint16_t vmid, s2_ipa_t ipa,
		 const struct s2_walk_result *res)
{
	struct s2_tlb_entry *slot = NULL;
	bool perm_fault;
	uint64_t base;
	unsigned int i;

	if (!tlb || !res || !tlb->capacity || !res->block_size)
		return;
	/* Successful translations, and those that gave a permission fault (Arm ARM D8.17: a TLB
	 * may hold an entry whose permissions fault an access; not so for translation, access
	 * flag or address size faults). */
	if (res->fault != S2_FAULT_NONE && res->fault != S2_FAULT_PERMISSION)
		return;
	perm_fault = res->fault == S2_FAULT_PERMISSION;
	base = S2_ALIGN_DOWN(s2_ipa_val(ipa), res->block_size);

	/* The same translation again replaces its entry; anything else takes a new one, so an
	 * entry of another size over the same IPA (a stale one) stays visible. A permission
	 * fault and a success are kept apart (each is checked on its own terms). */
	for (i = 0; i < tlb->capacity && !slot; i++) {
		struct s2_tlb_entry *e = &tlb->entries[i];

		if (e->valid && e->vmid == vmid && s2_ipa_val(e->ipa) == base &&
		    e->block_size == res->block_size && e->perm_fault == perm_fault)
			slot = e;
	}
	for (i = 0; i < tlb->capacity && !slot; i++) {
		if (!tlb->entries[i].valid)
			slot = &tlb->entries[i];
	}
	if (!slot) {
		slot = &tlb->entries[tlb->next % tlb->capacity];
		tlb->next = (tlb->next + 1) % tlb->capacity;
	}

	slot->valid = true;
	slot->vmid = vmid;
	slot->ipa = s2_ipa(base);
	slot->block_size = res->block_size;
	slot->level = res->level;
	slot->pa = s2_pa(S2_ALIGN_DOWN(s2_pa_val(res->pa), res->block_size));
	slot->memattr = res->memattr;
	slot->s2ap = res->s2ap;
	slot->xn = res->xn;
	slot->af = res->af;
	slot->perm_fault = perm_fault;
	slot->access = res->access;
}

const struct s2_tlb_entry *s2_tlb_lookup(const struct s2_tlb_model *tlb, uint16_t vmid,
					 s2_ipa_t ipa)
{
	const struct s2_tlb_entry *best = NULL;
	unsigned int i;

	if (!tlb)
		return NULL;
	/* Several matches (a conflict on hardware): return the smallest. */
	for (i = 0; i < tlb->capacity; i++) {
		const struct s2_tlb_entry *e = &tlb->entries[i];

		if (s2w_entry_covers(e, vmid, s2_ipa_val(ipa)) &&
		    (!best || e->block_size < best->block_size))
			best = e;
	}
	return best;
}

void s2_tlbi_ipa(struct s2_tlb_model *tlb, uint16_t vmid, s2_ipa_t ipa, int level)
{
	unsigned int i;

	if (!tlb)
		return;
	for (i = 0; i < tlb->capacity; i++) {
		struct s2_tlb_entry *e = &tlb->entries[i];

		if (s2w_entry_covers(e, vmid, s2_ipa_val(ipa)) &&
		    (level == -2 || e->level == level))
			e->valid = false;
	}
}

void s2_tlbi_range(struct s2_tlb_model *tlb, uint16_t vmid, s2_ipa_t ipa, uint64_t size)
{
	uint64_t start = s2_ipa_val(ipa), last;
	unsigned int i;

	if (!tlb || !size)
		return;
	last = start + (size - 1);
	if (last < start)
		last = UINT64_MAX;
	for (i = 0; i < tlb->capacity; i++) {
		struct s2_tlb_entry *e = &tlb->entries[i];
		uint64_t e_last = s2_ipa_val(e->ipa) + (e->block_size - 1);

		if (e->valid && e->vmid == vmid && s2_ipa_val(e->ipa) <= last && e_last >= start)
			e->valid = false;
	}
}

void s2_tlbi_vmid(struct s2_tlb_model *tlb, uint16_t vmid)
{
	unsigned int i;

	if (!tlb)
		return;
	for (i = 0; i < tlb->capacity; i++) {
		if (tlb->entries[i].vmid == vmid)
			tlb->entries[i].valid = false;
	}
}

void s2_tlbi_all(struct s2_tlb_model *tlb)
{
	unsigned int i;

	if (!tlb)
		return;
	for (i = 0; i < tlb->capacity; i++)
		tlb->entries[i].valid = false;
}

/* Why @e no longer agrees with @now (a successful re-walk of e->ipa), or NULL. */
static const char *s2w_stale_reason(const struct s2_config *cfg, const struct s2_tlb_entry *e,
				    const struct s2_walk_result *now)
{
	if (now->fault != S2_FAULT_NONE)
		return "fault";
	if (now->block_size != e->block_size)
		return "block size";
	if (S2_ALIGN_DOWN(s2_pa_val(now->pa), now->block_size) != s2_pa_val(e->pa))
		return "output address";
	if (e->s2ap & ~now->s2ap)
		return "more permission";
	if ((s2w_exec_allowed(cfg->xnx, e->xn, false) &&
	     !s2w_exec_allowed(cfg->xnx, now->xn, false)) ||
	    (s2w_exec_allowed(cfg->xnx, e->xn, true) && !s2w_exec_allowed(cfg->xnx, now->xn, true)))
		return "execute permission";
	if (e->memattr != now->memattr)
		return "memory type";
	return NULL;
}

int s2_tlb_check(const struct s2_tlb_model *tlb, uint16_t vmid, const struct s2_config *cfg,
		 s2_pa_t root, const struct s2_walk_mem *mem, s2_tlb_stale_fn fn, void *arg)
{
	struct s2_walk_mem ro;
	struct s2_config walk_cfg;
	struct s2_access rd = { .type = S2_ACCESS_READ, .el0 = false, .s1ptw = false };
	unsigned int i;
	int stale = 0, ret;

	if (!tlb || !cfg || !mem || !mem->read64)
		return S2_EINVAL;
	/* Re-walk without a writer: the check never modifies memory. */
	ro = *mem;
	ro.cas64 = NULL;
	/*
	 * Clearing AF without TLB maintenance is allowed (a cached translation only means the
	 * access is not recorded; KVM's aging relies on it): re-walk as if HA were on, which
	 * without a writer takes AF as set, so an AF change alone is not reported.
	 */
	walk_cfg = *cfg;
	walk_cfg.ha = true;

	for (i = 0; i < tlb->capacity; i++) {
		const struct s2_tlb_entry *e = &tlb->entries[i];
		struct s2_tlb_stale st;
		const char *why;

		if (!e->valid || e->vmid != vmid)
			continue;
		if (e->perm_fault) {
			/*
			 * An entry that gave a permission fault is stale once the same access no
			 * longer takes one: the CPU holding it would fault again (KVM's local TLBI
			 * after relaxing permissions removes it).
			 */
			ret = s2_walk(&walk_cfg, root, &ro, e->ipa, e->access, &st.now);
			if (ret < 0)
				return ret;
			why = st.now.fault == S2_FAULT_PERMISSION ? NULL :
			      st.now.fault == S2_FAULT_NONE ? "permission fault no longer due" :
							      "fault";
		} else {
			ret = s2_walk(&walk_cfg, root, &ro, e->ipa, rd, &st.now);
			if (ret < 0)
				return ret;
			why = s2w_stale_reason(cfg, e, &st.now);
		}
		if (!why)
			continue;
		stale++;
		if (fn) {
			st.entry = *e;
			st.why = why;
			fn(arg, &st);
		}
	}
	return stale;
}
