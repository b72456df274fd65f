// SPDX-License-Identifier: MIT
/*
 * fuzz_owner.c - libFuzzer target for the owner layer (page ownership).
 *
 * The first input byte picks a config (granule x FWB); the rest drives the same hostile-host
 * step as the unit test's adversarial random test (om_step(), tests/model/owner_model.c):
 * random transitions with random, often invalid ranges, guests and IPAs, failing hypervisor maps and table
 * allocations, host faults. After every step the model checks that a refusal changed nothing
 * and every ownership invariant (one owner per page, SHARED_OWNED iff SHARED_BORROWED, share
 * counts equal guests' mappings, the host stage-2 grants only what the host owns or borrows,
 * no meta-state in any descriptor, s2_pgtable_check() on every table); a violation prints and
 * aborts, so libFuzzer saves the input. At the end every guest is torn down and every page
 * must be back with the host (or the hypervisor).
 */
#include "owner_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OM_FUZZ_MAX_OPS 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct om_rng r = { 0 };
	struct s2_config cfg;
	struct fx f;

	if (size < 2)
		return 0;
	cfg = s2_test_config(48, (enum s2_granule)(data[0] % S2_NR_GRANULES), 40,
			     (data[0] / S2_NR_GRANULES) & 1 ? S2_CFG_FWB : 0);
	r.data = data + 1;
	r.len = size - 1;
	fx_init(&f, &cfg);
	for (int i = 0; i < OM_FUZZ_MAX_OPS && !r.exhausted; i++)
		om_step(&f, &r);
	om_teardown_all(&f);
	fx_fini(&f);
	return 0;
}
