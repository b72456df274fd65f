// SPDX-License-Identifier: MIT
/*
 * examples/embed: s2mmu embedded as a partitioning hypervisor would use it.
 *
 * One VM with statically assigned resources: 64 MiB of RAM at a fixed host physical range
 * (2 MiB pages), a passed-through UART, and an emulated device with no slot. The program plays
 * the hypervisor's run loop with syndromes built by s2_abort_encode() instead of a real guest:
 * a write to RAM (translation fault: a 2 MiB block is mapped), a read of the UART (mapped as
 * Device), a store to the emulated device (an MMIO exit to emulate), an instruction fetch from
 * it (an abort to inject); then dirty logging (a write-protected page faults, is relaxed and
 * shows in the bitmap) and teardown (every table page back to the port).
 *
 * It checks its own results and exits 0 only when every one is as expected. Built and run by
 * CTest (example.embed) against the library, and by the package tests against an installed
 * copy (pkg-config and find_package). The port is the reference port of docs/port.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "s2mmu/vm.h"
#include "s2mmu/version.h"

#include "ref_port.h"

#define RAM_IPA UINT64_C(0x40000000)
#define RAM_PA UINT64_C(0x100000000) /* the partition's RAM in host physical memory */
#define RAM_SIZE (UINT64_C(64) << 20)
#define UART_IPA UINT64_C(0x09000000) /* passed through: the guest sees the real device */
#define UART_PA UINT64_C(0x1c090000)
#define EMUL_IPA UINT64_C(0x0a000000) /* no slot: the hypervisor emulates what is there */

static int failures;

#define CHECK(cond)                                                                             \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			fprintf(stderr, "embed: line %d: check failed: %s\n", __LINE__, #cond); \
			failures++;                                                             \
		}                                                                               \
	} while (0)

/* The hypervisor's stage-2 context switch: on hardware, write VTCR_EL2/VTTBR_EL2 and ISB. */
struct hyp {
	uint64_t vtcr, vttbr;
	unsigned long loads;
};

static void load_stage2(void *ctx, uint64_t vtcr, uint64_t vttbr)
{
	struct hyp *h = ctx;

	h->vtcr = vtcr;
	h->vttbr = vttbr;
	h->loads++;
}

static void put_stage2(void *ctx)
{
	struct hyp *h = ctx;

	h->vtcr = h->vttbr = 0; /* back to the host's (none here) */
}

/* A guest abort as hardware reports it, through the VM layer. */
static int guest_abort(struct s2_vcpu *vcpu, struct s2_abort ab, uint64_t ipa,
		       struct s2_abort_result *r)
{
	uint64_t esr, far, hpfar;
	int ret;

	ab.il = true;
	ab.ipa_valid = true;
	ab.ipa = s2_ipa(ipa);
	ab.far = UINT64_C(0xffff800000000000) | (ipa & 0xfff); /* the guest VA: offset counts */
	ret = s2_abort_encode(&ab, &esr, &far, &hpfar);
	if (ret)
		return ret;
	return s2_vm_handle_abort(vcpu, esr, far, hpfar, r);
}

static struct s2_abort data_abort(enum s2_fault f, int level, bool write)
{
	return (struct s2_abort){
		.ec = S2_EC_DABT_LOW, .is_data = true, .fault = f, .level = level, .wnr = write
	};
}

int main(void)
{
	static struct ref_port rp;
	static struct s2_vmid_alloc vmids;
	struct s2_memslot slots[4];
	struct s2_caps caps;
	struct hyp hyp = { 0 };
	struct s2_vm vm;
	struct s2_vcpu vcpu;
	struct s2_vcpu_entry e;
	struct s2_abort_result r;
	struct s2_lookup l;
	uint64_t bitmap[RAM_SIZE / 4096 / 64], ndirty = 0;
	struct s2_abort ab;

	printf("s2mmu %s (library %u)\n", S2MMU_VERSION_STRING, s2_version());
	CHECK(s2_version() == S2MMU_VERSION);
	if (ref_port_init(&rp, UINT64_C(8) << 20))
		return 2;

	/* The host: a 48-bit PA space, 16-bit VMIDs. One VM: 40-bit IPA, 4K pages, no FWB. */
	CHECK(s2_caps_max(48, &caps) == 0);
	CHECK(s2_vmid_alloc_init(&vmids, caps.vmid_bits) == 0);
	struct s2_vm_params p = {
		.caps = &caps,
		.req = { .ipa_bits = 40, .granule = S2_GRANULE_4K },
		.port = ref_port_port(&rp),
		.hooks = { .load_stage2 = load_stage2, .put_stage2 = put_stage2, .ctx = &hyp },
		.vmids = &vmids,
		.slots = slots,
		.max_slots = 4,
	};
	if (s2_vm_init(&vm, &p) || s2_vcpu_init(&vcpu, &vm, 0)) {
		fprintf(stderr, "embed: cannot create the VM\n");
		return 1;
	}
	CHECK(s2_vm_slot_add(&vm, &(struct s2_memslot_desc){ .id = 0,
							     .ipa = s2_ipa(RAM_IPA),
							     .size = RAM_SIZE,
							     .backing = S2_BACKING_RAM,
							     .pa = s2_pa(RAM_PA),
							     .host_type = S2_HOSTMEM_NORMAL,
							     .backing_page_size = 2 << 20 }) == 0);
	CHECK(s2_vm_slot_add(
		      &vm, &(struct s2_memslot_desc){ .id = 1,
						      .ipa = s2_ipa(UART_IPA),
						      .size = 4096,
						      .backing = S2_BACKING_MMIO,
						      .pa = s2_pa(UART_PA),
						      .host_type = S2_HOSTMEM_DEVICE_nGnRE }) == 0);

	/* Guest entry: what to load. The VMID is assigned now; the root is table memory. */
	CHECK(s2_vm_vcpu_enter(&vcpu, &e) == 0);
	CHECK(e.vttbr >> 48 != 0);
	CHECK((e.vttbr & ((UINT64_C(1) << 48) - 1)) >= REF_PORT_PA_BASE);
	printf("enter: VTCR_EL2 0x%" PRIx64 " VTTBR_EL2 0x%" PRIx64 "\n", e.vtcr, e.vttbr);

	/* 1. A store to RAM: the walk stops at the empty level-1 entry; a 2 MiB block is mapped. */
	ab = data_abort(S2_FAULT_TRANSLATION, 1, true);
	ab.isv = true, ab.access_bytes = 8, ab.reg = 3, ab.reg64 = true;
	CHECK(guest_abort(&vcpu, ab, RAM_IPA + 0x201008, &r) == 0);
	CHECK(r.action == S2_ABORT_RESUME && r.resume == S2_RESUME_MAPPED);
	CHECK(r.map_size == 2 << 20);
	CHECK(s2_pgtable_lookup(&vm.pgt, s2_ipa(RAM_IPA + 0x201008), &l) == 0);
	CHECK(l.valid && l.level == 2 && s2_pa_val(l.pa) == RAM_PA + 0x201008);
	CHECK(s2_lookup_prot(l) & S2_PROT_W);
	CHECK(rp.dcache_bytes ==
	      2 << 20); /* no FWB: the block was cleaned before the guest saw it */

	/* 2. A load from the passed-through UART: mapped as Device memory. */
	CHECK(guest_abort(&vcpu, data_abort(S2_FAULT_TRANSLATION, 1, false), UART_IPA + 0x18, &r) ==
	      0);
	CHECK(r.action == S2_ABORT_RESUME && r.resume == S2_RESUME_MAPPED);
	CHECK(s2_pgtable_lookup(&vm.pgt, s2_ipa(UART_IPA), &l) == 0);
	CHECK(l.valid && s2_pa_val(l.pa) == UART_PA && (s2_lookup_prot(l) & S2_PROT_DEVICE));

	/* 3. A 32-bit store of W5 to the emulated device: an MMIO exit with its syndrome. */
	ab = data_abort(S2_FAULT_TRANSLATION, 1, true);
	ab.isv = true, ab.access_bytes = 4, ab.reg = 5;
	CHECK(guest_abort(&vcpu, ab, EMUL_IPA + 0x10, &r) == 0);
	CHECK(r.action == S2_ABORT_MMIO);
	CHECK(s2_ipa_val(r.mmio.ipa) == EMUL_IPA + 0x10 && r.mmio.write && r.mmio.size == 4 &&
	      r.mmio.reg == 5 && !r.mmio.reg64);

	/* 4. An instruction fetch from it: nothing to execute there, an abort to inject. */
	ab = (struct s2_abort){
		.ec = S2_EC_IABT_LOW, .is_insn = true, .fault = S2_FAULT_TRANSLATION, .level = 1
	};
	CHECK(guest_abort(&vcpu, ab, EMUL_IPA, &r) == 0);
	CHECK(r.action == S2_ABORT_INJECT && r.inject == S2_INJECT_EXEC_NOT_RAM);

	/* 5. Dirty logging (live migration of the partition): the block is split and
	 * write-protected; the next store takes a permission fault at the page. */
	unsigned long loads = hyp.loads;
	CHECK(s2_vm_dirty_log_enable(&vm, 0, false) == 0);
	CHECK(hyp.loads > loads && rp.tlbi > 0); /* TLBIs ran with this VM's context loaded */
	CHECK(s2_pgtable_lookup(&vm.pgt, s2_ipa(RAM_IPA + 0x201008), &l) == 0);
	CHECK(l.valid && l.level == 3 && !(s2_lookup_prot(l) & S2_PROT_W));
	CHECK(guest_abort(&vcpu, data_abort(S2_FAULT_PERMISSION, l.level, true), RAM_IPA + 0x201008,
			  &r) == 0);
	CHECK(r.action == S2_ABORT_RESUME && r.resume == S2_RESUME_RELAXED);
	CHECK(rp.tlbi_local > 0); /* the faulting CPU's stale entry is invalidated */
	memset(bitmap, 0, sizeof(bitmap));
	CHECK(s2_vm_dirty_log_get(&vm, 0, bitmap, sizeof(bitmap) / sizeof(bitmap[0]), &ndirty) ==
	      0);
	CHECK(ndirty == 1 && bitmap[0x201 / 64] == UINT64_C(1) << (0x201 % 64));
	CHECK(s2_vm_dirty_log_disable(&vm, 0) == 0);

	/* 6. Teardown: every page the VM took from the port comes back. */
	printf("faults: %" PRIu64 " mapped, %" PRIu64 " relaxed, %" PRIu64 " mmio exits, %" PRIu64
	       " injected; %lu TLBIs, %lu local\n",
	       vm.stats.mapped, vm.stats.relaxed, vm.stats.mmio_exits, vm.stats.injects,
	       (unsigned long)rp.tlbi, (unsigned long)rp.tlbi_local);
	s2_vcpu_destroy(&vcpu);
	s2_vm_destroy(&vm);
	CHECK(rp.units_in_use == 0);
	ref_port_fini(&rp);
	if (failures) {
		fprintf(stderr, "embed: %d check(s) failed\n", failures);
		return 1;
	}
	printf("embed: all checks passed\n");
	return 0;
}
