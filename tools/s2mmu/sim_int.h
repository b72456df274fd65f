/* SPDX-License-Identifier: MIT */
/*
 * sim_int.h - what the files of the scenario runner share (internal to tools/s2mmu).
 *
 * The runner of `s2mmu sim` (docs/sim.md) is split by what each part models:
 *
 *	sim_parse.c	messages, tokens, numbers and options, library errors
 *	sim_hw.c	the modelled hardware: guest accesses through the TLB model and the
 *			reference walker, ESR_EL2/FAR_EL2/HPFAR_EL2 of a fault, the TLB check
 *	sim_vm.c	VM steps: host, vm, memslots, vCPU entry, dirty logging, aging,
 *			invalidation, dump
 *	sim_owner.c	ownership steps (pKVM): pkvm, the transitions, host-access, page and
 *			the `expect page` / `expect guest-page` checks
 *	sim_expect.c	the `expect` step
 *	sim_run.c	the runner: one line after another, each dispatched by its first word to
 *			a sim_step_*() of the files above; sim_open/close, the summary
 *
 * A new step is a `int sim_step_NAME(struct sim *s, struct sim_toks *t)` in the file of its
 * kind, declared below and named in sim_step() (sim_run.c). A step consumes its words (the
 * sim_opt*() helpers mark them used) and ends with sim_leftover(); it returns 0,
 * SIM_SYNTAX (sim_syntax()) or SIM_EXPECT (sim_expect_fail()). A library call that fails is
 * reported with sim_lib_error() and the step returns 0: the next line must be `expect error`.
 */
#ifndef S2MMU_SIM_INT_H
#define S2MMU_SIM_INT_H

#include "sim.h"

#define SIM_MAX_TOKENS 40
#define SIM_MAX_FAULTS SIM_MAX_RETRIES

#if defined(__GNUC__) || defined(__clang__)
#define SIM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SIM_PRINTF(fmt, args)
#endif

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

/* The words of one line. */
struct sim_toks {
	char *v[SIM_MAX_TOKENS];
	bool used[SIM_MAX_TOKENS];
	int n;
	char *rest; /* the text after the first word (echo) */
};

/* ---- sim_parse.c: messages ---------------------------------------------------------------- */

/* Record the failure "s2mmu: CMD: FILE:LINE: ..." (printed now unless o.defer_error).
 * Return: @status. */
SIM_PRINTF(3, 4) int sim_msg(struct sim *s, int status, const char *fmt, ...);
#define sim_syntax(s, ...) sim_msg((s), SIM_SYNTAX, __VA_ARGS__)
#define sim_expect_fail(s, ...) sim_msg((s), SIM_EXPECT, __VA_ARGS__)

/* Text output of a step (nothing when quiet or in JSON mode). */
SIM_PRINTF(2, 3) void sim_text(struct sim *s, const char *fmt, ...);

/* Whether steps are written as JSON objects; sim_jstep() opens a step object in the JSON
 * "steps" array, sim_jend() closes it (both do nothing in text mode). */
bool sim_jsonp(const struct sim *s);
void sim_jstep(struct sim *s, const char *step);
void sim_jend(struct sim *s);

/* ---- sim_parse.c: tokens, numbers and options --------------------------------------------- */

/* Split @line (modified in place); '#' starts a comment. Return: 0; -1 for too many tokens. */
int sim_tokenize(char *line, struct sim_toks *t);
/* The text of @raw after its first word, without the line end (for echo). */
char *sim_rest(char *raw);
/* @str as a number (decimal or 0x hex, optional K/M/G/T suffix), @what naming it in the
 * message. Return: 0 or SIM_SYNTAX. */
int sim_num(struct sim *s, const char *what, const char *str, uint64_t *out);
/* A range [@base, @base + @size) must not wrap past 2^64, nor exceed the run's size limit. */
int sim_range(struct sim *s, const char *what, uint64_t base, uint64_t size);
/* Find option @key among the tokens from @from: "key=value" (*@val set) or a bare "key". */
bool sim_opt(struct sim_toks *t, int from, const char *key, const char **val);
/* Option @key as a number; *@given tells whether it was there. Return: 0 or SIM_SYNTAX. */
int sim_opt_num(struct sim *s, struct sim_toks *t, int from, const char *key, uint64_t *out,
		bool *given);
/* Option @key as a number in [@min, @max]: a value outside is refused, never truncated. */
int sim_opt_range(struct sim *s, struct sim_toks *t, int from, const char *key, uint64_t min,
		  uint64_t max, uint64_t *out, bool *given);
/* Option @key as a translation level, -1..3 ("level=-1": LPA2's extra level). */
int sim_opt_level(struct sim *s, struct sim_toks *t, int from, const char *key, int *out,
		  bool *given);
/* Option @key as on/off: a bare "key" or key=on|1|yes sets *@out true, key=off|0|no false;
 * *@out is left as it was when @key is absent. Return: 0 or SIM_SYNTAX. */
int sim_opt_flag(struct sim *s, struct sim_toks *t, int from, const char *key, bool *out);
/* Every token from @from on must have been consumed. Return: 0 or SIM_SYNTAX. */
int sim_leftover(struct sim *s, struct sim_toks *t, int from);

/* A library call of a step failed: remember it for `expect error` on the next line. */
void sim_lib_error(struct sim *s, const char *what, int err);

/* ---- sim_vm.c: VM steps ------------------------------------------------------------------- */

/* Create the host port, the TLB model and the VMID allocator on first use (with the largest
 * 48-bit host when no `host` step chose one). Return: 0 or SIM_SYNTAX. */
int sim_need_host(struct sim *s);
/* A current VM is required (SIM_SYNTAX otherwise). */
int sim_need_vm(struct sim *s);
int sim_step_host(struct sim *s, struct sim_toks *t);
int sim_step_vm(struct sim *s, struct sim_toks *t);
int sim_step_slot(struct sim *s, struct sim_toks *t);
int sim_step_slot_op(struct sim *s, struct sim_toks *t);
/* vCPU entry of @sv (the `enter` step, or @implicit before its first access). */
void sim_enter(struct sim *s, struct sim_vm *sv, bool implicit);
int sim_step_dirty(struct sim *s, struct sim_toks *t);
int sim_step_age(struct sim *s, struct sim_toks *t);
int sim_step_invalidate(struct sim *s, struct sim_toks *t);
int sim_step_dump(struct sim *s, struct sim_toks *t);

/* ---- sim_hw.c: the modelled hardware ------------------------------------------------------ */

/*
 * read|write IPA [size=N] [reg=N] [sext] [el0] [s1ptw] [form=pair|pre-index|post-index]
 * exec IPA [el0] [s1ptw]
 * atomic IPA [size=N] [el0]
 * dc-zva IPA [el0]
 */
int sim_step_access(struct sim *s, struct sim_toks *t);
/* The outcome of @a as `expect` names it ("ok", "mmio-exit", ...). */
const char *sim_result_name(const struct sim_access *a);
/* Compare the TLB model of every entered VM with its tables: count (s->stale) and report the
 * entries a missing TLBI left behind. */
void sim_check_tlb(struct sim *s);

/* ---- sim_owner.c: ownership steps (pKVM) -------------------------------------------------- */

/* The scrub hook of the owner and of owner-managed VMs: zero a page given back. */
void sim_scrub(void *ctx, s2_pa_t pa, uint64_t size);
/* pkvm ram=BASE size=SIZE [granule=G]: page ownership over one RAM range of the host. */
int sim_step_pkvm(struct sim *s, struct sim_toks *t);
/* Transitions: share-hyp|unshare-hyp|donate-hyp|donate-hyp-host|pin-hyp|unpin-hyp PA SIZE;
 * set-prot-guest IPA SIZE PERM;
 * share-guest PA IPA SIZE [PERM] (PERM: letters of "rwx", default rwx);
 * donate-guest PA IPA SIZE; unshare-guest|guest-share-host|guest-unshare-host
 * IPA SIZE; teardown. */
int sim_step_owner(struct sim *s, struct sim_toks *t);
/* host-access PA [write]: the host touches a physical page through its stage-2 (identity). */
int sim_step_host_access(struct sim *s, struct sim_toks *t);
/* page PA: print the host's and hypervisor's view of a physical page. */
int sim_step_page(struct sim *s, struct sim_toks *t);
/* expect page PA [host=STATE] [hyp=STATE] [owner=N] [shares=N] [guest=STATE@IPA] */
int sim_expect_page(struct sim *s, struct sim_toks *t);
/* expect guest-page IPA STATE: the current VM's owner-layer state at IPA. */
int sim_expect_guest_page(struct sim *s, struct sim_toks *t);

/* ---- sim_expect.c ------------------------------------------------------------------------- */

/* expect WHAT ...: check the last outcome of a step (docs/sim.md lists them). */
int sim_step_expect(struct sim *s, struct sim_toks *t);

#endif /* S2MMU_SIM_INT_H */
