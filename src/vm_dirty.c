// SPDX-License-Identifier: MIT
/*
 * vm_dirty.c - the VM layer's dirty logging and aging (s2mmu/vm.h, docs/vm.md).
 */
#include "vm_internal.h"

/* ---- dirty logging ----------------------------------------------------------------------------- */

/* MMU exclusive held: make every valid page of [ipa, ipa+size) clean-writable (read-only with
 * DBM): one range operation in the engine, one TLBI for what changed, no cache maintenance. */
int s2_vmi_arm_dbm(struct s2_vm *vm, uint64_t ipa, uint64_t size)
{
	return s2_pgtable_set_prot(&vm->pgt, s2_ipa(ipa), size, S2_PROT_DBM, S2_PROT_W);
}

/* SLOTS held. */
int s2_vmi_dirty_log_enable(struct s2_vm *vm, struct s2_memslot *s, bool dbm)
{
	int ret = 0;

	if (vm->owner)
		return S2_ENOTSUP; /* the owner does not write-protect for the VM layer */
	if (s->lock != S2_SLOT_UNLOCKED)
		return S2_EBUSY;
	if (slot_logging(s))
		return S2_EEXIST;
	if (dbm && !vm->pgt.cfg.hd)
		return S2_ENOTSUP;

	if (!s->dirty) {
		s->dirty = s2_vmi_bitmap_alloc(vm, slot_pages(vm, s), &s->dirty_bytes);
		if (!s->dirty)
			return S2_ENOMEM;
	}
	mmu_excl_begin(vm);
	s->d.flags |= S2_SLOT_DIRTY_LOG; /* from now on faults in the slot map pages */
	s->dbm = dbm;
	for (;;) {
		unsigned int before;

		ret = s2_page_cache_topup(&vm->cache, &vm->pgt.port, granule_bytes(vm),
					  S2_PAGE_CACHE_MAX);
		if (ret && !vm->cache.nr)
			break;
		before = vm->cache.nr;
		ret = s2_pgtable_split(&vm->pgt, s->d.ipa, s->d.size, &vm->cache);
		if (ret != S2_ENOMEM || vm->cache.nr == before)
			break;
		/* A bounded chunk is done: let the abort path in before the next one. */
		mmu_excl_end(vm);
		mmu_excl_begin(vm);
	}
	if (!ret)
		ret = s2_pgtable_wrprotect(&vm->pgt, s->d.ipa, s->d.size);
	if (!ret && dbm && !slot_readonly(s))
		ret = s2_vmi_arm_dbm(vm, s2_ipa_val(s->d.ipa), s->d.size);
	if (ret) {
		s->d.flags &= ~(uint64_t)S2_SLOT_DIRTY_LOG;
		s->dbm = false;
	}
	mmu_excl_end(vm);
	/* Do not keep a chunk's worth of unused table pages per VM. */
	s2_page_cache_drain(&vm->cache, &vm->pgt.port, granule_bytes(vm));
	if (ret)
		s2_vmi_bitmap_free(vm, &s->dirty, &s->dirty_bytes);
	return ret;
}

/* SLOTS held. */
int s2_vmi_dirty_log_disable(struct s2_vm *vm, struct s2_memslot *s)
{
	if (!slot_logging(s))
		return S2_EINVAL;
	mmu_excl_begin(vm);
	s->d.flags &= ~(uint64_t)S2_SLOT_DIRTY_LOG;
	if (s->dbm)
		s2_pgtable_wrprotect(&vm->pgt, s->d.ipa, s->d.size); /* drops DBM */
	s->dbm = false;
	/* Pages were writable before logging (or become so on the next write anyway): make the
	 * runs uniform again and fold them back into blocks where the backing allows. */
	if (!slot_readonly(s))
		s2_pgtable_set_prot(&vm->pgt, s->d.ipa, s->d.size, S2_PROT_W, 0);
	if (s->d.backing_page_size >= level_bytes(vm, 2)) {
		/* One backing page at a time: no block may exceed it. */
		uint64_t bps = s->d.backing_page_size;
		uint64_t ipa = s2_ipa_val(s->d.ipa), pa = s2_pa_val(s->d.pa);
		uint64_t end = pa + s->d.size;

		while (pa < end) {
			uint64_t len = S2_MIN(S2_ALIGN_DOWN(pa, bps) + bps, end) - pa;

			s2_pgtable_collapse(&vm->pgt, s2_ipa(ipa), len, NULL);
			ipa += len;
			pa += len;
		}
	}
	mmu_excl_end(vm);
	s2_vmi_bitmap_free(vm, &s->dirty, &s->dirty_bytes);
	return 0;
}

int s2_vm_dirty_log_enable(struct s2_vm *vm, uint32_t id, bool dbm)
{
	struct s2_memslot *s;
	int ret;

	if (!vm)
		return S2_EINVAL;
	vm_lock(vm, S2_VM_LOCK_SLOTS);
	s = slot_by_id(vm, id);
	ret = s ? s2_vmi_dirty_log_enable(vm, s, dbm) : S2_ENOENT;
	vm_unlock(vm, S2_VM_LOCK_SLOTS);
	return ret;
}

int s2_vm_dirty_log_disable(struct s2_vm *vm, uint32_t id)
{
	struct s2_memslot *s;
	int ret;

	if (!vm)
		return S2_EINVAL;
	vm_lock(vm, S2_VM_LOCK_SLOTS);
	s = slot_by_id(vm, id);
	ret = s ? s2_vmi_dirty_log_disable(vm, s) : S2_ENOENT;
	vm_unlock(vm, S2_VM_LOCK_SLOTS);
	return ret;
}

struct dbm_scan {
	struct s2_vm *vm;
	struct s2_memslot *s;
};

/* Walk visitor: mark the pages of every writable leaf dirty (reads the tables only). */
static int dbm_scan_leaf(void *arg, const struct s2_walk_visit *v)
{
	struct dbm_scan *sc = arg;

	if (s2_leaf_prot(v->pte) & S2_PROT_W)
		mark_dirty(sc->vm, sc->s, s2_ipa_val(v->ipa), v->size);
	return 0;
}

/*
 * MMU exclusive held: with hardware dirty state (DBM), record in @s's bitmap the pages of
 * [ipa, ipa+size) the hardware made writable (S2AP[1] set, Arm ARM D8.4.6). Called before
 * anything unmaps or replaces such leaves, so their writes reach the next dirty_log_get.
 */
void s2_vmi_dbm_harvest(struct s2_vm *vm, struct s2_memslot *s, uint64_t ipa, uint64_t size)
{
	struct dbm_scan sc = { .vm = vm, .s = s };

	if (!s->dbm || !s->dirty)
		return;
	s2_pgtable_walk(&vm->pgt, s2_ipa(ipa), size, S2_WALK_LEAF | S2_WALK_SKIP_EMPTY,
			dbm_scan_leaf, &sc);
}

int s2_vm_dirty_log_get(struct s2_vm *vm, uint32_t id, uint64_t *bitmap, size_t words,
			uint64_t *nr_dirty)
{
	struct s2_memslot *s;
	uint64_t g, pages, count = 0;
	size_t need;
	int ret = 0;

	if (!vm || !bitmap)
		return S2_EINVAL;
	vm_lock(vm, S2_VM_LOCK_SLOTS);
	s = slot_by_id(vm, id);
	if (!s) {
		ret = S2_ENOENT;
		goto out;
	}
	pages = slot_pages(vm, s);
	need = (size_t)((pages + 63) / 64);
	if (!slot_logging(s) || words < need) {
		ret = S2_EINVAL;
		goto out;
	}
	g = granule_bytes(vm);
	mmu_excl_begin(vm);
	/* DBM: a page the hardware made writable (S2AP[1] set, Arm ARM D8.4.6) is dirty. */
	s2_vmi_dbm_harvest(vm, s, s2_ipa_val(s->d.ipa), s->d.size);
	for (size_t w = 0; w < words; w++)
		bitmap[w] = 0;
	/* Harvest and re-protect each run of dirty pages (wrprotect invalidates the TLB). */
	for (uint64_t i = 0; i < pages;) {
		uint64_t j = i;

		if (!(i % 64) && !s2_atomic_load64(&s->dirty[i / 64])) {
			i += 64; /* a clean word */
			continue;
		}

		while (j < pages && bitmap_test(s->dirty, j))
			j++;
		if (j == i) {
			i++;
			continue;
		}
		for (uint64_t k = i; k < j; k++)
			bitmap[k / 64] |= UINT64_C(1) << (k % 64);
		bitmap_clear_range(s->dirty, i, j - i);
		count += j - i;
		s2_pgtable_wrprotect(&vm->pgt, s2_ipa(s2_ipa_val(s->d.ipa) + i * g), (j - i) * g);
		if (s->dbm && !slot_readonly(s))
			s2_vmi_arm_dbm(vm, s2_ipa_val(s->d.ipa) + i * g, (j - i) * g);
		i = j;
	}
	mmu_excl_end(vm);
	if (nr_dirty)
		*nr_dirty = count;
out:
	vm_unlock(vm, S2_VM_LOCK_SLOTS);
	return ret;
}

/* ---- aging -------------------------------------------------------------------------------------- */

int s2_vm_age_host_range(struct s2_vm *vm, s2_pa_t pa, uint64_t size, bool clear, uint64_t *young)
{
	uint64_t total = 0;
	int ret;

	if (!vm || !young)
		return S2_EINVAL;
	*young = 0;
	ret = host_range_check(s2_pa_val(pa), size);
	if (ret)
		return ret;
	vm_lock(vm, S2_VM_LOCK_MMU_EXCL);
	for (unsigned int i = 0; i < vm->nr_slots; i++) {
		struct s2_memslot *s = &vm->slots[i];
		uint64_t ipa, len, y = 0;

		if (!host_overlap(vm, s, s2_pa_val(pa), size, &ipa, &len))
			continue;
		if (s->lock != S2_SLOT_UNLOCKED) {
			/* Pinned: always in use, AF left alone. */
			total += len >> vm->pgt.cfg.page_shift;
			continue;
		}
		if (!s2_pgtable_test_clear_young(&vm->pgt, s2_ipa(ipa), len, clear, &y))
			total += y;
	}
	vm_unlock(vm, S2_VM_LOCK_MMU_EXCL);
	*young = total;
	return 0;
}
