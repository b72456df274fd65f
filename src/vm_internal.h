// SPDX-License-Identifier: MIT
/*
 * vm_internal.h - what the files of the VM layer share (private; see s2mmu/vm.h and docs/vm.md).
 *
 * The layer is one concern per file:
 *	vm.c		lifecycle (init, destroy), vCPUs (init, entry), names
 *	vm_vmid.c	the VMID allocator: generations, rollover, a VM's VMID and VTTBR
 *	vm_slot.c	the slot array, memslots (add, delete, move, flags), locked memslots and
 *			host invalidation
 *	vm_abort.c	the guest abort path: the short path, the general handlers, tag
 *			sanitisation
 *	vm_dirty.c	dirty logging (bitmaps, DBM) and aging
 *	vm_owner.c	owner-managed VMs: faults, unmapping and teardown through the owner
 *
 * Policy only: descriptors are the engine's business, memory types memtype's, bit positions
 * arch's. Every side effect goes through the port (struct s2_port) or the VM's hooks.
 *
 * Helpers the abort path uses are static inline here, so that the split costs the hot path
 * nothing; functions that cross between files off the hot path are named s2_vmi_* (internal:
 * not API, see docs/stability.md) and declared at the end.
 */
#ifndef S2_VM_INTERNAL_H
#define S2_VM_INTERNAL_H

#include "s2mmu/vm.h"

/* ---- between the files (each defined in the file named) ------------------------------------- */

/* vm_vmid.c */
void s2_vmi_vmid_assign(struct s2_vm *vm, struct s2_vcpu_entry *out);
void s2_vmi_vmid_register(struct s2_vm *vm);
void s2_vmi_vmid_release(struct s2_vm *vm);

/* vm_slot.c */
uint64_t *s2_vmi_bitmap_alloc(struct s2_vm *vm, uint64_t bits, size_t *bytes);
void s2_vmi_bitmap_free(struct s2_vm *vm, uint64_t **map, size_t *bytes);
void s2_vmi_slot_release(struct s2_vm *vm, struct s2_memslot *s);

/* vm_abort.c */
bool s2_vmi_sanitise_tags(struct s2_vm *vm, struct s2_memslot *s, uint64_t ipa, uint64_t size);

/* vm_dirty.c */
int s2_vmi_arm_dbm(struct s2_vm *vm, uint64_t ipa, uint64_t size);
int s2_vmi_dirty_log_enable(struct s2_vm *vm, struct s2_memslot *s, bool dbm);
int s2_vmi_dirty_log_disable(struct s2_vm *vm, struct s2_memslot *s);
void s2_vmi_dbm_harvest(struct s2_vm *vm, struct s2_memslot *s, uint64_t ipa, uint64_t size);

/* vm_owner.c */
int s2_vmi_owner_teardown(struct s2_vm *vm);
int s2_vmi_owner_range_busy(const struct s2_vm *vm, uint64_t ipa, uint64_t size);
uint64_t s2_vmi_owner_unmap(struct s2_vm *vm, uint64_t ipa, uint64_t size, bool *busy);
int s2_vmi_owner_fault(struct s2_vm *vm, struct s2_memslot *s, const struct s2_abort *ab,
		       struct s2_abort_result *res);

/* ---- small helpers --------------------------------------------------------------------------- */

static inline void vm_lock(struct s2_vm *vm, enum s2_vm_lock l)
{
	if (vm->hooks.lock)
		vm->hooks.lock(vm->hooks.ctx, l);
}

static inline void vm_unlock(struct s2_vm *vm, enum s2_vm_lock l)
{
	if (vm->hooks.unlock)
		vm->hooks.unlock(vm->hooks.ctx, l);
}

/* The VM's VTTBR_EL2 now: root PA | VMID (never 0: the root PA is non-zero and checked by
 * s2_pgtable_init(), s2_vttbr() only fails for a VMID beyond the config's width). */
static inline uint64_t vm_vttbr(const struct s2_vm *vm)
{
	uint64_t vttbr = 0;

	(void)s2_vttbr(&vm->pgt.cfg, vm->pgt.root_pa, vm->vmid, &vttbr);
	return vttbr;
}

static inline uint64_t granule_bytes(const struct s2_vm *vm)
{
	return UINT64_C(1) << vm->pgt.cfg.page_shift;
}

static inline uint64_t slot_end(const struct s2_memslot *s)
{
	return s2_ipa_val(s->d.ipa) + s->d.size;
}

static inline uint64_t slot_pages(const struct s2_vm *vm, const struct s2_memslot *s)
{
	return s->d.size >> vm->pgt.cfg.page_shift;
}

static inline bool slot_readonly(const struct s2_memslot *s)
{
	return (s->d.flags & S2_SLOT_READONLY) || s->lock == S2_SLOT_LOCKED_RO;
}

static inline bool slot_logging(const struct s2_memslot *s)
{
	return (s->d.flags & S2_SLOT_DIRTY_LOG) != 0;
}

/* Counters are bumped on the abort path, where vCPUs run concurrently (MMU shared). */
static inline void stat_add(uint64_t *c, uint64_t n)
{
	uint64_t old = s2_atomic_load64(c);

	while (!s2_atomic_cas64(c, &old, old + n))
		;
}

/* Atomic test-and-set of bit @nr; returns whether it was already set. */
static inline bool bitmap_test_set(uint64_t *map, uint64_t nr)
{
	uint64_t *w = &map[nr / 64];
	uint64_t m = UINT64_C(1) << (nr % 64);
	uint64_t old = s2_atomic_load64(w);

	do {
		if (old & m)
			return true;
	} while (!s2_atomic_cas64(w, &old, old | m));
	return false;
}

static inline bool bitmap_test(const uint64_t *map, uint64_t nr)
{
	return (s2_atomic_load64_acquire(&map[nr / 64]) >> (nr % 64)) & 1;
}

static inline void bitmap_clear_range(uint64_t *map, uint64_t first, uint64_t n)
{
	for (uint64_t i = first; i < first + n; i++)
		s2_atomic_store64(&map[i / 64], map[i / 64] & ~(UINT64_C(1) << (i % 64)));
}

static inline uint64_t level_bytes(const struct s2_vm *vm, int level)
{
	return vm->level_bytes[level + 1];
}

/* Give @vm a VMID of the current generation if it has none (VMID lock). */
static inline void vmid_ensure(struct s2_vm *vm, struct s2_vcpu_entry *out)
{
	if (s2_atomic_load64(&vm->vmid_gen) == s2_atomic_load64(&vm->vmids->generation))
		return;
	s2_vmi_vmid_assign(vm, out);
}

/* Structural section: SLOTS is held by the caller; take MMU exclusive and load the VM's
 * stage-2 context (with a VMID of the current generation, never the host's VMID 0) so the
 * engine's TLBIs reach this VM. */
static inline void mmu_excl_begin(struct s2_vm *vm)
{
	struct s2_vcpu_entry ignored = { 0 };

	vm_lock(vm, S2_VM_LOCK_MMU_EXCL);
	vmid_ensure(vm, &ignored);
	vm->hooks.load_stage2(vm->hooks.ctx, vm->pgt.cfg.vtcr, vm_vttbr(vm));
}

static inline void mmu_excl_end(struct s2_vm *vm)
{
	if (vm->hooks.put_stage2)
		vm->hooks.put_stage2(vm->hooks.ctx);
	vm_unlock(vm, S2_VM_LOCK_MMU_EXCL);
}

static inline struct s2_memslot *slot_at(const struct s2_vm *vm, uint64_t ipa)
{
	unsigned int lo = 0, hi = vm->nr_slots;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		struct s2_memslot *s = &vm->slots[mid];

		if (ipa < s2_ipa_val(s->d.ipa))
			hi = mid;
		else if (ipa >= slot_end(s))
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

static inline struct s2_memslot *slot_by_id(const struct s2_vm *vm, uint32_t id)
{
	for (unsigned int i = 0; i < vm->nr_slots; i++)
		if (vm->slots[i].d.id == id)
			return &vm->slots[i];
	return NULL;
}

static inline void mark_dirty(struct s2_vm *vm, struct s2_memslot *s, uint64_t ipa, uint64_t size)
{
	uint64_t first = (ipa - s2_ipa_val(s->d.ipa)) >> vm->pgt.cfg.page_shift;
	uint64_t n = size >> vm->pgt.cfg.page_shift;

	if (!s->dirty)
		return;
	for (uint64_t i = first; i < first + n; i++)
		bitmap_test_set(s->dirty, i);
}

static inline void set_inject(struct s2_abort_result *res, enum s2_inject_reason r)
{
	res->action = S2_ABORT_INJECT;
	res->inject = r;
}

static inline void set_resume(struct s2_abort_result *res, enum s2_resume_reason r)
{
	res->action = S2_ABORT_RESUME;
	res->resume = r;
}

static inline void memtype_inject(struct s2_abort_result *res, int err, bool exec)
{
	set_inject(res, (err == S2_EMEMTYPE && exec) ? S2_INJECT_EXEC_REFUSED : S2_INJECT_MEMTYPE);
}

/* A permission fault (or a translation fault that found a valid leaf): MMU shared held. */
/* ---- host ranges ------------------------------------------------------------------------------ */

/* A host range [pa, pa + size): non-empty (S2_EINVAL) and not wrapping past 2^64
 * (S2_ERANGE); it may end exactly at 2^64. */
static inline int host_range_check(uint64_t pa, uint64_t size)
{
	if (!size)
		return S2_EINVAL;
	if (size - 1 > UINT64_MAX - pa)
		return S2_ERANGE;
	return 0;
}

/* The IPA range of @s backed by host PA [pa, pa + size) (checked by host_range_check()),
 * granule-aligned outward; false if none. Computed from the last byte, so a range ending at
 * 2^64 does not wrap. */
static inline bool host_overlap(const struct s2_vm *vm, const struct s2_memslot *s, uint64_t pa,
				uint64_t size, uint64_t *ipa, uint64_t *len)
{
	uint64_t g = granule_bytes(vm);
	uint64_t sb = s2_pa_val(s->d.pa), slast = sb + s->d.size - 1;
	uint64_t lo = S2_MAX(sb, S2_ALIGN_DOWN(pa, g));
	uint64_t last = S2_MIN(slast, pa + size - 1);

	if (lo > last)
		return false;
	/* Slot ends are granule-aligned and below 2^64: rounding @last up stays in the slot. */
	last = S2_ALIGN_DOWN(last, g) + g - 1;
	*ipa = s2_ipa_val(s->d.ipa) + (lo - sb);
	*len = last - lo + 1;
	return true;
}

#endif /* S2_VM_INTERNAL_H */
