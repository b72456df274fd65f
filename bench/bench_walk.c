// SPDX-License-Identifier: MIT
/*
 * bench_walk.c - checking one IPA of a benchmark's result with the reference walker
 * (bench_walk.h), shared by bench_pgtable.c (s2mmu's tables) and bench_kvm.c (KVM's).
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_walk.h"

#include <inttypes.h>

#include "bench_common.h"

const struct bench_expect bench_exp_rw_page = { true, S2_S2AP_RW, true, 3, PAGE_4K };
const struct bench_expect bench_exp_ro_page = { true, S2_S2AP_RO, true, 3, PAGE_4K };
const struct bench_expect bench_exp_old_page = { true, S2_S2AP_RW, false, 3, PAGE_4K };
const struct bench_expect bench_exp_old_ro_page = { true, S2_S2AP_RO, false, 3, PAGE_4K };
const struct bench_expect bench_exp_rw_block = { true, S2_S2AP_RW, true, 2, BLOCK_2M };
const struct bench_expect bench_exp_unmapped = { false, 0, false, 0, 0 };

int bench_walk_check(const struct s2_config *cfg, s2_pa_t root, const struct s2_walk_mem *mem,
		     const char *op, uint64_t ipa, uint64_t pa, const struct bench_expect *e)
{
	struct s2_access rd = { .type = S2_ACCESS_READ };
	struct s2_access wr = { .type = S2_ACCESS_WRITE };
	struct s2_walk_result res;
	uint8_t wb;
	int ret;

	ret = s2_walk(cfg, root, mem, s2_ipa(ipa), rd, &res);
	if (ret) {
		FAIL("%s: s2_walk(%#" PRIx64 "): %d", op, ipa, ret);
		return -1;
	}
	if (!e->mapped) {
		if (res.fault != S2_FAULT_TRANSLATION) {
			FAIL("%s: IPA %#" PRIx64 " should be unmapped, walk: %s", op, ipa,
			     s2_fault_name(res.fault));
			return -1;
		}
		return 0;
	}
	if (!e->af) {
		/* HA off: an access to an entry with AF clear is an access-flag fault at the
		 * leaf's level (Arm ARM D8.4.2). */
		if (res.fault != S2_FAULT_ACCESS_FLAG || res.level != e->level ||
		    ((res.pte >> 6) & 3) != e->s2ap) {
			FAIL("%s: IPA %#" PRIx64 " should be old (AF clear) at L%d with S2AP %u, "
			     "walk: %s L%d pte %#" PRIx64,
			     op, ipa, e->level, e->s2ap, s2_fault_name(res.fault), res.level,
			     (uint64_t)res.pte);
			return -1;
		}
		return 0;
	}
	s2_memattr_encode(S2_MT_NORMAL_WB, true, &wb);
	if (res.fault != S2_FAULT_NONE || s2_pa_val(res.pa) != pa || res.level != e->level ||
	    res.block_size != e->block || res.s2ap != e->s2ap || !res.af || res.memattr != wb) {
		FAIL("%s: IPA %#" PRIx64 ": walk %s pa %#" PRIx64 " L%d size %#" PRIx64
		     " s2ap %u af %d memattr %#x; expected pa %#" PRIx64 " L%d size %#" PRIx64
		     " s2ap %u memattr %#x",
		     op, ipa, s2_fault_name(res.fault), s2_pa_val(res.pa), res.level,
		     res.block_size, res.s2ap, res.af, res.memattr, pa, e->level, e->block, e->s2ap,
		     wb);
		return -1;
	}
	ret = s2_walk(cfg, root, mem, s2_ipa(ipa), wr, &res);
	if (ret || (e->s2ap & S2_S2AP_WO ? res.fault != S2_FAULT_NONE :
					   res.fault != S2_FAULT_PERMISSION)) {
		FAIL("%s: IPA %#" PRIx64 ": write access gives %s, s2ap %u", op, ipa,
		     s2_fault_name(res.fault), e->s2ap);
		return -1;
	}
	return 0;
}
