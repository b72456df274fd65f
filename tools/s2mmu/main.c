// SPDX-License-Identifier: MIT
/*
 * s2mmu - command-line access to the stage-2 encodings of the s2mmu library.
 *
 * The subcommands are listed once, in S2_CLI_COMMANDS; each lives in its own cmd_<name>.c
 * (see cli.h). Exit status: 0 success, 1 output could not be written, 2 bad input or a request
 * the library refused (with a one-line reason on stderr).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#ifndef S2_VERSION
#define S2_VERSION "unknown"
#endif

/*
 * The subcommand table: X(name, one-line summary). Adding a subcommand is one line here plus
 * its cmd_<name>.c.
 */
#define S2_CLI_COMMANDS(X)                                                                     \
	X(vtcr, "compute VTCR_EL2 for a VM from host capabilities, or decode a VTCR value")    \
	X(decode, "decode ESR_EL2, HPFAR_EL2, VTCR_EL2 or a stage-2 descriptor")               \
	X(memtype, "stage-2 memory type and cache maintenance for a backing and host mapping") \
	X(sim, "run a stage-2 scenario: VMs, memslots, guest accesses, expect checks")         \
	X(dump, "run a scenario silently and dump every VM's stage-2 tables (--svg)")

#define S2_CLI_DECLARE(name, summary) int s2_cli_cmd_##name(int argc, char **argv);
S2_CLI_COMMANDS(S2_CLI_DECLARE)
#undef S2_CLI_DECLARE

struct s2_cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

#define S2_CLI_ENTRY(name, summary) { #name, summary, s2_cli_cmd_##name },
static const struct s2_cli_command s2_cli_commands[] = { S2_CLI_COMMANDS(S2_CLI_ENTRY) };
#undef S2_CLI_ENTRY

int s2_cli_finish(int status)
{
	if (fflush(stdout) || ferror(stdout)) {
		s2_cli_error(NULL, "cannot write the output");
		return S2_CLI_EXIT_FAIL;
	}
	return status;
}

static void s2_cli_usage(FILE *out)
{
	fprintf(out, "usage: s2mmu <command> [options]\n"
		     "       s2mmu <command> --help\n"
		     "       s2mmu --help | --version\n"
		     "\n"
		     "Stage-2 MMU encodings of the Arm64 VMSAv8-64 translation regime.\n"
		     "\n"
		     "commands:\n");
	for (size_t i = 0; i < sizeof(s2_cli_commands) / sizeof(s2_cli_commands[0]); i++)
		fprintf(out, "  %-10s %s\n", s2_cli_commands[i].name, s2_cli_commands[i].summary);
	fprintf(out,
		"\n"
		"Register values (ESR, HPFAR, FAR, VTCR, descriptors, ID registers) are hexadecimal,\n"
		"with or without 0x; other numbers are decimal or 0x-prefixed hexadecimal.\n"
		"--json prints one JSON object.\n"
		"Exit status: 0 success, 1 output error, 2 bad input or refused request.\n");
}

int main(int argc, char **argv)
{
	const char *name;

	if (argc < 2) {
		s2_cli_error(NULL, "no command given (try 's2mmu --help')");
		return S2_CLI_EXIT_USAGE;
	}
	name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		s2_cli_usage(stdout);
		return s2_cli_finish(S2_CLI_EXIT_OK);
	}
	if (!strcmp(name, "--version")) {
		printf("s2mmu %s\n", S2_VERSION);
		return s2_cli_finish(S2_CLI_EXIT_OK);
	}
	for (size_t i = 0; i < sizeof(s2_cli_commands) / sizeof(s2_cli_commands[0]); i++) {
		if (!strcmp(name, s2_cli_commands[i].name))
			return s2_cli_finish(s2_cli_commands[i].run(argc - 1, argv + 1));
	}
	if (name[0] == '-')
		s2_cli_error(NULL, "unknown option '%s' (try 's2mmu --help')", name);
	else
		s2_cli_error(NULL, "unknown command '%s' (try 's2mmu --help')", name);
	return S2_CLI_EXIT_USAGE;
}
