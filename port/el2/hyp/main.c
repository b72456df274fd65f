// SPDX-License-Identifier: MIT
/*
 * port/el2/hyp/main.c - the Linux-guest hypervisor: options, the guest's DTB (libfdt), the VM
 * and its memslots, the per-CPU run loop, PSCI, MMIO emulation, statistics. See
 * docs/linux-guest.md for the whole picture.
 */
#include <libfdt.h>
#include <string.h>

#include "hyp.h"
#include "sysreg.h"

struct hyp_opts hyp_opts;
struct hyp_cpu hyp_cpus[HYP_MAX_CPUS];
unsigned int hyp_nr_cpus;
struct s2_vm hyp_vm;
struct s2_caps hyp_caps;

static struct s2_vmid_alloc hyp_vmids;
static struct s2_memslot hyp_slots[16];
static uint64_t hyp_t0; /* counter at boot */
static volatile bool guest_reported;
static volatile uint32_t guest_result;

struct hyp_cpu *hyp_this_cpu(void)
{
	return (struct hyp_cpu *)(uintptr_t)el2_read_sysreg(tpidr_el2);
}

_Noreturn void el2_hyp_exception(uint64_t vector, uint64_t esr, uint64_t elr, uint64_t far);
_Noreturn void el2_hyp_exception(uint64_t vector, uint64_t esr, uint64_t elr, uint64_t far)
{
	el2_printf("hyp: exception in the hypervisor: vector %u esr 0x%llx elr 0x%llx far 0x%llx\n",
		   (unsigned int)vector, (unsigned long long)esr, (unsigned long long)elr,
		   (unsigned long long)far);
	el2_exit(1);
}

static _Noreturn void hyp_fail(const char *why)
{
	hyp_printf("hyp: FAIL: %s\n", why);
	el2_exit(1);
}

/* ---- options ----------------------------------------------------------------------------- */

static char guest_args[2048];

static uint64_t parse_num(const char *s, const char **end)
{
	uint64_t v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	*end = s;
	return v;
}

static bool tok_is(const char *t, size_t n, const char *opt)
{
	size_t k = strlen(opt);

	return n == k && !memcmp(t, opt, k);
}

/* One option token "s2.name=value" (@n bytes). */
static void parse_opt(const char *t, size_t n)
{
	const char *eq = memchr(t, '=', n), *v = eq ? eq + 1 : t + n, *e;
	size_t vn = (size_t)(t + n - v), kn = eq ? (size_t)(eq - t) : n;
	struct hyp_opts *o = &hyp_opts;

	if (tok_is(t, kn, "s2.granule")) {
		if (tok_is(v, vn, "4k"))
			o->granule = S2_GRANULE_4K;
		else if (tok_is(v, vn, "16k"))
			o->granule = S2_GRANULE_16K;
		else if (tok_is(v, vn, "64k"))
			o->granule = S2_GRANULE_64K;
		else
			hyp_fail("s2.granule: 4k, 16k or 64k");
	} else if (tok_is(t, kn, "s2.backing")) {
		if (tok_is(v, vn, "4k"))
			o->backing = 0x1000;
		else if (tok_is(v, vn, "2m"))
			o->backing = 0x200000;
		else
			hyp_fail("s2.backing: 4k or 2m");
	} else if (tok_is(t, kn, "s2.fwb")) {
		o->fwb = tok_is(v, vn, "on");
	} else if (tok_is(t, kn, "s2.dirty")) {
		o->dbm = tok_is(v, vn, "dbm");
	} else if (tok_is(t, kn, "s2.migrate")) {
		o->migrate = true;
	} else if (tok_is(t, kn, "s2.reclaim")) {
		o->reclaim = true;
	} else if (tok_is(t, kn, "s2.age")) {
		o->age = true;
	} else if (tok_is(t, kn, "s2.require_report")) {
		o->require_report = true;
	} else if (tok_is(t, kn, "s2.mutate")) {
		/* Mutation switch for checking the checks: "notlbi" issues no TLBI at all. */
		if (!tok_is(v, vn, "notlbi"))
			hyp_fail("s2.mutate: notlbi");
		hyp_mutate_notlbi = true;
	} else if (tok_is(t, kn, "s2.mem")) {
		o->mem = parse_num(v, &e) << 20;
	} else if (tok_is(t, kn, "s2.initrd_size")) {
		o->initrd_size = parse_num(v, &e);
	} else if (tok_is(t, kn, "s2.every")) {
		o->every = parse_num(v, &e);
	} else if (tok_is(t, kn, "s2.period")) {
		o->period_ms = parse_num(v, &e);
		if (e != t + n)
			hyp_fail("s2.period: milliseconds (0: no timed rounds)");
	} else {
		hyp_printf("hyp: unknown option %.*s\n", (int)n, t);
		hyp_fail("bad option");
	}
}

/* Split QEMU's bootargs: s2.* tokens are ours, the rest is the guest's command line. */
static void parse_bootargs(const char *args)
{
	size_t gl = 0;

	hyp_opts = (struct hyp_opts){ .granule = S2_GRANULE_4K,
				      .backing = 0x1000,
				      .mem = 256ULL << 20,
				      .every = 2000,
				      .period_ms = 1000 };
	while (args && *args) {
		const char *t = args;
		size_t n;

		while (*args && *args != ' ')
			args++;
		n = (size_t)(args - t);
		while (*args == ' ')
			args++;
		if (!n)
			continue;
		if (n > 3 && !memcmp(t, "s2.", 3)) {
			parse_opt(t, n);
			continue;
		}
		if (gl + n + 2 > sizeof(guest_args))
			hyp_fail("guest command line too long");
		if (gl)
			guest_args[gl++] = ' ';
		memcpy(guest_args + gl, t, n);
		gl += n;
	}
	guest_args[gl] = 0;
	hyp_opts.guest_args = guest_args;
	if (hyp_opts.backing < s2_granule_size(hyp_opts.granule))
		hyp_opts.backing = s2_granule_size(hyp_opts.granule);
	if (hyp_opts.mem < (uint64_t)HYP_MIN_MEM_MB << 20 || hyp_opts.mem > (1ULL << 30) ||
	    hyp_opts.mem % 0x200000)
		hyp_fail("s2.mem: 128..1024 MiB, a multiple of 2");
	if (hyp_opts.migrate && hyp_opts.reclaim)
		hyp_fail("s2.migrate and s2.reclaim cannot be combined");
	if (!hyp_opts.every)
		hyp_opts.every = 2000;
}

/* ---- the guest's DTB --------------------------------------------------------------------- */

static void check_fdt(int err, const char *what)
{
	if (err < 0) {
		hyp_printf("hyp: libfdt: %s: %s\n", what, fdt_strerror(err));
		hyp_fail("DTB");
	}
}

/* The CPUs QEMU describes (reg = MPIDR affinity). */
static void find_cpus(const void *fdt)
{
	int cpus = fdt_path_offset(fdt, "/cpus"), node;

	check_fdt(cpus, "/cpus");
	fdt_for_each_subnode(node, fdt, cpus)
	{
		const char *type = fdt_getprop(fdt, node, "device_type", NULL);
		const fdt32_t *reg;
		int len;

		if (!type || strcmp(type, "cpu"))
			continue;
		reg = fdt_getprop(fdt, node, "reg", &len);
		if (!reg || hyp_nr_cpus == HYP_MAX_CPUS)
			continue;
		hyp_cpus[hyp_nr_cpus].idx = hyp_nr_cpus;
		hyp_cpus[hyp_nr_cpus].mpidr =
			len >= 8 ? fdt64_to_cpu(*(const fdt64_t *)reg) : fdt32_to_cpu(reg[0]);
		hyp_nr_cpus++;
	}
}

/*
 * Copy QEMU's DTB into the last 2 MiB of guest RAM and edit it: the memory node describes the
 * guest's RAM, /chosen gets the guest's command line and the initrd range. Returns its IPA.
 */
static uint64_t make_guest_dtb(void *qdtb)
{
	uint64_t off = hyp_opts.mem - HYP_DTB_BYTES;
	void *fdt = (void *)(uintptr_t)(HYP_GUEST_PA + off);
	fdt64_t reg[2] = { cpu_to_fdt64(HYP_GUEST_IPA), cpu_to_fdt64(hyp_opts.mem) };
	int node, chosen;

	check_fdt(fdt_open_into(qdtb, fdt, (int)HYP_DTB_BYTES), "open_into");
	node = fdt_node_offset_by_prop_value(fdt, -1, "device_type", "memory", 7);
	check_fdt(node, "memory node");
	{
		const fdt64_t *q = fdt_getprop(fdt, node, "reg", NULL);

		if (!q)
			hyp_fail("memory node without reg");
		hyp_host_ram_end = fdt64_to_cpu(q[0]) + fdt64_to_cpu(q[1]);
	}
	check_fdt(fdt_setprop(fdt, node, "reg", reg, sizeof(reg)), "memory reg");
	chosen = fdt_path_offset(fdt, "/chosen");
	check_fdt(chosen, "/chosen");
	check_fdt(fdt_setprop_string(fdt, chosen, "bootargs", hyp_opts.guest_args), "bootargs");
	if (hyp_opts.initrd_size) {
		uint64_t s = HYP_GUEST_IPA + HYP_INITRD_OFF;

		check_fdt(fdt_setprop_u64(fdt, chosen, "linux,initrd-start", s), "initrd-start");
		check_fdt(
			fdt_setprop_u64(fdt, chosen, "linux,initrd-end", s + hyp_opts.initrd_size),
			"initrd-end");
	}
	return HYP_GUEST_IPA + off;
}

/* ---- the VM ----------------------------------------------------------------------------- */

/* QEMU virt's devices the guest drives itself: mapped Device-nGnRE, never an exit. */
static const struct {
	const char *name;
	uint64_t ipa, size;
} hyp_passthrough[] = {
	{ "gic-dist", 0x08000000, 0x10000 },
	{ "gic-redist", 0x080a0000, 0xf60000 },
	{ "pl011", 0x09000000, 0x1000 },
	{ "pl031-rtc", 0x09010000, 0x1000 },
	{ "virtio-mmio", 0x0a000000, 0x4000 },
	{ "pcie-mmio", 0x10000000, 0x2eff0000 },
	{ "pcie-pio", 0x3eff0000, 0x10000 },
	{ "pcie-ecam", 0x4010000000, 0x10000000 },
	{ "pcie-mmio-high", 0x8000000000, 0x8000000000 },
};

static int add_slot(uint32_t id, uint64_t ipa, uint64_t size, uint64_t pa, enum s2_backing b,
		    enum s2_hostmem t, uint64_t backing_page)
{
	uint64_t g = s2_granule_size(hyp_opts.granule);
	struct s2_memslot_desc d = {
		.id = id,
		.ipa = s2_ipa(S2_ALIGN_DOWN(ipa, g)),
		.size = S2_ALIGN_UP(ipa + size, g) - S2_ALIGN_DOWN(ipa, g),
		.backing = b,
		.pa = s2_pa(S2_ALIGN_DOWN(pa, g)),
		.hva = s2_hva(S2_ALIGN_DOWN(pa, g)),
		.host_type = t,
		.backing_page_size = backing_page,
	};

	return s2_vm_slot_add(&hyp_vm, &d);
}

static void create_vm(void)
{
	struct s2_idregs r;
	struct s2_vm_params p = { 0 };
	int err;

	el2_read_idregs(&r);
	if (s2_caps_from_idregs(&r, &hyp_caps) ||
	    s2_vmid_alloc_init(&hyp_vmids, hyp_caps.vmid_bits))
		hyp_fail("capabilities");
	p.caps = &hyp_caps;
	p.req.ipa_bits = 40;
	p.req.granule = hyp_opts.granule;
	/* As KVM: hardware access-flag updates whenever the CPU has them. */
	if (hyp_caps.hafdbs >= 1)
		p.req.flags |= S2_CFG_HA;
	if (hyp_opts.dbm) {
		if (hyp_caps.hafdbs < 2)
			hyp_fail("s2.dirty=dbm: the CPU has no hardware dirty state (HAFDBS < 2)");
		p.req.flags |= S2_CFG_HD;
	}
	if (hyp_opts.fwb) {
		if (!hyp_caps.fwb)
			hyp_fail("s2.fwb=on: the CPU has no FEAT_S2FWB");
		p.req.flags |= S2_CFG_FWB;
	}
	hyp_port_get(&p.port);
	hyp_vm_hooks(&p.hooks);
	p.vmids = &hyp_vmids;
	p.slots = hyp_slots;
	p.max_slots = 16;
	err = s2_vm_init(&hyp_vm, &p);
	if (err) {
		hyp_printf("hyp: s2_vm_init: %s\n", s2_errname(err));
		hyp_fail("VM");
	}
	err = add_slot(HYP_SLOT_RAM, HYP_GUEST_IPA, hyp_opts.mem, HYP_GUEST_PA, S2_BACKING_RAM,
		       S2_HOSTMEM_NORMAL, hyp_opts.backing);
	for (unsigned int i = 0; !err && i < S2_ARRAY_SIZE(hyp_passthrough); i++)
		err = add_slot(10 + i, hyp_passthrough[i].ipa, hyp_passthrough[i].size,
			       hyp_passthrough[i].ipa, S2_BACKING_MMIO, S2_HOSTMEM_DEVICE_nGnRE, 0);
	if (err) {
		hyp_printf("hyp: s2_vm_slot_add: %s\n", s2_errname(err));
		hyp_fail("memslots");
	}
}

/* ---- statistics --------------------------------------------------------------------------- */

static int level_of(uint64_t size)
{
	for (int l = -1; l <= 3; l++)
		if (hyp_vm.level_bytes[l + 1] == size)
			return l;
	return 3;
}

struct dump_state {
	uint64_t leaves[5], bytes[5];
	uint64_t run_ipa, run_pa, run_size, run_prot;
	int run_level;
	unsigned int lines;
};

static void dump_flush(struct dump_state *d)
{
	if (!d->run_size)
		return;
	if (d->lines++ < 24)
		hyp_printf("  ipa 0x%010llx-0x%010llx -> pa 0x%010llx  L%d %c%c%c\n",
			   (unsigned long long)d->run_ipa,
			   (unsigned long long)(d->run_ipa + d->run_size),
			   (unsigned long long)d->run_pa, d->run_level,
			   (d->run_prot & S2_PROT_R) ? 'r' : '-',
			   (d->run_prot & S2_PROT_W) ? 'w' : '-',
			   (d->run_prot & S2_PROT_X) ? 'x' : '-');
	d->run_size = 0;
}

static int dump_visit(void *arg, const struct s2_walk_visit *v)
{
	struct dump_state *d = arg;
	uint64_t prot, pa;

	if (!s2_leaf_is_valid(v->pte))
		return 0;
	prot = s2_leaf_prot(v->pte) & (S2_PROT_R | S2_PROT_W | S2_PROT_X);
	pa = s2_pa_val(s2_pte_oa(&hyp_vm.pgt.fmt, v->level, v->pte));
	d->leaves[v->level + 1]++;
	d->bytes[v->level + 1] += v->size;
	if (d->run_size && d->run_ipa + d->run_size == s2_ipa_val(v->ipa) &&
	    d->run_pa + d->run_size == pa && d->run_level == v->level && d->run_prot == prot) {
		d->run_size += v->size;
		return 0;
	}
	dump_flush(d);
	d->run_ipa = s2_ipa_val(v->ipa);
	d->run_pa = pa;
	d->run_size = v->size;
	d->run_level = v->level;
	d->run_prot = prot;
	return 0;
}

/* Return: false when the final s2_pgtable_check() found the tables inconsistent. */
static bool print_stats(const char *why)
{
	static const char *const fk[] = { "none",	  "addr-size", "translation", "access-flag",
					  "permission",	  "alignment", "external",    "ext-walk",
					  "tlb-conflict", "other" };
	struct hyp_cpu_stats t = { 0 };
	struct hyp_port_stats ps;
	struct s2_check_report rep;
	struct dump_state d = { 0 };
	uint64_t ticks = el2_counter() - hyp_t0, f = el2_counter_freq();

	for (unsigned int i = 0; i < hyp_nr_cpus; i++) {
		const struct hyp_cpu_stats *s = &hyp_cpus[i].st;
		const uint64_t *a = (const uint64_t *)s;
		uint64_t *b = (uint64_t *)&t;

		for (size_t k = 0; k < sizeof(t) / 8; k++)
			b[k] += a[k];
	}
	hyp_port_stats(&ps);
	hyp_printf("\n==== s2mmu hypervisor statistics (%s) ====\n", why);
	hyp_printf("time since boot: %llu ms; cpus %u; granule %s; backing %llu KiB; fwb %s; "
		   "dirty %s; mem %llu MiB\n",
		   (unsigned long long)(ticks * 1000 / f), hyp_nr_cpus,
		   s2_granule_name(hyp_opts.granule), (unsigned long long)(hyp_opts.backing >> 10),
		   hyp_opts.fwb ? "on" : "off", hyp_opts.dbm ? "dbm" : "fault",
		   (unsigned long long)(hyp_opts.mem >> 20));
	hyp_printf("exits: %llu:", (unsigned long long)t.exits);
	for (unsigned int ec = 0; ec < 64; ec++)
		if (t.ec[ec])
			hyp_printf(" EC 0x%02x: %llu", ec, (unsigned long long)t.ec[ec]);
	hyp_printf("\n");
	for (unsigned int k = 0; k <= S2_FAULT_OTHER; k++) {
		uint64_t n = 0;

		for (int l = 0; l < 5; l++)
			n += t.faults[k][l];
		if (!n)
			continue;
		hyp_printf("faults %s %llu, by level -1..3:", fk[k], (unsigned long long)n);
		for (int l = 0; l < 5; l++)
			hyp_printf(" %llu", (unsigned long long)t.faults[k][l]);
		hyp_printf("\n");
	}
	hyp_printf("resolved: mapped %llu relaxed %llu young %llu retry %llu; injected %llu; "
		   "mmio %llu (control %llu, unclaimed RAZ/WI %llu); sysreg traps %llu; psci %llu; "
		   "reclaimed pages restored %llu\n",
		   (unsigned long long)t.resume[0], (unsigned long long)t.resume[1],
		   (unsigned long long)t.resume[2], (unsigned long long)t.resume[3],
		   (unsigned long long)(t.inject[1] + t.inject[2] + t.inject[3] + t.inject[4] +
					t.inject[5] + t.inject[6] + t.inject[7]),
		   (unsigned long long)t.mmio, (unsigned long long)t.ctrl,
		   (unsigned long long)t.mmio_unclaimed, (unsigned long long)t.sysreg,
		   (unsigned long long)t.psci, (unsigned long long)t.restored);
	hyp_printf("psci: CPU_ON %llu, CPU_OFF %llu\n", (unsigned long long)t.cpu_on,
		   (unsigned long long)t.cpu_off);
	hyp_printf("new mappings by level -1..3: %llu %llu %llu %llu %llu\n",
		   (unsigned long long)t.mapped[0], (unsigned long long)t.mapped[1],
		   (unsigned long long)t.mapped[2], (unsigned long long)t.mapped[3],
		   (unsigned long long)t.mapped[4]);
	hyp_printf("TLBI: IPAS2E1IS %llu, IPAS2E1 (local) %llu, VMALLS12E1IS %llu, VMALLE1IS %llu; "
		   "DC CIVAC %llu lines in %llu calls; IC IALLUIS %llu\n",
		   (unsigned long long)ps.tlbi_ipa, (unsigned long long)ps.tlbi_ipa_local,
		   (unsigned long long)ps.tlbi_vmid, (unsigned long long)ps.tlbi_s1,
		   (unsigned long long)ps.dc_lines, (unsigned long long)ps.dc_calls,
		   (unsigned long long)ps.ic_calls);
	hyp_printf(
		"VM layer: faults tr %llu perm %llu af %llu other %llu; mapped %llu relaxed %llu "
		"young %llu retries %llu; vmid changes %llu\n",
		(unsigned long long)hyp_vm.stats.faults[0],
		(unsigned long long)hyp_vm.stats.faults[1],
		(unsigned long long)hyp_vm.stats.faults[2],
		(unsigned long long)hyp_vm.stats.faults[3], (unsigned long long)hyp_vm.stats.mapped,
		(unsigned long long)hyp_vm.stats.relaxed, (unsigned long long)hyp_vm.stats.young,
		(unsigned long long)hyp_vm.stats.retries,
		(unsigned long long)hyp_vm.stats.vmid_changes);
	hyp_memops_print();
	hyp_printf("stage-2 dump (contiguous runs, first 24):\n");
	s2_pgtable_walk(&hyp_vm.pgt, s2_ipa(0), 1ULL << hyp_vm.pgt.cfg.ipa_bits,
			S2_WALK_LEAF | S2_WALK_SKIP_EMPTY, dump_visit, &d);
	dump_flush(&d);
	hyp_printf("  %u runs; leaves by level -1..3: %llu %llu %llu %llu %llu (%llu KiB mapped)\n",
		   d.lines, (unsigned long long)d.leaves[0], (unsigned long long)d.leaves[1],
		   (unsigned long long)d.leaves[2], (unsigned long long)d.leaves[3],
		   (unsigned long long)d.leaves[4],
		   (unsigned long long)((d.bytes[0] + d.bytes[1] + d.bytes[2] + d.bytes[3] +
					 d.bytes[4]) >>
					10));
	if (s2_pgtable_check(&hyp_vm.pgt, &rep)) {
		hyp_printf("stage-2 check: %llu error(s): %s\n", (unsigned long long)rep.errors,
			   rep.first_error);
		return false;
	}
	hyp_printf("stage-2 check: consistent; table pages %llu (%llu KiB); pool in use %llu "
		   "KiB, peak %llu KiB\n",
		   (unsigned long long)rep.table_pages,
		   (unsigned long long)(rep.table_pages * s2_granule_size(hyp_opts.granule) >> 10),
		   (unsigned long long)(ps.pool_used >> 10),
		   (unsigned long long)(ps.pool_peak >> 10));
	return true;
}

/* ---- exits ------------------------------------------------------------------------------ */

#define EC_WFX 0x01
#define EC_HVC64 0x16
#define EC_SMC64 0x17
#define EC_SYS64 0x18

#define PSCI_VERSION 0x84000000u
#define PSCI_CPU_OFF 0x84000002u
#define PSCI_CPU_ON_64 0xc4000003u
#define PSCI_CPU_ON_32 0x84000003u
#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u
#define PSCI_SYSTEM_RESET2_32 0x84000012u
#define PSCI_SYSTEM_RESET2_64 0xc4000012u
#define PSCI_NOT_SUPPORTED ((uint64_t)-1)
#define PSCI_INVALID_PARAMS ((uint64_t)-2)

static _Noreturn void system_off(struct hyp_cpu *c, bool reset)
{
	bool ok = !reset;

	hyp_printf("\nhyp: %s from CPU %u\n", reset ? "SYSTEM_RESET" : "SYSTEM_OFF", c->idx);
	if (hyp_memops_finish())
		ok = false;
	if (guest_reported && guest_result) {
		hyp_printf("hyp: the guest reported failure %u\n", guest_result);
		ok = false;
	} else if (guest_reported) {
		hyp_printf("hyp: the guest reported success\n");
	} else if (hyp_opts.require_report) {
		hyp_printf("hyp: the guest did not report a result\n");
		ok = false;
	}
	if (!print_stats(reset ? "reset" : "power off"))
		ok = false;
	hyp_printf("hyp: RESULT %s\n", ok ? "PASS" : "FAIL");
	el2_exit(ok ? 0 : 1);
}

static uint64_t psci_cpu_on(uint64_t mpidr, uint64_t entry, uint64_t ctx)
{
	for (unsigned int i = 0; i < hyp_nr_cpus; i++) {
		struct hyp_cpu *t = &hyp_cpus[i];
		uint64_t r;

		if (t->mpidr != (mpidr & 0xff00ffffffULL))
			continue;
		if (t->on)
			return (uint64_t)-4; /* ALREADY_ON */
		t->entry = entry;
		t->ctx = ctx;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		/* The firmware (QEMU's PSCI) starts the CPU at EL2 at our secondary entry. */
		r = hyp_smc(PSCI_CPU_ON_64, mpidr, (uint64_t)(uintptr_t)hyp_secondary_entry, i);
		return r;
	}
	return PSCI_INVALID_PARAMS;
}

/* PSCI and other SMCCC calls (SMC trapped by HCR_EL2.TSC, or HVC). */
static void handle_smccc(struct hyp_cpu *c)
{
	uint64_t *x = c->regs.x;
	uint32_t fn = (uint32_t)x[0];

	c->st.psci++;
	switch (fn) {
	case PSCI_SYSTEM_OFF:
		system_off(c, false);
	case PSCI_SYSTEM_RESET:
	case PSCI_SYSTEM_RESET2_32:
	case PSCI_SYSTEM_RESET2_64:
		system_off(c, true);
	case PSCI_CPU_ON_64:
	case PSCI_CPU_ON_32:
		x[0] = psci_cpu_on(x[1], x[2], x[3]);
		if (!x[0])
			c->st.cpu_on++;
		return;
	case PSCI_CPU_OFF:
		/* The CPU powers off in the firmware; a later CPU_ON starts it again at
		 * hyp_secondary_entry, which re-initialises its vCPU (vcpu_run()). */
		c->st.cpu_off++;
		c->on = false;
		x[0] = hyp_smc(PSCI_CPU_OFF, 0, 0, 0); /* returns only on failure */
		c->on = true;
		return;
	default:
		/* The rest of PSCI (version, features, affinity info, suspend, ...) goes to the
		 * firmware; other SMCCC services do not exist here. */
		if ((fn & 0xbfffffe0u) == 0x84000000u)
			x[0] = hyp_smc(fn, x[1], x[2], x[3]);
		else
			x[0] = PSCI_NOT_SUPPORTED;
		return;
	}
}

/* The control device: magic, result, operations. */
static uint64_t ctrl_access(struct hyp_cpu *c, uint64_t off, bool write, uint64_t val)
{
	c->st.ctrl++;
	if (!write)
		return off == HYP_CTRL_MAGIC	? HYP_CTRL_MAGIC_VAL :
		       off == HYP_CTRL_OPS_DONE ? hyp_ops_done :
						  0;
	if (off == HYP_CTRL_RESULT) {
		guest_result = (uint32_t)val;
		guest_reported = true;
		hyp_printf("hyp: guest reports %s (%u)\n", val ? "FAILURE" : "success",
			   (unsigned int)val);
	} else if (off == HYP_CTRL_OP) {
		int err = hyp_memops_run((enum hyp_op)val);

		if (err) {
			hyp_printf("hyp: operation %u: %s\n", (unsigned int)val, s2_errname(err));
			hyp_fail("memory operation");
		}
	}
	return 0;
}

static void emulate_mmio(struct hyp_cpu *c, const struct s2_mmio_access *m)
{
	uint64_t ipa = s2_ipa_val(m->ipa), val = 0, mask;
	unsigned int bits = m->size * 8;

	if (m->cache_maint)
		return;
	if (!m->syndrome) {
		hyp_printf("hyp: MMIO at 0x%llx without syndrome, pc 0x%llx\n",
			   (unsigned long long)ipa, (unsigned long long)c->regs.elr);
		hyp_fail("MMIO without syndrome");
	}
	mask = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
	c->st.mmio++;
	if (m->write)
		val = (m->reg == 31 ? 0 : c->regs.x[m->reg]) & mask;
	if (ipa >= HYP_CTRL_IPA && ipa < HYP_CTRL_IPA + 0x1000) {
		val = ctrl_access(c, ipa - HYP_CTRL_IPA, m->write, val);
	} else {
		/* No device here: reads as zero, writes ignored. */
		c->st.mmio_unclaimed++;
		val = 0;
	}
	if (!m->write && m->reg != 31) {
		val &= mask;
		if (m->sign_extend && bits < 64 && ((val >> (bits - 1)) & 1))
			val |= ~mask;
		if (!m->reg64)
			val &= 0xffffffffu;
		c->regs.x[m->reg] = val;
	}
}

/* A synchronous external abort into the guest's EL1 (as KVM injects). */
static void inject_abort(struct hyp_cpu *c, uint64_t esr)
{
	uint64_t mode = c->regs.spsr & 0xf, far = el2_read_sysreg(far_el2);
	bool insn = ((esr >> 26) & 0x3f) == S2_EC_IABT_LOW;
	bool el1 = mode == 4 || mode == 5;
	uint32_t ec = insn ? (el1 ? S2_EC_IABT_CUR : S2_EC_IABT_LOW) :
			     (el1 ? S2_EC_DABT_CUR : S2_EC_DABT_LOW);

	el2_write_sysreg(esr_el1, ((uint64_t)ec << 26) | (esr & (1UL << 25)) | 0x10);
	el2_write_sysreg(far_el1, far);
	el2_write_sysreg(elr_el1, c->regs.elr);
	el2_write_sysreg(spsr_el1, c->regs.spsr);
	c->regs.elr = el2_read_sysreg(vbar_el1) + (mode == 4 ? 0 : mode == 5 ? 0x200 : 0x400);
	c->regs.spsr = SPSR_EL1H_MASKED;
}

static void handle_abort(struct hyp_cpu *c, uint64_t esr)
{
	uint64_t far = el2_read_sysreg(far_el2), hpfar = el2_read_sysreg(hpfar_el2);
	uint64_t ipa = (((hpfar >> 4) & S2_GENMASK(39, 0)) << 12) | (far & 0xfff);
	struct s2_abort_result res;
	int err;

	hyp_memops_fault_begin(c, ipa);
	err = s2_vm_handle_abort(&c->vcpu, esr, far, hpfar, &res);
	hyp_memops_fault_end(err ? NULL : &res);
	if (err) {
		hyp_printf("hyp: s2_vm_handle_abort: %s (esr 0x%llx ipa 0x%llx)\n", s2_errname(err),
			   (unsigned long long)esr, (unsigned long long)ipa);
		hyp_fail("abort");
	}
	/* A livelock: the library finds the same fault (same syndrome, same IPA) already
	 * resolved (RETRY) again and again while the guest cannot get past it. Other exits may
	 * come in between (the guest's interrupts run its kernel), so only another RETRY
	 * restarts the count. Stop with the details instead of spinning. */
	if (res.action == S2_ABORT_RESUME && res.resume == S2_RESUME_RETRY) {
		if (esr == c->retry_esr && ipa == c->retry_ipa) {
			if (++c->retries == 10000) {
				hyp_printf(
					"hyp: CPU %u: livelock: esr 0x%llx ipa 0x%llx pc 0x%llx: "
					"fault %s level %d write %d exec %d s1ptw %d found resolved "
					"10000 times\n",
					c->idx, (unsigned long long)esr, (unsigned long long)ipa,
					(unsigned long long)c->regs.elr, s2_fault_name(res.fault),
					res.level, res.write, res.exec, res.s1ptw);
				hyp_fail("livelock");
			}
		} else {
			c->retry_esr = esr;
			c->retry_ipa = ipa;
			c->retries = 0;
		}
	}
	if (res.fault <= S2_FAULT_OTHER && res.level >= -1 && res.level <= 3)
		c->st.faults[res.fault][res.level + 1]++;
	switch (res.action) {
	case S2_ABORT_RESUME:
		c->st.resume[res.resume & 3]++;
		if (res.resume == S2_RESUME_MAPPED)
			c->st.mapped[level_of(res.map_size) + 1]++;
		break;
	case S2_ABORT_MMIO:
		emulate_mmio(c, &res.mmio);
		c->regs.elr += 4;
		break;
	case S2_ABORT_INJECT:
		c->st.inject[res.inject & 7]++;
		hyp_printf("hyp: CPU %u: inject external abort (%s) ipa 0x%llx pc 0x%llx\n", c->idx,
			   s2_inject_reason_name(res.inject),
			   (unsigned long long)s2_ipa_val(res.ipa),
			   (unsigned long long)c->regs.elr);
		inject_abort(c, esr);
		break;
	case S2_ABORT_NISV:
		hyp_printf("hyp: access without syndrome at ipa 0x%llx pc 0x%llx\n",
			   (unsigned long long)s2_ipa_val(res.ipa),
			   (unsigned long long)c->regs.elr);
		hyp_fail("NISV");
	}
}

static void handle_exit(struct hyp_cpu *c, uint64_t vector)
{
	uint64_t esr = el2_read_sysreg(esr_el2);
	uint32_t ec = (uint32_t)(esr >> 26) & 0x3f;

	/* A heartbeat for long or stuck runs: where the last exit came from. */
	if (!(++c->st.exits & ((1u << 18) - 1)))
		hyp_printf(
			"hyp: CPU %u: %llu exits; this one: esr 0x%llx far 0x%llx hpfar 0x%llx pc "
			"0x%llx\n",
			c->idx, (unsigned long long)c->st.exits, (unsigned long long)esr,
			(unsigned long long)el2_read_sysreg(far_el2),
			(unsigned long long)el2_read_sysreg(hpfar_el2),
			(unsigned long long)c->regs.elr);
	if (vector != 0) {
		hyp_printf("hyp: CPU %u: asynchronous exit (vector %llu) esr 0x%llx pc 0x%llx\n",
			   c->idx, (unsigned long long)vector, (unsigned long long)esr,
			   (unsigned long long)c->regs.elr);
		hyp_fail("asynchronous exception at EL2");
	}
	c->st.ec[ec]++;
	switch (ec) {
	case S2_EC_DABT_LOW:
	case S2_EC_IABT_LOW:
		handle_abort(c, esr);
		return;
	case EC_SMC64:
		c->regs.elr += 4; /* ELR points at the trapped SMC */
		handle_smccc(c);
		return;
	case EC_HVC64:
		handle_smccc(c);
		return;
	case EC_WFX:
		/* WFI is trapped (HCR_EL2.TWI) only when periodic operations run by time, so
		 * that an idle guest still exits: run_loop() checks the time before re-entry.
		 * Wait here as the guest would: a pending physical interrupt (routed to the
		 * guest's EL1, masked at EL2) wakes the WFI. WFE is not trapped. */
		if (!(esr & 1)) {
			c->idle = true;
			__asm__ volatile("dsb sy\n\twfi" ::: "memory");
		}
		c->regs.elr += 4;
		return;
	case EC_SYS64: {
		/* A trapped system register access: reads as zero, writes ignored. */
		unsigned int rt = (esr >> 5) & 0x1f;

		if (c->st.sysreg++ < 8)
			hyp_printf(
				"hyp: CPU %u: system register trap esr 0x%llx pc 0x%llx (RAZ/WI)\n",
				c->idx, (unsigned long long)esr, (unsigned long long)c->regs.elr);
		if ((esr & 1) && rt != 31)
			c->regs.x[rt] = 0;
		c->regs.elr += 4;
		return;
	}
	default:
		hyp_printf("hyp: CPU %u: unhandled exit EC 0x%x esr 0x%llx pc 0x%llx far 0x%llx\n",
			   c->idx, ec, (unsigned long long)esr, (unsigned long long)c->regs.elr,
			   (unsigned long long)el2_read_sysreg(far_el2));
		hyp_fail("unhandled exit");
	}
}

/* ---- per-CPU EL2 set-up and the run loop -------------------------------------------------- */

#define HCR_FB (UINT64_C(1) << 9)
#define HCR_TWI (UINT64_C(1) << 13)
#define HCR_BSU_IS (UINT64_C(1) << 10)
#define HCR_APK (UINT64_C(1) << 40)
#define HCR_API (UINT64_C(1) << 41)

static void el2_cpu_setup(void)
{
	uint64_t pfr0 = el2_read_sysreg(id_aa64pfr0_el1), pfr1 = el2_read_sysreg(id_aa64pfr1_el1);

	el2_write_sysreg(vpidr_el2, el2_read_sysreg(midr_el1));
	el2_write_sysreg(vmpidr_el2, el2_read_sysreg(mpidr_el1));
	/* The guest owns the EL1 physical counter/timer access and the virtual timer. */
	el2_write_sysreg(cnthctl_el2, 3UL);
	el2_write_sysreg(cntvoff_el2, 0UL);
	/* GICv3: system-register interface, EL1 may use ICC_SRE_EL1; no virtual CPU interface
	 * (ICH_HCR_EL2.En = 0): the guest drives the physical one. */
	el2_write_sysreg(s3_4_c12_c9_5, 0xfUL); /* ICC_SRE_EL2 */
	el2_isb();
	el2_write_sysreg(s3_4_c12_c11_0, 0UL); /* ICH_HCR_EL2 */
	/* PMU: every counter for EL1 (MDCR_EL2.HPMN = PMCR_EL0.N), no debug traps. */
	el2_write_sysreg(mdcr_el2, (el2_read_sysreg(pmcr_el0) >> 11) & 0x1f);
	el2_write_sysreg(hstr_el2, 0UL);
	if ((pfr0 >> 32) & 0xf)
		el2_write_sysreg(s3_4_c1_c2_0, 0xfUL); /* ZCR_EL2.LEN: the largest vector */
	if ((pfr1 >> 24) & 0xf)
		el2_write_sysreg(s3_4_c1_c2_6, (1UL << 31) | 0xfUL); /* SMCR_EL2: FA64, LEN */
	/* SCTLR_EL1 with the MMU and caches off, as Linux's boot protocol wants. */
	el2_write_sysreg(sctlr_el1, 0x30d00800UL);
	el2_isb();
}

static _Noreturn void vcpu_run(struct hyp_cpu *c)
{
	uint64_t hcr_base = HCR_VM | HCR_RW | HCR_TSC | HCR_FB | HCR_BSU_IS | HCR_API | HCR_APK;
	int err;

	/* A CPU started again after CPU_OFF: give its vCPU's cached table pages back first. */
	if (c->vcpu.vm)
		s2_vcpu_destroy(&c->vcpu);
	err = s2_vcpu_init(&c->vcpu, &hyp_vm, c->idx);

	if (err)
		hyp_fail("s2_vcpu_init");
	for (unsigned int i = 0; i < 31; i++)
		c->regs.x[i] = 0;
	c->regs.x[0] = c->ctx;
	c->regs.elr = c->entry;
	c->regs.spsr = SPSR_EL1H_MASKED;
	c->regs.sp_el1 = 0;
	c->on = true;
	if (hyp_memops_periodic() && hyp_opts.period_ms)
		hcr_base |= HCR_TWI;
	for (;;) {
		struct s2_vcpu_entry e;
		uint64_t v;

		hyp_memops_tick(c, c->idle);
		c->idle = false;
		err = s2_vm_vcpu_enter(&c->vcpu, &e);
		if (err)
			hyp_fail("s2_vm_vcpu_enter");
		if (el2_read_sysreg(vtcr_el2) != e.vtcr || el2_read_sysreg(vttbr_el2) != e.vttbr) {
			el2_write_sysreg(vtcr_el2, e.vtcr);
			el2_write_sysreg(vttbr_el2, e.vttbr);
		}
		el2_write_sysreg(hcr_el2, (hcr_base | e.hcr_set) & ~e.hcr_clear);
		el2_isb();
		v = el2_guest_enter(&c->regs);
		handle_exit(c, v);
	}
}

_Noreturn void hyp_cpu_main(uint64_t idx);
_Noreturn void hyp_cpu_main(uint64_t idx)
{
	struct hyp_cpu *c = &hyp_cpus[idx < HYP_MAX_CPUS ? idx : 0];

	el2_write_sysreg(tpidr_el2, (uint64_t)(uintptr_t)c);
	el2_cpu_setup();
	if (idx == 0) {
		void *qdtb = (void *)HYP_QEMU_DTB;
		const char *args;
		uint64_t dtb, kernel = HYP_GUEST_PA + HYP_KERNEL_OFF;

		hyp_t0 = el2_counter();
		if ((el2_read_sysreg(CurrentEL) >> 2) != 2)
			hyp_fail("not entered at EL2 (need -M virt,virtualization=on)");
		if (fdt_check_header(qdtb))
			hyp_fail("no DTB at 0x40000000 (QEMU gives one when the ELF starts at or "
				 "above 0x40100000)");
		args = fdt_getprop(qdtb, fdt_path_offset(qdtb, "/chosen"), "bootargs", NULL);
		parse_bootargs(args);
		find_cpus(qdtb);
		if (!hyp_nr_cpus)
			hyp_fail("no CPU in the DTB");
		/* The arm64 Image header: magic "ARM\x64" at 56, image_size at 16. */
		if (*(volatile uint32_t *)(kernel + 56) != 0x644d5241u)
			hyp_fail("no arm64 Image at guest RAM + 2 MiB (-device loader)");
		if (*(volatile uint64_t *)(kernel + 16) > HYP_INITRD_OFF - HYP_KERNEL_OFF)
			hyp_fail("the kernel's image_size overlaps the initrd");
		if (hyp_opts.initrd_size > hyp_opts.mem - HYP_DTB_BYTES - HYP_INITRD_OFF)
			hyp_fail("the initrd does not fit in guest RAM");
		dtb = make_guest_dtb(qdtb);
		create_vm();
		if (hyp_memops_init())
			hyp_fail("memory operations");
		hyp_printf(
			"hyp: s2mmu hypervisor: %u CPU(s), guest RAM %llu MiB at IPA 0x%llx "
			"(PA 0x%llx), granule %s, backing %llu KiB, FWB %s, HA %s, dirty %s%s%s%s\n",
			hyp_nr_cpus, (unsigned long long)(hyp_opts.mem >> 20),
			(unsigned long long)HYP_GUEST_IPA, (unsigned long long)HYP_GUEST_PA,
			s2_granule_name(hyp_opts.granule),
			(unsigned long long)(hyp_opts.backing >> 10), hyp_opts.fwb ? "on" : "off",
			(hyp_vm.pgt.cfg.vtcr & (1UL << 21)) ? "on" : "off",
			hyp_opts.dbm ? "dbm" : "fault", hyp_opts.migrate ? ", migrate" : "",
			hyp_opts.reclaim ? ", reclaim" : "", hyp_opts.age ? ", age" : "");
		hyp_printf("hyp: guest command line: %s\n", hyp_opts.guest_args);
		if (hyp_mutate_notlbi)
			hyp_printf("hyp: MUTATION: no TLB invalidation at all\n");
		c->entry = HYP_GUEST_IPA + HYP_KERNEL_OFF;
		c->ctx = dtb;
	}
	vcpu_run(c);
}
