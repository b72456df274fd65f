// SPDX-License-Identifier: MIT
/*
 * vm_owner.c - owner-managed VMs in the VM layer (s2mmu/vm.h, docs/vm.md): guest
 * faults, unmapping and teardown go through the owner (s2mmu/owner.h).
 */
#include "vm_internal.h"

/* ---- owner-managed VMs: unmapping goes through the owner ------------------------------------- */

static int owner_busy_leaf(void *arg, const struct s2_walk_visit *v)
{
	(void)arg;
	if (s2_leaf_is_valid(v->pte) && s2_page_state_of_pte(v->pte) != S2_PAGE_SHARED_BORROWED)
		return S2_EBUSY;
	return 0;
}

/*
 * MMU held: S2_EBUSY when guest IPA [ipa, ipa + size) maps a page the guest owns (donated RAM,
 * assigned MMIO, owned pages it shares back): those return to the host only through
 * s2_vm_destroy() (the owner's teardown scrubs them), as a protected VM's memory in pKVM.
 */
int s2_vmi_owner_range_busy(const struct s2_vm *vm, uint64_t ipa, uint64_t size)
{
	return s2_pgtable_walk(&vm->pgt, s2_ipa(ipa), size, S2_WALK_LEAF | S2_WALK_SKIP_EMPTY,
			       owner_busy_leaf, NULL) == S2_EBUSY ?
		       S2_EBUSY :
		       0;
}

struct owner_leaf {
	struct s2_walk_visit v;
	bool found;
};

static int owner_first_leaf(void *arg, const struct s2_walk_visit *v)
{
	struct owner_leaf *f = arg;

	f->v = *v;
	f->found = true;
	return S2_EEXIST; /* stop: found */
}

/*
 * MMU exclusive held, the VM's stage-2 context loaded: unshare every page the host shares with
 * the guest in [ipa, ipa + size) (s2_owner_host_unshare_guest(): the host's share count drops, the
 * guest's leaf goes with its TLB entry). A leaf the owner does not vouch for (the transition
 * refuses it) only loses the guest's access. Pages the guest owns stay mapped and set *@busy.
 * Return: the bytes unmapped.
 */
uint64_t s2_vmi_owner_unmap(struct s2_vm *vm, uint64_t ipa, uint64_t size, bool *busy)
{
	uint64_t end = ipa + size, total = 0;

	vm_lock(vm, S2_VM_LOCK_OWNER);
	while (ipa < end) {
		struct owner_leaf f = { .found = false };
		uint64_t next;

		s2_pgtable_walk(&vm->pgt, s2_ipa(ipa), end - ipa, S2_WALK_LEAF | S2_WALK_SKIP_EMPTY,
				owner_first_leaf, &f);
		if (!f.found)
			break;
		next = s2_ipa_val(f.v.ipa) + f.v.size;
		if (!s2_leaf_is_valid(f.v.pte)) {
			/* an annotation: nothing the guest can reach */
		} else if (s2_page_state_of_pte(f.v.pte) == S2_PAGE_SHARED_BORROWED) {
			if (s2_owner_host_unshare_guest(vm->owner, &vm->og, f.v.ipa, f.v.size))
				(void)s2_pgtable_unmap(&vm->pgt, f.v.ipa, f.v.size, NULL);
			total += f.v.size;
		} else if (busy) {
			*busy = true;
		}
		ipa = next > ipa ? next : end;
	}
	vm_unlock(vm, S2_VM_LOCK_OWNER);
	return total;
}

/*
 * A translation fault in an owner-managed VM (MMU exclusive held, the vCPU's stage-2 context
 * loaded): the page reaches the guest through the owner, one granule at a time (transitions
 * map page-granular), as pKVM's host turns its stage-2 map into __pkvm_host_donate_guest() /
 * __pkvm_host_share_guest(). RAM of a protected VM and assigned MMIO are donated; RAM of
 * another VM is shared with the permissions the slot allows (R, W unless read-only, X when the
 * memory type allows exec), so a later permission fault is never resolved behind the owner.
 * A refused transition is the caller's error (the host offered memory it does not own):
 * returned as is, nothing changed.
 */
int s2_vmi_owner_fault(struct s2_vm *vm, struct s2_memslot *s, const struct s2_abort *ab,
		       struct s2_abort_result *res)
{
	uint64_t g = granule_bytes(vm);
	uint64_t base = s2_ipa_val(ab->ipa) & ~(g - 1);
	s2_pa_t pa = s2_pa(s2_pa_val(s->d.pa) + (base - s2_ipa_val(s->d.ipa)));
	int ret = s->mt_ret[res->exec];

	if (ret) {
		memtype_inject(res, ret, res->exec);
		return 0;
	}
	vm_lock(vm, S2_VM_LOCK_OWNER);
	if (vm->og.protected_vm || s->d.backing == S2_BACKING_MMIO) {
		ret = s2_owner_host_donate_guest(vm->owner, &vm->og, s2_ipa(base), g, pa);
	} else {
		uint64_t prot = S2_PROT_R;

		if (!slot_readonly(s))
			prot |= S2_PROT_W;
		if (!s->mt_ret[1])
			prot |= S2_PROT_X;
		ret = s2_owner_host_share_guest(vm->owner, &vm->og, s2_ipa(base), g, pa, prot);
	}
	vm_unlock(vm, S2_VM_LOCK_OWNER);
	if (ret)
		return ret;
	stat_add(&vm->stats.mapped, 1);
	res->map_size = g;
	set_resume(res, S2_RESUME_MAPPED);
	return 0;
}

/*
 * Owner-managed VM, SLOTS and MMU exclusive held: give every page back through the owner
 * (donated pages scrubbed, shares dropped, assigned MMIO returned), with the VM's stage-2
 * context loaded for the guest-side TLB maintenance. Resumable: S2_ENOMEM leaves what was
 * returned returned and the rest mapped.
 */
int s2_vmi_owner_teardown(struct s2_vm *vm)
{
	struct s2_vcpu_entry ignored = { 0 };
	int ret;

	vmid_ensure(vm, &ignored);
	vm->hooks.load_stage2(vm->hooks.ctx, vm->pgt.cfg.vtcr, vm_vttbr(vm));
	vm_lock(vm, S2_VM_LOCK_OWNER);
	ret = s2_owner_guest_destroy(vm->owner, &vm->og, vm->hooks.scrub, vm->hooks.ctx);
	vm_unlock(vm, S2_VM_LOCK_OWNER);
	if (vm->hooks.put_stage2)
		vm->hooks.put_stage2(vm->hooks.ctx);
	return ret;
}
