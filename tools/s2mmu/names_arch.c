// SPDX-License-Identifier: MIT
/*
 * names_arch.c - the tool's parsers of the library's granule names (see names.h). Hosted: uses
 * <string.h>. One file per library layer, so that a program linking only that layer (the unit
 * tests) pulls in no other.
 */
#include <string.h>

#include "names.h"

int s2_cli_granule_parse(const char *s, enum s2_granule *out)
{
	static const struct {
		const char *name;
		enum s2_granule g;
	} names[] = {
		{ "4k", S2_GRANULE_4K },   { "4K", S2_GRANULE_4K },   { "4096", S2_GRANULE_4K },
		{ "16k", S2_GRANULE_16K }, { "16K", S2_GRANULE_16K }, { "16384", S2_GRANULE_16K },
		{ "64k", S2_GRANULE_64K }, { "64K", S2_GRANULE_64K }, { "65536", S2_GRANULE_64K },
	};

	if (!s || !out)
		return S2_EINVAL;
	for (size_t i = 0; i < S2_ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i].name)) {
			*out = names[i].g;
			return 0;
		}
	}
	return S2_EINVAL;
}
