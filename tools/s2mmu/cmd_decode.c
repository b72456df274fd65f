// SPDX-License-Identifier: MIT
/*
 * s2mmu decode - take apart an ESR_EL2 syndrome (s2_abort_decode, Arm ARM D19.2 ESR_EL2 with
 * the data/instruction abort ISS) or a stage-2 descriptor (s2_pte_decode, Arm ARM D8.3).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "names.h"

static const char s2_cli_decode_usage[] =
	"usage: s2mmu decode esr HEX [--far HEX] [--hpfar HEX] [--json]\n"
	"       s2mmu decode hpfar HEX [--far HEX] [--json]\n"
	"       s2mmu decode pte HEX --granule 4k|16k|64k --level L [--ds] [--fwb] [--json]\n"
	"       s2mmu decode vtcr HEX [--json]     (the same as: s2mmu vtcr --decode HEX)\n"
	"\n"
	"Register values (HEX) are hexadecimal, with or without 0x: 92000046 is 0x92000046.\n"
	"\n"
	"esr: take apart an ESR_EL2 value: the exception class of any exception, IL, ISS and\n"
	"     ISS2; for instruction and data aborts every field (fault code with its level,\n"
	"     including FEAT_LPA2 level -1 and granule-protection faults, WnR, S1PTW, CM, EA,\n"
	"     FnV, SET, VNCR, FnP, the instruction syndrome, the ISS2 flags).\n"
	"  --far HEX     FAR_EL2 (its low 12 bits complete the faulting IPA)\n"
	"  --hpfar HEX   HPFAR_EL2: print the faulting IPA\n"
	"hpfar: the faulting IPA page in an HPFAR_EL2 value (FIPA, bits [43:4], is IPA[51:12]).\n"
	"  --far HEX     FAR_EL2: add its page offset (bits [11:0]) to the IPA\n"
	"pte: decode a stage-2 descriptor found at a lookup level.\n"
	"  --granule G   translation granule: 4k, 16k or 64k\n"
	"  --level L     lookup level (decimal): -1 (4k with --ds) to 3\n"
	"  --ds          FEAT_LPA2 layout, VTCR_EL2.DS=1 (4k and 16k only)\n"
	"  --fwb         interpret MemAttr as with HCR_EL2.FWB=1 (FEAT_S2FWB)\n"
	"vtcr: take apart a VTCR_EL2 value and the geometry it implies (refused, with the\n"
	"     reason, when hardware would treat it as a misconfiguration).\n"
	"all:\n"
	"  --json        print one JSON object\n"
	"\n"
	"Exit status: 0 success, 2 bad input.\n";

enum {
	OPT_JSON,
	OPT_FAR,
	OPT_HPFAR,
	OPT_GRANULE,
	OPT_LEVEL,
	OPT_DS,
	OPT_FWB,
};

static const struct s2_cli_opt s2_cli_esr_opts[] = {
	{ "--json", false, OPT_JSON },
	{ "--far", true, OPT_FAR },
	{ "--hpfar", true, OPT_HPFAR },
	{ NULL, false, 0 },
};

static const struct s2_cli_opt s2_cli_pte_opts[] = {
	{ "--json", false, OPT_JSON },	{ "--granule", true, OPT_GRANULE },
	{ "--level", true, OPT_LEVEL }, { "--ds", false, OPT_DS },
	{ "--fwb", false, OPT_FWB },	{ NULL, false, 0 },
};

/* What `decode esr`, `decode hpfar` and `decode pte` were given. */
struct s2_cli_decode_args {
	uint64_t value; /* the one positional argument: the register or the descriptor */
	bool json;
	uint64_t far, hpfar;
	bool have_far, have_hpfar;
	struct s2_pte_format fmt; /* --granule (default 4k), --ds */
	bool have_granule;
	int64_t level;
	bool have_level;
	bool fwb;
};

/*
 * s2_cli_decode_parse() - the arguments of a decode subcommand: the options of @opts, and one
 * value, @what in messages ("ESR_EL2"), hexadecimal (s2_cli_register()). With @value_is_hpfar
 * the value is HPFAR_EL2 itself and --hpfar is refused. Return: 0, or S2_CLI_EXIT_USAGE after
 * printing why.
 */
static int s2_cli_decode_parse(struct s2_cli_parser *p, const struct s2_cli_opt *opts,
			       const char *what, bool value_is_hpfar, struct s2_cli_decode_args *a)
{
	const char *val, *arg = NULL;
	int id;

	memset(a, 0, sizeof(*a));
	a->fmt.granule = S2_GRANULE_4K;
	while ((id = s2_cli_next(p, opts, &val)) != S2_CLI_END) {
		switch (id) {
		case S2_CLI_BAD:
			return S2_CLI_EXIT_USAGE;
		case S2_CLI_POSITIONAL:
			if (arg) {
				s2_cli_error(p->cmd, "unexpected argument '%s' (try --help)", val);
				return S2_CLI_EXIT_USAGE;
			}
			arg = val;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_FAR:
			if (s2_cli_register(p->cmd, "--far", val, &a->far))
				return S2_CLI_EXIT_USAGE;
			a->have_far = true;
			break;
		case OPT_HPFAR:
			if (value_is_hpfar) {
				s2_cli_error(p->cmd,
					     "--hpfar: give the HPFAR_EL2 value as the argument");
				return S2_CLI_EXIT_USAGE;
			}
			if (s2_cli_register(p->cmd, "--hpfar", val, &a->hpfar))
				return S2_CLI_EXIT_USAGE;
			a->have_hpfar = true;
			break;
		case OPT_GRANULE:
			if (s2_cli_granule_parse(val, &a->fmt.granule)) {
				s2_cli_error(p->cmd, "--granule: '%s' is not 4k, 16k or 64k", val);
				return S2_CLI_EXIT_USAGE;
			}
			a->have_granule = true;
			break;
		case OPT_LEVEL:
			if (s2_cli_signed(p->cmd, "--level", val, S2_LEVEL_MIN, S2_LEVEL_MAX,
					  &a->level))
				return S2_CLI_EXIT_USAGE;
			a->have_level = true;
			break;
		case OPT_DS:
			a->fmt.ds = true;
			break;
		case OPT_FWB:
			a->fwb = true;
			break;
		}
	}
	if (!arg) {
		s2_cli_error(p->cmd, "missing the %s value (try --help)", what);
		return S2_CLI_EXIT_USAGE;
	}
	if (s2_cli_register(p->cmd, what, arg, &a->value))
		return S2_CLI_EXIT_USAGE;
	return 0;
}

/* ---- esr ------------------------------------------------------------------------------------ */

static const char *s2_cli_abort_class(uint32_t ec)
{
	switch (ec) {
	case S2_EC_DABT_LOW:
		return "data-abort-lower";
	case S2_EC_IABT_LOW:
		return "instruction-abort-lower";
	case S2_EC_DABT_CUR:
		return "data-abort-same";
	case S2_EC_IABT_CUR:
		return "instruction-abort-same";
	default:
		return "other";
	}
}

static void s2_cli_esr_json(const struct s2_esr_info *e, const struct s2_abort *a, bool have_far)
{
	struct s2_json j;

	s2_json_begin(&j, stdout);
	s2_json_hex(&j, "esr", e->esr);
	s2_json_u64(&j, "ec", e->ec);
	s2_json_str(&j, "class", s2_cli_abort_class(e->ec));
	s2_json_str(&j, "ec_name", s2_ec_name(e->ec));
	s2_json_bool(&j, "il", e->il);
	s2_json_hex(&j, "iss", e->iss);
	s2_json_hex(&j, "iss2", e->iss2);
	if (e->res0_hi)
		s2_json_hex(&j, "res0_bits", (uint64_t)e->res0_hi << 56);
	if (e->is_abort) {
		s2_json_str(&j, "fault", s2_fsc_type_name(e->fault.type));
		s2_json_u64(&j, "fsc", e->fsc);
		if (e->fault.has_level)
			s2_json_int(&j, "level", e->fault.level);
		else
			s2_json_null(&j, "level");
		s2_json_bool(&j, "wnr", e->wnr);
		s2_json_bool(&j, "s1ptw", e->s1ptw);
		s2_json_bool(&j, "cm", e->cm);
		s2_json_bool(&j, "fnv", e->fnv);
		s2_json_bool(&j, "ea", e->ea);
		if (e->set_valid)
			s2_json_str(&j, "set", s2_set_name(e->set));
		else
			s2_json_null(&j, "set");
		s2_json_bool(&j, "vncr", e->vncr);
		s2_json_bool(&j, "isv", e->isv);
		if (e->isv) {
			s2_json_u64(&j, "access_bytes", e->access_bytes);
			s2_json_bool(&j, "sign_extend", e->sse);
			s2_json_u64(&j, "reg", e->srt);
			s2_json_bool(&j, "reg64", e->sf);
			s2_json_bool(&j, "acqrel", e->ar);
		}
		if (e->fnp_valid)
			s2_json_bool(&j, "fnp", e->fnp);
		else
			s2_json_null(&j, "fnp");
		if (e->is_data) {
			s2_json_u64(&j, "xs", e->xs);
			s2_json_bool(&j, "dirty_bit", e->dirty_bit);
			s2_json_bool(&j, "overlay", e->overlay);
			s2_json_bool(&j, "assured_only", e->assured_only);
			s2_json_bool(&j, "gcs", e->gcs);
			s2_json_bool(&j, "tag_access", e->tag_access);
			s2_json_bool(&j, "tnd", e->tnd);
			s2_json_bool(&j, "hdbssf", e->hdbssf);
		}
		if (have_far)
			s2_json_hex(&j, "far", a->far);
		if (a->ipa_valid)
			s2_json_hex(&j, "ipa", s2_ipa_val(a->ipa));
	}
	s2_json_end(&j);
}

static void s2_cli_flag(const char *name, bool v, const char *meaning)
{
	printf("  %-13s %d%s%s%s\n", name, v, v && meaning ? " (" : "", v && meaning ? meaning : "",
	       v && meaning ? ")" : "");
}

static void s2_cli_esr_text(const struct s2_esr_info *e, const struct s2_abort *a, bool have_far)
{
	printf("ESR_EL2 0x%llx\n", (unsigned long long)e->esr);
	if (e->is_abort)
		printf("  ec            0x%02x %s [%s]\n", e->ec, s2_ec_name(e->ec),
		       s2_cli_abort_class(e->ec));
	else
		printf("  ec            0x%02x %s\n", e->ec, s2_ec_name(e->ec));
	printf("  il            %d (%s instruction)\n", e->il, e->il ? "32-bit" : "16-bit");
	printf("  iss           0x%07x\n", e->iss);
	printf("  iss2          0x%06x\n", e->iss2);
	if (e->res0_hi)
		printf("  res0          0x%llx (bits [63:56] are RES0: not a value hardware gives)\n",
		       (unsigned long long)e->res0_hi << 56);
	if (!e->is_abort) {
		printf("  (not an instruction or data abort: ISS not decoded)\n");
		return;
	}
	if (e->fault.has_level)
		printf("  fault         %s, level %d (fsc 0x%02x)\n",
		       s2_fsc_type_name(e->fault.type), e->fault.level, e->fsc);
	else
		printf("  fault         %s (fsc 0x%02x)\n", s2_fsc_type_name(e->fault.type),
		       e->fsc);
	if (e->is_data)
		printf("  wnr           %d (%s)\n", e->wnr, e->wnr ? "write" : "read");
	s2_cli_flag("s1ptw", e->s1ptw, "on a stage-1 table walk");
	if (e->is_data)
		s2_cli_flag("cm", e->cm, "cache maintenance");
	s2_cli_flag("fnv", e->fnv, "FAR not valid");
	s2_cli_flag("ea", e->ea, "external abort type");
	if (e->set_valid)
		printf("  set           %u %s\n", e->set, s2_set_name(e->set));
	if (!e->is_data)
		goto addr;
	s2_cli_flag("vncr", e->vncr, "access through VNCR_EL2, FEAT_NV2");
	printf("  isv           %d%s\n", e->isv, e->isv ? "" : " (no instruction syndrome)");
	if (e->isv) {
		printf("  access_bytes  %u\n", e->access_bytes);
		printf("  sign_extend   %d\n", e->sse);
		if (e->srt == 31)
			printf("  reg           31 (%czr)\n", e->sf ? 'x' : 'w');
		else
			printf("  reg           %u (%c%u)\n", e->srt, e->sf ? 'x' : 'w', e->srt);
		printf("  reg64         %d\n", e->sf);
		printf("  acqrel        %d\n", e->ar);
	} else {
		s2_cli_flag("fnp", e->fnp, "FAR not precise: any address in the aligned granule");
	}
	if (e->iss2) {
		if (e->xs)
			printf("  xs            %u (ST64BV status register)\n", e->xs);
		s2_cli_flag("dirty_bit", e->dirty_bit, "dirty-state permission fault");
		s2_cli_flag("overlay", e->overlay, "permission overlay fault");
		s2_cli_flag("assured_only", e->assured_only, "AssuredOnly fault, FEAT_THE");
		s2_cli_flag("gcs", e->gcs, "Guarded Control Stack access");
		s2_cli_flag("tag_access", e->tag_access, "NoTagAccess fault");
		s2_cli_flag("tnd", e->tnd, "Tag not Data");
		s2_cli_flag("hdbssf", e->hdbssf, "caused by the HDBSS");
	}
addr:
	if (have_far)
		printf("  far           0x%llx\n", (unsigned long long)a->far);
	if (a->ipa_valid)
		printf("  ipa           0x%llx\n", (unsigned long long)s2_ipa_val(a->ipa));
}

static int s2_cli_decode_esr(struct s2_cli_parser *p)
{
	struct s2_cli_decode_args args;
	struct s2_esr_info e;
	struct s2_abort a;
	int ret = s2_cli_decode_parse(p, s2_cli_esr_opts, "ESR_EL2", false, &args);

	if (ret)
		return ret;
	memset(&a, 0, sizeof(a));
	/* The full decoding, and the fault path's for the IPA (HPFAR + FAR offset rules). */
	if (s2_esr_describe(args.value, &e))
		return S2_CLI_EXIT_FAIL;
	if (s2_abort_decode(args.value, args.far, args.hpfar, args.have_hpfar, &a))
		a.ipa_valid = false;
	a.far = args.far;
	if (args.json)
		s2_cli_esr_json(&e, &a, args.have_far);
	else
		s2_cli_esr_text(&e, &a, args.have_far);
	return S2_CLI_EXIT_OK;
}

/* ---- hpfar ---------------------------------------------------------------------------------- */

/* HPFAR_EL2 (Arm ARM D19.2): FIPA [43:4] = IPA[51:12]; NS [63] (FEAT_SEL2); the rest RES0. */
#define S2_CLI_HPFAR_FIPA S2_GENMASK(43, 4)
#define S2_CLI_HPFAR_NS S2_BIT(63)

static int s2_cli_decode_hpfar(struct s2_cli_parser *p)
{
	struct s2_cli_decode_args args;
	uint64_t hpfar, page, res0;
	int ret = s2_cli_decode_parse(p, s2_cli_esr_opts, "HPFAR_EL2", true, &args);

	if (ret)
		return ret;
	hpfar = args.value;
	page = (hpfar & S2_CLI_HPFAR_FIPA) << 8;
	res0 = hpfar & ~(S2_CLI_HPFAR_FIPA | S2_CLI_HPFAR_NS);
	if (args.json) {
		struct s2_json j;

		s2_json_begin(&j, stdout);
		s2_json_hex(&j, "hpfar", hpfar);
		s2_json_hex(&j, "fipa", S2_FIELD_GET(S2_CLI_HPFAR_FIPA, hpfar));
		s2_json_bool(&j, "ns", hpfar & S2_CLI_HPFAR_NS);
		s2_json_hex(&j, "ipa_page", page);
		if (args.have_far) {
			s2_json_hex(&j, "far", args.far);
			s2_json_hex(&j, "ipa", page | (args.far & 0xfff));
		}
		if (res0)
			s2_json_hex(&j, "res0_bits", res0);
		s2_json_end(&j);
		return S2_CLI_EXIT_OK;
	}
	printf("HPFAR_EL2 0x%llx\n", (unsigned long long)hpfar);
	printf("  fipa          0x%llx (IPA[51:12])\n",
	       (unsigned long long)S2_FIELD_GET(S2_CLI_HPFAR_FIPA, hpfar));
	printf("  ns            %d\n", !!(hpfar & S2_CLI_HPFAR_NS));
	printf("  ipa_page      0x%llx\n", (unsigned long long)page);
	if (args.have_far)
		printf("  ipa           0x%llx (page | FAR[11:0])\n",
		       (unsigned long long)(page | (args.far & 0xfff)));
	if (res0)
		printf("  res0          0x%llx (RES0 bits set: not a value hardware gives)\n",
		       (unsigned long long)res0);
	return S2_CLI_EXIT_OK;
}

/* ---- pte ------------------------------------------------------------------------------------ */

static const char *s2_cli_kind_name(enum s2_pte_kind k)
{
	switch (k) {
	case S2_PTE_KIND_INVALID:
		return "invalid";
	case S2_PTE_KIND_TABLE:
		return "table";
	case S2_PTE_KIND_BLOCK:
		return "block";
	case S2_PTE_KIND_PAGE:
		return "page";
	case S2_PTE_KIND_RESERVED:
		return "reserved";
	}
	return "?";
}

static const char *s2_cli_s2ap_name(unsigned int s2ap)
{
	static const char *const names[] = { "none", "ro", "wo", "rw" };

	return names[s2ap & 3];
}

static const char *s2_cli_sh_name(unsigned int sh)
{
	static const char *const names[] = { "non", "reserved", "outer", "inner" };

	return names[sh & 3];
}

static const char *s2_cli_xn_name(unsigned int xn)
{
	/* Arm ARM D8.4.x, stage-2 XN[1:0] with FEAT_XNX; without it only XN[1] counts. */
	static const char *const names[] = { "exec", "el1-no-exec", "no-exec", "el0-no-exec" };

	return names[xn & 3];
}

/* Which fields a descriptor kind carries. */
static bool s2_cli_kind_has_attrs(enum s2_pte_kind k)
{
	return k == S2_PTE_KIND_BLOCK || k == S2_PTE_KIND_PAGE || k == S2_PTE_KIND_RESERVED;
}

static void s2_cli_pte_json(uint64_t pte, const struct s2_pte_format *fmt, int level, bool fwb,
			    const struct s2_pte_fields *f)
{
	struct s2_json j;

	s2_json_begin(&j, stdout);
	s2_json_hex(&j, "pte", pte);
	s2_json_str(&j, "granule", s2_granule_name(fmt->granule));
	s2_json_int(&j, "level", level);
	s2_json_bool(&j, "ds", fmt->ds);
	s2_json_bool(&j, "fwb", fwb);
	s2_json_str(&j, "kind", s2_cli_kind_name(f->kind));
	if (f->kind == S2_PTE_KIND_INVALID) {
		s2_json_u64(&j, "owner", f->owner);
	} else if (f->kind == S2_PTE_KIND_TABLE) {
		s2_json_hex(&j, "oa", s2_pa_val(f->oa));
	} else {
		s2_json_hex(&j, "oa", s2_pa_val(f->oa));
		s2_json_bin(&j, "memattr", f->memattr, 4);
		s2_json_str(&j, "memtype", s2_memtype_name(s2_memattr_type(f->memattr, fwb)));
		s2_json_str(&j, "s2ap", s2_cli_s2ap_name(f->s2ap));
		s2_json_u64(&j, "xn", f->xn);
		s2_json_u64(&j, "sh", f->sh);
		s2_json_bool(&j, "af", f->af);
		s2_json_bool(&j, "nt", f->nt);
		s2_json_bool(&j, "dbm", f->dbm);
		s2_json_bool(&j, "contig", f->contig);
		s2_json_u64(&j, "sw", f->sw);
		s2_json_u64(&j, "pbha", f->pbha);
	}
	s2_json_end(&j);
}

static void s2_cli_pte_text(uint64_t pte, const struct s2_pte_format *fmt, int level, bool fwb,
			    const struct s2_pte_fields *f)
{
	printf("descriptor 0x%016llx (%s granule, level %d%s%s)\n", (unsigned long long)pte,
	       s2_granule_name(fmt->granule), level, fmt->ds ? ", DS=1" : "", fwb ? ", FWB" : "");
	printf("  kind      %s\n", s2_cli_kind_name(f->kind));
	if (f->kind == S2_PTE_KIND_INVALID) {
		printf("  owner     %u%s\n", f->owner, f->owner ? "" : " (empty entry)");
		return;
	}
	printf("  oa        0x%llx%s\n", (unsigned long long)s2_pa_val(f->oa),
	       f->kind == S2_PTE_KIND_TABLE ? " (next-level table)" : "");
	if (!s2_cli_kind_has_attrs(f->kind))
		return;
	printf("  memattr   0b%u%u%u%u %s\n", (f->memattr >> 3) & 1, (f->memattr >> 2) & 1,
	       (f->memattr >> 1) & 1, f->memattr & 1,
	       s2_memtype_name(s2_memattr_type(f->memattr, fwb)));
	printf("  s2ap      %s\n", s2_cli_s2ap_name(f->s2ap));
	printf("  xn        %u (%s)\n", f->xn, s2_cli_xn_name(f->xn));
	if (fmt->ds)
		printf("  sh        - (from VTCR_EL2.SH0 with DS=1)\n");
	else
		printf("  sh        %u (%s)\n", f->sh, s2_cli_sh_name(f->sh));
	printf("  af        %d\n", f->af);
	printf("  nt        %d\n", f->nt);
	printf("  dbm       %d\n", f->dbm);
	printf("  contig    %d\n", f->contig);
	printf("  sw        0x%x\n", f->sw);
	printf("  pbha      0x%x\n", f->pbha);
}

static int s2_cli_decode_pte(struct s2_cli_parser *p)
{
	struct s2_cli_decode_args args;
	struct s2_pte_fields f;
	int ret = s2_cli_decode_parse(p, s2_cli_pte_opts, "descriptor", false, &args);

	if (ret)
		return ret;
	if (!args.have_granule) {
		s2_cli_error(p->cmd, "missing --granule (try --help)");
		return S2_CLI_EXIT_USAGE;
	}
	if (!args.have_level) {
		s2_cli_error(p->cmd, "missing --level (try --help)");
		return S2_CLI_EXIT_USAGE;
	}
	if (args.fmt.ds && args.fmt.granule == S2_GRANULE_64K) {
		s2_cli_error(p->cmd, "--ds applies to the 4k and 16k granules only");
		return S2_CLI_EXIT_USAGE;
	}
	/* Lowest level a walk can start at (Arm ARM D8.2): 4K L0 (L-1 with DS), 16K L0, 64K L1. */
	if (args.level == -1 && !(args.fmt.granule == S2_GRANULE_4K && args.fmt.ds)) {
		s2_cli_error(p->cmd, "--level -1 exists only with the 4k granule and --ds");
		return S2_CLI_EXIT_USAGE;
	}
	if (args.level == 0 && args.fmt.granule == S2_GRANULE_64K) {
		s2_cli_error(p->cmd, "--level 0 does not exist with the 64k granule");
		return S2_CLI_EXIT_USAGE;
	}

	memset(&f, 0, sizeof(f));
	s2_pte_decode(&args.fmt, (int)args.level, args.value, &f);
	if (args.json)
		s2_cli_pte_json(args.value, &args.fmt, (int)args.level, args.fwb, &f);
	else
		s2_cli_pte_text(args.value, &args.fmt, (int)args.level, args.fwb, &f);
	return S2_CLI_EXIT_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

S2_CLI_COMMAND(decode)
{
	static const struct s2_cli_opt no_opts[] = { { NULL, false, 0 } };
	struct s2_cli_parser p;
	const char *what;
	int id;

	if (s2_cli_wants_help(argc, argv)) {
		fputs(s2_cli_decode_usage, stdout);
		return S2_CLI_EXIT_OK;
	}
	/* The first argument says what to decode; the rest belongs to that decoder. */
	s2_cli_parser_init(&p, "decode", argc, argv);
	p.refuse_repeats = true;
	id = s2_cli_next(&p, no_opts, &what);
	if (id == S2_CLI_END) {
		s2_cli_error("decode", "say what to decode: esr, hpfar, pte or vtcr (try --help)");
		return S2_CLI_EXIT_USAGE;
	}
	if (id != S2_CLI_POSITIONAL)
		return S2_CLI_EXIT_USAGE;
	if (!strcmp(what, "help")) {
		fputs(s2_cli_decode_usage, stdout);
		return S2_CLI_EXIT_OK;
	}
	if (!strcasecmp(what, "esr")) {
		p.cmd = "decode esr";
		return s2_cli_decode_esr(&p);
	}
	if (!strcasecmp(what, "hpfar")) {
		p.cmd = "decode hpfar";
		return s2_cli_decode_hpfar(&p);
	}
	if (!strcasecmp(what, "pte")) {
		p.cmd = "decode pte";
		return s2_cli_decode_pte(&p);
	}
	if (!strcasecmp(what, "vtcr"))
		return s2_cli_decode_vtcr(argc - 1, argv + 1);
	s2_cli_error("decode", "unknown kind '%s': esr, hpfar, pte or vtcr", what);
	return S2_CLI_EXIT_USAGE;
}
