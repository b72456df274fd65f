// SPDX-License-Identifier: MIT
/*
 * test_walk.c - the reference MMU (src/walk.c) against hand-built stage-2 tables.
 *
 * Tables live in a small fake physical memory: a list of (PA, buffer) regions whose PAs are
 * chosen here and have nothing to do with the host addresses of the buffers. Every descriptor
 * and every expected value below is worked out by hand from the Arm ARM (DDI 0487, D8.2-D8.5:
 * level geometry, concatenation, descriptor layouts, faults and permissions); comments show
 * the arithmetic. Configs are filled in field by field, not through arch.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "s2mmu/walk.h"

/* ---- fake physical memory -------------------------------------------------------------------- */

#define FM_MAX_REGIONS 32

struct fm_region {
	uint64_t pa;
	uint64_t size;
	uint64_t *buf;
};

struct fmem {
	struct fm_region r[FM_MAX_REGIONS];
	unsigned int n;
	unsigned int reads;
	unsigned int cas_calls;
	unsigned int cas_races; /* next cas64 calls to fail with S2_EAGAIN */
	int cas_error; /* when nonzero, cas64 returns it */
};

static uint64_t *fm_slot(struct fmem *m, uint64_t pa)
{
	unsigned int i;

	for (i = 0; i < m->n; i++) {
		if (pa >= m->r[i].pa && pa - m->r[i].pa < m->r[i].size)
			return &m->r[i].buf[(pa - m->r[i].pa) / 8];
	}
	return NULL;
}

static int fm_read64(void *ctx, s2_pa_t pa, uint64_t *val)
{
	struct fmem *m = ctx;
	uint64_t *p = fm_slot(m, s2_pa_val(pa));

	m->reads++;
	assert_true(S2_IS_ALIGNED(s2_pa_val(pa), 8));
	if (!p)
		return S2_EFAULT;
	*val = *p;
	return 0;
}

static int fm_cas64(void *ctx, s2_pa_t pa, uint64_t old, uint64_t new)
{
	struct fmem *m = ctx;
	uint64_t *p = fm_slot(m, s2_pa_val(pa));

	m->cas_calls++;
	if (m->cas_error)
		return m->cas_error;
	if (!p)
		return S2_EFAULT;
	if (m->cas_races) {
		m->cas_races--;
		return S2_EAGAIN;
	}
	if (*p != old)
		return S2_EAGAIN;
	*p = new;
	return 0;
}

/* Memory at [pa, pa + size), zeroed. */
static void fm_add(struct fmem *m, uint64_t pa, uint64_t size)
{
	assert_true(m->n < FM_MAX_REGIONS);
	m->r[m->n].pa = pa;
	m->r[m->n].size = size;
	m->r[m->n].buf = calloc(1, size);
	assert_non_null(m->r[m->n].buf);
	m->n++;
}

static void fm_free(struct fmem *m)
{
	unsigned int i;

	for (i = 0; i < m->n; i++)
		free(m->r[i].buf);
	memset(m, 0, sizeof(*m));
}

static void wr(struct fmem *m, uint64_t pa, uint64_t v)
{
	uint64_t *p = fm_slot(m, pa);

	assert_non_null(p);
	*p = v;
}

static uint64_t rd(struct fmem *m, uint64_t pa)
{
	uint64_t *p = fm_slot(m, pa);

	assert_non_null(p);
	return *p;
}

static struct s2_walk_mem mem_rw(struct fmem *m)
{
	struct s2_walk_mem w = { .read64 = fm_read64, .cas64 = fm_cas64, .ctx = m };
	return w;
}

static struct s2_walk_mem mem_ro(struct fmem *m)
{
	struct s2_walk_mem w = { .read64 = fm_read64, .cas64 = NULL, .ctx = m };
	return w;
}

/* ---- configs, filled by hand ----------------------------------------------------------------- */

static struct s2_config mkcfg(enum s2_granule g, unsigned int ipa_bits, unsigned int pa_bits,
			      int start, unsigned int tables, bool ds, bool lpa)
{
	struct s2_config c;
	unsigned int shift = g == S2_GRANULE_4K ? 12 : g == S2_GRANULE_16K ? 14 : 16;

	memset(&c, 0, sizeof(c));
	c.granule = g;
	c.page_shift = shift;
	c.ipa_bits = ipa_bits;
	c.pa_bits = pa_bits;
	c.start_level = start;
	c.levels = (unsigned int)(4 - start);
	c.root_tables = tables;
	c.root_entries = tables << (shift - 3);
	c.root_table_bytes = (uint64_t)tables << shift;
	c.vmid_bits = 16;
	c.ds = ds;
	c.lpa = lpa;
	/* SH0 = inner shareable (0b11): with DS, leaves take their shareability from it. */
	c.vtcr = S2_FIELD_PREP(S2_VTCR_SH0, 3);
	return c;
}

static const struct s2_access RD = { S2_ACCESS_READ, false, false };
static const struct s2_access WRT = { S2_ACCESS_WRITE, false, false };
static const struct s2_access X1 = { S2_ACCESS_EXEC, false, false };
static const struct s2_access X0 = { S2_ACCESS_EXEC, true, false };
static const struct s2_access PTW_RD = { S2_ACCESS_READ, false, true };
static const struct s2_access PTW_WR = { S2_ACCESS_WRITE, false, true };

static struct s2_walk_result walk(const struct s2_config *c, uint64_t root,
				  const struct s2_walk_mem *w, uint64_t ipa, struct s2_access a)
{
	struct s2_walk_result r;

	assert_int_equal(s2_walk(c, s2_pa(root), w, s2_ipa(ipa), a, &r), 0);
	return r;
}

static void expect_fault(const struct s2_walk_result *r, enum s2_fault f, int level)
{
	assert_int_equal(r->fault, f);
	assert_int_equal(r->level, level);
}

/*
 * Descriptor attribute bits used below (D8.3): MemAttr 0b1111 (Normal WB, FWB off) = 0x3c,
 * S2AP RW = 0xc0, SH inner = 0x300, AF = 0x400. A normal RW leaf: 0x7fc | type bits.
 */
#define ATTR_RW_WB 0x7fcull /* AF | SH=11 | S2AP=11 | MemAttr=1111 */
#define PAGE 3ull /* bits[1:0] = 0b11 at level 3 */
#define TABLE 3ull /* bits[1:0] = 0b11 above level 3 */
#define BLOCK 1ull /* bits[1:0] = 0b01 */

/* ---- 4K granule, 40-bit IPA: start level 1, two concatenated root tables --------------------- */
/*
 * 4K: level shifts L3 12, L2 21, L1 30, L0 39; 9 index bits per level. A 40-bit IPA starting at
 * L1 resolves IPA[39:30] there: 10 bits, 1024 entries = 2 concatenated 4K tables (8 KiB root).
 * Root at PA 0x80000000, L2 table at 0x80004000, L3 table at 0x80005000.
 */
#define R40 0x80000000ull
#define L2T 0x80004000ull
#define L3T 0x80005000ull

struct fx40 {
	struct fmem m;
	struct s2_config c;
	struct s2_walk_mem w;
};

static void fx40_init(struct fx40 *f, unsigned int pa_bits)
{
	memset(f, 0, sizeof(*f));
	f->c = mkcfg(S2_GRANULE_4K, 40, pa_bits, 1, 2, false, false);
	fm_add(&f->m, R40, 0x2000);
	fm_add(&f->m, L2T, 0x1000);
	fm_add(&f->m, L3T, 0x1000);
	f->w = mem_rw(&f->m);
	/* Root entry 0 (IPA 0..1G) -> L2 table; L2 entry 1 (IPA 2M..4M) -> L3 table. */
	wr(&f->m, R40 + 0 * 8, L2T | TABLE);
	wr(&f->m, L2T + 1 * 8, L3T | TABLE);
}

/* The page used by most tests: IPA 0x203000 (L1 idx 0, L2 idx 1, L3 idx 3) at L3T + 0x18. */
#define IPA_P 0x203000ull
#define PTE_P (L3T + 0x18)

static void test_4k_page_second_concat_table(void **state)
{
	struct fx40 f;
	struct s2_walk_result r;

	(void)state;
	fx40_init(&f, 48);
	/*
	 * IPA 0x80_4020_3456: IPA[39:30] = 0x201 (0x80_0000_0000 >> 30 = 0x200, plus 1): entry 1
	 * of the SECOND root table, at R40 + 0x201 * 8 = 0x80001008. IPA[29:21] = 1,
	 * IPA[20:12] = 3, offset 0x456.
	 */
	wr(&f.m, R40 + 0x1008, L2T | TABLE);
	wr(&f.m, PTE_P, 0x123456000ull | ATTR_RW_WB | PAGE);
	r = walk(&f.c, R40, &f.w, 0x8040203456ull, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0x123456456ull);
	assert_int_equal(r.block_size, 0x1000);
	assert_int_equal(s2_pa_val(r.pte_pa), PTE_P);
	assert_int_equal(r.pte, 0x1234567ffull);
	assert_int_equal(r.memattr, 0xf);
	assert_int_equal(r.s2ap, S2_S2AP_RW);
	assert_int_equal(r.sh, S2_SH_INNER);
	assert_true(r.af);
	assert_false(r.dbm);
	assert_false(r.contig);
	assert_int_equal(r.xn, 0);
	assert_false(r.hw_updated);

	/* The same page through root table 0 (IPA 0x203456): same output. */
	r = walk(&f.c, R40, &f.w, 0x203456ull, WRT);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0x123456456ull);

	/* Last entry of the concatenated root (IPA[39:30] = 0x3ff) is empty: level-1 fault there. */
	r = walk(&f.c, R40, &f.w, 0xffffffffffull, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 1);
	assert_int_equal(s2_pa_val(r.pte_pa), R40 + 0x3ff * 8);

	/* IPA 2^40: beyond the IPA size, translation fault at level 0 (no descriptor read). */
	f.m.reads = 0;
	r = walk(&f.c, R40, &f.w, 0x10000000000ull, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 0);
	assert_int_equal(f.m.reads, 0);
	fm_free(&f.m);
}

static void test_4k_blocks(void **state)
{
	struct fx40 f;
	struct s2_walk_result r;

	(void)state;
	fx40_init(&f, 48);
	/* 1G block at root entry 2 (IPA 0x80000000..): output 0xC0000000. */
	wr(&f.m, R40 + 2 * 8, 0xc0000000ull | ATTR_RW_WB | BLOCK);
	r = walk(&f.c, R40, &f.w, 0x81234567ull, RD);
	expect_fault(&r, S2_FAULT_NONE, 1);
	assert_int_equal(s2_pa_val(r.pa), 0xc1234567ull);
	assert_int_equal(r.block_size, 1ull << 30);
	assert_int_equal(s2_pa_val(r.pte_pa), R40 + 0x10);

	/* 2M block at L2 entry 5 (IPA 0xA00000..), output 0x4_0020_0000, with nT (bit 16) set:
	 * bits below the block size are not address bits. */
	wr(&f.m, L2T + 5 * 8, 0x400200000ull | S2_PTE_NT | ATTR_RW_WB | BLOCK);
	r = walk(&f.c, R40, &f.w, 0xa02345ull, RD);
	expect_fault(&r, S2_FAULT_NONE, 2);
	assert_int_equal(s2_pa_val(r.pa), 0x400202345ull);
	assert_int_equal(r.block_size, 1ull << 21);
	fm_free(&f.m);
}

static void test_4k_48bit_l0(void **state)
{
	struct fmem m = { 0 };
	struct s2_walk_mem w = mem_rw(&m);
	/* 4K, 48-bit IPA: start L0 resolves IPA[47:39], 512 entries, one table. */
	struct s2_config c = mkcfg(S2_GRANULE_4K, 48, 48, 0, 1, false, false);
	struct s2_walk_result r;

	(void)state;
	fm_add(&m, 0x90000000ull, 0x1000);
	/* A block at L0 is not legal without DS: translation fault at level 0. */
	wr(&m, 0x90000000ull + 1 * 8, 0x8000000000ull | ATTR_RW_WB | BLOCK);
	r = walk(&c, 0x90000000ull, &w, 0x8000001000ull, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 0);
	assert_int_equal(s2_pa_val(r.pte_pa), 0x90000008ull);
	/* IPA[47:39] = 0x1ff (last entry), empty. */
	r = walk(&c, 0x90000000ull, &w, 0xffffffffffffull, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 0);
	assert_int_equal(s2_pa_val(r.pte_pa), 0x90000000ull + 0x1ff * 8);
	fm_free(&m);
}

/*
 * 4K, 52-bit IPA and PA with FEAT_LPA2 (DS=1): OA[49:12] in desc[49:12], OA[51:50] in
 * desc[9:8]; shareability from VTCR_EL2.SH0.
 *
 * IPA 0xF_FF80_C0A0_79AB: IPA[51:39] = 0x1fff, IPA[38:30] = 3, IPA[29:21] = 5, IPA[20:12] = 7,
 * offset 0x9ab. (0xF_FF80_0000_0000 has bits 51..39 set; 0xC000_0000 = 3 << 30;
 * 0xA0_0000 = 5 << 21; 0x7000 = 7 << 12.)
 * Tables: L1 at PA 0xE_0000_0010_0000 (desc: [49:12] = 0x2_0000_0010_0000, [9:8] = 0b11),
 *         L2 at PA 0x4_0000_0020_0000 (desc: [49:12] = 0x20_0000, [9:8] = 0b01),
 *         L3 at PA 0x8000_0000.
 * Page OA 0xA_BCDE_F012_3000: [49:12] = 0x2_BCDE_F012_3000, [9:8] = 0b10.
 * Expected PA 0xA_BCDE_F012_39AB.
 */
#define IPA52 0xfff80c0a079abull
#define L1_52 0xe000000100000ull
#define L2_52 0x4000000200000ull
#define L3_52 0x80000000ull
#define PAGE52 (0x2bcdef0123000ull | 0x200 | 0x400 | 0xc0 | 0x3c | PAGE)

static void build_52_lower(struct fmem *m)
{
	fm_add(m, L1_52, 0x1000);
	fm_add(m, L2_52, 0x1000);
	fm_add(m, L3_52, 0x1000);
	wr(m, L1_52 + 3 * 8, 0x0000000200000ull | 0x100 | TABLE); /* -> L2_52 */
	wr(m, L2_52 + 5 * 8, L3_52 | TABLE);
	wr(m, L3_52 + 7 * 8, PAGE52);
}

static void test_4k_lpa2_52bit_concat16(void **state)
{
	struct fmem m = { 0 };
	struct s2_walk_mem w = mem_rw(&m);
	/* Start L0 resolves IPA[51:39]: 13 bits = 16 concatenated tables (64 KiB root). */
	struct s2_config c = mkcfg(S2_GRANULE_4K, 52, 52, 0, 16, true, false);
	const uint64_t root = 0x90000000ull;
	struct s2_walk_result r;

	(void)state;
	fm_add(&m, root, 0x10000);
	build_52_lower(&m);
	/* Index 0x1fff: the last entry of the 16th table, at root + 0xfff8. */
	wr(&m, root + 0xfff8, 0x2000000100000ull | 0x300 | TABLE);
	r = walk(&c, root, &w, IPA52, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0xabcdef01239abull);
	assert_int_equal(s2_pa_val(r.pte_pa), L3_52 + 0x38);
	assert_int_equal(r.sh, 3); /* VTCR_EL2.SH0, not desc[9:8] (0b10 here) */

	/* An L0 block (512G) is legal with DS: index 1 maps IPA 0x80_0000_0000.., to
	 * OA 0xC_0000_0000_0000 ([49:12] = 0, [9:8] = 0b11). */
	wr(&m, root + 8, 0x300 | 0x400 | 0xc0 | 0x3c | BLOCK);
	r = walk(&c, root, &w, 0x8012345678ull, RD);
	expect_fault(&r, S2_FAULT_NONE, 0);
	assert_int_equal(s2_pa_val(r.pa), 0xc000012345678ull);
	assert_int_equal(r.block_size, 1ull << 39);

	/* The same tables with PS = 48 bits: the table address 0xE_0000_0010_0000 is beyond it,
	 * an address size fault at level 0, where the table descriptor is. */
	c.pa_bits = 48;
	r = walk(&c, root, &w, IPA52, RD);
	expect_fault(&r, S2_FAULT_ADDRESS_SIZE, 0);
	assert_int_equal(s2_pa_val(r.pte_pa), root + 0xfff8);
	fm_free(&m);
}

static void test_4k_lpa2_level_minus1(void **state)
{
	struct fmem m = { 0 };
	struct s2_walk_mem w = mem_rw(&m);
	/* Start level -1 (SL2=1) resolves IPA[51:48]: 16 entries, one table; 5 levels. */
	struct s2_config c = mkcfg(S2_GRANULE_4K, 52, 52, -1, 1, true, false);
	const uint64_t root = 0x91000000ull, l0 = 0x92000000ull;
	struct s2_walk_result r;

	(void)state;
	fm_add(&m, root, 0x1000);
	fm_add(&m, l0, 0x1000);
	build_52_lower(&m);
	/* IPA[51:48] = 0xf -> root entry 15; IPA[47:39] = 0x1ff -> L0 entry 0x1ff. */
	wr(&m, root + 15 * 8, l0 | TABLE);
	wr(&m, l0 + 0x1ff * 8, 0x2000000100000ull | 0x300 | TABLE);
	r = walk(&c, root, &w, IPA52, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0xabcdef01239abull);

	/* No blocks at level -1. */
	wr(&m, root + 1 * 8, 0x400 | 0xc0 | 0x3c | BLOCK);
	r = walk(&c, root, &w, 0x1000000000000ull, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, -1);
	/* Empty entry at level -1. */
	r = walk(&c, root, &w, 0x2000000000000ull, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, -1);
	assert_int_equal(s2_pa_val(r.pte_pa), root + 0x10);

	/* Level -1 without DS is an invalid start level: translation fault, level 1. */
	c.ds = false;
	c.pa_bits = 48;
	r = walk(&c, root, &w, 0x1000, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 1);
	fm_free(&m);
}

/* ---- 16K granule ----------------------------------------------------------------------------- */
/* 16K: shifts L3 14, L2 25, L1 36, L0 47; 11 index bits per level. */

static void test_16k_l2_start_concat16(void **state)
{
	struct fmem m = { 0 };
	struct s2_walk_mem w = mem_rw(&m);
	/* 40-bit IPA from L2: IPA[39:25] = 15 bits = 16 concatenated 16K tables (256 KiB). */
	struct s2_config c = mkcfg(S2_GRANULE_16K, 40, 48, 2, 16, false, false);
	const uint64_t root = 0x80000000ull, l3 = 0x80100000ull;
	struct s2_walk_result r;

	(void)state;
	fm_add(&m, root, 0x40000);
	fm_add(&m, l3, 0x4000);
	/*
	 * IPA 0xF0_0601_4123: IPA[39:25] = 0x7803 (0xF0_0000_0000 >> 25 = 0x7800, + 3): table
	 * 15 (0x7800 / 2048), entry 3; descriptor at root + 0x7803 * 8 = root + 0x3C018.
	 * IPA[24:14] = 5, offset 0x123.
	 */
	wr(&m, root + 0x3c018, l3 | TABLE);
	wr(&m, l3 + 5 * 8, 0x123456c000ull | ATTR_RW_WB | PAGE);
	r = walk(&c, root, &w, 0xf006014123ull, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0x123456c123ull);
	assert_int_equal(r.block_size, 0x4000);

	/* 32M block at L2 entry 4 (IPA 0x800_0000..), output 0x2_0200_0000. */
	wr(&m, root + 4 * 8, 0x202000000ull | ATTR_RW_WB | BLOCK);
	r = walk(&c, root, &w, 0x9abcdefull, RD);
	expect_fault(&r, S2_FAULT_NONE, 2);
	assert_int_equal(s2_pa_val(r.pa), 0x203abcdefull);
	assert_int_equal(r.block_size, 1ull << 25);

	/* A block at L3 (bits[1:0] = 0b01): reserved, translation fault at level 3. */
	wr(&m, l3 + 6 * 8, 0x123458000ull | ATTR_RW_WB | BLOCK);
	r = walk(&c, root, &w, 0xf006018000ull, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 3);
	fm_free(&m);
}

static void test_16k_l1_block(void **state)
{
	struct fmem m = { 0 };
	struct s2_walk_mem w = mem_rw(&m);
	/* 48-bit IPA from L1: IPA[47:36] = 12 bits = 2 tables. */
	struct s2_config c = mkcfg(S2_GRANULE_16K, 48, 48, 1, 2, false, false);
	/* 52-bit with DS from L0: IPA[51:47] = 5 bits, 32 entries, one table. */
	struct s2_config d = mkcfg(S2_GRANULE_16K, 52, 52, 0, 1, true, false);
	const uint64_t root = 0x80000000ull, root2 = 0x80100000ull, l1 = 0x80200000ull;
	struct s2_walk_result r;

	(void)state;
	fm_add(&m, root, 0x8000);
	fm_add(&m, root2, 0x4000);
	fm_add(&m, l1, 0x4000);
	/* Without DS, no blocks at L1: translation fault at level 1. */
	wr(&m, root + 1 * 8, 0x1000000000ull | ATTR_RW_WB | BLOCK);
	r = walk(&c, root, &w, 0x1000000000ull, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 1);

	/*
	 * With DS, a 64G block at L1. IPA 0x8_1234_5678_9ABC: IPA[51:47] = 16, IPA[46:36] = 0x123,
	 * offset within 64G 0x4_5678_9ABC. Output 0xD_0010_0000_0000: desc[49:14] =
	 * 0x1_0010_0000_0000, desc[9:8] = OA[51:50] = 0b11.
	 */
	wr(&m, root2 + 16 * 8, l1 | TABLE);
	wr(&m, l1 + 0x123 * 8, 0x1001000000000ull | 0x300 | 0x400 | 0xc0 | 0x3c | BLOCK);
	r = walk(&d, root2, &w, 0x8123456789abcull, RD);
	expect_fault(&r, S2_FAULT_NONE, 1);
	assert_int_equal(s2_pa_val(r.pa), 0xd001456789abcull);
	assert_int_equal(r.block_size, 1ull << 36);

	/* Level 0 for 16K needs DS (SL0 = 0b11): without it, an invalid start level. */
	d.ds = false;
	d.ipa_bits = 48;
	d.pa_bits = 48;
	r = walk(&d, root2, &w, 0x1000, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 1);
	fm_free(&m);
}

/* ---- 64K granule ----------------------------------------------------------------------------- */
/* 64K: shifts L3 16, L2 29, L1 42; 13 index bits per level. */

static void test_64k_l2_block_and_concat(void **state)
{
	struct fmem m = { 0 };
	struct s2_walk_mem w = mem_rw(&m);
	/* 42-bit IPA from L2: IPA[41:29] = 13 bits, exactly one table. */
	struct s2_config c = mkcfg(S2_GRANULE_64K, 42, 48, 2, 1, false, false);
	/* 44-bit IPA from L2: 15 bits = 4 concatenated tables (256 KiB). */
	struct s2_config d = mkcfg(S2_GRANULE_64K, 44, 48, 2, 4, false, false);
	const uint64_t root = 0x90000000ull, root4 = 0x80000000ull, l3 = 0x80100000ull;
	struct s2_walk_result r;

	(void)state;
	fm_add(&m, root, 0x10000);
	fm_add(&m, root4, 0x40000);
	fm_add(&m, l3, 0x10000);
	/* 512M block at entry 3 (IPA 0x6000_0000..), output 0x20_0000_0000. */
	wr(&m, root + 3 * 8, 0x2000000000ull | ATTR_RW_WB | BLOCK);
	r = walk(&c, root, &w, 0x61234567ull, RD);
	expect_fault(&r, S2_FAULT_NONE, 2);
	assert_int_equal(s2_pa_val(r.pa), 0x2001234567ull);
	assert_int_equal(r.block_size, 1ull << 29);

	/*
	 * IPA 0xF00_1234_5678: IPA[43:29] = 0x7800 (table 3, entry 0x1800), descriptor at
	 * root4 + 0x3C000; IPA[28:16] = 0x1234, at l3 + 0x91A0; offset 0x5678.
	 */
	wr(&m, root4 + 0x3c000, l3 | TABLE);
	wr(&m, l3 + 0x91a0, 0x345670000ull | ATTR_RW_WB | PAGE);
	r = walk(&d, root4, &w, 0xf0012345678ull, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0x345675678ull);
	assert_int_equal(r.block_size, 0x10000);

	/* A page whose desc[15:12] (OA[51:48] in the FEAT_LPA layout) is nonzero, with PS=48:
	 * address size fault at level 3. */
	wr(&m, l3 + 0x91a0, 0x345670000ull | 0x1000 | ATTR_RW_WB | PAGE);
	r = walk(&d, root4, &w, 0xf0012345678ull, RD);
	expect_fault(&r, S2_FAULT_ADDRESS_SIZE, 3);
	/* PS = 52 bits without FEAT_LPA acts as 48 bits (AArch64.PhysicalAddressSize): still an
	 * address size fault. */
	d.pa_bits = 52;
	r = walk(&d, root4, &w, 0xf0012345678ull, RD);
	expect_fault(&r, S2_FAULT_ADDRESS_SIZE, 3);
	fm_free(&m);
}

static void test_64k_lpa_52bit(void **state)
{
	struct fmem m = { 0 };
	struct s2_walk_mem w = mem_rw(&m);
	/* 52-bit IPA from L1: IPA[51:42] = 10 bits, 1024 entries, one table. */
	struct s2_config c = mkcfg(S2_GRANULE_64K, 52, 52, 1, 1, false, true);
	/* 48-bit IPA from L1: IPA[47:42], 64 entries; no FEAT_LPA, no L1 blocks. */
	struct s2_config d = mkcfg(S2_GRANULE_64K, 48, 48, 1, 1, false, false);
	const uint64_t root = 0x90000000ull, l2 = 0x5000000000000ull, l3 = 0x91000000ull;
	struct s2_walk_result r;

	(void)state;
	fm_add(&m, root, 0x10000);
	fm_add(&m, l2, 0x10000);
	fm_add(&m, l3, 0x10000);
	/*
	 * IPA 0x8_0400_0123_4567: IPA[51:42] = 0x201, descriptor at root + 0x1008. A 4T block
	 * there with output 0xF_0800_0000_0000: desc[47:16] = 0x0800_0000_0000, desc[15:12] =
	 * OA[51:48] = 0xF. Offset within 4T: 0x123_4567.
	 */
	wr(&m, root + 0x1008, 0x8000000f000ull | 0x400 | 0xc0 | 0x3c | BLOCK);
	r = walk(&c, root, &w, 0x8040001234567ull, RD);
	expect_fault(&r, S2_FAULT_NONE, 1);
	assert_int_equal(s2_pa_val(r.pa), 0xf080001234567ull);
	assert_int_equal(r.block_size, 1ull << 42);

	/* Next-table address with OA[51:48] = 5 (desc[15:12]): L2 at 0x5_0000_0000_0000.
	 * IPA 0x4_0000_2001_0000: IPA[51:42] = 0x100, IPA[41:29] = 1, IPA[28:16] = 1. */
	wr(&m, root + 0x100 * 8, 0x5000 | TABLE);
	wr(&m, l2 + 1 * 8, l3 | TABLE);
	wr(&m, l3 + 1 * 8, 0x123450000ull | 0x9000 | ATTR_RW_WB | PAGE);
	r = walk(&c, root, &w, 0x4000020010abcull, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0x9000123450abcull);

	/* Without FEAT_LPA the L1 block is illegal: IPA[47:42] = 1 -> entry 1. */
	wr(&m, root + 1 * 8, 0x40000000000ull | ATTR_RW_WB | BLOCK);
	r = walk(&d, root, &w, 0x40000000000ull, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 1);
	fm_free(&m);
}

static void test_more_geometries(void **state)
{
	struct fmem m = { 0 };
	struct s2_walk_mem w = mem_rw(&m);
	/* 4K, 32-bit IPA from L2: IPA[31:21] = 11 bits = 4 concatenated tables; 2 levels. */
	struct s2_config c = mkcfg(S2_GRANULE_4K, 32, 40, 2, 4, false, false);
	/* 16K, 52-bit with DS from L0 (one 32-entry table). */
	struct s2_config d = mkcfg(S2_GRANULE_16K, 52, 52, 0, 1, true, false);
	const uint64_t root = 0x40000000ull, l3 = 0x40010000ull;
	const uint64_t t16 = 0x80000000ull;
	struct s2_walk_result r;

	(void)state;
	fm_add(&m, root, 0x4000);
	fm_add(&m, l3, 0x1000);
	/* IPA 0xFFE0_1ABC: IPA[31:21] = 0x7ff, the last entry of the 4th table (root + 0x3ff8);
	 * IPA[20:12] = 1, offset 0xabc. */
	wr(&m, root + 0x3ff8, l3 | TABLE);
	wr(&m, l3 + 8, 0x76543000ull | ATTR_RW_WB | PAGE);
	r = walk(&c, root, &w, 0xffe01abcull, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0x76543abcull);
	/* 4 GiB and above is outside the 32-bit IPA space. */
	r = walk(&c, root, &w, 0x100000000ull, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 0);
	/* The root must be aligned to 16 KiB. */
	assert_int_equal(s2_walk(&c, s2_pa(root + 0x2000), &w, s2_ipa(0), RD, &r), S2_EINVAL);

	/* 16K DS page with a 52-bit output: OA 0x8_0000_0000_4000 is desc[49:14] = 0x4000 and
	 * desc[9:8] = OA[51:50] = 0b10. IPA 0x4123: indices 0, 0, 0, then IPA[24:14] = 1. */
	fm_add(&m, t16, 0x10000);
	wr(&m, t16, (t16 + 0x4000) | TABLE);
	wr(&m, t16 + 0x4000, (t16 + 0x8000) | TABLE);
	wr(&m, t16 + 0x8000, (t16 + 0xc000) | TABLE);
	wr(&m, t16 + 0xc000 + 8, 0x4000 | 0x200 | 0x400 | 0xc0 | 0x3c | PAGE);
	r = walk(&d, t16, &w, 0x4123, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0x8000000004123ull);
	assert_int_equal(r.block_size, 0x4000);
	/* 2^52 is outside even a 52-bit IPA space. */
	r = walk(&d, t16, &w, 0x10000000000000ull, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 0);
	fm_free(&m);
}

/* ---- faults ---------------------------------------------------------------------------------- */

static void test_translation_and_reserved(void **state)
{
	struct fx40 f;
	struct s2_walk_result r;

	(void)state;
	fx40_init(&f, 48);
	/* Empty root entry 1 (IPA 1G..2G). */
	r = walk(&f.c, R40, &f.w, 0x40000000ull, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 1);
	/* Empty L2 entry 2 (IPA 4M..). */
	r = walk(&f.c, R40, &f.w, 0x400000ull, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 2);
	assert_int_equal(s2_pa_val(r.pte_pa), L2T + 0x10);
	/* Empty L3 entry (an invalid descriptor with software bits set is still invalid). */
	wr(&f.m, PTE_P, 0x123456000ull | ATTR_RW_WB | 2);
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 3);
	assert_int_equal(r.pte, 0x123456000ull | ATTR_RW_WB | 2);
	/* 0b01 at level 3 is reserved. */
	wr(&f.m, PTE_P, 0x123456000ull | ATTR_RW_WB | BLOCK);
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 3);
	fm_free(&f.m);
}

static void test_address_size(void **state)
{
	struct fx40 f;
	struct s2_walk_result r;

	(void)state;
	fx40_init(&f, 40); /* PS = 40 bits */
	/* Table address 2^40 from root entry 3: address size fault at level 1. */
	wr(&f.m, R40 + 3 * 8, 0x10000000000ull | TABLE);
	r = walk(&f.c, R40, &f.w, 0xc0000000ull, RD);
	expect_fault(&r, S2_FAULT_ADDRESS_SIZE, 1);
	/* Block at L2 entry 4 with output 2^41: level 2. */
	wr(&f.m, L2T + 4 * 8, 0x20000000000ull | ATTR_RW_WB | BLOCK);
	r = walk(&f.c, R40, &f.w, 0x800000ull, RD);
	expect_fault(&r, S2_FAULT_ADDRESS_SIZE, 2);
	/* Page with output bit 47 set: level 3. */
	wr(&f.m, PTE_P, 0x800000000000ull | ATTR_RW_WB | PAGE);
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_ADDRESS_SIZE, 3);
	/* Address size comes before the access flag. */
	wr(&f.m, PTE_P, 0x800000000000ull | (ATTR_RW_WB & ~S2_PTE_AF) | PAGE);
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_ADDRESS_SIZE, 3);
	/* Output just below 2^40 is fine. */
	wr(&f.m, PTE_P, 0xfffffff000ull | ATTR_RW_WB | PAGE);
	r = walk(&f.c, R40, &f.w, IPA_P + 0x10, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0xfffffff010ull);
	fm_free(&f.m);

	/* VTTBR base beyond PS: address size fault at level 0, nothing read. */
	{
		struct fmem m = { 0 };
		struct s2_walk_mem w = mem_rw(&m);
		struct s2_config c = mkcfg(S2_GRANULE_4K, 40, 40, 1, 2, false, false);

		r = walk(&c, 0x10000000000ull, &w, 0x1000, RD);
		expect_fault(&r, S2_FAULT_ADDRESS_SIZE, 0);
		assert_int_equal(m.reads, 0);
	}
}

static void test_external_abort(void **state)
{
	struct fx40 f;
	struct s2_walk_result r;

	(void)state;
	fx40_init(&f, 48);
	/* Root entry 5 points at a table at PA 0x70000000, which is not memory: the L2 read
	 * aborts, reported at level 2. */
	wr(&f.m, R40 + 5 * 8, 0x70000000ull | TABLE);
	r = walk(&f.c, R40, &f.w, 0x140000000ull, RD);
	expect_fault(&r, S2_FAULT_EXTERNAL_WALK, 2);
	assert_int_equal(s2_pa_val(r.pte_pa), 0x70000000ull);
	/* A root that is not memory: level 1. */
	r = walk(&f.c, 0x60000000ull, &f.w, 0x1000, RD);
	expect_fault(&r, S2_FAULT_EXTERNAL_WALK, 1);
	fm_free(&f.m);
}

static void test_access_flag(void **state)
{
	struct fx40 f;
	struct s2_walk_result r;
	const uint64_t noaf = 0x123456000ull | (ATTR_RW_WB & ~S2_PTE_AF) | PAGE;

	(void)state;
	fx40_init(&f, 48);
	wr(&f.m, PTE_P, noaf);
	/* HA off: access flag fault at the leaf level. */
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_ACCESS_FLAG, 3);
	/* Checked before permissions: AF clear and no access at all is still an AF fault. */
	wr(&f.m, PTE_P, 0x123456000ull | 0x33c | PAGE);
	r = walk(&f.c, R40, &f.w, IPA_P, WRT);
	expect_fault(&r, S2_FAULT_ACCESS_FLAG, 3);
	/* AF on a block: level 2. */
	wr(&f.m, L2T + 6 * 8, 0x40000000ull | (ATTR_RW_WB & ~S2_PTE_AF) | BLOCK);
	r = walk(&f.c, R40, &f.w, 0xc00000ull, RD);
	expect_fault(&r, S2_FAULT_ACCESS_FLAG, 2);

	/* HA on with a writer: the walk sets AF in memory. */
	f.c.ha = true;
	wr(&f.m, PTE_P, noaf);
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_true(r.hw_updated);
	assert_true(r.af);
	assert_int_equal(r.pte, noaf | S2_PTE_AF);
	assert_int_equal(rd(&f.m, PTE_P), noaf | S2_PTE_AF);
	/* Once set, no further update. */
	f.m.cas_calls = 0;
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	assert_false(r.hw_updated);
	assert_int_equal(f.m.cas_calls, 0);

	/* HA on, no writer: treated as set, memory unchanged. */
	{
		struct s2_walk_mem ro = mem_ro(&f.m);

		wr(&f.m, PTE_P, noaf);
		r = walk(&f.c, R40, &ro, IPA_P, RD);
		expect_fault(&r, S2_FAULT_NONE, 3);
		assert_false(r.hw_updated);
		assert_false(r.af);
		assert_int_equal(rd(&f.m, PTE_P), noaf);
	}

	/* A lost race: the walk is redone and the second CAS succeeds. */
	f.m.cas_calls = 0;
	f.m.cas_races = 1;
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_true(r.hw_updated);
	assert_int_equal(f.m.cas_calls, 2);
	assert_int_equal(rd(&f.m, PTE_P), noaf | S2_PTE_AF);

	/* A permission fault makes no update (the update follows the permission check). */
	wr(&f.m, PTE_P, (noaf & ~S2_PTE_S2AP_W));
	r = walk(&f.c, R40, &f.w, IPA_P, WRT);
	expect_fault(&r, S2_FAULT_PERMISSION, 3);
	assert_int_equal(rd(&f.m, PTE_P), noaf & ~S2_PTE_S2AP_W);

	/* The update write aborting: external abort on the walk, at the leaf level. */
	wr(&f.m, PTE_P, noaf);
	f.m.cas_error = S2_EFAULT;
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_EXTERNAL_WALK, 3);
	assert_int_equal(rd(&f.m, PTE_P), noaf);
	f.m.cas_error = 0;

	/* A writer that never wins: S2_EAGAIN after bounded retries. */
	{
		struct s2_walk_result rr;

		f.m.cas_races = 100000;
		assert_int_equal(s2_walk(&f.c, s2_pa(R40), &f.w, s2_ipa(IPA_P), RD, &rr),
				 S2_EAGAIN);
		f.m.cas_races = 0;
	}
	fm_free(&f.m);
}

static void test_permissions_rw(void **state)
{
	struct fx40 f;
	struct s2_walk_result r;
	/* S2AP values in bits [7:6]. */
	const uint64_t base = 0x123456000ull | 0x400 | 0x300 | 0x3c | PAGE;

	(void)state;
	fx40_init(&f, 48);
	/* S2AP = 00: no data access; instruction fetch (XN = 0) still allowed. */
	wr(&f.m, PTE_P, base);
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_PERMISSION, 3);
	r = walk(&f.c, R40, &f.w, IPA_P, WRT);
	expect_fault(&r, S2_FAULT_PERMISSION, 3);
	r = walk(&f.c, R40, &f.w, IPA_P, X1);
	expect_fault(&r, S2_FAULT_NONE, 3);
	/* S2AP = 01 read-only. */
	wr(&f.m, PTE_P, base | 0x40);
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(r.s2ap, S2_S2AP_RO);
	r = walk(&f.c, R40, &f.w, IPA_P, WRT);
	expect_fault(&r, S2_FAULT_PERMISSION, 3);
	/* S2AP = 10 write-only. */
	wr(&f.m, PTE_P, base | 0x80);
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_PERMISSION, 3);
	r = walk(&f.c, R40, &f.w, IPA_P, WRT);
	expect_fault(&r, S2_FAULT_NONE, 3);
	/* Permission fault on a 1G block: level 1. */
	wr(&f.m, R40 + 2 * 8, 0xc0000000ull | 0x400 | 0x300 | 0x40 | 0x3c | BLOCK);
	r = walk(&f.c, R40, &f.w, 0x80000000ull, WRT);
	expect_fault(&r, S2_FAULT_PERMISSION, 1);

	/* Stage-1 table walks are reads: a no-access page faults, an RO page is fine, and a
	 * walk that must update a stage-1 descriptor (WRITE) needs S2AP[1]. */
	wr(&f.m, PTE_P, base);
	r = walk(&f.c, R40, &f.w, IPA_P, PTW_RD);
	expect_fault(&r, S2_FAULT_PERMISSION, 3);
	wr(&f.m, PTE_P, base | 0x40);
	r = walk(&f.c, R40, &f.w, IPA_P, PTW_RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	r = walk(&f.c, R40, &f.w, IPA_P, PTW_WR);
	expect_fault(&r, S2_FAULT_PERMISSION, 3);
	/* A stage-1 walk for an instruction fetch is still a read: XN does not matter. */
	wr(&f.m, PTE_P, base | 0x40 | (2ull << 53));
	r = walk(&f.c, R40, &f.w, IPA_P, (struct s2_access){ S2_ACCESS_EXEC, false, true });
	expect_fault(&r, S2_FAULT_NONE, 3);
	fm_free(&f.m);
}

static void test_permissions_xn(void **state)
{
	struct fx40 f;
	struct s2_walk_result r;
	const uint64_t base = 0x123456000ull | ATTR_RW_WB | PAGE;
	/* Expected exec for XN = 00, 01, 10, 11 at (EL1, EL0). */
	static const bool xnx_el1[4] = { true, false, false, true };
	static const bool xnx_el0[4] = { true, true, false, false };
	/* Without FEAT_XNX only XN[1] (bit 54) counts, for both ELs. */
	static const bool plain[4] = { true, true, false, false };
	unsigned int xn;

	(void)state;
	fx40_init(&f, 48);
	for (xn = 0; xn < 4; xn++) {
		wr(&f.m, PTE_P, base | ((uint64_t)xn << 53));
		f.c.xnx = false;
		r = walk(&f.c, R40, &f.w, IPA_P, X1);
		assert_int_equal(r.fault, plain[xn] ? S2_FAULT_NONE : S2_FAULT_PERMISSION);
		assert_int_equal(r.level, 3);
		r = walk(&f.c, R40, &f.w, IPA_P, X0);
		assert_int_equal(r.fault, plain[xn] ? S2_FAULT_NONE : S2_FAULT_PERMISSION);
		f.c.xnx = true;
		r = walk(&f.c, R40, &f.w, IPA_P, X1);
		assert_int_equal(r.fault, xnx_el1[xn] ? S2_FAULT_NONE : S2_FAULT_PERMISSION);
		r = walk(&f.c, R40, &f.w, IPA_P, X0);
		assert_int_equal(r.fault, xnx_el0[xn] ? S2_FAULT_NONE : S2_FAULT_PERMISSION);
		/* XN never affects data accesses. */
		r = walk(&f.c, R40, &f.w, IPA_P, WRT);
		assert_int_equal(r.fault, S2_FAULT_NONE);
		assert_int_equal(r.xn, xn);
	}
	fm_free(&f.m);
}

static void test_dbm(void **state)
{
	struct fx40 f;
	struct s2_walk_result r;
	/* Read-only (S2AP 01), DBM (bit 51), AF set. */
	const uint64_t ro_dbm = 0x123456000ull | S2_PTE_DBM | 0x400 | 0x300 | 0x40 | 0x3c | PAGE;

	(void)state;
	fx40_init(&f, 48);
	wr(&f.m, PTE_P, ro_dbm);
	/* HD off: DBM means nothing, the write faults. */
	r = walk(&f.c, R40, &f.w, IPA_P, WRT);
	expect_fault(&r, S2_FAULT_PERMISSION, 3);
	assert_true(r.dbm);
	/* HD on but HA off: HD has no effect without HA. */
	f.c.hd = true;
	r = walk(&f.c, R40, &f.w, IPA_P, WRT);
	expect_fault(&r, S2_FAULT_PERMISSION, 3);
	/* HA and HD on: a read changes nothing. */
	f.c.ha = true;
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_false(r.hw_updated);
	assert_int_equal(rd(&f.m, PTE_P), ro_dbm);
	/* Without a writer the write is allowed, memory unchanged. */
	{
		struct s2_walk_mem ro = mem_ro(&f.m);

		r = walk(&f.c, R40, &ro, IPA_P, WRT);
		expect_fault(&r, S2_FAULT_NONE, 3);
		assert_false(r.hw_updated);
		assert_int_equal(rd(&f.m, PTE_P), ro_dbm);
	}
	/* With a writer the write sets S2AP[1] (bit 7). */
	r = walk(&f.c, R40, &f.w, IPA_P, WRT);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_true(r.hw_updated);
	assert_int_equal(r.s2ap, S2_S2AP_RW);
	assert_int_equal(rd(&f.m, PTE_P), ro_dbm | 0x80);
	assert_int_equal(r.pte, ro_dbm | 0x80);
	/* AF clear too: one update sets both. */
	wr(&f.m, PTE_P, ro_dbm & ~S2_PTE_AF);
	r = walk(&f.c, R40, &f.w, IPA_P, WRT);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(rd(&f.m, PTE_P), ro_dbm | 0x80);
	/* No DBM: HD does not help. */
	wr(&f.m, PTE_P, ro_dbm & ~S2_PTE_DBM);
	r = walk(&f.c, R40, &f.w, IPA_P, WRT);
	expect_fault(&r, S2_FAULT_PERMISSION, 3);
	/* A stage-1 walk that updates a stage-1 descriptor counts as a write for DBM. */
	wr(&f.m, PTE_P, ro_dbm);
	r = walk(&f.c, R40, &f.w, IPA_P, PTW_WR);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(rd(&f.m, PTE_P), ro_dbm | 0x80);
	fm_free(&f.m);
}

static void test_fields(void **state)
{
	struct fx40 f;
	struct s2_walk_result r;
	/* MemAttr 0b0001 (Device-nGnRE), S2AP RO, SH outer (0b10), AF, contiguous, SW = 0b1010,
	 * XN = 0b10. */
	const uint64_t d = 0x123456000ull | (1ull << 2) | 0x40 | 0x200 | 0x400 | S2_PTE_CONTIG |
			   (0xaull << 55) | (2ull << 53) | PAGE;

	(void)state;
	fx40_init(&f, 48);
	wr(&f.m, PTE_P, d);
	r = walk(&f.c, R40, &f.w, IPA_P | 0xfff, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0x123456fffull);
	assert_int_equal(r.memattr, 1);
	assert_int_equal(r.s2ap, S2_S2AP_RO);
	assert_int_equal(r.sh, S2_SH_OUTER);
	assert_true(r.contig);
	assert_int_equal(r.sw, 0xa);
	assert_int_equal(r.xn, 2);
	fm_free(&f.m);
}

static void test_bad_config(void **state)
{
	struct fx40 f;
	struct s2_walk_result r;
	struct s2_config c;

	(void)state;
	fx40_init(&f, 48);
	/* 4K from L1 with 2 tables is right; 1 table is not. */
	c = f.c;
	c.root_tables = 1;
	assert_int_equal(s2_walk(&c, s2_pa(R40), &f.w, s2_ipa(0), RD, &r), S2_EINVAL);
	c = f.c;
	c.page_shift = 14;
	assert_int_equal(s2_walk(&c, s2_pa(R40), &f.w, s2_ipa(0), RD, &r), S2_EINVAL);
	c = f.c;
	c.levels = 4;
	assert_int_equal(s2_walk(&c, s2_pa(R40), &f.w, s2_ipa(0), RD, &r), S2_EINVAL);
	/* The root must be aligned to the 8 KiB concatenated table. */
	assert_int_equal(s2_walk(&f.c, s2_pa(R40 + 0x1000), &f.w, s2_ipa(0), RD, &r), S2_EINVAL);
	assert_int_equal(s2_walk(NULL, s2_pa(R40), &f.w, s2_ipa(0), RD, &r), S2_EINVAL);
	/* 40-bit IPA from L2 would need IPA[39:21] = 19 bits: more than 9 + 4, an inconsistent
	 * start level: translation fault at level 1. */
	c = f.c;
	c.start_level = 2;
	c.levels = 2;
	r = walk(&c, R40, &f.w, 0, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 1);
	/* 64K has no level 0. */
	c = mkcfg(S2_GRANULE_64K, 48, 48, 0, 1, false, false);
	r = walk(&c, 0x90000000ull, &f.w, 0, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 1);
	fm_free(&f.m);
}

/* ---- TLB model ------------------------------------------------------------------------------- */

struct stale_log {
	unsigned int n;
	const char *why[8];
	uint64_t ipa[8];
};

static void log_stale(void *arg, const struct s2_tlb_stale *s)
{
	struct stale_log *l = arg;

	if (l->n < 8) {
		l->why[l->n] = s->why;
		l->ipa[l->n] = s2_ipa_val(s->entry.ipa);
	}
	l->n++;
}

static void fill(struct s2_tlb_model *t, struct fx40 *f, uint16_t vmid, uint64_t ipa)
{
	struct s2_walk_result r = walk(&f->c, R40, &f->w, ipa, RD);

	assert_int_equal(r.fault, S2_FAULT_NONE);
	s2_tlb_fill(t, vmid, s2_ipa(ipa), &r);
}

static int check(struct s2_tlb_model *t, struct fx40 *f, uint16_t vmid, struct stale_log *l)
{
	memset(l, 0, sizeof(*l));
	return s2_tlb_check(t, vmid, &f->c, s2_pa(R40), &f->w, log_stale, l);
}

/* The fixture's page at IPA_P plus a 2M block at L2 entry 8 (IPA 0x1000000). */
static void tlb_fixture(struct fx40 *f)
{
	fx40_init(f, 48);
	wr(&f->m, PTE_P, 0x123456000ull | ATTR_RW_WB | PAGE);
	wr(&f->m, L2T + 8 * 8, 0x40000000ull | ATTR_RW_WB | BLOCK);
}

static void test_tlb_fill_lookup(void **state)
{
	struct fx40 f;
	struct s2_tlb_entry st[8];
	struct s2_tlb_model t;
	const struct s2_tlb_entry *e;
	struct stale_log l;

	(void)state;
	tlb_fixture(&f);
	s2_tlb_init(&t, st, 8);
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(IPA_P)));
	fill(&t, &f, 1, IPA_P + 0x456);
	fill(&t, &f, 1, 0x1054321);
	e = s2_tlb_lookup(&t, 1, s2_ipa(IPA_P + 0xabc));
	assert_non_null(e);
	assert_int_equal(s2_ipa_val(e->ipa), IPA_P);
	assert_int_equal(s2_pa_val(e->pa), 0x123456000ull);
	assert_int_equal(e->block_size, 0x1000);
	assert_int_equal(e->level, 3);
	assert_int_equal(e->s2ap, S2_S2AP_RW);
	assert_int_equal(e->memattr, 0xf);
	assert_true(e->af);
	e = s2_tlb_lookup(&t, 1, s2_ipa(0x11fffff));
	assert_non_null(e);
	assert_int_equal(s2_ipa_val(e->ipa), 0x1000000);
	assert_int_equal(s2_pa_val(e->pa), 0x40000000ull);
	assert_int_equal(e->level, 2);
	assert_null(s2_tlb_lookup(&t, 2, s2_ipa(IPA_P)));
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(IPA_P + 0x1000)));
	/* Refilling the same translation does not add an entry: still 2 to check. */
	fill(&t, &f, 1, IPA_P);
	assert_int_equal(check(&t, &f, 1, &l), 0);
	/* A faulting result is not cached. */
	{
		struct s2_walk_result r = walk(&f.c, R40, &f.w, 0x400000ull, RD);

		assert_int_not_equal(r.fault, S2_FAULT_NONE);
		s2_tlb_fill(&t, 1, s2_ipa(0x400000ull), &r);
		assert_null(s2_tlb_lookup(&t, 1, s2_ipa(0x400000ull)));
	}
	/* Round-robin eviction when full: capacity 2 holding two, a third replaces one. */
	{
		struct s2_tlb_entry st2[2];
		struct s2_tlb_model t2;

		s2_tlb_init(&t2, st2, 2);
		fill(&t2, &f, 1, IPA_P);
		fill(&t2, &f, 1, 0x1000000);
		fill(&t2, &f, 2, IPA_P);
		assert_non_null(s2_tlb_lookup(&t2, 2, s2_ipa(IPA_P)));
		assert_int_equal((s2_tlb_lookup(&t2, 1, s2_ipa(IPA_P)) != NULL) +
					 (s2_tlb_lookup(&t2, 1, s2_ipa(0x1000000)) != NULL),
				 1);
	}
	fm_free(&f.m);
}

/*
 * A translation that gave a permission fault may stay in the TLB (Arm ARM D8.17), unlike a
 * translation or access flag fault: the model keeps it, with the access, and reports it stale
 * once that access would no longer fault, until a TLBI removes it.
 */
static void test_tlb_perm_fault_entries(void **state)
{
	struct fx40 f;
	struct s2_tlb_entry st[8];
	struct s2_tlb_model t;
	struct stale_log l;
	struct s2_walk_result r;
	const struct s2_tlb_entry *e;
	const uint64_t ro = 0x123456000ull | (ATTR_RW_WB & ~0x80ull) | PAGE; /* S2AP RO */
	const uint64_t xn = 2ull << 53;

	(void)state;
	tlb_fixture(&f);
	s2_tlb_init(&t, st, 8);
	wr(&f.m, PTE_P, ro | xn);

	/* A write faults: cached, marked, with its access; a read uses a separate entry. */
	r = walk(&f.c, R40, &f.w, IPA_P, WRT);
	expect_fault(&r, S2_FAULT_PERMISSION, 3);
	assert_int_equal(r.access.type, S2_ACCESS_WRITE);
	s2_tlb_fill(&t, 1, s2_ipa(IPA_P), &r);
	e = s2_tlb_lookup(&t, 1, s2_ipa(IPA_P + 0x10));
	assert_non_null(e);
	assert_true(e->perm_fault);
	assert_int_equal(e->access.type, S2_ACCESS_WRITE);
	assert_int_equal(e->s2ap, S2_S2AP_RO);
	fill(&t, &f, 1, IPA_P);
	assert_int_equal(check(&t, &f, 1, &l), 0);

	/* Exec granted: the write still faults; the entry is not stale. */
	wr(&f.m, PTE_P, ro);
	assert_int_equal(check(&t, &f, 1, &l), 0);
	/* Write granted without a TLBI: the CPU would keep faulting on the entry. */
	wr(&f.m, PTE_P, ro | 0x80ull);
	assert_int_equal(check(&t, &f, 1, &l), 1);
	assert_string_equal(l.why[0], "permission fault no longer due");
	assert_int_equal(l.ipa[0], IPA_P);
	/* The local TLBI of relax_perms (modelled as TLBI IPAS2E1, level 3) removes it. */
	s2_tlbi_ipa(&t, 1, s2_ipa(IPA_P), 3);
	assert_int_equal(check(&t, &f, 1, &l), 0);

	/* An exec that faults, then the page unmapped without a TLBI: stale ("fault"). */
	wr(&f.m, PTE_P, ro | xn);
	r = walk(&f.c, R40, &f.w, IPA_P, X1);
	expect_fault(&r, S2_FAULT_PERMISSION, 3);
	s2_tlb_fill(&t, 1, s2_ipa(IPA_P), &r);
	assert_int_equal(check(&t, &f, 1, &l), 0);
	wr(&f.m, PTE_P, 0);
	assert_int_equal(check(&t, &f, 1, &l), 1);
	assert_string_equal(l.why[0], "fault");
	s2_tlbi_range(&t, 1, s2_ipa(IPA_P), 0x1000);
	assert_int_equal(check(&t, &f, 1, &l), 0);

	/* Translation and access flag faults are never cached. */
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 3);
	s2_tlb_fill(&t, 1, s2_ipa(IPA_P), &r);
	wr(&f.m, PTE_P, (ro & ~0x400ull) | 0x80ull); /* AF clear */
	r = walk(&f.c, R40, &f.w, IPA_P, RD);
	expect_fault(&r, S2_FAULT_ACCESS_FLAG, 3);
	s2_tlb_fill(&t, 1, s2_ipa(IPA_P), &r);
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(IPA_P)));
	fm_free(&f.m);
}

static void test_tlb_stale_kinds(void **state)
{
	struct fx40 f;
	struct s2_tlb_entry st[8];
	struct s2_tlb_model t;
	struct stale_log l;
	const uint64_t page = 0x123456000ull | ATTR_RW_WB | PAGE;

	(void)state;
	tlb_fixture(&f);
	s2_tlb_init(&t, st, 8);
	fill(&t, &f, 1, IPA_P);
	assert_int_equal(check(&t, &f, 1, &l), 0);

	/* Another output address, no TLBI: stale. */
	wr(&f.m, PTE_P, 0x123457000ull | ATTR_RW_WB | PAGE);
	assert_int_equal(check(&t, &f, 1, &l), 1);
	assert_string_equal(l.why[0], "output address");
	assert_int_equal(l.ipa[0], IPA_P);
	/* Checking another VMID sees nothing. */
	assert_int_equal(check(&t, &f, 2, &l), 0);
	/* TLBI by IPA with the right level hint clears it. */
	s2_tlbi_ipa(&t, 1, s2_ipa(IPA_P + 0x10), 3);
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(IPA_P)));
	assert_int_equal(check(&t, &f, 1, &l), 0);

	/* Unmapped: stale ("fault"). */
	wr(&f.m, PTE_P, page);
	fill(&t, &f, 1, IPA_P);
	wr(&f.m, PTE_P, 0);
	assert_int_equal(check(&t, &f, 1, &l), 1);
	assert_string_equal(l.why[0], "fault");
	s2_tlbi_ipa(&t, 1, s2_ipa(IPA_P), -2);
	assert_int_equal(check(&t, &f, 1, &l), 0);

	/* RW -> RO: less permission now, stale. RO -> RW is not. */
	wr(&f.m, PTE_P, page);
	fill(&t, &f, 1, IPA_P);
	wr(&f.m, PTE_P, page & ~S2_PTE_S2AP_W);
	assert_int_equal(check(&t, &f, 1, &l), 1);
	assert_string_equal(l.why[0], "more permission");
	s2_tlbi_all(&t);
	fill(&t, &f, 1, IPA_P);
	wr(&f.m, PTE_P, page);
	assert_int_equal(check(&t, &f, 1, &l), 0);

	/* Executable -> XN: stale. */
	wr(&f.m, PTE_P, page | (2ull << 53));
	assert_int_equal(check(&t, &f, 1, &l), 1);
	assert_string_equal(l.why[0], "execute permission");
	/* With FEAT_XNX, 00 -> 11 forbids EL0 exec only: still stale. */
	f.c.xnx = true;
	wr(&f.m, PTE_P, page | (3ull << 53));
	assert_int_equal(check(&t, &f, 1, &l), 1);
	f.c.xnx = false;

	/* Another memory type. */
	wr(&f.m, PTE_P, (page & ~S2_PTE_MEMATTR) | (5ull << 2));
	assert_int_equal(check(&t, &f, 1, &l), 1);
	assert_string_equal(l.why[0], "memory type");

	/* AF cleared (aging without TLBI) alone is not stale; nothing is written by the check
	 * even with HA on and a writer given. */
	f.c.ha = true;
	wr(&f.m, PTE_P, page & ~S2_PTE_AF);
	f.m.cas_calls = 0;
	assert_int_equal(check(&t, &f, 1, &l), 0);
	assert_int_equal(f.m.cas_calls, 0);
	assert_int_equal(rd(&f.m, PTE_P), page & ~S2_PTE_AF);
	f.c.ha = false;
	assert_int_equal(check(&t, &f, 1, &l), 0);
	fm_free(&f.m);
}

static void test_tlb_wrong_level_hint(void **state)
{
	struct fx40 f;
	struct s2_tlb_entry st[8];
	struct s2_tlb_model t;
	struct stale_log l;
	const uint64_t l3b = 0x80006000ull;
	unsigned int i;

	(void)state;
	tlb_fixture(&f);
	fm_add(&f.m, l3b, 0x1000);
	s2_tlb_init(&t, st, 8);
	/* The 2M block at IPA 0x1000000 is cached (level 2). */
	fill(&t, &f, 1, 0x1000000);
	/* Split it into 512 pages of the same output, without TLBI. */
	for (i = 0; i < 512; i++)
		wr(&f.m, l3b + i * 8, (0x40000000ull + i * 0x1000ull) | ATTR_RW_WB | PAGE);
	wr(&f.m, L2T + 8 * 8, l3b | TABLE);
	assert_int_equal(check(&t, &f, 1, &l), 1);
	assert_string_equal(l.why[0], "block size");
	/* TLBI with a level-3 hint: the level-2 entry survives, still stale. */
	s2_tlbi_ipa(&t, 1, s2_ipa(0x1000000), 3);
	assert_non_null(s2_tlb_lookup(&t, 1, s2_ipa(0x1000000)));
	/* A new 4K translation fills beside it; the stale block stays visible. */
	fill(&t, &f, 1, 0x1001000);
	assert_int_equal(s2_tlb_lookup(&t, 1, s2_ipa(0x1001000))->block_size, 0x1000);
	assert_int_equal(check(&t, &f, 1, &l), 1);
	/* Hint 1: still there. Hint 2: gone. */
	s2_tlbi_ipa(&t, 1, s2_ipa(0x1000000), 1);
	assert_int_equal(check(&t, &f, 1, &l), 1);
	s2_tlbi_ipa(&t, 1, s2_ipa(0x1000000), 2);
	assert_int_equal(check(&t, &f, 1, &l), 0);
	assert_non_null(s2_tlb_lookup(&t, 1, s2_ipa(0x1001000)));
	fm_free(&f.m);
}

static void test_tlbi_kinds(void **state)
{
	struct fx40 f;
	struct s2_tlb_entry st[16];
	struct s2_tlb_model t;

	(void)state;
	tlb_fixture(&f);
	/* Pages at IPA 0x200000 + n * 0x1000, n = 0..3 (L3 entries 0..3). */
	wr(&f.m, L3T + 0 * 8, 0x50000000ull | ATTR_RW_WB | PAGE);
	wr(&f.m, L3T + 1 * 8, 0x50001000ull | ATTR_RW_WB | PAGE);
	wr(&f.m, L3T + 2 * 8, 0x50002000ull | ATTR_RW_WB | PAGE);
	s2_tlb_init(&t, st, 16);

	/* By IPA: only the covering entry of that VMID. */
	fill(&t, &f, 1, 0x200000);
	fill(&t, &f, 1, 0x201000);
	fill(&t, &f, 2, 0x200000);
	s2_tlbi_ipa(&t, 1, s2_ipa(0x200fff), -2);
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(0x200000)));
	assert_non_null(s2_tlb_lookup(&t, 1, s2_ipa(0x201000)));
	assert_non_null(s2_tlb_lookup(&t, 2, s2_ipa(0x200000)));

	/* Range [0x201800, 0x203800): overlaps the pages at 0x201000, 0x202000, 0x203000. */
	fill(&t, &f, 1, 0x200000);
	fill(&t, &f, 1, 0x202000);
	fill(&t, &f, 1, 0x203000);
	fill(&t, &f, 1, 0x1000000); /* the 2M block */
	s2_tlbi_range(&t, 1, s2_ipa(0x201800), 0x2000);
	assert_non_null(s2_tlb_lookup(&t, 1, s2_ipa(0x200000)));
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(0x201000)));
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(0x202000)));
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(0x203000)));
	assert_non_null(s2_tlb_lookup(&t, 1, s2_ipa(0x1000000)));
	assert_non_null(s2_tlb_lookup(&t, 2, s2_ipa(0x200000)));
	/* A one-byte range on the last byte of a page drops it. */
	fill(&t, &f, 1, 0x202000);
	s2_tlbi_range(&t, 1, s2_ipa(0x202fff), 1);
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(0x202000)));
	/* A range whose last byte is a page's first byte drops it. */
	fill(&t, &f, 1, 0x202000);
	s2_tlbi_range(&t, 1, s2_ipa(0x201000), 0x1001);
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(0x202000)));
	/* A range ending inside the block drops the whole block. */
	s2_tlbi_range(&t, 1, s2_ipa(0xfff000), 0x2000);
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(0x1100000)));

	/* By VMID. */
	fill(&t, &f, 1, 0x1000000);
	s2_tlbi_vmid(&t, 1);
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(0x1000000)));
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(0x200000)));
	assert_non_null(s2_tlb_lookup(&t, 2, s2_ipa(0x200000)));

	/* All. */
	fill(&t, &f, 1, 0x1000000);
	s2_tlbi_all(&t);
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(0x1000000)));
	assert_null(s2_tlb_lookup(&t, 2, s2_ipa(0x200000)));
	fm_free(&f.m);
}

static int null_read64(void *ctx, s2_pa_t pa, uint64_t *val)
{
	(void)ctx;
	(void)pa;
	*val = 0;
	return 0;
}

/* Every public walk/TLB-model function refuses NULL pointers (or ignores them when void). */
static void test_null_args(void **state)
{
	struct s2_config_req req = { .ipa_bits = 40, .granule = S2_GRANULE_4K };
	struct s2_access rd = { .type = S2_ACCESS_READ };
	struct s2_walk_mem mem = { .read64 = null_read64 };
	struct s2_walk_mem nomem = { .read64 = NULL };
	struct s2_walk_result res = { .fault = S2_FAULT_NONE, .block_size = 4096 };
	struct s2_tlb_entry storage[4];
	struct s2_tlb_model tlb;
	struct s2_caps caps;
	struct s2_config cfg;
	s2_pa_t root = s2_pa(0x40000000);

	(void)state;
	assert_int_equal(s2_caps_max(40, &caps), 0);
	assert_int_equal(s2_config_init(&cfg, &caps, &req), 0);
	assert_int_equal(s2_walk(NULL, root, &mem, s2_ipa(0), rd, &res), S2_EINVAL);
	assert_int_equal(s2_walk(&cfg, root, NULL, s2_ipa(0), rd, &res), S2_EINVAL);
	assert_int_equal(s2_walk(&cfg, root, &nomem, s2_ipa(0), rd, &res), S2_EINVAL);
	assert_int_equal(s2_walk(&cfg, root, &mem, s2_ipa(0), rd, NULL), S2_EINVAL);
	s2_tlb_init(NULL, storage, 4);
	s2_tlb_init(&tlb, NULL, 4);
	assert_int_equal(tlb.capacity, 0);
	s2_tlb_init(&tlb, storage, 4);
	s2_tlb_fill(NULL, 1, s2_ipa(0), &res);
	s2_tlb_fill(&tlb, 1, s2_ipa(0), NULL);
	assert_null(s2_tlb_lookup(&tlb, 1, s2_ipa(0)));
	assert_null(s2_tlb_lookup(NULL, 1, s2_ipa(0)));
	s2_tlbi_ipa(NULL, 1, s2_ipa(0), -2);
	s2_tlbi_range(NULL, 1, s2_ipa(0), 4096);
	s2_tlbi_vmid(NULL, 1);
	s2_tlbi_all(NULL);
	assert_int_equal(s2_tlb_check(NULL, 1, &cfg, root, &mem, NULL, NULL), S2_EINVAL);
	assert_int_equal(s2_tlb_check(&tlb, 1, NULL, root, &mem, NULL, NULL), S2_EINVAL);
	assert_int_equal(s2_tlb_check(&tlb, 1, &cfg, root, NULL, NULL, NULL), S2_EINVAL);
	assert_int_equal(s2_tlb_check(&tlb, 1, &cfg, root, &nomem, NULL, NULL), S2_EINVAL);
	/* A NULL callback is allowed: the stale entries are only counted. */
	s2_tlb_fill(&tlb, 1, s2_ipa(0), &res);
	assert_non_null(s2_tlb_lookup(&tlb, 1, s2_ipa(0)));
	assert_true(s2_tlb_check(&tlb, 1, &cfg, root, &mem, NULL, NULL) >= 0);
}

/* When the model is full it replaces its entries round-robin: two refills in a row evict two
 * different entries (the oldest first), never the entry the last refill wrote. */
static void test_tlb_refill_round_robin(void **state)
{
	struct s2_tlb_entry storage[2];
	struct s2_tlb_model tlb;
	struct s2_walk_result r = {
		.fault = S2_FAULT_NONE, .level = 3, .block_size = 4096, .s2ap = 3, .af = true
	};
	const uint64_t ipa[4] = { 0x1000, 0x2000, 0x3000, 0x4000 };

	(void)state;
	s2_tlb_init(&tlb, storage, 2);
	for (unsigned int i = 0; i < 4; i++) {
		r.pa = s2_pa(0x80000000 + ipa[i]);
		s2_tlb_fill(&tlb, 1, s2_ipa(ipa[i]), &r);
	}
	assert_null(s2_tlb_lookup(&tlb, 1, s2_ipa(ipa[0])));
	assert_null(s2_tlb_lookup(&tlb, 1, s2_ipa(ipa[1])));
	assert_non_null(s2_tlb_lookup(&tlb, 1, s2_ipa(ipa[2])));
	assert_non_null(s2_tlb_lookup(&tlb, 1, s2_ipa(ipa[3])));
	assert_int_equal(s2_pa_val(s2_tlb_lookup(&tlb, 1, s2_ipa(ipa[3]))->pa), 0x80004000);
	/* A refill of a translation already held replaces its own entry. */
	s2_tlb_fill(&tlb, 1, s2_ipa(ipa[3]), &r);
	assert_non_null(s2_tlb_lookup(&tlb, 1, s2_ipa(ipa[2])));
}

/* ---- the geometry's lower bounds (seed-7 mutation survivors) -------------------------------- */

/*
 * The smallest IPA size a start level allows: the initial level must resolve at least one bit
 * (AArch64.S2InconsistentSL). 4K from level 3 resolves IPA[ipa_bits-1:12], so 13 bits is the
 * smallest: a 2-entry root (one 4K table) whose entry 1 maps IPA 0x1000..0x1fff. 12 bits
 * resolves nothing there: translation fault, level 1.
 */
static void test_smallest_ipa_for_start_level(void **state)
{
	struct fmem m = { 0 };
	struct s2_walk_mem w = mem_rw(&m);
	struct s2_config c = mkcfg(S2_GRANULE_4K, 13, 40, 3, 1, false, false);
	const uint64_t root = 0x40000000ull;
	struct s2_walk_result r;

	(void)state;
	fm_add(&m, root, 0x1000);
	wr(&m, root + 0, 0x5000ull | ATTR_RW_WB | PAGE);
	wr(&m, root + 8, 0x7000ull | ATTR_RW_WB | PAGE);
	r = walk(&c, root, &w, 0x1234, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0x7234ull);
	r = walk(&c, root, &w, 0x0ff8, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0x5ff8ull);
	/* 2^13 is outside the IPA space: translation fault, level 0 (not an SL fault). */
	r = walk(&c, root, &w, 0x2000, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 0);
	/* The same at 16K from level 2 (shift 25): 26 bits, two entries. */
	{
		struct s2_config d = mkcfg(S2_GRANULE_16K, 26, 40, 2, 1, false, false);
		const uint64_t r16 = 0x40004000ull, l3 = 0x40008000ull;

		fm_add(&m, r16, 0x4000);
		fm_add(&m, l3, 0x4000);
		wr(&m, r16 + 8, l3 | TABLE);
		wr(&m, l3 + 8, 0x88000000ull | ATTR_RW_WB | PAGE);
		r = walk(&d, r16, &w, 0x2004321, RD);
		expect_fault(&r, S2_FAULT_NONE, 3);
		assert_int_equal(s2_pa_val(r.pa), 0x88000321ull);
		/* 25 bits from level 2 resolve nothing there. */
		d = mkcfg(S2_GRANULE_16K, 25, 40, 2, 1, false, false);
		r = walk(&d, r16, &w, 0x4321, RD);
		expect_fault(&r, S2_FAULT_TRANSLATION, 1);
	}
	c = mkcfg(S2_GRANULE_4K, 12, 40, 3, 1, false, false);
	r = walk(&c, root, &w, 0x234, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 1);
	fm_free(&m);
}

/*
 * The smallest output size the config accepts is 1 bit (0 is refused): only output address 0
 * is then in range. A one-level walk (4K from level 3, 13-bit IPA) with its root at PA 0.
 */
static void test_smallest_pa_bits(void **state)
{
	struct fmem m = { 0 };
	struct s2_walk_mem w = mem_rw(&m);
	struct s2_config c = mkcfg(S2_GRANULE_4K, 13, 1, 3, 1, false, false);
	struct s2_walk_result r;

	(void)state;
	fm_add(&m, 0, 0x1000);
	wr(&m, 0, 0x0ull | ATTR_RW_WB | PAGE);
	wr(&m, 8, 0x1000ull | ATTR_RW_WB | PAGE);
	r = walk(&c, 0, &w, 0x123, RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	assert_int_equal(s2_pa_val(r.pa), 0x123ull);
	r = walk(&c, 0, &w, 0x1123, RD);
	expect_fault(&r, S2_FAULT_ADDRESS_SIZE, 3);
	/* A root at 0x1000 is beyond a 1-bit output size: address size fault at level 0. */
	r = walk(&c, 0x1000, &w, 0x123, RD);
	expect_fault(&r, S2_FAULT_ADDRESS_SIZE, 0);
	c.pa_bits = 0;
	assert_int_equal(s2_walk(&c, s2_pa(0), &w, s2_ipa(0x123), RD, &r), S2_EINVAL);
	fm_free(&m);
}

/*
 * AArch64.PhysicalAddressSize: without DS (4K/16K) or FEAT_LPA (64K) the output size is at
 * most 48 bits, whatever pa_bits says above 48, 49 included: OA bit 48 (which the 64K layout
 * always decodes, desc[12]) and a VTTBR base at 2^48 are address size faults. With FEAT_LPA
 * the same page is in range.
 */
static void test_oa_clamped_to_48_without_lpa(void **state)
{
	struct fmem m = { 0 };
	struct s2_walk_mem w = mem_rw(&m);
	/* 64K, 42-bit IPA from level 2: IPA[41:29] = 13 bits, one 8192-entry table. */
	const uint64_t root = 0x40000000ull, l3 = 0x40080000ull;
	struct s2_walk_result r;
	unsigned int pa_bits;

	(void)state;
	fm_add(&m, root, 0x10000);
	fm_add(&m, l3, 0x10000);
	wr(&m, root, l3 | TABLE);
	/* IPA 0x10000: L3 index 1; OA 2^48 + 0x50000 (desc[15:12] = OA[51:48] = 0b0001). */
	wr(&m, l3 + 8, 0x50000ull | 0x1000ull | ATTR_RW_WB | PAGE);
	for (pa_bits = 49; pa_bits <= 52; pa_bits++) {
		struct s2_config c = mkcfg(S2_GRANULE_64K, 42, pa_bits, 2, 1, false, false);

		r = walk(&c, root, &w, 0x10000, RD);
		expect_fault(&r, S2_FAULT_ADDRESS_SIZE, 3);
		r = walk(&c, 0x1000000000000ull, &w, 0x10000, RD);
		expect_fault(&r, S2_FAULT_ADDRESS_SIZE, 0);
		c.lpa = true;
		r = walk(&c, root, &w, 0x10000, RD);
		expect_fault(&r, S2_FAULT_NONE, 3);
		assert_int_equal(s2_pa_val(r.pa), 0x1000000050000ull);
	}
	/* 4K without DS, pa_bits 49: a root at 2^48 is out of range too. */
	{
		struct s2_config c = mkcfg(S2_GRANULE_4K, 40, 49, 1, 2, false, false);

		m.reads = 0;
		r = walk(&c, 0x1000000000000ull, &w, 0x1000, RD);
		expect_fault(&r, S2_FAULT_ADDRESS_SIZE, 0);
		assert_int_equal(m.reads, 0);
	}
	fm_free(&m);
}

/* ---- TLB model: ranges and the check's re-walk (seed-7 mutation survivors) ------------------ */

/* A one-byte range drops only the entry holding that byte: not the entries above it (the
 * end of [ipa, ipa + 1) does not wrap). */
static void test_tlbi_range_one_byte(void **state)
{
	struct fx40 f;
	struct s2_tlb_entry st[8];
	struct s2_tlb_model t;

	(void)state;
	tlb_fixture(&f);
	wr(&f.m, L3T + 2 * 8, 0x50002000ull | ATTR_RW_WB | PAGE);
	s2_tlb_init(&t, st, 8);
	fill(&t, &f, 1, 0x202000);
	fill(&t, &f, 1, IPA_P); /* 0x203000 */
	fill(&t, &f, 1, 0x1000000); /* the 2M block */
	s2_tlbi_range(&t, 1, s2_ipa(0x202000), 1);
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(0x202000)));
	assert_non_null(s2_tlb_lookup(&t, 1, s2_ipa(IPA_P)));
	assert_non_null(s2_tlb_lookup(&t, 1, s2_ipa(0x1000000)));
	/* The last byte below a page leaves it alone. */
	s2_tlbi_range(&t, 1, s2_ipa(IPA_P - 1), 1);
	assert_non_null(s2_tlb_lookup(&t, 1, s2_ipa(IPA_P)));
	assert_non_null(s2_tlb_lookup(&t, 1, s2_ipa(0x1000000)));
	/* A range whose end wraps past 2^64 is taken up to the top: everything above goes. */
	s2_tlbi_range(&t, 1, s2_ipa(0x204000), UINT64_MAX);
	assert_non_null(s2_tlb_lookup(&t, 1, s2_ipa(IPA_P)));
	assert_null(s2_tlb_lookup(&t, 1, s2_ipa(0x1000000)));
	fm_free(&f.m);
}

struct access_log {
	unsigned int n;
	struct s2_access entry[4];
	struct s2_access now[4];
	bool perm_fault[4];
};

static void log_access(void *arg, const struct s2_tlb_stale *s)
{
	struct access_log *l = arg;

	if (l->n < 4) {
		l->entry[l->n] = s->entry.access;
		l->now[l->n] = s->now.access;
		l->perm_fault[l->n] = s->entry.perm_fault;
	}
	l->n++;
}

/*
 * s2_tlb_check() re-walks a successful entry as a data read at EL1 (not a stage-1 table walk)
 * and an entry filled from a permission fault with its own access; the report's `now` says
 * which access that was.
 */
static void test_tlb_check_rewalk_access(void **state)
{
	struct fx40 f;
	struct s2_tlb_entry st[8];
	struct s2_tlb_model t;
	struct access_log l;
	struct s2_walk_result r;
	const uint64_t page = 0x123456000ull | ATTR_RW_WB | PAGE;

	(void)state;
	tlb_fixture(&f);
	s2_tlb_init(&t, st, 8);
	/* Filled by a stage-1 table walk's read; the tables then change under it. */
	r = walk(&f.c, R40, &f.w, IPA_P, PTW_RD);
	expect_fault(&r, S2_FAULT_NONE, 3);
	s2_tlb_fill(&t, 1, s2_ipa(IPA_P), &r);
	wr(&f.m, PTE_P, 0x123457000ull | ATTR_RW_WB | PAGE);
	memset(&l, 0, sizeof(l));
	assert_int_equal(s2_tlb_check(&t, 1, &f.c, s2_pa(R40), &f.w, log_access, &l), 1);
	assert_int_equal(l.n, 1);
	assert_false(l.perm_fault[0]);
	assert_int_equal(l.now[0].type, S2_ACCESS_READ);
	assert_false(l.now[0].el0);
	assert_false(l.now[0].s1ptw);
	s2_tlbi_all(&t);

	/* A stage-1 table walk's write faulted on a read-only page, then write was granted. */
	wr(&f.m, PTE_P, page & ~S2_PTE_S2AP_W);
	r = walk(&f.c, R40, &f.w, IPA_P, PTW_WR);
	expect_fault(&r, S2_FAULT_PERMISSION, 3);
	s2_tlb_fill(&t, 1, s2_ipa(IPA_P), &r);
	wr(&f.m, PTE_P, page);
	memset(&l, 0, sizeof(l));
	assert_int_equal(s2_tlb_check(&t, 1, &f.c, s2_pa(R40), &f.w, log_access, &l), 1);
	assert_true(l.perm_fault[0]);
	assert_int_equal(l.now[0].type, S2_ACCESS_WRITE);
	assert_true(l.now[0].s1ptw);
	assert_true(l.entry[0].s1ptw);
	fm_free(&f.m);
}

/* ---- the config's field bounds (seed-8 mutation survivors) ---------------------------------- */

/*
 * Values no VTCR_EL2 can express are refused (S2_EINVAL): a start level outside -1..3 even when
 * `levels` agrees with it, an IPA or output size of 0 or above 52 bits. The smallest IPA size,
 * 1 bit, is accepted: it is an inconsistent start level for every granule and level
 * (translation fault, level 1), as 4K from level 3 with 12 bits is.
 */
static void test_config_field_bounds(void **state)
{
	struct fmem m = { 0 };
	struct s2_walk_mem w = mem_rw(&m);
	const uint64_t root = 0x40000000ull;
	struct s2_walk_result r;
	struct s2_config c;

	(void)state;
	fm_add(&m, root, 0x1000);
	/* Start levels 4 and -2, with levels = 4 - start_level. */
	c = mkcfg(S2_GRANULE_4K, 13, 40, 3, 1, false, false);
	c.start_level = 4;
	c.levels = 0;
	assert_int_equal(s2_walk(&c, s2_pa(root), &w, s2_ipa(0), RD, &r), S2_EINVAL);
	c = mkcfg(S2_GRANULE_4K, 52, 52, -1, 1, true, false);
	c.start_level = -2;
	c.levels = 6;
	assert_int_equal(s2_walk(&c, s2_pa(root), &w, s2_ipa(0), RD, &r), S2_EINVAL);
	/* IPA size: 1 is an SL fault, 0 and 53 are refused. */
	c = mkcfg(S2_GRANULE_4K, 1, 40, 3, 1, false, false);
	r = walk(&c, root, &w, 0, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, 1);
	c.ipa_bits = 0;
	assert_int_equal(s2_walk(&c, s2_pa(root), &w, s2_ipa(0), RD, &r), S2_EINVAL);
	c = mkcfg(S2_GRANULE_4K, 53, 52, -1, 2, true, false);
	assert_int_equal(s2_walk(&c, s2_pa(root), &w, s2_ipa(0), RD, &r), S2_EINVAL);
	/* Output size 53 is refused where 52 walks (4K with DS from level -1, one 16-entry root). */
	c = mkcfg(S2_GRANULE_4K, 52, 52, -1, 1, true, false);
	r = walk(&c, root, &w, 0, RD);
	expect_fault(&r, S2_FAULT_TRANSLATION, -1);
	c.pa_bits = 53;
	assert_int_equal(s2_walk(&c, s2_pa(root), &w, s2_ipa(0), RD, &r), S2_EINVAL);
	fm_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_4k_page_second_concat_table),
		cmocka_unit_test(test_4k_blocks),
		cmocka_unit_test(test_4k_48bit_l0),
		cmocka_unit_test(test_4k_lpa2_52bit_concat16),
		cmocka_unit_test(test_4k_lpa2_level_minus1),
		cmocka_unit_test(test_16k_l2_start_concat16),
		cmocka_unit_test(test_16k_l1_block),
		cmocka_unit_test(test_64k_l2_block_and_concat),
		cmocka_unit_test(test_64k_lpa_52bit),
		cmocka_unit_test(test_more_geometries),
		cmocka_unit_test(test_translation_and_reserved),
		cmocka_unit_test(test_address_size),
		cmocka_unit_test(test_external_abort),
		cmocka_unit_test(test_access_flag),
		cmocka_unit_test(test_permissions_rw),
		cmocka_unit_test(test_permissions_xn),
		cmocka_unit_test(test_dbm),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_tlb_fill_lookup),
		cmocka_unit_test(test_tlb_refill_round_robin),
		cmocka_unit_test(test_tlb_stale_kinds),
		cmocka_unit_test(test_tlb_perm_fault_entries),
		cmocka_unit_test(test_tlb_wrong_level_hint),
		cmocka_unit_test(test_tlbi_kinds),
		cmocka_unit_test(test_null_args),
		cmocka_unit_test(test_smallest_ipa_for_start_level),
		cmocka_unit_test(test_smallest_pa_bits),
		cmocka_unit_test(test_oa_clamped_to_48_without_lpa),
		cmocka_unit_test(test_tlbi_range_one_byte),
		cmocka_unit_test(test_tlb_check_rewalk_access),
		cmocka_unit_test(test_config_field_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
