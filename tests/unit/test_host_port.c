// SPDX-License-Identifier: MIT
/* Unit tests of the hosted port: allocator, PA<->VA, refcounts, event log, fault injection,
 * TLBI forwarding and walker memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "host_port.h"
#include "s2mmu/error.h"

#define PA_BASE UINT64_C(0x80000000)
#define ARENA (UINT64_C(4) << 20)

static struct s2_host_port *mk(unsigned int log_cap)
{
	struct s2_host_port *hp;
	struct s2_host_port_opts o = { .pa_base = PA_BASE,
				       .arena_bytes = ARENA,
				       .log_capacity = log_cap };
	assert_int_equal(s2_host_port_create(&o, &hp), 0);
	return hp;
}

static void test_create_refusals(void **state)
{
	struct s2_host_port *hp;
	struct s2_host_port_opts o = { .pa_base = PA_BASE, .arena_bytes = ARENA };
	(void)state;
	o.arena_bytes = 0;
	assert_int_equal(s2_host_port_create(&o, &hp), S2_EINVAL);
	o.arena_bytes = ARENA + 4096;
	assert_int_equal(s2_host_port_create(&o, &hp), S2_EINVAL);
	o.arena_bytes = ARENA;
	o.pa_base = PA_BASE + 4096;
	assert_int_equal(s2_host_port_create(&o, &hp), S2_EINVAL);
	assert_int_equal(s2_host_port_create(NULL, &hp), S2_EINVAL);
}

static void test_alloc_alignment_zero_reuse(void **state)
{
	struct s2_host_port *hp = mk(0);
	struct s2_port p = s2_host_port_port(hp);
	void *a[64];
	(void)state;

	for (unsigned int sh = 12; sh <= 20; sh++) {
		size_t bytes = (size_t)1 << sh;
		uint8_t *v = p.ops->alloc_pages(p.ctx, bytes);
		uint64_t pa;
		assert_non_null(v);
		pa = s2_pa_val(p.ops->va_to_pa(p.ctx, v));
		/* naturally aligned in PA (and so in the arena) */
		assert_int_equal(pa & (bytes - 1), 0);
		assert_true(pa >= PA_BASE && pa + bytes <= PA_BASE + ARENA);
		assert_ptr_equal(p.ops->pa_to_va(p.ctx, s2_pa(pa)), v);
		/* linear fast path agrees with the callbacks */
		assert_true(p.linear);
		assert_int_equal((uint64_t)(uintptr_t)v - p.va_minus_pa, pa);
		for (size_t i = 0; i < bytes; i++)
			assert_int_equal(v[i], 0);
		memset(v, 0xa5, bytes);
		assert_int_equal(s2_host_port_stats(hp).pages_in_use, bytes >> 12);
		p.ops->free_pages(p.ctx, v, bytes);
		assert_int_equal(s2_host_port_stats(hp).pages_in_use, 0);
	}
	/* memory given back is zeroed again when handed out */
	for (int i = 0; i < 64; i++) {
		uint64_t *v = p.ops->alloc_pages(p.ctx, 4096);
		assert_non_null(v);
		for (int j = 0; j < 512; j++)
			assert_int_equal(v[j], 0);
		*p.ops->page_refcount(p.ctx, v) = 7;
		a[i] = v;
	}
	assert_int_equal(s2_host_port_stats(hp).pages_in_use, 64);
	for (int i = 0; i < 64; i += 2)
		p.ops->free_pages(p.ctx, a[i], 4096);
	/* reuse: the freed granules come back (with refcount 0) */
	for (int i = 0; i < 64; i += 2) {
		void *v = p.ops->alloc_pages(p.ctx, 4096);
		assert_non_null(v);
		assert_int_equal(*p.ops->page_refcount(p.ctx, v), 0);
		assert_true(s2_pa_val(p.ops->va_to_pa(p.ctx, v)) < PA_BASE + 64 * 4096 + 4096);
		a[i] = v;
	}
	for (int i = 0; i < 64; i++)
		p.ops->free_pages(p.ctx, a[i], 4096);
	assert_int_equal(s2_host_port_stats(hp).pages_in_use, 0);
	/* after everything is back, the whole arena is available as one block again */
	{
		void *v = p.ops->alloc_pages(p.ctx, ARENA);
		assert_non_null(v);
		assert_null(p.ops->alloc_pages(p.ctx, 4096));
		p.ops->free_pages(p.ctx, v, ARENA);
	}
	/* not a power of two, below a unit, or outside the arena: refused */
	assert_null(p.ops->alloc_pages(p.ctx, 3 * 4096));
	assert_null(p.ops->alloc_pages(p.ctx, 512));
	assert_null(p.ops->pa_to_va(p.ctx, s2_pa(PA_BASE - 8)));
	assert_null(p.ops->pa_to_va(p.ctx, s2_pa(PA_BASE + ARENA)));
	assert_int_equal(s2_host_port_stats(hp).allocs, s2_host_port_stats(hp).frees);
	s2_host_port_destroy(hp);
}

static void test_refcount_per_granule(void **state)
{
	struct s2_host_port *hp = mk(0);
	struct s2_port p = s2_host_port_port(hp);
	uint8_t *v = p.ops->alloc_pages(p.ctx, 4 * 4096);
	(void)state;
	/* a counter per 4 KiB unit, also inside a multi-page allocation */
	*p.ops->page_refcount(p.ctx, v) = 1;
	*p.ops->page_refcount(p.ctx, v + 4096) = 2;
	assert_int_equal(*p.ops->page_refcount(p.ctx, v), 1);
	assert_int_equal(*p.ops->page_refcount(p.ctx, v + 4096), 2);
	assert_int_equal(*p.ops->page_refcount(p.ctx, v + 8192), 0);
	p.ops->free_pages(p.ctx, v, 4 * 4096);
	s2_host_port_destroy(hp);
}

static void test_log_and_counters(void **state)
{
	struct s2_host_port *hp = mk(4);
	struct s2_port p = s2_host_port_port(hp);
	unsigned int n;
	bool ovf;
	const struct s2_host_event *ev;
	struct s2_host_stats st;
	(void)state;

	p.ops->dcache_clean_inval_poc(p.ctx, s2_pa(0x1000), 0x2000);
	p.ops->barrier(p.ctx, S2_BARRIER_DSB_ISHST);
	p.ops->tlbi_ipa(p.ctx, NULL, s2_ipa(0x5000), 3);
	p.ops->tlbi_range(p.ctx, NULL, s2_ipa(0x6000), 0x3000);
	p.ops->icache_inval_pou(p.ctx, s2_pa(0x7000), 0x1000);
	p.ops->tlbi_vmid(p.ctx, NULL);
	p.ops->tlbi_ipa_local(p.ctx, NULL, s2_ipa(0x8000), -2);
	ev = s2_host_port_log(hp, &n, &ovf);
	assert_int_equal(n, 4);
	assert_true(ovf);
	assert_int_equal(ev[0].kind, S2_HOST_EV_DC_CIVAC);
	assert_int_equal(ev[0].addr, 0x1000);
	assert_int_equal(ev[0].size, 0x2000);
	assert_int_equal(ev[1].kind, S2_HOST_EV_BARRIER);
	assert_int_equal(ev[1].barrier, S2_BARRIER_DSB_ISHST);
	assert_int_equal(ev[2].kind, S2_HOST_EV_TLBI_IPA);
	assert_int_equal(ev[2].addr, 0x5000);
	assert_int_equal(ev[2].level, 3);
	assert_int_equal(ev[3].kind, S2_HOST_EV_TLBI_RANGE);
	assert_int_equal(ev[3].size, 0x3000);
	st = s2_host_port_stats(hp);
	assert_int_equal(st.dc_ops, 1);
	assert_int_equal(st.dc_bytes, 0x2000);
	assert_int_equal(st.ic_ops, 1);
	assert_int_equal(st.ic_bytes, 0x1000);
	assert_int_equal(st.tlbi_ipa, 1);
	assert_int_equal(st.tlbi_range, 1);
	assert_int_equal(st.tlbi_vmid, 1);
	assert_int_equal(st.tlbi_ipa_local, 1);
	assert_int_equal(st.barriers, 1);
	s2_host_port_clear_log(hp);
	p.ops->tlbi_ipa_local(p.ctx, NULL, s2_ipa(0x9000), 1);
	ev = s2_host_port_log(hp, &n, &ovf);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].kind, S2_HOST_EV_TLBI_IPA_LOCAL);
	assert_int_equal(ev[0].addr, 0x9000);
	assert_int_equal(ev[0].level, 1);
	s2_host_port_clear_log(hp);
	ev = s2_host_port_log(hp, &n, &ovf);
	assert_int_equal(n, 0);
	assert_false(ovf);
	assert_int_equal(s2_host_port_stats(hp).tlbi_vmid, 1); /* counters kept */
	{
		void *v = p.ops->alloc_pages(p.ctx, 8192);
		p.ops->free_pages(p.ctx, v, 8192);
		ev = s2_host_port_log(hp, &n, &ovf);
		assert_int_equal(n, 2);
		assert_int_equal(ev[0].kind, S2_HOST_EV_ALLOC);
		assert_int_equal(ev[0].addr, s2_pa_val(p.ops->va_to_pa(p.ctx, v)));
		assert_int_equal(ev[0].size, 8192);
		assert_int_equal(ev[1].kind, S2_HOST_EV_FREE);
	}
	s2_host_port_destroy(hp);
}

static void test_fail_injection(void **state)
{
	struct s2_host_port *hp = mk(0);
	struct s2_port p = s2_host_port_port(hp);
	void *a, *b;
	(void)state;

	s2_host_port_fail_alloc_after(hp, 2);
	a = p.ops->alloc_pages(p.ctx, 4096);
	b = p.ops->alloc_pages(p.ctx, 4096);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(p.ops->alloc_pages(p.ctx, 4096));
	assert_null(p.ops->alloc_pages(p.ctx, 4096));
	assert_int_equal(s2_host_port_stats(hp).pages_in_use, 2);
	s2_host_port_fail_alloc_after(hp, -1);
	p.ops->free_pages(p.ctx, a, 4096);
	a = p.ops->alloc_pages(p.ctx, 4096);
	assert_non_null(a);
	s2_host_port_fail_alloc_after(hp, 0);
	assert_null(p.ops->alloc_pages(p.ctx, 4096));
	s2_host_port_fail_alloc_after(hp, -1);
	p.ops->free_pages(p.ctx, a, 4096);
	p.ops->free_pages(p.ctx, b, 4096);
	assert_int_equal(s2_host_port_stats(hp).pages_in_use, 0);
	s2_host_port_destroy(hp);
}

static void test_walk_mem_and_tlb_forwarding(void **state)
{
	struct s2_host_port *hp = mk(0);
	struct s2_port p = s2_host_port_port(hp);
	struct s2_walk_mem mem = s2_host_port_walk_mem(hp);
	struct s2_tlb_entry store[4];
	struct s2_tlb_model tlb;
	struct s2_walk_result r = { 0 };
	uint64_t *v = p.ops->alloc_pages(p.ctx, 4096), val;
	uint64_t pa = s2_pa_val(p.ops->va_to_pa(p.ctx, v));
	(void)state;

	v[3] = 0x1234;
	assert_int_equal(mem.read64(mem.ctx, s2_pa(pa + 24), &val), 0);
	assert_int_equal(val, 0x1234);
	assert_int_equal(mem.read64(mem.ctx, s2_pa(pa + 25), &val), S2_EFAULT);
	assert_int_equal(mem.read64(mem.ctx, s2_pa(PA_BASE + ARENA), &val), S2_EFAULT);
	assert_int_equal(mem.cas64(mem.ctx, s2_pa(pa + 24), 0x1234, 0x5678), 0);
	assert_int_equal(v[3], 0x5678);
	assert_int_equal(mem.cas64(mem.ctx, s2_pa(pa + 24), 0x1234, 0x9), S2_EAGAIN);

	/* TLBIs reach the model for the attached VMID */
	s2_tlb_init(&tlb, store, 4);
	r.level = 3;
	r.block_size = 4096;
	r.pa = s2_pa(0x1000);
	s2_tlb_fill(&tlb, 5, s2_ipa(0x3000), &r);
	assert_non_null(s2_tlb_lookup(&tlb, 5, s2_ipa(0x3000)));
	s2_host_port_attach_tlb(hp, &tlb, NULL, 5);
	p.ops->tlbi_ipa(p.ctx, NULL, s2_ipa(0x3000), 3);
	assert_null(s2_tlb_lookup(&tlb, 5, s2_ipa(0x3000)));
	s2_tlb_fill(&tlb, 5, s2_ipa(0x3000), &r);
	p.ops->tlbi_range(p.ctx, NULL, s2_ipa(0x2000), 0x2000);
	assert_null(s2_tlb_lookup(&tlb, 5, s2_ipa(0x3000)));
	s2_tlb_fill(&tlb, 5, s2_ipa(0x3000), &r);
	p.ops->tlbi_vmid(p.ctx, NULL);
	assert_null(s2_tlb_lookup(&tlb, 5, s2_ipa(0x3000)));
	/* The local form too (the model has one CPU), with its level hint. */
	s2_tlb_fill(&tlb, 5, s2_ipa(0x3000), &r);
	p.ops->tlbi_ipa_local(p.ctx, NULL, s2_ipa(0x3000), 2);
	assert_non_null(s2_tlb_lookup(&tlb, 5, s2_ipa(0x3000)));
	p.ops->tlbi_ipa_local(p.ctx, NULL, s2_ipa(0x3008), 3);
	assert_null(s2_tlb_lookup(&tlb, 5, s2_ipa(0x3000)));
	assert_int_equal(s2_host_port_stats(hp).tlbi_ipa_local, 2);
	s2_host_port_attach_tlb(hp, NULL, NULL, 0);
	p.ops->free_pages(p.ctx, v, 4096);
	s2_host_port_destroy(hp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_refusals),
		cmocka_unit_test(test_alloc_alignment_zero_reuse),
		cmocka_unit_test(test_refcount_per_granule),
		cmocka_unit_test(test_log_and_counters),
		cmocka_unit_test(test_fail_injection),
		cmocka_unit_test(test_walk_mem_and_tlb_forwarding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
