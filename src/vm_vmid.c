// SPDX-License-Identifier: MIT
/*
 * vm_vmid.c - the VM layer's VMID allocator (s2mmu/vm.h, docs/vm.md): generations,
 * rollover, a VM's VMID and its VTTBR_EL2.
 */
#include "vm_internal.h"

int s2_vmid_alloc_init(struct s2_vmid_alloc *a, unsigned int bits)
{
	if (!a)
		return S2_EINVAL;
	if (bits != 8 && bits != 16)
		return S2_EVMID;
	s2_memzero(a, sizeof(*a));
	a->bits = bits;
	a->generation = 1;
	a->next = 1;
	return 0;
}

static void vmid_flush(struct s2_vm *vm)
{
	const struct s2_port *p = &vm->pgt.port;

	vm->hooks.load_stage2(vm->hooks.ctx, vm->pgt.cfg.vtcr, vm_vttbr(vm));
	p->ops->tlbi_vmid(p->ctx, &vm->pgt);
	p->ops->barrier(p->ctx, S2_BARRIER_DSB_ISH);
	if (vm->hooks.put_stage2)
		vm->hooks.put_stage2(vm->hooks.ctx);
}

static bool vmid_take_free(struct s2_vmid_alloc *a, uint32_t *out)
{
	uint32_t n = UINT32_C(1) << a->bits;

	for (uint32_t k = 0; k < n; k++) {
		uint32_t id = (a->next + k) % n;

		if (id == 0)
			continue;
		if (!(a->map[id / 64] & (UINT64_C(1) << (id % 64)))) {
			a->map[id / 64] |= UINT64_C(1) << (id % 64);
			a->next = id + 1;
			*out = id;
			return true;
		}
	}
	return false;
}

/*
 * Every VMID of this generation is in use: invalidate the TLB entries of every VM that holds
 * one (it may be cached on any CPU; TLBI VMALLS12E1IS is broadcast), then start a new
 * generation in which every VM must take a new VMID before it runs again.
 */
static void vmid_rollover(struct s2_vmid_alloc *a)
{
	for (struct s2_vm *v = a->vms; v; v = v->vmid_next)
		if (v->vmid_gen == a->generation && v->vmid)
			vmid_flush(v);
	s2_memzero(a->map, sizeof(a->map));
	s2_atomic_store64(&a->generation, a->generation + 1);
	a->next = 1;
	a->rollovers++;
}

/*
 * The allocator's own lock (KVM's cpu_vmid_lock, a raw spinlock): it is shared by every VM of
 * the allocator and taken on the vCPU run path, for a few loads and stores (a rollover also
 * invalidates each VM's TLB entries under it, as KVM's does).
 */
static void vmid_lock(struct s2_vmid_alloc *a)
{
	for (;;) {
		uint64_t free = 0;

		if (!s2_atomic_load64(&a->lock) && s2_atomic_cas64_acquire(&a->lock, &free, 1))
			return;
	}
}

static void vmid_unlock(struct s2_vmid_alloc *a)
{
	s2_atomic_store64_release(&a->lock, 0);
}

/* VMID lock held. */
static void vmid_assign(struct s2_vm *vm, struct s2_vcpu_entry *out)
{
	struct s2_vmid_alloc *a = vm->vmids;
	uint32_t id;

	if (!vmid_take_free(a, &id)) {
		vmid_rollover(a);
		out->rollover = true;
		if (!vmid_take_free(a, &id))
			S2_BUG("no VMID after a rollover");
	}
	vm->vmid = (uint16_t)id;
	s2_atomic_store64(&vm->vmid_gen, a->generation);
	out->vmid_changed = true;
	stat_add(&vm->stats.vmid_changes, 1);
}

/* vmid_ensure()'s slow path: @vm's VMID is of an older generation (or none). */
void s2_vmi_vmid_assign(struct s2_vm *vm, struct s2_vcpu_entry *out)
{
	vmid_lock(vm->vmids);
	if (vm->vmid_gen != vm->vmids->generation)
		vmid_assign(vm, out);
	vmid_unlock(vm->vmids);
}

/* A new VM joins its allocator's list (the VMIDs a rollover flushes). */
void s2_vmi_vmid_register(struct s2_vm *vm)
{
	vmid_lock(vm->vmids);
	vm->vmid_next = vm->vmids->vms;
	vm->vmids->vms = vm;
	vm->vmids->nr_vms++;
	vmid_unlock(vm->vmids);
}

/* A VM being destroyed gives its VMID back and leaves its allocator's list. */
void s2_vmi_vmid_release(struct s2_vm *vm)
{
	struct s2_vmid_alloc *a = vm->vmids;

	vmid_lock(a);
	/* A VMID of the current generation may have live TLB entries: invalidate before it can
	 * be handed to another VM. (Older generations were flushed at their rollover.) */
	if (vm->vmid && vm->vmid_gen == a->generation) {
		vmid_flush(vm);
		a->map[vm->vmid / 64] &= ~(UINT64_C(1) << (vm->vmid % 64));
	}
	for (struct s2_vm **pp = &a->vms; *pp; pp = &(*pp)->vmid_next) {
		if (*pp == vm) {
			*pp = vm->vmid_next;
			a->nr_vms--;
			break;
		}
	}
	vmid_unlock(a);
}

int s2_vm_vttbr(const struct s2_vm *vm, uint64_t *vttbr)
{
	if (!vm || !vttbr || !vm->vmids)
		return S2_EINVAL;
	*vttbr = vm_vttbr(vm);
	return 0;
}
