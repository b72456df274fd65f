// SPDX-License-Identifier: MIT
/*
 * s2mmu dump - run a scenario silently and dump every VM's stage-2 tables at the end: one line
 * per run of entries (docs/sim.md), optionally drawn as SVG.
 */
#include "cli.h"
#include "sim.h"

#include <stdio.h>

static const char s2_cli_dump_usage[] =
	"usage: s2mmu dump FILE [--vm N] [--svg OUT.svg] [--json]\n"
	"\n"
	"Run the scenario in FILE without printing its steps ('expect' lines still count),\n"
	"then print every VM's stage-2 tables: one line per run of adjacent entries with the\n"
	"same attributes and contiguous output (IPA range, output address, level, entry size\n"
	"and count, permissions, memory type under the VM's FWB mode, AF, DBM, software bits).\n"
	"\n"
	"  --vm N         only VM N\n"
	"  --svg OUT.svg  also draw the IPA map(s) as SVG, coloured by memory type\n"
	"  --json         print the runs as JSON\n"
	"\n"
	"Exit status: 0 success, 1 an 'expect' failed or OUT.svg could not be written,\n"
	"2 the file is malformed.\n";

enum { OPT_VM, OPT_SVG, OPT_JSON };

static const struct s2_cli_opt s2_cli_dump_opts[] = {
	{ "--vm", true, OPT_VM },
	{ "--svg", true, OPT_SVG },
	{ "--json", false, OPT_JSON },
	{ NULL, false, 0 },
};

S2_CLI_COMMAND(dump)
{
	struct s2_cli_parser p;
	struct sim_opts o = { .cmd = "dump", .quiet = true };
	const char *file = NULL, *svg = NULL, *v;
	struct sim_vm *sel[SIM_MAX_VMS];
	struct sim_vm *const *vms;
	unsigned int n, nsel = 0;
	uint64_t want = 0;
	bool have_vm = false, json = false;
	struct sim *s;
	int id, status;

	if (s2_cli_wants_help(argc, argv)) {
		fputs(s2_cli_dump_usage, stdout);
		return S2_CLI_EXIT_OK;
	}
	s2_cli_parser_init(&p, "dump", argc, argv);
	while ((id = s2_cli_next(&p, s2_cli_dump_opts, &v)) != S2_CLI_END) {
		switch (id) {
		case S2_CLI_BAD:
			return S2_CLI_EXIT_USAGE;
		case S2_CLI_POSITIONAL:
			if (file) {
				s2_cli_error("dump", "one scenario file only");
				return S2_CLI_EXIT_USAGE;
			}
			file = v;
			break;
		case OPT_VM:
			if (s2_cli_number("dump", "--vm", v, 0, UINT32_MAX, &want))
				return S2_CLI_EXIT_USAGE;
			have_vm = true;
			break;
		case OPT_SVG:
			svg = v;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			break;
		}
	}
	if (!file) {
		s2_cli_error("dump", "no scenario file given (usage: s2mmu dump FILE)");
		return S2_CLI_EXIT_USAGE;
	}
	s = sim_open(&o);
	if (!s) {
		s2_cli_error("dump", "out of memory");
		return S2_CLI_EXIT_FAIL;
	}
	status = sim_run_file(s, file, false);
	if (status) {
		sim_close(s);
		return status;
	}
	vms = sim_vms(s, &n);
	for (unsigned int i = 0; i < n; i++)
		if (!have_vm || vms[i]->id == want)
			sel[nsel++] = vms[i];
	if (have_vm && !nsel) {
		s2_cli_error("dump", "%s has no vm %llu", file, (unsigned long long)want);
		sim_close(s);
		return S2_CLI_EXIT_USAGE;
	}
	if (json) {
		struct s2_json j;

		s2_json_begin(&j, stdout);
		s2_json_array_begin(&j, "vms");
		for (unsigned int i = 0; i < nsel; i++) {
			struct sim_runs r;

			if (sim_collect_runs(&sel[i]->vm.pgt, &r))
				continue;
			s2_json_object_begin(&j, NULL);
			sim_dump_json(&j, sel[i]->id, &sel[i]->vm.pgt, &r);
			s2_json_object_end(&j);
			sim_runs_free(&r);
		}
		s2_json_end(&j);
	} else {
		for (unsigned int i = 0; i < nsel; i++) {
			struct sim_runs r;

			if (sim_collect_runs(&sel[i]->vm.pgt, &r)) {
				s2_cli_error("dump", "cannot walk vm%u's tables", sel[i]->id);
				status = S2_CLI_EXIT_FAIL;
				continue;
			}
			char name[24];

			snprintf(name, sizeof(name), "vm%u", sel[i]->id);
			sim_dump_text(stdout, name, &sel[i]->vm.pgt, &r);
			sim_runs_free(&r);
		}
	}
	if (svg && sim_svg_write(svg, sel, nsel)) {
		s2_cli_error("dump", "cannot write %s", svg);
		status = S2_CLI_EXIT_FAIL;
	}
	sim_close(s);
	return status;
}
