/* SPDX-License-Identifier: MIT */
/*
 * port/el2/guest.h - the EL1 guest payloads (guest_payloads.c). Each is entered with
 * el2_guest_call() and ends with HVC #0, its result in x0.
 */
#ifndef S2_EL2_GUEST_H
#define S2_EL2_GUEST_H

#include <stdint.h>

#define GUEST_OK 0x600dULL
#define GUEST_MISMATCH (1ULL << 62) /* | index of the first page that read back wrong */
#define GUEST_EXCEPTION 0xbadULL /* an exception was taken to EL1 (x1 ESR_EL1, x2 ELR_EL1) */

/* Write pattern + i to the 8 bytes at each ipas[i], then read them all back. */
void guest_touch(const uint64_t *ipas, uint64_t n, uint64_t pattern);
/* One 64-bit store / load. guest_read's result is the value read. */
void guest_write(uint64_t ipa, uint64_t value);
void guest_read(uint64_t ipa);
/* @n loads of @ipa; result: their sum. */
void guest_read_loop(uint64_t ipa, uint64_t n);
/* Store i to ipa + i * stride for i < n. */
void guest_touch_range(uint64_t ipa, uint64_t n, uint64_t stride);

#endif /* S2_EL2_GUEST_H */
