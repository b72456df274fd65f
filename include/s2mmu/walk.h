/* SPDX-License-Identifier: MIT */
/*
 * s2mmu/walk.h - the reference MMU: an independent model of the architectural stage-2 walk.
 *
 * It is written from the Arm ARM (AArch64.S2Walk, AArch64.S2TranslationFault, ...) and shares
 * nothing with the page-table engine beyond the constants of s2mmu/arch.h, so that it can serve
 * as the oracle the engine is checked against. It reads tables only through a caller-supplied
 * physical-memory reader; it writes only to model hardware AF/DBM updates, and only when given
 * a writer.
 *
 * Also here: a model of the TLB (translations it handed out, TLBI operations, and a check that
 * flags any remembered translation that disagrees with the current tables).
 */
#ifndef S2MMU_WALK_H
#define S2MMU_WALK_H

#include "s2mmu/arch.h"

/* Physical memory as the walker sees it. */
struct s2_walk_mem {
	/* Read the 64-bit word at @pa (8-byte aligned). Return 0, or a negative code for an
	 * address that is not memory (reported as a synchronous external abort on the walk). */
	int (*read64)(void *ctx, s2_pa_t pa, uint64_t *val);
	/* Optional: atomically replace *@pa == @old with @new (hardware AF/DBM update).
	 * Return 0 on success, S2_EAGAIN when the value changed. NULL: no hardware updates. */
	int (*cas64)(void *ctx, s2_pa_t pa, uint64_t old, uint64_t new);
	void *ctx;
};

enum s2_access_type {
	S2_ACCESS_READ = 0,
	S2_ACCESS_WRITE,
	S2_ACCESS_EXEC,
};

struct s2_access {
	enum s2_access_type type;
	bool el0; /* the access is from EL0 (matters for XN with FEAT_XNX) */
	bool s1ptw; /* a stage-1 table walk (reads; with HA/HD they may write AF/dirty) */
};

struct s2_walk_result {
	enum s2_fault fault; /* S2_FAULT_NONE on success */
	int level; /* level of the leaf, or of the fault */
	s2_pa_t pa; /* output address of the IPA (success) */
	uint64_t block_size; /* bytes the leaf maps */
	s2_pte_t pte; /* the leaf descriptor (after any hardware update) */
	s2_pa_t pte_pa; /* where the leaf (or faulting) descriptor lives */
	uint8_t memattr;
	uint8_t s2ap;
	uint8_t xn;
	uint8_t sh;
	bool af;
	bool dbm;
	bool contig;
	uint8_t sw;
	bool hw_updated; /* the walk set AF or made a DBM page writable */
	struct s2_access access; /* the access the walk was for */
};

/**
 * s2_walk() - translate @ipa as hardware would for @access.
 * @cfg:  the VM's config (granule, sizes, DS, HA/HD, XNX).
 * @root: PA of the (possibly concatenated) root.
 * @mem:  physical memory.
 * @ipa:  the input address.
 * @access: what kind of access.
 * @res:  the translation or the fault the hardware would report, with its level.
 *
 * Faults: translation (IPA beyond T0SZ: level 0, per AArch64.S2Walk's input size check;
 * invalid or reserved descriptor; an invalid or inconsistent start level: level 1), address
 * size (VTTBR base beyond PS: level 0; an output or table address beyond PS), access flag
 * (AF clear and HA off), permission (S2AP/XN; a write to a DBM page with HD on is allowed
 * and, with a writer, sets S2AP[1]), external abort on the walk (read64 failed).
 * Return: 0 when the walk completed (res->fault tells the outcome); S2_EINVAL for bad args
 * (a config whose fields contradict each other, a root not aligned to root_table_bytes);
 * S2_EAGAIN when a hardware update kept losing races with concurrent writers (1000 tries).
 */
int s2_walk(const struct s2_config *cfg, s2_pa_t root, const struct s2_walk_mem *mem, s2_ipa_t ipa,
	    struct s2_access access, struct s2_walk_result *res);

/* ---- TLB model ---------------------------------------------------------------------------- */

struct s2_tlb_entry {
	bool valid;
	uint16_t vmid;
	s2_ipa_t ipa; /* aligned to block_size */
	uint64_t block_size;
	int level;
	s2_pa_t pa; /* aligned output */
	uint8_t memattr;
	uint8_t s2ap;
	uint8_t xn;
	bool af;
	bool perm_fault; /* filled from a walk that gave a permission fault for @access */
	struct s2_access access;
};

struct s2_tlb_model {
	struct s2_tlb_entry *entries; /* caller-provided storage */
	unsigned int capacity;
	unsigned int next; /* round-robin replacement */
};

/** s2_tlb_init() - an empty TLB over @storage (@capacity entries; none for a NULL @storage).
 * A NULL @tlb is ignored, as by every TLB-model function below. */
void s2_tlb_init(struct s2_tlb_model *tlb, struct s2_tlb_entry *storage, unsigned int capacity);

/**
 * s2_tlb_fill() - remember the translation of @res for @vmid, as hardware may cache it: a
 * successful one, or one that gave a permission fault (Arm ARM D8.17: unlike translation,
 * access flag and address size faults, a TLB may hold the entry that caused a permission
 * fault; it is then marked perm_fault, with the access). Other results are ignored.
 */
void s2_tlb_fill(struct s2_tlb_model *tlb, uint16_t vmid, s2_ipa_t ipa,
		 const struct s2_walk_result *res);

/** s2_tlb_lookup() - a remembered translation of @ipa for @vmid, or NULL. */
const struct s2_tlb_entry *s2_tlb_lookup(const struct s2_tlb_model *tlb, uint16_t vmid,
					 s2_ipa_t ipa);

/** s2_tlbi_ipa() - TLBI IPAS2E1IS: drop @vmid's entries covering @ipa; @level is a TTL hint
 * (-2 for none): with a hint, entries at other levels may survive, as on hardware. */
void s2_tlbi_ipa(struct s2_tlb_model *tlb, uint16_t vmid, s2_ipa_t ipa, int level);
/** s2_tlbi_range() - drop @vmid's entries overlapping [ipa, ipa + size). */
void s2_tlbi_range(struct s2_tlb_model *tlb, uint16_t vmid, s2_ipa_t ipa, uint64_t size);
/** s2_tlbi_vmid() - TLBI VMALLS12E1IS: drop every entry of @vmid. */
void s2_tlbi_vmid(struct s2_tlb_model *tlb, uint16_t vmid);
/** s2_tlbi_all() - TLBI ALLE1IS. */
void s2_tlbi_all(struct s2_tlb_model *tlb);

struct s2_tlb_stale {
	struct s2_tlb_entry entry; /* what the TLB remembers */
	struct s2_walk_result now; /* what the tables say now */
	const char *why; /* "output address", "more permission", "memory type", ... */
};

typedef void (*s2_tlb_stale_fn)(void *arg, const struct s2_tlb_stale *stale);

/**
 * s2_tlb_check() - re-walk every remembered entry of @vmid against the tables and report each
 * that now disagrees: the tables fault, map another block size or output address, grant less
 * (read/write or execute) permission than remembered, or give another memory type (the
 * re-walk is a data read at EL1: stale->now.access). An entry
 * filled from a permission fault is re-walked with its access and reported when that access
 * no longer takes a permission fault (the permission was granted, or the page unmapped,
 * without invalidating it: the CPU would keep faulting). An AF cleared since the fill is not
 * reported (that needs no TLBI). Never writes memory.
 * Return: number of stale entries (0: none); S2_EINVAL for a NULL @tlb, @cfg, @mem or
 * mem->read64, or a @cfg/@root that s2_walk() refuses.
 */
int s2_tlb_check(const struct s2_tlb_model *tlb, uint16_t vmid, const struct s2_config *cfg,
		 s2_pa_t root, const struct s2_walk_mem *mem, s2_tlb_stale_fn fn, void *arg);

#endif /* S2MMU_WALK_H */
