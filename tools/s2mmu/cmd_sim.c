// SPDX-License-Identifier: MIT
/*
 * s2mmu sim - run a stage-2 scenario (docs/sim.md): VMs, memslots and guest accesses through
 * the reference walker and the VM layer's abort handler, with `expect` checks.
 */
#include "cli.h"
#include "sim.h"

#include <stdio.h>

static const char s2_cli_sim_usage[] =
	"usage: s2mmu sim FILE [--json]\n"
	"\n"
	"Run the scenario in FILE: host capabilities, VMs, memslots, guest accesses translated\n"
	"by the reference walker (faults go to the VM layer's abort handler), dirty logging,\n"
	"locked slots, aging, host invalidation, page ownership, dumps and 'expect' checks.\n"
	"Prints one line per step and a summary.\n"
	"\n"
	"  --json   print the steps and the summary as one JSON document (valid UTF-8)\n"
	"\n"
	"The scenario language: one step per line (at most 1023 characters, no NUL bytes); '#'\n"
	"starts a comment. Numbers are decimal or 0x hex, sizes may end in K, M, G, T. Options\n"
	"are key=value or bare flags (flag=off turns one off). Steps act on the current VM.\n"
	"\n"
	"  host [pa-bits=N] [fwb=on|off] [hafdbs=0..2] [xnx=on|off] [mte=0..3] [dic=on|off]\n"
	"       [idc=on|off] [vmid-bits=8|16] [bbm=0..2] | host mmfr0=X [mmfr1=X] ... [ctr=X]\n"
	"  vm ID [ipa-bits=N] [granule=4k|16k|64k] [vmid-bits=8|16] [fwb] [ha] [hd] [mte]\n"
	"       [protected] [locked-limit=SIZE]          create VM ID (or select it: vm ID)\n"
	"  slot ID ipa=A size=S ram|mmio pa=P [host=normal|tagged|nc|device-ngnre|device-ngnrne]\n"
	"       [page=SIZE] [read-only] [dirty-log] [allow-any-uncached] [untagged]\n"
	"  slot-delete ID | slot-move ID ipa=A | slot-flags ID [flags] | lock ID ro|rw | unlock ID\n"
	"  read|write IPA [size=1|2|4|8] [reg=N] [sext] [el0] [s1ptw]   a load or store (ISV=1)\n"
	"  read|write IPA form=pair|pre-index|post-index [size=N]      no syndrome (ISV=0)\n"
	"  atomic IPA [size=N] | dc-zva IPA                            no syndrome (ISV=0)\n"
	"  exec IPA [el0] [s1ptw]   an instruction fetch     enter   a vCPU entry\n"
	"  dirty ID on [dbm] | off | harvest    age PA SIZE [keep]    invalidate PA SIZE\n"
	"  tlb-flush    dump [vm=ID]    echo TEXT\n"
	"  pkvm ram=BASE size=SIZE [granule=G]   host-access PA [write]   page PA   dump host\n"
	"  share-hyp|unshare-hyp|donate-hyp|donate-hyp-host PA SIZE\n"
	"  share-guest|donate-guest PA IPA SIZE   unshare-guest|guest-share-host|\n"
	"       guest-unshare-host IPA SIZE   teardown       (VM N is owner N+1: ids 1..254)\n"
	"  expect ok [pa=P] | mmio-exit [read|write] [size=N] [no-syndrome] |\n"
	"       nisv-exit [read|write] [ipa=A] | inject [REASON] | faults N |\n"
	"       fault KIND [level=-1..3] | esr VALUE | tlb-hit |\n"
	"       mapped IPA [pa=P] [level=L] [size=S] [type=T] [perm=rwx] [memattr=M] [af=0|1]\n"
	"       [dbm=0|1] | unmapped IPA | dirty IPA... | none | young N | invalidated N |\n"
	"       cmo N | stale N | error S2_EXXX | page PA [host=S] [hyp=S] [owner=N] [shares=N] |\n"
	"       guest-page IPA STATE | host-ok | host-inject\n"
	"\n"
	"A library call that fails must be followed by 'expect error NAME'.\n"
	"\n"
	"Example:\n"
	"  vm 1 ipa-bits=40 granule=4k\n"
	"  slot 1 ipa=0x40000000 size=2M ram pa=0x880000000 page=2M\n"
	"  read 0x40000000            # translation fault: mapped as one 2M block\n"
	"  expect mapped 0x40000000 level=2 size=2M\n"
	"  write 0x9000000 size=4 reg=1   # no memslot: an MMIO exit with the syndrome\n"
	"  expect mmio-exit write size=4\n"
	"  write 0x9000000 form=pair      # an STP: no syndrome to emulate it from\n"
	"  expect esr 0x92000045\n"
	"\n"
	"The full reference is docs/sim.md; examples/*.s2sim cover each behaviour.\n"
	"\n"
	"Exit status: 0 success, 1 an 'expect' failed (FILE:LINE), 2 the file cannot be read\n"
	"or is malformed (FILE:LINE).\n";

enum { OPT_JSON };

static const struct s2_cli_opt s2_cli_sim_opts[] = {
	{ "--json", false, OPT_JSON },
	{ NULL, false, 0 },
};

S2_CLI_COMMAND(sim)
{
	struct s2_cli_parser p;
	struct sim_opts o = { .cmd = "sim" };
	const char *file = NULL, *v;
	struct sim *s;
	int id, status;

	if (s2_cli_wants_help(argc, argv)) {
		fputs(s2_cli_sim_usage, stdout);
		return S2_CLI_EXIT_OK;
	}
	s2_cli_parser_init(&p, "sim", argc, argv);
	while ((id = s2_cli_next(&p, s2_cli_sim_opts, &v)) != S2_CLI_END) {
		if (id == S2_CLI_BAD)
			return S2_CLI_EXIT_USAGE;
		if (id == S2_CLI_POSITIONAL) {
			if (file) {
				s2_cli_error("sim", "one scenario file only");
				return S2_CLI_EXIT_USAGE;
			}
			file = v;
		} else if (id == OPT_JSON) {
			o.json = true;
		}
	}
	if (!file) {
		s2_cli_error("sim", "no scenario file given (usage: s2mmu sim FILE [--json])");
		return S2_CLI_EXIT_USAGE;
	}
	s = sim_open(&o);
	if (!s) {
		s2_cli_error("sim", "out of memory");
		return S2_CLI_EXIT_FAIL;
	}
	status = sim_run_file(s, file, true);
	sim_close(s);
	return status;
}
