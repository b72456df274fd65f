// SPDX-License-Identifier: MIT
/*
 * vm.c - the VM layer (see s2mmu/vm.h and docs/vm.md): VM lifecycle, vCPUs and
 * names. vm_internal.h lists the other files of the layer.
 */
#include "vm_internal.h"

/* ---- VM lifecycle ------------------------------------------------------------------------------ */

int s2_vm_init(struct s2_vm *vm, const struct s2_vm_params *p)
{
	struct s2_config cfg;
	struct s2_config_req req;
	int ret;

	if (!vm || !p || !p->caps || !p->vmids || !p->slots || !p->max_slots || !p->port.ops ||
	    (p->flags & ~(uint64_t)S2_VM_FLAGS_ALL))
		return S2_EINVAL;
	/* Required hooks, checked now rather than missed later: the VM's stage-2 context is
	 * loaded by this layer before each of its TLB maintenance operations (the one place that
	 * does it), and lock/unlock come as a pair. (The port's ops: s2_pgtable_init().) */
	if (!p->hooks.load_stage2 || !p->hooks.lock != !p->hooks.unlock)
		return S2_EINVAL;
	req = p->req;
	if (!req.vmid_bits)
		req.vmid_bits = p->vmids->bits;
	if (req.vmid_bits != p->vmids->bits)
		return S2_EVMID;
	ret = s2_config_init(&cfg, p->caps, &req);
	if (ret)
		return ret;
	if (p->owner || (p->flags & S2_VM_PROTECTED)) {
		/* Owner-managed: the owner's guest, with the host's granule; a protected VM's
		 * pages are scrubbed on their way back to the host. */
		if (!p->owner || p->owner_id < S2_OWNER_GUEST_MIN ||
		    cfg.page_shift != p->owner->page_shift ||
		    ((p->flags & S2_VM_PROTECTED) && !p->hooks.scrub))
			return S2_EINVAL;
	}

	s2_memzero(vm, sizeof(*vm));
	s2_memzero(p->slots, sizeof(p->slots[0]) * p->max_slots);
	ret = s2_pgtable_init(&vm->pgt, &cfg, &p->port, vm);
	if (ret)
		return ret;
	vm->hooks = p->hooks;
	vm->flags = p->flags;
	vm->vmids = p->vmids;
	vm->slots = p->slots;
	vm->max_slots = p->max_slots;
	vm->locked_limit = p->locked_limit;
	for (int level = cfg.start_level; level <= S2_LEVEL_MAX; level++)
		vm->level_bytes[level + 1] = s2_level_size(cfg.granule, level);
	if (p->owner) {
		vm->owner = p->owner;
		/* Cannot fail: the table and the id were checked above. */
		ret = s2_owner_guest_init(&vm->og, &vm->pgt, p->owner_id,
					  (p->flags & S2_VM_PROTECTED) != 0);
		S2_BUG_ON(ret);
	}

	s2_vmi_vmid_register(vm);
	return 0;
}

int s2_vm_destroy(struct s2_vm *vm)
{
	if (!vm || !vm->vmids)
		return S2_EINVAL;
	vm_lock(vm, S2_VM_LOCK_SLOTS);
	vm_lock(vm, S2_VM_LOCK_MMU_EXCL);
	if (vm->owner) {
		int ret = s2_vmi_owner_teardown(vm);

		if (ret) {
			vm_unlock(vm, S2_VM_LOCK_MMU_EXCL);
			vm_unlock(vm, S2_VM_LOCK_SLOTS);
			return ret;
		}
	}
	for (unsigned int i = 0; i < vm->nr_slots; i++)
		s2_vmi_slot_release(vm, &vm->slots[i]);
	vm->nr_slots = 0;
	s2_atomic_store32(&vm->pending, 0);

	s2_vmi_vmid_release(vm);

	s2_page_cache_drain(&vm->cache, &vm->pgt.port, granule_bytes(vm));
	s2_pgtable_destroy(&vm->pgt);
	vm_unlock(vm, S2_VM_LOCK_MMU_EXCL);
	vm_unlock(vm, S2_VM_LOCK_SLOTS);
	vm->vmids = NULL;
	return 0;
}

/* ---- vCPUs ------------------------------------------------------------------------------------ */

int s2_vcpu_init(struct s2_vcpu *vcpu, struct s2_vm *vm, unsigned int id)
{
	if (!vcpu || !vm)
		return S2_EINVAL;
	s2_memzero(vcpu, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	return 0;
}

void s2_vcpu_destroy(struct s2_vcpu *vcpu)
{
	if (!vcpu || !vcpu->vm)
		return;
	s2_page_cache_drain(&vcpu->cache, &vcpu->vm->pgt.port, granule_bytes(vcpu->vm));
}

/* SLOTS held: the deferred D-cache maintenance of every locked slot, exactly once. */
static uint64_t do_pending_cmo(struct s2_vm *vm)
{
	const struct s2_port *p = &vm->pgt.port;
	uint64_t bytes = 0;

	for (unsigned int i = 0; i < vm->nr_slots; i++) {
		struct s2_memslot *s = &vm->slots[i];

		if (!s->cmo_pending)
			continue;
		/* Only Normal cacheable memory without FWB needs it (ARCH-NOTES §1). */
		if (!s->mt_ret[0] && (s->mt[0].cmo & S2_CMO_DCACHE)) {
			p->ops->dcache_clean_inval_poc(p->ctx, s->d.pa, s->d.size);
			bytes += s->d.size;
		}
		s->cmo_pending = false;
	}
	if (bytes)
		p->ops->barrier(p->ctx, S2_BARRIER_DSB_ISH);
	return bytes;
}

int s2_vm_vcpu_enter(struct s2_vcpu *vcpu, struct s2_vcpu_entry *out)
{
	struct s2_vm *vm;
	const struct s2_config *cfg;

	if (!vcpu || !vcpu->vm || !out)
		return S2_EINVAL;
	vm = vcpu->vm;
	cfg = &vm->pgt.cfg;
	*out = (struct s2_vcpu_entry){ 0 };

	/* Pending operations: the deferred maintenance of locked slots, before the guest runs. */
	if (s2_atomic_load32(&vm->pending) & S2_VM_PENDING_CMO) {
		vm_lock(vm, S2_VM_LOCK_SLOTS);
		if (s2_atomic_load32(&vm->pending) & S2_VM_PENDING_CMO) {
			out->cmo_bytes = do_pending_cmo(vm);
			vm->stats.cmo_deferred_bytes += out->cmo_bytes;
			s2_atomic_store32(&vm->pending, s2_atomic_load32(&vm->pending) &
								~(uint32_t)S2_VM_PENDING_CMO);
		}
		vm_unlock(vm, S2_VM_LOCK_SLOTS);
	}

	/* The VMID must belong to the current generation. */
	vmid_ensure(vm, out);

	out->vtcr = cfg->vtcr;
	out->vttbr = vm_vttbr(vm);
	out->hcr_set = S2_HCR_VM;
	if (cfg->fwb)
		out->hcr_set |= S2_HCR_FWB;
	else
		out->hcr_clear |= S2_HCR_FWB;
	if (cfg->mte)
		out->hcr_set |= S2_HCR_ATA;
	else
		out->hcr_clear |= S2_HCR_ATA;
	return 0;
}

/* ---- names --------------------------------------------------------------------------------------- */

const char *s2_abort_action_name(enum s2_abort_action a)
{
	switch (a) {
	case S2_ABORT_RESUME:
		return "resume";
	case S2_ABORT_MMIO:
		return "mmio";
	case S2_ABORT_INJECT:
		return "inject";
	case S2_ABORT_NISV:
		return "nisv";
	}
	return "?";
}

const char *s2_resume_reason_name(enum s2_resume_reason r)
{
	switch (r) {
	case S2_RESUME_MAPPED:
		return "mapped";
	case S2_RESUME_RELAXED:
		return "relaxed";
	case S2_RESUME_YOUNG:
		return "young";
	case S2_RESUME_RETRY:
		return "retry";
	}
	return "?";
}

const char *s2_inject_reason_name(enum s2_inject_reason r)
{
	switch (r) {
	case S2_INJECT_NONE:
		return "none";
	case S2_INJECT_BEYOND_IPA:
		return "beyond-ipa";
	case S2_INJECT_EXEC_REFUSED:
		return "exec-refused";
	case S2_INJECT_EXEC_NOT_RAM:
		return "exec-not-ram";
	case S2_INJECT_S1PTW:
		return "s1ptw";
	case S2_INJECT_PERMISSION:
		return "permission";
	case S2_INJECT_MEMTYPE:
		return "memtype";
	case S2_INJECT_UNHANDLED:
		return "unhandled";
	}
	return "?";
}
