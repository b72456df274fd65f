// SPDX-License-Identifier: MIT
/*
 * sim_dump.c - a VM's stage-2 tables as runs: one line per run of adjacent leaf entries (same
 * level, same attributes, contiguous output), stable enough to diff (no pointers, no table
 * addresses, no timing). Memory types are decoded with the VM's FWB mode (s2_memattr_type).
 */
#include "sim.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct sim_collect {
	struct s2_pte_format fmt;
	struct sim_runs *out;
};

static int sim_runs_push(struct sim_runs *r, const struct sim_run *run)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct sim_run *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return S2_ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = *run;
	return 0;
}

/* Whether @b continues run @a (same kind and attributes, adjacent IPA, contiguous output). */
static bool sim_run_extends(const struct sim_run *a, const struct sim_run *b)
{
	if (a->valid != b->valid || a->level != b->level || a->ipa + a->len != b->ipa)
		return false;
	if (!a->valid)
		return a->owner == b->owner;
	return a->pa + a->len == b->pa && a->memattr == b->memattr && a->s2ap == b->s2ap &&
	       a->xn == b->xn && a->sw == b->sw && a->af == b->af && a->dbm == b->dbm &&
	       a->contig == b->contig;
}

static int sim_collect_visit(void *arg, const struct s2_walk_visit *v)
{
	struct sim_collect *c = arg;
	struct s2_pte_fields f;
	struct sim_run run = { .ipa = s2_ipa_val(v->ipa),
			       .len = v->size,
			       .entry = v->size,
			       .count = 1,
			       .level = v->level };

	if (!(v->flag & S2_WALK_LEAF))
		return 0;
	s2_pte_decode(&c->fmt, v->level, v->pte, &f);
	if (f.kind == S2_PTE_KIND_BLOCK || f.kind == S2_PTE_KIND_PAGE) {
		run.valid = true;
		run.pa = s2_pa_val(f.oa);
		run.memattr = f.memattr;
		run.s2ap = f.s2ap;
		run.xn = f.xn;
		run.sw = f.sw;
		run.af = f.af;
		run.dbm = f.dbm;
		run.contig = f.contig;
		c->out->leaves[v->level + 1]++;
	} else if (f.kind == S2_PTE_KIND_INVALID && f.owner) {
		run.owner = f.owner;
		c->out->annotated++;
	} else {
		return 0;
	}
	if (c->out->n && sim_run_extends(&c->out->v[c->out->n - 1], &run)) {
		struct sim_run *last = &c->out->v[c->out->n - 1];

		last->len += run.len;
		last->count++;
		return 0;
	}
	return sim_runs_push(c->out, &run);
}

int sim_collect_runs(const struct s2_pgtable *pgt, struct sim_runs *out)
{
	struct sim_collect c = { .fmt = s2_config_pte_format(&pgt->cfg), .out = out };

	memset(out, 0, sizeof(*out));
	return s2_pgtable_walk(pgt, s2_ipa(0), UINT64_C(1) << pgt->cfg.ipa_bits,
			       S2_WALK_LEAF | S2_WALK_SKIP_EMPTY, sim_collect_visit, &c);
}

void sim_runs_free(struct sim_runs *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

const char *sim_run_type(const struct s2_config *cfg, const struct sim_run *r)
{
	return s2_memtype_name(s2_memattr_type(r->memattr, cfg->fwb));
}

void sim_run_perm(const struct s2_config *cfg, const struct sim_run *r, char out[4])
{
	out[0] = (r->s2ap & S2_S2AP_RO) ? 'r' : '-';
	out[1] = (r->s2ap & S2_S2AP_WO) ? 'w' : '-';
	if (!cfg->xnx) {
		/* Without FEAT_XNX only XN[1] (bit 54) exists (Arm ARM D8.4.3). */
		out[2] = (r->xn & 2) ? '-' : 'x';
	} else {
		switch (r->xn) {
		case S2_XN_NONE:
			out[2] = 'x';
			break;
		case S2_XN_EL1: /* EL0 may execute, EL1 may not */
			out[2] = 'u';
			break;
		case S2_XN_EL0: /* EL1 may execute, EL0 may not */
			out[2] = 'p';
			break;
		default:
			out[2] = '-';
			break;
		}
	}
	out[3] = '\0';
}

const char *sim_size_str(uint64_t size, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	uint64_t v = size;
	int u = -1;

	while (v >= 1024 && !(v & 1023) && u < 4) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, size);
	else
		snprintf(buf, len, "%" PRIu64 "%c", v, units[u]);
	return buf;
}

static int sim_hex_digits(const struct s2_config *cfg)
{
	unsigned int bits = cfg->ipa_bits > cfg->pa_bits ? cfg->ipa_bits : cfg->pa_bits;

	return (int)((bits + 3) / 4);
}

void sim_dump_text(FILE *out, const char *name, const struct s2_pgtable *pgt,
		   const struct sim_runs *r)
{
	const struct s2_config *cfg = &pgt->cfg;
	int w = sim_hex_digits(cfg);
	char e[24], perm[4];

	fprintf(out, "%s tables: %s granule, %u-bit IPA, %u-bit PA, start level %d x%u, fwb %s\n",
		name, s2_granule_name(cfg->granule), cfg->ipa_bits, cfg->pa_bits, cfg->start_level,
		cfg->root_tables, cfg->fwb ? "on" : "off");
	if (!r->n)
		fprintf(out, "  (nothing mapped)\n");
	for (size_t i = 0; i < r->n; i++) {
		const struct sim_run *run = &r->v[i];

		fprintf(out, "  0x%0*" PRIx64 "-0x%0*" PRIx64, w, run->ipa, w,
			run->ipa + run->len - 1);
		sim_size_str(run->entry, e, sizeof(e));
		if (!run->valid) {
			fprintf(out, " %-*s  L%d %4sx%-4u invalid owner=%u\n", w + 2, "-",
				run->level, e, run->count, run->owner);
			continue;
		}
		sim_run_perm(cfg, run, perm);
		fprintf(out, " 0x%0*" PRIx64 " L%d %4sx%-4u %s %-13s af=%d dbm=%d", w, run->pa,
			run->level, e, run->count, perm, sim_run_type(cfg, run), run->af, run->dbm);
		if (run->contig)
			fprintf(out, " contig");
		if (run->sw)
			fprintf(out, " sw=0x%x", run->sw);
		/* Page ownership keeps the page state in SW0|SW1 (owner.h); the VM layer never
		 * sets software bits, so a non-zero state is the owner layer's. */
		if (run->sw & 3)
			fprintf(out, " state=%s",
				s2_page_state_name((enum s2_page_state)(run->sw & 3)));
		fputc('\n', out);
	}
	fprintf(out,
		"  leaves: L0 %" PRIu64 ", L1 %" PRIu64 ", L2 %" PRIu64 ", L3 %" PRIu64
		"; annotated %" PRIu64 "\n",
		r->leaves[1], r->leaves[2], r->leaves[3], r->leaves[4], r->annotated);
}

void sim_dump_json(struct s2_json *j, unsigned int id, const struct s2_pgtable *pgt,
		   const struct sim_runs *r)
{
	char perm[4];

	s2_json_u64(j, "vm", id);
	s2_json_str(j, "granule", s2_granule_name(pgt->cfg.granule));
	s2_json_u64(j, "ipa_bits", pgt->cfg.ipa_bits);
	s2_json_bool(j, "fwb", pgt->cfg.fwb);
	s2_json_array_begin(j, "runs");
	for (size_t i = 0; i < r->n; i++) {
		const struct sim_run *run = &r->v[i];

		s2_json_object_begin(j, NULL);
		s2_json_hex(j, "ipa", run->ipa);
		s2_json_hex(j, "end", run->ipa + run->len - 1);
		s2_json_int(j, "level", run->level);
		s2_json_u64(j, "entry_size", run->entry);
		s2_json_u64(j, "count", run->count);
		s2_json_bool(j, "valid", run->valid);
		if (run->valid) {
			sim_run_perm(&pgt->cfg, run, perm);
			s2_json_hex(j, "pa", run->pa);
			s2_json_str(j, "perm", perm);
			s2_json_str(j, "type", sim_run_type(&pgt->cfg, run));
			s2_json_bin(j, "memattr", run->memattr, 4);
			s2_json_bool(j, "af", run->af);
			s2_json_bool(j, "dbm", run->dbm);
			s2_json_bool(j, "contig", run->contig);
			s2_json_u64(j, "sw", run->sw);
			if (run->sw & 3)
				s2_json_str(j, "state",
					    s2_page_state_name((enum s2_page_state)(run->sw & 3)));
		} else {
			s2_json_u64(j, "owner", run->owner);
		}
		s2_json_object_end(j);
	}
	s2_json_array_end(j);
}

/*
 * The format of Linux's debugfs stage2_page_tables (arch/arm64/kvm/ptdump.c over
 * arch/arm64/mm/ptdump.c's note_page(), Linux 6.12): a "---[ Guest IPA ]---" header, then one
 * line per run of entries visited in IPA order (valid leaves and invalid entries alike) with
 * the same level and the same bits under the attribute mask:
 *
 *	0x%016lx-0x%016lx   %9lu%c %s[ attributes]
 *
 * start and end (exclusive) IPA, the run's size in the largest unit of K, M, G, T, P, E that
 * divides it, the level, and, when any masked bit is set, six columns: " "/"F" (valid), "R",
 * "W", " "/"X" (XN, bit 54), "AF", "BLK" (a valid block, not a page) or blanks. The memory type
 * and output address are not part of it, so runs merge across them. Like Linux 6.12, which
 * prints a run only when the next one starts, the last run (up to the end of the IPA space) is
 * not printed.
 */
#define SIM_KVM_PTE_XN S2_BIT(54)
#define SIM_KVM_MASK \
	(S2_PTE_VALID | S2_PTE_S2AP_R | S2_PTE_S2AP_W | SIM_KVM_PTE_XN | S2_PTE_AF | S2_PTE_TYPE)

struct sim_kvm_state {
	FILE *out;
	bool started;
	int level;
	uint64_t prot, start;
};

static const struct {
	uint64_t mask, val;
	const char *set, *clear;
} sim_kvm_bits[] = {
	{ S2_PTE_VALID, S2_PTE_VALID, " ", "F" },
	{ S2_PTE_S2AP_R | S2_PTE_VALID, S2_PTE_S2AP_R | S2_PTE_VALID, "R", " " },
	{ S2_PTE_S2AP_W | S2_PTE_VALID, S2_PTE_S2AP_W | S2_PTE_VALID, "W", " " },
	{ SIM_KVM_PTE_XN | S2_PTE_VALID, S2_PTE_VALID, " ", "X" },
	{ S2_PTE_AF | S2_PTE_VALID, S2_PTE_AF | S2_PTE_VALID, "AF", "  " },
	{ S2_PTE_TYPE | S2_PTE_VALID, S2_PTE_VALID, "BLK", "   " },
};

static void sim_kvm_line(struct sim_kvm_state *st, uint64_t end)
{
	static const char units[] = "KMGTPE";
	const char *unit = units;
	uint64_t delta = (end - st->start) >> 10;

	fprintf(st->out, "0x%016" PRIx64 "-0x%016" PRIx64 "   ", st->start, end);
	while (!(delta & 1023) && unit[1]) {
		delta >>= 10;
		unit++;
	}
	fprintf(st->out, "%9" PRIu64 "%c %d", delta, *unit, st->level);
	if (st->prot)
		for (size_t i = 0; i < sizeof(sim_kvm_bits) / sizeof(sim_kvm_bits[0]); i++)
			fprintf(st->out, " %s",
				(st->prot & sim_kvm_bits[i].mask) == sim_kvm_bits[i].val ?
					sim_kvm_bits[i].set :
					sim_kvm_bits[i].clear);
	fputc('\n', st->out);
}

static int sim_kvm_visit(void *arg, const struct s2_walk_visit *v)
{
	struct sim_kvm_state *st = arg;
	uint64_t prot = v->pte & SIM_KVM_MASK, ipa = s2_ipa_val(v->ipa);

	if (!st->started) {
		st->started = true;
		fprintf(st->out, "---[ Guest IPA ]---\n");
	} else if (prot != st->prot || v->level != st->level) {
		sim_kvm_line(st, ipa);
	} else {
		return 0;
	}
	st->start = ipa;
	st->prot = prot;
	st->level = v->level;
	return 0;
}

int sim_dump_kvm(FILE *out, const struct s2_pgtable *pgt)
{
	struct sim_kvm_state st = { .out = out };

	return s2_pgtable_walk(pgt, s2_ipa(0), UINT64_C(1) << pgt->cfg.ipa_bits, S2_WALK_LEAF,
			       sim_kvm_visit, &st);
}
