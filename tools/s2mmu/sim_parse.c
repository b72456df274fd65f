// SPDX-License-Identifier: MIT
/*
 * sim_parse.c - the scenario language's words: messages, tokens, numbers and options, and
 * library errors waiting for `expect error`.
 */
#include "sim_int.h"
#include "args.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- messages ----------------------------------------------------------------------------- */

int sim_msg(struct sim *s, int status, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (s->line)
		snprintf(s->errmsg, sizeof(s->errmsg), "s2mmu: %s: %s:%u: %s", s->o.cmd, s->file,
			 s->line, buf);
	else if (s->file && s->file[0])
		snprintf(s->errmsg, sizeof(s->errmsg), "s2mmu: %s: %s: %s", s->o.cmd, s->file, buf);
	else
		snprintf(s->errmsg, sizeof(s->errmsg), "s2mmu: %s: %s", s->o.cmd, buf);
	if (!s->o.defer_error)
		sim_print_error(s);
	return status;
}

void sim_print_error(struct sim *s)
{
	if (!s->errmsg[0])
		return;
	fflush(s->out);
	fprintf(s->err, "%s\n", s->errmsg);
	s->errmsg[0] = '\0';
}

/* Text output of a step (nothing when quiet or in JSON mode). */
void sim_text(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (s->o.quiet || s->o.json)
		return;
	va_start(ap, fmt);
	vfprintf(s->out, fmt, ap);
	va_end(ap);
}

bool sim_jsonp(const struct sim *s)
{
	return s->o.json && !s->o.quiet;
}

/* Open a step object in the JSON "steps" array. */
void sim_jstep(struct sim *s, const char *step)
{
	if (!sim_jsonp(s))
		return;
	s2_json_object_begin(&s->j, NULL);
	s2_json_u64(&s->j, "line", s->line);
	s2_json_str(&s->j, "step", step);
	if (s->cur)
		s2_json_u64(&s->j, "vm", s->cur->id);
}

void sim_jend(struct sim *s)
{
	if (sim_jsonp(s))
		s2_json_object_end(&s->j);
}

/* ---- tokens and numbers ------------------------------------------------------------------- */

/* Split @line (modified in place); '#' starts a comment. Return: 0; -1 for too many tokens. */
int sim_tokenize(char *line, struct sim_toks *t)
{
	char *p = line;

	memset(t, 0, sizeof(*t));
	for (;;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			break;
		if (t->n == SIM_MAX_TOKENS)
			return -1;
		t->v[t->n++] = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	return 0;
}

/* The text of @raw after its first word, without the line end (for echo). */
char *sim_rest(char *raw)
{
	char *p = raw, *e;

	while (*p && isspace((unsigned char)*p))
		p++;
	while (*p && !isspace((unsigned char)*p))
		p++;
	while (*p && isspace((unsigned char)*p))
		p++;
	e = strstr(p, " #"); /* a comment ends the text, as elsewhere */
	if (e)
		*e = '\0';
	if (*p == '#')
		*p = '\0';
	e = p + strlen(p);
	while (e > p && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return p;
}

/* A number: decimal or 0x hex, with an optional binary suffix K, M, G or T. */
static int sim_parse_num(const char *str, uint64_t *out)
{
	char buf[64];
	size_t len = strlen(str);
	unsigned int shift = 0;
	uint64_t v;

	if (!len || len >= sizeof(buf))
		return -1;
	memcpy(buf, str, len + 1);
	if (!(len > 2 && (buf[1] == 'x' || buf[1] == 'X'))) {
		switch (buf[len - 1]) {
		case 'K':
		case 'k':
			shift = 10;
			break;
		case 'M':
		case 'm':
			shift = 20;
			break;
		case 'G':
		case 'g':
			shift = 30;
			break;
		case 'T':
		case 't':
			shift = 40;
			break;
		default:
			break;
		}
		if (shift)
			buf[--len] = '\0';
	}
	if (s2_cli_parse_u64(buf, &v))
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

int sim_num(struct sim *s, const char *what, const char *str, uint64_t *out)
{
	if (sim_parse_num(str, out))
		return sim_syntax(s, "bad number '%s' for %s", str, what);
	return 0;
}

/* A range [@base, @base + @size) must not wrap past 2^64, nor exceed the run's size limit. */
int sim_range(struct sim *s, const char *what, uint64_t base, uint64_t size)
{
	if (size && base + (size - 1) < base)
		return sim_syntax(s, "%s 0x%" PRIx64 " + size 0x%" PRIx64 " wraps past 2^64", what,
				  base, size);
	if (s->o.max_size && size > s->o.max_size)
		return sim_syntax(s, "size 0x%" PRIx64 " exceeds this run's limit 0x%" PRIx64, size,
				  s->o.max_size);
	return 0;
}

/* "key=value" token @tok with key @key: *@val gets the value. */
static bool sim_kv(const char *tok, const char *key, const char **val)
{
	size_t k = strlen(key);

	if (strncmp(tok, key, k) || tok[k] != '=')
		return false;
	*val = tok + k + 1;
	return true;
}

/* Find option @key among the tokens from @from: "key=value" (*@val set) or a bare "key". */
bool sim_opt(struct sim_toks *t, int from, const char *key, const char **val)
{
	for (int i = from; i < t->n; i++) {
		const char *v;

		if (sim_kv(t->v[i], key, &v)) {
			t->used[i] = true;
			if (val)
				*val = v;
			return true;
		}
		if (!strcmp(t->v[i], key)) {
			t->used[i] = true;
			if (val)
				*val = NULL;
			return true;
		}
	}
	return false;
}

int sim_opt_num(struct sim *s, struct sim_toks *t, int from, const char *key, uint64_t *out,
		bool *given)
{
	const char *v;

	*given = sim_opt(t, from, key, &v);
	if (!*given)
		return 0;
	if (!v)
		return sim_syntax(s, "%s needs a value (%s=N)", key, key);
	return sim_num(s, key, v, out);
}

/* Option @key as a number in [@min, @max]: a value outside is refused, never truncated. */
int sim_opt_range(struct sim *s, struct sim_toks *t, int from, const char *key, uint64_t min,
		  uint64_t max, uint64_t *out, bool *given)
{
	int ret = sim_opt_num(s, t, from, key, out, given);

	if (ret || !*given)
		return ret;
	if (*out < min || *out > max)
		return sim_syntax(s, "%s=%" PRIu64 " is out of range (%" PRIu64 "..%" PRIu64 ")",
				  key, *out, min, max);
	return 0;
}

/* Option @key as a translation level, -1..3 ("level=-1": LPA2's extra level). */
int sim_opt_level(struct sim *s, struct sim_toks *t, int from, const char *key, int *out,
		  bool *given)
{
	const char *v;

	*given = sim_opt(t, from, key, &v);
	if (!*given)
		return 0;
	if (v && (!strcmp(v, "-1") || (v[0] >= '0' && v[0] <= '3' && !v[1]))) {
		*out = v[0] == '-' ? -1 : v[0] - '0';
		return 0;
	}
	return sim_syntax(s, "bad %s '%s' (a level is -1, 0, 1, 2 or 3)", key, v ? v : "");
}

int sim_opt_flag(struct sim *s, struct sim_toks *t, int from, const char *key, bool *out)
{
	const char *v;

	if (!sim_opt(t, from, key, &v))
		return 0;
	if (!v || !strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "yes")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no")) {
		*out = false;
		return 0;
	}
	return sim_syntax(s, "bad value '%s' for %s (on or off)", v, key);
}

/* Every token from @from on must have been consumed. */
int sim_leftover(struct sim *s, struct sim_toks *t, int from)
{
	for (int i = from; i < t->n; i++)
		if (!t->used[i])
			return sim_syntax(s, "unexpected '%s' in '%s'", t->v[i], t->v[0]);
	return 0;
}

/* ---- library errors and `expect error` ---------------------------------------------------- */

/* A library call of a step failed: remember it for `expect error` on the next line. */
void sim_lib_error(struct sim *s, const char *what, int err)
{
	s->pending_err = err;
	s->pending_line = s->line;
	snprintf(s->pending_what, sizeof(s->pending_what), "%s", what);
	sim_text(s, "%s: error %s (%s)\n", what, s2_errname(err), s2_strerror(err));
	if (sim_jsonp(s))
		s2_json_str(&s->j, "error", s2_errname(err));
}
