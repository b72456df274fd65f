// SPDX-License-Identifier: MIT
/*
 * bench_layers.c - benchmarks of the layers above the engine: the VM layer's guest-abort path
 * (s2_vm_handle_abort(), vm.h) and the owner layer's transitions (owner.h), with the hosted
 * port, in the style of bench_pgtable.c: each measured loop is a non-inlined function named
 * bench_op_<name> (run.sh counts exactly those under callgrind), the measuring thread's CPU
 * time is taken around it (median of --reps runs), and every run is verified afterwards with
 * the reference walker (s2_walk), s2_pgtable_check() and the layer's own state queries; any
 * mismatch prints "bench: FAIL: ..." and makes the program exit with status 1.
 *
 * Config everywhere: 4K granule, 40-bit IPA (start level 1), FWB on, s2_caps_max(48).
 *
 * VM layer (one VM, one vCPU, one RAM memslot of --size-mib at IPA 64 GiB backed by PA 512 GiB
 * in 4K host pages, Normal host mapping):
 *   fault_4k        write translation faults, one per 4K page, tables present (page 0 of every
 *                   2 MiB faulted in at setup, as for bench_pgtable's map_fault_4k);   unit op
 *   fault_dirty_4k  write permission faults on a dirty-logged slot whose pages were all
 *                   read-faulted (mapped read-only) at setup: relax to RW + mark dirty; unit op
 * Owner layer (host RAM: one range of --size-mib at PA 8 GiB, host stage-2 faulted in (one
 * 1 GiB block, or 2 MiB blocks below 1 GiB), a protected guest with its own 40-bit stage-2):
 *   share_4k / share_hyp_range      host OWNED -> SHARED_OWNED, hyp -> SHARED_BORROWED,
 *                                       one call per page / one call for the whole range
 *   donate_4k / donate_hyp_range    host OWNED -> NOPAGE (annotated HYP), hyp -> OWNED
 *   donate_guest_4k / donate_guest_2m   host -> protected guest, one call per page / per 2 MiB
 *                                       (guest IPA 64 GiB + offset)
 * Owner results are per page (unit "page"); between runs the transition is reverted
 * (unshare_hyp, donate_hyp_host, guest teardown, outside the measured region) and the revert
 * is verified too.
 *
 * Output: as bench_pgtable (--out FILE: one JSON record per line).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s2mmu/owner.h"
#include "s2mmu/pgtable.h"
#include "s2mmu/vm.h"
#include "s2mmu/walk.h"
#include "host_port.h"

#include "bench_common.h"

#define BENCH_IPA_BASE (UINT64_C(64) << 30) /* guest IPA of the slot / donated range */
#define BENCH_PA_BASE (UINT64_C(512) << 30) /* the VM slot's backing */
#define BENCH_RAM_PA (UINT64_C(8) << 30) /* the owner layer's host RAM */
#define BENCH_ARENA_PA (UINT64_C(4) << 30) /* table pages (host port arena) */
#define GUEST_ID 2

/* ---- syndromes as the hardware builds them (Arm ARM D19.2.48 ESR_EL2, D19.2.55 HPFAR_EL2) */
#define ESR_EC_DABT_LOW UINT64_C(0x24) /* data abort from a lower exception level */
#define ESR_EC_SHIFT 26
#define ESR_IL (UINT64_C(1) << 25) /* 32-bit instruction */
#define ESR_WNR (UINT64_C(1) << 6) /* write not read */
#define DFSC_TRANS_L3 UINT64_C(0x07) /* translation fault, level 3 */
#define DFSC_PERM_L3 UINT64_C(0x0f) /* permission fault, level 3 */

static uint64_t esr_dabt_write(uint64_t dfsc)
{
	return (ESR_EC_DABT_LOW << ESR_EC_SHIFT) | ESR_IL | ESR_WNR | dfsc;
}

/* HPFAR_EL2.FIPA = IPA[51:12] in bits [43:4] (no LPA2). */
static uint64_t hpfar_of(uint64_t ipa)
{
	return ((ipa >> 12) << 4) & ((UINT64_C(1) << 44) - 1);
}

/* FAR_EL2 holds the guest VA: only bits [11:0] (the offset in the page) are used. */
static uint64_t far_of(uint64_t ipa)
{
	return UINT64_C(0x0000ffff80000000) | (ipa & 0xfff);
}

/* One benchmark instance: a port, and either a VM or an owner with one guest. */
struct bench {
	struct s2_host_port *hp;
	struct s2_port port;
	struct s2_caps caps;
	struct s2_config cfg;
	uint64_t size;
	/* VM layer */
	struct s2_vmid_alloc vmids;
	struct s2_memslot slots[2];
	struct s2_vm vm;
	struct s2_vcpu vcpu;
	bool vm_live;
	struct s2_vm_stats stats_before;
	/* owner layer */
	struct s2_owner o;
	struct s2_owner_ram ram;
	struct s2_page_meta *meta;
	struct s2_pgtable gpgt;
	struct s2_owner_guest g;
	bool owner_live;
	int64_t hyp_bytes; /* bytes the hypervisor has mapped (hyp.map - hyp.unmap) */
	uint64_t hyp_maps;
	uint64_t scrubbed;
};

static uint64_t nr_pages(const struct bench *b)
{
	return b->size / PAGE_4K;
}

static uint64_t arena_bytes_for(uint64_t mapped_bytes)
{
	uint64_t pages = mapped_bytes / BLOCK_2M + mapped_bytes / GIB + 64;

	return S2_ALIGN_UP(pages * PAGE_4K + 4 * MIB, 64 * 1024);
}

static int bench_init(struct bench *b, uint64_t arena)
{
	struct s2_host_port_opts po = { .pa_base = BENCH_ARENA_PA,
					.arena_bytes = arena,
					.log_capacity = 0 };
	struct s2_config_req req = { .ipa_bits = 40,
				     .granule = S2_GRANULE_4K,
				     .flags = S2_CFG_FWB };
	int ret;

	memset(b, 0, sizeof(*b));
	b->size = bench_opts.size;
	ret = s2_caps_max(48, &b->caps);
	if (!ret)
		ret = s2_config_init(&b->cfg, &b->caps, &req);
	if (ret) {
		FAIL("config (4K, 40-bit, FWB): %d", ret);
		return ret;
	}
	ret = s2_host_port_create(&po, &b->hp);
	if (ret) {
		FAIL("s2_host_port_create(%" PRIu64 " bytes): %d", arena, ret);
		return ret;
	}
	b->port = s2_host_port_port(b->hp);
	return 0;
}

static void bench_fini(struct bench *b)
{
	if (b->hp)
		s2_host_port_destroy(b->hp);
	free(b->meta);
	b->meta = NULL;
	b->hp = NULL;
}

/* ---- VM layer: setup ------------------------------------------------------------------------ */

static int vm_create(struct bench *b, uint64_t slot_flags)
{
	struct s2_vm_params p = {
		.caps = &b->caps,
		.req = { .ipa_bits = 40, .granule = S2_GRANULE_4K, .flags = S2_CFG_FWB },
		.port = b->port,
		.vmids = &b->vmids,
		.slots = b->slots,
		.max_slots = 2,
		.locked_limit = 0,
		.hooks = { .load_stage2 = s2_host_port_load_stage2 },
	};
	struct s2_memslot_desc d = {
		.id = 1,
		.ipa = s2_ipa(BENCH_IPA_BASE),
		.size = b->size,
		.backing = S2_BACKING_RAM,
		.pa = s2_pa(BENCH_PA_BASE),
		.host_type = S2_HOSTMEM_NORMAL,
		.backing_page_size = PAGE_4K, /* 4K host pages: every fault maps one page */
		.flags = slot_flags,
	};
	struct s2_vcpu_entry entry;
	int ret;

	ret = s2_vmid_alloc_init(&b->vmids, 16);
	if (!ret)
		ret = s2_vm_init(&b->vm, &p);
	if (ret) {
		FAIL("s2_vm_init: %d", ret);
		return ret;
	}
	b->vm_live = true;
	ret = s2_vcpu_init(&b->vcpu, &b->vm, 0);
	if (!ret)
		ret = s2_vm_slot_add(&b->vm, &d);
	if (!ret)
		ret = s2_vm_vcpu_enter(&b->vcpu, &entry);
	if (ret)
		FAIL("vcpu/slot setup: %d", ret);
	return ret;
}

static void vm_destroy(struct bench *b)
{
	if (!b->vm_live)
		return;
	s2_vcpu_destroy(&b->vcpu);
	s2_vm_destroy(&b->vm);
	b->vm_live = false;
	if (s2_host_port_stats(b->hp).pages_in_use)
		FAIL("VM destroyed with %" PRIu64 " pages still allocated",
		     s2_host_port_stats(b->hp).pages_in_use);
}

static int vm_fault(struct bench *b, uint64_t esr, uint64_t ipa, enum s2_resume_reason want)
{
	struct s2_abort_result r;
	int ret = s2_vm_handle_abort(&b->vcpu, esr, far_of(ipa), hpfar_of(ipa), &r);

	if (ret || r.action != S2_ABORT_RESUME || r.resume != want || s2_ipa_val(r.ipa) != ipa) {
		FAIL("setup fault at %#" PRIx64 ": %d, action %s, resume %s", ipa, ret,
		     s2_abort_action_name(r.action), s2_resume_reason_name(r.resume));
		return -1;
	}
	return 0;
}

/* What the walker must find at a slot page: the backing page, 4K at level 3, Normal WB (FWB
 * encoding), AF set, S2AP as given. */
static int vm_verify_page(struct bench *b, const char *op, uint64_t off, unsigned int s2ap)
{
	struct s2_walk_mem mem = s2_host_port_walk_mem(b->hp);
	struct s2_access rd = { .type = S2_ACCESS_READ };
	struct s2_walk_result res;
	uint64_t ipa = BENCH_IPA_BASE + off;
	uint8_t wb;
	int ret;

	s2_memattr_encode(S2_MT_NORMAL_WB, true, &wb);
	ret = s2_walk(&b->vm.pgt.cfg, b->vm.pgt.root_pa, &mem, s2_ipa(ipa), rd, &res);
	if (ret || res.fault != S2_FAULT_NONE || s2_pa_val(res.pa) != BENCH_PA_BASE + off ||
	    res.level != 3 || res.block_size != PAGE_4K || res.s2ap != s2ap || !res.af ||
	    res.memattr != wb) {
		FAIL("%s: IPA %#" PRIx64 ": walk %d %s pa %#" PRIx64 " L%d size %#" PRIx64
		     " s2ap %u af %d memattr %#x; expected pa %#" PRIx64
		     " L3 4K s2ap %u memattr %#x",
		     op, ipa, ret, s2_fault_name(res.fault), s2_pa_val(res.pa), res.level,
		     res.block_size, res.s2ap, res.af, res.memattr, BENCH_PA_BASE + off, s2ap, wb);
		return -1;
	}
	return 0;
}

struct vm_verify_ctx {
	struct bench *b;
	const char *op;
	unsigned int s2ap;
};

static int vm_verify_page_at(void *ctx, uint64_t off)
{
	struct vm_verify_ctx *v = ctx;

	return vm_verify_page(v->b, v->op, off, v->s2ap);
}

static int vm_verify_region(struct bench *b, const char *op, unsigned int s2ap)
{
	struct vm_verify_ctx ctx = { b, op, s2ap };

	if (bench_verify_pages(b->size, vm_verify_page_at, &ctx))
		return -1;
	return bench_check_leaves(op, &b->vm.pgt, nr_pages(b));
}

static int setup_fault(struct bench *b)
{
	uint64_t off;

	if (vm_create(b, 0))
		return -1;
	/* One neighbour page per L3 table, so every table exists. */
	for (off = 0; off < b->size; off += BLOCK_2M)
		if (vm_fault(b, esr_dabt_write(DFSC_TRANS_L3), BENCH_IPA_BASE + off,
			     S2_RESUME_MAPPED))
			return -1;
	/* The starting state: a page still unmapped (an operation doing nothing cannot pass). */
	{
		struct s2_lookup lk;

		if (s2_pgtable_lookup(&b->vm.pgt, s2_ipa(BENCH_IPA_BASE + PAGE_4K), &lk) ||
		    lk.valid) {
			FAIL("fault_4k setup: page 1 already mapped");
			return -1;
		}
	}
	b->stats_before = b->vm.stats;
	return 0;
}

static int setup_fault_dirty(struct bench *b)
{
	uint64_t off;

	if (vm_create(b, S2_SLOT_DIRTY_LOG))
		return -1;
	/* Read faults while logging map read-only pages. */
	for (off = 0; off < b->size; off += PAGE_4K)
		if (vm_fault(b, (ESR_EC_DABT_LOW << ESR_EC_SHIFT) | ESR_IL | DFSC_TRANS_L3,
			     BENCH_IPA_BASE + off, S2_RESUME_MAPPED))
			return -1;
	if (vm_verify_page(b, "fault_dirty_4k setup", b->size / 2, S2_S2AP_RO))
		return -1;
	b->stats_before = b->vm.stats;
	return 0;
}

/* ---- the measured operations ---------------------------------------------------------------- */

int bench_op_fault_4k(struct bench *b);
int bench_op_fault_dirty_4k(struct bench *b);
int bench_op_share_4k(struct bench *b);
int bench_op_share_hyp_range(struct bench *b);
int bench_op_donate_4k(struct bench *b);
int bench_op_donate_hyp_range(struct bench *b);
int bench_op_donate_guest_4k(struct bench *b);
int bench_op_donate_guest_2m(struct bench *b);

/* A guest write to every page but the first of each 2 MiB: translation fault, level 3. */
__attribute__((noinline)) int bench_op_fault_4k(struct bench *b)
{
	struct s2_vcpu *vcpu = &b->vcpu;
	uint64_t ipa = BENCH_IPA_BASE, end = BENCH_IPA_BASE + b->size;
	const uint64_t esr = esr_dabt_write(DFSC_TRANS_L3);
	struct s2_abort_result r;
	int ret;

	for (; ipa < end; ipa += PAGE_4K) {
		if (!(ipa & (BLOCK_2M - 1)))
			continue; /* the neighbour faulted in at setup */
		ret = s2_vm_handle_abort(vcpu, esr, far_of(ipa), hpfar_of(ipa), &r);
		if (ret)
			return ret;
	}
	return 0;
}

/* A guest write to every (read-only, dirty-logged) page: permission fault, level 3. */
__attribute__((noinline)) int bench_op_fault_dirty_4k(struct bench *b)
{
	struct s2_vcpu *vcpu = &b->vcpu;
	uint64_t ipa = BENCH_IPA_BASE, end = BENCH_IPA_BASE + b->size;
	const uint64_t esr = esr_dabt_write(DFSC_PERM_L3);
	struct s2_abort_result r;
	int ret;

	for (; ipa < end; ipa += PAGE_4K) {
		ret = s2_vm_handle_abort(vcpu, esr, far_of(ipa), hpfar_of(ipa), &r);
		if (ret)
			return ret;
	}
	return 0;
}

__attribute__((noinline)) int bench_op_share_4k(struct bench *b)
{
	struct s2_owner *o = &b->o;
	uint64_t pa = BENCH_RAM_PA, end = BENCH_RAM_PA + b->size;
	int ret;

	for (; pa < end; pa += PAGE_4K) {
		ret = s2_owner_host_share_hyp(o, s2_pa(pa), PAGE_4K);
		if (ret)
			return ret;
	}
	return 0;
}

__attribute__((noinline)) int bench_op_share_hyp_range(struct bench *b)
{
	return s2_owner_host_share_hyp(&b->o, s2_pa(BENCH_RAM_PA), b->size);
}

__attribute__((noinline)) int bench_op_donate_4k(struct bench *b)
{
	struct s2_owner *o = &b->o;
	uint64_t pa = BENCH_RAM_PA, end = BENCH_RAM_PA + b->size;
	int ret;

	for (; pa < end; pa += PAGE_4K) {
		ret = s2_owner_host_donate_hyp(o, s2_pa(pa), PAGE_4K);
		if (ret)
			return ret;
	}
	return 0;
}

__attribute__((noinline)) int bench_op_donate_hyp_range(struct bench *b)
{
	return s2_owner_host_donate_hyp(&b->o, s2_pa(BENCH_RAM_PA), b->size);
}

__attribute__((noinline)) int bench_op_donate_guest_4k(struct bench *b)
{
	struct s2_owner *o = &b->o;
	struct s2_owner_guest *g = &b->g;
	uint64_t pa = BENCH_RAM_PA, end = BENCH_RAM_PA + b->size;
	uint64_t ipa = BENCH_IPA_BASE;
	int ret;

	for (; pa < end; pa += PAGE_4K, ipa += PAGE_4K) {
		ret = s2_owner_host_donate_guest(o, g, s2_ipa(ipa), PAGE_4K, s2_pa(pa));
		if (ret)
			return ret;
	}
	return 0;
}

__attribute__((noinline)) int bench_op_donate_guest_2m(struct bench *b)
{
	struct s2_owner *o = &b->o;
	struct s2_owner_guest *g = &b->g;
	uint64_t pa = BENCH_RAM_PA, end = BENCH_RAM_PA + b->size;
	uint64_t ipa = BENCH_IPA_BASE;
	int ret;

	for (; pa < end; pa += BLOCK_2M, ipa += BLOCK_2M) {
		ret = s2_owner_host_donate_guest(o, g, s2_ipa(ipa), BLOCK_2M, s2_pa(pa));
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- VM layer: verification ----------------------------------------------------------------- */

static int verify_fault(struct bench *b)
{
	uint64_t units = nr_pages(b) - b->size / BLOCK_2M;

	if (b->vm.stats.mapped - b->stats_before.mapped != units ||
	    b->vm.stats.faults[0] - b->stats_before.faults[0] != units) {
		FAIL("fault_4k: %" PRIu64 " translation faults, %" PRIu64
		     " mapped; expected %" PRIu64,
		     b->vm.stats.faults[0] - b->stats_before.faults[0],
		     b->vm.stats.mapped - b->stats_before.mapped, units);
		return -1;
	}
	return vm_verify_region(b, "fault_4k", S2_S2AP_RW);
}

static int verify_fault_dirty(struct bench *b)
{
	uint64_t pages = nr_pages(b), words = (pages + 63) / 64, nr = 0, i;
	uint64_t *bm;
	int ret;

	if (b->vm.stats.relaxed - b->stats_before.relaxed != pages ||
	    b->vm.stats.faults[1] - b->stats_before.faults[1] != pages) {
		FAIL("fault_dirty_4k: %" PRIu64 " permission faults, %" PRIu64
		     " relaxed; expected %" PRIu64,
		     b->vm.stats.faults[1] - b->stats_before.faults[1],
		     b->vm.stats.relaxed - b->stats_before.relaxed, pages);
		return -1;
	}
	if (vm_verify_region(b, "fault_dirty_4k", S2_S2AP_RW))
		return -1;
	bm = calloc(words, sizeof(*bm));
	if (!bm) {
		FAIL("out of memory");
		return -1;
	}
	ret = s2_vm_dirty_log_get(&b->vm, 1, bm, words, &nr);
	for (i = 0; !ret && i < pages; i++)
		if (!(bm[i / 64] & (UINT64_C(1) << (i % 64))))
			break;
	free(bm);
	if (ret || nr != pages || i != pages) {
		FAIL("fault_dirty_4k: dirty_log_get %d, %" PRIu64 " dirty of %" PRIu64
		     ", first clean page %" PRIu64,
		     ret, nr, pages, i);
		return -1;
	}
	/* Harvesting re-protects: the pages are read-only again. */
	return vm_verify_page(b, "fault_dirty_4k harvested", b->size / 2, S2_S2AP_RO);
}

/* ---- owner layer: setup, revert, verification ------------------------------------------------ */

static int hyp_map(void *ctx, s2_pa_t pa, uint64_t size, enum s2_page_state state, uint64_t flags)
{
	struct bench *b = ctx;

	(void)pa;
	(void)state;
	(void)flags;
	b->hyp_bytes += (int64_t)size;
	b->hyp_maps++;
	return 0;
}

static void hyp_unmap(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct bench *b = ctx;

	(void)pa;
	b->hyp_bytes -= (int64_t)size;
}

static void scrub(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct bench *b = ctx;

	(void)pa;
	b->scrubbed += size;
}

static int owner_create(struct bench *b)
{
	struct s2_owner_params p = {
		.host_cfg = &b->cfg,
		.port = b->port,
		.cookie = b,
		.ram = &b->ram,
		.nr_ram = 1,
		.meta = b->meta,
		.nr_meta = nr_pages(b),
		.hyp = { .map = hyp_map, .unmap = hyp_unmap, .ctx = b },
		.host_stage2 = { .load = s2_host_port_load_stage2, .put = s2_host_port_put_stage2 },
	};
	enum s2_host_abort_action action;
	uint64_t pa;
	int ret;

	b->ram = (struct s2_owner_ram){ .base = s2_pa(BENCH_RAM_PA), .size = b->size };
	memset(b->meta, 0, nr_pages(b) * sizeof(*b->meta));
	b->hyp_bytes = 0;
	b->hyp_maps = 0;
	b->scrubbed = 0;
	ret = s2_owner_init(&b->o, &p);
	if (ret) {
		FAIL("s2_owner_init: %d", ret);
		return ret;
	}
	b->owner_live = true;
	ret = s2_pgtable_init(&b->gpgt, &b->cfg, &b->port, &b->g);
	if (!ret)
		ret = s2_owner_guest_init(&b->g, &b->gpgt, GUEST_ID, true);
	if (ret) {
		FAIL("guest init: %d", ret);
		return ret;
	}
	/* The host touches its RAM: the host stage-2 maps it with the largest blocks. */
	for (pa = BENCH_RAM_PA; pa < BENCH_RAM_PA + b->size; pa += BLOCK_2M) {
		struct s2_lookup lk;

		if (!s2_pgtable_lookup(&b->o.host, s2_ipa(pa), &lk) && lk.valid)
			continue;
		ret = s2_owner_host_handle_fault(&b->o, s2_pa(pa), &action);
		if (ret || action != S2_HOST_ABORT_MAPPED) {
			FAIL("host fault at %#" PRIx64 ": %d, action %d", pa, ret, action);
			return -1;
		}
	}
	return 0;
}

static void owner_destroy(struct bench *b)
{
	if (!b->owner_live)
		return;
	s2_page_cache_drain(&b->g.cache, &b->port, PAGE_4K);
	s2_pgtable_destroy(&b->gpgt);
	s2_owner_destroy(&b->o);
	b->owner_live = false;
	if (s2_host_port_stats(b->hp).pages_in_use)
		FAIL("owner destroyed with %" PRIu64 " pages still allocated",
		     s2_host_port_stats(b->hp).pages_in_use);
}

enum owner_expect {
	EXP_HOST_OWNED, /* host OWNED, hyp NOPAGE, host stage-2 maps it identity RWX */
	EXP_SHARED_HYP, /* host SHARED_OWNED, hyp SHARED_BORROWED, host still maps it */
	EXP_HYP_OWNED, /* host NOPAGE, hyp OWNED, host PTE invalid annotated HYP */
	EXP_GUEST_OWNED, /* host NOPAGE annotated GUEST_ID, guest OWNED mapping it at IPA */
};

static int owner_verify_page(struct bench *b, const char *op, uint64_t off, enum owner_expect e)
{
	static const struct {
		enum s2_page_state host, hyp;
		uint8_t owner;
		bool host_maps;
	} want[] = {
		[EXP_HOST_OWNED] = { S2_PAGE_OWNED, S2_PAGE_NOPAGE, S2_OWNER_HOST, true },
		[EXP_SHARED_HYP] = { S2_PAGE_SHARED_OWNED, S2_PAGE_SHARED_BORROWED, S2_OWNER_HOST,
				     true },
		[EXP_HYP_OWNED] = { S2_PAGE_NOPAGE, S2_PAGE_OWNED, S2_OWNER_HYP, false },
		[EXP_GUEST_OWNED] = { S2_PAGE_NOPAGE, S2_PAGE_NOPAGE, GUEST_ID, false },
	};
	struct s2_walk_mem mem = s2_host_port_walk_mem(b->hp);
	struct s2_access wr = { .type = S2_ACCESS_WRITE };
	uint64_t pa = BENCH_RAM_PA + off;
	struct s2_page_info info;
	struct s2_walk_result res;
	struct s2_lookup lk;
	int ret;

	ret = s2_owner_page_info(&b->o, s2_pa(pa), &info);
	if (ret || !info.ram || info.host != want[e].host || info.hyp != want[e].hyp ||
	    info.owner != want[e].owner || info.share_count) {
		FAIL("%s: PA %#" PRIx64 ": page_info %d ram %d host %s hyp %s owner %u count %u; "
		     "expected host %s hyp %s owner %u",
		     op, pa, ret, info.ram, s2_page_state_name(info.host),
		     s2_page_state_name(info.hyp), info.owner, info.share_count,
		     s2_page_state_name(want[e].host), s2_page_state_name(want[e].hyp),
		     want[e].owner);
		return -1;
	}
	/* The host stage-2 as the hardware sees it: a host write translates identity, or faults
	 * (translation) on an entry annotated with the new owner. */
	ret = s2_walk(&b->cfg, b->o.host.root_pa, &mem, s2_ipa(pa), wr, &res);
	if (want[e].host_maps ? (ret || res.fault != S2_FAULT_NONE || s2_pa_val(res.pa) != pa ||
				 res.s2ap != S2_S2AP_RW) :
				(ret || res.fault != S2_FAULT_TRANSLATION)) {
		FAIL("%s: PA %#" PRIx64 ": host write walk %d %s pa %#" PRIx64 " s2ap %u", op, pa,
		     ret, s2_fault_name(res.fault), s2_pa_val(res.pa), res.s2ap);
		return -1;
	}
	if (!want[e].host_maps && (s2_pgtable_lookup(&b->o.host, s2_ipa(pa), &lk) || lk.valid ||
				   s2_lookup_owner(lk) != want[e].owner)) {
		FAIL("%s: PA %#" PRIx64 ": host PTE %#" PRIx64 " annotated %u, expected %u", op, pa,
		     (uint64_t)lk.pte, s2_lookup_owner(lk), want[e].owner);
		return -1;
	}
	if (e == EXP_GUEST_OWNED) {
		uint64_t ipa = BENCH_IPA_BASE + off;
		enum s2_page_state st;
		s2_pa_t gpa;

		ret = s2_owner_guest_page(&b->g, s2_ipa(ipa), &st, &gpa);
		if (ret || st != S2_PAGE_OWNED || s2_pa_val(gpa) != pa) {
			FAIL("%s: guest IPA %#" PRIx64 ": %d state %s pa %#" PRIx64, op, ipa, ret,
			     s2_page_state_name(st), s2_pa_val(gpa));
			return -1;
		}
		ret = s2_walk(&b->gpgt.cfg, b->gpgt.root_pa, &mem, s2_ipa(ipa), wr, &res);
		if (ret || res.fault != S2_FAULT_NONE || s2_pa_val(res.pa) != pa ||
		    res.block_size != PAGE_4K || res.s2ap != S2_S2AP_RW) {
			FAIL("%s: guest IPA %#" PRIx64 ": walk %d %s pa %#" PRIx64
			     " size %#" PRIx64,
			     op, ipa, ret, s2_fault_name(res.fault), s2_pa_val(res.pa),
			     res.block_size);
			return -1;
		}
	}
	return 0;
}

static int owner_check_tables(struct bench *b, const char *op, uint64_t guest_leaves)
{
	struct s2_check_report rep;
	int ret;

	memset(&rep, 0, sizeof(rep));
	ret = s2_pgtable_check(&b->o.host, &rep);
	if (ret || rep.errors) {
		FAIL("%s: host stage-2 check: %d, %" PRIu64 " errors: %s", op, ret, rep.errors,
		     rep.first_error);
		return -1;
	}
	memset(&rep, 0, sizeof(rep));
	ret = s2_pgtable_check(&b->gpgt, &rep);
	if (ret || rep.errors || rep.leaves != guest_leaves) {
		FAIL("%s: guest stage-2 check: %d, %" PRIu64 " errors, %" PRIu64
		     " leaves, expected %" PRIu64,
		     op, ret, rep.errors, rep.leaves, guest_leaves);
		return -1;
	}
	return 0;
}

struct owner_verify_ctx {
	struct bench *b;
	const char *op;
	enum owner_expect e;
};

static int owner_verify_page_at(void *ctx, uint64_t off)
{
	struct owner_verify_ctx *v = ctx;

	return owner_verify_page(v->b, v->op, off, v->e);
}

static int owner_verify_region(struct bench *b, const char *op, enum owner_expect e)
{
	struct owner_verify_ctx ctx = { b, op, e };
	uint64_t pages = nr_pages(b);
	int64_t hyp_want = e == EXP_SHARED_HYP || e == EXP_HYP_OWNED ? (int64_t)b->size : 0;

	if (bench_verify_pages(b->size, owner_verify_page_at, &ctx))
		return -1;
	if (b->hyp_bytes != hyp_want) {
		FAIL("%s: the hypervisor maps %" PRId64 " bytes, expected %" PRId64, op,
		     b->hyp_bytes, hyp_want);
		return -1;
	}
	return owner_check_tables(b, op, e == EXP_GUEST_OWNED ? pages : 0);
}

static int setup_owner(struct bench *b)
{
	return owner_create(b) || owner_verify_page(b, "owner setup", b->size / 2, EXP_HOST_OWNED);
}

static int verify_share_hyp(struct bench *b)
{
	return owner_verify_region(b, "share_hyp", EXP_SHARED_HYP);
}

static int verify_donate_hyp(struct bench *b)
{
	return owner_verify_region(b, "donate_hyp", EXP_HYP_OWNED);
}

static int verify_donate_guest(struct bench *b)
{
	return owner_verify_region(b, "donate_guest", EXP_GUEST_OWNED);
}

/* Back to the host (one call for the range, not measured), checked like the transition. */
static int revert_share_hyp(struct bench *b)
{
	int ret = s2_owner_host_unshare_hyp(&b->o, s2_pa(BENCH_RAM_PA), b->size);

	if (ret) {
		FAIL("unshare_hyp: %d", ret);
		return ret;
	}
	return owner_verify_region(b, "unshare_hyp", EXP_HOST_OWNED);
}

static int revert_donate_hyp(struct bench *b)
{
	enum s2_host_abort_action action;
	int ret = s2_owner_hyp_donate_host(&b->o, s2_pa(BENCH_RAM_PA), b->size);

	if (ret) {
		FAIL("donate_hyp_host: %d", ret);
		return ret;
	}
	/* The host faults its pages back in (a sample) before they translate again. */
	ret = s2_owner_host_handle_fault(&b->o, s2_pa(BENCH_RAM_PA + b->size / 2), &action);
	if (ret || action != S2_HOST_ABORT_MAPPED) {
		FAIL("host refault after donate_hyp_host: %d", ret);
		return -1;
	}
	return owner_verify_page(b, "donate_hyp_host", b->size / 2, EXP_HOST_OWNED) ||
	       owner_check_tables(b, "donate_hyp_host", 0);
}

static int revert_donate_guest(struct bench *b)
{
	enum s2_host_abort_action action;
	int ret = s2_owner_guest_destroy(&b->o, &b->g, scrub, b);

	if (ret || b->scrubbed != b->size) {
		FAIL("guest teardown: %d, %" PRIu64 " bytes scrubbed of %" PRIu64, ret, b->scrubbed,
		     b->size);
		return -1;
	}
	ret = s2_owner_host_handle_fault(&b->o, s2_pa(BENCH_RAM_PA + b->size / 2), &action);
	if (ret || action != S2_HOST_ABORT_MAPPED) {
		FAIL("host refault after teardown: %d", ret);
		return -1;
	}
	return owner_verify_page(b, "guest teardown", b->size / 2, EXP_HOST_OWNED) ||
	       owner_check_tables(b, "guest teardown", 0);
}

/* ---- operation table, running, reporting ------------------------------------------------------ */

struct op_desc {
	const char *name;
	const char *unit;
	bool owner; /* owner layer (else VM layer) */
	int (*setup)(struct bench *b);
	int (*run)(struct bench *b);
	int (*verify)(struct bench *b);
	int (*revert)(struct bench *b); /* owner: back to the host, verified */
	uint64_t (*units)(const struct bench *b);
};

static uint64_t units_fault(const struct bench *b)
{
	return nr_pages(b) - b->size / BLOCK_2M;
}

static uint64_t units_pages(const struct bench *b)
{
	return nr_pages(b);
}

static const struct op_desc ops[] = {
	{ "fault_4k", "op", false, setup_fault, bench_op_fault_4k, verify_fault, NULL,
	  units_fault },
	{ "fault_dirty_4k", "op", false, setup_fault_dirty, bench_op_fault_dirty_4k,
	  verify_fault_dirty, NULL, units_pages },
	{ "share_4k", "page", true, setup_owner, bench_op_share_4k, verify_share_hyp,
	  revert_share_hyp, units_pages },
	{ "share_hyp_range", "page", true, setup_owner, bench_op_share_hyp_range, verify_share_hyp,
	  revert_share_hyp, units_pages },
	{ "donate_4k", "page", true, setup_owner, bench_op_donate_4k, verify_donate_hyp,
	  revert_donate_hyp, units_pages },
	{ "donate_hyp_range", "page", true, setup_owner, bench_op_donate_hyp_range,
	  verify_donate_hyp, revert_donate_hyp, units_pages },
	{ "donate_guest_4k", "page", true, setup_owner, bench_op_donate_guest_4k,
	  verify_donate_guest, revert_donate_guest, units_pages },
	{ "donate_guest_2m", "page", true, setup_owner, bench_op_donate_guest_2m,
	  verify_donate_guest, revert_donate_guest, units_pages },
};

static void run_op(const struct op_desc *op)
{
	uint64_t ns[64], wall[64], units = 0;
	struct bench *b = calloc(1, sizeof(*b));
	int failures_before = bench_failures;
	unsigned int r;
	bool ok = true;

	if (!b || bench_init(b, 2 * arena_bytes_for(bench_opts.size))) {
		printf("%-26s FAILED\n", op->name);
		if (b)
			bench_fini(b);
		free(b);
		return;
	}
	if (op->owner) {
		b->meta = calloc(nr_pages(b), sizeof(*b->meta));
		if (!b->meta) {
			FAIL("out of memory");
			ok = false;
		}
	}
	for (r = 0; ok && r < bench_opts.reps; r++) {
		ok = !op->setup(b);
		units = op->units(b);
		ok = ok && !bench_measure(op->name, op->run, b, &ns[r], &wall[r]) &&
		     !op->verify(b) && (!op->revert || !op->revert(b));
		if (op->owner)
			owner_destroy(b);
		else
			vm_destroy(b);
	}
	if (ok && bench_failures == failures_before)
		bench_emit_timing(op->name, op->unit, units, bench_opts.size, ns, wall,
				  bench_opts.reps, true);
	else
		printf("%-26s FAILED\n", op->name);
	bench_fini(b);
	free(b);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_layers [--reps N] [--size-mib M] [--ops a,b,...] [--samples N]\n"
		"                    [--verify-all] [--callgrind] [--out FILE.jsonl]\n"
		"ops: fault_4k fault_dirty_4k share_4k share_hyp_range donate_4k\n"
		"     donate_hyp_range donate_guest_4k donate_guest_2m\n");
}

/* Its own option (bench_own_arg_fn): --size-mib, up to 64 GiB. */
static int own_arg(const char *a, const char *val)
{
	return bench_arg_size_mib(a, val, 65536) ? 2 : 0;
}

int main(int argc, char **argv)
{
	int ret = bench_begin(argc, argv, own_arg, usage, "VM/owner");

	if (ret >= 0)
		return ret;
	for (unsigned int i = 0; i < S2_ARRAY_SIZE(ops); i++)
		if (bench_op_selected(ops[i].name))
			run_op(&ops[i]);
	return bench_end(
		"all results verified (reference walker, s2_pgtable_check, layer state queries)");
}
