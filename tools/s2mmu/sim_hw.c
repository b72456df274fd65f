// SPDX-License-Identifier: MIT
/*
 * sim_hw.c - the modelled hardware of `s2mmu sim` (docs/sim.md): guest accesses and the TLB
 * check.
 *
 * A guest access is what the hardware would do: a TLB hit that permits the access is used
 * without a walk; otherwise s2_walk() translates the IPA from the VM's real tables (hardware
 * AF/DBM updates included when the VM has HA/HD) and a success is cached in the TLB model. A
 * fault becomes ESR_EL2/FAR_EL2/HPFAR_EL2 as the hardware reports it (Arm ARM D19.2.48):
 * EC 0x24 (data abort from a lower EL) or 0x20 (instruction abort from a lower EL), IL=1,
 * DFSC/IFSC = s2_fsc_encode(kind, level), WnR for writes, ISV=1 with SAS/SSE/SRT/SF for plain
 * loads and stores (not for stage-1 walks, S1PTW=1 then), HPFAR_EL2.FIPA[43:4] = IPA[51:12],
 * FAR_EL2 = the IPA itself (the simulator has no stage 1: the guest VA is taken equal to the
 * IPA). It goes to s2_vm_handle_abort() and the access is retried after a resume, at most
 * SIM_MAX_RETRIES faults.
 */
#include "sim_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ESR_EL2 fields (Arm ARM D19.2.48, ISS encoding for data and instruction aborts). */
#define ESR_EC_SHIFT 26
#define ESR_IL S2_BIT(25)
#define ESR_ISV S2_BIT(24)
#define ESR_SAS_SHIFT 22
#define ESR_SSE S2_BIT(21)
#define ESR_SRT_SHIFT 16
#define ESR_SF S2_BIT(15)
#define ESR_S1PTW S2_BIT(7)
#define ESR_WNR S2_BIT(6)

static const char *const sim_form_names[] = { "plain",	    "pair",   "pre-index",
					      "post-index", "atomic", "dc-zva" };

#define SIM_DCZVA_BYTES 64 /* DCZID_EL0.BS = 4: the usual 64-byte block */

/* ---- guest accesses ----------------------------------------------------------------------- */

static const char *sim_access_name(enum s2_access_type t)
{
	return t == S2_ACCESS_READ ? "read" : t == S2_ACCESS_WRITE ? "write" : "exec";
}

/* Whether a cached translation permits @a (S2AP, XN with FEAT_XNX: Arm ARM D8.4.3). */
static bool sim_tlb_permits(const struct s2_config *cfg, const struct s2_tlb_entry *e,
			    const struct sim_access *a)
{
	switch (a->type) {
	case S2_ACCESS_READ:
		return e->s2ap & S2_S2AP_RO;
	case S2_ACCESS_WRITE:
		return e->s2ap & S2_S2AP_WO;
	default:
		if (!cfg->xnx)
			return !(e->xn & 2);
		if (e->xn == S2_XN_ALL)
			return false;
		if (e->xn == S2_XN_EL1)
			return a->el0;
		if (e->xn == S2_XN_EL0)
			return !a->el0;
		return true;
	}
}

static unsigned int sim_log2(unsigned int v)
{
	unsigned int l = 0;

	while (v >>= 1)
		l++;
	return l;
}

/* ESR_EL2 for a stage-2 fault of access @a (Arm ARM D19.2.48); @write: WnR. */
static uint64_t sim_esr(const struct sim_access *a, enum s2_fault kind, int level, bool write)
{
	int fsc = s2_fsc_encode(kind, level);
	uint64_t esr = ESR_IL | (uint64_t)(fsc < 0 ? 0 : fsc);

	if (a->type == S2_ACCESS_EXEC) {
		esr |= (uint64_t)S2_EC_IABT_LOW << ESR_EC_SHIFT;
		if (a->s1ptw)
			esr |= ESR_S1PTW;
		return esr;
	}
	esr |= (uint64_t)S2_EC_DABT_LOW << ESR_EC_SHIFT;
	if (write)
		esr |= ESR_WNR;
	if (a->s1ptw) {
		/* A stage-1 walk: no instruction syndrome; WnR says whether the walk wrote
		 * (a hardware AF/dirty update of a stage-1 descriptor). */
		return esr | ESR_S1PTW;
	}
	if (a->form != FORM_PLAIN)
		return esr; /* ISV = 0: SAS, SSE, SRT, SF and AR are RES0 */
	esr |= ESR_ISV | ((uint64_t)sim_log2(a->size) << ESR_SAS_SHIFT) |
	       ((uint64_t)a->reg << ESR_SRT_SHIFT);
	if (a->sext)
		esr |= ESR_SSE;
	if (a->size == 8 || a->sext)
		esr |= ESR_SF; /* a 64-bit register (LDR Xt, or LDRS* Xt) */
	return esr;
}

/* Translate @a as an access of @type: a TLB hit that permits it, else a walk. Return: 0 (see
 * @a->w, @a->tlb_hit, @a->pa) or the walker's error. */
static int sim_translate(struct sim *s, struct sim_vm *sv, struct sim_access *a,
			 enum s2_access_type type)
{
	struct s2_walk_mem mem = s2_host_port_walk_mem(s->hp);
	const struct s2_config *cfg = &sv->vm.pgt.cfg;
	struct s2_access acc = { .type = type, .el0 = a->el0, .s1ptw = a->s1ptw };
	const struct s2_tlb_entry *e = s2_tlb_lookup(&s->tlb, sv->vm.vmid, s2_ipa(a->ipa));
	struct sim_access probe = *a;
	int ret;

	probe.type = type;
	if (e && sim_tlb_permits(cfg, e, &probe)) {
		a->tlb_hit = true;
		a->pa = s2_pa_val(e->pa) + (a->ipa - s2_ipa_val(e->ipa));
		memset(&a->w, 0, sizeof(a->w));
		a->w.fault = S2_FAULT_NONE;
		a->w.level = e->level;
		a->w.block_size = e->block_size;
		return 0;
	}
	a->tlb_hit = false;
	ret = s2_walk(cfg, sv->vm.pgt.root_pa, &mem, s2_ipa(a->ipa), acc, &a->w);
	if (ret || a->w.fault != S2_FAULT_NONE)
		return ret;
	a->pa = s2_pa_val(a->w.pa);
	s2_tlb_fill(&s->tlb, sv->vm.vmid, s2_ipa(a->ipa), &a->w);
	return 0;
}

/*
 * Run access @a until it completes, exits or is injected. An atomic is a read and a write of
 * the same location: its fault is reported with WnR = 0 when the read faults, else WnR = 1
 * (Arm ARM D19.2.48, WnR).
 */
static void sim_run_access(struct sim *s, struct sim_vm *sv, struct sim_access *a)
{
	for (;;) {
		struct sim_fault *f;
		bool write = a->type == S2_ACCESS_WRITE;
		int ret;

		if (a->form == FORM_ATOMIC) {
			bool hit;

			write = false;
			ret = sim_translate(s, sv, a, S2_ACCESS_READ);
			hit = a->tlb_hit;
			if (!ret && a->w.fault == S2_FAULT_NONE) {
				write = true;
				ret = sim_translate(s, sv, a, S2_ACCESS_WRITE);
				a->tlb_hit = a->tlb_hit && hit;
			}
		} else {
			ret = sim_translate(s, sv, a, a->type);
		}
		if (ret) {
			a->result = ACC_ERROR;
			return;
		}
		if (a->w.fault == S2_FAULT_NONE) {
			a->result = ACC_OK;
			return;
		}
		if (a->nr_faults == SIM_MAX_FAULTS) {
			a->result = ACC_STUCK;
			return;
		}
		f = &a->faults[a->nr_faults++];
		f->kind = a->w.fault;
		f->level = a->w.level;
		f->write = write;
		s->faults[f->kind <= S2_FAULT_OTHER ? f->kind : S2_FAULT_OTHER]++;
		f->esr = sim_esr(a, f->kind, f->level, write);
		f->far = a->ipa; /* no stage 1: the guest VA is the IPA */
		f->hpfar = (a->ipa >> 12) << 4; /* FIPA [43:4] = IPA[51:12] */
		f->ret = s2_vm_handle_abort(&sv->vcpu, f->esr, f->far, f->hpfar, &f->r);
		if (f->ret) {
			a->result = ACC_ERROR;
			return;
		}
		switch (f->r.action) {
		case S2_ABORT_MMIO:
			a->result = ACC_MMIO;
			return;
		case S2_ABORT_INJECT:
			a->result = ACC_INJECT;
			return;
		case S2_ABORT_NISV:
			a->result = ACC_NISV;
			return;
		default:
			break;
		}
	}
}

const char *sim_result_name(const struct sim_access *a)
{
	static const char *const n[] = {
		"ok", "mmio-exit", "inject", "error", "stuck", "nisv-exit"
	};

	return n[a->result];
}

static void sim_print_access(struct sim *s, struct sim_vm *sv, const struct sim_access *a)
{
	const struct sim_fault *last = a->nr_faults ? &a->faults[a->nr_faults - 1] : NULL;
	char sz[24];

	if (sim_jsonp(s)) {
		s2_json_str(&s->j, "access", sim_access_name(a->type));
		s2_json_hex(&s->j, "ipa", a->ipa);
		s2_json_u64(&s->j, "size", a->size);
		s2_json_bool(&s->j, "el0", a->el0);
		s2_json_bool(&s->j, "s1ptw", a->s1ptw);
		s2_json_str(&s->j, "form", sim_form_names[a->form]);
		s2_json_str(&s->j, "result", sim_result_name(a));
		if (a->result == ACC_OK) {
			s2_json_hex(&s->j, "pa", a->pa);
			s2_json_bool(&s->j, "tlb_hit", a->tlb_hit);
		}
		if (a->result == ACC_MMIO) {
			const struct s2_mmio_access *m = &last->r.mmio;

			s2_json_object_begin(&s->j, "mmio");
			s2_json_hex(&s->j, "ipa", s2_ipa_val(m->ipa));
			s2_json_bool(&s->j, "write", m->write);
			s2_json_bool(&s->j, "syndrome", m->syndrome);
			s2_json_u64(&s->j, "size", m->size);
			s2_json_u64(&s->j, "reg", m->reg);
			s2_json_bool(&s->j, "sign_extend", m->sign_extend);
			s2_json_bool(&s->j, "reg64", m->reg64);
			s2_json_object_end(&s->j);
		}
		if (a->result == ACC_INJECT)
			s2_json_str(&s->j, "inject", s2_inject_reason_name(last->r.inject));
		if (a->result == ACC_NISV) {
			s2_json_object_begin(&s->j, "nisv");
			s2_json_hex(&s->j, "ipa", s2_ipa_val(last->r.ipa));
			s2_json_bool(&s->j, "write", last->r.write);
			s2_json_object_end(&s->j);
		}
		s2_json_array_begin(&s->j, "faults");
		for (unsigned int i = 0; i < a->nr_faults; i++) {
			const struct sim_fault *f = &a->faults[i];

			s2_json_object_begin(&s->j, NULL);
			s2_json_str(&s->j, "kind", s2_fault_name(f->kind));
			s2_json_int(&s->j, "level", f->level);
			s2_json_hex(&s->j, "esr", f->esr);
			s2_json_bool(&s->j, "isv", (f->esr & ESR_ISV) != 0);
			s2_json_bool(&s->j, "wnr", (f->esr & ESR_WNR) != 0);
			s2_json_hex(&s->j, "far", f->far);
			s2_json_hex(&s->j, "hpfar", f->hpfar);
			if (f->ret) {
				s2_json_str(&s->j, "error", s2_errname(f->ret));
			} else {
				s2_json_str(&s->j, "action", s2_abort_action_name(f->r.action));
				if (f->r.action == S2_ABORT_RESUME)
					s2_json_str(&s->j, "resume",
						    s2_resume_reason_name(f->r.resume));
				if (f->r.resume == S2_RESUME_MAPPED &&
				    f->r.action == S2_ABORT_RESUME)
					s2_json_u64(&s->j, "map_size", f->r.map_size);
			}
			s2_json_object_end(&s->j);
		}
		s2_json_array_end(&s->j);
		return;
	}
	if (s->o.quiet)
		return;
	fprintf(s->out, "vm%u %-5s 0x%" PRIx64 " size=%u%s%s%s%s: %s", sv->id,
		a->form == FORM_ATOMIC ? "atomic" :
		a->form == FORM_DCZVA  ? "dc-zva" :
					 sim_access_name(a->type),
		a->ipa, a->size, a->form && a->form < FORM_ATOMIC ? " form=" : "",
		a->form && a->form < FORM_ATOMIC ? sim_form_names[a->form] : "",
		a->el0 ? " el0" : "", a->s1ptw ? " s1ptw" : "", sim_result_name(a));
	switch (a->result) {
	case ACC_OK:
		fprintf(s->out, " pa=0x%" PRIx64 "%s", a->pa, a->tlb_hit ? " (tlb hit)" : "");
		break;
	case ACC_MMIO: {
		const struct s2_mmio_access *m = &last->r.mmio;

		fprintf(s->out, " %s", m->write ? "write" : "read");
		if (m->syndrome)
			fprintf(s->out, " size=%u reg=%u%s%s", m->size, m->reg,
				m->sign_extend ? " sext" : "", m->reg64 ? " x" : " w");
		else
			fprintf(s->out, " no-syndrome");
		break;
	}
	case ACC_INJECT:
		fprintf(s->out, " %s", s2_inject_reason_name(last->r.inject));
		break;
	case ACC_NISV:
		fprintf(s->out, " ipa=0x%" PRIx64 " %s", s2_ipa_val(last->r.ipa),
			last->r.write ? "write" : "read");
		break;
	default:
		break;
	}
	for (unsigned int i = 0; i < a->nr_faults; i++) {
		const struct sim_fault *f = &a->faults[i];

		fprintf(s->out, "%s%s L%d esr=0x%08" PRIx64 " -> ", i ? "; " : "  [",
			s2_fault_name(f->kind), f->level, f->esr);
		if (f->ret)
			fprintf(s->out, "error %s", s2_errname(f->ret));
		else if (f->r.action != S2_ABORT_RESUME)
			fprintf(s->out, "%s", s2_abort_action_name(f->r.action));
		else if (f->r.resume == S2_RESUME_MAPPED)
			fprintf(s->out, "mapped %s", sim_size_str(f->r.map_size, sz, sizeof(sz)));
		else
			fprintf(s->out, "%s", s2_resume_reason_name(f->r.resume));
	}
	fprintf(s->out, "%s\n", a->nr_faults ? "]" : "");
}

static int sim_parse_form(const char *v, enum sim_form *out)
{
	for (int f = FORM_PLAIN; f < FORM_ATOMIC; f++)
		if (v && !strcmp(v, sim_form_names[f])) {
			*out = (enum sim_form)f;
			return 0;
		}
	return -1;
}

/*
 * read|write IPA [size=N] [reg=N] [sext] [el0] [s1ptw] [form=pair|pre-index|post-index]
 * exec IPA [el0] [s1ptw]
 * atomic IPA [size=N] [el0]
 * dc-zva IPA [el0]
 */
int sim_step_access(struct sim *s, struct sim_toks *t)
{
	struct sim_access a = { .line = s->line, .size = 8 };
	struct sim_vm *sv;
	const char *c = t->v[0], *str;
	uint64_t v;
	bool given;
	int ret;

	if ((ret = sim_need_vm(s)))
		return ret;
	sv = s->cur;
	a.type = !strcmp(c, "read") ? S2_ACCESS_READ :
		 !strcmp(c, "exec") ? S2_ACCESS_EXEC :
				      S2_ACCESS_WRITE; /* write, atomic, dc-zva */
	if (!strcmp(c, "atomic"))
		a.form = FORM_ATOMIC;
	if (!strcmp(c, "dc-zva")) {
		a.form = FORM_DCZVA;
		a.size = SIM_DCZVA_BYTES;
	}
	if (a.type == S2_ACCESS_EXEC)
		a.size = 4;
	if (t->n < 2)
		return sim_syntax(
			s,
			a.form == FORM_ATOMIC	 ? "usage: atomic IPA [size=N] [el0]" :
			a.form == FORM_DCZVA	 ? "usage: dc-zva IPA [el0]" :
			a.type == S2_ACCESS_EXEC ? "usage: exec IPA [el0] [s1ptw]" :
						   "usage: %s IPA [size=N] [el0] [s1ptw] [reg=N] "
						   "[sext] [form=pair|pre-index|post-index]",
			c);
	if ((ret = sim_num(s, "the IPA", t->v[1], &a.ipa)))
		return ret;
	if (a.type != S2_ACCESS_EXEC && a.form != FORM_ATOMIC && a.form != FORM_DCZVA &&
	    sim_opt(t, 2, "form", &str) && sim_parse_form(str, &a.form))
		return sim_syntax(s, "form is plain, pair, pre-index or post-index");
	if ((ret = sim_opt_num(s, t, 2, "size", &v, &given)))
		return ret;
	if (given) {
		if (a.type == S2_ACCESS_EXEC || a.form == FORM_DCZVA ||
		    (v != 1 && v != 2 && v != 4 && v != 8))
			return sim_syntax(s,
					  "size is 1, 2, 4 or 8 (reads, writes and atomics only)");
		if (a.form == FORM_PAIR && v < 4)
			return sim_syntax(s, "a pair moves two 4- or 8-byte registers (size=4|8)");
		a.size = (unsigned int)v;
	}
	if (a.form == FORM_DCZVA)
		a.ipa &= ~(uint64_t)(SIM_DCZVA_BYTES - 1); /* DC ZVA zeroes the aligned block */
	if (a.ipa & (a.size - 1))
		return sim_syntax(s, "IPA 0x%" PRIx64 " is not aligned to the access size %u",
				  a.ipa, a.size);
	if ((ret = sim_opt_num(s, t, 2, "reg", &v, &given)))
		return ret;
	if (given) {
		if (v > 31)
			return sim_syntax(s, "reg is 0..31 (31: xzr)");
		if (a.form != FORM_PLAIN)
			return sim_syntax(s,
					  "reg is part of the syndrome, which a %s access has not",
					  sim_form_names[a.form]);
		a.reg = (unsigned int)v;
	}
	if ((ret = sim_opt_flag(s, t, 2, "el0", &a.el0)) ||
	    (ret = sim_opt_flag(s, t, 2, "s1ptw", &a.s1ptw)) ||
	    (ret = sim_opt_flag(s, t, 2, "sext", &a.sext)) || (ret = sim_leftover(s, t, 2)))
		return ret;
	if (a.sext && (a.type != S2_ACCESS_READ || a.form != FORM_PLAIN))
		return sim_syntax(s, "sext is for plain reads");
	if (a.s1ptw && a.form != FORM_PLAIN)
		return sim_syntax(s, "s1ptw is a stage-1 table walk, not a %s access",
				  sim_form_names[a.form]);
	if (!sv->entered)
		sim_enter(s, sv, true);
	sim_jstep(s, "access");
	sim_run_access(s, sv, &a);
	s->accesses++;
	s->tlb_hits += a.tlb_hit;
	s->acc_ok += a.result == ACC_OK;
	s->acc_mmio += a.result == ACC_MMIO;
	s->acc_inject += a.result == ACC_INJECT;
	s->acc_nisv += a.result == ACC_NISV;
	sim_print_access(s, sv, &a);
	sim_jend(s);
	s->acc = a;
	s->have_acc = true;
	if (a.result == ACC_ERROR && a.nr_faults && a.faults[a.nr_faults - 1].ret) {
		/* The handler refused with a library error (an owner-managed VM's transition,
		 * S2_ENOMEM): an `expect error` may follow, as after any other step. */
		s->pending_err = a.faults[a.nr_faults - 1].ret;
		s->pending_line = s->line;
		snprintf(s->pending_what, sizeof(s->pending_what), "the %s of 0x%" PRIx64,
			 sim_access_name(a.type), a.ipa);
		return 0;
	}
	if (a.result == ACC_ERROR || a.result == ACC_STUCK)
		return sim_expect_fail(
			s, "the %s of 0x%" PRIx64 " %s", sim_access_name(a.type), a.ipa,
			a.result == ACC_STUCK ? "made no progress after "
						"repeated faults" :
						"failed in the walker or the handler");
	return 0;
}

/* ---- TLB check ---------------------------------------------------------------------------- */

static void sim_stale_cb(void *arg, const struct s2_tlb_stale *st)
{
	struct sim *s = arg;

	/* An entry whose page was made old (AF cleared by aging) is allowed to stay: aging
	 * does no TLBI by design (vm.h); every other disagreement is a missing TLBI. */
	if (st->now.fault == S2_FAULT_ACCESS_FLAG)
		return;
	s->stale++;
	if (!s->o.quiet)
		fprintf(s->err, "s2mmu: %s: %s:%u: stale TLB entry ipa 0x%" PRIx64 ": %s\n",
			s->o.cmd, s->file, s->line, s2_ipa_val(st->entry.ipa), st->why);
}

void sim_check_tlb(struct sim *s)
{
	struct s2_walk_mem mem;

	if (!s->hp)
		return;
	mem = s2_host_port_walk_mem(s->hp);
	for (unsigned int i = 0; i < s->nr_vms; i++) {
		struct s2_vm *vm = &s->vms[i]->vm;

		if (s->vms[i]->entered)
			s2_tlb_check(&s->tlb, vm->vmid, &vm->pgt.cfg, vm->pgt.root_pa, &mem,
				     sim_stale_cb, s);
	}
}
