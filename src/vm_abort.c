// SPDX-License-Identifier: MIT
/*
 * vm_abort.c - the VM layer's guest abort path (s2mmu/vm.h, docs/vm.md): the short
 * path, the general handlers, tag sanitisation.
 */
#include "vm_internal.h"

/* ---- tag sanitisation ------------------------------------------------------------------------- */

/*
 * Tagged RAM in an MTE VM: zero the allocation tags of each page once, before the guest can
 * see it. Two bits per page in slot->tagged: 2i "claimed", 2i+1 "done". The vCPU that claims
 * a page sanitises it; another that finds it claimed but not done must not map it yet.
 * Returns false when some page of the range is being sanitised by someone else (retry).
 */
bool s2_vmi_sanitise_tags(struct s2_vm *vm, struct s2_memslot *s, uint64_t ipa, uint64_t size)
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

static void set_mmio(struct s2_abort_result *res, const struct s2_abort *ab)
{
	res->action = S2_ABORT_MMIO;
	res->mmio.ipa = ab->ipa;
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

static int handle_perm(struct s2_vm *vm, struct s2_memslot *s, const struct s2_abort *ab,
		       const struct s2_lookup *lk, struct s2_abort_result *res)
{
	uint64_t ipa = s2_ipa_val(ab->ipa) & ~(granule_bytes(vm) - 1);
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
			mark_dirty(vm, s, s2_ipa_val(ab->ipa) & ~(lk->size - 1), lk->size);
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
		if (s2_pgtable_lookup(&vm->pgt, ab->ipa, &lk) || !lk.valid) {
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
		ret = s2_pgtable_lookup(&vm->pgt, ab->ipa, &lk);
		if (ret) {
			set_inject(res, S2_INJECT_BEYOND_IPA);
			return 0;
		}
		if (lk.valid)
			return handle_perm(vm, s, ab, &lk, res);
		if (S2_UNLIKELY(vm->owner))
			return excl ? s2_vmi_owner_fault(vm, s, ab, res) : S2_EBUSY;
		room = lk.size;
		flags = excl ? 0 : S2_MAP_SHARED;
	}

	ret = s->mt_ret[exec];
	if (ret) {
		memtype_inject(res, ret, exec);
		return 0;
	}
	sz = pick_leaf(vm, s, s2_ipa_val(ab->ipa), room);
	base = s2_ipa_val(ab->ipa) & ~(sz - 1);
	pa = s2_pa(s2_pa_val(s->d.pa) + (base - s2_ipa_val(s->d.ipa)));

	t = fault_leaf(s, exec, write);
	if ((a->cmo & S2_CMO_TAGS) && s->tagged && !s2_vmi_sanitise_tags(vm, s, base, sz)) {
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
	struct s2_memslot *s = slot_hinted(vcpu, s2_ipa_val(ab->ipa));
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
		ret = s2_pgtable_mkyoung(&vm->pgt,
					 s2_ipa(s2_ipa_val(ab->ipa) & ~(granule_bytes(vm) - 1)));
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
		ret = s2_pgtable_lookup(&vm->pgt, ab->ipa, &lk);
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
	ab->ipa = s2_ipa(ipa);
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

/* abort_finish()'s structural case, MMU shared dropped: redo the abort with MMU exclusive (the
 * mapping replaces a table by a block, or similar). */
static S2_NOINLINE int abort_redo_excl(struct s2_vcpu *vcpu, const struct s2_abort *ab,
				       struct s2_abort_result *res)
{
	struct s2_vm *vm = vcpu->vm;
	int ret;

	res->mmio = (struct s2_mmio_access){ 0 };
	vm_lock(vm, S2_VM_LOCK_MMU_EXCL);
	ret = handle_in_vm(vcpu, ab, res, true);
	vm_unlock(vm, S2_VM_LOCK_MMU_EXCL);
	return ret ? ret : abort_done(vm, res);
}

/* The abort handled with MMU shared held (handle_in_vm() returned @ret): drop it, redo the
 * abort with MMU exclusive when the map needs structural work, count the outcome. */
static S2_ALWAYS_INLINE int abort_finish(struct s2_vcpu *vcpu, const struct s2_abort *ab,
					 struct s2_abort_result *res, int ret)
{
	struct s2_vm *vm = vcpu->vm;

	vm_unlock(vm, S2_VM_LOCK_MMU_SHARED);
	if (S2_UNLIKELY(ret == S2_EBUSY))
		return abort_redo_excl(vcpu, ab, res);
	if (ret)
		return ret;
	return abort_done(vm, res);
}

/* MMU shared held, @res filled as the abort path fills it: handle_in_vm(), then finish. */
static S2_ALWAYS_INLINE int abort_in_vm(struct s2_vcpu *vcpu, const struct s2_abort *ab,
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

	res->ipa = ab.ipa;
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

	if (ab.fault == S2_FAULT_ADDRESS_SIZE || s2_ipa_val(ab.ipa) >> vm->pgt.cfg.ipa_bits) {
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

	/* Cannot fail: the short path's case (the check also tells the compiler @ab is set). */
	if (S2_UNLIKELY(!abort_decode_fast(esr, far, hpfar, &ab)))
		S2_BUG("abort_short_general: not a short-path abort");
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
