/* SPDX-License-Identifier: MIT */
/*
 * s2mmu/vm.h - the VM layer: VMs and VMIDs, vCPU entry, memslots, guest-abort handling, dirty
 * logging, aging and host invalidation, locked memslots with deferred cache maintenance.
 *
 * This is the policy layer a hypervisor calls on every guest abort (what Linux keeps in
 * arch/arm64/kvm/mmu.c). It is built on the engine (pgtable.h) and the memory-type policy
 * (memtype.h); docs/vm.md is the guide. Summary of the contract:
 *
 * Memory. The core never allocates by itself. Every object (struct s2_vm, struct s2_vcpu,
 * struct s2_vmid_alloc, the memslot array) is allocated by the caller; memslots live in a
 * caller-provided array given at VM creation. Table pages, dirty bitmaps and the per-slot
 * MTE bitmap come from the port's alloc_pages (and go back on disable/delete/destroy).
 *
 * Locking. The library takes its locks itself through the optional hooks in struct s2_vm_hooks
 * (NULL lock hooks mean the caller serialises every call on the VM). Three locks:
 *   - SLOTS:  memslot changes, lock/unlock, the deferred maintenance on vCPU entry;
 *   - MMU:    a reader/writer lock on the tables and the slot array: shared on the abort path
 *             (s2_vm_handle_abort), exclusive for everything that changes more than one entry
 *             (and for every guest fault of an owner-managed VM);
 *   - OWNER:  only for owner-managed VMs: the struct s2_owner they are bound to (global: the
 *             same lock for every VM of that owner and for the host's own fault handler).
 * Order: SLOTS before MMU before OWNER. A call never returns with a lock held. The VMID
 * allocator has its own lock (a spinlock inside struct s2_vmid_alloc, taken briefly after
 * SLOTS and MMU and never around OWNER): the caller provides none.
 *
 * Who loads the stage-2 context: this layer, and only it, for a VM's table. TLB maintenance
 * acts on the VMID in VTTBR_EL2 (Arm ARM D8.13), so the layer calls hooks.load_stage2()
 * (required: s2_vm_init() refuses a VM without it) before, and hooks.put_stage2() after,
 * any operation that may invalidate TLBs for the VM; the port's TLBI ops act on whatever is
 * loaded. The one exception is the abort path, which runs in the vCPU's context, loaded by
 * the caller from s2_vm_vcpu_enter()'s values before it entered the guest.
 */
#ifndef S2MMU_VM_H
#define S2MMU_VM_H

#include "s2mmu/arch.h"
#include "s2mmu/memtype.h"
#include "s2mmu/owner.h"
#include "s2mmu/pgtable.h"
#include "s2mmu/port.h"

struct s2_vm;

/* ---- hooks ------------------------------------------------------------------------------------ */

enum s2_vm_lock {
	S2_VM_LOCK_SLOTS = 0,
	S2_VM_LOCK_MMU_SHARED = 1,
	S2_VM_LOCK_MMU_EXCL = 2,
	S2_VM_LOCK_OWNER = 3, /* the struct s2_owner of an owner-managed VM (global: every VM bound
			       * to that owner takes it, and so must the host's fault handler) */
};

/* @ctx is hooks.ctx. @load_stage2 is required; @lock and @unlock come as a pair (or neither);
 * @scrub is required for an S2_VM_PROTECTED VM; the others are optional. */
struct s2_vm_hooks {
	/** @lock/@unlock: take/release one of the locks above (may sleep outside the abort
	 * path; MMU_SHARED and VMID are taken on the vCPU run path). */
	void (*lock)(void *ctx, enum s2_vm_lock l);
	void (*unlock)(void *ctx, enum s2_vm_lock l);
	/** @load_stage2: load this VM's VTCR_EL2/VTTBR_EL2 before TLB maintenance for it. */
	void (*load_stage2)(void *ctx, uint64_t vtcr, uint64_t vttbr);
	/** @put_stage2: restore whatever was loaded before @load_stage2. */
	void (*put_stage2)(void *ctx);
	/**
	 * @sanitise_tags: zero the MTE allocation tags of [@pa, @pa + @size) (Tagged RAM in an
	 * MTE VM, once per page before the guest first sees it). Required for MTE VMs.
	 */
	void (*sanitise_tags)(void *ctx, s2_pa_t pa, uint64_t size);
	/**
	 * @scrub: zero [@pa, @pa + @size) before a page the guest owned goes back to the host
	 * (s2_owner_guest_destroy()'s scrub callback). Required for S2_VM_PROTECTED VMs.
	 */
	void (*scrub)(void *ctx, s2_pa_t pa, uint64_t size);
	void *ctx;
};

/* ---- VMIDs ------------------------------------------------------------------------------------ */

#define S2_VMID_MAP_WORDS (65536 / 64)

/*
 * A VMID allocator with generations (one per host, shared by its VMs). A VM takes a VMID at its
 * first vCPU entry or first TLB-invalidating operation, whichever comes first (so TLB
 * maintenance never runs under the host's VMID 0). A VM's VMID is valid while its generation
 * matches the allocator's. When every VMID of the generation is taken the
 * allocator rolls over: it invalidates the TLB entries of every registered VM that holds a
 * VMID (tlbi_vmid through each VM's port, with that VM's stage-2 context loaded), starts a new
 * generation and hands out VMIDs again as VMs enter. VMID 0 is never given (the host's).
 * Destroying a VM invalidates its VMID and returns it at once. Within a generation VMIDs are
 * handed out round-robin (the search starts after the last one given; a new generation starts
 * at 1), so a returned VMID is given again only after every free one above it.
 * What the caller owes on a rollover (s2_vcpu_entry.rollover, or s2_vmid_alloc.rollovers
 * changed during another call): the rollover's TLBIs run when it happens, while vCPUs of
 * other VMs may still be running on other CPUs with VMIDs of the old generation (there is no
 * per-CPU reservation of active VMIDs, as KVM's vmid.c has). Those CPUs must exit their guests
 * and re-enter through s2_vm_vcpu_enter() before any VM runs with a VMID of the new
 * generation, and TLB entries they cached under an old VMID after the rollover's TLBI are not
 * invalidated by the library.
 * Fields are read-only for the caller.
 */
struct s2_vmid_alloc {
	unsigned int bits; /* 8 or 16 */
	uint64_t generation; /* starts at 1 */
	uint32_t next; /* next VMID to try: the one after the last given */
	uint32_t nr_vms; /* VMs registered */
	uint64_t lock; /* the allocator's own spinlock (private: 0 free, 1 held) */
	uint64_t rollovers; /* generations started after the first */
	struct s2_vm *vms; /* registered VMs (list through s2_vm.vmid_next) */
	uint64_t map[S2_VMID_MAP_WORDS]; /* VMIDs taken in this generation */
};

/**
 * s2_vmid_alloc_init() - set up an allocator of @bits-bit VMIDs.
 * Return: 0; S2_EVMID when @bits is neither 8 nor 16; S2_EINVAL for NULL.
 */
int s2_vmid_alloc_init(struct s2_vmid_alloc *a, unsigned int bits);

/* ---- memslots --------------------------------------------------------------------------------- */

/* Guest writes exit to the VMM (MMIO, or NISV without syndrome); stage-1 walks may read it. */
#define S2_SLOT_READONLY S2_BIT(0)
#define S2_SLOT_DIRTY_LOG S2_BIT(1) /* dirty logging (fault-based) */
#define S2_SLOT_ALLOW_ANY_UNCACHED S2_BIT(2) /* MMIO: map Normal-NC, the guest picks Device/NC */
#define S2_SLOT_FLAGS_ALL (S2_SLOT_READONLY | S2_SLOT_DIRTY_LOG | S2_SLOT_ALLOW_ANY_UNCACHED)

/* What the caller asks for when adding a slot. */
struct s2_memslot_desc {
	uint32_t id; /* caller's name for the slot, unique in the VM */
	s2_ipa_t ipa; /* guest base, granule-aligned */
	uint64_t size; /* bytes, granule multiple, > 0 */
	enum s2_backing backing; /* RAM or device MMIO */
	s2_pa_t pa; /* host physical base of the backing, granule-aligned */
	s2_hva_t hva; /* host virtual base (informational; may be 0) */
	enum s2_hostmem host_type; /* type of the host's mapping of the backing */
	uint64_t backing_page_size; /* the backing is made of naturally PA-aligned chunks of this
				      * size (host page or huge page); power of two >= granule;
				      * 0 means one granule. Blocks never exceed it. */
	bool backing_tags; /* the backing can hold MTE allocation tags */
	uint64_t flags; /* S2_SLOT_* */
};

enum s2_slot_lock_mode {
	S2_SLOT_UNLOCKED = 0,
	S2_SLOT_LOCKED_RO = 1,
	S2_SLOT_LOCKED_RW = 2,
};

/* A memslot: the caller's description and the library's state. Read-only for the caller. */
struct s2_memslot {
	struct s2_memslot_desc d;
	enum s2_slot_lock_mode lock;
	bool cmo_pending; /* locked, D-cache maintenance deferred to the next vCPU entry */
	bool dbm; /* dirty logging uses hardware dirty state (DBM) */
	uint64_t *dirty; /* dirty bitmap, one bit per granule (while logging) */
	size_t dirty_bytes; /* its allocation */
	uint64_t *tagged; /* MTE: pages whose tags were sanitised */
	size_t tagged_bytes; /* its allocation */
	/* The memory-type decision for a data access [0] and an instruction fetch [1], and its
	 * return code (s2_memtype_decide()), kept up to date with the flags. */
	struct s2_memtype_attrs mt[2];
	int mt_ret[2];
	/* The leaf a translation fault maps, prepared with the memory type (private):
	 * [data/exec][read-only, read-write, read-only with DBM]. */
	struct s2_leaf_tmpl fault_leaf[2][3];
};

/* ---- the VM ----------------------------------------------------------------------------------- */

#define S2_VM_PENDING_CMO S2_BIT(0) /* locked slots await their D-cache maintenance */

/* VM policy flags (s2_vm_params.flags). */
#define S2_VM_KEEP_HOST_NC \
	S2_BIT(0) /* RAM behind a Normal-NC host mapping stays Normal-NC at
				      * stage 2, exec refused (default: Normal, as KVM) */
/* The VM is protected (pKVM style; needs s2_vm_params.owner): guest faults on RAM donate the
 * page to the guest, the host loses access to it until the VM is destroyed. Without it an
 * owner-managed VM's RAM is shared with the guest (the host keeps access). */
#define S2_VM_PROTECTED S2_BIT(1)
#define S2_VM_FLAGS_ALL (S2_VM_KEEP_HOST_NC | S2_VM_PROTECTED)

struct s2_vm_params {
	const struct s2_caps *caps;
	struct s2_config_req req; /* IPA bits, granule, VMID width (0: the allocator's), S2_CFG_*,
				   * PA size at most (0: the CPU's) */
	uint64_t flags; /* S2_VM_* policy flags */
	struct s2_port port; /* side effects for the engine and the VM layer */
	struct s2_vm_hooks hooks;
	struct s2_vmid_alloc *vmids; /* the host's VMID allocator */
	struct s2_memslot *slots; /* caller-provided array for the VM's memslots */
	unsigned int max_slots; /* its length */
	uint64_t locked_limit; /* bytes that may be locked (pinned) at once */
	/*
	 * Owner-managed VM (docs/vm.md "Owner-managed and protected VMs"): NULL for a VM whose
	 * memory is the VM layer's alone (KVM-like). Else every page reaches the guest through an
	 * ownership transition of @owner (pKVM-like): RAM is donated (S2_VM_PROTECTED) or shared,
	 * MMIO slots are assigned (donated); the VM is the owner's guest @owner_id
	 * (S2_OWNER_GUEST_MIN..MAX, unique among the owner's guests: the caller's choice).
	 */
	struct s2_owner *owner;
	uint8_t owner_id;
};

/* Counters, for tools and the simulator. */
struct s2_vm_stats {
	uint64_t faults[4]; /* by kind: [0] translation, [1] permission, [2] access flag,
				 * [3] other */
	uint64_t mapped; /* translation faults resolved by a new mapping */
	uint64_t relaxed; /* permission faults resolved in place */
	uint64_t young; /* access-flag faults resolved */
	uint64_t retries; /* faults found already resolved (a race) */
	uint64_t mmio_exits;
	uint64_t nisv_exits; /* S2_ABORT_NISV: accesses to emulate without a valid syndrome */
	uint64_t injects;
	uint64_t cmo_deferred_bytes; /* D-cache maintenance done at vCPU entry for locked slots */
	uint64_t tags_sanitised_bytes;
	uint64_t vmid_changes;
};

struct s2_vm {
	struct s2_pgtable pgt; /* the VM's tables; pgt.cfg is the VM's config */
	struct s2_vm_hooks hooks;
	uint64_t flags; /* S2_VM_* policy flags */
	struct s2_vmid_alloc *vmids;
	struct s2_vm *vmid_next; /* allocator's list */
	uint64_t vmid_gen; /* generation the VMID belongs to (0: none yet) */
	uint16_t vmid;
	struct s2_memslot *slots; /* sorted by IPA, nr_slots used */
	unsigned int nr_slots;
	unsigned int max_slots;
	uint64_t locked_bytes;
	uint64_t locked_limit;
	uint32_t pending; /* S2_VM_PENDING_*, atomic */
	struct s2_page_cache cache; /* pages for structural changes (splits) */
	struct s2_vm_stats stats;
	uint64_t level_bytes[S2_LEVEL_MAX + 2]; /* bytes an entry maps, by level + 1 */
	struct s2_owner *owner; /* owner-managed VM: its owner (NULL: not owner-managed) */
	struct s2_owner_guest og; /* owner-managed VM: the guest as the owner layer sees it */
};

/**
 * s2_vm_init() - set up a VM: compute its config from the host caps and request, allocate
 * its root table, register it with the VMID allocator (a VMID is assigned at first entry).
 * @vm: caller-allocated; untouched fields are initialised here.
 * @p:  parameters (copied; p->slots is kept and used for the VM's lifetime).
 * Return: 0; S2_EINVAL (NULL argument or caps/allocator/port ops, no slot array, unknown
 * S2_VM_* flags, bad S2_CFG_* flags, no hooks.load_stage2, only one of hooks.lock/unlock, a
 * port without one of its required ops (s2_pgtable_init()); owner-managed: S2_VM_PROTECTED
 * without an owner, an owner id below S2_OWNER_GUEST_MIN, a granule other than the owner's,
 * a protected VM without hooks.scrub);
 * the s2_config_init() codes (S2_EINVAL, S2_EGRANULE, S2_EIPA_TOO_BIG, S2_EIPA_TOO_SMALL,
 * S2_ENO52BIT, S2_EVMID, S2_ENOTSUP); S2_EVMID when the VM's VMID width differs from the
 * allocator's; S2_ENOMEM (root table).
 */
int s2_vm_init(struct s2_vm *vm, const struct s2_vm_params *p);

/**
 * s2_vm_destroy() - delete every slot (locked ones included, unpinned), invalidate the VM's
 * VMID (tlbi_vmid with its stage-2 context loaded, when it holds a VMID of the current
 * generation; older ones were invalidated at their rollover), free its tables and bitmaps,
 * give the VMID back, leave the allocator. An owner-managed VM first gives every page back
 * through s2_owner_guest_destroy() (pages it owned scrubbed with hooks.scrub and host OWNED
 * again, shares dropped, assigned MMIO returned), with its stage-2 context loaded.
 * No vCPU of the VM may run. Takes SLOTS, MMU exclusive, OWNER (owner-managed VMs).
 * Return: 0; S2_EINVAL (NULL, or not created / already destroyed); owner-managed VMs:
 * S2_ENOMEM (the teardown needed a host table page: the pages returned so far stay returned,
 * the VM is otherwise untouched; call again).
 */
int s2_vm_destroy(struct s2_vm *vm);

/* ---- vCPUs ------------------------------------------------------------------------------------ */

/* One vCPU: caller-allocated; holds the pages its abort path may need for new tables. */
struct s2_vcpu {
	struct s2_vm *vm;
	unsigned int id;
	struct s2_page_cache cache;
	unsigned int slot_hint; /* private: index of the slot of this vCPU's last abort (checked) */
};

/* What the hypervisor loads before entering the guest. */
struct s2_vcpu_entry {
	uint64_t vtcr; /* VTCR_EL2 */
	uint64_t vttbr; /* VTTBR_EL2: root PA | VMID */
	uint64_t hcr_set; /* HCR_EL2 bits to set: VM, FWB when the VM runs with FWB, ATA with MTE */
	uint64_t hcr_clear; /* HCR_EL2 bits to clear: FWB / ATA when not used */
	/* A new VMID was assigned during this call. */
	bool vmid_changed;
	/* This call rolled the VMID generation over: every VM's VMID was invalidated; other CPUs
	 * must pick up new VTTBRs at their next entry (a rollover inside another call shows in
	 * s2_vmid_alloc.rollovers). */
	bool rollover;
	uint64_t cmo_bytes; /* deferred D-cache maintenance performed at this entry */
};

/**
 * s2_vcpu_init() - bind @vcpu to @vm. Return: 0; S2_EINVAL for NULL.
 */
int s2_vcpu_init(struct s2_vcpu *vcpu, struct s2_vm *vm, unsigned int id);

/**
 * s2_vcpu_destroy() - give the vCPU's cached pages back to the port.
 */
void s2_vcpu_destroy(struct s2_vcpu *vcpu);

/**
 * s2_vm_vcpu_enter() - prepare a guest entry.
 * @vcpu: the vCPU about to run.
 * @out:  what to load (VTCR, VTTBR, HCR bits).
 *
 * First performs the VM's pending operations: when S2_VM_PENDING_CMO is set it takes SLOTS,
 * cleans+invalidates to PoC every locked slot whose maintenance is deferred (exactly once:
 * each slot's pending flag, then the VM's bit, are cleared under the lock), and releases it.
 * Then makes sure the VM's VMID belongs to the current generation (VMID lock), assigning one,
 * possibly rolling the generation over (see struct s2_vmid_alloc).
 * The caller loads out->vtcr and out->vttbr and applies the HCR bits before entering the guest.
 *
 * Return: 0; S2_EINVAL for NULL.
 */
int s2_vm_vcpu_enter(struct s2_vcpu *vcpu, struct s2_vcpu_entry *out);

/**
 * s2_vm_vttbr() - the VM's current VTTBR_EL2 (root PA | VMID); VMID 0 until one is assigned
 * (first entry or first TLB-invalidating operation); the VMID may be of an old generation
 * until the next s2_vm_vcpu_enter().
 * @vttbr: out, written only on success.
 * Return: 0; S2_EINVAL (NULL @vm or @vttbr, or a VM that is not created or already destroyed).
 */
int s2_vm_vttbr(const struct s2_vm *vm, uint64_t *vttbr);

/* ---- memslot operations (SLOTS, then MMU exclusive) ----------------------------------------- */

/**
 * s2_vm_slot_add() - add a memslot. Nothing is mapped: guest accesses fault pages in.
 * S2_SLOT_DIRTY_LOG in the flags enables fault-based dirty logging at once. READONLY and
 * DIRTY_LOG may be combined (as KVM_MEM_READONLY | KVM_MEM_LOG_DIRTY_PAGES): only writes
 * dirty pages, so a read-only slot's bitmap stays clean.
 * Return: 0; S2_EINVAL (NULL, zero size, unknown flags, backing or host type, a
 * backing_page_size that is not a power of two >= granule, Device host mapping of RAM with
 * allow-any-uncached); S2_EALIGN (IPA, size or PA not granule-aligned); S2_ERANGE (IPA range
 * beyond the VM's IPA size, PA beyond the output size); S2_EEXIST (the id is taken or the range
 * overlaps a slot); S2_ELIMIT (the slot array is full); S2_EMEMTYPE (RAM without tags, or
 * through an untagged host mapping, for an MTE VM); S2_ENOTSUP (owner-managed VM: dirty
 * logging, or read-only RAM in a protected VM); S2_ENOMEM (bitmaps). Nothing changes on
 * error.
 */
int s2_vm_slot_add(struct s2_vm *vm, const struct s2_memslot_desc *d);

/**
 * s2_vm_slot_delete() - unmap a slot's IPA range and forget it (its bitmaps are freed). In an
 * owner-managed VM the pages the host shares with the guest are unshared (s2_owner_host_unshare_guest).
 * Return: 0; S2_EINVAL (NULL @vm); S2_ENOENT; S2_EBUSY (the slot is locked: unlock it first;
 * or, owner-managed, the guest owns a page in it: donated pages return only at
 * s2_vm_destroy()). Nothing changes on error.
 */
int s2_vm_slot_delete(struct s2_vm *vm, uint32_t id);

/**
 * s2_vm_slot_move() - give a slot a new IPA base (same backing and size); the old range is
 * unmapped, the new one faults in. The dirty bitmap (if logging) is kept; in DBM mode the
 * pages the hardware dirtied are recorded in it before the unmap.
 * Return: 0; S2_EINVAL (NULL @vm); S2_ENOENT; S2_EBUSY (locked; owner-managed: as for
 * s2_vm_slot_delete()); S2_EALIGN; S2_ERANGE; S2_EEXIST (overlap).
 */
int s2_vm_slot_move(struct s2_vm *vm, uint32_t id, s2_ipa_t new_ipa);

/**
 * s2_vm_slot_set_flags() - change a slot's flags. Setting READONLY write-protects what is
 * mapped (a DBM-logging slot's hardware-dirtied pages are recorded in its bitmap first);
 * clearing it on a DBM-logging slot makes mapped pages writable-clean again; toggling
 * ALLOW_ANY_UNCACHED unmaps the slot (its memory type changes; in DBM mode
 * the pages the hardware dirtied are recorded in the dirty bitmap first); toggling
 * DIRTY_LOG is s2_vm_dirty_log_enable(dbm = false) / s2_vm_dirty_log_disable(). In an
 * owner-managed VM a change of READONLY or ALLOW_ANY_UNCACHED unshares the slot's pages
 * (they refault through the owner with the new permissions).
 * All or nothing: everything is checked first, and the only step that can fail (enabling
 * DIRTY_LOG) runs before any other change, so on error the flags and the mappings' permissions
 * are as before (blocks already split for logging stay split: the same translations).
 * Return: 0; S2_ENOENT; S2_EINVAL (NULL @vm, unknown flags, or a combination
 * s2_vm_slot_add() refuses, whatever code it would give); S2_EBUSY (locked slot;
 * owner-managed: a permission or type change while the guest owns a page in the slot);
 * S2_ENOMEM (enabling DIRTY_LOG failed; nothing changed).
 */
int s2_vm_slot_set_flags(struct s2_vm *vm, uint32_t id, uint64_t flags);

/**
 * s2_vm_slot_find() - the slot with @id, or NULL. Pointers are valid until the next slot
 * add/delete/move (the array is kept sorted by IPA). Caller holds SLOTS or MMU (or is the only
 * user).
 */
const struct s2_memslot *s2_vm_slot_find(const struct s2_vm *vm, uint32_t id);

/**
 * s2_vm_slot_at() - the slot containing @ipa, or NULL. Same rules as s2_vm_slot_find().
 */
const struct s2_memslot *s2_vm_slot_at(const struct s2_vm *vm, s2_ipa_t ipa);

/* ---- guest aborts (MMU shared) ---------------------------------------------------------------- */

enum s2_abort_action {
	S2_ABORT_RESUME = 0, /* return to the guest, the access will succeed (or refault) */
	S2_ABORT_MMIO = 1, /* emulate the access in the VMM (struct s2_mmio_access) */
	S2_ABORT_INJECT = 2, /* inject a synchronous external abort into the guest */
	S2_ABORT_NISV = 3, /* an access to emulate without a valid syndrome (ESR.ISV = 0: load/store
			    * pair, pre/post-index, atomics, DC ZVA) in no slot or writing a read-only
			    * slot: the VMM cannot emulate it from the syndrome (KVM_EXIT_ARM_NISV);
			    * res->ipa and res->write say where. Decode the instruction, inject an
			    * abort, or stop the VM. (A cache-maintenance op in no slot is an
			    * S2_ABORT_MMIO with mmio.cache_maint instead: skip it.) */
};

enum s2_resume_reason {
	S2_RESUME_MAPPED = 0, /* a translation fault was resolved by a new mapping */
	S2_RESUME_RELAXED = 1, /* a permission fault was resolved in place (W for dirty, X) */
	S2_RESUME_YOUNG = 2, /* an access-flag fault: AF set */
	S2_RESUME_RETRY = 3, /* already resolved (another vCPU, a race): just retry */
};

enum s2_inject_reason {
	S2_INJECT_NONE = 0,
	S2_INJECT_BEYOND_IPA = 1, /* IPA outside the VM's IPA space (or address-size fault) */
	S2_INJECT_EXEC_REFUSED = 2, /* exec on Device/Normal-NC memory */
	S2_INJECT_EXEC_NOT_RAM = 3, /* instruction fetch from no memslot */
	S2_INJECT_S1PTW = 4, /* stage-1 walk outside every slot, or one that must write (hardware
			      * AF/dirty update) a read-only slot */
	S2_INJECT_PERMISSION = 5, /* a permission fault the slot does not allow */
	S2_INJECT_MEMTYPE = 6, /* the memory-type policy refuses the mapping */
	S2_INJECT_UNHANDLED = 7, /* a fault kind stage 2 cannot resolve (external, ...) */
};

/* A data access to emulate. */
struct s2_mmio_access {
	s2_ipa_t ipa;
	bool write;
	bool syndrome; /* ESR.ISV: the fields below are valid. Clear only with cache_maint
			* (accesses without syndrome are S2_ABORT_NISV) */
	unsigned int size; /* bytes: 1, 2, 4, 8 */
	unsigned int reg; /* SRT (31 = xzr) */
	bool sign_extend; /* SSE */
	bool reg64; /* SF: 64-bit register */
	bool acqrel; /* AR */
	bool cache_maint; /* ESR.CM: a cache-maintenance instruction in no slot (skip it) */
};

struct s2_abort_result {
	enum s2_abort_action action;
	enum s2_resume_reason resume;
	enum s2_inject_reason inject;
	struct s2_mmio_access mmio; /* S2_ABORT_MMIO */
	s2_ipa_t ipa; /* the faulting IPA */
	enum s2_fault fault;
	int level;
	/* What the access needs from stage 2 (KVM's kvm_is_write_fault() and
	 * kvm_vcpu_trap_is_exec_fault()): @write for a data write (WnR) and for a stage-1 walk
	 * that took a permission fault (the walker updates a descriptor), whatever WnR says;
	 * @exec for an instruction fetch that is not a walk; @s1ptw for a stage-1 walk (ESR.S1PTW).
	 * An abort to inject keeps its kind: inject an instruction abort for EC 0x20, a data
	 * abort for EC 0x24, whatever @exec says. */
	bool write, exec, s1ptw;
	uint64_t map_size; /* S2_RESUME_MAPPED: size of the new leaf */
};

/**
 * s2_vm_handle_abort() - resolve a stage-2 abort taken from the guest.
 * @vcpu:  the vCPU that took it (its page cache supplies new tables; it is topped up from the
 *         port first, outside the MMU lock).
 * @esr:   ESR_EL2 (EC 0x24 data abort or 0x20 instruction abort from a lower EL).
 * @far:   FAR_EL2.
 * @hpfar: HPFAR_EL2 (FIPA in [43:4], LPA2: [47:4]).
 * @res:   the outcome.
 *
 * Write and exec are judged as KVM does (see struct s2_abort_result): a stage-1 table walk
 * (S1PTW) is a write only on a permission fault, and never an exec fault. Translation faults
 * map with the memory-type policy and the largest leaf that the backing page size, the IPA/PA
 * alignment, the slot bounds, dirty logging and the existing tables allow (writable unless the
 * slot is read-only or logging a read; exec only on an instruction fault, with I-cache
 * maintenance). Permission faults: a write on a writable slot is relaxed in place (and marked
 * dirty when logging); exec is granted when the memory type allows it, else injected; anything
 * else is injected. Access-flag faults set AF. A stage-1 walk reads like a data access (guest
 * tables in a read-only slot are mapped read-only and the walk resumes); a walk outside every
 * slot, or one writing a read-only slot, is injected. Data writes to read-only slots and data
 * accesses outside every slot exit as MMIO when ESR.ISV gives their syndrome, else as
 * S2_ABORT_NISV (a cache-maintenance instruction outside every slot exits as MMIO with
 * cache_maint, to be skipped); instruction fetches outside every slot and IPAs beyond the VM
 * are injected. Runs with the vCPU's stage-2 context loaded; takes MMU shared.
 *
 * Owner-managed VMs (s2_vm_params.owner): a translation fault in a slot maps one granule
 * through the owner under MMU exclusive and OWNER: s2_owner_host_donate_guest() for RAM of a
 * S2_VM_PROTECTED VM and for MMIO slots (device assignment), s2_owner_host_share_guest() for RAM of
 * another VM, with R, W unless the slot is read-only, X when its memory type allows exec.
 * The transition's own TLB maintenance runs in the vCPU's context for the guest's table and
 * through the owner's port for the host stage-2.
 *
 * Return: 0 (see @res); S2_EINVAL for a NULL argument, or when @esr is not an instruction or
 * data abort from a lower EL; S2_ENOMEM when no page could be had for a table (the vCPU's
 * page cache is topped up before the lock, so nothing changed: retry later). Owner-managed
 * VMs: the refusal of the transition, nothing changed (S2_EPERM, S2_EBUSY: the host does not
 * own the page, or shares it; S2_ERANGE, S2_ELIMIT, S2_ENOMEM; see owner.h).
 */
int s2_vm_handle_abort(struct s2_vcpu *vcpu, uint64_t esr, uint64_t far, uint64_t hpfar,
		       struct s2_abort_result *res);

#if defined(S2_TEST_HOOKS) && S2_TEST_HOOKS
/*
 * Hosted test builds only (S2_TEST_HOOKS): true sends every abort through the general path,
 * so that a test can compare the short path (the commonest aborts, see src/vm_abort.c) with it.
 * Process-global, not synchronised.
 */
extern bool s2_vm_test_no_short;
#endif

/* ---- dirty logging (SLOTS, then MMU exclusive) ----------------------------------------------- */

/**
 * s2_vm_dirty_log_enable() - start logging writes to a slot.
 * @dbm: use hardware dirty state (needs a VM created with S2_CFG_HD): writable pages become
 *       clean-writable (S2AP read-only with DBM set) and hardware writes need no fault.
 *
 * Allocates the bitmap (all clean), splits the slot's blocks to pages eagerly, in bounded
 * chunks (the MMU lock is dropped between chunks, each chunk topped up with at most
 * S2_PAGE_CACHE_MAX table pages), then write-protects the slot (DBM mode: sets DBM). Later
 * faults in the slot map pages only; a read maps read-only, a write maps writable and marks
 * the page dirty.
 * A read-only slot may log: its pages are never made writable (nor writable-clean), so its
 * bitmap stays clean (guest writes to it exit, and only writes dirty pages).
 * Return: 0; S2_ENOENT; S2_EBUSY (locked slot); S2_EEXIST (already logging); S2_EINVAL
 * (NULL @vm); S2_ENOTSUP (@dbm without hardware dirty state; an owner-managed VM); S2_ENOMEM
 * (logging stays off; blocks split so far stay split).
 */
int s2_vm_dirty_log_enable(struct s2_vm *vm, uint32_t id, bool dbm);

/**
 * s2_vm_dirty_log_get() - copy and clear a slot's dirty bitmap, re-protecting harvested pages.
 * @bitmap: out, one bit per granule of the slot (bit i of word i/64 for page i), @words long.
 * @nr_dirty: out (may be NULL), number of dirty pages.
 * In DBM mode pages the hardware made writable count as dirty and are made clean-writable.
 * Return: 0; S2_ENOENT; S2_EINVAL (NULL @vm or @bitmap, not logging, or @words too small).
 */
int s2_vm_dirty_log_get(struct s2_vm *vm, uint32_t id, uint64_t *bitmap, size_t words,
			uint64_t *nr_dirty);

/**
 * s2_vm_dirty_log_disable() - stop logging: free the bitmap (harvest it first), make the
 * slot's pages writable again (unless read-only) and collapse uniform runs back into blocks
 * where the backing page size allows; later faults map blocks.
 * Return: 0; S2_ENOENT; S2_EINVAL (NULL @vm, not logging).
 */
int s2_vm_dirty_log_disable(struct s2_vm *vm, uint32_t id);

/* ---- host memory management (MMU exclusive) ------------------------------------------------ */

/**
 * s2_vm_age_host_range() - test (and clear) the access flag of every guest page backed by host
 * PA [@pa, @pa + @size), as an MMU notifier's age/test_young would. Pages of locked slots count
 * as young and keep their AF (they are pinned). No TLB invalidation: an old entry cached in a
 * TLB hides at most the accesses it serves.
 * @young: out, number of granule-sized guest pages found young (0 on error).
 * The range may end exactly at 2^64.
 * Return: 0; S2_EINVAL (NULL; zero @size: an empty range is refused, not a no-op);
 * S2_ERANGE (the range wraps past 2^64). Nothing changes on error.
 */
int s2_vm_age_host_range(struct s2_vm *vm, s2_pa_t pa, uint64_t size, bool clear, uint64_t *young);

/**
 * s2_vm_invalidate_host_range() - unmap every guest page backed by host PA [@pa, @pa + @size)
 * (the host changed or reclaims that memory), with TLB invalidation. Locked slots are never
 * unmapped: their part of the range stays mapped and the call reports S2_EBUSY after having
 * unmapped everything else, so the host knows those pages are still in use. In a slot logging
 * with DBM, the pages the hardware dirtied are recorded in the dirty bitmap before they are
 * unmapped: the next s2_vm_dirty_log_get() reports them.
 * @unmapped: out (may be NULL), bytes of guest IPA unmapped.
 * The range may end exactly at 2^64.
 * Return: 0; S2_EBUSY (part of the range is in a locked slot); S2_EINVAL (NULL @vm; zero
 * @size: an empty range is refused, not a no-op); S2_ERANGE (the range wraps past 2^64:
 * nothing is unmapped); S2_ENOMEM (a block straddling the range could not be split: what was unmapped before stays
 * unmapped, slots after the failing one are not visited).
 * Owner-managed VMs: the pages the host shares with the guest are unshared through the owner;
 * pages the guest owns stay mapped (S2_EBUSY, as for a locked slot).
 */
int s2_vm_invalidate_host_range(struct s2_vm *vm, s2_pa_t pa, uint64_t size, uint64_t *unmapped);

/* ---- locked memslots (SLOTS, then MMU exclusive) ---------------------------------------------- */

/**
 * s2_vm_slot_lock() - map a whole slot now and pin it.
 * @writable: lock read-write (guest writes allowed, unless the slot is read-only) or read-only.
 *
 * Every page is mapped (largest legal blocks) without data-cache maintenance (S2_MAP_NOCMO):
 * the maintenance is deferred, the slot's pending flag and S2_VM_PENDING_CMO are set, and the
 * next s2_vm_vcpu_enter() performs it, so what the host writes into the slot until then is
 * visible to the guest. MTE tags are sanitised now. The slot is accounted against
 * locked_limit; aging and host invalidation leave it mapped. The caller pins the host pages.
 * Return: 0; S2_EINVAL (NULL @vm); S2_ENOENT; S2_EBUSY (already locked, or dirty logging);
 * S2_ENOTSUP (an owner-managed VM: its pages reach the guest through the owner only);
 * S2_ELIMIT (the limit would be exceeded); S2_EMEMTYPE; S2_ENOMEM (nothing of the slot stays
 * mapped, not even what was faulted in before, and nothing is accounted).
 */
int s2_vm_slot_lock(struct s2_vm *vm, uint32_t id, bool writable);

/**
 * s2_vm_slot_unlock() - unpin a slot: unmap it and return it to demand faulting (later faults
 * do their own maintenance); its accounting is released and any deferred maintenance dropped.
 * Return: 0; S2_ENOENT; S2_EINVAL (NULL @vm, not locked).
 */
int s2_vm_slot_unlock(struct s2_vm *vm, uint32_t id);

/** s2_abort_action_name(), s2_inject_reason_name(), s2_resume_reason_name() - for tools. */
const char *s2_abort_action_name(enum s2_abort_action a);
const char *s2_inject_reason_name(enum s2_inject_reason r);
const char *s2_resume_reason_name(enum s2_resume_reason r);

#endif /* S2MMU_VM_H */
