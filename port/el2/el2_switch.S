/* SPDX-License-Identifier: MIT */
/*
 * port/el2/el2_switch.S - the EL2 exception vectors and the world switch to a lower-EL guest,
 * shared by the test images (port/el2/boot.S) and the Linux-guest hypervisor
 * (port/el2/hyp/boot.S), each of which includes this file in its .text.
 *
 * An exception from EL2 itself (or from AArch32) goes to the image's
 *	void el2_hyp_exception(uint64_t vector, uint64_t esr, uint64_t elr, uint64_t far)
 * which does not return; one from a lower EL in AArch64 is a guest exit, returned by
 * el2_guest_enter() (el2.h). Install with VBAR_EL2 = el2_vectors.
 */

/* Offsets in struct el2_guest_regs (port/el2/el2.h). */
#define GR_X0 0
#define GR_SP_EL1 248
#define GR_ELR 256
#define GR_SPSR 264

/* ---- EL2 vectors (Arm ARM D1.10.2: 16 entries of 0x80 bytes, table aligned to 2K) ------ */

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
	b	el2_guest_exit_common
.endm

	.text
	.balign 0x800
	.global el2_vectors
el2_vectors:
	/* Current EL with SP_EL0. */
	hyp_trap 0
	hyp_trap 1
	hyp_trap 2
	hyp_trap 3
	/* Current EL with SP_EL2: a fault in the hypervisor itself. */
	hyp_trap 4
	hyp_trap 5
	hyp_trap 6
	hyp_trap 7
	/* Lower EL, AArch64: the guest. */
	guest_exit 0
	guest_exit 1
	guest_exit 2
	guest_exit 3
	/* Lower EL, AArch32: not used. */
	hyp_trap 12
	hyp_trap 13
	hyp_trap 14
	hyp_trap 15

/*
 * uint64_t el2_guest_enter(struct el2_guest_regs *regs)
 *
 * Save the host's callee-saved registers on the EL2 stack, keep @regs in TPIDR_EL2, load the
 * guest's registers, SP_EL1, ELR_EL2 and SPSR_EL2, and ERET. The guest comes back through a
 * lower-EL vector into el2_guest_exit_common, which saves the guest and returns from here
 * with the vector number (0 sync, 1 IRQ, 2 FIQ, 3 SError). VTCR/VTTBR/HCR are loaded by the C
 * caller; the guest's EL1 system registers, FP/SIMD state and timer are not switched here.
 */
	.global el2_guest_enter
el2_guest_enter:
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

/* Entered from a lower-EL vector: x0 = vector number, guest x0/x1 pushed on the EL2 stack. */
el2_guest_exit_common:
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
