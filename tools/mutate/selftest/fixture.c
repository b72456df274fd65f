// SPDX-License-Identifier: MIT
/*
 * Fixture of the mutation tool's self-test (tools/mutate/mutate.py selftest): every construct
 * the generator must handle, and some it must leave alone (lines marked NOT_MUTATED).
 * Comments are never mutated: a < b && c || d == e, true, f(x);
 */
#include <stdbool.h>
#include <stdint.h>

#define LIMIT(a, b) ((a) < (b) && (b) != 0) /* NOT_MUTATED (macro) */
#define S2_BUG_ON(c) ((void)(c))

struct port {
	void (*tlbi_ipa)(void *ctx, uint64_t ipa);
	void *ctx;
};

static const bool enabled = true; /* NOT_MUTATED (file scope) */
static const char *const msg = "x < y && z"; /* NOT_MUTATED (file scope, string) */

static int helper(int x);
static void dsb(void);

static void tlbi_one(struct port *p, uint64_t ipa)
{
	p->tlbi_ipa(p->ctx, ipa);
	dsb();
}

static int handle_fault(struct port *p, uint64_t *ptep, uint64_t ipa, uint32_t *rc)
{
	int ret = helper((int)ipa);

	if (ret != 0 && ipa >= 4096)
		return ret;
	for (int i = 0; i < 3 - 1; i++)
		(void)helper(i);
	*ptep = ipa | 1;
	(*rc)++;
	rc[0] += 2;
	if (ipa > 0 || !enabled)
		tlbi_one(p, ipa);
	S2_BUG_ON(ipa < 16);
	return msg[0] == 'x' ? 0 : false;
}

static int helper(int x)
{
	return x <= 7;
}

static void dsb(void)
{
}

int fixture_entry(struct port *p, uint64_t *ptep, uint32_t *rc);
int fixture_entry(struct port *p, uint64_t *ptep, uint32_t *rc)
{
	return handle_fault(p, ptep, 0, rc);
}
