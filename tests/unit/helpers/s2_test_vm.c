// SPDX-License-Identifier: MIT
/*
 * s2_test_vm.c - the VM-layer fixture the VM and owner tests share (s2_test_vm.h).
 */
#include "s2_test_vm.h"

#include <string.h>

int s2_test_vm_env_init(struct s2_test_vm_env *e)
{
	int ret;

	memset(e, 0, sizeof(*e));
	s2_host_lockcheck_init_vm(&e->lc);
	ret = s2_caps_max(48, &e->caps);
	return ret ? ret : s2_vmid_alloc_init(&e->vmids, 16);
}

void s2_test_vm_lock(void *ctx, enum s2_vm_lock l)
{
	s2_host_lockcheck_vm_lock((struct s2_host_lockcheck *)ctx, l);
}

void s2_test_vm_unlock(void *ctx, enum s2_vm_lock l)
{
	s2_host_lockcheck_vm_unlock((struct s2_host_lockcheck *)ctx, l);
}

void s2_test_vm_load(void *ctx, uint64_t vtcr, uint64_t vttbr)
{
	(void)vtcr, (void)vttbr;
	((struct s2_test_vm_env *)ctx)->loads++;
}

void s2_test_vm_put(void *ctx)
{
	((struct s2_test_vm_env *)ctx)->puts++;
}

struct s2_vm_hooks s2_test_vm_hooks(struct s2_test_vm_env *e)
{
	return (struct s2_vm_hooks){ .lock = s2_test_vm_lock,
				     .unlock = s2_test_vm_unlock,
				     .load_stage2 = s2_test_vm_load,
				     .put_stage2 = s2_test_vm_put,
				     .ctx = e };
}

struct s2_vm_params s2_test_vm_params(struct s2_test_vm_env *e, const struct s2_port *port,
				      enum s2_granule g, unsigned int ipa_bits,
				      struct s2_memslot *slots, unsigned int max_slots)
{
	return (struct s2_vm_params){
		.caps = &e->caps,
		.req = { .ipa_bits = ipa_bits, .granule = g },
		.port = *port,
		.hooks = s2_test_vm_hooks(e),
		.vmids = &e->vmids,
		.slots = slots,
		.max_slots = max_slots,
	};
}

const char *s2_test_vm_locks_error(const struct s2_host_lockcheck *lc)
{
	if (lc->errors)
		return lc->first_error;
	if (lc->depth)
		return "a lock is still held";
	for (unsigned int l = 0; l < lc->nlocks; l++)
		if (lc->takes[l] != lc->releases[l])
			return "a lock was taken and released a different number of times";
	return NULL;
}

const size_t s2_test_port_required_ops[] = {
	offsetof(struct s2_port_ops, alloc_pages),
	offsetof(struct s2_port_ops, free_pages),
	offsetof(struct s2_port_ops, page_refcount),
	offsetof(struct s2_port_ops, va_to_pa),
	offsetof(struct s2_port_ops, pa_to_va),
	offsetof(struct s2_port_ops, tlbi_ipa),
	offsetof(struct s2_port_ops, tlbi_range),
	offsetof(struct s2_port_ops, tlbi_vmid),
	offsetof(struct s2_port_ops, dcache_clean_inval_poc),
	offsetof(struct s2_port_ops, icache_inval_pou),
	offsetof(struct s2_port_ops, barrier),
};
const size_t s2_test_port_nr_required_ops =
	sizeof(s2_test_port_required_ops) / sizeof(s2_test_port_required_ops[0]);
