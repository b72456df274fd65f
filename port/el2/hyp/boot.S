/* SPDX-License-Identifier: MIT */
/*
 * port/el2/hyp/boot.S - the Linux-guest hypervisor's entry points at EL2 (the boot CPU from
 * QEMU's -kernel, secondaries from PSCI CPU_ON), its EL2 stage-1 MMU switch-on, its exception
 * vectors and the world switch to the EL1 guest. See docs/linux-guest.md.
 */

/* Offsets in struct el2_guest_regs (port/el2/el2.h). */
#define GR_X0 0
#define GR_SP_EL1 248
#define GR_ELR 256
#define GR_SPSR 264

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
	adr	x0, hyp_vectors
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

/* ---- EL2 vectors (Arm ARM D1.10.2) --------------------------------------------------------- */

.macro hyp_trap id
	.balign 0x80
	mov	x0, #\id
	mrs	x1, esr_el2
	mrs	x2, elr_el2
	mrs	x3, far_el2
	b	el2_hyp_exception
.endm

.macro guest_exit id
	.balign 0x80
	stp	x0, x1, [sp, #-16]!
	mov	x0, #\id
	b	hyp_guest_exit_common
.endm

	.text
	.balign 0x800
	.global hyp_vectors
hyp_vectors:
	hyp_trap 0
	hyp_trap 1
	hyp_trap 2
	hyp_trap 3
	hyp_trap 4
	hyp_trap 5
	hyp_trap 6
	hyp_trap 7
	guest_exit 0
	guest_exit 1
	guest_exit 2
	guest_exit 3
	hyp_trap 12
	hyp_trap 13
	hyp_trap 14
	hyp_trap 15

/*
 * uint64_t hyp_guest_enter(struct el2_guest_regs *regs): save the host's callee-saved
 * registers, keep @regs in TPIDR_EL2 (it is also the CPU's struct hyp_cpu, whose first member
 * it is), load the guest's general registers, SP_EL1, ELR_EL2, SPSR_EL2 and ERET. A lower-EL
 * exception saves them back and returns the vector number (0 sync, 1 IRQ, 2 FIQ, 3 SError).
 * The guest's EL1 system registers, FP/SIMD/SVE state and timer stay in the CPU: one vCPU is
 * pinned to each physical CPU and the hypervisor touches none of them while the guest lives.
 */
	.global hyp_guest_enter
hyp_guest_enter:
	stp	x29, x30, [sp, #-96]!
	stp	x19, x20, [sp, #16]
	stp	x21, x22, [sp, #32]
	stp	x23, x24, [sp, #48]
	stp	x25, x26, [sp, #64]
	stp	x27, x28, [sp, #80]
	msr	tpidr_el2, x0

	ldr	x1, [x0, #GR_SP_EL1]
	msr	sp_el1, x1
	ldr	x1, [x0, #GR_ELR]
	msr	elr_el2, x1
	ldr	x1, [x0, #GR_SPSR]
	msr	spsr_el2, x1

	ldp	x2, x3, [x0, #16]
	ldp	x4, x5, [x0, #32]
	ldp	x6, x7, [x0, #48]
	ldp	x8, x9, [x0, #64]
	ldp	x10, x11, [x0, #80]
	ldp	x12, x13, [x0, #96]
	ldp	x14, x15, [x0, #112]
	ldp	x16, x17, [x0, #128]
	ldp	x18, x19, [x0, #144]
	ldp	x20, x21, [x0, #160]
	ldp	x22, x23, [x0, #176]
	ldp	x24, x25, [x0, #192]
	ldp	x26, x27, [x0, #208]
	ldp	x28, x29, [x0, #224]
	ldr	x30, [x0, #240]
	ldp	x0, x1, [x0, #GR_X0]
	eret

hyp_guest_exit_common:
	mrs	x1, tpidr_el2
	stp	x2, x3, [x1, #16]
	stp	x4, x5, [x1, #32]
	stp	x6, x7, [x1, #48]
	stp	x8, x9, [x1, #64]
	stp	x10, x11, [x1, #80]
	stp	x12, x13, [x1, #96]
	stp	x14, x15, [x1, #112]
	stp	x16, x17, [x1, #128]
	stp	x18, x19, [x1, #144]
	stp	x20, x21, [x1, #160]
	stp	x22, x23, [x1, #176]
	stp	x24, x25, [x1, #192]
	stp	x26, x27, [x1, #208]
	stp	x28, x29, [x1, #224]
	str	x30, [x1, #240]
	ldp	x2, x3, [sp], #16
	stp	x2, x3, [x1, #GR_X0]
	mrs	x2, sp_el1
	str	x2, [x1, #GR_SP_EL1]
	mrs	x2, elr_el2
	str	x2, [x1, #GR_ELR]
	mrs	x2, spsr_el2
	str	x2, [x1, #GR_SPSR]

	ldp	x19, x20, [sp, #16]
	ldp	x21, x22, [sp, #32]
	ldp	x23, x24, [sp, #48]
	ldp	x25, x26, [sp, #64]
	ldp	x27, x28, [sp, #80]
	ldp	x29, x30, [sp], #96
	ret

/*
 * uint64_t hyp_smc(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3): an SMC from EL2 to
 * the firmware (QEMU's built-in PSCI); returns x0.
 */
	.global hyp_smc
hyp_smc:
	smc	#0
	ret
