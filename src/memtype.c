// SPDX-License-Identifier: MIT
/*
 * memtype.c - the memory-type policy of ARCH-NOTES §1 (see s2mmu/memtype.h).
 *
 * Pure: no state, no side effects. The MemAttr bits come from arch (s2_memattr_encode()), the
 * engine's attribute flags from pgtable.h; nothing here knows a descriptor bit position.
 */
#include "s2mmu/memtype.h"
#include "s2mmu/pgtable.h"

static const char *const host_type_names[S2_NR_HOST_TYPES] = {
	[S2_HOSTMEM_NORMAL] = "normal",
	[S2_HOSTMEM_NORMAL_TAGGED] = "tagged",
	[S2_HOSTMEM_NORMAL_NC] = "nc",
	[S2_HOSTMEM_DEVICE_nGnRE] = "device-ngnre",
	[S2_HOSTMEM_DEVICE_nGnRnE] = "device-ngnrne",
};

const char *s2_hostmem_name(enum s2_hostmem t)
{
	if ((unsigned int)t >= S2_NR_HOST_TYPES)
		return "?";
	return host_type_names[t];
}

const char *s2_backing_name(enum s2_backing b)
{
	switch (b) {
	case S2_BACKING_RAM:
		return "ram";
	case S2_BACKING_MMIO:
		return "mmio";
	}
	return "?";
}

/* The stage-2 type of the table's rows, before exec and MTE are considered. */
static int pick_type(const struct s2_memtype_req *req, enum s2_memtype *type)
{
	bool device_host = req->host_type == S2_HOSTMEM_DEVICE_nGnRE ||
			   req->host_type == S2_HOSTMEM_DEVICE_nGnRnE;

	if (req->backing == S2_BACKING_MMIO) {
		/* MMIO + allow-any-uncached: Normal-NC, the guest's stage 1 may pick Device or NC
		 * (S2CombineS1MemAttrs keeps the stricter of the two). */
		if (req->allow_any_uncached) {
			*type = S2_MT_NORMAL_NC;
			return 0;
		}
		/* MMIO is never cacheable without explicit permission: Normal host mappings of
		 * MMIO become Device-nGnRE; NC likewise (no permission to let the guest combine). */
		*type = req->host_type == S2_HOSTMEM_DEVICE_nGnRnE ? S2_MT_DEVICE_nGnRnE :
								     S2_MT_DEVICE_nGnRE;
		return 0;
	}

	/* RAM: allow-any-uncached asks for NC; with a Device host mapping that is Device and
	 * NC at once (the engine's -EINVAL for S2_PROT_DEVICE | S2_PROT_NORMAL_NC). */
	if (req->allow_any_uncached && device_host)
		return S2_EINVAL;

	switch (req->host_type) {
	case S2_HOSTMEM_NORMAL:
	case S2_HOSTMEM_NORMAL_TAGGED:
		*type = S2_MT_NORMAL_WB;
		return 0;
	case S2_HOSTMEM_NORMAL_NC:
		/* As KVM (MT_NORMAL/_TAGGED/_NC are all "cacheable" RAM): Normal, the guest's
		 * stage 1 picks (with FWB: write-back). Keeping NC is a VM's opt-in policy. */
		*type = req->keep_host_nc ? S2_MT_NORMAL_NC : S2_MT_NORMAL_WB;
		return 0;
	case S2_HOSTMEM_DEVICE_nGnRE:
		*type = S2_MT_DEVICE_nGnRE;
		return 0;
	case S2_HOSTMEM_DEVICE_nGnRnE:
		*type = S2_MT_DEVICE_nGnRnE;
		return 0;
	}
	return S2_EINVAL;
}

int s2_memtype_decide(const struct s2_memtype_req *req, struct s2_memtype_attrs *out)
{
	struct s2_memtype_attrs a = { 0 };
	enum s2_memtype type;
	int ret;

	if (!req || !out)
		return S2_EINVAL;
	*out = (struct s2_memtype_attrs){ 0 };
	if ((unsigned int)req->backing > S2_BACKING_MMIO ||
	    (unsigned int)req->host_type >= S2_NR_HOST_TYPES)
		return S2_EINVAL;

	ret = pick_type(req, &type);
	if (ret)
		return ret;

	/*
	 * MTE: in a VM with MTE every Normal access may touch allocation tags, so cacheable RAM
	 * must be tag-capable and reached through a tagged host mapping (and its stale tags
	 * zeroed before the guest sees them). NC RAM cannot carry usable tags either.
	 */
	if (req->vm_mte && req->backing == S2_BACKING_RAM &&
	    (type == S2_MT_NORMAL_WB || type == S2_MT_NORMAL_NC)) {
		if (req->host_type != S2_HOSTMEM_NORMAL_TAGGED || !req->backing_tags)
			return S2_EMEMTYPE;
		a.cmo |= S2_CMO_TAGS;
	}

	a.type = type;
	ret = s2_memattr_encode(type, req->fwb, &a.memattr);
	if (ret)
		return ret;

	switch (type) {
	case S2_MT_DEVICE_nGnRnE:
		a.prot = S2_PROT_DEVICE | S2_PROT_DEVICE_NGNRNE;
		break;
	case S2_MT_DEVICE_nGnRE:
		a.prot = S2_PROT_DEVICE;
		break;
	case S2_MT_NORMAL_NC:
		a.prot = S2_PROT_NORMAL_NC;
		break;
	default:
		/* Normal WB. Without FWB the guest may run with its MMU off (Device, uncached
		 * accesses) and must not see stale lines: clean+invalidate to PoC first. With
		 * FWB stage 2 forces Write-Back (MemAttr 0b110) and no clean is needed. */
		a.exec = true;
		if (!req->fwb)
			a.cmo |= S2_CMO_DCACHE;
		break;
	}

	if (req->exec) {
		if (!a.exec) {
			/* Exec on Device or NC is refused; report what a data access gets. */
			*out = a;
			return S2_EMEMTYPE;
		}
		a.prot |= S2_PROT_X;
		/* Data and instruction caches are not coherent unless CTR_EL0.DIC. */
		if (!req->dic)
			a.cmo |= S2_CMO_ICACHE;
	} else if (req->dic && a.exec) {
		/* CTR_EL0.DIC: granting exec costs no I-cache maintenance, so (as KVM) Normal
		 * memory is executable from its first fault, saving the later exec fault. */
		a.prot |= S2_PROT_X;
	}

	*out = a;
	return 0;
}
