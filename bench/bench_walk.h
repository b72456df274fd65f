/* SPDX-License-Identifier: MIT */
/*
 * bench_walk.h - the check every benchmark result goes through, whichever engine built the
 * tables (s2mmu's, or Linux KVM's in bench_kvm.c): translate one IPA with the project's
 * reference walker (s2_walk) and compare with what the operation must have left there.
 */
#ifndef S2MMU_BENCH_WALK_H
#define S2MMU_BENCH_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "s2mmu/walk.h"

/* What an IPA must translate to. */
struct bench_expect {
	bool mapped; /* false: a translation fault */
	unsigned int s2ap; /* S2_S2AP_* */
	bool af; /* false: an access-flag fault at @level (HA off) */
	int level; /* of the leaf */
	uint64_t block; /* leaf size */
};

extern const struct bench_expect bench_exp_rw_page, bench_exp_ro_page, bench_exp_old_page,
	bench_exp_old_ro_page, bench_exp_rw_block, bench_exp_unmapped;

/*
 * Walk @ipa in the tables at @root (config @cfg, memory @mem) for a read and, when mapped and
 * young, a write; check the outcome against @e: fault kind, output address @pa, level, leaf
 * size, S2AP, AF, MemAttr Normal WB in the FWB encoding, and that a write faults exactly when
 * S2AP lacks W. Return: 0, or -1 after FAIL() naming @op.
 */
int bench_walk_check(const struct s2_config *cfg, s2_pa_t root, const struct s2_walk_mem *mem,
		     const char *op, uint64_t ipa, uint64_t pa, const struct bench_expect *e);

#endif /* S2MMU_BENCH_WALK_H */
