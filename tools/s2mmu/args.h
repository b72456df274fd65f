/* SPDX-License-Identifier: MIT */
/*
 * args.h - strict command-line parsing for the s2mmu tool.
 *
 * Numbers are decimal ("40") or hexadecimal with a 0x/0X prefix ("0x93c28046"); anything else
 * (signs, spaces, suffixes, empty strings, a bare "0x", values that do not fit) is refused.
 * Register values (ESR, FAR, HPFAR, VTCR, descriptors, ID registers) are always hexadecimal,
 * with or without the prefix: "92000046" is 0x92000046, never decimal (s2_cli_register()).
 * Every helper that refuses prints one line "s2mmu: <cmd>: <reason>" on stderr, so a command
 * only has to return S2_CLI_EXIT_USAGE.
 */
#ifndef S2MMU_CLI_ARGS_H
#define S2MMU_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

/* Exit statuses of the tool. */
#define S2_CLI_EXIT_OK 0
#define S2_CLI_EXIT_FAIL 1 /* could not write the output */
#define S2_CLI_EXIT_USAGE 2 /* bad input, or a request the library refused */

/**
 * s2_cli_error() - print "s2mmu: <cmd>: <message>" and a newline on stderr.
 * @cmd: the subcommand ("vtcr", "decode esr"), or NULL for the top level.
 */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
void s2_cli_error(const char *cmd, const char *fmt, ...);

/**
 * s2_cli_parse_u64() - parse a decimal or 0x-prefixed hexadecimal number.
 * Return: 0; -1 if @s is not a number; -2 if it does not fit in 64 bits.
 */
int s2_cli_parse_u64(const char *s, uint64_t *out);

/**
 * s2_cli_number() - parse the value @s of option @what into [@min, @max].
 * Prints the reason and returns -1 on junk, overflow or a value out of range; 0 otherwise.
 */
int s2_cli_number(const char *cmd, const char *what, const char *s, uint64_t min, uint64_t max,
		  uint64_t *out);

/**
 * s2_cli_register() - parse the register value @s of @what: hexadecimal, with or without a
 * 0x/0X prefix (an all-digit value is hexadecimal too). Prints the reason and returns -1 on
 * junk or a value wider than 64 bits; 0 otherwise.
 */
int s2_cli_register(const char *cmd, const char *what, const char *s, uint64_t *out);

/**
 * s2_cli_signed() - like s2_cli_number() for a small signed value ("-1" is accepted).
 */
int s2_cli_signed(const char *cmd, const char *what, const char *s, int64_t min, int64_t max,
		  int64_t *out);

/* One option a subcommand accepts. */
struct s2_cli_opt {
	const char *name; /* "--pa-bits" */
	bool has_arg; /* takes a value: "--pa-bits 40" or "--pa-bits=40" */
	int id; /* returned by s2_cli_next() */
};

/* What s2_cli_next() found, besides an option id (>= 0). */
#define S2_CLI_END (-1) /* no more arguments */
#define S2_CLI_POSITIONAL (-2) /* a positional argument, in *value */
#define S2_CLI_BAD (-3) /* unknown option or missing value (already reported) */

struct s2_cli_parser {
	int argc;
	char **argv;
	int next; /* index of the next argument */
	bool only_pos; /* seen "--": everything after is positional */
	const char *cmd; /* for messages */
	bool refuse_repeats; /* an option given twice is an error (set after init) */
	uint64_t seen; /* ids (< 64) of the options seen, for refuse_repeats */
};

/** s2_cli_parser_init() - iterate over @argv[1..@argc-1] (argv[0] is the subcommand name). */
void s2_cli_parser_init(struct s2_cli_parser *p, const char *cmd, int argc, char **argv);

/**
 * s2_cli_next() - the next option or positional argument.
 * @opts:  the accepted options, terminated by an entry with a NULL name.
 * @value: the option's value, or the positional argument.
 * Return: an option id, S2_CLI_POSITIONAL, S2_CLI_END, or S2_CLI_BAD after printing why.
 */
int s2_cli_next(struct s2_cli_parser *p, const struct s2_cli_opt *opts, const char **value);

/** s2_cli_wants_help() - whether "--help" or "-h" appears among @argv[1..] (before "--"). */
bool s2_cli_wants_help(int argc, char **argv);

#endif /* S2MMU_CLI_ARGS_H */
