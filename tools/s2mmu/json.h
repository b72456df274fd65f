/* SPDX-License-Identifier: MIT */
/*
 * json.h - a tiny streaming JSON writer for the s2mmu tool.
 *
 * Writes one value to a FILE, indented by two spaces per level, one member or element per line
 * (the layout of Python's json.dumps(indent=2)). Keys are passed with every member; inside an
 * array pass NULL as the key. Addresses and register values are written as "0x..." strings so
 * that 64-bit values survive JSON readers that use doubles.
 *
 *	struct s2_json j;
 *	s2_json_begin(&j, stdout);
 *	s2_json_hex(&j, "vtcr", vtcr);
 *	s2_json_array_begin(&j, "block_levels");
 *	s2_json_int(&j, NULL, 2);
 *	s2_json_array_end(&j);
 *	s2_json_end(&j);
 */
#ifndef S2MMU_CLI_JSON_H
#define S2MMU_CLI_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define S2_JSON_MAX_DEPTH 16

struct s2_json {
	FILE *out;
	unsigned int depth; /* open objects and arrays */
	bool has_items[S2_JSON_MAX_DEPTH]; /* the container at each depth has members */
	bool is_array[S2_JSON_MAX_DEPTH];
};

/** s2_json_begin() - start the top-level object. */
void s2_json_begin(struct s2_json *j, FILE *out);

/** s2_json_end() - close every open container and end the line. */
void s2_json_end(struct s2_json *j);

/** s2_json_object_begin() / s2_json_array_begin() - open a nested container under @key. */
void s2_json_object_begin(struct s2_json *j, const char *key);
void s2_json_array_begin(struct s2_json *j, const char *key);

/** s2_json_object_end() / s2_json_array_end() - close the innermost container. */
void s2_json_object_end(struct s2_json *j);
void s2_json_array_end(struct s2_json *j);

/** Members: a string (escaped; always written as valid UTF-8, see json.c), a number, a boolean,
 * null. */
void s2_json_str(struct s2_json *j, const char *key, const char *val);
void s2_json_u64(struct s2_json *j, const char *key, uint64_t val);
void s2_json_int(struct s2_json *j, const char *key, long long val);
void s2_json_bool(struct s2_json *j, const char *key, bool val);
void s2_json_null(struct s2_json *j, const char *key);

/** s2_json_hex() - @val as a "0x..." string (lower-case hex, no leading zeros). */
void s2_json_hex(struct s2_json *j, const char *key, uint64_t val);

/** s2_json_bin() - the low @width bits of @val as a "0b..." string of exactly @width digits. */
void s2_json_bin(struct s2_json *j, const char *key, uint64_t val, unsigned int width);

#endif /* S2MMU_CLI_JSON_H */
