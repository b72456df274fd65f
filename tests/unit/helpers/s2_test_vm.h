/* SPDX-License-Identifier: MIT */
/*
 * s2_test_vm.h - the VM-layer fixture the VM and owner tests share (test_vm.c, test_owner.c):
 * VM hooks whose locks go through the host port's lock checker (order, nesting and balance
 * checked on every call) and whose stage-2 context loads are counted, a VM environment (a
 * 48-bit host's capabilities, a 16-bit VMID allocator) with the parameters of a plain VM in it,
 * and the list of the port's required ops. No cmocka here: checks return what went wrong.
 */
#ifndef S2_TEST_VM_H
#define S2_TEST_VM_H

#include <stddef.h>

#include "host_port.h"
#include "s2mmu/vm.h"

struct s2_test_vm_env {
	/* First member: the lock hooks' ctx is a struct s2_test_vm_env, or any struct whose
	 * first member is a struct s2_host_lockcheck (test_vm.c's fixture). */
	struct s2_host_lockcheck lc;
	unsigned int loads, puts; /* s2_test_vm_load() / s2_test_vm_put() calls */
	struct s2_caps caps; /* s2_caps_max(48) */
	struct s2_vmid_alloc vmids; /* 16-bit VMIDs */
};

/* Zero @e, then its capabilities, VMID allocator and a VM-layer lock checker.
 * Return: 0, or what s2_caps_max() / s2_vmid_alloc_init() returned. */
int s2_test_vm_env_init(struct s2_test_vm_env *e);

/* struct s2_vm_hooks callbacks; @ctx as struct s2_test_vm_env says. */
void s2_test_vm_lock(void *ctx, enum s2_vm_lock l);
void s2_test_vm_unlock(void *ctx, enum s2_vm_lock l);
void s2_test_vm_load(void *ctx, uint64_t vtcr, uint64_t vttbr); /* counts loads */
void s2_test_vm_put(void *ctx); /* counts puts */

/* The four above, with ctx = @e. */
struct s2_vm_hooks s2_test_vm_hooks(struct s2_test_vm_env *e);

/* A plain VM of @e: @g and @ipa_bits, @port, s2_test_vm_hooks(@e), @e's VMIDs, @slots. */
struct s2_vm_params s2_test_vm_params(struct s2_test_vm_env *e, const struct s2_port *port,
				      enum s2_granule g, unsigned int ipa_bits,
				      struct s2_memslot *slots, unsigned int max_slots);

/* After a VM's calls: NULL when the checker saw no violation, nothing is held and every take
 * was released; else what went wrong. */
const char *s2_test_vm_locks_error(const struct s2_host_lockcheck *lc);

/* Every required op of struct s2_port_ops, by offset (s2_pgtable_init() refuses a port
 * without one). */
extern const size_t s2_test_port_required_ops[];
extern const size_t s2_test_port_nr_required_ops;

#endif /* S2_TEST_VM_H */
