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
	"Run the scenario in FILE (docs/sim.md): host capabilities, VMs, memslots, guest\n"
	"accesses translated by the reference walker (faults go to the VM layer's abort\n"
	"handler), dirty logging, locked slots, aging, host invalidation, dumps and 'expect'\n"
	"checks. Prints one line per step and a summary.\n"
	"\n"
	"  --json   print the steps and the summary as one JSON document\n"
	"\n"
	"Exit status: 0 success, 1 an 'expect' failed, 2 the file is malformed (FILE:LINE).\n";

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
