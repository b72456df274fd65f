// SPDX-License-Identifier: MIT
/*
 * s2_version() of the hosted libraries (libs2mmu.a, libs2mmu.so). Kept out of the src/ top level, which
 * is the freestanding core (s2mmu.mk), because it needs the generated s2mmu/version.h.
 */
#include "s2mmu/version.h"

unsigned int s2_version(void)
{
	return S2MMU_VERSION;
}
