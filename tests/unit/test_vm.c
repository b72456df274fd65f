// SPDX-License-Identifier: MIT
/*
 * test_vm.c - the VM layer over the hosted port: vCPU entry values, memslot validation, every
 * guest-abort kind (ESR/HPFAR built with the Arm ARM bit layout), memory types of the mappings,
 * dirty logging (fault-based and DBM), aging and host invalidation, locked memslots with their
 * deferred maintenance, VMID rollover, and no leaked pages. Bodies run over every granule and
 * FWB on and off.
 */
#define _POSIX_C_SOURCE 200809L /* pthread rwlocks for the concurrency test */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>

#include <cmocka.h>

#include "host_port.h"
#include "s2_test_matrix.h"
#include "s2_test_vm.h"
#include "s2mmu/vm.h"
#include "s2mmu/walk.h"

/* ---- ESR_EL2 / HPFAR_EL2 as the hardware builds them (Arm ARM D19.2.48) ---------------------- */

#define ESR_EC(x) ((uint64_t)(x) << 26)
#define ESR_IL (UINT64_C(1) << 25)
#define ESR_ISV (UINT64_C(1) << 24)
#define ESR_SAS(x) ((uint64_t)(x) << 22)
#define ESR_SSE (UINT64_C(1) << 21)
#define ESR_SRT(x) ((uint64_t)(x) << 16)
#define ESR_SF (UINT64_C(1) << 15)
#define ESR_AR (UINT64_C(1) << 14)
#define ESR_CM (UINT64_C(1) << 8)
#define ESR_S1PTW (UINT64_C(1) << 7)
#define ESR_WNR (UINT64_C(1) << 6)

#define FSC_ADDR_SIZE(l) (0x00 | (l))
#define FSC_TRANS(l) (0x04 | (l))
#define FSC_AF(l) (0x08 | (l))
#define FSC_PERM(l) (0x0c | (l))
#define FSC_EXT 0x10

static uint64_t esr_dabt(unsigned int fsc, bool write)
{
	return ESR_EC(0x24) | ESR_IL | (write ? ESR_WNR : 0) | fsc;
}

static uint64_t esr_iabt(unsigned int fsc)
{
	return ESR_EC(0x20) | ESR_IL | fsc;
}

static uint64_t hpfar_of(uint64_t ipa)
{
	return (ipa >> 8) & ~UINT64_C(0xf) & ((UINT64_C(1) << 44) - 1); /* FIPA in [43:4] */
}

static uint64_t far_of(uint64_t ipa)
{
	return UINT64_C(0x0000ffff12345000) | (ipa & 0xfff); /* a guest VA: only [11:0] count */
}

/* ---- fixture -------------------------------------------------------------------------------- */

#define NSLOTS 8
#define ARENA_PA UINT64_C(0x40000000)
#define FAKE_PA UINT64_C(0x1000000000) /* backing PAs: not table memory */

struct fx {
	struct s2_host_lockcheck lc; /* first (s2_test_vm_lock()): every VM of the fixture locks
				      * through it */
	struct s2_host_port *hp;
	struct s2_caps caps;
	struct s2_vmid_alloc vmids;
	struct s2_vm vm;
	struct s2_memslot slots[NSLOTS];
	struct s2_vcpu vcpu;
	uint64_t g; /* granule bytes */
	uint64_t vm_flags; /* S2_VM_* for the next fx_vm() */
	uint64_t sanitised[64][2];
	unsigned int nr_sanitised;
	unsigned int loads;
	struct s2_port port; /* the port the VM uses (the host port, or a wrapper of it) */
};

/*
 * Lock hooks of every VM the tests create (fx_vm(), and the extra VMs through fx_hooks()): the
 * host port's lock checker (s2_test_vm_lock(), shared with test_owner.c), so that every test also checks the VM layer's locking: the order
 * SLOTS, MMU, VMID, no recursion, releases innermost first, nothing released that was not
 * taken. fx_locks_ok() — after each abort and at teardown — asserts no violation and nothing
 * held: a path that returns holding a lock, or releases one it never took, fails the test.
 */
static struct s2_vm_hooks fx_hooks(struct fx *f)
{
	return (struct s2_vm_hooks){ .lock = s2_test_vm_lock,
				     .unlock = s2_test_vm_unlock,
				     .load_stage2 = s2_host_port_load_stage2,
				     .ctx = f };
}

static void fx_locks_ok(struct fx *f, const char *when)
{
	const char *err = s2_test_vm_locks_error(&f->lc);

	if (err)
		fail_msg("VM locking %s: %s (%u held)", when, err, f->lc.depth);
}

static void hook_sanitise(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct fx *f = ctx;

	assert_true(f->nr_sanitised < 64);
	f->sanitised[f->nr_sanitised][0] = s2_pa_val(pa);
	f->sanitised[f->nr_sanitised][1] = size;
	f->nr_sanitised++;
}

static void hook_load(void *ctx, uint64_t vtcr, uint64_t vttbr)
{
	struct fx *f = ctx;

	assert_int_equal(vtcr, f->vm.pgt.cfg.vtcr);
	uint64_t now = 0;

	assert_int_equal(s2_vm_vttbr(&f->vm, &now), 0);
	assert_int_equal(vttbr, now);
	/* TLB maintenance for a VM never runs under the host's VMID 0. */
	assert_int_not_equal(vttbr >> 48, 0);
	f->loads++;
}

static struct fx *fx_new_port_log(unsigned int log_capacity)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct s2_host_port_opts o = { .pa_base = ARENA_PA,
				       .arena_bytes = 64 << 20,
				       .log_capacity = log_capacity };

	assert_non_null(f);
	assert_int_equal(s2_host_port_create(&o, &f->hp), 0);
	f->port = s2_host_port_port(f->hp);
	assert_int_equal(s2_caps_max(48, &f->caps), 0);
	assert_int_equal(s2_vmid_alloc_init(&f->vmids, 16), 0);
	s2_host_lockcheck_init_vm(&f->lc);
	return f;
}

static struct fx *fx_new_port(void)
{
	return fx_new_port_log(4096);
}

static int fx_vm(struct fx *f, enum s2_granule g, unsigned int ipa_bits, uint64_t cfg_flags)
{
	struct s2_vm_params p = {
		.caps = &f->caps,
		.req = { .ipa_bits = ipa_bits, .granule = g, .flags = cfg_flags },
		.flags = f->vm_flags,
		.port = f->port,
		.hooks = { .lock = s2_test_vm_lock,
			   .unlock = s2_test_vm_unlock,
			   .sanitise_tags = hook_sanitise,
			   .load_stage2 = hook_load,
			   .ctx = f },
		.vmids = &f->vmids,
		.slots = f->slots,
		.max_slots = NSLOTS,
		.locked_limit = 64 << 20,
	};
	int ret = s2_vm_init(&f->vm, &p);

	if (ret)
		return ret;
	f->g = s2_granule_size(g);
	assert_int_equal(s2_vcpu_init(&f->vcpu, &f->vm, 0), 0);
	return 0;
}

static struct fx *fx_new(enum s2_granule g, unsigned int ipa_bits, uint64_t cfg_flags)
{
	struct fx *f = fx_new_port();

	assert_int_equal(fx_vm(f, g, ipa_bits, cfg_flags), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	s2_vcpu_destroy(&f->vcpu);
	s2_vm_destroy(&f->vm);
	fx_locks_ok(f, "over the test");
	/* Every table page and bitmap went back to the port. */
	assert_int_equal(s2_host_port_stats(f->hp).pages_in_use, 0);
	s2_host_port_destroy(f->hp);
	free(f);
}

static uint64_t l2_size(enum s2_granule g)
{
	return s2_level_size(g, 2); /* 2M, 32M, 512M */
}

static struct s2_memslot_desc ram_slot(uint32_t id, uint64_t ipa, uint64_t size, uint64_t pa,
				       uint64_t bps)
{
	return (struct s2_memslot_desc){ .id = id,
					 .ipa = s2_ipa(ipa),
					 .size = size,
					 .backing = S2_BACKING_RAM,
					 .pa = s2_pa(pa),
					 .host_type = S2_HOSTMEM_NORMAL,
					 .backing_page_size = bps };
}

static void abort_at(struct fx *f, uint64_t esr, uint64_t ipa, struct s2_abort_result *r)
{
	struct s2_abort ab;

	assert_int_equal(s2_vm_handle_abort(&f->vcpu, esr, far_of(ipa), hpfar_of(ipa), r), 0);
	fx_locks_ok(f, "after an abort");
	assert_int_equal(s2_ipa_val(r->ipa), ipa);
	/* The result reports the fault the syndrome names (the arch layer's decoding). */
	assert_int_equal(s2_abort_decode(esr, far_of(ipa), hpfar_of(ipa), true, &ab), 0);
	assert_int_equal(r->fault, ab.fault);
	assert_int_equal(r->level, ab.level);
	assert_int_equal(r->s1ptw, ab.s1ptw);
}

static struct s2_lookup look(struct fx *f, uint64_t ipa)
{
	struct s2_lookup lk;

	assert_int_equal(s2_pgtable_lookup(&f->vm.pgt, s2_ipa(ipa), &lk), 0);
	return lk;
}

static unsigned int count_ev(struct fx *f, enum s2_host_event_kind k, uint64_t addr, uint64_t size)
{
	unsigned int n, c = 0;
	bool over;
	const struct s2_host_event *ev = s2_host_port_log(f->hp, &n, &over);

	assert_false(over);
	for (unsigned int i = 0; i < n; i++)
		if (ev[i].kind == k &&
		    (addr == UINT64_MAX || (ev[i].addr == addr && ev[i].size == size)))
			c++;
	return c;
}

static uint8_t memattr_of(const struct s2_lookup *lk)
{
	return (uint8_t)S2_FIELD_GET(S2_PTE_MEMATTR, lk->pte);
}

struct guest_out {
	enum s2_abort_action action; /* RESUME: the access completed */
	unsigned int faults; /* aborts taken on the way */
	struct s2_walk_result w; /* the final translation */
	struct s2_abort_result r; /* the last abort's result */
};

static struct guest_out guest_access(struct fx *f, enum s2_access_type type, uint64_t ipa);

static struct s2_test_cfg matrix[S2_TEST_MATRIX_MAX];
static size_t nmatrix;

/* Every config of the shared matrix (granules, IPA sizes, 48/52-bit hosts, FWB, HA/HD). */
#define FOR_EACH_CFG(m) for (const struct s2_test_cfg *m = matrix; m < matrix + nmatrix; m++)

static struct fx *fx_cfg(const struct s2_test_cfg *m)
{
	struct fx *f = fx_new_port();
	uint64_t flags = (m->cfg.fwb ? S2_CFG_FWB : 0) | (m->cfg.ha ? S2_CFG_HA : 0) |
			 (m->cfg.hd ? S2_CFG_HD : 0);

	print_message("config %s\n", m->name);
	assert_int_equal(s2_caps_max(m->cfg.pa_bits == 52 ? 52 : 48, &f->caps), 0);
	assert_int_equal(fx_vm(f, m->cfg.granule, m->cfg.ipa_bits, flags), 0);
	/* The VM runs exactly the matrix's config. */
	assert_int_equal(f->vm.pgt.cfg.vtcr, m->cfg.vtcr);
	return f;
}

static const enum s2_granule granules[] = { S2_GRANULE_4K, S2_GRANULE_16K, S2_GRANULE_64K };

#define FOR_MATRIX(g, fwb)                         \
	for (unsigned int gi_ = 0; gi_ < 3; gi_++) \
		for (int fwb = 0, g = granules[gi_]; fwb < 2; fwb++)

/* ---- vCPU entry ------------------------------------------------------------------------------ */

static void test_entry_per_vm_config(void **state)
{
	/* Golden VTCR_EL2 for 40-bit IPA, PARange 48 (PS=5), 16-bit VMIDs (VS), WBWA inner
	 * shareable tables (IRGN0=ORGN0=1, SH0=3), RES1 bit 31: 4K starts at L1 with two
	 * concatenated tables (SL0=01, TG0=00); 16K at L2 with 16 tables (SL0=01, TG0=10);
	 * 64K at L2 with one table (a 64K L2 table resolves 42 bits: SL0=01, TG0=01). T0SZ = 24. */
	static const uint64_t common = 24 | (1u << 8) | (1u << 10) | (3u << 12) | (5u << 16) |
				       (1u << 19) | (UINT64_C(1) << 31);
	static const uint64_t sl_tg[3] = { (1u << 6) | (0u << 14), (1u << 6) | (2u << 14),
					   (1u << 6) | (1u << 14) };
	(void)state;

	FOR_MATRIX(g, fwb)
	{
		struct fx *f = fx_new(g, 40, fwb ? S2_CFG_FWB : 0);
		struct s2_vcpu_entry e;

		assert_int_equal(s2_vm_vcpu_enter(&f->vcpu, &e), 0);
		assert_int_equal(e.vtcr, common | sl_tg[gi_]);
		assert_true(e.vmid_changed);
		/* VTTBR = root PA | VMID << 48 (16-bit VMID). */
		assert_int_equal(e.vttbr & ((UINT64_C(1) << 48) - 1), s2_pa_val(f->vm.pgt.root_pa));
		assert_int_not_equal(e.vttbr >> 48, 0);
		assert_true(e.hcr_set & S2_BIT(0)); /* HCR_EL2.VM */
		if (fwb) {
			assert_true(e.hcr_set & S2_BIT(46)); /* HCR_EL2.FWB */
			assert_false(e.hcr_clear & S2_BIT(46));
		} else {
			assert_false(e.hcr_set & S2_BIT(46));
			assert_true(e.hcr_clear & S2_BIT(46));
		}
		/* Second entry: same values, no new VMID. */
		struct s2_vcpu_entry e2;
		assert_int_equal(s2_vm_vcpu_enter(&f->vcpu, &e2), 0);
		assert_false(e2.vmid_changed);
		assert_int_equal(e2.vttbr, e.vttbr);
		fx_free(f);
	}
}

/* Two VMs with different IPA sizes side by side: their own VTCR, distinct VMIDs. */
static void test_entry_two_vms(void **state)
{
	struct fx *f = fx_new(S2_GRANULE_4K, 40, 0);
	struct s2_memslot slots2[2];
	struct s2_vm vm2;
	struct s2_vcpu v2;
	struct s2_vm_params p = { .caps = &f->caps,
				  .req = { .ipa_bits = 36, .granule = S2_GRANULE_4K },
				  .port = s2_host_port_port(f->hp),
				  .vmids = &f->vmids,
				  .slots = slots2,
				  .max_slots = 2,
				  .hooks = fx_hooks(f) };
	struct s2_vcpu_entry e1, e2;
	(void)state;

	assert_int_equal(s2_vm_init(&vm2, &p), 0);
	assert_int_equal(s2_vcpu_init(&v2, &vm2, 0), 0);
	assert_int_equal(s2_vm_vcpu_enter(&f->vcpu, &e1), 0);
	assert_int_equal(s2_vm_vcpu_enter(&v2, &e2), 0);
	assert_int_equal(e1.vtcr & 0x3f, 24);
	assert_int_equal(e2.vtcr & 0x3f, 28); /* T0SZ = 64 - 36 */
	assert_int_not_equal(e1.vttbr >> 48, e2.vttbr >> 48);
	s2_vcpu_destroy(&v2);
	s2_vm_destroy(&vm2);
	fx_free(f);
}

static void test_create_errors(void **state)
{
	struct fx *f = fx_new_port();
	struct s2_vmid_alloc a8;
	(void)state;

	assert_int_equal(fx_vm(f, S2_GRANULE_4K, 52, 0), S2_EIPA_TOO_BIG);
	assert_int_equal(fx_vm(f, S2_GRANULE_4K, 31, 0), S2_EIPA_TOO_SMALL);
	f->caps.gran[S2_GRANULE_16K] = S2_GRAN_NONE;
	assert_int_equal(fx_vm(f, S2_GRANULE_16K, 40, 0), S2_EGRANULE);
	assert_int_equal(s2_vmid_alloc_init(&a8, 12), S2_EVMID);
	{
		/* an 8-bit VM on a 16-bit allocator */
		struct s2_vm v;
		struct s2_vm_params p = {
			.caps = &f->caps,
			.req = { .ipa_bits = 40, .granule = S2_GRANULE_4K, .vmid_bits = 8 },
			.port = f->port,
			.vmids = &f->vmids,
			.slots = f->slots,
			.max_slots = NSLOTS,
			.hooks = fx_hooks(f),
		};
		assert_int_equal(s2_vm_init(&v, &p), S2_EVMID);
		p.req.vmid_bits = 16;
		p.max_slots = 0;
		assert_int_equal(s2_vm_init(&v, &p), S2_EINVAL);
		p.max_slots = NSLOTS;
		p.req.flags = S2_BIT(40);
		assert_int_equal(s2_vm_init(&v, &p), S2_EINVAL);
		assert_int_equal(s2_host_port_stats(f->hp).pages_in_use, 0);
	}
	assert_int_equal(fx_vm(f, S2_GRANULE_4K, 40, 0), 0);
	fx_free(f);
}

/* ---- memslots ------------------------------------------------------------------------------ */

static void test_slot_validation(void **state)
{
	(void)state;
	for (unsigned int gi = 0; gi < 3; gi++) {
		struct fx *f = fx_new(granules[gi], 40, 0);
		uint64_t g = f->g;
		struct s2_memslot_desc d = ram_slot(1, 0x40000000, 16 * g, FAKE_PA, 0);
		struct s2_memslot_desc e;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		e = ram_slot(2, 0x40000000 + 15 * g, 4 * g, FAKE_PA + 0x100000, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_EEXIST); /* overlap */
		e = ram_slot(1, 0x80000000, g, FAKE_PA, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_EEXIST); /* id taken */
		e = ram_slot(2, 0x80000000 + 0x800, g, FAKE_PA, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_EALIGN);
		e = ram_slot(2, 0x80000000, g + 0x800, FAKE_PA, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_EALIGN);
		e = ram_slot(2, 0x80000000, g, FAKE_PA + 0x800, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_EALIGN);
		e = ram_slot(2, 0x80000000, 0, FAKE_PA, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_EINVAL);
		e = ram_slot(2, (UINT64_C(1) << 40) - g, 2 * g, FAKE_PA, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_ERANGE);
		e = ram_slot(2, UINT64_C(1) << 40, g, FAKE_PA, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_ERANGE);
		e = ram_slot(2, 0x80000000, g, UINT64_C(1) << 48, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_ERANGE);
		e = ram_slot(2, 0x80000000, g, FAKE_PA, 0);
		e.flags = S2_BIT(7);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_EINVAL);
		e = ram_slot(2, 0x80000000, g, FAKE_PA, 3 * g); /* not a power of two */
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_EINVAL);
		e = ram_slot(2, 0x80000000, g, FAKE_PA, 0);
		e.host_type = S2_HOSTMEM_DEVICE_nGnRE;
		e.flags = S2_SLOT_ALLOW_ANY_UNCACHED; /* Device and NC at once */
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_EINVAL);
		/* nothing changed */
		assert_int_equal(f->vm.nr_slots, 1);
		/* fill the array */
		for (uint32_t i = 2; i <= NSLOTS; i++) {
			e = ram_slot(i, 0x80000000 + i * 0x1000000, g, FAKE_PA, 0);
			assert_int_equal(s2_vm_slot_add(&f->vm, &e), 0);
		}
		e = ram_slot(99, 0x100000000, g, FAKE_PA, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_ELIMIT);
		/* sorted, findable */
		assert_ptr_equal(s2_vm_slot_at(&f->vm, s2_ipa(0x80000000 + 5 * 0x1000000)),
				 s2_vm_slot_find(&f->vm, 5));
		assert_null(s2_vm_slot_at(&f->vm, s2_ipa(0x30000000)));
		assert_int_equal(s2_vm_slot_delete(&f->vm, 42), S2_ENOENT);
		assert_int_equal(s2_vm_slot_delete(&f->vm, 5), 0);
		assert_null(s2_vm_slot_find(&f->vm, 5));
		fx_free(f);
	}
}

/*
 * Boundaries: slot id 0 is an id like any other; a slot may end exactly at the top of the IPA
 * space and its backing exactly at the top of the output (PA) space, and a fault on its last
 * page maps it; one page more on either side (a slot straddling the limit) is S2_ERANGE.
 */
static void test_slot_boundaries(void **state)
{
	(void)state;
	for (unsigned int gi = 0; gi < 3; gi++) {
		struct fx *f = fx_new(granules[gi], 40, 0);
		uint64_t g = f->g, ipa_top = UINT64_C(1) << 40;
		uint64_t pa_top = UINT64_C(1) << f->vm.pgt.cfg.pa_bits;
		struct s2_memslot_desc d = ram_slot(0, 0x40000000, 4 * g, FAKE_PA, 0);
		struct s2_abort_result r;
		struct s2_lookup lk;
		uint64_t bm[1], nr;

		/* id 0 */
		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		assert_non_null(s2_vm_slot_find(&f->vm, 0));
		assert_ptr_equal(s2_vm_slot_at(&f->vm, s2_ipa(0x40000000 + 3 * g)),
				 s2_vm_slot_find(&f->vm, 0));
		assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 0, false), 0);
		abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x40000000 + 2 * g, &r);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 0, bm, 1, &nr), 0);
		assert_int_equal(nr, 1);
		assert_int_equal(bm[0], 1u << 2);
		assert_int_equal(s2_vm_slot_set_flags(&f->vm, 0, S2_SLOT_READONLY), 0);
		assert_int_equal(s2_vm_slot_move(&f->vm, 0, s2_ipa(0x50000000)), 0);
		assert_int_equal(s2_vm_slot_delete(&f->vm, 0), 0);
		assert_null(s2_vm_slot_find(&f->vm, 0));
		assert_int_equal(s2_vm_slot_delete(&f->vm, 0), S2_ENOENT);

		/* the last pages of the IPA space, backed by the last pages of the PA space */
		d = ram_slot(1, ipa_top - 2 * g, 2 * g, pa_top - 2 * g, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		abort_at(f, esr_dabt(FSC_TRANS(3), false), ipa_top - g, &r);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		lk = look(f, ipa_top - g);
		assert_true(lk.valid);
		assert_int_equal(s2_pa_val(lk.pa), pa_top - g);
		assert_int_equal(s2_vm_slot_delete(&f->vm, 1), 0);
		/* one page over either limit */
		d = ram_slot(1, ipa_top - g, 2 * g, FAKE_PA, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &d), S2_ERANGE);
		d = ram_slot(1, 0x40000000, 2 * g, pa_top - g, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &d), S2_ERANGE);
		d = ram_slot(1, 0x40000000, g, pa_top, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &d), S2_ERANGE);
		assert_int_equal(f->vm.nr_slots, 0);
		fx_free(f);
	}
}

/* ---- aborts ---------------------------------------------------------------------------------- */

/* A read translation fault on RAM maps the largest block the backing allows, R+W, not X,
 * Normal WB; without FWB the block is cleaned to PoC first. */
static void test_abort_translation_block(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		enum s2_granule g = m->cfg.granule;
		bool fwb = m->cfg.fwb;
		struct fx *f = fx_cfg(m);

		uint64_t blk = l2_size(g);
		uint64_t ipa0 = 2 * blk, pa0 = FAKE_PA + 4 * blk;
		struct s2_memslot_desc d = ram_slot(1, ipa0, 2 * blk, pa0, blk);
		struct s2_abort_result r;
		struct s2_lookup lk;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		s2_host_port_clear_log(f->hp);
		abort_at(f, esr_dabt(FSC_TRANS(1), false), ipa0 + blk + 0x1234 * 4, &r);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_int_equal(r.map_size, blk);
		lk = look(f, ipa0 + blk + 8 * f->g);
		assert_true(lk.valid);
		assert_int_equal(lk.size, blk);
		assert_int_equal(s2_pa_val(lk.pa), pa0 + blk + 8 * f->g);
		assert_true(s2_lookup_prot(lk) & S2_PROT_R);
		assert_true(s2_lookup_prot(lk) & S2_PROT_W);
		assert_false(s2_lookup_prot(lk) & S2_PROT_X);
		assert_int_equal(memattr_of(&lk), fwb ? 0x6 : 0xf);
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, pa0 + blk, blk), fwb ? 0 : 1);
		assert_int_equal(count_ev(f, S2_HOST_EV_IC_INVAL, UINT64_MAX, 0), 0);
		fx_free(f);
	}
}

/* Blocks only where the backing page size and alignment allow. */
static void test_abort_block_limits(void **state)
{
	(void)state;
	for (unsigned int gi = 0; gi < 3; gi++) {
		enum s2_granule g = granules[gi];
		struct fx *f = fx_new(g, 40, S2_CFG_FWB);
		uint64_t blk = l2_size(g);
		struct s2_abort_result r;
		/* slot 1: backed by granule pages */
		struct s2_memslot_desc d1 = ram_slot(1, 0, 2 * blk, FAKE_PA, 0);
		/* slot 2: huge backing, but PA misaligned by one granule w.r.t. IPA */
		struct s2_memslot_desc d2 =
			ram_slot(2, 4 * blk, 2 * blk, FAKE_PA + 8 * blk + f->g, blk);

		assert_int_equal(s2_vm_slot_add(&f->vm, &d1), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &d2), 0);
		abort_at(f, esr_dabt(FSC_TRANS(2), true), blk, &r);
		assert_int_equal(r.map_size, f->g);
		abort_at(f, esr_dabt(FSC_TRANS(2), true), 5 * blk, &r);
		assert_int_equal(r.map_size, f->g);
		assert_int_equal(look(f, 5 * blk).size, f->g);
		fx_free(f);
	}
}

/* The vCPU tries the slot of its previous abort first (s2_vcpu.slot_hint): after slots are
 * deleted or added (the array shifts), the hint may name another slot or none; the answer
 * must still be the slot that holds the IPA, or none. */
static void test_abort_slot_hint(void **state)
{
	(void)state;
	for (unsigned int gi = 0; gi < 3; gi++) {
		struct fx *f = fx_new(granules[gi], 40, S2_CFG_FWB);
		uint64_t blk = l2_size(granules[gi]), gb = f->g;
		struct s2_memslot_desc d1 = ram_slot(1, 0, 2 * blk, FAKE_PA, 0);
		struct s2_memslot_desc d2 = ram_slot(2, 4 * blk, 2 * blk, FAKE_PA + 8 * blk, 0);
		struct s2_abort_result r;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d1), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &d2), 0);
		/* slot 2 (index 1) */
		abort_at(f, esr_dabt(FSC_TRANS(3), true), 4 * blk, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_int_equal(s2_pa_val(look(f, 4 * blk).pa), FAKE_PA + 8 * blk);
		/* slot 1 deleted: slot 2 is index 0, the hint (1) names no slot */
		assert_int_equal(s2_vm_slot_delete(&f->vm, 1), 0);
		abort_at(f, esr_dabt(FSC_TRANS(3), true), 4 * blk + gb, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_int_equal(s2_pa_val(look(f, 4 * blk + gb).pa), FAKE_PA + 8 * blk + gb);
		/* outside every slot, with the hint on slot 2: not mapped (no ISV: NISV) */
		abort_at(f, esr_dabt(FSC_TRANS(3), true), 7, &r);
		assert_int_equal(r.action, S2_ABORT_NISV);
		assert_false(look(f, 0).valid);
		/* slot 1 back at index 0: the hint (0) now names slot 1, the IPA is slot 2's */
		assert_int_equal(s2_vm_slot_add(&f->vm, &d1), 0);
		abort_at(f, esr_dabt(FSC_TRANS(3), true), 4 * blk + 2 * gb, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_int_equal(s2_pa_val(look(f, 4 * blk + 2 * gb).pa),
				 FAKE_PA + 8 * blk + 2 * gb);
		abort_at(f, esr_dabt(FSC_TRANS(3), false), 3 * gb, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_int_equal(s2_pa_val(look(f, 3 * gb).pa), FAKE_PA + 3 * gb);
		fx_free(f);
	}
}

/* A syndrome level that no longer matches the tables (another vCPU built a table under the
 * entry): the shared fast path is refused and the fault is redone exclusively. */
static void test_abort_stale_level(void **state)
{
	(void)state;
	for (unsigned int gi = 0; gi < 3; gi++) {
		enum s2_granule g = granules[gi];
		struct fx *f = fx_new(g, 40, S2_CFG_FWB);
		uint64_t blk = l2_size(g), gb = f->g;
		struct s2_memslot_desc d = ram_slot(1, 2 * blk, 2 * blk, FAKE_PA + 2 * blk, blk);
		struct s2_abort_result r;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		/* level 3 reported: a page, and a last-level table under the L2 entry */
		abort_at(f, esr_dabt(FSC_TRANS(3), false), 2 * blk, &r);
		assert_int_equal(r.map_size, gb);
		/* level 2 reported (stale): a block would replace that table */
		abort_at(f, esr_dabt(FSC_TRANS(2), true), 2 * blk + 5 * gb, &r);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_int_equal(r.map_size, gb);
		assert_true(look(f, 2 * blk).valid);
		assert_int_equal(look(f, 2 * blk + 5 * gb).size, gb);
		/* the other block's entry is really empty at level 2: a block */
		abort_at(f, esr_dabt(FSC_TRANS(2), true), 3 * blk + 5 * gb, &r);
		assert_int_equal(r.map_size, blk);
		fx_free(f);
	}
}

static void test_abort_exec(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		struct fx *f = fx_cfg(m);

		uint64_t gb = f->g;
		struct s2_memslot_desc ram = ram_slot(1, 0x40000000, 64 * gb, FAKE_PA, 0);
		struct s2_memslot_desc dev =
			ram_slot(2, 0x08000000, 16 * gb, FAKE_PA + 0x10000000, 0);
		struct s2_abort_result r;
		struct s2_lookup lk;

		dev.backing = S2_BACKING_MMIO;
		dev.host_type = S2_HOSTMEM_DEVICE_nGnRE;
		assert_int_equal(s2_vm_slot_add(&f->vm, &ram), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &dev), 0);

		/* exec translation fault on RAM: mapped executable, I-cache invalidated. */
		s2_host_port_clear_log(f->hp);
		abort_at(f, esr_iabt(FSC_TRANS(3)), 0x40000000 + 3 * gb, &r);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		lk = look(f, 0x40000000 + 3 * gb);
		assert_true(s2_lookup_prot(lk) & S2_PROT_X);
		assert_int_equal(count_ev(f, S2_HOST_EV_IC_INVAL, UINT64_MAX, 0), 1);

		/* data first (no X), then exec: a permission fault granting X with IC maint. */
		abort_at(f, esr_dabt(FSC_TRANS(3), false), 0x40000000 + 5 * gb, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_false(s2_lookup_prot(look(f, 0x40000000 + 5 * gb)) & S2_PROT_X);
		s2_host_port_clear_log(f->hp);
		abort_at(f, esr_iabt(FSC_PERM(3)), 0x40000000 + 5 * gb + 0x40, &r);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		assert_int_equal(r.resume, S2_RESUME_RELAXED);
		assert_true(s2_lookup_prot(look(f, 0x40000000 + 5 * gb)) & S2_PROT_X);
		assert_int_equal(count_ev(f, S2_HOST_EV_IC_INVAL, FAKE_PA + 5 * gb, gb), 1);

		/* exec on Device MMIO: refused, injected, nothing mapped. */
		abort_at(f, esr_iabt(FSC_TRANS(3)), 0x08000000, &r);
		assert_int_equal(r.action, S2_ABORT_INJECT);
		assert_int_equal(r.inject, S2_INJECT_EXEC_REFUSED);
		assert_false(look(f, 0x08000000).valid);
		/* data access on it maps Device-nGnRE; an exec permission fault then injects. */
		abort_at(f, esr_dabt(FSC_TRANS(3), false), 0x08000000, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		lk = look(f, 0x08000000);
		assert_int_equal(memattr_of(&lk), 0x1);
		abort_at(f, esr_iabt(FSC_PERM(3)), 0x08000000, &r);
		assert_int_equal(r.action, S2_ABORT_INJECT);
		assert_int_equal(r.inject, S2_INJECT_EXEC_REFUSED);
		assert_false(s2_lookup_prot(look(f, 0x08000000)) & S2_PROT_X);

		/* exec outside every slot */
		abort_at(f, esr_iabt(FSC_TRANS(3)), 0x70000000, &r);
		assert_int_equal(r.action, S2_ABORT_INJECT);
		assert_int_equal(r.inject, S2_INJECT_EXEC_NOT_RAM);
		fx_free(f);
	}
}

/* RAM behind a Normal-NC (write-combine) host mapping is Normal at stage 2, as in KVM: the
 * guest's stage 1 picks (FWB: write-back), cleaned to PoC without FWB, exec allowed. A VM
 * created with S2_VM_KEEP_HOST_NC keeps Normal-NC instead and refuses exec. */
static void test_abort_nc_ram(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		for (int keep = 0; keep < 2; keep++) {
			struct fx *f = fx_new_port();
			uint64_t flags = (m->cfg.fwb ? S2_CFG_FWB : 0) |
					 (m->cfg.ha ? S2_CFG_HA : 0) | (m->cfg.hd ? S2_CFG_HD : 0);
			struct s2_memslot_desc d;
			struct s2_abort_result r;
			struct s2_lookup lk;

			assert_int_equal(s2_caps_max(m->cfg.pa_bits == 52 ? 52 : 48, &f->caps), 0);
			f->vm_flags = keep ? S2_VM_KEEP_HOST_NC : 0;
			assert_int_equal(fx_vm(f, m->cfg.granule, m->cfg.ipa_bits, flags), 0);
			d = ram_slot(1, 0x40000000, 4 * f->g, FAKE_PA, 0);
			d.host_type = S2_HOSTMEM_NORMAL_NC;
			assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
			s2_host_port_clear_log(f->hp);
			abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x40000000, &r);
			assert_int_equal(r.resume, S2_RESUME_MAPPED);
			lk = look(f, 0x40000000);
			assert_int_equal(memattr_of(&lk), keep ? 0x5 : m->cfg.fwb ? 0x6 : 0xf);
			assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, UINT64_MAX, 0),
					 keep || m->cfg.fwb ? 0 : 1);
			abort_at(f, esr_iabt(FSC_TRANS(3)), 0x40000000 + f->g, &r);
			if (keep) {
				assert_int_equal(r.action, S2_ABORT_INJECT);
				assert_int_equal(r.inject, S2_INJECT_EXEC_REFUSED);
			} else {
				assert_int_equal(r.resume, S2_RESUME_MAPPED);
				assert_true(s2_lookup_prot(look(f, 0x40000000 + f->g)) & S2_PROT_X);
			}
			/* exec on the data-mapped page: granted in place, or refused */
			abort_at(f, esr_iabt(FSC_PERM(3)), 0x40000000, &r);
			assert_int_equal(r.action, keep ? S2_ABORT_INJECT : S2_ABORT_RESUME);
			fx_free(f);
		}
	}
	/* unknown VM flags are refused */
	struct fx *f = fx_new_port();
	f->vm_flags = S2_BIT(5);
	assert_int_equal(fx_vm(f, S2_GRANULE_4K, 40, 0), S2_EINVAL);
	f->vm_flags = 0;
	assert_int_equal(fx_vm(f, S2_GRANULE_4K, 40, 0), 0);
	fx_free(f);
}

/*
 * CTR_EL0.DIC: Normal memory is mapped executable on any fault (data, stage-1 walk), as KVM
 * does, saving the exec fault that would follow (no I-cache maintenance is needed);
 * Device and Normal-NC (MMIO allow-any-uncached, kept host NC) never.
 */
static void test_abort_dic_exec(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		struct fx *f = fx_new_port();
		uint64_t flags = (m->cfg.fwb ? S2_CFG_FWB : 0) | (m->cfg.ha ? S2_CFG_HA : 0) |
				 (m->cfg.hd ? S2_CFG_HD : 0);
		uint64_t gb, blk = l2_size(m->cfg.granule);
		struct s2_memslot_desc ram, dev, aau, nc;
		struct s2_abort_result r;
		struct guest_out o;
		uint64_t f0;

		assert_int_equal(s2_caps_max(m->cfg.pa_bits == 52 ? 52 : 48, &f->caps), 0);
		f->caps.dic = true;
		f->vm_flags = S2_VM_KEEP_HOST_NC;
		assert_int_equal(fx_vm(f, m->cfg.granule, m->cfg.ipa_bits, flags), 0);
		assert_true(f->vm.pgt.cfg.dic);
		gb = f->g;
		ram = ram_slot(1, 2 * blk, 2 * blk, FAKE_PA, blk);
		dev = ram_slot(2, 0x08000000, 4 * gb, FAKE_PA + 4 * blk, 0);
		aau = ram_slot(3, 0x08100000, 4 * gb, FAKE_PA + 5 * blk, 0);
		nc = ram_slot(4, 0x08200000, 4 * gb, FAKE_PA + 6 * blk, 0);
		dev.backing = aau.backing = S2_BACKING_MMIO;
		dev.host_type = aau.host_type = S2_HOSTMEM_DEVICE_nGnRE;
		aau.flags = S2_SLOT_ALLOW_ANY_UNCACHED;
		nc.host_type = S2_HOSTMEM_NORMAL_NC;
		assert_int_equal(s2_vm_slot_add(&f->vm, &ram), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &dev), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &aau), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &nc), 0);

		s2_host_port_clear_log(f->hp);
		abort_at(f, esr_dabt(FSC_TRANS(1), false), 2 * blk + 8, &r);
		assert_int_equal(r.map_size, blk);
		assert_true(s2_lookup_prot(look(f, 2 * blk)) & S2_PROT_X);
		assert_int_equal(count_ev(f, S2_HOST_EV_IC_INVAL, UINT64_MAX, 0), 0);
		/* the fetch that follows takes no fault at all */
		f0 = f->vm.stats.faults[1];
		o = guest_access(f, S2_ACCESS_EXEC, 2 * blk + 5 * gb);
		assert_int_equal(o.action, S2_ABORT_RESUME);
		assert_int_equal(o.faults, 0);
		assert_int_equal(f->vm.stats.faults[1], f0);
		/* a stage-1 walk's mapping too */
		abort_at(f, esr_dabt(FSC_TRANS(2), false) | ESR_S1PTW, 3 * blk, &r);
		assert_true(s2_lookup_prot(look(f, 3 * blk)) & S2_PROT_X);
		/* never Device or Normal-NC */
		abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x08000000, &r);
		assert_false(s2_lookup_prot(look(f, 0x08000000)) & S2_PROT_X);
		abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x08100000, &r);
		assert_false(s2_lookup_prot(look(f, 0x08100000)) & S2_PROT_X);
		abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x08200000, &r);
		{
			struct s2_lookup nlk = look(f, 0x08200000);
			assert_int_equal(memattr_of(&nlk), 0x5);
		}
		assert_false(s2_lookup_prot(look(f, 0x08200000)) & S2_PROT_X);
		/* a locked slot is mapped whole: Normal executable, Device not */
		f->vm.locked_limit = 4 * blk;
		assert_int_equal(s2_vm_slot_delete(&f->vm, 1), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &ram), 0);
		assert_int_equal(s2_vm_slot_lock(&f->vm, 1, true), 0);
		assert_int_equal(s2_vm_slot_lock(&f->vm, 2, true), 0);
		assert_true(s2_lookup_prot(look(f, 3 * blk + gb)) & S2_PROT_X);
		assert_false(s2_lookup_prot(look(f, 0x08000000 + gb)) & S2_PROT_X);
		assert_int_equal(s2_vm_slot_unlock(&f->vm, 1), 0);
		assert_int_equal(s2_vm_slot_unlock(&f->vm, 2), 0);
		fx_free(f);
	}
}

/* MMIO slot: allow-any-uncached gives Normal-NC; without it Device-nGnRE even for a Normal
 * host mapping. */
static void test_abort_mmio_types(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		struct fx *f = fx_cfg(m);

		struct s2_memslot_desc a = ram_slot(1, 0x10000000, 4 * f->g, FAKE_PA, 0);
		struct s2_memslot_desc b = ram_slot(2, 0x20000000, 4 * f->g, FAKE_PA + 0x100000, 0);
		struct s2_abort_result r;
		struct s2_lookup lk;

		a.backing = b.backing = S2_BACKING_MMIO;
		a.host_type = S2_HOSTMEM_DEVICE_nGnRnE;
		a.flags = S2_SLOT_ALLOW_ANY_UNCACHED;
		b.host_type = S2_HOSTMEM_NORMAL;
		assert_int_equal(s2_vm_slot_add(&f->vm, &a), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &b), 0);
		abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x10000000, &r);
		lk = look(f, 0x10000000);
		assert_int_equal(memattr_of(&lk), 0x5);
		abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x20000000, &r);
		lk = look(f, 0x20000000);
		assert_int_equal(memattr_of(&lk), 0x1);
		/* dropping the flag remaps as Device on the next fault */
		assert_int_equal(s2_vm_slot_set_flags(&f->vm, 1, 0), 0);
		assert_false(look(f, 0x10000000).valid);
		abort_at(f, esr_dabt(FSC_TRANS(3), false), 0x10000000, &r);
		lk = look(f, 0x10000000);
		assert_int_equal(memattr_of(&lk), 0x0);
		fx_free(f);
	}
}

static void test_abort_mmio_exit(void **state)
{
	struct fx *f = fx_new(S2_GRANULE_4K, 40, 0);
	struct s2_memslot_desc ro = ram_slot(1, 0x40000000, 0x10000, FAKE_PA, 0);
	struct s2_abort_result r;
	(void)state;

	ro.flags = S2_SLOT_READONLY;
	assert_int_equal(s2_vm_slot_add(&f->vm, &ro), 0);

	/* STRH w3 (ISV, SAS=1 halfword, SRT=3, 32-bit) to an IPA in no slot. */
	abort_at(f, esr_dabt(FSC_TRANS(2), true) | ESR_ISV | ESR_SAS(1) | ESR_SRT(3),
		 0x09000000 + 0x18, &r);
	assert_int_equal(r.action, S2_ABORT_MMIO);
	assert_int_equal(s2_ipa_val(r.mmio.ipa), 0x09000018);
	assert_true(r.mmio.syndrome);
	assert_true(r.mmio.write);
	assert_int_equal(r.mmio.size, 2);
	assert_int_equal(r.mmio.reg, 3);
	assert_false(r.mmio.sign_extend);
	assert_false(r.mmio.reg64);
	/* LDRSB x7 (SAS=0, SSE, SRT=7, SF) */
	abort_at(f,
		 esr_dabt(FSC_TRANS(2), false) | ESR_ISV | ESR_SAS(0) | ESR_SSE | ESR_SRT(7) |
			 ESR_SF,
		 0x09000001, &r);
	assert_int_equal(r.action, S2_ABORT_MMIO);
	assert_false(r.mmio.write);
	assert_int_equal(r.mmio.size, 1);
	assert_int_equal(r.mmio.reg, 7);
	assert_true(r.mmio.sign_extend);
	assert_true(r.mmio.reg64);
	/* LDAR x1, 8 bytes */
	abort_at(f,
		 esr_dabt(FSC_TRANS(2), false) | ESR_ISV | ESR_SAS(3) | ESR_SRT(1) | ESR_SF |
			 ESR_AR,
		 0x09000008, &r);
	assert_int_equal(r.mmio.size, 8);
	assert_true(r.mmio.acqrel);
	/* no syndrome (e.g. LDP): not an MMIO exit (test_abort_nisv) */
	abort_at(f, esr_dabt(FSC_TRANS(2), false), 0x09000000, &r);
	assert_int_equal(r.action, S2_ABORT_NISV);

	/* read-only slot: reads map read-only, writes exit */
	abort_at(f, esr_dabt(FSC_TRANS(3), false), 0x40000000, &r);
	assert_int_equal(r.resume, S2_RESUME_MAPPED);
	assert_false(s2_lookup_prot(look(f, 0x40000000)) & S2_PROT_W);
	abort_at(f, esr_dabt(FSC_PERM(3), true) | ESR_ISV | ESR_SAS(2), 0x40000000, &r);
	assert_int_equal(r.action, S2_ABORT_MMIO);
	assert_true(r.mmio.write);
	assert_int_equal(r.mmio.size, 4);
	abort_at(f, esr_dabt(FSC_TRANS(3), true) | ESR_ISV, 0x40001000, &r);
	assert_int_equal(r.action, S2_ABORT_MMIO);
	assert_false(look(f, 0x40001000).valid);
	assert_int_equal(f->vm.stats.mmio_exits, 5);
	assert_int_equal(f->vm.stats.nisv_exits, 1);
	fx_free(f);
}

/*
 * Accesses without a valid syndrome (ESR.ISV = 0: load/store pair, pre/post-index, atomics,
 * DC ZVA) that would exit to the VMM cannot be emulated from the syndrome: S2_ABORT_NISV
 * (KVM_EXIT_ARM_NISV), in no slot and for a write to a read-only slot (RAM or device, flag or
 * read-only lock). A cache-maintenance instruction (CM) in no slot stays an MMIO exit the VMM
 * skips; inside a read-only slot it is an access like any other (KVM's order).
 */
static void test_abort_nisv(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		struct fx *f = fx_cfg(m);
		uint64_t gb = f->g, rob = 0x10000000, rdb = 0x18000000, wdb = 0x1c000000;
		uint64_t lkb = 0x20000000, nob = 0x30000000;
		struct s2_memslot_desc ro = ram_slot(1, rob, 4 * gb, FAKE_PA, 0);
		struct s2_memslot_desc rd = ram_slot(2, rdb, 4 * gb, FAKE_PA + 0x100000, 0);
		struct s2_memslot_desc wd = ram_slot(3, wdb, 4 * gb, FAKE_PA + 0x200000, 0);
		struct s2_memslot_desc lk = ram_slot(4, lkb, 4 * gb, FAKE_PA + 0x300000, 0);
		const uint64_t isv = ESR_ISV | ESR_SAS(3) | ESR_SF;
		struct s2_abort_result r;

		ro.flags = rd.flags = S2_SLOT_READONLY;
		rd.backing = wd.backing = S2_BACKING_MMIO;
		rd.host_type = wd.host_type = S2_HOSTMEM_DEVICE_nGnRE;
		assert_int_equal(s2_vm_slot_add(&f->vm, &ro), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &rd), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &wd), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &lk), 0);
		assert_int_equal(s2_vm_slot_lock(&f->vm, 4, false), 0);

		/* No slot: LDP (read), STP / DC ZVA (write, CM = 0). */
		abort_at(f, esr_dabt(FSC_TRANS(1), false), nob + 0x10, &r);
		assert_int_equal(r.action, S2_ABORT_NISV);
		assert_false(r.write);
		abort_at(f, esr_dabt(FSC_TRANS(1), true), nob + 0x40, &r);
		assert_int_equal(r.action, S2_ABORT_NISV);
		assert_true(r.write);
		/* with the syndrome: an ordinary MMIO exit */
		abort_at(f, esr_dabt(FSC_TRANS(1), true) | isv, nob + 0x40, &r);
		assert_int_equal(r.action, S2_ABORT_MMIO);
		assert_true(r.mmio.syndrome);
		/* DC CIVAC/IVAC in no slot (CM, WnR = 1, no ISV): an MMIO exit to skip */
		abort_at(f, esr_dabt(FSC_TRANS(1), true) | ESR_CM, nob + 0x80, &r);
		assert_int_equal(r.action, S2_ABORT_MMIO);
		assert_true(r.mmio.cache_maint);
		assert_false(r.mmio.syndrome);

		/* Read-only RAM: reads without syndrome are mapped; writes are NISV. */
		abort_at(f, esr_dabt(FSC_TRANS(3), false), rob + 0x10, &r);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		abort_at(f, esr_dabt(FSC_PERM(3), true), rob + 0x10, &r);
		assert_int_equal(r.action, S2_ABORT_NISV);
		assert_true(r.write);
		assert_int_equal(s2_ipa_val(r.ipa), rob + 0x10);
		abort_at(f, esr_dabt(FSC_TRANS(3), true), rob + gb, &r);
		assert_int_equal(r.action, S2_ABORT_NISV);
		abort_at(f, esr_dabt(FSC_PERM(3), true) | ESR_CM, rob + 0x40, &r);
		assert_int_equal(r.action, S2_ABORT_NISV);
		abort_at(f, esr_dabt(FSC_PERM(3), true) | isv, rob + 0x10, &r);
		assert_int_equal(r.action, S2_ABORT_MMIO);
		/* Read-only device slot: the same; a writable one is mapped, no exit at all. */
		abort_at(f, esr_dabt(FSC_TRANS(3), true), rdb, &r);
		assert_int_equal(r.action, S2_ABORT_NISV);
		abort_at(f, esr_dabt(FSC_TRANS(3), true) | isv, rdb, &r);
		assert_int_equal(r.action, S2_ABORT_MMIO);
		abort_at(f, esr_dabt(FSC_TRANS(3), true), wdb, &r);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		/* Read-only lock. */
		abort_at(f, esr_dabt(FSC_PERM(3), true), lkb + gb, &r);
		assert_int_equal(r.action, S2_ABORT_NISV);

		assert_int_equal(f->vm.stats.nisv_exits, 7);
		assert_int_equal(f->vm.stats.mmio_exits, 4);
		assert_int_equal(f->vm.stats.injects, 0);
		assert_int_equal(s2_vm_slot_unlock(&f->vm, 4), 0);
		fx_free(f);
	}
}

static void test_abort_inject(void **state)
{
	struct fx *f = fx_new(S2_GRANULE_4K, 36, 0);
	struct s2_memslot_desc ram = ram_slot(1, 0x40000000, 0x100000, FAKE_PA, 0);
	struct s2_memslot_desc ro = ram_slot(2, 0x50000000, 0x10000, FAKE_PA + 0x1000000, 0);
	struct s2_memslot_desc io = ram_slot(3, 0x60000000, 0x10000, FAKE_PA + 0x2000000, 0);
	struct s2_abort_result r;
	(void)state;

	ro.flags = S2_SLOT_READONLY;
	io.backing = S2_BACKING_MMIO;
	io.host_type = S2_HOSTMEM_DEVICE_nGnRE;
	assert_int_equal(s2_vm_slot_add(&f->vm, &ram), 0);
	assert_int_equal(s2_vm_slot_add(&f->vm, &ro), 0);
	assert_int_equal(s2_vm_slot_add(&f->vm, &io), 0);

	/* beyond the 36-bit IPA space */
	abort_at(f, esr_dabt(FSC_TRANS(1), false), UINT64_C(1) << 36, &r);
	assert_int_equal(r.action, S2_ABORT_INJECT);
	assert_int_equal(r.inject, S2_INJECT_BEYOND_IPA);
	abort_at(f, esr_dabt(FSC_ADDR_SIZE(0), false), 0x40000000, &r);
	assert_int_equal(r.inject, S2_INJECT_BEYOND_IPA);
	/* stage-1 walk outside every slot, or writing a read-only slot; on RAM, on a
	 * read-only slot (read) and on MMIO it is mapped (test_abort_s1ptw has the rest) */
	abort_at(f, esr_dabt(FSC_TRANS(3), false) | ESR_S1PTW, 0x50000000, &r);
	assert_int_equal(r.action, S2_ABORT_RESUME);
	abort_at(f, esr_dabt(FSC_PERM(3), true) | ESR_S1PTW, 0x50000000, &r);
	assert_int_equal(r.inject, S2_INJECT_S1PTW);
	abort_at(f, esr_dabt(FSC_TRANS(3), true) | ESR_S1PTW, 0x60000000, &r);
	assert_int_equal(r.action, S2_ABORT_RESUME);
	abort_at(f, esr_iabt(FSC_TRANS(3)) | ESR_S1PTW, 0x70000000, &r);
	assert_int_equal(r.inject, S2_INJECT_S1PTW);
	abort_at(f, esr_dabt(FSC_TRANS(3), false) | ESR_S1PTW, 0x40002000, &r);
	assert_int_equal(r.action, S2_ABORT_RESUME);
	/* synchronous external abort: not resolvable at stage 2 */
	abort_at(f, esr_dabt(FSC_EXT, false), 0x40000000, &r);
	assert_int_equal(r.inject, S2_INJECT_UNHANDLED);
	/* not an abort */
	assert_int_equal(s2_vm_handle_abort(&f->vcpu, ESR_EC(0x16), 0, 0, &r), S2_EINVAL);
	assert_int_equal(f->vm.stats.injects, 5);
	fx_free(f);
}

/*
 * Stage-1 table walks (S1PTW), as KVM's kvm_is_write_fault(): only a permission fault on a
 * walk is a write (the walker updates a stage-1 descriptor: hardware AF/dirty), whatever WnR
 * says and for data and instruction aborts alike; a translation or access-flag fault on a
 * walk is a read; a walk is never an exec fault.
 */
static void test_abort_s1ptw(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		struct fx *f = fx_cfg(m);
		uint64_t gb = f->g, blk = l2_size(m->cfg.granule);
		uint64_t rob = 0x10000000, iob = 0x18000000, lgb = 0x20000000, bkb = 2 * blk;
		struct s2_memslot_desc ro = ram_slot(1, rob, 16 * gb, FAKE_PA, 0);
		struct s2_memslot_desc io = ram_slot(2, iob, 16 * gb, FAKE_PA + 0x1000000, 0);
		struct s2_memslot_desc lg = ram_slot(3, lgb, 64 * gb, FAKE_PA + 0x2000000, 0);
		struct s2_memslot_desc bk = ram_slot(4, bkb, blk, FAKE_PA + 4 * blk, blk);
		uint64_t bm[1], nr, injects;
		struct s2_abort_result r;
		struct s2_lookup lk;

		ro.flags = S2_SLOT_READONLY;
		io.backing = S2_BACKING_MMIO;
		io.host_type = S2_HOSTMEM_DEVICE_nGnRE;
		assert_int_equal(s2_vm_slot_add(&f->vm, &ro), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &io), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &lg), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &bk), 0);

		/* Read-only slot (EFI keeps page tables in ROM): a walk's translation fault maps
		 * the page read-only and the walk resumes, whatever WnR says; data or insn. */
		abort_at(f, esr_dabt(FSC_TRANS(3), false) | ESR_S1PTW, rob, &r);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_true(r.s1ptw);
		assert_false(r.write);
		assert_false(r.exec);
		lk = look(f, rob);
		assert_true(s2_lookup_prot(lk) & S2_PROT_R);
		assert_false(s2_lookup_prot(lk) & S2_PROT_W);
		assert_false(s2_lookup_prot(lk) & S2_PROT_X);
		abort_at(f, esr_dabt(FSC_TRANS(3), true) | ESR_S1PTW, rob + gb, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_false(r.write);
		assert_false(s2_lookup_prot(look(f, rob + gb)) & S2_PROT_W);
		abort_at(f, esr_iabt(FSC_TRANS(3)) | ESR_S1PTW, rob + 2 * gb, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_false(r.exec);
		lk = look(f, rob + 2 * gb);
		assert_false(s2_lookup_prot(lk) & (S2_PROT_W | S2_PROT_X));
		/* an access-flag fault on a walk is a read too */
		abort_at(f, esr_iabt(FSC_AF(3)) | ESR_S1PTW, rob + 2 * gb, &r);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		assert_false(r.write);
		/* ... but a walk that must write a descriptor there cannot: injected (KVM injects
		 * a data or prefetch abort), instruction abort without WnR included. */
		injects = f->vm.stats.injects;
		abort_at(f, esr_iabt(FSC_PERM(3)) | ESR_S1PTW, rob, &r);
		assert_int_equal(r.action, S2_ABORT_INJECT);
		assert_int_equal(r.inject, S2_INJECT_S1PTW);
		assert_true(r.write);
		assert_false(r.exec);
		abort_at(f, esr_dabt(FSC_PERM(3), false) | ESR_S1PTW, rob + gb, &r);
		assert_int_equal(r.inject, S2_INJECT_S1PTW);
		assert_true(r.write);
		assert_false(s2_lookup_prot(look(f, rob)) & S2_PROT_W);
		assert_int_equal(f->vm.stats.injects, injects + 2);

		/* A dirty-logged slot: the walk's translation fault maps read-only (clean); the
		 * walker's permission fault, an instruction abort without WnR as QEMU reports
		 * Linux's hardware-AF walker, relaxes W and marks the page dirty (never X). */
		assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 3, false), 0);
		abort_at(f, esr_iabt(FSC_TRANS(3)) | ESR_S1PTW, lgb + 5 * gb, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		lk = look(f, lgb + 5 * gb);
		assert_false(s2_lookup_prot(lk) & (S2_PROT_W | S2_PROT_X));
		abort_at(f, esr_dabt(FSC_TRANS(3), true) | ESR_S1PTW, lgb + 6 * gb, &r);
		assert_false(s2_lookup_prot(look(f, lgb + 6 * gb)) & S2_PROT_W);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 3, bm, 1, &nr), 0);
		assert_int_equal(nr, 0);
		abort_at(f, esr_iabt(FSC_PERM(3)) | ESR_S1PTW, lgb + 5 * gb, &r);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		assert_int_equal(r.resume, S2_RESUME_RELAXED);
		assert_true(r.write);
		assert_false(r.exec);
		lk = look(f, lgb + 5 * gb);
		assert_true(s2_lookup_prot(lk) & S2_PROT_W);
		assert_false(s2_lookup_prot(lk) & S2_PROT_X);
		/* the same fault again (a stale TLB entry): nothing left to do */
		abort_at(f, esr_iabt(FSC_PERM(3)) | ESR_S1PTW, lgb + 5 * gb, &r);
		assert_int_equal(r.resume, S2_RESUME_RETRY);
		abort_at(f, esr_dabt(FSC_PERM(3), false) | ESR_S1PTW, lgb + 6 * gb, &r);
		assert_int_equal(r.resume, S2_RESUME_RELAXED);
		assert_true(s2_lookup_prot(look(f, lgb + 6 * gb)) & S2_PROT_W);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 3, bm, 1, &nr), 0);
		assert_int_equal(nr, 2);
		assert_int_equal(bm[0], (UINT64_C(1) << 5) | (UINT64_C(1) << 6));

		/* A block: the walk maps the whole block; write-protected (read-only flag set
		 * and cleared), the walker's permission fault relaxes the block in place. */
		abort_at(f, esr_iabt(FSC_TRANS(2)) | ESR_S1PTW, bkb + 3 * gb, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_int_equal(r.map_size, blk);
		assert_false(s2_lookup_prot(look(f, bkb)) & S2_PROT_X);
		assert_int_equal(s2_vm_slot_set_flags(&f->vm, 4, S2_SLOT_READONLY), 0);
		assert_false(s2_lookup_prot(look(f, bkb)) & S2_PROT_W);
		abort_at(f, esr_iabt(FSC_PERM(2)) | ESR_S1PTW, bkb + 3 * gb, &r);
		assert_int_equal(r.inject, S2_INJECT_S1PTW);
		assert_int_equal(s2_vm_slot_set_flags(&f->vm, 4, 0), 0);
		abort_at(f, esr_iabt(FSC_PERM(2)) | ESR_S1PTW, bkb + 3 * gb, &r);
		assert_int_equal(r.resume, S2_RESUME_RELAXED);
		lk = look(f, bkb + blk - gb);
		assert_int_equal(lk.size, blk);
		assert_true(s2_lookup_prot(lk) & S2_PROT_W);
		assert_false(s2_lookup_prot(lk) & S2_PROT_X);

		/* A device slot: the walk reads it like any data access (KVM maps it), an
		 * instruction abort's walk included (not an exec fault). */
		abort_at(f, esr_iabt(FSC_TRANS(3)) | ESR_S1PTW, iob, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		lk = look(f, iob);
		assert_int_equal(memattr_of(&lk), 0x1);
		assert_false(s2_lookup_prot(lk) & S2_PROT_X);

		/* Outside every slot: injected, data and instruction aborts. */
		abort_at(f, esr_dabt(FSC_TRANS(3), false) | ESR_S1PTW, 0x70000000, &r);
		assert_int_equal(r.action, S2_ABORT_INJECT);
		assert_int_equal(r.inject, S2_INJECT_S1PTW);
		abort_at(f, esr_iabt(FSC_TRANS(3)) | ESR_S1PTW, 0x70000000, &r);
		assert_int_equal(r.inject, S2_INJECT_S1PTW);
		abort_at(f, esr_iabt(FSC_PERM(3)) | ESR_S1PTW, 0x70000000, &r);
		assert_int_equal(r.inject, S2_INJECT_S1PTW);
		assert_int_equal(f->vm.stats.mmio_exits, 0);
		fx_free(f);
	}
}

/* A read-only-locked slot is read-only for walks too; DBM logging maps walks clean. */
static void test_abort_s1ptw_locked_dbm(void **state)
{
	(void)state;
	unsigned int runs = 0;

	FOR_EACH_CFG(m)
	{
		struct fx *f = fx_cfg(m);
		uint64_t gb = f->g, base = 0x10000000;
		struct s2_memslot_desc d = ram_slot(1, base, 16 * gb, FAKE_PA, 0);
		struct s2_memslot_desc l =
			ram_slot(2, base + 16 * gb, 16 * gb, FAKE_PA + 16 * gb, 0);
		struct s2_abort_result r;
		struct s2_lookup lk;
		uint64_t bm[1], nr;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &l), 0);
		assert_int_equal(s2_vm_slot_lock(&f->vm, 2, false), 0);
		abort_at(f, esr_iabt(FSC_PERM(3)) | ESR_S1PTW, base + 16 * gb, &r);
		assert_int_equal(r.action, S2_ABORT_INJECT);
		assert_int_equal(r.inject, S2_INJECT_S1PTW);
		assert_false(s2_lookup_prot(look(f, base + 16 * gb)) & S2_PROT_W);
		if (m->cfg.hd) {
			runs++;
			assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, true), 0);
			abort_at(f, esr_iabt(FSC_TRANS(3)) | ESR_S1PTW, base + 2 * gb, &r);
			assert_int_equal(r.resume, S2_RESUME_MAPPED);
			lk = look(f, base + 2 * gb);
			assert_true(lk.pte &
				    S2_PTE_DBM); /* writable-clean: the walker may dirty it */
			assert_false(lk.pte & S2_PTE_S2AP_W);
			assert_false(s2_lookup_prot(lk) & S2_PROT_X);
			/* a walker without hardware dirty state at stage 2 faults: relaxed, dirty */
			abort_at(f, esr_iabt(FSC_PERM(3)) | ESR_S1PTW, base + 2 * gb, &r);
			assert_int_equal(r.resume, S2_RESUME_RELAXED);
			assert_true(look(f, base + 2 * gb).pte & S2_PTE_S2AP_W);
			assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, 1, &nr), 0);
			assert_int_equal(nr, 1);
			assert_int_equal(bm[0], UINT64_C(1) << 2);
		}
		fx_free(f);
	}
	assert_true(runs >= 3);
}

struct ptep_arg {
	s2_pte_t *ptep;
};

static int find_ptep(void *arg, const struct s2_walk_visit *v)
{
	struct ptep_arg *a = arg;

	if (!a->ptep && (v->pte & S2_PTE_VALID))
		a->ptep = v->ptep;
	return 0;
}

static s2_pte_t *leaf_ptep(struct fx *f, uint64_t ipa)
{
	struct ptep_arg a = { 0 };

	assert_int_equal(
		s2_pgtable_walk(&f->vm.pgt, s2_ipa(ipa), f->g, S2_WALK_LEAF, find_ptep, &a), 0);
	assert_non_null(a.ptep);
	return a.ptep;
}

/* Access-flag faults set AF; read permission faults on a readable page are spurious. */
static void test_abort_af_and_retry(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		struct fx *f = fx_cfg(m);

		struct s2_memslot_desc d = ram_slot(1, 0x40000000, 8 * f->g, FAKE_PA, 0);
		struct s2_abort_result r;
		uint64_t young;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		abort_at(f, esr_dabt(FSC_TRANS(3), false), 0x40000000, &r);
		assert_int_equal(
			s2_vm_age_host_range(&f->vm, s2_pa(FAKE_PA), 8 * f->g, true, &young), 0);
		assert_int_equal(young, 1);
		assert_false(look(f, 0x40000000).pte & S2_PTE_AF);
		assert_int_equal(
			s2_vm_age_host_range(&f->vm, s2_pa(FAKE_PA), 8 * f->g, false, &young), 0);
		assert_int_equal(young, 0);
		abort_at(f, esr_dabt(FSC_AF(3), false), 0x40000000, &r);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		assert_int_equal(r.resume, S2_RESUME_YOUNG);
		assert_true(look(f, 0x40000000).pte & S2_PTE_AF);
		/* permission fault for an access the leaf allows: someone fixed it already, or
		 * this CPU's TLB keeps the entry that faulted: invalidated locally (KVM) */
		s2_host_port_clear_log(f->hp);
		abort_at(f, esr_dabt(FSC_PERM(3), true), 0x40000000, &r);
		assert_int_equal(r.resume, S2_RESUME_RETRY);
		assert_int_equal(count_ev(f, S2_HOST_EV_TLBI_IPA_LOCAL, 0x40000000, 0), 1);
		/* translation fault on a mapped page: same, but translation faults are not
		 * cached: no TLBI */
		s2_host_port_clear_log(f->hp);
		abort_at(f, esr_dabt(FSC_TRANS(3), false), 0x40000000, &r);
		assert_int_equal(r.resume, S2_RESUME_RETRY);
		assert_int_equal(count_ev(f, S2_HOST_EV_TLBI_IPA_LOCAL, UINT64_MAX, 0), 0);
		/* AF fault on an unmapped page: mapped */
		abort_at(f, esr_dabt(FSC_AF(3), false), 0x40000000 + f->g, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		fx_free(f);
	}
}

/* ---- dirty logging ------------------------------------------------------------------------ */

static void test_dirty_log(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		enum s2_granule g = m->cfg.granule;
		struct fx *f = fx_cfg(m);

		uint64_t blk = l2_size(g), gb = f->g;
		uint64_t ipa0 = 2 * blk;
		struct s2_memslot_desc d = ram_slot(1, ipa0, 2 * blk, FAKE_PA + 2 * blk, blk);
		uint64_t pages = 2 * blk / gb, words = (pages + 63) / 64;
		uint64_t *bm = calloc(words, 8), nr;
		struct s2_abort_result r;
		struct s2_lookup lk;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		/* first block mapped as a block, writable */
		abort_at(f, esr_dabt(FSC_TRANS(1), true), ipa0, &r);
		assert_int_equal(r.map_size, blk);

		assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, false), 0);
		assert_true(f->loads > 0); /* the VM's stage-2 context was loaded for its TLBIs */
		assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, false), S2_EEXIST);
		/* split to pages, write-protected */
		lk = look(f, ipa0 + 7 * gb);
		assert_true(lk.valid);
		assert_int_equal(lk.size, gb);
		assert_false(s2_lookup_prot(lk) & S2_PROT_W);
		assert_int_equal(s2_pa_val(lk.pa), FAKE_PA + 2 * blk + 7 * gb);

		/* write to a protected page: relaxed and dirty */
		abort_at(f, esr_dabt(FSC_PERM(3), true), ipa0 + 7 * gb + 8, &r);
		assert_int_equal(r.resume, S2_RESUME_RELAXED);
		assert_true(s2_lookup_prot(look(f, ipa0 + 7 * gb)) & S2_PROT_W);
		/* read in the second (unmapped) block: a read-only page, not dirty */
		abort_at(f, esr_dabt(FSC_TRANS(2), false), ipa0 + blk + 3 * gb, &r);
		assert_int_equal(r.map_size, gb);
		assert_false(s2_lookup_prot(look(f, ipa0 + blk + 3 * gb)) & S2_PROT_W);
		/* write in the second block: a writable page, dirty */
		abort_at(f, esr_dabt(FSC_TRANS(2), true), ipa0 + blk + 5 * gb, &r);
		assert_int_equal(r.map_size, gb);
		assert_true(s2_lookup_prot(look(f, ipa0 + blk + 5 * gb)) & S2_PROT_W);

		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, words - 1 + (words == 1), &nr),
				 words == 1 ? 0 : S2_EINVAL);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, words, &nr), 0);
		assert_int_equal(nr, 2);
		for (uint64_t i = 0; i < pages; i++) {
			bool want = i == 7 || i == blk / gb + 5;
			assert_int_equal((bm[i / 64] >> (i % 64)) & 1, want);
		}
		/* harvested pages are protected again; the next harvest is empty */
		assert_false(s2_lookup_prot(look(f, ipa0 + 7 * gb)) & S2_PROT_W);
		assert_false(s2_lookup_prot(look(f, ipa0 + blk + 5 * gb)) & S2_PROT_W);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, words, &nr), 0);
		assert_int_equal(nr, 0);
		abort_at(f, esr_dabt(FSC_PERM(3), true), ipa0 + blk + 5 * gb, &r);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, words, &nr), 0);
		assert_int_equal(nr, 1);
		assert_true((bm[(blk / gb + 5) / 64] >> ((blk / gb + 5) % 64)) & 1);

		/* disable: the first (fully mapped) block folds back into a block, writable */
		assert_int_equal(s2_vm_dirty_log_disable(&f->vm, 1), 0);
		assert_int_equal(s2_vm_dirty_log_disable(&f->vm, 1), S2_EINVAL);
		lk = look(f, ipa0);
		assert_int_equal(lk.size, blk);
		assert_true(s2_lookup_prot(lk) & S2_PROT_W);
		free(bm);
		fx_free(f);
	}
}

static unsigned int excl_takes;

static void count_lock(void *ctx, enum s2_vm_lock l)
{
	if (l == S2_VM_LOCK_MMU_EXCL)
		excl_takes++;
	s2_test_vm_lock(ctx, l);
}

static void count_unlock(void *ctx, enum s2_vm_lock l)
{
	s2_test_vm_unlock(ctx, l);
}

/* Splitting a 1 GiB block into 4K pages needs 513 table pages: enabling dirty logging does it
 * in bounded chunks, releasing the MMU lock between them. */
static void test_dirty_log_chunks(void **state)
{
	struct fx *f = fx_new(S2_GRANULE_4K, 40, S2_CFG_FWB);
	uint64_t gib = UINT64_C(1) << 30;
	struct s2_memslot_desc d = ram_slot(1, gib, gib, FAKE_PA, gib);
	struct s2_abort_result r;
	struct s2_lookup lk;
	uint64_t before;
	(void)state;

	f->vm.hooks.lock = count_lock;
	f->vm.hooks.unlock = count_unlock;
	assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
	abort_at(f, esr_dabt(FSC_TRANS(1), true), gib + 0x1234, &r);
	assert_int_equal(r.map_size, gib);
	before = s2_host_port_stats(f->hp).pages_in_use;
	excl_takes = 0;
	assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, false), 0);
	/* at most S2_PAGE_CACHE_MAX new tables per chunk */
	assert_true(excl_takes >= (513 + S2_PAGE_CACHE_MAX - 1) / S2_PAGE_CACHE_MAX);
	/* 513 tables + the bitmap (32 KiB = 8 pages) */
	assert_int_equal(s2_host_port_stats(f->hp).pages_in_use - before, 513 + 8);
	for (uint64_t off = 0; off < gib; off += 0x1000 * 4099) {
		lk = look(f, gib + off);
		assert_true(lk.valid);
		assert_int_equal(lk.size, 0x1000);
		assert_false(s2_lookup_prot(lk) & S2_PROT_W);
		assert_int_equal(s2_pa_val(lk.pa), FAKE_PA + off);
	}
	assert_int_equal(s2_vm_dirty_log_disable(&f->vm, 1), 0);
	lk = look(f, gib);
	assert_int_equal(lk.size, gib);
	assert_int_equal(s2_host_port_stats(f->hp).pages_in_use, before);
	fx_free(f);
}

/* Disabling logging folds pages back into blocks no larger than the backing page. */
static void test_dirty_log_refold(void **state)
{
	struct fx *f = fx_new(S2_GRANULE_4K, 40, S2_CFG_FWB);
	uint64_t gib = UINT64_C(1) << 30, mib2 = UINT64_C(1) << 21;
	struct s2_memslot_desc d = ram_slot(1, gib, gib, FAKE_PA, mib2);
	struct s2_abort_result r;
	(void)state;

	assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
	for (uint64_t off = 0; off < gib; off += mib2) {
		abort_at(f, esr_dabt(FSC_TRANS(1), true), gib + off, &r);
		assert_int_equal(r.map_size, mib2); /* never 1G: the backing is 2M pages */
	}
	assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, false), 0);
	assert_int_equal(look(f, gib + 3 * mib2).size, 0x1000);
	assert_int_equal(s2_vm_dirty_log_disable(&f->vm, 1), 0);
	for (uint64_t off = 0; off < gib; off += 64 * mib2) {
		struct s2_lookup lk = look(f, gib + off);
		assert_int_equal(lk.size, mib2);
		assert_true(s2_lookup_prot(lk) & S2_PROT_W);
	}
	fx_free(f);
}

/* Hardware dirty state: writable-clean pages, harvested without faults. */
static void test_dirty_log_dbm(void **state)
{
	(void)state;
	unsigned int runs = 0;

	FOR_EACH_CFG(m)
	{
		if (!m->cfg.hd)
			continue;
		runs++;
		struct fx *f = fx_cfg(m);
		uint64_t gb = f->g;
		struct s2_memslot_desc d = ram_slot(1, 0x40000000, 64 * gb, FAKE_PA, 0);
		uint64_t bm[1], nr;
		struct s2_abort_result r;
		struct s2_lookup lk;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		for (int i = 0; i < 4; i++)
			abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x40000000 + i * gb, &r);
		assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, true), 0);
		for (int i = 0; i < 4; i++) {
			lk = look(f, 0x40000000 + i * gb);
			assert_true(lk.pte & S2_PTE_DBM);
			assert_false(lk.pte & S2_PTE_S2AP_W);
		}
		/* a read fault on a new page maps it writable-clean */
		abort_at(f, esr_dabt(FSC_TRANS(3), false), 0x40000000 + 10 * gb, &r);
		lk = look(f, 0x40000000 + 10 * gb);
		assert_true(lk.pte & S2_PTE_DBM);
		assert_false(lk.pte & S2_PTE_S2AP_W);
		/* the hardware dirties pages 2 and 10 (sets S2AP[1], Arm ARM D8.4.6) */
		s2_pte_t *p2 = leaf_ptep(f, 0x40000000 + 2 * gb);
		s2_pte_t *p10 = leaf_ptep(f, 0x40000000 + 10 * gb);
		*p2 |= S2_PTE_S2AP_W;
		*p10 |= S2_PTE_S2AP_W;
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, 1, &nr), 0);
		assert_int_equal(nr, 2);
		assert_int_equal(bm[0], (UINT64_C(1) << 2) | (UINT64_C(1) << 10));
		lk = look(f, 0x40000000 + 2 * gb);
		assert_true(lk.pte & S2_PTE_DBM);
		assert_false(lk.pte & S2_PTE_S2AP_W);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, 1, &nr), 0);
		assert_int_equal(nr, 0);
		assert_int_equal(s2_vm_dirty_log_disable(&f->vm, 1), 0);
		assert_false(look(f, 0x40000000 + 2 * gb).pte & S2_PTE_DBM);
		/* logging is over: a read-only round trip leaves no DBM behind either, and a
		 * read fault maps a page writable (the DBM mode ended with logging) */
		assert_int_equal(s2_vm_slot_set_flags(&f->vm, 1, S2_SLOT_READONLY), 0);
		assert_int_equal(s2_vm_slot_set_flags(&f->vm, 1, 0), 0);
		abort_at(f, esr_dabt(FSC_TRANS(3), false), 0x40000000 + 20 * gb, &r);
		for (int i = 0; i < 21; i += 10) {
			lk = look(f, 0x40000000 + (uint64_t)i * gb);
			if (!lk.valid)
				continue;
			assert_false(lk.pte & S2_PTE_DBM);
		}
		assert_true(look(f, 0x40000000 + 20 * gb).pte & S2_PTE_S2AP_W);
		fx_free(f);
	}
	assert_true(runs >= 3);
	/* DBM needs hardware dirty state in the VM's config */
	struct fx *f = fx_new(S2_GRANULE_4K, 40, 0);
	struct s2_memslot_desc d = ram_slot(1, 0x40000000, 0x10000, FAKE_PA, 0);
	assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
	assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, true), S2_ENOTSUP);
	fx_free(f);
}

/* What the hardware does on a guest write to a writable-clean (DBM) page with HD: the
 * reference walker, given the port's memory with its compare-and-swap, sets S2AP[1]
 * (Arm ARM D8.4.6). */
static void hw_write(struct fx *f, uint64_t ipa)
{
	struct s2_walk_mem mem = s2_host_port_walk_mem(f->hp);
	struct s2_access acc = { .type = S2_ACCESS_WRITE };
	struct s2_walk_result res;

	assert_non_null(mem.cas64);
	assert_int_equal(s2_walk(&f->vm.pgt.cfg, f->vm.pgt.root_pa, &mem, s2_ipa(ipa), acc, &res),
			 0);
	assert_int_equal(res.fault, S2_FAULT_NONE);
	assert_true(look(f, ipa).pte & S2_PTE_S2AP_W);
}

/* Unmapping pages of a DBM-logging slot (host invalidation, slot move) must not lose what the
 * hardware dirtied: those pages are reported by the next dirty_log_get. */
static void test_dirty_log_dbm_unmap(void **state)
{
	(void)state;
	unsigned int runs = 0;

	FOR_EACH_CFG(m)
	{
		if (!m->cfg.hd)
			continue;
		runs++;
		struct fx *f = fx_cfg(m);
		uint64_t gb = f->g, base = 0x40000000, unmapped;
		struct s2_memslot_desc d = ram_slot(1, base, 64 * gb, FAKE_PA, 0);
		uint64_t bm[1], nr;
		struct s2_abort_result r;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		for (int i = 0; i < 4; i++)
			abort_at(f, esr_dabt(FSC_TRANS(3), true), base + i * gb, &r);
		assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, true), 0);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, 1, &nr), 0);
		assert_int_equal(nr, 0);

		/* the guest writes page 2; the host then takes its backing away */
		hw_write(f, base + 2 * gb);
		assert_int_equal(
			s2_vm_invalidate_host_range(&f->vm, s2_pa(FAKE_PA + 2 * gb), gb, &unmapped),
			0);
		assert_int_equal(unmapped, gb);
		assert_false(look(f, base + 2 * gb).valid);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, 1, &nr), 0);
		assert_int_equal(nr, 1);
		assert_int_equal(bm[0], UINT64_C(1) << 2);

		/* the guest writes page 3; the slot moves (unmapping it whole) */
		hw_write(f, base + 3 * gb);
		assert_int_equal(s2_vm_slot_move(&f->vm, 1, s2_ipa(2 * base)), 0);
		assert_false(look(f, base + 3 * gb).valid);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, 1, &nr), 0);
		assert_int_equal(nr, 1);
		assert_int_equal(bm[0], UINT64_C(1) << 3);
		fx_free(f);
	}
	assert_true(runs >= 3);
}

/*
 * Read-only slots may log dirty pages (KVM accepts KVM_MEM_READONLY | KVM_MEM_LOG_DIRTY_PAGES):
 * only writes dirty pages and a read-only slot has none. Faults resolve as in any read-only
 * slot (reads and stage-1 walks mapped read-only, never writable-clean), the bitmap stays clean.
 */
static void test_dirty_log_readonly(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		struct fx *f = fx_cfg(m);
		uint64_t gb = f->g, blk = l2_size(m->cfg.granule), base = 2 * blk;
		struct s2_memslot_desc d = ram_slot(1, base, blk, FAKE_PA, blk);
		struct s2_memslot_desc e = ram_slot(2, 4 * blk, 64 * gb, FAKE_PA + blk, 0);
		uint64_t words = (blk / gb + 63) / 64, nr;
		uint64_t *bm = calloc(words, 8);
		struct s2_abort_result r;
		struct s2_lookup lk;
		bool dbm = m->cfg.hd;

		d.flags = S2_SLOT_READONLY | S2_SLOT_DIRTY_LOG;
		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		abort_at(f, esr_dabt(FSC_TRANS(2), false), base + 3 * gb, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_int_equal(r.map_size, gb); /* logging: pages only */
		abort_at(f, esr_iabt(FSC_TRANS(3)) | ESR_S1PTW, base + 4 * gb, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		abort_at(f, esr_iabt(FSC_TRANS(3)), base + 5 * gb, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		for (int i = 3; i <= 5; i++)
			assert_false(look(f, base + i * gb).pte & (S2_PTE_S2AP_W | S2_PTE_DBM));
		abort_at(f, esr_dabt(FSC_PERM(3), true) | ESR_ISV, base + 3 * gb, &r);
		assert_int_equal(r.action, S2_ABORT_MMIO);
		abort_at(f, esr_dabt(FSC_PERM(3), true), base + 3 * gb, &r);
		assert_int_equal(r.action, S2_ABORT_NISV);
		abort_at(f, esr_iabt(FSC_PERM(3)) | ESR_S1PTW, base + 4 * gb, &r);
		assert_int_equal(r.inject, S2_INJECT_S1PTW);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, words, &nr), 0);
		assert_int_equal(nr, 0);
		for (uint64_t w = 0; w < words; w++)
			assert_int_equal(bm[w], 0);
		assert_int_equal(s2_vm_dirty_log_disable(&f->vm, 1), 0);
		assert_false(s2_lookup_prot(look(f, base + 3 * gb)) & S2_PROT_W);

		/* enabling on a read-only slot (DBM too): nothing becomes writable-clean */
		assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, dbm), 0);
		assert_false(look(f, base + 3 * gb).pte & (S2_PTE_S2AP_W | S2_PTE_DBM));
		abort_at(f, esr_dabt(FSC_TRANS(3), false), base + 9 * gb, &r);
		assert_false(look(f, base + 9 * gb).pte & (S2_PTE_S2AP_W | S2_PTE_DBM));
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, words, &nr), 0);
		assert_int_equal(nr, 0);

		/* a DBM-logging slot made read-only keeps what the hardware dirtied, and its
		 * pages stop being writable-clean; made writable again, they are re-armed */
		if (dbm) {
			assert_int_equal(s2_vm_slot_add(&f->vm, &e), 0);
			for (int i = 0; i < 4; i++)
				abort_at(f, esr_dabt(FSC_TRANS(3), false), 4 * blk + i * gb, &r);
			assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 2, true), 0);
			hw_write(f, 4 * blk + 2 * gb);
			assert_int_equal(s2_vm_slot_set_flags(&f->vm, 2,
							      S2_SLOT_READONLY | S2_SLOT_DIRTY_LOG),
					 0);
			for (int i = 0; i < 4; i++) {
				lk = look(f, 4 * blk + i * gb);
				assert_false(lk.pte & (S2_PTE_S2AP_W | S2_PTE_DBM));
			}
			assert_int_equal(s2_vm_dirty_log_get(&f->vm, 2, bm, 1, &nr), 0);
			assert_int_equal(nr, 1);
			assert_int_equal(bm[0], UINT64_C(1) << 2);
			assert_false(look(f, 4 * blk + 2 * gb).pte & (S2_PTE_S2AP_W | S2_PTE_DBM));
			assert_int_equal(s2_vm_slot_set_flags(&f->vm, 2, S2_SLOT_DIRTY_LOG), 0);
			assert_true(look(f, 4 * blk + 1 * gb).pte & S2_PTE_DBM);
			hw_write(f, 4 * blk + 1 * gb);
			assert_int_equal(s2_vm_dirty_log_get(&f->vm, 2, bm, 1, &nr), 0);
			assert_int_equal(bm[0], UINT64_C(1) << 1);
		}
		free(bm);
		fx_free(f);
	}
}

/* ---- locked memslots ---------------------------------------------------------------------- */

static void test_locked_slot(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		bool fwb = m->cfg.fwb;
		struct fx *f = fx_cfg(m);

		uint64_t gb = f->g;
		struct s2_memslot_desc d = ram_slot(1, 0x40000000, 32 * gb, FAKE_PA, 0);
		struct s2_memslot_desc d2 =
			ram_slot(2, 0x50000000, 16 * gb, FAKE_PA + 0x1000000, 0);
		struct s2_vcpu_entry e;
		struct s2_abort_result r;
		uint64_t young, unmapped;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &d2), 0);
		f->vm.locked_limit = 40 * gb;
		s2_host_port_clear_log(f->hp);
		assert_int_equal(s2_vm_slot_lock(&f->vm, 1, true), 0);
		/* mapped at once, writable, no D-cache maintenance yet */
		for (uint64_t i = 0; i < 32; i++)
			assert_true(s2_lookup_prot(look(f, 0x40000000 + i * gb)) & S2_PROT_W);
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, UINT64_MAX, 0), 0);
		assert_true(f->vm.pending & S2_VM_PENDING_CMO);
		assert_int_equal(s2_vm_slot_lock(&f->vm, 1, true), S2_EBUSY);
		assert_int_equal(s2_vm_slot_lock(&f->vm, 2, false), S2_ELIMIT);
		assert_int_equal(s2_vm_slot_delete(&f->vm, 1), S2_EBUSY);
		assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, false), S2_EBUSY);

		/* (the host writes the guest image here) then the first entry cleans it once */
		assert_int_equal(s2_vm_vcpu_enter(&f->vcpu, &e), 0);
		assert_int_equal(e.cmo_bytes, fwb ? 0 : 32 * gb);
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, FAKE_PA, 32 * gb), fwb ? 0 : 1);
		assert_false(f->vm.pending & S2_VM_PENDING_CMO);
		assert_int_equal(s2_vm_vcpu_enter(&f->vcpu, &e), 0);
		assert_int_equal(e.cmo_bytes, 0);
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, UINT64_MAX, 0), fwb ? 0 : 1);

		/* aging: pinned pages count as young and keep AF; invalidation leaves them */
		assert_int_equal(
			s2_vm_age_host_range(&f->vm, s2_pa(FAKE_PA), 32 * gb, true, &young), 0);
		assert_int_equal(young, 32);
		assert_true(look(f, 0x40000000).pte & S2_PTE_AF);
		assert_int_equal(
			s2_vm_invalidate_host_range(&f->vm, s2_pa(FAKE_PA), 0x2000000, &unmapped),
			S2_EBUSY);
		assert_true(look(f, 0x40000000 + 31 * gb).valid);

		/* a read-only lock of slot 2 after raising the limit; writes exit */
		f->vm.locked_limit = 48 * gb;
		assert_int_equal(s2_vm_slot_lock(&f->vm, 2, false), 0);
		assert_false(s2_lookup_prot(look(f, 0x50000000)) & S2_PROT_W);
		abort_at(f, esr_dabt(FSC_PERM(3), true) | ESR_ISV, 0x50000000, &r);
		assert_int_equal(r.action, S2_ABORT_MMIO);
		s2_host_port_clear_log(f->hp);
		assert_int_equal(s2_vm_vcpu_enter(&f->vcpu, &e), 0);
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, FAKE_PA + 0x1000000, 16 * gb),
				 fwb ? 0 : 1);
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, FAKE_PA, 32 * gb), 0);

		/* unlock: back to demand paging */
		assert_int_equal(s2_vm_slot_unlock(&f->vm, 1), 0);
		assert_int_equal(s2_vm_slot_unlock(&f->vm, 1), S2_EINVAL);
		assert_false(look(f, 0x40000000).valid);
		assert_int_equal(f->vm.locked_bytes, 16 * gb);
		s2_host_port_clear_log(f->hp);
		abort_at(f, esr_dabt(FSC_TRANS(3), false), 0x40000000, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, UINT64_MAX, 0), fwb ? 0 : 1);
		assert_int_equal(
			s2_vm_invalidate_host_range(&f->vm, s2_pa(FAKE_PA), 32 * gb, &unmapped), 0);
		assert_int_equal(unmapped, 32 * gb);
		assert_false(look(f, 0x40000000).valid);
		/* destroy with slot 2 still locked: freed, no leak (fx_free checks) */
		fx_free(f);
	}
}

/*
 * s2_vm_slot_set_flags() is all or nothing: READONLY | DIRTY_LOG on a slot mapped with a
 * writable block, with the port's allocations failing (the dirty bitmap cannot be had) or
 * failing after the bitmap (the split), returns S2_ENOMEM and leaves the flags, the block and
 * its write permission as they were; the same call then succeeds. (It used to write-protect
 * the slot and set READONLY before enabling logging failed.)
 */
static void test_set_flags_all_or_nothing(void **state)
{
	(void)state;
	for (unsigned int gi = 0; gi < 3; gi++) {
		for (long n = 0; n < 2; n++) {
			struct fx *f = fx_new(granules[gi], 40, 0);
			uint64_t blk = l2_size(granules[gi]);
			struct s2_memslot_desc d =
				ram_slot(1, 2 * blk, blk, FAKE_PA + 4 * blk, blk);
			struct s2_abort_result r;
			const struct s2_memslot *s;
			struct s2_lookup lk;

			assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
			abort_at(f, esr_dabt(FSC_TRANS(2), true), 2 * blk, &r);
			assert_int_equal(r.map_size, blk);
			s2_host_port_fail_alloc_after(f->hp, n);
			assert_int_equal(s2_vm_slot_set_flags(&f->vm, 1,
							      S2_SLOT_READONLY | S2_SLOT_DIRTY_LOG),
					 S2_ENOMEM);
			s2_host_port_fail_alloc_after(f->hp, -1);
			s = s2_vm_slot_find(&f->vm, 1);
			assert_non_null(s);
			assert_int_equal(s->d.flags, 0);
			assert_null(s->dirty);
			lk = look(f, 2 * blk);
			assert_true(lk.valid);
			assert_int_equal(lk.size, blk);
			assert_true(lk.pte & S2_PTE_S2AP_W);
			/* and without the failure it is applied */
			assert_int_equal(s2_vm_slot_set_flags(&f->vm, 1,
							      S2_SLOT_READONLY | S2_SLOT_DIRTY_LOG),
					 0);
			s = s2_vm_slot_find(&f->vm, 1);
			assert_int_equal(s->d.flags, S2_SLOT_READONLY | S2_SLOT_DIRTY_LOG);
			assert_false(look(f, 2 * blk).pte & S2_PTE_S2AP_W);
			fx_free(f);
		}
	}
}

/*
 * Required hooks and port operations are checked at create time (S2_EINVAL, nothing
 * allocated), one at a time: hooks.load_stage2 (the VM layer loads the VM's context before
 * its TLB maintenance), lock without unlock and the reverse, and each required port op
 * (checked by s2_pgtable_init() for s2_vm_init(); the optional tlbi_ipa_local is not).
 */
static void nop_lock(void *ctx, enum s2_vm_lock l)
{
	(void)ctx;
	(void)l;
}

static void test_create_required_hooks(void **state)
{
	struct fx *f = fx_new_port();
	struct s2_port_ops ops = *f->port.ops;
	struct s2_vm_params good = { .caps = &f->caps,
				     .req = { .ipa_bits = 40, .granule = S2_GRANULE_4K },
				     .port = f->port,
				     .vmids = &f->vmids,
				     .slots = f->slots,
				     .max_slots = NSLOTS,
				     .hooks = { .load_stage2 = s2_host_port_load_stage2 } };
	struct s2_vm_params p;
	struct s2_vm vm;
	(void)state;

	p = good;
	p.hooks.load_stage2 = NULL;
	assert_int_equal(s2_vm_init(&vm, &p), S2_EINVAL);
	p = good;
	p.hooks.lock = nop_lock;
	assert_int_equal(s2_vm_init(&vm, &p), S2_EINVAL);
	p = good;
	p.hooks.unlock = nop_lock;
	assert_int_equal(s2_vm_init(&vm, &p), S2_EINVAL);
	for (size_t i = 0; i < s2_test_port_nr_required_ops; i++) {
		struct s2_port_ops bad = ops;
		struct s2_pgtable pgt;
		struct s2_config cfg;

		memset((char *)&bad + s2_test_port_required_ops[i], 0, sizeof(void (*)(void)));
		p = good;
		p.port.ops = &bad;
		assert_int_equal(s2_vm_init(&vm, &p), S2_EINVAL);
		assert_int_equal(s2_config_init(&cfg, &f->caps, &good.req), 0);
		assert_int_equal(s2_pgtable_init(&pgt, &cfg, &p.port, NULL), S2_EINVAL);
	}
	assert_int_equal(s2_host_port_stats(f->hp).pages_in_use, 0);
	/* controls: the optional local TLBI may be missing; the full set works */
	{
		struct s2_port_ops opt = ops;

		opt.tlbi_ipa_local = NULL;
		p = good;
		p.port.ops = &opt;
		assert_int_equal(s2_vm_init(&vm, &p), 0);
		assert_int_equal(s2_vm_destroy(&vm), 0);
		p = good;
		p.hooks.lock = nop_lock;
		p.hooks.unlock = nop_lock;
		assert_int_equal(s2_vm_init(&vm, &p), 0);
		assert_int_equal(s2_vm_destroy(&vm), 0);
	}
	fx_free(f);
}

/* The host reclaims one granule inside a block: only that page goes, the rest of the block
 * stays mapped (split), and the next fault there maps a page. Without FWB what the guest
 * loses (the page, then the slot on delete) is cleaned to PoC by the engine; with FWB not. */
static void test_invalidate_partial(void **state)
{
	(void)state;
	for (unsigned int gi = 0; gi < 3; gi++) {
		struct fx *f = fx_new(granules[gi], 40, 0);
		uint64_t blk = l2_size(granules[gi]), gb = f->g;
		struct s2_memslot_desc d = ram_slot(1, 2 * blk, blk, FAKE_PA + 4 * blk, blk);
		struct s2_abort_result r;
		uint64_t unmapped;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		abort_at(f, esr_dabt(FSC_TRANS(2), true), 2 * blk, &r);
		assert_int_equal(r.map_size, blk);
		s2_host_port_clear_log(f->hp);
		assert_int_equal(s2_vm_invalidate_host_range(
					 &f->vm, s2_pa(FAKE_PA + 4 * blk + 7 * gb), gb, &unmapped),
				 0);
		assert_int_equal(unmapped, gb);
		assert_false(look(f, 2 * blk + 7 * gb).valid);
		assert_true(look(f, 2 * blk + 6 * gb).valid);
		assert_true(look(f, 2 * blk + 8 * gb).valid);
		assert_true(count_ev(f, S2_HOST_EV_TLBI_IPA, UINT64_MAX, 0) +
				    count_ev(f, S2_HOST_EV_TLBI_RANGE, UINT64_MAX, 0) +
				    count_ev(f, S2_HOST_EV_TLBI_VMID, UINT64_MAX, 0) >
			    0);
		/* FWB off (this VM): the page the guest lost was cleaned to PoC, only it */
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, FAKE_PA + 4 * blk + 7 * gb, gb),
				 1);
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, UINT64_MAX, 0), 1);
		/* a range outside every slot: nothing to do */
		assert_int_equal(s2_vm_invalidate_host_range(&f->vm, s2_pa(FAKE_PA), gb, &unmapped),
				 0);
		assert_int_equal(unmapped, 0);
		abort_at(f, esr_dabt(FSC_TRANS(3), false), 2 * blk + 7 * gb, &r);
		assert_int_equal(r.map_size, gb);
		/* Deleting the slot unmaps it: the whole (contiguous) backing in one clean. */
		s2_host_port_clear_log(f->hp);
		assert_int_equal(s2_vm_slot_delete(&f->vm, 1), 0);
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, FAKE_PA + 4 * blk, blk), 1);
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, UINT64_MAX, 0), 1);
		fx_free(f);
	}
	/* With FWB nothing is cleaned on unmap. */
	{
		struct fx *f = fx_new(S2_GRANULE_4K, 40, S2_CFG_FWB);
		struct s2_memslot_desc d = ram_slot(1, 0x40000000, 8 * f->g, FAKE_PA, 0);
		struct s2_abort_result r;
		uint64_t unmapped;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x40000000, &r);
		s2_host_port_clear_log(f->hp);
		assert_int_equal(
			s2_vm_invalidate_host_range(&f->vm, s2_pa(FAKE_PA), 8 * f->g, &unmapped),
			0);
		assert_true(unmapped >= f->g);
		assert_int_equal(s2_vm_slot_delete(&f->vm, 1), 0);
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, UINT64_MAX, 0), 0);
		fx_free(f);
	}
}

/* ---- MTE ------------------------------------------------------------------------------------ */

/*
 * Host ranges that wrap past 2^64 are refused (S2_ERANGE) with nothing changed; a range ending
 * exactly at 2^64 is fine; an empty one is S2_EINVAL. The IPA and PA ranges of slot add and
 * move cannot wrap either.
 */
static void test_host_range_wrap(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		struct fx *f = fx_cfg(m);
		uint64_t gb = f->g, base = 0x10000000, pa = FAKE_PA;
		struct s2_memslot_desc d = ram_slot(1, base, 8 * gb, pa, 0);
		struct s2_memslot_desc e;
		uint64_t out, top = UINT64_MAX - gb + 1; /* the last granule below 2^64 */
		struct s2_abort_result r;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		for (int i = 0; i < 8; i++)
			abort_at(f, esr_dabt(FSC_TRANS(3), false), base + i * gb, &r);

		/* wrapping ranges: refused, every page still mapped and young */
		out = 42;
		assert_int_equal(s2_vm_invalidate_host_range(&f->vm, s2_pa(pa), UINT64_MAX, &out),
				 S2_ERANGE);
		assert_int_equal(out, 0);
		assert_int_equal(s2_vm_invalidate_host_range(&f->vm, s2_pa(top), 2 * gb, &out),
				 S2_ERANGE);
		assert_int_equal(s2_vm_invalidate_host_range(&f->vm, s2_pa(UINT64_MAX), 2, NULL),
				 S2_ERANGE);
		out = 42;
		assert_int_equal(s2_vm_age_host_range(&f->vm, s2_pa(pa), UINT64_MAX, true, &out),
				 S2_ERANGE);
		assert_int_equal(out, 0);
		assert_int_equal(s2_vm_age_host_range(&f->vm, s2_pa(top), 2 * gb, true, &out),
				 S2_ERANGE);
		/* empty ranges: S2_EINVAL, nothing changed */
		assert_int_equal(s2_vm_invalidate_host_range(&f->vm, s2_pa(pa), 0, &out),
				 S2_EINVAL);
		assert_int_equal(out, 0);
		assert_int_equal(s2_vm_age_host_range(&f->vm, s2_pa(pa), 0, true, &out), S2_EINVAL);
		assert_int_equal(out, 0);
		for (int i = 0; i < 8; i++) {
			struct s2_lookup lk = look(f, base + i * gb);
			assert_true(lk.valid);
			assert_true(lk.pte & S2_PTE_AF);
		}

		/* ranges ending exactly at 2^64 (or at its last byte): the whole slot */
		assert_int_equal(
			s2_vm_age_host_range(&f->vm, s2_pa(pa + gb), 0 - (pa + gb), false, &out),
			0);
		assert_int_equal(out, 7);
		assert_int_equal(
			s2_vm_age_host_range(&f->vm, s2_pa(pa), UINT64_MAX - pa, false, &out), 0);
		assert_int_equal(out, 8);
		assert_int_equal(s2_vm_invalidate_host_range(&f->vm, s2_pa(pa + 2 * gb),
							     0 - (pa + 2 * gb), &out),
				 0);
		assert_int_equal(out, 6 * gb);
		assert_true(look(f, base + gb).valid);
		assert_false(look(f, base + 2 * gb).valid);
		assert_false(look(f, base + 7 * gb).valid);

		/* slot add / move: IPA and PA ranges that would wrap are out of range */
		e = ram_slot(2, 0x40000000, 0 - UINT64_C(0x40000000), pa + 0x100000, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_ERANGE);
		e = ram_slot(2, 0x40000000, 2 * gb, top, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_ERANGE);
		e = ram_slot(2, 0x40000000, 0 - gb, 0, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_ERANGE);
		e = ram_slot(2, top, 2 * gb, pa + 0x100000, 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &e), S2_ERANGE);
		assert_int_equal(s2_vm_slot_move(&f->vm, 1, s2_ipa(top)), S2_ERANGE);
		assert_int_equal(f->vm.nr_slots, 1);
		assert_int_equal(s2_ipa_val(s2_vm_slot_find(&f->vm, 1)->d.ipa), base);
		fx_free(f);
	}
}

/*
 * Allocation failure at every step of slot_add (dirty bitmap, MTE tag map) and of
 * dirty_log_enable (bitmap, split tables): refused with S2_ENOMEM, the call leaves nothing
 * behind at once (the port holds exactly the pages it held before), no slot or logging state,
 * the mapping intact; once allocations succeed again the same call works.
 */
static void test_alloc_failure_leaves_nothing(void **state)
{
	(void)state;
	for (int variant = 0; variant < 3; variant++) {
		bool mte = variant > 0;
		uint64_t flags = (mte ? S2_CFG_MTE : 0) | S2_CFG_FWB;
		int ok_at = -1;

		for (long n = 0; n < 64 && ok_at < 0; n++) {
			struct fx *f = fx_new(S2_GRANULE_4K, 40, flags);
			struct s2_memslot_desc d = ram_slot(1, 0x40000000, UINT64_C(4) << 20,
							    FAKE_PA, UINT64_C(2) << 20);
			struct s2_abort_result r;
			uint64_t before;
			int ret;

			if (mte) {
				d.host_type = S2_HOSTMEM_NORMAL_TAGGED;
				d.backing_tags = true;
			}
			if (variant != 2)
				d.flags = S2_SLOT_DIRTY_LOG;
			before = s2_host_port_stats(f->hp).pages_in_use;
			s2_host_port_fail_alloc_after(f->hp, n);
			ret = s2_vm_slot_add(&f->vm, &d);
			s2_host_port_fail_alloc_after(f->hp, -1);
			if (ret) {
				assert_int_equal(ret, S2_ENOMEM);
				assert_int_equal(s2_host_port_stats(f->hp).pages_in_use, before);
				assert_null(s2_vm_slot_find(&f->vm, 1));
				fx_free(f);
				continue;
			}
			if (variant != 2) {
				ok_at = (int)n;
				fx_free(f);
				continue;
			}
			/* variant 2: a mapped block, then logging enabled under failures */
			abort_at(f, esr_dabt(FSC_TRANS(2), false), 0x40001000, &r);
			assert_int_equal(r.map_size, UINT64_C(2) << 20);
			for (long k = 0; k < 64; k++) {
				before = s2_host_port_stats(f->hp).pages_in_use;
				s2_host_port_fail_alloc_after(f->hp, k);
				ret = s2_vm_dirty_log_enable(&f->vm, 1, false);
				s2_host_port_fail_alloc_after(f->hp, -1);
				if (!ret)
					break;
				assert_int_equal(ret, S2_ENOMEM);
				assert_int_equal(s2_host_port_stats(f->hp).pages_in_use, before);
				assert_false(s2_vm_slot_find(&f->vm, 1)->d.flags &
					     S2_SLOT_DIRTY_LOG);
				assert_true(look(f, 0x40001000).valid);
			}
			assert_int_equal(ret, 0);
			ok_at = (int)n;
			fx_free(f);
		}
		assert_true(ok_at > 0); /* some failure was exercised before success */
	}
}

/*
 * The dirty bitmap handed to s2_vm_dirty_log_get() is exactly as long as the slot needs (a
 * heap array: ASan sees a write one word past it): a slot of 65 pages needs 2 words; its first
 * and last pages dirty give bits 0 and 64; one word is too small (S2_EINVAL, nothing written).
 */
static void test_dirty_log_exact_bitmap(void **state)
{
	(void)state;
	for (unsigned int gi = 0; gi < 3; gi++) {
		struct fx *f = fx_new(granules[gi], 40, 0);
		uint64_t g = f->g, base = 0x40000000, nr = 7;
		struct s2_memslot_desc d = ram_slot(1, base, 65 * g, FAKE_PA, 0);
		uint64_t *bm = malloc(2 * sizeof(*bm));
		struct s2_abort_result r;

		assert_non_null(bm);
		d.flags = S2_SLOT_DIRTY_LOG;
		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		abort_at(f, esr_dabt(FSC_TRANS(3), true), base, &r);
		abort_at(f, esr_dabt(FSC_TRANS(3), true), base + 64 * g, &r);
		bm[0] = bm[1] = 0x5a5a;
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, 1, &nr), S2_EINVAL);
		assert_int_equal(bm[0], 0x5a5a);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, 2, &nr), 0);
		assert_int_equal(nr, 2);
		assert_int_equal(bm[0], 1);
		assert_int_equal(bm[1], 1);
		free(bm);
		fx_free(f);
	}
}

/*
 * The abort path tops the vCPU's page cache up to what one leaf can need, one table per level
 * below the root, and no more: the first fault of an empty VM takes exactly levels - 1 pages
 * from the port, all of them tables, and leaves the cache empty.
 */
static void test_abort_cache_bound(void **state)
{
	(void)state;
	for (unsigned int gi = 0; gi < 3; gi++) {
		struct fx *f = fx_new(granules[gi], 40, 0);
		struct s2_memslot_desc d = ram_slot(1, 0x40000000, 16 * f->g, FAKE_PA, 0);
		struct s2_abort_result r;
		struct s2_check_report rep;
		uint64_t before;

		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		before = s2_host_port_stats(f->hp).pages_in_use;
		abort_at(f, esr_dabt(FSC_TRANS(3), false), 0x40000000 + 3 * f->g, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_int_equal(f->vcpu.cache.nr, 0);
		assert_int_equal(s2_pgtable_check(&f->vm.pgt, &rep), 0);
		assert_int_equal(rep.table_pages,
				 f->vm.pgt.cfg.root_tables + f->vm.pgt.cfg.levels - 1);
		assert_int_equal(s2_host_port_stats(f->hp).pages_in_use - before,
				 (f->vm.pgt.cfg.levels - 1) * (f->g / 4096));
		fx_free(f);
	}
}

static void test_mte_tags(void **state)
{
	struct fx *f = fx_new(S2_GRANULE_4K, 40, S2_CFG_MTE | S2_CFG_FWB);
	struct s2_memslot_desc d = ram_slot(1, 0x40000000, 0x10000, FAKE_PA, 0);
	struct s2_abort_result r;
	struct s2_vcpu_entry e;
	(void)state;

	assert_int_equal(s2_vm_slot_add(&f->vm, &d), S2_EMEMTYPE); /* untagged mapping */
	d.host_type = S2_HOSTMEM_NORMAL_TAGGED;
	assert_int_equal(s2_vm_slot_add(&f->vm, &d), S2_EMEMTYPE); /* backing without tags */
	d.backing_tags = true;
	assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
	abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x40002000, &r);
	assert_int_equal(r.resume, S2_RESUME_MAPPED);
	assert_int_equal(f->nr_sanitised, 1);
	assert_int_equal(f->sanitised[0][0], FAKE_PA + 0x2000);
	assert_int_equal(f->sanitised[0][1], 0x1000);
	/* once per page: remapping after a host-side zap of another page does not redo it */
	assert_int_equal(s2_vm_invalidate_host_range(&f->vm, s2_pa(FAKE_PA), 0x1000, NULL), 0);
	abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x40002000, &r);
	assert_int_equal(r.resume, S2_RESUME_RETRY);
	assert_int_equal(f->nr_sanitised, 1);
	/* the host replaced page 2's memory: sanitised again on the next map */
	assert_int_equal(s2_vm_invalidate_host_range(&f->vm, s2_pa(FAKE_PA + 0x2000), 0x1000, NULL),
			 0);
	abort_at(f, esr_dabt(FSC_TRANS(3), false), 0x40002000, &r);
	assert_int_equal(r.resume, S2_RESUME_MAPPED);
	assert_int_equal(f->nr_sanitised, 2);
	assert_int_equal(s2_vm_vcpu_enter(&f->vcpu, &e), 0);
	assert_true(e.hcr_set & S2_BIT(56)); /* HCR_EL2.ATA */
	fx_free(f);
}

/* ---- slot move / flags ------------------------------------------------------------------------ */

static void test_slot_move_flags(void **state)
{
	struct fx *f = fx_new(S2_GRANULE_4K, 40, 0);
	struct s2_memslot_desc d = ram_slot(1, 0x40000000, 0x10000, FAKE_PA, 0);
	struct s2_memslot_desc d2 = ram_slot(2, 0x50000000, 0x10000, FAKE_PA + 0x100000, 0);
	struct s2_abort_result r;
	struct s2_lookup lk;
	(void)state;

	assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
	assert_int_equal(s2_vm_slot_add(&f->vm, &d2), 0);
	abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x40003000, &r);
	assert_int_equal(s2_vm_slot_move(&f->vm, 1, s2_ipa(0x50008000)), S2_EEXIST);
	assert_int_equal(s2_vm_slot_move(&f->vm, 1, s2_ipa(0x60000800)), S2_EALIGN);
	assert_int_equal(s2_vm_slot_move(&f->vm, 1, s2_ipa(UINT64_C(1) << 40)), S2_ERANGE);
	assert_int_equal(s2_vm_slot_move(&f->vm, 9, s2_ipa(0x60000000)), S2_ENOENT);
	assert_true(look(f, 0x40003000).valid);
	assert_int_equal(s2_vm_slot_move(&f->vm, 1, s2_ipa(0x60000000)), 0);
	assert_false(look(f, 0x40003000).valid);
	abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x60003000, &r);
	lk = look(f, 0x60003000);
	assert_int_equal(s2_pa_val(lk.pa), FAKE_PA + 0x3000);
	assert_ptr_equal(s2_vm_slot_at(&f->vm, s2_ipa(0x60003000)), s2_vm_slot_find(&f->vm, 1));
	/* read-only: write-protects what is mapped; writes then exit */
	assert_int_equal(s2_vm_slot_set_flags(&f->vm, 1, S2_SLOT_READONLY), 0);
	assert_false(s2_lookup_prot(look(f, 0x60003000)) & S2_PROT_W);
	abort_at(f, esr_dabt(FSC_PERM(3), true) | ESR_ISV, 0x60003000, &r);
	assert_int_equal(r.action, S2_ABORT_MMIO);
	assert_int_equal(s2_vm_slot_set_flags(&f->vm, 1, S2_BIT(9)), S2_EINVAL);
	/* read-only and dirty logging together (KVM accepts them): no page ever dirty */
	assert_int_equal(s2_vm_slot_set_flags(&f->vm, 1, S2_SLOT_READONLY | S2_SLOT_DIRTY_LOG), 0);
	assert_non_null(s2_vm_slot_find(&f->vm, 1)->dirty);
	assert_int_equal(s2_vm_slot_set_flags(&f->vm, 1, S2_SLOT_READONLY), 0);
	assert_null(s2_vm_slot_find(&f->vm, 1)->dirty);
	/* writable again: the next write relaxes in place */
	assert_int_equal(s2_vm_slot_set_flags(&f->vm, 1, 0), 0);
	abort_at(f, esr_dabt(FSC_PERM(3), true), 0x60003000, &r);
	assert_int_equal(r.resume, S2_RESUME_RELAXED);
	/* dirty logging through the flags */
	assert_int_equal(s2_vm_slot_set_flags(&f->vm, 1, S2_SLOT_DIRTY_LOG), 0);
	assert_false(s2_lookup_prot(look(f, 0x60003000)) & S2_PROT_W);
	assert_int_equal(s2_vm_slot_set_flags(&f->vm, 1, 0), 0);
	assert_null(s2_vm_slot_find(&f->vm, 1)->dirty);
	fx_free(f);
}

/*
 * Destroying VMs around a rollover (8-bit VMIDs), through public calls only: a VM destroyed
 * while holding a VMID of the current generation gives it back (the next VM takes it without
 * a rollover) and leaves the allocator (its memory is freed at once: a rollover that still
 * walked it would be a use after free under ASan); a rollover invalidates exactly the VMs
 * holding current VMIDs; a VM destroyed holding a VMID of an older generation neither
 * invalidates nor frees anything (that VMID may belong to another VM now: freeing it would
 * hand it out twice), so with every VMID of the generation in use the next VM rolls over.
 */
static void test_vmid_destroy_and_rollover(void **state)
{
	enum { N = 257 };
	struct fx *f = fx_new_port();
	struct s2_vm *vms[N + 1];
	struct s2_vcpu vc[N + 1];
	struct s2_memslot sl[N + 1][1];
	struct s2_vcpu_entry e;
	uint64_t t0;
	(void)state;

	assert_int_equal(s2_vmid_alloc_init(&f->vmids, 8), 0);
	for (int i = 0; i <= N; i++) {
		struct s2_vm_params p = { .caps = &f->caps,
					  .req = { .ipa_bits = 32, .granule = S2_GRANULE_4K },
					  .port = s2_host_port_port(f->hp),
					  .vmids = &f->vmids,
					  .slots = sl[i],
					  .max_slots = 1,
					  .hooks = fx_hooks(f) };
		vms[i] = calloc(1, sizeof(*vms[i]));
		assert_non_null(vms[i]);
		assert_int_equal(s2_vm_init(vms[i], &p), 0);
		assert_int_equal(s2_vcpu_init(&vc[i], vms[i], 0), 0);
	}
	for (int i = 0; i < 255; i++) {
		assert_int_equal(s2_vm_vcpu_enter(&vc[i], &e), 0);
		assert_false(e.rollover);
	}
	/* VM 1 goes, holding a current VMID: VM 255 takes it, no rollover */
	s2_vcpu_destroy(&vc[1]);
	s2_vm_destroy(vms[1]);
	free(vms[1]);
	vms[1] = NULL;
	assert_int_equal(s2_vm_vcpu_enter(&vc[255], &e), 0);
	assert_false(e.rollover);
	/* VM 256 rolls over: VMs 0, 2..255 (255 VMs) are invalidated, nothing else */
	t0 = s2_host_port_stats(f->hp).tlbi_vmid;
	assert_int_equal(s2_vm_vcpu_enter(&vc[256], &e), 0);
	assert_true(e.rollover);
	assert_int_equal(s2_host_port_stats(f->hp).tlbi_vmid - t0, 255);
	/* the new generation fills up: VM 256 and VMs 2..255 */
	for (int i = 2; i <= 255; i++) {
		assert_int_equal(s2_vm_vcpu_enter(&vc[i], &e), 0);
		assert_false(e.rollover);
	}
	/* VM 0 still holds a VMID of the old generation: its destruction changes nothing */
	t0 = s2_host_port_stats(f->hp).tlbi_vmid;
	s2_vcpu_destroy(&vc[0]);
	s2_vm_destroy(vms[0]);
	free(vms[0]);
	vms[0] = NULL;
	assert_int_equal(s2_host_port_stats(f->hp).tlbi_vmid, t0);
	/* ... so the next VM finds every VMID in use and rolls over */
	assert_int_equal(s2_vm_vcpu_enter(&vc[N], &e), 0);
	assert_true(e.rollover);
	for (int i = 0; i <= N; i++) {
		if (!vms[i])
			continue;
		s2_vcpu_destroy(&vc[i]);
		s2_vm_destroy(vms[i]);
		free(vms[i]);
	}
	assert_int_equal(f->vmids.nr_vms, 0);
	fx_locks_ok(f, "over the test");
	assert_int_equal(s2_host_port_stats(f->hp).pages_in_use, 0);
	s2_host_port_destroy(f->hp);
	free(f);
}

/* ---- VMIDs ------------------------------------------------------------------------------------ */

static void test_vmid_rollover(void **state)
{
	enum { N = 257 };
	struct fx *f = fx_new_port();
	struct s2_vm *vms = calloc(N, sizeof(*vms));
	struct s2_vcpu *vc = calloc(N, sizeof(*vc));
	struct s2_memslot(*sl)[1] = calloc(N, sizeof(*sl));
	struct s2_vcpu_entry e;
	unsigned int seen[256] = { 0 };
	(void)state;

	assert_int_equal(s2_vmid_alloc_init(&f->vmids, 8), 0);
	for (int i = 0; i < N; i++) {
		struct s2_vm_params p = { .caps = &f->caps,
					  .req = { .ipa_bits = 32, .granule = S2_GRANULE_4K },
					  .port = s2_host_port_port(f->hp),
					  .vmids = &f->vmids,
					  .slots = sl[i],
					  .max_slots = 1,
					  .hooks = fx_hooks(f) };
		assert_int_equal(s2_vm_init(&vms[i], &p), 0);
		assert_int_equal(s2_vcpu_init(&vc[i], &vms[i], 0), 0);
	}
	/* 255 VMIDs (0 is the host's): the first 255 VMs get distinct ones without a flush */
	for (int i = 0; i < 255; i++) {
		assert_int_equal(s2_vm_vcpu_enter(&vc[i], &e), 0);
		assert_false(e.rollover);
		unsigned int id = (unsigned int)(e.vttbr >> 48);
		assert_true(id > 0 && id < 256);
		assert_int_equal(seen[id]++, 0);
	}
	assert_int_equal(s2_host_port_stats(f->hp).tlbi_vmid, 0);
	/* the 256th rolls over: every VM holding a VMID is invalidated */
	assert_int_equal(s2_vm_vcpu_enter(&vc[255], &e), 0);
	assert_true(e.rollover);
	assert_int_equal(s2_host_port_stats(f->hp).tlbi_vmid, 255);
	assert_int_equal(f->vmids.rollovers, 1);
	/* VMs of the old generation take new VMIDs, distinct from the current holders */
	memset(seen, 0, sizeof(seen));
	seen[e.vttbr >> 48]++;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(s2_vm_vcpu_enter(&vc[i], &e), 0);
		assert_true(e.vmid_changed);
		assert_int_equal(seen[e.vttbr >> 48]++, 0);
	}
	for (int i = 0; i < N; i++) {
		s2_vcpu_destroy(&vc[i]);
		s2_vm_destroy(&vms[i]);
	}
	assert_int_equal(f->vmids.nr_vms, 0);
	free(vms);
	free(vc);
	free(sl);
	assert_int_equal(s2_host_port_stats(f->hp).pages_in_use, 0);
	s2_host_port_destroy(f->hp);
	free(f);
}

/* ---- end to end: the reference walker as the guest's MMU ------------------------------------ */

/*
 * A guest access: walk the VM's real tables as the hardware would; on a fault build ESR_EL2 /
 * HPFAR_EL2 from the walker's fault (kind and level through s2_fsc_encode) and hand it to the
 * abort handler; retry until the access completes or the handler exits / injects.
 */
static struct guest_out guest_access(struct fx *f, enum s2_access_type type, uint64_t ipa)
{
	struct s2_walk_mem mem = s2_host_port_walk_mem(f->hp);
	struct guest_out o = { 0 };

	for (int tries = 0; tries < 4; tries++) {
		struct s2_access acc = { .type = type };
		int fsc;
		uint64_t esr;

		assert_int_equal(
			s2_walk(&f->vm.pgt.cfg, f->vm.pgt.root_pa, &mem, s2_ipa(ipa), acc, &o.w),
			0);
		if (o.w.fault == S2_FAULT_NONE) {
			o.action = S2_ABORT_RESUME;
			return o;
		}
		fsc = s2_fsc_encode(o.w.fault, o.w.level);
		assert_true(fsc >= 0);
		esr = type == S2_ACCESS_EXEC ? esr_iabt((unsigned int)fsc) :
					       esr_dabt((unsigned int)fsc, type == S2_ACCESS_WRITE);
		o.faults++;
		abort_at(f, esr | ESR_ISV | ESR_SAS(3) | ESR_SF, ipa, &o.r);
		if (o.r.action != S2_ABORT_RESUME) {
			o.action = o.r.action;
			return o;
		}
	}
	fail_msg("access at 0x%llx never completed", (unsigned long long)ipa);
	return o;
}

static void test_guest_end_to_end(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		struct fx *f = fx_cfg(m);
		uint64_t gb = f->g, blk = l2_size(m->cfg.granule);
		struct s2_memslot_desc ram = ram_slot(1, 2 * blk, 2 * blk, FAKE_PA + 2 * blk, blk);
		struct s2_memslot_desc io = ram_slot(2, 6 * blk, 4 * gb, FAKE_PA + 16 * blk, 0);
		struct guest_out o;
		static uint64_t bm[256], want[256];
		uint64_t nr, words = 2 * blk / gb / 64;
		bool dbm = m->cfg.hd;

		io.backing = S2_BACKING_MMIO;
		io.host_type = S2_HOSTMEM_DEVICE_nGnRE;
		ram.size = 2 * blk;
		assert_int_equal(s2_vm_slot_add(&f->vm, &ram), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &io), 0);

		/* read, write, exec on RAM: each completes, at the slot's PA */
		o = guest_access(f, S2_ACCESS_READ, 2 * blk + 5 * gb + 0x10);
		assert_int_equal(o.action, S2_ABORT_RESUME);
		assert_int_equal(o.faults, 1);
		assert_int_equal(s2_pa_val(o.w.pa), FAKE_PA + 2 * blk + 5 * gb + 0x10);
		assert_int_equal(o.w.block_size, blk);
		assert_int_equal(o.w.memattr, m->cfg.fwb ? 0x6 : 0xf);
		o = guest_access(f, S2_ACCESS_WRITE, 2 * blk + 5 * gb);
		assert_int_equal(o.faults, 0);
		o = guest_access(f, S2_ACCESS_EXEC, 2 * blk + 6 * gb);
		assert_int_equal(o.action, S2_ABORT_RESUME);
		assert_int_equal(o.faults, 1); /* permission fault: X granted in place */
		assert_int_equal(o.r.resume, S2_RESUME_RELAXED);
		/* Device MMIO: data mapped Device-nGnRE, exec injected */
		o = guest_access(f, S2_ACCESS_WRITE, 6 * blk + gb);
		assert_int_equal(o.action, S2_ABORT_RESUME);
		assert_int_equal(o.w.memattr, 0x1);
		o = guest_access(f, S2_ACCESS_EXEC, 6 * blk + gb);
		assert_int_equal(o.action, S2_ABORT_INJECT);
		assert_int_equal(o.r.inject, S2_INJECT_EXEC_REFUSED);
		/* nothing there: MMIO exit carrying the access */
		o = guest_access(f, S2_ACCESS_WRITE, 7 * blk + 8);
		assert_int_equal(o.action, S2_ABORT_MMIO);
		assert_int_equal(s2_ipa_val(o.r.mmio.ipa), 7 * blk + 8);
		assert_int_equal(o.r.mmio.size, 8);

		/* dirty logging, fault-based, or with DBM when the VM has HD */
		assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, dbm), 0);
		uint64_t f0 = f->vm.stats.faults[1];
		static const unsigned int pg[] = { 0, 3, 5, 200, 255 };
		for (unsigned int i = 0; i < S2_ARRAY_SIZE(pg); i++) {
			uint64_t page = pg[i] % (2 * blk / gb);
			o = guest_access(f, S2_ACCESS_WRITE, 2 * blk + page * gb + 4);
			assert_int_equal(o.action, S2_ABORT_RESUME);
			assert_int_equal(o.w.block_size, gb);
		}
		o = guest_access(f, S2_ACCESS_READ, 2 * blk + 7 * gb);
		if (dbm)
			assert_int_equal(f->vm.stats.faults[1], f0); /* hardware dirtied them */
		else
			assert_true(f->vm.stats.faults[1] > f0);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, words, &nr), 0);
		memset(want, 0, sizeof(want));
		uint64_t nwant = 0;
		for (unsigned int i = 0; i < S2_ARRAY_SIZE(pg); i++) {
			uint64_t page = pg[i] % (2 * blk / gb);
			if (!(want[page / 64] & (UINT64_C(1) << (page % 64))))
				nwant++;
			want[page / 64] |= UINT64_C(1) << (page % 64);
		}
		assert_int_equal(nr, nwant);
		assert_memory_equal(bm, want, words * 8);
		/* harvested pages are clean again: the next write is logged again */
		o = guest_access(f, S2_ACCESS_WRITE, 2 * blk + 3 * gb);
		assert_int_equal(o.action, S2_ABORT_RESUME);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, words, &nr), 0);
		assert_int_equal(nr, 1);
		assert_int_equal(bm[0], UINT64_C(1) << 3);
		assert_int_equal(s2_vm_dirty_log_disable(&f->vm, 1), 0);
		o = guest_access(f, S2_ACCESS_WRITE, 2 * blk + 3 * gb);
		assert_int_equal(o.action, S2_ABORT_RESUME);

		/* locked slot: guest reads hit without a fault after the entry's maintenance */
		assert_int_equal(s2_vm_slot_delete(&f->vm, 1), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &ram), 0);
		f->vm.locked_limit = 2 * blk;
		s2_host_port_clear_log(f->hp);
		assert_int_equal(s2_vm_slot_lock(&f->vm, 1, true), 0);
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, UINT64_MAX, 0), 0);
		struct s2_vcpu_entry e;
		assert_int_equal(s2_vm_vcpu_enter(&f->vcpu, &e), 0);
		assert_int_equal(count_ev(f, S2_HOST_EV_DC_CIVAC, FAKE_PA + 2 * blk, 2 * blk),
				 m->cfg.fwb ? 0 : 1);
		o = guest_access(f, S2_ACCESS_WRITE, 2 * blk + blk / 2);
		assert_int_equal(o.faults, 0);
		assert_int_equal(o.w.block_size, blk);
		fx_free(f);
	}
}

/*
 * A stage-1 table walk by the hardware, as QEMU reports it: the walker reads the descriptor
 * (a read of the table page), then with hardware AF/dirty at stage 1 writes it back (checked
 * as a write at stage 2). A stage-2 fault on either is reported with S1PTW set; for an
 * instruction fetch as an instruction abort (no WnR), for a load or store as a data abort with
 * WnR set on the write-back. Retries until the walk completes or the handler does not resume.
 */
static struct guest_out guest_walk(struct fx *f, bool insn, bool hw_update, uint64_t ipa)
{
	struct s2_walk_mem mem = s2_host_port_walk_mem(f->hp);
	struct guest_out o = { 0 };

	for (int tries = 0; tries < 4; tries++) {
		bool wr = hw_update; /* the read first, then the write-back */
		struct s2_access acc = { .type = S2_ACCESS_READ, .s1ptw = true };
		uint64_t esr;
		int fsc;

		assert_int_equal(
			s2_walk(&f->vm.pgt.cfg, f->vm.pgt.root_pa, &mem, s2_ipa(ipa), acc, &o.w),
			0);
		if (o.w.fault == S2_FAULT_NONE && wr) {
			acc.type = S2_ACCESS_WRITE;
			assert_int_equal(s2_walk(&f->vm.pgt.cfg, f->vm.pgt.root_pa, &mem,
						 s2_ipa(ipa), acc, &o.w),
					 0);
		}
		if (o.w.fault == S2_FAULT_NONE) {
			o.action = S2_ABORT_RESUME;
			return o;
		}
		fsc = s2_fsc_encode(o.w.fault, o.w.level);
		assert_true(fsc >= 0);
		esr = insn ? esr_iabt((unsigned int)fsc) :
			     esr_dabt((unsigned int)fsc, acc.type == S2_ACCESS_WRITE);
		o.faults++;
		abort_at(f, esr | ESR_S1PTW, ipa, &o.r);
		if (o.r.action != S2_ABORT_RESUME) {
			o.action = o.r.action;
			return o;
		}
	}
	fail_msg("stage-1 walk at 0x%llx never completed (livelock)", (unsigned long long)ipa);
	return o;
}

/* Linux's hardware-AF stage-1 walker on guest page tables: once dirty logging starts, a walk
 * that updates a write-protected table page is a write fault (relaxed, dirty), for an
 * instruction fetch too; in a read-only slot the walk reads and a write-back is injected. */
static void test_s1ptw_guest_walk(void **state)
{
	(void)state;
	FOR_EACH_CFG(m)
	{
		struct fx *f = fx_cfg(m);
		uint64_t gb = f->g, base = 0x10000000, rob = 0x18000000;
		struct s2_memslot_desc d = ram_slot(1, base, 32 * gb, FAKE_PA, 0);
		struct s2_memslot_desc ro = ram_slot(2, rob, 4 * gb, FAKE_PA + 32 * gb, 0);
		struct guest_out o;
		uint64_t bm[1], nr;

		ro.flags = S2_SLOT_READONLY;
		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &ro), 0);
		for (int insn = 0; insn < 2; insn++) {
			o = guest_walk(f, insn, true, base + insn * gb);
			assert_int_equal(o.action, S2_ABORT_RESUME);
		}
		assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, m->cfg.hd), 0);
		for (int insn = 0; insn < 2; insn++) {
			o = guest_walk(f, insn, true, base + insn * gb);
			assert_int_equal(o.action, S2_ABORT_RESUME);
			assert_int_equal(o.faults, m->cfg.hd ? 0 : 1);
			assert_false(s2_lookup_prot(look(f, base + insn * gb)) & S2_PROT_X);
			/* a new table page: read-mapped clean, then written */
			o = guest_walk(f, insn, true, base + (4 + insn) * gb);
			assert_int_equal(o.action, S2_ABORT_RESUME);
		}
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, 1, &nr), 0);
		assert_int_equal(nr, 4);
		assert_int_equal(bm[0], UINT64_C(0x33));
		/* a walk that only reads a logged page leaves it clean */
		o = guest_walk(f, true, false, base + 9 * gb);
		assert_int_equal(o.action, S2_ABORT_RESUME);
		assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, 1, &nr), 0);
		assert_int_equal(nr, 0);
		/* read-only slot: the walk reads; a write-back is refused */
		for (int insn = 0; insn < 2; insn++) {
			o = guest_walk(f, insn, false, rob + insn * gb);
			assert_int_equal(o.action, S2_ABORT_RESUME);
			o = guest_walk(f, insn, true, rob + insn * gb);
			assert_int_equal(o.action, S2_ABORT_INJECT);
			assert_int_equal(o.r.inject, S2_INJECT_S1PTW);
		}
		fx_free(f);
	}
}

/* ---- random syndromes: the tables only ever map what the slots say ------------------------- */

struct inv_arg {
	struct fx *f;
	uint64_t leaves;
};

static int check_leaf(void *arg, const struct s2_walk_visit *v)
{
	struct inv_arg *a = arg;
	const struct s2_memslot *s;
	struct s2_lookup lk;
	uint64_t ipa = s2_ipa_val(v->ipa);

	if (!(v->pte & S2_PTE_VALID))
		return 0;
	a->leaves++;
	s = s2_vm_slot_at(&a->f->vm, v->ipa);
	assert_non_null(s);
	assert_true(ipa + v->size <= s2_ipa_val(s->d.ipa) + s->d.size);
	assert_true(v->size <= s->d.backing_page_size);
	assert_int_equal(s2_pgtable_lookup(&a->f->vm.pgt, v->ipa, &lk), 0);
	assert_int_equal(s2_pa_val(lk.pa), s2_pa_val(s->d.pa) + (ipa - s2_ipa_val(s->d.ipa)));
	assert_int_equal(S2_FIELD_GET(S2_PTE_MEMATTR, v->pte), s->mt[0].memattr);
	if (s->d.flags & S2_SLOT_READONLY)
		assert_false(s2_lookup_prot(lk) & S2_PROT_W);
	if (!s->mt[0].exec)
		assert_false(s2_lookup_prot(lk) & S2_PROT_X);
	return 0;
}

static uint64_t lcg(uint64_t *x)
{
	*x = *x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
	return *x >> 11;
}

/* ---- the abort path's short path against the general path ------------------------------------ */

/* Two VMs built alike: @a takes aborts as configured, @b with every abort through the general
 * path (s2_vm_test_no_short). */
struct twin {
	struct fx *f[2];
	uint64_t blk;
	bool dbm;
};

static void twin_call(struct twin *t, int i, uint64_t esr, uint64_t ipa, int *ret,
		      struct s2_abort_result *r)
{
	s2_vm_test_no_short = i == 1;
	*ret = s2_vm_handle_abort(&t->f[i]->vcpu, esr, far_of(ipa), hpfar_of(ipa), r);
	s2_vm_test_no_short = false;
}

/* Everything either VM did since the last step is the same: results, counters, port events. */
static void twin_same(struct twin *t, int step)
{
	unsigned int n[2];
	bool over[2];
	const struct s2_host_event *ev[2];

	for (int i = 0; i < 2; i++) {
		ev[i] = s2_host_port_log(t->f[i]->hp, &n[i], &over[i]);
		assert_false(over[i]);
	}
	if (n[0] != n[1])
		fail_msg("step %d: %u events against %u", step, n[0], n[1]);
	for (unsigned int k = 0; k < n[0]; k++)
		if (ev[0][k].kind != ev[1][k].kind || ev[0][k].addr != ev[1][k].addr ||
		    ev[0][k].size != ev[1][k].size || ev[0][k].level != ev[1][k].level ||
		    ev[0][k].barrier != ev[1][k].barrier)
			fail_msg("step %d: event %u differs (kind %d / %d, addr %llx / %llx)", step,
				 k, ev[0][k].kind, ev[1][k].kind, (unsigned long long)ev[0][k].addr,
				 (unsigned long long)ev[1][k].addr);
	if (memcmp(&t->f[0]->vm.stats, &t->f[1]->vm.stats, sizeof(t->f[0]->vm.stats)))
		fail_msg("step %d: counters differ", step);
	for (int i = 0; i < 2; i++)
		s2_host_port_clear_log(t->f[i]->hp);
}

static void test_abort_short_vs_general(void **state)
{
	static const struct {
		enum s2_granule g;
		unsigned int ipa_bits;
		uint64_t flags;
	} cfgs[] = {
		{ S2_GRANULE_4K, 40, S2_CFG_FWB | S2_CFG_HA | S2_CFG_HD },
		{ S2_GRANULE_4K, 40, S2_CFG_HA | S2_CFG_HD }, /* cache maintenance on the map */
		{ S2_GRANULE_4K, 48, S2_CFG_FWB }, /* start level 0 */
		{ S2_GRANULE_4K, 36, S2_CFG_FWB }, /* start level 2 */
		{ S2_GRANULE_16K, 40, S2_CFG_FWB | S2_CFG_HA | S2_CFG_HD },
		{ S2_GRANULE_64K, 42, 0 },
	};
	uint64_t relaxed = 0, mapped = 0;

	(void)state;
	for (size_t c = 0; c < S2_ARRAY_SIZE(cfgs); c++) {
		struct twin t = { .dbm = (cfgs[c].flags & S2_CFG_HD) != 0 };
		uint64_t x = 7 + c, g;
		uint64_t base[5];

		for (int i = 0; i < 2; i++) {
			t.f[i] = fx_new_port_log(1 << 14);
			assert_int_equal(fx_vm(t.f[i], cfgs[c].g, cfgs[c].ipa_bits, cfgs[c].flags),
					 0);
		}
		g = t.f[0]->g;
		t.blk = l2_size(cfgs[c].g);
		for (int k = 0; k < 5; k++)
			base[k] = (4 + 3 * (uint64_t)k) * t.blk;
		for (int i = 0; i < 2; i++) {
			struct s2_memslot_desc ram =
				ram_slot(1, base[0], 2 * t.blk, FAKE_PA, t.blk);
			struct s2_memslot_desc ro =
				ram_slot(2, base[1], t.blk, FAKE_PA + 4 * t.blk, t.blk);
			struct s2_memslot_desc io =
				ram_slot(3, base[2], t.blk, FAKE_PA + 8 * t.blk, 0);
			struct s2_memslot_desc dl =
				ram_slot(4, base[3], 2 * t.blk, FAKE_PA + 12 * t.blk, t.blk);
			struct s2_memslot_desc db =
				ram_slot(5, base[4], 2 * t.blk, FAKE_PA + 16 * t.blk, t.blk);

			ro.flags = S2_SLOT_READONLY;
			io.backing = S2_BACKING_MMIO;
			io.host_type = S2_HOSTMEM_DEVICE_nGnRE;
			dl.flags = S2_SLOT_DIRTY_LOG;
			assert_int_equal(s2_vm_slot_add(&t.f[i]->vm, &ram), 0);
			assert_int_equal(s2_vm_slot_add(&t.f[i]->vm, &ro), 0);
			assert_int_equal(s2_vm_slot_add(&t.f[i]->vm, &io), 0);
			assert_int_equal(s2_vm_slot_add(&t.f[i]->vm, &dl), 0);
			assert_int_equal(s2_vm_slot_add(&t.f[i]->vm, &db), 0);
			if (t.dbm)
				assert_int_equal(s2_vm_dirty_log_enable(&t.f[i]->vm, 5, true), 0);
		}
		twin_same(&t, -1);
		for (int step = 0; step < 6000; step++) {
			uint64_t r1 = lcg(&x), r2 = lcg(&x), r3 = lcg(&x);
			unsigned int pick = (unsigned int)(r1 % 100), fsc;
			/* a few pages of each slot (repeats: permission faults, stale faults), and a
			 * gap after each slot; any offset in the granule */
			uint64_t ipa = base[r2 % 5] + (r2 >> 8) % 48 * g +
				       ((r2 >> 20) % 3) * t.blk +
				       (lcg(&x) & (g - 1) & ~UINT64_C(7));
			uint64_t esr = ESR_IL;
			int ret[2];
			struct s2_abort_result r[2];

			if (pick < 40)
				fsc = FSC_TRANS(3);
			else if (pick < 70)
				fsc = FSC_PERM(3);
			else if (pick < 75)
				fsc = FSC_AF(3);
			else if (pick < 88)
				fsc = FSC_TRANS((unsigned int)(r3 >> 12) % 3 + 1);
			else
				fsc = FSC_PERM((unsigned int)(r3 >> 12) % 3 + 1);
			esr |= fsc | ESR_EC((r3 >> 16) % 10 ? 0x24 : 0x20);
			if (r3 & S2_BIT(20))
				esr |= ESR_WNR;
			if ((r3 >> 21) % 20 == 0)
				esr |= ESR_ISV | ESR_SAS(2) | ESR_SRT(3);
			if ((r3 >> 26) % 20 == 0)
				esr |= ESR_S1PTW;
			if ((r3 >> 31) % 20 == 0)
				esr |= S2_BIT(10); /* FnV */
			if ((r3 >> 36) % 20 == 0)
				esr |= ESR_CM;
			if ((r3 >> 41) % 50 == 0)
				ipa |= UINT64_C(1) << cfgs[c].ipa_bits; /* beyond the VM */

			for (int i = 0; i < 2; i++)
				twin_call(&t, i, esr, ipa, &ret[i], &r[i]);
			assert_int_equal(ret[0], ret[1]);
			assert_int_equal(r[0].action, r[1].action);
			assert_int_equal(r[0].resume, r[1].resume);
			assert_int_equal(r[0].inject, r[1].inject);
			assert_int_equal(s2_ipa_val(r[0].ipa), s2_ipa_val(r[1].ipa));
			assert_int_equal(r[0].fault, r[1].fault);
			assert_int_equal(r[0].level, r[1].level);
			assert_int_equal(r[0].write, r[1].write);
			assert_int_equal(r[0].exec, r[1].exec);
			assert_int_equal(r[0].s1ptw, r[1].s1ptw);
			assert_int_equal(r[0].map_size, r[1].map_size);
			assert_int_equal(s2_ipa_val(r[0].mmio.ipa), s2_ipa_val(r[1].mmio.ipa));
			assert_int_equal(r[0].mmio.write, r[1].mmio.write);
			assert_int_equal(r[0].mmio.size, r[1].mmio.size);
			assert_int_equal(r[0].mmio.syndrome, r[1].mmio.syndrome);
			assert_int_equal(r[0].mmio.cache_maint, r[1].mmio.cache_maint);
			if (r[0].action == S2_ABORT_RESUME && r[0].resume == S2_RESUME_RELAXED)
				relaxed++;
			if (r[0].action == S2_ABORT_RESUME && r[0].resume == S2_RESUME_MAPPED)
				mapped++;
			for (int i = 0; i < 2 && !ret[0]; i++)
				if (r[i].action == S2_ABORT_RESUME)
					assert_int_equal(
						look(t.f[0], s2_ipa_val(r[0].ipa) & ~(g - 1)).pte,
						look(t.f[1], s2_ipa_val(r[0].ipa) & ~(g - 1)).pte);
			if (step % 97 == 96) {
				/* Harvest: dirty pages become read-only again (write faults anew). */
				for (uint32_t id = 4; id <= (t.dbm ? 5u : 4u); id++) {
					uint64_t bm[2][256] = { { 0 } }, nr[2];

					for (int i = 0; i < 2; i++)
						assert_int_equal(s2_vm_dirty_log_get(&t.f[i]->vm,
										     id, bm[i], 256,
										     &nr[i]),
								 0);
					assert_int_equal(nr[0], nr[1]);
					assert_memory_equal(bm[0], bm[1], sizeof(bm[0]));
				}
			}
			if (step % 389 == 388) {
				/* The host takes a RAM page back. */
				uint64_t pa = FAKE_PA + (r1 >> 8) % (2 * t.blk / g) * g, un[2];

				for (int i = 0; i < 2; i++)
					assert_int_equal(s2_vm_invalidate_host_range(
								 &t.f[i]->vm, s2_pa(pa), g, &un[i]),
							 0);
				assert_int_equal(un[0], un[1]);
			}
			twin_same(&t, step);
		}
		for (int k = 0; k < 5; k++)
			for (uint64_t off = 0; off < 3 * t.blk; off += g)
				assert_int_equal(look(t.f[0], base[k] + off).pte,
						 look(t.f[1], base[k] + off).pte);
		for (int i = 0; i < 2; i++)
			fx_free(t.f[i]);
	}
	/* The sequence reaches both of the short path's outcomes many times. */
	assert_true(relaxed > 500);
	assert_true(mapped > 500);
}

/*
 * A VM on a 52-bit CPU asking for a 48-bit output size (s2_config_req.pa_bits_max) gets the
 * 48-bit descriptor layout and the engine's 4K single-entry paths, and its faults map as
 * usual; without the request the VM gets LPA2 (DS) and the general paths.
 */
static void test_vm_pa_bits_max(void **state)
{
	(void)state;
	for (unsigned int max = 0; max <= 48; max += 48) {
		struct fx *f = fx_new_port();
		struct s2_vm_params p = {
			.caps = &f->caps,
			.req = { .ipa_bits = 40,
				 .granule = S2_GRANULE_4K,
				 .flags = S2_CFG_FWB,
				 .pa_bits_max = max },
			.port = f->port,
			.vmids = &f->vmids,
			.slots = f->slots,
			.max_slots = NSLOTS,
			.hooks = { .load_stage2 = s2_host_port_load_stage2 },
		};
		struct s2_memslot_desc d = ram_slot(1, 0x40000000, 0x200000, FAKE_PA, 0);
		struct s2_abort_result r;

		assert_int_equal(s2_caps_max(52, &f->caps), 0);
		assert_int_equal(s2_vm_init(&f->vm, &p), 0);
		f->g = 4096;
		assert_int_equal(s2_vcpu_init(&f->vcpu, &f->vm, 0), 0);
		assert_int_equal(f->vm.pgt.cfg.pa_bits, max ? 48 : 52);
		assert_int_equal(f->vm.pgt.cfg.ds, !max);
		assert_int_equal(f->vm.pgt.geom.fast4k_ipa_limit, max ? UINT64_C(1) << 40 : 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		abort_at(f, esr_dabt(FSC_TRANS(3), true), 0x40000000 + 5 * 4096 + 8, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		assert_int_equal(s2_pa_val(look(f, 0x40000000 + 5 * 4096).pa), FAKE_PA + 5 * 4096);
		fx_free(f);
	}
	/* Above the CPU's, or no PARange size: refused. */
	{
		struct fx *f = fx_new_port();
		struct s2_vm_params p = {
			.caps = &f->caps,
			.req = { .ipa_bits = 40, .granule = S2_GRANULE_4K, .pa_bits_max = 52 },
			.port = f->port,
			.vmids = &f->vmids,
			.slots = f->slots,
			.max_slots = NSLOTS,
			.hooks = { .load_stage2 = s2_host_port_load_stage2 },
		};

		assert_int_equal(s2_vm_init(&f->vm, &p), S2_EINVAL); /* a 48-bit CPU */
		p.req.pa_bits_max = 47;
		assert_int_equal(s2_vm_init(&f->vm, &p), S2_EINVAL);
		s2_host_port_destroy(f->hp);
		free(f);
	}
}

static void test_random_syndromes(void **state)
{
	(void)state;
	for (int fwb = 0; fwb < 2; fwb++) {
		struct fx *f = fx_new(S2_GRANULE_4K, 40, fwb ? S2_CFG_FWB : 0);
		struct s2_memslot_desc ram = ram_slot(1, 0x40000000, 0x800000, FAKE_PA, 0x200000);
		struct s2_memslot_desc ro =
			ram_slot(2, 0x50000000, 0x100000, FAKE_PA + 0x1000000, 0);
		struct s2_memslot_desc io =
			ram_slot(3, 0x60000000, 0x40000, FAKE_PA + 0x2000000, 0);
		struct s2_memslot_desc dl =
			ram_slot(4, 0x70000000, 0x400000, FAKE_PA + 0x3000000, 0x200000);
		static const unsigned int ecs[] = { 0x24, 0x20, 0x24, 0x20, 0x25, 0x16 };
		static const uint64_t bases[] = { 0x40000000, 0x50000000, 0x60000000,
						  0x70000000, 0x80000000, UINT64_C(1) << 40 };
		uint64_t x = 42 + (uint64_t)fwb, counts[4] = { 0 };
		struct s2_check_report rep;
		struct inv_arg ia = { .f = f };

		ro.flags = S2_SLOT_READONLY;
		io.backing = S2_BACKING_MMIO;
		io.host_type = S2_HOSTMEM_DEVICE_nGnRE;
		io.flags = S2_SLOT_ALLOW_ANY_UNCACHED;
		dl.flags = S2_SLOT_DIRTY_LOG;
		assert_int_equal(s2_vm_slot_add(&f->vm, &ram), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &ro), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &io), 0);
		assert_int_equal(s2_vm_slot_add(&f->vm, &dl), 0);
		for (int i = 0; i < 20000; i++) {
			uint64_t rnd = lcg(&x);
			unsigned int ec = ecs[rnd % S2_ARRAY_SIZE(ecs)];
			uint64_t esr = ESR_EC(ec) | ((lcg(&x) & 0x1ffffff)); /* any ISS */
			uint64_t ipa = bases[lcg(&x) % S2_ARRAY_SIZE(bases)] + (lcg(&x) % 0x900000);
			struct s2_abort_result r;
			int ret = s2_vm_handle_abort(&f->vcpu, esr, far_of(ipa), hpfar_of(ipa), &r);

			if (ec != 0x24 && ec != 0x20) {
				assert_int_equal(ret, S2_EINVAL);
				continue;
			}
			assert_int_equal(ret, 0);
			assert_true(r.action <= S2_ABORT_NISV);
			counts[r.action]++;
			/* no syndrome: never an MMIO exit, except a cache-maintenance op in no slot */
			if (r.action == S2_ABORT_MMIO && !(esr & ESR_ISV))
				assert_true((esr & ESR_CM) && !s2_vm_slot_at(&f->vm, r.ipa));
			if (r.action == S2_ABORT_NISV)
				assert_false(esr & ESR_ISV);
			if (ipa >> 40)
				assert_int_equal(r.action, S2_ABORT_INJECT);
			/* ESR.FnV: FAR is not valid, only HPFAR's page address is known */
			if (r.action == S2_ABORT_MMIO)
				assert_int_equal(s2_ipa_val(r.mmio.ipa),
						 (esr & S2_BIT(10)) ? ipa & ~UINT64_C(0xfff) : ipa);
			/* an instruction fetch never exits as MMIO */
			if (ec == 0x20)
				assert_true(r.action != S2_ABORT_MMIO && r.action != S2_ABORT_NISV);
		}
		for (int k = 0; k < 4; k++)
			if (counts[k] <= 50)
				fail_msg("action %d: %llu", k, (unsigned long long)counts[k]);
		if (s2_pgtable_check(&f->vm.pgt, &rep))
			fail_msg("inconsistent tables: %s", rep.first_error);
		assert_int_equal(s2_pgtable_walk(&f->vm.pgt, s2_ipa(0), UINT64_C(1) << 40,
						 S2_WALK_LEAF | S2_WALK_SKIP_EMPTY, check_leaf,
						 &ia),
				 0);
		assert_true(ia.leaves > 0);
		fx_free(f);
	}
}

/* ---- concurrency: vCPUs faulting under the shared MMU lock ----------------------------- */

static pthread_rwlock_t mmu_rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;

static void rw_lock(void *ctx, enum s2_vm_lock l)
{
	(void)ctx;
	if (l == S2_VM_LOCK_MMU_SHARED)
		pthread_rwlock_rdlock(&mmu_rw);
	else if (l == S2_VM_LOCK_MMU_EXCL)
		pthread_rwlock_wrlock(&mmu_rw);
	else if (l == S2_VM_LOCK_SLOTS)
		pthread_mutex_lock(&slots_mu);
}

static void rw_unlock(void *ctx, enum s2_vm_lock l)
{
	(void)ctx;
	if (l == S2_VM_LOCK_MMU_SHARED || l == S2_VM_LOCK_MMU_EXCL)
		pthread_rwlock_unlock(&mmu_rw);
	else if (l == S2_VM_LOCK_SLOTS)
		pthread_mutex_unlock(&slots_mu);
}

/* The hosted port allocates from one thread at a time (host_port.h): a real hypervisor's
 * allocator is thread-safe, so give the threaded test a port whose alloc/free take a mutex. */
static pthread_mutex_t alloc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct s2_port_ops locked_ops;
static const struct s2_port_ops *inner_ops;

static void *locked_alloc(void *ctx, size_t bytes)
{
	pthread_mutex_lock(&alloc_mu);
	void *p = inner_ops->alloc_pages(ctx, bytes);
	pthread_mutex_unlock(&alloc_mu);
	return p;
}

static void locked_free(void *ctx, void *va, size_t bytes)
{
	pthread_mutex_lock(&alloc_mu);
	inner_ops->free_pages(ctx, va, bytes);
	pthread_mutex_unlock(&alloc_mu);
}

static struct fx *fx_new_threaded(void)
{
	struct fx *f = fx_new_port_log(0); /* no event log: callbacks run concurrently */

	inner_ops = f->port.ops;
	locked_ops = *inner_ops;
	locked_ops.alloc_pages = locked_alloc;
	locked_ops.free_pages = locked_free;
	f->port.ops = &locked_ops;
	assert_int_equal(fx_vm(f, S2_GRANULE_4K, 40, S2_CFG_FWB), 0);
	return f;
}

#define NTHREADS 4
#define NPAGES 512

struct racer {
	struct fx *f;
	struct s2_vcpu vcpu;
	unsigned int seed;
	int errors;
};

static void *race_faults(void *arg)
{
	struct racer *r = arg;

	for (unsigned int k = 0; k < 2 * NPAGES; k++) {
		unsigned int i = (k * 7 + r->seed * 131) % NPAGES;
		uint64_t ipa = 0x40000000 + (uint64_t)i * 0x1000;
		bool write = ((k + r->seed) & 3) == 0;
		uint64_t esr = esr_dabt(FSC_TRANS(3), write);
		struct s2_abort_result res;

		if (s2_vm_handle_abort(&r->vcpu, esr, far_of(ipa), hpfar_of(ipa), &res) ||
		    res.action != S2_ABORT_RESUME)
			r->errors++;
		if (k % 64 == 0)
			sched_yield();
	}
	return NULL;
}

/* Several vCPUs race translation faults (and dirty-logging writes) on the same pages: every
 * page ends up mapped once, the tree is consistent, every fault is accounted for. */
static void test_concurrent_faults(void **state)
{
	(void)state;
	for (int logging = 0; logging < 2; logging++) {
		struct fx *f = fx_new_threaded();
		struct s2_memslot_desc d = ram_slot(1, 0x40000000, NPAGES * 0x1000, FAKE_PA, 0);
		struct racer r[NTHREADS];
		pthread_t t[NTHREADS];
		struct s2_check_report rep;
		uint64_t bm[NPAGES / 64], nr;

		f->vm.hooks.lock = rw_lock;
		f->vm.hooks.unlock = rw_unlock;
		d.flags = logging ? S2_SLOT_DIRTY_LOG : 0;
		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		for (int i = 0; i < NTHREADS; i++) {
			r[i] = (struct racer){ .f = f, .seed = (unsigned int)i };
			assert_int_equal(s2_vcpu_init(&r[i].vcpu, &f->vm, (unsigned int)i + 1), 0);
			assert_int_equal(pthread_create(&t[i], NULL, race_faults, &r[i]), 0);
		}
		for (int i = 0; i < NTHREADS; i++) {
			pthread_join(t[i], NULL);
			assert_int_equal(r[i].errors, 0);
			s2_vcpu_destroy(&r[i].vcpu);
		}
		for (unsigned int i = 0; i < NPAGES; i++)
			assert_true(look(f, 0x40000000 + (uint64_t)i * 0x1000).valid);
		if (s2_pgtable_check(&f->vm.pgt, &rep))
			fail_msg("tables inconsistent after concurrent faults: %s",
				 rep.first_error);
		assert_int_equal(f->vm.stats.faults[0], NTHREADS * 2 * NPAGES);
		assert_int_equal(f->vm.stats.mapped + f->vm.stats.relaxed + f->vm.stats.retries,
				 NTHREADS * 2 * NPAGES);
		if (logging) {
			/* Exactly the pages some thread wrote are dirty. */
			bool written[NPAGES] = { false };
			for (int th = 0; th < NTHREADS; th++)
				for (unsigned int k = 0; k < 2 * NPAGES; k++)
					if (((k + (unsigned int)th) & 3) == 0)
						written[(k * 7 + (unsigned int)th * 131) % NPAGES] =
							true;
			assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, NPAGES / 64, &nr), 0);
			for (unsigned int i = 0; i < NPAGES; i++)
				assert_int_equal((bm[i / 64] >> (i % 64)) & 1, written[i]);
		}
		fx_free(f);
	}
}

/* ---- running out of memory ------------------------------------------------------------------ */

static void test_enomem(void **state)
{
	struct fx *f = fx_new(S2_GRANULE_4K, 40, 0);
	struct s2_memslot_desc d = ram_slot(1, 0x40000000, 0x400000, FAKE_PA, 0x200000);
	struct s2_abort_result r;
	uint64_t before;
	(void)state;

	assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
	/* abort path: no page for the tables -> S2_ENOMEM, nothing mapped */
	s2_host_port_fail_alloc_after(f->hp, 0);
	assert_int_equal(s2_vm_handle_abort(&f->vcpu, esr_dabt(FSC_TRANS(1), false),
					    far_of(0x40000000), hpfar_of(0x40000000), &r),
			 S2_ENOMEM);
	assert_false(look(f, 0x40000000).valid);
	/* dirty logging: the bitmap allocation fails -> logging stays off */
	assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, false), S2_ENOMEM);
	assert_false(s2_vm_slot_find(&f->vm, 1)->d.flags & S2_SLOT_DIRTY_LOG);
	s2_host_port_fail_alloc_after(f->hp, -1);
	abort_at(f, esr_dabt(FSC_TRANS(1), true), 0x40000000, &r);
	assert_int_equal(r.map_size, 0x200000);
	/* splitting a block needs a table: fails -> logging off, mapping intact */
	before = s2_host_port_stats(f->hp).pages_in_use;
	s2_host_port_fail_alloc_after(f->hp, 1); /* the bitmap, then nothing */
	assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, false), S2_ENOMEM);
	s2_host_port_fail_alloc_after(f->hp, -1);
	assert_false(s2_vm_slot_find(&f->vm, 1)->d.flags & S2_SLOT_DIRTY_LOG);
	assert_int_equal(s2_host_port_stats(f->hp).pages_in_use, before);
	assert_true(s2_lookup_prot(look(f, 0x40000000)) & S2_PROT_W);
	/* locking: a table allocation fails -> nothing stays mapped or accounted */
	assert_int_equal(s2_vm_slot_delete(&f->vm, 1), 0);
	assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
	d = ram_slot(2, 0x80000000, 0x400000, FAKE_PA, 0);
	assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
	s2_host_port_fail_alloc_after(f->hp, 1);
	assert_int_equal(s2_vm_slot_lock(&f->vm, 2, true), S2_ENOMEM);
	s2_host_port_fail_alloc_after(f->hp, -1);
	assert_int_equal(f->vm.locked_bytes, 0);
	assert_false(look(f, 0x80000000).valid);
	assert_false(f->vm.pending & S2_VM_PENDING_CMO);
	fx_free(f);
}

/*
 * Every public VM-layer function with NULL in each pointer position: S2_EINVAL (or nothing
 * for the void ones, NULL/0/"?" for the lookups and names), and the VM is unchanged.
 */
static void test_null_args(void **state)
{
	struct fx *f = fx_new(S2_GRANULE_4K, 40, 0);
	struct s2_memslot_desc d = { .id = 1,
				     .ipa = s2_ipa(0x80000000),
				     .size = 0x200000,
				     .backing = S2_BACKING_RAM,
				     .pa = s2_pa(FAKE_PA),
				     .host_type = S2_HOSTMEM_NORMAL };
	struct s2_vm_params p = { .caps = &f->caps,
				  .req = { .ipa_bits = 40, .granule = S2_GRANULE_4K },
				  .port = f->port,
				  .vmids = &f->vmids,
				  .slots = f->slots,
				  .max_slots = NSLOTS,
				  .hooks = fx_hooks(f) };
	struct s2_vm_params bad;
	struct s2_abort_result res;
	struct s2_vcpu_entry entry;
	struct s2_vcpu vcpu2;
	struct s2_vm vm2;
	uint64_t bitmap[8], n, pages;

	(void)state;
	assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
	pages = s2_host_port_stats(f->hp).pages_in_use;

	assert_int_equal(s2_vmid_alloc_init(NULL, 16), S2_EINVAL);
	assert_int_equal(s2_vm_init(NULL, &p), S2_EINVAL);
	assert_int_equal(s2_vm_init(&vm2, NULL), S2_EINVAL);
	bad = p;
	bad.caps = NULL;
	assert_int_equal(s2_vm_init(&vm2, &bad), S2_EINVAL);
	bad = p;
	bad.vmids = NULL;
	assert_int_equal(s2_vm_init(&vm2, &bad), S2_EINVAL);
	bad = p;
	bad.slots = NULL;
	assert_int_equal(s2_vm_init(&vm2, &bad), S2_EINVAL);
	bad = p;
	bad.port.ops = NULL;
	assert_int_equal(s2_vm_init(&vm2, &bad), S2_EINVAL);
	s2_vm_destroy(NULL);
	assert_int_equal(s2_vcpu_init(NULL, &f->vm, 1), S2_EINVAL);
	assert_int_equal(s2_vcpu_init(&vcpu2, NULL, 1), S2_EINVAL);
	s2_vcpu_destroy(NULL);
	assert_int_equal(s2_vm_vcpu_enter(NULL, &entry), S2_EINVAL);
	assert_int_equal(s2_vm_vcpu_enter(&f->vcpu, NULL), S2_EINVAL);
	{
		uint64_t v = 1;

		assert_int_equal(s2_vm_vttbr(NULL, &v), S2_EINVAL);
		assert_int_equal(v, 1);
		assert_int_equal(s2_vm_vttbr(&f->vm, NULL), S2_EINVAL);
	}
	assert_int_equal(s2_vm_slot_add(NULL, &d), S2_EINVAL);
	assert_int_equal(s2_vm_slot_add(&f->vm, NULL), S2_EINVAL);
	assert_int_equal(s2_vm_slot_delete(NULL, 1), S2_EINVAL);
	assert_int_equal(s2_vm_slot_move(NULL, 1, s2_ipa(0)), S2_EINVAL);
	assert_int_equal(s2_vm_slot_set_flags(NULL, 1, 0), S2_EINVAL);
	assert_null(s2_vm_slot_find(NULL, 1));
	assert_null(s2_vm_slot_at(NULL, s2_ipa(0x80000000)));
	assert_int_equal(s2_vm_handle_abort(NULL, 0x92000007, 0, 0x800000, &res), S2_EINVAL);
	assert_int_equal(s2_vm_handle_abort(&f->vcpu, 0x92000007, 0, 0x800000, NULL), S2_EINVAL);
	assert_int_equal(s2_vm_dirty_log_enable(NULL, 1, false), S2_EINVAL);
	assert_int_equal(s2_vm_dirty_log_get(NULL, 1, bitmap, 8, &n), S2_EINVAL);
	assert_int_equal(s2_vm_dirty_log_disable(NULL, 1), S2_EINVAL);
	assert_int_equal(s2_vm_dirty_log_enable(&f->vm, 1, false), 0);
	assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, NULL, 8, &n), S2_EINVAL);
	assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bitmap, 8, NULL), 0);
	assert_int_equal(s2_vm_dirty_log_disable(&f->vm, 1), 0);
	assert_int_equal(s2_vm_age_host_range(NULL, s2_pa(FAKE_PA), 4096, true, &n), S2_EINVAL);
	assert_int_equal(s2_vm_age_host_range(&f->vm, s2_pa(FAKE_PA), 4096, true, NULL), S2_EINVAL);
	assert_int_equal(s2_vm_invalidate_host_range(NULL, s2_pa(FAKE_PA), 4096, &n), S2_EINVAL);
	assert_int_equal(s2_vm_invalidate_host_range(&f->vm, s2_pa(FAKE_PA), 4096, NULL), 0);
	assert_int_equal(s2_vm_slot_lock(NULL, 1, true), S2_EINVAL);
	assert_int_equal(s2_vm_slot_unlock(NULL, 1), S2_EINVAL);
	assert_non_null(s2_abort_action_name((enum s2_abort_action)99));
	assert_non_null(s2_inject_reason_name((enum s2_inject_reason)99));
	assert_non_null(s2_resume_reason_name((enum s2_resume_reason)99));

	/* Nothing changed. */
	assert_int_equal(s2_pgtable_check(&f->vm.pgt, NULL), 0);
	assert_non_null(s2_vm_slot_find(&f->vm, 1));
	assert_int_equal(f->vm.nr_slots, 1);
	assert_int_equal(s2_host_port_stats(f->hp).pages_in_use, pages);
	fx_free(f);
}

/* ---- another vCPU's break-before-make between the fault map and its lookup ----------------- */

/*
 * A translation fault whose fast map finds a valid leaf (S2_EEXIST: another vCPU mapped it, or
 * the fault is stale) looks the entry up to judge the access against it. Another vCPU holding
 * the MMU lock shared may be replacing that leaf (break-before-make) in between, so the lookup
 * can find the entry broken (invalid): the fault must then be retried, never judged against
 * the invalid entry (a read would be injected as a permission fault). A single thread reaches
 * that window through the port: over a non-linear port the lookup's descent calls pa_to_va()
 * for the leaf's table before it reads the leaf, and this wrapper breaks the leaf there (a
 * plain store of 0, as the other vCPU's break: the refcount stays, the make follows).
 */
static const struct s2_port_ops *bbm_inner;
static struct s2_port_ops bbm_ops;
static struct {
	s2_pte_t leaf; /* the leaf to break */
	unsigned int idx; /* its index in its table */
	unsigned int seen; /* translations of the leaf's table (holding the leaf) so far */
	unsigned int fire_at; /* break at this translation (0: never) */
	s2_pte_t *broken; /* where it was broken */
} bbm;

static void *bbm_pa_to_va(void *ctx, s2_pa_t pa)
{
	s2_pte_t *t = bbm_inner->pa_to_va(ctx, pa);

	if (t[bbm.idx] == bbm.leaf && ++bbm.seen == bbm.fire_at) {
		t[bbm.idx] = 0;
		bbm.broken = &t[bbm.idx];
	}
	return t;
}

static void test_fault_map_eexist_then_broken(void **state)
{
	(void)state;
	for (int write = 0; write < 2; write++) {
		struct fx *f = fx_new_port();
		struct s2_memslot_desc d = ram_slot(1, 0x40000000, 0x200000, FAKE_PA, 0);
		const uint64_t ipa = 0x40003000;
		const uint64_t esr = esr_dabt(FSC_TRANS(3), write);
		struct s2_check_report rep;
		struct s2_abort_result r;
		uint64_t retries, mapped;
		unsigned int n;

		memset(&bbm, 0, sizeof(bbm));
		bbm_inner = f->port.ops;
		bbm_ops = *bbm_inner;
		bbm_ops.pa_to_va = bbm_pa_to_va;
		f->port.ops = &bbm_ops;
		f->port.linear = false;
		f->port.va_minus_pa = 0;
		assert_int_equal(fx_vm(f, S2_GRANULE_4K, 40, 0), 0);
		assert_false(f->vm.pgt.geom.fast);
		assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
		abort_at(f, esr, ipa, &r);
		assert_int_equal(r.resume, S2_RESUME_MAPPED);
		bbm.leaf = look(f, ipa).pte;
		bbm.idx = (unsigned int)((ipa >> 12) & 511);
		bbm.seen = 0;

		/* Undisturbed, the same fault again: the map finds the leaf, the lookup judges
		 * it (allowed): retry. Count the translations of the leaf's table. */
		abort_at(f, esr, ipa, &r);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		assert_int_equal(r.resume, S2_RESUME_RETRY);
		n = bbm.seen;
		assert_true(n >= 2); /* the map's descent, then the lookup's */

		/* The break lands in the lookup's descent (the last translation): retry, nothing
		 * mapped, nothing injected, the break left for its make. */
		retries = f->vm.stats.retries;
		mapped = f->vm.stats.mapped;
		bbm.seen = 0;
		bbm.fire_at = n;
		abort_at(f, esr, ipa, &r);
		assert_non_null(bbm.broken);
		assert_int_equal(r.action, S2_ABORT_RESUME);
		assert_int_equal(r.resume, S2_RESUME_RETRY);
		assert_int_equal(f->vm.stats.retries, retries + 1);
		assert_int_equal(f->vm.stats.mapped, mapped);
		assert_false(look(f, ipa).valid);
		/* The other vCPU's make; the retried access then finds the leaf. */
		*bbm.broken = bbm.leaf;
		bbm.fire_at = 0;
		assert_true(look(f, ipa).valid);
		if (s2_pgtable_check(&f->vm.pgt, &rep))
			fail_msg("tables inconsistent: %s", rep.first_error);
		fx_free(f);
	}
}

/* ---- an exactly sized dirty bitmap (seed-8 mutation survivor) ------------------------------- */

/*
 * The port hands out bitmap memory in powers of two of at least a granule, so a slot of
 * 8 x 4096 x 8 = 32768 4K pages has a bitmap of exactly one granule, with no slack after its
 * last word. Here the bitmap comes from the C heap (under ASan, a redzone follows it): harvesting
 * a run that ends at the slot's last page must not touch the word after the bitmap.
 */
static const struct s2_port_ops *exact_inner;
static struct s2_port_ops exact_ops;
static bool exact_armed; /* the next allocation comes from the heap */
static void *exact_buf;

static void *exact_alloc(void *ctx, size_t bytes)
{
	if (!exact_armed)
		return exact_inner->alloc_pages(ctx, bytes);
	exact_armed = false;
	exact_buf = aligned_alloc(bytes, bytes);
	assert_non_null(exact_buf);
	memset(exact_buf, 0, bytes);
	return exact_buf;
}

static void exact_free(void *ctx, void *va, size_t bytes)
{
	if (va && va == exact_buf) {
		free(va);
		exact_buf = NULL;
		return;
	}
	exact_inner->free_pages(ctx, va, bytes);
}

static void test_dirty_bitmap_exact_size(void **state)
{
	struct fx *f = fx_new_port();
	const uint64_t pages = 32768, base = 0x40000000;
	struct s2_memslot_desc d = ram_slot(1, base, pages * 0x1000, FAKE_PA, 0);
	struct s2_abort_result r;
	uint64_t *bm = calloc(pages / 64, sizeof(*bm)), nr = 0;
	(void)state;

	assert_non_null(bm);
	exact_inner = f->port.ops;
	exact_ops = *exact_inner;
	exact_ops.alloc_pages = exact_alloc;
	exact_ops.free_pages = exact_free;
	f->port.ops = &exact_ops;
	assert_int_equal(fx_vm(f, S2_GRANULE_4K, 40, 0), 0);
	d.flags = S2_SLOT_DIRTY_LOG;
	exact_armed = true;
	assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
	assert_false(exact_armed);
	assert_ptr_equal(s2_vm_slot_find(&f->vm, 1)->dirty, exact_buf);
	assert_int_equal(s2_vm_slot_find(&f->vm, 1)->dirty_bytes, pages / 8);
	abort_at(f, esr_dabt(FSC_TRANS(3), true), base + (pages - 2) * 0x1000, &r);
	abort_at(f, esr_dabt(FSC_TRANS(3), true), base + (pages - 1) * 0x1000, &r);
	assert_int_equal(r.resume, S2_RESUME_MAPPED);
	assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, pages / 64, &nr), 0);
	assert_int_equal(nr, 2);
	assert_int_equal(bm[pages / 64 - 1], UINT64_C(3) << 62);
	assert_int_equal(s2_vm_dirty_log_get(&f->vm, 1, bm, pages / 64, &nr), 0);
	assert_int_equal(nr, 0);
	free(bm);
	fx_free(f);
	assert_null(exact_buf);
}

/* ---- VMIDs handed out round-robin (seed-8 mutation survivor) ------------------------------- */

static unsigned int vm_vmid(struct s2_vm *vm)
{
	uint64_t vttbr = 0;

	assert_int_equal(s2_vm_vttbr(vm, &vttbr), 0);
	return (unsigned int)(vttbr >> 48);
}

/* @n one-slot 32-bit 4K VMs of @f's VMID allocator, each with one vCPU (no VMID yet). */
static void small_vms_new(struct fx *f, int n, struct s2_vm **vms, struct s2_vcpu *vc,
			  struct s2_memslot (*sl)[1])
{
	for (int i = 0; i < n; i++) {
		struct s2_vm_params p = { .caps = &f->caps,
					  .req = { .ipa_bits = 32, .granule = S2_GRANULE_4K },
					  .port = s2_host_port_port(f->hp),
					  .vmids = &f->vmids,
					  .slots = sl[i],
					  .max_slots = 1,
					  .hooks = fx_hooks(f) };
		vms[i] = calloc(1, sizeof(*vms[i]));
		assert_non_null(vms[i]);
		assert_int_equal(s2_vm_init(vms[i], &p), 0);
		assert_int_equal(s2_vcpu_init(&vc[i], vms[i], 0), 0);
	}
}

/* Destroy VM @i of small_vms_new() (and its vCPU); NULL in @vms[i] after. */
static void small_vm_free(struct s2_vm **vms, struct s2_vcpu *vc, int i)
{
	if (!vms[i])
		return;
	s2_vcpu_destroy(&vc[i]);
	s2_vm_destroy(vms[i]);
	free(vms[i]);
	vms[i] = NULL;
}

/* Free every VM left, check the locks over the test, free @f. */
static void small_vms_free(struct fx *f, int n, struct s2_vm **vms, struct s2_vcpu *vc)
{
	for (int i = 0; i < n; i++)
		small_vm_free(vms, vc, i);
	fx_locks_ok(f, "over the test");
	s2_host_port_destroy(f->hp);
	free(f);
}

/*
 * Within a generation the allocator searches from the VMID after the last one it gave: a VMID
 * a destroyed VM returned is given again only once the ones above it are taken.
 */
static void test_vmid_round_robin(void **state)
{
	enum { N = 4 };
	struct fx *f = fx_new_port();
	struct s2_vm *vms[N];
	struct s2_vcpu vc[N];
	struct s2_memslot sl[N][1];
	struct s2_vcpu_entry e;
	(void)state;

	assert_int_equal(s2_vmid_alloc_init(&f->vmids, 8), 0);
	small_vms_new(f, N, vms, vc, sl);
	assert_int_equal(s2_vm_vcpu_enter(&vc[0], &e), 0);
	assert_int_equal(s2_vm_vcpu_enter(&vc[1], &e), 0);
	assert_int_equal(vm_vmid(vms[0]), 1);
	assert_int_equal(vm_vmid(vms[1]), 2);
	/* VM 1 goes: VMID 2 is free again, but VM 2 gets 3 and VM 3 gets 4. */
	small_vm_free(vms, vc, 1);
	assert_int_equal(s2_vm_vcpu_enter(&vc[2], &e), 0);
	assert_int_equal(vm_vmid(vms[2]), 3);
	assert_int_equal(s2_vm_vcpu_enter(&vc[3], &e), 0);
	assert_int_equal(vm_vmid(vms[3]), 4);
	assert_false(e.rollover);
	small_vms_free(f, N, vms, vc);
}

/* ---- the deferred D-cache maintenance counter (seed-8 mutation survivor) -------------------- */

/* stats.cmo_deferred_bytes adds up the deferred D-cache maintenance done at vCPU entries: what
 * each entry reports in cmo_bytes (without FWB: a locked slot's bytes, once). */
static void test_cmo_deferred_stats(void **state)
{
	struct fx *f = fx_new(S2_GRANULE_4K, 40, 0);
	struct s2_memslot_desc d = ram_slot(1, 0x40000000, 16 * 4096, FAKE_PA, 0);
	struct s2_memslot_desc d2 = ram_slot(2, 0x50000000, 8 * 4096, FAKE_PA + 0x1000000, 0);
	struct s2_vcpu_entry e;
	(void)state;

	assert_false(f->vm.pgt.cfg.fwb);
	assert_int_equal(f->vm.stats.cmo_deferred_bytes, 0);
	assert_int_equal(s2_vm_slot_add(&f->vm, &d), 0);
	assert_int_equal(s2_vm_slot_add(&f->vm, &d2), 0);
	assert_int_equal(s2_vm_slot_lock(&f->vm, 1, true), 0);
	assert_int_equal(s2_vm_vcpu_enter(&f->vcpu, &e), 0);
	assert_int_equal(e.cmo_bytes, 16 * 4096);
	assert_int_equal(f->vm.stats.cmo_deferred_bytes, 16 * 4096);
	assert_int_equal(s2_vm_vcpu_enter(&f->vcpu, &e), 0);
	assert_int_equal(e.cmo_bytes, 0);
	assert_int_equal(f->vm.stats.cmo_deferred_bytes, 16 * 4096);
	assert_int_equal(s2_vm_slot_lock(&f->vm, 2, true), 0);
	assert_int_equal(s2_vm_vcpu_enter(&f->vcpu, &e), 0);
	assert_int_equal(e.cmo_bytes, 8 * 4096);
	assert_int_equal(f->vm.stats.cmo_deferred_bytes, 24 * 4096);
	fx_free(f);
}

/*
 * A new generation hands out VMIDs from 1 again, wherever the search of the old one stood: 255
 * VMs take VMIDs 1..255 (8 bits), one goes and a new VM takes its VMID 5 (the search then
 * stands at 6); the next VM finds every VMID taken and rolls over: it gets VMID 1, not 6.
 */
static void test_vmid_rollover_restarts_at_1(void **state)
{
	enum { N = 257 };
	struct fx *f = fx_new_port();
	struct s2_vm *vms[N];
	struct s2_vcpu vc[N];
	struct s2_memslot sl[N][1];
	struct s2_vcpu_entry e;
	(void)state;

	assert_int_equal(s2_vmid_alloc_init(&f->vmids, 8), 0);
	small_vms_new(f, N, vms, vc, sl);
	for (int i = 0; i < 255; i++) {
		assert_int_equal(s2_vm_vcpu_enter(&vc[i], &e), 0);
		assert_int_equal(vm_vmid(vms[i]), (unsigned int)i + 1);
	}
	small_vm_free(vms, vc, 4);
	assert_int_equal(s2_vm_vcpu_enter(&vc[255], &e), 0);
	assert_false(e.rollover);
	assert_int_equal(vm_vmid(vms[255]), 5);
	assert_int_equal(s2_vm_vcpu_enter(&vc[256], &e), 0);
	assert_true(e.rollover);
	assert_int_equal(vm_vmid(vms[256]), 1);
	small_vms_free(f, N, vms, vc);
}

int main(void)
{
	nmatrix = s2_test_matrix(matrix);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_per_vm_config),
		cmocka_unit_test(test_entry_two_vms),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_slot_validation),
		cmocka_unit_test(test_slot_boundaries),
		cmocka_unit_test(test_abort_translation_block),
		cmocka_unit_test(test_abort_block_limits),
		cmocka_unit_test(test_abort_slot_hint),
		cmocka_unit_test(test_abort_stale_level),
		cmocka_unit_test(test_abort_exec),
		cmocka_unit_test(test_abort_nc_ram),
		cmocka_unit_test(test_abort_dic_exec),
		cmocka_unit_test(test_abort_mmio_types),
		cmocka_unit_test(test_abort_mmio_exit),
		cmocka_unit_test(test_abort_nisv),
		cmocka_unit_test(test_abort_inject),
		cmocka_unit_test(test_abort_s1ptw),
		cmocka_unit_test(test_abort_s1ptw_locked_dbm),
		cmocka_unit_test(test_abort_af_and_retry),
		cmocka_unit_test(test_dirty_log),
		cmocka_unit_test(test_dirty_log_chunks),
		cmocka_unit_test(test_dirty_log_refold),
		cmocka_unit_test(test_dirty_log_dbm),
		cmocka_unit_test(test_dirty_log_dbm_unmap),
		cmocka_unit_test(test_dirty_log_readonly),
		cmocka_unit_test(test_locked_slot),
		cmocka_unit_test(test_invalidate_partial),
		cmocka_unit_test(test_set_flags_all_or_nothing),
		cmocka_unit_test(test_create_required_hooks),
		cmocka_unit_test(test_host_range_wrap),
		cmocka_unit_test(test_alloc_failure_leaves_nothing),
		cmocka_unit_test(test_dirty_log_exact_bitmap),
		cmocka_unit_test(test_abort_cache_bound),
		cmocka_unit_test(test_mte_tags),
		cmocka_unit_test(test_slot_move_flags),
		cmocka_unit_test(test_vmid_rollover),
		cmocka_unit_test(test_vmid_destroy_and_rollover),
		cmocka_unit_test(test_guest_end_to_end),
		cmocka_unit_test(test_s1ptw_guest_walk),
		cmocka_unit_test(test_random_syndromes),
		cmocka_unit_test(test_vm_pa_bits_max),
		cmocka_unit_test(test_abort_short_vs_general),
		cmocka_unit_test(test_concurrent_faults),
		cmocka_unit_test(test_enomem),
		cmocka_unit_test(test_null_args),
		cmocka_unit_test(test_fault_map_eexist_then_broken),
		cmocka_unit_test(test_dirty_bitmap_exact_size),
		cmocka_unit_test(test_vmid_round_robin),
		cmocka_unit_test(test_cmo_deferred_stats),
		cmocka_unit_test(test_vmid_rollover_restarts_at_1),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
