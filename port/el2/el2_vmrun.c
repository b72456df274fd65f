// SPDX-License-Identifier: MIT
/*
 * port/el2/el2_vmrun.c - the vCPU run loop over the VM layer: entry through
 * s2_vm_vcpu_enter(), stage-2 aborts through s2_vm_handle_abort(), MMIO emulation and abort
 * injection. Single CPU: the VM layer's lock hooks are left NULL.
 */
#include "el2_vmrun.h"
#include "sysreg.h"

static void el2_hook_load_stage2(void *ctx, uint64_t vtcr, uint64_t vttbr)
{
	el2_stage2_load(vtcr, vttbr);
}

void el2_vmrun_hooks(struct s2_vm_hooks *h)
{
	*h = (struct s2_vm_hooks){ .load_stage2 = el2_hook_load_stage2 };
}

#define ESR_IL (UINT64_C(1) << 25)
#define FSC_SYNC_EXTERNAL 0x10u
#define SPSR_M_MASK 0xfu
#define SPSR_M_EL1T 0x4u
#define SPSR_M_EL1H 0x5u

void el2_inject_abort(struct el2_guest_regs *regs, uint64_t esr_el2, uint64_t far_el2)
{
	uint32_t ec2 = (uint32_t)(esr_el2 >> ESR_EC_SHIFT) & 0x3f;
	bool insn = ec2 == S2_EC_IABT_LOW;
	uint64_t mode = regs->spsr & SPSR_M_MASK;
	bool from_el1 = mode == SPSR_M_EL1T || mode == SPSR_M_EL1H;
	uint32_t ec;
	uint64_t off;

	/* Arm ARM D17.2.37 (ESR_ELx): 0x20/0x21 instruction abort from a lower/the current EL,
	 * 0x24/0x25 data abort; DFSC/IFSC 0b010000 synchronous external abort. */
	if (insn)
		ec = from_el1 ? S2_EC_IABT_CUR : S2_EC_IABT_LOW;
	else
		ec = from_el1 ? S2_EC_DABT_CUR : S2_EC_DABT_LOW;
	/* Vector offsets (Arm ARM D1.10.2): current EL with SP_EL0 0x000, with SP_ELx 0x200,
	 * lower EL using AArch64 0x400; synchronous exceptions at +0. */
	off = mode == SPSR_M_EL1T ? 0x000 : mode == SPSR_M_EL1H ? 0x200 : 0x400;

	el2_write_sysreg(esr_el1,
			 ((uint64_t)ec << ESR_EC_SHIFT) | (esr_el2 & ESR_IL) | FSC_SYNC_EXTERNAL);
	el2_write_sysreg(far_el1, far_el2);
	el2_write_sysreg(elr_el1, regs->elr);
	el2_write_sysreg(spsr_el1, regs->spsr);
	regs->elr = el2_read_sysreg(vbar_el1) + off;
	regs->spsr = SPSR_EL1H_MASKED;
}

/* Emulate the data access of an MMIO exit from its syndrome (ESR_EL2.ISV, Arm ARM D17.2.40). */
static int el2_emulate_mmio(struct el2_vmrun *r, const struct s2_mmio_access *m)
{
	unsigned int bits = m->size * 8;
	uint64_t mask = bits == 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
	uint64_t val = 0;
	int err;

	if (m->cache_maint)
		return 0; /* DC on an MMIO address: nothing to emulate, skip it */
	if (!m->syndrome || !r->mmio) {
		el2_printf("el2: MMIO exit at 0x%llx without %s\n",
			   (unsigned long long)s2_ipa_val(m->ipa),
			   m->syndrome ? "a device" : "syndrome");
		return EL2_EUNEXPECTED;
	}
	if (m->write)
		val = (m->reg == 31 ? 0 : r->regs.x[m->reg]) & mask;
	err = r->mmio(r->mmio_arg, s2_ipa_val(m->ipa), m->write, m->size, &val);
	if (err)
		return err;
	if (!m->write) {
		val &= mask;
		/* SSE: sign-extend to the register; SF = 0: a W register (upper half zero). */
		if (m->sign_extend && bits < 64 && (val >> (bits - 1)) & 1)
			val |= ~mask;
		if (!m->reg64)
			val &= 0xffffffffu;
		if (m->reg != 31)
			r->regs.x[m->reg] = val;
	}
	r->st.mmio++;
	return 0;
}

int el2_vmrun_run(struct el2_vmrun *r)
{
	for (;;) {
		struct s2_abort_result res;
		struct el2_exit e;
		uint64_t t0;
		int err;

		err = s2_vm_vcpu_enter(r->vcpu, &r->entry);
		if (err)
			return err;
		r->st.entries++;
		if (r->entry.cmo_bytes) {
			if (!r->st.cmo_entries)
				r->st.cmo_first_entry = r->st.entries;
			r->st.cmo_entries++;
			r->st.cmo_bytes += r->entry.cmo_bytes;
		}
		el2_stage2_load(r->entry.vtcr, r->entry.vttbr);
		el2_write_sysreg(hcr_el2, (HCR_RW | r->entry.hcr_set) & ~r->entry.hcr_clear);
		el2_isb();
		e.vector = (uint32_t)el2_guest_enter(&r->regs);
		e.esr = el2_read_sysreg(esr_el2);
		e.far = el2_read_sysreg(far_el2);
		e.hpfar = el2_read_sysreg(hpfar_el2);
		e.abt_err = S2_EINVAL;
		uint32_t ec = (uint32_t)(e.esr >> ESR_EC_SHIFT) & 0x3f;
		if (e.vector == 0 && ec == ESR_EC_HVC64)
			return 0; /* ELR_EL2 already points after the HVC */
		if (e.vector != 0 || (ec != S2_EC_DABT_LOW && ec != S2_EC_IABT_LOW)) {
			el2_printf(
				"el2: unexpected exit: vector %u esr 0x%llx far 0x%llx elr 0x%llx\n",
				e.vector, (unsigned long long)e.esr, (unsigned long long)e.far,
				(unsigned long long)r->regs.elr);
			return EL2_EUNEXPECTED;
		}
		e.abt_err = s2_abort_decode(e.esr, e.far, e.hpfar, true, &e.abt);
		r->st.aborts++;
		if (r->observe) {
			err = r->observe(r->observe_arg, r, &e, NULL);
			if (err < 0)
				return err;
		}
		t0 = el2_counter();
		err = s2_vm_handle_abort(r->vcpu, e.esr, e.far, e.hpfar, &res);
		r->st.handle_ticks += el2_counter() - t0;
		if (err)
			return err;
		r->last = res;
		if (r->observe) {
			err = r->observe(r->observe_arg, r, &e, &res);
			if (err < 0)
				return err;
		}
		switch (res.action) {
		case S2_ABORT_RESUME:
			r->st.resume[res.resume & 3]++;
			break;
		case S2_ABORT_MMIO:
			err = el2_emulate_mmio(r, &res.mmio);
			if (err)
				return err;
			r->regs.elr += 4;
			break;
		case S2_ABORT_INJECT:
			r->st.inject[res.inject & 7]++;
			el2_inject_abort(&r->regs, e.esr, e.far);
			break;
		case S2_ABORT_NISV:
			/* An access to emulate without a syndrome (load/store pair, atomics, ...):
			 * this port decodes no instructions, so the guest gets a synchronous
			 * external abort, as KVM gives a protected VM (a VMM without
			 * KVM_CAP_ARM_NISV_TO_USER would stop the VM instead). */
			r->st.nisv++;
			el2_inject_abort(&r->regs, e.esr, e.far);
			break;
		}
	}
}

int el2_vmrun_call(struct el2_vmrun *r, const void *fn, uint64_t a0, uint64_t a1, uint64_t a2,
		   uint64_t a3)
{
	for (unsigned int i = 0; i < 31; i++)
		r->regs.x[i] = 0;
	r->regs.x[0] = a0;
	r->regs.x[1] = a1;
	r->regs.x[2] = a2;
	r->regs.x[3] = a3;
	r->regs.sp_el1 = r->stack_top;
	r->regs.elr = (uint64_t)(uintptr_t)fn;
	r->regs.spsr = SPSR_EL1H_MASKED;
	return el2_vmrun_run(r);
}
