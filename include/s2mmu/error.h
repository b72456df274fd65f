/* SPDX-License-Identifier: MIT */
/*
 * s2mmu/error.h - the error vocabulary.
 *
 * Every fallible call returns 0 on success or one of these negative codes. s2_strerror() names
 * a code; s2_errname() gives its symbol ("S2_EINVAL"). Each function's comment lists the codes
 * it can return after "Return:". docs/errors.md has a paragraph per code: what it means, every
 * function that returns it, and what the caller does about it (checked against the headers by
 * style.api_docs). Codes are stable: new ones are only ever appended.
 */
#ifndef S2MMU_ERROR_H
#define S2MMU_ERROR_H

#include "s2mmu/env.h"

enum s2_error {
	S2_OK = 0,
	S2_EINVAL = -1, /* an argument is malformed or a combination is meaningless */
	S2_ENOMEM = -2, /* the port could not give a page (nothing was changed) */
	S2_EAGAIN = -3, /* lost a race with a concurrent update: retry */
	S2_EEXIST = -4, /* something is already there (mapping, slot, overlap) */
	S2_ENOENT = -5, /* nothing there: no mapping, no slot, no such object */
	S2_ERANGE = -6, /* an address or size lies outside what the config covers */
	S2_EALIGN = -7, /* an address or size is not aligned as required */
	S2_ENOTSUP = -8, /* the host CPU lacks the feature this request needs */
	S2_EPERM = -9, /* the ownership or permission state forbids it */
	S2_EBUSY = -10, /* the object is in use (pinned, locked, shared) */
	S2_EGRANULE = -11, /* the granule is not supported at stage 2 by this host */
	S2_EIPA_TOO_BIG = -12, /* requested IPA size exceeds the host's physical address size */
	S2_EIPA_TOO_SMALL = -13, /* requested IPA size is below the 32-bit minimum */
	S2_ENO52BIT = -14, /* 52-bit IPA needs FEAT_LPA2 (4K/16K) or FEAT_LPA (64K) */
	S2_EMEMTYPE = -15, /* memory type refused (exec on Device/NC, untagged RAM for MTE) */
	S2_ELIMIT = -16, /* an accounting limit would be exceeded */
	S2_EFAULT = -17, /* a table or physical address could not be read */
	S2_ECORRUPT = -18, /* a page-table invariant does not hold (see s2_pgtable_check) */
	S2_EVMID = -19, /* VMID width not supported */
};

/* The most negative code (codes run from S2_ERROR_MIN to -1): for iterating and for tests. */
#define S2_ERROR_MIN S2_EVMID

/**
 * s2_strerror() - a human-readable description of an error code.
 * @err: 0 or a negative S2_E* code (a positive value is treated like its negation).
 *
 * Return: a static string; "unknown error" for a value outside the vocabulary. Never NULL.
 */
const char *s2_strerror(int err);

/**
 * s2_errname() - the symbolic name of an error code ("S2_EINVAL").
 * @err: 0 or a negative S2_E* code (a positive value is treated like its negation).
 *
 * Return: a static string; "S2_E?" for an unknown value. Never NULL.
 */
const char *s2_errname(int err);

#endif /* S2MMU_ERROR_H */
