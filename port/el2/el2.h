/* SPDX-License-Identifier: MIT */
/*
 * port/el2/el2.h - the EL2 port: console, exit, the s2_port ops with the real instructions,
 * a table-page allocator, guest memory, and a vCPU run loop that enters an EL1 guest and
 * brings its stage-2 aborts back to C.
 *
 * Runs under `qemu-system-aarch64 -M virt,virtualization=on -cpu max` entered at EL2 with the
 * MMU off, so a physical address is its own virtual address (see docs/el2.md).
 */
#ifndef S2_EL2_H
#define S2_EL2_H

#include <stdarg.h>

#include "s2mmu/arch.h"
#include "s2mmu/port.h"

struct s2_pgtable;

/* ---- console and exit --------------------------------------------------------------------- */

void el2_putc(char c);
void el2_puts(const char *s);
void el2_vprintf(const char *fmt, va_list ap);
/* printf subset: %d %i %u %x %p %s %c %%, widths, l/ll (see uart.c). */
void el2_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* End the QEMU run with @status (semihosting SYS_EXIT). */
_Noreturn void el2_exit(int status);

/* Count failures; el2_check_done() prints a summary and exits 0 or 1. */
extern unsigned int el2_failures;
#define EL2_CHECK(cond)                                                            \
	do {                                                                       \
		if (!(cond)) {                                                     \
			el2_failures++;                                            \
			el2_printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                  \
	} while (0)
#define EL2_CHECK_EQ(a, b)                                                                \
	do {                                                                              \
		uint64_t el2_a__ = (uint64_t)(a), el2_b__ = (uint64_t)(b);                \
		if (el2_a__ != el2_b__) {                                                 \
			el2_failures++;                                                   \
			el2_printf("FAIL %s:%d: %s == %s (0x%llx != 0x%llx)\n", __FILE__, \
				   __LINE__, #a, #b, (unsigned long long)el2_a__,         \
				   (unsigned long long)el2_b__);                          \
		}                                                                         \
	} while (0)
_Noreturn void el2_check_done(const char *test);

/* ---- host facts ------------------------------------------------------------------------------ */

/* Read ID_AA64MMFR0/1/2_EL1, ID_AA64PFR1_EL1 and CTR_EL0. */
void el2_read_idregs(struct s2_idregs *r);
/* The generic timer's counter and frequency (CNTPCT_EL0, CNTFRQ_EL0). */
uint64_t el2_counter(void);
uint64_t el2_counter_freq(void);

/* ---- memory ---------------------------------------------------------------------------------- */

/*
 * Table pages: a static pool with power-of-two blocks aligned to their size (4K .. 1M),
 * zeroed on allocation, a 32-bit reference counter per 4K page for the engine.
 */
void *el2_pool_alloc(size_t bytes);
void el2_pool_free(void *va, size_t bytes);
/* Bytes of the pool handed out and not given back. */
uint64_t el2_pool_in_use(void);

/*
 * Guest RAM: memory the hypervisor hands to guests as their pages (never table pages).
 * Returns @bytes aligned to @align (a power of two), zeroed, or NULL when the region is full.
 */
void *el2_guest_ram_alloc(size_t bytes, size_t align);

/* ---- the port -------------------------------------------------------------------------------- */

/*
 * One VM as the port sees it: what to load into VTCR_EL2, VTTBR_EL2 and HCR_EL2. A
 * struct s2_pgtable's cookie points at one of these, so the TLBI callbacks can load the VM's
 * VMID and stage-2 configuration before they invalidate (Arm ARM D8.13: TLBI by IPA or VMID
 * acts on the VMID in the current VTTBR_EL2).
 */
struct el2_vm {
	uint64_t vtcr;
	uint64_t vttbr;
	uint64_t hcr;
};

/* The s2_port of the EL2 port (a single context: one CPU). */
void el2_port_get(struct s2_port *port);

/* Load @vm's VTCR_EL2 and VTTBR_EL2 (and ISB) unless they already are loaded. */
void el2_vm_load(const struct el2_vm *vm);

/*
 * el2_vm_init() - fill @vm for @cfg: VTCR_EL2 = cfg->vtcr, VTTBR_EL2 = s2_vttbr(@root_pa,
 * @vmid), HCR_EL2 = VM | RW, plus FWB when cfg->fwb. Give @vm as the cookie of the VM's
 * s2_pgtable so the port's TLBI callbacks act on this VM.
 * Return: 0; S2_EINVAL when s2_vttbr() refuses the root or the VMID.
 */
int el2_vm_init(struct el2_vm *vm, const struct s2_config *cfg, s2_pa_t root_pa, uint16_t vmid);

/*
 * el2_stage2_load() - load VTCR_EL2/VTTBR_EL2 by value (what s2_vm_vcpu_enter() or the VM
 * layer's load_stage2 hook give), with ISB, unless exactly these values are loaded already.
 * Skipping an identical write matters on QEMU: it keeps the TLB across guest exits, so a
 * missing TLBI stays observable. el2_vm_load() and this share one record of what is loaded.
 */
void el2_stage2_load(uint64_t vtcr, uint64_t vttbr);

/*
 * el2_stage2_push() / el2_stage2_pop() - the owner layer's host_stage2.load / .put
 * (s2_owner_params; @ctx unused): push loads the host stage-2's VTCR/VTTBR with
 * el2_stage2_load(), remembering what was loaded (e.g. the VM whose fault donated a page, the
 * current-context ops then invalidate the host's VMID, not the VM's); pop loads that back. One
 * level deep (single CPU): a second push before the pop panics.
 */
void el2_stage2_push(void *ctx, uint64_t vtcr, uint64_t vttbr);
void el2_stage2_pop(void *ctx);

/*
 * The VM-layer flavour of the ops (s2_vm_init(): the engine's cookie is a struct s2_vm, not
 * a struct el2_vm). Its TLBIs act on the stage-2 context currently loaded (the VM layer loads
 * it through hooks.load_stage2, and the abort path runs with the vCPU's context loaded).
 */
void el2_port_get_current(struct s2_port *port);

/* Instrumentation of the port's callbacks, for tests (single CPU, no locking). */
struct el2_dcache_op {
	uint64_t pa, size;
};
#define EL2_DCACHE_LOG 64
struct el2_port_counters {
	uint64_t dcache_calls; /* dcache_clean_inval_poc callbacks */
	uint64_t dcache_lines; /* DC CIVAC instructions issued */
	struct el2_dcache_op dcache_log[EL2_DCACHE_LOG]; /* the last calls, ring */
	uint64_t icache_calls;
	uint64_t tlbi_ipa, tlbi_vmid; /* IPAS2E1IS and VMALLS12E1IS issued */
	uint64_t tlbi_ipa_local; /* local sequences (IPAS2E1 + VMALLE1) issued */
	uint64_t tlbi_s1; /* stage-1 completions (DSB ISH; VMALLE1IS; DSB ISH; ISB) issued */
	bool tlbi_off; /* mutation control: issue no TLBI at all (tests prove they notice) */
};
extern struct el2_port_counters el2_port_counters;

/* DC CIVAC instructions the port issued for PAs in [pa, pa + size), from the log ring
 * (exact while fewer than EL2_DCACHE_LOG calls were made since the counters were reset). */
uint64_t el2_dcache_lines_in(uint64_t pa, uint64_t size);

/* ---- guest entry ----------------------------------------------------------------------------- */

/* Guest register file as saved on exit (offsets used by el2_switch.S). */
struct el2_guest_regs {
	uint64_t x[31];
	uint64_t sp_el1;
	uint64_t elr;
	uint64_t spsr;
};

struct el2_vcpu {
	struct el2_guest_regs regs;
	struct el2_vm *vm;
	uint64_t stack_top; /* SP_EL1 given to each guest call (an IPA mapped RW) */
	uint64_t exits; /* trap count since creation */
};

/* What made the guest exit. */
struct el2_exit {
	uint32_t vector; /* 0 sync, 1 IRQ, 2 FIQ, 3 SError (from a lower EL, AArch64) */
	uint64_t esr, far, hpfar;
	struct s2_abort abt; /* valid when abt_err == 0 */
	int abt_err; /* s2_abort_decode()'s return */
};

/* Return values of an exit handler. */
#define EL2_RESUME 0 /* re-enter the guest at the same instruction (after fixing the cause) */
#define EL2_SKIP 1 /* re-enter after the trapping instruction (ELR += 4) */
/* A negative value stops the run and is returned by el2_vcpu_run(). */

typedef int (*el2_exit_fn)(void *arg, struct el2_vcpu *vcpu, const struct el2_exit *e);

/* Lower-EL exception entry/exit (el2_switch.S): returns the vector (0..3) that took the exit. */
uint64_t el2_guest_enter(struct el2_guest_regs *regs);

/*
 * el2_vcpu_run() - run the guest until it calls HVC: load VTCR/VTTBR/HCR for vcpu->vm,
 * enter at EL1h, and hand every stage-2 abort (data or instruction abort from EL1) to @fn
 * after decoding ESR_EL2/FAR_EL2/HPFAR_EL2 with s2_abort_decode().
 * Return: 0 when the guest executed HVC (its x0 is in vcpu->regs.x[0]); @fn's negative value;
 * EL2_EUNEXPECTED for any other exit (printed) or an abort with no handler.
 */
#define EL2_EUNEXPECTED (-100)
int el2_vcpu_run(struct el2_vcpu *vcpu, el2_exit_fn fn, void *arg);

/*
 * el2_guest_call() - call guest function @fn (its IPA: guest code is mapped at IPA == PA) at
 * EL1h with up to four arguments and a fresh SP_EL1 = vcpu->stack_top, then el2_vcpu_run().
 */
int el2_guest_call(struct el2_vcpu *vcpu, const void *fn, uint64_t a0, uint64_t a1, uint64_t a2,
		   uint64_t a3, el2_exit_fn handler, void *arg);

/* Set EL1 up for guests: SCTLR_EL1 with the MMU and caches off, VBAR_EL1 to the guest vectors
 * (any EL1 exception becomes HVC #0xbad with ESR_EL1 in x1), timers readable from EL1. */
void el2_el1_setup(void);

/* The guest code region (linker symbols): page-aligned to 64K so any granule maps it whole. */
extern char el2_guest_text_start[], el2_guest_text_end[];

#endif /* S2_EL2_H */
