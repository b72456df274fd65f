/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what every s2mmu subcommand shares.
 *
 * A subcommand is one function, defined in tools/s2mmu/cmd_<name>.c with
 *
 *	S2_CLI_COMMAND(name)
 *	{
 *		... argv[0] is the subcommand's name; return an S2_CLI_EXIT_* status ...
 *	}
 *
 * and registered with one line in the S2_CLI_COMMANDS table of main.c. The build picks up every
 * cmd_*.c. A subcommand prints its usage on stdout and returns 0 when s2_cli_wants_help() says
 * so; it reports bad input with s2_cli_error() and returns S2_CLI_EXIT_USAGE, and writes
 * nothing on stdout in that case.
 */
#ifndef S2MMU_CLI_H
#define S2MMU_CLI_H

#include "args.h"
#include "json.h"

#include "s2mmu/arch.h"

/* Declares and starts the definition of subcommand @name's entry point. */
#define S2_CLI_COMMAND(name)                          \
	int s2_cli_cmd_##name(int argc, char **argv); \
	int s2_cli_cmd_##name(int argc, char **argv)

/**
 * s2_cli_finish() - flush stdout and turn a write error into S2_CLI_EXIT_FAIL.
 * Return: @status, or S2_CLI_EXIT_FAIL when stdout could not be written.
 */
int s2_cli_finish(int status);

/** s2_cli_decode_vtcr() - `decode vtcr HEX [--json]` (argv[0] is "vtcr"), as `vtcr --decode`. */
int s2_cli_decode_vtcr(int argc, char **argv);

#endif /* S2MMU_CLI_H */
