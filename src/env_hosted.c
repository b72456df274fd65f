// SPDX-License-Identifier: MIT
/*
 * The hosted build's panic hook: print the broken invariant and abort, so a test harness (or a
 * cmocka death test via expect_assert_failure-like wrappers) sees it.
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
