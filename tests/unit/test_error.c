// SPDX-License-Identifier: MIT
/*
 * test_error.c - the error vocabulary: every code has its own symbol (equal to the enum
 * constant's spelling) and its own description, positive values name the same code, and
 * values outside the vocabulary get the documented fallbacks.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "s2mmu/error.h"

#define CODE(c)       \
	{             \
		c, #c \
	}

static const struct {
	int code;
	const char *name;
} codes[] = {
	CODE(S2_OK),	       CODE(S2_EINVAL),		CODE(S2_ENOMEM),   CODE(S2_EAGAIN),
	CODE(S2_EEXIST),       CODE(S2_ENOENT),		CODE(S2_ERANGE),   CODE(S2_EALIGN),
	CODE(S2_ENOTSUP),      CODE(S2_EPERM),		CODE(S2_EBUSY),	   CODE(S2_EGRANULE),
	CODE(S2_EIPA_TOO_BIG), CODE(S2_EIPA_TOO_SMALL), CODE(S2_ENO52BIT), CODE(S2_EMEMTYPE),
	CODE(S2_ELIMIT),       CODE(S2_EFAULT),		CODE(S2_ECORRUPT), CODE(S2_EVMID),
};

#define NCODES (sizeof(codes) / sizeof(codes[0]))

static void test_every_code_named(void **state)
{
	(void)state;
	/* The table above covers the whole vocabulary, 0 down to S2_ERROR_MIN. */
	assert_int_equal(NCODES, 1 - S2_ERROR_MIN);
	for (size_t i = 0; i < NCODES; i++) {
		assert_int_equal(codes[i].code, -(int)i);
		assert_string_equal(s2_errname(codes[i].code), codes[i].name);
		assert_non_null(s2_strerror(codes[i].code));
		assert_true(strlen(s2_strerror(codes[i].code)) > 3);
		assert_string_not_equal(s2_strerror(codes[i].code), "unknown error");
	}
	assert_string_equal(s2_strerror(S2_OK), "success");
}

static void test_names_and_texts_distinct(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCODES; i++) {
		for (size_t j = i + 1; j < NCODES; j++) {
			assert_string_not_equal(s2_errname(codes[i].code),
						s2_errname(codes[j].code));
			assert_string_not_equal(s2_strerror(codes[i].code),
						s2_strerror(codes[j].code));
		}
	}
}

static void test_positive_values(void **state)
{
	(void)state;
	/* A positive value is treated like its negation (documented for s2_strerror). */
	for (size_t i = 0; i < NCODES; i++)
		assert_string_equal(s2_strerror(-codes[i].code), s2_strerror(codes[i].code));
}

static void test_unknown_codes(void **state)
{
	static const int unknown[] = { S2_ERROR_MIN - 1, S2_ERROR_MIN - 100, -1000, 1000, INT_MAX,
				       INT_MIN,		 INT_MIN + 1 };

	(void)state;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_string_equal(s2_strerror(unknown[i]), "unknown error");
		assert_string_equal(s2_errname(unknown[i]), "S2_E?");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_named),
		cmocka_unit_test(test_names_and_texts_distinct),
		cmocka_unit_test(test_positive_values),
		cmocka_unit_test(test_unknown_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
