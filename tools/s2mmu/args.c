// SPDX-License-Identifier: MIT
/*
 * Strict argument parsing for the s2mmu tool: numbers, options, error messages.
 */
#include "args.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void s2_cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("s2mmu: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int s2_cli_digit(char c, unsigned int base)
{
	unsigned int d;

	if (c >= '0' && c <= '9')
		d = (unsigned int)(c - '0');
	else if (base == 16 && c >= 'a' && c <= 'f')
		d = (unsigned int)(c - 'a') + 10;
	else if (base == 16 && c >= 'A' && c <= 'F')
		d = (unsigned int)(c - 'A') + 10;
	else
		return -1;
	return (int)d;
}

int s2_cli_parse_u64(const char *s, uint64_t *out)
{
	unsigned int base = 10;
	uint64_t v = 0;
	bool overflow = false;

	if (!s)
		return -1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -1;
	for (; *s; s++) {
		int d = s2_cli_digit(*s, base);

		if (d < 0)
			return -1;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			overflow = true;
		v = v * base + (uint64_t)d;
	}
	if (overflow)
		return -2;
	*out = v;
	return 0;
}

static bool s2_cli_looks_hex(const char *s)
{
	bool hexdigit = false;

	for (; *s; s++) {
		if ((*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F'))
			hexdigit = true;
		else if (!(*s >= '0' && *s <= '9'))
			return false;
	}
	return hexdigit;
}

static int s2_cli_report_parse(const char *cmd, const char *what, const char *s, int err)
{
	if (err == -2)
		s2_cli_error(cmd, "%s: '%s' does not fit in 64 bits", what, s);
	else if (s2_cli_looks_hex(s))
		s2_cli_error(cmd, "%s: '%s' is not a number (hexadecimal needs a 0x prefix)", what,
			     s);
	else
		s2_cli_error(cmd, "%s: '%s' is not a number (give decimal or 0x-prefixed hex)",
			     what, s);
	return -1;
}

int s2_cli_number(const char *cmd, const char *what, const char *s, uint64_t min, uint64_t max,
		  uint64_t *out)
{
	uint64_t v;
	int err = s2_cli_parse_u64(s, &v);

	if (err)
		return s2_cli_report_parse(cmd, what, s, err);
	if (v < min || v > max) {
		s2_cli_error(cmd, "%s: %s is out of range (%llu..%llu)", what, s,
			     (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int s2_cli_register(const char *cmd, const char *what, const char *s, uint64_t *out)
{
	const char *digits = s;
	uint64_t v = 0;
	size_t n = 0;

	if (digits && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		digits += 2;
	for (; digits && *digits; digits++, n++) {
		int d = s2_cli_digit(*digits, 16);

		if (d < 0) {
			n = 0;
			break;
		}
		if (v >> 60) {
			s2_cli_error(cmd, "%s: '%s' does not fit in 64 bits", what, s);
			return -1;
		}
		v = (v << 4) | (uint64_t)d;
	}
	if (!n) {
		s2_cli_error(cmd,
			     "%s: '%s' is not a hexadecimal value (register values are hex, "
			     "0x optional)",
			     what, s ? s : "");
		return -1;
	}
	*out = v;
	return 0;
}

int s2_cli_signed(const char *cmd, const char *what, const char *s, int64_t min, int64_t max,
		  int64_t *out)
{
	bool neg = s && s[0] == '-';
	uint64_t mag;
	int64_t v;
	int err = s2_cli_parse_u64(neg ? s + 1 : s, &mag);

	if (err)
		return s2_cli_report_parse(cmd, what, s, err);
	if (mag > (uint64_t)INT64_MAX) {
		s2_cli_error(cmd, "%s: %s is out of range (%lld..%lld)", what, s, (long long)min,
			     (long long)max);
		return -1;
	}
	v = neg ? -(int64_t)mag : (int64_t)mag;
	if (v < min || v > max) {
		s2_cli_error(cmd, "%s: %s is out of range (%lld..%lld)", what, s, (long long)min,
			     (long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

void s2_cli_parser_init(struct s2_cli_parser *p, const char *cmd, int argc, char **argv)
{
	p->argc = argc;
	p->argv = argv;
	p->next = 1;
	p->only_pos = false;
	p->cmd = cmd;
	p->refuse_repeats = false;
	p->seen = 0;
}

int s2_cli_next(struct s2_cli_parser *p, const struct s2_cli_opt *opts, const char **value)
{
	const char *arg, *eq;
	size_t len;

	*value = NULL;
	if (p->next >= p->argc)
		return S2_CLI_END;
	arg = p->argv[p->next++];
	if (p->only_pos || arg[0] != '-' || arg[1] == '\0') {
		*value = arg;
		return S2_CLI_POSITIONAL;
	}
	if (!strcmp(arg, "--")) {
		p->only_pos = true;
		return s2_cli_next(p, opts, value);
	}
	eq = strchr(arg, '=');
	len = eq ? (size_t)(eq - arg) : strlen(arg);
	for (; opts->name; opts++) {
		if (strlen(opts->name) != len || strncmp(opts->name, arg, len))
			continue;
		if (p->refuse_repeats && opts->id >= 0 && opts->id < 64) {
			if (p->seen & (1ull << opts->id)) {
				s2_cli_error(p->cmd, "option %s given twice", opts->name);
				return S2_CLI_BAD;
			}
			p->seen |= 1ull << opts->id;
		}
		if (!opts->has_arg) {
			if (eq) {
				s2_cli_error(p->cmd, "option %s takes no value", opts->name);
				return S2_CLI_BAD;
			}
			return opts->id;
		}
		if (eq) {
			*value = eq + 1;
		} else if (p->next < p->argc && strncmp(p->argv[p->next], "--", 2)) {
			*value = p->argv[p->next++];
		} else {
			s2_cli_error(p->cmd, "option %s needs a value", opts->name);
			return S2_CLI_BAD;
		}
		return opts->id;
	}
	s2_cli_error(p->cmd, "unknown option '%s' (try --help)", arg);
	return S2_CLI_BAD;
}

bool s2_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	}
	return false;
}
