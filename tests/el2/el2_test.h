/* SPDX-License-Identifier: MIT */
/*
 * tests/el2/el2_test.h - a small VM for the EL2 tests: a config from the real capabilities,
 * its stage-2 tables built with the engine, guest code mapped at IPA == PA (R+X), a stack page
 * and an argument page (IPA == PA, RW), and a vCPU.
 */
#ifndef S2_EL2_TEST_H
#define S2_EL2_TEST_H

#include "el2.h"
#include "guest.h"
#include "s2mmu/pgtable.h"

struct el2_test_vm {
	struct s2_config cfg;
	struct s2_pgtable pgt;
	struct el2_vm vm;
	struct el2_vcpu vcpu;
	uint64_t page; /* granule size */
	uint64_t *args; /* one guest page at IPA == PA for argument arrays */
};

static inline void el2_test_caps(struct s2_caps *caps)
{
	struct s2_idregs r;

	el2_read_idregs(&r);
	if (s2_caps_from_idregs(&r, caps)) {
		el2_printf("s2_caps_from_idregs failed\n");
		el2_exit(1);
	}
}

/* Map one fresh guest-RAM page at @ipa with @prot and the map @flags. Return: its host
 * address, NULL on failure. */
static inline void *el2_test_map_page_flags(struct el2_test_vm *t, uint64_t ipa, uint64_t prot,
					    uint64_t flags)
{
	void *p = el2_guest_ram_alloc(t->page, t->page);
	int err;

	if (!p)
		return NULL;
	err = s2_pgtable_map(&t->pgt, s2_ipa(ipa), t->page, s2_pa((uintptr_t)p), prot, flags, NULL);
	if (err) {
		el2_printf("s2_pgtable_map(0x%llx): %s\n", (unsigned long long)ipa,
			   s2_errname(err));
		return NULL;
	}
	return p;
}

/* Map one fresh guest-RAM page at @ipa with @prot. Return: its host address, NULL on failure. */
static inline void *el2_test_map_page(struct el2_test_vm *t, uint64_t ipa, uint64_t prot)
{
	return el2_test_map_page_flags(t, ipa, prot, 0);
}

/* Map a fresh page at its own PA (IPA == PA). */
static inline void *el2_test_map_ident(struct el2_test_vm *t, uint64_t prot)
{
	void *p = el2_guest_ram_alloc(t->page, t->page);

	if (!p || s2_pgtable_map(&t->pgt, s2_ipa((uintptr_t)p), t->page, s2_pa((uintptr_t)p), prot,
				 0, NULL))
		return NULL;
	return p;
}

static inline int el2_test_vm_create(struct el2_test_vm *t, const struct s2_caps *caps,
				     unsigned int ipa_bits, enum s2_granule g, uint64_t flags,
				     uint16_t vmid)
{
	struct s2_config_req req = { .ipa_bits = ipa_bits, .granule = g, .flags = flags };
	struct s2_port port;
	uint64_t code = (uintptr_t)el2_guest_text_start;
	uint64_t code_size = (uintptr_t)el2_guest_text_end - code;
	int err;

	err = s2_config_init(&t->cfg, caps, &req);
	if (err) {
		el2_printf("s2_config_init(%u, %s): %s\n", ipa_bits, s2_granule_name(g),
			   s2_errname(err));
		return err;
	}
	t->page = s2_granule_size(g);
	el2_port_get(&port);
	err = s2_pgtable_init(&t->pgt, &t->cfg, &port, &t->vm);
	if (err)
		return err;
	err = el2_vm_init(&t->vm, &t->cfg, t->pgt.root_pa, vmid);
	if (err)
		return err;
	err = s2_pgtable_map(&t->pgt, s2_ipa(code), code_size, s2_pa(code), S2_PROT_R | S2_PROT_X,
			     0, NULL);
	if (err) {
		el2_printf("map guest code: %s\n", s2_errname(err));
		return err;
	}
	void *stack = el2_test_map_ident(t, S2_PROT_R | S2_PROT_W);
	t->args = el2_test_map_ident(t, S2_PROT_R | S2_PROT_W);
	if (!stack || !t->args)
		return S2_ENOMEM;
	t->vcpu = (struct el2_vcpu){ .vm = &t->vm, .stack_top = (uintptr_t)stack + t->page };
	el2_printf("vm %s/%u: vtcr 0x%llx vttbr 0x%llx start level %d, %u root table(s)\n",
		   s2_granule_name(g), ipa_bits, (unsigned long long)t->vm.vtcr,
		   (unsigned long long)t->vm.vttbr, t->cfg.start_level, t->cfg.root_tables);
	return 0;
}

/*
 * The aborts of a test's guest calls, kept by its on_abort callback (el2_guest_call()): @t the
 * VM, @n how many, @last the latest; @relax and @map are options a callback may act on (a
 * permission fault relaxed to R+W, a translation fault mapped with a fresh page).
 */
struct el2_fault_log {
	struct el2_test_vm *t;
	unsigned int n;
	struct s2_abort last;
	bool relax;
	bool map;
};

/* Record the abort @e in @log, its page-aligned IPA in *@ipa. Return: 0, or -1 when the
 * syndrome did not decode (nothing recorded). */
static inline int el2_fault_log_take(struct el2_fault_log *log, const struct el2_exit *e,
				     uint64_t *ipa)
{
	if (e->abt_err)
		return -1;
	log->n++;
	log->last = e->abt;
	*ipa = S2_ALIGN_DOWN(s2_ipa_val(e->abt.ipa), log->t->page);
	return 0;
}

static inline void el2_test_vm_destroy(struct el2_test_vm *t)
{
	t->pgt.port.ops->tlbi_vmid(t->pgt.port.ctx, &t->pgt);
	s2_pgtable_destroy(&t->pgt);
}

#endif /* S2_EL2_TEST_H */
