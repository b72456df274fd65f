// SPDX-License-Identifier: MIT
/*
 * fuzz_sim.c - libFuzzer target for the scenario language of `s2mmu sim` / `s2mmu dump`.
 *
 * The input is a scenario file (fuzz/corpus/sim/ holds the examples/ as seeds). It runs through
 * the tool's own parser and runner (tools/s2mmu: the s2mmu_sim library, sim_run_stream()),
 * in text or JSON mode (the input's length picks), and every VM left at the end is dumped in
 * each format: runs as text and JSON, Linux's ptdump format, SVG. Output goes to /dev/null.
 *
 * Work is bounded so that no input can hang the target: every SIZE of a slot, of `pkvm` and
 * of an ownership step is at most SIM_FUZZ_MAX_SIZE (sim_opts.max_size; a larger one is a
 * file error), an access takes at most SIM_MAX_RETRIES faults, and the input length bounds the
 * number of steps. A crash, a sanitizer report, a leak or a timeout is a bug; so is a failed
 * run whose stream was not read (checked below): sim_run_stream() must stop at the first
 * error or read to the end.
 */
#define _POSIX_C_SOURCE 200809L /* fmemopen */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"

#define SIM_FUZZ_MAX_SIZE (UINT64_C(16) << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sim_fuzz_null(void)
{
	static FILE *null;

	if (!null)
		null = fopen("/dev/null", "w");
	if (!null)
		abort();
	return null;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_opts o = { .cmd = "fuzz",
			      .json = size & 1,
			      .out = sim_fuzz_null(),
			      .err = sim_fuzz_null(),
			      .max_size = SIM_FUZZ_MAX_SIZE };
	struct sim_vm *const *vms;
	struct sim *s;
	unsigned int n;
	int status;
	FILE *f;

	if (!size)
		return 0;
	f = fmemopen((void *)(uintptr_t)data, size, "r");
	if (!f)
		abort();
	s = sim_open(&o);
	if (!s)
		abort();
	status = sim_run_stream(s, "fuzz.s2sim", f, true);
	if (status != SIM_OK && status != SIM_EXPECT && status != SIM_SYNTAX)
		abort();
	fclose(f);
	vms = sim_vms(s, &n);
	if (n > SIM_MAX_VMS)
		abort();
	for (unsigned int i = 0; i < n; i++) {
		struct s2_json j;
		struct sim_runs r;

		if (sim_collect_runs(&vms[i]->vm.pgt, &r) == 0) {
			sim_dump_text(o.out, "vm", &vms[i]->vm.pgt, &r);
			s2_json_begin(&j, o.out);
			sim_dump_json(&j, vms[i]->id, &vms[i]->vm.pgt, &r);
			s2_json_end(&j);
		}
		sim_runs_free(&r);
		if (sim_dump_kvm(o.out, &vms[i]->vm.pgt))
			abort(); /* the walk of tables the library built cannot fail */
	}
	if (sim_svg_write_file(o.out, vms, n))
		abort();
	sim_close(s);
	return 0;
}
