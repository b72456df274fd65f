// SPDX-License-Identifier: MIT
/*
 * The hosted build's panic hook: print the broken invariant and abort, so a test harness (or a
 * cmocka death test via expect_assert_failure-like wrappers) sees it. With S2_TEST_HOOKS, also
 * the compare-and-swap test hook of s2mmu/env.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "s2mmu/env.h"

_Noreturn void s2_env_panic(const char *msg, const char *file, int line)
{
	fprintf(stderr, "s2mmu panic: %s at %s:%d\n", msg, file, line);
	fflush(stderr);
	abort();
}

#if S2_HAVE_CAS_HOOK
s2_cas_hook_fn s2_env_cas_hook;
void *s2_env_cas_hook_ctx;

void s2_env_set_cas_hook(s2_cas_hook_fn fn, void *ctx)
{
	s2_env_cas_hook_ctx = ctx;
	s2_env_cas_hook = fn;
}
#endif
