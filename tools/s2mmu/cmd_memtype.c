// SPDX-License-Identifier: MIT
/*
 * s2mmu memtype - the stage-2 memory type a guest page gets from its backing and host mapping
 * (s2_memtype_decide, the table of ARCH-NOTES §1; docs/memtype.md).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "s2mmu/memtype.h"
#include "s2mmu/pgtable.h"
#include "names.h"

static const char s2_cli_memtype_usage[] =
	"usage: s2mmu memtype --backing ram|mmio [--host-type TYPE] [options] [--json]\n"
	"\n"
	"The stage-2 memory type, MemAttr and cache maintenance of a guest page.\n"
	"\n"
	"  --backing B            ram or mmio (device memory)\n"
	"  --host-type TYPE       the host's mapping of the backing: normal, tagged, nc,\n"
	"                         device-ngnre, device-ngnrne (default, as in 's2mmu sim':\n"
	"                         normal for ram, device-ngnre for mmio)\n"
	"  --allow-any-uncached   the memslot lets the guest pick Device or NC (MMIO)\n"
	"  --keep-host-nc         the VM keeps the host's Normal-NC for RAM (S2_VM_KEEP_HOST_NC;\n"
	"                         default: RAM behind an NC host mapping is Normal, as in KVM)\n"
	"  --exec                 execution is requested\n"
	"  --fwb                  the VM runs with HCR_EL2.FWB=1\n"
	"  --dic                  CTR_EL0.DIC is set (no I-cache maintenance; Normal memory is\n"
	"                         then executable from its first fault)\n"
	"  --mte                  the VM uses MTE\n"
	"  --untagged-backing     the backing cannot hold MTE tags (default: it can)\n"
	"  --json                 print {\"type\", \"memattr\", \"exec\", \"cmo\"}\n"
	"\n"
	"Without FWB the guest's stage-1 memory type is combined with this one (the less\n"
	"cacheable, the stronger Device type wins); with FWB stage 2 forces Normal types,\n"
	"Device types still combine (Arm ARM D8.6).\n"
	"\n"
	"Exit status: 0 success, 2 bad input or a refused mapping (reason on stderr).\n";

enum {
	OPT_BACKING,
	OPT_HOST_TYPE,
	OPT_AAU,
	OPT_KEEP_NC,
	OPT_EXEC,
	OPT_FWB,
	OPT_DIC,
	OPT_MTE,
	OPT_UNTAGGED,
	OPT_JSON,
};

static const struct s2_cli_opt s2_cli_memtype_opts[] = {
	{ "--backing", true, OPT_BACKING },
	{ "--host-type", true, OPT_HOST_TYPE },
	{ "--allow-any-uncached", false, OPT_AAU },
	{ "--keep-host-nc", false, OPT_KEEP_NC },
	{ "--exec", false, OPT_EXEC },
	{ "--fwb", false, OPT_FWB },
	{ "--dic", false, OPT_DIC },
	{ "--mte", false, OPT_MTE },
	{ "--untagged-backing", false, OPT_UNTAGGED },
	{ "--json", false, OPT_JSON },
	{ NULL, false, 0 },
};

/* The names of the JSON contract. */
static const char *s2_cli_memtype_type(enum s2_memtype t)
{
	switch (t) {
	case S2_MT_NORMAL_WB:
		return "normal";
	case S2_MT_NORMAL_NC:
		return "normal-nc";
	case S2_MT_DEVICE_nGnRE:
		return "device-ngnre";
	case S2_MT_DEVICE_nGnRnE:
		return "device-ngnrne";
	default:
		return s2_memtype_name(t);
	}
}

static const struct {
	uint64_t bit;
	const char *name;
} s2_cli_cmo_names[] = {
	{ S2_CMO_DCACHE, "dcache-clean-inval-poc" },
	{ S2_CMO_ICACHE, "icache-inval-pou" },
	{ S2_CMO_TAGS, "mte-tags-sanitise" },
};

static const char *s2_cli_memtype_reason(const struct s2_memtype_req *r, int err)
{
	if (err == S2_EMEMTYPE && r->exec)
		return "exec is refused on Device and Normal-NC mappings";
	if (err == S2_EMEMTYPE)
		return "an MTE VM needs RAM that holds tags, through a Normal-Tagged host mapping";
	if (err == S2_EINVAL && r->allow_any_uncached)
		return "Device and Normal-NC requested together (allow-any-uncached on RAM with a "
		       "Device host mapping)";
	return s2_strerror(err);
}

S2_CLI_COMMAND(memtype)
{
	struct s2_memtype_req req = { .backing_tags = true };
	struct s2_memtype_attrs a;
	struct s2_cli_parser p;
	bool json = false, have_backing = false, have_type = false;
	const char *val;
	int id, err;

	if (s2_cli_wants_help(argc, argv)) {
		fputs(s2_cli_memtype_usage, stdout);
		return s2_cli_finish(S2_CLI_EXIT_OK);
	}
	s2_cli_parser_init(&p, "memtype", argc, argv);
	while ((id = s2_cli_next(&p, s2_cli_memtype_opts, &val)) != S2_CLI_END) {
		switch (id) {
		case S2_CLI_BAD:
			return S2_CLI_EXIT_USAGE;
		case S2_CLI_POSITIONAL:
			s2_cli_error("memtype", "unexpected argument '%s' (try --help)", val);
			return S2_CLI_EXIT_USAGE;
		case OPT_BACKING:
			if (s2_cli_backing_parse(val, &req.backing)) {
				s2_cli_error("memtype", "--backing: '%s' is not ram or mmio", val);
				return S2_CLI_EXIT_USAGE;
			}
			have_backing = true;
			break;
		case OPT_HOST_TYPE:
			if (s2_cli_hostmem_parse(val, &req.host_type)) {
				s2_cli_error("memtype",
					     "--host-type: '%s' is not normal, tagged, nc, "
					     "device-ngnre or device-ngnrne",
					     val);
				return S2_CLI_EXIT_USAGE;
			}
			have_type = true;
			break;
		case OPT_AAU:
			req.allow_any_uncached = true;
			break;
		case OPT_KEEP_NC:
			req.keep_host_nc = true;
			break;
		case OPT_EXEC:
			req.exec = true;
			break;
		case OPT_FWB:
			req.fwb = true;
			break;
		case OPT_DIC:
			req.dic = true;
			break;
		case OPT_MTE:
			req.vm_mte = true;
			break;
		case OPT_UNTAGGED:
			req.backing_tags = false;
			break;
		case OPT_JSON:
			json = true;
			break;
		}
	}
	if (!have_backing) {
		s2_cli_error("memtype", "--backing is required (try --help)");
		return S2_CLI_EXIT_USAGE;
	}
	if (!have_type) /* the simulator's slot default (docs/sim.md) */
		req.host_type =
			req.backing == S2_BACKING_RAM ? S2_HOSTMEM_NORMAL : S2_HOSTMEM_DEVICE_nGnRE;

	err = s2_memtype_decide(&req, &a);
	if (err) {
		s2_cli_error("memtype", "mapping refused: %s (%s)",
			     s2_cli_memtype_reason(&req, err), s2_errname(err));
		return S2_CLI_EXIT_USAGE;
	}

	if (json) {
		struct s2_json j;

		s2_json_begin(&j, stdout);
		s2_json_str(&j, "type", s2_cli_memtype_type(a.type));
		s2_json_bin(&j, "memattr", a.memattr, 4);
		s2_json_bool(&j, "exec", a.exec);
		s2_json_array_begin(&j, "cmo");
		for (size_t i = 0; i < sizeof(s2_cli_cmo_names) / sizeof(s2_cli_cmo_names[0]); i++)
			if (a.cmo & s2_cli_cmo_names[i].bit)
				s2_json_str(&j, NULL, s2_cli_cmo_names[i].name);
		s2_json_array_end(&j);
		s2_json_end(&j);
	} else {
		printf("type     %s\n", s2_cli_memtype_type(a.type));
		printf("memattr  0b%u%u%u%u (FWB %s)\n", (a.memattr >> 3) & 1, (a.memattr >> 2) & 1,
		       (a.memattr >> 1) & 1, a.memattr & 1, req.fwb ? "on" : "off");
		if (!have_type)
			printf("host     %s (default for %s)\n", s2_hostmem_name(req.host_type),
			       s2_backing_name(req.backing));
		if (!req.fwb)
			printf("stage 1  combined: FWB is off, so the guest's stage-1 type is combined "
			       "with this one (the less cacheable wins)\n");
		else if (a.type <= S2_MT_DEVICE_GRE)
			printf("stage 1  combined: a Device type is combined with the guest's stage-1 "
			       "type even with FWB (the stronger wins)\n");
		else
			printf("stage 1  overridden: FWB forces this type whatever the guest's stage 1 "
			       "says\n");
		if (!a.exec)
			printf("exec     refused\n");
		else if ((a.prot & S2_PROT_X) && !req.exec)
			printf("exec     allowed, granted on every fault (DIC)\n");
		else
			printf("exec     allowed\n");
		printf("cmo     ");
		if (!a.cmo)
			printf(" none");
		for (size_t i = 0; i < sizeof(s2_cli_cmo_names) / sizeof(s2_cli_cmo_names[0]); i++)
			if (a.cmo & s2_cli_cmo_names[i].bit)
				printf(" %s", s2_cli_cmo_names[i].name);
		printf("\n");
	}
	return s2_cli_finish(S2_CLI_EXIT_OK);
}
