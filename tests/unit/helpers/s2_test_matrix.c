// SPDX-License-Identifier: MIT
/* The unit tests' configuration matrix and page-table fixture. */
#include <stdio.h>
#include <stdlib.h>

#include "s2_test_matrix.h"

struct s2_config s2_test_config(unsigned int pa_bits, enum s2_granule g, unsigned int ipa_bits,
				uint64_t flags)
{
	struct s2_caps caps;
	struct s2_config cfg;
	struct s2_config_req req = { .ipa_bits = ipa_bits, .granule = g, .flags = flags };
	int ret = s2_caps_max(pa_bits, &caps);

	if (!ret)
		ret = s2_config_init(&cfg, &caps, &req);
	if (ret) {
		fprintf(stderr, "s2_test_config(pa %u, %s, ipa %u, flags %#llx): %d\n", pa_bits,
			s2_granule_name(g), ipa_bits, (unsigned long long)flags, ret);
		abort();
	}
	return cfg;
}

static void add(struct s2_test_cfg *out, size_t *n, unsigned int pa_bits, enum s2_granule g,
		unsigned int ipa_bits, uint64_t flags)
{
	struct s2_test_cfg *t = &out[(*n)++];

	if (*n > S2_TEST_MATRIX_MAX)
		abort();
	t->cfg = s2_test_config(pa_bits, g, ipa_bits, flags);
	snprintf(t->name, sizeof(t->name), "%s/ipa%u/pa%u%s%s%s", s2_granule_name(g), ipa_bits,
		 pa_bits, (flags & S2_CFG_FWB) ? "/fwb" : "", (flags & S2_CFG_HA) ? "/ha" : "",
		 (flags & S2_CFG_HD) ? "/hd" : "");
}

size_t s2_test_matrix(struct s2_test_cfg *out)
{
	static const unsigned int ipa48[] = { 32, 36, 40, 48 };
	size_t n = 0;

	for (int g = 0; g < S2_NR_GRANULES; g++) {
		for (size_t i = 0; i < S2_ARRAY_SIZE(ipa48); i++) {
			add(out, &n, 48, (enum s2_granule)g, ipa48[i], 0);
			add(out, &n, 48, (enum s2_granule)g, ipa48[i], S2_CFG_FWB);
		}
		add(out, &n, 52, (enum s2_granule)g, 40, S2_CFG_FWB);
		add(out, &n, 52, (enum s2_granule)g, 52, 0);
		add(out, &n, 52, (enum s2_granule)g, 52, S2_CFG_FWB);
		add(out, &n, 48, (enum s2_granule)g, 40, S2_CFG_FWB | S2_CFG_HA);
		add(out, &n, 48, (enum s2_granule)g, 40, S2_CFG_HA | S2_CFG_HD);
	}
	return n;
}

void s2_test_env_init(struct s2_test_env *env, const struct s2_config *cfg, uint64_t arena_bytes,
		      unsigned int log_capacity)
{
	struct s2_host_port_opts o = {
		.pa_base = S2_TEST_PA_BASE,
		.arena_bytes = arena_bytes ? arena_bytes : (UINT64_C(64) << 20),
		.log_capacity = log_capacity,
	};
	int ret = s2_host_port_create(&o, &env->hp);

	if (ret) {
		fprintf(stderr, "s2_host_port_create: %d\n", ret);
		abort();
	}
	env->port = s2_host_port_port(env->hp);
	ret = s2_pgtable_init(&env->pgt, cfg, &env->port, env);
	if (ret) {
		fprintf(stderr, "s2_pgtable_init: %d\n", ret);
		abort();
	}
	env->root_pages = s2_host_port_stats(env->hp).pages_in_use;
}

void s2_test_env_fini(struct s2_test_env *env)
{
	s2_pgtable_destroy(&env->pgt);
	s2_host_port_destroy(env->hp);
	env->hp = NULL;
}
