// SPDX-License-Identifier: MIT
/*
 * test_lock_balance.c - the VM layer's locking, checked on every public call: with the host
 * port's lock checker as the VM's lock hooks, each call (successful or refused, including
 * allocation failures at every step) must take its locks in the documented order (SLOTS, MMU,
 * VMID), never recursively, release them in nesting order and return holding none. With the
 * lock events in the port's log, TLB and cache maintenance must happen under a lock, and each
 * TLBI must be completed by a DSB ISH before the lock it ran under is released (or the call
 * returns): the VMID rollover's TLBI and every engine operation alike; so must the deferred
 * D-cache clean of locked slots on vCPU entry (other D-cache ops complete in the port).
 * The stage-2 context hooks are checked the same way: load_stage2 and put_stage2 pair up in
 * every call, and every TLBI outside the abort path (which runs in the vCPU's context) is
 * issued between them, with a non-zero VMID loaded.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host_port.h"
#include "s2mmu/error.h"
#include "s2mmu/vm.h"

/* Guest aborts at level 3 (syndromes built by s2_abort_encode() in fault()). */
#define DABT(kind, wr)                                \
	((struct s2_abort){ .ec = S2_EC_DABT_LOW,     \
			    .is_data = true,          \
			    .il = true,               \
			    .fault = S2_FAULT_##kind, \
			    .level = 3,               \
			    .wnr = (wr) })
#define IABT(kind)                                    \
	((struct s2_abort){ .ec = S2_EC_IABT_LOW,     \
			    .is_insn = true,          \
			    .il = true,               \
			    .fault = S2_FAULT_##kind, \
			    .level = 3 })

#define ARENA_PA UINT64_C(0x40000000)
#define RAM_PA UINT64_C(0x1000000000) /* backing PAs: not table memory */
#define NSLOTS 8
#define LOG_CAP 65536

struct fx {
	struct s2_host_port *hp;
	struct s2_caps caps;
	struct s2_vmid_alloc vmids;
	struct s2_host_lockcheck lc;
	struct s2_vm vm;
	struct s2_memslot slots[NSLOTS];
	struct s2_vcpu vcpu;
	uint64_t g;
	unsigned int calls; /* public calls checked */
	/* stage-2 context: load_stage2/put_stage2 marks at log positions, since the last check */
	struct {
		unsigned int at; /* number of events logged before it */
		int delta; /* +1 load, -1 put */
	} ctx_marks[4096];
	unsigned int nmarks;
	int ctx_depth;
	unsigned int loads;
	unsigned int tlbi_vmid, entry_dc; /* TLBI VMID seen; D-cache cleans seen at vCPU entry */
	/* stage-2 loads seen while the VMID allocator's own lock was held (a rollover's
	 * invalidation: that lock is the allocator's, not a hook the checker sees) */
	unsigned int vmid_locked_loads;
};

static void lb_lock(void *ctx, enum s2_vm_lock l)
{
	s2_host_lockcheck_vm_lock(&((struct fx *)ctx)->lc, l);
}

static void lb_unlock(void *ctx, enum s2_vm_lock l)
{
	s2_host_lockcheck_vm_unlock(&((struct fx *)ctx)->lc, l);
}

static void ctx_mark(struct fx *f, int delta)
{
	unsigned int n;
	bool over;

	s2_host_port_log(f->hp, &n, &over);
	assert_true(f->nmarks < S2_ARRAY_SIZE(f->ctx_marks));
	f->ctx_marks[f->nmarks].at = n;
	f->ctx_marks[f->nmarks++].delta = delta;
	f->ctx_depth += delta;
}

static void lb_load(void *ctx, uint64_t vtcr, uint64_t vttbr)
{
	struct fx *f = ctx;

	(void)vtcr;
	/* TLB maintenance for a VM never runs under the host's VMID 0 */
	assert_int_not_equal(vttbr >> 48, 0);
	f->loads++;
	/* the VMID allocator's own lock (not a hook the checker sees) held: a rollover */
	if (s2_atomic_load64(&f->vmids.lock))
		f->vmid_locked_loads++;
	ctx_mark(f, 1);
}

static void lb_put(void *ctx)
{
	ctx_mark(ctx, -1);
}

/* Every VM of a fixture: lock hooks into the checker, stage-2 context hooks into the marks. */
static struct s2_vm_hooks lb_hooks(struct fx *f)
{
	return (struct s2_vm_hooks){ .lock = lb_lock,
				     .unlock = lb_unlock,
				     .load_stage2 = lb_load,
				     .put_stage2 = lb_put,
				     .ctx = f };
}

static struct fx *fx_new(enum s2_granule gr, uint64_t cfg_flags)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct s2_host_port_opts o = { .pa_base = ARENA_PA,
				       .arena_bytes = 64 << 20,
				       .log_capacity = LOG_CAP };

	assert_non_null(f);
	assert_int_equal(s2_host_port_create(&o, &f->hp), 0);
	assert_int_equal(s2_caps_max(48, &f->caps), 0);
	assert_int_equal(s2_vmid_alloc_init(&f->vmids, 8), 0);
	s2_host_lockcheck_init_vm(&f->lc);
	f->lc.hp = f->hp;
	struct s2_vm_params p = {
		.caps = &f->caps,
		.req = { .ipa_bits = 40, .granule = gr, .flags = cfg_flags },
		.port = s2_host_port_port(f->hp),
		.hooks = lb_hooks(f),
		.vmids = &f->vmids,
		.slots = f->slots,
		.max_slots = NSLOTS,
		.locked_limit = 64 << 20,
	};
	assert_int_equal(s2_vm_init(&f->vm, &p), 0);
	assert_int_equal(s2_vcpu_init(&f->vcpu, &f->vm, 0), 0);
	f->g = s2_granule_size(gr);
	return f;
}

/*
 * After each public call: no lock held, no violation; and in the log of the call, maintenance
 * only under a lock, each TLBI and D-cache clean completed by a DSB ISH before the next release
 * (or the end of the call).
 */
static void check_call(struct fx *f, const char *what, int ret)
{
	unsigned int n, depth = 0;
	bool over;
	const struct s2_host_event *ev = s2_host_port_log(f->hp, &n, &over);
	int pending = -1; /* index of a TLBI/DC not yet completed by a DSB ISH */
	bool dc_needs_dsb = strstr(what, "vcpu_enter") != NULL;
	/* The abort path runs with the vCPU's stage-2 context loaded (it just exited the
	 * guest); every other call loads the VM's context around its TLB maintenance. */
	bool in_guest_ctx = strstr(what, "fault(") != NULL;
	unsigned int mk = 0;
	int loaded = 0;

	f->calls++;
	if (!s2_host_lockcheck_idle(&f->lc)) {
		fprintf(stderr, "%s (returned %d): %s; depth %u\n", what, ret,
			f->lc.errors ? f->lc.first_error : "returned holding a lock", f->lc.depth);
		fail();
	}
	assert_false(over);
	if (f->ctx_depth != 0) {
		fprintf(stderr, "%s: load_stage2 and put_stage2 unbalanced (%d)\n", what,
			f->ctx_depth);
		fail();
	}
	for (unsigned int i = 0; i < n; i++) {
		while (mk < f->nmarks && f->ctx_marks[mk].at <= i)
			loaded += f->ctx_marks[mk++].delta;
		if (!in_guest_ctx && loaded <= 0 &&
		    (ev[i].kind == S2_HOST_EV_TLBI_IPA || ev[i].kind == S2_HOST_EV_TLBI_RANGE ||
		     ev[i].kind == S2_HOST_EV_TLBI_VMID ||
		     ev[i].kind == S2_HOST_EV_TLBI_IPA_LOCAL)) {
			fprintf(stderr,
				"%s: TLBI (event %u, kind %d) without the VM's stage-2 context "
				"loaded (load_stage2 ... put_stage2)\n",
				what, i, ev[i].kind);
			fail();
		}
		switch (ev[i].kind) {
		case S2_HOST_EV_LOCK:
			depth++;
			break;
		case S2_HOST_EV_UNLOCK:
		case S2_HOST_EV_BARRIER:
			if (ev[i].kind == S2_HOST_EV_BARRIER && ev[i].barrier == S2_BARRIER_DSB_ISH)
				pending = -1;
			if (ev[i].kind == S2_HOST_EV_UNLOCK) {
				if (pending >= 0) {
					fprintf(stderr,
						"%s: event %d (kind %d) not completed by a DSB "
						"ISH before the release at event %u\n",
						what, pending, ev[pending].kind, i);
					fail();
				}
				depth--;
			}
			break;
		case S2_HOST_EV_TLBI_IPA:
		case S2_HOST_EV_TLBI_RANGE:
		case S2_HOST_EV_TLBI_VMID:
		case S2_HOST_EV_DC_CIVAC:
			if (!depth && ev[i].kind == S2_HOST_EV_TLBI_VMID && f->vmid_locked_loads) {
				f->vmid_locked_loads--; /* under the allocator's own lock */
			} else if (!depth) {
				fprintf(stderr, "%s: maintenance (kind %d) outside any lock\n",
					what, ev[i].kind);
				fail();
			}
			/* A port's D-cache op completes itself (the EL2 port ends it with a DSB),
			 * except that the deferred clean of vCPU entry promises its own DSB ISH. */
			f->tlbi_vmid += ev[i].kind == S2_HOST_EV_TLBI_VMID;
			f->entry_dc += ev[i].kind == S2_HOST_EV_DC_CIVAC && dc_needs_dsb;
			if (pending < 0 && (ev[i].kind != S2_HOST_EV_DC_CIVAC || dc_needs_dsb))
				pending = (int)i;
			break;
		case S2_HOST_EV_TLBI_IPA_LOCAL: /* completes itself (barriers included) */
			if (!depth) {
				fprintf(stderr, "%s: local TLBI outside any lock\n", what);
				fail();
			}
			break;
		default:
			break;
		}
	}
	if (pending >= 0) {
		fprintf(stderr, "%s: event %d (kind %d) not completed by a DSB ISH\n", what,
			pending, ev[pending].kind);
		fail();
	}
	s2_host_port_clear_log(f->hp);
	f->nmarks = 0;
}

static int call(struct fx *f, const char *what, int ret)
{
	check_call(f, what, ret);
	return ret;
}

#define CALL(f, expr) call((f), #expr, (expr))

static int fault(struct fx *f, struct s2_abort ab, uint64_t ipa, struct s2_abort_result *r)
{
	uint64_t esr, far, hpfar;

	ab.ipa_valid = true;
	ab.ipa = s2_ipa(ipa);
	ab.far = 0x1000 | (ipa & 0xfff);
	assert_int_equal(s2_abort_encode(&ab, &esr, &far, &hpfar), 0);
	return s2_vm_handle_abort(&f->vcpu, esr, far, hpfar, r);
}

static struct s2_memslot_desc ram(uint32_t id, uint64_t ipa, uint64_t size, uint64_t pa)
{
	return (struct s2_memslot_desc){ .id = id,
					 .ipa = s2_ipa(ipa),
					 .size = size,
					 .backing = S2_BACKING_RAM,
					 .pa = s2_pa(pa),
					 .host_type = S2_HOSTMEM_NORMAL,
					 .backing_page_size = UINT64_C(2) << 20 };
}

/* Every public call of the VM layer, successful and refused, once. */
static void drive_all(struct fx *f, bool expect_ok)
{
	struct s2_abort_result r;
	struct s2_vcpu_entry e;
	struct s2_memslot_desc d = ram(1, UINT64_C(1) << 30, UINT64_C(4) << 20, RAM_PA);
	struct s2_memslot_desc d2 =
		ram(2, UINT64_C(2) << 30, UINT64_C(2) << 20, RAM_PA + (64 << 20));
	uint64_t bitmap[64], young, unmapped, ipa = (UINT64_C(1) << 30) + 0x3000;
	int ret;

	CALL(f, s2_vm_vcpu_enter(&f->vcpu, &e));
	ret = CALL(f, s2_vm_slot_add(&f->vm, &d));
	if (expect_ok)
		assert_int_equal(ret, 0);
	CALL(f, s2_vm_slot_add(&f->vm, &d)); /* S2_EEXIST */
	CALL(f, s2_vm_slot_add(&f->vm, &d2));
	CALL(f, fault(f, DABT(TRANSLATION, false), ipa, &r));
	CALL(f, fault(f, DABT(PERMISSION, true), ipa, &r));
	CALL(f, fault(f, IABT(PERMISSION), ipa, &r));
	CALL(f, fault(f, DABT(TRANSLATION, true), ipa + (UINT64_C(1) << 20), &r));
	CALL(f, fault(f, DABT(TRANSLATION, true), UINT64_C(5) << 30, &r)); /* MMIO */
	CALL(f, fault(f, IABT(TRANSLATION), UINT64_C(5) << 30, &r)); /* injected */
	CALL(f, fault(f, DABT(TRANSLATION, false), UINT64_C(1) << 41, &r)); /* beyond */
	CALL(f, s2_vm_age_host_range(&f->vm, s2_pa(RAM_PA), UINT64_C(4) << 20, true, &young));
	CALL(f, fault(f, DABT(ACCESS_FLAG, false), ipa, &r));
	CALL(f, s2_vm_age_host_range(&f->vm, s2_pa(RAM_PA), 0, true, &young)); /* size 0 */
	ret = CALL(f, s2_vm_dirty_log_enable(&f->vm, 1, false));
	if (expect_ok)
		assert_int_equal(ret, 0);
	CALL(f, s2_vm_dirty_log_enable(&f->vm, 1, false)); /* S2_EEXIST */
	CALL(f, fault(f, DABT(PERMISSION, true), ipa, &r));
	CALL(f, fault(f, DABT(TRANSLATION, true), ipa + f->g, &r));
	CALL(f, s2_vm_dirty_log_get(&f->vm, 1, bitmap, S2_ARRAY_SIZE(bitmap), &young));
	CALL(f, s2_vm_dirty_log_get(&f->vm, 9, bitmap, S2_ARRAY_SIZE(bitmap), &young)); /* ENOENT */
	CALL(f, s2_vm_slot_lock(&f->vm, 1, true)); /* S2_EBUSY: logging */
	CALL(f, s2_vm_dirty_log_disable(&f->vm, 1));
	CALL(f, s2_vm_dirty_log_disable(&f->vm, 1)); /* not logging */
	CALL(f, s2_vm_slot_set_flags(&f->vm, 1, S2_SLOT_READONLY));
	CALL(f, s2_vm_slot_set_flags(&f->vm, 1, 0));
	CALL(f, s2_vm_slot_set_flags(&f->vm, 1, ~UINT64_C(0))); /* S2_EINVAL */
	CALL(f, s2_vm_slot_move(&f->vm, 2, s2_ipa(UINT64_C(3) << 30)));
	CALL(f, s2_vm_slot_move(&f->vm, 2, s2_ipa(UINT64_C(1) << 30))); /* overlaps slot 1 */
	ret = CALL(f, s2_vm_slot_lock(&f->vm, 2, true));
	if (expect_ok)
		assert_int_equal(ret, 0);
	CALL(f, s2_vm_slot_lock(&f->vm, 2, true)); /* already locked */
	CALL(f, s2_vm_vcpu_enter(&f->vcpu, &e)); /* deferred clean */
	CALL(f, s2_vm_invalidate_host_range(&f->vm, s2_pa(RAM_PA), UINT64_C(1) << 30, &unmapped));
	CALL(f, s2_vm_invalidate_host_range(&f->vm, s2_pa(RAM_PA), 0, &unmapped));
	CALL(f, s2_vm_slot_delete(&f->vm, 2)); /* S2_EBUSY: locked */
	CALL(f, s2_vm_slot_unlock(&f->vm, 2));
	CALL(f, s2_vm_slot_unlock(&f->vm, 2)); /* not locked */
	CALL(f, s2_vm_slot_delete(&f->vm, 2));
	CALL(f, s2_vm_slot_delete(&f->vm, 2)); /* ENOENT */
	CALL(f, s2_vm_vcpu_enter(&f->vcpu, &e));
}

static void fx_free(struct fx *f)
{
	s2_vcpu_destroy(&f->vcpu);
	s2_vm_destroy(&f->vm);
	check_call(f, "s2_vm_destroy", 0);
	assert_int_equal(s2_host_port_stats(f->hp).pages_in_use, 0);
	s2_host_port_destroy(f->hp);
	free(f);
}

static void test_every_call_balanced(void **state)
{
	static const enum s2_granule grs[] = { S2_GRANULE_4K, S2_GRANULE_16K, S2_GRANULE_64K };

	(void)state;
	for (unsigned int i = 0; i < S2_ARRAY_SIZE(grs); i++) {
		for (int fwb = 0; fwb < 2; fwb++) {
			struct fx *f = fx_new(grs[i], fwb ? S2_CFG_FWB : 0);

			drive_all(f, true);
			/* the checker really saw the locks: each taken and released as often */
			for (unsigned int l = 0; l < 4; l++)
				assert_int_equal(f->lc.takes[l], f->lc.releases[l]);
			assert_true(f->lc.takes[S2_VM_LOCK_SLOTS] > 0);
			assert_true(f->lc.takes[S2_VM_LOCK_MMU_SHARED] > 0);
			assert_true(f->lc.takes[S2_VM_LOCK_MMU_EXCL] > 0);
			assert_true(f->lc.max_depth >= 2);
			assert_true(f->loads > 0); /* the context checks saw loads */
			/* the deferred clean ran (and was checked) where it is needed */
			if (!fwb)
				assert_true(f->entry_dc > 0);
			fx_free(f);
		}
	}
}

/* The error exits: every allocation, from the n-th on, fails (tables, bitmaps, page caches). */
static void test_every_call_balanced_on_alloc_failure(void **state)
{
	(void)state;
	for (long n = 0; n < 40; n++) {
		struct fx *f = fx_new(S2_GRANULE_4K, 0);

		s2_host_port_fail_alloc_after(f->hp, n);
		drive_all(f, false);
		s2_host_port_fail_alloc_after(f->hp, -1);
		fx_free(f);
	}
}

/* A VMID rollover: every VM's VMID invalidated (TLBI VMALLS12E1IS completed by a DSB) under
 * the VMID allocator's own lock, taken after nothing else. */
static void test_rollover_balanced(void **state)
{
	struct fx *f = fx_new(S2_GRANULE_4K, 0);
	struct s2_vm *vms = calloc(300, sizeof(*vms));
	struct s2_memslot *sl = calloc(300, sizeof(*sl));
	struct s2_vcpu_entry e;
	uint64_t roll0 = f->vmids.rollovers;

	(void)state;
	assert_non_null(vms);
	assert_non_null(sl);
	for (unsigned int i = 0; i < 300; i++) {
		struct s2_vm_params p = {
			.caps = &f->caps,
			.req = { .ipa_bits = 32, .granule = S2_GRANULE_4K },
			.port = s2_host_port_port(f->hp),
			.hooks = lb_hooks(f),
			.vmids = &f->vmids,
			.slots = &sl[i],
			.max_slots = 1,
		};
		struct s2_vcpu v;

		assert_int_equal(s2_vm_init(&vms[i], &p), 0);
		assert_int_equal(s2_vcpu_init(&v, &vms[i], 0), 0);
		CALL(f, s2_vm_vcpu_enter(&v, &e));
		s2_vcpu_destroy(&v);
	}
	assert_true(f->vmids.rollovers > roll0);
	assert_true(f->tlbi_vmid > 0); /* the rollover's TLBI was checked */
	assert_true(f->loads >= 255); /* each VM's context loaded for its flush */
	CALL(f, s2_vm_vcpu_enter(&f->vcpu, &e));
	for (unsigned int i = 0; i < 300; i++) {
		s2_vm_destroy(&vms[i]);
		check_call(f, "s2_vm_destroy", 0);
	}
	free(vms);
	free(sl);
	fx_free(f);
}

/* The checker itself: each kind of violation is seen (else the tests above prove nothing). */
static void test_checker_catches(void **state)
{
	struct s2_host_lockcheck lc;

	(void)state;
	s2_host_lockcheck_init_vm(&lc);
	s2_host_lockcheck_vm_lock(&lc, S2_VM_LOCK_SLOTS);
	s2_host_lockcheck_vm_lock(&lc, S2_VM_LOCK_MMU_EXCL);
	assert_true(s2_host_lockcheck_held(&lc, S2_VM_LOCK_MMU_EXCL));
	assert_false(s2_host_lockcheck_idle(&lc)); /* held */
	s2_host_lockcheck_vm_unlock(&lc, S2_VM_LOCK_MMU_EXCL);
	s2_host_lockcheck_vm_unlock(&lc, S2_VM_LOCK_SLOTS);
	assert_true(s2_host_lockcheck_idle(&lc));
	assert_int_equal(lc.max_depth, 2);

	s2_host_lockcheck_vm_unlock(&lc, S2_VM_LOCK_SLOTS); /* not held */
	assert_int_equal(lc.errors, 1);
	assert_non_null(strstr(lc.first_error, "not held"));

	s2_host_lockcheck_init_vm(&lc);
	s2_host_lockcheck_vm_lock(&lc, S2_VM_LOCK_MMU_SHARED);
	s2_host_lockcheck_vm_lock(&lc, S2_VM_LOCK_SLOTS); /* inversion */
	assert_non_null(strstr(lc.first_error, "order"));

	s2_host_lockcheck_init_vm(&lc);
	s2_host_lockcheck_vm_lock(&lc, S2_VM_LOCK_MMU_SHARED);
	s2_host_lockcheck_vm_lock(&lc, S2_VM_LOCK_MMU_EXCL); /* same lock, other mode */
	assert_non_null(strstr(lc.first_error, "recursive"));

	s2_host_lockcheck_init_vm(&lc);
	s2_host_lockcheck_vm_lock(&lc, S2_VM_LOCK_SLOTS);
	s2_host_lockcheck_vm_lock(&lc, S2_VM_LOCK_OWNER);
	s2_host_lockcheck_vm_unlock(&lc, S2_VM_LOCK_SLOTS); /* not the innermost */
	assert_non_null(strstr(lc.first_error, "nesting"));
	s2_host_lockcheck_vm_unlock(&lc, S2_VM_LOCK_OWNER);
	assert_int_equal(lc.depth, 0);
	assert_int_equal(lc.errors, 1);
}

/* The event-order matcher of the host port. */
static void test_log_match(void **state)
{
	struct s2_host_port *hp;
	struct s2_host_port_opts o = { .pa_base = ARENA_PA,
				       .arena_bytes = 1 << 20,
				       .log_capacity = 64 };
	struct s2_port p;
	struct s2_host_lockcheck lc;

	(void)state;
	assert_int_equal(s2_host_port_create(&o, &hp), 0);
	p = s2_host_port_port(hp);
	s2_host_lockcheck_init_vm(&lc);
	lc.hp = hp;
	s2_host_lockcheck_vm_lock(&lc, S2_VM_LOCK_OWNER); /* 0 */
	p.ops->tlbi_vmid(p.ctx, NULL); /* 1 */
	p.ops->barrier(p.ctx, S2_BARRIER_DSB_ISHST); /* 2 */
	p.ops->barrier(p.ctx, S2_BARRIER_DSB_ISH); /* 3 */
	s2_host_lockcheck_vm_unlock(&lc, S2_VM_LOCK_OWNER); /* 4 */
	{
		const struct s2_host_event_pat tlbi_dsb[] = {
			{ S2_HOST_EV_TLBI_VMID, -1, false },
			{ S2_HOST_EV_BARRIER, S2_BARRIER_DSB_ISH, false },
			{ S2_HOST_EV_UNLOCK, -1, false },
		};
		const struct s2_host_event_pat tlbi_then_dsb_next[] = {
			{ S2_HOST_EV_TLBI_VMID, -1, false },
			{ S2_HOST_EV_BARRIER, S2_BARRIER_DSB_ISH, true },
		};
		const struct s2_host_event_pat ishst_then_dsb[] = {
			{ S2_HOST_EV_BARRIER, S2_BARRIER_DSB_ISHST, false },
			{ S2_HOST_EV_BARRIER, S2_BARRIER_DSB_ISH, true },
		};
		const struct s2_host_event_pat dsb_before_tlbi[] = {
			{ S2_HOST_EV_BARRIER, S2_BARRIER_DSB_ISH, false },
			{ S2_HOST_EV_TLBI_VMID, -1, false },
		};
		assert_int_equal(s2_host_port_log_match(hp, 0, tlbi_dsb, 3), 4);
		assert_int_equal(s2_host_port_log_match(hp, 0, tlbi_then_dsb_next, 2), -1);
		assert_int_equal(s2_host_port_log_match(hp, 0, ishst_then_dsb, 2), 3);
		assert_int_equal(s2_host_port_log_match(hp, 0, dsb_before_tlbi, 2), -1);
		assert_int_equal(s2_host_port_log_match(hp, 2, tlbi_dsb, 3), -1);
		assert_int_equal(s2_host_port_log_match(hp, 0, tlbi_dsb, 0), -1);
	}
	s2_host_port_destroy(hp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checker_catches),
		cmocka_unit_test(test_log_match),
		cmocka_unit_test(test_every_call_balanced),
		cmocka_unit_test(test_every_call_balanced_on_alloc_failure),
		cmocka_unit_test(test_rollover_balanced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
