/* SPDX-License-Identifier: MIT */
/*
 * port/el2/hyp/hyp.h - the Linux-guest hypervisor: a small reference hypervisor on the EL2
 * port that boots a Linux Image as an EL1 guest with its stage 2 managed by s2mmu's VM layer.
 * See docs/linux-guest.md.
 */
#ifndef S2_HYP_H
#define S2_HYP_H

#include <stdbool.h>
#include <stdint.h>

#include "el2.h"
#include "s2mmu/vm.h"

/* ---- memory map (host physical; QEMU virt, RAM from 0x40000000) ------------------------------ */

#define HYP_QEMU_DTB 0x40000000UL /* QEMU's DTB (the ELF starts above 0x40100000) */
#define HYP_GUEST_PA 0x48000000UL /* guest RAM backing; kernel and initrd are loaded in it */
#define HYP_GUEST_IPA 0x40000000UL /* where the guest sees its RAM */
#define HYP_KERNEL_OFF 0x200000UL /* Image at guest RAM + 2 MiB (2 MiB aligned) */
#define HYP_INITRD_OFF 0x6000000UL /* initramfs at guest RAM + 96 MiB */
#define HYP_DTB_BYTES 0x200000UL /* the guest's DTB: the last 2 MiB of its RAM */
#define HYP_MIN_MEM_MB 128
#define HYP_CTRL_IPA 0x0b000000UL /* the control device (an MMIO exit, no slot) */
#define HYP_MAX_CPUS 8

/* Control device registers (32-bit). */
#define HYP_CTRL_MAGIC 0x00 /* R: 0x554d3253 "S2MU" */
#define HYP_CTRL_RESULT 0x04 /* W: 0 = the guest's checks passed, anything else a failure */
#define HYP_CTRL_OP 0x08 /* W: run a memory operation now (enum hyp_op) */
#define HYP_CTRL_OPS_DONE 0x0c /* R: operations run so far */
#define HYP_CTRL_MAGIC_VAL 0x554d3253u

enum hyp_op {
	HYP_OP_NONE = 0,
	HYP_OP_MIGRATE = 1, /* a dirty-log harvest-and-copy round (starts logging first) */
	HYP_OP_RECLAIM = 2, /* evict a batch of guest pages */
	HYP_OP_AGE = 3, /* test and clear the access flag of all guest RAM */
	HYP_OP_UNMAP = 4, /* unmap all guest RAM (host invalidation): everything refaults */
};

/* ---- options (from QEMU's /chosen/bootargs, before "--") ------------------------------------- */

struct hyp_opts {
	enum s2_granule granule;
	uint64_t backing; /* backing page size, bytes */
	bool fwb;
	bool dbm; /* dirty logging with hardware dirty state */
	bool migrate, reclaim, age;
	bool require_report; /* fail unless the guest reported success */
	uint64_t mem; /* guest RAM, bytes */
	uint64_t initrd_size;
	uint64_t every; /* run the periodic operations every this many exits */
	uint64_t period_ms; /* and every this many milliseconds (0: never by time) */
	const char *guest_args;
};

extern struct hyp_opts hyp_opts;

/* ---- per-CPU state ------------------------------------------------------------------------ */

struct hyp_cpu_stats {
	uint64_t exits;
	uint64_t ec[64]; /* exits by exception class */
	uint64_t faults[S2_FAULT_OTHER + 1][5]; /* stage-2 faults by kind and level + 1 */
	uint64_t mapped[5]; /* new leaves by level + 1 */
	uint64_t resume[4], inject[8], mmio, mmio_unclaimed, ctrl, sysreg, psci;
	uint64_t restored; /* reclaimed pages brought back on a fault */
	uint64_t cpu_on, cpu_off; /* PSCI CPU_ON calls that started a CPU, CPU_OFF calls */
};

struct hyp_cpu {
	struct el2_guest_regs regs; /* first: the world switch finds it through TPIDR_EL2 */
	unsigned int idx;
	uint64_t mpidr;
	volatile bool on; /* runs a vCPU */
	bool idle; /* the last exit was a trapped WFI */
	uint64_t entry, ctx; /* CPU_ON: the guest's entry point and context */
	struct s2_vcpu vcpu;
	uint64_t retry_esr, retry_ipa, retries; /* livelock detection (main.c) */
	struct hyp_cpu_stats st;
};

extern struct hyp_cpu hyp_cpus[HYP_MAX_CPUS];
extern unsigned int hyp_nr_cpus;
struct hyp_cpu *hyp_this_cpu(void);

/* ---- the VM ------------------------------------------------------------------------------- */

#define HYP_SLOT_RAM 1
extern struct s2_vm hyp_vm;
extern struct s2_caps hyp_caps;

/* ---- port.c: EL2 MMU, locks, table pages, the s2_port ------------------------------------- */

void hyp_mmu_build(void);
void hyp_mmu_enable(void);

typedef struct {
	volatile uint32_t v;
} hyp_spinlock_t;
void hyp_spin_lock(hyp_spinlock_t *l);
void hyp_spin_unlock(hyp_spinlock_t *l);
typedef struct {
	volatile int32_t v; /* readers, or -1 when held exclusively */
} hyp_rwlock_t;
void hyp_read_lock(hyp_rwlock_t *l);
void hyp_read_unlock(hyp_rwlock_t *l);
void hyp_write_lock(hyp_rwlock_t *l);
void hyp_write_unlock(hyp_rwlock_t *l);

void hyp_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void hyp_port_get(struct s2_port *port);
extern bool hyp_mutate_notlbi;
void hyp_vm_hooks(struct s2_vm_hooks *h);
struct hyp_port_stats {
	uint64_t tlbi_ipa, tlbi_ipa_local, tlbi_vmid, tlbi_s1, dc_calls, dc_lines, ic_calls;
	uint64_t pool_used, pool_peak, pool_bytes;
};
void hyp_port_stats(struct hyp_port_stats *s);

/* ---- memops.c: what the hypervisor does to guest memory ----------------------------------- */

int hyp_memops_init(void);
/* Whether any periodic operation (migrate, reclaim, age) is configured. */
bool hyp_memops_periodic(void);
/* Called by every CPU before each guest entry (@idle: after a trapped WFI): runs the periodic
 * operations when their exit count or their time is due. */
void hyp_memops_tick(struct hyp_cpu *c, bool idle);
/* An operation asked through the control device. */
int hyp_memops_run(enum hyp_op op);
/* Before a stage-2 abort at @ipa is handled (reclaim: bring the pages back). */
void hyp_memops_fault_begin(struct hyp_cpu *c, uint64_t ipa);
void hyp_memops_fault_end(const struct s2_abort_result *res); /* @res NULL on error */
/* At SYSTEM_OFF, all vCPUs stopped: the final checks. Return: 0 when every check held. */
int hyp_memops_finish(void);
void hyp_memops_print(void);
extern uint64_t hyp_ops_done;
extern uint64_t hyp_host_ram_end; /* end of QEMU's RAM, from its DTB */

/* uint64_t hyp_smc(fn, a1, a2, a3) (boot.S); the world switch is el2_guest_enter() (el2.h). */
uint64_t hyp_smc(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3);
extern char hyp_secondary_entry[];

#endif /* S2_HYP_H */
