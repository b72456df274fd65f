// SPDX-License-Identifier: MIT
/*
 * address_types.c - compiled by tests/style/address_types.sh once per CASE: CASE 0 (correct
 * use) must compile, every other CASE (an IPA, a PA or a plain integer where another address
 * type is expected, in the arch structures and the address-argument order) must not.
 */
#include "s2mmu/arch.h"
#include "s2mmu/owner.h"
#include "s2mmu/walk.h"

int address_types(struct s2_owner *o, struct s2_owner_guest *g, struct s2_abort *ab,
		  struct s2_tlb_entry *e, struct s2_pte_fields *f);

int address_types(struct s2_owner *o, struct s2_owner_guest *g, struct s2_abort *ab,
		  struct s2_tlb_entry *e, struct s2_pte_fields *f)
{
	s2_ipa_t ipa = s2_ipa(0x40000000);
	s2_pa_t pa = s2_pa(0x80000000);

	(void)ipa;
	(void)pa;
#if CASE == 0
	ab->ipa = ipa;
	e->ipa = ipa;
	e->pa = pa;
	f->oa = pa;
	return s2_owner_host_share_guest(o, g, ipa, 4096, pa, S2_PROT_R);
#elif CASE == 1
	ab->ipa = 0x40000000; /* a plain integer into s2_abort.ipa */
#elif CASE == 2
	ab->ipa = pa; /* a PA into s2_abort.ipa */
#elif CASE == 3
	e->ipa = pa; /* a PA into s2_tlb_entry.ipa */
#elif CASE == 4
	e->pa = ipa; /* an IPA into s2_tlb_entry.pa */
#elif CASE == 5
	f->oa = ipa; /* an IPA into s2_pte_fields.oa */
#elif CASE == 6
	/* The 0.x argument order (pa, ipa, size). */
	return s2_owner_host_share_guest(o, g, pa, ipa, 4096, S2_PROT_R);
#elif CASE == 7
	return s2_owner_host_donate_guest(o, g, pa, ipa, 4096);
#endif
	return 0;
}
