/* SPDX-License-Identifier: MIT */
/*
 * port/el2/boot.S - entry at EL2 for the test images, the EL2 exception vectors and the guest
 * world switch (el2_switch.S), and the guests' EL1 vectors.
 *
 * QEMU (-M virt,virtualization=on, an ELF given to -kernel) starts the image at its entry
 * point at EL2 with the MMU and caches off (SCTLR_EL2.M=0): addresses are physical.
 */

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

/* ---- EL2 vectors and the world switch (el2_vectors, el2_guest_enter), in .text ------- */

#include "el2_switch.S"

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
