// SPDX-License-Identifier: MIT
/*
 * s2mmu dump - run a scenario silently and dump every VM's stage-2 tables at the end (or at the
 * step that failed): one line per run of entries (docs/sim.md), Linux's ptdump format
 * (--format kvm), JSON, or an SVG map.
 */
#include "cli.h"
#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char s2_cli_dump_usage[] =
	"usage: s2mmu dump FILE [--vm N] [--format s2mmu|kvm] [--svg OUT.svg|-] [--json]\n"
	"\n"
	"Run the scenario in FILE without printing its steps ('expect' lines still count),\n"
	"then print every VM's stage-2 tables: one line per run of adjacent entries with the\n"
	"same attributes and contiguous output (IPA range, output address, level, entry size\n"
	"and count, permissions, memory type under the VM's FWB mode, AF, DBM, software bits).\n"
	"When the scenario fails, the tables are printed as they were at the failing step,\n"
	"then the error.\n"
	"\n"
	"  --vm N          only VM N\n"
	"  --format kvm    the lines of Linux's debugfs stage2_page_tables (KVM's ptdump), to\n"
	"                  diff against a real KVM; --format s2mmu is the default\n"
	"  --svg OUT.svg   also draw the IPA map(s) as SVG: runs to scale, coloured by memory\n"
	"                  type and ownership, with a legend; '-' writes the SVG to standard\n"
	"                  output instead of the dump\n"
	"  --json          print the runs as JSON\n"
	"\n"
	"Exit status: 0 success, 1 an 'expect' failed or OUT.svg could not be written,\n"
	"2 the file is malformed or the options are wrong.\n";

enum { OPT_VM, OPT_SVG, OPT_JSON, OPT_FORMAT };

static const struct s2_cli_opt s2_cli_dump_opts[] = {
	{ "--vm", true, OPT_VM },	  { "--svg", true, OPT_SVG }, { "--json", false, OPT_JSON },
	{ "--format", true, OPT_FORMAT }, { NULL, false, 0 },
};

/* Print the selected VMs' tables in the chosen format. Return: an S2_CLI_EXIT_* status. */
static int s2_cli_dump_vms(struct sim_vm **sel, unsigned int nsel, bool json, bool kvm, int status)
{
	int ret = S2_CLI_EXIT_OK;

	if (json) {
		struct s2_json j;

		s2_json_begin(&j, stdout);
		s2_json_array_begin(&j, "vms");
		for (unsigned int i = 0; i < nsel; i++) {
			struct sim_runs r;

			if (sim_collect_runs(&sel[i]->vm.pgt, &r)) {
				sim_runs_free(&r);
				s2_cli_error("dump", "cannot walk vm%u's tables", sel[i]->id);
				ret = S2_CLI_EXIT_FAIL;
				continue;
			}
			s2_json_object_begin(&j, NULL);
			sim_dump_json(&j, sel[i]->id, &sel[i]->vm.pgt, &r);
			s2_json_object_end(&j);
			sim_runs_free(&r);
		}
		s2_json_array_end(&j);
		if (status)
			s2_json_int(&j, "status", status);
		s2_json_end(&j);
		return ret;
	}
	for (unsigned int i = 0; i < nsel; i++) {
		struct sim_runs r;
		char name[24];

		snprintf(name, sizeof(name), "vm%u", sel[i]->id);
		if (kvm) {
			if (nsel > 1)
				printf("%s%s:\n", i ? "\n" : "", name);
			if (!sim_dump_kvm(stdout, &sel[i]->vm.pgt))
				continue;
		} else if (!sim_collect_runs(&sel[i]->vm.pgt, &r)) {
			sim_dump_text(stdout, name, &sel[i]->vm.pgt, &r);
			sim_runs_free(&r);
			continue;
		} else {
			sim_runs_free(&r);
		}
		s2_cli_error("dump", "cannot walk %s's tables", name);
		ret = S2_CLI_EXIT_FAIL;
	}
	return ret;
}

S2_CLI_COMMAND(dump)
{
	struct s2_cli_parser p;
	struct sim_opts o = { .cmd = "dump", .quiet = true, .defer_error = true };
	const char *file = NULL, *svg = NULL, *v;
	struct sim_vm *sel[SIM_MAX_VMS];
	struct sim_vm *const *vms;
	unsigned int n, nsel = 0;
	uint64_t want = 0;
	bool have_vm = false, json = false, kvm = false;
	struct sim *s;
	int id, status, ret;

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
			if (!*v) {
				s2_cli_error("dump",
					     "--svg: the output file name is empty (use '-' "
					     "for standard output)");
				return S2_CLI_EXIT_USAGE;
			}
			svg = v;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_FORMAT:
			if (!strcmp(v, "kvm")) {
				kvm = true;
			} else if (strcmp(v, "s2mmu")) {
				s2_cli_error("dump", "--format: '%s' is not s2mmu or kvm", v);
				return S2_CLI_EXIT_USAGE;
			}
			break;
		default:
			break;
		}
	}
	if (!file) {
		s2_cli_error("dump", "no scenario file given (usage: s2mmu dump FILE)");
		return S2_CLI_EXIT_USAGE;
	}
	if (json && kvm) {
		s2_cli_error("dump", "--json and --format kvm are two different outputs: pick one");
		return S2_CLI_EXIT_USAGE;
	}
	if (svg && !strcmp(svg, "-") && (json || kvm)) {
		s2_cli_error("dump", "--svg - writes the SVG to standard output: it cannot go with "
				     "--json or --format kvm");
		return S2_CLI_EXIT_USAGE;
	}
	s = sim_open(&o);
	if (!s) {
		s2_cli_error("dump", "out of memory");
		return S2_CLI_EXIT_FAIL;
	}
	status = sim_run_file(s, file, false);
	vms = sim_vms(s, &n);
	for (unsigned int i = 0; i < n; i++)
		if (!have_vm || vms[i]->id == want)
			sel[nsel++] = vms[i];
	if (have_vm && !nsel && !status) {
		s2_cli_error("dump", "%s has no vm %llu", file, (unsigned long long)want);
		sim_close(s);
		return S2_CLI_EXIT_USAGE;
	}
	/* The tables as they are (at the end, or at the step that failed), then the error. */
	if (!svg || strcmp(svg, "-")) {
		ret = s2_cli_dump_vms(sel, nsel, json, kvm, status);
		if (!status)
			status = ret;
	}
	errno = 0;
	if (svg && sim_svg_write(svg, sel, nsel)) {
		s2_cli_error("dump", "cannot write %s%s%s", svg, errno ? ": " : "",
			     errno ? strerror(errno) : "");
		if (!status)
			status = S2_CLI_EXIT_FAIL;
	}
	sim_print_error(s);
	sim_close(s);
	return status;
}
