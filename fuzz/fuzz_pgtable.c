// SPDX-License-Identifier: MIT
/*
 * fuzz_pgtable.c - libFuzzer target for the stage-2 page-table engine.
 *
 * The first input byte picks a config of the matrix (s2m_cfgs[], tests/model/pgtable_model.c);
 * the rest drives the same operation interpreter as the property test
 * (tests/unit/test_pgtable_prop.c): every
 * operation is checked against the shadow model, the reference walker, the TLB model,
 * s2_pgtable_check() and the port's page accounting. Any violation prints what went wrong and
 * aborts, so libFuzzer saves the input (see docs/testing.md to reproduce a crash).
 */
#include "pgtable_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S2M_FUZZ_MAX_OPS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct s2m_ctx ctx;
	struct s2m_rng rng;
	bool ok;

	if (size < 2)
		return 0;
	s2m_rng_bytes(&rng, data + 1, size - 1);
	ok = s2m_init(&ctx, data[0] % S2M_NR_CFGS, &rng) && s2m_run(&ctx, S2M_FUZZ_MAX_OPS);
	s2m_teardown(&ctx);
	if (!ok || ctx.failed) {
		fprintf(stderr, "fuzz_pgtable: invariant violated: %s\n", ctx.msg);
		abort();
	}
	return 0;
}
