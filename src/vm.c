// SPDX-License-Identifier: MIT
/*
 * vm.c - the VM layer (see s2mmu/vm.h and docs/vm.md): VMIDs, vCPU entry, memslots, the guest
 * abort path, dirty logging, aging, host invalidation and locked memslots.
 *
 * Policy only: descriptors are the engine's business, memory types memtype's, bit positions
 * arch's. Every side effect goes through the port (struct s2_port) or the VM's hooks.
 */
#include "s2mmu/vm.h"

/* ---- small helpers --------------------------------------------------------------------------- */

static void vm_lock(struct s2_vm *vm, enum s2_vm_lock l)
{
	if (vm->hooks.lock)
		vm->hooks.lock(vm->hooks.ctx, l);
}

static void vm_unlock(struct s2_vm *vm, enum s2_vm_lock l)
{
	if (vm->hooks.unlock)
		vm->hooks.unlock(vm->hooks.ctx, l);
}

static void vmid_ensure(struct s2_vm *vm, struct s2_vcpu_entry *out);

/* The VM's VTTBR_EL2 now: root PA | VMID (never 0: the root PA is non-zero and checked by
 * s2_pgtable_init(), s2_vttbr() only fails for a VMID beyond the config's width). */
static uint64_t vm_vttbr(const struct s2_vm *vm)
{
	return s2_vttbr(&vm->pgt.cfg, vm->pgt.root_pa, vm->vmid);
}

/* Structural section: SLOTS is held by the caller; take MMU exclusive and load the VM's
 * stage-2 context (with a VMID of the current generation, never the host's VMID 0) so the
 * engine's TLBIs reach this VM. */
static void mmu_excl_begin(struct s2_vm *vm)
{
	struct s2_vcpu_entry ignored = { 0 };

	vm_lock(vm, S2_VM_LOCK_MMU_EXCL);
	vmid_ensure(vm, &ignored);
	vm->hooks.load_stage2(vm->hooks.ctx, vm->pgt.cfg.vtcr, vm_vttbr(vm));
}

static void mmu_excl_end(struct s2_vm *vm)
{
	if (vm->hooks.put_stage2)
		vm->hooks.put_stage2(vm->hooks.ctx);
	vm_unlock(vm, S2_VM_LOCK_MMU_EXCL);
}

static uint64_t granule_bytes(const struct s2_vm *vm)
{
	return UINT64_C(1) << vm->pgt.cfg.page_shift;
}

static uint64_t slot_end(const struct s2_memslot *s)
{
	return s2_ipa_val(s->d.ipa) + s->d.size;
}

static uint64_t slot_pages(const struct s2_vm *vm, const struct s2_memslot *s)
{
	return s->d.size >> vm->pgt.cfg.page_shift;
}

static bool slot_readonly(const struct s2_memslot *s)
{
	return (s->d.flags & S2_SLOT_READONLY) || s->lock == S2_SLOT_LOCKED_RO;
}

static bool slot_logging(const struct s2_memslot *s)
{
	return (s->d.flags & S2_SLOT_DIRTY_LOG) != 0;
}

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* Counters are bumped on the abort path, where vCPUs run concurrently (MMU shared). */
static void stat_add(uint64_t *c, uint64_t n)
{
	uint64_t old = s2_atomic_load64(c);

	while (!s2_atomic_cas64(c, &old, old + n))
		;
}

/* Atomic test-and-set of bit @nr; returns whether it was already set. */
static bool bitmap_test_set(uint64_t *map, uint64_t nr)
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

static bool bitmap_test(const uint64_t *map, uint64_t nr)
{
	return (s2_atomic_load64_acquire(&map[nr / 64]) >> (nr % 64)) & 1;
}

static void bitmap_clear_range(uint64_t *map, uint64_t first, uint64_t n)
{
	for (uint64_t i = first; i < first + n; i++)
		s2_atomic_store64(&map[i / 64], map[i / 64] & ~(UINT64_C(1) << (i % 64)));
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

static uint64_t *bitmap_alloc(struct s2_vm *vm, uint64_t bits, size_t *bytes)
{
	const struct s2_port *p = &vm->pgt.port;

	*bytes = bitmap_alloc_bytes(vm, bits);
	return p->ops->alloc_pages(p->ctx, *bytes);
}

static void bitmap_free(struct s2_vm *vm, uint64_t **map, size_t *bytes)
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

static uint64_t level_bytes(const struct s2_vm *vm, int level)
{
	return vm->level_bytes[level + 1];
}

/* ---- slot array (sorted by IPA) ---------------------------------------------------------- */

static struct s2_memslot *slot_at(const struct s2_vm *vm, uint64_t ipa)
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

/* slot_at() for a vCPU's abort: the slot of its previous abort first (faults cluster); any
 * slot holding @ipa is the one slot_at() finds, as slots do not overlap. */
static S2_ALWAYS_INLINE struct s2_memslot *slot_hinted(struct s2_vcpu *vcpu, uint64_t ipa)
{
	const struct s2_vm *vm = vcpu->vm;
	unsigned int i = vcpu->slot_hint;
	struct s2_memslot *s;

	if (S2_LIKELY(i < vm->nr_slots)) {
		s = &vm->slots[i];
		if (S2_LIKELY(ipa - s2_ipa_val(s->d.ipa) < s->d.size))
			return s;
	}
	s = slot_at(vm, ipa);
	if (s)
		vcpu->slot_hint = (unsigned int)(s - vm->slots);
	return s;
}

static struct s2_memslot *slot_by_id(const struct s2_vm *vm, uint32_t id)
{
	for (unsigned int i = 0; i < vm->nr_slots; i++)
		if (vm->slots[i].d.id == id)
			return &vm->slots[i];
	return NULL;
}

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

/* ---- VMIDs ------------------------------------------------------------------------------------ */

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

/* Give @vm a VMID of the current generation if it has none (VMID lock). */
static void vmid_ensure(struct s2_vm *vm, struct s2_vcpu_entry *out)
{
	if (s2_atomic_load64(&vm->vmid_gen) == s2_atomic_load64(&vm->vmids->generation))
		return;
	vmid_lock(vm->vmids);
	if (vm->vmid_gen != vm->vmids->generation)
		vmid_assign(vm, out);
	vmid_unlock(vm->vmids);
}

int s2_vm_vttbr(const struct s2_vm *vm, uint64_t *vttbr)
{
	if (!vm || !vttbr || !vm->vmids)
		return S2_EINVAL;
	*vttbr = vm_vttbr(vm);
	return 0;
}

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

	vmid_lock(vm->vmids);
	vm->vmid_next = vm->vmids->vms;
	vm->vmids->vms = vm;
	vm->vmids->nr_vms++;
	vmid_unlock(vm->vmids);
	return 0;
}

static void slot_release(struct s2_vm *vm, struct s2_memslot *s)
{
	bitmap_free(vm, &s->dirty, &s->dirty_bytes);
	bitmap_free(vm, &s->tagged, &s->tagged_bytes);
	if (s->lock != S2_SLOT_UNLOCKED)
		vm->locked_bytes -= s->d.size;
	s->lock = S2_SLOT_UNLOCKED;
	s->cmo_pending = false;
}

/*
 * Owner-managed VM, SLOTS and MMU exclusive held: give every page back through the owner
 * (donated pages scrubbed, shares dropped, assigned MMIO returned), with the VM's stage-2
 * context loaded for the guest-side TLB maintenance. Resumable: S2_ENOMEM leaves what was
 * returned returned and the rest mapped.
 */
static int owner_teardown(struct s2_vm *vm)
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

int s2_vm_destroy(struct s2_vm *vm)
{
	struct s2_vmid_alloc *a;

	if (!vm || !vm->vmids)
		return S2_EINVAL;
	a = vm->vmids;
	vm_lock(vm, S2_VM_LOCK_SLOTS);
	vm_lock(vm, S2_VM_LOCK_MMU_EXCL);
	if (vm->owner) {
		int ret = owner_teardown(vm);

		if (ret) {
			vm_unlock(vm, S2_VM_LOCK_MMU_EXCL);
			vm_unlock(vm, S2_VM_LOCK_SLOTS);
			return ret;
		}
	}
	for (unsigned int i = 0; i < vm->nr_slots; i++)
		slot_release(vm, &vm->slots[i]);
	vm->nr_slots = 0;
	s2_atomic_store32(&vm->pending, 0);

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
		s.dirty = bitmap_alloc(vm, slot_pages(vm, &s), &s.dirty_bytes);
		if (!s.dirty) {
			ret = S2_ENOMEM;
			goto out;
		}
	}
	/* Two bits per page: claimed, sanitised (see sanitise_tags()). */
	if (slot_needs_tag_map(vm, d)) {
		s.tagged = bitmap_alloc(vm, 2 * slot_pages(vm, &s), &s.tagged_bytes);
		if (!s.tagged) {
			bitmap_free(vm, &s.dirty, &s.dirty_bytes);
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

static void dbm_harvest(struct s2_vm *vm, struct s2_memslot *s, uint64_t ipa, uint64_t size);

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
static int owner_range_busy(const struct s2_vm *vm, uint64_t ipa, uint64_t size)
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
static uint64_t owner_unmap(struct s2_vm *vm, uint64_t ipa, uint64_t size, bool *busy)
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

/* MMU exclusive held: remove every mapping of the slot's range. Slot ranges are granule
 * aligned and no leaf crosses a slot edge, so no block needs splitting and this cannot fail.
 * Hardware-dirtied pages of a DBM-logging slot go into its bitmap first (a move keeps it).
 * An owner-managed VM's shared pages are unshared through the owner (the caller checked
 * owner_range_busy(): nothing the guest owns is mapped). */
static void slot_unmap(struct s2_vm *vm, struct s2_memslot *s)
{
	int ret;

	if (S2_UNLIKELY(vm->owner)) {
		owner_unmap(vm, s2_ipa_val(s->d.ipa), s->d.size, NULL);
		return;
	}
	dbm_harvest(vm, s, s2_ipa_val(s->d.ipa), s->d.size);
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
	return owner_range_busy(vm, s2_ipa_val(s->d.ipa), s->d.size);
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
		slot_release(vm, s);
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

/* ---- tag sanitisation ------------------------------------------------------------------------- */

/*
 * Tagged RAM in an MTE VM: zero the allocation tags of each page once, before the guest can
 * see it. Two bits per page in slot->tagged: 2i "claimed", 2i+1 "done". The vCPU that claims
 * a page sanitises it; another that finds it claimed but not done must not map it yet.
 * Returns false when some page of the range is being sanitised by someone else (retry).
 */
static bool sanitise_tags(struct s2_vm *vm, struct s2_memslot *s, uint64_t ipa, uint64_t size)
{
	uint64_t g = granule_bytes(vm);
	uint64_t first = (ipa - s2_ipa_val(s->d.ipa)) >> vm->pgt.cfg.page_shift;
	uint64_t n = size >> vm->pgt.cfg.page_shift;
	uint64_t run_start = 0, run_len = 0;
	bool ok = true;

	for (uint64_t i = first; i <= first + n; i++) {
		bool mine = false;

		if (i < first + n && !bitmap_test(s->tagged, 2 * i + 1)) {
			if (!bitmap_test_set(s->tagged, 2 * i))
				mine = true;
			else if (!bitmap_test(s->tagged, 2 * i + 1))
				ok = false;
		}
		if (mine) {
			if (!run_len)
				run_start = i;
			run_len++;
			continue;
		}
		if (run_len) {
			if (vm->hooks.sanitise_tags)
				vm->hooks.sanitise_tags(vm->hooks.ctx,
							s2_pa(s2_pa_val(s->d.pa) + run_start * g),
							run_len * g);
			stat_add(&vm->stats.tags_sanitised_bytes, run_len * g);
			for (uint64_t k = run_start; k < run_start + run_len; k++)
				bitmap_test_set(s->tagged, 2 * k + 1);
			run_len = 0;
		}
	}
	return ok;
}

/* ---- the abort path ---------------------------------------------------------------------------- */

static void mark_dirty(struct s2_vm *vm, struct s2_memslot *s, uint64_t ipa, uint64_t size)
{
	uint64_t first = (ipa - s2_ipa_val(s->d.ipa)) >> vm->pgt.cfg.page_shift;
	uint64_t n = size >> vm->pgt.cfg.page_shift;

	if (!s->dirty)
		return;
	for (uint64_t i = first; i < first + n; i++)
		bitmap_test_set(s->dirty, i);
}

static void set_inject(struct s2_abort_result *res, enum s2_inject_reason r)
{
	res->action = S2_ABORT_INJECT;
	res->inject = r;
}

static void set_resume(struct s2_abort_result *res, enum s2_resume_reason r)
{
	res->action = S2_ABORT_RESUME;
	res->resume = r;
}

static void set_mmio(struct s2_abort_result *res, const struct s2_abort *ab)
{
	res->action = S2_ABORT_MMIO;
	res->mmio.ipa = s2_ipa(ab->ipa);
	res->mmio.write = ab->wnr;
	res->mmio.syndrome = ab->isv;
	res->mmio.cache_maint = ab->cm;
	if (ab->isv) {
		res->mmio.size = ab->access_bytes;
		res->mmio.reg = ab->reg;
		res->mmio.sign_extend = ab->sign_extend;
		res->mmio.reg64 = ab->reg64;
		res->mmio.acqrel = ab->acqrel;
	}
}

/*
 * The largest leaf for @ipa in @s: no larger than the empty entry the walk ended at (@room),
 * the backing's page size, the slot; IPA and PA aligned to it; a level with blocks (or L3).
 */
static S2_NOINLINE uint64_t pick_block(const struct s2_vm *vm, const struct s2_memslot *s,
				       uint64_t ipa, uint64_t room)
{
	const struct s2_config *cfg = &vm->pgt.cfg;
	uint64_t g = granule_bytes(vm);

	for (int level = cfg->start_level; level < S2_LEVEL_MAX; level++) {
		uint64_t sz = level_bytes(vm, level);
		uint64_t base = ipa & ~(sz - 1);
		uint64_t pa;

		if (!s2_config_level_has_blocks(cfg, level) || sz > room ||
		    sz > s->d.backing_page_size)
			continue;
		if (base < s2_ipa_val(s->d.ipa) || base + sz > slot_end(s))
			continue;
		pa = s2_pa_val(s->d.pa) + (base - s2_ipa_val(s->d.ipa));
		if (!S2_IS_ALIGNED(pa, sz))
			continue;
		return sz;
	}
	return g;
}

/* pick_leaf(): a level-3 fault (@room no more than a granule: the common case) or a logging
 * slot gets a page at once; the search for a block out of line. */
static S2_ALWAYS_INLINE uint64_t pick_leaf(const struct s2_vm *vm, const struct s2_memslot *s,
					   uint64_t ipa, uint64_t room)
{
	uint64_t g = granule_bytes(vm);

	if (slot_logging(s) || room <= g)
		return g;
	return pick_block(vm, s, ipa, room);
}

/*
 * What the access needs from stage 2, as KVM decides it (kvm_is_write_fault(),
 * kvm_vcpu_trap_is_exec_fault()). A stage-1 table walk (S1PTW) is a write only when it took a
 * permission fault: the walker must update a stage-1 descriptor (hardware AF or dirty state),
 * whatever WnR says and whether the abort is a data or an instruction abort; a translation or
 * access-flag fault on a walk is a read, so guest tables in a read-only slot are mapped
 * read-only and the walk resumes. A walk is never an exec fault: it reads descriptors.
 */
static bool fault_is_write(const struct s2_abort *ab)
{
	if (ab->s1ptw)
		return ab->fault == S2_FAULT_PERMISSION;
	return ab->is_data && ab->wnr;
}

static bool fault_is_exec(const struct s2_abort *ab)
{
	return ab->is_insn && !ab->s1ptw;
}

/* Does the valid leaf @lk found allow the access? (R/W/X as s2_lookup_prot() decodes them:
 * S2AP[0] read, S2AP[1] write, exec when both XN bits are clear; only those bits are read.) */
static S2_ALWAYS_INLINE bool leaf_allows(const struct s2_lookup *lk, bool write, bool exec)
{
	if (!lk->valid || !(lk->pte & S2_PTE_VALID))
		return false;
	if (exec)
		return !(lk->pte & S2_PTE_XN);
	if (write)
		return lk->pte & S2_PTE_S2AP_W;
	return lk->pte & S2_PTE_S2AP_R;
}

static void memtype_inject(struct s2_abort_result *res, int err, bool exec)
{
	set_inject(res, (err == S2_EMEMTYPE && exec) ? S2_INJECT_EXEC_REFUSED : S2_INJECT_MEMTYPE);
}

/* A permission fault (or a translation fault that found a valid leaf): MMU shared held. */
static int handle_perm(struct s2_vm *vm, struct s2_memslot *s, const struct s2_abort *ab,
		       const struct s2_lookup *lk, struct s2_abort_result *res)
{
	uint64_t ipa = ab->ipa & ~(granule_bytes(vm) - 1);
	bool write = res->write, exec = res->exec; /* fault_is_write(), fault_is_exec() */
	int ret;

	if (leaf_allows(lk, write, exec)) {
		/* Another vCPU resolved it, or a stale TLB entry: a permission fault may come
		 * from an entry this CPU's TLB keeps; relax_perms finds nothing to change and
		 * invalidates it locally (as KVM's relax on a spurious fault). */
		if (ab->fault == S2_FAULT_PERMISSION)
			(void)s2_pgtable_relax_perms(&vm->pgt, s2_ipa(ipa),
						     exec  ? S2_PROT_X :
						     write ? S2_PROT_R | S2_PROT_W :
							     S2_PROT_R);
		stat_add(&vm->stats.retries, 1);
		set_resume(res, S2_RESUME_RETRY);
		return 0;
	}
	if (exec) {
		ret = s->mt_ret[1];
		if (ret) {
			memtype_inject(res, ret, true);
			return 0;
		}
		/* The engine invalidates the I-cache to PoU for the leaf when it grants exec
		 * (unless CTR_EL0.DIC): instruction and data caches are not coherent. */
		ret = s2_pgtable_relax_perms(&vm->pgt, s2_ipa(ipa), S2_PROT_X);
	} else if (write) {
		if (slot_readonly(s)) {
			set_mmio(res, ab);
			return 0;
		}
		ret = s2_pgtable_relax_perms(&vm->pgt, s2_ipa(ipa), S2_PROT_R | S2_PROT_W);
		if (!ret && slot_logging(s))
			mark_dirty(vm, s, ab->ipa & ~(lk->size - 1), lk->size);
	} else {
		set_inject(res, S2_INJECT_PERMISSION);
		return 0;
	}
	if (ret == S2_EAGAIN || ret == S2_ENOENT) {
		stat_add(&vm->stats.retries, 1);
		set_resume(res, S2_RESUME_RETRY);
		return 0;
	}
	if (ret) {
		memtype_inject(res, ret, exec);
		return 0;
	}
	stat_add(&vm->stats.relaxed, 1);
	set_resume(res, S2_RESUME_RELAXED);
	return 0;
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
static S2_NOINLINE int owner_fault(struct s2_vm *vm, struct s2_memslot *s,
				   const struct s2_abort *ab, struct s2_abort_result *res)
{
	uint64_t g = granule_bytes(vm);
	uint64_t base = ab->ipa & ~(g - 1);
	s2_pa_t pa = s2_pa(s2_pa_val(s->d.pa) + (base - s2_ipa_val(s->d.ipa)));
	int ret = s->mt_ret[res->exec];

	if (ret) {
		memtype_inject(res, ret, res->exec);
		return 0;
	}
	vm_lock(vm, S2_VM_LOCK_OWNER);
	if (vm->og.protected_vm || s->d.backing == S2_BACKING_MMIO) {
		ret = s2_owner_host_donate_guest(vm->owner, &vm->og, pa, s2_ipa(base), g);
	} else {
		uint64_t prot = S2_PROT_R;

		if (!slot_readonly(s))
			prot |= S2_PROT_W;
		if (!s->mt_ret[1])
			prot |= S2_PROT_X;
		ret = s2_owner_host_share_guest(vm->owner, &vm->og, pa, s2_ipa(base), g, prot);
	}
	vm_unlock(vm, S2_VM_LOCK_OWNER);
	if (ret)
		return ret;
	stat_add(&vm->stats.mapped, 1);
	res->map_size = g;
	set_resume(res, S2_RESUME_MAPPED);
	return 0;
}

/* A translation fault's map succeeded: [@base, @base + @sz) is mapped. */
static S2_ALWAYS_INLINE void map_done(struct s2_vm *vm, struct s2_memslot *s,
				      struct s2_abort_result *res, uint64_t base, uint64_t sz)
{
	if (res->write && slot_logging(s))
		mark_dirty(vm, s, base, sz);
	stat_add(&vm->stats.mapped, 1);
	res->map_size = sz;
	set_resume(res, S2_RESUME_MAPPED);
}

/* A translation fault's map refused with @ret (it changed nothing). MMU held (exclusive when
 * @excl). Returns S2_EBUSY when the map needs the lock exclusive. */
static S2_NOINLINE int map_failed(struct s2_vm *vm, struct s2_memslot *s, const struct s2_abort *ab,
				  struct s2_abort_result *res, int ret, bool excl)
{
	struct s2_lookup lk;

	if (ret == S2_EBUSY && !excl)
		return S2_EBUSY;
	if (ret == S2_EEXIST) {
		/* Mapped meanwhile (another vCPU, or a stale fault): judge the access against it. */
		if (s2_pgtable_lookup(&vm->pgt, s2_ipa(ab->ipa), &lk) || !lk.valid) {
			stat_add(&vm->stats.retries, 1);
			set_resume(res, S2_RESUME_RETRY);
			return 0;
		}
		return handle_perm(vm, s, ab, &lk, res);
	}
	if (ret == S2_EAGAIN) {
		stat_add(&vm->stats.retries, 1);
		set_resume(res, S2_RESUME_RETRY);
		return 0;
	}
	if (ret == S2_ENOMEM)
		return ret;
	memtype_inject(res, ret, res->exec);
	return 0;
}

/* The leaf a translation fault in @s maps (see fault_leaf_prot()): readable; writable unless
 * the slot is read-only or logging a read; a read while logging with DBM maps writable-clean. */
static S2_ALWAYS_INLINE const struct s2_leaf_tmpl *fault_leaf(const struct s2_memslot *s, bool exec,
							      bool write)
{
	int k = 0;

	if (!slot_readonly(s)) {
		if (!slot_logging(s) || write)
			k = 1;
		else if (s->dbm)
			k = 2;
	}
	return &s->fault_leaf[exec][k];
}

/* A translation fault: MMU held (shared, or exclusive when @excl). Returns S2_EBUSY when the
 * map needs the lock exclusive (always, in an owner-managed VM). */
static S2_ALWAYS_INLINE int handle_translation(struct s2_vcpu *vcpu, struct s2_memslot *s,
					       const struct s2_abort *ab,
					       struct s2_abort_result *res, bool excl)
{
	struct s2_vm *vm = vcpu->vm;
	bool write = res->write, exec = res->exec; /* fault_is_write(), fault_is_exec() */
	const struct s2_memtype_attrs *a = &s->mt[exec];
	const struct s2_config *cfg = &vm->pgt.cfg;
	const struct s2_leaf_tmpl *t;
	struct s2_lookup lk;
	uint64_t sz, base, room;
	uint64_t flags = 0;
	s2_pa_t pa;
	int ret;

	if (!excl && ab->fault == S2_FAULT_TRANSLATION && ab->level >= cfg->start_level &&
	    ab->level <= S2_LEVEL_MAX) {
		/*
		 * Fast path: the syndrome names the level whose entry was invalid (Arm ARM
		 * D8.15.1), so the new leaf may be that large. The engine refuses, changing
		 * nothing, what the tables no longer allow: a valid entry now there (EEXIST: look
		 * at it as a permission fault) or a table under the block (EBUSY: redo exclusive,
		 * with a lookup).
		 */
		if (S2_UNLIKELY(vm->owner))
			return S2_EBUSY; /* transitions run under MMU exclusive */
		room = level_bytes(vm, ab->level);
		flags = S2_MAP_SHARED | S2_MAP_NO_REPLACE;
	} else {
		ret = s2_pgtable_lookup(&vm->pgt, s2_ipa(ab->ipa), &lk);
		if (ret) {
			set_inject(res, S2_INJECT_BEYOND_IPA);
			return 0;
		}
		if (lk.valid)
			return handle_perm(vm, s, ab, &lk, res);
		if (S2_UNLIKELY(vm->owner))
			return excl ? owner_fault(vm, s, ab, res) : S2_EBUSY;
		room = lk.size;
		flags = excl ? 0 : S2_MAP_SHARED;
	}

	ret = s->mt_ret[exec];
	if (ret) {
		memtype_inject(res, ret, exec);
		return 0;
	}
	sz = pick_leaf(vm, s, ab->ipa, room);
	base = ab->ipa & ~(sz - 1);
	pa = s2_pa(s2_pa_val(s->d.pa) + (base - s2_ipa_val(s->d.ipa)));

	t = fault_leaf(s, exec, write);
	if ((a->cmo & S2_CMO_TAGS) && s->tagged && !sanitise_tags(vm, s, base, sz)) {
		stat_add(&vm->stats.retries, 1);
		set_resume(res, S2_RESUME_RETRY);
		return 0;
	}
	if (S2_LIKELY(sz == granule_bytes(vm)))
		ret = s2_pgtable_map_page(&vm->pgt, s2_ipa(base), pa, t, flags, &vcpu->cache);
	else
		ret = s2_pgtable_map(&vm->pgt, s2_ipa(base), sz, pa, t->prot, flags, &vcpu->cache);
	if (S2_UNLIKELY(ret))
		return map_failed(vm, s, ab, res, ret, excl);
	map_done(vm, s, res, base, sz);
	return 0;
}

/* MMU held. @res arrives with ipa, fault, level, write, exec and s1ptw set (what the access
 * needs, decided once by fault_is_write()/fault_is_exec()); the handlers below read them. */
static S2_ALWAYS_INLINE int handle_in_vm(struct s2_vcpu *vcpu, const struct s2_abort *ab,
					 struct s2_abort_result *res, bool excl)
{
	struct s2_vm *vm = vcpu->vm;
	struct s2_memslot *s = slot_hinted(vcpu, ab->ipa);
	struct s2_lookup lk;
	int ret;

	/*
	 * Nothing to map: outside every slot, or a write the slot does not allow (KVM: an error
	 * hva, or a write fault on a read-only memslot). In KVM's order: a stage-1 walk or an
	 * instruction fetch there cannot be emulated (inject); a cache-maintenance instruction
	 * outside every slot is skipped by the VMM (an MMIO exit with cache_maint); a data access
	 * without a valid syndrome (ISV = 0) cannot be emulated from it (NISV); any other data
	 * access is the VMM's to emulate.
	 */
	if (!s || (res->write && slot_readonly(s))) {
		if (ab->s1ptw)
			set_inject(res, S2_INJECT_S1PTW);
		else if (ab->is_insn)
			set_inject(res, S2_INJECT_EXEC_NOT_RAM);
		else if ((!s && ab->cm) || ab->isv)
			set_mmio(res, ab);
		else
			res->action = S2_ABORT_NISV;
		return 0;
	}

	if (S2_UNLIKELY(ab->fault == S2_FAULT_ACCESS_FLAG)) {
		ret = s2_pgtable_mkyoung(&vm->pgt, s2_ipa(ab->ipa & ~(granule_bytes(vm) - 1)));
		if (ret == S2_EAGAIN) {
			stat_add(&vm->stats.retries, 1);
			set_resume(res, S2_RESUME_RETRY);
			return 0;
		}
		if (ret != S2_ENOENT) {
			stat_add(&vm->stats.young, 1);
			set_resume(res, S2_RESUME_YOUNG);
			return 0;
		}
	} else if (ab->fault == S2_FAULT_PERMISSION) {
		ret = s2_pgtable_lookup(&vm->pgt, s2_ipa(ab->ipa), &lk);
		if (!ret && lk.valid)
			return handle_perm(vm, s, ab, &lk, res);
	}
	/* A translation fault, an access-flag fault on nothing, a permission fault on nothing
	 * valid: one call site, so handle_translation() is inlined here. */
	return handle_translation(vcpu, s, ab, res, excl);
}

/*
 * The abort path's own decode of the common syndromes: a lower-EL data abort without a valid
 * instruction syndrome (ISV = 0) or a lower-EL instruction abort, with a translation, access
 * flag or permission fault at levels 0..3 (DFSC/IFSC 0b0001LL..0b0011LL). It fills only the
 * fields this file reads (ec, is_data, is_insn, fault, level, ipa, s1ptw, wnr, cm, isv), with
 * the values s2_abort_decode() gives them; anything else returns false and the caller uses
 * s2_abort_decode(). (ESR_EL2 fields: Arm ARM D19.2.)
 */
#define VM_ESR_ISV S2_BIT(24)
#define VM_ESR_FNV S2_BIT(10)
#define VM_ESR_CM S2_BIT(8)
#define VM_ESR_S1PTW S2_BIT(7)
#define VM_ESR_WNR S2_BIT(6)

static S2_ALWAYS_INLINE bool abort_decode_fast(uint64_t esr, uint64_t far, uint64_t hpfar,
					       struct s2_abort *ab)
{
	uint32_t ec = (uint32_t)(esr >> 26) & 0x3f;
	unsigned int fsc = (unsigned int)esr & 0x3f;
	uint64_t ipa = (hpfar & S2_GENMASK(43, 4)) << 8;

	if (S2_UNLIKELY(fsc - 0x04u > 0x0bu))
		return false;
	if (ec == S2_EC_DABT_LOW) {
		if (S2_UNLIKELY(esr & VM_ESR_ISV))
			return false;
		ab->is_data = true;
		ab->is_insn = false;
		ab->wnr = esr & VM_ESR_WNR;
		ab->cm = esr & VM_ESR_CM;
	} else if (ec == S2_EC_IABT_LOW) {
		ab->is_data = false;
		ab->is_insn = true;
		ab->wnr = false;
		ab->cm = false;
	} else {
		return false;
	}
	/* FAR's page offset unless FnV or S1PTW (as s2_abort_decode()) */
	if (!(esr & (VM_ESR_FNV | VM_ESR_S1PTW)))
		ipa |= far & 0xfff;
	ab->ec = ec;
	ab->isv = false;
	ab->fault = (enum s2_fault)(S2_FAULT_ADDRESS_SIZE + (fsc >> 2));
	ab->level = (int)(fsc & 3);
	ab->ipa = ipa;
	ab->s1ptw = esr & VM_ESR_S1PTW;
	return true;
}

/* The statistics of an abort's outcome (a resume has its own counter, bumped by the handler). */
static S2_ALWAYS_INLINE int abort_done(struct s2_vm *vm, const struct s2_abort_result *res)
{
	if (res->action == S2_ABORT_RESUME)
		return 0;
	if (res->action == S2_ABORT_MMIO)
		stat_add(&vm->stats.mmio_exits, 1);
	else if (res->action == S2_ABORT_NISV)
		stat_add(&vm->stats.nisv_exits, 1);
	else
		stat_add(&vm->stats.injects, 1);
	return 0;
}

/* The abort handled with MMU shared held (handle_in_vm() returned @ret): drop it, redo the
 * abort with MMU exclusive when the map needs structural work, count the outcome. */
static S2_NOINLINE int abort_finish(struct s2_vcpu *vcpu, const struct s2_abort *ab,
				    struct s2_abort_result *res, int ret)
{
	struct s2_vm *vm = vcpu->vm;

	vm_unlock(vm, S2_VM_LOCK_MMU_SHARED);
	if (ret == S2_EBUSY) {
		/* The mapping replaces a table by a block (or similar): structural. */
		res->mmio = (struct s2_mmio_access){ 0 };
		vm_lock(vm, S2_VM_LOCK_MMU_EXCL);
		ret = handle_in_vm(vcpu, ab, res, true);
		vm_unlock(vm, S2_VM_LOCK_MMU_EXCL);
	}
	if (ret)
		return ret;
	return abort_done(vm, res);
}

/* MMU shared held, @res filled as the abort path fills it: handle_in_vm(), then finish. */
static S2_NOINLINE int abort_in_vm(struct s2_vcpu *vcpu, const struct s2_abort *ab,
				   struct s2_abort_result *res)
{
	return abort_finish(vcpu, ab, res, handle_in_vm(vcpu, ab, res, false));
}

/* Everything but the short path, from the start (arguments checked). */
static S2_NOINLINE int abort_general(struct s2_vcpu *vcpu, uint64_t esr, uint64_t far,
				     uint64_t hpfar, struct s2_abort_result *res)
{
	struct s2_vm *vm = vcpu->vm;
	struct s2_abort ab;
	int ret;

	*res = (struct s2_abort_result){ 0 };
	if (S2_UNLIKELY(!abort_decode_fast(esr, far, hpfar, &ab))) {
		if (s2_abort_decode(esr, far, hpfar, true, &ab))
			return S2_EINVAL;
		if (ab.ec != S2_EC_DABT_LOW && ab.ec != S2_EC_IABT_LOW)
			return S2_EINVAL;
	}

	res->ipa = s2_ipa(ab.ipa);
	res->fault = ab.fault;
	res->level = ab.level;
	res->write = fault_is_write(&ab);
	res->exec = fault_is_exec(&ab);
	res->s1ptw = ab.s1ptw;

	switch (ab.fault) {
	case S2_FAULT_TRANSLATION:
		stat_add(&vm->stats.faults[0], 1);
		break;
	case S2_FAULT_PERMISSION:
		stat_add(&vm->stats.faults[1], 1);
		break;
	case S2_FAULT_ACCESS_FLAG:
		stat_add(&vm->stats.faults[2], 1);
		break;
	default:
		stat_add(&vm->stats.faults[3], 1);
		break;
	}

	if (ab.fault == S2_FAULT_ADDRESS_SIZE || ab.ipa >> vm->pgt.cfg.ipa_bits) {
		set_inject(res, S2_INJECT_BEYOND_IPA);
		return abort_done(vm, res);
	}
	if (ab.fault != S2_FAULT_TRANSLATION && ab.fault != S2_FAULT_PERMISSION &&
	    ab.fault != S2_FAULT_ACCESS_FLAG) {
		set_inject(res, S2_INJECT_UNHANDLED);
		return abort_done(vm, res);
	}

	/* Tables for a single leaf: at most one per level below the root. Allocation may sleep,
	 * so it happens before the lock. */
	if (S2_UNLIKELY(vcpu->cache.nr < vm->pgt.cfg.levels - 1)) {
		/* (A full cache is the steady state: one compare, no call.) */
		ret = s2_page_cache_topup(&vcpu->cache, &vm->pgt.port, granule_bytes(vm),
					  vm->pgt.cfg.levels - 1);
		if (ret)
			return ret;
	}

	vm_lock(vm, S2_VM_LOCK_MMU_SHARED);
	return abort_in_vm(vcpu, &ab, res);
}

/*
 * The short path's way out, MMU shared held and nothing done under it: decode the syndrome
 * for the general handlers and continue there (res is already as abort_general() fills it).
 */
static S2_NOINLINE int abort_short_general(struct s2_vcpu *vcpu, uint64_t esr, uint64_t far,
					   uint64_t hpfar, struct s2_abort_result *res)
{
	struct s2_abort ab;

	(void)abort_decode_fast(esr, far, hpfar, &ab); /* cannot fail: the short path's case */
	return abort_in_vm(vcpu, &ab, res);
}

/* The short path's map (or relax) refused with @ret: the general handling of it. */
static S2_NOINLINE int abort_short_map_failed(struct s2_vcpu *vcpu, struct s2_memslot *s,
					      uint64_t esr, uint64_t far, uint64_t hpfar,
					      struct s2_abort_result *res, int ret)
{
	struct s2_abort ab;

	(void)abort_decode_fast(esr, far, hpfar, &ab);
	return abort_finish(vcpu, &ab, res, map_failed(vcpu->vm, s, &ab, res, ret, false));
}

/*
 * ESR_EL2 of the aborts the short path takes: a data abort from a lower EL without ISV or
 * S1PTW, a translation (DFSC 0b000111) or permission fault (0b001111) at level 3; WnR and FnV
 * may be either (ESR's other bits, e.g. CM, IL, SET, are not looked at by the short path).
 */
#define VM_SHORT_MASK ((uint64_t)0x3f << 26 | VM_ESR_ISV | VM_ESR_S1PTW | 0x37)
#define VM_SHORT_VAL ((uint64_t)S2_EC_DABT_LOW << 26 | 0x07)

/*
 * The commonest aborts, start to finish, with exactly the general path's results and side
 * effects: a translation fault at level 3 in a memslot the access may use, mapped as one page
 * (the fault_4k case), and a write permission fault at level 3 on a valid leaf of a writable
 * slot, relaxed (fault_dirty_4k), both with the vCPU's page cache full and the IPA inside the
 * VM. Anything else goes to abort_general() from the start (nothing done yet), or, once MMU is
 * held, to the general handlers (abort_short_general(): nothing done under the lock yet;
 * abort_short_map_failed(): the map or relax refused, which changed nothing).
 */
static S2_ALWAYS_INLINE int abort_short(struct s2_vcpu *vcpu, uint64_t esr, uint64_t far,
					uint64_t hpfar, struct s2_abort_result *res)
{
	struct s2_vm *vm = vcpu->vm;
	uint64_t ipa = (hpfar & S2_GENMASK(43, 4)) << 8;
	bool write = esr & VM_ESR_WNR;
	uint64_t page = ipa & ~(granule_bytes(vm) - 1);
	struct s2_memslot *s;
	struct s2_lookup lk;
	int ret;

	if (S2_UNLIKELY((esr & 0x08) && !write))
		return abort_general(vcpu, esr, far, hpfar, res); /* a read permission fault */
	if (!(esr & VM_ESR_FNV))
		ipa |= far & 0xfff;
	*res = (struct s2_abort_result){
		.ipa = s2_ipa(ipa),
		.level = 3,
		.write = write,
	};
	if (!(esr & 0x08)) {
		/* A translation fault. */
		res->fault = S2_FAULT_TRANSLATION;
		stat_add(&vm->stats.faults[0], 1);
		vm_lock(vm, S2_VM_LOCK_MMU_SHARED);
		s = slot_hinted(vcpu, ipa);
		if (S2_UNLIKELY(!s || (write && slot_readonly(s)) || s->mt_ret[0] ||
				((s->mt[0].cmo & S2_CMO_TAGS) && s->tagged)))
			return abort_short_general(vcpu, esr, far, hpfar, res);
		ret = s2_pgtable_map_page(&vm->pgt, s2_ipa(page),
					  s2_pa(s2_pa_val(s->d.pa) + (page - s2_ipa_val(s->d.ipa))),
					  fault_leaf(s, false, write),
					  S2_MAP_SHARED | S2_MAP_NO_REPLACE, &vcpu->cache);
		if (S2_UNLIKELY(ret))
			return abort_short_map_failed(vcpu, s, esr, far, hpfar, res, ret);
		map_done(vm, s, res, page, granule_bytes(vm));
	} else {
		/* A permission fault: a write (else the general path) to a writable slot. */
		res->fault = S2_FAULT_PERMISSION;
		stat_add(&vm->stats.faults[1], 1);
		vm_lock(vm, S2_VM_LOCK_MMU_SHARED);
		s = slot_hinted(vcpu, ipa);
		if (S2_UNLIKELY(!s || slot_readonly(s)))
			return abort_short_general(vcpu, esr, far, hpfar, res);
		/* handle_in_vm()'s lookup and handle_perm()'s relax of a write, in one descent:
		 * nothing is relaxed when no valid leaf is found (handle_translation() then). */
		ret = s2_pgtable_relax_lookup(&vm->pgt, s2_ipa(ipa), S2_PROT_R | S2_PROT_W, &lk);
		/* (It fills lk: its S2_EINVAL / S2_ERANGE cannot happen, the IPA is inside.) */
		if (S2_UNLIKELY(!lk.valid))
			return abort_short_general(vcpu, esr, far, hpfar, res);
		if (S2_UNLIKELY(leaf_allows(&lk, true, false) || ret == S2_EAGAIN ||
				ret == S2_ENOENT)) {
			/* Another vCPU resolved it, or a stale TLB entry (the relax invalidated
			 * it locally), or the entry changed under us. */
			stat_add(&vm->stats.retries, 1);
			set_resume(res, S2_RESUME_RETRY);
		} else if (S2_UNLIKELY(ret)) {
			memtype_inject(res, ret, false);
		} else {
			if (slot_logging(s))
				mark_dirty(vm, s, ipa & ~(lk.size - 1), lk.size);
			stat_add(&vm->stats.relaxed, 1);
			set_resume(res, S2_RESUME_RELAXED);
		}
	}
	vm_unlock(vm, S2_VM_LOCK_MMU_SHARED);
	return abort_done(vm, res);
}

#if defined(S2_TEST_HOOKS) && S2_TEST_HOOKS
bool s2_vm_test_no_short;
#define VM_SHORT_ON (!s2_vm_test_no_short)
#else
#define VM_SHORT_ON true
#endif

int s2_vm_handle_abort(struct s2_vcpu *vcpu, uint64_t esr, uint64_t far, uint64_t hpfar,
		       struct s2_abort_result *res)
{
	if (!vcpu || !vcpu->vm || !res)
		return S2_EINVAL;
	/* Owner-managed VMs never take the short path: their faults are ownership transitions. */
	if (S2_LIKELY(VM_SHORT_ON && (esr & VM_SHORT_MASK) == VM_SHORT_VAL && !vcpu->vm->owner &&
		      !(((hpfar & S2_GENMASK(43, 4)) << 8) >> vcpu->vm->pgt.cfg.ipa_bits) &&
		      vcpu->cache.nr >= vcpu->vm->pgt.cfg.levels - 1u))
		return abort_short(vcpu, esr, far, hpfar, res);
	return abort_general(vcpu, esr, far, hpfar, res);
}

/* ---- dirty logging ----------------------------------------------------------------------------- */

/* MMU exclusive held: make every valid page of [ipa, ipa+size) clean-writable (read-only with
 * DBM): one range operation in the engine, one TLBI for what changed, no cache maintenance. */
static int arm_dbm(struct s2_vm *vm, uint64_t ipa, uint64_t size)
{
	return s2_pgtable_set_prot(&vm->pgt, s2_ipa(ipa), size, S2_PROT_DBM, S2_PROT_W);
}

/* SLOTS held. */
static int dirty_log_enable(struct s2_vm *vm, struct s2_memslot *s, bool dbm)
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
		s->dirty = bitmap_alloc(vm, slot_pages(vm, s), &s->dirty_bytes);
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
		ret = arm_dbm(vm, s2_ipa_val(s->d.ipa), s->d.size);
	if (ret) {
		s->d.flags &= ~(uint64_t)S2_SLOT_DIRTY_LOG;
		s->dbm = false;
	}
	mmu_excl_end(vm);
	/* Do not keep a chunk's worth of unused table pages per VM. */
	s2_page_cache_drain(&vm->cache, &vm->pgt.port, granule_bytes(vm));
	if (ret)
		bitmap_free(vm, &s->dirty, &s->dirty_bytes);
	return ret;
}

/* SLOTS held. */
static int dirty_log_disable(struct s2_vm *vm, struct s2_memslot *s)
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
	bitmap_free(vm, &s->dirty, &s->dirty_bytes);
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
	ret = s ? dirty_log_enable(vm, s, dbm) : S2_ENOENT;
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
	ret = s ? dirty_log_disable(vm, s) : S2_ENOENT;
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
static void dbm_harvest(struct s2_vm *vm, struct s2_memslot *s, uint64_t ipa, uint64_t size)
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
	dbm_harvest(vm, s, s2_ipa_val(s->d.ipa), s->d.size);
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
			arm_dbm(vm, s2_ipa_val(s->d.ipa) + i * g, (j - i) * g);
		i = j;
	}
	mmu_excl_end(vm);
	if (nr_dirty)
		*nr_dirty = count;
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
		ret = dirty_log_enable(vm, s, false);
		if (ret)
			goto out;
	}
	if ((changed & S2_SLOT_DIRTY_LOG) && !(flags & S2_SLOT_DIRTY_LOG))
		dirty_log_disable(vm, s); /* cannot fail: the slot logs */
	if (remap) {
		mmu_excl_begin(vm);
		if ((changed & S2_SLOT_ALLOW_ANY_UNCACHED) || vm->owner) {
			slot_unmap(vm, s); /* the memory type (or the owner's share) changes */
		} else if (flags & S2_SLOT_READONLY) {
			/* What the hardware dirtied (DBM) stays reported: wrprotect drops it. */
			dbm_harvest(vm, s, s2_ipa_val(s->d.ipa), s->d.size);
			s2_pgtable_wrprotect(&vm->pgt, s->d.ipa, s->d.size);
		}
		s->d.flags =
			(s->d.flags & S2_SLOT_DIRTY_LOG) | (flags & ~(uint64_t)S2_SLOT_DIRTY_LOG);
		slot_mt_update(vm, s);
		/* Writable again while logging with DBM: mapped pages become writable-clean.
		 * Cannot fail: the slot's own granule-aligned range, whole leaves, RAM. */
		if (!(changed & S2_SLOT_ALLOW_ANY_UNCACHED) && s->dbm && !slot_readonly(s))
			(void)arm_dbm(vm, s2_ipa_val(s->d.ipa), s->d.size);
		mmu_excl_end(vm);
	}
out:
	vm_unlock(vm, S2_VM_LOCK_SLOTS);
	return ret;
}

/* ---- host memory management -------------------------------------------------------------------- */

/* A host range [pa, pa + size): non-empty (S2_EINVAL) and not wrapping past 2^64
 * (S2_ERANGE); it may end exactly at 2^64. */
static int host_range_check(uint64_t pa, uint64_t size)
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
static bool host_overlap(const struct s2_vm *vm, const struct s2_memslot *s, uint64_t pa,
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
			total += owner_unmap(vm, ipa, len, &busy);
			continue;
		}
		dbm_harvest(vm, s, ipa, len); /* hardware-dirtied pages stay reported */
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
		sanitise_tags(vm, s, s2_ipa_val(s->d.ipa), s->d.size);

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
