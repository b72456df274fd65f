/* SPDX-License-Identifier: MIT */
/*
 * pgtable_model.h - a shadow model of one VM's stage-2 mappings and an operation interpreter
 * that drives the page-table engine and checks it against the model after every operation
 * (tests/model/pgtable_model.c; part of the test library s2_test_model).
 *
 * Used by the property test tests/unit/test_pgtable_prop.c, which feeds it a seeded PRNG, and
 * by the libFuzzer target fuzz/fuzz_pgtable.c, which feeds it input bytes. pgtable_model.c
 * tells what is checked after each operation.
 *
 * Use: s2m_rng_seed() or s2m_rng_bytes(), s2m_init() with a config of s2m_cfgs[], s2m_run(),
 * then s2m_teardown() (always, also after a failed s2m_init()). A violation sets ctx->failed and
 * ctx->msg (the config, the operation and what went wrong); the functions that return bool
 * return false then.
 */
#ifndef S2MMU_TEST_PGTABLE_MODEL_H
#define S2MMU_TEST_PGTABLE_MODEL_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s2mmu/pgtable.h"
#include "s2mmu/walk.h"
#include "host_port.h"

#define S2M_VMID 1 /* the VMID of the model's VM (its TLB model entries) */
#define S2M_TLB_ENTRIES 64
#define S2M_MAX_SAMPLES 48

/* ---- random source: a seeded PRNG or fuzz input bytes -------------------------------------- */

struct s2m_rng {
	uint64_t state;
	const uint8_t *data; /* fuzz mode when non-NULL */
	size_t len, pos;
	bool exhausted;
};

/* A splitmix64 PRNG from @seed. */
void s2m_rng_seed(struct s2m_rng *r, uint64_t seed);
/* Take the random choices from @data (@len bytes; zeros once they run out). */
void s2m_rng_bytes(struct s2m_rng *r, const uint8_t *data, size_t len);

/* ---- the config matrix ------------------------------------------------------------------------- */

struct s2m_cfg_desc {
	const char *name;
	unsigned int host_pa_bits;
	unsigned int ipa_bits;
	enum s2_granule granule;
	uint64_t flags;
};

/* 4K/16K/64K granules, several IPA sizes, with and without DS/LPA, FWB and HA/HD. */
#define S2M_NR_CFGS 12u
extern const struct s2m_cfg_desc s2m_cfgs[S2M_NR_CFGS];

/* ---- the operations ---------------------------------------------------------------------------- */

enum s2m_op {
	S2M_OP_MAP = 0,
	S2M_OP_UNMAP,
	S2M_OP_WRPROTECT,
	S2M_OP_SET_PROT,
	S2M_OP_RELAX,
	S2M_OP_MKYOUNG,
	S2M_OP_TEST_CLEAR_YOUNG,
	S2M_OP_SPLIT,
	S2M_OP_COLLAPSE,
	S2M_OP_ANNOTATE,
	S2M_OP_LOOKUP,
	S2M_OP_NR,
};

extern const char *const s2m_op_names[S2M_OP_NR];

/* ---- the interpreter context ----------------------------------------------------------------- */

struct s2m_ext; /* an extent of the model (pgtable_model.c) */
struct s2m_leaf; /* a leaf entry of the last dump (pgtable_model.c) */

/* The model: an ordered list of extents of IPA space (gaps are unmapped). */
struct s2m_list {
	struct s2m_ext *e;
	size_t n, cap;
};

struct s2m_window {
	uint64_t base, size;
};

struct s2m_stats {
	uint64_t ops, ok, refused, partial, walks, stale_checks;
	uint64_t by_op[16], by_op_ok[16];
	uint64_t collapsed, young, split_rounds;
	uint64_t max_leaves, max_tables;
};

/* One valid leaf of the tables before an operation, and what the TLBIs saw of it. */
struct s2m_bbm {
	uint64_t ipa, size;
	s2_pte_t pte;
	uint64_t probe; /* the IPA found invalid at a TLBI covering it */
	uint8_t state; /* 0; 1: invalid at a TLBI; 2: and still invalid at the DSB ISH after it */
};

struct s2m_ctx {
	const struct s2m_cfg_desc *desc;
	struct s2_config cfg;
	struct s2_host_port *hp;
	struct s2_port port;
	struct s2_pgtable pgt;
	bool pgt_live;
	struct s2_walk_mem mem; /* reads only: the checks never change the tables */
	struct s2_tlb_model tlb;
	struct s2_tlb_entry tlbe[S2M_TLB_ENTRIES];
	struct s2_page_cache cache;

	uint64_t P; /* granule bytes */
	uint64_t ipa_limit; /* 1 << ipa_bits */
	uint64_t pa_limit;
	uint64_t top_block; /* largest block size the config can use */
	int top_level; /* its level */
	struct s2m_window win[3];
	uint64_t pa_win[3];

	struct s2m_list model;
	/* Last dump of the tables. */
	struct s2m_list actual;
	struct s2m_leaf *leaves;
	size_t nleaves, leaves_cap;
	uint64_t dump_tables; /* table descriptors seen */
	uint64_t dump_hash;

	uint64_t samples[S2M_MAX_SAMPLES];
	unsigned int nsamples;

	/* Break-before-make observer (s2m_bbm_*): the engine's port wraps the host port's. */
	struct s2_port inner; /* the host port */
	struct s2_port_ops wops; /* its ops, with TLBIs, CMOs and barriers observed */
	struct s2m_bbm *bbm; /* the valid leaves before the operation */
	size_t nbbm, bbm_cap;
	size_t *pend, npend, pend_cap; /* indexes of the leaves in state 1 */
	bool bbm_tlbi_seen; /* a TLBI was issued during this operation */
	bool fresh_on; /* a map is running: its fresh entries must be cleaned before valid */
	uint64_t fresh_ipa, fresh_pa, fresh_size;
	const struct s2m_list *fresh_old; /* the model before it */

	struct s2m_rng *rng; /* drives the operations */
	struct s2m_rng srng; /* picks the sampled IPAs (not taken from fuzz input) */
	unsigned long opno;
	char opdesc[256];
	bool failed;
	char msg[2048];
	struct s2m_stats st;
};

/* Set up @c (zeroed first) for config @cfg_index of s2m_cfgs[], its random choices from @rng:
 * a host port, an empty table tree, the TLB model. Return: false on a failure (c->msg). */
bool s2m_init(struct s2m_ctx *c, unsigned int cfg_index, struct s2m_rng *rng);
/* Free what s2m_init() set up (the tables, the page cache, the host port). */
void s2m_teardown(struct s2m_ctx *c);
/* Run up to @max_ops operations (stops early when a fuzz input runs out), each checked.
 * Return: false at the first violation (c->failed, c->msg). */
bool s2m_run(struct s2m_ctx *c, unsigned long max_ops);
/* Translate @ipa with the reference walker over @c's tables. Return: false if s2_walk() itself
 * failed (c->msg). */
bool s2m_walk(struct s2m_ctx *c, uint64_t ipa, enum s2_access_type t, bool el0,
	      struct s2_walk_result *res);

#endif /* S2MMU_TEST_PGTABLE_MODEL_H */
