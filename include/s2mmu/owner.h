/* SPDX-License-Identifier: MIT */
/*
 * s2mmu/owner.h - page ownership between the host, the hypervisor and guests (pKVM style).
 *
 * In protected mode the hypervisor does not trust the host: the host runs behind its own
 * stage-2 (an identity map built lazily on host faults) and every physical page has an owner.
 * This layer keeps the ownership state, changes it with range transitions that check every
 * page first and then commit a change that cannot fail, and builds the host stage-2 so that it
 * never grants a page the host neither owns nor borrows. docs/owner.md is the guide.
 *
 * State encoding (ARCH-NOTES §1, exact): OWNED = 0, SHARED_OWNED = bit 0, SHARED_BORROWED =
 * bit 1, RESERVED = bits 0|1, and the meta-state NOPAGE = bit 2 (not mapped in that component).
 * Only the two low bits are concrete; they live in descriptor software bits SW0|SW1 (bits 55,
 * 56). Where each component's state is kept:
 *   - host, RAM:  the per-page metadata ("vmemmap", struct s2_page_meta), not host PTEs;
 *   - host, MMIO: the host stage-2 itself: a valid entry's SW bits, or an invalid entry
 *                 annotated with the new owner's id when the range was given away;
 *   - hypervisor: the metadata for RAM; for MMIO it follows from the host's annotation;
 *   - guest:      the SW bits of the guest's stage-2 leaves.
 * A page given away (to the hypervisor or a guest) is recorded in the host's invalid PTE as the
 * new owner's id (s2_pgtable_annotate()).
 *
 * Locking: the caller serialises every call on one struct s2_owner (one lock over the host
 * stage-2, the metadata and the guests' stage-2 changes made here). The guest stage-2 must not
 * be changed concurrently by anyone else (the VM layer takes its MMU lock exclusive around the
 * calls that touch a guest).
 *
 * Memory: nothing is allocated here except table pages, which come from the ports' page
 * allocators into page caches filled before a commit. The metadata array is the caller's.
 */
#ifndef S2MMU_OWNER_H
#define S2MMU_OWNER_H

#include "s2mmu/arch.h"
#include "s2mmu/pgtable.h"
#include "s2mmu/port.h"

/* ---- page states (ARCH-NOTES §1, exact encoding) ------------------------------------------- */

enum s2_page_state {
	S2_PAGE_OWNED = 0,
	S2_PAGE_SHARED_OWNED = 1 << 0,
	S2_PAGE_SHARED_BORROWED = 1 << 1,
	S2_PAGE_RESERVED = (1 << 0) | (1 << 1),
	S2_PAGE_NOPAGE = 1 << 2, /* meta-state: never stored in a descriptor */
};

/* The concrete state bits of a descriptor: SW0|SW1 (descriptor bits 55 and 56). */
#define S2_PAGE_STATE_PTE_MASK (S2_PTE_SW0 | S2_PTE_SW1)

/**
 * s2_page_state_pte() - insert a concrete state into descriptor *@pte's SW0|SW1 field.
 * @pte:   in/out: a descriptor (its other bits are kept).
 * @state: OWNED, SHARED_OWNED, SHARED_BORROWED or RESERVED.
 * A meta-state (NOPAGE) or any value outside the two concrete bits has no encoding: it is
 * refused and *@pte is left as it was.
 * Return: 0; S2_EINVAL (NULL @pte, a state that is not concrete).
 */
int s2_page_state_pte(s2_pte_t *pte, enum s2_page_state state);

/** s2_page_state_of_pte() - extract the concrete state from @pte's SW0|SW1 field. */
enum s2_page_state s2_page_state_of_pte(s2_pte_t pte);

/**
 * s2_page_state_prot() - the S2_PROT_SW() flags that make s2_pgtable_map()/set_prot() store
 * @state in SW0|SW1, in *@prot.
 * Return: 0; S2_EINVAL (NULL @prot, a state that is not concrete, as s2_page_state_pte();
 * *@prot untouched).
 */
int s2_page_state_prot(enum s2_page_state state, uint64_t *prot);

/** s2_page_state_name() - "owned", "shared-owned", "shared-borrowed", "reserved", "nopage";
 * "?" for anything else. */
const char *s2_page_state_name(enum s2_page_state state);

/* ---- owners ------------------------------------------------------------------------------- */

#define S2_OWNER_HOST 0u /* never written into a PTE */
#define S2_OWNER_HYP 1u
#define S2_OWNER_GUEST_MIN 2u /* guests are 2..255 */
#define S2_OWNER_GUEST_MAX 255u

/* Per-physical-page metadata for RAM (the "vmemmap"), one per host granule. */
struct s2_page_meta {
	uint8_t host_state; /* enum s2_page_state: the host's view */
	uint8_t hyp_state; /* enum s2_page_state: the hypervisor's view */
	uint8_t owner; /* S2_OWNER_*: who owns the page (host while the host owns it) */
	uint8_t reserved;
	union {
		/* host SHARED_OWNED with guests (hypervisor NOPAGE): the guests' mappings */
		uint32_t share_count;
		/* shared with the hypervisor (SHARED_BORROWED): its pins (s2_owner_hyp_pin_shared()) */
		uint32_t pin_count;
	};
};

/* One range of RAM, granule-aligned. Ranges are given in ascending order without overlap. */
struct s2_owner_ram {
	s2_pa_t base;
	uint64_t size;
	uint64_t first_meta; /* filled by s2_owner_init(): index of its first page in the array */
};

/* Flags for s2_hyp_ops.map. */
#define S2_HYP_MAP_DEVICE S2_BIT(0) /* MMIO: map as Device-nGnRE */

/*
 * The hypervisor's own address space: the port-like callbacks this layer calls when pages
 * enter or leave it. @map is called before any other change of a transition, so a failure
 * leaves everything as it was; @unmap cannot fail.
 */
struct s2_hyp_ops {
	/**
	 * @map: map [@pa, @pa + @size) into the hypervisor's address space, with @state
	 * (OWNED or SHARED_BORROWED) in its descriptors' SW0|SW1 if it keeps them, and
	 * S2_HYP_MAP_* @flags. Return 0 or a negative S2_E* code (S2_ENOMEM).
	 */
	int (*map)(void *ctx, s2_pa_t pa, uint64_t size, enum s2_page_state state, uint64_t flags);
	/** @unmap: remove [@pa, @pa + @size) from the hypervisor's address space. */
	void (*unmap)(void *ctx, s2_pa_t pa, uint64_t size);
	void *ctx;
};

/*
 * The host stage-2's context, loaded by this layer around its TLB maintenance of the host
 * stage-2 (as the VM layer loads a VM's with hooks.load_stage2/put_stage2): this layer is the
 * one component that does it, so a port's TLBI ops may act on the context loaded now.
 */
struct s2_owner_stage2_ops {
	/**
	 * @load: load VTCR_EL2 = @vtcr and VTTBR_EL2 = @vttbr, the host stage-2's (VMID 0), before
	 * this layer changes the host stage-2 in a way that may invalidate TLB entries; every
	 * TLBI of the host stage-2 comes between @load and @put. Required (s2_owner_init()).
	 */
	void (*load)(void *ctx, uint64_t vtcr, uint64_t vttbr);
	/** @put: after that change: give back the context the caller had loaded (e.g. the VM
	 * whose fault donated the page). Optional (NULL: nothing to restore). */
	void (*put)(void *ctx);
	void *ctx;
};

struct s2_owner_params {
	const struct s2_config *host_cfg; /* the host stage-2's config: IPA bits cover every PA */
	struct s2_port port; /* side effects for the host stage-2 */
	void *cookie; /* the host stage-2's TLBI cookie (pgt->cookie) */
	struct s2_owner_stage2_ops host_stage2; /* the host stage-2's context (load required) */
	struct s2_owner_ram *ram; /* caller's array (kept; first_meta filled in) */
	unsigned int nr_ram;
	struct s2_page_meta *meta; /* caller's array, one entry per RAM page, in order */
	uint64_t nr_meta; /* its length: at least the RAM pages */
	struct s2_hyp_ops hyp;
};

/* Counters. */
struct s2_owner_stats {
	uint64_t host_faults; /* s2_owner_host_handle_abort() calls */
	uint64_t host_mapped; /* faults that mapped something */
	uint64_t host_injected; /* faults refused: abort injected into the host */
	uint64_t transitions; /* transitions committed */
	uint64_t refused; /* transitions refused */
	/* guest leaves s2_owner_guest_destroy() found that no transition made (mapped behind
	 * this layer's back, e.g. by the VM layer's fault path) and removed from the guest
	 * without touching the host's state */
	uint64_t foreign_dropped;
};

/* The ownership state of one host. Caller-allocated; fields read-only for the caller. */
struct s2_owner {
	struct s2_pgtable host; /* the host stage-2 (identity map) */
	struct s2_owner_ram *ram;
	unsigned int nr_ram;
	struct s2_page_meta *meta;
	uint64_t nr_meta;
	struct s2_hyp_ops hyp;
	struct s2_owner_stage2_ops host_stage2;
	uint64_t host_vttbr; /* the host stage-2's VTTBR_EL2 (VMID 0), for host_stage2.load */
	uint64_t page_size;
	unsigned int page_shift;
	struct s2_page_cache cache; /* table pages for the host stage-2 */
	struct s2_owner_stats stats;
};

/*
 * A guest as this layer sees it: its stage-2 (an engine table the caller or the VM layer
 * initialised, with the host's granule) and its owner id. Caller-allocated.
 */
struct s2_owner_guest {
	struct s2_pgtable *pgt;
	uint8_t id; /* S2_OWNER_GUEST_MIN..S2_OWNER_GUEST_MAX, unique per host */
	bool protected_vm; /* RAM may be donated to it (and not shared with it) */
	struct s2_page_cache cache; /* table pages for the guest stage-2 */
	/* private: the leaf of a page donated to it, prepared (s2_pgtable_leaf_prepare()) on the
	 * first donation for @pgt, whose config does not change while it is the guest's. */
	struct s2_leaf_tmpl donate_leaf;
};

/**
 * s2_owner_init() - set up ownership for one host: every RAM page host-OWNED (hypervisor
 * NOPAGE, share count 0) and an empty host stage-2 (filled lazily by s2_owner_host_handle_abort()).
 * Return: 0; S2_EINVAL (NULL argument, no hyp callbacks, no host_stage2.load,
 * unsorted/overlapping/empty RAM ranges, a metadata array too short); S2_EALIGN (a RAM range not granule-aligned); S2_ERANGE (RAM
 * beyond the host stage-2's IPA size); s2_pgtable_init() codes (S2_ENOMEM).
 */
int s2_owner_init(struct s2_owner *o, const struct s2_owner_params *p);

/** s2_owner_destroy() - free the host stage-2 and cached pages. The metadata is the caller's. */
void s2_owner_destroy(struct s2_owner *o);

/**
 * s2_owner_guest_init() - describe a guest for the transitions below.
 * @pgt: the guest's stage-2 (its granule must be the host's).
 * Table pages for the guest's stage-2 are kept in @g->cache; s2_owner_guest_destroy() gives
 * them back to the table's port (or the caller drains it with s2_page_cache_drain()).
 * Return: 0; S2_EINVAL (NULL, id below S2_OWNER_GUEST_MIN). The granule is not checked here
 * (the owner is not known yet): each transition and s2_owner_guest_destroy() refuse a guest
 * whose granule differs from the host's with S2_EINVAL.
 */
int s2_owner_guest_init(struct s2_owner_guest *g, struct s2_pgtable *pgt, uint8_t id,
			bool protected_vm);

/* ---- host faults --------------------------------------------------------------------------- */

enum s2_host_abort_action {
	S2_HOST_ABORT_MAPPED = 0, /* the page (or a block around it) is mapped: resume the host */
	S2_HOST_ABORT_INJECT = 1, /* the host may not access it: inject an abort into the host */
};

/**
 * s2_owner_host_handle_fault() - handle a host stage-2 fault at physical address @pa.
 * A page the host owns or borrows is mapped identity (RAM Normal write-back RWX, MMIO
 * Device-nGnRE RW), with the largest block whose every page the host owns or borrows, within
 * one RAM range (or wholly outside RAM for MMIO) and free of annotations; MMIO the host may
 * access in another state than OWNED (shared with the hypervisor) was mapped by its transition,
 * so the fault is spurious: @action MAPPED, nothing changed. Anything else (including a @pa
 * beyond the host stage-2's IPA size) maps nothing and asks for an abort to be injected.
 * The engine does the host stage-2's TLB maintenance; the caller owes none.
 * @action: out.
 * Return: 0 (see @action); S2_EINVAL (NULL); S2_ENOMEM (nothing mapped; retry).
 */
int s2_owner_host_handle_fault(struct s2_owner *o, s2_pa_t pa, enum s2_host_abort_action *action);

/**
 * s2_owner_host_handle_abort() - decode a host abort taken to EL2 (ESR_EL2, FAR_EL2, HPFAR_EL2) and
 * handle it as s2_owner_host_handle_fault() does for the faulting address.
 * Return: 0; S2_EINVAL (NULL, not an instruction/data abort, or ESR.FnV set); S2_ENOMEM. The fault kind is not checked: any such abort maps or injects.
 */
int s2_owner_host_handle_abort(struct s2_owner *o, uint64_t esr, uint64_t far, uint64_t hpfar,
			       enum s2_host_abort_action *action);

/* ---- transitions --------------------------------------------------------------------------- */
/*
 * Every transition takes a range (granule-aligned, non-empty), checks every page first and then
 * commits a change that cannot fail: table pages the commit may need are drawn into page caches
 * before anything changes. A refused transition changes nothing. Common return codes (docs/owner.md
 * compares each with the code pKVM returns in the same situation):
 *   S2_EINVAL  NULL argument, zero size, a range mixing RAM and MMIO, a guest whose granule
 *              differs from the host's (or that is the host stage-2 itself), a bad @prot;
 *   S2_EALIGN  an address or the size not aligned to the granule;
 *   S2_ERANGE  an address beyond the host's (or guest's) IPA size, a PA beyond the guest
 *              stage-2's output size, or wrapping around;
 *   S2_ENOENT  a guest IPA the transition starts from is not mapped in the guest's stage-2;
 *   S2_EPERM   a page is not in the state the transition starts from (MMIO offered for
 *              sharing with a guest or for pinning included: it is not in a shareable state);
 *   S2_EBUSY   a page to be donated is shared (with the hypervisor or guests), or a page to be
 *              unshared from the hypervisor is pinned;
 *   S2_EEXIST  a guest IPA in the range is already mapped;
 *   S2_ELIMIT  the range needs more new table pages than one page cache holds (split it), or a
 *              share or pin count would overflow;
 *   S2_ENOMEM  a table page or the hypervisor's mapping could not be had (nothing changed).
 * The host stage-2's TLB maintenance is done here (through the engine); the caller owes none.
 * Calls that change a guest's stage-2 invalidate through that table's port too: the caller has
 * the guest's stage-2 context loaded (the VM layer's load_stage2 hook) around them.
 */

/** s2_owner_host_share_hyp() - host OWNED -> SHARED_OWNED, hypervisor NOPAGE -> SHARED_BORROWED,
 * mapped through hyp.map. RAM (state in the metadata) or MMIO (mapped Device in the
 * hypervisor with S2_HYP_MAP_DEVICE, and in the host stage-2 marked SHARED_OWNED).
 * Return: 0; S2_EINVAL, S2_EALIGN, S2_ERANGE (the range checks above); S2_EPERM when a page is not host OWNED;
 * S2_ELIMIT or S2_ENOMEM when the table pages or the hypervisor's mapping cannot be had
 * (nothing changed). */
int s2_owner_host_share_hyp(struct s2_owner *o, s2_pa_t pa, uint64_t size);

/** s2_owner_host_unshare_hyp() - undo s2_owner_host_share_hyp(): host OWNED, hypervisor NOPAGE
 * (hyp.unmap; MMIO: the host's marked mapping is removed and faults in again).
 * Return: 0; S2_EINVAL, S2_EALIGN, S2_ERANGE (the range checks above); S2_EPERM when a page is not host
 * SHARED_OWNED / hypervisor SHARED_BORROWED; S2_EBUSY while a page is pinned
 * (s2_owner_hyp_pin_shared()), as pKVM's __pkvm_host_unshare_hyp(); S2_ELIMIT or S2_ENOMEM
 * when the table pages the host stage-2 needs cannot be had (nothing changed). */
int s2_owner_host_unshare_hyp(struct s2_owner *o, s2_pa_t pa, uint64_t size);

/**
 * s2_owner_hyp_pin_shared() - the hypervisor pins RAM the host shares with it (pKVM's
 * hyp_pin_shared_mem()): while a page is pinned, s2_owner_host_unshare_hyp() refuses it with
 * S2_EBUSY, so the hypervisor may keep using it (a vCPU's shared state, a buffer) without
 * holding the owner lock. Each page has a pin count; pins nest.
 * Return: 0; S2_EINVAL, S2_EALIGN, S2_ERANGE (the range checks above); S2_EPERM when a page is not host
 * SHARED_OWNED / hypervisor SHARED_BORROWED, or is MMIO (no per-page metadata to count pins in; pKVM refuses MMIO too);
 * S2_ELIMIT when a pin count would overflow.
 */
int s2_owner_hyp_pin_shared(struct s2_owner *o, s2_pa_t pa, uint64_t size);

/**
 * s2_owner_hyp_unpin_shared() - drop one pin of every page of [@pa, +@size) (pKVM's
 * hyp_unpin_shared_mem()). Checked first like a transition: a page that is not shared with
 * the hypervisor or not pinned is refused with S2_EPERM and nothing changes (pKVM would
 * BUG_ON the refcount underflow).
 * Return: 0; S2_EINVAL, S2_EALIGN, S2_ERANGE (the range checks above); S2_EPERM.
 */
int s2_owner_hyp_unpin_shared(struct s2_owner *o, s2_pa_t pa, uint64_t size);

/**
 * s2_owner_host_donate_hyp() - host OWNED -> NOPAGE (host PTE annotated with S2_OWNER_HYP),
 * hypervisor NOPAGE -> OWNED. RAM or MMIO (a device the hypervisor keeps for itself).
 * Return: 0; S2_EINVAL, S2_EALIGN, S2_ERANGE (the range checks above); S2_EPERM when a page is not host OWNED; S2_EBUSY
 * when a page is shared; S2_ELIMIT or S2_ENOMEM when the table pages or the hypervisor's
 * mapping cannot be had (nothing changed).
 */
int s2_owner_host_donate_hyp(struct s2_owner *o, s2_pa_t pa, uint64_t size);

/** s2_owner_hyp_donate_host() - the hypervisor gives pages back: hypervisor OWNED -> NOPAGE
 * (hyp.unmap), host NOPAGE -> OWNED (annotation removed). RAM or MMIO.
 * Return: 0; S2_EINVAL, S2_EALIGN, S2_ERANGE (the range checks above); S2_EPERM when a page is not hypervisor OWNED;
 * S2_ELIMIT or S2_ENOMEM when the table pages cannot be had (nothing changed). */
int s2_owner_hyp_donate_host(struct s2_owner *o, s2_pa_t pa, uint64_t size);

/**
 * s2_owner_host_share_guest() - share host RAM [@pa, +@size) with non-protected guest @g at
 * [@ipa, +@size) (address arguments in the API's order: IPA, size, PA):
 * host OWNED (or already SHARED_OWNED with guests) -> SHARED_OWNED with the share count
 * incremented; guest NOPAGE -> SHARED_BORROWED, mapped Normal, page by page, with @prot.
 * @prot: the guest mapping's permissions: a non-empty combination of S2_PROT_R, S2_PROT_W and
 *        S2_PROT_X, nothing else (pKVM's __pkvm_host_share_guest() prot argument). Each guest
 *        a page is shared with has its own (a second share of the page keeps the first's);
 *        s2_owner_host_set_prot_guest() changes it later. Exec is never a question of memory type
 *        here: only RAM is shared (MMIO is assigned with s2_owner_host_donate_guest(), mapped
 *        Device without exec).
 * Return: 0; S2_EINVAL, S2_EALIGN, S2_ERANGE (the range checks above), also S2_EINVAL for a bad @prot;
 * S2_EPERM for a protected guest, for MMIO and for a page not host OWNED or SHARED_OWNED with
 * guests only; S2_EEXIST when a guest IPA is already mapped; S2_ELIMIT when a share count
 * would overflow or the range needs more table pages than a page cache holds; S2_ENOMEM
 * (nothing changed).
 */
int s2_owner_host_share_guest(struct s2_owner *o, struct s2_owner_guest *g, s2_ipa_t ipa,
			      uint64_t size, s2_pa_t pa, uint64_t prot);

/**
 * s2_owner_host_set_prot_guest() - change the permissions of guest @g's mappings of pages the host
 * shares with it, [@ipa, +@size), to exactly @prot (a non-empty combination of S2_PROT_R/W/X).
 * Covers mainline pKVM's __pkvm_host_relax_perms_guest() (add permissions, e.g. on a guest's
 * permission fault) and __pkvm_host_wrprotect_guest() (take write away, for dirty logging) in
 * one call, over a range. Removing a permission invalidates the guest's TLB for those pages;
 * granting exec invalidates the I-cache (unless DIC). The sharing state does not change.
 * Return: 0; S2_EINVAL, S2_EALIGN, S2_ERANGE (the range checks above), also S2_EINVAL for a bad @prot; S2_EPERM for a
 * protected guest (as
 * pKVM) or a page that is not one the host shares with @g (SHARED_BORROWED in the guest,
 * SHARED_OWNED with guests in the host); S2_ENOENT for an IPA not mapped.
 */
int s2_owner_host_set_prot_guest(struct s2_owner *o, struct s2_owner_guest *g, s2_ipa_t ipa,
				 uint64_t size, uint64_t prot);

/** s2_owner_host_unshare_guest() - undo s2_owner_host_share_guest() for the guest's [@ipa, +@size):
 * guest SHARED_BORROWED -> NOPAGE (unmapped), share count decremented, host back to OWNED at 0.
 * Return: 0; S2_EINVAL, S2_EALIGN, S2_ERANGE (the range checks above); S2_ENOENT when an IPA is not mapped (as mainline
 * pKVM's __pkvm_host_unshare_guest()); S2_EPERM when a page is not one the host shares with
 * @g. It needs no table page, so it cannot run out of memory. */
int s2_owner_host_unshare_guest(struct s2_owner *o, struct s2_owner_guest *g, s2_ipa_t ipa,
				uint64_t size);

/**
 * s2_owner_host_donate_guest() - give [@pa, +@size) to guest @g at [@ipa, +@size) (IPA, size,
 * PA): host OWNED -> NOPAGE (host PTE annotated with the guest's id), guest NOPAGE -> OWNED. RAM needs a protected guest
 * (S2_EPERM otherwise); MMIO (device assignment, mapped Device-nGnRE) goes to any guest.
 * Return: 0; S2_EINVAL, S2_EALIGN, S2_ERANGE (the range checks above); S2_EPERM for RAM and a guest that is not
 * protected, or a page not host OWNED; S2_EBUSY when a page is shared; S2_EEXIST when a guest
 * IPA is already mapped; S2_ELIMIT or S2_ENOMEM when the table pages cannot be had (nothing
 * changed).
 */
int s2_owner_host_donate_guest(struct s2_owner *o, struct s2_owner_guest *g, s2_ipa_t ipa,
			       uint64_t size, s2_pa_t pa);

/** s2_owner_guest_share_host() - the guest shares its RAM [@ipa, +@size) back: guest OWNED ->
 * SHARED_OWNED, host NOPAGE -> SHARED_BORROWED (the annotation goes; the host faults it in).
 * Return: 0; S2_EINVAL, S2_EALIGN, S2_ERANGE (the range checks above); S2_ENOENT when an IPA is not mapped; S2_EPERM
 * when a page is not guest OWNED; S2_ELIMIT or S2_ENOMEM when the host stage-2's table pages
 * cannot be had (nothing changed). */
int s2_owner_guest_share_host(struct s2_owner *o, struct s2_owner_guest *g, s2_ipa_t ipa,
			      uint64_t size);

/** s2_owner_guest_unshare_host() - undo s2_owner_guest_share_host(): guest OWNED, host NOPAGE
 * (annotated again with the guest's id, which removes any host mapping).
 * Return: 0; S2_EINVAL, S2_EALIGN, S2_ERANGE (the range checks above); S2_ENOENT when an IPA is not mapped; S2_EPERM
 * when a page is not one the guest shares with the host; S2_ELIMIT or S2_ENOMEM when the
 * host stage-2's table pages cannot be had (nothing changed). */
int s2_owner_guest_unshare_host(struct s2_owner *o, struct s2_owner_guest *g, s2_ipa_t ipa,
				uint64_t size);

/* Scrub (zero) a guest page before it returns to the host. */
typedef void (*s2_scrub_fn)(void *ctx, s2_pa_t pa, uint64_t size);

/**
 * s2_owner_guest_destroy() - return every page of guest @g: pages it owns (donated RAM, also
 * those it shares back) are scrubbed with @scrub and become host OWNED; pages the host shared
 * with it lose one share; assigned MMIO returns to the host. The guest stage-2 is left empty.
 * The metadata (for MMIO the host stage-2's annotation) is the authority, as in pKVM: a guest
 * leaf is handled as above only when every page behind it is recorded in the state its SW bits
 * claim (owned by @g, or shared by the host with guests). Any other leaf was not made by a
 * transition (the VM layer's fault path mapped host memory, or the table was written through
 * the engine): it is only removed from the guest, the host's state is left as it is, nothing
 * is scrubbed, and stats.foreign_dropped counts it.
 * Resumable: each leaf is handled completely or not at all, so on S2_ENOMEM the caller calls
 * again to continue. Host and guest stage-2 TLB maintenance is done through the tables' ports
 * (the guest's stage-2 context loaded, as for the transitions); the guest's cached table
 * pages are drained at the end.
 * Return: 0; S2_EINVAL (NULL, a granule other than the host's, or no scrub callback for a guest
 * that owns RAM: detected at the first such page, leaves handled before it stay handled);
 * S2_ENOMEM; S2_ELIMIT (a guest leaf whose host-side change needs more table pages than one
 * page cache holds; not reached with the page-sized leaves the transitions map).
 */
int s2_owner_guest_destroy(struct s2_owner *o, struct s2_owner_guest *g, s2_scrub_fn scrub,
			   void *scrub_ctx);

/* ---- queries ------------------------------------------------------------------------------- */

/* What one physical page looks like. */
struct s2_page_info {
	bool ram;
	enum s2_page_state host;
	enum s2_page_state hyp;
	uint8_t owner; /* S2_OWNER_* */
	uint32_t share_count; /* RAM only: guests the host shares it with */
	uint32_t pin_count; /* RAM shared with the hypervisor only: its pins */
};

/**
 * s2_owner_page_info() - the host's and hypervisor's state of the page at @pa (for RAM from the
 * metadata, for MMIO from the host stage-2).
 * Return: 0; S2_EINVAL (NULL); S2_EALIGN; S2_ERANGE.
 */
int s2_owner_page_info(const struct s2_owner *o, s2_pa_t pa, struct s2_page_info *info);

/**
 * s2_owner_guest_page() - guest @g's state at @ipa (from its stage-2 SW bits): NOPAGE when
 * unmapped, else the concrete state and the PA it maps (@pa may be NULL).
 * Return: 0; S2_EINVAL (a NULL @g or @state); S2_ERANGE.
 */
int s2_owner_guest_page(const struct s2_owner_guest *g, s2_ipa_t ipa, enum s2_page_state *state,
			s2_pa_t *pa);

#endif /* S2MMU_OWNER_H */
