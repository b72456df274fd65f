// SPDX-License-Identifier: MIT
/*
 * vm_slot.c - the VM layer's memslots (s2mmu/vm.h, docs/vm.md): the slot array,
 * adding, deleting and moving slots, slot flags, locked memslots, host invalidation.
 */
#include "vm_internal.h"

/* ---- helpers ----------------------------------------------------------------------------------- */

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* Bitmap memory comes from the port: a power of two of at least one granule. */
static size_t bitmap_alloc_bytes(const struct s2_vm *vm, uint64_t bits)
{
	uint64_t bytes = ((bits + 63) / 64) * 8;
	uint64_t a = granule_bytes(vm);

	while (a < bytes)
		a <<= 1;
	return (size_t)a;
}

uint64_t *s2_vmi_bitmap_alloc(struct s2_vm *vm, uint64_t bits, size_t *bytes)
{
	const struct s2_port *p = &vm->pgt.port;

	*bytes = bitmap_alloc_bytes(vm, bits);
	return p->ops->alloc_pages(p->ctx, *bytes);
}

void s2_vmi_bitmap_free(struct s2_vm *vm, uint64_t **map, size_t *bytes)
{
	const struct s2_port *p = &vm->pgt.port;

	if (*map)
		p->ops->free_pages(p->ctx, *map, *bytes);
	*map = NULL;
	*bytes = 0;
}

static struct s2_memtype_req slot_mt_req(const struct s2_vm *vm, const struct s2_memslot_desc *d,
					 bool exec)
{
	return (struct s2_memtype_req){
		.backing = d->backing,
		.host_type = d->host_type,
		.allow_any_uncached = (d->flags & S2_SLOT_ALLOW_ANY_UNCACHED) != 0,
		.keep_host_nc = (vm->flags & S2_VM_KEEP_HOST_NC) != 0,
		.exec = exec,
		.fwb = vm->pgt.cfg.fwb,
		.dic = vm->pgt.cfg.dic,
		.vm_mte = vm->pgt.cfg.mte,
		.backing_tags = d->backing_tags,
	};
}

/* The prot of fault_leaf[][@k]: the memory type's, readable; 1 writable, 2 writable-clean
 * (DBM: the hardware sets W on write). */
static uint64_t fault_leaf_prot(const struct s2_memtype_attrs *a, int k)
{
	return a->prot | S2_PROT_R | (k == 1 ? S2_PROT_W : k == 2 ? S2_PROT_DBM : 0);
}

/* Decide a slot's memory type once (data and exec) when its description changes. */
static void slot_mt_update(const struct s2_vm *vm, struct s2_memslot *s)
{
	for (int x = 0; x < 2; x++) {
		struct s2_memtype_req req = slot_mt_req(vm, &s->d, x == 1);

		s->mt_ret[x] = s2_memtype_decide(&req, &s->mt[x]);
		/* (An error here is the map's: the template then stands for its prot.) */
		for (int k = 0; k < 3; k++)
			(void)s2_pgtable_leaf_prepare(&vm->pgt, fault_leaf_prot(&s->mt[x], k),
						      &s->fault_leaf[x][k]);
	}
}

/* ---- slot array (sorted by IPA) ---------------------------------------------------------- */

/* Does [ipa, ipa + size) overlap a slot other than @skip? */
static bool range_overlaps(const struct s2_vm *vm, uint64_t ipa, uint64_t size,
			   const struct s2_memslot *skip)
{
	for (unsigned int i = 0; i < vm->nr_slots; i++) {
		const struct s2_memslot *s = &vm->slots[i];

		if (s == skip)
			continue;
		if (ipa < slot_end(s) && s2_ipa_val(s->d.ipa) < ipa + size)
			return true;
	}
	return false;
}

/*
 * Copy a memslot without a libc call: the struct (its prepared fault leaves included) is too
 * large for the compiler to copy inline, and the freestanding core has no memcpy. Slots are
 * copied only when added, moved or deleted.
 */
static void slot_copy(struct s2_memslot *dst, const struct s2_memslot *src)
{
	volatile unsigned char *d = (volatile unsigned char *)dst;
	const unsigned char *s = (const unsigned char *)src;

	for (size_t i = 0; i < sizeof(*dst); i++)
		d[i] = s[i];
}

/* Insert @s keeping the order; returns the slot's new home. The array has room. */
static struct s2_memslot *slot_insert(struct s2_vm *vm, const struct s2_memslot *s)
{
	unsigned int i = vm->nr_slots;

	while (i > 0 && s2_ipa_val(vm->slots[i - 1].d.ipa) > s2_ipa_val(s->d.ipa)) {
		slot_copy(&vm->slots[i], &vm->slots[i - 1]);
		i--;
	}
	slot_copy(&vm->slots[i], s);
	vm->nr_slots++;
	return &vm->slots[i];
}

static void slot_remove(struct s2_vm *vm, struct s2_memslot *s)
{
	unsigned int i = (unsigned int)(s - vm->slots);

	for (; i + 1 < vm->nr_slots; i++)
		slot_copy(&vm->slots[i], &vm->slots[i + 1]);
	vm->nr_slots--;
	s2_memzero(&vm->slots[vm->nr_slots], sizeof(vm->slots[0]));
}

const struct s2_memslot *s2_vm_slot_find(const struct s2_vm *vm, uint32_t id)
{
	return vm ? slot_by_id(vm, id) : NULL;
}

const struct s2_memslot *s2_vm_slot_at(const struct s2_vm *vm, s2_ipa_t ipa)
{
	return vm ? slot_at(vm, s2_ipa_val(ipa)) : NULL;
}

void s2_vmi_slot_release(struct s2_vm *vm, struct s2_memslot *s)
{
	s2_vmi_bitmap_free(vm, &s->dirty, &s->dirty_bytes);
	s2_vmi_bitmap_free(vm, &s->tagged, &s->tagged_bytes);
	if (s->lock != S2_SLOT_UNLOCKED)
		vm->locked_bytes -= s->d.size;
	s->lock = S2_SLOT_UNLOCKED;
	s->cmo_pending = false;
}

/* ---- memslots ----------------------------------------------------------------------------------- */

static int check_range(const struct s2_vm *vm, uint64_t ipa, uint64_t size)
{
	uint64_t limit = UINT64_C(1) << vm->pgt.cfg.ipa_bits;

	if (!S2_IS_ALIGNED(ipa, granule_bytes(vm)))
		return S2_EALIGN;
	if (ipa >= limit || size > limit - ipa)
		return S2_ERANGE;
	return 0;
}

static int check_desc(const struct s2_vm *vm, const struct s2_memslot_desc *d)
{
	uint64_t g = granule_bytes(vm);
	uint64_t pa_limit = UINT64_C(1) << vm->pgt.cfg.pa_bits;
	uint64_t bps = d->backing_page_size ? d->backing_page_size : g;
	struct s2_memtype_req req;
	struct s2_memtype_attrs a;
	int ret;

	if (d->flags & ~S2_SLOT_FLAGS_ALL)
		return S2_EINVAL;
	if ((unsigned int)d->backing > S2_BACKING_MMIO ||
	    (unsigned int)d->host_type >= S2_NR_HOST_TYPES)
		return S2_EINVAL;
	if (!d->size || !is_pow2(bps) || bps < g)
		return S2_EINVAL;
	if (!S2_IS_ALIGNED(d->size, g) || !S2_IS_ALIGNED(s2_pa_val(d->pa), g))
		return S2_EALIGN;
	ret = check_range(vm, s2_ipa_val(d->ipa), d->size);
	if (ret)
		return ret;
	if (s2_pa_val(d->pa) >= pa_limit || d->size > pa_limit - s2_pa_val(d->pa))
		return S2_ERANGE;
	/* Owner-managed VMs: the owner changes a guest's permissions only for pages it shares
	 * (no dirty logging here), and a protected VM's RAM is donated with every permission. */
	if (vm->owner && ((d->flags & S2_SLOT_DIRTY_LOG) ||
			  (vm->og.protected_vm && d->backing == S2_BACKING_RAM &&
			   (d->flags & S2_SLOT_READONLY))))
		return S2_ENOTSUP;
	req = slot_mt_req(vm, d, false);
	return s2_memtype_decide(&req, &a);
}

static bool slot_needs_tag_map(const struct s2_vm *vm, const struct s2_memslot_desc *d)
{
	struct s2_memtype_req req = slot_mt_req(vm, d, false);
	struct s2_memtype_attrs a;

	return !s2_memtype_decide(&req, &a) && (a.cmo & S2_CMO_TAGS);
}

int s2_vm_slot_add(struct s2_vm *vm, const struct s2_memslot_desc *d)
{
	struct s2_memslot s;
	int ret;

	if (!vm || !d)
		return S2_EINVAL;
	s2_memzero(&s, sizeof(s)); /* (no memset in the freestanding core: see slot_copy()) */
	ret = check_desc(vm, d);
	if (ret)
		return ret;

	vm_lock(vm, S2_VM_LOCK_SLOTS);
	if (slot_by_id(vm, d->id) || range_overlaps(vm, s2_ipa_val(d->ipa), d->size, NULL)) {
		ret = S2_EEXIST;
		goto out;
	}
	if (vm->nr_slots >= vm->max_slots) {
		ret = S2_ELIMIT;
		goto out;
	}
	s.d = *d;
	slot_mt_update(vm, &s);
	if (!s.d.backing_page_size)
		s.d.backing_page_size = granule_bytes(vm);
	if (d->flags & S2_SLOT_DIRTY_LOG) {
		s.dirty = s2_vmi_bitmap_alloc(vm, slot_pages(vm, &s), &s.dirty_bytes);
		if (!s.dirty) {
			ret = S2_ENOMEM;
			goto out;
		}
	}
	/* Two bits per page: claimed, sanitised (see s2_vmi_sanitise_tags()). */
	if (slot_needs_tag_map(vm, d)) {
		s.tagged = s2_vmi_bitmap_alloc(vm, 2 * slot_pages(vm, &s), &s.tagged_bytes);
		if (!s.tagged) {
			s2_vmi_bitmap_free(vm, &s.dirty, &s.dirty_bytes);
			ret = S2_ENOMEM;
			goto out;
		}
	}
	/* Nothing is mapped in the new range yet; slots never overlap, so no MMU work. */
	vm_lock(vm, S2_VM_LOCK_MMU_EXCL);
	slot_insert(vm, &s);
	vm_unlock(vm, S2_VM_LOCK_MMU_EXCL);
out:
	vm_unlock(vm, S2_VM_LOCK_SLOTS);
	return ret;
}

/* ---- delete, move ----------------------------------------------------------------------------- */

/* MMU exclusive held: remove every mapping of the slot's range. Slot ranges are granule
 * aligned and no leaf crosses a slot edge, so no block needs splitting and this cannot fail.
 * Hardware-dirtied pages of a DBM-logging slot go into its bitmap first (a move keeps it).
 * An owner-managed VM's shared pages are unshared through the owner (the caller checked
 * s2_vmi_owner_range_busy(): nothing the guest owns is mapped). */
static void slot_unmap(struct s2_vm *vm, struct s2_memslot *s)
{
	int ret;

	if (S2_UNLIKELY(vm->owner)) {
		s2_vmi_owner_unmap(vm, s2_ipa_val(s->d.ipa), s->d.size, NULL);
		return;
	}
	s2_vmi_dbm_harvest(vm, s, s2_ipa_val(s->d.ipa), s->d.size);
	ret = s2_pgtable_unmap(&vm->pgt, s->d.ipa, s->d.size, NULL);

	S2_BUG_ON(ret != 0);
}

/*
 * Find memslot @id for a change that needs it unlocked (delete, move, set_flags); slots lock held.
 * Return: 0 with *@out set; S2_ENOENT; S2_EBUSY while the slot is locked.
 */
static int slot_for_change(struct s2_vm *vm, uint32_t id, struct s2_memslot **out)
{
	*out = slot_by_id(vm, id);
	if (!*out)
		return S2_ENOENT;
	if ((*out)->lock != S2_SLOT_UNLOCKED)
		return S2_EBUSY;
	return 0;
}

/* An owner-managed VM's slot about to be unmapped: S2_EBUSY while the guest owns a page in it. */
static int slot_owner_busy(const struct s2_vm *vm, const struct s2_memslot *s)
{
	if (S2_LIKELY(!vm->owner))
		return 0;
	return s2_vmi_owner_range_busy(vm, s2_ipa_val(s->d.ipa), s->d.size);
}

int s2_vm_slot_delete(struct s2_vm *vm, uint32_t id)
{
	struct s2_memslot *s;
	int ret;

	if (!vm)
		return S2_EINVAL;
	vm_lock(vm, S2_VM_LOCK_SLOTS);
	ret = slot_for_change(vm, id, &s);
	if (!ret)
		ret = slot_owner_busy(vm, s);
	if (!ret) {
		mmu_excl_begin(vm);
		slot_unmap(vm, s);
		s2_vmi_slot_release(vm, s);
		slot_remove(vm, s);
		mmu_excl_end(vm);
	}
	vm_unlock(vm, S2_VM_LOCK_SLOTS);
	return ret;
}

int s2_vm_slot_move(struct s2_vm *vm, uint32_t id, s2_ipa_t new_ipa)
{
	struct s2_memslot *s, copy;
	int ret;

	if (!vm)
		return S2_EINVAL;
	vm_lock(vm, S2_VM_LOCK_SLOTS);
	ret = slot_for_change(vm, id, &s);
	if (ret)
		goto out;
	ret = check_range(vm, s2_ipa_val(new_ipa), s->d.size);
	if (!ret)
		ret = slot_owner_busy(vm, s);
	if (ret)
		goto out;
	if (range_overlaps(vm, s2_ipa_val(new_ipa), s->d.size, s)) {
		ret = S2_EEXIST;
		goto out;
	}
	mmu_excl_begin(vm);
	slot_unmap(vm, s);
	slot_copy(&copy, s);
	copy.d.ipa = new_ipa;
	slot_remove(vm, s);
	slot_insert(vm, &copy);
	mmu_excl_end(vm);
out:
	vm_unlock(vm, S2_VM_LOCK_SLOTS);
	return ret;
}

/* ---- slot flags -------------------------------------------------------------------------------- */

int s2_vm_slot_set_flags(struct s2_vm *vm, uint32_t id, uint64_t flags)
{
	struct s2_memslot *s;
	struct s2_memslot_desc d;
	uint64_t changed, remap;
	int ret;

	if (!vm)
		return S2_EINVAL;
	vm_lock(vm, S2_VM_LOCK_SLOTS);
	ret = slot_for_change(vm, id, &s);
	if (ret)
		goto out;
	d = s->d;
	d.flags = flags;
	if (check_desc(vm, &d)) {
		ret = S2_EINVAL;
		goto out;
	}
	changed = s->d.flags ^ flags;
	remap = changed & (S2_SLOT_READONLY | S2_SLOT_ALLOW_ANY_UNCACHED);
	/* An owner-managed VM's slot is unmapped for any change of permission or type (its
	 * pages refault through the owner): refused while the guest owns a page in it. */
	if (remap) {
		ret = slot_owner_busy(vm, s);
		if (ret)
			goto out;
	}
	/*
	 * All or nothing: the one step that can fail (enabling dirty logging: its bitmap and
	 * the splits) comes first, so when it fails no other flag has changed. It reads none of
	 * the other flags (dbm = false), so doing it first changes nothing else.
	 */
	if ((changed & S2_SLOT_DIRTY_LOG) && (flags & S2_SLOT_DIRTY_LOG)) {
		ret = s2_vmi_dirty_log_enable(vm, s, false);
		if (ret)
			goto out;
	}
	if ((changed & S2_SLOT_DIRTY_LOG) && !(flags & S2_SLOT_DIRTY_LOG))
		s2_vmi_dirty_log_disable(vm, s); /* cannot fail: the slot logs */
	if (remap) {
		mmu_excl_begin(vm);
		if ((changed & S2_SLOT_ALLOW_ANY_UNCACHED) || vm->owner) {
			slot_unmap(vm, s); /* the memory type (or the owner's share) changes */
		} else if (flags & S2_SLOT_READONLY) {
			/* What the hardware dirtied (DBM) stays reported: wrprotect drops it. */
			s2_vmi_dbm_harvest(vm, s, s2_ipa_val(s->d.ipa), s->d.size);
			s2_pgtable_wrprotect(&vm->pgt, s->d.ipa, s->d.size);
		}
		s->d.flags =
			(s->d.flags & S2_SLOT_DIRTY_LOG) | (flags & ~(uint64_t)S2_SLOT_DIRTY_LOG);
		slot_mt_update(vm, s);
		/* Writable again while logging with DBM: mapped pages become writable-clean.
		 * Cannot fail: the slot's own granule-aligned range, whole leaves, RAM. */
		if (!(changed & S2_SLOT_ALLOW_ANY_UNCACHED) && s->dbm && !slot_readonly(s))
			(void)s2_vmi_arm_dbm(vm, s2_ipa_val(s->d.ipa), s->d.size);
		mmu_excl_end(vm);
	}
out:
	vm_unlock(vm, S2_VM_LOCK_SLOTS);
	return ret;
}

/* ---- host memory management -------------------------------------------------------------------- */

int s2_vm_invalidate_host_range(struct s2_vm *vm, s2_pa_t pa, uint64_t size, uint64_t *unmapped)
{
	uint64_t total = 0;
	bool busy = false;
	int ret = 0;

	if (!vm)
		return S2_EINVAL;
	if (unmapped)
		*unmapped = 0;
	ret = host_range_check(s2_pa_val(pa), size);
	if (ret)
		return ret;
	mmu_excl_begin(vm);
	for (unsigned int i = 0; i < vm->nr_slots && !ret; i++) {
		struct s2_memslot *s = &vm->slots[i];
		uint64_t ipa, len;

		if (!host_overlap(vm, s, s2_pa_val(pa), size, &ipa, &len))
			continue;
		if (s->lock != S2_SLOT_UNLOCKED) {
			busy = true;
			continue;
		}
		if (S2_UNLIKELY(vm->owner)) {
			/* shares go; pages the guest owns stay (S2_EBUSY, like a locked slot) */
			total += s2_vmi_owner_unmap(vm, ipa, len, &busy);
			continue;
		}
		s2_vmi_dbm_harvest(vm, s, ipa, len); /* hardware-dirtied pages stay reported */
		ret = s2_pgtable_unmap(&vm->pgt, s2_ipa(ipa), len, NULL);
		if (ret)
			break;
		total += len;
		/* The host may back these pages with new memory: sanitise its tags again. */
		if (s->tagged) {
			uint64_t first = (ipa - s2_ipa_val(s->d.ipa)) >> vm->pgt.cfg.page_shift;

			bitmap_clear_range(s->tagged, 2 * first,
					   2 * (len >> vm->pgt.cfg.page_shift));
		}
	}
	mmu_excl_end(vm);
	if (unmapped)
		*unmapped = total;
	if (ret)
		return ret;
	return busy ? S2_EBUSY : 0;
}

/* ---- locked memslots --------------------------------------------------------------------------- */

/* MMU exclusive held: map all of @s with @prot in chunks no larger than a backing page, so no
 * block covers more than one backing page; without data-cache maintenance (the caller's). */
static int map_whole_slot(struct s2_vm *vm, struct s2_memslot *s, uint64_t prot)
{
	const struct s2_config *cfg = &vm->pgt.cfg;
	uint64_t bps = s->d.backing_page_size;
	uint64_t ipa = s2_ipa_val(s->d.ipa), pa = s2_pa_val(s->d.pa), end = pa + s->d.size;

	if (bps < s2_level_size(cfg->granule, 2))
		return s2_pgtable_map(&vm->pgt, s->d.ipa, s->d.size, s->d.pa, prot,
				      S2_MAP_FORCE_PAGES | S2_MAP_NOCMO, NULL);
	while (pa < end) {
		uint64_t len = S2_MIN(S2_ALIGN_DOWN(pa, bps) + bps, end) - pa;
		int ret = s2_pgtable_map(&vm->pgt, s2_ipa(ipa), len, s2_pa(pa), prot, S2_MAP_NOCMO,
					 NULL);

		if (ret)
			return ret;
		ipa += len;
		pa += len;
	}
	return 0;
}

int s2_vm_slot_lock(struct s2_vm *vm, uint32_t id, bool writable)
{
	struct s2_memslot *s;
	struct s2_memtype_req req;
	struct s2_memtype_attrs a;
	uint64_t prot;
	int ret;

	if (!vm)
		return S2_EINVAL;
	vm_lock(vm, S2_VM_LOCK_SLOTS);
	s = slot_by_id(vm, id);
	if (!s) {
		ret = S2_ENOENT;
		goto out;
	}
	if (vm->owner) {
		ret = S2_ENOTSUP; /* pages reach an owner-managed guest through the owner only */
		goto out;
	}
	if (s->lock != S2_SLOT_UNLOCKED || slot_logging(s)) {
		ret = S2_EBUSY;
		goto out;
	}
	if (s->d.size > vm->locked_limit || vm->locked_bytes > vm->locked_limit - s->d.size) {
		ret = S2_ELIMIT;
		goto out;
	}
	req = slot_mt_req(vm, &s->d, false);
	ret = s2_memtype_decide(&req, &a);
	if (ret)
		goto out;
	if ((a.cmo & S2_CMO_TAGS) && s->tagged)
		s2_vmi_sanitise_tags(vm, s, s2_ipa_val(s->d.ipa), s->d.size);

	/* Mapped now, cleaned later: the host keeps writing until the first vCPU entry. */
	prot = a.prot | S2_PROT_R;
	if (writable && !(s->d.flags & S2_SLOT_READONLY))
		prot |= S2_PROT_W;
	mmu_excl_begin(vm);
	ret = map_whole_slot(vm, s, prot);
	if (ret) {
		slot_unmap(vm, s);
	} else {
		/* Slot state the abort path reads changes under MMU exclusive. */
		s->lock = writable ? S2_SLOT_LOCKED_RW : S2_SLOT_LOCKED_RO;
		s->cmo_pending = true;
		vm->locked_bytes += s->d.size;
		s2_atomic_store32(&vm->pending, s2_atomic_load32(&vm->pending) | S2_VM_PENDING_CMO);
	}
	mmu_excl_end(vm);
out:
	vm_unlock(vm, S2_VM_LOCK_SLOTS);
	return ret;
}

int s2_vm_slot_unlock(struct s2_vm *vm, uint32_t id)
{
	struct s2_memslot *s;
	int ret = 0;

	if (!vm)
		return S2_EINVAL;
	vm_lock(vm, S2_VM_LOCK_SLOTS);
	s = slot_by_id(vm, id);
	if (!s) {
		ret = S2_ENOENT;
		goto out;
	}
	if (s->lock == S2_SLOT_UNLOCKED) {
		ret = S2_EINVAL;
		goto out;
	}
	mmu_excl_begin(vm);
	slot_unmap(vm, s);
	vm->locked_bytes -= s->d.size;
	s->lock = S2_SLOT_UNLOCKED;
	s->cmo_pending = false;
	mmu_excl_end(vm);
out:
	vm_unlock(vm, S2_VM_LOCK_SLOTS);
	return ret;
}
