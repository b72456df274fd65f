/* SPDX-License-Identifier: MIT */
/*
 * owner_state.h - private: the page-state encoding rules of the owner layer in one place.
 *
 * ARCH-NOTES §1: OWNED = 0, SHARED_OWNED = bit 0, SHARED_BORROWED = bit 1, RESERVED = bits 0|1
 * are the concrete states, stored in descriptor SW0|SW1 (bits 55, 56; ignored by hardware, Arm
 * ARM D8.3.2 "software use"); NOPAGE = bit 2 is a meta-state that never reaches a descriptor.
 */
#ifndef S2MMU_OWNER_STATE_H
#define S2MMU_OWNER_STATE_H

#include "s2mmu/owner.h"

/* The concrete states are exactly the values of the two-bit field. */
#define S2_PAGE_CONCRETE_MASK ((unsigned int)(S2_PAGE_SHARED_OWNED | S2_PAGE_SHARED_BORROWED))

_Static_assert(S2_PAGE_OWNED == 0, "OWNED is 0 (ARCH-NOTES §1)");
_Static_assert(S2_PAGE_SHARED_OWNED == 1, "SHARED_OWNED is bit 0");
_Static_assert(S2_PAGE_SHARED_BORROWED == 2, "SHARED_BORROWED is bit 1");
_Static_assert(S2_PAGE_RESERVED == 3, "RESERVED is bits 0|1");
_Static_assert(S2_PAGE_NOPAGE == 4, "NOPAGE is bit 2");
_Static_assert(S2_PAGE_STATE_PTE_MASK == (S2_BIT(55) | S2_BIT(56)), "SW0|SW1 are bits 55, 56");

/* Whether @state can be stored in a descriptor (not a meta-state, no stray bits). */
static inline bool s2_page_state_is_concrete(enum s2_page_state state)
{
	return ((unsigned int)state & ~S2_PAGE_CONCRETE_MASK) == 0;
}

/*
 * The S2_PROT_SW() flags storing concrete state @st in SW0|SW1 (the two low bits of the SW
 * field S2_PROT_SW() fills). Only for the constants this layer writes; s2_page_state_prot()
 * is the checked public form.
 */
#define S2_STATE_PROT(st) S2_PROT_SW((unsigned int)(st)&S2_PAGE_CONCRETE_MASK)

#endif /* S2MMU_OWNER_STATE_H */
