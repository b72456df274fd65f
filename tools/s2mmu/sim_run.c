// SPDX-License-Identifier: MIT
/*
 * sim_run.c - the scenario language of `s2mmu sim` (docs/sim.md): parser and runner.
 *
 * A scenario is a text file of steps, one per line. The runner keeps one hosted port (the page
 * arena for every VM's tables, with its TLBI/CMO counters), one VMID allocator, one TLB model
 * of the reference walker (every TLBI of the port is forwarded to it) and up to SIM_MAX_VMS
 * VMs of the VM layer, each with one vCPU.
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
#define _POSIX_C_SOURCE 200809L /* fileno, fmemopen */

#include "sim.h"
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SIM_MAX_TOKENS 40
#define SIM_MAX_FAULTS SIM_MAX_RETRIES

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

/* The instruction behind a data access: plain loads and stores carry an instruction syndrome
 * (ISV=1); the others do not (Arm ARM D19.2.48: ISV is 0 for load/store pair, writeback
 * addressing, atomics and DC ZVA, among others). */
enum sim_form {
	FORM_PLAIN = 0, /* LDR/STR */
	FORM_PAIR, /* LDP/STP */
	FORM_PRE, /* LDR/STR with pre-index writeback */
	FORM_POST, /* LDR/STR with post-index writeback */
	FORM_ATOMIC, /* LDADD, SWP, CAS...: a read and a write */
	FORM_DCZVA, /* DC ZVA: zeroes a block, a write */
};

static const char *const sim_form_names[] = { "plain",	    "pair",   "pre-index",
					      "post-index", "atomic", "dc-zva" };

#define SIM_DCZVA_BYTES 64 /* DCZID_EL0.BS = 4: the usual 64-byte block */

struct sim_fault {
	enum s2_fault kind;
	int level;
	bool write; /* WnR */
	uint64_t esr, far, hpfar;
	int ret; /* s2_vm_handle_abort()'s return */
	struct s2_abort_result r;
};

struct sim_access {
	unsigned int line;
	enum s2_access_type type;
	uint64_t ipa;
	unsigned int size;
	bool el0, s1ptw, sext;
	unsigned int reg;
	enum sim_form form;
	/* outcome */
	enum { ACC_OK, ACC_MMIO, ACC_INJECT, ACC_ERROR, ACC_STUCK, ACC_NISV } result;
	bool tlb_hit;
	uint64_t pa;
	struct s2_walk_result w;
	unsigned int nr_faults;
	struct sim_fault faults[SIM_MAX_FAULTS];
};

struct sim {
	struct sim_opts o;
	FILE *out;
	struct s2_json j;
	const char *file;
	unsigned int line;
	int status;
	char errmsg[768]; /* the failure, until printed */
	FILE *err;

	bool host_set;
	struct s2_caps caps;
	struct s2_host_port *hp;
	struct s2_vmid_alloc vmids;
	bool vmids_ready;
	struct s2_tlb_model tlb;
	struct s2_tlb_entry tlb_entries[SIM_TLB_ENTRIES];
	struct sim_vm *vms[SIM_MAX_VMS];
	unsigned int nr_vms;
	struct sim_vm *cur;

	/* The last outcome of each kind, for `expect`. */
	struct sim_access acc;
	bool have_acc;
	uint64_t *dirty; /* IPAs of the pages of the last harvest */
	size_t nr_dirty;
	bool have_dirty;
	uint64_t young;
	bool have_young;
	uint64_t unmapped;
	bool have_unmapped;
	uint64_t cmo;
	bool have_cmo;
	/* A library error waiting for `expect error` on the next step. */
	int pending_err;
	unsigned int pending_line;
	char pending_what[48];

	/* Page ownership (pkvm). */
	struct s2_owner *own;
	struct s2_config own_cfg;
	struct s2_owner_ram own_ram;
	struct s2_page_meta *own_meta;
	uint64_t hyp_mapped, scrubbed;
	int host_result; /* last host-access: 0 ok, 1 inject */
	bool have_host_result;

	/* Totals for the summary. */
	uint64_t accesses, acc_ok, acc_mmio, acc_inject, acc_nisv, tlb_hits, stale;
	uint64_t faults[S2_FAULT_OTHER + 1];
	uint64_t tags_bytes;
};

/* ---- messages ----------------------------------------------------------------------------- */

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static int
sim_msg(struct sim *s, int status, const char *fmt, ...)
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

#define sim_syntax(s, ...) sim_msg((s), SIM_SYNTAX, __VA_ARGS__)
#define sim_expect_fail(s, ...) sim_msg((s), SIM_EXPECT, __VA_ARGS__)

/* Text output of a step (nothing when quiet or in JSON mode). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void
sim_text(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (s->o.quiet || s->o.json)
		return;
	va_start(ap, fmt);
	vfprintf(s->out, fmt, ap);
	va_end(ap);
}

static bool sim_jsonp(const struct sim *s)
{
	return s->o.json && !s->o.quiet;
}

/* Open a step object in the JSON "steps" array. */
static void sim_jstep(struct sim *s, const char *step)
{
	if (!sim_jsonp(s))
		return;
	s2_json_object_begin(&s->j, NULL);
	s2_json_u64(&s->j, "line", s->line);
	s2_json_str(&s->j, "step", step);
	if (s->cur)
		s2_json_u64(&s->j, "vm", s->cur->id);
}

static void sim_jend(struct sim *s)
{
	if (sim_jsonp(s))
		s2_json_object_end(&s->j);
}

/* ---- tokens and numbers ------------------------------------------------------------------- */

struct sim_toks {
	char *v[SIM_MAX_TOKENS];
	bool used[SIM_MAX_TOKENS];
	int n;
	char *rest; /* the text after the first word (echo) */
};

/* Split @line (modified in place); '#' starts a comment. Return: 0; -1 for too many tokens. */
static int sim_tokenize(char *line, struct sim_toks *t)
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
static char *sim_rest(char *raw)
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

static int sim_num(struct sim *s, const char *what, const char *str, uint64_t *out)
{
	if (sim_parse_num(str, out))
		return sim_syntax(s, "bad number '%s' for %s", str, what);
	return 0;
}

/* A range [@base, @base + @size) must not wrap past 2^64, nor exceed the run's size limit. */
static int sim_range(struct sim *s, const char *what, uint64_t base, uint64_t size)
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
static bool sim_opt(struct sim_toks *t, int from, const char *key, const char **val)
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

static int sim_opt_num(struct sim *s, struct sim_toks *t, int from, const char *key, uint64_t *out,
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
static int sim_opt_range(struct sim *s, struct sim_toks *t, int from, const char *key, uint64_t min,
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
static int sim_opt_level(struct sim *s, struct sim_toks *t, int from, const char *key, int *out,
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

static int sim_opt_flag(struct sim *s, struct sim_toks *t, int from, const char *key, bool *out)
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
static int sim_leftover(struct sim *s, struct sim_toks *t, int from)
{
	for (int i = from; i < t->n; i++)
		if (!t->used[i])
			return sim_syntax(s, "unexpected '%s' in '%s'", t->v[i], t->v[0]);
	return 0;
}

/* ---- library errors and `expect error` ---------------------------------------------------- */

/* A library call of a step failed: remember it for `expect error` on the next line. */
static void sim_lib_error(struct sim *s, const char *what, int err)
{
	s->pending_err = err;
	s->pending_line = s->line;
	snprintf(s->pending_what, sizeof(s->pending_what), "%s", what);
	sim_text(s, "%s: error %s (%s)\n", what, s2_errname(err), s2_strerror(err));
	if (sim_jsonp(s))
		s2_json_str(&s->j, "error", s2_errname(err));
}

/* ---- host, VMs ---------------------------------------------------------------------------- */

static void sim_sanitise(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct sim *s = ctx;

	(void)pa;
	s->tags_bytes += size;
}

static uint16_t sim_vmid_of(const struct s2_pgtable *pgt)
{
	const struct s2_vm *vm = pgt->cookie;

	return vm ? vm->vmid : 0;
}

static int sim_need_host(struct sim *s)
{
	struct s2_host_port_opts o = { .pa_base = SIM_ARENA_PA,
				       .arena_bytes = SIM_ARENA_BYTES,
				       .log_capacity = 0 };
	int ret;

	if (s->hp)
		return 0;
	if (!s->host_set && s2_caps_max(48, &s->caps))
		return sim_syntax(s, "no default host");
	s->host_set = true;
	ret = s2_host_port_create(&o, &s->hp);
	if (ret)
		return sim_syntax(s, "cannot create the host port: %s", s2_errname(ret));
	s2_tlb_init(&s->tlb, s->tlb_entries, SIM_TLB_ENTRIES);
	s2_host_port_attach_tlb(s->hp, &s->tlb, sim_vmid_of, 0);
	ret = s2_vmid_alloc_init(&s->vmids, s->caps.vmid_bits);
	if (ret)
		return sim_syntax(s, "VMID allocator: %s", s2_errname(ret));
	s->vmids_ready = true;
	return 0;
}

static int sim_step_host(struct sim *s, struct sim_toks *t)
{
	static const char *const regs[] = { "mmfr0", "mmfr1", "mmfr2", "pfr1", "ctr" };
	uint64_t rv[5] = { 0 }, v;
	bool given, any_reg = false, b;
	int ret;

	if (s->host_set || s->nr_vms)
		return sim_syntax(s, s->hp && !s->nr_vms && s->own ?
					     "'host' must come before 'pkvm' (which starts the "
					     "default host)" :
					     "'host' must come once, before the first 'vm'");
	for (int i = 0; i < 5; i++) {
		ret = sim_opt_num(s, t, 1, regs[i], &rv[i], &given);
		if (ret)
			return ret;
		any_reg |= given;
	}
	if (any_reg) {
		struct s2_idregs r = { rv[0], rv[1], rv[2], rv[3], rv[4] };

		if (s2_caps_from_idregs(&r, &s->caps))
			return sim_syntax(s, "the ID registers hold a reserved PARange");
	} else if (s2_caps_max(48, &s->caps)) {
		return sim_syntax(s, "no default host");
	}
	if ((ret = sim_opt_num(s, t, 1, "pa-bits", &v, &given)))
		return ret;
	if (given) {
		if (v > 52 || s2_bits_to_parange((unsigned int)v) < 0)
			return sim_syntax(s, "pa-bits %" PRIu64 " is not a PARange size", v);
		if (!any_reg) {
			s2_caps_max((unsigned int)v, &s->caps);
		} else {
			s->caps.pa_bits = (unsigned int)v;
		}
	}
	if ((ret = sim_opt_num(s, t, 1, "hafdbs", &v, &given)))
		return ret;
	if (given) {
		if (v > 2)
			return sim_syntax(s, "hafdbs is 0, 1 or 2");
		s->caps.hafdbs = (unsigned int)v;
	}
	if ((ret = sim_opt_range(s, t, 1, "mte", 0, 3, &v, &given)))
		return ret;
	if (given)
		s->caps.mte = (unsigned int)v;
	if ((ret = sim_opt_num(s, t, 1, "vmid-bits", &v, &given)))
		return ret;
	if (given) {
		if (v != 8 && v != 16)
			return sim_syntax(s, "vmid-bits is 8 or 16");
		s->caps.vmid_bits = (unsigned int)v;
	}
	if ((ret = sim_opt_range(s, t, 1, "bbm", 0, 2, &v, &given)))
		return ret;
	if (given)
		s->caps.bbm = (unsigned int)v;
	b = s->caps.fwb;
	if ((ret = sim_opt_flag(s, t, 1, "fwb", &b)))
		return ret;
	s->caps.fwb = b;
	b = s->caps.xnx;
	if ((ret = sim_opt_flag(s, t, 1, "xnx", &b)))
		return ret;
	s->caps.xnx = b;
	b = s->caps.dic;
	if ((ret = sim_opt_flag(s, t, 1, "dic", &b)))
		return ret;
	s->caps.dic = b;
	b = s->caps.idc;
	if ((ret = sim_opt_flag(s, t, 1, "idc", &b)))
		return ret;
	s->caps.idc = b;
	if ((ret = sim_leftover(s, t, 1)))
		return ret;
	s->host_set = true;
	if ((ret = sim_need_host(s)))
		return ret;
	sim_text(s,
		 "host: %u-bit PA, granules 4k:%s 16k:%s 64k:%s, fwb %s, hafdbs %u, xnx %s, "
		 "mte %u, dic %s, idc %s, %u-bit VMIDs\n",
		 s->caps.pa_bits, s->caps.gran[0] ? "yes" : "no", s->caps.gran[1] ? "yes" : "no",
		 s->caps.gran[2] ? "yes" : "no", s->caps.fwb ? "yes" : "no", s->caps.hafdbs,
		 s->caps.xnx ? "yes" : "no", s->caps.mte, s->caps.dic ? "yes" : "no",
		 s->caps.idc ? "yes" : "no", s->caps.vmid_bits);
	sim_jstep(s, "host");
	if (sim_jsonp(s)) {
		s2_json_u64(&s->j, "pa_bits", s->caps.pa_bits);
		s2_json_bool(&s->j, "fwb", s->caps.fwb);
		s2_json_u64(&s->j, "hafdbs", s->caps.hafdbs);
		s2_json_bool(&s->j, "dic", s->caps.dic);
		s2_json_u64(&s->j, "mte", s->caps.mte);
	}
	sim_jend(s);
	return 0;
}

static struct sim_vm *sim_find_vm(struct sim *s, unsigned int id)
{
	for (unsigned int i = 0; i < s->nr_vms; i++)
		if (s->vms[i]->id == id)
			return s->vms[i];
	return NULL;
}

static void sim_scrub(void *ctx, s2_pa_t pa, uint64_t size);

static int sim_step_vm(struct sim *s, struct sim_toks *t)
{
	struct s2_vm_params p = { 0 };
	struct sim_vm *sv;
	uint64_t id, v;
	bool given, b = false;
	const char *g;
	int ret;

	if (t->n < 2)
		return sim_syntax(s, "usage: vm ID [ipa-bits=N] [granule=4k|16k|64k] [fwb] [ha] "
				     "[hd] [mte] [protected] [owner-managed] [locked-limit=SIZE]");
	if ((ret = sim_num(s, "the VM id", t->v[1], &id)))
		return ret;
	if (id > UINT32_MAX)
		return sim_syntax(s, "VM id %" PRIu64 " is too large (0..%" PRIu32 ")", id,
				  UINT32_MAX);
	sv = sim_find_vm(s, (unsigned int)id);
	if (sv) {
		if (t->n > 2)
			return sim_syntax(
				s, "vm %" PRIu64 " exists (give only its id to select it)", id);
		s->cur = sv;
		return 0;
	}
	if (s->nr_vms == SIM_MAX_VMS)
		return sim_syntax(s, "at most %d VMs", SIM_MAX_VMS);
	if ((ret = sim_need_host(s)))
		return ret;
	p.caps = &s->caps;
	p.req.ipa_bits = 40;
	p.req.granule = S2_GRANULE_4K;
	if ((ret = sim_opt_range(s, t, 2, "ipa-bits", 1, 64, &v, &given)))
		return ret;
	if (given)
		p.req.ipa_bits = (unsigned int)v;
	if (sim_opt(t, 2, "granule", &g) && (!g || s2_granule_parse(g, &p.req.granule)))
		return sim_syntax(s, "granule is 4k, 16k or 64k");
	if ((ret = sim_opt_num(s, t, 2, "vmid-bits", &v, &given)))
		return ret;
	if (given && v != 8 && v != 16)
		return sim_syntax(s, "vmid-bits is 8 or 16");
	if (given)
		p.req.vmid_bits = (unsigned int)v;
	b = false;
	if ((ret = sim_opt_flag(s, t, 2, "fwb", &b)))
		return ret;
	p.req.flags |= b ? S2_CFG_FWB : 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, 2, "ha", &b)))
		return ret;
	p.req.flags |= b ? S2_CFG_HA : 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, 2, "hd", &b)))
		return ret;
	p.req.flags |= b ? S2_CFG_HD : 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, 2, "mte", &b)))
		return ret;
	p.req.flags |= b ? S2_CFG_MTE : 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, 2, "protected", &b)))
		return ret;
	{
		/* owner-managed: the VM layer's faults go through the owner (`pkvm` first) */
		bool om = false;

		if ((ret = sim_opt_flag(s, t, 2, "owner-managed", &om)))
			return ret;
		if (om && !s->own)
			return sim_syntax(s, "owner-managed needs 'pkvm' first");
		if (om && (id + 1 > S2_OWNER_GUEST_MAX || id + 1 < S2_OWNER_GUEST_MIN))
			return sim_syntax(s,
					  "owner-managed VMs have ids 1..%u (VM N is owner N + 1)",
					  S2_OWNER_GUEST_MAX - 1);
		if (om) {
			p.owner = s->own;
			p.owner_id = (uint8_t)(id + 1);
			p.flags |= b ? S2_VM_PROTECTED : 0;
			p.hooks.scrub = sim_scrub;
		}
	}
	p.locked_limit = UINT64_C(1) << 30;
	if ((ret = sim_opt_num(s, t, 2, "locked-limit", &v, &given)))
		return ret;
	if (given)
		p.locked_limit = v;
	if ((ret = sim_leftover(s, t, 2)))
		return ret;

	sv = calloc(1, sizeof(*sv));
	if (!sv)
		return sim_syntax(s, "out of memory");
	sv->id = (unsigned int)id;
	sv->protected_vm = b;
	sv->owner_managed = p.owner != NULL;
	sv->og_ready = sv->owner_managed; /* its guest is the VM layer's vm.og */
	p.port = s2_host_port_port(s->hp);
	p.hooks.sanitise_tags = sim_sanitise;
	p.hooks.load_stage2 = s2_host_port_load_stage2;
	p.hooks.ctx = s;
	p.vmids = &s->vmids;
	p.slots = sv->slots;
	p.max_slots = SIM_MAX_SLOTS;
	ret = s2_vm_create(&sv->vm, &p);
	if (ret) {
		free(sv);
		return sim_syntax(s, "vm %" PRIu64 " refused: %s (%s)", id, s2_errname(ret),
				  s2_strerror(ret));
	}
	if (s2_vcpu_init(&sv->vcpu, &sv->vm, 0)) {
		s2_vm_destroy(&sv->vm);
		free(sv);
		return sim_syntax(s, "vcpu init failed");
	}
	s->vms[s->nr_vms++] = sv;
	s->cur = sv;
	{
		const struct s2_config *c = &sv->vm.pgt.cfg;

		sim_text(s,
			 "vm%u: %u-bit IPA, %s granule, start level %d (%u root tables), vtcr "
			 "0x%" PRIx64 ", fwb %s%s%s%s\n",
			 sv->id, c->ipa_bits, s2_granule_name(c->granule), c->start_level,
			 c->root_tables, c->vtcr, c->fwb ? "on" : "off", c->ha ? ", ha" : "",
			 c->hd ? ", hd" : "", c->mte ? ", mte" : "");
		sim_jstep(s, "vm");
		if (sim_jsonp(s)) {
			s2_json_u64(&s->j, "ipa_bits", c->ipa_bits);
			s2_json_str(&s->j, "granule", s2_granule_name(c->granule));
			s2_json_int(&s->j, "start_level", c->start_level);
			s2_json_hex(&s->j, "vtcr", c->vtcr);
			s2_json_bool(&s->j, "fwb", c->fwb);
		}
		sim_jend(s);
	}
	return 0;
}

static int sim_need_vm(struct sim *s)
{
	if (!s->cur)
		return sim_syntax(s, "no VM yet (add a 'vm' line first)");
	return 0;
}

/* ---- memslots ----------------------------------------------------------------------------- */

static int sim_slot_flags(struct sim *s, struct sim_toks *t, int from, uint64_t *flags)
{
	bool b;
	int ret;

	*flags = 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, from, "read-only", &b)))
		return ret;
	*flags |= b ? S2_SLOT_READONLY : 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, from, "dirty-log", &b)))
		return ret;
	*flags |= b ? S2_SLOT_DIRTY_LOG : 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, from, "allow-any-uncached", &b)))
		return ret;
	*flags |= b ? S2_SLOT_ALLOW_ANY_UNCACHED : 0;
	return 0;
}

static int sim_slot_id(struct sim *s, struct sim_toks *t, uint32_t *id)
{
	uint64_t v;
	int ret;

	if (t->n < 2)
		return sim_syntax(s, "'%s' needs a slot id", t->v[0]);
	if ((ret = sim_num(s, "the slot id", t->v[1], &v)))
		return ret;
	if (v > UINT32_MAX)
		return sim_syntax(s, "slot id too large");
	*id = (uint32_t)v;
	return 0;
}

static int sim_step_slot(struct sim *s, struct sim_toks *t)
{
	struct s2_memslot_desc d = { 0 };
	uint64_t v;
	bool given, ram = false, mmio = false, untagged = false;
	const char *str;
	int ret;
	char sz[24], pg[24];

	if ((ret = sim_need_vm(s)) || (ret = sim_slot_id(s, t, &d.id)))
		return ret;
	if ((ret = sim_opt_num(s, t, 2, "ipa", &v, &given)))
		return ret;
	if (!given)
		return sim_syntax(s, "slot needs ipa=ADDR");
	d.ipa = s2_ipa(v);
	if ((ret = sim_opt_num(s, t, 2, "size", &d.size, &given)))
		return ret;
	if (!given)
		return sim_syntax(s, "slot needs size=SIZE");
	if ((ret = sim_opt_num(s, t, 2, "pa", &v, &given)))
		return ret;
	if (!given)
		return sim_syntax(s, "slot needs pa=ADDR (the host physical base of the backing)");
	d.pa = s2_pa(v);
	if ((ret = sim_range(s, "ipa", s2_ipa_val(d.ipa), d.size)) ||
	    (ret = sim_range(s, "pa", v, d.size)))
		return ret;
	if (v < SIM_ARENA_PA + SIM_ARENA_BYTES && v + d.size > SIM_ARENA_PA)
		return sim_syntax(s,
				  "the backing overlaps the simulator's table arena "
				  "[0x%" PRIx64 ", 0x%" PRIx64 ")",
				  SIM_ARENA_PA, SIM_ARENA_PA + SIM_ARENA_BYTES);
	ram = sim_opt(t, 2, "ram", NULL);
	mmio = sim_opt(t, 2, "mmio", NULL);
	if (ram == mmio)
		return sim_syntax(s, "slot needs exactly one of 'ram' and 'mmio'");
	d.backing = ram ? S2_BACKING_RAM : S2_BACKING_MMIO;
	d.host_type = ram ? S2_HOST_NORMAL : S2_HOST_DEVICE_nGnRE;
	if (sim_opt(t, 2, "host", &str) && (!str || s2_host_type_parse(str, &d.host_type)))
		return sim_syntax(s, "host is normal, tagged, nc, device-ngnre or device-ngnrne");
	if ((ret = sim_opt_num(s, t, 2, "page", &d.backing_page_size, &given)))
		return ret;
	if ((ret = sim_opt_flag(s, t, 2, "untagged", &untagged)))
		return ret;
	d.backing_tags = !untagged;
	if ((ret = sim_slot_flags(s, t, 2, &d.flags)) || (ret = sim_leftover(s, t, 2)))
		return ret;
	sim_jstep(s, "slot");
	ret = s2_vm_slot_add(&s->cur->vm, &d);
	if (ret) {
		char what[48];

		snprintf(what, sizeof(what), "vm%u slot %u", s->cur->id, d.id);
		sim_lib_error(s, what, ret);
	} else {
		sim_text(s,
			 "vm%u slot %u: ipa 0x%" PRIx64 " size %s %s pa 0x%" PRIx64
			 " host %s page %s%s%s%s\n",
			 s->cur->id, d.id, s2_ipa_val(d.ipa), sim_size_str(d.size, sz, sizeof(sz)),
			 s2_backing_name(d.backing), s2_pa_val(d.pa),
			 s2_host_type_name(d.host_type),
			 d.backing_page_size ? sim_size_str(d.backing_page_size, pg, sizeof(pg)) :
					       "granule",
			 (d.flags & S2_SLOT_READONLY) ? " read-only" : "",
			 (d.flags & S2_SLOT_DIRTY_LOG) ? " dirty-log" : "",
			 (d.flags & S2_SLOT_ALLOW_ANY_UNCACHED) ? " allow-any-uncached" : "");
	}
	sim_jend(s);
	return 0;
}

static int sim_step_slot_op(struct sim *s, struct sim_toks *t)
{
	const char *op = t->v[0];
	uint32_t id = 0;
	uint64_t v;
	bool given;
	int ret;

	if ((ret = sim_need_vm(s)) || (ret = sim_slot_id(s, t, &id)))
		return ret;
	sim_jstep(s, op);
	if (!strcmp(op, "slot-delete")) {
		if ((ret = sim_leftover(s, t, 2)))
			return ret;
		ret = s2_vm_slot_delete(&s->cur->vm, id);
	} else if (!strcmp(op, "slot-move")) {
		if ((ret = sim_opt_num(s, t, 2, "ipa", &v, &given)))
			return ret;
		if (!given)
			return sim_syntax(s, "slot-move needs ipa=ADDR");
		if ((ret = sim_leftover(s, t, 2)))
			return ret;
		ret = s2_vm_slot_move(&s->cur->vm, id, s2_ipa(v));
	} else if (!strcmp(op, "slot-flags")) {
		if ((ret = sim_slot_flags(s, t, 2, &v)) || (ret = sim_leftover(s, t, 2)))
			return ret;
		ret = s2_vm_slot_set_flags(&s->cur->vm, id, v);
	} else if (!strcmp(op, "lock")) {
		bool ro = t->n > 2 && !strcmp(t->v[2], "ro");
		bool rw = t->n > 2 && !strcmp(t->v[2], "rw");

		if (t->n != 3 || (!ro && !rw))
			return sim_syntax(s, "usage: lock ID ro|rw");
		ret = s2_vm_slot_lock(&s->cur->vm, id, rw);
	} else { /* unlock */
		if ((ret = sim_leftover(s, t, 2)))
			return ret;
		ret = s2_vm_slot_unlock(&s->cur->vm, id);
	}
	if (ret) {
		char what[48];

		snprintf(what, sizeof(what), "vm%u %s %u", s->cur->id, op, id);
		sim_lib_error(s, what, ret);
	} else {
		sim_text(s, "vm%u %s %u%s%s: done\n", s->cur->id, op, id, t->n > 2 ? " " : "",
			 t->n > 2 ? t->v[2] : "");
	}
	sim_jend(s);
	return 0;
}

/* ---- vCPU entry --------------------------------------------------------------------------- */

static void sim_enter(struct sim *s, struct sim_vm *sv, bool implicit)
{
	struct s2_vcpu_entry e;
	int ret = s2_vm_vcpu_enter(&sv->vcpu, &e);

	sim_jstep(s, "enter");
	if (ret) {
		sim_lib_error(s, "enter", ret);
		sim_jend(s);
		return;
	}
	sv->entered = true;
	s->cmo = e.cmo_bytes;
	s->have_cmo = true;
	sim_text(s,
		 "vm%u enter%s: vtcr 0x%" PRIx64 " vttbr 0x%" PRIx64 " hcr +0x%" PRIx64
		 " -0x%" PRIx64 ", deferred cmo %" PRIu64 " bytes%s%s\n",
		 sv->id, implicit ? " (implicit, first access)" : "", e.vtcr, e.vttbr, e.hcr_set,
		 e.hcr_clear, e.cmo_bytes, e.vmid_changed ? ", new vmid" : "",
		 e.rollover ? ", vmid rollover" : "");
	if (sim_jsonp(s)) {
		s2_json_bool(&s->j, "implicit", implicit);
		s2_json_hex(&s->j, "vtcr", e.vtcr);
		s2_json_hex(&s->j, "vttbr", e.vttbr);
		s2_json_hex(&s->j, "hcr_set", e.hcr_set);
		s2_json_hex(&s->j, "hcr_clear", e.hcr_clear);
		s2_json_u64(&s->j, "cmo_bytes", e.cmo_bytes);
		s2_json_bool(&s->j, "vmid_changed", e.vmid_changed);
	}
	sim_jend(s);
}

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
		a->pa = e->pa + (a->ipa - e->ipa);
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

static const char *sim_result_name(const struct sim_access *a)
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
static int sim_step_access(struct sim *s, struct sim_toks *t)
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

/* ---- dirty logging, aging, invalidation --------------------------------------------------- */

static int sim_step_dirty(struct sim *s, struct sim_toks *t)
{
	const struct s2_memslot *slot;
	uint32_t id = 0;
	int ret;
	char what[48];

	if ((ret = sim_need_vm(s)) || (ret = sim_slot_id(s, t, &id)))
		return ret;
	if (t->n < 3)
		return sim_syntax(s, "usage: dirty ID on [dbm] | off | harvest");
	snprintf(what, sizeof(what), "vm%u dirty %u %s", s->cur->id, id, t->v[2]);
	sim_jstep(s, "dirty");
	if (sim_jsonp(s))
		s2_json_str(&s->j, "op", t->v[2]);
	if (!strcmp(t->v[2], "on")) {
		bool dbm = false;

		if ((ret = sim_opt_flag(s, t, 3, "dbm", &dbm)) || (ret = sim_leftover(s, t, 3)))
			return ret;
		ret = s2_vm_dirty_log_enable(&s->cur->vm, id, dbm);
		if (!ret)
			sim_text(s, "%s%s: logging\n", what, dbm ? " dbm" : "");
	} else if (!strcmp(t->v[2], "off")) {
		if ((ret = sim_leftover(s, t, 3)))
			return ret;
		ret = s2_vm_dirty_log_disable(&s->cur->vm, id);
		if (!ret)
			sim_text(s, "%s: logging stopped\n", what);
	} else if (!strcmp(t->v[2], "harvest")) {
		uint64_t *bm = NULL, nr = 0, g = s2_granule_size(s->cur->vm.pgt.cfg.granule);
		size_t words = 1;

		if ((ret = sim_leftover(s, t, 3)))
			return ret;
		slot = s2_vm_slot_find(&s->cur->vm, id);
		if (slot)
			words = (size_t)((slot->d.size / g + 63) / 64);
		bm = calloc(words ? words : 1, sizeof(*bm));
		if (!bm)
			return sim_syntax(s, "out of memory");
		ret = s2_vm_dirty_log_get(&s->cur->vm, id, bm, words, &nr);
		if (!ret) {
			uint64_t base = s2_ipa_val(slot->d.ipa);

			free(s->dirty);
			s->dirty = calloc(nr ? nr : 1, sizeof(*s->dirty));
			s->nr_dirty = 0;
			s->have_dirty = s->dirty != NULL;
			if (!s->dirty) {
				free(bm);
				return sim_syntax(s, "out of memory");
			}
			/* Word by word (a big slot is mostly clean), never more than the @nr pages
			 * the library reported. */
			for (size_t w = 0; w < words; w++)
				for (unsigned int b = 0; bm[w] && b < 64 && s->nr_dirty < nr; b++)
					if (bm[w] >> b & 1)
						s->dirty[s->nr_dirty++] = base + (w * 64 + b) * g;
			if (s->nr_dirty != nr) {
				free(bm);
				return sim_expect_fail(s,
						       "the harvest reported %" PRIu64
						       " dirty pages, its bitmap has %zu",
						       nr, s->nr_dirty);
			}
			sim_text(s, "%s: %" PRIu64 " dirty page%s", what, nr, nr == 1 ? "" : "s");
			if (sim_jsonp(s))
				s2_json_array_begin(&s->j, "pages");
			/* Print runs of consecutive pages as FIRST..LAST. */
			for (size_t i = 0; i < s->nr_dirty;) {
				size_t k = i;

				while (k + 1 < s->nr_dirty && s->dirty[k + 1] == s->dirty[k] + g)
					k++;
				if (k == i)
					sim_text(s, " 0x%" PRIx64, s->dirty[i]);
				else
					sim_text(s, " 0x%" PRIx64 "..0x%" PRIx64, s->dirty[i],
						 s->dirty[k]);
				for (size_t m = i; m <= k && sim_jsonp(s); m++)
					s2_json_hex(&s->j, NULL, s->dirty[m]);
				i = k + 1;
			}
			if (sim_jsonp(s))
				s2_json_array_end(&s->j);
			sim_text(s, "\n");
		}
		free(bm);
	} else {
		return sim_syntax(s, "usage: dirty ID on [dbm] | off | harvest");
	}
	if (ret)
		sim_lib_error(s, what, ret);
	sim_jend(s);
	return 0;
}

static int sim_pa_size(struct sim *s, struct sim_toks *t, uint64_t *pa, uint64_t *size)
{
	int ret;

	if (t->n < 3)
		return sim_syntax(s, "usage: %s PA SIZE", t->v[0]);
	if ((ret = sim_num(s, "the host PA", t->v[1], pa)) ||
	    (ret = sim_num(s, "the size", t->v[2], size)) ||
	    (ret = sim_range(s, "host PA", *pa, *size)))
		return ret;
	t->used[1] = t->used[2] = true;
	return 0;
}

static int sim_step_age(struct sim *s, struct sim_toks *t)
{
	uint64_t pa, size, young = 0;
	bool keep = false;
	int ret;
	char what[64];

	if ((ret = sim_need_vm(s)) || (ret = sim_pa_size(s, t, &pa, &size)) ||
	    (ret = sim_opt_flag(s, t, 3, "keep", &keep)) || (ret = sim_leftover(s, t, 3)))
		return ret;
	snprintf(what, sizeof(what), "vm%u age 0x%" PRIx64 " 0x%" PRIx64, s->cur->id, pa, size);
	sim_jstep(s, "age");
	ret = s2_vm_age_host_range(&s->cur->vm, s2_pa(pa), size, !keep, &young);
	if (ret) {
		sim_lib_error(s, what, ret);
	} else {
		s->young = young;
		s->have_young = true;
		sim_text(s, "%s%s: %" PRIu64 " young page%s\n", what, keep ? " keep" : "", young,
			 young == 1 ? "" : "s");
		if (sim_jsonp(s))
			s2_json_u64(&s->j, "young", young);
	}
	sim_jend(s);
	return 0;
}

static int sim_step_invalidate(struct sim *s, struct sim_toks *t)
{
	uint64_t pa, size, unmapped = 0;
	int ret;
	char what[64];

	if ((ret = sim_need_vm(s)) || (ret = sim_pa_size(s, t, &pa, &size)) ||
	    (ret = sim_leftover(s, t, 3)))
		return ret;
	snprintf(what, sizeof(what), "vm%u invalidate 0x%" PRIx64 " 0x%" PRIx64, s->cur->id, pa,
		 size);
	sim_jstep(s, "invalidate");
	ret = s2_vm_invalidate_host_range(&s->cur->vm, s2_pa(pa), size, &unmapped);
	s->unmapped = unmapped;
	s->have_unmapped = true;
	sim_text(s, "%s: unmapped %" PRIu64 " bytes\n", what, unmapped);
	if (sim_jsonp(s))
		s2_json_u64(&s->j, "unmapped", unmapped);
	if (ret)
		sim_lib_error(s, what, ret);
	sim_jend(s);
	return 0;
}

/* ---- dump and TLB check ------------------------------------------------------------------- */

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
			s->o.cmd, s->file, s->line, st->entry.ipa, st->why);
}

static void sim_check_tlb(struct sim *s)
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

static int sim_dump_pgt(struct sim *s, const char *name, unsigned int id,
			const struct s2_pgtable *pgt)
{
	struct sim_runs r;
	int ret = sim_collect_runs(pgt, &r);

	if (ret) {
		sim_runs_free(&r);
		return sim_expect_fail(s, "cannot walk %s's tables: %s", name, s2_errname(ret));
	}
	if (sim_jsonp(s)) {
		s2_json_object_begin(&s->j, NULL);
		s2_json_u64(&s->j, "line", s->line);
		s2_json_str(&s->j, "step", "dump");
		s2_json_str(&s->j, "tables", name);
		sim_dump_json(&s->j, id, pgt, &r);
		s2_json_object_end(&s->j);
	} else if (!s->o.quiet) {
		sim_dump_text(s->out, name, pgt, &r);
	}
	sim_runs_free(&r);
	return 0;
}

static int sim_dump_vm(struct sim *s, struct sim_vm *sv)
{
	char name[24];

	snprintf(name, sizeof(name), "vm%u", sv->id);
	return sim_dump_pgt(s, name, sv->id, &sv->vm.pgt);
}

static int sim_step_dump(struct sim *s, struct sim_toks *t)
{
	uint64_t v;
	bool given;
	int ret;

	if (t->n == 2 && !strcmp(t->v[1], "host")) {
		if (!s->own)
			return sim_syntax(s, "'dump host' needs 'pkvm' first");
		return sim_dump_pgt(s, "host", 0, &s->own->host);
	}
	if ((ret = sim_need_vm(s)) ||
	    (ret = sim_opt_range(s, t, 1, "vm", 0, UINT32_MAX, &v, &given)) ||
	    (ret = sim_leftover(s, t, 1)))
		return ret;
	if (given) {
		struct sim_vm *sv = sim_find_vm(s, (unsigned int)v);

		if (!sv)
			return sim_syntax(s, "no vm %" PRIu64, v);
		return sim_dump_vm(s, sv);
	}
	return sim_dump_vm(s, s->cur);
}

/* ---- page ownership (pKVM): the owner layer over a host stage-2 ------------------------- */

static int sim_hyp_map(void *ctx, s2_pa_t pa, uint64_t size, enum s2_page_state state,
		       uint64_t flags)
{
	struct sim *s = ctx;

	(void)pa;
	(void)state;
	(void)flags;
	s->hyp_mapped += size;
	return 0;
}

static void sim_hyp_unmap(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct sim *s = ctx;

	(void)pa;
	s->hyp_mapped -= size;
}

static void sim_scrub(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct sim *s = ctx;

	(void)pa;
	s->scrubbed += size;
}

/* pkvm ram=BASE size=SIZE [granule=G]: page ownership over one RAM range of the host. */
static int sim_step_pkvm(struct sim *s, struct sim_toks *t)
{
	struct s2_config_req req = { .granule = S2_GRANULE_4K };
	struct s2_owner_params p = { 0 };
	uint64_t base, size, pages;
	bool given;
	const char *g;
	int ret;

	if (s->own)
		return sim_syntax(s, "'pkvm' comes once");
	if ((ret = sim_need_host(s)))
		return ret;
	if ((ret = sim_opt_num(s, t, 1, "ram", &base, &given)))
		return ret;
	if (!given)
		return sim_syntax(s, "usage: pkvm ram=BASE size=SIZE [granule=G]");
	if ((ret = sim_opt_num(s, t, 1, "size", &size, &given)))
		return ret;
	if (!given)
		return sim_syntax(s, "usage: pkvm ram=BASE size=SIZE [granule=G]");
	if (sim_opt(t, 1, "granule", &g) && (!g || s2_granule_parse(g, &req.granule)))
		return sim_syntax(s, "granule is 4k, 16k or 64k");
	if ((ret = sim_leftover(s, t, 1)) || (ret = sim_range(s, "ram", base, size)))
		return ret;
	req.ipa_bits = s->caps.pa_bits;
	ret = s2_config_init(&s->own_cfg, &s->caps, &req);
	if (ret)
		return sim_syntax(s, "host stage-2 config: %s", s2_errname(ret));
	pages = size >> s->own_cfg.page_shift;
	if (!pages || pages > (UINT64_C(1) << 24))
		return sim_syntax(s,
				  "pkvm RAM size 0x%" PRIx64 " is %s (one %s page to 2^24 pages)",
				  size, pages ? "too large" : "less than a page",
				  s2_granule_name(s->own_cfg.granule));
	s->own = calloc(1, sizeof(*s->own));
	s->own_meta = calloc(pages, sizeof(*s->own_meta));
	if (!s->own || !s->own_meta) {
		free(s->own);
		s->own = NULL;
		return sim_syntax(s, "out of memory");
	}
	s->own_ram.base = s2_pa(base);
	s->own_ram.size = size;
	p.host_cfg = &s->own_cfg;
	p.port = s2_host_port_port(s->hp);
	p.cookie = NULL; /* TLBIs of the host stage-2: VMID 0 in the TLB model */
	p.ram = &s->own_ram;
	p.nr_ram = 1;
	p.meta = s->own_meta;
	p.nr_meta = pages;
	p.hyp.map = sim_hyp_map;
	p.hyp.unmap = sim_hyp_unmap;
	p.hyp.ctx = s;
	ret = s2_owner_init(s->own, &p);
	if (ret) {
		free(s->own);
		s->own = NULL;
		return sim_syntax(s, "pkvm refused: %s (%s)", s2_errname(ret), s2_strerror(ret));
	}
	sim_text(s,
		 "pkvm: host stage-2 %u-bit identity map, %s granule; RAM 0x%" PRIx64 "+0x%" PRIx64
		 " host-owned\n",
		 s->own_cfg.ipa_bits, s2_granule_name(s->own_cfg.granule), base, size);
	return 0;
}

static int sim_need_own(struct sim *s)
{
	if (!s->own)
		return sim_syntax(s, "page ownership steps need 'pkvm' first");
	return 0;
}

/* The owner's view of VM @sv: the VM layer's own for an owner-managed VM, else the sim's. */
#define SIM_OG(sv) ((sv)->owner_managed ? &(sv)->vm.og : &(sv)->og)

static int sim_owner_guest(struct sim *s, struct sim_vm **out)
{
	struct sim_vm *sv;
	int ret;

	if ((ret = sim_need_vm(s)))
		return ret;
	sv = s->cur;
	if (!sv->og_ready) {
		/* Owner ids 2..255 are guests: VM N is owner N + 1. 0 is the host's, 1 the
		 * hypervisor's (owner.h). */
		if (sv->id + (uint64_t)1 == S2_OWNER_HYP)
			return sim_syntax(
				s,
				"vm%u cannot take part in page ownership: VM N is owner "
				"N + 1, and owner %u is the hypervisor's (use VM ids 1..%u)",
				sv->id, S2_OWNER_HYP, S2_OWNER_GUEST_MAX - 1);
		if (sv->id + (uint64_t)1 > S2_OWNER_GUEST_MAX)
			return sim_syntax(s,
					  "vm%u cannot take part in page ownership: VM N is owner "
					  "N + 1, and owner ids are 8-bit (0 is the host's, 1 the "
					  "hypervisor's; use VM ids 1..%u)",
					  sv->id, S2_OWNER_GUEST_MAX - 1);
		if (sv->vm.pgt.cfg.granule != s->own_cfg.granule)
			return sim_syntax(s,
					  "vm%u cannot take part in page ownership: its %s granule "
					  "is not the host stage-2's %s",
					  sv->id, s2_granule_name(sv->vm.pgt.cfg.granule),
					  s2_granule_name(s->own_cfg.granule));
		ret = s2_owner_guest_init(&sv->og, &sv->vm.pgt, (uint8_t)(sv->id + 1),
					  sv->protected_vm);
		if (ret)
			return sim_syntax(s, "vm%u cannot take part in page ownership: %s", sv->id,
					  s2_errname(ret));
		sv->og_ready = true;
	}
	*out = sv;
	return 0;
}

/* Transitions: share-hyp|unshare-hyp|donate-hyp|donate-hyp-host|pin-hyp|unpin-hyp PA SIZE;
 * set-prot-guest IPA SIZE PERM;
 * share-guest PA IPA SIZE [PERM] (PERM: letters of "rwx", default rwx);
 * donate-guest PA IPA SIZE; unshare-guest|guest-share-host|guest-unshare-host
 * IPA SIZE; teardown. */
static int sim_step_owner(struct sim *s, struct sim_toks *t)
{
	const char *op = t->v[0];
	uint64_t a[3] = { 0 }, prot = S2_PROT_RWX;
	int need, ret;
	struct sim_vm *sv = NULL;
	char what[96];
	bool perm;

	if ((ret = sim_need_own(s)))
		return ret;
	need = (!strcmp(op, "share-guest") || !strcmp(op, "donate-guest")) ? 3 :
	       !strcmp(op, "teardown")					   ? 0 :
									     2;
	perm = (!strcmp(op, "share-guest") && t->n == need + 2) || !strcmp(op, "set-prot-guest");
	if (t->n != need + 1 + perm)
		return sim_syntax(s,
				  !strcmp(op, "set-prot-guest") ?
					  "'%s' takes %d numbers and the permissions" :
					  "'%s' takes %d numbers",
				  op, need);
	for (int i = 0; i < need; i++)
		if ((ret = sim_num(s, op, t->v[i + 1], &a[i])))
			return ret;
	/* The last number is the size; every address before it starts a range of that size. */
	for (int i = 0; i + 1 < need; i++)
		if ((ret = sim_range(s, i ? "IPA" : (need == 3 ? "PA" : "address"), a[i],
				     a[need - 1])))
			return ret;
	if (perm) {
		const char *p = t->v[need + 1];
		prot = 0;
		for (; *p; p++) {
			uint64_t bit = *p == 'r' ? S2_PROT_R :
				       *p == 'w' ? S2_PROT_W :
				       *p == 'x' ? S2_PROT_X :
						   0;
			if (!bit || (prot & bit))
				return sim_syntax(
					s, "'%s': permissions are letters of \"rwx\", not '%s'", op,
					t->v[need + 1]);
			prot |= bit;
		}
	}
	if (strstr(op, "guest") || !strcmp(op, "teardown"))
		if ((ret = sim_owner_guest(s, &sv)))
			return ret;
	snprintf(what, sizeof(what), "%s", op);
	for (int i = 0; i < need; i++)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), " 0x%" PRIx64, a[i]);
	if (perm)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), " %.8s", t->v[need + 1]);
	sim_jstep(s, op);
	if (!strcmp(op, "share-hyp"))
		ret = s2_owner_share_hyp(s->own, s2_pa(a[0]), a[1]);
	else if (!strcmp(op, "unshare-hyp"))
		ret = s2_owner_unshare_hyp(s->own, s2_pa(a[0]), a[1]);
	else if (!strcmp(op, "donate-hyp"))
		ret = s2_owner_donate_hyp(s->own, s2_pa(a[0]), a[1]);
	else if (!strcmp(op, "donate-hyp-host"))
		ret = s2_owner_donate_hyp_host(s->own, s2_pa(a[0]), a[1]);
	else if (!strcmp(op, "pin-hyp"))
		ret = s2_owner_pin_hyp(s->own, s2_pa(a[0]), a[1]);
	else if (!strcmp(op, "unpin-hyp"))
		ret = s2_owner_unpin_hyp(s->own, s2_pa(a[0]), a[1]);
	else if (!strcmp(op, "set-prot-guest"))
		ret = s2_owner_set_prot_guest(s->own, SIM_OG(sv), s2_ipa(a[0]), a[1], prot);
	else if (!strcmp(op, "share-guest"))
		ret = s2_owner_share_guest(s->own, SIM_OG(sv), s2_pa(a[0]), s2_ipa(a[1]), a[2],
					   prot);
	else if (!strcmp(op, "donate-guest"))
		ret = s2_owner_donate_guest(s->own, SIM_OG(sv), s2_pa(a[0]), s2_ipa(a[1]), a[2]);
	else if (!strcmp(op, "unshare-guest"))
		ret = s2_owner_unshare_guest(s->own, SIM_OG(sv), s2_ipa(a[0]), a[1]);
	else if (!strcmp(op, "guest-share-host"))
		ret = s2_owner_guest_share_host(s->own, SIM_OG(sv), s2_ipa(a[0]), a[1]);
	else if (!strcmp(op, "guest-unshare-host"))
		ret = s2_owner_guest_unshare_host(s->own, SIM_OG(sv), s2_ipa(a[0]), a[1]);
	else
		ret = s2_owner_guest_teardown(s->own, SIM_OG(sv), sim_scrub, s);
	if (ret)
		sim_lib_error(s, what, ret);
	else if (sv)
		sim_text(s, "vm%u %s: done\n", sv->id, what);
	else
		sim_text(s, "%s: done\n", what);
	sim_jend(s);
	return 0;
}

/* host-access PA [write]: the host touches a physical page through its stage-2 (identity). */
static int sim_step_host_access(struct sim *s, struct sim_toks *t)
{
	struct s2_walk_mem mem;
	struct s2_walk_result w;
	struct s2_access acc = { .type = S2_ACCESS_READ };
	enum s2_host_abort_action act = S2_HOST_ABORT_MAPPED;
	uint64_t pa;
	unsigned int faults = 0;
	bool wr = false;
	int ret;

	if ((ret = sim_need_own(s)))
		return ret;
	if (t->n < 2 || (ret = sim_num(s, "the PA", t->v[1], &pa)))
		return ret ? ret : sim_syntax(s, "usage: host-access PA [write]");
	if ((ret = sim_opt_flag(s, t, 2, "write", &wr)) || (ret = sim_leftover(s, t, 2)))
		return ret;
	if (wr)
		acc.type = S2_ACCESS_WRITE;
	mem = s2_host_port_walk_mem(s->hp);
	sim_jstep(s, "host-access");
	for (;;) {
		const struct s2_tlb_entry *e = s2_tlb_lookup(&s->tlb, 0, s2_ipa(pa));

		if (e && (e->s2ap & (wr ? S2_S2AP_WO : S2_S2AP_RO))) {
			w.fault = S2_FAULT_NONE;
			break;
		}
		ret = s2_walk(&s->own->host.cfg, s->own->host.root_pa, &mem, s2_ipa(pa), acc, &w);
		if (ret || w.fault == S2_FAULT_NONE) {
			if (!ret)
				s2_tlb_fill(&s->tlb, 0, s2_ipa(pa), &w);
			break;
		}
		if (++faults > SIM_MAX_RETRIES) {
			ret = S2_EAGAIN;
			break;
		}
		s->faults[w.fault <= S2_FAULT_OTHER ? w.fault : S2_FAULT_OTHER]++;
		ret = s2_host_handle_fault(s->own, s2_pa(pa), &act);
		if (ret || act == S2_HOST_ABORT_INJECT)
			break;
	}
	s->host_result = ret ? -1 : (w.fault == S2_FAULT_NONE ? 0 : 1);
	s->have_host_result = true;
	if (ret) {
		sim_jend(s);
		return sim_expect_fail(s, "host access to 0x%" PRIx64 " failed: %s", pa,
				       s2_errname(ret));
	}
	sim_text(s, "host %s 0x%" PRIx64 ": %s (%u fault%s)\n", wr ? "write" : "read", pa,
		 s->host_result ? "inject" : "ok", faults, faults == 1 ? "" : "s");
	if (sim_jsonp(s)) {
		s2_json_hex(&s->j, "pa", pa);
		s2_json_str(&s->j, "result", s->host_result ? "inject" : "ok");
		s2_json_u64(&s->j, "faults", faults);
	}
	sim_jend(s);
	return 0;
}

static int sim_parse_state(const char *n, enum s2_page_state *out)
{
	static const enum s2_page_state all[] = { S2_PAGE_OWNED, S2_PAGE_SHARED_OWNED,
						  S2_PAGE_SHARED_BORROWED, S2_PAGE_RESERVED,
						  S2_PAGE_NOPAGE };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(n, s2_page_state_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	return -1;
}

/* page PA: print the host's and hypervisor's view of a physical page. */
static int sim_step_page(struct sim *s, struct sim_toks *t)
{
	struct s2_page_info info;
	uint64_t pa;
	int ret;

	if ((ret = sim_need_own(s)))
		return ret;
	if (t->n != 2 || (ret = sim_num(s, "the PA", t->v[1], &pa)))
		return ret ? ret : sim_syntax(s, "usage: page PA");
	ret = s2_owner_page_info(s->own, s2_pa(pa), &info);
	sim_jstep(s, "page");
	if (ret) {
		sim_lib_error(s, "page", ret);
	} else {
		sim_text(s, "page 0x%" PRIx64 ": %s, host %s, hyp %s, owner %u, shares %u\n", pa,
			 info.ram ? "ram" : "mmio", s2_page_state_name(info.host),
			 s2_page_state_name(info.hyp), info.owner, info.share_count);
		if (sim_jsonp(s)) {
			s2_json_str(&s->j, "host", s2_page_state_name(info.host));
			s2_json_str(&s->j, "hyp", s2_page_state_name(info.hyp));
			s2_json_u64(&s->j, "owner", info.owner);
			s2_json_u64(&s->j, "shares", info.share_count);
		}
	}
	sim_jend(s);
	return 0;
}

/* expect page PA [host=STATE] [hyp=STATE] [owner=N] [shares=N] [guest=STATE@IPA] */
static int sim_expect_page(struct sim *s, struct sim_toks *t)
{
	struct s2_page_info info;
	enum s2_page_state st;
	uint64_t pa, v;
	const char *str;
	bool given;
	int ret;

	if ((ret = sim_need_own(s)))
		return ret;
	if (t->n < 3 || (ret = sim_num(s, "the PA", t->v[2], &pa)))
		return ret ? ret : sim_syntax(s, "usage: expect page PA [host=S] [hyp=S] ...");
	t->used[2] = true;
	ret = s2_owner_page_info(s->own, s2_pa(pa), &info);
	if (ret)
		return sim_expect_fail(s, "page 0x%" PRIx64 ": %s", pa, s2_errname(ret));
	if (sim_opt(t, 3, "host", &str)) {
		if (!str || sim_parse_state(str, &st))
			return sim_syntax(s, "bad page state '%s'", str ? str : "");
		if (st != info.host)
			return sim_expect_fail(s, "page 0x%" PRIx64 ": expected host %s, got %s",
					       pa, str, s2_page_state_name(info.host));
	}
	if (sim_opt(t, 3, "hyp", &str)) {
		if (!str || sim_parse_state(str, &st))
			return sim_syntax(s, "bad page state '%s'", str ? str : "");
		if (st != info.hyp)
			return sim_expect_fail(s, "page 0x%" PRIx64 ": expected hyp %s, got %s", pa,
					       str, s2_page_state_name(info.hyp));
	}
	if ((ret = sim_opt_num(s, t, 3, "owner", &v, &given)))
		return ret;
	if (given && v != info.owner)
		return sim_expect_fail(s, "page 0x%" PRIx64 ": expected owner %" PRIu64 ", got %u",
				       pa, v, info.owner);
	if ((ret = sim_opt_num(s, t, 3, "shares", &v, &given)))
		return ret;
	if (given && v != info.share_count)
		return sim_expect_fail(s, "page 0x%" PRIx64 ": expected %" PRIu64 " shares, got %u",
				       pa, v, info.share_count);
	return sim_leftover(s, t, 3);
}

/* expect guest-page IPA STATE: the current VM's owner-layer state at IPA. */
static int sim_expect_guest_page(struct sim *s, struct sim_toks *t)
{
	struct sim_vm *sv;
	enum s2_page_state want, got;
	s2_pa_t pa;
	uint64_t ipa;
	int ret;

	if ((ret = sim_need_own(s)) || (ret = sim_owner_guest(s, &sv)))
		return ret;
	if (t->n != 4 || (ret = sim_num(s, "the IPA", t->v[2], &ipa)) ||
	    sim_parse_state(t->v[3], &want))
		return ret ? ret : sim_syntax(s, "usage: expect guest-page IPA STATE");
	ret = s2_owner_guest_page(SIM_OG(sv), s2_ipa(ipa), &got, &pa);
	if (ret)
		return sim_expect_fail(s, "guest page 0x%" PRIx64 ": %s", ipa, s2_errname(ret));
	if (got != want)
		return sim_expect_fail(s, "vm%u 0x%" PRIx64 ": expected %s, got %s", sv->id, ipa,
				       t->v[3], s2_page_state_name(got));
	return 0;
}

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

static int sim_step_expect(struct sim *s, struct sim_toks *t)
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

/* ---- the runner --------------------------------------------------------------------------- */

static int sim_step(struct sim *s, struct sim_toks *t)
{
	const char *c = t->v[0];

	t->used[0] = true;
	if (!strcmp(c, "host"))
		return sim_step_host(s, t);
	if (!strcmp(c, "vm"))
		return sim_step_vm(s, t);
	if (!strcmp(c, "slot"))
		return sim_step_slot(s, t);
	if (!strcmp(c, "slot-delete") || !strcmp(c, "slot-move") || !strcmp(c, "slot-flags") ||
	    !strcmp(c, "lock") || !strcmp(c, "unlock"))
		return sim_step_slot_op(s, t);
	if (!strcmp(c, "enter")) {
		int ret = sim_need_vm(s);

		if (ret || (ret = sim_leftover(s, t, 1)))
			return ret;
		sim_enter(s, s->cur, false);
		return 0;
	}
	if (!strcmp(c, "read") || !strcmp(c, "write") || !strcmp(c, "exec") ||
	    !strcmp(c, "atomic") || !strcmp(c, "dc-zva"))
		return sim_step_access(s, t);
	if (!strcmp(c, "dirty"))
		return sim_step_dirty(s, t);
	if (!strcmp(c, "age"))
		return sim_step_age(s, t);
	if (!strcmp(c, "invalidate"))
		return sim_step_invalidate(s, t);
	if (!strcmp(c, "tlb-flush")) {
		int ret = sim_need_host(s);

		if (ret || (ret = sim_leftover(s, t, 1)))
			return ret;
		s2_tlbi_all(&s->tlb);
		sim_text(s, "tlb-flush: the TLB model forgets every entry\n");
		return 0;
	}
	if (!strcmp(c, "dump"))
		return sim_step_dump(s, t);
	if (!strcmp(c, "pkvm"))
		return sim_step_pkvm(s, t);
	if (!strcmp(c, "host-access"))
		return sim_step_host_access(s, t);
	if (!strcmp(c, "page"))
		return sim_step_page(s, t);
	if (!strcmp(c, "share-hyp") || !strcmp(c, "unshare-hyp") || !strcmp(c, "donate-hyp") ||
	    !strcmp(c, "donate-hyp-host") || !strcmp(c, "share-guest") ||
	    !strcmp(c, "donate-guest") || !strcmp(c, "unshare-guest") ||
	    !strcmp(c, "guest-share-host") || !strcmp(c, "guest-unshare-host") ||
	    !strcmp(c, "pin-hyp") || !strcmp(c, "unpin-hyp") || !strcmp(c, "set-prot-guest") ||
	    !strcmp(c, "teardown"))
		return sim_step_owner(s, t);
	if (!strcmp(c, "echo")) {
		sim_text(s, "# %s\n", t->rest ? t->rest : "");
		if (sim_jsonp(s)) {
			sim_jstep(s, "echo");
			s2_json_str(&s->j, "text", t->rest ? t->rest : "");
			sim_jend(s);
		}
		return 0;
	}
	if (!strcmp(c, "expect"))
		return sim_step_expect(s, t);
	return sim_syntax(s, "unknown step '%s'", c);
}

struct sim *sim_open(const struct sim_opts *o)
{
	struct sim *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->o = *o;
	s->out = o->out ? o->out : stdout;
	s->err = o->err ? o->err : stderr;
	return s;
}

struct sim_vm *const *sim_vms(const struct sim *s, unsigned int *n)
{
	*n = s->nr_vms;
	return s->vms;
}

void sim_close(struct sim *s)
{
	if (!s)
		return;
	/* VMs first: an owner-managed VM gives its pages back to the owner on destruction. */
	for (unsigned int i = 0; i < s->nr_vms; i++) {
		if (s->vms[i]->og_ready)
			s2_page_cache_drain(&s->vms[i]->og.cache, &s->vms[i]->vm.pgt.port,
					    (size_t)s2_granule_size(s->vms[i]->vm.pgt.cfg.granule));
		s2_vcpu_destroy(&s->vms[i]->vcpu);
		s2_vm_destroy(&s->vms[i]->vm);
		free(s->vms[i]);
	}
	if (s->own) {
		s2_owner_fini(s->own);
		free(s->own);
	}
	free(s->own_meta);
	if (s->hp)
		s2_host_port_destroy(s->hp);
	free(s->dirty);
	free(s);
}

static void sim_summary_text(struct sim *s)
{
	static const enum s2_fault kinds[] = { S2_FAULT_TRANSLATION, S2_FAULT_PERMISSION,
					       S2_FAULT_ACCESS_FLAG, S2_FAULT_ADDRESS_SIZE,
					       S2_FAULT_EXTERNAL_WALK };
	struct s2_host_stats hs = s->hp ? s2_host_port_stats(s->hp) : (struct s2_host_stats){ 0 };
	uint64_t other = 0;

	fprintf(s->out, "summary:\n");
	fprintf(s->out,
		"  accesses %" PRIu64 ": ok %" PRIu64 " (tlb hits %" PRIu64 "), mmio-exit %" PRIu64
		", nisv-exit %" PRIu64 ", inject %" PRIu64 "\n",
		s->accesses, s->acc_ok, s->tlb_hits, s->acc_mmio, s->acc_nisv, s->acc_inject);
	fprintf(s->out, "  faults:");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		fprintf(s->out, "%s %s %" PRIu64, i ? "," : "", s2_fault_name(kinds[i]),
			s->faults[kinds[i]]);
	for (int k = 0; k <= S2_FAULT_OTHER; k++)
		if (k != S2_FAULT_TRANSLATION && k != S2_FAULT_PERMISSION &&
		    k != S2_FAULT_ACCESS_FLAG && k != S2_FAULT_ADDRESS_SIZE &&
		    k != S2_FAULT_EXTERNAL_WALK)
			other += s->faults[k];
	fprintf(s->out, ", other %" PRIu64 "\n", other);
	for (unsigned int i = 0; i < s->nr_vms; i++) {
		struct sim_vm *sv = s->vms[i];
		struct s2_check_report rep;
		struct sim_runs r;
		const struct s2_vm_stats *st = &sv->vm.stats;

		memset(&rep, 0, sizeof(rep));
		s2_pgtable_check(&sv->vm.pgt, &rep);
		if (sim_collect_runs(&sv->vm.pgt, &r))
			memset(&r, 0, sizeof(r));
		fprintf(s->out,
			"  vm%u: mappings L0 %" PRIu64 ", L1 %" PRIu64 ", L2 %" PRIu64
			", L3 %" PRIu64 "; table pages %" PRIu64 "; handler: mapped %" PRIu64
			", relaxed %" PRIu64 ", young %" PRIu64 ", mmio %" PRIu64 ", nisv %" PRIu64
			", inject %" PRIu64 "%s\n",
			sv->id, r.leaves[1], r.leaves[2], r.leaves[3], r.leaves[4], rep.table_pages,
			st->mapped, st->relaxed, st->young, st->mmio_exits, st->nisv_exits,
			st->injects, rep.errors ? " (TABLE CHECK FAILED)" : "");
		sim_runs_free(&r);
	}
	fprintf(s->out,
		"  host port: tlbi ipa %" PRIu64 ", range %" PRIu64 ", vmid %" PRIu64
		"; dc clean+inval %" PRIu64 " bytes, ic inval %" PRIu64 " bytes; table pages in "
		"use %" PRIu64 "\n",
		hs.tlbi_ipa, hs.tlbi_range, hs.tlbi_vmid, hs.dc_bytes, hs.ic_bytes,
		hs.pages_in_use);
	fprintf(s->out, "  MTE tags sanitised %" PRIu64 " bytes; stale TLB entries: %" PRIu64 "\n",
		s->tags_bytes, s->stale);
}

static void sim_summary_json(struct sim *s)
{
	struct s2_host_stats hs = s->hp ? s2_host_port_stats(s->hp) : (struct s2_host_stats){ 0 };
	struct s2_json *j = &s->j;

	s2_json_object_begin(j, "summary");
	s2_json_u64(j, "accesses", s->accesses);
	s2_json_u64(j, "ok", s->acc_ok);
	s2_json_u64(j, "tlb_hits", s->tlb_hits);
	s2_json_u64(j, "mmio_exits", s->acc_mmio);
	s2_json_u64(j, "nisv_exits", s->acc_nisv);
	s2_json_u64(j, "injects", s->acc_inject);
	s2_json_object_begin(j, "faults");
	for (int k = S2_FAULT_ADDRESS_SIZE; k <= S2_FAULT_OTHER; k++)
		s2_json_u64(j, s2_fault_name((enum s2_fault)k), s->faults[k]);
	s2_json_object_end(j);
	s2_json_array_begin(j, "vms");
	for (unsigned int i = 0; i < s->nr_vms; i++) {
		struct sim_vm *sv = s->vms[i];
		struct s2_check_report rep;
		struct sim_runs r;

		memset(&rep, 0, sizeof(rep));
		s2_pgtable_check(&sv->vm.pgt, &rep);
		if (sim_collect_runs(&sv->vm.pgt, &r))
			memset(&r, 0, sizeof(r));
		s2_json_object_begin(j, NULL);
		s2_json_u64(j, "vm", sv->id);
		s2_json_object_begin(j, "mappings_by_level");
		s2_json_u64(j, "0", r.leaves[1]);
		s2_json_u64(j, "1", r.leaves[2]);
		s2_json_u64(j, "2", r.leaves[3]);
		s2_json_u64(j, "3", r.leaves[4]);
		s2_json_object_end(j);
		s2_json_u64(j, "table_pages", rep.table_pages);
		s2_json_bool(j, "tables_consistent", rep.errors == 0);
		s2_json_u64(j, "mapped", sv->vm.stats.mapped);
		s2_json_u64(j, "relaxed", sv->vm.stats.relaxed);
		s2_json_u64(j, "young", sv->vm.stats.young);
		s2_json_u64(j, "mmio_exits", sv->vm.stats.mmio_exits);
		s2_json_u64(j, "nisv_exits", sv->vm.stats.nisv_exits);
		s2_json_u64(j, "cmo_deferred_bytes", sv->vm.stats.cmo_deferred_bytes);
		s2_json_object_end(j);
		sim_runs_free(&r);
	}
	s2_json_array_end(j);
	s2_json_object_begin(j, "tlbi");
	s2_json_u64(j, "ipa", hs.tlbi_ipa);
	s2_json_u64(j, "range", hs.tlbi_range);
	s2_json_u64(j, "vmid", hs.tlbi_vmid);
	s2_json_object_end(j);
	s2_json_object_begin(j, "cmo_bytes");
	s2_json_u64(j, "dcache", hs.dc_bytes);
	s2_json_u64(j, "icache", hs.ic_bytes);
	s2_json_object_end(j);
	s2_json_u64(j, "table_pages_in_use", hs.pages_in_use);
	s2_json_u64(j, "tags_sanitised_bytes", s->tags_bytes);
	s2_json_u64(j, "stale_tlb_entries", s->stale);
	s2_json_object_end(j);
}

/* Read one line of @f into @buf (SIM_LINE_MAX + 1 bytes) without its line end.
 * Return: 1 a line; 0 end of file; SIM_RD_LONG, SIM_RD_NUL or SIM_RD_ERROR. */
enum { SIM_RD_LONG = -1, SIM_RD_NUL = -2, SIM_RD_ERROR = -3 };

static int sim_read_line(FILE *f, char *buf)
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0')
			return SIM_RD_NUL;
		if (n == SIM_LINE_MAX)
			return SIM_RD_LONG;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	if (c == EOF && ferror(f))
		return SIM_RD_ERROR;
	if (c == EOF && !n)
		return 0;
	if (n && buf[n - 1] == '\r') /* a CRLF file */
		buf[--n] = '\0';
	return 1;
}

int sim_run_file(struct sim *s, const char *path, bool summary)
{
	struct stat st;
	FILE *f;
	int status;

	s->file = path;
	s->line = 0;
	if (!*path)
		return sim_syntax(s, "the scenario file name is empty");
	f = fopen(path, "r");
	if (!f)
		return sim_syntax(s, "cannot open: %s", strerror(errno));
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return sim_syntax(s, "cannot read: it is a directory");
	}
	status = sim_run_stream(s, path, f, summary);
	fclose(f);
	return status;
}

int sim_run_stream(struct sim *s, const char *name, FILE *f, bool summary)
{
	char buf[SIM_LINE_MAX + 1];
	int status = SIM_OK, rd;

	s->file = name;
	s->line = 0;
	if (sim_jsonp(s)) {
		s2_json_begin(&s->j, s->out);
		s2_json_str(&s->j, "scenario", name);
		s2_json_array_begin(&s->j, "steps");
	}
	while ((rd = sim_read_line(f, buf)) != 0) {
		struct sim_toks t;
		size_t len;
		unsigned int depth;
		char raw[sizeof(buf)];

		s->line++;
		if (rd == SIM_RD_LONG) {
			status = sim_syntax(s, "line too long (more than %d characters)",
					    SIM_LINE_MAX);
			break;
		}
		if (rd == SIM_RD_NUL) {
			status = sim_syntax(s, "a NUL byte (the file is not text)");
			break;
		}
		if (rd == SIM_RD_ERROR) {
			status = sim_syntax(s, "read error: %s", strerror(errno));
			break;
		}
		len = strlen(buf);
		memcpy(raw, buf, len + 1);
		if (sim_tokenize(buf, &t)) {
			status = sim_syntax(s, "too many words");
			break;
		}
		if (!t.n)
			continue;
		t.rest = sim_rest(raw);
		if (s->pending_err && strcmp(t.v[0], "expect")) {
			s->line = s->pending_line;
			status = sim_expect_fail(s,
						 "%s failed: %s (%s) (add 'expect error %s' if "
						 "that is intended)",
						 s->pending_what, s2_errname(s->pending_err),
						 s2_strerror(s->pending_err),
						 s2_errname(s->pending_err));
			break;
		}
		depth = s->j.depth;
		status = sim_step(s, &t);
		/* A step that failed half-way leaves its JSON object open: close it, so that the
		 * document keeps its shape {"scenario", "steps": [...], ..., "status"}. */
		while (sim_jsonp(s) && s->j.depth > depth)
			s2_json_object_end(&s->j);
		if (status)
			break;
		if (s->pending_err && !strcmp(t.v[0], "expect") && strcmp(t.v[1], "error")) {
			s->line = s->pending_line;
			status = sim_expect_fail(s, "%s failed: %s", s->pending_what,
						 s2_errname(s->pending_err));
			break;
		}
	}
	if (!status && s->pending_err) {
		s->line = s->pending_line;
		status = sim_expect_fail(s, "%s failed: %s (%s)", s->pending_what,
					 s2_errname(s->pending_err), s2_strerror(s->pending_err));
	}
	if (!status) {
		s->line = 0;
		sim_check_tlb(s);
		if (s->stale)
			status = sim_expect_fail(
				s, "%" PRIu64 " stale TLB entries (a missing TLBI)", s->stale);
		for (unsigned int i = 0; !status && i <= s->nr_vms; i++) {
			const struct s2_pgtable *pgt = NULL;
			struct s2_check_report rep;

			if (i < s->nr_vms)
				pgt = &s->vms[i]->vm.pgt;
			else if (s->own)
				pgt = &s->own->host;
			if (pgt && s2_pgtable_check(pgt, &rep))
				status = sim_expect_fail(s, "inconsistent tables (%s): %s",
							 i < s->nr_vms ? "a VM" : "host",
							 rep.first_error);
		}
	}
	if (sim_jsonp(s)) {
		s2_json_array_end(&s->j);
		if (summary)
			sim_summary_json(s);
		s2_json_int(&s->j, "status", status);
		s2_json_end(&s->j);
	} else if (!s->o.quiet && summary && status != SIM_SYNTAX) {
		sim_summary_text(s);
	}
	s->status = status;
	return status;
}
