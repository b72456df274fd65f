/* SPDX-License-Identifier: MIT */
/*
 * port/el2/el2_vmrun.h - a vCPU run loop on top of the VM layer (s2mmu/vm.h): every entry goes
 * through s2_vm_vcpu_enter() (VTCR/VTTBR/HCR from its result, deferred maintenance first),
 * every stage-2 abort through s2_vm_handle_abort(), and the port acts on the result: resume,
 * emulate an MMIO access against a caller's device and skip the instruction, or inject a
 * synchronous external abort into the guest's own EL1 vector. See docs/el2.md.
 */
#ifndef S2_EL2_VMRUN_H
#define S2_EL2_VMRUN_H

#include "el2.h"
#include "s2mmu/vm.h"

struct el2_vmrun;

/*
 * An emulated device: @size bytes (1, 2, 4, 8) at @ipa; for a read, put the value in *@val
 * (zero-extended), for a write *@val holds it (already truncated to @size).
 * Return: 0, or a negative value to stop the run with it.
 */
typedef int (*el2_mmio_fn)(void *arg, uint64_t ipa, bool write, unsigned int size, uint64_t *val);

struct el2_vmrun_stats {
	uint64_t entries; /* s2_vm_vcpu_enter() calls */
	uint64_t aborts; /* stage-2 aborts handed to s2_vm_handle_abort() */
	uint64_t resume[4]; /* by enum s2_resume_reason */
	uint64_t mmio; /* emulated accesses */
	uint64_t inject[8]; /* by enum s2_inject_reason */
	uint64_t nisv; /* S2_ABORT_NISV results (an external abort injected for each) */
	uint64_t cmo_entries; /* entries that performed deferred maintenance */
	uint64_t cmo_bytes; /* their total */
	uint64_t cmo_first_entry; /* number (1-based) of the first entry that performed it */
	uint64_t handle_ticks; /* CNTPCT ticks spent in s2_vm_handle_abort() */
};

struct el2_vmrun {
	struct s2_vcpu *vcpu; /* bound to its VM with s2_vcpu_init() */
	struct el2_guest_regs regs;
	uint64_t stack_top; /* SP_EL1 for el2_vmrun_call() */
	el2_mmio_fn mmio; /* NULL: an MMIO exit stops the run */
	void *mmio_arg;
	/* Optional, for tests: called for every stage-2 abort before (@res NULL) and after
	 * s2_vm_handle_abort(). A negative return stops the run with it. */
	int (*observe)(void *arg, struct el2_vmrun *r, const struct el2_exit *e,
		       const struct s2_abort_result *res);
	void *observe_arg;
	struct el2_vmrun_stats st;
	struct s2_vcpu_entry entry; /* the last entry's values */
	struct s2_abort_result last; /* the last abort's result */
};

/* Hooks for s2_vm_params: load_stage2 = el2_stage2_load() (single CPU: no locks). */
void el2_vmrun_hooks(struct s2_vm_hooks *h);

/*
 * el2_vmrun_run() - run the guest from r->regs until it executes HVC (its x0 is in
 * r->regs.x[0]). Each entry: s2_vm_vcpu_enter(), load VTCR/VTTBR, HCR_EL2 = RW | hcr_set
 * (hcr_clear removed). Each stage-2 abort: s2_vm_handle_abort() and its action (RESUME,
 * MMIO emulated through r->mmio with ELR += 4, INJECT through el2_inject_abort(); NISV, an
 * access without instruction syndrome that this port cannot emulate, is injected likewise
 * and counted in st.nisv).
 * Return: 0 after HVC; the observer's or device's negative value; EL2_EUNEXPECTED for any
 * other exit or an MMIO exit without syndrome or device; a negative S2_E* code of the VM layer.
 */
int el2_vmrun_run(struct el2_vmrun *r);

/* el2_vmrun_call() - start guest function @fn at EL1h (DAIF masked) with SP_EL1 = stack_top
 * and up to four arguments, then el2_vmrun_run(). */
int el2_vmrun_call(struct el2_vmrun *r, const void *fn, uint64_t a0, uint64_t a1, uint64_t a2,
		   uint64_t a3);

/*
 * el2_inject_abort() - make the guest take a synchronous external abort, as the architecture's
 * exception entry to EL1 does (Arm ARM D1.10, AArch64.TakeException): ESR_EL1 = EC (data or
 * instruction abort, from the current EL when the guest was at EL1, from a lower EL when at
 * EL0) | IL (copied from ESR_EL2) | FSC 0x10; FAR_EL1 = the faulting VA (FAR_EL2);
 * ELR_EL1 = the guest's PC; SPSR_EL1 = its PSTATE; then PC = VBAR_EL1 + 0x000 (from EL1t),
 * + 0x200 (from EL1h) or + 0x400 (from EL0), PSTATE = EL1h with D, A, I, F masked.
 */
void el2_inject_abort(struct el2_guest_regs *regs, uint64_t esr_el2, uint64_t far_el2);

#endif /* S2_EL2_VMRUN_H */
