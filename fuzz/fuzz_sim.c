// SPDX-License-Identifier: MIT
/*
 * fuzz_sim.c - libFuzzer target for the scenario language of `s2mmu sim` / `s2mmu dump`.
 *
 * The input is a scenario file (fuzz/corpus/sim/ holds the examples/ as seeds). It runs through
 * the tool's own parser and runner (tools/s2mmu: the s2mmu_sim library, sim_run_stream()),
 * in text or JSON mode (the input's length picks), and every VM left at the end is dumped in
 * each format: runs as text and JSON, Linux's ptdump format, SVG. Output goes to /dev/null.
 *
 * Work is bounded so that no input can hang the target: every SIZE of a slot, of `pkvm` and
 * of an ownership step is at most SIM_FUZZ_MAX_SIZE (sim_opts.max_size; a larger one is a
 * file error), an access takes at most SIM_MAX_RETRIES faults, and the input length bounds the
 * number of steps. A crash, a sanitizer report, a leak or a timeout is a bug; so is a status
 * other than SIM_OK, SIM_EXPECT, SIM_SYNTAX, and, in JSON mode, a document that is not strict
 * JSON in valid UTF-8 of the shape {"scenario", "steps": [...], ..., "status"} (checked by
 * the small independent parser below), whatever the input holds.
 */
#define _POSIX_C_SOURCE 200809L /* fmemopen */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include "sim.h"

#define SIM_FUZZ_MAX_SIZE (UINT64_C(16) << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sim_fuzz_null(void)
{
	static FILE *null;

	if (!null)
		null = fopen("/dev/null", "w");
	if (!null)
		abort();
	return null;
}

/* ---- a strict JSON checker (RFC 8259), independent of json.c ---------------------------- */

struct jp {
	const unsigned char *p, *end;
	int depth;
	bool keys[3]; /* top level: "scenario", "steps", "status" seen */
	bool status_last;
};

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

static bool jp_lit(struct jp *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n))
		return false;
	j->p += n;
	return true;
}

/* One UTF-8 scalar value: well-formed, shortest form, no surrogates, at most U+10FFFF. */
static bool jp_utf8(struct jp *j)
{
	const unsigned char *p = j->p;
	unsigned int n, cp;

	if (p[0] < 0x80) {
		j->p++;
		return true;
	}
	n = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (!n || (size_t)(j->end - p) < n)
		return false;
	cp = p[0] & (0x7f >> n);
	for (unsigned int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return false;
	j->p += n;
	return true;
}

static bool jp_string(struct jp *j, char *out, size_t outlen)
{
	size_t o = 0;

	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		if (*j->p < 0x20)
			return false;
		if (*j->p == '\\') {
			j->p++;
			if (j->p >= j->end)
				return false;
			if (*j->p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (j->p + i >= j->end ||
					    !strchr("0123456789abcdefABCDEF", j->p[i]) || !j->p[i])
						return false;
				j->p += 5;
			} else if (strchr("\"\\/bfnrt", *j->p) && *j->p) {
				j->p++;
			} else {
				return false;
			}
			continue;
		}
		if (out && o + 1 < outlen)
			out[o++] = (char)*j->p;
		if (!jp_utf8(j))
			return false;
	}
	if (out)
		out[o] = '\0';
	if (j->p >= j->end)
		return false;
	j->p++;
	return true;
}

static bool jp_number(struct jp *j)
{
	const unsigned char *start = j->p;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return false;
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	return j->p > start; /* the writer prints integers only */
}

static bool jp_value(struct jp *j);

static bool jp_container(struct jp *j, bool object)
{
	char key[16];
	bool first = true;

	if (++j->depth > 32)
		return false;
	j->p++;
	for (;;) {
		jp_ws(j);
		if (j->p < j->end && *j->p == (object ? '}' : ']') && first) {
			j->p++;
			break;
		}
		if (object) {
			if (!jp_string(j, key, sizeof(key)))
				return false;
			if (j->depth == 1) {
				j->keys[0] |= !strcmp(key, "scenario");
				j->keys[1] |= !strcmp(key, "steps");
				j->keys[2] |= !strcmp(key, "status");
				j->status_last = !strcmp(key, "status");
			}
			jp_ws(j);
			if (j->p >= j->end || *j->p != ':')
				return false;
			j->p++;
		}
		if (!jp_value(j))
			return false;
		first = false;
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == (object ? '}' : ']')) {
			j->p++;
			break;
		}
		return false;
	}
	j->depth--;
	return true;
}

static bool jp_value(struct jp *j)
{
	jp_ws(j);
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '{':
		return jp_container(j, true);
	case '[':
		return jp_container(j, false);
	case '"':
		return jp_string(j, NULL, 0);
	case 't':
		return jp_lit(j, "true");
	case 'f':
		return jp_lit(j, "false");
	case 'n':
		return jp_lit(j, "null");
	default:
		return jp_number(j);
	}
}

/* The JSON document of a run: strict JSON, UTF-8, the top-level keys in place. */
static void sim_fuzz_check_json(const char *doc, size_t len)
{
	struct jp j = { .p = (const unsigned char *)doc, .end = (const unsigned char *)doc + len };

	jp_ws(&j);
	if (j.p >= j.end || *j.p != '{' || !jp_value(&j))
		abort();
	jp_ws(&j);
	if (j.p != j.end || !j.keys[0] || !j.keys[1] || !j.keys[2] || !j.status_last)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_opts o = { .cmd = "fuzz",
			      .json = size & 1,
			      .out = sim_fuzz_null(),
			      .err = sim_fuzz_null(),
			      .max_size = SIM_FUZZ_MAX_SIZE };
	struct sim_vm *const *vms;
	struct sim *s;
	unsigned int n;
	int status;
	FILE *f, *json = NULL;
	char *doc = NULL;
	size_t doclen = 0;

	if (!size)
		return 0;
	if (o.json) {
		json = open_memstream(&doc, &doclen);
		if (!json)
			abort();
		o.out = json;
	}
	f = fmemopen((void *)(uintptr_t)data, size, "r");
	if (!f)
		abort();
	s = sim_open(&o);
	if (!s)
		abort();
	status = sim_run_stream(s, "fuzz.s2sim", f, true);
	if (status != SIM_OK && status != SIM_EXPECT && status != SIM_SYNTAX)
		abort();
	fclose(f);
	if (json) {
		if (fclose(json))
			abort();
		sim_fuzz_check_json(doc, doclen);
		free(doc);
		o.out = sim_fuzz_null();
	}
	vms = sim_vms(s, &n);
	if (n > SIM_MAX_VMS)
		abort();
	for (unsigned int i = 0; i < n; i++) {
		struct s2_json j;
		struct sim_runs r;

		if (sim_collect_runs(&vms[i]->vm.pgt, &r) == 0) {
			sim_dump_text(o.out, "vm", &vms[i]->vm.pgt, &r);
			s2_json_begin(&j, o.out);
			sim_dump_json(&j, vms[i]->id, &vms[i]->vm.pgt, &r);
			s2_json_end(&j);
		}
		sim_runs_free(&r);
		if (sim_dump_kvm(o.out, &vms[i]->vm.pgt))
			abort(); /* the walk of tables the library built cannot fail */
	}
	if (sim_svg_write_file(o.out, vms, n))
		abort();
	sim_close(s);
	return 0;
}
