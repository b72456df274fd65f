// SPDX-License-Identifier: MIT
/*
 * port/el2/guest_payloads.c - EL1 guest code. Linked into the guest code region (link.ld takes
 * every guest_*.o there), mapped for the guest at IPA == PA. The guest runs with its own MMU
 * off, so its addresses are IPAs and every data access is Device: this file is built with
 * -mstrict-align and calls nothing outside itself. A payload never returns: it ends with
 * HVC #0 and its result in x0, which el2_vcpu_run() reports.
 */
#include <stdint.h>

#include "guest.h"

static inline __attribute__((always_inline, noreturn)) void guest_done(uint64_t result)
{
	register uint64_t x0 __asm__("x0") = result;

	__asm__ volatile("hvc #0" : : "r"(x0) : "memory");
	__builtin_unreachable();
}

void guest_touch(const uint64_t *ipas, uint64_t n, uint64_t pattern)
{
	for (uint64_t i = 0; i < n; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)ipas[i];
		*p = pattern + i;
	}
	for (uint64_t i = 0; i < n; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)ipas[i];
		if (*p != pattern + i)
			guest_done(GUEST_MISMATCH | i);
	}
	guest_done(GUEST_OK);
}

void guest_write(uint64_t ipa, uint64_t value)
{
	*(volatile uint64_t *)(uintptr_t)ipa = value;
	guest_done(GUEST_OK);
}

void guest_read(uint64_t ipa)
{
	guest_done(*(volatile uint64_t *)(uintptr_t)ipa);
}

void guest_read_loop(uint64_t ipa, uint64_t n)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < n; i++)
		sum += *(volatile uint64_t *)(uintptr_t)ipa;
	guest_done(sum);
}

void guest_touch_range(uint64_t ipa, uint64_t n, uint64_t stride)
{
	for (uint64_t i = 0; i < n; i++)
		*(volatile uint64_t *)(uintptr_t)(ipa + i * stride) = i;
	guest_done(GUEST_OK);
}
