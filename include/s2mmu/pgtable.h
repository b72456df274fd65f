/* SPDX-License-Identifier: MIT */
/*
 * s2mmu/pgtable.h - the stage-2 page-table engine (mechanism only).
 *
 * The engine builds and changes one VM's stage-2 tables as described by a struct s2_config.
 * It knows descriptors, walks, break-before-make and table-page reference counts; it does not
 * know memslots, memory types by name (only the S2_PROT_* attribute flags) or owners. All side
 * effects go through the struct s2_port given at init.
 *
 * Concurrency contract
 * --------------------
 * Two classes of operations:
 *  - single-entry operations: s2_pgtable_map() of a range that fits one leaf entry into a path
 *    that exists or is installed on the way (the fault path; s2_pgtable_map_page()),
 *    s2_pgtable_relax_perms(), s2_pgtable_relax_lookup(), s2_pgtable_mkyoung(),
 *    s2_pgtable_lookup(). These may run concurrently with each other
 *    under a lock the caller holds shared (a read lock). Every descriptor update is one atomic
 *    64-bit store or compare-and-swap; a missing table is installed with compare-and-swap and a
 *    loser frees its page and continues down the winner's table. When a concurrent update
 *    changed the target entry in a way that makes the request moot (another vCPU mapped it
 *    first, differently), the call returns S2_EAGAIN and changes nothing: the caller retries or
 *    returns to the guest. A single-entry map that turns out to need structural work (a block
 *    over an existing table, a page inside an existing block or annotation) takes the
 *    structural path, which needs the lock exclusive: a caller holding it shared passes
 *    S2_MAP_SHARED and gets S2_EBUSY (nothing changed) instead.
 *  - structural operations: everything else (multi-entry map, unmap, wrprotect, split,
 *    collapse, annotate, test_clear_young over a range, destroy) need the lock exclusive.
 *
 * TLB maintenance: each operation performs the TLB invalidation its own change needs before it
 * returns (break-before-make invalidates between break and make). Operations that only make
 * permissions stricter (wrprotect, set_prot) invalidate too. Nothing is owed by the
 * caller except where a function says so (test_clear_young: clearing AF is not invalidated;
 * a caller that wants the next access to fault calls s2_pgtable_flush_range()).
 *
 * Hardware AF/dirty updates (cfg.ha, cfg.hd): read-modify-writes of live leaves are CAS loops,
 * so no hardware update is overwritten with a stale value; break-before-make and unmap do drop
 * what hardware wrote into the old entry, so the caller harvests dirty state first.
 *
 * Table-page reference counts (port->page_refcount()) count the valid and annotated entries of
 * every table below the root; the root is not counted. See docs/pgtable.md.
 */
#ifndef S2MMU_PGTABLE_H
#define S2MMU_PGTABLE_H

#include "s2mmu/arch.h"
#include "s2mmu/port.h"

/*
 * Two flag sets, with disjoint bit values (as KVM's enum kvm_pgtable_prot and its walk flags):
 *  - enum s2_prot says what a leaf *is*: its permissions, memory type, software bits, DBM;
 *  - enum s2_map_flags says how s2_pgtable_map() (s2_pgtable_map_page()) makes it.
 * Every function taking one refuses (S2_EINVAL, nothing changed) a bit outside its set, so a
 * flag of one set passed for the other fails loudly. Both are 32-bit enums: a 64-bit value
 * passed for one is converted (bits above 31 dropped) before the check.
 */

/* What a leaf is. Memory type: Normal write-back unless DEVICE or NORMAL_NC. */
enum s2_prot {
	S2_PROT_R = S2_BIT(0),
	S2_PROT_W = S2_BIT(1),
	S2_PROT_X = S2_BIT(2),
	S2_PROT_RWX = S2_PROT_R | S2_PROT_W | S2_PROT_X,
	S2_PROT_DEVICE = S2_BIT(3), /* Device-nGnRE */
	S2_PROT_DEVICE_NGNRNE = S2_BIT(4), /* Device-nGnRnE (implies DEVICE) */
	S2_PROT_NORMAL_NC = S2_BIT(5), /* Normal non-cacheable */
	/* bits 6, 7: unused (bit 6 was S2_PROT_NOCMO before 1.0: S2_MAP_NOCMO) */
	S2_PROT_SW_MASK = 0xf << 8, /* descriptor SW3..SW0: S2_PROT_SW() */
	S2_PROT_DBM = S2_BIT(12), /* set DBM (hardware dirty state), only with HD and not W */
	/* bit 13 was S2_PROT_YOUNG_CLEAR before 1.0: S2_MAP_YOUNG_CLEAR */
};
#define S2_PROT_SW_SHIFT 8
#define S2_PROT_SW(x) ((uint64_t)((x)&0xf) << S2_PROT_SW_SHIFT) /* descriptor SW3..SW0 */

/* How s2_pgtable_map() makes a mapping (bits 16 and up: disjoint from enum s2_prot). */
enum s2_map_flags {
	S2_MAP_FORCE_PAGES = S2_BIT(16), /* no blocks: map with last-level entries only */
	S2_MAP_NO_REPLACE = S2_BIT(17), /* fail with S2_EEXIST instead of replacing valid entries */
	/*
	 * The caller holds the lock shared (fault path): refuse with S2_EBUSY, having changed
	 * nothing, a request that needs a structural change (a block over a table, a page inside
	 * a block, more than one leaf entry); the caller retakes the lock exclusive and retries.
	 * Also: a leaf that already maps the same output is only ever given more (AF,
	 * permissions, SW bits): a request that would take a permission away returns S2_EAGAIN
	 * and leaves it as it is.
	 */
	S2_MAP_SHARED = S2_BIT(18),
	S2_MAP_NOCMO =
		S2_BIT(19), /* skip the data-cache clean of this map (caller did it / defers) */
	S2_MAP_YOUNG_CLEAR = S2_BIT(20), /* map with the access flag clear (aging, HA tests) */
};

/* A small stock of zeroed pages to draw on where allocation must not fail or sleep. */
#define S2_PAGE_CACHE_MAX 64
struct s2_page_cache {
	unsigned int nr;
	void *pages[S2_PAGE_CACHE_MAX];
};

/*
 * Geometry precomputed by s2_pgtable_init() for the engine's hot paths (index shifts and
 * masks, the descriptor's output-address layout). Read-only; of no use outside the engine.
 */
struct s2_pgtable_geom {
	uint8_t shift[5]; /* log2 of the bytes one entry maps, indexed by level + 1 */
	int8_t start_level;
	uint8_t page_shift;
	uint8_t oa_hi_shift; /* OA bits above the in-place ones move right by this much */
	uint8_t root_shift; /* shift[start_level + 1] */
	uint8_t bits_per_level; /* page_shift - 3 */
	bool fast; /* linear port and OA in place: the inline single-entry paths */
	uint64_t normal_attr[16]; /* leaf attributes of Normal memory by R|W|X|(YOUNG_CLEAR: 8) */
	uint32_t block_levels; /* bit (level + 1) set where blocks are legal */
	uint64_t idx_mask; /* entries per table - 1 */
	uint64_t root_idx_mask; /* entries of the (concatenated) root the IPA size uses - 1 */
	uint64_t oa_lo_mask; /* descriptor bits holding OA bits in place */
	uint64_t oa_hi_mask; /* descriptor bits holding OA[51:48] or OA[51:50], 0 if none */
	uint64_t ipa_limit; /* 1 << ipa_bits */
	uint64_t pa_limit; /* 1 << pa_bits */
	uint64_t sh_bits; /* SH field of new leaves (inner shareable), 0 with DS */
	/* ipa_limit when the 4K single-entry paths apply (fast, 4K granule, start level >= 0),
	 * else 0: one compare both range-checks the IPA and selects them */
	uint64_t fast4k_ipa_limit;
	uint64_t fast4k_l1_ipa_limit; /* the same, only with start level 1 (40-bit IPA), else 0 */
};

/*
 * One VM's stage-2 tables. The caller allocates it; the fields are public for reading (the
 * VM layer composes VTTBR from root_pa) and must not be written after init.
 */
struct s2_pgtable {
	struct s2_config cfg;
	struct s2_pte_format fmt;
	s2_pte_t *root;
	s2_pa_t root_pa;
	struct s2_port port;
	void *cookie; /* the owner's (VM's) pointer, for the port's TLBI callbacks */
	uint64_t tlbi_range_threshold; /* above this many bytes, invalidate the whole VMID */
	struct s2_pgtable_geom geom; /* the engine's precomputed geometry */
};

/**
 * s2_pgtable_init() - allocate the root (concatenated as @cfg says) and set up @pgt.
 * @pgt:    the table to initialise.
 * @cfg:    the VM's config (copied).
 * @port:   side effects (copied).
 * @cookie: passed back in TLBI callbacks through pgt->cookie.
 * Return: 0; S2_EINVAL for a NULL argument or an inconsistent config; S2_ENOMEM.
 */
int s2_pgtable_init(struct s2_pgtable *pgt, const struct s2_config *cfg, const struct s2_port *port,
		    void *cookie);

/**
 * s2_pgtable_destroy() - free every table page and the root. Does not invalidate the TLB: the
 * caller must invalidate the VMID (or know it was never used) before reusing it.
 * Exclusive lock. A NULL @pgt, or one never initialised or already destroyed (root NULL), is
 * left alone.
 * Return: nothing (void).
 */
void s2_pgtable_destroy(struct s2_pgtable *pgt);

/**
 * s2_pgtable_map() - map [ipa, ipa + size) to [pa, pa + size).
 * @prot:  what the leaves are (enum s2_prot).
 * @flags: how to map them (enum s2_map_flags).
 * @cache: pages to use for new tables first, or NULL to allocate from the port.
 *
 * Uses the largest block the alignment of @ipa and @pa and the range allow, unless
 * S2_MAP_FORCE_PAGES. An existing mapping is replaced: with only a permission/SW/AF change
 * in place; with break-before-make when the output address, memory type or size changes or a
 * table becomes a block or a block a table (tables replaced by a block are freed).
 * Cache maintenance: Normal cacheable memory gets a data-cache clean+invalidate to PoC unless
 * FWB is on or S2_MAP_NOCMO; granting exec gets an I-cache invalidate unless DIC.
 *
 * Both are issued once for the whole [@pa, @pa + @size) before any entry becomes valid.
 * TLB: none for invalid -> valid; break-before-make invalidates between break and make;
 * permissions removed or granted in place are invalidated before returning (a grant on the
 * single-entry path with S2_MAP_SHARED: the local form, as relax_perms). Without FWB, a
 * Normal WB leaf replaced by another output or memory type is cleaned to PoC after its TLBI.
 * Ends with DSB ISHST.
 * A single-entry map that finds the entry already mapping exactly this (another vCPU won the
 * race) returns 0.
 *
 * Return: 0; S2_EINVAL for a NULL @pgt, a zero size, no R/W/X at all, a @prot bit outside
 * enum s2_prot or a @flags bit outside enum s2_map_flags, DEVICE with NORMAL_NC, or DBM
 * without HD / with W; S2_EMEMTYPE for X with DEVICE or NORMAL_NC;
 * S2_EALIGN for @ipa, @pa or @size not granule-aligned; S2_ERANGE for an IPA beyond the config
 * or a PA beyond its output size; S2_EEXIST with S2_MAP_NO_REPLACE (checked first: nothing
 * changed); S2_EBUSY with S2_MAP_SHARED when structural work is needed (nothing changed);
 * S2_ENOMEM (the part of the range not yet mapped stays as it was, the part mapped is mapped:
 * every page is either as before or as requested, no page leaks); S2_EAGAIN (single-entry
 * race, see above).
 */
int s2_pgtable_map(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size, s2_pa_t pa,
		   enum s2_prot prot, enum s2_map_flags flags, struct s2_page_cache *cache);

/*
 * A page leaf's attributes decided once (s2_pgtable_leaf_prepare()) for the table it was
 * prepared for, so that a caller mapping many pages alike (a memslot's faults, a guest's
 * donations) does not have the S2_PROT_* flags checked and converted on every map. The map
 * flags (S2_MAP_NOCMO, S2_MAP_YOUNG_CLEAR, ...) are given to each s2_pgtable_map_page().
 */
struct s2_leaf_tmpl {
	const struct s2_pgtable *pgt; /* the table it was prepared for */
	enum s2_prot prot; /* the S2_PROT_* flags it stands for */
	s2_pte_t leaf; /* private: the page descriptor without output address (0: none) */
	uint8_t cmo; /* private: the cache maintenance the map needs first (0: none) */
};

/**
 * s2_pgtable_leaf_prepare() - fill @t for mapping pages of @pgt with @prot.
 * @t is filled in every case (on an error it stands for @prot, and s2_pgtable_map_page()
 * refuses as s2_pgtable_map() does). It stays valid as long as @pgt is initialised (the
 * config does not change after init).
 * Return: 0; S2_EINVAL for a NULL argument (@t then untouched if NULL) or what
 * s2_pgtable_map() refuses @prot with (S2_EINVAL, S2_EMEMTYPE).
 */
int s2_pgtable_leaf_prepare(const struct s2_pgtable *pgt, enum s2_prot prot,
			    struct s2_leaf_tmpl *t);

/**
 * s2_pgtable_map_page() - s2_pgtable_map(@pgt, @ipa, granule, @pa, @t->prot, @flags, @cache):
 * the same map, results and side effects, one granule-sized page, the attributes from @t
 * (prepared for @pgt; a template of another table or none is taken as its prot, or refused
 * with S2_EINVAL when NULL). The 4K fault path of s2_pgtable_map() without its prot checks and
 * conversion. Single-entry (as s2_pgtable_map() of one page).
 * Return: what s2_pgtable_map() returns for that map: 0; S2_EINVAL (also for a NULL @t);
 * S2_EMEMTYPE; S2_EALIGN; S2_ERANGE; S2_EEXIST; S2_EBUSY; S2_EAGAIN; S2_ENOMEM.
 */
int s2_pgtable_map_page(struct s2_pgtable *pgt, s2_ipa_t ipa, s2_pa_t pa,
			const struct s2_leaf_tmpl *t, enum s2_map_flags flags,
			struct s2_page_cache *cache);

/**
 * s2_pgtable_unmap() - remove every mapping and annotation in [ipa, ipa + size), splitting
 * blocks that straddle the edges (which needs pages from @cache or the port), and free tables
 * that become empty. Invalidates the TLB for what was removed.
 * The TLBI is issued once for the range (IPA with level for one entry, a range, or the VMID
 * above tlbi_range_threshold), and unlinked tables are freed only after it. Without FWB,
 * every Normal WB leaf removed is then cleaned and invalidated to the PoC
 * (dcache_clean_inval_poc once per physically contiguous run), as KVM does; never with FWB,
 * nor for Normal-NC or Device memory.
 * Return: 0; S2_EALIGN; S2_ERANGE; S2_EINVAL for a NULL @pgt or a zero size; S2_ENOMEM (only
 * when a block or annotation straddles an edge: every page is either as before or unmapped,
 * the tree valid).
 */
int s2_pgtable_unmap(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size,
		     struct s2_page_cache *cache);

/**
 * s2_pgtable_wrprotect() - clear write permission (and DBM) in [ipa, ipa + size), blocks whole.
 * Invalidates what changed (one TLBI). With HD the caller harvests dirty state first.
 * Return: 0; S2_EALIGN; S2_ERANGE; S2_EINVAL.
 */
int s2_pgtable_wrprotect(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size);

/**
 * s2_pgtable_set_prot() - set and clear R/W/X (and SW) bits on every valid leaf in the range.
 * @set, @clear: S2_PROT_R/W/X/SW bits (disjoint). Exec can not be set on Device or NC leaves
 * (checked first: nothing changed). Blocks overlapping the range change whole. Clearing W
 * clears DBM too. S2_PROT_DBM in @set (only with S2_PROT_W in @clear, not in @set, and only
 * with cfg.hd: S2_EINVAL otherwise) makes every valid leaf writable-clean (W clear, DBM set;
 * AF and the rest unchanged): arming hardware dirty state for a range, one TLBI for what
 * changed and no cache maintenance. Granting exec invalidates the I-cache (unless DIC) for the whole output
 * range of every leaf that gains exec, blocks only partly inside the range included;
 * removing or granting a permission invalidates the TLB for what changed (a TLB may keep an
 * entry that gave a permission fault).
 * Return: 0; S2_EALIGN; S2_ERANGE; S2_EINVAL (also for a bit outside R/W/X/SW, DBM in @set
 * as above, or a bit in both); S2_EMEMTYPE.
 */
int s2_pgtable_set_prot(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size, enum s2_prot set,
			enum s2_prot clear);

/**
 * s2_pgtable_relax_perms() - add R/W/X to the leaf mapping @ipa, without break-before-make
 * (adding permission is legal in place), and set its AF. Single-entry: shared lock.
 * Then invalidates @ipa on the calling CPU (port tlbi_ipa_local; tlbi_ipa between DSB ISHST
 * and DSB ISH when the port has none), as KVM: a TLB may keep the entry that gave the
 * permission fault. Issued when the leaf was updated or already as asked (with its level),
 * and for S2_ENOENT / S2_EAGAIN (no level hint); not for the other errors. Call it on the
 * faulting vCPU's CPU, also for a spurious permission fault (nothing to change). Granting
 * exec invalidates the I-cache for the leaf unless DIC.
 * Return: 0; S2_ENOENT if nothing valid maps @ipa; S2_EMEMTYPE for X on Device/NC;
 * S2_EINVAL for a NULL @pgt or a @prot bit beyond R/W/X; S2_ERANGE; S2_EAGAIN if the entry
 * changed under us.
 */
int s2_pgtable_relax_perms(struct s2_pgtable *pgt, s2_ipa_t ipa, enum s2_prot prot);

/**
 * s2_pgtable_mkyoung() - set the access flag of the leaf mapping @ipa. Single-entry.
 * Return: 0; S2_EINVAL for a NULL @pgt; S2_ENOENT if nothing valid maps @ipa; S2_ERANGE;
 * S2_EAGAIN if the entry changed under us (or is locked by a concurrent update).
 */
int s2_pgtable_mkyoung(struct s2_pgtable *pgt, s2_ipa_t ipa);

/**
 * s2_pgtable_test_clear_young() - count leaves with AF set in the range, clearing AF when
 * @clear. Clearing AF needs no TLBI to be correct (a stale TLB entry only hides one access);
 * the caller that wants the next access to fault must invalidate (s2_pgtable_flush_range()).
 * @young: out, number of granule-sized pages whose leaf had AF set (a block counts each of its
 *         pages inside the range).
 * Return: 0; S2_EALIGN; S2_ERANGE; S2_EINVAL.
 */
int s2_pgtable_test_clear_young(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size, bool clear,
				uint64_t *young);

/**
 * s2_pgtable_flush_range() - invalidate the TLB for a range (what the caller owes after
 * changes it made without invalidation, e.g. test_clear_young). Does nothing for a NULL @pgt
 * or a zero @size.
 * Return: nothing (void).
 */
void s2_pgtable_flush_range(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size);

/*
 * What s2_pgtable_lookup() found. It fills only what the walk yields for free; the attributes
 * are decoded from @pte on demand by s2_lookup_prot() and s2_lookup_owner() (as KVM's
 * kvm_pgtable_get_leaf() leaves decoding to its callers).
 */
struct s2_lookup {
	s2_pte_t pte; /* the entry found (0 if the walk ended at an empty entry) */
	int level; /* the level it sits at */
	uint64_t size; /* bytes the entry covers */
	bool valid; /* a valid leaf maps the IPA */
	s2_pa_t pa; /* output address of the IPA itself (valid only, else 0) */
};

/**
 * s2_pgtable_lookup() - find what maps @ipa. Single-entry.
 * Return: 0 (out->valid tells whether something is mapped); S2_EINVAL for a NULL argument;
 * S2_ERANGE.
 */
int s2_pgtable_lookup(const struct s2_pgtable *pgt, s2_ipa_t ipa, struct s2_lookup *out);

/**
 * s2_pgtable_relax_lookup() - s2_pgtable_lookup(@ipa) and, when it finds a valid leaf,
 * s2_pgtable_relax_perms(@ipa rounded down to the granule, @prot), in one descent (a
 * permission fault that must both judge the leaf and relax it).
 * @old: what the lookup found (the leaf as it was before the relax).
 * Nothing is relaxed or invalidated when no valid leaf maps @ipa (@old->valid false).
 * Return: S2_EINVAL for a NULL argument or a @prot beyond R/W/X; S2_ERANGE (@old untouched);
 * else with no valid leaf 0, with one what s2_pgtable_relax_perms() returns.
 */
int s2_pgtable_relax_lookup(struct s2_pgtable *pgt, s2_ipa_t ipa, enum s2_prot prot,
			    struct s2_lookup *old);

/**
 * s2_leaf_is_valid() - whether a leaf entry (s2_lookup.pte, or s2_walk_visit.pte of an
 * S2_WALK_LEAF visit) is valid, i.e. maps its range as a block or page (Arm ARM D8.3.1).
 * Return: true for a valid block/page descriptor; false for an invalid entry.
 */
static inline bool s2_leaf_is_valid(s2_pte_t pte)
{
	return (pte & S2_PTE_VALID) != 0;
}

/**
 * s2_leaf_prot() - the S2_PROT_* flags of a leaf entry (as for s2_leaf_is_valid()): R/W from
 * S2AP, X when XN is 0b00, SW bits, DBM, and the memory type from MemAttr (0b0000
 * Device-nGnRnE, 0b00xx Device, 0b0101 Normal-NC; Arm ARM D8.6.5). The access flag is not a
 * permission: s2_leaf_young().
 * Return: the flags; 0 for an invalid entry.
 */
static inline enum s2_prot s2_leaf_prot(s2_pte_t pte)
{
	uint64_t ma = S2_FIELD_GET(S2_PTE_MEMATTR, pte), mt;

	if (!s2_leaf_is_valid(pte))
		return 0;
	mt = ma < 4  ? (S2_PROT_DEVICE | (ma == 0 ? S2_PROT_DEVICE_NGNRNE : 0)) :
	     ma == 5 ? S2_PROT_NORMAL_NC :
		       0;
	return (enum s2_prot)(S2_FIELD_GET(S2_PTE_S2AP, pte) | (pte & S2_PTE_XN ? 0 : S2_PROT_X) |
			      S2_PROT_SW(S2_FIELD_GET(S2_PTE_SW, pte)) |
			      (pte & S2_PTE_DBM ? S2_PROT_DBM : 0) | mt);
}

/**
 * s2_leaf_young() - whether a leaf entry (as for s2_leaf_is_valid()) is valid with its access
 * flag set (a leaf mapped with S2_MAP_YOUNG_CLEAR, or aged by s2_pgtable_test_clear_young(),
 * has it clear until an access or s2_pgtable_mkyoung() sets it).
 * Return: true for a valid leaf with AF set; false otherwise.
 */
static inline bool s2_leaf_young(s2_pte_t pte)
{
	return s2_leaf_is_valid(pte) && (pte & S2_PTE_AF);
}

/**
 * s2_leaf_owner() - the owner annotation (1..255) of an invalid leaf entry (as for
 * s2_leaf_is_valid()).
 * Return: the owner; 0 for a valid entry or an invalid one without an owner.
 */
static inline uint8_t s2_leaf_owner(s2_pte_t pte)
{
	return s2_leaf_is_valid(pte) ? 0 : (uint8_t)S2_FIELD_GET(S2_PTE_INVALID_OWNER, pte);
}

/**
 * s2_lookup_prot() - the S2_PROT_* flags of the leaf a lookup found (s2_leaf_prot() of
 * @l.pte). Takes the result by value so that it composes with functions returning one.
 * Return: the flags; 0 when @l.valid is false.
 */
static inline enum s2_prot s2_lookup_prot(struct s2_lookup l)
{
	return l.valid ? s2_leaf_prot(l.pte) : (enum s2_prot)0;
}

/**
 * s2_lookup_young() - whether the leaf a lookup found is valid with its access flag set
 * (s2_leaf_young() of @l.pte).
 * Return: true or false; false when @l.valid is false.
 */
static inline bool s2_lookup_young(struct s2_lookup l)
{
	return l.valid && s2_leaf_young(l.pte);
}

/**
 * s2_lookup_owner() - the owner annotation (1..255) of the invalid entry a lookup found.
 * Return: the owner; 0 for a valid entry or an invalid one without an owner.
 */
static inline uint8_t s2_lookup_owner(struct s2_lookup l)
{
	return s2_leaf_owner(l.pte);
}

/* What s2_pgtable_walk() visits (bits 24 and up: disjoint from the other two flag sets). */
enum s2_walk_flags {
	S2_WALK_LEAF = S2_BIT(24), /* valid block/page and invalid entries */
	S2_WALK_TABLE_PRE = S2_BIT(25), /* a table entry, before its children */
	S2_WALK_TABLE_POST = S2_BIT(26), /* a table entry, after its children */
	S2_WALK_SKIP_EMPTY = S2_BIT(27), /* do not call the leaf visitor for all-zero entries */
};

struct s2_walk_visit {
	s2_ipa_t ipa; /* first IPA the entry covers */
	int level;
	uint64_t size;
	s2_pte_t *ptep; /* the entry (read with s2_atomic_load64) */
	s2_pte_t pte; /* its value when visited */
	enum s2_walk_flags flag; /* S2_WALK_LEAF / TABLE_PRE / TABLE_POST */
};

/* Return 0 to go on, a negative code to stop the walk with it. */
typedef int (*s2_visitor_fn)(void *arg, const struct s2_walk_visit *v);

/**
 * s2_pgtable_walk() - visit the entries covering [ipa, ipa + size) in IPA order. Visitors
 * must not change the tables through @ptep (use the engine's operations); the walk is for
 * the layers above (dirty harvest, dumps). Exclusive or shared lock as the visitor needs.
 * Return: 0; S2_EALIGN; S2_ERANGE; S2_EINVAL (also for a NULL @fn or a @flags bit outside
 * enum s2_walk_flags); or the visitor's negative code.
 */
int s2_pgtable_walk(const struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size,
		    enum s2_walk_flags flags, s2_visitor_fn fn, void *arg);

/**
 * s2_pgtable_split() - replace each block in [ipa, ipa + size) by a table of next-level
 * entries with the same attributes (recursively down to pages), for dirty logging. New tables
 * come from @cache only; when it runs dry the call stops with S2_ENOMEM having split what it
 * could (call again after topping up). Always break-before-make (one TLBI per block split;
 * FEAT_BBM level 2 is not used: struct s2_config does not carry it, only s2_caps.bbm).
 * Return: 0; S2_ENOMEM (partial, valid); S2_EALIGN; S2_ERANGE; S2_EINVAL (NULL cache).
 */
int s2_pgtable_split(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size,
		     struct s2_page_cache *cache);

/**
 * s2_pgtable_collapse() - replace each table in [ipa, ipa + size) whose entries form one
 * uniform run (valid leaves, contiguous aligned output, identical attributes) by a block of
 * the table's level, if blocks are legal there; frees the table. Break-before-make.
 * @collapsed: out (may be NULL), number of tables replaced.
 * Return: 0; S2_EALIGN; S2_ERANGE; S2_EINVAL.
 */
int s2_pgtable_collapse(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size,
			unsigned int *collapsed);

/**
 * s2_pgtable_annotate() - replace the mappings of [ipa, ipa + size) with invalid entries
 * carrying @owner (1..255) in their software bits, as for page ownership. Annotated entries
 * keep their table alive like valid ones. Invalidates the TLB for what was mapped and, without
 * FWB, cleans the Normal WB memory removed to the PoC, as s2_pgtable_unmap().
 * Return: 0; S2_EINVAL for owner 0, a NULL @pgt or a zero size; S2_EALIGN; S2_ERANGE; S2_ENOMEM.
 */
int s2_pgtable_annotate(struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size, uint8_t owner,
			struct s2_page_cache *cache);

/* What s2_pgtable_check() found. */
struct s2_check_report {
	uint64_t table_pages; /* table pages reachable (granules, root included) */
	uint64_t leaves; /* valid leaf entries */
	uint64_t annotated; /* invalid entries with an owner */
	uint64_t errors;
	char first_error[160]; /* description of the first problem */
};

/**
 * s2_pgtable_check() - validate the whole tree: no reserved encodings, blocks only at legal
 * levels, output addresses within the PA size and aligned, table-page reference counts equal
 * to the number of valid or annotated entries, no table page reachable twice, no empty
 * non-root table left behind. Marks visited table pages in the top bit of their refcount while
 * it runs (and clears the marks): exclusive lock.
 * Return: 0 when consistent; S2_ECORRUPT (details in @report, which may be NULL); S2_EINVAL.
 */
int s2_pgtable_check(const struct s2_pgtable *pgt, struct s2_check_report *report);

/** s2_page_cache_topup() - fill @cache to @min pages from @port. Return: 0; S2_ENOMEM (the
 * pages already added stay in @cache); S2_EINVAL for a NULL @cache/@port/port->ops, a
 * @page_bytes that is not a power of two of at least 4 KiB (the port's alloc_pages contract),
 * or @min above S2_PAGE_CACHE_MAX. */
int s2_page_cache_topup(struct s2_page_cache *cache, const struct s2_port *port, size_t page_bytes,
			unsigned int min);

/**
 * s2_page_cache_drain() - give every page of @cache back to @port (nothing for a NULL @cache,
 * @port or port->ops).
 * Return: nothing (void).
 */
void s2_page_cache_drain(struct s2_page_cache *cache, const struct s2_port *port,
			 size_t page_bytes);

#endif /* S2MMU_PGTABLE_H */
