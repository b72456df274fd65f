/* SPDX-License-Identifier: MIT */
/*
 * s2_test_matrix.h - the configuration matrix every unit test runs over (STYLE.md §11), and a
 * small fixture that sets up a host port and a page table for one config.
 */
#ifndef S2_TEST_MATRIX_H
#define S2_TEST_MATRIX_H

#include "host_port.h"
#include "s2mmu/pgtable.h"

struct s2_test_cfg {
	char name[48]; /* e.g. "4k/ipa40/pa48/fwb" */
	struct s2_config cfg;
};

/* Largest number of entries s2_test_matrix() returns. */
#define S2_TEST_MATRIX_MAX 64

/**
 * s2_test_matrix() - every granule, IPA sizes 32/36/40/48 (48-bit PA host) and 40/52 (52-bit
 * PA host: LPA2 layout for 4K/16K, LPA for 64K), FWB on and off, and HA / HA+HD variants;
 * each built with s2_caps_max() + s2_config_init().
 * @out: array of at least S2_TEST_MATRIX_MAX entries.
 * Return: the number of configs written (the process aborts if arch refuses one).
 */
size_t s2_test_matrix(struct s2_test_cfg *out);

/** s2_test_config() - one config (aborts on failure). */
struct s2_config s2_test_config(unsigned int pa_bits, enum s2_granule g, unsigned int ipa_bits,
				uint64_t flags);

/* A host port and a page table over it. */
struct s2_test_env {
	struct s2_host_port *hp;
	struct s2_port port;
	struct s2_pgtable pgt;
	uint64_t root_pages; /* pages_in_use right after init (the root) */
};

/* Fake physical base of the test arena: 1 GiB, inside every PA size. */
#define S2_TEST_PA_BASE UINT64_C(0x40000000)

/**
 * s2_test_env_init() - a host port with a @arena_bytes arena (0: 64 MiB) at S2_TEST_PA_BASE,
 * logging @log_capacity events, and a page table for @cfg. Aborts on failure.
 */
void s2_test_env_init(struct s2_test_env *env, const struct s2_config *cfg, uint64_t arena_bytes,
		      unsigned int log_capacity);

/** s2_test_env_fini() - destroy the page table and the port. */
void s2_test_env_fini(struct s2_test_env *env);

/** s2_test_granule() - the granule size of @cfg in bytes. */
static inline uint64_t s2_test_granule(const struct s2_config *cfg)
{
	return UINT64_C(1) << cfg->page_shift;
}

#endif /* S2_TEST_MATRIX_H */
