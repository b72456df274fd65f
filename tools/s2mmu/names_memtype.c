// SPDX-License-Identifier: MIT
/*
 * names_memtype.c - the tool's parsers of the library's host memory type and backing names (see names.h). Hosted: uses
 * <string.h>. One file per library layer, so that a program linking only that layer (the unit
 * tests) pulls in no other.
 */
#include <string.h>

#include "names.h"

int s2_cli_hostmem_parse(const char *s, enum s2_hostmem *out)
{
	if (!s || !out)
		return S2_EINVAL;
	for (unsigned int i = 0; i < S2_NR_HOST_TYPES; i++) {
		if (!strcmp(s, s2_hostmem_name((enum s2_hostmem)i))) {
			*out = (enum s2_hostmem)i;
			return 0;
		}
	}
	return S2_EINVAL;
}

int s2_cli_backing_parse(const char *s, enum s2_backing *out)
{
	static const enum s2_backing all[] = { S2_BACKING_RAM, S2_BACKING_MMIO };

	if (!s || !out)
		return S2_EINVAL;
	for (size_t i = 0; i < S2_ARRAY_SIZE(all); i++) {
		if (!strcmp(s, s2_backing_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	}
	return S2_EINVAL;
}
