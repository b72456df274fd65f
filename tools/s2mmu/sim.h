/* SPDX-License-Identifier: MIT */
/*
 * sim.h - the scenario simulator behind `s2mmu sim` and `s2mmu dump` (docs/sim.md).
 *
 * sim_run.c and the files it dispatches to (sim_int.h lists them) parse and run a scenario
 * file: a hosted port (page arena with recorded TLBIs and cache maintenance), VMs of the VM layer with their memslots, and guest accesses that go
 * through the reference walker (walk.h) and its TLB model, faults being turned into ESR_EL2 /
 * FAR_EL2 / HPFAR_EL2 and handed to s2_vm_handle_abort(). sim_dump.c turns a VM's tables into
 * runs (one line per run of adjacent entries with the same attributes and contiguous output);
 * sim_svg.c draws them.
 */
#ifndef S2MMU_SIM_H
#define S2MMU_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"

#include "host_port.h"
#include "s2mmu/owner.h"
#include "s2mmu/vm.h"
#include "s2mmu/walk.h"

#define SIM_MAX_VMS 8
#define SIM_MAX_SLOTS 32
#define SIM_TLB_ENTRIES 64
#define SIM_MAX_RETRIES 8 /* faults one access may take before it is reported stuck */

/* Where the hosted port's table pages live (host PA); slots may not overlap it. */
#define SIM_ARENA_PA UINT64_C(0xc0000000)
#define SIM_ARENA_BYTES (UINT64_C(64) << 20)

/* Exit statuses of a scenario run (the CLI's). */
#define SIM_OK 0
#define SIM_EXPECT 1 /* an `expect` (or an unexpected library error) failed */
#define SIM_SYNTAX 2 /* the file is malformed (or cannot be read) */

struct sim_vm {
	unsigned int id; /* the scenario's name for the VM */
	bool entered; /* a vCPU entry happened */
	bool protected_vm; /* pKVM: RAM may be donated to it */
	bool og_ready; /* og is set up (pKVM mode) */
	/* created with `owner-managed`: its faults go through the owner, the steps below act on
	 * vm.og (the VM layer's own guest) instead of og */
	bool owner_managed;
	struct s2_vm vm;
	struct s2_vcpu vcpu;
	struct s2_memslot slots[SIM_MAX_SLOTS];
	struct s2_owner_guest og; /* the VM as the owner layer sees it */
};

/* One run of the dump: adjacent leaf entries with identical attributes. */
struct sim_run {
	uint64_t ipa; /* first IPA */
	uint64_t len; /* bytes */
	uint64_t pa; /* output address of ipa (valid runs) */
	uint64_t entry; /* bytes one entry maps */
	unsigned int count; /* entries merged */
	int level;
	bool valid; /* false: invalid entries annotated with an owner id */
	uint8_t memattr, s2ap, xn, sw, owner;
	bool af, dbm, contig;
};

struct sim_runs {
	struct sim_run *v;
	size_t n, cap;
	uint64_t leaves[5]; /* valid leaf entries by level + 1 */
	uint64_t annotated;
};

/** sim_collect_runs() - walk the tables @pgt and merge them into runs. Return: 0 or S2_E*. */
int sim_collect_runs(const struct s2_pgtable *pgt, struct sim_runs *out);
void sim_runs_free(struct sim_runs *r);

/** sim_run_type() - the stage-2 memory type name of a run, decoded under the VM's FWB. */
const char *sim_run_type(const struct s2_config *cfg, const struct sim_run *r);

/** sim_run_perm() - "rwx": r/w from S2AP, x: 'x' executable at EL1 and EL0, '-' at neither,
 * 'u' at EL0 only, 'p' at EL1 only (FEAT_XNX). */
void sim_run_perm(const struct s2_config *cfg, const struct sim_run *r, char out[4]);

/** sim_size_str() - "4K", "2M", "1G", or a byte count. */
const char *sim_size_str(uint64_t size, char *buf, size_t len);

/** sim_dump_text() / sim_dump_json() - the dump of one table tree, titled @name ("vm1",
 * "host"); @id goes into the JSON "vm" member. */
void sim_dump_text(FILE *out, const char *name, const struct s2_pgtable *pgt,
		   const struct sim_runs *r);
void sim_dump_json(struct s2_json *j, unsigned int id, const struct s2_pgtable *pgt,
		   const struct sim_runs *r);

/**
 * sim_dump_kvm() - the tables @pgt in the format of Linux's debugfs stage2_page_tables ptdump
 * (sim_dump.c tells the rules). Return: 0 or S2_E*.
 */
int sim_dump_kvm(FILE *out, const struct s2_pgtable *pgt);

/**
 * sim_svg_write() / sim_svg_write_file() - draw the IPA maps of @n VMs (sim_svg.c) into @path
 * ("-": standard output) or @f. Return: 0; -1 (errno, or the tables could not be walked).
 */
int sim_svg_write_file(FILE *f, struct sim_vm *const *vms, unsigned int n);
int sim_svg_write(const char *path, struct sim_vm *const *vms, unsigned int n);

/* Options of a scenario run. */
struct sim_opts {
	const char *cmd; /* "sim" or "dump", for messages */
	bool json;
	bool quiet; /* `s2mmu dump`: no step output, `dump` steps are silent */
	bool defer_error; /* keep the failure message until sim_print_error() */
	FILE *out; /* the steps, dumps and summary (NULL: stdout) */
	FILE *err; /* the failure message and stale-TLB reports (NULL: stderr) */
	uint64_t max_size; /* 0, or the largest SIZE a slot, `pkvm` or an ownership step may
			    * have (bounds the work of one step: fuzz/fuzz_sim.c) */
};

/* The longest scenario line, without its line end. */
#define SIM_LINE_MAX 1023

struct sim;

/**
 * sim_open() / sim_run_file() / sim_run_stream() / sim_close() - run a scenario.
 * sim_run_file() reads the file @path ("" is refused, as are directories);
 * sim_run_stream() reads @f, named @name in messages. Both return SIM_OK, SIM_EXPECT or
 * SIM_SYNTAX after printing the reason as one line "s2mmu: CMD: FILE:LINE: reason" (unless
 * @o->defer_error: then sim_print_error() prints it). When not quiet they print the steps
 * and, with @summary, the final summary (JSON: one document). Afterwards sim_vms() gives the
 * VMs, with their tables as they were at the end or at the failure.
 */
struct sim *sim_open(const struct sim_opts *o);
int sim_run_file(struct sim *s, const char *path, bool summary);
int sim_run_stream(struct sim *s, const char *name, FILE *f, bool summary);
void sim_print_error(struct sim *s);
struct sim_vm *const *sim_vms(const struct sim *s, unsigned int *n);
void sim_close(struct sim *s);

#endif /* S2MMU_SIM_H */
