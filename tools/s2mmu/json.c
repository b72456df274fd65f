// SPDX-License-Identifier: MIT
/*
 * A tiny streaming JSON writer (see json.h).
 */
#include "json.h"

static void s2_json_indent(struct s2_json *j)
{
	for (unsigned int i = 0; i < j->depth; i++)
		fputs("  ", j->out);
}

/* The length of the well-formed UTF-8 sequence at @s (Unicode 15, table 3-7: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 when @s does not start one. */
static unsigned int s2_json_utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	unsigned int n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (unsigned int i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * Write @str as a JSON string literal (RFC 8259 section 7). The output is valid UTF-8 whatever
 * @str holds: control characters and DEL are escaped (\n, \t, \uXXXX), and every byte that
 * does not belong to a well-formed UTF-8 sequence is written as U+FFFD (\ufffd), one per byte.
 */
static void s2_json_quote(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");

	fputc('"', out);
	while (*s) {
		unsigned int n = s2_json_utf8_len(s);

		switch (*s) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*s < 0x20 || *s == 0x7f)
				fprintf(out, "\\u%04x", *s);
			else if (!n)
				fputs("\\ufffd", out);
			else
				fwrite(s, 1, n, out);
		}
		s += n ? n : 1;
	}
	fputc('"', out);
}

/* Separator, indentation and "key": before a member or element. */
static void s2_json_member(struct s2_json *j, const char *key)
{
	if (j->depth == 0)
		return;
	if (j->has_items[j->depth - 1])
		fputc(',', j->out);
	fputc('\n', j->out);
	j->has_items[j->depth - 1] = true;
	s2_json_indent(j);
	if (!j->is_array[j->depth - 1] && key) {
		s2_json_quote(j->out, key);
		fputs(": ", j->out);
	}
}

static void s2_json_open(struct s2_json *j, const char *key, bool array)
{
	s2_json_member(j, key);
	fputc(array ? '[' : '{', j->out);
	if (j->depth < S2_JSON_MAX_DEPTH) {
		j->has_items[j->depth] = false;
		j->is_array[j->depth] = array;
		j->depth++;
	}
}

static void s2_json_close(struct s2_json *j)
{
	bool array, items;

	if (j->depth == 0)
		return;
	j->depth--;
	array = j->is_array[j->depth];
	items = j->has_items[j->depth];
	if (items) {
		fputc('\n', j->out);
		s2_json_indent(j);
	}
	fputc(array ? ']' : '}', j->out);
}

void s2_json_begin(struct s2_json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	s2_json_open(j, NULL, false);
}

void s2_json_end(struct s2_json *j)
{
	while (j->depth)
		s2_json_close(j);
	fputc('\n', j->out);
}

void s2_json_object_begin(struct s2_json *j, const char *key)
{
	s2_json_open(j, key, false);
}

void s2_json_array_begin(struct s2_json *j, const char *key)
{
	s2_json_open(j, key, true);
}

void s2_json_object_end(struct s2_json *j)
{
	s2_json_close(j);
}

void s2_json_array_end(struct s2_json *j)
{
	s2_json_close(j);
}

void s2_json_str(struct s2_json *j, const char *key, const char *val)
{
	s2_json_member(j, key);
	s2_json_quote(j->out, val);
}

void s2_json_u64(struct s2_json *j, const char *key, uint64_t val)
{
	s2_json_member(j, key);
	fprintf(j->out, "%llu", (unsigned long long)val);
}

void s2_json_int(struct s2_json *j, const char *key, long long val)
{
	s2_json_member(j, key);
	fprintf(j->out, "%lld", val);
}

void s2_json_bool(struct s2_json *j, const char *key, bool val)
{
	s2_json_member(j, key);
	fputs(val ? "true" : "false", j->out);
}

void s2_json_null(struct s2_json *j, const char *key)
{
	s2_json_member(j, key);
	fputs("null", j->out);
}

void s2_json_hex(struct s2_json *j, const char *key, uint64_t val)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)val);
	s2_json_str(j, key, buf);
}

void s2_json_bin(struct s2_json *j, const char *key, uint64_t val, unsigned int width)
{
	char buf[72];
	unsigned int i;

	if (width > 64)
		width = 64;
	buf[0] = '0';
	buf[1] = 'b';
	for (i = 0; i < width; i++)
		buf[2 + i] = (val >> (width - 1 - i)) & 1 ? '1' : '0';
	buf[2 + width] = '\0';
	s2_json_str(j, key, buf);
}
