// SPDX-License-Identifier: MIT
/*
 * test_memtype.c - every row of the ARCH-NOTES §1 memory-type table, FWB on and off, exec
 * requested or not, DIC set or not (Normal memory is then executable on any fault), the
 * keep-host-NC policy on and off, with the MemAttr values of the Arm ARM (stage-2 MemAttr, FWB=0:
 * Device-nGnRnE 0b0000, Device-nGnRE 0b0001, Normal-NC 0b0101, Normal WB 0b1111; FWB=1:
 * 0b0000, 0b0001, 0b0101 and forced Write-Back 0b0110).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "s2mmu/memtype.h"
#include "s2mmu/pgtable.h"
#include "names.h"

enum expect_type { E_WB, E_NC, E_NGNRE, E_NGNRNE };

/* Golden MemAttr[3:0] values (Arm ARM D8.6.5 / FEAT_S2FWB), indexed [fwb][type]. */
static const uint8_t golden_memattr[2][4] = {
	[0] = { [E_WB] = 0xf, [E_NC] = 0x5, [E_NGNRE] = 0x1, [E_NGNRNE] = 0x0 },
	[1] = { [E_WB] = 0x6, [E_NC] = 0x5, [E_NGNRE] = 0x1, [E_NGNRNE] = 0x0 },
};

static const enum s2_memtype expect_mt[4] = {
	[E_WB] = S2_MT_NORMAL_WB,
	[E_NC] = S2_MT_NORMAL_NC,
	[E_NGNRE] = S2_MT_DEVICE_nGnRE,
	[E_NGNRNE] = S2_MT_DEVICE_nGnRnE,
};

static const uint64_t expect_prot[4] = {
	[E_WB] = 0,
	[E_NC] = S2_PROT_NORMAL_NC,
	[E_NGNRE] = S2_PROT_DEVICE,
	[E_NGNRNE] = S2_PROT_DEVICE | S2_PROT_DEVICE_NGNRNE,
};

struct row {
	const char *what;
	enum s2_backing backing;
	enum s2_hostmem host;
	bool aau; /* allow-any-uncached */
	bool mte; /* VM has MTE */
	bool tags; /* backing holds tags */
	int err; /* expected error for a data (non-exec) request */
	enum expect_type type;
	bool exec_ok;
	bool tags_cmo;
	bool keep; /* the VM keeps the host's Normal-NC for RAM (S2_VM_KEEP_HOST_NC) */
};

static const struct row rows[] = {
	{ "RAM Normal", S2_BACKING_RAM, S2_HOSTMEM_NORMAL, false, false, false, 0, E_WB, true,
	  false, false },
	{ "RAM Normal, tag-capable, no MTE", S2_BACKING_RAM, S2_HOSTMEM_NORMAL, false, false, true,
	  0, E_WB, true, false, false },
	{ "RAM Tagged, MTE VM", S2_BACKING_RAM, S2_HOSTMEM_NORMAL_TAGGED, false, true, true, 0,
	  E_WB, true, true, false },
	{ "RAM Tagged, no MTE VM", S2_BACKING_RAM, S2_HOSTMEM_NORMAL_TAGGED, false, false, true, 0,
	  E_WB, true, false, false },
	/* RAM behind a write-combine host mapping: Normal, as KVM (MT_NORMAL_NC -> Normal) */
	{ "RAM Normal-NC", S2_BACKING_RAM, S2_HOSTMEM_NORMAL_NC, false, false, false, 0, E_WB, true,
	  false, false },
	/* ... unless the VM opts into keeping the host's type */
	{ "RAM Normal-NC, keep host NC", S2_BACKING_RAM, S2_HOSTMEM_NORMAL_NC, false, false, false,
	  0, E_NC, false, false, true },
	{ "RAM Normal, keep host NC", S2_BACKING_RAM, S2_HOSTMEM_NORMAL, false, false, false, 0,
	  E_WB, true, false, true },
	{ "MMIO NC, keep host NC", S2_BACKING_MMIO, S2_HOSTMEM_NORMAL_NC, false, false, false, 0,
	  E_NGNRE, false, false, true },
	{ "MMIO NC + AAU, keep host NC", S2_BACKING_MMIO, S2_HOSTMEM_NORMAL_NC, true, false, false,
	  0, E_NC, false, false, true },
	{ "RAM Device-nGnRE", S2_BACKING_RAM, S2_HOSTMEM_DEVICE_nGnRE, false, false, false, 0,
	  E_NGNRE, false, false, false },
	{ "MMIO Device-nGnRE", S2_BACKING_MMIO, S2_HOSTMEM_DEVICE_nGnRE, false, false, false, 0,
	  E_NGNRE, false, false, false },
	{ "RAM Device-nGnRnE", S2_BACKING_RAM, S2_HOSTMEM_DEVICE_nGnRnE, false, false, false, 0,
	  E_NGNRNE, false, false, false },
	{ "MMIO Device-nGnRnE", S2_BACKING_MMIO, S2_HOSTMEM_DEVICE_nGnRnE, false, false, false, 0,
	  E_NGNRNE, false, false, false },
	{ "MMIO Normal + AAU", S2_BACKING_MMIO, S2_HOSTMEM_NORMAL, true, false, false, 0, E_NC,
	  false, false, false },
	{ "MMIO Tagged + AAU", S2_BACKING_MMIO, S2_HOSTMEM_NORMAL_TAGGED, true, false, false, 0,
	  E_NC, false, false, false },
	{ "MMIO NC + AAU", S2_BACKING_MMIO, S2_HOSTMEM_NORMAL_NC, true, false, false, 0, E_NC,
	  false, false, false },
	{ "MMIO nGnRE + AAU", S2_BACKING_MMIO, S2_HOSTMEM_DEVICE_nGnRE, true, false, false, 0, E_NC,
	  false, false, false },
	{ "MMIO nGnRnE + AAU", S2_BACKING_MMIO, S2_HOSTMEM_DEVICE_nGnRnE, true, false, false, 0,
	  E_NC, false, false, false },
	{ "MMIO Normal", S2_BACKING_MMIO, S2_HOSTMEM_NORMAL, false, false, false, 0, E_NGNRE, false,
	  false, false },
	{ "MMIO Tagged", S2_BACKING_MMIO, S2_HOSTMEM_NORMAL_TAGGED, false, false, false, 0, E_NGNRE,
	  false, false, false },
	{ "MMIO NC", S2_BACKING_MMIO, S2_HOSTMEM_NORMAL_NC, false, false, false, 0, E_NGNRE, false,
	  false, false },
	{ "MMIO Device in MTE VM", S2_BACKING_MMIO, S2_HOSTMEM_DEVICE_nGnRE, false, true, false, 0,
	  E_NGNRE, false, false, false },
	{ "RAM Device in MTE VM", S2_BACKING_RAM, S2_HOSTMEM_DEVICE_nGnRE, false, true, false, 0,
	  E_NGNRE, false, false, false },
	/* refusals */
	{ "RAM Device-nGnRE + AAU (Device and NC)", S2_BACKING_RAM, S2_HOSTMEM_DEVICE_nGnRE, true,
	  false, false, S2_EINVAL, E_WB, false, false, false },
	{ "RAM Device-nGnRnE + AAU (Device and NC)", S2_BACKING_RAM, S2_HOSTMEM_DEVICE_nGnRnE, true,
	  false, false, S2_EINVAL, E_WB, false, false, false },
	{ "RAM Tagged, MTE VM, backing without tags", S2_BACKING_RAM, S2_HOSTMEM_NORMAL_TAGGED,
	  false, true, false, S2_EMEMTYPE, E_WB, false, false, false },
	{ "RAM Normal (untagged mapping), MTE VM", S2_BACKING_RAM, S2_HOSTMEM_NORMAL, false, true,
	  true, S2_EMEMTYPE, E_WB, false, false, false },
	{ "RAM NC, MTE VM", S2_BACKING_RAM, S2_HOSTMEM_NORMAL_NC, false, true, true, S2_EMEMTYPE,
	  E_WB, false, false, false },
};

static void check_row(const struct row *r, bool fwb, bool exec, bool dic)
{
	struct s2_memtype_req req = {
		.backing = r->backing,
		.host_type = r->host,
		.allow_any_uncached = r->aau,
		.keep_host_nc = r->keep,
		.exec = exec,
		.fwb = fwb,
		.dic = dic,
		.vm_mte = r->mte,
		.backing_tags = r->tags,
	};
	struct s2_memtype_attrs a;
	int ret = s2_memtype_decide(&req, &a);

	print_message("%s fwb=%d exec=%d dic=%d -> %d\n", r->what, fwb, exec, dic, ret);
	if (r->err) {
		assert_int_equal(ret, r->err);
		return;
	}
	if (exec && !r->exec_ok) {
		assert_int_equal(ret, S2_EMEMTYPE);
		/* The refusal still describes the data mapping. */
		assert_int_equal(a.type, expect_mt[r->type]);
		assert_int_equal(a.memattr, golden_memattr[fwb][r->type]);
		assert_false(a.exec);
		return;
	}
	assert_int_equal(ret, 0);
	assert_int_equal(a.type, expect_mt[r->type]);
	assert_int_equal(a.memattr, golden_memattr[fwb][r->type]);
	assert_int_equal(a.exec, r->exec_ok);
	/* Exec when asked for; with DIC, Normal memory is executable on any fault. */
	assert_int_equal(a.prot,
			 expect_prot[r->type] | (exec || (dic && r->exec_ok) ? S2_PROT_X : 0));
	if (dic && !exec && r->type != E_WB)
		assert_false(a.prot & S2_PROT_X);

	uint64_t cmo = 0;
	if (r->type == E_WB && !fwb)
		cmo |= S2_CMO_DCACHE;
	if (exec && !dic)
		cmo |= S2_CMO_ICACHE;
	if (r->tags_cmo)
		cmo |= S2_CMO_TAGS;
	assert_int_equal(a.cmo, cmo);

	/* The encoding means what it says when read back through arch. */
	assert_int_equal(s2_memattr_type(a.memattr, fwb), expect_mt[r->type]);
}

static void test_table_all_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < S2_ARRAY_SIZE(rows); i++)
		for (int fwb = 0; fwb < 2; fwb++)
			for (int exec = 0; exec < 2; exec++)
				for (int dic = 0; dic < 2; dic++)
					check_row(&rows[i], fwb, exec, dic);
}

/* Every (backing, host type, flag) combination is covered by the table above. */
static void test_table_complete(void **state)
{
	(void)state;
	for (int b = 0; b < 2; b++)
		for (int h = 0; h < S2_NR_HOST_TYPES; h++)
			for (int aau = 0; aau < 2; aau++) {
				bool found = false;
				for (size_t i = 0; i < S2_ARRAY_SIZE(rows); i++)
					if ((int)rows[i].backing == b && (int)rows[i].host == h &&
					    rows[i].aau == (bool)aau && !rows[i].mte &&
					    !rows[i].keep)
						found = true;
				if (b == S2_BACKING_RAM && aau && h <= S2_HOSTMEM_NORMAL_NC) {
					/* AAU on cacheable/NC RAM: the flag has no effect. */
					for (int keep = 0; keep < 2; keep++) {
						struct s2_memtype_req req = {
							.backing = S2_BACKING_RAM,
							.host_type = h,
							.allow_any_uncached = true,
							.keep_host_nc = keep,
						};
						struct s2_memtype_attrs a;
						assert_int_equal(s2_memtype_decide(&req, &a), 0);
						assert_int_equal(a.type,
								 h == S2_HOSTMEM_NORMAL_NC && keep ?
									 S2_MT_NORMAL_NC :
									 S2_MT_NORMAL_WB);
					}
					continue;
				}
				print_message("backing %d host %d aau %d\n", b, h, aau);
				assert_true(found);
			}
}

static void test_bad_args(void **state)
{
	struct s2_memtype_req req = { 0 };
	struct s2_memtype_attrs a;
	(void)state;

	assert_int_equal(s2_memtype_decide(NULL, &a), S2_EINVAL);
	assert_int_equal(s2_memtype_decide(&req, NULL), S2_EINVAL);
	req.host_type = (enum s2_hostmem)S2_NR_HOST_TYPES;
	assert_int_equal(s2_memtype_decide(&req, &a), S2_EINVAL);
	req.host_type = S2_HOSTMEM_NORMAL;
	req.backing = (enum s2_backing)2;
	assert_int_equal(s2_memtype_decide(&req, &a), S2_EINVAL);
}

/* The contract: a refusal other than exec's leaves *out zeroed, whatever it held before. */
static void test_refusal_zeroes_out(void **state)
{
	static const struct s2_memtype_req bad[] = {
		{ .backing = (enum s2_backing)2, .host_type = S2_HOSTMEM_NORMAL },
		{ .backing = S2_BACKING_RAM, .host_type = (enum s2_hostmem)S2_NR_HOST_TYPES },
		/* Device and Normal-NC at once */
		{ .backing = S2_BACKING_RAM,
		  .host_type = S2_HOSTMEM_DEVICE_nGnRE,
		  .allow_any_uncached = true },
		/* MTE VM, RAM without tags */
		{ .backing = S2_BACKING_RAM, .host_type = S2_HOSTMEM_NORMAL, .vm_mte = true },
	};
	static const int code[] = { S2_EINVAL, S2_EINVAL, S2_EINVAL, S2_EMEMTYPE };
	struct s2_memtype_attrs a;

	(void)state;
	for (size_t i = 0; i < S2_ARRAY_SIZE(bad); i++) {
		memset(&a, 0xa5, sizeof(a));
		assert_int_equal(s2_memtype_decide(&bad[i], &a), code[i]);
		/* field by field: padding need not be zero */
		assert_int_equal(a.type, 0);
		assert_int_equal(a.memattr, 0);
		assert_int_equal(a.prot, 0);
		assert_false(a.exec);
		assert_int_equal(a.cmo, 0);
	}
}

static void test_names(void **state)
{
	enum s2_hostmem t;
	enum s2_backing b;
	(void)state;

	for (int i = 0; i < S2_NR_HOST_TYPES; i++) {
		assert_int_equal(s2_cli_hostmem_parse(s2_hostmem_name(i), &t), 0);
		assert_int_equal(t, i);
	}
	assert_string_equal(s2_hostmem_name(S2_HOSTMEM_DEVICE_nGnRnE), "device-ngnrne");
	assert_string_equal(s2_hostmem_name(S2_HOSTMEM_NORMAL_TAGGED), "tagged");
	assert_int_equal(s2_cli_hostmem_parse("device", &t), S2_EINVAL);
	assert_int_equal(s2_cli_backing_parse("mmio", &b), 0);
	assert_int_equal(b, S2_BACKING_MMIO);
	assert_int_equal(s2_cli_backing_parse("ram", &b), 0);
	assert_int_equal(b, S2_BACKING_RAM);
	assert_int_equal(s2_cli_backing_parse("rom", &b), S2_EINVAL);
}

/* Every public memtype function with NULL in each pointer position. */
static void test_null_args(void **state)
{
	struct s2_memtype_req req = { .backing = S2_BACKING_RAM, .host_type = S2_HOSTMEM_NORMAL };
	struct s2_memtype_attrs out;
	enum s2_hostmem t = S2_HOSTMEM_NORMAL_NC;
	enum s2_backing b = S2_BACKING_MMIO;

	(void)state;
	assert_int_equal(s2_memtype_decide(NULL, &out), S2_EINVAL);
	assert_int_equal(s2_memtype_decide(&req, NULL), S2_EINVAL);
	assert_int_equal(s2_cli_hostmem_parse(NULL, &t), S2_EINVAL);
	assert_int_equal(s2_cli_hostmem_parse("normal", NULL), S2_EINVAL);
	assert_int_equal(t, S2_HOSTMEM_NORMAL_NC);
	assert_int_equal(s2_cli_backing_parse(NULL, &b), S2_EINVAL);
	assert_int_equal(s2_cli_backing_parse("ram", NULL), S2_EINVAL);
	assert_int_equal(b, S2_BACKING_MMIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_all_rows), cmocka_unit_test(test_table_complete),
		cmocka_unit_test(test_bad_args),       cmocka_unit_test(test_names),
		cmocka_unit_test(test_null_args),      cmocka_unit_test(test_refusal_zeroes_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
