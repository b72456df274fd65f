/* SPDX-License-Identifier: MIT */
/*
 * port/el2/hyp/boot.S - the Linux-guest hypervisor's entry points at EL2 (the boot CPU from
 * QEMU's -kernel, secondaries from PSCI CPU_ON), its EL2 stage-1 MMU switch-on, the call to the
 * firmware; the exception vectors and the world switch to the EL1 guest are the EL2 port's
 * (port/el2/el2_switch.S). See docs/linux-guest.md.
 */

#define HYP_STACK_SHIFT 16 /* 64 KiB of EL2 stack per CPU */

/* CPTR_EL2 (E2H = 0): RES1 [13], [9], [7:0]; TFP [10], TZ [8], TSM [12] clear: the guest
 * owns FP/SIMD, SVE and SME (the hypervisor is built -mgeneral-regs-only). */
#define CPTR_EL2_VAL 0x22ff

	.section .text.boot, "ax"
	.global _start
_start:
	/* QEMU starts only CPU 0 here (the others are off until PSCI CPU_ON). */
	mov	x19, #0
	b	hyp_cpu_start

/* Secondary entry (PSCI CPU_ON from hyp_psci_cpu_on): x0 = the CPU's index. */
	.global hyp_secondary_entry
hyp_secondary_entry:
	mov	x19, x0

/* x19 = CPU index: stack, vectors, traps, MMU, then C. */
hyp_cpu_start:
	ldr	x0, =hyp_stacks
	add	x1, x19, #1
	add	x0, x0, x1, lsl #HYP_STACK_SHIFT
	mov	sp, x0
	mov	x0, #CPTR_EL2_VAL
	msr	cptr_el2, x0
	adr	x0, el2_vectors
	msr	vbar_el2, x0
	isb
	cbnz	x19, 2f
	/* Boot CPU: clear .bss (16-byte aligned by link.ld) and build the EL2 page tables. */
	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
1:	cmp	x0, x1
	b.hs	3f
	stp	xzr, xzr, [x0], #16
	b	1b
3:	bl	hyp_mmu_build
2:	bl	hyp_mmu_enable
	mov	x0, x19
	bl	hyp_cpu_main
4:	wfe
	b	4b

/* void hyp_mmu_enable(void): MAIR/TCR/TTBR0_EL2 from hyp_mmu_regs, TLBI ALLE2, SCTLR_EL2.M|C|I. */
	.global hyp_mmu_enable
hyp_mmu_enable:
	ldr	x0, =hyp_mmu_regs
	ldr	x1, [x0, #0]
	msr	mair_el2, x1
	ldr	x1, [x0, #8]
	msr	tcr_el2, x1
	ldr	x1, [x0, #16]
	msr	ttbr0_el2, x1
	isb
	tlbi	alle2
	dsb	ish
	isb
	ldr	x1, [x0, #24]
	msr	sctlr_el2, x1
	isb
	ic	iallu
	dsb	ish
	isb
	ret

/* ---- EL2 vectors and the world switch (el2_vectors, el2_guest_enter), in .text ------- */

#include "el2_switch.S"

/*
 * uint64_t hyp_smc(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3): an SMC from EL2 to
 * the firmware (QEMU's built-in PSCI); returns x0.
 */
	.global hyp_smc
hyp_smc:
	smc	#0
	ret
