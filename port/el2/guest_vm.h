/* SPDX-License-Identifier: MIT */
/*
 * port/el2/guest_vm.h - EL1 guest payloads of the VM-layer tests (guest_vm.c). Each ends with
 * HVC #0, its result in x0 (GUEST_OK, or GUEST_MISMATCH | index).
 */
#ifndef S2_EL2_GUEST_VM_H
#define S2_EL2_GUEST_VM_H

#include <stdint.h>

#include "guest.h"

/* For i < n, page p = base + i * stride: check p[0] == pattern ^ i and the last word of the
 * page == ~(pattern ^ i), then store i + 1 to p[1]. */
void guest_vm_check(uint64_t base, uint64_t n, uint64_t stride, uint64_t pattern);
/* @args: a value, then a bitmap. For i < n: if bit i of the bitmap is set, store value + i
 * to page i's first word, else load it. Result GUEST_OK. */
void guest_vm_access(uint64_t base, uint64_t n, uint64_t stride, uint64_t args);
/* Load the first word of each of n pages; result: their sum. */
void guest_vm_read(uint64_t base, uint64_t n, uint64_t stride);

/* el2.perms_types: addresses given to the guest and what it reports back. */
struct guest_perms {
	uint64_t rom; /* a read-only RAM slot */
	uint64_t dev; /* emulated device registers (no slot) */
	uint64_t device_code; /* a RAM slot with a Device host mapping */
	uint64_t nc_code; /* a RAM slot with a Normal-NC host mapping */
	uint64_t wval[3]; /* values the guest writes to the device */
	uint64_t out[16]; /* what the guest read */
};
/* Log of the exceptions the guest's own EL1 vectors took (guest_vm_vectors): log[0] counts,
 * entry k (1..) at log + 8 * k: ESR_EL1, FAR_EL1, ELR_EL1, SPSR_EL1, vector offset. */
#define GUEST_VEC_ESR 0
#define GUEST_VEC_FAR 1
#define GUEST_VEC_ELR 2
#define GUEST_VEC_SPSR 3
#define GUEST_VEC_OFFSET 4
void guest_vm_perms(struct guest_perms *a, uint64_t *log);
/* el2.protected: the host's program at EL1 (behind its own stage-2) and its hypercalls. */
#define GUEST_HC_DONATE_HYP 1 /* x1 = PA: s2_owner_host_donate_hyp(one page) */
#define GUEST_HC_SHARE_GUEST 2 /* x1 = PA, x2 = guest IPA: s2_owner_host_share_guest(one page) */
#define GUEST_HC_UNSHARE_GUEST 3 /* x1 = guest IPA: s2_owner_host_unshare_guest(one page) */
#define GUEST_HC_GUEST_RW 4 /* x1 = guest IPA: run the guest's guest_vm_rw(); its result */
struct guest_host {
	uint64_t p; /* a page the host donates to the hypervisor */
	uint64_t q; /* a page the host shares with the guest */
	uint64_t gipa; /* where the guest sees it */
	uint64_t out[16];
};
/* Hypercalls are HVC #1 (x0 = GUEST_HC_*, result in x0); the end is HVC #0. */
void guest_vm_host(struct guest_host *h, uint64_t *log);
/* Guest: read the word at @ipa, store it + 1 there; result: the value read. */
void guest_vm_rw(uint64_t ipa);
/* Load the word at @addr and return it (a leaf function: if the load is refused with an
 * abort, guest_vm_vectors returns to its caller with x0 = @addr). */
uint64_t guest_vm_probe(uint64_t addr);
/* LDP x0, x1, [addr] / STP x0, x1, [addr]: accesses without an instruction syndrome (ISV = 0);
 * return x0 (addr itself when the access aborted and the vector returned here). */
uint64_t guest_vm_probe_ldp(uint64_t addr);
uint64_t guest_vm_probe_stp(uint64_t addr);

/* The guest's own EL1 vector table: records the exception in the log at TPIDR_EL1 and returns
 * to the address in x30 (the caller of a branch that faulted). */
extern char guest_vm_vectors[];

#endif /* S2_EL2_GUEST_VM_H */
