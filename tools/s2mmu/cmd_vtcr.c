// SPDX-License-Identifier: MIT
/*
 * s2mmu vtcr - compute VTCR_EL2 for a VM (s2_config_init) or take a VTCR value apart
 * (s2_vtcr_decode). Field layout: Arm ARM D19.2, VTCR_EL2.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include "names.h"

static const char s2_cli_vtcr_usage[] =
	"usage: s2mmu vtcr --pa-bits N --ipa-bits N --granule 4k|16k|64k [options] [--json]\n"
	"       s2mmu vtcr --mmfr0 HEX [--mmfr1 HEX] [--mmfr2 HEX] [--pfr1 HEX] [--ctr HEX]\n"
	"                  --ipa-bits N --granule 4k|16k|64k [options] [--json]\n"
	"       s2mmu vtcr --decode HEX [--json]     (also: s2mmu decode vtcr HEX)\n"
	"\n"
	"Register values (HEX) are hexadecimal, with or without 0x; bit counts (N) are decimal.\n"
	"\n"
	"Compute the VTCR_EL2 value and translation geometry of a VM, or decode a VTCR_EL2 value.\n"
	"\n"
	"host capabilities (one of):\n"
	"  --pa-bits N       a host with an N-bit PARange (32, 36, 40, 42, 44, 48, 52) and every\n"
	"                    stage-2 feature (all granules, 16-bit VMIDs, HA/HD, FWB, MTE)\n"
	"  --mmfr0 HEX       ID_AA64MMFR0_EL1 (PARange, TGranX_2); with it, optionally:\n"
	"  --mmfr1 HEX       ID_AA64MMFR1_EL1 (HAFDBS, VMIDBits, XNX); default 0\n"
	"  --mmfr2 HEX       ID_AA64MMFR2_EL1 (FWB, BBM); default 0\n"
	"  --pfr1 HEX        ID_AA64PFR1_EL1 (MTE); default 0\n"
	"  --ctr HEX         CTR_EL0 (IDC, DIC); default 0\n"
	"the VM's request:\n"
	"  --ipa-bits N      IPA size in bits (32..52, at most the host's PA size)\n"
	"  --granule G       translation granule: 4k, 16k or 64k\n"
	"  --vmid-bits N     8 or 16 (default: the widest the host has)\n"
	"  --ha              hardware access-flag updates (VTCR_EL2.HA)\n"
	"  --hd              hardware dirty-state updates (VTCR_EL2.HD, needs --ha)\n"
	"  --fwb             run the VM with HCR_EL2.FWB=1 (FEAT_S2FWB)\n"
	"  --mte             the VM uses MTE\n"
	"output:\n"
	"  --decode HEX      decode this VTCR_EL2 value instead of computing one\n"
	"  --json            print one JSON object\n"
	"\n"
	"Exit status: 0 success, 2 bad input or a request the host cannot satisfy.\n";

enum {
	OPT_PA_BITS,
	OPT_IPA_BITS,
	OPT_GRANULE,
	OPT_VMID_BITS,
	OPT_HA,
	OPT_HD,
	OPT_FWB,
	OPT_MTE,
	OPT_JSON,
	OPT_DECODE,
	OPT_MMFR0,
	OPT_MMFR1,
	OPT_MMFR2,
	OPT_PFR1,
	OPT_CTR,
};

static const struct s2_cli_opt s2_cli_vtcr_opts[] = {
	{ "--pa-bits", true, OPT_PA_BITS }, { "--ipa-bits", true, OPT_IPA_BITS },
	{ "--granule", true, OPT_GRANULE }, { "--vmid-bits", true, OPT_VMID_BITS },
	{ "--ha", false, OPT_HA },	    { "--hd", false, OPT_HD },
	{ "--fwb", false, OPT_FWB },	    { "--mte", false, OPT_MTE },
	{ "--json", false, OPT_JSON },	    { "--decode", true, OPT_DECODE },
	{ "--mmfr0", true, OPT_MMFR0 },	    { "--mmfr1", true, OPT_MMFR1 },
	{ "--mmfr2", true, OPT_MMFR2 },	    { "--pfr1", true, OPT_PFR1 },
	{ "--ctr", true, OPT_CTR },	    { NULL, false, 0 },
};

/* What the command line asked for. */
struct s2_cli_vtcr_args {
	bool json;
	bool have_pa, have_ipa, have_granule, have_decode, have_idregs;
	bool have_other_idregs; /* --mmfr1/--mmfr2/--pfr1/--ctr */
	unsigned int pa_bits;
	uint64_t decode;
	struct s2_idregs idregs;
	struct s2_config_req req;
	const char *request_opt; /* a request option, to name it when mixed with --decode */
};

static const char *const s2_cli_irgn_names[] = {
	"non-cacheable",
	"write-back write-allocate",
	"write-through",
	"write-back no write-allocate",
};

static const char *const s2_cli_sh_names[] = {
	"non-shareable",
	"reserved",
	"outer shareable",
	"inner shareable",
};

static const char *s2_cli_tgran_name(enum s2_granule g)
{
	return g == S2_GRANULE_4K ? "TGran4_2" : g == S2_GRANULE_16K ? "TGran16_2" : "TGran64_2";
}

/* Descriptors the IPA space uses at the start level, over all concatenated root tables. */
static unsigned int s2_cli_root_entries(enum s2_granule g, unsigned int ipa_bits, int start_level)
{
	unsigned int shift = s2_level_shift(g, start_level);

	return ipa_bits > shift && ipa_bits - shift < 32 ? 1u << (ipa_bits - shift) : 0;
}

/* ---- output --------------------------------------------------------------------------------- */

/* The geometry printed, from a config (compute) or from the decoded VTCR (--decode). */
struct s2_cli_vtcr_view {
	uint64_t vtcr;
	struct s2_vtcr_fields f;
	unsigned int vmid_bits;
	unsigned int block_levels; /* bit (level + 1) */
	unsigned int root_entries;
	bool lpa;
	bool have_cfg; /* computed: fwb/mte/xnx are known */
	bool fwb, mte, xnx;
};

static void s2_cli_vtcr_json(const struct s2_cli_vtcr_view *v)
{
	const struct s2_vtcr_fields *f = &v->f;
	struct s2_json j;

	s2_json_begin(&j, stdout);
	s2_json_hex(&j, "vtcr", v->vtcr);
	s2_json_u64(&j, "t0sz", f->t0sz);
	s2_json_u64(&j, "sl0", f->sl0);
	s2_json_u64(&j, "sl2", f->sl2);
	s2_json_u64(&j, "ds", f->ds);
	s2_json_u64(&j, "irgn0", f->irgn0);
	s2_json_u64(&j, "orgn0", f->orgn0);
	s2_json_u64(&j, "sh0", f->sh0);
	s2_json_u64(&j, "tg0", f->tg0);
	s2_json_u64(&j, "ps", f->ps);
	s2_json_u64(&j, "vs", f->vs);
	s2_json_u64(&j, "ha", f->ha);
	s2_json_u64(&j, "hd", f->hd);
	s2_json_str(&j, "granule", s2_granule_name(f->granule));
	s2_json_u64(&j, "ipa_bits", f->ipa_bits);
	s2_json_u64(&j, "pa_bits", f->pa_bits);
	s2_json_int(&j, "start_level", f->start_level);
	s2_json_u64(&j, "levels", f->levels);
	s2_json_u64(&j, "root_tables", f->root_tables);
	s2_json_u64(&j, "root_entries", v->root_entries);
	s2_json_u64(&j, "root_table_bytes", f->root_table_bytes);
	s2_json_u64(&j, "vmid_bits", v->vmid_bits);
	s2_json_array_begin(&j, "block_levels");
	for (int l = S2_LEVEL_MIN; l <= S2_LEVEL_MAX; l++)
		if (v->block_levels & (1u << (l + 1)))
			s2_json_int(&j, NULL, l);
	s2_json_array_end(&j);
	s2_json_bool(&j, "lpa", v->lpa);
	if (v->have_cfg) {
		s2_json_bool(&j, "fwb", v->fwb);
		s2_json_bool(&j, "mte", v->mte);
		s2_json_bool(&j, "xnx", v->xnx);
	}
	s2_json_end(&j);
}

static void s2_cli_vtcr_text(const struct s2_cli_vtcr_view *v)
{
	const struct s2_vtcr_fields *f = &v->f;

	printf("VTCR_EL2 0x%016llx\n", (unsigned long long)v->vtcr);
	printf("  t0sz   %-3u %u-bit IPA space\n", f->t0sz, f->ipa_bits);
	printf("  sl0    %-3u start level %d (with tg0%s)\n", f->sl0, f->start_level,
	       f->ds ? ", sl2" : "");
	printf("  irgn0  %-3u inner %s\n", f->irgn0, s2_cli_irgn_names[f->irgn0 & 3]);
	printf("  orgn0  %-3u outer %s\n", f->orgn0, s2_cli_irgn_names[f->orgn0 & 3]);
	printf("  sh0    %-3u %s\n", f->sh0, s2_cli_sh_names[f->sh0 & 3]);
	printf("  tg0    %-3u %s granule\n", f->tg0, s2_granule_name(f->granule));
	printf("  ps     %-3u %u-bit output addresses\n", f->ps, f->pa_bits);
	printf("  vs     %-3u %u-bit VMID\n", f->vs, v->vmid_bits);
	printf("  ha     %-3u hardware access flag %s\n", f->ha, f->ha ? "on" : "off");
	printf("  hd     %-3u hardware dirty state %s\n", f->hd, f->hd ? "on" : "off");
	printf("  ds     %-3u %s descriptor layout\n", f->ds,
	       f->ds  ? "52-bit (FEAT_LPA2)" :
	       v->lpa ? "52-bit (FEAT_LPA, 64k)" :
			"48-bit");
	printf("  sl2    %u%s\n", f->sl2, f->sl2 ? "   start level -1 (with sl0)" : "");
	printf("translation\n");
	printf("  granule           %s\n", s2_granule_name(f->granule));
	printf("  ipa_bits          %u\n", f->ipa_bits);
	printf("  pa_bits           %u\n", f->pa_bits);
	printf("  start_level       %d\n", f->start_level);
	printf("  levels            %u\n", f->levels);
	printf("  root_tables       %u (%u entries)\n", f->root_tables, v->root_entries);
	printf("  root_table_bytes  %llu (also the root's alignment)\n",
	       (unsigned long long)f->root_table_bytes);
	printf("  block_levels     ");
	for (int l = S2_LEVEL_MIN; l <= S2_LEVEL_MAX; l++)
		if (v->block_levels & (1u << (l + 1)))
			printf(" %d", l);
	printf("\n");
	if (v->have_cfg) {
		printf("  fwb               %s\n", v->fwb ? "yes" : "no");
		printf("  mte               %s\n", v->mte ? "yes" : "no");
		printf("  xnx               %s\n", v->xnx ? "yes" : "no");
	}
}

static void s2_cli_vtcr_print(const struct s2_cli_vtcr_view *v, bool json)
{
	if (json)
		s2_cli_vtcr_json(v);
	else
		s2_cli_vtcr_text(v);
}

/* ---- --decode ------------------------------------------------------------------------------- */

static int s2_cli_vtcr_decode(uint64_t vtcr, bool json, const char *cmd)
{
	struct s2_cli_vtcr_view v = { .vtcr = vtcr };
	const char *why = s2_vtcr_invalid_reason(vtcr);

	if (why || s2_vtcr_decode(vtcr, &v.f)) {
		s2_cli_error(
			cmd,
			"0x%llx (T0SZ %llu, SL0 %llu, TG0 %llu, PS %llu, DS %llu, SL2 %llu) is "
			"not a valid stage-2 VTCR_EL2 value: %s",
			(unsigned long long)vtcr,
			(unsigned long long)S2_FIELD_GET(S2_VTCR_T0SZ, vtcr),
			(unsigned long long)S2_FIELD_GET(S2_VTCR_SL0, vtcr),
			(unsigned long long)S2_FIELD_GET(S2_VTCR_TG0, vtcr),
			(unsigned long long)S2_FIELD_GET(S2_VTCR_PS, vtcr),
			(unsigned long long)S2_FIELD_GET(S2_VTCR_DS, vtcr),
			(unsigned long long)S2_FIELD_GET(S2_VTCR_SL2, vtcr), why ? why : "refused");
		return S2_CLI_EXIT_USAGE;
	}
	v.vmid_bits = v.f.vs ? 16 : 8;
	v.lpa = v.f.granule == S2_GRANULE_64K && v.f.pa_bits == 52;
	v.root_entries = s2_cli_root_entries(v.f.granule, v.f.ipa_bits, v.f.start_level);
	for (int l = v.f.start_level; l <= S2_LEVEL_MAX; l++)
		if (s2_level_has_blocks(v.f.granule, l, v.f.ds, v.lpa))
			v.block_levels |= 1u << (l + 1);
	s2_cli_vtcr_print(&v, json);
	return S2_CLI_EXIT_OK;
}

int s2_cli_decode_vtcr(int argc, char **argv)
{
	static const struct s2_cli_opt opts[] = { { "--json", false, OPT_JSON },
						  { NULL, false, 0 } };
	const char *cmd = "decode vtcr", *val, *arg = NULL;
	struct s2_cli_parser p;
	bool json = false;
	uint64_t vtcr;
	int id;

	s2_cli_parser_init(&p, cmd, argc, argv);
	p.refuse_repeats = true;
	while ((id = s2_cli_next(&p, opts, &val)) != S2_CLI_END) {
		if (id == S2_CLI_BAD)
			return S2_CLI_EXIT_USAGE;
		if (id == OPT_JSON) {
			json = true;
			continue;
		}
		if (arg) {
			s2_cli_error(cmd, "unexpected argument '%s' (try --help)", val);
			return S2_CLI_EXIT_USAGE;
		}
		arg = val;
	}
	if (!arg) {
		s2_cli_error(cmd, "missing the VTCR_EL2 value (try --help)");
		return S2_CLI_EXIT_USAGE;
	}
	if (s2_cli_register(cmd, "VTCR_EL2", arg, &vtcr))
		return S2_CLI_EXIT_USAGE;
	return s2_cli_vtcr_decode(vtcr, json, cmd);
}

/* ---- compute --------------------------------------------------------------------------------- */

/* The reason s2_config_init() refused, in the terms of the command line. */
static void s2_cli_vtcr_refused(int err, const struct s2_caps *caps,
				const struct s2_config_req *req)
{
	const char *g = s2_granule_name(req->granule);
	char detail[160];

	switch (err) {
	case S2_EIPA_TOO_BIG:
		if (req->ipa_bits > 52)
			snprintf(detail, sizeof(detail), "%u-bit IPA is above the 52-bit maximum",
				 req->ipa_bits);
		else
			snprintf(detail, sizeof(detail), "%u-bit IPA on a %u-bit PA host",
				 req->ipa_bits, caps->pa_bits);
		break;
	case S2_EIPA_TOO_SMALL:
		snprintf(detail, sizeof(detail), "%u-bit IPA requested, the minimum is 32",
			 req->ipa_bits);
		break;
	case S2_EGRANULE:
		snprintf(detail, sizeof(detail),
			 "the host has no %s granule at stage 2 (ID_AA64MMFR0_EL1.%s)", g,
			 s2_cli_tgran_name(req->granule));
		break;
	case S2_ENO52BIT:
		snprintf(detail, sizeof(detail), "52-bit IPA with the %s granule needs %s", g,
			 req->granule == S2_GRANULE_64K ? "FEAT_LPA" : "FEAT_LPA2");
		break;
	case S2_EVMID:
		snprintf(detail, sizeof(detail), "%u-bit VMIDs requested, the host has %u-bit",
			 req->vmid_bits, caps->vmid_bits);
		break;
	case S2_ENOTSUP:
		if ((req->flags & S2_CFG_HA) && caps->hafdbs < 1)
			snprintf(detail, sizeof(detail), "--ha needs FEAT_HAFDBS (host HAFDBS=%u)",
				 caps->hafdbs);
		else if ((req->flags & S2_CFG_HD) && caps->hafdbs < 2)
			snprintf(detail, sizeof(detail),
				 "--hd needs FEAT_HAFDBS dirty state (host HAFDBS=%u)",
				 caps->hafdbs);
		else if ((req->flags & S2_CFG_FWB) && !caps->fwb)
			snprintf(detail, sizeof(detail), "--fwb needs FEAT_S2FWB");
		else if ((req->flags & S2_CFG_MTE) && caps->mte < 2)
			snprintf(detail, sizeof(detail), "--mte needs FEAT_MTE2 (host MTE=%u)",
				 caps->mte);
		else
			snprintf(detail, sizeof(detail), "the host lacks a requested feature");
		break;
	case S2_EINVAL:
		if ((req->flags & S2_CFG_HD) && !(req->flags & S2_CFG_HA))
			snprintf(detail, sizeof(detail), "--hd needs --ha");
		else
			snprintf(detail, sizeof(detail), "invalid request");
		break;
	default:
		snprintf(detail, sizeof(detail), "request refused");
		break;
	}
	s2_cli_error("vtcr", "%s (%s): %s", s2_strerror(err), s2_errname(err), detail);
}

static int s2_cli_vtcr_compute(const struct s2_cli_vtcr_args *a)
{
	struct s2_cli_vtcr_view v = { 0 };
	struct s2_caps caps;
	struct s2_config cfg;
	int err;

	if (a->have_idregs) {
		err = s2_caps_from_idregs(&a->idregs, &caps);
		if (err) {
			s2_cli_error("vtcr", "--mmfr0: PARange %llu is reserved (%s)",
				     (unsigned long long)(a->idregs.mmfr0 & 0xf), s2_errname(err));
			return S2_CLI_EXIT_USAGE;
		}
	} else {
		err = s2_caps_max(a->pa_bits, &caps);
		if (err) {
			s2_cli_error("vtcr",
				     "--pa-bits: %u is not a PARange size (32, 36, 40, 42, 44, 48 "
				     "or 52)",
				     a->pa_bits);
			return S2_CLI_EXIT_USAGE;
		}
	}

	err = s2_config_init(&cfg, &caps, &a->req);
	if (err) {
		s2_cli_vtcr_refused(err, &caps, &a->req);
		return S2_CLI_EXIT_USAGE;
	}

	/*
	 * Take the raw fields from the library's own decoder, and check that it derives the
	 * geometry s2_config_init() computed: a disagreement is a library bug, not bad input.
	 */
	err = s2_vtcr_decode(cfg.vtcr, &v.f);
	if (err || v.f.ipa_bits != cfg.ipa_bits || v.f.pa_bits != cfg.pa_bits ||
	    v.f.start_level != cfg.start_level || v.f.levels != cfg.levels ||
	    v.f.root_tables != cfg.root_tables || v.f.root_table_bytes != cfg.root_table_bytes ||
	    v.f.granule != cfg.granule || v.f.ds != cfg.ds) {
		s2_cli_error("vtcr",
			     "internal error: s2_vtcr_decode(0x%llx) disagrees with "
			     "s2_config_init (%s)",
			     (unsigned long long)cfg.vtcr, s2_errname(err));
		return S2_CLI_EXIT_FAIL;
	}
	v.vtcr = cfg.vtcr;
	v.vmid_bits = cfg.vmid_bits;
	/* Only the levels a walk of this VM visits: the start level and below. */
	v.block_levels = cfg.block_levels & ~((1u << (cfg.start_level + 1)) - 1);
	v.root_entries = s2_cli_root_entries(cfg.granule, cfg.ipa_bits, cfg.start_level);
	v.lpa = cfg.lpa;
	v.have_cfg = true;
	v.fwb = cfg.fwb;
	v.mte = cfg.mte;
	v.xnx = cfg.xnx;
	s2_cli_vtcr_print(&v, a->json);
	return S2_CLI_EXIT_OK;
}

/* ---- arguments ------------------------------------------------------------------------------- */

static int s2_cli_vtcr_parse(int argc, char **argv, struct s2_cli_vtcr_args *a)
{
	struct s2_cli_parser p;
	const char *val;
	uint64_t n;
	int id;

	s2_cli_parser_init(&p, "vtcr", argc, argv);
	p.refuse_repeats = true;
	while ((id = s2_cli_next(&p, s2_cli_vtcr_opts, &val)) != S2_CLI_END) {
		switch (id) {
		case S2_CLI_BAD:
			return -1;
		case S2_CLI_POSITIONAL:
			s2_cli_error("vtcr", "unexpected argument '%s' (try --help)", val);
			return -1;
		case OPT_PA_BITS:
			if (s2_cli_number("vtcr", "--pa-bits", val, 0, 64, &n))
				return -1;
			a->pa_bits = (unsigned int)n;
			a->have_pa = true;
			break;
		case OPT_IPA_BITS:
			if (s2_cli_number("vtcr", "--ipa-bits", val, 0, 64, &n))
				return -1;
			a->req.ipa_bits = (unsigned int)n;
			a->have_ipa = true;
			a->request_opt = "--ipa-bits";
			break;
		case OPT_GRANULE:
			if (s2_cli_granule_parse(val, &a->req.granule)) {
				s2_cli_error("vtcr", "--granule: '%s' is not 4k, 16k or 64k", val);
				return -1;
			}
			a->have_granule = true;
			a->request_opt = "--granule";
			break;
		case OPT_VMID_BITS:
			if (s2_cli_number("vtcr", "--vmid-bits", val, 0, 64, &n))
				return -1;
			if (n != 8 && n != 16) {
				s2_cli_error("vtcr", "--vmid-bits: %s is not 8 or 16", val);
				return -1;
			}
			a->req.vmid_bits = (unsigned int)n;
			a->request_opt = "--vmid-bits";
			break;
		case OPT_HA:
			a->req.flags |= S2_CFG_HA;
			a->request_opt = "--ha";
			break;
		case OPT_HD:
			a->req.flags |= S2_CFG_HD;
			a->request_opt = "--hd";
			break;
		case OPT_FWB:
			a->req.flags |= S2_CFG_FWB;
			a->request_opt = "--fwb";
			break;
		case OPT_MTE:
			a->req.flags |= S2_CFG_MTE;
			a->request_opt = "--mte";
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_DECODE:
			if (s2_cli_register("vtcr", "--decode", val, &a->decode))
				return -1;
			a->have_decode = true;
			break;
		case OPT_MMFR0:
			if (s2_cli_register("vtcr", "--mmfr0", val, &a->idregs.mmfr0))
				return -1;
			a->have_idregs = true;
			break;
		case OPT_MMFR1:
			if (s2_cli_register("vtcr", "--mmfr1", val, &a->idregs.mmfr1))
				return -1;
			a->have_other_idregs = true;
			break;
		case OPT_MMFR2:
			if (s2_cli_register("vtcr", "--mmfr2", val, &a->idregs.mmfr2))
				return -1;
			a->have_other_idregs = true;
			break;
		case OPT_PFR1:
			if (s2_cli_register("vtcr", "--pfr1", val, &a->idregs.pfr1))
				return -1;
			a->have_other_idregs = true;
			break;
		case OPT_CTR:
			if (s2_cli_register("vtcr", "--ctr", val, &a->idregs.ctr))
				return -1;
			a->have_other_idregs = true;
			break;
		}
	}

	if (a->have_decode) {
		if (a->have_pa || a->have_idregs || a->have_other_idregs || a->request_opt) {
			s2_cli_error("vtcr", "--decode takes no other option than --json (got %s)",
				     a->have_pa	    ? "--pa-bits" :
				     a->request_opt ? a->request_opt :
						      "an ID register");
			return -1;
		}
		return 0;
	}
	if (a->have_pa && a->have_idregs) {
		s2_cli_error("vtcr", "give the host as --pa-bits or as --mmfr0, not both");
		return -1;
	}
	if (a->have_other_idregs && !a->have_idregs) {
		s2_cli_error("vtcr", "--mmfr1/--mmfr2/--pfr1/--ctr need --mmfr0");
		return -1;
	}
	if (!a->have_pa && !a->have_idregs) {
		s2_cli_error("vtcr", "missing --pa-bits (or --mmfr0) (try --help)");
		return -1;
	}
	if (!a->have_ipa) {
		s2_cli_error("vtcr", "missing --ipa-bits (try --help)");
		return -1;
	}
	if (!a->have_granule) {
		s2_cli_error("vtcr", "missing --granule (try --help)");
		return -1;
	}
	return 0;
}

S2_CLI_COMMAND(vtcr)
{
	struct s2_cli_vtcr_args a = { 0 };

	if (s2_cli_wants_help(argc, argv)) {
		fputs(s2_cli_vtcr_usage, stdout);
		return S2_CLI_EXIT_OK;
	}
	if (s2_cli_vtcr_parse(argc, argv, &a))
		return S2_CLI_EXIT_USAGE;
	return a.have_decode ? s2_cli_vtcr_decode(a.decode, a.json, "vtcr") :
			       s2_cli_vtcr_compute(&a);
}
