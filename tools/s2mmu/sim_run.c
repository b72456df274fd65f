// SPDX-License-Identifier: MIT
/*
 * sim_run.c - the runner of `s2mmu sim` scenarios (docs/sim.md): one step per line.
 *
 * A scenario is a text file of steps, one per line. The runner keeps one hosted port (the page
 * arena for every VM's tables, with its TLBI/CMO counters), one VMID allocator, one TLB model
 * of the reference walker (every TLBI of the port is forwarded to it) and up to SIM_MAX_VMS
 * VMs of the VM layer, each with one vCPU.
 *
 * This file reads the lines and dispatches each by its first word to a step of sim_vm.c,
 * sim_hw.c, sim_owner.c or sim_expect.c (sim_int.h tells which file holds what), then checks
 * the TLB model and the tables at the end and prints the summary.
 */
#define _POSIX_C_SOURCE 200809L /* fileno */

#include "sim_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the runner --------------------------------------------------------------------------- */

static int sim_step(struct sim *s, struct sim_toks *t)
{
	const char *c = t->v[0];

	t->used[0] = true;
	if (!strcmp(c, "host"))
		return sim_step_host(s, t);
	if (!strcmp(c, "vm"))
		return sim_step_vm(s, t);
	if (!strcmp(c, "slot"))
		return sim_step_slot(s, t);
	if (!strcmp(c, "slot-delete") || !strcmp(c, "slot-move") || !strcmp(c, "slot-flags") ||
	    !strcmp(c, "lock") || !strcmp(c, "unlock"))
		return sim_step_slot_op(s, t);
	if (!strcmp(c, "enter")) {
		int ret = sim_need_vm(s);

		if (ret || (ret = sim_leftover(s, t, 1)))
			return ret;
		sim_enter(s, s->cur, false);
		return 0;
	}
	if (!strcmp(c, "read") || !strcmp(c, "write") || !strcmp(c, "exec") ||
	    !strcmp(c, "atomic") || !strcmp(c, "dc-zva"))
		return sim_step_access(s, t);
	if (!strcmp(c, "dirty"))
		return sim_step_dirty(s, t);
	if (!strcmp(c, "age"))
		return sim_step_age(s, t);
	if (!strcmp(c, "invalidate"))
		return sim_step_invalidate(s, t);
	if (!strcmp(c, "tlb-flush")) {
		int ret = sim_need_host(s);

		if (ret || (ret = sim_leftover(s, t, 1)))
			return ret;
		s2_tlbi_all(&s->tlb);
		sim_text(s, "tlb-flush: the TLB model forgets every entry\n");
		return 0;
	}
	if (!strcmp(c, "dump"))
		return sim_step_dump(s, t);
	if (!strcmp(c, "pkvm"))
		return sim_step_pkvm(s, t);
	if (!strcmp(c, "host-access"))
		return sim_step_host_access(s, t);
	if (!strcmp(c, "page"))
		return sim_step_page(s, t);
	if (!strcmp(c, "share-hyp") || !strcmp(c, "unshare-hyp") || !strcmp(c, "donate-hyp") ||
	    !strcmp(c, "donate-hyp-host") || !strcmp(c, "share-guest") ||
	    !strcmp(c, "donate-guest") || !strcmp(c, "unshare-guest") ||
	    !strcmp(c, "guest-share-host") || !strcmp(c, "guest-unshare-host") ||
	    !strcmp(c, "pin-hyp") || !strcmp(c, "unpin-hyp") || !strcmp(c, "set-prot-guest") ||
	    !strcmp(c, "teardown"))
		return sim_step_owner(s, t);
	if (!strcmp(c, "echo")) {
		sim_text(s, "# %s\n", t->rest ? t->rest : "");
		if (sim_jsonp(s)) {
			sim_jstep(s, "echo");
			s2_json_str(&s->j, "text", t->rest ? t->rest : "");
			sim_jend(s);
		}
		return 0;
	}
	if (!strcmp(c, "expect"))
		return sim_step_expect(s, t);
	return sim_syntax(s, "unknown step '%s'", c);
}

struct sim *sim_open(const struct sim_opts *o)
{
	struct sim *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->o = *o;
	s->out = o->out ? o->out : stdout;
	s->err = o->err ? o->err : stderr;
	return s;
}

struct sim_vm *const *sim_vms(const struct sim *s, unsigned int *n)
{
	*n = s->nr_vms;
	return s->vms;
}

void sim_close(struct sim *s)
{
	if (!s)
		return;
	/* VMs first: an owner-managed VM gives its pages back to the owner on destruction. */
	for (unsigned int i = 0; i < s->nr_vms; i++) {
		if (s->vms[i]->og_ready)
			s2_page_cache_drain(&s->vms[i]->og.cache, &s->vms[i]->vm.pgt.port,
					    (size_t)s2_granule_size(s->vms[i]->vm.pgt.cfg.granule));
		s2_vcpu_destroy(&s->vms[i]->vcpu);
		s2_vm_destroy(&s->vms[i]->vm);
		free(s->vms[i]);
	}
	if (s->own) {
		s2_owner_destroy(s->own);
		free(s->own);
	}
	free(s->own_meta);
	if (s->hp)
		s2_host_port_destroy(s->hp);
	free(s->dirty);
	free(s);
}

static void sim_summary_text(struct sim *s)
{
	static const enum s2_fault kinds[] = { S2_FAULT_TRANSLATION, S2_FAULT_PERMISSION,
					       S2_FAULT_ACCESS_FLAG, S2_FAULT_ADDRESS_SIZE,
					       S2_FAULT_EXTERNAL_WALK };
	struct s2_host_stats hs = s->hp ? s2_host_port_stats(s->hp) : (struct s2_host_stats){ 0 };
	uint64_t other = 0;

	fprintf(s->out, "summary:\n");
	fprintf(s->out,
		"  accesses %" PRIu64 ": ok %" PRIu64 " (tlb hits %" PRIu64 "), mmio-exit %" PRIu64
		", nisv-exit %" PRIu64 ", inject %" PRIu64 "\n",
		s->accesses, s->acc_ok, s->tlb_hits, s->acc_mmio, s->acc_nisv, s->acc_inject);
	fprintf(s->out, "  faults:");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		fprintf(s->out, "%s %s %" PRIu64, i ? "," : "", s2_fault_name(kinds[i]),
			s->faults[kinds[i]]);
	for (int k = 0; k <= S2_FAULT_OTHER; k++)
		if (k != S2_FAULT_TRANSLATION && k != S2_FAULT_PERMISSION &&
		    k != S2_FAULT_ACCESS_FLAG && k != S2_FAULT_ADDRESS_SIZE &&
		    k != S2_FAULT_EXTERNAL_WALK)
			other += s->faults[k];
	fprintf(s->out, ", other %" PRIu64 "\n", other);
	for (unsigned int i = 0; i < s->nr_vms; i++) {
		struct sim_vm *sv = s->vms[i];
		struct s2_check_report rep;
		struct sim_runs r;
		const struct s2_vm_stats *st = &sv->vm.stats;

		memset(&rep, 0, sizeof(rep));
		s2_pgtable_check(&sv->vm.pgt, &rep);
		if (sim_collect_runs(&sv->vm.pgt, &r))
			memset(&r, 0, sizeof(r));
		fprintf(s->out,
			"  vm%u: mappings L0 %" PRIu64 ", L1 %" PRIu64 ", L2 %" PRIu64
			", L3 %" PRIu64 "; table pages %" PRIu64 "; handler: mapped %" PRIu64
			", relaxed %" PRIu64 ", young %" PRIu64 ", mmio %" PRIu64 ", nisv %" PRIu64
			", inject %" PRIu64 "%s\n",
			sv->id, r.leaves[1], r.leaves[2], r.leaves[3], r.leaves[4], rep.table_pages,
			st->mapped, st->relaxed, st->young, st->mmio_exits, st->nisv_exits,
			st->injects, rep.errors ? " (TABLE CHECK FAILED)" : "");
		sim_runs_free(&r);
	}
	fprintf(s->out,
		"  host port: tlbi ipa %" PRIu64 ", range %" PRIu64 ", vmid %" PRIu64
		"; dc clean+inval %" PRIu64 " bytes, ic inval %" PRIu64 " bytes; table pages in "
		"use %" PRIu64 "\n",
		hs.tlbi_ipa, hs.tlbi_range, hs.tlbi_vmid, hs.dc_bytes, hs.ic_bytes,
		hs.pages_in_use);
	fprintf(s->out, "  MTE tags sanitised %" PRIu64 " bytes; stale TLB entries: %" PRIu64 "\n",
		s->tags_bytes, s->stale);
}

static void sim_summary_json(struct sim *s)
{
	struct s2_host_stats hs = s->hp ? s2_host_port_stats(s->hp) : (struct s2_host_stats){ 0 };
	struct s2_json *j = &s->j;

	s2_json_object_begin(j, "summary");
	s2_json_u64(j, "accesses", s->accesses);
	s2_json_u64(j, "ok", s->acc_ok);
	s2_json_u64(j, "tlb_hits", s->tlb_hits);
	s2_json_u64(j, "mmio_exits", s->acc_mmio);
	s2_json_u64(j, "nisv_exits", s->acc_nisv);
	s2_json_u64(j, "injects", s->acc_inject);
	s2_json_object_begin(j, "faults");
	for (int k = S2_FAULT_ADDRESS_SIZE; k <= S2_FAULT_OTHER; k++)
		s2_json_u64(j, s2_fault_name((enum s2_fault)k), s->faults[k]);
	s2_json_object_end(j);
	s2_json_array_begin(j, "vms");
	for (unsigned int i = 0; i < s->nr_vms; i++) {
		struct sim_vm *sv = s->vms[i];
		struct s2_check_report rep;
		struct sim_runs r;

		memset(&rep, 0, sizeof(rep));
		s2_pgtable_check(&sv->vm.pgt, &rep);
		if (sim_collect_runs(&sv->vm.pgt, &r))
			memset(&r, 0, sizeof(r));
		s2_json_object_begin(j, NULL);
		s2_json_u64(j, "vm", sv->id);
		s2_json_object_begin(j, "mappings_by_level");
		s2_json_u64(j, "0", r.leaves[1]);
		s2_json_u64(j, "1", r.leaves[2]);
		s2_json_u64(j, "2", r.leaves[3]);
		s2_json_u64(j, "3", r.leaves[4]);
		s2_json_object_end(j);
		s2_json_u64(j, "table_pages", rep.table_pages);
		s2_json_bool(j, "tables_consistent", rep.errors == 0);
		s2_json_u64(j, "mapped", sv->vm.stats.mapped);
		s2_json_u64(j, "relaxed", sv->vm.stats.relaxed);
		s2_json_u64(j, "young", sv->vm.stats.young);
		s2_json_u64(j, "mmio_exits", sv->vm.stats.mmio_exits);
		s2_json_u64(j, "nisv_exits", sv->vm.stats.nisv_exits);
		s2_json_u64(j, "cmo_deferred_bytes", sv->vm.stats.cmo_deferred_bytes);
		s2_json_object_end(j);
		sim_runs_free(&r);
	}
	s2_json_array_end(j);
	s2_json_object_begin(j, "tlbi");
	s2_json_u64(j, "ipa", hs.tlbi_ipa);
	s2_json_u64(j, "range", hs.tlbi_range);
	s2_json_u64(j, "vmid", hs.tlbi_vmid);
	s2_json_object_end(j);
	s2_json_object_begin(j, "cmo_bytes");
	s2_json_u64(j, "dcache", hs.dc_bytes);
	s2_json_u64(j, "icache", hs.ic_bytes);
	s2_json_object_end(j);
	s2_json_u64(j, "table_pages_in_use", hs.pages_in_use);
	s2_json_u64(j, "tags_sanitised_bytes", s->tags_bytes);
	s2_json_u64(j, "stale_tlb_entries", s->stale);
	s2_json_object_end(j);
}

/* Read one line of @f into @buf (SIM_LINE_MAX + 1 bytes) without its line end.
 * Return: 1 a line; 0 end of file; SIM_RD_LONG, SIM_RD_NUL or SIM_RD_ERROR. */
enum { SIM_RD_LONG = -1, SIM_RD_NUL = -2, SIM_RD_ERROR = -3 };

static int sim_read_line(FILE *f, char *buf)
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0')
			return SIM_RD_NUL;
		if (n == SIM_LINE_MAX)
			return SIM_RD_LONG;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	if (c == EOF && ferror(f))
		return SIM_RD_ERROR;
	if (c == EOF && !n)
		return 0;
	if (n && buf[n - 1] == '\r') /* a CRLF file */
		buf[--n] = '\0';
	return 1;
}

int sim_run_file(struct sim *s, const char *path, bool summary)
{
	struct stat st;
	FILE *f;
	int status;

	s->file = path;
	s->line = 0;
	if (!*path)
		return sim_syntax(s, "the scenario file name is empty");
	f = fopen(path, "r");
	if (!f)
		return sim_syntax(s, "cannot open: %s", strerror(errno));
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return sim_syntax(s, "cannot read: it is a directory");
	}
	status = sim_run_stream(s, path, f, summary);
	fclose(f);
	return status;
}

int sim_run_stream(struct sim *s, const char *name, FILE *f, bool summary)
{
	char buf[SIM_LINE_MAX + 1];
	int status = SIM_OK, rd;

	s->file = name;
	s->line = 0;
	if (sim_jsonp(s)) {
		s2_json_begin(&s->j, s->out);
		s2_json_str(&s->j, "scenario", name);
		s2_json_array_begin(&s->j, "steps");
	}
	while ((rd = sim_read_line(f, buf)) != 0) {
		struct sim_toks t;
		size_t len;
		unsigned int depth;
		char raw[sizeof(buf)];

		s->line++;
		if (rd == SIM_RD_LONG) {
			status = sim_syntax(s, "line too long (more than %d characters)",
					    SIM_LINE_MAX);
			break;
		}
		if (rd == SIM_RD_NUL) {
			status = sim_syntax(s, "a NUL byte (the file is not text)");
			break;
		}
		if (rd == SIM_RD_ERROR) {
			status = sim_syntax(s, "read error: %s", strerror(errno));
			break;
		}
		len = strlen(buf);
		memcpy(raw, buf, len + 1);
		if (sim_tokenize(buf, &t)) {
			status = sim_syntax(s, "too many words");
			break;
		}
		if (!t.n)
			continue;
		t.rest = sim_rest(raw);
		if (s->pending_err && strcmp(t.v[0], "expect")) {
			s->line = s->pending_line;
			status = sim_expect_fail(s,
						 "%s failed: %s (%s) (add 'expect error %s' if "
						 "that is intended)",
						 s->pending_what, s2_errname(s->pending_err),
						 s2_strerror(s->pending_err),
						 s2_errname(s->pending_err));
			break;
		}
		depth = s->j.depth;
		status = sim_step(s, &t);
		/* A step that failed half-way leaves its JSON object open: close it, so that the
		 * document keeps its shape {"scenario", "steps": [...], ..., "status"}. */
		while (sim_jsonp(s) && s->j.depth > depth)
			s2_json_object_end(&s->j);
		if (status)
			break;
		if (s->pending_err && !strcmp(t.v[0], "expect") && strcmp(t.v[1], "error")) {
			s->line = s->pending_line;
			status = sim_expect_fail(s, "%s failed: %s", s->pending_what,
						 s2_errname(s->pending_err));
			break;
		}
	}
	if (!status && s->pending_err) {
		s->line = s->pending_line;
		status = sim_expect_fail(s, "%s failed: %s (%s)", s->pending_what,
					 s2_errname(s->pending_err), s2_strerror(s->pending_err));
	}
	if (!status) {
		s->line = 0;
		sim_check_tlb(s);
		if (s->stale)
			status = sim_expect_fail(
				s, "%" PRIu64 " stale TLB entries (a missing TLBI)", s->stale);
		for (unsigned int i = 0; !status && i <= s->nr_vms; i++) {
			const struct s2_pgtable *pgt = NULL;
			struct s2_check_report rep;

			if (i < s->nr_vms)
				pgt = &s->vms[i]->vm.pgt;
			else if (s->own)
				pgt = &s->own->host;
			if (pgt && s2_pgtable_check(pgt, &rep))
				status = sim_expect_fail(s, "inconsistent tables (%s): %s",
							 i < s->nr_vms ? "a VM" : "host",
							 rep.first_error);
		}
	}
	if (sim_jsonp(s)) {
		s2_json_array_end(&s->j);
		if (summary)
			sim_summary_json(s);
		s2_json_int(&s->j, "status", status);
		s2_json_end(&s->j);
	} else if (!s->o.quiet && summary && status != SIM_SYNTAX) {
		sim_summary_text(s);
	}
	s->status = status;
	return status;
}
