// SPDX-License-Identifier: MIT
/*
 * sim_expect.c - the `expect` step: checks of the last outcome of each kind of step.
 */
#include "sim_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- expect ------------------------------------------------------------------------------- */

static int sim_need(struct sim *s, bool have, const char *what)
{
	if (!have)
		return sim_syntax(s, "'expect' about %s, but there was none before", what);
	return 0;
}

static bool sim_acc_fault(const struct sim_access *a, enum s2_fault k, int level, bool any_level)
{
	for (unsigned int i = 0; i < a->nr_faults; i++)
		if (a->faults[i].kind == k && (any_level || a->faults[i].level == level))
			return true;
	return false;
}

static int sim_parse_fault(const char *n, enum s2_fault *out)
{
	for (int k = S2_FAULT_ADDRESS_SIZE; k <= S2_FAULT_OTHER; k++)
		if (!strcmp(n, s2_fault_name((enum s2_fault)k))) {
			*out = (enum s2_fault)k;
			return 0;
		}
	return -1;
}

static int sim_expect_access(struct sim *s, struct sim_toks *t, const char *what)
{
	const struct sim_access *a = &s->acc;
	const struct sim_fault *last;
	uint64_t v;
	bool given;
	int ret;

	if ((ret = sim_need(s, s->have_acc, "a guest access")))
		return ret;
	last = a->nr_faults ? &a->faults[a->nr_faults - 1] : NULL;
	if (!strcmp(what, "ok") || !strcmp(what, "resume")) {
		if ((ret = sim_opt_num(s, t, 2, "pa", &v, &given)) || (ret = sim_leftover(s, t, 2)))
			return ret;
		if (a->result != ACC_OK)
			return sim_expect_fail(s,
					       "expected the access of line %u to complete, it "
					       "ended in %s",
					       a->line, sim_result_name(a));
		if (given && a->pa != v)
			return sim_expect_fail(s, "expected pa 0x%" PRIx64 ", got 0x%" PRIx64, v,
					       a->pa);
		return 0;
	}
	if (!strcmp(what, "mmio-exit")) {
		bool rd = sim_opt(t, 2, "read", NULL), wr = sim_opt(t, 2, "write", NULL);
		bool nosyn = sim_opt(t, 2, "no-syndrome", NULL);

		if ((ret = sim_opt_num(s, t, 2, "size", &v, &given)) ||
		    (ret = sim_leftover(s, t, 2)))
			return ret;
		if (a->result != ACC_MMIO)
			return sim_expect_fail(s, "expected an MMIO exit from line %u, got %s",
					       a->line, sim_result_name(a));
		if ((rd && last->r.mmio.write) || (wr && !last->r.mmio.write))
			return sim_expect_fail(s, "expected an MMIO %s, got a %s",
					       rd ? "read" : "write",
					       last->r.mmio.write ? "write" : "read");
		if (given && (!last->r.mmio.syndrome || last->r.mmio.size != v))
			return sim_expect_fail(s, "expected an MMIO access of %" PRIu64 " bytes",
					       v);
		if (nosyn && last->r.mmio.syndrome)
			return sim_expect_fail(s, "expected an MMIO exit without syndrome");
		return 0;
	}
	if (!strcmp(what, "nisv-exit")) {
		bool rd = sim_opt(t, 2, "read", NULL), wr = sim_opt(t, 2, "write", NULL);

		if ((ret = sim_opt_num(s, t, 2, "ipa", &v, &given)) ||
		    (ret = sim_leftover(s, t, 2)))
			return ret;
		if (a->result != ACC_NISV)
			return sim_expect_fail(s,
					       "expected an exit without syndrome (nisv) from line "
					       "%u, got %s",
					       a->line, sim_result_name(a));
		if ((rd && last->r.write) || (wr && !last->r.write))
			return sim_expect_fail(s, "expected a nisv %s, got a %s",
					       rd ? "read" : "write",
					       last->r.write ? "write" : "read");
		if (given && s2_ipa_val(last->r.ipa) != v)
			return sim_expect_fail(
				s, "expected a nisv exit at ipa 0x%" PRIx64 ", got 0x%" PRIx64, v,
				s2_ipa_val(last->r.ipa));
		return 0;
	}
	if (!strcmp(what, "inject")) {
		if (a->result != ACC_INJECT)
			return sim_expect_fail(s, "expected an injected abort from line %u, got %s",
					       a->line, sim_result_name(a));
		if (t->n > 2) {
			t->used[2] = true;
			if (strcmp(t->v[2], s2_inject_reason_name(last->r.inject)))
				return sim_expect_fail(s, "expected inject %s, got inject %s",
						       t->v[2],
						       s2_inject_reason_name(last->r.inject));
		}
		return sim_leftover(s, t, 2);
	}
	if (!strcmp(what, "faults")) {
		if (t->n != 3 || (ret = sim_num(s, "the fault count", t->v[2], &v)))
			return t->n != 3 ? sim_syntax(s, "usage: expect faults N") : ret;
		if (a->nr_faults != v)
			return sim_expect_fail(s, "expected %" PRIu64 " faults at line %u, got %u",
					       v, a->line, a->nr_faults);
		return 0;
	}
	if (!strcmp(what, "fault")) {
		enum s2_fault k;
		int lvl = 0;

		if (t->n < 3 || sim_parse_fault(t->v[2], &k))
			return sim_syntax(s, "usage: expect fault KIND [level=L] (KIND: "
					     "translation, permission, access-flag, ...)");
		t->used[2] = true;
		if ((ret = sim_opt_level(s, t, 3, "level", &lvl, &given)) ||
		    (ret = sim_leftover(s, t, 3)))
			return ret;
		if (!sim_acc_fault(a, k, lvl, !given))
			return sim_expect_fail(s, "expected a %s fault%s at line %u", t->v[2],
					       given ? " at that level" : "", a->line);
		return 0;
	}
	if (!strcmp(what, "esr")) {
		if (t->n != 3 || (ret = sim_num(s, "the ESR", t->v[2], &v)))
			return t->n != 3 ? sim_syntax(s, "usage: expect esr VALUE") : ret;
		if (!last)
			return sim_expect_fail(s,
					       "expected ESR 0x%" PRIx64
					       ", the access of line %u took no fault",
					       v, a->line);
		if (last->esr != v)
			return sim_expect_fail(s, "expected ESR 0x%" PRIx64 ", got 0x%" PRIx64, v,
					       last->esr);
		return 0;
	}
	if (!strcmp(what, "tlb-hit")) {
		if ((ret = sim_leftover(s, t, 2)))
			return ret;
		if (!a->tlb_hit)
			return sim_expect_fail(s, "expected the access of line %u to hit the TLB",
					       a->line);
		return 0;
	}
	return sim_syntax(s, "unknown expectation '%s'", what);
}

static int sim_expect_mapping(struct sim *s, struct sim_toks *t, bool want)
{
	struct s2_lookup lk;
	struct s2_pte_fields f;
	struct s2_pte_format fmt;
	struct sim_run run;
	uint64_t ipa, v;
	const char *str;
	bool given;
	char perm[4];
	int ret, lvl = 0;

	if ((ret = sim_need_vm(s)))
		return ret;
	if (t->n < 3)
		return sim_syntax(s, "usage: expect %s IPA ...", t->v[1]);
	if ((ret = sim_num(s, "the IPA", t->v[2], &ipa)))
		return ret;
	t->used[2] = true;
	ret = s2_pgtable_lookup(&s->cur->vm.pgt, s2_ipa(ipa), &lk);
	if (ret)
		return sim_expect_fail(s, "lookup of 0x%" PRIx64 ": %s", ipa, s2_errname(ret));
	if (!want) {
		if ((ret = sim_leftover(s, t, 3)))
			return ret;
		if (lk.valid)
			return sim_expect_fail(
				s, "expected 0x%" PRIx64 " unmapped, it maps 0x%" PRIx64, ipa,
				s2_pa_val(lk.pa));
		return 0;
	}
	if (!lk.valid)
		return sim_expect_fail(s, "expected 0x%" PRIx64 " mapped, it is not", ipa);
	fmt = s2_config_pte_format(&s->cur->vm.pgt.cfg);
	s2_pte_decode(&fmt, lk.level, lk.pte, &f);
	memset(&run, 0, sizeof(run));
	run.valid = true;
	run.memattr = f.memattr;
	run.s2ap = f.s2ap;
	run.xn = f.xn;
	sim_run_perm(&s->cur->vm.pgt.cfg, &run, perm);
	if ((ret = sim_opt_num(s, t, 3, "pa", &v, &given)))
		return ret;
	if (given && s2_pa_val(lk.pa) != v)
		return sim_expect_fail(s,
				       "0x%" PRIx64 ": expected pa 0x%" PRIx64 ", got 0x%" PRIx64,
				       ipa, v, s2_pa_val(lk.pa));
	if ((ret = sim_opt_level(s, t, 3, "level", &lvl, &given)))
		return ret;
	if (given && lk.level != lvl)
		return sim_expect_fail(s, "0x%" PRIx64 ": expected level %d, got %d", ipa, lvl,
				       lk.level);
	if ((ret = sim_opt_num(s, t, 3, "size", &v, &given)))
		return ret;
	if (given && lk.size != v)
		return sim_expect_fail(
			s, "0x%" PRIx64 ": expected a %" PRIu64 "-byte leaf, got %" PRIu64, ipa, v,
			lk.size);
	if (sim_opt(t, 3, "type", &str) &&
	    (!str || strcmp(str, sim_run_type(&s->cur->vm.pgt.cfg, &run))))
		return sim_expect_fail(s, "0x%" PRIx64 ": expected type %s, got %s", ipa,
				       str ? str : "?", sim_run_type(&s->cur->vm.pgt.cfg, &run));
	if (sim_opt(t, 3, "perm", &str) && (!str || strcmp(str, perm)))
		return sim_expect_fail(s, "0x%" PRIx64 ": expected perm %s, got %s", ipa,
				       str ? str : "?", perm);
	if ((ret = sim_opt_range(s, t, 3, "memattr", 0, 15, &v, &given)))
		return ret;
	if (given && f.memattr != v)
		return sim_expect_fail(s, "0x%" PRIx64 ": expected MemAttr 0x%" PRIx64 ", got 0x%x",
				       ipa, v, f.memattr);
	if ((ret = sim_opt_range(s, t, 3, "af", 0, 1, &v, &given)))
		return ret;
	if (given && (uint64_t)f.af != v)
		return sim_expect_fail(s, "0x%" PRIx64 ": expected af=%" PRIu64, ipa, v);
	if ((ret = sim_opt_range(s, t, 3, "dbm", 0, 1, &v, &given)))
		return ret;
	if (given && (uint64_t)f.dbm != v)
		return sim_expect_fail(s, "0x%" PRIx64 ": expected dbm=%" PRIu64, ipa, v);
	return sim_leftover(s, t, 3);
}

static int sim_expect_dirty(struct sim *s, struct sim_toks *t)
{
	uint64_t want[512];
	size_t nw = 0;
	uint64_t g;
	int ret;

	if ((ret = sim_need(s, s->have_dirty, "a dirty harvest")))
		return ret;
	g = s2_granule_size(s->cur->vm.pgt.cfg.granule);
	if (!(t->n == 3 && !strcmp(t->v[2], "none"))) {
		for (int i = 2; i < t->n; i++) {
			char *dots = strstr(t->v[i], "..");
			uint64_t a, b;

			if (dots) {
				*dots = '\0';
				if ((ret = sim_num(s, "a page IPA", t->v[i], &a)) ||
				    (ret = sim_num(s, "a page IPA", dots + 2, &b)))
					return ret;
				if (a > b)
					return sim_syntax(s,
							  "0x%" PRIx64 "..0x%" PRIx64
							  " ends before it starts",
							  a, b);
			} else {
				if ((ret = sim_num(s, "a page IPA", t->v[i], &a)))
					return ret;
				b = a;
			}
			for (uint64_t p = a; p <= b; p += g) {
				if (nw == 512)
					return sim_syntax(s, "at most 512 pages in 'expect dirty'");
				want[nw++] = p;
			}
		}
		if (!nw)
			return sim_syntax(s, "usage: expect dirty IPA... | none");
	}
	if (nw != s->nr_dirty)
		return sim_expect_fail(s, "expected %zu dirty pages, the harvest had %zu", nw,
				       s->nr_dirty);
	for (size_t i = 0; i < nw; i++)
		if (want[i] != s->dirty[i])
			return sim_expect_fail(
				s, "expected dirty page 0x%" PRIx64 ", harvest has 0x%" PRIx64,
				want[i], s->dirty[i]);
	return 0;
}

static int sim_expect_count(struct sim *s, struct sim_toks *t, bool have, uint64_t got,
			    const char *what)
{
	uint64_t v;
	int ret;

	if ((ret = sim_need(s, have, what)))
		return ret;
	if (t->n != 3)
		return sim_syntax(s, "usage: expect %s N", t->v[1]);
	if ((ret = sim_num(s, t->v[1], t->v[2], &v)))
		return ret;
	if (v != got)
		return sim_expect_fail(s, "expected %s %" PRIu64 ", got %" PRIu64, t->v[1], v, got);
	return 0;
}

int sim_step_expect(struct sim *s, struct sim_toks *t)
{
	const char *what;

	if (t->n < 2)
		return sim_syntax(s, "usage: expect WHAT ...");
	what = t->v[1];
	t->used[0] = t->used[1] = true;
	if (!strcmp(what, "error")) {
		int want = 0;

		if (t->n != 3)
			return sim_syntax(s, "usage: expect error S2_EXXX");
		for (int e = S2_ERROR_MIN; e < 0; e++) {
			const char *n = s2_errname(e);

			if (!strcmp(n, t->v[2]) ||
			    (!strncmp(n, "S2_", 3) && !strcmp(n + 3, t->v[2])))
				want = e;
		}
		if (!want)
			return sim_syntax(s, "unknown error name '%s'", t->v[2]);
		if (!s->pending_err)
			return sim_expect_fail(s, "expected error %s, the previous step succeeded",
					       t->v[2]);
		if (s->pending_err != want)
			return sim_expect_fail(s, "expected error %s, got %s", t->v[2],
					       s2_errname(s->pending_err));
		s->pending_err = 0;
		return 0;
	}
	if (!strcmp(what, "dirty"))
		return sim_expect_dirty(s, t);
	if (!strcmp(what, "mapped"))
		return sim_expect_mapping(s, t, true);
	if (!strcmp(what, "unmapped"))
		return sim_expect_mapping(s, t, false);
	if (!strcmp(what, "young"))
		return sim_expect_count(s, t, s->have_young, s->young, "aging");
	if (!strcmp(what, "invalidated"))
		return sim_expect_count(s, t, s->have_unmapped, s->unmapped, "an invalidation");
	if (!strcmp(what, "cmo"))
		return sim_expect_count(s, t, s->have_cmo, s->cmo, "a vCPU entry");
	if (!strcmp(what, "page"))
		return sim_expect_page(s, t);
	if (!strcmp(what, "guest-page"))
		return sim_expect_guest_page(s, t);
	if (!strcmp(what, "host-ok") || !strcmp(what, "host-inject")) {
		int ret = sim_need(s, s->have_host_result, "a host access");

		if (ret || (ret = sim_leftover(s, t, 2)))
			return ret;
		if (s->host_result != (what[5] == 'i'))
			return sim_expect_fail(s, "expected %s, the host access got %s", what,
					       s->host_result ? "inject" : "ok");
		return 0;
	}
	if (!strcmp(what, "stale")) {
		sim_check_tlb(s);
		return sim_expect_count(s, t, true, s->stale, "stale");
	}
	return sim_expect_access(s, t, what);
}
