/* SPDX-License-Identifier: MIT */
/*
 * tests/el2/el2_vmtest.h - a VM built with the VM layer (s2mmu/vm.h) for the EL2 tests: the
 * real capabilities, the port's VM-layer ops, a VMID allocator, the guest code as a read-only
 * RAM slot at IPA == PA and a scratch RAM slot at IPA == PA (stack, arguments, a shared page);
 * the guest runs through el2_vmrun (s2_vm_vcpu_enter / s2_vm_handle_abort).
 */
#ifndef S2_EL2_VMTEST_H
#define S2_EL2_VMTEST_H

#include "el2_vmrun.h"
#include "guest_vm.h"
#include "s2mmu/walk.h"

#define VT_SLOT_CODE 100
#define VT_SLOT_SCRATCH 101
#define VT_SCRATCH_BYTES 0x10000 /* one 64K page: stack (32K), args (16K), shared (16K) */
#define VT_MAX_SLOTS 16

struct el2_vt {
	struct s2_vm vm;
	struct s2_vcpu vcpu;
	struct s2_memslot slots[VT_MAX_SLOTS];
	struct el2_vmrun run;
	uint64_t page; /* granule */
	uint8_t *scratch; /* host address == IPA */
	uint64_t *args; /* scratch + 32K */
	uint64_t *shared; /* scratch + 48K */
};

static struct s2_vmid_alloc el2_vt_vmids;

static inline void el2_vt_caps(struct s2_caps *caps)
{
	struct s2_idregs r;

	el2_read_idregs(&r);
	if (s2_caps_from_idregs(&r, caps)) {
		el2_printf("s2_caps_from_idregs failed\n");
		el2_exit(1);
	}
	if (!el2_vt_vmids.bits && s2_vmid_alloc_init(&el2_vt_vmids, caps->vmid_bits)) {
		el2_printf("s2_vmid_alloc_init failed\n");
		el2_exit(1);
	}
}

/* A RAM slot at @ipa backed by @pa (host Normal WB unless @host_type says otherwise). */
static inline int el2_vt_slot(struct el2_vt *t, uint32_t id, uint64_t ipa, uint64_t size,
			      uint64_t pa, enum s2_hostmem host_type, uint64_t backing_page_size,
			      uint64_t flags)
{
	struct s2_memslot_desc d = {
		.id = id,
		.ipa = s2_ipa(ipa),
		.size = size,
		.backing = S2_BACKING_RAM,
		.pa = s2_pa(pa),
		.hva = s2_hva(pa),
		.host_type = host_type,
		.backing_page_size = backing_page_size,
		.flags = flags,
	};
	int err = s2_vm_slot_add(&t->vm, &d);

	if (err)
		el2_printf("s2_vm_slot_add(%u at 0x%llx): %s\n", id, (unsigned long long)ipa,
			   s2_errname(err));
	return err;
}

static inline int el2_vt_create(struct el2_vt *t, const struct s2_caps *caps, unsigned int ipa_bits,
				enum s2_granule g, uint64_t cfg_flags)
{
	struct s2_vm_params p = {
		.caps = caps,
		.req = { .ipa_bits = ipa_bits, .granule = g, .flags = cfg_flags },
		.vmids = &el2_vt_vmids,
		.slots = t->slots,
		.max_slots = VT_MAX_SLOTS,
		.locked_limit = 64ULL << 20,
	};
	uint64_t code = (uintptr_t)el2_guest_text_start;
	int err;

	el2_port_get_current(&p.port);
	el2_vmrun_hooks(&p.hooks);
	err = s2_vm_init(&t->vm, &p);
	if (err) {
		el2_printf("s2_vm_init(%s/%u): %s\n", s2_granule_name(g), ipa_bits,
			   s2_errname(err));
		return err;
	}
	t->page = s2_granule_size(g);
	err = s2_vcpu_init(&t->vcpu, &t->vm, 0);
	if (err)
		return err;
	t->scratch = el2_guest_ram_alloc(VT_SCRATCH_BYTES, VT_SCRATCH_BYTES);
	if (!t->scratch)
		return S2_ENOMEM;
	t->args = (uint64_t *)(t->scratch + 0x8000);
	t->shared = (uint64_t *)(t->scratch + 0xc000);
	err = el2_vt_slot(t, VT_SLOT_CODE, code, (uintptr_t)el2_guest_text_end - code, code,
			  S2_HOSTMEM_NORMAL, 0, S2_SLOT_READONLY);
	if (!err)
		err = el2_vt_slot(t, VT_SLOT_SCRATCH, (uintptr_t)t->scratch, VT_SCRATCH_BYTES,
				  (uintptr_t)t->scratch, S2_HOSTMEM_NORMAL, 0, 0);
	if (err)
		return err;
	t->run =
		(struct el2_vmrun){ .vcpu = &t->vcpu, .stack_top = (uintptr_t)t->scratch + 0x8000 };
	return 0;
}

static inline void el2_vt_destroy(struct el2_vt *t)
{
	s2_vcpu_destroy(&t->vcpu);
	s2_vm_destroy(&t->vm);
}

/* Run a guest function; check it returned @expect through HVC. Return: the run's code. */
static inline int el2_vt_call(struct el2_vt *t, const void *fn, uint64_t a0, uint64_t a1,
			      uint64_t a2, uint64_t a3)
{
	int err = el2_vmrun_call(&t->run, fn, a0, a1, a2, a3);

	if (err)
		el2_printf("guest run: %d (%s)\n", err, err > -100 ? s2_errname(err) : "port");
	return err;
}

/* s2_walk_mem over physical memory (EL2's MMU is off: PA == VA). */
static int el2_vt_read64(void *ctx, s2_pa_t pa, uint64_t *val)
{
	*val = *(volatile uint64_t *)(uintptr_t)s2_pa_val(pa);
	return 0;
}

static const struct s2_walk_mem el2_vt_mem = { .read64 = el2_vt_read64 };

#endif /* S2_EL2_VMTEST_H */
