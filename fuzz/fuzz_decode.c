// SPDX-License-Identifier: MIT
/*
 * fuzz_decode.c - libFuzzer target for the arch layer's pure encoders and decoders.
 *
 * The first input byte picks an operation, the rest feeds it:
 *   0  decode an arbitrary descriptor in every granule, layout and level; re-encode it
 *   1  encode descriptor fields taken from the input; if accepted, decode gives them back
 *   2  decode an arbitrary VTCR_EL2; if accepted, its geometry obeys the architecture
 *   3  decode an arbitrary ESR/FAR/HPFAR; s2_fsc_encode inverts the fault it finds
 *   4  ID registers -> capabilities -> per-VM config, with invariants on the config
 *   5  stage-1/stage-2 attribute combination (FWB on and off)
 * Broken invariants call S2_BUG_ON (abort), which libFuzzer reports as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "s2mmu/arch.h"

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++) {
		v <<= 8;
		if (in->n) {
			v |= *in->p++;
			in->n--;
		}
	}
	return v;
}

static const struct s2_pte_format fmts[] = {
	{ S2_GRANULE_4K, false, false },  { S2_GRANULE_4K, true, false },
	{ S2_GRANULE_16K, false, false }, { S2_GRANULE_16K, true, false },
	{ S2_GRANULE_64K, false, false }, { S2_GRANULE_64K, false, true },
};

static bool fields_equal(const struct s2_pte_fields *a, const struct s2_pte_fields *b)
{
	return a->kind == b->kind && s2_pa_val(a->oa) == s2_pa_val(b->oa) &&
	       a->memattr == b->memattr && a->s2ap == b->s2ap && a->sh == b->sh && a->xn == b->xn &&
	       a->af == b->af && a->nt == b->nt && a->dbm == b->dbm && a->contig == b->contig &&
	       a->sw == b->sw && a->pbha == b->pbha && a->owner == b->owner;
}

static void fuzz_pte_decode(struct input *in)
{
	s2_pte_t pte = take(in, 8);

	for (size_t i = 0; i < S2_ARRAY_SIZE(fmts); i++) {
		const struct s2_pte_format *fmt = &fmts[i];

		for (int level = -2; level <= 4; level++) {
			struct s2_pte_fields f, g;
			s2_pte_t again, again2;
			bool level_ok = s2_level_shift(fmt->granule, level) != 0;
			int ret;

			s2_pte_decode(fmt, level, pte, &f);
			S2_BUG_ON(f.kind != s2_pte_kind_of(fmt, level, pte));
			S2_BUG_ON(f.kind == S2_PTE_KIND_INVALID && (pte & S2_PTE_VALID));
			S2_BUG_ON(f.kind != S2_PTE_KIND_INVALID && !(pte & S2_PTE_VALID));
			if (f.kind == S2_PTE_KIND_RESERVED)
				continue;
			ret = s2_pte_encode(fmt, level, &f, &again);
			if (!level_ok) {
				S2_BUG_ON(ret != S2_EINVAL);
				continue;
			}
			S2_BUG_ON(ret != 0);
			/* Re-encoding keeps a subset of the bits, and is then stable. */
			S2_BUG_ON(again & ~pte);
			s2_pte_decode(fmt, level, again, &g);
			S2_BUG_ON(!fields_equal(&f, &g));
			S2_BUG_ON(s2_pte_encode(fmt, level, &g, &again2) != 0);
			S2_BUG_ON(again != again2);
			if (f.kind != S2_PTE_KIND_INVALID)
				S2_BUG_ON(s2_pa_val(s2_pte_oa(fmt, level, pte)) != s2_pa_val(f.oa));
		}
	}
}

static void fuzz_pte_encode(struct input *in)
{
	const struct s2_pte_format *fmt = &fmts[take(in, 1) % S2_ARRAY_SIZE(fmts)];
	int level = (int)(take(in, 1) % 7) - 2;
	struct s2_pte_fields f = {
		.kind = (enum s2_pte_kind)(take(in, 1) % 6),
		.oa = { take(in, 8) },
		.memattr = (uint8_t)take(in, 1),
		.s2ap = (uint8_t)take(in, 1),
		.sh = (uint8_t)take(in, 1),
		.xn = (uint8_t)take(in, 1),
		.sw = (uint8_t)take(in, 1),
		.pbha = (uint8_t)take(in, 1),
		.owner = (uint8_t)take(in, 1),
	};
	uint64_t flags = take(in, 1);
	struct s2_pte_fields g;
	s2_pte_t pte = 0;
	int ret;

	f.af = flags & 1;
	f.nt = flags & 2;
	f.dbm = flags & 4;
	f.contig = flags & 8;
	/* Half the time, make the address and fields plausible so encoding succeeds. */
	if (flags & 0x10) {
		unsigned int shift = f.kind == S2_PTE_KIND_BLOCK ?
					     s2_level_shift(fmt->granule, level) :
					     s2_granule_shift(fmt->granule);
		unsigned int top = (fmt->ds && fmt->granule != S2_GRANULE_64K) ||
						   (fmt->lpa && fmt->granule == S2_GRANULE_64K) ?
					   51 :
					   47;

		if (shift && shift <= top)
			f.oa = s2_pa(s2_pa_val(f.oa) & S2_GENMASK(top, shift));
		f.memattr &= 15;
		f.s2ap &= 3;
		f.sh &= 3;
		f.xn &= 3;
		f.sw &= 15;
		f.pbha &= 15;
	}
	ret = s2_pte_encode(fmt, level, &f, &pte);
	S2_BUG_ON(ret != 0 && ret != S2_EINVAL && ret != S2_EALIGN && ret != S2_ERANGE);
	if (ret)
		return;
	s2_pte_decode(fmt, level, pte, &g);
	S2_BUG_ON(!fields_equal(&f, &g));
	S2_BUG_ON(s2_pte_kind_of(fmt, level, pte) != f.kind);
}

/* AArch64.S2InconsistentSL, restated. */
static bool sl_consistent(unsigned int ia, unsigned int granulebits, int startlevel)
{
	int levels = 3 - startlevel;
	int stride = (int)granulebits - 3;
	int min = levels * stride + (int)granulebits + 1;

	return (int)ia >= min && (int)ia <= min + stride - 1 + 4;
}

static void fuzz_vtcr(struct input *in)
{
	uint64_t vtcr = take(in, 8);
	struct s2_vtcr_fields f;

	const char *why = s2_vtcr_invalid_reason(vtcr);

	if (s2_vtcr_decode(vtcr, &f)) {
		S2_BUG_ON(!why || !*why);
		return;
	}
	S2_BUG_ON(why != NULL);
	S2_BUG_ON(f.ipa_bits > f.pa_bits);
	/* 1 level: 16K/64K with SL0=0 (start at L3) is legal for small IPAs. */
	S2_BUG_ON(f.levels < 1 || f.levels > 5);
	S2_BUG_ON((int)f.levels != 4 - f.start_level);
	S2_BUG_ON(f.root_tables < 1 || f.root_tables > 16);
	S2_BUG_ON(f.ipa_bits != 64 - f.t0sz);
	S2_BUG_ON(!sl_consistent(f.ipa_bits, s2_granule_shift(f.granule), f.start_level));
	S2_BUG_ON(s2_level_shift(f.granule, f.start_level) == 0);
	S2_BUG_ON(f.root_table_bytes != (uint64_t)f.root_tables * s2_granule_size(f.granule));
	S2_BUG_ON(s2_bits_to_parange(f.pa_bits) != (int)f.ps);
}

static void fuzz_esr(struct input *in)
{
	uint64_t esr = take(in, 8), far = take(in, 8), hpfar = take(in, 8);
	bool have = take(in, 1) & 1;
	struct s2_abort a;
	struct s2_esr_info e;
	int ret = s2_abort_decode(esr, far, hpfar, have, &a);

	S2_BUG_ON(a.ec != ((esr >> 26) & 0x3f));
	/* The full decoder agrees with the fault path's wherever both say something. */
	S2_BUG_ON(s2_esr_describe(esr, &e) != 0);
	S2_BUG_ON(e.ec != a.ec || e.il != a.il || e.is_abort != !ret);
	S2_BUG_ON(!s2_ec_name(e.ec) || !*s2_ec_name(e.ec));
	S2_BUG_ON(e.iss != (esr & 0x1ffffff) || e.iss2 != ((esr >> 32) & 0xffffff));
	if (ret) {
		S2_BUG_ON(ret != S2_EINVAL || a.is_data || a.is_insn);
		return;
	}
	S2_BUG_ON(e.is_data != a.is_data || e.wnr != a.wnr || e.cm != a.cm || e.isv != a.isv);
	S2_BUG_ON(e.s1ptw != a.s1ptw || e.fnv != a.fnv || e.ea != a.ea || e.fsc != a.fsc);
	S2_BUG_ON(e.fault.level < -2 || e.fault.level > 3);
	S2_BUG_ON(e.fault.has_level && e.fault.level >= -1 && a.fault != S2_FAULT_OTHER &&
		  e.fault.level != a.level);
	S2_BUG_ON(e.isv && (e.access_bytes != a.access_bytes || e.srt != a.reg));
	S2_BUG_ON(e.fnp_valid != (e.is_data && !e.isv));
	S2_BUG_ON(a.is_data == a.is_insn);
	S2_BUG_ON(a.level < -1 || a.level > 3);
	S2_BUG_ON(a.fsc != (esr & 0x3f));
	S2_BUG_ON(a.fault == S2_FAULT_NONE || a.fault > S2_FAULT_OTHER);
	S2_BUG_ON(a.isv && a.access_bytes != 1u << ((esr >> 22) & 3));
	S2_BUG_ON(!a.isv && (a.access_bytes || a.reg));
	S2_BUG_ON(a.is_insn && (a.isv || a.wnr || a.cm));
	S2_BUG_ON(a.ipa_valid != have);
	if (have) {
		S2_BUG_ON((s2_ipa_val(a.ipa) & 0xfff) != (a.fnv || a.s1ptw ? 0 : (far & 0xfff)));
		S2_BUG_ON(s2_ipa_val(a.ipa) >> 52);
	}
	int code = s2_fsc_encode(a.fault, a.level);
	if (code >= 0) {
		struct s2_abort b;

		S2_BUG_ON(s2_abort_decode((esr & ~UINT64_C(0x3f)) | (unsigned int)code, far, hpfar,
					  have, &b) != 0);
		S2_BUG_ON(b.fault != a.fault || b.level != a.level);
	} else {
		S2_BUG_ON(a.fault != S2_FAULT_OTHER);
	}
}

static void fuzz_config(struct input *in)
{
	struct s2_idregs r = {
		.mmfr0 = take(in, 8),
		.mmfr1 = take(in, 8),
		.mmfr2 = take(in, 8),
		.pfr1 = take(in, 8),
		.ctr = take(in, 8),
	};
	struct s2_config_req req = {
		.ipa_bits = (unsigned int)take(in, 1) % 64,
		.granule = (enum s2_granule)(take(in, 1) % 4),
		.vmid_bits = (unsigned int)take(in, 1) % 20,
		.flags = take(in, 1) & 0x1f,
	};
	struct s2_caps caps;
	struct s2_config cfg;
	struct s2_vtcr_fields f;
	int ret;

	if (s2_caps_from_idregs(&r, &caps))
		return;
	S2_BUG_ON(s2_bits_to_parange(caps.pa_bits) < 0);
	S2_BUG_ON(caps.vmid_bits != 8 && caps.vmid_bits != 16);
	S2_BUG_ON(caps.hafdbs > 2);
	ret = s2_config_init(&cfg, &caps, &req);
	if (ret) {
		S2_BUG_ON(ret != S2_EINVAL && ret != S2_EGRANULE && ret != S2_EIPA_TOO_SMALL &&
			  ret != S2_EIPA_TOO_BIG && ret != S2_ENO52BIT && ret != S2_EVMID &&
			  ret != S2_ENOTSUP);
		return;
	}
	S2_BUG_ON(caps.gran[req.granule] == S2_GRAN_NONE);
	S2_BUG_ON(cfg.ipa_bits < 32 || cfg.ipa_bits > cfg.pa_bits || cfg.pa_bits > caps.pa_bits);
	S2_BUG_ON(cfg.levels < 2 || (int)cfg.levels != 4 - cfg.start_level);
	S2_BUG_ON(cfg.root_tables < 1 || cfg.root_tables > S2_MAX_CONCAT);
	S2_BUG_ON(cfg.root_table_bytes != (uint64_t)cfg.root_tables << cfg.page_shift);
	S2_BUG_ON(!sl_consistent(cfg.ipa_bits, cfg.page_shift, cfg.start_level));
	S2_BUG_ON(cfg.levels > 2 &&
		  sl_consistent(cfg.ipa_bits, cfg.page_shift, cfg.start_level + 1));
	S2_BUG_ON(((uint64_t)cfg.root_entries << s2_level_shift(cfg.granule, cfg.start_level)) !=
		  UINT64_C(1) << cfg.ipa_bits);
	S2_BUG_ON(cfg.ds &&
		  (cfg.granule == S2_GRANULE_64K || caps.gran[cfg.granule] != S2_GRAN_52));
	S2_BUG_ON(cfg.lpa && cfg.granule != S2_GRANULE_64K);
	S2_BUG_ON(cfg.hd && !cfg.ha);
	S2_BUG_ON(cfg.vmid_bits > caps.vmid_bits);
	S2_BUG_ON(s2_vtcr_decode(cfg.vtcr, &f) != 0);
	S2_BUG_ON(f.ipa_bits != cfg.ipa_bits || f.start_level != cfg.start_level ||
		  f.root_tables != cfg.root_tables || f.pa_bits != cfg.pa_bits ||
		  f.granule != cfg.granule || f.ds != cfg.ds || f.vs != (cfg.vmid_bits == 16) ||
		  f.ha != cfg.ha || f.hd != cfg.hd);
	for (int level = -1; level <= 3; level++)
		S2_BUG_ON(s2_config_level_has_blocks(&cfg, level) !=
			  s2_level_has_blocks(cfg.granule, level, cfg.ds, cfg.lpa));

	/* VTTBR: aligned roots within the output size are accepted, others refused. */
	uint64_t root = take(in, 8) & (cfg.pa_bits < 64 ? S2_GENMASK(cfg.pa_bits - 1, 0) : ~0ull);
	uint16_t vmid = (uint16_t)take(in, 2);
	uint64_t vttbr = 0x5a5a;
	int vret = s2_vttbr(&cfg, s2_pa(root), vmid, &vttbr);
	bool ok =
		S2_IS_ALIGNED(root, cfg.root_table_bytes) && (cfg.vmid_bits == 16 || vmid <= 0xff);
	S2_BUG_ON(vret != (ok ? 0 : S2_EINVAL));
	if (!vret) {
		S2_BUG_ON((vttbr >> 48) != vmid);
		S2_BUG_ON(vttbr & 1);
	} else {
		S2_BUG_ON(vttbr != 0x5a5a);
	}
}

static void fuzz_combine(struct input *in)
{
	uint64_t v = take(in, 2);
	struct s2_memattrs s1 = {
		.device = v & 1,
		.device_type = (enum s2_memtype)((v >> 1) & 3),
		.inner = (enum s2_cacheability)(((v >> 3) & 3) % 3),
		.outer = (enum s2_cacheability)(((v >> 5) & 3) % 3),
	};
	uint8_t memattr = (uint8_t)((v >> 8) & 15);
	bool fwb = v & 0x1000;
	struct s2_memattrs r = s2_combine_s1s2(s1, memattr, fwb);
	struct s2_memattrs s2 = s2_memattrs_from_stage2(memattr, fwb);

	if (r.device) {
		S2_BUG_ON(r.device_type > S2_MT_DEVICE_GRE);
		/* Never less restrictive than a Device stage 1, unless FWB forces WB. */
		S2_BUG_ON(s1.device && r.device_type > s1.device_type);
	} else {
		S2_BUG_ON(r.inner > S2_CACHE_WB || r.outer > S2_CACHE_WB);
		if (!fwb) {
			S2_BUG_ON(s1.device || s2.device);
			S2_BUG_ON(r.inner > s1.inner || r.outer > s1.outer);
		}
	}
	(void)s2_memattr_type(memattr, fwb);
	(void)s2_memtype_name(s2_memattr_type(memattr, fwb));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	if (!size)
		return 0;
	switch (take(&in, 1) % 6) {
	case 0:
		fuzz_pte_decode(&in);
		break;
	case 1:
		fuzz_pte_encode(&in);
		break;
	case 2:
		fuzz_vtcr(&in);
		break;
	case 3:
		fuzz_esr(&in);
		break;
	case 4:
		fuzz_config(&in);
		break;
	default:
		fuzz_combine(&in);
		break;
	}
	return 0;
}
