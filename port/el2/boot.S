/* SPDX-License-Identifier: MIT */
/*
 * port/el2/boot.S - entry at EL2, the EL2 exception vectors, and the guest world switch.
 *
 * QEMU (-M virt,virtualization=on, an ELF given to -kernel) starts the image at its entry
 * point at EL2 with the MMU and caches off (SCTLR_EL2.M=0): addresses are physical.
 */

/* Offsets in struct el2_guest_regs (el2.h). */
#define GR_X0 0
#define GR_SP_EL1 248
#define GR_ELR 256
#define GR_SPSR 264

	.section .text.boot, "ax"
	.global _start
_start:
	/* One CPU runs the tests; any other parks (QEMU's default is -smp 1). */
	mrs	x0, mpidr_el1
	and	x0, x0, #0xff
	cbnz	x0, park

	ldr	x0, =el2_stack_top
	mov	sp, x0

	/* CPTR_EL2 (E2H=0): RES1 bits [13:12] and [9:0], TFP=0 so FP/SIMD do not trap. */
	mov	x0, #0x33ff
	msr	cptr_el2, x0
	adr	x0, el2_vectors
	msr	vbar_el2, x0
	isb

	/* Clear .bss (16-byte aligned by link.ld). */
	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
1:	cmp	x0, x1
	b.hs	2f
	stp	xzr, xzr, [x0], #16
	b	1b
2:
	bl	el2_c_entry
park:
	wfe
	b	park

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
 * with the vector number. VTCR/VTTBR/HCR are loaded by the C caller.
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

/* ---- guest (EL1) side: lives in the guest code region, never calls hypervisor code ------ */

	.section .guest.text, "ax"
/*
 * EL1 vectors for guests: any exception taken to EL1 (the guest has no handler of its own)
 * becomes HVC #0xbad with x0 = 0xbad, x1 = ESR_EL1, x2 = ELR_EL1, x3 = FAR_EL1.
 */
.macro guest_vec
	.balign 0x80
	mrs	x1, esr_el1
	mrs	x2, elr_el1
	mrs	x3, far_el1
	mov	x0, #0xbad
	hvc	#0xbad
	b	.
.endm
	.balign 0x800
	.global el2_guest_vectors
el2_guest_vectors:
	.rept 16
	guest_vec
	.endr
