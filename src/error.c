// SPDX-License-Identifier: MIT
/*
 * The error vocabulary's names and descriptions.
 */
#include "s2mmu/error.h"

struct s2_error_desc {
	const char *name;
	const char *text;
};

static const struct s2_error_desc s2_errors[] = {
	[0] = { "S2_OK", "success" },
	[-S2_EINVAL] = { "S2_EINVAL", "invalid argument" },
	[-S2_ENOMEM] = { "S2_ENOMEM", "out of memory for page tables" },
	[-S2_EAGAIN] = { "S2_EAGAIN", "lost a race with a concurrent update, retry" },
	[-S2_EEXIST] = { "S2_EEXIST", "already exists or overlaps" },
	[-S2_ENOENT] = { "S2_ENOENT", "nothing mapped or no such object" },
	[-S2_ERANGE] = { "S2_ERANGE", "address or size outside the translation range" },
	[-S2_EALIGN] = { "S2_EALIGN", "address or size not aligned" },
	[-S2_ENOTSUP] = { "S2_ENOTSUP", "feature not supported by the host CPU" },
	[-S2_EPERM] = { "S2_EPERM", "not permitted in the current ownership or permission state" },
	[-S2_EBUSY] = { "S2_EBUSY", "object is busy (pinned, locked or shared)" },
	[-S2_EGRANULE] = { "S2_EGRANULE",
			   "translation granule not supported at stage 2 by the host" },
	[-S2_EIPA_TOO_BIG] = { "S2_EIPA_TOO_BIG",
			       "IPA size larger than the host's physical address size" },
	[-S2_EIPA_TOO_SMALL] = { "S2_EIPA_TOO_SMALL", "IPA size smaller than 32 bits" },
	[-S2_ENO52BIT] = { "S2_ENO52BIT",
			   "52-bit addresses need FEAT_LPA2 (4K/16K granule) or FEAT_LPA (64K)" },
	[-S2_EMEMTYPE] = { "S2_EMEMTYPE", "memory type or attribute combination refused" },
	[-S2_ELIMIT] = { "S2_ELIMIT", "limit exceeded" },
	[-S2_EFAULT] = { "S2_EFAULT", "physical address could not be read" },
	[-S2_ECORRUPT] = { "S2_ECORRUPT", "page-table invariant violated" },
	[-S2_EVMID] = { "S2_EVMID", "VMID width not supported by the host" },
};

static const struct s2_error_desc *s2_error_lookup(int err)
{
	/* Negate in unsigned arithmetic: -INT_MIN would overflow. */
	unsigned int idx = err < 0 ? 0u - (unsigned int)err : (unsigned int)err;

	if (idx >= S2_ARRAY_SIZE(s2_errors) || !s2_errors[idx].name)
		return NULL;
	return &s2_errors[idx];
}

const char *s2_strerror(int err)
{
	const struct s2_error_desc *d = s2_error_lookup(err);

	return d ? d->text : "unknown error";
}

const char *s2_errname(int err)
{
	const struct s2_error_desc *d = s2_error_lookup(err);

	return d ? d->name : "S2_E?";
}
