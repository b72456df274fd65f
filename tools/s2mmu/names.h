/* SPDX-License-Identifier: MIT */
/*
 * names.h - reading back the names the library prints (s2_granule_name(), s2_hostmem_name(),
 * s2_backing_name()): string parsing for the s2mmu tool and the tests.
 *
 * Hosted only, and not part of libs2mmu: a hypervisor gets its granule, host memory type and
 * backing from its own configuration, not from strings, so the freestanding core carries no
 * parser. The tool links these through the static library s2_cli_names
 * (names_arch.c, names_memtype.c; tools/s2mmu/CMakeLists.txt); a test that needs them links it
 * too.
 */
#ifndef S2MMU_CLI_NAMES_H
#define S2MMU_CLI_NAMES_H

#include "s2mmu/arch.h"
#include "s2mmu/memtype.h"

/**
 * s2_cli_granule_parse() - parse "4k"/"16k"/"64k" (also "4K", "4096", "16K", "16384", "64K",
 * "65536").
 * Return: 0; S2_EINVAL for anything else, or a NULL @s or @out (*@out then unchanged).
 */
int s2_cli_granule_parse(const char *s, enum s2_granule *out);

/**
 * s2_cli_hostmem_parse() - parse a name s2_hostmem_name() prints ("normal", "tagged", "nc",
 * "device-ngnre", "device-ngnrne").
 * Return: 0; S2_EINVAL for anything else, or a NULL @s or @out (*@out then unchanged).
 */
int s2_cli_hostmem_parse(const char *s, enum s2_hostmem *out);

/**
 * s2_cli_backing_parse() - parse "ram" or "mmio" (the names s2_backing_name() prints).
 * Return: 0; S2_EINVAL for anything else, or a NULL @s or @out (*@out then unchanged).
 */
int s2_cli_backing_parse(const char *s, enum s2_backing *out);

#endif /* S2MMU_CLI_NAMES_H */
