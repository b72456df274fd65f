// SPDX-License-Identifier: MIT
/*
 * port/el2/guest_vm.c - EL1 guest code of the VM-layer tests (guest region, see link.ld; the
 * guest's MMU is off: built with -mstrict-align, calls nothing outside the region).
 */
#include <stdint.h>

#include "guest_vm.h"

static inline __attribute__((always_inline, noreturn)) void guest_vm_done(uint64_t result)
{
	register uint64_t x0 __asm__("x0") = result;

	__asm__ volatile("hvc #0" : : "r"(x0) : "memory");
	__builtin_unreachable();
}

void guest_vm_check(uint64_t base, uint64_t n, uint64_t stride, uint64_t pattern)
{
	for (uint64_t i = 0; i < n; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(base + i * stride);

		if (p[0] != (pattern ^ i) || p[stride / 8 - 1] != ~(pattern ^ i))
			guest_vm_done(GUEST_MISMATCH | i);
		p[1] = i + 1;
	}
	guest_vm_done(GUEST_OK);
}

void guest_vm_access(uint64_t base, uint64_t n, uint64_t stride, uint64_t args)
{
	const volatile uint64_t *map = (const volatile uint64_t *)(uintptr_t)args + 1;
	uint64_t value = *(const volatile uint64_t *)(uintptr_t)args;
	uint64_t sum = 0;

	for (uint64_t i = 0; i < n; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(base + i * stride);

		if ((map[i / 64] >> (i % 64)) & 1)
			*p = value + i;
		else
			sum += *p;
	}
	(void)sum;
	guest_vm_done(GUEST_OK);
}

void guest_vm_read(uint64_t base, uint64_t n, uint64_t stride)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < n; i++)
		sum += *(volatile uint64_t *)(uintptr_t)(base + i * stride);
	guest_vm_done(sum);
}

void guest_vm_perms(struct guest_perms *a, uint64_t *log)
{
	volatile uint64_t *out = a->out;

	__asm__ volatile("msr tpidr_el1, %0\n\tmsr vbar_el1, %1\n\tisb"
			 :
			 : "r"(log), "r"(guest_vm_vectors)
			 : "memory");
	log[0] = 0;

	/* A 64-bit store of x3 to the read-only slot: an MMIO exit the port skips. */
	__asm__ volatile("mov x3, #0x5555\n\tstr x3, [%0]" : : "r"(a->rom) : "x3", "memory");
	out[0] = *(volatile uint64_t *)(uintptr_t)a->rom;

	/* Loads of every size from the emulated device, into chosen registers. */
	__asm__ volatile("ldrb w5, [%[d], #0]\n\t"
			 "ldrh w6, [%[d], #2]\n\t"
			 "ldr w7, [%[d], #4]\n\t"
			 "ldr x9, [%[d], #8]\n\t"
			 "ldrsb x10, [%[d], #0x10]\n\t"
			 "ldrsh w11, [%[d], #0x12]\n\t"
			 "str x5, [%[o], #8]\n\t"
			 "str x6, [%[o], #16]\n\t"
			 "str x7, [%[o], #24]\n\t"
			 "str x9, [%[o], #32]\n\t"
			 "str x10, [%[o], #40]\n\t"
			 "str x11, [%[o], #48]\n\t"
			 /* Stores of three sizes from x12, x13, x14. */
			 "ldr x12, [%[w], #0]\n\t"
			 "strb w12, [%[d], #0x20]\n\t"
			 "ldr x13, [%[w], #8]\n\t"
			 "strh w13, [%[d], #0x22]\n\t"
			 "ldr x14, [%[w], #16]\n\t"
			 "str x14, [%[d], #0x28]\n\t"
			 :
			 : [d] "r"(a->dev), [o] "r"(out), [w] "r"(a->wval)
			 : "x5", "x6", "x7", "x9", "x10", "x11", "x12", "x13", "x14", "memory");

	/* A load pair from the device and a store pair to the read-only slot carry no
	 * instruction syndrome: refused (injected aborts), the guest continues. */
	out[10] = guest_vm_probe_ldp(a->dev + 0x30);
	out[11] = guest_vm_probe_stp(a->rom);
	out[12] = log[0];

	/* The Device slot is readable; executing from it is refused (an injected abort). */
	out[7] = *(volatile uint64_t *)(uintptr_t)a->device_code;
	__asm__ volatile("blr %0" : : "r"(a->device_code) : "x30", "memory");
	out[8] = log[0];
	/* Executing from RAM behind a Normal-NC host mapping (never touched before) runs: it is
	 * Normal at stage 2 (as KVM); the RET there returns without an abort. */
	__asm__ volatile("blr %0" : : "r"(a->nc_code) : "x30", "memory");
	out[9] = log[0];
	guest_vm_done(GUEST_OK);
}

void guest_vm_rw(uint64_t ipa)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)ipa;
	uint64_t v = *p;

	*p = v + 1;
	guest_vm_done(v);
}

static inline __attribute__((always_inline)) uint64_t guest_hcall(uint64_t fn, uint64_t a1,
								  uint64_t a2)
{
	register uint64_t x0 __asm__("x0") = fn;
	register uint64_t x1 __asm__("x1") = a1;
	register uint64_t x2 __asm__("x2") = a2;

	__asm__ volatile("hvc #1" : "+r"(x0), "+r"(x1), "+r"(x2) : : "memory");
	return x0;
}

void guest_vm_host(struct guest_host *h, uint64_t *log)
{
	volatile uint64_t *out = h->out;
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)h->p;
	volatile uint64_t *q = (volatile uint64_t *)(uintptr_t)h->q;

	__asm__ volatile("msr tpidr_el1, %0\n\tmsr vbar_el1, %1\n\tisb"
			 :
			 : "r"(log), "r"(guest_vm_vectors)
			 : "memory");
	log[0] = 0;
	out[0] = *p; /* the host owns it: faulted in */
	out[1] = guest_hcall(GUEST_HC_DONATE_HYP, h->p, 0);
	out[2] = guest_vm_probe(h->p); /* refused: the vector returns here with x0 = p */
	out[3] = log[0];
	out[4] = p[4096 / 8]; /* the next page is still the host's */
	out[5] = log[0];
	out[6] = guest_hcall(GUEST_HC_SHARE_GUEST, h->q, h->gipa);
	*q = 0xabc;
	out[7] = guest_hcall(GUEST_HC_GUEST_RW, h->gipa, 0); /* the guest reads and adds 1 */
	out[8] = *q;
	out[9] = guest_hcall(GUEST_HC_UNSHARE_GUEST, h->gipa, 0);
	out[10] = guest_hcall(GUEST_HC_GUEST_RW, h->gipa, 0); /* the guest faults now */
	out[11] = *q; /* the host keeps its page */
	out[12] = log[0];
	guest_vm_done(GUEST_OK);
}

/*
 * The guest's own vectors (Arm ARM D1.10.2: 16 entries of 0x80 bytes, 2K-aligned). Each entry
 * logs ESR/FAR/ELR/SPSR_EL1 and its own offset at TPIDR_EL1 + 64 * (++count) and returns to x30.
 */
#define GUEST_VEC_ENTRY(off)          \
	".balign 0x80\n\t"            \
	"stp x0, x1, [sp, #-16]!\n\t" \
	"mrs x0, tpidr_el1\n\t"       \
	"ldr x1, [x0]\n\t"            \
	"add x1, x1, #1\n\t"          \
	"str x1, [x0]\n\t"            \
	"add x0, x0, x1, lsl #6\n\t"  \
	"mrs x1, esr_el1\n\t"         \
	"str x1, [x0, #0]\n\t"        \
	"mrs x1, far_el1\n\t"         \
	"str x1, [x0, #8]\n\t"        \
	"mrs x1, elr_el1\n\t"         \
	"str x1, [x0, #16]\n\t"       \
	"mrs x1, spsr_el1\n\t"        \
	"str x1, [x0, #24]\n\t"       \
	"mov x1, #" #off "\n\t"       \
	"str x1, [x0, #32]\n\t"       \
	"msr elr_el1, x30\n\t"        \
	"ldp x0, x1, [sp], #16\n\t"   \
	"eret\n\t"

__asm__(".pushsection .text.guest_vm_probe, \"ax\"\n\t"
	".global guest_vm_probe\n"
	"guest_vm_probe:\n\t"
	"ldr x0, [x0]\n\t"
	"ret\n\t"
	".global guest_vm_probe_ldp\n"
	"guest_vm_probe_ldp:\n\t"
	"ldp x0, x1, [x0]\n\t"
	"ret\n\t"
	".global guest_vm_probe_stp\n"
	"guest_vm_probe_stp:\n\t"
	"stp x0, x1, [x0]\n\t"
	"ret\n\t"
	".popsection\n");

// clang-format off
__asm__(".pushsection .text.guest_vm_vectors, \"ax\"\n\t"
	".balign 0x800\n\t"
	".global guest_vm_vectors\n"
	"guest_vm_vectors:\n\t"
	GUEST_VEC_ENTRY(0x000) GUEST_VEC_ENTRY(0x080) GUEST_VEC_ENTRY(0x100)
	GUEST_VEC_ENTRY(0x180) GUEST_VEC_ENTRY(0x200) GUEST_VEC_ENTRY(0x280)
	GUEST_VEC_ENTRY(0x300) GUEST_VEC_ENTRY(0x380) GUEST_VEC_ENTRY(0x400)
	GUEST_VEC_ENTRY(0x480) GUEST_VEC_ENTRY(0x500) GUEST_VEC_ENTRY(0x580)
	GUEST_VEC_ENTRY(0x600) GUEST_VEC_ENTRY(0x680) GUEST_VEC_ENTRY(0x700)
	GUEST_VEC_ENTRY(0x780)
	".popsection\n");
// clang-format on
