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

/* Write @str as a JSON string literal (RFC 8259 section 7 escapes). */
static void s2_json_quote(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");

	fputc('"', out);
	for (; *s; s++) {
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
			if (*s < 0x20)
				fprintf(out, "\\u%04x", *s);
			else
				fputc(*s, out);
		}
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
