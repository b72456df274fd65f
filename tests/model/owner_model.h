/* SPDX-License-Identifier: MIT */
/*
 * owner_model.h - the owner layer's test fixture (tests/model/owner_model.c; part of the test
 * library s2_test_model), used by tests/unit/test_owner.c and fuzz/fuzz_owner.c: a host with two
 * RAM ranges and an MMIO window, three guests (two non-protected, one protected), a shadow of
 * the hypervisor's address space, full-state snapshots (every host and guest descriptor, the
 * metadata, the hypervisor's mappings), the ownership invariant checker, and one step of a
 * hostile host's random transition sequence (transitions with random permissions, hypervisor
 * pins, and guest mappings made behind the layer's back as the VM layer's fault path would,
 * which a teardown must drop harmlessly).
 *
 * A failed check calls om_fail(): it prints the failure and aborts (which libFuzzer reports),
 * or hands it to the handler given to om_set_fail_handler() (the unit test's fails the cmocka
 * test).
 */
#ifndef S2MMU_TEST_OWNER_MODEL_H
#define S2MMU_TEST_OWNER_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_port.h"
#include "s2_test_matrix.h"
#include "s2mmu/owner.h"

/* ---- fixture ------------------------------------------------------------------------------- */

#define NGUESTS 3
#define G1 0 /* non-protected, id 2 */
#define G2 1 /* protected, id 3 */
#define G3 2 /* non-protected, id 4 */
#define RAM1_PAGES 16

struct fx {
	struct s2_host_port *hp;
	struct s2_port port;
	struct s2_config cfg;
	struct s2_owner o;
	struct s2_owner_ram ram[2];
	struct s2_page_meta *meta;
	uint64_t nmeta;
	struct s2_pgtable gpgt[NGUESTS];
	struct s2_owner_guest g[NGUESTS];
	uint64_t psize;
	uint64_t blk; /* the level-2 block size */
	uint64_t win_base; /* first PA the hypervisor shadow covers */
	uint64_t win_pages;
	uint8_t *hyp; /* hypervisor shadow: 0 unmapped, else 1 + state (| 0x80 device) */
	uint32_t *pins; /* per window page: the hypervisor's pins (shadow) */
	int hyp_fail; /* the next hyp map fails with this code */
	uint64_t hyp_calls;
	uint64_t scrubbed; /* bytes scrubbed */
	uint64_t ram0, ram1, mmio; /* bases */
	/* The hardware's view of the host stage-2: the reference walker over the port's arena,
	 * and a TLB model fed with every translation the checks make and every TLBI the engine
	 * issues for the host (VMID 0), so a missing invalidation shows as a stale entry. The
	 * engine's other TLBIs are filed under their table's VMID (a guest's owner id, a VM-layer
	 * table's VMID; owner_model.c, om_vmid_of()), never the host's. */
	struct s2_walk_mem mem;
	struct s2_tlb_model *tlb;
	struct s2_tlb_entry *tlb_store;
	/* The host stage-2's context (s2_owner_params.host_stage2, the fixture's load/put) and
	 * the port's TLBI ops wrapped (@port): every TLBI of the host stage-2 must come between a
	 * load of the host's VTCR/VTTBR (VMID 0) and its put, loads and puts paired and never
	 * nested. check_invariants() fails on any violation; a test may read the counts. */
	struct s2_port_ops port_ops;
	unsigned int host_ctx_depth; /* loads minus puts now */
	uint64_t host_ctx_loads, host_ctx_puts;
	uint64_t host_tlbis; /* TLBIs of the host stage-2 (f->o.host) */
	uint64_t host_tlbis_outside; /* ... of them outside load ... put */
	uint64_t host_ctx_errors; /* nested load, put without load, wrong values loaded */
};

/* Set up @f for the host config @cfg (the guests get 36-bit IPA spaces of the same granule and
 * FWB). The fixture is the host port's only user: fx_init() again only after fx_fini(). */
void fx_init(struct fx *f, const struct s2_config *cfg);
void fx_fini(struct fx *f);

/* The hypervisor callbacks the fixture gives the owner layer (ctx: the fixture): they keep the
 * hypervisor shadow (f->hyp), and hyp_map() fails once with f->hyp_fail when that is set. */
int hyp_map(void *ctx, s2_pa_t pa, uint64_t size, enum s2_page_state state, uint64_t flags);
void hyp_unmap(void *ctx, s2_pa_t pa, uint64_t size);
/* A scrub callback for teardown and reclaim: counts the bytes in f->scrubbed (ctx: the fixture). */
void scrub(void *ctx, s2_pa_t pa, uint64_t size);
/* Record in the shadow that [pa, pa + size) was pinned (@delta 1) or unpinned (-1). */
void om_pins_add(struct fx *f, uint64_t pa, uint64_t size, int delta);

/* Descriptor decoding for the checks, from the architecture (Arm ARM D8.3.2): MemAttr [5:2]
 * below 0b0100 is Device (FWB on or off); S2AP [7:6] read/write; XN [54:53] 0b00 executable;
 * an invalid entry's owner annotation in bits [9:2]. */
bool om_pte_device(s2_pte_t pte);
uint64_t om_pte_rwx(s2_pte_t pte);
uint8_t om_pte_owner(s2_pte_t pte);

/* ---- snapshots (for "a refusal changes nothing") ------------------------------------------- */

struct dump {
	size_t n, cap;
	uint64_t *v;
};

struct snapshot {
	struct dump tables;
	struct s2_page_meta *meta;
	uint8_t *hyp;
};

/* Take a snapshot of @f's whole state; snap_free() frees it. */
void snap(const struct fx *f, struct snapshot *s);
void snap_free(struct snapshot *s);
/* Check that @f's state is still exactly @before. */
void assert_unchanged(const struct fx *f, const struct snapshot *before);

/* ---- invariants ------------------------------------------------------------------------------ */

/* Every ownership invariant over the host, the guests and the hypervisor shadow (one owner per
 * page, SHARED_OWNED iff SHARED_BORROWED, share counts, what the host stage-2 grants, no
 * meta-state in a descriptor, s2_pgtable_check() on every table, no stale host TLB entry, every
 * host TLBI inside the host context's load ... put, none loaded now). */
void check_invariants(const struct fx *f);

/* ---- a hostile host's random transitions ---------------------------------------------- */

/*
 * Randomness: a seeded xorshift64* for the unit test, or the fuzzer's input bytes (each draw
 * takes the next byte; an exhausted input draws zeros and sets @exhausted).
 */
struct om_rng {
	uint64_t state;
	const uint8_t *data;
	size_t len, pos;
	bool exhausted;
};

/*
 * One step of a hostile host: a random transition (random, often invalid ranges, guests and
 * IPAs; sometimes a failing hypervisor map or table allocation) or a host fault. Checks that a
 * refusal changed nothing and that a fault maps exactly what the host may access, then every
 * invariant. Return: the transition's result.
 */
int om_step(struct fx *f, struct om_rng *r);
/* Tear every guest down and check that every page not the hypervisor's is the host's again. */
void om_teardown_all(struct fx *f);

/* ---- failures -------------------------------------------------------------------------------- */

/* Report a failed check (printf-style) and do not return: the handler, else print and abort. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
void om_fail(const char *fmt, ...);
/* Hand failures to @fn (NULL: print and abort). @fn must not return (cmocka's fail_msg()
 * long-jumps out of the test); if it does, om_fail() aborts. */
void om_set_fail_handler(void (*fn)(const char *msg));

#endif /* S2MMU_TEST_OWNER_MODEL_H */
