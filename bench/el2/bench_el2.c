// SPDX-License-Identifier: MIT
/*
 * bench/el2/bench_el2.c - AArch64 instruction counts of the engine's single-entry operations
 * and of the VM layer's fault path, measured at EL2 under QEMU with the real EL2 port (real
 * TLBIs, port/el2/el2_port.c) and counted by the PMU's instructions-retired event.
 *
 * The operations are those of bench_pgtable.c and bench_layers.c, same configuration (4K
 * granule, 40-bit IPA, FWB on; the caps are the CPU's own), same shapes:
 *   map_fault_4k    s2_pgtable_map() of one 4K page into an existing L3 table (page 0 of
 *                   every 2 MiB mapped at setup)
 *   lookup          s2_pgtable_lookup() of a pseudo-random mapped IPA
 *   relax_4k        s2_pgtable_relax_perms(+W) of a read-only page (TLBI IPAS2E1 + VMALLE1)
 *   mkyoung_4k      s2_pgtable_mkyoung() of a page mapped with AF clear
 *   fault_4k        s2_vm_handle_abort() of a write translation fault (level 3, table there)
 *   fault_dirty_4k  s2_vm_handle_abort() of a write permission fault on a dirty-logged slot
 *                   whose pages were read-faulted (read-only) at setup: relax + mark dirty
 *
 * Counting. PMEVCNTR0_EL0 counts event 0x08 (INST_RETIRED) with PMEVTYPER0_EL0.NSH = 1 (count
 * at non-secure EL2), P = 1 and U = 1 (not at EL1 or EL0); the benchmark itself never leaves
 * EL2. QEMU implements INST_RETIRED only with -icount (PMCEID0_EL0 bit 8 says whether it is
 * there); with a fixed shift (-icount shift=0) the count is exact and the same on every run.
 * Before measuring, the image checks that (1) the event is implemented, (2) nothing is counted
 * with NSH = 0 (the filter applies), (3) a fixed loop counts the same three times and its
 * count grows linearly with the number of iterations.
 *
 * Each measurement: a non-inlined loop that calls the operation through a function pointer
 * N times, the counter read (ISB; MRS) right before and after. The loop is run once with the
 * operation and once, on the same arguments, with an empty function of the same type
 * (`mov w0, #0; ret`): both runs execute the same loop code, so
 *   instr_per_unit      = count(op) / N            (everything in the window, as callgrind's
 *                                                   figures include bench_op_*'s own loop)
 *   harness_per_unit    = count(empty) / N         (loop, argument set-up, the call, the
 *                                                   empty function, the two counter reads / N)
 *   net_instr_per_unit  = (count(op) - count(empty)) / N: what the operation executes beyond
 *                         an empty function with its signature (its call and the loop are
 *                         subtracted exactly; its own RET is counted in neither)
 * The results are verified afterwards (the engine's lookup and the reference walker on every
 * page, the port's TLBI counters, the VM layer's statistics); any mismatch exits 1.
 *
 * Two configurations: "pa48", the CPU's caps cut to a 48-bit PA (what bench_pgtable.c and
 * bench_layers.c measure on x86 with s2_caps_max(48)), then, when the CPU has a 52-bit PA
 * (QEMU's -cpu max does), "pa52": the CPU's own caps, with which s2_config_init() picks the
 * LPA2 descriptor layout for 4K, and the engine's 4K fast paths do not apply.
 *
 * Output: one line per operation and configuration, `bench-el2: {"op": ..., "config": "pa48",
 * "fast4k": true, "units": N, "count": C, "harness_count": H}` (JSON after the prefix;
 * bench/run.sh computes the per-unit figures), then `bench-el2: done`. Exit status 0 only when everything was measured, checked and
 * plausible (10 .. 10000 net instructions per operation).
 */
#include <stddef.h>
#include <stdint.h>

#include "el2.h"
#include "el2_vmrun.h"
#include "s2mmu/pgtable.h"
#include "s2mmu/vm.h"
#include "s2mmu/walk.h"

#define MIB (UINT64_C(1) << 20)
#define PAGE_4K UINT64_C(0x1000)
#define BLOCK_2M (2 * MIB)
#define REGION (8 * MIB) /* 2048 pages, 4 L3 tables */
#define NR_PAGES (REGION / PAGE_4K)
#define IPA_BASE (UINT64_C(64) << 30) /* as bench_pgtable.c */

/* ---- the PMU ------------------------------------------------------------------------------ */

#define PMCR_E (UINT64_C(1) << 0)
#define PMCR_P (UINT64_C(1) << 1)
#define PMCR_N(v) (((v) >> 11) & 0x1f)
#define PMEVTYPER_P (UINT64_C(1) << 31) /* do not count at EL1 */
#define PMEVTYPER_U (UINT64_C(1) << 30) /* do not count at EL0 */
#define PMEVTYPER_NSH (UINT64_C(1) << 27) /* count at non-secure EL2 */
#define EV_INST_RETIRED UINT64_C(0x08)
#define MDCR_HPMN_MASK UINT64_C(0x1f)
#define MDCR_HPMD (UINT64_C(1) << 17) /* prohibit counting at EL2 */

#define MRS(reg)                                                         \
	({                                                               \
		uint64_t v__;                                            \
		__asm__ volatile("mrs %0, " #reg : "=r"(v__)::"memory"); \
		v__;                                                     \
	})
#define MSR(reg, v) __asm__ volatile("msr " #reg ", %0" ::"r"((uint64_t)(v)) : "memory")

static inline uint64_t pmu_read(void)
{
	uint64_t v;

	__asm__ volatile("isb\n\tmrs %0, pmevcntr0_el0" : "=r"(v)::"memory");
	return v;
}

static void pmu_select(uint64_t typer)
{
	MSR(pmcntenclr_el0, 1);
	MSR(pmevtyper0_el0, typer);
	MSR(pmevcntr0_el0, 0);
	MSR(pmcntenset_el0, 1);
	__asm__ volatile("isb" ::: "memory");
}

static unsigned int failures;

#define FAIL(...)                                \
	do {                                     \
		failures++;                      \
		el2_printf("bench-el2: FAIL: "); \
		el2_printf(__VA_ARGS__);         \
		el2_printf("\n");                \
	} while (0)

/* A fixed amount of EL2 work for the counter checks. */
__attribute__((noinline)) static uint64_t spin(uint64_t n)
{
	uint64_t s = 0;

	while (n--)
		__asm__ volatile("add %0, %0, #1" : "+r"(s));
	return s;
}

static uint64_t count_spin(uint64_t n)
{
	uint64_t c0 = pmu_read();

	spin(n);
	return pmu_read() - c0;
}

/* Set up the counter and prove it counts EL2 instructions exactly. Return: 0 or -1. */
static int pmu_init(void)
{
	uint64_t pmcr = MRS(pmcr_el0), mdcr = MRS(mdcr_el2), ceid = MRS(pmceid0_el0);
	uint64_t a, b, c, d;

	el2_printf("bench-el2: PMCR_EL0 0x%llx (N = %llu), MDCR_EL2 0x%llx, PMCEID0_EL0 0x%llx\n",
		   (unsigned long long)pmcr, (unsigned long long)PMCR_N(pmcr),
		   (unsigned long long)mdcr, (unsigned long long)ceid);
	if (!PMCR_N(pmcr)) {
		FAIL("the PMU has no event counter");
		return -1;
	}
	if (!(ceid & (UINT64_C(1) << EV_INST_RETIRED))) {
		FAIL("INST_RETIRED (event 0x08) not implemented: QEMU needs -icount (e.g. shift=0)");
		return -1;
	}
	/* Counter 0 below HPMN (enabled by PMCR_EL0.E), counting at EL2 allowed. */
	if ((mdcr & MDCR_HPMN_MASK) == 0)
		mdcr |= PMCR_N(pmcr);
	MSR(mdcr_el2, mdcr & ~MDCR_HPMD);
	MSR(pmcr_el0, (pmcr | PMCR_E | PMCR_P) & ~(UINT64_C(1) << 3) /* D: no divider */);
	__asm__ volatile("isb" ::: "memory");

	/* The EL2 filter: with NSH = 0 nothing executed at EL2 is counted. */
	pmu_select(EV_INST_RETIRED | PMEVTYPER_P | PMEVTYPER_U);
	a = count_spin(1000);
	if (a) {
		FAIL("INST_RETIRED with PMEVTYPER0_EL0.NSH = 0 counted %llu at EL2",
		     (unsigned long long)a);
		return -1;
	}
	pmu_select(EV_INST_RETIRED | PMEVTYPER_P | PMEVTYPER_U | PMEVTYPER_NSH);
	/* Exact and repeatable: the same work counts the same, and linearly. */
	a = count_spin(1000);
	b = count_spin(1000);
	c = count_spin(2000);
	d = count_spin(3000);
	el2_printf("bench-el2: spin(1000) %llu %llu, spin(2000) %llu, spin(3000) %llu\n",
		   (unsigned long long)a, (unsigned long long)b, (unsigned long long)c,
		   (unsigned long long)d);
	if (!a || a != b || c - a != d - c || (c - a) % 1000) {
		FAIL("the instruction count is not exact (QEMU without -icount shift=N?)");
		return -1;
	}
	return 0;
}

/* ---- the operations under measurement ---------------------------------------------------- */

typedef int (*map_fn)(struct s2_pgtable *, s2_ipa_t, uint64_t, s2_pa_t, enum s2_prot,
		      enum s2_map_flags, struct s2_page_cache *);
typedef int (*lookup_fn)(const struct s2_pgtable *, s2_ipa_t, struct s2_lookup *);
typedef int (*relax_fn)(struct s2_pgtable *, s2_ipa_t, enum s2_prot);
typedef int (*young_fn)(struct s2_pgtable *, s2_ipa_t);
typedef int (*abort_fn)(struct s2_vcpu *, uint64_t, uint64_t, uint64_t, struct s2_abort_result *);

/* The empty functions of the baseline runs (what the loop costs without the operation). */
__attribute__((noinline)) static int nop_map(struct s2_pgtable *p, s2_ipa_t i, uint64_t s,
					     s2_pa_t a, enum s2_prot pr, enum s2_map_flags f,
					     struct s2_page_cache *c)
{
	return 0;
}

__attribute__((noinline)) static int nop_lookup(const struct s2_pgtable *p, s2_ipa_t i,
						struct s2_lookup *o)
{
	return 0;
}

__attribute__((noinline)) static int nop_relax(struct s2_pgtable *p, s2_ipa_t i, enum s2_prot pr)
{
	return 0;
}

__attribute__((noinline)) static int nop_young(struct s2_pgtable *p, s2_ipa_t i)
{
	return 0;
}

__attribute__((noinline)) static int nop_abort(struct s2_vcpu *v, uint64_t e, uint64_t f,
					       uint64_t h, struct s2_abort_result *r)
{
	return 0;
}

/* The measured loops: the same code runs the operation and its empty stand-in. Each returns
 * the instructions counted between its two counter reads, or 0 when a call failed. */
__attribute__((noinline)) static uint64_t loop_map_fault(map_fn fn, struct s2_pgtable *pgt,
							 uint64_t ipa, uint64_t pa)
{
	uint64_t end = ipa + REGION, c0 = pmu_read();

	for (; ipa < end; ipa += PAGE_4K, pa += PAGE_4K) {
		if (!(ipa & (BLOCK_2M - 1)))
			continue; /* the neighbour mapped at setup */
		if (fn(pgt, s2_ipa(ipa), PAGE_4K, s2_pa(pa), S2_PROT_R | S2_PROT_W, 0, NULL))
			return 0;
	}
	return pmu_read() - c0;
}

__attribute__((noinline)) static uint64_t loop_lookup(lookup_fn fn, const struct s2_pgtable *pgt,
						      const uint64_t *ipas, uint64_t n,
						      uint64_t *sum)
{
	const uint64_t *stop = ipas + n;
	struct s2_lookup out = { 0 };
	uint64_t s = 0, c0 = pmu_read();

	for (; ipas < stop; ipas++) {
		if (fn(pgt, s2_ipa(*ipas), &out))
			return 0;
		s += s2_pa_val(out.pa);
	}
	c0 = pmu_read() - c0;
	*sum = s;
	return c0;
}

__attribute__((noinline)) static uint64_t loop_relax(relax_fn fn, struct s2_pgtable *pgt,
						     uint64_t ipa)
{
	uint64_t end = ipa + REGION, c0 = pmu_read();

	for (; ipa < end; ipa += PAGE_4K)
		if (fn(pgt, s2_ipa(ipa), S2_PROT_W))
			return 0;
	return pmu_read() - c0;
}

__attribute__((noinline)) static uint64_t loop_young(young_fn fn, struct s2_pgtable *pgt,
						     uint64_t ipa)
{
	uint64_t end = ipa + REGION, c0 = pmu_read();

	for (; ipa < end; ipa += PAGE_4K)
		if (fn(pgt, s2_ipa(ipa)))
			return 0;
	return pmu_read() - c0;
}

/* HPFAR_EL2.FIPA = IPA[51:12] in bits [43:4]; FAR_EL2 a guest VA with the page offset. */
#define HPFAR_OF(ipa) ((((ipa) >> 12) << 4) & ((UINT64_C(1) << 44) - 1))
#define FAR_OF(ipa) (UINT64_C(0x0000ffff80000000) | ((ipa)&0xfff))
#define ESR_DABT_LOW (UINT64_C(0x24) << 26)
#define ESR_IL (UINT64_C(1) << 25)
#define ESR_WNR (UINT64_C(1) << 6)
#define DFSC_TRANS_L3 UINT64_C(0x07)
#define DFSC_PERM_L3 UINT64_C(0x0f)

__attribute__((noinline)) static uint64_t loop_abort(abort_fn fn, struct s2_vcpu *vcpu,
						     uint64_t ipa, uint64_t esr, bool skip_2m)
{
	uint64_t end = ipa + REGION, c0 = pmu_read();
	struct s2_abort_result r;

	for (; ipa < end; ipa += PAGE_4K) {
		if (skip_2m && !(ipa & (BLOCK_2M - 1)))
			continue; /* the neighbour faulted in at setup */
		if (fn(vcpu, esr, FAR_OF(ipa), HPFAR_OF(ipa), &r))
			return 0;
	}
	return pmu_read() - c0;
}

/* ---- reporting ---------------------------------------------------------------------------- */

/* The configuration being measured: "pa48" (caps cut to a 48-bit PA, as bench_pgtable's
 * s2_caps_max(48)) or "pa52" (the CPU's own 52-bit PA: 4K descriptors in the LPA2 layout). */
static const char *cfg_tag;
static bool cfg_fast4k; /* the engine's 4K fast paths apply (geom.fast4k_ipa_limit != 0) */

static void report(const char *op, uint64_t units, uint64_t count, uint64_t harness)
{
	uint64_t net;

	if (!count || !harness || count <= harness) {
		FAIL("%s: count %llu, harness %llu", op, (unsigned long long)count,
		     (unsigned long long)harness);
		return;
	}
	net = (count - harness) / units;
	el2_printf("bench-el2: {\"op\": \"%s\", \"config\": \"%s\", \"fast4k\": %s, "
		   "\"units\": %llu, \"count\": %llu, \"harness_count\": %llu}\n",
		   op, cfg_tag, cfg_fast4k ? "true" : "false", (unsigned long long)units,
		   (unsigned long long)count, (unsigned long long)harness);
	if (net < 10 || net > 10000)
		FAIL("%s: %llu net instructions per operation is implausible", op,
		     (unsigned long long)net);
}

/* ---- verification ------------------------------------------------------------------------- */

static int read64(void *ctx, s2_pa_t pa, uint64_t *val)
{
	*val = *(volatile uint64_t *)(uintptr_t)s2_pa_val(pa);
	return 0;
}

static const struct s2_walk_mem walk_mem = { .read64 = read64 };

/* Every page of the region: the reference walker finds @pa + off, 4K at level 3, with S2AP
 * @s2ap and AF @af. */
static void verify_region(const char *op, const struct s2_pgtable *pgt, uint64_t ipa, uint64_t pa,
			  unsigned int s2ap, bool af)
{
	struct s2_access rd = { .type = S2_ACCESS_READ };
	struct s2_walk_result res;
	uint64_t off;
	int ret;

	for (off = 0; off < REGION; off += PAGE_4K) {
		ret = s2_walk(&pgt->cfg, pgt->root_pa, &walk_mem, s2_ipa(ipa + off), rd, &res);
		/* A read of a page with AF clear takes an Access flag fault. */
		if (ret || res.fault != (af ? S2_FAULT_NONE : S2_FAULT_ACCESS_FLAG) ||
		    s2_pa_val(res.pa) != pa + off || res.level != 3 || res.s2ap != s2ap ||
		    res.af != af) {
			FAIL("%s: IPA 0x%llx: walk %d fault %d pa 0x%llx level %d s2ap %u af %d",
			     op, (unsigned long long)(ipa + off), ret, (int)res.fault,
			     (unsigned long long)s2_pa_val(res.pa), res.level, res.s2ap, res.af);
			return;
		}
	}
}

/* ---- the engine's operations -------------------------------------------------------------- */

static struct s2_caps caps;
/* The output pages of every benchmark: real memory (guest RAM), shared by all, since no guest
 * runs and FWB makes the engine issue no cache maintenance for them. */
static uint64_t ram_pa;
static uint64_t lookup_ipas[NR_PAGES];

struct eng {
	struct s2_config cfg;
	struct s2_port port;
	struct s2_pgtable pgt;
	struct el2_vm vm;
	uint64_t pa; /* output address of IPA_BASE (guest RAM: real memory) */
};

static int eng_create(struct eng *e, uint64_t prot, uint64_t flags)
{
	struct s2_config_req req = { .ipa_bits = 40,
				     .granule = S2_GRANULE_4K,
				     .flags = S2_CFG_FWB };
	int ret;

	e->pa = ram_pa;
	el2_port_get(&e->port);
	ret = s2_config_init(&e->cfg, &caps, &req);
	if (!ret)
		ret = s2_pgtable_init(&e->pgt, &e->cfg, &e->port, &e->vm);
	if (!ret)
		ret = el2_vm_init(&e->vm, &e->cfg, e->pgt.root_pa, 1);
	if (!ret && prot)
		ret = s2_pgtable_map(&e->pgt, s2_ipa(IPA_BASE), REGION, s2_pa(e->pa), prot,
				     S2_MAP_FORCE_PAGES | flags, NULL);
	if (ret) {
		FAIL("engine setup: %s", s2_errname(ret));
		return -1;
	}
	el2_vm_load(&e->vm);
	cfg_fast4k = e->pgt.geom.fast4k_ipa_limit != 0;
	return 0;
}

static void eng_destroy(struct eng *e)
{
	s2_pgtable_destroy(&e->pgt);
}

static void bench_map_fault(void)
{
	struct eng e;
	uint64_t off, cnt, base, units = NR_PAGES - REGION / BLOCK_2M;

	if (eng_create(&e, 0, 0))
		return;
	for (off = 0; off < REGION; off += BLOCK_2M)
		if (s2_pgtable_map(&e.pgt, s2_ipa(IPA_BASE + off), PAGE_4K, s2_pa(e.pa + off),
				   S2_PROT_R | S2_PROT_W, 0, NULL))
			FAIL("map_fault_4k setup");
	base = loop_map_fault(nop_map, &e.pgt, IPA_BASE, e.pa);
	cnt = loop_map_fault(s2_pgtable_map, &e.pgt, IPA_BASE, e.pa);
	report("map_fault_4k", units, cnt, base);
	verify_region("map_fault_4k", &e.pgt, IPA_BASE, e.pa, S2_S2AP_RW, true);
	eng_destroy(&e);
}

static void bench_lookup(void)
{
	struct eng e;
	uint64_t i, x = 0x9e3779b97f4a7c15, sum = 0, want = 0, cnt, base;

	if (eng_create(&e, S2_PROT_R | S2_PROT_W, 0))
		return;
	for (i = 0; i < NR_PAGES; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
		lookup_ipas[i] = IPA_BASE + (x % NR_PAGES) * PAGE_4K + ((x >> 32) & 0xff8);
		want += lookup_ipas[i] - IPA_BASE + e.pa;
	}
	base = loop_lookup(nop_lookup, &e.pgt, lookup_ipas, NR_PAGES, &sum);
	cnt = loop_lookup(s2_pgtable_lookup, &e.pgt, lookup_ipas, NR_PAGES, &sum);
	report("lookup", NR_PAGES, cnt, base);
	if (sum != want)
		FAIL("lookup: sum of the output addresses 0x%llx, expected 0x%llx",
		     (unsigned long long)sum, (unsigned long long)want);
	eng_destroy(&e);
}

static void bench_relax(void)
{
	struct eng e;
	uint64_t cnt, base, tlbi0;

	if (eng_create(&e, S2_PROT_R, 0))
		return;
	verify_region("relax_4k setup", &e.pgt, IPA_BASE, e.pa, S2_S2AP_RO, true);
	base = loop_relax(nop_relax, &e.pgt, IPA_BASE);
	tlbi0 = el2_port_counters.tlbi_ipa_local;
	cnt = loop_relax(s2_pgtable_relax_perms, &e.pgt, IPA_BASE);
	report("relax_4k", NR_PAGES, cnt, base);
	verify_region("relax_4k", &e.pgt, IPA_BASE, e.pa, S2_S2AP_RW, true);
	if (el2_port_counters.tlbi_ipa_local - tlbi0 != NR_PAGES)
		FAIL("relax_4k: %llu local TLBI sequences for %llu relaxed pages",
		     (unsigned long long)(el2_port_counters.tlbi_ipa_local - tlbi0),
		     (unsigned long long)NR_PAGES);
	eng_destroy(&e);
}

static void bench_mkyoung(void)
{
	struct eng e;
	uint64_t cnt, base;

	if (eng_create(&e, S2_PROT_R | S2_PROT_W, S2_MAP_YOUNG_CLEAR))
		return;
	verify_region("mkyoung_4k setup", &e.pgt, IPA_BASE, e.pa, S2_S2AP_RW, false);
	base = loop_young(nop_young, &e.pgt, IPA_BASE);
	cnt = loop_young(s2_pgtable_mkyoung, &e.pgt, IPA_BASE);
	report("mkyoung_4k", NR_PAGES, cnt, base);
	verify_region("mkyoung_4k", &e.pgt, IPA_BASE, e.pa, S2_S2AP_RW, true);
	eng_destroy(&e);
}

/* ---- the VM layer's abort path ------------------------------------------------------------- */

static struct s2_vmid_alloc vmids;

struct vmb {
	struct s2_vm vm;
	struct s2_vcpu vcpu;
	struct s2_memslot slots[2];
	uint64_t pa;
};

static int vm_create(struct vmb *t, uint64_t slot_flags)
{
	struct s2_vm_params p = {
		.caps = &caps,
		.req = { .ipa_bits = 40, .granule = S2_GRANULE_4K, .flags = S2_CFG_FWB },
		.vmids = &vmids,
		.slots = t->slots,
		.max_slots = 2,
	};
	struct s2_memslot_desc d = {
		.id = 1,
		.ipa = s2_ipa(IPA_BASE),
		.size = REGION,
		.backing = S2_BACKING_RAM,
		.host_type = S2_HOSTMEM_NORMAL,
		.backing_page_size = PAGE_4K, /* 4K host pages: every fault maps one page */
		.flags = slot_flags,
	};
	struct s2_vcpu_entry entry;
	int ret;

	t->pa = ram_pa;
	d.pa = s2_pa(t->pa);
	d.hva = s2_hva(t->pa);
	el2_port_get_current(&p.port);
	el2_vmrun_hooks(&p.hooks);
	ret = s2_vm_init(&t->vm, &p);
	if (!ret)
		ret = s2_vcpu_init(&t->vcpu, &t->vm, 0);
	if (!ret)
		ret = s2_vm_slot_add(&t->vm, &d);
	/* As the run loop does before the guest runs: the vCPU's stage 2 is loaded when its
	 * abort is handled. */
	if (!ret)
		ret = s2_vm_vcpu_enter(&t->vcpu, &entry);
	if (ret) {
		FAIL("VM setup: %s", s2_errname(ret));
		return -1;
	}
	el2_stage2_load(entry.vtcr, entry.vttbr);
	cfg_fast4k = t->vm.pgt.geom.fast4k_ipa_limit != 0;
	return 0;
}

static void vm_destroy(struct vmb *t)
{
	s2_vcpu_destroy(&t->vcpu);
	s2_vm_destroy(&t->vm);
}

static void bench_fault(void)
{
	struct vmb t;
	struct s2_abort_result r;
	const uint64_t esr = ESR_DABT_LOW | ESR_IL | ESR_WNR | DFSC_TRANS_L3;
	uint64_t off, cnt, base, mapped0, units = NR_PAGES - REGION / BLOCK_2M;

	if (vm_create(&t, 0))
		return;
	for (off = 0; off < REGION; off += BLOCK_2M) {
		uint64_t ipa = IPA_BASE + off;

		if (s2_vm_handle_abort(&t.vcpu, esr, FAR_OF(ipa), HPFAR_OF(ipa), &r) ||
		    r.action != S2_ABORT_RESUME || r.resume != S2_RESUME_MAPPED)
			FAIL("fault_4k setup at 0x%llx", (unsigned long long)ipa);
	}
	base = loop_abort(nop_abort, &t.vcpu, IPA_BASE, esr, true);
	mapped0 = t.vm.stats.mapped;
	cnt = loop_abort(s2_vm_handle_abort, &t.vcpu, IPA_BASE, esr, true);
	report("fault_4k", units, cnt, base);
	if (t.vm.stats.mapped - mapped0 != units)
		FAIL("fault_4k: %llu pages mapped by %llu faults",
		     (unsigned long long)(t.vm.stats.mapped - mapped0), (unsigned long long)units);
	verify_region("fault_4k", &t.vm.pgt, IPA_BASE, t.pa, S2_S2AP_RW, true);
	vm_destroy(&t);
}

static void bench_fault_dirty(void)
{
	struct vmb t;
	struct s2_abort_result r;
	const uint64_t esr = ESR_DABT_LOW | ESR_IL | ESR_WNR | DFSC_PERM_L3;
	uint64_t off, cnt, base, relaxed0;

	if (vm_create(&t, S2_SLOT_DIRTY_LOG))
		return;
	/* Read faults while logging map read-only pages. */
	for (off = 0; off < REGION; off += PAGE_4K) {
		uint64_t ipa = IPA_BASE + off;

		if (s2_vm_handle_abort(&t.vcpu, ESR_DABT_LOW | ESR_IL | DFSC_TRANS_L3, FAR_OF(ipa),
				       HPFAR_OF(ipa), &r) ||
		    r.action != S2_ABORT_RESUME || r.resume != S2_RESUME_MAPPED) {
			FAIL("fault_dirty_4k setup at 0x%llx", (unsigned long long)ipa);
			return;
		}
	}
	verify_region("fault_dirty_4k setup", &t.vm.pgt, IPA_BASE, t.pa, S2_S2AP_RO, true);
	base = loop_abort(nop_abort, &t.vcpu, IPA_BASE, esr, false);
	relaxed0 = t.vm.stats.relaxed;
	cnt = loop_abort(s2_vm_handle_abort, &t.vcpu, IPA_BASE, esr, false);
	report("fault_dirty_4k", NR_PAGES, cnt, base);
	if (t.vm.stats.relaxed - relaxed0 != NR_PAGES)
		FAIL("fault_dirty_4k: %llu pages relaxed by %llu faults",
		     (unsigned long long)(t.vm.stats.relaxed - relaxed0),
		     (unsigned long long)NR_PAGES);
	verify_region("fault_dirty_4k", &t.vm.pgt, IPA_BASE, t.pa, S2_S2AP_RW, true);
	vm_destroy(&t);
}

static void bench_all(const char *tag)
{
	cfg_tag = tag;
	bench_map_fault();
	bench_lookup();
	bench_relax();
	bench_mkyoung();
	bench_fault();
	bench_fault_dirty();
}

int el2_test_main(void)
{
	struct s2_idregs r;
	struct s2_caps cpu;

	el2_read_idregs(&r);
	if (s2_caps_from_idregs(&r, &cpu) || !cpu.fwb ||
	    s2_vmid_alloc_init(&vmids, cpu.vmid_bits)) {
		el2_printf("bench-el2: FAIL: caps (FWB %u)\n", cpu.fwb);
		return 1;
	}
	el2_printf("bench-el2: CPU PA bits %u, 4K granule %s\n", cpu.pa_bits,
		   cpu.gran[S2_GRANULE_4K] == S2_GRAN_52 ? "with 52-bit output (LPA2)" : "");
	ram_pa = (uintptr_t)el2_guest_ram_alloc(REGION, BLOCK_2M);
	if (!ram_pa || pmu_init())
		return 1;
	/* The x86 figures' configuration: a 48-bit PA (VTCR_EL2.PS may be below PARange). */
	caps = cpu;
	if (caps.pa_bits > 48) {
		caps.pa_bits = 48;
		if (caps.gran[S2_GRANULE_4K] == S2_GRAN_52)
			caps.gran[S2_GRANULE_4K] = S2_GRAN_YES;
	}
	bench_all("pa48");
	if (!cfg_fast4k)
		FAIL("pa48: the engine's 4K fast paths do not apply");
	/* The CPU's own: QEMU's -cpu max has a 52-bit PA, so 4K descriptors use the LPA2 layout. */
	if (cpu.pa_bits == 52) {
		caps = cpu;
		bench_all("pa52");
	}
	if (failures) {
		el2_printf("bench-el2: %u failures\n", failures);
		return 1;
	}
	el2_printf("bench-el2: done\n");
	return 0;
}
